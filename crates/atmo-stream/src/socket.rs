//! The reconnecting WebSocket driver shared by [`Subscriber`] and the
//! Jetstream client: when to give up, backoff with the `Retrying` hook,
//! connecting with the `Connected` hook, the read timeout with one ping
//! before the connection is taken as dead, server closes and read errors.
//! Each client keeps its own URL, cursor and handshake, its own decoding
//! and its own error type (see [`Reconnect`]).
//!
//! [`Subscriber`]: crate::Subscriber

use std::future::Future;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use crate::client::{backoff, Config, Conn, ConnectionEvent, ConnectionHook};

/// A client driven by [`next_message`]: what differs between the
/// firehose and Jetstream.
pub(crate) trait Reconnect {
    /// The client's error type.
    type Error;

    /// The driver state and the tuning it reads.
    fn parts(&mut self) -> (&mut Reconnecting, &Config);

    /// The cursor reported by the `Connected` hook.
    fn cursor(&self) -> Option<i64>;

    /// Opens a connection from the current cursor (with any handshake of
    /// the client's own).
    fn connect(&self) -> impl Future<Output = Result<WebSocketStream<Conn>, String>> + Send;

    /// `attempts` failures in a row reached [`Config::max_attempts`].
    fn gave_up(attempts: u32, last: String) -> Self::Error;

    /// A message exceeded the cap `max` ([`Config::max_frame_size`]).
    fn too_large(max: usize) -> Self::Error;
}

/// The connection and its run of failures.
pub(crate) struct Reconnecting {
    conn: Option<WebSocketStream<Conn>>,
    attempt: u32,
    last_failure: Option<String>,
    done: bool,
    on_connection: Option<ConnectionHook>,
    /// The reason given when neither a message nor a pong came within two
    /// read timeouts (each client has its own wording).
    silence: &'static str,
}

impl Reconnecting {
    pub(crate) fn new(on_connection: Option<ConnectionHook>, silence: &'static str) -> Self {
        Reconnecting {
            conn: None,
            attempt: 0,
            last_failure: None,
            done: false,
            on_connection,
            silence,
        }
    }

    /// Whether a connection is open.
    pub(crate) fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The open connection, if any.
    #[cfg(feature = "jetstream")]
    pub(crate) fn conn_mut(&mut self) -> Option<&mut WebSocketStream<Conn>> {
        self.conn.as_mut()
    }

    /// Drops the connection without counting a failure: the next
    /// [`next_message`] reconnects at once.
    pub(crate) fn disconnect(&mut self) {
        self.conn = None;
    }

    /// Drops the connection and counts a failure: the next
    /// [`next_message`] backs off before reconnecting.
    pub(crate) fn drop_failed(&mut self, reason: String) {
        self.conn = None;
        self.fail(reason);
    }

    /// Ends the stream: the connection is dropped and every later
    /// [`next_message`] returns `None`.
    pub(crate) fn end(&mut self) {
        self.conn = None;
        self.done = true;
    }

    fn fail(&mut self, reason: String) {
        self.attempt = self.attempt.saturating_add(1);
        self.last_failure = Some(reason);
    }
}

/// The next message other than a close (closes are handled here) from
/// `client`'s connection, connecting and reconnecting as needed; `None`
/// once the stream has ended, `Some(Err)` when giving up (the stream ends)
/// or for an oversized message (the connection was dropped and the next
/// call reconnects). Any message counts as a sign of life and resets the
/// run of failures. Silence for the read timeout sends one ping; a second
/// silent period drops the connection. The ping state lives for one call:
/// every return either hands out a message or leaves no connection, and a
/// new connection starts unpinged.
pub(crate) async fn next_message<C: Reconnect>(
    client: &mut C,
) -> Option<Result<WsMessage, C::Error>> {
    let mut pinged = false;
    loop {
        let (socket, config) = client.parts();
        if socket.done {
            return None;
        }
        let Some(ws) = socket.conn.as_mut() else {
            if let Some(reason) = socket.last_failure.take() {
                if let Some(max) = config.max_attempts {
                    if socket.attempt >= max {
                        socket.done = true;
                        return Some(Err(C::gave_up(socket.attempt, reason)));
                    }
                }
                let delay = backoff(config, socket.attempt, fastrand::f64());
                if let Some(hook) = &mut socket.on_connection {
                    hook(&ConnectionEvent::Retrying {
                        attempt: socket.attempt,
                        reason,
                        delay,
                    });
                }
                tokio::time::sleep(delay).await;
            }
            let result = client.connect().await;
            let cursor = client.cursor();
            let (socket, _) = client.parts();
            match result {
                Ok(ws) => {
                    socket.conn = Some(ws);
                    pinged = false;
                    if let Some(hook) = &mut socket.on_connection {
                        hook(&ConnectionEvent::Connected { cursor });
                    }
                }
                Err(e) => socket.fail(e),
            }
            continue;
        };
        let read = tokio::time::timeout(config.read_timeout, ws.next()).await;
        let msg = match read {
            Err(_) if pinged => {
                socket.drop_failed(socket.silence.into());
                continue;
            }
            Err(_) => {
                pinged = true;
                if let Err(e) = ws.send(WsMessage::Ping(Vec::new().into())).await {
                    socket.drop_failed(format!("sending a ping: {e}"));
                }
                continue;
            }
            Ok(None) => {
                socket.drop_failed("the server closed the connection".into());
                continue;
            }
            Ok(Some(Err(e))) => {
                let capacity = matches!(e, tokio_tungstenite::tungstenite::Error::Capacity(_));
                socket.drop_failed(format!("reading: {e}"));
                if capacity {
                    return Some(Err(C::too_large(config.max_frame_size)));
                }
                continue;
            }
            Ok(Some(Ok(m))) => m,
        };
        pinged = false;
        socket.attempt = 0;
        match msg {
            WsMessage::Close(frame) => {
                socket.drop_failed(match frame {
                    Some(f) => {
                        format!("the server closed the connection ({} {})", f.code, f.reason)
                    }
                    None => "the server closed the connection".into(),
                });
            }
            m => return Some(Ok(m)),
        }
    }
}
