//! `xrpc::XrpcRouter` served on loopback with axum and called with the real
//! client (atmo-client's agent, atmo-xrpc's transport), with the
//! generated endpoint types of atmo-api (feature `server`): typed round
//! trips, the refusals the router answers itself, declared errors, and
//! subscriptions whose frames atmo-stream's decoder reads.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;

use atmo_api::app::bsky::feed::{
    defs::SkeletonFeedPost, describe_feed_generator, get_feed_skeleton,
};
use atmo_api::com::atproto::repo::upload_blob;
use atmo_api::com::atproto::server::create_app_password;
use atmo_api::com::atproto::sync::subscribe_repos;
use atmo_client::AtpAgent;
use atmo_server::xrpc::{
    Broadcaster, Limits, SubscriptionOptions, SubscriptionRequest, XrpcError, XrpcRequest,
    XrpcRouter,
};
use atmo_stream::{decode_frame, Frame, SubscribeRepos, DEFAULT_MAX_FRAME_SIZE};
use atmo_types::xrpc::{Method, RawBody};
use atmo_types::{AtUri, Datetime, Did};
use atmo_xrpc::transport::{NoAuth, Transport, TransportConfig, XrpcRequest as Call};
use atmo_xrpc::url::ServiceUrl;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const FEED: &str = "at://did:plc:feedgen/app.bsky.feed.generator/rule";
const GONE: &str = "at://did:plc:feedgen/app.bsky.feed.generator/gone";

async fn feed_skeleton(
    req: XrpcRequest<get_feed_skeleton::GetFeedSkeleton>,
) -> Result<get_feed_skeleton::Output, XrpcError> {
    if req.params.feed.as_str() == GONE {
        return Err(get_feed_skeleton::Error::UnknownFeed(Some("no feed gone here".into())).into());
    }
    let start: i64 = req
        .params
        .cursor
        .as_deref()
        .map_or(Ok(0), str::parse)
        .map_err(|_| XrpcError::invalid_request("bad cursor"))?;
    let feed = (start..start + req.params.limit)
        .map(|i| {
            let uri: AtUri = format!("at://did:plc:author/app.bsky.feed.post/{i}")
                .parse()
                .map_err(|e| XrpcError::internal(format!("{e}")))?;
            Ok(SkeletonFeedPost::new(uri))
        })
        .collect::<Result<Vec<_>, XrpcError>>()?;
    let mut out = get_feed_skeleton::Output::new(feed);
    out.cursor = Some((start + req.params.limit).to_string());
    if req.params.cursor.as_deref() == Some("999") {
        // Past the lexicon's maxLength of 100 for reqId.
        out.req_id = Some("r".repeat(101));
    }
    Ok(out)
}

fn app(limits: Limits) -> axum::Router {
    XrpcRouter::new()
        .limits(limits)
        .handler(feed_skeleton)
        .handler(
            |_: XrpcRequest<describe_feed_generator::DescribeFeedGenerator>| async move {
                let did: Did = "did:web:feed.example.com"
                    .parse()
                    .map_err(|e| XrpcError::internal(format!("{e}")))?;
                let uri: AtUri = FEED
                    .parse()
                    .map_err(|e| XrpcError::internal(format!("{e}")))?;
                Ok(describe_feed_generator::Output::new(
                    did,
                    vec![describe_feed_generator::Feed::new(uri)],
                ))
            },
        )
        .handler(
            |req: XrpcRequest<create_app_password::CreateAppPassword>| async move {
                if req.input.name == "takedown" {
                    return Err(create_app_password::Error::AccountTakedown(None).into());
                }
                let at: Datetime = "2026-01-02T03:04:05.000Z"
                    .parse()
                    .map_err(|e| XrpcError::internal(format!("{e}")))?;
                Ok(create_app_password::AppPassword::new(
                    req.input.name,
                    "abcd-efgh-ijkl-mnop".into(),
                    at,
                ))
            },
        )
        .handler(|req: XrpcRequest<upload_blob::UploadBlob>| async move {
            // A blob ref of the bytes received, with their content type.
            let body = req.input;
            let json = serde_json::json!({"blob": {
                "$type": "blob",
                "ref": {"$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},
                "mimeType": body.content_type,
                "size": body.bytes.len(),
            }});
            serde_json::from_value::<upload_blob::Output>(json)
                .map_err(|e| XrpcError::internal(e.to_string()))
        })
        .into_router()
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn agent(addr: SocketAddr, validate: bool) -> AtpAgent {
    AtpAgent::builder(format!("http://{addr}"))
        .validate_requests(validate)
        .build()
        .unwrap()
}

/// A raw call through atmo-xrpc's transport (what the agent sends, but
/// with any query, body and content type).
async fn raw(
    addr: SocketAddr,
    nsid: &str,
    method: Method,
    query: &[(&str, &str)],
    body: Option<RawBody>,
) -> Result<atmo_xrpc::transport::XrpcResponse, atmo_xrpc::Error> {
    let client = Arc::new(atmo_xrpc::HyperClient::new().unwrap());
    let transport = Transport::new(client, TransportConfig::default());
    let base = ServiceUrl::parse(&format!("http://{addr}")).unwrap();
    let mut call = Call::new(nsid, method);
    call.query = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    call.body = body;
    transport.send(&base, &call, &NoAuth).await
}

/// The XRPC error of a failed raw call.
fn xrpc_error(
    r: Result<atmo_xrpc::transport::XrpcResponse, atmo_xrpc::Error>,
) -> atmo_xrpc::XrpcError {
    match r {
        Err(atmo_xrpc::Error::Xrpc(e)) => e,
        other => panic!("expected an XRPC error, got {other:?}"),
    }
}

/// The XRPC error of a failed agent call (not a declared one).
fn agent_error<E: std::fmt::Debug>(
    r: Result<impl std::fmt::Debug, atmo_client::Error<E>>,
) -> atmo_xrpc::XrpcError {
    match r {
        Err(atmo_client::Error::Xrpc(atmo_xrpc::Error::Xrpc(e))) => e,
        other => panic!("expected an XRPC error, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_query_and_procedure_round_trips() {
    let addr = serve(app(Limits::default())).await;
    let agent = agent(addr, true);

    let mut params = get_feed_skeleton::Parameters::new(FEED.parse().unwrap());
    params.limit = 3;
    params.cursor = Some("10".into());
    let out = agent
        .call::<get_feed_skeleton::GetFeedSkeleton>(params, ())
        .await
        .unwrap();
    let posts: Vec<&str> = out.feed.iter().map(|p| p.post.as_str()).collect();
    assert_eq!(
        posts,
        [
            "at://did:plc:author/app.bsky.feed.post/10",
            "at://did:plc:author/app.bsky.feed.post/11",
            "at://did:plc:author/app.bsky.feed.post/12"
        ]
    );
    assert_eq!(out.cursor.as_deref(), Some("13"));

    // The lexicon default (limit 50) applies when the client omits it.
    let raw_answer = raw(
        addr,
        "app.bsky.feed.getFeedSkeleton",
        Method::Query,
        &[("feed", FEED)],
        None,
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&raw_answer.body.bytes).unwrap();
    assert_eq!(v["feed"].as_array().unwrap().len(), 50);
    assert_eq!(raw_answer.body.content_type, "application/json");

    let described = agent
        .call::<describe_feed_generator::DescribeFeedGenerator>((), ())
        .await
        .unwrap();
    assert_eq!(described.did.as_str(), "did:web:feed.example.com");
    assert_eq!(described.feeds[0].uri.as_str(), FEED);

    let created = agent
        .call::<create_app_password::CreateAppPassword>(
            (),
            create_app_password::Input::new("laptop".into()),
        )
        .await
        .unwrap();
    assert_eq!(created.name, "laptop");
    assert_eq!(created.password, "abcd-efgh-ijkl-mnop");

    // Binary input: the bytes and their content type reach the handler.
    let blob = raw(
        addr,
        "com.atproto.repo.uploadBlob",
        Method::Procedure,
        &[],
        Some(RawBody::new("image/png", vec![7u8; 1000])),
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&blob.body.bytes).unwrap();
    assert_eq!(v["blob"]["mimeType"], "image/png");
    assert_eq!(v["blob"]["size"], 1000);
}

#[tokio::test]
async fn bad_params_are_400_invalid_request_naming_the_param() {
    let addr = serve(app(Limits::default())).await;
    // Past the lexicon's maximum (the client's own check is off).
    let mut params = get_feed_skeleton::Parameters::new(FEED.parse().unwrap());
    params.limit = 1000;
    let e = agent_error(
        agent(addr, false)
            .call::<get_feed_skeleton::GetFeedSkeleton>(params, ())
            .await,
    );
    assert_eq!((e.status, e.error.as_str()), (400, "InvalidRequest"));
    assert!(e.message.as_deref().unwrap().contains("limit"), "{e:?}");

    // Not an integer, not a format, missing.
    for (query, param) in [
        (vec![("feed", FEED), ("limit", "ten")], "limit"),
        (vec![("feed", "not an at-uri")], "feed"),
        (vec![("limit", "5")], "feed"),
        (
            vec![("feed", FEED), ("limit", "5"), ("limit", "6")],
            "limit",
        ),
    ] {
        let e = xrpc_error(
            raw(
                addr,
                "app.bsky.feed.getFeedSkeleton",
                Method::Query,
                &query,
                None,
            )
            .await,
        );
        assert_eq!(
            (e.status, e.error.as_str()),
            (400, "InvalidRequest"),
            "{query:?}"
        );
        let message = e.message.unwrap_or_default();
        assert!(message.contains(param), "{query:?}: {message}");
    }
}

#[tokio::test]
async fn declared_errors_keep_their_name_and_status() {
    let addr = serve(app(Limits::default())).await;
    let r = agent(addr, true)
        .call::<get_feed_skeleton::GetFeedSkeleton>(
            get_feed_skeleton::Parameters::new(GONE.parse().unwrap()),
            (),
        )
        .await;
    match r {
        Err(atmo_client::Error::Api { error, status, .. }) => {
            assert_eq!(status, 400);
            assert_eq!(
                error,
                get_feed_skeleton::Error::UnknownFeed(Some("no feed gone here".into()))
            );
        }
        other => panic!("expected UnknownFeed, got {other:?}"),
    }
    let r = agent(addr, true)
        .call::<create_app_password::CreateAppPassword>(
            (),
            create_app_password::Input::new("takedown".into()),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(atmo_client::Error::Api {
                error: create_app_password::Error::AccountTakedown(None),
                status: 400,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn oversize_input_is_413_and_a_wrong_content_type_400() {
    let addr = serve(app(Limits {
        json: 64,
        binary: 256,
    }))
    .await;
    let e = agent_error(
        agent(addr, true)
            .call::<create_app_password::CreateAppPassword>(
                (),
                create_app_password::Input::new("x".repeat(100)),
            )
            .await,
    );
    assert_eq!(
        (e.status, e.error.as_str()),
        (413, "PayloadTooLarge"),
        "{e:?}"
    );
    // Binary bodies have their own limit.
    let e = xrpc_error(
        raw(
            addr,
            "com.atproto.repo.uploadBlob",
            Method::Procedure,
            &[],
            Some(RawBody::new("image/png", vec![0u8; 257])),
        )
        .await,
    );
    assert_eq!((e.status, e.error.as_str()), (413, "PayloadTooLarge"));
    let ok = raw(
        addr,
        "com.atproto.repo.uploadBlob",
        Method::Procedure,
        &[],
        Some(RawBody::new("image/png", vec![0u8; 256])),
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");

    // JSON endpoints take JSON.
    let e = xrpc_error(
        raw(
            addr,
            "com.atproto.server.createAppPassword",
            Method::Procedure,
            &[],
            Some(RawBody::new("text/plain", b"{\"name\":\"a\"}".to_vec())),
        )
        .await,
    );
    assert_eq!((e.status, e.error.as_str()), (400, "InvalidRequest"));
    assert!(e.message.unwrap().contains("Content-Type"));
    // No body at all.
    let e = xrpc_error(
        raw(
            addr,
            "com.atproto.server.createAppPassword",
            Method::Procedure,
            &[],
            None,
        )
        .await,
    );
    assert_eq!((e.status, e.error.as_str()), (400, "InvalidRequest"));
    // JSON that is not the input: the message says where.
    let e = xrpc_error(
        raw(
            addr,
            "com.atproto.server.createAppPassword",
            Method::Procedure,
            &[],
            Some(RawBody::new("application/json", b"{\"name\":5}".to_vec())),
        )
        .await,
    );
    assert_eq!((e.status, e.error.as_str()), (400, "InvalidRequest"));
    assert!(e.message.unwrap().contains("name"));
}

#[tokio::test]
async fn an_output_breaking_the_lexicon_is_a_500_never_sent() {
    let addr = serve(app(Limits::default())).await;
    let mut params = get_feed_skeleton::Parameters::new(FEED.parse().unwrap());
    params.limit = 1;
    params.cursor = Some("999".into());
    let e = agent_error(
        agent(addr, true)
            .call::<get_feed_skeleton::GetFeedSkeleton>(params, ())
            .await,
    );
    assert_eq!((e.status, e.error.as_str()), (500, "InternalServerError"));
    assert!(e.message.unwrap_or_default().contains("reqId"));
}

#[tokio::test]
async fn unknown_methods_are_501_and_wrong_http_methods_400() {
    let addr = serve(app(Limits::default())).await;
    let e = xrpc_error(raw(addr, "com.example.nothing", Method::Query, &[], None).await);
    assert_eq!((e.status, e.error.as_str()), (501, "MethodNotImplemented"));
    let e = xrpc_error(raw(addr, "com.example.nothing", Method::Procedure, &[], None).await);
    assert_eq!((e.status, e.error.as_str()), (501, "MethodNotImplemented"));
    // A procedure asked for with GET.
    let e = xrpc_error(
        raw(
            addr,
            "com.atproto.server.createAppPassword",
            Method::Query,
            &[],
            None,
        )
        .await,
    );
    assert_eq!((e.status, e.error.as_str()), (400, "InvalidRequest"));
}

/// A firehose: a backfill of `#identity` events from the cursor (an
/// `#info` `OutdatedCursor` first when the cursor is older than what is
/// kept), `FutureCursor` for a cursor ahead of the head, then the live
/// events of `live`.
fn firehose(
    live: Broadcaster<subscribe_repos::Message>,
    subscribed: Arc<tokio::sync::Notify>,
    options: SubscriptionOptions,
) -> axum::Router {
    const OLDEST: i64 = 3;
    const HEAD: i64 = 6;
    XrpcRouter::new()
        .subscription(
            subscribe_repos::NSID,
            options,
            move |req: SubscriptionRequest<subscribe_repos::Parameters>| {
                let live = live.clone();
                let subscribed = subscribed.clone();
                async move {
                    let stream = live.subscribe();
                    subscribed.notify_one();
                    let mut backfill = Vec::new();
                    if let Some(cursor) = req.params.cursor {
                        if cursor > HEAD {
                            return Err(subscribe_repos::Error::FutureCursor(Some(
                                "cursor is ahead of the stream".into(),
                            ))
                            .into());
                        }
                        if cursor < OLDEST {
                            let mut info = subscribe_repos::Info::new("OutdatedCursor".into());
                            info.message = Some("backfilling from the oldest event kept".into());
                            backfill.push(Ok(subscribe_repos::Message::Info(Box::new(info))));
                        }
                        for seq in (cursor + 1).max(OLDEST)..=HEAD {
                            backfill.push(Ok(identity(seq)));
                        }
                    }
                    Ok(futures_util::stream::iter(backfill).chain(stream))
                }
            },
        )
        .into_router()
}

fn identity(seq: i64) -> subscribe_repos::Message {
    let mut event = subscribe_repos::Identity::new(
        seq,
        "did:plc:ewvi7nxzyoun6zhxrhs64oiz".parse().unwrap(),
        "2026-01-02T03:04:05.000Z".parse().unwrap(),
    );
    event.handle = Some("alice.example.com".parse().unwrap());
    subscribe_repos::Message::Identity(Box::new(event))
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket to the subscription, with a small receive buffer.
async fn connect(addr: SocketAddr, query: &str) -> Socket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/xrpc/com.atproto.sync.subscribeRepos{query}");
    tokio_tungstenite::client_async(url, tcp).await.unwrap().0
}

/// Every frame until the server closes, decoded by atmo-stream.
async fn frames(socket: &mut Socket) -> Vec<Frame<subscribe_repos::Message>> {
    let mut out = Vec::new();
    while let Some(message) = socket.next().await {
        match message.unwrap() {
            WsMessage::Binary(bytes) => {
                out.push(decode_frame::<SubscribeRepos>(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap())
            }
            WsMessage::Close(_) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

#[tokio::test]
async fn a_subscription_sends_backfill_info_and_live_frames_then_closes() {
    let live = Broadcaster::new(16);
    let subscribed = Arc::new(tokio::sync::Notify::new());
    let addr = serve(firehose(
        live.clone(),
        subscribed.clone(),
        SubscriptionOptions::default(),
    ))
    .await;
    let mut socket = connect(addr, "?cursor=1").await;
    subscribed.notified().await;
    live.send(identity(7));
    // The live stream stays open: read the six frames expected, then close.
    let mut got = Vec::new();
    while got.len() < 6 {
        match socket.next().await.unwrap().unwrap() {
            WsMessage::Binary(bytes) => {
                got.push(decode_frame::<SubscribeRepos>(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap())
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let Frame::Message(subscribe_repos::Message::Info(info)) = &got[0] else {
        panic!("expected #info first, got {:?}", got[0]);
    };
    assert_eq!(info.name.as_str(), "OutdatedCursor");
    let seqs: Vec<i64> = got[1..]
        .iter()
        .map(|f| match f {
            Frame::Message(subscribe_repos::Message::Identity(i)) => i.seq,
            other => panic!("expected #identity, got {other:?}"),
        })
        .collect();
    assert_eq!(seqs, [3, 4, 5, 6, 7]);
    assert_eq!(got[5], Frame::Message(identity(7)));
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn a_refused_cursor_and_a_bad_param_are_error_frames() {
    let addr = serve(firehose(
        Broadcaster::new(4),
        Arc::new(tokio::sync::Notify::new()),
        SubscriptionOptions::default(),
    ))
    .await;
    let got = frames(&mut connect(addr, "?cursor=99").await).await;
    let [Frame::Error(e)] = &got[..] else {
        panic!("expected one error frame, got {got:?}");
    };
    assert_eq!(
        e.typed::<SubscribeRepos>(),
        Some(subscribe_repos::Error::FutureCursor(Some(
            "cursor is ahead of the stream".into()
        )))
    );
    let got = frames(&mut connect(addr, "?cursor=soon").await).await;
    let [Frame::Error(e)] = &got[..] else {
        panic!("expected one error frame, got {got:?}");
    };
    assert_eq!(e.error, "InvalidRequest");
    assert!(e.message.as_deref().unwrap().contains("cursor"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_gets_consumer_too_slow_and_is_disconnected() {
    // The server's sockets get a small send buffer, so that a consumer
    // that does not read holds the stream back after a few frames.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap();
    let addr = listener.local_addr().unwrap();
    let live = Broadcaster::new(8);
    let subscribed = Arc::new(tokio::sync::Notify::new());
    let router = firehose(
        live.clone(),
        subscribed.clone(),
        SubscriptionOptions {
            queue: 2,
            ..SubscriptionOptions::default()
        },
    );
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut client = connect(addr, "").await;
    subscribed.notified().await;
    // Far more than the socket buffers, the send queue and the
    // broadcaster's 8 hold: the consumer reads nothing meanwhile.
    const SENT: i64 = 20_000;
    for seq in 1..=SENT {
        live.send(identity(seq));
    }
    let got = frames(&mut client).await;
    let (last, messages) = got.split_last().unwrap();
    let Frame::Error(e) = last else {
        panic!("expected an error frame last, got {last:?}");
    };
    assert!(
        matches!(
            e.typed::<SubscribeRepos>(),
            Some(subscribe_repos::Error::ConsumerTooSlow(_))
        ),
        "{e:?}"
    );
    // What it did get is the start of the stream, in order, and nothing
    // like the whole of it was buffered for it.
    let seqs: Vec<i64> = messages
        .iter()
        .map(|f| match f {
            Frame::Message(subscribe_repos::Message::Identity(i)) => i.seq,
            other => panic!("expected #identity, got {other:?}"),
        })
        .collect();
    assert!(seqs.iter().copied().eq(1..=seqs.len() as i64), "{seqs:?}");
    assert!((seqs.len() as i64) < SENT / 2, "{} frames", seqs.len());
}
