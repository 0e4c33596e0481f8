//! Namespace files: `mod.rs` of each namespace folder with its `Service`
//! (one method per query/procedure, one field per child namespace), and the
//! root `lib.rs` with the `Api` entry struct.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::quote;

use super::ir::{self, Item, Module};
use super::{feature_of, format_file, render, Files, Options};
use crate::names::{ident, unraw};
use crate::Error;

/// A namespace folder: its child folders and its modules.
#[derive(Default)]
pub(super) struct Node<'m> {
    /// Raw NSID segments from the root.
    raw: Vec<String>,
    children: BTreeMap<String, Node<'m>>,
    leaves: BTreeMap<String, &'m Module>,
}

impl<'m> Node<'m> {
    /// Adds a module under its folders.
    pub(super) fn insert(&mut self, m: &'m Module) {
        let Some((leaf, dirs)) = m.path.split_last() else {
            return;
        };
        let raw: Vec<&str> = m.nsid.split('.').collect();
        let mut node = self;
        for (i, seg) in dirs.iter().enumerate() {
            node = node.children.entry(seg.clone()).or_default();
            node.raw = raw.iter().take(i + 1).map(|s| s.to_string()).collect();
        }
        node.leaves.insert(leaf.clone(), m);
    }

    /// Every module at or below this folder.
    fn modules(&self, out: &mut Vec<&'m Module>) {
        out.extend(self.leaves.values());
        for c in self.children.values() {
            c.modules(out);
        }
    }

    fn features(&self, out: &mut BTreeSet<String>) {
        for m in self.leaves.values() {
            out.insert(feature_of(&m.nsid));
        }
        for c in self.children.values() {
            c.features(out);
        }
    }
}

/// The `#[cfg]` of a folder at `depth`: gated at the top-level namespace
/// folder (depth 2, one feature) and at its first segment (depth 1, any of
/// its namespaces' features).
fn cfg_for(node: &Node, depth: usize, opts: &Options) -> TokenStream {
    if !opts.features {
        return quote!();
    }
    let mut feats = BTreeSet::new();
    node.features(&mut feats);
    if depth >= 3 || feats.is_empty() {
        return quote!();
    }
    let feats: Vec<&String> = feats.iter().collect();
    match feats.as_slice() {
        [f] => quote!(#[cfg(feature = #f)]),
        _ => quote!(#[cfg(any(#(feature = #feats),*))]),
    }
}

/// What a folder's file declares: modules, `Service` fields, their inits.
#[derive(Default)]
struct Parts {
    mods: Vec<TokenStream>,
    fields: Vec<TokenStream>,
    inits: Vec<TokenStream>,
    methods: Vec<TokenStream>,
    /// Items of the root file only.
    root_items: Vec<TokenStream>,
}

/// The private module of `declared_errors`.
const ERRORS_MODULE: &str = "declared_errors_";

/// Writes `mod.rs` (or `lib.rs` for the root) of a namespace folder and of
/// every folder below it.
pub(super) fn files(
    node: &Node,
    path: &[String],
    opts: &Options,
    out: &mut Files,
    errors: &mut Vec<Error>,
) {
    let mut parts = Parts::default();
    for (seg, child) in &node.children {
        child_parts(seg, child, path.len(), opts, &mut parts);
        let mut p = path.to_vec();
        p.push(seg.clone());
        files(child, &p, opts, out, errors);
    }
    if path.is_empty() {
        // In a file of its own, so that the root's `#[rustfmt::skip]` keeps
        // `cargo fmt` out of it. A name ending in `_` is never an NSID
        // segment's module (`self_` and the like aside).
        let table = declared_errors(node, opts);
        let doc = render::inner_docs("The error names each endpoint declares.");
        let file = format!("{ERRORS_MODULE}.rs");
        let source = format!("{}/", opts.source_label);
        match format_file(&file, quote!(#doc #table), &source, opts) {
            Ok(parsed) => {
                out.insert(file, parsed);
            }
            Err(e) => errors.push(e),
        }
        let m = ident(ERRORS_MODULE);
        parts.root_items.push(quote! {
            #[rustfmt::skip]
            mod #m;
            pub use #m::declared_errors;
        });
    }
    for (seg, m) in &node.leaves {
        let id = ident(seg);
        parts.mods.push(quote!(pub mod #id;));
        for item in &m.items {
            if let Item::Endpoint(e) = item {
                parts.methods.push(service_method(seg, e));
            }
        }
    }
    let (file, source, tokens) = if path.is_empty() {
        (
            "lib.rs".to_owned(),
            format!("{}/", opts.source_label),
            root_tokens(&parts, &api_example(node), opts),
        )
    } else {
        let file = format!(
            "{}/mod.rs",
            path.iter().map(|s| unraw(s)).collect::<Vec<_>>().join("/")
        );
        let source = format!("{}/{}/", opts.source_label, node.raw.join("/"));
        (file, source, namespace_tokens(node, &parts))
    };
    match format_file(&file, tokens, &source, opts) {
        Ok(parsed) => {
            out.insert(file, parsed);
        }
        Err(e) => errors.push(e),
    }
}

/// The `mod` line, `Service` field and its init of a child folder of a
/// folder at `depth`.
fn child_parts(seg: &str, child: &Node, depth: usize, opts: &Options, parts: &mut Parts) {
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
    parts.mods.push(quote!(#cfg #skip pub mod #id;));
    let doc = format!(" The `{}` namespace.", child.raw.join("."));
    parts
        .fields
        .push(quote!(#[doc = #doc] #cfg pub #id: #id::Service<'a, C>,));
    parts
        .inits
        .push(quote!(#cfg #id: #id::Service::new(caller),));
}

/// The `Service` method calling one endpoint of module `seg`.
fn service_method(seg: &str, e: &ir::Endpoint) -> TokenStream {
    let id = ident(seg);
    // `Service::new` is the constructor: an endpoint named `new` is `new_`.
    let method = if unraw(seg) == "new" {
        ident("new_")
    } else {
        id.clone()
    };
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
    quote! {
        #doc
        pub fn #method(&self, #(#args),*) -> impl ::std::future::Future<
            Output = ::std::result::Result<#out_ty, C::Error<#id::Error>>,
        > + ::std::marker::Send + 'a {
            self.caller_.call::<#id::#marker>(#params, #input)
        }
    }
}

/// The doc of `Api`, with a call of the first query or procedure of this
/// set (in module order) as its example, so that a crate of someone's own
/// lexicons shows one of its own calls.
fn api_example(root: &Node) -> String {
    let mut modules = Vec::new();
    root.modules(&mut modules);
    let call = modules.iter().find_map(|m| {
        m.items.iter().find_map(|item| match item {
            Item::Endpoint(e) => Some((m, e)),
            _ => None,
        })
    });
    let Some((m, e)) = call else {
        return "The root of the namespace tree of calls (these lexicons define no\n\
                query or procedure)."
            .to_owned();
    };
    let mut path: Vec<&str> = m.path.iter().map(|s| unraw(s)).collect();
    // `Service::new` is the constructor: an endpoint named `new` is `new_`.
    if let Some(last) = path.last_mut() {
        if *last == "new" {
            *last = "new_";
        }
    }
    let mut args = Vec::new();
    if e.params {
        args.push("params");
    }
    if !matches!(e.input, ir::BodyKind::None) {
        args.push("input");
    }
    format!(
        "The root of the namespace tree of calls, one field per NSID segment:\n\
         `Api::new(&caller).{}({})` calls `{}`.",
        path.join("."),
        args.join(", "),
        e.nsid
    )
}

/// The root file: crate docs, lints, top-level modules and `Api`.
fn root_tokens(parts: &Parts, api_doc: &str, opts: &Options) -> TokenStream {
    let Parts {
        mods,
        fields,
        inits,
        root_items,
        ..
    } = parts;
    let doc = render::inner_docs(&opts.crate_doc);
    let api_doc = render::docs(Some(api_doc));
    quote! {
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
        #api_doc
        pub struct Api<'a, C: ?Sized> {
            #(#fields)*
            _caller: ::std::marker::PhantomData<&'a C>,
        }
        impl<'a, C: ?Sized> Api<'a, C> {
            /// The tree over a caller (the client implements `atmo_types::XrpcCaller`).
            pub fn new(caller: &'a C) -> Self {
                let _ = caller;
                Api { #(#inits)* _caller: ::std::marker::PhantomData }
            }
        }
        #(#root_items)*
    }
}

/// A namespace folder's `mod.rs`: its modules and its `Service`.
fn namespace_tokens(node: &Node, parts: &Parts) -> TokenStream {
    let Parts {
        mods,
        fields,
        inits,
        methods,
        ..
    } = parts;
    let (caller_field, caller_init, method_impl) = if methods.is_empty() {
        (quote!(), quote!(), quote!())
    } else {
        (
            quote!(caller_: &'a C,),
            quote!(caller_: caller,),
            quote! {
                impl<'a, C: ::atmo_types::XrpcCaller + ?Sized> Service<'a, C> {
                    #(#methods)*
                }
            },
        )
    };
    let doc = render::inner_docs(&format!("The `{}` namespace.", node.raw.join(".")));
    let sdoc = format!(" Calls in the `{}` namespace.", node.raw.join("."));
    quote! {
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
    }
}

/// `declared_errors(nsid)`: the error names each query, procedure and
/// subscription declares, one `match` arm per endpoint, each gated like its
/// module. A string match keeps it one small function.
fn declared_errors(root: &Node, opts: &Options) -> TokenStream {
    let mut modules = Vec::new();
    root.modules(&mut modules);
    modules.sort_by(|a, b| a.nsid.cmp(&b.nsid));
    let arms: Vec<TokenStream> = modules
        .iter()
        .filter_map(|m| {
            let names: Vec<&str> = m.items.iter().find_map(|i| match i {
                Item::Errors(e) => Some(e.errors.iter().map(|(_, n, _)| n.as_str()).collect()),
                _ => None,
            })?;
            let nsid = &m.nsid;
            let cfg = if opts.features {
                let f = feature_of(nsid);
                quote!(#[cfg(feature = #f)])
            } else {
                quote!()
            };
            Some(quote!(#cfg #nsid => ::std::option::Option::Some(&[#(#names),*]),))
        })
        .collect();
    let body = if arms.is_empty() {
        quote!(let _ = nsid; ::std::option::Option::None)
    } else {
        quote!(match nsid {
            #(#arms)*
            _ => ::std::option::Option::None,
        })
    };
    quote! {
        /// The error names (as in the lexicon, e.g. `ExpiredToken`) that the
        /// query, procedure or subscription `nsid` declares: `Some(&[])` for
        /// one that declares none, `None` for an NSID that is not an endpoint
        /// of this crate (or whose namespace's feature is off).
        pub fn declared_errors(nsid: &str) -> ::std::option::Option<&'static [&'static str]> {
            #body
        }
    }
}
