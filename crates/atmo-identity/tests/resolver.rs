//! The resolver over an in-memory HTTP client and DNS: every handle
//! resolver kind, their combination, DID methods, the bidirectional check,
//! the host policy, size limits, redirects and caching.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atmo_identity::{
    CacheKey, CacheValue, DnsError, DnsLookup, ErrorKind, HandleStatus, IdentityCache, MemoryCache,
    Resolver, ResolverBuilder, Step,
};
use atmo_xrpc::{BoxFuture, HttpClient, HttpError, HttpErrorKind, HttpRequest, HttpResponse};
use serde_json::json;

const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const BOB: &str = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";
const K256: &str = "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";

/// An HTTP client answering from a table of URLs; records what was asked.
#[derive(Default)]
struct FakeHttp {
    routes: Mutex<HashMap<String, Result<HttpResponse, HttpError>>>,
    log: Mutex<Vec<HttpRequest>>,
}

impl FakeHttp {
    fn route(&self, url: &str, status: u16, body: impl Into<Vec<u8>>) {
        self.routes.lock().unwrap().insert(
            url.to_owned(),
            Ok(HttpResponse {
                status,
                headers: vec![],
                body: body.into(),
            }),
        );
    }
    fn redirect(&self, url: &str, location: &str) {
        self.routes.lock().unwrap().insert(
            url.to_owned(),
            Ok(HttpResponse {
                status: 302,
                headers: vec![("Location".into(), location.into())],
                body: vec![],
            }),
        );
    }
    fn urls(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.url.clone())
            .collect()
    }
    fn count(&self, url: &str) -> usize {
        self.urls().iter().filter(|u| *u == url).count()
    }
}

impl HttpClient for FakeHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        let answer = self
            .routes
            .lock()
            .unwrap()
            .get(&request.url)
            .cloned()
            .unwrap_or_else(|| Err(HttpError::new(HttpErrorKind::Connect, "no such host")));
        let limit = request.max_response_size;
        assert!(request.timeout > Duration::ZERO);
        self.log.lock().unwrap().push(request);
        Box::pin(async move {
            let r = answer?;
            if r.body.len() > limit {
                return Err(HttpError::new(HttpErrorKind::TooLarge, "too large"));
            }
            Ok(r)
        })
    }
}

/// DNS from a table: name → TXT records; names absent are NXDOMAIN.
#[derive(Default)]
struct FakeDns {
    txt: Mutex<HashMap<String, Result<Vec<String>, DnsError>>>,
    ips: Mutex<HashMap<String, Vec<IpAddr>>>,
    asked: Mutex<Vec<String>>,
}

impl FakeDns {
    fn txt(&self, name: &str, records: &[&str]) {
        self.txt.lock().unwrap().insert(
            name.to_owned(),
            Ok(records.iter().map(|s| s.to_string()).collect()),
        );
    }
}

impl DnsLookup for FakeDns {
    fn lookup_txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, DnsError>> {
        self.asked.lock().unwrap().push(name.to_owned());
        let r = self
            .txt
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or(Err(DnsError::NotFound));
        Box::pin(async move { r })
    }
    fn lookup_ip<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        let r = self
            .ips
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or(DnsError::NotFound);
        Box::pin(async move { r })
    }
}

fn document(did: &str, handle: &str, pds: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{
            "id": format!("{did}#atproto"), "type": "Multikey",
            "controller": did, "publicKeyMultibase": K256
        }],
        "service": [{
            "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": pds
        }]
    }))
    .unwrap()
}

struct World {
    http: Arc<FakeHttp>,
    dns: Arc<FakeDns>,
}

impl World {
    fn new() -> Self {
        World {
            http: Arc::default(),
            dns: Arc::default(),
        }
    }
    fn builder(&self) -> ResolverBuilder {
        Resolver::builder(self.http.clone()).dns(self.dns.clone())
    }
    fn resolver(&self) -> Resolver {
        self.builder().build().unwrap()
    }
    fn plc(&self, did: &str, body: Vec<u8>) {
        self.http
            .route(&format!("https://plc.directory/{did}"), 200, body);
    }
    fn well_known(&self, handle: &str, body: &str) {
        self.http.route(
            &format!("https://{handle}/.well-known/atproto-did"),
            200,
            body,
        );
    }
}

#[tokio::test]
async fn dns_txt_path_resolves_and_is_lower_cased() {
    let w = World::new();
    w.dns.txt(
        "_atproto.alice.example.com",
        &["v=spf1 -all", &format!("did={ALICE}")],
    );
    let r = w.resolver();
    let did = r.resolve_handle("@Alice.EXAMPLE.com").await.unwrap();
    assert_eq!(did.as_str(), ALICE);
    assert_eq!(
        w.dns.asked.lock().unwrap().as_slice(),
        ["_atproto.alice.example.com"]
    );
    // The well-known path was tried too (and found nothing there).
    assert_eq!(
        w.http
            .count("https://alice.example.com/.well-known/atproto-did"),
        1
    );
}

#[tokio::test]
async fn well_known_path_resolves() {
    let w = World::new();
    w.well_known("alice.example.com", &format!("{ALICE}\n"));
    let did = w
        .resolver()
        .resolve_handle("alice.example.com")
        .await
        .unwrap();
    assert_eq!(did.as_str(), ALICE);
    let req = &w.http.log.lock().unwrap()[0];
    assert!(req.max_response_size <= 2048, "{}", req.max_response_size);
}

#[tokio::test]
async fn agreeing_answers_are_fine_and_different_ones_are_an_error() {
    let w = World::new();
    w.dns
        .txt("_atproto.alice.example.com", &[&format!("did={ALICE}")]);
    w.well_known("alice.example.com", ALICE);
    assert_eq!(
        w.resolver()
            .resolve_handle("alice.example.com")
            .await
            .unwrap()
            .as_str(),
        ALICE
    );

    w.well_known("alice.example.com", BOB);
    let e = w
        .resolver()
        .resolve_handle("alice.example.com")
        .await
        .unwrap_err();
    assert_eq!(e.step(), Step::Handle);
    assert_eq!(e.identifier(), "alice.example.com");
    match e.kind() {
        ErrorKind::Conflict(answers) => {
            assert!(answers.contains(&(Step::Dns, ALICE.to_owned())));
            assert!(answers.contains(&(Step::WellKnown, BOB.to_owned())));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains(BOB), "{e}");
}

#[tokio::test]
async fn several_did_records_fail_the_dns_step() {
    let w = World::new();
    w.dns.txt(
        "_atproto.alice.example.com",
        &[&format!("did={ALICE}"), &format!("did={BOB}")],
    );
    let r = w.builder().well_known(false).build().unwrap();
    let e = r.resolve_handle("alice.example.com").await.unwrap_err();
    assert_eq!(e.step(), Step::Dns);
    assert_eq!(e.kind(), &ErrorKind::SeveralTxtRecords(2));
    // With well-known also configured and answering, the answer stands,
    // and the DNS trouble is not an answer.
    w.well_known("alice.example.com", ALICE);
    assert_eq!(
        w.resolver()
            .resolve_handle("alice.example.com")
            .await
            .unwrap()
            .as_str(),
        ALICE
    );
}

#[tokio::test]
async fn bad_answers_are_typed() {
    let w = World::new();
    w.dns.txt("_atproto.a.example.com", &["did=not-a-did"]);
    w.well_known("a.example.com", "<html>hello</html>");
    let e = w
        .resolver()
        .resolve_handle("a.example.com")
        .await
        .unwrap_err();
    match e.kind() {
        ErrorKind::AllFailed(all) => {
            assert_eq!(all.len(), 2);
            assert!(all
                .iter()
                .any(|e| e.step() == Step::Dns && e.to_string().contains("not a DID")));
            assert!(all
                .iter()
                .any(|e| e.step() == Step::WellKnown && e.to_string().contains("not a DID")));
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_not_found());
}

#[tokio::test]
async fn a_huge_timeout_is_cut_before_it_reaches_the_http_client() {
    // HTTP clients add the timeout to the clock; Duration::MAX would
    // overflow there.
    let w = World::new();
    w.well_known("alice.example.com", ALICE);
    let r = w
        .builder()
        .dns_txt(false)
        .timeout(Duration::MAX)
        .build()
        .unwrap();
    r.resolve_handle("alice.example.com").await.unwrap();
    let timeouts: Vec<Duration> = w
        .http
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.timeout)
        .collect();
    assert_eq!(timeouts, [atmo_identity::MAX_TIMEOUT]);
    assert!(std::time::Instant::now()
        .checked_add(atmo_identity::MAX_TIMEOUT)
        .is_some());
}

#[tokio::test]
async fn oversize_bodies_are_refused() {
    let w = World::new();
    let mut body = ALICE.as_bytes().to_vec();
    body.extend(std::iter::repeat_n(b' ', 5000));
    w.http.route(
        "https://alice.example.com/.well-known/atproto-did",
        200,
        body,
    );
    let r = w.builder().dns_txt(false).build().unwrap();
    let e = r.resolve_handle("alice.example.com").await.unwrap_err();
    assert_eq!(e.step(), Step::WellKnown);
    assert!(e.to_string().contains("larger than 2048"), "{e}");

    let big_doc = serde_json::to_vec(&json!({"id": ALICE, "pad": "x".repeat(100_000)})).unwrap();
    w.plc(ALICE, big_doc);
    let e = w.resolver().resolve_did(ALICE).await.unwrap_err();
    assert_eq!(e.step(), Step::Plc);
    assert!(e.to_string().contains("larger than 65536"), "{e}");
    let small = w.builder().max_document_size(1000).build().unwrap();
    w.plc(
        ALICE,
        document(ALICE, "alice.example.com", "https://pds.example.com").repeat(3),
    );
    assert!(small
        .resolve_did(ALICE)
        .await
        .unwrap_err()
        .to_string()
        .contains("larger than 1000"));
}

#[tokio::test]
async fn invalid_handles_make_no_network_call() {
    let w = World::new();
    let r = w.resolver();
    for bad in [
        "",
        "nodot",
        "has space.com",
        "a..b.com",
        "x.local",
        "printer.internal",
        "a.localhost",
        "-a.com",
    ] {
        let e = r.resolve_handle(bad).await.unwrap_err();
        assert_eq!(e.step(), Step::Syntax, "{bad}");
    }
    for bad in [
        "did:key:zQ3sh",
        "did:plc:short",
        "did:web:10.0.0.1",
        "did:web:a.com:path",
    ] {
        let e = r.resolve_did(bad).await.unwrap_err();
        assert_eq!(e.step(), Step::Syntax, "{bad}");
        assert!(matches!(
            e.kind(),
            ErrorKind::UnsupportedDid(_) | ErrorKind::InvalidSyntax(_)
        ));
    }
    assert!(w.http.urls().is_empty());
    assert!(w.dns.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn identity_from_a_handle_and_from_a_did_with_the_check_both_ways() {
    let w = World::new();
    w.dns
        .txt("_atproto.alice.example.com", &[&format!("did={ALICE}")]);
    w.plc(
        ALICE,
        document(ALICE, "Alice.Example.com", "https://pds.example.com"),
    );
    let r = w.resolver();
    let id = r.resolve_identity("alice.example.com").await.unwrap();
    assert_eq!(id.did.as_str(), ALICE);
    assert_eq!(
        id.handle,
        HandleStatus::Verified("alice.example.com".parse().unwrap())
    );
    assert_eq!(id.handle.display(), "alice.example.com");
    assert_eq!(id.pds.as_str(), "https://pds.example.com/");
    assert_eq!(id.signing_key.to_multikey(), K256);
    assert_eq!(id.document.id().as_str(), ALICE);

    let from_did = r.resolve_identity(ALICE).await.unwrap();
    assert_eq!(from_did, id);
    let from_at_uri = r.resolve_identity(&format!("at://{ALICE}")).await.unwrap();
    assert_eq!(from_at_uri.did, id.did);
}

#[tokio::test]
async fn handle_mismatch_is_unverified() {
    let w = World::new();
    // Mallory's document claims alice's handle, which points elsewhere.
    w.dns
        .txt("_atproto.alice.example.com", &[&format!("did={ALICE}")]);
    w.plc(
        BOB,
        document(BOB, "alice.example.com", "https://pds.example.com"),
    );
    let id = w.resolver().resolve_identity(BOB).await.unwrap();
    assert_eq!(
        id.handle,
        HandleStatus::Unverified("alice.example.com".parse().unwrap())
    );
    assert_eq!(id.handle.display(), "handle.invalid");
    assert_eq!(id.handle.claimed().unwrap().as_str(), "alice.example.com");

    // From a handle that points at a DID whose document claims another
    // handle: the identity shows the document's claim, checked on its own.
    w.dns
        .txt("_atproto.carol.example.com", &[&format!("did={BOB}")]);
    let id = w
        .resolver()
        .resolve_identity("carol.example.com")
        .await
        .unwrap();
    assert_eq!(id.did.as_str(), BOB);
    assert_eq!(id.handle.verified(), None);

    // A claimed handle that resolves nowhere.
    w.plc(
        ALICE,
        document(ALICE, "nobody.example.com", "https://pds.example.com"),
    );
    let id = w.resolver().resolve_identity(ALICE).await.unwrap();
    assert!(matches!(id.handle, HandleStatus::Unverified(_)));

    // No handle at all.
    let doc = serde_json::to_vec(&json!({
        "id": ALICE,
        "verificationMethod": [{"id": "#atproto", "type": "Multikey", "publicKeyMultibase": K256}],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example.com"}]
    }))
    .unwrap();
    w.plc(ALICE, doc);
    let id = w
        .builder()
        .no_cache()
        .build()
        .unwrap()
        .resolve_identity(ALICE)
        .await
        .unwrap();
    assert_eq!(id.handle, HandleStatus::Missing);
}

#[tokio::test]
async fn identity_needs_a_pds_and_a_key() {
    let w = World::new();
    let no_pds = serde_json::to_vec(&json!({"id": ALICE, "verificationMethod": [
        {"id": "#atproto", "type": "Multikey", "publicKeyMultibase": K256}]}))
    .unwrap();
    w.plc(ALICE, no_pds);
    let e = w.resolver().resolve_identity(ALICE).await.unwrap_err();
    assert_eq!(e.step(), Step::Document);
    assert_eq!(e.identifier(), ALICE);
    assert!(e.to_string().contains("no #atproto_pds service"), "{e}");

    w.plc(
        BOB,
        document(BOB, "bob.example.com", "http://pds.example.com"),
    );
    let e = w.resolver().resolve_identity(BOB).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Refused(_)), "{e}");

    let private = "did:plc:cccccccccccccccccccccccc";
    w.plc(
        private,
        document(private, "c.example.com", "https://10.0.0.7"),
    );
    let e = w.resolver().resolve_identity(private).await.unwrap_err();
    assert!(e.to_string().contains("private"), "{e}");
    let allowed = w.builder().allow_private_hosts(true).build().unwrap();
    assert_eq!(
        allowed.resolve_identity(private).await.unwrap().pds.host(),
        "10.0.0.7"
    );
}

#[tokio::test]
async fn plc_and_did_web_documents() {
    let w = World::new();
    w.http.route(
        "https://example.com/.well-known/did.json",
        200,
        document(
            "did:web:example.com",
            "example.com",
            "https://pds.example.com",
        ),
    );
    let doc = w
        .resolver()
        .resolve_did("did:web:example.com")
        .await
        .unwrap();
    assert_eq!(doc.id().as_str(), "did:web:example.com");

    // A document for another DID is refused.
    w.plc(
        ALICE,
        document(BOB, "x.example.com", "https://pds.example.com"),
    );
    let e = w.resolver().resolve_did(ALICE).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongDocument(BOB.into()));

    // Not found, gone, server trouble.
    let e = w.resolver().resolve_did(BOB).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Http(_)), "{e}");
    assert!(e.is_transient());
    w.http
        .route(&format!("https://plc.directory/{BOB}"), 404, "{}");
    let e = w.resolver().resolve_did(BOB).await.unwrap_err();
    assert_eq!((e.step(), e.kind()), (Step::Plc, &ErrorKind::NotFound));
    w.http
        .route(&format!("https://plc.directory/{BOB}"), 503, "");
    let e = w.resolver().resolve_did(BOB).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Status(503));
    w.http
        .route(&format!("https://plc.directory/{BOB}"), 200, "not json");
    let e = w.resolver().resolve_did(BOB).await.unwrap_err();
    assert_eq!(e.step(), Step::Document);
    assert!(e.to_string().contains("not a JSON document"), "{e}");

    // A configured PLC directory.
    w.http.route(
        &format!("http://127.0.0.1:2582/{ALICE}"),
        200,
        document(ALICE, "a.example.com", "https://pds.example.com"),
    );
    let local = w
        .builder()
        .plc_url("http://127.0.0.1:2582")
        .build()
        .unwrap();
    assert_eq!(local.resolve_did(ALICE).await.unwrap().id().as_str(), ALICE);
    // Plain http to a non-loopback PLC directory is refused at build time.
    assert!(w
        .builder()
        .plc_url("http://plc.example.com")
        .build()
        .is_err());
}

#[tokio::test]
async fn private_hosts_and_plain_http_are_refused_by_default() {
    let w = World::new();
    w.http.route(
        "http://localhost:8080/.well-known/did.json",
        200,
        document(
            "did:web:localhost%3A8080",
            "a.example.com",
            "https://pds.example.com",
        ),
    );
    let e = w
        .resolver()
        .resolve_did("did:web:localhost%3A8080")
        .await
        .unwrap_err();
    assert_eq!(e.step(), Step::DidWeb);
    assert!(matches!(e.kind(), ErrorKind::Refused(_)), "{e}");
    assert!(
        w.http.urls().is_empty(),
        "refused before sending: {:?}",
        w.http.urls()
    );

    // Allowing private hosts alone still uses https.
    let private_only = w.builder().allow_private_hosts(true).build().unwrap();
    let _ = private_only.resolve_did("did:web:localhost%3A8080").await;
    assert_eq!(
        w.http.urls(),
        ["https://localhost:8080/.well-known/did.json"]
    );

    let dev = w
        .builder()
        .allow_private_hosts(true)
        .allow_http_loopback(true)
        .build()
        .unwrap();
    assert!(dev.resolve_did("did:web:localhost%3A8080").await.is_ok());

    // A public-looking name whose addresses are private is refused too
    // (the resolver has DNS).
    w.dns.ips.lock().unwrap().insert(
        "intranet.example.com".into(),
        vec!["10.1.2.3".parse().unwrap()],
    );
    let e = w
        .resolver()
        .resolve_handle("intranet.example.com")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("resolves to 10.1.2.3"), "{e}");

    // A PDS whose name resolves to a private address (here 6to4 of
    // 10.0.0.1) is refused like one written as an address.
    w.dns.ips.lock().unwrap().insert(
        "pds.sneaky.example.com".into(),
        vec!["2002:a00:1::".parse().unwrap()],
    );
    w.plc(
        ALICE,
        document(ALICE, "alice.example.com", "https://pds.sneaky.example.com"),
    );
    let e = w.resolver().resolve_identity(ALICE).await.unwrap_err();
    assert_eq!(e.step(), Step::Document);
    assert!(matches!(e.kind(), ErrorKind::Refused(_)), "{e}");
    assert!(
        e.to_string()
            .contains("pds.sneaky.example.com resolves to 2002:a00:1::, a private address"),
        "{e}"
    );
    // Allowed private hosts let it through.
    let dev = w.builder().allow_private_hosts(true).build().unwrap();
    assert_eq!(
        dev.resolve_identity(ALICE).await.unwrap().pds.host(),
        "pds.sneaky.example.com"
    );

    // IPv6 forms that carry a private or loopback IPv4 address: 6to4,
    // IPv4-compatible, IPv4-mapped, NAT64. No request goes out.
    for (name, ip, why) in [
        ("sixtofour.example.com", "2002:7f00:1::", "loopback"),
        ("sixtofour10.example.com", "2002:a00::1", "private"),
        ("compat.example.com", "::127.0.0.1", "IPv4-compatible"),
        ("mapped.example.com", "::ffff:169.254.169.254", "link-local"),
        ("nat64.example.com", "64:ff9b::10.0.0.1", "private"),
    ] {
        w.dns.ips.lock().unwrap().insert(
            name.into(),
            vec!["93.184.216.34".parse().unwrap(), ip.parse().unwrap()],
        );
        for e in [
            w.builder()
                .dns_txt(false)
                .build()
                .unwrap()
                .resolve_handle(name)
                .await
                .unwrap_err(),
            w.resolver()
                .resolve_did(&format!("did:web:{name}"))
                .await
                .unwrap_err(),
        ] {
            assert!(matches!(e.kind(), ErrorKind::Refused(_)), "{name}: {e}");
            assert!(e.to_string().contains(why), "{name}: {e}");
        }
        assert!(
            !w.http.urls().iter().any(|u| u.contains(name)),
            "{name} was asked"
        );
    }
}

#[tokio::test]
async fn redirects_are_followed_with_each_hop_checked() {
    let w = World::new();
    w.http.redirect(
        "https://alice.example.com/.well-known/atproto-did",
        "https://cdn.example.net/alice",
    );
    w.http.route("https://cdn.example.net/alice", 200, ALICE);
    let r = w.builder().dns_txt(false).build().unwrap();
    assert_eq!(
        r.resolve_handle("alice.example.com")
            .await
            .unwrap()
            .as_str(),
        ALICE
    );

    // Relative Location.
    w.http.redirect(
        "https://rel.example.com/.well-known/atproto-did",
        "/did.txt",
    );
    w.http.route("https://rel.example.com/did.txt", 200, ALICE);
    assert_eq!(
        r.resolve_handle("rel.example.com").await.unwrap().as_str(),
        ALICE
    );

    // To a private address: refused before sending.
    w.http.redirect(
        "https://evil.example.com/.well-known/atproto-did",
        "https://169.254.169.254/latest/meta-data",
    );
    let e = r.resolve_handle("evil.example.com").await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Refused(_)), "{e}");
    assert_eq!(w.http.count("https://169.254.169.254/latest/meta-data"), 0);

    // Downgrade to http: refused.
    w.http.redirect(
        "https://down.example.com/.well-known/atproto-did",
        "http://down.example.com/x",
    );
    assert!(matches!(
        r.resolve_handle("down.example.com")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Refused(_)
    ));

    // A loop ends.
    w.http.redirect(
        "https://loop.example.com/.well-known/atproto-did",
        "https://loop.example.com/.well-known/atproto-did",
    );
    let e = r.resolve_handle("loop.example.com").await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Redirect(_)), "{e}");
    assert_eq!(
        w.http
            .count("https://loop.example.com/.well-known/atproto-did"),
        4
    );
}

#[tokio::test]
async fn resolve_handle_xrpc_against_a_chosen_service() {
    let w = World::new();
    let url = "http://localhost:2583/xrpc/com.atproto.identity.resolveHandle?handle=alice.test";
    w.http.route(url, 200, json!({"did": ALICE}).to_string());
    let r = Resolver::builder(w.http.clone())
        .well_known(false)
        .resolve_handle_via("http://localhost:2583")
        .build()
        .unwrap();
    assert_eq!(
        r.resolve_handle("Alice.test").await.unwrap().as_str(),
        ALICE
    );

    w.http.route(
        "http://localhost:2583/xrpc/com.atproto.identity.resolveHandle?handle=nobody.test",
        400,
        json!({"error": "InvalidRequest", "message": "Unable to resolve handle"}).to_string(),
    );
    let e = r.resolve_handle("nobody.test").await.unwrap_err();
    assert_eq!(
        (e.step(), e.kind()),
        (Step::ResolveHandle, &ErrorKind::NotFound)
    );
    assert!(e.is_not_found());

    w.http.route(
        "http://localhost:2583/xrpc/com.atproto.identity.resolveHandle?handle=weird.test",
        200,
        json!({"handle": "weird.test"}).to_string(),
    );
    let e = r.resolve_handle("weird.test").await.unwrap_err();
    assert!(e.to_string().contains("no \"did\""), "{e}");
    // A service over plain http to a public host is refused at build time.
    assert!(Resolver::builder(w.http.clone())
        .resolve_handle_via("http://api.example.com")
        .build()
        .is_err());
}

#[tokio::test]
async fn cache_answers_negative_answers_and_fresh() {
    let w = World::new();
    w.dns
        .txt("_atproto.alice.example.com", &[&format!("did={ALICE}")]);
    w.plc(
        ALICE,
        document(ALICE, "alice.example.com", "https://pds.example.com"),
    );
    let cache = Arc::new(MemoryCache::new());
    let r = w.builder().cache(cache.clone()).build().unwrap();
    r.resolve_identity("alice.example.com").await.unwrap();
    let plc_url = format!("https://plc.directory/{ALICE}");
    assert_eq!(w.http.count(&plc_url), 1);
    r.resolve_identity("alice.example.com").await.unwrap();
    r.resolve_identity(ALICE).await.unwrap();
    assert_eq!(w.http.count(&plc_url), 1, "served from the cache");
    assert_eq!(w.dns.asked.lock().unwrap().len(), 1);

    // Clones share it.
    r.clone().resolve_did(ALICE).await.unwrap();
    assert_eq!(w.http.count(&plc_url), 1);

    // fresh() asks again, and stores what it finds.
    w.plc(
        ALICE,
        document(ALICE, "alice.example.com", "https://new-pds.example.com"),
    );
    let id = r.fresh().resolve_identity(ALICE).await.unwrap();
    assert_eq!(id.pds.host(), "new-pds.example.com");
    assert_eq!(w.http.count(&plc_url), 2);
    assert_eq!(
        r.resolve_identity(ALICE).await.unwrap().pds.host(),
        "new-pds.example.com"
    );

    // Negative answers are cached; transient failures are not.
    let e = r.resolve_did(BOB).await.unwrap_err();
    assert!(e.is_transient());
    let bob_url = format!("https://plc.directory/{BOB}");
    w.http.route(&bob_url, 404, "");
    r.resolve_did(BOB).await.unwrap_err();
    assert_eq!(w.http.count(&bob_url), 2, "the failure was not cached");
    w.plc(
        BOB,
        document(BOB, "bob.example.com", "https://pds.example.com"),
    );
    let e = r.resolve_did(BOB).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound, "the 404 was cached");
    assert_eq!(w.http.count(&bob_url), 2);
    assert_eq!(
        cache.get(&CacheKey::Did(BOB.parse().unwrap())).await,
        Some(CacheValue::NotFound)
    );
    assert!(r.fresh().resolve_did(BOB).await.is_ok());

    // The negative TTL is its own.
    let short = w
        .builder()
        .cache(Arc::new(MemoryCache::new()))
        .ttl(Duration::from_secs(3600), Duration::ZERO)
        .build()
        .unwrap();
    w.http.route(
        "https://plc.directory/did:plc:dddddddddddddddddddddddd",
        404,
        "",
    );
    short
        .resolve_did("did:plc:dddddddddddddddddddddddd")
        .await
        .unwrap_err();
    short
        .resolve_did("did:plc:dddddddddddddddddddddddd")
        .await
        .unwrap_err();
    assert_eq!(
        w.http
            .count("https://plc.directory/did:plc:dddddddddddddddddddddddd"),
        2
    );
}

/// An application cache: records what the resolver stores.
#[derive(Default)]
struct RecordingCache {
    puts: Mutex<Vec<(CacheKey, Duration)>>,
}

impl IdentityCache for RecordingCache {
    fn get<'a>(&'a self, _: &'a CacheKey) -> BoxFuture<'a, Option<CacheValue>> {
        Box::pin(async { None })
    }
    fn put(&self, key: CacheKey, _: CacheValue, ttl: Duration) -> BoxFuture<'_, ()> {
        self.puts.lock().unwrap().push((key, ttl));
        Box::pin(async {})
    }
}

#[tokio::test]
async fn an_application_cache_gets_both_ttls() {
    let w = World::new();
    w.dns
        .txt("_atproto.alice.example.com", &[&format!("did={ALICE}")]);
    let cache = Arc::new(RecordingCache::default());
    let r = w
        .builder()
        .cache(cache.clone())
        .ttl(Duration::from_secs(100), Duration::from_secs(7))
        .build()
        .unwrap();
    r.resolve_handle("alice.example.com").await.unwrap();
    w.http
        .route("https://gone.example.com/.well-known/atproto-did", 404, "");
    r.resolve_handle("gone.example.com").await.unwrap_err();
    let puts = cache.puts.lock().unwrap();
    assert_eq!(puts.len(), 2);
    assert_eq!(
        puts[0],
        (
            CacheKey::Handle("alice.example.com".parse().unwrap()),
            Duration::from_secs(100)
        )
    );
    assert_eq!(
        puts[1],
        (
            CacheKey::Handle("gone.example.com".parse().unwrap()),
            Duration::from_secs(7)
        )
    );
}

#[tokio::test]
async fn resolvers_run_at_once() {
    // The DNS answer waits until the well-known request has been sent: if
    // the resolvers ran one after the other, this would never finish.
    struct GatedDns(Arc<tokio::sync::Semaphore>);
    impl DnsLookup for GatedDns {
        fn lookup_txt<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<String>, DnsError>> {
            Box::pin(async {
                let _permit = self.0.acquire().await.unwrap();
                Ok(vec![format!("did={ALICE}")])
            })
        }
        fn lookup_ip<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
            Box::pin(async { Ok(vec![]) })
        }
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let http = Arc::new(FakeHttp::default());
    http.route(
        "https://alice.example.com/.well-known/atproto-did",
        200,
        ALICE,
    );
    let r = Resolver::builder(http.clone())
        .dns(Arc::new(GatedDns(gate.clone())))
        .build()
        .unwrap();
    let task = tokio::spawn(async move { r.resolve_handle("alice.example.com").await });
    while http.urls().is_empty() {
        assert!(!task.is_finished());
        tokio::task::yield_now().await;
    }
    gate.add_permits(1);
    assert_eq!(task.await.unwrap().unwrap().as_str(), ALICE);
}

#[test]
fn resolver_is_send_sync_and_cheap_to_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Resolver>();
    let r = Resolver::builder(Arc::new(FakeHttp::default()))
        .build()
        .unwrap();
    let debug = format!("{r:?}");
    assert!(debug.contains("plc.directory"), "{debug}");
    assert!(Resolver::builder(Arc::new(FakeHttp::default()))
        .well_known(false)
        .build()
        .is_err());
}
