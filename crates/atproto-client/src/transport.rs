//! The plain XRPC transport: one XRPC request in, a body or a classified
//! error out. It knows nothing about sessions (the session manager wraps it)
//! nor about HTTP libraries (it speaks to an [`HttpClient`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atproto_types::xrpc::{Method, RawBody};

use crate::error::{Error, RateLimit, TransportError, TransportErrorKind};
use crate::http::{HttpClient, HttpErrorKind, HttpMethod, HttpRequest, HttpResponse};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::url::ServiceUrl;

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
    /// caller-set `authorization`, which the session manager then leaves alone).
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
    /// refresh the session.
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

    /// Sends `req` to `base` (`<base>/xrpc/<nsid>`), with `bearer` as
    /// `Authorization` unless the request sets its own, retrying as
    /// `req.retry` allows. Success is any 2xx; the body is returned raw for
    /// the endpoint to decode.
    pub async fn send(
        &self,
        base: &ServiceUrl,
        req: &XrpcRequest,
        bearer: Option<&Secret>,
    ) -> Result<RawBody, Error> {
        let policy = req
            .retry
            .filter(|p| req.method == Method::Query || p.retry_procedures);
        let mut attempt = 0u32;
        loop {
            let outcome = self.attempt(base, req, bearer).await;
            if let Some(p) = policy {
                if let Some(delay) = p.delay_for(&outcome, attempt) {
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return outcome.and_then(|r| classify(&req.nsid, r));
        }
    }

    async fn attempt(
        &self,
        base: &ServiceUrl,
        req: &XrpcRequest,
        bearer: Option<&Secret>,
    ) -> Result<HttpResponse, Error> {
        let request = http_request(base, req, bearer, &self.config)?;
        let limit = request.max_response_size;
        self.client.send(request).await.map_err(|e| match e.kind {
            HttpErrorKind::TooLarge => Error::ResponseTooLarge {
                nsid: req.nsid.clone(),
                limit,
            },
            kind => Error::Transport(TransportError {
                nsid: req.nsid.clone(),
                kind: match kind {
                    HttpErrorKind::Connect => TransportErrorKind::Connect,
                    HttpErrorKind::Timeout => TransportErrorKind::Timeout,
                    HttpErrorKind::Body => TransportErrorKind::Body,
                    _ => TransportErrorKind::Other,
                },
                message: e.message,
            }),
        })
    }
}

/// The HTTP request for `req`: URL, headers (the bearer token unless the
/// caller set an `authorization` of their own), body, limits.
fn http_request(
    base: &ServiceUrl,
    req: &XrpcRequest,
    bearer: Option<&Secret>,
    config: &TransportConfig,
) -> Result<HttpRequest, Error> {
    let nsid = &req.nsid;
    if nsid.is_empty()
        || !nsid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(Error::Invalid(format!("not an NSID: {nsid:?}")));
    }
    let mut headers = Vec::with_capacity(req.headers.len() + 3);
    if let Some(accept) = &req.accept {
        headers.push(("accept".to_owned(), accept.clone()));
    }
    let mut has_auth = false;
    for (name, value) in &req.headers {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(Error::Invalid(format!("invalid header name {name:?}")));
        }
        if !is_header_value(value.as_bytes(), true) {
            return Err(Error::Invalid(format!("invalid value for header {name}")));
        }
        has_auth |= HttpRequest::is_sensitive_header(name);
        headers.push((name.to_ascii_lowercase(), value.clone()));
    }
    if let (Some(token), false) = (bearer, has_auth) {
        let token = token.expose();
        if !is_header_value(token.as_bytes(), false) {
            return Err(Error::Invalid(
                "the access token is not a valid header value".into(),
            ));
        }
        let mut value = String::with_capacity(7 + token.len());
        value.push_str("Bearer ");
        value.push_str(token);
        headers.push(("authorization".to_owned(), value));
    }
    let body = req.body.as_ref().map(|body| {
        headers.push(("content-type".to_owned(), body.content_type.clone()));
        body.bytes.clone()
    });
    Ok(HttpRequest {
        method: match req.method {
            Method::Query => HttpMethod::Get,
            Method::Procedure => HttpMethod::Post,
        },
        url: base.xrpc_url(nsid, &req.query),
        headers,
        body,
        timeout: req.timeout.unwrap_or(config.timeout),
        max_response_size: config.max_response_size,
    })
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

/// Turns an HTTP answer into the body (2xx) or the matching error.
fn classify(nsid: &str, r: HttpResponse) -> Result<RawBody, Error> {
    let content_type = r.header("content-type").unwrap_or("").to_owned();
    if (200..300).contains(&r.status) {
        return Ok(RawBody::new(content_type, r.body));
    }
    // The XRPC error body: {"error": "Name", "message": "..."}; anything
    // else (HTML from a proxy, empty, other JSON) is reported as such.
    let parsed = serde_json::from_slice::<serde_json::Value>(&r.body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let (error, message) = (field("error"), field("message"));
    if r.status == 429 {
        return Err(Error::RateLimited(Box::new(rate_limit(
            nsid, &r, error, message,
        ))));
    }
    if let Some(error) = error.filter(|e| !e.is_empty()) {
        return Err(Error::Xrpc {
            nsid: nsid.to_owned(),
            status: r.status,
            error,
            message,
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
    Err(Error::UnexpectedResponse {
        nsid: nsid.to_owned(),
        status: r.status,
        reason,
    })
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
        reset: reset_time(r, SystemTime::now()),
        policy: r.header("ratelimit-policy").map(str::to_owned),
    }
}

/// When the server says to come back: the later of `ratelimit-reset` (epoch
/// seconds as the atproto PDS sends it; small values are read as delta
/// seconds, as in the IETF draft) and `retry-after` (delta seconds or an
/// HTTP date).
pub(crate) fn reset_time(h: &HttpResponse, now: SystemTime) -> Option<SystemTime> {
    let from_reset = h
        .header("ratelimit-reset")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| {
            if n > 1_000_000_000 {
                UNIX_EPOCH + Duration::from_secs(n)
            } else {
                now + Duration::from_secs(n)
            }
        });
    let from_retry_after = h
        .header("retry-after")
        .and_then(|v| match v.parse::<u64>() {
            Ok(secs) => Some(now + Duration::from_secs(secs)),
            Err(_) => parse_http_date(v),
        });
    match (from_reset, from_retry_after) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Parses an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let rest = s.split_once(", ")?.1;
    let mut it = rest.split(' ');
    let day: i64 = it.next()?.parse().ok()?;
    let month = match it.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next()? != "GMT" || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Inverse of `civil_from_days` (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl crate::retry::RetryHint for HttpResponse {
    fn retry_hint(&self) -> Option<Option<Duration>> {
        if self.status == 429 || self.status == 503 {
            let now = SystemTime::now();
            Some(reset_time(self, now).map(|t| t.duration_since(now).unwrap_or_default()))
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
        assert_eq!(ok.content_type, "application/json");
        match classify(
            "a.b",
            resp(400, "application/json", r#"{"error":"Foo","message":"m"}"#),
        ) {
            Err(Error::Xrpc {
                status: 400,
                error,
                message,
                ..
            }) => {
                assert_eq!(error, "Foo");
                assert_eq!(message.as_deref(), Some("m"));
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
        let h = with(&[("RateLimit-Reset", "1700000100")]);
        assert_eq!(reset_time(&h, now), Some(now + Duration::from_secs(100)));
        let h = with(&[("ratelimit-reset", "1700000100"), ("retry-after", "300")]);
        assert_eq!(reset_time(&h, now), Some(now + Duration::from_secs(300)));
        let h = with(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(
            reset_time(&h, now),
            Some(UNIX_EPOCH + Duration::from_secs(1_445_412_480))
        );
        assert_eq!(reset_time(&with(&[("retry-after", "garbage")]), now), None);
        let h = with(&[("ratelimit-reset", "30")]);
        assert_eq!(reset_time(&h, now), Some(now + Duration::from_secs(30)));
    }

    #[test]
    fn builds_requests() {
        let base = ServiceUrl::parse("https://pds.example/some/path?x=1").unwrap();
        let mut req = XrpcRequest::new("app.bsky.feed.getTimeline", Method::Query);
        req.query = vec![("limit".into(), "5".into()), ("a b".into(), "c&d".into())];
        req.accept = Some("application/json".into());
        let token = Secret::new("tok");
        let config = TransportConfig::default();
        let h = http_request(&base, &req, Some(&token), &config).unwrap();
        assert_eq!(
            h.url,
            "https://pds.example/xrpc/app.bsky.feed.getTimeline?limit=5&a+b=c%26d"
        );
        assert_eq!(h.method, HttpMethod::Get);
        assert_eq!(
            h.headers,
            [
                ("accept".to_owned(), "application/json".to_owned()),
                ("authorization".to_owned(), "Bearer tok".to_owned())
            ]
        );
        assert!(!format!("{h:?}").contains("tok"));
        // A caller's own authorization wins; the body brings its type.
        req.set_header("Authorization", "Basic xyz");
        req.method = Method::Procedure;
        req.body = Some(RawBody::new("text/plain", b"hi".to_vec()));
        let h = http_request(&base, &req, Some(&token), &config).unwrap();
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
        assert!(http_request(&base, &req, None, &config).is_err());
        req.headers.clear();
        req.set_header("bad name", "1");
        assert!(http_request(&base, &req, None, &config).is_err());
        req.headers.clear();
        req.nsid = "../admin".into();
        assert!(http_request(&base, &req, None, &config).is_err());
        let req = XrpcRequest::new("a.b.c", Method::Query);
        assert!(http_request(&base, &req, Some(&Secret::new("a\nb")), &config).is_err());
    }
}
