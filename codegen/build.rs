//! Embeds the official lexicon set (`../lexicons`, the workspace's copy from
//! `@atproto/api`) in the `lexgen` binary, so that `lexgen validate` knows
//! the official records without `--lexicons lexicons`. Writes
//! `$OUT_DIR/builtin_lexicons.rs`: a sorted `&[(path, text)]` of
//! `include_str!`s, empty when the folder is absent (a packaged crate).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let dir = manifest.unwrap_or_default().join("../lexicons");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    // A folder is watched for added or removed entries, a file for edits.
    let dirs: std::collections::BTreeSet<&Path> = files.iter().filter_map(|f| f.parent()).collect();
    for d in dirs {
        println!("cargo:rerun-if-changed={}", d.display());
    }
    let mut table = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(&dir).unwrap_or(f);
        let rel = rel.to_string_lossy().replace('\\', "/");
        let _ = writeln!(
            table,
            "    ({rel:?}, include_str!({:?})),",
            f.display().to_string()
        );
    }
    table.push(']');
    let out = std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let text = format!(
        "/// The official lexicons: path under `lexicons/` and document text.\npub static BUILTIN_LEXICONS: &[(&str, &str)] = {table};\n"
    );
    if let Err(e) = std::fs::write(out.join("builtin_lexicons.rs"), text) {
        panic!("cannot write builtin_lexicons.rs: {e}");
    }
}
