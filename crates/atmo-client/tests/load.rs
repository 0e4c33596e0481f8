//! Load: many concurrent authenticated calls across forced token expiries.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use atmo_client::store::BoxFuture;
use atmo_client::{AtpAgent, MemoryStore, SessionData, SessionEvent, SessionStore, StoreError};
use common::ep::{Echo, EchoParams};
use common::{fake_server, Fake, PASSWORD};

const REFRESH: &str = "com.atproto.server.refreshSession";
const TASKS: usize = 100;
const CALLS_PER_TASK: usize = 10;
/// Each access token dies after this many successful calls: with 1,000
/// calls, tokens 1 to 3 expire (3 × 300) and token 4 serves the last 100.
const CALLS_PER_TOKEN: u64 = 300;

type EventLog = Arc<Mutex<Vec<(SessionEvent, Option<String>)>>>;

/// A memory store that records every save and clear, in order.
#[derive(Default)]
struct Recording {
    inner: MemoryStore,
    log: Mutex<Vec<Option<String>>>,
}

impl SessionStore for Recording {
    fn load(&self) -> BoxFuture<'_, Result<Option<SessionData>, StoreError>> {
        self.inner.load()
    }
    fn save<'a>(&'a self, session: &'a SessionData) -> BoxFuture<'a, Result<(), StoreError>> {
        self.log
            .lock()
            .unwrap()
            .push(Some(session.access_jwt.expose().to_owned()));
        self.inner.save(session)
    }
    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.log.lock().unwrap().push(None);
        self.inner.clear()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_calls_from_a_hundred_tasks_across_three_expiries() {
    let fake = Fake::new();
    *fake.expire_after.lock().unwrap() = Some(CALLS_PER_TOKEN);
    let mock = fake_server(&fake).await;
    let store = Arc::new(Recording::default());
    let events: EventLog = Arc::default();
    let agent = AtpAgent::builder(&mock.url)
        .session_store_arc(store.clone())
        .on_session_event({
            let events = events.clone();
            move |e, _did, s| {
                events
                    .lock()
                    .unwrap()
                    .push((e, s.map(|s| s.access_jwt.expose().to_owned())))
            }
        })
        .build()
        .unwrap();
    agent
        .manager()
        .login(&atmo_client::Login::new("alice.test", PASSWORD))
        .await
        .unwrap();

    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let a = agent.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for _ in 0..CALLS_PER_TASK {
                    if let Err(e) = a.call::<Echo>(EchoParams::default(), ()).await {
                        failures.push(e.to_string());
                    }
                }
                failures
            })
        })
        .collect();
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(mock.count(REFRESH), 3);

    // Every call succeeded once; the others were rejected with an expired
    // token and each retried once, with the next token.
    let echoes = mock.of("com.example.echo");
    let ok = |n: u64| format!("ACCESS-TOKEN-{n}");
    let with = |n: u64| echoes.iter().filter(|r| r.bearer() == Some(&ok(n))).count();
    // (Counts include the calls rejected with that token.)
    for n in 1..=3 {
        assert!(
            with(n) >= CALLS_PER_TOKEN as usize,
            "token {n}: {}",
            with(n)
        );
    }
    assert_eq!((1..=4).map(with).sum::<usize>(), echoes.len());
    let rejected = echoes.len() - TASKS * CALLS_PER_TASK;
    assert!(
        rejected <= TASKS * 3,
        "at most one rejection per task and expiry: {rejected}"
    );

    // Every refresh presented the refresh token of the session before it.
    let refreshes = mock.of(REFRESH);
    for (i, r) in refreshes.iter().enumerate() {
        assert_eq!(
            r.bearer(),
            Some(format!("REFRESH-TOKEN-{}", i + 1).as_str())
        );
    }

    // Persisted in order: Create, then one Update per refresh.
    let expected: Vec<_> = [
        (SessionEvent::Create, 1),
        (SessionEvent::Update, 2),
        (SessionEvent::Update, 3),
        (SessionEvent::Update, 4),
    ]
    .into_iter()
    .map(|(e, n)| (e, Some(ok(n))))
    .collect();
    assert_eq!(*events.lock().unwrap(), expected);
    let saved: Vec<_> = (1..=4).map(|n| Some(ok(n))).collect();
    assert_eq!(*store.log.lock().unwrap(), saved);
    assert_eq!(store.inner.get(), agent.session());
}
