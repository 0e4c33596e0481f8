//! The `lexgen` binary: exit codes and messages.

use std::process::Command;

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lexgen-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn generate_writes_a_tree_and_names_needed_features() {
    let dir = temp("ok");
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
        stderr.contains("atproto_api with features: app-bsky, com-atproto"),
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
    let dir = temp("bad");
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
    let dir = temp("secret");
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
