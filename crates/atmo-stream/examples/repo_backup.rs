//! Backs up a repository: resolves a handle or DID, downloads its CAR from
//! the account's PDS, checks every block, walks the tree, verifies the
//! commit signature, and writes the file.
//!
//! ```sh
//! cargo run -p atmo-stream --example repo_backup -- alice.bsky.social backup.car
//! ```
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use atmo_identity::Resolver;
use atmo_sync::Repo;
use atmo_types::xrpc::Method;
use atmo_xrpc::{HyperClient, NoAuth, Transport, TransportConfig, XrpcRequest};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let who = args
        .next()
        .ok_or("usage: repo_backup <handle|did> [out.car]")?;
    let out = args.next().unwrap_or_else(|| "backup.car".into());

    let http = Arc::new(HyperClient::new()?);
    let identity = Resolver::builder(http.clone())
        .build()?
        .resolve_identity(&who)
        .await?;
    eprintln!("{} is {} on {}", who, identity.did, identity.pds);

    let transport = Transport::new(
        http,
        TransportConfig {
            max_response_size: 4 << 30,
            ..TransportConfig::default()
        },
    );
    let mut req = XrpcRequest::new("com.atproto.sync.getRepo", Method::Query);
    req.query
        .push(("did".into(), identity.did.as_str().to_owned()));
    let mut answer = transport
        .send_streaming(&identity.pds, &req, &NoAuth)
        .await?;
    let mut car = Vec::new();
    while let Some(chunk) = answer.body.next_chunk().await? {
        car.extend_from_slice(&chunk);
        eprint!("\r{} KiB", car.len() / 1024);
    }
    eprintln!();

    let repo = Repo::from_car(&car)?;
    repo.commit().verify(&identity.signing_key)?;
    std::fs::write(&out, &car)?;
    eprintln!(
        "{out}: {} records at rev {}, signature verified",
        repo.len(),
        repo.commit().rev
    );
    Ok(())
}
