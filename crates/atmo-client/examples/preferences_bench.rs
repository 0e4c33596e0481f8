//! Measurement (not a test): preference read-modify-write round trips per
//! second on loopback against the reference PDS, each one a helper
//! (`getPreferences`, change, `putPreferences`) under the agent's lock.
//!
//! ```sh
//! bash tests/pds/install.sh   # once
//! cargo run --release -p atmo-client --example preferences_bench [-- ROUNDS]
//! ```
//!
//! The PDS serves preferences only when it has an AppView configured; the
//! harness passes `PDS_*` variables through, so this sets an AppView URL
//! that nothing answers on (preferences never reach it: the PDS keeps them
//! itself). The account is fresh and holds about twenty preference items,
//! one of a type no lexicon declares among them.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use atmo_client::atmo_api::app::bsky::actor::defs::ContentLabelPrefVisibility;
use atmo_client::bsky::NewMutedWord;
use atmo_client::{AtpAgent, NewAccount};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 300,
    };
    // The harness (tests/pds/run.sh) prints `PDS_READY {json}` once up,
    // and exits when its stdin closes, that is when this process ends.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/pds/run.sh");
    let mut child = Command::new("bash")
        .arg(script)
        .env("PDS_BSKY_APP_VIEW_URL", "http://127.0.0.1:9")
        .env("PDS_BSKY_APP_VIEW_DID", "did:web:appview.invalid")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("PDS_READY ").map(str::to_owned))
        .ok_or("the PDS harness did not start (run tests/pds/install.sh)")?;
    let ready: serde_json::Value = serde_json::from_str(&ready)?;
    let url = ready["pds"].as_str().ok_or("no pds URL")?.to_owned();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(run(&url, rounds));
    drop(child.stdin.take());
    let _ = child.wait();
    out
}

async fn run(url: &str, rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
    let agent = AtpAgent::builder(url).build()?;
    let handle = format!("bench{}.test", std::process::id());
    agent
        .create_account(
            NewAccount::new(atmo_client::atmo_types::Handle::new(handle.as_str())?)
                .email(format!("bench{}@example.test", std::process::id()))
                .password("bench-password-123"),
        )
        .await?;

    // Some realistic content: saved feeds, labels, muted words, an
    // unknown item.
    agent.get_preferences().await?;
    let mut items = agent.get_preferences_raw().await?;
    items.push(serde_json::json!({"$type": "app.bsky.example.futurePref", "x": [1, 2, 3]}));
    agent.put_preferences_raw(&items).await?;
    for label in ["porn", "sexual", "graphic-media", "nudity"] {
        agent
            .set_content_label_pref(label, ContentLabelPrefVisibility::Warn, None)
            .await?;
    }
    let words = (0..10)
        .map(|i| NewMutedWord::new(format!("word{i}")))
        .collect();
    agent.add_muted_words(words).await?;
    let n = agent.get_preferences_raw().await?.len();

    // Warm up connections and the PDS.
    for i in 0..20 {
        agent.set_adult_content_enabled(i % 2 == 0).await?;
    }

    let start = Instant::now();
    for i in 0..rounds {
        // Alternate, so every round really writes.
        agent.set_adult_content_enabled(i % 2 == 1).await?;
    }
    let rmw = start.elapsed();

    let start = Instant::now();
    for _ in 0..rounds {
        agent.get_preferences_raw().await?;
    }
    let reads = start.elapsed();

    let stored = agent.get_preferences_raw().await?;
    let start = Instant::now();
    for _ in 0..rounds {
        agent.put_preferences_raw(&stored).await?;
    }
    let puts = start.elapsed();

    let clones: Vec<AtpAgent> = (0..4).map(|_| agent.clone()).collect();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (k, a) in clones.into_iter().enumerate() {
        let per = rounds / 4;
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                a.set_feed_view_prefs(
                    &format!("feed{k}"),
                    atmo_client::bsky::FeedViewPrefsUpdate {
                        hide_reposts: Some(i % 2 == 0),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Ok::<_, atmo_client::AnyError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let concurrent = start.elapsed();

    let per_sec = |d: std::time::Duration, n: usize| n as f64 / d.as_secs_f64();
    println!("preference items stored: {n}");
    println!(
        "read-modify-write (set_adult_content_enabled), sequential: {rounds} in {:.2?} = {:.0}/s",
        rmw,
        per_sec(rmw, rounds)
    );
    println!(
        "read-modify-write, 4 clones at once (one lock): {} in {:.2?} = {:.0}/s",
        rounds / 4 * 4,
        concurrent,
        per_sec(concurrent, rounds / 4 * 4)
    );
    println!(
        "getPreferences alone: {rounds} in {:.2?} = {:.0}/s",
        reads,
        per_sec(reads, rounds)
    );
    println!(
        "putPreferences alone: {rounds} in {:.2?} = {:.0}/s",
        puts,
        per_sec(puts, rounds)
    );
    Ok(())
}
