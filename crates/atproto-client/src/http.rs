//! The HTTP boundary: what the transport asks of an HTTP client.
//!
//! The session logic needs nothing of HTTP beyond "send these bytes, give me
//! status, headers and body". [`HttpClient`] is that contract, so the crate's
//! core compiles without any HTTP stack; the `reqwest` feature (on by
//! default) supplies `ReqwestClient`, and an application that
//! already has an HTTP client (hyper, a test double, a WASM fetch...)
//! implements the trait for it instead.

use std::fmt;
use std::time::Duration;

use crate::store::BoxFuture;

/// `GET` for queries, `POST` for procedures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `POST`
    Post,
}

impl HttpMethod {
    /// `"GET"` or `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// One request, complete: the URL with its query, every header, the whole
/// body.
///
/// `Debug` shows header names only: the `authorization` header carries a
/// token. Implementations must not log header values either.
#[derive(Clone)]
pub struct HttpRequest {
    /// The method.
    pub method: HttpMethod,
    /// Absolute `http://` or `https://` URL, query included, already encoded.
    pub url: String,
    /// Headers in order, names lowercase; values are visible ASCII.
    pub headers: Vec<(String, String)>,
    /// The body (its `content-type` is among the headers).
    pub body: Option<Vec<u8>>,
    /// The whole exchange, from connecting to the last body byte, must finish
    /// within this; otherwise fail with [`HttpErrorKind::Timeout`].
    pub timeout: Duration,
    /// Stop reading and fail with [`HttpErrorKind::TooLarge`] once the body
    /// would exceed this many bytes.
    pub max_response_size: usize,
}

impl HttpRequest {
    /// Whether header `name` is a credential whose value must be kept out of
    /// logs (implementations mark it sensitive where their library can).
    pub fn is_sensitive_header(name: &str) -> bool {
        name.eq_ignore_ascii_case("authorization")
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A complete answer, whatever its status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers in order (names in any case).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// Why a request got no complete answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// No connection (DNS, refused, TLS handshake).
    Connect,
    /// The timeout of the request passed.
    Timeout,
    /// The connection broke while sending or reading the body.
    Body,
    /// The body was larger than `max_response_size`.
    TooLarge,
    /// Anything else.
    Other,
}

/// A failed exchange: its kind and a description (which must not contain
/// header values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// What went wrong.
    pub kind: HttpErrorKind,
    /// Details for people.
    pub message: String,
}

impl HttpError {
    /// An error of `kind`.
    pub fn new(kind: HttpErrorKind, message: impl Into<String>) -> Self {
        HttpError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for HttpError {}

/// Sends one HTTP request and reads the whole answer.
///
/// Any status is an answer (`Ok`): classifying 4xx/5xx is the transport's
/// job. Implementations should reuse connections; they are shared by all
/// clones of an agent and called concurrently.
///
/// URLs arrive already checked (https, or http only to loopback unless the
/// application allowed it). XRPC does not use redirects; an implementation
/// that follows them must drop the `authorization` header when the origin
/// changes, as reqwest does.
pub trait HttpClient: Send + Sync + 'static {
    /// Sends `request`, honouring its timeout and response size limit.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>>;
}

impl<T: HttpClient + ?Sized> HttpClient for std::sync::Arc<T> {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        (**self).send(request)
    }
}
