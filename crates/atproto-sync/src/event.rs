//! Event-stream frames (`subscribeRepos`, `subscribeLabels`) and the full
//! check of a `#commit` event, without any networking: bring the bytes of
//! each WebSocket message.
//!
//! A frame is two DAG-CBOR objects back to back: a header `{op, t}` and a
//! body. `op = 1` is a message whose type `t` names the lexicon member
//! (`#commit`, `#sync`, ..); `op = -1` is an error (`{error, message?}`),
//! after which the server closes the stream. Unknown `op` values are kept
//! for the caller to ignore.

use std::fmt;

use serde::Deserialize;

use crate::car::{read_car, CarError, CarLimits};
use crate::cbor::{DecodeOptions, Reader};
use crate::cid::Cid;
use crate::commit::{Commit, CommitError, RepoState, Verdict};
use crate::error::DecodeError;
use crate::tree::{invert_ops, Op, TreeError};
use crate::value::{read_value, Value};

/// Largest frame the reference relay sends.
pub const MAX_FRAME: usize = 5_000_000;

/// Largest `blocks` CAR slice in a `#commit`.
pub const MAX_COMMIT_BLOCKS: usize = 2_000_000;

/// A decoded frame header and the body's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `op = 1`: a message of type `t` (e.g. `#commit`).
    Message {
        /// The message type as sent, e.g. `#commit`.
        t: &'a str,
        /// The body's DAG-CBOR bytes (decode with [`crate::from_slice`]).
        body: &'a [u8],
    },
    /// `op = -1`: the server's error; the stream ends after it.
    Error {
        /// The error name, e.g. `FutureCursor`.
        error: String,
        /// The message, if any.
        message: Option<String>,
    },
    /// Another `op`: to be ignored.
    Unknown {
        /// The op.
        op: i64,
    },
}

/// A frame that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Over [`MAX_FRAME`] bytes.
    TooLarge(usize),
    /// The header or body is not valid DAG-CBOR (offsets are in the frame).
    Cbor(DecodeError),
    /// The header is not `{op, t}` as the spec says.
    Header(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge(n) => write!(f, "frame of {n} bytes is over {MAX_FRAME}"),
            FrameError::Cbor(e) => write!(f, "frame: {e}"),
            FrameError::Header(why) => write!(f, "frame header: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Splits a frame into header and body and reads the header.
pub fn read_frame(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    if bytes.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(bytes.len()));
    }
    let mut r = Reader::new(bytes, DecodeOptions::default());
    let header = read_value(&mut r, 0).map_err(FrameError::Cbor)?;
    let body = &bytes[r.pos..];
    let bad = |why: &str| FrameError::Header(why.to_owned());
    let h = header.as_map().ok_or_else(|| bad("not a map"))?;
    let op = h
        .get("op")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("\"op\" must be an integer"))?;
    // The body must be exactly one value.
    let body_value = {
        let mut b = Reader::new(body, DecodeOptions::default());
        let v = read_value(&mut b, 0).map_err(|mut e| {
            e.offset += r.pos;
            FrameError::Cbor(e)
        })?;
        b.finish().map_err(|mut e| {
            e.offset += r.pos;
            FrameError::Cbor(e)
        })?;
        v
    };
    match op {
        1 => {
            let t = match h.get("t") {
                Some(Value::String(std::borrow::Cow::Borrowed(t))) => *t,
                _ => return Err(bad("a message needs a string \"t\"")),
            };
            Ok(Frame::Message { t, body })
        }
        -1 => {
            let m = body_value
                .as_map()
                .ok_or_else(|| bad("an error body must be a map"))?;
            let error = m
                .get("error")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("an error body needs a string \"error\""))?
                .to_owned();
            let message = m.get("message").and_then(Value::as_str).map(str::to_owned);
            Ok(Frame::Error { error, message })
        }
        op => Ok(Frame::Unknown { op }),
    }
}

/// Decodes a message body, e.g. as the generated
/// `com.atproto.sync.subscribeRepos` `Commit`.
pub fn decode_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    crate::de::from_slice(body)
}

/// The parts of a `#commit` event the check needs (the generated type's
/// fields, borrowed).
#[derive(Clone, Debug)]
pub struct CommitEvent<'a> {
    /// The repository's DID.
    pub repo: &'a str,
    /// The commit's revision.
    pub rev: &'a str,
    /// The previous revision, if sent.
    pub since: Option<&'a str>,
    /// The commit block's CID.
    pub commit: Cid,
    /// The CAR slice of blocks.
    pub blocks: &'a [u8],
    /// The operations.
    pub ops: Vec<Op>,
    /// The MST root before the commit.
    pub prev_data: Option<Cid>,
}

/// Why a `#commit` event is not valid (as opposed to valid but out of
/// step with what is known, which is a [`Verdict`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventError {
    /// The blocks are not a valid CAR slice.
    Car(CarError),
    /// The CAR's first root is not the commit.
    Root,
    /// The commit block is missing or malformed, or its signature fails.
    Commit(CommitError),
    /// The commit's DID or rev differ from the event's.
    Mismatch(String),
    /// Undoing the ops on the carried tree failed (an incomplete proof or
    /// ops that do not match it).
    Proof(TreeError),
    /// Undoing the ops does not give `prevData`.
    PrevData {
        /// What the undo gave.
        computed: Cid,
        /// What the event says.
        claimed: Cid,
    },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::Car(e) => write!(f, "commit blocks: {e}"),
            EventError::Root => f.write_str("commit blocks: first root is not the commit"),
            EventError::Commit(e) => e.fmt(f),
            EventError::Mismatch(why) => write!(f, "commit event: {why}"),
            EventError::Proof(e) => write!(f, "commit proof: {e}"),
            EventError::PrevData { computed, claimed } => write!(
                f,
                "commit proof: undoing the ops gives {computed}, not prevData {claimed}"
            ),
        }
    }
}

impl std::error::Error for EventError {}

/// A checked `#commit` event.
#[derive(Clone, Debug)]
pub struct CheckedCommit {
    /// The decoded commit.
    pub commit: Commit,
    /// What to do with it given the state passed in (`Apply` when there
    /// was none).
    pub verdict: Verdict,
}

/// Checks a `#commit` event as a Sync 1.1 consumer must, all but the
/// signature (see [`check_signed_commit_event`]): the blocks are a valid
/// CAR slice whose blocks match their CIDs and whose first root is the
/// commit; the commit names the event's repository and revision; undoing
/// the ops on the tree the blocks carry gives `prevData`; and, against the
/// known `state`, the event is in step ([`Verdict::Apply`]), stale, or a
/// gap to resync.
pub fn check_commit_event(
    event: &CommitEvent<'_>,
    state: Option<&RepoState>,
) -> Result<CheckedCommit, EventError> {
    check(event, state, |_| Ok(()))
}

/// [`check_commit_event`], and the commit's signature against the
/// repository's signing key.
#[cfg(feature = "verify")]
pub fn check_signed_commit_event(
    event: &CommitEvent<'_>,
    state: Option<&RepoState>,
    key: &atproto_crypto::PublicKey,
) -> Result<CheckedCommit, EventError> {
    check(event, state, |c| c.verify(key))
}

fn check(
    event: &CommitEvent<'_>,
    state: Option<&RepoState>,
    verify: impl FnOnce(&Commit) -> Result<(), CommitError>,
) -> Result<CheckedCommit, EventError> {
    let limits = CarLimits {
        max_file: MAX_COMMIT_BLOCKS,
        ..CarLimits::default()
    };
    let (roots, iter) = read_car(event.blocks, limits).map_err(EventError::Car)?;
    if roots.first() != Some(&event.commit) {
        return Err(EventError::Root);
    }
    let mut blocks = std::collections::HashMap::new();
    for b in iter {
        let b = b.map_err(EventError::Car)?;
        blocks.insert(b.cid, b.data);
    }
    let block = blocks
        .get(&event.commit)
        .ok_or(EventError::Commit(CommitError::Shape(
            "the commit block is not among the blocks".into(),
        )))?;
    let commit = Commit::from_block(event.commit, block).map_err(EventError::Commit)?;
    if commit.did != event.repo {
        return Err(EventError::Mismatch(format!(
            "commit is for {}, event for {}",
            commit.did, event.repo
        )));
    }
    if commit.rev != event.rev {
        return Err(EventError::Mismatch(format!(
            "commit rev {} differs from the event's {}",
            commit.rev, event.rev
        )));
    }
    verify(&commit).map_err(EventError::Commit)?;
    let lookup = |c: &Cid| blocks.get(c).copied();
    if let Some(claimed) = event.prev_data {
        let computed = invert_ops(commit.data, &lookup, &event.ops).map_err(EventError::Proof)?;
        if computed != claimed {
            return Err(EventError::PrevData { computed, claimed });
        }
    }
    let verdict = match state {
        Some(s) => s.check(event.rev, event.since, event.prev_data),
        None => Verdict::Apply,
    };
    Ok(CheckedCommit { commit, verdict })
}
