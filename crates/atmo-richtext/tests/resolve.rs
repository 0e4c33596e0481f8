//! Mention resolution through pluggable resolvers: maps, closures, futures
//! that wait; unresolvable handles dropped, each handle asked once.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use atmo_richtext::{Facet, Feature, FnResolver, RichText};
use atmo_types::{Did, Handle};

/// Runs a future to completion on this thread (no runtime needed: the
/// futures here wake themselves or are ready).
fn block_on<F: Future>(future: F) -> F::Output {
    struct NoopWake;
    impl Wake for NoopWake {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    for _ in 0..10_000 {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future did not complete");
}

/// A future that is pending `n` times (waking itself) before it yields.
struct After<T> {
    n: usize,
    value: Option<T>,
}

impl<T: Unpin> Future for After<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if self.n == 0 {
            Poll::Ready(self.value.take().expect("polled after completion"))
        } else {
            self.n -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn did(s: &str) -> Did {
    Did::new(s).unwrap()
}

fn handle(s: &str) -> Handle {
    Handle::new(s).unwrap()
}

fn mentions(rt: &RichText) -> Vec<(usize, usize, String)> {
    rt.facets()
        .iter()
        .filter_map(|f| Some((f.start, f.end, f.mention()?.to_string())))
        .collect()
}

#[test]
fn map_resolver_resolves_known_and_drops_unknown() {
    let map = HashMap::from([(handle("alice.test"), did("did:plc:alice"))]);
    let mut rt = RichText::detect("hi @alice.test and @bob.test #tag");
    block_on(rt.resolve_mentions(&map));
    assert_eq!(mentions(&rt), [(3, 14, "did:plc:alice".to_owned())]);
    let ranges: Vec<_> = rt.facets().iter().map(|f| f.range()).collect();
    assert_eq!(ranges, [3..14, 29..33]);
    assert!(rt.facets().iter().all(|f| f.unresolved_mention().is_none()));
    #[cfg(feature = "record")]
    assert!(rt.to_record_facets().is_ok());
}

#[test]
fn btree_map_resolver_works_too() {
    let map = BTreeMap::from([(handle("alice.test"), did("did:plc:alice"))]);
    let mut rt = RichText::detect("@alice.test");
    block_on(rt.resolve_mentions(&map));
    assert_eq!(mentions(&rt), [(0, 11, "did:plc:alice".to_owned())]);
}

#[test]
fn closure_resolver_with_waiting_futures_resolves_all() {
    let calls = RefCell::new(Vec::new());
    let resolver = FnResolver(|h: Handle| {
        calls.borrow_mut().push(h.to_string());
        let answer = (h.as_str() != "nobody.test").then(|| did(&format!("did:web:{h}")));
        // Later handles answer sooner, so completion order differs from
        // the order of the text.
        After {
            n: 5 - calls.borrow().len(),
            value: Some(answer),
        }
    });
    let mut rt = RichText::detect("@a.test @nobody.test @b.test");
    block_on(rt.resolve_mentions(&resolver));
    assert_eq!(
        mentions(&rt),
        [
            (0, 7, "did:web:a.test".to_owned()),
            (21, 28, "did:web:b.test".to_owned()),
        ]
    );
    assert_eq!(*calls.borrow(), ["a.test", "nobody.test", "b.test"]);
}

#[test]
fn each_handle_is_resolved_once_in_lowercase() {
    let calls = RefCell::new(Vec::new());
    let resolver = FnResolver(|h: Handle| {
        calls.borrow_mut().push(h.to_string());
        std::future::ready(Some(did("did:plc:same")))
    });
    let mut rt = RichText::detect("@A.test @a.test @A.test");
    block_on(rt.resolve_mentions(&resolver));
    assert_eq!(*calls.borrow(), ["a.test"]);
    assert_eq!(
        mentions(&rt),
        [
            (0, 7, "did:plc:same".to_owned()),
            (8, 15, "did:plc:same".to_owned()),
            (16, 23, "did:plc:same".to_owned()),
        ]
    );
}

#[test]
fn text_without_mentions_asks_nothing() {
    let calls = RefCell::new(0);
    let resolver = FnResolver(|_h: Handle| {
        *calls.borrow_mut() += 1;
        std::future::ready(None)
    });
    let mut rt = RichText::detect("#tag example.com");
    block_on(rt.resolve_mentions(&resolver));
    assert_eq!(*calls.borrow(), 0);
    assert_eq!(rt.facets().len(), 2);
}

#[test]
fn unresolved_mention_is_dropped_but_other_features_of_its_facet_stay() {
    let other = Feature::Tag("kept".into());
    let facet = Facet {
        start: 0,
        end: 8,
        features: vec![
            Feature::UnresolvedMention(handle("gone.test")),
            other.clone(),
        ],
    };
    let mut rt = RichText::with_facets("@gone.te", vec![facet]).unwrap();
    block_on(rt.resolve_mentions(&HashMap::<Handle, Did>::new()));
    assert_eq!(
        rt.facets(),
        [Facet {
            start: 0,
            end: 8,
            features: vec![other]
        }]
    );
}

#[test]
fn detect_and_resolve_replaces_old_facets() {
    let map = HashMap::from([(handle("alice.test"), did("did:plc:alice"))]);
    let mut rt = RichText::with_facets(
        "yo @alice.test",
        vec![Facet::new(0..2, Feature::Tag("old".into()))],
    )
    .unwrap();
    block_on(rt.detect_and_resolve(&map));
    assert_eq!(mentions(&rt), [(3, 14, "did:plc:alice".to_owned())]);
    assert_eq!(rt.facets().len(), 1);
}

#[test]
fn resolver_by_reference_and_unresolved_error_before_resolution() {
    let map = HashMap::from([(handle("alice.test"), did("did:plc:alice"))]);
    let mut rt = RichText::detect("ünï @alice.test");
    #[cfg(feature = "record")]
    assert_eq!(
        rt.to_record_facets().unwrap_err().to_string(),
        "mention of @alice.test at bytes 6..17 is not resolved to a DID"
    );
    let by_ref = &map;
    block_on(rt.resolve_mentions(&by_ref));
    assert_eq!(mentions(&rt), [(6, 17, "did:plc:alice".to_owned())]);
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn resolution_future_is_send_when_the_resolver_is() {
    let map = std::sync::Arc::new(HashMap::from([(
        handle("alice.test"),
        did("did:plc:alice"),
    )]));
    let mut rt = RichText::detect("@alice.test");
    let future = rt.resolve_mentions(&map);
    assert_send(&future);
    block_on(future);
    assert_eq!(mentions(&rt), [(0, 11, "did:plc:alice".to_owned())]);
}
