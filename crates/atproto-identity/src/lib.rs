//! Identity resolution (work in progress).
