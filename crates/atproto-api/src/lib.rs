//! atproto-api (in progress)
