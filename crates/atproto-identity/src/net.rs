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

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use atproto_xrpc::{HttpClient, HttpErrorKind, HttpMethod, HttpRequest, HttpResponse, ServiceUrl};

use crate::dns::DnsLookup;
use crate::error::{Error, ErrorKind, Step};

/// Redirects followed for well-known and `did:web` lookups.
pub const MAX_REDIRECTS: usize = 3;

/// Why `ip` is not a public unicast address, or `None` when it is.
pub fn non_public_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4);
            }
            let seg = v6.segments();
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("a unique local (private) address")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
                Some("a documentation address")
            } else if seg[0] == 0x64 && seg[1] == 0xff9b {
                // NAT64 of an IPv4 address: judge the embedded one.
                let [.., a, b, c, d] = v6.octets();
                non_public_v4(Ipv4Addr::new(a, b, c, d))
            } else {
                None
            }
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) {
        Some("a documentation or benchmarking address")
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
        for ip in [
            "127.0.0.1",
            "127.5.5.5",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "ff02::1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(non_public_ip(ip).is_some(), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(non_public_ip(ip), None, "{ip}");
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
