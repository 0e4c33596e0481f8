//! [`OAuthSession`]: a signed-in account as a `SessionManager`, sending
//! DPoP-bound requests to its PDS and refreshing its tokens.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use atmo_session::{AuthError, SessionError, SessionEvent, SessionManager};
use atmo_types::Did;
use atmo_xrpc::{
    Authorizer, Error as XrpcLayerError, HttpMethod, ServiceUrl, XrpcError, XrpcRequest,
    XrpcResponse,
};

use crate::client::ClientInner;
use crate::dpop::{dpop_error, NonceCache};
use crate::error::OAuthError;
use crate::jose::Es256Key;
use crate::store::OAuthSessionData;
use crate::util::now_secs;

/// Refresh this long before the access token's expiry (or, for tokens that
/// live less than four times this, a quarter of their lifetime before).
pub const REFRESH_MARGIN_SECS: u64 = 30;

/// [`REFRESH_MARGIN_SECS`] as the default of
/// [`crate::OAuthClientBuilder::refresh_margin`].
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(REFRESH_MARGIN_SECS);

/// Whether the access token expires within the default refresh margin.
pub fn needs_refresh(data: &OAuthSessionData) -> bool {
    needs_refresh_within(data, DEFAULT_REFRESH_MARGIN)
}

/// Whether the access token expires within `margin` (a quarter of its
/// lifetime when that is shorter).
pub fn needs_refresh_within(data: &OAuthSessionData, margin: Duration) -> bool {
    let Some(expires) = data.expires_at else {
        return false;
    };
    let margin = margin.as_secs();
    let margin = match data.issued_at {
        Some(issued) => margin.min(expires.saturating_sub(issued) / 4),
        None => margin,
    };
    expires <= now_secs().saturating_add(margin)
}

/// A signed-in OAuth session. Implements
/// [`atmo_session::SessionManager`], so
/// `atmo_client::Agent::new(session)` gives the typed API.
///
/// Every request goes to the account's PDS with `Authorization: DPoP
/// <token>` and a fresh DPoP proof. The access token is refreshed shortly
/// before it expires and when the PDS calls it invalid, once for any number
/// of concurrent calls in the process and under the session store's lock
/// across processes. Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct OAuthSession {
    client: Arc<ClientInner>,
    did: Did,
    pds: ServiceUrl,
    data: Arc<RwLock<Option<OAuthSessionData>>>,
}

impl fmt::Debug for OAuthSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSession")
            .field("did", &self.did)
            .field("pds", &self.pds)
            .finish_non_exhaustive()
    }
}

/// The DPoP authorizer of one attempt: the token and a proof bound to the
/// attempt's method and URL, with the origin's latest nonce.
struct DpopAuth<'a> {
    key: &'a Es256Key,
    token: &'a str,
    nonces: &'a NonceCache,
}

impl Authorizer for DpopAuth<'_> {
    fn authorize(
        &self,
        method: HttpMethod,
        url: &str,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(), XrpcLayerError> {
        if self.token.is_empty() || !self.token.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
            return Err(XrpcLayerError::InvalidRequest(
                "the access token is not a valid header value".into(),
            ));
        }
        let nonce = self.nonces.get(url);
        let proof = self
            .key
            .dpop_proof(method.as_str(), url, nonce.as_deref(), Some(self.token))
            .map_err(|e| XrpcLayerError::InvalidRequest(e.to_string()))?;
        headers.push(("authorization".to_owned(), format!("DPoP {}", self.token)));
        headers.push(("dpop".to_owned(), proof));
        Ok(())
    }
}

/// An OAuth failure as the session layer reports it: a store failure as
/// [`SessionError::Store`]; a failure that ends the session (see
/// [`OAuthError::ends_session`]) as [`SessionError::Expired`] named after
/// the OAuth error (`invalid_grant`) or `OAuthSessionEnded`; every other
/// failure, which keeps the session, as a transient
/// [`SessionError::Auth`] carrying the [`OAuthError`] itself.
fn session_error(e: OAuthError) -> SessionError {
    match e {
        OAuthError::Store(s) => SessionError::Store(s),
        OAuthError::Session(s) => s,
        e if !e.ends_session() => SessionError::Auth(AuthError::transient(e)),
        OAuthError::Server {
            error, description, ..
        } => SessionError::Expired {
            error,
            message: description,
        },
        other => SessionError::Expired {
            error: "OAuthSessionEnded".into(),
            message: Some(other.to_string()),
        },
    }
}

/// Whether an error answer says the access token is no longer good (and
/// not, say, that the proof was refused, which a new token would not fix).
fn is_invalid_token(e: &XrpcError, declares_expired_token: bool) -> bool {
    let named = matches!(e.error.as_str(), "InvalidToken" | "ExpiredToken");
    if e.status == 401 {
        return match dpop_error(&e.headers).as_deref() {
            Some("invalid_token") => true,
            Some(_) => false,
            None => named,
        };
    }
    e.status == 400 && e.error == "ExpiredToken" && !declares_expired_token
}

impl OAuthSession {
    pub(crate) fn new(
        client: Arc<ClientInner>,
        data: OAuthSessionData,
    ) -> Result<Self, OAuthError> {
        let pds = client.check(&data.pds)?;
        Ok(OAuthSession {
            client,
            did: data.did.clone(),
            pds,
            data: Arc::new(RwLock::new(Some(data))),
        })
    }

    /// The account's DID.
    pub fn account(&self) -> &Did {
        &self.did
    }

    /// The PDS requests go to.
    pub fn pds(&self) -> &ServiceUrl {
        &self.pds
    }

    /// The session's data (tokens included, as [`atmo_xrpc::Secret`]s),
    /// `None` once it has ended.
    pub fn data(&self) -> Option<OAuthSessionData> {
        self.data.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, data: Option<OAuthSessionData>) {
        *self.data.write().unwrap_or_else(|p| p.into_inner()) = data;
    }

    fn current(&self) -> Result<OAuthSessionData, SessionError> {
        self.data().ok_or(SessionError::NoSession)
    }

    /// Refreshes when the access token expires within the margin.
    pub async fn refresh_if_needed(&self) -> Result<(), OAuthError> {
        let data = self
            .current()
            .map_err(|_| OAuthError::NoSession(self.did.clone()))?;
        if needs_refresh_within(&data, self.client.refresh_margin) {
            self.refresh_from(&data).await.map_err(|e| match e {
                SessionError::NoSession => OAuthError::NoSession(self.did.clone()),
                other => OAuthError::Session(other),
            })?;
        }
        Ok(())
    }

    /// Refreshes the tokens now (unless another process or task already
    /// replaced the ones this session holds, which are then adopted) and
    /// returns the session as it is afterwards, like
    /// `CredentialSession::refresh`. Fires `Update`, or `Expired` /
    /// `NetworkError` on failure.
    pub async fn refresh(&self) -> Result<OAuthSessionData, SessionError> {
        let data = self.current()?;
        self.refresh_from(&data).await
    }

    /// Replaces the tokens of `stale`: under the in-process lock and the
    /// store's lock, re-reads the store (adopting newer tokens), re-verifies
    /// that the issuer speaks for the account, then uses the refresh token.
    async fn refresh_from(
        &self,
        stale: &OAuthSessionData,
    ) -> Result<OAuthSessionData, SessionError> {
        let client = &self.client;
        // The hook runs under the refresh lock: a call from it would wait
        // for itself.
        client.hook_scope.check()?;
        let local = client.refresh_lock(&self.did);
        let _local = local.lock().await;
        let _store_lock = client.sessions.lock_session(&self.did).await?;
        let stored = client.sessions.load_session(&self.did).await?;
        let data = match stored {
            None => {
                // Signed out or ended elsewhere.
                if self.data().is_some() {
                    self.set(None);
                    client.emit(SessionEvent::Expired, &self.did, None).await;
                }
                return Err(SessionError::NoSession);
            }
            Some(s) if s.access_token != stale.access_token => {
                self.set(Some(s.clone()));
                return Ok(s);
            }
            Some(s) => s,
        };
        let outcome = match client.verify_issuer(&self.did, &data.issuer).await {
            Ok(_) => client.refresh_grant(&data).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(new) => {
                client.sessions.save_session(&new).await?;
                self.set(Some(new.clone()));
                client
                    .emit(SessionEvent::Update, &self.did, Some(&new))
                    .await;
                Ok(new)
            }
            Err(e) if !e.ends_session() => {
                client
                    .emit(SessionEvent::NetworkError, &self.did, Some(&data))
                    .await;
                Err(session_error(e))
            }
            Err(e) => {
                // A rejected refresh token (or an issuer that no longer
                // speaks for the account) ends the session.
                let cleared = client.sessions.clear_session(&self.did).await;
                self.set(None);
                client.emit(SessionEvent::Expired, &self.did, None).await;
                cleared?;
                Err(session_error(e))
            }
        }
    }

    /// Revokes the session at the authorization server and ends it: the
    /// store is cleared and `Expired` delivered even when the server call
    /// fails, whose error is then returned (the same verb and error type as
    /// `CredentialSession::logout`). A failed revocation is
    /// [`SessionError::Auth`] carrying the [`OAuthError`]; a store that
    /// could not be cleared, [`SessionError::Store`].
    pub async fn logout(&self) -> Result<(), SessionError> {
        self.end().await.map_err(|e| match e {
            OAuthError::Store(s) => SessionError::Store(s),
            OAuthError::Session(s) => s,
            e if e.is_transient() => SessionError::Auth(AuthError::transient(e)),
            e => SessionError::Auth(AuthError::permanent(e)),
        })
    }

    /// [`OAuthSession::logout`] with the OAuth error type: the name
    /// `@atproto/oauth-client` uses.
    #[deprecated(note = "use `logout`, the same verb as the password session's")]
    pub async fn sign_out(&self) -> Result<(), OAuthError> {
        self.end().await
    }

    async fn end(&self) -> Result<(), OAuthError> {
        let client = &self.client;
        client.hook_scope.check().map_err(OAuthError::Session)?;
        let local = client.refresh_lock(&self.did);
        let _local = local.lock().await;
        let data = match self.data() {
            Some(d) => Some(d),
            None => client.sessions.load_session(&self.did).await?,
        };
        let revoked = match &data {
            Some(d) => client.revoke(d).await,
            None => Ok(()),
        };
        let cleared = client.sessions.clear_session(&self.did).await;
        self.set(None);
        client.emit(SessionEvent::Expired, &self.did, None).await;
        cleared?;
        revoked
    }

    /// One request with `data`'s token, retried once with a fresh nonce on
    /// the PDS's `use_dpop_nonce` challenge.
    async fn send_with(
        &self,
        data: &OAuthSessionData,
        request: &XrpcRequest,
    ) -> Result<XrpcResponse, XrpcLayerError> {
        let client = &self.client;
        let auth = DpopAuth {
            key: &data.dpop_key,
            token: data.access_token.expose(),
            nonces: &client.nonces,
        };
        let origin = self.pds.as_str();
        let mut retried = false;
        loop {
            match client.transport.send(&self.pds, request, &auth).await {
                Ok(r) => {
                    client.nonces.update(origin, &r.headers);
                    return Ok(r);
                }
                Err(XrpcLayerError::Xrpc(e)) => {
                    let fresh = client.nonces.update(origin, &e.headers);
                    if e.status == 401
                        && dpop_error(&e.headers).as_deref() == Some("use_dpop_nonce")
                        && fresh
                        && !retried
                    {
                        retried = true;
                        continue;
                    }
                    return Err(XrpcLayerError::Xrpc(e));
                }
                Err(other) => return Err(other),
            }
        }
    }
}

impl SessionManager for OAuthSession {
    async fn send(&self, request: XrpcRequest) -> Result<XrpcResponse, SessionError> {
        // Refused from the event hook whether or not this call would need
        // the refresh lock, so that such a call fails the same way every
        // time instead of deadlocking only when the token is due.
        self.client.hook_scope.check()?;
        let mut data = self.current()?;
        if needs_refresh_within(&data, self.client.refresh_margin) {
            match self.refresh_from(&data).await {
                Ok(d) => data = d,
                // Not reachable now: try the current token anyway.
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
        }
        match self.send_with(&data, &request).await {
            Err(XrpcLayerError::Xrpc(e))
                if is_invalid_token(&e, request.declares_expired_token) =>
            {
                let fresh = self.refresh_from(&data).await?;
                Ok(self.send_with(&fresh, &request).await?)
            }
            other => Ok(other?),
        }
    }

    fn did(&self) -> Option<Did> {
        self.data().map(|d| d.did)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atmo_xrpc::Secret;

    fn data(issued_at: Option<u64>, expires_at: Option<u64>) -> OAuthSessionData {
        OAuthSessionData {
            did: Did::new("did:plc:abc").unwrap(),
            issuer: "https://as.example".into(),
            pds: "https://pds.example".into(),
            scope: "atproto".into(),
            access_token: Secret::new("a"),
            refresh_token: None,
            expires_at,
            issued_at,
            dpop_key: Es256Key::generate().unwrap(),
            token_endpoint: "https://as.example/oauth/token".into(),
            revocation_endpoint: None,
        }
    }

    #[test]
    fn refresh_margin() {
        let now = now_secs();
        assert!(!needs_refresh(&data(None, None)), "no expiry known");
        assert!(needs_refresh(&data(None, Some(now + 10))), "within 30 s");
        assert!(!needs_refresh(&data(None, Some(now + 120))));
        assert!(needs_refresh(&data(Some(now - 3600), Some(now + 20))));
        // A 20 s token is refreshed only in its last 5 s.
        assert!(!needs_refresh(&data(Some(now), Some(now + 20))));
        assert!(needs_refresh(&data(Some(now - 16), Some(now + 4))));
        assert!(needs_refresh(&data(Some(now), Some(now))));
        // A configured margin.
        let five_min = Duration::from_secs(300);
        assert!(needs_refresh_within(&data(None, Some(now + 120)), five_min));
        assert!(!needs_refresh_within(
            &data(None, Some(now + 120)),
            Duration::ZERO
        ));
        // Saturates rather than overflowing: such a margin always refreshes.
        assert!(needs_refresh_within(
            &data(None, Some(u64::MAX)),
            Duration::MAX
        ));
    }

    #[test]
    fn invalid_token_answers() {
        let e = |status, error: &str, www: Option<&str>| XrpcError {
            nsid: "x".into(),
            status,
            error: error.into(),
            message: None,
            headers: www
                .map(|w| vec![("www-authenticate".to_owned(), w.to_owned())])
                .unwrap_or_default(),
        };
        assert!(is_invalid_token(
            &e(401, "InvalidToken", Some(r#"DPoP error="invalid_token""#)),
            false
        ));
        assert!(is_invalid_token(&e(401, "ExpiredToken", None), false));
        assert!(!is_invalid_token(
            &e(401, "UseDpopNonce", Some(r#"DPoP error="use_dpop_nonce""#)),
            false
        ));
        assert!(!is_invalid_token(
            &e(
                401,
                "InvalidToken",
                Some(r#"DPoP error="invalid_dpop_proof""#)
            ),
            false
        ));
        assert!(!is_invalid_token(&e(401, "AuthRequired", None), false));
        assert!(is_invalid_token(&e(400, "ExpiredToken", None), false));
        assert!(
            !is_invalid_token(&e(400, "ExpiredToken", None), true),
            "an endpoint's own ExpiredToken"
        );
    }
}
