//! `FileStore`'s lock within one process (the cross-process tests, with
//! child processes, are in atmo-client's `session_processes`).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use atmo_session::{FileStore, SessionData, SessionStore, StoreErrorKind};

fn temp_file(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atproto-lock-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("session.json")
}

#[tokio::test]
async fn the_lock_excludes_other_handles_and_is_released_on_drop() {
    let file = temp_file("excl");
    let a = FileStore::new(&file);
    let b = FileStore::new(&file).lock_timeout(Duration::from_millis(100));
    let held = a.lock().await.unwrap();
    let err = b.lock().await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::LockTimeout);
    assert_eq!(err.path.as_deref(), Some(a.lock_path().as_path()));
    drop(held);
    // The lock file stays; locking it again works at once.
    assert!(a.lock_path().exists());
    let again = b.lock().await.unwrap();
    drop(again);
    // A waiter gets the lock as soon as the holder lets go.
    let held = a.lock().await.unwrap();
    let waiter = tokio::spawn(async move {
        FileStore::<SessionData>::new(&file)
            .lock_timeout(Duration::from_secs(30))
            .lock()
            .await
            .map(drop)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(held);
    waiter.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_huge_lock_timeout_waits_instead_of_overflowing() {
    let file = temp_file("huge");
    let held = FileStore::new(&file).lock().await.unwrap();
    let store = FileStore::new(&file).lock_timeout(Duration::MAX);
    // Waits (no deadline can be computed) rather than panicking.
    let waited = tokio::time::timeout(Duration::from_millis(100), store.lock()).await;
    assert!(waited.is_err(), "still waiting for the holder");
    drop(held);
    store.lock().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn the_lock_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let file = temp_file("mode");
    let store = FileStore::new(&file);
    drop(store.lock().await.unwrap());
    let mode = std::fs::metadata(store.lock_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}
