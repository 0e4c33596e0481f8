//! Classifying an error answer costs no more memory than its body: the
//! body is read for its `error` and `message` strings only, never built
//! into a JSON tree (where each `0` of a `[0,0,...]` would take dozens of
//! bytes). A test binary of its own, for its counting allocator.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// A counting global allocator is an `unsafe impl GlobalAlloc`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use atmo_xrpc::{classify, Error, HttpResponse};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only
// byte counts are recorded on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most memory in use at once while `f` runs, above what was in use
/// when it started.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

fn answer(status: u16, body: Vec<u8>) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    }
}

#[test]
fn error_bodies_are_not_built_into_json_trees() {
    let zeros = |n: usize| {
        let mut b = b"[0".to_vec();
        b.extend(std::iter::repeat_n(&b",0"[..], n).flatten());
        b.push(b']');
        b
    };
    let body = zeros(4 * 1024 * 1024);
    let size = body.len();
    let (r, peak) = peak_during(|| classify("a.b", answer(400, body)));
    assert!(
        matches!(r, Err(Error::UnexpectedResponse { status: 400, .. })),
        "{r:?}"
    );
    assert!(
        peak < size,
        "{peak} bytes in use at once for a {size}-byte body"
    );

    // The name and message are still found next to a large field.
    let mut body = b"{\"padding\":".to_vec();
    body.extend(zeros(4 * 1024 * 1024));
    body.extend(b",\"error\":\"Big\",\"message\":\"m\",\"error2\":{\"error\":\"Nested\"}}");
    let size = body.len();
    let (r, peak) = peak_during(|| classify("a.b", answer(400, body)));
    match r {
        Err(Error::Xrpc(e)) => {
            assert_eq!((e.error.as_str(), e.message.as_deref()), ("Big", Some("m")));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        peak < size,
        "{peak} bytes in use at once for a {size}-byte body"
    );
}
