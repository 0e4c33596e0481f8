//! CAR reading, MST walking and building, commits and their signatures,
//! on repositories built by hand; MST depth vectors from `../shared/`.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;

use atmo_api::app::bsky::feed::post::Post;
use atmo_sync::car::{self, CarLimits};
use atmo_sync::mst::{self, MstError};
use atmo_sync::{
    Car, CarError, Cid, Commit, CommitError, Map, Repo, RepoError, RepoState, Value, Verdict,
};

fn shared(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/atproto-interop-tests")
        .join(path);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "notice: {} is absent; skipping this interop test",
            p.display()
        );
        None
    }
}

#[test]
fn interop_mst_key_heights() {
    let Some(path) = shared("mst/key_heights.json") else {
        return;
    };
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(cases.len() > 3);
    for c in &cases {
        let key = c["key"].as_str().unwrap();
        assert_eq!(
            u64::from(mst::key_depth(key.as_bytes())),
            c["height"].as_u64().unwrap(),
            "{key}"
        );
    }
    let Some(path) = shared("mst/example_keys.txt") else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let mut n = 0;
    for key in text.lines().filter(|l| !l.is_empty()) {
        // "A2/827942" sits at height 2.
        let height: u32 = key[1..2].parse().unwrap();
        assert_eq!(mst::key_depth(key.as_bytes()), height, "{key}");
        n += 1;
    }
    assert!(n > 10);
}

fn post_cbor(i: usize) -> Vec<u8> {
    let json = serde_json::json!({
        "$type": "app.bsky.feed.post",
        "text": format!("post number {i}"),
        "createdAt": "2024-01-01T00:00:00.000Z",
    });
    Value::from_json(&json).unwrap().to_cbor()
}

fn signing_key() -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap()
}

#[cfg(feature = "verify")]
fn public_key() -> atmo_crypto::PublicKey {
    let sk = signing_key();
    atmo_crypto::PublicKey::from_sec1(
        atmo_crypto::Curve::K256,
        sk.verifying_key().to_sec1_point(true).as_bytes(),
    )
    .unwrap()
}

fn sign(msg: &[u8]) -> Vec<u8> {
    use k256::ecdsa::signature::Signer;
    let s: k256::ecdsa::Signature = signing_key().sign(msg);
    s.normalize_s().to_bytes().to_vec()
}

struct Built {
    car: Vec<u8>,
    keys: Vec<(String, Cid)>,
    commit: Cid,
    data: Cid,
}

/// A repository with `records` posts and some records of an unknown
/// collection; the commit carries an extra field that the signature covers.
fn build_repo(records: usize) -> Built {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut keys: Vec<(String, Cid)> = Vec::new();
    for i in 0..records {
        let bytes = post_cbor(i);
        keys.push((
            format!("app.bsky.feed.post/3k{i:05}"),
            Cid::for_dag_cbor(&bytes),
        ));
        blocks.push(bytes);
    }
    for i in 0..3 {
        let v = Value::from_json(&serde_json::json!({"$type": "com.example.thing", "n": i}))
            .unwrap()
            .to_cbor();
        keys.push((format!("com.example.thing/k{i}"), Cid::for_dag_cbor(&v)));
        blocks.push(v);
    }
    keys.sort();
    let refs: Vec<(&str, Cid)> = keys.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    let data = mst::build(&refs, |_, b| blocks.push(b));
    let mut m = Map::new();
    m.insert("did", Value::String("did:plc:testrepo".into()));
    m.insert("version", Value::Integer(3));
    m.insert("data", Value::Link(data));
    m.insert("rev", Value::String("3kabcdefghij2".into()));
    m.insert("prev", Value::Null);
    m.insert("futureField", Value::String("signed too".into()));
    let unsigned = Value::Map(m.clone()).to_cbor();
    m.insert("sig", Value::Bytes(sign(&unsigned).into()));
    let commit_bytes = Value::Map(m).to_cbor();
    let commit = Cid::for_dag_cbor(&commit_bytes);
    blocks.push(commit_bytes);
    let car = car::write_car(&[commit], blocks.iter().map(Vec::as_slice));
    Built {
        car,
        keys,
        commit,
        data,
    }
}

#[test]
fn walks_a_repository_to_every_record() {
    let built = build_repo(300);
    let repo = Repo::from_car(&built.car).unwrap();
    assert_eq!(repo.commit().cid, built.commit);
    assert_eq!(repo.commit().data, built.data);
    assert_eq!(repo.commit().did, "did:plc:testrepo");
    let listed: Vec<(String, Cid)> = repo
        .records()
        .map(|r| (format!("{}/{}", r.collection, r.rkey), r.cid))
        .collect();
    assert_eq!(listed, built.keys);
    // Every record's block is there and hashes to its CID.
    for r in repo.records() {
        assert_eq!(Cid::for_dag_cbor(r.bytes.unwrap()), r.cid);
    }
    // Typed by collection, raw for the unknown one.
    let posts: Vec<(&str, Post)> = repo.typed::<Post>().map(|(k, p)| (k, p.unwrap())).collect();
    assert_eq!(posts.len(), 300);
    assert_eq!(posts[7].1.text, "post number 7");
    let thing = repo.get("com.example.thing", "k1").unwrap();
    assert_eq!(
        thing.value().unwrap().as_map().unwrap().get("n"),
        Some(&Value::Integer(1))
    );
    assert_eq!(repo.collection("com.example.thing").count(), 3);
    assert!(repo.get("com.example.thing", "k9").is_none());
    // The tree has more than one level at this size.
    let depths: std::collections::BTreeSet<u32> = built
        .keys
        .iter()
        .map(|(k, _)| mst::key_depth(k.as_bytes()))
        .collect();
    assert!(depths.len() > 1, "{depths:?}");
}

#[test]
fn empty_repository() {
    let built = build_repo(0);
    let mut blocks = HashMap::new();
    let empty = mst::build(&[], |c, b| {
        blocks.insert(c, b);
    });
    assert_eq!(blocks[&empty], [0xa2, 0x61, b'e', 0x80, 0x61, b'l', 0xf6]);
    mst::walk(
        empty,
        |c| blocks.get(c).map(Vec::as_slice),
        |_, _| panic!("no entries"),
    )
    .unwrap();
    assert_eq!(Repo::from_car(&built.car).unwrap().len(), 3);
}

#[cfg(feature = "verify")]
#[test]
fn commit_signature_covers_unknown_fields() {
    let built = build_repo(5);
    let repo = Repo::from_car(&built.car).unwrap();
    let commit = repo.commit();
    commit.verify(&public_key()).unwrap();
    let unsigned = Value::from_cbor(commit.unsigned_bytes()).unwrap();
    assert!(unsigned.as_map().unwrap().get("futureField").is_some());
    assert!(unsigned.as_map().unwrap().get("sig").is_none());
    // A wrong key or a changed signature fails.
    let other = k256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap();
    let other = atmo_crypto::PublicKey::from_sec1(
        atmo_crypto::Curve::K256,
        other.verifying_key().to_sec1_point(true).as_bytes(),
    )
    .unwrap();
    assert!(matches!(
        commit.verify(&other),
        Err(CommitError::Signature(_))
    ));
    let mut bad = commit.clone();
    bad.sig[10] ^= 1;
    assert!(bad.verify(&public_key()).is_err());
    // Debug output does not dump the signature.
    assert!(!format!("{commit:?}").contains(&format!("{:?}", commit.sig)));
}

#[test]
fn car_refusals_name_the_block() {
    let built = build_repo(2);
    let (_, blocks) = car::read_car(&built.car, CarLimits::default()).unwrap();
    let blocks: Vec<_> = blocks.map(Result::unwrap).collect();
    // Flip a byte inside the second block's data.
    let target = blocks[1];
    let mut bytes = built.car.clone();
    let at = target.offset + 1 + 36 + 2;
    bytes[at] ^= 0x01;
    match Car::from_bytes(&bytes) {
        Err(CarError::HashMismatch { offset, cid }) => {
            assert_eq!((offset, cid), (target.offset, target.cid));
        }
        other => panic!("{other:?}"),
    }
    let e = Repo::from_car(&bytes).unwrap_err();
    assert!(e.to_string().contains(&target.cid.to_string()), "{e}");
    // Read unchecked, the same block comes through and fails only when it
    // is checked, with the same error; the others check clean.
    let (_, unchecked) = car::read_car(&bytes, CarLimits::default()).unwrap();
    let unchecked: Vec<_> = unchecked.unchecked().map(Result::unwrap).collect();
    assert_eq!(unchecked.len(), blocks.len());
    for (i, b) in unchecked.into_iter().enumerate() {
        match b.check() {
            Ok(ok) => assert_eq!((ok.cid, ok.data), (blocks[i].cid, blocks[i].data)),
            Err(CarError::HashMismatch { offset, cid }) => {
                assert_eq!((i, offset, cid), (1, target.offset, target.cid));
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    // Truncated file.
    let cut = &built.car[..built.car.len() - 3];
    assert!(matches!(
        Car::from_bytes(cut),
        Err(CarError::Truncated { .. })
    ));
    // Caps.
    let small = CarLimits {
        max_file: 1 << 30,
        max_block: 8,
    };
    assert!(matches!(
        Car::with_limits(&built.car, small),
        Err(CarError::BlockTooLarge { max: 8, .. })
    ));
    let tiny = CarLimits {
        max_file: 10,
        max_block: 8,
    };
    assert!(matches!(
        Car::with_limits(&built.car, tiny),
        Err(CarError::FileTooLarge { max: 10, .. })
    ));
    // Header problems.
    assert!(matches!(Car::from_bytes(&[]), Err(CarError::Varint(0))));
    assert!(matches!(Car::from_bytes(&[0x80]), Err(CarError::Varint(0))));
    assert!(matches!(
        Car::from_bytes(&[0x01, 0x01]),
        Err(CarError::HeaderShape(_))
    ));
    let mut h = Map::new();
    h.insert("version", Value::Integer(2));
    h.insert("roots", Value::Array(vec![]));
    let hb = Value::Map(h).to_cbor();
    let mut file = vec![hb.len() as u8];
    file.extend(hb);
    assert!(matches!(
        Car::from_bytes(&file),
        Err(CarError::HeaderShape(_))
    ));
    // A CID the data model does not accept.
    let mut b = built.car.clone();
    b[blocks[0].offset + 2] = 0x70;
    assert!(matches!(Car::from_bytes(&b), Err(CarError::Cid { .. })));
}

fn node(left: Option<Cid>, entries: &[(usize, &[u8], Cid, Option<Cid>)]) -> Vec<u8> {
    let e = entries
        .iter()
        .map(|(p, k, v, t)| {
            let mut m = Map::new();
            m.insert("p", Value::Integer(*p as i64));
            m.insert("k", Value::Bytes(k.to_vec().into()));
            m.insert("v", Value::Link(*v));
            m.insert("t", t.map_or(Value::Null, Value::Link));
            Value::Map(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("e", Value::Array(e));
    m.insert("l", left.map_or(Value::Null, Value::Link));
    Value::Map(m).to_cbor()
}

fn walk_one(bytes: &[u8], extra: &[&[u8]]) -> Result<Vec<String>, MstError> {
    let mut blocks: HashMap<Cid, &[u8]> =
        extra.iter().map(|b| (Cid::for_dag_cbor(b), *b)).collect();
    let root = Cid::for_dag_cbor(bytes);
    blocks.insert(root, bytes);
    let mut keys = Vec::new();
    mst::walk(
        root,
        |c| blocks.get(c).copied(),
        |k, _| {
            keys.push(k.to_owned());
            Ok(())
        },
    )?;
    Ok(keys)
}

/// A key of the given depth in collection `col`.
fn key_at(col: &str, depth: u32, skip: usize) -> String {
    (0..)
        .map(|i| format!("{col}/{i:06}"))
        .filter(|k| mst::key_depth(k.as_bytes()) == depth)
        .nth(skip)
        .unwrap()
}

#[test]
fn mst_refusals() {
    let v = Cid::for_dag_cbor(b"record");
    let a = key_at("app.x", 0, 0);
    let b = key_at("app.x", 0, 1);
    let deep = key_at("app.x", 1, 0);
    // In order at depth 0: fine, with prefix compression.
    let ok = node(
        None,
        &[(0, a.as_bytes(), v, None), (6, &b.as_bytes()[6..], v, None)],
    );
    assert_eq!(walk_one(&ok, &[]).unwrap(), [a.clone(), b.clone()]);
    // Out of order.
    let swapped = node(
        None,
        &[(0, b.as_bytes(), v, None), (0, a.as_bytes(), v, None)],
    );
    assert!(matches!(
        walk_one(&swapped, &[]),
        Err(MstError::KeyOrder { .. })
    ));
    // Duplicate.
    let dup = node(
        None,
        &[(0, a.as_bytes(), v, None), (0, a.as_bytes(), v, None)],
    );
    assert!(matches!(
        walk_one(&dup, &[]),
        Err(MstError::KeyOrder { .. })
    ));
    // Mixed depths in one node.
    let mixed = node(
        None,
        &[(0, a.as_bytes(), v, None), (0, deep.as_bytes(), v, None)],
    );
    assert!(matches!(
        walk_one(&mixed, &[]),
        Err(MstError::KeyDepth { .. })
    ));
    // A depth-0 subtree under a depth-0 node.
    let child = node(None, &[(0, a.as_bytes(), v, None)]);
    let parent = node(
        Some(Cid::for_dag_cbor(&child)),
        &[(0, b.as_bytes(), v, None)],
    );
    assert!(matches!(
        walk_one(&parent, &[&child]),
        Err(MstError::TooDeep(_))
    ));
    // A depth-1 node whose left subtree holds a depth-0 key that sorts after it.
    let (lo, hi) = if a < deep {
        (a.clone(), deep.clone())
    } else {
        (deep.clone(), a.clone())
    };
    let sub = node(None, &[(0, a.as_bytes(), v, None)]);
    let sub_cid = Cid::for_dag_cbor(&sub);
    let good = if lo == a {
        node(Some(sub_cid), &[(0, hi.as_bytes(), v, None)])
    } else {
        node(None, &[(0, lo.as_bytes(), v, Some(sub_cid))])
    };
    assert_eq!(walk_one(&good, &[&sub]).unwrap(), [lo.clone(), hi.clone()]);
    let bad_side = if lo == a {
        node(None, &[(0, hi.as_bytes(), v, Some(sub_cid))])
    } else {
        node(Some(sub_cid), &[(0, lo.as_bytes(), v, None)])
    };
    assert!(matches!(
        walk_one(&bad_side, &[&sub]),
        Err(MstError::KeyOrder { .. })
    ));
    // Bad keys, impossible prefixes, a missing child, an empty child.
    let nokey = key_at("x", 0, 0).replace('/', "_");
    let bad_key = node(None, &[(0, nokey.as_bytes(), v, None)]);
    assert!(matches!(
        walk_one(&bad_key, &[]),
        Err(MstError::BadKey { .. } | MstError::KeyDepth { .. })
    ));
    let bad_p = node(None, &[(3, a.as_bytes(), v, None)]);
    assert!(matches!(walk_one(&bad_p, &[]), Err(MstError::Shape { .. })));
    let missing = node(
        None,
        &[(0, deep.as_bytes(), v, Some(Cid::for_dag_cbor(b"gone")))],
    );
    assert!(matches!(
        walk_one(&missing, &[]),
        Err(MstError::MissingBlock(_))
    ));
    let empty = node(None, &[]);
    let with_empty = node(
        None,
        &[(0, deep.as_bytes(), v, Some(Cid::for_dag_cbor(&empty)))],
    );
    assert!(matches!(
        walk_one(&with_empty, &[&empty]),
        Err(MstError::EmptyNode(_))
    ));
    assert!(matches!(
        walk_one(b"\xa0", &[]),
        Err(MstError::Shape { .. })
    ));
}

#[test]
fn built_trees_walk_back_to_their_keys() {
    for n in [1usize, 2, 10, 100, 1000] {
        let mut keys: Vec<String> = (0..n)
            .map(|i| format!("com.example.c{}/{i:08}", i % 3))
            .collect();
        keys.sort();
        let v = Cid::for_dag_cbor(b"r");
        let refs: Vec<(&str, Cid)> = keys.iter().map(|k| (k.as_str(), v)).collect();
        let mut blocks = HashMap::new();
        let root = mst::build(&refs, |c, b| {
            blocks.insert(c, b);
        });
        let mut seen = Vec::new();
        mst::walk(
            root,
            |c| blocks.get(c).map(Vec::as_slice),
            |k, _| {
                seen.push(k.to_owned());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, keys, "{n}");
        // The root does not depend on insertion history: same keys, same root.
        let again = mst::build(&refs, |_, _| {});
        assert_eq!(again, root);
    }
}

#[test]
fn repo_state_turns_gaps_into_resync() {
    let d1 = Cid::for_dag_cbor(b"1");
    let d2 = Cid::for_dag_cbor(b"2");
    let mut s = RepoState {
        rev: "3kaaaaaaaaaa2".into(),
        data: d1,
    };
    assert_eq!(
        s.check("3kaaaaaaaaab2", Some("3kaaaaaaaaaa2"), Some(d1)),
        Verdict::Apply
    );
    assert_eq!(s.check("3kaaaaaaaaaa2", None, Some(d1)), Verdict::Stale);
    assert_eq!(s.check("3jzzzzzzzzzz2", None, Some(d1)), Verdict::Stale);
    assert!(matches!(
        s.check("3kaaaaaaaaab2", None, Some(d2)),
        Verdict::Resync(_)
    ));
    assert!(matches!(
        s.check("3kaaaaaaaaab2", None, None),
        Verdict::Resync(_)
    ));
    assert!(matches!(
        s.check("3kaaaaaaaaab2", Some("3kaaaaaaaaa92"), Some(d1)),
        Verdict::Resync(_)
    ));
    s.advance("3kaaaaaaaaab2", d2);
    assert_eq!(s.check("3kaaaaaaaaac2", None, Some(d2)), Verdict::Apply);
}

#[test]
fn commit_shape_errors() {
    let good = build_repo(1);
    let car = Car::from_bytes(&good.car).unwrap();
    let block = car.get(&good.commit).unwrap();
    assert!(Commit::from_block(good.commit, block).is_ok());
    assert!(matches!(
        Commit::from_block(Cid::for_dag_cbor(b"other"), block),
        Err(CommitError::CidMismatch { .. })
    ));
    let no_sig = Value::from_json(&serde_json::json!({"did": "did:plc:x", "version": 3, "rev": "r", "data": {"$link": good.data.to_string()}})).unwrap().to_cbor();
    assert!(matches!(
        Commit::from_block(Cid::for_dag_cbor(&no_sig), &no_sig),
        Err(CommitError::Shape(_))
    ));
    // A CAR whose root is not there.
    let car_bytes = car::write_car(&[Cid::for_dag_cbor(b"nothing")], []);
    assert!(matches!(
        Repo::from_car(&car_bytes),
        Err(RepoError::MissingCommit(_))
    ));
    let car_bytes = car::write_car(&[], []);
    assert!(matches!(Repo::from_car(&car_bytes), Err(RepoError::NoRoot)));
}
