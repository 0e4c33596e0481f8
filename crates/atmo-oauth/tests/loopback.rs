//! The loopback redirect listener against what browsers and stray programs
//! do: preconnects that never send, garbage, other paths, stale callbacks.
//! Every test is bounded, so a listener that hangs fails instead.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "loopback")]

use std::time::Duration;

use atmo_oauth::loopback::RedirectListener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longer than any of these tests takes; reaching it means a hang.
const BOUND: Duration = Duration::from_secs(20);

/// The port of a redirect URI `http://127.0.0.1:<port>/...`.
fn addr(redirect_uri: &str) -> String {
    let rest = redirect_uri.strip_prefix("http://").unwrap();
    rest.split('/').next().unwrap().to_owned()
}

/// Sends raw bytes on a new connection and returns everything answered.
async fn exchange(addr: &str, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The listener may answer and close before reading it all.
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn get(path_and_query: &str) -> Vec<u8> {
    format!("GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n")
        .into_bytes()
}

/// A browser preconnect that sends nothing and stays open does not hold up
/// the callback that follows on another connection.
#[tokio::test]
async fn an_idle_preconnect_does_not_block_the_callback() {
    let listener = RedirectListener::bind("/callback").await.unwrap();
    let a = addr(&listener.redirect_uri());
    let waiting = tokio::spawn(listener.wait());
    let idle = TcpStream::connect(&a).await.unwrap();
    let page = exchange(&a, &get("/callback?code=c1&state=s1&iss=x")).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let query = tokio::time::timeout(BOUND, waiting)
        .await
        .expect("wait() hung behind an idle connection")
        .unwrap()
        .unwrap();
    assert_eq!(query, "code=c1&state=s1&iss=x");
    drop(idle);
}

/// Garbage, a connection closed mid-request, an oversize head, other paths
/// and non-callbacks are answered or dropped, and the listener keeps
/// waiting for the real callback.
#[tokio::test]
async fn garbage_and_strays_then_the_callback() {
    let listener = RedirectListener::bind("/callback").await.unwrap();
    let a = addr(&listener.redirect_uri());
    let waiting = tokio::spawn(listener.wait());

    let page = exchange(&a, b"\x16\x03\x01\x02\x00garbage\r\n\r\n").await;
    assert!(page.starts_with("HTTP/1.1 400"), "{page:?}");
    // Half a request line, then the connection is gone.
    let mut broken = TcpStream::connect(&a).await.unwrap();
    broken.write_all(b"GET /callback?state=").await.unwrap();
    drop(broken);
    let mut huge = b"GET /callback?state=x HTTP/1.1\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 64 * 1024));
    huge.extend(b"\r\n\r\n");
    let page = exchange(&a, &huge).await;
    assert!(
        page.is_empty() || page.starts_with("HTTP/1.1 400"),
        "{page:?}"
    );
    let page = exchange(&a, &get("/favicon.ico")).await;
    assert!(page.starts_with("HTTP/1.1 404"), "{page}");
    let page = exchange(&a, &get("/callback")).await;
    assert!(page.starts_with("HTTP/1.1 400"), "no state: {page}");
    let page = exchange(
        &a,
        b"POST /callback?state=s HTTP/1.1\r\ncontent-length: 0\r\n\r\n",
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 400"), "{page}");
    assert!(!waiting.is_finished(), "still waiting after strays");

    let page = exchange(&a, &get("/callback?code=c&state=good&iss=x")).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let query = tokio::time::timeout(BOUND, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(query, "code=c&state=good&iss=x");
}

/// With an expected state, a stale callback (another state) gets an error
/// page and the listener keeps waiting for the right one.
#[tokio::test]
async fn a_callback_with_another_state_is_refused_and_waiting_goes_on() {
    let listener = RedirectListener::bind("/cb")
        .await
        .unwrap()
        .expect_state("right");
    let a = addr(&listener.redirect_uri());
    let waiting = tokio::spawn(listener.wait());
    let page = exchange(&a, &get("/cb?code=c&state=stale&iss=x")).await;
    assert!(page.starts_with("HTTP/1.1 400"), "{page}");
    assert!(page.contains("not the sign-in"), "{page}");
    let page = exchange(&a, &get("/cb?code=c&state=right&iss=x")).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let query = tokio::time::timeout(BOUND, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(query, "code=c&state=right&iss=x");
}

/// No callback at all (only an idle connection): the overall timeout ends
/// the wait with a timeout error.
#[tokio::test]
async fn no_callback_ends_in_a_timeout_error() {
    let listener = RedirectListener::bind("/callback")
        .await
        .unwrap()
        .timeout(Duration::from_millis(200));
    let a = addr(&listener.redirect_uri());
    let waiting = tokio::spawn(listener.wait());
    let _idle = TcpStream::connect(&a).await.unwrap();
    let err = tokio::time::timeout(BOUND, waiting)
        .await
        .expect("the overall timeout did not end the wait")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
}

/// A connection that sends nothing is closed after the read timeout, so
/// idle connections do not pile up.
#[tokio::test]
async fn a_silent_connection_is_closed_after_the_read_timeout() {
    let listener = RedirectListener::bind("/callback")
        .await
        .unwrap()
        .read_timeout(Duration::from_millis(100));
    let a = addr(&listener.redirect_uri());
    let waiting = tokio::spawn(listener.wait());
    let mut idle = TcpStream::connect(&a).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(BOUND, idle.read_to_end(&mut buf))
        .await
        .expect("the silent connection was never closed");
    assert!(read.is_ok_and(|n| n == 0), "closed without an answer");
    waiting.abort();
}

/// Timeouts as large as a `Duration` goes do not overflow the clock
/// arithmetic: the listener still serves the callback.
#[tokio::test]
async fn the_largest_timeouts_do_not_overflow() {
    let listener = RedirectListener::bind("/callback")
        .await
        .unwrap()
        .timeout(Duration::MAX)
        .read_timeout(Duration::MAX);
    let a = addr(&listener.redirect_uri());
    let waiting = tokio::spawn(listener.wait());
    let page = exchange(&a, &get("/callback?code=c&state=s")).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let query = tokio::time::timeout(BOUND, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(query, "code=c&state=s");
}
