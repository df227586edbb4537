//! `aadtoken_client`: gets tokens for one identity.

use std::ffi::{c_char, c_void};

use super::export::{fallible, token_exports};
use super::handle::{self, handle, read, UserData};
use super::token::aadtoken_token;
use super::{aadtoken_error, aadtoken_status, opt_str, status_of, AADTOKEN_OK};
use aadtoken_core::client::Pending;
use aadtoken_core::{Client, Error};

/// A client for one identity (authority, application, credential). Thread-safe: share one per
/// identity between all threads. Clients with the same identity and scopes share cached tokens
/// and in-flight requests process-wide.
pub struct aadtoken_client {
    _private: [u8; 0],
}

// SAFETY: every `aadtoken_client*` the library hands out is made by `aadtoken_client_new` (and
// the JNI `clientNew`); ODPI-C's `context` is documented to be one.
handle!(aadtoken_client: Box<Client>);

fallible! {
    /// Check the settings in `config` and create a client. The config is copied: it may be freed
    /// or changed afterwards. No network request is made here.
    ///
    /// On success `*out` receives the client (the caller frees it with `aadtoken_client_free`).
    /// Returns `AADTOKEN_ERR_INVALID_ARGUMENT` if `config` or `out` is NULL;
    /// `AADTOKEN_ERR_MISSING_SETTING` / `AADTOKEN_ERR_INVALID_SETTING` naming the setting (e.g. no
    /// `client_secret`, an unreadable `ca_file`). On error `*out` is not written and, if `err` is
    /// not NULL, `*err` receives an error object.
    fn aadtoken_client_new(config: *const super::config::aadtoken_config, out: *mut *mut aadtoken_client) {
        let config = handle::get(config, "config")?;
        let out = handle::out(out, "out")?;
        out.write(handle::into_raw(Box::new(Client::new(config)?)));
        Ok(())
    }
}

token_exports! {
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
    fn aadtoken_client_get_token => Client::get_token;

    /// Like `aadtoken_client_get_token`, but always asks the identity provider and replaces the
    /// cached token for these scopes (use it when a server rejected a token before its expiry).
    /// Tokens handed out earlier stay valid objects. Thread-safe.
    fn aadtoken_client_refresh_token => Client::refresh_token;

    /// Like `aadtoken_client_get_token`, for a database driver's token callback (python-oracledb,
    /// node-oracledb, ojdbc, or a host's own), which runs on the driver's thread while it opens a
    /// connection: it never waits for a person. With `auth_method=device_code` or `interactive`
    /// it answers from the signed-in account (the cached token, or a new one through its refresh
    /// token), or, when a person would have to sign in, fails at once with
    /// `AADTOKEN_ERR_INTERACTION_REQUIRED` — whatever `automatic_sign_in` says; the device-code and
    /// open-URL callbacks are not called. Sign in first on the host's own thread
    /// (`aadtoken_client_sign_in`, or `aadtoken login` with `cache_file`). Application credentials
    /// behave exactly as with `aadtoken_client_get_token`. Blocks for at most `timeout_ms`, also
    /// when it joins a request another thread started. Thread-safe.
    fn aadtoken_client_get_token_silent => Client::get_token_without_interaction;

    /// Like `aadtoken_client_refresh_token` (always asks the identity provider and replaces the
    /// cached token), for a driver's token callback as `aadtoken_client_get_token_silent`: it
    /// never waits for a person. A person's token is refreshed through the signed-in account's
    /// refresh token; with none, `AADTOKEN_ERR_INTERACTION_REQUIRED` at once. Application
    /// credentials behave exactly as with `aadtoken_client_refresh_token`. Thread-safe.
    fn aadtoken_client_refresh_token_silent => Client::refresh_token_without_interaction;
}

/// Free a client. NULL is allowed and does nothing. No other thread may be using the client
/// during or after this call; tokens obtained from it stay valid until freed, and cached tokens
/// stay in the process-wide cache for other clients of the same identity.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_client_free(client: *mut aadtoken_client) {
    // SAFETY: `client` is NULL or came from `aadtoken_client_new`, and is freed once.
    unsafe { handle::free(client) }
}

/// Called once with the outcome of `aadtoken_client_get_token_async`:
/// `status` is `AADTOKEN_OK` with a `token` the callee owns (free it with
/// `aadtoken_token_free`) and `error` NULL, or an error status with `token` NULL and an `error`
/// the callee owns (free it with `aadtoken_error_free`). Runs on a library thread, never inside
/// the call that started the request; it may call any aadtoken function.
pub type aadtoken_token_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        status: aadtoken_status,
        token: *mut aadtoken_token,
        error: *mut aadtoken_error,
    ),
>;

/// A started asynchronous request, for cancelling it. Freeing it does not cancel the request.
pub struct aadtoken_request {
    _private: [u8; 0],
}

// SAFETY: every `aadtoken_request*` the library hands out is made by
// `aadtoken_client_get_token_async`.
handle!(aadtoken_request: Box<Pending>);

fallible! {
    /// Start getting a token without blocking: returns at once, and `callback` runs exactly once on
    /// a library thread with the result (see `aadtoken_token_callback`) — a cached token, a new one,
    /// or an error; `AADTOKEN_ERR_TIMEOUT` after `timeout_ms`; `AADTOKEN_ERR_CANCELLED` if the
    /// request is cancelled with `aadtoken_request_cancel` or the library is shut down first (then the
    /// callback may run on the thread calling `aadtoken_shutdown`). `scopes` as in
    /// `aadtoken_client_get_token`; `userdata` is passed to the callback untouched.
    ///
    /// `request` is optional: when not NULL, on success `*request` receives a handle for
    /// `aadtoken_request_cancel`, which the caller frees with `aadtoken_request_free`.
    ///
    /// Returns `AADTOKEN_OK` when the request was started (the callback will run), or an error
    /// without starting anything (the callback will not run): `AADTOKEN_ERR_INVALID_ARGUMENT` for a
    /// NULL `client` or `callback`, or bad `scopes`. Thread-safe.
    fn aadtoken_client_get_token_async(
        client: *const aadtoken_client,
        scopes: *const c_char,
        callback: aadtoken_token_callback,
        userdata: *mut c_void,
        request: *mut *mut aadtoken_request,
    ) {
        let client = handle::get(client, "client")?;
        let scopes = opt_str(scopes, "scopes")?;
        let Some(callback) = callback else {
            return Err(Error::invalid_argument("callback", "must not be NULL"));
        };
        let userdata = UserData::new(userdata);
        let pending = client.get_token_async(
            scopes,
            Box::new(move |result| {
                let (status, tok, error) = match result {
                    Ok(t) => (AADTOKEN_OK, handle::into_raw(t), std::ptr::null_mut()),
                    Err(e) => {
                        let status = status_of(e.kind());
                        (status, std::ptr::null_mut(), super::error::into_raw(e, status))
                    }
                };
                // SAFETY: the host's callback, with the pointers it asked for; the token and
                // error objects become the callee's.
                unsafe { callback(userdata.get(), status, tok, error) };
            }),
        )?;
        // SAFETY: `request` is NULL or points to writable storage (caller's contract).
        unsafe { handle::write_opt(request, || handle::into_raw(Box::new(pending))) };
        Ok(())
    }
}

/// Cancel a request started by `aadtoken_client_get_token_async`: if it has not finished, its
/// callback runs with `AADTOKEN_ERR_CANCELLED` (on a library thread, soon after). A finished
/// request is unaffected. NULL does nothing. Thread-safe; may be called more than once.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_request_cancel(request: *const aadtoken_request) {
    read(request, (), |pending| pending.cancel())
}

/// Free a request handle (this does not cancel the request). NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_request_free(request: *mut aadtoken_request) {
    // SAFETY: `request` is NULL or came from `aadtoken_client_get_token_async`, freed once.
    unsafe { handle::free(request) }
}

/// Stop the library's background work (proactive refreshes, pending async requests, whose
/// callbacks get `AADTOKEN_ERR_CANCELLED`) and join its threads, so that `dlclose` or process
/// exit is safe. Call it when no other thread is inside an aadtoken function. Clients, tokens and
/// the cache stay valid: a later call that needs the network starts the library's thread again.
/// Calling it again, or before any network use, does nothing.
///
/// What a host can rely on afterwards: no library thread runs and no callback is called;
/// `dlclose` returns 0. The code is unmapped only if no living thread has called into the
/// library (glibc keeps a library loaded while a thread holds thread-local destructors of it,
/// and the thread calling this function is one); otherwise it stays mapped, and a new `dlopen`
/// of the same path returns that same library with its cache. Either way the library works
/// after a new `dlopen`; pointers obtained before `dlclose` must not be used after it.
#[no_mangle]
pub extern "C" fn aadtoken_shutdown() {
    super::call_or((), || {
        aadtoken_core::client::shutdown();
    });
}
