//! One error type for every step of lexicon resolution: which NSID, which
//! step, and why.

use std::fmt;

use atmo_sync::Cid;

/// The step of resolution an [`Error`] comes from, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Checking the NSID's syntax, before any network call.
    Syntax,
    /// The DNS TXT record `_lexicon.<authority>` (`did=<DID>`).
    Dns,
    /// Resolving the authority's DID to its document.
    Did,
    /// Finding the PDS and the signing key in the DID document, and the
    /// host policy for that PDS.
    Pds,
    /// `com.atproto.sync.getRecord` (or `listRecords`) at the PDS.
    Fetch,
    /// The commit's signature with the DID's `#atproto` key.
    Signature,
    /// The CAR and the tree path from the commit to the record's key.
    Proof,
    /// The record's bytes against the CID the tree (or a pin) names.
    Cid,
    /// The record as a lexicon document.
    Parse,
    /// The document's `id` against the NSID asked for.
    IdMismatch,
}

impl Step {
    /// A short lowercase name: `dns`, `did`, `signature`...
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Syntax => "syntax",
            Step::Dns => "dns",
            Step::Did => "did",
            Step::Pds => "pds",
            Step::Fetch => "fetch",
            Step::Signature => "signature",
            Step::Proof => "proof",
            Step::Cid => "cid",
            Step::Parse => "parse",
            Step::IdMismatch => "id-mismatch",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong, one variant (or more) per [`Step`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The NSID is not valid NSID syntax (the text says why).
    InvalidNsid(String),
    /// No `did=` TXT record at this name.
    NoAuthorityRecord {
        /// The name asked, `_lexicon.<authority>`.
        name: String,
    },
    /// The TXT records are unusable (several `did=` records, an invalid
    /// DID) or the lookup failed (the text says which).
    Dns(String),
    /// The DID could not be resolved to a usable document.
    Did(atmo_identity::Error),
    /// The DID document has no usable PDS or signing key, or the PDS's
    /// host is refused by policy (the text says which).
    Pds(String),
    /// The authority's repository has no schema record for the NSID
    /// (`RecordNotFound`, `RepoNotFound`, HTTP 404, or a verified proof
    /// whose tree path shows the key absent).
    RecordNotFound {
        /// The repository asked.
        did: String,
    },
    /// The PDS did not answer usefully: network failure, timeout, size
    /// cap, an unexpected status or body (the text says which).
    Fetch(String),
    /// The commit's signature does not verify with the `#atproto` key.
    Signature(String),
    /// The CAR is malformed, or its tree does not prove the record at its
    /// key (a missing or altered node, an absent key, a commit for another
    /// repository).
    Proof(String),
    /// The record's bytes do not hash to the CID expected.
    CidMismatch {
        /// The CID the tree (or a pin) names.
        expected: Cid,
        /// The CID of the bytes found.
        found: Cid,
    },
    /// The record is not a lexicon document (the text says why).
    Parse(String),
    /// The document's `id` is another NSID.
    IdMismatch {
        /// The `id` found (cut to 300 bytes).
        found: String,
    },
}

impl ErrorKind {
    /// The step this kind of failure belongs to.
    pub fn step(&self) -> Step {
        match self {
            ErrorKind::InvalidNsid(_) => Step::Syntax,
            ErrorKind::NoAuthorityRecord { .. } | ErrorKind::Dns(_) => Step::Dns,
            ErrorKind::Did(_) => Step::Did,
            ErrorKind::Pds(_) => Step::Pds,
            ErrorKind::RecordNotFound { .. } | ErrorKind::Fetch(_) => Step::Fetch,
            ErrorKind::Signature(_) => Step::Signature,
            ErrorKind::Proof(_) => Step::Proof,
            ErrorKind::CidMismatch { .. } => Step::Cid,
            ErrorKind::Parse(_) => Step::Parse,
            ErrorKind::IdMismatch { .. } => Step::IdMismatch,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::InvalidNsid(why) => write!(f, "not an NSID: {why}"),
            ErrorKind::NoAuthorityRecord { name } => {
                write!(f, "no did= TXT record at {name}")
            }
            ErrorKind::Dns(why) => f.write_str(why),
            ErrorKind::Did(e) => write!(f, "{e}"),
            ErrorKind::Pds(why) => f.write_str(why),
            ErrorKind::RecordNotFound { did } => write!(
                f,
                "{did} has no com.atproto.lexicon.schema record for this NSID"
            ),
            ErrorKind::Fetch(why) => f.write_str(why),
            ErrorKind::Signature(why) => write!(f, "the commit signature is invalid: {why}"),
            ErrorKind::Proof(why) => write!(f, "the record proof is invalid: {why}"),
            ErrorKind::CidMismatch { expected, found } => {
                write!(f, "the record's bytes hash to {found}, not to {expected}")
            }
            ErrorKind::Parse(why) => write!(f, "not a lexicon document: {why}"),
            ErrorKind::IdMismatch { found } => {
                write!(f, "the document's id is {found:?}")
            }
        }
    }
}

/// A failed resolution: the NSID, and what went wrong at which step
/// ([`Error::step`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    nsid: String,
    kind: ErrorKind,
}

impl Error {
    /// An error of `kind` for `nsid` (cut to 300 bytes: NSIDs can come
    /// from anyone).
    pub fn new(nsid: impl Into<String>, kind: ErrorKind) -> Self {
        Error {
            nsid: truncate(nsid.into(), 300),
            kind,
        }
    }

    /// The NSID being resolved.
    pub fn nsid(&self) -> &str {
        &self.nsid
    }

    /// The step that failed.
    pub fn step(&self) -> Step {
        self.kind.step()
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// True for failures that may pass when retried (network, 5xx, DNS
    /// server trouble, a DID resolution that may pass).
    pub fn is_transient(&self) -> bool {
        match &self.kind {
            ErrorKind::Did(e) => e.is_transient(),
            ErrorKind::Fetch(_) | ErrorKind::Dns(_) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lexicon {}: {}: {}", self.nsid, self.step(), self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Did(e) => Some(e),
            _ => None,
        }
    }
}

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
