//! `cargo xtask codegen --check` as a plain test: a `cargo test` fails,
//! naming every stale, missing or extra file, when `crates/atproto-api` or
//! `examples/custom-lexicon` is not what `lexicons/` generates.
//!
//! The generation policy (crate names, Cargo.toml, secrets) lives in the
//! xtask; `common` includes that very file rather than a copy of it.

mod common;

use common::xtask;

#[test]
fn generated_crates_are_current() {
    let root = common::workspace();
    let api = xtask::generate_api(&root).unwrap();
    let example = xtask::generate_example(&root).unwrap();
    let mut problems = xtask::stale(&root, xtask::API, &api);
    problems.extend(xtask::stale(&root, xtask::EXAMPLE, &example));
    assert!(
        problems.is_empty(),
        "generated code is not what the lexicons generate; run `cargo xtask codegen`:\n  {}",
        problems.join("\n  ")
    );
}
