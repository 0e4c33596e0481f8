//! Hand-written scanners for mentions, links and hashtags.
//!
//! Each scanner follows the matching rules of the official TypeScript
//! client's detection (its regular expressions, read as specifications), so
//! that a post gets the same facets whichever client wrote it. All offsets
//! are UTF-8 byte offsets into the scanned text; every slice is taken at a
//! position found by walking characters or ASCII bytes, so none can fall
//! inside a character.

use atmo_types::{Handle, Uri};
use unicode_segmentation::UnicodeSegmentation;

use crate::facet::{Facet, Feature};
use crate::punct::PUNCTUATION;
use crate::tlds::TLDS;

/// The longest hashtag made a facet of, in graphemes: the official client's
/// limit and the `maxGraphemes` of `app.bsky.richtext.facet#tag`.
pub const MAX_TAG_GRAPHEMES: usize = 64;

/// The longest hashtag made a facet of, in UTF-8 bytes: the `maxLength` of
/// `app.bsky.richtext.facet#tag`, so that a detected tag always fits a record
/// (64 graphemes of long emoji sequences would not).
pub const MAX_TAG_BYTES: usize = 640;

/// Finds every mention, link and hashtag in `text`, ordered by start offset.
///
/// Mentions come back as [`Feature::UnresolvedMention`]: resolve them with
/// [`RichText::resolve_mentions`](crate::RichText::resolve_mentions) before
/// they go into a record.
///
/// ```
/// use atmo_richtext::{detect_facets, Feature};
///
/// let facets = detect_facets("hi @alice.bsky.social, see example.com #rust");
/// let ranges: Vec<_> = facets.iter().map(|f| f.range()).collect();
/// assert_eq!(ranges, [3..21, 27..38, 39..44]);
/// assert!(matches!(&facets[1].features[0], Feature::Link(uri) if uri.as_str() == "https://example.com"));
/// ```
pub fn detect_facets(text: &str) -> Vec<Facet> {
    let mut facets = Vec::new();
    mentions(text, &mut facets);
    links(text, &mut facets);
    tags(text, &mut facets);
    cashtags(text, &mut facets);
    // Stable, so facets starting at the same byte keep the order above.
    facets.sort_by_key(|f| f.start);
    facets
}

/// Whether `c` is in JavaScript's `\s` (its WhiteSpace and LineTerminator
/// sets), the class the official client's facet detection and muted-word
/// matching split on. Differs from `char::is_whitespace` in U+FEFF (in) and
/// U+0085, U+180E (out).
///
/// ```
/// use atmo_richtext::is_js_space;
/// assert!(is_js_space(' ') && is_js_space('\u{3000}') && is_js_space('\u{FEFF}'));
/// assert!(!is_js_space('\u{85}') && !is_js_space('a'));
/// ```
pub fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// Invisible characters that end a hashtag like whitespace does: soft hyphen,
/// word joiner, hair space, zero-width space/non-joiner/joiner, and the
/// combining enclosing keycap bar.
fn is_invisible_separator(c: char) -> bool {
    matches!(
        c,
        '\u{AD}' | '\u{2060}' | '\u{200A}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{20E2}'
    )
}

/// Whether `c` is in Unicode general category P (punctuation: Pc, Pd, Ps,
/// Pe, Pi, Pf, Po), the class JavaScript's `\p{P}` matches; the official
/// client's hashtag detection and muted-word matching both use it.
///
/// ```
/// use atmo_richtext::is_punctuation;
/// assert!(is_punctuation('!') && is_punctuation('「') && is_punctuation('-'));
/// assert!(!is_punctuation('a') && !is_punctuation('$') && !is_punctuation(' '));
/// ```
pub fn is_punctuation(c: char) -> bool {
    let cp = u32::from(c);
    PUNCTUATION
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// True when `domain` ends in `.` followed by a known top-level domain. The
/// comparison is case-sensitive (the list is lowercase), as in the official
/// client: `example.COM` is not a domain to it either.
pub(crate) fn has_known_tld(domain: &str) -> bool {
    match domain.rsplit_once('.') {
        Some((_, tld)) => TLDS.binary_search(&tld).is_ok(),
        None => false,
    }
}

/// The character that ends just before byte `at`, and where it starts.
fn char_before(text: &str, at: usize) -> Option<(usize, char)> {
    let c = text.get(..at)?.chars().next_back()?;
    Some((at - c.len_utf8(), c))
}

/// JavaScript's `\w` outside Unicode mode, for `\b`.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `@handle` preceded by the start of the text, whitespace or `(`. The
/// handle is the longest run of ASCII letters, digits, `.` and `-` that ends
/// at a word boundary (so trailing dots and hyphens are left out), and counts
/// only if it ends in a known TLD (or `.test`) and is a valid handle.
fn mentions(text: &str, out: &mut Vec<Facet>) {
    let bytes = text.as_bytes();
    // Where the previous match ended: a match cannot reuse its text.
    let mut resume = 0;
    for (at, _) in text.match_indices('@') {
        if at < resume {
            continue;
        }
        match char_before(text, at) {
            None => {}
            Some((pos, c)) if pos >= resume && (is_js_space(c) || c == '(') => {}
            Some(_) => continue,
        }
        let name_start = at + 1;
        let run = bytes
            .get(name_start..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            .count();
        // The longest prefix of the run that ends at a word boundary.
        let Some(len) = (1..=run).rev().find(|&len| {
            let last = bytes
                .get(name_start + len - 1)
                .copied()
                .is_some_and(is_word_byte);
            let next = bytes
                .get(name_start + len)
                .copied()
                .is_some_and(is_word_byte);
            last != next
        }) else {
            continue;
        };
        let end = name_start + len;
        resume = end;
        let Some(name) = text.get(name_start..end) else {
            continue;
        };
        if !has_known_tld(name) && !name.ends_with(".test") {
            continue;
        }
        if let Ok(handle) = Handle::new(name) {
            out.push(Facet::new(at..end, Feature::UnresolvedMention(handle)));
        }
    }
}

/// The length of the scheme prefix when `s` starts with `http://` or
/// `https://` (in any letter case).
fn http_scheme_len(s: &[u8]) -> Option<usize> {
    for scheme in [&b"https://"[..], &b"http://"[..]] {
        if s.len() >= scheme.len() && s[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return Some(scheme.len());
        }
    }
    None
}

/// Byte length of the run of non-whitespace characters at the start of `s`.
fn non_space_len(s: &str) -> usize {
    s.find(is_js_space).unwrap_or(s.len())
}

/// Byte length of a bare domain at the start of `s`: an ASCII letter, then
/// letters and digits, then one or more `.label`s of letters and digits.
fn domain_len(s: &[u8]) -> Option<usize> {
    if !s.first()?.is_ascii_alphabetic() {
        return None;
    }
    let label = |from: usize| {
        s.get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count()
    };
    let mut end = label(0);
    let mut labels = 1;
    while s.get(end) == Some(&b'.') {
        let next = label(end + 1);
        if next == 0 {
            break;
        }
        end += 1 + next;
        labels += 1;
    }
    (labels >= 2).then_some(end)
}

/// Links, with a scheme (`http://`, `https://`) or as a bare domain with a
/// known TLD (linked with `https://` in front), preceded by the start of the
/// text, whitespace or `(`, and running to the next whitespace. One trailing
/// `.,;:!?` is left out, then one trailing `)` when the link has no `(`.
fn links(text: &str, out: &mut Vec<Facet>) {
    let mut resume = 0;
    let mut prev: Option<(usize, char)> = None;
    for (at, c) in text.char_indices() {
        let starts_here = match prev {
            None => true,
            Some((pos, p)) => pos >= resume && (is_js_space(p) || p == '('),
        };
        prev = Some((at, c));
        if !starts_here || at < resume || !c.is_ascii_alphabetic() {
            continue;
        }
        let Some(rest) = text.get(at..) else { continue };
        let (match_len, prefix) = if let Some(scheme) = http_scheme_len(rest.as_bytes()) {
            let tail = rest.get(scheme..).map_or(0, non_space_len);
            if tail == 0 {
                // `https://` then whitespace: not a link, and not a domain.
                continue;
            }
            (scheme + tail, "")
        } else if let Some(domain) = domain_len(rest.as_bytes()) {
            let total = domain + rest.get(domain..).map_or(0, non_space_len);
            resume = at + total;
            if !rest.get(..domain).is_some_and(has_known_tld) {
                continue;
            }
            (total, "https://")
        } else {
            continue;
        };
        resume = at + match_len;
        let Some(mut shown) = rest.get(..match_len) else {
            continue;
        };
        if let Some(s) = shown.strip_suffix(['.', ',', ';', ':', '!', '?']) {
            shown = s;
        }
        if !shown.contains('(') {
            if let Some(s) = shown.strip_suffix(')') {
                shown = s;
            }
        }
        let end = at + shown.len();
        if prefix.is_empty() && http_scheme_len(shown.as_bytes()) == Some(shown.len()) {
            // Only the scheme is left, e.g. `https://.`
            continue;
        }
        if let Ok(uri) = Uri::new(format!("{prefix}{shown}")) {
            out.push(Facet::new(at..end, Feature::Link(uri)));
        }
    }
}

/// Hashtags: `#` (or the full-width `＃`) preceded by the start of the text
/// or whitespace, then the run of characters up to whitespace or an invisible
/// separator. The run must not start with U+FE0F (so the keycap emoji `#️⃣`
/// is not a tag) and must hold something other than ASCII digits and
/// punctuation; trailing punctuation is left out, and tags longer than 64
/// graphemes (or 640 bytes) are ignored.
fn tags(text: &str, out: &mut Vec<Facet>) {
    let mut resume = 0;
    let mut prev: Option<(usize, char)> = None;
    for (at, c) in text.char_indices() {
        let starts_here = match prev {
            None => true,
            Some((pos, p)) => pos >= resume && is_js_space(p),
        };
        prev = Some((at, c));
        if !starts_here || at < resume || !(c == '#' || c == '＃') {
            continue;
        }
        let body_start = at + c.len_utf8();
        let rest = text.get(body_start..).unwrap_or_default();
        let run_len = rest
            .find(|ch: char| is_js_space(ch) || is_invisible_separator(ch))
            .unwrap_or(rest.len());
        let run = rest.get(..run_len).unwrap_or_default();
        let qualifies = !run.starts_with('\u{FE0F}')
            && run
                .chars()
                .any(|ch| !ch.is_ascii_digit() && !is_punctuation(ch));
        if !qualifies {
            resume = body_start;
            continue;
        }
        resume = body_start + run_len;
        let tag = run.trim_end_matches(is_punctuation);
        if tag.is_empty()
            || tag.len() > MAX_TAG_BYTES
            || tag.graphemes(true).nth(MAX_TAG_GRAPHEMES).is_some()
        {
            continue;
        }
        out.push(Facet::new(
            at..body_start + tag.len(),
            Feature::Tag(tag.to_owned()),
        ));
    }
}

/// Characters that may follow a cashtag's ticker (besides whitespace and the
/// end of the text).
fn ends_cashtag(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | ';' | ':' | '!' | '?' | ')' | '"' | '\'' | '\u{2019}'
    )
}

/// Cashtags: `$` preceded by the start of the text, whitespace or `(`, then a
/// ticker of one ASCII letter and up to four more letters or digits, followed
/// by whitespace, the end of the text or closing punctuation (`$AAPL.`,
/// `($TSLA)`). The facet is a tag whose value is `$` and the ticker in
/// capitals, as the official client stores them.
fn cashtags(text: &str, out: &mut Vec<Facet>) {
    let bytes = text.as_bytes();
    let mut resume = 0;
    for (at, _) in text.match_indices('$') {
        if at < resume {
            continue;
        }
        match char_before(text, at) {
            None => {}
            Some((pos, c)) if pos >= resume && (is_js_space(c) || c == '(') => {}
            Some(_) => continue,
        }
        let ticker_start = at + 1;
        if !bytes.get(ticker_start).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let run = bytes
            .get(ticker_start..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if run > 5 {
            continue;
        }
        let end = ticker_start + run;
        let Some(ticker) = text.get(ticker_start..end) else {
            continue;
        };
        let followed_ok = text
            .get(end..)
            .and_then(|rest| rest.chars().next())
            .is_none_or(|c| is_js_space(c) || ends_cashtag(c));
        if !followed_ok {
            continue;
        }
        resume = end;
        out.push(Facet::new(
            at..end,
            Feature::Tag(format!("${}", ticker.to_ascii_uppercase())),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_well_formed() {
        assert!(TLDS.windows(2).all(|w| w[0] < w[1]));
        assert!(TLDS.iter().all(|t| !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')));
        assert!(PUNCTUATION.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(PUNCTUATION.iter().all(|&(lo, hi)| lo <= hi));
    }

    #[test]
    fn punctuation_classes() {
        for c in ['!', '.', '_', '-', '(', '」', '、', '؟', '«', '‽'] {
            assert!(is_punctuation(c), "{c:?}");
        }
        for c in ['a', '1', '$', '+', '^', '🦋', 'é', '中', '\u{0301}'] {
            assert!(!is_punctuation(c), "{c:?}");
        }
    }

    #[test]
    fn tld_lookup() {
        assert!(has_known_tld("example.com"));
        assert!(has_known_tld("a.b.social"));
        assert!(has_known_tld("x.co.uk"));
        // Internationalised TLDs are not in the list (nor in the official one).
        assert!(!has_known_tld("x.xn--p1ai"));
        assert!(!has_known_tld("com"));
        assert!(!has_known_tld("file.jpg"));
        assert!(!has_known_tld("example.COM"));
        assert!(!has_known_tld("example."));
    }

    #[test]
    fn domain_shapes() {
        assert_eq!(domain_len(b"example.com/x"), Some(11));
        assert_eq!(domain_len(b"e.g./foo"), Some(3));
        assert_eq!(domain_len(b"a..b"), None);
        assert_eq!(domain_len(b"1a.com"), None);
        assert_eq!(domain_len(b"abc"), None);
    }
}
