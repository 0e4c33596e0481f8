//! The same job done by each party: a frame's header and body decoded to
//! the party's types, a `#commit`'s CAR slice read, and each create or
//! update op's record decoded to the party's record type by collection
//! (`app.bsky.feed.post`, `.like`, `.repost`, `app.bsky.graph.follow`,
//! `app.bsky.actor.profile`; other collections untyped). Each returns what
//! it found in a [`Tally`], so a test can check that they all read the
//! same corpus the same way.

use std::collections::HashMap;
use std::error::Error;
use std::hint::black_box;

use atmo_crypto::PublicKey;
use serde::Deserialize;

/// What a party found in the frames it decoded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Frames decoded.
    pub frames: usize,
    /// `#commit` messages.
    pub commits: usize,
    /// Ops in them.
    pub ops: usize,
    /// Records decoded (typed or, for unknown collections, untyped).
    pub records: usize,
    /// Of them, `app.bsky.feed.post` records.
    pub posts: usize,
    /// The posts' text, in bytes.
    pub text_bytes: usize,
    /// `#identity`, `#account` and `#sync` messages.
    pub others: usize,
    /// Records the party's typed decode refused, decoded untyped instead
    /// (they count in `records` and `posts` too).
    pub fallbacks: usize,
}

impl Tally {
    /// The work done, without `fallbacks`: the same for every party that
    /// read the corpus right.
    pub fn work(&self) -> Tally {
        Tally {
            fallbacks: 0,
            ..*self
        }
    }
}

/// A decoder's failure, with what it was reading.
pub type Failure = Box<dyn Error + Send + Sync>;

const POST: &str = "app.bsky.feed.post";
const LIKE: &str = "app.bsky.feed.like";
const REPOST: &str = "app.bsky.feed.repost";
const FOLLOW: &str = "app.bsky.graph.follow";
const PROFILE: &str = "app.bsky.actor.profile";

fn collection(path: &str) -> &str {
    path.split_once('/').map_or(path, |(c, _)| c)
}

/// Ours: `atmo_stream::decode_frame` into the generated `subscribeRepos`
/// union, `RepoEvent::from_message` to open the commit (its CAR read with
/// every block checked against its CID), and `RecordOp::decode` into the
/// generated record types.
pub mod ours {
    use super::*;
    use atmo_api::app::bsky::{actor, feed, graph};
    use atmo_stream::{
        decode_frame, Frame, RecordOp, RepoEvent, SubscribeRepos, DEFAULT_MAX_FRAME_SIZE,
    };

    /// The frame as a [`RepoEvent`].
    pub fn event(frame: &[u8]) -> Result<RepoEvent, Failure> {
        match decode_frame::<SubscribeRepos>(frame, DEFAULT_MAX_FRAME_SIZE)? {
            Frame::Message(m) => Ok(RepoEvent::from_message(m)?),
            other => Err(format!("not a message: {other:?}").into()),
        }
    }

    fn typed<'a, T: Deserialize<'a>>(op: &'a RecordOp) -> Result<T, Failure> {
        match op.decode::<T>() {
            Some(r) => Ok(r?),
            None => Err(format!("{}: record missing", op.path()).into()),
        }
    }

    /// Decodes one frame.
    pub fn decode(frame: &[u8], tally: &mut Tally) -> Result<(), Failure> {
        tally.frames += 1;
        match event(frame)? {
            RepoEvent::Commit(c) => {
                tally.commits += 1;
                for op in &c.ops {
                    tally.ops += 1;
                    if op.record_bytes().is_none() {
                        continue;
                    }
                    match op.collection.as_str() {
                        POST => {
                            let p: feed::post::Post = typed(op)?;
                            tally.posts += 1;
                            tally.text_bytes += p.text.len();
                            black_box(p);
                        }
                        LIKE => drop(black_box(typed::<feed::like::Like>(op)?)),
                        REPOST => drop(black_box(typed::<feed::repost::Repost>(op)?)),
                        FOLLOW => drop(black_box(typed::<graph::follow::Follow>(op)?)),
                        PROFILE => drop(black_box(typed::<actor::profile::Profile>(op)?)),
                        _ => match op.record() {
                            Some(v) => drop(black_box(v?)),
                            None => return Err("record missing".into()),
                        },
                    }
                    tally.records += 1;
                }
                black_box(c);
            }
            RepoEvent::Unknown(u) => return Err(format!("unknown message {u:?}").into()),
            other => {
                tally.others += 1;
                black_box(other);
            }
        }
        Ok(())
    }

    /// Decodes one frame and, for a `#commit`, checks it fully: every
    /// block against its CID, the commit's signature with the repository's
    /// key, and undoing its ops on the carried tree to `prevData`
    /// (`atmo_stream::verify::verify_commit`); a `#sync`'s commit
    /// signature (`Verifier::sync_with_key`).
    pub fn verify(
        frame: &[u8],
        keys: &HashMap<String, PublicKey>,
        tally: &mut Tally,
    ) -> Result<(), Failure> {
        tally.frames += 1;
        let key = |did: &str| keys.get(did).ok_or_else(|| format!("no key for {did}"));
        match event(frame)? {
            RepoEvent::Commit(c) => {
                let checked = atmo_stream::verify::verify_commit(&c, None, key(c.repo())?)?;
                tally.commits += 1;
                tally.ops += c.ops.len();
                black_box(checked);
            }
            RepoEvent::Sync(s) => {
                let mut v = atmo_stream::Verifier::offline();
                v.sync_with_key(&s, key(s.did.as_str())?)?;
                tally.others += 1;
            }
            _ => tally.others += 1,
        }
        Ok(())
    }
}

/// A CAR v1 slice read without copying: the roots and each block as
/// `(CID, bytes)`, the CIDs parsed but blocks not hashed (what iroh-car,
/// which jacquard uses, does). Shared by the atrium and `Ipld` decoders.
pub mod car {
    use super::Failure;
    use ipld_core::cid::Cid;

    fn varint(bytes: &[u8], at: &mut usize) -> Result<u64, Failure> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *bytes.get(*at).ok_or("CAR: truncated varint")?;
            *at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("CAR: varint too long".into())
    }

    #[derive(serde::Deserialize)]
    struct Header {
        roots: Vec<Cid>,
    }

    /// A CAR's blocks, in file order.
    pub type Blocks<'a> = Vec<(Cid, &'a [u8])>;

    /// The roots and blocks of `bytes` (a CAR v1 file).
    pub fn blocks(bytes: &[u8]) -> Result<(Vec<Cid>, Blocks<'_>), Failure> {
        let mut at = 0;
        let len = varint(bytes, &mut at)? as usize;
        let end = at.checked_add(len).ok_or("CAR: header length")?;
        let header: Header =
            serde_ipld_dagcbor::from_slice(bytes.get(at..end).ok_or("CAR: truncated header")?)?;
        at = end;
        let mut out = Vec::new();
        while at < bytes.len() {
            let len = varint(bytes, &mut at)? as usize;
            let end = at.checked_add(len).ok_or("CAR: block length")?;
            let block = bytes.get(at..end).ok_or("CAR: truncated block")?;
            // A CIDv1: version, codec, hash code, digest length, digest.
            let mut c = 0;
            for _ in 0..3 {
                varint(block, &mut c)?;
            }
            let digest = varint(block, &mut c)? as usize;
            let cid_len = c + digest;
            let cid = Cid::try_from(block.get(..cid_len).ok_or("CAR: truncated CID")?)?;
            out.push((cid, block.get(cid_len..).ok_or("CAR: truncated block")?));
            at = end;
        }
        Ok((header.roots, out))
    }

    /// The block of `cid`.
    pub fn find<'a>(blocks: &[(Cid, &'a [u8])], cid: &Cid) -> Option<&'a [u8]> {
        blocks.iter().find(|(c, _)| c == cid).map(|(_, b)| *b)
    }
}

/// A frame header decoded with serde (what serde_ipld_dagcbor users write).
#[derive(Deserialize)]
struct Header<'a> {
    #[allow(dead_code)]
    op: i64,
    #[serde(borrow)]
    t: Option<&'a str>,
}

/// atrium-api 0.26.0: `com::atproto::sync::subscribe_repos` messages and
/// `app::bsky::*::Record` types with serde_ipld_dagcbor (one deserializer
/// for header and body, no copy), the commit's CAR read by [`car`].
pub mod atrium {
    use super::*;
    use atrium_api::app::bsky::{actor, feed, graph};
    use atrium_api::com::atproto::sync::subscribe_repos as repos;
    use serde_ipld_dagcbor::de::Deserializer;

    fn record<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Failure> {
        Ok(serde_ipld_dagcbor::from_slice(bytes)?)
    }

    /// Decodes one frame.
    pub fn decode(frame: &[u8], tally: &mut Tally) -> Result<(), Failure> {
        tally.frames += 1;
        let mut de = Deserializer::from_slice(frame);
        let header = Header::deserialize(&mut de)?;
        match header.t {
            Some("#commit") => {
                let c = repos::Commit::deserialize(&mut de)?;
                de.end()?;
                tally.commits += 1;
                let (_roots, blocks) = car::blocks(&c.blocks)?;
                for op in &c.ops {
                    tally.ops += 1;
                    let Some(cid) = &op.cid else { continue };
                    let bytes = car::find(&blocks, &cid.0).ok_or("record block missing")?;
                    match collection(&op.path) {
                        POST => {
                            let p: feed::post::Record = record(bytes)?;
                            tally.posts += 1;
                            tally.text_bytes += p.text.len();
                            black_box(p);
                        }
                        LIKE => drop(black_box(record::<feed::like::Record>(bytes)?)),
                        REPOST => drop(black_box(record::<feed::repost::Record>(bytes)?)),
                        FOLLOW => drop(black_box(record::<graph::follow::Record>(bytes)?)),
                        PROFILE => drop(black_box(record::<actor::profile::Record>(bytes)?)),
                        _ => drop(black_box(record::<ipld_core::ipld::Ipld>(bytes)?)),
                    }
                    tally.records += 1;
                }
                black_box(c);
            }
            Some("#identity") => drop(black_box(repos::Identity::deserialize(&mut de)?)),
            Some("#account") => drop(black_box(repos::Account::deserialize(&mut de)?)),
            Some("#sync") => drop(black_box(repos::Sync::deserialize(&mut de)?)),
            other => return Err(format!("unexpected message {other:?}").into()),
        }
        if header.t != Some("#commit") {
            de.end()?;
            tally.others += 1;
        }
        Ok(())
    }
}

/// jacquard 0.12.2: `SubscribeReposMessage::decode_framed` (its own frame
/// decoding) with strings borrowed as `CowStr`, jacquard-repo's
/// `parse_car_bytes` for the commit's blocks, and jacquard-api's record
/// types. jacquard's `Cid` reads only tag-42 links from DAG-CBOR, so every
/// record holding a strong ref (`{uri, cid}`, whose `cid` is a string:
/// likes, reposts, replies, quotes) fails typed; those are decoded again
/// as `Data` and counted in [`Tally::fallbacks`].
pub mod jacquard {
    use super::*;
    use jacquard_api::app_bsky::{actor, feed, graph};
    use jacquard_api::com_atproto::sync::subscribe_repos::SubscribeReposMessage;
    use jacquard_common::CowStr;

    type Data<'a> = jacquard_common::Data<CowStr<'a>>;

    /// The record as `T` or, when jacquard's type refuses it, as `Data`
    /// (what a user has to fall back to).
    fn record<'a, T: Deserialize<'a>>(
        bytes: &'a [u8],
        tally: &mut Tally,
    ) -> Result<Result<T, Data<'a>>, Failure> {
        match serde_ipld_dagcbor::from_slice(bytes) {
            Ok(t) => Ok(Ok(t)),
            Err(_) => {
                tally.fallbacks += 1;
                Ok(Err(serde_ipld_dagcbor::from_slice(bytes)?))
            }
        }
    }

    /// Decodes one frame.
    pub fn decode(frame: &[u8], tally: &mut Tally) -> Result<(), Failure> {
        tally.frames += 1;
        match SubscribeReposMessage::<CowStr<'_>>::decode_framed(frame)? {
            SubscribeReposMessage::Commit(c) => {
                tally.commits += 1;
                let car =
                    futures_lite::future::block_on(jacquard_repo::car::parse_car_bytes(&c.blocks))?;
                for op in &c.ops {
                    tally.ops += 1;
                    let Some(cid) = &op.cid else { continue };
                    let bytes = car
                        .blocks
                        .get(&cid.to_ipld()?)
                        .ok_or("record block missing")?;
                    match collection(op.path.as_ref()) {
                        POST => {
                            let len = match record::<feed::post::Post<CowStr<'_>>>(bytes, tally)? {
                                Ok(p) => black_box(p).text.len(),
                                Err(d) => black_box(d)
                                    .as_object()
                                    .and_then(|o| o.get("text"))
                                    .and_then(|t| t.as_str())
                                    .map_or(0, str::len),
                            };
                            tally.posts += 1;
                            tally.text_bytes += len;
                        }
                        LIKE => drop(black_box(record::<feed::like::Like<CowStr<'_>>>(
                            bytes, tally,
                        )?)),
                        REPOST => drop(black_box(record::<feed::repost::Repost<CowStr<'_>>>(
                            bytes, tally,
                        )?)),
                        FOLLOW => drop(black_box(record::<graph::follow::Follow<CowStr<'_>>>(
                            bytes, tally,
                        )?)),
                        PROFILE => drop(black_box(record::<actor::profile::Profile<CowStr<'_>>>(
                            bytes, tally,
                        )?)),
                        _ => drop(black_box(serde_ipld_dagcbor::from_slice::<Data<'_>>(
                            bytes,
                        )?)),
                    }
                    tally.records += 1;
                }
                black_box(c);
            }
            other => {
                tally.others += 1;
                black_box(other);
            }
        }
        Ok(())
    }
}

/// The untyped baseline: serde_ipld_dagcbor to `ipld_core::ipld::Ipld` for
/// the header, the body and each record block, the CAR read by [`car`].
pub mod ipld {
    use super::*;
    use ipld_core::ipld::Ipld;
    use serde_ipld_dagcbor::de::Deserializer;

    fn field<'a>(m: &'a std::collections::BTreeMap<String, Ipld>, k: &str) -> Option<&'a Ipld> {
        m.get(k)
    }

    /// Decodes one frame.
    pub fn decode(frame: &[u8], tally: &mut Tally) -> Result<(), Failure> {
        tally.frames += 1;
        let mut de = Deserializer::from_slice(frame);
        let header = Ipld::deserialize(&mut de)?;
        let body = Ipld::deserialize(&mut de)?;
        de.end()?;
        let t = match &header {
            Ipld::Map(m) => match field(m, "t") {
                Some(Ipld::String(t)) => t.as_str(),
                _ => return Err("header without t".into()),
            },
            _ => return Err("header is not a map".into()),
        };
        let Ipld::Map(body) = &body else {
            return Err("body is not a map".into());
        };
        if t != "#commit" {
            tally.others += 1;
            return Ok(());
        }
        tally.commits += 1;
        let Some(Ipld::Bytes(car)) = field(body, "blocks") else {
            return Err("commit without blocks".into());
        };
        let Some(Ipld::List(ops)) = field(body, "ops") else {
            return Err("commit without ops".into());
        };
        let (_roots, blocks) = car::blocks(car)?;
        for op in ops {
            tally.ops += 1;
            let Ipld::Map(op) = op else {
                return Err("op is not a map".into());
            };
            let Some(Ipld::Link(cid)) = field(op, "cid") else {
                continue;
            };
            let Some(Ipld::String(path)) = field(op, "path") else {
                return Err("op without path".into());
            };
            let bytes = car::find(&blocks, cid).ok_or("record block missing")?;
            let record: Ipld = serde_ipld_dagcbor::from_slice(bytes)?;
            if collection(path) == POST {
                if let Ipld::Map(m) = &record {
                    if let Some(Ipld::String(text)) = field(m, "text") {
                        tally.posts += 1;
                        tally.text_bytes += text.len();
                    }
                }
            }
            tally.records += 1;
            black_box(record);
        }
        black_box(body);
        Ok(())
    }
}

/// A party's decoder.
pub type Decoder = fn(&[u8], &mut Tally) -> Result<(), Failure>;

/// The parties, in report order.
pub const PARTIES: [(&str, Decoder); 4] = [
    ("ours", ours::decode),
    ("atrium", atrium::decode),
    ("jacquard", jacquard::decode),
    ("ipld", ipld::decode),
];

/// Decodes every frame with `decoder`, stopping at the first failure
/// (with the frame's index).
pub fn decode_all(
    frames: &[Vec<u8>],
    decoder: impl Fn(&[u8], &mut Tally) -> Result<(), Failure>,
) -> Result<Tally, (usize, Failure)> {
    let mut tally = Tally::default();
    for (i, f) in frames.iter().enumerate() {
        decoder(f, &mut tally).map_err(|e| (i, e))?;
    }
    Ok(tally)
}
