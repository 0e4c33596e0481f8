//! Frame decode throughput on the generated corpus (`stream_bench::corpus`):
//!
//! - `typed`: header and body into the generated `subscribeRepos` message
//!   (`atmo_stream::decode_frame`).
//! - `typed_open`: that, then the commit opened: the CAR slice read with
//!   every block hashed against its CID, the record found and checked.
//! - `value`: header, then the body as an untyped `atmo_sync::Value`.
//! - `serde_json_value`: header, then the body as a `serde_json::Value`.
//!
//! Throughput is per corpus pass (frames and bytes).

use atmo_stream::{decode_frame, Frame, RepoEvent, SubscribeRepos, DEFAULT_MAX_FRAME_SIZE};
use atmo_sync::event::{read_frame, Frame as RawFrame};
use atmo_sync::Value;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const FRAMES: usize = 10_000;

fn body(frame: &[u8]) -> &[u8] {
    match read_frame(frame).unwrap() {
        RawFrame::Message { body, .. } => body,
        _ => unreachable!("the corpus holds messages"),
    }
}

fn frames(c: &mut Criterion) {
    let corpus = stream_bench::corpus(FRAMES).frames;
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    eprintln!(
        "corpus: {FRAMES} frames, {bytes} bytes, {} bytes per frame",
        bytes / FRAMES
    );
    let mut g = c.benchmark_group("frame_decode");
    g.throughput(Throughput::Elements(FRAMES as u64));
    g.bench_function("typed", |b| {
        b.iter(|| {
            for f in &corpus {
                let m =
                    decode_frame::<SubscribeRepos>(black_box(f), DEFAULT_MAX_FRAME_SIZE).unwrap();
                black_box(m);
            }
        })
    });
    g.bench_function("typed_open", |b| {
        b.iter(|| {
            for f in &corpus {
                let Frame::Message(m) =
                    decode_frame::<SubscribeRepos>(black_box(f), DEFAULT_MAX_FRAME_SIZE).unwrap()
                else {
                    unreachable!()
                };
                black_box(RepoEvent::from_message(m).unwrap());
            }
        })
    });
    g.bench_function("value", |b| {
        b.iter(|| {
            for f in &corpus {
                black_box(Value::from_cbor(body(black_box(f))).unwrap());
            }
        })
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| {
            for f in &corpus {
                let v: serde_json::Value = atmo_sync::from_slice(body(black_box(f))).unwrap();
                black_box(v);
            }
        })
    });
    g.finish();
    let mut g = c.benchmark_group("frame_decode_bytes");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("typed", |b| {
        b.iter(|| {
            for f in &corpus {
                black_box(
                    decode_frame::<SubscribeRepos>(black_box(f), DEFAULT_MAX_FRAME_SIZE).unwrap(),
                );
            }
        })
    });
    g.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
