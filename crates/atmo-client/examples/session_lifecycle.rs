//! Keeps a session in a file across runs: resumes it when there is one,
//! logs in when there is none, reads the timeline, and logs out with
//! `--logout`.
//!
//! `cargo run -p atmo-client --example session_lifecycle -- <service> <identifier> [session.json] [--logout]`
//!
//! The password is read from `ATPROTO_PASSWORD`, or from stdin when that is
//! unset: never from the command line, where other users and the shell
//! history would see it.
//!
//! The timeline (`app.bsky.feed.getTimeline`) comes from an AppView, which
//! the PDS forwards the call to. A PDS without one (the local test PDS of
//! `tests/pds/`, a fresh self-hosted PDS) answers `No service configured for
//! app.bsky.feed.getTimeline`: the program says so and carries on, since the
//! session part works the same.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;

use atmo_client::atmo_api::app::bsky::feed::get_timeline;
use atmo_client::{AnyError, AtpAgent, Error, FileStore, Login, SessionError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let logout = args.iter().any(|a| a == "--logout");
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--logout")
        .collect();
    let [service, identifier, rest @ ..] = args.as_slice() else {
        eprintln!("usage: session_lifecycle <service> <identifier> [session.json] [--logout]");
        return ExitCode::from(2);
    };
    let path = rest.first().copied().unwrap_or("session.json");
    match run(service, identifier, path, logout).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

async fn run(service: &str, identifier: &str, path: &str, logout: bool) -> Result<(), AnyError> {
    let agent = AtpAgent::builder(service)
        // The store is saved on Create/Update and cleared on Expired.
        .session_store(FileStore::new(path))
        .on_session_event(|event, _did, session| {
            let who = session.map(|s| s.handle.as_str()).unwrap_or("-");
            eprintln!("session event: {} ({who})", event.as_str());
        })
        .build()?;
    match agent.resume_from_store().await {
        Ok(Some(s)) => println!("resumed the session of {} from {path}", s.handle),
        Ok(None) => {
            let s = agent
                .login(Login::new(identifier, read_password()?))
                .await?;
            println!("logged in as {} ({})", s.handle, s.did);
        }
        // The saved session was rejected: the store is cleared; log in again.
        Err(Error::Session(SessionError::Expired { .. })) => {
            let s = agent
                .login(Login::new(identifier, read_password()?))
                .await?;
            println!(
                "the saved session had expired; logged in again as {}",
                s.handle
            );
        }
        Err(e) => return Err(e.into()),
    }
    println!("service: {}", agent.service_url());
    match agent.pds_url() {
        Some(pds) => println!("PDS (from the DID document): {pds}"),
        None => println!("PDS: the service itself"),
    }

    let params = get_timeline::Parameters {
        limit: 5,
        ..Default::default()
    };
    match agent.api().app.bsky.feed.get_timeline(params).await {
        Ok(timeline) => {
            println!("timeline: {} posts", timeline.feed.len());
            for item in &timeline.feed {
                println!("  {} by @{}", item.post.uri, item.post.author.handle);
            }
        }
        Err(e) => {
            println!("no timeline here: {e}");
            println!(
                "  (timelines come from an AppView; a PDS without one, like the local \
                 test PDS, cannot answer app.bsky reads. Writes and sessions work.)"
            );
        }
    }

    if logout {
        agent.logout().await?;
        println!("logged out: the refresh token is revoked and {path} removed");
    } else {
        println!("session kept in {path}: run again to resume it, or pass --logout");
    }
    Ok(())
}

/// Prints an error and what caused it, one line per cause (a cause whose
/// text the line above already shows is not repeated).
fn report(e: &dyn std::error::Error) {
    let mut shown = e.to_string();
    eprintln!("error: {shown}");
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !shown.contains(&text) {
            eprintln!("  caused by: {text}");
        }
        shown = text;
        source = cause.source();
    }
}

/// `ATPROTO_PASSWORD`, or one line from stdin.
fn read_password() -> Result<String, AnyError> {
    if let Ok(p) = std::env::var("ATPROTO_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| AnyError::Invalid(format!("cannot read the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
