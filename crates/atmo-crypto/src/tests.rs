use super::*;

const K256_DID: &str = "did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";
const P256_DID: &str = "did:key:zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo";

#[test]
fn did_key_round_trips_on_both_curves() {
    for (did, curve) in [(K256_DID, Curve::K256), (P256_DID, Curve::P256)] {
        let key = PublicKey::from_did_key(did).unwrap();
        assert_eq!(key.curve(), curve);
        assert!(matches!(key.compressed()[0], 2 | 3));
        assert_eq!(key.to_did_key(), did);
        assert_eq!(key.to_string(), did);
        assert_eq!(format!("did:key:{}", key.to_multikey()), did);
        assert_eq!(PublicKey::from_multikey(&key.to_multikey()).unwrap(), key);
        assert_eq!(
            PublicKey::from_verification_method("Multikey", &key.to_multikey()).unwrap(),
            key
        );
        assert_eq!(did.parse::<PublicKey>().unwrap(), key);
        assert!(format!("{key:?}").contains(did));
    }
}

#[test]
fn did_key_prefixes_name_the_curve() {
    // Multicodec varints: e7 01 for secp256k1-pub, 80 24 for p256-pub;
    // compressed keys in base58 then start with Q3s / Dna.
    let k = PublicKey::from_sec1(Curve::K256, &[[2u8].as_slice(), &[7; 32]].concat()).unwrap();
    assert!(k.to_did_key().starts_with("did:key:zQ3s"), "{k}");
    let p = PublicKey::from_sec1(Curve::P256, &[[3u8].as_slice(), &[7; 32]].concat()).unwrap();
    assert!(p.to_did_key().starts_with("did:key:zDna"), "{p}");
}

#[test]
fn legacy_multibase_reads_curve_from_type() {
    // The signature fixtures give both forms of the same key.
    let k = PublicKey::from_verification_method(
        "EcdsaSecp256k1VerificationKey2019",
        "z25z9DTpsiYYJKGsWmSPJK2NFN8PcJtZig12K59UgW7q5t",
    )
    .unwrap();
    assert_eq!(k.to_did_key(), K256_DID);
    let p = PublicKey::from_legacy_multibase(
        Curve::P256,
        "zxdM8dSstjrpZaRUwBmDvjGXweKuEMVN95A9oJBFjkWMh",
    )
    .unwrap();
    assert_eq!(p.to_did_key(), P256_DID);
    let err =
        PublicKey::from_verification_method("Ed25519VerificationKey2020", "z6Mk").unwrap_err();
    assert!(
        matches!(err.kind(), KeyErrorKind::UnsupportedMethodType(t) if t == "Ed25519VerificationKey2020")
    );
}

#[test]
fn refusals_say_what_and_where() {
    type Check = fn(&KeyErrorKind) -> bool;
    let cases: &[(&str, Check, &str)] = &[
        (
            "did:web:example.com",
            |k| *k == KeyErrorKind::NotDidKey,
            "not a did:key",
        ),
        (
            "zQ3shqwJEJyMBsBXCWy",
            |k| *k == KeyErrorKind::NotDidKey,
            "not a did:key",
        ),
        (
            "did:key:",
            |k| matches!(k, KeyErrorKind::Multibase(multibase::MultibaseError::Empty)),
            "empty",
        ),
        (
            "did:key:mAbCd",
            |k| {
                matches!(
                    k,
                    KeyErrorKind::Multibase(multibase::MultibaseError::UnsupportedBase('m'))
                )
            },
            "prefix 'm'",
        ),
        (
            "did:key:zQ3sh0wJEJ",
            |k| {
                matches!(
                    k,
                    KeyErrorKind::Multibase(multibase::MultibaseError::InvalidCharacter {
                        character: '0',
                        offset: 4
                    })
                )
            },
            "offset 4",
        ),
        // Ed25519 (multicodec 0xed): a valid did:key, but not an atproto key.
        (
            "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            |k| *k == KeyErrorKind::UnsupportedCodec(0xed),
            "0xed",
        ),
    ];
    for (input, check, message) in cases {
        let err = PublicKey::from_did_key(input).unwrap_err();
        assert!(check(err.kind()), "{input}: {:?}", err.kind());
        let text = err.to_string();
        assert!(text.contains(message), "{input}: {text}");
        assert!(
            text.contains(&input[..input.len().min(20)]),
            "{input}: {text}"
        );
    }
    // Right prefix, too few bytes.
    let short = multibase::encode_multibase(&[0xe7, 0x01, 0x02, 9, 9, 9]);
    let err = PublicKey::from_multikey(&short).unwrap_err();
    assert_eq!(err.kind(), &KeyErrorKind::Length(4));
    assert!(
        err.to_string().contains("4 bytes of key, expected 33"),
        "{err}"
    );
    // A multicodec varint that never ends.
    let bytes = multibase::encode_multibase(&[0x80, 0x80]);
    assert_eq!(
        PublicKey::from_multikey(&bytes).unwrap_err().kind(),
        &KeyErrorKind::BadMulticodec
    );
    // Wrong SEC1 tag.
    let mut bad = vec![0xe7, 0x01, 0x05];
    bad.extend_from_slice(&[1; 32]);
    assert_eq!(
        PublicKey::from_multikey(&multibase::encode_multibase(&bad))
            .unwrap_err()
            .kind(),
        &KeyErrorKind::PointTag(5)
    );
    assert_eq!(
        PublicKey::from_sec1(Curve::K256, &[]).unwrap_err().kind(),
        &KeyErrorKind::Length(0)
    );
    assert_eq!(
        PublicKey::from_sec1(Curve::K256, &[2; 34])
            .unwrap_err()
            .kind(),
        &KeyErrorKind::Length(34)
    );
    // Long inputs are cut in messages.
    let long = format!("did:key:z{}", "2".repeat(1000));
    let err = PublicKey::from_did_key(&long).unwrap_err();
    assert!(err.input().len() < 130);
    assert!(err.to_string().len() < 300);
}

#[test]
fn curve_names() {
    assert_eq!(Curve::K256.jwt_alg(), "ES256K");
    assert_eq!(Curve::P256.jwt_alg(), "ES256");
    assert_eq!(Curve::from_multicodec(0xe7), Some(Curve::K256));
    assert_eq!(Curve::from_multicodec(0x1200), Some(Curve::P256));
    assert_eq!(Curve::from_multicodec(0xed), None);
    assert_eq!(Curve::P256.to_string(), "P-256");
}

#[cfg(feature = "verify")]
mod verification {
    use super::*;

    fn fixture_key(curve: Curve) -> (PublicKey, k256::ecdsa::SigningKey, p256::ecdsa::SigningKey) {
        let k = k256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
        let p = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap();
        let key = match curve {
            Curve::K256 => {
                PublicKey::from_sec1(curve, k.verifying_key().to_sec1_point(true).as_bytes())
            }
            Curve::P256 => {
                PublicKey::from_sec1(curve, p.verifying_key().to_sec1_point(true).as_bytes())
            }
        }
        .unwrap();
        (key, k, p)
    }

    fn sign(
        curve: Curve,
        k: &k256::ecdsa::SigningKey,
        p: &p256::ecdsa::SigningKey,
        msg: &[u8],
    ) -> Vec<u8> {
        use k256::ecdsa::signature::Signer;
        match curve {
            Curve::K256 => {
                let s: k256::ecdsa::Signature = k.sign(msg);
                s.normalize_s().to_bytes().to_vec()
            }
            Curve::P256 => {
                let s: p256::ecdsa::Signature = p.sign(msg);
                s.normalize_s().to_bytes().to_vec()
            }
        }
    }

    /// Replaces s by n - s: the same signature in its high-S form.
    fn flip_s(curve: Curve, sig: &[u8]) -> Vec<u8> {
        match curve {
            Curve::K256 => {
                let s = k256::ecdsa::Signature::from_slice(sig).unwrap();
                let (r, s) = s.split_scalars();
                k256::ecdsa::Signature::from_scalars(r, -s)
                    .unwrap()
                    .to_bytes()
                    .to_vec()
            }
            Curve::P256 => {
                let s = p256::ecdsa::Signature::from_slice(sig).unwrap();
                let (r, s) = s.split_scalars();
                p256::ecdsa::Signature::from_scalars(r, -s)
                    .unwrap()
                    .to_bytes()
                    .to_vec()
            }
        }
    }

    #[test]
    fn sign_verify_and_refusals_on_both_curves() {
        for curve in [Curve::K256, Curve::P256] {
            let (key, k, p) = fixture_key(curve);
            let msg = b"atproto commit bytes";
            let sig = sign(curve, &k, &p, msg);
            assert_eq!(key.verify(msg, &sig), Ok(()), "{curve}");
            assert_eq!(key.verify(b"other", &sig), Err(SignatureError::Mismatch));
            let mut tampered = sig.clone();
            tampered[10] ^= 1;
            assert!(key.verify(msg, &tampered).is_err());
            assert_eq!(
                key.verify(msg, &flip_s(curve, &sig)),
                Err(SignatureError::HighS),
                "{curve}"
            );
            assert_eq!(key.verify(msg, &sig[..63]), Err(SignatureError::Length(63)));
            assert_eq!(key.verify(msg, &[]), Err(SignatureError::Length(0)));
            assert_eq!(key.verify(msg, &[0; 64]), Err(SignatureError::Malformed));
            assert_eq!(key.verify(msg, &[0xff; 64]), Err(SignatureError::Malformed));
            // The other curve's key does not verify it.
            let other = if curve == Curve::K256 {
                Curve::P256
            } else {
                Curve::K256
            };
            let (other_key, _, _) = fixture_key(other);
            assert!(other_key.verify(msg, &sig).is_err());
        }
    }

    #[test]
    fn uncompressed_keys_are_checked_and_compressed() {
        for curve in [Curve::K256, Curve::P256] {
            let (key, k, p) = fixture_key(curve);
            let full: Vec<u8> = match curve {
                Curve::K256 => k.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
                Curve::P256 => p.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            };
            assert_eq!(full.len(), 65);
            assert_eq!(PublicKey::from_sec1(curve, &full).unwrap(), key);
            let mut prefixed = Vec::new();
            multibase::write_varint(curve.multicodec(), &mut prefixed);
            prefixed.extend_from_slice(&full);
            assert_eq!(
                PublicKey::from_multikey(&multibase::encode_multibase(&prefixed)).unwrap(),
                key
            );
            let mut off = full.clone();
            off[64] ^= 2;
            assert_eq!(
                PublicKey::from_sec1(curve, &off).unwrap_err().kind(),
                &KeyErrorKind::NotOnCurve
            );
        }
    }

    #[test]
    fn key_off_the_curve_fails_verification_not_parsing() {
        // x = 5 on P-256: 5^3 - 15 + b is not a square mod p for one of the
        // two tags at least; try both and require one to be refused.
        let mut refused = 0;
        for x in 0u8..8 {
            for tag in [2u8, 3] {
                let mut bytes = [0u8; 33];
                bytes[0] = tag;
                bytes[32] = x;
                let key = PublicKey::from_sec1(Curve::P256, &bytes).unwrap();
                if key.verify(b"m", &[1; 64]) == Err(SignatureError::InvalidKey) {
                    refused += 1;
                }
            }
        }
        assert!(refused > 0);
    }
}
