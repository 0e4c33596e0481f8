//! A session store in one JSON file.

use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
/// [`SessionStore::lock`] takes the operating system's advisory lock
/// (`flock` on Unix, `LockFileEx` on Windows) on `<file>.lock`, so processes
/// sharing the file do not refresh the same token concurrently. The kernel
/// releases the lock when its holder exits, however it exits, so a process
/// that died holding it never blocks the others and no lock is ever judged
/// stale and taken over. The lock file itself is empty and stays next to
/// the session file. Only processes that lock the same way are kept out:
/// the lock is advisory.
///
/// On Unix the permission and owner checks are made on the opened file, the
/// one then read, so the file cannot be swapped between check and read.
///
/// File operations are small and synchronous; waiting for the lock polls it
/// and never blocks the async runtime.
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

/// How long [`SessionStore::lock`] waits by default: longer than a refresh
/// can take at the transport's default timeout (60 s), so that a process
/// waiting for another's refresh adopts its result instead of failing.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(90);

/// The longest pause between two attempts to take the lock.
const LOCK_POLL: Duration = Duration::from_millis(25);

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
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
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

    /// How long [`SessionStore::lock`] waits for another process to release
    /// the lock (default [`DEFAULT_LOCK_TIMEOUT`]).
    pub fn lock_timeout(mut self, t: Duration) -> Self {
        self.lock_timeout = t;
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes, `None` when there is no file. With `check`, the
    /// permissions and owner of the opened file are checked before it is
    /// read (see [`FileStore::check_permissions`]).
    fn read_file(&self, check: bool) -> Result<Option<Vec<u8>>, StoreError> {
        let io = |e: std::io::Error| StoreError::at(&self.path, StoreErrorKind::Io, e);
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        if check {
            self.check_file_permissions(&file)?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        Ok(Some(bytes))
    }

    fn with_path(&self, mut e: StoreError) -> StoreError {
        e.path = Some(self.path.clone());
        e
    }

    fn load_sync(&self) -> Result<Option<T>, StoreError>
    where
        T: DeserializeOwned,
    {
        let Some(bytes) = self.read_file(self.check_permissions)? else {
            return Ok(None);
        };
        Self::parse_as(&bytes)
            .map(Some)
            .map_err(|e| self.with_path(e))
    }

    /// Refuses an opened session file that other users can access or that
    /// another user owns.
    #[cfg(unix)]
    fn check_file_permissions(&self, file: &File) -> Result<(), StoreError> {
        use std::os::unix::fs::MetadataExt;
        let meta = file
            .metadata()
            .map_err(|e| StoreError::at(&self.path, StoreErrorKind::Io, e))?;
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
    fn check_file_permissions(&self, _file: &File) -> Result<(), StoreError> {
        Ok(())
    }

    fn save_sync(&self, session: &T) -> Result<(), StoreError>
    where
        T: Serialize + DeserializeOwned,
    {
        // Never replace what could not be read: the caller clears it first.
        if let Some(bytes) = self.read_file(false).map_err(refuse_overwrite)? {
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

    /// The file [`SessionStore::lock`] locks: the session file's path with
    /// `.lock` appended.
    pub fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    async fn lock_async(&self) -> Result<StoreLock, StoreError> {
        let path = self.lock_path();
        let mut opts = std::fs::OpenOptions::new();
        // Never truncated: other processes may hold it open.
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts
            .open(&path)
            .map_err(|e| StoreError::at(&path, StoreErrorKind::Io, e))?;
        // No deadline when the timeout is too large to add to the clock.
        let deadline = tokio::time::Instant::now().checked_add(self.lock_timeout);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(StoreLock::new(HeldLock(file))),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => {
                    return Err(StoreError::at(&path, StoreErrorKind::Io, e))
                }
            }
            let pause = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        return Err(StoreError::at(
                            &path,
                            StoreErrorKind::LockTimeout,
                            format!(
                                "another process held the session lock for longer than {} s",
                                self.lock_timeout.as_secs_f64()
                            ),
                        ));
                    }
                    left.min(LOCK_POLL)
                }
                None => LOCK_POLL,
            };
            tokio::time::sleep(pause).await;
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

/// The open lock file while its lock is held; closing it (on drop)
/// releases the lock.
struct HeldLock(#[allow(dead_code)] File);

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
