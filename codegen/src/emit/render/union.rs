//! Unions: an enum of boxed members (plus `Unknown` when open), decoded by
//! `$type`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{docs, path_tokens};
use crate::emit::ir::*;
use crate::names::ident;

/// A union enum and its impls.
pub(super) fn union(u: &Union, here: &[String]) -> TokenStream {
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
            quote!(_ => return ::std::result::Result::Err(::atmo_types::object::closed_union_error(Self::NAME, t)),),
            quote!(),
        )
    } else {
        (
            quote!(
                /// A member this build does not know, kept verbatim.
                Unknown(::atmo_types::UnknownObject),
            ),
            quote!(_ => Self::Unknown(::atmo_types::UnknownObject::decode_rest(t, rest)?),),
            quote!(Self::Unknown(v) => ::serde::Serialize::serialize(v, s),),
        )
    };
    let sers = u.members.iter().map(|m| {
        let v = ident(&m.variant);
        let tn = &m.type_name;
        quote!(Self::#v(v) => ::atmo_types::object::serialize_typed(#tn, &**v, s),)
    });
    let decode_body = decode_body(u, unknown_decode);
    let lexname = &u.lexname;
    let empty_closed = u.closed && u.members.is_empty();
    let validate_impl = validate_impl(u);
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
            impl ::atmo_types::object::Union for #name {
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
                    ::atmo_types::object::deserialize_union(d)
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

/// The body of `decode_member`: a `match` on the `$type`.
fn decode_body(u: &Union, unknown_decode: TokenStream) -> TokenStream {
    let decodes = u.members.iter().map(|m| {
        let v = ident(&m.variant);
        let tn = &m.type_name;
        quote!(#tn => Self::#v(::std::boxed::Box::new(::serde::Deserialize::deserialize(rest)?)),)
    });
    match (u.members.is_empty(), u.closed) {
        (true, false) => quote!(::std::result::Result::Ok(Self::Unknown(
            ::atmo_types::UnknownObject::decode_rest(t, rest)?
        ))),
        (true, true) => quote!(let _ = rest; ::std::result::Result::Err(
            ::atmo_types::object::closed_union_error(Self::NAME, t)
        )),
        _ => quote!(::std::result::Result::Ok(match t {
            #(#decodes)*
            #unknown_decode
        })),
    }
}

/// `impl Validate`: forwards to the members whose types have rules.
fn validate_impl(u: &Union) -> TokenStream {
    let name = ident(&u.name);
    let checked: Vec<TokenStream> = u
        .members
        .iter()
        .filter(|m| m.validate)
        .map(|m| {
            let v = ident(&m.variant);
            quote!(Self::#v(x) => ::atmo_types::validate::Validate::validate_at(&**x, path, out),)
        })
        .collect();
    let validate_body = if checked.len() == u.members.len() && u.closed {
        quote!(match self { #(#checked)* })
    } else if let (1, Some(m)) = (checked.len(), u.members.iter().find(|m| m.validate)) {
        let v = ident(&m.variant);
        quote!(if let Self::#v(x) = self {
            ::atmo_types::validate::Validate::validate_at(&**x, path, out)
        })
    } else {
        quote!(match self { #(#checked)* _ => {} })
    };
    if checked.is_empty() {
        quote!(
            impl ::atmo_types::validate::Validate for #name {
                #[inline]
                fn validate_at(&self, _: &::atmo_types::validate::Path<'_>, _: &mut ::atmo_types::validate::Violations) {}
            }
        )
    } else {
        quote!(
            impl ::atmo_types::validate::Validate for #name {
                #[inline]
                fn validate_at(&self, path: &::atmo_types::validate::Path<'_>, out: &mut ::atmo_types::validate::Violations) {
                    #validate_body
                }
            }
        )
    }
}
