//! An atproto client: XRPC transport, dual-token session manager and agent.
//!
//! The Rust counterpart of `AtpAgent`, `CredentialSession` and `XrpcClient`
//! from the TypeScript `@atproto/api` / `@atproto/xrpc`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use atmo_client::{AtpAgent, Error, FileStore, Login};
//! use atmo_client::atmo_api::com::atproto::server::create_session;
//!
//! let agent = AtpAgent::builder("https://bsky.social")
//!     .session_store(FileStore::new("session.json"))
//!     .on_session_event(|event, _did, _session| eprintln!("session: {}", event.as_str()))
//!     .build()?;
//! if agent.resume_from_store().await?.is_none() {
//!     match agent.login(Login::new("alice.bsky.social", "app-password")).await {
//!         Ok(_) => {}
//!         Err(Error::Api { error: create_session::Error::AuthFactorTokenRequired(_), .. }) => {
//!             // ask for the emailed code, then login again with .auth_factor_token(code)
//!         }
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! agent.post("Hello from Rust").await?;
//! # Ok(()) }
//! ```
//!
//! # Layers
//!
//! ```text
//! your app
//!   └─ atmo-client: Agent<M: SessionManager>, CredentialSession, stores
//!        ├─ atmo-api (generated endpoints and records) ─► atmo-types
//!        └─ atmo-xrpc: Transport, Authorizer, HttpClient, ServiceUrl, Secret
//!             └─ atmo-types (string formats, data model, Endpoint trait)
//! ```
//!
//! Each layer knows only the one below it:
//!
//! - [`atmo_xrpc::Transport`] (crate `atmo-xrpc`): one HTTP request
//!   in, a 2xx answer (status, headers, body) or a classified
//!   [`atmo_xrpc::Error`] out: `/xrpc/<nsid>`, query pairs, buffered or
//!   streamed body, per-call timeout, response size limit, 429 parsing,
//!   opt-in retries. An [`atmo_xrpc::Authorizer`] adds credentials to each
//!   attempt. It sends through an [`HttpClient`]: `HyperClient` (feature
//!   `hyper`, on by default), `ReqwestClient` (feature `reqwest`) or any
//!   implementation of the application's.
//! - [`SessionManager`] (module [`session`]): sends a prepared
//!   [`XrpcRequest`], adding authentication and handling its expiry;
//!   reports [`SessionError`]. [`CredentialSession`] is the password
//!   flavour; OAuth or service auth implement the same trait. Sessions are
//!   kept in any [`SessionStore`] (module [`store`]).
//! - [`Agent`]: typed calls (generated endpoints via [`Agent::api`] or
//!   [`Agent::call`], raw calls by NSID), record helpers; reports
//!   [`Error`]. It knows nothing of HTTP or tokens.
//!   [`AtpAgent`] = `Agent<CredentialSession>`.
//!
//! # Features
//!
//! - `hyper` (default): `HyperClient`, the built-in [`HttpClient`] (hyper's
//!   pooled HTTP/1.1 client, rustls with the ring provider, the platform's
//!   roots; no redirects, no proxies), used when
//!   [`AgentBuilder::http_client`] is not called. It builds in about half
//!   the time of reqwest (no URL/IDNA tables, no proc-macros).
//! - `reqwest`: `ReqwestClient` too, for applications that already build
//!   reqwest or need its proxy and redirect handling (the default client
//!   when `hyper` is off). Without either feature the crate has no HTTP
//!   stack at all and an agent needs a client of yours.
//! - `dns`: handle TXT records through the system's DNS (hickory-resolver)
//!   for [`AgentBuilder::login_with_handle`] and [`Agent::resolve_identity`];
//!   without it handles resolve over HTTPS (`/.well-known/atproto-did`).
//! - `app-bsky` (default), `chat-bsky`, `tools-ozone`: the generated
//!   namespaces [`Agent::api`] offers (com.atproto is always there), and the
//!   `app.bsky` helpers such as `post`.
//!
//! # Password and OAuth sessions
//!
//! Both session kinds sit on the same seam (crate `atmo-session`) and an
//! [`Agent`] drives either. The same task with each:
//!
//! | Task | Password: [`CredentialSession`] (in [`AtpAgent`]) | OAuth: `atmo_oauth::OAuthSession` |
//! |---|---|---|
//! | Sign in | [`AtpAgent::login`] (`Login::new(identifier, password)`) | `OAuthClient::authorize`, then `OAuthClient::callback` with the redirect's query |
//! | Use with the agent | [`AtpAgent::builder`] builds both | `Agent::new(session)` |
//! | Resume a saved session | [`AtpAgent::resume_from_store`], [`CredentialSession::resume`] | `OAuthClient::restore(&did)` |
//! | Refresh now | [`CredentialSession::refresh`] → `Result<SessionData, SessionError>` | `OAuthSession::refresh` → `Result<OAuthSessionData, SessionError>` |
//! | Refresh margin | [`AgentBuilder::refresh_margin`], [`CredentialSessionBuilder::refresh_margin`] (default 60 s) | `OAuthClientBuilder::refresh_margin` (default 30 s) |
//! | Per-call timeout | [`AgentBuilder::timeout`] (login, refresh and every call) | `OAuthClientBuilder::timeout` (authorization server and every call to the PDS) |
//! | End the session | [`CredentialSession::logout`] → `Result<(), SessionError>` | `OAuthSession::logout` → `Result<(), SessionError>` |
//! | Events | [`AgentBuilder::on_session_event`], a hook of `(event, did, session)` ([`SessionHook`]; `did` is `None` only for `CreateFailed`) | `OAuthClientBuilder::on_session_event`, the same shape |
//! | Async events | [`AgentBuilder::on_session_event_async`] | `OAuthClientBuilder::on_session_event_async` |
//! | A hook calling back into its session | [`SessionError::CalledFromHook`] | [`SessionError::CalledFromHook`] |
//! | Identity resolver | [`AgentBuilder::identity_resolver`] (an `atmo_identity::Resolver`) | `OAuthClientBuilder::identity_resolver` (the same, or any `IdentityResolver`) |
//! | HTTP client | [`AgentBuilder::http_client`]`(impl HttpClient)`, or `http_client_arc(Arc<dyn HttpClient>)` | `OAuthClientBuilder::http_client`, `http_client_arc`: the same forms |
//! | Stores | [`AgentBuilder::session_store`]`(impl SessionStore)` or `session_store_arc`: [`MemoryStore`], [`FileStore`] | `OAuthClientBuilder::session_store(impl OAuthSessionStore)` or `session_store_arc`: [`MemoryStore`] (as a [`KeyedStore`], by DID), `DirStore`, `RedisStore` |
//! | Cross-process refresh lock | [`SessionStore::lock`] ([`FileStore`]: the OS's file lock) | `OAuthSessionStore::lock_session` (`DirStore`: the same file lock; Redis: a distributed lock) |
//! | Failures of the scheme itself | XRPC errors ([`SessionError::Xrpc`]) | [`SessionError::Auth`], downcast to `OAuthError` |
//!
//! The names before this table (`persist_session`, `persist_session_async`
//! here, `on_event`, `resolver` and `sign_out` in `atmo-oauth`) still
//! compile, deprecated.
//!
//! # Session events
//!
//! Each change of the session is reported to the store (if any) and then to
//! the event hook, one event at a time, in order, each awaited before the
//! operation that caused it returns.
//!
//! | Event | When | Session afterwards | Store |
//! |---|---|---|---|
//! | `Create` | login or `create_account` succeeded | the new one | saved |
//! | `CreateFailed` | login or `create_account` failed (any error) | unchanged | untouched |
//! | `Update` | a refresh succeeded (on demand, proactive, or manual); `resume_session` succeeded; a session refreshed by another process was adopted from the store | updated tokens / account state | saved |
//! | `Expired` | `logout` (even when the server call fails); the server rejected the refresh token (`ExpiredToken` / `InvalidToken`, or `AccountTakedown` for a taken-down account) and the store holds no newer session; `resume_session` was rejected | none | cleared |
//! | `NetworkError` | a refresh or resume failed for transient reasons: transport error, timeout, 5xx, 429, a non-XRPC answer | **kept** (unlike TypeScript), so a later call retries | untouched |
//!
//! Other refresh failures (a 4xx that is not a token rejection) fire no event
//! and keep the session. `resume_session` with a DID other than the saved one
//! fails with [`SessionError::DidMismatch`], forgets the session in memory,
//! fires nothing.
//!
//! A login or account creation whose session cannot be saved to the store
//! fails with [`SessionError::Store`]: the session is not started (the one
//! just created on the server is revoked, best effort), the store and the
//! session in memory stay as they were, and the only event is
//! `CreateFailed`. The event hook runs under the session lock; an agent
//! call made from inside it fails with [`SessionError::CalledFromHook`]
//! instead of deadlocking.
//!
//! # Token lifecycle
//!
//! - Requests carry `Authorization: Bearer <accessJwt>`; refresh and logout
//!   the refresh token; an `authorization` header set by the caller is sent as
//!   is and disables refresh for that call.
//! - A 400 `ExpiredToken` or any 401 triggers one refresh and one retry of the
//!   same bytes, only if the token changed. Endpoints that declare
//!   `ExpiredToken` themselves (confirmEmail, updateEmail, resetPassword,
//!   deleteAccount: an expired *email* token) get their typed error instead.
//! - Refresh is single-flight: all requests that failed with the same token
//!   share one `refreshSession` (and share its failure); requests issued
//!   during a refresh wait for its result.
//! - Proactive refresh: when the access token is a JWT whose `exp` is within
//!   the margin (default 60 s), it is refreshed before sending. Tokens are never
//!   verified and may be opaque. If a freshly refreshed token already looks
//!   expired, the local clock is wrong and proactive refresh is switched off.
//! - A [`SessionStore`] may provide a lock held around each refresh; under it
//!   the store is re-read and a session refreshed by another process is
//!   adopted. It is re-read again before a rejected refresh ends the session.
//! - Session calls (createSession, createAccount, refreshSession, getSession,
//!   deleteSession) go to the service URL; the rest to the PDS named by the
//!   DID document (`#atproto_pds`, type `AtprotoPersonalDataServer`), see
//!   [`AtpAgent::pds_url`].
//!
//! # Security
//!
//! Tokens and passwords are [`Secret`]s (`***` when printed); no error or
//! `Debug` output contains one, and this crate does not log. Plain `http://`
//! is refused except to loopback unless [`AgentBuilder::allow_insecure_http`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
mod app_error;
#[cfg(feature = "app-bsky")]
pub mod bsky;
pub mod error;
pub mod guide;
mod identity;
/// Reading a JWT's `exp`: fuzzing support (feature `fuzzing`), not part of
/// the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod jwt;
#[cfg(not(feature = "fuzzing"))]
mod jwt;
#[cfg(feature = "app-bsky")]
pub mod moderation;
mod records;
pub mod service_auth;
pub mod session;
pub mod store;
mod validate;
#[cfg(feature = "app-bsky")]
pub mod video;

pub use agent::{Agent, AgentBuilder, AtpAgent, CallOptions};
pub use app_error::{ConfigError, OtherError};
pub use atmo_api;
pub use atmo_identity;
/// Bluesky rich text (crate `atmo-richtext`): facets for mentions, links
/// and tags with UTF-8 byte offsets, segments for rendering, edits that
/// keep facets in place.
#[cfg(feature = "app-bsky")]
pub use atmo_richtext as richtext;
pub use atmo_types;
pub use atmo_types::xrpc::{Method, NoError, RawBody};
pub use atmo_xrpc;
#[cfg(feature = "hyper")]
pub use atmo_xrpc::HyperClient;
#[cfg(feature = "reqwest")]
pub use atmo_xrpc::ReqwestClient;
pub use atmo_xrpc::{
    HttpClient, HttpError, HttpErrorKind, HttpMethod, HttpRequest, HttpResponse, RateLimit,
    RetryPolicy, Secret, ServiceUrl, Transport, TransportError, TransportErrorKind, XrpcError,
    XrpcRequest, XrpcResponse,
};
pub use error::{AnyError, DeclaredError, Error};
pub use identity::LocalDev;
pub use records::{FetchedRecord, InvalidRecord, ListOptions, RecordPage, RecordRef, Swap};
pub use session::{
    CredentialSession, CredentialSessionBuilder, Login, NewAccount, SessionData, SessionError,
    SessionEvent, SessionHook, SessionManager,
};
pub use store::{
    FileStore, KeyedStore, MemoryStore, SessionStore, StoreError, StoreErrorKind, StoreLock,
};
