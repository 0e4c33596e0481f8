//! `impl Validate` of structs: one call per field that has rules, through
//! the shared checks of `atmo_types::validate` (imported as `v`).

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::emit::ir::*;
use crate::names::ident;

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
/// `Path` binding); `v` is `::atmo_types::validate`, imported by the caller.
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
            let lengths = [
                ("min_length", min_length),
                ("max_length", max_length),
                ("min_graphemes", min_graphemes),
                ("max_graphemes", max_graphemes),
            ];
            string_check(&lengths, constant.as_deref(), x, p)
        }
        Check::Int {
            minimum,
            maximum,
            allowed,
            constant,
        } => integer_check(*minimum, *maximum, allowed.as_deref(), *constant, x, p),
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
        Check::Array { min, max, items } => array_check(*min, *max, items.as_deref(), x, p),
    }
}

/// `StringRules` with only the lengths that are set, and `const`.
fn string_check(
    lengths: &[(&str, &Option<i64>)],
    constant: Option<&str>,
    x: &TokenStream,
    p: &TokenStream,
) -> TokenStream {
    let set: Vec<TokenStream> = lengths
        .iter()
        .filter(|(_, val)| val.is_some())
        .map(|(name, val)| {
            let n = format_ident!("{}", name);
            let e = opt_i64(**val);
            quote!(#n: #e,)
        })
        .collect();
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

/// `IntegerRules` with only the rules that are set.
fn integer_check(
    minimum: Option<i64>,
    maximum: Option<i64>,
    allowed: Option<&[i64]>,
    constant: Option<i64>,
    x: &TokenStream,
    p: &TokenStream,
) -> TokenStream {
    let mut set = Vec::new();
    if minimum.is_some() {
        let e = opt_int(minimum);
        set.push(quote!(minimum: #e,));
    }
    if maximum.is_some() {
        let e = opt_int(maximum);
        set.push(quote!(maximum: #e,));
    }
    if let Some(a) = allowed {
        let a = a.iter().map(|i| Literal::i64_unsuffixed(*i));
        set.push(quote!(allowed: ::std::option::Option::Some(&[#(#a),*]),));
    }
    if constant.is_some() {
        let e = opt_int(constant);
        set.push(quote!(constant: #e,));
    }
    let rest = if set.len() < 4 {
        quote!(..v::IntegerRules::NONE)
    } else {
        quote!()
    };
    quote!(v::integer(*#x, &v::IntegerRules { #(#set)* #rest }, &#p, out);)
}

/// Array length, then each item's check.
fn array_check(
    min: Option<i64>,
    max: Option<i64>,
    items: Option<&Check>,
    x: &TokenStream,
    p: &TokenStream,
) -> TokenStream {
    let len = if min.is_some() || max.is_some() {
        let (min, max) = (opt_i64(min), opt_i64(max));
        quote!(v::array_len(#x.len(), #min, #max, &#p, out);)
    } else {
        quote!()
    };
    let items = match items {
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

/// The check of one field, unwrapping its presence.
fn field_check(f: &Field, c: &Check) -> TokenStream {
    let n = ident(&f.rust);
    let j = &f.json;
    let p = quote!(path.field(#j));
    let forward = match c {
        Check::Nested(_) => true,
        Check::Array {
            min: None,
            max: None,
            items: Some(i),
        } => matches!(**i, Check::Nested(_)),
        _ => false,
    };
    if forward {
        // Option, Option<Option>, Box and Vec all forward.
        return quote!(v::Validate::validate_at(&self.#n, &#p, out););
    }
    let body = check_tokens(c, &quote!(x), &quote!(p));
    match f.presence {
        Presence::Required | Presence::Default(_) => {
            quote!({ let x = &self.#n; let p = #p; #body })
        }
        Presence::Optional | Presence::RequiredNullable => quote!(
            if let ::std::option::Option::Some(x) = &self.#n { let p = #p; #body }
        ),
        Presence::OptionalNullable => quote!(
            if let ::std::option::Option::Some(::std::option::Option::Some(x)) = &self.#n { let p = #p; #body }
        ),
    }
}

/// `impl Validate`: one call per field that has rules.
pub(super) fn validate_impl(s: &Struct) -> TokenStream {
    let name = ident(&s.name);
    let checks: Vec<TokenStream> = s
        .fields
        .iter()
        .filter_map(|f| Some(field_check(f, f.check.as_ref()?)))
        .collect();
    if checks.is_empty() {
        return quote!(
            impl ::atmo_types::validate::Validate for #name {
                #[inline]
                fn validate_at(&self, _: &::atmo_types::validate::Path<'_>, _: &mut ::atmo_types::validate::Violations) {}
            }
        );
    }
    quote!(
        impl ::atmo_types::validate::Validate for #name {
            #[inline]
            fn validate_at(&self, path: &::atmo_types::validate::Path<'_>, out: &mut ::atmo_types::validate::Violations) {
                use ::atmo_types::validate as v;
                #(#checks)*
            }
        }
    )
}
