//! Service-auth verification per request with the issuer's document
//! cached: a measurement, not a test. Prints the mean time per `verify` for
//! ES256K and ES256 tokens, through atmo-identity's resolver with its
//! memory cache (the document was fetched once, from an in-memory PLC).
//!
//! `cargo run --release -p atmo-server --example verify_bench`
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use atmo_crypto::Curve;
use atmo_identity::Resolver;
use atmo_server::{mint_service_jwt, ServiceAuthVerifier, SigningKey};
use atmo_xrpc::{BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse};

const SERVICE: &str = "did:web:feed.example.com";
const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const LXM: &str = "app.bsky.feed.getFeedSkeleton";

/// A PLC directory that knows one document.
struct Plc(Vec<u8>);

impl HttpClient for Plc {
    fn send(&self, _: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        let body = self.0.clone();
        Box::pin(async move {
            Ok(HttpResponse {
                status: 200,
                headers: vec![],
                body,
            })
        })
    }
}

fn document(key: &SigningKey) -> Vec<u8> {
    serde_json::json!({
        "id": ALICE,
        "verificationMethod": [{
            "id": format!("{ALICE}#atproto"), "type": "Multikey", "controller": ALICE,
            "publicKeyMultibase": key.public_key().to_multikey()
        }],
    })
    .to_string()
    .into_bytes()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    for curve in [Curve::K256, Curve::P256] {
        let key = SigningKey::generate(curve)?;
        let resolver = Resolver::builder(Arc::new(Plc(document(&key)))).build()?;
        let verifier = ServiceAuthVerifier::new(SERVICE, resolver)?;
        let exp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 3600;
        let token = mint_service_jwt(&key, ALICE, SERVICE, Some(LXM), Some(exp))?;
        // Warm the cache.
        verifier.verify(&token, Some(LXM)).await?;
        let rounds = 2000u32;
        let start = Instant::now();
        for _ in 0..rounds {
            verifier.verify(&token, Some(LXM)).await?;
        }
        let per: Duration = start.elapsed() / rounds;
        println!(
            "{}: {:.1} µs per verification (cached key, {rounds} rounds)",
            key.jwt_alg(),
            per.as_secs_f64() * 1e6
        );
    }
    Ok(())
}
