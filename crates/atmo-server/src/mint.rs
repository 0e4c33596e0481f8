//! Private keys and minting service JWTs (feature `mint`), for services that
//! call other services (an AppView calling a feed generator, a labeler
//! calling a PDS) as `@atproto/xrpc-server`'s `createServiceJwt` does.
//!
//! ```
//! use atmo_server::{mint_service_jwt, SigningKey};
//! use atmo_crypto::Curve;
//!
//! let key = SigningKey::generate(Curve::K256)?;
//! // Publish key.public_key().to_multikey() as the service DID's #atproto key.
//! let token = mint_service_jwt(
//!     &key,
//!     "did:web:appview.example.com",
//!     "did:web:feed.example.com",
//!     Some("app.bsky.feed.getFeedSkeleton"),
//!     None, // the default: 60 s from now
//! )?;
//! assert_eq!(token.split('.').count(), 3);
//! # Ok::<(), atmo_server::MintError>(())
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use atmo_crypto::{Curve, PublicKey};
use atmo_types::base64::encode_url;
use serde_json::{Map, Value};

/// How long a minted token lives unless told: 60 s, as `createServiceJwt`.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 60;

/// Why a key could not be made or a token minted. Never contains key
/// material.
///
/// ```
/// let e = atmo_server::SigningKey::from_bytes(atmo_crypto::Curve::K256, &[0u8; 32]).unwrap_err();
/// assert!(matches!(e, atmo_server::MintError::InvalidKey(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MintError {
    /// The bytes are not a private key of that curve (32 bytes, a scalar
    /// between 1 and the group order).
    InvalidKey(String),
    /// The system's random source failed.
    Random(String),
    /// `iss` or `aud` is not a DID (or `did#fragment`), or `lxm` is empty.
    InvalidClaim(String),
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MintError::InvalidKey(why) => write!(f, "not a valid private key: {why}"),
            MintError::Random(why) => write!(f, "the system random source failed: {why}"),
            MintError::InvalidClaim(why) => write!(f, "cannot mint this token: {why}"),
        }
    }
}

impl std::error::Error for MintError {}

#[derive(Clone)]
enum Inner {
    K256(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// A K-256 or P-256 private key that signs as atproto requires: ECDSA over
/// SHA-256, 64-byte `r‖s`, low-S.
///
/// `Debug` shows the curve and the public key only.
///
/// ```
/// use atmo_server::SigningKey;
/// use atmo_crypto::Curve;
///
/// let key = SigningKey::from_bytes(Curve::P256, &[7u8; 32])?;
/// let sig = key.sign(b"hello");
/// key.public_key().verify(b"hello", &sig).unwrap();
/// assert!(!format!("{key:?}").contains("0707"));
/// # Ok::<(), atmo_server::MintError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    inner: Inner,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, {})", self.public.curve(), self.public)
    }
}

impl SigningKey {
    /// A fresh random key on `curve`.
    ///
    /// ```
    /// let key = atmo_server::SigningKey::generate(atmo_crypto::Curve::K256)?;
    /// # Ok::<(), atmo_server::MintError>(())
    /// ```
    pub fn generate(curve: Curve) -> Result<SigningKey, MintError> {
        // A random 32-byte string is a valid scalar except with negligible
        // probability (zero, or at least the group order): draw again then.
        for _ in 0..16 {
            let bytes = random::<32>()?;
            if let Ok(key) = SigningKey::from_bytes(curve, &bytes) {
                return Ok(key);
            }
        }
        Err(MintError::Random("no valid scalar in 16 draws".into()))
    }

    /// The key from its 32-byte private scalar (big-endian).
    ///
    /// ```
    /// let key = atmo_server::SigningKey::from_bytes(atmo_crypto::Curve::K256, &[1u8; 32])?;
    /// # Ok::<(), atmo_server::MintError>(())
    /// ```
    pub fn from_bytes(curve: Curve, bytes: &[u8]) -> Result<SigningKey, MintError> {
        let bad = || MintError::InvalidKey(format!("{} bytes for a {curve} key", bytes.len()));
        if bytes.len() != 32 {
            return Err(bad());
        }
        let (inner, sec1) = match curve {
            Curve::K256 => {
                let key = k256::ecdsa::SigningKey::from_slice(bytes).map_err(|_| bad())?;
                let point = key.verifying_key().to_sec1_point(true);
                (Inner::K256(key), point.as_bytes().to_vec())
            }
            Curve::P256 => {
                let key = p256::ecdsa::SigningKey::from_slice(bytes).map_err(|_| bad())?;
                let point = key.verifying_key().to_sec1_point(true);
                (Inner::P256(key), point.as_bytes().to_vec())
            }
        };
        let public =
            PublicKey::from_sec1(curve, &sec1).map_err(|e| MintError::InvalidKey(e.to_string()))?;
        Ok(SigningKey { inner, public })
    }

    /// The key from its private scalar in hex (64 digits), as PDS and
    /// feed generator configurations write it.
    ///
    /// ```
    /// let hex = "01".repeat(32);
    /// let key = atmo_server::SigningKey::from_hex(atmo_crypto::Curve::K256, &hex)?;
    /// # Ok::<(), atmo_server::MintError>(())
    /// ```
    pub fn from_hex(curve: Curve, hex: &str) -> Result<SigningKey, MintError> {
        let hex = hex.trim();
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        if hex.len() != 64 {
            return Err(MintError::InvalidKey(format!(
                "{} hex digits, expected 64",
                hex.len()
            )));
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let (Some(hi), Some(lo)) = (digit(pair[0]), digit(pair[1])) else {
                return Err(MintError::InvalidKey("not hexadecimal".into()));
            };
            bytes[i] = hi << 4 | lo;
        }
        SigningKey::from_bytes(curve, &bytes)
    }

    /// The curve.
    ///
    /// ```
    /// # use atmo_crypto::Curve;
    /// let key = atmo_server::SigningKey::from_bytes(Curve::P256, &[3u8; 32])?;
    /// assert_eq!(key.curve(), Curve::P256);
    /// # Ok::<(), atmo_server::MintError>(())
    /// ```
    pub fn curve(&self) -> Curve {
        self.public.curve()
    }

    /// The public half, for a DID document (`public_key().to_multikey()`)
    /// or `did:key` (`public_key().to_did_key()`).
    ///
    /// ```
    /// # use atmo_crypto::Curve;
    /// let key = atmo_server::SigningKey::from_bytes(Curve::K256, &[3u8; 32])?;
    /// assert!(key.public_key().to_did_key().starts_with("did:key:zQ3s"));
    /// # Ok::<(), atmo_server::MintError>(())
    /// ```
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The JWT `alg`: `ES256K` or `ES256`.
    ///
    /// ```
    /// # use atmo_crypto::Curve;
    /// let key = atmo_server::SigningKey::from_bytes(Curve::K256, &[3u8; 32])?;
    /// assert_eq!(key.jwt_alg(), "ES256K");
    /// # Ok::<(), atmo_server::MintError>(())
    /// ```
    pub fn jwt_alg(&self) -> &'static str {
        self.curve().jwt_alg()
    }

    /// The 32-byte private scalar, to store the key. Treat as a secret.
    ///
    /// ```
    /// # use atmo_crypto::Curve;
    /// use atmo_server::SigningKey;
    /// let key = SigningKey::generate(Curve::K256)?;
    /// let again = SigningKey::from_bytes(Curve::K256, &key.expose_secret_bytes())?;
    /// assert_eq!(again.public_key(), key.public_key());
    /// # Ok::<(), atmo_server::MintError>(())
    /// ```
    pub fn expose_secret_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        match &self.inner {
            Inner::K256(k) => out.copy_from_slice(&k.to_bytes()),
            Inner::P256(k) => out.copy_from_slice(&k.to_bytes()),
        }
        out
    }

    /// Signs `message` (hashed with SHA-256): 64 bytes `r‖s`, low-S, as
    /// atmo-crypto's `PublicKey::verify` requires (labels, commits and
    /// JWTs are signed this way).
    ///
    /// ```
    /// # use atmo_crypto::Curve;
    /// let key = atmo_server::SigningKey::generate(Curve::K256)?;
    /// let sig = key.sign(b"label bytes");
    /// assert!(key.public_key().verify(b"label bytes", &sig).is_ok());
    /// # Ok::<(), atmo_server::MintError>(())
    /// ```
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        match &self.inner {
            Inner::K256(k) => {
                use k256::ecdsa::signature::Signer;
                let s: k256::ecdsa::Signature = k.sign(message);
                out.copy_from_slice(&s.normalize_s().to_bytes());
            }
            Inner::P256(k) => {
                use p256::ecdsa::signature::Signer;
                let s: p256::ecdsa::Signature = k.sign(message);
                out.copy_from_slice(&s.normalize_s().to_bytes());
            }
        }
        out
    }
}

/// Mints a service JWT as `createServiceJwt` does: header
/// `{"typ":"JWT","alg":"ES256K"|"ES256"}`, payload `iat`, `iss`, `aud`,
/// `exp`, `lxm` (when given) and a random `jti`, signed by `key`.
///
/// - `iss`: the caller's DID (or `did#service_id`, e.g.
///   `did:plc:…#atproto_labeler` for a labeler signing with its
///   `#atproto_label` key); `key` must be that DID's key.
/// - `aud`: the DID of the service called (or `did#service_id`).
/// - `lxm`: the NSID of the one method the token may call; `None` makes a
///   token for any method (receivers that check `lxm` refuse it).
/// - `exp`: seconds since the Unix epoch; `None` is 60 s from now.
///
/// ```
/// # use atmo_server::{mint_service_jwt, SigningKey};
/// # let key = SigningKey::generate(atmo_crypto::Curve::P256)?;
/// let t = mint_service_jwt(&key, "did:plc:abc", "did:web:x.example", None, Some(4_000_000_000))?;
/// # Ok::<(), atmo_server::MintError>(())
/// ```
pub fn mint_service_jwt(
    key: &SigningKey,
    iss: &str,
    aud: &str,
    lxm: Option<&str>,
    exp: Option<u64>,
) -> Result<String, MintError> {
    for (name, value) in [("iss", iss), ("aud", aud)] {
        let did = value.split_once('#').map_or(value, |(did, _)| did);
        atmo_types::Did::new(did).map_err(|e| {
            MintError::InvalidClaim(format!("{name} is not a DID (or did#service): {e}"))
        })?;
    }
    if lxm.is_some_and(str::is_empty) {
        return Err(MintError::InvalidClaim("lxm is empty".into()));
    }
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let exp = exp.unwrap_or(iat.saturating_add(DEFAULT_TOKEN_LIFETIME_SECS));
    let jti: String = random::<16>()?.iter().map(|b| format!("{b:02x}")).collect();

    let mut header = Map::new();
    header.insert("typ".into(), Value::from("JWT"));
    header.insert("alg".into(), Value::from(key.jwt_alg()));
    let mut payload = Map::new();
    payload.insert("iat".into(), Value::from(iat));
    payload.insert("iss".into(), Value::from(iss));
    payload.insert("aud".into(), Value::from(aud));
    payload.insert("exp".into(), Value::from(exp));
    if let Some(lxm) = lxm {
        payload.insert("lxm".into(), Value::from(lxm));
    }
    payload.insert("jti".into(), Value::from(jti));
    Ok(sign_jwt(
        key,
        &Value::Object(header),
        &Value::Object(payload),
    ))
}

/// Signs any JWT: `base64url(header).base64url(payload).base64url(sig)`
/// with `key`. For claims [`mint_service_jwt`] does not write; the header's
/// `alg` is the caller's to set right.
///
/// ```
/// # use atmo_server::{sign_jwt, SigningKey};
/// # let key = SigningKey::generate(atmo_crypto::Curve::K256)?;
/// let header = serde_json::json!({"typ": "JWT", "alg": key.jwt_alg()});
/// let payload = serde_json::json!({"iss": "did:plc:abc", "aud": "did:web:x.example", "exp": 4_000_000_000u64});
/// let token = sign_jwt(&key, &header, &payload);
/// # Ok::<(), atmo_server::MintError>(())
/// ```
pub fn sign_jwt(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let mut token = encode_url(header.to_string().as_bytes());
    token.push('.');
    token.push_str(&encode_url(payload.to_string().as_bytes()));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&encode_url(&signature));
    token
}

fn random<const N: usize>() -> Result<[u8; N], MintError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| MintError::Random(e.to_string()))?;
    Ok(buf)
}
