//! `cargo xtask test`: the one command that runs every test.
//!
//! 1. installs the reference PDS (Node 22 and the npm packages), the AppView
//!    harness (`@atproto/dev-env`, and Debian's `postgresql` when missing) and
//!    Debian's `redis-server` when missing;
//! 2. checks the generated crate is current (`cargo xtask codegen --check`);
//! 3. runs all unit, snapshot and integration tests of the workspace,
//!    atmo-client's own tests again without its HTTP stack, and the
//!    feature combinations a workspace run does not build (identity with
//!    real DNS, the key parser without verification, OAuth's Redis store,
//!    the async CAR reader);
//! 4. runs the end-to-end suite, which starts and stops the PDS (and, for the
//!    `appview_*` tests, PLC, PDS, AppView, bsync and Ozone on a throwaway
//!    PostgreSQL cluster) itself, with
//!    `ATPROTO_E2E=required` so that a PDS that cannot start fails the run
//!    instead of skipping, and fails unless the suite actually ran tests;
//! 5. packages every publishable crate, serves the packages as a local
//!    registry, checks each on its own with a fresh lock file (warnings are
//!    errors), and builds and runs a fresh project outside the workspace
//!    that depends on them by version (`cargo xtask outside`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::{run_status as status, workspace_root};

pub fn run(args: &[String]) -> Result<(), String> {
    let skip_install = args.iter().any(|a| a == "--no-install");
    let root = workspace_root();

    if !skip_install {
        step("installing the reference PDS (tests/pds/install.sh)");
        crate::install_pds()?;
        step("installing the AppView harness: @atproto/dev-env and PostgreSQL (tests/appview/install.sh)");
        crate::install_appview()?;
        step("redis-server for the OAuth stores' Redis tests");
        install_redis()?;
    }

    step("checking generated code is current");
    crate::codegen::run(&["--check".to_owned()])?;

    step("unit, snapshot and integration tests");
    // Some crates test against the reference PDS from their own tests (the
    // stream client, the command-line tool): the PDS is installed by now,
    // so those must run, not skip.
    status(
        Command::new(cargo())
            .current_dir(&root)
            .args(["test", "--workspace", "--exclude", "atproto-tests"])
            .env("ATPROTO_E2E", "required"),
    )?;

    step("atmo-client without its HTTP stack (--no-default-features)");
    status(Command::new(cargo()).current_dir(&root).args([
        "test",
        "-p",
        "atmo-client",
        "--no-default-features",
        "--lib",
        "--tests",
    ]))?;

    step("feature combinations the workspace run does not build");
    // Real DNS (hickory) for handle TXT records, against a loopback DNS
    // server; the key parser without signature verification.
    status(Command::new(cargo()).current_dir(&root).args([
        "test",
        "-p",
        "atmo-identity",
        "--features",
        "dns",
    ]))?;
    status(Command::new(cargo()).current_dir(&root).args([
        "test",
        "-p",
        "atmo-crypto",
        "--no-default-features",
    ]))?;
    // OAuth's Redis store (a real redis-server on loopback) and the
    // loopback redirect listener.
    status(
        Command::new(cargo())
            .current_dir(&root)
            .args(["test", "-p", "atmo-oauth", "--features", "redis,loopback"])
            .env("ATPROTO_E2E", "required"),
    )?;
    // The async CAR reader.
    status(Command::new(cargo()).current_dir(&root).args([
        "test",
        "-p",
        "atmo-sync",
        "--all-features",
    ]))?;
    // Both built-in HTTP clients at once (the hostile-answer suite and the
    // process-wide TLS check run against each), whatever the workspace run
    // happens to unify.
    status(Command::new(cargo()).current_dir(&root).args([
        "test",
        "-p",
        "atmo-xrpc",
        "--all-features",
    ]))?;
    // The Jetstream client (zstd behind its own feature).
    status(Command::new(cargo()).current_dir(&root).args([
        "test",
        "-p",
        "atmo-stream",
        "--features",
        "jetstream",
        "--test",
        "jetstream",
        "--lib",
    ]))?;
    // The server crate's axum integration.
    status(
        Command::new(cargo())
            .current_dir(&root)
            .args(["test", "-p", "atmo-server", "--all-features"])
            .env("ATPROTO_E2E", "required"),
    )?;

    step("end-to-end tests against the reference PDS");
    let passed = run_counting(
        Command::new(cargo())
            .current_dir(&root)
            .args(["test", "-p", "atproto-tests"])
            .env("ATPROTO_E2E", "required"),
    )?;
    if passed == 0 {
        return Err("the end-to-end suite ran no test".into());
    }

    step("our packaged crates from a local registry, in a fresh project outside the workspace");
    crate::outside::run(&[])?;

    step(&format!("all tests passed ({passed} end-to-end)"));
    Ok(())
}

/// Makes sure `redis-server` is on PATH: the OAuth session stores' Redis
/// tests start one on loopback. Installs Debian's package when missing and
/// running as root (as CI does); otherwise says what to install.
fn install_redis() -> Result<(), String> {
    let present = || {
        Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if present() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root {
        return Err(
            "redis-server is missing: install it (e.g. `apt-get install redis-server`)".into(),
        );
    }
    status(Command::new("apt-get").args(["update", "-qq"]))?;
    status(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "redis-server"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if present() {
        Ok(())
    } else {
        Err("apt-get installed redis-server but it does not run".into())
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn step(what: &str) {
    eprintln!("\n==> xtask test: {what}");
}

/// Runs a `cargo test`, passing its output through, and sums the `passed`
/// counts of its `test result:` lines.
fn run_counting(cmd: &mut Command) -> Result<u64, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let mut passed = 0;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                passed += rest
                    .split(';')
                    .find_map(|part| part.trim().strip_suffix(" passed"))
                    .and_then(|n| n.rsplit(' ').next())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    let st = child.wait().map_err(|e| e.to_string())?;
    if st.success() {
        Ok(passed)
    } else {
        Err(format!("{cmd:?} failed: {st}"))
    }
}
