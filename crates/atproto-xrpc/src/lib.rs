//! The XRPC layer (being moved here from atproto-client).
