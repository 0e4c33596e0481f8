//! Finding an account's PDS from its handle, and identity lookups through
//! the agent (crate `atproto-identity`).

use std::sync::Arc;

use atproto_api::com::atproto::identity::resolve_handle;
use atproto_api::com::atproto::server::create_session;
use atproto_identity::{Identity, Resolver};
use atproto_types::{Did, Handle};
use atproto_xrpc::{HttpClient, Secret};

use crate::agent::{Agent, AgentBuilder, AtpAgent};
use crate::error::Error;
use crate::session::{Login, SessionManager};

impl AgentBuilder {
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
            None => crate::agent::default_client()?,
        };
        let resolver = match &self.resolver {
            Some(r) => r.clone(),
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
    let builder = builder
        .system_dns()
        .map_err(|e| Error::Invalid(format!("cannot read the system's DNS configuration: {e}")))?;
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
            None => default_resolver(crate::agent::default_client()?)?,
        };
        resolver
            .resolve_identity(identifier)
            .await
            .map_err(|e| Error::Identity(Box::new(e)))
    }
}
