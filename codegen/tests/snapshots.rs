//! Snapshots of the generated source for a few official endpoints and for
//! each lexicon of the interop catalog (one per def kind). Reviewed by eye.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

fn official_snapshot(nsid: &str) -> String {
    let file = common::workspace()
        .join("lexicons")
        .join(nsid.replace('.', "/") + ".json");
    let text = std::fs::read_to_string(&file).unwrap();
    let d = doc("lexicons/x.json", &text);
    let g = generate_with_official(vec![d]);
    module_file(&g, nsid).to_owned()
}

#[test]
fn create_session() {
    insta::assert_snapshot!(official_snapshot("com.atproto.server.createSession"));
}

#[test]
fn refresh_session() {
    insta::assert_snapshot!(official_snapshot("com.atproto.server.refreshSession"));
}

#[test]
fn get_session() {
    insta::assert_snapshot!(official_snapshot("com.atproto.server.getSession"));
}

#[test]
fn delete_session() {
    insta::assert_snapshot!(official_snapshot("com.atproto.server.deleteSession"));
}

#[test]
fn create_account() {
    insta::assert_snapshot!(official_snapshot("com.atproto.server.createAccount"));
}

#[test]
fn interop_catalog() {
    let Some(dir) = interop_tests("interop_catalog") else {
        return;
    };
    let mut names: Vec<_> = std::fs::read_dir(dir.join("lexicon/catalog"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let d = doc(&format!("catalog/{stem}.json"), &text);
        let id = d.id.clone();
        let g = generate_with_official(vec![d]);
        insta::assert_snapshot!(format!("catalog_{stem}"), module_file(&g, &id));
    }
}

#[test]
fn recursive_containment_is_boxed_only_on_the_cycle() {
    let d = doc(
        "tree.json",
        r##"{"lexicon":1,"id":"com.example.tree","defs":{
            "node":{"type":"object","required":["value"],"properties":{
                "value":{"type":"integer"},
                "next":{"type":"ref","ref":"#node"},
                "leaf":{"type":"ref","ref":"#leaf"},
                "children":{"type":"array","items":{"type":"ref","ref":"#node"}}}},
            "leaf":{"type":"object","properties":{"v":{"type":"string"}}}}}"##,
    );
    let g = generate_with_official(vec![d]);
    let text = module_file(&g, "com.example.tree");
    assert!(
        text.contains("pub next: ::std::option::Option<::std::boxed::Box<Node>>"),
        "{text}"
    );
    assert!(
        text.contains("pub leaf: ::std::option::Option<Leaf>"),
        "{text}"
    );
    assert!(
        text.contains("pub children: ::std::option::Option<::std::vec::Vec<Node>>"),
        "{text}"
    );
}

#[test]
fn refs_into_the_official_set_use_external_paths() {
    let d = doc(
        "like.json",
        r#"{"lexicon":1,"id":"com.example.like","defs":{"main":{"type":"record","key":"tid",
            "record":{"type":"object","required":["subject"],"properties":{
                "subject":{"type":"ref","ref":"com.atproto.repo.strongRef"},
                "facets":{"type":"array","items":{"type":"ref","ref":"app.bsky.richtext.facet"}}}}}}}"#,
    );
    let g = generate_with_official(vec![d]);
    let text = module_file(&g, "com.example.like");
    assert!(
        text.contains("pub subject: ::atmo_api::com::atproto::repo::strong_ref::StrongRef"),
        "{text}"
    );
    assert!(
        text.contains("::atmo_api::app::bsky::richtext::facet::Facet"),
        "{text}"
    );
    assert!(
        !g.files.keys().any(|f| f.starts_with("app/")),
        "official docs are not generated again"
    );
}

#[test]
fn keywords_and_prelude_names_still_make_identifiers() {
    let d = doc(
        "kw.json",
        r##"{"lexicon":1,"id":"com.example.kw","defs":{
            "main":{"type":"query","parameters":{"type":"params","properties":{
                "self":{"type":"boolean"},"type":{"type":"string","enum":["a","b"]}}},
              "output":{"encoding":"application/json","schema":{"type":"object","properties":{
                "match":{"type":"union","refs":["#option","#string"]},
                "async":{"type":"ref","ref":"#result"}}}}},
            "option":{"type":"object","properties":{"ref":{"type":"string"}}},
            "string":{"type":"object","properties":{"crate":{"type":"integer"}}},
            "result":{"type":"string","knownValues":["ok","!err","18+"]}}}"##,
    );
    let g = generate_with_official(vec![d]);
    let text = module_file(&g, "com.example.kw");
    for expected in [
        "pub self_: ::std::option::Option<bool>",
        "pub r#type: ::std::option::Option<ParametersType>",
        "pub r#match: ::std::option::Option<OutputMatch>",
        "pub r#async: ::std::option::Option<::atmo_types::object::Open<Result>>",
        "Option(::std::boxed::Box<Option>)",
        "String(::std::boxed::Box<String>)",
        "pub r#ref: ::std::option::Option<::std::string::String>",
        "pub crate_: ::std::option::Option<i64>",
        "Err,",
        "V18,",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

/// Every `pub fn new(...)` signature of a generated file, in order.
fn constructors(text: &str) -> Vec<String> {
    text.match_indices("pub fn new(")
        .map(|(i, _)| {
            let end = text[i..].find(") -> Self").unwrap();
            let sig = text[i + "pub fn ".len()..i + end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            format!("{})", sig.replace("( ", "(").trim_end_matches(','))
        })
        .collect()
}

#[test]
fn new_takes_required_fields_in_required_order_whatever_the_property_order() {
    // As the author wrote it.
    let authored = doc(
        "a.json",
        r##"{"lexicon":1,"id":"com.example.order","defs":{
            "main":{"type":"procedure",
              "parameters":{"type":"params","required":["repo","collection"],"properties":{
                "collection":{"type":"string","format":"nsid"},
                "repo":{"type":"string","format":"at-identifier"}}},
              "input":{"encoding":"application/json","schema":{"type":"object",
                "required":["title","description","url"],"nullable":["url"],"properties":{
                  "url":{"type":"string"},"note":{"type":"string"},
                  "title":{"type":"string"},"description":{"type":"string"}}}}},
            "entry":{"type":"object","required":["createdAt","subject","name"],"properties":{
                "createdAt":{"type":"string"},"subject":{"type":"string"},
                "name":{"type":"string"},"extra":{"type":"string"}}}}}"##,
    );
    // The same document as an installer reads it back from a DAG-CBOR
    // record: map keys sorted (shorter first, then bytewise), arrays as
    // they were.
    let installed = doc(
        "b.json",
        r##"{"defs":{
            "main":{"type":"procedure",
              "input":{"schema":{"type":"object","nullable":["url"],"required":["title","description","url"],
                "properties":{"url":{"type":"string"},"note":{"type":"string"},
                  "title":{"type":"string"},"description":{"type":"string"}}},"encoding":"application/json"},
              "parameters":{"type":"params","required":["repo","collection"],"properties":{
                "repo":{"type":"string","format":"at-identifier"},
                "collection":{"type":"string","format":"nsid"}}}},
            "entry":{"type":"object","required":["createdAt","subject","name"],"properties":{
                "name":{"type":"string"},"extra":{"type":"string"},
                "subject":{"type":"string"},"createdAt":{"type":"string"}}}},
          "id":"com.example.order","lexicon":1}"##,
    );
    let a = generate_with_official(vec![authored]);
    let b = generate_with_official(vec![installed]);
    let a = constructors(module_file(&a, "com.example.order"));
    let b = constructors(module_file(&b, "com.example.order"));
    assert_eq!(a, b);
    let s = "::std::string::String";
    assert_eq!(
        a,
        [
            "new(repo: ::atmo_types::AtIdentifier, collection: ::atmo_types::Nsid)".to_owned(),
            format!("new(title: {s}, description: {s}, url: ::std::option::Option<{s}>)"),
            format!("new(created_at: {s}, subject: {s}, name: {s})"),
        ]
    );
}

/// A file's lines, sorted: equal for two outputs that differ only in the
/// order of fields and items.
fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

#[test]
fn names_on_a_clash_do_not_depend_on_key_order() {
    // `foo_bar` and `fooBar` make the same field and inline type names,
    // `extra_` and `extra` the same field name as the generated `extra`:
    // who gets the plain name and who the suffix must not depend on the
    // order `properties` lists them in.
    let object = |props: &str| {
        format!(
            r#"{{"lexicon":1,"id":"com.example.clash","defs":{{"entry":{{"type":"object",
            "required":["fooBar","foo_bar"],"properties":{{{props}}}}}}}}}"#
        )
    };
    let foo_bar = r#""foo_bar":{"type":"object","properties":{"a":{"type":"integer"}}}"#;
    let foo_bar2 = r#""fooBar":{"type":"object","properties":{"b":{"type":"string"}}}"#;
    let extra = r#""extra":{"type":"string"}"#;
    let extra2 = r#""extra_":{"type":"boolean"}"#;
    // As written, and as DAG-CBOR sorts the keys (shorter first, then bytewise).
    let authored = doc(
        "a.json",
        &object(&[foo_bar, foo_bar2, extra2, extra].join(",")),
    );
    let installed = doc(
        "b.json",
        &object(&[extra, extra2, foo_bar2, foo_bar].join(",")),
    );
    let a = generate_with_official(vec![authored]);
    let b = generate_with_official(vec![installed]);
    let a = module_file(&a, "com.example.clash");
    let b = module_file(&b, "com.example.clash");
    assert_eq!(
        sorted_lines(a),
        sorted_lines(b),
        "authored:\n{a}\ninstalled:\n{b}"
    );
    // Fields stay in document order.
    let field = |t: &str, f: &str| t.find(&format!("    pub {f}: ")).unwrap();
    assert!(field(a, "foo_bar") < field(a, "extra_"), "{a}");
    assert!(field(b, "extra_") < field(b, "foo_bar"), "{b}");

    // The same for defs (`thing`/`Thing`, tokens `foo_bar`/`fooBar`).
    let defs = |defs: &[&str]| {
        let text = format!(
            r#"{{"lexicon":1,"id":"com.example.clash","defs":{{{}}}}}"#,
            defs.join(",")
        );
        let g = generate_with_official(vec![doc("d.json", &text)]);
        module_file(&g, "com.example.clash").to_owned()
    };
    let thing = r#""thing":{"type":"object","properties":{"a":{"type":"integer"}}}"#;
    let thing2 = r#""Thing":{"type":"object","properties":{"b":{"type":"string"}}}"#;
    let token = r#""foo_bar":{"type":"token"}"#;
    let token2 = r#""fooBar":{"type":"token"}"#;
    let a = defs(&[thing, thing2, token, token2]);
    let b = defs(&[thing2, token2, thing, token]);
    assert_eq!(sorted_lines(&a), sorted_lines(&b), "a:\n{a}\nb:\n{b}");
}
