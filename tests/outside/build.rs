//! Generates Rust for the project's own lexicons (`lexicons/`) with lexgen,
//! as a build-dependency: `$OUT_DIR/lexicons.rs`, included by `src/main.rs`.

fn main() -> Result<(), lexgen::BuildError> {
    lexgen::Builder::new()
        .lexicons("lexicons")
        .root_path("crate::lexicons")
        .generate()?;
    Ok(())
}
