//! The layers as a user meets them: a session built on its own and handed to
//! an agent, errors of every layer, one error type across endpoints, a failed
//! save at login, and a persist hook that calls back into the agent.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use atmo_client::atmo_xrpc::{self, Authorizer, Bearer, NoAuth, Transport};
use atmo_client::{
    Agent, AnyError, AtpAgent, CredentialSession, Error, FileStore, Login, MemoryStore,
    SessionError, SessionEvent, SessionStore, StoreErrorKind,
};
use common::ep::{Echo, EchoError, EchoParams, Write};
use common::{fake_server, Events, Fake, Mock, Reply, PASSWORD};
use serde_json::json;

use SessionEvent::*;

/// A fake PDS whose `com.example.echo` answers the declared error
/// `Specific` with HTTP 409, and whose `com.example.write` answers an
/// undeclared one.
async fn server_with_errors(fake: &Arc<Fake>) -> Mock {
    let fake = fake.clone();
    Mock::start(move |r| match r.nsid.as_str() {
        "com.example.echo" => Reply::err(409, "Specific", "the specific failure"),
        "com.example.write" => Reply::err(418, "Teapot", "short and stout"),
        _ => fake.handle(r),
    })
    .await
}

#[tokio::test]
async fn a_credential_session_built_on_its_own_drives_an_agent() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let session = CredentialSession::builder(&mock.url)
        .session_store(MemoryStore::new())
        .on_session_event(events.hook())
        .build()
        .unwrap();
    session
        .login(&Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    let agent = Agent::new(session);
    assert_eq!(agent.did().unwrap().as_str(), common::DID);
    let out = agent
        .call::<Echo>(
            EchoParams {
                limit: Some(3),
                ..Default::default()
            },
            (),
        )
        .await
        .unwrap();
    assert_eq!(out["nsid"], "com.example.echo");
    // The request carried the session's token.
    let sent = mock.of("com.example.echo").pop().unwrap();
    assert_eq!(sent.bearer().map(str::to_owned), fake.current_access());
    assert_eq!(events.take(), vec![Create]);
}

#[tokio::test]
async fn typed_and_untyped_errors_keep_status_endpoint_and_message() {
    let fake = Fake::new();
    let mock = server_with_errors(&fake).await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    let e = agent
        .call::<Echo>(EchoParams::default(), ())
        .await
        .unwrap_err();
    match &e {
        Error::Api {
            error: EchoError::Specific(Some(m)),
            nsid,
            status: 409,
        } => {
            assert_eq!(m, "the specific failure");
            assert_eq!(nsid, "com.example.echo");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.status(), Some(409));
    assert_eq!(e.error_name(), Some("Specific"));
    assert_eq!(
        e.to_string(),
        "com.example.echo failed with HTTP 409 Specific: the specific failure"
    );
    // Untyped, nothing is invented: the same status and endpoint.
    match e.into_untyped() {
        Error::Xrpc(atmo_xrpc::Error::Xrpc(x)) => {
            assert_eq!((x.status, x.nsid.as_str()), (409, "com.example.echo"));
            assert_eq!(x.message.as_deref(), Some("the specific failure"));
        }
        other => panic!("{other:?}"),
    }
    // An undeclared name keeps the answer's headers too.
    match agent.call::<Write>((), json!({})).await.unwrap_err() {
        Error::Xrpc(atmo_xrpc::Error::Xrpc(x)) => {
            assert_eq!((x.status, x.error.as_str()), (418, "Teapot"));
            assert_eq!(x.header("content-type"), Some("application/json"));
        }
        other => panic!("{other:?}"),
    }
    // The message already names the typed error; the source chain does not
    // repeat it (printing the chain shows each line once).
    let e = agent
        .call::<Echo>(EchoParams::default(), ())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Specific: the specific failure"));
    let mut lines = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        lines.push(s.to_string());
        source = s.source();
    }
    for (i, a) in lines.iter().enumerate() {
        for b in &lines[i + 1..] {
            assert!(!a.contains(b.as_str()), "{lines:?}");
        }
    }
}

#[tokio::test]
async fn any_error_carries_two_endpoints_errors_through_question_mark() {
    let fake = Fake::new();
    let mock = server_with_errors(&fake).await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();

    async fn both(agent: &AtpAgent, echo_first: bool) -> Result<(), AnyError> {
        if echo_first {
            agent.call::<Echo>(EchoParams::default(), ()).await?;
        }
        agent.call::<Write>((), json!({})).await?;
        Ok(())
    }
    let e = both(&agent, true).await.unwrap_err();
    match &e {
        Error::Api { error, status, .. } => {
            assert_eq!((error.name(), *status), ("Specific", 409));
            // The typed error is still there.
            assert_eq!(
                error.downcast_ref::<EchoError>(),
                Some(&EchoError::Specific(Some("the specific failure".into())))
            );
            assert!(error.downcast_ref::<atmo_client::NoError>().is_none());
        }
        other => panic!("{other:?}"),
    }
    let e = both(&agent, false).await.unwrap_err();
    assert_eq!((e.status(), e.error_name()), (Some(418), Some("Teapot")));
}

#[tokio::test]
async fn a_login_whose_session_cannot_be_saved_leaves_everything_as_it_was() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let missing_dir = std::env::temp_dir()
        .join(format!("atproto-no-such-dir-{}", std::process::id()))
        .join("session.json");
    let agent = AtpAgent::builder(&mock.url)
        .session_store(FileStore::new(&missing_dir))
        .on_session_event(events.hook())
        .build()
        .unwrap();
    let e = agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap_err();
    match &e {
        Error::Session(SessionError::Store(s)) => assert_eq!(s.kind, StoreErrorKind::Io),
        other => panic!("{other:?}"),
    }
    assert!(!agent.has_session());
    assert_eq!(events.take(), vec![CreateFailed]);
    assert!(!missing_dir.exists());
    // The session the server created was revoked rather than left behind.
    assert_eq!(mock.count("com.atproto.server.deleteSession"), 1);
    assert!(fake.current_access().is_none());
    // Nothing goes out as if logged in.
    assert!(matches!(
        agent.call::<Echo>(EchoParams::default(), ()).await,
        Err(Error::Api { .. }) | Err(Error::Xrpc(_))
    ));
    assert!(mock
        .of("com.example.echo")
        .iter()
        .all(|r| r.bearer().is_none()));
}

#[tokio::test]
async fn a_persist_hook_that_calls_the_agent_gets_an_error_not_a_deadlock() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let slot: Arc<Mutex<Option<AtpAgent>>> = Arc::default();
    let (seen2, slot2) = (seen.clone(), slot.clone());
    let agent = AtpAgent::builder(&mock.url)
        .on_session_event_async(move |event, _, _| {
            let (seen, slot) = (seen2.clone(), slot2.clone());
            async move {
                let agent = slot.lock().unwrap().clone();
                if let (SessionEvent::Create, Some(agent)) = (event, agent) {
                    let r = agent.call::<Echo>(EchoParams::default(), ()).await;
                    seen.lock().unwrap().push(match r {
                        Err(Error::Session(SessionError::CalledFromHook)) => "refused".into(),
                        other => format!("{other:?}"),
                    });
                }
            }
        })
        .build()
        .unwrap();
    *slot.lock().unwrap() = Some(agent.clone());
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        agent.login(Login::new("alice.test", PASSWORD)),
    )
    .await
    .expect("login finishes: the hook's call does not wait for the login's lock")
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec!["refused".to_owned()]);
    // Outside the hook the same call works.
    agent.call::<Echo>(EchoParams::default(), ()).await.unwrap();
    slot.lock().unwrap().take();
}

#[tokio::test]
async fn the_transport_lets_an_authorizer_see_each_attempt_and_returns_headers() {
    struct Recording(Mutex<Vec<String>>);
    impl Authorizer for Recording {
        fn authorize(
            &self,
            method: atmo_xrpc::HttpMethod,
            url: &str,
            headers: &mut Vec<(String, String)>,
        ) -> Result<(), atmo_xrpc::Error> {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {url}", method.as_str()));
            headers.push(("authorization".into(), "Custom scheme".into()));
            Ok(())
        }
    }
    let mock = Mock::start(|r| {
        Reply::with_headers(
            200,
            json!({"auth": r.auth()}),
            vec![("dpop-nonce", "n-1".to_owned())],
        )
    })
    .await;
    let client = atmo_client::HyperClient::new().unwrap();
    let transport = Transport::new(Arc::new(client), Default::default());
    let base = atmo_xrpc::check_url(&mock.url, false).unwrap();
    let mut req = atmo_xrpc::XrpcRequest::new("com.example.echo", atmo_client::Method::Query);
    req.query = vec![("a".into(), "1".into())];
    let auth = Recording(Mutex::default());
    let answer = transport.send(&base, &req, &auth).await.unwrap();
    assert_eq!(answer.header("DPoP-Nonce"), Some("n-1"));
    let body: serde_json::Value = serde_json::from_slice(&answer.body.bytes).unwrap();
    assert_eq!(body["auth"], "Custom scheme");
    assert_eq!(
        *auth.0.lock().unwrap(),
        vec![format!("GET {}xrpc/com.example.echo?a=1", base.as_str())]
    );
    // The simple authorizers.
    let token = atmo_xrpc::Secret::new("t0k");
    let answer = transport.send(&base, &req, &Bearer(&token)).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&answer.body.bytes).unwrap();
    assert_eq!(body["auth"], "Bearer t0k");
    let answer = transport.send(&base, &req, &NoAuth).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&answer.body.bytes).unwrap();
    assert!(body["auth"].is_null());
}

#[tokio::test]
async fn large_bodies_stream_within_the_size_limit() {
    let big = vec![7u8; 300_000];
    let big2 = big.clone();
    let mock = Mock::start(move |r| match r.nsid.as_str() {
        "com.example.blob" => Reply::Raw {
            status: 200,
            content_type: "application/octet-stream",
            body: big2.clone(),
            headers: vec![],
        },
        _ => Reply::err(404, "NotFound", "no such thing"),
    })
    .await;
    let client = atmo_client::HyperClient::new().unwrap();
    let base = atmo_xrpc::check_url(&mock.url, false).unwrap();
    let req = atmo_xrpc::XrpcRequest::new("com.example.blob", atmo_client::Method::Query);
    let transport = Transport::new(Arc::new(client.clone()), Default::default());
    let mut answer = transport
        .send_streaming(&base, &req, &NoAuth)
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    let (mut total, mut chunks) = (Vec::new(), 0);
    while let Some(c) = answer.body.next_chunk().await.unwrap() {
        total.extend_from_slice(&c);
        chunks += 1;
    }
    assert_eq!(total, big);
    assert!(chunks >= 1);
    // The cap still holds while streaming.
    let small = Transport::new(
        Arc::new(client.clone()),
        atmo_xrpc::TransportConfig {
            max_response_size: 100_000,
            ..Default::default()
        },
    );
    let outcome = match small.send_streaming(&base, &req, &NoAuth).await {
        Err(e) => Err(e.to_string()),
        Ok(mut a) => loop {
            match a.body.next_chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e.to_string()),
            }
        },
    };
    assert!(outcome.unwrap_err().contains("100000"));
    // An error answer is classified as by `send`.
    let req = atmo_xrpc::XrpcRequest::new("com.example.other", atmo_client::Method::Query);
    match transport.send_streaming(&base, &req, &NoAuth).await {
        Err(atmo_xrpc::Error::Xrpc(x)) => {
            assert_eq!((x.status, x.error.as_str()), (404, "NotFound"))
        }
        other => panic!("{:?}", other.map(|a| a.status)),
    }
}

#[tokio::test]
async fn stores_keep_any_serializable_session_type() {
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Other {
        issuer: String,
        n: u32,
    }
    let dir = std::env::temp_dir().join(format!("atproto-generic-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = FileStore::<Other>::for_type(dir.join("other.json"));
    let value = Other {
        issuer: "https://auth.example".into(),
        n: 3,
    };
    file.save(&value).await.unwrap();
    assert_eq!(file.load().await.unwrap(), Some(value.clone()));
    // A password-session store refuses that file as not a session.
    let as_session = FileStore::new(dir.join("other.json"));
    let e = as_session.load().await.unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Corrupt);
    let memory = MemoryStore::<Other>::new();
    memory.save(&value).await.unwrap();
    assert_eq!(memory.get(), Some(value));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_idle_session_ends_locally_and_the_next_call_says_why() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let store = Arc::new(MemoryStore::new());
    let agent = AtpAgent::builder(&mock.url)
        .session_store_arc(store.clone())
        .on_session_event(events.hook())
        .idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    // Calls closer together than the timeout keep it alive.
    for _ in 0..4 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        agent.call::<Echo>(EchoParams::default(), ()).await.unwrap();
    }
    assert!(store.get().is_some());
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    match agent.call::<Echo>(EchoParams::default(), ()).await {
        Err(Error::Session(SessionError::Expired { error, message })) => {
            assert_eq!(error, "IdleTimeout");
            assert!(message.unwrap().contains("log in again"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!agent.has_session());
    assert!(store.get().is_none(), "the store is cleared");
    assert_eq!(events.take(), vec![Create, Expired]);
    // Nothing was sent for the idle call; no revocation either.
    assert_eq!(mock.count("com.example.echo"), 4);
    assert_eq!(mock.count("com.atproto.server.deleteSession"), 0);
    // A new login starts afresh.
    agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    agent.call::<Echo>(EchoParams::default(), ()).await.unwrap();
    // check_idle ends it from a timer without a call.
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    assert!(agent.manager().check_idle().await.is_err());
    assert!(store.get().is_none());
    assert!(agent.manager().check_idle().await.is_ok());
}

#[test]
fn a_record_ref_converts_into_a_strong_ref() {
    use atmo_client::atmo_api::com::atproto::repo::strong_ref::StrongRef;
    use atmo_client::RecordRef;
    let r = RecordRef {
        uri: "at://did:plc:alice0000000000000000000/app.bsky.feed.post/3abc"
            .parse()
            .unwrap(),
        cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
            .parse()
            .unwrap(),
    };
    let s: StrongRef = (&r).into();
    assert_eq!((&s.uri, &s.cid), (&r.uri, &r.cid));
    let json = serde_json::to_value(StrongRef::from(r)).unwrap();
    assert_eq!(
        json["uri"],
        "at://did:plc:alice0000000000000000000/app.bsky.feed.post/3abc"
    );
}

/// A loopback server that answers every connection with a 200 whose body
/// is sent chunked (no `content-length`, so the size is known only while
/// reading): `chunks` chunks of 1,000 bytes.
async fn chunked_server(chunks: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
                for _ in 0..chunks {
                    out.extend_from_slice(b"3e8\r\n");
                    out.extend_from_slice(&[b' '; 1000]);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                let _ = s.write_all(&out).await;
            });
        }
    });
    url
}

/// With no declared length, the cap is enforced while the body is read,
/// buffered or streamed, by each built-in client.
#[tokio::test]
async fn undeclared_lengths_are_capped_while_reading() {
    let url = chunked_server(5).await;
    let base = atmo_xrpc::check_url(&url, true).unwrap();
    let req = atmo_xrpc::XrpcRequest::new("com.example.big", atmo_client::Method::Query);
    let mut clients: Vec<(&str, Arc<dyn atmo_client::HttpClient>)> =
        vec![("hyper", Arc::new(atmo_client::HyperClient::new().unwrap()))];
    #[cfg(feature = "reqwest")]
    clients.push((
        "reqwest",
        Arc::new(atmo_client::ReqwestClient::new().unwrap()),
    ));
    for (name, client) in clients {
        let config = |max| atmo_xrpc::TransportConfig {
            max_response_size: max,
            ..Default::default()
        };
        // Under the cap: the whole body, buffered.
        let roomy = Transport::new(client.clone(), config(5_000));
        let answer = roomy.send(&base, &req, &NoAuth).await.unwrap();
        assert_eq!(answer.body.bytes.len(), 5_000, "{name}");
        // Over it: refused, buffered and streamed.
        let tight = Transport::new(client.clone(), config(2_500));
        match tight.send(&base, &req, &NoAuth).await {
            Err(atmo_xrpc::Error::ResponseTooLarge { limit: 2_500, .. }) => {}
            other => panic!("{name}: {:?}", other.map(|a| a.body.bytes.len())),
        }
        let mut streamed = tight.send_streaming(&base, &req, &NoAuth).await.unwrap();
        let mut read = 0;
        let e = loop {
            match streamed.body.next_chunk().await {
                Ok(Some(c)) => read += c.len(),
                Ok(None) => panic!("{name}: the whole body came through"),
                Err(e) => break e,
            }
        };
        assert!(read <= 2_500, "{name}: {read} bytes handed out");
        assert!(e.to_string().contains("2500"), "{name}: {e}");
    }
}

type Seen = Arc<Mutex<Vec<(SessionEvent, Option<String>, bool)>>>;

/// Signs in with a wrong password, then the right one, refreshes and logs
/// out through `agent`.
async fn one_life(agent: &AtpAgent) {
    assert!(agent
        .login(Login::new("alice.test", "wrong"))
        .await
        .is_err());
    agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    let refreshed = agent.manager().refresh().await.unwrap();
    assert_eq!(refreshed.did.as_str(), common::DID);
    agent.logout().await.unwrap();
}

/// The event hook has the OAuth client's shape, `(event, did, session)`,
/// in both forms: the DID of the account, also for `Expired`, and none only
/// for `CreateFailed`.
#[tokio::test]
async fn the_event_hook_gets_the_did_as_the_oauth_hook_does() {
    let did = Some(common::DID.to_owned());
    let expected = vec![
        (CreateFailed, None, false),
        (Create, did.clone(), true),
        (Update, did.clone(), true),
        (Expired, did.clone(), false),
    ];
    for asynchronous in [false, true] {
        let fake = Fake::new();
        let mock = fake_server(&fake).await;
        let seen: Seen = Arc::default();
        let log = seen.clone();
        // A shared store goes to `session_store` as a store by value does.
        let store = Arc::new(MemoryStore::new());
        let builder = AtpAgent::builder(&mock.url).session_store(store.clone());
        let builder = if asynchronous {
            builder.on_session_event_async(move |event, did, session| {
                let log = log.clone();
                async move {
                    let did = did.map(|d| d.to_string());
                    log.lock().unwrap().push((event, did, session.is_some()))
                }
            })
        } else {
            builder.on_session_event(move |event, did, session| {
                let did = did.map(|d| d.to_string());
                log.lock().unwrap().push((event, did, session.is_some()))
            })
        };
        let agent = builder.build().unwrap();
        one_life(&agent).await;
        assert_eq!(*seen.lock().unwrap(), expected, "async: {asynchronous}");
        assert!(store.get().is_none(), "logout cleared the store");
    }
}

/// The names before the unified surface still compile and deliver the same
/// events (without the DID).
#[tokio::test]
#[allow(deprecated)]
async fn the_deprecated_hook_names_still_work() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let hook = events.hook();
    let agent = AtpAgent::builder(&mock.url)
        .persist_session(move |event, session| hook(event, None, session))
        .build()
        .unwrap();
    one_life(&agent).await;
    assert_eq!(events.take(), vec![CreateFailed, Create, Update, Expired]);

    let async_events = Events::default();
    let hook = async_events.hook();
    let hook = Arc::new(hook);
    let session = CredentialSession::builder(&mock.url)
        .persist_session_async(move |event, session| {
            let hook = hook.clone();
            async move { hook(event, None, session.as_ref()) }
        })
        .build()
        .unwrap();
    session
        .login(&Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    session.logout().await.unwrap();
    assert_eq!(async_events.take(), vec![Create, Expired]);
}
