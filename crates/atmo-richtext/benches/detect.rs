//! Throughput of detection, segments and edits on post-sized texts.
//!
//! `cargo bench -p atmo-richtext` prints the mean time per call; no
//! harness dependency, just a warm-up and a timed loop per case.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use atmo_richtext::{detect_facets, RichText};

fn bench(name: &str, mut f: impl FnMut()) {
    for _ in 0..200 {
        f();
    }
    let mut runs = 0u32;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(500) {
        for _ in 0..100 {
            f();
        }
        runs += 100;
    }
    let per = start.elapsed() / runs;
    println!("{name:<40} {:>10.2} µs", per.as_secs_f64() * 1e6);
}

fn main() {
    // A full-length post (about 300 graphemes) with every kind of facet.
    let post = "Heading to the #RustConf 🦀 with @alice.bsky.social and @bob.test! \
        Slides at https://example.com/talks/2024/rich-text?lang=en (mirror: bsky.app/profile/x). \
        日本語のテキストも #東京 で。 שלום עולם #שלום 👨‍👩‍👧‍👧 e\u{301}te\u{301} \
        more text here to fill the post up, with a link docs.rs/atproto and #tags #more_tags!";
    let plain = "Just an ordinary post without anything special in it, only words and some \
        punctuation, the kind most posts are. It goes on for a while to reach a realistic \
        length; nothing in it should become a facet at all, so this measures the scan alone.";

    bench("detect_facets, post with 10 facets", || {
        black_box(detect_facets(black_box(post)));
    });
    bench("detect_facets, plain post", || {
        black_box(detect_facets(black_box(plain)));
    });
    let rt = RichText::detect(post);
    assert_eq!(rt.facets().len(), 10);
    assert!(detect_facets(plain).is_empty());
    bench("segments, post with 10 facets", || {
        black_box(rt.segments().count());
    });
    bench("grapheme_len, post", || {
        black_box(rt.grapheme_len());
    });
    bench("insert + delete at start, post", || {
        let mut r = rt.clone();
        r.insert(0, "👋 ").unwrap();
        r.delete(0..5).unwrap();
        black_box(r);
    });
}
