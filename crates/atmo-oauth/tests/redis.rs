//! The Redis store against a real `redis-server` started on loopback.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "redis")]

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use atmo_oauth::{
    AuthState, Es256Key, OAuthSessionData, OAuthSessionStore, RedisStore, StateStore,
};
use atmo_types::Did;
use atmo_xrpc::Secret;
use redis_server::RedisServer;

fn session(did: &Did) -> OAuthSessionData {
    OAuthSessionData {
        did: did.clone(),
        issuer: "https://as.example".into(),
        pds: "https://pds.example".into(),
        scope: "atproto".into(),
        access_token: Secret::new("at-1"),
        refresh_token: Some(Secret::new("rt-1")),
        expires_at: Some(1),
        issued_at: None,
        dpop_key: Es256Key::generate().unwrap(),
        token_endpoint: "https://as.example/oauth/token".into(),
        revocation_endpoint: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn states_are_taken_once_and_sessions_round_trip() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let store = RedisStore::connect(&server.url).await.unwrap();
    let state = AuthState {
        issuer: "https://as.example".into(),
        dpop_key: Es256Key::generate().unwrap(),
        verifier: Secret::new("v"),
        redirect_uri: "http://127.0.0.1/cb".into(),
        app_state: Some("app".into()),
        expected_did: None,
        created_at: 5,
    };
    store.save_state("s1", &state).await.unwrap();
    let other = RedisStore::connect(&server.url).await.unwrap();
    let (a, b) = tokio::join!(store.take_state("s1"), other.take_state("s1"));
    let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(
        taken.len(),
        1,
        "a state is taken once even by racing callbacks"
    );
    assert_eq!(taken[0].dpop_key, state.dpop_key);
    assert_eq!(taken[0].app_state.as_deref(), Some("app"));

    let did = Did::new("did:plc:redis1").unwrap();
    assert!(store.load_session(&did).await.unwrap().is_none());
    let s = session(&did);
    store.save_session(&s).await.unwrap();
    assert_eq!(other.load_session(&did).await.unwrap(), Some(s));
    other.clear_session(&did).await.unwrap();
    assert!(store.load_session(&did).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn states_expire() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let store = RedisStore::connect(&server.url)
        .await
        .unwrap()
        .state_ttl(Duration::from_millis(50));
    let state = AuthState {
        issuer: "https://as.example".into(),
        dpop_key: Es256Key::generate().unwrap(),
        verifier: Secret::new("v"),
        redirect_uri: "http://127.0.0.1/cb".into(),
        app_state: None,
        expected_did: None,
        created_at: 5,
    };
    store.save_state("old", &state).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store.take_state("old").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_excludes_other_connections_until_released() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let a = RedisStore::connect(&server.url).await.unwrap();
    let b = RedisStore::connect(&server.url).await.unwrap();
    let did = Did::new("did:plc:locked").unwrap();
    let held = a.lock_session(&did).await.unwrap();
    let acquired = Arc::new(AtomicBool::new(false));
    let flag = acquired.clone();
    let did2 = did.clone();
    let waiter = tokio::spawn(async move {
        let guard = b.lock_session(&did2).await.unwrap();
        flag.store(true, Ordering::SeqCst);
        drop(guard);
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!acquired.load(Ordering::SeqCst), "the lock is exclusive");
    drop(held);
    waiter.await.unwrap();
    assert!(acquired.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_holders_lock_expires_and_times_out_waiters_meanwhile() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let a = RedisStore::connect(&server.url)
        .await
        .unwrap()
        .lock_times(Duration::from_millis(400), Duration::from_millis(100));
    let did = Did::new("did:plc:dead").unwrap();
    let held = a.lock_session(&did).await.unwrap();
    std::mem::forget(held); // the holder dies without releasing
    let err = a.lock_session(&did).await.unwrap_err();
    assert_eq!(err.kind, atmo_client::StoreErrorKind::LockTimeout);
    tokio::time::sleep(Duration::from_millis(450)).await;
    a.lock_session(&did).await.unwrap();
}
