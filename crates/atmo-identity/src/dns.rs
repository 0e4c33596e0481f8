//! DNS as resolution needs it: TXT records for handles, A/AAAA addresses
//! for the private-host check.
//!
//! [`DnsLookup`] is the seam: the `dns` feature provides `SystemDns`
//! (hickory-resolver, configured from the system or pointed at given name
//! servers); an application or a test can implement it over anything else.

use std::fmt;
use std::net::IpAddr;

use atmo_xrpc::BoxFuture;

/// Why a DNS lookup gave no records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The name or the record type does not exist (NXDOMAIN, NODATA).
    NotFound,
    /// Anything else: timeout, refused, server failure (the text says which).
    Failed(String),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NotFound => f.write_str("no such record"),
            DnsError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for DnsError {}

/// Looks up DNS records. Implementations bound their own time.
pub trait DnsLookup: Send + Sync + 'static {
    /// The TXT records of `name`, each record's strings joined.
    fn lookup_txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, DnsError>>;

    /// The A and AAAA addresses of `name`.
    fn lookup_ip<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>>;
}

#[cfg(feature = "dns")]
pub use system::{SystemDns, DEFAULT_DNS_TIMEOUT, MAX_DNS_TIMEOUT};

#[cfg(feature = "dns")]
mod system;
