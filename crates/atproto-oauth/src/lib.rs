//! atproto OAuth (work in progress).
