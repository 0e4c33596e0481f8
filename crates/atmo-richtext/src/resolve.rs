//! Resolving mentioned handles to DIDs through a resolver the caller plugs in.

use std::collections::{BTreeMap, HashMap};
use std::future::{poll_fn, Future};
use std::hash::BuildHasher;
use std::pin::Pin;
use std::task::Poll;

use atmo_types::{Did, Handle};

/// Something that turns a handle into the DID of its account: the client's
/// agent (through `com.atproto.identity.resolveHandle`), a cache, or in tests
/// a map.
///
/// Handles come lowercased (handles are case-insensitive), each distinct one
/// once per [`RichText::resolve_mentions`] call.
///
/// `None` means the handle does not resolve, for whatever reason (unknown
/// account, network failure): [`RichText::resolve_mentions`] then drops that
/// mention, as the official client does, rather than failing the whole text.
///
/// Implemented for `HashMap<Handle, Did>`, `BTreeMap<Handle, Did>`,
/// references, `Arc`s and `Box`es of resolvers, and [`FnResolver`] (any
/// closure returning a future).
///
/// The futures need not be `Send`; when they are, so is the future of
/// [`RichText::resolve_mentions`], which can then run on a multi-threaded
/// executor.
///
/// [`RichText::resolve_mentions`]: crate::RichText::resolve_mentions
pub trait ResolveHandle {
    /// Resolves `handle` to a DID, or `None` when it cannot.
    fn resolve_handle(&self, handle: &Handle) -> impl Future<Output = Option<Did>>;
}

impl<S: BuildHasher> ResolveHandle for HashMap<Handle, Did, S> {
    fn resolve_handle(&self, handle: &Handle) -> impl Future<Output = Option<Did>> {
        std::future::ready(self.get(handle).cloned())
    }
}

impl ResolveHandle for BTreeMap<Handle, Did> {
    fn resolve_handle(&self, handle: &Handle) -> impl Future<Output = Option<Did>> {
        std::future::ready(self.get(handle).cloned())
    }
}

impl<R: ResolveHandle + ?Sized> ResolveHandle for &R {
    fn resolve_handle(&self, handle: &Handle) -> impl Future<Output = Option<Did>> {
        (**self).resolve_handle(handle)
    }
}

impl<R: ResolveHandle + ?Sized> ResolveHandle for std::sync::Arc<R> {
    fn resolve_handle(&self, handle: &Handle) -> impl Future<Output = Option<Did>> {
        (**self).resolve_handle(handle)
    }
}

impl<R: ResolveHandle + ?Sized> ResolveHandle for Box<R> {
    fn resolve_handle(&self, handle: &Handle) -> impl Future<Output = Option<Did>> {
        (**self).resolve_handle(handle)
    }
}

/// A resolver made of a closure that takes the handle and returns a future
/// of the DID: `FnResolver(|handle| async move { lookup(handle).await })`.
#[derive(Clone, Copy, Debug)]
pub struct FnResolver<F>(pub F);

impl<F, Fut> ResolveHandle for FnResolver<F>
where
    F: Fn(Handle) -> Fut,
    Fut: Future<Output = Option<Did>>,
{
    fn resolve_handle(&self, handle: &Handle) -> impl Future<Output = Option<Did>> {
        (self.0)(handle.clone())
    }
}

/// Resolves every handle in `handles` concurrently, each at most once and in
/// lowercase (handles are case-insensitive, so `@Alice.test` and
/// `@alice.test` are one lookup of `alice.test`), and returns the answers
/// keyed by lowercase handle.
pub(crate) async fn resolve_all<R: ResolveHandle + ?Sized>(
    resolver: &R,
    handles: Vec<&Handle>,
) -> HashMap<String, Option<Did>> {
    let mut unique: Vec<(String, Handle)> = Vec::new();
    for handle in handles {
        let key = handle.as_str().to_ascii_lowercase();
        if unique.iter().any(|(k, _)| *k == key) {
            continue;
        }
        // Lowercasing ASCII letters keeps a valid handle valid; fall back to
        // the handle as written should that ever not hold.
        let lower = Handle::new(key.clone()).unwrap_or_else(|_| handle.clone());
        unique.push((key, lower));
    }
    let mut pending: Vec<Pin<Box<_>>> = unique
        .iter()
        .map(|(_, handle)| Box::pin(resolver.resolve_handle(handle)))
        .collect();
    let mut answers: Vec<Option<Option<Did>>> = unique.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut waiting = false;
        for (future, answer) in pending.iter_mut().zip(answers.iter_mut()) {
            if answer.is_some() {
                continue;
            }
            match future.as_mut().poll(cx) {
                Poll::Ready(did) => *answer = Some(did),
                Poll::Pending => waiting = true,
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    // The futures borrow the handles in `unique`.
    drop(pending);
    unique
        .into_iter()
        .zip(answers)
        .map(|((key, _), answer)| (key, answer.flatten()))
        .collect()
}
