//! Person sign-in from C: the device-code prompt and open-URL callbacks, and
//! `aadtoken_client_sign_in`, `aadtoken_client_sign_out`.

use std::ffi::{c_char, c_void};

use super::c_string;
use super::client::aadtoken_client;
use super::export::{callback_setters, fallible, token_exports};
use super::handle::UserData;
use aadtoken_core::config::{DeviceCodePrompt, UrlOpener};
use aadtoken_core::{Client, Config, Error, ErrorKind};

/// The device-code prompt: show the person `message` (Entra's text: where to go and which code
/// to enter), or build your own from `user_code`, `verification_uri` and `expires_on` (Unix
/// seconds). The strings are NUL-terminated UTF-8, borrowed for the duration of the call.
///
/// Called once per device-code sign-in, on a library thread (not the one that called
/// `aadtoken_client_get_token`/`aadtoken_client_sign_in`), before aadtoken starts polling; it
/// should return promptly. It may call aadtoken functions (not the sign-in of the same client).
/// aadtoken itself never prints the message.
pub type aadtoken_device_code_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        message: *const c_char,
        user_code: *const c_char,
        verification_uri: *const c_char,
        expires_on: i64,
    ),
>;

/// Open the sign-in page `url` (NUL-terminated, borrowed for the call) in a browser, and return
/// 0 when it was opened; any other value ends the sign-in with `AADTOKEN_ERR_CALLBACK`.
///
/// Called once per browser sign-in on a library thread, while aadtoken's loopback listener
/// already waits for the browser to come back to `http://localhost:<port>`: the callback may
/// block (e.g. until a browser it drives has completed the redirect). Without this callback,
/// aadtoken starts the system browser (`xdg-open`, `open`).
pub type aadtoken_open_url_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, url: *const c_char) -> i32>;

struct CDeviceCode {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char, i64),
    userdata: UserData,
}

impl DeviceCodePrompt for CDeviceCode {
    fn prompt(&self, message: &str, user_code: &str, verification_uri: &str, expires_on: i64) {
        let (m, u, v) = (c_string(message), c_string(user_code), c_string(verification_uri));
        // SAFETY: the host registered `callback` for this; the strings live until it returns.
        unsafe {
            (self.callback)(
                self.userdata.get(),
                m.as_ptr(),
                u.as_ptr(),
                v.as_ptr(),
                expires_on,
            )
        }
    }
}

struct COpenUrl {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char) -> i32,
    userdata: UserData,
}

impl UrlOpener for COpenUrl {
    fn open(&self, url: &str) -> Result<(), Error> {
        let url = c_string(url);
        // SAFETY: the host registered `callback` for this; `url` lives until it returns.
        let rc = unsafe { (self.callback)(self.userdata.get(), url.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Callback,
                format!("the open-URL callback could not open the sign-in page (it returned {rc})"),
            ))
        }
    }
}

callback_setters! {
    /// Set the device-code prompt of `auth_method=device_code` (see `aadtoken_device_code_fn`).
    /// Without one, a device-code sign-in fails with `AADTOKEN_ERR_CALLBACK_REQUIRED`: the library
    /// never prints. `callback` NULL removes one set earlier. `userdata` is passed to every call as
    /// is; it must stay valid, and usable from any thread, while any client built from this config
    /// exists (clients keep their own copy of the callback).
    ///
    /// Returns `AADTOKEN_OK`, or `AADTOKEN_ERR_INVALID_ARGUMENT` when `config` is NULL.
    fn aadtoken_config_set_device_code_callback(aadtoken_device_code_fn)
        => CDeviceCode, Config::set_device_code_prompt;

    /// Set how `auth_method=interactive` opens the sign-in page (see `aadtoken_open_url_fn`),
    /// instead of the system browser. `callback` NULL removes one set earlier (the system browser
    /// is used again). `userdata` as in `aadtoken_config_set_device_code_callback`.
    ///
    /// Returns `AADTOKEN_OK`, or `AADTOKEN_ERR_INVALID_ARGUMENT` when `config` is NULL.
    fn aadtoken_config_set_open_url_callback(aadtoken_open_url_fn)
        => COpenUrl, Config::set_url_opener;
}

token_exports! {
    /// Sign a person in now — `auth_method=device_code` through the device-code callback,
    /// `interactive` in a browser — even when a cached refresh token would still work, and get a
    /// token for `scopes` (NULL = the `scope` setting), which replaces the cached one. The account
    /// and its refresh token are kept (also in `cache_file` when set), so later
    /// `aadtoken_client_get_token` calls for this or another scope of the account are silent.
    ///
    /// Blocks the calling thread for the whole sign-in: at most the device code's lifetime
    /// (`expires_in`, typically 15 minutes) or `interactive_timeout_s`; each network step is
    /// bounded by `timeout_ms`. The refresh token never leaves the library.
    ///
    /// On success `*out` receives a token (free it with `aadtoken_token_free`). Errors:
    /// `AADTOKEN_ERR_INVALID_SETTING` (not a person sign-in `auth_method`),
    /// `AADTOKEN_ERR_CALLBACK_REQUIRED` (no device-code callback; no browser could be started),
    /// `AADTOKEN_ERR_USER_CANCELLED`, `AADTOKEN_ERR_SIGN_IN_EXPIRED`, `AADTOKEN_ERR_STATE_MISMATCH`,
    /// `AADTOKEN_ERR_BAD_VERIFICATION_CODE`, `AADTOKEN_ERR_CALLBACK` (the open-URL callback returned
    /// non-zero), `AADTOKEN_ERR_INVALID_GRANT` (e.g. AADSTS501481, a PKCE mismatch), and the
    /// network and identity-provider statuses of `aadtoken_client_get_token`. Thread-safe;
    /// concurrent sign-ins of one client run one after the other.
    fn aadtoken_client_sign_in => Client::sign_in;
}

fallible! {
    /// Sign the person out (`auth_method=device_code` or `interactive`): forget the account the
    /// client's settings select (`account`, `login_hint`, or the only one) and its refresh token —
    /// in memory and in `cache_file`, so other processes sharing the file no longer find it — and
    /// drop the access tokens this process cached for the application (same authority and client
    /// id), so that no later `aadtoken_client_get_token` hands out a token of the person signed out:
    /// the next one signs in again (or fails with `AADTOKEN_ERR_INTERACTION_REQUIRED` when
    /// `automatic_sign_in` is false). Tokens already handed out stay valid until freed (and at the
    /// identity provider until they expire); the person's browser session at the identity provider
    /// is not ended. Signing out when nobody is signed in succeeds.
    ///
    /// Returns `AADTOKEN_OK`; `AADTOKEN_ERR_INVALID_ARGUMENT` when `client` is NULL;
    /// `AADTOKEN_ERR_INVALID_SETTING` (not a person sign-in `auth_method`);
    /// `AADTOKEN_ERR_MISSING_SETTING` (several accounts are signed in and neither `login_hint` nor
    /// `account` says which); `AADTOKEN_ERR_FILE`, `AADTOKEN_ERR_UNSAFE_PATH`, `AADTOKEN_ERR_TIMEOUT`
    /// (the `cache_file` cannot be used or stayed locked). Thread-safe.
    fn aadtoken_client_sign_out(client: *const aadtoken_client) {
        let client = super::handle::get(client, "client")?;
        client.sign_out().map(|_| ())
    }
}
