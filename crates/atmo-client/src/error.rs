//! The agent's error type: what a typed call can fail with.
//!
//! Each layer has its own error: [`atmo_xrpc::Error`] (no answer, an
//! XRPC error, a rate limit...), [`SessionError`] (no session, the session
//! ended, the store failed...), and this one, which adds the endpoint's
//! declared errors, typed, and the agent's own checks. A session failure
//! that is really an XRPC failure arrives as [`Error::Xrpc`], so that every
//! common case is one pattern:
//!
//! ```
//! # use atmo_client::{Error, SessionError};
//! # use atmo_client::atmo_api::com::atproto::server::create_session;
//! # fn f(r: Result<(), Error<create_session::Error>>) {
//! match r {
//!     Ok(()) => {}
//!     Err(Error::Api { error: create_session::Error::AuthFactorTokenRequired(_), .. }) => {}
//!     Err(Error::Api { error: create_session::Error::AccountTakedown(_), .. }) => {}
//!     Err(Error::Session(SessionError::Expired { .. })) => { /* log in again */ }
//!     Err(Error::Xrpc(atmo_xrpc::Error::RateLimited(limit))) => { let _ = limit.reset; }
//!     Err(e) if e.status() == Some(401) => {}
//!     Err(e) => eprintln!("{e}"),
//! }
//! # }
//! ```

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use atmo_types::xrpc::{DecodeError, EncodeError, EndpointError, NoError};

use crate::session::SessionError;

/// Everything a call can fail with.
///
/// `E` is the endpoint's declared error enum (generated, one variant per
/// error name in the lexicon); [`Error::Api`] carries it with the status and
/// endpoint. Error names the lexicon does not declare come back as
/// [`Error::Xrpc`], so nothing the server says is lost. Session operations
/// not tied to one endpoint use the default `E = NoError`. To carry the
/// errors of several endpoints through one function with `?`, use
/// [`AnyError`].
///
/// No variant ever contains a token or a password.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error<E = NoError> {
    /// An error the endpoint declares in its lexicon.
    Api {
        /// The typed error (its name and the server's message).
        error: E,
        /// The endpoint that answered.
        nsid: String,
        /// HTTP status of the answer.
        status: u16,
    },
    /// The XRPC layer failed: no answer, an undeclared XRPC error, a rate
    /// limit, an answer that is not XRPC, a refused URL.
    Xrpc(atmo_xrpc::Error),
    /// The session layer failed: no session, the session ended, the store
    /// failed, a DID mismatch.
    Session(SessionError),
    /// A successful answer did not match the endpoint's output type: which
    /// endpoint, and where in the document (serde path).
    Decode(DecodeError),
    /// The request body could not be encoded.
    Encode(EncodeError),
    /// The request broke its lexicon's constraints and was not sent
    /// (see [`crate::AgentBuilder::validate_requests`]).
    Validation {
        /// The endpoint called, or the record's collection NSID.
        nsid: String,
        /// Every violation, with its path (`text: 301 graphemes > maxGraphemes 300`).
        error: atmo_types::validate::ValidationError,
    },
    /// Resolving a handle or DID failed (see [`atmo_identity::Error`]:
    /// it names the step and the identifier).
    Identity(Box<atmo_identity::Error>),
    /// A helper got something it did not expect (e.g. a record of another
    /// type). Carries an explanation.
    Invalid(String),
    /// The agent was configured with something it cannot use (a bad
    /// service URL, no HTTP client); nothing was sent.
    Config(crate::ConfigError),
    /// One of the library's own errors raised by application code and
    /// carried with `?` (a syntax error, JSON...); see [`crate::OtherError`].
    Other(crate::OtherError),
}

/// One error type for every endpoint: what `?` turns any [`Error<E>`] into,
/// keeping the declared error reachable through [`DeclaredError::downcast_ref`].
///
/// To make an error of your own in such a function, name the type
/// (`AnyError::Invalid(..)`): `Error::Invalid(..)?` leaves Rust to guess
/// which `Error<E>` is meant.
pub type AnyError = Error<DeclaredError>;

/// A declared endpoint error whose type was erased: its name, message and
/// the typed value.
#[derive(Clone)]
pub struct DeclaredError {
    name: &'static str,
    message: Option<String>,
    typed: Arc<dyn Any + Send + Sync>,
}

impl DeclaredError {
    /// The XRPC error name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The server's message.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The typed error, when it is an `E`
    /// (e.g. `create_record::Error`).
    pub fn downcast_ref<E: EndpointError>(&self) -> Option<&E> {
        self.typed.downcast_ref()
    }
}

impl fmt::Debug for DeclaredError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeclaredError")
            .field("name", &self.name)
            .field("message", &self.message)
            .finish()
    }
}

impl fmt::Display for DeclaredError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.name),
            None => f.write_str(self.name),
        }
    }
}

impl std::error::Error for DeclaredError {}

impl<E: EndpointError> From<Error<E>> for AnyError {
    fn from(e: Error<E>) -> Self {
        e.map_api(|error, nsid, status| Error::Api {
            nsid,
            status,
            error: DeclaredError {
                name: error.name(),
                message: error.message().map(str::to_owned),
                typed: Arc::new(error),
            },
        })
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api {
                error,
                nsid,
                status,
            } => write!(f, "{nsid} failed with HTTP {status} {error}"),
            Error::Xrpc(e) => write!(f, "{e}"),
            Error::Session(e) => write!(f, "{e}"),
            Error::Decode(e) => write!(f, "{e}"),
            Error::Encode(e) => write!(f, "{e}"),
            Error::Validation { nsid, error } => {
                write!(f, "{nsid}: not sent, it breaks the lexicon: {error}")
            }
            Error::Identity(e) => write!(f, "{e}"),
            Error::Invalid(m) => f.write_str(m),
            Error::Config(e) => write!(f, "{e}"),
            Error::Other(e) => write!(f, "{e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    /// Each variant's `Display` already includes the text of the error it
    /// wraps, so the chain continues with *that* error's source: printing
    /// the whole chain (as `anyhow` does) never repeats a line.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Api { error, .. } => error.source(),
            Error::Xrpc(e) => e.source(),
            Error::Session(e) => e.source(),
            Error::Decode(e) => e.source(),
            Error::Encode(e) => e.source(),
            Error::Validation { error, .. } => error.source(),
            Error::Identity(e) => e.source(),
            Error::Invalid(_) => None,
            Error::Config(e) => e.source(),
            Error::Other(e) => e.source(),
        }
    }
}

impl<E> From<SessionError> for Error<E> {
    /// Session failures that are XRPC or decode failures keep that kind, so
    /// that one pattern matches them whichever layer reported them.
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Xrpc(e) => Error::Xrpc(e),
            SessionError::Decode(e) => Error::Decode(e),
            e => Error::Session(e),
        }
    }
}

impl<E> From<atmo_xrpc::Error> for Error<E> {
    fn from(e: atmo_xrpc::Error) -> Self {
        Error::Xrpc(e)
    }
}

impl<E> From<crate::store::StoreError> for Error<E> {
    fn from(e: crate::store::StoreError) -> Self {
        Error::Session(SessionError::Store(e))
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

impl<E> Error<E> {
    /// HTTP status of the server's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Xrpc(e) => e.status(),
            Error::Session(e) => e.xrpc().and_then(atmo_xrpc::Error::status),
            _ => None,
        }
    }

    /// The endpoint of the failed call, when known.
    pub fn nsid(&self) -> Option<&str> {
        match self {
            Error::Api { nsid, .. } | Error::Validation { nsid, .. } => Some(nsid),
            Error::Xrpc(e) => e.nsid(),
            Error::Decode(e) => Some(e.nsid),
            _ => None,
        }
    }

    /// The XRPC-layer failure, when that is what happened.
    pub fn xrpc(&self) -> Option<&atmo_xrpc::Error> {
        match self {
            Error::Xrpc(e) => Some(e),
            Error::Session(e) => e.xrpc(),
            _ => None,
        }
    }

    /// The rate-limit details of a 429 answer.
    pub fn rate_limit(&self) -> Option<&atmo_xrpc::RateLimit> {
        self.xrpc().and_then(atmo_xrpc::Error::rate_limit)
    }

    /// Converts every case except `Api`, which `f` converts.
    pub fn map_api<F>(self, f: impl FnOnce(E, String, u16) -> Error<F>) -> Error<F> {
        match self {
            Error::Api {
                error,
                nsid,
                status,
            } => f(error, nsid, status),
            Error::Xrpc(e) => Error::Xrpc(e),
            Error::Session(e) => Error::Session(e),
            Error::Decode(e) => Error::Decode(e),
            Error::Encode(e) => Error::Encode(e),
            Error::Validation { nsid, error } => Error::Validation { nsid, error },
            Error::Identity(e) => Error::Identity(e),
            Error::Invalid(m) => Error::Invalid(m),
            Error::Config(e) => Error::Config(e),
            Error::Other(e) => Error::Other(e),
        }
    }
}

impl<E: EndpointError> Error<E> {
    /// XRPC error name (declared or not), when the server sent one.
    pub fn error_name(&self) -> Option<&str> {
        match self {
            Error::Api { error, .. } => Some(error.name()),
            Error::Session(SessionError::Expired { error, .. }) => Some(error),
            _ => self.xrpc().and_then(atmo_xrpc::Error::error_name),
        }
    }

    /// The same failure without the endpoint's type: a declared error
    /// becomes the [`atmo_xrpc::XrpcError`] it was sent as, with its
    /// status and endpoint.
    pub fn into_untyped(self) -> Error {
        self.map_api(|e, nsid, status| {
            Error::Xrpc(atmo_xrpc::Error::Xrpc(atmo_xrpc::XrpcError {
                nsid,
                status,
                error: e.name().to_owned(),
                message: e.message().map(str::to_owned),
                headers: Vec::new(),
            }))
        })
    }

    /// A session-layer failure of a call to `nsid`, typed: an XRPC error
    /// from `nsid` itself whose name `E` declares becomes [`Error::Api`].
    /// Errors from another endpoint (e.g. a failed `refreshSession` behind
    /// the call) keep their untyped form, so a name that happens to match is
    /// never attributed to the wrong endpoint.
    pub fn from_session(e: SessionError, nsid: &str) -> Self {
        if let SessionError::Xrpc(atmo_xrpc::Error::Xrpc(x)) = &e {
            if x.nsid == nsid {
                if let Some(error) = E::from_xrpc(&x.error, x.message.clone()) {
                    return Error::Api {
                        error,
                        nsid: x.nsid.clone(),
                        status: x.status,
                    };
                }
            }
        }
        e.into()
    }
}

impl AnyError {
    /// XRPC error name (declared or not), when the server sent one.
    pub fn error_name(&self) -> Option<&str> {
        match self {
            Error::Api { error, .. } => Some(error.name()),
            Error::Session(SessionError::Expired { error, .. }) => Some(error),
            _ => self.xrpc().and_then(atmo_xrpc::Error::error_name),
        }
    }
}

impl Error<NoError> {
    /// The same error as any endpoint's `Error<E>` (it has no `Api` case to
    /// convert).
    pub fn into_typed<E>(self) -> Error<E> {
        self.map_api(|never, _, _| match never {})
    }

    /// Gives an untyped error the endpoint's type (see
    /// [`Error::from_session`]).
    pub fn typed<E: EndpointError>(self, nsid: &str) -> Error<E> {
        match self {
            Error::Xrpc(e) => Error::from_session(SessionError::Xrpc(e), nsid),
            other => other.into_typed(),
        }
    }
}
