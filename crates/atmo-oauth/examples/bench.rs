//! Measurements (a program, not a test): the cost of one DPoP proof, and
//! an OAuth call next to a password-session call against the local
//! reference PDS on loopback (the same `getSession` query, interleaved in
//! rounds, medians compared).
//!
//! ```sh
//! cargo run --release -p atmo-oauth --example bench [-- calls-per-round | proof]
//! ```
//! The PDS part needs the harness (`tests/pds/install.sh`); without it only
//! the proof cost is measured.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use atmo_client::{Agent, AtpAgent, Login};
use atmo_oauth::{headless, AuthorizeOptions, ClientConfig, Es256Key, OAuthClient, Scopes};
use atmo_xrpc::{BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse, HyperClient};
use atproto_tests::{unique_handle, Pds, PdsOptions};

/// Counts the answers that were not 2xx (a nonce challenge means a second
/// round trip), to tell client retries from server time.
struct Counting(HyperClient, std::sync::atomic::AtomicUsize);

impl HttpClient for Counting {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            let r = self.0.send(request).await?;
            if r.status >= 300 {
                self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(r)
        })
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn proof_cost() -> Result<(), Box<dyn std::error::Error>> {
    let key = Es256Key::generate()?;
    let url = "https://pds.example.com/xrpc/app.bsky.feed.getTimeline?limit=50";
    let token = "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NiJ9.".repeat(8);
    for _ in 0..200 {
        key.dpop_proof("GET", url, Some("nonce-123"), Some(&token))?;
    }
    let mut samples = Vec::new();
    for _ in 0..10 {
        let n = 1000;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(key.dpop_proof("GET", url, Some("nonce-123"), Some(&token))?);
        }
        samples.push(t.elapsed() / n);
    }
    println!(
        "DPoP proof (ES256 sign + JSON + base64url): median {:.1} µs",
        median(samples).as_secs_f64() * 1e6
    );
    Ok(())
}

/// What `OAuthSession` adds to each attempt: the token and a fresh proof.
struct Dpop(Es256Key, String);

impl atmo_xrpc::Authorizer for Dpop {
    fn authorize(
        &self,
        method: atmo_xrpc::HttpMethod,
        url: &str,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(), atmo_xrpc::Error> {
        let proof = self
            .0
            .dpop_proof(method.as_str(), url, Some("nonce-123"), Some(&self.1))
            .map_err(|e| atmo_xrpc::Error::InvalidRequest(e.to_string()))?;
        headers.push(("authorization".into(), format!("DPoP {}", self.1)));
        headers.push(("dpop".into(), proof));
        Ok(())
    }
}

/// The client side alone: the same query through the transport against a
/// trivial loopback server, with a bearer token and with DPoP.
async fn client_side(calls: usize) -> Result<(), Box<dyn std::error::Error>> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .header("dpop-nonce", "nonce-123")
                            .body(Full::new(Bytes::from_static(b"{\"did\":\"did:plc:x\"}")))
                            .unwrap_or_default(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let transport = atmo_xrpc::Transport::new(Arc::new(HyperClient::new()?), Default::default());
    let service = atmo_xrpc::ServiceUrl::parse(&base)?;
    let request =
        atmo_xrpc::XrpcRequest::new("com.atproto.server.getSession", atmo_client::Method::Query);
    let token = atmo_xrpc::Secret::new("eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NiJ9.".repeat(8));
    let bearer = atmo_xrpc::Bearer(&token);
    let dpop = Dpop(Es256Key::generate()?, token.expose().to_owned());
    for _ in 0..50 {
        transport.send(&service, &request, &bearer).await?;
        transport.send(&service, &request, &dpop).await?;
    }
    let (mut b, mut d) = (Vec::new(), Vec::new());
    for _ in 0..5 * calls {
        let t = Instant::now();
        transport.send(&service, &request, &bearer).await?;
        b.push(t.elapsed());
        let t = Instant::now();
        transport.send(&service, &request, &dpop).await?;
        d.push(t.elapsed());
    }
    let (b, d) = (median(b), median(d));
    println!(
        "client side only (trivial loopback server), median of {} calls: bearer {:.0} µs, DPoP {:.0} µs, ratio {:.2}",
        5 * calls,
        b.as_secs_f64() * 1e6,
        d.as_secs_f64() * 1e6,
        d.as_secs_f64() / b.as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    proof_cost()?;
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("proof") {
        return Ok(());
    }
    let calls: usize = arg.and_then(|a| a.parse().ok()).unwrap_or(100);
    client_side(calls).await?;
    let pds = match Pds::start(&PdsOptions::default()) {
        Ok(p) => p,
        Err(e) => {
            println!("PDS comparison skipped: {e}");
            return Ok(());
        }
    };
    let password_agent = AtpAgent::builder(&pds.url).build()?;
    let handle = unique_handle("bench");
    password_agent
        .create_account(atproto_tests::new_account_input(
            &handle,
            "bench-password-1",
        ))
        .await?;
    password_agent
        .login(Login::new(&handle, "bench-password-1"))
        .await?;

    let counting = Arc::new(Counting(HyperClient::new()?, Default::default()));
    let http: Arc<dyn HttpClient> = counting.clone();
    let resolver = pds.resolver_with(http.clone()).build()?;
    let client = OAuthClient::builder(ClientConfig::loopback(
        vec!["http://127.0.0.1/callback".into()],
        Scopes::generic(),
    ))
    .http_client(http.clone())
    .identity_resolver(Arc::new(resolver))
    .build()?;
    let url = client
        .authorize(&handle, AuthorizeOptions::default())
        .await?;
    let query = headless::sign_in(&http, &url, &handle, "bench-password-1").await?;
    let (session, _) = client.callback(&query).await?;
    let oauth_agent = Agent::new(session);

    // Warm both connections and the DPoP nonce.
    for _ in 0..20 {
        password_agent
            .query_json("com.atproto.server.getSession", &[])
            .await?;
        oauth_agent
            .query_json("com.atproto.server.getSession", &[])
            .await?;
    }
    let (mut pw, mut oa) = (Vec::new(), Vec::new());
    let failures_before = counting.1.load(std::sync::atomic::Ordering::Relaxed);
    for _round in 0..5 {
        for _ in 0..calls {
            let t = Instant::now();
            password_agent
                .query_json("com.atproto.server.getSession", &[])
                .await?;
            pw.push(t.elapsed());
            let t = Instant::now();
            oauth_agent
                .query_json("com.atproto.server.getSession", &[])
                .await?;
            oa.push(t.elapsed());
        }
    }
    let (pw, oa) = (median(pw), median(oa));
    let retries = counting.1.load(std::sync::atomic::Ordering::Relaxed) - failures_before;
    println!(
        "getSession on loopback, median of {} calls each: password {:.0} µs, OAuth/DPoP {:.0} µs, ratio {:.2}",
        5 * calls,
        pw.as_secs_f64() * 1e6,
        oa.as_secs_f64() * 1e6,
        oa.as_secs_f64() / pw.as_secs_f64()
    );
    println!("non-2xx answers (nonce challenges) during the OAuth calls: {retries}");
    Ok(())
}
