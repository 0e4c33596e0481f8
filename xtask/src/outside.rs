//! `cargo xtask outside [--measure] [--keep] [--no-verify]`: our crates as a
//! user outside this repository gets them — by version, from a registry,
//! with a fresh lock file.
//!
//! 1. `cargo package` of every publishable member (the workspace without
//!    its `publish = false` members), without lock files, with cargo's own
//!    verification: each unpacked package builds with the others as cargo
//!    overlays them on crates.io, as they will be once published. Each
//!    `.crate` must stay under crates.io's 10 MB limit. `--no-verify` skips
//!    cargo's verification (step 3 still checks every crate).
//! 2. A registry on the filesystem built from those files, in cargo's git
//!    index format (`config.json` with a `file://` download URL, one JSON line
//!    per version at cargo's index paths), used exactly as crates.io is.
//!    Its folder is named after the files' checksums: cargo treats a
//!    registry version as immutable (cached downloads, build fingerprints),
//!    so changed contents must be a new registry, not new files in the old.
//! 3. Each packaged crate checked as a project of its own, from its unpacked
//!    `.crate`, without a lock file (newest compatible dependencies), its
//!    dependencies on our crates from the registry: it must compile without
//!    a warning. (Cargo caps the lints of registry dependencies, so a user's
//!    build would hide them; a user's `cargo clippy` or newer dependency
//!    would not.)
//! 4. A fresh project in a temporary directory outside the workspace, from
//!    the template in `tests/outside/`: it depends on `atmo-client` and
//!    has `lexgen` as a build-dependency, both by version from the registry,
//!    without a lock file. The `lexgen` and `atproto` commands are installed
//!    from the registry with `cargo install` and run outside the workspace
//!    (`atproto repo export` and `repo ls` show the published lexicon
//!    records). Its lexicons come from the network, as a user's
//!    would: the reference PDS (`tests/pds`) is started, an account created,
//!    the template's lexicons (`tests/outside/lexicons`, a record type and a
//!    query with a ref into the official set) published with `lexgen
//!    publish`, a DNS server on loopback answers their `_lexicon` TXT
//!    record, and `lexgen install` in the project fetches, verifies and
//!    writes them with `lexicons.json`; `lexgen install --ci` passes there
//!    and fails, naming the file, on an edited copy. The project is then
//!    built (its `build.rs` generates from the installed lexicons) and run
//!    against the PDS: it logs in, creates bookmarks, lists them typed and
//!    sees an invalid one refused before it is sent.
//! 5. Timings of each step; `--measure` adds two clean builds of the project,
//!    with and without the `lexgen` build-dependency, for the cost lexgen
//!    adds to an app that already uses `atmo-client`.
//!
//! Everything it builds lives under `target/outside/`: the registry, a
//! `CARGO_HOME` of its own (a fresh user's, and one whose cached copies of
//! our crates can be dropped on each run), and reusable target directories,
//! so reruns only rebuild our crates. The project itself is made under the
//! system's temporary directory and removed afterwards (`--keep` leaves it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use atproto_tests::{Pds, PdsOptions};

use crate::workspace_root;

/// Name of the local registry in the project's `.cargo/config.toml`.
const REGISTRY: &str = "atproto-local";
/// The crates.io index, as an index entry names a dependency from it.
const CRATES_IO_INDEX: &str = "https://github.com/rust-lang/crates.io-index";
/// crates.io refuses `.crate` files of this size or more.
const MAX_CRATE_BYTES: u64 = 10 * 1024 * 1024;
/// What the template's program prints last when all went well.
const RUN_OK: &str = "outside: ok";
/// Marks around the build-dependency on lexgen in the template manifest,
/// removed for the baseline build of `--measure`.
const LEXGEN_BEGIN: &str = "# lexgen-begin";
const LEXGEN_END: &str = "# lexgen-end";

struct Args {
    measure: bool,
    rounds: usize,
    keep: bool,
    verify: bool,
}

const HELP: &str = "usage: cargo xtask outside [--measure] [--rounds N] [--keep] [--no-verify]
  packages the publishable crates, serves them as a local registry and builds,
  runs and lint-checks a fresh project outside the workspace that depends on
  them by version (template: tests/outside/)
  --measure   also time clean builds of the project with and without lexgen
  --rounds N  measure N rounds (implies --measure; 1 by default)
  --keep      keep the temporary project directory and print its path
  --no-verify skip cargo package's own verification build of each crate";

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args {
        measure: false,
        rounds: 1,
        keep: false,
        verify: true,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--measure" => a.measure = true,
            "--rounds" => {
                a.measure = true;
                a.rounds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--rounds takes a number of rounds, at least 1")?;
            }
            "--keep" => a.keep = true,
            "--no-verify" => a.verify = false,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}\n{HELP}")),
        }
    }
    Ok(Some(a))
}

/// One of our packages, packaged.
struct Packaged {
    name: String,
    version: String,
    /// The `.crate` file under `target/package/`.
    file: PathBuf,
    /// SHA-256 of the file, hex.
    cksum: String,
    /// The package unpacked under the temporary directory.
    unpacked: PathBuf,
    /// `cargo metadata` of the unpacked (normalized) manifest.
    metadata: Value,
}

/// Removes the temporary directory when the run ends, however it ends.
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("outside: kept {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let Some(args) = parse(args)? else {
        println!("{HELP}");
        return Ok(());
    };
    let root = workspace_root();
    let out = root.join("target/outside");
    let cargo_home = out.join("cargo-home");
    mkdir(&cargo_home)?;
    let temp = TempDir {
        path: std::env::temp_dir().join(format!("atproto-outside-{}", std::process::id())),
        keep: args.keep,
    };
    remove(&temp.path)?;
    mkdir(&temp.path)?;
    let mut timings: Vec<(String, Duration)> = Vec::new();
    let mut measured = None;

    step("package: cargo package of every publishable crate");
    let t = Instant::now();
    let names = publishable(&root)?;
    let packaged = package(&root, &names, &temp.path, args.verify)
        .map_err(|e| format!("step package: {e}"))?;
    timings.push((
        format!(
            "package ({} crates{})",
            packaged.len(),
            if args.verify {
                ", verified by cargo"
            } else {
                ""
            }
        ),
        t.elapsed(),
    ));
    for p in &packaged {
        let size = fs::metadata(&p.file).map(|m| m.len()).unwrap_or(0);
        eprintln!("  {}-{}.crate  {} KiB", p.name, p.version, size / 1024);
    }

    step("registry: a git index of the packaged crates");
    let t = Instant::now();
    let index = registry(&out, &packaged).map_err(|e| format!("step registry: {e}"))?;
    forget_local_registries(&cargo_home)?;
    timings.push((
        "registry (git index, file:// downloads)".into(),
        t.elapsed(),
    ));
    let index_url = file_url(&index);
    eprintln!("  {index_url}");

    let ours: BTreeSet<String> = packaged.iter().map(|p| p.name.clone()).collect();
    let client = packaged
        .iter()
        .find(|p| p.name == "atmo-client")
        .ok_or("atmo-client was not packaged")?;
    let version = caret(&client.version);
    let env = Env {
        cargo_home: &cargo_home,
        index_url: &index_url,
    };

    step("verify: each packaged crate checked on its own, no lock file, no warning");
    let t = Instant::now();
    let check_target = out.join("check-target");
    prune_ours(&check_target, &ours)?;
    let mut warnings = Vec::new();
    let mut failures = Vec::new();
    for p in &packaged {
        eprintln!("  cargo check {}", p.name);
        match check_package(p, &ours, &env, &check_target) {
            Ok(w) => warnings.extend(w),
            Err(e) => failures.push(format!("{}: {e}", p.name)),
        }
    }
    if !failures.is_empty() {
        return Err(format!(
            "step verify: {} packaged crate(s) do not build on their own:\n{}",
            failures.len(),
            failures.join("\n")
        ));
    }
    timings.push((
        format!("verify: cargo check of each crate ({})", packaged.len()),
        t.elapsed(),
    ));
    if !warnings.is_empty() {
        return Err(format!(
            "step verify: {} warning(s) in our packaged crates, built as a user builds them:\n{}",
            warnings.len(),
            warnings.join("\n")
        ));
    }

    step("fresh project: written from the template, outside the workspace");
    let template = root.join("tests/outside");
    let app = temp.path.join("app");
    write_project(&template, &app, &version, &env, true)
        .map_err(|e| format!("step project: {e}"))?;
    let app_target = out.join("app-target");
    prune_ours(&app_target, &ours)?;

    step("lexicons: published to the local PDS, installed from it with lexgen");
    let t = Instant::now();
    let installed = install_commands(&env, &app_target, &temp.path, &ours, &version)
        .map_err(|e| format!("step lexicons (cargo install): {e}"))?;
    let online = lexicons_from_pds(&template, &app, &temp.path, &installed)
        .map_err(|e| format!("step lexicons: {e}"))?;
    timings.push((
        "lexicons: cargo install of lexgen and atproto, PDS started, lexgen publish, \
         atproto repo export, lexgen install (verified), --ci"
            .into(),
        t.elapsed(),
    ));

    step("fresh project: build against the registry, no lock file");
    let t = Instant::now();
    let warnings = diagnostics(&app, &env, &app_target, &["build"])
        .map_err(|e| format!("step build (fresh project in {}): {e}", app.display()))?;
    timings.push((
        "build of the fresh project (dependencies cached, ours rebuilt)".into(),
        t.elapsed(),
    ));
    report_resolved(&app)?;
    if !warnings.is_empty() {
        return Err(format!(
            "step build: {} warning(s) building the fresh project (its code and the code \
             lexgen generated into it):\n{}",
            warnings.len(),
            warnings.join("\n")
        ));
    }

    step("fresh project: run");
    let t = Instant::now();
    let vars = [
        ("ATPROTO_OUTSIDE_PDS", online.pds.url.as_str()),
        ("ATPROTO_OUTSIDE_HANDLE", online.handle.as_str()),
        ("ATPROTO_OUTSIDE_PASSWORD", PASSWORD),
    ];
    let output = cargo_output(&app, &env, &app_target, &["run", "--quiet"], &vars)
        .map_err(|e| format!("step run: {e}"))?;
    // The PDS and the DNS server are no longer needed.
    drop(online);
    timings.push((
        "run of the fresh project (against the PDS)".into(),
        t.elapsed(),
    ));
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() || !stdout.lines().any(|l| l.trim() == RUN_OK) {
        return Err(format!(
            "step run: the fresh project failed ({}), or did not print {RUN_OK:?}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }

    if args.measure {
        step("measure: clean builds with and without the lexgen build-dependency");
        let baseline = temp.path.join("baseline");
        write_project(&template, &baseline, &version, &env, false)
            .map_err(|e| format!("step measure: {e}"))?;
        // Rounds alternate the two builds; the least disturbed round of
        // each (its minimum) counts, in wall time and in CPU time (user +
        // system of cargo and every compiler it ran), which other work on
        // the machine changes less.
        let (mut without, mut with) = (Vec::new(), Vec::new());
        for round in 1..=args.rounds {
            eprintln!("  round {round} of {}", args.rounds);
            without.push(
                clean_build(&baseline, &env, &out.join("measure-without-lexgen"))
                    .map_err(|e| format!("step measure (without lexgen): {e}"))?,
            );
            with.push(
                clean_build(&app, &env, &out.join("measure-with-lexgen"))
                    .map_err(|e| format!("step measure (with lexgen): {e}"))?,
            );
        }
        let best = |v: &[Timed]| Timed {
            wall: v.iter().map(|t| t.wall).min().unwrap_or_default(),
            cpu: v.iter().map(|t| t.cpu).fold(f64::INFINITY, f64::min),
        };
        let (without, with) = (best(&without), best(&with));
        let pct = |a: f64, b: f64| (b / a - 1.0) * 100.0;
        measured = Some(format!(
            "  clean debug build ({} round(s), the best of each): atmo-client only \
             {:.1} s wall, {:.1} s CPU; plus lexgen as build-dependency {:.1} s wall, \
             {:.1} s CPU; lexgen adds {:+.0} % wall, {:+.0} % CPU",
            args.rounds,
            without.wall.as_secs_f64(),
            without.cpu,
            with.wall.as_secs_f64(),
            with.cpu,
            pct(without.wall.as_secs_f64(), with.wall.as_secs_f64()),
            pct(without.cpu, with.cpu),
        ));
    }

    println!("\noutside: what ran, and how long it took");
    println!("  registry {index_url}");
    println!(
        "  project  {} (atmo-client {version}, lexgen {version} as build-dependency; {})",
        app.display(),
        if args.keep { "kept" } else { "removed" }
    );
    for (what, took) in &timings {
        println!("  {:>8.1} s  {what}", took.as_secs_f64());
    }
    if let Some(line) = measured {
        println!("{line}");
    }
    Ok(())
}

/// The password of the account `cargo xtask outside` creates on its own
/// throw-away PDS.
const PASSWORD: &str = "outside-password-123";
/// The documents the template's lexicons define, installed by NSID.
const NSIDS: [&str; 2] = ["com.example.bookmark", "com.example.listBookmarks"];
/// How long one run of an installed command (`lexgen`, `atproto`) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What the run of the project needs from the lexicon step: the PDS (kept
/// running) with its account, and the DNS server.
struct Online {
    pds: Pds,
    handle: String,
    _dns: DnsServer,
}

/// The commands a user installs with `cargo install` from the registry:
/// `lexgen` (package `atmo-lexgen`) and `atproto` (package `atmo-cli`),
/// built in the project's target directory (`target`), so that the
/// project's own build reuses what they share with it.
struct Installed {
    lexgen: PathBuf,
    atproto: PathBuf,
}

fn install_commands(
    env: &Env,
    target: &Path,
    temp: &Path,
    ours: &BTreeSet<String>,
    version: &str,
) -> Result<Installed, String> {
    let root = temp.join("installed");
    let root_arg = root.display().to_string();
    // An installed package is the root of its build, so its dependencies on
    // our other crates are read from its manifest, which names crates.io
    // (where they will be): patched to the local registry, as `cargo
    // install` reads no project configuration, through `--config`.
    let patch = patch_to_registry(ours.iter().map(|name| (name.as_str(), version)));
    let config = root.join("install-config.toml");
    write(&config, &cargo_config(env, &patch))?;
    let config_arg = config.display().to_string();
    eprintln!(
        "  cargo install --registry {REGISTRY} atmo-lexgen atmo-cli --debug --root {root_arg}"
    );
    cargo(
        temp,
        env,
        target,
        &[
            "install",
            "--quiet",
            "--debug",
            "--config",
            &config_arg,
            "--registry",
            REGISTRY,
            "--root",
            &root_arg,
            "atmo-lexgen",
            "atmo-cli",
        ],
        &[],
    )?;
    let bin = root.join("bin");
    let installed = Installed {
        lexgen: bin.join(format!("lexgen{}", std::env::consts::EXE_SUFFIX)),
        atproto: bin.join(format!("atproto{}", std::env::consts::EXE_SUFFIX)),
    };
    for path in [&installed.lexgen, &installed.atproto] {
        if !path.is_file() {
            return Err(format!("cargo install wrote no {}", path.display()));
        }
    }
    Ok(installed)
}

/// Starts the reference PDS, creates an account, publishes the template's
/// lexicons there with `lexgen publish`, serves their `_lexicon` TXT record
/// on loopback and installs them into `app` with `lexgen install` (in
/// place of the template's copies), then checks `lexgen install --ci`: it
/// passes in `app` and fails, naming the file, on an edited copy. The
/// installed `atproto` command exports the account's repository and lists
/// the schema records in it. Every command runs in a directory outside
/// the workspace.
fn lexicons_from_pds(
    template: &Path,
    app: &Path,
    temp: &Path,
    installed: &Installed,
) -> Result<Online, String> {
    let lexgen = &installed.lexgen;

    eprintln!("  starting the reference PDS (tests/pds)");
    let pds = Pds::start(&PdsOptions::default()).map_err(|e| {
        format!("{e}\n(`cargo xtask test` installs it first; or run bash tests/pds/install.sh)")
    })?;
    let handle = atproto_tests::unique_handle("outside");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    let did = runtime.block_on(async {
        let agent = atmo_client::AtpAgent::builder(pds.url.as_str())
            .build()
            .map_err(|e| e.to_string())?;
        agent
            .create_account(atproto_tests::new_account_input(&handle, PASSWORD))
            .await
            .map(|s| s.did)
            .map_err(|e| format!("createAccount {handle}: {e}"))
    })?;
    eprintln!("  account {handle} ({did}) on {}", pds.url);

    let source = template.join("lexicons");
    let out = run_command(
        lexgen,
        temp,
        &["publish", &source.display().to_string(), "--pds", &pds.url],
        &[
            ("LEXGEN_IDENTIFIER", handle.as_str()),
            ("LEXGEN_PASSWORD", PASSWORD),
        ],
    )?;
    let printed = String::from_utf8_lossy(&out.stdout);
    // NSID com.example.* → authority domain example.com.
    let txt = format!("_lexicon.example.com TXT \"did={did}\"");
    if !printed.contains(&txt) {
        return Err(format!(
            "lexgen publish did not print the TXT record {txt}:\n{printed}"
        ));
    }
    // The installed `atproto` command, against the same PDS: the
    // account's repository exported and listed holds the schema records.
    let car = temp.join("repo.car").display().to_string();
    run_command(
        &installed.atproto,
        temp,
        &[
            "repo",
            "export",
            did.as_str(),
            "-o",
            &car,
            "--pds",
            &pds.url,
            "--plc",
            &pds.plc,
            "--allow-private-hosts",
        ],
        &[],
    )?;
    let listed = run_command(&installed.atproto, temp, &["repo", "ls", &car], &[])?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    // One JSON object per record: collection, rkey, cid, value.
    let records: Vec<Value> = listed
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for nsid in NSIDS {
        let found = records.iter().any(|r| {
            r["collection"] == "com.atproto.lexicon.schema"
                && r["rkey"] == *nsid
                && r["value"]["id"] == *nsid
        });
        if !found {
            return Err(format!(
                "atproto repo ls does not list the schema record of {nsid}:\n{listed}"
            ));
        }
    }

    let dns = DnsServer::start("_lexicon.example.com", &format!("did={did}"))?;
    eprintln!("  DNS on {} answers {txt}", dns.addr);

    // The project's lexicons come from the network, not from the template.
    remove(&app.join("lexicons"))?;
    let mut install = vec!["install"];
    install.extend(NSIDS);
    install.extend([
        "--plc",
        pds.plc.as_str(),
        "--dns",
        dns.addr.as_str(),
        "--allow-private-hosts",
    ]);
    run_command(lexgen, app, &install, &[])?;
    let manifest_path = app.join("lexicons.json");
    let manifest: Value = fs::read_to_string(&manifest_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| {
            format!(
                "lexgen install wrote no readable {}",
                manifest_path.display()
            )
        })?;
    for nsid in NSIDS {
        let expected = format!("at://{did}/com.atproto.lexicon.schema/{nsid}");
        if manifest["resolutions"][nsid]["uri"] != expected.as_str() {
            return Err(format!(
                "lexicons.json does not resolve {nsid} to {expected}:\n{manifest:#}"
            ));
        }
        let file = app.join("lexicons").join(nsid.replace('.', "/") + ".json");
        if !file.is_file() {
            return Err(format!("lexgen install wrote no {}", file.display()));
        }
    }
    if app.join("lexicons/com/atproto").exists() {
        return Err("lexgen install copied official lexicons into the project".into());
    }
    eprintln!("  installed {} into {}", NSIDS.join(", "), app.display());

    // --ci: the installed set passes; an edited copy fails, naming the file.
    run_command(lexgen, app, &["install", "--ci"], &[])?;
    let edited = temp.join("ci-edited");
    remove(&edited)?;
    copy_tree(&app.join("lexicons"), &edited.join("lexicons"))?;
    fs::copy(&manifest_path, edited.join("lexicons.json"))
        .map_err(|e| format!("cannot copy {}: {e}", manifest_path.display()))?;
    let file = edited.join("lexicons/com/example/bookmark.json");
    let mut doc: Value = fs::read_to_string(&file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| format!("cannot read {}", file.display()))?;
    doc["description"] = json!("edited after install");
    write(&file, &format!("{doc:#}\n"))?;
    let lexicons = edited.join("lexicons").display().to_string();
    let manifest = edited.join("lexicons.json").display().to_string();
    let args = [
        "install",
        "--ci",
        "--lexicons",
        &lexicons,
        "--manifest",
        &manifest,
    ];
    let out = command_output(lexgen, &edited, &args, &[])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !stderr.contains(&file.display().to_string()) {
        return Err(format!(
            "lexgen install --ci after an edit: expected a failure naming {}, got {}:\n{stderr}",
            file.display(),
            out.status
        ));
    }
    eprintln!("  --ci passes; after an edit it fails: {}", stderr.trim());
    remove(&edited)?;
    Ok(Online {
        pds,
        handle,
        _dns: dns,
    })
}

/// Runs an installed command (`lexgen`, `atproto`) in `dir`, bounded by
/// [`COMMAND_TIMEOUT`]; its output captured.
fn command_output(
    program: &Path,
    dir: &Path,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Result<Output, String> {
    let name = command_name(program);
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < COMMAND_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(100))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{name} {} did not finish within {} s",
                    args.join(" "),
                    COMMAND_TIMEOUT.as_secs()
                ));
            }
        }
    }
    child
        .wait_with_output()
        .map_err(|e| format!("{name} {}: {e}", args.join(" ")))
}

/// The file name of a command, for messages.
fn command_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// [`command_output`], its output shown; a failure is an error quoting it.
fn run_command(
    program: &Path,
    dir: &Path,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Result<Output, String> {
    let name = command_name(program);
    eprintln!("  $ {name} {}", args.join(" "));
    let out = command_output(program, dir, args, vars)?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        eprintln!("    {line}");
    }
    if !out.status.success() {
        return Err(format!(
            "{name} {} failed ({}):\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out)
}

/// A DNS server on 127.0.0.1 (UDP) that answers TXT queries for one name
/// with one string (NXDOMAIN for any other name); stops when dropped.
struct DnsServer {
    addr: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsServer {
    fn start(name: &str, txt: &str) -> Result<DnsServer, String> {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot bind a UDP socket on 127.0.0.1: {e}"))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (name, txt, stopped) = (name.to_ascii_lowercase(), txt.to_owned(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok((n, peer)) = socket.recv_from(&mut buf) {
                    if let Some(reply) = dns_answer(&buf[..n], &name, &txt) {
                        let _ = socket.send_to(&reply, peer);
                    }
                }
            }
        });
        Ok(DnsServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reply to a DNS query (RFC 1035): the question echoed, and for a TXT
/// query of `name` one answer with `txt` in strings of up to 255 bytes.
/// `None` for what cannot be parsed as a query.
fn dns_answer(query: &[u8], name: &str, txt: &str) -> Option<Vec<u8>> {
    // A 12-byte header, then the question: labels, type, class.
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*query.get(i)?, *query.get(i + 1)?]);
    let question_end = i + 4;
    let known = labels.join(".") == name;
    let answer = known && qtype == 16;
    let mut out = Vec::new();
    out.extend_from_slice(query.get(0..2)?);
    // Response, recursion desired and available; NXDOMAIN when unknown.
    out.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }, 0, 1]);
    out.extend_from_slice(&[0, u8::from(answer), 0, 0, 0, 0]);
    out.extend_from_slice(query.get(12..question_end)?);
    if answer {
        // A pointer to the question's name, type TXT, class IN, TTL 60.
        out.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
        let mut rdata = Vec::new();
        for chunk in txt.as_bytes().chunks(255) {
            rdata.push(chunk.len() as u8);
            rdata.extend_from_slice(chunk);
        }
        out.extend_from_slice(&u16::try_from(rdata.len()).ok()?.to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

fn step(what: &str) {
    eprintln!("\n==> xtask outside: {what}");
}

fn mkdir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        mkdir(parent)?;
    }
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// `0.1.0` → `0.1` (`1.2.3` → `1`): the requirement a user writes.
fn caret(version: &str) -> String {
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_owned(),
        _ => version.to_owned(),
    }
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a command, its output captured; an error names it and quotes its
/// standard error.
fn output(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The workspace members that can be published (not `publish = false`).
fn publishable(root: &Path) -> Result<Vec<String>, String> {
    let out = output(Command::new(cargo_bin()).current_dir(root).args([
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
    ]))?;
    let meta: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let mut names = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let unpublished = p["publish"].as_array().is_some_and(|a| a.is_empty());
        if let Some(name) = p["name"].as_str() {
            if !unpublished {
                names.push(name.to_owned());
            }
        }
    }
    if names.is_empty() {
        return Err("no publishable package in the workspace".into());
    }
    Ok(names)
}

/// `cargo package` of `names` (with verification, in the workspace's target
/// directory), then each `.crate` checked for size, hashed, unpacked and
/// read with `cargo metadata`.
fn package(
    root: &Path,
    names: &[String],
    temp: &Path,
    verify: bool,
) -> Result<Vec<Packaged>, String> {
    let mut cmd = Command::new(cargo_bin());
    // No lock file in the packages: a user's build never reads one (only
    // `cargo install --locked` does), and making one resolves every
    // package's dev-dependencies on our other crates on crates.io, where
    // they are not published yet. Verification resolves afresh (newest
    // compatible versions) without it.
    cmd.current_dir(root)
        .args(["package", "--allow-dirty", "--exclude-lockfile"]);
    if !verify {
        cmd.arg("--no-verify");
    }
    for n in names {
        cmd.args(["-p", n]);
    }
    crate::run_status(&mut cmd)?;

    let meta = output(Command::new(cargo_bin()).current_dir(root).args([
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
    ]))?;
    let meta: Value = serde_json::from_slice(&meta.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let target = meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let versions: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?, p["version"].as_str()?)))
        .collect();

    let unpack_root = temp.join("unpacked");
    mkdir(&unpack_root)?;
    let mut out = Vec::new();
    let mut too_big = Vec::new();
    for name in names {
        let version = versions
            .get(name.as_str())
            .ok_or_else(|| format!("{name} has no version in cargo metadata"))?;
        let file = target.join(format!("package/{name}-{version}.crate"));
        let size = fs::metadata(&file)
            .map_err(|e| format!("cargo package made no {}: {e}", file.display()))?
            .len();
        if size >= MAX_CRATE_BYTES {
            too_big.push(format!(
                "{} is {size} bytes, crates.io takes less than {MAX_CRATE_BYTES}",
                file.display()
            ));
            continue;
        }
        let cksum = sha256(&file)?;
        crate::run_status(
            Command::new("tar")
                .arg("-xzf")
                .arg(&file)
                .arg("-C")
                .arg(&unpack_root),
        )?;
        let unpacked = unpack_root.join(format!("{name}-{version}"));
        // A packaged binary crate carries the lock file of our workspace; a
        // user's build never uses it.
        let _ = fs::remove_file(unpacked.join("Cargo.lock"));
        let m = output(
            Command::new(cargo_bin())
                .current_dir(&unpacked)
                .args(["metadata", "--no-deps", "--format-version", "1"])
                .arg("--manifest-path")
                .arg(unpacked.join("Cargo.toml")),
        )?;
        let m: Value = serde_json::from_slice(&m.stdout)
            .map_err(|e| format!("cargo metadata of {name} printed no JSON: {e}"))?;
        let metadata = m["packages"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == name.as_str()))
            .cloned()
            .ok_or_else(|| format!("cargo metadata of the unpacked {name} lists no {name}"))?;
        out.push(Packaged {
            name: name.clone(),
            version: (*version).to_owned(),
            file,
            cksum,
            unpacked,
            metadata,
        });
    }
    if !too_big.is_empty() {
        return Err(too_big.join("\n"));
    }
    Ok(out)
}

/// SHA-256 of a file, hex, by the system's `sha256sum` (or `shasum`).
fn sha256(file: &Path) -> Result<String, String> {
    let out = Command::new("sha256sum")
        .arg(file)
        .output()
        .or_else(|_| {
            Command::new("shasum")
                .args(["-a", "256"])
                .arg(file)
                .output()
        })
        .map_err(|e| format!("cannot run sha256sum or shasum: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.split_whitespace().next().unwrap_or("");
    if out.status.success() && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!("cannot hash {}: {text}", file.display()))
    }
}

/// Builds the git index under `target/outside/registry/<checksum>/` (older
/// ones removed); returns the index directory.
fn registry(out: &Path, packaged: &[Packaged]) -> Result<PathBuf, String> {
    let mut hasher = DefaultHasher::new();
    for p in packaged.iter() {
        (&p.name, &p.version, &p.cksum).hash(&mut hasher);
    }
    let id = format!("{:016x}", hasher.finish());
    let parent = out.join("registry");
    if parent.exists() {
        for entry in fs::read_dir(&parent).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            if entry.file_name() != id.as_str() {
                remove(&entry.path())?;
            }
        }
    }
    let dir = parent.join(&id);
    remove(&dir)?;
    let crates = dir.join("crates");
    let index = dir.join("index");
    mkdir(&crates)?;
    mkdir(&index)?;

    let ours: BTreeSet<&str> = packaged.iter().map(|p| p.name.as_str()).collect();
    for p in packaged.iter() {
        let copy = crates.join(format!("{}-{}.crate", p.name, p.version));
        fs::copy(&p.file, &copy).map_err(|e| format!("cannot copy {}: {e}", p.file.display()))?;
        let line = index_line(p, &ours)?;
        write(&index.join(index_path(&p.name)), &format!("{line}\n"))?;
    }
    let config = json!({ "dl": format!("{}/{{crate}}-{{version}}.crate", file_url(&crates)) });
    write(&index.join("config.json"), &format!("{config}\n"))?;

    let git = |args: &[&str]| {
        output(
            Command::new("git")
                .current_dir(&index)
                .args([
                    "-c",
                    "user.name=xtask outside",
                    "-c",
                    "user.email=xtask@localhost",
                    "-c",
                    "commit.gpgsign=false",
                ])
                .args(args),
        )
    };
    git(&["init", "--quiet", "--initial-branch=main"])?;
    git(&["add", "--all"])?;
    git(&["commit", "--quiet", "-m", "packaged crates"])?;
    Ok(index)
}

/// Where cargo looks for a package in an index: `1/a`, `2/ab`, `3/a/abc`,
/// `ab/cd/abcd…`, lowercase.
fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// The index entry of one version, from `cargo metadata` of its normalized
/// manifest: dependencies on our crates stay in this registry (no
/// `registry`), every other one is from crates.io.
fn index_line(p: &Packaged, ours: &BTreeSet<&str>) -> Result<String, String> {
    let m = &p.metadata;
    let mut deps = Vec::new();
    for d in m["dependencies"].as_array().into_iter().flatten() {
        let package = d["name"]
            .as_str()
            .ok_or_else(|| format!("{}: a dependency without a name", p.name))?;
        let rename = d["rename"].as_str();
        let registry = if ours.contains(package) {
            Value::Null
        } else {
            match d["registry"].as_str() {
                Some(other) => Value::from(other),
                None => Value::from(CRATES_IO_INDEX),
            }
        };
        deps.push(json!({
            "name": rename.unwrap_or(package),
            "req": d["req"],
            "features": d["features"],
            "optional": d["optional"],
            "default_features": d["uses_default_features"],
            "target": d["target"],
            "kind": d["kind"].as_str().unwrap_or("normal"),
            "registry": registry,
            "package": rename.map(|_| package),
        }));
    }
    // Features using `dep:` or `name?/feature` go to `features2`, as
    // crates.io writes them, so that older cargo can still read the line.
    let mut features = Map::new();
    let mut features2 = Map::new();
    for (name, list) in m["features"].as_object().into_iter().flatten() {
        let extended = list.as_array().into_iter().flatten().any(|f| {
            f.as_str()
                .is_some_and(|f| f.starts_with("dep:") || f.contains("?/"))
        });
        if extended {
            features2.insert(name.clone(), list.clone());
        } else {
            features.insert(name.clone(), list.clone());
        }
    }
    let mut line = json!({
        "name": p.name,
        "vers": p.version,
        "deps": deps,
        "cksum": p.cksum,
        "features": features,
        "yanked": false,
        "links": m["links"],
    });
    if !features2.is_empty() {
        line["features2"] = Value::Object(features2);
        line["v"] = json!(2);
    }
    if let Some(rv) = m["rust_version"].as_str() {
        line["rust_version"] = json!(rv);
    }
    Ok(line.to_string())
}

/// Drops what our own `CARGO_HOME` cached from earlier local registries
/// (index clones, downloads, unpacked sources); crates.io's stays.
fn forget_local_registries(cargo_home: &Path) -> Result<(), String> {
    for kind in ["index", "cache", "src"] {
        let dir = cargo_home.join("registry").join(kind);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with("index.crates.io-") {
                remove(&entry.path())?;
            }
        }
    }
    Ok(())
}

/// What every cargo command of a project outside needs.
struct Env<'a> {
    cargo_home: &'a Path,
    index_url: &'a str,
}

/// The `.cargo/config.toml` declaring the local registry, plus `extra`.
fn cargo_config(env: &Env, extra: &str) -> String {
    format!(
        "[registries.{REGISTRY}]\nindex = \"{}\"\n{extra}",
        env.index_url
    )
}

/// Writes the project from the template: `Cargo.toml.in` with `@VERSION@`
/// replaced, every other file as is, and the registry's `.cargo/config.toml`.
/// Without `lexgen` (the baseline of `--measure`), the manifest's lexgen
/// block, `build.rs` and `lexicons/` are left out and `baseline/main.rs` is
/// the program.
fn write_project(
    template: &Path,
    dir: &Path,
    version: &str,
    env: &Env,
    lexgen: bool,
) -> Result<(), String> {
    remove(dir)?;
    copy_tree(template, dir)?;
    let manifest_in = dir.join("Cargo.toml.in");
    let text = fs::read_to_string(&manifest_in)
        .map_err(|e| format!("cannot read {}: {e}", manifest_in.display()))?;
    remove(&manifest_in)?;
    write(&dir.join("Cargo.toml"), &manifest(&text, version, lexgen))?;
    let baseline = dir.join("baseline");
    if !lexgen {
        remove(&dir.join("build.rs"))?;
        remove(&dir.join("lexicons"))?;
        let main = dir.join("src/main.rs");
        fs::copy(baseline.join("main.rs"), &main)
            .map_err(|e| format!("cannot write {}: {e}", main.display()))?;
    }
    remove(&baseline)?;
    write(&dir.join(".cargo/config.toml"), &cargo_config(env, ""))
}

/// The project's manifest from the template's: `@VERSION@` replaced, the
/// lines from `# lexgen-begin` to `# lexgen-end` kept only with `lexgen`.
fn manifest(template: &str, version: &str, lexgen: bool) -> String {
    let mut manifest = String::new();
    let mut skipping = false;
    for line in template.replace("@VERSION@", version).lines() {
        if line.starts_with(LEXGEN_BEGIN) {
            skipping = !lexgen;
        } else if line.starts_with(LEXGEN_END) {
            skipping = false;
        } else if !skipping {
            manifest.push_str(line);
            manifest.push('\n');
        }
    }
    manifest
}

/// Removes a file or a directory tree; nothing to remove is fine.
fn remove(path: &Path) -> Result<(), String> {
    let removed = if path.is_dir() {
        fs::remove_dir_all(path)
    } else if path.exists() {
        fs::remove_file(path)
    } else {
        return Ok(());
    };
    removed.map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    mkdir(to)?;
    let entries = fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(|e| format!("cannot copy {}: {e}", src.display()))?;
        }
    }
    Ok(())
}

fn cargo_command(
    dir: &Path,
    env: &Env,
    target: &Path,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Command {
    let mut cmd = Command::new(cargo_bin());
    cmd.current_dir(dir)
        .args(args)
        .env("CARGO_HOME", env.cargo_home)
        .env("CARGO_TARGET_DIR", target)
        // Nothing of this workspace's build reaches the project.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PKG_NAME");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// A cargo command in a project outside, its output passed through.
fn cargo(
    dir: &Path,
    env: &Env,
    target: &Path,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Result<(), String> {
    crate::run_status(&mut cargo_command(dir, env, target, args, vars))
}

/// A cargo command in a project outside, standard output captured.
fn cargo_output(
    dir: &Path,
    env: &Env,
    target: &Path,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Result<Output, String> {
    cargo_command(dir, env, target, args, vars)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))
}

/// Removes builds of our crates from earlier registries out of a reusable
/// target directory (each registry is a new source, so they would only pile
/// up), and all incremental state; crates.io's builds stay.
fn prune_ours(target: &Path, ours: &BTreeSet<String>) -> Result<(), String> {
    let hashed = |name: &str, stem: &str| {
        name.strip_prefix(stem)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|rest| {
                let hash = rest.split('.').next().unwrap_or("");
                hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
            })
    };
    for profile in ["debug", "release"] {
        // Incremental state is kept for local packages only, which here are
        // ours unpacked (or the project) under a new temporary path each
        // run: never reused.
        remove(&target.join(profile).join("incremental"))?;
        for sub in [".fingerprint", "build", "deps"] {
            let dir = target.join(profile).join(sub);
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let mine = ours.iter().any(|pkg| {
                    let krate = pkg.replace('-', "_");
                    hashed(&file, pkg)
                        || hashed(&file, &krate)
                        || hashed(&file, &format!("lib{krate}"))
                        || hashed(&file, &format!("build_script_build-{krate}"))
                });
                if mine {
                    remove(&entry.path())?;
                }
            }
        }
    }
    Ok(())
}

/// Prints the versions the fresh lock file chose for a few dependencies
/// that matter to users' builds.
fn report_resolved(app: &Path) -> Result<(), String> {
    let lock = fs::read_to_string(app.join("Cargo.lock"))
        .map_err(|e| format!("the fresh project has no Cargo.lock: {e}"))?;
    let mut picked = BTreeMap::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            picked.insert(n, v.trim_matches('"').to_owned());
        }
    }
    let shown: Vec<String> = [
        "atmo-client",
        "atmo-lexgen",
        "rustls",
        "hyper",
        "tokio",
        "serde",
    ]
    .iter()
    .filter_map(|n| picked.get(*n).map(|v| format!("{n} {v}")))
    .collect();
    eprintln!("  resolved: {}", shown.join(", "));
    Ok(())
}

/// A `[patch.crates-io]` table taking each `(crate, version requirement)`
/// from the local registry (the first requirement of a crate named twice);
/// empty for none.
fn patch_to_registry<'a>(crates: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut patch = String::new();
    let mut seen = BTreeSet::new();
    for (name, req) in crates {
        if seen.insert(name) {
            if patch.is_empty() {
                patch.push_str("\n[patch.crates-io]\n");
            }
            let _ = writeln!(
                patch,
                "{name} = {{ version = \"{req}\", registry = \"{REGISTRY}\" }}"
            );
        }
    }
    patch
}

/// `cargo check` of one unpacked package as a project of its own, without
/// a lock file; its dependencies on our crates come from the local registry
/// (a `[patch.crates-io]` in its `.cargo/config.toml`, since the packaged
/// manifest names crates.io). Returns the warnings rustc gave for it.
fn check_package(
    p: &Packaged,
    ours: &BTreeSet<String>,
    env: &Env,
    target: &Path,
) -> Result<Vec<String>, String> {
    let deps: BTreeSet<(&str, &str)> = p.metadata["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d["name"].as_str()?, d["req"].as_str()?)))
        .filter(|(name, _)| ours.contains(*name))
        .collect();
    let patch = patch_to_registry(deps);
    write(
        &p.unpacked.join(".cargo/config.toml"),
        &cargo_config(env, &patch),
    )?;
    let _ = fs::remove_file(p.unpacked.join("Cargo.lock"));
    // Default features, then all: a dependency's feature-gated code (the
    // hyper client of atmo-xrpc, off by default) is otherwise only
    // compiled where it is a registry dependency, its lints capped.
    let mut warnings = BTreeSet::new();
    for features in [&[][..], &["--all-features"][..]] {
        let args = [&["check"][..], features].concat();
        for w in diagnostics(&p.unpacked, env, target, &args)
            .map_err(|e| format!("{e} (features: {})", features.join(" ")))?
        {
            warnings.insert(format!("{}: {w}", p.name));
        }
    }
    Ok(warnings.into_iter().collect())
}

/// Runs `cargo <args> --message-format json` in `dir` and returns the
/// warnings rustc gave (only those of local packages: cargo caps the lints
/// of registry ones); a failed build is an error quoting rustc's errors.
fn diagnostics(dir: &Path, env: &Env, target: &Path, args: &[&str]) -> Result<Vec<String>, String> {
    let command = args.join(" ");
    let args = [args, &["--message-format", "json"][..]].concat();
    // The package is under a new temporary path each run: incremental
    // state would never be reused.
    let out = cargo_output(dir, env, target, &args, &[("CARGO_INCREMENTAL", "0")])?;
    let (warnings, errors) = rustc_messages(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "cargo {command} failed: {}\n{}",
            out.status,
            errors.join("\n")
        ));
    }
    Ok(warnings)
}

/// The warnings and errors in cargo's JSON messages, as rustc rendered
/// them (without the "N warnings emitted" summaries).
fn rustc_messages(stdout: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for line in stdout.split(|b| *b == b'\n') {
        let Ok(msg) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-message" {
            continue;
        }
        let message = &msg["message"];
        let rendered = message["rendered"].as_str().unwrap_or("").trim_end();
        let summary = message["spans"].as_array().is_none_or(|s| s.is_empty())
            && message["message"]
                .as_str()
                .is_some_and(|m| m.contains("emitted"));
        match message["level"].as_str() {
            Some("warning") if !summary => warnings.push(rendered.to_owned()),
            Some("error") => errors.push(rendered.to_owned()),
            _ => {}
        }
    }
    (warnings, errors)
}

/// A debug build of `dir` in an emptied target directory, timed; the
/// directory is removed afterwards.
fn clean_build(dir: &Path, env: &Env, target: &Path) -> Result<Timed, String> {
    remove(target)?;
    // Resolve (and download) first so that the timing is compilation only.
    cargo(dir, env, target, &["fetch"], &[])?;
    // bash's `times` gives the CPU time of the build and all it ran.
    let times = target.with_extension("times");
    let mut cmd = cargo_command(dir, env, target, &[], &[]);
    let program = cmd.get_program().to_owned();
    let mut bash = Command::new("bash");
    bash.arg("-c")
        .arg("\"$0\" build; status=$?; times > \"$OUTSIDE_TIMES\"; exit $status")
        .arg(program)
        .current_dir(dir)
        .env("OUTSIDE_TIMES", &times);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => bash.env(k, v),
            None => bash.env_remove(k),
        };
    }
    cmd = bash;
    let t = Instant::now();
    crate::run_status(&mut cmd)?;
    let wall = t.elapsed();
    let text = fs::read_to_string(&times)
        .map_err(|e| format!("bash's times wrote no {}: {e}", times.display()))?;
    let cpu =
        children_cpu(&text).ok_or_else(|| format!("cannot read bash's times output {text:?}"))?;
    remove(&times)?;
    remove(target)?;
    eprintln!("  {:.1} s wall, {cpu:.1} s CPU", wall.as_secs_f64());
    Ok(Timed { wall, cpu })
}

/// A clean build's wall time and CPU time (seconds).
struct Timed {
    wall: Duration,
    cpu: f64,
}

/// The children's user + system seconds from bash's `times` (its second
/// line, e.g. `1m23.456s 0m7.890s`).
fn children_cpu(times: &str) -> Option<f64> {
    let line = times.lines().nth(1)?;
    let seconds = |field: &str| -> Option<f64> {
        let (m, s) = field.strip_suffix('s')?.split_once('m')?;
        Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
    };
    let mut fields = line.split_whitespace();
    Some(seconds(fields.next()?)? + seconds(fields.next()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_are_cargos() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("lexgen"), "le/xg/lexgen");
        assert_eq!(index_path("Atmo-Types"), "at/mo/atmo-types");
    }

    #[test]
    fn cpu_time_is_read_from_bash_times() {
        assert_eq!(
            children_cpu("0m0.010s 0m0.002s\n1m2.500s 0m7.500s\n"),
            Some(70.0)
        );
        assert_eq!(children_cpu("0m0.010s 0m0.002s\n"), None);
        assert_eq!(children_cpu("0m0.010s 0m0.002s\n1:02 0:07\n"), None);
    }

    #[test]
    fn dns_answers_the_one_txt_record() {
        // ID 0x1234, one question: _lexicon.example.com TXT IN.
        let mut query = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["_lexicon", "Example", "com"] {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 16, 0, 1]);
        let reply = dns_answer(&query, "_lexicon.example.com", "did=plc:x").unwrap();
        assert_eq!(&reply[..2], &[0x12, 0x34]);
        assert_eq!(reply[3] & 0x0f, 0, "no error");
        assert_eq!(&reply[6..8], &[0, 1], "one answer");
        assert!(reply.ends_with(b"\x09did=plc:x"));
        let other = dns_answer(&query, "_lexicon.example.org", "did=plc:x").unwrap();
        assert_eq!(other[3] & 0x0f, 3, "NXDOMAIN");
        assert_eq!(&other[6..8], &[0, 0]);
        assert_eq!(dns_answer(&query[..20], "_lexicon.example.com", "x"), None);
    }

    #[test]
    fn caret_is_what_a_user_writes() {
        assert_eq!(caret("0.1.0"), "0.1");
        assert_eq!(caret("0.12.3"), "0.12");
        assert_eq!(caret("1.2.3"), "1");
    }

    #[test]
    fn index_line_keeps_ours_local_and_splits_extended_features() {
        let p = Packaged {
            name: "atmo-client".into(),
            version: "0.1.0".into(),
            file: PathBuf::new(),
            cksum: "ab".repeat(32),
            unpacked: PathBuf::new(),
            metadata: json!({
                "dependencies": [
                    {"name": "atmo-types", "req": "^0.1.0", "kind": null, "rename": null,
                     "optional": false, "uses_default_features": true, "features": [],
                     "target": null, "registry": null},
                    {"name": "serde", "req": "^1", "kind": "dev", "rename": "serde_crate",
                     "optional": false, "uses_default_features": false, "features": ["derive"],
                     "target": "cfg(unix)", "registry": null},
                ],
                "features": {"default": ["hyper"], "hyper": ["dep:hyper", "tokio?/fs"], "plain": []},
                "links": null,
                "rust_version": "1.89",
            }),
        };
        let ours = BTreeSet::from(["atmo-client", "atmo-types"]);
        let line: Value = serde_json::from_str(&index_line(&p, &ours).unwrap()).unwrap();
        assert_eq!(line["name"], "atmo-client");
        assert_eq!(line["vers"], "0.1.0");
        assert_eq!(line["yanked"], false);
        assert_eq!(line["rust_version"], "1.89");
        let types = &line["deps"][0];
        assert_eq!(types["name"], "atmo-types");
        assert_eq!(types["kind"], "normal");
        assert_eq!(types["registry"], Value::Null);
        assert_eq!(types["package"], Value::Null);
        let serde = &line["deps"][1];
        assert_eq!(serde["name"], "serde_crate");
        assert_eq!(serde["package"], "serde");
        assert_eq!(serde["kind"], "dev");
        assert_eq!(serde["default_features"], false);
        assert_eq!(serde["target"], "cfg(unix)");
        assert_eq!(serde["registry"], CRATES_IO_INDEX);
        assert_eq!(line["features"], json!({"default": ["hyper"], "plain": []}));
        assert_eq!(
            line["features2"],
            json!({"hyper": ["dep:hyper", "tokio?/fs"]})
        );
        assert_eq!(line["v"], 2);
    }

    #[test]
    fn the_baseline_manifest_has_no_lexgen() {
        let template =
            fs::read_to_string(workspace_root().join("tests/outside/Cargo.toml.in")).unwrap();
        let with = manifest(&template, "0.1", true);
        let without = manifest(&template, "0.1", false);
        assert!(!with.contains("@VERSION@"));
        assert!(with.contains("atmo-client = { version = \"0.1\""));
        assert!(with.contains("[build-dependencies]\natmo-lexgen = "));
        assert!(without.contains("atmo-client = { version = \"0.1\""));
        assert!(!without.contains("lexgen"), "{without}");
        assert!(!without.contains("build-dependencies"), "{without}");
    }

    #[test]
    fn rustc_warnings_are_found_in_cargos_json() {
        let lines = [
            json!({"reason": "compiler-artifact", "target": {"name": "x"}}),
            json!({"reason": "compiler-message", "message": {
                "level": "warning",
                "message": "use of deprecated function `rustls::crypto::ring::default_provider`",
                "spans": [{"file_name": "src/client_util.rs"}],
                "rendered": "warning: use of deprecated function\n"}}),
            json!({"reason": "compiler-message", "message": {
                "level": "warning", "message": "1 warning emitted", "spans": [],
                "rendered": "warning: 1 warning emitted\n"}}),
            json!({"reason": "compiler-message", "message": {
                "level": "error", "message": "cannot find type `Resolver`",
                "spans": [{"file_name": "src/verify.rs"}],
                "rendered": "error[E0425]: cannot find type `Resolver`\n"}}),
            json!({"reason": "build-finished", "success": false}),
        ];
        let stdout: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let (warnings, errors) = rustc_messages(format!("not json\n{stdout}").as_bytes());
        assert_eq!(warnings, ["warning: use of deprecated function"]);
        assert_eq!(errors, ["error[E0425]: cannot find type `Resolver`"]);
    }

    #[test]
    fn pruning_removes_only_our_hashed_builds() {
        let dir = std::env::temp_dir().join(format!("xtask-outside-prune-{}", std::process::id()));
        let deps = dir.join("debug/deps");
        let fingerprint = dir.join("debug/.fingerprint");
        mkdir(&deps).unwrap();
        mkdir(&fingerprint).unwrap();
        let files = [
            "libatmo_types-0123456789abcdef.rlib",
            "atmo_types-0123456789abcdef.d",
            "libatproto_types_extra-0123456789abcdef.rlib",
            "libserde-0123456789abcdef.rlib",
        ];
        for f in files {
            fs::write(deps.join(f), "").unwrap();
        }
        mkdir(&fingerprint.join("atmo-types-fedcba9876543210")).unwrap();
        mkdir(&fingerprint.join("serde-fedcba9876543210")).unwrap();
        mkdir(&dir.join("debug/incremental/atmo_types-03icwx82r052i")).unwrap();
        prune_ours(&dir, &BTreeSet::from(["atmo-types".to_owned()])).unwrap();
        let left = |d: &Path| {
            let mut names: Vec<String> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            left(&deps),
            [
                "libatproto_types_extra-0123456789abcdef.rlib",
                "libserde-0123456789abcdef.rlib"
            ]
        );
        assert_eq!(left(&fingerprint), ["serde-fedcba9876543210"]);
        assert!(!dir.join("debug/incremental").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
