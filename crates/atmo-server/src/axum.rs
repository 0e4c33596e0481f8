//! The axum extractor (feature `axum`): [`ServiceAuth`] verifies the
//! request's service JWT for the route's NSID and yields the caller.
//!
//! ```
//! use axum::{routing::get, Router};
//! use atmo_server::axum::ServiceAuth;
//! use atmo_server::ServiceAuthVerifier;
//!
//! async fn get_feed_skeleton(ServiceAuth(caller): ServiceAuth) -> String {
//!     format!("a feed for {}", caller.did)
//! }
//!
//! fn router(verifier: ServiceAuthVerifier) -> Router {
//!     Router::new()
//!         .route("/xrpc/app.bsky.feed.getFeedSkeleton", get(get_feed_skeleton))
//!         // The verifier is the state, or part of it (`FromRef`).
//!         .with_state(verifier)
//! }
//! ```

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::service_auth::{ServiceAuthError, ServiceAuthVerifier, VerifiedCaller};

/// A request whose service JWT verified: the caller.
///
/// The token comes from `Authorization: Bearer`; `lxm` must be the NSID of
/// the path (`/xrpc/<nsid>`), as the reference PDS checks it. On a path
/// that is not `/xrpc/<nsid>` no method is known and `lxm` is not checked.
/// A refusal answers the [`ServiceAuthError`]'s status and XRPC error JSON.
/// The [`ServiceAuthVerifier`] is taken from the router's state
/// ([`FromRef`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceAuth(pub VerifiedCaller);

impl<S> FromRequestParts<S> for ServiceAuth
where
    S: Send + Sync,
    ServiceAuthVerifier: FromRef<S>,
{
    type Rejection = ServiceAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = ServiceAuthVerifier::from_ref(state);
        let authorization = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let lxm = route_nsid(parts.uri.path());
        verifier
            .verify_header(authorization, lxm)
            .await
            .map(ServiceAuth)
    }
}

/// The NSID of an XRPC path: what follows `/xrpc/`, when it is one
/// segment.
fn route_nsid(path: &str) -> Option<&str> {
    let nsid = path.strip_prefix("/xrpc/")?;
    (!nsid.is_empty() && !nsid.contains('/')).then_some(nsid)
}

impl IntoResponse for ServiceAuthError {
    /// The status, `WWW-Authenticate: Bearer` on a 401, and the XRPC error
    /// JSON body.
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.to_xrpc_json().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::route_nsid;

    #[test]
    fn nsids_of_paths() {
        assert_eq!(
            route_nsid("/xrpc/app.bsky.feed.getFeedSkeleton"),
            Some("app.bsky.feed.getFeedSkeleton")
        );
        assert_eq!(route_nsid("/xrpc/"), None);
        assert_eq!(route_nsid("/xrpc/a/b"), None);
        assert_eq!(route_nsid("/health"), None);
    }
}
