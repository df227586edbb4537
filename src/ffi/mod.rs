//! The C ABI. The only module with `unsafe` and `extern "C"`; no behaviour lives here.
//!
//! Every export follows one shape: run the body inside [`call`] (which catches panics and turns
//! a core [`Error`] into a status code and an optional error object), check pointers with the
//! typed-handle helpers of [`handle`] and read strings with the helpers below, call core, write
//! out-params only on success.
//!
//! Opaque C types are zero-sized marker structs (so cbindgen emits `typedef struct X X;`), each
//! implementing [`handle::Handle`] once; the casts between a marker pointer and the Rust value
//! behind it live in [`handle`] only. Strings
//! handed to C go through [`c_string`].
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the safety contract of each export is in its header comment

pub mod claims;
pub mod client;
pub mod config;
pub mod error;
pub(crate) mod handle;
pub mod log;
pub mod oracle;
pub mod signin;
pub mod token;

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use aadtoken_core::{Error, ErrorKind};

pub use error::aadtoken_error;

/// A status code. `AADTOKEN_OK` (0) is success; errors are grouped in ranges by cause, and a
/// number, once given a meaning, is never reused.
pub type aadtoken_status = u32;

/// Success.
pub const AADTOKEN_OK: aadtoken_status = 0;

// 100–199: the caller's arguments and settings.
/// A required pointer was NULL, or a string was not valid UTF-8, or an argument was malformed.
/// The error message names the argument.
pub const AADTOKEN_ERR_INVALID_ARGUMENT: aadtoken_status = 100;
/// A setting key that aadtoken does not know. The message names the key.
pub const AADTOKEN_ERR_UNKNOWN_SETTING: aadtoken_status = 101;
/// A setting value that is not acceptable (empty, not https, not a number, unreadable file).
/// The message names the key.
pub const AADTOKEN_ERR_INVALID_SETTING: aadtoken_status = 102;
/// A setting required by the chosen way of authenticating is missing. The message names it.
pub const AADTOKEN_ERR_MISSING_SETTING: aadtoken_status = 103;

// 200–299: reaching the identity provider.
/// The identity provider could not be reached (DNS failure, connection refused or reset).
pub const AADTOKEN_ERR_NETWORK: aadtoken_status = 200;
/// The call did not complete within `timeout_ms`.
pub const AADTOKEN_ERR_TIMEOUT: aadtoken_status = 201;
/// The TLS handshake failed (untrusted CA, wrong host name, expired certificate).
pub const AADTOKEN_ERR_TLS: aadtoken_status = 202;
/// The answer was not a valid OAuth response (e.g. a proxy's HTML page, a missing field).
pub const AADTOKEN_ERR_BAD_RESPONSE: aadtoken_status = 203;

// 300–399: the identity provider refused.
/// The client's credentials were rejected (`invalid_client`: wrong or expired secret…).
pub const AADTOKEN_ERR_INVALID_CLIENT: aadtoken_status = 300;
/// The application is unknown in the tenant or may not use this flow (`unauthorized_client`).
pub const AADTOKEN_ERR_UNAUTHORIZED_CLIENT: aadtoken_status = 301;
/// The scope is not valid (`invalid_scope`: no `/.default`, several resources, malformed).
pub const AADTOKEN_ERR_INVALID_SCOPE: aadtoken_status = 302;
/// The resource named by the scope is not registered in the tenant (`invalid_resource`).
pub const AADTOKEN_ERR_INVALID_RESOURCE: aadtoken_status = 303;
/// The tenant does not exist in this cloud (AADSTS90002).
pub const AADTOKEN_ERR_TENANT_NOT_FOUND: aadtoken_status = 304;
/// A grant (refresh token, authorization code, assertion) was rejected (`invalid_grant`).
pub const AADTOKEN_ERR_INVALID_GRANT: aadtoken_status = 305;
/// A person must sign in again (`interaction_required`).
pub const AADTOKEN_ERR_INTERACTION_REQUIRED: aadtoken_status = 306;
/// The identity provider is throttling (HTTP 429, or 503 with `Retry-After`); see
/// `aadtoken_error_retry_after`.
pub const AADTOKEN_ERR_THROTTLED: aadtoken_status = 307;
/// The identity provider failed (HTTP 5xx).
pub const AADTOKEN_ERR_SERVER_ERROR: aadtoken_status = 308;
/// Any other OAuth error from the identity provider; see `aadtoken_error_oauth_code`.
pub const AADTOKEN_ERR_IDENTITY_PROVIDER: aadtoken_status = 309;
/// Device code sign-in: the identity provider did not recognise the device code
/// (`bad_verification_code`).
pub const AADTOKEN_ERR_BAD_VERIFICATION_CODE: aadtoken_status = 310;

// 400–499: local files and paths.
/// A local file or directory could not be read or written (the token file's directory is
/// missing, permission denied, disk full). The message names the path.
pub const AADTOKEN_ERR_FILE: aadtoken_status = 400;
/// A path was refused for safety: the token location is a symbolic link, or its directory can
/// be written by other users. The message names the path and the reason.
pub const AADTOKEN_ERR_UNSAFE_PATH: aadtoken_status = 401;

// 500–599: flow control.
/// `aadtoken_client_refresh_token` was called more than 10 times within a minute for the same
/// identity and scopes; no request was made (Entra ID would answer AADSTS50196 "loop detected").
pub const AADTOKEN_ERR_TOO_MANY_REFRESHES: aadtoken_status = 500;
/// The request was cancelled (`aadtoken_request_cancel`, or `aadtoken_shutdown` before it ended).
pub const AADTOKEN_ERR_CANCELLED: aadtoken_status = 501;
/// A callback of the host failed (the client-assertion callback returned non-zero, or an
/// empty, oversized or non-UTF-8 assertion). The message says which.
pub const AADTOKEN_ERR_CALLBACK: aadtoken_status = 502;
/// Signing a person in needs a callback the host has not set: the device-code prompt
/// (`aadtoken_config_set_device_code_callback`), or an open-URL callback when the system browser
/// could not be started. The library never prints the device-code message itself.
pub const AADTOKEN_ERR_CALLBACK_REQUIRED: aadtoken_status = 510;
/// The person declined or cancelled the sign-in (`access_denied` on the browser redirect,
/// `authorization_declined` for a device code).
pub const AADTOKEN_ERR_USER_CANCELLED: aadtoken_status = 511;
/// The sign-in was not completed in time: the device code expired (`expired_token`, or its
/// `expires_in` passed), or no browser redirect came within `interactive_timeout_s`.
pub const AADTOKEN_ERR_SIGN_IN_EXPIRED: aadtoken_status = 512;
/// A browser sign-in's redirect carried another `state` than the one aadtoken sent (a stale
/// tab or a forged redirect); nothing was redeemed.
pub const AADTOKEN_ERR_STATE_MISMATCH: aadtoken_status = 513;

// 900–999: aadtoken itself.
/// A bug in aadtoken (including a caught panic). Please report it.
pub const AADTOKEN_ERR_INTERNAL: aadtoken_status = 900;

/// The C status code of an error kind (also used by the bindings and the tests).
pub fn status_of(kind: ErrorKind) -> aadtoken_status {
    match kind {
        ErrorKind::InvalidArgument => AADTOKEN_ERR_INVALID_ARGUMENT,
        ErrorKind::UnknownSetting => AADTOKEN_ERR_UNKNOWN_SETTING,
        ErrorKind::InvalidSetting => AADTOKEN_ERR_INVALID_SETTING,
        ErrorKind::MissingSetting => AADTOKEN_ERR_MISSING_SETTING,
        ErrorKind::Network => AADTOKEN_ERR_NETWORK,
        ErrorKind::Timeout => AADTOKEN_ERR_TIMEOUT,
        ErrorKind::Tls => AADTOKEN_ERR_TLS,
        ErrorKind::BadResponse => AADTOKEN_ERR_BAD_RESPONSE,
        ErrorKind::InvalidClient => AADTOKEN_ERR_INVALID_CLIENT,
        ErrorKind::UnauthorizedClient => AADTOKEN_ERR_UNAUTHORIZED_CLIENT,
        ErrorKind::InvalidScope => AADTOKEN_ERR_INVALID_SCOPE,
        ErrorKind::InvalidResource => AADTOKEN_ERR_INVALID_RESOURCE,
        ErrorKind::TenantNotFound => AADTOKEN_ERR_TENANT_NOT_FOUND,
        ErrorKind::InvalidGrant => AADTOKEN_ERR_INVALID_GRANT,
        ErrorKind::InteractionRequired => AADTOKEN_ERR_INTERACTION_REQUIRED,
        ErrorKind::Throttled => AADTOKEN_ERR_THROTTLED,
        ErrorKind::ServerError => AADTOKEN_ERR_SERVER_ERROR,
        ErrorKind::IdentityProvider => AADTOKEN_ERR_IDENTITY_PROVIDER,
        ErrorKind::File => AADTOKEN_ERR_FILE,
        ErrorKind::UnsafePath => AADTOKEN_ERR_UNSAFE_PATH,
        ErrorKind::TooManyRefreshes => AADTOKEN_ERR_TOO_MANY_REFRESHES,
        ErrorKind::Cancelled => AADTOKEN_ERR_CANCELLED,
        ErrorKind::Callback => AADTOKEN_ERR_CALLBACK,
        ErrorKind::CallbackRequired => AADTOKEN_ERR_CALLBACK_REQUIRED,
        ErrorKind::UserCancelled => AADTOKEN_ERR_USER_CANCELLED,
        ErrorKind::SignInExpired => AADTOKEN_ERR_SIGN_IN_EXPIRED,
        ErrorKind::StateMismatch => AADTOKEN_ERR_STATE_MISMATCH,
        ErrorKind::BadVerificationCode => AADTOKEN_ERR_BAD_VERIFICATION_CODE,
        ErrorKind::Internal => AADTOKEN_ERR_INTERNAL,
    }
}

/// Static text for a status code: its name and a short meaning. Never NULL; unknown codes give
/// "AADTOKEN_ERR_UNKNOWN: unknown status code". Thread-safe; the string must not be freed.
#[no_mangle]
pub extern "C" fn aadtoken_status_str(status: aadtoken_status) -> *const c_char {
    let text: &'static [u8] = match status {
        AADTOKEN_OK => b"AADTOKEN_OK: success\0",
        AADTOKEN_ERR_INVALID_ARGUMENT => {
            b"AADTOKEN_ERR_INVALID_ARGUMENT: an argument was NULL, not UTF-8 or malformed\0"
        }
        AADTOKEN_ERR_UNKNOWN_SETTING => b"AADTOKEN_ERR_UNKNOWN_SETTING: unknown setting key\0",
        AADTOKEN_ERR_INVALID_SETTING => b"AADTOKEN_ERR_INVALID_SETTING: invalid setting value\0",
        AADTOKEN_ERR_MISSING_SETTING => b"AADTOKEN_ERR_MISSING_SETTING: a required setting is missing\0",
        AADTOKEN_ERR_NETWORK => b"AADTOKEN_ERR_NETWORK: the identity provider could not be reached\0",
        AADTOKEN_ERR_TIMEOUT => b"AADTOKEN_ERR_TIMEOUT: no answer within timeout_ms\0",
        AADTOKEN_ERR_TLS => b"AADTOKEN_ERR_TLS: TLS handshake failed\0",
        AADTOKEN_ERR_BAD_RESPONSE => {
            b"AADTOKEN_ERR_BAD_RESPONSE: the answer was not a valid OAuth response\0"
        }
        AADTOKEN_ERR_INVALID_CLIENT => b"AADTOKEN_ERR_INVALID_CLIENT: client credentials rejected\0",
        AADTOKEN_ERR_UNAUTHORIZED_CLIENT => {
            b"AADTOKEN_ERR_UNAUTHORIZED_CLIENT: application unknown in the tenant or not allowed\0"
        }
        AADTOKEN_ERR_INVALID_SCOPE => b"AADTOKEN_ERR_INVALID_SCOPE: invalid scope\0",
        AADTOKEN_ERR_INVALID_RESOURCE => b"AADTOKEN_ERR_INVALID_RESOURCE: resource not found in the tenant\0",
        AADTOKEN_ERR_TENANT_NOT_FOUND => b"AADTOKEN_ERR_TENANT_NOT_FOUND: tenant not found\0",
        AADTOKEN_ERR_INVALID_GRANT => b"AADTOKEN_ERR_INVALID_GRANT: grant rejected\0",
        AADTOKEN_ERR_INTERACTION_REQUIRED => {
            b"AADTOKEN_ERR_INTERACTION_REQUIRED: the user must sign in again\0"
        }
        AADTOKEN_ERR_THROTTLED => b"AADTOKEN_ERR_THROTTLED: throttled by the identity provider\0",
        AADTOKEN_ERR_SERVER_ERROR => b"AADTOKEN_ERR_SERVER_ERROR: the identity provider failed\0",
        AADTOKEN_ERR_IDENTITY_PROVIDER => b"AADTOKEN_ERR_IDENTITY_PROVIDER: the identity provider refused\0",
        AADTOKEN_ERR_FILE => b"AADTOKEN_ERR_FILE: a local file could not be read or written\0",
        AADTOKEN_ERR_UNSAFE_PATH => b"AADTOKEN_ERR_UNSAFE_PATH: unsafe path (symlink or others can write)\0",
        AADTOKEN_ERR_TOO_MANY_REFRESHES => {
            b"AADTOKEN_ERR_TOO_MANY_REFRESHES: refresh_token called too often (loop guard)\0"
        }
        AADTOKEN_ERR_CANCELLED => b"AADTOKEN_ERR_CANCELLED: the request was cancelled\0",
        AADTOKEN_ERR_CALLBACK => b"AADTOKEN_ERR_CALLBACK: a callback of the host failed\0",
        AADTOKEN_ERR_BAD_VERIFICATION_CODE => {
            b"AADTOKEN_ERR_BAD_VERIFICATION_CODE: the device code was not recognised\0"
        }
        AADTOKEN_ERR_CALLBACK_REQUIRED => {
            b"AADTOKEN_ERR_CALLBACK_REQUIRED: sign-in needs a host callback that is not set\0"
        }
        AADTOKEN_ERR_USER_CANCELLED => b"AADTOKEN_ERR_USER_CANCELLED: the person declined the sign-in\0",
        AADTOKEN_ERR_SIGN_IN_EXPIRED => {
            b"AADTOKEN_ERR_SIGN_IN_EXPIRED: the sign-in was not completed in time\0"
        }
        AADTOKEN_ERR_STATE_MISMATCH => {
            b"AADTOKEN_ERR_STATE_MISMATCH: the sign-in redirect's state did not match\0"
        }
        AADTOKEN_ERR_INTERNAL => b"AADTOKEN_ERR_INTERNAL: internal error in aadtoken\0",
        _ => b"AADTOKEN_ERR_UNKNOWN: unknown status code\0",
    };
    text.as_ptr().cast()
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
