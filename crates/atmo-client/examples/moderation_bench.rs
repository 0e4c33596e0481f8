//! Benchmark (not a test): moderation decisions per second for a 50-post
//! timeline seen by a viewer with 3 labelers and 20 muted words, and, when
//! Node and `@atproto/api` are at hand, the same timeline through
//! `moderatePost` in the same run.
//!
//! ```sh
//! cargo run --release -p atmo-client --example moderation_bench
//! # side by side with the TypeScript package:
//! ATPROTO_API_DIR=/path/to/node_modules/@atproto/api NODE=tests/pds/.node/bin/node \
//!   cargo run --release -p atmo-client --example moderation_bench
//! ```
//!
//! One decision is `moderate_post` on one post followed by its UI in the
//! feed (`contentList`) and for its media (`contentMedia`), what a timeline
//! renders. The fixture is written to a temporary file that the Node script
//! (`moderation_bench.mjs`, next to this file) reads, so both sides moderate
//! the same JSON.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use atmo_client::atmo_api::app::bsky::feed::defs::PostView;
use atmo_client::atmo_api::com::atproto::label::defs::LabelValueDefinition;
use atmo_client::moderation::{
    interpret_label_value_definition, moderate_post, LabelPreference, LabelerPrefs,
    ModerationContext, ModerationOpts, ModerationPrefs,
};
use serde_json::{json, Value};

const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
const ME: &str = "did:plc:viewer0000000000000000";
const LABELERS: [&str; 3] = [
    "did:plc:labeler1aaaaaaaaaaaaaaaa",
    "did:plc:labeler2bbbbbbbbbbbbbbbb",
    "did:plc:labeler3cccccccccccccccc",
];
const WORDS: [&str; 20] = [
    "spoiler",
    "crypto",
    "election",
    "giveaway",
    "nft",
    "bitcoin",
    "ratio",
    "discourse",
    "doomscroll",
    "airdrop",
    "hot take",
    "breaking",
    "leak",
    "drama",
    "shill",
    "pump",
    "#sponsored",
    "ad",
    "subscribe",
    "カワイイ",
];
const FILLER: [&str; 24] = [
    "the", "morning", "coffee", "was", "great", "and", "then", "we", "walked", "along", "river",
    "to", "see", "herons", "fishing", "in", "cold", "light", "before", "work", "started", "again",
    "today", "friends",
];

fn sentence(i: usize, n: usize) -> String {
    (0..n)
        .map(|k| FILLER[(i * 7 + k * 5) % FILLER.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn label(src: &str, uri: &str, val: &str) -> Value {
    json!({ "src": src, "uri": uri, "val": val, "cts": "2024-01-01T00:00:00.000Z" })
}

fn author(i: usize) -> Value {
    let did = format!("did:plc:author{i:020}");
    let mut viewer = json!({});
    if i.is_multiple_of(3) {
        viewer["following"] = json!(format!("at://{ME}/app.bsky.graph.follow/{i}"));
    }
    if i == 7 {
        viewer["muted"] = json!(true);
    }
    let labels = if i == 5 {
        vec![label(LABELERS[1], &did, "rude")]
    } else {
        vec![]
    };
    json!({ "did": did, "handle": format!("author{i}.test"), "viewer": viewer, "labels": labels })
}

fn record(i: usize, text: String) -> Value {
    let mut r = json!({
        "$type": "app.bsky.feed.post", "text": text,
        "langs": [if i.is_multiple_of(11) { "ja" } else { "en" }],
        "createdAt": "2024-01-01T00:00:00.000Z",
    });
    if i.is_multiple_of(3) {
        r["facets"] = json!([{ "index": { "byteStart": 0, "byteEnd": 4 },
            "features": [{ "$type": "app.bsky.richtext.facet#tag", "tag": format!("topic{}", i % 5) }] }]);
        r["tags"] = json!(["outline"]);
    }
    if i.is_multiple_of(4) {
        r["embed"] = json!({ "$type": "app.bsky.embed.images", "images": [
            { "alt": sentence(i + 1, 8),
              "image": { "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/jpeg", "size": 1000 } }
        ] });
    }
    r
}

/// 50 posts by 10 authors: labels from the three labelers on some posts,
/// quote posts with labels of their own, image alt texts, tags, two posts
/// containing a muted word.
fn timeline() -> Vec<Value> {
    (0..50)
        .map(|i| {
            let a = author(i % 10);
            let uri = format!("at://{}/app.bsky.feed.post/{i}", a["did"].as_str().unwrap_or_default());
            let mut text = sentence(i, 24);
            if i == 13 {
                text.push_str(" huge spoiler ahead");
            }
            let mut labels = Vec::new();
            match i % 10 {
                2 => labels.push(label(LABELERS[0], &uri, "sexual")),
                4 => labels.push(label(LABELERS[1], &uri, "spoiler")),
                6 => labels.push(label(LABELERS[2], &uri, "politics")),
                8 => labels.push(label(LABELERS[0], &uri, "nudity")),
                _ => {}
            }
            let mut post = json!({
                "uri": uri, "cid": CID, "author": a, "record": record(i, text),
                "labels": labels, "indexedAt": "2024-01-01T00:00:00.000Z",
            });
            if i.is_multiple_of(7) {
                let q = author((i + 3) % 10);
                let quri = format!("at://{}/app.bsky.feed.post/q{i}", q["did"].as_str().unwrap_or_default());
                let mut qtext = sentence(i + 2, 16);
                if i == 35 {
                    qtext.push_str(" free nft giveaway");
                }
                post["embed"] = json!({ "$type": "app.bsky.embed.record#view", "record": {
                    "$type": "app.bsky.embed.record#viewRecord", "uri": quri, "cid": CID,
                    "author": q, "value": record(i + 1, qtext),
                    "labels": [label(LABELERS[2], &quri, "gross")],
                    "indexedAt": "2024-01-01T00:00:00.000Z" } });
            } else if i.is_multiple_of(9) {
                post["embed"] = json!({ "$type": "app.bsky.embed.external#view", "external": {
                    "uri": "https://example.com/a", "title": sentence(i, 6), "description": sentence(i + 4, 12) } });
            }
            post
        })
        .collect()
}

fn label_defs() -> Value {
    json!({
        LABELERS[1]: [
            { "identifier": "spoiler", "severity": "alert", "blurs": "content", "defaultSetting": "warn", "locales": [] },
            { "identifier": "rude", "severity": "inform", "blurs": "none", "locales": [] },
        ],
        LABELERS[2]: [
            { "identifier": "politics", "severity": "none", "blurs": "media", "defaultSetting": "hide", "locales": [] },
            { "identifier": "gross", "severity": "alert", "blurs": "content", "adultOnly": true, "locales": [] },
        ],
    })
}

fn muted_words() -> Value {
    Value::Array(
        WORDS
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let mut word = json!({
                    "value": w.trim_start_matches('#'),
                    "targets": if w.starts_with('#') { json!(["tag"]) } else { json!(["content", "tag"]) },
                    "actorTarget": if i.is_multiple_of(4) { "exclude-following" } else { "all" },
                });
                if i.is_multiple_of(5) {
                    word["expiresAt"] = json!("2999-01-01T00:00:00.000Z");
                }
                word
            })
            .collect(),
    )
}

fn fixture() -> Value {
    json!({
        "userDid": ME,
        "prefs": {
            "adultContentEnabled": true,
            "labels": { "porn": "hide", "sexual": "warn", "nudity": "ignore", "graphic-media": "warn" },
            "labelers": [
                { "did": LABELERS[0], "labels": {} },
                { "did": LABELERS[1], "labels": { "spoiler": "hide" } },
                { "did": LABELERS[2], "labels": {} },
            ],
            "mutedWords": muted_words(),
            "hiddenPosts": [],
        },
        "labelerDefs": label_defs(),
        "posts": timeline(),
    })
}

fn opts(f: &Value) -> Result<ModerationOpts, Box<dyn std::error::Error>> {
    let mut prefs = ModerationPrefs::empty();
    prefs.adult_content_enabled = true;
    for (k, v) in f["prefs"]["labels"].as_object().into_iter().flatten() {
        let p = v
            .as_str()
            .and_then(LabelPreference::parse)
            .ok_or("bad preference")?;
        prefs.labels.insert(k.clone(), p);
    }
    for l in f["prefs"]["labelers"].as_array().into_iter().flatten() {
        let mut lp = LabelerPrefs::new(l["did"].as_str().unwrap_or_default().parse()?);
        for (k, v) in l["labels"].as_object().into_iter().flatten() {
            let p = v
                .as_str()
                .and_then(LabelPreference::parse)
                .ok_or("bad preference")?;
            lp.labels.insert(k.clone(), p);
        }
        prefs.labelers.push(lp);
    }
    prefs.muted_words = serde_json::from_value(f["prefs"]["mutedWords"].clone())?;
    let mut o = ModerationOpts::new(Some(ME.parse()?), prefs);
    for (labeler, defs) in f["labelerDefs"].as_object().into_iter().flatten() {
        let did = labeler.parse()?;
        let defs: Vec<LabelValueDefinition> = serde_json::from_value(defs.clone())?;
        let interpreted = defs
            .iter()
            .map(|d| interpret_label_value_definition(d, Some(&did)))
            .collect();
        o.label_defs.insert(did, interpreted);
    }
    Ok(o)
}

/// Decisions per second over `posts`, run for about `budget`.
fn measure(posts: &[PostView], o: &ModerationOpts, budget: Duration) -> (f64, usize) {
    let mut filtered = 0;
    for p in posts {
        let d = moderate_post(p, o);
        if d.ui(ModerationContext::ContentList).filter() {
            filtered += 1;
        }
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for p in posts {
            let d = moderate_post(black_box(p), black_box(o));
            black_box(d.ui(ModerationContext::ContentList).filter());
            black_box(d.ui(ModerationContext::ContentMedia).blur());
            n += 1;
        }
    }
    (n as f64 / start.elapsed().as_secs_f64(), filtered)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let f = fixture();
    let posts: Vec<PostView> = serde_json::from_value(f["posts"].clone())?;
    let o = opts(&f)?;
    let (rust_rate, filtered) = measure(&posts, &o, Duration::from_secs(3));
    println!(
        "timeline: {} posts, {} labelers, {} muted words; {filtered} posts filtered from the feed",
        posts.len(),
        o.prefs.labelers.len(),
        o.prefs.muted_words.len()
    );
    println!("rust  moderate_post: {rust_rate:>12.0} decisions/s");

    let Some(api) = std::env::var_os("ATPROTO_API_DIR") else {
        println!("node: skipped (set ATPROTO_API_DIR to an @atproto/api package, NODE to node)");
        return Ok(());
    };
    let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
    let fixture_path =
        std::env::temp_dir().join(format!("moderation-bench-{}.json", std::process::id()));
    std::fs::write(&fixture_path, serde_json::to_vec(&f)?)?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/moderation_bench.mjs");
    let out = Command::new(node)
        .arg(&script)
        .arg(&fixture_path)
        .env("ATPROTO_API_DIR", api)
        .output();
    let _ = std::fs::remove_file(&fixture_path);
    let out = out?;
    if !out.status.success() {
        return Err(format!("node failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let answer: Value = serde_json::from_slice(&out.stdout)?;
    let node_rate = answer["decisionsPerSecond"]
        .as_f64()
        .ok_or("no rate from node")?;
    println!(
        "node  moderatePost:  {node_rate:>12.0} decisions/s (@atproto/api {}, node {}); {} posts filtered",
        answer["version"].as_str().unwrap_or("?"),
        answer["node"].as_str().unwrap_or("?"),
        answer["filtered"]
    );
    println!("ratio: {:.1}x", rust_rate / node_rate);
    if answer["filtered"].as_u64() != Some(filtered as u64) {
        return Err("the two implementations filtered different posts".into());
    }
    Ok(())
}
