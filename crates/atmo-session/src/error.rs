//! What the session layer reports.

use std::fmt;
use std::sync::Arc;

use atmo_types::xrpc::DecodeError;
use atmo_types::Did;

use crate::store::StoreError;

/// What the session layer reports, for every session kind.
///
/// No variant ever contains a token or a password.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The request, or a session call it needed (a refresh), failed in the
    /// XRPC layer: no answer, an XRPC error, a rate limit...
    Xrpc(atmo_xrpc::Error),
    /// A session answer (createSession, refreshSession, getSession) did not
    /// have the expected shape.
    Decode(DecodeError),
    /// The call needs a session and there is none (never signed in, signed
    /// out, or the session expired).
    NoSession,
    /// The server rejected the refresh token (`ExpiredToken`,
    /// `InvalidToken`, `AccountTakedown`; OAuth's `invalid_grant`), or an
    /// idle or revoked session was ended: the session is over and was
    /// cleared. Sign in again.
    Expired {
        /// The error name of the rejection.
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
    /// The session's authentication scheme failed without ending the
    /// session: e.g. an OAuth token endpoint that could not be reached or
    /// refused a DPoP proof. [`AuthError::is_transient`] says whether trying
    /// again later may succeed; the scheme's own error type is reachable
    /// through [`AuthError::downcast_ref`].
    Auth(AuthError),
    /// The session's own event hook called back into it (e.g. made an
    /// agent call) while the event it was given was being delivered, under
    /// the session lock. Refused rather than left waiting for itself: hand
    /// such work to another task (`tokio::spawn`) without awaiting it.
    CalledFromHook,
}

/// A failure of a session's authentication scheme (see
/// [`SessionError::Auth`]): the scheme's own error, and whether it is worth
/// retrying.
#[derive(Clone)]
pub struct AuthError {
    transient: bool,
    error: Arc<dyn std::error::Error + Send + Sync>,
}

impl AuthError {
    /// A failure that says nothing about the session's validity (the
    /// server could not be reached, answered 5xx or 429...): the session
    /// is kept and a later call retries.
    pub fn transient(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        AuthError {
            transient: true,
            error: Arc::new(error),
        }
    }

    /// A failure that retrying will not fix, which did not end the session
    /// either (a key or configuration problem).
    pub fn permanent(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        AuthError {
            transient: false,
            error: Arc::new(error),
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The scheme's error.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.error
    }

    /// The scheme's error, when it is an `E` (e.g. `atmo_oauth::OAuthError`).
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref()
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("transient", &self.transient)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for AuthError {
    /// `Display` is the wrapped error's text; the chain continues with its
    /// source, so nothing is printed twice.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
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
            SessionError::Auth(e) => write!(f, "authentication failed: {e}"),
            SessionError::CalledFromHook => f.write_str(
                "the session's event hook called back into the session while its event was \
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
            SessionError::Auth(e) => e.source(),
            _ => None,
        }
    }
}

impl From<atmo_xrpc::Error> for SessionError {
    fn from(e: atmo_xrpc::Error) -> Self {
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

impl From<AuthError> for SessionError {
    fn from(e: AuthError) -> Self {
        SessionError::Auth(e)
    }
}

impl SessionError {
    /// The XRPC-layer error, when that is what failed.
    pub fn xrpc(&self) -> Option<&atmo_xrpc::Error> {
        match self {
            SessionError::Xrpc(e) => Some(e),
            _ => None,
        }
    }

    /// A failure that says nothing about the session's validity (network,
    /// 5xx, 429, an answer that is not XRPC or does not decode, a transient
    /// [`AuthError`]): worth retrying later; the session is kept.
    pub fn is_transient(&self) -> bool {
        match self {
            SessionError::Xrpc(e) => e.is_transient(),
            SessionError::Decode(_) => true,
            SessionError::Auth(e) => e.is_transient(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Scheme(&'static str);
    impl fmt::Display for Scheme {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Scheme {}

    #[test]
    fn auth_errors_keep_their_type_and_class() {
        let e = SessionError::from(AuthError::transient(Scheme("token endpoint unreachable")));
        assert!(e.is_transient());
        assert_eq!(
            e.to_string(),
            "authentication failed: token endpoint unreachable"
        );
        let SessionError::Auth(auth) = &e else {
            panic!("not Auth: {e:?}")
        };
        assert_eq!(
            auth.downcast_ref::<Scheme>().map(|s| s.0),
            Some("token endpoint unreachable")
        );
        assert!(auth.downcast_ref::<std::io::Error>().is_none());
        let e = SessionError::Auth(AuthError::permanent(Scheme("bad key")));
        assert!(!e.is_transient());
        assert!(e.xrpc().is_none(), "not squeezed into an XRPC error");
    }
}
