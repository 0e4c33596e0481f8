//! The Merkle Search Tree that maps a repository's keys
//! (`collection/rkey`) to record CIDs: walking it with every order and
//! depth rule checked, and building it from a key set.
//!
//! A node is `{l: <cid>|null, e: [{p, k, v, t}]}`: `l` is the subtree left
//! of every entry, each entry's key is the previous entry's first `p` bytes
//! followed by `k`, `v` is the record's CID and `t` the subtree between this
//! entry and the next. A key's depth is the number of leading zero bits of
//! its SHA-256, halved (two bits a level); all entries of a node share a
//! depth, subtrees sit exactly one level lower.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::cid::Cid;
use crate::error::DecodeError;
use crate::value::{Map, Value};

/// Longest repository key accepted.
pub const MAX_KEY_LEN: usize = 1024;

/// A key's level in the tree: leading zero bits of SHA-256(key), halved.
pub fn key_depth(key: &[u8]) -> u32 {
    let hash = Sha256::digest(key);
    let mut zeros = 0;
    for &b in hash.iter() {
        if b == 0 {
            zeros += 8;
        } else {
            zeros += b.leading_zeros();
            break;
        }
    }
    zeros / 2
}

/// Why a tree was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MstError {
    /// A node's block is not available.
    MissingBlock(Cid),
    /// A node is not valid DAG-CBOR.
    Decode {
        /// The node.
        node: Cid,
        /// Why.
        error: DecodeError,
    },
    /// A node is DAG-CBOR but not shaped like an MST node.
    Shape {
        /// The node.
        node: Cid,
        /// What is wrong.
        why: String,
    },
    /// A key that does not sort after the one before it in the tree.
    KeyOrder {
        /// The node holding the key.
        node: Cid,
        /// The key before it.
        previous: String,
        /// The key.
        key: String,
    },
    /// A key in a node of the wrong level.
    KeyDepth {
        /// The node holding the key.
        node: Cid,
        /// The key.
        key: String,
        /// The node's level.
        node_depth: u32,
        /// The key's own depth.
        key_depth: u32,
    },
    /// A key that is not `collection/rkey` in printable ASCII.
    BadKey {
        /// The node holding the key.
        node: Cid,
        /// The key (lossily decoded).
        key: String,
    },
    /// A node with no entries where the tree allows none.
    EmptyNode(Cid),
    /// The tree has more levels than any key can reach.
    TooDeep(Cid),
}

impl fmt::Display for MstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MstError::MissingBlock(c) => write!(f, "MST node {c} is missing"),
            MstError::Decode { node, error } => write!(f, "MST node {node}: {error}"),
            MstError::Shape { node, why } => write!(f, "MST node {node}: {why}"),
            MstError::KeyOrder {
                node,
                previous,
                key,
            } => write!(
                f,
                "MST node {node}: key {key:?} does not sort after {previous:?}"
            ),
            MstError::KeyDepth {
                node,
                key,
                node_depth,
                key_depth,
            } => write!(
                f,
                "MST node {node} at depth {node_depth} holds key {key:?} of depth {key_depth}"
            ),
            MstError::BadKey { node, key } => {
                write!(f, "MST node {node}: key {key:?} is not collection/rkey")
            }
            MstError::EmptyNode(c) => write!(f, "MST node {c} has no entries"),
            MstError::TooDeep(c) => write!(f, "MST node {c} is below depth 0"),
        }
    }
}

impl std::error::Error for MstError {}

/// One decoded node.
struct Node<'a> {
    left: Option<Cid>,
    entries: Vec<(Vec<u8>, Cid, Option<Cid>)>,
    _bytes: std::marker::PhantomData<&'a ()>,
}

fn shape(node: Cid, why: &str) -> MstError {
    MstError::Shape {
        node,
        why: why.to_owned(),
    }
}

fn link_or_null(v: Option<&Value<'_>>, node: Cid, what: &str) -> Result<Option<Cid>, MstError> {
    match v {
        Some(Value::Link(c)) => Ok(Some(*c)),
        Some(Value::Null) => Ok(None),
        _ => Err(shape(node, &format!("{what} must be a link or null"))),
    }
}

fn decode_node<'a>(cid: Cid, bytes: &'a [u8]) -> Result<Node<'a>, MstError> {
    let v = Value::from_cbor(bytes).map_err(|error| MstError::Decode { node: cid, error })?;
    let m = v.as_map().ok_or_else(|| shape(cid, "not a map"))?;
    let left = link_or_null(m.get("l"), cid, "\"l\"")?;
    let Some(Value::Array(items)) = m.get("e") else {
        return Err(shape(cid, "\"e\" must be an array"));
    };
    let mut entries = Vec::with_capacity(items.len());
    let mut prev: Vec<u8> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let e = item
            .as_map()
            .ok_or_else(|| shape(cid, &format!("entry {i} is not a map")))?;
        let p = e
            .get("p")
            .and_then(Value::as_i64)
            .ok_or_else(|| shape(cid, &format!("entry {i}: \"p\" must be an integer")))?;
        let k = e
            .get("k")
            .and_then(Value::as_bytes)
            .ok_or_else(|| shape(cid, &format!("entry {i}: \"k\" must be bytes")))?;
        let v = e
            .get("v")
            .and_then(Value::as_link)
            .ok_or_else(|| shape(cid, &format!("entry {i}: \"v\" must be a link")))?;
        let t = link_or_null(e.get("t"), cid, &format!("entry {i}: \"t\""))?;
        let p = usize::try_from(p)
            .ok()
            .filter(|&p| p <= prev.len() && (i > 0 || p == 0))
            .ok_or_else(|| shape(cid, &format!("entry {i}: prefix length {p} is impossible")))?;
        let mut key = Vec::with_capacity(p + k.len());
        key.extend_from_slice(&prev[..p]);
        key.extend_from_slice(k);
        if key.len() > MAX_KEY_LEN {
            return Err(shape(
                cid,
                &format!("entry {i}: key longer than {MAX_KEY_LEN}"),
            ));
        }
        prev.clone_from(&key);
        entries.push((key, v, t));
    }
    Ok(Node {
        left,
        entries,
        _bytes: std::marker::PhantomData,
    })
}

/// A valid repository key: `collection/rkey`, both non-empty, printable
/// ASCII without further slashes.
fn key_ok(key: &[u8]) -> bool {
    let Some(slash) = key.iter().position(|&b| b == b'/') else {
        return false;
    };
    slash > 0
        && slash + 1 < key.len()
        && key[slash + 1..].iter().all(|&b| b != b'/')
        && key.iter().all(|&b| b.is_ascii_graphic())
}

/// Walks the tree under `root` in key order, calling `visit(key, cid)` for
/// every entry. `blocks` finds a node's bytes by CID. Checks that keys are
/// well formed and strictly increasing across the whole tree, that every
/// key sits at its depth, and that subtrees are exactly one level down.
pub fn walk<'a, F, V>(root: Cid, blocks: F, mut visit: V) -> Result<(), MstError>
where
    F: Fn(&Cid) -> Option<&'a [u8]>,
    V: FnMut(&str, Cid) -> Result<(), MstError>,
{
    let mut last: Option<Vec<u8>> = None;
    walk_node(root, None, true, &blocks, &mut visit, &mut last)
}

fn walk_node<'a, F, V>(
    cid: Cid,
    depth: Option<u32>,
    is_root: bool,
    blocks: &F,
    visit: &mut V,
    last: &mut Option<Vec<u8>>,
) -> Result<(), MstError>
where
    F: Fn(&Cid) -> Option<&'a [u8]>,
    V: FnMut(&str, Cid) -> Result<(), MstError>,
{
    let bytes = blocks(&cid).ok_or(MstError::MissingBlock(cid))?;
    let node = decode_node(cid, bytes)?;
    // The node's level: that of its keys, or one below its parent's.
    let level = match (node.entries.first(), depth) {
        (Some((k, _, _)), _) => key_depth(k),
        (None, Some(d)) => d,
        (None, None) => {
            if node.left.is_some() {
                // A root with only a subtree is never written: the tree is
                // trimmed to its highest level with entries.
                return Err(MstError::EmptyNode(cid));
            }
            return Ok(());
        }
    };
    if node.entries.is_empty() && (node.left.is_none() || is_root) {
        return Err(MstError::EmptyNode(cid));
    }
    if let Some(d) = depth {
        if level != d {
            let key = node
                .entries
                .first()
                .map(|(k, _, _)| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            return Err(MstError::KeyDepth {
                node: cid,
                key,
                node_depth: d,
                key_depth: level,
            });
        }
    }
    let child = |sub: Option<Cid>| -> Result<Option<(Cid, u32)>, MstError> {
        match sub {
            None => Ok(None),
            Some(_) if level == 0 => Err(MstError::TooDeep(cid)),
            Some(c) => Ok(Some((c, level - 1))),
        }
    };
    if let Some((c, d)) = child(node.left)? {
        walk_node(c, Some(d), false, blocks, visit, last)?;
    }
    for (key, value, right) in &node.entries {
        if !key_ok(key) {
            return Err(MstError::BadKey {
                node: cid,
                key: String::from_utf8_lossy(key).into_owned(),
            });
        }
        let kd = key_depth(key);
        if kd != level {
            return Err(MstError::KeyDepth {
                node: cid,
                key: String::from_utf8_lossy(key).into_owned(),
                node_depth: level,
                key_depth: kd,
            });
        }
        if let Some(prev) = last.as_deref() {
            if prev >= key.as_slice() {
                return Err(MstError::KeyOrder {
                    node: cid,
                    previous: String::from_utf8_lossy(prev).into_owned(),
                    key: String::from_utf8_lossy(key).into_owned(),
                });
            }
        }
        // `key_ok` checked it is ASCII.
        let text = std::str::from_utf8(key).unwrap_or_default();
        visit(text, *value)?;
        *last = Some(key.clone());
        if let Some((c, d)) = child(*right)? {
            walk_node(c, Some(d), false, blocks, visit, last)?;
        }
    }
    Ok(())
}

/// Builds the tree for `entries` (sorted by key, no duplicates); calls
/// `store(cid, bytes)` for every node and returns the root's CID. An empty
/// set gives the empty node.
pub fn build<S: FnMut(Cid, Vec<u8>)>(entries: &[(&str, Cid)], mut store: S) -> Cid {
    let depths: Vec<u32> = entries
        .iter()
        .map(|(k, _)| key_depth(k.as_bytes()))
        .collect();
    let top = depths.iter().copied().max().unwrap_or(0);
    build_level(entries, &depths, top, &mut store)
}

fn build_level<S: FnMut(Cid, Vec<u8>)>(
    entries: &[(&str, Cid)],
    depths: &[u32],
    level: u32,
    store: &mut S,
) -> Cid {
    // Split at the keys of this level; the runs between them go one down.
    let mut left = None;
    let mut out: Vec<Value<'static>> = Vec::new();
    let mut run_start = 0;
    let mut prev_key: &[u8] = &[];
    let mut pending: Option<(usize, usize)> = None; // (entry index, out index)
    let sub = |from: usize, to: usize, store: &mut S| -> Option<Cid> {
        if from == to || level == 0 {
            return None;
        }
        Some(build_level(
            &entries[from..to],
            &depths[from..to],
            level - 1,
            store,
        ))
    };
    for i in 0..=entries.len() {
        let at_level = i < entries.len() && depths[i] == level;
        if i < entries.len() && !at_level {
            continue;
        }
        let tree = sub(run_start, i, store);
        match pending.take() {
            None => left = tree,
            Some((_, oi)) => {
                if let Some(Value::Map(m)) = out.get_mut(oi) {
                    m.insert("t", tree.map_or(Value::Null, Value::Link));
                }
            }
        }
        if i == entries.len() {
            break;
        }
        let key = entries[i].0.as_bytes();
        let p = prev_key.iter().zip(key).take_while(|(a, b)| a == b).count();
        let mut m = Map::new();
        m.insert("k", Value::Bytes(key[p..].to_vec().into()));
        m.insert("p", Value::Integer(p as i64));
        m.insert("v", Value::Link(entries[i].1));
        m.insert("t", Value::Null);
        out.push(Value::Map(m));
        pending = Some((i, out.len() - 1));
        prev_key = key;
        run_start = i + 1;
    }
    let mut node = Map::new();
    node.insert("e", Value::Array(out));
    node.insert("l", left.map_or(Value::Null, Value::Link));
    let bytes = Value::Map(node).to_cbor();
    let cid = Cid::for_dag_cbor(&bytes);
    store(cid, bytes);
    cid
}
