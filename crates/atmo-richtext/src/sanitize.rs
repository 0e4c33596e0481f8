//! Collapsing runs of blank lines, as the official client's `cleanNewlines`.

use std::ops::Range;

use crate::detect::is_js_space;

fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

/// Whitespace, plus the invisible characters people use to fake blank lines:
/// soft hyphen, word joiner, zero-width joiner/non-joiner/space.
fn is_blank(c: char) -> bool {
    is_js_space(c)
        || matches!(
            c,
            '\u{AD}' | '\u{2060}' | '\u{200D}' | '\u{200C}' | '\u{200B}'
        )
}

/// The first run of blank space that holds three or more line breaks: from
/// the first line break to just past the last one in that run of blanks.
/// (`\r` and `\n` count one each, so `\r\n\r\n` is such a run too.)
pub(crate) fn excess_newlines(text: &str) -> Option<Range<usize>> {
    for (at, c) in text.char_indices() {
        if !is_newline(c) {
            continue;
        }
        let after = at + c.len_utf8();
        let mut breaks = 0;
        let mut end = after;
        for (i, b) in text.get(after..)?.char_indices() {
            if !is_blank(b) {
                break;
            }
            if is_newline(b) {
                breaks += 1;
                end = after + i + b.len_utf8();
            }
        }
        if breaks >= 2 {
            return Some(at..end);
        }
    }
    None
}
