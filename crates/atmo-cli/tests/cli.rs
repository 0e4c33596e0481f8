//! Runs the `atproto` binary: offline commands (cbor, usage errors) and,
//! against the harness's reference PDS, resolve, repo export, repo ls and
//! firehose.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use atmo_api::app::bsky::feed::post::Post;
use atmo_client::AtpAgent;
use atmo_types::Datetime;
use atproto_tests::{unique_handle, Pds};

fn atproto(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atproto"))
        .args(args)
        .output()
        .expect("runs the binary")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atmo-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn cbor_prints_json_and_cid() {
    let file = tmp("ok.cbor");
    // {"a": 1, "bb": [true, null]} in canonical DAG-CBOR.
    std::fs::write(
        &file,
        [0xa2, 0x61, b'a', 0x01, 0x62, b'b', b'b', 0x82, 0xf5, 0xf6],
    )
    .unwrap();
    let out = atproto(&["cbor", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["value"], serde_json::json!({"a": 1, "bb": [true, null]}));
    let cid = v["cid"].as_str().unwrap();
    assert!(cid.starts_with("bafyrei"), "{cid}");
}

#[test]
fn cbor_refuses_non_canonical_input_with_exit_1() {
    let cases: [(&str, &[u8], &str); 3] = [
        ("long-int.cbor", &[0x18, 0x01], "shortest"),
        ("float.cbor", &[0xf9, 0x3c, 0x00], "float"),
        (
            "unsorted.cbor",
            &[0xa2, 0x62, b'b', b'b', 0x01, 0x61, b'a', 0x02],
            "sorts before",
        ),
    ];
    for (name, bytes, why) in cases {
        let file = tmp(name);
        std::fs::write(&file, bytes).unwrap();
        let out = atproto(&["cbor", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = text(&out.stderr).to_lowercase();
        assert!(err.contains("not canonical dag-cbor"), "{name}: {err}");
        assert!(err.contains(why), "{name}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = atproto(&["cbor", "/nonexistent/file.cbor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("caused by"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"][..],
        &["cbor"][..],
        &["repo"][..],
        &["repo", "ls"][..],
        &["firehose", "--cursor", "-3"][..],
        &["firehose", "--cursor"][..],
        &["resolve", "a", "b"][..],
        &["resolve", "alice.test", "--bogus"][..],
    ] {
        let out = atproto(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("usage:"), "{args:?}");
    }
}

#[test]
fn repo_ls_refuses_a_file_that_is_not_a_car() {
    let file = tmp("not.car");
    std::fs::write(&file, b"hello").unwrap();
    let out = atproto(&["repo", "ls", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not a valid repository"));
}

/// Against the harness: a fresh account with two posts is resolved,
/// exported (signature checked by the command), listed as JSON lines, and
/// its posts show up on `atproto firehose` from cursor 0.
#[tokio::test(flavor = "multi_thread")]
async fn resolve_export_ls_and_firehose_against_the_pds() {
    let Some(pds) = Pds::shared() else { return };
    let agent = AtpAgent::builder(&pds.url).build().unwrap();
    let handle = unique_handle("cli");
    let session = agent
        .create_account(atproto_tests::new_account_input(
            &handle,
            "correct-horse-battery",
        ))
        .await
        .expect("createAccount");
    let did = session.did.as_str().to_owned();
    for t in ["cli one", "cli two"] {
        agent
            .create_record(&Post::new(t.to_owned(), Datetime::now()), None)
            .await
            .expect("post");
    }
    // The local development setup: the PDS resolves handles, the PLC
    // directory holds the DID documents, loopback hosts are allowed.
    let net = [
        "--pds",
        &pds.url,
        "--plc",
        &pds.plc,
        "--allow-private-hosts",
    ];

    let mut args = vec!["resolve", handle.as_str()];
    args.extend(net);
    let out = atproto(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["did"], did.as_str());
    assert_eq!(v["handle"], handle.as_str());
    assert_eq!(v["pds"], pds.url.trim_end_matches('/'));
    assert!(v["signingKey"].as_str().unwrap().starts_with("did:key:z"));

    let car = tmp("export.car");
    let mut args = vec!["repo", "export", did.as_str(), "-o", car.to_str().unwrap()];
    args.extend(net);
    let out = atproto(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("signature verified"),
        "{}",
        text(&out.stderr)
    );

    let out = atproto(&["repo", "ls", car.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut posts: Vec<&str> = lines
        .iter()
        .filter(|l| l["collection"] == "app.bsky.feed.post")
        .map(|l| l["value"]["text"].as_str().unwrap())
        .collect();
    posts.sort();
    assert_eq!(posts, ["cli one", "cli two"]);

    // The firehose from the start of the PDS's window, as JSON lines,
    // filtered to posts, verified: both of ours appear, valid.
    let mut child = Command::new(env!("CARGO_BIN_EXE_atproto"))
        .args([
            "firehose",
            "--service",
            &pds.url,
            "--cursor",
            "0",
            "--collection",
            "app.bsky.feed.post",
            "--json",
            "--verify",
            "--plc",
            &pds.plc,
            "--allow-loopback",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let want = did.clone();
    let reader = std::thread::spawn(move || {
        let start = Instant::now();
        let mut found = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            assert_eq!(v["collection"], "app.bsky.feed.post");
            if v["repo"] == want.as_str() {
                assert_eq!(v["check"], "Valid", "{v}");
                found.push(v["record"]["text"].as_str().unwrap_or_default().to_owned());
                if found.len() == 2 || start.elapsed() > Duration::from_secs(60) {
                    break;
                }
            }
        }
        found
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let found = reader.join().unwrap();
    assert_eq!(found, ["cli one", "cli two"]);
}
