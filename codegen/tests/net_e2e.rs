//! `lexgen publish` and `lexgen install` end to end, against the real
//! reference PDS and PLC directory (`tests/pds`) and a DNS server on
//! loopback answering the `_lexicon` TXT records: published documents are
//! resolved, fetched with their proofs, verified and installed with a
//! manifest in `@atproto/lex`'s format; refs are followed except into the
//! official set; `--ci` needs no network and names an edited file.
//!
//! Without an installed PDS the tests skip with a notice; with
//! `ATPROTO_E2E=required` they fail instead.

// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "net")]

use std::collections::HashMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use atmo_lexicon::{document_cid, Manifest, SCHEMA_COLLECTION};
use atmo_xrpc::{HttpClient, HttpMethod, HttpRequest, HyperClient, ServiceUrl};
use atproto_tests::{unique_handle, Pds};
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery";

/// A DNS server on 127.0.0.1 (UDP) answering TXT queries from a table
/// (NXDOMAIN for other names). Runs until the test process exits.
fn dns_server(records: HashMap<String, Vec<String>>) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            if let Some(reply) = dns_answer(&buf[..n], &records) {
                let _ = socket.send_to(&reply, peer);
            }
        }
    });
    addr
}

fn dns_answer(query: &[u8], records: &HashMap<String, Vec<String>>) -> Option<Vec<u8>> {
    // Header (12 bytes), then one question: labels, type, class.
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*query.get(i)?, *query.get(i + 1)?]);
    let question_end = i + 4;
    let found = records.get(&labels.join("."));
    let answers: Vec<&String> = match (found, qtype) {
        (Some(txt), 16) => txt.iter().collect(),
        _ => vec![],
    };
    let mut out = Vec::new();
    out.extend_from_slice(query.get(0..2)?);
    let rcode = if found.is_none() { 3 } else { 0 };
    out.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1]);
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(query.get(12..question_end)?);
    for txt in answers {
        out.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
        let mut rdata = Vec::new();
        for chunk in txt.as_bytes().chunks(255) {
            rdata.push(chunk.len() as u8);
            rdata.extend_from_slice(chunk);
        }
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

/// Creates an account on the PDS; returns its handle and DID.
fn create_account(pds: &Pds, prefix: &str) -> (String, String) {
    let handle = unique_handle(prefix);
    let name = handle.trim_end_matches(".test");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = rt.block_on(async {
        let http = HyperClient::new().unwrap();
        let url = ServiceUrl::parse(&pds.url)
            .unwrap()
            .xrpc_url("com.atproto.server.createAccount", &[]);
        let body = json!({"handle": handle, "email": format!("{name}@example.test"), "password": PASSWORD});
        let r = http
            .send(HttpRequest {
                method: HttpMethod::Post,
                url,
                headers: vec![("content-type".into(), "application/json".into())],
                body: Some(body.to_string().into_bytes()),
                timeout: Duration::from_secs(30),
                max_response_size: 1 << 20,
            })
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.body
    });
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    (handle, v["did"].as_str().unwrap().to_owned())
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lexgen-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_doc(dir: &Path, doc: &serde_json::Value) {
    let id = doc["id"].as_str().unwrap();
    let mut path = dir.to_path_buf();
    for seg in id.split('.') {
        path.push(seg);
    }
    path.set_extension("json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
}

/// Runs lexgen: this build's binary, or the one `LEXGEN_E2E_BIN` names
/// (to time a release build against the same setup).
fn lexgen(args: &[&str], env: &[(&str, &str)]) -> Output {
    let bin = std::env::var_os("LEXGEN_E2E_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_lexgen")));
    let mut cmd = Command::new(bin);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    eprintln!(
        "$ lexgen {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A record type, its view and a query returning views: refs inside the
/// set and into the official set (strongRef, profileViewBasic).
fn bookmark_set(authority: &str) -> Vec<serde_json::Value> {
    vec![
        json!({
            "lexicon": 1,
            "id": format!("{authority}.bookmark"),
            "defs": {"main": {
                "type": "record", "key": "tid",
                "record": {"type": "object", "required": ["subject", "createdAt"], "properties": {
                    "subject": {"type": "ref", "ref": "com.atproto.repo.strongRef"},
                    "tags": {"type": "array", "maxLength": 8,
                             "items": {"type": "ref", "ref": format!("{authority}.defs#tag")}},
                    "createdAt": {"type": "string", "format": "datetime"}
                }}
            }}
        }),
        json!({
            "lexicon": 1,
            "id": format!("{authority}.defs"),
            "defs": {
                "tag": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "maxLength": 64}
                }},
                "bookmarkView": {"type": "object", "required": ["uri", "subject"], "properties": {
                    "uri": {"type": "string", "format": "at-uri"},
                    "subject": {"type": "ref", "ref": "com.atproto.repo.strongRef"},
                    "author": {"type": "ref", "ref": "app.bsky.actor.defs#profileViewBasic"},
                    "tags": {"type": "array", "items": {"type": "ref", "ref": "#tag"}}
                }}
            }
        }),
        json!({
            "lexicon": 1,
            "id": format!("{authority}.getBookmarks"),
            "defs": {"main": {
                "type": "query",
                "parameters": {"type": "params", "required": ["actor"], "properties": {
                    "actor": {"type": "string", "format": "at-identifier"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}
                }},
                "output": {"encoding": "application/json", "schema": {
                    "type": "object", "required": ["bookmarks"], "properties": {
                        "bookmarks": {"type": "array", "items": {
                            "type": "ref", "ref": format!("{authority}.defs#bookmarkView")}}
                    }
                }}
            }}
        }),
    ]
}

struct Setup {
    dns: String,
    plc: String,
    did: String,
    handle: String,
    src: PathBuf,
}

/// Publishes `docs` as a fresh account and starts a DNS server naming it
/// for each authority (those without documents too).
fn publish(pds: &Pds, docs: &[serde_json::Value], authorities: &[&str]) -> Setup {
    let (handle, did) = create_account(pds, "lex");
    let src = temp_dir(&format!("src-{}", handle.replace('.', "-")));
    for d in docs {
        write_doc(&src, d);
    }
    let env = [
        ("LEXGEN_IDENTIFIER", handle.as_str()),
        ("LEXGEN_PASSWORD", PASSWORD),
    ];
    let args = ["publish", src.to_str().unwrap(), "--pds", pds.url.as_str()];
    let out = lexgen(&args, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches("published ").count(), docs.len());
    let has_docs = |a: &str| {
        docs.iter()
            .any(|d| d["id"].as_str().unwrap().starts_with(&format!("{a}.")))
    };
    for a in authorities.iter().filter(|a| has_docs(a)) {
        let domain: Vec<&str> = a.split('.').rev().collect();
        let line = format!("_lexicon.{} TXT \"did={did}\"", domain.join("."));
        assert!(stdout(&out).contains(&line), "{line} in\n{}", stdout(&out));
    }
    // The password never shows.
    assert!(!stdout(&out).contains(PASSWORD) && !stderr(&out).contains(PASSWORD));
    let mut records = HashMap::new();
    for a in authorities {
        let domain: Vec<&str> = a.split('.').rev().collect();
        records.insert(
            format!("_lexicon.{}", domain.join(".")),
            vec![format!("did={did}")],
        );
    }
    Setup {
        dns: dns_server(records),
        plc: pds.plc.clone(),
        did,
        handle,
        src,
    }
}

fn install(setup: &Setup, dir: &Path, extra: &[&str]) -> Output {
    let lexicons = dir.join("lexicons");
    let manifest = dir.join("lexicons.json");
    let mut args = vec![
        "install",
        "--lexicons",
        lexicons.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--plc",
        setup.plc.as_str(),
        "--dns",
        setup.dns.as_str(),
        "--allow-private-hosts",
    ];
    args.extend_from_slice(extra);
    lexgen(&args, &[])
}

#[test]
fn publish_then_install_with_verified_proofs() {
    let Some(pds) = Pds::shared() else { return };
    let authority = "com.example.lexe2e";
    let docs = bookmark_set(authority);
    // An authority whose TXT record names the account, which publishes
    // nothing under it.
    let empty = "com.example.lexempty";
    let setup = publish(pds, &docs, &[authority, empty]);

    // Publishing again changes nothing.
    let env = [
        ("LEXGEN_IDENTIFIER", setup.handle.as_str()),
        ("LEXGEN_PASSWORD", PASSWORD),
    ];
    let args = [
        "publish",
        setup.src.to_str().unwrap(),
        "--pds",
        pds.url.as_str(),
    ];
    let out = lexgen(&args, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).matches("unchanged ").count(),
        3,
        "{}",
        stdout(&out)
    );

    let dir = temp_dir("install");
    // Install the query: its ref into defs is followed, the official ones
    // (strongRef, profileViewBasic) are not installed.
    let query = format!("{authority}.getBookmarks");
    let out = install(&setup, &dir, &[query.as_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest_text = std::fs::read_to_string(dir.join("lexicons.json")).unwrap();
    let manifest = Manifest::parse(&manifest_text).unwrap();
    assert_eq!(manifest.to_json(), manifest_text, "stable formatting");
    assert_eq!(manifest.lexicons.iter().collect::<Vec<_>>(), [&query]);
    let installed: Vec<&String> = manifest.resolutions.keys().collect();
    assert_eq!(
        installed,
        [
            &format!("{authority}.defs"),
            &format!("{authority}.getBookmarks")
        ]
    );
    for (nsid, r) in &manifest.resolutions {
        assert_eq!(
            r.uri,
            format!("at://{}/{SCHEMA_COLLECTION}/{nsid}", setup.did)
        );
        let path = dir
            .join("lexicons")
            .join(nsid.replace('.', "/"))
            .with_extension("json");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(document_cid(&doc).unwrap().to_string(), r.cid, "{nsid}");
        let original = docs.iter().find(|d| d["id"] == nsid.as_str()).unwrap();
        let mut expected = original.clone();
        expected["$type"] = json!(SCHEMA_COLLECTION);
        assert_eq!(doc, expected, "{nsid}");
    }
    assert!(!dir.join("lexicons/com/atproto").exists());
    assert!(!dir.join("lexicons/app").exists());

    // The installed set generates code, official refs resolved by lexgen.
    let out_dir = dir.join("generated");
    let lexicons = dir.join("lexicons");
    let out = lexgen(
        &[
            "generate",
            "--lexicons",
            lexicons.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // Installing again from the manifest alone keeps what is on disk.
    let out = install(&setup, &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches("kept ").count(), 2, "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join("lexicons.json")).unwrap(),
        manifest_text
    );

    // --ci needs no network when everything matches: a DNS server and PLC
    // directory that do not exist are never asked.
    let ci = |dir: &Path| {
        let lexicons = dir.join("lexicons");
        let manifest = dir.join("lexicons.json");
        lexgen(
            &[
                "install",
                "--ci",
                "--lexicons",
                lexicons.to_str().unwrap(),
                "--manifest",
                manifest.to_str().unwrap(),
                "--dns",
                "127.0.0.1:9",
                "--plc",
                "http://127.0.0.1:9",
            ],
            &[],
        )
    };
    assert!(ci(&dir).status.success());
    // An edited file fails --ci, named.
    let defs = dir.join("lexicons/com/example/lexe2e/defs.json");
    let text = std::fs::read_to_string(&defs).unwrap();
    std::fs::write(
        &defs,
        text.replace("\"maxLength\": 64", "\"maxLength\": 65"),
    )
    .unwrap();
    let out = ci(&dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(defs.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("does not match its manifest CID"));
    // A plain install does not overwrite the edit: it names the file.
    let out = install(&setup, &dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(defs.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("--update replaces it"),
        "{}",
        stderr(&out)
    );
    assert!(std::fs::read_to_string(&defs)
        .unwrap()
        .contains("\"maxLength\": 65"));
    // --update fetches it again and --ci passes.
    let out = install(&setup, &dir, &["--update"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(ci(&dir).status.success());

    // PREFIX.* installs everything the authority publishes under it.
    let all = temp_dir("prefix");
    let pattern = format!("{authority}.*");
    let out = install(&setup, &all, &[pattern.as_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = Manifest::parse(&std::fs::read_to_string(all.join("lexicons.json")).unwrap()).unwrap();
    assert_eq!(m.lexicons.len(), 3);
    assert_eq!(m.resolutions.len(), 3);

    // An AT-URI names the repository itself: no DNS server is asked.
    let by_uri = temp_dir("uri");
    // (defs refers only to itself and to the official set.)
    let uri = format!("at://{}/{SCHEMA_COLLECTION}/{authority}.defs", setup.did);
    let no_dns = Setup {
        dns: "127.0.0.1:9".into(),
        plc: setup.plc.clone(),
        did: setup.did.clone(),
        handle: setup.handle.clone(),
        src: setup.src.clone(),
    };
    let out = install(&no_dns, &by_uri, &[uri.as_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m =
        Manifest::parse(&std::fs::read_to_string(by_uri.join("lexicons.json")).unwrap()).unwrap();
    assert_eq!(m.resolutions.len(), 1);
    assert_eq!(m.resolutions[&format!("{authority}.defs")].uri, uri);
    let _ = std::fs::remove_dir_all(&by_uri);

    // An NSID the authority never published: a typed refusal naming it.
    let dir2 = temp_dir("missing");
    let missing = format!("{authority}.nothingHere");
    let out = install(&setup, &dir2, &[missing.as_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("lexicon {missing}: fetch:")),
        "{}",
        stderr(&out)
    );
    assert!(!dir2.join("lexicons.json").exists());
    // A prefix without a TXT record, and one whose authority publishes
    // nothing under it.
    let out = install(&setup, &dir2, &["com.example.nowhere.*"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("lexicon com.example.nowhere.*: dns:"), "{e}");
    let out = install(&setup, &dir2, &["com.example.lexempty.*"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("lexicon com.example.lexempty.*: fetch:"), "{e}");
    assert!(e.contains(&setup.did), "{e}");
    for d in [&setup.src, &dir, &all, &dir2] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Ten documents (one query referring to nine records) installed and
/// verified; prints how long the install took.
#[test]
fn install_ten_documents() {
    let Some(pds) = Pds::shared() else { return };
    let authority = "org.example.tenset";
    let mut docs: Vec<serde_json::Value> = (0..9)
        .map(|i| {
            json!({
                "lexicon": 1,
                "id": format!("{authority}.item{i}"),
                "defs": {"main": {"type": "record", "key": "tid", "record": {
                    "type": "object", "required": ["text"],
                    "properties": {"text": {"type": "string", "maxLength": 300},
                                   "ref": {"type": "ref", "ref": "com.atproto.repo.strongRef"}}
                }}}
            })
        })
        .collect();
    let refs: Vec<String> = (0..9).map(|i| format!("{authority}.item{i}")).collect();
    docs.push(json!({
        "lexicon": 1,
        "id": format!("{authority}.listItems"),
        "defs": {"main": {"type": "query", "output": {"encoding": "application/json", "schema": {
            "type": "object", "properties": {
                "items": {"type": "array", "items": {"type": "union", "refs": refs}}
            }
        }}}}
    }));
    let setup = publish(pds, &docs, &[authority]);
    let dir = temp_dir("ten");
    let root = format!("{authority}.listItems");
    let started = Instant::now();
    let out = install(&setup, &dir, &[root.as_str()]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let m = Manifest::parse(&std::fs::read_to_string(dir.join("lexicons.json")).unwrap()).unwrap();
    assert_eq!(m.resolutions.len(), 10);
    assert_eq!(stdout(&out).matches("installed ").count(), 10);
    eprintln!(
        "lexgen install of 10 documents (resolved, fetched with proofs, verified, written): {} ms",
        took.as_millis()
    );
    let _ = std::fs::remove_dir_all(&setup.src);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run that fails part way (a document installed by AT-URI refers to one
/// whose authority has no `_lexicon` record yet) writes nothing: no file
/// without its manifest entry, which the next run would take for local
/// work and refuse to replace. Once the TXT record is served, the same
/// command installs the whole set.
#[test]
fn a_failed_install_writes_nothing_and_a_rerun_completes_it() {
    let Some(pds) = Pds::shared() else { return };
    let authority = "com.example.lexpartial";
    let docs = bookmark_set(authority);
    // Published, but no DNS server names the account yet.
    let setup = publish(pds, &docs, &[]);
    let dir = temp_dir("partial");
    let uri = format!(
        "at://{}/{SCHEMA_COLLECTION}/{authority}.getBookmarks",
        setup.did
    );
    let out = install(&setup, &dir, &[uri.as_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("lexicon {authority}.defs: dns:")),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.join("lexicons").exists(),
        "a failed run wrote documents"
    );
    assert!(!dir.join("lexicons.json").exists());
    assert!(
        stderr(&out).contains("nothing was written"),
        "{}",
        stderr(&out)
    );

    let domain: Vec<&str> = authority.split('.').rev().collect();
    let served = Setup {
        dns: dns_server(HashMap::from([(
            format!("_lexicon.{}", domain.join(".")),
            vec![format!("did={}", setup.did)],
        )])),
        plc: setup.plc.clone(),
        did: setup.did.clone(),
        handle: setup.handle.clone(),
        src: setup.src.clone(),
    };
    let out = install(&served, &dir, &[uri.as_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = Manifest::parse(&std::fs::read_to_string(dir.join("lexicons.json")).unwrap()).unwrap();
    assert_eq!(m.resolutions.len(), 2); // getBookmarks and the defs it refers to
    let _ = std::fs::remove_dir_all(&setup.src);
    let _ = std::fs::remove_dir_all(&dir);
}
