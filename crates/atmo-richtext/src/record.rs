//! Conversion between this crate's facets and the generated
//! `app.bsky.richtext.facet` record types.
//!
//! This is the only module that builds the generated structs, so that a
//! change in how the generator shapes them touches one place.

use atmo_api::app::bsky::richtext::facet as api;
use atmo_types::Extra;

use crate::error::{self, Error, RangeProblem};
use crate::facet::{Facet, Feature};
use crate::RichText;

fn offset_to_i64(offset: usize) -> i64 {
    // A text longer than i64::MAX bytes cannot exist in memory.
    i64::try_from(offset).unwrap_or(i64::MAX)
}

fn offset_from_i64(offset: i64) -> Result<usize, RangeProblem> {
    if offset < 0 {
        return Err(RangeProblem::Negative { offset });
    }
    usize::try_from(offset).map_err(|_| RangeProblem::TooLarge { offset })
}

impl Facet {
    /// The record form of this facet (`app.bsky.richtext.facet`).
    ///
    /// Fails with [`Error::UnresolvedMention`] when a mention has no DID yet.
    pub fn to_record(&self) -> Result<api::Facet, Error> {
        let mut features = Vec::with_capacity(self.features.len());
        for feature in &self.features {
            features.push(match feature {
                Feature::Mention(did) => api::FacetFeaturesItem::Mention(Box::new(api::Mention {
                    did: did.clone(),
                    extra: Extra::new(),
                })),
                Feature::UnresolvedMention(handle) => {
                    return Err(Error::UnresolvedMention {
                        handle: handle.clone(),
                        start: self.start,
                        end: self.end,
                    })
                }
                Feature::Link(uri) => api::FacetFeaturesItem::Link(Box::new(api::Link {
                    uri: uri.clone(),
                    extra: Extra::new(),
                })),
                Feature::Tag(tag) => api::FacetFeaturesItem::Tag(Box::new(api::Tag {
                    tag: tag.clone(),
                    extra: Extra::new(),
                })),
                Feature::Other(item) => item.clone(),
            });
        }
        Ok(api::Facet {
            index: api::ByteSlice {
                byte_start: offset_to_i64(self.start),
                byte_end: offset_to_i64(self.end),
                extra: Extra::new(),
            },
            features,
            extra: Extra::new(),
        })
    }

    /// This crate's form of a facet from a record. Checks only that the
    /// offsets are non-negative and fit a `usize`; whether they fit a text is
    /// for [`RichText::from_record`](crate::RichText::from_record) to check.
    ///
    /// Properties a record carries beyond the lexicon's on the facet, its
    /// index or a mention/link/tag feature are not kept; features of unknown
    /// types are kept whole as [`Feature::Other`].
    pub fn from_record(facet: &api::Facet) -> Result<Facet, RangeProblem> {
        let start = offset_from_i64(facet.index.byte_start)?;
        let end = offset_from_i64(facet.index.byte_end)?;
        let features = facet
            .features
            .iter()
            .map(|item| match item {
                api::FacetFeaturesItem::Mention(m) => Feature::Mention(m.did.clone()),
                api::FacetFeaturesItem::Link(l) => Feature::Link(l.uri.clone()),
                api::FacetFeaturesItem::Tag(t) => Feature::Tag(t.tag.clone()),
                other => Feature::Other(other.clone()),
            })
            .collect();
        Ok(Facet {
            start,
            end,
            features,
        })
    }
}

impl RichText {
    /// A record's text and facets (e.g. an `app.bsky.feed.post`'s `text`
    /// and `facets`), refusing the first facet whose range does not fit the
    /// text with its position and the problem.
    pub fn from_record(text: impl Into<String>, facets: &[api::Facet]) -> Result<RichText, Error> {
        let facets = facets
            .iter()
            .enumerate()
            .map(|(index, f)| {
                Facet::from_record(f).map_err(|problem| Error::Facet { index, problem })
            })
            .collect::<Result<Vec<_>, _>>()?;
        RichText::with_facets(text, facets)
    }

    /// Like [`RichText::from_record`], but leaves out facets whose range does
    /// not fit the text instead of failing: for rendering posts written by
    /// any client, where one bad facet should not hide the text.
    pub fn from_record_lossy(text: impl Into<String>, facets: &[api::Facet]) -> RichText {
        let text = text.into();
        let mut facets: Vec<Facet> = facets
            .iter()
            .filter_map(|f| Facet::from_record(f).ok())
            .filter(|f| error::check_range(&text, f.start, f.end).is_ok())
            .collect();
        facets.sort_by_key(|f| f.start);
        RichText { text, facets }
    }

    /// The facets in record form, for an `app.bsky.feed.post`'s `facets`.
    /// Fails on the first mention that is still unresolved.
    pub fn to_record_facets(&self) -> Result<Vec<api::Facet>, Error> {
        self.facets.iter().map(Facet::to_record).collect()
    }
}
