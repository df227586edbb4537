//! Client assertions issued by someone else (workload identity federation): the application
//! sends a JWT it did not sign, as `client_assertion`, and Entra ID checks it against the app's
//! federated credentials.
//!
//! * `assertion_file` (AKS: `AZURE_FEDERATED_TOKEN_FILE`): the file is re-read when its size or
//!   modification time changes, and at least every 5 minutes (Kubernetes rotates it).
//! * A host callback (`aadtoken_config_set_assertion_callback`): asked for an assertion before
//!   every token request, on a blocking-pool thread (it may take its time without stalling the
//!   library's worker).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use zeroize::Zeroizing;

use crate::config::{AssertionProvider, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::SecretString;

/// A cached file assertion is read again after this, even when the file looks unchanged.
pub const FILE_REREAD: Duration = Duration::from_secs(300);
/// Largest assertion accepted (a federated token is a few kilobytes).
pub(crate) const MAX_ASSERTION: u64 = 64 * 1024;

#[derive(Clone)]
pub enum AssertionSource {
    File(Arc<FileAssertion>),
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

pub struct FileAssertion {
    path: PathBuf,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    modified: Option<SystemTime>,
    len: u64,
    read_at: Instant,
    value: SecretString,
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
        Ok(AssertionSource::File(Arc::new(FileAssertion {
            path,
            cached: Mutex::new(None),
        })))
    }

    /// Tells sources apart in cache keys: the file's path, or the callback's identity.
    pub fn source_id(&self) -> String {
        match self {
            AssertionSource::File(f) => format!("file:{}", f.path.display()),
            AssertionSource::Callback(cb) => format!("callback:{:x}", cb.id()),
        }
    }

    /// The current assertion.
    pub async fn assertion(&self) -> Result<SecretString> {
        match self {
            AssertionSource::File(f) => f.read(),
            AssertionSource::Callback(cb) => {
                let cb = Arc::clone(cb);
                tokio::task::spawn_blocking(move || cb.assertion())
                    .await
                    .map_err(|_| Error::internal("the assertion callback panicked"))?
            }
        }
    }
}

impl FileAssertion {
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
        let (modified, len) = (meta.modified().ok(), meta.len());
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached.as_ref() {
            if c.modified == modified && c.len == len && c.read_at.elapsed() < FILE_REREAD {
                return Ok(c.value.clone());
            }
        }
        if len > MAX_ASSERTION {
            return Err(file_error(format!("is larger than {MAX_ASSERTION} bytes")));
        }
        let bytes = Zeroizing::new(
            std::fs::read(&self.path).map_err(|e| file_error(format!("cannot be read: {e}")))?,
        );
        let text = std::str::from_utf8(&bytes).map_err(|_| file_error("is not UTF-8 text".into()))?;
        let value = text.trim();
        if value.is_empty() {
            return Err(file_error("is empty".into()));
        }
        if value.split('.').count() != 3 || value.chars().any(|c| c.is_whitespace()) {
            return Err(file_error(
                "does not hold a JWT (three base64url parts separated by '.')".into(),
            ));
        }
        let value = SecretString::new(value);
        *cached = Some(Cached {
            modified,
            len,
            read_at: Instant::now(),
            value: value.clone(),
        });
        Ok(value)
    }
}
