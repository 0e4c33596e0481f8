//! The redirect listener of a loopback client (feature `loopback`): a
//! one-shot HTTP server on 127.0.0.1 that waits for the browser to come
//! back from the authorization server and hands over the query.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use atproto_oauth::{loopback::RedirectListener, AuthorizeOptions, ClientConfig, OAuthClient, Scopes};
//! let listener = RedirectListener::bind("/callback").await?;
//! let config = ClientConfig::loopback(vec![listener.redirect_uri()], Scopes::generic());
//! let client = OAuthClient::builder(config).build()?;
//! println!("open {}", client.authorize("alice.bsky.social", AuthorizeOptions::default()).await?);
//! let query = listener.wait().await?;
//! let (session, _) = client.callback(&query).await?;
//! # let _ = session; Ok(()) }
//! ```

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A listener on `127.0.0.1:<random port>` for one redirect.
#[derive(Debug)]
pub struct RedirectListener {
    listener: TcpListener,
    path: String,
    addr: SocketAddr,
}

impl RedirectListener {
    /// Binds a random loopback port; the redirect URI is
    /// `http://127.0.0.1:<port><path>`.
    pub async fn bind(path: &str) -> std::io::Result<Self> {
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
        })
    }

    /// The redirect URI to configure.
    pub fn redirect_uri(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    /// Waits for a `GET <path>?...` and returns its query (requests to
    /// other paths, e.g. `/favicon.ico`, get a 404 and are skipped). The
    /// browser gets a short page telling the user to go back to the app.
    pub async fn wait(self) -> std::io::Result<String> {
        loop {
            let (mut stream, _) = self.listener.accept().await?;
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            // Read up to the end of the request line.
            while !buf
                .get(..len)
                .is_some_and(|b| b.windows(2).any(|w| w == b"\r\n"))
            {
                let Some(rest) = buf.get_mut(len..) else {
                    break;
                };
                if rest.is_empty() {
                    break;
                }
                let n = stream.read(rest).await?;
                if n == 0 {
                    break;
                }
                len += n;
            }
            let head = String::from_utf8_lossy(buf.get(..len).unwrap_or_default()).into_owned();
            let line = head.lines().next().unwrap_or_default();
            let target = line.split(' ').nth(1).unwrap_or_default();
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            if line.starts_with("GET ") && path == self.path {
                let body = "<!doctype html><title>Signed in</title><p>You can close this window and go back to the app.</p>";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(reply.as_bytes()).await?;
                return Ok(query.to_owned());
            }
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
    }
}
