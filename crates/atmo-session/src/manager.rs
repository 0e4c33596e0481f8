//! The seam between an agent and a session kind.

use std::future::Future;

use atmo_types::Did;
use atmo_xrpc::{XrpcRequest, XrpcResponse};

use crate::SessionError;

/// Sends prepared requests on behalf of an agent (`atmo_client::Agent`),
/// adding authentication and handling its expiry.
///
/// The agent builds [`XrpcRequest`]s and decodes bodies; everything about
/// credentials lives behind this trait, so another scheme (OAuth with DPoP,
/// service auth, a fixed app-password session) plugs in without touching the
/// agent. `atmo_client::CredentialSession` is the password-based
/// implementation, `atmo_oauth::OAuthSession` the OAuth one.
pub trait SessionManager: Send + Sync + 'static {
    /// Sends one request (authenticated when there is a session) and returns
    /// a 2xx answer, or the classified error.
    fn send(
        &self,
        request: XrpcRequest,
    ) -> impl Future<Output = Result<XrpcResponse, SessionError>> + Send;

    /// The DID of the signed-in account, if any.
    fn did(&self) -> Option<Did>;
}
