//! The agent over an application's own [`HttpClient`], with no HTTP library:
//! this file is also built with `--no-default-features` (CI does), proving the
//! core works without the `hyper` and `reqwest` features.
//!
//! The client below answers in memory like a PDS would, and records every
//! request it is given.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atmo_api::com::atproto::identity::resolve_handle;
use atmo_client::store::BoxFuture;
use atmo_client::{
    AtpAgent, Error, HttpClient, HttpError, HttpErrorKind, HttpMethod, HttpRequest, HttpResponse,
    Login, SessionEvent, TransportErrorKind,
};
use serde_json::json;

const DID: &str = "did:plc:alice2345alice2345alice";

/// What the fake server answers to resolveHandle.
#[derive(Clone, Copy)]
enum Mode {
    /// The access token `a1` is expired (400 ExpiredToken), `a2` works.
    Normal,
    /// A body over the limit.
    Huge,
    /// No connection.
    Down,
}

#[derive(Clone)]
struct Recorded {
    method: HttpMethod,
    url: String,
    auth: Option<String>,
    timeout: Duration,
    limit: usize,
}

struct InMemory {
    mode: Mutex<Mode>,
    log: Mutex<Vec<Recorded>>,
}

fn json_response(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn session(access: &str, refresh: &str) -> serde_json::Value {
    json!({
        "accessJwt": access, "refreshJwt": refresh, "handle": "alice.test", "did": DID,
        "didDoc": {"id": DID, "service": [{"id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example"}]},
        "active": true
    })
}

impl InMemory {
    fn answer(&self, req: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let auth = req
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.as_str());
        let path = req.url.split('?').next().unwrap_or_default();
        Ok(match path {
            "https://entryway.example/xrpc/com.atproto.server.createSession" => {
                let body: serde_json::Value =
                    serde_json::from_slice(req.body.as_deref().unwrap_or_default()).unwrap();
                if body["password"] == "right" {
                    json_response(200, session("a1", "r1"))
                } else {
                    json_response(
                        401,
                        json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}),
                    )
                }
            }
            "https://entryway.example/xrpc/com.atproto.server.refreshSession" => {
                assert_eq!(auth, Some("Bearer r1"));
                json_response(200, session("a2", "r2"))
            }
            "https://pds.example/xrpc/com.atproto.identity.resolveHandle" => {
                match *self.mode.lock().unwrap() {
                    Mode::Down => {
                        return Err(HttpError::new(HttpErrorKind::Connect, "connection refused"))
                    }
                    Mode::Huge => {
                        return Err(HttpError::new(HttpErrorKind::TooLarge, "over the limit"))
                    }
                    Mode::Normal => {}
                }
                match auth {
                    Some("Bearer a2") => json_response(200, json!({"did": DID})),
                    _ => json_response(
                        400,
                        json!({"error": "ExpiredToken", "message": "Token has expired"}),
                    ),
                }
            }
            other => json_response(
                404,
                json!({"error": "MethodNotImplemented", "message": other}),
            ),
        })
    }
}

impl HttpClient for InMemory {
    fn send(&self, req: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        self.log.lock().unwrap().push(Recorded {
            method: req.method,
            url: req.url.clone(),
            auth: req
                .headers
                .iter()
                .find(|(n, _)| n == "authorization")
                .map(|(_, v)| v.clone()),
            timeout: req.timeout,
            limit: req.max_response_size,
        });
        let answer = self.answer(&req);
        Box::pin(async move { answer })
    }
}

fn setup() -> (Arc<InMemory>, AtpAgent, Arc<Mutex<Vec<SessionEvent>>>) {
    let server = Arc::new(InMemory {
        mode: Mutex::new(Mode::Normal),
        log: Mutex::new(Vec::new()),
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let agent = AtpAgent::builder("https://entryway.example")
        .http_client(server.clone())
        .timeout(Duration::from_secs(7))
        .max_response_size(1000)
        .on_session_event(move |e, _, _| seen.lock().unwrap().push(e))
        .build()
        .unwrap();
    (server, agent, events)
}

fn resolve_params() -> resolve_handle::Parameters {
    resolve_handle::Parameters {
        handle: "alice.test".try_into().unwrap(),
    }
}

#[tokio::test]
async fn logs_in_refreshes_and_retries_through_a_custom_client() {
    let (server, agent, events) = setup();
    match agent.login(Login::new("alice.test", "wrong")).await {
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
            atmo_client::atmo_xrpc::XrpcError {
                status: 401, error, ..
            },
        ))) => assert_eq!(error, "AuthenticationRequired"),
        other => panic!("{other:?}"),
    }
    agent
        .login(Login::new("alice.test", "right"))
        .await
        .unwrap();
    assert_eq!(agent.pds_url().unwrap().as_str(), "https://pds.example/");
    let out = agent
        .call::<resolve_handle::ResolveHandle>(resolve_params(), ())
        .await
        .unwrap();
    assert_eq!(out.did.as_str(), DID);
    assert_eq!(
        *events.lock().unwrap(),
        [
            SessionEvent::CreateFailed,
            SessionEvent::Create,
            SessionEvent::Update
        ]
    );
    let log = server.log.lock().unwrap().clone();
    let seen: Vec<(HttpMethod, &str, Option<&str>)> = log
        .iter()
        .map(|r| (r.method, r.url.as_str(), r.auth.as_deref()))
        .collect();
    let resolve = "https://pds.example/xrpc/com.atproto.identity.resolveHandle?handle=alice.test";
    assert_eq!(
        seen,
        [
            (
                HttpMethod::Post,
                "https://entryway.example/xrpc/com.atproto.server.createSession",
                None
            ),
            (
                HttpMethod::Post,
                "https://entryway.example/xrpc/com.atproto.server.createSession",
                None
            ),
            (HttpMethod::Get, resolve, Some("Bearer a1")),
            (
                HttpMethod::Post,
                "https://entryway.example/xrpc/com.atproto.server.refreshSession",
                Some("Bearer r1")
            ),
            (HttpMethod::Get, resolve, Some("Bearer a2")),
        ]
    );
    assert!(log
        .iter()
        .all(|r| r.timeout == Duration::from_secs(7) && r.limit == 1000));
}

#[tokio::test]
async fn maps_the_clients_errors() {
    let (server, agent, _) = setup();
    agent
        .login(Login::new("alice.test", "right"))
        .await
        .unwrap();
    *server.mode.lock().unwrap() = Mode::Down;
    match agent
        .call::<resolve_handle::ResolveHandle>(resolve_params(), ())
        .await
    {
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Transport(t))) => {
            assert_eq!(t.kind, TransportErrorKind::Connect);
            assert_eq!(t.nsid, "com.atproto.identity.resolveHandle");
            assert!(t.message.contains("connection refused"), "{t}");
        }
        other => panic!("{other:?}"),
    }
    *server.mode.lock().unwrap() = Mode::Huge;
    match agent
        .call::<resolve_handle::ResolveHandle>(resolve_params(), ())
        .await
    {
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::ResponseTooLarge { limit, .. })) => {
            assert_eq!(limit, 1000)
        }
        other => panic!("{other:?}"),
    }
    // The session survived both.
    assert!(agent.has_session());
}

#[cfg(not(any(feature = "hyper", feature = "reqwest")))]
#[test]
fn without_a_built_in_client_an_http_client_is_required() {
    match AtpAgent::builder("https://bsky.social").build() {
        Err(e @ Error::Config(_)) => {
            assert!(
                e.to_string()
                    .contains("enable the `hyper` (or `reqwest`) feature"),
                "{e}"
            )
        }
        other => panic!("{other:?}"),
    }
}
