//! Stage 3, emit: Rust source for a resolved set.
//!
//! Layout: a module per NSID (`com::atproto::server::create_session` in
//! `com/atproto/server/create_session.rs`), a `mod.rs` per namespace folder
//! with that namespace's `Service` (one method per query/procedure, one field
//! per child namespace), and `lib.rs` at the root with the `Api` entry
//! struct. Output is deterministic: everything is ordered (BTreeMap, sorted
//! defs), and re-running gives byte-identical files.

pub mod ir;
pub mod lower;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::quote;

use crate::names::{ident, unraw};
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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            source_label: "lexicons".into(),
            regenerate_hint: "cargo xtask codegen".into(),
            features: false,
            crate_doc: "Types and XRPC endpoints generated from lexicons.".into(),
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

#[derive(Default)]
struct Node<'m> {
    /// Raw NSID segments from the root.
    raw: Vec<String>,
    children: BTreeMap<String, Node<'m>>,
    leaves: BTreeMap<String, &'m Module>,
}

/// Generates the module tree for the local documents of `set`.
pub fn generate(set: &Set, opts: &Options) -> Result<Generated, Vec<Error>> {
    let modules = lower::lower(set)?;
    let mut out = Generated::default();
    let mut errors = Vec::new();

    // Features and their dependencies.
    let mut module_feature: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for m in &modules {
        module_feature.insert(m.path.clone(), feature_of(&m.nsid));
        out.features.entry(feature_of(&m.nsid)).or_default();
    }
    for m in &modules {
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
            if let Some(f) = module_feature.get(&p.module) {
                if *f != mine {
                    out.features
                        .get_mut(&mine)
                        .expect("inserted")
                        .insert(f.clone());
                }
            }
        }
    }
    if !opts.features {
        out.features.clear();
    }

    // Module files.
    let mut root = Node::default();
    for m in &modules {
        let mut node = &mut root;
        let raw: Vec<&str> = m.nsid.split('.').collect();
        let (leaf, dirs) = m.path.split_last().expect("NSIDs have 3+ segments");
        for (i, seg) in dirs.iter().enumerate() {
            node = node.children.entry(seg.clone()).or_default();
            node.raw = raw[..=i].iter().map(|s| s.to_string()).collect();
        }
        node.leaves.insert(leaf.clone(), m);
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
        match format_file(&file, quote!(#docs #body), &source, opts) {
            Ok(text) => {
                out.files.insert(file, text);
            }
            Err(e) => errors.push(e),
        }
    }
    namespace_files(&root, &[], opts, &mut out, &mut errors);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
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

fn cfg_for(node: &Node, depth: usize, opts: &Options) -> TokenStream {
    if !opts.features {
        return quote!();
    }
    let mut feats = BTreeSet::new();
    collect_features(node, &mut feats);
    if depth >= 3 || feats.is_empty() {
        // Gated at the top-level namespace folder (depth 2, one feature) and
        // at its first segment (depth 1, any of its namespaces' features).
        return quote!();
    }
    let feats: Vec<&String> = feats.iter().collect();
    if feats.len() == 1 {
        let f = feats[0];
        quote!(#[cfg(feature = #f)])
    } else {
        quote!(#[cfg(any(#(feature = #feats),*))])
    }
}

fn collect_features(node: &Node, out: &mut BTreeSet<String>) {
    for m in node.leaves.values() {
        out.insert(feature_of(&m.nsid));
    }
    for c in node.children.values() {
        collect_features(c, out);
    }
}

/// Writes `mod.rs` (or `lib.rs` for the root) of a namespace folder.
fn namespace_files(
    node: &Node,
    path: &[String],
    opts: &Options,
    out: &mut Generated,
    errors: &mut Vec<Error>,
) {
    let depth = path.len();
    let mut mods = Vec::new();
    let mut fields = Vec::new();
    let mut inits = Vec::new();
    for (seg, child) in &node.children {
        // The child sits at depth+1; it is gated when it is a top-level
        // namespace folder (depth+1 == 2) or holds only such (depth+1 == 1).
        let cfg = cfg_for(child, depth + 1, opts);
        let id = ident(seg);
        // Generated files are formatted by prettyplease, not rustfmt: keep
        // `cargo fmt` out of them (skipping the root's modules skips all).
        let skip = if depth == 0 {
            quote!(#[rustfmt::skip])
        } else {
            quote!()
        };
        mods.push(quote!(#cfg #skip pub mod #id;));
        let doc = format!(" The `{}` namespace.", child.raw.join("."));
        fields.push(quote!(#[doc = #doc] #cfg pub #id: #id::Service<'a, C>,));
        inits.push(quote!(#cfg #id: #id::Service::new(caller),));
        let mut p = path.to_vec();
        p.push(seg.clone());
        namespace_files(child, &p, opts, out, errors);
    }
    let mut methods = Vec::new();
    for (seg, m) in &node.leaves {
        let id = ident(seg);
        mods.push(quote!(pub mod #id;));
        for item in &m.items {
            if let Item::Endpoint(e) = item {
                if unraw(seg) == "new" {
                    errors.push(Error::new(
                        &m.nsid,
                        "defs.main",
                        "an endpoint named `new` clashes with the namespace constructor",
                    ));
                    continue;
                }
                let marker = ident(&e.name);
                let out_ty = match e.output {
                    ir::BodyKind::None => quote!(()),
                    _ => quote!(#id::Output),
                };
                let mut args = Vec::new();
                let params = if e.params {
                    args.push(quote!(params: #id::Parameters));
                    quote!(params)
                } else {
                    quote!(())
                };
                let input = match e.input {
                    ir::BodyKind::None => quote!(()),
                    _ => {
                        args.push(quote!(input: #id::Input));
                        quote!(input)
                    }
                };
                let doc = render::docs(Some(&format!(
                    "Calls `{}` ({}).{}",
                    e.nsid,
                    if e.procedure { "procedure" } else { "query" },
                    e.doc
                        .as_deref()
                        .map(|d| format!("\n\n{d}"))
                        .unwrap_or_default()
                )));
                methods.push(quote! {
                    #doc
                    pub fn #id(&self, #(#args),*) -> impl ::std::future::Future<
                        Output = ::std::result::Result<#out_ty, C::Error<#id::Error>>,
                    > + ::std::marker::Send + 'a {
                        self.caller_.call::<#id::#marker>(#params, #input)
                    }
                });
            }
        }
    }
    let (caller_field, caller_init) = if methods.is_empty() {
        (quote!(), quote!())
    } else {
        (quote!(caller_: &'a C,), quote!(caller_: caller,))
    };
    let method_impl = if methods.is_empty() {
        quote!()
    } else {
        quote! {
            impl<'a, C: ::atproto_types::XrpcCaller + ?Sized> Service<'a, C> {
                #(#methods)*
            }
        }
    };
    let file;
    let tokens;
    let source;
    if depth == 0 {
        file = "lib.rs".to_owned();
        source = format!("{}/", opts.source_label);
        let doc = render::inner_docs(&opts.crate_doc);
        tokens = quote! {
            #doc
            // Generated code: lexicon descriptions are not written as rustdoc,
            // and some generated shapes (large unions, many-field structs) are
            // what the lexicons define.
            #![allow(
                rustdoc::bare_urls,
                rustdoc::broken_intra_doc_links,
                rustdoc::invalid_html_tags,
                rustdoc::invalid_rust_codeblocks,
                clippy::large_enum_variant,
                clippy::too_many_arguments,
                clippy::doc_lazy_continuation,
                clippy::doc_overindented_list_items,
                clippy::tabs_in_doc_comments
            )]
            #(#mods)*
            /// The root of the namespace tree of calls:
            /// `Api::new(&caller).app.bsky.feed.get_timeline(params)`.
            pub struct Api<'a, C: ?Sized> {
                #(#fields)*
                _caller: ::std::marker::PhantomData<&'a C>,
            }
            impl<'a, C: ?Sized> Api<'a, C> {
                /// The tree over a caller (the client implements `atproto_types::XrpcCaller`).
                pub fn new(caller: &'a C) -> Self {
                    let _ = caller;
                    Api { #(#inits)* _caller: ::std::marker::PhantomData }
                }
            }
        };
    } else {
        file = format!(
            "{}/mod.rs",
            path.iter().map(|s| unraw(s)).collect::<Vec<_>>().join("/")
        );
        source = format!("{}/{}/", opts.source_label, node.raw.join("/"));
        let doc = render::inner_docs(&format!("The `{}` namespace.", node.raw.join(".")));
        let sdoc = format!(" Calls in the `{}` namespace.", node.raw.join("."));
        tokens = quote! {
            #doc
            #(#mods)*
            #[doc = #sdoc]
            pub struct Service<'a, C: ?Sized> {
                #caller_field
                #(#fields)*
                _caller: ::std::marker::PhantomData<&'a C>,
            }
            impl<'a, C: ?Sized> Service<'a, C> {
                /// The namespace over a caller.
                pub fn new(caller: &'a C) -> Self {
                    let _ = caller;
                    Service { #caller_init #(#inits)* _caller: ::std::marker::PhantomData }
                }
            }
            #method_impl
        };
    }
    match format_file(&file, tokens, &source, opts) {
        Ok(text) => {
            out.files.insert(file, text);
        }
        Err(e) => errors.push(e),
    }
}

/// The `Cargo.toml` of the generated official crate.
pub fn cargo_toml(generated: &Generated, opts: &Options) -> String {
    let mut s = format!(
        "# @generated by lexgen from {}/ — do not edit by hand; run {}\n",
        opts.source_label, opts.regenerate_hint
    );
    s.push_str(
        r#"[package]
name = "atproto-api"
description = "Rust types and XRPC endpoints for the official atproto lexicons, generated by lexgen."
version.workspace = true
edition.workspace = true
license.workspace = true
rust-version.workspace = true

[lib]
# Lexicon descriptions are not Rust: never run them as doctests.
doctest = false

[dependencies]
atproto-types.workspace = true
serde.workspace = true

[dev-dependencies]
serde_json.workspace = true
# Property tests only (tests/proptest.rs); never part of a normal build.
proptest = { version = "1", default-features = false, features = ["std"] }

[features]
default = ["com-atproto", "app-bsky"]
"#,
    );
    for (f, deps) in &generated.features {
        let deps: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
        s.push_str(&format!("{f} = [{}]\n", deps.join(", ")));
    }
    s
}
