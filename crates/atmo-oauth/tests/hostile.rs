//! Hostile answers at every HTTP entry point of the OAuth client: the
//! protected-resource and authorization-server metadata, PAR, and the token
//! endpoint (code exchange and refresh). A raw-TCP server on loopback
//! writes whatever bytes a case calls for. Each case must end in a typed
//! error within the client's timeout: never a panic, never a hang (each is
//! bounded, so a hang fails), and a refresh that meets one keeps its
//! session.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atmo_oauth::{
    AuthorizeOptions, ClientConfig, IdentityResolver, MemoryStore, OAuthClient, OAuthError,
    OAuthSessionData, OAuthSessionStore, ResolvedIdentity, Scopes,
};
use atmo_types::Did;
use atmo_xrpc::BoxFuture;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The client's per-request timeout in these tests.
const TIMEOUT: Duration = Duration::from_millis(800);
/// Far longer than any case may take; reaching it means a hang.
const BOUND: Duration = Duration::from_secs(30);

/// What the server does with a request.
#[derive(Clone, Debug)]
enum Answer {
    /// These bytes, then close.
    Raw(Vec<u8>),
    /// These bytes, then keep the connection open and send nothing more.
    RawThenStall(Vec<u8>),
    /// A 200 with a chunked body that never ends.
    Endless,
    /// Read the request, never answer.
    Silent,
}

fn http(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The hostile cases, by name.
fn cases() -> Vec<(&'static str, Answer)> {
    let mut huge_header = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-huge: ".to_vec();
    huge_header.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    huge_header.extend(b"\r\ncontent-length: 2\r\n\r\n{}");
    let mut many_headers = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..10_000 {
        many_headers.extend(format!("x-h{i}: v\r\n").as_bytes());
    }
    many_headers.extend(b"content-length: 2\r\n\r\n{}");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = "{\"a\":".repeat(50_000);
    let mut binary = Vec::new();
    for i in 0u32..4096 {
        binary.push(u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap());
    }
    vec![
        ("huge header", Answer::Raw(huge_header)),
        ("ten thousand headers", Answer::Raw(many_headers)),
        (
            "malformed header lines",
            Answer::Raw(b"HTTP/1.1 200 OK\r\ncontent-type application/json\r\n: no name\r\n\x01\x02: \xff\r\n\r\n{}".to_vec()),
        ),
        (
            "content-length longer than the body, then closed",
            Answer::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n{\"a\":".to_vec()),
        ),
        (
            "content-length longer than the body, then silence",
            Answer::RawThenStall(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n{\"a\":".to_vec()),
        ),
        (
            "content-length shorter than the body",
            Answer::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n{\"issuer\":\"x\"}".to_vec()),
        ),
        (
            "two different content-lengths",
            Answer::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 9\r\n\r\n{}".to_vec()),
        ),
        (
            "negative content-length",
            Answer::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n{}".to_vec()),
        ),
        (
            "declared oversize body",
            Answer::RawThenStall(b"HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n{".to_vec()),
        ),
        ("endless body", Answer::Endless),
        ("oversize body", Answer::Raw(http("200 OK", "", &vec![b' '; 2 * 1024 * 1024]))),
        ("invalid JSON", Answer::Raw(http("200 OK", "", b"{\"issuer\": nope"))),
        ("deeply nested arrays", Answer::Raw(http("200 OK", "", deep.as_bytes()))),
        ("deeply nested objects", Answer::Raw(http("200 OK", "", deep_object.as_bytes()))),
        ("JSON of the wrong shape", Answer::Raw(http("200 OK", "", b"[1,2,3]"))),
        ("an error body on a 200", Answer::Raw(http("200 OK", "", br#"{"error":"invalid_grant"}"#))),
        ("HTML on a 200", Answer::Raw(http("200 OK", "", b"<html>hello</html>"))),
        (
            "a 500 with a huge error description",
            Answer::Raw(http(
                "500 Internal Server Error",
                "",
                json!({"error": "server_error", "error_description": "x".repeat(60_000)}).to_string().as_bytes(),
            )),
        ),
        (
            "a 400 with a huge error code",
            Answer::Raw(http(
                "400 Bad Request",
                "",
                json!({"error": "e".repeat(60_000)}).to_string().as_bytes(),
            )),
        ),
        ("garbage status code", Answer::Raw(b"HTTP/1.1 abc OK\r\ncontent-length: 2\r\n\r\n{}".to_vec())),
        ("status 999", Answer::Raw(b"HTTP/1.1 999 Whatever\r\ncontent-length: 2\r\n\r\n{}".to_vec())),
        ("unknown HTTP version", Answer::Raw(b"HTTP/7.3 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec())),
        ("a 100 Continue and nothing else", Answer::RawThenStall(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())),
        ("another protocol's greeting", Answer::Raw(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec())),
        ("binary bytes", Answer::Raw(binary)),
        ("closed without a byte", Answer::Raw(Vec::new())),
        ("never answers", Answer::Silent),
    ]
}

/// A server answering well everywhere except where the plan says.
#[derive(Clone)]
struct Server {
    url: String,
    plan: Arc<Mutex<HashMap<&'static str, Answer>>>,
    /// The `state` of the last PAR request.
    state: Arc<Mutex<Option<String>>>,
}

const RESOURCE: &str = "/.well-known/oauth-protected-resource";
const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
const PAR: &str = "/oauth/par";
const TOKEN: &str = "/oauth/token";
const REVOKE: &str = "/oauth/revoke";

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let server = Server {
            url,
            plan: Arc::default(),
            state: Arc::default(),
        };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(s.clone().serve(stream));
            }
        });
        server
    }

    fn set(&self, path: &'static str, answer: Option<Answer>) {
        let mut plan = self.plan.lock().unwrap();
        match answer {
            Some(a) => plan.insert(path, a),
            None => plan.remove(path),
        };
    }

    async fn serve(self, mut stream: TcpStream) {
        let Some((path, body)) = read_request(&mut stream).await else {
            return;
        };
        let planned = self.plan.lock().unwrap().get(path.as_str()).cloned();
        let answer = planned.unwrap_or_else(|| Answer::Raw(self.good(&path, &body)));
        match answer {
            Answer::Raw(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
            }
            Answer::RawThenStall(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.read(&mut [0u8; 1]).await;
                tokio::time::sleep(BOUND).await;
            }
            Answer::Endless => {
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head).await.is_err() {
                    return;
                }
                let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
            }
            Answer::Silent => tokio::time::sleep(BOUND).await,
        }
    }

    fn good(&self, path: &str, body: &[u8]) -> Vec<u8> {
        let base = &self.url;
        let doc = match path {
            RESOURCE => json!({"resource": base, "authorization_servers": [base]}),
            AS_METADATA => json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/oauth/authorize"),
                "token_endpoint": format!("{base}{TOKEN}"),
                "pushed_authorization_request_endpoint": format!("{base}{PAR}"),
                "revocation_endpoint": format!("{base}{REVOKE}"),
                "client_id_metadata_document_supported": true,
                "authorization_response_iss_parameter_supported": true,
                "dpop_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
            }),
            PAR => {
                let form = String::from_utf8_lossy(body).into_owned();
                let state = form
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("state="))
                    .map(str::to_owned);
                *self.state.lock().unwrap() = state;
                return http(
                    "201 Created",
                    "",
                    json!({"request_uri": "urn:ietf:params:oauth:request_uri:r", "expires_in": 60})
                        .to_string()
                        .as_bytes(),
                );
            }
            TOKEN => json!({
                "access_token": "acc", "refresh_token": "ref", "token_type": "DPoP",
                "sub": "did:plc:alice", "scope": "atproto", "expires_in": 3600,
            }),
            REVOKE => json!({}),
            _ => return http("404 Not Found", "", b"{}"),
        };
        http("200 OK", "", doc.to_string().as_bytes())
    }
}

/// The path and body of one request (`None` when it is not readable).
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let path = head.split(' ').nth(1)?.split('?').next()?.to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((path, body))
}

/// `did:plc:alice` lives on the hostile server.
struct Stub(String);

impl IdentityResolver for Stub {
    fn resolve<'a>(
        &'a self,
        _id: &'a str,
        _fresh: bool,
    ) -> BoxFuture<'a, Result<ResolvedIdentity, OAuthError>> {
        Box::pin(async move {
            Ok(ResolvedIdentity {
                did: Did::new("did:plc:alice").unwrap(),
                pds: self.0.clone(),
            })
        })
    }
}

fn client(server: &Server, store: Arc<MemoryStore<OAuthSessionData>>) -> OAuthClient {
    OAuthClient::builder(ClientConfig::loopback(
        vec!["http://127.0.0.1/callback".into()],
        Scopes::atproto(),
    ))
    .identity_resolver(Arc::new(Stub(server.url.clone())))
    .session_store(store)
    .timeout(TIMEOUT)
    .build()
    .unwrap()
}

/// Checks that `err`, the outcome of case `case`, is one of the typed
/// failures of a bad answer, and that its text stays short (no echo of a
/// huge header or body).
fn assert_typed(case: &str, err: &OAuthError) {
    assert!(
        matches!(
            err,
            OAuthError::Http { .. }
                | OAuthError::Metadata { .. }
                | OAuthError::MetadataStatus { .. }
                | OAuthError::IssuerMetadataMismatch { .. }
                | OAuthError::Server { .. }
                | OAuthError::UnexpectedStatus { .. }
                | OAuthError::TokenResponse(_)
        ),
        "{case}: {err:?}"
    );
    let text = err.to_string();
    assert!(
        text.len() < 2048,
        "{case}: an error of {} bytes",
        text.len()
    );
}

/// Runs `attempt` for every case with the hostile answer at `path`,
/// bounded; returns each case's error.
async fn each_case<F, Fut>(server: &Server, path: &'static str, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), OAuthError>>,
{
    for (case, answer) in cases() {
        server.set(path, Some(answer));
        let outcome = tokio::time::timeout(BOUND, attempt())
            .await
            .unwrap_or_else(|_| panic!("{path}: {case}: hung past the client's timeout"));
        let err = outcome.expect_err(case);
        assert_typed(case, &err);
        server.set(path, None);
    }
}

async fn authorize(client: &OAuthClient, server: &Server) -> Result<(), OAuthError> {
    client
        .authorize(&server.url, AuthorizeOptions::default())
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_protected_resource_metadata() {
    let server = Server::start().await;
    let client = client(&server, Arc::default());
    // Also serve the same answer as the authorization server's document,
    // which a URL input falls back to.
    for (case, answer) in cases() {
        server.set(RESOURCE, Some(answer.clone()));
        server.set(AS_METADATA, Some(answer));
        let err = tokio::time::timeout(BOUND, authorize(&client, &server))
            .await
            .unwrap_or_else(|_| panic!("{case}: hung"))
            .expect_err(case);
        assert_typed(case, &err);
    }
    server.set(RESOURCE, None);
    server.set(AS_METADATA, None);
    authorize(&client, &server).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_authorization_server_metadata() {
    let server = Server::start().await;
    let client = client(&server, Arc::default());
    each_case(&server, AS_METADATA, || authorize(&client, &server)).await;
    authorize(&client, &server).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_par_endpoint() {
    let server = Server::start().await;
    let client = client(&server, Arc::default());
    each_case(&server, PAR, || authorize(&client, &server)).await;
    authorize(&client, &server).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_token_endpoint_at_the_code_exchange() {
    let server = Server::start().await;
    let client = client(&server, Arc::default());
    each_case(&server, TOKEN, || async {
        authorize(&client, &server).await.unwrap();
        let state = server.state.lock().unwrap().clone().unwrap();
        let query = format!(
            "code=c&state={state}&iss={}",
            server.url.replace(':', "%3A").replace('/', "%2F")
        );
        client.callback(&query).await.map(|_| ())
    })
    .await;
}

/// A refresh that meets a hostile token endpoint keeps the session and
/// reports a transient error.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_token_endpoint_at_a_refresh_keeps_the_session() {
    let server = Server::start().await;
    let store = Arc::new(MemoryStore::<OAuthSessionData>::new());
    let client = client(&server, store.clone());
    authorize(&client, &server).await.unwrap();
    let state = server.state.lock().unwrap().clone().unwrap();
    let query = format!(
        "code=c&state={state}&iss={}",
        server.url.replace(':', "%3A").replace('/', "%2F")
    );
    let (session, _) = client.callback(&query).await.unwrap();
    let did = session.account().clone();
    for (case, answer) in cases() {
        server.set(TOKEN, Some(answer));
        let err = tokio::time::timeout(BOUND, session.refresh())
            .await
            .unwrap_or_else(|_| panic!("{case}: hung"))
            .expect_err(case);
        assert!(err.is_transient(), "{case}: {err:?}");
        assert!(
            store.load_session(&did).await.unwrap().is_some(),
            "{case}: the session was dropped"
        );
        assert!(session.data().is_some(), "{case}");
    }
    server.set(TOKEN, None);
    session.refresh().await.unwrap();
}

/// Signing out against a hostile revocation endpoint ends the session all
/// the same (store cleared), and reports a typed error when there was no
/// usable answer.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_revocation_endpoint_still_signs_out() {
    let server = Server::start().await;
    let store = Arc::new(MemoryStore::<OAuthSessionData>::new());
    let client = client(&server, store.clone());
    for (case, answer) in cases() {
        authorize(&client, &server).await.unwrap();
        let state = server.state.lock().unwrap().clone().unwrap();
        let query = format!(
            "code=c&state={state}&iss={}",
            server.url.replace(':', "%3A").replace('/', "%2F")
        );
        let (session, _) = client.callback(&query).await.unwrap();
        server.set(REVOKE, Some(answer));
        // The OAuth-typed form, so that assert_typed sees the OAuthError.
        #[allow(deprecated)]
        let outcome = tokio::time::timeout(BOUND, session.sign_out())
            .await
            .unwrap_or_else(|_| panic!("{case}: hung"));
        if let Err(e) = &outcome {
            assert_typed(case, e);
        }
        assert!(
            store
                .load_session(session.account())
                .await
                .unwrap()
                .is_none(),
            "{case}: the session was kept"
        );
        assert!(session.data().is_none(), "{case}");
        server.set(REVOKE, None);
    }
}
