//! Everything the OAuth client refuses or fails at, one variant per cause.

use std::fmt;

use atproto_session::StoreError;
use atproto_types::Did;

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
    Session(atproto_session::SessionError),
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
    /// A failure that says nothing about the session's validity: no answer,
    /// or a 5xx/429 from the server. Worth trying again later.
    pub fn is_transient(&self) -> bool {
        match self {
            OAuthError::Http { .. } => true,
            OAuthError::Server { status, .. } => *status >= 500 || *status == 429,
            OAuthError::Metadata { reason, .. } => reason.starts_with("HTTP 5"),
            OAuthError::Resolve { .. } => true,
            OAuthError::Session(e) => e.is_transient(),
            _ => false,
        }
    }
}
