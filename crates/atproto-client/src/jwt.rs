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
    let bytes = atproto_types::base64::decode_url(payload).ok()?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).ok()?;
    let serde_json::Value::Number(exp) = claims.get("exp")? else {
        return None;
    };
    exp.as_u64()
        .or_else(|| exp.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use atproto_types::base64::encode_url as base64url_encode;

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
}
