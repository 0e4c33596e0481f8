//! Repository events with their commits opened: each op's collection, rkey
//! and record, read out of the commit's CAR slice.

use std::collections::HashMap;
use std::fmt;

use atmo_api::com::atproto::sync::subscribe_repos::{self as repos, RepoOpAction};
use atmo_sync::car::UncheckedBlock;
use atmo_sync::{CarError, CarLimits, Cid, DecodeError, Value};
use atmo_types::object::Open;
use atmo_types::CidLink;
use serde::Deserialize;

/// One firehose event, with `#commit` opened into [`CommitEvent`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RepoEvent {
    /// `#commit`: records created, updated or deleted.
    Commit(Box<CommitEvent>),
    /// `#sync`: the repository's state was reset; fetch it with `getRepo`.
    Sync(Box<repos::Sync>),
    /// `#identity`: the DID document or handle may have changed.
    Identity(Box<repos::Identity>),
    /// `#account`: the account's hosting status changed.
    Account(Box<repos::Account>),
    /// `#info`: a notice from the server (`OutdatedCursor`).
    Info(Box<repos::Info>),
    /// A message type this build does not know, kept verbatim.
    Unknown(atmo_types::UnknownObject),
}

impl RepoEvent {
    /// Opens a decoded firehose message (reading each commit's records out
    /// of its blocks).
    pub fn from_message(message: repos::Message) -> Result<RepoEvent, EventError> {
        Ok(match message {
            repos::Message::Commit(c) => RepoEvent::Commit(Box::new(CommitEvent::open(*c)?)),
            repos::Message::Sync(s) => RepoEvent::Sync(s),
            repos::Message::Identity(i) => RepoEvent::Identity(i),
            repos::Message::Account(a) => RepoEvent::Account(a),
            repos::Message::Info(i) => RepoEvent::Info(i),
            repos::Message::Unknown(u) => RepoEvent::Unknown(u),
        })
    }

    /// The event's sequence number (`#info` has none).
    pub fn seq(&self) -> Option<i64> {
        match self {
            RepoEvent::Commit(c) => Some(c.commit.seq),
            RepoEvent::Sync(s) => Some(s.seq),
            RepoEvent::Identity(i) => Some(i.seq),
            RepoEvent::Account(a) => Some(a.seq),
            RepoEvent::Info(_) => None,
            RepoEvent::Unknown(u) => crate::subscription::unknown_seq(u),
        }
    }

    /// The DID the event is about (`#info` and unknown types: none).
    pub fn did(&self) -> Option<&str> {
        match self {
            RepoEvent::Commit(c) => Some(c.commit.repo.as_str()),
            RepoEvent::Sync(s) => Some(s.did.as_str()),
            RepoEvent::Identity(i) => Some(i.did.as_str()),
            RepoEvent::Account(a) => Some(a.did.as_str()),
            RepoEvent::Info(_) | RepoEvent::Unknown(_) => None,
        }
    }
}

/// What an op did to its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A new record.
    Create,
    /// A record replaced.
    Update,
    /// A record removed.
    Delete,
    /// An action this build does not know.
    Other(String),
}

impl Action {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Other(s) => s,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One op of a commit, with its record when the commit carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOp {
    /// What happened.
    pub action: Action,
    /// The record's collection (NSID).
    pub collection: String,
    /// The record key.
    pub rkey: String,
    /// The record's CID after the commit (`None` for a delete).
    pub cid: Option<Cid>,
    /// The record's CID before (`None` for a create; absent from producers
    /// older than Sync 1.1).
    pub prev: Option<Cid>,
    record: Option<Vec<u8>>,
}

impl RecordOp {
    /// `collection/rkey`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.collection, self.rkey)
    }

    /// The record's bytes (creates and updates whose block the commit
    /// carries): checked against the op's CID, so exactly what the
    /// repository committed; the DAG-CBOR rules are checked by the readers
    /// below, which decode them.
    pub fn record_bytes(&self) -> Option<&[u8]> {
        self.record.as_deref()
    }

    /// The record as a data-model value.
    pub fn record(&self) -> Option<Result<Value<'_>, DecodeError>> {
        self.record.as_deref().map(Value::from_cbor)
    }

    /// The record in its JSON form (`$link`, `$bytes`), `None` when there
    /// is none, an error when its bytes break the DAG-CBOR rules.
    pub fn record_json(&self) -> Option<Result<serde_json::Value, DecodeError>> {
        self.record().map(|r| r.map(|v| v.to_json()))
    }

    /// The record decoded as a generated record type
    /// (`app.bsky.feed.post::Post`).
    pub fn decode<'a, T: Deserialize<'a>>(&'a self) -> Option<Result<T, DecodeError>> {
        self.record.as_deref().map(atmo_sync::from_slice)
    }

    /// The op as atmo-sync's tree op (for [`atmo_sync::tree::invert_ops`]).
    pub fn to_tree_op(&self) -> atmo_sync::tree::Op {
        atmo_sync::tree::Op {
            path: self.path(),
            cid: self.cid,
            prev: self.prev,
        }
    }
}

/// A `#commit` with its ops opened.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitEvent {
    /// The message as sent (its `blocks` hold the CAR slice).
    pub commit: repos::Commit,
    /// The commit block's CID.
    pub commit_cid: Cid,
    /// `prevData`: the MST root before the commit (Sync 1.1).
    pub prev_data: Option<Cid>,
    /// The ops with their records.
    pub ops: Vec<RecordOp>,
    /// The verification outcome, when the stream verifies commits.
    pub check: Option<crate::verify::Check>,
}

impl CommitEvent {
    /// Opens a commit message: reads its CAR slice (framing, CID syntax and
    /// caps checked) and each op's record, whose block is checked against
    /// its CID before it is handed out. The other blocks (the commit and
    /// the tree nodes) are read only by verification, which hashes every
    /// block ([`crate::Verifier`]). A record's DAG-CBOR is checked when it
    /// is read ([`RecordOp::decode`], [`RecordOp::record`]), so a malformed
    /// record fails its own op, not the whole commit.
    pub fn open(commit: repos::Commit) -> Result<CommitEvent, EventError> {
        let seq = commit.seq;
        let err = |what: EventErrorKind| EventError {
            seq,
            repo: commit.repo.as_str().to_owned(),
            kind: what,
        };
        // A link field as a binary CID; an error names the field (its name
        // is made only then).
        let link = |l: &CidLink, field: &dyn Fn() -> String| {
            Cid::try_from(&l.link).map_err(|e| {
                err(EventErrorKind::Field {
                    field: field(),
                    why: format!("CID {:?}: {e}", l.link.as_str()),
                })
            })
        };
        let commit_cid = link(&commit.commit, &|| "commit".into())?;
        let prev_data = commit
            .prev_data
            .as_ref()
            .map(|l| link(l, &|| "prevData".into()))
            .transpose()?;
        let car = Blocks::read(&commit.blocks.0).map_err(|e| err(EventErrorKind::Car(e)))?;
        let mut ops = Vec::with_capacity(commit.ops.len());
        for (i, op) in commit.ops.iter().enumerate() {
            let field = |name: &str| format!("ops[{i}].{name}");
            let (collection, rkey) = op.path.split_once('/').ok_or_else(|| {
                err(EventErrorKind::Field {
                    field: field("path"),
                    why: format!("{:?} is not collection/rkey", op.path),
                })
            })?;
            let cid = op
                .cid
                .as_ref()
                .map(|l| link(l, &|| field("cid")))
                .transpose()?;
            let prev = op
                .prev
                .as_ref()
                .map(|l| link(l, &|| field("prev")))
                .transpose()?;
            let action = match &op.action {
                Open::Known(RepoOpAction::Create) => Action::Create,
                Open::Known(RepoOpAction::Update) => Action::Update,
                Open::Known(RepoOpAction::Delete) => Action::Delete,
                Open::Other(s) => Action::Other(s.clone()),
            };
            let record = match cid.and_then(|c| car.get(&c)) {
                Some(block) => {
                    let bytes = block.check().map_err(|e| err(EventErrorKind::Car(e)))?.data;
                    Some(bytes.to_vec())
                }
                None => None,
            };
            ops.push(RecordOp {
                action,
                collection: collection.to_owned(),
                rkey: rkey.to_owned(),
                cid,
                prev,
                record,
            });
        }
        Ok(CommitEvent {
            commit,
            commit_cid,
            prev_data,
            ops,
            check: None,
        })
    }

    /// The repository's DID.
    pub fn repo(&self) -> &str {
        self.commit.repo.as_str()
    }

    /// The commit's revision.
    pub fn rev(&self) -> &str {
        self.commit.rev.as_str()
    }
}

/// A commit's blocks by CID, not yet hashed (a block is checked against
/// its CID when it is used): a list while short (a commit usually carries a
/// handful), a map beyond that.
enum Blocks<'a> {
    Few(Vec<UncheckedBlock<'a>>),
    Many(HashMap<Cid, UncheckedBlock<'a>>),
}

impl<'a> Blocks<'a> {
    const FEW: usize = 32;

    fn read(car: &'a [u8]) -> Result<Self, CarError> {
        let (_roots, blocks) = atmo_sync::car::read_car(car, CarLimits::default())?;
        let mut blocks = blocks.unchecked();
        let mut few = Vec::with_capacity(8);
        while let Some(b) = blocks.next() {
            few.push(b?);
            if few.len() > Self::FEW {
                let mut many: HashMap<Cid, UncheckedBlock<'a>> =
                    few.drain(..).map(|b| (b.cid, b)).collect();
                for b in blocks.by_ref() {
                    let b = b?;
                    many.insert(b.cid, b);
                }
                return Ok(Blocks::Many(many));
            }
        }
        Ok(Blocks::Few(few))
    }

    fn get(&self, cid: &Cid) -> Option<UncheckedBlock<'a>> {
        match self {
            Blocks::Few(v) => v.iter().find(|b| b.cid == *cid).copied(),
            Blocks::Many(m) => m.get(cid).copied(),
        }
    }
}

/// A firehose message that decoded but could not be opened.
#[derive(Debug, Clone, PartialEq)]
pub struct EventError {
    /// The event's `seq`.
    pub seq: i64,
    /// The repository it is about.
    pub repo: String,
    /// What was wrong.
    pub kind: EventErrorKind,
}

/// What was wrong with a commit's contents.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventErrorKind {
    /// The CAR slice in `blocks` is malformed or a block does not hash to
    /// its CID.
    Car(CarError),
    /// A field has the wrong form.
    Field {
        /// Which (`ops[2].path`).
        field: String,
        /// Why.
        why: String,
    },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "commit seq {} of {}: ", self.seq, self.repo)?;
        match &self.kind {
            EventErrorKind::Car(e) => write!(f, "blocks: {e}"),
            EventErrorKind::Field { field, why } => write!(f, "{field}: {why}"),
        }
    }
}

impl std::error::Error for EventError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            EventErrorKind::Car(e) => Some(e),
            EventErrorKind::Field { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atmo_api::com::atproto::sync::subscribe_repos::RepoOp;
    use atmo_sync::car::write_car;
    use atmo_types::{Bytes, CidLink, Datetime, Did, Extra, Tid};

    fn record(n: usize) -> Vec<u8> {
        let mut m = atmo_sync::Map::new();
        m.insert("$type", Value::String("app.bsky.feed.like".into()));
        m.insert("n", Value::Integer(n as i64));
        Value::Map(m).to_cbor()
    }

    /// A create op for like number `i`, whose record has CID `cid`.
    fn like_op(i: usize, cid: &Cid) -> RepoOp {
        RepoOp {
            action: Open::Known(RepoOpAction::Create),
            path: format!("app.bsky.feed.like/{i:013}"),
            cid: Some(CidLink::new(cid.to_types_cid())),
            prev: None,
            extra: Extra::new(),
        }
    }

    /// A commit message carrying `n` record blocks, with create ops for the
    /// first and the last; `corrupt` flips a byte of the last block.
    fn commit(n: usize, corrupt: bool) -> repos::Commit {
        let records: Vec<Vec<u8>> = (0..n).map(record).collect();
        let cids: Vec<Cid> = records.iter().map(|r| Cid::for_dag_cbor(r)).collect();
        let root = cids[0];
        let mut car = write_car(&[root], records.iter().map(Vec::as_slice));
        if corrupt {
            let last = car.len() - 1;
            car[last] ^= 1;
        }
        repos::Commit {
            seq: 1,
            rebase: false,
            too_big: false,
            repo: Did::new("did:plc:blocks").unwrap(),
            commit: CidLink::new(root.to_types_cid()),
            rev: Tid::new("3kbbbbbbbbbb2").unwrap(),
            since: None,
            blocks: Bytes(car),
            ops: vec![like_op(0, &cids[0]), like_op(n - 1, &cids[n - 1])],
            blobs: Vec::new(),
            prev_data: None,
            time: Datetime::new("2024-01-01T00:00:00.000Z").unwrap(),
            extra: Extra::new(),
        }
    }

    #[test]
    fn records_found_in_short_and_long_block_lists() {
        for n in [2, Blocks::FEW, Blocks::FEW + 1, 100] {
            let c = CommitEvent::open(commit(n, false)).unwrap();
            assert_eq!(c.ops.len(), 2);
            assert_eq!(c.ops[0].record_bytes(), Some(record(0).as_slice()), "{n}");
            assert_eq!(
                c.ops[1].record_bytes(),
                Some(record(n - 1).as_slice()),
                "{n}"
            );
        }
    }

    #[test]
    fn a_record_that_breaks_the_cbor_rules_fails_its_own_op() {
        // Hashes to its CID, but a map whose only key has no value.
        let bad = vec![0xa1, 0x61, b'a'];
        let good = record(1);
        let cids = [Cid::for_dag_cbor(&bad), Cid::for_dag_cbor(&good)];
        let car = write_car(&[cids[0]], [bad.as_slice(), good.as_slice()]);
        let mut msg = commit(2, false);
        msg.commit = CidLink::new(cids[0].to_types_cid());
        msg.blocks = Bytes(car);
        msg.ops = vec![like_op(0, &cids[0]), like_op(1, &cids[1])];
        let c = CommitEvent::open(msg).unwrap();
        assert_eq!(c.ops[0].record_bytes(), Some(bad.as_slice()));
        assert!(c.ops[0].record().unwrap().is_err());
        assert!(c.ops[0].record_json().unwrap().is_err());
        assert!(c.ops[0].decode::<serde_json::Value>().unwrap().is_err());
        assert_eq!(
            c.ops[1].record_json().unwrap().unwrap()["n"],
            serde_json::json!(1)
        );
    }

    #[test]
    fn a_block_that_does_not_match_its_cid_fails() {
        for n in [2, 100] {
            let e = CommitEvent::open(commit(n, true)).unwrap_err();
            assert!(
                matches!(e.kind, EventErrorKind::Car(CarError::HashMismatch { .. })),
                "{n}: {e}"
            );
        }
    }
}
