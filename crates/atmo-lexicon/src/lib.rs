//! atproto lexicon resolution, as the Lexicon specification defines it,
//! with every answer verified before it is trusted.
//!
//! ```text
//! NSID com.example.feed.post
//!   → authority domain feed.example.com (the NSID without its name, reversed)
//!   → DNS TXT _lexicon.feed.example.com = "did=<DID>"          (Step::Dns)
//!   → the DID document (atmo-identity's resolver)          (Step::Did)
//!   → its PDS and #atproto key                                (Step::Pds)
//!   → com.atproto.sync.getRecord: a CAR with the signed commit,
//!     the tree path and the record com.atproto.lexicon.schema/<NSID>
//!                                                             (Step::Fetch)
//!   → commit signature, tree path, record CID                 (Step::Signature, Proof, Cid)
//!     (atmo-sync's CAR, commit and MST code)
//!   → a lexicon document whose id is the NSID                 (Step::Parse, IdMismatch)
//! ```
//!
//! - [`LexiconResolver`] does the above ([`LexiconResolver::resolve`]),
//!   or from a DID already known ([`LexiconResolver::fetch_from`]), and
//!   lists an authority's schema records ([`LexiconResolver::list`]).
//!   Verified documents can be kept in a [`LexiconCache`].
//! - Every failure is an [`Error`] naming the NSID and the [`Step`].
//! - [`verify_record_proof`], [`document_cid`], [`check_document`] and
//!   [`referenced_nsids`] are the offline parts, usable on their own.
//! - [`Manifest`] reads and writes `lexicons.json` in `@atproto/lex`'s
//!   format.
//!
//! ```no_run
//! use std::sync::Arc;
//! use atmo_lexicon::LexiconResolver;
//!
//! # async fn run(http: Arc<dyn atmo_xrpc::HttpClient>,
//! #              dns: Arc<dyn atmo_identity::DnsLookup>) -> Result<(), Box<dyn std::error::Error>> {
//! let identity = atmo_identity::Resolver::builder(http.clone()).dns(dns.clone()).build()?;
//! let resolver = LexiconResolver::builder(identity, dns, http).build();
//! let found = resolver.resolve("com.example.bookmark").await?;
//! println!("{} from {} ({})", found.nsid, found.uri, found.cid);
//! # Ok(()) }
//! ```
//!
//! # Network safety
//!
//! DID documents are fetched by the identity resolver given, with its
//! timeouts, size caps and host policy. The PDS a document names is refused
//! when it is plain `http` (except to loopback) or, unless
//! [`LexiconResolverBuilder::allow_private_hosts`], a private, loopback or
//! link-local host; its answers are bounded by a timeout and a size cap.
//!
//! # Features
//!
//! - `dns` (off by default): re-exports `SystemDns` (hickory-resolver) as
//!   the [`atmo_identity::DnsLookup`] for `_lexicon` TXT records.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod manifest;
mod proof;
mod resolver;

pub use error::{Error, ErrorKind, Step};
pub use manifest::{Manifest, ManifestError, Resolution, MANIFEST_FILE};
pub use proof::{
    check_document, document_cbor, document_cid, document_path, record_cid, record_to_json,
    referenced_nsids, verify_record_proof, VerifiedRecord, DEFAULT_MAX_PROOF_SIZE,
    SCHEMA_COLLECTION,
};
pub use resolver::{
    authority_domain, did_from_lexicon_txt, reverse_domain, LexiconCache, LexiconResolver,
    LexiconResolverBuilder, MemoryLexiconCache, ResolvedLexicon, DEFAULT_MAX_LIST_SIZE,
    DEFAULT_TIMEOUT,
};

/// DNS through hickory-resolver (feature `dns`), for `_lexicon` TXT records.
#[cfg(feature = "dns")]
pub use atmo_identity::dns::SystemDns;
/// CIDs of DAG-CBOR records.
pub use atmo_sync::Cid;
/// The DID type, as [`ResolvedLexicon::did`] holds it.
pub use atmo_types::Did;
