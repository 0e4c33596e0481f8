//! The redirect listener of a loopback client (feature `loopback`): an HTTP
//! server on 127.0.0.1 that waits for the browser to come back from the
//! authorization server and hands over the callback.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use atmo_oauth::{loopback::RedirectListener, AuthorizeOptions, ClientConfig, OAuthClient, Scopes};
//! let listener = RedirectListener::bind("/callback").await?;
//! let config = ClientConfig::loopback(vec![listener.redirect_uri()], Scopes::generic());
//! let client = OAuthClient::builder(config).build()?;
//! println!("open {}", client.authorize("alice.bsky.social", AuthorizeOptions::default()).await?);
//! let (session, _app_state) = listener.wait_for(&client).await?;
//! # let _ = session; Ok(()) }
//! ```
//!
//! Browsers open spare connections ahead of time (preconnects) that may
//! never carry a request, ask for `/favicon.ico`, and a stale tab may come
//! back with an old callback. So connections are served concurrently, each
//! with its own read timeout; anything that is not the awaited callback
//! gets an error page and the listener keeps waiting, until the callback
//! arrives or the overall timeout passes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::client::{OAuthClient, DEFAULT_STATE_TTL};
use crate::error::OAuthError;
use crate::session::OAuthSession;
use crate::util::parse_query;

/// How long [`RedirectListener::wait`] waits for the callback by default:
/// as long as a pending authorization stays valid.
pub const DEFAULT_WAIT: Duration = DEFAULT_STATE_TTL;

/// How long one connection may take to send its request head by default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request head read (bytes); longer ones are refused.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// A listener on `127.0.0.1:<random port>` for the redirect of one sign-in.
#[derive(Debug)]
pub struct RedirectListener {
    listener: TcpListener,
    path: String,
    addr: SocketAddr,
    timeout: Duration,
    read_timeout: Duration,
    state: Option<String>,
}

/// What the judge of a callback decided.
enum Verdict<T> {
    /// The awaited callback: answer with this page and return the value.
    Done(T, Page),
    /// Not the awaited callback: answer with this page and keep waiting.
    Skip(Page),
}

/// An HTML page to answer with.
struct Page {
    status: &'static str,
    title: &'static str,
    text: &'static str,
}

const SIGNED_IN: Page = Page {
    status: "200 OK",
    title: "Signed in",
    text: "You can close this window and go back to the app.",
};
const SIGN_IN_FAILED: Page = Page {
    status: "200 OK",
    title: "Sign-in failed",
    text: "The sign-in did not complete. Close this window; the app says why.",
};
const WRONG_STATE: Page = Page {
    status: "400 Bad Request",
    title: "Unknown sign-in",
    text: "This is not the sign-in the app is waiting for (an old tab?). Use the most recent sign-in link.",
};
const NOT_A_CALLBACK: Page = Page {
    status: "400 Bad Request",
    title: "Not a sign-in callback",
    text: "This address only receives the answer of a sign-in.",
};
const NOT_FOUND: Page = Page {
    status: "404 Not Found",
    title: "Not found",
    text: "Nothing here.",
};
const BAD_REQUEST: Page = Page {
    status: "400 Bad Request",
    title: "Bad request",
    text: "The request could not be read.",
};

impl Page {
    fn render(&self) -> Vec<u8> {
        let body = format!(
            "<!doctype html><meta charset=utf-8><title>{}</title><p>{}</p>",
            self.title, self.text
        );
        format!(
            "HTTP/1.1 {}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
            self.status,
            body.len()
        )
        .into_bytes()
    }
}

impl RedirectListener {
    /// Binds a random loopback port; the redirect URI is
    /// `http://127.0.0.1:<port><path>`.
    pub async fn bind(path: &str) -> io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(RedirectListener {
            listener,
            path,
            addr,
            timeout: DEFAULT_WAIT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            state: None,
        })
    }

    /// The redirect URI to configure.
    pub fn redirect_uri(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    /// How long to wait for the callback in all (default [`DEFAULT_WAIT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long one connection may take to send its request head (default
    /// [`DEFAULT_READ_TIMEOUT`]); a connection that sends nothing in that
    /// time is closed, without holding up the others.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Makes [`RedirectListener::wait`] accept only a callback with this
    /// `state`; callbacks with another get an error page.
    pub fn expect_state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Waits for a `GET <path>?...` carrying a `state` (the one given to
    /// [`RedirectListener::expect_state`], if any) and returns its query.
    /// Other requests (other paths such as `/favicon.ico`, other states,
    /// garbage, connections that send nothing) get an error page or are
    /// closed, and the listener keeps waiting. Fails with
    /// [`io::ErrorKind::TimedOut`] when no callback came within the
    /// timeout.
    pub async fn wait(self) -> io::Result<String> {
        let expected = self.state.clone();
        self.serve(|query| {
            let verdict = match &expected {
                Some(want) if state_of(&query).as_deref() != Some(want.as_str()) => {
                    Verdict::Skip(WRONG_STATE)
                }
                _ => Verdict::Done(query, SIGNED_IN),
            };
            async move { verdict }
        })
        .await
    }

    /// Waits for the callback of a sign-in `client` started, and finishes
    /// it with [`OAuthClient::callback`]. Callbacks whose `state` the client
    /// does not know (an old tab, another app) get an error page and the
    /// listener keeps waiting; the first callback with a known state ends
    /// the wait, with the session or the sign-in's error (the browser is
    /// told which). A timeout is [`OAuthError::CallbackTimeout`].
    pub async fn wait_for(
        self,
        client: &OAuthClient,
    ) -> Result<(OAuthSession, Option<String>), OAuthError> {
        let timeout = self.timeout;
        let served = self
            .serve(|query| async move {
                match client.callback(&query).await {
                    Err(OAuthError::UnknownState) => Verdict::Skip(WRONG_STATE),
                    Ok(done) => Verdict::Done(Ok(done), SIGNED_IN),
                    Err(e) => Verdict::Done(Err(e), SIGN_IN_FAILED),
                }
            })
            .await;
        match served {
            Ok(outcome) => outcome,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                Err(OAuthError::CallbackTimeout { waited: timeout })
            }
            Err(e) => Err(OAuthError::Http {
                url: "the loopback redirect listener".into(),
                message: e.to_string(),
            }),
        }
    }

    /// Serves connections concurrently until `judge` accepts a callback's
    /// query or the timeout passes. Connection tasks end with the call.
    async fn serve<T, F, Fut>(self, mut judge: F) -> io::Result<T>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Verdict<T>>,
    {
        let RedirectListener {
            listener,
            path,
            timeout,
            read_timeout,
            ..
        } = self;
        let (tx, mut rx) = mpsc::channel::<(TcpStream, String)>(8);
        // Dropping the set (when this call returns) aborts the acceptor,
        // which owns and so aborts every connection task.
        let mut tasks = JoinSet::new();
        tasks.spawn(accept_loop(listener, path, read_timeout, tx));
        let waiting = async {
            while let Some((mut stream, query)) = rx.recv().await {
                match judge(query).await {
                    Verdict::Done(value, page) => {
                        answer(&mut stream, &page, read_timeout).await;
                        return Ok(value);
                    }
                    Verdict::Skip(page) => answer(&mut stream, &page, read_timeout).await,
                }
            }
            Err(io::Error::other("the redirect listener stopped accepting"))
        };
        match tokio::time::timeout(timeout, waiting).await {
            Ok(outcome) => outcome,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no sign-in callback arrived within {} s", timeout.as_secs()),
            )),
        }
    }
}

/// Accepts connections and reads each in a task of its own; callbacks to
/// `path` go to `tx` with their connection, to be answered there.
async fn accept_loop(
    listener: TcpListener,
    path: String,
    read_timeout: Duration,
    tx: mpsc::Sender<(TcpStream, String)>,
) {
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                connections.spawn(read_callback(
                    stream,
                    path.clone(),
                    read_timeout,
                    tx.clone(),
                ));
            }
            // E.g. out of file descriptors: one failed accept does not end
            // the wait; pause a little rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        while connections.try_join_next().is_some() {}
    }
}

/// Reads one request head (within `read_timeout`); a `GET <path>?...` with
/// a `state` goes to `tx`, anything else is answered here and closed.
async fn read_callback(
    mut stream: TcpStream,
    path: String,
    read_timeout: Duration,
    tx: mpsc::Sender<(TcpStream, String)>,
) {
    let head = match tokio::time::timeout(read_timeout, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => return answer(&mut stream, &BAD_REQUEST, read_timeout).await,
        // Silent (a preconnect), closed or broken: just close it.
        Ok(Err(_)) | Err(_) => return,
    };
    let line = head.split("\r\n").next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let (Some(method), Some(target), Some(version)) = (method, target, version) else {
        return answer(&mut stream, &BAD_REQUEST, read_timeout).await;
    };
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return answer(&mut stream, &BAD_REQUEST, read_timeout).await;
    }
    let (target_path, query) = target.split_once('?').unwrap_or((target, ""));
    if target_path != path {
        return answer(&mut stream, &NOT_FOUND, read_timeout).await;
    }
    if method != "GET" || state_of(query).is_none() {
        return answer(&mut stream, &NOT_A_CALLBACK, read_timeout).await;
    }
    let query = query.to_owned();
    let _ = tx.send((stream, query)).await;
}

/// The request head up to its blank line, or `None` when it is not text or
/// longer than [`MAX_REQUEST_HEAD`].
async fn read_head(stream: &mut TcpStream) -> io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return Ok(String::from_utf8(buf).ok());
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return Ok(None);
        }
    }
}

/// The `state` parameter of a query, when it has exactly one, non-empty.
fn state_of(query: &str) -> Option<String> {
    let pairs = parse_query(query).ok()?;
    let mut states = pairs.into_iter().filter(|(k, _)| k == "state");
    let (_, state) = states.next()?;
    (states.next().is_none() && !state.is_empty()).then_some(state)
}

/// Writes `page` and closes; a peer that does not read is given up on
/// after `timeout`.
async fn answer(stream: &mut TcpStream, page: &Page, timeout: Duration) {
    let _ = tokio::time::timeout(timeout, async {
        stream.write_all(&page.render()).await?;
        stream.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_of_queries() {
        assert_eq!(state_of("code=c&state=s1&iss=x").as_deref(), Some("s1"));
        assert_eq!(state_of("code=c"), None);
        assert_eq!(state_of("state="), None);
        assert_eq!(state_of("state=a&state=b"), None, "repeated");
        assert_eq!(state_of("state=%zz"), None, "bad escape");
    }
}
