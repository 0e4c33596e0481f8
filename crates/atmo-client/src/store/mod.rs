//! Where sessions are kept between runs: the stores of the crate
//! `atmo-session`, re-exported.
//!
//! [`SessionStore`] is generic over what it keeps, so every kind of session
//! (the password session's [`crate::SessionData`], an OAuth session) shares
//! the same stores: [`MemoryStore`] and the atomic, owner-only [`FileStore`].

pub use atmo_session::store::*;
