//! A generated corpus of realistic `#commit` frames: one created post, the
//! signed commit block and MST nodes in a CAR slice, about the size and
//! block count of live firehose frames (a few KB, ~10 blocks).

use atproto_stream::encode_frame;
use atproto_sync::car::write_car;
use atproto_sync::{Cid, Map, Value};

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

/// A deterministic pseudo-random stream (xorshift), so the corpus is the
/// same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn text(&mut self, len: usize) -> String {
        const WORDS: [&str; 12] = [
            "the", "firehose", "posts", "today", "atproto", "rust", "relay", "hello",
            "world", "commit", "bluesky", "stream",
        ];
        let mut out = String::new();
        while out.len() < len {
            out.push_str(WORDS[(self.next() % WORDS.len() as u64) as usize]);
            out.push(' ');
        }
        out
    }
    fn tid(&mut self) -> String {
        // The first character keeps the top bit clear, as TIDs require.
        const A: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
        (0..13)
            .map(|i| A[(self.next() % if i == 0 { 16 } else { 32 }) as usize] as char)
            .collect()
    }
}

/// `n` `#commit` frames.
pub fn corpus(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n as i64).map(|seq| frame(&mut rng, seq)).collect()
}

fn frame(rng: &mut Rng, seq: i64) -> Vec<u8> {
    let did = format!("did:plc:{}", &rng.tid()[..13]);
    let rkey = rng.tid();
    let text_len = 40 + (rng.next() % 260) as usize;
    let record = map(vec![
        ("$type", s("app.bsky.feed.post")),
        ("text", s(&rng.text(text_len))),
        ("langs", Value::Array(vec![s("en")])),
        ("createdAt", s("2025-04-01T12:00:00.000Z")),
    ])
    .to_cbor();
    let record_cid = Cid::for_dag_cbor(&record);
    // MST nodes along the path to the record: a few entries each.
    let mut blocks = vec![record.clone()];
    let mut child: Option<Cid> = None;
    for _ in 0..8 {
        let entries = (0..4)
            .map(|i| {
                let key = format!("app.bsky.feed.post/{}", rng.tid());
                map(vec![
                    ("k", Value::Bytes(key.into_bytes()[(i * 4).min(18)..].to_vec().into())),
                    ("p", Value::Integer(if i == 0 { 0 } else { 18 })),
                    ("t", child.map_or(Value::Null, Value::Link)),
                    ("v", Value::Link(record_cid)),
                ])
            })
            .collect();
        let node = map(vec![("e", Value::Array(entries)), ("l", Value::Null)]).to_cbor();
        child = Some(Cid::for_dag_cbor(&node));
        blocks.push(node);
    }
    let root = child.unwrap_or(record_cid);
    let rev = rng.tid();
    let commit = map(vec![
        ("did", s(&did)),
        ("rev", s(&rev)),
        ("sig", Value::Bytes(vec![7u8; 64].into())),
        ("data", Value::Link(root)),
        ("prev", Value::Null),
        ("version", Value::Integer(3)),
    ])
    .to_cbor();
    let commit_cid = Cid::for_dag_cbor(&commit);
    blocks.insert(0, commit);
    let car = write_car(&[commit_cid], blocks.iter().map(Vec::as_slice));
    let op = map(vec![
        ("action", s("create")),
        ("path", s(&format!("app.bsky.feed.post/{rkey}"))),
        ("cid", Value::Link(record_cid)),
    ]);
    let body = map(vec![
        ("seq", Value::Integer(seq)),
        ("rebase", Value::Bool(false)),
        ("tooBig", Value::Bool(false)),
        ("repo", s(&did)),
        ("commit", Value::Link(commit_cid)),
        ("rev", s(&rev)),
        ("since", Value::Null),
        ("blocks", Value::Bytes(car.into())),
        ("ops", Value::Array(vec![op])),
        ("blobs", Value::Array(vec![])),
        ("prevData", Value::Link(root)),
        ("time", s("2025-04-01T12:00:00.123Z")),
    ])
    .to_cbor();
    encode_frame(1, Some("#commit"), &body)
}
