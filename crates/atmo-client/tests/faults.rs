//! Fault injection: every fault × every phase of the session lifecycle.
//!
//! For each fault (connection refused, reset, timeout, 5xx with and without a
//! JSON body, an HTML page, an empty or truncated body, a body cut off by the
//! connection, a body over the size cap, 429) and each phase (a normal
//! authenticated call, the `refreshSession` behind it, `getSession` during
//! resume, `deleteSession` during logout), a test asserts what the caller
//! gets, which events fire, and that the session in memory and the session
//! file on disk are exactly as they should be. Then the fault is lifted and
//! the next call must succeed.
//!
//! Session calls go to one mock (the service), the rest to another (the PDS
//! named by the DID document), so "connection refused" can hit exactly one
//! phase: the mock concerned is closed (nothing listens on its port) and
//! reopened afterwards. The agent uses a client without idle connections, so
//! a closed port refuses the very next request (with pooling, a kept-alive
//! connection would fail in another way, depending on timing).
//!
//! Transport, 429, size-limit and error-body behaviours of a plain call are
//! also in `transport.rs`; rejected / failed refresh and resume in
//! `session.rs`. This file adds the systematic matrix and the session-data
//! checks for each cell.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atmo_client::{AtpAgent, Error, FileStore, SessionData, SessionEvent, TransportErrorKind};
use common::ep::{self, Echo, EchoParams};
use common::{unpooled_client, Events, Fake, Mock, Reply, PASSWORD};
use serde_json::json;

use SessionEvent::*;

const ECHO: &str = "com.example.echo";
const REFRESH: &str = "com.atproto.server.refreshSession";
const GET_SESSION: &str = "com.atproto.server.getSession";
const DELETE_SESSION: &str = "com.atproto.server.deleteSession";

/// The agent's timeout in these tests; the `Timeout` fault answers later.
const TIMEOUT: Duration = Duration::from_millis(1500);
/// The response cap in these tests; the `Oversized` fault sends more.
const CAP: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Refused,
    Reset,
    Timeout,
    Http500Json,
    Http500Empty,
    Http502Json,
    Http502Html,
    Http503Json,
    Http503Empty,
    TruncatedErrorJson,
    Empty200,
    Truncated200,
    CutOff,
    Oversized,
    RateLimited,
}

const ALL: [Fault; 15] = [
    Fault::Refused,
    Fault::Reset,
    Fault::Timeout,
    Fault::Http500Json,
    Fault::Http500Empty,
    Fault::Http502Json,
    Fault::Http502Html,
    Fault::Http503Json,
    Fault::Http503Empty,
    Fault::TruncatedErrorJson,
    Fault::Empty200,
    Fault::Truncated200,
    Fault::CutOff,
    Fault::Oversized,
    Fault::RateLimited,
];

fn raw(status: u16, content_type: &'static str, body: &[u8]) -> Reply {
    Reply::Raw {
        status,
        content_type,
        body: body.to_vec(),
        headers: vec![],
    }
}

impl Fault {
    /// What the server answers (`Refused` closes the port instead).
    fn reply(self) -> Reply {
        match self {
            Fault::Refused => unreachable!("refused is not an answer"),
            Fault::Reset => Reply::Abort,
            Fault::Timeout => Reply::Delay(Duration::from_secs(30), Box::new(Reply::ok(json!({})))),
            Fault::Http500Json => Reply::err(500, "InternalServerError", "Internal Server Error"),
            Fault::Http500Empty => raw(500, "", b""),
            Fault::Http502Json => Reply::err(502, "UpstreamFailure", "upstream down"),
            Fault::Http502Html => raw(
                502,
                "text/html",
                b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
            ),
            Fault::Http503Json => Reply::err(503, "NotEnoughResources", "try later"),
            Fault::Http503Empty => raw(503, "", b""),
            Fault::TruncatedErrorJson => {
                raw(503, "application/json", b"{\"error\":\"NotEnoughRes")
            }
            Fault::Empty200 => raw(200, "application/json", b""),
            Fault::Truncated200 => raw(
                200,
                "application/json",
                b"{\"handle\":\"alice.test\",\"did\":\"did:plc:al",
            ),
            Fault::CutOff => Reply::CutOff {
                declared: 1000,
                body: b"{\"handle\":\"alice.test\"".to_vec(),
            },
            Fault::Oversized => Reply::ok(json!({ "padding": "x".repeat(4 * CAP) })),
            Fault::RateLimited => {
                let reset = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    + 60;
                Reply::with_headers(
                    429,
                    json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
                    vec![
                        ("ratelimit-limit", "100".into()),
                        ("ratelimit-remaining", "0".into()),
                        ("ratelimit-reset", reset.to_string()),
                        ("ratelimit-policy", "100;w=300".into()),
                    ],
                )
            }
        }
    }

    /// Asserts the caller got the error this fault must produce, naming the
    /// endpoint that failed.
    fn check<E: std::fmt::Debug + std::fmt::Display>(self, e: &Error<E>, nsid: &str) {
        let shown = format!("{e}");
        assert!(shown.contains(nsid), "{self:?}: {shown}");
        let ok = match (self, e) {
            (Fault::Refused, Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(t))) => {
                t.kind == TransportErrorKind::Connect
            }
            (Fault::Reset, Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(t))) => {
                t.kind != TransportErrorKind::Timeout
            }
            (Fault::Timeout, Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(t))) => {
                t.kind == TransportErrorKind::Timeout
            }
            (Fault::CutOff, Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(t))) => {
                t.kind == TransportErrorKind::Body
            }
            (
                Fault::Http500Json,
                Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
                    atmo_client::atmo_xrpc::XrpcError { status, error, .. },
                )),
            ) => *status == 500 && error == "InternalServerError",
            (
                Fault::Http502Json,
                Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
                    atmo_client::atmo_xrpc::XrpcError { status, error, .. },
                )),
            ) => *status == 502 && error == "UpstreamFailure",
            (
                Fault::Http503Json,
                Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
                    atmo_client::atmo_xrpc::XrpcError { status, error, .. },
                )),
            ) => *status == 503 && error == "NotEnoughResources",
            (
                Fault::Http500Empty,
                Error::Xrpc(atmo_client::atmo_xrpc::Error::UnexpectedResponse {
                    status,
                    reason,
                    ..
                }),
            ) => *status == 500 && reason.contains("empty"),
            (
                Fault::Http503Empty,
                Error::Xrpc(atmo_client::atmo_xrpc::Error::UnexpectedResponse {
                    status,
                    reason,
                    ..
                }),
            ) => *status == 503 && reason.contains("empty"),
            (
                Fault::Http502Html,
                Error::Xrpc(atmo_client::atmo_xrpc::Error::UnexpectedResponse {
                    status,
                    reason,
                    ..
                }),
            ) => *status == 502 && reason.contains("text/html"),
            (
                Fault::TruncatedErrorJson,
                Error::Xrpc(atmo_client::atmo_xrpc::Error::UnexpectedResponse {
                    status,
                    reason,
                    ..
                }),
            ) => *status == 503 && reason.contains("not XRPC JSON"),
            (Fault::Empty200 | Fault::Truncated200, Error::Decode(d)) => d.nsid == nsid,
            (
                Fault::Oversized,
                Error::Xrpc(atmo_client::atmo_xrpc::Error::ResponseTooLarge { limit, .. }),
            ) => *limit == CAP,
            (Fault::RateLimited, Error::Xrpc(atmo_client::atmo_xrpc::Error::RateLimited(r))) => {
                r.reset.is_some() && r.remaining == Some(0) && r.limit == Some(100)
            }
            _ => false,
        };
        assert!(ok, "{self:?} on {nsid}: unexpected {e:?}");
    }
}

/// A fake PDS behind two mocks, an agent with a session file, and a switch
/// arming one fault for one NSID.
struct World {
    fake: Arc<Fake>,
    service: Mock,
    pds: Mock,
    armed: Arc<Mutex<Option<(&'static str, Fault)>>>,
    events: Events,
    store_path: std::path::PathBuf,
    agent: AtpAgent,
}

impl World {
    async fn new(tag: &str) -> World {
        let fake = Fake::new();
        let armed: Arc<Mutex<Option<(&'static str, Fault)>>> = Arc::default();
        let handler = {
            let (fake, armed) = (fake.clone(), armed.clone());
            move |r: &common::Req| {
                if let Some((nsid, fault)) = *armed.lock().unwrap() {
                    if r.nsid == nsid && fault != Fault::Refused {
                        return fault.reply();
                    }
                }
                fake.handle(r)
            }
        };
        let service = Mock::start(handler.clone()).await;
        let pds = Mock::start(handler).await;
        *fake.pds_url.lock().unwrap() = Some(pds.url.clone());
        let dir = std::env::temp_dir().join(format!(
            "atproto-faults-{}-{tag}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store_path = dir.join("session.json");
        let events = Events::default();
        let agent = AtpAgent::builder(&service.url)
            .http_client(unpooled_client())
            .timeout(TIMEOUT)
            .max_response_size(CAP)
            .session_store(FileStore::new(&store_path))
            .on_session_event(events.hook())
            .build()
            .unwrap();
        World {
            fake,
            service,
            pds,
            armed,
            events,
            store_path,
            agent,
        }
    }

    async fn login(&self) -> SessionData {
        let s = self
            .agent
            .login(atmo_client::Login::new("alice.test", PASSWORD))
            .await
            .unwrap();
        assert_eq!(self.events.take(), vec![Create]);
        assert_eq!(
            self.agent.pds_url().unwrap().as_str(),
            format!("{}/", self.pds.url)
        );
        s
    }

    fn mock_for(&self, nsid: &str) -> &Mock {
        if nsid == ECHO {
            &self.pds
        } else {
            &self.service
        }
    }

    async fn arm(&self, nsid: &'static str, fault: Fault) {
        if fault == Fault::Refused {
            self.mock_for(nsid).close().await;
        }
        *self.armed.lock().unwrap() = Some((nsid, fault));
    }

    async fn disarm(&self) {
        let armed = self.armed.lock().unwrap().take();
        if let Some((nsid, Fault::Refused)) = armed {
            self.mock_for(nsid).open().await;
        }
    }

    fn stored(&self) -> Option<Vec<u8>> {
        std::fs::read(&self.store_path).ok()
    }

    async fn echo(&self) -> Result<serde_json::Value, Error<ep::EchoError>> {
        self.agent.call::<Echo>(EchoParams::default(), ()).await
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(dir) = self.store_path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[tokio::test]
async fn faults_on_a_normal_call_lose_nothing() {
    for fault in ALL {
        let w = World::new("call").await;
        let session = w.login().await;
        let on_disk = w.stored().unwrap();
        w.arm(ECHO, fault).await;
        let e = w.echo().await.unwrap_err();
        fault.check(&e, ECHO);
        assert!(w.events.take().is_empty(), "{fault:?}");
        assert_eq!(w.agent.session().unwrap(), session, "{fault:?}");
        assert_eq!(w.stored().unwrap(), on_disk, "{fault:?}");
        assert_eq!(
            w.service.count(REFRESH),
            0,
            "{fault:?}: no refresh for a failed call"
        );
        w.disarm().await;
        w.echo().await.unwrap();
        assert_eq!(w.agent.session().unwrap(), session, "{fault:?}");
    }
}

#[tokio::test]
async fn faults_on_refresh_keep_the_session_and_the_next_call_retries() {
    for fault in ALL {
        let w = World::new("refresh").await;
        let session = w.login().await;
        let on_disk = w.stored().unwrap();
        w.fake.expire_access();
        w.arm(REFRESH, fault).await;
        let e = w.echo().await.unwrap_err();
        fault.check(&e, REFRESH);
        assert_eq!(w.events.take(), vec![NetworkError], "{fault:?}");
        assert_eq!(w.agent.session().unwrap(), session, "{fault:?}");
        assert_eq!(w.stored().unwrap(), on_disk, "{fault:?}: store untouched");
        // The fault is over: the next call refreshes (with the same,
        // still valid refresh token) and succeeds.
        w.disarm().await;
        w.echo().await.unwrap();
        assert_eq!(w.events.take(), vec![Update], "{fault:?}");
        let now = w.agent.session().unwrap();
        assert_ne!(now.access_jwt, session.access_jwt);
        assert_eq!(FileStore::parse(&w.stored().unwrap()).unwrap(), now);
        let refreshes = w.service.of(REFRESH);
        let last = refreshes.last().unwrap();
        assert_eq!(
            last.bearer(),
            Some(session.refresh_jwt.expose()),
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn faults_on_get_session_during_resume_keep_the_saved_session() {
    for fault in ALL {
        let w = World::new("resume").await;
        let saved = w.login().await;
        let on_disk = w.stored().unwrap();
        w.arm(GET_SESSION, fault).await;
        let e = w.agent.resume_from_store().await.unwrap_err();
        fault.check(&e, GET_SESSION);
        assert_eq!(w.events.take(), vec![NetworkError], "{fault:?}");
        assert_eq!(w.agent.session().unwrap(), saved, "{fault:?}");
        assert_eq!(w.stored().unwrap(), on_disk, "{fault:?}");
        w.disarm().await;
        let resumed = w.agent.resume_from_store().await.unwrap().unwrap();
        assert_eq!(resumed.access_jwt, saved.access_jwt);
        assert_eq!(w.events.take(), vec![Update], "{fault:?}");
        w.echo().await.unwrap();
    }
}

#[tokio::test]
async fn faults_on_delete_session_still_log_out_locally_and_report() {
    for fault in ALL {
        let w = World::new("logout").await;
        w.login().await;
        w.arm(DELETE_SESSION, fault).await;
        let r = w.agent.logout().await;
        match fault {
            // deleteSession has no output: a 200 with any body is success.
            Fault::Empty200 | Fault::Truncated200 => r.unwrap(),
            _ => fault.check(&r.unwrap_err(), DELETE_SESSION),
        }
        // Logging out is what the caller asked for: done locally whatever
        // the server said, and the failure (if any) reported above.
        assert!(!w.agent.has_session(), "{fault:?}");
        assert_eq!(w.events.take(), vec![Expired], "{fault:?}");
        assert!(w.stored().is_none(), "{fault:?}");
        w.disarm().await;
        assert!(matches!(
            w.echo().await,
            Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
                atmo_client::atmo_xrpc::XrpcError { status: 400, .. }
            )))
        ));
        assert!(w.service.of(ECHO).last().unwrap().auth().is_none());
    }
}

/// The refresh token is rejected (`ExpiredToken` or `InvalidToken`) while
/// many calls wait for it: one refresh, `Expired` exactly once, the session
/// file removed, and every caller told the session ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_refresh_ends_the_session_once_for_all_waiters() {
    for name in ["ExpiredToken", "InvalidToken"] {
        let w = World::new(name).await;
        let session = w.login().await;
        w.fake.expire_access();
        // Slow enough that all calls are waiting when the answer comes.
        *w.armed.lock().unwrap() = None;
        let rejecting = Mock::start({
            let fake = w.fake.clone();
            move |r| {
                if r.nsid == REFRESH {
                    return Reply::Delay(
                        Duration::from_millis(300),
                        Box::new(Reply::err(400, name, "Token has been revoked")),
                    );
                }
                fake.handle(r)
            }
        })
        .await;
        let events = Events::default();
        let store = FileStore::new(&w.store_path);
        let agent = AtpAgent::builder(&rejecting.url)
            .session_store(store)
            .on_session_event(events.hook())
            .build()
            .unwrap();
        // Take over the saved session (resume would refresh it right away).
        *w.fake.pds_url.lock().unwrap() = Some(rejecting.url.clone());
        let live = w.fake.current_access();
        w.fake
            .access
            .lock()
            .unwrap()
            .clone_from(&Some(session.access_jwt.expose().to_owned()));
        agent.resume_session(session.clone()).await.unwrap();
        assert_eq!(events.take(), vec![Update]);
        *w.fake.access.lock().unwrap() = live; // expired again
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let a = agent.clone();
                tokio::spawn(async move { a.call::<Echo>(EchoParams::default(), ()).await })
            })
            .collect();
        for t in tasks {
            match t.await.unwrap() {
                Err(Error::Session(atmo_client::SessionError::Expired { error, .. })) => {
                    assert_eq!(error, name)
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(rejecting.count(REFRESH), 1, "{name}");
        assert_eq!(events.take(), vec![Expired], "{name}");
        assert!(!agent.has_session());
        assert!(w.stored().is_none(), "{name}: session file removed");
        // Later calls: no session, no refresh, sent without a token.
        let _ = agent.call::<Echo>(EchoParams::default(), ()).await;
        assert!(rejecting.of(ECHO).last().unwrap().auth().is_none());
        assert_eq!(rejecting.count(REFRESH), 1);
        assert!(events.take().is_empty());
    }
}
