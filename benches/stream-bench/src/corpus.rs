//! The generated corpus: a deterministic firehose of `#commit`, `#identity`,
//! `#account` and `#sync` frames from a few hundred repositories, each
//! commit a correct one (signed with the repository's key, its MST root and
//! `prevData` right, the blocks carrying the records written and the tree
//! nodes an undo of the ops reads), so the full Sync 1.1 check passes on
//! every commit.
//!
//! Shapes follow the live network's mix: mostly likes and posts (posts with
//! facets, replies, images, external links, quotes and quotes with media),
//! follows, reposts, deletes, a few profile updates and records of a
//! collection no lexicon here describes; about 4 % of frames are not
//! commits.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use atmo_crypto::{Curve, PublicKey};
use atmo_stream::encode_frame;
use atmo_sync::car::write_car;
use atmo_sync::tree::{invert_ops, Op};
use atmo_sync::{mst, Cid, Value};
use k256::ecdsa::signature::Signer;
use serde_json::{json, Value as Json};

/// The corpus: frames as a relay sends them, and each repository's key.
pub struct Corpus {
    /// One binary WebSocket message each.
    pub frames: Vec<Vec<u8>>,
    /// The signing key of each repository (by DID).
    pub keys: HashMap<String, PublicKey>,
}

impl Corpus {
    /// Total size of the frames in bytes.
    pub fn bytes(&self) -> usize {
        self.frames.iter().map(Vec::len).sum()
    }
}

/// The seed of [`corpus`]: the same frames on every run.
pub const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// How many repositories the corpus's events come from.
pub const REPOS: usize = 400;

/// `n` frames from [`REPOS`] repositories.
pub fn corpus(n: usize) -> Corpus {
    Generator::new(SEED, REPOS).run(n)
}

/// A deterministic pseudo-random stream (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// True `per_mille` times in a thousand.
    fn chance(&mut self, per_mille: usize) -> bool {
        self.below(1000) < per_mille
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn base32(&mut self, len: usize) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
        (0..len).map(|_| A[self.below(32)] as char).collect()
    }
    fn words(&mut self, min_len: usize) -> String {
        const WORDS: [&str; 24] = [
            "the", "firehose", "posts", "today", "atproto", "rust", "relay", "hello", "world",
            "commit", "bluesky", "stream", "coffee", "morning", "thread", "really", "think",
            "about", "this", "new", "feed", "cats", "weekend", "café",
        ];
        let mut out = String::new();
        while out.len() < min_len {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(WORDS[self.below(WORDS.len())]);
        }
        out
    }
}

/// A TID: 53 bits of microseconds and 10 bits of clock id, base32-sortable.
fn tid(micros: u64, clock: u64) -> String {
    const A: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let v = (micros << 10) | (clock & 0x3ff);
    (0..13)
        .rev()
        .map(|i| A[((v >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// An RFC 3339 timestamp `ms` milliseconds into the corpus's day.
fn datetime(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "2026-11-29T{:02}:{:02}:{:02}.{:03}Z",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

const POST: &str = "app.bsky.feed.post";
const LIKE: &str = "app.bsky.feed.like";
const REPOST: &str = "app.bsky.feed.repost";
const FOLLOW: &str = "app.bsky.graph.follow";
const PROFILE: &str = "app.bsky.actor.profile";
/// A collection no lexicon here describes: decoded untyped.
const OTHER: &str = "xyz.statusphere.status";

struct Repo {
    did: String,
    key: k256::ecdsa::SigningKey,
    records: BTreeMap<String, Cid>,
    rev: String,
    data: Cid,
}

struct Generator {
    rng: Rng,
    repos: Vec<Repo>,
    /// Strong refs (`at://` URI, CID) of posts, for replies, quotes, likes.
    posts: Vec<(String, String)>,
    clock: u64,
    seq: i64,
}

/// One op being written: the tree op and, for creates and updates, the
/// record's bytes.
struct Write {
    op: Op,
    record: Option<Vec<u8>>,
}

impl Generator {
    fn new(seed: u64, repos: usize) -> Self {
        let mut g = Generator {
            rng: Rng(seed),
            repos: Vec::with_capacity(repos),
            posts: Vec::new(),
            // Microseconds since the epoch at the corpus's first event.
            clock: 1_795_935_600_000_000,
            seq: 7_000_000_000,
        };
        for _ in 0..repos {
            let did = format!("did:plc:{}", g.rng.base32(24));
            let key = loop {
                let mut secret = [0u8; 32];
                for chunk in secret.chunks_mut(8) {
                    chunk.copy_from_slice(&g.rng.next().to_le_bytes());
                }
                if let Ok(k) = k256::ecdsa::SigningKey::from_slice(&secret) {
                    break k;
                }
            };
            // The repository as it stood before the corpus: records whose
            // bytes the corpus never carries, only their CIDs in the tree.
            let mut records = BTreeMap::new();
            let n = 20 + g.rng.below(140);
            for _ in 0..n {
                let collection = g.rng.pick(&[POST, LIKE, LIKE, LIKE, REPOST, FOLLOW]);
                let rkey = g.next_tid();
                let cid = Cid::for_dag_cbor(&g.rng.next().to_le_bytes());
                records.insert(format!("{collection}/{rkey}"), cid);
            }
            if g.rng.chance(600) {
                let cid = Cid::for_dag_cbor(&g.rng.next().to_le_bytes());
                records.insert(format!("{PROFILE}/self"), cid);
            }
            let data = root(&records, &mut HashMap::new());
            let rev = g.next_tid();
            g.repos.push(Repo {
                did,
                key,
                records,
                rev,
                data,
            });
        }
        for _ in 0..200 {
            let (uri, cid) = g.fake_post_ref();
            g.posts.push((uri, cid));
        }
        g
    }

    fn next_tid(&mut self) -> String {
        self.clock += 1 + self.rng.below(900) as u64;
        tid(self.clock, self.rng.next())
    }

    fn now(&self) -> String {
        datetime((self.clock / 1000) % 86_400_000)
    }

    fn fake_post_ref(&mut self) -> (String, String) {
        let did = format!("did:plc:{}", self.rng.base32(24));
        let rkey = self.next_tid();
        let cid = Cid::for_dag_cbor(&self.rng.next().to_le_bytes());
        (format!("at://{did}/{POST}/{rkey}"), cid.to_string())
    }

    fn strong_ref(&mut self) -> Json {
        let (uri, cid) = &self.posts[self.rng.below(self.posts.len())];
        json!({"uri": uri, "cid": cid})
    }

    fn blob(&mut self, mime: &str) -> Json {
        let cid = Cid::for_raw(&self.rng.next().to_le_bytes());
        json!({"$type": "blob", "ref": {"$link": cid.to_string()}, "mimeType": mime,
               "size": 20_000 + self.rng.below(900_000)})
    }

    fn images(&mut self) -> Json {
        let n = 1 + self.rng.below(4);
        let images: Vec<Json> = (0..n)
            .map(|_| {
                let alt = if self.rng.chance(500) {
                    self.rng.words(30)
                } else {
                    String::new()
                };
                json!({"alt": alt, "image": self.blob("image/jpeg"),
                       "aspectRatio": {"width": 1000 + self.rng.below(1000), "height": 1000}})
            })
            .collect();
        json!({"$type": "app.bsky.embed.images", "images": images})
    }

    fn post(&mut self) -> Json {
        let len = 10 + self.rng.below(200);
        let mut text = self.rng.words(len);
        let mut facets = Vec::new();
        if self.rng.chance(400) {
            for _ in 0..1 + self.rng.below(3) {
                text.push(' ');
                let start = text.len();
                let feature = match self.rng.below(3) {
                    0 => {
                        let handle = format!("{}.bsky.social", self.rng.base32(8));
                        text.push('@');
                        text.push_str(&handle);
                        json!({"$type": "app.bsky.richtext.facet#mention",
                               "did": format!("did:plc:{}", self.rng.base32(24))})
                    }
                    1 => {
                        let uri = format!("https://example.com/{}", self.rng.base32(12));
                        text.push_str(&uri);
                        json!({"$type": "app.bsky.richtext.facet#link", "uri": uri})
                    }
                    _ => {
                        let tag = self.rng.pick(&["rust", "atproto", "photography", "art"]);
                        text.push('#');
                        text.push_str(tag);
                        json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag})
                    }
                };
                facets.push(json!({"index": {"byteStart": start, "byteEnd": text.len()},
                                   "features": [feature]}));
            }
        }
        let mut post = json!({"$type": POST, "text": text, "createdAt": self.now()});
        if self.rng.chance(800) {
            post["langs"] = json!([self.rng.pick(&["en", "en", "ja", "pt", "de"])]);
        }
        if !facets.is_empty() {
            post["facets"] = Json::Array(facets);
        }
        if self.rng.chance(300) {
            post["reply"] = json!({"root": self.strong_ref(), "parent": self.strong_ref()});
        }
        let roll = self.rng.below(1000);
        if roll < 200 {
            post["embed"] = self.images();
        } else if roll < 300 {
            let thumb = self.blob("image/jpeg");
            post["embed"] = json!({"$type": "app.bsky.embed.external", "external": {
                "uri": format!("https://news.example.org/{}", self.rng.base32(16)),
                "title": self.rng.words(30), "description": self.rng.words(80), "thumb": thumb}});
        } else if roll < 370 {
            post["embed"] = json!({"$type": "app.bsky.embed.record", "record": self.strong_ref()});
        } else if roll < 400 {
            let record = self.strong_ref();
            let media = self.images();
            post["embed"] = json!({"$type": "app.bsky.embed.recordWithMedia",
                "record": {"$type": "app.bsky.embed.record", "record": record}, "media": media});
        }
        post
    }

    fn record(&mut self, collection: &str) -> Json {
        match collection {
            POST => self.post(),
            LIKE | REPOST => {
                json!({"$type": collection, "subject": self.strong_ref(), "createdAt": self.now()})
            }
            FOLLOW => json!({"$type": FOLLOW,
                "subject": format!("did:plc:{}", self.rng.base32(24)), "createdAt": self.now()}),
            PROFILE => {
                let avatar = self.blob("image/png");
                json!({"$type": PROFILE, "displayName": self.rng.words(8),
                       "description": self.rng.words(60), "avatar": avatar,
                       "createdAt": self.now()})
            }
            _ => json!({"$type": OTHER, "status": self.rng.pick(&["🦀", "☕", "🌧"]),
                        "createdAt": self.now()}),
        }
    }

    fn create(&mut self, r: usize, collection: &str) -> Write {
        let rkey = self.next_tid();
        let path = format!("{collection}/{rkey}");
        let bytes = to_cbor(&self.record(collection));
        let cid = Cid::for_dag_cbor(&bytes);
        if collection == POST {
            let uri = format!("at://{}/{path}", self.repos[r].did);
            self.posts.push((uri, cid.to_string()));
        }
        self.repos[r].records.insert(path.clone(), cid);
        Write {
            op: Op {
                path,
                cid: Some(cid),
                prev: None,
            },
            record: Some(bytes),
        }
    }

    /// The writes of one commit.
    fn writes(&mut self, r: usize) -> Vec<Write> {
        let roll = self.rng.below(1000);
        if roll < 330 {
            // A thread posted at once now and then.
            let n = if self.rng.chance(30) {
                2 + self.rng.below(3)
            } else {
                1
            };
            (0..n).map(|_| self.create(r, POST)).collect()
        } else if roll < 660 {
            vec![self.create(r, LIKE)]
        } else if roll < 760 {
            vec![self.create(r, FOLLOW)]
        } else if roll < 860 {
            vec![self.create(r, REPOST)]
        } else if roll < 950 {
            let deletable: Vec<&String> = self.repos[r]
                .records
                .keys()
                .filter(|k| !k.starts_with(PROFILE))
                .collect();
            if deletable.is_empty() {
                return vec![self.create(r, LIKE)];
            }
            let path = deletable[self.rng.below(deletable.len())].clone();
            let prev = self.repos[r].records.remove(&path);
            vec![Write {
                op: Op {
                    path,
                    cid: None,
                    prev,
                },
                record: None,
            }]
        } else if roll < 980 {
            let path = format!("{PROFILE}/self");
            let bytes = to_cbor(&self.record(PROFILE));
            let cid = Cid::for_dag_cbor(&bytes);
            let prev = self.repos[r].records.insert(path.clone(), cid);
            vec![Write {
                op: Op {
                    path,
                    cid: Some(cid),
                    prev,
                },
                record: Some(bytes),
            }]
        } else {
            vec![self.create(r, OTHER)]
        }
    }

    fn commit_frame(&mut self, r: usize) -> Vec<u8> {
        let before = self.repos[r].data;
        let writes = self.writes(r);
        let ops: Vec<Op> = writes.iter().map(|w| w.op.clone()).collect();
        let mut nodes = HashMap::new();
        let data = root(&self.repos[r].records, &mut nodes);
        // The proof: the tree nodes an undo of the ops reads.
        let read = RefCell::new(HashSet::new());
        let lookup = |c: &Cid| {
            read.borrow_mut().insert(*c);
            nodes.get(c).map(Vec::as_slice)
        };
        let undone = invert_ops(data, &lookup, &ops);
        assert_eq!(
            undone,
            Ok(before),
            "the generator's ops undo to the old root"
        );
        let mut proof: Vec<Cid> = read.into_inner().into_iter().collect();
        proof.sort();
        let since = std::mem::take(&mut self.repos[r].rev);
        let rev = self.next_tid();
        let (commit_cid, commit) = self.sign(r, data, &rev);
        let mut blocks: Vec<&[u8]> = vec![&commit];
        blocks.extend(writes.iter().filter_map(|w| w.record.as_deref()));
        blocks.extend(proof.iter().filter_map(|c| nodes.get(c).map(Vec::as_slice)));
        let car = write_car(&[commit_cid], blocks);
        let repo = &mut self.repos[r];
        repo.rev = rev.clone();
        repo.data = data;
        let ops: Vec<Json> = ops
            .iter()
            .map(|op| {
                let action = match (op.cid, op.prev) {
                    (Some(_), None) => "create",
                    (Some(_), Some(_)) => "update",
                    _ => "delete",
                };
                let mut o = json!({"action": action, "path": op.path,
                    "cid": op.cid.map(|c| json!({"$link": c.to_string()}))});
                if let Some(p) = op.prev {
                    o["prev"] = json!({"$link": p.to_string()});
                }
                o
            })
            .collect();
        self.seq += 1;
        let body = json!({
            "seq": self.seq, "rebase": false, "tooBig": false, "repo": repo.did,
            "commit": {"$link": commit_cid.to_string()}, "rev": rev, "since": since,
            "ops": ops, "blobs": [], "prevData": {"$link": before.to_string()},
            "time": self.now(),
        });
        body_frame("#commit", body, Some(car))
    }

    /// The signed commit block of repository `r` at `data`.
    fn sign(&self, r: usize, data: Cid, rev: &str) -> (Cid, Vec<u8>) {
        let repo = &self.repos[r];
        let commit = json!({"did": repo.did, "version": 3,
            "data": {"$link": data.to_string()}, "rev": rev, "prev": null});
        let sig: k256::ecdsa::Signature = repo.key.sign(&to_cbor(&commit));
        let sig = sig.normalize_s().to_bytes();
        let mut v = Value::from_json(&commit).unwrap_or(Value::Null);
        if let Value::Map(m) = &mut v {
            m.insert("sig", Value::Bytes(sig.to_vec().into()));
        }
        let bytes = v.to_cbor();
        (Cid::for_dag_cbor(&bytes), bytes)
    }

    fn sync_frame(&mut self, r: usize) -> Vec<u8> {
        let rev = self.next_tid();
        let data = self.repos[r].data;
        let (cid, commit) = self.sign(r, data, &rev);
        self.repos[r].rev = rev.clone();
        self.seq += 1;
        let body = json!({"seq": self.seq, "did": self.repos[r].did, "rev": rev,
                          "time": self.now()});
        body_frame("#sync", body, Some(write_car(&[cid], [commit.as_slice()])))
    }

    fn run(mut self, n: usize) -> Corpus {
        let mut frames = Vec::with_capacity(n);
        for _ in 0..n {
            // Some repositories are much busier than others.
            let r = self.rng.below(self.repos.len()) * self.rng.below(self.repos.len())
                / self.repos.len();
            self.clock += self.rng.below(3000) as u64;
            let roll = self.rng.below(1000);
            let frame = if roll < 20 {
                self.seq += 1;
                let mut body = json!({"seq": self.seq, "did": self.repos[r].did,
                                      "time": self.now()});
                if self.rng.chance(900) {
                    body["handle"] = json!(format!("{}.bsky.social", self.rng.base32(10)));
                }
                body_frame("#identity", body, None)
            } else if roll < 35 {
                self.seq += 1;
                let active = self.rng.chance(500);
                let mut body = json!({"seq": self.seq, "did": self.repos[r].did,
                                      "time": self.now(), "active": active});
                if !active {
                    body["status"] = json!(self.rng.pick(&["deactivated", "takendown"]));
                }
                body_frame("#account", body, None)
            } else if roll < 45 {
                self.sync_frame(r)
            } else {
                self.commit_frame(r)
            };
            frames.push(frame);
        }
        let keys = self
            .repos
            .iter()
            .filter_map(|r| {
                let point = r.key.verifying_key().to_sec1_point(true);
                let key = PublicKey::from_sec1(Curve::K256, point.as_bytes()).ok()?;
                Some((r.did.clone(), key))
            })
            .collect();
        Corpus { frames, keys }
    }
}

fn to_cbor(json: &Json) -> Vec<u8> {
    Value::from_json(json)
        .map(|v| v.to_cbor())
        .unwrap_or_default()
}

/// The frame of a message: `body` with `blocks` (a CAR) added as bytes.
fn body_frame(t: &str, body: Json, blocks: Option<Vec<u8>>) -> Vec<u8> {
    let mut v = Value::from_json(&body).unwrap_or(Value::Null);
    if let (Value::Map(m), Some(car)) = (&mut v, blocks) {
        m.insert("blocks", Value::Bytes(car.into()));
    }
    encode_frame(1, Some(t), &v.to_cbor())
}

/// The MST root of `records`, its nodes put in `nodes`.
fn root(records: &BTreeMap<String, Cid>, nodes: &mut HashMap<Cid, Vec<u8>>) -> Cid {
    let entries: Vec<(&str, Cid)> = records.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    mst::build(&entries, |c, b| {
        nodes.insert(c, b);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_sort_with_time() {
        let a = tid(1_795_935_600_000_000, 5);
        let b = tid(1_795_935_600_000_001, 0);
        assert_eq!(a.len(), 13);
        assert!(a < b);
        assert!(a.starts_with(|c: char| "234567abcdefghij".contains(c)));
    }

    #[test]
    fn datetimes_are_rfc3339() {
        assert_eq!(datetime(3_723_004), "2026-11-29T01:02:03.004Z");
    }
}
