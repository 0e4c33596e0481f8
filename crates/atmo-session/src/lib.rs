//! The session seam of the atproto crates: what every session kind (the
//! password session of `atmo-client`, the OAuth session of
//! `atmo-oauth`) shares, so that neither depends on the other.
//!
//! ```text
//! atmo-client (Agent, CredentialSession)    atmo-oauth (OAuthSession)
//!                 └──────────────┬───────────────────┘
//!                         atmo-session
//!   SessionManager, SessionError, SessionEvent, SessionHook, HookScope,
//!      SessionStore, KeyedStore, MemoryStore, FileStore, StoreLock
//!                                │
//!                 atmo-xrpc ──► atmo-types
//! ```
//!
//! - [`SessionManager`]: the trait an agent sends its prepared requests
//!   through; each session kind implements it.
//! - [`SessionError`]: what a session reports, with [`SessionError::Auth`]
//!   for failures of the authentication scheme itself (typed, and
//!   classed transient or not), apart from the transport's errors.
//! - [`SessionEvent`]: the events every session kind reports to its hook and
//!   store, through a [`SessionHook`] of the same shape for every kind
//!   (`(event, Option<&Did>, Option<&T>)`); [`HookScope`] keeps a hook that
//!   calls back into its own session from deadlocking it.
//! - [`SessionStore`] (module [`store`]): where a session is kept between
//!   runs, with an optional lock held around each refresh; [`KeyedStore`],
//!   many sessions by key (OAuth's, by DID); [`MemoryStore`], both kinds in
//!   memory, and [`FileStore`] (atomic, owner-only, locked across
//!   processes with the operating system's file lock).
//! - [`SessionData`]: the password session's data, the default type of the
//!   stores (TypeScript's `AtpSessionData`).
//!
//! Applications normally use these through `atmo-client` or
//! `atmo-oauth`, which re-export them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod data;
mod error;
mod hook;
mod manager;
pub mod store;

pub use atmo_xrpc::BoxFuture;
pub use data::{SessionData, SessionEvent};
pub use error::{AuthError, SessionError};
pub use hook::{HookScope, SessionHook};
pub use manager::SessionManager;
pub use store::{
    FileStore, KeyedStore, MemoryStore, SessionStore, StoreError, StoreErrorKind, StoreLock,
};
