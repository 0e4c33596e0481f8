//! Muted words: which of the viewer's muted words and tags a text contains,
//! matched the way the official app matches them.

use std::time::{SystemTime, UNIX_EPOCH};

use atproto_api::app::bsky::actor::defs::{MutedWord, MutedWordActorTarget, MutedWordTarget};
use atproto_richtext::is_punctuation;

use super::decision::MuteWordMatch;

/// Languages written without spaces between words (or not in a way that
/// word matching can use): for these a muted word matches anywhere in the
/// text.
const NO_SPACE_LANGUAGES: [&str; 5] = ["ja", "zh", "ko", "th", "vi"];

/// A text to check against muted words, with what matching needs to know
/// about it.
///
/// ```
/// use atproto_client::moderation::MuteWordText;
/// let t = MuteWordText { text: "hello #rust", tags: &["rust"], languages: &["en"], author_followed: false };
/// assert_eq!(t.tags, ["rust"]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MuteWordText<'t> {
    /// The text (a post's text, an image's alt text, a link card's title and
    /// description).
    pub text: &'t str,
    /// The post's tags: its `tags` and the tags of its facets.
    pub tags: &'t [&'t str],
    /// The post's languages; only the first one counts.
    pub languages: &'t [&'t str],
    /// Whether the viewer follows the author (muted words that exclude
    /// followed accounts then do not apply).
    pub author_followed: bool,
}

/// The viewer's muted words found in `subject` (`matchMuteWords`): expired
/// words and words excluding followed authors are skipped; a word matches a
/// tag of the post (whatever its targets); words targeting content also
/// match the text: anywhere when one character long or when the first
/// language is written without spaces (ja, zh, ko, th, vi), as a phrase when
/// they contain spaces or punctuation, otherwise as a whole word, ignoring
/// case and the punctuation around words (`s@ssy` stays one word;
/// `and/or` never matches `andor`).
///
/// ```
/// use atproto_client::atproto_api::app::bsky::actor::defs::{MutedWord, MutedWordTarget};
/// use atproto_client::moderation::{match_mute_words, MuteWordText};
///
/// let words = [MutedWord::new("spoiler".into(), vec![MutedWordTarget::Content.into()])];
/// let text = MuteWordText { text: "No SPOILERS, no spoiler!", ..Default::default() };
/// let found = match_mute_words(&words, &text);
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].predicate, "spoiler!");
/// ```
pub fn match_mute_words<'w>(
    muted_words: &'w [MutedWord],
    subject: &MuteWordText<'_>,
) -> Vec<MuteWordMatch<'w>> {
    let mut prepared = PreparedText::new(subject.text);
    let no_spaces = subject
        .languages
        .first()
        .is_some_and(|l| NO_SPACE_LANGUAGES.contains(l));
    let mut now = None;
    let mut matches = Vec::new();
    for word in muted_words {
        if let Some(expires) = &word.expires_at {
            let now = *now.get_or_insert_with(now_micros);
            if expires.unix_micros() < now {
                continue;
            }
        }
        if subject.author_followed
            && word.actor_target.known() == Some(MutedWordActorTarget::ExcludeFollowing)
        {
            continue;
        }
        let muted = word.value.to_lowercase();
        if subject.tags.iter().any(|t| eq_lowercase(t, &muted)) {
            matches.push(MuteWordMatch {
                word,
                predicate: word.value.clone(),
            });
            continue;
        }
        let targets_content = word
            .targets
            .iter()
            .any(|t| t.known() == Some(MutedWordTarget::Content));
        if !targets_content {
            continue;
        }
        if let Some(predicate) = prepared.find(&muted, &word.value, no_spaces) {
            matches.push(MuteWordMatch { word, predicate });
        }
    }
    matches
}

/// Whether any muted word is found (`hasMutedWord`).
///
/// ```
/// use atproto_client::atproto_api::app::bsky::actor::defs::{MutedWord, MutedWordTarget};
/// use atproto_client::moderation::{has_muted_word, MuteWordText};
/// let words = [MutedWord::new("rust".into(), vec![MutedWordTarget::Tag.into()])];
/// let tagged = MuteWordText { text: "nothing here", tags: &["Rust"], ..Default::default() };
/// assert!(has_muted_word(&words, &tagged));
/// ```
pub fn has_muted_word(muted_words: &[MutedWord], subject: &MuteWordText<'_>) -> bool {
    !match_mute_words(muted_words, subject).is_empty()
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn eq_lowercase(tag: &str, lower: &str) -> bool {
    if tag.is_ascii() {
        tag.eq_ignore_ascii_case(lower)
    } else {
        tag.to_lowercase() == lower
    }
}

/// JavaScript's `\s`.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// Length in UTF-16 code units, as JavaScript counts a string's length.
fn js_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().map(char::len_utf16).sum()
    }
}

/// The text lowercased once, and its words split lazily, shared by all the
/// muted words checked against it.
struct PreparedText<'t> {
    original: &'t str,
    lower: Option<String>,
}

impl<'t> PreparedText<'t> {
    fn new(original: &'t str) -> Self {
        PreparedText {
            original,
            lower: None,
        }
    }

    fn lower(&mut self) -> &str {
        let original = self.original;
        self.lower.get_or_insert_with(|| original.to_lowercase())
    }

    /// The predicate of a content match of `muted` (already lowercase).
    fn find(&mut self, muted: &str, value: &str, no_spaces: bool) -> Option<String> {
        let text = self.lower();
        let muted_len = js_len(muted);
        if (muted_len == 1 || no_spaces) && text.contains(muted) {
            return Some(value.to_owned());
        }
        if muted_len > js_len(text) {
            return None;
        }
        if muted == text {
            return Some(value.to_owned());
        }
        if muted.chars().any(|c| is_js_space(c) || is_punctuation(c)) && text.contains(muted) {
            return Some(value.to_owned());
        }
        for word in text.split(is_js_space) {
            if word == muted {
                return Some(word.to_owned());
            }
            let trimmed = word.trim_matches(is_punctuation);
            if trimmed == muted {
                return Some(word.to_owned());
            }
            if muted_len > js_len(trimmed) {
                continue;
            }
            if trimmed.chars().any(is_punctuation) {
                // A slash joins alternatives (`and/or`), not parts of one
                // word: no other word of the text is tried for this muted
                // word either, as in the official client.
                if trimmed.contains('/') {
                    return None;
                }
                let spaced = replace_punctuation_runs(trimmed);
                if spaced == muted {
                    return Some(word.to_owned());
                }
                let contiguous: String = spaced.chars().filter(|c| !is_js_space(*c)).collect();
                if contiguous == muted {
                    return Some(word.to_owned());
                }
                if trimmed
                    .split(is_punctuation)
                    .any(|part| !part.is_empty() && part == muted)
                {
                    return Some(word.to_owned());
                }
            }
        }
        None
    }
}

/// Each run of punctuation replaced by one space.
fn replace_punctuation_runs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if is_punctuation(c) {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}
