//! Conversion to and from the `app.bsky.richtext.facet` record types, and
//! newline cleaning.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_api::app::bsky::richtext::facet as api;
use atmo_richtext::{Error, Facet, Feature, RangeProblem, RichText};
use atmo_types::Did;
use serde_json::json;

fn record_facets(value: serde_json::Value) -> Vec<api::Facet> {
    serde_json::from_value(value).unwrap()
}

#[test]
fn record_json_of_detected_and_resolved_facets() {
    let mut rt = RichText::detect("@alice.test 🦋 bsky.app #tag");
    // Resolve by hand: replace the unresolved mention with a DID.
    let facets: Vec<Facet> = rt
        .facets()
        .iter()
        .cloned()
        .map(|mut f| {
            if f.unresolved_mention().is_some() {
                f.features = vec![Feature::Mention(Did::new("did:plc:alice").unwrap())];
            }
            f
        })
        .collect();
    rt = RichText::with_facets(rt.text(), facets).unwrap();
    let json = serde_json::to_value(rt.to_record_facets().unwrap()).unwrap();
    assert_eq!(
        json,
        json!([
            {"index": {"byteStart": 0, "byteEnd": 11},
             "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice"}]},
            {"index": {"byteStart": 17, "byteEnd": 25},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://bsky.app"}]},
            {"index": {"byteStart": 26, "byteEnd": 30},
             "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "tag"}]},
        ])
    );
}

#[test]
fn record_round_trip_keeps_unknown_feature_types() {
    let value = json!([
        {"index": {"byteStart": 6, "byteEnd": 19},
         "features": [{"$type": "blue.moji.richtext.facet#bluemoji", "name": ":party-heart:"}]},
        {"index": {"byteStart": 0, "byteEnd": 5},
         "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://a.example"}]},
    ]);
    let rt = RichText::from_record("hello :party-heart:", &record_facets(value)).unwrap();
    // Sorted by start.
    assert_eq!(rt.facets()[0].range(), 0..5);
    assert_eq!(rt.facets()[1].range(), 6..19);
    assert!(matches!(rt.facets()[1].features[0], Feature::Other(_)));
    let segments: Vec<_> = rt.segments().map(|s| (s.range(), s.text)).collect();
    assert_eq!(
        segments,
        [(0..5, "hello"), (5..6, " "), (6..19, ":party-heart:")]
    );
    let back = serde_json::to_value(rt.to_record_facets().unwrap()).unwrap();
    assert_eq!(
        back,
        json!([
            {"index": {"byteStart": 0, "byteEnd": 5},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://a.example"}]},
            {"index": {"byteStart": 6, "byteEnd": 19},
             "features": [{"$type": "blue.moji.richtext.facet#bluemoji", "name": ":party-heart:"}]},
        ])
    );
}

fn one_facet(start: i64, end: i64) -> Vec<api::Facet> {
    record_facets(json!([
        {"index": {"byteStart": 0, "byteEnd": 1},
         "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "ok"}]},
        {"index": {"byteStart": start, "byteEnd": end},
         "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "bad"}]},
    ]))
}

#[test]
fn record_with_negative_offset_is_refused() {
    assert_eq!(
        RichText::from_record("héllo", &one_facet(-1, 2)).unwrap_err(),
        Error::Facet {
            index: 1,
            problem: RangeProblem::Negative { offset: -1 }
        }
    );
}

#[test]
fn record_with_offset_past_end_is_refused() {
    assert_eq!(
        RichText::from_record("héllo", &one_facet(1, 7)).unwrap_err(),
        Error::Facet {
            index: 1,
            problem: RangeProblem::PastEnd { offset: 7, len: 6 }
        }
    );
}

#[test]
fn record_with_offset_inside_a_character_is_refused() {
    assert_eq!(
        RichText::from_record("héllo", &one_facet(2, 3)).unwrap_err(),
        Error::Facet {
            index: 1,
            problem: RangeProblem::NotCharBoundary { offset: 2 }
        }
    );
}

#[test]
fn record_with_reversed_range_is_refused() {
    assert_eq!(
        RichText::from_record("héllo", &one_facet(4, 3))
            .unwrap_err()
            .to_string(),
        "facet 1: start byte 4 is after end byte 3"
    );
}

#[test]
fn lossy_record_drops_only_bad_facets() {
    for (start, end) in [(-1, 2), (1, 7), (2, 3), (4, 3)] {
        let rt = RichText::from_record_lossy("héllo", &one_facet(start, end));
        let kept: Vec<_> = rt.facets().iter().map(|f| (f.range(), f.tag())).collect();
        assert_eq!(kept, [(0..1, Some("ok"))], "facet {start}..{end}");
    }
    let rt = RichText::from_record_lossy("héllo", &one_facet(3, 6));
    assert_eq!(rt.facets().len(), 2);
}

// ---------------------------------------------------------------- newlines

fn cleaned(text: &str) -> String {
    let mut rt = RichText::new(text);
    rt.clean_newlines();
    rt.text().to_owned()
}

#[test]
fn clean_three_newlines_to_two() {
    assert_eq!(cleaned("a\n\n\nb"), "a\n\nb");
}

#[test]
fn clean_many_newlines_to_two() {
    assert_eq!(cleaned("a\n\n\n\n\n\nb"), "a\n\nb");
}

#[test]
fn clean_keeps_a_single_blank_line() {
    assert_eq!(cleaned("a\n\nb\nc"), "a\n\nb\nc");
}

#[test]
fn clean_blank_lines_holding_spaces_and_invisibles() {
    assert_eq!(cleaned("a\n \n\t\n  b"), "a\n\n  b");
    assert_eq!(
        cleaned("a\n\u{200B}\n\u{2060}\u{AD}\n\u{200D}b"),
        "a\n\n\u{200D}b"
    );
}

#[test]
fn clean_crlf_blank_line_becomes_lf() {
    assert_eq!(cleaned("a\r\n\r\nb"), "a\n\nb");
}

#[test]
fn clean_every_run() {
    assert_eq!(cleaned("a\n\n\nb\n\n\n\nc\n\n\n"), "a\n\nb\n\nc\n\n");
}

#[test]
fn clean_keeps_facets_on_their_text() {
    let mut rt = RichText::detect("@alice.test\n\n\n\n#tag 東京\n\n\n\nexample.com");
    let before: Vec<_> = rt.facets().iter().map(|f| f.range()).collect();
    assert_eq!(before, [0..11, 15..19, 30..41]);
    rt.clean_newlines();
    assert_eq!(rt.text(), "@alice.test\n\n#tag 東京\n\nexample.com");
    let after: Vec<_> = rt.facets().iter().map(|f| f.range()).collect();
    assert_eq!(after, [0..11, 13..17, 26..37]);
    let texts: Vec<_> = rt.facets().iter().map(|f| &rt.text()[f.range()]).collect();
    assert_eq!(texts, ["@alice.test", "#tag", "example.com"]);
}

#[test]
fn clean_facet_spanning_blank_lines_shrinks_with_them() {
    let mut rt = RichText::with_facets(
        "a\n\n\n\nb",
        vec![Facet::new(0..6, Feature::Tag("all".into()))],
    )
    .unwrap();
    rt.clean_newlines();
    assert_eq!(rt.text(), "a\n\nb");
    assert_eq!(rt.facets()[0].range(), 0..4);
}

#[test]
fn clean_the_official_mixed_line_break_case() {
    assert_eq!(
        cleaned("test\r\ntest\n\rtest\rtest\n\n\n\ntest\n\r \n \n \n \n\n\ntest"),
        "test\r\ntest\n\rtest\rtest\n\ntest\n\ntest"
    );
}

#[test]
fn clean_facets_over_and_across_blank_line_runs() {
    let text = "test\n\n\n\n\ntest\n\n\n\n\n\n\ntest\n\n\n\n\n\n\ntest\n\n\n\n\n\n\ntest";
    let facets = [0..13, 13..24, 9..15, 4..9]
        .into_iter()
        .map(|r| Facet::new(r, Feature::Tag("t".into())))
        .collect();
    let mut rt = RichText::with_facets(text, facets).unwrap();
    let covered = |rt: &RichText| -> Vec<(std::ops::Range<usize>, String)> {
        rt.facets()
            .iter()
            .map(|f| (f.range(), rt.text()[f.range()].to_owned()))
            .collect()
    };
    assert_eq!(
        covered(&rt),
        [
            (0..13, "test\n\n\n\n\ntest".to_owned()),
            (4..9, "\n\n\n\n\n".to_owned()),
            (9..15, "test\n\n".to_owned()),
            (13..24, "\n\n\n\n\n\n\ntest".to_owned()),
        ]
    );
    rt.clean_newlines();
    assert_eq!(rt.text(), "test\n\ntest\n\ntest\n\ntest\n\ntest");
    // The facet that was only blank lines is gone; the others keep their
    // words, with the blank lines between them collapsed.
    assert_eq!(
        covered(&rt),
        [
            (0..10, "test\n\ntest".to_owned()),
            (6..10, "test".to_owned()),
            (12..16, "test".to_owned()),
        ]
    );
}
