//! End to end against the harness's reference PDS: subscribe to its
//! firehose through a loopback TCP proxy, create, update and delete
//! records, receive exactly those ops with their records, every commit
//! verified (signature against the key from the local PLC server, and the
//! `prevData` proof); cut the proxy mid-stream, write while it is down, and
//! resume from the cursor with nothing lost or repeated.
//!
//! Skips with a notice when the PDS is not installed (fails under
//! `ATPROTO_E2E=required`).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atmo_api::app::bsky::feed::post::Post;
use atmo_client::AtpAgent;
use atmo_stream::VerifyError;
use atmo_stream::{
    Check, CommitEvent, Config, ConnectionEvent, Firehose, FirehoseError, RepoEvent,
    SubscribeRepos, Subscriber, Verifier,
};
use atmo_sync::event::EventError;
use atmo_types::{Datetime, RecordKey};
use atproto_tests::{unique_handle, Pds};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

mod common;

/// A loopback TCP proxy to the PDS whose connections can be cut, and
/// which refuses new ones while down.
struct Proxy {
    url: String,
    down: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(target: &str) -> Proxy {
        let target = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let down = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (d, l) = (down.clone(), live.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                l.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { url, down, live }
    }

    /// Drops every open connection and refuses new ones.
    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for t in self.live.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// The record-writing commits of `did` seen so far, as
/// `(seq, [(action, path)])`, and the events themselves.
type Seen = Vec<(i64, Vec<(String, String)>, CommitEvent)>;

/// Receives events until `done(seen)` holds, keeping `did`'s commits;
/// fails on an invalid commit, a repeated or out-of-order seq, or a
/// timeout.
async fn collect_until(
    rx: &mut mpsc::Receiver<Result<RepoEvent, FirehoseError>>,
    did: &str,
    seen: &mut Seen,
    last_seq: &mut i64,
    done: impl Fn(&Seen) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done(seen) {
        let item = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; seen so far: {seen:?}"))
            .expect("the firehose ended");
        let event = item.unwrap_or_else(|e| panic!("firehose error: {e}"));
        if let Some(seq) = event.seq() {
            assert!(
                seq > *last_seq,
                "seq {seq} after {last_seq}: repeated or out of order"
            );
            *last_seq = seq;
        }
        let RepoEvent::Commit(c) = event else {
            continue;
        };
        if c.repo() != did {
            continue;
        }
        if let Some(ops) = common::post_writes(&c, did, "stream test") {
            seen.push((c.commit.seq, ops, *c));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn firehose_delivers_verified_ops_once_across_a_cut() {
    let Some(pds) = Pds::shared() else { return };
    let proxy = Proxy::start(&pds.url).await;

    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    let cursors = Arc::new(Mutex::new(Vec::new()));
    let saved = cursors.clone();
    let sub = Subscriber::<SubscribeRepos>::builder(&proxy.url)
        .config(Config {
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_millis(400),
            read_timeout: Duration::from_secs(5),
            ..Config::default()
        })
        .on_connection(move |e| {
            let _ = conn_tx.send(e.clone());
        })
        .on_cursor(move |seq| saved.lock().unwrap().push(seq))
        .build()
        .expect("loopback URL is allowed");
    let mut firehose = Firehose::new(sub).verify(Verifier::new(pds.resolver()));
    // A small bounded channel: the reader waits for the test.
    let (tx, mut rx) = mpsc::channel(4);
    let reader = tokio::spawn(async move {
        while let Some(item) = firehose.next().await {
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    let first = tokio::time::timeout(Duration::from_secs(10), conn_rx.recv())
        .await
        .expect("connects")
        .expect("hook");
    assert_eq!(first, ConnectionEvent::Connected { cursor: None });

    // A fresh account (its creation is on the stream too).
    let agent = AtpAgent::builder(&pds.url).build().unwrap();
    let handle = unique_handle("fh");
    let session = agent
        .create_account(atproto_tests::new_account_input(
            &handle,
            "correct-horse-battery",
        ))
        .await
        .expect("createAccount");
    let did = session.did.as_str().to_owned();

    let post = |text: &str| Post::new(format!("stream test {text}"), Datetime::now());
    let a = agent
        .create_record(&post("a"), None)
        .await
        .expect("create a");
    let rkey_a = a.uri.rkey().unwrap().to_owned();
    let path_a = format!("app.bsky.feed.post/{rkey_a}");

    let mut seen = Seen::new();
    let mut last_seq = -1;
    collect_until(&mut rx, &did, &mut seen, &mut last_seq, |s| s.len() == 1).await;
    assert_eq!(seen[0].1, vec![("create".to_owned(), path_a.clone())]);

    // Cut the connection and write while it is down.
    proxy.cut();
    let b = agent
        .create_record(&post("b"), None)
        .await
        .expect("create b");
    let path_b = format!("app.bsky.feed.post/{}", b.uri.rkey().unwrap());
    agent
        .put_record(RecordKey::new(rkey_a.as_str()).unwrap(), &post("a, edited"))
        .await
        .expect("update a");
    agent
        .delete_record::<Post>(RecordKey::new(b.uri.rkey().unwrap()).unwrap())
        .await
        .expect("delete b");
    proxy.restore();

    collect_until(&mut rx, &did, &mut seen, &mut last_seq, |s| s.len() == 4).await;
    assert_eq!(
        seen.iter()
            .map(|(_, ops, _)| ops.clone())
            .collect::<Vec<_>>(),
        vec![
            vec![("create".to_owned(), path_a.clone())],
            vec![("create".to_owned(), path_b.clone())],
            vec![("update".to_owned(), path_a.clone())],
            vec![("delete".to_owned(), path_b.clone())],
        ]
    );

    // It did reconnect, resuming from the last seq handed out.
    let mut events = Vec::new();
    while let Ok(e) = conn_rx.try_recv() {
        events.push(e);
    }
    let resumed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ConnectionEvent::Connected { cursor } => Some(*cursor),
            _ => None,
        })
        .collect();
    assert!(
        !resumed.is_empty(),
        "no reconnect after the cut: {events:?}"
    );
    let resume_cursor = resumed[0].expect("the reconnect sends a cursor");
    assert!(
        resume_cursor >= seen[0].0,
        "{resume_cursor} < {}",
        seen[0].0
    );
    assert!(
        resume_cursor < seen[1].0,
        "{resume_cursor} >= {}",
        seen[1].0
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, ConnectionEvent::Retrying { .. })));

    // The cursor hook saw every seq once, in order.
    let cursors = cursors.lock().unwrap().clone();
    assert!(
        cursors.windows(2).all(|w| w[0] < w[1]),
        "cursor went backwards"
    );
    let set: BTreeSet<_> = cursors.iter().collect();
    assert_eq!(set.len(), cursors.len());
    for (seq, _, _) in &seen {
        assert!(set.contains(seq));
    }
    reader.abort();

    // A restart from a saved cursor: a new subscriber from the seq of the
    // second write gets the third next (the PDS replays seq > cursor).
    let mut restarted = Subscriber::<SubscribeRepos>::builder(&pds.url)
        .cursor(Some(seen[1].0))
        .build()
        .unwrap();
    let next_own = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let msg = restarted
                .next()
                .await
                .expect("stream open")
                .expect("no error");
            if let atmo_api::com::atproto::sync::subscribe_repos::Message::Commit(c) = msg {
                if c.repo.as_str() == did {
                    return c.seq;
                }
            }
        }
    })
    .await
    .expect("the replay arrives");
    assert_eq!(next_own, seen[2].0);

    // The same commits through a fresh verifier, offline with the key from
    // the PLC document: replays are stale, a skipped commit is a gap, a
    // wrong prevData or a tampered block is invalid.
    let key = pds
        .resolver()
        .resolve_did(&did)
        .await
        .unwrap()
        .signing_key()
        .unwrap();
    let [c1, c2, c3, c4] = [&seen[0].2, &seen[1].2, &seen[2].2, &seen[3].2];
    let mut v = Verifier::offline();
    assert_eq!(v.check_with_key(c1, &key), Check::Valid);
    assert_eq!(v.state(&did).unwrap().rev, c1.rev());
    assert_eq!(v.check_with_key(c1, &key), Check::Stale);
    assert!(matches!(v.check_with_key(c3, &key), Check::Resync(_)));
    assert_eq!(v.state(&did).unwrap().rev, c3.rev(), "the state moves on");
    assert_eq!(v.check_with_key(c4, &key), Check::Valid);

    let mut wrong_prev = c2.clone();
    wrong_prev.prev_data = c4.prev_data;
    let mut v = Verifier::offline();
    let check = v.check_with_key(&wrong_prev, &key);
    assert!(
        matches!(
            check,
            Check::Invalid(VerifyError::Event(EventError::PrevData { .. }))
        ),
        "{check:?}"
    );
    assert!(v.state(&did).is_none(), "an invalid commit leaves no state");

    let mut tampered = c2.clone();
    let last = tampered.commit.blocks.0.len() - 1;
    tampered.commit.blocks.0[last] ^= 1;
    let check = v.check_with_key(&tampered, &key);
    assert!(
        matches!(
            check,
            Check::Invalid(VerifyError::Event(EventError::Car(_)))
        ),
        "{check:?}"
    );
}
