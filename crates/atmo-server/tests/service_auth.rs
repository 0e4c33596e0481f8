//! Service auth against issuers resolved through atmo-identity's
//! resolver over an in-memory PLC directory: each refusal is its own error
//! with its XRPC name, both curves verify, a forged signature fails after
//! one fresh lookup, a rotated key is picked up by that lookup, and a
//! labeler's `#atproto_labeler` tokens are checked with its
//! `#atproto_label` key.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atmo_crypto::Curve;
use atmo_identity::Resolver;
use atmo_server::{
    mint_service_jwt, sign_jwt, KeyId, ServiceAuthError, ServiceAuthVerifier, SigningKey,
};
use atmo_types::base64::encode_url;
use atmo_xrpc::{BoxFuture, HttpClient, HttpError, HttpErrorKind, HttpRequest, HttpResponse};
use serde_json::{json, Value};

const SERVICE: &str = "did:web:feed.example.com";
const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const LABELER: &str = "did:plc:labelerlabelerlabelerlab";
const LXM: &str = "app.bsky.feed.getFeedSkeleton";
/// The verifier's clock in these tests (seconds since the epoch).
const NOW: u64 = 1_900_000_000;

/// A PLC directory in memory: DID → (status, document); counts requests.
#[derive(Default)]
struct Plc {
    docs: Mutex<HashMap<String, (u16, Vec<u8>)>>,
    asked: Mutex<Vec<String>>,
}

impl Plc {
    fn put(&self, did: &str, status: u16, body: Vec<u8>) {
        self.docs
            .lock()
            .unwrap()
            .insert(format!("https://plc.directory/{did}"), (status, body));
    }
    fn count(&self, did: &str) -> usize {
        let url = format!("https://plc.directory/{did}");
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|u| **u == url)
            .count()
    }
}

impl HttpClient for Plc {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        self.asked.lock().unwrap().push(request.url.clone());
        let answer = match self.docs.lock().unwrap().get(&request.url) {
            Some((status, body)) => Ok(HttpResponse {
                status: *status,
                headers: vec![],
                body: body.clone(),
            }),
            // The directory answers 404 for DIDs it does not know.
            None if request.url.starts_with("https://plc.directory/") => Ok(HttpResponse {
                status: 404,
                headers: vec![],
                body: b"{\"message\":\"DID not registered\"}".to_vec(),
            }),
            None => Err(HttpError::new(HttpErrorKind::Connect, "no such host")),
        };
        Box::pin(async move { answer })
    }
}

/// A DID document with these verification methods (fragment, key).
fn document(did: &str, keys: &[(&str, &SigningKey)]) -> Vec<u8> {
    let methods: Vec<Value> = keys
        .iter()
        .map(|(fragment, key)| {
            json!({
                "id": format!("{did}#{fragment}"), "type": "Multikey", "controller": did,
                "publicKeyMultibase": key.public_key().to_multikey()
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "id": did,
        "alsoKnownAs": ["at://alice.test"],
        "verificationMethod": methods,
        "service": [{
            "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.example.com"
        }]
    }))
    .unwrap()
}

struct World {
    plc: Arc<Plc>,
    verifier: ServiceAuthVerifier,
}

impl World {
    fn new() -> World {
        let plc = Arc::new(Plc::default());
        let resolver = Resolver::builder(plc.clone()).build().unwrap();
        let verifier = ServiceAuthVerifier::new(SERVICE, resolver).unwrap();
        World { plc, verifier }
    }

    /// Alice's document with `key` as her `#atproto` key.
    fn alice(&self, key: &SigningKey) {
        self.plc
            .put(ALICE, 200, document(ALICE, &[("atproto", key)]));
    }

    async fn verify(&self, token: &str, lxm: Option<&str>) -> Result<String, ServiceAuthError> {
        self.verifier
            .verify_at(token, lxm, Duration::from_secs(NOW))
            .await
            .map(|c| c.did.to_string())
    }
}

fn k256(seed: u8) -> SigningKey {
    SigningKey::from_bytes(Curve::K256, &[seed; 32]).unwrap()
}

fn p256(seed: u8) -> SigningKey {
    SigningKey::from_bytes(Curve::P256, &[seed; 32]).unwrap()
}

/// A token from Alice to the service for `LXM`, valid for a minute.
fn token(key: &SigningKey) -> String {
    mint_service_jwt(key, ALICE, SERVICE, Some(LXM), Some(NOW + 60)).unwrap()
}

/// A token with any header and payload, signed by `key`.
fn custom(key: &SigningKey, header: Value, payload: Value) -> String {
    sign_jwt(key, &header, &payload)
}

fn claims() -> Value {
    json!({"iss": ALICE, "aud": SERVICE, "exp": NOW + 60, "lxm": LXM})
}

#[tokio::test]
async fn a_valid_es256k_token_yields_the_caller() {
    let w = World::new();
    let key = k256(1);
    w.alice(&key);
    let caller = w
        .verifier
        .verify_at(&token(&key), Some(LXM), Duration::from_secs(NOW))
        .await
        .unwrap();
    assert_eq!(caller.did.as_str(), ALICE);
    assert_eq!(caller.iss, ALICE);
    assert_eq!(caller.service_id, None);
    assert_eq!(caller.aud, SERVICE);
    assert_eq!(caller.lxm.as_deref(), Some(LXM));
    assert_eq!(caller.exp, NOW + 60);
    assert_eq!(caller.jti.as_ref().map(String::len), Some(32));
    // Through the header too, and without a route (no lxm check).
    // With the real clock: a token for the next 60 s.
    let now_token = mint_service_jwt(&key, ALICE, SERVICE, Some(LXM), None).unwrap();
    let header = format!("Bearer {now_token}");
    let caller = w
        .verifier
        .verify_header(Some(&header), Some(LXM))
        .await
        .unwrap();
    assert_eq!(caller.did.as_str(), ALICE);
    assert_eq!(w.verify(&token(&key), None).await.unwrap(), ALICE);
}

#[tokio::test]
async fn a_valid_es256_token_verifies_with_a_p256_key() {
    let w = World::new();
    let key = p256(2);
    w.alice(&key);
    let t = token(&key);
    let header: Value = serde_json::from_slice(
        &atmo_types::base64::decode_url(t.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(w.verify(&t, Some(LXM)).await.unwrap(), ALICE);
}

#[tokio::test]
async fn each_refusal_is_its_own_error_with_its_xrpc_name() {
    let w = World::new();
    let key = k256(1);
    w.alice(&key);
    let header = json!({"typ": "JWT", "alg": "ES256K"});

    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        ("two parts", "abc.def".into(), Some(LXM), "BadJwt"),
        (
            "four parts",
            format!("{}.x", token(&key)),
            Some(LXM),
            "BadJwt",
        ),
        (
            "header not base64url",
            format!("a+b.{}", &token(&key)[10..]),
            Some(LXM),
            "BadJwt",
        ),
        (
            "no alg",
            custom(&key, json!({"typ": "JWT"}), claims()),
            Some(LXM),
            "BadJwt",
        ),
        (
            "no exp",
            custom(
                &key,
                header.clone(),
                json!({"iss": ALICE, "aud": SERVICE, "lxm": LXM}),
            ),
            Some(LXM),
            "BadJwt",
        ),
        (
            "lxm a number",
            custom(
                &key,
                header.clone(),
                json!({"iss": ALICE, "aud": SERVICE, "exp": NOW + 60, "lxm": 5}),
            ),
            Some(LXM),
            "BadJwt",
        ),
        (
            "payload an array",
            format!(
                "{}.{}.sig",
                encode_url(header.to_string().as_bytes()),
                encode_url(b"[1]")
            ),
            Some(LXM),
            "BadJwt",
        ),
        (
            "an OAuth access token",
            custom(&key, json!({"typ": "at+jwt", "alg": "ES256K"}), claims()),
            Some(LXM),
            "BadJwtType",
        ),
        (
            "a refresh token",
            custom(
                &key,
                json!({"typ": "refresh+jwt", "alg": "ES256K"}),
                claims(),
            ),
            Some(LXM),
            "BadJwtType",
        ),
        (
            "a DPoP proof",
            custom(&key, json!({"typ": "dpop+jwt", "alg": "ES256K"}), claims()),
            Some(LXM),
            "BadJwtType",
        ),
        (
            "expired",
            mint_service_jwt(&key, ALICE, SERVICE, Some(LXM), Some(NOW - 60)).unwrap(),
            Some(LXM),
            "JwtExpired",
        ),
        (
            "another service",
            mint_service_jwt(
                &key,
                ALICE,
                "did:web:other.example.com",
                Some(LXM),
                Some(NOW + 60),
            )
            .unwrap(),
            Some(LXM),
            "BadJwtAudience",
        ),
        (
            "a service whose DID starts like ours",
            mint_service_jwt(
                &key,
                ALICE,
                "did:web:feed.example.com.evil",
                Some(LXM),
                Some(NOW + 60),
            )
            .unwrap(),
            Some(LXM),
            "BadJwtAudience",
        ),
        (
            "another method",
            mint_service_jwt(
                &key,
                ALICE,
                SERVICE,
                Some("app.bsky.feed.getTimeline"),
                Some(NOW + 60),
            )
            .unwrap(),
            Some(LXM),
            "BadJwtLexiconMethod",
        ),
        (
            "no method",
            mint_service_jwt(&key, ALICE, SERVICE, None, Some(NOW + 60)).unwrap(),
            Some(LXM),
            "BadJwtLexiconMethod",
        ),
        (
            "iss not a DID",
            custom(
                &key,
                header.clone(),
                json!({"iss": "alice.test", "aud": SERVICE, "exp": NOW + 60, "lxm": LXM}),
            ),
            Some(LXM),
            "BadJwtIss",
        ),
        (
            "iss with an empty fragment",
            custom(
                &key,
                header.clone(),
                json!({"iss": format!("{ALICE}#"), "aud": SERVICE, "exp": NOW + 60, "lxm": LXM}),
            ),
            Some(LXM),
            "BadJwtIss",
        ),
        (
            "an issuer the PLC directory does not know",
            mint_service_jwt(
                &key,
                "did:plc:unknownunknownunknownunk",
                SERVICE,
                Some(LXM),
                Some(NOW + 60),
            )
            .unwrap(),
            Some(LXM),
            "AuthenticationRequired",
        ),
        (
            "forged: signed by another key",
            token(&k256(9)),
            Some(LXM),
            "BadJwtSignature",
        ),
        (
            "an unsupported alg",
            custom(&key, json!({"typ": "JWT", "alg": "HS256"}), claims()),
            Some(LXM),
            "BadJwtSignature",
        ),
        (
            "signature cut short",
            {
                let t = token(&key);
                t[..t.len() - 4].to_owned()
            },
            Some(LXM),
            "BadJwtSignature",
        ),
    ];
    for (what, token, lxm, name) in cases {
        let err = w.verify(&token, lxm).await.expect_err(what);
        assert_eq!(err.error_name(), name, "{what}: {err}");
        assert_eq!(err.status(), 401, "{what}");
        assert!(!err.to_string().contains(&token), "{what}: the token leaks");
        assert_eq!(err.to_xrpc_json()["error"], name);
    }
    // The variants, not only the names.
    let expired = mint_service_jwt(&key, ALICE, SERVICE, Some(LXM), Some(NOW - 60)).unwrap();
    assert!(matches!(
        w.verify(&expired, Some(LXM)).await,
        Err(ServiceAuthError::Expired { now: NOW, .. })
    ));
    let missing = mint_service_jwt(&key, ALICE, SERVICE, None, Some(NOW + 60)).unwrap();
    assert_eq!(
        w.verify(&missing, Some(LXM)).await,
        Err(ServiceAuthError::BadLxm {
            expected: LXM.into(),
            found: None
        })
    );
    assert_eq!(
        w.verifier.verify_header(None, None).await,
        Err(ServiceAuthError::MissingToken)
    );
    assert_eq!(
        w.verifier.verify_header(Some("Basic YTpi"), None).await,
        Err(ServiceAuthError::MissingToken)
    );
}

#[tokio::test]
async fn expiry_allows_a_small_configurable_leeway() {
    let w = World::new();
    let key = k256(1);
    w.alice(&key);
    let t = mint_service_jwt(&key, ALICE, SERVICE, Some(LXM), Some(NOW - 3)).unwrap();
    assert!(
        w.verify(&t, Some(LXM)).await.is_ok(),
        "within the 5 s leeway"
    );
    let strict = w.verifier.clone().leeway(Duration::ZERO);
    assert!(matches!(
        strict
            .verify_at(&t, Some(LXM), Duration::from_secs(NOW))
            .await,
        Err(ServiceAuthError::Expired { .. })
    ));
    // A leeway is capped: it cannot revive an old token.
    let lax = w.verifier.clone().leeway(Duration::from_secs(u64::MAX));
    let old = mint_service_jwt(&key, ALICE, SERVICE, Some(LXM), Some(NOW - 3600)).unwrap();
    assert!(matches!(
        lax.verify_at(&old, Some(LXM), Duration::from_secs(NOW))
            .await,
        Err(ServiceAuthError::Expired { .. })
    ));
    // Absurd exps neither overflow nor panic.
    for exp in [json!(1e300), json!(u64::MAX), json!(-1), json!(0.5)] {
        let t = custom(
            &key,
            json!({"typ": "JWT", "alg": "ES256K"}),
            json!({"iss": ALICE, "aud": SERVICE, "exp": exp, "lxm": LXM}),
        );
        let r = w.verify(&t, Some(LXM)).await;
        let far = exp.as_f64().unwrap() > 1e10;
        assert_eq!(r.is_ok(), far, "exp {exp}: {r:?}");
    }
}

#[tokio::test]
async fn audience_with_a_service_fragment() {
    let w = World::new();
    let key = k256(1);
    w.alice(&key);
    let t = mint_service_jwt(
        &key,
        ALICE,
        &format!("{SERVICE}#bsky_fg"),
        Some(LXM),
        Some(NOW + 60),
    )
    .unwrap();
    assert!(w.verify(&t, Some(LXM)).await.is_ok());
    let only = w.verifier.clone().audience_fragments(["bsky_fg"]);
    assert!(only
        .verify_at(&t, Some(LXM), Duration::from_secs(NOW))
        .await
        .is_ok());
    let other = w.verifier.clone().audience_fragments(["atproto_labeler"]);
    assert!(matches!(
        other
            .verify_at(&t, Some(LXM), Duration::from_secs(NOW))
            .await,
        Err(ServiceAuthError::BadAudience { .. })
    ));
    // The bare DID is always this service.
    assert!(other
        .verify_at(&token(&key), Some(LXM), Duration::from_secs(NOW))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_forged_signature_fails_after_exactly_one_fresh_lookup() {
    let w = World::new();
    w.alice(&k256(1));
    let err = w.verify(&token(&k256(9)), Some(LXM)).await.unwrap_err();
    assert!(matches!(err, ServiceAuthError::BadSignature(_)), "{err}");
    // One lookup (cached), one fresh lookup: the same key, so no retry.
    assert_eq!(w.plc.count(ALICE), 2);

    // A tampered payload under a genuine signature.
    let genuine = token(&k256(1));
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let other = json!({"iss": ALICE, "aud": SERVICE, "exp": NOW + 3600, "lxm": LXM}).to_string();
    let other = encode_url(other.as_bytes());
    parts[1] = &other;
    let err = w.verify(&parts.join("."), Some(LXM)).await.unwrap_err();
    assert!(matches!(err, ServiceAuthError::BadSignature(_)), "{err}");
}

#[tokio::test]
async fn a_high_s_signature_is_refused() {
    let w = World::new();
    let key = k256(1);
    w.alice(&key);
    let t = token(&key);
    let (signed, sig) = t.rsplit_once('.').unwrap();
    let sig = atmo_types::base64::decode_url(sig).unwrap();
    // s → n − s: the same signature in its other (high-S) form.
    let n = hex32("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
    let high = sub(&n, &sig[32..]);
    let mut forged = sig[..32].to_vec();
    forged.extend_from_slice(&high);
    let t = format!("{signed}.{}", encode_url(&forged));
    let err = w.verify(&t, Some(LXM)).await.unwrap_err();
    assert!(matches!(err, ServiceAuthError::BadSignature(_)), "{err}");
}

fn hex32(s: &str) -> Vec<u8> {
    (0..32)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// a − b for 32-byte big-endian numbers, a > b.
fn sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_the_fresh_lookup() {
    let w = World::new();
    let old = k256(1);
    w.alice(&old);
    // The old key's document gets cached.
    assert!(w.verify(&token(&old), Some(LXM)).await.is_ok());
    assert_eq!(w.plc.count(ALICE), 1);
    assert!(w.verify(&token(&old), Some(LXM)).await.is_ok());
    assert_eq!(w.plc.count(ALICE), 1, "the second check uses the cache");

    // The account rotates to a P-256 key; the cache still has the old one.
    let new = p256(3);
    w.alice(&new);
    assert_eq!(w.verify(&token(&new), Some(LXM)).await.unwrap(), ALICE);
    assert_eq!(w.plc.count(ALICE), 2, "one fresh lookup");
    // The fresh document replaced the cached one.
    assert!(w.verify(&token(&new), Some(LXM)).await.is_ok());
    assert_eq!(w.plc.count(ALICE), 2);

    // Rotation on the same curve too.
    let newer = p256(4);
    w.alice(&newer);
    assert!(w.verify(&token(&newer), Some(LXM)).await.is_ok());
    assert_eq!(w.plc.count(ALICE), 3);
}

#[tokio::test]
async fn a_labeler_issuer_is_checked_with_its_label_key() {
    let w = World::new();
    let account = k256(5);
    let label = p256(6);
    w.plc.put(
        LABELER,
        200,
        document(LABELER, &[("atproto", &account), ("atproto_label", &label)]),
    );
    let iss = format!("{LABELER}#atproto_labeler");
    let t = mint_service_jwt(&label, &iss, SERVICE, Some(LXM), Some(NOW + 60)).unwrap();
    let caller = w
        .verifier
        .verify_at(&t, Some(LXM), Duration::from_secs(NOW))
        .await
        .unwrap();
    assert_eq!(caller.did.as_str(), LABELER);
    assert_eq!(caller.service_id.as_deref(), Some("atproto_labeler"));
    assert_eq!(KeyId::for_issuer(&caller.iss), KeyId::AtprotoLabel);

    // The account key does not sign as the labeler, nor the label key as
    // the account.
    let t = mint_service_jwt(&account, &iss, SERVICE, Some(LXM), Some(NOW + 60)).unwrap();
    assert!(matches!(
        w.verify(&t, Some(LXM)).await,
        Err(ServiceAuthError::BadSignature(_))
    ));
    let t = mint_service_jwt(&label, LABELER, SERVICE, Some(LXM), Some(NOW + 60)).unwrap();
    assert!(matches!(
        w.verify(&t, Some(LXM)).await,
        Err(ServiceAuthError::BadSignature(_))
    ));
    // Another fragment uses the #atproto key.
    let t = mint_service_jwt(
        &account,
        &format!("{LABELER}#other"),
        SERVICE,
        Some(LXM),
        Some(NOW + 60),
    )
    .unwrap();
    assert!(w.verify(&t, Some(LXM)).await.is_ok());

    // Labelers may omit lxm where the service allows it, and only them.
    let bare = mint_service_jwt(&label, &iss, SERVICE, None, Some(NOW + 60)).unwrap();
    assert!(matches!(
        w.verify(&bare, Some(LXM)).await,
        Err(ServiceAuthError::BadLxm { found: None, .. })
    ));
    let lenient = w.verifier.clone().labelers_without_lxm(true);
    let at = Duration::from_secs(NOW);
    assert!(lenient.verify_at(&bare, Some(LXM), at).await.is_ok());
    let other_method = mint_service_jwt(
        &label,
        &iss,
        SERVICE,
        Some("app.bsky.feed.getTimeline"),
        Some(NOW + 60),
    )
    .unwrap();
    assert!(matches!(
        lenient.verify_at(&other_method, Some(LXM), at).await,
        Err(ServiceAuthError::BadLxm { .. })
    ));
    let user_bare = mint_service_jwt(&account, LABELER, SERVICE, None, Some(NOW + 60)).unwrap();
    assert!(matches!(
        lenient.verify_at(&user_bare, Some(LXM), at).await,
        Err(ServiceAuthError::BadLxm { .. })
    ));

    // A labeler without a label key is unknown as such.
    w.plc
        .put(LABELER, 200, document(LABELER, &[("atproto", &account)]));
    let fresh = Resolver::builder(w.plc.clone()).build().unwrap();
    let v = ServiceAuthVerifier::new(SERVICE, fresh).unwrap();
    let t = mint_service_jwt(&label, &iss, SERVICE, Some(LXM), Some(NOW + 60)).unwrap();
    let err = v
        .verify_at(&t, Some(LXM), Duration::from_secs(NOW))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "AuthenticationRequired", "{err}");
}

#[tokio::test]
async fn an_unreachable_directory_is_a_500_not_the_callers_fault() {
    let w = World::new();
    w.plc.put(ALICE, 503, b"down".to_vec());
    let err = w.verify(&token(&k256(1)), Some(LXM)).await.unwrap_err();
    assert!(
        matches!(err, ServiceAuthError::KeyUnavailable { .. }),
        "{err}"
    );
    assert_eq!(
        (err.status(), err.error_name()),
        (500, "InternalServerError")
    );
}

#[test]
fn private_keys_stay_out_of_debug_and_mint_checks_its_claims() {
    let key = k256(0x42);
    let shown = format!("{key:?}");
    assert!(shown.contains("did:key:"), "{shown}");
    assert!(!shown.contains("4242"), "{shown}");
    assert!(SigningKey::from_bytes(Curve::K256, &[0; 32]).is_err());
    assert!(SigningKey::from_bytes(Curve::K256, &[1; 31]).is_err());
    assert!(SigningKey::from_hex(Curve::K256, &"zz".repeat(32)).is_err());
    let same = SigningKey::from_hex(Curve::K256, &"42".repeat(32)).unwrap();
    assert_eq!(same.public_key(), key.public_key());
    assert_eq!(same.expose_secret_bytes(), [0x42; 32]);
    assert!(mint_service_jwt(&key, "alice", SERVICE, None, None).is_err());
    assert!(mint_service_jwt(&key, ALICE, "feed", None, None).is_err());
    assert!(mint_service_jwt(&key, ALICE, SERVICE, Some(""), None).is_err());
    let a = SigningKey::generate(Curve::P256).unwrap();
    let b = SigningKey::generate(Curve::P256).unwrap();
    assert_ne!(a.public_key(), b.public_key());
}
