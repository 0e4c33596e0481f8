//! The one kind of URL the client handles: an XRPC service origin.
//!
//! XRPC requests always go to `<origin>/xrpc/<nsid>`, so all the client keeps
//! of a service URL is its scheme, host and port. Parsing just that, here,
//! keeps a general URL library (and its Unicode tables for international
//! domain names) out of the build: hosts must be ASCII, as DNS names on the
//! wire are; write an international name in its `xn--` form.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// An `http`/`https` origin, normalized: lowercase scheme and host, no
/// default port, written as `scheme://host[:port]/`. Any path, query or
/// fragment of the text it was parsed from is dropped (XRPC paths are fixed).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServiceUrl {
    /// `scheme://host[:port]/`, shared: every request clones the URL of
    /// the service it goes to.
    text: std::sync::Arc<str>,
    /// Where the host starts and ends in `text` (brackets of IPv6 included).
    host: (usize, usize),
}

impl ServiceUrl {
    /// Parses `s`, which must be an absolute `http://` or `https://` URL with
    /// a host. User names and passwords in the URL are refused: they would be
    /// sent along to wherever the URL points.
    pub fn parse(s: &str) -> Result<ServiceUrl, String> {
        let bad = |why: &str| Err(format!("{s:?}: {why}"));
        if s.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return bad("contains spaces or control characters");
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return bad("not an absolute URL (expected https://host)");
        };
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => {
                return bad(&format!(
                    "unsupported scheme {scheme:?} (only https and http)"
                ))
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return bad("user names and passwords in the URL are not supported");
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((addr, after)) = v6.split_once(']') else {
                return bad("unclosed [ in the host");
            };
            if addr.parse::<Ipv6Addr>().is_err() {
                return bad("invalid IPv6 address");
            }
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(p) => Some(p),
                    None => return bad("unexpected text after the IPv6 address"),
                },
            };
            (format!("[{}]", addr.to_ascii_lowercase()), port)
        } else {
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            if !host.is_ascii() {
                return bad("the host is not ASCII: write international names in their xn-- form");
            }
            if host.is_empty()
                || !host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
                || host.starts_with('.')
                || host.contains("..")
            {
                return bad("invalid host");
            }
            (host.trim_end_matches('.').to_ascii_lowercase(), port)
        };
        let port = match port {
            None | Some("") => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => return bad("invalid port"),
            },
        };
        let mut text = format!("{scheme}://");
        let start = text.len();
        text.push_str(&host);
        let end = text.len();
        if let Some(p) = port.filter(|p| *p != default_port) {
            text.push(':');
            text.push_str(&p.to_string());
        }
        text.push('/');
        Ok(ServiceUrl {
            text: text.into(),
            host: (start, end),
        })
    }

    /// `scheme://host[:port]/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &str {
        &self.text[..self.text.find(':').unwrap_or(0)]
    }

    /// The host, lowercase; IPv6 addresses in brackets.
    pub fn host(&self) -> &str {
        &self.text[self.host.0..self.host.1]
    }

    /// True for `localhost` (and `*.localhost`) and loopback IP addresses:
    /// the only places plain http is allowed to by default.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        host == "localhost"
            || host.ends_with(".localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// `<origin>/xrpc/<nsid>?<query>`, the query form-encoded
    /// (`application/x-www-form-urlencoded`, as browsers and the TypeScript
    /// client send it). `nsid` is written as it is: the transport checks that
    /// it is an NSID before calling this.
    pub fn xrpc_url(&self, nsid: &str, query: &[(String, String)]) -> String {
        let mut url = String::with_capacity(self.text.len() + 5 + nsid.len() + 16 * query.len());
        url.push_str(&self.text);
        url.push_str("xrpc/");
        url.push_str(nsid);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            form_encode(k, &mut url);
            url.push('=');
            form_encode(v, &mut url);
        }
        url
    }
}

/// Why a service URL was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Not an absolute `http`/`https` URL with an ASCII host, or it carries
    /// a user name or password. The text says what is wrong.
    Invalid(String),
    /// Plain `http://` to a host that is not loopback, while insecure http
    /// is not allowed: tokens would travel in clear text.
    Insecure(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Invalid(why) => write!(f, "invalid service URL: {why}"),
            UrlError::Insecure(url) => write!(
                f,
                "refusing plain http to a non-loopback host ({url}); use https or allow insecure http"
            ),
        }
    }
}

impl std::error::Error for UrlError {}

/// The URL policy of every layer: parses `s` as a service origin and refuses
/// plain `http://` to anything but loopback unless `allow_insecure_http`.
pub fn check_url(s: &str, allow_insecure_http: bool) -> Result<ServiceUrl, UrlError> {
    let url = ServiceUrl::parse(s).map_err(UrlError::Invalid)?;
    if url.scheme() == "http" && !allow_insecure_http && !url.is_loopback() {
        return Err(UrlError::Insecure(s.to_owned()));
    }
    Ok(url)
}

/// Appends `s` form-encoded: ASCII letters, digits and `*-._` as they are,
/// space as `+`, every other byte as `%XX`.
fn form_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_');
    if s.bytes().all(unreserved) {
        out.push_str(s);
        return;
    }
    for b in s.bytes() {
        match b {
            _ if unreserved(b) => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl std::str::FromStr for ServiceUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ServiceUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_origins() {
        for (input, want, host) in [
            ("https://bsky.social", "https://bsky.social/", "bsky.social"),
            (
                "HTTPS://BSKY.Social/xrpc/x?y#z",
                "https://bsky.social/",
                "bsky.social",
            ),
            (
                "https://pds.example:443/",
                "https://pds.example/",
                "pds.example",
            ),
            (
                "http://127.0.0.1:2583",
                "http://127.0.0.1:2583/",
                "127.0.0.1",
            ),
            ("http://localhost:80", "http://localhost/", "localhost"),
            ("http://[::1]:8080/a", "http://[::1]:8080/", "[::1]"),
            (
                "https://example.com.",
                "https://example.com/",
                "example.com",
            ),
            (
                "https://pds.example:",
                "https://pds.example/",
                "pds.example",
            ),
        ] {
            let u = ServiceUrl::parse(input).unwrap();
            assert_eq!(u.as_str(), want, "{input}");
            assert_eq!(u.host(), host, "{input}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for (input, why) in [
            ("bsky.social", "not an absolute URL"),
            ("ftp://x.example", "unsupported scheme"),
            ("https://", "invalid host"),
            ("https:///xrpc", "invalid host"),
            ("https://user:pw@pds.example", "passwords"),
            ("https://pds.example:99999", "invalid port"),
            ("https://pds.example:+1", "invalid port"),
            ("https://bücher.example", "xn--"),
            ("https://a b.example", "spaces"),
            ("https://[::1", "unclosed"),
            ("https://[zz]/", "IPv6"),
            ("https://a..b", "invalid host"),
        ] {
            let e = ServiceUrl::parse(input).unwrap_err();
            assert!(e.contains(why), "{input}: {e}");
        }
    }

    #[test]
    fn knows_loopback() {
        for (u, lo) in [
            ("http://localhost:1", true),
            ("http://api.localhost", true),
            ("http://127.0.0.1", true),
            ("http://127.8.9.10", true),
            ("http://[::1]", true),
            ("http://localhost.example", false),
            ("http://10.0.0.1", false),
            ("http://[::2]", false),
        ] {
            assert_eq!(ServiceUrl::parse(u).unwrap().is_loopback(), lo, "{u}");
        }
    }

    #[test]
    fn writes_xrpc_urls() {
        let base = ServiceUrl::parse("https://pds.example/some/path?x=1").unwrap();
        let q = [
            ("limit".to_owned(), "5".to_owned()),
            ("a b".to_owned(), "c&d=é~".to_owned()),
        ];
        assert_eq!(
            base.xrpc_url("app.bsky.feed.getTimeline", &q),
            "https://pds.example/xrpc/app.bsky.feed.getTimeline?limit=5&a+b=c%26d%3D%C3%A9%7E"
        );
        assert_eq!(
            base.xrpc_url("a.b.c", &[]),
            "https://pds.example/xrpc/a.b.c"
        );
    }
}
