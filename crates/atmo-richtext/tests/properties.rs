//! Invariants over many generated texts made of tricky pieces (emoji and
//! ZWJ sequences, combining marks, RTL and CJK text, zero-width characters,
//! mentions, links, tags, punctuation): detection never panics and gives
//! sorted facets on character boundaries; segments cover the text;
//! edits keep every facet on the same characters. A fixed-seed generator
//! keeps every run the same.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_richtext::{detect_facets, RichText};

/// xorshift64*: small, deterministic, good enough to pick pieces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    " ",
    " ",
    "\n",
    "\u{3000}",
    "\u{200B}",
    "\u{200D}",
    "\u{AD}",
    "\u{FE0F}",
    "\u{20E3}",
    "#",
    "＃",
    "@",
    "(",
    ")",
    ".",
    ",",
    "!",
    "?",
    ":",
    "-",
    "_",
    "/",
    "1",
    "42",
    "a",
    "word",
    "Ünï",
    "e\u{301}",
    "👨‍👩‍👧‍👧",
    "🦋",
    "🇯🇵",
    "שלום",
    "مرحبا",
    "日本語",
    "東京、",
    "。",
    "alice.test",
    "bsky.app",
    "example.com",
    "https://",
    "http://x.com/(a)",
    "@bob.bsky.social",
    "#tag",
    "#１２３",
    "file.jpg",
    "e.g.",
    "\u{202E}",
    "\r\n",
    "$",
    "$AAPL",
    "$tsla.",
];

fn text(rng: &mut Rng) -> String {
    let n = rng.below(24);
    (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect()
}

/// A random character boundary of `s`.
fn boundary(rng: &mut Rng, s: &str) -> usize {
    let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
    bounds[rng.below(bounds.len())]
}

/// Facets may overlap, as in the official client (a tag's text can hold
/// `(@handle.test`, which is also a mention); segments then skip the later.
fn check_facets(rt: &RichText) {
    let mut last_start = 0;
    for f in rt.facets() {
        assert!(
            f.start <= f.end && f.end <= rt.len(),
            "{f:?} in {:?}",
            rt.text()
        );
        assert!(rt.text().is_char_boundary(f.start) && rt.text().is_char_boundary(f.end));
        assert!(
            f.start >= last_start,
            "unsorted in {:?}: {:?}",
            rt.text(),
            rt.facets()
        );
        last_start = f.start;
    }
}

#[test]
fn detection_gives_sorted_facets_on_boundaries() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..5000 {
        let t = text(&mut rng);
        let rt = RichText::detect(t.clone());
        check_facets(&rt);
        for f in rt.facets() {
            assert!(f.end > f.start, "empty facet in {t:?}");
        }
        let joined: String = rt.segments().map(|s| s.text).collect();
        assert_eq!(joined, t);
        let mut pos = 0;
        for s in rt.segments() {
            assert_eq!(s.start, pos);
            pos = s.end;
        }
        assert_eq!(pos, t.len());
    }
}

#[test]
fn edits_keep_facets_on_their_characters() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..3000 {
        let mut rt = RichText::detect(text(&mut rng));
        for _ in 0..4 {
            let before: Vec<String> = rt
                .facets()
                .iter()
                .map(|f| rt.text()[f.range()].to_owned())
                .collect();
            if rng.below(2) == 0 {
                let at = boundary(&mut rng, rt.text());
                let piece = PIECES[rng.below(PIECES.len())];
                let inside = rt.facets().iter().any(|f| f.start < at && at < f.end);
                rt.insert(at, piece).unwrap();
                check_facets(&rt);
                if !inside {
                    // An insert outside every facet leaves their text alone.
                    let after: Vec<String> = rt
                        .facets()
                        .iter()
                        .map(|f| rt.text()[f.range()].to_owned())
                        .collect();
                    assert_eq!(after, before, "insert {piece:?} at {at} in {:?}", rt.text());
                }
            } else {
                let a = boundary(&mut rng, rt.text());
                let b = boundary(&mut rng, rt.text());
                let (from, to) = (a.min(b), a.max(b));
                let touched = rt
                    .facets()
                    .iter()
                    .filter(|f| from < f.end && f.start < to)
                    .count();
                let total = rt.facets().len();
                rt.delete(from..to).unwrap();
                check_facets(&rt);
                if touched == 0 {
                    let after: Vec<String> = rt
                        .facets()
                        .iter()
                        .map(|f| rt.text()[f.range()].to_owned())
                        .collect();
                    assert_eq!(after, before, "delete {from}..{to} in {:?}", rt.text());
                } else {
                    assert!(rt.facets().len() <= total);
                }
            }
        }
    }
}

#[test]
fn clean_newlines_terminates_and_keeps_facets_valid() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..2000 {
        let mut rt = RichText::detect(text(&mut rng).replace(' ', "\n"));
        rt.clean_newlines();
        check_facets(&rt);
        // Idempotent: a second pass changes nothing.
        let once = rt.clone();
        rt.clean_newlines();
        assert_eq!(rt, once);
    }
}

#[test]
fn mentions_and_tags_are_found_again_on_their_own() {
    // A mention's or tag's text, taken alone between spaces, is detected
    // again as the same feature. (Not so for links: one trailing `.` is left
    // out per detection, so `a.com..` gives `a.com.` then `a.com`.)
    let mut rng = Rng(0x0F0F_F0F0_1357_9BDF);
    for _ in 0..2000 {
        let t = text(&mut rng);
        for f in detect_facets(&t) {
            if f.link().is_some() {
                continue;
            }
            let alone = format!(" {} ", &t[f.range()]);
            let again = detect_facets(&alone);
            assert!(
                again
                    .iter()
                    .any(|g| g.range() == (1..1 + f.end - f.start) && g.features == f.features),
                "{:?} from {t:?} gave {again:?}",
                &t[f.range()]
            );
        }
    }
}
