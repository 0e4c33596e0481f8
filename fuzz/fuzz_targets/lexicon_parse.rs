//! The lexicon parser and resolver on arbitrary text: errors, never panics.
//! A document that parses is also resolved as a one-document set and, when
//! that succeeds, lowered and emitted as Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = atmo_lexgen::model::parse_document("fuzz.json", text) else {
        return;
    };
    let Ok(set) = atmo_lexgen::Set::build(vec![doc], Vec::new()) else {
        return;
    };
    let _ = atmo_lexgen::generate(&set, &atmo_lexgen::Options::default());
});
