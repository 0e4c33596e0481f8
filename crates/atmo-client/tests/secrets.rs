//! No token, password or sign-in code in anything printable, on every error
//! path of login, refresh, resume and logout.
//!
//! This crate does not log (no `tracing`, no `log`, no printing): there is
//! no log output to capture, so the test asserts on the `Display` and
//! `Debug` output (and the `source()` chain) of every error, and on the
//! `Debug` output of everything else a program could print: sessions, the
//! agent, the session manager, logins, requests, call options, events.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fmt::{Debug, Display};
use std::time::Duration;

use atmo_client::{
    AtpAgent, CallOptions, Error, FileStore, Login, Method, SessionStore, XrpcRequest,
};
use common::ep::{Echo, EchoParams};
use common::{fake_server, Events, Fake, Mock, RefreshMode, Reply, CODE, DID, PASSWORD};
use serde_json::json;

const WRONG_PASSWORD: &str = "wrong-password-9f2c";
const WRONG_CODE: &str = "WRONG-CODE-77";
/// Tokens a hostile server puts where serde would quote them in an error.
const PLANTED: &str = "PLANTED-TOKEN-e1b0";

#[derive(Default)]
struct Printed(Vec<(String, String)>);

impl Printed {
    fn error<E: Display + Debug + std::error::Error>(&mut self, what: &str, e: &E) {
        let mut text = format!("{e}\n{e:?}");
        let mut src = e.source();
        while let Some(s) = src {
            text.push_str(&format!("\n{s}\n{s:?}"));
            src = s.source();
        }
        self.0.push((what.to_owned(), text));
    }
    fn debug(&mut self, what: &str, v: &impl Debug) {
        self.0.push((what.to_owned(), format!("{v:?}")));
    }
    fn assert_clean(&self, secrets: &[String]) {
        assert!(self.0.len() > 30, "only {} outputs checked", self.0.len());
        for (what, text) in &self.0 {
            for s in secrets {
                assert!(!text.contains(s.as_str()), "{what} leaks {s}: {text}");
            }
        }
    }
}

fn agent(url: &str, events: &Events) -> AtpAgent {
    AtpAgent::builder(url)
        .on_session_event(events.hook())
        .timeout(Duration::from_millis(1500))
        .build()
        .unwrap()
}

fn login(password: &str) -> Login {
    Login::new("alice.test", password)
}

/// A session answer with a token in a field of the wrong type.
fn poisoned_session() -> Reply {
    Reply::ok(json!({
        "accessJwt": PLANTED, "refreshJwt": PLANTED, "handle": "alice.test",
        "did": DID, "active": PLANTED,
    }))
}

#[tokio::test]
async fn no_secret_in_any_output_on_any_error_path() {
    let mut out = Printed::default();
    let mut secrets = vec![
        PASSWORD.to_owned(),
        WRONG_PASSWORD.to_owned(),
        CODE.to_owned(),
        WRONG_CODE.to_owned(),
        PLANTED.to_owned(),
        "ACCESS-TOKEN-".to_owned(),
        "REFRESH-TOKEN-".to_owned(),
    ];
    let events = Events::default();

    // --- login ---
    let fake = Fake::with_2fa();
    let mock = fake_server(&fake).await;
    let a = agent(&mock.url, &events);
    let e = a.login(login(WRONG_PASSWORD)).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
                atmo_client::atmo_xrpc::XrpcError { status: 401, .. }
            ))
        ),
        "{e:?}"
    );
    out.error("login: wrong password", &e);
    let e = a.login(login(PASSWORD)).await.unwrap_err();
    assert!(matches!(e, Error::Api { error: _, .. }), "{e:?}");
    out.error("login: 2FA required", &e);
    let e = a
        .login(login(PASSWORD).auth_factor_token(WRONG_CODE))
        .await
        .unwrap_err();
    out.error("login: wrong 2FA code", &e);
    let s = a
        .login(login(PASSWORD).auth_factor_token(CODE))
        .await
        .unwrap();
    out.debug("session", &s);
    out.debug("agent", &a);
    out.debug("manager", a.manager());
    out.debug("login", &login(PASSWORD).auth_factor_token(CODE));

    let hostile = Mock::start(|r| match r.query.first().map(|(_, v)| v.as_str()) {
        _ if r.nsid == "com.atproto.server.createSession" => {
            match r.json()["identifier"].as_str() {
                Some("takedown") => {
                    Reply::err(401, "AccountTakedown", "Account has been taken down")
                }
                Some("limited") => Reply::with_headers(
                    429,
                    json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
                    vec![("ratelimit-reset", "30".into())],
                ),
                Some("reset") => Reply::Abort,
                Some("slow") => {
                    Reply::Delay(Duration::from_secs(30), Box::new(Reply::ok(json!({}))))
                }
                Some("html") => Reply::Raw {
                    status: 500,
                    content_type: "text/html",
                    body: b"<h1>oops</h1>".to_vec(),
                    headers: vec![],
                },
                _ => poisoned_session(),
            }
        }
        _ => Reply::err(500, "InternalServerError", "boom"),
    })
    .await;
    let h = agent(&hostile.url, &events);
    for who in ["takedown", "limited", "reset", "slow", "html", "poisoned"] {
        let e = h
            .login(Login::new(who, PASSWORD).auth_factor_token(CODE))
            .await
            .unwrap_err();
        if who == "poisoned" {
            assert!(matches!(e, Error::Decode(_)), "{e:?}");
        }
        out.error(&format!("login: {who}"), &e);
    }
    let refused = agent("http://127.0.0.1:9", &events);
    let e = refused.login(login(PASSWORD)).await.unwrap_err();
    out.error("login: refused", &e);

    // --- refresh ---
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let a = agent(&mock.url, &events);
    a.login(login(PASSWORD)).await.unwrap();
    for mode in [RefreshMode::Abort, RefreshMode::ServerError] {
        fake.expire_access();
        *fake.mode.lock().unwrap() = mode.clone();
        let e = a.call::<Echo>(EchoParams::default(), ()).await.unwrap_err();
        out.error(&format!("refresh: {mode:?}"), &e);
        let e = a.refresh_session().await.unwrap_err();
        out.error(&format!("manual refresh: {mode:?}"), &e);
    }
    *fake.mode.lock().unwrap() = RefreshMode::Ok;
    let e = a.resume_session(a.session().unwrap()).await;
    out.debug("resume after refresh failures", &e);
    // Hostile refresh answers: a token in the wrong place, another DID, 429.
    for (name, reply) in [
        ("poisoned", poisoned_session()),
        (
            "other did",
            Reply::ok(json!({"accessJwt": PLANTED, "refreshJwt": PLANTED,
                "handle": "mallory.test", "did": "did:plc:mallory00000000000000000"})),
        ),
        (
            "429",
            Reply::with_headers(429, json!({"error": "RateLimitExceeded"}), vec![]),
        ),
        (
            "rejected",
            Reply::err(400, "InvalidToken", "Token could not be verified"),
        ),
    ] {
        let reply = std::sync::Mutex::new(Some(reply));
        let f = fake.clone();
        let m = Mock::start(move |r| {
            if r.nsid == "com.atproto.server.refreshSession" {
                if let Some(reply) = reply.lock().unwrap().take() {
                    return reply;
                }
            }
            f.handle(r)
        })
        .await;
        let b = agent(&m.url, &events);
        b.login(login(PASSWORD)).await.unwrap();
        fake.expire_access();
        let e = b.call::<Echo>(EchoParams::default(), ()).await.unwrap_err();
        out.error(&format!("refresh: {name}"), &e);
        out.debug(&format!("agent after refresh: {name}"), &b);
    }

    // --- resume ---
    a.login(login(PASSWORD)).await.unwrap();
    let saved = a.session().unwrap();
    let e = refused.resume_session(saved.clone()).await.unwrap_err();
    out.error("resume: refused", &e);
    out.debug("agent after failed resume", &refused);
    *fake.did.lock().unwrap() = "did:plc:mallory00000000000000000".into();
    let e = a.resume_session(saved.clone()).await.unwrap_err();
    assert!(matches!(
        e,
        Error::Session(atmo_client::SessionError::DidMismatch { .. })
    ));
    out.error("resume: other did", &e);
    *fake.did.lock().unwrap() = DID.into();
    *fake.mode.lock().unwrap() = RefreshMode::Reject;
    fake.expire_access();
    let e = a.resume_session(saved.clone()).await.unwrap_err();
    assert!(
        matches!(e, Error::Session(atmo_client::SessionError::Expired { .. })),
        "{e:?}"
    );
    out.error("resume: rejected", &e);
    *fake.mode.lock().unwrap() = RefreshMode::Ok;

    // --- logout ---
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
    let c = agent(&failing.url, &events);
    c.login(login(PASSWORD)).await.unwrap();
    let e = c.logout().await.unwrap_err();
    out.error("logout: 500", &e);
    let d = agent(&mock.url, &events);
    d.login(login(PASSWORD)).await.unwrap();
    mock.close().await;
    let e = d.logout().await.unwrap_err();
    out.error("logout: refused", &e);
    mock.open().await;

    // --- store ---
    let dir = std::env::temp_dir().join(format!("atproto-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session.json");
    let planted = format!(
        r#"{{"accessJwt":"{PLANTED}","refreshJwt":"{PLANTED}","handle":"h","did":"{DID}","emailConfirmed":"{PLANTED}"}}"#
    );
    std::fs::write(&path, &planted).unwrap();
    let e = FileStore::new(&path)
        .check_permissions(false)
        .load()
        .await
        .unwrap_err();
    out.error("store: wrong type", &e);
    let e = FileStore::parse(planted.as_bytes()).unwrap_err();
    out.error("store: parse", &e);
    let _ = std::fs::remove_dir_all(&dir);

    // --- requests and options carrying a token ---
    let token = format!("Bearer {}", s.access_jwt.expose());
    let mut req = XrpcRequest::new("com.example.echo", Method::Procedure);
    req.set_header("authorization", &token);
    req.body = Some(atmo_client::RawBody::new(
        "application/json",
        serde_json::to_vec(&json!({"password": PASSWORD})).unwrap(),
    ));
    out.debug("request", &req);
    out.debug(
        "options",
        &CallOptions::new().header("authorization", &token),
    );
    for e in events.take() {
        out.debug("event", &e);
    }

    secrets.push(s.access_jwt.expose().to_owned());
    secrets.push(s.refresh_jwt.expose().to_owned());
    out.assert_clean(&secrets);
}
