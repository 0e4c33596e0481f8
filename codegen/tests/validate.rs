//! `lexgen validate`: records checked against lexicon documents at run time,
//! one file per constraint kind, exact output lines and exit codes.
//!
//! Lexicons: the interop catalog (`ATPROTO_SHARED_DIR`, else
//! `<workspace>/../shared`), this folder's `validate/lexicons` (refs into the
//! catalog), and the official set in `lexicons/` (the catalog refs it).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// (file under `validate/records`, the text after `FILE: `).
const CATALOG_CASES: &[(&str, &str)] = &[
    ("array-max-length.json", "lenArray: 6 items > maxLength 5"),
    ("array-min-length.json", "lenArray: 1 items < minLength 2"),
    ("blob-accept.json", r#"acceptBlob: MIME type "video/mp4" is not accepted (["image/*"])"#),
    ("blob-max-size.json", "sizeBlob: 21 bytes > maxSize 20"),
    ("bytes-max-length.json", "sizeBytes: 21 bytes > maxLength 20"),
    ("bytes-min-length.json", "sizeBytes: 3 bytes < minLength 10"),
    ("data-model.json", "data model: at $.unknown.ratio: float 0.5 is not allowed (the data model has only integers)"),
    ("extra-bad.json", r#"kind: "sample" is not the constant "example"; flag: false is not the constant true; demo.enumInteger: 3 is not one of [4, 9, 16, 25]; tags: 3 items > maxLength 2; tags[1]: 7 bytes > maxLength 4"#),
    ("extra-ok.json", "ok"),
    ("formats.json", "formats.did: invalid did: method 'PLC' contains 'P'; only lowercase letters a-z are allowed; formats.handle: invalid handle: handle segment '-bad-' starts with a hyphen; formats.atidentifier: invalid at-identifier: not a valid handle: handle segment 'not an identifier' contains a space; only ASCII letters, digits and hyphens are allowed; formats.nsid: invalid nsid: NSID 'app.bsky' has 2 segment(s); at least three are needed (like 'com.example.thing'); formats.aturi: invalid at-uri: 'https://example.com/x' does not start with 'at://'; formats.cid: invalid cid: CID 'not-a-cid' contains '-'; only ASCII letters, digits, '+' and '=' are allowed; formats.datetime: invalid datetime: '2024-11-30 12:34:56': expected 'T' (uppercase) between date and time at byte 10, found a space; formats.language: invalid language: subtag 'english!' contains '!'; only ASCII letters and digits are allowed; formats.uri: invalid uri: 'no scheme here' does not start with a scheme (like 'https:'); formats.tid: invalid tid: TID '3jzfcijpj2z2A' contains 'A'; only base32-sortable characters 2-7 and a-z are allowed; formats.recordkey: invalid record-key: record key '..' is not allowed"),
    ("integer-const.json", "constInteger: 41 is not the constant 42"),
    ("integer-enum.json", "enumInteger: 5 is not one of [4, 9, 16, 25]"),
    ("integer-maximum.json", "rangeInteger: 21 > maximum 20"),
    ("integer-minimum.json", "rangeInteger: 9 < minimum 10"),
    ("object-nullable.json", "string: null, but not nullable"),
    ("object-required.json", "integer: required, but missing"),
    ("ok-full.json", "ok"),
    ("ok-legacy-blob.json", "ok"),
    ("ok-minimal.json", "ok"),
    ("several.json", "data model: at $.ref.b: float 1.5 is not allowed (the data model has only integers); integer: required, but missing; object.a: expected an integer, found a string; ref.b: expected an integer, found a number; rangeInteger: 100 > maximum 20; lenArray: 0 items < minLength 2"),
    ("string-enum.json", r#"enumString: "sand" is not one of ["fish", "tree", "rock"]"#),
    ("string-max-graphemes.json", "graphemeString: 21 graphemes > maxGraphemes 20"),
    ("string-max-length.json", "lenString: 22 bytes > maxLength 20"),
    ("string-min-graphemes.json", "graphemeString: 9 graphemes < minGraphemes 10"),
    ("string-min-length.json", "lenString: 5 bytes < minLength 10"),
    ("union-closed.json", r#"closedUnion.$type: "example.lexicon.record#demoObjectTwo" is not a member of this closed union"#),
    ("union-member-rules.json", "union.a: expected an integer, found a string"),
    ("union-no-type.json", "union.$type: missing (a union member names its type)"),
    ("wrong-types.json", r#"boolean: expected a boolean, found an integer; integer: expected an integer, found a string; bytes: expected bytes ($bytes): invalid type: string "AQID", expected a bytes object {"$bytes": "<base64>"}; array: expected an array, found a string; object: expected an object, found an array"#),
];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn catalog() -> Option<PathBuf> {
    let shared = std::env::var_os("ATPROTO_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared"));
    let dir = shared.join("atproto-interop-tests/lexicon/catalog");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "NOTICE: {} not found (set ATPROTO_SHARED_DIR); lexgen validate catalog cases NOT run",
            dir.display()
        );
        None
    }
}

fn records() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validate/records")
}

fn lexgen(args: &[&str], dirs: &[PathBuf], files: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lexgen"));
    c.current_dir(records()).arg("validate").args(args);
    for d in dirs {
        c.arg("--lexicons").arg(d);
    }
    c.args(files).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn catalog_dirs(catalog: PathBuf) -> Vec<PathBuf> {
    vec![
        catalog,
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validate/lexicons"),
        workspace().join("lexicons"),
    ]
}

#[test]
fn every_constraint_kind_against_the_catalog() {
    let Some(catalog) = catalog() else { return };
    let dirs = catalog_dirs(catalog);
    let files: Vec<&str> = CATALOG_CASES.iter().map(|(f, _)| *f).collect();
    let out = lexgen(&[], &dirs, &files);
    let expected: String = CATALOG_CASES
        .iter()
        .map(|(f, r)| format!("{f}: {r}\n"))
        .collect();
    assert_eq!(stdout(&out), expected, "stderr: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(1), "some are invalid");

    // Each valid file alone exits 0; each invalid one alone exits 1.
    let (mut valid, mut invalid) = (0, 0);
    for (f, r) in CATALOG_CASES {
        let out = lexgen(&[], &dirs, &[f]);
        assert_eq!(stdout(&out), format!("{f}: {r}\n"));
        let code = if *r == "ok" {
            valid += 1;
            0
        } else {
            invalid += 1;
            1
        };
        assert_eq!(out.status.code(), Some(code), "{f}");
    }
    println!("lexgen validate: {valid} valid and {invalid} invalid catalog records, output and exit code as expected");
}

#[test]
fn record_type_must_be_the_nsid() {
    let Some(catalog) = catalog() else { return };
    let dirs = catalog_dirs(catalog);
    let out = lexgen(
        &["--nsid", "example.lexicon.record"],
        &dirs,
        &[
            "record-no-type.json",
            "record-type-mismatch.json",
            "ok-minimal.json",
        ],
    );
    assert_eq!(
        stdout(&out),
        "record-no-type.json: $type: missing (a record names its NSID)\n\
         record-type-mismatch.json: $type: \"example.lexicon.other\" is not the record's NSID \"example.lexicon.record\"\n\
         ok-minimal.json: ok\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn unusable_input_exits_2_with_a_reason() {
    let Some(catalog) = catalog() else { return };
    let dirs = catalog_dirs(catalog.clone());
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &[],
            "unusable-unknown-nsid.json",
            r#"no lexicon for NSID "com.example.nothing" is loaded"#,
        ),
        (
            &[],
            "unusable-not-a-record.json",
            "example.lexicon.query is a query, not a record",
        ),
        (
            &[],
            "unusable-bad-json.json",
            "invalid JSON: EOF while parsing a value at line 2 column 0",
        ),
        (&[], "no-such-file.json", "cannot read: "),
        (
            &[],
            "record-no-type.json",
            r#"no "$type" to name the record's NSID (pass --nsid)"#,
        ),
    ];
    for (args, file, reason) in cases {
        let out = lexgen(args, &dirs, &[file, "ok-minimal.json"]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("lexgen validate: {file}: {reason}")),
            "{err}"
        );
        // The other files are still checked and reported.
        assert_eq!(stdout(&out), "ok-minimal.json: ok\n");
    }
    // Usage: no file; --no-builtin without --lexicons.
    assert_eq!(lexgen(&[], &[catalog], &[]).status.code(), Some(2));
    let out = lexgen(&["--no-builtin"], &[], &["ok-minimal.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--no-builtin needs --lexicons"));
    println!(
        "lexgen validate: {} unusable-input cases exit 2",
        cases.len() + 2
    );
}

#[test]
fn a_real_post_against_the_official_lexicons() {
    let dirs = [workspace().join("lexicons")];
    let out = lexgen(&[], &dirs, &["post-ok.json", "post-301-graphemes.json"]);
    assert_eq!(
        stdout(&out),
        "post-ok.json: ok\npost-301-graphemes.json: text: 301 graphemes > maxGraphemes 300\n"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lexgen(&[], &dirs, &["post-ok.json"]).status.code(), Some(0));
}

#[test]
fn the_official_lexicons_are_built_in() {
    let out = lexgen(&[], &[], &["post-ok.json", "post-301-graphemes.json"]);
    assert_eq!(
        stdout(&out),
        "post-ok.json: ok\npost-301-graphemes.json: text: 301 graphemes > maxGraphemes 300\n"
    );
    assert_eq!(out.status.code(), Some(1));
    // Left out: the post's NSID is unknown without them.
    let own = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validate/lexicons");
    let out = lexgen(&["--no-builtin"], &[own], &["post-ok.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains(r#"post-ok.json: no lexicon for NSID "app.bsky.feed.post" is loaded"#),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unresolvable_ref_is_reported_only_where_a_record_reaches_it() {
    let dir = std::env::temp_dir().join(format!("lexgen-validate-refs-{}", std::process::id()));
    let lex = dir.join("lex/com/example");
    std::fs::create_dir_all(&lex).unwrap();
    // One record refers to a missing document and a missing def, in an
    // optional property; the other has no problem at all.
    std::fs::write(
        lex.join("broken.json"),
        r##"{"lexicon":1,"id":"com.example.broken","defs":{"main":{"type":"record","key":"tid",
            "record":{"type":"object","properties":{
              "gone":{"type":"ref","ref":"com.example.missing#thing"},
              "nodef":{"type":"ref","ref":"#nothing"},
              "member":{"type":"union","refs":["com.example.missing#other"]},
              "fine":{"type":"integer","maximum":3}}}}}}"##,
    )
    .unwrap();
    std::fs::write(
        lex.join("fine.json"),
        r#"{"lexicon":1,"id":"com.example.fine","defs":{"main":{"type":"record","key":"tid",
            "record":{"type":"object","required":["n"],"properties":{"n":{"type":"integer"}}}}}}"#,
    )
    .unwrap();
    let record = |name: &str, json: &str| {
        let f = dir.join(name);
        std::fs::write(&f, json).unwrap();
        f.display().to_string()
    };
    let fine = record("fine.json", r#"{"$type":"com.example.fine","n":1}"#);
    let unreached = record(
        "unreached.json",
        r#"{"$type":"com.example.broken","fine":2}"#,
    );
    let reached = record(
        "reached.json",
        r#"{"$type":"com.example.broken","gone":{},"nodef":1,
            "member":{"$type":"com.example.missing#other"},"fine":4}"#,
    );
    let out = lexgen(&[], &[dir.join("lex")], &[&fine, &unreached]);
    assert_eq!(
        stdout(&out),
        format!("{fine}: ok\n{unreached}: ok\n"),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(0));

    let out = lexgen(&["--no-builtin"], &[dir.join("lex")], &[&reached]);
    assert_eq!(
        stdout(&out),
        format!(
            "{reached}: gone: unresolved reference \"com.example.missing#thing\": no lexicon com.example.missing is loaded; \
             nodef: unresolved reference \"#nothing\": lexicon com.example.broken has no definition \"nothing\"; \
             member: unresolved union member \"com.example.missing#other\": no lexicon com.example.missing is loaded; \
             fine: 4 > maximum 3\n"
        )
    );
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_the_data_model_cannot_hold_is_named_for_what_it_is() {
    let Some(catalog) = catalog() else { return };
    let dirs = [catalog];
    let dir = std::env::temp_dir().join(format!("lexgen-validate-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, text: String| {
        let f = dir.join(name);
        std::fs::write(&f, text).unwrap();
        f.display().to_string()
    };
    let head = r#"{"$type":"example.lexicon.record","#;
    let big = file(
        "big.json",
        format!(r#"{head}"integer":18446744073709551615}}"#),
    );
    let out = lexgen(&[], &dirs, &[&big]);
    assert!(
        stdout(&out).ends_with(
            "integer: 18446744073709551615 is out of range (integers are signed 64-bit)\n"
        ),
        "{}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(1));

    for escape in [r"\ud800", r"\udc00", r"\ud800\u0041"] {
        let lone = file(
            "lone.json",
            format!(r#"{head}"integer":1,"string":"a{escape}b"}}"#),
        );
        let out = lexgen(&[], &dirs, &[&lone]);
        assert!(
            stdout(&out).contains("is a lone UTF-16 surrogate"),
            "{escape}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert_eq!(out.status.code(), Some(1), "{escape}");
    }

    // 127 levels (the record, its `unknown` object, 125 arrays) are read;
    // 128 are refused with the limit named.
    let nested = |arrays: usize| {
        format!(
            r#"{head}"integer":1,"unknown":{{"a":{}{}}}}}"#,
            "[".repeat(arrays),
            "]".repeat(arrays)
        )
    };
    let ok = file("deep-ok.json", nested(125));
    let out = lexgen(&[], &dirs, &[&ok]);
    assert_eq!(stdout(&out), format!("{ok}: ok\n"), "{}", stderr(&out));
    let deep = file("deep.json", nested(126));
    let out = lexgen(&[], &dirs, &[&deep]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nested deeper than 127 levels of arrays and objects at line 1"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cids_must_decode_not_only_look_like_cids() {
    let Some(catalog) = catalog() else { return };
    let dirs = [catalog];
    let dir = std::env::temp_dir().join(format!("lexgen-validate-cid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";
    let record = |cid: &str, link: &str, blob: &str| {
        let f = dir.join("cid.json");
        let text = format!(
            r#"{{"$type":"example.lexicon.record","integer":1,
                "formats":{{"cid":"{cid}"}},"cid-link":{{"$link":"{link}"}},
                "blob":{{"$type":"blob","ref":{{"$link":"{blob}"}},"mimeType":"text/plain","size":3}}}}"#
        );
        std::fs::write(&f, text).unwrap();
        let out = lexgen(&[], &dirs, &[f.to_str().unwrap()]);
        let line = stdout(&out);
        let line = line.trim_end().split_once(": ").map(|(_, v)| v.to_owned());
        (out.status.code(), line.unwrap_or_default())
    };
    assert_eq!(record(good, good, good), (Some(0), "ok".into()));
    let (code, line) = record("bafyreia", good, good);
    assert_eq!(code, Some(1));
    assert_eq!(
        line,
        r#"formats.cid: invalid cid: CID "bafyreia" declares a 32-byte digest but holds 0 byte(s)"#
    );
    let (_, line) = record(good, "z7x3CtScH765HvShXT", good);
    assert!(
        line.starts_with(r#"cid-link.$link: invalid cid: CID "z7x3CtScH765HvShXT""#),
        "{line}"
    );
    let (_, line) = record(good, good, "bafkreia");
    assert!(
        line.starts_with(r#"blob.ref: invalid cid: CID "bafkreia""#),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
