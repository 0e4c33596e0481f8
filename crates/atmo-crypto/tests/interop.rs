//! The atproto interop crypto vectors: signature fixtures (valid low-S
//! signatures pass; high-S and DER-encoded ones fail) and the W3C did:key
//! vectors (a private key's public key formats to the given did:key).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use atmo_crypto::{multibase, Curve, PublicKey};
use serde_json::Value;

fn load(name: &str) -> Option<Vec<Value>> {
    let dir = common::shared_subdir("atproto-interop-tests/crypto")?;
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

fn b64(s: &str) -> Vec<u8> {
    atmo_types::base64::decode(s).unwrap()
}

#[test]
fn signature_fixtures() {
    let Some(fixtures) = load("signature-fixtures.json") else {
        return;
    };
    assert!(fixtures.len() >= 6);
    let (mut valid, mut high_s, mut der) = (0, 0, 0);
    for f in &fixtures {
        let comment = f["comment"].as_str().unwrap();
        let did = f["publicKeyDid"].as_str().unwrap();
        let key = PublicKey::from_did_key(did).unwrap();
        assert_eq!(
            key.curve().jwt_alg(),
            f["algorithm"].as_str().unwrap(),
            "{comment}"
        );
        assert_eq!(key.to_did_key(), did, "{comment}");
        // The legacy DID-document form of the same key.
        let legacy = PublicKey::from_verification_method(
            f["didDocSuite"].as_str().unwrap(),
            f["publicKeyMultibase"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(legacy, key, "{comment}");

        let message = b64(f["messageBase64"].as_str().unwrap());
        let signature = b64(f["signatureBase64"].as_str().unwrap());
        let result = key.verify(&message, &signature);
        let tags: Vec<&str> = f["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        if f["validSignature"].as_bool().unwrap() {
            assert_eq!(result, Ok(()), "{comment}");
            valid += 1;
        } else {
            let err = result.expect_err(comment);
            if tags.contains(&"high-s") {
                assert_eq!(err, atmo_crypto::SignatureError::HighS, "{comment}");
                high_s += 1;
            }
            if tags.contains(&"der-encoded") {
                assert!(
                    matches!(err, atmo_crypto::SignatureError::Length(n) if n != 64),
                    "{comment}: {err:?}"
                );
                assert!(err.to_string().contains("DER"), "{err}");
                der += 1;
            }
        }
    }
    assert!(
        valid >= 2 && high_s >= 2 && der >= 2,
        "{valid} {high_s} {der}"
    );
}

fn check_didkey_vectors(name: &str, curve: Curve, private_field: &str) {
    let Some(vectors) = load(name) else {
        return;
    };
    assert!(!vectors.is_empty());
    for v in &vectors {
        let private = v[private_field].as_str().unwrap();
        let private = if private_field.ends_with("Hex") {
            (0..private.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&private[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
        } else {
            multibase::decode_base58btc(private).unwrap()
        };
        let public = match curve {
            Curve::K256 => k256::ecdsa::SigningKey::from_slice(&private)
                .unwrap()
                .verifying_key()
                .to_sec1_point(true)
                .as_bytes()
                .to_vec(),
            Curve::P256 => p256::ecdsa::SigningKey::from_slice(&private)
                .unwrap()
                .verifying_key()
                .to_sec1_point(true)
                .as_bytes()
                .to_vec(),
        };
        let did = v["publicDidKey"].as_str().unwrap();
        let key = PublicKey::from_sec1(curve, &public).unwrap();
        assert_eq!(key.to_did_key(), did);
        assert_eq!(PublicKey::from_did_key(did).unwrap(), key);
    }
}

#[test]
fn w3c_didkey_k256() {
    check_didkey_vectors("w3c_didkey_K256.json", Curve::K256, "privateKeyBytesHex");
}

#[test]
fn w3c_didkey_p256() {
    check_didkey_vectors("w3c_didkey_P256.json", Curve::P256, "privateKeyBytesBase58");
}
