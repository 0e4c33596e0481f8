//! The WebSocket client against a scripted mock server: label streams,
//! reconnects that resume from the cursor and drop replays, error frames,
//! skipped bad frames, oversized frames, the silent-stall watchdog and
//! giving up.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atmo_api::com::atproto::label::subscribe_labels::Message as LabelMsg;
use atmo_api::com::atproto::sync::subscribe_repos::{self as repos, Message as RepoMsg};
use atmo_stream::{
    encode_error_frame, encode_frame, Config, ConnectionEvent, FrameError, StreamError,
    SubscribeLabels, SubscribeRepos, Subscriber,
};
use atmo_sync::{Map, Value};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// What the mock does on one connection, step by step.
#[derive(Clone)]
enum Step {
    /// Send a binary frame.
    Send(Vec<u8>),
    /// Drop the TCP connection without a close handshake.
    Drop,
    /// Keep the connection open and never read from it (pings go
    /// unanswered).
    Hang,
}

struct Mock {
    url: String,
    /// The request path and query of each connection, in order.
    requests: Arc<Mutex<Vec<String>>>,
}

/// Serves `scripts[i]` on the i-th connection (later ones hang).
async fn mock(scripts: Vec<Vec<Step>>) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let reqs = requests.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let script = scripts.get(n).cloned().unwrap_or_else(|| vec![Step::Hang]);
            n += 1;
            let reqs = reqs.clone();
            tokio::spawn(async move {
                // tungstenite's callback signature, large error type included.
                #[allow(clippy::result_large_err)]
                let record = |req: &Request, resp: Response| {
                    reqs.lock().unwrap().push(req.uri().to_string());
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, record).await else {
                    return;
                };
                for step in script {
                    match step {
                        Step::Send(b) => {
                            if ws.send(Message::Binary(b.into())).await.is_err() {
                                return;
                            }
                        }
                        Step::Drop => return,
                        Step::Hang => {
                            std::future::pending::<()>().await;
                        }
                    }
                }
                // Script done: keep answering (pings) until the client goes.
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    Mock { url, requests }
}

fn s(v: &str) -> Value<'static> {
    Value::String(v.to_owned().into())
}

fn body(entries: Vec<(&'static str, Value<'static>)>) -> Vec<u8> {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert(k, v);
    }
    Value::Map(m).to_cbor()
}

fn identity(seq: i64) -> Step {
    Step::Send(encode_frame(
        1,
        Some("#identity"),
        &body(vec![
            ("seq", Value::Integer(seq)),
            ("did", s("did:plc:abc")),
            ("time", s("2024-01-01T00:00:00.000Z")),
        ]),
    ))
}

fn labels_frame(seq: i64, val: &str) -> Step {
    let mut label = Map::new();
    label.insert("src", s("did:plc:labeler"));
    label.insert(
        "uri",
        s("at://did:plc:abc/app.bsky.feed.post/3kabcdefghij2"),
    );
    label.insert("val", s(val));
    label.insert("cts", s("2024-01-01T00:00:00.000Z"));
    Step::Send(encode_frame(
        1,
        Some("#labels"),
        &body(vec![
            ("seq", Value::Integer(seq)),
            ("labels", Value::Array(vec![Value::Map(label)])),
        ]),
    ))
}

fn fast() -> Config {
    Config {
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        read_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

fn seq_of(m: &RepoMsg) -> i64 {
    match m {
        RepoMsg::Identity(i) => i.seq,
        other => panic!("expected #identity, got {other:?}"),
    }
}

async fn next<S: atmo_stream::Subscription>(
    sub: &mut Subscriber<S>,
) -> Option<Result<S::Message, StreamError<S::Error>>> {
    tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("the client answers within the test's patience")
}

#[tokio::test]
async fn labels_stream_with_info_and_unknown_types() {
    let m = mock(vec![vec![
        labels_frame(1, "spam"),
        Step::Send(encode_frame(
            1,
            Some("#info"),
            &body(vec![
                ("name", s("OutdatedCursor")),
                ("message", s("too old")),
            ]),
        )),
        Step::Send(encode_frame(
            1,
            Some("#somethingNew"),
            &body(vec![("seq", Value::Integer(2)), ("x", Value::Bool(true))]),
        )),
        labels_frame(3, "nudity"),
    ]])
    .await;
    let mut sub = Subscriber::<SubscribeLabels>::builder(&m.url)
        .cursor(Some(0))
        .config(fast())
        .build()
        .unwrap();
    let Some(Ok(LabelMsg::Labels(l))) = next(&mut sub).await else {
        panic!()
    };
    assert_eq!((l.seq, l.labels[0].val.as_str()), (1, "spam"));
    let Some(Ok(LabelMsg::Info(i))) = next(&mut sub).await else {
        panic!()
    };
    assert_eq!(i.name.to_string(), "OutdatedCursor");
    let Some(Ok(LabelMsg::Unknown(u))) = next(&mut sub).await else {
        panic!()
    };
    assert_eq!(
        u.type_name,
        "com.atproto.label.subscribeLabels#somethingNew"
    );
    let Some(Ok(LabelMsg::Labels(l))) = next(&mut sub).await else {
        panic!()
    };
    assert_eq!((l.seq, l.labels[0].val.as_str()), (3, "nudity"));
    assert_eq!(sub.cursor(), Some(3));
    assert_eq!(
        m.requests.lock().unwrap().as_slice(),
        ["/xrpc/com.atproto.label.subscribeLabels?cursor=0"]
    );
}

#[tokio::test]
async fn reconnect_resumes_from_the_cursor_and_drops_replays() {
    // The second connection replays from the cursor itself (as some relays
    // do): 2 and 3 again, then new events.
    let m = mock(vec![
        vec![identity(1), identity(2), identity(3), Step::Drop],
        vec![identity(2), identity(3), identity(4), identity(5)],
    ])
    .await;
    let seen_cursors = Arc::new(Mutex::new(Vec::new()));
    let sc = seen_cursors.clone();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let mut sub = Subscriber::<SubscribeRepos>::builder(&m.url)
        .config(fast())
        .on_cursor(move |s| sc.lock().unwrap().push(s))
        .on_connection(move |e| ev.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(seq_of(&next(&mut sub).await.unwrap().unwrap()));
    }
    assert_eq!(got, [1, 2, 3, 4, 5]);
    assert_eq!(*seen_cursors.lock().unwrap(), [1, 2, 3, 4, 5]);
    assert_eq!(
        m.requests.lock().unwrap().as_slice(),
        [
            "/xrpc/com.atproto.sync.subscribeRepos",
            "/xrpc/com.atproto.sync.subscribeRepos?cursor=3"
        ]
    );
    let events = events.lock().unwrap();
    assert_eq!(events[0], ConnectionEvent::Connected { cursor: None });
    assert!(matches!(
        events[1],
        ConnectionEvent::Retrying { attempt: 1, .. }
    ));
    assert_eq!(events[2], ConnectionEvent::Connected { cursor: Some(3) });
}

#[tokio::test]
async fn consumer_too_slow_reconnects_and_future_cursor_ends() {
    let m = mock(vec![
        vec![
            identity(10),
            Step::Send(encode_error_frame("ConsumerTooSlow", Some("slow"))),
        ],
        vec![
            identity(11),
            Step::Send(encode_error_frame(
                "FutureCursor",
                Some("cursor in the future"),
            )),
        ],
    ])
    .await;
    let mut sub = Subscriber::<SubscribeRepos>::builder(&m.url)
        .cursor(Some(9))
        .config(fast())
        .build()
        .unwrap();
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 10);
    let err = next(&mut sub).await.unwrap().unwrap_err();
    assert!(
        matches!(&err, StreamError::Server(repos::Error::ConsumerTooSlow(Some(m))) if m == "slow"),
        "{err:?}"
    );
    assert!(!err.is_fatal());
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 11);
    let err = next(&mut sub).await.unwrap().unwrap_err();
    assert!(
        matches!(err, StreamError::Server(repos::Error::FutureCursor(_))),
        "{err:?}"
    );
    assert!(err.is_fatal());
    assert!(err.to_string().contains("cursor in the future"), "{err}");
    assert!(
        next(&mut sub).await.is_none(),
        "the stream ends after FutureCursor"
    );
    assert!(next(&mut sub).await.is_none(), "and stays ended");
    assert_eq!(
        m.requests.lock().unwrap().as_slice(),
        [
            "/xrpc/com.atproto.sync.subscribeRepos?cursor=9",
            "/xrpc/com.atproto.sync.subscribeRepos?cursor=10"
        ]
    );
}

#[tokio::test]
async fn unknown_error_names_are_reported_untyped() {
    let m = mock(vec![vec![Step::Send(encode_error_frame(
        "Brand New",
        None,
    ))]])
    .await;
    let mut sub = Subscriber::<SubscribeLabels>::builder(&m.url)
        .config(fast())
        .build()
        .unwrap();
    let err = next(&mut sub).await.unwrap().unwrap_err();
    assert!(
        matches!(&err, StreamError::UnknownServerError(f) if f.error == "Brand New"),
        "{err:?}"
    );
    assert!(!err.is_fatal());
}

#[tokio::test]
async fn a_bad_body_is_skipped_and_the_cursor_moves_past_it() {
    let bad_commit = encode_frame(
        1,
        Some("#commit"),
        &body(vec![("seq", Value::Integer(2)), ("repo", s("did:plc:abc"))]),
    );
    let m = mock(vec![
        vec![identity(1), Step::Send(bad_commit), identity(3), Step::Drop],
        vec![identity(4)],
    ])
    .await;
    let mut sub = Subscriber::<SubscribeRepos>::builder(&m.url)
        .config(fast())
        .build()
        .unwrap();
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 1);
    let err = next(&mut sub).await.unwrap().unwrap_err();
    let StreamError::Frame(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.seq(), Some(2));
    assert!(!err.is_fatal());
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 3);
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 4);
    // One connection served everything up to the drop: a bad body does not
    // cost a reconnect.
    assert_eq!(m.requests.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn garbage_header_drops_the_connection_and_resumes() {
    let m = mock(vec![
        vec![identity(1), Step::Send(vec![0xff, 0x00, 0x01])],
        vec![identity(2)],
    ])
    .await;
    let mut sub = Subscriber::<SubscribeRepos>::builder(&m.url)
        .config(fast())
        .build()
        .unwrap();
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 1);
    let err = next(&mut sub).await.unwrap().unwrap_err();
    assert!(
        matches!(err, StreamError::Frame(FrameError::Decode { .. })),
        "{err:?}"
    );
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 2);
    assert_eq!(
        m.requests.lock().unwrap().last().unwrap(),
        "/xrpc/com.atproto.sync.subscribeRepos?cursor=1"
    );
}

#[tokio::test]
async fn oversized_frames_drop_the_connection() {
    let big = encode_frame(
        1,
        Some("#identity"),
        &body(vec![
            ("seq", Value::Integer(2)),
            ("did", s("did:plc:abc")),
            ("time", s("2024-01-01T00:00:00.000Z")),
            ("pad", Value::Bytes(vec![0u8; 4096].into())),
        ]),
    );
    let m = mock(vec![vec![identity(1), Step::Send(big)], vec![identity(3)]]).await;
    let mut sub = Subscriber::<SubscribeRepos>::builder(&m.url)
        .config(Config {
            max_frame_size: 1024,
            ..fast()
        })
        .build()
        .unwrap();
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 1);
    let err = next(&mut sub).await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            StreamError::Frame(FrameError::TooLarge { max: 1024, .. })
        ),
        "{err:?}"
    );
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 3);
}

#[tokio::test]
async fn a_silent_stall_is_detected_and_replaced() {
    // The first connection sends one event and then neither sends nor
    // answers pings.
    let m = mock(vec![vec![identity(1), Step::Hang], vec![identity(2)]]).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let mut sub = Subscriber::<SubscribeRepos>::builder(&m.url)
        .config(Config {
            read_timeout: Duration::from_millis(200),
            ..fast()
        })
        .on_connection(move |e| ev.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 1);
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 2);
    let events = events.lock().unwrap();
    assert!(
        events.iter().any(|e| matches!(e,
            ConnectionEvent::Retrying { reason, .. } if reason.contains("read timeout"))),
        "{events:?}"
    );
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    // A port with nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut sub = Subscriber::<SubscribeRepos>::builder(format!("ws://127.0.0.1:{port}"))
        .config(Config {
            max_attempts: Some(3),
            ..fast()
        })
        .build()
        .unwrap();
    let err = next(&mut sub).await.unwrap().unwrap_err();
    assert!(
        matches!(err, StreamError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.is_fatal());
    assert!(next(&mut sub).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_slows_the_server_instead_of_queueing() {
    // The server writes 64 frames of 512 KiB (32 MiB) as fast as the socket
    // takes them; the client reads one and pauses. With no queue inside the
    // client, the server gets stuck once the socket buffers are full.
    const N: usize = 64;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        for seq in 1..=N as i64 {
            let frame = encode_frame(
                1,
                Some("#identity"),
                &body(vec![
                    ("seq", Value::Integer(seq)),
                    ("did", s("did:plc:abc")),
                    ("time", s("2024-01-01T00:00:00.000Z")),
                    ("pad", Value::Bytes(vec![0u8; 512 * 1024].into())),
                ]),
            );
            ws.send(Message::Binary(frame.into())).await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        while let Some(Ok(_)) = ws.next().await {}
    });
    let mut sub = Subscriber::<SubscribeRepos>::builder(&url)
        .config(fast())
        .build()
        .unwrap();
    assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), 1);
    // Wait until the server stops making progress (or has sent everything).
    let mut last = usize::MAX;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = sent.load(std::sync::atomic::Ordering::SeqCst);
        if now == last || now == N {
            break;
        }
        last = now;
    }
    let stalled_at = sent.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!("the server stalled after {stalled_at} of {N} frames");
    assert!(
        stalled_at < N / 2,
        "the server sent {stalled_at} of {N} frames to a paused consumer"
    );
    // Reading on lets the server finish, every frame in order.
    for seq in 2..=N as i64 {
        assert_eq!(seq_of(&next(&mut sub).await.unwrap().unwrap()), seq);
    }
}

#[tokio::test]
async fn as_a_stream() {
    let m = mock(vec![
        vec![identity(1), identity(2), Step::Drop],
        vec![identity(3)],
    ])
    .await;
    let stream = Subscriber::<SubscribeRepos>::builder(&m.url)
        .config(fast())
        .build()
        .unwrap()
        .into_stream();
    let got: Vec<i64> = tokio::time::timeout(
        Duration::from_secs(20),
        stream.take(3).map(|m| seq_of(&m.unwrap())).collect(),
    )
    .await
    .unwrap();
    assert_eq!(got, [1, 2, 3]);
}

#[test]
fn plain_ws_to_a_public_host_is_refused() {
    let err = Subscriber::<SubscribeRepos>::builder("ws://bsky.network")
        .build()
        .unwrap_err();
    assert!(matches!(err, StreamError::Url(_)), "{err:?}");
    assert!(err.is_fatal());
    // wss and https map to the same URL.
    let sub = Subscriber::<SubscribeRepos>::builder("wss://bsky.network")
        .cursor(Some(5))
        .build()
        .unwrap();
    assert_eq!(
        sub.url(),
        "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos?cursor=5"
    );
}
