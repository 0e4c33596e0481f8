//! Event-stream frames (`subscribeRepos`, `subscribeLabels`) and the full
//! check of a `#commit` event, without any networking: bring the bytes of
//! each WebSocket message.
//!
//! A frame is two DAG-CBOR objects back to back: a header `{op, t}` and a
//! body. `op = 1` is a message whose type `t` names the lexicon member
//! (`#commit`, `#sync`, ..); `op = -1` is an error (`{error, message?}`),
//! after which the server closes the stream. Unknown `op` values are kept
//! for the caller to ignore, and their bodies are not read.
//!
//! This module holds the one implementation of those rules: the size cap
//! and the header ([`read_header`]), the error body ([`read_error_body`])
//! and the errors, whose offsets count from the frame's first byte
//! ([`FrameError`], [`body_error`]). [`read_frame`] is the untyped view over
//! them; `atmo-stream`'s `decode_frame` uses the same functions and
//! decodes the body straight into the generated message types.

use std::fmt;

use serde::Deserialize;

use crate::car::{read_car, CarError, CarLimits};
use crate::cbor::{DecodeOptions, Head, Reader};
use crate::cid::Cid;
use crate::commit::{Commit, CommitError, RepoState, Verdict};
use crate::error::{DecodeError, Rule};
use crate::tree::{invert_ops, Op, TreeError};

/// The default largest frame, in bytes: the specification caps frames at
/// 5 MB; a little room above that for producers that round up.
pub const MAX_FRAME: usize = 6 * 1024 * 1024;

/// Largest `blocks` CAR slice in a `#commit`.
pub const MAX_COMMIT_BLOCKS: usize = 2_000_000;

/// The header's `op` of a message frame.
pub const OP_MESSAGE: i64 = 1;
/// The header's `op` of an error frame.
pub const OP_ERROR: i64 = -1;

/// A decoded frame header and the body's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `op = 1`: a message of type `t` (e.g. `#commit`).
    Message {
        /// The message type as sent, e.g. `#commit`.
        t: &'a str,
        /// The body's DAG-CBOR bytes, checked to be exactly one valid
        /// value (decode with [`crate::from_slice`]).
        body: &'a [u8],
    },
    /// `op = -1`: the server's error; the stream ends after it.
    Error {
        /// The error name, e.g. `FutureCursor`.
        error: String,
        /// The message, if any.
        message: Option<String>,
    },
    /// Another `op`: to be ignored (its body is not read).
    Unknown {
        /// The op.
        op: i64,
    },
}

/// Which part of a frame was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The `{op, t}` header.
    Header,
    /// The body after it.
    Body,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Body => "body",
        })
    }
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame is larger than the cap.
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// The header or body is not valid DAG-CBOR (or the body does not fit
    /// its message type); the offset in `source` counts from the frame's
    /// first byte.
    Decode {
        /// Which part.
        part: Part,
        /// The message type being read (`#commit`), when known.
        t: Option<String>,
        /// The body's `seq`, when it could still be read: a consumer that
        /// skips the frame resumes after it.
        seq: Option<i64>,
        /// What was wrong.
        source: DecodeError,
    },
    /// The header or error body is well-formed DAG-CBOR of the wrong shape
    /// (no integer `op`, a message without `t`, an error without `error`).
    Shape {
        /// Which part.
        part: Part,
        /// What is wrong.
        why: String,
    },
}

impl FrameError {
    /// The body's `seq`, when the frame was readable far enough to find it.
    pub fn seq(&self) -> Option<i64> {
        match self {
            FrameError::Decode { seq, .. } => *seq,
            _ => None,
        }
    }

    fn header(source: DecodeError) -> FrameError {
        FrameError::Decode {
            part: Part::Header,
            t: None,
            seq: None,
            source,
        }
    }

    fn shape(part: Part, why: &str) -> FrameError {
        FrameError::Shape {
            part,
            why: why.to_owned(),
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { size, max } => {
                write!(f, "frame of {size} bytes is over the {max}-byte limit")
            }
            FrameError::Decode {
                part,
                t,
                seq,
                source,
            } => {
                write!(f, "frame {part}")?;
                if let Some(t) = t {
                    write!(f, " ({t}")?;
                    if let Some(s) = seq {
                        write!(f, ", seq {s}")?;
                    }
                    f.write_str(")")?;
                }
                write!(f, ": {source}")
            }
            FrameError::Shape { part, why } => write!(f, "frame {part}: {why}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Decode { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A frame's header `{op, t}`, read, and where the body starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader<'a> {
    /// [`OP_MESSAGE`], [`OP_ERROR`], or another op to ignore.
    pub op: i64,
    /// The message type (`#commit`); absent or `null` gives `None`.
    pub t: Option<&'a str>,
    /// Offset of the body's first byte in the frame.
    pub body_at: usize,
}

impl<'a> FrameHeader<'a> {
    /// The message type of an `op = 1` frame, which must have one.
    pub fn message_type(&self) -> Result<&'a str, FrameError> {
        self.t
            .ok_or_else(|| FrameError::shape(Part::Header, "message frame (op 1) without \"t\""))
    }

    /// The body's bytes within `frame` (the frame the header was read
    /// from; empty if it is some other, shorter slice).
    pub fn body<'f>(&self, frame: &'f [u8]) -> &'f [u8] {
        frame.get(self.body_at..).unwrap_or_default()
    }
}

/// The body of an error frame (`{error, message?}`), lent from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorBody<'a> {
    /// The error name (`FutureCursor`, `ConsumerTooSlow`, ..).
    pub error: &'a str,
    /// The server's explanation, if any.
    pub message: Option<&'a str>,
}

/// A header or error-body field as far as the frame rules look at it.
enum Field<'a> {
    Int(i64),
    Str(&'a str),
    Null,
    Other,
}

/// Reads one value (at depth 1) as a [`Field`], checking every rule.
fn field<'a>(r: &mut Reader<'a>) -> Result<Field<'a>, DecodeError> {
    let start = r.pos;
    let (head, at) = r.head()?;
    Ok(match head {
        // An integer outside i64 is not an integer the rules accept.
        Head::Uint(_) | Head::Nint(_) => r.int(head, at).map_or(Field::Other, Field::Int),
        Head::Text(len) => Field::Str(r.text(len, at)?),
        Head::Null => Field::Null,
        _ => {
            r.pos = start;
            r.skip(1)?;
            Field::Other
        }
    })
}

/// Reads a map whose values are read by `keep` for the keys it names and
/// checked and skipped otherwise, with canonical key order; `what` names
/// the map for a value that is not one.
fn read_map<'a>(
    r: &mut Reader<'a>,
    what: &str,
    mut keep: impl FnMut(&'a str, Field<'a>),
    wanted: &[&str],
) -> Result<(), DecodeError> {
    let (head, at) = r.head()?;
    let Head::Map(n) = head else {
        return Err(r.err(at, Rule::Message(format!("{what} must be a map"))));
    };
    let mut prev: Option<&[u8]> = None;
    for _ in 0..n {
        let (k, kat) = r.key()?;
        if let Some(p) = prev {
            r.key_order(p, k.as_bytes(), kat)?;
        }
        prev = Some(k.as_bytes());
        if wanted.contains(&k) {
            keep(k, field(r)?);
        } else {
            r.skip(1)?;
        }
    }
    Ok(())
}

/// Checks the size of a frame against `max`.
pub fn check_size(frame: &[u8], max: usize) -> Result<(), FrameError> {
    if frame.len() > max {
        return Err(FrameError::TooLarge {
            size: frame.len(),
            max,
        });
    }
    Ok(())
}

/// Reads the header of a frame of at most `max` bytes: a DAG-CBOR map
/// with an integer `op` and, if present and not `null`, a string `t`;
/// other header fields are checked as DAG-CBOR and ignored. The body is
/// not read.
pub fn read_header(frame: &[u8], max: usize) -> Result<FrameHeader<'_>, FrameError> {
    check_size(frame, max)?;
    let mut r = Reader::new(frame, DecodeOptions::default());
    let mut op = None;
    let mut t = None;
    read_map(
        &mut r,
        "a frame header",
        |k, v| match k {
            "op" => op = Some(v),
            _ => t = Some(v),
        },
        &["op", "t"],
    )
    .map_err(FrameError::header)?;
    let op = match op {
        Some(Field::Int(op)) => op,
        Some(_) => return Err(FrameError::shape(Part::Header, "\"op\" is not an integer")),
        None => return Err(FrameError::shape(Part::Header, "no \"op\"")),
    };
    let t = match t {
        None | Some(Field::Null) => None,
        Some(Field::Str(t)) => Some(t),
        Some(_) => return Err(FrameError::shape(Part::Header, "\"t\" is not a string")),
    };
    Ok(FrameHeader {
        op,
        t,
        body_at: r.pos,
    })
}

/// Reads the body of an error frame (`op = -1`) whose header is `header`:
/// exactly one map with a string `error` and, if present and not `null`,
/// a string `message`; other fields are checked and ignored.
pub fn read_error_body<'a>(
    frame: &'a [u8],
    header: &FrameHeader<'_>,
) -> Result<ErrorBody<'a>, FrameError> {
    let mut r = Reader::new(header.body(frame), DecodeOptions::default());
    let mut error = None;
    let mut message = None;
    read_map(
        &mut r,
        "an error body",
        |k, v| match k {
            "error" => error = Some(v),
            _ => message = Some(v),
        },
        &["error", "message"],
    )
    .and_then(|()| r.finish())
    .map_err(|e| body_error(frame, header, e))?;
    let error = match error {
        Some(Field::Str(e)) => e,
        _ => {
            return Err(FrameError::shape(
                Part::Body,
                "error body has no \"error\" string",
            ))
        }
    };
    let message = match message {
        None | Some(Field::Null) => None,
        Some(Field::Str(m)) => Some(m),
        Some(_) => {
            return Err(FrameError::shape(
                Part::Body,
                "error \"message\" is not a string",
            ))
        }
    };
    Ok(ErrorBody { error, message })
}

/// The error for a body that failed to decode, `source` counting from the
/// body's first byte (an offset of `usize::MAX`, a serde visitor's error
/// without a position, becomes the body's start): its offset moved to
/// count from the frame's first byte, with the header's `t` and the
/// body's `seq` when the body is still a map with an integer `seq`.
pub fn body_error(frame: &[u8], header: &FrameHeader<'_>, mut source: DecodeError) -> FrameError {
    source.offset = if source.offset == usize::MAX {
        header.body_at
    } else {
        source.offset.saturating_add(header.body_at)
    };
    FrameError::Decode {
        part: Part::Body,
        t: header.t.map(str::to_owned),
        seq: seq_of(header.body(frame)),
        source,
    }
}

/// The `seq` of a body, if it is a well-formed DAG-CBOR map with an
/// integer `seq` (bytes after it are allowed).
fn seq_of(body: &[u8]) -> Option<i64> {
    let mut r = Reader::new(body, DecodeOptions::default());
    let mut seq = None;
    read_map(
        &mut r,
        "a body",
        |_, v| {
            if let Field::Int(s) = v {
                seq = Some(s);
            }
        },
        &["seq"],
    )
    .ok()?;
    seq
}

/// Splits a frame (at most [`MAX_FRAME`] bytes) into header and body,
/// reads the header and checks the body; see [`read_frame_with`].
pub fn read_frame(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    read_frame_with(bytes, MAX_FRAME)
}

/// Splits a frame of at most `max` bytes into header and body: a message
/// gives its `t` and its body, checked to be exactly one valid DAG-CBOR
/// value; an error frame gives its `{error, message?}`; another `op` is
/// [`Frame::Unknown`] with its body not read.
pub fn read_frame_with(bytes: &[u8], max: usize) -> Result<Frame<'_>, FrameError> {
    let header = read_header(bytes, max)?;
    match header.op {
        OP_MESSAGE => {
            let t = header.message_type()?;
            let body = header.body(bytes);
            let mut r = Reader::new(body, DecodeOptions::default());
            r.skip(0)
                .and_then(|()| r.finish())
                .map_err(|e| body_error(bytes, &header, e))?;
            Ok(Frame::Message { t, body })
        }
        OP_ERROR => {
            let e = read_error_body(bytes, &header)?;
            Ok(Frame::Error {
                error: e.error.to_owned(),
                message: e.message.map(str::to_owned),
            })
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
    key: &atmo_crypto::PublicKey,
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
