//! `aadtoken_error`: the rich error object behind a status code.

use std::ffi::{c_char, CString};

use super::export::getters;
use super::handle::{self, handle};
use super::{aadtoken_status, c_string, AADTOKEN_ERR_INVALID_ARGUMENT};
use aadtoken_core::Error;

/// An error object: status, a human message (never a secret), and the identity provider's
/// diagnostics. Created by a failing call that was given a non-NULL `err` out-parameter; owned
/// by the caller, who releases it with `aadtoken_error_free`. Its strings are borrowed from it
/// and valid until it is freed. Immutable: may be read from any thread.
pub struct aadtoken_error {
    _private: [u8; 0],
}

pub(crate) struct ErrorObject {
    status: aadtoken_status,
    message: CString,
    oauth_code: CString,
    correlation_id: CString,
    trace_id: CString,
    aadsts: Vec<u32>,
    http_status: u32,
    retry_after_s: u32,
}

// SAFETY: every `aadtoken_error*` the library hands out is made by `into_raw` below.
handle!(aadtoken_error: Box<ErrorObject>);

pub(crate) fn into_raw(e: Error, status: aadtoken_status) -> *mut aadtoken_error {
    let obj = ErrorObject {
        status,
        message: c_string(&e.to_string()),
        oauth_code: c_string(e.oauth_error().unwrap_or("")),
        correlation_id: c_string(e.correlation_id().unwrap_or("")),
        trace_id: c_string(e.trace_id().unwrap_or("")),
        aadsts: e.aadsts().to_vec(),
        http_status: e.http_status().map_or(0, u32::from),
        retry_after_s: e
            .retry_after()
            .map_or(0, |d| d.as_secs().min(u64::from(u32::MAX)) as u32),
    };
    handle::into_raw(Box::new(obj))
}

const EMPTY: *const c_char = c"".as_ptr();

getters! {
    /// The status code of the call that produced `e`. NULL `e` → `AADTOKEN_ERR_INVALID_ARGUMENT`.
    fn aadtoken_error_status(e: *const aadtoken_error) -> aadtoken_status =
        |o| o.status, else AADTOKEN_ERR_INVALID_ARGUMENT;

    /// What went wrong, in one or two sentences with a hint for common AADSTS codes and the
    /// correlation id when known. Never contains a secret. Borrowed from `e`; never NULL
    /// (NULL `e` → "").
    fn aadtoken_error_message(e: *const aadtoken_error) -> *const c_char = |o| o.message.as_ptr(), else EMPTY;

    /// The OAuth `error` code sent by the identity provider (e.g. "invalid_client"), or "".
    /// Borrowed from `e`; never NULL.
    fn aadtoken_error_oauth_code(e: *const aadtoken_error) -> *const c_char =
        |o| o.oauth_code.as_ptr(), else EMPTY;

    /// The main AADSTS number (e.g. 7000215 for a wrong client secret), or 0 when there is none.
    fn aadtoken_error_aadsts(e: *const aadtoken_error) -> u32 =
        |o| o.aadsts.first().copied().unwrap_or(0), else 0;

    /// How many AADSTS numbers the identity provider sent (`error_codes`); 0 for NULL `e`.
    fn aadtoken_error_aadsts_count(e: *const aadtoken_error) -> usize = |o| o.aadsts.len(), else 0;

    /// The AADSTS number at `index` (0 = the main one), or 0 when `index` is out of range.
    fn aadtoken_error_aadsts_at(e: *const aadtoken_error, index: usize) -> u32 =
        |o| o.aadsts.get(index).copied().unwrap_or(0), else 0;

    /// The correlation id of the failed request (the identity provider's, or the
    /// `client-request-id` aadtoken sent), or "". Quote it when asking Microsoft support.
    /// Borrowed from `e`; never NULL.
    fn aadtoken_error_correlation_id(e: *const aadtoken_error) -> *const c_char =
        |o| o.correlation_id.as_ptr(), else EMPTY;

    /// The identity provider's trace id, or "". Borrowed from `e`; never NULL.
    fn aadtoken_error_trace_id(e: *const aadtoken_error) -> *const c_char =
        |o| o.trace_id.as_ptr(), else EMPTY;

    /// The HTTP status of the identity provider's answer, or 0 when there was none (the error
    /// happened before or without a response).
    fn aadtoken_error_http_status(e: *const aadtoken_error) -> u32 = |o| o.http_status, else 0;

    /// Seconds the identity provider asked to wait before retrying (`Retry-After`), or 0.
    fn aadtoken_error_retry_after(e: *const aadtoken_error) -> u32 = |o| o.retry_after_s, else 0;
}

/// Free an error object. NULL is allowed and does nothing. Not thread-safe with respect to
/// other uses of the same `e`.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_error_free(e: *mut aadtoken_error) {
    // SAFETY: `e` is NULL or came from `into_raw`, and is freed once (caller's contract).
    unsafe { handle::free(e) }
}
