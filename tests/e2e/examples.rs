//! Every program in `crates/atmo-client/examples/` runs against the
//! local PDS and exits 0, as a newcomer would run it.

use std::process::{Command, Output};

use atproto_tests::Pds;

use crate::{agent, new_account, PASSWORD};

/// `cargo run -q -p atmo-client --example <name> -- <args>` with the
/// test password in `ATPROTO_PASSWORD`.
fn run_example(name: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO"))
        .args(["run", "-q", "-p", "atmo-client", "--example", name, "--"])
        .args(args)
        .env("ATPROTO_PASSWORD", PASSWORD)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo for example {name}: {e}"));
    assert!(
        out.status.success(),
        "example {name} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_example_runs_against_the_local_pds() {
    let Some(pds) = Pds::shared() else { return };
    let (creator, _) = agent(&pds.url);
    let (handle, _) = new_account(&creator, "examples").await;
    let dir = std::env::temp_dir().join(format!("atproto-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let session_file = dir.join("session.json");
    let session_file = session_file.to_str().unwrap();

    // Logs in, explains the missing AppView, keeps the session; a second run
    // resumes it; --logout ends it.
    let first = run_example("session_lifecycle", &[&pds.url, &handle, session_file]);
    assert!(std::path::Path::new(session_file).exists());
    let second = run_example("session_lifecycle", &[&pds.url, &handle, session_file]);
    assert_ne!(stdout(&first), "", "the program says what it did");
    assert_ne!(stdout(&second), "");
    run_example(
        "session_lifecycle",
        &[&pds.url, &handle, session_file, "--logout"],
    );
    assert!(!std::path::Path::new(session_file).exists());

    run_example("login_2fa", &[&pds.url, &handle]);
    run_example("direct_xrpc", &[&pds.url, &handle]);
    let posted = run_example("rich_post", &[&pds.url, &handle, "--delete"]);
    assert!(stdout(&posted).contains("at://"), "{}", stdout(&posted));
    run_example("helper_cost", &[&pds.url, &handle, "2"]);
    let _ = std::fs::remove_dir_all(&dir);
}
