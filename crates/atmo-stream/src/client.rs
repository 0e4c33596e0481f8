//! The WebSocket client: connect, read frames, reconnect with backoff and
//! resume from the last sequence number handed out.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use atmo_xrpc::{check_url, ServiceUrl, UrlError};

use crate::frame::{decode_frame, ErrorFrame, Frame, FrameError, Part, DEFAULT_MAX_FRAME_SIZE};
use crate::socket::{next_message, Reconnect, Reconnecting};
use crate::subscription::Subscription;

/// Tuning of a [`Subscriber`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest frame accepted (default [`DEFAULT_MAX_FRAME_SIZE`], 6 MiB).
    /// A larger one drops the connection, as the specification asks.
    pub max_frame_size: usize,
    /// How long the socket may be silent before a ping is sent; after a
    /// second silent period the connection is taken as dead and replaced
    /// (default 30 s).
    pub read_timeout: Duration,
    /// Time allowed for TCP, TLS and the WebSocket handshake (default 10 s).
    pub connect_timeout: Duration,
    /// First reconnect delay (default 500 ms); it doubles per failed
    /// attempt, with jitter (a random delay between half and all of it).
    pub backoff_initial: Duration,
    /// Longest reconnect delay (default 30 s).
    pub backoff_max: Duration,
    /// Give up after this many attempts in a row without a message
    /// (default `None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            read_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

/// What went wrong on a subscription. `E` is the endpoint's generated
/// error enum (`subscribe_repos::Error`).
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError<E> {
    /// The service URL is invalid or refused (plain http to a non-loopback
    /// host). The stream ends.
    Url(UrlError),
    /// The server sent an error frame the endpoint declares
    /// (`FutureCursor`, `ConsumerTooSlow`). After `FutureCursor` the
    /// stream ends (reconnecting with the same cursor cannot help); after
    /// any other the client reconnects from its cursor.
    Server(E),
    /// The server sent an error frame with a name the endpoint does not
    /// declare; the client reconnects.
    UnknownServerError(ErrorFrame),
    /// A frame could not be decoded. A bad body is skipped (the cursor
    /// moves past it when its `seq` could be read); a bad header or an
    /// oversized frame drops the connection and the client reconnects.
    Frame(FrameError),
    /// Connecting or reading failed `attempts` times in a row
    /// ([`Config::max_attempts`]); the stream ends.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

impl<E: atmo_types::xrpc::EndpointError> StreamError<E> {
    /// Whether the stream ends after this error.
    pub fn is_fatal(&self) -> bool {
        match self {
            StreamError::Url(_) | StreamError::GaveUp { .. } => true,
            StreamError::Server(e) => e.name() == "FutureCursor",
            StreamError::UnknownServerError(f) => f.error == "FutureCursor",
            StreamError::Frame(_) => false,
        }
    }
}

impl<E: fmt::Display> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Url(e) => e.fmt(f),
            StreamError::Server(e) => write!(f, "the server ended the stream: {e}"),
            StreamError::UnknownServerError(e) => write!(f, "the server ended the stream: {e}"),
            StreamError::Frame(e) => e.fmt(f),
            StreamError::GaveUp { attempts, last } => {
                write!(f, "gave up after {attempts} failed attempts; last: {last}")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for StreamError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Url(e) => Some(e),
            StreamError::Server(e) => Some(e),
            StreamError::Frame(e) => Some(e),
            _ => None,
        }
    }
}

/// Something the client reports about its connection (to a hook set with
/// [`SubscriberBuilder::on_connection`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// Connected; resuming after `cursor` (none: live).
    Connected {
        /// The cursor sent.
        cursor: Option<i64>,
    },
    /// The connection failed or was lost; the next attempt comes after
    /// `delay`.
    Retrying {
        /// Attempts in a row so far.
        attempt: u32,
        /// What happened.
        reason: String,
        /// The wait before the next attempt.
        delay: Duration,
    },
}

type CursorHook = Box<dyn FnMut(i64) + Send + Sync>;
pub(crate) type ConnectionHook = Box<dyn FnMut(&ConnectionEvent) + Send + Sync>;

/// The builders' `on_connection` setter, the same for both clients (it
/// sets an `on_connection: Option<ConnectionHook>` field).
macro_rules! on_connection_setter {
    () => {
        /// Called on each connect and each failure before a retry.
        pub fn on_connection(
            mut self,
            hook: impl FnMut(&ConnectionEvent) + Send + Sync + 'static,
        ) -> Self {
            self.on_connection = Some(Box::new(hook));
            self
        }
    };
}
#[cfg(feature = "jetstream")]
pub(crate) use on_connection_setter;

/// Builds a [`Subscriber`].
pub struct SubscriberBuilder<S> {
    service: String,
    allow_insecure_http: bool,
    cursor: Option<i64>,
    config: Config,
    params: Vec<(String, String)>,
    on_cursor: Option<CursorHook>,
    on_connection: Option<ConnectionHook>,
    _s: PhantomData<fn() -> S>,
}

impl<S: Subscription> SubscriberBuilder<S> {
    /// Resume after this sequence number (events with a greater `seq` are
    /// replayed); without one the stream starts live.
    pub fn cursor(mut self, cursor: Option<i64>) -> Self {
        self.cursor = cursor;
        self
    }

    /// Tuning (timeouts, backoff, frame cap).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Allow plain `ws://`/`http://` to a non-loopback host (default off;
    /// loopback is always allowed).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// An extra query parameter, for third-party subscriptions with
    /// parameters beyond `cursor`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Called with the `seq` of each message as it is handed to the
    /// consumer: persist it and pass it back to [`Self::cursor`] after a
    /// restart to resume without loss.
    pub fn on_cursor(mut self, hook: impl FnMut(i64) + Send + Sync + 'static) -> Self {
        self.on_cursor = Some(Box::new(hook));
        self
    }

    on_connection_setter!();

    /// The subscriber (it connects on the first [`Subscriber::next`]).
    pub fn build(self) -> Result<Subscriber<S>, StreamError<S::Error>> {
        let text = match self.service.split_once("://") {
            Some(("wss", rest)) => format!("https://{rest}"),
            Some(("ws", rest)) => format!("http://{rest}"),
            _ => self.service.clone(),
        };
        let url = check_url(&text, self.allow_insecure_http).map_err(StreamError::Url)?;
        let port = port_of(&url);
        Ok(Subscriber {
            url,
            port,
            config: self.config,
            params: self.params,
            start_cursor: self.cursor,
            last_seq: None,
            socket: Reconnecting::new(
                self.on_connection,
                "no frame and no pong within the read timeout",
            ),
            on_cursor: self.on_cursor,
            _s: PhantomData,
        })
    }
}

/// A subscription to one endpoint of one service, read message by message.
///
/// - Messages come in order, each at most once: after a reconnect the
///   client asks for events after the last `seq` it handed out and drops
///   any at or below it (servers differ on whether the cursor itself is
///   replayed).
/// - Nothing is queued inside: a frame is read from the socket when the
///   consumer asks for the next message, so a slow consumer slows the
///   socket (and the server may end the stream with `ConsumerTooSlow`,
///   after which the client resumes from its cursor).
/// - Silent stalls: after [`Config::read_timeout`] without a frame the
///   client pings; after another it reconnects.
/// - Reconnects back off exponentially with jitter; a closed stream never
///   spins.
pub struct Subscriber<S: Subscription> {
    url: ServiceUrl,
    port: u16,
    config: Config,
    params: Vec<(String, String)>,
    start_cursor: Option<i64>,
    last_seq: Option<i64>,
    socket: Reconnecting,
    on_cursor: Option<CursorHook>,
    _s: PhantomData<fn() -> S>,
}

impl<S: Subscription> fmt::Debug for Subscriber<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("nsid", &S::NSID)
            .field("url", &self.url.as_str())
            .field("cursor", &self.cursor())
            .field("connected", &self.socket.is_connected())
            .finish()
    }
}

impl<S: Subscription> Subscriber<S> {
    /// A builder for subscription `S` at `service` (`https://host`,
    /// `wss://host`, or plain `http`/`ws` to loopback).
    pub fn builder(service: impl Into<String>) -> SubscriberBuilder<S> {
        SubscriberBuilder {
            service: service.into(),
            allow_insecure_http: false,
            cursor: None,
            config: Config::default(),
            params: Vec::new(),
            on_cursor: None,
            on_connection: None,
            _s: PhantomData,
        }
    }

    /// The cursor a reconnect would send: the last `seq` handed out, or the
    /// starting cursor before any.
    pub fn cursor(&self) -> Option<i64> {
        self.last_seq.or(self.start_cursor)
    }

    /// The WebSocket URL the next connection uses.
    pub fn url(&self) -> String {
        let mut query = self.params.clone();
        if let Some(c) = self.cursor() {
            query.push(("cursor".into(), c.to_string()));
        }
        let http = self.url.xrpc_url(S::NSID, &query);
        match http.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}"),
            Some((_, rest)) => format!("ws://{rest}"),
            None => http,
        }
    }

    /// Drops the current connection; the next [`Self::next`] reconnects
    /// from the cursor at once.
    pub fn disconnect(&mut self) {
        self.socket.disconnect();
    }

    /// The next message, or an error (see [`StreamError`]: most are
    /// reported and the stream goes on), or `None` once the stream has
    /// ended.
    pub async fn next(&mut self) -> Option<Result<S::Message, StreamError<S::Error>>> {
        loop {
            let msg = match next_message(self).await? {
                Ok(m) => m,
                Err(e) => return Some(Err(e)),
            };
            // Text frames are not part of the protocol; pings are answered
            // by tungstenite; pongs only show liveness.
            let WsMessage::Binary(bytes) = msg else {
                continue;
            };
            match decode_frame::<S>(&bytes, self.config.max_frame_size) {
                Ok(Frame::Message(m)) => {
                    if let Some(seq) = S::seq(&m) {
                        if self.last_seq.is_some_and(|last| seq <= last) {
                            continue;
                        }
                        self.last_seq = Some(seq);
                        if let Some(hook) = &mut self.on_cursor {
                            hook(seq);
                        }
                    }
                    return Some(Ok(m));
                }
                Ok(Frame::UnknownOp(_)) => continue,
                Ok(Frame::Error(frame)) => {
                    if frame.error == "FutureCursor" {
                        self.socket.end();
                    } else {
                        self.socket.drop_failed(format!("server error {frame}"));
                    }
                    return Some(Err(match frame.typed::<S>() {
                        Some(e) => StreamError::Server(e),
                        None => StreamError::UnknownServerError(frame),
                    }));
                }
                Err(e) => {
                    let framing = matches!(
                        e,
                        FrameError::TooLarge { .. }
                            | FrameError::Decode {
                                part: Part::Header,
                                ..
                            }
                            | FrameError::Shape {
                                part: Part::Header,
                                ..
                            }
                    );
                    if framing {
                        self.socket.drop_failed(format!("bad frame: {e}"));
                    } else if let Some(seq) = e.seq() {
                        if self.last_seq.is_none_or(|last| seq > last) {
                            self.last_seq = Some(seq);
                            if let Some(hook) = &mut self.on_cursor {
                                hook(seq);
                            }
                        }
                    }
                    return Some(Err(StreamError::Frame(e)));
                }
            }
        }
    }

    /// The subscriber as a `Stream` of the same items.
    pub fn into_stream(
        self,
    ) -> impl futures_core::Stream<Item = Result<S::Message, StreamError<S::Error>>> + Send
    where
        S::Message: Send,
    {
        futures_util::stream::unfold(self, |mut s| async move {
            let item = s.next().await?;
            Some((item, s))
        })
    }
}

impl<S: Subscription> Reconnect for Subscriber<S> {
    type Error = StreamError<S::Error>;

    fn parts(&mut self) -> (&mut Reconnecting, &Config) {
        (&mut self.socket, &self.config)
    }

    fn cursor(&self) -> Option<i64> {
        Subscriber::cursor(self)
    }

    async fn connect(&self) -> Result<WebSocketStream<Conn>, String> {
        open_socket(&self.url, self.port, &self.url(), &self.config).await
    }

    fn gave_up(attempts: u32, last: String) -> Self::Error {
        StreamError::GaveUp { attempts, last }
    }

    /// The size is not known (tungstenite stops reading at the cap): one
    /// byte over it is reported.
    fn too_large(max: usize) -> Self::Error {
        StreamError::Frame(FrameError::TooLarge {
            size: max.saturating_add(1),
            max,
        })
    }
}

/// Opens the WebSocket at `ws_url` on `url`'s host and `port`: TCP, TLS for
/// `https`, the handshake with `config.max_frame_size` as the message and
/// frame cap, all within `config.connect_timeout`. Shared by [`Subscriber`]
/// and the Jetstream client.
pub(crate) async fn open_socket(
    url: &ServiceUrl,
    port: u16,
    ws_url: &str,
    config: &Config,
) -> Result<WebSocketStream<Conn>, String> {
    let host = url
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tls = url.scheme() == "https";
    let max = config.max_frame_size;
    let work = async move {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let conn = if tls {
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| format!("{host}: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(tls_config()?)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}: {e}"))?;
            Conn::Tls(Box::new(tls))
        } else {
            Conn::Plain(tcp)
        };
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max));
        let (ws, _response) =
            tokio_tungstenite::client_async_with_config(ws_url, conn, Some(ws_config))
                .await
                .map_err(|e| format!("WebSocket handshake with {ws_url}: {e}"))?;
        Ok(ws)
    };
    match tokio::time::timeout(config.connect_timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("connecting to {} timed out", url.as_str())),
    }
}

/// The reconnect delay after `attempt` failures in a row: `backoff_initial`
/// doubled per failure, at most `backoff_max`, then a random point (`jitter`
/// in `[0, 1)`) between half and all of it.
pub(crate) fn backoff(config: &Config, attempt: u32, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let full = config
        .backoff_initial
        .saturating_mul(1u32 << exp)
        .min(config.backoff_max);
    let half = full / 2;
    // Whole nanoseconds of the jitter, in integers: no float conversion
    // that could overflow however large the delay.
    let jitter_ns = (jitter.clamp(0.0, 1.0) * 1e9) as u32;
    let extra = half
        .checked_mul(jitter_ns)
        .map(|d| d / 1_000_000_000)
        .unwrap_or_else(|| (half / 1_000_000_000).saturating_mul(jitter_ns));
    half.saturating_add(extra)
}

pub(crate) fn port_of(url: &ServiceUrl) -> u16 {
    let text = url.as_str();
    let after_host = text
        .find("://")
        .map(|i| i + 3 + url.host().len())
        .and_then(|i| text.get(i..))
        .unwrap_or("");
    after_host
        .strip_prefix(':')
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(if url.scheme() == "https" { 443 } else { 80 })
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err("no trusted root certificates found on this system".into());
            }
            // The provider goes into this configuration only; the process
            // default stays the application's choice. rustls 0.23.48
            // deprecates ring's provider (no post-quantum key exchange);
            // ring is kept on purpose (aws-lc-rs takes several times longer
            // to build) and rustls has no other path to it, hence the allow.
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS configuration: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// A plain or TLS connection.
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_never_overflows() {
        let config = Config {
            backoff_initial: Duration::MAX,
            backoff_max: Duration::MAX,
            ..Config::default()
        };
        for attempt in [0, 1, 2, 21, u32::MAX] {
            for jitter in [0.0, 0.5, 0.999_999, 1.0, f64::NAN, f64::INFINITY, -1.0] {
                let d = backoff(&config, attempt, jitter);
                assert!(d >= Duration::MAX / 2, "{attempt} {jitter}: {d:?}");
            }
        }
        let config = Config {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..Config::default()
        };
        assert_eq!(backoff(&config, 1, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(&config, 1, 0.5), Duration::from_millis(75));
        assert_eq!(backoff(&config, 3, 0.0), Duration::from_millis(200));
        assert_eq!(backoff(&config, u32::MAX, 0.0), Duration::from_millis(500));
        assert!(backoff(&config, u32::MAX, 0.999) < Duration::from_secs(1));
    }
}
