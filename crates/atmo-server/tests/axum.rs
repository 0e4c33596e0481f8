//! The axum extractor: a router whose handler takes `ServiceAuth` gets the
//! verified caller; refusals answer the XRPC status, error JSON and
//! `WWW-Authenticate`; `lxm` is checked against the route's NSID.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_crypto::{Curve, PublicKey};
use atmo_server::axum::ServiceAuth;
use atmo_server::{
    mint_service_jwt, KeyId, KeyLookupError, KeyResolver, ServiceAuthVerifier, SigningKey,
};
use atmo_types::Did;
use atmo_xrpc::BoxFuture;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const SERVICE: &str = "did:web:feed.example.com";
const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const LXM: &str = "app.bsky.feed.getFeedSkeleton";

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

async fn skeleton(ServiceAuth(caller): ServiceAuth) -> String {
    format!("feed for {}", caller.did)
}

fn router(key: &SigningKey) -> Router {
    let verifier = ServiceAuthVerifier::new(SERVICE, Fixed(key.public_key())).unwrap();
    Router::new()
        .route(&format!("/xrpc/{LXM}"), get(skeleton))
        .route("/xrpc/app.bsky.feed.describeFeedGenerator", get(skeleton))
        .with_state(verifier)
}

async fn call(router: &Router, path: &str, auth: Option<String>) -> (StatusCode, String, bool) {
    let mut req = Request::get(path);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let answer = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = answer.status();
    let challenged = answer.headers().get("www-authenticate").is_some();
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        String::from_utf8(body.to_vec()).unwrap(),
        challenged,
    )
}

fn error_name(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap();
    v["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_extractor_yields_the_caller_or_an_xrpc_refusal() {
    let key = SigningKey::generate(Curve::K256).unwrap();
    let router = router(&key);
    let path = format!("/xrpc/{LXM}");
    let bearer = |lxm: Option<&str>| {
        format!(
            "Bearer {}",
            mint_service_jwt(&key, ALICE, SERVICE, lxm, None).unwrap()
        )
    };

    let (status, body, _) = call(&router, &path, Some(bearer(Some(LXM)))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, format!("feed for {ALICE}"));

    let (status, body, challenged) = call(&router, &path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_name(&body), "MissingJwt");
    assert!(challenged);

    // A token for this route does not open another one.
    let (status, body, _) = call(
        &router,
        "/xrpc/app.bsky.feed.describeFeedGenerator",
        Some(bearer(Some(LXM))),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_name(&body), "BadJwtLexiconMethod");

    let (status, body, _) = call(&router, &path, Some(bearer(None))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_name(&body), "BadJwtLexiconMethod");

    let forged = SigningKey::generate(Curve::K256).unwrap();
    let token = mint_service_jwt(&forged, ALICE, SERVICE, Some(LXM), None).unwrap();
    let (status, body, _) = call(&router, &path, Some(format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_name(&body), "BadJwtSignature");
    assert!(!body.contains(&token));
}
