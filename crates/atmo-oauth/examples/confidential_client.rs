//! A confidential client (a backend) authenticating with `private_key_jwt`:
//! it keeps a private ES256 key with a `kid`, publishes the public half in
//! its metadata (`jwks`, or a `jwks_uri` serving `ClientConfig::jwks`), and
//! signs a fresh client assertion for PAR, the code exchange, every refresh
//! and revocation. Sessions of confidential clients last longer (the
//! reference server: two years, refresh tokens three months).
//!
//! ```sh
//! cargo run -p atmo-oauth --example confidential_client [-- key.jwk]
//! ```
//! With a path, the private JWK is read from it (or written there on the
//! first run, mode 0600); keep the same key: the server binds each session
//! to the key that started it.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_oauth::{ClientConfig, Es256Key, Scopes};

fn load_or_create(path: Option<&str>) -> Result<Es256Key, Box<dyn std::error::Error>> {
    if let Some(path) = path {
        if let Ok(text) = std::fs::read_to_string(path) {
            return Ok(Es256Key::from_jwk(&serde_json::from_str(&text)?)?);
        }
    }
    let key = Es256Key::generate()?.with_kid(format!("key-{}", std::process::id()));
    if let Some(path) = path {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(path)?
            .write_all(key.private_jwk().to_string().as_bytes())?;
    }
    Ok(key)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = load_or_create(std::env::args().nth(1).as_deref())?;
    let mut config = ClientConfig::confidential(
        "https://backend.example.com/oauth/client-metadata.json",
        vec!["https://backend.example.com/oauth/callback".into()],
        Scopes::generic(),
        vec![key],
    );
    config.client_name = Some("Example backend".into());
    config.check()?;
    println!("client metadata ({}):", config.client_id);
    println!("{}", serde_json::to_string_pretty(&config.metadata())?);
    println!("\npublic JWK set (for a jwks_uri):");
    println!("{}", serde_json::to_string_pretty(&config.jwks())?);
    // `OAuthClient::builder(config)` then works as for any client; see the
    // loopback example for the flow.
    Ok(())
}
