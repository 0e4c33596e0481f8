//! Caching of resolution answers.
//!
//! The resolver stores two kinds of answers: handle → DID and DID →
//! document, each either found (kept for the positive TTL) or definitely not
//! found (kept for the shorter negative TTL). Failures that may pass
//! (network, 5xx) are never stored. [`IdentityCache`] is the seam; an
//! application can implement it over a store shared by several resolvers or
//! processes. [`MemoryCache`] is the built-in one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atmo_types::{Did, Handle};
use atmo_xrpc::BoxFuture;

use crate::document::DidDocument;

/// What is looked up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// Handle → DID (the handle lower-case).
    Handle(Handle),
    /// DID → document.
    Did(Did),
}

/// A stored answer.
#[derive(Clone, Debug, PartialEq)]
pub enum CacheValue {
    /// The DID a handle resolves to.
    Did(Did),
    /// The document of a DID.
    Document(Arc<DidDocument>),
    /// A definite "not found" (no record, HTTP 404, unknown DID).
    NotFound,
}

/// A store of resolution answers. Implementations expire entries after the
/// TTL given to `put`; a failing store should behave as a miss (and log its
/// trouble itself), never fail a resolution.
pub trait IdentityCache: Send + Sync + 'static {
    /// The answer stored for `key`, if any and not expired.
    fn get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Option<CacheValue>>;

    /// Stores `value` for `key` for `ttl`. The TTL is whatever the
    /// application configured, up to `Duration::MAX`: compute expiry times
    /// with checked arithmetic (`Instant::checked_add`), treating overflow
    /// as "for as long as the process runs", as [`MemoryCache`] does.
    fn put(&self, key: CacheKey, value: CacheValue, ttl: Duration) -> BoxFuture<'_, ()>;
}

/// Default number of entries a [`MemoryCache`] holds.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// An in-process cache with a bounded number of entries. When full, expired
/// entries go first, then those closest to expiry. Clones share the entries.
#[derive(Clone, Debug)]
pub struct MemoryCache {
    inner: Arc<Mutex<Entries>>,
}

#[derive(Debug)]
struct Entries {
    capacity: usize,
    map: HashMap<CacheKey, (Instant, CacheValue)>,
}

impl MemoryCache {
    /// A cache of at most [`DEFAULT_CAPACITY`] entries.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A cache of at most `capacity` entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryCache {
            inner: Arc::new(Mutex::new(Entries {
                capacity: capacity.max(1),
                map: HashMap::new(),
            })),
        }
    }

    /// Entries currently held (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().map.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere while holding the lock leaves a valid map.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get_now(&self, key: &CacheKey, now: Instant) -> Option<CacheValue> {
        let mut entries = self.lock();
        match entries.map.get(key) {
            Some((expires, value)) if *expires > now => Some(value.clone()),
            Some(_) => {
                entries.map.remove(key);
                None
            }
            None => None,
        }
    }

    fn put_now(&self, key: CacheKey, value: CacheValue, ttl: Duration, now: Instant) {
        // A TTL past what `Instant` can hold means "for as long as we run".
        let Some(expires) = now
            .checked_add(ttl)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        else {
            return;
        };
        let mut entries = self.lock();
        if entries.map.len() >= entries.capacity && !entries.map.contains_key(&key) {
            entries.map.retain(|_, (e, _)| *e > now);
            if entries.map.len() >= entries.capacity {
                let soonest = entries
                    .map
                    .iter()
                    .min_by_key(|(_, (e, _))| *e)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    entries.map.remove(&k);
                }
            }
        }
        entries.map.insert(key, (expires, value));
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl IdentityCache for MemoryCache {
    fn get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Option<CacheValue>> {
        let value = self.get_now(key, Instant::now());
        Box::pin(async move { value })
    }

    fn put(&self, key: CacheKey, value: CacheValue, ttl: Duration) -> BoxFuture<'_, ()> {
        self.put_now(key, value, ttl, Instant::now());
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(n: usize) -> CacheKey {
        CacheKey::Handle(Handle::new(format!("h{n}.test")).unwrap())
    }

    fn did() -> CacheValue {
        CacheValue::Did(Did::new("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap())
    }

    #[test]
    fn entries_expire_after_their_ttl() {
        let cache = MemoryCache::new();
        let t0 = Instant::now();
        cache.put_now(handle(1), did(), Duration::from_secs(60), t0);
        cache.put_now(handle(2), CacheValue::NotFound, Duration::from_secs(5), t0);
        assert_eq!(cache.get_now(&handle(1), t0), Some(did()));
        assert_eq!(cache.get_now(&handle(2), t0), Some(CacheValue::NotFound));
        let later = t0 + Duration::from_secs(10);
        assert_eq!(cache.get_now(&handle(1), later), Some(did()));
        assert_eq!(cache.get_now(&handle(2), later), None);
        assert_eq!(
            cache.get_now(&handle(1), t0 + Duration::from_secs(61)),
            None
        );
        assert!(cache.is_empty(), "expired entries are dropped when read");
    }

    #[test]
    fn capacity_evicts_expired_then_soonest() {
        let cache = MemoryCache::with_capacity(3);
        let t0 = Instant::now();
        cache.put_now(handle(1), did(), Duration::from_secs(1), t0);
        cache.put_now(handle(2), did(), Duration::from_secs(100), t0);
        cache.put_now(handle(3), did(), Duration::from_secs(50), t0);
        // Full: handle 1 has expired by t0+2s and goes.
        let t2 = t0 + Duration::from_secs(2);
        cache.put_now(handle(4), did(), Duration::from_secs(100), t2);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get_now(&handle(1), t2), None);
        // Full again, none expired: handle 3 expires soonest.
        cache.put_now(handle(5), did(), Duration::from_secs(100), t2);
        assert_eq!(cache.get_now(&handle(3), t2), None);
        assert!(cache.get_now(&handle(2), t2).is_some());
        assert!(cache.get_now(&handle(5), t2).is_some());
        // Replacing a key when full evicts nothing.
        cache.put_now(
            handle(5),
            CacheValue::NotFound,
            Duration::from_secs(100),
            t2,
        );
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get_now(&handle(5), t2), Some(CacheValue::NotFound));
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn huge_ttl_does_not_panic() {
        let cache = MemoryCache::new();
        let t0 = Instant::now();
        cache.put_now(handle(1), did(), Duration::MAX, t0);
        assert_eq!(
            cache.get_now(&handle(1), t0 + Duration::from_secs(86_400)),
            Some(did())
        );
    }
}
