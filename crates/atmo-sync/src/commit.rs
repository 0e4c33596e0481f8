//! Repository commits: decoding, the signed bytes, signature checks, and
//! the per-repository state that tells an in-order commit from a gap.

use std::fmt;

use crate::cid::Cid;
use crate::error::DecodeError;
use crate::value::Value;

/// A signed repository commit (`{did, version, data, rev, prev, sig}`).
#[derive(Clone, PartialEq, Eq)]
pub struct Commit {
    /// The commit block's CID.
    pub cid: Cid,
    /// The repository's DID.
    pub did: String,
    /// Repository format version (3 today; 2 is still read).
    pub version: i64,
    /// Root of the MST.
    pub data: Cid,
    /// The revision (a TID; later commits sort after earlier ones).
    pub rev: String,
    /// The previous commit, if the producer names it.
    pub prev: Option<Cid>,
    /// The signature: 64 bytes `r‖s`.
    pub sig: Vec<u8>,
    /// The DAG-CBOR bytes that were signed: the commit map without `sig`,
    /// re-encoded from the generic value so that unknown fields stay in.
    unsigned: Vec<u8>,
}

impl fmt::Debug for Commit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commit")
            .field("cid", &self.cid)
            .field("did", &self.did)
            .field("version", &self.version)
            .field("data", &self.data)
            .field("rev", &self.rev)
            .field("prev", &self.prev)
            .field("sig_len", &self.sig.len())
            .finish()
    }
}

/// Why a commit was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitError {
    /// The block is not valid DAG-CBOR.
    Decode(DecodeError),
    /// A field is missing or of the wrong kind.
    Shape(String),
    /// The block does not hash to the CID it was fetched under.
    CidMismatch {
        /// The CID expected.
        expected: Cid,
    },
    /// The signature does not verify against the key.
    Signature(String),
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommitError::Decode(e) => write!(f, "commit: {e}"),
            CommitError::Shape(why) => write!(f, "commit: {why}"),
            CommitError::CidMismatch { expected } => {
                write!(f, "commit block does not hash to {expected}")
            }
            CommitError::Signature(why) => write!(f, "commit signature: {why}"),
        }
    }
}

impl std::error::Error for CommitError {}

impl Commit {
    /// Decodes a commit block (checking it against `cid`).
    pub fn from_block(cid: Cid, bytes: &[u8]) -> Result<Commit, CommitError> {
        if !cid.matches(bytes) {
            return Err(CommitError::CidMismatch { expected: cid });
        }
        let v = Value::from_cbor(bytes).map_err(CommitError::Decode)?;
        let Value::Map(mut m) = v else {
            return Err(CommitError::Shape("not a map".into()));
        };
        let shape = |what: &str| CommitError::Shape(what.to_owned());
        let did = m
            .get("did")
            .and_then(Value::as_str)
            .ok_or_else(|| shape("\"did\" must be a string"))?
            .to_owned();
        let version = m
            .get("version")
            .and_then(Value::as_i64)
            .ok_or_else(|| shape("\"version\" must be an integer"))?;
        if version != 2 && version != 3 {
            return Err(shape(&format!("version {version} is not 2 or 3")));
        }
        let data = m
            .get("data")
            .and_then(Value::as_link)
            .ok_or_else(|| shape("\"data\" must be a link"))?;
        let rev = m
            .get("rev")
            .and_then(Value::as_str)
            .ok_or_else(|| shape("\"rev\" must be a string"))?
            .to_owned();
        let prev = match m.get("prev") {
            None | Some(Value::Null) => None,
            Some(Value::Link(c)) => Some(*c),
            Some(_) => return Err(shape("\"prev\" must be a link or null")),
        };
        let sig = match m.remove("sig") {
            Some(Value::Bytes(b)) => b.into_owned(),
            _ => return Err(shape("\"sig\" must be bytes")),
        };
        let unsigned = Value::Map(m).to_cbor();
        Ok(Commit {
            cid,
            did,
            version,
            data,
            rev,
            prev,
            sig,
            unsigned,
        })
    }

    /// The bytes the signature covers.
    pub fn unsigned_bytes(&self) -> &[u8] {
        &self.unsigned
    }

    /// Checks the signature against the repository's signing key (the
    /// `#atproto` key of its DID document).
    #[cfg(feature = "verify")]
    pub fn verify(&self, key: &atmo_crypto::PublicKey) -> Result<(), CommitError> {
        key.verify(&self.unsigned, &self.sig)
            .map_err(|e| CommitError::Signature(e.to_string()))
    }
}

/// What a consumer knows about one repository: the revision and MST root
/// of the last commit it applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoState {
    /// Revision of the last applied commit.
    pub rev: String,
    /// MST root after it.
    pub data: Cid,
}

/// What to do with an incoming commit, given the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It follows on from the state: apply it.
    Apply,
    /// Its revision is not newer than the state's (a replay or duplicate):
    /// ignore it.
    Stale,
    /// It does not follow on (`since` or `prevData` disagree with the
    /// state, or a field Sync 1.1 requires is missing): fetch the whole
    /// repository again instead of applying it.
    Resync(String),
}

impl RepoState {
    /// The state after a full fetch of a repository at `commit`.
    pub fn from_commit(commit: &Commit) -> Self {
        RepoState {
            rev: commit.rev.clone(),
            data: commit.data,
        }
    }

    /// Judges an event-stream commit with revision `rev`, previous
    /// revision `since` and previous MST root `prev_data`.
    pub fn check(&self, rev: &str, since: Option<&str>, prev_data: Option<Cid>) -> Verdict {
        // TIDs sort as strings in time order.
        if rev <= self.rev.as_str() {
            return Verdict::Stale;
        }
        match prev_data {
            None => return Verdict::Resync("commit has no prevData".into()),
            Some(p) if p != self.data => {
                return Verdict::Resync(format!("prevData {p} is not the known root {}", self.data))
            }
            Some(_) => {}
        }
        if let Some(s) = since {
            if s != self.rev {
                return Verdict::Resync(format!("since {s} is not the known rev {}", self.rev));
            }
        }
        Verdict::Apply
    }

    /// Records an applied commit.
    pub fn advance(&mut self, rev: &str, data: Cid) {
        self.rev = rev.to_owned();
        self.data = data;
    }
}
