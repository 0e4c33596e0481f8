//! Retained memory: heap bytes still allocated after decoding the timeline,
//! while the decoded value is alive (the input is a static string and is not
//! counted). Also the peak during decode and the number of allocations.
//! Prints one JSON object; `cargo xtask bench` reads it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bench_suite::*;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
            ALLOCS.fetch_add(1, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            let now = LIVE.fetch_add(new_size, Relaxed) + new_size;
            PEAK.fetch_max(now, Relaxed);
            ALLOCS.fetch_add(1, Relaxed);
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Measured {
    retained: usize,
    peak: usize,
    allocs: usize,
}

fn measure<'a, T: serde::Deserialize<'a>>(input: &'a str) -> Measured {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let allocs = ALLOCS.load(Relaxed);
    let value: T = serde_json::from_str(input).unwrap();
    let m = Measured {
        retained: LIVE.load(Relaxed) - before,
        peak: PEAK.load(Relaxed) - before,
        allocs: ALLOCS.load(Relaxed) - allocs,
    };
    drop(std::hint::black_box(value));
    m
}

fn main() {
    let parties = [
        ("ours", measure::<ours::Timeline>(TIMELINE)),
        ("atrium", measure::<atrium::Timeline>(TIMELINE)),
        ("jacquard", measure::<jacquard::Timeline>(TIMELINE)),
        ("serde_json_value", measure::<value::Timeline>(TIMELINE)),
    ];
    let mut out = serde_json::Map::new();
    out.insert("input_bytes".into(), TIMELINE.len().into());
    for (name, m) in parties {
        out.insert(
            name.into(),
            serde_json::json!({"retained_bytes": m.retained, "peak_bytes": m.peak, "allocations": m.allocs}),
        );
    }
    println!("{}", serde_json::Value::Object(out));
}
