//! Anyone's lexicons, served: `Builder::server(true)` output for a custom
//! query, procedure and subscription (`tests/served/lexicons`), included
//! here as a build script's would be, registered with atmo-server's
//! `XrpcRouter`, served on loopback and called with atmo-xrpc's client
//! (the subscription read with atmo-stream's frame decoder).
//!
//! `tests/served/lexicons.rs` is the Builder's output, checked in so that
//! this test compiles it; the first test fails when it is stale
//! (`UPDATE_GENERATED=1` rewrites it).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use atmo_server::xrpc::{
    SubscriptionOptions, SubscriptionRequest, XrpcError, XrpcRequest, XrpcRouter,
};
use atmo_stream::{decode_frame, Frame, Subscription, DEFAULT_MAX_FRAME_SIZE};
use atmo_types::xrpc::{Endpoint, EndpointError, QueryParams, QueryWriter};
use atmo_xrpc::transport::{NoAuth, Transport, TransportConfig, XrpcRequest as Call};
use atmo_xrpc::url::ServiceUrl;
use futures_util::StreamExt;

// As a crate's `lib.rs` would include it; this test uses part of it.
#[allow(dead_code, unused_imports)]
mod lexicons {
    include!("served/lexicons.rs");
}

use lexicons::com::example::{greet, note, ticks};

const LEXICONS: &str = "tests/served/lexicons";
const GENERATED: &str = "tests/served/lexicons.rs";

#[test]
fn the_included_file_is_what_the_builder_generates() {
    let text = atmo_lexgen::Builder::new()
        .lexicons(LEXICONS)
        .root_path("crate::lexicons")
        .server(true)
        .render()
        .unwrap();
    assert!(text.contains("impl ::atmo_types::xrpc::ServerEndpoint for Greet"));
    assert!(
        !text.contains("cfg(feature"),
        "Builder::server is not gated"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GENERATED);
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == text,
        "{GENERATED} is stale: rerun with UPDATE_GENERATED=1"
    );
    // Without `server`, none of it.
    let client = atmo_lexgen::Builder::new()
        .lexicons(LEXICONS)
        .root_path("crate::lexicons")
        .render()
        .unwrap();
    assert!(!client.contains("ServerEndpoint"));
}

fn router() -> axum::Router {
    XrpcRouter::new()
        .handler(|req: XrpcRequest<greet::Greet>| async move {
            if req.params.name == "nobody" {
                return Err(greet::Error::Shy(Some("not to nobody".into())).into());
            }
            let mut greeting = format!("hello {}", req.params.name);
            if req.params.loud == Some(true) {
                greeting = greeting.to_uppercase();
            }
            let times = usize::try_from(req.params.times)
                .map_err(|_| XrpcError::internal("times is checked to be 1 to 3"))?;
            Ok(greet::Output::new(vec![greeting; times]))
        })
        .handler(|req: XrpcRequest<note::Note>| async move {
            Ok(note::Output::new(req.input.text.chars().count() as i64))
        })
        .subscription(
            ticks::NSID,
            SubscriptionOptions::default(),
            |req: SubscriptionRequest<ticks::Parameters>| async move {
                let from = req.params.cursor.unwrap_or(0);
                if from > 100 {
                    return Err(ticks::Error::FutureCursor(None).into());
                }
                let ticks = (from + 1..=from + 3)
                    .map(|seq| Ok(ticks::Message::Tick(Box::new(ticks::Tick::new(seq)))));
                Ok(futures_util::stream::iter(ticks))
            },
        )
        .into_router()
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router()).await });
    addr
}

/// Calls endpoint `E` as a client does: its parameters written by the
/// generated `write_query`, its input by `encode_input`, the answer decoded
/// by `decode_output`, declared errors typed by `from_xrpc`.
async fn call<E: Endpoint>(
    addr: SocketAddr,
    params: &E::Params,
    input: &E::Input,
) -> Result<E::Output, Result<E::Error, atmo_xrpc::Error>> {
    let transport = Transport::new(
        Arc::new(atmo_xrpc::HyperClient::new().unwrap()),
        TransportConfig::default(),
    );
    let base = ServiceUrl::parse(&format!("http://{addr}")).unwrap();
    let mut req = Call::new(E::NSID, E::METHOD);
    let mut q = QueryWriter::new();
    params.write_query(&mut q);
    req.query = q
        .pairs()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    req.body = E::encode_input(input).unwrap();
    match transport.send(&base, &req, &NoAuth).await {
        Ok(answer) => Ok(E::decode_output(answer.body).unwrap()),
        Err(atmo_xrpc::Error::Xrpc(e)) => {
            Err(E::Error::from_xrpc(&e.error, e.message.clone()).ok_or(atmo_xrpc::Error::Xrpc(e)))
        }
        Err(e) => Err(Err(e)),
    }
}

#[tokio::test]
async fn a_custom_query_and_procedure_are_served_with_their_lexicon_rules() {
    let addr = serve().await;

    let mut params = greet::Parameters::new("ann".into());
    params.times = 2;
    params.loud = Some(true);
    let out = call::<greet::Greet>(addr, &params, &()).await.unwrap();
    assert_eq!(out.greetings, ["HELLO ANN", "HELLO ANN"]);

    // The lexicon default for `times` applies when it is not sent.
    let out = call::<greet::Greet>(addr, &greet::Parameters::new("bo".into()), &())
        .await
        .unwrap();
    assert_eq!(out.greetings, ["hello bo"]);

    // The declared error, typed on the client.
    let e = call::<greet::Greet>(addr, &greet::Parameters::new("nobody".into()), &())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Ok(greet::Error::Shy(Some(ref m))) if m == "not to nobody"),
        "{e:?}"
    );

    // The lexicon's constraints on parameters: 400 naming the parameter.
    let mut params = greet::Parameters::new("a name far too long".into());
    params.times = 9;
    match call::<greet::Greet>(addr, &params, &()).await {
        Err(Err(atmo_xrpc::Error::Xrpc(e))) => {
            assert_eq!((e.status, e.error.as_str()), (400, "InvalidRequest"));
            let m = e.message.unwrap_or_default();
            assert!(m.contains("name") && m.contains("times"), "{m}");
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }

    let out = call::<note::Note>(addr, &(), &note::Input::new("héllo".into()))
        .await
        .unwrap();
    assert_eq!(out.length, 5);
    // ... and on input.
    match call::<note::Note>(addr, &(), &note::Input::new("x".repeat(21))).await {
        Err(Err(atmo_xrpc::Error::Xrpc(e))) => {
            assert_eq!((e.status, e.error.as_str()), (400, "InvalidRequest"));
            assert!(e.message.unwrap_or_default().contains("text"));
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

#[test]
fn a_feature_gates_the_server_side_and_the_manifest_declares_it() {
    let docs = atmo_lexgen::load_dir(Path::new(LEXICONS)).unwrap();
    let set = atmo_lexgen::Set::build(docs, Vec::new()).unwrap();
    let opts = atmo_lexgen::Options {
        features: true,
        server: atmo_lexgen::ServerCode::Feature("serve".into()),
        ..atmo_lexgen::Options::default()
    };
    let generated = atmo_lexgen::generate(&set, &opts).unwrap();
    let greet = &generated.files["com/example/greet.rs"];
    assert!(
        greet.contains(
            "#[cfg(feature = \"serve\")]\nimpl ::atmo_types::xrpc::ServerEndpoint for Greet"
        ),
        "{greet}"
    );
    let manifest = atmo_lexgen::emit::cargo_toml(&generated, &opts, "[features]\n");
    assert!(manifest.lines().any(|l| l == "serve = []"), "{manifest}");
    // Off (the default): nothing, and no feature.
    let off = atmo_lexgen::generate(&set, &atmo_lexgen::Options::default()).unwrap();
    assert!(!off.files.values().any(|f| f.contains("ServerEndpoint")));
    let manifest = atmo_lexgen::emit::cargo_toml(&off, &atmo_lexgen::Options::default(), "");
    assert!(!manifest.contains("serve"), "{manifest}");
}

/// The custom subscription for atmo-stream's decoder: the unit struct
/// and four items its `Subscription` trait asks of a third-party one.
struct Ticks;

impl Subscription for Ticks {
    const NSID: &'static str = ticks::NSID;
    type Message = ticks::Message;
    type Error = ticks::Error;
    fn seq(message: &ticks::Message) -> Option<i64> {
        match message {
            ticks::Message::Tick(t) => Some(t.seq),
            ticks::Message::Unknown(_) => None,
        }
    }
}

/// Every frame of one connection to the subscription, until it closes.
async fn ticks_frames(addr: SocketAddr, query: &str) -> Vec<Frame<ticks::Message>> {
    let url = format!("ws://{addr}/xrpc/com.example.ticks{query}");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut socket, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    let mut out = Vec::new();
    while let Some(message) = socket.next().await {
        match message.unwrap() {
            tokio_tungstenite::tungstenite::Message::Binary(bytes) => {
                out.push(decode_frame::<Ticks>(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap())
            }
            tokio_tungstenite::tungstenite::Message::Close(_) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

#[tokio::test]
async fn a_custom_subscription_streams_its_typed_messages() {
    let addr = serve().await;
    let seqs: Vec<Option<i64>> = ticks_frames(addr, "?cursor=7")
        .await
        .iter()
        .map(|f| match f {
            Frame::Message(m) => Ticks::seq(m),
            other => panic!("expected a message, got {other:?}"),
        })
        .collect();
    assert_eq!(seqs, [Some(8), Some(9), Some(10)]);

    // The declared error as an error frame, typed; a parameter below the
    // lexicon's minimum refused naming it.
    let got = ticks_frames(addr, "?cursor=1000").await;
    let [Frame::Error(e)] = &got[..] else {
        panic!("expected one error frame, got {got:?}");
    };
    assert_eq!(e.typed::<Ticks>(), Some(ticks::Error::FutureCursor(None)));
    let got = ticks_frames(addr, "?cursor=-1").await;
    let [Frame::Error(e)] = &got[..] else {
        panic!("expected one error frame, got {got:?}");
    };
    assert_eq!(e.error, "InvalidRequest");
    assert!(
        e.message.as_deref().unwrap_or("").contains("cursor"),
        "{e:?}"
    );
}
