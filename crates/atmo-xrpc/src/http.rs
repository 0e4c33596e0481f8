//! The HTTP boundary: what the transport asks of an HTTP client.
//!
//! Everything above this crate needs nothing of HTTP beyond "send these
//! bytes, give me status, headers and body". [`HttpClient`] is that contract,
//! so the crates above compile without any HTTP stack; the `reqwest` feature
//! supplies `ReqwestClient`, and an application that already has an HTTP
//! client (hyper, a test double, a WASM fetch...) implements the trait for it
//! instead.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed `Send` future: what [`HttpClient`] (and the stores and hooks of
/// the crates above) return. Boxing keeps the traits object-safe, so a
/// transport holds any client without a type parameter.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
        find_header(&self.headers, name)
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
    /// The [`HttpErrorKind::TooLarge`] error for a body over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        HttpError::new(
            HttpErrorKind::TooLarge,
            format!("the response body is larger than {limit} bytes"),
        )
    }

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

    /// Sends `request` and returns as soon as the status and headers are in,
    /// with the body to be read in chunks: for large binary answers (a
    /// repository export, a video blob) that should not sit in memory whole.
    ///
    /// `max_response_size` still bounds the total the body yields; the
    /// timeout covers the exchange up to the headers (each chunk read is the
    /// caller's to bound). The default buffers the whole body through
    /// [`HttpClient::send`] and yields it as one chunk, so every client
    /// streams correctly, if not in constant memory.
    fn send_streaming(
        &self,
        request: HttpRequest,
    ) -> BoxFuture<'_, Result<StreamingResponse, HttpError>> {
        Box::pin(async move {
            let r = self.send(request).await?;
            Ok(StreamingResponse {
                status: r.status,
                headers: r.headers,
                body: Box::new(OneChunk(Some(r.body))),
            })
        })
    }
}

impl<T: HttpClient + ?Sized> HttpClient for std::sync::Arc<T> {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        (**self).send(request)
    }

    fn send_streaming(
        &self,
        request: HttpRequest,
    ) -> BoxFuture<'_, Result<StreamingResponse, HttpError>> {
        (**self).send_streaming(request)
    }
}

/// An answer whose body is still on the wire.
pub struct StreamingResponse {
    /// The status code.
    pub status: u16,
    /// Headers in order (names in any case).
    pub headers: Vec<(String, String)>,
    /// The body, chunk by chunk.
    pub body: Box<dyn BodyStream>,
}

impl StreamingResponse {
    /// The first value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Reads the rest of the body into memory, failing with
    /// [`HttpErrorKind::TooLarge`] past `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> Result<HttpResponse, HttpError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.body.next_chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(HttpError::too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status: self.status,
            headers: self.headers,
            body,
        })
    }
}

impl fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A response body read chunk by chunk.
pub trait BodyStream: Send {
    /// The next chunk, `Ok(None)` at the end. Fails with
    /// [`HttpErrorKind::Body`] when the connection breaks and
    /// [`HttpErrorKind::TooLarge`] past the request's size limit.
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Vec<u8>>, HttpError>>;
}

/// A body already in memory, yielded at once.
struct OneChunk(Option<Vec<u8>>);

impl BodyStream for OneChunk {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Vec<u8>>, HttpError>> {
        let chunk = self.0.take().filter(|c| !c.is_empty());
        Box::pin(async move { Ok(chunk) })
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}
