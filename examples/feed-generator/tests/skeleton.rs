#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The feed generator served on loopback: getFeedSkeleton pages through
//! the index with its cursor, describeFeedGenerator and the did:web
//! document answer, and every service-auth refusal comes back with its
//! XRPC status and error name.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use atmo_crypto::{Curve, PublicKey};
use atmo_server::{
    mint_service_jwt, sign_jwt, KeyId, KeyLookupError, KeyResolver, ServiceAuthVerifier, SigningKey,
};
use atmo_types::Did;
use atmo_xrpc::{BoxFuture, HttpClient, HttpMethod, HttpRequest, HyperClient};
use feed_generator_example::{did_document, router, AppState, Index};
use serde_json::{json, Value};

const FG: &str = "did:web:localhost%3A1234";
const USER: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const FEED: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.generator/rust";
const LXM: &str = "app.bsky.feed.getFeedSkeleton";

/// The user's one key, as their DID document would give it.
struct Fixed(Did, PublicKey);

impl KeyResolver for Fixed {
    fn resolve_key<'a>(
        &'a self,
        did: &'a Did,
        _: KeyId,
        _: bool,
    ) -> BoxFuture<'a, Result<PublicKey, KeyLookupError>> {
        let found = if *did == self.0 {
            Ok(self.1)
        } else {
            Err(KeyLookupError::UnknownIssuer(did.to_string()))
        };
        Box::pin(async move { found })
    }
}

struct Fixture {
    addr: SocketAddr,
    key: SigningKey,
    index: Arc<Index>,
    http: HyperClient,
}

async fn start() -> Fixture {
    let key = SigningKey::generate(Curve::K256).unwrap();
    let verifier = ServiceAuthVerifier::new(FG, Fixed(USER.parse().unwrap(), key.public_key()))
        .unwrap()
        .audience_fragments(["bsky_fg"]);
    let index = Arc::new(Index::new(100));
    let state = AppState {
        index: index.clone(),
        verifier,
        feed: FEED.parse().unwrap(),
        did_document: Arc::new(did_document(FG, "http://localhost:1234")),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    Fixture {
        addr,
        key,
        index,
        http: HyperClient::new().unwrap(),
    }
}

impl Fixture {
    fn token(&self) -> String {
        mint_service_jwt(&self.key, USER, &format!("{FG}#bsky_fg"), Some(LXM), None).unwrap()
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut headers = Vec::new();
        if let Some(t) = token {
            headers.push(("authorization".to_owned(), format!("Bearer {t}")));
        }
        let res = self
            .http
            .send(HttpRequest {
                method: HttpMethod::Get,
                url: format!("http://{}{path}", self.addr),
                headers,
                body: None,
                timeout: std::time::Duration::from_secs(10),
                max_response_size: 1 << 20,
            })
            .await
            .unwrap();
        let body = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
        (res.status, body)
    }

    async fn skeleton(&self, query: &str, token: Option<&str>) -> (u16, Value) {
        self.get(&format!("/xrpc/{LXM}?feed={FEED}{query}"), token)
            .await
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn pages_newest_first_with_cursor() {
    let f = start().await;
    for i in 0..7 {
        f.index
            .insert(&format!("at://{USER}/app.bsky.feed.post/{i}"));
    }
    let token = f.token();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("&limit=3&cursor={c}"),
            None => "&limit=3".to_owned(),
        };
        let (status, body) = f.skeleton(&q, Some(&token)).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for p in body["feed"].as_array().unwrap() {
            seen.push(
                p["post"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
        match body["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["6", "5", "4", "3", "2", "1", "0"]);

    // A post deleted between pages is simply absent from later ones.
    let (_, first) = f.skeleton("&limit=2", Some(&token)).await;
    f.index.remove(&format!("at://{USER}/app.bsky.feed.post/4"));
    let c = first["cursor"].as_str().unwrap();
    let (_, second) = f
        .skeleton(&format!("&limit=2&cursor={c}"), Some(&token))
        .await;
    let rkeys: Vec<&str> = second["feed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["post"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(rkeys, ["3", "2"]);
}

#[tokio::test]
async fn bad_requests_are_typed() {
    let f = start().await;
    let token = f.token();
    let (status, body) = f.skeleton("&cursor=not-a-number", Some(&token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("InvalidRequest"))
    );
    let (status, body) = f
        .get(
            &format!("/xrpc/{LXM}?feed=at://{USER}/app.bsky.feed.generator/other"),
            Some(&token),
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("UnknownFeed")));
    let (status, body) = f.skeleton("&limit=1000", Some(&token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("InvalidRequest"))
    );
    let (status, body) = f.get("/xrpc/app.bsky.feed.getTimeline", Some(&token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (501, Some("MethodNotImplemented"))
    );
}

#[tokio::test]
async fn service_auth_refusals() {
    let f = start().await;
    let aud = format!("{FG}#bsky_fg");
    let expired = mint_service_jwt(&f.key, USER, &aud, Some(LXM), Some(now() - 3600)).unwrap();
    let wrong_aud =
        mint_service_jwt(&f.key, USER, "did:web:other.example", Some(LXM), None).unwrap();
    let wrong_lxm =
        mint_service_jwt(&f.key, USER, &aud, Some("app.bsky.feed.getTimeline"), None).unwrap();
    let payload = json!({"iss": USER, "aud": aud, "lxm": LXM, "exp": now() + 60});
    let wrong_typ = sign_jwt(&f.key, &json!({"alg": "ES256K", "typ": "at+jwt"}), &payload);
    let other = SigningKey::generate(Curve::K256).unwrap();
    let forged = mint_service_jwt(&other, USER, &aud, Some(LXM), None).unwrap();
    let stranger = mint_service_jwt(&f.key, "did:plc:nobodyhere", &aud, Some(LXM), None).unwrap();

    for (token, name) in [
        (None, "MissingJwt"),
        (Some(expired.as_str()), "JwtExpired"),
        (Some(wrong_aud.as_str()), "BadJwtAudience"),
        (Some(wrong_lxm.as_str()), "BadJwtLexiconMethod"),
        (Some(wrong_typ.as_str()), "BadJwtType"),
        (Some(forged.as_str()), "BadJwtSignature"),
        (Some(stranger.as_str()), "AuthenticationRequired"),
        (Some("not.a.jwt"), "BadJwt"),
    ] {
        let (status, body) = f.skeleton("", token).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some(name)),
            "{name}: {body}"
        );
    }
    // The same request with a good token passes.
    let (status, _) = f.skeleton("", Some(&f.token())).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn describes_itself_and_serves_its_did_document() {
    let f = start().await;
    let (status, body) = f
        .get("/xrpc/app.bsky.feed.describeFeedGenerator", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["did"], FG);
    assert_eq!(body["feeds"][0]["uri"], FEED);

    let (status, doc) = f.get("/.well-known/did.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["id"], FG);
    assert_eq!(doc["service"][0]["id"], "#bsky_fg");
    assert_eq!(doc["service"][0]["type"], "BskyFeedGenerator");
    assert_eq!(
        doc["service"][0]["serviceEndpoint"],
        "http://localhost:1234"
    );
}

/// A cache that still holds the user's old key; a fresh lookup finds the
/// new one.
struct Rotated {
    old: PublicKey,
    new: PublicKey,
    fresh_lookups: std::sync::atomic::AtomicUsize,
}

impl KeyResolver for Rotated {
    fn resolve_key<'a>(
        &'a self,
        _: &'a Did,
        _: KeyId,
        fresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, KeyLookupError>> {
        let key = if fresh {
            self.fresh_lookups
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.new
        } else {
            self.old
        };
        Box::pin(async move { Ok(key) })
    }
}

#[tokio::test]
async fn a_rotated_key_is_fetched_again_and_the_request_passes() {
    let old = SigningKey::generate(Curve::K256).unwrap();
    let new = SigningKey::generate(Curve::P256).unwrap();
    let resolver = Arc::new(Rotated {
        old: old.public_key(),
        new: new.public_key(),
        fresh_lookups: Default::default(),
    });
    let verifier = ServiceAuthVerifier::new(FG, resolver.clone()).unwrap();
    let state = AppState {
        index: Arc::new(Index::new(10)),
        verifier,
        feed: FEED.parse().unwrap(),
        did_document: Arc::new(did_document(FG, "http://localhost:1234")),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let f = Fixture {
        addr,
        key: new,
        index: Arc::new(Index::new(1)),
        http: HyperClient::new().unwrap(),
    };
    let (status, body) = f.skeleton("", Some(&f.token())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        resolver
            .fresh_lookups
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn a_body_on_the_query_is_refused() {
    let f = start().await;
    let res = f
        .http
        .send(HttpRequest {
            method: HttpMethod::Get,
            url: format!("http://{}/xrpc/{LXM}?feed={FEED}", f.addr),
            headers: vec![
                ("authorization".into(), format!("Bearer {}", f.token())),
                ("content-type".into(), "application/json".into()),
            ],
            body: Some(vec![b'x'; 200_000]),
            timeout: std::time::Duration::from_secs(10),
            max_response_size: 1 << 20,
        })
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(
        (res.status, body["error"].as_str()),
        (400, Some("InvalidRequest")),
        "{body}"
    );
}
