//! Person sign-in state of one server: authorization codes, device codes, refresh tokens and
//! how the next sign-ins are scripted. Read and written by the person sign-in routes
//! (`user_flows`) and grants (`token`), kept in [`crate::state::Shared`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Grant types handled here.
pub(crate) const USER_GRANTS: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code",
];
/// Authorization codes live this long (Entra: about 10 minutes).
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Refresh tokens unused for this long are expired (AADSTS700082); Entra: 90 days.
const DEFAULT_RT_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// What `/authorize` does with the next sign-ins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum AuthorizeMode {
    /// Sign in at once as this user (`None`: the `login_hint` user if it exists, else the
    /// fixture [`USERNAME`](crate::USERNAME)) and redirect with a code.
    Approve {
        /// User name.
        user: Option<String>,
    },
    /// Redirect with `error=access_denied` (AADSTS65004: the user declined).
    Deny,
    /// Show a sign-in page (HTML, a form with "Sign in" and "Cancel" buttons) that a person —
    /// or a real browser driven by a test — submits: "Sign in" signs in as the `login_hint`
    /// user (else the fixture user), "Cancel" is `Deny`.
    Page,
}

impl Default for AuthorizeMode {
    fn default() -> Self {
        AuthorizeMode::Approve { user: None }
    }
}

/// What the id tokens the mock issues say of the authorize request's OpenID Connect `nonce`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NonceMode {
    /// As Entra does: the id token of an authorization code carries its authorize request's
    /// `nonce` (when it had one); other grants' id tokens carry none.
    #[default]
    Echo,
    /// Every id token leaves `nonce` out (a provider that drops it).
    Omit,
    /// Every id token carries [`OTHER_NONCE`]: the nonce of another sign-in (an injected code).
    Other,
}

/// The `nonce` of id tokens in [`NonceMode::Other`].
pub const OTHER_NONCE: &str = "nonce-of-another-sign-in";

impl NonceMode {
    /// The `nonce` claim of an id token whose code's authorize request sent `sent`.
    pub(crate) fn claim(self, sent: Option<String>) -> Option<String> {
        match self {
            NonceMode::Echo => sent,
            NonceMode::Omit => None,
            NonceMode::Other => Some(OTHER_NONCE.to_owned()),
        }
    }
}

/// Where a device code stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "user", rename_all = "snake_case")]
pub enum DeviceCodeStatus {
    /// Nobody has entered it yet (`authorization_pending`).
    Pending,
    /// A user signed in with it.
    Approved(String),
    /// The user declined (`authorization_declined`).
    Denied,
}

pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) tenant_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) challenge: Option<(String, String)>,
    pub(crate) user: String,
    /// The authorize request's OpenID Connect `nonce`, put into the id token as Entra does.
    pub(crate) nonce: Option<String>,
    pub(crate) issued: Instant,
    pub(crate) used: bool,
}

pub(crate) struct DeviceEntry {
    pub(crate) device_code: String,
    pub(crate) user_code: String,
    pub(crate) client_id: String,
    pub(crate) tenant_id: String,
    /// The scope asked for with the code: the token request may leave `scope` out (RFC 8628 §3.4).
    pub(crate) scope: String,
    pub(crate) expires: Instant,
    pub(crate) interval: Duration,
    pub(crate) last_poll: Option<Instant>,
    pub(crate) slow_down_left: u32,
    pub(crate) status: DeviceCodeStatus,
}

pub(crate) struct RefreshEntry {
    pub(crate) client_id: String,
    pub(crate) tenant_id: String,
    pub(crate) user: String,
    pub(crate) issued: Instant,
    /// Rotated (replaced by a newer one) or revoked: refused with AADSTS70043.
    pub(crate) dead: bool,
}

/// Person sign-in state of one server.
pub(crate) struct UserFlows {
    pub(crate) authorize: AuthorizeMode,
    pub(crate) id_token_nonce: NonceMode,
    pub(crate) device_interval: u64,
    pub(crate) device_expires_in: u64,
    pub(crate) slow_down_polls: u32,
    pub(crate) rt_lifetime: Duration,
    pub(crate) codes: HashMap<String, AuthCode>,
    pub(crate) devices: Vec<DeviceEntry>,
    pub(crate) refresh: HashMap<String, RefreshEntry>,
    pub(crate) codes_issued: u64,
    pub(crate) refresh_tokens_issued: u64,
}

impl Default for UserFlows {
    fn default() -> Self {
        UserFlows {
            authorize: AuthorizeMode::default(),
            id_token_nonce: NonceMode::default(),
            device_interval: 5,
            device_expires_in: 900,
            slow_down_polls: 0,
            rt_lifetime: DEFAULT_RT_LIFETIME,
            codes: HashMap::new(),
            devices: Vec::new(),
            refresh: HashMap::new(),
            codes_issued: 0,
            refresh_tokens_issued: 0,
        }
    }
}

pub(crate) fn random(n: usize) -> String {
    let mut out = String::new();
    while out.len() < n {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(n);
    out
}

pub(crate) fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uuid::Uuid::new_v4().as_bytes()[..9]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

impl UserFlows {
    /// The tenant of the person-sign-in grant in `form` (the code's, the device code's or the
    /// refresh token's), for a token request to `organizations`, `common` or `consumers`:
    /// Entra finds the tenant from what the grant carries.
    pub(crate) fn tenant_of_grant(&self, form: &[(String, String)]) -> Option<String> {
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        match get("grant_type")? {
            "authorization_code" => self.codes.get(get("code")?).map(|c| c.tenant_id.clone()),
            "refresh_token" => self
                .refresh
                .get(get("refresh_token")?)
                .map(|e| e.tenant_id.clone()),
            _ => {
                let code = get("device_code")?;
                self.devices
                    .iter()
                    .find(|d| d.device_code == code)
                    .map(|d| d.tenant_id.clone())
            }
        }
    }
}
