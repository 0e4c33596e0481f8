//! A repository read from a CAR file (`com.atproto.sync.getRepo`): its
//! commit and every record, typed or raw.

use std::fmt;

use serde::Deserialize;

use crate::car::{Car, CarError, CarLimits};
use crate::cid::Cid;
use crate::commit::{Commit, CommitError};
use crate::error::DecodeError;
use crate::mst::{self, MstError};
use crate::value::Value;

/// Why a repository could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoError {
    /// The CAR file is malformed or a block does not match its CID.
    Car(CarError),
    /// The CAR file names no root.
    NoRoot,
    /// The commit block is missing.
    MissingCommit(Cid),
    /// The commit is malformed.
    Commit(CommitError),
    /// The tree is malformed.
    Mst(MstError),
}

impl fmt::Display for RepoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepoError::Car(e) => e.fmt(f),
            RepoError::NoRoot => f.write_str("CAR file has no root (the commit)"),
            RepoError::MissingCommit(c) => write!(f, "commit block {c} is not in the CAR file"),
            RepoError::Commit(e) => e.fmt(f),
            RepoError::Mst(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RepoError {}

/// A repository: its commit, its tree's entries, and the CAR's blocks
/// (lent from the input: records are not copied).
#[derive(Debug)]
pub struct Repo<'a> {
    car: Car<'a>,
    commit: Commit,
    /// `(collection/rkey, record CID)` in key order.
    entries: Vec<(String, Cid)>,
}

/// One record of a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'r> {
    /// The collection NSID.
    pub collection: &'r str,
    /// The record key.
    pub rkey: &'r str,
    /// The record's CID, as the tree names it.
    pub cid: Cid,
    /// The record's block, if the CAR file holds it (it was checked
    /// against `cid` when the file was read).
    pub bytes: Option<&'r [u8]>,
}

impl<'r> Record<'r> {
    /// Decodes the record as `T` (a generated record type, or anything
    /// `Deserialize`); strings may borrow from the CAR bytes.
    pub fn decode<T: Deserialize<'r>>(&self) -> Result<T, DecodeError> {
        match self.bytes {
            Some(b) => crate::de::from_slice(b),
            None => Err(missing(self.cid)),
        }
    }

    /// The record as a generic value.
    pub fn value(&self) -> Result<Value<'r>, DecodeError> {
        match self.bytes {
            Some(b) => Value::from_cbor(b),
            None => Err(missing(self.cid)),
        }
    }
}

fn missing(cid: Cid) -> DecodeError {
    DecodeError::new(
        0,
        crate::error::Rule::Message(format!("record block {cid} is not in the CAR file")),
    )
}

impl<'a> Repo<'a> {
    /// Reads a repository CAR with default limits: checks every block's
    /// hash, decodes the commit (first root) and walks the whole tree.
    pub fn from_car(bytes: &'a [u8]) -> Result<Self, RepoError> {
        Self::from_car_with(bytes, CarLimits::default())
    }

    /// As [`Repo::from_car`], with explicit size caps.
    pub fn from_car_with(bytes: &'a [u8], limits: CarLimits) -> Result<Self, RepoError> {
        let car = Car::with_limits(bytes, limits).map_err(RepoError::Car)?;
        let root = *car.roots.first().ok_or(RepoError::NoRoot)?;
        let block = car.get(&root).ok_or(RepoError::MissingCommit(root))?;
        let commit = Commit::from_block(root, block).map_err(RepoError::Commit)?;
        let mut entries = Vec::new();
        mst::walk(
            commit.data,
            |c| car.get(c),
            |key, cid| {
                entries.push((key.to_owned(), cid));
                Ok(())
            },
        )
        .map_err(RepoError::Mst)?;
        Ok(Repo {
            car,
            commit,
            entries,
        })
    }

    /// The commit.
    pub fn commit(&self) -> &Commit {
        &self.commit
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for a repository with no records.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn record<'r>(&'r self, key: &'r str, cid: Cid) -> Record<'r> {
        // Keys were checked to contain one '/' during the walk.
        let (collection, rkey) = key.split_once('/').unwrap_or((key, ""));
        Record {
            collection,
            rkey,
            cid,
            bytes: self.car.get(&cid),
        }
    }

    /// Every record, in key order (collection, then rkey).
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> + '_ {
        self.entries.iter().map(|(k, c)| self.record(k, *c))
    }

    /// The records of one collection.
    pub fn collection<'r>(&'r self, nsid: &'r str) -> impl Iterator<Item = Record<'r>> + 'r {
        let start = self
            .entries
            .partition_point(|(k, _)| k.split_once('/').map_or(k.as_str(), |s| s.0) < nsid);
        self.entries[start..]
            .iter()
            .map(|(k, c)| self.record(k, *c))
            .take_while(move |r| r.collection == nsid)
    }

    /// One record.
    pub fn get(&self, collection: &str, rkey: &str) -> Option<Record<'_>> {
        let key = format!("{collection}/{rkey}");
        let i = self
            .entries
            .binary_search_by(|(k, _)| k.as_str().cmp(&key))
            .ok()?;
        let (k, c) = &self.entries[i];
        Some(self.record(k, *c))
    }

    /// The records of a generated record type's collection, decoded:
    /// `repo.typed::<Post>()` yields `(rkey, Result<Post, _>)`.
    pub fn typed<'r, T>(&'r self) -> impl Iterator<Item = (&'r str, Result<T, DecodeError>)> + 'r
    where
        T: atmo_types::object::Record + 'r,
    {
        self.collection(T::NSID).map(|r| (r.rkey, r.decode::<T>()))
    }

    /// The underlying blocks.
    pub fn car(&self) -> &Car<'a> {
        &self.car
    }
}
