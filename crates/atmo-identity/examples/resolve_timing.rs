//! Cold and cached identity resolution times.
//!
//! ```sh
//! # Against a PDS and PLC directory already running (the test harness's):
//! cargo run --release -p atmo-identity --example resolve_timing -- \
//!     --pds http://localhost:2583 --plc http://localhost:2582 alice.test
//! # Without arguments: against a stand-in PDS/PLC server on 127.0.0.1.
//! cargo run --release -p atmo-identity --example resolve_timing
//! ```
//!
//! "Cold" resolves handle → DID → document → handle check with the cache
//! bypassed (`Resolver::fresh`), over kept-alive connections; "cached" is
//! the same call answered from the in-memory cache.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atmo_identity::Resolver;
use atmo_xrpc::ReqwestClient;
use http_body_util::Full;
use hyper::body::Bytes;

const ROUNDS: usize = 200;

/// Serves `resolveHandle` for `alice.test` and alice's PLC document.
async fn stand_in() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    let doc = serde_json::json!({
        "id": did,
        "alsoKnownAs": ["at://alice.test"],
        "verificationMethod": [{"id": format!("{did}#atproto"), "type": "Multikey", "controller": did,
            "publicKeyMultibase": "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc"}],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": base}]
    })
    .to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let doc = doc.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let body = if req.uri().path().starts_with("/xrpc/") {
                            format!("{{\"did\":\"{did}\"}}")
                        } else {
                            doc.clone()
                        };
                        async move {
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                        }
                    },
                );
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    base
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    format!(
        "median {:>9.1?}  p90 {:>9.1?}  min {:>9.1?}",
        at(0.5),
        at(0.9),
        times[0]
    )
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut pds, mut plc, mut ids) = (None, None, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pds" => pds = args.next(),
            "--plc" => plc = args.next(),
            _ => ids.push(a),
        }
    }
    let (pds, plc) = match (pds, plc) {
        (Some(p), Some(l)) => (p, l),
        _ => {
            let base = stand_in().await;
            ids = vec!["alice.test".into()];
            println!("against a stand-in server at {base}");
            (base.clone(), base)
        }
    };
    let resolver = Resolver::builder(Arc::new(ReqwestClient::new().unwrap()))
        .plc_url(&plc)
        .well_known(false)
        .resolve_handle_via(&pds)
        .allow_private_hosts(true)
        .build()
        .unwrap();
    for id in &ids {
        // One call first to open the connections.
        let first = Instant::now();
        let identity = resolver.fresh().resolve_identity(id).await.unwrap();
        println!(
            "{id}: {} on {} (first call {:.1?})",
            identity.did,
            identity.pds,
            first.elapsed()
        );
        let mut cold = Vec::with_capacity(ROUNDS);
        let mut cached = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            resolver.fresh().resolve_identity(id).await.unwrap();
            cold.push(t.elapsed());
            let t = Instant::now();
            resolver.resolve_identity(id).await.unwrap();
            cached.push(t.elapsed());
        }
        println!(
            "  cold   (handle + document + check, {ROUNDS} rounds): {}",
            summary(cold)
        );
        println!(
            "  cached ({ROUNDS} rounds):                            {}",
            summary(cached)
        );
    }
}
