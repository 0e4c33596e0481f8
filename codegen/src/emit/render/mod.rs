//! Rendering: [`ir::Module`](super::ir::Module) → Rust tokens with `quote`.
//!
//! Generated code names every std and serde item by its full path
//! (`::std::option::Option`, `::serde::Serialize`), so lexicon names such as
//! `Option` or `String` can never shadow them, and it imports nothing.
//!
//! Every non-generic method it writes (`decode_output`, `validate_at`,
//! `write_query`, constructors, hand-written `Debug`...) is `#[inline]`. Such
//! a function is then compiled only in the crates that call it, instead of
//! once for all ~2,000 types inside `atmo-api`: `decode_output` alone
//! instantiates the whole serde_json decoder of its output type
//! (`BENCHMARKS.md` has the build times).

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

mod endpoint;
mod object;
mod union;
mod validate;

use super::ir::*;
use super::ServerCode;
use crate::model::PermissionValue;
use crate::names::ident;

/// `#[doc = ...]` attributes for a description, one per line.
pub fn docs(text: Option<&str>) -> TokenStream {
    let Some(text) = text else {
        return TokenStream::new();
    };
    let lines = text.trim_end().lines().map(|l| {
        let l = format!(" {}", l.trim_end());
        quote!(#[doc = #l])
    });
    quote!(#(#lines)*)
}

/// Inner `#![doc = ...]` attributes.
pub fn inner_docs(text: &str) -> TokenStream {
    let lines = text.trim_end().lines().map(|l| {
        let l = format!(" {}", l.trim_end());
        quote!(#![doc = #l])
    });
    quote!(#(#lines)*)
}

fn path_tokens(p: &TyPath, here: &[String]) -> TokenStream {
    let name = ident(&p.name);
    match &p.krate {
        None if p.module == here => quote!(#name),
        None => {
            let segs = p.module.iter().map(|s| ident(s));
            quote!(crate #(::#segs)* :: #name)
        }
        Some(k) => {
            let k = ident(k);
            let segs = p.module.iter().map(|s| ident(s));
            quote!(:: #k #(::#segs)* :: #name)
        }
    }
}

/// The tokens of a type.
pub fn ty_tokens(ty: &Ty, here: &[String]) -> TokenStream {
    match ty {
        Ty::String => quote!(::std::string::String),
        Ty::Format(f) => {
            let f = format_ident!("{}", f);
            quote!(::atmo_types::#f)
        }
        Ty::Int => quote!(i64),
        Ty::Bool => quote!(bool),
        Ty::Bytes => quote!(::atmo_types::Bytes),
        Ty::CidLink => quote!(::atmo_types::CidLink),
        Ty::Blob => quote!(::atmo_types::Blob),
        Ty::Unknown => quote!(::atmo_types::Unknown),
        Ty::RawBody => quote!(::atmo_types::xrpc::RawBody),
        Ty::Vec(t) => {
            let t = ty_tokens(t, here);
            quote!(::std::vec::Vec<#t>)
        }
        Ty::Named(p) => path_tokens(p, here),
        Ty::Open(p) => {
            let p = path_tokens(p, here);
            quote!(::atmo_types::object::Open<#p>)
        }
    }
}

fn field_ty(f: &Field, here: &[String]) -> TokenStream {
    let mut t = ty_tokens(&f.ty, here);
    if f.boxed {
        t = quote!(::std::boxed::Box<#t>);
    }
    match f.presence {
        Presence::Required | Presence::Default(_) => t,
        Presence::Optional | Presence::RequiredNullable => quote!(::std::option::Option<#t>),
        Presence::OptionalNullable => {
            quote!(::std::option::Option<::std::option::Option<#t>>)
        }
    }
}

fn default_expr(d: &DefaultValue, here: &[String]) -> TokenStream {
    match d {
        DefaultValue::Int(i) => {
            let l = Literal::i64_unsuffixed(*i);
            quote!(#l)
        }
        DefaultValue::Bool(b) => quote!(#b),
        DefaultValue::Str(s) => quote!(::std::convert::From::from(#s)),
        DefaultValue::Variant(p, v) => {
            let p = path_tokens(p, here);
            let v = ident(v);
            quote!(#p::#v)
        }
    }
}

/// Renders one module's items.
pub fn module(m: &Module, server: &ServerCode) -> TokenStream {
    let items = m.items.iter().map(|i| item(i, m, server));
    quote!(#(#items)*)
}

fn item(i: &Item, m: &Module, server: &ServerCode) -> TokenStream {
    let here = &m.path[..];
    match i {
        Item::Struct(s) => object::structure(s, here),
        Item::Union(u) => union::union(u, here),
        Item::Enum(e) => string_enum(e),
        Item::Alias { name, doc, ty } => {
            let d = docs(doc.as_deref());
            let n = ident(name);
            let t = ty_tokens(ty, here);
            quote!(#d pub type #n = #t;)
        }
        Item::Const { name, doc, value } => {
            let d = docs(doc.as_deref());
            let n = ident(name);
            quote!(#d pub const #n: &str = #value;)
        }
        Item::Endpoint(e) => {
            let marker = endpoint::endpoint(e);
            let server = endpoint::server(e, server);
            quote!(#marker #server)
        }
        Item::Errors(e) => endpoint::errors(e),
        Item::PermissionSet {
            name,
            doc,
            nsid,
            def,
        } => permission_set(name, doc.as_deref(), nsid, def),
    }
}

fn string_enum(e: &StrEnum) -> TokenStream {
    let name = ident(&e.name);
    let doc = docs(e.doc.as_deref());
    let variants = e.values.iter().map(|(v, w)| {
        let v = ident(v);
        let d = format!(" `{w}`");
        quote!(#[doc = #d] #v,)
    });
    let as_str = e.values.iter().map(|(v, w)| {
        let v = ident(v);
        quote!(Self::#v => #w,)
    });
    let from = e.values.iter().map(|(v, w)| {
        let v = ident(v);
        quote!(#w => ::std::option::Option::Some(Self::#v),)
    });
    let as_str_body = if e.values.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(#as_str)* })
    };
    let lexname = &e.lexname;
    let serde_impls = if e.serde {
        quote! {
            impl ::serde::Serialize for #name {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                    ::atmo_types::object::serialize_string_enum(self, s)
                }
            }
            impl<'de> ::serde::Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                    ::atmo_types::object::deserialize_string_enum(d)
                }
            }
        }
    } else {
        quote!()
    };
    quote! {
        #doc
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum #name {
            #(#variants)*
        }
        impl ::atmo_types::object::StringEnum for #name {
            const NAME: &'static str = #lexname;
            #[inline]
            fn as_str(&self) -> &'static str {
                #as_str_body
            }
            #[inline]
            fn from_wire(s: &str) -> ::std::option::Option<Self> {
                match s {
                    #(#from)*
                    _ => ::std::option::Option::None,
                }
            }
        }
        #serde_impls
        impl ::atmo_types::validate::Validate for #name {
            #[inline]
            fn validate_at(&self, _: &::atmo_types::validate::Path<'_>, _: &mut ::atmo_types::validate::Violations) {}
        }
    }
}

fn permission_set(
    name: &str,
    doc: Option<&str>,
    nsid: &str,
    def: &crate::model::PermissionSetDef,
) -> TokenStream {
    let n = ident(name);
    let mut text = format!("The `{nsid}` permission set.");
    if let Some(d) = doc {
        text.push_str("\n\n");
        text.push_str(d);
    }
    let d = docs(Some(&text));
    let opt = |o: &Option<String>| match o {
        Some(s) => quote!(::std::option::Option::Some(#s)),
        None => quote!(::std::option::Option::None),
    };
    let langs = |l: &[(String, String)]| {
        let pairs = l.iter().map(|(a, b)| quote!((#a, #b)));
        quote!(&[#(#pairs),*])
    };
    let title = opt(&def.title);
    let detail = opt(&def.detail);
    let title_lang = langs(&def.title_lang);
    let detail_lang = langs(&def.detail_lang);
    let perms = def.permissions.iter().map(|p| {
        let r = &p.resource;
        let fields = p.fields.iter().map(|(k, v)| {
            let v = match v {
                PermissionValue::String(s) => {
                    quote!(::atmo_types::xrpc::PermissionValue::String(#s))
                }
                PermissionValue::Bool(b) => {
                    quote!(::atmo_types::xrpc::PermissionValue::Bool(#b))
                }
                PermissionValue::Integer(i) => {
                    let l = Literal::i64_unsuffixed(*i);
                    quote!(::atmo_types::xrpc::PermissionValue::Integer(#l))
                }
                PermissionValue::List(l) => {
                    quote!(::atmo_types::xrpc::PermissionValue::List(&[#(#l),*]))
                }
            };
            quote!((#k, #v))
        });
        quote!(::atmo_types::xrpc::Permission { resource: #r, fields: &[#(#fields),*] })
    });
    quote! {
        #d
        pub const #n: ::atmo_types::xrpc::PermissionSet = ::atmo_types::xrpc::PermissionSet {
            nsid: #nsid,
            title: #title,
            title_lang: #title_lang,
            detail: #detail,
            detail_lang: #detail_lang,
            permissions: &[#(#perms),*],
        };
    }
}
