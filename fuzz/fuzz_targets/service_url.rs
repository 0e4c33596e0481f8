//! Service URLs come from configuration and from DID documents fetched over
//! the network (`serviceEndpoint`): `ServiceUrl::parse` gives a clear error
//! or an origin, never a panic. An origin is stable (parsing its text gives
//! it back), ends in `/`, and the XRPC URLs built from it keep every query
//! byte encoded: no space, control character, `#` or raw non-ASCII.
#![no_main]

use atmo_client::ServiceUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Half the input as the URL, the rest as a query value.
    let split = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(text.len(), |(i, _)| i);
    let (url, value) = text.split_at(split);
    let Ok(origin) = ServiceUrl::parse(url) else {
        return;
    };
    assert!(origin.as_str().ends_with('/'));
    assert!(origin.scheme() == "https" || origin.scheme() == "http");
    let again = ServiceUrl::parse(origin.as_str()).expect("an origin parses again");
    assert_eq!(again, origin);
    let _ = origin.is_loopback();
    let xrpc = origin.xrpc_url("com.example.test", &[("q".to_owned(), value.to_owned())]);
    assert!(xrpc.starts_with(origin.as_str()));
    assert!(
        xrpc.bytes().all(|b| b.is_ascii_graphic() && b != b'#'),
        "{xrpc:?}"
    );
});
