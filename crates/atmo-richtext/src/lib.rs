//! Bluesky rich text: a post's text with its facets (mentions, links,
//! hashtags) as **UTF-8 byte** ranges, the way `app.bsky.feed.post` records
//! store them.
//!
//! [`RichText`] detects facets in plain text the way the official TypeScript
//! client (`@atproto/api`) does, so a post gets the same links, mentions and
//! tags whichever client wrote it; counts graphemes (the unit of a post's
//! 300-character limit); splits the text into [`Segment`]s for rendering;
//! keeps facets on the right characters through [`RichText::insert`] and
//! [`RichText::delete`]; collapses runs of blank lines; and resolves mentioned
//! handles to DIDs through any [`ResolveHandle`] (unresolvable handles are
//! dropped, not an error). Nothing here needs the network except the resolver
//! you pass in.
//!
//! Where it sits: it builds on `atmo-types` (handles, DIDs, URIs) and,
//! with the default feature `record`, on the generated `atmo-api` types of
//! `app.bsky.richtext.facet` (`Facet::to_record`, `RichText::from_record`,
//! `RichText::to_record_facets`); without that feature it needs no generated
//! code at all. `atmo-client` re-exports it as `atmo_client::richtext`
//! and plugs its agent in as the resolver.
//!
//! ```
//! use std::collections::HashMap;
//! use atmo_richtext::{Feature, RichText};
//! use atmo_types::{Did, Handle};
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     struct W;
//! #     impl std::task::Wake for W { fn wake(self: std::sync::Arc<Self>) {} }
//! #     let waker = std::task::Waker::from(std::sync::Arc::new(W));
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     let mut f = std::pin::pin!(f);
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//!
//! let mut rt = RichText::detect("héllo @alice.test and @nobody.test, see bsky.app! #atproto");
//! assert_eq!(rt.len(), 59); // bytes
//! assert_eq!(rt.grapheme_len(), 58);
//!
//! // Mentions resolve through anything that implements ResolveHandle; a map here.
//! let dids = HashMap::from([(
//!     Handle::new("alice.test")?,
//!     Did::new("did:plc:alice")?,
//! )]);
//! block_on(rt.resolve_mentions(&dids));
//!
//! let ranges: Vec<_> = rt.facets().iter().map(|f| f.range()).collect();
//! assert_eq!(ranges, [7..18, 41..49, 51..59]); // @nobody.test did not resolve
//!
//! let rendered: Vec<String> = rt
//!     .segments()
//!     .map(|s| match s.facet.and_then(|f| f.features.first()) {
//!         Some(Feature::Mention(did)) => format!("[{}]({did})", s.text),
//!         Some(Feature::Link(uri)) => format!("[{}]({uri})", s.text),
//!         Some(Feature::Tag(tag)) => format!("[{}](tag:{tag})", s.text),
//!         _ => s.text.to_owned(),
//!     })
//!     .collect();
//! assert_eq!(
//!     rendered.concat(),
//!     "héllo [@alice.test](did:plc:alice) and @nobody.test, see [bsky.app](https://bsky.app)! [#atproto](tag:atproto)"
//! );
//!
//! // Edits keep facets on their characters.
//! rt.insert(0, "👋 ")?;
//! assert_eq!(rt.facets()[0].range(), 12..23);
//! assert_eq!(&rt.text()[12..23], "@alice.test");
//!
//! // The record form, for an app.bsky.feed.post (feature `record`, on by default).
//! #[cfg(feature = "record")]
//! assert_eq!(rt.to_record_facets()?[0].index.byte_start, 12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Detection rules
//!
//! These follow the official client (its detection code and test cases were
//! read as a specification):
//!
//! - **Mentions**: `@` at the start of the text or after whitespace or `(`,
//!   then the longest run of ASCII letters, digits, `.` and `-` that ends at a
//!   word boundary (a trailing `.` or `-` is left out). It counts when it ends
//!   in a known top-level domain (or `.test`) and is a valid handle.
//! - **Links**: at the start of the text or after whitespace or `(`, either
//!   `http://`/`https://` and everything up to the next whitespace, or a bare
//!   domain (`example.com/path`) whose last label is a known top-level domain,
//!   linked as `https://…`. One trailing `.,;:!?` is left out of the link,
//!   then one trailing `)` unless the link has a `(` (so
//!   `(see example.com)` and `wiki/Thing_(x)` both work).
//! - **Hashtags**: `#` or `＃` at the start of the text or after whitespace,
//!   then everything up to whitespace or an invisible separator (zero-width
//!   space/joiner/non-joiner, word joiner, soft hyphen, U+20E2), Unicode
//!   letters included. Not a tag: only digits and punctuation (`#1`, `#1?`),
//!   the keycap emoji `#️⃣`, or longer than [`MAX_TAG_GRAPHEMES`] graphemes.
//!   Trailing punctuation is left out (`#this!` is `this`).
//! - **Cashtags**: `$` at the start of the text or after whitespace or `(`,
//!   then a ticker of an ASCII letter and up to four letters or digits,
//!   followed by whitespace, the end or closing punctuation. They become tag
//!   facets whose value is `$` and the ticker in capitals (`$aapl` → `$AAPL`).
//!
//! Each kind is detected on its own, so facets of different kinds can
//! overlap in odd texts (`#tag(@alice.test` is a tag and, from the `(` on, a
//! mention), as with the official client; [`RichText::segments`] then shows
//! the one that starts first.
//!
//! Top-level domains are matched case-sensitively against a lowercase list,
//! as the official client does. The rules are those of `@atproto/api` 0.21.0,
//! the release this workspace's lexicons come from. On tens of thousands of
//! generated texts (`tools/compare-with-official.sh`), detection agrees with
//! it except where this crate deliberately differs, mostly so that every
//! facet it makes is valid in a record, and segments and newline cleaning
//! agree everywhere:
//!
//! - a scheme in capitals (`HTTPS://…`) is linked (it skips those);
//! - a bare domain that happens to start with `http` (`httpbin.org`) is
//!   checked and linked like any other bare domain (it links it without
//!   `https://` and without checking the domain);
//! - a link that is only a scheme (`https://` followed by punctuation) or
//!   that holds a control character is not made a facet;
//! - a mention whose text is not a valid handle (`@-a.com`, `@a..com`) is
//!   not made a facet (it would never resolve);
//! - a tag longer than [`MAX_TAG_BYTES`] is not made a facet.
//!
//! Edits count inserted text in UTF-8 bytes, the unit of the offsets (the
//! official client counts UTF-16 code units there, which shifts facets after
//! non-ASCII inserts). Unresolvable mentions are dropped (it keeps them with
//! an empty DID).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod detect;
mod error;
mod facet;
mod punct;
#[cfg(feature = "record")]
mod record;
mod resolve;
mod sanitize;
mod tlds;

use std::iter::FusedIterator;
use std::ops::Range;

use atmo_types::Handle;
use unicode_segmentation::UnicodeSegmentation;

pub use detect::{detect_facets, is_js_space, is_punctuation, MAX_TAG_BYTES, MAX_TAG_GRAPHEMES};
pub use error::{Error, RangeProblem};
pub use facet::{Facet, Feature};
pub use resolve::{FnResolver, ResolveHandle};

/// A text and its facets, kept consistent: every facet's byte range lies
/// inside the text on character boundaries, and facets are ordered by start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RichText {
    text: String,
    facets: Vec<Facet>,
}

impl RichText {
    /// Plain text, no facets.
    pub fn new(text: impl Into<String>) -> RichText {
        RichText {
            text: text.into(),
            facets: Vec::new(),
        }
    }

    /// The text with its facets detected ([`detect_facets`]); mentions are
    /// not resolved yet.
    pub fn detect(text: impl Into<String>) -> RichText {
        let text = text.into();
        let facets = detect_facets(&text);
        RichText { text, facets }
    }

    /// The text with the given facets, which must each lie inside the text
    /// on character boundaries (start may equal end). They are sorted by
    /// start offset, keeping the given order among equal starts.
    pub fn with_facets(text: impl Into<String>, facets: Vec<Facet>) -> Result<RichText, Error> {
        let text = text.into();
        for (index, facet) in facets.iter().enumerate() {
            error::check_range(&text, facet.start, facet.end)
                .map_err(|problem| Error::Facet { index, problem })?;
        }
        let mut facets = facets;
        facets.sort_by_key(|f| f.start);
        Ok(RichText { text, facets })
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The facets, ordered by start offset.
    pub fn facets(&self) -> &[Facet] {
        &self.facets
    }

    /// The text and the facets.
    pub fn into_parts(self) -> (String, Vec<Facet>) {
        (self.text, self.facets)
    }

    /// Length of the text in UTF-8 bytes (the unit of facet offsets).
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// True for an empty text.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Length of the text in extended grapheme clusters: what a reader counts
    /// as characters, and the unit of a post's `maxGraphemes` limit. An emoji
    /// family joined with zero-width joiners or a letter with combining marks
    /// is one.
    pub fn grapheme_len(&self) -> usize {
        self.text.graphemes(true).count()
    }

    /// The text split into pieces for rendering: runs of plain text and the
    /// faceted ranges, in order, together covering the whole text.
    ///
    /// As in the official client: a text without facets is one segment (even
    /// when empty); a facet that overlaps an earlier one is skipped; an empty
    /// facet yields nothing; a facet over whitespace only yields a plain
    /// segment.
    pub fn segments(&self) -> Segments<'_> {
        Segments {
            text: &self.text,
            facets: &self.facets,
            cursor: 0,
            next_facet: 0,
            whole_done: false,
        }
    }

    /// Inserts `insert` at byte offset `at`, moving facets to stay on their
    /// characters: a facet starting at or after `at` moves along, a facet
    /// with `at` strictly inside it grows, one that ends at or before `at`
    /// stays. `at` must be inside the text (or its end) on a character
    /// boundary.
    pub fn insert(&mut self, at: usize, insert: &str) -> Result<(), Error> {
        error::check_offset(&self.text, at).map_err(|problem| Error::Edit {
            operation: "insert",
            problem,
        })?;
        self.text.insert_str(at, insert);
        let added = insert.len();
        for facet in &mut self.facets {
            if at <= facet.start {
                facet.start += added;
                facet.end += added;
            } else if at < facet.end {
                facet.end += added;
            }
        }
        Ok(())
    }

    /// Deletes the bytes in `range`, adjusting facets: a facet entirely
    /// inside the range is removed, one partly inside it shrinks to what is
    /// left, one after it moves back. Facets left empty are removed. The
    /// range must lie inside the text on character boundaries.
    pub fn delete(&mut self, range: Range<usize>) -> Result<(), Error> {
        let Range {
            start: from,
            end: to,
        } = range;
        error::check_range(&self.text, from, to).map_err(|problem| Error::Edit {
            operation: "delete",
            problem,
        })?;
        self.text.replace_range(from..to, "");
        let removed = to - from;
        for facet in &mut self.facets {
            if from <= facet.start && to >= facet.end {
                // The whole facet is gone.
                facet.end = facet.start;
            } else if from > facet.end {
                // Entirely after the facet: nothing moves.
            } else if from > facet.start && to > facet.end {
                // Cuts off the facet's tail.
                facet.end = from;
            } else if from >= facet.start && to <= facet.end {
                // Inside the facet.
                facet.end -= removed;
            } else if to >= facet.start {
                // Cuts off the facet's head.
                facet.start = from;
                facet.end -= removed;
            } else {
                // Entirely before the facet.
                facet.start -= removed;
                facet.end -= removed;
            }
        }
        self.facets.retain(|f| f.start < f.end);
        Ok(())
    }

    /// Replaces the facets with those detected in the text
    /// ([`detect_facets`]); mentions are left unresolved.
    pub fn detect_facets(&mut self) {
        self.facets = detect_facets(&self.text);
    }

    /// Resolves every [`Feature::UnresolvedMention`] through `resolver`
    /// (all at once, each distinct handle once): a handle that resolves
    /// becomes a [`Feature::Mention`] with its DID, one that does not is
    /// dropped, and a facet left with no feature goes too.
    pub async fn resolve_mentions<R: ResolveHandle + ?Sized>(&mut self, resolver: &R) {
        let handles: Vec<&Handle> = self
            .facets
            .iter()
            .flat_map(|f| &f.features)
            .filter_map(|feature| match feature {
                Feature::UnresolvedMention(handle) => Some(handle),
                _ => None,
            })
            .collect();
        if handles.is_empty() {
            return;
        }
        let answers = resolve::resolve_all(resolver, handles).await;
        for facet in &mut self.facets {
            let features = std::mem::take(&mut facet.features);
            facet.features = features
                .into_iter()
                .filter_map(|feature| match feature {
                    Feature::UnresolvedMention(handle) => answers
                        .get(&handle.as_str().to_ascii_lowercase())
                        .cloned()
                        .flatten()
                        .map(Feature::Mention),
                    other => Some(other),
                })
                .collect();
        }
        self.facets.retain(|f| !f.features.is_empty());
    }

    /// [`RichText::detect_facets`] then [`RichText::resolve_mentions`]: what
    /// a client does before posting.
    pub async fn detect_and_resolve<R: ResolveHandle + ?Sized>(&mut self, resolver: &R) {
        self.detect_facets();
        self.resolve_mentions(resolver).await;
    }

    /// Collapses every run of blank lines to a single blank line (three or
    /// more line breaks, with only whitespace and invisible characters
    /// between them, become `\n\n`), keeping facets on their characters. The
    /// official client's `cleanNewlines` option.
    pub fn clean_newlines(&mut self) {
        while let Some(range) = sanitize::excess_newlines(&self.text) {
            let at = range.start;
            // Both calls get a range/offset found on character boundaries of
            // the current text, so they cannot fail; stop rather than loop if
            // they ever did.
            if self.delete(range).is_err() || self.insert(at, "\n\n").is_err() {
                break;
            }
        }
    }
}

impl From<String> for RichText {
    fn from(text: String) -> RichText {
        RichText::new(text)
    }
}

impl From<&str> for RichText {
    fn from(text: &str) -> RichText {
        RichText::new(text)
    }
}

/// A piece of a [`RichText`] for rendering: a run of plain text, or the text
/// of one facet together with that facet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment<'a> {
    /// The text of this piece.
    pub text: &'a str,
    /// Byte offset of the piece in the whole text.
    pub start: usize,
    /// Byte offset just past the piece.
    pub end: usize,
    /// The facet this piece is the text of, if any.
    pub facet: Option<&'a Facet>,
}

impl<'a> Segment<'a> {
    /// `start..end`.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The DID when this piece is a resolved mention.
    pub fn mention(&self) -> Option<&'a atmo_types::Did> {
        self.facet?.mention()
    }

    /// The URI when this piece is a link.
    pub fn link(&self) -> Option<&'a atmo_types::Uri> {
        self.facet?.link()
    }

    /// The tag (without `#`) when this piece is a hashtag.
    pub fn tag(&self) -> Option<&'a str> {
        self.facet?.tag()
    }
}

/// The iterator of [`RichText::segments`].
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    text: &'a str,
    facets: &'a [Facet],
    cursor: usize,
    next_facet: usize,
    whole_done: bool,
}

impl<'a> Segments<'a> {
    fn piece(&self, start: usize, end: usize, facet: Option<&'a Facet>) -> Option<Segment<'a>> {
        Some(Segment {
            text: self.text.get(start..end)?,
            start,
            end,
            facet,
        })
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        if self.facets.is_empty() {
            if self.whole_done {
                return None;
            }
            self.whole_done = true;
            return self.piece(0, self.text.len(), None);
        }
        while let Some(facet) = self.facets.get(self.next_facet) {
            if self.cursor < facet.start {
                let start = self.cursor;
                self.cursor = facet.start;
                return self.piece(start, facet.start, None);
            }
            self.next_facet += 1;
            if self.cursor > facet.start || facet.start >= facet.end {
                // Overlaps the previous facet, or is empty: nothing to show.
                continue;
            }
            self.cursor = facet.end;
            let text = self.text.get(facet.start..facet.end)?;
            let facet = (!text.chars().all(detect::is_js_space)).then_some(facet);
            return self.piece(self.cursor - text.len(), self.cursor, facet);
        }
        if self.cursor < self.text.len() {
            let start = self.cursor;
            self.cursor = self.text.len();
            return self.piece(start, self.text.len(), None);
        }
        None
    }
}

impl FusedIterator for Segments<'_> {}
