//! `aadtoken_token`: a reference-counted, immutable token snapshot.

use std::ffi::c_char;

use super::export::getters;
use super::handle::{self, handle};
use aadtoken_core::Token;

/// An access token. Immutable: a later refresh never changes a token already handed out.
/// Returned by `aadtoken_client_get_token` / `aadtoken_client_refresh_token`; owned by the
/// caller, who releases it with `aadtoken_token_free` (which drops a reference; the bytes are
/// zeroed when the last reference goes). May be read from any thread.
pub struct aadtoken_token {
    _private: [u8; 0],
}

// SAFETY: every `aadtoken_token*` the library hands out is made by `handle::into_raw` from an
// `Arc<Token>` (one reference per pointer handed out).
handle!(aadtoken_token: Arc<Token>);

getters! {
    /// The access token (a JWT), NUL-terminated, to pass as the bearer token (e.g. to ODPI-C's
    /// `dpiAccessToken.token` or OCI's `OCI_ATTR_TOKEN`). Borrowed from `t`: valid until
    /// `aadtoken_token_free(t)`. It is a credential: do not log it. NULL `t` → NULL.
    fn aadtoken_token_value(t: *const aadtoken_token) -> *const c_char =
        |tok| tok.with_nul().as_ptr().cast(), else std::ptr::null();

    /// Length of the token in bytes, without the NUL. NULL `t` → 0.
    fn aadtoken_token_len(t: *const aadtoken_token) -> usize = |tok| tok.len(), else 0;

    /// When the token expires, in Unix seconds. NULL `t` → 0.
    fn aadtoken_token_expires_on(t: *const aadtoken_token) -> i64 = |tok| tok.expires_on(), else 0;

    /// When aadtoken plans to renew the token, in Unix seconds (the identity provider's
    /// `refresh_in` when it sent one, else the expiry). NULL `t` → 0.
    fn aadtoken_token_refresh_on(t: *const aadtoken_token) -> i64 = |tok| tok.refresh_on(), else 0;
}

/// Release a token. NULL is allowed and does nothing. Each token returned to the caller must
/// be freed exactly once; other tokens and the client are unaffected.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_token_free(t: *mut aadtoken_token) {
    // SAFETY: `t` is NULL or came from `handle::into_raw`, and is released once (caller's contract).
    unsafe { handle::free(t) }
}
