//! An MST that can be changed: loaded lazily from whatever blocks are at
//! hand (a whole repository, or the partial tree an event-stream commit
//! carries), with insert, update and delete, and its root CID recomputed.
//! This is what Sync 1.1 needs: invert a commit's operations on the tree
//! its blocks carry and check that the result is the commit's `prevData`.

use std::fmt;

use crate::cid::Cid;
use crate::mst::{key_depth, MstError};
use crate::value::{Map, Value};

enum Sub {
    Empty,
    Stub(Cid),
    Node(Box<Node>),
}

struct Node {
    layer: u32,
    left: Sub,
    entries: Vec<Entry>,
}

struct Entry {
    key: Vec<u8>,
    val: Cid,
    right: Sub,
}

/// Why a change to a tree failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// The tree is malformed, or a block the change needs is absent (for
    /// a commit proof: the proof is incomplete).
    Mst(MstError),
    /// The key is already present (insert).
    Exists(String),
    /// The key is not present (update, delete).
    NotFound(String),
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::Mst(e) => e.fmt(f),
            TreeError::Exists(k) => write!(f, "key {k:?} is already in the tree"),
            TreeError::NotFound(k) => write!(f, "key {k:?} is not in the tree"),
        }
    }
}

impl std::error::Error for TreeError {}

impl From<MstError> for TreeError {
    fn from(e: MstError) -> Self {
        TreeError::Mst(e)
    }
}

type Loader<'l, 'a> = &'l dyn Fn(&Cid) -> Option<&'a [u8]>;

fn shape(node: Cid, why: String) -> MstError {
    MstError::Shape { node, why }
}

/// Decodes the node `cid`; `layer` is its level when the parent knows it.
fn load_node(cid: Cid, layer: Option<u32>, blocks: Loader<'_, '_>) -> Result<Node, MstError> {
    let bytes = blocks(&cid).ok_or(MstError::MissingBlock(cid))?;
    let v = Value::from_cbor(bytes).map_err(|error| MstError::Decode { node: cid, error })?;
    let m = v.as_map().ok_or_else(|| shape(cid, "not a map".into()))?;
    let link = |v: Option<&Value<'_>>, what: &str| -> Result<Sub, MstError> {
        match v {
            Some(Value::Link(c)) => Ok(Sub::Stub(*c)),
            Some(Value::Null) => Ok(Sub::Empty),
            _ => Err(shape(cid, format!("{what} must be a link or null"))),
        }
    };
    let left = link(m.get("l"), "\"l\"")?;
    let Some(Value::Array(items)) = m.get("e") else {
        return Err(shape(cid, "\"e\" must be an array".into()));
    };
    let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let e = item
            .as_map()
            .ok_or_else(|| shape(cid, format!("entry {i} is not a map")))?;
        let p = e.get("p").and_then(Value::as_i64);
        let k = e.get("k").and_then(Value::as_bytes);
        let v = e.get("v").and_then(Value::as_link);
        let (Some(p), Some(k), Some(val)) = (p, k, v) else {
            return Err(shape(cid, format!("entry {i} lacks p, k or v")));
        };
        let prev: &[u8] = entries.last().map_or(&[], |e| &e.key);
        let p = usize::try_from(p)
            .ok()
            .filter(|&p| p <= prev.len() && (i > 0 || p == 0))
            .ok_or_else(|| shape(cid, format!("entry {i}: prefix length {p} is impossible")))?;
        let mut key = prev[..p].to_vec();
        key.extend_from_slice(k);
        if !prev.is_empty() && prev >= key.as_slice() {
            return Err(MstError::KeyOrder {
                node: cid,
                previous: String::from_utf8_lossy(prev).into_owned(),
                key: String::from_utf8_lossy(&key).into_owned(),
            });
        }
        let right = link(e.get("t"), "\"t\"")?;
        entries.push(Entry { key, val, right });
    }
    let level = match (entries.first(), layer) {
        (Some(e), _) => key_depth(&e.key),
        (None, Some(l)) => l,
        (None, None) => 0,
    };
    for e in &entries {
        let d = key_depth(&e.key);
        if d != level || layer.is_some_and(|l| l != d) {
            return Err(MstError::KeyDepth {
                node: cid,
                key: String::from_utf8_lossy(&e.key).into_owned(),
                node_depth: layer.unwrap_or(level),
                key_depth: d,
            });
        }
    }
    Ok(Node {
        layer: level,
        left,
        entries,
    })
}

/// Makes `sub` a loaded node (at `layer`) and returns it; `None` if empty.
fn load<'s>(
    sub: &'s mut Sub,
    layer: u32,
    blocks: Loader<'_, '_>,
) -> Result<Option<&'s mut Node>, MstError> {
    if let Sub::Stub(c) = *sub {
        *sub = Sub::Node(Box::new(load_node(c, Some(layer), blocks)?));
    }
    Ok(match sub {
        Sub::Node(n) => Some(n),
        _ => None,
    })
}

fn take_node(sub: Sub, layer: u32, blocks: Loader<'_, '_>) -> Result<Option<Node>, MstError> {
    Ok(match sub {
        Sub::Empty => None,
        Sub::Stub(c) => Some(load_node(c, Some(layer), blocks)?),
        Sub::Node(n) => Some(*n),
    })
}

fn below(layer: u32, node_hint: Cid) -> Result<u32, MstError> {
    layer.checked_sub(1).ok_or(MstError::TooDeep(node_hint))
}

fn nonempty(n: Node) -> Sub {
    if n.entries.is_empty() && matches!(n.left, Sub::Empty) {
        Sub::Empty
    } else {
        Sub::Node(Box::new(n))
    }
}

/// Index of the first entry whose key is not below `key`.
fn position(n: &Node, key: &[u8]) -> usize {
    n.entries.partition_point(|e| e.key.as_slice() < key)
}

fn slot(n: &mut Node, i: usize) -> &mut Sub {
    match i.checked_sub(1) {
        None => &mut n.left,
        Some(j) => &mut n.entries[j].right,
    }
}

const PLACEHOLDER: Cid = Cid::placeholder();

/// Splits the subtree `sub` (at `layer`) into the keys below and above `key`.
fn split(sub: Sub, layer: u32, key: &[u8], blocks: Loader<'_, '_>) -> Result<(Sub, Sub), MstError> {
    let Some(mut n) = take_node(sub, layer, blocks)? else {
        return Ok((Sub::Empty, Sub::Empty));
    };
    let i = position(&n, key);
    let middle = std::mem::replace(slot(&mut n, i), Sub::Empty);
    let (a, b) = if matches!(middle, Sub::Empty) {
        (Sub::Empty, Sub::Empty)
    } else {
        split(middle, below(layer, PLACEHOLDER)?, key, blocks)?
    };
    let right_entries = n.entries.split_off(i);
    *slot(&mut n, i) = a;
    let right = Node {
        layer,
        left: b,
        entries: right_entries,
    };
    Ok((nonempty(n), nonempty(right)))
}

/// Joins two subtrees at `layer` whose keys are all below / above each other.
fn merge(a: Sub, b: Sub, layer: u32, blocks: Loader<'_, '_>) -> Result<Sub, MstError> {
    let Some(mut an) = take_node(a, layer, blocks)? else {
        return Ok(b);
    };
    let Some(bn) = take_node(b, layer, blocks)? else {
        return Ok(Sub::Node(Box::new(an)));
    };
    let last = an.entries.len();
    let junction = std::mem::replace(slot(&mut an, last), Sub::Empty);
    let joined = if matches!(junction, Sub::Empty) {
        bn.left
    } else if matches!(bn.left, Sub::Empty) {
        junction
    } else {
        merge(junction, bn.left, below(layer, PLACEHOLDER)?, blocks)?
    };
    *slot(&mut an, last) = joined;
    an.entries.extend(bn.entries);
    Ok(Sub::Node(Box::new(an)))
}

/// Wraps a subtree at `from` in entry-less nodes up to level `to`.
fn wrap(mut sub: Sub, from: u32, to: u32) -> Sub {
    if matches!(sub, Sub::Empty) {
        return sub;
    }
    for layer in from + 1..=to {
        sub = Sub::Node(Box::new(Node {
            layer,
            left: sub,
            entries: Vec::new(),
        }));
    }
    sub
}

/// A changeable MST over a set of blocks.
pub struct Tree<'l, 'a> {
    root: Sub,
    blocks: Loader<'l, 'a>,
}

impl<'l, 'a> Tree<'l, 'a> {
    /// The tree whose root node is `root`, reading nodes through `blocks`
    /// when a change needs them.
    pub fn open(
        root: Cid,
        blocks: &'l dyn Fn(&Cid) -> Option<&'a [u8]>,
    ) -> Result<Self, TreeError> {
        let node = load_node(root, None, blocks)?;
        let mut t = Tree {
            root: nonempty(node),
            blocks,
        };
        t.trim()?;
        Ok(t)
    }

    fn root_layer(&mut self) -> Result<Option<u32>, MstError> {
        Ok(match &mut self.root {
            Sub::Empty => None,
            Sub::Node(n) => Some(n.layer),
            // The root is loaded when the tree is opened and stays loaded.
            Sub::Stub(c) => return Err(MstError::MissingBlock(*c)),
        })
    }

    /// Drops entry-less root levels.
    fn trim(&mut self) -> Result<(), MstError> {
        loop {
            let Sub::Node(n) = &mut self.root else {
                return Ok(());
            };
            if !n.entries.is_empty() {
                return Ok(());
            }
            let layer = below(n.layer, PLACEHOLDER)?;
            let left = std::mem::replace(&mut n.left, Sub::Empty);
            self.root = match take_node(left, layer, self.blocks)? {
                Some(n) => Sub::Node(Box::new(n)),
                None => Sub::Empty,
            };
        }
    }

    /// Adds `key → val`; the key must be new.
    pub fn insert(&mut self, key: &str, val: Cid) -> Result<(), TreeError> {
        let k = key.as_bytes();
        let d = key_depth(k);
        let blocks = self.blocks;
        match self.root_layer()? {
            None => {
                self.root = Sub::Node(Box::new(Node {
                    layer: d,
                    left: Sub::Empty,
                    entries: vec![Entry {
                        key: k.to_vec(),
                        val,
                        right: Sub::Empty,
                    }],
                }));
            }
            Some(r) if d > r => {
                if self.get(key)?.is_some() {
                    return Err(TreeError::Exists(key.to_owned()));
                }
                let old = std::mem::replace(&mut self.root, Sub::Empty);
                let (a, b) = split(old, r, k, blocks)?;
                self.root = Sub::Node(Box::new(Node {
                    layer: d,
                    left: wrap(a, r, d - 1),
                    entries: vec![Entry {
                        key: k.to_vec(),
                        val,
                        right: wrap(b, r, d - 1),
                    }],
                }));
            }
            Some(r) => insert_into(&mut self.root, r, k, val, d, blocks)?,
        }
        Ok(())
    }

    /// The value under `key`.
    pub fn get(&mut self, key: &str) -> Result<Option<Cid>, TreeError> {
        let k = key.as_bytes();
        let d = key_depth(k);
        let blocks = self.blocks;
        let Some(r) = self.root_layer()? else {
            return Ok(None);
        };
        let mut sub = &mut self.root;
        let mut layer = r;
        loop {
            let Some(n) = load(sub, layer, blocks)? else {
                return Ok(None);
            };
            let i = position(n, k);
            if d == layer {
                return Ok(n.entries.get(i).filter(|e| e.key == k).map(|e| e.val));
            }
            if d > layer {
                return Ok(None);
            }
            layer = below(layer, PLACEHOLDER)?;
            sub = slot(n, i);
        }
    }

    /// Replaces the value under an existing `key`.
    pub fn update(&mut self, key: &str, val: Cid) -> Result<(), TreeError> {
        let k = key.as_bytes();
        let d = key_depth(k);
        let blocks = self.blocks;
        let Some(r) = self.root_layer()? else {
            return Err(TreeError::NotFound(key.to_owned()));
        };
        let mut sub = &mut self.root;
        let mut layer = r;
        loop {
            let Some(n) = load(sub, layer, blocks)? else {
                return Err(TreeError::NotFound(key.to_owned()));
            };
            let i = position(n, k);
            if d == layer {
                return match n.entries.get_mut(i).filter(|e| e.key == k) {
                    Some(e) => {
                        e.val = val;
                        Ok(())
                    }
                    None => Err(TreeError::NotFound(key.to_owned())),
                };
            }
            if d > layer {
                return Err(TreeError::NotFound(key.to_owned()));
            }
            layer = below(layer, PLACEHOLDER)?;
            sub = slot(n, i);
        }
    }

    /// Removes `key`, which must be present.
    pub fn delete(&mut self, key: &str) -> Result<(), TreeError> {
        let k = key.as_bytes();
        let blocks = self.blocks;
        let Some(r) = self.root_layer()? else {
            return Err(TreeError::NotFound(key.to_owned()));
        };
        delete_from(&mut self.root, r, k, key_depth(k), blocks)?;
        self.trim()?;
        Ok(())
    }

    /// The root CID as the tree stands (the empty node for an empty tree).
    pub fn root_cid(&self) -> Cid {
        self.root_cid_storing(&mut |_, _| {})
    }

    /// The root CID, handing every re-encoded node to `store`.
    pub fn root_cid_storing(&self, store: &mut dyn FnMut(Cid, Vec<u8>)) -> Cid {
        match &self.root {
            Sub::Empty => {
                let mut m = Map::new();
                m.insert("e", Value::Array(Vec::new()));
                m.insert("l", Value::Null);
                let bytes = Value::Map(m).to_cbor();
                let cid = Cid::for_dag_cbor(&bytes);
                store(cid, bytes);
                cid
            }
            sub => sub_cid(sub, store).unwrap_or(PLACEHOLDER),
        }
    }
}

fn insert_into(
    sub: &mut Sub,
    layer: u32,
    k: &[u8],
    val: Cid,
    d: u32,
    blocks: Loader<'_, '_>,
) -> Result<(), TreeError> {
    if matches!(sub, Sub::Empty) {
        *sub = Sub::Node(Box::new(Node {
            layer,
            left: Sub::Empty,
            entries: Vec::new(),
        }));
    }
    let Some(n) = load(sub, layer, blocks)? else {
        return Ok(());
    };
    let i = position(n, k);
    if n.entries.get(i).is_some_and(|e| e.key == k) {
        return Err(TreeError::Exists(String::from_utf8_lossy(k).into_owned()));
    }
    if d == layer {
        let middle = std::mem::replace(slot(n, i), Sub::Empty);
        let (a, b) = if matches!(middle, Sub::Empty) {
            (Sub::Empty, Sub::Empty)
        } else {
            split(middle, below(layer, PLACEHOLDER)?, k, blocks)?
        };
        *slot(n, i) = a;
        n.entries.insert(
            i,
            Entry {
                key: k.to_vec(),
                val,
                right: b,
            },
        );
        Ok(())
    } else {
        let next = below(layer, PLACEHOLDER)?;
        insert_into(slot(n, i), next, k, val, d, blocks)
    }
}

fn delete_from(
    sub: &mut Sub,
    layer: u32,
    k: &[u8],
    d: u32,
    blocks: Loader<'_, '_>,
) -> Result<(), TreeError> {
    let not_found = || TreeError::NotFound(String::from_utf8_lossy(k).into_owned());
    let Some(n) = load(sub, layer, blocks)? else {
        return Err(not_found());
    };
    let i = position(n, k);
    if d == layer {
        if n.entries.get(i).is_none_or(|e| e.key != k) {
            return Err(not_found());
        }
        let removed = n.entries.remove(i);
        let before = std::mem::replace(slot(n, i), Sub::Empty);
        let merged = if layer == 0 {
            Sub::Empty
        } else {
            merge(before, removed.right, layer - 1, blocks)?
        };
        *slot(n, i) = merged;
    } else if d < layer {
        let next = below(layer, PLACEHOLDER)?;
        let child = slot(n, i);
        if matches!(child, Sub::Empty) {
            return Err(not_found());
        }
        delete_from(child, next, k, d, blocks)?;
    } else {
        return Err(not_found());
    }
    if n.entries.is_empty() && matches!(n.left, Sub::Empty) {
        *sub = Sub::Empty;
    }
    Ok(())
}

fn sub_cid(sub: &Sub, store: &mut dyn FnMut(Cid, Vec<u8>)) -> Option<Cid> {
    match sub {
        Sub::Empty => None,
        Sub::Stub(c) => Some(*c),
        Sub::Node(n) => {
            let link = |s: &Sub, store: &mut dyn FnMut(Cid, Vec<u8>)| {
                sub_cid(s, store).map_or(Value::Null, Value::Link)
            };
            let mut prev: &[u8] = &[];
            let mut items = Vec::with_capacity(n.entries.len());
            for e in &n.entries {
                let p = prev.iter().zip(&e.key).take_while(|(a, b)| a == b).count();
                let mut m = Map::new();
                m.insert("k", Value::Bytes(e.key[p..].to_vec().into()));
                m.insert("p", Value::Integer(p as i64));
                m.insert("t", link(&e.right, store));
                m.insert("v", Value::Link(e.val));
                items.push(Value::Map(m));
                prev = &e.key;
            }
            let mut m = Map::new();
            m.insert("e", Value::Array(items));
            m.insert("l", link(&n.left, store));
            let bytes = Value::Map(m).to_cbor();
            let cid = Cid::for_dag_cbor(&bytes);
            store(cid, bytes);
            Some(cid)
        }
    }
}

/// One operation of an event-stream commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// `collection/rkey`.
    pub path: String,
    /// The record's CID after the commit (`None` for a delete).
    pub cid: Option<Cid>,
    /// The record's CID before the commit (`None` for a create).
    pub prev: Option<Cid>,
}

/// Undoes `ops` on the tree rooted at `root` (a commit's `data`), reading
/// nodes from `blocks` (the commit's blocks), and returns the root before
/// the commit: Sync 1.1 consumers compare it with the commit's `prevData`.
/// Each op must match the tree (a create's or update's CID is there, a
/// deleted key is absent) and every node the undo touches must be among
/// the blocks; the order of `ops` does not matter.
pub fn invert_ops<'a>(
    root: Cid,
    blocks: &dyn Fn(&Cid) -> Option<&'a [u8]>,
    ops: &[Op],
) -> Result<Cid, TreeError> {
    let mut tree = Tree::open(root, blocks)?;
    for op in ops {
        let now = tree.get(&op.path)?;
        if now != op.cid {
            return Err(match now {
                Some(_) => TreeError::Exists(op.path.clone()),
                None => TreeError::NotFound(op.path.clone()),
            });
        }
        match (op.cid, op.prev) {
            (Some(_), None) => tree.delete(&op.path)?,
            (Some(_), Some(prev)) => tree.update(&op.path, prev)?,
            (None, Some(prev)) => tree.insert(&op.path, prev)?,
            (None, None) => return Err(TreeError::NotFound(op.path.clone())),
        }
    }
    Ok(tree.root_cid())
}
