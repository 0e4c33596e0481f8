//! Insert and delete keep facets on their characters: the scenarios of the
//! official client (before, inside, after; entirely outer, partly before or
//! after, inside) with ASCII and multi-byte text, exact byte ranges each.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_richtext::{detect_facets, Error, Facet, Feature, RangeProblem, RichText};

fn tag(range: std::ops::Range<usize>) -> Facet {
    Facet::new(range, Feature::Tag("x".into()))
}

fn ranges(rt: &RichText) -> Vec<(usize, usize)> {
    rt.facets().iter().map(|f| (f.start, f.end)).collect()
}

fn hello() -> RichText {
    RichText::with_facets("hello world", vec![tag(2..7)]).unwrap()
}

/// Three ZWJ family emoji (25 bytes each) after words, with facets on each
/// word+emoji: `one👨‍👩‍👧‍👧` 0..28, `two👨‍👩‍👧‍👧` 29..57, `three👨‍👩‍👧‍👧` 58..88.
const FAT: &str = "one👨‍👩‍👧‍👧 two👨‍👩‍👧‍👧 three👨‍👩‍👧‍👧";

fn fat_all() -> RichText {
    RichText::with_facets(FAT, vec![tag(0..28), tag(29..57), tag(58..88)]).unwrap()
}

fn fat_middle() -> RichText {
    RichText::with_facets(FAT, vec![tag(29..57)]).unwrap()
}

fn covered(rt: &RichText) -> Vec<&str> {
    rt.facets().iter().map(|f| &rt.text()[f.range()]).collect()
}

#[test]
fn insert_before_facet_moves_it() {
    let mut rt = hello();
    rt.insert(0, "test").unwrap();
    assert_eq!(rt.text(), "testhello world");
    assert_eq!(ranges(&rt), [(6, 11)]);
    assert_eq!(covered(&rt), ["llo w"]);
}

#[test]
fn insert_inside_facet_grows_it() {
    let mut rt = hello();
    rt.insert(4, "test").unwrap();
    assert_eq!(rt.text(), "helltesto world");
    assert_eq!(ranges(&rt), [(2, 11)]);
    assert_eq!(covered(&rt), ["lltesto w"]);
}

#[test]
fn insert_after_facet_leaves_it() {
    let mut rt = hello();
    rt.insert(8, "test").unwrap();
    assert_eq!(rt.text(), "hello wotestrld");
    assert_eq!(ranges(&rt), [(2, 7)]);
}

#[test]
fn insert_at_facet_start_moves_it() {
    let mut rt = hello();
    rt.insert(2, "X").unwrap();
    assert_eq!(ranges(&rt), [(3, 8)]);
    assert_eq!(covered(&rt), ["llo w"]);
}

#[test]
fn insert_at_facet_end_leaves_it() {
    let mut rt = hello();
    rt.insert(7, "X").unwrap();
    assert_eq!(ranges(&rt), [(2, 7)]);
    assert_eq!(rt.text(), "hello wXorld");
}

#[test]
fn insert_emoji_counts_bytes() {
    let mut rt = hello();
    rt.insert(0, "👨‍👩‍👧‍👧").unwrap();
    assert_eq!(ranges(&rt), [(27, 32)]);
    assert_eq!(covered(&rt), ["llo w"]);
}

#[test]
fn insert_fat_unicode_before() {
    let mut rt = fat_all();
    rt.insert(0, "test").unwrap();
    assert_eq!(ranges(&rt), [(4, 32), (33, 61), (62, 92)]);
    assert_eq!(covered(&rt), ["one👨‍👩‍👧‍👧", "two👨‍👩‍👧‍👧", "three👨‍👩‍👧‍👧"]);
}

#[test]
fn insert_fat_unicode_inside() {
    let mut rt = fat_all();
    rt.insert(3, "test").unwrap();
    assert_eq!(ranges(&rt), [(0, 32), (33, 61), (62, 92)]);
    assert_eq!(covered(&rt), ["onetest👨‍👩‍👧‍👧", "two👨‍👩‍👧‍👧", "three👨‍👩‍👧‍👧"]);
}

#[test]
fn insert_fat_unicode_after() {
    let mut rt = fat_all();
    rt.insert(28, "test").unwrap();
    assert_eq!(ranges(&rt), [(0, 28), (33, 61), (62, 92)]);
    assert_eq!(covered(&rt), ["one👨‍👩‍👧‍👧", "two👨‍👩‍👧‍👧", "three👨‍👩‍👧‍👧"]);
}

#[test]
fn insert_inside_a_character_is_refused() {
    let mut rt = RichText::with_facets("héllo", vec![tag(0..6)]).unwrap();
    let err = rt.insert(2, "x").unwrap_err();
    assert_eq!(
        err,
        Error::Edit {
            operation: "insert",
            problem: RangeProblem::NotCharBoundary { offset: 2 }
        }
    );
    assert_eq!(
        err.to_string(),
        "rich text insert: byte offset 2 falls inside a multi-byte UTF-8 character"
    );
    assert_eq!(rt.text(), "héllo");
    assert_eq!(ranges(&rt), [(0, 6)]);
}

#[test]
fn insert_past_the_end_is_refused() {
    let mut rt = hello();
    assert_eq!(
        rt.insert(12, "x").unwrap_err(),
        Error::Edit {
            operation: "insert",
            problem: RangeProblem::PastEnd {
                offset: 12,
                len: 11
            }
        }
    );
    rt.insert(11, "!").unwrap();
    assert_eq!(rt.text(), "hello world!");
}

#[test]
fn delete_entirely_around_facet_removes_it() {
    let mut rt = hello();
    rt.delete(0..9).unwrap();
    assert_eq!(rt.text(), "ld");
    assert!(rt.facets().is_empty());
}

#[test]
fn delete_entirely_after_facet_leaves_it() {
    let mut rt = hello();
    rt.delete(7..11).unwrap();
    assert_eq!(rt.text(), "hello w");
    assert_eq!(ranges(&rt), [(2, 7)]);
}

#[test]
fn delete_partly_after_facet_cuts_its_tail() {
    let mut rt = hello();
    rt.delete(4..11).unwrap();
    assert_eq!(rt.text(), "hell");
    assert_eq!(ranges(&rt), [(2, 4)]);
    assert_eq!(covered(&rt), ["ll"]);
}

#[test]
fn delete_inside_facet_shrinks_it() {
    let mut rt = hello();
    rt.delete(3..5).unwrap();
    assert_eq!(rt.text(), "hel world");
    assert_eq!(ranges(&rt), [(2, 5)]);
    assert_eq!(covered(&rt), ["l w"]);
}

#[test]
fn delete_partly_before_facet_cuts_its_head() {
    let mut rt = hello();
    rt.delete(1..5).unwrap();
    assert_eq!(rt.text(), "h world");
    assert_eq!(ranges(&rt), [(1, 3)]);
    assert_eq!(covered(&rt), [" w"]);
}

#[test]
fn delete_entirely_before_facet_moves_it() {
    let mut rt = hello();
    rt.delete(0..2).unwrap();
    assert_eq!(rt.text(), "llo world");
    assert_eq!(ranges(&rt), [(0, 5)]);
    assert_eq!(covered(&rt), ["llo w"]);
}

#[test]
fn delete_fat_unicode_entirely_outer() {
    let mut rt = fat_middle();
    rt.delete(28..58).unwrap();
    assert_eq!(rt.text(), "one👨‍👩‍👧‍👧three👨‍👩‍👧‍👧");
    assert!(rt.facets().is_empty());
}

#[test]
fn delete_fat_unicode_entirely_after() {
    let mut rt = fat_middle();
    rt.delete(57..88).unwrap();
    assert_eq!(rt.text(), "one👨‍👩‍👧‍👧 two👨‍👩‍👧‍👧");
    assert_eq!(ranges(&rt), [(29, 57)]);
}

#[test]
fn delete_fat_unicode_partly_after() {
    let mut rt = fat_middle();
    rt.delete(31..88).unwrap();
    assert_eq!(rt.text(), "one👨‍👩‍👧‍👧 tw");
    assert_eq!(ranges(&rt), [(29, 31)]);
    assert_eq!(covered(&rt), ["tw"]);
}

#[test]
fn delete_fat_unicode_inside() {
    let mut rt = fat_middle();
    rt.delete(30..32).unwrap();
    assert_eq!(rt.text(), "one👨‍👩‍👧‍👧 t👨‍👩‍👧‍👧 three👨‍👩‍👧‍👧");
    assert_eq!(ranges(&rt), [(29, 55)]);
    assert_eq!(covered(&rt), ["t👨‍👩‍👧‍👧"]);
}

#[test]
fn delete_fat_unicode_partly_before() {
    let mut rt = fat_middle();
    rt.delete(28..31).unwrap();
    assert_eq!(rt.text(), "one👨‍👩‍👧‍👧o👨‍👩‍👧‍👧 three👨‍👩‍👧‍👧");
    assert_eq!(ranges(&rt), [(28, 54)]);
    assert_eq!(covered(&rt), ["o👨‍👩‍👧‍👧"]);
}

#[test]
fn delete_fat_unicode_entirely_before() {
    let mut rt = fat_middle();
    rt.delete(0..2).unwrap();
    assert_eq!(rt.text(), "e👨‍👩‍👧‍👧 two👨‍👩‍👧‍👧 three👨‍👩‍👧‍👧");
    assert_eq!(ranges(&rt), [(27, 55)]);
    assert_eq!(covered(&rt), ["two👨‍👩‍👧‍👧"]);
}

#[test]
fn delete_part_of_a_zwj_sequence_keeps_offsets_on_boundaries() {
    // Remove the first person and its joiner (4 + 3 bytes) from the middle
    // facet's family emoji.
    let mut rt = fat_middle();
    rt.delete(32..39).unwrap();
    assert_eq!(ranges(&rt), [(29, 50)]);
    assert_eq!(covered(&rt), ["two👩‍👧‍👧"]);
}

#[test]
fn delete_inside_a_character_is_refused() {
    let mut rt = fat_middle();
    let err = rt.delete(30..34).unwrap_err();
    assert_eq!(
        err,
        Error::Edit {
            operation: "delete",
            problem: RangeProblem::NotCharBoundary { offset: 34 }
        }
    );
    assert_eq!(rt.text(), FAT);
    assert_eq!(ranges(&rt), [(29, 57)]);
}

#[test]
fn delete_reversed_or_past_end_is_refused() {
    let mut rt = hello();
    // Built from variables: a reversed range literal is what the test is about.
    let (start, end) = (5, 3);
    assert_eq!(
        rt.delete(start..end).unwrap_err(),
        Error::Edit {
            operation: "delete",
            problem: RangeProblem::Reversed { start: 5, end: 3 }
        }
    );
    assert_eq!(
        rt.delete(3..40).unwrap_err().to_string(),
        "rich text delete: byte offset 40 is past the end of the text (11 bytes)"
    );
    assert_eq!(rt, hello());
}

#[test]
fn delete_nothing_changes_nothing() {
    let mut rt = hello();
    rt.delete(4..4).unwrap();
    assert_eq!(rt, hello());
}

#[test]
fn delete_removes_empty_facets() {
    let mut rt = RichText::with_facets("abcdef", vec![tag(1..1), tag(2..4)]).unwrap();
    rt.delete(5..6).unwrap();
    assert_eq!(ranges(&rt), [(2, 4)]);
}

#[test]
fn edits_on_rtl_text() {
    let mut rt = RichText::detect("שלום #עולם");
    assert_eq!(ranges(&rt), [(9, 18)]);
    rt.insert(0, "אבג ").unwrap();
    assert_eq!(ranges(&rt), [(16, 25)]);
    assert_eq!(covered(&rt), ["#עולם"]);
    rt.delete(0..16).unwrap();
    assert_eq!(ranges(&rt), [(0, 9)]);
}

#[test]
fn edits_agree_with_detecting_again() {
    let mut rt = RichText::detect("see @alice.test and #猫 at example.com");
    rt.insert(0, "Привет ").unwrap();
    let again = detect_facets(rt.text());
    assert_eq!(rt.facets(), &again[..]);
    assert_eq!(ranges(&rt), [(17, 28), (33, 37), (41, 52)]);

    // Delete "and " (4 bytes): everything after moves back.
    rt.delete(29..33).unwrap();
    assert_eq!(rt.facets(), &detect_facets(rt.text())[..]);
    assert_eq!(ranges(&rt), [(17, 28), (29, 33), (37, 48)]);
}
