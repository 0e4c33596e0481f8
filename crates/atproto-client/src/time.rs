//! Clock helpers: an RFC 3339 timestamp for new records and the `exp` claim
//! of a JWT. Hand-written because both are a few lines and a date or JWT crate
//! would be the largest dependency of this crate for no other use.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time as RFC 3339 UTC with millisecond precision, e.g.
/// `2024-05-01T12:34:56.789Z` (the form TypeScript's `toISOString` writes and
/// the atproto `datetime` format accepts).
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// Formats a time as RFC 3339 UTC with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after
/// Howard Hinnant's `civil_from_days` algorithm (eras of 400 years).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The `exp` claim (seconds since the epoch) of a JWT, read without checking
/// the signature: the client only uses it to refresh early, the server stays
/// the judge. `None` when the token is not a JWT or has no numeric `exp`, in
/// which case it is treated as opaque and expiry is only learnt from the server.
pub fn jwt_exp(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64url_decode(payload)?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).ok()?;
    let serde_json::Value::Number(exp) = claims.get("exp")? else {
        return None;
    };
    exp.as_u64()
        .or_else(|| exp.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

/// Decodes unpadded (or padded) base64url. `None` on any invalid character.
fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return None; // a lone trailing character cannot encode a byte
    }
    Some(out)
}

#[cfg(test)]
pub(crate) fn base64url_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_123); // leap day 2000
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.123Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199); // 2024-02-29T23:59:59
        assert_eq!(rfc3339(t), "2024-02-29T23:59:59.000Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_800); // 2100-01-01
        assert_eq!(rfc3339(t), "2100-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_599); // 2024-12-31T23:59:59
        assert_eq!(rfc3339(t), "2024-12-31T23:59:59.000Z");
        assert!(atproto_types::Datetime::new(now_rfc3339()).is_ok());
    }

    #[test]
    fn every_day_round_trips() {
        // Walk day by day over 600 years and check month/day progression.
        let (mut y, mut m, mut d) = civil_from_days(-100_000);
        for z in -99_999..120_000 {
            let (y2, m2, d2) = civil_from_days(z);
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            if d == len[m as usize - 1] {
                if m == 12 {
                    assert_eq!((y2, m2, d2), (y + 1, 1, 1));
                } else {
                    assert_eq!((y2, m2, d2), (y, m + 1, 1));
                }
            } else {
                assert_eq!((y2, m2, d2), (y, m, d + 1));
            }
            (y, m, d) = (y2, m2, d2);
        }
    }

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
        assert_eq!(base64url_decode("aGk").unwrap(), b"hi");
        assert_eq!(base64url_decode("aGk=").unwrap(), b"hi");
        assert!(base64url_decode("a").is_none());
    }
}
