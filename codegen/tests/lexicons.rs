//! Acceptance and refusal of lexicon documents, error reporting, determinism.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use atmo_lexgen::json::Json;
use common::*;

fn build(json: &Json, file: &str) -> Result<(), Vec<atmo_lexgen::Error>> {
    let doc = atmo_lexgen::model::parse_document_json(file, json)?;
    let set = atmo_lexgen::Set::build(vec![doc], vec![])?;
    atmo_lexgen::generate(&set, &atmo_lexgen::Options::default()).map(|_| ())
}

fn cases(dir: &std::path::Path, file: &str) -> Vec<(String, Json)> {
    let text = std::fs::read_to_string(dir.join("lexicon").join(file)).unwrap();
    let Json::Array(items) = atmo_lexgen::json::parse(&text).unwrap() else {
        panic!("{file} is not an array");
    };
    items
        .into_iter()
        .map(|c| {
            let name = match c.get("name") {
                Some(Json::String(s)) => s.clone(),
                _ => panic!("case without a name"),
            };
            (name, c.get("lexicon").expect("lexicon").clone())
        })
        .collect()
}

#[test]
fn interop_valid_lexicons_are_accepted() {
    let Some(dir) = interop_tests("interop_valid_lexicons_are_accepted") else {
        return;
    };
    let cases = cases(&dir, "lexicon-valid.json");
    assert!(!cases.is_empty());
    for (name, json) in &cases {
        if let Err(e) = build(json, &format!("lexicon-valid.json[{name}]")) {
            panic!("valid lexicon {name:?} refused: {e:#?}");
        }
    }
    eprintln!("lexicon-valid.json: {} accepted", cases.len());
}

#[test]
fn interop_invalid_lexicons_are_refused_with_a_clear_error() {
    let Some(dir) = interop_tests("interop_invalid_lexicons_are_refused_with_a_clear_error") else {
        return;
    };
    let cases = cases(&dir, "lexicon-invalid.json");
    assert!(!cases.is_empty());
    for (name, json) in &cases {
        let file = format!("lexicon-invalid.json[{name}]");
        match build(json, &file) {
            Ok(()) => panic!("invalid lexicon {name:?} accepted"),
            Err(errors) => {
                assert!(!errors.is_empty());
                for e in &errors {
                    assert_eq!(e.file, file);
                    assert!(!e.message.is_empty());
                    eprintln!("  refused {name:?}: {e}");
                }
            }
        }
    }
    eprintln!("lexicon-invalid.json: {} refused", cases.len());
}

fn one_error(texts: &[(&str, &str)]) -> atmo_lexgen::Error {
    let errors = errors_of(texts);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn bad_json_names_the_file_and_position() {
    let e = one_error(&[("bad.json", r#"{"lexicon": 1, "id": "a.b.c", "defs": {"#)]);
    assert_eq!(e.file, "bad.json");
    assert!(
        e.message.contains("invalid JSON") && e.message.contains("line 1"),
        "{e}"
    );
}

#[test]
fn unknown_type_names_the_path() {
    let e = one_error(&[(
        "t.json",
        r#"{"lexicon":1,"id":"com.example.t","defs":{"main":{"type":"object",
            "properties":{"x":{"type":"strng"}}}}}"#,
    )]);
    assert_eq!(
        e.to_string(),
        r#"t.json: defs.main.properties.x.type: unknown type "strng""#
    );
}

#[test]
fn unresolved_refs_name_the_path_and_target() {
    let errors = errors_of(&[(
        "r.json",
        r##"{"lexicon":1,"id":"com.example.r","defs":{"main":{"type":"procedure",
            "input":{"encoding":"application/json","schema":{"type":"object","properties":{
              "embed":{"type":"union","refs":["#missing","com.example.nowhere"]},
              "x":{"type":"ref","ref":"com.example.r#nope"}}}}}}}"##,
    )]);
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        shown,
        [
            r##"r.json: defs.main.input.schema.properties.embed: unresolved reference "#missing": document com.example.r has no definition "missing""##,
            r##"r.json: defs.main.input.schema.properties.embed: unresolved reference "com.example.nowhere": no document com.example.nowhere is loaded"##,
            r##"r.json: defs.main.input.schema.properties.x: unresolved reference "com.example.r#nope": document com.example.r has no definition "nope""##,
        ]
    );
}

#[test]
fn duplicate_defs_and_documents_are_refused() {
    let e = one_error(&[(
        "d.json",
        r#"{"lexicon":1,"id":"com.example.d","defs":{"a":{"type":"token"},"a":{"type":"token"}}}"#,
    )]);
    assert_eq!(
        e.to_string(),
        "d.json: defs.a: duplicate key (defined twice in this object)"
    );
    let doc = r#"{"lexicon":1,"id":"com.example.d","defs":{"a":{"type":"token"}}}"#;
    let e = one_error(&[("one.json", doc), ("two.json", doc)]);
    assert_eq!(
        e.to_string(),
        "two.json: id: NSID com.example.d is already defined by one.json"
    );
}

#[test]
fn names_that_clash_after_case_conversion_are_numbered_or_suffixed() {
    let d = doc(
        "c.json",
        r#"{"lexicon":1,"id":"com.example.c","defs":{
            "main":{"type":"object","properties":{
                "fooBar":{"type":"string"},"foo_bar":{"type":"string"},"extra":{"type":"integer"}}},
            "thing":{"type":"object","properties":{}},"Thing":{"type":"object","properties":{}},
            "fooBar":{"type":"token"},"foo_bar":{"type":"token"}}}"#,
    );
    let g = generate_with_official(vec![d]);
    let text = module_file(&g, "com.example.c");
    for expected in [
        "pub foo_bar: ::std::option::Option<::std::string::String>",
        "pub foo_bar_: ::std::option::Option<::std::string::String>",
        "pub extra_: ::std::option::Option<i64>",
        // JSON names are kept.
        "\"foo_bar\" => {\n                    ::atmo_types::object::set_once(\n                        &mut f_foo_bar_,",
        "\"extra\" => {\n                    ::atmo_types::object::set_once(\n                        &mut f_extra_,",
        "pub struct Thing {",
        "pub struct Thing2 {",
        r#"pub const FOO_BAR: &str = "com.example.c#fooBar";"#,
        r#"pub const FOO_BAR_2: &str = "com.example.c#foo_bar";"#,
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn structural_errors_are_all_collected() {
    let errors = errors_of(&[(
        "s.json",
        r#"{"lexicon":1,"id":"com.example.s","defs":{
            "main":{"type":"query","output":{"schema":{"type":"object","properties":{}}}},
            "other":{"type":"record","key":"tid","record":{"type":"object","properties":{}}},
            "u":{"type":"unknown"},
            "s":{"type":"string","format":"email"}}}"#,
    )]);
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        shown,
        [
            "s.json: defs.main.output: missing required property `encoding`",
            "s.json: defs.u.type: type \"unknown\" is not allowed as a top-level definition (allowed: record, query, procedure, subscription, permission-set, object, array, token, string, integer, boolean, bytes, cid-link, blob)",
            "s.json: defs.s.format: unknown string format \"email\"",
        ]
    );
    let e = one_error(&[(
        "p.json",
        r#"{"lexicon":1,"id":"com.example.p","defs":{"other":{"type":"record","key":"tid","record":{"type":"object","properties":{}}}}}"#,
    )]);
    assert_eq!(
        e.to_string(),
        "p.json: defs.other: a record may only be the `main` definition"
    );
}

#[test]
fn id_must_match_the_path_in_a_folder() {
    let dir = std::env::temp_dir().join(format!("lexgen-idpath-{}", std::process::id()));
    let sub = dir.join("com/example");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        sub.join("thing.json"),
        r#"{"lexicon":1,"id":"com.example.other","defs":{"a":{"type":"token"}}}"#,
    )
    .unwrap();
    let errors = atmo_lexgen::load_dir(&dir).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].file.ends_with("com/example/thing.json"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[0].path, "id");
    assert!(
        errors[0].message.contains("expected \"com.example.thing\""),
        "{}",
        errors[0]
    );
}

#[test]
fn generation_of_the_official_set_is_deterministic() {
    let run = || {
        let set = atmo_lexgen::Set::build(official(), vec![]).unwrap();
        let opts = atmo_lexgen::Options {
            features: true,
            ..atmo_lexgen::Options::default()
        };
        atmo_lexgen::generate(&set, &opts).unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.files.len(), b.files.len());
    assert_eq!(a, b);
    // One module per document, plus lib.rs, declared_errors_.rs and the
    // namespace mod.rs files.
    let modules = a
        .files
        .keys()
        .filter(|f| !f.ends_with("mod.rs") && *f != "lib.rs" && *f != "declared_errors_.rs")
        .count();
    assert_eq!(modules, 387);
}

#[test]
fn declared_errors_has_one_arm_per_endpoint_gated_by_its_feature() {
    let set = atmo_lexgen::Set::build(official(), vec![]).unwrap();
    let opts = atmo_lexgen::Options {
        features: true,
        ..atmo_lexgen::Options::default()
    };
    let g = atmo_lexgen::generate(&set, &opts).unwrap();
    assert!(g.files["lib.rs"].contains("pub use declared_errors_::declared_errors;"));
    let lib = &g.files["declared_errors_.rs"];
    assert!(lib.contains("pub fn declared_errors(nsid: &str)"), "{lib}");
    // Each arm sits right under its namespace's cfg.
    let arm = |nsid: &str| format!("\"{nsid}\" =>");
    let gate = |nsid: &str| {
        let at = lib
            .find(&arm(nsid))
            .unwrap_or_else(|| panic!("no arm for {nsid}"));
        let before = lib[..at].trim_end();
        let line = before.lines().last().unwrap().trim().to_owned();
        line
    };
    assert_eq!(
        gate("tools.ozone.moderation.emitEvent"),
        "#[cfg(feature = \"tools-ozone\")]"
    );
    assert_eq!(
        gate("com.atproto.server.createSession"),
        "#[cfg(feature = \"com-atproto\")]"
    );
    // Queries, procedures and subscriptions; records and objects have none.
    let endpoints = set
        .docs
        .values()
        .filter(|e| {
            e.def("main").is_some_and(|m| {
                matches!(
                    m,
                    atmo_lexgen::model::Schema::Query(_)
                        | atmo_lexgen::model::Schema::Procedure(_)
                        | atmo_lexgen::model::Schema::Subscription(_)
                )
            })
        })
        .count();
    assert_eq!(lib.matches("#[cfg(feature = ").count(), endpoints);
    assert!(!lib.contains(&arm("app.bsky.feed.post")));

    // Without features: no cfg at all.
    let plain = atmo_lexgen::generate(&set, &atmo_lexgen::Options::default()).unwrap();
    assert!(!plain.files["declared_errors_.rs"].contains("#[cfg("));
}
