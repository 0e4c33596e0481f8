//! ES256 keys, compact JWS signing, JWKs and their thumbprints.
//!
//! Only what atproto OAuth needs: P-256 keys that sign DPoP proofs and
//! `private_key_jwt` client assertions, serialized as JWKs.

use std::fmt;

use atmo_types::base64::{decode_url, encode_url};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::OAuthError;
use crate::util::random_bytes;

/// A P-256 private key for ES256 signatures, with an optional key id.
///
/// `Debug` shows only the key id and the JWK thumbprint. Serialization
/// writes the private JWK (`{"kty":"EC","crv":"P-256","x","y","d","kid"?}`):
/// that is what a session store must keep, so stores holding keys are as
/// sensitive as stores holding tokens.
#[derive(Clone)]
pub struct Es256Key {
    key: SigningKey,
    /// The same key in ring, which signs several times faster.
    #[cfg(feature = "ring")]
    fast: Option<std::sync::Arc<ring::signature::EcdsaKeyPair>>,
    kid: Option<String>,
    /// The public JWK members `x` and `y`, base64url.
    x: String,
    y: String,
    /// RFC 7638 thumbprint of the public JWK.
    thumbprint: String,
}

impl Es256Key {
    /// A fresh random key.
    pub fn generate() -> Result<Self, OAuthError> {
        // A random 32-byte string is a valid scalar except with negligible
        // probability (zero or at least the group order); try again then.
        for _ in 0..16 {
            let bytes = random_bytes::<32>()?;
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                return Ok(Self::from_signing_key(key, None));
            }
        }
        Err(OAuthError::Crypto(
            "could not draw a valid P-256 key".into(),
        ))
    }

    /// The key from its 32-byte private scalar.
    pub fn from_bytes(d: &[u8]) -> Result<Self, OAuthError> {
        let key = SigningKey::from_slice(d)
            .map_err(|_| OAuthError::Crypto("not a valid P-256 private key".into()))?;
        Ok(Self::from_signing_key(key, None))
    }

    /// Parses a private JWK (`kty` EC, `crv` P-256, `d`; `x`/`y` if present
    /// must match `d`; `kid` kept).
    pub fn from_jwk(jwk: &Value) -> Result<Self, OAuthError> {
        let bad = |m: &str| OAuthError::Crypto(format!("invalid private JWK: {m}"));
        let field = |k: &str| jwk.get(k).and_then(Value::as_str);
        if field("kty") != Some("EC") {
            return Err(bad("kty must be EC"));
        }
        if field("crv") != Some("P-256") {
            return Err(bad("crv must be P-256"));
        }
        let d = field("d").ok_or_else(|| bad("no private part d"))?;
        let d = decode_url(d).map_err(|_| bad("d is not base64url"))?;
        let mut key = Self::from_bytes(&d).map_err(|_| bad("d is not a P-256 scalar"))?;
        for (name, mine) in [("x", &key.x), ("y", &key.y)] {
            if let Some(v) = field(name) {
                if v != mine {
                    return Err(bad("x/y do not match d"));
                }
            }
        }
        if let Some(kid) = jwk.get("kid") {
            let kid = kid.as_str().ok_or_else(|| bad("kid is not a string"))?;
            key.kid = Some(kid.to_owned());
        }
        Ok(key)
    }

    fn from_signing_key(key: SigningKey, kid: Option<String>) -> Self {
        let point = key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        // Uncompressed SEC1: 0x04 || x (32) || y (32).
        let x = encode_url(bytes.get(1..33).unwrap_or_default());
        let y = encode_url(bytes.get(33..65).unwrap_or_default());
        // RFC 7638: the required members in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let thumbprint = encode_url(&Sha256::digest(canonical.as_bytes()));
        #[cfg(feature = "ring")]
        let fast = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.to_bytes(),
            bytes,
            &ring::rand::SystemRandom::new(),
        )
        .ok()
        .map(std::sync::Arc::new);
        Es256Key {
            key,
            #[cfg(feature = "ring")]
            fast,
            kid,
            x,
            y,
            thumbprint,
        }
    }

    /// The same key with key id `kid` (confidential clients' keys need one).
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The RFC 7638 JWK thumbprint (base64url SHA-256), the DPoP `jkt`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The public JWK (with `kid`, `alg` ES256 and `use` sig when a kid is
    /// set), as served in a JWK set.
    pub fn public_jwk(&self) -> Value {
        let mut m = Map::new();
        m.insert("kty".into(), "EC".into());
        m.insert("crv".into(), "P-256".into());
        m.insert("x".into(), self.x.clone().into());
        m.insert("y".into(), self.y.clone().into());
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), kid.clone().into());
            m.insert("alg".into(), "ES256".into());
            m.insert("use".into(), "sig".into());
        }
        Value::Object(m)
    }

    /// The public JWK without `kid`/`alg`/`use`: what a DPoP proof embeds.
    fn bare_public_jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y})
    }

    /// The private JWK. Keep it secret.
    pub fn private_jwk(&self) -> Value {
        let mut v = self.public_jwk();
        if let Value::Object(m) = &mut v {
            m.insert("d".into(), encode_url(&self.key.to_bytes()).into());
            m.remove("alg");
            m.remove("use");
        }
        v
    }

    /// Signs `header` and `claims` (JSON objects) as a compact JWS with
    /// ES256: `b64(header).b64(claims).b64(r||s)`.
    pub fn sign_jwt(&self, header: &Value, claims: &Value) -> String {
        let mut out = encode_url(header.to_string().as_bytes());
        out.push('.');
        out.push_str(&encode_url(claims.to_string().as_bytes()));
        out.push('.');
        #[cfg(feature = "ring")]
        if let Some(fast) = &self.fast {
            let rng = ring::rand::SystemRandom::new();
            let signing_input = out.get(..out.len() - 1).unwrap_or_default();
            if let Ok(sig) = fast.sign(&rng, signing_input.as_bytes()) {
                // FIXED_SIGNING: r || s, 64 bytes, as JWS wants.
                out.push_str(&encode_url(sig.as_ref()));
                return out;
            }
        }
        let signing_input = out.get(..out.len() - 1).unwrap_or_default();
        let sig: Signature = self.key.sign(signing_input.as_bytes());
        out.push_str(&encode_url(&sig.to_bytes()));
        out
    }

    /// A DPoP proof (RFC 9449) for `htm` on `htu` (its query and fragment
    /// are dropped), issued now, with a fresh `jti`, the server's `nonce`
    /// when known and `ath` (the hash of the access token) when one is sent.
    pub fn dpop_proof(
        &self,
        htm: &str,
        htu: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, OAuthError> {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.bare_public_jwk()});
        let mut claims = Map::new();
        claims.insert("jti".into(), encode_url(&random_bytes::<16>()?).into());
        claims.insert("htm".into(), htm.into());
        claims.insert("htu".into(), crate::util::strip_query(htu).into());
        claims.insert("iat".into(), crate::util::now_secs().into());
        if let Some(n) = nonce {
            claims.insert("nonce".into(), n.into());
        }
        if let Some(at) = access_token {
            claims.insert("ath".into(), access_token_hash(at).into());
        }
        Ok(self.sign_jwt(&header, &Value::Object(claims)))
    }
}

/// `ath`: base64url(SHA-256(access token)).
pub fn access_token_hash(token: &str) -> String {
    encode_url(&Sha256::digest(token.as_bytes()))
}

impl fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256Key")
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Es256Key {
    fn eq(&self, other: &Self) -> bool {
        self.thumbprint == other.thumbprint && self.kid == other.kid
    }
}

impl Serialize for Es256Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.private_jwk().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Es256Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        // The message names the problem, never the key material.
        Es256Key::from_jwk(&v).map_err(|e| D::Error::custom(e.to_string()))
    }
}

/// The JOSE header and claims of a compact JWS, decoded without checking
/// the signature (for tests and diagnostics).
pub fn decode_jwt_unverified(jwt: &str) -> Result<(Value, Value), OAuthError> {
    let bad = |m: &str| OAuthError::Crypto(format!("not a compact JWS: {m}"));
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected three parts"));
    };
    let parse = |p: &str| -> Result<Value, OAuthError> {
        let bytes = decode_url(p).map_err(|_| bad("a part is not base64url"))?;
        serde_json::from_slice(&bytes).map_err(|_| bad("a part is not JSON"))
    };
    Ok((parse(h)?, parse(c)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;

    fn verify(jwt: &str, key: &Es256Key) -> bool {
        let (signing_input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = Signature::from_slice(&decode_url(sig).unwrap()).unwrap();
        let vk = VerifyingKey::from(&key.key);
        vk.verify(signing_input.as_bytes(), &sig).is_ok()
    }

    #[test]
    fn proof_has_the_dpop_shape_and_verifies() {
        let key = Es256Key::generate().unwrap();
        let proof = key
            .dpop_proof(
                "POST",
                "https://pds.example/xrpc/a.b.c?x=1#f",
                Some("n1"),
                Some("tok"),
            )
            .unwrap();
        assert!(verify(&proof, &key));
        let (h, c) = decode_jwt_unverified(&proof).unwrap();
        assert_eq!(h["typ"], "dpop+jwt");
        assert_eq!(h["alg"], "ES256");
        assert_eq!(h["jwk"]["kty"], "EC");
        assert!(
            h["jwk"].get("d").is_none(),
            "the proof must not carry the private key"
        );
        assert_eq!(c["htm"], "POST");
        assert_eq!(c["htu"], "https://pds.example/xrpc/a.b.c");
        assert_eq!(c["nonce"], "n1");
        assert_eq!(c["ath"], access_token_hash("tok"));
        assert!(c["iat"].as_u64().unwrap() > 1_700_000_000);
        let other = key.dpop_proof("POST", "https://x/", None, None).unwrap();
        let (_, c2) = decode_jwt_unverified(&other).unwrap();
        assert_ne!(c["jti"], c2["jti"], "jti must be unique");
        assert!(c2.get("nonce").is_none() && c2.get("ath").is_none());
    }

    #[test]
    fn every_signature_verifies() {
        // ring's signatures are randomized, p256's deterministic: both must
        // verify with the public key, many times over.
        let key = Es256Key::generate().unwrap();
        for i in 0..50 {
            let jwt = key.sign_jwt(&json!({"alg": "ES256"}), &json!({"i": i}));
            assert!(verify(&jwt, &key), "signature {i}");
        }
        #[cfg(feature = "ring")]
        assert!(key.fast.is_some(), "ring accepts the key");
    }

    #[test]
    fn ath_matches_rfc9449_example() {
        // RFC 9449 section 7.1: the hash of the example access token.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn thumbprint_matches_rfc7638_style_computation() {
        // RFC 7638 3.1 example uses an RSA key; check the EC rule instead:
        // a key parsed from its JWK has the same thumbprint, and a different
        // key a different one.
        let key = Es256Key::generate().unwrap().with_kid("k1");
        let back = Es256Key::from_jwk(&key.private_jwk()).unwrap();
        assert_eq!(back, key);
        assert_eq!(back.thumbprint(), key.thumbprint());
        assert_eq!(back.kid(), Some("k1"));
        assert_ne!(Es256Key::generate().unwrap().thumbprint(), key.thumbprint());
        assert_eq!(key.thumbprint().len(), 43);
    }

    #[test]
    fn known_scalar_gives_known_public_key() {
        // The P-256 generator: d = 1 gives G.
        let mut d = [0u8; 32];
        d[31] = 1;
        let key = Es256Key::from_bytes(&d).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk["x"], "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY");
        assert_eq!(jwk["y"], "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU");
    }

    #[test]
    fn bad_jwks_are_errors_without_key_material() {
        let key = Es256Key::generate().unwrap();
        let mut jwk = key.private_jwk();
        jwk["x"] = Es256Key::generate().unwrap().public_jwk()["x"].clone();
        let e = Es256Key::from_jwk(&jwk).unwrap_err().to_string();
        assert!(e.contains("do not match"), "{e}");
        let d = key.private_jwk()["d"].as_str().unwrap().to_owned();
        assert!(!e.contains(&d));
        for bad in [
            json!({}),
            json!({"kty":"EC","crv":"P-384","d":"AA"}),
            json!({"kty":"EC","crv":"P-256","d":"!!"}),
            json!({"kty":"EC","crv":"P-256","d":"AAAA"}),
            json!("x"),
        ] {
            assert!(Es256Key::from_jwk(&bad).is_err(), "{bad}");
        }
        assert!(format!("{key:?}").contains("thumbprint"));
        assert!(!format!("{key:?}").contains(&d));
    }

    #[test]
    fn serde_round_trip() {
        let key = Es256Key::generate().unwrap();
        let text = serde_json::to_string(&key).unwrap();
        let back: Es256Key = serde_json::from_str(&text).unwrap();
        assert_eq!(back, key);
        assert!(serde_json::from_str::<Es256Key>("{\"kty\":\"EC\"}").is_err());
    }
}
