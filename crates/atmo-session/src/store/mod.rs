//! Where sessions are kept between runs.
//!
//! [`SessionStore`] keeps one session and is generic over what it keeps,
//! so every kind of session (the password session's [`SessionData`], an
//! OAuth session) shares the same stores: [`MemoryStore`] and the atomic,
//! owner-only [`FileStore`]. [`KeyedStore`] keeps many by key (the OAuth
//! client's sessions by DID); [`MemoryStore`] is also one of those, so there
//! is one in-memory store for every session kind.

use std::fmt;
use std::path::{Path, PathBuf};

pub use atmo_xrpc::BoxFuture;

use crate::SessionData;

mod file;
mod memory;

#[cfg(feature = "testing")]
pub use file::testing;
pub use file::{FileStore, DEFAULT_LOCK_TIMEOUT};
pub use memory::MemoryStore;

/// Persistent storage for one session.
///
/// The agent saves the session on `Create` and `Update`, clears it on
/// `Expired`, and leaves it alone on `NetworkError` (see the crate docs).
///
/// Several processes sharing one stored session burn each other's refresh
/// token: the server rotates it on every refresh. A store shared between
/// processes should implement [`SessionStore::lock`]; the agent holds the
/// lock around each refresh and re-reads the store under it, so a session
/// another process refreshed meanwhile is adopted instead of refreshed again.
/// It also re-reads the store before declaring a session expired.
///
/// `T` is the session type; stores are generic (boxed futures keep the trait
/// object-safe, so an agent holds any store without a type parameter; stores
/// are called once per login or refresh, so the allocation does not matter).
pub trait SessionStore<T = SessionData>: Send + Sync {
    /// The saved session, `None` when there is none. A corrupt or unreadable
    /// store is an error, not `None`.
    fn load(&self) -> BoxFuture<'_, Result<Option<T>, StoreError>>;
    /// Replaces the saved session.
    fn save<'a>(&'a self, session: &'a T) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Deletes the saved session.
    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Takes an exclusive lock held while the agent refreshes (dropping the
    /// guard releases it). The default takes none, which is right for a store
    /// used by one process.
    fn lock(&self) -> BoxFuture<'_, Result<StoreLock, StoreError>> {
        Box::pin(async { Ok(StoreLock::none()) })
    }
}

/// A shared store is a store: `Arc<MemoryStore>` (or an
/// `Arc<dyn SessionStore>`) goes wherever a store is taken by value, the
/// same on every builder.
impl<T, S: SessionStore<T> + ?Sized> SessionStore<T> for std::sync::Arc<S> {
    fn load(&self) -> BoxFuture<'_, Result<Option<T>, StoreError>> {
        (**self).load()
    }
    fn save<'a>(&'a self, session: &'a T) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).save(session)
    }
    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        (**self).clear()
    }
    fn lock(&self) -> BoxFuture<'_, Result<StoreLock, StoreError>> {
        (**self).lock()
    }
}

/// Storage for many values by key, with a lock per key: the OAuth client's
/// sessions (by DID) and pending authorizations (by `state`) are kept in
/// one of these ([`MemoryStore`] in memory), the way a single session is
/// kept in a [`SessionStore`].
///
/// Method names end in `_at` so that a type implementing both traits (as
/// [`MemoryStore`] does) has no ambiguous calls.
pub trait KeyedStore<T>: Send + Sync {
    /// The value under `key`, `None` when there is none. A corrupt or
    /// unreadable entry is an error, not `None`.
    fn load_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<T>, StoreError>>;
    /// Replaces the value under `key`.
    fn save_at<'a>(&'a self, key: &'a str, value: &'a T) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Removes and returns the value under `key`, so that it is used at
    /// most once (a pending authorization's `state`).
    fn take_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<T>, StoreError>>;
    /// Deletes the value under `key`.
    fn clear_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// An exclusive lock on `key`, held while its session refreshes
    /// (dropping the guard releases it). The default takes none, which is
    /// right only for a store one client uses.
    fn lock_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<StoreLock, StoreError>> {
        let _ = key;
        Box::pin(async { Ok(StoreLock::none()) })
    }
}

impl<T, S: KeyedStore<T> + ?Sized> KeyedStore<T> for std::sync::Arc<S> {
    fn load_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<T>, StoreError>> {
        (**self).load_at(key)
    }
    fn save_at<'a>(&'a self, key: &'a str, value: &'a T) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).save_at(key, value)
    }
    fn take_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<T>, StoreError>> {
        (**self).take_at(key)
    }
    fn clear_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).clear_at(key)
    }
    fn lock_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<StoreLock, StoreError>> {
        (**self).lock_at(key)
    }
}

/// A held store lock; dropping it releases the lock.
pub struct StoreLock(#[allow(dead_code)] Option<Box<dyn Send + Sync>>);

impl StoreLock {
    /// A guard that holds nothing.
    pub fn none() -> Self {
        StoreLock(None)
    }
    /// A guard that releases when `guard` is dropped.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        StoreLock(Some(Box::new(guard)))
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreLock")
    }
}

/// A session store failure.
#[derive(Clone, Debug)]
pub struct StoreError {
    /// The file concerned, for file stores.
    pub path: Option<PathBuf>,
    /// What kind of failure.
    pub kind: StoreErrorKind,
    /// Description.
    pub message: String,
}

/// Kinds of [`StoreError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// Reading, writing or locking failed.
    Io,
    /// The stored data is not a valid session. It is left in place.
    Corrupt,
    /// The lock could not be taken in time.
    LockTimeout,
    /// The file is readable by other users, or owned by another user: it is
    /// not read (tokens there may have leaked, or been planted). Fix its
    /// permissions (`chmod 600`) or remove it; see [`FileStore`].
    Insecure,
}

impl StoreError {
    /// A custom store's error.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            path: None,
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn at(path: &Path, kind: StoreErrorKind, message: impl fmt::Display) -> Self {
        StoreError {
            path: Some(path.to_owned()),
            kind,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            StoreErrorKind::Io => "I/O error",
            StoreErrorKind::Corrupt => "not a valid saved session (left untouched)",
            StoreErrorKind::LockTimeout => "timed out waiting for the lock",
            StoreErrorKind::Insecure => "refusing an unsafe session file (left untouched)",
        };
        match &self.path {
            Some(p) => write!(f, "{}: {what}: {}", p.display(), self.message),
            None => write!(f, "{what}: {}", self.message),
        }
    }
}

impl std::error::Error for StoreError {}

/// Replaces every double-quoted part of a serde message (string values from
/// the input, which may be tokens) with `"…"`. Field names, which serde
/// quotes with backticks, stay. For stores and sessions that report why a
/// saved session or a server answer did not parse.
pub fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    let mut escaped = false;
    for c in message.chars() {
        if inside {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                inside = false;
                out.push_str("…\"");
            }
            continue;
        }
        out.push(c);
        if c == '"' {
            inside = true;
        }
    }
    if inside {
        out.push_str("…\"");
    }
    out
}
