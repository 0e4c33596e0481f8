//! The one error type of this crate.

use std::fmt;

use atmo_types::Handle;

/// Why a byte range cannot be used on a text.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeProblem {
    /// An offset below zero (only possible in records, whose offsets are
    /// signed integers).
    Negative {
        /// The offending offset.
        offset: i64,
    },
    /// An offset too large for this platform's `usize`.
    TooLarge {
        /// The offending offset.
        offset: i64,
    },
    /// The start is after the end.
    Reversed {
        /// Start offset.
        start: usize,
        /// End offset.
        end: usize,
    },
    /// An offset past the end of the text.
    PastEnd {
        /// The offending offset.
        offset: usize,
        /// The text's length in bytes.
        len: usize,
    },
    /// An offset that falls inside a multi-byte UTF-8 character.
    NotCharBoundary {
        /// The offending offset.
        offset: usize,
    },
}

impl fmt::Display for RangeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeProblem::Negative { offset } => write!(f, "byte offset {offset} is negative"),
            RangeProblem::TooLarge { offset } => {
                write!(f, "byte offset {offset} does not fit this platform's usize")
            }
            RangeProblem::Reversed { start, end } => {
                write!(f, "start byte {start} is after end byte {end}")
            }
            RangeProblem::PastEnd { offset, len } => write!(
                f,
                "byte offset {offset} is past the end of the text ({len} bytes)"
            ),
            RangeProblem::NotCharBoundary { offset } => write!(
                f,
                "byte offset {offset} falls inside a multi-byte UTF-8 character"
            ),
        }
    }
}

/// Everything that can go wrong in this crate: an edit or a facet whose byte
/// offsets do not fit the text, or a facet that cannot go into a record yet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The byte offset or range given to [`RichText::insert`] or
    /// [`RichText::delete`] does not fit the text.
    ///
    /// [`RichText::insert`]: crate::RichText::insert
    /// [`RichText::delete`]: crate::RichText::delete
    Edit {
        /// `"insert"` or `"delete"`.
        operation: &'static str,
        /// What is wrong with the offsets.
        problem: RangeProblem,
    },
    /// A facet (from a record or given to [`RichText::with_facets`]) whose
    /// byte range does not fit the text.
    ///
    /// [`RichText::with_facets`]: crate::RichText::with_facets
    Facet {
        /// Position of the facet in the list it came in.
        index: usize,
        /// What is wrong with its offsets.
        problem: RangeProblem,
    },
    /// A mention that was detected but never resolved to a DID; a record
    /// needs the DID, so resolve mentions (or drop them) first.
    UnresolvedMention {
        /// The handle as written after the `@`.
        handle: Handle,
        /// Byte offset of the `@`.
        start: usize,
        /// Byte offset just past the handle.
        end: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Edit { operation, problem } => write!(f, "rich text {operation}: {problem}"),
            Error::Facet { index, problem } => write!(f, "facet {index}: {problem}"),
            Error::UnresolvedMention { handle, start, end } => write!(
                f,
                "mention of @{handle} at bytes {start}..{end} is not resolved to a DID"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Checks that `start..end` is a usable byte range of `text`.
pub(crate) fn check_range(text: &str, start: usize, end: usize) -> Result<(), RangeProblem> {
    check_offset(text, start)?;
    check_offset(text, end)?;
    if start > end {
        return Err(RangeProblem::Reversed { start, end });
    }
    Ok(())
}

/// Checks that `offset` is inside `text` (or at its end) and on a character
/// boundary.
pub(crate) fn check_offset(text: &str, offset: usize) -> Result<(), RangeProblem> {
    if offset > text.len() {
        return Err(RangeProblem::PastEnd {
            offset,
            len: text.len(),
        });
    }
    if !text.is_char_boundary(offset) {
        return Err(RangeProblem::NotCharBoundary { offset });
    }
    Ok(())
}
