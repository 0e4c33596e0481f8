//! The network policy of resolution and the one place requests are sent.
//!
//! Hosts taken from handles and `did:web` DIDs come from whoever typed them,
//! so before a request goes out its host is checked: IP literals in private,
//! loopback, link-local, shared or otherwise non-public ranges, `localhost`
//! and names under the reserved top-level domains are refused unless the
//! resolver allows private hosts. When the resolver has a [`DnsLookup`]
//! (feature `dns`, or one the application supplies), the host's A/AAAA
//! addresses are checked too.
//!
//! What a generic [`HttpClient`] does not let us guarantee: the client
//! resolves the name again when it connects, so a name whose records change
//! between the two lookups (DNS rebinding) can still reach a private address;
//! and a client that follows redirects by itself (reqwest does, by default)
//! never shows us the hosts it is redirected to. Servers that resolve
//! handles for anyone should give the resolver an `HttpClient` that does not
//! follow redirects (the resolver then follows them itself, checking each
//! hop) and that pins or filters the addresses it connects to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use atmo_xrpc::{HttpClient, HttpErrorKind, HttpMethod, HttpRequest, HttpResponse, ServiceUrl};

use crate::dns::DnsLookup;
use crate::error::{Error, ErrorKind, Step};

/// Redirects followed for well-known and `did:web` lookups.
pub const MAX_REDIRECTS: usize = 3;

/// Why `ip` is not a public unicast address, or `None` when it is.
///
/// IPv6 forms that carry an IPv4 address are judged by that address:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`),
/// NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`) and Teredo (`2001::/32`, the
/// client's address). The deprecated IPv4-compatible form (`::a.b.c.d`),
/// local-use NAT64 (`64:ff9b:1::/48`) and the other special-purpose ranges of
/// the IANA registries (unspecified, loopback, link-local, unique and site
/// local, multicast, documentation, benchmarking, discard-only) are refused
/// whatever they carry.
pub fn non_public_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let seg = v6.segments();
    let [.., a, b, c, d] = v6.octets();
    let last_v4 = Ipv4Addr::new(a, b, c, d);
    if v6.is_unspecified() {
        return Some("the unspecified address");
    }
    if v6.is_loopback() {
        return Some("a loopback address");
    }
    if let Some(v4) = v6.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    match seg {
        // ::a.b.c.d, deprecated (RFC 4291 §2.5.5.1); some stacks still
        // route it as IPv4.
        [0, 0, 0, 0, 0, 0, _, _] => Some("an IPv4-compatible address (deprecated)"),
        // ::ffff:0:a.b.c.d, IPv4-translated (RFC 2765).
        [0, 0, 0, 0, 0xffff, 0, _, _] => non_public_v4(last_v4),
        // Discard-only (RFC 6666).
        [0x0100, 0, 0, 0, _, _, _, _] => Some("a discard-only address"),
        // NAT64 well-known prefix (RFC 6052): judge the IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => non_public_v4(last_v4),
        // Local-use NAT64 (RFC 8215): translated inside a private network.
        [0x64, 0xff9b, 1, ..] => Some("a local-use NAT64 address"),
        // Teredo (RFC 4380): the client's IPv4 address, bits inverted.
        [0x2001, 0, ..] => non_public_v4(Ipv4Addr::from(!u32::from(last_v4))),
        // Benchmarking (RFC 5180).
        [0x2001, 0x0002, 0, ..] => Some("a benchmarking address"),
        [0x2001, 0x0db8, ..] => Some("a documentation address"),
        // 6to4 (RFC 3056): the IPv4 address follows the prefix.
        [0x2002, hi, lo, ..] => {
            let [a, b] = hi.to_be_bytes();
            let [c, d] = lo.to_be_bytes();
            non_public_v4(Ipv4Addr::new(a, b, c, d))
        }
        // Documentation (RFC 9637).
        [0x3fff, second, ..] if second & 0xf000 == 0 => Some("a documentation address"),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some("a unique local (private) address"),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some("a link-local address"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some("a site-local address (deprecated)"),
        [first, ..] if first & 0xff00 == 0xff00 => Some("a multicast address"),
        _ => None,
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 0 {
        Some("an unspecified address (0.0.0.0/8)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else if ip.is_documentation() {
        Some("a documentation address")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking address")
    } else if a == 192 && b == 0 && c == 0 {
        // IETF protocol assignments (RFC 6890), e.g. DS-Lite and NAT64
        // discovery.
        Some("an IETF protocol assignment")
    } else if a == 192 && b == 88 && c == 99 {
        Some("a 6to4 relay anycast address (deprecated)")
    } else {
        None
    }
}

/// Why host name `host` (no port; IPv6 in brackets or not) is not a public
/// host, judged on the name alone, or `None`.
pub fn non_public_host(host: &str) -> Option<&'static str> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return non_public_ip(ip).or(Some("an IP address (a host name is required)"));
    }
    let lower = bare.trim_end_matches('.').to_ascii_lowercase();
    let tld = lower.rsplit('.').next().unwrap_or_default();
    if lower == "localhost" || tld == "localhost" {
        return Some("a loopback name");
    }
    if crate::parse::RESERVED_TLDS.contains(&tld) {
        return Some("a name under a reserved top-level domain");
    }
    // Names an HTTP library would read as an IPv4 number (`2130706433`,
    // `0x7f.1`): the last label starts with a digit in every such form.
    if tld.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return Some("a numeric name (read as an IP address by HTTP libraries)");
    }
    None
}

/// Sends the resolver's requests under its policy.
#[derive(Clone)]
pub(crate) struct Net {
    pub http: Arc<dyn HttpClient>,
    pub timeout: Duration,
    pub max_response_size: usize,
    pub allow_private: bool,
    pub allow_http_loopback: bool,
    pub allow_insecure_http: bool,
    pub dns: Option<Arc<dyn DnsLookup>>,
}

/// Where a request goes: a host the user chose (checked against private
/// ranges) or a service the application configured (only the http rule).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    UserHost,
    Configured,
}

impl Net {
    /// The scheme to reach a user-chosen `host` (`host[:port]`) with:
    /// https, or http for loopback hosts when plain http to loopback is
    /// allowed (development servers).
    pub fn scheme_for(&self, host: &str) -> &'static str {
        let name = host_without_port(host);
        if self.allow_http_loopback && is_loopback_host(name) {
            "http"
        } else {
            "https"
        }
    }

    /// Checks `url` against the policy for `target`; returns its origin.
    async fn check(
        &self,
        step: Step,
        id: &str,
        url: &str,
        target: Target,
    ) -> Result<ServiceUrl, Error> {
        // The URL may come from a redirect's Location: keep what is quoted
        // of it short.
        let refused =
            |why: String| Error::new(step, id, ErrorKind::Refused(crate::truncate(why, 400)));
        let origin = ServiceUrl::parse(url).map_err(|e| refused(format!("invalid URL {e}")))?;
        let host = origin.host();
        if origin.scheme() == "http" {
            let ok = match target {
                Target::UserHost => self.allow_http_loopback && origin.is_loopback(),
                Target::Configured => self.allow_insecure_http || origin.is_loopback(),
            };
            if !ok {
                return Err(refused(format!("plain http to {host} is not allowed")));
            }
        }
        if target == Target::UserHost && !self.allow_private {
            if let Some(why) = non_public_host(host) {
                return Err(refused(format!("{host} is {why}")));
            }
            if let Some(dns) = &self.dns {
                let name = host.trim_end_matches('.');
                // A lookup failure is left to the HTTP client to report.
                if let Ok(ips) = dns.lookup_ip(name).await {
                    if let Some((ip, why)) =
                        ips.iter().find_map(|ip| Some((ip, non_public_ip(*ip)?)))
                    {
                        return Err(refused(format!("{host} resolves to {ip}, {why}")));
                    }
                }
            }
        }
        Ok(origin)
    }

    /// GETs `url`, following up to [`MAX_REDIRECTS`] redirects (each hop
    /// checked like the first), reading at most `limit` bytes.
    pub async fn get(
        &self,
        step: Step,
        id: &str,
        url: String,
        accept: &str,
        limit: usize,
        target: Target,
    ) -> Result<HttpResponse, Error> {
        let mut url = url;
        let mut hops = 0;
        loop {
            let origin = self.check(step, id, &url, target).await?;
            let request = HttpRequest {
                method: HttpMethod::Get,
                url: url.clone(),
                headers: vec![("accept".to_owned(), accept.to_owned())],
                body: None,
                timeout: self.timeout,
                max_response_size: limit.min(self.max_response_size),
            };
            let response = self
                .http
                .send(request)
                .await
                .map_err(|e| Error::new(step, id, ErrorKind::Http(e)))?;
            if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
                return Ok(response);
            }
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(Error::new(
                    step,
                    id,
                    ErrorKind::Redirect(format!("more than {MAX_REDIRECTS} redirects")),
                ));
            }
            let location = response.header("location").unwrap_or_default();
            url = if location.starts_with("https://") || location.starts_with("http://") {
                location.to_owned()
            } else if location.starts_with('/') && !location.starts_with("//") {
                format!("{}{}", origin.as_str().trim_end_matches('/'), location)
            } else {
                return Err(Error::new(
                    step,
                    id,
                    ErrorKind::Redirect(format!(
                        "unusable Location {:?}",
                        crate::truncate(location.to_owned(), 100)
                    )),
                ));
            };
        }
    }
}

/// Maps an HTTP-level failure of a size limit to a clear answer error.
pub(crate) fn is_too_large(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Http(h) if h.kind == HttpErrorKind::TooLarge)
}

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split(']')
            .next()
            .unwrap_or(host)
            .trim_start_matches('[');
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn is_loopback_host(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses() {
        // (address, what the reason must mention); one row per range, with
        // its edges where they matter.
        let refused: &[(&str, &str)] = &[
            // IPv4
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.1.2.3", "private"),
            ("100.64.0.1", "carrier-grade"),
            ("100.127.255.255", "carrier-grade"),
            ("127.0.0.1", "loopback"),
            ("127.5.5.5", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.1", "documentation"),
            ("192.88.99.1", "6to4 relay"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            // IPv6 of its own
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("100::1", "discard"),
            ("2001:2::1", "benchmarking"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("3fff:fff::1", "documentation"),
            ("fc00::1", "unique local"),
            ("fd12:3456::1", "unique local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            // IPv4-mapped and -translated: the IPv4 address decides.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:7f00:1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:0.0.0.0", "unspecified"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:0:127.0.0.1", "loopback"),
            ("::ffff:0:192.168.0.1", "private"),
            // IPv4-compatible (deprecated): refused whatever it carries.
            ("::127.0.0.1", "IPv4-compatible"),
            ("::10.0.0.1", "IPv4-compatible"),
            ("::8.8.8.8", "IPv4-compatible"),
            ("::2", "IPv4-compatible"),
            // NAT64: the IPv4 address decides; local-use NAT64 is private.
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b::127.0.0.1", "loopback"),
            ("64:ff9b::169.254.169.254", "link-local"),
            ("64:ff9b:1::8.8.8.8", "local-use NAT64"),
            // 6to4: the IPv4 address after 2002: decides.
            ("2002:7f00:1::", "loopback"),
            ("2002:7f00:0001:0:0:0:0:1", "loopback"),
            ("2002:a00::", "private"),
            ("2002:a00:1::1", "private"),
            ("2002:c0a8:101::1", "private"),
            ("2002:a9fe:a9fe::", "link-local"),
            ("2002::", "unspecified"),
            ("2002:6440:1::", "carrier-grade"),
            // Teredo: the client address (inverted) decides.
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),
            ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),
        ];
        for (text, why) in refused {
            let ip: IpAddr = text.parse().unwrap();
            match non_public_ip(ip) {
                Some(reason) => assert!(reason.contains(why), "{text}: {reason}"),
                None => panic!("{text} passed as public"),
            }
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
            "2001:4860:4860::8888",
            "2001:db9::1",
            "3ffe::1",
            "3fff:1000::1",
            "fbff::1",
        ];
        for text in public {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(non_public_ip(ip), None, "{text}");
        }
    }

    #[test]
    fn non_public_host_names() {
        for host in [
            "localhost",
            "LOCALHOST",
            "a.localhost",
            "printer.local",
            "db.internal",
            "1.0.0.10.in-addr.arpa",
            "127.0.0.1",
            "[::1]",
            "2130706433",
            "0x7f.1",
            "8.8.8.8",
        ] {
            assert!(non_public_host(host).is_some(), "{host}");
        }
        for host in ["bsky.social", "example.com", "xn--bcher-kva.com"] {
            assert_eq!(non_public_host(host), None, "{host}");
        }
    }

    #[test]
    fn host_and_port_split() {
        assert_eq!(host_without_port("localhost:8080"), "localhost");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:80"), "::1");
        assert!(is_loopback_host("127.0.0.1"));
        assert!(!is_loopback_host("example.com"));
    }
}
