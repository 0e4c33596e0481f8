//! `WWW-Authenticate` and `DPoP-Nonce` parsing, and scope strings: never a
//! panic; a usable nonce is visible ASCII within the limit; a known scope
//! prints back to text that parses to itself.
#![no_main]

use atmo_oauth::dpop::{dpop_error, dpop_nonce, parse_www_authenticate, MAX_NONCE_LEN};
use atmo_oauth::{Scope, Scopes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for c in parse_www_authenticate(text) {
        assert!(!c.scheme.is_empty());
    }
    let headers = vec![
        ("WWW-Authenticate".to_owned(), text.to_owned()),
        ("DPoP-Nonce".to_owned(), text.to_owned()),
    ];
    let _ = dpop_error(&headers);
    if let Some(n) = dpop_nonce(&headers) {
        assert!(n.len() <= MAX_NONCE_LEN && n.bytes().all(|b| (b'!'..=b'~').contains(&b)));
    }
    for token in text.split(' ') {
        let scope = Scope::parse(token);
        let printed = scope.to_string();
        assert_eq!(Scope::parse(&printed), scope, "{token:?} -> {printed:?}");
        if let Scope::Unknown(s) = &scope {
            assert_eq!(s, token, "unknown scopes are kept verbatim");
        }
    }
    let _ = Scopes::parse(text).to_string();
});
