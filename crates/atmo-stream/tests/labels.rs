//! Label signatures: signed over the label without `sig`, by the
//! labeler's `#atproto_label` key from its DID document.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_api::com::atproto::label::defs::Label;
use atmo_crypto::{Curve, PublicKey};
use atmo_identity::document::DidDocument;
use atmo_stream::labels::{label_key, label_signing_bytes, verify_label, LabelError};
use atmo_types::Bytes;
use k256::ecdsa::signature::Signer;

fn key(seed: u8) -> (k256::ecdsa::SigningKey, PublicKey) {
    let sk = k256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let pk = PublicKey::from_sec1(
        Curve::K256,
        sk.verifying_key().to_sec1_point(true).as_bytes(),
    )
    .unwrap();
    (sk, pk)
}

fn label() -> Label {
    serde_json::from_value(serde_json::json!({
        "ver": 1,
        "src": "did:plc:labeler",
        "uri": "at://did:plc:abc/app.bsky.feed.post/3kabcdefghij2",
        "val": "spam",
        "cts": "2024-01-01T00:00:00.000Z",
        "zzNew": "kept and signed",
    }))
    .unwrap()
}

fn signed(sk: &k256::ecdsa::SigningKey) -> Label {
    let mut l = label();
    let sig: k256::ecdsa::Signature = sk.sign(&label_signing_bytes(&l).unwrap());
    l.sig = Some(Bytes(sig.to_bytes().to_vec()));
    l
}

#[test]
fn signed_label_verifies_and_changes_break_it() {
    let (sk, pk) = key(0x21);
    let l = signed(&sk);
    verify_label(&l, &pk).unwrap();
    // The signature covers the unknown field too.
    let bytes = label_signing_bytes(&l).unwrap();
    assert!(bytes.windows(5).any(|w| w == b"zzNew"));

    let mut changed = l.clone();
    changed.val = "nudity".into();
    assert!(matches!(
        verify_label(&changed, &pk),
        Err(LabelError::Signature(_))
    ));

    let (_, other) = key(0x22);
    assert!(matches!(
        verify_label(&l, &other),
        Err(LabelError::Signature(_))
    ));

    assert_eq!(verify_label(&label(), &pk), Err(LabelError::Unsigned));
}

#[test]
fn label_key_comes_from_the_atproto_label_method() {
    let (_, pk) = key(0x21);
    let (_, signing) = key(0x23);
    let doc = |methods: serde_json::Value| {
        DidDocument::from_json(serde_json::json!({
            "id": "did:plc:labeler",
            "verificationMethod": methods,
        }))
        .unwrap()
    };
    let method = |id: &str, k: &PublicKey| {
        serde_json::json!({
            "id": id,
            "type": "Multikey",
            "controller": "did:plc:labeler",
            "publicKeyMultibase": k.to_multikey(),
        })
    };
    let d = doc(serde_json::json!([
        method("did:plc:labeler#atproto", &signing),
        method("did:plc:labeler#atproto_label", &pk),
    ]));
    assert_eq!(label_key(&d).unwrap(), pk);
    let d = doc(serde_json::json!([method("#atproto_label", &pk)]));
    assert_eq!(label_key(&d).unwrap(), pk);
    let d = doc(serde_json::json!([method(
        "did:plc:labeler#atproto",
        &signing
    )]));
    assert!(matches!(label_key(&d), Err(LabelError::Key(_))));
}
