//! The password session: TypeScript's `CredentialSession`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atmo_api::com::atproto::server::{create_account, create_session};
use atmo_types::xrpc::{Endpoint, Method, RawBody};
use atmo_types::{Did, Extra, Unknown};
use atmo_xrpc::{
    check_url, Authorizer, Bearer, HttpClient, NoAuth, Secret, ServiceUrl, Transport,
    TransportConfig, XrpcRequest, XrpcResponse,
};

use super::answer::{Base, SessionAnswer};
use super::data::{pds_endpoint, PdsPolicy};
use super::login::{Login, NewAccount};
use super::{HookScope, SessionData, SessionError, SessionEvent, SessionHook, SessionManager};
use crate::store::SessionStore;

/// The event hook.
type Hook = SessionHook<SessionData>;

pub(crate) const CREATE_SESSION: &str = "com.atproto.server.createSession";
pub(crate) const CREATE_ACCOUNT: &str = "com.atproto.server.createAccount";
pub(crate) const REFRESH_SESSION: &str = "com.atproto.server.refreshSession";
pub(crate) const GET_SESSION: &str = "com.atproto.server.getSession";
pub(crate) const DELETE_SESSION: &str = "com.atproto.server.deleteSession";

/// Calls that manage the session itself: they go to the service URL the
/// session was built with (e.g. an entryway), never to the discovered PDS.
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

/// Builds a [`CredentialSession`] on its own, to hand to
/// [`crate::Agent::new`] (the docs page's "custom session managers" flow);
/// [`crate::AtpAgent::builder`] builds one inside an agent.
pub struct CredentialSessionBuilder {
    service: String,
    allow_insecure_http: bool,
    allow_private_hosts: Option<bool>,
    transport: TransportConfig,
    client: Option<Arc<dyn HttpClient>>,
    refresh_margin: Duration,
    idle_timeout: Option<Duration>,
    store: Option<Arc<dyn SessionStore>>,
    hook: Option<Hook>,
}

impl CredentialSessionBuilder {
    /// The server to log in with (a PDS or an entryway).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// Sends requests through `client` (required without the `reqwest`
    /// feature; otherwise a `ReqwestClient` is made).
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    /// [`CredentialSessionBuilder::http_client`] with a shared client.
    pub fn http_client_arc(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.client = Some(client);
        self
    }

    /// Allows `http://` to hosts other than loopback (the service and a
    /// discovered PDS). Off by default: tokens would travel in clear text.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Follows a DID document's PDS on a private, loopback, link-local or
    /// reserved host, or an IP literal (as `atmo_identity`'s resolver
    /// does with `allow_private_hosts`). By default such a PDS is followed
    /// only when the service URL is itself on such a host (a local
    /// development setup); otherwise requests stay on the service URL, since
    /// a DID document is written by whoever controls the identity.
    pub fn allow_private_hosts(mut self, allow: bool) -> Self {
        self.allow_private_hosts = Some(allow);
        self
    }

    /// Default per-call timeout (default [`atmo_xrpc::DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.transport.timeout = timeout;
        self
    }

    /// Largest accepted response body
    /// (default [`atmo_xrpc::DEFAULT_MAX_RESPONSE_SIZE`]).
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.transport.max_response_size = bytes;
        self
    }

    /// Refresh proactively when the access JWT expires within `margin`
    /// (default [`DEFAULT_REFRESH_MARGIN`]). Zero refreshes only tokens
    /// already expired.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Ends the session locally after `timeout` without a call: the next
    /// call (or [`CredentialSession::check_idle`]) finds it idle, forgets
    /// it, clears the store, fires `Expired`, and fails with
    /// [`SessionError::Expired`] named `IdleTimeout`. Off by default.
    ///
    /// The TypeScript docs advise clearing sessions after periods of
    /// inactivity: a session left on a shared or stolen device is as good
    /// as the password until its refresh token expires (months). The check
    /// runs when the session is used, not on a timer, so an idle session
    /// stays in the store until then; call `check_idle` from a timer of your
    /// own to clear it sooner. The server-side session is not revoked (that
    /// needs the network; `logout` does it).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Saves the session to `store` on `Create`/`Update` and clears it on
    /// `Expired` (before the hook runs).
    pub fn session_store(self, store: impl SessionStore + 'static) -> Self {
        self.session_store_arc(Arc::new(store))
    }

    /// [`CredentialSessionBuilder::session_store`] with a shared store.
    pub fn session_store_arc(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Called after every session event with `(event, did, session)`, the
    /// same shape as `OAuthClientBuilder::on_session_event` (see
    /// [`SessionHook`]): the account's DID (`None` only for
    /// `CreateFailed`) and the session (`None` for `Expired` and
    /// `CreateFailed`). Events arrive one at a time, in order. The hook runs
    /// while the session is locked: an agent call made from inside it fails
    /// at once with [`SessionError::CalledFromHook`] instead of waiting for
    /// itself. TypeScript's `persistSession`.
    pub fn on_session_event<F>(mut self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<&Did>, Option<&SessionData>) + Send + Sync + 'static,
    {
        self.hook = Some(SessionHook::new(hook));
        self
    }

    /// Like [`CredentialSessionBuilder::on_session_event`] with an async
    /// hook given owned copies; each call is awaited before the next event
    /// is delivered and before the operation that caused it returns.
    pub fn on_session_event_async<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<Did>, Option<SessionData>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.hook = Some(SessionHook::new_async(hook));
        self
    }

    /// The event hook without the DID: use
    /// [`CredentialSessionBuilder::on_session_event`].
    #[deprecated(note = "use `on_session_event`, whose hook also gets the DID, as OAuth's does")]
    pub fn persist_session<F>(self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<&SessionData>) + Send + Sync + 'static,
    {
        self.on_session_event(move |event, _did, session| hook(event, session))
    }

    /// The async event hook without the DID: use
    /// [`CredentialSessionBuilder::on_session_event_async`].
    #[deprecated(
        note = "use `on_session_event_async`, whose hook also gets the DID, as OAuth's does"
    )]
    pub fn persist_session_async<F, Fut>(self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<SessionData>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.on_session_event_async(move |event, _did, session| hook(event, session))
    }

    /// Builds the session manager (signed out). Fails on an invalid service
    /// URL, a plain-http URL to a non-loopback host unless allowed, or when
    /// no HTTP client was given and the `reqwest` feature is off.
    pub fn build(self) -> Result<CredentialSession, SessionError> {
        let client = match self.client.clone() {
            Some(c) => c,
            None => crate::agent::default_client()?,
        };
        self.build_with(client)
    }

    /// The HTTP client given, if any.
    pub(crate) fn client(&self) -> Option<Arc<dyn HttpClient>> {
        self.client.clone()
    }

    pub(crate) fn build_with(
        self,
        client: Arc<dyn HttpClient>,
    ) -> Result<CredentialSession, SessionError> {
        let service = check_url(&self.service, self.allow_insecure_http)
            .map_err(|e| SessionError::Xrpc(e.into()))?;
        let pds_policy = PdsPolicy {
            allow_insecure_http: self.allow_insecure_http,
            allow_private_hosts: self
                .allow_private_hosts
                .unwrap_or_else(|| atmo_identity::net::non_public_host(service.host()).is_some()),
        };
        Ok(CredentialSession {
            scope: HookScope::new(),
            transport: Transport::new(client, self.transport),
            service,
            pds_policy,
            refresh_margin: self.refresh_margin,
            idle_timeout: self.idle_timeout,
            store: self.store,
            hook: self.hook,
            state: RwLock::new(State::default()),
            lock: tokio::sync::Mutex::new(()),
        })
    }
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
    last_failure: Option<(u64, SessionError)>,
    /// When the session was last used (or started).
    last_used: Option<std::time::Instant>,
}

impl State {
    /// Makes `session` current, reading its access token's `exp` once.
    fn set_current(&mut self, session: Option<SessionData>) {
        self.access_exp = session
            .as_ref()
            .and_then(|s| crate::jwt::jwt_exp(s.access_jwt.expose()));
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
    /// Tells this session's persist hook apart, so that a call it makes
    /// back into the session is refused instead of deadlocking.
    scope: HookScope,
    transport: Transport,
    service: ServiceUrl,
    /// Which PDS a DID document may send requests to.
    pds_policy: PdsPolicy,
    refresh_margin: Duration,
    idle_timeout: Option<Duration>,
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

/// The XRPC error a session call failed with, if that is what it was.
fn xrpc_error(e: &SessionError) -> Option<&atmo_xrpc::XrpcError> {
    match e {
        SessionError::Xrpc(atmo_xrpc::Error::Xrpc(x)) => Some(x),
        _ => None,
    }
}

/// The server says the token is expired: the reference PDS answers 400
/// `ExpiredToken`, and any 401 is treated the same (as TypeScript does). Not
/// when the endpoint itself declares `ExpiredToken` (an email token).
fn is_expiry(e: &SessionError, req: &XrpcRequest) -> bool {
    match e {
        SessionError::Xrpc(x) => match (x.status(), x.error_name()) {
            (Some(400), Some("ExpiredToken")) => !req.declares_expired_token,
            (Some(401), _) => true,
            _ => false,
        },
        _ => false,
    }
}

/// The server rejected the token for good.
/// `AccountTakedown` counts too: the reference PDS answers a taken-down
/// account's refresh with 401 `AccountTakedown`, and that session is over.
fn is_rejected(e: &SessionError) -> bool {
    xrpc_error(e).is_some_and(|x| {
        matches!(
            x.error.as_str(),
            "ExpiredToken" | "InvalidToken" | "AccountTakedown"
        )
    })
}

/// The [`SessionError::Expired`] that reports a rejection.
fn expired(e: SessionError, fallback: &str) -> SessionError {
    match e {
        SessionError::Xrpc(atmo_xrpc::Error::Xrpc(x)) => SessionError::Expired {
            error: x.error,
            message: x.message,
        },
        _ => SessionError::Expired {
            error: fallback.to_owned(),
            message: None,
        },
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl CredentialSession {
    /// Starts building a session manager for `service`: the server to log in
    /// with (a PDS or an entryway such as `https://bsky.social`).
    pub fn builder(service: impl Into<String>) -> CredentialSessionBuilder {
        CredentialSessionBuilder {
            service: service.into(),
            allow_insecure_http: false,
            allow_private_hosts: None,
            transport: TransportConfig::default(),
            client: None,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            idle_timeout: None,
            store: None,
            hook: None,
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

    /// Takes the session lock, unless the caller is this session's own
    /// persist hook, which runs under that lock and would wait for itself.
    async fn lock(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, SessionError> {
        self.scope.check()?;
        Ok(self.lock.lock().await)
    }

    /// The current session (a copy), if signed in.
    pub fn session(&self) -> Option<SessionData> {
        self.read().session.clone()
    }

    /// True when signed in.
    pub fn has_session(&self) -> bool {
        self.read().session.is_some()
    }

    /// The service URL the session was built with: login, refresh and other
    /// session calls go there.
    pub fn service_url(&self) -> &ServiceUrl {
        &self.service
    }

    /// The PDS discovered from the session's DID document, where all other
    /// requests go; `None` before login or when the document named none.
    pub fn pds_url(&self) -> Option<ServiceUrl> {
        self.read().pds.clone()
    }

    /// The transport requests go through.
    pub fn transport(&self) -> &Transport {
        &self.transport
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

    /// The PDS a session answer's DID document names, if the policy lets
    /// requests go there (otherwise they stay on the service).
    fn pds_from(&self, did_doc: Option<&serde_json::Value>, did: &Did) -> Option<ServiceUrl> {
        pds_endpoint(did_doc?, did, self.pds_policy)
    }

    /// Runs the event hook. Callers hold `self.lock`, which orders events.
    /// The DID is the session's, or `did` when there is no session
    /// (`Expired`).
    async fn notify(&self, event: SessionEvent, did: Option<&Did>, session: Option<&SessionData>) {
        if let Some(hook) = &self.hook {
            let did = session.map(|s| &s.did).or(did);
            hook.deliver(self.scope, event, did, session).await;
        }
    }

    /// Saves or clears the store as the event says, then runs the hook. Both
    /// are awaited; callers hold `self.lock`, which orders events.
    async fn emit(
        &self,
        event: SessionEvent,
        did: Option<&Did>,
        session: Option<&SessionData>,
    ) -> Result<(), SessionError> {
        let stored = match (&self.store, event, session) {
            (Some(store), SessionEvent::Create | SessionEvent::Update, Some(s)) => {
                store.save(s).await
            }
            (Some(store), SessionEvent::Expired, _) => store.clear().await,
            _ => Ok(()),
        };
        self.notify(event, did, session).await;
        Ok(stored?)
    }

    fn set_session(&self, session: Option<SessionData>, pds: Option<ServiceUrl>) {
        let mut st = self.write();
        st.last_used = session.as_ref().map(|_| std::time::Instant::now());
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

    /// One session call to the service URL.
    async fn call_service(
        &self,
        req: &XrpcRequest,
        auth: &dyn Authorizer,
    ) -> Result<XrpcResponse, SessionError> {
        Ok(self.transport.send(&self.service, req, auth).await?)
    }

    /// Signs in (`com.atproto.server.createSession` to the service URL) and
    /// keeps the session. Fires `Create`, or `CreateFailed` on any failure;
    /// a failed attempt leaves an existing session as it was.
    pub async fn login(&self, login: &Login) -> Result<SessionData, SessionError> {
        let input = create_session::Input {
            identifier: login.identifier.clone(),
            password: login.password.expose().to_owned(),
            auth_factor_token: login
                .auth_factor_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
            allow_takendown: login.allow_takendown,
            extra: Extra::new(),
        };
        let body = create_session::CreateSession::encode_input(&input)
            .map_err(|e| SessionError::Xrpc(atmo_xrpc::Error::InvalidRequest(e.to_string())))?;
        self.start(CREATE_SESSION, body, None).await
    }

    /// Creates an account (`com.atproto.server.createAccount`) and keeps its
    /// session, like [`CredentialSession::login`]. Fires `Create` or
    /// `CreateFailed`.
    pub async fn create_account(&self, account: &NewAccount) -> Result<SessionData, SessionError> {
        let input = create_account::Input {
            email: account.email.clone(),
            handle: account.handle.clone(),
            did: account.did.clone(),
            invite_code: account.invite_code.clone(),
            verification_code: account.verification_code.clone(),
            verification_phone: account.verification_phone.clone(),
            password: account.password.as_ref().map(|p| p.expose().to_owned()),
            recovery_key: account.recovery_key.clone(),
            plc_op: account.plc_op.as_ref().map(Unknown::from_value),
            extra: Extra::new(),
        };
        let body = create_account::CreateAccount::encode_input(&input)
            .map_err(|e| SessionError::Xrpc(atmo_xrpc::Error::InvalidRequest(e.to_string())))?;
        let email = Some(account.email.clone());
        self.start(CREATE_ACCOUNT, body, email).await
    }

    /// Starts a session with `nsid` (createSession or createAccount).
    /// `new_account_email`: this is createAccount, with the email it was
    /// given. On any failure nothing changes but the `CreateFailed` event.
    async fn start(
        &self,
        nsid: &'static str,
        body: Option<RawBody>,
        new_account_email: Option<Option<String>>,
    ) -> Result<SessionData, SessionError> {
        let _guard = self.lock().await?;
        let mut req = XrpcRequest::new(nsid, Method::Procedure);
        req.body = body;
        req.accept = Some("application/json".into());
        let result = async {
            let answer = self.call_service(&req, &NoAuth).await?;
            let a = SessionAnswer::decode(nsid, &answer.body)?;
            let pds = self.pds_from(a.did_doc.as_ref(), &a.did);
            let base = Base::New {
                new_account: new_account_email.is_some(),
                email: new_account_email.flatten(),
            };
            Ok::<_, SessionError>((a.into_session(nsid, base)?, pds))
        }
        .await;
        let (session, pds) = match result {
            Ok(ok) => ok,
            Err(e) => {
                self.notify(SessionEvent::CreateFailed, None, None).await;
                return Err(e);
            }
        };
        // Saved first: a session that cannot be kept is not started, so the
        // memory, the store and the events agree. The server-side session
        // just created is revoked (best effort) rather than left behind.
        if let Some(store) = &self.store {
            if let Err(e) = store.save(&session).await {
                let revoke = XrpcRequest::new(DELETE_SESSION, Method::Procedure);
                let _ = self
                    .call_service(&revoke, &Bearer(&session.refresh_jwt))
                    .await;
                self.notify(SessionEvent::CreateFailed, None, None).await;
                return Err(e.into());
            }
        }
        self.set_session(Some(session.clone()), pds);
        self.write().clock_suspect = false;
        self.notify(SessionEvent::Create, None, Some(&session))
            .await;
        Ok(session)
    }

    /// Refreshes the session now (normally not needed: requests refresh on
    /// demand). Fires `Update`, or `Expired` / `NetworkError` on failure.
    pub async fn refresh(&self) -> Result<SessionData, SessionError> {
        let _guard = self.lock().await?;
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
        self.notify(SessionEvent::Update, None, Some(&saved)).await;
        Some(saved)
    }

    /// The refresh itself. Caller holds `self.lock`. Returns the new session
    /// and the raw answer (none when a session was adopted from the store).
    async fn refresh_locked(&self) -> Result<(SessionData, Option<XrpcResponse>), SessionError> {
        let result = self.refresh_attempt().await;
        // Counted when the attempt is over, so that requests that noted the
        // generation while it ran see that it happened and share its outcome.
        let mut st = self.write();
        st.generation += 1;
        st.last_failure = result.as_ref().err().map(|e| (st.generation, e.clone()));
        drop(st);
        result
    }

    async fn refresh_attempt(&self) -> Result<(SessionData, Option<XrpcResponse>), SessionError> {
        let current = self.session().ok_or(SessionError::NoSession)?;
        let _store_lock = match &self.store {
            Some(store) => Some(store.lock().await?),
            None => None,
        };
        if let Some(adopted) = self.adopt_from_store(&current).await {
            return Ok((adopted, None));
        }
        let req = XrpcRequest::new(REFRESH_SESSION, Method::Procedure);
        let result = async {
            let answer = self
                .call_service(&req, &Bearer(&current.refresh_jwt))
                .await?;
            let a = SessionAnswer::decode(REFRESH_SESSION, &answer.body)?;
            Ok::<_, SessionError>((a, answer))
        }
        .await;
        match result {
            Ok((a, answer)) => {
                if a.did != current.did {
                    return Err(SessionError::DidMismatch {
                        expected: current.did,
                        actual: a.did,
                    });
                }
                let pds = self.pds_from(a.did_doc.as_ref(), &a.did);
                let session = a.into_session(REFRESH_SESSION, Base::Refreshed(&current))?;
                {
                    let mut st = self.write();
                    st.set_current(Some(session.clone()));
                    // A token fresh from the server that already looks expired
                    // means the local clock is off: judge it afresh.
                    st.clock_suspect = false;
                    st.clock_suspect = self.needs_refresh(&st);
                    st.pds = pds;
                }
                self.emit(SessionEvent::Update, None, Some(&session))
                    .await?;
                Ok((session, Some(answer)))
            }
            Err(e) if is_rejected(&e) => {
                // "Token has been revoked" may mean another process sharing
                // the store refreshed first: look before giving up.
                if let Some(adopted) = self.adopt_from_store(&current).await {
                    return Ok((adopted, None));
                }
                let _ = self.end_session().await;
                Err(expired(e, ""))
            }
            Err(e) => {
                if e.is_transient() {
                    let _ = self
                        .emit(SessionEvent::NetworkError, None, Some(&current))
                        .await;
                }
                Err(e)
            }
        }
    }

    /// Ends the session locally: forgets it, clears the store, fires
    /// `Expired`. The one way a session ends (logout, a rejected token).
    /// The session has ended whatever the store says, so a failure to clear
    /// it is returned but does not undo that.
    async fn end_session(&self) -> Result<(), SessionError> {
        let did = self.did();
        self.set_session(None, None);
        self.emit(SessionEvent::Expired, did.as_ref(), None).await
    }

    /// The token to send, waiting for a refresh in progress and refreshing
    /// first when the JWT says the token is (nearly) expired.
    ///
    /// The generation returned is the one seen *before* waiting: when a
    /// refresh runs meanwhile and fails, this request then shares that failure
    /// instead of starting one more refresh of its own.
    async fn token_for_request(&self) -> Result<(Option<Secret>, u64), SessionError> {
        let generation = self.read().generation;
        let _guard = self.lock().await?;
        self.end_if_idle().await?;
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
    ) -> Result<Option<Secret>, SessionError> {
        let _guard = self.lock().await?;
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
    /// A different DID is [`SessionError::DidMismatch`] and the saved session
    /// is not used. A rejected token fires `Expired`; a transient failure
    /// fires `NetworkError` and keeps the session so a later call can retry.
    pub async fn resume(&self, saved: SessionData) -> Result<SessionData, SessionError> {
        let _guard = self.lock().await?;
        self.set_session(Some(saved.clone()), None);
        self.write().clock_suspect = false;
        let mut refreshed = false;
        loop {
            let current = self.session().ok_or(SessionError::NoSession)?;
            if !refreshed && self.needs_refresh(&self.read()) {
                self.refresh_locked().await?;
                refreshed = true;
                continue;
            }
            let req = XrpcRequest::new(GET_SESSION, Method::Query);
            let result = async {
                let answer = self
                    .call_service(&req, &Bearer(&current.access_jwt))
                    .await?;
                SessionAnswer::decode(GET_SESSION, &answer.body)
            }
            .await;
            match result {
                Ok(a) => {
                    if a.did != saved.did {
                        self.set_session(None, None);
                        return Err(SessionError::DidMismatch {
                            expected: saved.did,
                            actual: a.did,
                        });
                    }
                    let pds = self.pds_from(a.did_doc.as_ref(), &a.did);
                    let session = a.into_session(GET_SESSION, Base::Checked(&current))?;
                    self.set_session(Some(session.clone()), pds);
                    self.emit(SessionEvent::Update, None, Some(&session))
                        .await?;
                    return Ok(session);
                }
                Err(e) if !refreshed && is_expiry(&e, &req) => {
                    self.refresh_locked().await?;
                    refreshed = true;
                }
                Err(e) if is_rejected(&e) || is_expiry(&e, &req) => {
                    let _ = self.end_session().await;
                    return Err(expired(e, "AuthenticationRequired"));
                }
                Err(e) => {
                    if e.is_transient() {
                        let _ = self
                            .emit(SessionEvent::NetworkError, None, Some(&current))
                            .await;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Loads the store's session and resumes it. `Ok(None)` when the store
    /// is empty or there is no store; a corrupt store is an error (and the
    /// file is left alone).
    pub async fn resume_from_store(&self) -> Result<Option<SessionData>, SessionError> {
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
    pub async fn logout(&self) -> Result<(), SessionError> {
        let _guard = self.lock().await?;
        self.logout_locked().await.map(|_| ())
    }

    async fn logout_locked(&self) -> Result<Option<XrpcResponse>, SessionError> {
        let Some(current) = self.session() else {
            return Ok(None);
        };
        let req = XrpcRequest::new(DELETE_SESSION, Method::Procedure);
        let result = self.call_service(&req, &Bearer(&current.refresh_jwt)).await;
        let ended = self.end_session().await;
        let answer = result?;
        ended?;
        Ok(Some(answer))
    }

    /// Whether the session has been idle longer than the idle timeout (see
    /// [`CredentialSessionBuilder::idle_timeout`]); if so it is ended, as the
    /// next call would, and `Err(Expired { error: "IdleTimeout", .. })` says
    /// so. `Ok(())` when the session is in use, absent, or there is no
    /// timeout.
    pub async fn check_idle(&self) -> Result<(), SessionError> {
        let _guard = self.lock().await?;
        self.end_if_idle().await
    }

    /// The idle check itself. Caller holds `self.lock`. Marks the session
    /// used when it is not idle.
    async fn end_if_idle(&self) -> Result<(), SessionError> {
        let Some(timeout) = self.idle_timeout else {
            return Ok(());
        };
        let idle = {
            let mut st = self.write();
            let now = std::time::Instant::now();
            let idle = st.session.is_some()
                && st
                    .last_used
                    .is_some_and(|t| now.saturating_duration_since(t) > timeout);
            if !idle {
                st.last_used = Some(now);
            }
            idle
        };
        if !idle {
            return Ok(());
        }
        // The session is over whatever the store says.
        let _ = self.end_session().await;
        Err(SessionError::Expired {
            error: "IdleTimeout".into(),
            message: Some(format!(
                "no call for more than {} s; log in again",
                timeout.as_secs()
            )),
        })
    }

    /// Ends the session locally without telling the server, e.g. after a
    /// period of inactivity: forgets it, clears the store, fires `Expired`.
    pub async fn forget(&self) -> Result<(), SessionError> {
        let _guard = self.lock().await?;
        if self.has_session() {
            self.end_session().await?;
        }
        Ok(())
    }
}

/// The answer of a session call made through [`SessionManager::send`]:
/// the server's, or an empty 200 when no call was needed.
fn answer_or_empty(answer: Option<XrpcResponse>) -> XrpcResponse {
    answer.unwrap_or_else(|| XrpcResponse {
        status: 200,
        headers: Vec::new(),
        body: RawBody::new("", Vec::new()),
    })
}

impl SessionManager for CredentialSession {
    fn did(&self) -> Option<Did> {
        self.read().session.as_ref().map(|s| s.did.clone())
    }

    async fn send(&self, req: XrpcRequest) -> Result<XrpcResponse, SessionError> {
        match req.nsid.as_str() {
            // These authenticate with the password (or nothing) and do not
            // change this session when called directly.
            CREATE_SESSION | CREATE_ACCOUNT => {
                return self.call_service(&req, &NoAuth).await;
            }
            // Rotating or revoking the refresh token behind the manager's
            // back would break the session: route them through it.
            REFRESH_SESSION if req.header("authorization").is_none() => {
                let _guard = self.lock().await?;
                return self.refresh_locked().await.map(|(_, a)| answer_or_empty(a));
            }
            DELETE_SESSION if req.header("authorization").is_none() => {
                let _guard = self.lock().await?;
                return self.logout_locked().await.map(answer_or_empty);
            }
            _ => {}
        }
        if req.header("authorization").is_some() {
            // The caller authenticates: leave it alone, no refresh.
            let base = self.base_for(&req.nsid);
            return Ok(self.transport.send(&base, &req, &NoAuth).await?);
        }
        let (token, generation) = self.token_for_request().await?;
        let base = self.base_for(&req.nsid);
        let Some(sent) = token else {
            return Ok(self.transport.send(&base, &req, &NoAuth).await?);
        };
        let first: Result<XrpcResponse, SessionError> = self
            .transport
            .send(&base, &req, &Bearer(&sent))
            .await
            .map_err(Into::into);
        match first {
            Err(e) if is_expiry(&e, &req) => {
                match self.refresh_after_failure(&sent, generation).await? {
                    Some(new) if new != sent => {
                        // The body is buffered: the retry sends the same bytes.
                        let base = self.base_for(&req.nsid);
                        Ok(self.transport.send(&base, &req, &Bearer(&new)).await?)
                    }
                    _ => Err(e),
                }
            }
            other => other,
        }
    }
}
