//! Subscriptions (lexicon `subscription`, event streams) over WebSocket:
//! a handler's stream of typed messages sent as DAG-CBOR frames.

use std::future::Future;
use std::time::Duration;

use atmo_sync::{Map, Value};
use atmo_types::validate::Validate;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;

use super::params::decode_params_of;
use super::{XrpcError, XrpcRouter};

/// `op` of a message frame.
const OP_MESSAGE: i64 = 1;
/// `op` of an error frame.
const OP_ERROR: i64 = -1;

/// How a subscription's messages are delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionOptions {
    /// Frames encoded ahead of the socket, at most. When the queue is full
    /// the handler's stream is not polled until the consumer takes a frame
    /// (a backfill is read at the consumer's pace); live events wait in a
    /// [`Broadcaster`]'s bounded buffer instead, where a consumer that
    /// falls behind gets `ConsumerTooSlow`. Default 64 (at least 1).
    pub queue: usize,
    /// How long the last frames (an error frame, the close) may take to
    /// reach a consumer once the stream is over; then the connection is
    /// dropped. Default 10 s.
    pub close_timeout: Duration,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        SubscriptionOptions {
            queue: 64,
            close_timeout: Duration::from_secs(10),
        }
    }
}

/// A subscription request, parameters read and checked: what a
/// subscription handler receives.
pub struct SubscriptionRequest<P, S = ()> {
    /// The query parameters (the generated `Parameters` of the
    /// subscription), `cursor` among them when the lexicon has one.
    pub params: P,
    /// The HTTP upgrade request: method, URI, headers, extensions.
    pub parts: Parts,
    /// The router's state.
    pub state: S,
}

impl<P, S> SubscriptionRequest<P, S> {
    /// Runs an axum extractor on the request's parts with the router's
    /// state (e.g. [`crate::axum::ServiceAuth`]).
    pub async fn extract<T: FromRequestParts<S>>(&mut self) -> Result<T, T::Rejection> {
        T::from_request_parts(&mut self.parts, &self.state).await
    }
}

impl<S: Clone + Send + Sync + 'static> XrpcRouter<S> {
    /// Serves the subscription `nsid` over WebSocket with `handler`, an
    /// async function from the checked [`SubscriptionRequest`] to a stream
    /// of messages (the subscription's generated `Message` union).
    ///
    /// The cursor and backfill are the handler's: it reads
    /// `params.cursor`, and its stream yields the stored events after it
    /// (an `#info` `OutdatedCursor` message first when they are gone), then
    /// the live ones. Each message is a frame `{op: 1, t: "#commit"}` +
    /// body. A refusal (`Err` from the handler, e.g. the declared
    /// `FutureCursor`; a bad parameter is 400 `InvalidRequest`) or an
    /// `Err` item of the stream is sent as an error frame `{op: -1}` +
    /// `{error, message}`, and the connection is closed. The stream's end
    /// closes the connection normally. The stream is polled at the
    /// consumer's pace ([`SubscriptionOptions::queue`]); live messages from
    /// a [`Broadcaster`] wait in its bounded buffer, and a consumer that
    /// falls behind it is sent `ConsumerTooSlow` and disconnected.
    pub fn subscription<P, M, F, Fut, St>(
        self,
        nsid: &str,
        options: SubscriptionOptions,
        handler: F,
    ) -> Self
    where
        P: DeserializeOwned + Validate + Send + 'static,
        M: Serialize + Send + 'static,
        F: Fn(SubscriptionRequest<P, S>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<St, XrpcError>> + Send + 'static,
        St: Stream<Item = Result<M, XrpcError>> + Send + 'static,
    {
        let owned = nsid.to_owned();
        let route = get(move |State(state): State<S>, request: Request| {
            let handler = handler.clone();
            let nsid = owned.clone();
            async move {
                let (mut parts, _) = request.into_parts();
                let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
                    Ok(u) => u,
                    Err(_) => {
                        return XrpcError::invalid_request(
                            "a subscription is a WebSocket: upgrade the connection",
                        )
                        .into_response()
                    }
                };
                upgrade.on_upgrade(move |socket| {
                    run(
                        socket,
                        nsid,
                        options,
                        handler,
                        SubscriptionStart { parts, state },
                    )
                })
            }
        });
        self.route(nsid, route)
    }
}

/// The request's parts and the router's state, before the parameters are
/// read.
struct SubscriptionStart<S> {
    parts: Parts,
    state: S,
}

/// How the stream of messages ended.
enum End {
    /// The stream is over, or the connection is gone.
    Done,
    /// The handler's stream yielded an error, or a message could not be
    /// encoded.
    Error(XrpcError),
}

/// The error name of a consumer that does not keep up.
const CONSUMER_TOO_SLOW: &str = "ConsumerTooSlow";

/// Live messages for every subscriber of a subscription, in a bounded
/// buffer (`tokio::sync::broadcast`): each subscriber reads at its own
/// pace, and one that falls `capacity` messages behind is sent
/// `ConsumerTooSlow` and disconnected instead of being buffered without
/// bound, as the reference PDS's outbox does. Cheap to clone.
///
/// A handler's stream is typically its backfill (the stored events after
/// the request's cursor) followed by [`Broadcaster::subscribe`]; subscribe
/// before reading the backfill and skip live messages it already
/// covered, so that nothing falls between the two.
#[derive(Debug)]
pub struct Broadcaster<M> {
    tx: tokio::sync::broadcast::Sender<M>,
}

impl<M> Clone for Broadcaster<M> {
    fn clone(&self) -> Self {
        Broadcaster {
            tx: self.tx.clone(),
        }
    }
}

impl<M: Clone + Send + 'static> Broadcaster<M> {
    /// A broadcaster keeping at most `capacity` messages (at least 1) for
    /// subscribers that are behind.
    pub fn new(capacity: usize) -> Self {
        Broadcaster {
            tx: tokio::sync::broadcast::channel(capacity.max(1)).0,
        }
    }

    /// Sends a message to every current subscriber; returns how many there
    /// are (0 is not an error: nobody is listening).
    pub fn send(&self, message: M) -> usize {
        self.tx.send(message).unwrap_or(0)
    }

    /// The messages sent from now on, as a subscription handler's stream:
    /// an `Err` `ConsumerTooSlow` when this subscriber fell behind (the
    /// stream then ends), the end when the broadcaster is dropped.
    pub fn subscribe(&self) -> impl Stream<Item = Result<M, XrpcError>> + Send + 'static {
        let rx = self.tx.subscribe();
        futures_util::stream::unfold(Some(rx), |rx| async move {
            use tokio::sync::broadcast::error::RecvError;
            let mut rx = rx?;
            match rx.recv().await {
                Ok(m) => Some((Ok(m), Some(rx))),
                Err(RecvError::Lagged(n)) => Some((
                    Err(XrpcError::new(
                        400,
                        CONSUMER_TOO_SLOW,
                        Some(format!("the consumer fell {n} messages behind the stream")),
                    )),
                    None,
                )),
                Err(RecvError::Closed) => None,
            }
        })
    }
}

/// One connection: the handler's stream pumped into the socket through a
/// bounded queue.
async fn run<P, M, S, F, Fut, St>(
    socket: WebSocket,
    nsid: String,
    options: SubscriptionOptions,
    handler: F,
    start: SubscriptionStart<S>,
) where
    P: DeserializeOwned + Validate + Send + 'static,
    M: Serialize + Send + 'static,
    F: Fn(SubscriptionRequest<P, S>) -> Fut,
    Fut: Future<Output = Result<St, XrpcError>>,
    St: Stream<Item = Result<M, XrpcError>> + Send + 'static,
{
    let (mut sink, mut incoming) = socket.split();
    let query = start.parts.uri.query().unwrap_or("").to_owned();
    let stream = match decode_params_of::<P>(&query) {
        Ok(params) => {
            handler(SubscriptionRequest {
                params,
                parts: start.parts,
                state: start.state,
            })
            .await
        }
        Err(e) => Err(e),
    };
    let stream = match stream {
        Ok(s) => s,
        Err(e) => {
            finish(&mut sink, Some(&e), options.close_timeout).await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(options.queue.max(1));
    let mut producer = tokio::spawn(produce(stream, nsid, tx));
    let end = loop {
        tokio::select! {
            biased;
            end = &mut producer => break end,
            message = incoming.next() => match message {
                // The consumer closed or the connection broke.
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => {
                    producer.abort();
                    return;
                }
                Some(Ok(_)) => {}
            },
            frame = rx.recv() => {
                let Some(frame) = frame else { continue };
                let send = sink.send(WsMessage::Binary(frame.into()));
                let mut send = std::pin::pin!(send);
                tokio::select! {
                    biased;
                    end = &mut producer => {
                        // The frame in flight goes out before the end, if
                        // the consumer takes it in time.
                        match tokio::time::timeout(options.close_timeout, send).await {
                            Ok(Ok(())) => break end,
                            _ => return,
                        }
                    }
                    sent = &mut send => {
                        if sent.is_err() {
                            producer.abort();
                            return;
                        }
                    }
                }
            }
        }
    };
    let end = end.unwrap_or_else(|e| {
        End::Error(XrpcError::internal(format!(
            "the subscription's stream failed: {e}"
        )))
    });
    let error = match end {
        // Frames still queued for a consumer that is too slow are dropped:
        // it is told at once.
        End::Error(e) if e.error() == CONSUMER_TOO_SLOW => Some(e),
        End::Done | End::Error(_) => {
            // What was produced before the end is delivered first.
            let drained = tokio::time::timeout(options.close_timeout, async {
                while let Ok(frame) = rx.try_recv() {
                    sink.send(WsMessage::Binary(frame.into())).await?;
                }
                Ok::<(), axum::Error>(())
            })
            .await;
            if !matches!(drained, Ok(Ok(()))) {
                return;
            }
            match end {
                End::Error(e) => Some(e),
                End::Done => None,
            }
        }
    };
    finish(&mut sink, error.as_ref(), options.close_timeout).await;
}

/// Pulls the handler's stream into the queue, at the consumer's pace,
/// until it ends or fails.
async fn produce<M, St>(stream: St, nsid: String, tx: mpsc::Sender<Vec<u8>>) -> End
where
    M: Serialize,
    St: Stream<Item = Result<M, XrpcError>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let frame = match item.and_then(|m| encode_message(&nsid, &m)) {
            Ok(f) => f,
            Err(e) => return End::Error(e),
        };
        if tx.send(frame).await.is_err() {
            // The connection is gone.
            return End::Done;
        }
    }
    End::Done
}

/// Sends the error frame (if any) and a close, within `timeout`.
async fn finish<K>(sink: &mut K, error: Option<&XrpcError>, timeout: Duration)
where
    K: Sink<WsMessage> + Unpin,
{
    let _ = tokio::time::timeout(timeout, async {
        if let Some(e) = error {
            sink.send(WsMessage::Binary(encode_error(e).into())).await?;
        }
        sink.send(WsMessage::Close(None)).await
    })
    .await;
}

/// A message frame: the header `{op: 1, t}` and the message without its
/// `$type`, both DAG-CBOR. `t` is `#name` for a type of the subscription's
/// own lexicon, the full `$type` otherwise.
///
/// ```
/// use atmo_api::com::atproto::sync::subscribe_repos::{Info, Message, NSID};
/// use atmo_server::xrpc::encode_message;
/// use atmo_stream::{decode_frame, Frame, SubscribeRepos, DEFAULT_MAX_FRAME_SIZE};
///
/// let info = Message::Info(Box::new(Info::new("OutdatedCursor".into())));
/// let frame = encode_message(NSID, &info)?;
/// let decoded = decode_frame::<SubscribeRepos>(&frame, DEFAULT_MAX_FRAME_SIZE).unwrap();
/// assert_eq!(decoded, Frame::Message(info));
/// # Ok::<(), atmo_server::xrpc::XrpcError>(())
/// ```
pub fn encode_message<M: Serialize>(nsid: &str, message: &M) -> Result<Vec<u8>, XrpcError> {
    let fail = |e: String| XrpcError::internal(format!("a message could not be encoded: {e}"));
    let bytes = atmo_sync::to_vec(message).map_err(|e| fail(e.to_string()))?;
    let value = Value::from_cbor(&bytes).map_err(|e| fail(e.to_string()))?;
    let Value::Map(mut body) = value else {
        return Err(fail("a message is not an object".into()));
    };
    let t = match body.remove("$type") {
        Some(Value::String(t)) => t,
        _ => return Err(fail("a message without its $type".into())),
    };
    let t = match t.strip_prefix(nsid) {
        Some(name) if name.starts_with('#') => name.to_owned(),
        _ => t.into_owned(),
    };
    let mut header = Map::new();
    header.insert("op", Value::Integer(OP_MESSAGE));
    header.insert("t", Value::String(t.into()));
    let mut out = Value::Map(header).to_cbor();
    Value::Map(body).write_cbor(&mut out);
    Ok(out)
}

/// An error frame: the header `{op: -1}` and the body `{error, message?}`.
pub fn encode_error(error: &XrpcError) -> Vec<u8> {
    let mut header = Map::new();
    header.insert("op", Value::Integer(OP_ERROR));
    let mut body = Map::new();
    body.insert("error", Value::String(error.error().to_owned().into()));
    if let Some(m) = error.message() {
        body.insert("message", Value::String(m.to_owned().into()));
    }
    let mut out = Value::Map(header).to_cbor();
    Value::Map(body).write_cbor(&mut out);
    out
}
