//! atproto-client (in progress)
