//! The resolver against a hostile server: a raw TCP listener on 127.0.0.1
//! that writes whatever bytes a case calls for (broken status lines, huge or
//! malformed headers, lying lengths, endless bodies, silence, hostile DID
//! documents) behind each of the resolver's HTTP entry points: the PLC
//! directory, `did:web` documents, `/.well-known/atproto-did` and a
//! `com.atproto.identity.resolveHandle` service.
//!
//! Every case must end in a typed [`Error`] naming the step and the
//! identifier, with a short message, within the resolver's timeout and size
//! cap. Each test runs under `tokio::time::timeout`, so a hang fails.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use atmo_identity::{DocumentError, Error, ErrorKind, Resolver, Step};
use atmo_xrpc::{
    BoxFuture, HttpClient, HttpError, HttpErrorKind, HttpRequest, HttpResponse, ReqwestClient,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const K256: &str = "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";

/// The resolver's per-request timeout in these tests.
const TIMEOUT: Duration = Duration::from_millis(700);
/// The document size cap in these tests.
const CAP: usize = 64 * 1024;
/// A bound no case may reach: the resolver's timeout plus a wide margin
/// for a loaded machine. Reaching it means a hang.
const HANG: Duration = Duration::from_secs(30);
/// Longest error message accepted: hostile servers must not be able to
/// make error texts (and logs) grow with what they send.
const MAX_MESSAGE: usize = 1500;

/// What the server does on a connection once it has read the request head.
#[derive(Clone)]
enum Play {
    /// Writes these bytes, then closes.
    Send(Vec<u8>),
    /// Writes these bytes, then keeps the connection open without a word.
    SendThenStall(Vec<u8>),
    /// Writes these bytes, then the filler forever (until the client goes).
    Endless(Vec<u8>, Vec<u8>),
}

/// Raw-TCP server on 127.0.0.1 playing the same answer on every connection.
struct Hostile {
    port: u16,
    /// Connections accepted so far.
    connections: Arc<AtomicUsize>,
}

impl Hostile {
    async fn start(play: Play) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, play.clone()));
            }
        });
        Hostile { port, connections }
    }

    /// A server that accepts connections and never reads nor writes.
    async fn silent() -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Hostile {
            port,
            connections: Arc::default(),
        }
    }
}

async fn serve(mut stream: TcpStream, play: Play) {
    // Read the request head (the resolver only sends GETs without a body).
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    match play {
        Play::Send(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Play::SendThenStall(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.flush().await;
            // Hold the connection until the client gives up.
            let _ = stream.read(&mut buf).await;
        }
        Play::Endless(start, filler) => {
            if stream.write_all(&start).await.is_err() {
                return;
            }
            while stream.write_all(&filler).await.is_ok() {}
        }
    }
}

/// A well-formed answer with `body`.
fn ok(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn document(did: &str, pds: Value) -> Value {
    json!({
        "id": did,
        "alsoKnownAs": ["at://alice.example.com"],
        "verificationMethod": [{
            "id": format!("{did}#atproto"), "type": "Multikey",
            "controller": did, "publicKeyMultibase": K256
        }],
        "service": [{
            "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": pds
        }]
    })
}

/// Sends `https://<anything>/...` to the hostile server instead (plain
/// http on 127.0.0.1:port), through the real reqwest client: how a handle's
/// `/.well-known/atproto-did` reaches a test server without DNS.
struct ToLoopback {
    inner: ReqwestClient,
    port: u16,
}

impl HttpClient for ToLoopback {
    fn send(&self, mut request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        if let Some(rest) = request.url.strip_prefix("https://") {
            let path = rest.find('/').map_or("/", |i| &rest[i..]);
            request.url = format!("http://127.0.0.1:{}{path}", self.port);
        }
        self.inner.send(request)
    }
}

fn reqwest() -> ReqwestClient {
    ReqwestClient::new().unwrap()
}

/// The three entry points, each against its own hostile server.
#[derive(Clone, Copy, Debug)]
enum Entry {
    Plc,
    DidWeb,
    WellKnown,
    ResolveHandle,
}

const ENTRIES: [Entry; 4] = [
    Entry::Plc,
    Entry::DidWeb,
    Entry::WellKnown,
    Entry::ResolveHandle,
];

impl Entry {
    fn step(self) -> Step {
        match self {
            Entry::Plc => Step::Plc,
            Entry::DidWeb => Step::DidWeb,
            Entry::WellKnown => Step::WellKnown,
            Entry::ResolveHandle => Step::ResolveHandle,
        }
    }
}

/// Resolves through `entry` against `server`; the identifier asked for and
/// the result.
async fn resolve(entry: Entry, server: &Hostile) -> (String, Result<(), Error>) {
    let port = server.port;
    match entry {
        Entry::Plc => {
            let r = Resolver::builder(Arc::new(reqwest()))
                .plc_url(format!("http://127.0.0.1:{port}"))
                .timeout(TIMEOUT)
                .max_document_size(CAP)
                .no_cache()
                .build()
                .unwrap();
            (ALICE.to_owned(), r.resolve_did(ALICE).await.map(drop))
        }
        Entry::DidWeb => {
            let did = format!("did:web:localhost%3A{port}");
            let r = Resolver::builder(Arc::new(reqwest()))
                .allow_private_hosts(true)
                .allow_http_loopback(true)
                .timeout(TIMEOUT)
                .max_document_size(CAP)
                .no_cache()
                .build()
                .unwrap();
            let result = r.resolve_did(&did).await.map(drop);
            (did, result)
        }
        Entry::WellKnown => {
            let http = ToLoopback {
                inner: reqwest(),
                port,
            };
            let r = Resolver::builder(Arc::new(http))
                .timeout(TIMEOUT)
                .no_cache()
                .build()
                .unwrap();
            let handle = "alice.example.com";
            (handle.to_owned(), r.resolve_handle(handle).await.map(drop))
        }
        Entry::ResolveHandle => {
            let r = Resolver::builder(Arc::new(reqwest()))
                .well_known(false)
                .resolve_handle_via(format!("http://127.0.0.1:{port}"))
                .timeout(TIMEOUT)
                .no_cache()
                .build()
                .unwrap();
            let handle = "alice.example.com";
            (handle.to_owned(), r.resolve_handle(handle).await.map(drop))
        }
    }
}

/// Runs `f` under the hang bound.
async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {HANG:?} (a hang)"),
    }
}

/// Plays `play` behind `entry` and returns the error, checked for step,
/// identifier and message length.
async fn error_for(entry: Entry, play: Play, case: &str) -> Error {
    let server = Hostile::start(play).await;
    let (id, result) = bounded(case, resolve(entry, &server)).await;
    let e = match result {
        Ok(()) => panic!("{entry:?} {case}: accepted"),
        Err(e) => e,
    };
    // A document that arrived but is unusable is reported at the document
    // step; everything else at the entry point's own.
    let step = match e.kind() {
        ErrorKind::Document(_) => Step::Document,
        _ => entry.step(),
    };
    assert_eq!(e.step(), step, "{entry:?} {case}: {e}");
    assert_eq!(e.identifier(), id, "{entry:?} {case}: {e}");
    let text = e.to_string();
    assert!(
        text.len() <= MAX_MESSAGE,
        "{entry:?} {case}: a message of {} bytes: {}…",
        text.len(),
        text.chars().take(200).collect::<String>()
    );
    e
}

fn http_kind(e: &Error) -> Option<HttpErrorKind> {
    match e.kind() {
        ErrorKind::Http(h) => Some(h.kind),
        _ => None,
    }
}

fn is_too_large(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::BadAnswer(why) if why.contains("larger than"))
}

/// The answer of a broken transport: an HTTP error, never an answer.
fn assert_transport_error(e: &Error, entry: Entry, case: &str) {
    assert!(
        matches!(
            http_kind(e),
            Some(HttpErrorKind::Other | HttpErrorKind::Body | HttpErrorKind::Connect)
        ),
        "{entry:?} {case}: {e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_http_ends_in_transport_errors() {
    let huge_header = {
        let mut h = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
        h.extend(std::iter::repeat_n(b'a', 1 << 20));
        h.extend_from_slice(b"\r\ncontent-length: 2\r\n\r\n{}");
        h
    };
    let many_headers = {
        let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..5000 {
            h.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
        }
        h.extend_from_slice(b"content-length: 2\r\n\r\n{}");
        h
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a header of 1 MiB", huge_header),
        ("5000 headers", many_headers),
        (
            "a header line without a colon",
            b"HTTP/1.1 200 OK\r\nthis is not a header\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        ),
        (
            "a header name with spaces and control bytes",
            b"HTTP/1.1 200 OK\r\nbad\x01 name: v\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        ),
        (
            "a garbage status line",
            b"HTTP/1.1 two hundred OK\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        ),
        (
            "a status line of another protocol",
            b"SPDY/9 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        ),
        (
            "non-HTTP bytes",
            b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02\xff\xfe".to_vec(),
        ),
        (
            "binary noise",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("an immediate close", Vec::new()),
        (
            "a content-length that is not a number",
            b"HTTP/1.1 200 OK\r\ncontent-length: lots\r\n\r\n{}".to_vec(),
        ),
        (
            "two different content-lengths",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 9\r\n\r\n{}".to_vec(),
        ),
        (
            "a content-length longer than the body, then a close",
            b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{\"id\":".to_vec(),
        ),
        (
            "a broken chunked encoding",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
        ),
    ];
    for entry in ENTRIES {
        for (case, bytes) in &cases {
            let e = error_for(entry, Play::Send(bytes.clone()), case).await;
            assert_transport_error(&e, entry, case);
            assert!(e.is_transient(), "{entry:?} {case}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_and_stalls_end_within_the_timeout() {
    for entry in ENTRIES {
        // Accepts and never answers.
        let server = Hostile::silent().await;
        let (_, result) = bounded("silent server", resolve(entry, &server)).await;
        let e = result.unwrap_err();
        assert_eq!(e.step(), entry.step(), "{e}");
        assert_eq!(
            http_kind(&e),
            Some(HttpErrorKind::Timeout),
            "{entry:?}: {e}"
        );
        assert!(e.is_transient());

        let stalls: [(&str, &[u8]); 3] = [
            ("half a status line", b"HTTP/1.1 20"),
            (
                "headers and no body",
                b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n",
            ),
            (
                "a body that stops half-way",
                b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"id\": \"did:",
            ),
        ];
        for (case, bytes) in stalls {
            let e = error_for(entry, Play::SendThenStall(bytes.to_vec()), case).await;
            assert_eq!(
                http_kind(&e),
                Some(HttpErrorKind::Timeout),
                "{entry:?} {case}: {e}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_endless_bodies_stop_at_the_cap() {
    for entry in ENTRIES {
        let cases: Vec<(&str, Play)> = vec![
            (
                "a declared length of 10 GB",
                Play::SendThenStall(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n".to_vec(),
                ),
            ),
            (
                "an honest body over the cap",
                Play::Send(ok("application/json", &vec![b' '; CAP + 1])),
            ),
            (
                "an endless chunked body",
                Play::Endless(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec(),
                    b"400\r\n"
                        .iter()
                        .copied()
                        .chain([b'['; 1024])
                        .chain(*b"\r\n")
                        .collect(),
                ),
            ),
            (
                "an endless body until close",
                Play::Endless(
                    b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec(),
                    vec![b'a'; 8192],
                ),
            ),
            (
                "100k opening brackets",
                Play::Send(ok("application/json", &vec![b'['; 100_000])),
            ),
        ];
        for (case, play) in cases {
            let e = error_for(entry, play, case).await;
            assert!(is_too_large(&e), "{entry:?} {case}: {e:?}");
            assert!(!e.is_transient(), "{entry:?} {case}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_is_a_bad_answer() {
    let error_body = br#"{"error":"InternalServerError","message":"Internal Server Error"}"#;
    let nested = vec![b'['; 60_000];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an error body on a 200", ok("application/json", error_body)),
        (
            "invalid JSON",
            ok("application/json", b"{\"id\": \"did:plc:"),
        ),
        ("JSON nested 60k deep", ok("application/json", &nested)),
        (
            "an HTML page",
            ok("text/html", b"<html><body>It works!</body></html>"),
        ),
        ("an empty body", ok("application/json", b"")),
        ("invalid UTF-8", ok("text/plain", b"\xff\xfe did:plc:")),
        (
            "a content-length shorter than the body",
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{}",
                document(ALICE, json!("https://pds.example.com"))
            )
            .into_bytes(),
        ),
    ];
    for entry in ENTRIES {
        for (case, bytes) in &cases {
            let e = error_for(entry, Play::Send(bytes.clone()), case).await;
            match (entry, e.kind()) {
                // Documents: JSON or shape errors, reported at the fetch
                // step's identifier.
                (Entry::Plc | Entry::DidWeb, ErrorKind::Document(_)) => {}
                (Entry::WellKnown | Entry::ResolveHandle, ErrorKind::BadAnswer(_)) => {}
                _ => panic!("{entry:?} {case}: {e:?}"),
            }
            assert!(!e.is_transient(), "{entry:?} {case}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_statuses_are_typed() {
    let cases: Vec<(&str, Vec<u8>, ErrorKind)> = vec![
        (
            "a 500 with an error body",
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
            ErrorKind::Status(500),
        ),
        (
            "an unknown status",
            b"HTTP/1.1 299 Whatever\r\ncontent-length: 0\r\n\r\n".to_vec(),
            ErrorKind::Status(299),
        ),
        (
            "a redirect without a location",
            b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\n\r\n".to_vec(),
            ErrorKind::Status(302),
        ),
    ];
    // A redirect to a long URL that is no URL: refused, quoted briefly.
    let location = format!("https://{} x/", "a".repeat(30_000));
    for entry in ENTRIES {
        let bytes =
            format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n");
        let case = "a redirect to a long invalid URL";
        let e = error_for(entry, Play::Send(bytes.into_bytes()), case).await;
        assert!(
            matches!(e.kind(), ErrorKind::Refused(_) | ErrorKind::Redirect(_)),
            "{entry:?} {case}: {e:?}"
        );
    }
    for entry in ENTRIES {
        for (case, bytes, want) in &cases {
            let e = error_for(entry, Play::Send(bytes.clone()), case).await;
            // reqwest answers a redirect without a Location itself.
            let redirect = matches!(e.kind(), ErrorKind::Redirect(_));
            assert!(e.kind() == want || redirect, "{entry:?} {case}: {e:?}");
        }
    }
}

/// Serves `doc` as the PLC directory's answer and resolves the identity
/// with a default (strict) resolver pointed at it.
async fn identity_from(doc: &Value, max_size: usize) -> Error {
    let body = serde_json::to_vec(doc).unwrap();
    let server = Hostile::start(Play::Send(ok("application/json", &body))).await;
    let r = Resolver::builder(Arc::new(reqwest()))
        .plc_url(format!("http://127.0.0.1:{}", server.port))
        .timeout(TIMEOUT)
        .max_document_size(max_size)
        .no_cache()
        .build()
        .unwrap();
    let result = bounded("identity", r.resolve_identity(ALICE)).await;
    let e = match result {
        Ok(id) => panic!("accepted {id:?}"),
        Err(e) => e,
    };
    assert_eq!(e.identifier(), ALICE, "{e}");
    let text = e.to_string();
    assert!(
        text.len() <= MAX_MESSAGE,
        "a message of {} bytes: {}…",
        text.len(),
        text.chars().take(200).collect::<String>()
    );
    e
}

fn document_error(e: &Error) -> &DocumentError {
    match e.kind() {
        ErrorKind::Document(d) => d,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_are_refused_with_the_reason() {
    bounded("hostile documents", async {
        // Another DID's document.
        let e = identity_from(
            &document(
                "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb",
                json!("https://pds.example.com"),
            ),
            CAP,
        )
        .await;
        assert_eq!(e.step(), Step::Document);
        assert!(
            matches!(e.kind(), ErrorKind::WrongDocument(id) if id.contains("bbbb")),
            "{e}"
        );

        // An id that is no DID at all, and a very long one.
        for id in [
            json!("not a did"),
            json!(format!("did:plc:{}", "a".repeat(30_000))),
        ] {
            let mut doc = document(ALICE, json!("https://pds.example.com"));
            doc["id"] = id;
            let e = identity_from(&doc, CAP).await;
            assert!(
                matches!(document_error(&e), DocumentError::InvalidId(_)),
                "{e:?}"
            );
        }

        // Service endpoints that are not URLs, or not strings.
        for (endpoint, what) in [
            (json!("not a url"), "spaces"),
            (json!("pds.example.com"), "not an absolute URL"),
            (json!("ftp://pds.example.com"), "unsupported scheme"),
            (
                json!(format!("https://{}.com", "a".repeat(40_000))),
                "too long",
            ),
            (json!(format!("https://{}.com", "a".repeat(64))), "too long"),
            (json!("https://user:pw@pds.example.com"), "user names"),
            (
                json!(format!("https://pds.example.com/{} x", "a".repeat(40_000))),
                "spaces",
            ),
            (json!({"uri": "https://pds.example.com"}), "not a string"),
            (json!(["https://pds.example.com"]), "not a string"),
            (json!(42), "not a string"),
            (json!(null), "not a string"),
        ] {
            let e = identity_from(&document(ALICE, endpoint.clone()), CAP).await;
            match (e.kind(), what) {
                (ErrorKind::Document(DocumentError::PdsEndpoint(why)), what) => {
                    assert!(why.contains(what), "{endpoint}: {why}");
                }
                _ => panic!("{endpoint}: {e:?}"),
            }
        }

        // Endpoints on private, loopback and link-local hosts.
        for endpoint in [
            "https://127.0.0.1",
            "http://127.0.0.1:2583",
            "https://10.0.0.1",
            "https://169.254.169.254",
            "https://[::1]",
            "https://[::ffff:127.0.0.1]",
            "https://[::ffff:7f00:1]",
            "https://[::127.0.0.1]",
            "https://[2002:7f00:1::]",
            "https://[2002:a00::1]",
            "https://[64:ff9b::10.0.0.1]",
            "https://[fd00::1]",
            "https://localhost",
            "https://pds.localhost",
            "https://printer.local",
            "https://2130706433",
            "https://0x7f.1",
        ] {
            let e = identity_from(&document(ALICE, json!(endpoint)), CAP).await;
            assert!(
                matches!(e.kind(), ErrorKind::Refused(_)),
                "{endpoint}: {e:?}"
            );
            assert_eq!(e.step(), Step::Document);
        }

        // Plain http to a public host.
        let e = identity_from(&document(ALICE, json!("http://pds.example.com")), CAP).await;
        assert!(
            matches!(e.kind(), ErrorKind::Refused(why) if why.contains("plain http")),
            "{e}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_and_mistyped_documents() {
    bounded("absurd documents", async {
        // 100 000 services, all claiming to be the PDS (a 10 MiB document
        // with the cap raised to let it through): counted, not looped on.
        let mut doc = document(ALICE, json!("https://pds.example.com"));
        let service = doc["service"][0].clone();
        doc["service"] = Value::Array(vec![service; 100_000]);
        let e = identity_from(&doc, 16 << 20).await;
        assert_eq!(document_error(&e), &DocumentError::DuplicatePds(100_000));

        // 100 000 services of which none is the PDS.
        let other = json!({"id": "#other", "type": "Other", "serviceEndpoint": "https://x.example"});
        doc["service"] = Value::Array(vec![other; 100_000]);
        let e = identity_from(&doc, 16 << 20).await;
        assert_eq!(document_error(&e), &DocumentError::MissingPds);

        // Fields of the wrong JSON type: named by their path.
        let cases: Vec<(&str, Value, &str)> = vec![
            ("id", json!(12), "id"),
            ("alsoKnownAs", json!("at://alice.example.com"), "alsoKnownAs"),
            ("alsoKnownAs", json!([1, 2]), "alsoKnownAs[0]"),
            ("verificationMethod", json!({"id": "#atproto"}), "verificationMethod"),
            ("verificationMethod", json!([7]), "verificationMethod[0]"),
            (
                "verificationMethod",
                json!([{"id": "#atproto", "type": "Multikey", "publicKeyMultibase": {"z": 1}}]),
                "verificationMethod[0].publicKeyMultibase",
            ),
            ("service", json!(true), "service"),
            ("service", json!([null]), "service[0]"),
            (
                "service",
                json!([{"id": 5, "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example.com"}]),
                "service[0].id",
            ),
            (
                "service",
                json!([{"id": "#atproto_pds", "type": [], "serviceEndpoint": "https://pds.example.com"}]),
                "service[0].type",
            ),
            (
                "service",
                json!([{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer"}]),
                "service[0].serviceEndpoint",
            ),
        ];
        for (field, value, path) in cases {
            let mut doc = document(ALICE, json!("https://pds.example.com"));
            doc[field] = value.clone();
            let e = identity_from(&doc, CAP).await;
            match document_error(&e) {
                DocumentError::Shape { path: p, .. } => assert_eq!(p, path, "{field}: {value}"),
                other => panic!("{field}: {value}: {other:?}"),
            }
            assert!(e.to_string().contains(path), "{e}");
        }

        // The document is not an object at all.
        for body in [json!([]), json!("did:plc:x"), json!(null), json!(1e308)] {
            let e = identity_from(&body, CAP).await;
            assert!(
                matches!(document_error(&e), DocumentError::Shape { .. }),
                "{body}: {e:?}"
            );
        }

        // A signing key of 40 000 characters, and a key type of 40 000.
        let mut doc = document(ALICE, json!("https://pds.example.com"));
        doc["verificationMethod"][0]["publicKeyMultibase"] = json!(format!("z{}", "A".repeat(40_000)));
        let e = identity_from(&doc, CAP).await;
        assert!(matches!(document_error(&e), DocumentError::Key(_)), "{e:?}");
        let mut doc = document(ALICE, json!("https://pds.example.com"));
        doc["verificationMethod"][0]["type"] = json!("T".repeat(40_000));
        let e = identity_from(&doc, CAP).await;
        assert!(matches!(document_error(&e), DocumentError::Key(_)), "{e:?}");
        // A PDS service type of 40 000 characters.
        let mut doc = document(ALICE, json!("https://pds.example.com"));
        doc["service"][0]["type"] = json!("T".repeat(40_000));
        let e = identity_from(&doc, CAP).await;
        assert!(
            matches!(document_error(&e), DocumentError::PdsServiceType(_)),
            "{e:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_configured_times_do_not_overflow() {
    // A resolver configured with the largest durations there are still
    // resolves and caches: no `Instant + Duration` overflows.
    bounded("huge durations", async {
        let mut doc = document(ALICE, json!("https://pds.example.com"));
        // No handle claim: nothing to verify over the real network.
        doc["alsoKnownAs"] = json!([]);
        let body = serde_json::to_vec(&doc).unwrap();
        let server = Hostile::start(Play::Send(ok("application/json", &body))).await;
        let r = Resolver::builder(Arc::new(reqwest()))
            .plc_url(format!("http://127.0.0.1:{}", server.port))
            .timeout(Duration::MAX)
            .ttl(Duration::MAX, Duration::MAX)
            .build()
            .unwrap();
        let id = r.resolve_identity(ALICE).await.unwrap();
        assert_eq!(id.pds.as_str(), "https://pds.example.com/");
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
        // Cached "for ever": the second call asks nobody.
        assert_eq!(r.resolve_did(ALICE).await.unwrap().id().as_str(), ALICE);
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
        // "Not found" is cached for ever too.
        let gone = Hostile::start(Play::Send(
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_vec(),
        ))
        .await;
        let r = Resolver::builder(Arc::new(reqwest()))
            .plc_url(format!("http://127.0.0.1:{}", gone.port))
            .timeout(Duration::MAX)
            .ttl(Duration::MAX, Duration::MAX)
            .build()
            .unwrap();
        for _ in 0..2 {
            let e = r.resolve_did(ALICE).await.unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::NotFound);
        }
        assert_eq!(gone.connections.load(Ordering::SeqCst), 1);
    })
    .await;
}
