//! Sync (work in progress).
