//! Runs the atproto interop syntax vectors against the string-format types.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::str::FromStr;

use atmo_types::{
    AtIdentifier, AtUri, Cid, Datetime, Did, Handle, Language, Nsid, RecordKey, SyntaxError, Tid,
    Uri,
};

fn check<T: FromStr<Err = SyntaxError>>(s: &str) -> Result<(), SyntaxError> {
    T::from_str(s).map(|_| ())
}

type Check = fn(&str) -> Result<(), SyntaxError>;

/// (file stem, check): every `<stem>_valid.txt` must be accepted, every
/// `<stem>_invalid.txt` refused. `datetime_parse_invalid` and
/// `language_parse_invalid` list well-formed but impossible values, which
/// the types refuse too.
const CASES: &[(&str, Check)] = &[
    ("did_syntax", check::<Did>),
    ("handle_syntax", check::<Handle>),
    ("nsid_syntax", check::<Nsid>),
    ("aturi_syntax", check::<AtUri>),
    ("atidentifier_syntax", check::<AtIdentifier>),
    ("datetime_syntax", check::<Datetime>),
    ("datetime_parse", check::<Datetime>),
    ("cid_syntax", check::<Cid>),
    ("tid_syntax", check::<Tid>),
    ("recordkey_syntax", check::<RecordKey>),
    ("uri_syntax", check::<Uri>),
    ("language_syntax", check::<Language>),
    ("language_parse", check::<Language>),
];

#[test]
fn syntax_vectors() {
    let Some(dir) = common::shared_subdir("atproto-interop-tests/syntax") else {
        return;
    };
    // ATPROTO_VECTORS_VERBOSE=1 prints why each invalid vector was refused.
    let verbose = std::env::var_os("ATPROTO_VECTORS_VERBOSE").is_some();
    let mut failures = Vec::new();
    let (mut total_valid, mut total_invalid, mut files) = (0, 0, 0);
    for (stem, check) in CASES {
        let mut counts = [0usize; 2];
        for (i, (suffix, want_ok)) in [("valid", true), ("invalid", false)].iter().enumerate() {
            let path = dir.join(format!("{stem}_{suffix}.txt"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            files += 1;
            for line in common::vector_lines(&text) {
                counts[i] += 1;
                match (check(line), want_ok) {
                    (Ok(()), true) => {}
                    (Err(e), false) => {
                        if verbose {
                            println!("  refused {line:?}: {}", e.reason);
                        }
                    }
                    (Ok(()), false) => failures.push(format!("{stem}: accepted invalid {line:?}")),
                    (Err(e), true) => failures.push(format!("{stem}: refused valid {line:?}: {e}")),
                }
            }
        }
        println!(
            "{stem}: {} valid accepted, {} invalid refused",
            counts[0], counts[1]
        );
        total_valid += counts[0];
        total_invalid += counts[1];
    }
    println!(
        "total: {files} files, {total_valid} valid, {total_invalid} invalid, {} failures",
        failures.len()
    );
    assert!(files > 0, "no vector files found in {}", dir.display());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
