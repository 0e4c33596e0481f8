//! Where the shared test data is (the workspace's convention): the folder
//! `$ATPROTO_SHARED_DIR`, else `<workspace root>/../shared`. When it is
//! absent a test prints a notice to stderr and returns early.

use std::path::{Path, PathBuf};

/// `<shared>/<sub>` when it exists; otherwise prints a notice and returns None.
pub fn shared_subdir(sub: &str) -> Option<PathBuf> {
    let base = match std::env::var_os("ATPROTO_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let dir = base.join(sub);
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
