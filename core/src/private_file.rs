//! Private files replaced atomically — the one way aadtoken writes the Oracle token file and the
//! persistent user-token cache: a new file created beside the target (`O_EXCL|O_NOFOLLOW`, mode
//! 0600 whatever the umask), written, `fsync`ed, renamed over the target, then the directory
//! `fsync`ed, so a reader sees the old contents or the new, never a partial file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
pub fn commit(tmp_path: &Path, mut tmp: File, contents: &[u8], target: &Path, dir: &Path) -> io::Result<()> {
    let written = tmp
        .write_all(contents)
        // The umask may have taken bits away at creation; make the mode exactly 0600.
        .and_then(|()| tmp.set_permissions(fs::Permissions::from_mode(0o600)))
        .and_then(|()| tmp.sync_all())
        .and_then(|()| fs::rename(tmp_path, target));
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
