//! Calls XRPC directly: a typed generated endpoint, and a raw call by NSID
//! with JSON (for endpoints that were not generated).
//!
//! `cargo run -p atproto-client --example direct_xrpc -- [service] [handle]`

use atproto_client::atproto_api::com::atproto::identity::resolve_handle;
use atproto_client::atproto_types::Handle;
use atproto_client::AtpAgent;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let service = args.next().unwrap_or_else(|| "https://bsky.social".into());
    let handle = args.next().unwrap_or_else(|| "bsky.app".into());
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
