//! ECDSA verification through RustCrypto's `k256` and `p256`.

use crate::{Curve, PublicKey, SignatureError};

/// Verifies on curve `$curve` (the `k256` or `p256` crate).
macro_rules! verify_on {
    ($curve:ident, $key:expr, $message:expr, $signature:expr) => {{
        use $curve::ecdsa::signature::Verifier;
        use $curve::ecdsa::{Signature, VerifyingKey};
        let key = VerifyingKey::from_sec1_bytes($key).map_err(|_| SignatureError::InvalidKey)?;
        let signature = Signature::from_slice($signature).map_err(|_| SignatureError::Malformed)?;
        if signature.normalize_s() != signature {
            return Err(SignatureError::HighS);
        }
        key.verify($message, &signature)
            .map_err(|_| SignatureError::Mismatch)
    }};
}

pub(crate) fn verify(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    if signature.len() != 64 {
        return Err(SignatureError::Length(signature.len()));
    }
    match key.curve {
        Curve::K256 => verify_on!(k256, &key.point, message, signature),
        Curve::P256 => verify_on!(p256, &key.point, message, signature),
    }
}

/// Whether the 65-byte uncompressed point `sec1` is on `curve` and
/// compresses to `compressed`.
pub(crate) fn uncompressed_matches(curve: Curve, sec1: &[u8], compressed: &[u8; 33]) -> bool {
    macro_rules! check {
        ($curve:ident) => {{
            match $curve::ecdsa::VerifyingKey::from_sec1_bytes(sec1) {
                Ok(key) => key.to_sec1_point(true).as_bytes() == compressed.as_slice(),
                Err(_) => false,
            }
        }};
    }
    match curve {
        Curve::K256 => check!(k256),
        Curve::P256 => check!(p256),
    }
}
