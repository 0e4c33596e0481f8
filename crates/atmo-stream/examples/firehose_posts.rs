//! Prints new posts from a firehose as they arrive, resuming after a
//! restart from a cursor saved in a file.
//!
//! ```sh
//! cargo run -p atmo-stream --example firehose_posts -- [wss://bsky.network] [cursor-file]
//! ```
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use atmo_api::app::bsky::feed::post::Post;
use atmo_stream::{Action, Firehose, RepoEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let service = args.next().unwrap_or_else(|| "wss://bsky.network".into());
    let cursor_file = args.next().unwrap_or_else(|| "firehose.cursor".into());
    let cursor = std::fs::read_to_string(&cursor_file)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());

    // Save the cursor at most once a second: a restart replays what came
    // after it (and the client drops anything it already handed out).
    let path = cursor_file.clone();
    let mut last_save = Instant::now();
    let sub = Firehose::builder(service)
        .cursor(cursor)
        .on_cursor(move |seq| {
            if last_save.elapsed() >= Duration::from_secs(1) {
                last_save = Instant::now();
                let _ = std::fs::write(&path, seq.to_string());
            }
        })
        .on_connection(|e| eprintln!("connection: {e:?}"))
        .build()?;
    let mut firehose = Firehose::new(sub);

    while let Some(item) = firehose.next().await {
        let event = match item {
            Ok(e) => e,
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                eprintln!("skipped: {e}");
                continue;
            }
        };
        let RepoEvent::Commit(commit) = event else {
            continue;
        };
        for op in &commit.ops {
            if op.action != Action::Create || op.collection != "app.bsky.feed.post" {
                continue;
            }
            match op.decode::<Post>() {
                Some(Ok(post)) => {
                    println!("{} {}: {}", commit.commit.seq, commit.repo(), post.text)
                }
                Some(Err(e)) => eprintln!("{} {}/{}: {e}", commit.repo(), op.collection, op.rkey),
                None => {}
            }
        }
    }
    Ok(())
}
