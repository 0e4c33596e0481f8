//! The XRPC layer of atproto: the bottom of the runtime crates.
//!
//! It sends XRPC requests and classifies their answers, and knows nothing of
//! accounts or credentials beyond "add these headers to this attempt".
//!
//! ```text
//! atmo-client (the agent) ──────────────┐
//! atmo-identity (handle → DID → PDS) ───┼──► atmo-xrpc ──► atmo-types
//! network parts of OAuth and sync ──────┘
//! ```
//!
//! - [`HttpClient`]: the HTTP seam, one method that sends a complete request
//!   (and one that streams the answer's body). `HyperClient` (feature
//!   `hyper`) and `ReqwestClient` (feature `reqwest`) are built in;
//!   applications can bring their own.
//! - [`ServiceUrl`] and [`check_url`]: service origins and the one URL
//!   policy of every layer (no plain `http://` except to loopback, unless
//!   allowed).
//! - [`Transport`]: one [`XrpcRequest`] in, an [`XrpcResponse`] (status,
//!   headers, body) or a classified [`Error`] out; per-call timeout, response
//!   size limit, 429 parsing, opt-in [`RetryPolicy`]. An [`Authorizer`] adds
//!   credentials to each attempt with the attempt's method and URL in hand
//!   ([`Bearer`] for password logins, a DPoP signer for OAuth, [`NoAuth`]
//!   for public calls).
//! - [`Secret`]: a string that prints as `***`.
//!
//! # Features
//!
//! - `hyper`: `HyperClient`, hyper's pooled HTTP/1.1 client with rustls (the
//!   ring provider) and the platform's root certificates; no redirects, no
//!   proxies. Off by default here; `atmo-client` turns it on by default.
//! - `reqwest`: `ReqwestClient` (reqwest with rustls and the ring provider,
//!   the platform's verifier), for applications that already build reqwest
//!   or need its proxy and redirect handling.
//!
//! Both clients hand ring to their own TLS configuration and never install
//! it as rustls's process-wide default provider: that choice stays the
//! application's. reqwest is built here without a provider of its own
//! (`rustls-no-provider`), so an application that builds its own
//! `reqwest::Client` in the same build either installs a provider first
//! (`CryptoProvider::install_default`) or wraps the one
//! `ReqwestClient::new()` configured (`ReqwestClient::inner`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "hyper", feature = "reqwest"))]
mod client_util;
pub mod error;
pub mod http;
#[cfg(feature = "hyper")]
mod hyper_client;
#[cfg(feature = "reqwest")]
mod reqwest_client;
pub mod retry;
pub mod secret;
pub mod transport;
pub mod url;

pub use error::{Error, RateLimit, TransportError, TransportErrorKind, XrpcError};

/// Hooks for the fuzz targets in `fuzz/`: not part of the API, and only
/// built with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use std::time::Duration;

    use crate::http::HttpResponse;
    use crate::retry::RetryPolicy;

    /// The wait a retry policy that allows any wait would choose after
    /// `response` on its first attempt: `None` when it would not retry.
    pub fn retry_delay(response: &HttpResponse) -> Option<Duration> {
        RetryPolicy::retries(1)
            .delays(Duration::from_millis(1), Duration::MAX)
            .delay_for(&Ok::<_, crate::Error>(response.clone()), 0)
    }
}
pub use http::{
    BodyStream, BoxFuture, HttpClient, HttpError, HttpErrorKind, HttpMethod, HttpRequest,
    HttpResponse, StreamingResponse,
};
#[cfg(feature = "hyper")]
pub use hyper_client::{HyperClient, HyperClientBuilder, DEFAULT_CONNECT_TIMEOUT};
#[cfg(feature = "reqwest")]
pub use reqwest_client::ReqwestClient;
pub use retry::{RetryPolicy, MAX_RETRY_DELAY};
pub use secret::Secret;
pub use transport::{
    classify, Authorizer, Bearer, NoAuth, Transport, TransportConfig, XrpcRequest, XrpcResponse,
    DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_TIMEOUT,
};
pub use url::{check_url, ServiceUrl, UrlError};
