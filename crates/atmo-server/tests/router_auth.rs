//! `XrpcRouter` with service auth: the router's state is the verifier, a
//! handler extracts `ServiceAuth` from its request and a refusal answers
//! the refusal's XRPC status and name; `lxm` is checked against the
//! endpoint the router dispatched to. Served on loopback, called with
//! atmo-xrpc's transport carrying the minted token.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;

use atmo_api::app::bsky::feed::get_feed_skeleton::{self, GetFeedSkeleton};
use atmo_crypto::{Curve, PublicKey};
use atmo_server::axum::ServiceAuth;
use atmo_server::xrpc::{XrpcRequest, XrpcRouter};
use atmo_server::{
    mint_service_jwt, KeyId, KeyLookupError, KeyResolver, ServiceAuthVerifier, SigningKey,
};
use atmo_types::xrpc::{Method, QueryParams, QueryWriter};
use atmo_types::Did;
use atmo_xrpc::transport::{NoAuth, Transport, TransportConfig, XrpcRequest as Call};
use atmo_xrpc::url::ServiceUrl;
use atmo_xrpc::BoxFuture;

const SERVICE: &str = "did:web:feed.example.com";
const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

/// One known caller and its key.
struct Fixed(PublicKey);

impl KeyResolver for Fixed {
    fn resolve_key<'a>(
        &'a self,
        did: &'a Did,
        _: KeyId,
        _: bool,
    ) -> BoxFuture<'a, Result<PublicKey, KeyLookupError>> {
        let found = if did.as_str() == ALICE {
            Ok(self.0)
        } else {
            Err(KeyLookupError::UnknownIssuer(did.to_string()))
        };
        Box::pin(async move { found })
    }
}

async fn serve(key: &SigningKey) -> SocketAddr {
    let verifier = ServiceAuthVerifier::new(SERVICE, Fixed(key.public_key())).unwrap();
    let router = XrpcRouter::<ServiceAuthVerifier>::new()
        .handler(
            |mut req: XrpcRequest<GetFeedSkeleton, ServiceAuthVerifier>| async move {
                let ServiceAuth(caller) = req.extract::<ServiceAuth>().await?;
                // A feed for whoever asked: the caller is in the cursor.
                let mut out = get_feed_skeleton::Output::new(Vec::new());
                out.cursor = Some(caller.did.to_string());
                Ok(out)
            },
        )
        .into_router()
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

async fn feed(
    addr: SocketAddr,
    token: Option<String>,
) -> Result<atmo_xrpc::transport::XrpcResponse, atmo_xrpc::Error> {
    let transport = Transport::new(
        Arc::new(atmo_xrpc::HyperClient::new().unwrap()),
        TransportConfig::default(),
    );
    let base = ServiceUrl::parse(&format!("http://{addr}")).unwrap();
    let mut call = Call::new("app.bsky.feed.getFeedSkeleton", Method::Query);
    let mut q = QueryWriter::new();
    get_feed_skeleton::Parameters::new(
        "at://did:plc:feedgen/app.bsky.feed.generator/rule"
            .parse()
            .unwrap(),
    )
    .write_query(&mut q);
    call.query = q
        .pairs()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    if let Some(t) = token {
        call.set_header("authorization", format!("Bearer {t}"));
    }
    transport.send(&base, &call, &NoAuth).await
}

#[tokio::test]
async fn a_handler_gets_the_verified_caller_and_refusals_keep_their_status() {
    let key = SigningKey::generate(Curve::K256).unwrap();
    let addr = serve(&key).await;

    let token = mint_service_jwt(
        &key,
        ALICE,
        SERVICE,
        Some("app.bsky.feed.getFeedSkeleton"),
        None,
    )
    .unwrap();
    let answer = feed(addr, Some(token)).await.unwrap();
    let out: get_feed_skeleton::Output = serde_json::from_slice(&answer.body.bytes).unwrap();
    assert_eq!(out.cursor.as_deref(), Some(ALICE));

    // No token, a token for another method, a token for another service.
    let other_method = mint_service_jwt(
        &key,
        ALICE,
        SERVICE,
        Some("app.bsky.feed.describeFeedGenerator"),
        None,
    )
    .unwrap();
    let other_service = mint_service_jwt(
        &key,
        ALICE,
        "did:web:other.example.com",
        Some("app.bsky.feed.getFeedSkeleton"),
        None,
    )
    .unwrap();
    let mut names = Vec::new();
    for token in [None, Some(other_method), Some(other_service)] {
        match feed(addr, token).await {
            Err(atmo_xrpc::Error::Xrpc(e)) => {
                assert_eq!(e.status, 401, "{e:?}");
                names.push(e.error);
            }
            other => panic!("expected a 401, got {other:?}"),
        }
    }
    names.dedup();
    assert_eq!(names.len(), 3, "each refusal has its own name: {names:?}");
}
