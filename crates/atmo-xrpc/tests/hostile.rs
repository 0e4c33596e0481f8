//! Both built-in HTTP clients against a hostile server: a raw TCP listener
//! on loopback that writes whatever bytes a broken or malicious server (or
//! something that is no HTTP server at all) might. Every answer must end in
//! a typed error (or, where HTTP allows it, a well-formed answer) within the
//! configured timeout and size limit: never a panic, never a hang. Each call
//! runs under an outer `tokio::time::timeout`, so a hang fails the test
//! instead of stalling CI.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use atmo_types::xrpc::Method;
use atmo_xrpc::{
    Error, HttpClient, HyperClient, NoAuth, ReqwestClient, RetryPolicy, ServiceUrl, Transport,
    TransportConfig, TransportErrorKind, XrpcRequest, XrpcResponse,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The per-call timeout of every transport here: short, so that the cases
/// that must run into it do so quickly.
const TIMEOUT: Duration = Duration::from_millis(1500);
/// The response size limit of every transport here.
const LIMIT: usize = 256 * 1024;
/// Longer than any call may take; only a hang reaches it.
const HANG: Duration = Duration::from_secs(20);

/// What the server does once it has read a request's head.
#[derive(Clone)]
enum Answer {
    /// Writes these bytes and closes the connection.
    Close(Vec<u8>),
    /// Writes these bytes and keeps the connection open without a word more.
    Stall(Vec<u8>),
    /// Writes `head`, then `chunk` over and over until the client leaves.
    Endless { head: Vec<u8>, chunk: Vec<u8> },
    /// Writes `head`, then one byte of `body` every 50 ms.
    Trickle { head: Vec<u8>, body: Vec<u8> },
}

/// Serves `answer` on every connection; returns the service URL.
async fn serve(answer: Answer) -> ServiceUrl {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(answer_one(tcp, answer.clone()));
        }
    });
    ServiceUrl::parse(&url).unwrap()
}

async fn answer_one(mut tcp: TcpStream, answer: Answer) {
    // Read the request head (the requests here have no body).
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    match answer {
        Answer::Close(bytes) => {
            let _ = tcp.write_all(&bytes).await;
            let _ = tcp.shutdown().await;
        }
        Answer::Stall(bytes) => {
            let _ = tcp.write_all(&bytes).await;
            // Hold the connection until the client drops it.
            let _ = tcp.read(&mut buf).await;
            std::future::pending::<()>().await;
        }
        Answer::Endless { head, chunk } => {
            if tcp.write_all(&head).await.is_err() {
                return;
            }
            while tcp.write_all(&chunk).await.is_ok() {}
        }
        Answer::Trickle { head, body } => {
            if tcp.write_all(&head).await.is_err() {
                return;
            }
            for b in body {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if tcp.write_all(&[b]).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn clients() -> Vec<(&'static str, Arc<dyn HttpClient>)> {
    vec![
        (
            "hyper",
            Arc::new(HyperClient::builder().max_idle_per_host(0).build().unwrap()),
        ),
        ("reqwest", Arc::new(ReqwestClient::new().unwrap())),
    ]
}

fn transport(client: Arc<dyn HttpClient>) -> Transport {
    Transport::new(
        client,
        TransportConfig {
            timeout: TIMEOUT,
            max_response_size: LIMIT,
        },
    )
}

/// One XRPC query to `base` through `client`, bounded by [`HANG`].
async fn call(client: Arc<dyn HttpClient>, base: &ServiceUrl) -> Result<XrpcResponse, Error> {
    let req = XrpcRequest::new("com.example.hostile", Method::Query);
    match tokio::time::timeout(HANG, transport(client).send(base, &req, &NoAuth)).await {
        Ok(r) => r,
        Err(_) => panic!("the call hung past {HANG:?}"),
    }
}

/// `head` as an HTTP/1.1 answer with `body` and a correct length.
fn answer(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

type Check = fn(&Result<XrpcResponse, Error>) -> bool;

fn transport_error(r: &Result<XrpcResponse, Error>) -> bool {
    matches!(r, Err(Error::Transport(_)))
}

fn timed_out(r: &Result<XrpcResponse, Error>) -> bool {
    matches!(r, Err(Error::Transport(e)) if e.kind == TransportErrorKind::Timeout)
}

fn too_large(r: &Result<XrpcResponse, Error>) -> bool {
    matches!(r, Err(Error::ResponseTooLarge { limit: LIMIT, .. }))
}

fn not_xrpc(r: &Result<XrpcResponse, Error>) -> bool {
    matches!(r, Err(Error::UnexpectedResponse { .. }))
}

/// Either no answer, or one that is not XRPC: what a broken status line
/// may become depending on how lenient the HTTP parser is.
fn refused(r: &Result<XrpcResponse, Error>) -> bool {
    transport_error(r) || not_xrpc(r)
}

/// Runs every case against every client, all at once, and reports all
/// that failed.
async fn run(cases: Vec<(&'static str, Answer, Check)>) {
    let mut calls = tokio::task::JoinSet::new();
    for (name, answer, check) in cases {
        let base = serve(answer).await;
        for (client_name, client) in clients() {
            let base = base.clone();
            calls.spawn(async move {
                let r = call(client, &base).await;
                (!check(&r)).then(|| format!("{name} via {client_name}: {r:?}"))
            });
        }
    }
    let mut failed = Vec::new();
    while let Some(outcome) = calls.join_next().await {
        match outcome {
            Ok(Some(failure)) => failed.push(failure),
            Ok(None) => {}
            Err(e) => failed.push(format!("a call panicked: {e}")),
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[tokio::test]
async fn huge_and_malformed_headers() {
    let huge_value = format!("x-big: {}\r\n", "a".repeat(2 * 1024 * 1024));
    let many: String = (0..10_000).map(|i| format!("x-h{i}: v\r\n")).collect();
    run(vec![
        (
            "a 2 MiB header",
            Answer::Close(answer("200 OK", &huge_value, b"{}")),
            transport_error,
        ),
        (
            "an endless header",
            Answer::Endless {
                head: b"HTTP/1.1 200 OK\r\nx-endless: ".to_vec(),
                chunk: vec![b'a'; 16 * 1024],
            },
            transport_error,
        ),
        (
            "10 000 headers",
            Answer::Close(answer("200 OK", &many, b"{}")),
            transport_error,
        ),
        (
            "a header without a colon",
            Answer::Close(answer("200 OK", "no colon here\r\n", b"{}")),
            transport_error,
        ),
        (
            "a NUL in a header value",
            Answer::Close(answer("200 OK", "x-nul: a\0b\r\n", b"{}")),
            transport_error,
        ),
        (
            "a header name with a space",
            Answer::Close(answer("200 OK", "bad name: v\r\n", b"{}")),
            transport_error,
        ),
        (
            "a content-length that is no number",
            Answer::Close(b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n{}".to_vec()),
            transport_error,
        ),
        (
            "a content-length past u64",
            Answer::Close(
                b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\n{}".to_vec(),
            ),
            transport_error,
        ),
        (
            "two content-lengths that disagree",
            Answer::Close(
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 5\r\n\r\n{}abc".to_vec(),
            ),
            transport_error,
        ),
        (
            "a chunk size that is no number",
            Answer::Close(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
                    .to_vec(),
            ),
            transport_error,
        ),
    ])
    .await;
}

#[tokio::test]
async fn lying_content_length() {
    // Longer than the body, then the connection closes: a cut-off body.
    // Longer, and the connection stays open: the timeout.
    run(vec![
        (
            "a content-length longer than the body, then close",
            Answer::Close(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}".to_vec()),
            |r| matches!(r, Err(Error::Transport(e)) if e.kind == TransportErrorKind::Body),
        ),
        (
            "a content-length longer than the body, then silence",
            Answer::Stall(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}".to_vec()),
            timed_out,
        ),
        (
            "an error answer cut short",
            Answer::Close(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 100\r\n\r\n{\"error\":\"X\"}"
                    .to_vec(),
            ),
            |r| matches!(r, Err(Error::Transport(e)) if e.kind == TransportErrorKind::Body),
        ),
    ])
    .await;
    // Shorter than the body: HTTP/1.1 says the answer ends there; what
    // follows is not part of it (and never reaches the caller).
    let base = serve(Answer::Close(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}{\"smuggled\":1}"
            .to_vec(),
    ))
    .await;
    for (name, client) in clients() {
        let r = call(client, &base).await.unwrap();
        assert_eq!(r.body.bytes, b"{}", "{name}");
    }
}

#[tokio::test]
async fn endless_and_oversize_bodies() {
    let over = vec![b'a'; LIMIT + 1];
    run(vec![
        (
            "an endless chunked body",
            Answer::Endless {
                head: b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec(),
                chunk: b"4000\r\n"
                    .iter()
                    .copied()
                    .chain(vec![b'a'; 0x4000])
                    .chain(*b"\r\n")
                    .collect(),
            },
            too_large,
        ),
        (
            "an endless body without a length",
            Answer::Endless {
                head: b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec(),
                chunk: vec![b'a'; 16 * 1024],
            },
            too_large,
        ),
        (
            "an endless error body",
            Answer::Endless {
                head: b"HTTP/1.1 500 Oops\r\nconnection: close\r\n\r\n".to_vec(),
                chunk: vec![b'{'; 16 * 1024],
            },
            too_large,
        ),
        (
            "a declared length over the limit",
            Answer::Stall(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000000\r\n\r\n".to_vec()),
            too_large,
        ),
        (
            "a declared length of u64::MAX",
            Answer::Stall(
                format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", u64::MAX).into_bytes(),
            ),
            |r| too_large(r) || transport_error(r),
        ),
        (
            "a body one byte over the limit, length declared",
            Answer::Close(answer("200 OK", "", &over)),
            too_large,
        ),
        (
            "a body one byte over the limit, no length",
            Answer::Close(
                b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n"
                    .iter()
                    .copied()
                    .chain(over.iter().copied())
                    .collect(),
            ),
            too_large,
        ),
        (
            "a body trickling in slower than the timeout allows",
            Answer::Trickle {
                head: b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".to_vec(),
                body: vec![b' '; 1000],
            },
            timed_out,
        ),
    ])
    .await;
}

#[tokio::test]
async fn bodies_that_are_not_what_they_claim() {
    let deep = "[".repeat(100_000);
    let json = "content-type: application/json\r\n";
    run(vec![
        (
            "invalid JSON on an error",
            Answer::Close(answer("400 Bad Request", json, b"{\"error\": nope")),
            not_xrpc,
        ),
        (
            "100 000 nested arrays on an error",
            Answer::Close(answer("400 Bad Request", json, deep.as_bytes())),
            not_xrpc,
        ),
        (
            "an error whose name is nested 100 000 deep",
            Answer::Close(answer(
                "400 Bad Request",
                json,
                format!("{{\"error\":{deep}").as_bytes(),
            )),
            not_xrpc,
        ),
        (
            "HTML on a 429",
            Answer::Close(answer(
                "429 Too Many Requests",
                "retry-after: 18446744073709551615\r\nratelimit-reset: 99999999999999999999\r\n",
                b"<html>slow down</html>",
            )),
            |r| matches!(r, Err(Error::RateLimited(l)) if l.reset.is_none()),
        ),
    ])
    .await;
    // On a 2xx the transport hands the body on as it is (as @atproto/xrpc
    // does): an XRPC error body, invalid JSON or deep nesting there is for
    // the endpoint's decoder, which refuses it with a typed error.
    for body in [
        &b"{\"error\":\"InvalidRequest\",\"message\":\"on a 200\"}"[..],
        b"{\"a\": nope",
        deep.as_bytes(),
    ] {
        let base = serve(Answer::Close(answer("200 OK", json, body))).await;
        for (name, client) in clients() {
            let r = call(client, &base).await.unwrap();
            assert_eq!(r.body.bytes, body, "{name}");
            #[derive(Debug, serde::Deserialize)]
            #[allow(dead_code)]
            struct Output {
                uri: String,
            }
            let decoded = atmo_types::xrpc::decode_json::<Output>("a.b", &r.body.bytes);
            assert!(decoded.is_err(), "{name}: {decoded:?}");
        }
    }
}

#[tokio::test]
async fn garbage_status_lines_and_non_http_bytes() {
    let mut cases: Vec<(&'static str, Answer, Check)> = Vec::new();
    for (name, line) in [
        ("a status that is no number", "HTTP/1.1 abc OK"),
        ("a five-digit status", "HTTP/1.1 20000 OK"),
        ("a two-digit status", "HTTP/1.1 20 OK"),
        ("an unknown protocol", "ICY 200 OK"),
        ("HTTP/9.9", "HTTP/9.9 200 OK"),
        ("a status line without a status", "HTTP/1.1"),
        (
            "a reason phrase of 1 MiB",
            &*format!("HTTP/1.1 200 {}", "x".repeat(1024 * 1024)).leak(),
        ),
    ] {
        let bytes = format!("{line}\r\ncontent-length: 2\r\n\r\n{{}}").into_bytes();
        cases.push((name, Answer::Close(bytes), transport_error));
    }
    cases.extend([
        (
            "a status outside HTTP's classes",
            Answer::Close(answer("600 Strange", "", b"")),
            refused as Check,
        ),
        (
            "a TLS alert instead of HTTP",
            Answer::Close(vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]),
            transport_error,
        ),
        (
            "binary noise",
            Answer::Close((0..4096u32).map(|i| (i * 7919 % 251) as u8).collect()),
            transport_error,
        ),
        (
            "endless binary noise",
            Answer::Endless {
                head: Vec::new(),
                chunk: (0..=255u8).cycle().take(16 * 1024).collect(),
            },
            transport_error,
        ),
        (
            "nothing, then close",
            Answer::Close(Vec::new()),
            transport_error,
        ),
        (
            "endless interim answers",
            Answer::Endless {
                head: Vec::new(),
                chunk: b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(),
            },
            transport_error,
        ),
    ]);
    run(cases).await;
}

#[tokio::test]
async fn silent_servers_end_at_the_timeout() {
    run(vec![
        (
            "a server that never answers",
            Answer::Stall(Vec::new()),
            timed_out,
        ),
        (
            "a server that stops after the status line",
            Answer::Stall(b"HTTP/1.1 200 OK\r\n".to_vec()),
            timed_out,
        ),
        (
            "a server that stops in the middle of a header",
            Answer::Stall(b"HTTP/1.1 200 OK\r\ncontent-ty".to_vec()),
            timed_out,
        ),
    ])
    .await;
    // The streaming entry point bounds the wait for the head the same way.
    let base = serve(Answer::Stall(Vec::new())).await;
    for (name, client) in clients() {
        let req = XrpcRequest::new("com.example.hostile", Method::Query);
        let t = transport(client);
        let r = tokio::time::timeout(HANG, t.send_streaming(&base, &req, &NoAuth))
            .await
            .expect("hung");
        assert!(
            matches!(&r, Err(Error::Transport(e)) if e.kind == TransportErrorKind::Timeout),
            "{name}: {r:?}"
        );
    }
}

/// A 429 asking for a wait of `u64::MAX` seconds, or for one past any
/// retry's limit, ends the call at once with the typed rate-limit error,
/// even under a policy that allows any wait: no panic, no sleep.
#[tokio::test]
async fn rate_limits_beyond_any_retry_end_the_call() {
    let far = "Fri, 01 Jan 3000 00:00:00 GMT";
    for (retry_after, reset_known) in [("18446744073709551615", false), (far, true)] {
        let base = serve(Answer::Close(answer(
            "429 Too Many Requests",
            &format!("retry-after: {retry_after}\r\nratelimit-remaining: 0\r\n"),
            b"{\"error\":\"RateLimitExceeded\"}",
        )))
        .await;
        for (name, client) in clients() {
            let mut req = XrpcRequest::new("com.example.hostile", Method::Query);
            req.retry =
                Some(RetryPolicy::retries(3).delays(Duration::from_millis(1), Duration::MAX));
            let t = transport(client);
            let r = tokio::time::timeout(HANG, t.send(&base, &req, &NoAuth))
                .await
                .expect("the call waited for the rate limit");
            match r {
                Err(Error::RateLimited(l)) => {
                    assert_eq!(l.reset.is_some(), reset_known, "{name}: {l:?}");
                    assert_eq!(l.remaining, Some(0));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

/// Streaming: an error answer whose body never comes is read within the
/// timeout too (its body is read whole to classify it).
#[tokio::test]
async fn streaming_error_bodies_end_at_the_timeout() {
    for head in [
        &b"HTTP/1.1 500 Oops\r\ncontent-length: 100\r\n\r\n{"[..],
        b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n",
    ] {
        let base = serve(Answer::Stall(head.to_vec())).await;
        for (name, client) in clients() {
            let req = XrpcRequest::new("com.example.hostile", Method::Query);
            let t = transport(client);
            let r = tokio::time::timeout(HANG, t.send_streaming(&base, &req, &NoAuth))
                .await
                .expect("hung");
            assert!(
                matches!(&r, Err(Error::Transport(e)) if e.kind == TransportErrorKind::Timeout),
                "{name}: {r:?}"
            );
        }
    }
}

/// Streaming: an endless 2xx body stops at the size limit as it is read.
#[tokio::test]
async fn streaming_bodies_keep_the_limit() {
    let base = serve(Answer::Endless {
        head: b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec(),
        chunk: vec![b'a'; 16 * 1024],
    })
    .await;
    for (name, client) in clients() {
        let req = XrpcRequest::new("com.example.hostile", Method::Query);
        let t = transport(client);
        let read = async {
            let answer = t.send_streaming(&base, &req, &NoAuth).await.unwrap();
            answer.collect(usize::MAX).await
        };
        let r = tokio::time::timeout(HANG, read).await.expect("hung");
        assert!(
            matches!(&r, Err(e) if e.kind == atmo_xrpc::HttpErrorKind::TooLarge),
            "{name}: {r:?}"
        );
    }
}
