//! Generating from a build script: [`Builder`].
//!
//! ```no_run
//! // build.rs of a crate with `atmo-lexgen` as a build-dependency and
//! // `atmo-types`, `serde` (and `atmo-api` with a feature per official
//! // namespace referred to, e.g. `com-atproto`) as dependencies.
//! fn main() -> Result<(), atmo_lexgen::BuildError> {
//!     atmo_lexgen::Builder::new()
//!         .lexicons("lexicons")
//!         .include("com.example.*")
//!         .root_path("crate::lexicons")
//!         .generate()?;
//!     Ok(())
//! }
//! ```
//!
//! ```ignore
//! // src/lib.rs
//! /// The types generated from `lexicons/`.
//! pub mod lexicons {
//!     include!(concat!(env!("OUT_DIR"), "/lexicons.rs"));
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::model::Document;
use crate::{emit, official, resolve, Error, Options, Set};

/// Generates Rust for a folder of lexicons into one file of `OUT_DIR`, for a
/// build script, in the manner of `prost-build`.
///
/// The file works with `include!` inside any module: it has no inner
/// attributes or inner doc comments at its top, and references between the
/// generated types start at [`root_path`](Builder::root_path). References
/// into the official lexicons (`com.atproto.*`, `app.bsky.*`, ...) resolve
/// to `::atmo_api::...` paths through the copy embedded in lexgen, so no
/// path to them is needed and nothing is fetched from the network; the
/// crate that includes the file then depends on `atmo-api` with the
/// feature of each namespace referred to (`com.atproto.repo.strongRef` →
/// `com-atproto`), or the build fails with "could not find `atmo_api`". The
/// build script reruns when any lexicon file or folder changes
/// (`cargo:rerun-if-changed`).
#[derive(Clone, Debug)]
pub struct Builder {
    lexicons: Vec<PathBuf>,
    include: Vec<String>,
    exclude: Vec<String>,
    secret_properties: Vec<String>,
    root_path: String,
    out_dir: Option<PathBuf>,
    file_name: String,
    official: bool,
    rerun_if_changed: bool,
    server: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults: no lexicon folder yet, every document
    /// included, the official crate's secret properties
    /// ([`official::SECRET_PROPERTIES`]), root path `crate`, the file
    /// `lexicons.rs` in `$OUT_DIR`, the official set embedded in lexgen as
    /// `atmo_api`, and `cargo:rerun-if-changed` lines printed.
    pub fn new() -> Self {
        Builder {
            lexicons: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            secret_properties: official::secret_properties(),
            root_path: "crate".into(),
            out_dir: None,
            file_name: "lexicons.rs".into(),
            official: true,
            rerun_if_changed: true,
            server: false,
        }
    }

    /// Adds a folder of lexicon documents (every `*.json` under it, each at
    /// the path of its NSID: `com/example/bookmark.json` holds
    /// `com.example.bookmark`). Relative paths are relative to the build
    /// script's working folder, the package's folder. Repeatable.
    pub fn lexicons(mut self, dir: impl Into<PathBuf>) -> Self {
        self.lexicons.push(dir.into());
        self
    }

    /// Generates only documents whose NSID matches `pattern`: an NSID
    /// (`com.example.bookmark`) or a prefix ending in `.*`
    /// (`com.example.*`, which also matches `com.example.a.b`). Repeatable;
    /// without any, every document is generated. A pattern that matches no
    /// document is an error (a typo would otherwise generate nothing).
    /// A document left out is not loaded at all: a reference into it is an
    /// unresolved-reference error.
    pub fn include(mut self, pattern: impl Into<String>) -> Self {
        self.include.push(pattern.into());
        self
    }

    /// Leaves out documents whose NSID matches `pattern` (same syntax as
    /// [`include`](Builder::include)), even when included. Repeatable.
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self.exclude.push(pattern.into());
        self
    }

    /// The JSON property names whose string values are secrets: structs
    /// holding one implement `Debug` by hand, printing `***` for it.
    /// Replaces the default, [`official::SECRET_PROPERTIES`]; an empty list
    /// makes every `Debug` derived.
    pub fn secret_properties<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.secret_properties = names.into_iter().map(Into::into).collect();
        self
    }

    /// The Rust path of the module the file is `include!`d in, from which
    /// references between generated types are written: `crate` (the
    /// default) when it is included at the crate root, `crate::lexicons`
    /// for `mod lexicons { include!(...) }` in `lib.rs`. Must be an
    /// absolute path (starting with `crate` or `::`).
    pub fn root_path(mut self, path: impl Into<String>) -> Self {
        self.root_path = path.into();
        self
    }

    /// Also generates the server side of every query and procedure
    /// (`atmo_types::xrpc::ServerEndpoint`: parameters from a query
    /// string, input decoded, output encoded), for a service that answers
    /// them with `atmo-server`. Off by default: a client needs none of
    /// it. The code still needs only `atmo-types` and `serde`.
    pub fn server(mut self, on: bool) -> Self {
        self.server = on;
        self
    }

    /// The folder to write into, instead of `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The name of the file written (default `lexicons.rs`).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// Whether references may go into the official lexicons embedded in
    /// lexgen, generated as `atmo_api` (default `true`). With `false`,
    /// the given folders must hold every document referred to.
    pub fn official(mut self, yes: bool) -> Self {
        self.official = yes;
        self
    }

    /// Whether [`generate`](Builder::generate) prints a
    /// `cargo:rerun-if-changed` line for each lexicon folder, subfolder and
    /// file (default `true`; off for a caller that is not a build script).
    pub fn emit_rerun_if_changed(mut self, yes: bool) -> Self {
        self.rerun_if_changed = yes;
        self
    }

    /// Generates and writes the file (only when its content changed, so an
    /// unchanged file keeps its timestamp); returns its path. Prints the
    /// `cargo:rerun-if-changed` lines first, so that cargo reruns a build
    /// script that failed once its lexicons are fixed.
    pub fn generate(&self) -> Result<PathBuf, BuildError> {
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(BuildError::NoOutDir)?,
        };
        check_file_name(&self.file_name)?;
        if self.rerun_if_changed {
            for input in self.inputs()? {
                println!("cargo:rerun-if-changed={}", input.display());
            }
        }
        let text = self.render()?;
        let path = out_dir.join(&self.file_name);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
            return Ok(path);
        }
        std::fs::write(&path, text).map_err(|e| BuildError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(path)
    }

    /// Generates the file's text without writing or printing anything.
    pub fn render(&self) -> Result<String, BuildError> {
        if self.lexicons.is_empty() {
            return Err(BuildError::NoLexicons);
        }
        check_file_name(&self.file_name)?;
        check_root_path(&self.root_path)?;
        let include = patterns(&self.include)?;
        let exclude = patterns(&self.exclude)?;
        let mut docs = Vec::new();
        let mut errors = Vec::new();
        let mut nsid_of_file = BTreeMap::new();
        for dir in &self.lexicons {
            if !dir.is_dir() {
                return Err(folder_error(dir, "not a folder"));
            }
            for file in json_files(dir)? {
                if let Some(nsid) = nsid_from_path(dir, &file) {
                    nsid_of_file.insert(file.display().to_string(), nsid);
                }
            }
            match resolve::load_dir(dir) {
                Ok(d) => docs.extend(d),
                Err(e) => errors.extend(e),
            }
        }
        let lexicon_errors = |errors: Vec<Error>| {
            BuildError::Lexicons(
                errors
                    .into_iter()
                    .map(|error| LexiconError {
                        nsid: nsid_of_file.get(&error.file).cloned().or_else(|| {
                            error
                                .file
                                .strip_prefix("(built in) lexicons/")
                                .map(|p| p.trim_end_matches(".json").replace('/', "."))
                        }),
                        error,
                    })
                    .collect(),
            )
        };
        if !errors.is_empty() {
            return Err(lexicon_errors(errors));
        }
        let mut matched = vec![false; include.len()];
        docs.retain(|d| {
            let mut keep = include.is_empty();
            for (i, p) in include.iter().enumerate() {
                if p.matches(&d.id) {
                    matched[i] = true;
                    keep = true;
                }
            }
            keep && !exclude.iter().any(|p| p.matches(&d.id))
        });
        if let Some(i) = matched.iter().position(|m| !m) {
            return Err(BuildError::UnmatchedPattern {
                pattern: self.include[i].clone(),
            });
        }
        let external: Vec<(String, Vec<Document>)> = if self.official {
            let reached = official::reachable_from(&docs).map_err(&lexicon_errors)?;
            vec![(official::CRATE.to_owned(), reached)]
        } else {
            Vec::new()
        };
        let set = Set::build(docs, external).map_err(&lexicon_errors)?;
        let shown: Vec<String> = self
            .lexicons
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let opts = Options {
            source_label: shown.join(", "),
            regenerate_hint: "cargo build (atmo_lexgen::Builder in build.rs)".into(),
            features: false,
            crate_doc: String::new(),
            secret_properties: self.secret_properties.clone(),
            root_path: self.root_path.clone(),
            server: if self.server {
                emit::ServerCode::Always
            } else {
                emit::ServerCode::Off
            },
        };
        let generated =
            emit::generate_single(&set, &opts, &self.file_name).map_err(&lexicon_errors)?;
        generated
            .files
            .into_values()
            .next()
            .ok_or_else(|| BuildError::Lexicons(Vec::new()))
    }

    /// Every lexicon folder, subfolder and `*.json` file, sorted: what the
    /// output depends on.
    pub fn inputs(&self) -> Result<Vec<PathBuf>, BuildError> {
        let mut out = BTreeSet::new();
        for dir in &self.lexicons {
            out.insert(dir.clone());
            for file in json_files(dir)? {
                let mut parent = file.parent();
                while let Some(p) = parent {
                    if !p.starts_with(dir) || !out.insert(p.to_path_buf()) {
                        break;
                    }
                    parent = p.parent();
                }
                out.insert(file);
            }
        }
        Ok(out.into_iter().collect())
    }
}

/// Why [`Builder`] generated nothing.
///
/// `Debug` prints the same text as `Display`, so that a build script's
/// `fn main() -> Result<(), atmo_lexgen::BuildError>` shows a readable message
/// (every lexicon problem on its own line) when it fails.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// No [`Builder::lexicons`] folder was given.
    NoLexicons,
    /// `OUT_DIR` is not set (not run as a build script) and no
    /// [`Builder::out_dir`] was given.
    NoOutDir,
    /// A folder or file could not be read or written.
    Io {
        /// The folder or file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Problems in the lexicon documents (every one found), each naming
    /// its file, its lexicon and the JSON path.
    Lexicons(Vec<LexiconError>),
    /// An include or exclude pattern that is not an NSID or `prefix.*`.
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An include pattern that matches no document.
    UnmatchedPattern {
        /// The pattern as given.
        pattern: String,
    },
    /// A root path that is not an absolute Rust path.
    BadRootPath {
        /// The path as given.
        root_path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file name that is empty or not a plain name.
    BadFileName {
        /// The name as given.
        file_name: String,
    },
}

/// One problem in a lexicon document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexiconError {
    /// The NSID of the document, when known (from its file's path, or
    /// `None` for a problem of the set as a whole).
    pub nsid: Option<String>,
    /// The problem: file, JSON path and message.
    pub error: Error,
}

impl fmt::Display for LexiconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.nsid {
            Some(nsid) => write!(f, "lexicon {nsid}: {}", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoLexicons => write!(f, "lexgen: no lexicon folder given"),
            BuildError::NoOutDir => write!(
                f,
                "lexgen: OUT_DIR is not set (not a build script) and no out_dir was given"
            ),
            BuildError::Io { path, message } => {
                write!(f, "lexgen: {}: {message}", path.display())
            }
            BuildError::Lexicons(errors) => {
                write!(f, "lexgen: {} lexicon error(s):", errors.len())?;
                for e in errors {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
            BuildError::BadPattern { pattern, reason } => {
                write!(f, "lexgen: NSID pattern {pattern:?}: {reason}")
            }
            BuildError::UnmatchedPattern { pattern } => {
                write!(f, "lexgen: include pattern {pattern:?} matches no lexicon")
            }
            BuildError::BadRootPath { root_path, reason } => {
                write!(f, "lexgen: root path {root_path:?}: {reason}")
            }
            BuildError::BadFileName { file_name } => {
                write!(
                    f,
                    "lexgen: file name {file_name:?} is not a plain file name"
                )
            }
        }
    }
}

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for BuildError {}

/// An NSID pattern: an exact NSID or a prefix.
enum Pattern {
    Exact(String),
    /// `com.example.*`, stored as `com.example.`.
    Prefix(String),
}

impl Pattern {
    fn matches(&self, nsid: &str) -> bool {
        match self {
            Pattern::Exact(p) => p == nsid,
            Pattern::Prefix(p) => nsid.starts_with(p.as_str()),
        }
    }
}

fn patterns(raw: &[String]) -> Result<Vec<Pattern>, BuildError> {
    raw.iter()
        .map(|p| {
            let bad = |reason| BuildError::BadPattern {
                pattern: p.clone(),
                reason,
            };
            let (stem, prefix) = match p.strip_suffix(".*") {
                Some(stem) => (stem, true),
                None => (p.as_str(), false),
            };
            if stem.is_empty() {
                return Err(bad("empty"));
            }
            let segment_ok = |s: &str| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            };
            if !stem.split('.').all(segment_ok) {
                return Err(bad(
                    "segments are letters, digits and `-`; `*` only as the whole last segment",
                ));
            }
            Ok(if prefix {
                Pattern::Prefix(format!("{stem}."))
            } else {
                Pattern::Exact(stem.to_owned())
            })
        })
        .collect()
}

fn check_root_path(root: &str) -> Result<(), BuildError> {
    let bad = |reason: String| BuildError::BadRootPath {
        root_path: root.to_owned(),
        reason,
    };
    let path = syn::parse_str::<syn::Path>(root).map_err(|e| bad(e.to_string()))?;
    let first = path.segments.first().map(|s| s.ident.to_string());
    if path.leading_colon.is_none() && first.as_deref() != Some("crate") {
        return Err(bad(
            "must be absolute: start with `crate` or `::` (the file is included in modules at any depth)"
                .into(),
        ));
    }
    if path.segments.iter().any(|s| !s.arguments.is_none()) {
        return Err(bad("a module path has no generic arguments".into()));
    }
    Ok(())
}

fn check_file_name(name: &str) -> Result<(), BuildError> {
    let plain = Path::new(name).file_name().is_some_and(|f| f == name);
    if plain {
        Ok(())
    } else {
        Err(BuildError::BadFileName {
            file_name: name.to_owned(),
        })
    }
}

/// The NSID the file at `file` under `dir` must hold.
fn nsid_from_path(dir: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(dir).ok()?.with_extension("");
    let segs: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(segs.join("."))
}

/// A lexicon folder that cannot be read. A relative one is relative to the
/// build script's working folder (the package's), which the message names.
fn folder_error(dir: &Path, problem: &str) -> BuildError {
    let message = match std::env::current_dir() {
        Ok(cwd) if dir.is_relative() => format!(
            "{problem} ({}, relative to the package)",
            cwd.join(dir).display()
        ),
        _ => problem.to_owned(),
    };
    BuildError::Io {
        path: dir.to_path_buf(),
        message,
    }
}

/// Every `*.json` file under `dir`, recursively, sorted.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BuildError> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| folder_error(dir, &format!("cannot read folder: {e}")))?;
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort();
    Ok(out)
}
