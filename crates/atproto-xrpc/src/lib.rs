//! The XRPC layer of atproto: the bottom of the runtime crates.
//!
//! It sends XRPC requests and classifies their answers, and knows nothing of
//! sessions, accounts or tokens beyond "add these headers to this attempt".
//!
//! ```text
//! atproto-client (sessions, agent) ──┐
//! atproto-identity (handle → DID → PDS) ──► atproto-xrpc ──► atproto-types
//! atproto-oauth, atproto-sync (network parts) ──┘
//! ```
//!
//! - [`HttpClient`]: the HTTP seam, one method that sends a complete request
//!   (and one that streams the answer's body). `ReqwestClient` (feature
//!   `reqwest`) is the built-in one; applications can bring their own.
//! - [`ServiceUrl`] and [`check_url`]: service origins and the one URL
//!   policy of every layer (no plain `http://` except to loopback, unless
//!   allowed).
//! - [`Transport`]: one [`XrpcRequest`] in, an [`XrpcResponse`] (status,
//!   headers, body) or a classified [`Error`] out; per-call timeout, response
//!   size limit, 429 parsing, opt-in [`RetryPolicy`]. An [`Authorizer`] adds
//!   credentials to each attempt with the attempt's method and URL in hand
//!   ([`Bearer`] for password sessions, a DPoP signer for OAuth, [`NoAuth`]
//!   for public calls).
//! - [`Secret`]: a string that prints as `***`.
//!
//! # Features
//!
//! - `reqwest`: `ReqwestClient` (reqwest with rustls and the ring provider,
//!   the platform's root certificates). Off by default here; `atproto-client`
//!   turns it on by default.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod http;
#[cfg(feature = "reqwest")]
mod reqwest_client;
pub mod retry;
pub mod secret;
pub mod transport;
pub mod url;

pub use error::{Error, RateLimit, TransportError, TransportErrorKind, XrpcError};
pub use http::{
    BodyStream, BoxFuture, HttpClient, HttpError, HttpErrorKind, HttpMethod, HttpRequest,
    HttpResponse, StreamingResponse,
};
#[cfg(feature = "reqwest")]
pub use reqwest_client::{ReqwestClient, DEFAULT_CONNECT_TIMEOUT};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use transport::{
    classify, Authorizer, Bearer, NoAuth, Transport, TransportConfig, XrpcRequest, XrpcResponse,
    DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_TIMEOUT,
};
pub use url::{check_url, ServiceUrl, UrlError};
