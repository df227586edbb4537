//! HTTP routes: Entra endpoints and the `/_mock/` control API.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use crate::entra::{unix_now, AadstsCode, EntraError, RequestIds};
use crate::redact::{self, parse_authorization, AuthzHeader};
use crate::registry::{is_guid, Client, Resource, Tenant, TENANT_ID};
use crate::state::{lock, Fault, Shared};

type St = State<Arc<Shared>>;

/// Marker in response extensions: close the connection instead of answering.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Disconnect;

const META_TENANTS: &[&str] = &["common", "organizations", "consumers"];
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Token lifetimes are backdated like Entra's: `iat` = `nbf` = now − 5 min.
pub const CLOCK_SKEW_BACKDATE_S: u64 = 300;

pub(crate) fn router(st: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route(
            "/{tenant}/generic/.well-known/openid-configuration",
            get(generic_oidc_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/discovery/keys", get(jwks))
        .route("/{tenant}/discovery/instance", get(instance_discovery))
        .route("/{tenant}/oauth2/v2.0/token", any(token))
        .merge(crate::user_flows::router())
        .route("/_mock/requests", get(ctl_requests).delete(ctl_clear_requests))
        .route("/_mock/counters", get(ctl_counters))
        .route("/_mock/config", get(ctl_get_config).post(ctl_set_config))
        .route("/_mock/fail", post(ctl_fail))
        .route("/_mock/reset", post(ctl_reset))
        .route("/_mock/registry", get(ctl_registry))
        .route("/_mock/clients", post(ctl_add_client))
        .route("/_mock/resources", post(ctl_add_resource))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(st.clone(), record))
        .with_state(st)
}

/// Route name for counters and the log.
fn classify(path: &str) -> &'static str {
    let segs: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    match segs.as_slice() {
        [_, "v2.0", ".well-known", "openid-configuration"] => "openid_configuration",
        [_, "discovery", "v2.0", "keys"] | [_, "discovery", "keys"] => "jwks",
        [_, "discovery", "instance"] => "instance_discovery",
        [_, "oauth2", "v2.0", "token"] => "token",
        [_, "oauth2", "v2.0", "authorize"] => "authorize",
        [_, "oauth2", "v2.0", "devicecode"] => "devicecode",
        ["devicelogin"] => "devicelogin",
        [_, "generic", ".well-known", "openid-configuration"] => "oidc_discovery",
        _ => "not_found",
    }
}

/// Middleware: counts and logs every non-control request.
async fn record(State(st): St, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_mock/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let route = classify(parts.uri.path());
    let secrets = st.registry().all_secret_values();
    let mut entry = redact::log_entry(route, &parts.method, &parts.uri, &parts.headers, &bytes, &secrets);
    {
        let mut c = lock(&st.counters);
        c.total_requests += 1;
        *c.requests_by_route.entry(route.to_string()).or_default() += 1;
    }
    let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    entry.status = if resp.extensions().get::<Disconnect>().is_some() {
        0
    } else {
        resp.status().as_u16()
    };
    entry.aadsts = resp.extensions().get::<AadstsCode>().map(|c| c.0);
    st.push_log(entry);
    resp
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

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

fn host_is_ours(st: &Shared, host: &str) -> bool {
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

fn json_response(status: StatusCode, body: &impl Serialize, headers: &HeaderMap) -> Response {
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

async fn openid_configuration(
    State(st): St,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (path_tenant, issuer_tenant) = match resolve_tenant(&st, &tenant, "invalid_tenant") {
        Ok(TenantRef::Known(t)) => (t.tenant_id.clone(), t.tenant_id.clone()),
        Ok(TenantRef::Meta(m)) => (m, "{tenantid}".to_string()),
        Err(e) => return e.into_plain_response(&headers),
    };
    let host = request_host(&st, &uri, &headers);
    let b = format!("https://{host}/{path_tenant}");
    let doc = json!({
        "token_endpoint": format!("{b}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{b}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("https://{host}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{b}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{b}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{b}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
            "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
            "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{b}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    json_response(StatusCode::OK, &doc, &headers)
}

/// A generic OpenID Connect issuer in front of the tenant (for `authority_kind=oidc` clients):
/// issuer `https://HOST:PORT/{tenant}/generic`, the tenant's token endpoint, and the client
/// authentication methods the registry sets for it ([`Tenant::oidc_auth_methods`]).
async fn generic_oidc_configuration(
    State(st): St,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let t = match resolve_tenant(&st, &tenant, "invalid_tenant") {
        Ok(TenantRef::Known(t)) => t,
        Ok(TenantRef::Meta(m)) => {
            return EntraError::tenant_not_found("invalid_tenant", &m).into_plain_response(&headers)
        }
        Err(e) => return e.into_plain_response(&headers),
    };
    let host = request_host(&st, &uri, &headers);
    let b = format!("https://{host}/{}", t.tenant_id);
    let doc = json!({
        "issuer": format!("https://{host}/{tenant}/generic"),
        "token_endpoint": format!("{b}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": t.oidc_auth_methods,
        "jwks_uri": format!("{b}/discovery/v2.0/keys"),
        "authorization_endpoint": format!("{b}/oauth2/v2.0/authorize"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "grant_types_supported": ["client_credentials", "password"],
    });
    json_response(StatusCode::OK, &doc, &headers)
}

async fn jwks(State(st): St, Path(tenant): Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    let issuer_tenant = match resolve_tenant(&st, &tenant, "invalid_tenant") {
        Ok(TenantRef::Known(t)) => t.tenant_id.clone(),
        Ok(TenantRef::Meta(_)) => "{tenantid}".to_string(),
        Err(e) => return e.into_plain_response(&headers),
    };
    let host = request_host(&st, &uri, &headers);
    let issuer = format!("https://{host}/{issuer_tenant}/v2.0");
    json_response(
        StatusCode::OK,
        &json!({ "keys": [st.key.jwk(&issuer)] }),
        &headers,
    )
}

async fn instance_discovery(
    State(st): St,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let invalid = || {
        EntraError::new(400, "invalid_instance", 50049, "Unknown or invalid instance.")
            .into_plain_response(&headers)
    };
    let Some(ep) = q.get("authorization_endpoint") else {
        return invalid();
    };
    let Some(rest) = ep.strip_prefix("https://") else {
        return invalid();
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !host_is_ours(&st, host) {
        return invalid();
    }
    let host = host.to_ascii_lowercase();
    let tenant = path.split('/').find(|s| !s.is_empty()).unwrap_or("common");
    let ours = [format!("127.0.0.1:{}", st.port), format!("localhost:{}", st.port)];
    let body = json!({
        "tenant_discovery_endpoint": format!("https://{host}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": q.get("api-version").map(String::as_str).unwrap_or("1.1"),
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": ours,
        }],
    });
    json_response(StatusCode::OK, &body, &headers)
}

// ---------------------------------------------------------------------------------------
// Token endpoint

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

fn fault_error(status: u16, retry_after: Option<u32>) -> EntraError {
    let (error, code, msg) = match status {
        429 => (
            "temporarily_unavailable",
            90055,
            "TenantThrottlingError - There are too many incoming requests. Please try again later.",
        ),
        503 => (
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        ),
        500..=599 => (
            "server_error",
            90033,
            "A transient error has occurred. Please try again.",
        ),
        _ => (
            "invalid_request",
            90033,
            "A transient error has occurred. Please try again.",
        ),
    };
    let mut e = EntraError::new(status, error, code, msg);
    e.retry_after = retry_after;
    e
}

async fn token(
    State(st): St,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ids = RequestIds::new(&headers);
    let form = if redact::is_form(&headers) {
        redact::parse_form(&body)
    } else {
        Vec::new()
    };
    let authz = parse_authorization(&headers);
    let presented = form
        .iter()
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.clone())
        .or(match &authz {
            AuthzHeader::Basic(c) => Some(c.client_id.clone()),
            _ => None,
        })
        .unwrap_or_default();
    {
        let mut c = lock(&st.counters);
        c.token_requests += 1;
        *c.token_requests_by_client.entry(presented).or_default() += 1;
    }
    let behaviour = st.behaviour();
    if behaviour.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(behaviour.latency_ms)).await;
    }
    if let Some(fault) = st.take_fault() {
        if !matches!(
            fault,
            Fault::Status { .. } | Fault::Disconnect | Fault::MalformedBody
        ) {
            lock(&st.counters).faults_injected += 1;
            return network_fault(fault).await;
        }
        let mut c = lock(&st.counters);
        c.faults_injected += 1;
        match fault {
            Fault::Status { status, retry_after } => {
                c.token_errors += 1;
                drop(c);
                return token_error_response(&fault_error(status, retry_after), &ids);
            }
            Fault::Disconnect => {
                let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                resp.extensions_mut().insert(Disconnect);
                return resp;
            }
            Fault::MalformedBody => {
                let mut resp = (
                    StatusCode::OK,
                    "<html><body>Service temporarily unavailable</body></html>",
                )
                    .into_response();
                resp.headers_mut()
                    .insert("content-type", HeaderValue::from_static("text/html"));
                return resp;
            }
            _ => unreachable!("network faults are handled above"),
        }
    }
    let ctx = TokenCtx {
        st: &st,
        host: request_host(&st, &uri, &headers),
        tenant: &tenant,
        method: &method,
        form: &form,
        authz: &authz,
    };
    match ctx.issue(&behaviour) {
        Ok(body) => {
            lock(&st.counters).tokens_issued += 1;
            let mut resp = (StatusCode::OK, Json(body)).into_response();
            token_headers(&mut resp, &ids);
            resp
        }
        Err(e) => {
            lock(&st.counters).token_errors += 1;
            token_error_response(&e, &ids)
        }
    }
}

pub(crate) struct TokenCtx<'a> {
    pub(crate) st: &'a Shared,
    pub(crate) host: String,
    pub(crate) tenant: &'a str,
    pub(crate) method: &'a Method,
    pub(crate) form: &'a [(String, String)],
    pub(crate) authz: &'a AuthzHeader,
}

fn malformed_request(detail: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_request",
        9002313,
        format!("Invalid request. Request is malformed or invalid. {detail}"),
    )
}

impl TokenCtx<'_> {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Validates a client-credentials request in Entra's order and mints the token.
    fn issue(&self, behaviour: &crate::TokenBehaviour) -> Result<TokenResponse, EntraError> {
        if self.method != Method::POST {
            return Err(EntraError::new(
                400,
                "invalid_request",
                900561,
                format!(
                    "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                    self.method
                ),
            ));
        }
        let tenant = match resolve_tenant(self.st, self.tenant, "invalid_request")? {
            TenantRef::Known(t) => t,
            TenantRef::Meta(_) => {
                return Err(EntraError::new(
                    400,
                    "invalid_request",
                    50059,
                    "No tenant-identifying information found in either the request or implied by any provided credentials.",
                ))
            }
        };
        let mut seen = HashSet::new();
        for (k, _) in self.form {
            if !seen.insert(k.as_str()) {
                return Err(EntraError::new(
                    400,
                    "invalid_request",
                    9000411,
                    format!("The request is not properly formatted. The parameter '{k}' is duplicated."),
                ));
            }
        }
        let grant = self
            .get("grant_type")
            .ok_or_else(|| EntraError::missing_param("grant_type"))?;
        if crate::user_flows::USER_GRANTS.contains(&grant) {
            // Person sign-in: authorization code (PKCE), device code, refresh token.
            return self.issue_user(&tenant, grant, behaviour);
        }
        if grant != "client_credentials" && grant != "password" {
            return Err(EntraError::new(
                400,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant}'."),
            ));
        }
        if self.form.iter().any(|(k, _)| k == "resource") {
            return Err(EntraError::new(
                400,
                "invalid_request",
                901002,
                "The 'resource' request parameter is not supported.",
            ));
        }

        // Client authentication: body secret, body assertion or HTTP Basic, exactly one.
        let basic = match self.authz {
            AuthzHeader::Basic(c) => Some(c),
            AuthzHeader::MalformedBasic => {
                return Err(malformed_request(
                    "The Authorization header is not a valid HTTP Basic credential.",
                ))
            }
            _ => None,
        };
        let body_secret = self.get("client_secret");
        let assertion = self.get("client_assertion");
        let methods = usize::from(basic.is_some())
            + usize::from(body_secret.is_some())
            + usize::from(assertion.is_some());
        if methods > 1 {
            return Err(malformed_request(
                "More than one client authentication method was used.",
            ));
        }
        let client_id = match (self.get("client_id"), basic) {
            (Some(b), Some(c)) if !b.eq_ignore_ascii_case(&c.client_id) => {
                return Err(malformed_request(
                    "The client_id in the body does not match the HTTP Basic credential.",
                ))
            }
            (Some(b), _) => b.to_string(),
            (None, Some(c)) if !c.client_id.is_empty() => c.client_id.clone(),
            _ => return Err(EntraError::missing_param("client_id")),
        };
        let client = tenant.client(&client_id).ok_or_else(|| {
            EntraError::new(
                400,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{}'. \
                     This can happen if the application has not been installed by the administrator \
                     of the tenant or consented to by any user in the tenant. You may have sent your \
                     authentication request to the wrong tenant.",
                    tenant.display_name
                ),
            )
        })?;
        if let Some(jwt) = assertion {
            if self.get("client_assertion_type") != Some(JWT_BEARER) {
                return Err(EntraError::missing_param("client_assertion_type"));
            }
            // Certificate and federated credentials (see `grants`).
            let auds = self.token_urls(&tenant);
            let log = self.st.registry().assertions.clone();
            crate::grants::verify_client_assertion(&log, client, jwt, &auds)?;
        } else if grant == "password"
            && client.allow_public_client
            && body_secret.is_none()
            && basic.is_none()
        {
            // A public client (ROPC): no client authentication.
        } else {
            self.check_client_secret(client, body_secret, basic)?;
        }

        let scope = self
            .get("scope")
            .ok_or_else(|| EntraError::missing_param("scope"))?;
        let (requested, user) = if grant == "password" {
            let (resource, scp) = crate::grants::user_resource(scope)?;
            let user =
                crate::grants::check_user(&tenant, self.get("username"), self.get("password"), &resource)?;
            (resource, Some((user.clone(), scp)))
        } else {
            (client_credentials_resource(scope)?, None)
        };
        let aud = self.audience(&tenant, &requested)?;
        Ok(self.mint(
            &tenant,
            client,
            &aud,
            behaviour,
            user.as_ref().map(|(u, scp)| (u, scp.as_str())),
        ))
    }

    /// The token endpoint's URL as a client may address it (tenant as in the path, its GUID,
    /// its domains): the accepted `aud` values of client assertions.
    pub(crate) fn token_urls(&self, tenant: &Tenant) -> Vec<String> {
        std::iter::once(self.tenant.to_string())
            .chain(std::iter::once(tenant.tenant_id.clone()))
            .chain(tenant.domains.iter().cloned())
            .map(|t| format!("https://{}/{t}/oauth2/v2.0/token", self.host))
            .collect()
    }

    pub(crate) fn check_client_secret(
        &self,
        client: &Client,
        body_secret: Option<&str>,
        basic: Option<&crate::redact::BasicCredentials>,
    ) -> Result<(), EntraError> {
        let secret = body_secret
            .or(basic.map(|c| c.secret.as_str()))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                EntraError::new(
                    401,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                )
            })?;
        check_secret(client, secret)
    }

    pub(crate) fn audience(&self, tenant: &Tenant, requested: &str) -> Result<String, EntraError> {
        tenant
            .resources
            .iter()
            .find_map(|r: &Resource| r.matches(requested))
            .map(str::to_string)
            .ok_or_else(|| {
                EntraError::new(
                    400,
                    "invalid_resource",
                    500011,
                    format!(
                        "The resource principal named {requested} was not found in the tenant named {}. \
                         This can happen if the application has not been installed by the administrator \
                         of the tenant or consented to by any user in the tenant. You might have sent your \
                         authentication request to the wrong tenant.",
                        tenant.display_name
                    ),
                )
            })
    }

    pub(crate) fn mint(
        &self,
        tenant: &Tenant,
        client: &Client,
        aud: &str,
        b: &crate::TokenBehaviour,
        user: Option<(&crate::registry::User, &str)>,
    ) -> TokenResponse {
        let st = self.st;
        let now = unix_now();
        let iat = now.saturating_sub(CLOCK_SKEW_BACKDATE_S);
        let mut claims = json!({
            "aud": aud,
            "iss": format!("https://{}/{}/v2.0", self.host, tenant.tenant_id),
            "iat": iat,
            "nbf": iat,
            "exp": now + b.token_lifetime_s,
            "aio": URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
            "azp": client.client_id,
            "azpacr": "1",
            "appid": client.client_id,
            "appidacr": "1",
            "oid": client.object_id,
            "rh": "0.AAAA-mock.",
            "sub": client.object_id,
            "tid": tenant.tenant_id,
            "uti": URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
            "jti": uuid::Uuid::new_v4().to_string(),
            "ver": "2.0",
        });
        if let Some((user, scp)) = user {
            // A delegated (user) token: the user's object id, UPN and the granted scopes.
            claims["oid"] = json!(user.object_id);
            claims["sub"] = json!(user.object_id);
            claims["upn"] = json!(user.username);
            claims["preferred_username"] = json!(user.username);
            claims["name"] = json!(user.username);
            claims["scp"] = json!(scp);
            claims["appidacr"] = json!("0");
            claims["azpacr"] = json!("0");
        } else if !client.roles.is_empty() {
            claims["roles"] = json!(client.roles);
        }
        let num = |n: u64| -> Value {
            if b.expires_in_as_string {
                Value::String(n.to_string())
            } else {
                n.into()
            }
        };
        TokenResponse {
            token_type: "Bearer",
            scope: None,
            expires_in: num(b.token_lifetime_s),
            ext_expires_in: num(b.ext_expires_in.unwrap_or(b.token_lifetime_s)),
            refresh_in: b.refresh_in.map(|r| r.to_json()),
            access_token: st.key.sign_jwt(&claims),
            refresh_token: None,
            id_token: None,
            client_info: None,
        }
    }
}

fn check_secret(client: &Client, secret: &str) -> Result<(), EntraError> {
    let expired = || {
        EntraError::new(
            401,
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to \
                 create new keys for your app: https://aka.ms/NewClientSecret, or consider using \
                 certificate credentials for added security: https://aka.ms/certCreds.",
                client.client_id
            ),
        )
    };
    match client.secrets.iter().find(|s| s.value == secret) {
        Some(s) if !s.expired => Ok(()),
        Some(_) => Err(expired()),
        None if !client.secrets.is_empty() && client.secrets.iter().all(|s| s.expired) => Err(expired()),
        None => Err(EntraError::new(
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the \
                 client secret value, not the client secret ID, for a secret added to app '{}'.",
                client.client_id
            ),
        )),
    }
}

/// Splits one scope into (resource, permission), Entra-style: the permission is the part
/// after the last `/` (past any `scheme://`); a bare name is a Microsoft Graph permission.
fn split_scope(item: &str) -> (&str, &str) {
    let after_scheme = item.find("://").map(|i| i + 3).unwrap_or(0);
    match item[after_scheme..].rfind('/') {
        Some(j) => (&item[..after_scheme + j], &item[after_scheme + j + 1..]),
        None if after_scheme > 0 => (item, ""),
        None => ("https://graph.microsoft.com", item),
    }
}

/// The resource named by a client-credentials `scope`, or the Entra error for it.
pub(crate) fn client_credentials_resource(scope: &str) -> Result<String, EntraError> {
    let items: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if items.is_empty() {
        return Err(EntraError::missing_param("scope"));
    }
    let invalid = || {
        EntraError::new(
            400,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    };
    let norm = |s: &str| s.strip_suffix('/').unwrap_or(s).to_ascii_lowercase();
    let mut resources: Vec<String> = Vec::new();
    let mut perms = Vec::new();
    for item in &items {
        if item
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | '\\' | '<' | '>' | '{' | '}'))
            || ["openid", "profile", "email", "offline_access", ".default"].contains(item)
        {
            return Err(invalid());
        }
        let (res, perm) = split_scope(item);
        if res.is_empty() || res.ends_with("://") {
            return Err(invalid());
        }
        if !resources.iter().any(|r| norm(r) == norm(res)) {
            resources.push(res.to_string());
        }
        perms.push(perm);
    }
    if resources.len() > 1 {
        return Err(EntraError::new(
            400,
            "invalid_scope",
            700022,
            format!(
                "The provided value for the input parameter scope is not valid because it contains more \
                 than one resource. Scope {scope} is not valid."
            ),
        ));
    }
    if perms.iter().any(|p| *p != ".default") {
        return Err(EntraError::new(
            400,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a \
                 scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    if items.len() > 1 {
        return Err(invalid());
    }
    Ok(resources.remove(0))
}

// ---------------------------------------------------------------------------------------
// Control API

pub(crate) fn bad_control(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg.into() }))).into_response()
}

async fn ctl_requests(State(st): St) -> Response {
    let log: Vec<_> = lock(&st.log).iter().cloned().collect();
    Json(log).into_response()
}

async fn ctl_clear_requests(State(st): St) -> Response {
    lock(&st.log).clear();
    Json(json!({ "ok": true })).into_response()
}

async fn ctl_counters(State(st): St) -> Response {
    Json(lock(&st.counters).clone()).into_response()
}

async fn ctl_get_config(State(st): St) -> Response {
    Json(st.behaviour()).into_response()
}

async fn ctl_set_config(State(st): St, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_control(format!("invalid JSON: {e}")),
    };
    let mut b = lock(&st.behaviour);
    match b.apply_json(&v) {
        Ok(()) => Json(b.clone()).into_response(),
        Err(e) => bad_control(e),
    }
}

/// A plausible token response for faults that break its delivery.
fn fake_token_body() -> Vec<u8> {
    let token = format!("eyJhbGciOiJub25lIn0.{}.", "A".repeat(1200));
    format!(r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"{token}"}}"#)
        .into_bytes()
}

fn raw_json_response(status: StatusCode, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Faults that break the transport or the shape of an answer (see [`Fault`]).
async fn network_fault(fault: Fault) -> Response {
    use futures_util::stream;
    type Chunk = Result<Bytes, std::io::Error>;
    match fault {
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Fault::Trickle { delay_ms } => {
            let body = fake_token_body();
            let len = body.len();
            let chunks = stream::unfold(0usize, move |i| {
                let byte = body.get(i).copied();
                async move {
                    let byte = byte?;
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    Some((Ok::<_, std::io::Error>(Bytes::copy_from_slice(&[byte])), i + 1))
                }
            });
            let mut resp = raw_json_response(StatusCode::OK, Body::from_stream(chunks));
            resp.headers_mut()
                .insert("content-length", HeaderValue::from(len));
            resp
        }
        Fault::Truncated => {
            let body = fake_token_body();
            let len = body.len();
            let half: Chunk = Ok(Bytes::copy_from_slice(&body[..len / 2]));
            let mut resp = raw_json_response(StatusCode::OK, Body::from_stream(stream::iter([half])));
            resp.headers_mut()
                .insert("content-length", HeaderValue::from(len));
            resp
        }
        Fault::ResetMidResponse => {
            let body = fake_token_body();
            let parts: [Chunk; 2] = [
                Ok(Bytes::copy_from_slice(&body[..body.len() / 3])),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                )),
            ];
            raw_json_response(StatusCode::OK, Body::from_stream(stream::iter(parts)))
        }
        Fault::HugeBody { bytes } => {
            let tail = fake_token_body();
            let prefix = br#"{"padding":""#;
            let pad = bytes.saturating_sub(tail.len() + prefix.len() + 2);
            let mut body = Vec::with_capacity(bytes);
            body.extend_from_slice(prefix);
            body.resize(prefix.len() + pad, b'x');
            body.extend_from_slice(b"\",");
            body.extend_from_slice(&tail[1..]);
            raw_json_response(StatusCode::OK, Body::from(body))
        }
        Fault::MissingField { field } => {
            let mut v: Value = serde_json::from_slice(&fake_token_body()).expect("valid JSON");
            if let Some(o) = v.as_object_mut() {
                o.remove(&field);
            }
            raw_json_response(StatusCode::OK, Body::from(v.to_string()))
        }
        Fault::Redirect { location } => {
            let mut resp = StatusCode::TEMPORARY_REDIRECT.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert("location", v);
            }
            resp
        }
        Fault::HtmlStatus { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut resp = (
                status,
                format!(
                    "<html><head><title>{status}</title></head><body><h1>{status}</h1>nginx</body></html>"
                ),
            )
                .into_response();
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("text/html"));
            resp
        }
        Fault::Status { .. } | Fault::Disconnect | Fault::MalformedBody => {
            unreachable!("handled by the token route")
        }
    }
}

/// Parses `{"count":n,"status":429,"retry_after":5}` or `{"count":n,"kind":"disconnect"}`.
pub(crate) fn parse_fail(v: &Value) -> Result<(u32, Fault), String> {
    let count = match v.get("count") {
        None => 1,
        Some(c) => c
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .ok_or("count must be a non-negative integer")?,
    };
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("status");
    let fault = match kind {
        "status" => {
            let status = v
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (400..=599).contains(s))
                .ok_or("status must be an HTTP error status (400-599)")?;
            let retry_after = match v.get("retry_after") {
                None | Some(Value::Null) => None,
                Some(r) => Some(
                    r.as_u64()
                        .and_then(|r| u32::try_from(r).ok())
                        .ok_or("retry_after must be a non-negative integer")?,
                ),
            };
            Fault::Status { status, retry_after }
        }
        "disconnect" => Fault::Disconnect,
        "malformed_body" => Fault::MalformedBody,
        "hang" => Fault::Hang,
        "truncated" => Fault::Truncated,
        "reset_mid_response" => Fault::ResetMidResponse,
        "trickle" | "huge_body" | "missing_field" | "redirect" | "html_status" => {
            serde_json::from_value(v.clone()).map_err(|e| format!("bad fault: {e}"))?
        }
        other => return Err(format!("unknown fault kind '{other}'")),
    };
    Ok((count, fault))
}

async fn ctl_fail(State(st): St, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_control(format!("invalid JSON: {e}")),
    };
    match parse_fail(&v) {
        Ok((n, fault)) => {
            let mut q = lock(&st.faults);
            q.extend(std::iter::repeat_n(fault, n as usize));
            Json(json!({ "pending": q.len() })).into_response()
        }
        Err(e) => bad_control(e),
    }
}

async fn ctl_reset(State(st): St) -> Response {
    st.reset();
    Json(json!({ "ok": true })).into_response()
}

async fn ctl_registry(State(st): St) -> Response {
    Json(st.registry().clone()).into_response()
}

async fn ctl_add_client(State(st): St, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_control(format!("invalid JSON: {e}")),
    };
    let tenant = v.get("tenant").and_then(Value::as_str).unwrap_or(TENANT_ID);
    let Some(client_id) = v.get("client_id").and_then(Value::as_str) else {
        return bad_control("client_id is required");
    };
    let mut client = Client::new(client_id);
    if let Some(secret) = v.get("secret").and_then(Value::as_str) {
        let expired = v.get("expired").and_then(Value::as_bool).unwrap_or(false);
        client = if expired {
            client.with_expired_secret(secret)
        } else {
            client.with_secret(secret)
        };
    }
    if let Some(roles) = v.get("roles").and_then(Value::as_array) {
        client = client.with_roles(roles.iter().filter_map(Value::as_str));
    }
    let mut reg = st.registry_mut();
    let Some(t) = reg.tenant_mut(tenant) else {
        return bad_control(format!("unknown tenant '{tenant}'"));
    };
    t.clients.retain(|c| !c.client_id.eq_ignore_ascii_case(client_id));
    t.clients.push(client.clone());
    Json(client).into_response()
}

async fn ctl_add_resource(State(st): St, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_control(format!("invalid JSON: {e}")),
    };
    let tenant = v.get("tenant").and_then(Value::as_str).unwrap_or(TENANT_ID);
    let Some(uri) = v.get("app_id_uri").and_then(Value::as_str) else {
        return bad_control("app_id_uri is required");
    };
    let mut res = Resource::new(uri);
    if let Some(id) = v.get("app_id").and_then(Value::as_str) {
        res = res.with_app_id(id);
    }
    let mut reg = st.registry_mut();
    let Some(t) = reg.tenant_mut(tenant) else {
        return bad_control(format!("unknown tenant '{tenant}'"));
    };
    t.resources.push(res.clone());
    Json(res).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_rules() {
        assert_eq!(
            client_credentials_resource("api://oracle-db/.default").unwrap(),
            "api://oracle-db"
        );
        assert_eq!(
            client_credentials_resource("https://oracle.example.com/db/.default").unwrap(),
            "https://oracle.example.com/db"
        );
        assert_eq!(
            client_credentials_resource(" 44444444-4444-4444-4444-444444444444/.default ").unwrap(),
            "44444444-4444-4444-4444-444444444444"
        );
        let code = |s: &str| client_credentials_resource(s).unwrap_err().code;
        assert_eq!(code(""), 900144);
        assert_eq!(code("api://a/.default api://b/.default"), 700022);
        assert_eq!(code("api://a/.default User.Read"), 700022);
        assert_eq!(code("api://oracle-db/session"), 1002012);
        assert_eq!(code("api://oracle-db"), 1002012);
        assert_eq!(code("api://a/.default api://a/.default"), 70011);
        assert_eq!(code("/.default"), 70011);
        assert_eq!(code("api:///.default"), 70011);
        assert_eq!(code("api://a/\".default"), 70011);
        assert_eq!(code("openid"), 70011);
    }

    #[test]
    fn classify_routes() {
        assert_eq!(
            classify("/t/v2.0/.well-known/openid-configuration"),
            "openid_configuration"
        );
        assert_eq!(classify("/t/discovery/v2.0/keys"), "jwks");
        assert_eq!(classify("/common/discovery/instance"), "instance_discovery");
        assert_eq!(classify("/t/oauth2/v2.0/token"), "token");
        assert_eq!(classify("/t/oauth2/token"), "not_found");
    }
}
