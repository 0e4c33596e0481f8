//! Response classification: any status, headers and body become a success,
//! an XRPC error, a rate limit or an unexpected answer, never a panic; the
//! class follows the status; a retry never waits past MAX_RETRY_DELAY; the
//! Debug of an error shows no header outside the allowed ones.
//!
//! Input: two bytes of status (big-endian, modulo 1000), then header lines
//! (`name: value`) up to an empty line, then the body.
#![no_main]

use atmo_xrpc::{classify, fuzzing, Error, HttpResponse, XrpcError, MAX_RETRY_DELAY};
use libfuzzer_sys::fuzz_target;

/// Marks the value of a header that Debug must leave out.
const HIDDEN: &str = "hidden-cookie-7f3a";

fn parse(data: &[u8]) -> Option<HttpResponse> {
    let status = u16::from_be_bytes([*data.first()?, *data.get(1)?]) % 1000;
    let rest = &data[2..];
    let split = rest.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (&rest[..0], rest),
    };
    let headers = head
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = std::str::from_utf8(line).ok()?;
            let (name, value) = line.split_once(':')?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect();
    Some(HttpResponse {
        status,
        headers,
        body: body.to_vec(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(mut response) = parse(data) else {
        return;
    };
    let status = response.status;

    let delay = fuzzing::retry_delay(&response);
    if let Some(d) = delay {
        assert!(d <= MAX_RETRY_DELAY, "{d:?}");
        assert!(status == 429 || status == 503, "retried a {status}");
    }

    // A header Debug must not show, to check it is left out.
    response
        .headers
        .push(("set-cookie".to_owned(), HIDDEN.to_owned()));
    let body = response.body.clone();
    match classify("com.example.fuzz", response) {
        Ok(ok) => {
            assert!((200..300).contains(&status));
            assert_eq!(ok.status, status);
            assert_eq!(ok.body.bytes, body);
        }
        Err(e) => {
            assert!(!(200..300).contains(&status));
            assert_eq!(e.status(), Some(status));
            assert_eq!(e.nsid(), Some("com.example.fuzz"));
            match &e {
                Error::RateLimited(_) => assert_eq!(status, 429),
                Error::Xrpc(XrpcError { error, .. }) => {
                    assert_ne!(status, 429);
                    assert!(!error.is_empty());
                }
                Error::UnexpectedResponse { .. } => assert_ne!(status, 429),
                other => panic!("not a classification: {other:?}"),
            }
            let _ = e.to_string();
            let _ = e.is_transient();
            let input_has_marker = data.windows(HIDDEN.len()).any(|w| w == HIDDEN.as_bytes());
            assert!(input_has_marker || !format!("{e:?}").contains(HIDDEN));
        }
    }
});
