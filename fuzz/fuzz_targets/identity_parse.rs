//! atmo-identity's and atmo-crypto's parsers on arbitrary input: DID
//! documents (and the PDS, signing key and handle read from them), did:key
//! and multibase keys (a parsed key formats back to text that parses to the
//! same key), signature verification with such keys, handles, DIDs, TXT
//! records and well-known bodies. Errors are fine; panics are not.
//!
//! The first byte picks what the rest is fed to.
#![no_main]

use atmo_crypto::{Curve, PublicKey};
use atmo_identity::{parse, DidDocument};
use atmo_types::Handle;
use libfuzzer_sys::fuzz_target;

fn check_key(key: &PublicKey) {
    let again = PublicKey::from_did_key(&key.to_did_key()).expect("formatted did:key parses");
    assert_eq!(&again, key);
    let again = PublicKey::from_multikey(&key.to_multikey()).expect("formatted multikey parses");
    assert_eq!(&again, key);
    let _ = key.verify(b"message", &[1u8; 64]);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = std::str::from_utf8(rest).ok();
    match mode % 6 {
        0 => {
            if let Ok(doc) = DidDocument::parse(rest) {
                let _ = doc.pds();
                let _ = doc.handle();
                if let Ok(key) = doc.signing_key() {
                    check_key(&key);
                }
                let again = DidDocument::parse(&doc.to_json_bytes()).expect("re-serialized parses");
                assert_eq!(again, doc);
            }
        }
        1 => {
            if let Some(t) = text {
                if let Ok(key) = PublicKey::from_did_key(t) {
                    check_key(&key);
                }
                if let Ok(key) = PublicKey::from_multikey(t) {
                    check_key(&key);
                }
            }
        }
        2 => {
            if let Some(t) = text {
                for curve in [Curve::K256, Curve::P256] {
                    if let Ok(key) = PublicKey::from_legacy_multibase(curve, t) {
                        check_key(&key);
                    }
                }
            }
        }
        3 => {
            // Raw SEC1 bytes and a signature: the split is the first byte.
            let (key, sig) = rest.split_at(rest.len().min(65));
            for curve in [Curve::K256, Curve::P256] {
                if let Ok(k) = PublicKey::from_sec1(curve, key) {
                    check_key(&k);
                    let _ = k.verify(sig, sig);
                }
            }
        }
        4 => {
            if let Some(t) = text {
                if let Ok(h) = parse::normalize_handle(t) {
                    assert_eq!(h.as_str(), h.as_str().to_ascii_lowercase());
                }
                let _ = parse::parse_did(t);
                if let Ok(h) = Handle::new("fuzz.example.com") {
                    let records: Vec<String> = t.split('\n').map(str::to_owned).collect();
                    let _ = parse::did_from_txt_records(&h, &records);
                    let _ = parse::did_from_well_known(&h, rest);
                }
            }
        }
        _ => {
            if let Some(t) = text {
                let _ = atmo_crypto::multibase::decode_multibase(t);
                let _ = atmo_identity::net::non_public_host(t);
            }
        }
    }
});
