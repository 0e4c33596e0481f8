//! atproto public keys (work in progress).
