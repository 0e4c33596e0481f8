//! Writes the benchmark fixtures in `benches/fixtures/` from the lexicons.
//!
//! `cargo run -p fixture-gen --release` (from `benches/`), or `cargo xtask bench`,
//! which regenerates them first and fails if the checked-in files differ.
//!
//! The timeline is produced by walking the `app.bsky.feed.getTimeline` output
//! schema as read from `../lexicons` (plain `serde_json::Value`, no codegen):
//! every object is built from its lexicon definition, required properties
//! always, optional ones with the probabilities in [`optional_probability`]
//! (absent from the table = never written). Strings follow their `format`.
//! A small PRNG with a fixed seed makes the output byte-for-byte reproducible.
//!
//! What the fixture leaves out, and why (see BENCHMARKS.md): label `sig`
//! (`$bytes`: atrium-api cannot decode it), `video`/`gallery` embeds and
//! other members newer than the peers' lexicons, `debug` properties.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// SplitMix64: tiny, fast, and good enough to pick words and branches.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        (((self.next() >> 11) as u128 * n as u128) >> 53) as u64
    }
    fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    /// Picks an index by weight.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut r = self.below(total as u64) as u32;
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
    /// Heavy-tailed counts, as engagement numbers are.
    fn count(&mut self, max_pow: u32) -> u64 {
        let p = self.below(max_pow as u64 + 1) as u32;
        self.below(10u64.pow(p) + 1)
    }
}

const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
const BASE32_SORT: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";

const WORDS: &[&str] = &[
    "the",
    "a",
    "and",
    "of",
    "to",
    "in",
    "is",
    "it",
    "that",
    "for",
    "on",
    "with",
    "this",
    "was",
    "just",
    "about",
    "really",
    "think",
    "people",
    "today",
    "new",
    "time",
    "good",
    "first",
    "thread",
    "post",
    "morning",
    "coffee",
    "weekend",
    "project",
    "rust",
    "release",
    "paper",
    "photo",
    "city",
    "train",
    "rain",
    "book",
    "music",
    "garden",
    "cat",
    "dog",
    "finally",
    "working",
    "reading",
    "writing",
    "shipping",
    "learned",
    "wonderful",
    "strange",
    "honestly",
    "again",
    "everyone",
    "anyone",
    "maybe",
    "tomorrow",
    "yesterday",
    "little",
    "big",
    "open",
    "source",
    "protocol",
    "network",
    "federation",
    "feed",
    "moderation",
    "labels",
    "server",
    "café",
    "naïve",
    "über",
    "résumé",
    "日本語",
    "テスト",
    "🎉",
    "🦀",
    "☕",
    "✨",
    "🌧️",
    "👀",
];
const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dana", "emil", "fatima", "goro", "hana", "ines", "jonas", "kenji",
    "lena", "marta", "nils", "oskar", "priya", "quinn", "rosa", "sami", "tomas", "uma", "vera",
    "wen", "xavi", "yuki", "zoe",
];
const SURNAMES: &[&str] = &[
    "Fischer",
    "Okafor",
    "Nakamura",
    "García",
    "Kowalski",
    "Haddad",
    "Lindqvist",
    "Moreau",
    "Silva",
    "Novak",
    "Tanaka",
    "Ahmed",
    "O'Brien",
    "Rossi",
    "Jansen",
];
const DOMAINS: &[&str] = &[
    "bsky.social",
    "bsky.social",
    "bsky.social",
    "bsky.social",
    "example.com",
    "blog.example.org",
    "mastodon-bridge.example.net",
    "pds.example.dev",
];
const SITES: &[&str] = &[
    "www.theverge.example",
    "arstechnica.example",
    "github.com",
    "en.wikipedia.org",
    "www.nytimes.example",
    "blog.rust-lang.org",
    "youtube.com",
    "substack.example.com",
];
const LABEL_VALUES: &[&str] = &[
    "!no-unauthenticated",
    "porn",
    "sexual",
    "nudity",
    "graphic-media",
    "spam",
    "intolerant",
];

/// The probability (0–1) of writing an optional property. Properties not
/// listed are never written; required ones always are.
fn optional_probability(def: &str, prop: &str) -> f64 {
    match (def, prop) {
        ("app.bsky.feed.getTimeline#output", "cursor") => 1.0,
        ("app.bsky.feed.defs#feedViewPost", "reply") => 0.5,
        ("app.bsky.feed.defs#feedViewPost", "reason") => 0.15,
        ("app.bsky.feed.defs#postView", "embed") => 0.55,
        (
            "app.bsky.feed.defs#postView",
            "replyCount" | "repostCount" | "likeCount" | "quoteCount",
        ) => 1.0,
        ("app.bsky.feed.defs#postView", "bookmarkCount") => 1.0,
        ("app.bsky.feed.defs#postView", "viewer" | "labels") => 1.0,
        ("app.bsky.feed.defs#viewerState", "threadMuted" | "embeddingDisabled") => 1.0,
        ("app.bsky.feed.defs#viewerState", "bookmarked") => 1.0,
        ("app.bsky.feed.defs#viewerState", "like") => 0.2,
        ("app.bsky.feed.defs#viewerState", "repost") => 0.05,
        ("app.bsky.feed.defs#viewerState", "replyDisabled") => 0.05,
        ("app.bsky.feed.defs#replyRef", "grandparentAuthor") => 0.25,
        ("app.bsky.feed.defs#reasonRepost", "uri" | "cid") => 1.0,
        ("app.bsky.actor.defs#profileViewBasic", "displayName" | "avatar" | "createdAt") => 0.9,
        ("app.bsky.actor.defs#profileViewBasic", "viewer" | "labels") => 1.0,
        ("app.bsky.actor.defs#profileViewBasic", "associated") => 0.3,
        ("app.bsky.actor.defs#viewerState", "muted" | "blockedBy") => 1.0,
        ("app.bsky.actor.defs#viewerState", "following") => 0.6,
        ("app.bsky.actor.defs#viewerState", "followedBy") => 0.35,
        ("app.bsky.actor.defs#profileAssociated", "chat" | "activitySubscription") => 0.5,
        ("com.atproto.label.defs#label", "ver") => 1.0,
        ("com.atproto.label.defs#label", "cid") => 0.5,
        ("com.atproto.label.defs#label", "neg") => 0.2,
        ("app.bsky.embed.images#viewImage" | "app.bsky.embed.images#image", "aspectRatio") => 0.85,
        ("app.bsky.embed.external#viewExternal", "thumb") => 0.75,
        ("app.bsky.embed.external#external", "thumb") => 0.75,
        ("app.bsky.embed.record#viewRecord", "labels") => 1.0,
        (
            "app.bsky.embed.record#viewRecord",
            "replyCount" | "repostCount" | "likeCount" | "quoteCount",
        ) => 1.0,
        ("app.bsky.embed.record#viewRecord", "embeds") => 0.35,
        ("app.bsky.feed.post#main", "facets") => 0.0, // written with the text, see post_record
        ("app.bsky.feed.post#main", "reply") => 0.3,
        ("app.bsky.feed.post#main", "embed") => 0.0, // mirrors the view's embed, see post_record
        ("app.bsky.feed.post#main", "langs") => 0.95,
        ("app.bsky.feed.post#main", "labels") => 0.03,
        _ => 0.0,
    }
}

/// Union members written, with weights; members not listed are never written.
fn union_weight(member: &str) -> u32 {
    match member {
        "app.bsky.feed.defs#reasonRepost" => 1,
        "app.bsky.feed.defs#postView" => 30,
        "app.bsky.feed.defs#notFoundPost" => 1,
        "app.bsky.feed.defs#blockedPost" => 1,
        "app.bsky.embed.images#view" | "app.bsky.embed.images" => 40,
        "app.bsky.embed.external#view" | "app.bsky.embed.external" => 25,
        "app.bsky.embed.record#view" | "app.bsky.embed.record" => 20,
        "app.bsky.embed.recordWithMedia#view" | "app.bsky.embed.recordWithMedia" => 15,
        "app.bsky.embed.record#viewRecord" => 40,
        "app.bsky.embed.record#viewNotFound" => 1,
        "app.bsky.embed.record#viewBlocked" => 1,
        "app.bsky.embed.record#viewDetached" => 1,
        "app.bsky.richtext.facet#mention" => 1,
        "app.bsky.richtext.facet#link" => 1,
        "app.bsky.richtext.facet#tag" => 1,
        "com.atproto.label.defs#selfLabels" => 1,
        _ => 0,
    }
}

/// A pool of accounts, so that authors recur as they do in a real timeline.
struct Account {
    did: String,
    handle: String,
    display_name: String,
}

struct Gen {
    rng: Rng,
    docs: BTreeMap<String, Value>,
    accounts: Vec<Account>,
    /// Seconds since the Unix epoch of the next item, walking backwards.
    clock: i64,
    /// Nesting depth of post views / embeds, to bound recursion.
    depth: u32,
}

impl Gen {
    fn new(lexicons: &Path, seed: u64) -> Gen {
        let mut docs = BTreeMap::new();
        load_docs(lexicons, &mut docs);
        let mut rng = Rng(seed);
        let mut accounts = Vec::new();
        for i in 0..40 {
            let first = rng.pick(NAMES);
            let did = format!("did:plc:{}", base32(&mut rng, 24, BASE32));
            let handle = format!(
                "{first}{}.{}",
                if rng.chance(0.5) {
                    String::new()
                } else {
                    format!("{}", rng.below(100))
                },
                rng.pick(DOMAINS)
            );
            let display_name = match i % 4 {
                0 => format!("{} {}", capitalize(first), rng.pick(SURNAMES)),
                1 => format!("{} 🦋", capitalize(first)),
                2 => capitalize(first),
                _ => format!("{} {} (she/her)", capitalize(first), rng.pick(SURNAMES)),
            };
            accounts.push(Account {
                did,
                handle,
                display_name,
            });
        }
        Gen {
            rng,
            docs,
            accounts,
            clock: 1_748_779_200,
            depth: 0,
        }
    }

    fn def(&self, reference: &str) -> (String, Value) {
        let (id, name) = reference.split_once('#').unwrap_or((reference, "main"));
        let doc = self
            .docs
            .get(id)
            .unwrap_or_else(|| panic!("no lexicon {id}"));
        let def = doc["defs"][name].clone();
        assert!(!def.is_null(), "no def {reference}");
        let full = format!("{id}#{name}");
        // Records: the object schema lives under "record".
        if def["type"] == "record" {
            return (full, def["record"].clone());
        }
        (full, def)
    }

    /// An object built from a definition.
    fn object(&mut self, def_name: &str, schema: &Value) -> Value {
        let mut out = Map::new();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(props) = schema["properties"].as_object() else {
            return Value::Object(out);
        };
        for (name, prop) in props {
            let req = required.contains(&name.as_str());
            if !req && !self.rng.chance(optional_probability(def_name, name)) {
                continue;
            }
            if let Some(v) = self.property(def_name, name, prop) {
                out.insert(name.clone(), v);
            }
        }
        Value::Object(out)
    }

    fn by_ref(&mut self, reference: &str) -> Value {
        let (full, schema) = self.def(reference);
        match full.as_str() {
            "app.bsky.feed.defs#postView" => self.post_view(&schema),
            "app.bsky.embed.record#viewRecord" => self.view_record(&schema),
            "app.bsky.actor.defs#profileViewBasic" => self.profile(&schema),
            _ => self.object(&full, &schema),
        }
    }

    fn union(&mut self, refs: &[Value]) -> Option<Value> {
        let names: Vec<String> = refs
            .iter()
            .filter_map(Value::as_str)
            .map(|r| r.trim_start_matches("lex:").to_owned())
            .collect();
        let mut weights: Vec<u32> = names.iter().map(|n| union_weight(n)).collect();
        if self.depth >= 2 {
            // No record embeds inside record embeds inside posts.
            for (w, n) in weights.iter_mut().zip(&names) {
                if n.contains("embed.record") {
                    *w = 0;
                }
            }
        }
        if weights.iter().all(|w| *w == 0) {
            return None;
        }
        let member = names[self.rng.weighted(&weights)].clone();
        let mut value = self.by_ref(&member);
        let type_name = member.strip_suffix("#main").unwrap_or(&member).to_owned();
        value
            .as_object_mut()?
            .insert("$type".into(), Value::String(type_name));
        Some(value)
    }

    fn property(&mut self, def_name: &str, name: &str, prop: &Value) -> Option<Value> {
        let ty = prop["type"].as_str().unwrap_or("");
        Some(match ty {
            "ref" => self.by_ref(prop["ref"].as_str()?.trim_start_matches("lex:")),
            "union" => self.union(prop["refs"].as_array()?)?,
            "array" => {
                let n = self.array_len(def_name, name, prop);
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(self.property(def_name, name, &prop["items"])?);
                }
                Value::Array(items)
            }
            "string" => Value::String(self.string(def_name, name, prop)),
            "integer" => {
                let v = match name {
                    "size" => self.rng.range(40_000, 950_000),
                    "width" => self.rng.pick(&[1000, 1200, 1600, 2000, 750]),
                    "height" => self.rng.pick(&[750, 1000, 1200, 1600, 2000, 563]),
                    "ver" => 1,
                    "likeCount" => self.rng.count(4),
                    "byteStart" | "byteEnd" => 0,
                    _ => self.rng.count(2),
                };
                json!(v)
            }
            "boolean" => {
                if let Some(c) = prop["const"].as_bool() {
                    Value::Bool(c)
                } else {
                    Value::Bool(self.rng.chance(0.08))
                }
            }
            "blob" => self.blob(),
            "unknown" => match (def_name, name) {
                ("app.bsky.feed.defs#postView", "record")
                | ("app.bsky.embed.record#viewRecord", "value") => self.post_record(None),
                _ => return None,
            },
            _ => return None,
        })
    }

    fn array_len(&mut self, def_name: &str, name: &str, prop: &Value) -> u64 {
        let max = prop["maxLength"].as_u64().unwrap_or(u64::MAX);
        let n = match (def_name, name) {
            (_, "labels") if def_name.ends_with("profileViewBasic") => {
                if self.rng.chance(0.1) {
                    1
                } else {
                    0
                }
            }
            (_, "labels") => {
                if self.rng.chance(0.06) {
                    self.rng.range(1, 2)
                } else {
                    0
                }
            }
            (_, "images") => self.rng.pick(&[1, 1, 1, 2, 2, 3, 4]),
            (_, "langs") => {
                if self.rng.chance(0.1) {
                    2
                } else {
                    1
                }
            }
            (_, "embeds") => 1,
            (_, "values") => 1,
            (_, "features") => 1,
            _ => self.rng.range(0, 2),
        };
        n.min(max)
    }

    fn string(&mut self, def_name: &str, name: &str, prop: &Value) -> String {
        if let Some(known) = prop["knownValues"].as_array().or(prop["enum"].as_array()) {
            if let Some(Value::String(s)) = known.get(self.rng.below(known.len() as u64) as usize) {
                return s.clone();
            }
        }
        match prop["format"].as_str() {
            Some("did") => return self.account().did.clone(),
            Some("handle") => return self.account().handle.clone(),
            Some("at-uri") => return self.at_uri(name),
            Some("cid") => return cid(&mut self.rng, "bafyrei"),
            Some("datetime") => return self.datetime(name),
            Some("language") => {
                return self
                    .rng
                    .pick(&["en", "en", "en", "ja", "de", "pt", "es", "fr"])
                    .to_string()
            }
            Some("uri") => return self.uri(def_name, name),
            _ => {}
        }
        match name {
            "alt" => {
                if self.rng.chance(0.2) {
                    String::new()
                } else {
                    self.sentence(6, 40)
                }
            }
            "title" => capitalize(&self.sentence(3, 10)),
            "description" => self.sentence(10, 35),
            "val" => self.rng.pick(LABEL_VALUES).to_string(),
            "mimeType" => "image/jpeg".to_string(),
            "cursor" => format!("{}::{}", self.clock * 1000, cid(&mut self.rng, "bafyrei")),
            "tag" => self
                .rng
                .pick(&["rust", "atproto", "photography", "science", "art", "news"])
                .to_string(),
            _ => self.sentence(2, 6),
        }
    }

    fn account(&mut self) -> &Account {
        let i = self.rng.below(self.accounts.len() as u64) as usize;
        &self.accounts[i]
    }

    fn at_uri(&mut self, name: &str) -> String {
        let collection = match name {
            "like" => "app.bsky.feed.like",
            "repost" => "app.bsky.feed.repost",
            "following" | "followedBy" => "app.bsky.graph.follow",
            "blocking" => "app.bsky.graph.block",
            _ => "app.bsky.feed.post",
        };
        let did = self.account().did.clone();
        format!("at://{did}/{collection}/{}", self.tid())
    }

    fn tid(&mut self) -> String {
        let mut s = String::new();
        s.push(self.rng.pick(&['3', '3', '3', '2']));
        s.push_str(&base32(&mut self.rng, 12, BASE32_SORT));
        s
    }

    fn datetime(&mut self, name: &str) -> String {
        let t = match name {
            "indexedAt" => self.clock,
            "cts" => self.clock - self.rng.range(0, 3600) as i64,
            _ => self.clock - self.rng.range(0, 3 * 365 * 86400) as i64,
        };
        let ms = self.rng.below(1000);
        format_datetime(t, ms)
    }

    fn uri(&mut self, def_name: &str, name: &str) -> String {
        let did = self.account().did.clone();
        let c = cid(&mut self.rng, "bafkrei");
        match name {
            "avatar" => format!("https://cdn.bsky.app/img/avatar/plain/{did}/{c}@jpeg"),
            "thumb" if def_name.contains("images") => {
                format!("https://cdn.bsky.app/img/feed_thumbnail/plain/{did}/{c}@jpeg")
            }
            "fullsize" => format!("https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{c}@jpeg"),
            "thumb" => format!("https://cdn.bsky.app/img/feed_thumbnail/plain/{did}/{c}@jpeg"),
            // A label's subject: an account or a record.
            "uri" if def_name.contains("label") => {
                if self.rng.chance(0.5) {
                    did
                } else {
                    self.at_uri("post")
                }
            }
            _ => self.link(),
        }
    }

    fn link(&mut self) -> String {
        let site = self.rng.pick(SITES);
        let path = self
            .sentence(2, 5)
            .split(' ')
            .filter(|w| w.is_ascii())
            .collect::<Vec<_>>()
            .join("-");
        format!("https://{site}/{}/{path}", 2020 + self.rng.below(6))
    }

    fn blob(&mut self) -> Value {
        json!({
            "$type": "blob",
            "ref": {"$link": cid(&mut self.rng, "bafkrei")},
            "mimeType": "image/jpeg",
            "size": self.rng.range(40_000, 950_000),
        })
    }

    fn sentence(&mut self, min: u64, max: u64) -> String {
        let n = self.rng.range(min, max);
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(self.rng.pick(WORDS));
        }
        s
    }

    fn profile(&mut self, schema: &Value) -> Value {
        let mut v = self.object("app.bsky.actor.defs#profileViewBasic", schema);
        // Keep did, handle and display name of one account together.
        let i = self.rng.below(self.accounts.len() as u64) as usize;
        let a = &self.accounts[i];
        let m = v.as_object_mut().unwrap();
        m.insert("did".into(), Value::String(a.did.clone()));
        m.insert("handle".into(), Value::String(a.handle.clone()));
        if m.contains_key("displayName") {
            m.insert("displayName".into(), Value::String(a.display_name.clone()));
        }
        v
    }

    fn post_view(&mut self, schema: &Value) -> Value {
        self.depth += 1;
        let mut v = self.object("app.bsky.feed.defs#postView", schema);
        let embed_type = v
            .get("embed")
            .and_then(|e| e["$type"].as_str())
            .map(str::to_owned);
        let record = self.post_record(embed_type.as_deref());
        let m = v.as_object_mut().unwrap();
        m.insert("record".into(), record);
        self.depth -= 1;
        v
    }

    fn view_record(&mut self, schema: &Value) -> Value {
        self.depth += 1;
        let mut v = self.object("app.bsky.embed.record#viewRecord", schema);
        let embed_type = v
            .get("embeds")
            .and_then(|e| e[0]["$type"].as_str())
            .map(str::to_owned);
        let record = self.post_record(embed_type.as_deref());
        v.as_object_mut().unwrap().insert("value".into(), record);
        self.depth -= 1;
        v
    }

    /// An `app.bsky.feed.post` record: text with facets whose byte ranges
    /// point at the mention, link and tag they annotate, and an embed of the
    /// record type matching the view's embed.
    fn post_record(&mut self, view_embed: Option<&str>) -> Value {
        let (_, schema) = self.def("app.bsky.feed.post");
        let mut v = self.object("app.bsky.feed.post#main", &schema);
        let m = v.as_object_mut().unwrap();
        let (text, facets) = self.text_with_facets();
        m.insert("text".into(), Value::String(text));
        let created = self.clock - self.rng.range(1, 40) as i64 - 86400 * (self.depth as i64 - 1);
        let ms = self.rng.below(1000);
        m.insert(
            "createdAt".into(),
            Value::String(format_datetime(created, ms)),
        );
        if !facets.is_empty() {
            m.insert("facets".into(), Value::Array(facets));
        }
        if let Some(view_type) = view_embed {
            let main = view_type
                .strip_suffix("#view")
                .unwrap_or(view_type)
                .to_owned();
            let mut embed = match main.as_str() {
                "app.bsky.embed.recordWithMedia" => {
                    let record = self.by_ref("app.bsky.embed.record");
                    let media = self.by_ref("app.bsky.embed.images");
                    let mut media = media;
                    media
                        .as_object_mut()
                        .unwrap()
                        .insert("$type".into(), json!("app.bsky.embed.images"));
                    json!({"record": record, "media": media})
                }
                other => self.by_ref(other),
            };
            embed
                .as_object_mut()
                .unwrap()
                .insert("$type".into(), Value::String(main));
            m.insert("embed".into(), embed);
        }
        let mut out = Map::new();
        out.insert("$type".into(), json!("app.bsky.feed.post"));
        out.extend(std::mem::take(m));
        Value::Object(out)
    }

    fn text_with_facets(&mut self) -> (String, Vec<Value>) {
        let mut text = String::new();
        let mut facets = Vec::new();
        let segments = self.rng.pick(&[1, 2, 3, 4, 5, 6, 8]);
        for _ in 0..segments {
            if !text.is_empty() {
                text.push_str(if self.rng.chance(0.15) { "\n\n" } else { " " });
            }
            let words = self.sentence(4, 14);
            text.push_str(&capitalize(&words));
            text.push_str(self.rng.pick(&[".", ".", "!", "?", "…", " —", ":"]));
            let roll = self.rng.below(10);
            let (feature, shown) = match roll {
                0 | 1 => {
                    let a = self.account();
                    let (did, handle) = (a.did.clone(), a.handle.clone());
                    (
                        json!({"$type": "app.bsky.richtext.facet#mention", "did": did}),
                        format!("@{handle}"),
                    )
                }
                2 => {
                    let url = self.link();
                    let shown = url.trim_start_matches("https://");
                    let shown = if shown.len() > 30 {
                        format!("{}...", &shown[..27])
                    } else {
                        shown.to_owned()
                    };
                    (
                        json!({"$type": "app.bsky.richtext.facet#link", "uri": url}),
                        shown,
                    )
                }
                3 => {
                    let tag = self
                        .rng
                        .pick(&[
                            "rust",
                            "atproto",
                            "photography",
                            "science",
                            "art",
                            "news",
                            "日本",
                        ])
                        .to_string();
                    let shown = format!("#{tag}");
                    (
                        json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag}),
                        shown,
                    )
                }
                _ => continue,
            };
            text.push(' ');
            let start = text.len();
            text.push_str(&shown);
            facets.push(json!({
                "$type": "app.bsky.richtext.facet",
                "index": {"byteStart": start, "byteEnd": text.len()},
                "features": [feature],
            }));
        }
        (text, facets)
    }

    fn timeline(&mut self, items: usize) -> Value {
        let (_, main) = self.def("app.bsky.feed.getTimeline");
        let schema = main["output"]["schema"].clone();
        let feed_item = schema["properties"]["feed"]["items"]["ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("lex:")
            .to_owned();
        let mut feed = Vec::new();
        for _ in 0..items {
            self.clock -= self.rng.range(30, 900) as i64;
            feed.push(self.by_ref(&feed_item));
        }
        let mut out = Map::new();
        out.insert(
            "cursor".into(),
            Value::String(self.string("app.bsky.feed.getTimeline#output", "cursor", &json!({}))),
        );
        out.insert("feed".into(), Value::Array(feed));
        Value::Object(out)
    }

    fn session(&mut self) -> Value {
        let (_, main) = self.def("com.atproto.server.createSession");
        let props = main["output"]["schema"]["properties"]
            .as_object()
            .unwrap()
            .clone();
        let a = &self.accounts[0];
        let (did, handle) = (a.did.clone(), a.handle.clone());
        let pds = "https://morel.us-east.host.bsky.network";
        let mut out = Map::new();
        for name in props.keys() {
            let v = match name.as_str() {
                "accessJwt" => json!(self.jwt(&did, "com.atproto.access", 7200)),
                "refreshJwt" => json!(self.jwt(&did, "com.atproto.refresh", 90 * 86400)),
                "handle" => json!(handle),
                "did" => json!(did),
                "didDoc" => json!({
                    "@context": [
                        "https://www.w3.org/ns/did/v1",
                        "https://w3id.org/security/multikey/v1",
                        "https://w3id.org/security/suites/secp256k1-2019/v1"
                    ],
                    "id": did,
                    "alsoKnownAs": [format!("at://{handle}")],
                    "verificationMethod": [{
                        "id": format!("{did}#atproto"),
                        "type": "Multikey",
                        "controller": did,
                        "publicKeyMultibase": format!("zQ3sh{}", base58(&mut self.rng, 44)),
                    }],
                    "service": [{
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": pds,
                    }],
                }),
                "email" => json!(format!("{}@example.com", handle.split('.').next().unwrap())),
                "emailConfirmed" | "active" => json!(true),
                "emailAuthFactor" => json!(false),
                _ => continue,
            };
            out.insert(name.clone(), v);
        }
        Value::Object(out)
    }

    /// A JWT-shaped token: base64url header, claims and a 64-byte signature.
    fn jwt(&mut self, did: &str, scope: &str, ttl: i64) -> String {
        let iat = self.clock;
        let header = r#"{"typ":"at+jwt","alg":"ES256K"}"#;
        let claims = format!(
            r#"{{"scope":"{scope}","sub":"{did}","iat":{iat},"exp":{},"aud":"did:web:morel.us-east.host.bsky.network","jti":"{}"}}"#,
            iat + ttl,
            base32(&mut self.rng, 20, BASE32)
        );
        let sig: Vec<u8> = (0..64).map(|_| self.rng.next() as u8).collect();
        format!(
            "{}.{}.{}",
            b64url(header.as_bytes()),
            b64url(claims.as_bytes()),
            b64url(&sig)
        )
    }
}

fn load_docs(dir: &Path, docs: &mut BTreeMap<String, Value>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            load_docs(&path, docs);
        } else if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let doc: Value = serde_json::from_str(&text).unwrap();
            if let Some(id) = doc["id"].as_str() {
                docs.insert(id.to_owned(), doc);
            }
        }
    }
}

fn base32(rng: &mut Rng, n: usize, alphabet: &[u8]) -> String {
    (0..n)
        .map(|_| alphabet[rng.below(32) as usize] as char)
        .collect()
}

fn base58(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    (0..n).map(|_| A[rng.below(58) as usize] as char).collect()
}

/// A valid CIDv1 with a sha2-256 multihash of random bytes, in multibase
/// base32 (`b`): 59 characters. Prefix `bafyrei` = dag-cbor, `bafkrei` = raw.
fn cid(rng: &mut Rng, prefix: &str) -> String {
    let codec = match prefix {
        "bafyrei" => 0x71,
        "bafkrei" => 0x55,
        other => panic!("unknown CID prefix {other}"),
    };
    let mut bytes = vec![0x01, codec, 0x12, 0x20];
    bytes.extend((0..32).map(|_| rng.next() as u8));
    let mut out = String::from("b");
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = acc << 8 | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[(acc >> bits & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[(acc << (5 - bits) & 31) as usize] as char);
    }
    debug_assert!(out.starts_with(prefix));
    out
}

fn b64url(bytes: &[u8]) -> String {
    atmo_types::base64::encode_url(bytes)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// RFC 3339 UTC with milliseconds, from Unix seconds (civil-from-days).
fn format_datetime(secs: i64, ms: u64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn main() {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lexicons = here.join("../../lexicons");
    let out_dir = here.join("../fixtures");
    let check = std::env::args().any(|a| a == "--check");

    let mut g = Gen::new(&lexicons, 0x6174_7072_6f74_6f06);
    let timeline = g.timeline(50);
    let session = g.session();

    let mut stale = Vec::new();
    for (name, value) in [("timeline.json", &timeline), ("session.json", &session)] {
        let text = serde_json::to_string(value).unwrap() + "\n";
        let path = out_dir.join(name);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(name);
            }
        } else {
            std::fs::create_dir_all(&out_dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            println!("wrote {} ({} bytes)", path.display(), text.len());
        }
    }
    if !stale.is_empty() {
        eprintln!("fixtures out of date: {stale:?}; run `cargo run -p fixture-gen` in benches/");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_formatting() {
        assert_eq!(format_datetime(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_datetime(1_748_779_200, 5),
            "2025-06-01T12:00:00.005Z"
        );
    }

    #[test]
    fn cids_have_the_usual_prefixes() {
        let mut rng = Rng(1);
        let c = cid(&mut rng, "bafyrei");
        assert!(c.starts_with("bafyrei") && c.len() == 59, "{c}");
        let c = cid(&mut rng, "bafkrei");
        assert!(c.starts_with("bafkrei") && c.len() == 59, "{c}");
    }

    #[test]
    fn b64url_matches_known_values() {
        assert_eq!(b64url(b"hello"), "aGVsbG8");
        assert_eq!(b64url(b"hi!"), "aGkh");
    }
}
