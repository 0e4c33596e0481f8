//! What the app.bsky helpers cost over the raw calls they wrap: round trips
//! (counted) and time (measured here, never in tests), against a live
//! server.
//!
//! `cargo run --release -p atmo-client --example helper_cost -- <service> <identifier> [rounds]`
//!
//! Compares, per call, the median over `rounds` (default 20):
//! - `create_record(&Post)` with a prepared record vs `post_with(text)`
//!   (facet detection; a mention adds one `resolveHandle`);
//! - `create_record(&Like)` vs `like(&post)`;
//! - `prepare_post` alone (no network: detection and record assembly).
//!
//! Everything it writes is deleted again. The password is read from
//! `ATPROTO_PASSWORD`, or from stdin when that is unset.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use atmo_client::atmo_api::app::bsky::feed::like::Like;
use atmo_client::atmo_api::app::bsky::feed::post::Post;
use atmo_client::atmo_api::com::atproto::repo::strong_ref::StrongRef;
use atmo_client::atmo_types::Datetime;
use atmo_client::bsky::PostBuilder;
use atmo_client::{AnyError, AtpAgent, Login, RecordRef};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [service, identifier, rest @ ..] = args.as_slice() else {
        eprintln!("usage: helper_cost <service> <identifier> [rounds]");
        return ExitCode::from(2);
    };
    let rounds = match rest.first().map(|r| r.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("rounds must be a positive number");
            return ExitCode::from(2);
        }
    };
    match run(service, identifier, rounds).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn created_now() -> Result<Datetime, AnyError> {
    Datetime::new(atmo_client::atmo_types::time::now_rfc3339())
        .map_err(|e| AnyError::Invalid(format!("clock: {e}")))
}

async fn run(service: &str, identifier: &str, rounds: usize) -> Result<(), AnyError> {
    let agent = AtpAgent::builder(service).build()?;
    let session = agent
        .login(Login::new(identifier, read_password()?))
        .await?;
    let plain = "Measuring helpers: see atproto.com #rust";
    let mentioning = format!(
        "Measuring helpers, @{}: see atproto.com #rust",
        session.handle
    );
    let mut written: Vec<RecordRef> = Vec::new();
    let (mut raw_post, mut helper_post, mut helper_mention) = (Vec::new(), Vec::new(), Vec::new());
    let (mut raw_like, mut helper_like) = (Vec::new(), Vec::new());

    // Warm the connection and the session first.
    let target = agent.post_with(PostBuilder::new("like target")).await?;
    written.push(target.clone());

    for _ in 0..rounds {
        let t = Instant::now();
        let post = Post::new(plain.to_owned(), created_now()?);
        written.push(agent.create_record(&post, None).await?);
        raw_post.push(t.elapsed());

        let t = Instant::now();
        written.push(agent.post_with(plain).await?);
        helper_post.push(t.elapsed());

        let t = Instant::now();
        written.push(agent.post_with(mentioning.as_str()).await?);
        helper_mention.push(t.elapsed());

        let t = Instant::now();
        let like = Like::new(
            StrongRef::new(target.uri.clone(), target.cid.clone()),
            created_now()?,
        );
        let raw = agent.create_record(&like, None).await?;
        raw_like.push(t.elapsed());
        agent.unlike(&raw.uri).await?;

        let t = Instant::now();
        let like = agent.like(&target).await?;
        helper_like.push(t.elapsed());
        agent.unlike(&like.uri).await?;
    }

    let n = 10_000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(agent.prepare_post(plain).await?);
    }
    let prepare = t.elapsed() / n;

    for r in written.iter().rev() {
        agent.delete_post(&r.uri).await?;
    }

    println!("median per call over {rounds} rounds against {service}:");
    println!(
        "  createRecord(Post)            {:>9.2?}  (1 request)",
        median(raw_post)
    );
    println!(
        "  post_with(text)               {:>9.2?}  (1 request: facets detected locally)",
        median(helper_post)
    );
    println!(
        "  post_with(text with mention)  {:>9.2?}  (2 requests: + resolveHandle)",
        median(helper_mention)
    );
    println!(
        "  createRecord(Like)            {:>9.2?}  (1 request)",
        median(raw_like)
    );
    println!(
        "  like(&post)                   {:>9.2?}  (1 request)",
        median(helper_like)
    );
    println!(
        "  prepare_post(text), no network {:>8.2?}  (mean of {n})",
        prepare
    );
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
