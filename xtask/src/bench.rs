//! `cargo xtask bench [--quick] [--compile] [--compile-only] [--rounds N]`
//!
//! Runs the side-by-side benchmarks of `benches/` (a workspace of its own, so
//! that nothing else ever compiles the peers) and writes:
//!
//! - `target/bench-summary.json`: the headline medians, one key per
//!   performance target;
//! - `benches/results/latest.json`: every figure with its min and max;
//! - `benches/results/chart.svg`: decode time and build time side by side;
//! - the tables of `BENCHMARKS.md` between its `bench:begin`/`bench:end` marks.
//!
//! Steps: fixtures are current, every party round-trips them losslessly,
//! criterion decode/encode benches, retained memory, codegen of the full set,
//! session-layer overhead. `--compile` adds the compile-time harness (many
//! minutes: clean builds of fresh throw-away projects, interleaved rounds);
//! `--report` measures nothing and rewrites the outputs from `latest.json`;
//! `--compile-only` runs just that; `--configs a,b` limits it to some
//! configurations (keys as in `CONFIGS`), `--rounds N` sets the rounds (3). Results a run did not measure are kept
//! from the previous `latest.json` and marked with the date they were taken.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::workspace_root;

/// The parties of the serde benchmarks, in table order.
const PARTIES: [&str; 4] = ["ours", "atrium", "jacquard", "serde_json_value"];

struct Args {
    quick: bool,
    compile: bool,
    serde: bool,
    rounds: usize,
    /// Compile configurations to run (all when empty).
    configs: Vec<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        quick: false,
        compile: false,
        serde: true,
        rounds: 3,
        configs: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--compile" => a.compile = true,
            "--compile-only" => {
                a.compile = true;
                a.serde = false;
            }
            "--rounds" => {
                a.rounds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 1)
                    .ok_or("--rounds takes a positive number")?
            }
            "--report" => {
                a.serde = false;
                a.compile = false;
            }
            "--configs" => {
                let list = it.next().ok_or("--configs takes a comma-separated list")?;
                for k in list.split(',') {
                    if !CONFIGS.iter().any(|c| c.key == k) {
                        let known: Vec<_> = CONFIGS.iter().map(|c| c.key).collect();
                        return Err(format!(
                            "unknown configuration {k:?}; known: {}",
                            known.join(", ")
                        ));
                    }
                    a.configs.push(k.to_string());
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let args = parse(args)?;
    let root = workspace_root();
    let benches = root.join("benches");
    let results_dir = benches.join("results");
    std::fs::create_dir_all(&results_dir).map_err(|e| e.to_string())?;
    let latest_path = results_dir.join("latest.json");
    let mut latest: Map<String, Value> = std::fs::read_to_string(&latest_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let today = today();
    let mut failures = Vec::new();

    latest.insert("machine".into(), machine());
    if args.serde {
        let mode = if args.quick { "quick" } else { "full" };
        step("fixtures are what fixture-gen writes");
        if let Err(e) = cargo(
            &benches,
            &[
                "run",
                "-q",
                "--release",
                "-p",
                "fixture-gen",
                "--",
                "--check",
            ],
        ) {
            failures.push(format!("fixtures: {e}"));
        }
        step("every party round-trips the fixtures losslessly");
        if let Err(e) = cargo(&benches, &["test", "--release", "-p", "bench-suite"]) {
            failures.push(format!("lossless: {e}"));
        }

        step("criterion: decode and encode");
        let crit: &[&str] = if args.quick {
            &[
                "--warm-up-time",
                "1",
                "--measurement-time",
                "3",
                "--sample-size",
                "20",
            ]
        } else {
            &[
                "--warm-up-time",
                "3",
                "--measurement-time",
                "10",
                "--sample-size",
                "100",
            ]
        };
        let mut bench_args = vec!["bench", "-p", "bench-suite", "--bench", "serde", "--"];
        bench_args.extend_from_slice(crit);
        match cargo(&benches, &bench_args) {
            Ok(()) => {
                for group in ["timeline_decode", "timeline_encode", "session_decode"] {
                    let mut g = Map::new();
                    for p in PARTIES {
                        let dir = benches
                            .join("target/criterion")
                            .join(group)
                            .join(p)
                            .join("new");
                        match criterion_result(&dir) {
                            Ok(v) => {
                                g.insert(p.into(), v);
                            }
                            Err(e) => failures.push(format!("{group}/{p}: {e}")),
                        }
                    }
                    g.insert("date".into(), json!(today));
                    g.insert("mode".into(), json!(mode));
                    latest.insert(group.into(), Value::Object(g));
                }
            }
            Err(e) => failures.push(format!("criterion: {e}")),
        }

        step("retained memory after decode");
        record(
            cargo_json(
                &benches,
                &[
                    "run",
                    "-q",
                    "--release",
                    "-p",
                    "bench-suite",
                    "--bin",
                    "retained",
                ],
            ),
            "retained",
            &today,
            &mut latest,
            &mut failures,
        );

        step("codegen of the full lexicon set");
        let runs = if args.quick { "3" } else { "11" };
        record(
            cargo_json(
                &benches,
                &["run", "-q", "--release", "-p", "codegen-bench", "--", runs],
            ),
            "codegen",
            &today,
            &mut latest,
            &mut failures,
        );

        step("session layer vs plain reqwest on loopback");
        // A few seconds either way; fewer calls made the ratio swing by ±3 %.
        // First like for like (the agent on reqwest too), then the agent on
        // its default HTTP client.
        let calls = "20000";
        for (client, key) in [
            ("reqwest", "session_overhead"),
            ("default", "session_overhead_default"),
        ] {
            record(
                cargo_json(
                    &benches,
                    &[
                        "run",
                        "-q",
                        "--release",
                        "-p",
                        "bench-suite",
                        "--bin",
                        "session_overhead",
                        "--",
                        calls,
                        client,
                    ],
                ),
                key,
                &today,
                &mut latest,
                &mut failures,
            );
        }

        firehose_step(&benches, args.quick, &today, &mut latest, &mut failures);
    }

    if args.compile {
        step(&format!(
            "compile times: {} interleaved round(s)",
            args.rounds
        ));
        let configs: Vec<&Config> = CONFIGS
            .iter()
            .filter(|c| args.configs.is_empty() || args.configs.iter().any(|k| k == c.key))
            .collect();
        match compile_bench(&root, args.rounds, configs) {
            Ok(v) => {
                // Merge per configuration, so a partial run keeps the others.
                let mut merged = latest
                    .get("compile")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (k, mut e) in v.as_object().cloned().unwrap_or_default() {
                    if e.is_object() {
                        e["date"] = json!(today);
                        e["rounds"] = v["rounds"].clone();
                    }
                    merged.insert(k, e);
                }
                merged.insert("date".into(), json!(today));
                latest.insert("compile".into(), Value::Object(merged));
            }
            Err(e) => failures.push(format!("compile: {e}")),
        }
    }

    let latest = Value::Object(latest);
    write(
        &latest_path,
        &(serde_json::to_string_pretty(&latest).unwrap() + "\n"),
    )?;
    let summary = summary(&latest);
    std::fs::create_dir_all(root.join("target")).map_err(|e| e.to_string())?;
    write(
        &root.join("target/bench-summary.json"),
        &(serde_json::to_string_pretty(&summary).unwrap() + "\n"),
    )?;
    write(&results_dir.join("chart.svg"), &chart(&latest))?;
    update_benchmarks_md(&root.join("BENCHMARKS.md"), &tables(&latest))?;
    println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    println!("wrote target/bench-summary.json, benches/results/latest.json, benches/results/chart.svg, BENCHMARKS.md tables");
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} step(s) failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        ))
    }
}

/// Firehose frame decoding side by side (`benches/stream-bench`'s `peers`:
/// atmo-stream, atrium, jacquard, the `Ipld` baseline, and ours with full
/// verification) and ours' memory over a million frames, into
/// `latest["firehose"]`.
fn firehose_step(
    benches: &Path,
    quick: bool,
    today: &str,
    latest: &mut Map<String, Value>,
    failures: &mut Vec<String>,
) {
    step("firehose frames: ours vs atrium, jacquard and Ipld; memory over a million frames");
    let rounds = if quick { "3" } else { "9" };
    let peers = [
        "run",
        "-q",
        "--release",
        "-p",
        "stream-bench",
        "--bin",
        "peers",
        "--",
    ];
    let mut v = match cargo_json(benches, &[&peers[..], &["--rounds", rounds]].concat()) {
        Ok(v) => v,
        Err(e) => return failures.push(format!("firehose: {e}")),
    };
    if !quick {
        match cargo_json(benches, &[&peers[..], &["--memory"]].concat()) {
            Ok(m) => v["memory"] = m["memory"].clone(),
            Err(e) => failures.push(format!("firehose memory: {e}")),
        }
    }
    v["date"] = json!(today);
    latest.insert("firehose".into(), v);
}

/// Keeps a step's JSON result under `key` with today's date, or notes its
/// failure under the same name.
fn record(
    result: Result<Value, String>,
    key: &str,
    today: &str,
    latest: &mut Map<String, Value>,
    failures: &mut Vec<String>,
) {
    match result {
        Ok(mut v) => {
            v["date"] = json!(today);
            latest.insert(key.into(), v);
        }
        Err(e) => failures.push(format!("{key}: {e}")),
    }
}

fn step(what: &str) {
    eprintln!("\n==> bench: {what}");
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn cargo(dir: &Path, args: &[&str]) -> Result<(), String> {
    crate::run_status(Command::new(env!("CARGO")).args(args).current_dir(dir))
}

/// Runs a cargo command whose last line of stdout is a JSON object.
fn cargo_json(dir: &Path, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("cargo {} failed: {}", args.join(" "), out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("");
    serde_json::from_str(last)
        .map_err(|e| format!("output of cargo {}: {e}: {last:?}", args.join(" ")))
}

/// Median (criterion's estimate), min and max per iteration, in ns.
fn criterion_result(dir: &Path) -> Result<Value, String> {
    let read = |name: &str| -> Result<Value, String> {
        let p = dir.join(name);
        let t = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&t).map_err(|e| format!("{}: {e}", p.display()))
    };
    let est = read("estimates.json")?;
    let sample = read("sample.json")?;
    let median = est["median"]["point_estimate"]
        .as_f64()
        .ok_or("no median estimate")?;
    let iters = sample["iters"].as_array().ok_or("no iters")?;
    let times = sample["times"].as_array().ok_or("no times")?;
    let per: Vec<f64> = iters
        .iter()
        .zip(times)
        .filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()?))
        .collect();
    let min = per.iter().copied().fold(f64::INFINITY, f64::min);
    let max = per.iter().copied().fold(0.0, f64::max);
    Ok(
        json!({"median_ns": median.round(), "min_ns": min.round(), "max_ns": max.round(), "samples": per.len()}),
    )
}

// ---------------------------------------------------------------- compile

/// A throw-away project for one configuration.
struct Config {
    key: &'static str,
    label: &'static str,
    /// Lines of `[dependencies]`; `{ROOT}` is this repository.
    deps: &'static str,
    /// The crate whose own compile time is reported.
    main_crate: &'static str,
    /// For a leaf project: the types its `lib.rs` decodes and encodes (a
    /// timeline, a session; `'a` is the input's lifetime). Its figure is the
    /// leaf crate's own compile time, with the dependencies already built.
    leaf: Option<(&'static str, &'static str)>,
}

/// The `lib.rs` of a leaf project: what a user's crate compiles to decode
/// and encode a timeline and a session (serde_json is the same for all).
fn leaf_lib((timeline, session): (&str, &str)) -> String {
    format!(
        "//! Leaf project of `cargo xtask bench --compile`.\n\
         pub fn timeline<'a>(input: &'a str) -> Result<String, serde_json::Error> {{\n    \
         let v: {timeline} = serde_json::from_str(input)?;\n    serde_json::to_string(&v)\n}}\n\
         pub fn session<'a>(input: &'a str) -> Result<String, serde_json::Error> {{\n    \
         let v: {session} = serde_json::from_str(input)?;\n    serde_json::to_string(&v)\n}}\n"
    )
}

const CONFIGS: &[Config] = &[
    Config {
        key: "ours_default",
        // atrium-api, the row this is compared with, has no HTTP client
        // either (that is atrium-xrpc-client): like for like, ours is built
        // without its HTTP client. `ours_with_http` is the full default.
        label: "atmo-client + atmo-api, com.atproto + app.bsky, no HTTP stack",
        deps: "atmo-api = { path = \"{ROOT}/crates/atmo-api\" }\natmo-client = { path = \"{ROOT}/crates/atmo-client\", default-features = false, features = [\"app-bsky\"] }\n",
        main_crate: "atmo-api",
        leaf: None,
    },
    Config {
        key: "ours_com_atproto",
        // atmo-client's default feature `app-bsky` turns on atmo-api's:
        // both must be off for a com.atproto-only graph.
        label: "atmo-client + atmo-api, com.atproto only, no HTTP stack",
        deps: "atmo-api = { path = \"{ROOT}/crates/atmo-api\", default-features = false, features = [\"com-atproto\"] }\natmo-client = { path = \"{ROOT}/crates/atmo-client\", default-features = false }\n",
        main_crate: "atmo-api",
        leaf: None,
    },
    Config {
        key: "ours_with_http",
        label: "atmo-client default features (app.bsky + hyper/rustls)",
        deps: "atmo-client = { path = \"{ROOT}/crates/atmo-client\" }\n",
        main_crate: "atmo-api",
        leaf: None,
    },
    Config {
        key: "ours_reqwest",
        label: "atmo-client with reqwest instead (app.bsky + reqwest/rustls)",
        deps: "atmo-client = { path = \"{ROOT}/crates/atmo-client\", default-features = false, features = [\"app-bsky\", \"reqwest\"] }\n",
        main_crate: "atmo-api",
        leaf: None,
    },
    Config {
        key: "atrium_default",
        label: "atrium-api 0.26.0 (default features)",
        deps: "atrium-api = \"=0.26.0\"\n",
        main_crate: "atrium-api",
        leaf: None,
    },
    Config {
        key: "atrium_no_default",
        label: "atrium-api 0.26.0 (no default features)",
        deps: "atrium-api = { version = \"=0.26.0\", default-features = false }\n",
        main_crate: "atrium-api",
        leaf: None,
    },
    Config {
        key: "atrium_with_client",
        label: "atrium-api 0.26.0 + atrium-xrpc-client 0.5.15 (defaults: reqwest)",
        deps: "atrium-api = \"=0.26.0\"\natrium-xrpc-client = \"=0.5.15\"\n",
        main_crate: "atrium-api",
        leaf: None,
    },
    Config {
        key: "jacquard_default",
        label: "jacquard-api 0.12.2 (default features)",
        deps: "jacquard-api = \"=0.12.2\"\n",
        main_crate: "jacquard-api",
        leaf: None,
    },
    Config {
        key: "jacquard_app_bsky",
        label: "jacquard-api 0.12.2 (feature app_bsky)",
        deps: "jacquard-api = { version = \"=0.12.2\", features = [\"app_bsky\"] }\n",
        main_crate: "jacquard-api",
        leaf: None,
    },
    Config {
        key: "ours_leaf",
        label: "leaf crate using atmo-api",
        deps: "atmo-api = { path = \"{ROOT}/crates/atmo-api\" }\nserde_json = \"1\"\n",
        main_crate: "cb-ours-leaf",
        leaf: Some((
            "atmo_api::app::bsky::feed::get_timeline::Output",
            "atmo_api::com::atproto::server::create_session::Output",
        )),
    },
    Config {
        key: "atrium_leaf",
        label: "leaf crate using atrium-api 0.26.0",
        deps: "atrium-api = \"=0.26.0\"\nserde_json = \"1\"\n",
        main_crate: "cb-atrium-leaf",
        leaf: Some((
            "atrium_api::app::bsky::feed::get_timeline::Output",
            "atrium_api::com::atproto::server::create_session::Output",
        )),
    },
    Config {
        key: "jacquard_leaf",
        label: "leaf crate using jacquard-api 0.12.2 (app_bsky, `CowStr`)",
        deps: "jacquard-api = { version = \"=0.12.2\", features = [\"app_bsky\"] }\njacquard-common = \"=0.12.2\"\nserde_json = \"1\"\n",
        main_crate: "cb-jacquard-leaf",
        leaf: Some((
            "jacquard_api::app_bsky::feed::get_timeline::GetTimelineOutput<jacquard_common::CowStr<'a>>",
            "jacquard_api::com_atproto::server::create_session::CreateSessionOutput<jacquard_common::CowStr<'a>>",
        )),
    },
];

/// Crates whose own compile time is recorded when they are in a graph.
const WATCHED: &[&str] = &[
    "atmo-api",
    "atmo-types",
    "atmo-client",
    "atrium-api",
    "atrium-common",
    "atrium-xrpc",
    "jacquard-api",
    "jacquard-common",
];

/// Clean `cargo build --timings`, debug then release, for each configuration,
/// `rounds` times, interleaved (round 1 of every configuration, then round 2,
/// ...) so that a slow spell of a shared machine hits all parties alike.
fn compile_bench(root: &Path, rounds: usize, configs: Vec<&Config>) -> Result<Value, String> {
    let base = root.join("target/compile-bench");
    for c in &configs {
        let dir = base.join(c.key);
        std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
        let manifest = format!(
            "# Throw-away project of `cargo xtask bench --compile`.\n[package]\nname = \"cb-{}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{}\n[workspace]\n",
            c.key.replace('_', "-"),
            c.deps.replace("{ROOT}", &root.display().to_string()),
        );
        write(&dir.join("Cargo.toml"), &manifest)?;
        write(
            &dir.join("src/lib.rs"),
            &c.leaf.map(leaf_lib).unwrap_or_default(),
        )?;
        // Resolve (and download) once, outside the timed builds.
        cargo(&dir, &["fetch", "-q"])?;
    }
    // key -> profile -> list of runs
    let mut runs: BTreeMap<(&str, &str), Vec<Value>> = BTreeMap::new();
    for round in 1..=rounds {
        for c in &configs {
            for profile in ["debug", "release"] {
                let dir = base.join(c.key);
                if c.leaf.is_some() {
                    // Keep the built dependencies; clean only the leaf (its
                    // incremental cache too, or a debug rebuild reuses it all).
                    let package = format!("cb-{}", c.key.replace('_', "-"));
                    let mut clean = vec!["clean", "-q", "-p", package.as_str()];
                    if profile == "release" {
                        clean.push("--release");
                    }
                    cargo(&dir, &clean)?;
                    let _ = std::fs::remove_dir_all(dir.join("target/cargo-timings"));
                } else {
                    let _ = std::fs::remove_dir_all(dir.join("target"));
                }
                let mut args = vec!["build", "--timings", "-q"];
                if profile == "release" {
                    args.push("--release");
                }
                eprintln!("compile round {round}/{rounds}: {} {profile}", c.key);
                let t = Instant::now();
                cargo(&dir, &args)?;
                let wall = t.elapsed().as_secs_f64();
                let units = timings_units(&dir.join("target/cargo-timings/cargo-timing.html"))?;
                let mut crates = Map::new();
                for u in &units {
                    let name = u["name"].as_str().unwrap_or("");
                    let is_lib = u["target"]
                        .as_str()
                        .is_none_or(|t| t.trim().is_empty() || t.contains("lib"));
                    if (WATCHED.contains(&name) || name == c.main_crate) && is_lib {
                        crates.insert(name.into(), json!(u["duration"].as_f64().unwrap_or(0.0)));
                    }
                }
                eprintln!(
                    "    wall {wall:.1}s, {} {:.1}s, {} units",
                    c.main_crate,
                    crates
                        .get(c.main_crate)
                        .and_then(Value::as_f64)
                        .unwrap_or(f64::NAN),
                    units.len()
                );
                runs.entry((c.key, profile))
                    .or_default()
                    .push(json!({"wall_s": wall, "crates": crates, "units": units.len()}));
            }
        }
    }
    let mut out = Map::new();
    for c in &configs {
        let mut per = Map::new();
        for profile in ["debug", "release"] {
            let rs = &runs[&(c.key, profile)];
            let walls: Vec<f64> = rs.iter().filter_map(|r| r["wall_s"].as_f64()).collect();
            let mains: Vec<f64> = rs
                .iter()
                .filter_map(|r| r["crates"][c.main_crate].as_f64())
                .collect();
            let mut crates = Map::new();
            for w in WATCHED {
                let v: Vec<f64> = rs.iter().filter_map(|r| r["crates"][*w].as_f64()).collect();
                if !v.is_empty() {
                    crates.insert((*w).into(), json!(stats(&v)));
                }
            }
            per.insert(
                profile.into(),
                json!({
                    "wall_s": stats(&walls),
                    "main_crate_s": stats(&mains),
                    "crates": crates,
                    "units": rs[0]["units"],
                }),
            );
        }
        per.insert("label".into(), json!(c.label));
        per.insert("main_crate".into(), json!(c.main_crate));
        out.insert(c.key.into(), Value::Object(per));
    }
    out.insert("rounds".into(), json!(rounds));
    Ok(Value::Object(out))
}

fn stats(v: &[f64]) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let median = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    let r = |x: f64| (x * 100.0).round() / 100.0;
    json!({"median": r(median), "min": r(s[0]), "max": r(s[s.len() - 1]), "n": s.len()})
}

/// The per-unit data of a `cargo build --timings` report: the JSON array
/// assigned to `UNIT_DATA` in its script.
fn timings_units(html: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(html).map_err(|e| format!("{}: {e}", html.display()))?;
    let start = text
        .find("UNIT_DATA = ")
        .ok_or("no UNIT_DATA in the timings report")?
        + "UNIT_DATA = ".len();
    let mut de = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    match de.next() {
        Some(Ok(Value::Array(units))) => Ok(units),
        _ => Err("UNIT_DATA is not a JSON array".into()),
    }
}

// ---------------------------------------------------------------- summary

fn median_of(latest: &Value, group: &str, party: &str) -> Value {
    latest[group][party]["median_ns"].clone()
}

/// The headline figures, one key per target (null = not measured).
fn summary(latest: &Value) -> Value {
    let group = |g: &str| {
        let mut m = Map::new();
        for p in PARTIES {
            m.insert(p.into(), median_of(latest, g, p));
        }
        Value::Object(m)
    };
    let mut retained = Map::new();
    for p in PARTIES {
        retained.insert(p.into(), latest["retained"][p]["retained_bytes"].clone());
    }
    let mut compile = Map::new();
    for k in [
        "ours_default",
        "ours_com_atproto",
        "ours_with_http",
        "ours_reqwest",
        "atrium_default",
        "atrium_no_default",
        "atrium_with_client",
    ] {
        compile.insert(
            k.into(),
            latest["compile"][k]["debug"]["wall_s"]["median"].clone(),
        );
    }
    let mut leaf = Map::new();
    for k in ["ours_leaf", "atrium_leaf", "jacquard_leaf"] {
        leaf.insert(
            k.into(),
            latest["compile"][k]["release"]["main_crate_s"]["median"].clone(),
        );
    }
    json!({
        "timeline_decode_ns": group("timeline_decode"),
        "timeline_encode_ns": group("timeline_encode"),
        "session_decode_ns": group("session_decode"),
        "retained_bytes": Value::Object(retained),
        "codegen_full_ms": latest["codegen"]["median_ms"].clone(),
        "session_overhead_ratio": latest["session_overhead"]["ratio"].clone(),
        "session_overhead_default_client_ratio": latest["session_overhead_default"]["ratio"].clone(),
        "firehose": {
            "ours_frames_per_s": latest["firehose"]["parties"]["ours"]["frames_per_s"].clone(),
            "ours_verified_frames_per_s": latest["firehose"]["parties"]["ours + verify"]["frames_per_s"].clone(),
            "ours_vs_fastest_peer": latest["firehose"]["ours_vs_fastest_peer"].clone(),
            "ours_vs_ipld": latest["firehose"]["ours_vs_ipld"].clone(),
            "floor_share_of_3x_budget": latest["firehose"]["floor_share_of_3x_budget"].clone(),
            "memory": latest["firehose"]["memory"].clone(),
        },
        "compile_debug_s": Value::Object(compile),
        "compile_leaf_release_s": Value::Object(leaf),
    })
}

// ---------------------------------------------------------------- report

const BEGIN: &str =
    "<!-- bench:begin (written by `cargo xtask bench`; edit outside these marks) -->";
const END: &str = "<!-- bench:end -->";

fn update_benchmarks_md(path: &Path, tables: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => format!(
            "{}{BEGIN}\n{tables}{END}{}",
            &text[..b],
            &text[e + END.len()..]
        ),
        _ => format!("{text}\n{BEGIN}\n{tables}{END}\n"),
    };
    write(path, &new)
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn party_label(p: &str) -> &str {
    match p {
        "ours" => "**atmo-api (ours)**",
        "atrium" => "atrium-api 0.26.0",
        "jacquard" => "jacquard-api 0.12.2 (`CowStr`)",
        "serde_json_value" => "`serde_json::Value`",
        other => other,
    }
}

fn tables(latest: &Value) -> String {
    let mut s = String::new();
    let pending = "_pending_";
    for (group, title) in [
        ("timeline_decode", "Decode of the 50-item timeline"),
        ("timeline_encode", "Encode of the 50-item timeline"),
        ("session_decode", "Decode of the createSession response"),
    ] {
        let g = &latest[group];
        s += &format!(
            "\n### {title}\n\nMeasured {} ({} run). Ratio = time / time of the row named in the column; below 1 is faster.\n\n",
            g["date"].as_str().unwrap_or("—"),
            g["mode"].as_str().unwrap_or("—")
        );
        s += "| into | median | min – max | vs `Value` | vs atrium |\n|---|---:|---:|---:|---:|\n";
        let base = g["serde_json_value"]["median_ns"].as_f64();
        let atrium = g["atrium"]["median_ns"].as_f64();
        for p in PARTIES {
            let r = &g[p];
            match r["median_ns"].as_f64() {
                Some(m) => {
                    let ratio =
                        |b: Option<f64>| b.map_or("—".into(), |b| format!("{:.2}×", m / b));
                    s += &format!(
                        "| {} | {} | {} – {} | {} | {} |\n",
                        party_label(p),
                        fmt_time(m),
                        fmt_time(r["min_ns"].as_f64().unwrap_or(0.0)),
                        fmt_time(r["max_ns"].as_f64().unwrap_or(0.0)),
                        ratio(base),
                        ratio(atrium)
                    );
                }
                None => s += &format!("| {} | {pending} | | | |\n", party_label(p)),
            }
        }
    }

    let r = &latest["retained"];
    s += &format!(
        "\n### Memory after decoding the timeline\n\nMeasured {}. Heap bytes still allocated while the decoded value is alive, per byte of input ({} bytes); peak during decode; allocations made.\n\n| into | retained | × input | peak | allocations |\n|---|---:|---:|---:|---:|\n",
        r["date"].as_str().unwrap_or("—"),
        r["input_bytes"]
    );
    let input = r["input_bytes"].as_f64().unwrap_or(f64::NAN);
    for p in PARTIES {
        match r[p]["retained_bytes"].as_f64() {
            Some(b) => {
                s += &format!(
                    "| {} | {:.0} KB | {:.2}× | {:.0} KB | {} |\n",
                    party_label(p),
                    b / 1e3,
                    b / input,
                    r[p]["peak_bytes"].as_f64().unwrap_or(0.0) / 1e3,
                    r[p]["allocations"]
                )
            }
            None => s += &format!("| {} | {pending} | | | |\n", party_label(p)),
        }
    }

    let c = &latest["codegen"];
    s += "\n### Code generation of the full lexicon set\n\n";
    match c["median_ms"].as_f64() {
        Some(m) => {
            s += &format!(
                "Measured {}: {} documents → {} files, parse + resolve + emit + format + write, {} runs: median **{m:.0} ms** (min {:.0} – max {:.0} ms). Target: under 1000 ms.\n",
                c["date"].as_str().unwrap_or("—"),
                c["documents"],
                c["files"],
                c["runs"],
                c["min_ms"].as_f64().unwrap_or(0.0),
                c["max_ms"].as_f64().unwrap_or(0.0)
            )
        }
        None => s += &format!("{pending}\n"),
    }

    let o = &latest["session_overhead"];
    s += "\n### An authenticated call through the session layer, vs plain reqwest (loopback)\n\n";
    match o["ratio"].as_f64() {
        Some(ratio) => {
            s += &format!(
                "Measured {}: {} calls each, interleaved in blocks. Plain reqwest median {}, session layer median {}: ratio **{ratio:.3}** (target ≤ 1.05).\n",
                o["date"].as_str().unwrap_or("—"),
                o["calls"],
                fmt_time(o["plain_ns"]["median"].as_f64().unwrap_or(0.0)),
                fmt_time(o["session_ns"]["median"].as_f64().unwrap_or(0.0)),
            )
        }
        None => s += &format!("{pending}\n"),
    }
    let d = &latest["session_overhead_default"];
    if let Some(ratio) = d["ratio"].as_f64() {
        s += &format!(
            "\nWith the client's default HTTP client (hyper) instead of reqwest under the agent, same run: plain reqwest median {}, agent median {}: ratio **{ratio:.3}**.\n",
            fmt_time(d["plain_ns"]["median"].as_f64().unwrap_or(0.0)),
            fmt_time(d["session_ns"]["median"].as_f64().unwrap_or(0.0)),
        );
    }

    let k = &latest["compile"];
    if k.is_null() {
        s += "\n### Clean build of the dependency graph\n\n_pending_: not measured yet; run `cargo xtask bench --compile-only` on a quiet machine.\n";
        s += "\n![Decode time and clean build time, side by side](benches/results/chart.svg)\n\n";
        return s;
    }
    s += &format!(
        "\n### Clean build of the dependency graph\n\nMeasured {}: median of the interleaved rounds (min – max); wall time of `cargo build` in a fresh project with an empty `lib.rs`, and the compile time of the main crate from `--timings`. Ratio = wall / wall of the atrium row it is compared with (same namespaces; with or without an HTTP client).\n\n| project | rounds | debug wall | main crate | release wall | main crate | debug ratio | release ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        k["date"].as_str().unwrap_or("—"),
    );
    let wall = |key: &str, prof: &str| k[key][prof]["wall_s"]["median"].as_f64();
    for cfg in CONFIGS.iter().filter(|c| c.leaf.is_none()) {
        let e = &k[cfg.key];
        if e.is_null() {
            s += &format!("| {} | | {pending} | | | | | |\n", cfg.label);
            continue;
        }
        let cell = |v: &Value| seconds_cell(v, 1);
        let against = match cfg.key {
            "ours_default" => Some("atrium_default"),
            "ours_com_atproto" => Some("atrium_no_default"),
            "ours_with_http" | "ours_reqwest" => Some("atrium_with_client"),
            _ => None,
        };
        let ratio = |prof: &str| match (wall(cfg.key, prof), against.and_then(|a| wall(a, prof))) {
            (Some(x), Some(y)) => format!("{:.2}×", x / y),
            _ => "—".into(),
        };
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cfg.label,
            e["debug"]["wall_s"]["n"],
            cell(&e["debug"]["wall_s"]),
            cell(&e["debug"]["main_crate_s"]),
            cell(&e["release"]["wall_s"]),
            cell(&e["release"]["main_crate_s"]),
            ratio("debug"),
            ratio("release")
        );
    }
    s += "\n### Compile time of a crate that uses the types\n\nA leaf crate whose `lib.rs` decodes a `getTimeline` and a `createSession` output from JSON and encodes them back (serde_json for all). Generic serde code is compiled in the crate that uses it, so this is what every user crate pays on top of its dependencies. Its own compile time from `--timings`, dependencies already built; median of the rounds (min – max).\n\n| leaf crate | rounds | debug | release | debug vs atrium | release vs atrium |\n|---|---:|---:|---:|---:|---:|\n";
    let leaf_time = |key: &str, prof: &str| k[key][prof]["main_crate_s"]["median"].as_f64();
    for cfg in CONFIGS.iter().filter(|c| c.leaf.is_some()) {
        let e = &k[cfg.key];
        if e.is_null() {
            s += &format!("| {} | | {pending} | | | |\n", cfg.label);
            continue;
        }
        let cell = |v: &Value| seconds_cell(v, 2);
        let ratio = |prof: &str| match (leaf_time(cfg.key, prof), leaf_time("atrium_leaf", prof)) {
            (Some(x), Some(y)) => format!("{:.2}×", x / y),
            _ => "—".into(),
        };
        s += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            cfg.label,
            e["debug"]["main_crate_s"]["n"],
            cell(&e["debug"]["main_crate_s"]),
            cell(&e["release"]["main_crate_s"]),
            ratio("debug"),
            ratio("release")
        );
    }
    s += "\n![Decode time and clean build time, side by side](benches/results/chart.svg)\n\n";
    s
}

/// `median s (min–max)` of a stats object, with `digits` decimals.
fn seconds_cell(v: &Value, digits: usize) -> String {
    let n = |k: &str| v[k].as_f64().unwrap_or(0.0);
    match v["median"].as_f64() {
        Some(m) => format!(
            "{m:.digits$} s ({:.digits$}–{:.digits$})",
            n("min"),
            n("max")
        ),
        None => "—".into(),
    }
}

/// Two horizontal bar charts side by side: timeline decode time per party,
/// and clean debug build wall time per project. Hand-written SVG.
fn chart(latest: &Value) -> String {
    let decode: Vec<(String, Option<f64>)> = PARTIES
        .iter()
        .map(|p| {
            let name = match *p {
                "ours" => "atmo-api (ours)",
                "atrium" => "atrium-api 0.26",
                "jacquard" => "jacquard-api 0.12",
                _ => "serde_json::Value",
            };
            (
                name.to_string(),
                latest["timeline_decode"][*p]["median_ns"]
                    .as_f64()
                    .map(|n| n / 1e6),
            )
        })
        .collect();
    let build: Vec<(String, Option<f64>)> = CONFIGS
        .iter()
        .filter(|c| c.leaf.is_none())
        .map(|c| {
            let name = match c.key {
                "ours_default" => "ours, no HTTP",
                "ours_com_atproto" => "ours, com.atproto",
                "ours_with_http" => "ours + hyper",
                "ours_reqwest" => "ours + reqwest",
                "atrium_default" => "atrium-api",
                "atrium_no_default" => "atrium, no default",
                "atrium_with_client" => "atrium + client",
                "jacquard_default" => "jacquard",
                _ => "jacquard, app_bsky",
            };
            (
                name.to_string(),
                latest["compile"][c.key]["debug"]["wall_s"]["median"].as_f64(),
            )
        })
        .collect();
    let (w, h) = (
        960.0,
        52.0 + 40.0 * decode.len().max(build.len()) as f64 + 20.0,
    );
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
    );
    let panel = |svg: &mut String,
                 x0: f64,
                 title: &str,
                 unit: &str,
                 rows: &[(String, Option<f64>)]| {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"28\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
            x0 + 10.0,
            xml(title)
        ));
        let max = rows
            .iter()
            .filter_map(|r| r.1)
            .fold(0.0, f64::max)
            .max(1e-9);
        let (label_w, bar_w, row_h) = (150.0, 250.0, 40.0);
        for (i, (name, v)) in rows.iter().enumerate() {
            let y = 52.0 + i as f64 * row_h;
            let ours = name.contains("ours");
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\"{}>{}</text>\n",
                x0 + label_w,
                y + 17.0,
                if ours { " font-weight=\"bold\"" } else { "" },
                xml(name)
            ));
            match v {
                Some(v) => {
                    let len = (v / max * bar_w).max(1.0);
                    let color = if ours { "#1f77b4" } else if name.contains("Value") { "#999999" } else { "#ff7f0e" };
                    svg.push_str(&format!(
                        "<rect x=\"{}\" y=\"{y}\" width=\"{len:.1}\" height=\"24\" fill=\"{color}\"/>\n<text x=\"{}\" y=\"{}\">{v:.2} {unit}</text>\n",
                        x0 + label_w + 8.0,
                        x0 + label_w + 14.0 + len,
                        y + 17.0
                    ));
                }
                None => svg.push_str(&format!(
                    "<text x=\"{}\" y=\"{}\" fill=\"#888888\" font-style=\"italic\">pending</text>\n",
                    x0 + label_w + 8.0,
                    y + 17.0
                )),
            }
        }
    };
    panel(
        &mut svg,
        0.0,
        "getTimeline decode (50 items), median",
        "ms",
        &decode,
    );
    panel(
        &mut svg,
        w / 2.0,
        "Clean debug build of the graph, median",
        "s",
        &build,
    );
    svg.push_str(&format!(
        "<text x=\"10\" y=\"{}\" font-size=\"11\" fill=\"#555555\">Shorter is better. Same machine, same day for all parties; see BENCHMARKS.md for min–max and the commands.</text>\n</svg>\n",
        h - 10.0
    ));
    svg
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

// ---------------------------------------------------------------- machine

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    json!({"cpu": cpu, "nproc": nproc, "rustc": rustc})
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let z = secs.div_euclid(86400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
