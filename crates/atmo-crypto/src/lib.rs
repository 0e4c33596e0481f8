//! atproto's public keys: parsing, formatting and (feature `verify`)
//! signature verification.
//!
//! atproto uses two elliptic curves, K-256 (secp256k1, JWT `ES256K`) and
//! P-256 (secp256r1, JWT `ES256`). Keys travel as `did:key:z…` strings and as
//! the `publicKeyMultibase` of a DID document's verification method; both
//! are a multicodec-prefixed compressed point in multibase base58btc.
//! [`PublicKey`] reads those (and the older DID-document form, where the curve
//! is named by the method's `type` and the multibase has no prefix), writes
//! them back, and with the `verify` feature checks signatures the way atproto
//! requires: ECDSA over SHA-256, 64-byte `r‖s` only, low-S only.
//!
//! Among the workspace's crates this one sits at the bottom, beside
//! `atmo-types`: `atmo-identity` reads the `#atproto` signing key of DID
//! documents with it, `atmo-sync` verifies commit signatures with it.
//! Without the default `verify` feature it has no dependencies at all.
//!
//! ```
//! use atmo_crypto::{Curve, PublicKey};
//!
//! let key: PublicKey = "did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc".parse()?;
//! assert_eq!(key.curve(), Curve::K256);
//! assert_eq!(key.to_did_key(), "did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc");
//! # Ok::<(), atmo_crypto::KeyError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;

pub mod multibase;
#[cfg(feature = "verify")]
mod verify;

use multibase::MultibaseError;

/// The curves atproto keys live on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Curve {
    /// secp256k1 (`ES256K`), multicodec `secp256k1-pub` (0xe7).
    K256,
    /// NIST P-256 / secp256r1 (`ES256`), multicodec `p256-pub` (0x1200).
    P256,
}

impl Curve {
    /// The JWT `alg` name: `ES256K` or `ES256`.
    pub fn jwt_alg(self) -> &'static str {
        match self {
            Curve::K256 => "ES256K",
            Curve::P256 => "ES256",
        }
    }

    /// The multicodec code of the curve's public keys.
    pub fn multicodec(self) -> u64 {
        match self {
            Curve::K256 => 0xe7,
            Curve::P256 => 0x1200,
        }
    }

    /// The curve whose public keys have multicodec `code`.
    pub fn from_multicodec(code: u64) -> Option<Curve> {
        match code {
            0xe7 => Some(Curve::K256),
            0x1200 => Some(Curve::P256),
            _ => None,
        }
    }

    /// The curve named by a legacy DID-document verification method `type`
    /// (`EcdsaSecp256k1VerificationKey2019` or
    /// `EcdsaSecp256r1VerificationKey2019`).
    pub fn from_legacy_method_type(method_type: &str) -> Option<Curve> {
        match method_type {
            "EcdsaSecp256k1VerificationKey2019" => Some(Curve::K256),
            "EcdsaSecp256r1VerificationKey2019" => Some(Curve::P256),
            _ => None,
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Curve::K256 => "K-256",
            Curve::P256 => "P-256",
        })
    }
}

/// A K-256 or P-256 public key, kept as its 33-byte compressed SEC1 point.
///
/// Parsing checks the encoding (multibase, multicodec, length, SEC1 point
/// tag); whether the bytes are really a point on the curve is only known to
/// the curve arithmetic of the `verify` feature: `PublicKey::verify`
/// reports such a key as [`SignatureError::InvalidKey`], and with that
/// feature uncompressed input is also checked to lie on the curve when it is
/// parsed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    curve: Curve,
    point: [u8; 33],
}

/// The `did:key:` prefix.
const DID_KEY_PREFIX: &str = "did:key:";

impl PublicKey {
    /// A key from its SEC1 encoding: 33 bytes compressed (`02`/`03` tag) or
    /// 65 bytes uncompressed (`04` tag, stored compressed).
    pub fn from_sec1(curve: Curve, bytes: &[u8]) -> Result<PublicKey, KeyError> {
        Self::from_sec1_in(curve, bytes, "")
    }

    fn from_sec1_in(curve: Curve, bytes: &[u8], input: &str) -> Result<PublicKey, KeyError> {
        let err = |kind| KeyError::new(input, kind);
        match bytes {
            [tag @ (2 | 3), x @ ..] if x.len() == 32 => {
                let mut point = [0u8; 33];
                point[0] = *tag;
                point[1..].copy_from_slice(x);
                Ok(PublicKey { curve, point })
            }
            [4, xy @ ..] if xy.len() == 64 => {
                let (x, y) = xy.split_at(32);
                let mut point = [0u8; 33];
                point[0] = 2 | (y.last().copied().unwrap_or(0) & 1);
                point[1..].copy_from_slice(x);
                let key = PublicKey { curve, point };
                #[cfg(feature = "verify")]
                if !verify::uncompressed_matches(curve, bytes, &key.point) {
                    return Err(err(KeyErrorKind::NotOnCurve));
                }
                Ok(key)
            }
            [tag, ..] if !matches!(tag, 2..=4) => Err(err(KeyErrorKind::PointTag(*tag))),
            _ => Err(err(KeyErrorKind::Length(bytes.len()))),
        }
    }

    /// Parses `did:key:z…` (multicodec `secp256k1-pub` or `p256-pub`).
    pub fn from_did_key(did: &str) -> Result<PublicKey, KeyError> {
        let Some(multikey) = did.strip_prefix(DID_KEY_PREFIX) else {
            return Err(KeyError::new(did, KeyErrorKind::NotDidKey));
        };
        Self::from_multikey_in(multikey, did)
    }

    /// Parses a Multikey `publicKeyMultibase` (what follows `did:key:`):
    /// `z` + base58btc of the multicodec varint and the SEC1 point.
    pub fn from_multikey(multibase: &str) -> Result<PublicKey, KeyError> {
        Self::from_multikey_in(multibase, multibase)
    }

    fn from_multikey_in(multibase: &str, input: &str) -> Result<PublicKey, KeyError> {
        let bytes = multibase::decode_multibase(multibase)
            .map_err(|e| KeyError::new(input, KeyErrorKind::Multibase(e)))?;
        let Some((code, point)) = multibase::read_varint(&bytes) else {
            return Err(KeyError::new(input, KeyErrorKind::BadMulticodec));
        };
        let curve = Curve::from_multicodec(code)
            .ok_or_else(|| KeyError::new(input, KeyErrorKind::UnsupportedCodec(code)))?;
        Self::from_sec1_in(curve, point, input)
    }

    /// Parses the legacy `publicKeyMultibase` of a verification method whose
    /// `type` names the curve (`EcdsaSecp256k1VerificationKey2019`…): `z` +
    /// base58btc of the SEC1 point, no multicodec prefix.
    pub fn from_legacy_multibase(curve: Curve, multibase: &str) -> Result<PublicKey, KeyError> {
        let bytes = multibase::decode_multibase(multibase)
            .map_err(|e| KeyError::new(multibase, KeyErrorKind::Multibase(e)))?;
        Self::from_sec1_in(curve, &bytes, multibase)
    }

    /// Parses a DID-document verification method's key from its `type` and
    /// `publicKeyMultibase`: `Multikey` (the current form) or one of the two
    /// legacy types.
    pub fn from_verification_method(
        method_type: &str,
        public_key_multibase: &str,
    ) -> Result<PublicKey, KeyError> {
        if method_type == "Multikey" {
            return Self::from_multikey(public_key_multibase);
        }
        match Curve::from_legacy_method_type(method_type) {
            Some(curve) => Self::from_legacy_multibase(curve, public_key_multibase),
            None => Err(KeyError::new(
                public_key_multibase,
                KeyErrorKind::UnsupportedMethodType(truncate(method_type)),
            )),
        }
    }

    /// The curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The 33-byte compressed SEC1 point.
    pub fn compressed(&self) -> &[u8; 33] {
        &self.point
    }

    /// The Multikey form (`z…`), as in `publicKeyMultibase` of a `Multikey`
    /// verification method.
    pub fn to_multikey(&self) -> String {
        let mut bytes = Vec::with_capacity(35);
        multibase::write_varint(self.curve.multicodec(), &mut bytes);
        bytes.extend_from_slice(&self.point);
        multibase::encode_multibase(&bytes)
    }

    /// The `did:key:z…` form.
    pub fn to_did_key(&self) -> String {
        let mut out = String::from(DID_KEY_PREFIX);
        out.push_str(&self.to_multikey());
        out
    }

    /// Verifies `signature` over `message` as atproto requires: ECDSA with
    /// SHA-256 of `message`, the signature as 64 bytes `r‖s` (DER is
    /// refused), `s` in the lower half of the group order (high-S is refused
    /// on both curves, so each signature has one valid form).
    #[cfg(feature = "verify")]
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        verify::verify(self, message, signature)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    /// Parses the `did:key:` form.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        PublicKey::from_did_key(s)
    }
}

impl fmt::Display for PublicKey {
    /// Writes the `did:key:` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_did_key())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.curve, self.to_did_key())
    }
}

/// Longest part of an input repeated in an error message.
const MAX_QUOTED: usize = 120;

fn truncate(s: &str) -> String {
    if s.len() <= MAX_QUOTED {
        return s.to_owned();
    }
    let mut end = MAX_QUOTED;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A key that could not be read: the input (cut to 120 bytes) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError {
    input: String,
    kind: KeyErrorKind,
}

impl KeyError {
    fn new(input: &str, kind: KeyErrorKind) -> KeyError {
        KeyError {
            input: truncate(input),
            kind,
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> &KeyErrorKind {
        &self.kind
    }

    /// The text that was being parsed (empty for raw bytes), cut to 120 bytes.
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// What was wrong with a key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyErrorKind {
    /// Does not start with `did:key:`.
    NotDidKey,
    /// The multibase text is not valid base58btc.
    Multibase(MultibaseError),
    /// The bytes do not start with a valid multicodec varint.
    BadMulticodec,
    /// A multicodec other than `secp256k1-pub` (0xe7) and `p256-pub` (0x1200).
    UnsupportedCodec(u64),
    /// A verification method `type` other than `Multikey`,
    /// `EcdsaSecp256k1VerificationKey2019`, `EcdsaSecp256r1VerificationKey2019`.
    UnsupportedMethodType(String),
    /// The SEC1 point has this length instead of 33 (compressed) or 65
    /// (uncompressed) bytes.
    Length(usize),
    /// The SEC1 point starts with this tag instead of 2, 3 (compressed) or 4.
    PointTag(u8),
    /// The uncompressed point is not on the curve.
    NotOnCurve,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.input.is_empty() {
            f.write_str("public key: ")?;
        } else {
            write!(f, "public key {:?}: ", self.input)?;
        }
        match &self.kind {
            KeyErrorKind::NotDidKey => f.write_str("not a did:key (expected did:key:z…)"),
            KeyErrorKind::Multibase(e) => write!(f, "{e}"),
            KeyErrorKind::BadMulticodec => f.write_str("no valid multicodec prefix"),
            KeyErrorKind::UnsupportedCodec(c) => write!(
                f,
                "multicodec 0x{c:x} is not a supported key type (secp256k1-pub 0xe7, p256-pub 0x1200)"
            ),
            KeyErrorKind::UnsupportedMethodType(t) => write!(
                f,
                "verification method type {t:?} is not supported (Multikey, EcdsaSecp256k1VerificationKey2019, EcdsaSecp256r1VerificationKey2019)"
            ),
            KeyErrorKind::Length(n) => write!(
                f,
                "{n} bytes of key, expected 33 (compressed) or 65 (uncompressed)"
            ),
            KeyErrorKind::PointTag(t) => write!(
                f,
                "point tag 0x{t:02x}, expected 02 or 03 (compressed) or 04 (uncompressed)"
            ),
            KeyErrorKind::NotOnCurve => f.write_str("the point is not on the curve"),
        }
    }
}

impl std::error::Error for KeyError {}

/// Why a signature did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not 64 bytes (`r‖s`); holds the length. DER-encoded signatures
    /// (70–72 bytes, starting 0x30) land here: atproto refuses them.
    Length(usize),
    /// `r` or `s` is zero or not below the group order.
    Malformed,
    /// `s` is in the upper half of the group order: atproto accepts only
    /// the low-S form.
    HighS,
    /// The key's bytes are not a point on its curve.
    InvalidKey,
    /// The signature does not match the message and key.
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::Length(n) if *n >= 8 && n.abs_diff(71) <= 2 => write!(
                f,
                "signature of {n} bytes looks DER-encoded; atproto requires 64 bytes r‖s"
            ),
            SignatureError::Length(n) => {
                write!(f, "signature of {n} bytes; atproto requires 64 bytes r‖s")
            }
            SignatureError::Malformed => f.write_str("signature r or s is out of range"),
            SignatureError::HighS => {
                f.write_str("signature is high-S; atproto accepts only low-S signatures")
            }
            SignatureError::InvalidKey => f.write_str("public key is not a point on its curve"),
            SignatureError::Mismatch => f.write_str("signature does not match the message and key"),
        }
    }
}

impl std::error::Error for SignatureError {}

#[cfg(test)]
mod tests;
