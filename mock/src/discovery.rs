//! Discovery routes: OpenID configuration (Entra's and a generic issuer's), the JWKS and
//! instance discovery.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::entra::EntraError;
use crate::registry::Tenant;
use crate::respond::{host_is_ours, json_response, request_host, resolve_tenant, TenantRef};
use crate::state::Shared;

type St = State<Arc<Shared>>;

/// What the discovery documents of the request's `{tenant}` path segment name: the host (as
/// the request reached us), the segment as asked, the tenant in their endpoints (a meta
/// tenant as asked), the tenant in their issuer (`{tenantid}` for a meta tenant, as Entra
/// writes it), and the tenant when it is a registered one. An unknown or malformed tenant is
/// answered as Entra does, before the handler runs.
pub(crate) struct Names {
    host: String,
    asked: String,
    path_tenant: String,
    issuer_tenant: String,
    known: Option<Box<Tenant>>,
}

impl FromRequestParts<Arc<Shared>> for Names {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<Shared>) -> Result<Self, Response> {
        let Path(asked) = Path::<String>::from_request_parts(parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let (path_tenant, issuer_tenant, known) = match resolve_tenant(st, &asked, "invalid_tenant") {
            Ok(TenantRef::Known(t)) => (t.tenant_id.clone(), t.tenant_id.clone(), Some(t)),
            Ok(TenantRef::Meta(m)) => (m, "{tenantid}".to_string(), None),
            Err(e) => return Err(e.into_plain_response(&parts.headers)),
        };
        Ok(Names {
            host: request_host(st, &parts.uri, &parts.headers),
            asked,
            path_tenant,
            issuer_tenant,
            known,
        })
    }
}

pub(crate) async fn openid_configuration(n: Names, headers: HeaderMap) -> Response {
    let Names {
        host,
        path_tenant,
        issuer_tenant,
        ..
    } = n;
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
pub(crate) async fn generic_oidc_configuration(n: Names, headers: HeaderMap) -> Response {
    let Some(t) = n.known else {
        // A generic issuer is one tenant: no meta tenant.
        return EntraError::tenant_not_found("invalid_tenant", &n.path_tenant).into_plain_response(&headers);
    };
    let (host, tenant) = (n.host, n.asked);
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

pub(crate) async fn jwks(State(st): St, n: Names, headers: HeaderMap) -> Response {
    let issuer = format!("https://{}/{}/v2.0", n.host, n.issuer_tenant);
    json_response(
        StatusCode::OK,
        &json!({ "keys": [st.key.jwk(&issuer)] }),
        &headers,
    )
}

pub(crate) async fn instance_discovery(
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
