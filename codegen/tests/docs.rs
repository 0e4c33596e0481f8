//! Every public item lexgen writes has a doc: the lexicon's description, or
//! a fallback from the schema. So a crate with `#![deny(missing_docs)]` can
//! `include!` a Builder's output in a public module (and `atmo-api` keeps the
//! workspace's `missing_docs` lint). Checked on the syntax of the output of a
//! lexicon with every kind of definition and no description at all, and of
//! the official set. (`examples/custom-lexicon` compiles its Builder output
//! under `#[deny(missing_docs)]`.)
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

fn has_doc(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("doc"))
}

fn public(v: &syn::Visibility) -> bool {
    matches!(v, syn::Visibility::Public(_))
}

/// Every public item, field, variant and inherent method without a doc,
/// by its path in `file`.
fn undocumented(file: &str, items: &[syn::Item], path: &str, out: &mut Vec<String>) {
    let mut missing = |attrs: &[syn::Attribute], what: String| {
        if !has_doc(attrs) {
            out.push(format!("{file}: {path}{what}"));
        }
    };
    let mut nested = Vec::new();
    for item in items {
        match item {
            // `mod x;`: its doc is the inner doc of its own file.
            syn::Item::Mod(m) if public(&m.vis) && m.content.is_some() => {
                missing(&m.attrs, format!("mod {}", m.ident));
                if let Some((_, inner)) = &m.content {
                    nested.push((format!("{path}{}::", m.ident), inner));
                }
            }
            syn::Item::Struct(s) if public(&s.vis) => {
                missing(&s.attrs, format!("struct {}", s.ident));
                for (i, f) in s.fields.iter().enumerate() {
                    if public(&f.vis) {
                        let name = f.ident.as_ref().map_or(i.to_string(), |n| n.to_string());
                        missing(&f.attrs, format!("{}.{name}", s.ident));
                    }
                }
            }
            syn::Item::Enum(e) if public(&e.vis) => {
                missing(&e.attrs, format!("enum {}", e.ident));
                for v in &e.variants {
                    missing(&v.attrs, format!("{}::{}", e.ident, v.ident));
                }
            }
            syn::Item::Const(c) if public(&c.vis) => {
                missing(&c.attrs, format!("const {}", c.ident))
            }
            syn::Item::Type(t) if public(&t.vis) => missing(&t.attrs, format!("type {}", t.ident)),
            syn::Item::Fn(f) if public(&f.vis) => missing(&f.attrs, format!("fn {}", f.sig.ident)),
            syn::Item::Impl(i) if i.trait_.is_none() => {
                for it in &i.items {
                    match it {
                        syn::ImplItem::Fn(f) if public(&f.vis) => {
                            missing(&f.attrs, format!("fn {}", f.sig.ident));
                        }
                        syn::ImplItem::Const(c) if public(&c.vis) => {
                            missing(&c.attrs, format!("const {}", c.ident));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    for (p, inner) in nested {
        undocumented(file, inner, &p, out);
    }
}

fn check(file: &str, text: &str, out: &mut Vec<String>) {
    let parsed = syn::parse_file(text).unwrap_or_else(|e| panic!("{file}: {e}"));
    if !text.contains("\n//!") && !has_doc(&parsed.attrs) && file != "lexicons.rs" {
        out.push(format!("{file}: the module"));
    }
    undocumented(file, &parsed.items, "", out);
}

/// Every kind of definition, inline types, bodies and errors, without a
/// single `description`.
const BARE: &[(&str, &str)] = &[
    (
        "com/example/bare/defs.json",
        r##"{"lexicon":1,"id":"com.example.bare.defs","defs":{
            "thing":{"type":"object","required":["name","kind"],"properties":{
                "name":{"type":"string","maxGraphemes":64},
                "kind":{"type":"string","enum":["a","b"]},
                "tags":{"type":"array","maxLength":4,"items":{"type":"string","knownValues":["x","y"]}},
                "inner":{"type":"object","properties":{"n":{"type":"integer","minimum":0,"default":3}}},
                "pick":{"type":"union","refs":["#thing","#other"]},
                "pic":{"type":"blob","accept":["image/png"],"maxSize":1000},
                "raw":{"type":"bytes"},"link":{"type":"cid-link"},"any":{"type":"unknown"},
                "flag":{"type":"boolean","default":false}}},
            "other":{"type":"object","properties":{}},
            "mood":{"type":"string","knownValues":["happy","sad"]},
            "closed":{"type":"string","enum":["one","two"]},
            "list":{"type":"array","items":{"type":"ref","ref":"#thing"}},
            "plain":{"type":"string","format":"did"},
            "count":{"type":"integer"},
            "data":{"type":"bytes","maxLength":64},
            "marker":{"type":"token"},
            "blank":{"type":"object","description":" ","properties":{"b":{"type":"string","description":""}}}}}"##,
    ),
    (
        "com/example/bare/record.json",
        r##"{"lexicon":1,"id":"com.example.bare.record","defs":{"main":{"type":"record","key":"tid",
            "record":{"type":"object","required":["createdAt"],"properties":{
                "createdAt":{"type":"string","format":"datetime"}}}}}}"##,
    ),
    (
        "com/example/bare/get.json",
        r##"{"lexicon":1,"id":"com.example.bare.get","defs":{"main":{"type":"query",
            "parameters":{"type":"params","required":["q"],"properties":{"q":{"type":"string"},
              "limit":{"type":"integer","minimum":1,"maximum":100,"default":50}}},
            "output":{"encoding":"application/json","schema":{"type":"ref","ref":"com.example.bare.defs#thing"}},
            "errors":[{"name":"NotFound"}]}}}"##,
    ),
    (
        "com/example/bare/put.json",
        r##"{"lexicon":1,"id":"com.example.bare.put","defs":{"main":{"type":"procedure",
            "input":{"encoding":"application/json","schema":{"type":"union","refs":["com.example.bare.defs#thing"]}},
            "output":{"encoding":"application/json"}}}}"##,
    ),
    (
        "com/example/bare/upload.json",
        r##"{"lexicon":1,"id":"com.example.bare.upload","defs":{"main":{"type":"procedure",
            "input":{"encoding":"*/*"},
            "output":{"encoding":"application/json","schema":{"type":"object","required":["blob"],
              "properties":{"blob":{"type":"blob"}}}}}}}"##,
    ),
    (
        "com/example/bare/stream.json",
        r##"{"lexicon":1,"id":"com.example.bare.stream","defs":{"main":{"type":"subscription",
            "parameters":{"type":"params","properties":{"cursor":{"type":"integer"}}},
            "message":{"schema":{"type":"union","refs":["#tick"]}}},
            "tick":{"type":"object","required":["seq"],"properties":{"seq":{"type":"integer"}}}}}"##,
    ),
    (
        "com/example/bare/perms.json",
        r##"{"lexicon":1,"id":"com.example.bare.perms","defs":{"main":{"type":"permission-set",
            "permissions":[{"type":"permission","resource":"rpc","lxm":["com.example.bare.get"],"aud":"*"}]}}}"##,
    ),
];

#[test]
fn builder_output_documents_every_public_item() {
    let dir = common::temp("docs-bare");
    for (rel, text) in BARE {
        common::write(&dir, rel, text);
    }
    let text = atmo_lexgen::Builder::new()
        .lexicons(&dir)
        .root_path("crate::lexicons")
        .server(true)
        .render()
        .unwrap();
    let mut missing = Vec::new();
    check("lexicons.rs", &text, &mut missing);
    assert!(missing.is_empty(), "undocumented:\n{}", missing.join("\n"));
    // The fallbacks say what the schema says.
    for expected in [
        "/// The `com.example.bare.defs#thing` object.",
        "/// `name`: string (maxGraphemes 64).",
        "/// `tags`: array (maxLength 4) of string (`knownValues`).",
        "/// `pic`: blob (accept `image/png`, maxSize 1000).",
        "/// `flag`: boolean (default false).",
        "/// `pick`: union of `#thing`, `#other`.",
        "/// The object at `defs.thing.properties.inner` of `com.example.bare.defs`.",
        "/// The `knownValues` of `com.example.bare.defs#mood`.",
        "/// The `enum` values of `com.example.bare.defs#closed`.",
        "/// The `com.example.bare.defs#plain` definition: string (format `did`).",
        "/// The `com.example.bare.defs#list` definition: array of ref `#thing`.",
        "/// The `com.example.bare.defs#marker` token.",
        "/// The `com.example.bare.defs#data` definition: bytes (maxLength 64).",
        "/// The `com.example.bare.defs#blank` object.",
        "/// `b`: string.",
        "/// The `com.example.bare.record` record (key `tid`).",
        "/// The output body of `com.example.bare.get` (`application/json`): ref",
        "/// The input body of `com.example.bare.put` (`application/json`).",
        "/// The messages of the `com.example.bare.stream` subscription.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_official_crate_documents_every_public_item() {
    let root = common::workspace();
    let files = common::xtask::generate_api(&root).unwrap();
    let mut missing = Vec::new();
    for (rel, text) in &files {
        if rel.extension().is_some_and(|e| e == "rs") {
            check(&rel.display().to_string(), text, &mut missing);
        }
    }
    assert!(
        missing.is_empty(),
        "{} undocumented, first:\n{}",
        missing.len(),
        missing[..missing.len().min(40)].join("\n")
    );
}
