#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The labeler on loopback: its labels' signatures verify with
//! atmo-crypto against the `#atproto_label` key of the DID document it
//! serves; queryLabels pages and filters; subscribeLabels frames decode
//! with atmo-stream, replay after a cursor and carry live labels.

use std::net::SocketAddr;

use atmo_api::com::atproto::label::{query_labels, subscribe_labels};
use atmo_client::AtpAgent;
use atmo_crypto::Curve;
use atmo_identity::document::DidDocument;
use atmo_server::SigningKey;
use atmo_stream::labels::{label_key, verify_label};
use atmo_stream::{decode_frame, Frame, SubscribeLabels, DEFAULT_MAX_FRAME_SIZE};
use futures_util::StreamExt;
use labeler_example::{router, service_record, LabelDefinition, Labeler};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const DID: &str = "did:web:localhost%3A1235";
const POST: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l2abc";

async fn start() -> (SocketAddr, Labeler) {
    let key = SigningKey::generate(Curve::K256).unwrap();
    let labeler = Labeler::new(DID.parse().unwrap(), key, "http://localhost:1235");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(labeler.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, labeler)
}

fn agent(addr: SocketAddr) -> AtpAgent {
    AtpAgent::builder(format!("http://{addr}")).build().unwrap()
}

/// The labeler's key as a verifier finds it: from the DID document served.
async fn served_key(addr: SocketAddr) -> atmo_crypto::PublicKey {
    let http = atmo_xrpc::HyperClient::new().unwrap();
    use atmo_xrpc::HttpClient;
    let res = http
        .send(atmo_xrpc::HttpRequest {
            method: atmo_xrpc::HttpMethod::Get,
            url: format!("http://{addr}/.well-known/did.json"),
            headers: Vec::new(),
            body: None,
            timeout: std::time::Duration::from_secs(10),
            max_response_size: 1 << 20,
        })
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    let doc = DidDocument::parse(&res.body).unwrap();
    assert_eq!(doc.id().as_str(), DID);
    label_key(&doc).unwrap()
}

#[tokio::test]
async fn labels_are_signed_with_the_atproto_label_key() {
    let (addr, labeler) = start().await;
    let (seq, label) = labeler.emit(POST, None, "rust-post", false).unwrap();
    assert_eq!(seq, 1);
    assert_eq!(label.ver, Some(1));
    assert_eq!(label.src.as_str(), DID);
    let key = served_key(addr).await;
    verify_label(&label, &key).unwrap();

    // Any change to a signed field breaks the signature.
    let mut tampered = label.clone();
    tampered.val = "other".into();
    assert!(verify_label(&tampered, &key).is_err());
    let mut negated = label.clone();
    negated.neg = Some(true);
    assert!(verify_label(&negated, &key).is_err());
    // A negation is a label of its own, signed as such.
    let (_, neg) = labeler.emit(POST, None, "rust-post", true).unwrap();
    assert_eq!(neg.neg, Some(true));
    verify_label(&neg, &key).unwrap();
}

#[tokio::test]
async fn query_labels_filters_and_pages() {
    let (addr, labeler) = start().await;
    for i in 0..5 {
        labeler
            .emit(&format!("{POST}{i}"), None, "rust-post", false)
            .unwrap();
    }
    labeler
        .emit("did:plc:ewvi7nxzyoun6zhxrhs64oiz", None, "rust-fan", false)
        .unwrap();
    let key = served_key(addr).await;
    let agent = agent(addr);

    // A prefix pattern, two at a time.
    let mut vals = Vec::new();
    let mut cursor = None;
    loop {
        let mut p =
            query_labels::Parameters::new(vec!["at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/*".into()]);
        p.limit = 2;
        p.cursor = cursor.clone();
        let out = agent
            .call::<query_labels::QueryLabels>(p, ())
            .await
            .unwrap();
        for l in &out.labels {
            verify_label(l, &key).unwrap();
            vals.push(l.uri.as_str().to_owned());
        }
        match out.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(vals.len(), 5);
    assert!(vals.iter().all(|u| u.starts_with(POST)));

    // An exact pattern (the account), and another source: nothing.
    let out = agent
        .call::<query_labels::QueryLabels>(
            query_labels::Parameters::new(vec!["did:plc:ewvi7nxzyoun6zhxrhs64oiz".into()]),
            (),
        )
        .await
        .unwrap();
    assert_eq!(out.labels.len(), 1);
    assert_eq!(out.labels[0].val, "rust-fan");
    let mut p = query_labels::Parameters::new(vec!["*".into()]);
    p.sources = Some(vec!["did:plc:someoneelse".parse().unwrap()]);
    let out = agent
        .call::<query_labels::QueryLabels>(p, ())
        .await
        .unwrap();
    assert!(out.labels.is_empty());
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect(addr: SocketAddr, query: &str) -> Socket {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{addr}/xrpc/com.atproto.label.subscribeLabels{query}");
    tokio_tungstenite::client_async(url, tcp).await.unwrap().0
}

async fn next_frame(socket: &mut Socket) -> Frame<subscribe_labels::Message> {
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("the stream is open")
            .unwrap();
        match message {
            WsMessage::Binary(bytes) => {
                return decode_frame::<SubscribeLabels>(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap()
            }
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn labels_of(frame: Frame<subscribe_labels::Message>) -> subscribe_labels::Labels {
    match frame {
        Frame::Message(subscribe_labels::Message::Labels(l)) => *l,
        other => panic!("expected #labels, got {other:?}"),
    }
}

#[tokio::test]
async fn subscribe_labels_replays_after_cursor_then_goes_live() {
    let (addr, labeler) = start().await;
    for i in 0..3 {
        labeler
            .emit(&format!("{POST}{i}"), None, "rust-post", false)
            .unwrap();
    }
    let key = served_key(addr).await;

    let mut socket = connect(addr, "?cursor=1").await;
    let two = labels_of(next_frame(&mut socket).await);
    let three = labels_of(next_frame(&mut socket).await);
    assert_eq!((two.seq, three.seq), (2, 3));
    for l in two.labels.iter().chain(&three.labels) {
        verify_label(l, &key).unwrap();
    }
    // Live: a label issued now arrives next, once.
    labeler.emit(POST, None, "rust-post", true).unwrap();
    let four = labels_of(next_frame(&mut socket).await);
    assert_eq!(four.seq, 4);
    assert_eq!(four.labels[0].neg, Some(true));
    verify_label(&four.labels[0], &key).unwrap();

    // Without a cursor: live only, nothing replayed. The server subscribes
    // once the upgrade is done, after the handshake returns here: label
    // until a frame arrives (a deadline, no fixed wait).
    let mut live = connect(addr, "").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let first = loop {
        assert!(std::time::Instant::now() < deadline, "no live frame");
        labeler.emit(POST, None, "rust-post", false).unwrap();
        let next = tokio::time::timeout(std::time::Duration::from_millis(100), live.next()).await;
        if let Ok(Some(Ok(WsMessage::Binary(bytes)))) = next {
            break labels_of(
                decode_frame::<SubscribeLabels>(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap(),
            );
        }
    };
    assert!(first.seq > 4, "replayed {}", first.seq);
}

#[tokio::test]
async fn subscribe_labels_refuses_a_future_cursor() {
    let (addr, labeler) = start().await;
    labeler.emit(POST, None, "rust-post", false).unwrap();
    let mut socket = connect(addr, "?cursor=99").await;
    match next_frame(&mut socket).await {
        Frame::Error(e) => {
            assert!(matches!(
                e.typed::<SubscribeLabels>(),
                Some(subscribe_labels::Error::FutureCursor(_))
            ));
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
}

#[test]
fn service_record_declares_custom_labels() {
    let record = service_record(&[LabelDefinition {
        identifier: "rust-post".into(),
        severity: "inform".into(),
        blurs: "none".into(),
        default_setting: "warn".into(),
        name: "About Rust".into(),
        description: "Mentions Rust.".into(),
    }])
    .unwrap();
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["policies"]["labelValues"][0], "rust-post");
    let def = &json["policies"]["labelValueDefinitions"][0];
    assert_eq!(def["identifier"], "rust-post");
    assert_eq!(def["severity"], "inform");
    assert_eq!(def["locales"][0]["name"], "About Rust");
    use atmo_types::validate::Validate;
    assert!(record.validate().is_ok());
}
