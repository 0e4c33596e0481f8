#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A load loop for `getFeedSkeleton` on loopback: the feed generator's
//! router on one thread (a current-thread runtime: one core), clients on
//! another, each request with a service JWT verified against the caller's
//! key (cached, as the identity resolver's cache keeps it). Prints requests
//! per second and latency percentiles. Bounded in count and in time.
//!
//! ```sh
//! cargo run --release -p feed-generator-example --example skeleton_load -- [requests] [concurrency] [seconds]
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use atproto_crypto::{Curve, PublicKey};
use atproto_server::{
    mint_service_jwt, KeyId, KeyLookupError, KeyResolver, ServiceAuthVerifier, SigningKey,
};
use atproto_types::Did;
use atproto_xrpc::{BoxFuture, HttpClient, HttpMethod, HttpRequest, HyperClient};
use feed_generator_example::{did_document, router, AppState, Index};

const FG: &str = "did:web:localhost%3A1234";
const USER: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const FEED: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.generator/rust";

/// The caller's key, already known (what a warm cache gives).
struct Cached(Did, PublicKey);

impl KeyResolver for Cached {
    fn resolve_key<'a>(
        &'a self,
        did: &'a Did,
        _: KeyId,
        _: bool,
    ) -> BoxFuture<'a, Result<PublicKey, KeyLookupError>> {
        let found = if *did == self.0 {
            Ok(self.1)
        } else {
            Err(KeyLookupError::UnknownIssuer(did.to_string()))
        };
        Box::pin(async move { found })
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().map_or(20_000, |a| a.parse().unwrap());
    let concurrency: usize = args.next().map_or(16, |a| a.parse().unwrap());
    let seconds: u64 = args.next().map_or(30, |a| a.parse().unwrap());

    let key = SigningKey::generate(Curve::K256).unwrap();
    let verifier =
        ServiceAuthVerifier::new(FG, Cached(USER.parse().unwrap(), key.public_key())).unwrap();
    let index = Arc::new(Index::new(10_000));
    for i in 0..1000 {
        index.insert(&format!("at://{USER}/app.bsky.feed.post/3l{i:011}"));
    }
    let state = AppState {
        index,
        verifier,
        feed: FEED.parse().unwrap(),
        did_document: Arc::new(did_document(FG, "http://localhost:1234")),
    };

    // The server: one thread.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            axum::serve(listener, router(state)).await.unwrap();
        });
    });

    // The clients: another thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let token = mint_service_jwt(
        &key,
        USER,
        &format!("{FG}#bsky_fg"),
        Some("app.bsky.feed.getFeedSkeleton"),
        Some(exp),
    )
    .unwrap();
    let url = format!("http://{addr}/xrpc/app.bsky.feed.getFeedSkeleton?feed={FEED}&limit=30");
    let (latencies, elapsed) = rt.block_on(async move {
        let http = Arc::new(HyperClient::new().unwrap());
        let request = HttpRequest {
            method: HttpMethod::Get,
            url,
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            body: None,
            timeout: Duration::from_secs(10),
            max_response_size: 1 << 20,
        };
        // Warm-up: connections and code paths.
        for _ in 0..200 {
            assert_eq!(http.send(request.clone()).await.unwrap().status, 200);
        }
        let start = Instant::now();
        let stop = start + Duration::from_secs(seconds);
        let per_task = total / concurrency.max(1);
        let mut tasks = Vec::new();
        for _ in 0..concurrency.max(1) {
            let http = http.clone();
            let request = request.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    if Instant::now() >= stop {
                        break;
                    }
                    let t = Instant::now();
                    let res = http.send(request.clone()).await.unwrap();
                    assert_eq!(res.status, 200);
                    out.push(t.elapsed());
                }
                out
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        (all, start.elapsed())
    });
    let mut l = latencies;
    l.sort();
    let pct = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
    println!(
        "getFeedSkeleton (30 posts, service JWT verified, key cached): {} requests, {} concurrent, {:.2} s",
        l.len(),
        concurrency,
        elapsed.as_secs_f64()
    );
    println!(
        "  {:.0} requests/s; latency p50 {:?}, p99 {:?}, max {:?}",
        l.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        l[l.len() - 1]
    );
}
