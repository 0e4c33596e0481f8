//! atproto event streams (work in progress).
