//! What the Entra ID routes share: the host a document names, the tenant a path names,
//! JSON and token responses, and the Entra errors several routes answer.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum::RequestExt as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use crate::entra::{AadstsCode, EntraError, RequestIds};
use crate::registry::{is_guid, Tenant, User};
use crate::state::Shared;

/// Marker in response extensions: close the connection instead of answering.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Disconnect;

const META_TENANTS: &[&str] = &["common", "organizations", "consumers"];
/// `host:port` for URLs in documents: the request's authority when it is one of our
/// aliases, else `127.0.0.1:port`.
pub(crate) fn request_host(st: &Shared, uri: &Uri, headers: &HeaderMap) -> String {
    let cand = uri.authority().map(|a| a.as_str().to_string()).or_else(|| {
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    });
    if let Some(c) = cand {
        let c = c.to_ascii_lowercase();
        if host_is_ours(st, &c) {
            return c;
        }
    }
    format!("127.0.0.1:{}", st.port)
}

pub(crate) fn host_is_ours(st: &Shared, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == format!("127.0.0.1:{}", st.port) || host == format!("localhost:{}", st.port)
}

fn looks_like_domain(s: &str) -> bool {
    s.contains('.')
        && !s.starts_with('.')
        && !s.ends_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

pub(crate) enum TenantRef {
    Known(Box<Tenant>),
    Meta(String),
}

/// Resolves a tenant path segment; unknown → AADSTS90002, malformed → AADSTS900023,
/// both with `error` = `error_name`.
pub(crate) fn resolve_tenant(
    st: &Shared,
    t: &str,
    error_name: &'static str,
) -> Result<TenantRef, EntraError> {
    if let Some(m) = META_TENANTS.iter().find(|m| m.eq_ignore_ascii_case(t)) {
        return Ok(TenantRef::Meta(m.to_string()));
    }
    if let Some(tenant) = st.registry().tenant(t) {
        return Ok(TenantRef::Known(Box::new(tenant.clone())));
    }
    if is_guid(t) || looks_like_domain(t) {
        Err(EntraError::tenant_not_found(error_name, t))
    } else {
        Err(EntraError::tenant_malformed(error_name, t))
    }
}

pub(crate) fn json_response(status: StatusCode, body: &impl Serialize, headers: &HeaderMap) -> Response {
    let mut resp = (status, Json(body)).into_response();
    RequestIds::new(headers).apply(resp.headers_mut());
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        "cache-control",
        HeaderValue::from_static("max-age=86400, private"),
    );
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    resp
}

#[derive(Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) token_type: &'static str,
    /// Granted scopes (person sign-in grants only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
    pub(crate) expires_in: Value,
    pub(crate) ext_expires_in: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_in: Option<Value>,
    pub(crate) access_token: String,
    /// Person sign-in grants (`crate::user_flows`): refresh token, id token, client info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_info: Option<String>,
}

pub(crate) fn token_headers(resp: &mut Response, ids: &RequestIds) {
    ids.apply(resp.headers_mut());
    let h = resp.headers_mut();
    h.insert("cache-control", HeaderValue::from_static("no-store, no-cache"));
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
}

pub(crate) fn token_error_response(e: &EntraError, ids: &RequestIds) -> Response {
    let mut resp = (e.status, Json(e.body(&ids.trace_id, &ids.correlation_id))).into_response();
    token_headers(&mut resp, ids);
    if let Ok(v) = HeaderValue::from_str(&format!("1,{},0,,", e.code)) {
        resp.headers_mut().insert("x-ms-clitelem", v);
    }
    if let Some(secs) = e.retry_after {
        resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
    }
    resp.extensions_mut().insert(AadstsCode(e.code));
    resp
}

pub(crate) fn bad_control(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg.into() }))).into_response()
}

/// A request to an Entra endpoint that takes a form: the `{tenant}` path segment, the method,
/// URI and headers, the request ids to echo, and the decoded form (none unless the content
/// type is a form).
pub(crate) struct FormRequest {
    pub(crate) tenant: String,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) ids: RequestIds,
    pub(crate) form: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequest<S> for FormRequest {
    type Rejection = Response;

    async fn from_request(mut req: Request, state: &S) -> Result<Self, Response> {
        let Path(tenant) = req
            .extract_parts::<Path<String>>()
            .await
            .map_err(IntoResponse::into_response)?;
        let (method, uri, headers) = (req.method().clone(), req.uri().clone(), req.headers().clone());
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(FormRequest {
            tenant,
            method,
            uri,
            ids: RequestIds::new(&headers),
            form: crate::redact::form_of(&headers, &body),
            headers,
        })
    }
}

/// A control request's JSON body; a body that is not JSON is answered 400
/// `{"error": "invalid JSON: …"}` before the handler runs.
pub(crate) struct ControlJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for ControlJson {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&body)
            .map(ControlJson)
            .map_err(|e| bad_control(format!("invalid JSON: {e}")))
    }
}

pub(crate) fn unknown_client(client_id: &str, tenant: &Tenant) -> EntraError {
    EntraError::new(
        400,
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{}'.",
            tenant.display_name
        ),
    )
}

pub(crate) fn public_flows_disabled() -> EntraError {
    EntraError::new(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )
}

pub(crate) fn invalid_grant(code: u32, message: impl Into<String>) -> EntraError {
    EntraError::new(400, "invalid_grant", code, message)
}

pub(crate) fn device_error(error: &'static str, code: u32, message: &str) -> EntraError {
    EntraError::new(400, error, code, message)
}

pub(crate) fn client_info(user: &User, tenant: &Tenant) -> String {
    URL_SAFE_NO_PAD.encode(json!({"uid": user.object_id, "utid": tenant.tenant_id}).to_string())
}
