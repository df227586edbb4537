//! Person sign-in, played as Entra ID does (entra-protocol.md §2, §5, §7): `/authorize` with a
//! loopback redirect and PKCE, `/devicecode` and its polling, and the `authorization_code`,
//! device-code and `refresh_token` grants, with id tokens, `client_info` and rotating refresh
//! tokens. Nobody signs in: `/authorize` approves (as a chosen user) or denies at once, and
//! device codes are approved or denied through the Rust API or a `/_mock/` route.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::entra::{AadstsCode, EntraError, RequestIds};
use crate::redact;
use crate::registry::USERNAME;
use crate::respond::{
    bad_control, client_info, public_flows_disabled, request_host, resolve_tenant, token_error_response,
    token_headers, unknown_client, ControlJson, FormRequest, TenantRef,
};
use crate::state::{lock, Shared};
use crate::user_state::{
    random, user_code, AuthCode, AuthorizeMode, DeviceCodeStatus, DeviceEntry, NonceMode,
};
use crate::MockServer;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize).post(authorize_form),
        )
        .route("/{tenant}/oauth2/v2.0/devicecode", any(devicecode))
        .route("/devicelogin", get(devicelogin))
        .route("/_mock/authorize", post(ctl_authorize))
        .route("/_mock/id_token", post(ctl_id_token))
        .route("/_mock/devicecode", post(ctl_devicecode))
        .route("/_mock/devicecode/approve", post(ctl_device_approve))
        .route("/_mock/devicecode/deny", post(ctl_device_deny))
        .route("/_mock/refresh_tokens/revoke", post(ctl_revoke))
        .route("/_mock/user_flows", get(ctl_summary))
}

/// A registered redirect URI matching `uri`: same scheme, host and path; the port of a
/// `localhost`/`127.0.0.1` URI is ignored (MS docs reply-url.md, "Localhost exceptions").
fn redirect_matches(registered: &str, uri: &str) -> bool {
    let (Ok(r), Ok(u)) = (reqwest_free_parse(registered), reqwest_free_parse(uri)) else {
        return false;
    };
    let loopback = |h: &str| h == "localhost" || h == "127.0.0.1";
    let path = |p: &str| {
        if p.is_empty() {
            "/".to_owned()
        } else {
            p.to_owned()
        }
    };
    r.0 == u.0
        && r.1.eq_ignore_ascii_case(&u.1)
        && path(&r.3) == path(&u.3)
        && (r.2 == u.2 || (u.0 == "http" && loopback(&u.1.to_ascii_lowercase())))
}

/// (scheme, host, port, path) of an absolute `http(s)` URI without a query.
fn reqwest_free_parse(uri: &str) -> Result<(String, String, Option<u16>, String), ()> {
    let (scheme, rest) = uri.split_once("://").ok_or(())?;
    if rest.contains(['?', '#']) {
        return Err(());
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse().map_err(|_| ())?)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(());
    }
    Ok((
        scheme.to_ascii_lowercase(),
        host.to_owned(),
        port,
        path.to_owned(),
    ))
}

/// For `organizations`, `common` and `consumers`: the mock signs people in to the first tenant
/// that registers the application (one home tenant per sign-in; the person's own in Entra).
fn home_of_client(st: &Shared, client_id: &str) -> Option<crate::registry::Tenant> {
    st.registry()
        .tenants
        .iter()
        .find(|t| t.client(client_id).is_some())
        .cloned()
}

/// An Entra error page (no redirect: the request cannot be trusted to say where to go).
fn error_page(status: u16, code: u32, message: &str, headers: &HeaderMap) -> Response {
    let ids = RequestIds::new(headers);
    let body = format!(
        "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>\
         <h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{code}: {}</p>\
         <p>Trace ID: {}<br>Correlation ID: {}</p></body></html>",
        message.replace('<', "&lt;"),
        ids.trace_id,
        ids.correlation_id
    );
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
        .into_response();
    ids.apply(resp.headers_mut());
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.extensions_mut().insert(AadstsCode(code));
    resp
}

/// A 302 to the redirect URI with these parameters (a path-less URI gets its `/`).
fn redirect(uri: &str, params: &[(&str, &str)], code: Option<u32>) -> Response {
    let base = if reqwest_free_parse(uri).map(|p| p.3.is_empty()).unwrap_or(false) {
        format!("{uri}/")
    } else {
        uri.to_owned()
    };
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().copied())
        .finish();
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{base}?{query}")) {
        resp.headers_mut().insert("location", v);
    }
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store, no-cache"));
    if let Some(c) = code {
        resp.extensions_mut().insert(AadstsCode(c));
    }
    resp
}

async fn authorize(
    State(st): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    sign_in(&st, &tenant, &q, &headers, None)
}

/// The sign-in page's form (`AuthorizeMode::Page`): its hidden fields are the authorize
/// request's parameters, its buttons `decision=sign_in` or `decision=cancel`.
async fn authorize_form(
    State(st): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let decision = redact::value(&q, "decision");
    let mode = if decision == Some("sign_in") {
        AuthorizeMode::Approve { user: None }
    } else {
        AuthorizeMode::Deny
    };
    sign_in(&st, &tenant, &q, &headers, Some(mode))
}

/// The sign-in page a person sees in `AuthorizeMode::Page`: the request's parameters as hidden
/// fields of a form posted back to `/authorize` with the button pressed.
fn sign_in_page(q: &[(String, String)], user: &str) -> Response {
    let attr = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let hidden: String = q
        .iter()
        .filter(|(k, _)| k != "decision")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                attr(k),
                attr(v)
            )
        })
        .collect();
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head>\
         <body><h1>Sign in</h1><p>aadtoken-mock signs you in as <b id=\"user\">{}</b>.</p>\
         <form method=\"post\">{hidden}\
         <button id=\"sign-in\" type=\"submit\" name=\"decision\" value=\"sign_in\">Sign in</button> \
         <button id=\"cancel\" type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button>\
         </form></body></html>",
        attr(user)
    );
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store, no-cache"));
    resp
}

/// `/authorize` (GET) and its page's form (POST, `decided`: the button the person pressed).
fn sign_in(
    st: &Shared,
    tenant: &str,
    q: &[(String, String)],
    headers: &HeaderMap,
    decided: Option<AuthorizeMode>,
) -> Response {
    let (tenant, headers) = (tenant.to_owned(), headers.clone());
    let get = |k: &str| redact::filled(q, k);
    // A parameter the page cannot do without: AADSTS900144, shown on the page.
    let missing = |name: &str| {
        let e = EntraError::missing_param(name);
        error_page(400, e.code, &e.message, &headers)
    };
    let tenant = match resolve_tenant(st, &tenant, "invalid_request") {
        Ok(TenantRef::Known(t)) => *t,
        Ok(TenantRef::Meta(m)) => match get("client_id").and_then(|c| home_of_client(st, c)) {
            Some(t) => t,
            None => {
                return error_page(
                    400,
                    90002,
                    &format!("Tenant '{m}': no tenant of the mock registers this application."),
                    &headers,
                )
            }
        },
        Err(e) => return error_page(400, e.code, &e.message, &headers),
    };
    let Some(client_id) = get("client_id") else {
        return missing("client_id");
    };
    let Some(client) = tenant.client(client_id) else {
        return error_page(
            400,
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                tenant.display_name
            ),
            &headers,
        );
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return missing("redirect_uri");
    };
    if !client
        .redirect_uris
        .iter()
        .any(|r| redirect_matches(r, redirect_uri))
    {
        return error_page(
            400,
            50011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
            ),
            &headers,
        );
    }
    let state = get("state").unwrap_or("");
    let fail = |error: &str, code: u32, message: &str| {
        let description = format!("AADSTS{code}: {message}");
        let mut p = vec![("error", error), ("error_description", description.as_str())];
        if !state.is_empty() {
            p.push(("state", state));
        }
        redirect(redirect_uri, &p, Some(code))
    };
    if get("response_type") != Some("code") {
        return fail(
            "unsupported_response_type",
            700054,
            "response_type 'code' is required by this mock.",
        );
    }
    let Some(scope) = get("scope") else {
        let e = EntraError::missing_param("scope");
        return fail(e.error, e.code, &e.message);
    };
    if let Err(e) = crate::grants::user_resource(scope) {
        return fail(e.error, e.code, &e.message);
    }
    let challenge = match (
        get("code_challenge"),
        get("code_challenge_method").unwrap_or("plain"),
    ) {
        (None, _) => None,
        (Some(c), m @ ("S256" | "plain")) => {
            if m == "S256" && c.len() != 43 || !(43..=128).contains(&c.len()) {
                return fail(
                    "invalid_request",
                    501491,
                    "Invalid size of Code_Challenge parameter.",
                );
            }
            Some((c.to_owned(), m.to_owned()))
        }
        (Some(_), _) => {
            return fail(
                "invalid_request",
                5000112,
                "The code_challenge_method is not supported (S256, plain).",
            )
        }
    };
    let mode = decided.unwrap_or_else(|| lock(&st.user_flows).authorize.clone());
    let user = match mode {
        AuthorizeMode::Page => {
            let user = get("login_hint")
                .filter(|h| tenant.user(h).is_some())
                .unwrap_or(USERNAME);
            return sign_in_page(q, user);
        }
        AuthorizeMode::Deny => {
            return fail(
                "access_denied",
                65004,
                "User declined to consent to access the app.",
            );
        }
        AuthorizeMode::Approve { user: Some(u) } => u,
        AuthorizeMode::Approve { user: None } => get("login_hint")
            .filter(|h| tenant.user(h).is_some())
            .unwrap_or(USERNAME)
            .to_owned(),
    };
    let Some(user) = tenant.user(&user).cloned() else {
        return fail(
            "access_denied",
            50034,
            "The user account does not exist in the directory.",
        );
    };
    let code = format!("1.AQ-mock-code.{}", random(48));
    {
        let mut f = lock(&st.user_flows);
        f.codes_issued += 1;
        f.codes.insert(
            code.clone(),
            AuthCode {
                client_id: client.client_id.clone(),
                tenant_id: tenant.tenant_id.clone(),
                redirect_uri: redirect_uri.to_owned(),
                challenge,
                user: user.username.clone(),
                nonce: get("nonce").map(str::to_owned),
                issued: Instant::now(),
                used: false,
            },
        );
    }
    let info = client_info(&user, &tenant);
    let mut p = vec![("code", code.as_str())];
    if get("client_info") == Some("1") {
        p.push(("client_info", info.as_str()));
    }
    if !state.is_empty() {
        p.push(("state", state));
    }
    p.push(("session_state", "00000000-0000-0000-0000-00000000mock"));
    redirect(redirect_uri, &p, None)
}

async fn devicecode(State(st): State<Arc<Shared>>, r: FormRequest) -> Response {
    let get = |k: &str| redact::filled(&r.form, k);
    let (tenant, method, uri, headers, ids) = (r.tenant, r.method, r.uri, r.headers, r.ids);
    let result = (|| -> Result<Value, EntraError> {
        if method != Method::POST {
            return Err(EntraError::new(
                400,
                "invalid_request",
                900561,
                "The endpoint only accepts POST requests.",
            ));
        }
        let client_id = get("client_id").ok_or_else(|| EntraError::missing_param("client_id"))?;
        let tenant = match resolve_tenant(&st, &tenant, "invalid_request")? {
            TenantRef::Known(t) => t,
            TenantRef::Meta(m) => Box::new(
                home_of_client(&st, client_id)
                    .ok_or_else(|| EntraError::tenant_not_found("invalid_request", &m))?,
            ),
        };
        let client = tenant
            .client(client_id)
            .ok_or_else(|| unknown_client(client_id, &tenant))?;
        if !client.allow_public_client {
            return Err(public_flows_disabled());
        }
        let scope = get("scope").ok_or_else(|| EntraError::missing_param("scope"))?;
        crate::grants::user_resource(scope)?;
        let mut f = lock(&st.user_flows);
        let entry = DeviceEntry {
            device_code: format!("DAQABAAEAAAD-mock.{}", random(64)),
            user_code: user_code(),
            client_id: client.client_id.clone(),
            tenant_id: tenant.tenant_id.clone(),
            scope: scope.to_owned(),
            expires: Instant::now() + Duration::from_secs(f.device_expires_in),
            interval: Duration::from_secs(f.device_interval),
            last_poll: None,
            slow_down_left: f.slow_down_polls,
            status: DeviceCodeStatus::Pending,
        };
        let host = request_host(&st, &uri, &headers);
        let verification_uri = format!("https://{host}/devicelogin");
        let body = json!({
            "user_code": entry.user_code,
            "device_code": entry.device_code,
            "verification_uri": verification_uri,
            "expires_in": f.device_expires_in,
            "interval": f.device_interval,
            "message": format!(
                "To sign in, use a web browser to open the page {verification_uri} and enter the code {} to authenticate.",
                entry.user_code
            ),
        });
        f.devices.push(entry);
        Ok(body)
    })();
    match result {
        Ok(body) => {
            let mut resp = (StatusCode::OK, Json(body)).into_response();
            token_headers(&mut resp, &ids);
            resp
        }
        Err(e) => token_error_response(&e, &ids),
    }
}

async fn devicelogin() -> Response {
    let mut resp = (
        StatusCode::OK,
        "<!DOCTYPE html><html><body><h1>aadtoken-mock device login</h1><p>Nobody signs in here: approve or deny \
         a code with POST /_mock/devicecode/approve or /_mock/devicecode/deny {\"user_code\":\"…\"}.</p></body></html>",
    )
        .into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

// ---------------------------------------------------------------------------------------
// Control API and the Rust API

async fn ctl_authorize(State(st): State<Arc<Shared>>, ControlJson(v): ControlJson) -> Response {
    let mode = match v.get("mode").and_then(Value::as_str) {
        Some("approve") => AuthorizeMode::Approve {
            user: v.get("user").and_then(Value::as_str).map(str::to_owned),
        },
        Some("deny") => AuthorizeMode::Deny,
        Some("page") => AuthorizeMode::Page,
        _ => {
            return bad_control("mode must be \"approve\" (with an optional \"user\"), \"deny\" or \"page\"")
        }
    };
    lock(&st.user_flows).authorize = mode.clone();
    Json(mode).into_response()
}

/// `{"nonce": "echo" | "omit" | "other"}`: what later id tokens say of the authorize `nonce`.
async fn ctl_id_token(State(st): State<Arc<Shared>>, ControlJson(v): ControlJson) -> Response {
    let mode = match v.get("nonce").and_then(Value::as_str) {
        Some("echo") => NonceMode::Echo,
        Some("omit") => NonceMode::Omit,
        Some("other") => NonceMode::Other,
        _ => return bad_control("nonce must be \"echo\", \"omit\" or \"other\""),
    };
    lock(&st.user_flows).id_token_nonce = mode;
    Json(json!({ "nonce": mode })).into_response()
}

async fn ctl_devicecode(State(st): State<Arc<Shared>>, ControlJson(v): ControlJson) -> Response {
    let Some(obj) = v.as_object() else {
        return bad_control("expected a JSON object");
    };
    let mut f = lock(&st.user_flows);
    for (k, v) in obj {
        let Some(n) = v.as_u64() else {
            return bad_control(format!("{k} must be a non-negative integer"));
        };
        match k.as_str() {
            "interval" => f.device_interval = n,
            "expires_in" => f.device_expires_in = n,
            "slow_down_polls" => f.slow_down_polls = n as u32,
            other => return bad_control(format!("unknown key '{other}'")),
        }
    }
    Json(json!({"interval": f.device_interval, "expires_in": f.device_expires_in, "slow_down_polls": f.slow_down_polls}))
        .into_response()
}

fn set_device_status(st: &Shared, user_code: &str, status: DeviceCodeStatus) -> bool {
    let mut f = lock(&st.user_flows);
    match f
        .devices
        .iter_mut()
        .rev()
        .find(|d| d.user_code.eq_ignore_ascii_case(user_code))
    {
        Some(d) => {
            d.status = status;
            true
        }
        None => false,
    }
}

async fn ctl_device_approve(State(st): State<Arc<Shared>>, ControlJson(v): ControlJson) -> Response {
    answer_device_code(&st, &v, true)
}

async fn ctl_device_deny(State(st): State<Arc<Shared>>, ControlJson(v): ControlJson) -> Response {
    answer_device_code(&st, &v, false)
}

/// `{"user_code": …, "user": …}`: approve (as `user`, default the fixture user) or deny.
fn answer_device_code(st: &Shared, v: &Value, approve: bool) -> Response {
    let Some(code) = v.get("user_code").and_then(Value::as_str) else {
        return bad_control("user_code is required");
    };
    let user = v.get("user").and_then(Value::as_str).unwrap_or(USERNAME);
    let (status, ok) = if approve {
        (
            DeviceCodeStatus::Approved(user.to_owned()),
            json!({"ok": true, "user": user}),
        )
    } else {
        (DeviceCodeStatus::Denied, json!({"ok": true}))
    };
    if set_device_status(st, code, status) {
        Json(ok).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no device code with user code '{code}'")})),
        )
            .into_response()
    }
}

fn revoke(st: &Shared, user: &str) -> usize {
    let mut f = lock(&st.user_flows);
    let mut n = 0;
    for e in f.refresh.values_mut() {
        if e.user.eq_ignore_ascii_case(user) && !e.dead {
            e.dead = true;
            n += 1;
        }
    }
    n
}

async fn ctl_revoke(State(st): State<Arc<Shared>>, ControlJson(v): ControlJson) -> Response {
    let user = v.get("user").and_then(Value::as_str).unwrap_or(USERNAME);
    Json(json!({"revoked": revoke(&st, user)})).into_response()
}

fn summary(st: &Shared) -> Value {
    let f = lock(&st.user_flows);
    json!({
        "authorize": f.authorize,
        "id_token_nonce": f.id_token_nonce,
        "device_code": {"interval": f.device_interval, "expires_in": f.device_expires_in, "slow_down_polls": f.slow_down_polls},
        "authorization_codes_issued": f.codes_issued,
        "refresh_tokens_issued": f.refresh_tokens_issued,
        "live_refresh_tokens": f.refresh.values().filter(|e| !e.dead).count(),
        "device_codes": f.devices.iter().map(|d| json!({"user_code": d.user_code, "state": d.status})).collect::<Vec<_>>(),
    })
}

async fn ctl_summary(State(st): State<Arc<Shared>>) -> Response {
    Json(summary(&st)).into_response()
}

/// Person sign-in scripting (see the crate README, "Person sign-in").
impl MockServer {
    /// `/authorize` signs in as `user` (a user name of the tenant) and redirects with a code.
    pub fn approve_sign_ins_as(&self, user: &str) {
        lock(&self.shared.user_flows).authorize = AuthorizeMode::Approve {
            user: Some(user.to_owned()),
        };
    }

    /// `/authorize` shows a sign-in page with "Sign in" and "Cancel" buttons (for a real
    /// browser), instead of redirecting at once.
    pub fn show_sign_in_page(&self) {
        lock(&self.shared.user_flows).authorize = AuthorizeMode::Page;
    }

    /// `/authorize` redirects with `error=access_denied` (AADSTS65004).
    pub fn deny_sign_ins(&self) {
        lock(&self.shared.user_flows).authorize = AuthorizeMode::Deny;
    }

    /// What later id tokens say of the authorize request's `nonce` (default
    /// [`NonceMode::Echo`], as Entra does; `Omit` and `Other` play a provider that drops it and
    /// a code injected from another sign-in).
    pub fn set_id_token_nonce(&self, mode: NonceMode) {
        lock(&self.shared.user_flows).id_token_nonce = mode;
    }

    /// `interval` and `expires_in` of new device codes (defaults 5 s and 900 s).
    pub fn set_device_code_timing(&self, interval_s: u64, expires_in_s: u64) {
        let mut f = lock(&self.shared.user_flows);
        f.device_interval = interval_s;
        f.device_expires_in = expires_in_s;
    }

    /// The first `n` polls of each new device code are answered `slow_down` (and every poll
    /// that comes sooner than the code's interval, which grows by 5 s with each `slow_down`).
    pub fn slow_down_first_polls(&self, n: u32) {
        lock(&self.shared.user_flows).slow_down_polls = n;
    }

    /// Approve the device code with this user code, as `user`; false if there is none.
    pub fn approve_device_code(&self, user_code: &str, user: &str) -> bool {
        set_device_status(
            &self.shared,
            user_code,
            DeviceCodeStatus::Approved(user.to_owned()),
        )
    }

    /// Decline the device code with this user code; false if there is none.
    pub fn deny_device_code(&self, user_code: &str) -> bool {
        set_device_status(&self.shared, user_code, DeviceCodeStatus::Denied)
    }

    /// Forget every pending device code: later polls with one get `bad_verification_code`
    /// (AADSTS70018), as for a code the service never issued.
    pub fn forget_device_codes(&self) {
        lock(&self.shared.user_flows).devices.clear();
    }

    /// User codes of the device codes not yet redeemed, oldest first, with their status.
    pub fn device_codes(&self) -> Vec<(String, DeviceCodeStatus)> {
        lock(&self.shared.user_flows)
            .devices
            .iter()
            .map(|d| (d.user_code.clone(), d.status.clone()))
            .collect()
    }

    /// Revoke every live refresh token of `user` (AADSTS70043 afterwards); how many.
    pub fn revoke_refresh_tokens(&self, user: &str) -> usize {
        revoke(&self.shared, user)
    }

    /// Refresh tokens older than this are refused with AADSTS700082 (default 90 days).
    pub fn set_refresh_token_lifetime(&self, lifetime: Duration) {
        lock(&self.shared.user_flows).rt_lifetime = lifetime;
    }

    /// Refresh tokens issued so far (each sign-in and each refresh issues one).
    pub fn refresh_tokens_issued(&self) -> u64 {
        lock(&self.shared.user_flows).refresh_tokens_issued
    }

    /// Authorization codes issued by `/authorize` so far.
    pub fn authorization_codes_issued(&self) -> u64 {
        lock(&self.shared.user_flows).codes_issued
    }

    /// The person sign-in state as `GET /_mock/user_flows` shows it.
    pub fn user_flows_summary(&self) -> Value {
        summary(&self.shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_ignore_the_port_but_not_the_path() {
        assert!(redirect_matches("http://localhost", "http://localhost:1234"));
        assert!(redirect_matches("http://localhost", "http://localhost:1234/"));
        assert!(!redirect_matches("http://localhost/cb", "http://127.0.0.1:9/cb"));
        assert!(redirect_matches("http://localhost/cb", "http://localhost:9/cb"));
        assert!(!redirect_matches(
            "http://localhost",
            "http://localhost:1234/other"
        ));
        assert!(!redirect_matches("http://localhost", "https://localhost:1234"));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
        assert!(!redirect_matches("http://localhost", "http://evil.example"));
    }
}
