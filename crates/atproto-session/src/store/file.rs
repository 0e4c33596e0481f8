//! A session store in one JSON file.

use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{redact_quoted, BoxFuture, SessionStore, StoreError, StoreErrorKind, StoreLock};
use crate::SessionData;

/// A store in one JSON file: for the password session ([`FileStore::new`]),
/// the TypeScript `AtpSessionData` format; any other serializable session
/// type works the same way ([`FileStore::for_type`]).
///
/// Writes are atomic: a temporary file in the same directory is written,
/// flushed to disk, made readable by the owner only (0600 on Unix) and renamed
/// over the old file, so a crash leaves either the old or the new session,
/// never half of one (a crash between writing and renaming leaves only a
/// stray `.<name>.tmp-*` file next to it, which is never read).
///
/// Hostile or damaged files are errors, never panics, and are left as they
/// are:
///
/// - empty, truncated, non-JSON or wrong-shape content is
///   [`StoreErrorKind::Corrupt`], and the message says which (without quoting
///   the file's strings, which may be tokens); [`FileStore::parse`] is that
///   check on its own;
/// - on Unix, a file readable or writable by group or others, or owned by
///   another user, is [`StoreErrorKind::Insecure`] and is not read: a session
///   file holds the refresh token, which is as good as the password until it
///   expires. Like `ssh` with a private key, the store refuses rather than
///   warns (this crate does not log, so a warning would go unseen). Fix it with
///   `chmod 600 <file>`, or opt out with [`FileStore::check_permissions`].
/// - the store never replaces a file it cannot read as a session: `save`
///   over a corrupt or unreadable file fails with the same error. To discard
///   such a file, say so: [`SessionStore::clear`] (or delete the file), then
///   save. A file refused only for its permissions may be replaced: the new
///   one is written with 0600.
///
/// [`SessionStore::lock`] uses a `<file>.lock` file created exclusively, so
/// processes sharing the file do not refresh the same token concurrently. A
/// lock file older than the stale timeout (30 s) is taken over, which covers
/// a process that died holding it.
///
/// File operations are small and synchronous.
#[derive(Debug)]
pub struct FileStore<T = SessionData> {
    path: PathBuf,
    lock_timeout: Duration,
    check_permissions: bool,
    kind: PhantomData<fn() -> T>,
}

impl<T> Clone for FileStore<T> {
    fn clone(&self) -> Self {
        FileStore {
            path: self.path.clone(),
            lock_timeout: self.lock_timeout,
            check_permissions: self.check_permissions,
            kind: PhantomData,
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

const STALE_LOCK: Duration = Duration::from_secs(30);

impl FileStore {
    /// A store of password sessions in the file at `path` (created on first
    /// save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::for_type(path)
    }

    /// Parses the content of a session file: the JSON object TypeScript's
    /// `AtpSessionData` serializes to. This is what `load` applies to the
    /// file's bytes, exposed so it can be tested (and fuzzed) on its own. The
    /// error is [`StoreErrorKind::Corrupt`], says whether the content is
    /// empty, not JSON, cut short or of the wrong shape, and never quotes
    /// string values from the input.
    pub fn parse(bytes: &[u8]) -> Result<SessionData, StoreError> {
        Self::parse_as(bytes)
    }
}

impl<T> FileStore<T> {
    /// A store of `T` sessions in the file at `path` (created on first save).
    pub fn for_type(path: impl Into<PathBuf>) -> Self {
        FileStore {
            path: path.into(),
            lock_timeout: Duration::from_secs(10),
            check_permissions: true,
            kind: PhantomData,
        }
    }

    /// Whether `load` refuses a file that other users can read or write, or
    /// that another user owns (default true; Unix only). Turn off only where
    /// the file system cannot express owner-only permissions.
    pub fn check_permissions(mut self, check: bool) -> Self {
        self.check_permissions = check;
        self
    }

    /// [`FileStore::parse`] for any session type.
    pub fn parse_as<U: DeserializeOwned>(bytes: &[u8]) -> Result<U, StoreError> {
        let corrupt = |m: String| StoreError::new(StoreErrorKind::Corrupt, m);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(corrupt("the file is empty".into()));
        }
        serde_json::from_slice(bytes).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Eof => "truncated JSON",
                serde_json::error::Category::Syntax => "not JSON",
                serde_json::error::Category::Data => "not a session",
                serde_json::error::Category::Io => "unreadable",
            };
            corrupt(format!("{what}: {}", redact_quoted(&e.to_string())))
        })
    }

    /// How long [`SessionStore::lock`] waits (default 10 s).
    pub fn lock_timeout(mut self, t: Duration) -> Self {
        self.lock_timeout = t;
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_file(&self) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(&self.path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::at(&self.path, StoreErrorKind::Io, e)),
        }
    }

    fn with_path(&self, mut e: StoreError) -> StoreError {
        e.path = Some(self.path.clone());
        e
    }

    fn load_sync(&self) -> Result<Option<T>, StoreError>
    where
        T: DeserializeOwned,
    {
        if self.check_permissions {
            self.check_file_permissions()?;
        }
        let Some(bytes) = self.read_file()? else {
            return Ok(None);
        };
        Self::parse_as(&bytes)
            .map(Some)
            .map_err(|e| self.with_path(e))
    }

    #[cfg(unix)]
    fn check_file_permissions(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::at(&self.path, StoreErrorKind::Io, e)),
        };
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::at(
                &self.path,
                StoreErrorKind::Insecure,
                format!(
                    "other users can access it (mode {mode:o}); run `chmod 600 {}` \
                     (and consider logging in again: the tokens may have leaked)",
                    self.path.display()
                ),
            ));
        }
        if let Some(me) = effective_uid() {
            if meta.uid() != me {
                return Err(StoreError::at(
                    &self.path,
                    StoreErrorKind::Insecure,
                    format!(
                        "it is owned by user {}, not by this process's user {me}",
                        meta.uid()
                    ),
                ));
            }
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn check_file_permissions(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn save_sync(&self, session: &T) -> Result<(), StoreError>
    where
        T: Serialize + DeserializeOwned,
    {
        // Never replace what could not be read: the caller clears it first.
        if let Some(bytes) = self.read_file().map_err(refuse_overwrite)? {
            Self::parse_as::<T>(&bytes).map_err(|e| refuse_overwrite(self.with_path(e)))?;
        }
        let io = |e: std::io::Error| StoreError::at(&self.path, StoreErrorKind::Io, e);
        let json = serde_json::to_vec_pretty(session)
            .map_err(|e| StoreError::at(&self.path, StoreErrorKind::Io, e))?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "session".into());
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            drop(f);
            #[cfg(feature = "testing")]
            if let Some(hook) = testing::BEFORE_RENAME.get() {
                hook(&tmp);
            }
            std::fs::rename(&tmp, &self.path)?;
            // Make the rename itself durable (best effort: not every
            // platform can open a directory).
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            sweep_stray_temps(&dir, &name);
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }

    fn clear_sync(&self) -> Result<(), StoreError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::at(&self.path, StoreErrorKind::Io, e)),
        }
    }

    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    async fn lock_async(&self) -> Result<StoreLock, StoreError> {
        let path = self.lock_path();
        let deadline = tokio::time::Instant::now() + self.lock_timeout;
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(StoreLock::new(LockFile(path))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > STALE_LOCK);
                    if stale {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(StoreError::at(
                            &path,
                            StoreErrorKind::LockTimeout,
                            "another process holds the session lock",
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(e) => return Err(StoreError::at(&path, StoreErrorKind::Io, e)),
            }
        }
    }
}

fn refuse_overwrite(mut e: StoreError) -> StoreError {
    e.message = format!(
        "{}; not overwritten: clear the store (or delete the file) to discard it",
        e.message
    );
    e
}

/// The effective user id, read from the owner of `/proc/self` (Linux);
/// `None` elsewhere, where the owner check is skipped. Avoids `unsafe` and a
/// libc dependency for one number.
#[cfg(unix)]
fn effective_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Removes temporary files that a process killed in the middle of a save
/// left behind (they hold tokens). Only files of processes that no longer
/// exist are touched, so a concurrent save by a live process is safe. Where
/// that cannot be told (no `/proc`), nothing is removed.
fn sweep_stray_temps(dir: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Test support (feature `testing`), not part of the API: a hook run by
/// [`FileStore`]'s save after the temporary file is written and synced and
/// before it is renamed over the session file, so that a test can kill the
/// process at exactly that point.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing {
    use std::path::Path;
    use std::sync::OnceLock;

    pub(crate) static BEFORE_RENAME: OnceLock<fn(&Path)> = OnceLock::new();

    /// Installs the hook (once per process).
    pub fn set_before_rename_hook(hook: fn(&Path)) {
        let _ = BEFORE_RENAME.set(hook);
    }
}

struct LockFile(PathBuf);

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl<T> SessionStore<T> for FileStore<T>
where
    T: Serialize + DeserializeOwned + Send + Sync,
{
    fn load(&self) -> BoxFuture<'_, Result<Option<T>, StoreError>> {
        Box::pin(async move { self.load_sync() })
    }
    fn save<'a>(&'a self, session: &'a T) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.save_sync(session) })
    }
    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.clear_sync() })
    }
    fn lock(&self) -> BoxFuture<'_, Result<StoreLock, StoreError>> {
        Box::pin(self.lock_async())
    }
}
