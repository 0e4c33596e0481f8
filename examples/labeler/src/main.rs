//! The example labeler: `labeler keygen`, `labeler serve` or
//! `labeler publish`. Settings come from the environment (see the README).

use atmo_client::{AtpAgent, Login};
use atmo_crypto::Curve;
use atmo_server::SigningKey;
use atmo_types::RecordKey;
use labeler_example::{label_firehose, router, service_record, LabelDefinition, Labeler};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn dev() -> bool {
    std::env::var("LABELER_DEV").is_ok_and(|v| v == "1")
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match std::env::args().nth(1).as_deref() {
        Some("keygen") => keygen(),
        Some("serve") => serve().await,
        Some("publish") => publish().await,
        _ => {
            eprintln!("usage: labeler keygen | serve | publish (settings in the environment, see README.md)");
            std::process::exit(2);
        }
    }
}

/// Prints a new K-256 key: the private key (hex, for
/// `LABELER_SIGNING_KEY`) and its `did:key` (for the DID's
/// `#atproto_label` entry).
fn keygen() -> Result<(), BoxError> {
    let key = SigningKey::generate(Curve::K256)?;
    let secret: String = key
        .expose_secret_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("LABELER_SIGNING_KEY={secret}");
    println!("# #atproto_label: {}", key.public_key().to_did_key());
    Ok(())
}

/// Serves queryLabels and subscribeLabels, labelling the firehose's posts.
async fn serve() -> Result<(), BoxError> {
    let host = env("LABELER_HOSTNAME")?;
    let did = std::env::var("LABELER_DID")
        .unwrap_or_else(|_| format!("did:web:{}", host.replace(':', "%3A")));
    let key = SigningKey::from_hex(Curve::K256, &env("LABELER_SIGNING_KEY")?)?;
    let listen = env_or("LABELER_LISTEN", "127.0.0.1:3001");
    let firehose = env_or("LABELER_FIREHOSE", "wss://bsky.network");
    let term = env_or("LABELER_TERM", "rust");
    let value = env_or("LABELER_VALUE", "rust-post");
    let endpoint = if host.split(':').next() == Some("localhost") {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    };
    let labeler = Labeler::new(did.parse()?, key, &endpoint);
    let for_firehose = labeler.clone();
    let allow_insecure = dev();
    tokio::spawn(async move {
        if let Err(e) = label_firehose(&firehose, allow_insecure, &term, &value, for_firehose).await
        {
            eprintln!("firehose: {e}");
        }
    });
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("{did} serving on {listen}");
    axum::serve(listener, router(labeler)).await?;
    Ok(())
}

/// Writes the `app.bsky.labeler.service` record (rkey `self`) to the
/// labeler account's repository.
async fn publish() -> Result<(), BoxError> {
    let pds = env_or("ATPROTO_SERVICE", "https://bsky.social");
    let identifier = env("ATPROTO_IDENTIFIER")?;
    let password = env("ATPROTO_PASSWORD")?;
    let value = env_or("LABELER_VALUE", "rust-post");
    let record = service_record(&[LabelDefinition {
        identifier: value,
        severity: "inform".into(),
        blurs: "none".into(),
        default_setting: "warn".into(),
        name: env_or("LABELER_LABEL_NAME", "About Rust"),
        description: env_or(
            "LABELER_LABEL_DESCRIPTION",
            "The post mentions Rust, the programming language.",
        ),
    }])?;
    let agent = AtpAgent::builder(pds).allow_insecure_http(dev()).build()?;
    agent.login(Login::new(identifier, password)).await?;
    let written = agent
        .put_record("self".parse::<RecordKey>()?, &record)
        .await?;
    println!("{}", written.uri);
    Ok(())
}
