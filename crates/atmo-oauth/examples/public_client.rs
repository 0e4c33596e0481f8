//! A public web client: its `client_id` is the https URL where it serves
//! its metadata document. This prints the document to serve, then (given a
//! handle) starts a sign-in and prints where to send the user; the app's
//! web server passes the query of `/callback` to `OAuthClient::callback`.
//!
//! ```sh
//! cargo run -p atmo-oauth --example public_client [-- alice.bsky.social]
//! ```
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_oauth::{AuthorizeOptions, ClientConfig, OAuthClient, Scope, Scopes};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = ClientConfig::public(
        "https://app.example.com/oauth/client-metadata.json",
        vec!["https://app.example.com/oauth/callback".into()],
        Scopes::atproto()
            .with(Scope::repo("app.bsky.feed.post"))
            .with(Scope::blob("image/*")),
    );
    config.client_name = Some("Example app".into());
    config.client_uri = Some("https://app.example.com".into());
    config.check()?;
    println!("Serve this at {}:", config.client_id);
    println!("{}", serde_json::to_string_pretty(&config.metadata())?);

    if let Some(handle) = std::env::args().nth(1) {
        let client = OAuthClient::builder(config).build()?;
        let options = AuthorizeOptions {
            state: Some("return-to=/home".into()),
            ..Default::default()
        };
        let url = client.authorize(&handle, options).await?;
        println!("\nRedirect the user to:\n  {url}");
    }
    Ok(())
}
