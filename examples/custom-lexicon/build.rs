//! Generates the app's own lexicons (`lexicons/`) into `$OUT_DIR/lexicons.rs`,
//! which `src/lib.rs` includes in `mod lexicons`. References into the
//! official lexicons (`com.atproto.repo.strongRef`, `app.bsky.*`) resolve to
//! `atproto_api` through the copy embedded in lexgen.

use std::process::ExitCode;

fn main() -> ExitCode {
    let result = lexgen::Builder::new()
        .lexicons("lexicons")
        .root_path("crate::lexicons")
        .generate();
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
