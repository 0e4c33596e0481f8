//! Session managers: the layer between the agent and the transport that
//! authenticates requests and keeps a session alive.
//!
//! [`SessionManager`] is the seam: the agent hands it prepared requests and
//! gets answers back, and knows nothing of tokens. [`CredentialSession`] is
//! the password session (TypeScript's `CredentialSession`); OAuth plugs in
//! as another implementation.

use std::fmt;
use std::future::Future;

use atproto_types::xrpc::DecodeError;
use atproto_types::Did;
use atproto_xrpc::{XrpcRequest, XrpcResponse};

use crate::store::StoreError;

mod answer;
mod credential;
mod data;
mod events;
mod login;

pub use credential::{CredentialSession, CredentialSessionBuilder, DEFAULT_REFRESH_MARGIN};
pub use data::{pds_endpoint, SessionData, SessionEvent};
pub use login::{Login, NewAccount};

/// Sends prepared requests on behalf of an [`crate::Agent`], adding
/// authentication and handling its expiry.
///
/// The agent builds [`XrpcRequest`]s and decodes bodies; everything about
/// credentials lives behind this trait, so another scheme (OAuth with DPoP,
/// service auth, a fixed app-password session) plugs in without touching the
/// agent. [`CredentialSession`] is the password-based implementation.
pub trait SessionManager: Send + Sync + 'static {
    /// Sends one request (authenticated when there is a session) and returns
    /// a 2xx answer, or the classified error.
    fn send(
        &self,
        request: XrpcRequest,
    ) -> impl Future<Output = Result<XrpcResponse, SessionError>> + Send;

    /// The DID of the signed-in account, if any.
    fn did(&self) -> Option<Did>;
}

/// What the session layer reports.
///
/// No variant ever contains a token or a password.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The request, or a session call it needed (a refresh), failed in the
    /// XRPC layer: no answer, an XRPC error, a rate limit...
    Xrpc(atproto_xrpc::Error),
    /// A session answer (createSession, refreshSession, getSession) did not
    /// have the expected shape.
    Decode(DecodeError),
    /// The call needs a session and there is none (never logged in, logged
    /// out, or the session expired).
    NoSession,
    /// The server rejected the refresh token (`ExpiredToken`,
    /// `InvalidToken`, `AccountTakedown`), or an idle or revoked session was
    /// ended: the session is over and was cleared. Log in again.
    Expired {
        /// XRPC error name of the rejection.
        error: String,
        /// The server's message.
        message: Option<String>,
    },
    /// `resume` got a session for a different account than the saved one.
    DidMismatch {
        /// The DID of the saved session.
        expected: Did,
        /// The DID the server answered with.
        actual: Did,
    },
    /// The session store failed.
    Store(StoreError),
    /// The session's own persist hook called back into it (e.g. made an
    /// agent call) while the event it was given was being delivered, under
    /// the session lock. Refused rather than left waiting for itself: hand
    /// such work to another task (`tokio::spawn`) without awaiting it.
    CalledFromHook,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Xrpc(e) => write!(f, "{e}"),
            SessionError::Decode(e) => write!(f, "{e}"),
            SessionError::NoSession => f.write_str("not logged in"),
            SessionError::Expired { error, message } => {
                write!(f, "the session has ended ({error}")?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                f.write_str("); log in again")
            }
            SessionError::DidMismatch { expected, actual } => write!(
                f,
                "the server returned a session for {actual}, expected {expected}"
            ),
            SessionError::Store(e) => write!(f, "session store: {e}"),
            SessionError::CalledFromHook => f.write_str(
                "the session's persist hook called back into the session while its event was \
                 being delivered; run such calls in another task",
            ),
        }
    }
}

impl std::error::Error for SessionError {
    /// `Display` includes the wrapped error's text; the chain continues with
    /// its source, so nothing is printed twice.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Xrpc(e) => e.source(),
            SessionError::Decode(e) => e.source(),
            SessionError::Store(e) => e.source(),
            _ => None,
        }
    }
}

impl From<atproto_xrpc::Error> for SessionError {
    fn from(e: atproto_xrpc::Error) -> Self {
        SessionError::Xrpc(e)
    }
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        SessionError::Store(e)
    }
}

impl From<DecodeError> for SessionError {
    fn from(e: DecodeError) -> Self {
        SessionError::Decode(e)
    }
}

impl SessionError {
    /// The XRPC-layer error, when that is what failed.
    pub fn xrpc(&self) -> Option<&atproto_xrpc::Error> {
        match self {
            SessionError::Xrpc(e) => Some(e),
            _ => None,
        }
    }

    /// A failure that says nothing about the session's validity (network,
    /// 5xx, 429, an answer that is not XRPC or does not decode): worth
    /// retrying later; the session is kept.
    pub fn is_transient(&self) -> bool {
        match self {
            SessionError::Xrpc(e) => e.is_transient(),
            SessionError::Decode(_) => true,
            _ => false,
        }
    }
}
