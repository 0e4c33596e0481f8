//! Times the firehose decoders side by side on the generated corpus.
//!
//! ```text
//! cargo run --release -p stream-bench --bin peers -- [--frames N] [--rounds R] [--memory]
//! ```
//!
//! Every party first decodes the whole corpus once and must find the same
//! ops, records and post text as the others. Then, for each of R rounds,
//! each party (in an order rotated every round) decodes the corpus once;
//! the report gives the median round's frames/s and MB/s. `--memory`
//! instead decodes the corpus with atmo-stream until a million frames
//! have passed, printing the process's resident memory every 100,000.
//! `--only PARTY` decodes the corpus once with that party alone (for a
//! profiler).

use std::hint::black_box;
use std::time::{Duration, Instant};

use stream_bench::decode::{self, Failure, Tally};
use stream_bench::{corpus, decode_all, PARTIES};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

/// The row of the least a checking decoder must do.
const FLOOR: &str = "floor: frame and records walked, records hashed, nothing built";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), Failure> {
    let n: usize = arg("--frames").map_or(Ok(10_000), |s| s.parse())?;
    let rounds: usize = arg("--rounds").map_or(Ok(9), |s| s.parse())?;
    let started = Instant::now();
    let corpus = corpus(n);
    let bytes = corpus.bytes();
    let frames = &corpus.frames;
    println!(
        "corpus: {} frames, {} bytes ({} per frame), {} repositories; generated in {:.1?}",
        frames.len(),
        bytes,
        bytes / frames.len().max(1),
        corpus.keys.len(),
        started.elapsed()
    );

    if std::env::args().any(|a| a == "--memory") {
        return memory(frames);
    }
    // `--only PARTY`: that party alone, for a profiler.
    if let Some(only) = arg("--only") {
        let (_, d) = PARTIES
            .iter()
            .find(|(name, _)| *name == only)
            .ok_or("--only: ours, atrium, jacquard or ipld")?;
        let t = decode_all(frames, d).map_err(|(i, e)| format!("frame {i}: {e}"))?;
        println!("{only}: {t:?}");
        return Ok(());
    }

    // Every party reads the corpus the same way.
    let mut reference: Option<Tally> = None;
    for (name, d) in PARTIES {
        let t = decode_all(frames, d).map_err(|(i, e)| format!("{name}, frame {i}: {e}"))?;
        println!("{name:>9}: {t:?}");
        match reference {
            None => reference = Some(t),
            Some(r) if r.work() == t.work() => {}
            Some(r) => return Err(format!("{name} found {t:?}, ours {r:?}").into()),
        }
    }
    let keys = &corpus.keys;
    let vt = decode_all(frames, |f, t| decode::ours::verify(f, keys, t))
        .map_err(|(i, e)| format!("verify, frame {i}: {e}"))?;
    println!("   verify: {vt:?}");

    // The steps of ours, for where its time goes: the frame alone, and the
    // CAR slices read with every block hashed against its CID.
    let cars: Vec<Vec<u8>> = frames
        .iter()
        .filter_map(|f| match decode::ours::event(f) {
            Ok(atmo_stream::RepoEvent::Commit(c)) => Some(c.commit.blocks.0.clone()),
            _ => None,
        })
        .collect();
    // Each frame's record blocks, for the floor row below.
    let records: Vec<Vec<Vec<u8>>> = frames
        .iter()
        .map(|f| match decode::ours::event(f) {
            Ok(atmo_stream::RepoEvent::Commit(c)) => c
                .ops
                .iter()
                .filter_map(|op| op.record_bytes().map(<[u8]>::to_vec))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    type Pass<'a> = Box<dyn Fn() -> Result<(), Failure> + 'a>;
    let per_frame = |d: decode::Decoder| -> Pass {
        Box::new(move || {
            let mut t = Tally::default();
            for f in frames {
                d(black_box(f), &mut t)?;
            }
            black_box(t);
            Ok(())
        })
    };
    let mut runs: Vec<(&str, Pass, Vec<Duration>)> = PARTIES
        .iter()
        .map(|(name, d)| (*name, per_frame(*d), Vec::new()))
        .collect();
    runs.push((
        "ours + verify",
        Box::new(|| {
            let mut t = Tally::default();
            for f in frames {
                decode::ours::verify(black_box(f), keys, &mut t)?;
            }
            black_box(t);
            Ok(())
        }),
        Vec::new(),
    ));
    runs.push((
        "ours: frame only",
        Box::new(|| {
            for f in frames {
                black_box(atmo_stream::decode_frame::<atmo_stream::SubscribeRepos>(
                    black_box(f),
                    atmo_stream::DEFAULT_MAX_FRAME_SIZE,
                )?);
            }
            Ok(())
        }),
        Vec::new(),
    ));
    runs.push((
        "ours: CAR read, every block hashed",
        Box::new(|| {
            for car in &cars {
                black_box(atmo_sync::Car::from_bytes(black_box(car))?);
            }
            Ok(())
        }),
        Vec::new(),
    ));
    runs.push((
        "CAR read, blocks not hashed (the atrium/Ipld rows' reader)",
        Box::new(|| {
            for car in &cars {
                black_box(decode::car::blocks(black_box(car))?);
            }
            Ok(())
        }),
        Vec::new(),
    ));
    // The least a decoder that checks what it hands out must do, building
    // nothing: the frame's header read, its body walked under the strict
    // DAG-CBOR rules, and each record block hashed and walked the same way.
    runs.push((
        FLOOR,
        Box::new(|| {
            for (f, recs) in frames.iter().zip(&records) {
                let f = black_box(f);
                let h = atmo_sync::event::read_header(f, atmo_stream::DEFAULT_MAX_FRAME_SIZE)?;
                atmo_sync::Value::check_cbor(h.body(f))?;
                for r in recs {
                    black_box(atmo_sync::Cid::for_dag_cbor(r));
                    atmo_sync::Value::check_cbor(r)?;
                }
            }
            Ok(())
        }),
        Vec::new(),
    ));
    runs.push((
        "floor, of it: the record blocks hashed",
        Box::new(|| {
            for recs in &records {
                for r in recs {
                    black_box(atmo_sync::Cid::for_dag_cbor(black_box(r)));
                }
            }
            Ok(())
        }),
        Vec::new(),
    ));
    for round in 0..rounds {
        let k = runs.len();
        for i in 0..k {
            let (_, pass, times) = &mut runs[(i + round) % k];
            let start = Instant::now();
            pass()?;
            times.push(start.elapsed());
        }
    }
    let rate = |d: Duration| frames.len() as f64 / d.as_secs_f64();
    let ours = rate(median(runs[0].2.clone()));
    println!("\n| decoder | frames/s | MB/s | µs/frame | ours ÷ it |\n|---|---:|---:|---:|---:|");
    let mut json = serde_json::Map::new();
    for (name, _, times) in &runs {
        let m = median(times.clone());
        let fps = rate(m);
        let mbs = bytes as f64 / m.as_secs_f64() / 1e6;
        println!(
            "| {name} | {fps:.0} | {mbs:.1} | {:.2} | {:.2}x |",
            1e6 / fps,
            ours / fps
        );
        let (lo, hi) = (
            times.iter().min().copied().unwrap_or_default(),
            times.iter().max().copied().unwrap_or_default(),
        );
        json.insert(
            (*name).into(),
            serde_json::json!({"frames_per_s": fps, "mb_per_s": mbs,
                "us_per_frame": 1e6 / fps, "min_us_per_frame": lo.as_secs_f64() * 1e6 / frames.len() as f64,
                "max_us_per_frame": hi.as_secs_f64() * 1e6 / frames.len() as f64}),
        );
    }
    println!(
        "\n(median of {rounds} rounds; {} frames, {bytes} bytes a round; the CAR rows cover the {} commits' blocks only, its µs/frame per corpus frame)",
        frames.len(),
        cars.len()
    );
    let fastest_peer = ["atrium", "jacquard"]
        .iter()
        .filter_map(|p| json[*p]["frames_per_s"].as_f64())
        .fold(0.0, f64::max);
    let summary = serde_json::json!({
        "frames": frames.len(), "bytes": bytes, "rounds": rounds,
        "jacquard_fallbacks": reference_fallbacks(frames)?,
        "parties": json,
        "ours_vs_fastest_peer": ours / fastest_peer,
        "ours_vs_ipld": ours / json["ipld"]["frames_per_s"].as_f64().unwrap_or(f64::NAN),
        // The floor's time per frame over the time 3x the fastest peer allows.
        "floor_share_of_3x_budget": 3.0 * fastest_peer
            / json[FLOOR]["frames_per_s"].as_f64().unwrap_or(f64::NAN),
    });
    println!("{summary}");
    Ok(())
}

/// How many records jacquard's typed decode refused in the corpus.
fn reference_fallbacks(frames: &[Vec<u8>]) -> Result<usize, Failure> {
    decode_all(frames, decode::jacquard::decode)
        .map(|t| t.fallbacks)
        .map_err(|(i, e)| format!("jacquard, frame {i}: {e}").into())
}

fn memory(frames: &[Vec<u8>]) -> Result<(), Failure> {
    const TOTAL: usize = 1_000_000;
    const EVERY: usize = 100_000;
    let mut samples = Vec::new();
    let mut sample = |done: usize| {
        let (rss, hwm) = (status("VmRSS:"), status("VmHWM:"));
        println!("{done} | {rss} | {hwm}");
        samples.push(serde_json::json!({"frames": done, "vm_rss": rss, "vm_hwm": hwm}));
    };
    println!("frames decoded | VmRSS | VmHWM");
    sample(0);
    let mut t = Tally::default();
    let mut done = 0;
    while done < TOTAL {
        for f in frames {
            decode::ours::decode(black_box(f), &mut t)?;
            done += 1;
            if done % EVERY == 0 {
                sample(done);
            }
            if done == TOTAL {
                break;
            }
        }
    }
    black_box(t);
    println!("{}", serde_json::json!({ "memory": samples }));
    Ok(())
}
