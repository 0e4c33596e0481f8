//! Stage 3, emit: Rust source for a resolved set.
//!
//! Layout: a module per NSID (`com::atproto::server::create_session` in
//! `com/atproto/server/create_session.rs`), a `mod.rs` per namespace folder
//! with that namespace's `Service` (one method per query/procedure, one field
//! per child namespace), and `lib.rs` at the root with the `Api` entry
//! struct. Output is deterministic: everything is ordered (BTreeMap, sorted
//! defs), and re-running gives byte-identical files.

mod checks;
mod cycles;
pub mod ir;
pub mod lower;
mod namespace;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::quote;

use crate::names::unraw;
use crate::resolve::Set;
use crate::Error;
use ir::{Item, Module, Ty};

/// Generation options.
#[derive(Clone, Debug)]
pub struct Options {
    /// How headers name the lexicon folder, e.g. `lexicons`: the header of
    /// `create_session.rs` says `from lexicons/com/atproto/server/createSession.json`.
    pub source_label: String,
    /// What headers tell to run to regenerate.
    pub regenerate_hint: String,
    /// Gate each top-level namespace (first two NSID segments, e.g.
    /// `com-atproto`) behind a cargo feature of that name.
    pub features: bool,
    /// Crate-level doc text of the root file.
    pub crate_doc: String,
    /// JSON property names whose string values are secrets (passwords,
    /// tokens): structs holding one implement `Debug` by hand, printing `***`
    /// for it. Empty by default: which names are secret is the caller's
    /// policy.
    pub secret_properties: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            source_label: "lexicons".into(),
            regenerate_hint: "cargo xtask codegen".into(),
            features: false,
            crate_doc: "Types and XRPC endpoints generated from lexicons.".into(),
            secret_properties: Vec::new(),
        }
    }
}

/// The generated files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Generated {
    /// Path relative to the source root (`lib.rs`, `com/mod.rs`...) → content.
    pub files: BTreeMap<String, String>,
    /// Feature → features it enables (cross-namespace references).
    pub features: BTreeMap<String, BTreeSet<String>>,
    /// External crate → the namespace features of it that references need
    /// (e.g. `atproto_api` → `app-bsky` for `app.bsky.richtext.facet`).
    pub external_features: BTreeMap<String, BTreeSet<String>>,
}

/// The feature of an NSID: its first two segments, `com.atproto.x.y` → `com-atproto`.
pub fn feature_of(nsid: &str) -> String {
    nsid.split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join("-")
        .to_ascii_lowercase()
}

/// Generates the module tree for the local documents of `set`.
pub fn generate(set: &Set, opts: &Options) -> Result<Generated, Vec<Error>> {
    let modules = lower::lower(set, &opts.secret_properties)?;
    let mut out = Generated::default();
    let mut errors = Vec::new();
    collect_features(&modules, &mut out);
    if !opts.features {
        out.features.clear();
    }
    let mut root = namespace::Node::default();
    for m in &modules {
        root.insert(m);
        match module_file(m, opts) {
            Ok((file, text)) => {
                out.files.insert(file, text);
            }
            Err(e) => errors.push(e),
        }
    }
    namespace::files(&root, &[], opts, &mut out, &mut errors);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Each module's feature, the features it needs (cross-namespace
/// references), and the features of external crates references need.
fn collect_features(modules: &[Module], out: &mut Generated) {
    let mut module_feature: BTreeMap<&[String], String> = BTreeMap::new();
    for m in modules {
        module_feature.insert(&m.path, feature_of(&m.nsid));
        out.features.entry(feature_of(&m.nsid)).or_default();
    }
    for m in modules {
        let mine = feature_of(&m.nsid);
        let mut paths = Vec::new();
        for item in &m.items {
            item_paths(item, &mut paths);
        }
        for p in paths {
            if let Some(k) = &p.krate {
                let f = p
                    .module
                    .iter()
                    .take(2)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("-");
                out.external_features
                    .entry(k.clone())
                    .or_default()
                    .insert(f);
                continue;
            }
            match module_feature.get(p.module.as_slice()) {
                Some(f) if *f != mine => {
                    out.features
                        .entry(mine.clone())
                        .or_default()
                        .insert(f.clone());
                }
                _ => {}
            }
        }
    }
}

/// The file of one module: its path under the source root and its text.
fn module_file(m: &Module, opts: &Options) -> Result<(String, String), Error> {
    let body = render::module(m);
    let mut doc = format!("`{}`", m.nsid);
    if let Some(d) = &m.doc {
        doc.push_str(": ");
        doc.push_str(d);
    }
    let docs = render::inner_docs(&doc);
    let file = format!(
        "{}.rs",
        m.path
            .iter()
            .map(|s| unraw(s))
            .collect::<Vec<_>>()
            .join("/")
    );
    let source = format!("{}/{}.json", opts.source_label, m.nsid.replace('.', "/"));
    let text = format_file(&file, quote!(#docs #body), &source, opts)?;
    Ok((file, text))
}
fn item_paths<'a>(item: &'a Item, out: &mut Vec<&'a ir::TyPath>) {
    fn ty<'a>(t: &'a Ty, out: &mut Vec<&'a ir::TyPath>) {
        match t {
            Ty::Vec(i) => ty(i, out),
            Ty::Named(p) | Ty::Open(p) => out.push(p),
            _ => {}
        }
    }
    match item {
        Item::Struct(s) => s.fields.iter().for_each(|f| ty(&f.ty, out)),
        Item::Union(u) => u.members.iter().for_each(|m| out.push(&m.ty)),
        Item::Alias { ty: t, .. } => ty(t, out),
        _ => {}
    }
}

fn format_file(
    file: &str,
    tokens: TokenStream,
    source: &str,
    opts: &Options,
) -> Result<String, Error> {
    let parsed: syn::File = syn::parse2(tokens).map_err(|e| {
        Error::new(
            file,
            "",
            format!("internal error: generated code does not parse: {e}"),
        )
    })?;
    let text = prettyplease::unparse(&parsed);
    Ok(format!(
        "// @generated by lexgen from {source} — do not edit by hand; run {}\n\n{text}",
        opts.regenerate_hint
    ))
}

/// A `Cargo.toml` for a generated crate: a `@generated` header line, then
/// `manifest` (the caller's package, dependencies and anything else, ending
/// with the `[features]` table header and any features of its own, such as
/// `default`), then one line per namespace feature with the features it
/// enables.
pub fn cargo_toml(generated: &Generated, opts: &Options, manifest: &str) -> String {
    let mut s = format!(
        "# @generated by lexgen from {}/ — do not edit by hand; run {}\n",
        opts.source_label, opts.regenerate_hint
    );
    s.push_str(manifest);
    for (f, deps) in &generated.features {
        let deps: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
        s.push_str(&format!("{f} = [{}]\n", deps.join(", ")));
    }
    s
}
