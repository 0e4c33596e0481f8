//! Session managers: the layer between the agent and the transport that
//! authenticates requests and keeps a session alive.
//!
//! [`SessionManager`] is the seam: the agent hands it prepared requests and
//! gets answers back, and knows nothing of tokens. [`CredentialSession`] is
//! the password session (TypeScript's `CredentialSession`); OAuth plugs in
//! as another implementation. The seam, the errors and the events live in
//! the crate `atmo-session`, below this one and `atmo-oauth`, and are
//! re-exported here.

mod answer;
mod credential;
mod data;
mod login;

pub use atmo_session::{
    AuthError, HookScope, SessionData, SessionError, SessionEvent, SessionHook, SessionManager,
};
pub use credential::{CredentialSession, CredentialSessionBuilder, DEFAULT_REFRESH_MARGIN};
pub use login::{Login, NewAccount};
