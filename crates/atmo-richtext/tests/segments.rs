//! Segments for rendering and grapheme/byte lengths, with exact byte ranges.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_richtext::{Facet, Feature, RichText};

fn tag(range: std::ops::Range<usize>) -> Facet {
    Facet::new(range, Feature::Tag("x".into()))
}

/// `(start, end, text, has a facet)` for every segment.
fn segs(rt: &RichText) -> Vec<(usize, usize, &str, bool)> {
    rt.segments()
        .map(|s| {
            assert_eq!(&rt.text()[s.range()], s.text);
            (s.start, s.end, s.text, s.facet.is_some())
        })
        .collect()
}

#[test]
fn empty_text_is_one_empty_segment() {
    assert_eq!(segs(&RichText::new("")), [(0, 0, "", false)]);
}

#[test]
fn text_without_facets_is_one_segment() {
    assert_eq!(segs(&RichText::new("hello")), [(0, 5, "hello", false)]);
}

#[test]
fn facet_in_the_middle_makes_three_segments() {
    let rt = RichText::with_facets("one two three", vec![tag(4..7)]).unwrap();
    assert_eq!(
        segs(&rt),
        [
            (0, 4, "one ", false),
            (4, 7, "two", true),
            (7, 13, " three", false)
        ]
    );
}

#[test]
fn facet_at_the_start_makes_two_segments() {
    let rt = RichText::with_facets("one two three", vec![tag(0..7)]).unwrap();
    assert_eq!(
        segs(&rt),
        [(0, 7, "one two", true), (7, 13, " three", false)]
    );
}

#[test]
fn facet_at_the_end_makes_two_segments() {
    let rt = RichText::with_facets("one two three", vec![tag(4..13)]).unwrap();
    assert_eq!(
        segs(&rt),
        [(0, 4, "one ", false), (4, 13, "two three", true)]
    );
}

#[test]
fn facet_over_everything_is_one_segment() {
    let rt = RichText::with_facets("one two three", vec![tag(0..13)]).unwrap();
    assert_eq!(segs(&rt), [(0, 13, "one two three", true)]);
}

#[test]
fn three_facets_make_five_segments() {
    let rt =
        RichText::with_facets("one two three", vec![tag(8..13), tag(0..3), tag(4..7)]).unwrap();
    assert_eq!(
        segs(&rt),
        [
            (0, 3, "one", true),
            (3, 4, " ", false),
            (4, 7, "two", true),
            (7, 8, " ", false),
            (8, 13, "three", true),
        ]
    );
}

#[test]
fn segments_use_utf8_offsets() {
    let text = "one👨‍👩‍👧‍👧 two👨‍👩‍👧‍👧 three👨‍👩‍👧‍👧";
    let rt = RichText::with_facets(text, vec![tag(0..28), tag(29..57), tag(58..88)]).unwrap();
    assert_eq!(
        segs(&rt),
        [
            (0, 28, "one👨‍👩‍👧‍👧", true),
            (28, 29, " ", false),
            (29, 57, "two👨‍👩‍👧‍👧", true),
            (57, 58, " ", false),
            (58, 88, "three👨‍👩‍👧‍👧", true),
        ]
    );
}

#[test]
fn overlapping_facet_is_skipped() {
    let rt = RichText::with_facets("abcdefghij", vec![tag(0..5), tag(3..8)]).unwrap();
    assert_eq!(segs(&rt), [(0, 5, "abcde", true), (5, 10, "fghij", false)]);
}

#[test]
fn facet_with_same_start_as_another_is_skipped() {
    let rt = RichText::with_facets(
        "abcdefghij",
        vec![
            Facet::new(2..4, Feature::Tag("first".into())),
            Facet::new(2..6, Feature::Tag("second".into())),
        ],
    )
    .unwrap();
    let shown: Vec<_> = rt.segments().map(|s| (s.range(), s.tag())).collect();
    assert_eq!(shown, [(0..2, None), (2..4, Some("first")), (4..10, None)]);
}

#[test]
fn whitespace_only_facet_is_plain() {
    let rt = RichText::with_facets("a \u{3000}\n b", vec![tag(1..7)]).unwrap();
    assert_eq!(
        segs(&rt),
        [
            (0, 1, "a", false),
            (1, 7, " \u{3000}\n ", false),
            (7, 8, "b", false)
        ]
    );
}

#[test]
fn empty_facet_yields_no_segment() {
    let rt = RichText::with_facets("abcdef", vec![tag(3..3)]).unwrap();
    assert_eq!(segs(&rt), [(0, 3, "abc", false), (3, 6, "def", false)]);
}

#[test]
fn segments_of_detected_text_expose_features() {
    let rt = RichText::detect("שלום #עולם see example.com!");
    let shown: Vec<_> = rt
        .segments()
        .map(|s| (s.range(), s.text, s.tag(), s.link().map(|u| u.as_str())))
        .collect();
    assert_eq!(
        shown,
        [
            (0..9, "שלום ", None, None),
            (9..18, "#עולם", Some("עולם"), None),
            (18..23, " see ", None, None),
            (23..34, "example.com", None, Some("https://example.com")),
            (34..35, "!", None, None),
        ]
    );
}

#[test]
fn segments_concatenate_to_the_text() {
    let text = "@alice.test 👨‍👩‍👧 #tag e\u{301} https://x.com/(a) 東京 #";
    let rt = RichText::detect(text);
    let joined: String = rt.segments().map(|s| s.text).collect();
    assert_eq!(joined, text);
    assert_eq!(rt.segments().filter(|s| s.facet.is_some()).count(), 3);
}

#[test]
fn lengths_of_ascii() {
    let rt = RichText::new("Hello!");
    assert_eq!((rt.len(), rt.grapheme_len()), (6, 6));
}

#[test]
fn lengths_of_zwj_family() {
    let rt = RichText::new("👨‍👩‍👧‍👧");
    assert_eq!((rt.len(), rt.grapheme_len()), (25, 1));
}

#[test]
fn lengths_of_mixed_emoji() {
    let rt = RichText::new("👨‍👩‍👧‍👧🔥 good!✅");
    assert_eq!((rt.len(), rt.grapheme_len()), (38, 9));
}

#[test]
fn lengths_of_combining_marks() {
    // e + combining acute, a + combining ring + combining dot below.
    let rt = RichText::new("e\u{301}a\u{30A}\u{323}");
    assert_eq!((rt.len(), rt.grapheme_len()), (8, 2));
}

#[test]
fn lengths_of_hangul_jamo_and_flags() {
    let rt = RichText::new("\u{1100}\u{1161}\u{11A8}🇯🇵");
    assert_eq!((rt.len(), rt.grapheme_len()), (17, 2));
}

#[test]
fn lengths_of_rtl_and_cjk() {
    assert_eq!(RichText::new("שלום").len(), 8);
    assert_eq!(RichText::new("שלום").grapheme_len(), 4);
    assert_eq!(RichText::new("日本語").len(), 9);
    assert_eq!(RichText::new("日本語").grapheme_len(), 3);
}

#[test]
fn facets_out_of_the_text_are_refused() {
    let err = RichText::with_facets("abc", vec![tag(0..1), tag(2..9)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "facet 1: byte offset 9 is past the end of the text (3 bytes)"
    );
    let err = RichText::with_facets("é", vec![tag(0..1)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "facet 0: byte offset 1 falls inside a multi-byte UTF-8 character"
    );
    let reversed = Facet {
        start: 2,
        end: 1,
        features: vec![],
    };
    let err = RichText::with_facets("abc", vec![reversed]).unwrap_err();
    assert_eq!(err.to_string(), "facet 0: start byte 2 is after end byte 1");
}
