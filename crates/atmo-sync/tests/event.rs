//! Event-stream frames and the full check of `#commit` events built here
//! the way a PDS builds them: a signed commit, the records written and the
//! tree nodes an undo needs, with the generated subscribeRepos types.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "verify")]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use atmo_api::com::atproto::sync::subscribe_repos::{self, RepoOp, RepoOpAction};
use atmo_sync::event::{
    check_commit_event, check_signed_commit_event, decode_body, read_frame, read_frame_with,
    read_header, CommitEvent, EventError, Frame, FrameError, Part, MAX_FRAME,
};
use atmo_sync::tree::{invert_ops, Op, TreeError};
use atmo_sync::{car, mst, to_vec, Cid, Map, RepoState, Rule, Value, Verdict};
use atmo_types::object::Open;
use atmo_types::{Bytes, CidLink, Datetime, Did, Extra, Tid};

fn header(op: i64, t: Option<&str>) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("op", Value::Integer(op));
    if let Some(t) = t {
        m.insert("t", Value::String(t.to_owned().into()));
    }
    Value::Map(m).to_cbor()
}

#[test]
fn frames_split_and_decode() {
    let mut frame = header(1, Some("#identity"));
    let body = Value::from_json(&serde_json::json!({
        "seq": 7, "did": "did:plc:abc", "time": "2024-01-01T00:00:00Z", "handle": "a.test"
    }))
    .unwrap()
    .to_cbor();
    frame.extend(&body);
    let Frame::Message { t, body: b } = read_frame(&frame).unwrap() else {
        panic!("a message");
    };
    assert_eq!(t, "#identity");
    let id: subscribe_repos::Identity = decode_body(b).unwrap();
    assert_eq!((id.seq, id.did.as_str()), (7, "did:plc:abc"));

    let mut err = header(-1, None);
    err.extend(
        Value::from_json(&serde_json::json!({"error": "FutureCursor", "message": "too far"}))
            .unwrap()
            .to_cbor(),
    );
    assert_eq!(
        read_frame(&err).unwrap(),
        Frame::Error {
            error: "FutureCursor".into(),
            message: Some("too far".into())
        }
    );
    let mut unknown = header(2, Some("#x"));
    unknown.push(0xa0);
    assert_eq!(read_frame(&unknown).unwrap(), Frame::Unknown { op: 2 });

    // The body of an unknown op is not read.
    let mut unknown_garbage = header(2, None);
    unknown_garbage.extend([0xff, 0xff]);
    assert_eq!(
        read_frame(&unknown_garbage).unwrap(),
        Frame::Unknown { op: 2 }
    );

    // A message without `t`, a body with trailing bytes, a bad header.
    let mut no_t = header(1, None);
    no_t.push(0xa0);
    assert!(matches!(
        read_frame(&no_t),
        Err(FrameError::Shape {
            part: Part::Header,
            ..
        })
    ));
    let mut trailing = header(1, Some("#info"));
    let at = trailing.len();
    trailing.extend([0xa0, 0x00]);
    match read_frame(&trailing) {
        Err(FrameError::Decode {
            part: Part::Body,
            t,
            source: e,
            ..
        }) => {
            assert_eq!((e.offset, e.rule), (at + 1, Rule::TrailingBytes));
            assert_eq!(t.as_deref(), Some("#info"));
        }
        other => panic!("{other:?}"),
    }
    // A header that is not a map, an empty frame.
    match read_frame(&[0x01]) {
        Err(FrameError::Decode {
            part: Part::Header,
            source,
            ..
        }) => assert_eq!(source.offset, 0),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        read_frame(&[]),
        Err(FrameError::Decode {
            part: Part::Header,
            ..
        })
    ));
    // The cap: the default, and one of the caller's.
    assert!(matches!(
        read_frame(&vec![0u8; MAX_FRAME + 1]),
        Err(FrameError::TooLarge { size, max: MAX_FRAME }) if size == MAX_FRAME + 1
    ));
    assert_eq!(
        read_frame_with(&frame, frame.len() - 1),
        Err(FrameError::TooLarge {
            size: frame.len(),
            max: frame.len() - 1
        })
    );
    assert!(read_frame_with(&frame, frame.len()).is_ok());
}

#[test]
fn frame_headers_and_error_bodies() {
    // The header lends `t` and says where the body starts; other header
    // fields are ignored, `t: null` is no `t`.
    let mut m = Map::new();
    m.insert("op", Value::Integer(1));
    m.insert("t", Value::String("#info".into()));
    m.insert("zz", Value::Array(vec![Value::Bool(true)]));
    let mut frame = Value::Map(m).to_cbor();
    let body_at = frame.len();
    frame.push(0xa0);
    let h = read_header(&frame, MAX_FRAME).unwrap();
    assert_eq!((h.op, h.t, h.body_at), (1, Some("#info"), body_at));
    assert_eq!(h.body(&frame), &[0xa0]);
    let mut m = Map::new();
    m.insert("op", Value::Integer(-1));
    m.insert("t", Value::Null);
    let error_header = Value::Map(m).to_cbor();
    let h = read_header(&error_header, MAX_FRAME).unwrap();
    assert_eq!((h.op, h.t), (-1, None));

    // `op` must be an integer, `t` a string.
    let mut m = Map::new();
    m.insert("op", Value::String("1".into()));
    let err = read_header(&Value::Map(m).to_cbor(), MAX_FRAME).unwrap_err();
    assert!(
        matches!(err, FrameError::Shape { part: Part::Header, ref why } if why.contains("op")),
        "{err:?}"
    );
    let mut m = Map::new();
    m.insert("op", Value::Integer(1));
    m.insert("t", Value::Integer(3));
    let err = read_header(&Value::Map(m).to_cbor(), MAX_FRAME).unwrap_err();
    assert!(
        matches!(err, FrameError::Shape { part: Part::Header, ref why } if why.contains("\"t\"")),
        "{err:?}"
    );

    // Error bodies: `message` is optional and must be a string; `error`
    // is required; the body must be one map; errors name the body.
    let error_frame = |body: serde_json::Value| {
        let mut f = header(-1, None);
        f.extend(Value::from_json(&body).unwrap().to_cbor());
        f
    };
    assert_eq!(
        read_frame(&error_frame(
            serde_json::json!({"error": "ConsumerTooSlow", "x": [1]})
        ))
        .unwrap(),
        Frame::Error {
            error: "ConsumerTooSlow".into(),
            message: None
        }
    );
    for bad in [
        serde_json::json!({"message": "no name"}),
        serde_json::json!({"error": 5}),
        serde_json::json!({"error": "X", "message": 5}),
    ] {
        let err = read_frame(&error_frame(bad.clone())).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Shape {
                    part: Part::Body,
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
    }
    let mut not_a_map = header(-1, None);
    let at = not_a_map.len();
    not_a_map.push(0x01);
    match read_frame(&not_a_map) {
        Err(FrameError::Decode {
            part: Part::Body,
            source,
            ..
        }) => assert_eq!(source.offset, at),
        other => panic!("{other:?}"),
    }

    // A message body that is not valid DAG-CBOR: the offset counts from
    // the frame's start, and the `seq` is found when the map is readable.
    let mut bad_body = header(1, Some("#identity"));
    let at = bad_body.len();
    let mut m = Map::new();
    m.insert("seq", Value::Integer(12));
    bad_body.extend(Value::Map(m).to_cbor());
    bad_body.push(0x1f);
    let err = read_frame(&bad_body).unwrap_err();
    assert_eq!(err.seq(), Some(12), "{err:?}");
    assert!(err.to_string().contains("(#identity, seq 12)"), "{err}");
    let mut truncated = header(1, Some("#identity"));
    truncated.extend([0xa1, 0x63]);
    match read_frame(&truncated) {
        Err(FrameError::Decode {
            part: Part::Body,
            seq: None,
            source,
            ..
        }) => assert!(source.offset >= at, "{source}"),
        other => panic!("{other:?}"),
    }
}

fn signing_key() -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&[0x33; 32]).unwrap()
}

fn public_key(sk: &k256::ecdsa::SigningKey) -> atmo_crypto::PublicKey {
    atmo_crypto::PublicKey::from_sec1(
        atmo_crypto::Curve::K256,
        sk.verifying_key().to_sec1_point(true).as_bytes(),
    )
    .unwrap()
}

fn record(n: u64, version: u64) -> Vec<u8> {
    Value::from_json(&serde_json::json!({"$type": "app.bsky.feed.like", "n": n, "v": version}))
        .unwrap()
        .to_cbor()
}

fn key(n: u64) -> String {
    format!("app.bsky.feed.like/{n:010}")
}

struct Event {
    frame: Vec<u8>,
    before: Cid,
    commit_cid: Cid,
}

/// A commit that creates, updates and deletes records of a 300-record
/// repository, sent as a subscribeRepos frame carrying only the blocks a
/// consumer needs. `drop_block` leaves one needed tree node out.
fn commit_event(drop_block: bool) -> Event {
    let mut set: BTreeMap<String, Cid> = (0..300)
        .map(|n| (key(n), Cid::for_dag_cbor(&record(n, 0))))
        .collect();
    let tree = |set: &BTreeMap<String, Cid>, blocks: &mut HashMap<Cid, Vec<u8>>| {
        let refs: Vec<(&str, Cid)> = set.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        mst::build(&refs, |c, b| {
            blocks.insert(c, b);
        })
    };
    let before = tree(&set, &mut HashMap::new());
    let mut new_records = Vec::new();
    let mut ops = Vec::new();
    let mut wire_ops = Vec::new();
    // Create 1000 and 1001, update 5, delete 17.
    for n in [1000u64, 1001] {
        let r = record(n, 0);
        let cid = Cid::for_dag_cbor(&r);
        set.insert(key(n), cid);
        new_records.push(r);
        ops.push(Op {
            path: key(n),
            cid: Some(cid),
            prev: None,
        });
    }
    let r = record(5, 1);
    let cid = Cid::for_dag_cbor(&r);
    let prev = set.insert(key(5), cid);
    new_records.push(r);
    ops.push(Op {
        path: key(5),
        cid: Some(cid),
        prev,
    });
    let prev = set.remove(&key(17));
    ops.push(Op {
        path: key(17),
        cid: None,
        prev,
    });
    for op in &ops {
        let action = match (op.cid, op.prev) {
            (Some(_), None) => RepoOpAction::Create,
            (Some(_), Some(_)) => RepoOpAction::Update,
            _ => RepoOpAction::Delete,
        };
        wire_ops.push(RepoOp {
            action: Open::Known(action),
            path: op.path.clone(),
            cid: op.cid.map(|c| CidLink::new(c.to_types_cid())),
            prev: op.prev.map(|c| CidLink::new(c.to_types_cid())),
            extra: Extra::new(),
        });
    }
    let mut all = HashMap::new();
    let data = tree(&set, &mut all);
    // The proof: the nodes an undo reads.
    let read = RefCell::new(HashSet::new());
    let lookup = |c: &Cid| {
        read.borrow_mut().insert(*c);
        all.get(c).map(Vec::as_slice)
    };
    assert_eq!(invert_ops(data, &lookup, &ops).unwrap(), before);
    let mut proof: Vec<Cid> = read.into_inner().into_iter().collect();
    proof.sort();
    if drop_block {
        let victim = proof.iter().position(|c| *c != data).unwrap();
        proof.remove(victim);
    }
    // The signed commit.
    let mut m = Map::new();
    m.insert("did", Value::String("did:plc:eventrepo".into()));
    m.insert("version", Value::Integer(3));
    m.insert("data", Value::Link(data));
    m.insert("rev", Value::String("3kbbbbbbbbbb2".into()));
    m.insert("prev", Value::Null);
    let unsigned = Value::Map(m.clone()).to_cbor();
    use k256::ecdsa::signature::Signer;
    let sig: k256::ecdsa::Signature = signing_key().sign(&unsigned);
    m.insert(
        "sig",
        Value::Bytes(sig.normalize_s().to_bytes().to_vec().into()),
    );
    let commit_bytes = Value::Map(m).to_cbor();
    let commit_cid = Cid::for_dag_cbor(&commit_bytes);
    let mut blocks: Vec<&[u8]> = vec![&commit_bytes];
    blocks.extend(new_records.iter().map(Vec::as_slice));
    blocks.extend(proof.iter().map(|c| all[c].as_slice()));
    let car = car::write_car(&[commit_cid], blocks);
    let body = subscribe_repos::Commit {
        seq: 42,
        rebase: false,
        too_big: false,
        repo: Did::new("did:plc:eventrepo").unwrap(),
        commit: CidLink::new(commit_cid.to_types_cid()),
        rev: Tid::new("3kbbbbbbbbbb2").unwrap(),
        since: Some(Tid::new("3kaaaaaaaaaa2").unwrap()),
        blocks: Bytes(car),
        ops: wire_ops,
        blobs: Vec::new(),
        prev_data: Some(CidLink::new(before.to_types_cid())),
        time: Datetime::new("2024-01-01T00:00:00.000Z").unwrap(),
        extra: Extra::new(),
    };
    let mut frame = header(1, Some("#commit"));
    frame.extend(to_vec(&body).unwrap());
    Event {
        frame,
        before,
        commit_cid,
    }
}

fn cid(link: &CidLink) -> Cid {
    link.cid().as_str().parse().unwrap()
}

/// The check's view of a decoded `#commit` body.
fn view(c: &subscribe_repos::Commit) -> CommitEvent<'_> {
    CommitEvent {
        repo: c.repo.as_str(),
        rev: c.rev.as_str(),
        since: c.since.as_ref().map(Tid::as_str),
        commit: cid(&c.commit),
        blocks: &c.blocks.0,
        ops: c
            .ops
            .iter()
            .map(|o| Op {
                path: o.path.clone(),
                cid: o.cid.as_ref().map(cid),
                prev: o.prev.as_ref().map(cid),
            })
            .collect(),
        prev_data: c.prev_data.as_ref().map(cid),
    }
}

fn decode(frame: &[u8]) -> subscribe_repos::Commit {
    let Frame::Message { t: "#commit", body } = read_frame(frame).unwrap() else {
        panic!("a #commit message");
    };
    decode_body(body).unwrap()
}

#[test]
fn a_commit_event_checks_out_end_to_end() {
    let ev = commit_event(false);
    let c = decode(&ev.frame);
    let state = RepoState {
        rev: "3kaaaaaaaaaa2".into(),
        data: ev.before,
    };
    let key = public_key(&signing_key());
    let checked = check_signed_commit_event(&view(&c), Some(&state), &key).unwrap();
    assert_eq!(checked.verdict, Verdict::Apply);
    assert_eq!(checked.commit.cid, ev.commit_cid);
    // Without a state there is nothing to be out of step with.
    assert_eq!(
        check_commit_event(&view(&c), None).unwrap().verdict,
        Verdict::Apply
    );
    // A state at this revision already: stale. A different root: resync.
    let same = RepoState {
        rev: "3kbbbbbbbbbb2".into(),
        data: checked.commit.data,
    };
    assert_eq!(
        check_commit_event(&view(&c), Some(&same)).unwrap().verdict,
        Verdict::Stale
    );
    let other = RepoState {
        rev: "3kaaaaaaaaaa2".into(),
        data: Cid::for_dag_cbor(b"elsewhere"),
    };
    assert!(matches!(
        check_commit_event(&view(&c), Some(&other)).unwrap().verdict,
        Verdict::Resync(_)
    ));
}

#[test]
fn bad_commit_events_are_refused() {
    let ev = commit_event(false);
    let c = decode(&ev.frame);
    let key = public_key(&signing_key());
    // Another key.
    let wrong = public_key(&k256::ecdsa::SigningKey::from_slice(&[0x44; 32]).unwrap());
    assert!(matches!(
        check_signed_commit_event(&view(&c), None, &wrong),
        Err(EventError::Commit(_))
    ));
    // A prevData that the ops do not lead back to.
    let mut v = view(&c);
    v.prev_data = Some(Cid::for_dag_cbor(b"not it"));
    assert!(matches!(
        check_commit_event(&v, None),
        Err(EventError::PrevData { .. })
    ));
    // An op that was not applied.
    let mut v = view(&c);
    v.ops[0].path = key_outside();
    assert!(matches!(
        check_commit_event(&v, None),
        Err(EventError::Proof(_))
    ));
    // An op left out.
    let mut v = view(&c);
    v.ops.pop();
    assert!(matches!(
        check_commit_event(&v, None),
        Err(EventError::PrevData { .. } | EventError::Proof(_))
    ));
    // Another repository or revision.
    let mut v = view(&c);
    v.repo = "did:plc:someoneelse";
    assert!(matches!(
        check_commit_event(&v, None),
        Err(EventError::Mismatch(_))
    ));
    let mut v = view(&c);
    v.commit = Cid::for_dag_cbor(b"x");
    assert!(matches!(
        check_commit_event(&v, None),
        Err(EventError::Root)
    ));
    // A corrupted block.
    let mut blocks = c.blocks.0.clone();
    let last = blocks.len() - 1;
    blocks[last] ^= 1;
    let mut v = view(&c);
    v.blocks = &blocks;
    assert!(matches!(
        check_commit_event(&v, None),
        Err(EventError::Car(_))
    ));
    // The good one still passes with the key.
    assert!(check_signed_commit_event(&view(&c), None, &key).is_ok());
}

fn key_outside() -> String {
    "app.bsky.feed.like/9999999999".into()
}

#[test]
fn an_incomplete_proof_is_refused() {
    let ev = commit_event(true);
    let c = decode(&ev.frame);
    match check_commit_event(&view(&c), None) {
        Err(EventError::Proof(TreeError::Mst(mst::MstError::MissingBlock(_)))) => {}
        other => panic!("{other:?}"),
    }
}
