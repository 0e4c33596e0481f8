//! Changing an MST gives the same tree as building it from the new key
//! set, and undoing a commit's operations on the partial tree it carries
//! gives the previous root (the Sync 1.1 check).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use atmo_sync::mst;
use atmo_sync::tree::{invert_ops, Op, Tree, TreeError};
use atmo_sync::Cid;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn key(i: u64) -> String {
    format!("app.bsky.feed.post/{i:08}")
}

fn val(i: u64, version: u64) -> Cid {
    Cid::for_dag_cbor(format!("{i}:{version}").as_bytes())
}

fn build(set: &BTreeMap<String, Cid>, blocks: &mut HashMap<Cid, Vec<u8>>) -> Cid {
    let refs: Vec<(&str, Cid)> = set.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    mst::build(&refs, |c, b| {
        blocks.insert(c, b);
    })
}

#[test]
fn changes_match_a_fresh_build() {
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut set = BTreeMap::new();
        for _ in 0..rng.below(200) {
            let i = rng.below(1000);
            set.insert(key(i), val(i, 0));
        }
        let mut blocks = HashMap::new();
        let root = build(&set, &mut blocks);
        let lookup = |c: &Cid| blocks.get(c).map(Vec::as_slice);
        let mut tree = Tree::open(root, &lookup).unwrap();
        assert_eq!(tree.root_cid(), root);
        for step in 0..150 {
            let i = rng.below(1000);
            let k = key(i);
            match (set.contains_key(&k), rng.below(3)) {
                (true, 0) => {
                    tree.delete(&k).unwrap();
                    set.remove(&k);
                }
                (true, _) => {
                    let v = val(i, step + 1);
                    tree.update(&k, v).unwrap();
                    set.insert(k, v);
                }
                (false, _) => {
                    tree.insert(&k, val(i, 0)).unwrap();
                    set.insert(k, val(i, 0));
                }
            }
            let mut scratch = HashMap::new();
            assert_eq!(
                tree.root_cid(),
                build(&set, &mut scratch),
                "seed {seed} step {step}"
            );
        }
        // Deleting everything gives the empty tree.
        for k in set.keys().cloned().collect::<Vec<_>>() {
            tree.delete(&k).unwrap();
        }
        assert_eq!(
            tree.root_cid(),
            build(&BTreeMap::new(), &mut HashMap::new())
        );
    }
}

#[test]
fn wrong_changes_are_refused() {
    let mut set = BTreeMap::new();
    for i in 0..20 {
        set.insert(key(i), val(i, 0));
    }
    let mut blocks = HashMap::new();
    let root = build(&set, &mut blocks);
    let lookup = |c: &Cid| blocks.get(c).map(Vec::as_slice);
    let mut tree = Tree::open(root, &lookup).unwrap();
    assert!(matches!(
        tree.insert(&key(3), val(3, 1)),
        Err(TreeError::Exists(_))
    ));
    assert!(matches!(tree.delete(&key(99)), Err(TreeError::NotFound(_))));
    assert!(matches!(
        tree.update(&key(99), val(1, 1)),
        Err(TreeError::NotFound(_))
    ));
    assert_eq!(tree.get(&key(4)).unwrap(), Some(val(4, 0)));
    assert_eq!(tree.root_cid(), root);
}

/// A commit: the tree before, the ops, the tree after with all its blocks.
fn commit_case(seed: u64) -> (Cid, Cid, HashMap<Cid, Vec<u8>>, Vec<Op>) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut before = BTreeMap::new();
    for _ in 0..(50 + rng.below(300)) {
        let i = rng.below(2000);
        before.insert(key(i), val(i, 0));
    }
    let mut after = before.clone();
    let mut ops = Vec::new();
    let mut touched = HashSet::new();
    for _ in 0..(1 + rng.below(8)) {
        let i = rng.below(2000);
        let k = key(i);
        if !touched.insert(k.clone()) {
            continue;
        }
        match before.get(&k) {
            Some(&prev) if rng.below(2) == 0 => {
                after.remove(&k);
                ops.push(Op {
                    path: k,
                    cid: None,
                    prev: Some(prev),
                });
            }
            Some(&prev) => {
                let v = val(i, 9);
                after.insert(k.clone(), v);
                ops.push(Op {
                    path: k,
                    cid: Some(v),
                    prev: Some(prev),
                });
            }
            None => {
                let v = val(i, 1);
                after.insert(k.clone(), v);
                ops.push(Op {
                    path: k,
                    cid: Some(v),
                    prev: None,
                });
            }
        }
    }
    let before_root = build(&before, &mut HashMap::new());
    let mut blocks = HashMap::new();
    let after_root = build(&after, &mut blocks);
    (before_root, after_root, blocks, ops)
}

#[test]
fn inverting_a_commit_on_its_partial_tree_gives_prev_data() {
    for seed in 1..=40u64 {
        let (before_root, after_root, blocks, mut ops) = commit_case(seed);
        // Only the nodes the undo reads form the proof.
        let read = RefCell::new(HashSet::new());
        let lookup = |c: &Cid| {
            read.borrow_mut().insert(*c);
            blocks.get(c).map(Vec::as_slice)
        };
        assert_eq!(
            invert_ops(after_root, &lookup, &ops).unwrap(),
            before_root,
            "seed {seed}"
        );
        let proof: HashMap<Cid, &[u8]> = read
            .borrow()
            .iter()
            .map(|c| (*c, blocks[c].as_slice()))
            .collect();
        assert!(
            proof.len() < blocks.len() || blocks.len() <= 3,
            "seed {seed}: proof is partial"
        );
        let only_proof = |c: &Cid| proof.get(c).copied();
        // Any order of the ops gives the same answer.
        ops.reverse();
        assert_eq!(
            invert_ops(after_root, &only_proof, &ops).unwrap(),
            before_root,
            "seed {seed}"
        );
        ops.rotate_left(1);
        assert_eq!(
            invert_ops(after_root, &only_proof, &ops).unwrap(),
            before_root,
            "seed {seed}"
        );
        // An op that does not match the tree is refused.
        let mut wrong = ops.clone();
        wrong[0].cid = Some(val(424242, 0));
        assert!(invert_ops(after_root, &only_proof, &wrong).is_err());
    }
}

#[test]
fn a_missing_proof_block_is_an_error() {
    let (_, after_root, blocks, ops) = commit_case(7);
    let read = RefCell::new(Vec::new());
    let lookup = |c: &Cid| {
        read.borrow_mut().push(*c);
        blocks.get(c).map(Vec::as_slice)
    };
    invert_ops(after_root, &lookup, &ops).unwrap();
    let needed = read.borrow().clone();
    // Drop the last node the undo needed (not the root, which open reads).
    let dropped = *needed.iter().rev().find(|c| **c != after_root).unwrap();
    let without = |c: &Cid| {
        if *c == dropped {
            None
        } else {
            blocks.get(c).map(Vec::as_slice)
        }
    };
    match invert_ops(after_root, &without, &ops) {
        Err(TreeError::Mst(mst::MstError::MissingBlock(c))) => assert_eq!(c, dropped),
        other => panic!("{other:?}"),
    }
}
