//! atproto-client (in progress)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
mod atproto;
pub mod error;
pub mod manager;
pub mod retry;
pub mod secret;
pub mod session;
pub mod store;
pub mod time;
pub mod transport;

pub use agent::{Agent, AgentBuilder, AtpAgent, CallOptions};
pub use atproto::{FetchedRecord, Login, NewAccount, RecordRef};
pub use atproto_api;
pub use atproto_types;
pub use atproto_types::xrpc::{Method, NoError, RawBody};
pub use error::{Error, RateLimit, TransportError, TransportErrorKind};
pub use manager::{CredentialSession, SessionManager};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use session::{SessionData, SessionEvent};
pub use store::{FileStore, MemoryStore, SessionStore, StoreError, StoreErrorKind, StoreLock};
pub use transport::{Transport, XrpcRequest};
