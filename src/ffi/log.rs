//! Logging from C: `aadtoken_set_log_callback` and the record it hands to the callback.

use std::ffi::{c_char, c_void};

use super::c_string;
use super::export::fallible;
use super::handle::UserData;
use aadtoken_core::log::{self, Level, Record};
use aadtoken_core::Error;

/// Logging off (`aadtoken_set_log_callback` with this level, or a NULL callback).
pub const AADTOKEN_LOG_OFF: u32 = 0;
/// A call failed; the caller gets the error too.
pub const AADTOKEN_LOG_ERROR: u32 = 1;
/// Something went wrong that the library works around: a failed background refresh, a retry,
/// throttling.
pub const AADTOKEN_LOG_WARN: u32 = 2;
/// A token obtained or written, a credential chosen: a few lines an hour.
pub const AADTOKEN_LOG_INFO: u32 = 3;
/// Requests sent and answered, cache misses, single-flight joins, refresh scheduling.
pub const AADTOKEN_LOG_DEBUG: u32 = 4;
/// Every cache hit.
pub const AADTOKEN_LOG_TRACE: u32 = 5;

/// One log record, passed by pointer to the log callback and valid only during the call (copy
/// what you keep).
///
/// Extensible: fields are only ever appended. `struct_size` is `sizeof` the record the library
/// filled; before reading a field added in a later version, check that `struct_size` is larger
/// than the field's offset (`offsetof`), so a host built against a newer header works with an
/// older library and the other way round.
#[repr(C)]
pub struct aadtoken_log_record {
    /// The size of this record in bytes, as the library filled it.
    pub struct_size: u32,
    /// `AADTOKEN_LOG_ERROR` (1) … `AADTOKEN_LOG_TRACE` (5).
    pub level: u32,
    /// The module that logged it ("aadtoken::core::cache"…), NUL-terminated, never NULL.
    pub target: *const c_char,
    /// What happened, one line of UTF-8, NUL-terminated, never NULL. Never contains a secret
    /// or a token; user names only with the client setting `log_pii=true`.
    pub message: *const c_char,
    /// The `client-request-id` of the request the record is about, or NULL.
    pub correlation_id: *const c_char,
}

/// The log callback: `record` is valid during the call only. Runs on whichever thread logs —
/// the host's threads that call aadtoken, and the library's own — possibly on several at once,
/// so it must be thread-safe, and should return quickly. It may call aadtoken functions that
/// do not wait for a token request (a cached `aadtoken_client_get_token`, the error and token
/// accessors); a record may come from inside a request, and a call that waits for that same
/// request from its callback would wait for itself. Records that aadtoken would make while the
/// callback runs on the same thread are dropped, never passed to it recursively.
pub type aadtoken_log_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, record: *const aadtoken_log_record)>;

struct CLog {
    callback: unsafe extern "C" fn(*mut c_void, *const aadtoken_log_record),
    userdata: UserData,
}

impl CLog {
    fn log(&self, r: &Record<'_>) {
        let (target, message) = (c_string(r.target), c_string(r.message));
        let correlation = r.correlation_id.map(c_string);
        let record = aadtoken_log_record {
            struct_size: std::mem::size_of::<aadtoken_log_record>() as u32,
            level: r.level as u32,
            target: target.as_ptr(),
            message: message.as_ptr(),
            correlation_id: correlation.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        };
        // SAFETY: the host registered `callback` for this; `record` and the strings it points
        // to live until it returns.
        unsafe { (self.callback)(self.userdata.get(), &record) }
    }
}

fallible! {
    /// Send the library's log records at `min_level` and more severe (`AADTOKEN_LOG_ERROR` = 1 …
    /// `AADTOKEN_LOG_TRACE` = 5) to `callback`, process-wide, replacing any callback set before and
    /// the `AADTOKEN_LOG_FILE` file. `callback` NULL or `min_level` `AADTOKEN_LOG_OFF` (0) turns
    /// logging off. `userdata` is passed to every call as is and must stay valid, and usable from
    /// any thread, until logging is turned off or another callback is set (and calls in progress on
    /// other threads have returned). Cheap when off: one atomic load per would-be record.
    ///
    /// Messages never contain secrets, tokens, assertions, refresh tokens, codes or passwords, and
    /// name users only for clients with `log_pii=true`. Without a callback, a host can set
    /// `AADTOKEN_LOG=debug` and `AADTOKEN_LOG_FILE=/path` in the environment (read at the first log
    /// call); the library never logs to stdout or stderr.
    ///
    /// Returns `AADTOKEN_OK`, or `AADTOKEN_ERR_INVALID_ARGUMENT` for a level above 5 (nothing
    /// changes). Thread-safe.
    fn aadtoken_set_log_callback(min_level: u32, callback: aadtoken_log_fn, userdata: *mut c_void) {
        if min_level > AADTOKEN_LOG_TRACE {
            return Err(Error::invalid_argument(
                "min_level",
                "must be AADTOKEN_LOG_OFF (0) or AADTOKEN_LOG_ERROR (1) … AADTOKEN_LOG_TRACE (5)",
            ));
        }
        match (Level::from_u32(min_level), callback) {
            (Some(level), Some(callback)) => {
                let sink = CLog {
                    callback,
                    userdata: UserData::new(userdata),
                };
                log::set_sink(level, Some(Box::new(move |r: &Record<'_>| sink.log(r))));
            }
            _ => log::set_sink(Level::Error, None),
        }
        Ok(())
    }
}
