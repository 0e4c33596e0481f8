//! The `exp` claim of a JWT, read without verifying it: the client uses it
//! only to refresh early; the server stays the judge.

/// The `exp` claim (seconds since the epoch) of a JWT, read without checking
/// the signature. `None` when the token is not a JWT or has no numeric `exp`,
/// in which case it is treated as opaque and expiry is only learnt from the
/// server.
pub fn jwt_exp(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = atmo_types::base64::decode_url(payload).ok()?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).ok()?;
    let serde_json::Value::Number(exp) = claims.get("exp")? else {
        return None;
    };
    if let Some(secs) = exp.as_u64() {
        return Some(secs);
    }
    // A fraction is rounded down; a negative or non-finite time is not a
    // time. Compared as floats first, so the conversion never saturates
    // silently: anything past the last representable second is that second.
    let f = exp.as_f64().filter(|f| f.is_finite() && *f >= 0.0)?;
    #[allow(clippy::cast_precision_loss)]
    let last = u64::MAX as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(if f >= last { u64::MAX } else { f as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use atmo_types::base64::encode_url as base64url_encode;

    #[test]
    fn reads_exp_without_verifying() {
        let tok = |payload: &str| {
            format!(
                "{}.{}.sig",
                base64url_encode(br#"{"alg":"ES256K"}"#),
                base64url_encode(payload.as_bytes())
            )
        };
        assert_eq!(
            jwt_exp(&tok(r#"{"exp":1700000000,"sub":"did:plc:x"}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(
            jwt_exp(&tok(r#"{"exp":1700000000.5}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(jwt_exp(&tok(r#"{"sub":"x"}"#)), None);
        assert_eq!(jwt_exp(&tok("not json")), None);
        assert_eq!(jwt_exp("opaque-token"), None);
        assert_eq!(jwt_exp("a.b!.c"), None);
        assert_eq!(jwt_exp("a.b.c.d"), None);
    }

    #[test]
    fn absurd_exps_are_bounded_not_wrapped() {
        let tok = |exp: &str| {
            format!(
                "{}.{}.sig",
                base64url_encode(br#"{"alg":"ES256K"}"#),
                base64url_encode(format!(r#"{{"exp":{exp}}}"#).as_bytes())
            )
        };
        assert_eq!(jwt_exp(&tok("18446744073709551615")), Some(u64::MAX));
        assert_eq!(jwt_exp(&tok("1e30")), Some(u64::MAX));
        assert_eq!(jwt_exp(&tok("18446744073709551616")), Some(u64::MAX));
        assert_eq!(jwt_exp(&tok("-1")), None);
        assert_eq!(jwt_exp(&tok("-1e30")), None);
        assert_eq!(jwt_exp(&tok("0.5")), Some(0));
    }
}
