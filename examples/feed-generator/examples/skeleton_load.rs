#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A load loop for `getFeedSkeleton` on loopback, measuring the example
//! feed generator side by side with the same endpoint on the official
//! `@atproto/xrpc-server` (Node, `node-bench/server.mjs`).
//!
//! Both servers run as child processes pinned with `taskset` to the same
//! single CPU (ours on a current-thread tokio runtime; Node is one process
//! with its own helper threads, all on that CPU). The load generator runs
//! pinned to another CPU. Each request carries the same service JWT
//! (ES256K, minted with `mint_service_jwt`, `aud` the generator's DID,
//! `lxm` the method), verified on both sides with the caller's key cached
//! in memory; each answer is a page of 30 of the same 1,000 post URIs.
//! Rounds alternate (ours, Node, ours, Node, ...), each with a fresh client,
//! a warm-up, then at most `requests` requests or `seconds` seconds.
//! Prints requests per second and p50/p99 latency per round and overall,
//! and the ratio.
//!
//! ```sh
//! (cd examples/feed-generator/node-bench && npm ci)   # once
//! cargo run --release -p feed-generator-example --example skeleton_load -- \
//!     [requests] [concurrency] [seconds] [rounds]   # default 5000 16 30 3
//! ```
//!
//! `SKELETON_NODE=path/to/node` picks the Node binary (default: the one
//! `tests/pds/install.sh` installs, else `node` on PATH);
//! `SKELETON_ONLY=ours` skips Node; `SKELETON_NODE_FLAGS=--no-validate-response`
//! turns off the Node server's response validation.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atmo_crypto::{Curve, PublicKey};
use atmo_server::{
    mint_service_jwt, KeyId, KeyLookupError, KeyResolver, ServiceAuthVerifier, SigningKey,
};
use atmo_types::Did;
use atmo_xrpc::{BoxFuture, HttpClient, HttpMethod, HttpRequest, HyperClient};
use feed_generator_example::{did_document, router, AppState, Index};

const FG: &str = "did:web:localhost%3A1234";
const USER: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const FEED: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.generator/rust";
const POSTS: usize = 1000;
const LIMIT: usize = 30;
const WARM_UP: usize = 500;
/// The CPU both servers are pinned to, and the load generator's.
const SERVER_CPU: &str = "0";
const CLIENT_CPU: &str = "1";

/// The caller's key, already known (what a warm cache gives).
struct Cached(Did, PublicKey);

impl KeyResolver for Cached {
    fn resolve_key<'a>(
        &'a self,
        did: &'a Did,
        _: KeyId,
        _: bool,
    ) -> BoxFuture<'a, Result<PublicKey, KeyLookupError>> {
        let found = if *did == self.0 {
            Ok(self.1)
        } else {
            Err(KeyLookupError::UnknownIssuer(did.to_string()))
        };
        Box::pin(async move { found })
    }
}

/// `skeleton_load serve <did:key>`: our server, in a child process, on
/// one thread. Prints `listening <port>`.
fn serve(caller_key: &str) {
    let key = PublicKey::from_did_key(caller_key).unwrap();
    let verifier = ServiceAuthVerifier::new(FG, Cached(USER.parse().unwrap(), key)).unwrap();
    let index = Arc::new(Index::new(10_000));
    for i in 0..POSTS {
        index.insert(&format!("at://{USER}/app.bsky.feed.post/3l{i:011}"));
    }
    let state = AppState {
        index,
        verifier,
        feed: FEED.parse().unwrap(),
        did_document: Arc::new(did_document(FG, "http://localhost:1234")),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening {}", listener.local_addr().unwrap().port());
        axum::serve(listener, router(state)).await.unwrap();
    });
}

/// A server child process, killed when dropped.
struct Server {
    name: &'static str,
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program args` (under `taskset -c SERVER_CPU` when `pin`) and
/// waits for its `listening <port>` line.
fn start(name: &'static str, pin: bool, program: &Path, args: &[String]) -> Server {
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", SERVER_CPU]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let mut child = cmd
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name} ({}): {e}", program.display()));
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{name} did not start: {line:?}"));
    Server { name, child, port }
}

/// Node: `SKELETON_NODE`, else the harness's Node 22, else `node`.
fn node_binary(root: &Path) -> PathBuf {
    if let Ok(p) = std::env::var("SKELETON_NODE") {
        return p.into();
    }
    let harness = root.join("tests/pds/.node/bin/node");
    if harness.exists() {
        harness
    } else {
        "node".into()
    }
}

/// Whether `taskset` can pin to both CPUs; pins this process (the load
/// generator) to `CLIENT_CPU` when it can.
fn pin_self() -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("one CPU: servers and load generator unpinned, sharing it");
        return false;
    }
    let ok = Command::new("taskset")
        .args(["-p", "-c", CLIENT_CPU, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("taskset unavailable: nothing pinned");
    }
    ok
}

struct Round {
    latencies: Vec<Duration>,
    elapsed: Duration,
    /// The server process's CPU time (user + system) over the measured
    /// part, when `/proc` tells it.
    cpu: Option<Duration>,
}

/// A process's CPU time so far (all its threads, user + system), from
/// `/proc/<pid>/stat` in clock ticks.
fn cpu_time(pid: u32, tick: u64) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which ends with the last ')'):
    // state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_micros((utime + stime) * 1_000_000 / tick))
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 when unknown).
fn clock_tick() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// One round against `port`: a fresh client, a warm-up that also checks
/// the answer (a full page and a cursor; 401 without a token), then at
/// most `total` requests from `concurrency` tasks, or `seconds` seconds.
async fn round(
    server: (u16, u32, u64),
    token: &str,
    total: usize,
    concurrency: usize,
    seconds: u64,
) -> Round {
    let (port, pid, tick) = server;
    let http = Arc::new(HyperClient::new().unwrap());
    let url = format!(
        "http://127.0.0.1:{port}/xrpc/app.bsky.feed.getFeedSkeleton?feed={FEED}&limit={LIMIT}"
    );
    let request = HttpRequest {
        method: HttpMethod::Get,
        url,
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        body: None,
        timeout: Duration::from_secs(10),
        max_response_size: 1 << 20,
    };
    let mut anonymous = request.clone();
    anonymous.headers.clear();
    assert_eq!(http.send(anonymous).await.unwrap().status, 401);
    let res = http.send(request.clone()).await.unwrap();
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let body: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(body["feed"].as_array().map(Vec::len), Some(LIMIT));
    assert_eq!(
        body["feed"][0]["post"],
        format!("at://{USER}/app.bsky.feed.post/3l{:011}", POSTS - 1)
    );
    assert!(body["cursor"].is_string());

    let concurrency = concurrency.max(1);
    let run = |stop: Instant, per_task: usize| {
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let http = http.clone();
            let request = request.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    if Instant::now() >= stop {
                        break;
                    }
                    let t = Instant::now();
                    let res = http.send(request.clone()).await.unwrap();
                    assert_eq!(res.status, 200);
                    out.push(t.elapsed());
                }
                out
            }));
        }
        tasks
    };
    // Warm-up: connections opened, code paths (and Node's JIT) warm.
    let far = Instant::now() + Duration::from_secs(seconds.max(1));
    for t in run(far, WARM_UP / concurrency) {
        t.await.unwrap();
    }
    let cpu_before = cpu_time(pid, tick);
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(total);
    for t in run(start + Duration::from_secs(seconds), total / concurrency) {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time(pid, tick)
        .zip(cpu_before)
        .map(|(b, a)| b.saturating_sub(a));
    Round {
        latencies,
        elapsed,
        cpu,
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// `, server CPU 87 % (412 µs per request)` when the CPU time is known.
fn cpu_note(cpu: Option<Duration>, requests: usize, elapsed: Duration) -> String {
    match cpu {
        Some(c) if requests > 0 => format!(
            ", server CPU {:.0} % ({:.0} µs per request)",
            100.0 * c.as_secs_f64() / elapsed.as_secs_f64(),
            1e6 * c.as_secs_f64() / requests as f64
        ),
        _ => String::new(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("serve") {
        return serve(&argv[2]);
    }
    let mut args = argv.iter().skip(1);
    let total: usize = args.next().map_or(5_000, |a| a.parse().unwrap());
    let concurrency: usize = args.next().map_or(16, |a| a.parse().unwrap());
    let seconds: u64 = args.next().map_or(30, |a| a.parse().unwrap());
    let rounds: usize = args.next().map_or(3, |a| a.parse().unwrap());
    let with_node = std::env::var("SKELETON_ONLY").map_or(true, |v| v != "ours");

    let pinned = pin_self();
    let key = SigningKey::generate(Curve::K256).unwrap();
    let did_key = key.public_key().to_did_key();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let token = mint_service_jwt(
        &key,
        USER,
        FG,
        Some("app.bsky.feed.getFeedSkeleton"),
        Some(exp),
    )
    .unwrap();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut servers = vec![start(
        "ours",
        pinned,
        &std::env::current_exe().unwrap(),
        &["serve".into(), did_key.clone()],
    )];
    if with_node {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("node-bench/server.mjs");
        assert!(
            script.with_file_name("node_modules").exists(),
            "run `npm ci` in {} first (or SKELETON_ONLY=ours)",
            script.parent().unwrap().display()
        );
        let mut node_args = vec![
            script.display().to_string(),
            FG.into(),
            FEED.into(),
            USER.into(),
            did_key,
            POSTS.to_string(),
        ];
        node_args.extend(
            std::env::var("SKELETON_NODE_FLAGS")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned),
        );
        servers.push(start("node", pinned, &node_binary(&root), &node_args));
    }

    println!(
        "getFeedSkeleton ({LIMIT} of {POSTS} posts, ES256K service JWT verified, key cached), \
         {concurrency} concurrent, up to {total} requests or {seconds} s per round, \
         servers {}",
        if pinned {
            format!("pinned to CPU {SERVER_CPU}, load generator to CPU {CLIENT_CPU}")
        } else {
            "unpinned".into()
        }
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tick = clock_tick();
    let mut results: Vec<(Vec<Duration>, Duration, Option<Duration>)> =
        vec![(Vec::new(), Duration::ZERO, Some(Duration::ZERO)); servers.len()];
    for r in 1..=rounds {
        for (i, s) in servers.iter().enumerate() {
            let server = (s.port, s.child.id(), tick);
            let got = rt.block_on(round(server, &token, total, concurrency, seconds));
            let mut l = got.latencies.clone();
            l.sort();
            println!(
                "  round {r} {:<4}: {:>7.0} requests/s, p50 {:.2} ms, p99 {:.2} ms ({} requests, {:.2} s){}",
                s.name,
                l.len() as f64 / got.elapsed.as_secs_f64(),
                ms(pct(&l, 0.50)),
                ms(pct(&l, 0.99)),
                l.len(),
                got.elapsed.as_secs_f64(),
                cpu_note(got.cpu, l.len(), got.elapsed)
            );
            results[i].0.extend(got.latencies);
            results[i].1 += got.elapsed;
            results[i].2 = results[i].2.zip(got.cpu).map(|(a, b)| a + b);
        }
    }
    let mut summary = Vec::new();
    for (s, (l, elapsed, cpu)) in servers.iter().zip(&mut results) {
        l.sort();
        let rps = l.len() as f64 / elapsed.as_secs_f64();
        println!(
            "{:<4} overall: {:>7.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} requests){}",
            s.name,
            rps,
            ms(pct(l, 0.50)),
            ms(pct(l, 0.99)),
            ms(l[l.len() - 1]),
            l.len(),
            cpu_note(*cpu, l.len(), *elapsed)
        );
        let cpu_per_request = cpu.map(|c| c.as_secs_f64() / l.len() as f64);
        summary.push((rps, pct(l, 0.99), cpu_per_request));
    }
    if let [(ours, ours_p99, ours_cpu), (node, node_p99, node_cpu)] = summary[..] {
        println!(
            "ours / node: {:.2}x requests/s; p99 {:.2}x lower{}",
            ours / node,
            node_p99.as_secs_f64() / ours_p99.as_secs_f64(),
            match (ours_cpu, node_cpu) {
                (Some(o), Some(n)) if o > 0.0 =>
                    format!("; {:.2}x less server CPU per request", n / o),
                _ => String::new(),
            }
        );
    }
}
