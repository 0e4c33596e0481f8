//! Finding an account's PDS from its handle, and identity lookups through
//! the agent (crate `atmo-identity`).

use std::sync::Arc;

use atmo_api::com::atproto::identity::resolve_handle;
use atmo_api::com::atproto::server::create_session;
use atmo_identity::{Identity, Resolver, ResolverBuilder};
use atmo_types::{Did, Handle};
use atmo_xrpc::{HttpClient, Secret};

use crate::agent::{Agent, AgentBuilder, AtpAgent};
use crate::app_error::ConfigError;
use crate::error::Error;
use crate::session::{Login, SessionManager};

/// A development setup: a PDS and a PLC directory on this machine, such as
/// the reference PDS `tests/pds/run.sh` starts or `@atproto/dev-env`.
///
/// The defaults suit the public network, so against such a setup nothing
/// resolves: handles under `.test` have no DNS record and no HTTPS
/// well-known answer, `did:plc` documents live in the local PLC directory
/// instead of `https://plc.directory`, and the PDS they name is a loopback
/// host over plain `http`, which the default host policy refuses. A
/// `LocalDev` configures identity resolution for it:
///
/// - DID documents (`did:plc`) from `plc_url`;
/// - handles through the PDS's `com.atproto.identity.resolveHandle` only
///   (no DNS, no well-known lookups, which cannot answer for `.test`);
/// - private and loopback hosts allowed, and plain `http` to loopback
///   hosts (plain `http` elsewhere only with
///   [`LocalDev::allow_insecure_http`]).
///
/// Never point it at the public network: it turns off the protection
/// against requests to internal hosts that a server resolving handles for
/// anyone needs.
///
/// ```no_run
/// # async fn f() -> Result<(), atmo_client::AnyError> {
/// use atmo_client::LocalDev;
///
/// let dev = LocalDev::new("http://localhost:2583", "http://localhost:2582");
/// // An agent whose service is the PDS, logged in with a handle of the PDS.
/// let agent = dev.agent_builder().login_with_handle("alice.test", "hunter2").await?;
/// // Identity lookups resolve through the local PLC and PDS.
/// let bob = agent.resolve_identity("bob.test").await?;
/// println!("{} is on {}", bob.did, bob.pds);
/// # Ok(()) }
/// ```
///
/// For a resolver of its own (an OAuth client, a firehose verifier), use
/// [`LocalDev::resolver_builder`]. The `atproto` command takes the same
/// setup as `--pds URL --plc URL --allow-private-hosts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalDev {
    pds_url: String,
    plc_url: String,
    allow_insecure_http: bool,
}

impl LocalDev {
    /// A local PDS (e.g. `http://localhost:2583`) and the PLC directory its
    /// accounts are registered in (e.g. `http://localhost:2582`).
    pub fn new(pds_url: impl Into<String>, plc_url: impl Into<String>) -> Self {
        LocalDev {
            pds_url: pds_url.into(),
            plc_url: plc_url.into(),
            allow_insecure_http: false,
        }
    }

    /// Also allow plain `http` to hosts that are not loopback (a PDS on
    /// another machine of the local network or in a container named
    /// `pds`). Default off.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The PDS URL.
    pub fn pds_url(&self) -> &str {
        &self.pds_url
    }

    /// The PLC directory URL.
    pub fn plc_url(&self) -> &str {
        &self.plc_url
    }

    /// A resolver builder over `http` set up for this PDS and PLC (see the
    /// type's docs); change more settings on it before `build()`.
    pub fn resolver_builder(&self, http: Arc<dyn HttpClient>) -> ResolverBuilder {
        Resolver::builder(http)
            .plc_url(&self.plc_url)
            .well_known(false)
            .dns_txt(false)
            .resolve_handle_via(&self.pds_url)
            .allow_private_hosts(true)
            .allow_http_loopback(true)
            .allow_insecure_http(self.allow_insecure_http)
    }

    /// A resolver for this setup over the built-in HTTP client. Fails with
    /// [`Error::Config`] when a URL is refused or there is no HTTP client.
    pub fn resolver(&self) -> Result<Resolver, Error> {
        let http = crate::agent::http_client()?;
        Ok(self.resolver_with(http)?)
    }

    fn resolver_with(&self, http: Arc<dyn HttpClient>) -> Result<Resolver, ConfigError> {
        self.resolver_builder(http)
            .build()
            .map_err(|e| ConfigError::new("local development setup", e.to_string()))
    }

    /// An agent builder whose service is this PDS and whose identity
    /// lookups use this setup ([`AgentBuilder::local_dev`]).
    pub fn agent_builder(&self) -> AgentBuilder {
        AgentBuilder::new().local_dev(self.clone())
    }
}

/// The resolver an agent is built with: the one given, else one for the
/// local development setup, else none (a default one is made when needed).
pub(crate) fn configured_resolver(
    given: Option<Resolver>,
    local_dev: Option<&LocalDev>,
    http: &Arc<dyn HttpClient>,
) -> Result<Option<Resolver>, ConfigError> {
    match (given, local_dev) {
        (Some(r), _) => Ok(Some(r)),
        (None, Some(dev)) => Ok(Some(dev.resolver_with(http.clone())?)),
        (None, None) => Ok(None),
    }
}

impl AgentBuilder {
    /// Works against a local development PDS and PLC directory
    /// ([`LocalDev`]): the service is the PDS (and plain `http` to it
    /// allowed when [`LocalDev::allow_insecure_http`] is), and handles and
    /// DIDs resolve through the PDS and the PLC directory, private and
    /// loopback hosts allowed, for [`AgentBuilder::login_with_handle`] and
    /// [`Agent::resolve_identity`]. A resolver given with
    /// [`AgentBuilder::identity_resolver`] takes precedence.
    pub fn local_dev(mut self, dev: LocalDev) -> Self {
        self = self.service(dev.pds_url.clone());
        if dev.allow_insecure_http {
            self = self.allow_insecure_http(true);
        }
        self.local_dev = Some(dev);
        self
    }

    /// Logs in with nothing but a handle (or a DID) and a password: resolves
    /// it to the account's PDS (handle → DID → DID document →
    /// `#atproto_pds`, the handle checked both ways), builds the agent for
    /// that PDS with this builder's settings, and logs in there.
    /// [`AtpAgent::service_url`] and [`AtpAgent::pds_url`] then show the PDS.
    ///
    /// A service set with [`AgentBuilder::service`] is replaced. Resolution
    /// failures are [`Error::Identity`], naming the step that failed.
    pub async fn login_with_handle(
        self,
        identifier: &str,
        password: impl Into<Secret>,
    ) -> Result<AtpAgent, Error<create_session::Error>> {
        let client = match self.session.client() {
            Some(c) => c,
            None => crate::agent::http_client()?,
        };
        let resolver =
            match configured_resolver(self.resolver.clone(), self.local_dev.as_ref(), &client)? {
                Some(r) => r,
                None => default_resolver(client.clone()).map_err(Error::into_typed)?,
            };
        let identity = resolver
            .resolve_identity(identifier)
            .await
            .map_err(|e| Error::Identity(Box::new(e)))?;
        let mut builder = self.service(identity.pds.as_str());
        builder.resolver = Some(resolver);
        builder.session = builder.session.http_client_arc(client);
        let agent = builder.build().map_err(Error::into_typed)?;
        // The identifier the PDS knows best is the DID: a handle may be
        // stale where the server looks it up.
        agent
            .login(Login::new(identity.did.as_str(), password))
            .await?;
        Ok(agent)
    }
}

impl AtpAgent {
    /// [`AgentBuilder::login_with_handle`] with default settings: one call
    /// from a handle and a password to a logged-in agent on the account's
    /// PDS.
    pub async fn login_with_handle(
        identifier: &str,
        password: impl Into<Secret>,
    ) -> Result<AtpAgent, Error<create_session::Error>> {
        AgentBuilder::new()
            .login_with_handle(identifier, password)
            .await
    }
}

/// The resolver used when none was configured: the public PLC directory,
/// HTTPS well-known handle lookups, and DNS TXT records with the `dns`
/// feature.
fn default_resolver(client: Arc<dyn HttpClient>) -> Result<Resolver, Error> {
    let builder = Resolver::builder(client);
    #[cfg(feature = "dns")]
    let builder = builder.system_dns().map_err(|e| {
        ConfigError::new(
            "DNS resolver",
            format!("cannot read the system's DNS configuration: {e}"),
        )
    })?;
    builder.build().map_err(|e| Error::Identity(Box::new(e)))
}

impl<M: SessionManager> Agent<M> {
    /// A clone sharing the session that resolves identities with
    /// `resolver`.
    pub fn with_identity_resolver(&self, resolver: Resolver) -> Self {
        let mut agent = self.clone();
        agent.resolver = Some(resolver);
        agent
    }

    /// A handle's DID as the agent's server knows it
    /// (`com.atproto.identity.resolveHandle`, as TypeScript's
    /// `agent.resolveHandle` does): quick, and it trusts that server. For a
    /// check that does not, use [`Agent::resolve_identity`].
    pub async fn resolve_handle(
        &self,
        handle: &Handle,
    ) -> Result<Did, Error<resolve_handle::Error>> {
        let params = resolve_handle::Parameters::new(handle.clone());
        Ok(self
            .call::<resolve_handle::ResolveHandle>(params, ())
            .await?
            .did)
    }

    /// Everything about an account from its handle or DID, resolved
    /// independently of any server: its DID, its handle checked both ways,
    /// its PDS and signing key, and its DID document (cached by the
    /// resolver; see [`AgentBuilder::identity_resolver`]).
    pub async fn resolve_identity(&self, identifier: &str) -> Result<Identity, Error> {
        let resolver = match &self.resolver {
            Some(r) => r.clone(),
            None => default_resolver(crate::agent::http_client()?)?,
        };
        resolver
            .resolve_identity(identifier)
            .await
            .map_err(|e| Error::Identity(Box::new(e)))
    }
}
