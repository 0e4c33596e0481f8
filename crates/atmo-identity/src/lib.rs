//! atproto identity resolution: handle → DID → DID document → the
//! account's PDS and signing key, checked both ways and cached.
//!
//! ```text
//! atmo-client (login_with_handle, Agent::resolve_identity)
//!        │
//! atmo-identity ──► atmo-xrpc (HttpClient, ServiceUrl) ──► atmo-types
//!        └───────────► atmo-crypto (PublicKey of the #atproto key)
//! ```
//!
//! - [`Resolver`] (built with [`Resolver::builder`] from an `Arc<dyn
//!   HttpClient>`): [`Resolver::resolve_handle`], [`Resolver::resolve_did`],
//!   and [`Resolver::resolve_identity`], which gives an [`Identity`] from a
//!   handle or a DID. [`Resolver::fresh`] bypasses the cache.
//! - Handle → DID ([`HandleResolver`]): DNS TXT `_atproto.<handle>`
//!   ([`DnsTxtResolver`] over a [`DnsLookup`]: the `dns` feature's
//!   `dns::SystemDns` or the application's), HTTPS
//!   `/.well-known/atproto-did` ([`WellKnownResolver`]) and XRPC
//!   `com.atproto.identity.resolveHandle` against a chosen service
//!   ([`XrpcHandleResolver`]). All configured resolvers are asked at once;
//!   two different answers are an error.
//! - DID → document: `did:plc` from a PLC directory, `did:web` (host only)
//!   from `https://<host>/.well-known/did.json`; [`DidDocument`] reads
//!   `alsoKnownAs`, the `#atproto_pds` service and the `#atproto` key.
//! - [`IdentityCache`]: found answers and definite "not found" answers are
//!   cached with their own TTLs ([`MemoryCache`] by default).
//! - Every failure is an [`Error`] naming the [`Step`] (DNS, well-known,
//!   PLC, did:web, document…) and the identifier.
//!
//! ```no_run
//! use std::sync::Arc;
//! use atmo_identity::Resolver;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let http = Arc::new(atmo_xrpc::ReqwestClient::new()?);   // any HttpClient
//! let resolver = Resolver::builder(http).build()?;
//! let id = resolver.resolve_identity("alice.bsky.social").await?;
//! println!("{} is {} on {}", id.did, id.handle.display(), id.pds);
//! // A local PDS: .test handles through its resolveHandle, its PLC directory.
//! let dev = Resolver::builder(Arc::new(atmo_xrpc::ReqwestClient::new()?))
//!     .plc_url("http://localhost:2582")
//!     .well_known(false)
//!     .resolve_handle_via("http://localhost:2583")
//!     .allow_private_hosts(true) // its PDS endpoint is on loopback
//!     .build()?;
//! # let _ = dev; Ok(()) }
//! ```
//!
//! # Network safety
//!
//! Handles and `did:web` hosts come from users. Requests to them use https
//! only (plain http to loopback when [`ResolverBuilder::allow_http_loopback`]
//! is set), are bounded by a timeout and a response size, and are refused
//! when the host is an IP literal, `localhost`, a reserved name, or (with a
//! [`DnsLookup`]) resolves to a private, loopback or link-local address,
//! unless [`ResolverBuilder::allow_private_hosts`] is set. Redirects that the
//! HTTP client passes back are followed (at most three) with each hop
//! checked the same way. Through a generic [`atmo_xrpc::HttpClient`] this
//! cannot guard against an HTTP client that follows redirects by itself or
//! a name that resolves differently when the client connects (DNS
//! rebinding): see the [`net`] module for what a server should do.
//!
//! # Features
//!
//! - `dns` (off by default): `dns::SystemDns`, hickory-resolver with the
//!   system's configuration, for TXT records and address checks.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod dns;
pub mod document;
mod error;
pub mod handle;
pub mod net;
pub mod parse;
mod resolver;

pub use atmo_crypto::{Curve, PublicKey};
pub use cache::{CacheKey, CacheValue, IdentityCache, MemoryCache};
pub use dns::{DnsError, DnsLookup};
pub use document::{DidDocument, DocumentError};
pub use error::{Error, ErrorKind, Step};
pub use handle::{DnsTxtResolver, HandleResolver, WellKnownResolver, XrpcHandleResolver};
pub use resolver::{
    HandleStatus, Identity, Resolver, ResolverBuilder, DEFAULT_MAX_DOCUMENT_SIZE,
    DEFAULT_NEGATIVE_TTL, DEFAULT_PLC_URL, DEFAULT_POSITIVE_TTL, DEFAULT_TIMEOUT, MAX_TIMEOUT,
};

/// `s` cut to at most `max` bytes (on a character boundary), with `…` when cut.
pub(crate) fn truncate(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
