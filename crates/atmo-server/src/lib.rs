//! atproto services in Rust: what a feed generator, a labeler or a custom
//! AppView needs on the server side.
//!
//! For now, **service auth**: the bearer JWTs one atproto service sends
//! another. When a user's PDS proxies a request (`atproto-proxy:
//! did:web:feed.example.com#bsky_fg`), it signs a short-lived token with the
//! user's key: `iss` the user, `aud` your service, `lxm` the method called.
//! [`ServiceAuthVerifier`] checks it exactly as `@atproto/xrpc-server` does
//! (token type, expiry, audience, method, issuer, ES256K/ES256 signature by
//! the issuer's current key, refetched once when it may have rotated) and
//! yields the caller's DID; each refusal is its own [`ServiceAuthError`]
//! with the XRPC status and error name to answer with. With the `mint`
//! feature (on by default), [`SigningKey`] and [`mint_service_jwt`] sign
//! such tokens for services that call others.
//!
//! The core needs no web framework: hand it the `Authorization` header and
//! the NSID of the route.
//!
//! ```no_run
//! # async fn demo(http: std::sync::Arc<dyn atmo_xrpc::HttpClient>)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use atmo_server::ServiceAuthVerifier;
//!
//! // Any HttpClient: atmo-xrpc's HyperClient or ReqwestClient, or yours.
//! let resolver = atmo_identity::Resolver::builder(http).build()?;
//! let verifier = ServiceAuthVerifier::new("did:web:feed.example.com", resolver)?;
//!
//! # let header: Option<&str> = None;
//! let caller = verifier
//!     .verify_header(header, Some("app.bsky.feed.getFeedSkeleton"))
//!     .await?;
//! println!("feed asked for by {}", caller.did);
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `mint` (default): [`SigningKey`] (K-256 and P-256 private keys,
//!   `Debug` without the secret), [`mint_service_jwt`], [`sign_jwt`].
//! - `axum`: [`axum::ServiceAuth`], an extractor that verifies the
//!   request's token for the route's NSID and yields the caller; a refusal
//!   answers its XRPC status and error JSON. Also `xrpc::XrpcRouter`:
//!   typed handlers for generated endpoints (`atmo-api`'s `server`
//!   feature, or `atmo_lexgen::Builder::server`) by NSID, parameters and input
//!   checked against the lexicon, and subscriptions over WebSocket.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "mint")]
pub mod mint;
pub mod service_auth;
pub mod xrpc;

#[cfg(feature = "mint")]
pub use mint::{mint_service_jwt, sign_jwt, MintError, SigningKey};
pub use service_auth::{
    key_of, KeyId, KeyLookupError, KeyResolver, ServiceAuthError, ServiceAuthVerifier,
    VerifiedCaller,
};
