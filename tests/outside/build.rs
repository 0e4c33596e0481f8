//! Generates Rust for the project's own lexicons (`lexicons/`) with lexgen,
//! as a build-dependency, into `OUT_DIR/lexgen/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed=lexicons");
    match generate() {
        Ok((documents, files)) => {
            println!("cargo:rustc-env=OUTSIDE_LEXICON_DOCUMENTS={documents}");
            println!("cargo:rustc-env=OUTSIDE_GENERATED_FILES={files}");
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in problems {
                eprintln!("lexicons: {p}");
            }
            ExitCode::FAILURE
        }
    }
}

fn generate() -> Result<(usize, usize), Vec<String>> {
    let strings = |errors: Vec<lexgen::Error>| errors.iter().map(|e| e.to_string()).collect();
    let docs = lexgen::load_dir(Path::new("lexicons")).map_err(strings)?;
    let documents = docs.len();
    let set = lexgen::Set::build(docs, Vec::new()).map_err(strings)?;
    let generated = lexgen::generate(&set, &lexgen::Options::default()).map_err(strings)?;
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| vec![e.to_string()])?)
        .join("lexgen");
    for (file, text) in &generated.files {
        let path = out.join(file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| vec![format!("{}: {e}", dir.display())])?;
        }
        std::fs::write(&path, text).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    }
    Ok((documents, generated.files.len()))
}
