//! `session_overhead [CALLS] [reqwest|default]`: the cost of the session layer.
//!
//! A loopback HTTP/1.1 server (hyper, on its own thread and runtime) answers
//! `app.bsky.actor.getPreferences` with a small fixed body. The same
//! authenticated call is made CALLS times each way, interleaved in blocks of
//! 100 so that a noisy spell of the machine hits both alike:
//!
//! - plain: one `reqwest::Client` (built like atmo-client's own), a GET
//!   with `Authorization: Bearer` and `Accept`, status check, body read, and
//!   decode into the generated `get_preferences::Output`;
//! - session: `AtpAgent::call::<GetPreferences>` on an agent resumed into a
//!   session, sending through `ReqwestClient` (token bookkeeping, request
//!   building, error classification, the same decode); with `default`, the
//!   agent sends through the client's default HTTP client (`HyperClient`)
//!   instead: what an app gets without choosing one.
//!
//! Prints one JSON object: per-call median/min/mean in ns for each, and
//! `ratio` = session median / plain median.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use atmo_api::app::bsky::actor::get_preferences::{self, GetPreferences};
use atmo_client::{AtpAgent, SessionData};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};

const PREFERENCES: &str = r#"{"preferences":[{"$type":"app.bsky.actor.defs#adultContentPref","enabled":false},{"$type":"app.bsky.actor.defs#contentLabelPref","label":"nsfw","visibility":"warn"},{"$type":"app.bsky.actor.defs#savedFeedsPrefV2","items":[{"id":"3l6ovcmm2vd2j","type":"timeline","value":"following","pinned":true},{"id":"3l6ovcmm2vd2k","type":"feed","value":"at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/whats-hot","pinned":true}]},{"$type":"app.bsky.actor.defs#threadViewPref","sort":"hotness"}]}"#;

/// A JWT whose `exp` is a day away, so that the session never refreshes.
fn access_token() -> String {
    fn b64(bytes: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for c in bytes.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for i in 0..=c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = format!(
        r#"{{"scope":"com.atproto.access","sub":"did:plc:ewvi7nxzyoun6zhxrhs64oiz","iat":{now},"exp":{}}}"#,
        now + 86400
    );
    format!(
        "{}.{}.{}",
        b64(br#"{"typ":"at+jwt","alg":"ES256K"}"#),
        b64(claims.as_bytes()),
        b64(&[7u8; 64])
    )
}

fn session_json(token: &str) -> String {
    format!(
        r#"{{"accessJwt":"{token}","refreshJwt":"{token}","handle":"bench.example.com","did":"did:plc:ewvi7nxzyoun6zhxrhs64oiz","active":true}}"#
    )
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    session: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.uri().path() {
        "/xrpc/app.bsky.actor.getPreferences" => Bytes::from_static(PREFERENCES.as_bytes()),
        "/xrpc/com.atproto.server.getSession" | "/xrpc/com.atproto.server.refreshSession" => {
            session
        }
        _ => {
            return Ok(Response::builder()
                .status(400)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(
                    br#"{"error":"InvalidRequest","message":"unknown"}"#,
                )))
                .unwrap())
        }
    };
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap())
}

fn start_server(session: Bytes) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                let session = session.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |r| handle(r, session.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

fn stats(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    serde_json::json!({"median": v[v.len() / 2].round(), "min": v[0].round(), "mean": mean.round(), "n": v.len()})
}

fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let which = std::env::args().nth(2).unwrap_or_else(|| "reqwest".into());
    let token = access_token();
    let addr = start_server(Bytes::from(session_json(&token)));
    let base = format!("http://{addr}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Like for like: the agent sends through reqwest too, so the ratio is
        // the session layer's own cost.
        let builder = AtpAgent::builder(base.clone()).allow_insecure_http(true);
        let agent = match which.as_str() {
            "reqwest" => builder.http_client(atmo_client::ReqwestClient::new().unwrap()),
            "default" => builder,
            other => panic!("unknown client {other:?}: reqwest or default"),
        }
        .build()
        .unwrap();
        let saved: SessionData = serde_json::from_str(&session_json(&token)).unwrap();
        agent
            .resume_session(saved)
            .await
            .expect("resume the session on loopback");

        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent("bench")
            .build()
            .unwrap();
        let url = format!("{base}/xrpc/app.bsky.actor.getPreferences");
        let bearer = format!("Bearer {token}");

        let plain = || async {
            let resp = client
                .get(&url)
                .timeout(Duration::from_secs(30))
                .header(reqwest::header::ACCEPT, "application/json")
                .header(reqwest::header::AUTHORIZATION, &bearer)
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success());
            let body = resp.bytes().await.unwrap();
            let out: get_preferences::Output = serde_json::from_slice(&body).unwrap();
            out
        };
        let session = || async {
            agent
                .call::<GetPreferences>(get_preferences::Parameters::default(), ())
                .await
                .unwrap()
        };
        // Warm-up: connections open, caches filled.
        for _ in 0..200 {
            std::hint::black_box(plain().await);
            std::hint::black_box(session().await);
        }
        let (mut p, mut s) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
        let block = 100;
        for b in 0..calls.div_ceil(block) {
            // Alternate which goes first in a block.
            for phase in 0..2 {
                let session_turn = (b + phase) % 2 == 1;
                for _ in 0..block {
                    let t = Instant::now();
                    if session_turn {
                        std::hint::black_box(session().await);
                        s.push(t.elapsed().as_nanos() as f64);
                    } else {
                        std::hint::black_box(plain().await);
                        p.push(t.elapsed().as_nanos() as f64);
                    }
                }
            }
        }
        let (ps, ss) = (stats(p), stats(s));
        let ratio = ss["median"].as_f64().unwrap() / ps["median"].as_f64().unwrap();
        let out = serde_json::json!({
            "calls": calls,
            "client": which,
            "plain_ns": ps,
            "session_ns": ss,
            "ratio": (ratio * 1000.0).round() / 1000.0,
        });
        println!("{out}");
    });
}
