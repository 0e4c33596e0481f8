//! [`DnsLookup`] over hickory-resolver (feature `dns`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use atmo_xrpc::BoxFuture;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use super::{DnsError, DnsLookup};

/// Timeout of each DNS query unless configured.
pub const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest timeout of a DNS query: longer ones are cut to this. hickory adds
/// the timeout to the clock unchecked, so a huge one (`Duration::MAX`) would
/// panic; no answer is worth waiting longer for anyway.
pub const MAX_DNS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// DNS through hickory-resolver on tokio: the system's configuration
/// (`/etc/resolv.conf`), or given name servers. Cheap to clone.
#[derive(Clone)]
pub struct SystemDns {
    resolver: TokioResolver,
}

impl std::fmt::Debug for SystemDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemDns").finish_non_exhaustive()
    }
}

fn failed(e: impl std::fmt::Display) -> DnsError {
    DnsError::Failed(e.to_string())
}

impl SystemDns {
    /// The system's resolver configuration, with a 3 s query timeout.
    pub fn from_system() -> Result<Self, DnsError> {
        let mut builder = TokioResolver::builder_tokio().map_err(failed)?;
        builder.options_mut().timeout = DEFAULT_DNS_TIMEOUT;
        Ok(SystemDns {
            resolver: builder.build().map_err(failed)?,
        })
    }

    /// Asks only `servers` (UDP, falling back to TCP), each query bounded by
    /// `timeout` (at most [`MAX_DNS_TIMEOUT`]): for a resolver of the
    /// application's choice, or a test server on loopback.
    pub fn with_servers(servers: &[SocketAddr], timeout: Duration) -> Result<Self, DnsError> {
        let name_servers = servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_name_servers(name_servers);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        builder.options_mut().timeout = timeout.min(MAX_DNS_TIMEOUT);
        builder.options_mut().attempts = 1;
        Ok(SystemDns {
            resolver: builder.build().map_err(failed)?,
        })
    }
}

fn classify(e: NetError) -> DnsError {
    if e.is_no_records_found() || e.is_nx_domain() {
        DnsError::NotFound
    } else {
        failed(e)
    }
}

/// A fully qualified name (trailing dot): no search-domain queries.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

impl DnsLookup for SystemDns {
    fn lookup_txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, DnsError>> {
        Box::pin(async move {
            let lookup = self
                .resolver
                .txt_lookup(fqdn(name))
                .await
                .map_err(classify)?;
            let mut records = Vec::new();
            for record in lookup.answers() {
                if let RData::TXT(txt) = &record.data {
                    // A record may be split in several character-strings.
                    let joined: Vec<u8> = txt
                        .txt_data
                        .iter()
                        .flat_map(|s| s.iter().copied())
                        .collect();
                    records.push(String::from_utf8_lossy(&joined).into_owned());
                }
            }
            Ok(records)
        })
    }

    fn lookup_ip<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(async move {
            let lookup = self
                .resolver
                .lookup_ip(fqdn(name))
                .await
                .map_err(classify)?;
            Ok(lookup.iter().collect())
        })
    }
}
