//! An in-process HTTP server that records requests, and a fake PDS on top.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub nsid: String,
    pub query: Vec<(String, String)>,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn auth(&self) -> Option<&str> {
        self.headers.get("authorization").map(String::as_str)
    }
    pub fn bearer(&self) -> Option<&str> {
        self.auth().and_then(|a| a.strip_prefix("Bearer "))
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What the server answers.
pub enum Reply {
    Json(u16, Value),
    Raw {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    },
    /// Close the connection without answering.
    Abort,
    /// A 200 that announces `content-length: declared` and sends only `body`
    /// before closing the connection.
    CutOff {
        declared: usize,
        body: Vec<u8>,
    },
    /// Wait, then answer.
    Delay(Duration, Box<Reply>),
}

impl Reply {
    pub fn ok(v: Value) -> Reply {
        Reply::Json(200, v)
    }
    pub fn err(status: u16, error: &str, message: &str) -> Reply {
        Reply::Json(status, json!({"error": error, "message": message}))
    }
    pub fn with_headers(status: u16, v: Value, headers: Vec<(&'static str, String)>) -> Reply {
        Reply::Raw {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(&v).unwrap(),
            headers,
        }
    }
}

pub type Handler = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

pub struct Mock {
    pub url: String,
    pub log: Arc<Mutex<Vec<Req>>>,
    ctl: tokio::sync::mpsc::UnboundedSender<Ctl>,
}

/// Commands to a mock's accept loop; each is acknowledged once done.
enum Ctl {
    Close(tokio::sync::oneshot::Sender<()>),
    Open(tokio::sync::oneshot::Sender<()>),
}

impl Mock {
    pub async fn start(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let handler: Handler = Arc::new(handler);
        let log2 = log.clone();
        let (ctl, mut rx) = tokio::sync::mpsc::unbounded_channel::<Ctl>();
        tokio::spawn(async move {
            let mut listener = Some(listener);
            let mut conns: Vec<tokio::task::JoinHandle<()>> = Vec::new();
            loop {
                let Some(l) = listener.take() else {
                    // Closed: nothing listens, connecting is refused.
                    match rx.recv().await {
                        None => return,
                        Some(Ctl::Close(ack)) => {
                            let _ = ack.send(());
                        }
                        Some(Ctl::Open(ack)) => {
                            listener = Some(TcpListener::bind(addr).await.unwrap());
                            let _ = ack.send(());
                        }
                    }
                    continue;
                };
                tokio::select! {
                    accepted = l.accept() => {
                        listener = Some(l);
                        let Ok((stream, _)) = accepted else { continue };
                        let (log, handler) = (log2.clone(), handler.clone());
                        conns.retain(|h| !h.is_finished());
                        conns.push(tokio::spawn(async move {
                            let svc = service_fn(move |r: hyper::Request<Incoming>| {
                                let (log, handler) = (log.clone(), handler.clone());
                                async move { serve(r, &log, &handler).await }
                            });
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        }));
                    }
                    cmd = rx.recv() => match cmd {
                        None => return,
                        Some(Ctl::Close(ack)) => {
                            drop(l);
                            for c in conns.drain(..) {
                                c.abort();
                                let _ = c.await;
                            }
                            let _ = ack.send(());
                        }
                        Some(Ctl::Open(ack)) => {
                            listener = Some(l);
                            let _ = ack.send(());
                        }
                    },
                }
            }
        });
        Mock {
            url: format!("http://127.0.0.1:{}", addr.port()),
            log,
            ctl,
        }
    }

    /// Stops listening and drops every open connection: from now on,
    /// connecting is refused (ECONNREFUSED), until [`Mock::open`].
    pub async fn close(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.ctl.send(Ctl::Close(tx)).unwrap();
        rx.await.unwrap();
    }

    /// Listens again on the same port.
    pub async fn open(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.ctl.send(Ctl::Open(tx)).unwrap();
        rx.await.unwrap();
    }

    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self, nsid: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.nsid == nsid)
            .count()
    }

    pub fn of(&self, nsid: &str) -> Vec<Req> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.nsid == nsid)
            .cloned()
            .collect()
    }
}

#[derive(Debug)]
struct Aborted;
impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("aborted")
    }
}
impl std::error::Error for Aborted {}

async fn serve(
    r: hyper::Request<Incoming>,
    log: &Mutex<Vec<Req>>,
    handler: &Handler,
) -> Result<hyper::Response<BoxBody<Bytes, Aborted>>, Aborted> {
    let method = r.method().to_string();
    let path = r.uri().path().to_owned();
    let query = r
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (decode(k), decode(v)))
                .collect()
        })
        .unwrap_or_default();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = r
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let req = Req {
        method,
        nsid: path.trim_start_matches("/xrpc/").to_owned(),
        query,
        headers,
        body,
    };
    log.lock().unwrap().push(req.clone());
    let mut reply = handler(&req);
    loop {
        match reply {
            Reply::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                reply = *inner;
            }
            Reply::Abort => return Err(Aborted),
            Reply::CutOff { declared, body } => {
                return Ok(hyper::Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(
                        CutBody {
                            declared: declared as u64,
                            data: Some(Bytes::from(body)),
                            yielded: false,
                        }
                        .boxed(),
                    )
                    .unwrap());
            }
            Reply::Json(status, v) => {
                return Ok(build(
                    status,
                    "application/json",
                    serde_json::to_vec(&v).unwrap(),
                    vec![],
                )
                .map(|b| b.map_err(|never| match never {}).boxed()))
            }
            Reply::Raw {
                status,
                content_type,
                body,
                headers,
            } => {
                return Ok(build(status, content_type, body, headers)
                    .map(|b| b.map_err(|never| match never {}).boxed()))
            }
        }
    }
}

/// A body that announces `declared` bytes, sends `data`, then fails, so
/// the server closes the connection mid-body.
struct CutBody {
    declared: u64,
    data: Option<Bytes>,
    yielded: bool,
}

impl hyper::body::Body for CutBody {
    type Data = Bytes;
    type Error = Aborted;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Aborted>>> {
        let me = self.get_mut();
        if let Some(b) = me.data.take() {
            return std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(b))));
        }
        if !me.yielded {
            // Pending once, so that hyper flushes the head and the data
            // before the failure closes the connection.
            me.yielded = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(Some(Err(Aborted)))
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.declared)
    }
}

fn build(
    status: u16,
    ct: &str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder().status(status);
    if !ct.is_empty() {
        b = b.header("content-type", ct);
    }
    for (k, v) in headers {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(body))).unwrap()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub const DID: &str = "did:plc:alice0000000000000000000";
pub const PASSWORD: &str = "hunter2-secret-password";
pub const CODE: &str = "2FA-CODE-123";

/// How the fake answers refreshSession.
#[derive(Clone, Debug)]
pub enum RefreshMode {
    Ok,
    Reject,
    Abort,
    ServerError,
}

/// A fake PDS/entryway with rotating opaque (or JWT) tokens.
pub struct Fake {
    pub access: Mutex<Option<String>>,
    pub refresh: Mutex<Option<String>>,
    pub counter: AtomicU64,
    pub mode: Mutex<RefreshMode>,
    pub refresh_delay: Mutex<Duration>,
    pub pds_url: Mutex<Option<String>>,
    pub handle: Mutex<String>,
    pub did: Mutex<String>,
    pub two_factor: bool,
    /// Access tokens are JWTs with this exp offset (seconds from now).
    pub jwt_exp: Mutex<Option<i64>>,
    /// Expire each access token after this many successful calls with it
    /// (deterministic expiry for load tests).
    pub expire_after: Mutex<Option<u64>>,
    /// Successful calls with the current access token.
    pub uses: AtomicU64,
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake {
            access: Mutex::new(None),
            refresh: Mutex::new(None),
            counter: AtomicU64::new(0),
            mode: Mutex::new(RefreshMode::Ok),
            refresh_delay: Mutex::new(Duration::ZERO),
            pds_url: Mutex::new(None),
            handle: Mutex::new("alice.test".into()),
            did: Mutex::new(DID.into()),
            two_factor: false,
            jwt_exp: Mutex::new(None),
            expire_after: Mutex::new(None),
            uses: AtomicU64::new(0),
        })
    }

    pub fn with_2fa() -> Arc<Fake> {
        let mut f = Arc::try_unwrap(Fake::new()).ok().unwrap();
        f.two_factor = true;
        Arc::new(f)
    }

    /// Makes the current access token invalid server-side.
    pub fn expire_access(&self) {
        *self.access.lock().unwrap() = None;
    }

    pub fn current_access(&self) -> Option<String> {
        self.access.lock().unwrap().clone()
    }

    fn mint(&self) -> (String, String) {
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let access = match *self.jwt_exp.lock().unwrap() {
            Some(offset) => jwt(offset, n),
            None => format!("ACCESS-TOKEN-{n}"),
        };
        let refresh = format!("REFRESH-TOKEN-{n}");
        let mut a = self.access.lock().unwrap();
        *a = Some(access.clone());
        self.uses.store(0, Ordering::SeqCst);
        drop(a);
        *self.refresh.lock().unwrap() = Some(refresh.clone());
        (access, refresh)
    }

    fn session_json(&self, tokens: Option<(String, String)>) -> Value {
        let did = self.did.lock().unwrap().clone();
        let mut v = json!({
            "handle": *self.handle.lock().unwrap(),
            "did": did,
            "email": "alice@example.test",
            "emailConfirmed": true,
            "active": true,
        });
        if let Some((a, r)) = tokens {
            v["accessJwt"] = json!(a);
            v["refreshJwt"] = json!(r);
        }
        if let Some(pds) = &*self.pds_url.lock().unwrap() {
            v["didDoc"] = json!({
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": did,
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}]
            });
        }
        v
    }

    /// The standard behaviour; `None` for NSIDs it does not know.
    pub fn handle(&self, r: &Req) -> Reply {
        match r.nsid.as_str() {
            "com.atproto.server.createSession" | "com.atproto.server.createAccount" => {
                let body = r.json();
                if r.nsid.ends_with("createSession") && body["password"] != PASSWORD {
                    return Reply::err(
                        401,
                        "AuthenticationRequired",
                        "Invalid identifier or password",
                    );
                }
                if self.two_factor && r.nsid.ends_with("createSession") {
                    match body.get("authFactorToken").and_then(Value::as_str) {
                        None => {
                            return Reply::err(
                                401,
                                "AuthFactorTokenRequired",
                                "A sign in code has been sent to your email address",
                            )
                        }
                        Some(c) if c != CODE => {
                            return Reply::err(400, "InvalidToken", "Token is invalid")
                        }
                        Some(_) => {}
                    }
                }
                let t = self.mint();
                Reply::ok(self.session_json(Some(t)))
            }
            "com.atproto.server.refreshSession" => {
                let delay = *self.refresh_delay.lock().unwrap();
                let reply = self.refresh(r);
                if delay.is_zero() {
                    reply
                } else {
                    Reply::Delay(delay, Box::new(reply))
                }
            }
            "com.atproto.server.getSession" => {
                if r.bearer().is_none() || r.bearer().map(str::to_owned) != self.current_access() {
                    return Reply::err(400, "ExpiredToken", "Token has expired");
                }
                Reply::ok(self.session_json(None))
            }
            "com.atproto.server.deleteSession" => {
                if r.bearer().map(str::to_owned) != *self.refresh.lock().unwrap() {
                    return Reply::err(400, "ExpiredToken", "Token has been revoked");
                }
                *self.refresh.lock().unwrap() = None;
                *self.access.lock().unwrap() = None;
                Reply::Raw {
                    status: 200,
                    content_type: "",
                    body: vec![],
                    headers: vec![],
                }
            }
            _ => {
                {
                    // Check and count under one lock: exactly `expire_after`
                    // calls succeed with each token.
                    let mut access = self.access.lock().unwrap();
                    if r.bearer().is_none() || r.bearer().map(str::to_owned) != *access {
                        return Reply::err(400, "ExpiredToken", "Token has expired");
                    }
                    let used = self.uses.fetch_add(1, Ordering::SeqCst) + 1;
                    if self.expire_after.lock().unwrap().is_some_and(|n| used >= n) {
                        *access = None;
                    }
                }
                Reply::ok(
                    json!({"nsid": r.nsid, "query": r.query.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(), "body": r.json()}),
                )
            }
        }
    }

    fn refresh(&self, r: &Req) -> Reply {
        match self.mode.lock().unwrap().clone() {
            RefreshMode::Abort => return Reply::Abort,
            RefreshMode::ServerError => return Reply::err(500, "InternalServerError", "boom"),
            RefreshMode::Reject => {
                return Reply::err(400, "ExpiredToken", "Token has been revoked")
            }
            RefreshMode::Ok => {}
        }
        if r.bearer().map(str::to_owned) != *self.refresh.lock().unwrap() {
            return Reply::err(400, "ExpiredToken", "Token has been revoked");
        }
        let t = self.mint();
        Reply::ok(self.session_json(Some(t)))
    }
}

/// An unsigned JWT whose `exp` is `offset` seconds from now.
pub fn jwt(offset: i64, n: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let enc = |s: &str| b64(s.as_bytes());
    format!(
        "{}.{}.SIGNATURE{n}",
        enc(r#"{"alg":"ES256K","typ":"at+jwt"}"#),
        enc(&format!(
            r#"{{"scope":"com.atproto.access","sub":"{DID}","exp":{},"n":{n}}}"#,
            now + offset
        ))
    )
}

fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Starts a mock running the fake.
pub async fn fake_server(fake: &Arc<Fake>) -> Mock {
    let f = fake.clone();
    Mock::start(move |r| f.handle(r)).await
}

/// Records events delivered to the persist hook.
#[derive(Clone, Default)]
pub struct Events(pub Arc<Mutex<Vec<atmo_client::SessionEvent>>>);

impl Events {
    pub fn take(&self) -> Vec<atmo_client::SessionEvent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    pub fn hook(
        &self,
    ) -> impl Fn(
        atmo_client::SessionEvent,
        Option<&atmo_client::atmo_types::Did>,
        Option<&atmo_client::SessionData>,
    ) + Send
           + Sync
           + 'static {
        let me = self.clone();
        move |e, _, _| me.0.lock().unwrap().push(e)
    }
}

/// Endpoint markers written by hand, standing in for generated ones.
pub mod ep {
    use std::fmt;

    use atmo_types::xrpc::{
        decode_json, decode_none, encode_json, DecodeError, EncodeError, Endpoint, EndpointError,
        Method, NoError, QueryParams, QueryWriter, RawBody,
    };
    use serde_json::Value;

    macro_rules! errors {
        ($name:ident { $($v:ident),* }) => {
            #[derive(Debug, Clone, PartialEq, Eq)]
            pub enum $name { $($v(Option<String>)),* }
            impl fmt::Display for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    atmo_types::xrpc::fmt_endpoint_error(self, f)
                }
            }
            impl std::error::Error for $name {}
            impl EndpointError for $name {
                fn from_xrpc(error: &str, message: Option<String>) -> Option<Self> {
                    match error { $(stringify!($v) => Some($name::$v(message)),)* _ => None }
                }
                fn name(&self) -> &'static str {
                    match self { $($name::$v(_) => stringify!($v)),* }
                }
                fn message(&self) -> Option<&str> {
                    match self { $($name::$v(m) => m.as_deref()),* }
                }
            }
        };
    }

    errors!(EchoError { Specific });
    errors!(ConfirmEmailError {
        AccountNotFound,
        ExpiredToken,
        InvalidToken,
        InvalidEmail
    });
    errors!(CreateSessionError {
        AccountTakedown,
        AuthFactorTokenRequired
    });

    #[derive(Default)]
    pub struct EchoParams {
        pub limit: Option<i64>,
        pub tags: Vec<String>,
    }
    impl QueryParams for EchoParams {
        fn write_query(&self, q: &mut QueryWriter) {
            q.push_opt("limit", &self.limit);
            q.push_all("tag", &self.tags);
        }
    }

    pub struct Echo;
    impl Endpoint for Echo {
        const NSID: &'static str = "com.example.echo";
        const METHOD: Method = Method::Query;
        const INPUT_ENCODING: Option<&'static str> = None;
        const OUTPUT_ENCODING: Option<&'static str> = Some("application/json");
        type Params = EchoParams;
        type Input = ();
        type Output = Value;
        type Error = EchoError;
        fn encode_input(_: &()) -> Result<Option<RawBody>, EncodeError> {
            Ok(None)
        }
        fn decode_output(body: RawBody) -> Result<Value, DecodeError> {
            decode_json(Self::NSID, &body.bytes)
        }
    }

    pub struct Write;
    impl Endpoint for Write {
        const NSID: &'static str = "com.example.write";
        const METHOD: Method = Method::Procedure;
        const INPUT_ENCODING: Option<&'static str> = Some("application/json");
        const OUTPUT_ENCODING: Option<&'static str> = Some("application/json");
        type Params = ();
        type Input = Value;
        type Output = Value;
        type Error = NoError;
        fn encode_input(i: &Value) -> Result<Option<RawBody>, EncodeError> {
            encode_json(Self::NSID, i)
        }
        fn decode_output(body: RawBody) -> Result<Value, DecodeError> {
            decode_json(Self::NSID, &body.bytes)
        }
    }

    pub struct ConfirmEmail;
    impl Endpoint for ConfirmEmail {
        const NSID: &'static str = "com.atproto.server.confirmEmail";
        const METHOD: Method = Method::Procedure;
        const INPUT_ENCODING: Option<&'static str> = Some("application/json");
        const OUTPUT_ENCODING: Option<&'static str> = None;
        type Params = ();
        type Input = Value;
        type Output = ();
        type Error = ConfirmEmailError;
        fn encode_input(i: &Value) -> Result<Option<RawBody>, EncodeError> {
            encode_json(Self::NSID, i)
        }
        fn decode_output(body: RawBody) -> Result<(), DecodeError> {
            decode_none(body)
        }
    }

    pub struct CreateSession;
    impl Endpoint for CreateSession {
        const NSID: &'static str = "com.atproto.server.createSession";
        const METHOD: Method = Method::Procedure;
        const INPUT_ENCODING: Option<&'static str> = Some("application/json");
        const OUTPUT_ENCODING: Option<&'static str> = Some("application/json");
        type Params = ();
        type Input = Value;
        type Output = Value;
        type Error = CreateSessionError;
        fn encode_input(i: &Value) -> Result<Option<RawBody>, EncodeError> {
            encode_json(Self::NSID, i)
        }
        fn decode_output(body: RawBody) -> Result<Value, DecodeError> {
            decode_json(Self::NSID, &body.bytes)
        }
    }

    #[derive(Debug, serde::Deserialize)]
    pub struct Counted {
        pub items: Vec<Item>,
    }
    #[derive(Debug, serde::Deserialize)]
    pub struct Item {
        pub count: u32,
    }

    pub struct Strict;
    impl Endpoint for Strict {
        const NSID: &'static str = "com.example.strict";
        const METHOD: Method = Method::Query;
        const INPUT_ENCODING: Option<&'static str> = None;
        const OUTPUT_ENCODING: Option<&'static str> = Some("application/json");
        type Params = ();
        type Input = ();
        type Output = Counted;
        type Error = NoError;
        fn encode_input(_: &()) -> Result<Option<RawBody>, EncodeError> {
            Ok(None)
        }
        fn decode_output(body: RawBody) -> Result<Counted, DecodeError> {
            decode_json(Self::NSID, &body.bytes)
        }
    }
}

/// A client that keeps no idle connections: every request connects anew, so
/// a closed mock refuses the very next request (a pooled connection would
/// fail differently, depending on timing).
pub fn unpooled_client() -> atmo_client::HyperClient {
    atmo_client::HyperClient::builder()
        .max_idle_per_host(0)
        .build()
        .unwrap()
}
