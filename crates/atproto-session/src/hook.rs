//! Delivering session events to an application's hook, in order, without
//! letting a hook that calls back into its own session deadlock it.
//!
//! A session delivers each event while it holds its own lock, so that
//! events arrive one at a time and in the order things happened. A hook
//! that awaits a call on the same session would then wait for itself. A
//! session guards against that with a [`HookScope`]: it runs the hook's
//! future through [`HookScope::deliver`] and calls [`HookScope::check`]
//! before taking its lock, which fails with [`SessionError::CalledFromHook`]
//! when the caller is that session's own hook.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use crate::SessionError;

thread_local! {
    /// The scope whose hook is being polled on this thread right now, 0 for
    /// none.
    static IN_HOOK: Cell<u64> = const { Cell::new(0) };
}

/// One session's identity for the re-entrancy guard. Each call of
/// [`HookScope::new`] gives a distinct scope; a session keeps one for its
/// lifetime (clones of a session share it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HookScope(u64);

impl Default for HookScope {
    fn default() -> Self {
        Self::new()
    }
}

impl HookScope {
    /// A scope no other session has.
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        HookScope(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Whether the code running now was called from inside this scope's
    /// hook (polled within the hook's own future). A call the hook hands to
    /// another task and awaits is not seen as re-entrant: it runs on that
    /// task, and it waits only for the lock, not for itself.
    pub fn is_current(self) -> bool {
        IN_HOOK.with(Cell::get) == self.0
    }

    /// `Err(SessionError::CalledFromHook)` when called from inside this
    /// scope's hook; call it before taking the lock the hook runs under.
    pub fn check(self) -> Result<(), SessionError> {
        if self.is_current() {
            Err(SessionError::CalledFromHook)
        } else {
            Ok(())
        }
    }

    /// Runs `hook` (a hook's future) so that [`HookScope::is_current`] is
    /// true for this scope while it is polled.
    pub fn deliver<'a, T: 'a>(
        self,
        hook: impl Future<Output = T> + Send + 'a,
    ) -> impl Future<Output = T> + Send + 'a {
        InHook {
            scope: self.0,
            future: Box::pin(hook),
        }
    }
}

/// A hook's future, polled with the thread marked as inside `scope`.
struct InHook<'a, T> {
    scope: u64,
    future: Pin<Box<dyn Future<Output = T> + Send + 'a>>,
}

impl<T> Future for InHook<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        struct Restore(u64);
        impl Drop for Restore {
            fn drop(&mut self) {
                IN_HOOK.with(|n| n.set(self.0));
            }
        }
        let scope = self.scope;
        let _restore = Restore(IN_HOOK.with(|n| n.replace(scope)));
        self.future.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn marks_only_its_own_hook() {
        let a = HookScope::new();
        let b = HookScope::new();
        assert_ne!(a, b);
        assert!(a.check().is_ok());
        let inside = a
            .deliver(async move { (a.is_current(), b.is_current(), a.check().is_err()) })
            .await;
        assert_eq!(inside, (true, false, true));
        assert!(!a.is_current(), "the mark ends with the hook");
        // Nested delivery restores the outer scope afterwards.
        let nested = a
            .deliver(
                async move { b.deliver(async move { b.is_current() }).await && a.is_current() },
            )
            .await;
        assert!(nested);
    }
}
