//! Resolution over an in-memory DNS, PLC directory and PDS: a good proof
//! resolves, and every refusal is its own error naming the NSID and the
//! step (DNS, DID, fetch, signature, proof, CID, parse, id mismatch).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use atmo_identity::{DnsError, DnsLookup, Resolver};
use atmo_lexicon::{
    check_document, document_cid, document_path, record_cid, referenced_nsids, verify_record_proof,
    ErrorKind, LexiconCache, LexiconResolver, Manifest, MemoryLexiconCache, Resolution, Step,
    SCHEMA_COLLECTION,
};
use atmo_sync::car::write_car;
use atmo_sync::{mst, Cid, Map, Value};
use atmo_xrpc::{BoxFuture, HttpClient, HttpError, HttpErrorKind, HttpRequest, HttpResponse};
use serde_json::json;

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const NSID: &str = "com.example.bookmark";
const PDS: &str = "https://pds.example.com";

fn signing_key(seed: u8) -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn public_key(seed: u8) -> atmo_crypto::PublicKey {
    atmo_crypto::PublicKey::from_sec1(
        atmo_crypto::Curve::K256,
        signing_key(seed)
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes(),
    )
    .unwrap()
}

fn sign(seed: u8, msg: &[u8]) -> Vec<u8> {
    use k256::ecdsa::signature::Signer;
    let s: k256::ecdsa::Signature = signing_key(seed).sign(msg);
    s.normalize_s().to_bytes().to_vec()
}

fn lexicon(id: &str) -> serde_json::Value {
    json!({
        "$type": SCHEMA_COLLECTION,
        "lexicon": 1,
        "id": id,
        "defs": {
            "main": {
                "type": "record",
                "key": "tid",
                "record": {
                    "type": "object",
                    "required": ["subject"],
                    "properties": {
                        "subject": {"type": "ref", "ref": "com.atproto.repo.strongRef"},
                        "tags": {"type": "array", "items": {"type": "ref", "ref": "com.example.tag#main"}},
                        "via": {"type": "union", "refs": ["com.example.via.web", "#local"]},
                        "kind": {"type": "string", "knownValues": ["com.example.kinds#read", "plain"]}
                    }
                }
            },
            "local": {"type": "object", "properties": {}}
        }
    })
}

/// What to break in a built proof.
#[derive(Clone, Copy, PartialEq)]
enum Break {
    Nothing,
    /// Sign with another key than the DID document's.
    Signature,
    /// Put other bytes under the record's CID.
    RecordBytes,
    /// A tree without the key (other keys only), every node present: a
    /// proof that the record does not exist.
    KeyAbsent,
    /// Leave the tree's root node out of the CAR.
    NodeMissing,
    /// Alter the bytes of the tree's root node.
    NodeAltered,
}

/// A getRecord CAR for `nsid` holding `doc`, among a few other records.
fn proof_car(nsid: &str, doc: &serde_json::Value, brk: Break) -> (Vec<u8>, Cid) {
    let record = Value::from_json(doc).unwrap().to_cbor();
    let record_cid = Cid::for_dag_cbor(&record);
    let key = format!("{SCHEMA_COLLECTION}/{nsid}");
    let mut entries: Vec<(String, Cid)> = (0..20)
        .map(|i| {
            (
                format!("app.bsky.feed.post/3k{i:03}aaaaaaa"),
                Cid::for_raw(&[i]),
            )
        })
        .collect();
    if brk != Break::KeyAbsent {
        entries.push((key, record_cid));
    }
    entries.sort();
    let refs: Vec<(&str, Cid)> = entries.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    let mut nodes: Vec<(Cid, Vec<u8>)> = Vec::new();
    let root = mst::build(&refs, |c, b| nodes.push((c, b)));
    let mut commit = Map::new();
    commit.insert("did", Value::String(DID.into()));
    commit.insert("version", Value::Integer(3));
    commit.insert("data", Value::Link(root));
    commit.insert("rev", Value::String("3kabcdefghi22".into()));
    commit.insert("prev", Value::Null);
    let unsigned = Value::Map(commit.clone()).to_cbor();
    let seed = if brk == Break::Signature { 0x22 } else { 0x11 };
    commit.insert("sig", Value::Bytes(sign(seed, &unsigned).into()));
    let commit_bytes = Value::Map(commit).to_cbor();
    let commit_cid = Cid::for_dag_cbor(&commit_bytes);

    let mut sections: Vec<Vec<u8>> = vec![section(commit_cid, &commit_bytes)];
    for (c, b) in &nodes {
        if brk == Break::NodeMissing && *c == root {
            continue;
        }
        if brk == Break::NodeAltered && *c == root {
            let mut altered = b.clone();
            let last = altered.len() - 1;
            altered[last] ^= 1;
            sections.push(section(*c, &altered));
            continue;
        }
        sections.push(section(*c, b));
    }
    let record_bytes = if brk == Break::RecordBytes {
        let mut other = doc.clone();
        other["description"] = json!("swapped in transit");
        Value::from_json(&other).unwrap().to_cbor()
    } else {
        record
    };
    sections.push(section(record_cid, &record_bytes));
    (raw_car(commit_cid, &sections), record_cid)
}

fn section(cid: Cid, data: &[u8]) -> Vec<u8> {
    let mut s = cid.as_bytes().to_vec();
    s.extend_from_slice(data);
    s
}

/// A CAR whose sections are given as written (CID then bytes), so that a
/// block can carry bytes that do not hash to its CID.
fn raw_car(root: Cid, sections: &[Vec<u8>]) -> Vec<u8> {
    let mut out = write_car(&[root], std::iter::empty());
    for s in sections {
        varint(s.len() as u64, &mut out);
        out.extend_from_slice(s);
    }
    out
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[test]
fn a_good_proof_verifies_and_its_cid_is_the_documents() {
    let doc = lexicon(NSID);
    let (car, cid) = proof_car(NSID, &doc, Break::Nothing);
    let v = verify_record_proof(&car, DID, &public_key(0x11), SCHEMA_COLLECTION, NSID).unwrap();
    assert_eq!(v.cid, cid);
    assert_eq!(v.rev, "3kabcdefghi22");
    // The CID computed locally from the JSON (as lexicons.json records it)
    // is the record's.
    assert_eq!(document_cid(&doc).unwrap(), cid);
    let mut without_type = doc.clone();
    without_type.as_object_mut().unwrap().remove("$type");
    assert_eq!(record_cid(&without_type).unwrap(), cid);
    assert_ne!(document_cid(&without_type).unwrap(), cid);
}

#[test]
fn each_broken_proof_is_its_own_step() {
    let doc = lexicon(NSID);
    let key = public_key(0x11);
    let check = |brk| {
        let (car, _) = proof_car(NSID, &doc, brk);
        verify_record_proof(&car, DID, &key, SCHEMA_COLLECTION, NSID).unwrap_err()
    };
    assert!(matches!(check(Break::Signature), ErrorKind::Signature(_)));
    match check(Break::RecordBytes) {
        ErrorKind::CidMismatch { expected, found } => assert_ne!(expected, found),
        other => panic!("{other:?}"),
    }
    // A complete path without the key is a signed proof of absence.
    assert_eq!(
        check(Break::KeyAbsent),
        ErrorKind::RecordNotFound { did: DID.into() }
    );
    let e = check(Break::NodeMissing);
    assert!(
        matches!(&e, ErrorKind::Proof(why) if why.contains("missing")),
        "{e:?}"
    );
    let e = check(Break::NodeAltered);
    assert!(
        matches!(&e, ErrorKind::Proof(why) if why.contains("does not hash")),
        "{e:?}"
    );
    // A commit of another repository proves nothing about this one.
    let (car, _) = proof_car(NSID, &doc, Break::Nothing);
    let e = verify_record_proof(
        &car,
        "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb",
        &key,
        SCHEMA_COLLECTION,
        NSID,
    )
    .unwrap_err();
    assert!(
        matches!(&e, ErrorKind::Proof(why) if why.contains("is for")),
        "{e:?}"
    );
    // Not a CAR at all.
    assert!(matches!(
        verify_record_proof(b"\x05hello", DID, &key, SCHEMA_COLLECTION, NSID),
        Err(ErrorKind::Proof(_))
    ));
}

#[test]
fn documents_are_checked_for_shape_and_id() {
    assert_eq!(check_document(NSID, &lexicon(NSID)), Ok(()));
    assert_eq!(
        check_document(NSID, &lexicon("com.example.other")),
        Err(ErrorKind::IdMismatch {
            found: "com.example.other".into()
        })
    );
    assert!(matches!(
        check_document(NSID, &json!({"lexicon": 2, "id": NSID, "defs": {}})),
        Err(ErrorKind::Parse(_))
    ));
    assert!(matches!(
        check_document(NSID, &json!({"lexicon": 1, "id": NSID})),
        Err(ErrorKind::Parse(_))
    ));
}

#[test]
fn references_are_refs_union_members_and_tokens() {
    assert_eq!(
        referenced_nsids(&lexicon(NSID)),
        vec![
            "com.atproto.repo.strongRef",
            "com.example.kinds",
            "com.example.tag",
            "com.example.via.web"
        ]
    );
    assert_eq!(
        document_path("com.example.feed.post"),
        std::path::Path::new("com/example/feed/post.json")
    );
}

#[test]
fn the_manifest_is_atproto_lex_format_sorted_and_stable() {
    let mut m = Manifest::default();
    m.lexicons.insert("com.example.b".into());
    m.lexicons.insert("com.example.a".into());
    for n in ["com.example.b", "com.example.a"] {
        m.resolutions.insert(
            n.into(),
            Resolution {
                uri: format!("at://{DID}/{SCHEMA_COLLECTION}/{n}"),
                cid: Cid::for_raw(n.as_bytes()).to_string(),
            },
        );
    }
    let text = m.to_json();
    let a = text.find("\"com.example.a\"").unwrap();
    let b = text.find("\"com.example.b\"").unwrap();
    assert!(a < b);
    assert!(text.starts_with("{\n  \"version\": 1,\n  \"lexicons\": [\n    \"com.example.a\""));
    assert!(text.ends_with("}\n"));
    let back = Manifest::parse(&text).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.to_json(), text);
    assert_eq!(back.resolutions["com.example.a"].did(), Some(DID));
    let empty = Manifest::default().to_json();
    assert_eq!(Manifest::parse(&empty).unwrap(), Manifest::default());
    assert!(Manifest::parse(r#"{"version":2,"lexicons":[],"resolutions":{}}"#).is_err());
    assert!(Manifest::parse(
        r#"{"version":1,"lexicons":[],"resolutions":{"com.example.a":{"uri":"at://x","cid":"nope"}}}"#
    )
    .is_err());
}

// ----- the whole resolver, over in-memory DNS and HTTP -----

type Handler = Box<dyn Fn(&str) -> Option<HttpResponse> + Send + Sync>;

struct FakeHttp {
    handler: Handler,
    asked: Mutex<Vec<String>>,
}

impl HttpClient for FakeHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        self.asked.lock().unwrap().push(request.url.clone());
        let answer = (self.handler)(&request.url)
            .ok_or_else(|| HttpError::new(HttpErrorKind::Connect, "no such host"));
        Box::pin(async move { answer })
    }
}

#[derive(Default)]
struct FakeDns {
    txt: HashMap<String, Vec<String>>,
}

impl DnsLookup for FakeDns {
    fn lookup_txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, DnsError>> {
        let r = self.txt.get(name).cloned().ok_or(DnsError::NotFound);
        Box::pin(async move { r })
    }
    fn lookup_ip<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(async { Err(DnsError::NotFound) })
    }
}

fn did_document(pds: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": DID,
        "alsoKnownAs": ["at://lexicons.example.com"],
        "verificationMethod": [{
            "id": format!("{DID}#atproto"), "type": "Multikey",
            "controller": DID, "publicKeyMultibase": public_key(0x11).to_multikey()
        }],
        "service": [{
            "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": pds
        }]
    }))
    .unwrap()
}

fn ok(body: Vec<u8>) -> Option<HttpResponse> {
    Some(HttpResponse {
        status: 200,
        headers: vec![],
        body,
    })
}

/// A world where `_lexicon.example.com` names DID, whose PDS answers
/// getRecord for NSID with `car` and anything else with RecordNotFound.
fn world(car: Vec<u8>) -> (LexiconResolver, Arc<FakeHttp>) {
    world_with_pds(car, PDS, false)
}

/// [`world`] with the DID document naming `pds`, private hosts allowed
/// or not.
fn world_with_pds(
    car: Vec<u8>,
    pds: &'static str,
    allow_private: bool,
) -> (LexiconResolver, Arc<FakeHttp>) {
    let plc = format!("https://plc.directory/{DID}");
    let handler: Handler = Box::new(move |url: &str| {
        if url == plc {
            return ok(did_document(pds));
        }
        if url.starts_with(&format!("{pds}/xrpc/com.atproto.sync.getRecord?")) {
            if url.contains(&format!("rkey={NSID}")) {
                return ok(car.clone());
            }
            return Some(HttpResponse {
                status: 400,
                headers: vec![],
                body: br#"{"error":"RecordNotFound","message":"Could not locate record"}"#.to_vec(),
            });
        }
        None
    });
    let http = Arc::new(FakeHttp {
        handler,
        asked: Mutex::default(),
    });
    let mut dns = FakeDns::default();
    dns.txt.insert(
        "_lexicon.example.com".into(),
        vec!["v=spf1 -all".into(), format!("did={DID}")],
    );
    dns.txt.insert(
        "_lexicon.two.example.com".into(),
        vec![
            format!("did={DID}"),
            "did=did:plc:bbbbbbbbbbbbbbbbbbbbbbbb".into(),
        ],
    );
    dns.txt.insert(
        "_lexicon.gone.example.com".into(),
        vec!["did=did:plc:cccccccccccccccccccccccc".into()],
    );
    let dns: Arc<FakeDns> = Arc::new(dns);
    let identity = Resolver::builder(http.clone())
        .dns(dns.clone())
        .well_known(false)
        .build()
        .unwrap();
    let resolver = LexiconResolver::builder(identity, dns, http.clone())
        .allow_private_hosts(allow_private)
        .build();
    (resolver, http)
}

#[tokio::test]
async fn resolves_a_published_lexicon_end_to_end() {
    let doc = lexicon(NSID);
    let (car, cid) = proof_car(NSID, &doc, Break::Nothing);
    let (r, _) = world(car);
    let found = r.resolve(NSID).await.unwrap();
    assert_eq!(found.nsid, NSID);
    assert_eq!(found.did.as_str(), DID);
    assert_eq!(found.cid, cid);
    assert_eq!(found.uri, format!("at://{DID}/{SCHEMA_COLLECTION}/{NSID}"));
    assert_eq!(found.document, doc);
}

#[tokio::test]
async fn every_refusal_names_the_nsid_and_its_step() {
    let doc = lexicon(NSID);
    let refusal = |brk: Break, nsid: &'static str| {
        let (car, _) = proof_car(NSID, &doc, brk);
        async move {
            let (r, _) = world(car);
            let e = r.resolve(nsid).await.unwrap_err();
            assert_eq!(e.nsid(), nsid, "{e}");
            assert!(e.to_string().contains(nsid), "{e}");
            assert!(e.to_string().contains(e.step().as_str()), "{e}");
            e
        }
    };
    assert_eq!(
        refusal(Break::Signature, NSID).await.step(),
        Step::Signature
    );
    assert_eq!(refusal(Break::RecordBytes, NSID).await.step(), Step::Cid);
    assert_eq!(refusal(Break::KeyAbsent, NSID).await.step(), Step::Fetch);
    assert_eq!(refusal(Break::NodeMissing, NSID).await.step(), Step::Proof);
    // The TXT record names a DID whose repository has no such record.
    let e = refusal(Break::Nothing, "com.example.missing").await;
    assert_eq!(e.step(), Step::Fetch);
    assert_eq!(e.kind(), &ErrorKind::RecordNotFound { did: DID.into() });
    // No TXT record; two of them; a DID that does not resolve.
    let e = refusal(Break::Nothing, "org.nowhere.thing").await;
    assert_eq!(
        e.kind(),
        &ErrorKind::NoAuthorityRecord {
            name: "_lexicon.nowhere.org".into()
        }
    );
    assert_eq!(
        refusal(Break::Nothing, "com.example.two.x").await.step(),
        Step::Dns
    );
    assert_eq!(
        refusal(Break::Nothing, "com.example.gone.x").await.step(),
        Step::Did
    );
    assert_eq!(
        refusal(Break::Nothing, "not an nsid").await.step(),
        Step::Syntax
    );
}

#[tokio::test]
async fn a_document_whose_id_differs_is_refused() {
    let doc = lexicon("com.example.impostor");
    let (car, _) = proof_car(NSID, &doc, Break::Nothing);
    let (r, _) = world(car);
    let e = r.resolve(NSID).await.unwrap_err();
    assert_eq!(e.step(), Step::IdMismatch, "{e}");
    assert_eq!(e.nsid(), NSID);
    let bad = json!({"$type": SCHEMA_COLLECTION, "lexicon": 1, "id": NSID, "defs": 3});
    let (car, _) = proof_car(NSID, &bad, Break::Nothing);
    let (r, _) = world(car);
    assert_eq!(r.resolve(NSID).await.unwrap_err().step(), Step::Parse);
}

#[tokio::test]
async fn the_cache_serves_verified_documents() {
    let doc = lexicon(NSID);
    let (car, _) = proof_car(NSID, &doc, Break::Nothing);
    let (r, http) = world(car.clone());
    let cache = Arc::new(MemoryLexiconCache::new());
    // Same world, with a cache.
    let identity = Resolver::builder(http.clone())
        .dns(Arc::new(FakeDns::default()))
        .well_known(false)
        .build()
        .unwrap();
    let first = r.resolve(NSID).await.unwrap();
    cache.put(&first).await;
    let cached = LexiconResolver::builder(identity, Arc::new(FakeDns::default()), http.clone())
        .cache(cache.clone())
        .build();
    let before = http.asked.lock().unwrap().len();
    assert_eq!(cached.resolve(NSID).await.unwrap(), first);
    assert_eq!(
        http.asked.lock().unwrap().len(),
        before,
        "served from the cache"
    );
    assert_eq!(cache.len(), 1);
}

#[tokio::test]
async fn the_pds_host_policy_is_applied() {
    let doc = lexicon(NSID);
    let (car, _) = proof_car(NSID, &doc, Break::Nothing);
    for pds in [
        "http://pds.example.com",
        "https://192.168.1.20",
        "https://localhost",
    ] {
        let (r, http) = world_with_pds(car.clone(), pds, false);
        let e = r.resolve(NSID).await.unwrap_err();
        assert_eq!(e.step(), Step::Pds, "{pds}: {e}");
        assert!(e.to_string().contains("refused"), "{e}");
        // Nothing was sent to the refused host.
        assert!(
            !http
                .asked
                .lock()
                .unwrap()
                .iter()
                .any(|u| u.starts_with(pds)),
            "{pds}"
        );
    }
    // A development setup may allow private hosts.
    let (r, _) = world_with_pds(car, "https://192.168.1.20", true);
    assert_eq!(r.resolve(NSID).await.unwrap().document, doc);
}
