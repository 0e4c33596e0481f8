//! Calls XRPC directly: a typed generated endpoint, and a raw call by NSID
//! with JSON (for endpoints that were not generated).
//!
//! `cargo run -p atmo-client --example direct_xrpc -- [service] [handle]`
//!
//! Both calls are public: no login. Against the local test PDS, pass its URL
//! and the handle of an account on it (`resolveHandle` answers for its own
//! accounts).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;

use atmo_client::atmo_api::com::atproto::identity::resolve_handle;
use atmo_client::atmo_types::Handle;
use atmo_client::AtpAgent;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let service = args.next().unwrap_or_else(|| "https://bsky.social".into());
    let handle = args.next().unwrap_or_else(|| "bsky.app".into());
    match run(service, handle).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&*e);
            ExitCode::FAILURE
        }
    }
}

async fn run(service: String, handle: String) -> Result<(), Box<dyn std::error::Error>> {
    let agent = AtpAgent::builder(service).build()?;

    // Typed: parameters, output and errors are generated types.
    let params = resolve_handle::Parameters {
        handle: Handle::new(handle.as_str())?,
    };
    let out = agent
        .api()
        .com
        .atproto
        .identity
        .resolve_handle(params)
        .await?;
    println!("{handle} is {}", out.did);

    // Raw: any NSID, query pairs, JSON back (XrpcClient.call in TypeScript).
    let desc = agent
        .query_json("com.atproto.server.describeServer", &[])
        .await?;
    println!("server: {desc}");
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
