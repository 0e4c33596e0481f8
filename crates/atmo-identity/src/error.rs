//! One error type for every step of resolution: which step failed, for which
//! identifier, and why.

use std::fmt;

use atmo_xrpc::HttpError;

/// The step of resolution an [`Error`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Checking the syntax of the handle or DID given, before any network call.
    Syntax,
    /// The DNS TXT record `_atproto.<handle>`.
    Dns,
    /// `https://<handle>/.well-known/atproto-did`.
    WellKnown,
    /// `com.atproto.identity.resolveHandle` against a chosen service.
    ResolveHandle,
    /// Combining the answers of the handle resolvers.
    Handle,
    /// Fetching a `did:plc` document from the PLC directory.
    Plc,
    /// Fetching a `did:web` document from `https://<host>/.well-known/did.json`.
    DidWeb,
    /// Reading a DID document (its JSON shape, PDS, signing key).
    Document,
}

impl Step {
    /// A short lowercase name: `dns`, `well-known`, `plc`...
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Syntax => "syntax",
            Step::Dns => "dns",
            Step::WellKnown => "well-known",
            Step::ResolveHandle => "resolveHandle",
            Step::Handle => "handle",
            Step::Plc => "plc",
            Step::DidWeb => "did:web",
            Step::Document => "did document",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed resolution: the step, the identifier (handle, DID or URL) and
/// what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    step: Step,
    identifier: String,
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The handle or DID is not valid syntax (the text says why).
    InvalidSyntax(String),
    /// A handle under a top-level domain that never resolves publicly
    /// (`.local`, `.arpa`, `.invalid`, `.localhost`, `.internal`,
    /// `.example`, `.onion`, `.alt`).
    ReservedTld(String),
    /// A DID method other than `plc` and `web`, or a `did:web` with a path.
    UnsupportedDid(String),
    /// The request was not sent: the URL is plain `http`, or its host is a
    /// private, loopback or link-local address, which the resolver is not
    /// configured to reach (the text says which).
    Refused(String),
    /// No answer from the network (connection, timeout, size limit).
    Http(HttpError),
    /// An HTTP status other than 200 (404 is [`ErrorKind::NotFound`]).
    Status(u16),
    /// Too many redirects, or a redirect without a usable `Location`.
    Redirect(String),
    /// Nothing found: no `did=` TXT record, HTTP 404, an unknown DID.
    NotFound,
    /// The answer is not of the expected form (the text says how).
    BadAnswer(String),
    /// More than one `did=` TXT record.
    SeveralTxtRecords(usize),
    /// The handle resolvers gave different DIDs: `(step, did)` for each.
    Conflict(Vec<(Step, String)>),
    /// Every handle resolver failed or knew nothing: each one's error.
    AllFailed(Vec<Error>),
    /// DNS failure other than "no such record" (the text says which).
    Dns(String),
    /// The DID document is malformed or lacks what atproto needs.
    Document(crate::document::DocumentError),
    /// The fetched document is for another DID than the one asked for.
    WrongDocument(String),
}

impl Error {
    /// An error of `kind` at `step` for `identifier` (cut to 300 bytes:
    /// identifiers can come from anyone).
    pub fn new(step: Step, identifier: impl Into<String>, kind: ErrorKind) -> Self {
        Error {
            step,
            identifier: crate::truncate(identifier.into(), 300),
            kind,
        }
    }

    /// The step that failed.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The handle, DID or URL being resolved.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// True when the answer is a definite "not found" (worth caching as a
    /// negative answer), as opposed to a failure that may pass.
    pub fn is_not_found(&self) -> bool {
        match &self.kind {
            ErrorKind::NotFound => true,
            ErrorKind::AllFailed(all) => !all.is_empty() && all.iter().all(Error::is_not_found),
            _ => false,
        }
    }

    /// True for failures that may pass when retried (network, 5xx, DNS
    /// server trouble).
    pub fn is_transient(&self) -> bool {
        match &self.kind {
            ErrorKind::Http(_) | ErrorKind::Dns(_) => true,
            ErrorKind::Status(s) => *s >= 500 || *s == 429,
            _ => false,
        }
    }
}

/// How [`ErrorKind::NotFound`] reads.
const NOT_FOUND: &str = "not found";

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::InvalidSyntax(why) => f.write_str(why),
            ErrorKind::ReservedTld(tld) => write!(
                f,
                "the top-level domain .{tld} is reserved and not resolved"
            ),
            ErrorKind::UnsupportedDid(why) => f.write_str(why),
            ErrorKind::Refused(why) => write!(f, "refused: {why}"),
            ErrorKind::Http(e) => write!(f, "{e}"),
            ErrorKind::Status(s) => write!(f, "HTTP status {s}"),
            ErrorKind::Redirect(why) => write!(f, "redirect: {why}"),
            ErrorKind::NotFound => f.write_str(NOT_FOUND),
            ErrorKind::BadAnswer(why) => f.write_str(why),
            ErrorKind::SeveralTxtRecords(n) => {
                write!(f, "{n} did= TXT records; exactly one is allowed")
            }
            ErrorKind::Conflict(answers) => {
                f.write_str("the resolvers disagree:")?;
                for (step, did) in answers {
                    write!(f, " {step} says {did};")?;
                }
                Ok(())
            }
            ErrorKind::AllFailed(attempts) => {
                f.write_str("no resolver found it:")?;
                for e in attempts {
                    write!(f, " {}: {};", e.step, e.kind)?;
                }
                Ok(())
            }
            ErrorKind::Dns(why) => write!(f, "DNS: {why}"),
            ErrorKind::Document(e) => write!(f, "{e}"),
            ErrorKind::WrongDocument(id) => {
                write!(f, "the document fetched is for another DID ({id})")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} for {:?}: {}", self.step, self.identifier, self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Http(e) => Some(e),
            ErrorKind::Document(e) => Some(e),
            _ => None,
        }
    }
}
