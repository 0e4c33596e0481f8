//! The loopback development client from the command line: prints the
//! sign-in URL, waits for the browser on a 127.0.0.1 redirect, then uses the
//! session with an `Agent` and keeps it in a directory store for next time.
//!
//! ```sh
//! cargo run -p atmo-oauth --features loopback --example loopback -- alice.bsky.social
//! cargo run -p atmo-oauth --features loopback --example loopback -- did:plc:... --restore
//! ```
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use atmo_client::Agent;
use atmo_oauth::loopback::RedirectListener;
use atmo_oauth::{AuthorizeOptions, ClientConfig, DirStore, OAuthClient, Scopes};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(input) = args.first() else {
        eprintln!("usage: loopback <handle | did | https://pds> [--restore]");
        std::process::exit(2);
    };
    let store = Arc::new(DirStore::new(".atmo-oauth-example"));
    let listener = RedirectListener::bind("/callback").await?;
    let config = ClientConfig::loopback(vec![listener.redirect_uri()], Scopes::generic());
    let client = OAuthClient::builder(config)
        .state_store(store.clone())
        .session_store(store)
        .on_session_event(|event, did, _| {
            let did = did.map_or("-", |d| d.as_str());
            eprintln!("session {did}: {}", event.as_str())
        })
        .build()?;

    let session = if args.iter().any(|a| a == "--restore") {
        client.restore(&input.parse()?).await?
    } else {
        let url = client.authorize(input, AuthorizeOptions::default()).await?;
        println!("Open this URL in your browser:\n\n  {url}\n");
        let query = listener.wait().await?;
        client.callback(&query).await?.0
    };
    let agent = Agent::new(session.clone());
    let me = agent
        .query_json("com.atproto.server.getSession", &[])
        .await?;
    println!(
        "signed in as {} ({}) on {}",
        me["handle"],
        me["did"],
        session.pds()
    );
    Ok(())
}
