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
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use atmo_types::Did;
use atmo_xrpc::BoxFuture;

use crate::{SessionError, SessionEvent};

/// An application's session-event hook, of one shape for every session
/// kind: `(event, did, session)`.
///
/// - `event`: what happened ([`SessionEvent`]).
/// - `did`: the account concerned. `Some` for every event but the password
///   session's `CreateFailed` (no account yet); for `Expired` it names the
///   account whose session ended (an OAuth client has many).
/// - `session`: the session as it is now (`SessionData` for the password
///   session, `OAuthSessionData` for OAuth); `None` for `Expired` and
///   `CreateFailed`.
///
/// Built by the builders' `on_session_event` (a plain function, given
/// references) and `on_session_event_async` (an async function, given
/// owned copies, awaited). Events arrive one at a time, in order, while
/// the session is locked; see [`HookScope`] for what a hook may call.
pub struct SessionHook<T> {
    f: HookFn<T>,
}

/// The sync event function: given references, nothing cloned.
type SyncFn<T> = dyn Fn(SessionEvent, Option<&Did>, Option<&T>) + Send + Sync;
/// The async event function: given owned copies, its future awaited.
type AsyncFn<T> =
    dyn Fn(SessionEvent, Option<Did>, Option<T>) -> BoxFuture<'static, ()> + Send + Sync;

enum HookFn<T> {
    Sync(Arc<SyncFn<T>>),
    Async(Arc<AsyncFn<T>>),
}

impl<T> Clone for SessionHook<T> {
    fn clone(&self) -> Self {
        SessionHook {
            f: match &self.f {
                HookFn::Sync(f) => HookFn::Sync(f.clone()),
                HookFn::Async(f) => HookFn::Async(f.clone()),
            },
        }
    }
}

impl<T> fmt::Debug for SessionHook<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.f {
            HookFn::Sync(_) => "SessionHook(sync)",
            HookFn::Async(_) => "SessionHook(async)",
        })
    }
}

impl<T: Clone + Send + Sync + 'static> SessionHook<T> {
    /// A hook that is a plain function of `(event, did, session)`.
    pub fn new<F>(hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<&Did>, Option<&T>) + Send + Sync + 'static,
    {
        SessionHook {
            f: HookFn::Sync(Arc::new(hook)),
        }
    }

    /// A hook that is an async function of `(event, did, session)`, given
    /// owned copies; each call is awaited before the next event is
    /// delivered and before the operation that caused it returns.
    pub fn new_async<F, Fut>(hook: F) -> Self
    where
        F: Fn(SessionEvent, Option<Did>, Option<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        SessionHook {
            f: HookFn::Async(Arc::new(move |e, d, s| Box::pin(hook(e, d, s)))),
        }
    }

    /// Delivers one event and waits for the hook, marked as inside `scope`
    /// (the session's [`HookScope`]) so that its calls back into the session
    /// are refused.
    pub async fn deliver(
        &self,
        scope: HookScope,
        event: SessionEvent,
        did: Option<&Did>,
        session: Option<&T>,
    ) {
        match &self.f {
            HookFn::Sync(f) => scope.deliver(async move { f(event, did, session) }).await,
            HookFn::Async(f) => {
                scope
                    .deliver(f(event, did.cloned(), session.cloned()))
                    .await
            }
        }
    }
}

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
    async fn both_hook_forms_see_the_same_arguments_inside_their_scope() {
        type Seen = Arc<std::sync::Mutex<Vec<(SessionEvent, Option<String>, Option<u8>, bool)>>>;
        let scope = HookScope::new();
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let sync = SessionHook::new(move |e, d: Option<&Did>, s: Option<&u8>| {
            log.lock()
                .unwrap()
                .push((e, d.map(|d| d.to_string()), s.copied(), scope.is_current()));
        });
        let log = seen.clone();
        let asynchronous = SessionHook::new_async(move |e, d: Option<Did>, s: Option<u8>| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push((e, d.map(|d| d.to_string()), s, scope.is_current()));
            }
        });
        let did = Did::new("did:plc:alice").unwrap();
        for hook in [&sync, &asynchronous] {
            hook.deliver(scope, SessionEvent::Update, Some(&did), Some(&7))
                .await;
            hook.deliver(scope, SessionEvent::CreateFailed, None, None)
                .await;
        }
        let one = [
            (
                SessionEvent::Update,
                Some("did:plc:alice".to_owned()),
                Some(7),
                true,
            ),
            (SessionEvent::CreateFailed, None, None, true),
        ];
        assert_eq!(*seen.lock().unwrap(), [one.clone(), one].concat());
        assert!(!scope.is_current());
        assert_eq!(format!("{sync:?}"), "SessionHook(sync)");
    }

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
