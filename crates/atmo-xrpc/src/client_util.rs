//! What the built-in HTTP clients share: reading an answer's status and
//! headers, the size-limit error, and an error's cause chain as text.

use std::sync::Arc;

use crate::http::HttpError;

/// The ring crypto provider, for the TLS configuration of one client.
///
/// Handed to each configuration (`builder_with_provider`) rather than
/// installed as the process default: which provider the process uses is the
/// application's choice, not a library's.
pub(crate) fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    // rustls 0.23.48 deprecates ring's provider because ring has no
    // post-quantum key exchange. ring is kept on purpose (aws-lc-rs takes
    // several times longer to build), and rustls offers no other path to it,
    // so the deprecation is allowed here, in this one place.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// The error for a body over `limit` bytes.
pub(crate) fn too_large(limit: usize) -> HttpError {
    HttpError::too_large(limit)
}

/// What is left of a response's size limit as its body is read.
pub(crate) struct Budget {
    left: usize,
    limit: usize,
}

impl Budget {
    /// The whole of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Budget { left: limit, limit }
    }

    /// Counts `n` more bytes; the size-limit error once they exceed it.
    pub(crate) fn take(&mut self, n: usize) -> Result<(), HttpError> {
        self.left = self
            .left
            .checked_sub(n)
            .ok_or_else(|| too_large(self.limit))?;
        Ok(())
    }
}

/// Whether a declared `content-length` already exceeds `limit`.
pub(crate) fn declared_too_large(headers: &http::HeaderMap, limit: usize) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// The headers as owned pairs; values that are not visible ASCII are left
/// out (no caller reads such values).
pub(crate) fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// `e` and its causes, `: `-separated.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
