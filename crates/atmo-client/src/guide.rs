//! # Guide: authentication and sessions, the Rust way
//!
//! This guide follows the atproto documentation page *"What is
//! Authentication in AT Protocol?"* (written for the TypeScript
//! `@atproto/api`) section by section, with the same steps in Rust, and says
//! where this crate behaves differently and why. Every snippet is compiled
//! as a doctest; those that talk to a server are `no_run`.
//!
//! Contents: [dual tokens](#the-dual-token-system) ·
//! [creating a session](#creating-a-session) ·
//! [session data](#session-data) · [persisting sessions](#persisting-sessions)
//! · [automatic refresh](#automatic-token-refresh) ·
//! [manual refresh](#manual-token-refresh) ·
//! [creating accounts](#creating-accounts) · [logging out](#logging-out) ·
//! [custom session managers](#custom-session-managers) ·
//! [two-factor login](#two-factor-login) · [PDS discovery](#pds-discovery) ·
//! [security and idle timeout](#session-security-and-the-idle-timeout) ·
//! [error handling](#error-handling) ·
//! [direct XRPC calls](#direct-xrpc-calls) ·
//! [a complete session lifecycle](#a-complete-session-lifecycle) ·
//! [everyday helpers](#everyday-helpers) ·
//! [moderation and preferences](#moderation-and-preferences)
//!
//! ## The dual-token system
//!
//! Logging in with a password (better: an *app password*) gives two tokens:
//! a short-lived **access token** sent with every request, and a long-lived
//! **refresh token** that only buys new pairs. The agent keeps both,
//! renews them when needed and never prints them: they are
//! [`Secret`](crate::Secret)s (`***` in `Debug` and errors).
//!
//! ## Creating a session
//!
//! [`AtpAgent`](crate::AtpAgent) is `AtpAgent` of TypeScript: a
//! [`CredentialSession`](crate::CredentialSession) with typed calls on top.
//!
//! ```no_run
//! # async fn demo() -> Result<(), atmo_client::AnyError> {
//! use atmo_client::{AtpAgent, Login};
//!
//! let agent = AtpAgent::builder("https://bsky.social").build()?;
//! agent.login(Login::new("alice.bsky.social", "app-password")).await?; // handle or DID
//!
//! println!("DID: {:?}", agent.did());
//! println!("handle: {:?}", agent.session().map(|s| s.handle));
//! // The token prints as ***; `expose()` is the one way to read it.
//! println!("access JWT: {:?}", agent.session().map(|s| s.access_jwt));
//!
//! agent.post("Hello from an authenticated session!").await?;
//! # Ok(()) }
//! ```
//!
//! `post` fills in `createdAt` itself. Rust differs in one respect here:
//! `login` returns a typed error (see [error handling](#error-handling))
//! instead of throwing, so the 2FA case is a pattern, not a string search.
//!
//! ## Session data
//!
//! [`SessionData`](crate::SessionData) holds what `AtpSessionData` holds:
//! `access_jwt` and `refresh_jwt` (as [`Secret`](crate::Secret)s), `handle`,
//! `did` (a validated [`Did`](atmo_types::Did)), `email`,
//! `email_confirmed`, `email_auth_factor`, `active` and `status`. It
//! serialises to the same JSON field names (`accessJwt`, ...), so a session
//! saved by either client can be read by the other.
//!
//! ```
//! # fn demo(session: atmo_client::SessionData) {
//! if !session.active {
//!     eprintln!("account is {}", session.status.as_deref().unwrap_or("inactive"));
//! }
//! // Debug output never contains a token.
//! assert!(!format!("{session:?}").contains(session.refresh_jwt.expose()));
//! # }
//! ```
//!
//! ## Persisting sessions
//!
//! Two ways, which combine: a **store** the agent saves to and clears
//! itself, and a **hook** that hears every event. The hook is the
//! `persistSession` callback of TypeScript.
//!
//! ```no_run
//! # async fn demo() -> Result<(), atmo_client::AnyError> {
//! use atmo_client::{AtpAgent, FileStore, SessionEvent};
//!
//! let agent = AtpAgent::builder("https://bsky.social")
//!     // JSON, written atomically, readable by the owner only (0600).
//!     .session_store(FileStore::new("session.json"))
//!     .on_session_event(|event, _did, session| match event {
//!         SessionEvent::Create | SessionEvent::Update => {
//!             eprintln!("saved the session of {:?}", session.map(|s| &s.handle))
//!         }
//!         SessionEvent::Expired => eprintln!("session over: log in again"),
//!         SessionEvent::CreateFailed => eprintln!("login failed"),
//!         SessionEvent::NetworkError => eprintln!("refresh failed for now; the session is kept"),
//!     })
//!     .build()?;
//!
//! // On start-up: resume the saved session, if any (one getSession call).
//! match agent.resume_from_store().await? {
//!     Some(session) => println!("resumed the session of {}", session.handle),
//!     None => println!("no saved session: log in"),
//! }
//! # Ok(()) }
//! ```
//!
//! A session kept elsewhere (a keychain, a database) goes back in with
//! [`AtpAgent::resume_session`](crate::AtpAgent::resume_session); or
//! implement [`SessionStore`](crate::SessionStore) (load, save, clear, and an
//! optional lock for stores shared between processes).
//!
//! The events are those of TypeScript, with two deliberate differences:
//!
//! - **Events are awaited, in order.** The store is written and the hook
//!   has returned (an async hook, [`on_session_event_async`](crate::AgentBuilder::on_session_event_async),
//!   is awaited) before the call that caused the event returns. In
//!   TypeScript the callback is fired and not awaited, so an app can exit
//!   with the rotated refresh token unsaved, and the saved one no longer
//!   works.
//! - **`NetworkError` keeps the session.** When a refresh fails for a
//!   transient reason (no network, timeout, 5xx, 429), the session stays,
//!   the store is untouched, and the next call tries again. Only a refresh
//!   token the server *rejects* ends the session (`Expired`).
//!
//! The full table of events is in the [crate docs](crate#session-events).
//!
//! ## Automatic token refresh
//!
//! Nothing to write: every call carries the access token; when the server
//! answers that it expired, the agent refreshes once and sends the same
//! request again.
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
//! for i in 0..100 {
//!     // Even if the access token expires during the loop, this keeps working.
//!     agent.post(format!("Post {i}")).await?;
//!     tokio::time::sleep(std::time::Duration::from_secs(60)).await;
//! }
//! # Ok(()) }
//! ```
//!
//! Where Rust differs:
//!
//! - **400 `ExpiredToken` triggers the refresh**, not only 401: that is what
//!   the reference PDS answers for an expired access token. Endpoints that
//!   declare an `ExpiredToken` error of their own (an expired *email* token,
//!   e.g. `confirmEmail`) get their typed error instead of a refresh.
//! - **Proactive refresh**: when the access token is a JWT that expires
//!   within a minute, it is renewed before sending, saving a failed round
//!   trip ([`refresh_margin`](crate::AgentBuilder::refresh_margin)).
//! - **Single flight**: any number of concurrent calls that hit an expired
//!   token share one `refreshSession`, so the rotated refresh token is never
//!   used twice.
//!
//! ## Manual token refresh
//!
//! Rarely needed, but there:
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
//! if !agent.has_session() {
//!     return Err(atmo_client::Error::Session(atmo_client::SessionError::NoSession));
//! }
//! let fresh = agent.refresh_session().await?; // fires Update
//! println!("still {}", fresh.handle);
//! # Ok(()) }
//! ```
//!
//! ## Creating accounts
//!
//! `create_account` signs in to the new account, like `login` (event
//! `Create`); the profile is then one helper call.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use atmo_client::atmo_types::Handle;
//! use atmo_client::{AtpAgent, NewAccount};
//!
//! let agent = AtpAgent::builder("https://pds.example.com").build()?;
//! let handle = Handle::new("alice.pds.example.com")?;
//! let session = agent
//!     .create_account(
//!         NewAccount::new(handle)
//!             .email("alice@example.com")
//!             .password("secure-password-here")
//!             .invite_code("invite-code"), // if the server requires one
//!     )
//!     .await?;
//! println!("created {} ({})", session.handle, session.did);
//!
//! agent
//!     .upsert_profile(|p| {
//!         p.display_name = Some("Alice".into());
//!         p.description = Some("New to AT Protocol!".into());
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! ## Logging out
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
//! agent.logout().await?; // revokes the refresh token on the server
//! assert!(!agent.has_session());
//! # Ok(()) }
//! ```
//!
//! The session ends locally (store cleared, `Expired` fired) even when the
//! server cannot be reached; the error still tells you the revocation did
//! not happen.
//!
//! ## Custom session managers
//!
//! As in TypeScript, the agent is generic over its session manager: build a
//! [`CredentialSession`](crate::CredentialSession) yourself, hand it to
//! [`Agent::new`](crate::Agent::new), and log in through it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), atmo_client::AnyError> {
//! use atmo_client::atmo_api::app::bsky::feed::get_timeline;
//! use atmo_client::{Agent, CredentialSession, Login};
//!
//! let session = CredentialSession::builder("https://bsky.social")
//!     .on_session_event(|event, _did, data| {
//!         eprintln!("session event: {} ({:?})", event.as_str(), data.map(|d| &d.handle))
//!     })
//!     .build()?;
//! let agent = Agent::new(session);
//!
//! agent.manager().login(&Login::new("alice.bsky.social", "app-password")).await?;
//! let timeline = agent
//!     .api()
//!     .app
//!     .bsky
//!     .feed
//!     .get_timeline(get_timeline::Parameters::default())
//!     .await?;
//! println!("{} posts", timeline.feed.len());
//! # Ok(()) }
//! ```
//!
//! Any other authentication (OAuth, service auth, a fixed token) is an
//! implementation of [`SessionManager`](crate::SessionManager): one `send`
//! that adds credentials to a prepared request, and `did`. Every typed call
//! and helper works over it unchanged.
//!
//! ## Two-factor login
//!
//! When the account has email 2FA on, the first login fails with the typed
//! `AuthFactorTokenRequired`; ask for the emailed code and log in again with
//! it.
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent, ask: impl Fn(&str) -> String) -> Result<(), atmo_client::AnyError> {
//! use atmo_client::atmo_api::com::atproto::server::create_session;
//! use atmo_client::{Error, Login};
//!
//! let login = Login::new("alice.bsky.social", "app-password");
//! match agent.login(login.clone()).await {
//!     Ok(_) => {}
//!     Err(Error::Api { error: create_session::Error::AuthFactorTokenRequired(_), .. }) => {
//!         let code = ask("Enter the code we emailed you:");
//!         agent.login(login.auth_factor_token(code)).await?;
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(()) }
//! ```
//!
//! ## PDS discovery
//!
//! Log in anywhere (an entryway such as `https://bsky.social`); the agent
//! reads the account's DID document from the session and sends data calls to
//! the PDS named there. Session calls stay on the service URL.
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
//! println!("service: {}", agent.service_url()); // https://bsky.social
//! println!("PDS: {:?}", agent.pds_url().map(|u| u.to_string())); // the account's own host
//! agent.post("Hello!").await?; // goes to the PDS
//! # Ok(()) }
//! ```
//!
//! A DID document naming a plain-`http` PDS that is not on loopback is
//! refused, so that a forged document cannot make the agent send tokens in
//! clear text.
//!
//! ## Session security and the idle timeout
//!
//! The docs page's advice, and what the crate does for each:
//!
//! - *Store refresh tokens securely.* [`FileStore`](crate::FileStore) writes
//!   with mode 0600 and atomically (no half-written session after a crash);
//!   for a keychain, implement [`SessionStore`](crate::SessionStore).
//! - *Never transmit tokens over unencrypted connections.* `http://` is
//!   refused except to loopback unless
//!   [`allow_insecure_http`](crate::AgentBuilder::allow_insecure_http).
//! - *If refresh fails, prompt the user to re-authenticate rather than
//!   failing silently.* A rejected refresh token ends the session with
//!   `Expired` (hook and store) and the call fails with
//!   `SessionError::Expired`; match on it and show the login screen.
//! - *Always call `logout()`* to revoke the refresh token server-side.
//! - *Clear sessions after periods of inactivity.* A refresh token lives for
//!   months; a session left on a shared or stolen device is as good as the
//!   password until then. [`idle_timeout`](crate::AgentBuilder::idle_timeout)
//!   ends the session locally once no call was made for that long: the next
//!   call finds it idle, forgets it, clears the store, fires `Expired`, and
//!   fails with `SessionError::Expired` named `IdleTimeout`. The check runs
//!   when the session is used, not on a timer; to clear an idle session from
//!   disk sooner, call [`check_idle`](crate::CredentialSession::check_idle)
//!   from a timer of your own. To end the session yourself without the
//!   network, [`forget`](crate::CredentialSession::forget) does the same at
//!   once. Neither revokes the token on the server (that needs the network:
//!   `logout` does it, so prefer `logout` when online).
//!
//! ```no_run
//! # async fn demo() -> Result<(), atmo_client::AnyError> {
//! use std::time::Duration;
//! use atmo_client::{AtpAgent, Error, FileStore, SessionError};
//!
//! let agent = AtpAgent::builder("https://bsky.social")
//!     .session_store(FileStore::new("session.json"))
//!     .idle_timeout(Duration::from_secs(30 * 60))
//!     .build()?;
//! // ... later, after half an hour without a call:
//! match agent.post("still there?").await {
//!     Err(Error::Session(SessionError::Expired { error, .. })) if error == "IdleTimeout" => {
//!         // the session is gone from memory and from session.json: log in again
//!     }
//!     other => { other?; }
//! }
//! // A "lock now" button:
//! agent.manager().forget().await?;
//! # Ok(()) }
//! ```
//!
//! ## Error handling
//!
//! Where TypeScript throws an `XRPCError` to inspect by string, each call
//! here returns [`Error<E>`](crate::Error) whose `Api` variant carries the
//! endpoint's *declared* errors as an enum; the other variants say which
//! layer failed. Every common case is one pattern:
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
//! use atmo_client::atmo_api::com::atproto::server::create_session;
//! use atmo_client::{Error, Login, SessionError};
//!
//! match agent.login(Login::new("alice.bsky.social", "wrong-password")).await {
//!     Ok(_) => {}
//!     Err(Error::Api { error: create_session::Error::AuthFactorTokenRequired(_), .. }) => {
//!         eprintln!("2FA required")
//!     }
//!     Err(Error::Api { error: create_session::Error::AccountTakedown(_), .. }) => {
//!         eprintln!("account suspended")
//!     }
//!     Err(Error::Session(SessionError::Expired { .. })) => eprintln!("log in again"),
//!     Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::RateLimited(limit))) => {
//!         eprintln!("rate limited until {:?}", limit.reset)
//!     }
//!     Err(e) if e.status() == Some(401) => eprintln!("invalid credentials"),
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(()) }
//! ```
//!
//! To carry the errors of several endpoints through one function with `?`,
//! return [`AnyError`](crate::AnyError); the typed error stays reachable.
//! `?` takes the library's own errors met in the application's code too (a
//! string that is not a DID, `serde_json`, a generated type's `validate()`):
//! they arrive as [`Error::Other`](crate::Error::Other), see
//! [`OtherError`](crate::OtherError).
//!
//! ```no_run
//! # use atmo_client::{AnyError, AtpAgent, Error};
//! use atmo_client::atmo_api::com::atproto::repo::create_record;
//!
//! async fn post_twice(agent: &AtpAgent) -> Result<(), AnyError> {
//!     agent.post("one").await?;                 // Error<create_record::Error>
//!     agent.upsert_profile(|_| {}).await?;      // already AnyError
//!     Ok(())
//! }
//!
//! # async fn demo(agent: AtpAgent) {
//! if let Err(Error::Api { error, status, nsid }) = post_twice(&agent).await {
//!     if let Some(create_record::Error::InvalidSwap(_)) = error.downcast_ref::<create_record::Error>() {
//!         eprintln!("{nsid} answered {status}: the repository changed meanwhile");
//!     }
//! }
//! # }
//! ```
//!
//! Every error implements `Display` with what failed and where (endpoint,
//! status, the server's message, the path of a field that did not decode)
//! and `source()` down to the layer that failed; a `main` can print them as
//! the programs in `crates/atmo-client/examples/` do:
//!
//! ```
//! fn report(e: &dyn std::error::Error) {
//!     eprintln!("error: {e}");
//!     let mut source = e.source();
//!     while let Some(cause) = source {
//!         eprintln!("  caused by: {cause}");
//!         source = cause.source();
//!     }
//! }
//! # report(&atmo_client::Error::<atmo_client::NoError>::Invalid("x".into()));
//! ```
//!
//! ## Direct XRPC calls
//!
//! Endpoints without generated types (or any NSID) go through the agent
//! raw, with its session, refresh and PDS routing:
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
//! let desc = agent.query_json("com.atproto.server.describeServer", &[]).await?;
//! let timeline = agent.query_json("app.bsky.feed.getTimeline", &[("limit", "50")]).await?;
//! println!("{} posts on {}", timeline["feed"].as_array().map_or(0, Vec::len), desc["did"]);
//! # Ok(()) }
//! ```
//!
//! The docs page's lower-level example, which logs in and passes the
//! `authorization` header itself, uses the transport under the agent
//! ([`Transport`](crate::Transport)): no session, no refresh, nothing
//! remembered.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use atmo_client::atmo_xrpc::{Bearer, NoAuth, TransportConfig};
//! use atmo_client::{HyperClient, Method, RawBody, Secret, ServiceUrl, Transport, XrpcRequest};
//!
//! let transport = Transport::new(Arc::new(HyperClient::new()?), TransportConfig::default());
//! let service = ServiceUrl::parse("https://bsky.social")?;
//!
//! let mut login = XrpcRequest::new("com.atproto.server.createSession", Method::Procedure);
//! let body = serde_json::json!({"identifier": "alice.bsky.social", "password": "app-password"});
//! login.body = Some(RawBody::new("application/json", serde_json::to_vec(&body)?));
//! let answer = transport.send(&service, &login, &NoAuth).await?;
//! let session: serde_json::Value = serde_json::from_slice(&answer.body.bytes)?;
//! let access = Secret::new(session["accessJwt"].as_str().unwrap_or_default());
//!
//! let mut timeline = XrpcRequest::new("app.bsky.feed.getTimeline", Method::Query);
//! timeline.query.push(("limit".into(), "50".into()));
//! let answer = transport.send(&service, &timeline, &Bearer(&access)).await?;
//! println!("{} bytes of timeline", answer.body.bytes.len());
//! # Ok(()) }
//! ```
//!
//! ## A complete session lifecycle
//!
//! The docs page's `SessionManager` class, in Rust: saved on `Create` and
//! `Update`, removed on `Expired`, resumed at start-up, with a fallback to
//! logging in. The store does the saving; the hook only reports.
//!
//! ```no_run
//! use atmo_client::{AnyError, AtpAgent, FileStore, Login, SessionEvent};
//!
//! struct Session {
//!     agent: AtpAgent,
//! }
//!
//! impl Session {
//!     fn new(path: &str) -> Result<Session, AnyError> {
//!         let agent = AtpAgent::builder("https://bsky.social")
//!             .session_store(FileStore::new(path))
//!             .on_session_event(|event, _did, session| match event {
//!                 SessionEvent::Create | SessionEvent::Update => {
//!                     eprintln!("session saved: {:?}", session.map(|s| &s.handle))
//!                 }
//!                 SessionEvent::Expired => eprintln!("session expired"),
//!                 SessionEvent::CreateFailed => eprintln!("failed to create session"),
//!                 SessionEvent::NetworkError => eprintln!("network error during refresh"),
//!             })
//!             .build()?;
//!         Ok(Session { agent })
//!     }
//!
//!     /// True when a saved session was resumed.
//!     async fn init(&self) -> bool {
//!         match self.agent.resume_from_store().await {
//!             Ok(Some(s)) => {
//!                 eprintln!("resumed session for {}", s.handle);
//!                 true
//!             }
//!             Ok(None) => false,
//!             // Expired: the store is already cleared. Transient: kept for next time.
//!             Err(e) => {
//!                 eprintln!("failed to resume session: {e}");
//!                 false
//!             }
//!         }
//!     }
//!
//!     async fn login(&self, identifier: &str, password: &str) -> Result<(), AnyError> {
//!         self.agent.login(Login::new(identifier, password)).await?;
//!         Ok(())
//!     }
//!
//!     fn is_authenticated(&self) -> bool {
//!         self.agent.has_session()
//!     }
//! }
//!
//! # async fn demo() -> Result<(), AnyError> {
//! let session = Session::new("session.json")?;
//! if !session.init().await {
//!     session.login("alice.bsky.social", "app-password").await?;
//! }
//! assert!(session.is_authenticated());
//! session.agent.post("Posted with a session manager!").await?;
//! session.agent.logout().await?; // revoked on the server, session.json removed
//! # Ok(()) }
//! ```
//!
//! `crates/atmo-client/examples/session_lifecycle.rs` is this program,
//! runnable against any PDS.
//!
//! ## Everyday helpers
//!
//! With a session, the [`bsky`](crate::bsky) helpers are one call each:
//! posts with rich text (links, mentions and tags detected, mentions
//! resolved), images, link cards, quotes and replies; likes, reposts,
//! follows, blocks and their undo; blob upload; profiles; pagination.
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), Box<dyn std::error::Error>> {
//! use atmo_client::atmo_api::app::bsky::feed::post::Post;
//! use atmo_client::atmo_types::AtIdentifier;
//! use atmo_client::bsky::PostBuilder;
//! use atmo_client::ListOptions;
//!
//! let picture = agent.upload_file("cat.jpg").await?; // MIME type from the bytes
//! let post = agent
//!     .post_with(
//!         PostBuilder::new("Look, @bob.bsky.social! More at https://example.com #cats")
//!             .image_with_aspect_ratio(picture, "A cat asleep on a keyboard", 1600, 1200),
//!     )
//!     .await?;
//! let reply = agent
//!     .post_with(PostBuilder::new("Isn't it?").reply_to(post.uri.clone()))
//!     .await?;
//! let like = agent.like(&post).await?;
//! agent.unlike(&like.uri).await?;
//!
//! // Every post of the account as a `Post`, page by page (one call per
//! // page, when needed); `list_records::<Post>` reads a single page.
//! let did = agent.did().ok_or("not signed in")?;
//! let mut posts = agent
//!     .paginate_records::<Post>(AtIdentifier::from(did), ListOptions::new().limit(100))
//!     .items();
//! while let Some(post) = posts.next().await {
//!     let post = post?;
//!     println!("{}: {}", post.uri, post.value.text);
//! }
//! agent.delete_post(&reply.uri).await?;
//! agent.delete_post(&post.uri).await?;
//! # Ok(()) }
//! ```
//!
//! Views such as the timeline or profiles come from an AppView, which a
//! PDS forwards those calls to; a bare PDS without one (like a local test
//! PDS) refuses them, while writes and `com.atproto` reads work.
//!
//! ## Moderation and preferences
//!
//! An app that shows Bluesky content applies the user's moderation the way
//! the official app does: the AppView attaches labels to its views, and
//! the client decides from the user's preferences whether to hide, blur or
//! badge each post and profile. [`crate::moderation`] holds the decisions
//! (`@atproto/api`'s `moderatePost` and friends); the agent reads the
//! preferences ([`Agent::get_preferences`](crate::Agent::get_preferences),
//! [`crate::bsky::BskyPreferences`]) and changes them one setting at a time
//! (each a read-modify-write that keeps the items it does not know).
//!
//! Three steps, as the app does at sign-in and whenever the preferences
//! change:
//!
//! 1. [`Agent::moderation_opts`](crate::Agent::moderation_opts) (or
//!    [`moderation_opts_from`](crate::Agent::moderation_opts_from) with
//!    preferences already read): the preferences, plus the label values
//!    every labeler the user listens to defines in its service record
//!    (`app.bsky.labeler.getServices`). Bluesky's moderation labeler is the
//!    app's labeler by default; name yours with
//!    [`moderation_opts_with_app_labelers`](crate::Agent::moderation_opts_with_app_labelers).
//! 2. [`Agent::with_labelers_from`](crate::Agent::with_labelers_from): an
//!    agent (same session) that sends `atproto-accept-labelers` with those
//!    labelers, so the AppView's views carry their labels.
//! 3. `moderate_post(&view, &opts).ui(context)` for each thing shown: in a
//!    feed (`ContentList`) a `filter()` leaves the post out, a `blur()`
//!    puts it behind a warning (clickable unless `no_override`),
//!    `alert()`/`inform()` add a badge.
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
//! use atmo_client::atmo_api::app::bsky::actor::defs::ContentLabelPrefVisibility;
//! use atmo_client::atmo_api::app::bsky::feed::get_timeline::{GetTimeline, Parameters};
//! use atmo_client::moderation::{moderate_post, ModerationContext};
//!
//! // Listen to a labeler and hide what it labels "spoiler".
//! let labeler = "did:plc:my-labeler".parse()?;
//! agent.add_labeler(&labeler).await?;
//! agent.set_content_label_pref("spoiler", ContentLabelPrefVisibility::Hide, Some(&labeler)).await?;
//!
//! let prefs = agent.get_preferences().await?;
//! let opts = agent.moderation_opts_from(&prefs).await?;
//! let reader = agent.with_labelers_from(&prefs);
//! let timeline = reader.call::<GetTimeline>(Parameters::default(), ()).await?;
//! for item in &timeline.feed {
//!     let decision = moderate_post(&item.post, &opts);
//!     let ui = decision.ui(ModerationContext::ContentList);
//!     if ui.filter() {
//!         continue;
//!     }
//!     if ui.blur() {
//!         println!("[content warning] {}", item.post.uri);
//!     } else {
//!         println!("{}", item.post.uri);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The decisions need no server: here a labeler defines its own value,
//! `rude`, and the same labelled post comes out hidden, blurred or
//! untouched depending on the user's setting for that labeler.
//!
//! ```
//! use atmo_client::atmo_api::app::bsky::actor::defs::ProfileViewBasic;
//! use atmo_client::atmo_api::app::bsky::feed::defs::PostView;
//! use atmo_client::atmo_api::com::atproto::label::defs::{
//!     Label, LabelValueDefinition, LabelValueDefinitionBlurs, LabelValueDefinitionSeverity,
//! };
//! use atmo_client::atmo_types::{Datetime, Did, Unknown};
//! use atmo_client::bsky::{BskyPreferences, PreferenceList};
//! use atmo_client::moderation::{
//!     accept_labelers_for, interpret_label_value_definition, moderate_post, ModerationContext,
//!     ModerationOpts,
//! };
//! use serde_json::json;
//!
//! let labeler: Did = "did:plc:labeler".parse()?;
//! let me: Did = "did:plc:me".parse()?;
//! let post = |with_label: bool| -> Result<PostView, Box<dyn std::error::Error>> {
//!     let author = ProfileViewBasic::new("did:plc:bob".parse()?, "bob.test".parse()?);
//!     let record = Unknown::from_json(
//!         r#"{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2024-01-01T00:00:00Z"}"#,
//!     )?;
//!     let uri = "at://did:plc:bob/app.bsky.feed.post/3k";
//!     let mut view = PostView::new(
//!         uri.parse()?,
//!         "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".parse()?,
//!         author,
//!         record,
//!         Datetime::now(),
//!     );
//!     if with_label {
//!         let label = Label::new(labeler.clone(), uri.parse()?, "rude".into(), Datetime::now());
//!         view.labels = Some(vec![label]);
//!     }
//!     Ok(view)
//! };
//! // What the labeler's service record says about `rude`.
//! let rude = LabelValueDefinition::new(
//!     "rude".into(),
//!     LabelValueDefinitionSeverity::Inform.into(),
//!     LabelValueDefinitionBlurs::Content.into(),
//!     vec![],
//! );
//! // The user's preferences as getPreferences returns them.
//! let opts_for = |visibility: &str| -> ModerationOpts {
//!     let list = PreferenceList::new(vec![
//!         json!({"$type": "app.bsky.actor.defs#labelersPref", "labelers": [{"did": "did:plc:labeler"}]}),
//!         json!({"$type": "app.bsky.actor.defs#contentLabelPref", "labelerDid": "did:plc:labeler",
//!                "label": "rude", "visibility": visibility}),
//!     ]);
//!     let prefs = BskyPreferences::from_items(&list, &[]);
//!     assert_eq!(accept_labelers_for(&prefs), "did:plc:labeler");
//!     ModerationOpts::new(Some(me.clone()), prefs.moderation_prefs.to_moderation_prefs())
//!         .with_label_defs(labeler.clone(), vec![interpret_label_value_definition(&rude, Some(&labeler))])
//! };
//!
//! let labelled = post(true)?;
//! let (hide, warn, ignore) = (opts_for("hide"), opts_for("warn"), opts_for("ignore"));
//! assert!(moderate_post(&labelled, &hide).ui(ModerationContext::ContentList).filter());
//! let warned = moderate_post(&labelled, &warn);
//! let warned = warned.ui(ModerationContext::ContentList);
//! assert!(!warned.filter() && warned.blur() && !warned.no_override);
//! let ignored = moderate_post(&labelled, &ignore);
//! assert!(ModerationContext::ALL.iter().all(|c| {
//!     let ui = ignored.ui(*c);
//!     !ui.filter() && !ui.blur() && !ui.alert() && !ui.inform()
//! }));
//! // Without the label, nothing happens even with `hide`.
//! let plain = post(false)?;
//! assert!(!moderate_post(&plain, &hide).ui(ModerationContext::ContentList).filter());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Preferences the user sets in the Bluesky app (muted words, hidden
//! posts, adult content, labelers) come back in the same
//! [`BskyPreferences`](crate::bsky::BskyPreferences), so the decisions
//! match what the official app shows for the same account.
//!
//! (This module holds documentation only; its snippets use the `app-bsky`
//! helpers, hence the feature gate.)
#![cfg(feature = "app-bsky")]
