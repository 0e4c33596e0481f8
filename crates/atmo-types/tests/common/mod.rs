//! Helpers shared by the integration tests of this crate.
//!
//! Convention (copy it in other crates' tests): the shared test data lives in
//! `$ATPROTO_SHARED_DIR` when that is set, else in `<workspace root>/../shared`.
//! When it is absent a test prints a notice to stderr and returns early; it
//! never passes silently.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared data folder, from `ATPROTO_SHARED_DIR` or `<workspace>/../shared`.
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ATPROTO_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    // CARGO_MANIFEST_DIR is crates/<name>; the workspace root is two up.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("..")
        .join("shared")
}

/// `<shared>/<sub>` when it exists; otherwise prints
/// "skipping: <path> not found" to stderr and returns None.
pub fn shared_subdir(sub: &str) -> Option<PathBuf> {
    let dir = shared_dir().join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: {} not found (set ATPROTO_SHARED_DIR to the folder holding {sub})",
            dir.display()
        );
        None
    }
}

/// The non-comment lines of a vector file: lines that are blank or start
/// with `#` are skipped; other lines are kept exactly (no trimming, as
/// whitespace is part of some vectors).
pub fn vector_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}
