//! A session store in memory.

use std::sync::Mutex;

use super::{BoxFuture, SessionStore, StoreError};
use crate::SessionData;

/// A store in memory: the session survives the agent but not the process.
#[derive(Debug)]
pub struct MemoryStore<T = SessionData>(Mutex<Option<T>>);

impl<T> Default for MemoryStore<T> {
    fn default() -> Self {
        MemoryStore(Mutex::new(None))
    }
}

impl<T: Clone> MemoryStore<T> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding a session.
    pub fn with(session: T) -> Self {
        MemoryStore(Mutex::new(Some(session)))
    }

    /// The stored session, read synchronously.
    pub fn get(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, s: Option<T>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }
}

impl<T: Clone + Send + Sync + 'static> SessionStore<T> for MemoryStore<T> {
    fn load(&self) -> BoxFuture<'_, Result<Option<T>, StoreError>> {
        let s = self.get();
        Box::pin(async move { Ok(s) })
    }
    fn save<'a>(&'a self, session: &'a T) -> BoxFuture<'a, Result<(), StoreError>> {
        self.set(Some(session.clone()));
        Box::pin(async { Ok(()) })
    }
    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.set(None);
        Box::pin(async { Ok(()) })
    }
}
