//! The agent: typed calls over any session manager.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use atmo_types::xrpc::{
    Endpoint, EndpointError, Method, QueryParams, QueryWriter, RawBody, XrpcCaller,
};
use atmo_types::Did;

use atmo_xrpc::{HttpClient, RetryPolicy, ServiceUrl, XrpcRequest};

use crate::app_error::ConfigError;
use crate::error::Error;
use crate::session::{
    CredentialSession, CredentialSessionBuilder, SessionData, SessionError, SessionEvent,
    SessionManager,
};
use crate::store::SessionStore;

/// Options of one call, or defaults of an agent ([`Agent::with_options`]).
/// Per-call values override the agent's.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// `atproto-proxy`: `<did>#<service id>`, asks the PDS to forward the call
    /// to that service (e.g. `did:web:api.bsky.chat#bsky_chat`).
    pub proxy: Option<String>,
    /// `atproto-accept-labelers`: labeler DIDs, each optionally with `;redact`.
    pub accept_labelers: Option<Vec<String>>,
    /// More headers. An `authorization` here is sent as is and disables the
    /// session's authentication and refresh for the call.
    pub headers: Vec<(String, String)>,
    /// Timeout of the whole call.
    pub timeout: Option<Duration>,
    /// Retry policy (off unless set).
    pub retry: Option<RetryPolicy>,
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may hold credentials: names only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("CallOptions")
            .field("proxy", &self.proxy)
            .field("accept_labelers", &self.accept_labelers)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl CallOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Proxies the call to service `service_id` (e.g. `bsky_chat`, `atproto_labeler`)
    /// of `did`.
    pub fn proxy(mut self, did: &str, service_id: &str) -> Self {
        let id = service_id.trim_start_matches('#');
        self.proxy = Some(format!("{did}#{id}"));
        self
    }

    /// The labelers whose labels to apply (`did` or `did;redact`).
    pub fn accept_labelers<S: Into<String>>(
        mut self,
        labelers: impl IntoIterator<Item = S>,
    ) -> Self {
        self.accept_labelers = Some(labelers.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// `self` with `over`'s values where set.
    fn merged(&self, over: &CallOptions) -> CallOptions {
        let mut headers = self.headers.clone();
        for (n, v) in &over.headers {
            headers.retain(|(m, _)| !m.eq_ignore_ascii_case(n));
            headers.push((n.clone(), v.clone()));
        }
        CallOptions {
            proxy: over.proxy.clone().or_else(|| self.proxy.clone()),
            accept_labelers: over
                .accept_labelers
                .clone()
                .or_else(|| self.accept_labelers.clone()),
            headers,
            timeout: over.timeout.or(self.timeout),
            retry: over.retry.or(self.retry),
        }
    }

    /// Applies the agent's defaults `self` overridden by the call's `over`
    /// to `req`; the common call without options of its own copies nothing.
    fn apply_with(&self, over: &CallOptions, req: &mut XrpcRequest) {
        if *over == CallOptions::default() {
            self.apply(req);
        } else {
            self.merged(over).apply(req);
        }
    }

    fn apply(&self, req: &mut XrpcRequest) {
        for (n, v) in &self.headers {
            req.set_header(n.clone(), v.clone());
        }
        if let Some(p) = &self.proxy {
            req.set_header("atproto-proxy", p.clone());
        }
        if let Some(l) = &self.accept_labelers {
            req.set_header("atproto-accept-labelers", l.join(", "));
        }
        req.timeout = self.timeout;
        req.retry = self.retry;
    }
}

/// Typed XRPC calls over a [`SessionManager`]. Knows nothing of HTTP or
/// tokens: it prepares requests and decodes answers.
///
/// Cheap to clone; clones share the session. [`Agent::with_options`] and
/// friends give a clone with other default headers (e.g. a chat proxy) over
/// the same session.
///
/// # One name per setting
///
/// Each setting of the agent has one name, used in three forms:
///
/// | Form | Example |
/// |---|---|
/// | set on the builder: `AgentBuilder::<name>(value)` | [`AgentBuilder::validate_requests`], [`AgentBuilder::accept_labelers`], [`AgentBuilder::proxy`] |
/// | a clone of an agent (same session) with it changed: `Agent::with_<name>(value)` | [`Agent::with_validate_requests`], [`Agent::with_accept_labelers`], [`Agent::with_proxy`] |
/// | read back: the setting as a question for a switch, else in [`Agent::options`] | [`Agent::validates_requests`], `agent.options().accept_labelers` |
///
/// The older names `with_validation` and `with_labelers` remain as
/// deprecated aliases.
pub struct Agent<M> {
    manager: Arc<M>,
    options: Arc<CallOptions>,
    /// For [`Agent::resolve_identity`]; a default one is made when needed.
    pub(crate) resolver: Option<atmo_identity::Resolver>,
    /// Check requests against the lexicon before sending (see
    /// [`AgentBuilder::validate_requests`]).
    validate: bool,
}

impl<M> Clone for Agent<M> {
    fn clone(&self) -> Self {
        Agent {
            manager: self.manager.clone(),
            options: self.options.clone(),
            resolver: self.resolver.clone(),
            validate: self.validate,
        }
    }
}

impl<M: std::fmt::Debug> std::fmt::Debug for Agent<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("manager", &self.manager)
            .field("options", &self.options)
            .finish()
    }
}

/// The password-session agent: TypeScript's `AtpAgent`.
pub type AtpAgent = Agent<CredentialSession>;

impl<M: SessionManager> Agent<M> {
    /// An agent over a session manager.
    pub fn new(manager: M) -> Self {
        Agent {
            manager: Arc::new(manager),
            options: Arc::new(CallOptions::default()),
            resolver: None,
            validate: true,
        }
    }

    /// The session manager.
    pub fn manager(&self) -> &M {
        &self.manager
    }

    /// The signed-in account's DID.
    pub fn did(&self) -> Option<Did> {
        self.manager.did()
    }

    /// A clone sharing the session that does (or does not) check requests
    /// against the lexicon before sending; see
    /// [`AgentBuilder::validate_requests`].
    pub fn with_validate_requests(&self, on: bool) -> Self {
        let mut a = self.clone();
        a.validate = on;
        a
    }

    /// The former name of [`Agent::with_validate_requests`].
    #[deprecated(
        note = "renamed `with_validate_requests`, after the builder's `validate_requests`"
    )]
    pub fn with_validation(&self, on: bool) -> Self {
        self.with_validate_requests(on)
    }

    /// True when requests are checked against the lexicon before sending.
    pub fn validates_requests(&self) -> bool {
        self.validate
    }

    /// The agent's default call options.
    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    /// A clone sharing the session, with these default options merged over
    /// the current ones.
    pub fn with_options(&self, options: CallOptions) -> Self {
        Agent {
            manager: self.manager.clone(),
            options: Arc::new(self.options.merged(&options)),
            resolver: self.resolver.clone(),
            validate: self.validate,
        }
    }

    /// A clone whose calls are proxied to `did#service_id`
    /// (TypeScript's `withProxy`).
    pub fn with_proxy(&self, did: &str, service_id: &str) -> Self {
        self.with_options(CallOptions::new().proxy(did, service_id))
    }

    /// A clone sharing the session that asks for these labelers' labels
    /// (`did` or `did;redact`); see [`AgentBuilder::accept_labelers`].
    pub fn with_accept_labelers<S: Into<String>>(
        &self,
        labelers: impl IntoIterator<Item = S>,
    ) -> Self {
        self.with_options(CallOptions::new().accept_labelers(labelers))
    }

    /// The former name of [`Agent::with_accept_labelers`].
    #[deprecated(note = "renamed `with_accept_labelers`, after the builder's `accept_labelers`")]
    pub fn with_labelers<S: Into<String>>(&self, labelers: impl IntoIterator<Item = S>) -> Self {
        self.with_accept_labelers(labelers)
    }

    /// Calls any endpoint with the agent's options.
    pub async fn call<E: Endpoint>(
        &self,
        params: E::Params,
        input: E::Input,
    ) -> Result<E::Output, Error<E::Error>> {
        self.call_with::<E>(&params, &input, &CallOptions::default())
            .await
    }

    /// Calls any endpoint with per-call options.
    pub async fn call_with<E: Endpoint>(
        &self,
        params: &E::Params,
        input: &E::Input,
        options: &CallOptions,
    ) -> Result<E::Output, Error<E::Error>> {
        if self.validate {
            crate::validate::request::<E>(params, input)?;
        }
        let mut req = XrpcRequest::new(E::NSID, E::METHOD);
        let mut q = QueryWriter::new();
        params.write_query(&mut q);
        req.query = q
            .pairs()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        req.body = E::encode_input(input)?;
        req.accept = E::OUTPUT_ENCODING.map(str::to_owned);
        req.declares_expired_token = E::Error::from_xrpc("ExpiredToken", None).is_some();
        self.options.apply_with(options, &mut req);
        let answer = self
            .manager
            .send(req)
            .await
            .map_err(|e| Error::from_session(e, E::NSID))?;
        Ok(E::decode_output(answer.body)?)
    }

    /// Calls an endpoint by NSID without generated types (TypeScript's
    /// `XrpcClient.call`): query pairs, an optional raw body, the raw answer.
    pub async fn call_raw(
        &self,
        nsid: &str,
        method: Method,
        query: &[(&str, &str)],
        body: Option<RawBody>,
        options: &CallOptions,
    ) -> Result<RawBody, Error> {
        let mut req = XrpcRequest::new(nsid, method);
        req.query = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        req.body = body;
        // The generated table knows which endpoints declare `ExpiredToken`
        // (an expired email token, not an expired session).
        req.declares_expired_token =
            atmo_api::declared_errors(nsid).is_some_and(|names| names.contains(&"ExpiredToken"));
        self.options.apply_with(options, &mut req);
        Ok(self.manager.send(req).await?.body)
    }

    /// A query by NSID with JSON output (`Value::Null` for an empty body).
    pub async fn query_json(
        &self,
        nsid: &str,
        query: &[(&str, &str)],
    ) -> Result<serde_json::Value, Error> {
        let body = self
            .call_raw(nsid, Method::Query, query, None, &CallOptions::default())
            .await?;
        json_answer(nsid, body)
    }

    /// A procedure by NSID with a JSON body and JSON output
    /// (`Value::Null` for an empty answer).
    pub async fn procedure_json(
        &self,
        nsid: &str,
        query: &[(&str, &str)],
        input: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, Error> {
        let body = match input {
            Some(v) => Some(RawBody::new(
                "application/json",
                serde_json::to_vec(v).map_err(|e| Error::Invalid(e.to_string()))?,
            )),
            None => None,
        };
        let answer = self
            .call_raw(
                nsid,
                Method::Procedure,
                query,
                body,
                &CallOptions::default(),
            )
            .await?;
        json_answer(nsid, answer)
    }
}

fn json_answer(nsid: &str, body: RawBody) -> Result<serde_json::Value, Error> {
    if body.bytes.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&body.bytes).map_err(|e| {
        Error::Xrpc(atmo_xrpc::Error::UnexpectedResponse {
            nsid: nsid.to_owned(),
            status: 200,
            reason: format!("the answer is not JSON: {e}"),
        })
    })
}

impl<M: SessionManager> XrpcCaller for Agent<M> {
    type Error<E: EndpointError> = Error<E>;

    fn call<E: Endpoint>(
        &self,
        params: E::Params,
        input: E::Input,
    ) -> impl Future<Output = Result<E::Output, Error<E::Error>>> + Send {
        Agent::call::<E>(self, params, input)
    }
}

/// Builds an [`AtpAgent`]: a [`CredentialSession`] and the agent's own
/// options.
pub struct AgentBuilder {
    pub(crate) session: CredentialSessionBuilder,
    options: CallOptions,
    pub(crate) resolver: Option<atmo_identity::Resolver>,
    /// A local development setup ([`AgentBuilder::local_dev`]): the
    /// resolver is made for it when the HTTP client is known.
    pub(crate) local_dev: Option<crate::LocalDev>,
    validate_requests: bool,
}

impl AtpAgent {
    /// Starts building an agent for `service`: the server to log in with
    /// (a PDS or an entryway such as `https://bsky.social`).
    pub fn builder(service: impl Into<String>) -> AgentBuilder {
        AgentBuilder::new().service(service)
    }
}

impl Default for AgentBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl AgentBuilder {
    /// A builder without a service yet: set one with
    /// [`AgentBuilder::service`], or let
    /// [`AgentBuilder::login_with_handle`] find the account's PDS.
    pub fn new() -> Self {
        AgentBuilder {
            session: CredentialSession::builder(""),
            options: CallOptions::default(),
            resolver: None,
            local_dev: None,
            validate_requests: true,
        }
    }

    /// The server to log in with (a PDS or an entryway such as
    /// `https://bsky.social`).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.session = self.session.service(service);
        self
    }

    /// Resolves handles and DIDs for [`AgentBuilder::login_with_handle`] and
    /// [`Agent::resolve_identity`] (default: a [`atmo_identity::Resolver`]
    /// over this agent's HTTP client with its default settings: the public
    /// PLC directory, HTTPS well-known handle lookups, no private hosts).
    pub fn identity_resolver(mut self, resolver: atmo_identity::Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Called after every session event with `(event, did, session)`, the
    /// same shape as `OAuthClientBuilder::on_session_event`; see
    /// [`CredentialSessionBuilder::on_session_event`]. Events arrive one at
    /// a time, in order. The hook runs while the session is locked: an
    /// agent call made from inside it fails with
    /// [`SessionError::CalledFromHook`] rather than waiting for itself.
    pub fn on_session_event<F>(mut self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<&Did>, Option<&SessionData>) + Send + Sync + 'static,
    {
        self.session = self.session.on_session_event(hook);
        self
    }

    /// Like [`AgentBuilder::on_session_event`] with an async hook given
    /// owned copies; each call is awaited before the next event is delivered
    /// and before the operation that caused it returns.
    pub fn on_session_event_async<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<Did>, Option<SessionData>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.session = self.session.on_session_event_async(hook);
        self
    }

    /// The event hook without the DID: use
    /// [`AgentBuilder::on_session_event`].
    #[deprecated(note = "use `on_session_event`, whose hook also gets the DID, as OAuth's does")]
    pub fn persist_session<F>(self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<&SessionData>) + Send + Sync + 'static,
    {
        self.on_session_event(move |event, _did, session| hook(event, session))
    }

    /// The async event hook without the DID: use
    /// [`AgentBuilder::on_session_event_async`].
    #[deprecated(
        note = "use `on_session_event_async`, whose hook also gets the DID, as OAuth's does"
    )]
    pub fn persist_session_async<F, Fut>(self, hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<SessionData>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_session_event_async(move |event, _did, session| hook(event, session))
    }

    /// Saves the session to `store` on `Create`/`Update` and clears it on
    /// `Expired` (before the hook runs); [`AtpAgent::resume_from_store`]
    /// loads it back.
    pub fn session_store(mut self, store: impl SessionStore + 'static) -> Self {
        self.session = self.session.session_store(store);
        self
    }

    /// [`AgentBuilder::session_store`] with a shared store (`session_store`
    /// takes an `Arc` of a store too).
    pub fn session_store_arc(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.session = self.session.session_store_arc(store);
        self
    }

    /// Allows `http://` to hosts other than loopback (the service and a
    /// discovered PDS). Off by default: tokens would travel in clear text.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.session = self.session.allow_insecure_http(allow);
        self
    }

    /// Default per-call timeout (default [`atmo_xrpc::DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.session = self.session.timeout(timeout);
        self
    }

    /// Largest accepted response body
    /// (default [`atmo_xrpc::DEFAULT_MAX_RESPONSE_SIZE`]).
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.session = self.session.max_response_size(bytes);
        self
    }

    /// Sends requests through `client` instead of the built-in one: an
    /// [`HttpClient`] of the application's own (another HTTP library, a test
    /// double), a `HyperClient` configured otherwise, or a `ReqwestClient`
    /// around a `reqwest::Client` it configured (proxies, roots) or shares.
    ///
    /// Without the `hyper` and `reqwest` features this is required.
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.session = self.session.http_client(client);
        self
    }

    /// [`AgentBuilder::http_client`] with a shared client, kept as it is
    /// (`http_client` takes an `Arc` of a client too, inside another `Arc`).
    pub fn http_client_arc(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.session = self.session.http_client_arc(client);
        self
    }

    /// Refresh proactively when the access JWT expires within `margin`
    /// (default [`crate::session::DEFAULT_REFRESH_MARGIN`]). Zero refreshes
    /// only tokens already expired.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.session = self.session.refresh_margin(margin);
        self
    }

    /// Ends the session locally after `timeout` without a call; see
    /// [`CredentialSessionBuilder::idle_timeout`].
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.session = self.session.idle_timeout(timeout);
        self
    }

    /// Proxies every call to `did#service_id` by default.
    pub fn proxy(mut self, did: &str, service_id: &str) -> Self {
        self.options = self.options.proxy(did, service_id);
        self
    }

    /// Asks for these labelers' labels on every call.
    pub fn accept_labelers<S: Into<String>>(
        mut self,
        labelers: impl IntoIterator<Item = S>,
    ) -> Self {
        self.options = self.options.accept_labelers(labelers);
        self
    }

    /// Retries idempotent queries by default (see [`RetryPolicy`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// Checks parameters, procedure inputs and records against their lexicon
    /// before sending (on by default): a violation fails the call with
    /// [`Error::Validation`] and nothing is sent. Server answers are never
    /// refused for breaking constraints, only for shapes they cannot decode.
    pub fn validate_requests(mut self, on: bool) -> Self {
        self.validate_requests = on;
        self
    }

    /// Builds the agent. Fails with [`Error::Config`] on an invalid
    /// service URL, a plain-http URL to a non-loopback host unless allowed,
    /// a local development setup whose URLs are refused, or no HTTP client.
    pub fn build(self) -> Result<AtpAgent, Error> {
        let client = match self.session.client() {
            Some(c) => c,
            None => http_client()?,
        };
        let resolver =
            crate::identity::configured_resolver(self.resolver, self.local_dev.as_ref(), &client)?;
        let session = self.session.build_with(client).map_err(|e| match e {
            SessionError::Xrpc(atmo_xrpc::Error::Url(e)) => {
                Error::Config(ConfigError::url("service URL", e))
            }
            e => e.into(),
        })?;
        Ok(Agent {
            manager: Arc::new(session),
            options: Arc::new(self.options),
            resolver,
            validate: self.validate_requests,
        })
    }
}

/// The built-in HTTP client, used when none is given; a
/// [`ConfigError`] when there is none or it cannot start.
#[cfg(feature = "hyper")]
pub(crate) fn http_client() -> Result<Arc<dyn HttpClient>, ConfigError> {
    match atmo_xrpc::HyperClient::new() {
        Ok(client) => Ok(Arc::new(client)),
        Err(e) => Err(ConfigError::new("HTTP client", e.message)),
    }
}

/// The built-in HTTP client, used when none is given; a
/// [`ConfigError`] when there is none or it cannot start.
#[cfg(all(feature = "reqwest", not(feature = "hyper")))]
pub(crate) fn http_client() -> Result<Arc<dyn HttpClient>, ConfigError> {
    match atmo_xrpc::ReqwestClient::new() {
        Ok(client) => Ok(Arc::new(client)),
        Err(e) => Err(ConfigError::new("HTTP client", e.message)),
    }
}

/// The built-in HTTP client, used when none is given; a
/// [`ConfigError`] when there is none or it cannot start.
#[cfg(not(any(feature = "hyper", feature = "reqwest")))]
pub(crate) fn http_client() -> Result<Arc<dyn HttpClient>, ConfigError> {
    Err(ConfigError::new(
        "HTTP client",
        "none: enable the `hyper` (or `reqwest`) feature of atmo-client, \
         or pass one with AgentBuilder::http_client",
    ))
}

/// The HTTP client a session uses when none is given (the session layer
/// reports its absence as a [`SessionError`]).
pub(crate) fn default_client() -> Result<Arc<dyn HttpClient>, SessionError> {
    http_client().map_err(|e| no_client(e.reason))
}

/// The session could not get an HTTP client to build with.
fn no_client(message: String) -> SessionError {
    SessionError::Xrpc(atmo_xrpc::Error::Transport(atmo_xrpc::TransportError {
        nsid: String::new(),
        kind: atmo_xrpc::TransportErrorKind::Other,
        message,
    }))
}

/// Session operations of the password agent.
impl AtpAgent {
    /// The current session (a copy), if signed in.
    pub fn session(&self) -> Option<SessionData> {
        self.manager.session()
    }

    /// True when signed in.
    pub fn has_session(&self) -> bool {
        self.manager.has_session()
    }

    /// The URL the agent was built with.
    pub fn service_url(&self) -> &ServiceUrl {
        self.manager.service_url()
    }

    /// The discovered PDS, where requests go (`None`: the service URL).
    pub fn pds_url(&self) -> Option<ServiceUrl> {
        self.manager.pds_url()
    }

    /// Resumes a saved session after a restart; see [`CredentialSession::resume`].
    pub async fn resume_session(&self, saved: SessionData) -> Result<SessionData, Error> {
        Ok(self.manager.resume(saved).await?)
    }

    /// Resumes the session saved in the store, if any.
    pub async fn resume_from_store(&self) -> Result<Option<SessionData>, Error> {
        Ok(self.manager.resume_from_store().await?)
    }

    /// Refreshes the tokens now (normally automatic).
    pub async fn refresh_session(&self) -> Result<SessionData, Error> {
        Ok(self.manager.refresh().await?)
    }

    /// Revokes the session server-side and forgets it locally; see
    /// [`CredentialSession::logout`].
    pub async fn logout(&self) -> Result<(), Error> {
        Ok(self.manager.logout().await?)
    }
}
