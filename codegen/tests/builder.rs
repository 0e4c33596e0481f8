//! `atmo_lexgen::Builder`, as a build script uses it: one file for `include!`
//! inside a module, the embedded official set, typed errors, inputs.
//! (`examples/custom-lexicon` compiles its output from a real build.rs.)
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use atmo_lexgen::{BuildError, Builder};

/// A record with refs into the official set and to a local def, and a
/// query whose output refers to the record.
fn pins(dir: &Path) -> PathBuf {
    let lex = dir.join("lexicons");
    common::write(
        &lex,
        "com/example/pin.json",
        r##"{"lexicon":1,"id":"com.example.pin","description":"A pinned post.","defs":{
            "main":{"type":"record","key":"tid","record":{"type":"object","required":["subject","createdAt"],
              "properties":{
                "subject":{"type":"ref","ref":"com.atproto.repo.strongRef"},
                "facets":{"type":"array","items":{"type":"ref","ref":"app.bsky.richtext.facet"}},
                "note":{"type":"ref","ref":"#note"},
                "createdAt":{"type":"string","format":"datetime"}}}},
            "note":{"type":"object","required":["text"],"properties":{"text":{"type":"string","maxGraphemes":100}}}}}"##,
    );
    common::write(
        &lex,
        "com/example/listPins.json",
        r#"{"lexicon":1,"id":"com.example.listPins","defs":{"main":{"type":"query",
            "parameters":{"type":"params","properties":{"limit":{"type":"integer","minimum":1}}},
            "output":{"encoding":"application/json","schema":{"type":"object","required":["pins"],
              "properties":{"pins":{"type":"array","items":{"type":"ref","ref":"com.example.pin"}}}}}}}}"#,
    );
    lex
}

#[test]
fn one_file_for_include_inside_a_module() {
    let dir = common::temp("builder-single");
    let text = Builder::new()
        .lexicons(pins(&dir))
        .root_path("crate::lexicons")
        .render()
        .unwrap();
    // Nothing `include!` refuses at the top of a file inside a module.
    let first_code = text
        .lines()
        .find(|l| !l.starts_with("//") && !l.trim().is_empty())
        .unwrap();
    assert!(!first_code.starts_with("#!"), "{first_code}");
    assert!(!text
        .lines()
        .any(|l| l.starts_with("//!") || l.starts_with("#![")));
    assert!(!text.contains("super::"));
    assert!(
        !text.contains(" crate::com"),
        "paths start at the root path"
    );
    let text = text.replace(&dir.display().to_string(), "TMP");
    insta::assert_snapshot!(text);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_api_doc_shows_a_call_of_these_lexicons() {
    let dir = common::temp("builder-api-doc");
    let text = Builder::new().lexicons(pins(&dir)).render().unwrap();
    assert!(
        text.contains(
            "`Api::new(&caller).com.example.list_pins(params)` calls `com.example.listPins`"
        ),
        "{text}"
    );
    assert!(!text.contains("get_timeline"), "{text}");
    // Records only: no call to show.
    let lex = dir.join("records");
    common::write(
        &lex,
        "com/example/note.json",
        r#"{"lexicon":1,"id":"com.example.note","defs":{"main":{"type":"record","key":"tid",
            "record":{"type":"object","properties":{"text":{"type":"string"}}}}}}"#,
    );
    let text = Builder::new().lexicons(&lex).render().unwrap();
    assert!(text.contains("these lexicons define no"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_default_root_is_the_crate() {
    let dir = common::temp("builder-root");
    let text = Builder::new().lexicons(pins(&dir)).render().unwrap();
    assert!(text.contains("crate::com::example::pin::Pin"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generate_writes_the_file_into_out_dir_only_when_it_changed() {
    let dir = common::temp("builder-write");
    let lex = pins(&dir);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let builder = Builder::new()
        .lexicons(&lex)
        .out_dir(&out)
        .file_name("pins.rs")
        .emit_rerun_if_changed(false);
    let path = builder.generate().unwrap();
    assert_eq!(path, out.join("pins.rs"));
    let first = std::fs::read_to_string(&path).unwrap();
    assert_eq!(first, builder.render().unwrap());
    let stamp = std::fs::metadata(&path).unwrap().modified().unwrap();
    builder.generate().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), stamp);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inputs_are_every_folder_and_file() {
    let dir = common::temp("builder-inputs");
    let lex = pins(&dir);
    let inputs = Builder::new().lexicons(&lex).inputs().unwrap();
    let rel: Vec<String> = inputs
        .iter()
        .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
        .collect();
    assert_eq!(
        rel,
        [
            "lexicons",
            "lexicons/com",
            "lexicons/com/example",
            "lexicons/com/example/listPins.json",
            "lexicons/com/example/pin.json",
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn include_and_exclude_select_documents() {
    let dir = common::temp("builder-filter");
    let lex = pins(&dir);
    common::write(
        &lex,
        "org/other/thing.json",
        r#"{"lexicon":1,"id":"org.other.thing","defs":{"main":{"type":"token"}}}"#,
    );
    let all = Builder::new().lexicons(&lex).render().unwrap();
    assert!(all.contains("pub mod org"));
    let only = Builder::new()
        .lexicons(&lex)
        .include("com.example.*")
        .render()
        .unwrap();
    assert!(!only.contains("pub mod org") && only.contains("pub mod pin"));
    let exact = Builder::new()
        .lexicons(&lex)
        .include("org.other.thing")
        .render()
        .unwrap();
    assert!(exact.contains("pub mod thing") && !exact.contains("pub mod pin"));
    // Excluding what another document refers to leaves a dangling ref.
    let err = Builder::new()
        .lexicons(&lex)
        .exclude("com.example.pin")
        .render()
        .unwrap_err();
    let BuildError::Lexicons(errors) = &err else {
        panic!("{err}")
    };
    assert!(
        errors
            .iter()
            .any(|e| e.nsid.as_deref() == Some("com.example.listPins")
                && e.error.message.contains("com.example.pin")),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_are_typed_and_name_file_and_lexicon() {
    let dir = common::temp("builder-errors");
    let lex = pins(&dir);
    assert_eq!(Builder::new().render(), Err(BuildError::NoLexicons));
    let missing = dir.join("nope");
    assert!(matches!(
        Builder::new().lexicons(&missing).render(),
        Err(BuildError::Io { path, .. }) if path == missing
    ));
    assert_eq!(
        Builder::new().lexicons(&lex).include("com.typo.*").render(),
        Err(BuildError::UnmatchedPattern {
            pattern: "com.typo.*".into()
        })
    );
    for bad in ["", "*", "com.*.x", "com..x", "com.ex ample"] {
        assert!(
            matches!(
                Builder::new().lexicons(&lex).include(bad).render(),
                Err(BuildError::BadPattern { .. })
            ),
            "{bad:?}"
        );
    }
    for bad in ["lexicons", "self::x", "crate::", "crate::a<b>"] {
        let err = Builder::new().lexicons(&lex).root_path(bad).render();
        assert!(
            matches!(err, Err(BuildError::BadRootPath { .. })),
            "{bad:?}: {err:?}"
        );
    }
    for ok in ["crate::a::b", "::my_crate::lexicons"] {
        assert!(Builder::new().lexicons(&lex).root_path(ok).render().is_ok());
    }
    assert!(matches!(
        Builder::new().lexicons(&lex).file_name("../x.rs").render(),
        Err(BuildError::BadFileName { .. })
    ));
    // A broken document: the error names its file and its NSID.
    common::write(
        &lex,
        "com/example/broken.json",
        r#"{"lexicon":1,"id":"com.example.broken","defs":{"main":{"type":"object","properties":{"x":{"type":"ref","ref":"com.example.nowhere"}}}}}"#,
    );
    let err = Builder::new().lexicons(&lex).render().unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("lexicon com.example.broken: "), "{shown}");
    assert!(shown.contains("broken.json"), "{shown}");
    assert!(shown.contains("com.example.nowhere"), "{shown}");
    common::write(&lex, "com/example/broken.json", "{ not json");
    let err = Builder::new().lexicons(&lex).render().unwrap_err();
    let BuildError::Lexicons(errors) = &err else {
        panic!("{err}")
    };
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!(errors[0].nsid.as_deref(), Some("com.example.broken"));
    assert!(errors[0].error.file.ends_with("broken.json"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_the_official_set_refs_into_it_do_not_resolve() {
    let dir = common::temp("builder-no-official");
    let err = Builder::new()
        .lexicons(pins(&dir))
        .official(false)
        .render()
        .unwrap_err();
    assert!(
        err.to_string().contains("com.atproto.repo.strongRef"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn secret_properties_default_to_the_official_list() {
    let dir = common::temp("builder-secrets");
    let lex = dir.join("lexicons");
    common::write(
        &lex,
        "com/example/login.json",
        r#"{"lexicon":1,"id":"com.example.login","defs":{"main":{"type":"object",
            "properties":{"pin":{"type":"string"},"password":{"type":"string"}}}}}"#,
    );
    let text = Builder::new().lexicons(&lex).render().unwrap();
    assert!(text.contains("Redacted(&self.password)"));
    assert!(!text.contains("Redacted(&self.pin)"));
    let text = Builder::new()
        .lexicons(&lex)
        .secret_properties(["pin"])
        .render()
        .unwrap();
    assert!(text.contains("Redacted(&self.pin)"));
    assert!(!text.contains("Redacted(&self.password)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_embedded_official_set_is_the_repository_lexicons() {
    // Every document of lexicons/ is embedded and parses (the bytes are
    // compared by generated_is_current); an official document given locally
    // takes precedence over the embedded one.
    let docs = atmo_lexgen::official::documents().unwrap();
    assert!(docs.len() > 300, "{}", docs.len());
    assert_eq!(atmo_lexgen::official::nsids().len(), docs.len());
    assert!(atmo_lexgen::official::nsids().contains("com.atproto.repo.strongRef"));
    let dir = common::temp("builder-override");
    let lex = pins(&dir);
    common::write(
        &lex,
        "com/atproto/repo/strongRef.json",
        r#"{"lexicon":1,"id":"com.atproto.repo.strongRef","defs":{"main":{"type":"object","required":["uri"],"properties":{"uri":{"type":"string","format":"at-uri"}}}}}"#,
    );
    let text = Builder::new().lexicons(&lex).render().unwrap();
    assert!(text.contains("crate::com::atproto::repo::strong_ref::StrongRef"));
    assert!(!text.contains("::atmo_api::com::atproto::repo::strong_ref"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn debug_is_the_readable_message_a_failing_build_script_prints() {
    let dir = common::temp("builder-debug");
    let lex = pins(&dir);
    common::write(&lex, "com/example/broken.json", "{ not json");
    let err = Builder::new().lexicons(&lex).render().unwrap_err();
    assert_eq!(format!("{err:?}"), err.to_string());
    let text = err.to_string();
    assert!(
        text.starts_with("lexgen: 1 lexicon error(s):\n  lexicon com.example.broken: "),
        "{text}"
    );
    assert!(text.contains("broken.json: invalid JSON"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A lexicon folder that cannot be read is named as given and, when
/// relative, as the absolute folder it was looked for in (a build script
/// runs in its package's folder, which a user may not expect).
#[test]
fn a_missing_relative_folder_is_named_where_it_was_looked_for() {
    let relative = "lexgen-test-no-such-lexicons";
    let looked = std::env::current_dir().unwrap().join(relative);
    // render() checks the folders; inputs() (the cargo:rerun-if-changed
    // lines generate() prints first) lists them: both name it.
    let rendered = Builder::new().lexicons(relative).render();
    let listed = Builder::new()
        .lexicons(relative)
        .inputs()
        .map(|_| String::new());
    for result in [rendered, listed] {
        match result {
            Err(e @ BuildError::Io { .. }) => {
                let text = e.to_string();
                assert!(
                    text.starts_with(&format!("lexgen: {relative}: "))
                        && text
                            .contains(&format!("({}, relative to the package)", looked.display())),
                    "{text}"
                );
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }
}
