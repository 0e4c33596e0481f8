//! Automatic refresh across real token expiry.
//!
//! The harness's test-only switch makes the PDS issue access tokens that
//! expire after a few seconds; the PDS itself then answers 400
//! `ExpiredToken`. The agent's service URL is a recording proxy, so every
//! `refreshSession` is counted, while data calls go straight to the PDS named
//! in the didDoc.

use std::sync::Arc;
use std::time::Duration;

use atmo_api::com::atproto::repo::describe_repo;
use atmo_client::{AtpAgent, MemoryStore, SessionEvent};
use atproto_tests::proxy::Proxy;
use atproto_tests::{Events, Pds, PdsOptions};

use crate::new_account;

const REFRESH: &str = "com.atproto.server.refreshSession";

fn reactive_agent(service: &str, store: Arc<MemoryStore>) -> (AtpAgent, Events) {
    let events = Events::default();
    let agent = AtpAgent::builder(service)
        .session_store_arc(store)
        .on_session_event(events.hook())
        // No proactive refresh: let the server's ExpiredToken answer drive it.
        .refresh_margin(Duration::ZERO)
        .build()
        .unwrap();
    (agent, events)
}

async fn describe_me(agent: &AtpAgent) -> Result<(), atmo_client::Error> {
    let me = agent.did().expect("a session");
    agent
        .api()
        .com
        .atproto
        .repo
        .describe_repo(describe_repo::Parameters { repo: me.into() })
        .await
        .map(|_| ())
}

/// Calls keep succeeding across two expiries; one refreshSession
/// per expiry; the refresh token rotates and the new one is persisted.
#[tokio::test(flavor = "multi_thread")]
async fn calls_keep_working_across_expiry_with_one_refresh_each() {
    let Some(pds) = Pds::start_or_skip(&PdsOptions {
        access_ttl_secs: Some(3),
        ..Default::default()
    }) else {
        return;
    };
    let proxy = Proxy::start(&pds.url).await;
    let store = Arc::new(MemoryStore::new());
    let (agent, events) = reactive_agent(&proxy.url, store.clone());
    let (_, first) = new_account(&agent, "kate").await;
    assert_eq!(
        agent
            .pds_url()
            .map(|u| u.to_string().trim_end_matches('/').to_owned()),
        Some(pds.url.clone())
    );
    describe_me(&agent).await.expect("fresh token works");
    assert_eq!(proxy.count(REFRESH), 0);

    let mut previous_refresh = first.refresh_jwt.expose().to_owned();
    for expiry in 1..=2 {
        tokio::time::sleep(Duration::from_millis(4200)).await;
        describe_me(&agent)
            .await
            .expect("call after expiry succeeds");
        describe_me(&agent).await.expect("and the next one too");
        assert_eq!(
            proxy.count(REFRESH),
            expiry,
            "one refreshSession per expiry"
        );
        let current = agent.session().unwrap();
        assert_ne!(
            current.refresh_jwt.expose(),
            previous_refresh,
            "refresh token rotated"
        );
        let stored = store.get().expect("the store holds the session");
        assert_eq!(
            stored.refresh_jwt.expose(),
            current.refresh_jwt.expose(),
            "rotation persisted"
        );
        previous_refresh = current.refresh_jwt.expose().to_owned();
    }
    assert_eq!(
        events.names(),
        vec![
            SessionEvent::Create,
            SessionEvent::Update,
            SessionEvent::Update
        ]
    );
}

/// 100 concurrent calls across an expiry share exactly one
/// refreshSession, with zero failures.
#[tokio::test(flavor = "multi_thread")]
async fn hundred_concurrent_calls_share_one_refresh() {
    let Some(pds) = Pds::start_or_skip(&PdsOptions {
        access_ttl_secs: Some(8),
        ..Default::default()
    }) else {
        return;
    };
    let proxy = Proxy::start(&pds.url).await;
    let (agent, events) = reactive_agent(&proxy.url, Arc::new(MemoryStore::new()));
    new_account(&agent, "liam").await;
    tokio::time::sleep(Duration::from_millis(8500)).await;

    let calls: Vec<_> = (0..100)
        .map(|_| {
            let agent = agent.clone();
            tokio::spawn(async move { describe_me(&agent).await })
        })
        .collect();
    let mut failures = Vec::new();
    for call in calls {
        if let Err(e) = call.await.expect("task") {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(proxy.count(REFRESH), 1, "exactly one refreshSession");
    assert_eq!(
        events.names(),
        vec![SessionEvent::Create, SessionEvent::Update]
    );
}
