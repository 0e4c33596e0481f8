//! Processes sharing one session file: the file store's lock is the
//! operating system's, so it holds across processes and dies with its
//! holder. The test binary runs itself as the child processes (the `child`
//! test, selected by an environment variable; without it, it does nothing).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use atmo_client::store::SessionStore;
use atmo_client::{CredentialSession, FileStore, StoreErrorKind};
use common::*;

const MODE: &str = "ATPROTO_TEST_CHILD_MODE";
const FILE: &str = "ATPROTO_TEST_CHILD_FILE";
const URL: &str = "ATPROTO_TEST_CHILD_URL";

/// How long the parent waits for a child's line before failing (a bound
/// so that a broken child fails the test instead of hanging it).
const PATIENCE: Duration = Duration::from_secs(60);

/// The child processes' side. `refresh`: resume the stored session, say
/// `READY`, wait for `go` on stdin, refresh, print the refresh token it
/// ends with. `hold`: take the file's lock, say `LOCKED`, and wait to be
/// killed.
#[tokio::test]
async fn child() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    let file = PathBuf::from(std::env::var(FILE).unwrap());
    let store = FileStore::new(&file);
    match mode.as_str() {
        "refresh" => {
            let saved = store.load().await.unwrap().expect("a stored session");
            let session = CredentialSession::builder(std::env::var(URL).unwrap())
                .session_store(store)
                .build()
                .unwrap();
            session.resume(saved).await.unwrap();
            println!("CHILD READY");
            let mut go = String::new();
            std::io::stdin().read_line(&mut go).unwrap();
            let now = session.refresh().await.unwrap();
            println!("CHILD RESULT {}", now.refresh_jwt.expose());
        }
        "hold" => {
            let _lock = store.lock().await.unwrap();
            println!("CHILD LOCKED");
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// A child process running `mode`, and what its stdout lines say after
/// `CHILD `.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(mode: &str, file: &Path, url: &str) -> Proc {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child", "--exact", "--nocapture", "--test-threads=1"])
            .env(MODE, mode)
            .env(FILE, file)
            .env(URL, url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                // libtest may print `test child ... ` before it.
                if let Some((_, rest)) = line.split_once("CHILD ") {
                    if tx.send(rest.to_owned()).is_err() {
                        return;
                    }
                }
            }
        });
        let stdin = child.stdin.take();
        Proc {
            child,
            stdin,
            lines,
        }
    }

    /// The child's next line, waited for off the async runtime (the mock
    /// server the child talks to runs on it).
    fn next_line(&self) -> String {
        tokio::task::block_in_place(|| self.lines.recv_timeout(PATIENCE))
            .expect("the child process said nothing")
    }

    fn go(&mut self) {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }

    fn finish(mut self) {
        let status = tokio::task::block_in_place(|| self.child.wait()).unwrap();
        assert!(status.success(), "child failed: {status}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_file(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atproto-procs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("session.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_sharing_a_file_refresh_once() {
    let fake = Fake::new();
    // A slow refresh, so that the other processes are waiting for the lock
    // while it runs rather than arriving after it.
    *fake.refresh_delay.lock().unwrap() = Duration::from_millis(300);
    let mock = fake_server(&fake).await;
    let file = temp_file("refresh");

    // Signed in once; every process starts from the saved session.
    let first = CredentialSession::builder(&mock.url)
        .session_store(FileStore::new(&file))
        .build()
        .unwrap();
    first
        .login(&atmo_client::Login::new(DID, PASSWORD))
        .await
        .unwrap();
    let saved_refresh = first.session().unwrap().refresh_jwt;

    let mut procs: Vec<Proc> = (0..4)
        .map(|_| Proc::spawn("refresh", &file, &mock.url))
        .collect();
    for p in &procs {
        assert_eq!(p.next_line(), "READY");
    }
    for p in &mut procs {
        p.go();
    }
    let results: Vec<String> = procs.iter().map(Proc::next_line).collect();
    for p in procs {
        p.finish();
    }

    assert_eq!(
        mock.count("com.atproto.server.refreshSession"),
        1,
        "exactly one refresh reaches the server"
    );
    let now = fake.refresh.lock().unwrap().clone().unwrap();
    assert_ne!(now, saved_refresh.expose());
    for r in &results {
        assert_eq!(
            r,
            &format!("RESULT {now}"),
            "every process ends with the new session"
        );
    }
    let stored = FileStore::new(&file).load().await.unwrap().unwrap();
    assert_eq!(stored.refresh_jwt.expose(), now);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_releases_the_lock() {
    let file = temp_file("killed");
    let mut holder = Proc::spawn("hold", &file, "");
    assert_eq!(holder.next_line(), "LOCKED");

    // Held across processes while the holder lives.
    let err = FileStore::new(&file)
        .lock_timeout(Duration::from_millis(200))
        .lock()
        .await
        .unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::LockTimeout, "{err}");

    // SIGKILL: no destructor runs, the kernel releases the lock.
    holder.child.kill().unwrap();
    tokio::task::block_in_place(|| holder.child.wait()).unwrap();
    let lock = FileStore::new(&file)
        .lock_timeout(Duration::from_secs(5))
        .lock()
        .await;
    assert!(
        lock.is_ok(),
        "the lock of a killed process is free: {lock:?}"
    );
}
