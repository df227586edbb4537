//! Shared server state: scripted behaviour, injected faults, counters and the request log.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use serde::{Deserialize, Serialize};

use crate::keys::SigningKey;
use crate::registry::Registry;
use crate::user_state::UserFlows;

/// How `refresh_in` is emitted in successful token responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshIn {
    /// `"refresh_in": 1800`
    Number(u64),
    /// `"refresh_in": "1800"`
    String(u64),
}

impl RefreshIn {
    pub(crate) fn to_json(self) -> serde_json::Value {
        match self {
            RefreshIn::Number(n) => n.into(),
            RefreshIn::String(n) => n.to_string().into(),
        }
    }

    pub(crate) fn from_json(v: &serde_json::Value) -> Result<Option<Self>, String> {
        match v {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(|n| Some(RefreshIn::Number(n)))
                .ok_or_else(|| "refresh_in must be a non-negative integer".into()),
            serde_json::Value::String(s) => s
                .parse()
                .map(|n| Some(RefreshIn::String(n)))
                .map_err(|_| "refresh_in string must hold a non-negative integer".into()),
            _ => Err("refresh_in must be null, a number or a numeric string".into()),
        }
    }
}

impl Serialize for RefreshIn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for RefreshIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        RefreshIn::from_json(&v)
            .map_err(serde::de::Error::custom)?
            .ok_or_else(|| serde::de::Error::custom("refresh_in is null"))
    }
}

/// Scriptable token-endpoint behaviour. Serialised as the body of `GET/POST /_mock/config`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBehaviour {
    /// Token lifetime in seconds: `expires_in` and `exp - now` (default 3599).
    pub token_lifetime_s: u64,
    /// `ext_expires_in`; `None` (default) = same as the lifetime.
    pub ext_expires_in: Option<u64>,
    /// Emit `expires_in` and `ext_expires_in` as JSON strings (AADv1-like) instead of numbers.
    pub expires_in_as_string: bool,
    /// `refresh_in`: absent (default), a number or a string.
    pub refresh_in: Option<RefreshIn>,
    /// Added latency per token request, in milliseconds (default 0).
    pub latency_ms: u64,
}

impl Default for TokenBehaviour {
    fn default() -> Self {
        TokenBehaviour {
            token_lifetime_s: 3599,
            ext_expires_in: None,
            expires_in_as_string: false,
            refresh_in: None,
            latency_ms: 0,
        }
    }
}

impl TokenBehaviour {
    /// Applies a partial JSON update (`/_mock/config`): any of `token_lifetime_s`,
    /// `ext_expires_in`, `expires_in_as_string`, `refresh_in`, `latency_ms`.
    pub(crate) fn apply_json(&mut self, v: &serde_json::Value) -> Result<(), String> {
        let obj = v.as_object().ok_or("config must be a JSON object")?;
        let mut next = self.clone();
        for (k, v) in obj {
            let as_u64 = || v.as_u64().ok_or(format!("{k} must be a non-negative integer"));
            match k.as_str() {
                "token_lifetime_s" => next.token_lifetime_s = as_u64()?,
                "latency_ms" => next.latency_ms = as_u64()?,
                "expires_in_as_string" => {
                    next.expires_in_as_string = v.as_bool().ok_or("expires_in_as_string must be a boolean")?
                }
                "ext_expires_in" => next.ext_expires_in = if v.is_null() { None } else { Some(as_u64()?) },
                "refresh_in" => next.refresh_in = RefreshIn::from_json(v)?,
                other => return Err(format!("unknown config key '{other}'")),
            }
        }
        *self = next;
        Ok(())
    }
}

/// A scripted failure for upcoming token requests (see [`crate::MockServer::fail_next`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this HTTP status and an Entra-shaped error body; with `Retry-After: N`
    /// (integer seconds) when `retry_after` is set. 429 → `temporarily_unavailable`
    /// AADSTS90055; 503 → `temporarily_unavailable` AADSTS90033; other 5xx → `server_error`
    /// AADSTS90033; other statuses → `invalid_request` AADSTS90033.
    Status {
        /// HTTP status code.
        status: u16,
        /// `Retry-After` seconds.
        retry_after: Option<u32>,
    },
    /// Close the connection without sending a response.
    Disconnect,
    /// Answer 200 with a body that is not JSON (an HTML page, as a misbehaving proxy might).
    MalformedBody,
    /// Accept the request and never answer (until the client gives up or the mock stops).
    Hang,
    /// Answer 200 with a token response sent one byte every `delay_ms` milliseconds.
    Trickle {
        /// Pause between bytes.
        delay_ms: u64,
    },
    /// Answer 200 announcing a `Content-Length`, send half of the body, then close.
    Truncated,
    /// Answer 200, send part of the body, then abort the connection (a reset mid-response).
    ResetMidResponse,
    /// Answer 200 with a JSON body of `bytes` bytes (padding before the token fields).
    HugeBody {
        /// Size of the body.
        bytes: usize,
    },
    /// Answer 200 with an otherwise valid token response that lacks this field
    /// (`access_token` or `expires_in`).
    MissingField {
        /// The field left out.
        field: String,
    },
    /// Answer `307 Temporary Redirect` (which keeps the method and body) to `location`.
    Redirect {
        /// Where to.
        location: String,
    },
    /// Answer this status with an HTML page, as a proxy or load balancer does.
    HtmlStatus {
        /// HTTP status code.
        status: u16,
    },
}

impl Fault {
    /// `Fault::Status` without `Retry-After`.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            retry_after: None,
        }
    }

    /// HTTP 429 with an optional `Retry-After`.
    pub fn throttled(retry_after: Option<u32>) -> Self {
        Fault::Status {
            status: 429,
            retry_after,
        }
    }
}

/// Request counters. Control routes (`/_mock/...`) are not counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// All requests (any route).
    pub total_requests: u64,
    /// Requests to the token endpoint (any outcome, including injected faults).
    pub token_requests: u64,
    /// Successful token responses.
    pub tokens_issued: u64,
    /// Token-endpoint error responses (Entra errors and injected status faults).
    pub token_errors: u64,
    /// Injected faults consumed.
    pub faults_injected: u64,
    /// Token-endpoint requests by the client id presented (body `client_id` or HTTP Basic);
    /// requests without one are counted under `""`.
    pub token_requests_by_client: BTreeMap<String, u64>,
    /// Requests by route name: `openid_configuration`, `jwks`, `instance_discovery`,
    /// `token`, `not_found`.
    pub requests_by_route: BTreeMap<String, u64>,
}

/// How the client authenticated a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// `client_secret` in the form body.
    ClientSecretPost,
    /// HTTP Basic (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_assertion` (JWT) in the form body.
    PrivateKeyJwt,
    /// No client credential.
    None,
}

/// One logged request (secrets redacted; see the crate docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// Sequence number, from 1, per server.
    pub seq: u64,
    /// Arrival time, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Route name (as in [`Counters::requests_by_route`]).
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Request path (registered secrets replaced by `<redacted:secret>`).
    pub path: String,
    /// Raw query string, if any (registered secrets replaced by `<redacted:secret>`, values of
    /// sensitive keys by `<redacted>`).
    pub query: Option<String>,
    /// Header names (lower case) and values, in arrival order. `Authorization` is logged as
    /// `<scheme> <redacted>`; registered secrets elsewhere as `<redacted:secret>`.
    pub headers: Vec<(String, String)>,
    /// Decoded form fields of an `application/x-www-form-urlencoded` body, in order; values of
    /// sensitive keys are `<redacted>`.
    pub form: Vec<(String, String)>,
    /// A non-form body as (lossy) text, redacted and cut to 4 KiB; `None` for form or empty bodies.
    pub body_text: Option<String>,
    /// How the client authenticated.
    pub client_auth: ClientAuthMethod,
    /// The client id presented (body or HTTP Basic), if any.
    pub client_id: Option<String>,
    /// Where a registered client secret appeared: `body` (the `client_secret` field),
    /// `body:<key>`, `basic`, `query`, `path`, `header:<name>`.
    pub secret_in: Vec<String>,
    /// Response status.
    pub status: u16,
    /// AADSTS code of an error response, if any.
    pub aadsts: Option<u32>,
}

impl LoggedRequest {
    /// Value of the first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Value of the first form field with this name.
    pub fn form_value(&self, key: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// State shared by the HTTP handlers and the [`crate::MockServer`] handle.
pub(crate) struct Shared {
    pub registry: RwLock<Registry>,
    pub behaviour: Mutex<TokenBehaviour>,
    pub initial_behaviour: TokenBehaviour,
    pub faults: Mutex<VecDeque<Fault>>,
    pub counters: Mutex<Counters>,
    pub log: Mutex<VecDeque<LoggedRequest>>,
    pub log_capacity: usize,
    pub seq: AtomicU64,
    pub key: SigningKey,
    pub port: u16,
    /// Person sign-in: authorization codes, device codes, refresh tokens and their scripting.
    pub user_flows: Mutex<UserFlows>,
}

/// Locks a mutex, ignoring poisoning (a panicking test thread must not break the mock).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn behaviour(&self) -> TokenBehaviour {
        lock(&self.behaviour).clone()
    }

    pub fn push_log(&self, mut entry: LoggedRequest) {
        entry.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let mut log = lock(&self.log);
        if self.log_capacity > 0 && log.len() >= self.log_capacity {
            log.pop_front();
        }
        log.push_back(entry);
    }

    pub fn take_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    pub fn reset(&self) {
        *lock(&self.behaviour) = self.initial_behaviour.clone();
        lock(&self.faults).clear();
        *lock(&self.counters) = Counters::default();
        lock(&self.log).clear();
        *lock(&self.user_flows) = Default::default();
    }
}
