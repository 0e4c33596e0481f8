//! Helpers shared by the lexgen integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use atmo_lexgen::model::Document;

/// The xtask's generation code and policy (crate names, manifest, secrets).
#[path = "../../../xtask/src/codegen.rs"]
pub mod xtask;

/// Generation options with the xtask's policy.
pub fn options() -> atmo_lexgen::Options {
    atmo_lexgen::Options {
        secret_properties: xtask::secret_properties(),
        ..atmo_lexgen::Options::default()
    }
}

/// A fresh, empty directory for one test, `<tmp>/lexgen-<name>-<pid>`:
/// `name` says which test file and test it is for.
pub fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lexgen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `text` to `dir/rel`, creating its folders.
pub fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The official lexicons of this repository.
pub fn official() -> Vec<Document> {
    atmo_lexgen::load_dir(&workspace().join("lexicons")).expect("official lexicons load")
}

/// `../shared/atproto-interop-tests` (or `$ATPROTO_SHARED_DIR/atproto-interop-tests`);
/// `None`, with a notice on stderr, when it is absent.
pub fn interop_tests(test: &str) -> Option<PathBuf> {
    let shared = std::env::var_os("ATPROTO_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared"));
    let dir = shared.join("atproto-interop-tests");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "NOTICE: {test}: skipped, {} is absent (set ATPROTO_SHARED_DIR to the folder holding atproto-interop-tests)",
            dir.display()
        );
        None
    }
}

/// Generates `local` with every official document not in `local` as the
/// external crate `atmo_api`; returns the generated files.
pub fn generate_with_official(local: Vec<Document>) -> atmo_lexgen::Generated {
    let ids: Vec<String> = local.iter().map(|d| d.id.clone()).collect();
    let external: Vec<Document> = official()
        .into_iter()
        .filter(|d| !ids.contains(&d.id))
        .collect();
    let set = atmo_lexgen::Set::build(local, vec![("atmo_api".into(), external)])
        .unwrap_or_else(|e| panic!("{e:#?}"));
    atmo_lexgen::generate(&set, &options()).unwrap_or_else(|e| panic!("{e:#?}"))
}

/// The module file generated for `nsid`.
pub fn module_file<'g>(g: &'g atmo_lexgen::Generated, nsid: &str) -> &'g str {
    let path: Vec<String> = nsid
        .split('.')
        .map(|s| atmo_lexgen::names::unraw(&atmo_lexgen::names::snake(s)).to_owned())
        .collect();
    let file = format!("{}.rs", path.join("/"));
    g.files
        .get(&file)
        .unwrap_or_else(|| panic!("no {file} in {:?}", g.files.keys().collect::<Vec<_>>()))
}

/// Parses a document from JSON text, panicking with every error.
pub fn doc(file: &str, text: &str) -> Document {
    atmo_lexgen::model::parse_document(file, text).unwrap_or_else(|e| panic!("{e:#?}"))
}

/// The errors of building a set from JSON texts (parse or resolve).
pub fn errors_of(texts: &[(&str, &str)]) -> Vec<atmo_lexgen::Error> {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in texts {
        match atmo_lexgen::model::parse_document(file, text) {
            Ok(d) => docs.push(d),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    match atmo_lexgen::Set::build(docs, vec![]).and_then(|s| atmo_lexgen::generate(&s, &options()))
    {
        Ok(_) => vec![],
        Err(e) => e,
    }
}
