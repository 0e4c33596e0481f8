//! Decode and encode of the fixtures, per party, with serde_json.
//!
//! Group names and function names are what `cargo xtask bench` reads back
//! from `target/criterion/<group>/<party>/new/`.

use bench_suite::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

macro_rules! parties {
    ($m:ident, $c:expr, $input:expr, $group:literal, $alias:ident) => {{
        let mut g = $c.benchmark_group($group);
        g.throughput(Throughput::Bytes($input.len() as u64));
        $m!(g, "ours", ours::$alias, $input);
        $m!(g, "atrium", atrium::$alias, $input);
        $m!(g, "jacquard", jacquard::$alias, $input);
        $m!(g, "serde_json_value", value::$alias, $input);
        g.finish();
    }};
}

/// Decoding, dropping the result outside the timed region.
macro_rules! decode {
    ($g:expr, $name:literal, $ty:ty, $input:expr) => {
        $g.bench_function($name, |b| {
            b.iter_with_large_drop(|| serde_json::from_str::<$ty>(black_box($input)).unwrap())
        });
    };
}

/// Encoding a value decoded once beforehand, into a buffer of the right size.
macro_rules! encode {
    ($g:expr, $name:literal, $ty:ty, $input:expr) => {
        let value: $ty = serde_json::from_str($input).unwrap();
        $g.bench_function($name, |b| {
            b.iter_batched_ref(
                || Vec::with_capacity($input.len() + 1024),
                |buf| serde_json::to_writer(buf, black_box(&value)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    };
}

fn timeline_decode(c: &mut Criterion) {
    parties!(decode, c, TIMELINE, "timeline_decode", Timeline);
}

fn timeline_encode(c: &mut Criterion) {
    parties!(encode, c, TIMELINE, "timeline_encode", Timeline);
}

fn session_decode(c: &mut Criterion) {
    parties!(decode, c, SESSION, "session_decode", Session);
}

criterion_group!(benches, timeline_decode, timeline_encode, session_decode);
criterion_main!(benches);
