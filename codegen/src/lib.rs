//! `atmo-lexgen` (the library behind the `lexgen` command): generates Rust
//! types and XRPC endpoint descriptors from atproto lexicon documents.
//!
//! Three stages:
//! 1. [`model`] parses each document into a typed model (serde into an
//!    order-preserving JSON tree, then a walk that knows JSON paths);
//! 2. [`resolve`] loads a set of documents, checks them (ids, primary types,
//!    every `ref`/`union` target) and assigns Rust names;
//! 3. [`emit`] lowers the resolved set to a small intermediate form, breaks
//!    recursive containment with boxes, and renders Rust with `quote`,
//!    formatted by `prettyplease`.
//!
//! [`Builder`] runs the three from a build script: one file in `OUT_DIR`
//! for `include!` inside any module, with references into the official
//! lexicons (embedded in this library, [`official`]) resolved to
//! `atmo_api` paths.
//!
//! [`validate`] checks JSON records against lexicon documents at run time
//! (`lexgen validate`), with the same shared checks the generated code calls.
//!
//! Every problem is reported as an [`Error`] naming the file, the JSON path
//! and the problem; all of them are collected, none is a panic.

#![forbid(unsafe_code)]

use std::fmt;

mod builder;
pub mod emit;
pub mod json;
pub mod model;
pub mod names;
pub mod official;
pub mod resolve;
pub mod validate;

pub use builder::{BuildError, Builder, LexiconError};
pub use emit::{generate, generate_single, Generated, Options, ServerCode};
pub use resolve::{load_dir, load_dir_any, load_files, Origin, Set};

/// A problem in a lexicon document (or in the set of documents).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Error {
    /// The file, as given (or the document id when it has no file).
    pub file: String,
    /// The JSON path inside the document, e.g. `defs.main.input.schema`;
    /// empty for the document as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Error {
    /// A new error.
    pub fn new(
        file: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            file: file.into(),
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

impl std::error::Error for Error {}
