//! Reads a JSON array of texts on standard input and prints, for each, the
//! detected facets as `[byteStart, byteEnd, kind, value]` (kind `mention`,
//! `link` or `tag`; a mention's value is its handle). Used by
//! `tools/compare-with-official.sh` to compare detection with the official
//! client's; handy for trying texts by hand too:
//!
//! ```sh
//! echo '["hi @alice.test #rust"]' | cargo run -q -p atmo-richtext --example detect_json
//! ```
//!
//! With `--segments`, prints instead `[segments, cleaned text, cleaned
//! facet ranges]` for each text: the segments (`[text, has a facet]`) of the
//! detected facets, then the text and facet ranges after `clean_newlines`.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::process::ExitCode;

use atmo_richtext::{detect_facets, Feature, RichText};
use serde_json::{json, Value};

fn segments_and_clean(text: &str) -> Value {
    let rt = RichText::detect(text);
    let segments: Vec<Value> = rt
        .segments()
        .map(|s| json!([s.text, s.facet.is_some()]))
        .collect();
    let mut cleaned = rt.clone();
    cleaned.clean_newlines();
    let ranges: Vec<Value> = cleaned
        .facets()
        .iter()
        .map(|f| json!([f.start, f.end]))
        .collect();
    json!([segments, cleaned.text(), ranges])
}

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("detect_json: cannot read standard input: {e}");
        return ExitCode::from(2);
    }
    let texts: Vec<String> = match serde_json::from_str(&input) {
        Ok(texts) => texts,
        Err(e) => {
            eprintln!("detect_json: standard input is not a JSON array of strings: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::args().nth(1).as_deref() == Some("--segments") {
        let out: Vec<Value> = texts.iter().map(|t| segments_and_clean(t)).collect();
        println!("{}", Value::Array(out));
        return ExitCode::SUCCESS;
    }
    let out: Vec<Value> = texts
        .iter()
        .map(|text| {
            detect_facets(text)
                .iter()
                .flat_map(|f| {
                    f.features.iter().map(move |feature| {
                        let (kind, value) = match feature {
                            Feature::UnresolvedMention(h) => ("mention", h.to_string()),
                            Feature::Mention(did) => ("mention", did.to_string()),
                            Feature::Link(uri) => ("link", uri.to_string()),
                            Feature::Tag(tag) => ("tag", tag.clone()),
                            _ => ("other", String::new()),
                        };
                        json!([f.start, f.end, kind, value])
                    })
                })
                .collect()
        })
        .collect();
    println!("{}", Value::Array(out));
    ExitCode::SUCCESS
}
