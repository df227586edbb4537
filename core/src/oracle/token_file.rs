//! The token file read by Oracle clients configured with `TOKEN_AUTH=OAUTH` and
//! `TOKEN_LOCATION` (19c/21c Instant Client, ODP.NET, JDBC, python-oracledb thick mode).
//!
//! `TOKEN_LOCATION` is a directory holding a file named `token`, or the file's full path. The
//! file holds the raw access token and nothing else: no trailing newline (Oracle clients fail
//! on one). aadtoken writes it
//!
//! * **atomically**: a new temporary file in the same directory (created exclusively, mode
//!   0600), written, `fsync`ed, then renamed over the old one, so a reader sees the old token
//!   or the new one, never a partial file; the directory is `fsync`ed after the rename;
//! * **mode 0600**: readable only by the user aadtoken runs as, which must be the user the
//!   Oracle client runs as;
//! * **only where it is safe** ([`ErrorKind::UnsafePath`]):
//!   - the location itself (the directory, or the file) must not be a symbolic link: aadtoken
//!     does not write through links (point `TOKEN_LOCATION` at the real path);
//!   - the directory must not be writable by others (mode `o+w`, e.g. `/tmp`), and if it is
//!     group-writable (`g+w`) it must belong to the user aadtoken runs as: anyone who can write
//!     the directory can replace the token, and the database would then see their identity.
//!
//! A directory or file that cannot be read or written is [`ErrorKind::File`].

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::private_file::{self, file_error, unsafe_path};
use crate::token::Token;

/// The file name Oracle clients read inside a `TOKEN_LOCATION` directory.
pub const FILE_NAME: &str = "token";

/// Where the token file goes. Resolve with [`TokenFile::new`], write with [`TokenFile::write`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFile {
    path: PathBuf,
    dir: PathBuf,
}

impl TokenFile {
    /// Resolve a `TOKEN_LOCATION`: an existing directory means the file `token` in it; anything
    /// else is the file's path, in an existing directory. Nothing is created here. The checks of
    /// [`TokenFile::write`] that need no new file (links, a directory others can write) run here
    /// too, so that a refused location costs no token request.
    pub fn new(location: impl AsRef<Path>) -> Result<TokenFile> {
        let file = TokenFile::resolve(location.as_ref()).and_then(|file| file.check().map(|_| file));
        if let Err(e) = &file {
            log_error!(
                "token file location {} refused: {}",
                location.as_ref().display(),
                crate::log::error_summary(e)
            );
        }
        file
    }

    fn resolve(loc: &Path) -> Result<TokenFile> {
        if loc.as_os_str().is_empty() {
            return Err(Error::invalid_argument("location", "is empty"));
        }
        let shown = loc.display();
        match fs::symlink_metadata(loc) {
            Ok(m) if m.file_type().is_symlink() => Err(unsafe_path(format!(
                "the token location '{shown}' is a symbolic link; aadtoken does not write through \
                 links (set TOKEN_LOCATION to the real directory or file)"
            ))),
            Ok(m) if m.is_dir() => Ok(TokenFile {
                path: loc.join(FILE_NAME),
                dir: loc.to_path_buf(),
            }),
            Ok(m) if !m.is_file() => Err(unsafe_path(format!(
                "the token location '{shown}' is neither a directory nor a regular file"
            ))),
            Ok(_) => Ok(TokenFile::in_parent(loc)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if loc.as_os_str().to_string_lossy().ends_with('/') {
                    return Err(file_error(
                        format!("the token directory '{shown}' does not exist"),
                        &e,
                    ));
                }
                let file = TokenFile::in_parent(loc);
                match fs::metadata(&file.dir) {
                    Ok(m) if m.is_dir() => Ok(file),
                    Ok(_) => Err(Error::new(
                        ErrorKind::File,
                        format!(
                            "'{}' (the token file's directory) is not a directory",
                            file.dir.display()
                        ),
                    )),
                    Err(e) => Err(file_error(
                        format!(
                            "the token file's directory '{}' cannot be used",
                            file.dir.display()
                        ),
                        &e,
                    )),
                }
            }
            Err(e) => Err(file_error(
                format!("the token location '{shown}' cannot be used"),
                &e,
            )),
        }
    }

    fn in_parent(file: &Path) -> TokenFile {
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        TokenFile {
            path: file.to_path_buf(),
            dir,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory that holds it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write `token` (its bytes only, no newline) atomically with mode 0600.
    pub fn write(&self, token: &Token) -> Result<()> {
        let result = self.write_bytes(token.secret().as_bytes());
        match &result {
            Ok(()) => log_info!(
                "token file written: {} ({} bytes, mode 0600; token expires at {})",
                self.path.display(),
                token.len(),
                token.expires_on()
            ),
            Err(e) => log_error!(
                "token file {} not written: {}",
                self.path.display(),
                crate::log::error_summary(e)
            ),
        }
        result
    }

    /// Write `contents` as [`TokenFile::write`] does.
    pub fn write_bytes(&self, contents: &[u8]) -> Result<()> {
        let dir_meta = self.check()?;
        let mode = dir_meta.mode();
        let (tmp_path, tmp) = self.create_temp()?;
        // The temporary file is ours, so its owner is the user we run as.
        let me = match tmp.metadata() {
            Ok(m) => m.uid(),
            Err(e) => {
                drop(tmp);
                let _ = fs::remove_file(&tmp_path);
                return Err(self.write_error(&e));
            }
        };
        if mode & 0o020 != 0 && dir_meta.uid() != me {
            drop(tmp);
            let _ = fs::remove_file(&tmp_path);
            return Err(unsafe_path(format!(
                "the token directory '{}' is group-writable (mode {:03o}) and belongs to uid {}, \
                 not to the user running aadtoken (uid {me}): group members could replace the token",
                self.dir.display(),
                mode & 0o7777,
                dir_meta.uid()
            )));
        }
        private_file::commit(&tmp_path, tmp, contents, &self.path, &self.dir)
            .map_err(|e| self.write_error(&e))
    }

    /// The directory exists and others cannot write it, and the file is not a link: the
    /// directory's metadata.
    fn check(&self) -> Result<fs::Metadata> {
        let dir_meta = fs::metadata(&self.dir).map_err(|e| {
            file_error(
                format!("the token directory '{}' cannot be used", self.dir.display()),
                &e,
            )
        })?;
        let mode = dir_meta.mode();
        if mode & 0o002 != 0 {
            return Err(unsafe_path(format!(
                "the token directory '{}' is writable by other users (mode {:03o}): anyone could \
                 replace the token; use a directory only you (or your group, in a directory you own) \
                 can write",
                self.dir.display(),
                mode & 0o7777
            )));
        }
        match fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(unsafe_path(format!(
                    "the token file '{}' is a symbolic link; aadtoken does not write through links",
                    self.path.display()
                )))
            }
            Ok(m) if !m.is_file() => {
                return Err(unsafe_path(format!(
                    "'{}' exists and is not a regular file",
                    self.path.display()
                )))
            }
            _ => {}
        }
        Ok(dir_meta)
    }

    fn write_error(&self, e: &io::Error) -> Error {
        file_error(
            format!("could not write the token file '{}'", self.path.display()),
            e,
        )
    }

    /// A new, empty, exclusive temporary file next to the target (never follows a link).
    fn create_temp(&self) -> Result<(PathBuf, File)> {
        private_file::create_temp_beside(&self.path, &self.dir, FILE_NAME, || {
            format!("in the token directory '{}'", self.dir.display())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> PathBuf {
        private_file::test_dir("tf")
    }

    #[test]
    fn directory_or_file_location() {
        let d = tempdir();
        let f = TokenFile::new(&d).unwrap();
        assert_eq!(f.path(), d.join("token"));
        f.write_bytes(b"abc").unwrap();
        assert_eq!(fs::read(d.join("token")).unwrap(), b"abc");
        assert_eq!(fs::metadata(d.join("token")).unwrap().mode() & 0o777, 0o600);
        let g = TokenFile::new(d.join("other")).unwrap();
        assert_eq!((g.path(), g.dir()), (d.join("other").as_path(), d.as_path()));
        g.write_bytes(b"x").unwrap();
        // An existing file is a file location, and it is replaced.
        let g = TokenFile::new(d.join("other")).unwrap();
        g.write_bytes(b"yz").unwrap();
        assert_eq!(fs::read(d.join("other")).unwrap(), b"yz");
        let leftovers: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_directory_and_bad_locations() {
        let d = tempdir();
        let e = TokenFile::new(d.join("nope/token")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::File);
        assert!(e.message().contains("nope"), "{}", e.message());
        let e = TokenFile::new(format!("{}/nope/", d.display())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::File);
        assert_eq!(TokenFile::new("").unwrap_err().kind(), ErrorKind::InvalidArgument);
        fs::remove_dir_all(&d).unwrap();
    }
}
