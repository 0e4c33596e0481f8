//! Project automation, run as `cargo xtask <command>`.
//!
//! - `lexicons --version X`: refresh `lexicons/` from the npm package `@atproto/api@X`.
//! - `codegen [--check]`: regenerate `crates/atmo-api` (or check it is current).
//! - `test`: install the reference PDS, run every test (unit, snapshot, end-to-end).
//! - `demo`: the whole session lifecycle against a local or a real PDS.

use std::path::PathBuf;
use std::process::ExitCode;

mod bench;
mod codegen;
mod demo;
mod demo_oauth;
mod lexicons;
mod outside;
mod test;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(command) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest: Vec<String> = args.collect();
    let result = match command.as_str() {
        "bench" => bench::run(&rest),
        "lexicons" => lexicons::run(&rest),
        "codegen" => codegen::run(&rest),
        "demo" => match rest.split_first() {
            Some((flag, oauth_args)) if flag == "--oauth" => demo_oauth::run(oauth_args),
            _ => demo::run(&rest),
        },
        "test" => test::run(&rest),
        "outside" => outside::run(&rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask {command}: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>
  lexicons --version X   refresh lexicons/ from @atproto/api@X (needs node + npm)
  codegen [--check]      regenerate crates/atmo-api, or fail if it is stale
  test                   install the reference PDS and run every test
  demo [--service URL --identifier ID]
                         the session lifecycle against a local PDS (or a real one)
  demo --oauth [--handle H]
                         OAuth (PAR, PKCE, DPoP) step by step against a local PDS (or H's server)
  bench [--quick] [--compile]
                         benchmarks against atrium-api and jacquard
  outside [--measure]    the packaged crates from a local registry in a fresh project";

/// Runs a command to completion; an error names it and how it ended.
pub fn run_status(cmd: &mut std::process::Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

/// Installs the reference PDS for the end-to-end tests and the demo (Node 22
/// and the npm packages; quick when already installed).
pub fn install_pds() -> Result<(), String> {
    run_status(
        std::process::Command::new("bash").arg(workspace_root().join("tests/pds/install.sh")),
    )
}

/// Installs the AppView harness for the end-to-end tests: `@atproto/dev-env`
/// with the PDS harness's Node 22, and Debian's PostgreSQL when missing.
pub fn install_appview() -> Result<(), String> {
    run_status(
        std::process::Command::new("bash").arg(workspace_root().join("tests/appview/install.sh")),
    )
}

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
