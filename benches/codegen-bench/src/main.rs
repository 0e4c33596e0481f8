//! `codegen-bench [RUNS]`: generates the whole of `lexicons/` (every
//! document, as `cargo xtask codegen` does: parse, resolve, emit, format with
//! prettyplease) and writes the files to a scratch folder, RUNS times (default
//! 11, after one warm-up run). Prints one JSON object with the median, min
//! and max wall time in milliseconds and the number of documents.
//!
//! A plain loop rather than criterion: one run takes a large fraction of a
//! second, and what matters is the wall time of the whole pipeline.

use std::path::{Path, PathBuf};
use std::time::Instant;

fn once(lexicons: &Path, out: &Path) -> (usize, usize) {
    let fail = |e: Vec<atmo_lexgen::Error>| -> ! {
        for e in &e {
            eprintln!("{e}");
        }
        panic!("{} lexicon error(s)", e.len());
    };
    let docs = atmo_lexgen::load_dir(lexicons).unwrap_or_else(|e| fail(e));
    let n_docs = docs.len();
    let set = atmo_lexgen::Set::build(docs, Vec::new()).unwrap_or_else(|e| fail(e));
    // The same options as the real generation (`cargo xtask codegen`), so
    // the same code: lexgen's one secret list and the `server` feature.
    let opts = atmo_lexgen::Options {
        source_label: "lexicons".into(),
        regenerate_hint: "cargo xtask codegen".into(),
        features: true,
        crate_doc: "benchmark".into(),
        secret_properties: atmo_lexgen::official::secret_properties(),
        root_path: "crate".into(),
        server: atmo_lexgen::ServerCode::Feature("server".into()),
    };
    let generated = atmo_lexgen::generate(&set, &opts).unwrap_or_else(|e| fail(e));
    std::fs::write(
        out.join("Cargo.toml"),
        atmo_lexgen::emit::cargo_toml(
            &generated,
            &opts,
            "[package]\nname = \"codegen-bench-output\"\nversion = \"0.0.0\"\n\n[features]\n",
        ),
    )
    .unwrap();
    let n_files = generated.files.len();
    for (rel, text) in &generated.files {
        let path = out.join("src").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    (n_docs, n_files)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(11);
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lexicons = here.join("../../lexicons");
    let out = here.join("../target/codegen-bench-out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();

    let (docs, files) = once(&lexicons, &out); // warm-up: page cache, allocator
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            once(&lexicons, &out);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let out = serde_json::json!({
        "documents": docs,
        "files": files,
        "runs": runs,
        "median_ms": ms[runs / 2],
        "min_ms": ms[0],
        "max_ms": ms[runs - 1],
    });
    println!("{out}");
}
