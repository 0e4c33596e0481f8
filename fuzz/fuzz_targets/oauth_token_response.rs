//! Token endpoint answers (`parse_token_response`): refused with a typed
//! error, or a DPoP token set for a DID with the `atproto` scope; never a
//! panic, and no error message quotes a token.
#![no_main]

use atmo_oauth::{parse_token_response, Scope, Scopes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_token_response(data) {
        Ok((sub, scope)) => {
            assert!(sub.as_str().starts_with("did:"));
            assert!(Scopes::parse(&scope).contains(&Scope::Atproto));
        }
        Err(e) => {
            let text = e.to_string();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
                for k in ["access_token", "refresh_token"] {
                    // Token-like values only (no spaces, a digit, 12+
                    // characters), so that a "token" spelling a piece of
                    // the message's own wording is not taken for a leak.
                    let token_like = |t: &&str| {
                        t.len() >= 12
                            && !t.contains(char::is_whitespace)
                            && t.contains(|c: char| c.is_ascii_digit())
                    };
                    if let Some(t) = v.get(k).and_then(|t| t.as_str()).filter(token_like) {
                        assert!(!text.contains(t), "an error quotes the {k}");
                    }
                }
            }
        }
    }
});
