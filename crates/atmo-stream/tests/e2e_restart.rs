//! End to end against the harness's reference PDS, across a restart of
//! the PDS on the same data directory and port (its PLC directory, and so
//! the account's DID and signing key, stays up):
//!
//! - a consumer persists its cursor to a file from the cursor hook, takes
//!   the first writes and stops; after the restart a new subscriber
//!   started from the stored cursor receives exactly the later commits,
//!   once each, in order, each verified (signature against the key from
//!   the PLC directory, and the `prevData` proof);
//! - a subscriber that stays connected through the restart is refused
//!   while the PDS is down, reconnects by itself from its cursor and loses
//!   nothing.
//!
//! Skips with a notice when the PDS is not installed (fails under
//! `ATPROTO_E2E=required`).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(all(feature = "ws", feature = "verify"))]

use std::path::{Path, PathBuf};
use std::time::Duration;

use atmo_api::app::bsky::feed::post::Post;
use atmo_client::{AtpAgent, Login};
use atmo_stream::{
    Config, ConnectionEvent, Firehose, FirehoseError, RepoEvent, SubscribeRepos, Subscriber,
    Verifier,
};
use atmo_types::{Datetime, RecordKey};
use atproto_tests::{unique_handle, Pds, PdsOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

mod common;

const PASSWORD: &str = "correct-horse-battery";

/// What the harness says about its PDS service object.
#[derive(Debug, Clone, PartialEq)]
struct PdsStatus {
    running: bool,
    starts: u64,
    instance: Option<String>,
    port: u64,
}

/// One request to the harness API (`http://127.0.0.1:N`), answered with
/// JSON; `Connection: close` so that reading to the end gives the answer.
async fn harness(pds: &Pds, method: &str, path: &str) -> PdsStatus {
    let addr = pds
        .harness
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut tcp = TcpStream::connect(addr).await.expect("harness reachable");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).expect("UTF-8 answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "{method} {path}: {head}\n{body}"
    );
    let v: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    PdsStatus {
        running: v["running"].as_bool().expect("running"),
        starts: v["starts"].as_u64().expect("starts"),
        instance: v["instance"].as_str().map(str::to_owned),
        port: v["port"].as_u64().expect("port"),
    }
}

/// A cursor kept in a file the way a consumer would keep it: written
/// whole to a temporary file that then replaces the old one, so a crash
/// leaves either the old or the new seq.
#[derive(Clone)]
struct CursorFile(PathBuf);

impl CursorFile {
    fn save(&self, seq: i64) {
        let tmp = self.0.with_extension("tmp");
        std::fs::write(&tmp, seq.to_string()).expect("write the cursor");
        std::fs::rename(&tmp, &self.0).expect("replace the cursor");
    }

    fn load(&self) -> Option<i64> {
        let text = std::fs::read_to_string(&self.0).ok()?;
        Some(text.trim().parse().expect("a stored seq"))
    }
}

/// A directory removed when the test ends, pass or fail.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "atmo-stream-restart-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A commit of the test account that writes posts: its seq and its ops
/// as `(action, path)`.
type Write = (i64, Vec<(String, String)>);

/// What a consumer has taken so far.
#[derive(Default)]
struct Taken {
    last_seq: Option<i64>,
    writes: Vec<Write>,
}

impl Taken {
    fn ops(&self) -> Vec<Vec<(String, String)>> {
        self.writes.iter().map(|(_, ops)| ops.clone()).collect()
    }

    /// Checks one event: seqs only go up (nothing repeated, nothing out of
    /// order); every commit of `did` is verified and its records decode;
    /// post writes are kept.
    fn take(&mut self, item: Result<RepoEvent, FirehoseError>, did: &str) {
        let event = item.unwrap_or_else(|e| panic!("firehose error: {e}"));
        if let Some(seq) = event.seq() {
            if let Some(last) = self.last_seq {
                assert!(
                    seq > last,
                    "seq {seq} after {last}: repeated or out of order"
                );
            }
            self.last_seq = Some(seq);
        }
        let RepoEvent::Commit(c) = event else {
            return;
        };
        if c.repo() != did {
            return;
        }
        if let Some(ops) = common::post_writes(&c, did, "restart test") {
            self.writes.push((c.commit.seq, ops));
        }
    }
}

/// Takes events from a firehose driven here until `n` post writes are in.
async fn take_from(firehose: &mut Firehose, did: &str, taken: &mut Taken, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while taken.writes.len() < n {
        let item = tokio::time::timeout_at(deadline, firehose.next())
            .await
            .unwrap_or_else(|_| panic!("timed out; taken so far: {:?}", taken.writes))
            .expect("the firehose ended");
        taken.take(item, did);
    }
}

/// Reads `firehose` in a task into a small bounded channel (the task
/// waits for the test); aborting the task stops the consumer.
fn spawn_reader(
    mut firehose: Firehose,
) -> (
    tokio::task::JoinHandle<()>,
    mpsc::Receiver<Result<RepoEvent, FirehoseError>>,
) {
    let (tx, rx) = mpsc::channel(4);
    let task = tokio::spawn(async move {
        while let Some(item) = firehose.next().await {
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    (task, rx)
}

/// Takes events from a firehose read by a task until `n` post writes are in.
async fn take_from_channel(
    rx: &mut mpsc::Receiver<Result<RepoEvent, FirehoseError>>,
    did: &str,
    taken: &mut Taken,
    n: usize,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while taken.writes.len() < n {
        let item = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; taken so far: {:?}", taken.writes))
            .expect("the firehose ended");
        taken.take(item, did);
    }
}

fn post(text: &str) -> Post {
    Post::new(format!("restart test {text}"), Datetime::now())
}

#[tokio::test(flavor = "multi_thread")]
async fn resumes_from_a_stored_cursor_across_a_pds_restart() {
    // A PDS of its own: restarting the shared one would cut other tests.
    let Some(pds) = Pds::start_or_skip(&PdsOptions::default()) else {
        return;
    };
    let dir = TempDir::new();
    let cursor_file = CursorFile(dir.path().join("cursor"));
    let fast = Config {
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        read_timeout: Duration::from_secs(5),
        ..Config::default()
    };

    let before = harness(&pds, "GET", "/test/pds").await;
    assert!(before.running && before.starts == 1, "{before:?}");

    // The subscriber that stays connected through the restart.
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    let live_sub = Subscriber::<SubscribeRepos>::builder(&pds.url)
        .config(fast.clone())
        .on_connection(move |e| {
            let _ = conn_tx.send(e.clone());
        })
        .build()
        .expect("loopback URL is allowed");
    let (reader, mut live_rx) =
        spawn_reader(Firehose::new(live_sub).verify(Verifier::new(pds.resolver())));
    let first = tokio::time::timeout(Duration::from_secs(10), conn_rx.recv())
        .await
        .expect("connects")
        .expect("hook");
    assert_eq!(first, ConnectionEvent::Connected { cursor: None });

    // The consumer that stops before the restart, persisting its cursor.
    // It has none stored yet, so it starts live.
    assert_eq!(cursor_file.load(), None);
    let saver = cursor_file.clone();
    let (consumer_conn_tx, mut consumer_conn_rx) = mpsc::unbounded_channel();
    let consumer_sub = Subscriber::<SubscribeRepos>::builder(&pds.url)
        .config(fast.clone())
        .cursor(cursor_file.load())
        .on_cursor(move |seq| saver.save(seq))
        .on_connection(move |e| {
            let _ = consumer_conn_tx.send(e.clone());
        })
        .build()
        .unwrap();
    let (consumer, mut consumer_rx) =
        spawn_reader(Firehose::new(consumer_sub).verify(Verifier::new(pds.resolver())));
    let first = tokio::time::timeout(Duration::from_secs(10), consumer_conn_rx.recv())
        .await
        .expect("connects")
        .expect("hook");
    assert_eq!(first, ConnectionEvent::Connected { cursor: None });

    // A fresh account (its creation is on the stream too) and two posts.
    let agent = AtpAgent::builder(&pds.url).build().unwrap();
    let handle = unique_handle("rs");
    let session = agent
        .create_account(atproto_tests::new_account_input(&handle, PASSWORD))
        .await
        .expect("createAccount");
    let did = session.did.as_str().to_owned();
    let a = agent.create_record(&post("a"), None).await.expect("a");
    let rkey_a = a.uri.rkey().unwrap().to_owned();
    let path_a = format!("app.bsky.feed.post/{rkey_a}");
    let b = agent.create_record(&post("b"), None).await.expect("b");
    let rkey_b = b.uri.rkey().unwrap().to_owned();
    let path_b = format!("app.bsky.feed.post/{rkey_b}");

    let mut consumed = Taken::default();
    take_from_channel(&mut consumer_rx, &did, &mut consumed, 2).await;
    assert_eq!(
        consumed.ops(),
        vec![
            vec![("create".to_owned(), path_a.clone())],
            vec![("create".to_owned(), path_b.clone())],
        ]
    );
    // Stop the consumer: what is stored is the last seq it took (nothing
    // was written after b, so it holds no event the test has not seen).
    consumer.abort();
    let _ = consumer.await;
    assert!(consumer_rx.try_recv().is_err(), "the consumer took more");
    let stored = cursor_file.load().expect("the hook stored a cursor");
    assert_eq!(Some(stored), consumed.last_seq);
    assert_eq!(stored, consumed.writes[1].0);

    // Written while the consumer is away, before the restart.
    agent
        .put_record(RecordKey::new(rkey_a.as_str()).unwrap(), &post("a, edited"))
        .await
        .expect("update a");
    let c = agent.create_record(&post("c"), None).await.expect("c");
    let path_c = format!("app.bsky.feed.post/{}", c.uri.rkey().unwrap());

    let mut live = Taken::default();
    take_from_channel(&mut live_rx, &did, &mut live, 4).await;
    let live_last_before_stop = live.last_seq.expect("the live subscriber took events");

    // Stop the PDS: writes fail, the live subscriber is cut and refused.
    let stopped = harness(&pds, "POST", "/test/pds/stop").await;
    assert!(!stopped.running, "{stopped:?}");
    assert!(
        agent.create_record(&post("lost"), None).await.is_err(),
        "a write succeeded while the PDS was stopped"
    );
    // Wait for the live subscriber to notice and fail at least one attempt.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut while_down = Vec::new();
    loop {
        let e = tokio::time::timeout_at(deadline, conn_rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no retry while the PDS was down: {while_down:?}"))
            .expect("hook");
        let failed_attempts =
            matches!(e, ConnectionEvent::Retrying { attempt, .. } if attempt >= 2);
        while_down.push(e);
        if failed_attempts {
            break;
        }
    }
    assert!(
        !while_down
            .iter()
            .any(|e| matches!(e, ConnectionEvent::Connected { .. })),
        "connected while the PDS was down: {while_down:?}"
    );

    // Start it again on the same data directory and port: a new instance.
    let after = harness(&pds, "POST", "/test/pds/start").await;
    assert!(after.running, "{after:?}");
    assert_eq!(after.starts, 2, "{after:?}");
    assert_eq!(after.port, before.port);
    assert_ne!(after.instance, before.instance, "the same PDS instance");

    // The account, its password and its repository survived; two more
    // writes after the restart.
    let agent = AtpAgent::builder(&pds.url).build().unwrap();
    agent
        .login(Login::new(handle.as_str(), PASSWORD))
        .await
        .expect("log in after the restart");
    agent
        .delete_record::<Post>(RecordKey::new(rkey_b.as_str()).unwrap())
        .await
        .expect("delete b");
    let d = agent.create_record(&post("d"), None).await.expect("d");
    let path_d = format!("app.bsky.feed.post/{}", d.uri.rkey().unwrap());

    let later = vec![
        vec![("update".to_owned(), path_a.clone())],
        vec![("create".to_owned(), path_c.clone())],
        vec![("delete".to_owned(), path_b.clone())],
        vec![("create".to_owned(), path_d.clone())],
    ];

    // The live subscriber reconnected by itself, from its cursor, and
    // lost nothing: every write once, in order, verified.
    take_from_channel(&mut live_rx, &did, &mut live, 6).await;
    let mut all = vec![
        vec![("create".to_owned(), path_a.clone())],
        vec![("create".to_owned(), path_b.clone())],
    ];
    all.extend(later.iter().cloned());
    assert_eq!(live.ops(), all);
    let mut reconnects = Vec::new();
    while let Ok(e) = conn_rx.try_recv() {
        if let ConnectionEvent::Connected { cursor } = e {
            reconnects.push(cursor);
        }
    }
    assert_eq!(
        reconnects.first(),
        Some(&Some(live_last_before_stop)),
        "the reconnect resumes after the last seq taken: {reconnects:?}"
    );
    reader.abort();

    // A new consumer from the stored cursor: exactly the later commits,
    // once each, in order, verified by a verifier that knew nothing.
    let resumed_from = cursor_file.load().expect("the stored cursor");
    assert_eq!(resumed_from, stored);
    let saver = cursor_file.clone();
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    let resumed_sub = Subscriber::<SubscribeRepos>::builder(&pds.url)
        .config(fast)
        .cursor(Some(resumed_from))
        .on_cursor(move |seq| saver.save(seq))
        .on_connection(move |e| {
            let _ = conn_tx.send(e.clone());
        })
        .build()
        .unwrap();
    let mut resumed = Firehose::new(resumed_sub).verify(Verifier::new(pds.resolver()));
    let mut again = Taken {
        last_seq: Some(resumed_from),
        ..Taken::default()
    };
    take_from(&mut resumed, &did, &mut again, 4).await;
    assert_eq!(again.ops(), later);
    let expected_seqs: Vec<i64> = live.writes[2..].iter().map(|(s, _)| *s).collect();
    let got_seqs: Vec<i64> = again.writes.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        got_seqs, expected_seqs,
        "the same commits as the live subscriber"
    );
    assert_eq!(
        conn_rx.try_recv().ok(),
        Some(ConnectionEvent::Connected {
            cursor: Some(resumed_from)
        })
    );
    // Nothing further of the account arrives (nothing was written).
    let quiet = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            let item = resumed.next().await.expect("the firehose ended");
            let event = item.unwrap_or_else(|e| panic!("firehose error: {e}"));
            if event.did() == Some(did.as_str()) {
                return event.seq();
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "an extra event of the account: {quiet:?}");
    assert_eq!(
        cursor_file.load(),
        again.last_seq,
        "the hook stored the last seq"
    );
}
