//! Rich text (work in progress).
