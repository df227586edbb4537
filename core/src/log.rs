//! Logging: one process-wide sink that says what the library is doing (requests sent, cache
//! hits and misses, single-flight joins, refresh scheduling, retries, throttling, token files).
//!
//! * The sink is the host's ([`set_sink`]: a boxed closure; the C ABI wraps a C callback in one),
//!   or, when the host set none, the file named by `AADTOKEN_LOG_FILE` at the level named by
//!   `AADTOKEN_LOG` (read once, on the first log call; opened append-only, created mode 0600,
//!   never through a symbolic link). Nothing ever goes to stdout or stderr.
//! * Cheap when off: [`enabled`] is one relaxed atomic load; messages are formatted only when a
//!   sink wants their level.
//! * Never a secret: call sites log names, endpoints, times, counts and correlation ids, never
//!   credential values or tokens. As a second line of defence every message is scrubbed of
//!   JWT-shaped text (`eyJ….….`) before it reaches the sink. User names (PII) are logged only
//!   through [`pii`], which hides them unless the client's `log_pii` setting is true.
//! * A sink that logs, or calls back into the library, from inside the callback does not
//!   recurse: records made while the sink runs on the same thread are dropped.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

/// How much a record matters; a sink gets the records at or below its level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// A call failed and the host will see the error.
    Error = 1,
    /// Something went wrong that the library works around (a background refresh failed, a
    /// throttle, a retry).
    Warn = 2,
    /// A token was obtained or written, a credential chosen: a few lines an hour.
    Info = 3,
    /// Requests sent and answered, cache misses, single-flight joins, refresh scheduling.
    Debug = 4,
    /// Every cache hit.
    Trace = 5,
}

impl Level {
    /// The level of its number (0 = off … 5 = trace, as in the C API), if it is one.
    pub fn from_u32(n: u32) -> Option<Level> {
        [Level::Error, Level::Warn, Level::Info, Level::Debug, Level::Trace]
            .into_iter()
            .find(|l| *l as u32 == n)
    }

    /// `error`, `warn` (or `warning`), `info`, `debug`, `trace`, or the numbers 1–5.
    pub fn parse(s: &str) -> Option<Level> {
        let s = s.trim().to_ascii_lowercase();
        Some(match s.as_str() {
            "error" | "1" => Level::Error,
            "warn" | "warning" | "2" => Level::Warn,
            "info" | "3" => Level::Info,
            "debug" | "4" => Level::Debug,
            "trace" | "5" => Level::Trace,
            _ => return None,
        })
    }

    /// The level's name (`ERROR`, `WARN`, …).
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One log record, borrowed for the duration of the sink call.
#[derive(Debug)]
pub struct Record<'a> {
    /// How severe the record is.
    pub level: Level,
    /// The module that logged it (`aadtoken::core::cache`…: the names hosts filter on stay
    /// those of the single-crate releases).
    pub target: &'a str,
    /// What happened, in one line.
    pub message: &'a str,
    /// The `client-request-id` of the request it is about, when there is one.
    pub correlation_id: Option<&'a str>,
}

/// A host's sink: called on whichever thread logs (callers' threads and library threads), so it
/// must be thread-safe and should be quick.
pub type Sink = Box<dyn Fn(&Record<'_>) + Send + Sync>;

/// The highest level any sink wants; 0 = off; `UNREAD` = the environment not read yet.
static MAX: AtomicU32 = AtomicU32::new(UNREAD);
const UNREAD: u32 = u32::MAX;
static SINK: ArcSwapOption<Installed> = ArcSwapOption::const_empty();
/// Serialises changes of the sink (and the one-time read of the environment).
static CHANGE: Mutex<()> = Mutex::new(());

struct Installed {
    level: Level,
    sink: Sink,
}

thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Whether a record at `level` would go anywhere. One atomic load (after the first call).
#[inline]
pub fn enabled(level: Level) -> bool {
    let max = MAX.load(Ordering::Relaxed);
    if max == UNREAD {
        return read_environment() >= level as u32;
    }
    max >= level as u32
}

/// Install the host's sink for records at `level` and below (replacing any sink, including the
/// `AADTOKEN_LOG_FILE` one); `None` turns logging off.
pub fn set_sink(level: Level, sink: Option<Sink>) {
    let _guard = CHANGE.lock().unwrap_or_else(|p| p.into_inner());
    match sink {
        Some(sink) => {
            SINK.store(Some(Arc::new(Installed { level, sink })));
            MAX.store(level as u32, Ordering::Relaxed);
        }
        None => {
            MAX.store(0, Ordering::Relaxed);
            SINK.store(None);
        }
    }
}

/// Read `AADTOKEN_LOG` / `AADTOKEN_LOG_FILE` once; returns the level now in force.
fn read_environment() -> u32 {
    let _guard = CHANGE.lock().unwrap_or_else(|p| p.into_inner());
    let max = MAX.load(Ordering::Relaxed);
    if max != UNREAD {
        return max; // another thread read it, or a host set a sink meanwhile
    }
    let sink = environment_sink(|n| std::env::var_os(n));
    let level = sink.as_ref().map_or(0, |s| s.level as u32);
    SINK.store(sink.map(Arc::new));
    MAX.store(level, Ordering::Relaxed);
    level
}

/// The file sink the environment asks for: `AADTOKEN_LOG=<level>` with `AADTOKEN_LOG_FILE=<path>`.
/// Anything missing or wrong (no file named, a symbolic link, no permission) means no logging:
/// the library has nowhere else it may write.
fn environment_sink(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<Installed> {
    let level = Level::parse(var("AADTOKEN_LOG")?.to_str()?)?;
    let path = var("AADTOKEN_LOG_FILE").filter(|p| !p.is_empty())?;
    let file = open_log_file(std::path::Path::new(&path)).ok()?;
    Some(Installed {
        level,
        // No lock around the write: each line goes out in one write(2) on a file opened with
        // O_APPEND, which the kernel appends whole even when threads or processes write at
        // once. A lock would be copied into a forked child in whatever state a parent thread
        // left it, and the child's first log line would wait forever for a writer that does
        // not exist there.
        sink: Box::new(move |r: &Record<'_>| {
            let line = format_line(r);
            let _ = (&file).write_all(line.as_bytes());
        }),
    })
}

/// Open (or create, mode 0600) a log file for appending, refusing a symbolic link.
pub fn open_log_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// `2026-11-29T10:48:18.123Z LEVEL target: message [correlation_id=…]` and a newline.
pub fn format_line(r: &Record<'_>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut line = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z {:5} {}: {}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis(),
        r.level.name(),
        r.target,
        r.message
    );
    if let Some(c) = r.correlation_id {
        line.push_str(" [correlation_id=");
        line.push_str(c);
        line.push(']');
    }
    line.push('\n');
    line
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The private parts of public modules, which log under the public module's name (the names
/// hosts filter on do not change when a module is split).
const PRIVATE_PARTS: &[(&str, &str)] = &[
    ("::http::send", "::http"),
    ("::http::tls", "::http"),
    ("::http::error_body", "::http"),
];

/// The public module of the module path `rest` (after the crate name).
fn public_module(rest: &str) -> &str {
    PRIVATE_PARTS
        .iter()
        .find_map(|(part, public)| (*part == rest).then_some(*public))
        .unwrap_or(rest)
}

/// Hand a record to the sink (call through the `log_*!` macros, which check [`enabled`]
/// first so that nothing is formatted when logging is off).
pub fn emit(level: Level, target: &'static str, correlation_id: Option<&str>, message: fmt::Arguments<'_>) {
    let Some(installed) = SINK.load_full() else { return };
    if level > installed.level {
        return;
    }
    // A sink that logs or calls the library: drop what it causes instead of recursing.
    if IN_SINK.try_with(|f| f.replace(true)).unwrap_or(true) {
        return;
    }
    let text = message.to_string();
    let text = scrub(&text);
    let shown_target = match target.strip_prefix("aadtoken_core") {
        Some(rest) => std::borrow::Cow::Owned(format!("aadtoken::core{}", public_module(rest))),
        None => std::borrow::Cow::Borrowed(target),
    };
    let record = Record {
        level,
        target: &shown_target,
        message: &text,
        correlation_id,
    };
    // A Rust sink's panic must not reach the caller (C sinks cannot panic).
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (installed.sink)(&record)));
    let _ = IN_SINK.try_with(|f| f.set(false));
}

/// Replace anything shaped like a JWT (`eyJ` + base64url, a dot, base64url, a dot) with
/// `[redacted JWT]`: call sites never log tokens or assertions, and this makes sure of it.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if !text.contains("eyJ") {
        return Cow::Borrowed(text);
    }
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while let Some(found) = text[i..].find("eyJ") {
        let start = i + found;
        // header: base64url run, then '.', payload run, then '.'
        let mut j = start;
        while j < bytes.len() && b64(bytes[j]) {
            j += 1;
        }
        let mut jwt = false;
        if j < bytes.len() && bytes[j] == b'.' {
            let mut k = j + 1;
            while k < bytes.len() && b64(bytes[k]) {
                k += 1;
            }
            if k > j + 1 && k < bytes.len() && bytes[k] == b'.' {
                // and the signature, if any
                let mut s = k + 1;
                while s < bytes.len() && (b64(bytes[s]) || bytes[s] == b'.') {
                    s += 1;
                }
                out.push_str(&text[copied..start]);
                out.push_str("[redacted JWT]");
                copied = s;
                i = s;
                jwt = true;
            }
        }
        if !jwt {
            i = start + 3;
        }
        if i >= text.len() {
            break;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// A user name or UPN for a log message: itself when the client's `log_pii` is true, else a
/// placeholder.
pub fn pii(log_pii: bool, value: &str) -> Cow<'_, str> {
    if log_pii {
        Cow::Borrowed(value)
    } else {
        Cow::Borrowed("[user hidden: set log_pii=true to show]")
    }
}

/// An error as log text: its kind and the identity provider's diagnostics (HTTP status, OAuth
/// code, AADSTS numbers), and the message only for local and transport failures. Messages of
/// the identity provider's refusals can name the user (a person sign-in), so they stay in the
/// error object the caller gets, out of the log.
pub fn error_summary(e: &crate::error::Error) -> String {
    use crate::error::ErrorKind as K;
    let mut out = format!("{:?}", e.kind());
    if let Some(s) = e.http_status() {
        out.push_str(&format!(", HTTP {s}"));
    }
    if let Some(code) = e.oauth_error() {
        out.push_str(&format!(", {code}"));
    }
    for n in e.aadsts() {
        out.push_str(&format!(", AADSTS{n}"));
    }
    if let Some(after) = e.retry_after() {
        out.push_str(&format!(", Retry-After {} s", after.as_secs()));
    }
    if matches!(
        e.kind(),
        K::Network
            | K::Timeout
            | K::Tls
            | K::BadResponse
            | K::File
            | K::UnsafePath
            | K::TooManyRefreshes
            | K::Cancelled
            | K::Callback
            | K::CallbackRequired
            | K::Internal
    ) {
        out.push_str(": ");
        out.push_str(e.message());
    }
    out
}

/// The scrubbed-and-formatted form of a record for tests and simple sinks (no timestamp).
pub fn plain(r: &Record<'_>) -> String {
    match r.correlation_id {
        Some(c) => format!("{} {}: {} [correlation_id={c}]", r.level, r.target, r.message),
        None => format!("{} {}: {}", r.level, r.target, r.message),
    }
}

/// For tests of the environment sink: apply `AADTOKEN_LOG`/`AADTOKEN_LOG_FILE` from `var`
/// instead of the process environment (replacing any sink).
pub fn set_from_environment(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    let _guard = CHANGE.lock().unwrap_or_else(|p| p.into_inner());
    let sink = environment_sink(var);
    let level = sink.as_ref().map_or(0, |s| s.level as u32);
    SINK.store(sink.map(Arc::new));
    MAX.store(level, Ordering::Relaxed);
    level != 0
}

/// `log_at!(level, [cid = expr;] "format", args…)`: log when `level` is enabled.
#[macro_export]
#[doc(hidden)]
macro_rules! log_at {
    ($level:expr, $(cid = $cid:expr;)? $fmt:literal $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, module_path!(), None $(.or($cid))?, format_args!($fmt $($arg)*));
        }
    };
}

/// Writes the exported level macros, one per `$name => $level;` line: `$name!(…)` is
/// `log_at!(Level::$level, …)`. (`$d` is a `$`, for the repetitions of the macros it writes.)
/// Macro-written exported macros cannot be named by a path inside this crate (`crate::log_info!`
/// does not compile): core uses them by name (`log_info!`), in scope for every module because
/// `lib.rs` declares `mod log` first, with `#[macro_use]`; other crates use `aadtoken_core::log_info!`.
macro_rules! level_macros {
    ($d:tt $($(#[$doc:meta])* $name:ident => $level:ident;)*) => {$(
        $(#[$doc])*
        #[macro_export]
        #[doc(hidden)]
        macro_rules! $name {
            ($d($d arg:tt)+) => { $crate::log_at!($crate::log::Level::$level, $d($d arg)+) };
        }
    )*};
}

level_macros! {$
    /// Error-level record (see [`log_at`]).
    log_error => Error;
    /// Warn-level record.
    log_warn => Warn;
    /// Info-level record.
    log_info => Info;
    /// Debug-level record.
    log_debug => Debug;
    /// Trace-level record.
    log_trace => Trace;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_of_http_log_as_http() {
        assert_eq!(public_module("::http::send"), "::http");
        assert_eq!(public_module("::http"), "::http");
        assert_eq!(public_module("::cache"), "::cache");
        assert_eq!(public_module("::credential::chain"), "::credential::chain");
    }

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse(" Debug "), Some(Level::Debug));
        assert_eq!(Level::parse("warning"), Some(Level::Warn));
        assert_eq!(Level::parse("5"), Some(Level::Trace));
        assert_eq!(Level::parse("verbose"), None);
        assert!(Level::Error < Level::Trace);
        assert_eq!(Level::from_u32(3), Some(Level::Info));
        assert_eq!(Level::from_u32(0), None);
        assert_eq!(Level::from_u32(6), None);
    }

    #[test]
    fn scrub_removes_jwt_shaped_text_only() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        assert_eq!(scrub(&format!("token {jwt} sent")), "token [redacted JWT] sent");
        assert_eq!(scrub(jwt), "[redacted JWT]");
        assert_eq!(scrub("eyJhbGciOiJub25lIn0.eyJ4IjoxfQ."), "[redacted JWT]");
        assert_eq!(scrub("eyJ only, no dots"), "eyJ only, no dots");
        assert_eq!(scrub("eyJa.b"), "eyJa.b");
        assert_eq!(scrub("plain text"), "plain text");
        assert_eq!(
            scrub(&format!("a {jwt} b {jwt}")),
            "a [redacted JWT] b [redacted JWT]"
        );
        assert_eq!(scrub("ééeyJ"), "ééeyJ");
    }

    #[test]
    fn dates_of_log_lines() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn pii_is_hidden_unless_asked_for() {
        assert_eq!(pii(true, "bob@contoso.com"), "bob@contoso.com");
        assert!(!pii(false, "bob@contoso.com").contains("bob"));
    }
}
