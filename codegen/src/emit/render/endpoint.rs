//! Endpoints: the marker type implementing `Endpoint`, and the `Error`
//! enum of declared errors.

use proc_macro2::TokenStream;
use quote::quote;

use super::docs;
use crate::emit::ir::*;
use crate::emit::ServerCode;
use crate::names::ident;

/// The marker type of a query or procedure.
pub(super) fn endpoint(e: &Endpoint) -> TokenStream {
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
    let (encode, decode) = codec(e);
    let (validate_params, validate_input) = validate_overrides(e);
    quote! {
        #doc
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct #name;
        impl ::atmo_types::xrpc::Endpoint for #name {
            const NSID: &'static str = #nsid;
            const METHOD: ::atmo_types::xrpc::Method = ::atmo_types::xrpc::Method::#method;
            const INPUT_ENCODING: ::std::option::Option<&'static str> = #in_enc;
            const OUTPUT_ENCODING: ::std::option::Option<&'static str> = #out_enc;
            type Params = #params;
            type Input = #input;
            type Output = #output;
            type Error = Error;
            #[inline]
            fn encode_input(
                input: &Self::Input,
            ) -> ::std::result::Result<::std::option::Option<::atmo_types::xrpc::RawBody>, ::atmo_types::xrpc::EncodeError> {
                #encode
            }
            #[inline]
            fn decode_output(
                body: ::atmo_types::xrpc::RawBody,
            ) -> ::std::result::Result<Self::Output, ::atmo_types::xrpc::DecodeError> {
                #decode
            }
            #validate_params
            #validate_input
        }
    }
}

/// The server side of a query or procedure
/// (`atmo_types::xrpc::ServerEndpoint`), when [`ServerCode`] asks for it:
/// parameters decoded with their generated `Deserialize`, JSON input with
/// the same decoder as a client's output, JSON output with the same encoder
/// as a client's input.
pub(super) fn server(e: &Endpoint, server: &ServerCode) -> TokenStream {
    let gate = match server {
        ServerCode::Off => return TokenStream::new(),
        ServerCode::Always => TokenStream::new(),
        ServerCode::Feature(f) => quote!(#[cfg(feature = #f)]),
    };
    let name = ident(&e.name);
    let params = if e.params {
        quote!(<Parameters as ::serde::Deserialize<'de>>::deserialize(d))
    } else {
        quote!(<::serde::de::IgnoredAny as ::serde::Deserialize<'de>>::deserialize(d).map(|_| ()))
    };
    let input = match e.input {
        BodyKind::None => quote!(let _ = body; ::std::result::Result::Ok(())),
        BodyKind::Json => quote!(::atmo_types::xrpc::decode_json(
            <Self as ::atmo_types::xrpc::Endpoint>::NSID,
            &body.bytes,
        )),
        BodyKind::Raw(_) => quote!(::std::result::Result::Ok(body)),
    };
    let output = match e.output {
        BodyKind::None => quote!(::std::result::Result::Ok(::std::option::Option::None)),
        BodyKind::Json => quote!(::atmo_types::xrpc::encode_json(
            <Self as ::atmo_types::xrpc::Endpoint>::NSID,
            &output,
        )),
        BodyKind::Raw(_) => quote!(::std::result::Result::Ok(::std::option::Option::Some(
            output
        ))),
    };
    // `()` when no output is declared: not bound to a name.
    let output_arg = match e.output {
        BodyKind::None => quote!(_),
        _ => quote!(output),
    };
    let validate_output = if e.validate_output {
        quote!(
            #[inline]
            fn validate_output(
                output: &Self::Output,
            ) -> ::std::result::Result<(), ::atmo_types::validate::ValidationError> {
                ::atmo_types::validate::Validate::validate(output)
            }
        )
    } else {
        quote!()
    };
    quote! {
        #gate
        impl ::atmo_types::xrpc::ServerEndpoint for #name {
            #[inline]
            fn decode_params<'de, D: ::serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self::Params, D::Error> {
                #params
            }
            #[inline]
            fn decode_input(
                body: ::atmo_types::xrpc::RawBody,
            ) -> ::std::result::Result<Self::Input, ::atmo_types::xrpc::DecodeError> {
                #input
            }
            #[inline]
            fn encode_output(
                #output_arg: Self::Output,
            ) -> ::std::result::Result<::std::option::Option<::atmo_types::xrpc::RawBody>, ::atmo_types::xrpc::EncodeError> {
                #output
            }
            #validate_output
        }
    }
}

/// The `Error` enum of declared errors (or `NoError`).
pub(super) fn errors(e: &Errors) -> TokenStream {
    if e.errors.is_empty() {
        return quote!(
            /// This endpoint declares no errors.
            pub type Error = ::atmo_types::xrpc::NoError;
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
        impl ::atmo_types::xrpc::EndpointError for Error {
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
                ::atmo_types::xrpc::fmt_endpoint_error(self, f)
            }
        }
        impl ::std::error::Error for Error {}
    }
}

/// The bodies of `encode_input` and `decode_output`.
fn codec(e: &Endpoint) -> (TokenStream, TokenStream) {
    let encode = match e.input {
        BodyKind::None => {
            quote!(let _ = input; ::std::result::Result::Ok(::std::option::Option::None))
        }
        BodyKind::Json => quote!(::atmo_types::xrpc::encode_json(Self::NSID, input)),
        BodyKind::Raw(_) => quote!(::atmo_types::xrpc::encode_raw(input)),
    };
    let decode = match e.output {
        BodyKind::None => quote!(::atmo_types::xrpc::decode_none(body)),
        BodyKind::Json => quote!(::atmo_types::xrpc::decode_json(Self::NSID, &body.bytes)),
        BodyKind::Raw(_) => quote!(::atmo_types::xrpc::decode_raw(body)),
    };
    (encode, decode)
}

/// `validate_params`/`validate_input` overrides, when those have rules.
fn validate_overrides(e: &Endpoint) -> (TokenStream, TokenStream) {
    let validate_params = if e.validate_params {
        quote!(
            #[inline]
            fn validate_params(
                params: &Self::Params,
            ) -> ::std::result::Result<(), ::atmo_types::validate::ValidationError> {
                ::atmo_types::validate::Validate::validate(params)
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
            ) -> ::std::result::Result<(), ::atmo_types::validate::ValidationError> {
                ::atmo_types::validate::Validate::validate(input)
            }
        )
    } else {
        quote!()
    };
    (validate_params, validate_input)
}
