//! `cargo xtask codegen --check` as a plain test: a `cargo test` fails,
//! naming every stale, missing or extra file, when `crates/atproto-api` or
//! `examples/custom-lexicon` is not what `lexicons/` generates.
//!
//! The generation policy (crate names, Cargo.toml, secrets) lives in the
//! xtask; this test includes that very file rather than a copy of it.

#[allow(dead_code)]
#[path = "../../xtask/src/codegen.rs"]
mod codegen;

/// The workspace root, as the xtask's `workspace_root` gives it.
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn generated_crates_are_current() {
    let root = workspace_root();
    let api = codegen::generate_api(&root).unwrap();
    let example = codegen::generate_example(&root).unwrap();
    let mut problems = codegen::stale(&root, codegen::API, &api);
    problems.extend(codegen::stale(&root, codegen::EXAMPLE, &example));
    assert!(
        problems.is_empty(),
        "generated code is not what the lexicons generate; run `cargo xtask codegen`:\n  {}",
        problems.join("\n  ")
    );
}
