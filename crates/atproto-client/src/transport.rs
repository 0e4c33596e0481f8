//! The plain XRPC transport: one HTTP request in, a body or a classified
//! error out. It knows nothing about sessions; the session manager wraps it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atproto_types::xrpc::{Method, RawBody};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Url;

use crate::error::{Error, RateLimit, TransportError, TransportErrorKind};
use crate::retry::RetryPolicy;
use crate::secret::Secret;

/// Default per-call timeout: covers connecting, sending and reading the whole
/// answer. Generous because uploads and repository exports can be large; set
/// a shorter one per agent or per call for interactive use.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Sends XRPC requests over one shared `reqwest::Client` (connection reuse).
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct Transport {
    client: reqwest::Client,
    config: Arc<TransportConfig>,
}

/// A complete HTTP answer before classification.
struct RawResponse {
    status: u16,
    headers: HeaderMap,
    body: RawBody,
}

impl Transport {
    /// A transport with its own client (rustls with the ring provider, the
    /// platform's root certificates).
    pub fn new(config: TransportConfig) -> Result<Self, Error> {
        // reqwest is built without a default crypto provider, so that ring
        // (fast to build) is used instead of aws-lc-rs. Installing fails only
        // when the application installed one already, which is then used.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .user_agent(concat!("atproto-client-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::Transport(TransportError {
                    nsid: String::new(),
                    kind: TransportErrorKind::Other,
                    message: format!("cannot build the HTTP client: {e}"),
                })
            })?;
        Ok(Self::with_client(client, config))
    }

    /// A transport over a client the application built (proxies, custom
    /// roots...). Its default timeout is overridden per call by ours.
    pub fn with_client(client: reqwest::Client, config: TransportConfig) -> Self {
        Transport {
            client,
            config: Arc::new(config),
        }
    }

    /// The settings.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Sends `req` to `base` (scheme and authority; its path is replaced by
    /// `/xrpc/<nsid>`), with `bearer` as `Authorization` unless the request
    /// sets its own, retrying as `req.retry` allows. Success is any 2xx; the
    /// body is returned raw for the endpoint to decode.
    pub async fn send(
        &self,
        base: &Url,
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
        base: &Url,
        req: &XrpcRequest,
        bearer: Option<&Secret>,
    ) -> Result<RawResponse, Error> {
        let url = xrpc_url(base, req)?;
        let mut rb = match req.method {
            Method::Query => self.client.get(url),
            Method::Procedure => self.client.post(url),
        };
        rb = rb.timeout(req.timeout.unwrap_or(self.config.timeout));
        if let Some(accept) = &req.accept {
            rb = rb.header(reqwest::header::ACCEPT, accept);
        }
        let mut has_auth = false;
        for (name, value) in &req.headers {
            has_auth |= name.eq_ignore_ascii_case("authorization");
            let value = HeaderValue::from_str(value)
                .map_err(|_| Error::Invalid(format!("invalid value for header {name}")))?;
            rb = rb.header(name.as_str(), value);
        }
        if let (Some(token), false) = (bearer, has_auth) {
            let mut v =
                HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                    Error::Invalid("the access token is not a valid header value".into())
                })?;
            v.set_sensitive(true);
            rb = rb.header(AUTHORIZATION, v);
        }
        if let Some(body) = &req.body {
            rb = rb
                .header(CONTENT_TYPE, body.content_type.as_str())
                .body(body.bytes.clone());
        }
        let transport_err = |e: reqwest::Error| Error::Transport(map_reqwest(&req.nsid, e));
        let mut resp = rb.send().await.map_err(transport_err)?;
        let status = resp.status().as_u16();
        let headers = std::mem::take(resp.headers_mut());
        let limit = self.config.max_response_size;
        let too_large = || Error::ResponseTooLarge {
            nsid: req.nsid.clone(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport_err)? {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok(RawResponse {
            status,
            headers,
            body: RawBody::new(content_type, bytes),
        })
    }
}

/// Checks that an NSID can be put in a URL path as it is.
fn xrpc_url(base: &Url, req: &XrpcRequest) -> Result<Url, Error> {
    let nsid = &req.nsid;
    if nsid.is_empty()
        || !nsid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(Error::Invalid(format!("not an NSID: {nsid:?}")));
    }
    let mut url = base.clone();
    url.set_path(&format!("/xrpc/{nsid}"));
    url.set_fragment(None);
    url.set_query(None);
    if !req.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&req.query);
    }
    Ok(url)
}

fn map_reqwest(nsid: &str, e: reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_body() || e.is_decode() {
        TransportErrorKind::Body
    } else {
        TransportErrorKind::Other
    };
    // Include the source chain: reqwest's own text is often just "error
    // sending request".
    let mut message = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    TransportError {
        nsid: nsid.to_owned(),
        kind,
        message,
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: Option<serde_json::Value>,
    message: Option<serde_json::Value>,
}

/// Turns an HTTP answer into the body (2xx) or the matching error.
fn classify(nsid: &str, r: RawResponse) -> Result<RawBody, Error> {
    if (200..300).contains(&r.status) {
        return Ok(r.body);
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(&r.body.bytes).ok();
    let as_string = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    };
    let (error, message) = match parsed {
        Some(b) => (as_string(b.error), as_string(b.message)),
        None => (None, None),
    };
    if r.status == 429 {
        return Err(Error::RateLimited(Box::new(rate_limit(
            nsid, &r.headers, error, message,
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
    let reason = if r.body.bytes.is_empty() {
        "empty response body".to_owned()
    } else if serde_json::from_slice::<serde_json::Value>(&r.body.bytes).is_ok() {
        match message {
            Some(m) => format!("JSON error body without an error name: {m}"),
            None => "JSON error body without an error name".to_owned(),
        }
    } else {
        let ct = if r.body.content_type.is_empty() {
            "no content type"
        } else {
            r.body.content_type.as_str()
        };
        format!(
            "the error body is not XRPC JSON ({ct}, {} bytes){}",
            r.body.bytes.len(),
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

fn http_reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
}

fn header_str<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn rate_limit(
    nsid: &str,
    h: &HeaderMap,
    error: Option<String>,
    message: Option<String>,
) -> RateLimit {
    let num = |name| header_str(h, name).and_then(|v| v.parse::<u64>().ok());
    RateLimit {
        nsid: nsid.to_owned(),
        error,
        message,
        limit: num("ratelimit-limit"),
        remaining: num("ratelimit-remaining"),
        reset: reset_time(h, SystemTime::now()),
        policy: header_str(h, "ratelimit-policy").map(str::to_owned),
    }
}

/// When the server says to come back: the later of `ratelimit-reset` (epoch
/// seconds as the atproto PDS sends it; small values are read as delta
/// seconds, as in the IETF draft) and `retry-after` (delta seconds or an
/// HTTP date).
pub(crate) fn reset_time(h: &HeaderMap, now: SystemTime) -> Option<SystemTime> {
    let from_reset = header_str(h, "ratelimit-reset")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| {
            if n > 1_000_000_000 {
                UNIX_EPOCH + Duration::from_secs(n)
            } else {
                now + Duration::from_secs(n)
            }
        });
    let from_retry_after = header_str(h, "retry-after").and_then(|v| match v.parse::<u64>() {
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

impl crate::retry::RetryHint for RawResponse {
    fn retry_hint(&self) -> Option<Option<Duration>> {
        if self.status == 429 || self.status == 503 {
            let now = SystemTime::now();
            Some(reset_time(&self.headers, now).map(|t| t.duration_since(now).unwrap_or_default()))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, ct: &str, body: &str) -> RawResponse {
        RawResponse {
            status,
            headers: HeaderMap::new(),
            body: RawBody::new(ct, body.as_bytes().to_vec()),
        }
    }

    #[test]
    fn classifies() {
        assert!(classify("a.b", resp(200, "application/json", "{}")).is_ok());
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
            ("<html>bad gateway</html>", "not XRPC JSON (text/html"),
            ("", "empty"),
            (r#"{"message":"x"}"#, "without an error name"),
            (r#"{"error":"#, "not XRPC JSON"),
            (r#"{"error":5}"#, "without an error name"),
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
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", HeaderValue::from_static("1700000100"));
        assert_eq!(reset_time(&h, now), Some(now + Duration::from_secs(100)));
        h.insert("retry-after", HeaderValue::from_static("300"));
        assert_eq!(reset_time(&h, now), Some(now + Duration::from_secs(300)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            reset_time(&h, now),
            Some(UNIX_EPOCH + Duration::from_secs(1_445_412_480))
        );
        h.insert("retry-after", HeaderValue::from_static("garbage"));
        assert_eq!(reset_time(&h, now), None);
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", HeaderValue::from_static("30"));
        assert_eq!(reset_time(&h, now), Some(now + Duration::from_secs(30)));
    }

    #[test]
    fn builds_urls() {
        let base = Url::parse("https://pds.example/some/path?x=1").unwrap();
        let mut req = XrpcRequest::new("app.bsky.feed.getTimeline", Method::Query);
        req.query = vec![("limit".into(), "5".into()), ("a b".into(), "c&d".into())];
        assert_eq!(
            xrpc_url(&base, &req).unwrap().as_str(),
            "https://pds.example/xrpc/app.bsky.feed.getTimeline?limit=5&a+b=c%26d"
        );
        req.nsid = "../admin".into();
        assert!(xrpc_url(&base, &req).is_err());
    }
}
