//! atproto OAuth for clients: sign an account in through its authorization
//! server and use the session with `atmo_client::Agent`.
//!
//! ```text
//! your app ──► atmo-client (Agent) ──► SessionManager
//!                                      ▲
//!        atmo-oauth (OAuthClient, OAuthSession)
//!            ├─► atmo-identity (handle/DID → PDS)
//!            └─► atmo-xrpc (HttpClient, Transport, Authorizer, Secret)
//! ```
//!
//! It implements the atproto OAuth profile: PAR, PKCE (S256), DPoP-bound
//! tokens with per-origin nonces, issuer checks on every step, and the
//! three client kinds (the loopback development client, public clients
//! whose `client_id` is the URL of their metadata, and confidential clients
//! authenticating with `private_key_jwt`).
//!
//! - [`ClientConfig`]: one typed configuration; [`ClientConfig::metadata`]
//!   and [`ClientConfig::jwks`] are the documents an app serves;
//!   [`ClientConfig::check`] refuses what servers would.
//! - [`OAuthClient::authorize`] → URL for the user; [`OAuthClient::callback`]
//!   with the redirect's query → [`OAuthSession`] and the app state;
//!   [`OAuthClient::restore`] → a stored session.
//! - [`OAuthSession`] is a `SessionManager`: `Agent::new(session)`. It
//!   refreshes (single-flight in the process, under the store's lock across
//!   processes), and [`OAuthSession::logout`] revokes.
//! - Stores: [`MemoryStore`] (the one in-memory store of every session
//!   kind, from `atmo-session`: `MemoryStore<OAuthSessionData>` keeps
//!   sessions by DID, `MemoryStore<AuthState>` pending authorizations),
//!   [`store::DirStore`] (JSON files, 0600, the operating system's file
//!   locks), and with feature `redis` `RedisStore` with a distributed lock.
//! - Events: [`OAuthClientBuilder::on_session_event`] gets `(event, did,
//!   session)`, the same shape as `atmo_client::AgentBuilder::on_session_event`.
//!
//! # The same surface as the password session
//!
//! An [`OAuthSession`] is used like `atmo_client::CredentialSession`:
//! `logout()` ends it and `refresh()` returns the session, both with
//! `Result<_, SessionError>`; the builders have the same names and argument
//! forms for the same settings (`http_client`/`http_client_arc`,
//! `session_store`/`session_store_arc`, `identity_resolver` taking an
//! `atmo_identity::Resolver` or any [`IdentityResolver`],
//! `refresh_margin`, `timeout`,
//! `on_session_event`/`on_session_event_async`); a hook calling back into
//! its session gets `SessionError::CalledFromHook`. `atmo-client`'s crate
//! documentation has a table of the same task with each. The earlier names
//! `OAuthSession::sign_out`, `OAuthClientBuilder::on_event` and
//! `OAuthClientBuilder::resolver` still compile, deprecated; this crate's own two-in-one `MemoryStore` was
//! replaced by `atmo-session`'s.
//! - [`Scope`]/[`Scopes`]: typed scopes, unknown ones kept.
//!
//! ```no_run
//! use atmo_oauth::{AuthorizeOptions, ClientConfig, OAuthClient, Scopes};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ClientConfig::loopback(
//!     vec!["http://127.0.0.1:8080/callback".into()],
//!     Scopes::generic(),
//! );
//! let client = OAuthClient::builder(config)
//!     .on_session_event(|event, did, _session| {
//!         eprintln!("{}: {}", did.map(|d| d.as_str()).unwrap_or("-"), event.as_str())
//!     })
//!     .build()?;
//! let url = client.authorize("alice.bsky.social", AuthorizeOptions::default()).await?;
//! println!("open {url}");
//! // ... the browser comes back to /callback?code=...&state=...&iss=...
//! # let query = "";
//! let (session, _app_state) = client.callback(query).await?;
//! let agent = atmo_client::Agent::new(session.clone());
//! agent.post("Hello over OAuth").await?;
//! session.logout().await?;
//! # Ok(()) }
//! ```
//!
//! Tokens, PKCE verifiers and private keys are [`atmo_xrpc::Secret`]s
//! or [`Es256Key`]s and never appear in `Debug`, `Display` or errors.
//!
//! # Features
//!
//! - `hyper` (default): atmo-xrpc's built-in HTTP client, used when the
//!   builder is given none.
//! - `ring` (default): ES256 signatures through ring (already built for
//!   rustls); without it the portable `p256` code signs, about four times
//!   slower per DPoP proof.
//! - `redis`: `RedisStore`, state and session store with a distributed
//!   refresh lock.
//! - `loopback`: `loopback::RedirectListener`, the one-shot redirect
//!   listener for command-line and desktop apps.
//! - [`headless`] (always): driving the reference PDS's sign-in pages
//!   without a browser, for development, demos and tests only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod dpop;
pub mod error;
pub mod headless;
pub mod jose;
#[cfg(feature = "loopback")]
pub mod loopback;
pub mod metadata;
pub mod pkce;
#[cfg(feature = "redis")]
pub mod redis_store;
pub mod resolve;
pub mod scope;
pub mod session;
pub mod store;
mod util;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use client::parse_token_response;
pub use client::{AuthorizeOptions, OAuthClient, OAuthClientBuilder};
pub use error::OAuthError;
pub use jose::Es256Key;
pub use metadata::{
    check_client_metadata, ApplicationType, AuthorizationServerMetadata, ClientConfig, ClientKind,
    ProtectedResourceMetadata,
};
pub use pkce::Pkce;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use resolve::{IdentityResolver, ResolvedIdentity};
pub use scope::{Scope, Scopes};
pub use session::OAuthSession;
pub use store::{
    AuthState, DirStore, MemoryStore, OAuthSessionData, OAuthSessionStore, StateStore,
};
