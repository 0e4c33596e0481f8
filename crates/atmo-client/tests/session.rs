//! Session lifecycle against an in-process recording server.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use atmo_client::{
    AtpAgent, CallOptions, Error, MemoryStore, SessionData, SessionEvent, SessionStore,
};
use common::ep::{self, ConfirmEmailError, Echo, EchoParams};
use common::{fake_server, Events, Fake, Mock, RefreshMode, Reply, CODE, DID, PASSWORD};
use serde_json::json;

use SessionEvent::*;

const REFRESH: &str = "com.atproto.server.refreshSession";

fn agent_for(mock: &Mock, events: &Events) -> AtpAgent {
    AtpAgent::builder(&mock.url)
        .on_session_event(events.hook())
        .build()
        .unwrap()
}

async fn login(agent: &AtpAgent) -> SessionData {
    agent
        .login(atmo_client::Login::new("alice.test", PASSWORD))
        .await
        .unwrap()
}

async fn echo(agent: &AtpAgent) -> Result<serde_json::Value, Error<ep::EchoError>> {
    agent.call::<Echo>(EchoParams::default(), ()).await
}

#[tokio::test]
async fn login_creates_session_and_authenticates_calls() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let agent = agent_for(&mock, &events);
    assert!(!agent.has_session());
    assert_eq!(agent.did(), None);
    let s = login(&agent).await;
    assert_eq!(s.did.as_str(), DID);
    assert_eq!(s.handle, "alice.test");
    assert_eq!(s.email.as_deref(), Some("alice@example.test"));
    assert!(agent.has_session());
    assert_eq!(agent.did().unwrap().as_str(), DID);
    assert_eq!(events.take(), vec![Create]);
    // No didDoc: everything stays on the service.
    assert_eq!(agent.pds_url(), None);
    let out = agent
        .call::<Echo>(
            EchoParams {
                limit: Some(5),
                tags: vec!["a b".into(), "c&d".into()],
            },
            (),
        )
        .await
        .unwrap();
    assert_eq!(
        out["query"],
        json!([["limit", "5"], ["tag", "a b"], ["tag", "c&d"]])
    );
    let req = mock.of("com.example.echo").pop().unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.bearer(), fake.current_access().as_deref());
    assert_eq!(req.header("accept"), Some("application/json"));
    // The login itself carried no Authorization.
    assert!(mock.of("com.atproto.server.createSession")[0]
        .auth()
        .is_none());
}

#[tokio::test]
async fn login_failure_fires_create_failed_and_is_typed() {
    let fake = Fake::with_2fa();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let agent = agent_for(&mock, &events);
    // Wrong password: undeclared name, with status.
    match agent
        .login(atmo_client::Login::new("alice.test", "nope"))
        .await
    {
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
            atmo_client::atmo_xrpc::XrpcError {
                status: 401,
                error,
                message,
                nsid,
                ..
            },
        ))) => {
            assert_eq!(error, "AuthenticationRequired");
            assert_eq!(nsid, "com.atproto.server.createSession");
            assert!(message.unwrap().contains("Invalid identifier"));
        }
        other => panic!("{other:?}"),
    }
    // 2FA: 401 AuthFactorTokenRequired as the entryway answers; typed.
    let r = agent
        .login(atmo_client::Login::new("alice.test", PASSWORD))
        .await;
    assert!(
        matches!(r, Err(Error::Api { error: atmo_client::atmo_api::com::atproto::server::create_session::Error::AuthFactorTokenRequired(Some(ref msg)), .. }) if msg.contains("sign in code")),
        "{r:?}"
    );
    assert!(!agent.has_session());
    // No refresh is attempted for a 401 on login.
    assert_eq!(mock.count(REFRESH), 0);
    let s = agent
        .login(atmo_client::Login::new("alice.test", PASSWORD).auth_factor_token(CODE))
        .await
        .unwrap();
    assert_eq!(s.did.as_str(), DID);
    assert_eq!(events.take(), vec![CreateFailed, CreateFailed, Create]);
}

#[tokio::test]
async fn expired_token_refreshes_once_and_retries_identical_bytes() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let agent = agent_for(&mock, &events);
    let first = login(&agent).await;
    events.take();
    fake.expire_access();
    let input = json!({"text": "héllo", "n": [1, 2, 3]});
    let out = agent.call::<ep::Write>((), input.clone()).await.unwrap();
    assert_eq!(out["body"], input);
    let writes = mock.of("com.example.write");
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[0].body, writes[1].body);
    assert_eq!(writes[0].header("content-type"), Some("application/json"));
    assert_eq!(writes[1].header("content-type"), Some("application/json"));
    assert_eq!(writes[0].bearer(), Some(first.access_jwt.expose()));
    assert_eq!(writes[1].bearer(), fake.current_access().as_deref());
    let refresh = mock.of(REFRESH);
    assert_eq!(refresh.len(), 1);
    assert_eq!(refresh[0].bearer(), Some(first.refresh_jwt.expose()));
    assert_eq!(events.take(), vec![Update]);
    let now = agent.session().unwrap();
    assert_ne!(now.access_jwt, first.access_jwt);
    assert_ne!(now.refresh_jwt, first.refresh_jwt);
}

#[tokio::test]
async fn any_401_refreshes_too() {
    let fake = Fake::new();
    let f = fake.clone();
    let mock = Mock::start(move |r| {
        if r.nsid == "com.example.echo" && r.bearer() == Some("ACCESS-TOKEN-1") {
            return Reply::Raw {
                status: 401,
                content_type: "text/plain",
                body: b"Unauthorized".to_vec(),
                headers: vec![],
            };
        }
        f.handle(r)
    })
    .await;
    let agent = agent_for(&mock, &Events::default());
    login(&agent).await;
    echo(&agent).await.unwrap();
    assert_eq!(mock.count(REFRESH), 1);
    assert_eq!(mock.count("com.example.echo"), 2);
}

#[tokio::test]
async fn no_retry_when_the_token_did_not_change() {
    // A 401 after which the refreshed session is rejected again: the second
    // answer is returned, no loop.
    let fake = Fake::new();
    let f = fake.clone();
    let mock = Mock::start(move |r| {
        if r.nsid == "com.example.echo" {
            return Reply::err(401, "AuthMissing", "nope");
        }
        f.handle(r)
    })
    .await;
    let agent = agent_for(&mock, &Events::default());
    login(&agent).await;
    let e = echo(&agent).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(mock.count(REFRESH), 1);
    assert_eq!(mock.count("com.example.echo"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_calls_share_one_refresh() {
    let fake = Fake::new();
    *fake.refresh_delay.lock().unwrap() = Duration::from_millis(100);
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let agent = agent_for(&mock, &events);
    login(&agent).await;
    events.take();
    fake.expire_access();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let agent = agent.clone();
        tasks.push(tokio::spawn(async move {
            agent
                .call::<Echo>(
                    EchoParams {
                        limit: Some(i),
                        tags: vec![],
                    },
                    (),
                )
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 200);
    assert_eq!(mock.count(REFRESH), 1);
    assert_eq!(events.take(), vec![Update]);
    // Every success used the refreshed token.
    let fresh = fake.current_access().unwrap();
    let echoes = mock.of("com.example.echo");
    let with_fresh = echoes
        .iter()
        .filter(|r| r.bearer() == Some(fresh.as_str()))
        .count();
    assert_eq!(with_fresh, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_during_a_refresh_wait_for_it() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let agent = agent_for(&mock, &Events::default());
    let first = login(&agent).await;
    *fake.refresh_delay.lock().unwrap() = Duration::from_millis(300);
    let a2 = agent.clone();
    let refresh = tokio::spawn(async move { a2.refresh_session().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Issued while the refresh runs: must not send the old token.
    echo(&agent).await.unwrap();
    let new = refresh.await.unwrap().unwrap();
    let echoes = mock.of("com.example.echo");
    assert_eq!(echoes.len(), 1);
    assert_eq!(echoes[0].bearer(), Some(new.access_jwt.expose()));
    assert_ne!(new.access_jwt, first.access_jwt);
}

#[tokio::test]
async fn rejected_refresh_expires_session_and_clears_store() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let store = Arc::new(MemoryStore::new());
    let agent = AtpAgent::builder(&mock.url)
        .on_session_event(events.hook())
        .session_store_arc(store.clone())
        .build()
        .unwrap();
    login(&agent).await;
    assert!(store.get().is_some());
    fake.expire_access();
    *fake.mode.lock().unwrap() = RefreshMode::Reject;
    match echo(&agent).await {
        Err(Error::Session(atmo_client::SessionError::Expired { error, message })) => {
            assert_eq!(error, "ExpiredToken");
            assert_eq!(message.as_deref(), Some("Token has been revoked"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(events.take(), vec![Create, Expired]);
    assert!(!agent.has_session());
    assert!(store.get().is_none());
    // Later calls go out unauthenticated (public endpoints still work).
    let _ = echo(&agent).await;
    assert!(mock.of("com.example.echo").last().unwrap().auth().is_none());
    assert_eq!(mock.count(REFRESH), 1);
}

#[tokio::test]
async fn refresh_network_failure_keeps_session_and_retries_later() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let store = Arc::new(MemoryStore::new());
    let agent = AtpAgent::builder(&mock.url)
        .on_session_event(events.hook())
        .session_store_arc(store.clone())
        .build()
        .unwrap();
    let s = login(&agent).await;
    events.take();
    fake.expire_access();
    *fake.mode.lock().unwrap() = RefreshMode::Abort;
    match echo(&agent).await {
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(t))) => {
            assert_eq!(t.nsid, REFRESH)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(events.take(), vec![NetworkError]);
    assert_eq!(agent.session().unwrap(), s);
    assert_eq!(store.get().unwrap(), s);
    // A 5xx is transient too.
    *fake.mode.lock().unwrap() = RefreshMode::ServerError;
    assert_eq!(echo(&agent).await.unwrap_err().status(), Some(500));
    assert_eq!(events.take(), vec![NetworkError]);
    assert_eq!(store.get().unwrap(), s);
    // The network is back: the next call refreshes and succeeds.
    *fake.mode.lock().unwrap() = RefreshMode::Ok;
    echo(&agent).await.unwrap();
    assert_eq!(events.take(), vec![Update]);
    assert_eq!(mock.count(REFRESH), 3);
    assert_ne!(store.get().unwrap(), s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_share_one_failed_refresh() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let agent = agent_for(&mock, &Events::default());
    login(&agent).await;
    fake.expire_access();
    *fake.mode.lock().unwrap() = RefreshMode::Abort;
    *fake.refresh_delay.lock().unwrap() = Duration::from_millis(100);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let a = agent.clone();
            tokio::spawn(async move { echo(&a).await })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().is_err());
    }
    assert_eq!(mock.count(REFRESH), 1);
    assert!(agent.has_session());
}

#[tokio::test]
async fn endpoint_declaring_expired_token_gets_typed_error_without_refresh() {
    let fake = Fake::new();
    let f = fake.clone();
    let mock = Mock::start(move |r| {
        if r.nsid == "com.atproto.server.confirmEmail" {
            return Reply::err(400, "ExpiredToken", "Token is expired");
        }
        f.handle(r)
    })
    .await;
    let agent = agent_for(&mock, &Events::default());
    login(&agent).await;
    let r = agent
        .call::<ep::ConfirmEmail>((), json!({"email": "a@b.c", "token": "12345"}))
        .await;
    assert!(
        matches!(r, Err(Error::Api { error: ConfirmEmailError::ExpiredToken(Some(ref m)), .. }) if m == "Token is expired"),
        "{r:?}"
    );
    assert_eq!(mock.count(REFRESH), 0);
    assert_eq!(mock.count("com.atproto.server.confirmEmail"), 1);
    // Same through the raw call by NSID.
    let r = agent
        .procedure_json("com.atproto.server.confirmEmail", &[], Some(&json!({})))
        .await;
    assert!(
        matches!(r, Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(atmo_client::atmo_xrpc::XrpcError { ref error, .. }))) if error == "ExpiredToken")
    );
    assert_eq!(mock.count(REFRESH), 0);
}

#[tokio::test]
async fn caller_authorization_is_left_alone() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let agent = agent_for(&mock, &Events::default());
    login(&agent).await;
    let opts = CallOptions::new().header("Authorization", "Bearer mine");
    let r = agent
        .call_with::<Echo>(&EchoParams::default(), &(), &opts)
        .await;
    assert!(matches!(
        r,
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
            atmo_client::atmo_xrpc::XrpcError { status: 400, .. }
        )))
    ));
    let reqs = mock.of("com.example.echo");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].auth(), Some("Bearer mine"));
    assert_eq!(mock.count(REFRESH), 0);
}

#[tokio::test]
async fn proactive_refresh_from_jwt_exp() {
    let fake = Fake::new();
    *fake.jwt_exp.lock().unwrap() = Some(-10); // already expired
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let agent = agent_for(&mock, &events);
    login(&agent).await;
    *fake.jwt_exp.lock().unwrap() = Some(3600);
    echo(&agent).await.unwrap();
    // Refreshed before sending: the only echo carried the new token.
    let echoes = mock.of("com.example.echo");
    assert_eq!(echoes.len(), 1);
    assert_eq!(echoes[0].bearer(), fake.current_access().as_deref());
    assert_eq!(mock.count(REFRESH), 1);
    assert_eq!(events.take(), vec![Create, Update]);
    // Fresh token: no further refresh.
    echo(&agent).await.unwrap();
    assert_eq!(mock.count(REFRESH), 1);
}

#[tokio::test]
async fn wrong_clock_does_not_refresh_every_call() {
    let fake = Fake::new();
    *fake.jwt_exp.lock().unwrap() = Some(-10); // the server keeps minting "expired" tokens
    let mock = fake_server(&fake).await;
    let agent = agent_for(&mock, &Events::default());
    login(&agent).await;
    for _ in 0..3 {
        echo(&agent).await.unwrap();
    }
    assert_eq!(mock.count(REFRESH), 1);
}

#[tokio::test]
async fn pds_discovery_switches_requests_after_login() {
    let fake = Fake::new();
    let pds_fake = fake.clone();
    let pds = Mock::start(move |r| pds_fake.handle(r)).await;
    *fake.pds_url.lock().unwrap() = Some(pds.url.clone());
    let entryway = fake_server(&fake).await;
    let agent = agent_for(&entryway, &Events::default());
    login(&agent).await;
    assert_eq!(agent.service_url().as_str(), format!("{}/", entryway.url));
    assert_eq!(agent.pds_url().unwrap().as_str(), format!("{}/", pds.url));
    echo(&agent).await.unwrap();
    assert_eq!(pds.count("com.example.echo"), 1);
    assert_eq!(entryway.count("com.example.echo"), 0);
    // Session calls stay on the service.
    fake.expire_access();
    echo(&agent).await.unwrap();
    assert_eq!(entryway.count(REFRESH), 1);
    assert_eq!(pds.count(REFRESH), 0);
    assert_eq!(pds.count("com.example.echo"), 3);
    // A refresh answer without a didDoc goes back to the service.
    *fake.pds_url.lock().unwrap() = None;
    agent.refresh_session().await.unwrap();
    assert_eq!(agent.pds_url(), None);
}

#[tokio::test]
async fn insecure_pds_is_not_followed() {
    let fake = Fake::new();
    *fake.pds_url.lock().unwrap() = Some("http://pds.example.com".into());
    let mock = fake_server(&fake).await;
    let agent = agent_for(&mock, &Events::default());
    login(&agent).await;
    assert_eq!(agent.pds_url(), None);
}

#[tokio::test]
async fn http_is_refused_except_loopback() {
    for url in [
        "http://bsky.social",
        "http://10.0.0.1:2583",
        "http://example.com/",
    ] {
        match AtpAgent::builder(url).build() {
            Err(e @ Error::Config(_))
                if matches!(
                    e.config().and_then(|c| c.url_error()),
                    Some(atmo_client::atmo_xrpc::UrlError::Insecure(_))
                ) =>
            {
                assert!(e.to_string().contains("refusing"))
            }
            other => panic!("{url}: {other:?}"),
        }
        assert!(AtpAgent::builder(url)
            .allow_insecure_http(true)
            .build()
            .is_ok());
    }
    for url in [
        "http://localhost:2583",
        "http://127.0.0.1",
        "http://[::1]:80",
        "https://bsky.social",
    ] {
        assert!(AtpAgent::builder(url).build().is_ok(), "{url}");
    }
    for url in ["ftp://x", "not a url", "mailto:a@b.c", ""] {
        assert!(
            matches!(
                AtpAgent::builder(url).build(),
                Err(Error::Config(c)) if matches!(
                    c.url_error(),
                    Some(atmo_client::atmo_xrpc::UrlError::Invalid(_))
                )
            ),
            "{url}"
        );
    }
}

#[tokio::test]
async fn resume_session_validates_and_updates() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let agent = agent_for(&mock, &events);
    let mut saved = login(&agent).await;
    // Saved by an older run: handle and status changed since.
    saved.handle = "old.test".into();
    saved.email = None;
    *fake.handle.lock().unwrap() = "new.test".into();
    let pds = Mock::start(|_| Reply::ok(json!({}))).await;
    *fake.pds_url.lock().unwrap() = Some(pds.url.clone());
    let other = agent_for(&mock, &events);
    events.take();
    let s = other.resume_session(saved.clone()).await.unwrap();
    assert_eq!(s.handle, "new.test");
    assert_eq!(s.email.as_deref(), Some("alice@example.test"));
    assert_eq!(s.access_jwt, saved.access_jwt);
    assert_eq!(other.pds_url().unwrap().as_str(), format!("{}/", pds.url));
    assert_eq!(events.take(), vec![Update]);
    let get = mock.of("com.atproto.server.getSession");
    assert_eq!(
        get.last().unwrap().bearer(),
        Some(saved.access_jwt.expose())
    );
    assert_eq!(mock.count(REFRESH), 0);
}

#[tokio::test]
async fn resume_refreshes_an_expired_session() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let agent = agent_for(&mock, &events);
    let saved = login(&agent).await;
    fake.expire_access();
    let other = agent_for(&mock, &events);
    events.take();
    let s = other.resume_session(saved.clone()).await.unwrap();
    assert_ne!(s.access_jwt, saved.access_jwt);
    assert_eq!(mock.count(REFRESH), 1);
    assert_eq!(events.take(), vec![Update, Update]);
}

#[tokio::test]
async fn resume_with_another_did_is_an_error() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let agent = agent_for(&mock, &Events::default());
    let saved = login(&agent).await;
    *fake.did.lock().unwrap() = "did:plc:mallory000000000000000000".into();
    match agent.resume_session(saved).await {
        Err(Error::Session(atmo_client::SessionError::DidMismatch { expected, actual })) => {
            assert_eq!(expected.as_str(), DID);
            assert_eq!(actual.as_str(), "did:plc:mallory000000000000000000");
        }
        other => panic!("{other:?}"),
    }
    assert!(!agent.has_session());
}

#[tokio::test]
async fn resume_failures_fire_expired_or_network_error() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let agent = agent_for(&mock, &events);
    let saved = login(&agent).await;
    fake.expire_access();
    *fake.mode.lock().unwrap() = RefreshMode::Abort;
    events.take();
    assert!(matches!(
        agent.resume_session(saved.clone()).await,
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(_)))
    ));
    assert_eq!(events.take(), vec![NetworkError]);
    assert_eq!(agent.session().unwrap(), saved);
    *fake.mode.lock().unwrap() = RefreshMode::Reject;
    assert!(matches!(
        agent.resume_session(saved.clone()).await,
        Err(Error::Session(atmo_client::SessionError::Expired { .. }))
    ));
    assert_eq!(events.take(), vec![Expired]);
    assert!(!agent.has_session());
    // Transport failure of getSession itself.
    let dead = AtpAgent::builder("http://127.0.0.1:9")
        .on_session_event(events.hook())
        .build()
        .unwrap();
    assert!(matches!(
        dead.resume_session(saved.clone()).await,
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(_)))
    ));
    assert_eq!(events.take(), vec![NetworkError]);
    assert_eq!(dead.session().unwrap(), saved);
}

#[tokio::test]
async fn logout_revokes_and_clears_even_on_failure() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let store = Arc::new(MemoryStore::new());
    let agent = AtpAgent::builder(&mock.url)
        .on_session_event(events.hook())
        .session_store_arc(store.clone())
        .build()
        .unwrap();
    let s = login(&agent).await;
    agent.logout().await.unwrap();
    let del = mock.of("com.atproto.server.deleteSession");
    assert_eq!(del.len(), 1);
    assert_eq!(del[0].method, "POST");
    assert_eq!(del[0].bearer(), Some(s.refresh_jwt.expose()));
    assert!(!agent.has_session());
    assert!(store.get().is_none());
    assert_eq!(events.take(), vec![Create, Expired]);
    // Without a session: nothing to do.
    agent.logout().await.unwrap();
    assert_eq!(mock.count("com.atproto.server.deleteSession"), 1);
    assert!(events.take().is_empty());

    // Server failure: still cleared locally, failure returned.
    let failing = Mock::start({
        let f = fake.clone();
        move |r| {
            if r.nsid == "com.atproto.server.deleteSession" {
                return Reply::err(500, "InternalServerError", "db down");
            }
            f.handle(r)
        }
    })
    .await;
    let agent = AtpAgent::builder(&failing.url)
        .on_session_event(events.hook())
        .session_store_arc(store.clone())
        .build()
        .unwrap();
    login(&agent).await;
    assert!(store.get().is_some());
    let e = agent.logout().await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(!agent.has_session());
    assert!(store.get().is_none());
    assert_eq!(events.take(), vec![Create, Expired]);
}

#[tokio::test]
async fn async_hook_events_are_ordered_and_awaited() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let log: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let l2 = log.clone();
    let agent = AtpAgent::builder(&mock.url)
        .on_session_event_async(move |event, _did, session| {
            let log = l2.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("start {}", event.as_str()));
                tokio::time::sleep(Duration::from_millis(30)).await;
                let has = session.is_some();
                log.lock()
                    .unwrap()
                    .push(format!("end {} {has}", event.as_str()));
            }
        })
        .build()
        .unwrap();
    login(&agent).await;
    assert_eq!(*log.lock().unwrap(), ["start create", "end create true"]);
    fake.expire_access();
    echo(&agent).await.unwrap();
    agent.logout().await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "start create",
            "end create true",
            "start update",
            "end update true",
            "start expired",
            "end expired false"
        ]
    );
}

#[tokio::test]
async fn proxy_and_labeler_headers_per_agent_and_per_call() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let agent = AtpAgent::builder(&mock.url)
        .accept_labelers(["did:plc:labeler;redact", "did:plc:other"])
        .build()
        .unwrap();
    login(&agent).await;
    echo(&agent).await.unwrap();
    let r = mock.of("com.example.echo").pop().unwrap();
    assert_eq!(
        r.header("atproto-accept-labelers"),
        Some("did:plc:labeler;redact, did:plc:other")
    );
    assert_eq!(r.header("atproto-proxy"), None);

    let chat = agent.with_proxy("did:web:api.bsky.chat", "bsky_chat");
    echo(&chat).await.unwrap();
    let r = mock.of("com.example.echo").pop().unwrap();
    assert_eq!(
        r.header("atproto-proxy"),
        Some("did:web:api.bsky.chat#bsky_chat")
    );
    assert_eq!(
        r.header("atproto-accept-labelers"),
        Some("did:plc:labeler;redact, did:plc:other")
    );
    // The clone shares the session.
    assert_eq!(r.bearer(), fake.current_access().as_deref());

    let opts = CallOptions::new()
        .proxy("did:web:labeler.test", "#atproto_labeler")
        .accept_labelers(["did:plc:x"]);
    agent
        .call_with::<Echo>(&EchoParams::default(), &(), &opts)
        .await
        .unwrap();
    let r = mock.of("com.example.echo").pop().unwrap();
    assert_eq!(
        r.header("atproto-proxy"),
        Some("did:web:labeler.test#atproto_labeler")
    );
    assert_eq!(r.header("atproto-accept-labelers"), Some("did:plc:x"));
    // And the agent's own defaults are untouched.
    echo(&agent).await.unwrap();
    assert_eq!(
        mock.of("com.example.echo")
            .pop()
            .unwrap()
            .header("atproto-proxy"),
        None
    );
}

#[tokio::test]
async fn store_adopts_a_session_refreshed_by_another_process() {
    let dir = tempdir();
    let path = dir.join("session.json");
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let a = AtpAgent::builder(&mock.url)
        .session_store(atmo_client::FileStore::new(&path))
        .build()
        .unwrap();
    let b = AtpAgent::builder(&mock.url)
        .session_store(atmo_client::FileStore::new(&path))
        .build()
        .unwrap();
    login(&a).await;
    b.resume_from_store().await.unwrap().unwrap();
    fake.expire_access();
    // A refreshes (rotating the refresh token) and saves.
    echo(&a).await.unwrap();
    assert_eq!(mock.count(REFRESH), 1);
    // B still holds the old tokens; it must adopt A's session, not burn it.
    echo(&b).await.unwrap();
    assert_eq!(mock.count(REFRESH), 1);
    assert_eq!(a.session(), b.session());
    echo(&a).await.unwrap();
    assert_eq!(mock.count(REFRESH), 1);
    // The lock is released after each refresh (its file stays: the lock is
    // the operating system's, on the open file).
    let store = atmo_client::FileStore::new(&path).lock_timeout(std::time::Duration::ZERO);
    assert!(atmo_client::store::SessionStore::lock(&store).await.is_ok());
}

/// A store whose first load (under the lock) still shows the old session,
/// as when another process saves between our look and our refresh.
struct LateStore {
    inner: MemoryStore,
    later: std::sync::Mutex<Option<SessionData>>,
    loads: std::sync::atomic::AtomicUsize,
}

impl SessionStore for LateStore {
    fn load(
        &self,
    ) -> atmo_client::store::BoxFuture<'_, Result<Option<SessionData>, atmo_client::StoreError>>
    {
        let n = self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n >= 1 {
            if let Some(s) = self.later.lock().unwrap().take() {
                self.inner.save_now(s);
            }
        }
        self.inner.load()
    }
    fn save<'a>(
        &'a self,
        s: &'a SessionData,
    ) -> atmo_client::store::BoxFuture<'a, Result<(), atmo_client::StoreError>> {
        self.inner.save(s)
    }
    fn clear(&self) -> atmo_client::store::BoxFuture<'_, Result<(), atmo_client::StoreError>> {
        self.inner.clear()
    }
}

trait SaveNow {
    fn save_now(&self, s: SessionData);
}
impl SaveNow for MemoryStore {
    fn save_now(&self, s: SessionData) {
        futures_lite_block(self.save(&s)).unwrap();
    }
}

fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    // MemoryStore futures are ready immediately.
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("not ready"),
    }
}

#[tokio::test]
async fn revoked_refresh_rereads_the_store_before_expiring() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    // Another process's agent, sharing nothing but the server.
    let other = agent_for(&mock, &Events::default());
    let store = Arc::new(LateStore {
        inner: MemoryStore::new(),
        later: Default::default(),
        loads: Default::default(),
    });
    let events = Events::default();
    let agent = AtpAgent::builder(&mock.url)
        .on_session_event(events.hook())
        .session_store_arc(store.clone())
        .build()
        .unwrap();
    login(&agent).await;
    // The other process resumes the same session and refreshes it: our
    // refresh token is now revoked; it saves the new one "just after" our
    // first look at the store.
    other
        .resume_session(agent.session().unwrap())
        .await
        .unwrap();
    let theirs = other.refresh_session().await.unwrap();
    *store.later.lock().unwrap() = Some(theirs.clone());
    fake.expire_access();
    *fake.access.lock().unwrap() = Some(theirs.access_jwt.expose().to_owned());
    events.take();
    // Our stale access token fails (the fake accepts only theirs), our
    // refresh is revoked, the re-read finds their session: adopted.
    echo(&agent).await.unwrap();
    assert_eq!(agent.session().unwrap(), theirs);
    assert_eq!(events.take(), vec![Update]);
    assert!(agent.has_session());
}

/// A fresh, empty directory of its own for one test.
pub fn tempdir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "atmo-client-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
