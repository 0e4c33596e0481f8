//! DPoP nonces (cached per origin) and the parsing of the headers that
//! carry them: `DPoP-Nonce` and `WWW-Authenticate`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::util::origin_of;

/// Longest nonce accepted from a server (bytes); longer ones are ignored.
pub const MAX_NONCE_LEN: usize = 1024;

/// The latest DPoP nonce of each origin, shared by everything one client
/// sends. A stale nonce costs one retry: the server answers
/// `use_dpop_nonce` with a fresh one.
#[derive(Debug, Default)]
pub struct NonceCache(Mutex<HashMap<String, String>>);

impl NonceCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The nonce last seen from the origin of `url`.
    pub fn get(&self, url: &str) -> Option<String> {
        let origin = origin_of(url)?;
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&origin)
            .cloned()
    }

    /// Records the `DPoP-Nonce` of an answer from `url`, if it has a usable
    /// one; returns whether it did.
    pub fn update(&self, url: &str, headers: &[(String, String)]) -> bool {
        let (Some(origin), Some(nonce)) = (origin_of(url), dpop_nonce(headers)) else {
            return false;
        };
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(origin, nonce.to_owned());
        true
    }
}

/// The `DPoP-Nonce` header, when present and usable (visible ASCII, at most
/// [`MAX_NONCE_LEN`] bytes).
pub fn dpop_nonce(headers: &[(String, String)]) -> Option<&str> {
    let v = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("dpop-nonce"))
        .map(|(_, v)| v.trim())?;
    let ok =
        !v.is_empty() && v.len() <= MAX_NONCE_LEN && v.bytes().all(|b| (b'!'..=b'~').contains(&b));
    ok.then_some(v)
}

/// One challenge of a `WWW-Authenticate` header: its scheme and parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme (`DPoP`, `Bearer`...), as sent.
    pub scheme: String,
    /// `name=value` parameters, quoted values unescaped; names lowercase.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a `WWW-Authenticate` value into its challenges (RFC 9110 11.6.1).
/// Lenient, never panics: malformed pieces are skipped; a `token68`
/// credential is ignored.
pub fn parse_www_authenticate(value: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let b = value.as_bytes();
    let mut i = 0;
    let is_tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    let skip_ws = |i: &mut usize| {
        while b.get(*i).is_some_and(|c| *c == b' ' || *c == b'\t') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> String {
        let start = *i;
        while b.get(*i).is_some_and(|c| is_tchar(*c)) {
            *i += 1;
        }
        value.get(start..*i).unwrap_or_default().to_owned()
    };
    while i < b.len() {
        skip_ws(&mut i);
        if b.get(i) == Some(&b',') {
            i += 1;
            continue;
        }
        let start = i;
        let name = token(&mut i);
        if name.is_empty() {
            // Not a token: skip one byte and resynchronize.
            i = start + 1;
            continue;
        }
        skip_ws(&mut i);
        if b.get(i) == Some(&b'=') && !out.is_empty() {
            // A parameter of the current challenge (or a token68 ending in '=').
            i += 1;
            while b.get(i) == Some(&b'=') {
                i += 1;
            }
            skip_ws(&mut i);
            let v = if b.get(i) == Some(&b'"') {
                i += 1;
                let mut v = Vec::new();
                while let Some(&c) = b.get(i) {
                    i += 1;
                    match c {
                        b'\\' => {
                            if let Some(&n) = b.get(i) {
                                v.push(n);
                                i += 1;
                            }
                        }
                        b'"' => break,
                        _ => v.push(c),
                    }
                }
                String::from_utf8_lossy(&v).into_owned()
            } else {
                token(&mut i)
            };
            if let Some(last) = out.last_mut() {
                last.params.push((name.to_ascii_lowercase(), v));
            }
        } else {
            out.push(Challenge {
                scheme: name,
                params: Vec::new(),
            });
        }
        skip_ws(&mut i);
        if b.get(i).is_some_and(|c| *c != b',') && !b.get(i).is_some_and(|c| is_tchar(*c)) {
            i += 1;
        }
    }
    out
}

/// The `error` of the `DPoP` challenge of a `WWW-Authenticate` header, if
/// any (`use_dpop_nonce`, `invalid_token`...).
pub fn dpop_error(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
        .flat_map(|(_, v)| parse_www_authenticate(v))
        .find(|c| c.scheme.eq_ignore_ascii_case("dpop"))
        .and_then(|c| c.param("error").map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dpop_challenges() {
        let c = parse_www_authenticate(
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 RS256""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "DPoP");
        assert_eq!(c[0].param("error"), Some("use_dpop_nonce"));
        assert_eq!(c[0].param("algs"), Some("ES256 RS256"));
        let two = parse_www_authenticate(
            r#"Bearer realm="x", DPoP error=invalid_token, error_description="a \"quoted\" one""#,
        );
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].param("error"), Some("invalid_token"));
        assert_eq!(two[1].param("error_description"), Some(r#"a "quoted" one"#));
        let bare = parse_www_authenticate("Basic abc==, DPoP");
        assert_eq!(
            bare.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(),
            ["Basic", "DPoP"]
        );
    }

    #[test]
    fn malformed_headers_do_not_panic() {
        for v in [
            "",
            ",,,",
            "=",
            "\"",
            "DPoP error=\"unterminated",
            "DPoP ===",
            "é DPoP error=x",
            "\u{0}",
        ] {
            let _ = parse_www_authenticate(v);
        }
        assert_eq!(
            parse_www_authenticate("DPoP error=\"unterminated")[0].param("error"),
            Some("unterminated")
        );
    }

    #[test]
    fn error_and_nonce_from_headers() {
        let h = vec![
            (
                "WWW-Authenticate".to_owned(),
                r#"DPoP error="use_dpop_nonce""#.to_owned(),
            ),
            ("DPoP-Nonce".to_owned(), " abc ".to_owned()),
        ];
        assert_eq!(dpop_error(&h).as_deref(), Some("use_dpop_nonce"));
        assert_eq!(dpop_nonce(&h), Some("abc"));
        let cache = NonceCache::new();
        assert!(cache.update("https://pds.example/xrpc/x?y", &h));
        assert_eq!(
            cache.get("https://PDS.example/other").as_deref(),
            Some("abc")
        );
        assert_eq!(cache.get("https://as.example/"), None);
        let bad = vec![("dpop-nonce".to_owned(), "a b".to_owned())];
        assert_eq!(dpop_nonce(&bad), None);
        let long = vec![("dpop-nonce".to_owned(), "a".repeat(MAX_NONCE_LEN + 1))];
        assert_eq!(dpop_nonce(&long), None);
    }
}
