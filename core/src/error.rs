//! The one error type: what went wrong (a [`ErrorKind`]), a sentence a DBA can act on, and the
//! identity provider's diagnostics (OAuth `error`, AADSTS codes, correlation and trace ids).
//!
//! Messages never contain secrets: they are built from setting *names*, server diagnostics and
//! our own text, never from credential values or tokens.

use std::fmt;
use std::time::Duration;

/// A result with aadtoken's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What class of failure happened. Each kind maps to one C status code (see `ffi::status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A required argument was missing (NULL) or malformed (not UTF-8, empty).
    InvalidArgument,
    /// A setting key that aadtoken does not know.
    UnknownSetting,
    /// A setting with a value that is not acceptable (not https, not a number, unreadable file…).
    InvalidSetting,
    /// A setting that the chosen way of authenticating needs was not given.
    MissingSetting,
    /// The identity provider could not be reached (DNS, connection refused or reset).
    Network,
    /// The call did not finish within `timeout_ms`.
    Timeout,
    /// The TLS handshake failed (untrusted CA, wrong host name, expired certificate…).
    Tls,
    /// The identity provider answered with something that is not a valid OAuth response.
    BadResponse,
    /// The identity provider rejected the client's credentials (`invalid_client`).
    InvalidClient,
    /// The application is not known in the tenant or may not use this flow (`unauthorized_client`).
    UnauthorizedClient,
    /// The scope is malformed, names several resources, or lacks `/.default` (`invalid_scope`).
    InvalidScope,
    /// The resource (the database's application ID URI) is not known in the tenant.
    InvalidResource,
    /// The tenant does not exist in this cloud (AADSTS90002).
    TenantNotFound,
    /// A grant (refresh token, code, assertion) was rejected (`invalid_grant`).
    InvalidGrant,
    /// A person must sign in again (`interaction_required`).
    InteractionRequired,
    /// The identity provider asked us to slow down (HTTP 429 / 503 with `Retry-After`).
    Throttled,
    /// The identity provider failed (HTTP 5xx).
    ServerError,
    /// Any other OAuth error answered by the identity provider.
    IdentityProvider,
    /// A local file or directory could not be read or written (missing directory, permission
    /// denied, disk full).
    File,
    /// A path was refused for safety: a symbolic link, or a directory other users can write.
    UnsafePath,
    /// `refresh_token` was called too often for the same identity and scopes (loop guard).
    TooManyRefreshes,
    /// The request was cancelled (by the host, or because the library was shut down).
    Cancelled,
    /// A callback of the host (e.g. the client-assertion callback) failed or returned nothing
    /// usable.
    Callback,
    /// Signing a person in needs a host callback that is not set (the device-code prompt), or
    /// the system browser could not be opened (set an open-URL callback).
    CallbackRequired,
    /// The person declined or cancelled the sign-in (`access_denied`, `authorization_declined`).
    UserCancelled,
    /// The sign-in was not completed in time (the device code expired, `interactive_timeout_s`).
    SignInExpired,
    /// The redirect of a browser sign-in carried another `state` than the one aadtoken sent (a
    /// stale browser tab, or a forged redirect): no code was redeemed. Also when the redeemed
    /// code's id token carried another OpenID Connect `nonce` than the one sent, or none (a
    /// code from another sign-in): its tokens were not kept.
    StateMismatch,
    /// The device code was not recognised by the identity provider (`bad_verification_code`).
    BadVerificationCode,
    /// A bug in aadtoken (including a caught panic).
    Internal,
}

/// An aadtoken error. Never contains a secret. One pointer wide, so `Result`s stay small.
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<Details>);

#[derive(Clone, PartialEq, Eq)]
struct Details {
    kind: ErrorKind,
    message: String,
    oauth_error: Option<String>,
    aadsts: Vec<u32>,
    correlation_id: Option<String>,
    trace_id: Option<String>,
    http_status: Option<u16>,
    retry_after: Option<Duration>,
}

impl Error {
    /// An error of `kind` with `message` (no secrets in it).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Details {
            kind,
            message: message.into(),
            oauth_error: None,
            aadsts: Vec::new(),
            correlation_id: None,
            trace_id: None,
            http_status: None,
            retry_after: None,
        }))
    }

    /// A missing or malformed argument, named as the caller knows it (`"key"`, `"scopes"`).
    pub fn invalid_argument(argument: &str, problem: &str) -> Self {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("argument '{argument}' {problem}"),
        )
    }

    /// An unknown setting key (`UnknownSetting`), naming the key.
    pub fn unknown_setting(key: &str) -> Self {
        Error::new(
            ErrorKind::UnknownSetting,
            format!(
                "unknown setting '{key}' (see the README's settings table for the keys aadtoken accepts)"
            ),
        )
    }

    /// A bad value of the setting `key` (`InvalidSetting`): `setting '<key>' <problem>`.
    pub fn invalid_setting(key: &str, problem: impl fmt::Display) -> Self {
        Error::new(ErrorKind::InvalidSetting, format!("setting '{key}' {problem}"))
    }

    /// A setting `key` that must be set (`MissingSetting`); `why` says what for.
    pub fn missing_setting(key: &str, why: &str) -> Self {
        Error::new(
            ErrorKind::MissingSetting,
            format!("setting '{key}' is required {why}"),
        )
    }

    /// A bug or an impossible state (`Internal`).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// The HTTP status of the answer this error came from.
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.0.http_status = Some(status);
        self
    }

    /// The correlation id of the request (sent as `client-request-id`, or Entra's).
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.0.correlation_id = Some(id.into());
        self
    }

    /// Entra's trace id.
    pub fn with_trace_id(mut self, id: impl Into<String>) -> Self {
        self.0.trace_id = Some(id.into());
        self
    }

    /// The OAuth error code (`invalid_client`, …).
    pub fn with_oauth_error(mut self, code: impl Into<String>) -> Self {
        self.0.oauth_error = Some(code.into());
        self
    }

    /// The AADSTS codes of the answer.
    pub fn with_aadsts(mut self, codes: Vec<u32>) -> Self {
        self.0.aadsts = codes;
        self
    }

    /// The server's `Retry-After`.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.0.retry_after = Some(after);
        self
    }

    /// The same error (message, codes, ids) as another kind: e.g. a refresh token's
    /// `invalid_grant`, which means the person must sign in again.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// Prefix the message with where the error happened ("token request to …: ").
    /// The same error — OAuth code, AADSTS codes, correlation and trace ids, HTTP status,
    /// `Retry-After` — as another kind with a new message (e.g. a device-code `expired_token`
    /// becomes [`ErrorKind::SignInExpired`] with a sentence for a person).
    pub fn reclassified(mut self, kind: ErrorKind, message: impl Into<String>) -> Self {
        self.0.kind = kind;
        self.0.message = message.into();
        self
    }

    /// Put `what` (e.g. `token request to <url>`) in front of the message.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.0.message = format!("{what}: {}", self.0.message);
        self
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }
    /// The message: what went wrong and, where known, the usual fix.
    pub fn message(&self) -> &str {
        &self.0.message
    }
    /// The OAuth `error` value (`invalid_client`…), when the identity provider sent one.
    pub fn oauth_error(&self) -> Option<&str> {
        self.0.oauth_error.as_deref()
    }
    /// AADSTS numbers from `error_codes`, first the main one.
    pub fn aadsts(&self) -> &[u32] {
        &self.0.aadsts
    }
    /// The correlation id, if any.
    pub fn correlation_id(&self) -> Option<&str> {
        self.0.correlation_id.as_deref()
    }
    /// Entra's trace id, if any.
    pub fn trace_id(&self) -> Option<&str> {
        self.0.trace_id.as_deref()
    }
    /// The HTTP status of the answer, if one came.
    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }
    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        if let Some(id) = &self.0.correlation_id {
            write!(f, " (correlation id {id})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .field("oauth_error", &self.0.oauth_error)
            .field("aadsts", &self.0.aadsts)
            .field("correlation_id", &self.0.correlation_id)
            .field("trace_id", &self.0.trace_id)
            .field("http_status", &self.0.http_status)
            .field("retry_after", &self.0.retry_after)
            .finish()
    }
}

impl std::error::Error for Error {}

/// One sentence on the usual cause of the AADSTS codes people meet most, appended to messages.
pub fn aadsts_hint(code: u32) -> Option<&'static str> {
    Some(match code {
        7000215 => "the client secret is wrong; a common mistake is to use the secret's ID instead of its value",
        7000222 => "the client secret has expired; create a new one for the app registration and update 'client_secret'",
        7000218 => "no client credential was sent; set 'client_secret' (or a certificate or assertion)",
        700016 => "no application with this 'client_id' exists in this tenant; check 'client_id', 'tenant_id' and that the app is registered in the same cloud as 'authority_host'",
        70011 | 1002012 => "the scope is not valid; for a database use '<application ID URI>/.default', e.g. 'api://<app-id>/.default'",
        700022 | 28000 => "the scope names more than one resource; request one resource per token",
        500011 => "the resource in the scope is not registered in this tenant; check the database's application ID URI (it must equal the token audience the database expects)",
        90002 => "the tenant was not found; check 'tenant_id' and that 'authority_host' is the tenant's cloud",
        50196 => "the identity provider saw too many identical requests (loop detected); cache tokens instead of requesting new ones",
        _ => return None,
    })
}

/// Test helper: asserts that `e` is of `kind` and that its message names each of `parts`.
#[cfg(test)]
pub(crate) fn assert_error(e: &Error, kind: ErrorKind, parts: &[&str]) {
    assert_eq!(e.kind(), kind, "{e}");
    for part in parts {
        assert!(e.message().contains(part), "no {part:?} in: {}", e.message());
    }
}
