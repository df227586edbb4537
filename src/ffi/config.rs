//! `aadtoken_config`: settings as string keys and values.

use std::ffi::c_char;

use super::{aadtoken_error, aadtoken_status, arg_str, call, call_or, handle_mut};
use crate::core::Config;

/// Settings for a client. Created by `aadtoken_config_new`, filled by `aadtoken_config_set`,
/// `aadtoken_config_parse` and `aadtoken_config_load_env` (a later call overrides an earlier
/// one for the same key), read by `aadtoken_client_new` (which copies it), freed by
/// `aadtoken_config_free`. Not thread-safe: use one config from one thread at a time.
pub struct aadtoken_config {
    _private: [u8; 0],
}

/// A new, empty config. The caller owns it and frees it with `aadtoken_config_free`.
/// Never returns NULL (aborts only if memory is exhausted, like any allocation in Rust).
#[no_mangle]
pub extern "C" fn aadtoken_config_new() -> *mut aadtoken_config {
    Box::into_raw(Box::new(Config::new())).cast()
}

/// Set one setting (see the README's settings table). Keys are case-insensitive; spaces around
/// the value are ignored. `key` and `value` are copied.
///
/// Returns `AADTOKEN_OK`; `AADTOKEN_ERR_INVALID_ARGUMENT` if `config`, `key` or `value` is NULL
/// or not UTF-8; `AADTOKEN_ERR_UNKNOWN_SETTING` for an unknown key;
/// `AADTOKEN_ERR_INVALID_SETTING` for a bad value (the message names the key). On error the
/// config is unchanged and, if `err` is not NULL, `*err` receives an error object to free with
/// `aadtoken_error_free` (on success `*err` is not touched). A secret value is kept only in
/// memory that is zeroed when the config is freed.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_config_set(
    config: *mut aadtoken_config,
    key: *const c_char,
    value: *const c_char,
    err: *mut *mut aadtoken_error,
) -> aadtoken_status {
    call(err, || {
        let config: &mut Config = handle_mut(config, "config")?;
        let key = arg_str(key, "key")?;
        let value = arg_str(value, "value")?;
        config.set(key, value)
    })
}

/// Apply a settings string: `key=value;key=value`. Keys as in `aadtoken_config_set`; spaces
/// around keys and values are ignored; empty entries are skipped; a value containing `;` (or
/// needing outer spaces) is written in double quotes, inside which `\"` and `\\` are escapes.
/// All entries are checked before any is applied: on error the config is unchanged.
///
/// Returns as `aadtoken_config_set`, plus `AADTOKEN_ERR_INVALID_ARGUMENT` for a malformed
/// string (the message says which entry).
#[no_mangle]
pub unsafe extern "C" fn aadtoken_config_parse(
    config: *mut aadtoken_config,
    settings: *const c_char,
    err: *mut *mut aadtoken_error,
) -> aadtoken_status {
    call(err, || {
        let config: &mut Config = handle_mut(config, "config")?;
        let settings = arg_str(settings, "settings")?;
        config.parse(settings)
    })
}

/// Read the Azure SDK environment variables `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_CLIENT_SECRET` and `AZURE_AUTHORITY_HOST` into the config. Unset or empty variables
/// are skipped; set ones override earlier values. On error (a bad value; the message names the
/// variable and the setting) the config is unchanged.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_config_load_env(
    config: *mut aadtoken_config,
    err: *mut *mut aadtoken_error,
) -> aadtoken_status {
    call(err, || {
        let config: &mut Config = handle_mut(config, "config")?;
        config.load_env()
    })
}

/// Free a config, zeroing any secret it holds. NULL is allowed and does nothing. Clients made
/// from it stay valid (they hold their own copy).
#[no_mangle]
pub unsafe extern "C" fn aadtoken_config_free(config: *mut aadtoken_config) {
    if !config.is_null() {
        // SAFETY: `config` came from `aadtoken_config_new` and is freed once (caller's contract).
        call_or((), || drop(unsafe { Box::from_raw(config.cast::<Config>()) }));
    }
}
