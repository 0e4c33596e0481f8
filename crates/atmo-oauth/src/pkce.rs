//! PKCE (RFC 7636) with the S256 method, the only one atproto allows.

use atmo_types::base64::encode_url;
use atmo_xrpc::Secret;
use sha2::{Digest, Sha256};

use crate::error::OAuthError;
use crate::util::random_token;

/// A PKCE verifier and its S256 challenge.
#[derive(Clone, Debug)]
pub struct Pkce {
    /// The verifier (43 characters from 32 random bytes): sent only to the
    /// token endpoint, kept secret until then.
    pub verifier: Secret,
    /// `base64url(SHA-256(verifier))`, sent with the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh random verifier and its challenge.
    pub fn generate() -> Result<Self, OAuthError> {
        Ok(Self::from_verifier(Secret::new(random_token::<32>()?)))
    }

    /// The challenge for a given verifier.
    pub fn from_verifier(verifier: Secret) -> Self {
        let challenge = challenge_s256(verifier.expose());
        Pkce {
            verifier,
            challenge,
        }
    }

    /// Always `S256`.
    pub fn method(&self) -> &'static str {
        "S256"
    }
}

/// The S256 challenge of `verifier`.
pub fn challenge_s256(verifier: &str) -> String {
    encode_url(&Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let p = Pkce::from_verifier(Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(p.method(), "S256");
    }

    #[test]
    fn fresh_verifiers_are_long_unique_and_redacted() {
        let a = Pkce::generate().unwrap();
        let b = Pkce::generate().unwrap();
        assert_eq!(a.verifier.expose().len(), 43);
        assert_ne!(a.verifier, b.verifier);
        assert!(!format!("{a:?}").contains(a.verifier.expose()));
    }
}
