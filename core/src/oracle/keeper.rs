//! The token-file keeper: a thread that keeps the `TOKEN_LOCATION` file holding a valid token.
//!
//! [`Keeper::start`] writes the file once on the calling thread (so a wrong location or wrong
//! credentials fail right there), then a thread named `aadtoken-keeper` rewrites it ahead of
//! expiry: when the token reaches its `refresh_on`, or when no more than `expiry_margin_s` is
//! left, whichever comes first. It asks the client with `get_token` (which gives a newer cached
//! token when there is one) and, when that still gives the token already in the file, with
//! `refresh_token`.
//!
//! When renewing fails the file is left as it is (it holds the last good token) and the keeper
//! tries again with exponential backoff (`retry_min` doubling up to `retry_max`, at least the
//! identity provider's `Retry-After`). Every attempt's outcome goes to [`KeeperStatus`] and to
//! the optional [`KeeperOptions::on_event`] observer. The keeper itself never gives up: errors
//! that retrying cannot fix (wrong secret, unknown application, unsafe path…) are flagged as
//! `permanent` in the event, for a host (like the `aadtoken keep` command) that prefers to stop.
//!
//! [`Keeper::stop`] (or dropping the keeper) wakes the thread at once and joins it; a token
//! request already in flight finishes first (bounded by `timeout_ms`).
//!
//! Fork: the thread stays in the process that started it (a forked child gets a copy of the
//! keeper's memory but none of its threads). The parent's keeper goes on keeping the file
//! fresh; in the child the keeper is inert: [`Keeper::status`] says so in `last_error`
//! (`InvalidArgument` naming `keeper`) and [`Keeper::stop`] returns at once, touching neither
//! the parent's thread nor the file (joining a thread of another process, or taking a lock a
//! parent thread held at the fork, would hang the child). The keeper is not restarted in the
//! child: between `fork()` and `exec()` a child of a threaded process may only make
//! async-signal-safe calls (so a fork handler cannot start a thread), and a child that makes no
//! library call gives the library no other moment to act. A process that forks to run in the
//! background (and lets its parent exit) starts its keeper after the fork.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::oracle::token_file::TokenFile;
use crate::token::Token;

/// Default first retry delay after a failed renewal.
pub const DEFAULT_RETRY_MIN: Duration = Duration::from_secs(1);
/// Default longest retry delay.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(60);
/// How long the keeper waits for a background refresh (started by `get_token` on a token past
/// its `refresh_on`) before it forces one.
const BACKGROUND_GRACE: Duration = Duration::from_secs(2);
/// Longest single wait: after a suspend/resume the wall clock has moved on while the monotonic
/// clock has not, so the schedule is re-read at least this often.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Retry-After values beyond this are capped (the keeper must not sleep past expiry for it).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Something that happened to the file, for logs.
#[derive(Debug)]
pub enum KeeperEvent<'a> {
    /// A token was written. Times are Unix seconds.
    Written {
        /// The token file.
        path: &'a Path,
        /// When the written token expires.
        expires_on: i64,
        /// When the keeper will renew it.
        renew_at: i64,
    },
    /// Renewing failed; the file keeps its token (`file_expires_on`, 0 if never written).
    Failed {
        /// The token file.
        path: &'a Path,
        /// Why renewing failed.
        error: &'a Error,
        /// When the keeper tries again.
        retry_in: Duration,
        /// When the token in the file expires.
        file_expires_on: i64,
        /// Retrying with the same settings cannot fix this (see [`is_permanent`]).
        permanent: bool,
    },
}

/// Observer of [`KeeperEvent`]s; runs on the keeper's thread (and once on the starting thread).
pub type EventFn = Arc<dyn Fn(&KeeperEvent<'_>) + Send + Sync>;

/// How a [`Keeper`] runs.
#[derive(Clone)]
pub struct KeeperOptions {
    /// Scopes (space separated); `None` = the client's `scope` setting.
    pub scopes: Option<String>,
    /// The shortest wait before retrying a failed renewal.
    pub retry_min: Duration,
    /// The longest wait before retrying a failed renewal.
    pub retry_max: Duration,
    /// Called with each [`KeeperEvent`] (for logs).
    pub on_event: Option<EventFn>,
}

impl Default for KeeperOptions {
    fn default() -> Self {
        KeeperOptions {
            scopes: None,
            retry_min: DEFAULT_RETRY_MIN,
            retry_max: DEFAULT_RETRY_MAX,
            on_event: None,
        }
    }
}

impl std::fmt::Debug for KeeperOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeeperOptions")
            .field("scopes", &self.scopes)
            .field("retry_min", &self.retry_min)
            .field("retry_max", &self.retry_max)
            .field("on_event", &self.on_event.is_some())
            .finish()
    }
}

/// A snapshot of the keeper's state.
#[derive(Clone, Debug, Default)]
pub struct KeeperStatus {
    /// The error of the last attempt, `None` when it succeeded.
    pub last_error: Option<Error>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Expiry of the token in the file (Unix seconds).
    pub expires_on: i64,
    /// When the file was last written (Unix seconds).
    pub written_on: i64,
    /// How many times the file was written.
    pub writes: u64,
}

/// Errors that retrying with the same settings cannot fix.
pub fn is_permanent(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::InvalidArgument
            | ErrorKind::UnknownSetting
            | ErrorKind::InvalidSetting
            | ErrorKind::MissingSetting
            | ErrorKind::InvalidClient
            | ErrorKind::UnauthorizedClient
            | ErrorKind::InvalidScope
            | ErrorKind::InvalidResource
            | ErrorKind::TenantNotFound
            | ErrorKind::InvalidGrant
            | ErrorKind::InteractionRequired
            | ErrorKind::UnsafePath
    )
}

struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    status: Mutex<KeeperStatus>,
}

impl Shared {
    /// Sleep until `deadline` (wall clock, Unix ms) or a stop. Returns true when stopped.
    fn sleep_until_unix_ms(&self, deadline_ms: i64) -> bool {
        loop {
            let left = deadline_ms - now_ms();
            if left <= 0 {
                return self.stopped();
            }
            let wait = Duration::from_millis(left as u64).min(MAX_WAIT);
            if self.sleep(wait) {
                return true;
            }
        }
    }

    /// Sleep for `d` or until a stop. Returns true when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        let mut stop = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        while !*stop {
            let now = Instant::now();
            if now >= end {
                return false;
            }
            stop = self
                .wake
                .wait_timeout(stop, end - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    fn stopped(&self) -> bool {
        *self.stop.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update<T>(&self, f: impl FnOnce(&mut KeeperStatus) -> T) -> T {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A running keeper. Stop it with [`Keeper::stop`] or by dropping it.
pub struct Keeper {
    shared: Arc<Shared>,
    path: PathBuf,
    thread: Option<JoinHandle<()>>,
    /// The process whose thread keeps the file (see the module comment on fork).
    pid: u32,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

struct Worker {
    client: Client,
    file: TokenFile,
    opts: KeeperOptions,
    margin: Duration,
    shared: Arc<Shared>,
}

impl Keeper {
    /// Write the token file at `location` (a directory, or a file path; see [`TokenFile`]) now,
    /// then keep it fresh from a thread of its own. Fails, starting nothing, when the first
    /// token cannot be obtained or written.
    pub fn start(client: &Client, location: impl AsRef<Path>, opts: KeeperOptions) -> Result<Keeper> {
        let file = TokenFile::new(location)?;
        let shared = Arc::new(Shared {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            status: Mutex::new(KeeperStatus::default()),
        });
        let worker = Worker {
            client: client.clone(),
            margin: client.oracle().expiry_margin(),
            file,
            opts,
            shared: Arc::clone(&shared),
        };
        let first = worker.client.get_token(worker.opts.scopes.as_deref())?;
        worker.write(&first)?;
        let path = worker.file.path().to_path_buf();
        log_info!("keeper: started for {}", path.display());
        let thread = std::thread::Builder::new()
            .name("aadtoken-keeper".into())
            .spawn(move || worker.run(first))
            .map_err(|e| Error::internal(format!("could not start the token-file keeper thread: {e}")))?;
        Ok(Keeper {
            shared,
            path,
            thread: Some(thread),
            pid: std::process::id(),
        })
    }

    /// This process is a fork of the one that started the keeper (whose thread is not here).
    fn forked(&self) -> bool {
        std::process::id() != self.pid
    }

    /// The token file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keeper's current state. In a forked child: the state copied at the fork (if no
    /// thread was updating it then), with `last_error` saying that the keeper runs in the
    /// parent.
    pub fn status(&self) -> KeeperStatus {
        if self.forked() {
            let mut status = match self.shared.status.try_lock() {
                Ok(s) => s.clone(),
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().clone(),
                Err(std::sync::TryLockError::WouldBlock) => KeeperStatus::default(),
            };
            status.last_error = Some(Error::invalid_argument(
                "keeper",
                &format!(
                    "was started by process {} and runs there; this process ({}) is a fork of it and has no keeper \
                     thread, so it does not renew {} (start a keeper after the fork if this process needs one)",
                    self.pid,
                    std::process::id(),
                    self.path.display()
                ),
            ));
            return status;
        }
        self.shared
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stop the thread and wait for it. The file stays in place.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.forked() {
            // The thread is the parent's: nothing to stop or join here, and its locks may
            // have been held at the fork. The handle is forgotten, not dropped (dropping would
            // detach a thread this process does not have).
            std::mem::forget(self.thread.take());
            log_debug!(
                "keeper: stop in a forked child (pid {}) of the process running it (pid {}): nothing to stop here",
                std::process::id(),
                self.pid
            );
            return;
        }
        *self.shared.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
            log_info!("keeper: stopped for {}", self.path.display());
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Worker {
    fn run(self, first: Arc<Token>) {
        let mut written = first;
        let mut next_ms = self.renew_at_ms(&written);
        let mut failures: u32 = 0;
        loop {
            if self.shared.sleep_until_unix_ms(next_ms) {
                return;
            }
            let outcome = self.renew(&written).and_then(|t| {
                if t.secret() != written.secret() {
                    self.write(&t)?;
                }
                Ok(t)
            });
            match outcome {
                Ok(t) => {
                    failures = 0;
                    written = t;
                    next_ms = self.renew_at_ms(&written);
                }
                Err(RenewError::Stopped) => return,
                Err(RenewError::Failed(e)) => {
                    failures = failures.saturating_add(1);
                    let delay = self.backoff(failures, &e);
                    self.shared.update(|s| {
                        s.last_error = Some(e.clone());
                        s.consecutive_failures = failures;
                    });
                    self.emit(&KeeperEvent::Failed {
                        path: self.file.path(),
                        error: &e,
                        retry_in: delay,
                        file_expires_on: written.expires_on(),
                        permanent: is_permanent(e.kind()),
                    });
                    next_ms = now_ms() + delay.as_millis() as i64;
                }
            }
        }
    }

    /// A token newer than `written`: the client's cached one if another caller already renewed
    /// it, else a new one.
    fn renew(&self, written: &Token) -> Result<Arc<Token>, RenewError> {
        let scopes = self.opts.scopes.as_deref();
        let t = self.client.get_token(scopes)?;
        if t.secret() != written.secret() {
            return Ok(t);
        }
        // Past refresh_on but still fresh: `get_token` handed out the same token, and may have
        // started a background refresh. Give that a moment, then force one.
        let until = Instant::now() + BACKGROUND_GRACE;
        while Instant::now() < until {
            if self.shared.sleep(Duration::from_millis(100)) {
                return Err(RenewError::Stopped);
            }
            let t = self.client.get_token(scopes)?;
            if t.secret() != written.secret() {
                return Ok(t);
            }
        }
        Ok(self.client.refresh_token(scopes)?)
    }

    fn write(&self, token: &Arc<Token>) -> Result<()> {
        // The file and the state change under the state's lock, so that `status` never pairs the
        // new file with the old token's expiry (or the other way round).
        self.shared.update(|s| {
            self.file.write(token)?;
            s.last_error = None;
            s.consecutive_failures = 0;
            s.expires_on = token.expires_on();
            s.written_on = now_ms() / 1000;
            s.writes += 1;
            Ok::<(), Error>(())
        })?;
        self.emit(&KeeperEvent::Written {
            path: self.file.path(),
            expires_on: token.expires_on(),
            renew_at: self.renew_at_ms(token) / 1000,
        });
        Ok(())
    }

    /// When to renew `token` (Unix ms): at its `refresh_on`, or when only `expiry_margin_s` is
    /// left, whichever is first — but not sooner than a quarter of its lifetime (1 s – 60 s)
    /// from now, so that tokens shorter than the margin do not make the keeper spin.
    fn renew_at_ms(&self, token: &Token) -> i64 {
        let now = now_ms();
        let margin_ms = self.margin.as_millis() as i64;
        let due = (token.refresh_on() * 1000).min(token.expires_on() * 1000 - margin_ms);
        let lifetime_ms = (token.expires_on() * 1000 - now).max(0);
        let floor = (lifetime_ms / 4).clamp(1000, 60_000);
        due.max(now + floor)
    }

    fn backoff(&self, failures: u32, e: &Error) -> Duration {
        let exp = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
        let delay = self.opts.retry_min.saturating_mul(exp).min(self.opts.retry_max);
        match e.retry_after() {
            Some(after) => delay.max(after.min(MAX_RETRY_AFTER)),
            None => delay,
        }
    }

    fn emit(&self, event: &KeeperEvent<'_>) {
        match event {
            KeeperEvent::Written { path, renew_at, .. } => log_info!(
                "keeper: {} renewed; next renewal in {} s",
                path.display(),
                renew_at - now_ms() / 1000
            ),
            KeeperEvent::Failed {
                path,
                error,
                retry_in,
                permanent,
                ..
            } => log_warn!(
                "keeper: renewing {} failed ({}); the file keeps its token; retrying in {} s{}",
                path.display(),
                crate::log::error_summary(error),
                retry_in.as_secs_f64(),
                if *permanent {
                    " (retrying cannot fix this error)"
                } else {
                    ""
                }
            ),
        }
        if let Some(f) = &self.opts.on_event {
            // An observer's panic must not kill the keeper.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(event)));
        }
    }
}

enum RenewError {
    Stopped,
    Failed(Error),
}

impl From<Error> for RenewError {
    fn from(e: Error) -> Self {
        RenewError::Failed(e)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
