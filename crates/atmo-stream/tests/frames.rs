//! Frame decoding rules, with frames built by hand.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_api::com::atproto::label::subscribe_labels;
use atmo_api::com::atproto::sync::subscribe_repos::{self as repos, Message};
use atmo_stream::frame::{decode_header, full_type, Part};
use atmo_stream::{
    decode_frame, encode_error_frame, encode_frame, Frame, FrameError, RepoEvent, SubscribeLabels,
    SubscribeRepos, DEFAULT_MAX_FRAME_SIZE,
};
use atmo_sync::{car::write_car, Cid, Map, Value};

const MAX: usize = DEFAULT_MAX_FRAME_SIZE;

fn s(v: &str) -> Value<'static> {
    Value::String(v.to_owned().into())
}

fn map(entries: Vec<(&'static str, Value<'static>)>) -> Value<'static> {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert(k, v);
    }
    Value::Map(m)
}

fn identity_body(seq: i64) -> Vec<u8> {
    map(vec![
        ("seq", Value::Integer(seq)),
        ("did", s("did:plc:abc")),
        ("time", s("2024-01-01T00:00:00.000Z")),
        ("handle", s("alice.test")),
    ])
    .to_cbor()
}

/// A `#commit` body creating one record, with a (fake, unsigned) commit
/// block and the record in its CAR slice.
fn commit_body(seq: i64, extra: Option<(&'static str, Value<'static>)>) -> (Vec<u8>, Cid) {
    let record = map(vec![
        ("$type", s("app.bsky.feed.post")),
        ("text", s("hello")),
        ("createdAt", s("2024-01-01T00:00:00.000Z")),
    ])
    .to_cbor();
    let record_cid = Cid::for_dag_cbor(&record);
    let commit = map(vec![("did", s("did:plc:abc")), ("rev", s("3kabcdefghij2"))]).to_cbor();
    let commit_cid = Cid::for_dag_cbor(&commit);
    let car = write_car(&[commit_cid], [commit.as_slice(), record.as_slice()]);
    let op = map(vec![
        ("action", s("create")),
        ("path", s("app.bsky.feed.post/3kabcdefghij2")),
        ("cid", Value::Link(record_cid)),
    ]);
    let mut entries = vec![
        ("seq", Value::Integer(seq)),
        ("rebase", Value::Bool(false)),
        ("tooBig", Value::Bool(false)),
        ("repo", s("did:plc:abc")),
        ("commit", Value::Link(commit_cid)),
        ("rev", s("3kabcdefghij2")),
        ("since", Value::Null),
        ("blocks", Value::Bytes(car.into())),
        ("ops", Value::Array(vec![op])),
        ("blobs", Value::Array(vec![])),
        ("time", s("2024-01-01T00:00:00.000Z")),
    ];
    if let Some(e) = extra {
        entries.push(e);
    }
    (map(entries).to_cbor(), record_cid)
}

#[test]
fn identity_message_decodes() {
    let frame = encode_frame(1, Some("#identity"), &identity_body(7));
    let Frame::Message(Message::Identity(i)) = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap()
    else {
        panic!("not an identity message")
    };
    assert_eq!(i.seq, 7);
    assert_eq!(i.did.as_str(), "did:plc:abc");
    assert_eq!(i.handle.as_ref().map(|h| h.as_str()), Some("alice.test"));
}

#[test]
fn commit_opens_with_record() {
    let (body, record_cid) = commit_body(42, None);
    let frame = encode_frame(1, Some("#commit"), &body);
    let Frame::Message(msg) = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap() else {
        panic!("not a message")
    };
    let RepoEvent::Commit(c) = RepoEvent::from_message(msg).unwrap() else {
        panic!("not a commit")
    };
    assert_eq!(c.commit.seq, 42);
    assert_eq!(c.ops.len(), 1);
    let op = &c.ops[0];
    assert_eq!(op.action.as_str(), "create");
    assert_eq!(op.collection, "app.bsky.feed.post");
    assert_eq!(op.rkey, "3kabcdefghij2");
    assert_eq!(op.cid, Some(record_cid));
    assert_eq!(op.record_json().unwrap().unwrap()["text"], "hello");
    let post: atmo_api::app::bsky::feed::post::Post = op.decode().unwrap().unwrap();
    assert_eq!(post.text, "hello");
}

#[test]
fn a_link_that_is_no_atproto_cid_names_its_field() {
    let (body, _) = commit_body(42, None);
    let frame = encode_frame(1, Some("#commit"), &body);
    let Frame::Message(Message::Commit(mut commit)) =
        decode_frame::<SubscribeRepos>(&frame, MAX).unwrap()
    else {
        panic!("not a commit")
    };
    // Valid `cid` syntax, but base58 text: not a CID atmo-sync reads.
    let base58 = atmo_types::Cid::new("zdj7WhuEjrB52m1BisYCtmjH1hSKa7yZ3jEZ9JcXaFRD51wVz").unwrap();
    commit.ops[0].cid = Some(atmo_types::CidLink::new(base58.clone()));
    let e = RepoEvent::from_message(Message::Commit(commit.clone())).unwrap_err();
    assert!(e.to_string().contains("ops[0].cid: CID \"zdj7"), "{e}");
    commit.ops[0].cid = None;
    commit.prev_data = Some(atmo_types::CidLink::new(base58));
    let e = RepoEvent::from_message(Message::Commit(commit)).unwrap_err();
    assert!(e.to_string().contains("prevData: CID"), "{e}");
}

#[test]
fn unknown_fields_are_kept() {
    let (body, _) = commit_body(1, Some(("zzNewField", s("x"))));
    let frame = encode_frame(1, Some("#commit"), &body);
    let Frame::Message(Message::Commit(c)) = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap()
    else {
        panic!("not a commit")
    };
    assert_eq!(
        c.extra.get("zzNewField").and_then(|v| v.as_str()),
        Some("x")
    );
}

#[test]
fn unknown_t_is_unknown_not_error() {
    let frame = encode_frame(1, Some("#brandNew"), &identity_body(9));
    let Frame::Message(Message::Unknown(u)) = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap()
    else {
        panic!("an unknown t must decode as Unknown")
    };
    assert_eq!(u.type_name, "com.atproto.sync.subscribeRepos#brandNew");
    use atmo_stream::Subscription;
    assert_eq!(SubscribeRepos::seq(&Message::Unknown(u)), Some(9));
}

#[test]
fn unknown_op_is_ignored() {
    let frame = encode_frame(2, Some("#whatever"), &[0xff, 0xff]);
    assert_eq!(
        decode_frame::<SubscribeRepos>(&frame, MAX).unwrap(),
        Frame::UnknownOp(2)
    );
}

#[test]
fn error_frames_are_typed() {
    let frame = encode_error_frame("FutureCursor", Some("cursor is in the future"));
    let Frame::Error(e) = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap() else {
        panic!("not an error frame")
    };
    assert_eq!(e.error, "FutureCursor");
    assert_eq!(e.message.as_deref(), Some("cursor is in the future"));
    assert!(matches!(
        e.typed::<SubscribeRepos>(),
        Some(repos::Error::FutureCursor(Some(m))) if m == "cursor is in the future"
    ));

    let frame = encode_error_frame("ConsumerTooSlow", None);
    let Frame::Error(e) = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap() else {
        panic!("not an error frame")
    };
    assert!(matches!(
        e.typed::<SubscribeRepos>(),
        Some(repos::Error::ConsumerTooSlow(None))
    ));
    // subscribeLabels declares only FutureCursor.
    assert!(e.typed::<SubscribeLabels>().is_none());

    // An error name nobody declares is still an error frame.
    let frame = encode_error_frame("SomethingNew", None);
    let Frame::Error(e) = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap() else {
        panic!("not an error frame")
    };
    assert!(e.typed::<SubscribeRepos>().is_none());
    assert_eq!(e.to_string(), "SomethingNew");
}

#[test]
fn error_frame_without_error_name_is_a_shape_error() {
    let body = map(vec![("message", s("no name"))]).to_cbor();
    let frame = encode_frame(-1, None, &body);
    let err = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Shape {
                part: Part::Body,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn oversize_frames_are_refused_before_decoding() {
    let frame = encode_frame(1, Some("#identity"), &identity_body(1));
    let err = decode_frame::<SubscribeRepos>(&frame, frame.len() - 1).unwrap_err();
    assert_eq!(
        err,
        FrameError::TooLarge {
            size: frame.len(),
            max: frame.len() - 1
        }
    );
    assert!(decode_frame::<SubscribeRepos>(&frame, frame.len()).is_ok());
}

#[test]
fn garbage_is_a_header_error() {
    for bytes in [&[][..], &[0xff][..], &[0x1f, 0x00][..], b"hello world"] {
        let err = decode_frame::<SubscribeRepos>(bytes, MAX).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Decode {
                    part: Part::Header,
                    ..
                } | FrameError::Shape {
                    part: Part::Header,
                    ..
                }
            ),
            "{bytes:?}: {err:?}"
        );
    }
    // A header that is not a map, or lacks op.
    let err = decode_frame::<SubscribeRepos>(&Value::Integer(1).to_cbor(), MAX).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Decode {
                part: Part::Header,
                ..
            }
        ),
        "{err:?}"
    );
    let err =
        decode_frame::<SubscribeRepos>(&map(vec![("t", s("#commit"))]).to_cbor(), MAX).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Shape {
                part: Part::Header,
                ..
            }
        ),
        "{err:?}"
    );
    // A message header without t.
    let frame = encode_frame(1, None, &identity_body(1));
    let err = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Shape {
                part: Part::Header,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn truncated_body_is_a_body_error_with_offset() {
    let frame = encode_frame(1, Some("#identity"), &identity_body(5));
    let header_len = encode_frame(1, Some("#identity"), &[]).len();
    for cut in [header_len, header_len + 1, frame.len() - 1] {
        let err = decode_frame::<SubscribeRepos>(&frame[..cut], MAX).unwrap_err();
        let FrameError::Decode {
            part: Part::Body,
            t,
            source,
            ..
        } = &err
        else {
            panic!("cut at {cut}: {err:?}")
        };
        assert_eq!(t.as_deref(), Some("#identity"));
        assert!(source.offset >= header_len, "{err}");
        assert!(err.to_string().contains("body"), "{err}");
    }
}

#[test]
fn trailing_bytes_after_body_are_an_error() {
    let mut frame = encode_frame(1, Some("#identity"), &identity_body(5));
    frame.push(0x00);
    let err = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Decode {
                part: Part::Body,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn body_of_wrong_shape_reports_its_seq() {
    // A #commit missing its required fields: the seq is still found, so a
    // consumer can skip past it.
    let body = map(vec![
        ("seq", Value::Integer(77)),
        ("repo", s("did:plc:abc")),
    ])
    .to_cbor();
    let frame = encode_frame(1, Some("#commit"), &body);
    let err = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap_err();
    assert_eq!(err.seq(), Some(77), "{err:?}");
    assert!(err.to_string().contains("seq 77"), "{err}");
}

#[test]
fn non_canonical_cbor_is_refused() {
    // Header map with keys out of canonical (length-first) order:
    // {"op": 1, "t": ..}.
    let mut frame = vec![0xa2, 0x62, b'o', b'p', 0x01, 0x61, b't', 0x69];
    frame.extend_from_slice(b"#identity");
    frame.extend_from_slice(&identity_body(1));
    let err = decode_frame::<SubscribeRepos>(&frame, MAX).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Decode {
                part: Part::Header,
                ..
            }
        ),
        "{err:?}"
    );
    // The same header in canonical order decodes.
    let mut ok = vec![0xa2, 0x61, b't', 0x69];
    ok.extend_from_slice(b"#identity");
    ok.extend_from_slice(&[0x62, b'o', b'p', 0x01]);
    ok.extend_from_slice(&identity_body(1));
    assert!(decode_frame::<SubscribeRepos>(&ok, MAX).is_ok());
}

#[test]
fn header_only_decoding() {
    let frame = encode_frame(1, Some("#labels"), &[]);
    let h = decode_header(&frame, MAX).unwrap();
    assert_eq!(h.op, 1);
    assert_eq!(h.t.as_deref(), Some("#labels"));
    assert_eq!(
        full_type("com.atproto.label.subscribeLabels", "#labels"),
        "com.atproto.label.subscribeLabels#labels"
    );
    assert_eq!(full_type("x.y.z", "a.b.c#d"), "a.b.c#d");
    // Longer than the stack buffer frames use: built on the heap, the same.
    let long = format!("com.example.{}", "a".repeat(200));
    assert_eq!(full_type(&long, "#commit"), format!("{long}#commit"));
}

#[test]
fn labels_decode() {
    let label = map(vec![
        ("ver", Value::Integer(1)),
        ("src", s("did:plc:labeler")),
        (
            "uri",
            s("at://did:plc:abc/app.bsky.feed.post/3kabcdefghij2"),
        ),
        ("val", s("spam")),
        ("cts", s("2024-01-01T00:00:00.000Z")),
    ]);
    let body = map(vec![
        ("seq", Value::Integer(3)),
        ("labels", Value::Array(vec![label])),
    ])
    .to_cbor();
    let frame = encode_frame(1, Some("#labels"), &body);
    let Frame::Message(subscribe_labels::Message::Labels(l)) =
        decode_frame::<SubscribeLabels>(&frame, MAX).unwrap()
    else {
        panic!("not labels")
    };
    assert_eq!(l.seq, 3);
    assert_eq!(l.labels[0].val, "spam");
}
