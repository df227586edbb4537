//! Client assertions issued by someone else (workload identity federation): the application
//! sends a JWT it did not sign, as `client_assertion`, and Entra ID checks it against the app's
//! federated credentials.
//!
//! * `assertion_file` (AKS: `AZURE_FEDERATED_TOKEN_FILE`): the file is read before every token
//!   request (a few kilobytes, next to a network round trip), so a rotation is noticed whatever
//!   it changes: Kubernetes swaps a symlink (a new inode), a writer may keep the size, a coarse
//!   clock may keep the modification time.
//! * A host callback (`aadtoken_config_set_assertion_callback`): asked for an assertion before
//!   every token request, on a blocking-pool thread (it may take its time without stalling the
//!   library's worker).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::config::{AssertionProvider, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::SecretString;

/// Largest assertion accepted (a federated token is a few kilobytes).
pub(crate) const MAX_ASSERTION: u64 = 64 * 1024;

/// What is wrong with an assertion, whichever source it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Problem {
    Empty,
    TooLarge,
    NotJwt,
}

impl Problem {
    /// The end of "setting 'assertion_file' names '…', which …".
    fn in_file(self) -> String {
        match self {
            Problem::Empty => "is empty".to_owned(),
            Problem::TooLarge => format!("is larger than {MAX_ASSERTION} bytes"),
            Problem::NotJwt => "does not hold a JWT (three base64url parts separated by '.')".to_owned(),
        }
    }

    /// The message of a callback's bad assertion.
    fn in_callback(self) -> String {
        let what = match self {
            Problem::Empty => "an empty assertion".to_owned(),
            Problem::TooLarge => format!("an assertion larger than {MAX_ASSERTION} bytes"),
            Problem::NotJwt => {
                "something that is not a JWT (three base64url parts separated by '.')".to_owned()
            }
        };
        format!("the client-assertion callback returned {what}")
    }
}

/// The one check of an assertion, from a file or from the host: at most [`MAX_ASSERTION`]
/// bytes, and once trimmed not empty and shaped like a JWT (three `.`-separated parts, no
/// whitespace). The trimmed value.
fn check(text: &str) -> std::result::Result<&str, Problem> {
    if text.len() as u64 > MAX_ASSERTION {
        return Err(Problem::TooLarge);
    }
    let value = text.trim();
    if value.is_empty() {
        return Err(Problem::Empty);
    }
    if value.split('.').count() != 3 || value.chars().any(char::is_whitespace) {
        return Err(Problem::NotJwt);
    }
    Ok(value)
}

/// Where the client assertions come from.
#[derive(Clone)]
pub enum AssertionSource {
    /// `assertion_file`, read before every token request.
    File(Arc<FileAssertion>),
    /// The host's callback, asked before every token request.
    Callback(Arc<dyn AssertionProvider>),
}

impl fmt::Debug for AssertionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssertionSource::File(file) => f.debug_tuple("File").field(&file.path).finish(),
            AssertionSource::Callback(_) => f.write_str("Callback"),
        }
    }
}

/// An assertion file.
pub struct FileAssertion {
    path: PathBuf,
}

impl AssertionSource {
    /// The host's callback when one is set, else `assertion_file`.
    pub fn from_config(config: &Config) -> Result<AssertionSource> {
        if let Some(cb) = &config.assertion_callback {
            return Ok(AssertionSource::Callback(Arc::clone(cb)));
        }
        let path = config.assertion_file.clone().ok_or_else(|| {
            Error::missing_setting(
                "assertion_file",
                "for auth_method=client_assertion (or set an assertion callback; on AKS, AZURE_FEDERATED_TOKEN_FILE)",
            )
        })?;
        Ok(AssertionSource::File(Arc::new(FileAssertion { path })))
    }

    /// Tells sources apart in cache keys: the file's path, or the callback's identity.
    pub fn source_id(&self) -> String {
        match self {
            AssertionSource::File(f) => format!("file:{}", f.path.display()),
            AssertionSource::Callback(cb) => format!("callback:{:x}", cb.id()),
        }
    }

    /// The current assertion, checked (see [`check`]): a bad one from the file is a `File`
    /// error naming `assertion_file`, a bad one from the host a `Callback` error.
    pub async fn assertion(&self) -> Result<SecretString> {
        match self {
            AssertionSource::File(f) => f.read(),
            AssertionSource::Callback(cb) => {
                let cb = Arc::clone(cb);
                let got = tokio::task::spawn_blocking(move || cb.assertion())
                    .await
                    .map_err(|_| Error::internal("the assertion callback panicked"))??;
                let value =
                    check(got.expose()).map_err(|p| Error::new(ErrorKind::Callback, p.in_callback()))?;
                Ok(SecretString::new(value))
            }
        }
    }
}

impl FileAssertion {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<SecretString> {
        let file_error = |what: String| {
            Error::new(
                ErrorKind::File,
                format!(
                    "setting 'assertion_file' names '{}', which {what}",
                    self.path.display()
                ),
            )
        };
        let meta = std::fs::metadata(&self.path).map_err(|e| file_error(format!("cannot be read: {e}")))?;
        // Not even read when it is too large.
        if meta.len() > MAX_ASSERTION {
            return Err(file_error(Problem::TooLarge.in_file()));
        }
        let bytes = Zeroizing::new(
            std::fs::read(&self.path).map_err(|e| file_error(format!("cannot be read: {e}")))?,
        );
        let text = std::str::from_utf8(&bytes).map_err(|_| file_error("is not UTF-8 text".into()))?;
        let value = check(text).map_err(|p| file_error(p.in_file()))?;
        Ok(SecretString::new(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str);

    impl AssertionProvider for Fixed {
        fn assertion(&self) -> Result<SecretString> {
            Ok(SecretString::new(self.0))
        }
        fn id(&self) -> u64 {
            1
        }
    }

    fn from_callback(text: &'static str) -> Result<SecretString> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(AssertionSource::Callback(Arc::new(Fixed(text))).assertion())
    }

    #[test]
    fn callback_assertions_are_checked_like_file_ones() {
        assert_eq!(from_callback(" a.b.c \n").unwrap().expose(), "a.b.c");
        let large: &'static str =
            Box::leak(format!("a.b.{}", "c".repeat(MAX_ASSERTION as usize)).into_boxed_str());
        for (bad, says) in [
            ("", "an empty assertion"),
            (" \n\t", "an empty assertion"),
            ("not-a-jwt", "not a JWT"),
            ("a.b c.d", "not a JWT"),
            ("a.b", "not a JWT"),
            (large, "larger than"),
        ] {
            let e = from_callback(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Callback, "{bad:.20}");
            assert!(
                e.message().starts_with("the client-assertion callback returned"),
                "{}",
                e.message()
            );
            assert!(e.message().contains(says), "{}", e.message());
        }
    }

    /// An `assertion_file` holding `text`, in a new test folder `label` (removed by the caller).
    fn file_holding(label: &str, text: &str) -> (std::path::PathBuf, FileAssertion) {
        let dir = crate::private_file::test_dir(label);
        let file = FileAssertion {
            path: dir.join("token"),
        };
        std::fs::write(&file.path, text).unwrap();
        (dir, file)
    }

    #[test]
    fn file_assertions_name_the_setting() {
        let (dir, file) = file_holding("assertion", " h.p.s\n");
        assert_eq!(file.read().unwrap().expose(), "h.p.s");
        for (bad, says) in [("  \n", "is empty"), ("one two", "does not hold a JWT")] {
            std::fs::write(&file.path, bad).unwrap();
            let e = file.read().unwrap_err();
            crate::error::assert_error(&e, ErrorKind::File, &["'assertion_file'", says]);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rotation_is_noticed_whatever_the_size_and_time() {
        let (dir, file) = file_holding("assertion-rotation", "a.b.c");
        let stamp = std::fs::metadata(&file.path).unwrap().modified().unwrap();
        assert_eq!(file.read().unwrap().expose(), "a.b.c");
        // The same size, and the same modification time (a coarse clock, or a writer that
        // keeps it).
        std::fs::write(&file.path, "x.y.z").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file.path)
            .unwrap()
            .set_modified(stamp)
            .unwrap();
        assert_eq!(file.read().unwrap().expose(), "x.y.z");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
