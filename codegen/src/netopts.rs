//! What `lexgen install` and `lexgen publish` share: the network options
//! of a development setup, the HTTP client, DNS and the resolvers, and the
//! async runtime they run on (feature `net`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use atmo_identity::dns::SystemDns;
use atmo_identity::{DnsLookup, Resolver};
use atmo_lexicon::LexiconResolver;
use atmo_xrpc::{HttpClient, HyperClient};

/// Timeout of each DNS query.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// The options for a local or unusual network.
#[derive(Clone, Debug, Default)]
pub struct NetOptions {
    /// `--plc URL`: the PLC directory (default `https://plc.directory`).
    pub plc: Option<String>,
    /// `--dns ADDR`: name servers to ask for TXT records instead of the
    /// system's (repeatable).
    pub dns: Vec<SocketAddr>,
    /// `--allow-private-hosts`: let DID documents name a PDS (and did:web
    /// hosts) on private or loopback addresses, plain `http` to loopback.
    pub allow_private_hosts: bool,
}

/// The lines of `--help` describing [`NetOptions`].
pub const NET_USAGE: &str = "\
--plc URL                the PLC directory for did:plc (default https://plc.directory).
--dns ADDR               ask this DNS server (IP:PORT) for TXT records instead of
                         the system's resolvers; repeatable.
--allow-private-hosts    let DID documents name a PDS on a private or loopback
                         host (plain http to loopback): for a local development setup.";

impl NetOptions {
    /// Takes `arg` (and its value from `rest`) when it is a network option;
    /// `Ok(false)` when it is not one.
    pub fn take(
        &mut self,
        arg: &str,
        rest: &mut dyn Iterator<Item = &String>,
    ) -> Result<bool, String> {
        let mut value = || rest.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg {
            "--plc" => self.plc = Some(value()?),
            "--dns" => {
                let v = value()?;
                let addr = v
                    .parse::<SocketAddr>()
                    .map_err(|_| format!("--dns takes IP:PORT, not {v:?}"))?;
                self.dns.push(addr);
            }
            "--allow-private-hosts" => self.allow_private_hosts = true,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A single-threaded runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// The HTTP client (hyper with rustls and the platform's roots).
pub fn http() -> Result<Arc<dyn HttpClient>, String> {
    HyperClient::new()
        .map(|c| Arc::new(c) as Arc<dyn HttpClient>)
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// DNS: the `--dns` servers, else the system's configuration. Call inside
/// the runtime.
pub fn dns(options: &NetOptions) -> Result<Arc<dyn DnsLookup>, String> {
    let dns = if options.dns.is_empty() {
        SystemDns::from_system()
    } else {
        SystemDns::with_servers(&options.dns, DNS_TIMEOUT)
    };
    dns.map(|d| Arc::new(d) as Arc<dyn DnsLookup>)
        .map_err(|e| format!("cannot set up DNS: {e}"))
}

/// The lexicon resolver over `http` and `dns`, with identity's defaults
/// but for the options given. Call inside the runtime.
pub fn lexicon_resolver(
    options: &NetOptions,
    http: Arc<dyn HttpClient>,
    dns: Arc<dyn DnsLookup>,
) -> Result<LexiconResolver, String> {
    let mut identity = Resolver::builder(http.clone())
        .dns(dns.clone())
        .well_known(false)
        .allow_private_hosts(options.allow_private_hosts)
        .allow_http_loopback(options.allow_private_hosts);
    if let Some(plc) = &options.plc {
        identity = identity.plc_url(plc);
    }
    let identity = identity
        .build()
        .map_err(|e| format!("cannot set up DID resolution: {e}"))?;
    Ok(LexiconResolver::builder(identity, dns, http)
        .allow_private_hosts(options.allow_private_hosts)
        .build())
}

/// Whether the arguments ask for the subcommand's usage.
pub fn wants_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "-h" || a == "--help")
}
