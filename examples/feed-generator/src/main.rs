//! The example feed generator: `feed-generator serve` or
//! `feed-generator publish`. Settings come from the environment (see the
//! README).

use std::sync::Arc;

use atmo_client::{AtpAgent, Login};
use atmo_server::ServiceAuthVerifier;
use atmo_types::RecordKey;
use feed_generator_example::{
    did_document, did_web, endpoint_of, generator_record, index_firehose, router, AppState, Index,
    Rule,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match std::env::args().nth(1).as_deref() {
        Some("serve") => serve().await,
        Some("publish") => publish().await,
        _ => {
            eprintln!("usage: feed-generator serve | publish (settings in the environment, see README.md)");
            std::process::exit(2);
        }
    }
}

/// Serves the feed and indexes the firehose.
async fn serve() -> Result<(), BoxError> {
    let host = env("FEEDGEN_HOSTNAME")?;
    let did = std::env::var("FEEDGEN_SERVICE_DID").unwrap_or_else(|_| did_web(&host));
    let listen = env_or("FEEDGEN_LISTEN", "127.0.0.1:3000");
    let owner = env("FEEDGEN_PUBLISHER_DID")?;
    let rkey = env_or("FEEDGEN_FEED_RKEY", "rust");
    let rule = Rule::contains(&env_or("FEEDGEN_TERM", "rust")).ok_or("FEEDGEN_TERM is empty")?;
    let firehose = env_or("FEEDGEN_FIREHOSE", "wss://bsky.network");
    let plc = env_or("FEEDGEN_PLC", "https://plc.directory");
    let dev = std::env::var("FEEDGEN_DEV").is_ok_and(|v| v == "1");

    let http = Arc::new(atmo_xrpc::HyperClient::new()?);
    let resolver = atmo_identity::Resolver::builder(http)
        .plc_url(plc)
        .allow_http_loopback(dev)
        .build()?;
    let verifier = ServiceAuthVerifier::new(&did, resolver)?.audience_fragments(["bsky_fg"]);
    let index = Arc::new(Index::new(10_000));
    let state = AppState {
        index: index.clone(),
        verifier,
        feed: format!("at://{owner}/app.bsky.feed.generator/{rkey}").parse()?,
        did_document: Arc::new(did_document(&did, &endpoint_of(&host))),
    };
    tokio::spawn(async move {
        if let Err(e) = index_firehose(&firehose, dev, rule, index).await {
            eprintln!("firehose: {e}");
        }
    });
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("{did} serving on {listen}");
    axum::serve(listener, router(state)).await?;
    Ok(())
}

/// Writes the `app.bsky.feed.generator` record to the owner's repository.
async fn publish() -> Result<(), BoxError> {
    let pds = env_or("ATPROTO_SERVICE", "https://bsky.social");
    let identifier = env("ATPROTO_IDENTIFIER")?;
    let password = env("ATPROTO_PASSWORD")?;
    let service_did = match std::env::var("FEEDGEN_SERVICE_DID") {
        Ok(d) => d,
        Err(_) => did_web(&env("FEEDGEN_HOSTNAME")?),
    };
    let rkey: RecordKey = env_or("FEEDGEN_FEED_RKEY", "rust").parse()?;
    let name = env_or("FEEDGEN_DISPLAY_NAME", "Rust posts");
    let description = std::env::var("FEEDGEN_DESCRIPTION").ok();

    let agent = AtpAgent::builder(pds)
        .allow_insecure_http(std::env::var("FEEDGEN_DEV").is_ok_and(|v| v == "1"))
        .build()?;
    agent.login(Login::new(identifier, password)).await?;
    let record = generator_record(&service_did, &name, description.as_deref())?;
    let written = agent.put_record(rkey, &record).await?;
    println!("{}", written.uri);
    Ok(())
}
