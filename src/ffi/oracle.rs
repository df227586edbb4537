//! Oracle adapters: the `TOKEN_LOCATION` token file and its keeper, the ODPI-C access-token
//! callback, and a borrowed token for OCI hosts.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::PathBuf;
use std::sync::Arc;

use super::client::aadtoken_client;
use super::export::{fallible, getters};
use super::handle::{self, handle, read};
use super::{c_string, call, opt_str};
use aadtoken_core::oracle::{Keeper, KeeperOptions, TokenFile};
use aadtoken_core::{Client, Error, Token};

/// ODPI-C's `dpiAccessToken` (dpi.h), which `aadtoken_odpi_access_token_callback` fills. The
/// header only forward-declares `struct dpiAccessToken` (cbindgen.toml), so that the callback
/// has exactly the type of ODPI-C's `dpiAccessTokenCallback` where dpi.h is included, and
/// callers without dpi.h pass an `aadtoken_dpi_access_token` (same layout) with a cast.
pub struct OdpiAccessToken {
    _private: [u8; 0],
}

// SAFETY: ODPI-C's `dpiAccessToken` has the layout of `aadtoken_dpi_access_token` (checked
// against the real dpi.h at compile time by tests/odpi/odpi_test.c); the host owns it.
handle!(OdpiAccessToken: Borrowed<aadtoken_dpi_access_token>);

/// Layout-identical to ODPI-C's `dpiAccessToken` (dpi.h):
/// `struct dpiAccessToken { const char *token; uint32_t tokenLength; const char *privateKey;
/// uint32_t privateKeyLength; }`, for hosts that call `aadtoken_odpi_access_token_callback`
/// without including dpi.h (pass `(struct dpiAccessToken *)&token`).
#[repr(C)]
#[allow(non_snake_case)]
pub struct aadtoken_dpi_access_token {
    /// The access token (not NUL-terminated as far as ODPI-C is concerned; use `tokenLength`).
    pub token: *const c_char,
    /// Its length in bytes.
    pub tokenLength: u32,
    /// Left NULL: OAuth (Entra ID) tokens have no private key (only OCI IAM tokens do).
    pub privateKey: *const c_char,
    /// Left 0.
    pub privateKeyLength: u32,
}

/// A running token-file keeper (see `aadtoken_token_file_keeper_start`). Owned by the caller,
/// who stops and frees it with `aadtoken_token_file_keeper_stop`. Its accessors may be called
/// from any thread.
pub struct aadtoken_token_file_keeper {
    _private: [u8; 0],
}

pub(crate) struct KeeperHandle {
    keeper: Keeper,
    path: CString,
}

// SAFETY: every `aadtoken_token_file_keeper*` the library hands out is made by
// `aadtoken_token_file_keeper_start`.
handle!(aadtoken_token_file_keeper: Box<KeeperHandle>);

/// The arguments of the token-file exports: the client, `scopes` and the file's location
/// (`location` NULL = the `token_location` setting).
///
/// # Safety
/// `client` is NULL or a live client; `scopes` and `location` NULL or NUL-terminated strings.
unsafe fn token_file_args<'a>(
    client: *const aadtoken_client,
    scopes: *const c_char,
    location: *const c_char,
) -> Result<(&'a Client, Option<&'a str>, PathBuf), Error> {
    let client = handle::get(client, "client")?;
    let scopes = opt_str(scopes, "scopes")?;
    let location = match opt_str(location, "location")? {
        Some(l) => PathBuf::from(l),
        None => client
            .oracle()
            .token_location()
            .map(PathBuf::from)
            .ok_or_else(|| {
                Error::missing_setting(
                    "token_location",
                    "when no location is given (the Oracle client's TOKEN_LOCATION: a directory or a file)",
                )
            })?,
    };
    Ok((client, scopes, location))
}

fallible! {
    /// Write the token for `scopes` to the Oracle token file once, for clients configured with
    /// `TOKEN_AUTH=OAUTH` and `TOKEN_LOCATION` (19c/21c).
    ///
    /// `location` is a directory (the file `token` in it is written) or a file path; NULL = the
    /// `token_location` setting. `scopes` NULL = the `scope` setting. The file gets the raw token,
    /// with no trailing newline, mode 0600, replaced atomically (a temporary file in the same
    /// directory, fsync, rename), so a reader never sees a partial token. Refused with
    /// `AADTOKEN_ERR_UNSAFE_PATH`: a location that is a symbolic link (the directory or the file),
    /// a directory writable by others, a group-writable directory not owned by the calling user.
    /// `AADTOKEN_ERR_FILE` when the directory does not exist or cannot be written. Token errors
    /// as `aadtoken_client_get_token` (a cached token is used while it is fresh).
    ///
    /// Returns `AADTOKEN_OK`, or an error status and, if `err` is not NULL, an error object naming
    /// the path. Thread-safe; blocks for at most `timeout_ms` plus the file write.
    fn aadtoken_client_write_token_file(
        client: *const aadtoken_client,
        scopes: *const c_char,
        location: *const c_char,
    ) {
        let (client, scopes, location) = token_file_args(client, scopes, location)?;
        let file = TokenFile::new(location)?;
        let token = client.get_token(scopes)?;
        file.write(&token)
    }

    /// Start a keeper that keeps the Oracle token file fresh: it writes the file now (as
    /// `aadtoken_client_write_token_file`), then from a thread of its own rewrites it ahead of
    /// expiry — when the token reaches its `refresh_on` or has no more than `expiry_margin_s` left,
    /// whichever comes first. When renewing fails it leaves the file as it is (the last good token)
    /// and retries with exponential backoff (1 s doubling to 60 s, at least the identity provider's
    /// `Retry-After`); `aadtoken_token_file_keeper_last_error` tells how the last attempt went.
    /// Each failed renewal is also logged at warning level (`aadtoken_set_log_callback`).
    ///
    /// `location` NULL = the `token_location` setting; `scopes` NULL = the `scope` setting. The
    /// keeper holds its own reference to the client's identity: the client may be freed before the
    /// keeper is stopped. On success `*out` receives the keeper, which the caller must stop with
    /// `aadtoken_token_file_keeper_stop`. If the first token cannot be obtained or written, nothing
    /// is started, `*out` is not written and the status says why. Thread-safe.
    ///
    /// Fork: the keeper's thread stays in this process, which goes on keeping the file fresh; in a
    /// forked child the keeper is inert (`aadtoken_token_file_keeper_last_error` returns
    /// `AADTOKEN_ERR_INVALID_ARGUMENT` saying so, `aadtoken_token_file_keeper_stop` only frees it);
    /// a process that forks to go to the background starts its keeper after the fork. Stop keepers
    /// before `aadtoken_shutdown`.
    fn aadtoken_token_file_keeper_start(
        client: *const aadtoken_client,
        scopes: *const c_char,
        location: *const c_char,
        out: *mut *mut aadtoken_token_file_keeper,
    ) {
        let (client, scopes, location) = token_file_args(client, scopes, location)?;
        let out = handle::out(out, "out")?;
        let opts = KeeperOptions {
            scopes: scopes.map(str::to_owned),
            ..KeeperOptions::default()
        };
        let keeper = Keeper::start(client, location, opts)?;
        let path = c_string(&keeper.path().to_string_lossy());
        out.write(handle::into_raw(Box::new(KeeperHandle { keeper, path })));
        Ok(())
    }

    /// How the keeper's last attempt went: `AADTOKEN_OK` when it wrote the file (or found nothing
    /// to do); otherwise the status of its last failure and, if `err` is not NULL, a copy of that
    /// error in `*err` (the caller frees it). The file then still holds the last good token.
    /// NULL `keeper` → `AADTOKEN_ERR_INVALID_ARGUMENT`. Thread-safe.
    fn aadtoken_token_file_keeper_last_error(keeper: *const aadtoken_token_file_keeper) {
        let h = handle::get(keeper, "keeper")?;
        h.keeper.status().last_error.map_or(Ok(()), Err)
    }
}

/// The token file's path (a `TOKEN_LOCATION` directory resolves to `<dir>/token`). Borrowed
/// from the keeper, valid until it is stopped. NULL `keeper` → "".
#[no_mangle]
pub extern "C" fn aadtoken_token_file_keeper_path(
    keeper: *const aadtoken_token_file_keeper,
) -> *const c_char {
    read(keeper, c"".as_ptr(), |h| h.path.as_ptr())
}

getters! {
    /// Expiry (Unix seconds) of the token now in the file. NULL `keeper` → 0.
    fn aadtoken_token_file_keeper_expires_on(keeper: *const aadtoken_token_file_keeper) -> i64 =
        |h| h.keeper.status().expires_on, else 0;
}

/// Stop the keeper and free it: wakes its thread and joins it (promptly; a token request in
/// flight finishes first, bounded by `timeout_ms`). The token file stays in place. NULL is
/// allowed and does nothing. No other thread may use the keeper during or after this call.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_token_file_keeper_stop(keeper: *mut aadtoken_token_file_keeper) {
    // SAFETY: `keeper` is NULL or came from `aadtoken_token_file_keeper_start`, stopped once.
    unsafe { handle::free(keeper) }
}

fallible! {
    /// Borrow a token for `scopes` (NULL = the `scope` setting) as a pointer and a length, for
    /// APIs that copy it at once — OCI's `OCIAttrSet(authinfo, OCI_HTYPE_AUTHINFO, token, len,
    /// OCI_ATTR_TOKEN, errhp)` in a pool's token callback, for instance.
    ///
    /// On success `*token` receives the JWT (NUL-terminated) and `*length` its length in bytes.
    /// The bytes are borrowed from `client` and stay valid until the **same thread** borrows again
    /// from this client (here or through `aadtoken_odpi_access_token_callback`) or the client is
    /// freed: nothing to free. Cached while fresh, as `aadtoken_client_get_token`. On error
    /// nothing is written. Thread-safe (each thread has its own borrowed token).
    ///
    /// Made for a driver's token callback, it never waits for a person: with
    /// `auth_method=device_code` or `interactive`, when a person would have to sign in it fails at
    /// once with `AADTOKEN_ERR_INTERACTION_REQUIRED` (sign in first with `aadtoken_client_sign_in`).
    /// Blocks for at most `timeout_ms`.
    fn aadtoken_client_borrow_token(
        client: *const aadtoken_client,
        scopes: *const c_char,
        token: *mut *const c_char,
        length: *mut u32,
    ) {
        let client = handle::get(client, "client")?;
        let scopes = opt_str(scopes, "scopes")?;
        let (token, length) = (handle::out(token, "token")?, handle::out(length, "length")?);
        let (ptr, len) = borrow(client, scopes)?;
        token.write(ptr);
        length.write(len);
        Ok(())
    }
}

/// Get a token and lend it to the calling thread: the client keeps the `Arc` alive.
fn borrow(client: &Client, scopes: Option<&str>) -> Result<(*const c_char, u32), Error> {
    let t: Arc<Token> = client
        .oracle()
        .lend(client.get_token_without_interaction(scopes))?;
    let len = u32::try_from(t.len())
        .map_err(|_| Error::internal("the token is longer than 4 GiB and cannot be passed to Oracle"))?;
    Ok((t.with_nul().as_ptr().cast(), len))
}

/// ODPI-C's access-token callback: its type is ODPI-C's `dpiAccessTokenCallback`, so it is
/// registered without a cast. ODPI-C (dpiPool.c) registers a pool's callback with OCI **only
/// when the pool is created with a first token** in `dpiCommonCreateParams.accessToken` (with
/// `externalAuth = 1` and `homogeneous = 1`); without one `dpiPool_create` succeeds and the
/// callback is never called. The whole sequence:
///
/// ```c
/// dpiAccessToken first;                 /* the first token, from the callback itself */
/// memset(&first, 0, sizeof first);
/// if (aadtoken_odpi_access_token_callback(client, &first) != DPI_SUCCESS) {
///     /* aadtoken_odpi_last_error(client, &err) says why */
/// }
/// dpiContext_initCommonCreateParams(ctx, &common);
/// dpiContext_initPoolCreateParams(ctx, &params);
/// common.accessToken = &first;          /* required: ODPI-C copies it */
/// params.externalAuth = 1;              /* required with a token */
/// params.homogeneous = 1;               /* required with a token */
/// params.accessTokenCallback = aadtoken_odpi_access_token_callback;
/// params.accessTokenCallbackContext = client;   /* an aadtoken_client* */
/// dpiPool_create(ctx, NULL, 0, NULL, 0, dsn, dsn_len, &common, &params, &pool);
/// ```
///
/// `context` must be an `aadtoken_client*`. Fills `access_token->token`/`tokenLength` with a
/// token for the client's `scope` setting (cached while fresh) and leaves `privateKey` NULL /
/// `privateKeyLength` 0 (OAuth). The bytes stay valid until this thread calls again with this
/// client (or `aadtoken_client_borrow_token`) or the client is freed — ODPI-C copies them as
/// soon as the callback returns. Returns 0 (DPI_SUCCESS), or -1 (DPI_FAILURE: the connection
/// fails) leaving `*access_token` untouched; `aadtoken_odpi_last_error` then tells why, on the
/// thread that asked for the connection.
///
/// Never waits for a person: it runs on the driver's thread while a connection is opened, so
/// with `auth_method=device_code` or `interactive` it uses the signed-in account's refresh
/// token and, when a person would have to sign in (no account yet, refresh token refused),
/// fails at once with `AADTOKEN_ERR_INTERACTION_REQUIRED` whatever `automatic_sign_in` says —
/// sign in first on the host's own thread (`aadtoken_client_sign_in`). Blocks for at most
/// `timeout_ms`. Thread-safe; never unwinds. Callers without dpi.h pass an
/// `aadtoken_dpi_access_token` as `(struct dpiAccessToken *)&token`.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_odpi_access_token_callback(
    context: *mut c_void,
    access_token: *mut OdpiAccessToken,
) -> c_int {
    if context.is_null() || access_token.is_null() {
        return -1;
    }
    let status = call(std::ptr::null_mut(), || {
        // `context` is the `aadtoken_client*` the host registered (documented contract).
        let client = handle::get(handle::recast::<aadtoken_client>(context), "context")?;
        let (ptr, len) = borrow(client, None)?;
        let at = handle::get_mut(access_token, "access_token")?;
        at.token = ptr;
        at.tokenLength = len;
        at.privateKey = std::ptr::null();
        at.privateKeyLength = 0;
        Ok(())
    });
    if status == super::AADTOKEN_OK {
        0
    } else {
        -1
    }
}

fallible! {
    /// Why the calling thread's last `aadtoken_odpi_access_token_callback` (or
    /// `aadtoken_client_borrow_token`) with this client failed: its status, and a copy of the
    /// error in `*err` if `err` is not NULL (the caller frees it). `AADTOKEN_OK` when that call
    /// succeeded or the thread made none. (A failed token request is also logged at warning
    /// level through `aadtoken_set_log_callback`.) Thread-safe.
    fn aadtoken_odpi_last_error(client: *const aadtoken_client) {
        let client = handle::get(client, "client")?;
        client.oracle().last_error().map_or(Ok(()), Err)
    }
}
