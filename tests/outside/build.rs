//! Generates Rust for the project's own lexicons (`lexicons/`) with lexgen,
//! as a build-dependency: `$OUT_DIR/lexicons.rs`, included by `src/main.rs`.
//! In the project `cargo xtask outside` makes, `lexicons/` is what `lexgen
//! install` fetched from the PDS (with `lexicons.json`); the template's
//! copies are what it published there.

fn main() -> Result<(), atmo_lexgen::BuildError> {
    atmo_lexgen::Builder::new()
        .lexicons("lexicons")
        .root_path("crate::lexicons")
        .generate()?;
    Ok(())
}
