//! The WebSocket handshake against a hostile server: a raw TCP listener on
//! loopback that answers the upgrade request with whatever bytes a broken or
//! malicious server might. Every case must end in the typed `GaveUp` error
//! within the connect timeout: never a panic, never a hang. Each runs under
//! an outer `tokio::time::timeout`, so a hang fails the test instead of
//! stalling CI.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use atmo_stream::{Config, StreamError, SubscribeRepos, Subscriber};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longer than any case may take; only a hang reaches it.
const HANG: Duration = Duration::from_secs(20);

/// What the server does once it has read the upgrade request.
#[derive(Clone)]
enum Answer {
    /// Writes these bytes and closes the connection.
    Close(Vec<u8>),
    /// Writes these bytes and then stays silent with the connection open.
    Stall(Vec<u8>),
    /// Writes `head`, then `chunk` over and over until the client leaves.
    Endless { head: Vec<u8>, chunk: Vec<u8> },
}

async fn serve(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(answer_one(tcp, answer.clone()));
        }
    });
    url
}

async fn answer_one(mut tcp: TcpStream, answer: Answer) {
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
            let _ = tcp.read(&mut buf).await;
            std::future::pending::<()>().await;
        }
        Answer::Endless { head, chunk } => {
            if tcp.write_all(&head).await.is_err() {
                return;
            }
            while tcp.write_all(&chunk).await.is_ok() {}
        }
    }
}

/// One attempt at subscribing to `answer`'s server; the error it ends in.
async fn subscribe(answer: Answer) -> String {
    let url = serve(answer).await;
    let mut sub = Subscriber::<SubscribeRepos>::builder(url)
        .config(Config {
            connect_timeout: Duration::from_millis(1500),
            max_attempts: Some(1),
            ..Config::default()
        })
        .build()
        .unwrap();
    let next = tokio::time::timeout(HANG, sub.next())
        .await
        .expect("the handshake hung");
    match next {
        Some(Err(e @ StreamError::GaveUp { attempts: 1, .. })) => {
            assert!(e.is_fatal());
            let StreamError::GaveUp { last, .. } = e else {
                unreachable!()
            };
            last
        }
        Some(Ok(m)) => panic!("a message from a hostile handshake: {m:?}"),
        Some(Err(e)) => panic!("not GaveUp: {e:?}"),
        None => panic!("the stream ended without an error"),
    }
}

#[tokio::test]
async fn non_101_answers() {
    for (status, extra) in [
        ("200 OK", ""),
        ("404 Not Found", ""),
        ("426 Upgrade Required", ""),
        (
            "429 Too Many Requests",
            "retry-after: 18446744073709551615\r\nratelimit-reset: 99999999999999999999\r\n",
        ),
        ("503 Service Unavailable", "retry-after: 5\r\n"),
    ] {
        let body = "{\"error\":\"Nope\"}";
        let bytes = format!(
            "HTTP/1.1 {status}\r\n{extra}content-length: {}\r\n\r\n{body}",
            body.len()
        );
        let last = subscribe(Answer::Close(bytes.clone().into_bytes())).await;
        let code = &status[..3];
        assert!(
            last.contains("handshake") && last.contains(code),
            "{status}: {last}"
        );
        // The same answer, the connection left open.
        let last = subscribe(Answer::Stall(bytes.into_bytes())).await;
        assert!(
            last.contains("handshake") && last.contains(code),
            "{status}: {last}"
        );
    }
    // A 101 without the right accept key is no WebSocket either.
    let last = subscribe(Answer::Close(
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: wrong\r\n\r\n"
            .to_vec(),
    ))
    .await;
    assert!(last.contains("handshake"), "{last}");
}

#[tokio::test]
async fn garbage_answers() {
    for bytes in [
        b"HTTP/1.1 abc OK\r\n\r\n".to_vec(),
        b"ICY 200 OK\r\n\r\n".to_vec(),
        b"HTTP/1.1 101\r\nno colon\r\n\r\n".to_vec(),
        vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46],
        (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
        Vec::new(),
    ] {
        let last = subscribe(Answer::Close(bytes.clone())).await;
        assert!(last.contains("handshake"), "{bytes:?}: {last}");
    }
    let last = subscribe(Answer::Endless {
        head: Vec::new(),
        chunk: (0..=255u8).cycle().take(16 * 1024).collect(),
    })
    .await;
    assert!(last.contains("handshake"), "{last}");
}

#[tokio::test]
async fn servers_that_never_answer_end_at_the_connect_timeout() {
    for bytes in [
        Vec::new(),
        b"HTTP/1.1 101 Switching Protocols\r\n".to_vec(),
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: webs".to_vec(),
    ] {
        let last = subscribe(Answer::Stall(bytes)).await;
        assert!(last.contains("timed out"), "{last}");
    }
}

#[tokio::test]
async fn huge_headers() {
    let huge = format!(
        "HTTP/1.1 101 Switching Protocols\r\nx-big: {}\r\n\r\n",
        "a".repeat(2 * 1024 * 1024)
    );
    let last = subscribe(Answer::Close(huge.into_bytes())).await;
    assert!(last.contains("handshake"), "{last}");
    let last = subscribe(Answer::Endless {
        head: b"HTTP/1.1 101 Switching Protocols\r\nx-endless: ".to_vec(),
        chunk: vec![b'a'; 16 * 1024],
    })
    .await;
    assert!(last.contains("handshake"), "{last}");
    let many: String = (0..10_000).map(|i| format!("x-h{i}: v\r\n")).collect();
    let last = subscribe(Answer::Close(
        format!("HTTP/1.1 101 Switching Protocols\r\n{many}\r\n").into_bytes(),
    ))
    .await;
    assert!(last.contains("handshake"), "{last}");
}
