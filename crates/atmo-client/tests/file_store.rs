//! The session file store against damaged and hostile files, and a crash in
//! the middle of a save.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use atmo_client::{AtpAgent, Error, FileStore, SessionData, SessionStore, StoreErrorKind};

fn session(n: u32) -> SessionData {
    serde_json::from_value(serde_json::json!({
        "accessJwt": format!("ACCESS-{n}"),
        "refreshJwt": format!("REFRESH-{n}"),
        "handle": "alice.test",
        "did": "did:plc:alice0000000000000000000",
        "active": true,
    }))
    .unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atproto-fs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Writes `bytes` as an owner-only file, as the store itself would.
fn plant(path: &Path, bytes: &[u8]) {
    let _ = std::fs::remove_file(path);
    std::fs::write(path, bytes).unwrap();
    #[cfg(unix)]
    chmod(path, 0o600);
}

#[tokio::test]
async fn damaged_files_are_clear_errors_and_never_overwritten() {
    let dir = temp_dir("damaged");
    let path = dir.join("session.json");
    let store = FileStore::new(&path);
    let cases: [(&str, &[u8], &str); 9] = [
        ("empty", b"", "the file is empty"),
        ("blank", b"  \n", "the file is empty"),
        ("truncated", br#"{"accessJwt":"ACCESS-1","refreshJwt":"REF"#, "truncated JSON"),
        ("html", b"<html>oops</html>", "not JSON"),
        ("binary", &[0xff, 0xfe, 0x00, 0x01], "not JSON"),
        ("null", b"null", "not a session"),
        ("array", b"[1,2]", "not a session"),
        ("wrong shape", br#"{"user":"alice","token":"x"}"#, "missing field `accessJwt`"),
        (
            // A token in a field of another type: serde would quote it.
            "wrong type",
            br#"{"accessJwt":"ACCESS-1","refreshJwt":"REFRESH-1","handle":"h","did":"did:plc:x","active":"LEAKED-REFRESH-TOKEN"}"#,
            "not a session",
        ),
    ];
    for (name, bytes, needle) in cases {
        plant(&path, bytes);
        let e = store.load().await.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Corrupt, "{name}");
        let shown = e.to_string();
        assert!(shown.contains(needle), "{name}: {shown}");
        assert!(shown.contains("session.json"), "{name}: {shown}");
        assert!(shown.contains("left untouched"), "{name}: {shown}");
        assert!(!shown.contains("LEAKED"), "{name}: {shown}");
        assert!(!format!("{e:?}").contains("LEAKED"), "{name}");
        // The pure parser says the same, without a path.
        let p = FileStore::parse(bytes).unwrap_err();
        assert_eq!(p.kind, StoreErrorKind::Corrupt);
        assert!(p.to_string().contains(needle), "{name}: {p}");
        // Saving over it is refused, the file stays as it was.
        let e = store.save(&session(1)).await.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Corrupt, "{name}");
        assert!(e.to_string().contains("not overwritten"), "{name}: {e}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}");
        // So is an agent's login or refresh saving into it: resume says why.
        let agent = AtpAgent::builder("https://bsky.social")
            .session_store(FileStore::new(&path))
            .build()
            .unwrap();
        assert!(matches!(
            agent.resume_from_store().await,
            Err(Error::Session(atmo_client::SessionError::Store(_)))
        ));
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}");
    }
    // The caller's say: clear, then save.
    store.clear().await.unwrap();
    store.save(&session(2)).await.unwrap();
    assert_eq!(store.load().await.unwrap(), Some(session(2)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[tokio::test]
async fn files_other_users_can_read_are_refused() {
    let dir = temp_dir("perms");
    let path = dir.join("session.json");
    let store = FileStore::new(&path);
    store.save(&session(1)).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    let original = std::fs::read(&path).unwrap();
    for m in [0o644, 0o640, 0o604, 0o660, 0o666] {
        chmod(&path, m);
        let e = store.load().await.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Insecure, "{m:o}");
        let shown = e.to_string();
        assert!(shown.contains(&format!("mode {m:o}")), "{shown}");
        assert!(shown.contains("chmod 600"), "{shown}");
        assert_eq!(std::fs::read(&path).unwrap(), original);
        assert_eq!(mode(&path), m, "load does not change permissions");
    }
    // Opting out reads it.
    let lax = FileStore::new(&path).check_permissions(false);
    assert_eq!(lax.load().await.unwrap(), Some(session(1)));
    // Saving replaces it with an owner-only file; then it loads.
    store.save(&session(2)).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(store.load().await.unwrap(), Some(session(2)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[tokio::test]
async fn files_owned_by_another_user_are_refused() {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self").map(|m| m.uid());
    if me.as_ref().ok() != Some(&0) {
        eprintln!("skipped: changing a file's owner needs root");
        return;
    }
    let dir = temp_dir("owner");
    let path = dir.join("session.json");
    let store = FileStore::new(&path);
    store.save(&session(1)).await.unwrap();
    std::os::unix::fs::chown(&path, Some(4242), Some(4242)).unwrap();
    let e = store.load().await.unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Insecure);
    assert!(e.to_string().contains("owned by user 4242"), "{e}");
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), 4242);
    let _ = std::fs::remove_dir_all(&dir);
}

const CHILD_ENV: &str = "ATPROTO_STORE_CRASH_CHILD";

/// The child half of the crash test: saves session 2 and stops for good
/// after the temporary file is written, before the rename, writing the
/// temporary file's path to `<session>.reached`.
fn crash_child(path: &str) {
    atmo_session::store::testing::set_before_rename_hook(|tmp| {
        let session = std::env::var(CHILD_ENV).unwrap();
        let marker = format!("{session}.reached");
        std::fs::write(format!("{marker}.part"), tmp.to_string_lossy().as_bytes()).unwrap();
        std::fs::rename(format!("{marker}.part"), marker).unwrap();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(FileStore::new(path).save(&session(2))).unwrap();
    unreachable!("the hook never returns");
}

/// A process killed (SIGKILL) between writing the new session and renaming
/// it over the old one leaves the old session intact; the next load and
/// save work; the stray temporary file is ignored, then removed by that save.
#[test]
fn save_killed_between_write_and_rename_keeps_old_session() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        crash_child(&path);
        return;
    }
    let dir = temp_dir("crash");
    let path = dir.join("session.json");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = FileStore::new(&path);
    rt.block_on(store.save(&session(1))).unwrap();
    let old = std::fs::read(&path).unwrap();

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "save_killed_between_write_and_rename_keeps_old_session",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let marker = dir.join("session.json.reached");
    let mut waited = 0;
    while !marker.exists() && waited < 600 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    if !marker.exists() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the child never reached the point between write and rename");
    }
    let tmp = PathBuf::from(std::fs::read_to_string(&marker).unwrap());
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    // The new session was completely written, but not put in place.
    assert_eq!(
        FileStore::parse(&std::fs::read(&tmp).unwrap()).unwrap(),
        session(2)
    );

    assert_eq!(std::fs::read(&path).unwrap(), old);
    assert_eq!(rt.block_on(store.load()).unwrap(), Some(session(1)));
    assert!(
        tmp.exists(),
        "the stray temporary file is left, and ignored"
    );
    rt.block_on(store.save(&session(3))).unwrap();
    assert_eq!(rt.block_on(store.load()).unwrap(), Some(session(3)));
    #[cfg(target_os = "linux")]
    assert!(
        !tmp.exists(),
        "the next save removes what the killed process left (it holds tokens)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
