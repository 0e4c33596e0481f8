//! Service auth from the client: a token signed by the user's PDS that lets
//! another service act for the user (`com.atproto.server.getServiceAuth`).
//!
//! The PDS signs a short-lived JWT with the account's `#atproto` key:
//! `iss` the account, `aud` the service that will receive it, `lxm` the one
//! method it may be used for. The receiving service checks it against the
//! account's DID document (`atmo-server`'s `ServiceAuthVerifier` does
//! exactly that). Video uploads ([`Agent::upload_video`](crate::Agent)) are
//! the common case: the video service uses such a token to store the
//! processed video on the user's PDS.
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
//! use std::time::{Duration, SystemTime};
//!
//! let token = agent
//!     .service_auth(
//!         "did:web:feed.example.com",
//!         Some("app.bsky.feed.getFeedSkeleton"),
//!         Some(SystemTime::now() + Duration::from_secs(120)),
//!     )
//!     .await?;
//! // Send it as `Authorization: Bearer <token>` to that service.
//! let _header = format!("Bearer {}", token.expose());
//! # Ok(()) }
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use atmo_api::com::atproto::server::get_service_auth;
use atmo_types::{Did, Nsid};
use atmo_xrpc::Secret;

use crate::agent::Agent;
use crate::error::Error;
use crate::session::SessionManager;

/// Longest lifetime the reference PDS grants a token bound to a method
/// (`exp` at most this far ahead).
pub const MAX_SERVICE_AUTH_LIFETIME_SECS: u64 = 60 * 60;

/// Longest lifetime the reference PDS grants a token for any method
/// (`lxm` absent).
pub const MAX_UNBOUND_SERVICE_AUTH_LIFETIME_SECS: u64 = 60;

impl<M: SessionManager> Agent<M> {
    /// A service-auth token from the PDS (`com.atproto.server.getServiceAuth`),
    /// as a [`Secret`] (it authenticates as the user until it expires).
    ///
    /// - `aud`: the DID of the service that will receive the token
    ///   (`did:web:video.bsky.app`), or `did#service_id` for one service
    ///   entry of that DID. The token is refused by any other service.
    /// - `lxm`: the NSID of the one method the token may call
    ///   (`com.atproto.repo.uploadBlob`). `None` asks for a token good for
    ///   any method, which the PDS grants for
    ///   [`MAX_UNBOUND_SERVICE_AUTH_LIFETIME_SECS`] at most, and which
    ///   services that check `lxm` refuse.
    /// - `exp`: when the token expires; `None` lets the PDS choose (60 s).
    ///   The reference PDS refuses a time in the past or more than
    ///   [`MAX_SERVICE_AUTH_LIFETIME_SECS`] ahead (`BadExpiration`).
    ///
    /// `aud` and `lxm` are checked before anything is sent
    /// ([`Error::Invalid`]). The PDS also refuses protected methods
    /// (account deletion, email and password changes) and, for app
    /// passwords, privileged ones.
    ///
    /// The call carries the agent's options: on an agent made with
    /// [`Agent::with_proxy`] the PDS would forward it to that service, so
    /// ask on an agent without a proxy.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let token = agent
    ///     .service_auth("did:web:video.bsky.app", Some("app.bsky.video.getUploadLimits"), None)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn service_auth(
        &self,
        aud: &str,
        lxm: Option<&str>,
        exp: Option<SystemTime>,
    ) -> Result<Secret, Error<get_service_auth::Error>> {
        check_audience(aud)?;
        let lxm = match lxm {
            Some(nsid) => Some(
                Nsid::new(nsid)
                    .map_err(|e| Error::Invalid(format!("service auth lxm {nsid:?}: {e}")))?,
            ),
            None => None,
        };
        let exp = match exp {
            Some(t) => {
                let secs = t.duration_since(UNIX_EPOCH).map_err(|_| {
                    Error::Invalid("service auth exp is before the Unix epoch".into())
                })?;
                Some(i64::try_from(secs.as_secs()).map_err(|_| {
                    Error::Invalid("service auth exp is too far in the future".into())
                })?)
            }
            None => None,
        };
        let mut params = get_service_auth::Parameters::new(aud.to_owned());
        params.lxm = lxm;
        params.exp = exp;
        let out = self
            .call::<get_service_auth::GetServiceAuth>(params, ())
            .await?;
        Ok(Secret::new(out.token))
    }
}

/// `aud` must be a DID or `did#service_id`, as the PDS requires.
fn check_audience<E>(aud: &str) -> Result<(), Error<E>> {
    let (did, fragment) = match aud.split_once('#') {
        Some((did, fragment)) => (did, Some(fragment)),
        None => (aud, None),
    };
    if let Err(e) = Did::new(did) {
        return Err(Error::Invalid(format!(
            "service auth aud {aud:?} is not a DID (or did#service_id): {e}"
        )));
    }
    if fragment.is_some_and(|f| f.is_empty() || f.contains('#')) {
        return Err(Error::Invalid(format!(
            "service auth aud {aud:?}: the service id after '#' must be one non-empty name"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use atmo_types::xrpc::NoError;

    #[test]
    fn audiences() {
        for ok in ["did:web:video.bsky.app", "did:plc:abc#atproto_labeler"] {
            assert!(check_audience::<NoError>(ok).is_ok(), "{ok}");
        }
        for bad in ["video.bsky.app", "did:web:x#", "did:web:x#a#b", ""] {
            assert!(
                matches!(check_audience::<NoError>(bad), Err(Error::Invalid(_))),
                "{bad}"
            );
        }
    }
}
