//! Structs (objects, records, params): the declaration and one function per
//! impl (`Default`, `Debug`, `Record`, `ObjectFields`, `Serialize`,
//! `DecodeObject`, `Deserialize`, `QueryParams`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::validate::validate_impl;
use super::{default_expr, docs, field_ty};
use crate::emit::ir::*;
use crate::names::{ident, unraw};

/// A struct and all its impls.
pub(super) fn structure(s: &Struct, here: &[String]) -> TokenStream {
    let name = ident(&s.name);
    let secret = s.fields.iter().any(|f| f.secret);
    let (debug_derive, debug_impl) = if secret {
        (quote!(), redacted_debug(s))
    } else {
        (quote!(Debug,), quote!())
    };
    let decl = declaration(s, here, debug_derive);
    let default_impl = default_impl(s, here);
    let constructor = constructor(s, here);
    let record_impl = record_impl(s);
    let validate_impl = validate_impl(s);
    let fields_impl = object_fields_impl(s);
    let decode_impl = decode_impl(s, here);
    let params_impl = params_impl(s);
    let serialize_body = match &s.record {
        Some(_) => quote!(::atmo_types::object::serialize_typed(
            <Self as ::atmo_types::object::Record>::NSID,
            self,
            s
        )),
        None => quote!(::atmo_types::object::serialize_object(self, s)),
    };
    quote! {
        #decl
        #constructor
        #default_impl
        #debug_impl
        #record_impl
        #validate_impl
        #fields_impl
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                #serialize_body
            }
        }
        #decode_impl
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                ::atmo_types::object::deserialize_object(d)
            }
        }
        #params_impl
    }
}

/// `pub struct`: documented fields in lexicon order, then `extra`.
fn declaration(s: &Struct, here: &[String], debug_derive: TokenStream) -> TokenStream {
    let name = ident(&s.name);
    let doc = docs(s.doc.as_deref());
    let all_default = s
        .fields
        .iter()
        .all(|f| matches!(f.presence, Presence::Optional | Presence::OptionalNullable));
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
            pub extra: ::atmo_types::Extra,
        )
    } else {
        quote!()
    };
    quote! {
        #doc
        #[derive(#debug_derive Clone, PartialEq #derive_default)]
        pub struct #name {
            #(#fields)*
            #extra_field
        }
    }
}

/// `Default` with the lexicon defaults, when every field is optional and
/// some have a default (all-optional structs derive it instead).
fn default_impl(s: &Struct, here: &[String]) -> TokenStream {
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
    if !(can_default && has_lexicon_defaults) {
        return quote!();
    }
    let name = ident(&s.name);
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
        quote!(extra: ::atmo_types::Extra::new(),)
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
}

/// `new(required...)` for a struct with required fields: every optional
/// field `None`, lexicon defaults applied, `extra` empty. (Structs without
/// required fields implement `Default` instead.) The arguments follow the
/// lexicon's `required` array, not `properties` (see `Struct::ctor`).
fn constructor(s: &Struct, here: &[String]) -> TokenStream {
    let required: Vec<&Field> = s.ctor.iter().filter_map(|&i| s.fields.get(i)).collect();
    if required.is_empty() {
        return quote!();
    }
    let name = ident(&s.name);
    let args = required.iter().map(|f| {
        let n = ident(&f.rust);
        let t = super::ty_tokens(&f.ty, here);
        match f.presence {
            Presence::RequiredNullable => quote!(#n: ::std::option::Option<#t>),
            _ => quote!(#n: #t),
        }
    });
    let inits = s.fields.iter().map(|f| {
        let n = ident(&f.rust);
        match (&f.presence, f.boxed) {
            (Presence::Required, true) => quote!(#n: ::std::boxed::Box::new(#n),),
            (Presence::RequiredNullable, true) => quote!(#n: #n.map(::std::boxed::Box::new),),
            (Presence::Required | Presence::RequiredNullable, false) => quote!(#n,),
            (Presence::Default(d), _) => {
                let e = default_expr(d, here);
                quote!(#n: #e,)
            }
            (Presence::Optional | Presence::OptionalNullable, _) => {
                quote!(#n: ::std::option::Option::None,)
            }
        }
    });
    let extra_init = if s.extra {
        quote!(extra: ::atmo_types::Extra::new(),)
    } else {
        quote!()
    };
    let order = required
        .iter()
        .map(|f| format!("`{}`", f.json))
        .collect::<Vec<_>>()
        .join(", ");
    let text = if s.extra {
        format!(
            "From its required fields: every optional field `None` (or its lexicon\n\
             default), no extra properties. Arguments in the order of the lexicon's\n\
             `required` list: {order}."
        )
    } else {
        format!(
            "From its required parameters: every optional one `None` (or its lexicon\n\
             default). Arguments in the order of the lexicon's `required` list:\n\
             {order}."
        )
    };
    let doc = docs(Some(&text));
    quote!(
        impl #name {
            #doc
            #[inline]
            pub fn new(#(#args),*) -> Self {
                #name { #(#inits)* #extra_init }
            }
        }
    )
}

/// `Record` for records: NSID, key, and `validate_record` when it has rules.
fn record_impl(s: &Struct) -> TokenStream {
    let Some((nsid, key)) = &s.record else {
        return quote!();
    };
    let name = ident(&s.name);
    let validate_record = if s.validate {
        quote!(
            #[inline]
            fn validate_record(
                &self,
            ) -> ::std::result::Result<(), ::atmo_types::validate::ValidationError> {
                ::atmo_types::validate::Validate::validate(self)
            }
        )
    } else {
        quote!()
    };
    quote!(
        impl ::atmo_types::object::Record for #name {
            const NSID: &'static str = #nsid;
            const KEY: &'static str = #key;
            #validate_record
        }
    )
}

/// `ObjectFields`: writes the declared fields, then `extra`.
fn object_fields_impl(s: &Struct) -> TokenStream {
    let name = ident(&s.name);
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
    let unused = match (s.fields.is_empty(), s.extra) {
        (true, false) => quote!(let _ = (map, type_written);),
        (false, false) => quote!(let _ = type_written;),
        _ => quote!(),
    };
    quote! {
        impl ::atmo_types::object::ObjectFields for #name {
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
    }
}

/// `DecodeObject`: one slot per field, unknown keys into `extra` (or
/// ignored), then required fields checked and defaults filled.
fn decode_impl(s: &Struct, here: &[String]) -> TokenStream {
    let name = ident(&s.name);
    let slot = |f: &Field| format_ident!("f_{}", unraw(&f.rust));
    let slots = s.fields.iter().map(|f| {
        let v = slot(f);
        quote!(let mut #v = ::std::option::Option::None;)
    });
    let builds = s.fields.iter().map(|f| {
        let n = ident(&f.rust);
        let v = slot(f);
        let j = &f.json;
        match &f.presence {
            Presence::Required | Presence::RequiredNullable => {
                quote!(#n: ::atmo_types::object::required(#v, #j)?,)
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
    let (extra_decl, extra_build) = if s.extra {
        (
            quote!(let mut extra = ::atmo_types::Extra::new();),
            quote!(extra,),
        )
    } else {
        (quote!(), quote!())
    };
    let dispatch = decode_dispatch(s);
    let expecting = &s.lexname;
    quote! {
            impl<'de> ::atmo_types::object::DecodeObject<'de> for #name {
                const EXPECTING: &'static str = #expecting;
                fn decode_map<A: ::serde::de::MapAccess<'de>>(mut map: A) -> ::std::result::Result<Self, A::Error> {
                    #(#slots)*
                    #extra_decl
                    while let ::std::option::Option::Some(key) = map.next_key::<::atmo_types::object::Key<'de>>()? {
    #dispatch
                    }
                    ::std::result::Result::Ok(#name {
                        #(#builds)*
                        #extra_build
                    })
                }
            }
        }
}

/// The body of the decode loop: a `match` on the key.
fn decode_dispatch(s: &Struct) -> TokenStream {
    if s.fields.is_empty() && s.record.is_none() {
        // No declared property: every key is extra (or ignored).
        return if s.extra {
            quote!(extra.read_entry(key, &mut map)?;)
        } else {
            quote!(let _ = key; map.next_value::<::serde::de::IgnoredAny>()?;)
        };
    }
    let arms = s.fields.iter().map(|f| {
        let v = format_ident!("f_{}", unraw(&f.rust));
        let j = &f.json;
        quote!(#j => ::atmo_types::object::set_once(&mut #v, map.next_value()?, #j)?,)
    });
    let type_arm = match &s.record {
        Some(_) => quote!("$type" => ::atmo_types::object::expect_type(
            &mut map,
            <Self as ::atmo_types::object::Record>::NSID
        )?,),
        None => quote!(),
    };
    let other_arm = if s.extra {
        quote!(_ => extra.read_entry(key, &mut map)?,)
    } else {
        quote!(_ => {
            map.next_value::<::serde::de::IgnoredAny>()?;
        })
    };
    quote!(match key.as_str() {
        #(#arms)*
        #type_arm
        #other_arm
    })
}

/// `QueryParams` for parameter structs: one push per field.
fn params_impl(s: &Struct) -> TokenStream {
    if !s.params {
        return quote!();
    }
    let name = ident(&s.name);
    let q_unused = if s.fields.is_empty() {
        quote!(let _ = q;)
    } else {
        quote!()
    };
    let pushes = s.fields.iter().map(param_push);
    quote!(
        impl ::atmo_types::xrpc::QueryParams for #name {
            #[inline]
            fn write_query(&self, q: &mut ::atmo_types::xrpc::QueryWriter) {
                #q_unused
                #(#pushes)*
            }
        }
    )
}

/// The query-string writes of one parameter (closed enums by their wire
/// string, arrays one value per item).
fn param_push(f: &Field) -> TokenStream {
    let n = ident(&f.rust);
    let j = &f.json;
    let closed_enum = |t: &Ty| matches!(t, Ty::Named(_));
    match (&f.ty, &f.presence) {
        (Ty::Vec(inner), Presence::Optional | Presence::OptionalNullable) if closed_enum(inner) => {
            quote!(
                if let ::std::option::Option::Some(v) = &self.#n {
                    for v in v { q.push(#j, &::atmo_types::object::StringEnum::as_str(v)); }
                }
            )
        }
        (Ty::Vec(inner), _) if closed_enum(inner) => {
            quote!(for v in &self.#n { q.push(#j, &::atmo_types::object::StringEnum::as_str(v)); })
        }
        (Ty::Vec(_), Presence::Optional) => quote!(q.push_all_opt(#j, &self.#n);),
        (Ty::Vec(_), _) => quote!(q.push_all(#j, &self.#n);),
        (t, Presence::Optional) if closed_enum(t) => {
            quote!(if let ::std::option::Option::Some(v) = &self.#n { q.push(#j, &::atmo_types::object::StringEnum::as_str(v)); })
        }
        (t, _) if closed_enum(t) => {
            quote!(q.push(#j, &::atmo_types::object::StringEnum::as_str(&self.#n));)
        }
        (_, Presence::Optional) => quote!(q.push_opt(#j, &self.#n);),
        _ => quote!(q.push(#j, &self.#n);),
    }
}

/// `Debug` that prints `***` for secret fields.
fn redacted_debug(s: &Struct) -> TokenStream {
    let name = ident(&s.name);
    let label = &s.name;
    let fields = s.fields.iter().map(|f| {
        let n = ident(&f.rust);
        let label = unraw(&f.rust);
        if f.secret {
            quote!(.field(#label, &::atmo_types::object::Redacted(&self.#n)))
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
