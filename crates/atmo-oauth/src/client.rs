//! The OAuth client: discovery, PAR, the callback and the token exchange.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atmo_session::{SessionEvent, SessionHook};
use atmo_types::Did;
use atmo_xrpc::{
    check_url, HttpClient, HttpMethod, HttpRequest, Secret, Transport, TransportConfig,
};
use serde_json::{json, Value};

use crate::dpop::{dpop_error, dpop_nonce, NonceCache};
use crate::error::OAuthError;
use crate::jose::Es256Key;
use crate::metadata::{
    AuthorizationServerMetadata, ClientConfig, ClientKind, ProtectedResourceMetadata,
    MAX_METADATA_SIZE,
};
use crate::pkce::Pkce;
use crate::resolve::IdentityResolver;
use crate::scope::{Scope, Scopes};
use crate::session::OAuthSession;
use crate::store::{AuthState, MemoryStore, OAuthSessionData, OAuthSessionStore, StateStore};
use crate::util::{form_encode, now_secs, parse_query, random_token};

/// How long a pending authorization stays valid by default.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(600);

/// Largest token endpoint answer accepted (bytes).
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// Longest OAuth `error` code taken from an error answer (bytes).
const MAX_ERROR_CODE_LEN: usize = 128;

/// How long a client assertion is valid (seconds).
const CLIENT_ASSERTION_LIFETIME_SECS: u64 = 60;

/// The longest access-token lifetime believed from a token answer (a
/// year). A larger (or absurd) `expires_in` is capped: the token is then
/// refreshed when the PDS calls it invalid.
pub(crate) const MAX_EXPIRES_IN_SECS: u64 = 365 * 24 * 3600;

/// The session-event hook of an OAuth client: the same [`SessionHook`]
/// shape as the password session's, `(event, did, session)`.
type EventHook = SessionHook<OAuthSessionData>;

/// Options of one [`OAuthClient::authorize`] call.
#[derive(Clone, Debug, Default)]
pub struct AuthorizeOptions {
    /// Scopes to ask for (default: the client's configured scopes).
    pub scope: Option<Scopes>,
    /// The application's own state, handed back by `callback`.
    pub state: Option<String>,
    /// Which configured redirect URI to use (default: the first).
    pub redirect_uri: Option<String>,
    /// `prompt` (`login`, `none`, `consent`, `select_account`, `create`).
    pub prompt: Option<String>,
}

pub(crate) struct ClientInner {
    pub(crate) config: ClientConfig,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) transport: Transport,
    pub(crate) resolver: Arc<dyn IdentityResolver>,
    pub(crate) states: Arc<dyn StateStore>,
    pub(crate) sessions: Arc<dyn OAuthSessionStore>,
    pub(crate) nonces: NonceCache,
    pub(crate) allow_insecure_http: bool,
    pub(crate) state_ttl: Duration,
    pub(crate) timeout: Duration,
    /// See [`OAuthClientBuilder::refresh_margin`].
    pub(crate) refresh_margin: Duration,
    pub(crate) hook: Option<EventHook>,
    /// Tells the hook's calls back into this client's sessions apart: they
    /// fail with `SessionError::CalledFromHook` instead of deadlocking.
    pub(crate) hook_scope: atmo_session::HookScope,
    pub(crate) refresh_locks: RefreshLocks,
}

/// An atproto OAuth client: starts sign-ins ([`OAuthClient::authorize`]),
/// finishes them ([`OAuthClient::callback`]) and restores stored sessions
/// ([`OAuthClient::restore`]). Each [`OAuthSession`] it gives is a
/// `SessionManager`, so `atmo_client::Agent::new(session)` has the whole
/// typed API. Cheap to clone.
#[derive(Clone)]
pub struct OAuthClient {
    pub(crate) inner: Arc<ClientInner>,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

/// A handle on the in-process refresh lock of one account (see
/// [`ClientInner::refresh_lock`]). Dropping the last handle of an account
/// removes its entry from the client's map.
pub(crate) struct RefreshLock<'a> {
    locks: &'a RefreshLocks,
    lock: Arc<tokio::sync::Mutex<()>>,
}

/// The refresh locks of a client, by DID.
type RefreshLocks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

impl RefreshLock<'_> {
    /// Waits for the lock.
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }
}

impl Drop for RefreshLock<'_> {
    fn drop(&mut self) {
        // Under the map's lock no one can take a new handle, so an entry
        // whose only references are the map's (and this handle's) is idle.
        // The sweep also collects entries left by waiters that gave up
        // (a cancelled future) before their handle was dropped here.
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, l| {
            let ours = usize::from(Arc::ptr_eq(l, &self.lock));
            Arc::strong_count(l) > 1 + ours
        });
    }
}

/// Builds an [`OAuthClient`].
pub struct OAuthClientBuilder {
    config: ClientConfig,
    http: Option<Arc<dyn HttpClient>>,
    resolver: Option<Arc<dyn IdentityResolver>>,
    states: Option<Arc<dyn StateStore>>,
    sessions: Option<Arc<dyn OAuthSessionStore>>,
    allow_insecure_http: bool,
    state_ttl: Duration,
    timeout: Duration,
    refresh_margin: Duration,
    hook: Option<EventHook>,
}

impl OAuthClientBuilder {
    /// The HTTP client for every request (default: atmo-xrpc's
    /// `HyperClient`, feature `hyper`), taken as `AgentBuilder::http_client`
    /// takes it: any [`HttpClient`] by value (an `Arc` of one too).
    pub fn http_client(mut self, http: impl HttpClient) -> Self {
        self.http = Some(Arc::new(http));
        self
    }

    /// [`OAuthClientBuilder::http_client`] with a shared client, kept as it
    /// is, like `AgentBuilder::http_client_arc`.
    pub fn http_client_arc(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.http = Some(http);
        self
    }

    /// How handles and DIDs are resolved (default: an
    /// `atmo_identity::Resolver` over the same HTTP client): the same
    /// name and argument as `AgentBuilder::identity_resolver` (an
    /// `atmo_identity::Resolver` by value), or any other
    /// [`IdentityResolver`] (an `Arc` of one too).
    pub fn identity_resolver(mut self, resolver: impl IdentityResolver + 'static) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// [`OAuthClientBuilder::identity_resolver`] with a shared resolver,
    /// kept as it is.
    pub fn identity_resolver_arc(mut self, resolver: Arc<dyn IdentityResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// The earlier name of [`OAuthClientBuilder::identity_resolver`].
    #[deprecated(note = "use `identity_resolver`, the name `AgentBuilder` has")]
    pub fn resolver(self, resolver: Arc<dyn IdentityResolver>) -> Self {
        self.identity_resolver_arc(resolver)
    }

    /// Where pending authorizations are kept (default: a
    /// [`MemoryStore`]`<AuthState>`). Any [`StateStore`] by value (an `Arc`
    /// of one too).
    pub fn state_store(mut self, store: impl StateStore + 'static) -> Self {
        self.states = Some(Arc::new(store));
        self
    }

    /// [`OAuthClientBuilder::state_store`] with a shared store, kept as it
    /// is.
    pub fn state_store_arc(mut self, store: Arc<dyn StateStore>) -> Self {
        self.states = Some(store);
        self
    }

    /// Where sessions are kept (default: a
    /// [`MemoryStore`]`<OAuthSessionData>`), taken as
    /// `AgentBuilder::session_store` takes its store: any
    /// [`OAuthSessionStore`] by value (an `Arc` of one too, to keep a handle
    /// on it).
    pub fn session_store(mut self, store: impl OAuthSessionStore + 'static) -> Self {
        self.sessions = Some(Arc::new(store));
        self
    }

    /// [`OAuthClientBuilder::session_store`] with a shared store, kept as it
    /// is, like `AgentBuilder::session_store_arc`.
    pub fn session_store_arc(mut self, store: Arc<dyn OAuthSessionStore>) -> Self {
        self.sessions = Some(store);
        self
    }

    /// Allow plain http to hosts that are not loopback (never in
    /// production: tokens would travel in clear text). Loopback http is
    /// always allowed, for development against a local PDS.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// How long a pending authorization stays valid (default 10 minutes).
    pub fn state_ttl(mut self, ttl: Duration) -> Self {
        self.state_ttl = ttl;
        self
    }

    /// Per-request timeout of every request the client and its sessions
    /// make (default 30 s): metadata, PAR, token and revocation requests to
    /// the authorization server, and each call a session sends to the PDS,
    /// which then fails with a timeout `SessionError::Xrpc`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Refresh an access token proactively when it expires within `margin`
    /// (default [`crate::session::DEFAULT_REFRESH_MARGIN`]; tokens that live
    /// less than four margins are refreshed in their last quarter). The
    /// same setting as `CredentialSessionBuilder::refresh_margin`.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Called, in order, with each session event as `(event, did,
    /// session)`, the same shape as `AgentBuilder::on_session_event` (see
    /// [`SessionHook`]): `Create` after a callback, `Update` after a
    /// refresh, `Expired` when a session ends (no session then, the DID
    /// says whose), `NetworkError` when a refresh could not reach the
    /// server. The DID is always given here (an OAuth session has one from
    /// the start).
    ///
    /// Events are delivered while the session's refresh lock is held: a
    /// call the hook makes into this client's sessions fails at once with
    /// `SessionError::CalledFromHook` instead of waiting for itself (hand
    /// such work to another task without awaiting it).
    pub fn on_session_event<F>(mut self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<&Did>, Option<&OAuthSessionData>) + Send + Sync + 'static,
    {
        self.hook = Some(SessionHook::new(hook));
        self
    }

    /// Like [`OAuthClientBuilder::on_session_event`] with an async hook
    /// given owned copies, awaited before the call that caused the event
    /// returns.
    pub fn on_session_event_async<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<Did>, Option<OAuthSessionData>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.hook = Some(SessionHook::new_async(hook));
        self
    }

    /// The async event hook with the DID not in an `Option`: use
    /// [`OAuthClientBuilder::on_session_event_async`] (or the plain
    /// [`OAuthClientBuilder::on_session_event`]), the shape the password
    /// session's hook has too.
    #[deprecated(
        note = "use `on_session_event_async` (or `on_session_event`), the password session's shape"
    )]
    pub fn on_event<F, Fut>(self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Did, Option<OAuthSessionData>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let hook = Arc::new(hook);
        self.on_session_event_async(move |event, did, data| {
            let hook = hook.clone();
            async move {
                // OAuth events always name their account.
                if let Some(did) = did {
                    hook(event, did, data).await;
                }
            }
        })
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<OAuthClient, OAuthError> {
        self.config.check()?;
        let http: Arc<dyn HttpClient> = match self.http {
            Some(h) => h,
            None => default_http()?,
        };
        let resolver: Arc<dyn IdentityResolver> = match self.resolver {
            Some(r) => r,
            None => Arc::new(
                atmo_identity::Resolver::builder(http.clone())
                    .build()
                    .map_err(|e| OAuthError::Config(format!("identity resolver: {e}")))?,
            ),
        };
        // The PDS calls get the same timeout as the authorization server's.
        let transport = Transport::new(
            http.clone(),
            TransportConfig {
                timeout: self.timeout,
                ..TransportConfig::default()
            },
        );
        Ok(OAuthClient {
            inner: Arc::new(ClientInner {
                config: self.config,
                http,
                transport,
                resolver,
                states: self
                    .states
                    .unwrap_or_else(|| Arc::new(MemoryStore::<AuthState>::new())),
                sessions: self
                    .sessions
                    .unwrap_or_else(|| Arc::new(MemoryStore::<OAuthSessionData>::new())),
                nonces: NonceCache::new(),
                allow_insecure_http: self.allow_insecure_http,
                state_ttl: self.state_ttl,
                timeout: self.timeout,
                refresh_margin: self.refresh_margin,
                hook: self.hook,
                hook_scope: atmo_session::HookScope::new(),
                refresh_locks: Mutex::new(HashMap::new()),
            }),
        })
    }
}

#[cfg(feature = "hyper")]
fn default_http() -> Result<Arc<dyn HttpClient>, OAuthError> {
    atmo_xrpc::HyperClient::new()
        .map(|c| Arc::new(c) as Arc<dyn HttpClient>)
        .map_err(|e| OAuthError::Config(format!("HTTP client: {e}")))
}

#[cfg(not(feature = "hyper"))]
fn default_http() -> Result<Arc<dyn HttpClient>, OAuthError> {
    Err(OAuthError::Config(
        "no HTTP client: enable the hyper feature or call http_client".into(),
    ))
}

/// A token endpoint's answer, checked.
#[derive(Debug)]
pub(crate) struct TokenSet {
    pub(crate) sub: Did,
    pub(crate) scope: String,
    pub(crate) access_token: Secret,
    pub(crate) refresh_token: Option<Secret>,
    pub(crate) expires_at: Option<u64>,
}

/// Checks a token response: `token_type` DPoP, `sub` a DID, `scope`
/// containing `atproto`, an access token. Exposed for fuzzing only
/// (feature `fuzzing`), not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn parse_token_response(body: &[u8]) -> Result<(Did, String), OAuthError> {
    let t = check_token_response(body)?;
    Ok((t.sub, t.scope))
}

pub(crate) fn check_token_response(body: &[u8]) -> Result<TokenSet, OAuthError> {
    let bad = |m: &str| OAuthError::TokenResponse(m.to_owned());
    if body.len() > MAX_TOKEN_RESPONSE {
        return Err(bad("larger than 64 KiB"));
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    if !s("token_type").is_some_and(|t| t.eq_ignore_ascii_case("DPoP")) {
        return Err(bad("token_type is not DPoP"));
    }
    let sub = s("sub").ok_or_else(|| bad("no sub"))?;
    let sub = Did::new(sub).map_err(|_| bad("sub is not a DID"))?;
    let scope = s("scope").ok_or_else(|| bad("no scope"))?;
    if !Scopes::parse(scope).contains(&Scope::Atproto) {
        return Err(bad("scope does not include atproto"));
    }
    let access_token = s("access_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("no access_token"))?;
    let refresh_token = match v.get("refresh_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if !t.is_empty() => Some(Secret::new(t.clone())),
        Some(_) => return Err(bad("refresh_token is not a string")),
    };
    let expires_at = match v.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(e) => Some(now_secs().saturating_add(
            expires_in_secs(e).ok_or_else(|| bad("expires_in is not a number of seconds"))?,
        )),
    };
    Ok(TokenSet {
        sub,
        scope: scope.to_owned(),
        access_token: Secret::new(access_token),
        refresh_token,
        expires_at,
    })
}

/// The seconds of an `expires_in`, any JSON number: a fraction is rounded
/// down, a negative lifetime is 0 (the token is refreshed at once rather
/// than the answer, whose refresh token is already spent, thrown away), and
/// a huge one is capped at [`MAX_EXPIRES_IN_SECS`]. `None` when it is not a
/// number.
fn expires_in_secs(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n.min(MAX_EXPIRES_IN_SECS));
    }
    let f = v.as_f64().filter(|f| f.is_finite())?.max(0.0);
    // The cap is applied as a float first, so the cast below only ever
    // sees a value in range (and drops the fraction).
    #[allow(clippy::cast_precision_loss)]
    let cap = MAX_EXPIRES_IN_SECS as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(if f >= cap {
        MAX_EXPIRES_IN_SECS
    } else {
        f as u64
    })
}

impl OAuthClient {
    /// A builder for a client with this configuration.
    pub fn builder(config: ClientConfig) -> OAuthClientBuilder {
        OAuthClientBuilder {
            config,
            http: None,
            resolver: None,
            states: None,
            sessions: None,
            allow_insecure_http: false,
            state_ttl: DEFAULT_STATE_TTL,
            timeout: Duration::from_secs(30),
            refresh_margin: crate::session::DEFAULT_REFRESH_MARGIN,
            hook: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Starts a sign-in for `input` (a handle, a DID, or the URL of a PDS or
    /// entryway): discovers the account's authorization server, pushes the
    /// authorization request (PAR, PKCE S256, DPoP) and saves what the
    /// callback needs. Returns the URL to send the user to.
    pub async fn authorize(
        &self,
        input: &str,
        options: AuthorizeOptions,
    ) -> Result<String, OAuthError> {
        let inner = &self.inner;
        let input = input.trim();
        let (pds, expected_did, login_hint) =
            if input.starts_with("https://") || input.starts_with("http://") {
                let url = inner.check(input)?;
                (url.as_str().trim_end_matches('/').to_owned(), None, None)
            } else {
                let ident = input.strip_prefix('@').unwrap_or(input);
                if ident.is_empty() || !(ident.starts_with("did:") || ident.contains('.')) {
                    return Err(OAuthError::InvalidInput(format!(
                        "{input:?} is not a handle, a DID or an http(s) URL"
                    )));
                }
                let ident = if ident.starts_with("did:") {
                    ident.to_owned()
                } else {
                    ident.to_ascii_lowercase()
                };
                let id = inner.resolver.resolve(&ident, false).await?;
                (id.pds, Some(id.did), Some(ident))
            };
        // A PDS names its authorization server; an entryway URL may be the
        // authorization server itself.
        let (issuer, meta) = match inner.resource_issuer(&pds).await {
            Ok(issuer) => {
                let meta = inner.server_metadata(&issuer, Some(&pds)).await?;
                (issuer, meta)
            }
            Err(e) if expected_did.is_none() => match inner.server_metadata(&pds, None).await {
                Ok(meta) => (pds.clone(), meta),
                Err(_) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let config = &inner.config;
        let redirect_uri = match options.redirect_uri {
            Some(r) if config.redirect_uris.contains(&r) => r,
            Some(r) => {
                return Err(OAuthError::Config(format!(
                    "redirect URI {r} is not among the client's redirect_uris"
                )))
            }
            None => config
                .redirect_uris
                .first()
                .cloned()
                .ok_or_else(|| OAuthError::Config("redirect_uris is empty".into()))?,
        };
        let scope = options.scope.unwrap_or_else(|| config.scope.clone());
        if !scope.contains(&Scope::Atproto) {
            return Err(OAuthError::Config("the scope must include atproto".into()));
        }
        let dpop_key = Es256Key::generate()?;
        let pkce = Pkce::generate()?;
        let state = random_token::<24>()?;
        let scope_text = scope.to_string();
        let mut params = vec![
            ("response_type", "code".to_owned()),
            ("redirect_uri", redirect_uri.clone()),
            ("scope", scope_text),
            ("state", state.clone()),
            ("code_challenge", pkce.challenge.clone()),
            ("code_challenge_method", "S256".to_owned()),
        ];
        if let Some(hint) = login_hint {
            params.push(("login_hint", hint));
        }
        if let Some(p) = options.prompt {
            params.push(("prompt", p));
        }
        let answer = inner
            .post_form(meta.par_endpoint(), &issuer, &params, &dpop_key, 201)
            .await?;
        let request_uri = answer
            .get("request_uri")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| OAuthError::Server {
                url: meta.par_endpoint().to_owned(),
                status: 201,
                error: "invalid_response".into(),
                description: Some("no request_uri in the PAR answer".into()),
            })?;
        inner
            .states
            .save_state(
                &state,
                &AuthState {
                    issuer: issuer.clone(),
                    dpop_key,
                    verifier: pkce.verifier,
                    redirect_uri,
                    app_state: options.state,
                    expected_did,
                    created_at: now_secs(),
                },
            )
            .await?;
        let query = form_encode(&[
            ("client_id", &config.client_id),
            ("request_uri", request_uri),
        ]);
        let sep = if meta.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!("{}{sep}{query}", meta.authorization_endpoint))
    }

    /// Finishes a sign-in with the query of the redirect back to the app
    /// (`code`, `state`, `iss`, or `error`). Refuses unknown, reused and
    /// expired states, a missing or different `iss`, and error answers;
    /// exchanges the code, checks the tokens and that the issuer speaks for
    /// the account. Returns the session and the app state given to
    /// `authorize`.
    pub async fn callback(
        &self,
        query: &str,
    ) -> Result<(OAuthSession, Option<String>), OAuthError> {
        let inner = &self.inner;
        let query = query.split_once('?').map_or(query, |(_, q)| q);
        let params = parse_query(query).map_err(OAuthError::InvalidCallback)?;
        let get = |k: &str| -> Result<Option<&str>, OAuthError> {
            let mut it = params.iter().filter(|(n, _)| n == k);
            let first = it.next().map(|(_, v)| v.as_str());
            if it.next().is_some() {
                return Err(OAuthError::InvalidCallback(format!("{k} is repeated")));
            }
            Ok(first)
        };
        let state_key = get("state")?
            .ok_or_else(|| OAuthError::InvalidCallback("no state parameter".into()))?;
        // Ours are 32 characters; anything much longer is not one of ours.
        if state_key.len() > 128 {
            return Err(OAuthError::UnknownState);
        }
        let state = inner
            .states
            .take_state(state_key)
            .await?
            .ok_or(OAuthError::UnknownState)?;
        let age = now_secs().saturating_sub(state.created_at);
        if age > inner.state_ttl.as_secs() {
            return Err(OAuthError::StateExpired { age_secs: age });
        }
        match get("iss")? {
            None => return Err(OAuthError::MissingIssuer),
            Some(iss) if iss != state.issuer => {
                return Err(OAuthError::IssuerMismatch {
                    expected: state.issuer,
                    actual: iss.to_owned(),
                })
            }
            Some(_) => {}
        }
        if let Some(error) = get("error")? {
            return Err(OAuthError::AuthorizationDenied {
                error: error.to_owned(),
                description: get("error_description")?.map(str::to_owned),
            });
        }
        let code = get("code")?
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OAuthError::InvalidCallback("no code parameter".into()))?;
        let meta = inner.server_metadata(&state.issuer, None).await?;
        let answer = inner
            .post_form_raw(
                &meta.token_endpoint,
                &state.issuer,
                &[
                    ("grant_type", "authorization_code".to_owned()),
                    ("code", code.to_owned()),
                    ("code_verifier", state.verifier.expose().to_owned()),
                    ("redirect_uri", state.redirect_uri.clone()),
                ],
                &state.dpop_key,
                200,
            )
            .await?;
        let tokens = check_token_response(&answer)?;
        let data = OAuthSessionData {
            did: tokens.sub.clone(),
            issuer: state.issuer.clone(),
            pds: String::new(),
            scope: tokens.scope,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_at: tokens.expires_at,
            issued_at: Some(now_secs()),
            dpop_key: state.dpop_key,
            token_endpoint: meta.token_endpoint.clone(),
            revocation_endpoint: meta.revocation_endpoint.clone(),
        };
        let verified = async {
            if let Some(expected) = &state.expected_did {
                if *expected != tokens.sub {
                    return Err(OAuthError::SubjectMismatch {
                        expected: expected.clone(),
                        actual: tokens.sub.clone(),
                    });
                }
            }
            inner.verify_issuer(&tokens.sub, &state.issuer).await
        }
        .await;
        let pds = match verified {
            Ok(pds) => pds,
            Err(e) => {
                // Tokens from a server that may not speak for the account
                // are revoked, not kept.
                let _ = inner.revoke(&data).await;
                return Err(e);
            }
        };
        let data = OAuthSessionData { pds, ..data };
        inner.sessions.save_session(&data).await?;
        inner
            .emit(SessionEvent::Create, &data.did, Some(&data))
            .await;
        let session = OAuthSession::new(self.inner.clone(), data)?;
        Ok((session, state.app_state))
    }

    /// The stored session of `did`, refreshed first when its access token
    /// has expired or is about to.
    pub async fn restore(&self, did: &Did) -> Result<OAuthSession, OAuthError> {
        let data = self
            .inner
            .sessions
            .load_session(did)
            .await?
            .ok_or_else(|| OAuthError::NoSession(did.clone()))?;
        let session = OAuthSession::new(self.inner.clone(), data)?;
        session.refresh_if_needed().await?;
        Ok(session)
    }
}

impl ClientInner {
    pub(crate) fn check(&self, url: &str) -> Result<atmo_xrpc::ServiceUrl, OAuthError> {
        check_url(url, self.allow_insecure_http).map_err(|e| OAuthError::Url(e.to_string()))
    }

    async fn get_metadata(&self, url: &str) -> Result<Vec<u8>, OAuthError> {
        self.check(url)?;
        let response = self
            .http
            .send(HttpRequest {
                method: HttpMethod::Get,
                url: url.to_owned(),
                headers: vec![("accept".into(), "application/json".into())],
                body: None,
                timeout: self.timeout,
                max_response_size: MAX_METADATA_SIZE,
            })
            .await
            .map_err(|e| match e.kind {
                atmo_xrpc::HttpErrorKind::TooLarge => OAuthError::Metadata {
                    url: url.to_owned(),
                    reason: format!("larger than {MAX_METADATA_SIZE} bytes"),
                },
                _ => OAuthError::Http {
                    url: url.to_owned(),
                    message: e.to_string(),
                },
            })?;
        if response.status != 200 {
            return Err(OAuthError::MetadataStatus {
                url: url.to_owned(),
                status: response.status,
            });
        }
        Ok(response.body)
    }

    /// The issuer a PDS names in its protected-resource metadata.
    pub(crate) async fn resource_issuer(&self, pds: &str) -> Result<String, OAuthError> {
        let url = format!(
            "{}/.well-known/oauth-protected-resource",
            pds.trim_end_matches('/')
        );
        let body = self.get_metadata(&url).await?;
        let (_, issuer) = ProtectedResourceMetadata::parse(&body, pds)?;
        Ok(issuer)
    }

    /// The checked authorization server metadata of `issuer`.
    pub(crate) async fn server_metadata(
        &self,
        issuer: &str,
        pds: Option<&str>,
    ) -> Result<AuthorizationServerMetadata, OAuthError> {
        let url = format!(
            "{}/.well-known/oauth-authorization-server",
            issuer.trim_end_matches('/')
        );
        let body = self.get_metadata(&url).await?;
        AuthorizationServerMetadata::parse(&body, issuer, pds)
    }

    /// Resolves `sub` afresh and checks that its PDS names `issuer`; returns
    /// the PDS.
    pub(crate) async fn verify_issuer(
        &self,
        sub: &Did,
        issuer: &str,
    ) -> Result<String, OAuthError> {
        let id = self.resolver.resolve(sub.as_str(), true).await?;
        if id.did != *sub {
            return Err(OAuthError::Resolve {
                identifier: sub.to_string(),
                message: format!("resolved to {}", id.did),
            });
        }
        self.check(&id.pds)?;
        let resolved = self.resource_issuer(&id.pds).await?;
        if resolved != issuer {
            return Err(OAuthError::IssuerNotAuthoritative {
                sub: sub.clone(),
                issuer: issuer.to_owned(),
                resolved,
            });
        }
        Ok(id.pds)
    }

    /// Client authentication parameters for a request to `issuer`.
    fn client_auth(&self, issuer: &str) -> Result<Vec<(&'static str, String)>, OAuthError> {
        let mut out = vec![("client_id", self.config.client_id.clone())];
        if self.config.kind() == ClientKind::Confidential {
            let key = self
                .config
                .signing_key()
                .ok_or_else(|| OAuthError::Config("no client signing key".into()))?;
            let now = now_secs();
            let header = json!({"alg": "ES256", "typ": "JWT", "kid": key.kid()});
            let claims = json!({
                "iss": self.config.client_id,
                "sub": self.config.client_id,
                "aud": issuer,
                "jti": random_token::<16>()?,
                "iat": now,
                "exp": now.saturating_add(CLIENT_ASSERTION_LIFETIME_SECS),
            });
            out.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ));
            out.push(("client_assertion", key.sign_jwt(&header, &claims)));
        }
        Ok(out)
    }

    /// POSTs a form to an endpoint of `issuer` with a DPoP proof, retrying
    /// once with the server's nonce on `use_dpop_nonce`; parses the JSON
    /// answer.
    async fn post_form(
        &self,
        url: &str,
        issuer: &str,
        params: &[(&str, String)],
        key: &Es256Key,
        expect: u16,
    ) -> Result<Value, OAuthError> {
        let body = self.post_form_raw(url, issuer, params, key, expect).await?;
        serde_json::from_slice(&body).map_err(|_| OAuthError::Server {
            url: url.to_owned(),
            status: expect,
            error: "invalid_response".into(),
            description: Some("the answer is not JSON".into()),
        })
    }

    /// [`ClientInner::post_form`] returning the raw 2xx body.
    pub(crate) async fn post_form_raw(
        &self,
        url: &str,
        issuer: &str,
        params: &[(&str, String)],
        key: &Es256Key,
        expect: u16,
    ) -> Result<Vec<u8>, OAuthError> {
        self.check(url)?;
        let mut retried = false;
        loop {
            let mut all: Vec<(&str, String)> = self.client_auth(issuer)?;
            all.extend(params.iter().cloned());
            let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let nonce = self.nonces.get(url);
            let proof = key.dpop_proof("POST", url, nonce.as_deref(), None)?;
            let response = self
                .http
                .send(HttpRequest {
                    method: HttpMethod::Post,
                    url: url.to_owned(),
                    headers: vec![
                        (
                            "content-type".into(),
                            "application/x-www-form-urlencoded".into(),
                        ),
                        ("accept".into(), "application/json".into()),
                        ("dpop".into(), proof),
                    ],
                    body: Some(form_encode(&pairs).into_bytes()),
                    timeout: self.timeout,
                    max_response_size: MAX_TOKEN_RESPONSE,
                })
                .await
                .map_err(|e| OAuthError::Http {
                    url: url.to_owned(),
                    message: e.to_string(),
                })?;
            let fresh_nonce = self.nonces.update(url, &response.headers)
                && dpop_nonce(&response.headers) != nonce.as_deref();
            if response.status == expect {
                return Ok(response.body);
            }
            if (200..300).contains(&response.status) {
                return Err(OAuthError::UnexpectedStatus {
                    url: url.to_owned(),
                    expected: expect,
                    status: response.status,
                });
            }
            let err: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            // RFC 6749 error codes are short printable ASCII; anything else
            // (or an endless one) is not repeated into errors and logs.
            let error = err
                .get("error")
                .and_then(Value::as_str)
                .filter(|e| {
                    !e.is_empty()
                        && e.len() <= MAX_ERROR_CODE_LEN
                        && e.bytes().all(|b| (b' '..=b'~').contains(&b))
                })
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {}", response.status));
            let description = err
                .get("error_description")
                .and_then(Value::as_str)
                .map(|d| d.chars().take(500).collect());
            // RFC 9449 section 8 has the authorization server name the
            // challenge in the JSON error; some answer as a resource server
            // does (section 9), in `WWW-Authenticate`.
            if error == "use_dpop_nonce"
                || dpop_error(&response.headers).as_deref() == Some("use_dpop_nonce")
            {
                if !retried && fresh_nonce {
                    retried = true;
                    continue;
                }
                return Err(OAuthError::MissingDpopNonce {
                    url: url.to_owned(),
                });
            }
            return Err(OAuthError::Server {
                url: url.to_owned(),
                status: response.status,
                error,
                description,
            });
        }
    }

    /// Revokes the session's tokens at its issuer.
    pub(crate) async fn revoke(&self, data: &OAuthSessionData) -> Result<(), OAuthError> {
        let Some(endpoint) = &data.revocation_endpoint else {
            return Ok(());
        };
        let token = data.refresh_token.as_ref().unwrap_or(&data.access_token);
        self.post_form_raw(
            endpoint,
            &data.issuer,
            &[("token", token.expose().to_owned())],
            &data.dpop_key,
            200,
        )
        .await
        .map(|_| ())
    }

    /// Delivers a session event to the hook and waits for it.
    pub(crate) async fn emit(
        &self,
        event: SessionEvent,
        did: &Did,
        data: Option<&OAuthSessionData>,
    ) {
        if let Some(hook) = &self.hook {
            hook.deliver(self.hook_scope, event, Some(did), data).await;
        }
    }

    /// The in-process refresh lock of `did`: hold the handle, then `lock()`
    /// it. The map keeps an entry only while someone holds a handle (holds
    /// or waits for the lock), so it does not grow with every account ever
    /// refreshed.
    pub(crate) fn refresh_lock(&self, did: &Did) -> RefreshLock<'_> {
        let lock = self
            .refresh_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(did.as_str().to_owned())
            .or_default()
            .clone();
        RefreshLock {
            locks: &self.refresh_locks,
            lock,
        }
    }

    /// How many accounts have a refresh lock entry now.
    #[cfg(test)]
    pub(crate) fn refresh_locks_len(&self) -> usize {
        self.refresh_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// A refresh-token grant for `data`: the new tokens, checked to be for
    /// the same account.
    pub(crate) async fn refresh_grant(
        &self,
        data: &OAuthSessionData,
    ) -> Result<OAuthSessionData, OAuthError> {
        let Some(refresh) = &data.refresh_token else {
            return Err(OAuthError::Server {
                url: data.token_endpoint.clone(),
                status: 400,
                error: "invalid_grant".into(),
                description: Some("the session has no refresh token".into()),
            });
        };
        let body = self
            .post_form_raw(
                &data.token_endpoint,
                &data.issuer,
                &[
                    ("grant_type", "refresh_token".to_owned()),
                    ("refresh_token", refresh.expose().to_owned()),
                ],
                &data.dpop_key,
                200,
            )
            .await?;
        let t = check_token_response(&body)?;
        if t.sub != data.did {
            // Tokens for another account are not kept, nor left valid.
            let stray = OAuthSessionData {
                access_token: t.access_token,
                refresh_token: t.refresh_token,
                ..data.clone()
            };
            let _ = self.revoke(&stray).await;
            return Err(OAuthError::SubjectMismatch {
                expected: data.did.clone(),
                actual: t.sub,
            });
        }
        Ok(OAuthSessionData {
            scope: t.scope,
            access_token: t.access_token,
            refresh_token: t.refresh_token.or_else(|| data.refresh_token.clone()),
            expires_at: t.expires_at,
            issued_at: Some(now_secs()),
            ..data.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atmo_xrpc::{BoxFuture, Secret};

    #[test]
    fn token_response_checks() {
        let ok = json!({"access_token":"at","token_type":"DPoP","sub":"did:plc:abc","scope":"atproto transition:generic","refresh_token":"rt","expires_in":3600});
        let t = check_token_response(ok.to_string().as_bytes()).unwrap();
        assert_eq!(t.sub.as_str(), "did:plc:abc");
        assert!(t.expires_at.unwrap() > now_secs());
        for (field, value, needle) in [
            ("token_type", json!("Bearer"), "DPoP"),
            ("sub", json!("alice.test"), "DID"),
            ("sub", Value::Null, "sub"),
            ("scope", json!("transition:generic"), "atproto"),
            ("access_token", json!(""), "access_token"),
            ("refresh_token", json!(5), "refresh_token"),
            ("expires_in", json!("3600"), "expires_in"),
            ("expires_in", json!(true), "expires_in"),
        ] {
            let mut doc = ok.clone();
            doc[field] = value;
            let e = check_token_response(doc.to_string().as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{field}: {e}");
            assert!(!e.contains("\"rt\""), "no token in errors");
        }
        assert!(check_token_response(b"<html>").is_err());
    }

    /// Answers a client's requests without a network: protected-resource
    /// documents naming `https://as.example`, and token answers for the
    /// account named in the refresh token (`rt-<did>`).
    struct Canned;

    impl HttpClient for Canned {
        fn send(
            &self,
            r: HttpRequest,
        ) -> BoxFuture<'_, Result<atmo_xrpc::HttpResponse, atmo_xrpc::HttpError>> {
            Box::pin(async move {
                let body = if r.url.ends_with("/.well-known/oauth-protected-resource") {
                    json!({"resource": "https://pds.example", "authorization_servers": ["https://as.example"]})
                } else {
                    let form = String::from_utf8(r.body.unwrap_or_default()).unwrap();
                    let pairs = parse_query(&form).unwrap();
                    let rt = &pairs.iter().find(|(k, _)| k == "refresh_token").unwrap().1;
                    json!({"access_token": "at-2", "token_type": "DPoP", "sub": rt.strip_prefix("rt-").unwrap(),
                           "scope": "atproto", "refresh_token": rt, "expires_in": 3600})
                };
                Ok(atmo_xrpc::HttpResponse {
                    status: 200,
                    headers: Vec::new(),
                    body: body.to_string().into_bytes(),
                })
            })
        }
    }

    /// Every DID is its own, on `https://pds.example`.
    struct SamePds;

    impl IdentityResolver for SamePds {
        fn resolve<'a>(
            &'a self,
            id: &'a str,
            _fresh: bool,
        ) -> BoxFuture<'a, Result<crate::resolve::ResolvedIdentity, OAuthError>> {
            Box::pin(async move {
                Ok(crate::resolve::ResolvedIdentity {
                    did: Did::new(id).unwrap(),
                    pds: "https://pds.example".into(),
                })
            })
        }
    }

    fn offline_client() -> OAuthClient {
        OAuthClient::builder(ClientConfig::loopback(
            vec!["http://127.0.0.1/cb".into()],
            Scopes::atproto(),
        ))
        .http_client(Arc::new(Canned))
        .identity_resolver(Arc::new(SamePds))
        .build()
        .unwrap()
    }

    /// Refreshing sessions of many accounts, at once and one after the
    /// other, leaves no refresh lock entry behind.
    #[tokio::test(flavor = "multi_thread")]
    async fn refresh_locks_do_not_outlive_their_refreshes() {
        let client = offline_client();
        let mut sessions = Vec::new();
        for n in 0..40 {
            let did = Did::new(format!("did:plc:account{n}")).unwrap();
            let data = OAuthSessionData {
                did: did.clone(),
                issuer: "https://as.example".into(),
                pds: "https://pds.example".into(),
                scope: "atproto".into(),
                access_token: Secret::new("at-1"),
                refresh_token: Some(Secret::new(format!("rt-{did}"))),
                expires_at: None,
                issued_at: None,
                dpop_key: Es256Key::generate().unwrap(),
                token_endpoint: "https://as.example/oauth/token".into(),
                revocation_endpoint: None,
            };
            client.inner.sessions.save_session(&data).await.unwrap();
            sessions.push(OAuthSession::new(client.inner.clone(), data).unwrap());
        }
        let tasks: Vec<_> = sessions
            .iter()
            .cloned()
            .map(|s| tokio::spawn(async move { s.refresh().await.map(|_| ()) }))
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(client.inner.refresh_locks_len(), 0);
        for s in &sessions[..5] {
            s.refresh().await.unwrap();
            assert_eq!(client.inner.refresh_locks_len(), 0);
        }
        assert_eq!(
            sessions[0].data().unwrap().access_token.expose(),
            "at-2",
            "the refreshes did happen"
        );
    }

    /// An entry stays while someone holds or waits for the lock, and goes
    /// with the last of them, also when a waiter gave up.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_refresh_lock_entry_lives_while_held_or_awaited() {
        let client = offline_client();
        let inner = client.inner.clone();
        let did = Did::new("did:plc:alice").unwrap();
        let held = inner.refresh_lock(&did);
        let guard = held.lock().await;
        let (inner2, did2) = (inner.clone(), did.clone());
        let (queued_tx, queued_rx) = tokio::sync::oneshot::channel();
        let waiter = tokio::spawn(async move {
            let handle = inner2.refresh_lock(&did2);
            let _ = queued_tx.send(());
            let _g = handle.lock().await;
        });
        queued_rx.await.unwrap();
        let (inner3, did3) = (inner.clone(), did.clone());
        let quitter = tokio::spawn(async move {
            let handle = inner3.refresh_lock(&did3);
            let _g = handle.lock().await;
        });
        quitter.abort();
        let _ = quitter.await;
        assert_eq!(inner.refresh_locks_len(), 1, "held and awaited");
        drop(guard);
        drop(held);
        waiter.await.unwrap();
        assert_eq!(inner.refresh_locks_len(), 0);
    }

    /// `expires_in` from the network never overflows the clock arithmetic:
    /// huge values are capped, negative ones mean "expired", fractions are
    /// rounded down.
    #[test]
    fn expires_in_is_checked() {
        let now = now_secs();
        let expiry = |raw: &str| {
            let doc = format!(
                r#"{{"access_token":"at","token_type":"DPoP","sub":"did:plc:abc","scope":"atproto","expires_in":{raw}}}"#
            );
            check_token_response(doc.as_bytes()).map(|t| t.expires_at)
        };
        for huge in [
            "18446744073709551615",
            "99999999999999999999999999999999",
            "1e300",
            "1.7976931348623157e308",
        ] {
            let at = expiry(huge).unwrap().unwrap();
            assert!(at >= now + MAX_EXPIRES_IN_SECS, "{huge}");
            assert!(at <= now_secs() + MAX_EXPIRES_IN_SECS, "{huge}: capped");
        }
        for negative in ["-1", "-1e300", "-9223372036854775808", "-0.5"] {
            let at = expiry(negative).unwrap().unwrap();
            assert!(at >= now && at <= now_secs(), "{negative}: expired now");
        }
        let at = expiry("3600.9").unwrap().unwrap();
        assert!(at >= now + 3600 && at <= now_secs() + 3600);
        assert_eq!(expiry("null").unwrap(), None);
        assert!(expiry("\"soon\"").is_err());
        assert!(expiry("[1]").is_err());
    }
}
