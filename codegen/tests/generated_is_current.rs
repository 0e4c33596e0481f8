//! `cargo xtask codegen --check` as a plain test: a `cargo test` fails,
//! naming every stale, missing or extra file, when `crates/atmo-api` or
//! lexgen's embedded copy of the official lexicons
//! (`codegen/official-lexicons.jsonl`) is not what `lexicons/` generates.
//!
//! The generation policy (crate names, Cargo.toml, secrets) lives in the
//! xtask; `common` includes that very file rather than a copy of it.
//!
//! `UPDATE_GENERATED=1 cargo test -p atmo-lexgen --test generated_is_current`
//! writes the generated crates instead, like `cargo xtask codegen` (for when
//! the xtask itself does not build).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::xtask;

#[test]
fn generated_crates_are_current() {
    let root = common::workspace();
    let api = xtask::generate_api(&root).unwrap();
    let bundle = xtask::generate_bundle(&root).unwrap();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        xtask::write(&root, xtask::API, &api).unwrap();
        xtask::write(&root, xtask::LEXGEN, &bundle).unwrap();
        eprintln!(
            "UPDATE_GENERATED: wrote {} and {}",
            xtask::API,
            xtask::LEXGEN
        );
    }
    let mut problems = xtask::stale(&root, xtask::API, &api);
    problems.extend(xtask::stale(&root, xtask::LEXGEN, &bundle));
    assert!(
        problems.is_empty(),
        "generated code is not what the lexicons generate; run `cargo xtask codegen`:\n  {}",
        problems.join("\n  ")
    );
}
