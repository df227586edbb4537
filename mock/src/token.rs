//! The token endpoint: injected faults, then the grants in Entra's order of checks — client
//! credentials (secret, certificate or federated assertion), password, and the person sign-in
//! grants (authorization code, device code, refresh token) over [`crate::user_state`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::entra::{unix_now, EntraError};
use crate::redact::{self, parse_authorization, AuthzHeader};
use crate::registry::{Client, Resource, Tenant, User};
use crate::respond::{
    client_info, device_error, invalid_grant, public_flows_disabled, request_host, resolve_tenant,
    token_error_response, token_headers, unknown_client, Disconnect, FormRequest, TenantRef, TokenResponse,
};
use crate::state::{lock, Fault, Shared};
use crate::user_state::{random, DeviceCodeStatus, RefreshEntry, CODE_LIFETIME, USER_GRANTS};

type St = State<Arc<Shared>>;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Token lifetimes are backdated like Entra's: `iat` = `nbf` = now − 5 min.
pub const CLOCK_SKEW_BACKDATE_S: u64 = 300;

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

pub(crate) async fn token(State(st): St, r: FormRequest) -> Response {
    let FormRequest {
        tenant,
        method,
        uri,
        headers,
        ids,
        form,
    } = r;
    let authz = parse_authorization(&headers);
    let presented = redact::presented_client_id(&form, &authz).unwrap_or_default();
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
    /// The tenant a person-sign-in grant sent to a multi-tenant alias belongs to.
    fn meta_tenant(&self) -> Option<crate::registry::Tenant> {
        let id = lock(&self.st.user_flows).tenant_of_grant(self.form)?;
        self.st.registry().tenant(&id).cloned()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        redact::filled(self.form, key)
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
            // organizations/common/consumers: a person-sign-in grant names its tenant.
            TenantRef::Meta(_) => match self.meta_tenant() {
                Some(t) => Box::new(t),
                None => {
                    return Err(EntraError::new(
                        400,
                        "invalid_request",
                        50059,
                        "No tenant-identifying information found in either the request or implied by any provided credentials.",
                    ))
                }
            },
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
        if USER_GRANTS.contains(&grant) {
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

    /// The person-sign-in grants. The client is public (no credential) unless it sends one.
    pub(crate) fn issue_user(
        &self,
        tenant: &Tenant,
        grant: &str,
        behaviour: &crate::TokenBehaviour,
    ) -> Result<TokenResponse, EntraError> {
        let client_id = self
            .get("client_id")
            .ok_or_else(|| EntraError::missing_param("client_id"))?;
        let client = tenant
            .client(client_id)
            .ok_or_else(|| unknown_client(client_id, tenant))?;
        let secret = self.get("client_secret");
        if secret.is_some() {
            self.check_client_secret(client, secret, None)?;
        } else if !client.allow_public_client {
            return Err(public_flows_disabled());
        }
        // The device code grant may leave `scope` out (RFC 8628 §3.4; MSAL does): the code's.
        let device_scope = || {
            let dc = self.get("device_code")?;
            let f = lock(&self.st.user_flows);
            f.devices
                .iter()
                .find(|d| d.device_code == dc)
                .map(|d| d.scope.clone())
        };
        let scope = match self.get("scope") {
            Some(s) => s.to_owned(),
            None => device_scope().ok_or_else(|| EntraError::missing_param("scope"))?,
        };
        let (resource, scp) = crate::grants::user_resource(&scope)?;
        let now = Instant::now();
        let mut f = lock(&self.st.user_flows);
        let mut nonce = None;
        let user_name = match grant {
            "authorization_code" => {
                let code = self
                    .get("code")
                    .ok_or_else(|| EntraError::missing_param("code"))?;
                let c = f.codes.get_mut(code).ok_or_else(|| {
                    invalid_grant(70000, "The provided value for the 'code' parameter is not valid.")
                })?;
                if c.used {
                    return Err(invalid_grant(
                        54005,
                        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                    ));
                }
                c.used = true;
                nonce = c.nonce.clone();
                if now.duration_since(c.issued) > CODE_LIFETIME {
                    return Err(invalid_grant(
                        70008,
                        "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                    ));
                }
                if !c.client_id.eq_ignore_ascii_case(&client.client_id) || c.tenant_id != tenant.tenant_id {
                    return Err(invalid_grant(
                        70000,
                        "The code was issued to another application or tenant.",
                    ));
                }
                if self.get("redirect_uri") != Some(c.redirect_uri.as_str()) {
                    return Err(invalid_grant(
                        500117,
                        "The reply uri specified in the request does not match the reply uri of the authorization request.",
                    ));
                }
                if let Some((challenge, method)) = &c.challenge {
                    let verifier = self.get("code_verifier").unwrap_or("");
                    let computed = if method == "S256" {
                        URL_SAFE_NO_PAD
                            .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
                    } else {
                        verifier.to_owned()
                    };
                    if computed != *challenge {
                        return Err(invalid_grant(
                            501481,
                            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                        ));
                    }
                }
                c.user.clone()
            }
            "refresh_token" => {
                let rt = self
                    .get("refresh_token")
                    .ok_or_else(|| EntraError::missing_param("refresh_token"))?;
                let lifetime = f.rt_lifetime;
                let e = f.refresh.get_mut(rt).ok_or_else(|| {
                    EntraError::new(
                        400,
                        "invalid_grant",
                        9002313,
                        "Invalid request. Request is malformed or invalid.",
                    )
                })?;
                if !e.client_id.eq_ignore_ascii_case(&client.client_id) || e.tenant_id != tenant.tenant_id {
                    return Err(invalid_grant(
                        70000,
                        "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
                    ));
                }
                if e.dead {
                    return Err(invalid_grant(
                        70043,
                        "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. \
                         The token was revoked or replaced; a new interactive sign-in is needed.",
                    ));
                }
                if now.duration_since(e.issued) > lifetime {
                    return Err(invalid_grant(
                        700082,
                        "The refresh token has expired due to inactivity. The token was issued and was inactive for longer than allowed.",
                    ));
                }
                // Rotation: this refresh token is replaced by the one issued below.
                e.dead = true;
                e.user.clone()
            }
            _ => {
                let dc = self
                    .get("device_code")
                    .or_else(|| self.get("code"))
                    .ok_or_else(|| EntraError::missing_param("device_code"))?;
                let i = f
                    .devices
                    .iter()
                    .position(|d| d.device_code == dc && d.client_id.eq_ignore_ascii_case(&client.client_id))
                    .ok_or_else(|| {
                        device_error("bad_verification_code", 70018, "The device code is not valid.")
                    })?;
                let d = &mut f.devices[i];
                if now > d.expires {
                    return Err(device_error(
                        "expired_token",
                        70019,
                        "Verification code expired. The device code has expired; start a new sign-in.",
                    ));
                }
                let too_fast = d
                    .last_poll
                    .is_some_and(|last| now.duration_since(last) + Duration::from_millis(250) < d.interval);
                d.last_poll = Some(now);
                if d.slow_down_left > 0 || too_fast {
                    d.slow_down_left = d.slow_down_left.saturating_sub(1);
                    d.interval += Duration::from_secs(5);
                    return Err(device_error(
                        "slow_down",
                        70016,
                        "The client is polling too fast: slow down (wait 5 more seconds between polls).",
                    ));
                }
                match d.status.clone() {
                    DeviceCodeStatus::Pending => {
                        return Err(device_error(
                            "authorization_pending",
                            70016,
                            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                        ))
                    }
                    DeviceCodeStatus::Denied => {
                        f.devices.remove(i);
                        return Err(device_error(
                            "authorization_declined",
                            65004,
                            "User declined to consent to access the app.",
                        ));
                    }
                    DeviceCodeStatus::Approved(user) => {
                        if d.tenant_id != tenant.tenant_id {
                            return Err(device_error(
                                "bad_verification_code",
                                70018,
                                "The device code is not valid.",
                            ));
                        }
                        f.devices.remove(i);
                        user
                    }
                }
            }
        };
        let user = tenant
            .user(&user_name)
            .cloned()
            .ok_or_else(|| invalid_grant(50034, "The user account does not exist in the directory."))?;
        let aud = self.audience(tenant, &resource)?;
        let rt = format!("1.AQ-mock-rt.{}", random(64));
        f.refresh_tokens_issued += 1;
        f.refresh.insert(
            rt.clone(),
            RefreshEntry {
                client_id: client.client_id.clone(),
                tenant_id: tenant.tenant_id.clone(),
                user: user.username.clone(),
                issued: now,
                dead: false,
            },
        );
        let nonce = f.id_token_nonce.claim(nonce);
        drop(f);
        let mut resp = self.mint(tenant, client, &aud, behaviour, Some((&user, &scp)));
        resp.scope = Some(
            scp.split(' ')
                .filter(|s| !s.is_empty())
                .map(|s| format!("{aud}/{s}"))
                .chain(["openid", "profile", "offline_access"].map(str::to_owned))
                .collect::<Vec<_>>()
                .join(" "),
        );
        resp.refresh_token = Some(rt);
        resp.id_token = Some(self.id_token(tenant, client, &user, nonce.as_deref()));
        resp.client_info = Some(client_info(&user, tenant));
        Ok(resp)
    }

    fn id_token(&self, tenant: &Tenant, client: &Client, user: &User, nonce: Option<&str>) -> String {
        let now = unix_now();
        let iat = now.saturating_sub(crate::CLOCK_SKEW_BACKDATE_S);
        let mut claims = json!({
            "aud": client.client_id,
            "iss": format!("https://{}/{}/v2.0", self.host, tenant.tenant_id),
            "iat": iat,
            "nbf": iat,
            "exp": now + 3600,
            "name": user.username,
            "oid": user.object_id,
            "preferred_username": user.username,
            "sub": user.object_id,
            "tid": tenant.tenant_id,
            "ver": "2.0",
        });
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        self.st.key.sign_jwt(&claims)
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

/// The OpenID Connect scopes: beside a resource's scope in a client-credentials request, Entra
/// ignores them (msal4j sends `openid profile offline_access` with every grant, client
/// credentials included); alone, they are no resource scope (70011).
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The resource named by a client-credentials `scope`, or the Entra error for it.
pub(crate) fn client_credentials_resource(scope: &str) -> Result<String, EntraError> {
    let mut items: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if items.is_empty() {
        return Err(EntraError::missing_param("scope"));
    }
    if items.iter().any(|item| !OIDC_SCOPES.contains(item)) {
        items.retain(|item| !OIDC_SCOPES.contains(item));
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
            || OIDC_SCOPES.contains(item)
            || *item == ".default"
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
        assert_eq!(code("openid profile offline_access"), 70011);
        // msal4j's client-credentials request: the OIDC scopes beside the resource are ignored.
        assert_eq!(
            client_credentials_resource("api://oracle-db/.default openid profile offline_access").unwrap(),
            "api://oracle-db"
        );
    }
}
