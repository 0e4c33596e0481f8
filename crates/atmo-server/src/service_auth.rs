//! Verifying service JWTs: the bearer tokens one atproto service sends
//! another (a PDS proxying a user's request to a feed generator or a
//! labeler, an AppView calling a feed generator), checked as
//! `@atproto/xrpc-server`'s `verifyJwt` and the PDS's and AppView's
//! verifiers check them.
//!
//! In order, as the TypeScript code does (so the same token gets the same
//! error name):
//!
//! 1. three dot-separated base64url parts, a JSON header with a string
//!    `alg`, a JSON payload with string `iss` and `aud` and a number `exp`
//!    (`BadJwt`);
//! 2. the header's `typ` is not `at+jwt`, `refresh+jwt` nor `dpop+jwt`:
//!    OAuth access tokens, refresh tokens and DPoP proofs are not service
//!    tokens (`BadJwtType`);
//! 3. `exp` has not passed (`JwtExpired`);
//! 4. `aud` is the service's DID, bare or as `did#service_id`
//!    (`BadJwtAudience`);
//! 5. `lxm` is the NSID of the route, when the route is given; a token
//!    without `lxm` is then refused too (`BadJwtLexiconMethod`);
//! 6. `iss` is a DID, or `did#fragment` (`BadJwtIss`);
//! 7. the signature, by the issuer's key from its DID document: the
//!    `#atproto_label` key when `iss` ends `#atproto_labeler`, the
//!    `#atproto` key otherwise (`BadJwtSignature`). When it does not match
//!    the key as cached, the document is resolved once more, bypassing the
//!    cache, and the signature checked against the fresh key if it changed:
//!    a key rotated since the document was cached is picked up on the spot.
//!
//! # Differences from `@atproto/xrpc-server`
//!
//! - **Leeway**: `exp` is allowed [`DEFAULT_LEEWAY`] (5 s) of clock skew
//!   between the two machines; TypeScript allows none. Set it with
//!   [`ServiceAuthVerifier::leeway`] (zero to match exactly).
//! - **Signatures** follow atmo-crypto's rules: 64 bytes `r‖s`, low-S.
//!   TypeScript's `verifyJwt` also accepts high-S (malleable) signatures;
//!   every atproto implementation signs low-S, so this refuses only tokens
//!   that were tampered with.
//! - **A header `alg` that does not fit the cached key** (ES256 against a
//!   K-256 key) is retried with a fresh key too, since a rotation may change
//!   the curve; TypeScript fails it at once.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo(resolver: atmo_identity::Resolver, authorization: Option<&str>)
//! # -> Result<(), atmo_server::ServiceAuthError> {
//! use atmo_server::ServiceAuthVerifier;
//!
//! let verifier = ServiceAuthVerifier::new("did:web:feed.example.com", resolver)
//!     .expect("a valid DID");
//! // For each request to /xrpc/app.bsky.feed.getFeedSkeleton:
//! match verifier
//!     .verify_header(authorization, Some("app.bsky.feed.getFeedSkeleton"))
//!     .await
//! {
//!     Ok(caller) => println!("request from {}", caller.did),
//!     Err(e) => {
//!         // Answer e.status() with {"error": e.error_name(), "message": e.to_string()}.
//!         let _body = e.to_xrpc_json();
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atmo_crypto::{Curve, PublicKey, SignatureError};
use atmo_identity::{DidDocument, Resolver};
use atmo_types::base64::decode_url;
use atmo_types::Did;
use atmo_xrpc::BoxFuture;
use serde_json::{Map, Value};

/// Clock skew allowed past a token's `exp` unless configured.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// Largest leeway [`ServiceAuthVerifier::leeway`] accepts; more is cut to
/// this (a leeway is for clock skew, not for extending tokens).
pub const MAX_LEEWAY: Duration = Duration::from_secs(5 * 60);

/// Longest token read (a service JWT is a few hundred bytes); longer ones
/// are `BadJwt` before any decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The `typ` values refused (`BadJwtType`): OAuth access tokens (RFC 9068),
/// the `@atproto` packages' refresh tokens, DPoP proofs (RFC 9449).
pub const REFUSED_TYPES: [&str; 3] = ["at+jwt", "refresh+jwt", "dpop+jwt"];

/// The `iss` fragment of a labeler acting as itself; such tokens are
/// checked with the [`KeyId::AtprotoLabel`] key.
pub const LABELER_SERVICE_ID: &str = "atproto_labeler";

/// Longest part of a token's claim repeated in an error message.
const MAX_QUOTED: usize = 100;

/// Which verification method of the issuer's DID document signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyId {
    /// `#atproto`: the account's (or service's) signing key.
    Atproto,
    /// `#atproto_label`: a labeler's label-signing key, for an `iss` of the
    /// form `did#atproto_labeler`.
    AtprotoLabel,
}

impl KeyId {
    /// The fragment, with its `#`.
    ///
    /// ```
    /// assert_eq!(atmo_server::KeyId::AtprotoLabel.fragment(), "#atproto_label");
    /// ```
    pub fn fragment(self) -> &'static str {
        match self {
            KeyId::Atproto => "#atproto",
            KeyId::AtprotoLabel => "#atproto_label",
        }
    }

    /// The key that checks a token from `iss`: [`KeyId::AtprotoLabel`] for
    /// `did#atproto_labeler`, [`KeyId::Atproto`] for anything else (as the
    /// reference PDS and AppView choose).
    ///
    /// ```
    /// use atmo_server::KeyId;
    /// assert_eq!(KeyId::for_issuer("did:plc:abc#atproto_labeler"), KeyId::AtprotoLabel);
    /// assert_eq!(KeyId::for_issuer("did:plc:abc"), KeyId::Atproto);
    /// ```
    pub fn for_issuer(iss: &str) -> KeyId {
        match iss.split_once('#') {
            Some((_, LABELER_SERVICE_ID)) => KeyId::AtprotoLabel,
            _ => KeyId::Atproto,
        }
    }
}

/// Why an issuer's key could not be found. A [`KeyResolver`] returns it;
/// the verifier turns it into [`ServiceAuthError::UnknownIssuer`] (401) or,
/// for [`KeyLookupError::Unavailable`], [`ServiceAuthError::KeyUnavailable`]
/// (500).
///
/// ```
/// let e = atmo_server::KeyLookupError::NoKey("no #atproto_label".into());
/// assert!(e.to_string().contains("#atproto_label"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyLookupError {
    /// The DID does not resolve (unknown, deactivated, a method the resolver
    /// does not support, a broken document): the caller is unknown.
    UnknownIssuer(String),
    /// The document resolves but has no usable key of the kind asked for.
    NoKey(String),
    /// Resolution failed for reasons of ours or the network's (timeout,
    /// PLC directory down): not the caller's fault.
    Unavailable(String),
}

impl fmt::Display for KeyLookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyLookupError::UnknownIssuer(why) => write!(f, "could not resolve the issuer: {why}"),
            KeyLookupError::NoKey(why) => {
                write!(f, "no usable key in the issuer's document: {why}")
            }
            KeyLookupError::Unavailable(why) => {
                write!(f, "the issuer's document could not be fetched: {why}")
            }
        }
    }
}

impl std::error::Error for KeyLookupError {}

/// Finds an issuer's public key: its DID document's `#atproto` or
/// `#atproto_label` verification method.
///
/// Implemented for [`atmo_identity::Resolver`] (documents cached by the
/// resolver's cache; `fresh` goes through [`Resolver::fresh`]); implement
/// it for a key store of your own, or a fixed table in tests.
///
/// ```
/// use atmo_server::{KeyId, KeyLookupError, KeyResolver};
/// use atmo_crypto::PublicKey;
/// use atmo_types::Did;
/// use atmo_xrpc::BoxFuture;
///
/// /// One known caller.
/// struct Fixed(Did, PublicKey);
///
/// impl KeyResolver for Fixed {
///     fn resolve_key<'a>(&'a self, did: &'a Did, _: KeyId, _: bool)
///         -> BoxFuture<'a, Result<PublicKey, KeyLookupError>> {
///         let found = if *did == self.0 { Ok(self.1) }
///             else { Err(KeyLookupError::UnknownIssuer(did.to_string())) };
///         Box::pin(async move { found })
///     }
/// }
/// ```
pub trait KeyResolver: Send + Sync + 'static {
    /// The key `key` of `did`; with `fresh`, not from a cache (the cached
    /// one failed to verify a signature).
    fn resolve_key<'a>(
        &'a self,
        did: &'a Did,
        key: KeyId,
        fresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, KeyLookupError>>;
}

impl KeyResolver for Resolver {
    fn resolve_key<'a>(
        &'a self,
        did: &'a Did,
        key: KeyId,
        fresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, KeyLookupError>> {
        Box::pin(async move {
            let resolver = if fresh { self.fresh() } else { self.clone() };
            let doc = resolver.resolve_did(did.as_str()).await.map_err(|e| {
                if e.is_transient() {
                    KeyLookupError::Unavailable(e.to_string())
                } else {
                    KeyLookupError::UnknownIssuer(e.to_string())
                }
            })?;
            key_of(&doc, key)
        })
    }
}

impl<T: KeyResolver> KeyResolver for Arc<T> {
    fn resolve_key<'a>(
        &'a self,
        did: &'a Did,
        key: KeyId,
        fresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, KeyLookupError>> {
        (**self).resolve_key(did, key, fresh)
    }
}

/// The verification method `key` of a DID document: exactly one with that
/// fragment id (relative `#atproto` or absolute `did#atproto`), a Multikey
/// or legacy K-256/P-256 key.
///
/// ```
/// use atmo_identity::DidDocument;
/// use atmo_server::{key_of, KeyId};
///
/// let doc = DidDocument::parse(br##"{
///   "id": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
///   "verificationMethod": [{
///     "id": "did:plc:ewvi7nxzyoun6zhxrhs64oiz#atproto_label",
///     "type": "Multikey",
///     "controller": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
///     "publicKeyMultibase": "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc"
///   }]
/// }"##).unwrap();
/// assert!(key_of(&doc, KeyId::AtprotoLabel).is_ok());
/// assert!(key_of(&doc, KeyId::Atproto).is_err());
/// ```
pub fn key_of(doc: &DidDocument, key: KeyId) -> Result<PublicKey, KeyLookupError> {
    if key == KeyId::Atproto {
        return doc
            .signing_key()
            .map_err(|e| KeyLookupError::NoKey(e.to_string()));
    }
    let fragment = key.fragment();
    let did = doc.id().as_str();
    let mut found = doc.verification_methods().iter().filter(|m| {
        m.id == fragment
            || m.id
                .strip_suffix(fragment)
                .is_some_and(|prefix| prefix == did)
    });
    let method = found
        .next()
        .ok_or_else(|| KeyLookupError::NoKey(format!("no {fragment} verification method")))?;
    if found.next().is_some() {
        return Err(KeyLookupError::NoKey(format!(
            "more than one {fragment} verification method"
        )));
    }
    let multibase = method
        .public_key_multibase
        .as_deref()
        .ok_or_else(|| KeyLookupError::NoKey(format!("{fragment} has no publicKeyMultibase")))?;
    PublicKey::from_verification_method(&method.method_type, multibase)
        .map_err(|e| KeyLookupError::NoKey(format!("{fragment}: {e}")))
}

/// Why a service JWT was refused. Each maps to the XRPC status and error
/// name `@atproto/xrpc-server` answers with ([`ServiceAuthError::status`],
/// [`ServiceAuthError::error_name`]).
///
/// No variant contains the token; claims quoted from it are cut to 100
/// bytes.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ServiceAuthError {
    /// No `Authorization: Bearer` header (401 `MissingJwt`).
    MissingToken,
    /// Not a JWT of the expected shape: what is wrong (401 `BadJwt`).
    Malformed(String),
    /// A `typ` that service tokens never have (401 `BadJwtType`).
    BadType(String),
    /// `exp` has passed, leeway included (401 `JwtExpired`).
    Expired {
        /// The token's `exp` (seconds since the epoch).
        exp: f64,
        /// The verifier's clock at the check (seconds since the epoch).
        now: u64,
    },
    /// `aud` is not this service (401 `BadJwtAudience`).
    BadAudience {
        /// This service's DID.
        expected: String,
        /// The token's `aud`.
        found: String,
    },
    /// `lxm` is not the route's NSID, or is missing (401
    /// `BadJwtLexiconMethod`).
    BadLxm {
        /// The route's NSID.
        expected: String,
        /// The token's `lxm`, if any.
        found: Option<String>,
    },
    /// `iss` is not a DID nor `did#fragment` (401 `BadJwtIss`).
    BadIssuer(String),
    /// The issuer's DID did not resolve, or its document has no usable key
    /// (401 `AuthenticationRequired`, as the reference PDS answers).
    UnknownIssuer {
        /// The token's `iss`.
        iss: String,
        /// What the lookup said.
        reason: String,
    },
    /// The signature does not verify with the issuer's key, fresh or cached
    /// (401 `BadJwtSignature`): why.
    BadSignature(String),
    /// The issuer's document could not be fetched for reasons of ours (500
    /// `InternalServerError`): not the caller's fault, worth a retry.
    KeyUnavailable {
        /// The token's `iss`.
        iss: String,
        /// What the lookup said.
        reason: String,
    },
}

impl ServiceAuthError {
    /// The HTTP status to answer with: 401, or 500 for
    /// [`ServiceAuthError::KeyUnavailable`].
    ///
    /// ```
    /// assert_eq!(atmo_server::ServiceAuthError::MissingToken.status(), 401);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            ServiceAuthError::KeyUnavailable { .. } => 500,
            _ => 401,
        }
    }

    /// The XRPC error name, as `@atproto/xrpc-server` and the reference PDS
    /// name it.
    ///
    /// ```
    /// use atmo_server::ServiceAuthError;
    /// let e = ServiceAuthError::BadLxm { expected: "app.bsky.feed.getFeedSkeleton".into(), found: None };
    /// assert_eq!(e.error_name(), "BadJwtLexiconMethod");
    /// ```
    pub fn error_name(&self) -> &'static str {
        match self {
            ServiceAuthError::MissingToken => "MissingJwt",
            ServiceAuthError::Malformed(_) => "BadJwt",
            ServiceAuthError::BadType(_) => "BadJwtType",
            ServiceAuthError::Expired { .. } => "JwtExpired",
            ServiceAuthError::BadAudience { .. } => "BadJwtAudience",
            ServiceAuthError::BadLxm { .. } => "BadJwtLexiconMethod",
            ServiceAuthError::BadIssuer(_) => "BadJwtIss",
            ServiceAuthError::UnknownIssuer { .. } => "AuthenticationRequired",
            ServiceAuthError::BadSignature(_) => "BadJwtSignature",
            ServiceAuthError::KeyUnavailable { .. } => "InternalServerError",
        }
    }

    /// The XRPC error body: `{"error": name, "message": text}`.
    ///
    /// ```
    /// let body = atmo_server::ServiceAuthError::MissingToken.to_xrpc_json();
    /// assert_eq!(body["error"], "MissingJwt");
    /// ```
    pub fn to_xrpc_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), Value::from(self.error_name()));
        body.insert("message".into(), Value::from(self.to_string()));
        Value::Object(body)
    }
}

impl fmt::Display for ServiceAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceAuthError::MissingToken => f.write_str("missing jwt"),
            ServiceAuthError::Malformed(why) => write!(f, "poorly formatted jwt: {why}"),
            ServiceAuthError::BadType(typ) => write!(f, "invalid jwt type {typ:?}"),
            ServiceAuthError::Expired { exp, now } => {
                write!(f, "jwt expired (exp {exp}, now {now})")
            }
            ServiceAuthError::BadAudience { expected, found } => write!(
                f,
                "jwt audience does not match service did: {found:?}, expected {expected:?}"
            ),
            ServiceAuthError::BadLxm {
                expected,
                found: Some(found),
            } => write!(
                f,
                "bad jwt lexicon method (\"lxm\") {found:?}: must match {expected}"
            ),
            ServiceAuthError::BadLxm {
                expected,
                found: None,
            } => write!(
                f,
                "missing jwt lexicon method (\"lxm\"): must match {expected}"
            ),
            ServiceAuthError::BadIssuer(iss) => write!(f, "jwt iss is not a valid did: {iss:?}"),
            ServiceAuthError::UnknownIssuer { iss, reason } => {
                write!(f, "could not resolve iss did {iss:?}: {reason}")
            }
            ServiceAuthError::BadSignature(why) => write!(f, "bad jwt signature: {why}"),
            ServiceAuthError::KeyUnavailable { iss, reason } => {
                write!(f, "could not fetch the key of {iss:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for ServiceAuthError {}

/// A caller whose service JWT verified.
///
/// ```no_run
/// # async fn f(v: atmo_server::ServiceAuthVerifier, token: &str)
/// # -> Result<(), atmo_server::ServiceAuthError> {
/// let caller = v.verify(token, None).await?;
/// if caller.service_id.as_deref() == Some("atproto_labeler") {
///     println!("the labeler {} itself", caller.did);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedCaller {
    /// The caller's DID (`iss` without its fragment): the user a PDS acts
    /// for, or the calling service.
    pub did: Did,
    /// `iss` as written (`did` or `did#service_id`).
    pub iss: String,
    /// The fragment of `iss`, if any (`atproto_labeler`).
    pub service_id: Option<String>,
    /// `aud` as written.
    pub aud: String,
    /// `lxm`, if the token has one.
    pub lxm: Option<String>,
    /// `exp`, in seconds since the epoch (a fraction dropped).
    pub exp: u64,
    /// `jti`, if the token has one (`@atproto/xrpc-server` sets a random one;
    /// the verifier does not track them).
    pub jti: Option<String>,
    /// Every claim of the payload.
    pub claims: Map<String, Value>,
}

/// Verifies service JWTs for one service (see the [module docs](self)).
/// Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct ServiceAuthVerifier {
    service_did: Did,
    fragments: Option<Vec<String>>,
    leeway: Duration,
    labelers_without_lxm: bool,
    keys: Arc<dyn KeyResolver>,
}

impl fmt::Debug for ServiceAuthVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAuthVerifier")
            .field("service_did", &self.service_did)
            .field("fragments", &self.fragments)
            .field("leeway", &self.leeway)
            .field("labelers_without_lxm", &self.labelers_without_lxm)
            .finish_non_exhaustive()
    }
}

impl ServiceAuthVerifier {
    /// A verifier for the service `service_did` (what tokens' `aud` must
    /// name), finding issuers' keys through `keys` (an
    /// [`atmo_identity::Resolver`], whose cache keeps documents).
    /// `Malformed` when `service_did` is not a DID.
    ///
    /// ```
    /// # fn f(resolver: atmo_identity::Resolver) {
    /// let verifier = atmo_server::ServiceAuthVerifier::new("did:web:feed.example.com", resolver);
    /// assert!(verifier.is_ok());
    /// # }
    /// ```
    pub fn new(
        service_did: &str,
        keys: impl KeyResolver,
    ) -> Result<ServiceAuthVerifier, ServiceAuthError> {
        let did = Did::new(service_did).map_err(|e| {
            ServiceAuthError::Malformed(format!("the service DID {}: {e}", quote(service_did)))
        })?;
        Ok(ServiceAuthVerifier {
            service_did: did,
            fragments: None,
            leeway: DEFAULT_LEEWAY,
            labelers_without_lxm: false,
            keys: Arc::new(keys),
        })
    }

    /// Only these service ids may follow the DID in `aud`
    /// (`did:web:feed.example.com#bsky_fg`); the bare DID is always
    /// accepted. By default any fragment is, since it only names a service
    /// entry of this same DID. An empty list accepts the bare DID only.
    ///
    /// ```
    /// # fn f(v: atmo_server::ServiceAuthVerifier) {
    /// let v = v.audience_fragments(["bsky_fg"]);
    /// # }
    /// ```
    pub fn audience_fragments<S: Into<String>>(
        mut self,
        fragments: impl IntoIterator<Item = S>,
    ) -> Self {
        self.fragments = Some(fragments.into_iter().map(Into::into).collect());
        self
    }

    /// Clock skew allowed past `exp` (default [`DEFAULT_LEEWAY`], at most
    /// [`MAX_LEEWAY`]; zero matches `@atproto/xrpc-server`).
    ///
    /// ```
    /// # fn f(v: atmo_server::ServiceAuthVerifier) {
    /// let v = v.leeway(std::time::Duration::ZERO);
    /// # }
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(MAX_LEEWAY);
        self
    }

    /// Accept tokens without `lxm` from labelers acting as themselves
    /// (`iss` `did#atproto_labeler`), as the reference AppView does for the
    /// labelers' own calls; a token that names another method is still
    /// refused. Off by default.
    ///
    /// ```
    /// # fn f(v: atmo_server::ServiceAuthVerifier) {
    /// let v = v.labelers_without_lxm(true);
    /// # }
    /// ```
    pub fn labelers_without_lxm(mut self, allow: bool) -> Self {
        self.labelers_without_lxm = allow;
        self
    }

    /// The service's DID.
    ///
    /// ```
    /// # fn f(resolver: atmo_identity::Resolver) {
    /// let v = atmo_server::ServiceAuthVerifier::new("did:web:feed.example.com", resolver).unwrap();
    /// assert_eq!(v.service_did().as_str(), "did:web:feed.example.com");
    /// # }
    /// ```
    pub fn service_did(&self) -> &Did {
        &self.service_did
    }

    /// Verifies the value of an `Authorization` header (`Bearer <jwt>`, the
    /// scheme case-insensitive); a missing header or another scheme is
    /// [`ServiceAuthError::MissingToken`]. `lxm` as for
    /// [`ServiceAuthVerifier::verify`].
    ///
    /// ```no_run
    /// # async fn f(v: atmo_server::ServiceAuthVerifier, header: Option<&str>) {
    /// match v.verify_header(header, Some("app.bsky.feed.getFeedSkeleton")).await {
    ///     Ok(caller) => println!("{}", caller.did),
    ///     Err(e) => println!("answer {} {}", e.status(), e.error_name()),
    /// }
    /// # }
    /// ```
    pub async fn verify_header(
        &self,
        authorization: Option<&str>,
        lxm: Option<&str>,
    ) -> Result<VerifiedCaller, ServiceAuthError> {
        let token = authorization
            .and_then(bearer_token)
            .ok_or(ServiceAuthError::MissingToken)?;
        self.verify(token, lxm).await
    }

    /// Verifies a service JWT for the route `lxm` (the NSID of the method
    /// called; `None` skips the check, for routes any token may reach).
    ///
    /// ```no_run
    /// # async fn f(v: atmo_server::ServiceAuthVerifier, token: &str)
    /// # -> Result<(), atmo_server::ServiceAuthError> {
    /// let caller = v.verify(token, Some("app.bsky.feed.getFeedSkeleton")).await?;
    /// assert_eq!(caller.lxm.as_deref(), Some("app.bsky.feed.getFeedSkeleton"));
    /// # Ok(()) }
    /// ```
    pub async fn verify(
        &self,
        token: &str,
        lxm: Option<&str>,
    ) -> Result<VerifiedCaller, ServiceAuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        self.verify_at(token, lxm, now).await
    }

    /// [`ServiceAuthVerifier::verify`] with the clock given (time since the
    /// Unix epoch): for tests and replay tools.
    ///
    /// ```no_run
    /// # async fn f(v: atmo_server::ServiceAuthVerifier, token: &str) {
    /// use std::time::Duration;
    /// let at = Duration::from_secs(1_800_000_000);
    /// let verdict = v.verify_at(token, None, at).await;
    /// # }
    /// ```
    pub async fn verify_at(
        &self,
        token: &str,
        lxm: Option<&str>,
        now: Duration,
    ) -> Result<VerifiedCaller, ServiceAuthError> {
        let parsed = parse(token)?;
        let claims = &parsed.claims;

        // Compared as floats: `exp` may be any JSON number, and a float
        // neither overflows nor wraps (an absurdly large exp is simply far
        // in the future).
        let exp = parsed.exp;
        if now.as_secs_f64() > exp + self.leeway.as_secs_f64() {
            return Err(ServiceAuthError::Expired {
                exp,
                now: now.as_secs(),
            });
        }
        if !self.audience_ok(&parsed.aud) {
            return Err(ServiceAuthError::BadAudience {
                expected: self.service_did.to_string(),
                found: quote(&parsed.aud),
            });
        }
        let labeler_exempt = self.labelers_without_lxm
            && parsed.lxm.is_none()
            && KeyId::for_issuer(&parsed.iss) == KeyId::AtprotoLabel;
        if let Some(expected) = lxm.filter(|_| !labeler_exempt) {
            if parsed.lxm.as_deref() != Some(expected) {
                return Err(ServiceAuthError::BadLxm {
                    expected: expected.to_owned(),
                    found: parsed.lxm.as_deref().map(quote),
                });
            }
        }
        let (did, service_id) = issuer(&parsed.iss)?;

        let key_id = KeyId::for_issuer(&parsed.iss);
        let lookup_error = |e: KeyLookupError| match e {
            KeyLookupError::Unavailable(reason) => ServiceAuthError::KeyUnavailable {
                iss: quote(&parsed.iss),
                reason,
            },
            KeyLookupError::UnknownIssuer(reason) | KeyLookupError::NoKey(reason) => {
                ServiceAuthError::UnknownIssuer {
                    iss: quote(&parsed.iss),
                    reason,
                }
            }
        };
        let key = self
            .keys
            .resolve_key(&did, key_id, false)
            .await
            .map_err(lookup_error)?;
        match check_signature(&parsed, &key) {
            Ok(()) => {}
            Err(Check::Final(why)) => return Err(ServiceAuthError::BadSignature(why)),
            Err(Check::Retry(why)) => {
                // Perhaps the key rotated since the document was cached.
                let fresh = self
                    .keys
                    .resolve_key(&did, key_id, true)
                    .await
                    .map_err(lookup_error)?;
                if fresh == key {
                    return Err(ServiceAuthError::BadSignature(why));
                }
                check_signature(&parsed, &fresh).map_err(|c| match c {
                    Check::Final(why) | Check::Retry(why) => ServiceAuthError::BadSignature(why),
                })?;
            }
        }
        let jti = claims.get("jti").and_then(Value::as_str).map(str::to_owned);
        Ok(VerifiedCaller {
            did,
            iss: parsed.iss.clone(),
            service_id,
            aud: parsed.aud.clone(),
            lxm: parsed.lxm.clone(),
            exp: exp_secs(exp),
            jti,
            claims: parsed.claims,
        })
    }

    fn audience_ok(&self, aud: &str) -> bool {
        let did = self.service_did.as_str();
        if aud == did {
            return true;
        }
        let Some(fragment) = aud.strip_prefix(did).and_then(|r| r.strip_prefix('#')) else {
            return false;
        };
        if fragment.is_empty() || fragment.contains('#') {
            return false;
        }
        match &self.fragments {
            Some(allowed) => allowed.iter().any(|f| f == fragment),
            None => true,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value.
///
/// ```
/// assert_eq!(atmo_server::service_auth::bearer_token("Bearer abc"), Some("abc"));
/// assert_eq!(atmo_server::service_auth::bearer_token("Basic abc"), None);
/// ```
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// A token taken apart, before the signature is checked.
struct Parsed<'a> {
    signed: &'a str,
    signature: &'a str,
    alg: String,
    iss: String,
    aud: String,
    exp: f64,
    lxm: Option<String>,
    claims: Map<String, Value>,
}

fn parse(token: &str) -> Result<Parsed<'_>, ServiceAuthError> {
    let malformed = |why: &str| ServiceAuthError::Malformed(why.to_owned());
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed(&format!(
            "{} bytes, more than the {MAX_TOKEN_LEN} a service token may have",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("not three dot-separated parts"));
    };
    let signed = &token[..header.len() + 1 + payload.len()];

    let header = json_object(header, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        _ => return Err(malformed("the header has no string \"alg\"")),
    };
    if let Some(Value::String(typ)) = header.get("typ") {
        if REFUSED_TYPES.contains(&typ.as_str()) {
            return Err(ServiceAuthError::BadType(quote(typ)));
        }
    }

    let claims = json_object(payload, "payload")?;
    let string = |name: &str| match claims.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(ServiceAuthError::Malformed(format!(
            "the payload has no string \"{name}\""
        ))),
    };
    let iss = string("iss")?;
    let aud = string("aud")?;
    let exp = match claims.get("exp") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::INFINITY),
        _ => return Err(malformed("the payload has no number \"exp\"")),
    };
    // As TypeScript: an `lxm` (or `nonce`) that is present and not a string
    // is malformed, while `null` counts as absent.
    let lxm = match claims.get("lxm") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed("\"lxm\" is not a string")),
    };
    if matches!(claims.get("nonce"), Some(v) if !v.is_null() && !v.is_string()) {
        return Err(malformed("\"nonce\" is not a string"));
    }
    Ok(Parsed {
        signed,
        signature,
        alg,
        iss,
        aud,
        exp,
        lxm,
        claims,
    })
}

fn json_object(part: &str, what: &str) -> Result<Map<String, Value>, ServiceAuthError> {
    let bytes = decode_url(part)
        .map_err(|e| ServiceAuthError::Malformed(format!("the {what} is not base64url: {e}")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ServiceAuthError::Malformed(format!(
            "the {what} is not a JSON object"
        ))),
        Err(e) => Err(ServiceAuthError::Malformed(format!(
            "the {what} is not JSON: {e}"
        ))),
    }
}

/// `iss` → its DID and fragment: a DID, or `did#fragment` with one `#` and
/// a fragment that is not empty.
fn issuer(iss: &str) -> Result<(Did, Option<String>), ServiceAuthError> {
    let bad = || ServiceAuthError::BadIssuer(quote(iss));
    let (did, fragment) = match iss.split_once('#') {
        None => (iss, None),
        Some((did, fragment)) => {
            if fragment.is_empty() || fragment.contains('#') {
                return Err(bad());
            }
            (did, Some(fragment.to_owned()))
        }
    };
    let did = Did::new(did).map_err(|_| bad())?;
    Ok((did, fragment))
}

/// How a signature check failed: for good, or in a way a fresh key might
/// fix.
enum Check {
    Final(String),
    Retry(String),
}

fn check_signature(parsed: &Parsed<'_>, key: &PublicKey) -> Result<(), Check> {
    let curve = match parsed.alg.as_str() {
        "ES256K" => Curve::K256,
        "ES256" => Curve::P256,
        other => {
            return Err(Check::Final(format!(
                "unsupported alg {}: service tokens are ES256K or ES256",
                quote(other)
            )))
        }
    };
    if curve != key.curve() {
        return Err(Check::Retry(format!(
            "alg {} does not fit the issuer's {} key",
            parsed.alg,
            key.curve()
        )));
    }
    let signature = decode_url(parsed.signature)
        .map_err(|e| Check::Final(format!("the signature is not base64url: {e}")))?;
    match key.verify(parsed.signed.as_bytes(), &signature) {
        Ok(()) => Ok(()),
        Err(SignatureError::Mismatch) => Err(Check::Retry(
            "jwt signature does not match jwt issuer".into(),
        )),
        Err(e) => Err(Check::Final(e.to_string())),
    }
}

/// Whole seconds of a (non-negative, already checked) `exp`, saturating.
fn exp_secs(exp: f64) -> u64 {
    if exp <= 0.0 {
        return 0;
    }
    #[allow(clippy::cast_precision_loss)]
    let last = u64::MAX as f64;
    if exp >= last {
        return u64::MAX;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let secs = exp as u64;
    secs
}

/// `s` cut to [`MAX_QUOTED`] bytes on a character boundary.
fn quote(s: &str) -> String {
    if s.len() <= MAX_QUOTED {
        return s.to_owned();
    }
    let mut end = MAX_QUOTED;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers() {
        assert!(issuer("did:plc:abc").is_ok());
        let (did, frag) = issuer("did:plc:abc#atproto_labeler").unwrap();
        assert_eq!(did.as_str(), "did:plc:abc");
        assert_eq!(frag.as_deref(), Some("atproto_labeler"));
        for bad in ["", "plc:abc", "did:plc:abc#", "did:plc:abc#a#b", "#x"] {
            assert!(
                matches!(issuer(bad), Err(ServiceAuthError::BadIssuer(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn quotes_are_cut_on_char_boundaries() {
        let long = "é".repeat(200);
        let q = quote(&long);
        assert!(q.len() <= MAX_QUOTED + "…".len());
    }

    #[test]
    fn exp_seconds_saturate() {
        assert_eq!(exp_secs(-1.0), 0);
        assert_eq!(exp_secs(1.9), 1);
        assert_eq!(exp_secs(1e30), u64::MAX);
    }
}
