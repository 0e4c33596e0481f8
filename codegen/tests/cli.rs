//! The `lexgen` binary: exit codes and messages.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

#[test]
fn generate_writes_a_tree_and_names_needed_features() {
    let dir = common::temp("cli-ok");
    let lex = dir.join("lex/com/example");
    std::fs::create_dir_all(&lex).unwrap();
    std::fs::write(
        lex.join("pin.json"),
        r#"{"lexicon":1,"id":"com.example.pin","defs":{"main":{"type":"record","key":"tid",
            "record":{"type":"object","required":["subject"],"properties":{
              "subject":{"type":"ref","ref":"com.atproto.repo.strongRef"},
              "facets":{"type":"array","items":{"type":"ref","ref":"app.bsky.richtext.facet"}}}}}}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lexgen"))
        .args(["generate", "--lexicons"])
        .arg(dir.join("lex"))
        .arg("--out")
        .arg(dir.join("src"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("atmo_api with features: app-bsky, com-atproto"),
        "{stderr}"
    );
    for f in [
        "lib.rs",
        "com/mod.rs",
        "com/example/mod.rs",
        "com/example/pin.rs",
    ] {
        assert!(dir.join("src").join(f).is_file(), "{f} missing");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lexicon_errors_are_all_printed_and_exit_2() {
    let dir = common::temp("cli-bad");
    let lex = dir.join("lex/com/example");
    std::fs::create_dir_all(&lex).unwrap();
    std::fs::write(lex.join("a.json"), "{ not json").unwrap();
    std::fs::write(
        lex.join("b.json"),
        r#"{"lexicon":1,"id":"com.example.b","defs":{"main":{"type":"object","properties":{"x":{"type":"ref","ref":"com.example.nope"}}}}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lexgen"))
        .args(["generate", "--no-external", "--lexicons"])
        .arg(dir.join("lex"))
        .arg("--out")
        .arg(dir.join("src"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("a.json: invalid JSON"), "{stderr}");
    assert!(!dir.join("src").exists(), "nothing written");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_1_and_validate_usage_exits_2() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lexgen"))
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(run(&[]).status.code(), Some(1));
    assert_eq!(run(&["generate", "--out"]).status.code(), Some(1));
    let v = run(&["validate"]);
    assert_eq!(v.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&v.stderr).contains("usage:"));
}

#[test]
fn secret_properties_are_the_callers_choice() {
    let dir = common::temp("cli-secret");
    let lex = dir.join("lex/com/example");
    std::fs::create_dir_all(&lex).unwrap();
    std::fs::write(
        lex.join("login.json"),
        r#"{"lexicon":1,"id":"com.example.login","defs":{"main":{"type":"object",
            "properties":{"pin":{"type":"string"},"password":{"type":"string"}}}}}"#,
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lexgen"))
            .args(["generate", "--no-external", "--lexicons"])
            .arg(dir.join("lex"))
            .arg("--out")
            .arg(dir.join("src"))
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(dir.join("src/com/example/login.rs")).unwrap()
    };
    // The default list: `password` is redacted, `pin` is not.
    let text = run(&[]);
    assert!(text.contains("Redacted(&self.password)"), "{text}");
    assert!(!text.contains("Redacted(&self.pin)"), "{text}");
    // `--secret` replaces the list.
    let text = run(&["--secret", "pin"]);
    assert!(text.contains("Redacted(&self.pin)"), "{text}");
    assert!(!text.contains("Redacted(&self.password)"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn lexgen(args: &[&str], cwd: Option<&std::path::Path>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lexgen"));
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.output().unwrap()
}

/// A record with refs into the official set (`com.atproto.repo.strongRef`,
/// `app.bsky.richtext.facet`) and a query, under `dir/lexicons`.
fn write_pin_lexicons(dir: &std::path::Path) {
    let lex = dir.join("lexicons/com/example");
    std::fs::create_dir_all(&lex).unwrap();
    std::fs::write(
        lex.join("pin.json"),
        r#"{"lexicon":1,"id":"com.example.pin","defs":{"main":{"type":"record","key":"tid",
            "record":{"type":"object","required":["subject"],"properties":{
              "subject":{"type":"ref","ref":"com.atproto.repo.strongRef"},
              "facets":{"type":"array","items":{"type":"ref","ref":"app.bsky.richtext.facet"}}}}}}}"#,
    )
    .unwrap();
    std::fs::write(
        lex.join("listPins.json"),
        r#"{"lexicon":1,"id":"com.example.listPins","defs":{"main":{"type":"query",
            "parameters":{"type":"params","properties":{"limit":{"type":"integer","minimum":1}}},
            "output":{"encoding":"application/json","schema":{"type":"object","required":["pins"],
              "properties":{"pins":{"type":"array","items":{"type":"ref","ref":"com.example.pin"}}}}}}}}"#,
    )
    .unwrap();
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["generate", "validate"] {
        for flag in ["--help", "-h"] {
            let out = lexgen(&[sub, flag], None);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{sub} {flag}: {stdout}");
            assert!(
                stdout.starts_with(&format!("usage: lexgen {sub} ")),
                "{sub} {flag}: {stdout}"
            );
        }
    }
    let generate =
        String::from_utf8_lossy(&lexgen(&["generate", "--help"], None).stdout).into_owned();
    for option in [
        "--lexicons",
        "--out",
        "--crate",
        "--external-crate",
        "--no-external",
        "--secret",
    ] {
        assert!(
            generate.contains(option),
            "{option} undocumented:\n{generate}"
        );
    }
    let top = lexgen(&["--help"], None);
    assert_eq!(top.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&top.stdout).contains("generate"));
    // An unknown argument is still a usage error, naming the argument.
    let bad = lexgen(&["generate", "--bogus"], None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown argument \"--bogus\""));
}

#[test]
fn the_built_in_official_set_resolves_from_any_folder() {
    // A folder outside the repository, and relative paths from it: nothing
    // can reach this repository's lexicons/.
    let dir = common::temp("cli-anywhere");
    write_pin_lexicons(&dir);
    let out = lexgen(
        &["generate", "--lexicons", "lexicons", "--out", "src"],
        Some(&dir),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let pin = std::fs::read_to_string(dir.join("src/com/example/pin.rs")).unwrap();
    assert!(
        pin.contains("::atmo_api::com::atproto::repo::strong_ref::StrongRef"),
        "{pin}"
    );
    assert!(
        pin.contains("::atmo_api::app::bsky::richtext::facet::Facet"),
        "{pin}"
    );
    assert!(
        !dir.join("src/com/atproto").exists(),
        "official set generated again"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_no_longer_generated_are_removed_and_hand_written_ones_kept() {
    let dir = common::temp("cli-stale");
    write_pin_lexicons(&dir);
    let gen = || {
        lexgen(
            &["generate", "--lexicons", "lexicons", "--out", "src"],
            Some(&dir),
        )
    };
    assert!(gen().status.success());
    assert!(dir.join("src/com/example/list_pins.rs").is_file());
    // A hand-written file among the generated ones.
    std::fs::write(dir.join("src/com/example/notes.rs"), "// mine\n").unwrap();
    std::fs::remove_file(dir.join("lexicons/com/example/listPins.json")).unwrap();
    let out = gen();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !dir.join("src/com/example/list_pins.rs").exists(),
        "{stderr}"
    );
    assert!(stderr.contains("removed 1 no longer generated"), "{stderr}");
    assert!(dir.join("src/com/example/pin.rs").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.join("src/com/example/notes.rs")).unwrap(),
        "// mine\n"
    );
    // Every lexicon gone: the generated folders go too, the hand-written file stays.
    std::fs::remove_file(dir.join("lexicons/com/example/pin.json")).unwrap();
    std::fs::write(
        dir.join("lexicons/com/example/other.json"),
        r#"{"lexicon":1,"id":"com.example.other","defs":{"main":{"type":"token"}}}"#,
    )
    .unwrap();
    assert!(gen().status.success());
    assert!(!dir.join("src/com/example/pin.rs").exists());
    assert!(dir.join("src/com/example/notes.rs").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_lexgen_did_not_write_is_never_overwritten() {
    let dir = common::temp("cli-handwritten");
    write_pin_lexicons(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "// my crate root\n").unwrap();
    let out = lexgen(
        &["generate", "--lexicons", "lexicons", "--out", "src"],
        Some(&dir),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("lib.rs exists and was not generated by lexgen"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
        "// my crate root\n"
    );
    assert!(!dir.join("src/com").exists(), "nothing written");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn crate_writes_the_manifest_with_the_dependencies_the_code_needs() {
    let dir = common::temp("cli-crate");
    write_pin_lexicons(&dir);
    let out = lexgen(
        &[
            "generate",
            "--lexicons",
            "lexicons",
            "--out",
            "pins",
            "--crate",
            "my-pins",
        ],
        Some(&dir),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("pins/src/lib.rs").is_file());
    let manifest = std::fs::read_to_string(dir.join("pins/Cargo.toml")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    insta::assert_snapshot!(manifest.replace(version, "VERSION"));
    // Without official refs, no atmo-api.
    std::fs::remove_dir_all(dir.join("lexicons")).unwrap();
    let lex = dir.join("lexicons/com/example");
    std::fs::create_dir_all(&lex).unwrap();
    std::fs::write(
        lex.join("note.json"),
        r#"{"lexicon":1,"id":"com.example.note","defs":{"main":{"type":"object","properties":{"text":{"type":"string"}}}}}"#,
    )
    .unwrap();
    let out = lexgen(
        &[
            "generate",
            "--lexicons",
            "lexicons",
            "--out",
            "pins",
            "--crate",
            "my-pins",
        ],
        Some(&dir),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(dir.join("pins/Cargo.toml")).unwrap();
    assert!(!manifest.contains("atmo-api"), "{manifest}");
    assert!(
        manifest.contains("atmo-types = ") && manifest.contains("serde = \"1\""),
        "{manifest}"
    );
    assert!(
        !dir.join("pins/src/com/example/pin.rs").exists(),
        "stale file removed"
    );
    // A bad package name is a usage error.
    let bad = lexgen(
        &[
            "generate",
            "--lexicons",
            "lexicons",
            "--out",
            "x",
            "--crate",
            "my pins",
        ],
        Some(&dir),
    );
    assert_eq!(bad.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A record whose NSID no loaded lexicon defines: the message says where
/// lexgen looked and, without `--lexicons`, that the option is how a
/// project's own documents are added.
#[test]
fn an_unknown_record_type_says_to_pass_its_lexicons() {
    let dir = common::temp("cli-unknown-nsid");
    write_pin_lexicons(&dir);
    let record = dir.join("bookmark.json");
    std::fs::write(
        &record,
        r#"{"$type":"com.example.bookmark","createdAt":"2024-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let out = lexgen(&["validate", "bookmark.json"], Some(&dir));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(r#"bookmark.json: no lexicon for NSID "com.example.bookmark" is loaded"#)
            && stderr.contains("pass --lexicons DIR"),
        "{stderr}"
    );
    let out = lexgen(
        &["validate", "--lexicons", "lexicons", "bookmark.json"],
        Some(&dir),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("none under lexicons nor in the official set built into lexgen")
            && stderr.contains("DIR/com/example/foo.json"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `lexgen --version` names the package version (what `cargo install`
/// installed), as other cargo-installed commands do.
#[test]
fn version_prints_the_package_version() {
    for flag in ["--version", "-V"] {
        let out = lexgen(&[flag], None);
        assert!(out.status.success(), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("lexgen {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}
