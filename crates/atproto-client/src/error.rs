//! The one error type of the client.

use std::fmt;
use std::time::SystemTime;

use atproto_types::xrpc::{DecodeError, EncodeError, EndpointError, NoError};
use atproto_types::Did;

use crate::store::StoreError;

/// Everything a call can fail with.
///
/// `E` is the endpoint's declared error enum (generated, one variant per error
/// name in the lexicon); [`Error::Api`] carries it. Error names the lexicon does
/// not declare come back as [`Error::Xrpc`] with the HTTP status, so nothing the
/// server says is lost. Session-level operations that are not tied to one
/// endpoint use the default `E = NoError`.
///
/// No variant ever contains a token or a password.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error<E = NoError> {
    /// No complete HTTP answer: connection refused, DNS, TLS, timeout, or the
    /// response body was cut off.
    Transport(TransportError),
    /// The server answered with an XRPC error this endpoint does not declare.
    Xrpc {
        /// The endpoint called.
        nsid: String,
        /// HTTP status.
        status: u16,
        /// XRPC error name, e.g. `InvalidRequest`, `ExpiredToken`.
        error: String,
        /// Human-readable message from the server.
        message: Option<String>,
    },
    /// An error the endpoint declares in its lexicon.
    Api(E),
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
    /// The response body was larger than the configured maximum
    /// ([`crate::AgentBuilder::max_response_size`]).
    ResponseTooLarge {
        /// The endpoint called.
        nsid: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A successful answer did not match the endpoint's output type: which
    /// endpoint, and where in the document (serde path).
    Decode(DecodeError),
    /// The request body could not be encoded.
    Encode(EncodeError),
    /// The call needs a session and the agent has none (never logged in,
    /// logged out, or the session expired).
    NoSession,
    /// The server rejected the refresh token (`ExpiredToken` / `InvalidToken`):
    /// the session has ended and was cleared. Log in again.
    SessionExpired {
        /// XRPC error name of the rejected refresh.
        error: String,
        /// The server's message.
        message: Option<String>,
    },
    /// `resume_session` got a session for a different account than the saved one.
    DidMismatch {
        /// The DID of the saved session.
        expected: Did,
        /// The DID the server answered with.
        actual: Did,
    },
    /// An `http://` URL that is not loopback, without
    /// [`crate::AgentBuilder::allow_insecure_http`].
    InsecureUrl(String),
    /// A URL that cannot be parsed or used as a service base.
    InvalidUrl(String),
    /// The session store failed.
    Store(StoreError),
    /// A call to `com.atproto.repo.*` returned something the helper did not
    /// expect (e.g. a record of another type). Carries an explanation.
    Invalid(String),
    /// The request broke its lexicon's constraints and was not sent
    /// (see [`crate::AgentBuilder::validate_requests`]).
    Validation {
        /// The endpoint called, or the record's collection NSID.
        nsid: String,
        /// Every violation, with its path (`text: 301 graphemes > maxGraphemes 300`).
        error: atproto_types::validate::ValidationError,
    },
}

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
    /// `retry-after` (seconds or an HTTP date), whichever is later.
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

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "transport error: {e}"),
            Error::Xrpc {
                nsid,
                status,
                error,
                message,
            } => {
                write!(f, "{nsid} failed with HTTP {status} {error}")?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                Ok(())
            }
            Error::Api(e) => write!(f, "{e}"),
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
            Error::ResponseTooLarge { nsid, limit } => {
                write!(
                    f,
                    "the response of {nsid} exceeds the limit of {limit} bytes"
                )
            }
            Error::Decode(e) => write!(f, "{e}"),
            Error::Encode(e) => write!(f, "{e}"),
            Error::NoSession => f.write_str("not logged in"),
            Error::SessionExpired { error, message } => {
                write!(f, "the session has ended ({error}")?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                f.write_str("); log in again")
            }
            Error::DidMismatch { expected, actual } => write!(
                f,
                "the server returned a session for {actual}, expected {expected}"
            ),
            Error::InsecureUrl(u) => write!(
                f,
                "refusing plain http to a non-loopback host ({u}); use https or allow_insecure_http"
            ),
            Error::InvalidUrl(u) => write!(f, "invalid service URL: {u}"),
            Error::Store(e) => write!(f, "session store: {e}"),
            Error::Invalid(m) => f.write_str(m),
            Error::Validation { nsid, error } => {
                write!(f, "{nsid}: not sent, it breaks the lexicon: {error}")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(e) => Some(e),
            Error::Api(e) => Some(e),
            Error::Decode(e) => Some(e),
            Error::Encode(e) => Some(e),
            Error::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl<E> From<StoreError> for Error<E> {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl<E> From<DecodeError> for Error<E> {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl<E> From<EncodeError> for Error<E> {
    fn from(e: EncodeError) -> Self {
        Error::Encode(e)
    }
}

impl<E: EndpointError> Error<E> {
    /// HTTP status of the server's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Xrpc { status, .. } | Error::UnexpectedResponse { status, .. } => Some(*status),
            Error::RateLimited(_) => Some(429),
            _ => None,
        }
    }

    /// XRPC error name (declared or not), when the server sent one.
    pub fn error_name(&self) -> Option<&str> {
        match self {
            Error::Xrpc { error, .. } => Some(error),
            Error::Api(e) => Some(e.name()),
            Error::RateLimited(r) => r.error.as_deref(),
            Error::SessionExpired { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Converts the endpoint error type, e.g. to propagate a typed call error
    /// through a function returning `Error<NoError>`: a typed `Api` error
    /// becomes [`Error::Xrpc`] with the status given (its original one is
    /// not kept by generated enums, so pass the one you know or 400).
    pub fn into_untyped(self, nsid: &str) -> Error {
        self.map_api(|e| Error::Xrpc {
            nsid: nsid.to_owned(),
            status: 400,
            error: e.name().to_owned(),
            message: e.message().map(str::to_owned),
        })
    }

    /// Replaces the [`Error::Api`] case through `f`; other cases carry over.
    pub fn map_api<F: EndpointError>(self, f: impl FnOnce(E) -> Error<F>) -> Error<F> {
        match self {
            Error::Api(e) => f(e),
            other => other.retype(),
        }
    }

    /// Converts every case except `Api` (which must not occur).
    fn retype<F>(self) -> Error<F> {
        match self {
            Error::Transport(e) => Error::Transport(e),
            Error::Xrpc {
                nsid,
                status,
                error,
                message,
            } => Error::Xrpc {
                nsid,
                status,
                error,
                message,
            },
            Error::Api(_) => Error::Invalid("typed error dropped".into()),
            Error::RateLimited(r) => Error::RateLimited(r),
            Error::UnexpectedResponse {
                nsid,
                status,
                reason,
            } => Error::UnexpectedResponse {
                nsid,
                status,
                reason,
            },
            Error::ResponseTooLarge { nsid, limit } => Error::ResponseTooLarge { nsid, limit },
            Error::Decode(e) => Error::Decode(e),
            Error::Encode(e) => Error::Encode(e),
            Error::NoSession => Error::NoSession,
            Error::SessionExpired { error, message } => Error::SessionExpired { error, message },
            Error::DidMismatch { expected, actual } => Error::DidMismatch { expected, actual },
            Error::InsecureUrl(u) => Error::InsecureUrl(u),
            Error::InvalidUrl(u) => Error::InvalidUrl(u),
            Error::Store(e) => Error::Store(e),
            Error::Invalid(m) => Error::Invalid(m),
            Error::Validation { nsid, error } => Error::Validation { nsid, error },
        }
    }
}

impl Error<NoError> {
    /// Gives an untyped error the endpoint's type: an [`Error::Xrpc`] from
    /// endpoint `nsid` whose name `E` declares becomes [`Error::Api`]. Errors
    /// from another endpoint (e.g. a failed `refreshSession` behind the call)
    /// keep their untyped form, so a name that happens to match is never
    /// attributed to the wrong endpoint.
    pub fn typed<E: EndpointError>(self, nsid: &str) -> Error<E> {
        match self {
            Error::Xrpc {
                nsid: n,
                status,
                error,
                message,
            } => {
                if n == nsid {
                    if let Some(e) = E::from_xrpc(&error, message.clone()) {
                        return Error::Api(e);
                    }
                }
                Error::Xrpc {
                    nsid: n,
                    status,
                    error,
                    message,
                }
            }
            other => other.retype(),
        }
    }
}
