//! The plain XRPC transport: one XRPC request in, an answer (status,
//! headers, body) or a classified error out. It knows nothing about who is
//! signed in: an [`Authorizer`] given per call adds credentials to each
//! attempt, and the layer above reads the answer's headers. It knows nothing
//! about HTTP libraries either: it speaks to an [`HttpClient`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atmo_types::xrpc::{Method, RawBody};

use crate::error::{Error, RateLimit, TransportError, TransportErrorKind, XrpcError};
use crate::http::{
    HttpClient, HttpError, HttpErrorKind, HttpMethod, HttpRequest, HttpResponse, StreamingResponse,
};
use crate::retry::RetryPolicy;
#[cfg(test)]
use crate::retry::MAX_RETRY_DELAY;
use crate::secret::Secret;
use crate::url::ServiceUrl;

/// Adds credentials to one attempt of a request.
///
/// Called again for every attempt (retries included), with the method and
/// the full URL the attempt goes to, so that a scheme bound to them (a DPoP
/// proof: method, URL, a fresh `jti` and the server's latest nonce) can be
/// minted each time. A bearer token, or nothing, are the simple cases.
pub trait Authorizer: Send + Sync {
    /// Appends the headers that authenticate this attempt (names lowercase).
    /// An error stops the request before anything is sent.
    fn authorize(
        &self,
        method: HttpMethod,
        url: &str,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(), Error>;
}

/// No credentials: public calls, and calls whose caller set its own
/// `authorization` header.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAuth;

impl Authorizer for NoAuth {
    fn authorize(
        &self,
        _: HttpMethod,
        _: &str,
        _: &mut Vec<(String, String)>,
    ) -> Result<(), Error> {
        Ok(())
    }
}

/// `Authorization: Bearer <token>`.
#[derive(Clone, Copy)]
pub struct Bearer<'a>(pub &'a Secret);

impl fmt::Debug for Bearer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer(***)")
    }
}

impl Authorizer for Bearer<'_> {
    fn authorize(
        &self,
        _: HttpMethod,
        _: &str,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(), Error> {
        let token = self.0.expose();
        if !is_header_value(token.as_bytes(), false) {
            return Err(Error::InvalidRequest(
                "the access token is not a valid header value".into(),
            ));
        }
        let mut value = String::with_capacity(7 + token.len());
        value.push_str("Bearer ");
        value.push_str(token);
        headers.push(("authorization".to_owned(), value));
        Ok(())
    }
}

/// A successful (2xx) answer: its status and headers, and the body for the
/// endpoint to decode.
#[derive(Clone, Debug)]
pub struct XrpcResponse {
    /// The status code.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body with its content type.
    pub body: RawBody,
}

impl XrpcResponse {
    /// The first value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// Default per-call timeout: covers connecting, sending and reading the whole
/// answer. Generous because uploads and repository exports can be large; set
/// a shorter one per agent or per call for interactive use.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Default maximum response body: 64 MiB. Protects against a misbehaving
/// server or proxy streaming without end; raise it for `getRepo` of very
/// large repositories.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 64 * 1024 * 1024;

/// A prepared XRPC request with its body buffered, so that it can be sent
/// again byte for byte after a token refresh or a retry.
#[derive(Clone)]
pub struct XrpcRequest {
    /// The NSID, the path after `/xrpc/`.
    pub nsid: String,
    /// GET for queries, POST for procedures.
    pub method: Method,
    /// Query-string pairs, in order; repeated keys for arrays.
    pub query: Vec<(String, String)>,
    /// The request body with its content type.
    pub body: Option<RawBody>,
    /// Extra headers (`atproto-proxy`, `atproto-accept-labelers`, or a
    /// caller-set `authorization`, which authorizers then leave alone).
    pub headers: Vec<(String, String)>,
    /// The `Accept` header: the endpoint's output encoding.
    pub accept: Option<String>,
    /// Overrides the agent's timeout for this call.
    pub timeout: Option<Duration>,
    /// Retries for this call (see [`RetryPolicy`]); `None` sends once.
    pub retry: Option<RetryPolicy>,
    /// The endpoint itself declares an `ExpiredToken` error (confirmEmail,
    /// updateEmail, resetPassword, deleteAccount: an expired *email* token),
    /// so a 400 `ExpiredToken` is that typed error and not a reason to
    /// renew the credentials.
    pub declares_expired_token: bool,
}

impl XrpcRequest {
    /// A request without parameters or body.
    pub fn new(nsid: impl Into<String>, method: Method) -> Self {
        XrpcRequest {
            nsid: nsid.into(),
            method,
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            accept: None,
            timeout: None,
            retry: None,
            declares_expired_token: false,
        }
    }

    /// The value of an extra header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets an extra header, replacing one of the same name.
    pub fn set_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
    }
}

impl fmt::Debug for XrpcRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may hold a caller's Authorization: show names only.
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("XrpcRequest")
            .field("nsid", &self.nsid)
            .field("method", &self.method)
            .field("query", &self.query)
            .field("body", &self.body)
            .field("headers", &header_names)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Transport`].
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// Per-call timeout (see [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Largest accepted response body (see [`DEFAULT_MAX_RESPONSE_SIZE`]).
    pub max_response_size: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            timeout: DEFAULT_TIMEOUT,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
        }
    }
}

/// Sends XRPC requests through one shared [`HttpClient`] (connection reuse).
/// Cheap to clone.
#[derive(Clone)]
pub struct Transport {
    client: Arc<dyn HttpClient>,
    config: Arc<TransportConfig>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport over `client`.
    pub fn new(client: Arc<dyn HttpClient>, config: TransportConfig) -> Self {
        Transport {
            client,
            config: Arc::new(config),
        }
    }

    /// The settings.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Sends `req` to `base` (`<base>/xrpc/<nsid>?<query>`), authorized by
    /// `auth` on every attempt (unless the request carries its own
    /// `authorization` header), retrying as `req.retry` allows. A 2xx answer
    /// is returned with its headers; anything else is classified into an
    /// [`Error`] that keeps the status and, for XRPC errors, the headers.
    pub async fn send(
        &self,
        base: &ServiceUrl,
        req: &XrpcRequest,
        auth: &dyn Authorizer,
    ) -> Result<XrpcResponse, Error> {
        let url = url_for(base, req)?;
        let answer = self.exchange_owned(url, req, auth).await?;
        classify(&req.nsid, answer)
    }

    /// Sends `req` and returns once the status and headers are in, the body
    /// still to be read: for large binary outputs (`getRepo`, `getBlob`).
    /// Errors are classified as by [`Transport::send`] (an error body is read
    /// whole, within the size limit and the timeout); a 2xx body is left to
    /// the caller, with the size limit still counted as it is read. Not
    /// retried.
    pub async fn send_streaming(
        &self,
        base: &ServiceUrl,
        req: &XrpcRequest,
        auth: &dyn Authorizer,
    ) -> Result<StreamingResponse, Error> {
        let url = url_for(base, req)?;
        let request = self.http_request(url, req, auth)?;
        let (limit, timeout) = (request.max_response_size, request.timeout);
        // The client bounds the wait for the head; an error body is read
        // here, so the same deadline must cover it too, or a server that
        // sends a 5xx head and then nothing would hold the caller forever.
        let work = async {
            let answer = self
                .client
                .send_streaming(request)
                .await
                .map_err(|e| http_failure(&req.nsid, limit, e))?;
            if (200..300).contains(&answer.status) {
                return Ok(answer);
            }
            let answer = answer
                .collect(limit)
                .await
                .map_err(|e| http_failure(&req.nsid, limit, e))?;
            Err(error_of(&req.nsid, answer))
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(Error::Transport(TransportError {
                nsid: req.nsid.clone(),
                kind: TransportErrorKind::Timeout,
                message: format!("no complete answer within {} ms", timeout.as_millis()),
            })),
        }
    }

    /// Sends `req` to the full `url` (the caller built it, query included),
    /// authorized by `auth` on every attempt, with the retries `req.retry`
    /// allows. Any status is an answer: classifying it is the caller's (see
    /// [`classify`]); only "no answer" is an error here.
    pub async fn exchange(
        &self,
        url: &str,
        req: &XrpcRequest,
        auth: &dyn Authorizer,
    ) -> Result<HttpResponse, Error> {
        self.exchange_owned(url.to_owned(), req, auth).await
    }

    /// [`Transport::exchange`] with the URL handed over, so that a request
    /// without retries sends it without a copy.
    async fn exchange_owned(
        &self,
        url: String,
        req: &XrpcRequest,
        auth: &dyn Authorizer,
    ) -> Result<HttpResponse, Error> {
        let Some(policy) = req
            .retry
            .filter(|p| req.method == Method::Query || p.retry_procedures)
        else {
            return self.attempt(url, req, auth).await;
        };
        let mut attempt = 0u32;
        loop {
            let outcome = self.attempt(url.clone(), req, auth).await;
            if let Some(delay) = policy.delay_for(&outcome, attempt) {
                attempt += 1;
                tokio::time::sleep(delay).await;
                continue;
            }
            return outcome;
        }
    }

    async fn attempt(
        &self,
        url: String,
        req: &XrpcRequest,
        auth: &dyn Authorizer,
    ) -> Result<HttpResponse, Error> {
        let request = self.http_request(url, req, auth)?;
        let limit = request.max_response_size;
        self.client
            .send(request)
            .await
            .map_err(|e| http_failure(&req.nsid, limit, e))
    }

    /// The HTTP request for one attempt of `req`: headers checked, the
    /// authorizer's credentials added unless the caller set an
    /// `authorization` of their own, body, limits.
    fn http_request(
        &self,
        url: String,
        req: &XrpcRequest,
        auth: &dyn Authorizer,
    ) -> Result<HttpRequest, Error> {
        let mut headers = Vec::with_capacity(req.headers.len() + 3);
        if let Some(accept) = &req.accept {
            headers.push(("accept".to_owned(), accept.clone()));
        }
        let mut has_auth = false;
        for (name, value) in &req.headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(Error::InvalidRequest(format!(
                    "invalid header name {name:?}"
                )));
            }
            if !is_header_value(value.as_bytes(), true) {
                return Err(Error::InvalidRequest(format!(
                    "invalid value for header {name}"
                )));
            }
            has_auth |= HttpRequest::is_sensitive_header(name);
            headers.push((name.to_ascii_lowercase(), value.clone()));
        }
        let method = match req.method {
            Method::Query => HttpMethod::Get,
            Method::Procedure => HttpMethod::Post,
        };
        if !has_auth {
            auth.authorize(method, &url, &mut headers)?;
        }
        let body = req.body.as_ref().map(|body| {
            headers.push(("content-type".to_owned(), body.content_type.clone()));
            body.bytes.clone()
        });
        Ok(HttpRequest {
            method,
            url,
            headers,
            body,
            timeout: req.timeout.unwrap_or(self.config.timeout),
            max_response_size: self.config.max_response_size,
        })
    }
}

/// `<base>/xrpc/<nsid>?<query>`, once `req.nsid` is known to be an NSID (so
/// it cannot walk the path elsewhere).
fn url_for(base: &ServiceUrl, req: &XrpcRequest) -> Result<String, Error> {
    let nsid = &req.nsid;
    if atmo_types::Nsid::check(nsid).is_err() {
        return Err(Error::InvalidRequest(format!("not an NSID: {nsid:?}")));
    }
    Ok(base.xrpc_url(nsid, &req.query))
}

/// An HTTP client's failure as the transport reports it.
fn http_failure(nsid: &str, limit: usize, e: HttpError) -> Error {
    match e.kind {
        HttpErrorKind::TooLarge => Error::ResponseTooLarge {
            nsid: nsid.to_owned(),
            limit,
        },
        kind => Error::Transport(TransportError {
            nsid: nsid.to_owned(),
            kind: kind.into(),
            message: e.message,
        }),
    }
}

/// Whether `v` is visible ASCII (and, with `spaces`, space and tab): no line
/// breaks to smuggle another header in. Branch-free, so that checking a
/// long token on every call costs next to nothing.
fn is_header_value(v: &[u8], spaces: bool) -> bool {
    if spaces {
        v.iter().fold(true, |ok, &b| {
            ok & ((b' '..=b'~').contains(&b) | (b == b'\t'))
        })
    } else {
        v.iter()
            .fold(true, |ok, &b| ok & (b'!'..=b'~').contains(&b))
    }
}

/// A byte allowed in an HTTP header name (RFC 9110 `tchar`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Turns an HTTP answer into a response (2xx) or the matching error.
pub fn classify(nsid: &str, r: HttpResponse) -> Result<XrpcResponse, Error> {
    if (200..300).contains(&r.status) {
        let content_type = r.header("content-type").unwrap_or("").to_owned();
        return Ok(XrpcResponse {
            status: r.status,
            body: RawBody::new(content_type, r.body),
            headers: r.headers,
        });
    }
    Err(error_of(nsid, r))
}

/// The error a non-2xx answer stands for.
fn error_of(nsid: &str, r: HttpResponse) -> Error {
    let content_type = r.header("content-type").unwrap_or("").to_owned();
    // The XRPC error body: {"error": "Name", "message": "..."}; anything
    // else (HTML from a proxy, empty, other JSON) is reported as such.
    let parsed = serde_json::from_slice::<ErrorBody>(&r.body).ok();
    let (error, message) = match &parsed {
        Some(b) => (b.error.clone(), b.message.clone()),
        None => (None, None),
    };
    if r.status == 429 {
        return Error::RateLimited(Box::new(rate_limit(nsid, &r, error, message)));
    }
    if let Some(error) = error.filter(|e| !e.is_empty()) {
        return Error::Xrpc(XrpcError {
            nsid: nsid.to_owned(),
            status: r.status,
            error,
            message,
            headers: r.headers,
        });
    }
    let reason = if r.body.is_empty() {
        "empty response body".to_owned()
    } else if parsed.is_some() {
        match message {
            Some(m) => format!("JSON error body without an error name: {m}"),
            None => "JSON error body without an error name".to_owned(),
        }
    } else {
        let ct = if content_type.is_empty() {
            "no content type"
        } else {
            content_type.as_str()
        };
        format!(
            "the error body is not XRPC JSON ({ct}, {} bytes){}",
            r.body.len(),
            http_reason(r.status)
                .map(|s| format!("; HTTP says: {s}"))
                .unwrap_or_default()
        )
    };
    Error::UnexpectedResponse {
        nsid: nsid.to_owned(),
        status: r.status,
        reason,
    }
}

/// What an error body says: its `error` and `message` strings, when it is a
/// JSON object with them. Read in one pass that keeps nothing else (any
/// other JSON is skipped, not built), so that a hostile error body costs no
/// more memory than its own bytes, where a `serde_json::Value` of a
/// 64 MiB `[0,0,...]` would take gigabytes.
#[derive(Default)]
struct ErrorBody {
    error: Option<String>,
    message: Option<String>,
}

impl<'de> serde::Deserialize<'de> for ErrorBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ErrorBodyVisitor)
    }
}

struct ErrorBodyVisitor;

impl<'de> serde::de::Visitor<'de> for ErrorBodyVisitor {
    type Value = ErrorBody;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ErrorBody, A::Error> {
        let mut body = ErrorBody::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "error" => body.error = map.next_value::<OnlyString>()?.0,
                "message" => body.message = map.next_value::<OnlyString>()?.0,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(body)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorBody, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(ErrorBody::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<ErrorBody, E> {
        Ok(ErrorBody::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<ErrorBody, E> {
        Ok(ErrorBody::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<ErrorBody, E> {
        Ok(ErrorBody::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<ErrorBody, E> {
        Ok(ErrorBody::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<ErrorBody, E> {
        Ok(ErrorBody::default())
    }

    fn visit_unit<E>(self) -> Result<ErrorBody, E> {
        Ok(ErrorBody::default())
    }
}

/// A JSON value kept when it is a string and skipped otherwise.
struct OnlyString(Option<String>);

impl<'de> serde::Deserialize<'de> for OnlyString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OnlyString;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_str<E>(self, v: &str) -> Result<OnlyString, E> {
                Ok(OnlyString(Some(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<OnlyString, E> {
                Ok(OnlyString(Some(v)))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OnlyString, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(OnlyString(None))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OnlyString, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(OnlyString(None))
            }

            fn visit_bool<E>(self, _: bool) -> Result<OnlyString, E> {
                Ok(OnlyString(None))
            }

            fn visit_i64<E>(self, _: i64) -> Result<OnlyString, E> {
                Ok(OnlyString(None))
            }

            fn visit_u64<E>(self, _: u64) -> Result<OnlyString, E> {
                Ok(OnlyString(None))
            }

            fn visit_f64<E>(self, _: f64) -> Result<OnlyString, E> {
                Ok(OnlyString(None))
            }

            fn visit_unit<E>(self) -> Result<OnlyString, E> {
                Ok(OnlyString(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The standard reason phrase of the statuses a server or proxy in front of
/// it plausibly answers with.
fn http_reason(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

fn rate_limit(
    nsid: &str,
    r: &HttpResponse,
    error: Option<String>,
    message: Option<String>,
) -> RateLimit {
    let num = |name| r.header(name).and_then(|v| v.parse::<u64>().ok());
    RateLimit {
        nsid: nsid.to_owned(),
        error,
        message,
        limit: num("ratelimit-limit"),
        remaining: num("ratelimit-remaining"),
        reset: match reset_time(r, SystemTime::now()) {
            Reset::At(t) => Some(t),
            Reset::Unknown | Reset::Never => None,
        },
        policy: r.header("ratelimit-policy").map(str::to_owned),
    }
}

/// What a response's `ratelimit-reset` and `retry-after` headers say about
/// when to come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reset {
    /// Neither header, or only values that are not numbers or dates.
    Unknown,
    /// At this time.
    At(SystemTime),
    /// So far ahead that the time cannot be represented (a hostile or broken
    /// server sending `u64::MAX` seconds): never worth waiting for.
    Never,
}

/// Longest `retry-after` value read as an HTTP date. An IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) is 29 characters; anything much longer
/// is not one, and a date parser need not see years with dozens of digits.
const MAX_HTTP_DATE_LEN: usize = 32;

/// When the server says to come back: the later of `ratelimit-reset` (epoch
/// seconds as the atproto PDS sends it; small values are read as delta
/// seconds, as in the IETF draft) and `retry-after` (delta seconds or an
/// HTTP date). Every sum is checked: a value past what [`SystemTime`] can
/// hold is [`Reset::Never`], never a panic. Garbage is ignored.
fn reset_time(h: &HttpResponse, now: SystemTime) -> Reset {
    let after = |base: SystemTime, secs: u64| match base.checked_add(Duration::from_secs(secs)) {
        Some(t) => Reset::At(t),
        None => Reset::Never,
    };
    let from_reset = h
        .header("ratelimit-reset")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| {
            if n > 1_000_000_000 {
                after(UNIX_EPOCH, n)
            } else {
                after(now, n)
            }
        })
        .unwrap_or(Reset::Unknown);
    let from_retry_after = h
        .header("retry-after")
        .and_then(|v| match v.parse::<u64>() {
            Ok(secs) => Some(after(now, secs)),
            Err(_) if v.len() <= MAX_HTTP_DATE_LEN => {
                atmo_types::time::parse_http_date(v).map(Reset::At)
            }
            Err(_) => None,
        })
        .unwrap_or(Reset::Unknown);
    match (from_reset, from_retry_after) {
        (Reset::Never, _) | (_, Reset::Never) => Reset::Never,
        (Reset::At(a), Reset::At(b)) => Reset::At(a.max(b)),
        (Reset::At(t), Reset::Unknown) | (Reset::Unknown, Reset::At(t)) => Reset::At(t),
        (Reset::Unknown, Reset::Unknown) => Reset::Unknown,
    }
}

impl crate::retry::RetryHint for HttpResponse {
    fn retry_hint(&self) -> Option<Option<Duration>> {
        if self.status == 429 || self.status == 503 {
            let now = SystemTime::now();
            match reset_time(self, now) {
                Reset::Unknown => Some(None),
                // A time in the past: the limit has reset already.
                Reset::At(t) => Some(Some(t.duration_since(now).unwrap_or_default())),
                Reset::Never => None,
            }
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, ct: &str, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("Content-Type".into(), ct.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    fn with(headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status: 429,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn classifies() {
        let ok = classify("a.b", resp(200, "application/json", "{}")).unwrap();
        assert_eq!(ok.body.content_type, "application/json");
        assert_eq!(ok.header("content-type"), Some("application/json"));
        match classify(
            "a.b",
            resp(400, "application/json", r#"{"error":"Foo","message":"m"}"#),
        ) {
            Err(Error::Xrpc(e)) => {
                assert_eq!((e.status, e.error.as_str()), (400, "Foo"));
                assert_eq!(e.message.as_deref(), Some("m"));
                // The answer's headers stay with the error for the layer above.
                assert_eq!(e.header("content-type"), Some("application/json"));
            }
            other => panic!("{other:?}"),
        }
        for (body, needle) in [
            (
                "<html>bad gateway</html>",
                "not XRPC JSON (text/html, 24 bytes); HTTP says: Bad Gateway",
            ),
            ("", "empty"),
            (r#"{"message":"x"}"#, "without an error name: x"),
            (r#"{"error":"#, "not XRPC JSON"),
            (r#"{"error":5}"#, "without an error name"),
            ("[1]", "without an error name"),
        ] {
            match classify("a.b", resp(502, "text/html", body)) {
                Err(e @ Error::UnexpectedResponse { status: 502, .. }) => {
                    assert!(e.to_string().contains(needle), "{e}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn parses_reset_headers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |t| Reset::At(t);
        let h = with(&[("RateLimit-Reset", "1700000100")]);
        assert_eq!(reset_time(&h, now), at(now + Duration::from_secs(100)));
        let h = with(&[("ratelimit-reset", "1700000100"), ("retry-after", "300")]);
        assert_eq!(reset_time(&h, now), at(now + Duration::from_secs(300)));
        let h = with(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(
            reset_time(&h, now),
            at(UNIX_EPOCH + Duration::from_secs(1_445_412_480))
        );
        assert_eq!(
            reset_time(&with(&[("retry-after", "garbage")]), now),
            Reset::Unknown
        );
        let h = with(&[("ratelimit-reset", "30")]);
        assert_eq!(reset_time(&h, now), at(now + Duration::from_secs(30)));
    }

    /// Times from the network never overflow: `u64::MAX` seconds, dates far
    /// ahead or behind, and garbage end in a value, not a panic.
    #[test]
    fn reset_headers_never_overflow() {
        let now = SystemTime::now();
        let max = u64::MAX.to_string();
        for (name, value) in [
            ("retry-after", max.as_str()),
            ("ratelimit-reset", max.as_str()),
            ("ratelimit-reset", "9223372036854775807"),
            ("retry-after", "9223372036854775807"),
        ] {
            let h = with(&[(name, value)]);
            // Past what SystemTime holds (u64::MAX seconds on every
            // platform; i64::MAX only where it counts in 32 bits or less).
            let reset = reset_time(&h, now);
            if value == max {
                assert_eq!(reset, Reset::Never, "{name}: {value}");
            }
            // The 429 still classifies, with no reset time or a far one...
            match classify("a.b", h.clone()) {
                Err(Error::RateLimited(r)) => {
                    assert!(r.reset.is_none_or(|t| t > now + MAX_RETRY_DELAY), "{r:?}")
                }
                other => panic!("{other:?}"),
            }
            // ...and is not worth retrying, whatever the policy allows.
            let policy = RetryPolicy::retries(3).delays(Duration::MAX, Duration::MAX);
            let outcome: Result<HttpResponse, Error> = Ok(h);
            assert_eq!(policy.delay_for(&outcome, 0), None, "{name}: {value}");
        }
        // Either header too far ahead wins over a sane other one.
        let h = with(&[("retry-after", "5"), ("ratelimit-reset", max.as_str())]);
        assert_eq!(reset_time(&h, now), Reset::Never);
        for garbage in [
            "-1",
            "1.5",
            "",
            "18446744073709551616",
            "Wed, 21 Oct 99999999999999999999 07:28:00 GMT",
            "Wed, 21 Oct -9223372036854775808 07:28:00 GMT",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "\u{0}",
        ] {
            let h = with(&[("retry-after", garbage), ("ratelimit-reset", garbage)]);
            assert_eq!(reset_time(&h, now), Reset::Unknown, "{garbage:?}");
            // No hint: an ordinary backoff retry.
            assert_eq!(crate::retry::RetryHint::retry_hint(&h), Some(None));
        }
        // Far in the past: the limit has reset already, so no wait.
        let h = with(&[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")]);
        assert_eq!(reset_time(&h, now), Reset::At(UNIX_EPOCH));
        assert_eq!(
            crate::retry::RetryHint::retry_hint(&h),
            Some(Some(Duration::ZERO))
        );
        // A date a millennium ahead is a time, just not one to wait for.
        let h = with(&[("retry-after", "Fri, 01 Jan 3000 00:00:00 GMT")]);
        assert!(matches!(reset_time(&h, now), Reset::At(_)));
        let policy = RetryPolicy::retries(3);
        let outcome: Result<HttpResponse, Error> = Ok(h);
        assert_eq!(policy.delay_for(&outcome, 0), None);
        let outcome: Result<HttpResponse, Error> = Ok(with(&[("retry-after", max.as_str())]));
        assert_eq!(policy.delay_for(&outcome, 0), None);
        let policy = RetryPolicy::retries(3).delays(Duration::MAX, Duration::MAX);
        assert_eq!(policy.delay_for(&outcome, 0), None);
    }

    fn transport() -> Transport {
        struct Unused;
        impl HttpClient for Unused {
            fn send(
                &self,
                _: HttpRequest,
            ) -> crate::http::BoxFuture<'_, Result<HttpResponse, HttpError>> {
                Box::pin(async { Err(HttpError::new(HttpErrorKind::Other, "unused")) })
            }
        }
        Transport::new(Arc::new(Unused), TransportConfig::default())
    }

    #[test]
    fn builds_requests() {
        let t = transport();
        let base = ServiceUrl::parse("https://pds.example/some/path?x=1").unwrap();
        let mut req = XrpcRequest::new("app.bsky.feed.getTimeline", Method::Query);
        req.query = vec![("limit".into(), "5".into()), ("a b".into(), "c&d".into())];
        req.accept = Some("application/json".into());
        let token = Secret::new("tok");
        let url = url_for(&base, &req).unwrap();
        assert_eq!(
            url,
            "https://pds.example/xrpc/app.bsky.feed.getTimeline?limit=5&a+b=c%26d"
        );
        let h = t.http_request(url.clone(), &req, &Bearer(&token)).unwrap();
        assert_eq!(h.method, HttpMethod::Get);
        assert_eq!(
            h.headers,
            [
                ("accept".to_owned(), "application/json".to_owned()),
                ("authorization".to_owned(), "Bearer tok".to_owned())
            ]
        );
        assert!(!format!("{h:?}").contains("tok"));
        assert!(!format!("{:?}", Bearer(&token)).contains("tok"));
        // The authorizer sees the method and the URL of the attempt.
        struct Sees;
        impl Authorizer for Sees {
            fn authorize(
                &self,
                method: HttpMethod,
                url: &str,
                headers: &mut Vec<(String, String)>,
            ) -> Result<(), Error> {
                headers.push(("x-seen".into(), format!("{} {url}", method.as_str())));
                Ok(())
            }
        }
        let h = t.http_request(url.clone(), &req, &Sees).unwrap();
        assert!(h.headers.contains(&("x-seen".into(), format!("GET {url}"))));
        // A caller's own authorization wins; the body brings its type.
        req.set_header("Authorization", "Basic xyz");
        req.method = Method::Procedure;
        req.body = Some(RawBody::new("text/plain", b"hi".to_vec()));
        let h = t.http_request(url.clone(), &req, &Bearer(&token)).unwrap();
        assert_eq!(h.method, HttpMethod::Post);
        assert_eq!(h.body.as_deref(), Some(&b"hi"[..]));
        assert!(h
            .headers
            .contains(&("authorization".into(), "Basic xyz".into())));
        assert!(h
            .headers
            .contains(&("content-type".into(), "text/plain".into())));
        assert!(!h.headers.iter().any(|(_, v)| v.contains("tok")));
        // Header injection and path tricks are refused before sending.
        req.set_header("x-a", "1\r\nx-b: 2");
        assert!(t.http_request(url.clone(), &req, &NoAuth).is_err());
        req.headers.clear();
        req.set_header("bad name", "1");
        assert!(t.http_request(url.clone(), &req, &NoAuth).is_err());
        req.headers.clear();
        req.nsid = "../admin".into();
        assert!(matches!(
            url_for(&base, &req),
            Err(Error::InvalidRequest(_))
        ));
        let req = XrpcRequest::new("a.b.c", Method::Query);
        assert!(t
            .http_request(url, &req, &Bearer(&Secret::new("a\nb")))
            .is_err());
    }
}
