//! Session managers: middleware between the agent and the transport that
//! authenticates requests and keeps the session alive.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atproto_types::xrpc::{DecodeError, Endpoint, Method, RawBody};
use atproto_types::Did;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::secret::Secret;
use crate::session::{pds_endpoint, SessionData, SessionEvent};
use crate::store::{BoxFuture, SessionStore};
use crate::transport::{Transport, XrpcRequest};
use crate::url::ServiceUrl;

/// Sends prepared requests on behalf of an [`crate::Agent`], adding
/// authentication and handling its expiry.
///
/// The agent builds [`XrpcRequest`]s and decodes bodies; everything about
/// credentials lives behind this trait, so another scheme (OAuth with DPoP,
/// service auth, a fixed app-password session) plugs in without touching the
/// agent. [`CredentialSession`] is the password-based implementation.
pub trait SessionManager: Send + Sync + 'static {
    /// Sends one request (authenticated when there is a session) and returns
    /// the body of a 2xx answer, or the classified error.
    fn send(&self, request: XrpcRequest) -> impl Future<Output = Result<RawBody, Error>> + Send;

    /// The DID of the signed-in account, if any.
    fn did(&self) -> Option<Did>;
}

/// The persist hook, type-erased.
pub(crate) type Hook =
    Arc<dyn Fn(SessionEvent, Option<SessionData>) -> BoxFuture<'static, ()> + Send + Sync>;

pub(crate) const CREATE_SESSION: &str = "com.atproto.server.createSession";
pub(crate) const CREATE_ACCOUNT: &str = "com.atproto.server.createAccount";
pub(crate) const REFRESH_SESSION: &str = "com.atproto.server.refreshSession";
pub(crate) const GET_SESSION: &str = "com.atproto.server.getSession";
pub(crate) const DELETE_SESSION: &str = "com.atproto.server.deleteSession";

/// Calls that manage the session itself: they go to the service URL the agent
/// was built with (e.g. an entryway), never to the discovered PDS.
const SERVICE_NSIDS: [&str; 5] = [
    CREATE_SESSION,
    CREATE_ACCOUNT,
    REFRESH_SESSION,
    GET_SESSION,
    DELETE_SESSION,
];

/// Default margin for proactive refresh: an access token whose JWT `exp` is
/// less than this far away is refreshed before use.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Settings of a [`CredentialSession`] (built by [`crate::AgentBuilder`]).
pub(crate) struct SessionConfig {
    pub transport: Transport,
    pub service: ServiceUrl,
    pub allow_insecure_http: bool,
    pub refresh_margin: Duration,
    pub store: Option<Arc<dyn SessionStore>>,
    pub hook: Option<Hook>,
}

#[derive(Default)]
struct State {
    session: Option<SessionData>,
    pds: Option<ServiceUrl>,
    /// Counts refresh attempts and session replacements. A request notes it
    /// before sending; when its token is rejected and the counter moved,
    /// someone else already tried a refresh for that token.
    generation: u64,
    /// A freshly refreshed token already looked expired: the local clock is
    /// off, so proactive refresh is disabled to avoid refreshing every call.
    clock_suspect: bool,
    /// `exp` of the current access token when it is a JWT, read once when
    /// the session is set rather than decoded again on every request.
    access_exp: Option<u64>,
    /// The failure of the last refresh, with the generation it ended at:
    /// requests that waited on that refresh get the same error.
    last_failure: Option<(u64, Error)>,
}

impl State {
    /// Makes `session` current, reading its access token's `exp` once.
    fn set_current(&mut self, session: Option<SessionData>) {
        self.access_exp = session
            .as_ref()
            .and_then(|s| crate::time::jwt_exp(s.access_jwt.expose()));
        self.session = session;
    }
}

/// The password-based session manager: TypeScript's `CredentialSession`.
///
/// Holds the [`SessionData`], adds `Authorization: Bearer <accessJwt>` to
/// requests, refreshes with the refresh token (single-flight), routes
/// session calls to the service and everything else to the discovered PDS,
/// and reports every change through the store and the persist hook. See the
/// crate documentation for the event table.
pub struct CredentialSession {
    transport: Transport,
    service: ServiceUrl,
    allow_insecure_http: bool,
    refresh_margin: Duration,
    store: Option<Arc<dyn SessionStore>>,
    hook: Option<Hook>,
    state: RwLock<State>,
    /// Held by every change of the session (login, refresh, resume, logout)
    /// for its whole duration, including event delivery, so changes and their
    /// events happen one at a time and in order. Requests take it briefly
    /// before reading the token, so a request issued during a refresh waits
    /// for the new token instead of sending the stale one.
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CredentialSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.read();
        f.debug_struct("CredentialSession")
            .field("service", &self.service)
            .field("pds", &st.pds)
            .field("session", &st.session)
            .finish_non_exhaustive()
    }
}

/// The session part of createSession / createAccount / refreshSession /
/// getSession answers. Decoded here rather than through the generated types
/// so that session handling does not depend on which lexicons are compiled in.
struct SessionAnswer {
    access_jwt: Option<Secret>,
    refresh_jwt: Option<Secret>,
    handle: String,
    did: Did,
    did_doc: Option<serde_json::Value>,
    email: Option<String>,
    email_confirmed: Option<bool>,
    email_auth_factor: Option<bool>,
    active: Option<bool>,
    status: Option<String>,
}

fn decode_answer(nsid: &'static str, body: &RawBody) -> Result<SessionAnswer, Error> {
    // serde quotes the offending string value, and in a session answer
    // that may be a token.
    let fail = |path: &str, message: String| {
        Error::Decode(DecodeError {
            nsid,
            path: path.to_owned(),
            message: crate::store::redact_quoted(&message),
        })
    };
    let value = serde_json::from_slice::<serde_json::Value>(&body.bytes)
        .map_err(|e| fail("", e.to_string()))?;
    let serde_json::Value::Object(mut obj) = value else {
        return Err(fail("", "expected a JSON object".into()));
    };
    let mut take = |key: &str| obj.remove(key).filter(|v| !v.is_null());
    fn typed<T: DeserializeOwned>(
        v: Option<serde_json::Value>,
        key: &str,
        fail: &dyn Fn(&str, String) -> Error,
    ) -> Result<Option<T>, Error> {
        v.map(|v| serde_json::from_value(v).map_err(|e| fail(key, e.to_string())))
            .transpose()
    }
    let fail = &fail;
    Ok(SessionAnswer {
        access_jwt: typed(take("accessJwt"), "accessJwt", fail)?,
        refresh_jwt: typed(take("refreshJwt"), "refreshJwt", fail)?,
        handle: typed(take("handle"), "handle", fail)?.ok_or_else(|| missing(nsid, "handle"))?,
        did: typed(take("did"), "did", fail)?.ok_or_else(|| missing(nsid, "did"))?,
        did_doc: take("didDoc"),
        email: typed(take("email"), "email", fail)?,
        email_confirmed: typed(take("emailConfirmed"), "emailConfirmed", fail)?,
        email_auth_factor: typed(take("emailAuthFactor"), "emailAuthFactor", fail)?,
        active: typed(take("active"), "active", fail)?,
        status: typed(take("status"), "status", fail)?,
    })
}

fn missing(nsid: &'static str, field: &str) -> Error {
    Error::Decode(DecodeError {
        nsid,
        path: field.to_owned(),
        message: "missing field".into(),
    })
}

/// The server says the token is expired: the reference PDS answers 400
/// `ExpiredToken`, and any 401 is treated the same (as TypeScript does). Not
/// when the endpoint itself declares `ExpiredToken` (an email token).
fn is_expiry(e: &Error, req: &XrpcRequest) -> bool {
    match e {
        Error::Xrpc {
            status: 400, error, ..
        } => error == "ExpiredToken" && !req.declares_expired_token,
        Error::Xrpc { status: 401, .. } | Error::UnexpectedResponse { status: 401, .. } => true,
        _ => false,
    }
}

/// The server rejected the token for good.
/// `AccountTakedown` counts too: the reference PDS answers a taken-down
/// account's refresh with 401 `AccountTakedown`, and that session is over.
fn is_rejected(e: &Error) -> bool {
    matches!(e, Error::Xrpc { error, .. }
        if error == "ExpiredToken" || error == "InvalidToken" || error == "AccountTakedown")
}

/// A failure that says nothing about the session's validity: worth retrying.
fn is_transient(e: &Error) -> bool {
    match e {
        Error::Transport(_)
        | Error::RateLimited(_)
        | Error::UnexpectedResponse { .. }
        | Error::ResponseTooLarge { .. }
        | Error::Decode(_) => true,
        Error::Xrpc { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Parses a service URL and refuses plain http to anything but loopback.
pub(crate) fn check_url(s: &str, allow_insecure_http: bool) -> Result<ServiceUrl, Error> {
    let url = ServiceUrl::parse(s).map_err(Error::InvalidUrl)?;
    if url.scheme() == "http" && !allow_insecure_http && !url.is_loopback() {
        return Err(Error::InsecureUrl(s.to_owned()));
    }
    Ok(url)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl CredentialSession {
    pub(crate) fn new(config: SessionConfig) -> Self {
        CredentialSession {
            transport: config.transport,
            service: config.service,
            allow_insecure_http: config.allow_insecure_http,
            refresh_margin: config.refresh_margin,
            store: config.store,
            hook: config.hook,
            state: RwLock::new(State::default()),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent
        // (every write is a plain assignment), so poisoning is ignored.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The current session (a copy), if signed in.
    pub fn session(&self) -> Option<SessionData> {
        self.read().session.clone()
    }

    /// True when signed in.
    pub fn has_session(&self) -> bool {
        self.read().session.is_some()
    }

    /// The service URL the agent was built with: login, refresh and other
    /// session calls go there.
    pub fn service_url(&self) -> &ServiceUrl {
        &self.service
    }

    /// The PDS discovered from the session's DID document, where all other
    /// requests go; `None` before login or when the document named none.
    pub fn pds_url(&self) -> Option<ServiceUrl> {
        self.read().pds.clone()
    }

    /// Where a request for `nsid` goes.
    fn base_for(&self, nsid: &str) -> ServiceUrl {
        if SERVICE_NSIDS.contains(&nsid) {
            return self.service.clone();
        }
        self.read()
            .pds
            .clone()
            .unwrap_or_else(|| self.service.clone())
    }

    fn pds_from(&self, did_doc: Option<&serde_json::Value>, did: &Did) -> Option<ServiceUrl> {
        let endpoint = pds_endpoint(did_doc?, did.as_str())?;
        // A DID document pointing at plain http is not followed unless the
        // agent allows insecure http: requests stay on the service.
        check_url(&endpoint, self.allow_insecure_http).ok()
    }

    /// Saves or clears the store as the event says, then runs the hook. Both
    /// are awaited; callers hold `self.lock`, which orders events.
    async fn emit(
        &self,
        event: SessionEvent,
        session: Option<&SessionData>,
    ) -> Result<(), crate::store::StoreError> {
        let stored = match (&self.store, event, session) {
            (Some(store), SessionEvent::Create | SessionEvent::Update, Some(s)) => {
                store.save(s).await
            }
            (Some(store), SessionEvent::Expired, _) => store.clear().await,
            _ => Ok(()),
        };
        if let Some(hook) = &self.hook {
            hook(event, session.cloned()).await;
        }
        stored
    }

    fn set_session(&self, session: Option<SessionData>, pds: Option<ServiceUrl>) {
        let mut st = self.write();
        st.set_current(session);
        st.pds = pds;
        st.generation += 1;
    }

    /// Whether the current access token's `exp` is passed or within the margin.
    fn needs_refresh(&self, st: &State) -> bool {
        !st.clock_suspect
            && st
                .access_exp
                .is_some_and(|exp| exp <= now_secs().saturating_add(self.refresh_margin.as_secs()))
    }

    /// Starts a session with `createSession` or `createAccount` (any endpoint
    /// whose answer carries the tokens), to the service URL. Fires `Create`
    /// or `CreateFailed`. A failed attempt leaves an existing session as it was.
    pub async fn start_session<E: Endpoint>(
        &self,
        input: &E::Input,
    ) -> Result<SessionData, Error<E::Error>> {
        let _guard = self.lock.lock().await;
        let result = self.start_session_locked::<E>(input).await;
        match result {
            Ok(session) => Ok(session),
            Err(e) => {
                self.emit(SessionEvent::CreateFailed, None).await?;
                Err(e.typed(E::NSID))
            }
        }
    }

    async fn start_session_locked<E: Endpoint>(
        &self,
        input: &E::Input,
    ) -> Result<SessionData, Error> {
        let mut req = XrpcRequest::new(E::NSID, Method::Procedure);
        req.body = E::encode_input(input)?;
        req.accept = E::OUTPUT_ENCODING.map(str::to_owned);
        let body = self.transport.send(&self.service, &req, None).await?;
        let mut a = decode_answer(E::NSID, &body)?;
        if E::NSID == "com.atproto.server.createAccount" {
            // createAccount answers without the account state; like
            // TypeScript, take the email from the request and start
            // unconfirmed, without email 2FA.
            if a.email.is_none() {
                a.email = req
                    .body
                    .as_ref()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b.bytes).ok())
                    .and_then(|v| v.get("email")?.as_str().map(str::to_owned));
            }
            a.email_confirmed = a.email_confirmed.or(Some(false));
            a.email_auth_factor = a.email_auth_factor.or(Some(false));
        }
        let pds = self.pds_from(a.did_doc.as_ref(), &a.did);
        let session = SessionData {
            access_jwt: a.access_jwt.ok_or_else(|| missing(E::NSID, "accessJwt"))?,
            refresh_jwt: a
                .refresh_jwt
                .ok_or_else(|| missing(E::NSID, "refreshJwt"))?,
            handle: a.handle,
            did: a.did,
            email: a.email,
            email_confirmed: a.email_confirmed,
            email_auth_factor: a.email_auth_factor,
            active: a.active.unwrap_or(true),
            status: a.status,
        };
        self.set_session(Some(session.clone()), pds);
        self.write().clock_suspect = false;
        self.emit(SessionEvent::Create, Some(&session)).await?;
        Ok(session)
    }

    /// Refreshes the session now (normally not needed: requests refresh on
    /// demand). Fires `Update`, or `Expired` / `NetworkError` on failure.
    pub async fn refresh(&self) -> Result<SessionData, Error> {
        let _guard = self.lock.lock().await;
        self.refresh_locked().await.map(|(s, _)| s)
    }

    /// A session another process saved after refreshing ours: same account,
    /// another refresh token. Adopted instead of burning a refresh.
    async fn adopt_from_store(&self, current: &SessionData) -> Option<SessionData> {
        let saved = self.store.as_ref()?.load().await.ok()??;
        if saved.did != current.did || saved.refresh_jwt == current.refresh_jwt {
            return None;
        }
        self.write().set_current(Some(saved.clone()));
        if let Some(hook) = &self.hook {
            hook(SessionEvent::Update, Some(saved.clone())).await;
        }
        Some(saved)
    }

    /// The refresh itself. Caller holds `self.lock`. Returns the new session
    /// and the raw answer.
    async fn refresh_locked(&self) -> Result<(SessionData, RawBody), Error> {
        let result = self.refresh_attempt().await;
        // Counted when the attempt is over, so that requests that noted the
        // generation while it ran see that it happened and share its outcome.
        let mut st = self.write();
        st.generation += 1;
        st.last_failure = result.as_ref().err().map(|e| (st.generation, e.clone()));
        drop(st);
        result
    }

    async fn refresh_attempt(&self) -> Result<(SessionData, RawBody), Error> {
        let current = self.session().ok_or(Error::NoSession)?;
        let _store_lock = match &self.store {
            Some(store) => Some(store.lock().await?),
            None => None,
        };
        if let Some(adopted) = self.adopt_from_store(&current).await {
            return Ok((adopted, RawBody::new("", Vec::new())));
        }
        let req = XrpcRequest::new(REFRESH_SESSION, Method::Procedure);
        let result = async {
            let body = self
                .transport
                .send(&self.service, &req, Some(&current.refresh_jwt))
                .await?;
            let answer = decode_answer(REFRESH_SESSION, &body)?;
            Ok::<_, Error>((answer, body))
        }
        .await;
        match result {
            Ok((a, body)) => {
                if a.did != current.did {
                    return Err(Error::DidMismatch {
                        expected: current.did,
                        actual: a.did,
                    });
                }
                let pds = self.pds_from(a.did_doc.as_ref(), &a.did);
                let session = SessionData {
                    access_jwt: a
                        .access_jwt
                        .ok_or_else(|| missing(REFRESH_SESSION, "accessJwt"))?,
                    refresh_jwt: a
                        .refresh_jwt
                        .ok_or_else(|| missing(REFRESH_SESSION, "refreshJwt"))?,
                    handle: a.handle,
                    did: a.did,
                    email: a.email.or(current.email),
                    email_confirmed: a.email_confirmed.or(current.email_confirmed),
                    email_auth_factor: a.email_auth_factor.or(current.email_auth_factor),
                    active: a.active.unwrap_or(current.active),
                    status: if a.active.is_some() {
                        a.status
                    } else {
                        a.status.or(current.status)
                    },
                };
                {
                    let mut st = self.write();
                    st.set_current(Some(session.clone()));
                    // A token fresh from the server that already looks expired
                    // means the local clock is off: judge it afresh.
                    st.clock_suspect = false;
                    st.clock_suspect = self.needs_refresh(&st);
                    st.pds = pds;
                }
                self.emit(SessionEvent::Update, Some(&session)).await?;
                Ok((session, body))
            }
            Err(e) if is_rejected(&e) => {
                // "Token has been revoked" may mean another process sharing
                // the store refreshed first: look before giving up.
                if let Some(adopted) = self.adopt_from_store(&current).await {
                    return Ok((adopted, RawBody::new("", Vec::new())));
                }
                self.set_session(None, None);
                // The session has ended whatever the store says; a failure to
                // clear it must not hide that.
                let _ = self.emit(SessionEvent::Expired, None).await;
                let (error, message) = match e {
                    Error::Xrpc { error, message, .. } => (error, message),
                    _ => (String::new(), None),
                };
                Err(Error::SessionExpired { error, message })
            }
            Err(e) => {
                if is_transient(&e) {
                    let _ = self.emit(SessionEvent::NetworkError, Some(&current)).await;
                }
                Err(e)
            }
        }
    }

    /// The token to send, waiting for a refresh in progress and refreshing
    /// first when the JWT says the token is (nearly) expired.
    ///
    /// The generation returned is the one seen *before* waiting: when a
    /// refresh runs meanwhile and fails, this request then shares that failure
    /// instead of starting one more refresh of its own.
    async fn token_for_request(&self) -> Result<(Option<Secret>, u64), Error> {
        let generation = self.read().generation;
        let _guard = self.lock.lock().await;
        let (token, stale) = {
            let st = self.read();
            if st.session.is_none() {
                // The session ended in a refresh this request waited for:
                // it gets that error rather than going out unauthenticated.
                if let Some((g, e)) = &st.last_failure {
                    if *g == st.generation && *g != generation {
                        return Err(e.clone());
                    }
                }
            }
            let token = st.session.as_ref().map(|s| s.access_jwt.clone());
            let stale = token.is_some() && self.needs_refresh(&st);
            (token, stale)
        };
        if stale {
            let (session, _) = self.refresh_locked().await?;
            return Ok((Some(session.access_jwt), self.read().generation));
        }
        Ok((token, generation))
    }

    /// After `sent` was rejected as expired: the token to retry with, or
    /// `None` to give up with the original answer. Only one refresh runs per
    /// expired token however many requests hit it.
    async fn refresh_after_failure(
        &self,
        sent: &Secret,
        generation: u64,
    ) -> Result<Option<Secret>, Error> {
        let _guard = self.lock.lock().await;
        let (current, current_gen, shared) = {
            let st = self.read();
            let shared = match &st.last_failure {
                Some((g, e)) if *g == st.generation && *g != generation => Some(e.clone()),
                _ => None,
            };
            (
                st.session.as_ref().map(|s| s.access_jwt.clone()),
                st.generation,
                shared,
            )
        };
        match (current, shared) {
            (Some(t), _) if t != *sent => Ok(Some(t)),
            // A refresh was tried since this request was sent, and failed
            // (transiently, or the session ended): this request shares that
            // failure rather than sending one more refresh per waiter.
            (_, Some(e)) => Err(e),
            (None, None) => Ok(None),
            (Some(_), None) if current_gen != generation => Ok(None),
            (Some(_), None) => self.refresh_locked().await.map(|(s, _)| Some(s.access_jwt)),
        }
    }

    /// Validates a saved session with the server and makes it current:
    /// `getSession` (refreshing first when the access token is expired, or
    /// once when the server says so), checks the DID, updates handle, email,
    /// active and status, discovers the PDS, fires `Update`.
    ///
    /// A different DID is [`Error::DidMismatch`] and the saved session is not
    /// used. A rejected token fires `Expired`; a transient failure fires
    /// `NetworkError` and keeps the session so a later call can retry.
    pub async fn resume(&self, saved: SessionData) -> Result<SessionData, Error> {
        let _guard = self.lock.lock().await;
        self.set_session(Some(saved.clone()), None);
        self.write().clock_suspect = false;
        let mut refreshed = false;
        loop {
            let current = self.session().ok_or(Error::NoSession)?;
            if !refreshed && self.needs_refresh(&self.read()) {
                self.refresh_locked().await?;
                refreshed = true;
                continue;
            }
            let req = XrpcRequest::new(GET_SESSION, Method::Query);
            let result = async {
                let body = self
                    .transport
                    .send(&self.service, &req, Some(&current.access_jwt))
                    .await?;
                decode_answer(GET_SESSION, &body)
            }
            .await;
            match result {
                Ok(a) => {
                    if a.did != saved.did {
                        self.set_session(None, None);
                        return Err(Error::DidMismatch {
                            expected: saved.did,
                            actual: a.did,
                        });
                    }
                    let pds = self.pds_from(a.did_doc.as_ref(), &a.did);
                    let session = SessionData {
                        handle: a.handle,
                        email: a.email,
                        email_confirmed: a.email_confirmed,
                        email_auth_factor: a.email_auth_factor,
                        active: a.active.unwrap_or(true),
                        status: a.status,
                        ..current
                    };
                    self.set_session(Some(session.clone()), pds);
                    self.emit(SessionEvent::Update, Some(&session)).await?;
                    return Ok(session);
                }
                Err(e) if !refreshed && is_expiry(&e, &req) => {
                    self.refresh_locked().await?;
                    refreshed = true;
                }
                Err(e) if is_rejected(&e) || is_expiry(&e, &req) => {
                    self.set_session(None, None);
                    let _ = self.emit(SessionEvent::Expired, None).await;
                    let (error, message) = match e {
                        Error::Xrpc { error, message, .. } => (error, message),
                        _ => ("AuthenticationRequired".to_owned(), None),
                    };
                    return Err(Error::SessionExpired { error, message });
                }
                Err(e) => {
                    if is_transient(&e) {
                        let _ = self.emit(SessionEvent::NetworkError, Some(&current)).await;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Loads the store's session and resumes it. `Ok(None)` when the store
    /// is empty or there is no store; a corrupt store is an error (and the
    /// file is left alone).
    pub async fn resume_from_store(&self) -> Result<Option<SessionData>, Error> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        match store.load().await? {
            Some(saved) => self.resume(saved).await.map(Some),
            None => Ok(None),
        }
    }

    /// Revokes the refresh token (`deleteSession`) and ends the session.
    /// The local session is cleared and `Expired` fired even when the server
    /// call fails; that failure is still returned. Without a session, does
    /// nothing.
    pub async fn logout(&self) -> Result<(), Error> {
        let _guard = self.lock.lock().await;
        self.logout_locked().await.map(|_| ())
    }

    async fn logout_locked(&self) -> Result<RawBody, Error> {
        let Some(current) = self.session() else {
            return Ok(RawBody::new("", Vec::new()));
        };
        let req = XrpcRequest::new(DELETE_SESSION, Method::Procedure);
        let result = self
            .transport
            .send(&self.service, &req, Some(&current.refresh_jwt))
            .await;
        self.set_session(None, None);
        let stored = self.emit(SessionEvent::Expired, None).await;
        let body = result?;
        stored?;
        Ok(body)
    }
}

impl SessionManager for CredentialSession {
    fn did(&self) -> Option<Did> {
        self.read().session.as_ref().map(|s| s.did.clone())
    }

    async fn send(&self, req: XrpcRequest) -> Result<RawBody, Error> {
        match req.nsid.as_str() {
            // These authenticate with the password (or nothing) and do not
            // change this session when called directly.
            CREATE_SESSION | CREATE_ACCOUNT => {
                return self.transport.send(&self.service, &req, None).await;
            }
            // Rotating or revoking the refresh token behind the manager's
            // back would break the session: route them through it.
            REFRESH_SESSION if req.header("authorization").is_none() => {
                let _guard = self.lock.lock().await;
                return self.refresh_locked().await.map(|(_, body)| body);
            }
            DELETE_SESSION if req.header("authorization").is_none() => {
                let _guard = self.lock.lock().await;
                return self.logout_locked().await;
            }
            _ => {}
        }
        if req.header("authorization").is_some() {
            // The caller authenticates: leave it alone, no refresh.
            let base = self.base_for(&req.nsid);
            return self.transport.send(&base, &req, None).await;
        }
        let (token, generation) = self.token_for_request().await?;
        let base = self.base_for(&req.nsid);
        let first = self.transport.send(&base, &req, token.as_ref()).await;
        let Some(sent) = token else {
            return first;
        };
        match first {
            Err(e) if is_expiry(&e, &req) => {
                match self.refresh_after_failure(&sent, generation).await? {
                    Some(new) if new != sent => {
                        // The body is buffered: the retry sends the same bytes.
                        let base = self.base_for(&req.nsid);
                        self.transport.send(&base, &req, Some(&new)).await
                    }
                    _ => Err(e),
                }
            }
            other => other,
        }
    }
}
