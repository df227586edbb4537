//! The host cache (`host_cache=on`): application tokens shared by every process of one user on
//! the host, with single flight across processes. The process-wide cache (`core::cache`) stays
//! in front of it: a cached `get_token` never comes here; only an in-process miss or refresh
//! (the leader of the in-process single flight) does.
//!
//! * A directory of the user's own (`host_cache_dir`; default `$XDG_RUNTIME_DIR/aadtoken`, else
//!   `<tmp>/aadtoken-<uid>`), created 0700; one that is a symbolic link, belongs to another user
//!   or lets others in is refused (`UnsafePath`) when the client is built.
//! * One file per key, `<name>.token`, where the name is an HMAC-SHA256, under a random key kept
//!   in the directory (`host.key`, 0600, made once per host by whichever process comes first),
//!   of everything that makes a token differ: authority, client (or managed-identity selector),
//!   the credential's digest (a secret's digest, a certificate's thumbprint, the assertion file,
//!   the managed identity's source) and the scopes. A process with a wrong secret computes
//!   another name, so it never reads the token obtained with the right one; and a name tells
//!   nothing about the secret to anyone without the key (no offline guessing of a weak secret).
//! * Written atomically with `core::private_file` (0600, `O_EXCL|O_NOFOLLOW`, `fsync`, rename):
//!   a reader sees the old token or the new, never half of one.
//! * Single flight: whoever finds no usable token takes a POSIX record lock on `<name>.lock`,
//!   reads the file again, and only then asks the identity provider and writes the file; the
//!   others wait for the lock (bounded by `timeout_ms`) and find the token. The lock (not the
//!   file's existence) is the signal, so a holder that dies releases it with its process, and
//!   a child forked while its parent holds it does not hold it too.
//! * Every file read is checked: owner, mode, size, format, and that it was written for this
//!   name. Anything else is ignored with a log record (and replaced by the next write), never
//!   trusted.
//! * After a write, at most every [`SWEEP_INTERVAL`] per process, [`sweep`] removes token files
//!   expired more than [`GRACE`] ago or unreadable, lock files without a token file and leftover
//!   temporary files, each under its key's lock (`private_file::lock` lets a holder remove a
//!   lock file).
//! * Person sign-in (device code, browser) and `auth_method=password` tokens stay out (a
//!   person's tokens; person sign-in has `cache_file`), and so do tokens from an assertion
//!   callback (nothing tells two processes' callbacks apart).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::future::Future;
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::cache::{CacheKey, Need};
use crate::config::Config;
use crate::credential::{AssertionSource, Credential, Proof, Source};
use crate::error::{Error, ErrorKind, Result};
use crate::private_file::{self, file_error, unsafe_path, FileLock, LockKind};
use crate::token::{unix_now, Token};

const FORMAT: &str = "aadtoken-host-token";
/// The format version this build reads and writes.
const VERSION: u64 = 1;
/// A token file larger than this is not one of ours.
const MAX_SIZE: u64 = 64 << 10;
/// The HMAC key's file in the directory, and its size.
const KEY_FILE: &str = "host.key";
const KEY_LEN: usize = 32;
/// Domain separation of the names.
const NAME_CONTEXT: &[u8] = b"aadtoken host cache v1\0";
/// How long after its token expired a token file is removed (see [`sweep`]). Once expired, no
/// process can use the token (every process of the host judges expiry by the same clock), so
/// the grace only guards against the clock being stepped back (an NTP correction) and leaves a
/// just-expired file for an operator to look at; it is also the age past which a temporary
/// file, which lives for the milliseconds of one write, is a leftover of a killed writer.
const GRACE: Duration = Duration::from_secs(3600);
/// A process sweeps a directory at most this often, after writing a token: a fraction of
/// [`GRACE`], so a file stays at most about that much longer than its grace.
const SWEEP_INTERVAL: Duration = Duration::from_secs(600);
/// A sweep stops after this long (once it has looked at [`SWEEP_AT_LEAST`] entries), leaving
/// the rest to the next one: the request that triggered it is waiting for its token.
const SWEEP_BUDGET: Duration = Duration::from_millis(50);
/// Entries a sweep looks at whatever the time (a steady directory holds a few).
const SWEEP_AT_LEAST: usize = 64;

/// Parse `host_cache`: `on` or `off`.
pub fn parse_mode(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(Error::invalid_setting(key, "must be on or off")),
    }
}

/// Parse `host_cache_dir`: an absolute path (a relative one would change with the working
/// directory, and processes would not meet).
pub fn parse_dir(key: &str, value: &str) -> Result<PathBuf> {
    let path = PathBuf::from(value);
    if !path.is_absolute() {
        return Err(Error::invalid_setting(
            key,
            "must be an absolute path (e.g. /run/user/1000/aadtoken)",
        ));
    }
    Ok(path)
}

/// The host cache of one client: its directory and the key its file names are made with.
pub struct HostCache {
    dir: PathBuf,
    key: hmac::Key,
    timeout: Duration,
}

impl fmt::Debug for HostCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Where one key's token and lock are.
struct Slot {
    name: String,
    token: PathBuf,
    lock: PathBuf,
}

/// What reading a private file found.
enum Found {
    Missing,
    /// Not trusted, and why.
    Refused(String),
    /// The contents, and which file they were read from.
    Bytes(Zeroizing<Vec<u8>>, FileId),
}

/// A file (device, inode): a rename puts a new one in place.
type FileId = (u64, u64);

#[derive(Serialize)]
struct StoredRef<'a> {
    format: &'a str,
    version: u64,
    name: &'a str,
    access_token: &'a str,
    expires_on: i64,
    refresh_on: i64,
}

#[derive(Deserialize)]
struct Stored {
    format: String,
    version: u64,
    name: String,
    access_token: String,
    expires_on: i64,
    refresh_on: i64,
}

impl HostCache {
    /// The host cache for `credential`'s tokens: `None` with `host_cache=off` (the default) or
    /// for a credential whose tokens stay in the process. Creates and checks the directory and
    /// reads (or makes) the host's key; an unsafe directory is an `UnsafePath` error.
    pub fn from_config(config: &Config, credential: &Credential) -> Result<Option<HostCache>> {
        if !config.host_cache {
            return Ok(None);
        }
        if let Some(why) = excluded(credential) {
            log_info!(
                "host_cache=on: {} tokens stay in this process ({why})",
                credential.kind_name()
            );
            return Ok(None);
        }
        let dir = match &config.host_cache_dir {
            Some(d) => d.clone(),
            None => default_dir(),
        };
        prepare_dir(&dir)?;
        let key = host_key(&dir)?;
        log_debug!("host cache in {}", dir.display());
        Ok(Some(HostCache {
            dir,
            key,
            timeout: config.timeout(),
        }))
    }

    /// A token for `key` as `need` asks: from the host cache when another process left a good
    /// one, else from `request` (one request per host: under the key's lock, after reading the
    /// file again), which is then written for the others. A forced refresh (`Need::New`) asks
    /// the identity provider too, unless another process wrote a new token while it waited for
    /// the lock: that token is as new as the one it would get.
    pub async fn get<F, Fut>(&self, key: &CacheKey, need: Need, margin: Duration, request: F) -> Result<Token>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>>,
    {
        let slot = self.slot(key);
        let found = |need: Need, when: &str| {
            let token = self.read(&slot, need, margin)?;
            log_debug!(
                "{} ({}): token from the host cache{when}, expires at {}",
                key.authority,
                key.scopes.joined(),
                token.expires_on()
            );
            Some(token)
        };
        if let Some(token) = found(need, "") {
            return Ok(token);
        }
        let before = file_id(&slot.token);
        let asking = InUse::asking(&slot.name).await;
        let (held, waited) = self.lock(&slot, key).await;
        // A file replaced while this process waited holds a token obtained since it asked.
        let need_now = if need == Need::New && waited && file_id(&slot.token) != before {
            Need::Usable
        } else {
            need
        };
        if let Some(token) = found(need_now, " (another process asked for it)") {
            return Ok(token);
        }
        let token = request().await?;
        self.write(&slot, &token);
        drop(held);
        drop(asking);
        if sweep_due(&self.dir) {
            sweep(&self.dir, SWEEP_BUDGET).await;
        }
        Ok(token)
    }

    fn slot(&self, key: &CacheKey) -> Slot {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in [
            NAME_CONTEXT,
            key.authority.as_bytes(),
            b"\0",
            key.client_id.as_bytes(),
            b"\0",
            &key.credential.0,
            b"\0",
            key.scopes.joined().as_bytes(),
        ] {
            ctx.update(part);
        }
        let name: String = ctx.sign().as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Slot {
            token: self.dir.join(format!("{name}.token")),
            lock: self.dir.join(format!("{name}.lock")),
            name,
        }
    }

    /// The key's lock, waiting (at most `timeout_ms`) while another process holds it, and
    /// whether it had to wait. Without it (a lock that cannot be taken) the request goes ahead
    /// anyway: the host cache saves requests, it never stops one.
    async fn lock(&self, slot: &Slot, key: &CacheKey) -> (Option<FileLock>, bool) {
        let mut wait = Duration::ZERO;
        loop {
            match private_file::lock(&slot.lock, LockKind::Process, wait).await {
                Ok(Some(held)) => return (Some(held), !wait.is_zero()),
                Ok(None) if wait.is_zero() => {
                    log_debug!(
                        "{} ({}): another process on this host is asking for this token; waiting for it (at most timeout_ms={})",
                        key.authority,
                        key.scopes.joined(),
                        self.timeout.as_millis()
                    );
                    wait = self.timeout;
                }
                Ok(None) => {
                    log_warn!(
                        "{} ({}): another process held the host cache's lock {} for longer than timeout_ms={}; asking without it",
                        key.authority,
                        key.scopes.joined(),
                        slot.lock.display(),
                        self.timeout.as_millis()
                    );
                    return (None, true);
                }
                Err(e) => {
                    log_warn!(
                        "host cache: cannot lock {}: {e}; asking the identity provider without it",
                        slot.lock.display()
                    );
                    return (None, false);
                }
            }
        }
    }

    /// The token in the slot's file if it is trustworthy and satisfies `need`.
    fn read(&self, slot: &Slot, need: Need, margin: Duration) -> Option<Token> {
        if need == Need::New {
            return None;
        }
        let bytes = match read_private(&slot.token, MAX_SIZE) {
            Found::Missing => return None,
            Found::Refused(why) => {
                log_warn!(
                    "host cache: ignoring {} ({why}); a new token will replace it",
                    slot.token.display()
                );
                return None;
            }
            Found::Bytes(b, _) => b,
        };
        let token = match parse_token(&bytes, &slot.name) {
            Ok(t) => t,
            Err(why) => {
                log_warn!(
                    "host cache: ignoring {}: not a host cache token ({why}); a new token will replace it",
                    slot.token.display()
                );
                return None;
            }
        };
        let now = unix_now();
        let usable = token.is_fresh(now, margin) && (need == Need::Usable || now < token.refresh_on());
        usable.then_some(token)
    }

    /// Write `token` for the other processes (a failure is logged: this process has its token).
    fn write(&self, slot: &Slot, token: &Token) {
        let doc = StoredRef {
            format: FORMAT,
            version: VERSION,
            name: &slot.name,
            access_token: token.secret(),
            expires_on: token.expires_on(),
            refresh_on: token.refresh_on(),
        };
        let written = serde_json::to_vec(&doc)
            .map(Zeroizing::new)
            .map_err(io::Error::other)
            .and_then(|bytes| {
                let (tmp, file) = private_file::create_temp(&self.dir, &slot.name)?;
                private_file::commit(&tmp, file, &bytes, &slot.token, &self.dir)
            });
        if let Err(e) = written {
            log_warn!(
                "host cache: could not write {}: {e} (other processes will ask for their own token)",
                slot.token.display()
            );
        }
    }
}

/// Why `credential`'s tokens stay out of the host cache, if they do.
fn excluded(credential: &Credential) -> Option<&'static str> {
    match credential.source() {
        Source::App(_, Proof::Password(_)) => Some("a person's tokens"),
        Source::App(_, Proof::Assertion(AssertionSource::Callback(_))) => {
            Some("an assertion callback is not told apart across processes")
        }
        Source::App(..) | Source::ManagedIdentity(_) => None,
        #[cfg(feature = "signin")]
        Source::User(_) => Some("a person's tokens: cache_file keeps the accounts"),
        Source::Auto(chain) => chain.configured().find_map(excluded),
    }
}

/// Which file `path` is now (each write renames a new file into place).
fn file_id(path: &Path) -> Option<FileId> {
    fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// `$XDG_RUNTIME_DIR/aadtoken` when that directory is this user's (after `su` it may be
/// another's), else `<tmp>/aadtoken-<uid>`.
fn default_dir() -> PathBuf {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == euid()));
    match runtime {
        Some(run) => run.join("aadtoken"),
        None => std::env::temp_dir().join(format!("aadtoken-{}", euid())),
    }
}

/// Create `dir` (0700) unless it exists, and check that it is a real directory of this user
/// that nobody else can enter.
fn prepare_dir(dir: &Path) -> Result<()> {
    let shown = dir.display();
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(file_error(
                format!("host_cache_dir '{shown}' could not be created"),
                &e,
            ))
        }
    }
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| file_error(format!("host_cache_dir '{shown}' cannot be used"), &e))?;
    if meta.file_type().is_symlink() {
        return Err(unsafe_path(format!(
            "host_cache_dir '{shown}' is a symbolic link; aadtoken never follows one there: give the real directory"
        )));
    }
    if !meta.is_dir() {
        return Err(Error::new(
            ErrorKind::File,
            format!("host_cache_dir '{shown}' is not a directory"),
        ));
    }
    let me = euid();
    if meta.uid() != me {
        return Err(unsafe_path(format!(
            "host_cache_dir '{shown}' belongs to another user (uid {}, not {me}); cached tokens are bearer secrets, \
             so aadtoken keeps them only in a directory of its own user: set host_cache_dir to one",
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(unsafe_path(format!(
            "host_cache_dir '{shown}' can be reached by other users (mode {mode:o}); it holds bearer tokens: \
             `chmod 700 {shown}`"
        )));
    }
    Ok(())
}

/// Read `path` if it is a regular file of this user's that nobody else can read or write, of at
/// most `max` bytes; never through a symbolic link. The checks are made on the opened file.
fn read_private(path: &Path, max: u64) -> Found {
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Missing,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Found::Refused("it is a symbolic link".into())
        }
        Err(e) => return Found::Refused(format!("it cannot be read: {e}")),
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return Found::Refused(format!("it cannot be read: {e}")),
    };
    let me = euid();
    let mode = meta.permissions().mode() & 0o7777;
    if !meta.is_file() {
        return Found::Refused("it is not a regular file".into());
    }
    if meta.uid() != me {
        return Found::Refused(format!(
            "it belongs to another user (uid {}, not {me})",
            meta.uid()
        ));
    }
    if mode & 0o077 != 0 {
        return Found::Refused(format!("other users can read or write it (mode {mode:o})"));
    }
    if meta.len() > max {
        return Found::Refused(format!("it is larger than {max} bytes"));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    match file.by_ref().take(max + 1).read_to_end(&mut bytes) {
        Ok(n) if n as u64 > max => Found::Refused(format!("it is larger than {max} bytes")),
        Ok(_) => Found::Bytes(bytes, (meta.dev(), meta.ino())),
        Err(e) => Found::Refused(format!("it cannot be read: {e}")),
    }
}

/// A token file's token, if it is one this build wrote for `name`: the format and version, the
/// name (a file copied under another name is not trusted), a token of JWT characters, and times
/// that make sense.
pub(crate) fn parse_token(bytes: &[u8], name: &str) -> std::result::Result<Token, &'static str> {
    let stored: Stored = serde_json::from_slice(bytes).map_err(|_| "not the expected JSON")?;
    let access_token = Zeroizing::new(stored.access_token);
    if stored.format != FORMAT {
        return Err("another format");
    }
    if stored.version != VERSION {
        return Err("another version");
    }
    if stored.name != name {
        return Err("written for another key");
    }
    if access_token.is_empty() || !access_token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the token is empty or has characters a token never has");
    }
    if stored.refresh_on > stored.expires_on || stored.expires_on <= 0 {
        return Err("its times are inconsistent");
    }
    Ok(Token::new(&access_token, stored.expires_on, stored.refresh_on))
}

/// The host's HMAC key from `dir`, made by the first process that needs it (a key that is not
/// private or not a key is replaced, with a log record).
fn host_key(dir: &Path) -> Result<hmac::Key> {
    let path = dir.join(KEY_FILE);
    let write_error = |e: &io::Error| {
        file_error(
            format!("could not write the host cache key '{}'", path.display()),
            e,
        )
    };
    for _ in 0..3 {
        let replace = match read_private(&path, KEY_LEN as u64) {
            Found::Bytes(bytes, _) if bytes.len() == KEY_LEN => {
                return Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
            }
            Found::Bytes(..) => {
                log_warn!(
                    "host cache: {} is not a key (wrong size); replacing it",
                    path.display()
                );
                true
            }
            Found::Refused(why) => {
                log_warn!(
                    "host cache: ignoring the key {} ({why}); replacing it",
                    path.display()
                );
                true
            }
            Found::Missing => false,
        };
        let mut fresh = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(&mut fresh[..])
            .map_err(|_| Error::internal("the system's random generator failed"))?;
        let (tmp, file) = private_file::create_temp(dir, KEY_FILE).map_err(|e| write_error(&e))?;
        let placed = if replace {
            private_file::commit(&tmp, file, &fresh[..], &path, dir).map(|()| true)
        } else {
            private_file::commit_new(&tmp, file, &fresh[..], &path, dir)
        };
        // Not placed: another process made the key first; read that one.
        if placed.map_err(|e| write_error(&e))? {
            return Ok(hmac::Key::new(hmac::HMAC_SHA256, &fresh[..]));
        }
    }
    Err(Error::new(
        ErrorKind::File,
        format!(
            "the host cache key '{}' keeps changing; is another program rewriting host_cache_dir?",
            path.display()
        ),
    ))
}

/// What tasks of this process do with a key's lock file. POSIX record locks do not keep the
/// threads of one process apart, and closing any descriptor of a file drops the process's lock
/// on it: so a sweep never opens the lock file of a key this process is asking for, and a
/// request waits while a sweep of this process looks at its key (microseconds).
enum Use {
    /// By this many requests.
    Asking(usize),
    Sweeping,
}

/// The keys in use in this process, and the process they were marked in (a forked child starts
/// afresh: record locks are not inherited).
static IN_USE: Mutex<(u32, Vec<(String, Use)>)> = Mutex::new((0, Vec::new()));

fn in_use() -> MutexGuard<'static, (u32, Vec<(String, Use)>)> {
    let mut marks = IN_USE.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    if marks.0 != pid {
        *marks = (pid, Vec::new());
    }
    marks
}

/// A key marked in use in this process; unmarked when dropped.
struct InUse {
    name: String,
}

impl InUse {
    /// Mark `name` as asked for (by one more request), once no sweep of this process looks at it.
    async fn asking(name: &str) -> InUse {
        loop {
            {
                let mut marks = in_use();
                match marks.1.iter_mut().find(|(n, _)| n == name) {
                    None => {
                        marks.1.push((name.to_owned(), Use::Asking(1)));
                        break;
                    }
                    Some((_, Use::Asking(n))) => {
                        *n += 1;
                        break;
                    }
                    Some((_, Use::Sweeping)) => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        InUse {
            name: name.to_owned(),
        }
    }

    /// Mark `name` for a sweep, unless a request of this process is asking for it.
    fn sweeping(name: &str) -> Option<InUse> {
        let mut marks = in_use();
        if marks.1.iter().any(|(n, _)| n == name) {
            return None;
        }
        marks.1.push((name.to_owned(), Use::Sweeping));
        Some(InUse {
            name: name.to_owned(),
        })
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        let mut marks = in_use();
        if let Some(i) = marks.1.iter().position(|(n, _)| *n == self.name) {
            match &mut marks.1[i].1 {
                Use::Asking(n) if *n > 1 => *n -= 1,
                _ => {
                    marks.1.swap_remove(i);
                }
            }
        }
    }
}

/// Whether this process should sweep `dir` now: at most once per [`SWEEP_INTERVAL`] (then it
/// is marked swept).
fn sweep_due(dir: &Path) -> bool {
    static LAST: Mutex<Vec<(PathBuf, Instant)>> = Mutex::new(Vec::new());
    let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
    let now = Instant::now();
    match last.iter_mut().find(|(d, _)| d == dir) {
        Some((_, at)) if now.duration_since(*at) < SWEEP_INTERVAL => false,
        Some((_, at)) => {
            *at = now;
            true
        }
        None => {
            last.push((dir.to_path_buf(), now));
            true
        }
    }
}

/// A directory entry the host cache makes, by the exact pattern of its name: a key's token or
/// lock file (`<64 hex digits>.token`/`.lock`), or the temporary file of a write
/// (`.<name or host.key>.aadtoken-<pid>-<n>.tmp`, from `private_file::create_temp`).
#[derive(Debug, PartialEq)]
enum Entry<'a> {
    Token(&'a str),
    Lock(&'a str),
    Temp,
}

impl<'a> Entry<'a> {
    fn of(file: &'a str) -> Option<Entry<'a>> {
        let is_name = |s: &str| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if let Some(name) = file.strip_suffix(".token").filter(|n| is_name(n)) {
            return Some(Entry::Token(name));
        }
        if let Some(name) = file.strip_suffix(".lock").filter(|n| is_name(n)) {
            return Some(Entry::Lock(name));
        }
        let (base, n) = file
            .strip_prefix('.')?
            .strip_suffix(".tmp")?
            .rsplit_once(".aadtoken-")?;
        let (pid, count) = n.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        ((is_name(base) || base == KEY_FILE) && digits(pid) && digits(count)).then_some(Entry::Temp)
    }
}

/// What a sweep removed.
#[derive(Debug, Default, PartialEq)]
struct Swept {
    /// Token files: expired more than [`GRACE`] ago, or unreadable.
    tokens: usize,
    /// Lock files of keys without a token file, and leftover temporary files.
    others: usize,
}

/// Remove what the host cache leaves behind in `dir`, until `budget` is spent (after at least
/// [`SWEEP_AT_LEAST`] entries; the rest is left to the next sweep):
/// * a token file whose token expired more than [`GRACE`] ago, or that is this user's private
///   file but holds no token (garbled, truncated, written for another name: the reader ignores
///   it and the next write would replace it), with its lock file. A file of another version of
///   the format is another build's, and left to it;
/// * a lock file without a token file, and a temporary file older than [`GRACE`].
///
/// Only names of those patterns, never through a symbolic link, never a file of another user or
/// one that others can read (the reader refuses those; they are left as they are). A token file
/// is judged again and removed under its key's lock, taken without waiting: a key another
/// process is asking for is skipped (it is about to be rewritten), and so is one a request of
/// this process is asking for. Nothing here fails a request: errors are logged at debug level.
async fn sweep(dir: &Path, budget: Duration) -> Swept {
    let started = Instant::now();
    let mut files: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect(),
        Err(e) => {
            log_debug!(
                "host cache: cannot list {} to remove expired tokens: {e}",
                dir.display()
            );
            return Swept::default();
        }
    };
    // From a random entry on, so that sweeps cut short by the budget do not all look at the same
    // files first.
    let mut start = [0u8; 4];
    if !files.is_empty() && SystemRandom::new().fill(&mut start).is_ok() {
        let by = u32::from_le_bytes(start) as usize % files.len();
        files.rotate_left(by);
    }
    let now = unix_now();
    let mut swept = Swept::default();
    for (i, file) in files.iter().enumerate() {
        if i >= SWEEP_AT_LEAST && started.elapsed() >= budget {
            log_debug!(
                "host cache: stopped looking for expired tokens in {} after {} of {} entries ({} ms); the next sweep goes on",
                dir.display(),
                i,
                files.len(),
                budget.as_millis()
            );
            break;
        }
        let done = match Entry::of(file) {
            Some(Entry::Token(name)) => sweep_token(dir, name, now, &mut swept).await,
            Some(Entry::Lock(name)) => sweep_lock(dir, name, &mut swept).await,
            Some(Entry::Temp) => sweep_temp(&dir.join(file), &mut swept),
            None => Ok(()),
        };
        match done {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                log_debug!(
                    "host cache: could not remove {} from {}: {e}",
                    file,
                    dir.display()
                )
            }
            _ => {}
        }
    }
    if swept != Swept::default() {
        log_debug!(
            "host cache: removed {} token files (expired more than {} s ago, or unreadable) and {} lock or temporary files from {}",
            swept.tokens,
            GRACE.as_secs(),
            swept.others,
            dir.display()
        );
    }
    swept
}

/// Remove the key `name`'s token file, and its lock file, if [`judge`] says it may go — judged
/// first without the lock (most files hold a live token), then again under the lock.
async fn sweep_token(dir: &Path, name: &str, now: i64, swept: &mut Swept) -> io::Result<()> {
    let path = dir.join(format!("{name}.token"));
    if judge(&path, name, now).is_none() {
        return Ok(());
    }
    let Some(_marked) = InUse::sweeping(name) else {
        return Ok(()); // a request of this process is asking for it
    };
    let lock_path = dir.join(format!("{name}.lock"));
    let lock_file = own_file(&lock_path);
    if lock_file == Some(false) {
        return Ok(());
    }
    let Some(held) = private_file::lock(&lock_path, LockKind::Process, Duration::ZERO).await? else {
        return Ok(()); // another process is asking for it, and will write the file
    };
    if let Some(id) = judge(&path, name, now) {
        if remove_if_same(dir, &path, name, id)? {
            swept.tokens += 1;
        }
    }
    if missing(&path) {
        // Removed under the lock: whoever waits for it opens the path again (`private_file::lock`).
        fs::remove_file(&lock_path)?;
        swept.others += usize::from(lock_file.is_some());
    }
    drop(held);
    Ok(())
}

/// Remove the key `name`'s lock file when the key has no token file (its requests failed, or
/// its file went), under the lock.
async fn sweep_lock(dir: &Path, name: &str, swept: &mut Swept) -> io::Result<()> {
    let token = dir.join(format!("{name}.token"));
    let lock_path = dir.join(format!("{name}.lock"));
    if !missing(&token) || own_file(&lock_path) != Some(true) {
        return Ok(());
    }
    let Some(_marked) = InUse::sweeping(name) else {
        return Ok(());
    };
    let Some(held) = private_file::lock(&lock_path, LockKind::Process, Duration::ZERO).await? else {
        return Ok(());
    };
    if missing(&token) {
        fs::remove_file(&lock_path)?;
        swept.others += 1;
    }
    drop(held);
    Ok(())
}

/// Remove a temporary file older than [`GRACE`] (a write takes milliseconds: it is what a
/// writer killed between creating and renaming it left).
fn sweep_temp(path: &Path, swept: &mut Swept) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let old = meta.modified()?.elapsed().is_ok_and(|age| age > GRACE);
    if meta.is_file() && meta.uid() == euid() && old {
        fs::remove_file(path)?;
        swept.others += 1;
    }
    Ok(())
}

/// Whether `path` is a regular file of this user (not followed); `None` when it is missing.
fn own_file(path: &Path) -> Option<bool> {
    match fs::symlink_metadata(path) {
        Ok(m) => Some(m.is_file() && m.uid() == euid()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(_) => Some(false),
    }
}

fn missing(path: &Path) -> bool {
    own_file(path).is_none()
}

/// The token file `path` of key `name`, if it may go: a private regular file of this user (as
/// [`read_private`] checks) that holds a token expired more than [`GRACE`] before `now`, or
/// holds no token of this format's version and is not another version's.
fn judge(path: &Path, name: &str, now: i64) -> Option<FileId> {
    match read_private(path, MAX_SIZE) {
        Found::Bytes(bytes, id) => stale(&bytes, name, now).then_some(id),
        Found::Missing | Found::Refused(_) => None,
    }
}

fn stale(bytes: &[u8], name: &str, now: i64) -> bool {
    #[derive(Deserialize)]
    struct Head {
        format: String,
        version: u64,
    }
    match parse_token(bytes, name) {
        Ok(token) => token.expires_on().saturating_add(GRACE.as_secs() as i64) < now,
        Err(_) => {
            !serde_json::from_slice::<Head>(bytes).is_ok_and(|h| h.format == FORMAT && h.version != VERSION)
        }
    }
}

/// Remove `path` (of key `name`) if it is still the file `id` that was judged. Another process
/// may have renamed a new token file into place since (one that does not wait for the lock
/// after `timeout_ms`): so the file is first moved aside (a rename is atomic), and one that is
/// not `id` is put back — unless a newer one is in place by then. A fresh token is never removed.
fn remove_if_same(dir: &Path, path: &Path, name: &str, id: FileId) -> io::Result<bool> {
    let (aside, placeholder) = private_file::create_temp(dir, name)?;
    drop(placeholder);
    if let Err(e) = fs::rename(path, &aside) {
        let _ = fs::remove_file(&aside);
        return Err(e);
    }
    if file_id(&aside) == Some(id) {
        fs::remove_file(&aside)?;
        return Ok(true);
    }
    let back = match fs::hard_link(&aside, path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    };
    fs::remove_file(&aside)?;
    back.map(|()| false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Digest, Scopes};

    fn cache(dir: &Path) -> HostCache {
        HostCache {
            dir: dir.to_path_buf(),
            key: host_key(dir).unwrap(),
            timeout: Duration::from_secs(5),
        }
    }

    fn key(secret_digest: u8) -> CacheKey {
        CacheKey {
            authority: "https://h/t".into(),
            client_id: "c".into(),
            credential: Digest([secret_digest; 32]),
            scopes: Scopes::parse("api://x/.default").unwrap(),
        }
    }

    #[test]
    fn settings_are_parsed() {
        assert!(parse_mode("host_cache", "ON").unwrap());
        assert!(!parse_mode("host_cache", "off").unwrap());
        let e = parse_mode("host_cache", "yes please").unwrap_err();
        assert!(e.message().contains("'host_cache'"), "{}", e.message());
        let e = parse_dir("host_cache_dir", "relative/dir").unwrap_err();
        assert!(e.message().contains("'host_cache_dir'"), "{}", e.message());
        assert!(parse_dir("host_cache_dir", "/run/user/1/aadtoken").is_ok());
    }

    #[test]
    fn the_key_is_made_once_and_names_depend_on_the_secret_digest() {
        let d = private_file::test_dir("hostkey");
        let a = cache(&d);
        let b = cache(&d);
        let meta = fs::metadata(d.join(KEY_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(a.slot(&key(1)).name, b.slot(&key(1)).name, "one key per host");
        assert_ne!(
            a.slot(&key(1)).name,
            a.slot(&key(2)).name,
            "another secret, another file"
        );
        let other = private_file::test_dir("hostkey");
        assert_ne!(
            a.slot(&key(1)).name,
            cache(&other).slot(&key(1)).name,
            "names are keyed: another host's key gives other names"
        );
        // A key that others can read is replaced.
        fs::set_permissions(d.join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        assert_ne!(cache(&d).slot(&key(1)).name, a.slot(&key(1)).name);
    }

    #[test]
    fn tokens_round_trip_and_bad_files_are_ignored() {
        let d = private_file::test_dir("hosttoken");
        let c = cache(&d);
        let slot = c.slot(&key(1));
        let now = unix_now();
        assert!(c.read(&slot, Need::Usable, Duration::ZERO).is_none());
        c.write(&slot, &Token::new("a.b.c", now + 3600, now + 1800));
        let t = c.read(&slot, Need::Usable, Duration::from_secs(60)).unwrap();
        assert_eq!(
            (t.secret(), t.expires_on(), t.refresh_on()),
            ("a.b.c", now + 3600, now + 1800)
        );
        assert!(c.read(&slot, Need::NotDue, Duration::ZERO).is_some());
        assert!(c.read(&slot, Need::New, Duration::ZERO).is_none());
        assert!(
            c.read(&slot, Need::Usable, Duration::from_secs(4000)).is_none(),
            "too close to expiry"
        );
        assert_eq!(
            fs::metadata(&slot.token).unwrap().permissions().mode() & 0o777,
            0o600
        );

        // Due for refresh: usable, but not what a background refresh wants.
        c.write(&slot, &Token::new("a.b.c", now + 3600, now - 1));
        assert!(c.read(&slot, Need::Usable, Duration::ZERO).is_some());
        assert!(c.read(&slot, Need::NotDue, Duration::ZERO).is_none());

        let good = fs::read(&slot.token).unwrap();
        for bad in [
            &b""[..],
            b"{not json",
            &good[..good.len() / 2],
            br#"{"format":"aadtoken-host-token","version":2,"name":"x","access_token":"a","expires_on":9,"refresh_on":1}"#,
        ] {
            fs::write(&slot.token, bad).unwrap();
            assert!(c.read(&slot, Need::Usable, Duration::ZERO).is_none());
        }
        // A good file copied under another name is not trusted.
        let other = c.slot(&key(2));
        fs::write(&other.token, &good).unwrap();
        fs::set_permissions(&other.token, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(c.read(&other, Need::Usable, Duration::ZERO).is_none());
        // Too open, or a link to a good file.
        fs::write(&slot.token, &good).unwrap();
        fs::set_permissions(&slot.token, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(c.read(&slot, Need::Usable, Duration::ZERO).is_none());
        fs::set_permissions(&slot.token, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(c.read(&slot, Need::Usable, Duration::ZERO).is_some());
        let link = c.slot(&key(3));
        fs::remove_file(&link.token).ok();
        std::os::unix::fs::symlink(&slot.token, &link.token).unwrap();
        assert!(matches!(read_private(&link.token, MAX_SIZE), Found::Refused(_)));
    }

    #[test]
    fn unsafe_directories_are_refused() {
        let d = private_file::test_dir("hostdir");
        prepare_dir(&d.join("new")).unwrap();
        let meta = fs::metadata(d.join("new")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let open = d.join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare_dir(&open).unwrap_err();
        crate::error::assert_error(&e, ErrorKind::UnsafePath, &["host_cache_dir", "777"]);
        let link = d.join("link");
        std::os::unix::fs::symlink(d.join("new"), &link).unwrap();
        assert_eq!(prepare_dir(&link).unwrap_err().kind(), ErrorKind::UnsafePath);
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A private file at `path` with `bytes`.
    fn private(path: &Path, bytes: &[u8]) {
        fs::write(path, bytes).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn entries_are_known_by_their_exact_names() {
        let h = "0123456789abcdef".repeat(4);
        assert_eq!(Entry::of(&format!("{h}.token")), Some(Entry::Token(&h)));
        assert_eq!(Entry::of(&format!("{h}.lock")), Some(Entry::Lock(&h)));
        assert_eq!(Entry::of(&format!(".{h}.aadtoken-12-3.tmp")), Some(Entry::Temp));
        assert_eq!(Entry::of(".host.key.aadtoken-12-0.tmp"), Some(Entry::Temp));
        for other in [
            KEY_FILE.to_owned(),
            format!("{}.token", h.to_uppercase()),
            format!("{}.token", &h[1..]),
            format!("{h}0.token"),
            format!("{h}.token.bak"),
            format!("x{h}.lock"),
            format!(".{h}.aadtoken-12-.tmp"),
            format!(".{h}.aadtoken-1x-3.tmp"),
            format!(".{h}.other-12-3.tmp"),
            ".notes.aadtoken-12-3.tmp".to_owned(),
            "notes.txt".to_owned(),
        ] {
            assert_eq!(Entry::of(&other), None, "{other}");
        }
    }

    #[test]
    fn a_sweep_removes_expired_and_unreadable_token_files_and_keeps_the_rest() {
        let d = private_file::test_dir("hostsweep");
        let c = cache(&d);
        let now = unix_now();
        let write = |k: u8, expires_on: i64| {
            let slot = c.slot(&key(k));
            c.write(&slot, &Token::new("a.b.c", expires_on, expires_on - 1800));
            slot
        };
        let live = write(1, now + 3600);
        let recent = write(2, now - 1800); // expired, within the grace
        let expired = write(3, now - 7200);
        private(&expired.lock, b"");
        let garbled = c.slot(&key(4));
        private(&garbled.token, b"{\"format\":\"aadtoken-host-token\",\"acc");
        let newer = c.slot(&key(5));
        private(
            &newer.token,
            format!(
                r#"{{"format":"{FORMAT}","version":2,"name":"{}","expires":1}}"#,
                newer.name
            )
            .as_bytes(),
        );
        let loose = write(6, now - 7200);
        fs::set_permissions(&loose.token, fs::Permissions::from_mode(0o644)).unwrap();
        // A link named as a token file, to an expired token file outside the directory.
        let outside = private_file::test_dir("hostsweep-outside").join("t");
        fs::copy(&expired.token, &outside).unwrap();
        let link = c.slot(&key(7));
        std::os::unix::fs::symlink(&outside, &link.token).unwrap();
        // Other names holding an expired token.
        let expired_bytes = fs::read(&expired.token).unwrap();
        let upper = d.join(format!("{}.token", expired.name.to_uppercase()));
        let bak = d.join(format!("{}.token.bak", expired.name));
        let notes = d.join("notes.txt");
        for other in [&upper, &bak, &notes] {
            private(other, &expired_bytes);
        }
        let orphan = c.slot(&key(9));
        private(&orphan.lock, b"");
        let old_temp = d.join(format!(".{}.aadtoken-1-2.tmp", live.name));
        let new_temp = d.join(format!(".{}.aadtoken-1-3.tmp", live.name));
        for temp in [&old_temp, &new_temp] {
            private(temp, b"{");
        }
        fs::File::options()
            .write(true)
            .open(&old_temp)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - GRACE - Duration::from_secs(60))
            .unwrap();
        // As root: an expired token file of another user.
        let foreign = write(8, now - 7200);
        let as_root = euid() == 0;
        if as_root {
            std::os::unix::fs::chown(&foreign.token, Some(65534), Some(65534)).unwrap();
        }

        let swept = block_on(sweep(&d, SWEEP_BUDGET));

        assert_eq!(
            swept,
            Swept {
                tokens: 2 + usize::from(!as_root),
                others: 3
            }
        );
        for gone in [
            &expired.token,
            &expired.lock,
            &garbled.token,
            &orphan.lock,
            &old_temp,
        ] {
            assert!(
                !gone.exists(),
                "{} is removed; left: {:?}",
                gone.display(),
                names(&d)
            );
        }
        for kept in [
            &live.token,
            &recent.token,
            &newer.token,
            &loose.token,
            &upper,
            &bak,
            &notes,
            &new_temp,
            &outside,
            &d.join(KEY_FILE),
        ] {
            assert!(kept.exists(), "{} is kept", kept.display());
        }
        assert!(fs::symlink_metadata(&link.token)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(foreign.token.exists(), as_root, "another user's file is kept");
        assert!(c.read(&live, Need::Usable, Duration::ZERO).is_some());
        assert_eq!(
            block_on(sweep(&d, SWEEP_BUDGET)),
            Swept::default(),
            "nothing more to remove"
        );
    }

    /// A new directory (named after `label`) whose key 1 holds a token that expired two hours
    /// ago, and the time it was written at.
    fn expired_slot(label: &str) -> (PathBuf, HostCache, Slot, i64) {
        let d = private_file::test_dir(label);
        let c = cache(&d);
        let slot = c.slot(&key(1));
        let now = unix_now();
        c.write(&slot, &Token::new("old.b.c", now - 7200, now - 9000));
        (d, c, slot, now)
    }

    #[test]
    fn a_key_this_process_is_asking_for_is_not_swept() {
        let (d, _, slot, _) = expired_slot("hostsweep-asking");
        let asking = block_on(InUse::asking(&slot.name));
        assert_eq!(block_on(sweep(&d, SWEEP_BUDGET)), Swept::default());
        assert!(slot.token.exists());
        drop(asking);
        assert_eq!(block_on(sweep(&d, SWEEP_BUDGET)).tokens, 1);
        assert!(!slot.token.exists());
    }

    #[test]
    fn a_token_written_after_the_stale_one_was_judged_is_not_removed() {
        let (d, c, slot, now) = expired_slot("hostsweep-race");
        let judged = judge(&slot.token, &slot.name, now).expect("expired long ago");
        // Another process renames a fresh token into place (a new file) before the removal.
        c.write(&slot, &Token::new("new.b.c", now + 3600, now + 1800));
        assert!(!remove_if_same(&d, &slot.token, &slot.name, judged).unwrap());
        let t = c
            .read(&slot, Need::Usable, Duration::ZERO)
            .expect("the fresh token is in place");
        assert_eq!(t.secret(), "new.b.c");
        assert_eq!(
            names(&d),
            [format!("{}.token", slot.name), KEY_FILE.to_owned()],
            "nothing set aside is left"
        );
        // The file judged is removed.
        c.write(&slot, &Token::new("old.b.c", now - 7200, now - 9000));
        let judged = judge(&slot.token, &slot.name, now).unwrap();
        assert!(remove_if_same(&d, &slot.token, &slot.name, judged).unwrap());
        assert_eq!(names(&d), [KEY_FILE]);
    }

    #[test]
    fn a_process_sweeps_a_directory_at_most_once_per_interval() {
        let d = private_file::test_dir("hostsweep-due");
        assert!(sweep_due(&d));
        assert!(!sweep_due(&d));
        assert!(sweep_due(&private_file::test_dir("hostsweep-due")));
    }
}
