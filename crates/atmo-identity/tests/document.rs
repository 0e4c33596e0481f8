//! DID document parsing: what atproto reads, and every refusal.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_identity::{Curve, DidDocument, DocumentError};
use serde_json::{json, Value};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const K256: &str = "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";
const P256: &str = "zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo";

fn doc(f: impl FnOnce(&mut Value)) -> Value {
    let mut v = json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": DID,
        "alsoKnownAs": ["at://Alice.Example.com"],
        "verificationMethod": [{
            "id": format!("{DID}#atproto"),
            "type": "Multikey",
            "controller": DID,
            "publicKeyMultibase": K256
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.example.com"
        }],
        "extra": {"kept": true}
    });
    f(&mut v);
    v
}

fn parse(v: Value) -> Result<DidDocument, DocumentError> {
    DidDocument::parse(&serde_json::to_vec(&v).unwrap())
}

#[test]
fn reads_what_atproto_uses_and_keeps_the_rest() {
    let d = parse(doc(|_| {})).unwrap();
    assert_eq!(d.id().as_str(), DID);
    assert_eq!(
        d.handle().unwrap().as_str(),
        "alice.example.com",
        "case folded"
    );
    assert_eq!(d.pds().unwrap().as_str(), "https://pds.example.com/");
    let key = d.signing_key().unwrap();
    assert_eq!(key.curve(), Curve::K256);
    assert_eq!(key.to_multikey(), K256);
    assert_eq!(d.json()["extra"]["kept"], true);
    assert_eq!(d.services().len(), 1);
    assert_eq!(d.verification_methods()[0].controller.as_deref(), Some(DID));
    // Round trip through bytes (what a byte-storing cache does).
    assert_eq!(DidDocument::parse(&d.to_json_bytes()).unwrap(), d);
}

#[test]
fn keys_in_both_curves_and_both_forms() {
    let p = parse(doc(|v| {
        v["verificationMethod"][0]["publicKeyMultibase"] = json!(P256)
    }))
    .unwrap();
    assert_eq!(p.signing_key().unwrap().curve(), Curve::P256);
    // Relative id, legacy type with an unprefixed multibase key.
    let legacy = parse(doc(|v| {
        v["verificationMethod"] = json!([{
            "id": "#atproto",
            "type": "EcdsaSecp256k1VerificationKey2019",
            "controller": DID,
            "publicKeyMultibase": "z25z9DTpsiYYJKGsWmSPJK2NFN8PcJtZig12K59UgW7q5t"
        }])
    }))
    .unwrap();
    assert_eq!(legacy.signing_key().unwrap().to_multikey(), K256);
}

#[test]
fn signing_key_refusals() {
    let bad_multibase = parse(doc(|v| {
        v["verificationMethod"][0]["publicKeyMultibase"] = json!("zQ3sh0OIl")
    }))
    .unwrap();
    let e = bad_multibase.signing_key().unwrap_err();
    assert!(matches!(e, DocumentError::Key(_)), "{e:?}");
    assert!(e.to_string().contains("base58btc"), "{e}");

    let not_z = parse(doc(|v| {
        v["verificationMethod"][0]["publicKeyMultibase"] = json!("mQ3sh")
    }))
    .unwrap();
    assert!(matches!(not_z.signing_key(), Err(DocumentError::Key(_))));

    let ed25519 = parse(doc(|v| {
        v["verificationMethod"][0]["publicKeyMultibase"] =
            json!("z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
    }))
    .unwrap();
    let e = ed25519.signing_key().unwrap_err();
    assert!(e.to_string().contains("0xed"), "{e}");

    let missing = parse(doc(|v| v["verificationMethod"] = json!([]))).unwrap();
    assert_eq!(missing.signing_key(), Err(DocumentError::MissingKey));

    let other_fragment =
        parse(doc(|v| v["verificationMethod"][0]["id"] = json!("#other"))).unwrap();
    assert_eq!(other_fragment.signing_key(), Err(DocumentError::MissingKey));

    let other_did = parse(doc(|v| {
        v["verificationMethod"][0]["id"] = json!("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#atproto")
    }))
    .unwrap();
    assert_eq!(other_did.signing_key(), Err(DocumentError::MissingKey));

    let two = parse(doc(|v| {
        let m = v["verificationMethod"][0].clone();
        let mut m2 = m.clone();
        m2["id"] = json!("#atproto");
        v["verificationMethod"] = json!([m, m2]);
    }))
    .unwrap();
    assert_eq!(two.signing_key(), Err(DocumentError::DuplicateKey(2)));

    let no_multibase = parse(doc(|v| {
        v["verificationMethod"][0]
            .as_object_mut()
            .unwrap()
            .remove("publicKeyMultibase");
    }))
    .unwrap();
    assert_eq!(
        no_multibase.signing_key(),
        Err(DocumentError::KeyNotMultibase)
    );

    let jwk = parse(doc(|v| {
        v["verificationMethod"][0]["type"] = json!("JsonWebKey2020")
    }))
    .unwrap();
    assert!(jwk
        .signing_key()
        .unwrap_err()
        .to_string()
        .contains("JsonWebKey2020"));
}

#[test]
fn pds_refusals() {
    let none = parse(doc(|v| v["service"] = json!([]))).unwrap();
    assert_eq!(none.pds(), Err(DocumentError::MissingPds));
    let absent = parse(doc(|v| {
        v.as_object_mut().unwrap().remove("service");
    }))
    .unwrap();
    assert_eq!(absent.pds(), Err(DocumentError::MissingPds));

    let two = parse(doc(|v| {
        let s = v["service"][0].clone();
        let mut s2 = s.clone();
        s2["id"] = json!(format!("{DID}#atproto_pds"));
        s2["serviceEndpoint"] = json!("https://other.example.com");
        v["service"] = json!([s, s2]);
    }))
    .unwrap();
    assert_eq!(two.pds(), Err(DocumentError::DuplicatePds(2)));
    assert!(two.pds().unwrap_err().to_string().contains("exactly one"));

    let wrong_type = parse(doc(|v| {
        v["service"][0]["type"] = json!("BskyFeedGenerator")
    }))
    .unwrap();
    assert_eq!(
        wrong_type.pds(),
        Err(DocumentError::PdsServiceType("BskyFeedGenerator".into()))
    );

    for endpoint in [
        json!({"uri": "https://x.example"}),
        json!("ftp://pds.example.com"),
        json!("not a url"),
        json!("https://user:pw@pds.example.com"),
    ] {
        let d = parse(doc(|v| {
            v["service"][0]["serviceEndpoint"] = endpoint.clone()
        }))
        .unwrap();
        assert!(
            matches!(d.pds(), Err(DocumentError::PdsEndpoint(_))),
            "{endpoint}"
        );
    }

    // Other services are fine and kept.
    let more = parse(doc(|v| {
        v["service"].as_array_mut().unwrap().push(json!({
            "id": "#bsky_fg", "type": "BskyFeedGenerator", "serviceEndpoint": {"complex": true}
        }))
    }))
    .unwrap();
    assert_eq!(more.pds().unwrap().host(), "pds.example.com");
    assert_eq!(more.services().len(), 2);
}

#[test]
fn handle_claims() {
    let none = parse(doc(|v| v["alsoKnownAs"] = json!([]))).unwrap();
    assert_eq!(none.handle(), None);
    let first_at = parse(doc(|v| {
        v["alsoKnownAs"] = json!([
            "https://alice.example",
            "at://First.Example.com",
            "at://second.example.com"
        ])
    }))
    .unwrap();
    assert_eq!(first_at.handle().unwrap().as_str(), "first.example.com");
    let invalid = parse(doc(|v| v["alsoKnownAs"] = json!(["at://not a handle"]))).unwrap();
    assert_eq!(invalid.handle(), None);
}

#[test]
fn shape_errors_name_the_path() {
    let cases: Vec<(Value, &str)> = vec![
        (json!([]), "(document)"),
        (json!("did:plc:x"), "(document)"),
        (doc(|v| v["id"] = json!(5)), "id"),
        (
            doc(|v| {
                v.as_object_mut().unwrap().remove("id");
            }),
            "id",
        ),
        (
            doc(|v| v["alsoKnownAs"] = json!("at://a.example")),
            "alsoKnownAs",
        ),
        (
            doc(|v| v["alsoKnownAs"] = json!(["at://a.example", 7])),
            "alsoKnownAs[1]",
        ),
        (doc(|v| v["service"] = json!({})), "service"),
        (doc(|v| v["service"] = json!([5])), "service[0]"),
        (
            doc(|v| v["service"][0]["id"] = json!(null)),
            "service[0].id",
        ),
        (
            doc(|v| v["service"][0]["type"] = json!(3)),
            "service[0].type",
        ),
        (
            doc(|v| {
                v["service"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("serviceEndpoint");
            }),
            "service[0].serviceEndpoint",
        ),
        (
            doc(|v| v["verificationMethod"][0]["type"] = json!(["Multikey"])),
            "verificationMethod[0].type",
        ),
        (
            doc(|v| v["verificationMethod"][0]["publicKeyMultibase"] = json!(1)),
            "verificationMethod[0].publicKeyMultibase",
        ),
        (
            doc(|v| v["verificationMethod"] = json!([true])),
            "verificationMethod[0]",
        ),
    ];
    for (value, path) in cases {
        let e = parse(value.clone()).unwrap_err();
        match &e {
            DocumentError::Shape { path: p, .. } => assert_eq!(p, path, "{value}"),
            other => panic!("{value}: {other:?}"),
        }
        assert!(e.to_string().starts_with(path), "{e}");
    }
    let bad_id = parse(doc(|v| v["id"] = json!("not-a-did"))).unwrap_err();
    assert!(matches!(bad_id, DocumentError::InvalidId(_)));
    for bytes in [&b""[..], b"{", b"\xff", b"{\"id\": \"did:plc:x\",}"] {
        assert!(matches!(
            DidDocument::parse(bytes),
            Err(DocumentError::Json(_))
        ));
    }
    // Deep nesting is refused by the JSON reader, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        DidDocument::parse(deep.as_bytes()),
        Err(DocumentError::Json(_))
    ));
}

#[test]
fn service_type_may_be_an_array() {
    let d = parse(doc(|v| {
        v["service"][0]["type"] = json!(["AtprotoPersonalDataServer"])
    }))
    .unwrap();
    assert_eq!(d.pds().unwrap().host(), "pds.example.com");
}
