//! Handle/DID → PDS resolution, behind a small trait so that an app can
//! bring its own (a cache, a test double); implemented for
//! `atmo_identity::Resolver`.

use atmo_types::Did;
use atmo_xrpc::BoxFuture;

use crate::error::OAuthError;

/// An account and its PDS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedIdentity {
    /// The account's DID.
    pub did: Did,
    /// The PDS origin (`https://host[:port]`, no trailing slash).
    pub pds: String,
}

/// Resolves a handle or DID to the account's DID and PDS.
pub trait IdentityResolver: Send + Sync {
    /// Resolves `identifier` (a handle or a DID); `fresh` bypasses caches
    /// (the client asks for that when verifying a token's `sub`).
    fn resolve<'a>(
        &'a self,
        identifier: &'a str,
        fresh: bool,
    ) -> BoxFuture<'a, Result<ResolvedIdentity, OAuthError>>;
}

/// A shared resolver is a resolver, so the builder takes both forms.
impl<R: IdentityResolver + ?Sized> IdentityResolver for std::sync::Arc<R> {
    fn resolve<'a>(
        &'a self,
        identifier: &'a str,
        fresh: bool,
    ) -> BoxFuture<'a, Result<ResolvedIdentity, OAuthError>> {
        (**self).resolve(identifier, fresh)
    }
}

impl IdentityResolver for atmo_identity::Resolver {
    fn resolve<'a>(
        &'a self,
        identifier: &'a str,
        fresh: bool,
    ) -> BoxFuture<'a, Result<ResolvedIdentity, OAuthError>> {
        Box::pin(async move {
            let resolver = if fresh { self.fresh() } else { self.clone() };
            let id =
                resolver
                    .resolve_identity(identifier)
                    .await
                    .map_err(|e| OAuthError::Resolve {
                        identifier: identifier.to_owned(),
                        message: e.to_string(),
                    })?;
            Ok(ResolvedIdentity {
                did: id.did,
                pds: id.pds.as_str().trim_end_matches('/').to_owned(),
            })
        })
    }
}
