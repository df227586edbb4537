//! `aadtoken_config`: settings as string keys and values.

use std::ffi::{c_char, c_void};

use super::arg_str;
use super::export::{callback_setters, fallible};
use super::handle::{self, handle, UserData};
use aadtoken_core::config::AssertionProvider;
use aadtoken_core::secret::SecretString;
use aadtoken_core::{Config, Error, ErrorKind};

/// Settings for a client. Created by `aadtoken_config_new`, filled by `aadtoken_config_set`,
/// `aadtoken_config_parse` and `aadtoken_config_load_env` (a later call overrides an earlier
/// one for the same key), read by `aadtoken_client_new` (which copies it), freed by
/// `aadtoken_config_free`. Not thread-safe: use one config from one thread at a time.
pub struct aadtoken_config {
    _private: [u8; 0],
}

// SAFETY: every `aadtoken_config*` the library hands out is made by `aadtoken_config_new`.
handle!(aadtoken_config: Box<Config>);

/// A new, empty config. The caller owns it and frees it with `aadtoken_config_free`.
/// Never returns NULL (aborts only if memory is exhausted, like any allocation in Rust).
#[no_mangle]
pub extern "C" fn aadtoken_config_new() -> *mut aadtoken_config {
    handle::into_raw(Box::new(Config::new()))
}

fallible! {
    /// Set one setting (see the README's settings table). Keys are case-insensitive; spaces around
    /// the value are ignored. `key` and `value` are copied.
    ///
    /// Returns `AADTOKEN_OK`; `AADTOKEN_ERR_INVALID_ARGUMENT` if `config`, `key` or `value` is NULL
    /// or not UTF-8; `AADTOKEN_ERR_UNKNOWN_SETTING` for an unknown key;
    /// `AADTOKEN_ERR_INVALID_SETTING` for a bad value (the message names the key). On error the
    /// config is unchanged and, if `err` is not NULL, `*err` receives an error object to free with
    /// `aadtoken_error_free` (on success `*err` is not touched). A secret value is kept only in
    /// memory that is zeroed when the config is freed.
    fn aadtoken_config_set(config: *mut aadtoken_config, key: *const c_char, value: *const c_char) {
        let config = handle::get_mut(config, "config")?;
        let key = arg_str(key, "key")?;
        let value = arg_str(value, "value")?;
        config.set(key, value)
    }

    /// Apply a settings string: `key=value;key=value`. Keys as in `aadtoken_config_set`; spaces
    /// around keys and values are ignored; empty entries are skipped; a value containing `;` (or
    /// needing outer spaces) is written in double quotes, inside which `\"` and `\\` are escapes.
    /// All entries are checked before any is applied: on error the config is unchanged.
    ///
    /// Returns as `aadtoken_config_set`, plus `AADTOKEN_ERR_INVALID_ARGUMENT` for a malformed
    /// string (the message says which entry).
    fn aadtoken_config_parse(config: *mut aadtoken_config, settings: *const c_char) {
        let config = handle::get_mut(config, "config")?;
        let settings = arg_str(settings, "settings")?;
        config.parse(settings)
    }

    /// Read the Azure SDK environment variables into the config: `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_AUTHORITY_HOST`,
    /// `AZURE_CLIENT_CERTIFICATE_PATH`, `AZURE_CLIENT_CERTIFICATE_PASSWORD`,
    /// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`, `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_USERNAME` and
    /// `AZURE_PASSWORD` (the README's table says which setting each fills). Unset or empty
    /// variables are skipped; set ones override earlier values. It also takes a snapshot of the
    /// managed-identity platform variables (`IDENTITY_ENDPOINT`, `MSI_ENDPOINT`…), which clients
    /// built from this config then use instead of the process environment. On error (a bad value;
    /// the message names the variable and the setting) the config is unchanged.
    fn aadtoken_config_load_env(config: *mut aadtoken_config) {
        let config = handle::get_mut(config, "config")?;
        config.load_env()
    }
}

/// Free a config, zeroing any secret it holds. NULL is allowed and does nothing. Clients made
/// from it stay valid (they hold their own copy).
#[no_mangle]
pub unsafe extern "C" fn aadtoken_config_free(config: *mut aadtoken_config) {
    // SAFETY: `config` is NULL or came from `aadtoken_config_new`, and is freed once.
    unsafe { handle::free(config) }
}

/// A client-assertion callback: write a client assertion (a JWT, e.g. a federated token from
/// your platform) into `buf` and return 0.
///
/// * `buf` has room for `buf_len` bytes (16384 on the first call); write the assertion's bytes
///   (no NUL needed) and set `*written` to their number.
/// * Too long for `buf`: set `*written` to the length needed (at most 65536), write nothing and
///   return 0; the library calls once more with a buffer at least that large.
/// * Any other return value is a failure: the token request fails with `AADTOKEN_ERR_CALLBACK`.
///
/// `buf` belongs to the library and is zeroed after the call; do not keep it. The callback runs
/// on a library thread (not the one that called `aadtoken_client_get_token`), possibly on
/// several threads at once for different requests, so it must be thread-safe; it may block
/// (it runs on a thread set aside for blocking work) but is part of the `timeout_ms` budget.
/// It must not call back into aadtoken for the same client.
pub type aadtoken_assertion_fn = Option<
    unsafe extern "C" fn(userdata: *mut c_void, buf: *mut c_char, buf_len: usize, written: *mut usize) -> i32,
>;

/// First buffer offered to an assertion callback.
const CALLBACK_BUF: usize = 16 * 1024;
/// Largest assertion a callback may return.
const CALLBACK_MAX: usize = 64 * 1024;

struct CAssertion {
    callback: unsafe extern "C" fn(*mut c_void, *mut c_char, usize, *mut usize) -> i32,
    userdata: UserData,
}

impl CAssertion {
    fn call(&self, len: usize) -> Result<(zeroize::Zeroizing<Vec<u8>>, usize), Error> {
        let mut buf = zeroize::Zeroizing::new(vec![0u8; len]);
        let mut written = 0usize;
        // SAFETY: the host registered `callback` for this purpose; `buf` is valid for `len`
        // bytes and `written` for one usize during the call; neither is kept by the callee.
        let rc = unsafe { (self.callback)(self.userdata.get(), buf.as_mut_ptr().cast(), len, &mut written) };
        if rc != 0 {
            return Err(Error::new(
                ErrorKind::Callback,
                format!("the client-assertion callback failed (it returned {rc})"),
            ));
        }
        Ok((buf, written))
    }
}

impl AssertionProvider for CAssertion {
    fn assertion(&self) -> Result<SecretString, Error> {
        let (mut buf, mut written) = self.call(CALLBACK_BUF)?;
        if written > buf.len() && written <= CALLBACK_MAX {
            (buf, written) = self.call(written)?;
        }
        if written > buf.len() {
            return Err(Error::new(
                ErrorKind::Callback,
                format!("the client-assertion callback asked for {written} bytes; assertions are limited to {CALLBACK_MAX}"),
            ));
        }
        // Only the buffer protocol and UTF-8 here: core checks the assertion itself (trimmed, not
        // empty) for every source, as it checks one read from `assertion_file`.
        let text = std::str::from_utf8(&buf[..written]).map_err(|_| {
            Error::new(
                ErrorKind::Callback,
                "the client-assertion callback wrote bytes that are not UTF-8",
            )
        })?;
        Ok(SecretString::new(text))
    }

    fn id(&self) -> u64 {
        (self.callback as usize as u64).rotate_left(32) ^ self.userdata.addr() as u64
    }
}

callback_setters! {
    /// Set the callback that supplies client assertions (`auth_method=client_assertion`, or the
    /// `auto` chain's workload identity step), for hosts whose platform hands out federated tokens
    /// some other way than a file (`assertion_file`). It is asked before every token request that
    /// reaches the identity provider (cached tokens need none). See `aadtoken_assertion_fn` for the
    /// buffer protocol, threads and failures.
    ///
    /// `callback` NULL removes a callback set earlier (`userdata` is then ignored). `userdata` is
    /// passed to every call as is; it must stay valid, and usable from any thread, for as long as
    /// any client built from this config exists (clients keep their own copy of the callback).
    /// The callback wins over `assertion_file` when both are set.
    ///
    /// Returns `AADTOKEN_OK`, or `AADTOKEN_ERR_INVALID_ARGUMENT` when `config` is NULL.
    fn aadtoken_config_set_assertion_callback(aadtoken_assertion_fn)
        => CAssertion, Config::set_assertion_callback;
}
