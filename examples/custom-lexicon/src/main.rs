//! `todo-service --did DID [--port N] [--plc URL] [--dev]`: serves the
//! custom lexicon's `com.example.todo.addItem` (service auth, `aud` = DID)
//! and `com.example.todo.listItems` on 127.0.0.1. See README.md.

use std::sync::Arc;

use atmo_server::ServiceAuthVerifier;
use custom_lexicon_example::service::{router, AppState, Store};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: todo-service --did DID [--port N] [--plc URL] [--dev]
  --did   the service's DID: the aud its service-auth tokens must carry
  --port  the port to listen on, on 127.0.0.1 (default 3000; 0 for any)
  --plc   the PLC directory that resolves callers' did:plc (default https://plc.directory)
  --dev   allow http:// for did:web and the PLC on loopback (a local test network)";

/// The command line.
struct Args {
    did: String,
    port: u16,
    plc: String,
    dev: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut did = None;
    let mut port = 3000;
    let mut plc = "https://plc.directory".to_owned();
    let mut dev = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--did" => did = Some(args.next().ok_or("--did needs a value")?),
            "--port" => {
                let v = args.next().ok_or("--port needs a value")?;
                port = v
                    .parse()
                    .map_err(|_| format!("--port {v:?} is not a port number"))?;
            }
            "--plc" => plc = args.next().ok_or("--plc needs a value")?,
            "--dev" => dev = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        did: did.ok_or("--did is required")?,
        port,
        plc,
        dev,
    })
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("todo-service: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let http = Arc::new(atmo_xrpc::HyperClient::new()?);
    let resolver = atmo_identity::Resolver::builder(http)
        .plc_url(args.plc)
        .allow_http_loopback(args.dev)
        .build()?;
    let verifier = ServiceAuthVerifier::new(&args.did, resolver)?;
    let state = AppState {
        store: Arc::new(Store::new()),
        verifier,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    eprintln!("{} serving on http://{}", args.did, listener.local_addr()?);
    axum::serve(listener, router(state)).await?;
    Ok(())
}
