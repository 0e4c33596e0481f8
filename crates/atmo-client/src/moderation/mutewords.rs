//! Muted words: which of the viewer's muted words and tags a text contains,
//! matched the way the official app matches them.

use std::borrow::Cow;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use atmo_api::app::bsky::actor::defs::{MutedWord, MutedWordActorTarget, MutedWordTarget};
use atmo_richtext::{is_js_space, is_punctuation};

use super::decision::MuteWordMatch;

/// Languages written without spaces between words (or not in a way that
/// word matching can use): for these a muted word matches anywhere in the
/// text.
const NO_SPACE_LANGUAGES: [&str; 5] = ["ja", "zh", "ko", "th", "vi"];

/// A text to check against muted words, with what matching needs to know
/// about it.
///
/// ```
/// use atmo_client::moderation::MuteWordText;
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
/// use atmo_client::atmo_api::app::bsky::actor::defs::{MutedWord, MutedWordTarget};
/// use atmo_client::moderation::{match_mute_words, MuteWordText};
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
    match_prepared(&prepare(muted_words), subject)
}

/// A muted word with what matching needs, computed once for all the texts
/// of a post.
pub(super) struct PreparedWord<'w> {
    word: &'w MutedWord,
    /// The value, lowercased.
    lower: Cow<'w, str>,
    /// Its length in UTF-16 units.
    len: usize,
    /// Whether it contains whitespace or punctuation.
    phrase: bool,
    /// Without whitespace or punctuation: what the text without punctuation
    /// must contain for any word of it to match.
    key: Cow<'w, str>,
    content: bool,
    exclude_following: bool,
}

/// The muted words that have not expired, prepared.
pub(super) fn prepare(muted_words: &[MutedWord]) -> Vec<PreparedWord<'_>> {
    let mut now = None;
    muted_words
        .iter()
        .filter(|w| match &w.expires_at {
            Some(expires) => expires.unix_micros() >= *now.get_or_insert_with(now_micros),
            None => true,
        })
        .map(|word| {
            let lower = lowercase(&word.value);
            let phrase = lower.chars().any(|c| is_js_space(c) || is_punct(c));
            let key = if phrase {
                Cow::Owned(
                    lower
                        .chars()
                        .filter(|c| !is_js_space(*c) && !is_punct(*c))
                        .collect(),
                )
            } else {
                lower.clone()
            };
            PreparedWord {
                word,
                len: js_len(&lower),
                lower,
                phrase,
                key,
                content: word
                    .targets
                    .iter()
                    .any(|t| t.known() == Some(MutedWordTarget::Content)),
                exclude_following: word.actor_target.known()
                    == Some(MutedWordActorTarget::ExcludeFollowing),
            }
        })
        .collect()
}

/// [`match_mute_words`] over prepared words.
pub(super) fn match_prepared<'w>(
    prepared: &[PreparedWord<'w>],
    subject: &MuteWordText<'_>,
) -> Vec<MuteWordMatch<'w>> {
    let mut text = Text {
        lower: lowercase(subject.text),
        len: 0,
        words: None,
        bare: None,
    };
    text.len = js_len(&text.lower);
    let no_spaces = subject
        .languages
        .first()
        .is_some_and(|l| NO_SPACE_LANGUAGES.contains(l));
    let mut matches = Vec::new();
    for p in prepared {
        if subject.author_followed && p.exclude_following {
            continue;
        }
        if subject.tags.iter().any(|t| eq_lowercase(t, &p.lower)) {
            matches.push(MuteWordMatch {
                word: p.word,
                predicate: p.word.value.clone(),
            });
            continue;
        }
        if !p.content {
            continue;
        }
        if let Some(predicate) = find(&mut text, p, no_spaces) {
            matches.push(MuteWordMatch {
                word: p.word,
                predicate,
            });
        }
    }
    matches
}

/// Whether any muted word is found (`hasMutedWord`).
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::{MutedWord, MutedWordTarget};
/// use atmo_client::moderation::{has_muted_word, MuteWordText};
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

/// Length in UTF-16 code units, as JavaScript counts a string's length.
fn js_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().map(char::len_utf16).sum()
    }
}

/// Lowercased as JavaScript's `toLowerCase`, without copying text that
/// has no uppercase ASCII letter and no other character.
fn lowercase(s: &str) -> Cow<'_, str> {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Unicode general category P, with the ASCII range answered directly.
fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, '!'..='#' | '%'..='*' | ','..='/' | ':' | ';' | '?' | '@' | '['..=']' | '_' | '{' | '}')
    } else {
        is_punctuation(c)
    }
}

/// One whitespace-separated word of the (lowercased) text, as byte ranges,
/// with what every muted word compares against, computed once per text.
struct Word {
    word: Range<usize>,
    /// Without leading and trailing punctuation.
    trimmed: Range<usize>,
    trimmed_len: usize,
    /// Whether the trimmed word contains punctuation.
    punct: bool,
}

fn split_words(text: &str) -> Vec<Word> {
    let base = text.as_ptr() as usize;
    text.split(is_js_space)
        .map(|word| {
            let trimmed = word.trim_matches(is_punct);
            let start = word.as_ptr() as usize - base;
            let t_start = trimmed.as_ptr() as usize - base;
            Word {
                word: start..start + word.len(),
                trimmed: t_start..t_start + trimmed.len(),
                trimmed_len: js_len(trimmed),
                punct: trimmed.chars().any(is_punct),
            }
        })
        .collect()
}

/// A text being matched: lowercased, and the parts computed when a muted
/// word first needs them.
struct Text<'t> {
    lower: Cow<'t, str>,
    /// Length in UTF-16 units.
    len: usize,
    /// Its words (the lowercased text is `lower`, owned or borrowed; words
    /// are kept as ranges into it).
    words: Option<Vec<Word>>,
    /// The text without punctuation.
    bare: Option<String>,
}

/// The predicate of a content match of `p` in `text`.
fn find(text: &mut Text<'_>, p: &PreparedWord<'_>, no_spaces: bool) -> Option<String> {
    let muted: &str = &p.lower;
    let lower: &str = &text.lower;
    if (p.len == 1 || no_spaces) && lower.contains(muted) {
        return Some(p.word.value.clone());
    }
    if p.len > text.len {
        return None;
    }
    if muted == lower {
        return Some(p.word.value.clone());
    }
    if p.phrase && lower.contains(muted) {
        return Some(p.word.value.clone());
    }
    // Whatever word of the text matches, it lies in the text with its
    // punctuation removed once the muted word's spaces and punctuation are
    // removed too: most muted words are ruled out here without looking at
    // words.
    let bare = text
        .bare
        .get_or_insert_with(|| lower.chars().filter(|c| !is_punct(*c)).collect());
    if !bare.contains(&*p.key) {
        return None;
    }
    let words = text.words.get_or_insert_with(|| split_words(lower));
    for w in words.iter() {
        let word = &lower[w.word.clone()];
        let trimmed = &lower[w.trimmed.clone()];
        if word == muted || trimmed == muted {
            return Some(word.to_owned());
        }
        if p.len > w.trimmed_len || !w.punct {
            continue;
        }
        // A slash joins alternatives (`and/or`), not parts of one word: no
        // other word of the text is tried for this muted word either, as in
        // the official client.
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
            .split(is_punct)
            .any(|part| !part.is_empty() && part == muted)
        {
            return Some(word.to_owned());
        }
    }
    None
}

/// Each run of punctuation replaced by one space.
fn replace_punctuation_runs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if is_punct(c) {
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
