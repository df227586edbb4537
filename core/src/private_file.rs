//! Private files replaced atomically — the one way aadtoken writes the Oracle token file and the
//! persistent user-token cache: a new file created beside the target (`O_EXCL|O_NOFOLLOW`, mode
//! 0600 whatever the umask), written, `fsync`ed, renamed over the target, then the directory
//! `fsync`ed, so a reader sees the old contents or the new, never a partial file. And the one
//! way aadtoken takes a cross-process lock on a lock file ([`lock`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// A `File` error: "{what}: {e}".
pub fn file_error(what: String, e: &io::Error) -> Error {
    Error::new(ErrorKind::File, format!("{what}: {e}"))
}

/// An `UnsafePath` error: a path aadtoken refuses to use (a link, the wrong owner, too open).
pub fn unsafe_path(what: String) -> Error {
    Error::new(ErrorKind::UnsafePath, what)
}

/// [`create_temp`] beside `target` (in `dir`, named after `target`'s file name, else
/// `fallback`); a failure is a `File` error "could not create a file {place}".
pub fn create_temp_beside(
    target: &Path,
    dir: &Path,
    fallback: &str,
    place: impl FnOnce() -> String,
) -> Result<(PathBuf, File)> {
    let base = target
        .file_name()
        .map_or_else(|| fallback.to_owned(), |n| n.to_string_lossy().into_owned());
    create_temp(dir, &base).map_err(|e| file_error(format!("could not create a file {}", place()), &e))
}

/// A new, empty, private temporary file in `dir`, named after `base` (a unique name per call).
pub fn create_temp(dir: &Path, base: &str) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{base}.aadtoken-{}-{n}.tmp", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Write `contents` into the temporary file from [`create_temp`] and rename it over `target`
/// (in `dir`). On failure the temporary file is removed and `target` is untouched.
pub fn commit(tmp_path: &Path, tmp: File, contents: &[u8], target: &Path, dir: &Path) -> io::Result<()> {
    publish(tmp_path, tmp, contents, dir, || fs::rename(tmp_path, target))
}

/// Like [`commit`], but never replaces an existing `target`: `Ok(false)` when it exists (the
/// temporary file is removed; the caller reads the one in place). For a file several processes
/// may create at once and must all agree on.
pub fn commit_new(
    tmp_path: &Path,
    tmp: File,
    contents: &[u8],
    target: &Path,
    dir: &Path,
) -> io::Result<bool> {
    let linked = publish(tmp_path, tmp, contents, dir, || fs::hard_link(tmp_path, target));
    let _ = fs::remove_file(tmp_path);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Write, make exactly 0600, `fsync`, then `place` the temporary file (rename or link).
fn publish(
    tmp_path: &Path,
    mut tmp: File,
    contents: &[u8],
    dir: &Path,
    place: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let written = tmp
        .write_all(contents)
        // The umask may have taken bits away at creation; make the mode exactly 0600.
        .and_then(|()| tmp.set_permissions(fs::Permissions::from_mode(0o600)))
        .and_then(|()| tmp.sync_all())
        .and_then(|()| place());
    drop(tmp);
    if let Err(e) = written {
        let _ = fs::remove_file(tmp_path);
        return Err(e);
    }
    // Make the rename durable. Some file systems cannot fsync a directory; the file is in place
    // either way.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Which kind of advisory lock [`lock`] takes. Both are released by the kernel when their
/// holder dies, so a crash never leaves a lock behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// `flock(2)`: belongs to the open file; threads of one process exclude each other.
    /// (Used by the person sign-in's `cache_file`.)
    #[cfg_attr(not(feature = "signin"), allow(dead_code))]
    File,
    /// A POSIX record lock (`fcntl(F_SETLK)`) over the whole file: belongs to the process, so a
    /// child forked while it is held does not hold it too (a `flock` would be shared through the
    /// inherited descriptor and outlive its holder's release). Closing any descriptor of the file
    /// in the process releases it, and it does not exclude threads of one process: for files
    /// only one task of a process locks at a time.
    Process,
}

/// A held lock; released when dropped (the descriptor is closed).
pub struct FileLock {
    _file: File,
}

/// How often a busy lock is tried again.
const LOCK_POLL: Duration = Duration::from_millis(10);

/// Open (creating it 0600, never through a symbolic link) the lock file `path` and take an
/// exclusive lock of `kind` on it, waiting at most `wait`: `Ok(None)` when it stayed busy.
///
/// The lock counts only while `path` still names the file it was taken on: a holder may remove
/// the lock file (the host cache's sweep does, for a key it removes), and whoever was waiting on
/// the removed file then opens the path again and locks that file instead.
pub async fn lock(path: &Path, kind: LockKind, wait: Duration) -> io::Result<Option<FileLock>> {
    let started = tokio::time::Instant::now();
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        loop {
            let op = rustix::fs::FlockOperation::NonBlockingLockExclusive;
            let taken = match kind {
                LockKind::File => rustix::fs::flock(&file, op),
                LockKind::Process => rustix::fs::fcntl_lock(&file, op),
            };
            match taken {
                Ok(()) => break,
                Err(e)
                    if e == rustix::io::Errno::WOULDBLOCK
                        || e == rustix::io::Errno::AGAIN
                        || e == rustix::io::Errno::ACCESS
                        || e == rustix::io::Errno::INTR =>
                {
                    if started.elapsed() >= wait {
                        return Ok(None);
                    }
                    tokio::time::sleep(LOCK_POLL).await;
                }
                Err(e) => return Err(io::Error::from(e)),
            }
        }
        if is_at(&file, path) {
            return Ok(Some(FileLock { _file: file }));
        }
        // Removed (or replaced) while this process waited: closing releases the stale lock.
    }
}

/// Whether `path` (not followed) is the open `file`.
fn is_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// A new private (0700) directory for a test, unique in the process.
#[cfg(test)]
pub fn test_dir(label: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("aadtoken-{label}-{}-{n}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_file_removed_by_its_holder_is_not_locked_by_the_next() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let d = test_dir("lockgone");
        let path = d.join("k.lock");
        rt.block_on(async {
            // flock: two descriptors of one process exclude each other.
            let held = lock(&path, LockKind::File, Duration::ZERO)
                .await
                .unwrap()
                .unwrap();
            let waiter = tokio::spawn({
                let path = path.clone();
                async move { lock(&path, LockKind::File, Duration::from_secs(10)).await }
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
            fs::remove_file(&path).unwrap();
            drop(held);
            let got = waiter.await.unwrap().unwrap().expect("the waiter gets a lock");
            assert!(
                is_at(&got._file, &path),
                "on the file now at the path, not the removed one"
            );
        });
    }
}
