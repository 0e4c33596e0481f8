//! What the OAuth client keeps: pending authorizations by `state`, and
//! sessions by DID, with a lock around each refresh.
//!
//! [`StateStore`] and [`OAuthSessionStore`] are the seams; the one
//! [`MemoryStore`] of `atmo-session` (one process, `MemoryStore<AuthState>`
//! and `MemoryStore<OAuthSessionData>`) and [`DirStore`] (JSON files in a directory, written
//! atomically with mode 0600 through `atmo_session::FileStore`, locked
//! across processes with the operating system's file locks) implement
//! both, and so does the Redis store of the `redis` feature.

use std::path::PathBuf;
use std::sync::Arc;

use atmo_session::{FileStore, KeyedStore, SessionStore, StoreError, StoreLock};
use atmo_types::Did;
use atmo_xrpc::{BoxFuture, Secret};
use serde::{Deserialize, Serialize};

use crate::jose::Es256Key;

/// A pending authorization: what `authorize` saved for `callback`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthState {
    /// The authorization server the flow began with.
    pub issuer: String,
    /// The DPoP key bound to the request (and to the session that follows).
    pub dpop_key: Es256Key,
    /// The PKCE verifier.
    pub verifier: Secret,
    /// The redirect URI sent with the request.
    pub redirect_uri: String,
    /// The application's own state, handed back by `callback`.
    pub app_state: Option<String>,
    /// The account the flow began with, when it began from a handle or DID.
    pub expected_did: Option<Did>,
    /// When `authorize` ran (Unix seconds).
    pub created_at: u64,
}

/// A signed-in OAuth session as stored.
///
/// `Debug` never shows tokens or the key (they are [`Secret`]s and an
/// [`Es256Key`]); serialization writes them all, as a store must.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OAuthSessionData {
    /// The account (`sub`).
    pub did: Did,
    /// The authorization server that issued the tokens.
    pub issuer: String,
    /// The account's PDS (the token's audience): where requests go.
    pub pds: String,
    /// The granted scopes.
    pub scope: String,
    /// The DPoP-bound access token.
    pub access_token: Secret,
    /// The single-use refresh token.
    pub refresh_token: Option<Secret>,
    /// When the access token expires (Unix seconds).
    pub expires_at: Option<u64>,
    /// When the access token was issued (Unix seconds), for the refresh
    /// margin of short-lived tokens.
    #[serde(default)]
    pub issued_at: Option<u64>,
    /// The session's DPoP key.
    pub dpop_key: Es256Key,
    /// The issuer's token endpoint.
    pub token_endpoint: String,
    /// The issuer's revocation endpoint.
    pub revocation_endpoint: Option<String>,
}

/// Pending authorizations, keyed by `state`.
pub trait StateStore: Send + Sync {
    /// Saves `state` under `key`.
    fn save_state<'a>(
        &'a self,
        key: &'a str,
        state: &'a AuthState,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Removes and returns the state saved under `key`: each state is used
    /// at most once.
    fn take_state<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<AuthState>, StoreError>>;
}

/// Sessions, keyed by DID.
///
/// Refresh tokens are single-use: two processes refreshing the same session
/// at once end it. A store shared between processes or machines must
/// implement [`OAuthSessionStore::lock_session`]; the client refreshes under it and
/// re-reads the session first, adopting tokens another process refreshed.
pub trait OAuthSessionStore: Send + Sync {
    /// The session of `did`, if stored.
    fn load_session<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<OAuthSessionData>, StoreError>>;
    /// Saves (replaces) the session of `session.did`.
    fn save_session<'a>(
        &'a self,
        session: &'a OAuthSessionData,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Deletes the session of `did`.
    fn clear_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<(), StoreError>>;
    /// An exclusive lock on `did`'s session, held while refreshing. The
    /// default holds nothing: right only for a store one client uses.
    fn lock_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<StoreLock, StoreError>> {
        let _ = did;
        Box::pin(async { Ok(StoreLock::none()) })
    }
}

/// The in-memory store of every session kind, `atmo_session`'s
/// [`MemoryStore`]: as a [`KeyedStore`] it keeps OAuth sessions by DID
/// (`MemoryStore<OAuthSessionData>`, with a lock per DID so that several
/// clients in one process sharing it refresh one at a time) and pending
/// authorizations by `state` (`MemoryStore<AuthState>`).
///
/// It replaces this crate's own `MemoryStore`, which kept both kinds in one
/// value: give a client one of each (`state_store` and `session_store`), or
/// only the session store (the state store defaults to one in memory).
pub use atmo_session::MemoryStore;

impl StateStore for MemoryStore<AuthState> {
    fn save_state<'a>(
        &'a self,
        key: &'a str,
        state: &'a AuthState,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.save_at(key, state)
    }
    fn take_state<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<AuthState>, StoreError>> {
        self.take_at(key)
    }
}

impl OAuthSessionStore for MemoryStore<OAuthSessionData> {
    fn load_session<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<OAuthSessionData>, StoreError>> {
        self.load_at(did.as_str())
    }
    fn save_session<'a>(
        &'a self,
        session: &'a OAuthSessionData,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.save_at(session.did.as_str(), session)
    }
    fn clear_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<(), StoreError>> {
        self.clear_at(did.as_str())
    }
    fn lock_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<StoreLock, StoreError>> {
        self.lock_at(did.as_str())
    }
}

/// A shared store is a store, so builders take both forms.
impl<S: StateStore + ?Sized> StateStore for Arc<S> {
    fn save_state<'a>(
        &'a self,
        key: &'a str,
        state: &'a AuthState,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).save_state(key, state)
    }
    fn take_state<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<AuthState>, StoreError>> {
        (**self).take_state(key)
    }
}

/// A shared store is a store, so builders take both forms.
impl<S: OAuthSessionStore + ?Sized> OAuthSessionStore for Arc<S> {
    fn load_session<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<OAuthSessionData>, StoreError>> {
        (**self).load_session(did)
    }
    fn save_session<'a>(
        &'a self,
        session: &'a OAuthSessionData,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).save_session(session)
    }
    fn clear_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).clear_session(did)
    }
    fn lock_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<StoreLock, StoreError>> {
        (**self).lock_session(did)
    }
}

/// Both stores as JSON files in a directory: `states/<key>.json` and
/// `sessions/<key>.json`, each written atomically with mode 0600 (through
/// `atmo_session::FileStore`, which also refuses files others can read).
/// File names are the base64url of the key (or of its SHA-256 when long),
/// so no input can name a path.
/// The session lock is the operating system's lock on a lock file per DID
/// (see `FileStore`), so processes on one machine refresh one at a time.
#[derive(Clone, Debug)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirStore { dir: dir.into() }
    }

    fn file<T>(&self, kind: &str, key: &str) -> Result<FileStore<T>, StoreError> {
        let dir = self.dir.join(kind);
        std::fs::create_dir_all(&dir).map_err(|e| {
            StoreError::new(
                atmo_session::StoreErrorKind::Io,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
        // base64url of the key; long keys (a long did:web) by their hash,
        // so that names stay within file-system limits.
        let mut name = atmo_types::base64::encode_url(key.as_bytes());
        if name.len() > 160 {
            use sha2::Digest;
            name = format!(
                "h-{}",
                atmo_types::base64::encode_url(&sha2::Sha256::digest(key.as_bytes()))
            );
        }
        Ok(FileStore::for_type(dir.join(format!("{name}.json"))))
    }
}

impl StateStore for DirStore {
    fn save_state<'a>(
        &'a self,
        key: &'a str,
        state: &'a AuthState,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.file::<AuthState>("states", key)?.save(state).await })
    }
    fn take_state<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<AuthState>, StoreError>> {
        Box::pin(async move {
            let f = self.file::<AuthState>("states", key)?;
            // Under the file's lock, so that two callbacks with the same
            // state cannot both read it before either deletes it.
            let _lock = f.lock().await?;
            let s = f.load().await?;
            if s.is_some() {
                f.clear().await?;
            }
            // One lock file per authorization would pile up: removed while
            // still held. A callback that opened it before and locks it
            // next, or one that creates a new one, finds the state gone.
            let _ = std::fs::remove_file(f.lock_path());
            Ok(s)
        })
    }
}

impl OAuthSessionStore for DirStore {
    fn load_session<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<OAuthSessionData>, StoreError>> {
        Box::pin(async move { self.file("sessions", did.as_str())?.load().await })
    }
    fn save_session<'a>(
        &'a self,
        session: &'a OAuthSessionData,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.file::<OAuthSessionData>("sessions", session.did.as_str())?
                .save(session)
                .await
        })
    }
    fn clear_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.file::<OAuthSessionData>("sessions", did.as_str())?
                .clear()
                .await
        })
    }
    fn lock_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<StoreLock, StoreError>> {
        Box::pin(async move {
            self.file::<OAuthSessionData>("sessions", did.as_str())?
                .lock()
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The session lock of the one MemoryStore is per DID (its
    /// bookkeeping is tested in atmo-session).
    #[tokio::test]
    async fn memory_session_locks_are_per_did() {
        let store = MemoryStore::<OAuthSessionData>::new();
        let alice = Did::new("did:plc:alice").unwrap();
        let bob = Did::new("did:plc:bob").unwrap();
        let held = store.lock_session(&alice).await.unwrap();
        drop(store.lock_session(&bob).await.unwrap());
        let waiting = store.lock_session(&alice);
        drop(held);
        drop(waiting.await.unwrap());
    }
}
