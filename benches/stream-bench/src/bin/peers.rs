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
//! instead decodes the corpus with atproto-stream until a million frames
//! have passed, printing the process's resident memory every 100,000.

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
    let verify = |f: &[u8], t: &mut Tally| decode::ours::verify(f, keys, t);
    let vt = decode_all(frames, verify).map_err(|(i, e)| format!("verify, frame {i}: {e}"))?;
    println!("   verify: {vt:?}");

    type Run<'a> = (
        &'a str,
        Box<dyn Fn(&[u8], &mut Tally) -> Result<(), Failure> + 'a>,
        Vec<Duration>,
    );
    let mut runs: Vec<Run> = PARTIES
        .iter()
        .map(|(name, d)| {
            (
                *name,
                Box::new(*d) as Box<dyn Fn(&[u8], &mut Tally) -> Result<(), Failure>>,
                Vec::new(),
            )
        })
        .collect();
    runs.push(("ours + verify", Box::new(verify), Vec::new()));
    for round in 0..rounds {
        let k = runs.len();
        for i in 0..k {
            let (_, d, times) = &mut runs[(i + round) % k];
            let start = Instant::now();
            let mut t = Tally::default();
            for f in frames {
                d(black_box(f), &mut t)?;
            }
            times.push(start.elapsed());
            black_box(t);
        }
    }
    let rate = |d: Duration| frames.len() as f64 / d.as_secs_f64();
    let ours = rate(median(runs[0].2.clone()));
    println!("\n| decoder | frames/s | MB/s | µs/frame | ours ÷ it |\n|---|---:|---:|---:|---:|");
    for (name, _, times) in &runs {
        let m = median(times.clone());
        let fps = rate(m);
        println!(
            "| {name} | {:.0} | {:.1} | {:.2} | {:.2}x |",
            fps,
            bytes as f64 / m.as_secs_f64() / 1e6,
            1e6 / fps,
            ours / fps
        );
    }
    println!(
        "\n(median of {rounds} rounds; {} frames, {bytes} bytes a round)",
        frames.len()
    );
    Ok(())
}

fn memory(frames: &[Vec<u8>]) -> Result<(), Failure> {
    const TOTAL: usize = 1_000_000;
    const EVERY: usize = 100_000;
    println!("frames decoded | VmRSS | VmHWM");
    println!("0 | {} | {}", status("VmRSS:"), status("VmHWM:"));
    let mut t = Tally::default();
    let mut done = 0;
    while done < TOTAL {
        for f in frames {
            decode::ours::decode(black_box(f), &mut t)?;
            done += 1;
            if done % EVERY == 0 {
                println!("{done} | {} | {}", status("VmRSS:"), status("VmHWM:"));
            }
            if done == TOTAL {
                break;
            }
        }
    }
    black_box(t);
    Ok(())
}
