//! Everything the OAuth client refuses or fails at, one variant per cause.

use std::fmt;

use atmo_session::StoreError;
use atmo_types::Did;

/// An OAuth failure. Every refusal the protocol calls for is a variant of
/// its own, so an application (or a test) can tell them apart.
///
/// No variant ever holds a token, a PKCE verifier or a private key: only the
/// server's error names and descriptions, URLs, issuers and DIDs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum OAuthError {
    /// The client configuration (or a client metadata document) is not
    /// acceptable; the text says which field and why.
    Config(String),
    /// The input to `authorize` is not a handle, a DID or an http(s) URL.
    InvalidInput(String),
    /// A URL was refused by the transport policy (plain http to a non-loopback
    /// host, or not an http(s) URL); the text names it.
    Url(String),
    /// Resolving a handle or DID to its PDS failed.
    Resolve {
        /// The handle or DID.
        identifier: String,
        /// Why.
        message: String,
    },
    /// No complete answer from an OAuth endpoint (connection, timeout, size).
    Http {
        /// The URL called.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A metadata document (protected resource, authorization server) is
    /// malformed, oversize, or fails a check of the atproto profile.
    Metadata {
        /// Where it came from.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A metadata document (protected resource, authorization server) was
    /// answered with an HTTP status other than 200.
    MetadataStatus {
        /// Where it was asked for.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// An OAuth endpoint answered with a success status other than the one
    /// its specification prescribes (e.g. a PAR endpoint answering 200
    /// where RFC 9126 requires 201).
    UnexpectedStatus {
        /// The endpoint.
        url: String,
        /// The status required.
        expected: u16,
        /// The status received.
        status: u16,
    },
    /// The authorization server's metadata names a different issuer than the
    /// one it was fetched for.
    IssuerMetadataMismatch {
        /// The issuer asked for.
        expected: String,
        /// The issuer in the document.
        actual: String,
    },
    /// The `state` of a callback is not one this client issued (or it was
    /// already used).
    UnknownState,
    /// The `state` of a callback was issued longer ago than the allowed age.
    StateExpired {
        /// Its age in seconds.
        age_secs: u64,
    },
    /// The callback has no `iss` parameter.
    MissingIssuer,
    /// The callback's `iss` is not the authorization server the flow began
    /// with.
    IssuerMismatch {
        /// The issuer the flow started with.
        expected: String,
        /// The `iss` of the callback.
        actual: String,
    },
    /// The authorization server redirected back with an error.
    AuthorizationDenied {
        /// The `error` parameter (e.g. `access_denied`).
        error: String,
        /// The `error_description` parameter.
        description: Option<String>,
    },
    /// The callback is malformed (no `code`, no `state`, bad encoding).
    InvalidCallback(String),
    /// The loopback redirect listener got no callback within its timeout.
    CallbackTimeout {
        /// How long it waited.
        waited: std::time::Duration,
    },
    /// An OAuth endpoint (PAR, token, revocation) answered with an error.
    Server {
        /// The endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// The OAuth `error` name (e.g. `invalid_grant`).
        error: String,
        /// The `error_description`.
        description: Option<String>,
    },
    /// The server asked for a DPoP nonce without sending one (`use_dpop_nonce`
    /// and no `DPoP-Nonce` header), or asked again after the retry.
    MissingDpopNonce {
        /// The endpoint.
        url: String,
    },
    /// The token endpoint's answer is malformed or fails a check
    /// (`token_type` not DPoP, `sub` not a DID, no `atproto` scope).
    TokenResponse(String),
    /// The flow began from a handle or DID, and the token is for another
    /// account.
    SubjectMismatch {
        /// The DID the flow began with.
        expected: Did,
        /// The token's `sub`.
        actual: Did,
    },
    /// The token's `sub` resolves to a PDS whose authorization server is not
    /// the issuer of the token: the server may not speak for that account.
    IssuerNotAuthoritative {
        /// The token's `sub`.
        sub: Did,
        /// The issuer of the token.
        issuer: String,
        /// The issuer named by the account's PDS.
        resolved: String,
    },
    /// A key, signature or random source failed.
    Crypto(String),
    /// The state or session store failed.
    Store(StoreError),
    /// There is no stored session for this DID.
    NoSession(Did),
    /// Refreshing a restored session failed (the session error says whether
    /// it ended or the server could not be reached).
    Session(atmo_session::SessionError),
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OAuthError::Config(m) => write!(f, "invalid OAuth client configuration: {m}"),
            OAuthError::InvalidInput(m) => write!(f, "cannot sign in with this input: {m}"),
            OAuthError::Url(m) => write!(f, "refused URL: {m}"),
            OAuthError::Resolve { identifier, message } => {
                write!(f, "cannot resolve {identifier}: {message}")
            }
            OAuthError::Http { url, message } => write!(f, "no answer from {url}: {message}"),
            OAuthError::Metadata { url, reason } => {
                write!(f, "unacceptable OAuth metadata from {url}: {reason}")
            }
            OAuthError::MetadataStatus { url, status } => write!(
                f,
                "{url} answered HTTP {status} instead of its OAuth metadata"
            ),
            OAuthError::UnexpectedStatus {
                url,
                expected,
                status,
            } => write!(f, "{url} answered HTTP {status}, expected {expected}"),
            OAuthError::IssuerMetadataMismatch { expected, actual } => write!(
                f,
                "the authorization server metadata for {expected} names the issuer {actual}"
            ),
            OAuthError::UnknownState => f.write_str(
                "the callback's state is unknown or was already used (start the sign-in again)",
            ),
            OAuthError::StateExpired { age_secs } => write!(
                f,
                "the sign-in took too long ({age_secs}s since it began); start it again"
            ),
            OAuthError::MissingIssuer => f.write_str("the callback has no iss parameter"),
            OAuthError::IssuerMismatch { expected, actual } => write!(
                f,
                "the callback comes from issuer {actual}, but the sign-in began with {expected}"
            ),
            OAuthError::AuthorizationDenied { error, description } => {
                write!(f, "the authorization server refused: {error}")?;
                if let Some(d) = description {
                    write!(f, ": {d}")?;
                }
                Ok(())
            }
            OAuthError::InvalidCallback(m) => write!(f, "malformed callback: {m}"),
            OAuthError::CallbackTimeout { waited } => write!(
                f,
                "no sign-in callback arrived within {} s",
                waited.as_secs()
            ),
            OAuthError::Server {
                url,
                status,
                error,
                description,
            } => {
                write!(f, "{url} answered HTTP {status} {error}")?;
                if let Some(d) = description {
                    write!(f, ": {d}")?;
                }
                Ok(())
            }
            OAuthError::MissingDpopNonce { url } => write!(
                f,
                "{url} demanded a DPoP nonce but did not provide a usable one"
            ),
            OAuthError::TokenResponse(m) => write!(f, "unacceptable token response: {m}"),
            OAuthError::SubjectMismatch { expected, actual } => write!(
                f,
                "the sign-in was for {expected} but the token is for {actual}"
            ),
            OAuthError::IssuerNotAuthoritative {
                sub,
                issuer,
                resolved,
            } => write!(
                f,
                "{issuer} issued a token for {sub}, whose PDS names {resolved} as its authorization server"
            ),
            OAuthError::Crypto(m) => write!(f, "crypto failure: {m}"),
            OAuthError::Store(e) => write!(f, "OAuth store: {e}"),
            OAuthError::NoSession(did) => write!(f, "no stored OAuth session for {did}"),
            OAuthError::Session(e) => write!(f, "refreshing the session failed: {e}"),
        }
    }
}

impl std::error::Error for OAuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OAuthError::Store(e) => Some(e),
            OAuthError::Session(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        OAuthError::Store(e)
    }
}

impl OAuthError {
    /// A failure that says nothing about the session's validity and is
    /// worth trying again later: no answer, a 5xx or 429 from an endpoint or
    /// a metadata document, a failed identity lookup, a DPoP nonce the
    /// server demanded but did not give.
    ///
    /// A refresh keeps the session on every failure but those of
    /// [`OAuthError::ends_session`], and reports the kept ones as transient.
    pub fn is_transient(&self) -> bool {
        match self {
            OAuthError::Http { .. }
            | OAuthError::Resolve { .. }
            | OAuthError::MissingDpopNonce { .. } => true,
            OAuthError::Server { status, .. } | OAuthError::MetadataStatus { status, .. } => {
                *status >= 500 || *status == 429
            }
            OAuthError::Session(e) => e.is_transient(),
            _ => false,
        }
    }

    /// Whether this failure, met while refreshing, ends the session: the
    /// authorization server refused the refresh token (HTTP 400
    /// `invalid_grant`), the issuer no longer speaks for the account (the
    /// account's PDS names another authorization server), or the tokens are
    /// for another account. Anything else (a refused DPoP proof from a
    /// skewed clock, a nonce challenge, another 4xx, no answer) leaves the
    /// session as it was, as `@atproto/oauth-client` does.
    pub fn ends_session(&self) -> bool {
        match self {
            OAuthError::Server { status, error, .. } => {
                *status == 400 && error == OAUTH_INVALID_GRANT
            }
            OAuthError::IssuerNotAuthoritative { .. }
            | OAuthError::SubjectMismatch { .. }
            | OAuthError::IssuerMismatch { .. } => true,
            _ => false,
        }
    }
}

/// The OAuth error code with which an authorization server refuses a
/// refresh token (RFC 6749 section 5.2): the only answer that ends a
/// session.
pub(crate) const OAUTH_INVALID_GRANT: &str = "invalid_grant";

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status: u16, error: &str) -> OAuthError {
        OAuthError::Server {
            url: "https://as.example/oauth/token".into(),
            status,
            error: error.into(),
            description: None,
        }
    }

    #[test]
    fn only_a_refused_grant_or_a_mismatch_ends_a_session() {
        assert!(server(400, "invalid_grant").ends_session());
        for (status, error) in [
            (400, "invalid_dpop_proof"),
            (401, "invalid_dpop_proof"),
            (400, "invalid_request"),
            (401, "invalid_client"),
            (400, "unauthorized_client"),
            (400, "invalid_scope"),
            (401, "invalid_grant"),
            (429, "rate_limited"),
            (500, "server_error"),
            (503, "temporarily_unavailable"),
        ] {
            assert!(!server(status, error).ends_session(), "{status} {error}");
        }
        let did = Did::new("did:plc:abc").unwrap();
        assert!(OAuthError::SubjectMismatch {
            expected: did.clone(),
            actual: Did::new("did:plc:other").unwrap(),
        }
        .ends_session());
        assert!(OAuthError::IssuerNotAuthoritative {
            sub: did,
            issuer: "https://a".into(),
            resolved: "https://b".into(),
        }
        .ends_session());
        assert!(!OAuthError::MetadataStatus {
            url: "https://pds/.well-known/oauth-protected-resource".into(),
            status: 404,
        }
        .ends_session());
    }

    #[test]
    fn transient_by_status_not_by_text() {
        let meta = |status| OAuthError::MetadataStatus {
            url: "https://as.example/.well-known/oauth-authorization-server".into(),
            status,
        };
        assert!(meta(503).is_transient());
        assert!(meta(429).is_transient());
        assert!(!meta(404).is_transient());
        // A document whose text happens to begin like a status is not one.
        assert!(!OAuthError::Metadata {
            url: "https://as.example".into(),
            reason: "HTTP 500 in the issuer field".into(),
        }
        .is_transient());
        assert!(server(502, "x").is_transient());
        assert!(!server(400, "invalid_request").is_transient());
        assert!(!OAuthError::UnexpectedStatus {
            url: "https://as.example/oauth/par".into(),
            expected: 201,
            status: 200,
        }
        .is_transient());
    }
}
