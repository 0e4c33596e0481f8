//! Rendering: [`ir::Module`] → Rust tokens with `quote`.
//!
//! Generated code names every std and serde item by its full path
//! (`::std::option::Option`, `::serde::Serialize`), so lexicon names such as
//! `Option` or `String` can never shadow them, and it imports nothing.
//!
//! Every non-generic method it writes (`decode_output`, `validate_at`,
//! `write_query`, hand-written `Debug`...) is `#[inline]`. Such a function is
//! then compiled only in the crates that call it, instead of once for all
//! ~2,000 types inside `atproto-api`: `decode_output` alone instantiates the
//! whole serde_json decoder of its output type. Without it a release build of
//! `atproto-api` spent 33 s, 20 of them in LLVM's ThinLTO; with it, 6.5 s.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::ir::*;
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
            quote!(::atproto_types::#f)
        }
        Ty::Int => quote!(i64),
        Ty::Bool => quote!(bool),
        Ty::Bytes => quote!(::atproto_types::Bytes),
        Ty::CidLink => quote!(::atproto_types::CidLink),
        Ty::Blob => quote!(::atproto_types::Blob),
        Ty::Unknown => quote!(::atproto_types::Unknown),
        Ty::RawBody => quote!(::atproto_types::xrpc::RawBody),
        Ty::Vec(t) => {
            let t = ty_tokens(t, here);
            quote!(::std::vec::Vec<#t>)
        }
        Ty::Named(p) => path_tokens(p, here),
        Ty::Open(p) => {
            let p = path_tokens(p, here);
            quote!(::atproto_types::object::Open<#p>)
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
pub fn module(m: &Module) -> TokenStream {
    let items = m.items.iter().map(|i| item(i, m));
    quote!(#(#items)*)
}

fn item(i: &Item, m: &Module) -> TokenStream {
    let here = &m.path[..];
    match i {
        Item::Struct(s) => structure(s, here),
        Item::Union(u) => union(u, here),
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
        Item::Endpoint(e) => endpoint(e),
        Item::Errors(e) => errors(e),
        Item::PermissionSet {
            name,
            doc,
            nsid,
            def,
        } => permission_set(name, doc.as_deref(), nsid, def),
    }
}

fn structure(s: &Struct, here: &[String]) -> TokenStream {
    let name = ident(&s.name);
    let doc = docs(s.doc.as_deref());
    let all_default = s
        .fields
        .iter()
        .all(|f| matches!(f.presence, Presence::Optional | Presence::OptionalNullable));
    let has_lexicon_defaults = s
        .fields
        .iter()
        .any(|f| matches!(f.presence, Presence::Default(_)));
    let can_default = s.fields.iter().all(|f| {
        matches!(
            f.presence,
            Presence::Optional | Presence::OptionalNullable | Presence::Default(_)
        )
    });
    let derive_default = if all_default {
        quote!(, Default)
    } else {
        quote!()
    };
    let fields = s.fields.iter().map(|f| {
        let d = docs(f.doc.as_deref());
        let n = ident(&f.rust);
        let t = field_ty(f, here);
        quote!(#d pub #n: #t,)
    });
    let extra_field = if s.extra {
        quote!(
            /// Properties the lexicon does not declare, kept so that they round-trip.
            pub extra: ::atproto_types::Extra,
        )
    } else {
        quote!()
    };
    let default_impl = if can_default && has_lexicon_defaults {
        let inits = s.fields.iter().map(|f| {
            let n = ident(&f.rust);
            match &f.presence {
                Presence::Default(d) => {
                    let e = default_expr(d, here);
                    quote!(#n: #e,)
                }
                _ => quote!(#n: ::std::option::Option::None,),
            }
        });
        let extra_init = if s.extra {
            quote!(extra: ::atproto_types::Extra::new(),)
        } else {
            quote!()
        };
        quote!(
            impl ::std::default::Default for #name {
                #[inline]
                fn default() -> Self {
                    #name { #(#inits)* #extra_init }
                }
            }
        )
    } else {
        quote!()
    };

    // Serialize.
    let ser = s.fields.iter().map(|f| {
        let n = ident(&f.rust);
        let j = &f.json;
        match f.presence {
            Presence::Required | Presence::RequiredNullable | Presence::Default(_) => {
                quote!(map.serialize_entry(#j, &self.#n)?;)
            }
            Presence::Optional | Presence::OptionalNullable => quote!(
                if let ::std::option::Option::Some(v) = &self.#n {
                    map.serialize_entry(#j, v)?;
                }
            ),
        }
    });
    let ser_tail = if s.extra {
        quote!(self.extra.serialize_into(map, type_written))
    } else {
        quote!(::std::result::Result::Ok(()))
    };
    let serialize_body = match &s.record {
        Some(_) => quote!(::atproto_types::object::serialize_typed(
            <Self as ::atproto_types::object::Record>::NSID,
            self,
            s
        )),
        None => quote!(::atproto_types::object::serialize_object(self, s)),
    };

    // Deserialize.
    let slots = s.fields.iter().map(|f| {
        let v = format_ident!("f_{}", crate::names::unraw(&f.rust));
        quote!(let mut #v = ::std::option::Option::None;)
    });
    let arms = s.fields.iter().map(|f| {
        let v = format_ident!("f_{}", crate::names::unraw(&f.rust));
        let j = &f.json;
        quote!(#j => ::atproto_types::object::set_once(&mut #v, map.next_value()?, #j)?,)
    });
    let type_arm = match &s.record {
        Some(_) => quote!("$type" => ::atproto_types::object::expect_type(
            &mut map,
            <Self as ::atproto_types::object::Record>::NSID
        )?,),
        None => quote!(),
    };
    let builds = s.fields.iter().map(|f| {
        let n = ident(&f.rust);
        let v = format_ident!("f_{}", crate::names::unraw(&f.rust));
        let j = &f.json;
        match &f.presence {
            Presence::Required | Presence::RequiredNullable => {
                quote!(#n: ::atproto_types::object::required(#v, #j)?,)
            }
            Presence::Optional | Presence::OptionalNullable => quote!(#n: #v,),
            Presence::Default(d @ DefaultValue::Str(_)) => {
                let e = default_expr(d, here);
                quote!(#n: #v.unwrap_or_else(|| #e),)
            }
            Presence::Default(d) => {
                let e = default_expr(d, here);
                quote!(#n: #v.unwrap_or(#e),)
            }
        }
    });
    let (extra_decl, other_arm, extra_build) = if s.extra {
        (
            quote!(let mut extra = ::atproto_types::Extra::new();),
            quote!(_ => extra.read_entry(key, &mut map)?,),
            quote!(extra,),
        )
    } else {
        (
            quote!(),
            quote!(_ => {
                map.next_value::<::serde::de::IgnoredAny>()?;
            }),
            quote!(),
        )
    };
    let dispatch = if s.fields.is_empty() && s.record.is_none() {
        // No declared property: every key is extra (or ignored).
        if s.extra {
            quote!(extra.read_entry(key, &mut map)?;)
        } else {
            quote!(let _ = key; map.next_value::<::serde::de::IgnoredAny>()?;)
        }
    } else {
        quote!(match key.as_str() {
            #(#arms)*
            #type_arm
            #other_arm
        })
    };
    let expecting = &s.lexname;
    let validate_record = if s.validate {
        quote!(
            #[inline]
            fn validate_record(
                &self,
            ) -> ::std::result::Result<(), ::atproto_types::validate::ValidationError> {
                ::atproto_types::validate::Validate::validate(self)
            }
        )
    } else {
        quote!()
    };
    let record_impl = match &s.record {
        Some((nsid, key)) => quote!(
            impl ::atproto_types::object::Record for #name {
                const NSID: &'static str = #nsid;
                const KEY: &'static str = #key;
                #validate_record
            }
        ),
        None => quote!(),
    };
    let params_impl = if s.params {
        let q_unused = if s.fields.is_empty() {
            quote!(let _ = q;)
        } else {
            quote!()
        };
        let pushes = s.fields.iter().map(|f| {
            let n = ident(&f.rust);
            let j = &f.json;
            let closed_enum = |t: &Ty| matches!(t, Ty::Named(_));
            match (&f.ty, &f.presence) {
                (Ty::Vec(inner), Presence::Optional | Presence::OptionalNullable) if closed_enum(inner) => quote!(
                    if let ::std::option::Option::Some(v) = &self.#n {
                        for v in v { q.push(#j, &::atproto_types::object::StringEnum::as_str(v)); }
                    }
                ),
                (Ty::Vec(inner), _) if closed_enum(inner) => {
                    quote!(for v in &self.#n { q.push(#j, &::atproto_types::object::StringEnum::as_str(v)); })
                }
                (Ty::Vec(_), Presence::Optional) => quote!(q.push_all_opt(#j, &self.#n);),
                (Ty::Vec(_), _) => quote!(q.push_all(#j, &self.#n);),
                (t, Presence::Optional) if closed_enum(t) => {
                    quote!(if let ::std::option::Option::Some(v) = &self.#n { q.push(#j, &::atproto_types::object::StringEnum::as_str(v)); })
                }
                (t, _) if closed_enum(t) => quote!(q.push(#j, &::atproto_types::object::StringEnum::as_str(&self.#n));),
                (Ty::Unknown, Presence::Optional) => quote!(q.push_opt(#j, &self.#n);),
                (_, Presence::Optional) => quote!(q.push_opt(#j, &self.#n);),
                _ => quote!(q.push(#j, &self.#n);),
            }
        });
        quote!(
            impl ::atproto_types::xrpc::QueryParams for #name {
                #[inline]
                fn write_query(&self, q: &mut ::atproto_types::xrpc::QueryWriter) {
                    #q_unused
                    #(#pushes)*
                }
            }
        )
    } else {
        quote!()
    };
    let secret = s.fields.iter().any(|f| f.secret);
    let (debug_derive, debug_impl) = if secret {
        (quote!(), redacted_debug(s))
    } else {
        (quote!(Debug,), quote!())
    };
    let validate_impl = validate_impl(s);
    let unused = match (s.fields.is_empty(), s.extra) {
        (true, false) => quote!(let _ = (map, type_written);),
        (false, false) => quote!(let _ = type_written;),
        _ => quote!(),
    };
    quote! {
            #doc
            #[derive(#debug_derive Clone, PartialEq #derive_default)]
            pub struct #name {
                #(#fields)*
                #extra_field
            }
            #default_impl
            #debug_impl
            #record_impl
            #validate_impl
            impl ::atproto_types::object::ObjectFields for #name {
                fn serialize_fields<M: ::serde::ser::SerializeMap>(
                    &self,
                    map: &mut M,
                    type_written: bool,
                ) -> ::std::result::Result<(), M::Error> {
                    #unused
                    #(#ser)*
                    #ser_tail
                }
            }
            impl ::serde::Serialize for #name {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                    #serialize_body
                }
            }
            impl<'de> ::atproto_types::object::DecodeObject<'de> for #name {
                const EXPECTING: &'static str = #expecting;
                fn decode_map<A: ::serde::de::MapAccess<'de>>(mut map: A) -> ::std::result::Result<Self, A::Error> {
                    #(#slots)*
                    #extra_decl
                    while let ::std::option::Option::Some(key) = map.next_key::<::atproto_types::object::Key<'de>>()? {
    #dispatch
                    }
                    ::std::result::Result::Ok(#name {
                        #(#builds)*
                        #extra_build
                    })
                }
            }
            impl<'de> ::serde::Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                    ::atproto_types::object::deserialize_object(d)
                }
            }
            #params_impl
        }
}

fn opt_i64(v: Option<i64>) -> TokenStream {
    match v {
        Some(v) => {
            let l = Literal::u64_unsuffixed(v.max(0) as u64);
            quote!(::std::option::Option::Some(#l))
        }
        None => quote!(::std::option::Option::None),
    }
}

fn opt_int(v: Option<i64>) -> TokenStream {
    match v {
        Some(v) => {
            let l = Literal::i64_unsuffixed(v);
            quote!(::std::option::Option::Some(#l))
        }
        None => quote!(::std::option::Option::None),
    }
}

/// The statements checking the value `x` (a reference) at path `p` (a
/// `Path` binding); `v` is `::atproto_types::validate`, imported by the caller.
fn check_tokens(c: &Check, x: &TokenStream, p: &TokenStream) -> TokenStream {
    match c {
        Check::Nested(_) => quote!(v::Validate::validate_at(#x, &#p, out);),
        Check::Str {
            min_length,
            max_length,
            min_graphemes,
            max_graphemes,
            constant,
        } => {
            let mut set = Vec::new();
            for (name, val) in [
                ("min_length", min_length),
                ("max_length", max_length),
                ("min_graphemes", min_graphemes),
                ("max_graphemes", max_graphemes),
            ] {
                if val.is_some() {
                    let n = format_ident!("{}", name);
                    let e = opt_i64(*val);
                    set.push(quote!(#n: #e,));
                }
            }
            let lengths = if set.is_empty() {
                quote!()
            } else {
                let rest = if set.len() < 4 {
                    quote!(..v::StringRules::NONE)
                } else {
                    quote!()
                };
                quote!(v::string(v::LexStr::lex_str(#x), &v::StringRules { #(#set)* #rest }, &#p, out);)
            };
            let constant = match constant {
                Some(c) => quote!(v::string_const(v::LexStr::lex_str(#x), #c, &#p, out);),
                None => quote!(),
            };
            quote!(#lengths #constant)
        }
        Check::Int {
            minimum,
            maximum,
            allowed,
            constant,
        } => {
            let mut set = Vec::new();
            if minimum.is_some() {
                let e = opt_int(*minimum);
                set.push(quote!(minimum: #e,));
            }
            if maximum.is_some() {
                let e = opt_int(*maximum);
                set.push(quote!(maximum: #e,));
            }
            if let Some(a) = allowed {
                let a = a.iter().map(|i| Literal::i64_unsuffixed(*i));
                set.push(quote!(allowed: ::std::option::Option::Some(&[#(#a),*]),));
            }
            if constant.is_some() {
                let e = opt_int(*constant);
                set.push(quote!(constant: #e,));
            }
            let rest = if set.len() < 4 {
                quote!(..v::IntegerRules::NONE)
            } else {
                quote!()
            };
            quote!(v::integer(*#x, &v::IntegerRules { #(#set)* #rest }, &#p, out);)
        }
        Check::Bool(b) => quote!(v::boolean_const(*#x, #b, &#p, out);),
        Check::Bytes(min, max) => {
            let (min, max) = (opt_i64(*min), opt_i64(*max));
            quote!(v::bytes_len(#x.0.len(), #min, #max, &#p, out);)
        }
        Check::Blob(accept, max) => {
            let accept = match accept {
                Some(a) => quote!(::std::option::Option::Some(&[#(#a),*])),
                None => quote!(::std::option::Option::None),
            };
            let max = opt_i64(*max);
            quote!(v::blob(#x.mime_type(), #x.size(), #accept, #max, &#p, out);)
        }
        Check::Array { min, max, items } => {
            let len = if min.is_some() || max.is_some() {
                let (min, max) = (opt_i64(*min), opt_i64(*max));
                quote!(v::array_len(#x.len(), #min, #max, &#p, out);)
            } else {
                quote!()
            };
            let items = match items.as_deref() {
                // A whole `Vec` of generated types: the blanket impl indexes.
                Some(Check::Nested(_)) => quote!(v::Validate::validate_at(#x, &#p, out);),
                Some(c) => {
                    let body = check_tokens(c, &quote!(x), &quote!(p));
                    quote!(for (i, x) in #x.iter().enumerate() { let p = #p.index(i); #body })
                }
                None => quote!(),
            };
            quote!(#len #items)
        }
    }
}

/// `impl Validate`: one call per field that has rules.
fn validate_impl(s: &Struct) -> TokenStream {
    let name = ident(&s.name);
    let checks: Vec<TokenStream> = s
        .fields
        .iter()
        .filter_map(|f| {
            let c = f.check.as_ref()?;
            let n = ident(&f.rust);
            let j = &f.json;
            let p = quote!(path.field(#j));
            let forward = match c {
                Check::Nested(_) => true,
                Check::Array { min: None, max: None, items: Some(i) } => {
                    matches!(**i, Check::Nested(_))
                }
                _ => false,
            };
            if forward {
                // Option, Option<Option>, Box and Vec all forward.
                return Some(quote!(v::Validate::validate_at(&self.#n, &#p, out);));
            }
            let body = check_tokens(c, &quote!(x), &quote!(p));
            Some(match f.presence {
                Presence::Required | Presence::Default(_) => {
                    quote!({ let x = &self.#n; let p = #p; #body })
                }
                Presence::Optional | Presence::RequiredNullable => quote!(
                    if let ::std::option::Option::Some(x) = &self.#n { let p = #p; #body }
                ),
                Presence::OptionalNullable => quote!(
                    if let ::std::option::Option::Some(::std::option::Option::Some(x)) = &self.#n { let p = #p; #body }
                ),
            })
        })
        .collect();
    if checks.is_empty() {
        return quote!(
            impl ::atproto_types::validate::Validate for #name {
                #[inline]
                fn validate_at(&self, _: &::atproto_types::validate::Path<'_>, _: &mut ::atproto_types::validate::Violations) {}
            }
        );
    }
    quote!(
        impl ::atproto_types::validate::Validate for #name {
            #[inline]
            fn validate_at(&self, path: &::atproto_types::validate::Path<'_>, out: &mut ::atproto_types::validate::Violations) {
                use ::atproto_types::validate as v;
                #(#checks)*
            }
        }
    )
}

/// `Debug` that prints `***` for secret fields.
fn redacted_debug(s: &Struct) -> TokenStream {
    let name = ident(&s.name);
    let label = &s.name;
    let fields = s.fields.iter().map(|f| {
        let n = ident(&f.rust);
        let label = crate::names::unraw(&f.rust);
        if f.secret {
            quote!(.field(#label, &::atproto_types::object::Redacted(&self.#n)))
        } else {
            quote!(.field(#label, &self.#n))
        }
    });
    let extra = if s.extra {
        quote!(.field("extra", &self.extra))
    } else {
        quote!()
    };
    quote!(
        impl ::std::fmt::Debug for #name {
            #[inline]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(#label) #(#fields)* #extra .finish()
            }
        }
    )
}

fn union(u: &Union, here: &[String]) -> TokenStream {
    let name = ident(&u.name);
    let doc = docs(u.doc.as_deref());
    let variants = u.members.iter().map(|m| {
        let v = ident(&m.variant);
        let t = path_tokens(&m.ty, here);
        let d = format!(" `{}`", m.type_name);
        quote!(#[doc = #d] #v(::std::boxed::Box<#t>),)
    });
    let (unknown_variant, unknown_decode, unknown_ser) = if u.closed {
        (
            quote!(),
            quote!(_ => return ::std::result::Result::Err(::atproto_types::object::closed_union_error(Self::NAME, t)),),
            quote!(),
        )
    } else {
        (
            quote!(
                /// A member this build does not know, kept verbatim.
                Unknown(::atproto_types::UnknownObject),
            ),
            quote!(_ => Self::Unknown(::atproto_types::UnknownObject::decode_rest(t, rest)?),),
            quote!(Self::Unknown(v) => ::serde::Serialize::serialize(v, s),),
        )
    };
    let decodes = u.members.iter().map(|m| {
        let v = ident(&m.variant);
        let tn = &m.type_name;
        quote!(#tn => Self::#v(::std::boxed::Box::new(::serde::Deserialize::deserialize(rest)?)),)
    });
    let sers = u.members.iter().map(|m| {
        let v = ident(&m.variant);
        let tn = &m.type_name;
        quote!(Self::#v(v) => ::atproto_types::object::serialize_typed(#tn, &**v, s),)
    });
    let decode_body = match (u.members.is_empty(), u.closed) {
        (true, false) => quote!(::std::result::Result::Ok(Self::Unknown(
            ::atproto_types::UnknownObject::decode_rest(t, rest)?
        ))),
        (true, true) => quote!(let _ = rest; ::std::result::Result::Err(
            ::atproto_types::object::closed_union_error(Self::NAME, t)
        )),
        _ => quote!(::std::result::Result::Ok(match t {
            #(#decodes)*
            #unknown_decode
        })),
    };
    let lexname = &u.lexname;
    let empty_closed = u.closed && u.members.is_empty();
    let checked: Vec<TokenStream> = u
        .members
        .iter()
        .filter(|m| m.validate)
        .map(|m| {
            let v = ident(&m.variant);
            quote!(Self::#v(x) => ::atproto_types::validate::Validate::validate_at(&**x, path, out),)
        })
        .collect();
    let validate_body = if checked.len() == u.members.len() && u.closed {
        quote!(match self { #(#checked)* })
    } else if checked.len() == 1 {
        let m = u
            .members
            .iter()
            .find(|m| m.validate)
            .expect("one checked member");
        let v = ident(&m.variant);
        quote!(if let Self::#v(x) = self {
            ::atproto_types::validate::Validate::validate_at(&**x, path, out)
        })
    } else {
        quote!(match self { #(#checked)* _ => {} })
    };
    let validate_impl = if checked.is_empty() {
        quote!(
            impl ::atproto_types::validate::Validate for #name {
                #[inline]
                fn validate_at(&self, _: &::atproto_types::validate::Path<'_>, _: &mut ::atproto_types::validate::Violations) {}
            }
        )
    } else {
        quote!(
            impl ::atproto_types::validate::Validate for #name {
                #[inline]
                fn validate_at(&self, path: &::atproto_types::validate::Path<'_>, out: &mut ::atproto_types::validate::Violations) {
                    #validate_body
                }
            }
        )
    };
    let ser_body = if empty_closed {
        quote!(let _ = s; match *self {})
    } else {
        quote!(match self { #(#sers)* #unknown_ser })
    };
    quote! {
            #doc
            #[derive(Debug, Clone, PartialEq)]
            pub enum #name {
                #(#variants)*
                #unknown_variant
            }
            impl ::atproto_types::object::Union for #name {
                const NAME: &'static str = #lexname;
                fn decode_member<'de, D: ::serde::Deserializer<'de>>(
                    t: &str,
                    rest: D,
                ) -> ::std::result::Result<Self, D::Error> {
    #decode_body
                }
            }
            impl<'de> ::serde::Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                    ::atproto_types::object::deserialize_union(d)
                }
            }
            impl ::serde::Serialize for #name {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                    #ser_body
                }
            }
            #validate_impl
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
                    ::atproto_types::object::serialize_string_enum(self, s)
                }
            }
            impl<'de> ::serde::Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                    ::atproto_types::object::deserialize_string_enum(d)
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
        impl ::atproto_types::object::StringEnum for #name {
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
        impl ::atproto_types::validate::Validate for #name {
            #[inline]
            fn validate_at(&self, _: &::atproto_types::validate::Path<'_>, _: &mut ::atproto_types::validate::Violations) {}
        }
    }
}

fn endpoint(e: &Endpoint) -> TokenStream {
    let name = ident(&e.name);
    let kind = if e.procedure { "procedure" } else { "query" };
    let mut text = format!(
        "The `{}` {kind} (marker type implementing `Endpoint`).",
        e.nsid
    );
    if let Some(d) = &e.doc {
        text.push_str("\n\n");
        text.push_str(d);
    }
    let doc = docs(Some(&text));
    let nsid = &e.nsid;
    let method = if e.procedure {
        quote!(Procedure)
    } else {
        quote!(Query)
    };
    let enc = |k: &BodyKind, declared: &Option<String>| match (k, declared) {
        (BodyKind::None, _) | (_, None) => quote!(::std::option::Option::None),
        (_, Some(e)) => quote!(::std::option::Option::Some(#e)),
    };
    let in_enc = enc(&e.input, &e.input_encoding);
    let out_enc = enc(&e.output, &e.output_encoding);
    let params = if e.params {
        quote!(Parameters)
    } else {
        quote!(())
    };
    let input = match e.input {
        BodyKind::None => quote!(()),
        _ => quote!(Input),
    };
    let output = match e.output {
        BodyKind::None => quote!(()),
        _ => quote!(Output),
    };
    let encode = match e.input {
        BodyKind::None => {
            quote!(let _ = input; ::std::result::Result::Ok(::std::option::Option::None))
        }
        BodyKind::Json => quote!(::atproto_types::xrpc::encode_json(Self::NSID, input)),
        BodyKind::Raw(_) => quote!(::atproto_types::xrpc::encode_raw(input)),
    };
    let decode = match e.output {
        BodyKind::None => quote!(::atproto_types::xrpc::decode_none(body)),
        BodyKind::Json => quote!(::atproto_types::xrpc::decode_json(Self::NSID, &body.bytes)),
        BodyKind::Raw(_) => quote!(::atproto_types::xrpc::decode_raw(body)),
    };
    let validate_params = if e.validate_params {
        quote!(
            #[inline]
            fn validate_params(
                params: &Self::Params,
            ) -> ::std::result::Result<(), ::atproto_types::validate::ValidationError> {
                ::atproto_types::validate::Validate::validate(params)
            }
        )
    } else {
        quote!()
    };
    let validate_input = if e.validate_input {
        quote!(
            #[inline]
            fn validate_input(
                input: &Self::Input,
            ) -> ::std::result::Result<(), ::atproto_types::validate::ValidationError> {
                ::atproto_types::validate::Validate::validate(input)
            }
        )
    } else {
        quote!()
    };
    quote! {
        #doc
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct #name;
        impl ::atproto_types::xrpc::Endpoint for #name {
            const NSID: &'static str = #nsid;
            const METHOD: ::atproto_types::xrpc::Method = ::atproto_types::xrpc::Method::#method;
            const INPUT_ENCODING: ::std::option::Option<&'static str> = #in_enc;
            const OUTPUT_ENCODING: ::std::option::Option<&'static str> = #out_enc;
            type Params = #params;
            type Input = #input;
            type Output = #output;
            type Error = Error;
            #[inline]
            fn encode_input(
                input: &Self::Input,
            ) -> ::std::result::Result<::std::option::Option<::atproto_types::xrpc::RawBody>, ::atproto_types::xrpc::EncodeError> {
                #encode
            }
            #[inline]
            fn decode_output(
                body: ::atproto_types::xrpc::RawBody,
            ) -> ::std::result::Result<Self::Output, ::atproto_types::xrpc::DecodeError> {
                #decode
            }
            #validate_params
            #validate_input
        }
    }
}

fn errors(e: &Errors) -> TokenStream {
    if e.errors.is_empty() {
        return quote!(
            /// This endpoint declares no errors.
            pub type Error = ::atproto_types::xrpc::NoError;
        );
    }
    let variants = e.errors.iter().map(|(v, n, d)| {
        let v = ident(v);
        let mut text = format!("`{n}`");
        if let Some(d) = d {
            text.push_str(": ");
            text.push_str(d);
        }
        let d = docs(Some(&text));
        quote!(#d #v(::std::option::Option<::std::string::String>),)
    });
    let from = e.errors.iter().map(|(v, n, _)| {
        let v = ident(v);
        quote!(#n => Self::#v(message),)
    });
    let names = e.errors.iter().map(|(v, n, _)| {
        let v = ident(v);
        quote!(Self::#v(_) => #n,)
    });
    let msgs = e.errors.iter().map(|(v, _, _)| {
        let v = ident(v);
        quote!(Self::#v(m))
    });
    quote! {
        /// The errors this endpoint declares; each carries the server's message.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Error {
            #(#variants)*
        }
        impl ::atproto_types::xrpc::EndpointError for Error {
            #[inline]
            fn from_xrpc(
                error: &str,
                message: ::std::option::Option<::std::string::String>,
            ) -> ::std::option::Option<Self> {
                ::std::option::Option::Some(match error {
                    #(#from)*
                    _ => return ::std::option::Option::None,
                })
            }
            #[inline]
            fn name(&self) -> &'static str {
                match self { #(#names)* }
            }
            #[inline]
            fn message(&self) -> ::std::option::Option<&str> {
                match self { #(#msgs)|* => m.as_deref() }
            }
        }
        impl ::std::fmt::Display for Error {
            #[inline]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::atproto_types::xrpc::fmt_endpoint_error(self, f)
            }
        }
        impl ::std::error::Error for Error {}
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
                    quote!(::atproto_types::xrpc::PermissionValue::String(#s))
                }
                PermissionValue::Bool(b) => {
                    quote!(::atproto_types::xrpc::PermissionValue::Bool(#b))
                }
                PermissionValue::Integer(i) => {
                    let l = Literal::i64_unsuffixed(*i);
                    quote!(::atproto_types::xrpc::PermissionValue::Integer(#l))
                }
                PermissionValue::List(l) => {
                    quote!(::atproto_types::xrpc::PermissionValue::List(&[#(#l),*]))
                }
            };
            quote!((#k, #v))
        });
        quote!(::atproto_types::xrpc::Permission { resource: #r, fields: &[#(#fields),*] })
    });
    quote! {
        #d
        pub const #n: ::atproto_types::xrpc::PermissionSet = ::atproto_types::xrpc::PermissionSet {
            nsid: #nsid,
            title: #title,
            title_lang: #title_lang,
            detail: #detail,
            detail_lang: #detail_lang,
            permissions: &[#(#perms),*],
        };
    }
}
