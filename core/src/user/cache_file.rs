//! The persistent user-token cache (`cache_file`): accounts and their refresh tokens, kept so
//! that a person signs in once, not once per process.
//!
//! * The file holds refresh tokens — that is its purpose — so it must be private: it is created
//!   with mode 0600, and one that other users can read or write, or that belongs to another
//!   user, or a symbolic link, is refused (`UnsafePath`) and left untouched. Its directory must
//!   not be writable by others (unless sticky, like `/tmp`).
//! * Written atomically: a new file (0600, `O_EXCL|O_NOFOLLOW`) beside it, `fsync`, `rename`.
//! * Guarded across processes by an exclusive `flock` of `<cache_file>.lock` (the data file is
//!   replaced by rename, so it cannot carry the lock itself); readers and writers re-read the
//!   file under the lock.
//! * Versioned: `{"format":"aadtoken-user-cache","version":1,"accounts":[…]}`. Unknown or
//!   garbled content is an error (`File`) that leaves the file untouched — aadtoken never
//!   overwrites a file it does not understand.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
pub use crate::private_file::FileLock;
use crate::private_file::{self, file_error, unsafe_path, LockKind};
use crate::secret::SecretString;

use super::account::Account;

const FORMAT: &str = "aadtoken-user-cache";
/// The format version this build reads and writes.
pub(crate) const VERSION: u64 = 1;
/// A cache file larger than this is not one of ours.
const MAX_SIZE: u64 = 4 << 20;

#[derive(Serialize, Deserialize)]
struct Stored {
    authority: String,
    client_id: String,
    home_account_id: String,
    username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    tenant_id: String,
    refresh_token: String,
    updated_on: i64,
}

#[derive(Deserialize)]
struct Document {
    accounts: Vec<Stored>,
}

/// A checked cache file path.
#[derive(Debug)]
pub struct CacheFile {
    path: PathBuf,
    dir: PathBuf,
    lock_path: PathBuf,
}

impl CacheFile {
    /// Check the directory and, when the file exists, its owner, permissions and content.
    pub fn open(path: &Path) -> Result<CacheFile> {
        let name = path.file_name().ok_or_else(|| {
            Error::invalid_setting("cache_file", format!("'{}' does not name a file", path.display()))
        })?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut lock_name = name.to_os_string();
        lock_name.push(".lock");
        let f = CacheFile {
            path: path.to_path_buf(),
            lock_path: dir.join(lock_name),
            dir,
        };
        f.check_dir()?;
        f.load()?;
        Ok(f)
    }

    /// The cache file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_dir(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.dir).map_err(|e| {
            file_error(
                format!(
                    "the directory of cache_file '{}' cannot be used",
                    self.path.display()
                ),
                &e,
            )
        })?;
        if !meta.is_dir() {
            return Err(Error::new(
                ErrorKind::File,
                format!(
                    "'{}' (the directory of cache_file) is not a directory",
                    self.dir.display()
                ),
            ));
        }
        let mode = meta.permissions().mode();
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(unsafe_path(format!(
                "the directory of cache_file '{}' can be written by other users (mode {:o}), who could replace the file",
                self.path.display(),
                mode & 0o7777
            )));
        }
        Ok(())
    }

    /// The accounts in the file (none when it does not exist yet). Refuses, and leaves
    /// untouched, a file that is not private to this user or not an aadtoken cache.
    pub fn load(&self) -> Result<Vec<Account>> {
        let shown = self.path.display();
        let meta = match std::fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(file_error(format!("cannot read cache_file '{shown}'"), &e)),
        };
        if meta.file_type().is_symlink() {
            return Err(unsafe_path(format!(
                "cache_file '{shown}' is a symbolic link; give the real path (aadtoken left it untouched)"
            )));
        }
        if !meta.is_file() {
            return Err(unsafe_path(format!("cache_file '{shown}' is not a regular file")));
        }
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(unsafe_path(format!(
                "cache_file '{shown}' belongs to another user (uid {}, not {me}); it holds refresh tokens, so aadtoken \
                 uses only its own (aadtoken left it untouched)",
                meta.uid()
            )));
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(unsafe_path(format!(
                "cache_file '{shown}' can be read or written by other users (mode {mode:o}); it holds refresh tokens: \
                 `chmod 600 {shown}` (aadtoken left it untouched)"
            )));
        }
        if meta.len() > MAX_SIZE {
            return Err(self.garbled("it is too large"));
        }
        let mut text = Zeroizing::new(Vec::new());
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)
            .and_then(|mut f| f.read_to_end(&mut text))
            .map_err(|e| file_error(format!("cannot read cache_file '{shown}'"), &e))?;
        if text.is_empty() {
            return Err(self.garbled("it is empty"));
        }
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|_| self.garbled("it is not JSON"))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(self.garbled(&format!("it has no \"format\":\"{FORMAT}\"")));
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(VERSION) => {}
            Some(v) => {
                return Err(Error::new(
                    ErrorKind::File,
                    format!(
                        "cache_file '{shown}' has version {v}, which this aadtoken (version {VERSION}) does not read: \
                         it was written by another aadtoken release; aadtoken left it untouched (use another cache_file \
                         with this release)"
                    ),
                ))
            }
            None => return Err(self.garbled("it has no version")),
        }
        let doc: Document =
            serde_json::from_value(value).map_err(|_| self.garbled("its accounts are malformed"))?;
        Ok(doc
            .accounts
            .into_iter()
            .map(|s| Account {
                authority: s.authority,
                client_id: s.client_id,
                home_account_id: s.home_account_id,
                username: s.username,
                name: s.name,
                tenant_id: s.tenant_id,
                refresh_token: SecretString::new(s.refresh_token),
                updated_on: s.updated_on,
            })
            .collect())
    }

    fn garbled(&self, why: &str) -> Error {
        Error::new(
            ErrorKind::File,
            format!(
                "cache_file '{}' is not an aadtoken user-token cache ({why}); aadtoken left it untouched: \
                 move it away or point cache_file elsewhere",
                self.path.display()
            ),
        )
    }

    /// Take the exclusive cross-process lock, waiting at most `wait`.
    pub async fn lock(&self, wait: Duration) -> Result<FileLock> {
        let lock = private_file::lock(&self.lock_path, LockKind::File, wait)
            .await
            .map_err(|e| file_error(format!("cannot lock '{}'", self.lock_path.display()), &e))?;
        lock.ok_or_else(|| {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "another process held the lock of cache_file '{}' ({}) for longer than timeout_ms={}",
                    self.path.display(),
                    self.lock_path.display(),
                    wait.as_millis()
                ),
            )
        })
    }

    /// Replace the file with `accounts`, atomically (call with the lock held, after `load`).
    pub fn save(&self, accounts: &[Account]) -> Result<()> {
        let stored: Vec<serde_json::Value> = accounts
            .iter()
            .map(|a| {
                serde_json::json!({
                    "authority": a.authority,
                    "client_id": a.client_id,
                    "home_account_id": a.home_account_id,
                    "username": a.username,
                    "name": a.name,
                    "tenant_id": a.tenant_id,
                    "refresh_token": a.refresh_token.expose(),
                    "updated_on": a.updated_on,
                })
            })
            .collect();
        let doc = serde_json::json!({"format": FORMAT, "version": VERSION, "accounts": stored});
        let bytes =
            Zeroizing::new(serde_json::to_vec_pretty(&doc).map_err(|e| Error::internal(e.to_string()))?);
        let write_error =
            |e: &io::Error| file_error(format!("could not write cache_file '{}'", self.path.display()), e);
        let (tmp, file) = self.create_temp()?;
        private_file::commit(&tmp, file, &bytes, &self.path, &self.dir).map_err(|e| write_error(&e))
    }

    fn create_temp(&self) -> Result<(PathBuf, File)> {
        private_file::create_temp_beside(&self.path, &self.dir, "", || {
            format!("beside cache_file '{}'", self.path.display())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        private_file::test_dir("cachefile")
    }

    fn account(rt: &str) -> Account {
        Account {
            authority: "https://h/t".into(),
            client_id: "c".into(),
            home_account_id: "u.t".into(),
            username: "a@x".into(),
            name: Some("A".into()),
            tenant_id: "t".into(),
            refresh_token: SecretString::new(rt),
            updated_on: 5,
        }
    }

    #[test]
    fn round_trip_with_mode_0600() {
        let path = dir().join("cache.json");
        let f = CacheFile::open(&path).unwrap();
        assert!(f.load().unwrap().is_empty(), "a missing file is an empty cache");
        f.save(&[account("rt-1")]).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let back = CacheFile::open(&path).unwrap().load().unwrap();
        assert_eq!(back[0].refresh_token.expose(), "rt-1");
        assert_eq!(back[0].home_account_id, "u.t");
    }

    #[test]
    fn garbled_newer_and_loose_files_are_refused_and_untouched() {
        let d = dir();
        for (content, needle) in [
            (&b"not json"[..], "not JSON"),
            (br#"{"format":"other","version":1,"accounts":[]}"#, "format"),
            (
                br#"{"format":"aadtoken-user-cache","version":9,"accounts":[]}"#,
                "version 9",
            ),
            (
                br#"{"format":"aadtoken-user-cache","version":1,"accounts":[{"x":1}]}"#,
                "malformed",
            ),
        ] {
            let path = d.join("c.json");
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let e = CacheFile::open(&path).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::File, "{}", e.message());
            assert!(e.message().contains(needle), "{}", e.message());
            assert_eq!(std::fs::read(&path).unwrap(), content, "left untouched");
        }
        let path = d.join("loose.json");
        CacheFile::open(&path).unwrap().save(&[account("x")]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = CacheFile::open(&path).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsafePath);
        assert!(e.message().contains("mode 644"), "{}", e.message());
        let link = d.join("link.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(CacheFile::open(&link).unwrap_err().kind(), ErrorKind::UnsafePath);
    }
}
