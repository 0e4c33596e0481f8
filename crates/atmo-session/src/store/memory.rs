//! The one in-memory store: a single session, or sessions by key.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{BoxFuture, KeyedStore, SessionStore, StoreError, StoreLock};
use crate::SessionData;

/// The key [`SessionStore`]'s single session is kept under.
const SINGLE: &str = "";

/// A store in memory: what it holds survives the session but not the
/// process.
///
/// It is both kinds of store:
/// - a [`SessionStore`] holding one session (the password session's
///   store, `MemoryStore<SessionData>`, the default);
/// - a [`KeyedStore`] holding values by key, with a lock per key (the OAuth
///   client's stores: sessions by DID, pending authorizations by `state`,
///   e.g. `MemoryStore<OAuthSessionData>`). Several clients in one process
///   sharing it refresh a key's session one at a time.
///
/// `Debug` shows how many entries it holds, never their contents.
pub struct MemoryStore<T = SessionData> {
    entries: Mutex<HashMap<String, T>>,
    locks: Arc<KeyLocks>,
}

/// The per-key locks of a [`MemoryStore`]; an entry lives only while
/// someone holds or waits for its lock.
type KeyLocks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

impl<T> Default for MemoryStore<T> {
    fn default() -> Self {
        MemoryStore {
            entries: Mutex::new(HashMap::new()),
            locks: Arc::default(),
        }
    }
}

impl<T> fmt::Debug for MemoryStore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &guard(&self.entries).len())
            .finish()
    }
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T: Clone> MemoryStore<T> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding a session (the [`SessionStore`] one).
    pub fn with(session: T) -> Self {
        let store = Self::default();
        guard(&store.entries).insert(SINGLE.to_owned(), session);
        store
    }

    /// The stored session (the [`SessionStore`] one), read synchronously.
    pub fn get(&self) -> Option<T> {
        self.get_at(SINGLE)
    }

    /// The value stored under `key` ([`KeyedStore`]), read synchronously.
    pub fn get_at(&self, key: &str) -> Option<T> {
        guard(&self.entries).get(key).cloned()
    }

    /// How many keys have a lock entry now (held or waited for).
    #[cfg(test)]
    fn lock_entries(&self) -> usize {
        guard(&self.locks).len()
    }

    fn set(&self, key: &str, value: Option<T>) -> Option<T> {
        let mut entries = guard(&self.entries);
        match value {
            Some(v) => entries.insert(key.to_owned(), v),
            None => entries.remove(key),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SessionStore<T> for MemoryStore<T> {
    fn load(&self) -> BoxFuture<'_, Result<Option<T>, StoreError>> {
        let s = self.get();
        Box::pin(async move { Ok(s) })
    }
    fn save<'a>(&'a self, session: &'a T) -> BoxFuture<'a, Result<(), StoreError>> {
        self.set(SINGLE, Some(session.clone()));
        Box::pin(async { Ok(()) })
    }
    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.set(SINGLE, None);
        Box::pin(async { Ok(()) })
    }
}

impl<T: Clone + Send + Sync + 'static> KeyedStore<T> for MemoryStore<T> {
    fn load_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<T>, StoreError>> {
        let v = self.get_at(key);
        Box::pin(async move { Ok(v) })
    }
    fn save_at<'a>(&'a self, key: &'a str, value: &'a T) -> BoxFuture<'a, Result<(), StoreError>> {
        self.set(key, Some(value.clone()));
        Box::pin(async { Ok(()) })
    }
    fn take_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<T>, StoreError>> {
        // One step under the map's lock: a value is taken at most once.
        let v = self.set(key, None);
        Box::pin(async move { Ok(v) })
    }
    fn clear_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.set(key, None);
        Box::pin(async { Ok(()) })
    }
    fn lock_at<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<StoreLock, StoreError>> {
        let key = key.to_owned();
        let mutex = guard(&self.locks).entry(key.clone()).or_default().clone();
        // The only handle is in the guard, from before the wait: a waiter
        // dropped while waiting (or never polled) cleans up too.
        let mut lock = KeyLock {
            locks: self.locks.clone(),
            key,
            mutex: Some(mutex),
            held: None,
        };
        Box::pin(async move {
            if let Some(mutex) = lock.mutex.clone() {
                lock.held = Some(mutex.lock_owned().await);
            }
            Ok(StoreLock::new(lock))
        })
    }
}

/// A held key lock of a [`MemoryStore`]: releases the lock, then drops the
/// key's entry when no one else holds or waits for it.
struct KeyLock {
    locks: Arc<KeyLocks>,
    key: String,
    /// This handle on the key's lock, while waiting for it.
    mutex: Option<Arc<tokio::sync::Mutex<()>>>,
    /// The lock, once taken.
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        drop(self.held.take());
        drop(self.mutex.take());
        // Under the map's lock no one can take a new handle, so an entry
        // whose only reference is the map's is idle.
        let mut map = guard(&self.locks);
        if map
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_session_and_keyed_values_side_by_side() {
        let store = MemoryStore::<String>::with("single".into());
        assert_eq!(
            SessionStore::load(&store).await.unwrap().as_deref(),
            Some("single")
        );
        store.save_at("a", &"one".to_owned()).await.unwrap();
        store.save_at("b", &"two".to_owned()).await.unwrap();
        assert_eq!(store.load_at("a").await.unwrap().as_deref(), Some("one"));
        assert_eq!(store.take_at("a").await.unwrap().as_deref(), Some("one"));
        assert_eq!(store.take_at("a").await.unwrap(), None, "taken once");
        store.clear_at("b").await.unwrap();
        assert_eq!(store.get_at("b"), None);
        assert_eq!(store.get().as_deref(), Some("single"));
        SessionStore::clear(&store).await.unwrap();
        assert_eq!(store.get(), None);
        assert_eq!(format!("{store:?}"), "MemoryStore { entries: 0 }");
    }

    #[tokio::test]
    async fn key_locks_do_not_pile_up() {
        let store = MemoryStore::<String>::new();
        for i in 0..50 {
            drop(store.lock_at(&format!("did:plc:user{i}")).await.unwrap());
        }
        assert_eq!(store.lock_entries(), 0);
        // Held and waited for: the entry stays until both are done, and
        // the waiter gets the lock once the holder lets go.
        let held = store.lock_at("did:plc:alice").await.unwrap();
        let mut waiting = std::pin::pin!(store.lock_at("did:plc:alice"));
        assert!(poll_once(waiting.as_mut()).await.is_none());
        // Another key is not blocked.
        drop(store.lock_at("did:plc:bob").await.unwrap());
        assert_eq!(store.lock_entries(), 1);
        drop(held);
        let second = waiting.await.unwrap();
        assert_eq!(store.lock_entries(), 1);
        drop(second);
        assert_eq!(store.lock_entries(), 0);
        // A waiter dropped before it got the lock leaves nothing either.
        let held = store.lock_at("did:plc:alice").await.unwrap();
        drop(store.lock_at("did:plc:alice"));
        drop(held);
        assert_eq!(store.lock_entries(), 0);
    }

    /// Polls `f` once: its output if it is ready.
    async fn poll_once<F: std::future::Future + Unpin>(mut f: F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
