//! The C ABI. The only module with `unsafe` and `extern "C"`; no behaviour lives here.
//!
//! Every export follows one shape: run the body inside [`call`] (which catches panics and turns
//! a core [`Error`] into a status code and an optional error object), check pointers with the
//! typed-handle helpers of [`handle`] and read strings with the helpers below, call core, write
//! out-params only on success.
//!
//! Opaque C types are zero-sized marker structs (so cbindgen emits `typedef struct X X;`), each
//! implementing [`handle::Handle`] once; the casts between a marker pointer and the Rust value
//! behind it live in [`handle`] only. Status codes come from one table ([`status`]). Strings
//! handed to C go through [`c_string`].
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the safety contract of each export is in its header comment

pub mod claims;
pub mod client;
pub mod config;
pub mod error;
mod export;
pub(crate) mod handle;
pub mod log;
pub mod oracle;
pub mod signin;
pub mod status;
pub mod token;

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use aadtoken_core::Error;

pub use error::aadtoken_error;
pub use status::*;

/// Static text for a status code: its name and a short meaning. Never NULL; unknown codes give
/// "AADTOKEN_ERR_UNKNOWN: unknown status code". Thread-safe; the string must not be freed.
#[no_mangle]
pub extern "C" fn aadtoken_status_str(status: aadtoken_status) -> *const c_char {
    status::lookup(status)
        .map_or(status::UNKNOWN_TEXT, Status::c_text)
        .as_ptr()
        .cast()
}

/// The library version ("MAJOR.MINOR.PATCH"), static, never NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn aadtoken_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The library never prints: replace the default panic hook (which writes to stderr) with one
/// that keeps the message for the error object.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let text = format!(
                "panic at {}",
                info.location().map_or_else(|| "?".to_owned(), |l| l.to_string())
            );
            let _ = LAST_PANIC.try_with(|p| *p.borrow_mut() = Some(text));
        }));
    });
}

/// Run `body`, turning a panic into an `Internal` error that says where it happened (and
/// printing nothing). Shared by the C exports ([`call`]) and the JNI exports (`crate::jni`).
pub(crate) fn guarded<T, E: From<Error>>(body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    quiet_panics();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        let at = LAST_PANIC.try_with(|p| p.borrow_mut().take()).ok().flatten();
        Err(Error::internal(format!(
            "internal error in aadtoken ({}); please report it",
            at.unwrap_or_else(|| "panic".to_owned())
        ))
        .into())
    })
}

/// Run an export's body: catch panics, map an error to its status and, when `err` is not NULL,
/// hand the caller an error object through it.
pub(crate) fn call(
    err: *mut *mut aadtoken_error,
    body: impl FnOnce() -> Result<(), Error>,
) -> aadtoken_status {
    match guarded(body) {
        Ok(()) => AADTOKEN_OK,
        Err(e) => {
            let status = status_of(e.kind());
            // SAFETY: the caller passes either NULL or a pointer to writable storage for one
            // `aadtoken_error*` (the documented contract of every `err` parameter).
            unsafe { handle::write_opt(err, || error::into_raw(e, status)) };
            status
        }
    }
}

/// Run an infallible accessor; a panic yields `fallback`.
pub(crate) fn call_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    quiet_panics();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Read a required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::invalid_argument(name, "must not be NULL"));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| Error::invalid_argument(name, "is not valid UTF-8"))
}

/// Read an optional string argument: NULL means "not given".
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn opt_str<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        Ok(None)
    } else {
        arg_str(p, name).map(Some)
    }
}

/// A Rust string for C, NUL-terminated. The one rule for every string the library hands to C
/// (error and claims texts, log records, callback arguments, paths): a NUL inside it — which
/// only text from a server, a token or the host can carry — becomes a space.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}
