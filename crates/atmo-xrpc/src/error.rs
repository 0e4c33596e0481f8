//! What the XRPC layer reports: no answer, an error answer, or a request
//! that could not be sent. Nothing here knows who is signed in.

use std::fmt;
use std::time::SystemTime;

use crate::http::HttpErrorKind;
use crate::url::UrlError;

/// A failed XRPC exchange.
///
/// No variant ever contains a token: header values are kept only for the
/// answer's headers, which carry none.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// No complete HTTP answer: connection refused, DNS, TLS, timeout, or the
    /// response body was cut off.
    Transport(TransportError),
    /// The server answered with an XRPC error (`{"error": ..., "message": ...}`).
    Xrpc(XrpcError),
    /// HTTP 429. The `ratelimit-*` and `retry-after` headers are parsed.
    RateLimited(Box<RateLimit>),
    /// The server answered with something that is not XRPC: a non-JSON error
    /// page (e.g. HTML from a proxy), an empty error body, or JSON without an
    /// `error` name.
    UnexpectedResponse {
        /// The endpoint called.
        nsid: String,
        /// HTTP status.
        status: u16,
        /// What was wrong with the answer.
        reason: String,
    },
    /// The response body was larger than the configured maximum.
    ResponseTooLarge {
        /// The endpoint called.
        nsid: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The request was not sent: not an NSID, a header name or value that
    /// could smuggle another header in, a credential that is not a valid
    /// header value. The text says which.
    InvalidRequest(String),
    /// The service URL was refused.
    Url(UrlError),
}

/// An XRPC error answer: its status, name, message and headers (for the
/// layer above to read `WWW-Authenticate`, `DPoP-Nonce` and the like).
///
/// `Debug` shows only the headers that explain an error
/// ([`XrpcError::DEBUG_HEADERS`]): a server's cookies and the rest of its
/// headers stay out of logs. [`XrpcError::header`] still reads them all.
#[derive(Clone, PartialEq, Eq)]
pub struct XrpcError {
    /// The endpoint called.
    pub nsid: String,
    /// HTTP status.
    pub status: u16,
    /// XRPC error name, e.g. `InvalidRequest`, `ExpiredToken`.
    pub error: String,
    /// Human-readable message from the server.
    pub message: Option<String>,
    /// The answer's headers, in order.
    pub headers: Vec<(String, String)>,
}

impl fmt::Debug for XrpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<&(String, String)> = self
            .headers
            .iter()
            .filter(|(n, _)| Self::is_debug_header(n))
            .collect();
        f.debug_struct("XrpcError")
            .field("nsid", &self.nsid)
            .field("status", &self.status)
            .field("error", &self.error)
            .field("message", &self.message)
            .field("headers", &shown)
            .finish()
    }
}

impl XrpcError {
    /// The headers `Debug` shows (besides every `ratelimit-*` one): those
    /// that say why a call failed and when to try again.
    pub const DEBUG_HEADERS: &'static [&'static str] = &[
        "content-type",
        "dpop-nonce",
        "retry-after",
        "www-authenticate",
    ];

    fn is_debug_header(name: &str) -> bool {
        let prefix = "ratelimit-";
        name.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            || Self::DEBUG_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
    }

    /// The first value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

impl fmt::Display for XrpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed with HTTP {} {}",
            self.nsid, self.status, self.error
        )?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for XrpcError {}

/// Details of an HTTP 429 answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// The endpoint called.
    pub nsid: String,
    /// XRPC error name, usually `RateLimitExceeded`.
    pub error: Option<String>,
    /// The server's message.
    pub message: Option<String>,
    /// `ratelimit-limit`: requests allowed in the window.
    pub limit: Option<u64>,
    /// `ratelimit-remaining`.
    pub remaining: Option<u64>,
    /// When the limit resets: `ratelimit-reset` (epoch seconds) or
    /// `retry-after` (seconds or an HTTP date), whichever is later. `None`
    /// when the server sent neither, sent garbage, or sent a time too far
    /// ahead to represent (which is no time to wait for).
    pub reset: Option<SystemTime>,
    /// `ratelimit-policy`, e.g. `3000;w=300`.
    pub policy: Option<String>,
}

/// Why no HTTP answer was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Could not connect (DNS, refused, TLS).
    Connect,
    /// The per-call timeout passed.
    Timeout,
    /// The response body could not be read completely (truncated, reset).
    Body,
    /// Anything else.
    Other,
}

impl From<HttpErrorKind> for TransportErrorKind {
    fn from(kind: HttpErrorKind) -> Self {
        match kind {
            HttpErrorKind::Connect => TransportErrorKind::Connect,
            HttpErrorKind::Timeout => TransportErrorKind::Timeout,
            HttpErrorKind::Body => TransportErrorKind::Body,
            _ => TransportErrorKind::Other,
        }
    }
}

/// A transport failure.
#[derive(Clone, Debug)]
pub struct TransportError {
    /// The endpoint called.
    pub nsid: String,
    /// What kind of failure.
    pub kind: TransportErrorKind,
    /// Description.
    pub message: String,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect => "cannot connect",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Body => "cannot read the response body",
            TransportErrorKind::Other => "request failed",
        };
        write!(f, "{}: {what}: {}", self.nsid, self.message)
    }
}

impl std::error::Error for TransportError {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "transport error: {e}"),
            Error::Xrpc(e) => write!(f, "{e}"),
            Error::RateLimited(r) => {
                write!(f, "{} was rate limited (HTTP 429)", r.nsid)?;
                if let Some(reset) = r.reset {
                    let secs = reset
                        .duration_since(SystemTime::now())
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    write!(f, "; resets in {secs}s")?;
                }
                if let Some(m) = &r.message {
                    write!(f, ": {m}")?;
                }
                Ok(())
            }
            Error::UnexpectedResponse {
                nsid,
                status,
                reason,
            } => write!(f, "{nsid} failed with HTTP {status}: {reason}"),
            Error::ResponseTooLarge { nsid, limit } => write!(
                f,
                "the response of {nsid} exceeds the limit of {limit} bytes"
            ),
            Error::InvalidRequest(m) => write!(f, "request not sent: {m}"),
            Error::Url(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    /// `Display` includes the wrapped error's text; the chain continues with
    /// its source, so nothing is printed twice.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(e) => e.source(),
            Error::Url(e) => e.source(),
            _ => None,
        }
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Error::Url(e)
    }
}

impl Error {
    /// HTTP status of the server's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Xrpc(e) => Some(e.status),
            Error::UnexpectedResponse { status, .. } => Some(*status),
            Error::RateLimited(_) => Some(429),
            _ => None,
        }
    }

    /// XRPC error name, when the server sent one.
    pub fn error_name(&self) -> Option<&str> {
        match self {
            Error::Xrpc(e) => Some(&e.error),
            Error::RateLimited(r) => r.error.as_deref(),
            _ => None,
        }
    }

    /// The endpoint the failed request was for, when known.
    pub fn nsid(&self) -> Option<&str> {
        match self {
            Error::Transport(e) => Some(&e.nsid),
            Error::Xrpc(e) => Some(&e.nsid),
            Error::RateLimited(r) => Some(&r.nsid),
            Error::UnexpectedResponse { nsid, .. } | Error::ResponseTooLarge { nsid, .. } => {
                Some(nsid)
            }
            _ => None,
        }
    }

    /// The rate-limit details of a 429 answer.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        match self {
            Error::RateLimited(r) => Some(r),
            _ => None,
        }
    }

    /// A failure that says nothing about the request or its credentials:
    /// no answer, a 5xx or 429, an answer that is not XRPC. Worth trying
    /// again later.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport(_)
            | Error::RateLimited(_)
            | Error::UnexpectedResponse { .. }
            | Error::ResponseTooLarge { .. } => true,
            Error::Xrpc(e) => e.status >= 500,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_keeps_only_the_headers_that_explain_the_error() {
        let header = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        let e = XrpcError {
            nsid: "a.b.c".into(),
            status: 401,
            error: "InvalidToken".into(),
            message: None,
            headers: vec![
                header("Set-Cookie", "session=cookie-secret"),
                header("x-unrelated", "unrelated-value"),
                header("WWW-Authenticate", "DPoP error=\"use_dpop_nonce\""),
                header("DPoP-Nonce", "nonce-1"),
                header("RateLimit-Remaining", "7"),
                header("retry-after", "30"),
                header("content-type", "application/json"),
            ],
        };
        let debug = format!("{e:?}");
        for hidden in ["cookie", "unrelated"] {
            assert!(!debug.to_ascii_lowercase().contains(hidden), "{debug}");
        }
        for shown in [
            "use_dpop_nonce",
            "nonce-1",
            "RateLimit-Remaining",
            "retry-after",
            "application/json",
        ] {
            assert!(debug.contains(shown), "{shown} missing: {debug}");
        }
        // Through the error enum too; the headers are all still readable.
        let outer = format!("{:?}", Error::Xrpc(e.clone()));
        assert!(!outer.contains("cookie-secret") && outer.contains("nonce-1"));
        assert_eq!(e.header("set-cookie"), Some("session=cookie-secret"));
    }
}
