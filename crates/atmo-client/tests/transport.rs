//! Transport behaviour: errors, limits, rate limits, retries, raw calls, redaction.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atmo_client::{
    AtpAgent, CallOptions, Error, FileStore, Method, RawBody, RetryPolicy, SessionData,
    SessionStore, StoreErrorKind, TransportErrorKind,
};
use atmo_types::xrpc::XrpcCaller;
use common::ep::{self, Echo, EchoParams};
use common::{fake_server, Events, Fake, Mock, Reply, PASSWORD};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn agent(url: &str) -> AtpAgent {
    AtpAgent::builder(url).build().unwrap()
}

async fn echo(agent: &AtpAgent) -> Result<serde_json::Value, Error<ep::EchoError>> {
    agent.call::<Echo>(EchoParams::default(), ()).await
}

#[tokio::test]
async fn no_session_sends_no_authorization() {
    let mock = Mock::start(|_| Reply::ok(json!({"ok": true}))).await;
    let a = agent(&mock.url).await;
    assert_eq!(echo(&a).await.unwrap(), json!({"ok": true}));
    assert!(mock.requests()[0].auth().is_none());
}

#[tokio::test]
async fn declared_and_undeclared_errors() {
    let mock = Mock::start(|r| match r.query.first().map(|q| q.1.as_str()) {
        Some("1") => Reply::err(400, "Specific", "declared"),
        _ => Reply::err(404, "NotFound", "undeclared"),
    })
    .await;
    let a = agent(&mock.url).await;
    let r = a
        .call::<Echo>(
            EchoParams {
                limit: Some(1),
                tags: vec![],
            },
            (),
        )
        .await;
    match r {
        Err(Error::Api {
            error: e @ ep::EchoError::Specific(_),
            ..
        }) => {
            assert_eq!(e.to_string(), "Specific: declared")
        }
        other => panic!("{other:?}"),
    }
    match echo(&a).await {
        Err(
            e @ Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
                atmo_client::atmo_xrpc::XrpcError { status: 404, .. },
            )),
        ) => {
            assert_eq!(e.error_name(), Some("NotFound"));
            assert!(
                e.to_string().contains("HTTP 404 NotFound: undeclared"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn non_xrpc_error_bodies_are_clear_errors() {
    let mock = Mock::start(|r| match r.query[0].1.as_str() {
        "html" => Reply::Raw {
            status: 502,
            content_type: "text/html",
            body: b"<html><body>Bad Gateway</body></html>".to_vec(),
            headers: vec![],
        },
        "empty" => Reply::Raw {
            status: 500,
            content_type: "",
            body: vec![],
            headers: vec![],
        },
        "noname" => Reply::Json(400, json!({"message": "what"})),
        _ => Reply::Raw {
            status: 503,
            content_type: "application/json",
            body: b"{\"error\":\"Unav".to_vec(),
            headers: vec![],
        },
    })
    .await;
    let a = agent(&mock.url).await;
    for (case, status, needle) in [
        ("html", 502, "text/html"),
        ("empty", 500, "empty response body"),
        ("noname", 400, "without an error name"),
        ("cut", 503, "not XRPC JSON"),
    ] {
        let r = a.query_json("com.example.q", &[("case", case)]).await;
        match r {
            Err(e @ Error::Xrpc(atmo_client::atmo_xrpc::Error::UnexpectedResponse { .. })) => {
                assert_eq!(e.status(), Some(status), "{case}");
                assert!(e.to_string().contains(needle), "{case}: {e}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn decode_errors_name_the_endpoint_and_path() {
    let mock = Mock::start(|_| Reply::ok(json!({"items": [{"count": 1}, {"count": "x"}]}))).await;
    let a = agent(&mock.url).await;
    match a.call::<ep::Strict>((), ()).await {
        Err(Error::Decode(d)) => {
            assert_eq!(d.nsid, "com.example.strict");
            assert_eq!(d.path, "items[1].count");
        }
        other => panic!("{other:?}"),
    }
    // A 2xx HTML page where JSON was expected.
    let mock = Mock::start(|_| Reply::Raw {
        status: 200,
        content_type: "text/html",
        body: b"<html>".to_vec(),
        headers: vec![],
    })
    .await;
    let a = agent(&mock.url).await;
    assert!(matches!(
        a.call::<ep::Strict>((), ()).await,
        Err(Error::Decode(_))
    ));
    assert!(matches!(
        a.query_json("com.example.q", &[]).await,
        Err(Error::Xrpc(
            atmo_client::atmo_xrpc::Error::UnexpectedResponse { status: 200, .. }
        ))
    ));
}

#[tokio::test]
async fn rate_limit_carries_headers_and_reset_time() {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 120;
    let mock = Mock::start(move |_| {
        Reply::with_headers(
            429,
            json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
            vec![
                ("ratelimit-limit", "3000".into()),
                ("ratelimit-remaining", "0".into()),
                ("ratelimit-reset", reset.to_string()),
                ("ratelimit-policy", "3000;w=300".into()),
            ],
        )
    })
    .await;
    let a = agent(&mock.url).await;
    match echo(&a).await {
        Err(e @ Error::Xrpc(atmo_client::atmo_xrpc::Error::RateLimited(_))) => {
            assert!(e.to_string().contains("rate limited"), "{e}");
            let Error::Xrpc(atmo_client::atmo_xrpc::Error::RateLimited(r)) = e else {
                unreachable!()
            };
            assert_eq!(r.limit, Some(3000));
            assert_eq!(r.remaining, Some(0));
            assert_eq!(r.policy.as_deref(), Some("3000;w=300"));
            assert_eq!(r.error.as_deref(), Some("RateLimitExceeded"));
            assert_eq!(r.reset, Some(UNIX_EPOCH + Duration::from_secs(reset)));
        }
        other => panic!("{other:?}"),
    }
    // Opt-in retry does not wait 2 minutes: over max_delay, returned at once.
    let start = std::time::Instant::now();
    let opts = CallOptions::new().retry(RetryPolicy::retries(3));
    assert!(a
        .call_with::<Echo>(&EchoParams::default(), &(), &opts)
        .await
        .is_err());
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn retries_queries_on_429_503_and_transport_errors() {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n2 = n.clone();
    let mock = Mock::start(
        move |_| match n2.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Reply::with_headers(
                429,
                json!({"error": "RateLimitExceeded"}),
                vec![("retry-after", "0".into())],
            ),
            1 => Reply::err(503, "Unavailable", "busy"),
            2 => Reply::Abort,
            _ => Reply::ok(json!({"ok": 1})),
        },
    )
    .await;
    let a = AtpAgent::builder(&mock.url)
        .retry(RetryPolicy::retries(3).delays(Duration::from_millis(10), Duration::from_secs(1)))
        .build()
        .unwrap();
    assert_eq!(echo(&a).await.unwrap(), json!({"ok": 1}));
    assert_eq!(mock.requests().len(), 4);
    // Procedures are not retried unless asked.
    n.store(0, std::sync::atomic::Ordering::SeqCst);
    let r = a.call::<ep::Write>((), json!({})).await;
    assert!(matches!(
        r,
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::RateLimited(_)))
    ));
    assert_eq!(mock.requests().len(), 5);
    n.store(0, std::sync::atomic::Ordering::SeqCst);
    let opts = CallOptions::new().retry(
        RetryPolicy::retries(3)
            .delays(Duration::from_millis(10), Duration::from_secs(1))
            .include_procedures(),
    );
    a.call_with::<ep::Write>(&(), &json!({}), &opts)
        .await
        .unwrap();
    assert_eq!(mock.requests().len(), 9);
    // Retries exhausted: the last error.
    n.store(0, std::sync::atomic::Ordering::SeqCst);
    let opts = CallOptions::new()
        .retry(RetryPolicy::retries(1).delays(Duration::from_millis(10), Duration::from_secs(1)));
    let r = a
        .call_with::<Echo>(&EchoParams::default(), &(), &opts)
        .await;
    assert_eq!(r.unwrap_err().status(), Some(503));
}

#[tokio::test]
async fn response_size_limit() {
    let mock = Mock::start(|_| Reply::ok(json!({"big": "x".repeat(10_000)}))).await;
    let a = AtpAgent::builder(&mock.url)
        .max_response_size(1000)
        .build()
        .unwrap();
    match echo(&a).await {
        Err(
            e @ Error::Xrpc(atmo_client::atmo_xrpc::Error::ResponseTooLarge { limit: 1000, .. }),
        ) => {
            assert!(e.to_string().contains("1000 bytes"))
        }
        other => panic!("{other:?}"),
    }
    let a = AtpAgent::builder(&mock.url)
        .max_response_size(20_000)
        .build()
        .unwrap();
    assert!(echo(&a).await.is_ok());
}

#[tokio::test]
async fn per_call_and_agent_timeouts() {
    let mock =
        Mock::start(|_| Reply::Delay(Duration::from_secs(3), Box::new(Reply::ok(json!({}))))).await;
    let a = AtpAgent::builder(&mock.url)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    match echo(&a).await {
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(t))) => {
            assert_eq!(t.kind, TransportErrorKind::Timeout)
        }
        other => panic!("{other:?}"),
    }
    let a = agent(&mock.url).await;
    let opts = CallOptions::new().timeout(Duration::from_millis(200));
    let r = a
        .call_with::<Echo>(&EchoParams::default(), &(), &opts)
        .await;
    assert!(
        matches!(r, Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(ref t))) if t.kind == TransportErrorKind::Timeout)
    );
}

#[tokio::test]
async fn connection_refused_and_truncated_bodies() {
    let a = agent("http://127.0.0.1:9").await;
    match echo(&a).await {
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(t))) => {
            assert_eq!(t.kind, TransportErrorKind::Connect)
        }
        other => panic!("{other:?}"),
    }
    // A server that promises 100 bytes, sends 10 and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"a\":\"1234")
            .await;
        let _ = s.shutdown().await;
    });
    let a = agent(&format!("http://127.0.0.1:{port}")).await;
    match echo(&a).await {
        Err(e @ Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(_))) => {
            let Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(t)) = &e else {
                unreachable!()
            };
            assert_eq!(t.kind, TransportErrorKind::Body, "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn raw_calls_by_nsid() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let a = agent(&mock.url).await;
    let s = a
        .procedure_json(
            "com.atproto.server.createSession",
            &[],
            Some(&json!({"identifier": "alice.test", "password": PASSWORD})),
        )
        .await
        .unwrap();
    // A direct createSession call does not start the agent's session.
    assert!(!a.has_session());
    let token = s["accessJwt"].as_str().unwrap().to_owned();
    let opts = CallOptions::new().header("authorization", format!("Bearer {token}"));
    let out = a
        .call_raw(
            "app.bsky.feed.getTimeline",
            Method::Query,
            &[("limit", "50")],
            None,
            &opts,
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.bytes).unwrap();
    assert_eq!(v["query"], json!([["limit", "50"]]));
    assert_eq!(out.content_type, "application/json");
    // Raw body with its own content type.
    let out = a
        .call_raw(
            "com.atproto.repo.uploadBlob",
            Method::Procedure,
            &[],
            Some(RawBody::new("image/png", vec![0x89, b'P', b'N', b'G'])),
            &opts,
        )
        .await
        .unwrap();
    assert!(!out.bytes.is_empty());
    let up = mock.of("com.atproto.repo.uploadBlob").pop().unwrap();
    assert_eq!(up.header("content-type"), Some("image/png"));
    assert_eq!(up.body, vec![0x89, b'P', b'N', b'G']);
    // Not an NSID: refused before sending.
    assert!(matches!(
        a.query_json("../../admin", &[]).await,
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::InvalidRequest(
            _
        )))
    ));
}

#[tokio::test]
async fn works_through_the_generic_caller_trait() {
    async fn via<C: XrpcCaller>(c: &C) -> Result<serde_json::Value, C::Error<ep::EchoError>> {
        c.call::<Echo>(
            EchoParams {
                limit: Some(3),
                tags: vec![],
            },
            (),
        )
        .await
    }
    let mock = Mock::start(|r| Reply::ok(json!({"q": r.query[0].1}))).await;
    let a = agent(&mock.url).await;
    assert_eq!(via(&a).await.unwrap(), json!({"q": "3"}));
    // The future is Send: usable from spawned tasks.
    let a2 = a.clone();
    tokio::spawn(async move { via(&a2).await.unwrap() })
        .await
        .unwrap();
}

#[tokio::test]
async fn nothing_secret_is_ever_printed() {
    let fake = Fake::new();
    let failing = Mock::start({
        let f = fake.clone();
        move |r| {
            if r.nsid == "com.atproto.server.refreshSession" {
                return Reply::err(400, "ExpiredToken", "Token has been revoked");
            }
            f.handle(r)
        }
    })
    .await;
    let events = Events::default();
    let a = AtpAgent::builder(&failing.url)
        .on_session_event(events.hook())
        .build()
        .unwrap();
    let s = a
        .login(atmo_client::Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    let secrets = [
        s.access_jwt.expose().to_owned(),
        s.refresh_jwt.expose().to_owned(),
        PASSWORD.to_owned(),
        "ACCESS-TOKEN".to_owned(),
        "REFRESH-TOKEN".to_owned(),
    ];
    let mut printed = vec![
        format!("{s:?}"),
        format!("{a:?}"),
        format!("{:?}", a.manager()),
    ];
    let wrong = a
        .login(atmo_client::Login::new("alice.test", "wrong-password-x"))
        .await
        .unwrap_err();
    printed.push(format!("{wrong:?} {wrong}"));
    fake.expire_access();
    let expired = echo(&a).await.unwrap_err();
    printed.push(format!("{expired:?} {expired}"));
    let opts =
        CallOptions::new().header("authorization", format!("Bearer {}", s.access_jwt.expose()));
    printed.push(format!("{opts:?}"));
    let mut req = atmo_client::XrpcRequest::new("a.b.c", Method::Query);
    req.set_header("authorization", format!("Bearer {}", s.access_jwt.expose()));
    printed.push(format!("{req:?}"));
    for e in [
        Error::<ep::EchoError>::Session(atmo_client::SessionError::NoSession),
        Error::Session(atmo_client::SessionError::DidMismatch {
            expected: s.did.clone(),
            actual: s.did.clone(),
        }),
    ] {
        printed.push(format!("{e:?} {e}"));
    }
    let login = atmo_client::Secret::new(PASSWORD);
    printed.push(format!("{login:?} {login}"));
    for p in &printed {
        for secret in &secrets {
            assert!(!p.contains(secret.as_str()), "{secret} leaked in {p}");
        }
    }
    assert!(printed[0].contains("***"));
}

#[tokio::test]
async fn file_store_roundtrip_permissions_and_corruption() {
    let dir = std::env::temp_dir().join(format!("atmo-client-fs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session.json");
    let _ = std::fs::remove_file(&path);
    let store = FileStore::new(&path);
    assert!(store.load().await.unwrap().is_none());
    // A session saved by the TypeScript client.
    let ts = r#"{"accessJwt":"a.b.c","refreshJwt":"r","handle":"alice.test","did":"did:plc:abc","email":"a@b.c","emailConfirmed":true,"active":true}"#;
    let s: SessionData = serde_json::from_str(ts).unwrap();
    store.save(&s).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap(), s);
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        on_disk,
        serde_json::from_str::<serde_json::Value>(ts).unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    // Corrupt: a clear error, never a panic, and the file is left alone.
    std::fs::write(&path, b"{\"accessJwt\": tru").unwrap();
    let e = store.load().await.unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Corrupt);
    assert!(e.to_string().contains("session.json"), "{e}");
    let a = AtpAgent::builder("https://bsky.social")
        .session_store(FileStore::new(&path))
        .build()
        .unwrap();
    assert!(matches!(
        a.resume_from_store().await,
        Err(Error::Session(atmo_client::SessionError::Store(_)))
    ));
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"accessJwt\": tru");
    // The lock is exclusive and released on drop.
    let g = store.lock().await.unwrap();
    let quick = FileStore::new(&path).lock_timeout(Duration::from_millis(100));
    assert_eq!(
        quick.lock().await.unwrap_err().kind,
        StoreErrorKind::LockTimeout
    );
    drop(g);
    drop(quick.lock().await.unwrap());
    store.clear().await.unwrap();
    assert!(!path.exists());
    store.clear().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
