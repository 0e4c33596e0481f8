//! The `atproto` binary against a hostile server on 127.0.0.1 (raw TCP, no
//! HTTP library): a garbage status line, bytes that are not HTTP, silence,
//! a drip that never finishes the headers, a huge header, a lying
//! `content-length`, an endless body, invalid JSON, deep nesting, an error
//! body on a 200. As the PLC directory (`resolve`) and as the PDS
//! (`repo export`), every case ends in exit code 1 with a short error that
//! starts with `error:`, never a panic, and never a hang: each run is
//! killed, and the test failed, if it outlives its deadline.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
/// A K-256 public key (multibase), the account's `#atproto` key.
const K256: &str = "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";
/// How long any run may take before it counts as a hang; far above the
/// `--timeout 2` each run is given.
const DEADLINE: Duration = Duration::from_secs(40);

#[derive(Clone, Copy, Debug)]
enum Hostile {
    GarbageStatusLine,
    NotHttp,
    Silent,
    Drip,
    HugeHeader,
    LyingLength,
    StalledBody,
    EndlessBody,
    InvalidJson,
    DeepNesting,
    ErrorOn200,
}

const ALL: [Hostile; 11] = [
    Hostile::GarbageStatusLine,
    Hostile::NotHttp,
    Hostile::Silent,
    Hostile::Drip,
    Hostile::HugeHeader,
    Hostile::LyingLength,
    Hostile::StalledBody,
    Hostile::EndlessBody,
    Hostile::InvalidJson,
    Hostile::DeepNesting,
    Hostile::ErrorOn200,
];

/// Reads the request head (up to a blank line, at most 64 KiB) and returns
/// its path.
fn request_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace().nth(1).map(str::to_owned)
}

fn ok_json(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers like `mode`, for as long as the client keeps reading.
fn misbehave(stream: &mut TcpStream, mode: Hostile) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(60)));
    match mode {
        Hostile::GarbageStatusLine => {
            let _ = stream.write_all(b"HTTP/1.1 2OO Okay-ish\r\nfoo\r\n\r\n{}");
        }
        Hostile::NotHttp => {
            let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
            let _ = stream.write_all(&junk);
        }
        Hostile::Silent => std::thread::sleep(DEADLINE * 2),
        Hostile::Drip => {
            let start = Instant::now();
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
            while start.elapsed() < DEADLINE * 2 {
                if stream.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        Hostile::HugeHeader => {
            let mut r = b"HTTP/1.1 200 OK\r\nx-huge: ".to_vec();
            r.extend(std::iter::repeat_n(b'a', 4 << 20));
            r.extend(b"\r\ncontent-length: 2\r\n\r\n{}");
            let _ = stream.write_all(&r);
        }
        Hostile::LyingLength => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{\"id\":",
            );
        }
        Hostile::StalledBody => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"id\":",
            );
            std::thread::sleep(DEADLINE * 2);
        }
        Hostile::EndlessBody => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            );
            let chunk = format!("4000\r\n{}\r\n", "[".repeat(0x4000));
            while stream.write_all(chunk.as_bytes()).is_ok() {}
        }
        Hostile::InvalidJson => {
            let _ = stream.write_all(&ok_json("{not json, \u{1}"));
        }
        Hostile::DeepNesting => {
            let _ = stream.write_all(&ok_json(&"[".repeat(50_000)));
        }
        Hostile::ErrorOn200 => {
            let _ = stream.write_all(&ok_json(
                r#"{"error":"InternalServerError","message":"but the status says 200"}"#,
            ));
        }
    }
}

/// A hostile server: as a PLC directory it misbehaves (`pds_too` false), or
/// it serves a valid DID document naming itself as the PDS and misbehaves
/// as that PDS (`pds_too` true). Returns its URL.
fn start(mode: Hostile, pds_too: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let me = url.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let me = me.clone();
            std::thread::spawn(move || {
                let Some(path) = request_path(&mut stream) else {
                    return;
                };
                if pds_too && path == format!("/{DID}") {
                    let doc = serde_json::json!({
                        "@context": ["https://www.w3.org/ns/did/v1"],
                        "id": DID,
                        "alsoKnownAs": [],
                        "verificationMethod": [{
                            "id": format!("{DID}#atproto"),
                            "type": "Multikey",
                            "controller": DID,
                            "publicKeyMultibase": K256
                        }],
                        "service": [{
                            "id": "#atproto_pds",
                            "type": "AtprotoPersonalDataServer",
                            "serviceEndpoint": me
                        }]
                    });
                    let _ = stream.write_all(&ok_json(&doc.to_string()));
                } else {
                    misbehave(&mut stream, mode);
                }
            });
        }
    });
    url
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the binary, killing it (and failing) if it outlives the deadline.
fn run(args: &[String]) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_atproto"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs the binary");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`atproto {}` hung: killed after {DEADLINE:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        took: start.elapsed(),
    }
}

fn assert_clean_failure(what: &str, r: &Run, context: &[&str]) {
    assert_eq!(r.code, Some(1), "{what}: exit code; stderr: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{what}: {}", r.stderr);
    assert!(
        context.iter().any(|c| first.contains(c)),
        "{what}: the first line names the step ({context:?}): {}",
        r.stderr
    );
    // Short: nothing of what the server sent is echoed in bulk.
    assert!(
        r.stderr.len() < 2048,
        "{what}: {} bytes of stderr",
        r.stderr.len()
    );
    assert!(
        r.stderr.lines().all(|l| l.len() < 512),
        "{what}: {}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{what}: {}", r.stdout);
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Each case in a thread of its own, so that the timeouts overlap.
fn each_mode(f: impl Fn(Hostile) + Send + Sync + Copy + 'static) {
    let threads: Vec<_> = ALL
        .into_iter()
        .map(|mode| (mode, std::thread::spawn(move || f(mode))))
        .collect();
    let mut failed = Vec::new();
    for (mode, t) in threads {
        if let Err(e) = t.join() {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failed.push(format!("{mode:?}: {msg}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn resolve_against_a_hostile_plc_directory_fails_cleanly() {
    each_mode(|mode| {
        let plc = start(mode, false);
        let r = run(&args(&[
            "resolve",
            DID,
            "--plc",
            &plc,
            "--allow-private-hosts",
            "--timeout",
            "2",
        ]));
        assert_clean_failure(&format!("{mode:?}"), &r, &[&format!("resolving {DID}")]);
        eprintln!("resolve, {mode:?}:\n{}", r.stderr);
        assert!(r.took < Duration::from_secs(20), "{mode:?}: {:?}", r.took);
    });
}

#[test]
fn repo_export_from_a_hostile_pds_fails_cleanly() {
    each_mode(|mode| {
        let server = start(mode, true);
        let dir =
            std::env::temp_dir().join(format!("atmo-cli-hostile-{}-{mode:?}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let car = dir.join("repo.car");
        // Global options before the command, as the usage allows.
        let r = run(&args(&[
            "--plc",
            &server,
            "--allow-private-hosts",
            "--timeout",
            "2",
            "--max-size",
            "1M",
            "repo",
            "export",
            DID,
            "-o",
            car.to_str().unwrap(),
        ]));
        assert_clean_failure(
            &format!("{mode:?}"),
            &r,
            &[
                "fetching the repository",
                "reading the repository",
                "is not a valid repository",
            ],
        );
        assert!(r.took < Duration::from_secs(20), "{mode:?}: {:?}", r.took);
        assert!(!car.exists(), "{mode:?}: no file is left under the name");
        eprintln!("repo export, {mode:?}:\n{}", r.stderr);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// The firehose against a hostile server: each connection attempt fails
/// (or times out), and with `--max-attempts` the command ends with the
/// reason instead of reconnecting forever.
#[test]
fn firehose_against_a_hostile_service_gives_up_cleanly() {
    each_mode(|mode| {
        let service = start(mode, false);
        let r = run(&args(&[
            "firehose",
            "--service",
            &service,
            "--timeout",
            "1",
            "--max-attempts",
            "2",
        ]));
        assert_eq!(r.code, Some(1), "{mode:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{mode:?}: {}", r.stderr);
        let last = r
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default();
        assert!(
            last.contains("the firehose ended"),
            "{mode:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("gave up after 2"),
            "{mode:?}: {}",
            r.stderr
        );
        assert!(r.stderr.len() < 4096, "{mode:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{mode:?}: {}", r.stdout);
        eprintln!("firehose, {mode:?}:\n{}", r.stderr);
    });
}

/// A `.test` handle that does not resolve: the error names the options a
/// local development PDS needs.
#[test]
fn a_test_handle_that_fails_to_resolve_hints_at_the_local_dev_flags() {
    let plc = start(Hostile::InvalidJson, false);
    let r = run(&args(&[
        "repo",
        "export",
        "alice.test",
        "--plc",
        &plc,
        "--timeout",
        "2",
    ]));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(first.contains("resolving alice.test"), "{}", r.stderr);
    assert!(first.contains("--pds URL"), "{}", r.stderr);
    assert!(first.contains("--allow-private-hosts"), "{}", r.stderr);
    assert!(!first.contains("--plc URL"), "given already: {}", r.stderr);

    // A DID, or a handle under a public domain, gets no such hint.
    let r = run(&args(&["resolve", DID, "--plc", &plc, "--timeout", "2"]));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(!r.stderr.contains("--pds"), "{}", r.stderr);
}

#[test]
fn bad_timeout_and_size_values_are_usage_errors() {
    for a in [
        &["resolve", DID, "--timeout", "0"][..],
        &["resolve", DID, "--timeout", "soon"][..],
        &["resolve", DID, "--timeout", "inf"][..],
        &["repo", "export", DID, "--max-size", "lots"][..],
        &["repo", "export", DID, "--max-size", "0"][..],
        &["repo", "export", DID, "--max-size", "99999999999G"][..],
        &["--timeout"][..],
    ] {
        let r = run(&args(a));
        assert_eq!(r.code, Some(2), "{a:?}: {}", r.stderr);
        assert!(r.stderr.contains("usage:"), "{a:?}");
    }
}
