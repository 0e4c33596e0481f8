//! Delivering session events to the persist hook, in order, without letting
//! a hook that calls back into the agent deadlock it.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use atproto_xrpc::BoxFuture;

use super::{SessionData, SessionEvent};

/// The persist hook, type-erased.
pub(crate) type Hook =
    Arc<dyn Fn(SessionEvent, Option<SessionData>) -> BoxFuture<'static, ()> + Send + Sync>;

thread_local! {
    /// The session whose persist hook is being polled on this thread right
    /// now (its [`session_id`]), 0 for none.
    static IN_HOOK: Cell<u64> = const { Cell::new(0) };
}

/// A number that tells sessions apart for [`in_hook`].
pub(crate) fn session_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether the code running now was called from inside session `id`'s
/// persist hook (an agent call the hook made, polled within the hook's own
/// future). Such a call would wait for the session lock its own caller
/// holds.
pub(crate) fn in_hook(id: u64) -> bool {
    IN_HOOK.with(Cell::get) == id
}

/// Polls a hook's future with [`in_hook`] true for session `id`, so that the
/// session layer can tell a re-entrant call from a concurrent one. A call
/// the hook hands to another task (`tokio::spawn`) and awaits is not seen
/// as re-entrant.
pub(crate) struct MarkedHook(pub(crate) u64, pub(crate) BoxFuture<'static, ()>);

impl Future for MarkedHook {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        struct Restore(u64);
        impl Drop for Restore {
            fn drop(&mut self) {
                IN_HOOK.with(|n| n.set(self.0));
            }
        }
        let _restore = Restore(IN_HOOK.with(|n| n.replace(self.0)));
        self.1.as_mut().poll(cx)
    }
}
