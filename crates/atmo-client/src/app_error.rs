//! The errors an application meets around the agent's calls, absorbed by
//! [`Error`] (and so by [`AnyError`](crate::AnyError)): a misconfigured
//! builder ([`ConfigError`]) and the library's own error types raised by
//! application code, such as a string that is not a DID or JSON that does
//! not parse ([`OtherError`]).
//!
//! With these, a function returning `Result<_, AnyError>` can use `?` on
//! every error of this library's crates, not only on agent calls:
//!
//! ```
//! use atmo_client::atmo_api::app::bsky::feed::post::Post;
//! use atmo_client::atmo_types::{Did, Nsid};
//! use atmo_client::AnyError;
//!
//! fn read(did: &str, json: &str) -> Result<(Did, Post), AnyError> {
//!     let did = Did::new(did)?;                          // SyntaxError
//!     let _nsid = Nsid::new("app.bsky.feed.post")?;     // SyntaxError
//!     let post: Post = serde_json::from_str(json)?;     // serde_json::Error
//!     Ok((did, post))
//! }
//!
//! let err = read("not a did", "{}").unwrap_err();
//! assert!(err.to_string().contains("invalid did"));
//! let syntax = err.other().and_then(|o| o.downcast_ref::<atmo_client::atmo_types::SyntaxError>());
//! assert_eq!(syntax.map(|s| s.format), Some("did"));
//! ```

use std::fmt;
use std::sync::Arc;

use atmo_types::base32::Base32Error;
use atmo_types::base64::Base64Error;
use atmo_types::validate::ValidationError;
use atmo_types::{DataModelError, SyntaxError};

use crate::error::Error;

/// The agent (or the session under it) was configured with something it
/// cannot use: a service URL that is not one, plain `http://` to a host
/// that is not loopback, no HTTP client. Returned by
/// [`AgentBuilder::build`](crate::AgentBuilder::build) as [`Error::Config`];
/// nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting at fault, e.g. `service URL` or `HTTP client`.
    pub setting: &'static str,
    /// What is wrong with it.
    pub reason: String,
    url: Option<atmo_xrpc::UrlError>,
}

impl ConfigError {
    /// A setting and what is wrong with it.
    pub fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        ConfigError {
            setting,
            reason: reason.into(),
            url: None,
        }
    }

    /// A URL setting the URL policy refused (the cause is kept as the
    /// error's source).
    pub fn url(setting: &'static str, error: atmo_xrpc::UrlError) -> Self {
        ConfigError {
            setting,
            reason: error.to_string(),
            url: Some(error),
        }
    }

    /// The URL error behind it, when a URL was refused.
    pub fn url_error(&self) -> Option<&atmo_xrpc::UrlError> {
        self.url.as_ref()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad configuration: {}: {}", self.setting, self.reason)
    }
}

impl std::error::Error for ConfigError {
    /// The URL error's own cause, if any (its text is already in this
    /// error's `Display`).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.url.as_ref().and_then(std::error::Error::source)
    }
}

/// One of the library's own error types raised by application code and
/// carried with `?` ([`Error::Other`]): a [`SyntaxError`] (`Did::new`,
/// `Handle::new`, `AtUri::new`...), a `serde_json::Error`, a
/// [`DataModelError`], a [`ValidationError`] from a generated type's
/// `validate()`, a [`Base64Error`] or [`Base32Error`].
///
/// Its `Display` is the wrapped error's; [`OtherError::downcast_ref`]
/// reaches the typed value.
#[derive(Clone)]
pub struct OtherError {
    inner: Arc<dyn std::error::Error + Send + Sync + 'static>,
    type_name: &'static str,
}

impl OtherError {
    fn new<T: std::error::Error + Send + Sync + 'static>(e: T) -> Self {
        OtherError {
            inner: Arc::new(e),
            type_name: std::any::type_name::<T>(),
        }
    }

    /// The error, when it is a `T` (e.g. [`SyntaxError`]).
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.inner.downcast_ref::<T>()
    }

    /// True when the error is a `T`.
    pub fn is<T: std::error::Error + 'static>(&self) -> bool {
        self.inner.is::<T>()
    }

    /// The wrapped error.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.inner
    }
}

impl fmt::Debug for OtherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtherError")
            .field("type", &self.type_name)
            .field("error", &self.inner)
            .finish()
    }
}

impl fmt::Display for OtherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for OtherError {
    /// The wrapped error's cause (its text is already in `Display`).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

macro_rules! absorb_as_other {
    ($($ty:ty),* $(,)?) => {$(
        impl<E> From<$ty> for Error<E> {
            /// Carried as [`Error::Other`].
            fn from(e: $ty) -> Self {
                Error::Other(OtherError::new(e))
            }
        }
    )*};
}

absorb_as_other!(
    SyntaxError,
    serde_json::Error,
    DataModelError,
    ValidationError,
    Base64Error,
    Base32Error,
);

impl<E> From<ConfigError> for Error<E> {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl<E> From<atmo_identity::Error> for Error<E> {
    /// Carried as [`Error::Identity`].
    fn from(e: atmo_identity::Error) -> Self {
        Error::Identity(Box::new(e))
    }
}

impl<E> From<atmo_xrpc::UrlError> for Error<E> {
    /// A URL the policy refused, as the XRPC layer reports it
    /// ([`atmo_xrpc::Error::Url`]).
    fn from(e: atmo_xrpc::UrlError) -> Self {
        Error::Xrpc(atmo_xrpc::Error::Url(e))
    }
}

impl<E> Error<E> {
    /// The library error carried by [`Error::Other`], if that is what this
    /// is.
    pub fn other(&self) -> Option<&OtherError> {
        match self {
            Error::Other(o) => Some(o),
            _ => None,
        }
    }

    /// The configuration error, if that is what this is.
    pub fn config(&self) -> Option<&ConfigError> {
        match self {
            Error::Config(c) => Some(c),
            _ => None,
        }
    }
}
