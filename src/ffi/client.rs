//! `aadtoken_client`: gets tokens for one identity.

use std::ffi::c_char;

use super::token::{self, aadtoken_token};
use super::{aadtoken_error, aadtoken_status, call, call_or, handle, opt_str, out_ptr};
use crate::core::{Client, Config};

/// A client for one identity (authority, application, credential). Thread-safe: share one per
/// identity between all threads. Clients with the same identity and scopes share cached tokens
/// and in-flight requests process-wide.
pub struct aadtoken_client {
    _private: [u8; 0],
}

/// Check the settings in `config` and create a client. The config is copied: it may be freed
/// or changed afterwards. No network request is made here.
///
/// On success `*out` receives the client (the caller frees it with `aadtoken_client_free`).
/// Returns `AADTOKEN_ERR_INVALID_ARGUMENT` if `config` or `out` is NULL;
/// `AADTOKEN_ERR_MISSING_SETTING` / `AADTOKEN_ERR_INVALID_SETTING` naming the setting (e.g. no
/// `client_secret`, an unreadable `ca_file`). On error `*out` is not written and, if `err` is
/// not NULL, `*err` receives an error object.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_client_new(
    config: *const super::config::aadtoken_config,
    out: *mut *mut aadtoken_client,
    err: *mut *mut aadtoken_error,
) -> aadtoken_status {
    call(err, || {
        let config: &Config = handle(config, "config")?;
        out_ptr(out, "out")?;
        let client = Client::new(config)?;
        // SAFETY: `out` is non-NULL (checked above) and points to writable storage.
        unsafe { *out = Box::into_raw(Box::new(client)).cast() };
        Ok(())
    })
}

/// Get a token for `scopes` (space separated; NULL = the configured `scope` setting).
///
/// Returns the cached token while it has more than `expiry_margin_s` left — no lock, no I/O —
/// else asks the identity provider, blocking the calling thread for at most `timeout_ms`.
/// Concurrent callers for the same identity and scopes share one request.
///
/// On success `*out` receives a token the caller frees with `aadtoken_token_free`. On error
/// `*out` is not written, the status says what class of failure it was, and if `err` is not
/// NULL `*err` receives an error object (message, OAuth code, AADSTS code, correlation id).
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_client_get_token(
    client: *const aadtoken_client,
    scopes: *const c_char,
    out: *mut *mut aadtoken_token,
    err: *mut *mut aadtoken_error,
) -> aadtoken_status {
    call(err, || {
        let client: &Client = handle(client, "client")?;
        let scopes = opt_str(scopes, "scopes")?;
        out_ptr(out, "out")?;
        let t = client.get_token(scopes)?;
        // SAFETY: `out` is non-NULL (checked above) and points to writable storage.
        unsafe { *out = token::into_raw(t) };
        Ok(())
    })
}

/// Like `aadtoken_client_get_token`, but always asks the identity provider and replaces the
/// cached token for these scopes (use it when a server rejected a token before its expiry).
/// Tokens handed out earlier stay valid objects. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_client_refresh_token(
    client: *const aadtoken_client,
    scopes: *const c_char,
    out: *mut *mut aadtoken_token,
    err: *mut *mut aadtoken_error,
) -> aadtoken_status {
    call(err, || {
        let client: &Client = handle(client, "client")?;
        let scopes = opt_str(scopes, "scopes")?;
        out_ptr(out, "out")?;
        let t = client.refresh_token(scopes)?;
        // SAFETY: `out` is non-NULL (checked above) and points to writable storage.
        unsafe { *out = token::into_raw(t) };
        Ok(())
    })
}

/// Free a client. NULL is allowed and does nothing. No other thread may be using the client
/// during or after this call; tokens obtained from it stay valid until freed, and cached tokens
/// stay in the process-wide cache for other clients of the same identity.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_client_free(client: *mut aadtoken_client) {
    if !client.is_null() {
        // SAFETY: `client` came from `aadtoken_client_new` and is freed once (caller's contract).
        call_or((), || drop(unsafe { Box::from_raw(client.cast::<Client>()) }));
    }
}
