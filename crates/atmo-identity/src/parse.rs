//! The offline checks and parsers of resolution: handle normalization, the
//! DID methods atproto supports, `did:web` hosts, DNS TXT records and
//! well-known bodies. All are pure functions, tested without a network.

use atmo_types::{Did, Handle};

use crate::error::{Error, ErrorKind, Step};

/// Top-level domains whose handles are refused before any network call: they
/// never resolve on the public internet (the atproto handle specification's
/// list). `.test` is allowed: development servers use it.
pub const RESERVED_TLDS: &[&str] = &[
    "alt",
    "arpa",
    "example",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
];

/// A handle as typed (an `@` in front and a trailing dot are tolerated),
/// lower-cased and checked: syntax, then the reserved top-level domains.
pub fn normalize_handle(input: &str) -> Result<Handle, Error> {
    let trimmed = input.strip_prefix('@').unwrap_or(input);
    let lower = trimmed.to_ascii_lowercase();
    let handle = Handle::new(lower.clone())
        .map_err(|e| Error::new(Step::Syntax, input, ErrorKind::InvalidSyntax(e.to_string())))?;
    let tld = lower.rsplit('.').next().unwrap_or_default();
    if RESERVED_TLDS.contains(&tld) {
        return Err(Error::new(
            Step::Syntax,
            input,
            ErrorKind::ReservedTld(tld.to_owned()),
        ));
    }
    Ok(handle)
}

/// The two DID methods atproto uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DidMethod {
    /// `did:plc:…`, resolved through a PLC directory.
    Plc,
    /// `did:web:<host>`: the host (`example.com`, `localhost:8080` with its
    /// port decoded from `%3A`).
    Web(String),
}

/// Checks that `input` is a DID atproto can resolve and says how.
pub fn parse_did(input: &str) -> Result<(Did, DidMethod), Error> {
    let did = Did::new(input)
        .map_err(|e| Error::new(Step::Syntax, input, ErrorKind::InvalidSyntax(e.to_string())))?;
    let method = did_method(&did)?;
    Ok((did, method))
}

/// How to resolve `did`: `did:plc` (24 base32 characters) or `did:web` with
/// a host name and no path.
pub fn did_method(did: &Did) -> Result<DidMethod, Error> {
    let s = did.as_str();
    let unsupported =
        |why: String| Err(Error::new(Step::Syntax, s, ErrorKind::UnsupportedDid(why)));
    if let Some(id) = s.strip_prefix("did:plc:") {
        if id.len() != 24 || !id.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')) {
            return unsupported(
                "a did:plc identifier is 24 characters of base32 (a-z, 2-7)".into(),
            );
        }
        return Ok(DidMethod::Plc);
    }
    if let Some(id) = s.strip_prefix("did:web:") {
        if id.contains(':') {
            return unsupported("did:web with a path is not supported by atproto".into());
        }
        let lower = id.to_ascii_lowercase();
        let (host, port) = match lower.split_once("%3a") {
            Some((h, p)) => (h, Some(p)),
            None => (lower.as_str(), None),
        };
        if host.contains('%') {
            return unsupported("did:web host has percent-encoding other than %3A".into());
        }
        // The host must be a domain name (the handle syntax; `localhost`
        // too): no IP literals, no all-numeric names that HTTP libraries
        // would read as IPv4 addresses.
        if host != "localhost" && Handle::new(host).is_err() {
            return unsupported(format!("did:web host {host:?} is not a domain name"));
        }
        let host = match port {
            None => host.to_owned(),
            Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u16>() {
                    Ok(n) if n > 0 => format!("{host}:{n}"),
                    _ => return unsupported(format!("did:web port {p:?} is out of range")),
                }
            }
            Some(p) => return unsupported(format!("did:web port {p:?} is not a number")),
        };
        return Ok(DidMethod::Web(host));
    }
    unsupported(format!(
        "DID method {:?} is not supported (atproto uses did:plc and did:web)",
        s.split(':').nth(1).unwrap_or_default()
    ))
}

/// The DID of `_atproto.<handle>` TXT records: the one record that starts
/// with `did=` (other records are ignored). `Ok(None)` when there is none;
/// several `did=` records, or one with an invalid or unsupported DID, are
/// errors.
pub fn did_from_txt_records(handle: &Handle, records: &[String]) -> Result<Option<Did>, Error> {
    let found: Vec<&str> = records
        .iter()
        .filter_map(|r| r.strip_prefix("did="))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => did_answer(Step::Dns, handle, one.trim()).map(Some),
        more => Err(Error::new(
            Step::Dns,
            handle.as_str(),
            ErrorKind::SeveralTxtRecords(more.len()),
        )),
    }
}

/// Largest `.well-known/atproto-did` body read: a DID is at most 2 KiB.
pub const MAX_WELL_KNOWN_BODY: usize = 2048;

/// The DID in a `/.well-known/atproto-did` body: plain text, surrounding
/// whitespace ignored, nothing else on the line.
pub fn did_from_well_known(handle: &Handle, body: &[u8]) -> Result<Did, Error> {
    let bad = |why: String| Error::new(Step::WellKnown, handle.as_str(), ErrorKind::BadAnswer(why));
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8 text".into()))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(bad("the body is empty".into()));
    }
    did_answer(Step::WellKnown, handle, text)
}

/// An answer for `handle` read at `step`: must be a valid DID of a
/// supported method.
pub(crate) fn did_answer(step: Step, handle: &Handle, text: &str) -> Result<Did, Error> {
    let bad = |why: String| Error::new(step, handle.as_str(), ErrorKind::BadAnswer(why));
    let shown = crate::truncate(text.to_owned(), 80);
    let did = Did::new(text).map_err(|e| bad(format!("{shown:?} is not a DID: {e}")))?;
    did_method(&did).map_err(|e| bad(format!("{shown:?}: {}", e.kind())))?;
    Ok(did)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Handle {
        Handle::new(s).unwrap()
    }

    #[test]
    fn handles_are_lower_cased_and_checked() {
        assert_eq!(
            normalize_handle("Alice.Bsky.Social").unwrap().as_str(),
            "alice.bsky.social"
        );
        assert_eq!(
            normalize_handle("@alice.test").unwrap().as_str(),
            "alice.test"
        );
        let e = normalize_handle("not a handle").unwrap_err();
        assert_eq!(e.step(), Step::Syntax);
        assert!(matches!(e.kind(), ErrorKind::InvalidSyntax(_)));
        assert!(e.to_string().contains("not a handle"), "{e}");
        assert!(normalize_handle("single").is_err());
        assert!(normalize_handle("").is_err());
        assert!(normalize_handle("a.1com").is_err());
        for tld in RESERVED_TLDS {
            let e = normalize_handle(&format!("x.{tld}")).unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::ReservedTld(tld.to_string()));
        }
        assert!(normalize_handle("Bob.LOCAL").is_err());
    }

    #[test]
    fn did_methods() {
        assert_eq!(
            parse_did("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap().1,
            DidMethod::Plc
        );
        assert_eq!(
            parse_did("did:web:example.com").unwrap().1,
            DidMethod::Web("example.com".into())
        );
        assert_eq!(
            parse_did("did:web:Localhost%3A8080").unwrap().1,
            DidMethod::Web("localhost:8080".into())
        );
        for (bad, why) in [
            ("did:plc:short", "24 characters"),
            ("did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ", "24 characters"),
            (
                "did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc",
                "\"key\" is not supported",
            ),
            ("did:web:example.com:user:alice", "path"),
            ("did:web:127.0.0.1", "not a domain name"),
            ("did:web:2130706433", "not a domain name"),
            ("did:web:[::1]", "not a DID"),
            ("did:web:example.com%3A99999", "out of range"),
            ("did:web:example.com%3Ax", "not a number"),
            ("did:web:exa%2Fmple.com", "percent-encoding"),
            ("did:example", "not a DID"),
            ("not-a-did", "not a DID"),
        ] {
            let err = parse_did(bad).unwrap_err();
            let text = err.to_string();
            assert_eq!(err.step(), Step::Syntax, "{bad}");
            assert!(
                text.contains(why)
                    || why == "not a DID" && matches!(err.kind(), ErrorKind::InvalidSyntax(_)),
                "{bad}: {text}"
            );
        }
    }

    #[test]
    fn txt_records() {
        let alice = h("alice.example.com");
        let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        let rec = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            did_from_txt_records(&alice, &rec(&[&format!("did={did}")]))
                .unwrap()
                .unwrap()
                .as_str(),
            did
        );
        // Other records are ignored.
        assert_eq!(
            did_from_txt_records(
                &alice,
                &rec(&["v=spf1 -all", &format!("did={did}"), "hello"])
            )
            .unwrap()
            .unwrap()
            .as_str(),
            did
        );
        assert_eq!(did_from_txt_records(&alice, &rec(&[])).unwrap(), None);
        assert_eq!(
            did_from_txt_records(&alice, &rec(&["v=spf1", "DID=x", " did=x"])).unwrap(),
            None
        );
        // Two did= records: an error, even when they agree.
        let two = did_from_txt_records(
            &alice,
            &rec(&[&format!("did={did}"), &format!("did={did}")]),
        )
        .unwrap_err();
        assert_eq!(two.kind(), &ErrorKind::SeveralTxtRecords(2));
        assert_eq!(two.step(), Step::Dns);
        assert_eq!(two.identifier(), "alice.example.com");
        for bad in [
            "did=",
            "did=notadid",
            "did=did:key:zQ3sh",
            "did=did:plc:tooshort",
        ] {
            let e = did_from_txt_records(&alice, &rec(&[bad])).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::BadAnswer(_)), "{bad}: {e}");
            assert_eq!(e.step(), Step::Dns);
        }
    }

    #[test]
    fn well_known_bodies() {
        let alice = h("alice.example.com");
        let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        assert_eq!(
            did_from_well_known(&alice, did.as_bytes())
                .unwrap()
                .as_str(),
            did
        );
        assert_eq!(
            did_from_well_known(&alice, format!("  {did}\r\n").as_bytes())
                .unwrap()
                .as_str(),
            did
        );
        assert_eq!(
            did_from_well_known(&alice, b"did:web:example.com\n")
                .unwrap()
                .as_str(),
            "did:web:example.com"
        );
        for bad in [
            &b""[..],
            b"   \n",
            b"\xff\xfe",
            b"<html>not found</html>",
            b"did:plc:ewvi7nxzyoun6zhxrhs64oiz\ndid:plc:ewvi7nxzyoun6zhxrhs64oiz",
            b"{\"did\":\"did:plc:ewvi7nxzyoun6zhxrhs64oiz\"}",
        ] {
            let e = did_from_well_known(&alice, bad).unwrap_err();
            assert_eq!(e.step(), Step::WellKnown);
            assert!(matches!(e.kind(), ErrorKind::BadAnswer(_)), "{e}");
        }
    }
}
