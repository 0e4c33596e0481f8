//! Small helpers: randomness, time, form encoding and query parsing.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::OAuthError;

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], OAuthError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)
        .map_err(|e| OAuthError::Crypto(format!("the system random source failed: {e}")))?;
    Ok(buf)
}

/// A random URL-safe token from `N` bytes of randomness.
pub(crate) fn random_token<const N: usize>() -> Result<String, OAuthError> {
    Ok(atmo_types::base64::encode_url(&random_bytes::<N>()?))
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Appends `s` form-encoded (`application/x-www-form-urlencoded`).
pub(crate) fn form_encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
}

/// `k1=v1&k2=v2`, form-encoded.
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_encode_into(k, &mut out);
        out.push('=');
        form_encode_into(v, &mut out);
    }
    out
}

/// Percent-decodes `s` (and `+` as a space when `plus` is set). Invalid
/// escapes and non-UTF-8 results are errors.
pub(crate) fn percent_decode(s: &str, plus: bool) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = |j: usize| {
                    bytes
                        .get(j)
                        .and_then(|c| char::from(*c).to_digit(16))
                        .ok_or_else(|| format!("invalid percent escape at byte {i}"))
                };
                let hi = hex(i + 1)?;
                let lo = hex(i + 2)?;
                out.push(u8::try_from(hi * 16 + lo).map_err(|_| "invalid escape".to_owned())?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "the decoded text is not UTF-8".to_owned())
}

/// Parses a query string (with or without a leading `?`) into decoded pairs.
pub(crate) fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((percent_decode(k, true)?, percent_decode(v, true)?));
    }
    Ok(pairs)
}

/// The origin of an absolute URL (`scheme://host[:port]`, lowercase), or
/// `None` when `url` is not an absolute http(s) URL.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let parsed = atmo_xrpc::ServiceUrl::parse(url).ok()?;
    Some(parsed.as_str().trim_end_matches('/').to_owned())
}

/// `url` without its query and fragment (the DPoP `htu`).
pub(crate) fn strip_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trip() {
        let s = form_encode(&[("a b", "x&y=z/é"), ("k", "")]);
        assert_eq!(s, "a+b=x%26y%3Dz%2F%C3%A9&k=");
        let back = parse_query(&s).unwrap();
        assert_eq!(
            back,
            vec![("a b".into(), "x&y=z/é".into()), ("k".into(), "".into())]
        );
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert!(percent_decode("%zz", false).is_err());
        assert!(percent_decode("%4", false).is_err());
        assert!(percent_decode("%ff", false).is_err());
        assert_eq!(percent_decode("a+b", false).unwrap(), "a+b");
    }

    #[test]
    fn origins_and_htu() {
        assert_eq!(
            origin_of("HTTPS://Example.com:8443/a?b").as_deref(),
            Some("https://example.com:8443")
        );
        assert_eq!(
            origin_of("https://example.com:443/").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(origin_of("ftp://x"), None);
        assert_eq!(strip_query("https://a/b?c#d"), "https://a/b");
        assert_eq!(strip_query("https://a/b#d"), "https://a/b");
    }
}
