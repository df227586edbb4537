//! The status codes: one table declares every status (number, name, short text, error kind).
//!
//! From it come the Rust constants (`AADTOKEN_OK`, `AADTOKEN_ERR_*`), [`status_of`],
//! `aadtoken_status_str`'s texts, [`STATUSES`] (for tests and tools), and — because cbindgen
//! does not expand macros — the header's `#define` block with each status's doc comment, and
//! the bindings' constants (`bindings/python/aadtoken/_status.py`,
//! `bindings/java/aadtoken/src/main/java/aadtoken/Status.java`): `scripts/gen-header.sh` reads this table and
//! writes them, `scripts/gen-header.sh --check` fails when they differ, and
//! `tests/api/status_table.rs` checks the header, the bindings and the README's table against
//! [`STATUSES`].
//!
//! An entry is `/// doc` lines, then `NAME = number, "short text"` and, for an error, the
//! [`ErrorKind`] it stands for; `//` lines are section comments copied to the header. A number,
//! once given a meaning, is never reused: a retired status stays here as a comment.

use aadtoken_core::ErrorKind;

/// A status code. `AADTOKEN_OK` (0) is success; errors are grouped in ranges by cause, and a
/// number, once given a meaning, is never reused.
pub type aadtoken_status = u32;

/// One status of the table.
#[derive(Debug)]
pub struct Status {
    /// Its number.
    pub number: aadtoken_status,
    /// Its C name (`AADTOKEN_ERR_INVALID_CLIENT`).
    pub name: &'static str,
    /// `aadtoken_status_str`'s text: `"NAME: short meaning"`, NUL-terminated.
    text: &'static str,
    /// Its doc comment, one line of the comment per line.
    pub doc: &'static str,
    /// The error kind it stands for (`None` for `AADTOKEN_OK`).
    pub kind: Option<ErrorKind>,
}

impl Status {
    /// `"NAME: short meaning"` (without the NUL).
    pub fn text(&self) -> &'static str {
        self.text.trim_end_matches('\0')
    }

    /// The NUL-terminated text, for C.
    pub(crate) fn c_text(&self) -> &'static str {
        self.text
    }
}

/// The text of a number that is not a status.
pub(crate) const UNKNOWN_TEXT: &str = "AADTOKEN_ERR_UNKNOWN: unknown status code\0";

/// `Some(ErrorKind::X)`, or `None` for a status without a kind.
macro_rules! kind {
    () => {
        None
    };
    ($kind:ident) => {
        Some(ErrorKind::$kind)
    };
}

macro_rules! statuses {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident = $number:literal, $text:literal $(, $kind:ident)?;
    )+) => {
        $(
            $(#[doc = $doc])+
            pub const $name: aadtoken_status = $number;
        )+

        /// Every status, in the order of the table (ascending numbers).
        pub static STATUSES: &[Status] = &[$(
            Status {
                number: $number,
                name: stringify!($name),
                text: concat!(stringify!($name), ": ", $text, "\0"),
                doc: concat!($($doc, "\n"),+),
                kind: kind!($($kind)?),
            },
        )+];

        /// The C status code of an error kind (also used by the bindings and the tests).
        pub fn status_of(kind: ErrorKind) -> aadtoken_status {
            match kind {
                $($(ErrorKind::$kind => $name,)?)+
            }
        }
    };
}

statuses! {
    /// Success.
    AADTOKEN_OK = 0, "success";

    // 100–199: the caller's arguments and settings.
    /// A required pointer was NULL, or a string was not valid UTF-8, or an argument was malformed.
    /// The error message names the argument.
    AADTOKEN_ERR_INVALID_ARGUMENT = 100, "an argument was NULL, not UTF-8 or malformed", InvalidArgument;
    /// A setting key that aadtoken does not know. The message names the key.
    AADTOKEN_ERR_UNKNOWN_SETTING = 101, "unknown setting key", UnknownSetting;
    /// A setting value that is not acceptable (empty, not https, not a number, unreadable file).
    /// The message names the key.
    AADTOKEN_ERR_INVALID_SETTING = 102, "invalid setting value", InvalidSetting;
    /// A setting required by the chosen way of authenticating is missing. The message names it.
    AADTOKEN_ERR_MISSING_SETTING = 103, "a required setting is missing", MissingSetting;

    // 200–299: reaching the identity provider.
    /// The identity provider could not be reached (DNS failure, connection refused or reset).
    AADTOKEN_ERR_NETWORK = 200, "the identity provider could not be reached", Network;
    /// The call did not complete within `timeout_ms`.
    AADTOKEN_ERR_TIMEOUT = 201, "no answer within timeout_ms", Timeout;
    /// The TLS handshake failed (untrusted CA, wrong host name, expired certificate).
    AADTOKEN_ERR_TLS = 202, "TLS handshake failed", Tls;
    /// The answer was not a valid OAuth response (e.g. a proxy's HTML page, a missing field).
    AADTOKEN_ERR_BAD_RESPONSE = 203, "the answer was not a valid OAuth response", BadResponse;

    // 300–399: the identity provider refused.
    /// The client's credentials were rejected (`invalid_client`: wrong or expired secret…).
    AADTOKEN_ERR_INVALID_CLIENT = 300, "client credentials rejected", InvalidClient;
    /// The application is unknown in the tenant or may not use this flow (`unauthorized_client`).
    AADTOKEN_ERR_UNAUTHORIZED_CLIENT = 301, "application unknown in the tenant or not allowed", UnauthorizedClient;
    /// The scope is not valid (`invalid_scope`: no `/.default`, several resources, malformed).
    AADTOKEN_ERR_INVALID_SCOPE = 302, "invalid scope", InvalidScope;
    /// The resource named by the scope is not registered in the tenant (`invalid_resource`).
    AADTOKEN_ERR_INVALID_RESOURCE = 303, "resource not found in the tenant", InvalidResource;
    /// The tenant does not exist in this cloud (AADSTS90002).
    AADTOKEN_ERR_TENANT_NOT_FOUND = 304, "tenant not found", TenantNotFound;
    /// A grant (refresh token, authorization code, assertion) was rejected (`invalid_grant`).
    AADTOKEN_ERR_INVALID_GRANT = 305, "grant rejected", InvalidGrant;
    /// A person must sign in again (`interaction_required`).
    AADTOKEN_ERR_INTERACTION_REQUIRED = 306, "the user must sign in again", InteractionRequired;
    /// The identity provider is throttling (HTTP 429, or 503 with `Retry-After`); see
    /// `aadtoken_error_retry_after`.
    AADTOKEN_ERR_THROTTLED = 307, "throttled by the identity provider", Throttled;
    /// The identity provider failed (HTTP 5xx).
    AADTOKEN_ERR_SERVER_ERROR = 308, "the identity provider failed", ServerError;
    /// Any other OAuth error from the identity provider; see `aadtoken_error_oauth_code`.
    AADTOKEN_ERR_IDENTITY_PROVIDER = 309, "the identity provider refused", IdentityProvider;
    /// Device code sign-in: the identity provider did not recognise the device code
    /// (`bad_verification_code`).
    AADTOKEN_ERR_BAD_VERIFICATION_CODE = 310, "the device code was not recognised", BadVerificationCode;

    // 400–499: local files and paths.
    /// A local file or directory could not be read or written (the token file's directory is
    /// missing, permission denied, disk full). The message names the path.
    AADTOKEN_ERR_FILE = 400, "a local file could not be read or written", File;
    /// A path was refused for safety: the token location is a symbolic link, or its directory can
    /// be written by other users. The message names the path and the reason.
    AADTOKEN_ERR_UNSAFE_PATH = 401, "unsafe path (symlink or others can write)", UnsafePath;

    // 500–599: flow control.
    /// `aadtoken_client_refresh_token` was called more than 10 times within a minute for the same
    /// identity and scopes; no request was made (Entra ID would answer AADSTS50196 "loop detected").
    AADTOKEN_ERR_TOO_MANY_REFRESHES = 500, "refresh_token called too often (loop guard)", TooManyRefreshes;
    /// The request was cancelled (`aadtoken_request_cancel`, or `aadtoken_shutdown` before it ended).
    AADTOKEN_ERR_CANCELLED = 501, "the request was cancelled", Cancelled;
    /// A callback of the host failed (the client-assertion callback returned non-zero, or an
    /// empty, oversized or non-UTF-8 assertion). The message says which.
    AADTOKEN_ERR_CALLBACK = 502, "a callback of the host failed", Callback;
    /// Signing a person in needs a callback the host has not set: the device-code prompt
    /// (`aadtoken_config_set_device_code_callback`), or an open-URL callback when the system browser
    /// could not be started. The library never prints the device-code message itself.
    AADTOKEN_ERR_CALLBACK_REQUIRED = 510, "sign-in needs a host callback that is not set", CallbackRequired;
    /// The person declined or cancelled the sign-in (`access_denied` on the browser redirect,
    /// `authorization_declined` for a device code).
    AADTOKEN_ERR_USER_CANCELLED = 511, "the person declined the sign-in", UserCancelled;
    /// The sign-in was not completed in time: the device code expired (`expired_token`, or its
    /// `expires_in` passed), or no browser redirect came within `interactive_timeout_s`.
    AADTOKEN_ERR_SIGN_IN_EXPIRED = 512, "the sign-in was not completed in time", SignInExpired;
    /// A browser sign-in's redirect carried another `state` than the one aadtoken sent (a stale
    /// tab or a forged redirect): nothing was redeemed; or the redeemed code's id token carried
    /// another `nonce` than the one sent, or none (a code from another sign-in): nothing was kept.
    AADTOKEN_ERR_STATE_MISMATCH = 513, "the sign-in's state or nonce did not match", StateMismatch;

    // 900–999: aadtoken itself.
    /// A bug in aadtoken (including a caught panic). Please report it.
    AADTOKEN_ERR_INTERNAL = 900, "internal error in aadtoken", Internal;
}

/// The table entry of a number, if it is a status.
pub fn lookup(number: aadtoken_status) -> Option<&'static Status> {
    STATUSES.iter().find(|s| s.number == number)
}
