//! Facets: a byte range of the text and what it means.

use std::ops::Range;

use atmo_types::{Did, Handle, Uri};

/// One annotated range of a rich text: `start..end` in **UTF-8 bytes** of the
/// text (start inclusive, end exclusive), and the features that apply to it.
///
/// This is the crate's own form of `app.bsky.richtext.facet`: it can hold a
/// mention that is not resolved to a DID yet, which a record cannot.
/// Convert with `Facet::to_record` and `Facet::from_record` (feature
/// `record`).
#[derive(Clone, Debug, PartialEq)]
pub struct Facet {
    /// Byte offset where the range starts (inclusive).
    pub start: usize,
    /// Byte offset where the range ends (exclusive).
    pub end: usize,
    /// What the range is: usually one feature.
    pub features: Vec<Feature>,
}

impl Facet {
    /// A facet over `range` with a single feature.
    pub fn new(range: Range<usize>, feature: Feature) -> Facet {
        Facet {
            start: range.start,
            end: range.end,
            features: vec![feature],
        }
    }

    /// `start..end`.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The DID of the first resolved mention feature.
    pub fn mention(&self) -> Option<&Did> {
        self.features.iter().find_map(|f| match f {
            Feature::Mention(did) => Some(did),
            _ => None,
        })
    }

    /// The handle of the first mention feature not resolved yet.
    pub fn unresolved_mention(&self) -> Option<&Handle> {
        self.features.iter().find_map(|f| match f {
            Feature::UnresolvedMention(handle) => Some(handle),
            _ => None,
        })
    }

    /// The URI of the first link feature.
    pub fn link(&self) -> Option<&Uri> {
        self.features.iter().find_map(|f| match f {
            Feature::Link(uri) => Some(uri),
            _ => None,
        })
    }

    /// The tag (without its `#`) of the first tag feature.
    pub fn tag(&self) -> Option<&str> {
        self.features.iter().find_map(|f| match f {
            Feature::Tag(tag) => Some(tag.as_str()),
            _ => None,
        })
    }
}

/// What a facet's range is.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Feature {
    /// A mention of an account (`app.bsky.richtext.facet#mention`).
    Mention(Did),
    /// A mention found in the text whose handle has not been resolved to a
    /// DID yet; [`RichText::resolve_mentions`] turns it into [`Feature::Mention`]
    /// or drops it. It cannot go into a record.
    ///
    /// [`RichText::resolve_mentions`]: crate::RichText::resolve_mentions
    UnresolvedMention(Handle),
    /// A link (`app.bsky.richtext.facet#link`): the full URI, which for a
    /// bare domain in the text has `https://` in front.
    Link(Uri),
    /// A hashtag (`app.bsky.richtext.facet#tag`), without its leading `#`.
    Tag(String),
    /// A feature of another kind, from a record (e.g. a third-party facet
    /// type), kept as it came so that it round-trips.
    #[cfg(feature = "record")]
    Other(atmo_api::app::bsky::richtext::facet::FacetFeaturesItem),
}
