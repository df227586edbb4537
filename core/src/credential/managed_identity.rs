//! Azure managed identities: the host (VM, App Service, Container Apps, Functions, Arc server,
//! Cloud Shell, Service Fabric) hands out tokens for its identity from a local endpoint.
//!
//! The source is detected as the Azure SDKs do (entra-protocol.md §8), first match wins:
//!
//! | variables | source | request |
//! |---|---|---|
//! | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` + `IDENTITY_SERVER_THUMBPRINT` | Service Fabric | GET, api-version 2019-07-01-preview, header `secret`, HTTPS pinned to the thumbprint |
//! | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` | App Service / Functions / Container Apps | GET, api-version 2019-08-01, header `X-IDENTITY-HEADER` |
//! | `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT` | Azure Arc | GET, api-version 2020-06-01, `Metadata: true`, 401 challenge → key file |
//! | `MSI_ENDPOINT` + `MSI_SECRET` | App Service 2017 / Azure ML | GET, api-version 2017-09-01, header `secret` |
//! | `MSI_ENDPOINT` | Cloud Shell | POST form `resource`, `Metadata: true` |
//! | the Arc agent is installed (`himds`) | Azure Arc | `http://localhost:40342/metadata/identity/oauth2/token` |
//! | otherwise | IMDS | GET `http://169.254.169.254/metadata/identity/oauth2/token`, api-version 2018-02-01, `Metadata: true` |
//!
//! The IMDS endpoint can be moved with `managed_identity_endpoint` (the setting wins), or the
//! environment's `MSAL_MANAGED_IDENTITY_ENDPOINT` / `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
//! Managed-identity endpoints are reached without a proxy, over plain http only when they are
//! on a loopback or link-local address. The scope becomes the `resource` (without
//! `/.default`); exactly one scope per token.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::Url;

use crate::cache::Scopes;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, Method, RetryPolicy, TokenRequest};
use crate::secret::SecretString;
use crate::token::Token;

use super::app::Env;

pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
pub const ARC_ENDPOINT: &str = "http://localhost:40342/metadata/identity/oauth2/token";
/// Where the Azure Arc agent writes its challenge key files (Linux).
pub const ARC_KEY_DIR: &str = "/var/opt/azcmagent/tokens";
/// The largest Arc key file accepted (as the Azure SDKs check).
pub(crate) const ARC_KEY_MAX: u64 = 4096;
const ARC_AGENT: &[&str] = &["/opt/azcmagent/bin/himds", "/var/opt/azcmagent/bin/himds"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Imds,
    AppService,
    AppService2017,
    Arc,
    CloudShell,
    ServiceFabric,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Imds => "IMDS",
            Source::AppService => "App Service",
            Source::AppService2017 => "App Service 2017",
            Source::Arc => "Azure Arc",
            Source::CloudShell => "Cloud Shell",
            Source::ServiceFabric => "Service Fabric",
        }
    }

    fn who(self) -> &'static str {
        match self {
            Source::Imds => "the managed identity endpoint (IMDS)",
            Source::AppService => "the managed identity endpoint (App Service)",
            Source::AppService2017 => "the managed identity endpoint (App Service 2017)",
            Source::Arc => "the managed identity endpoint (Azure Arc)",
            Source::CloudShell => "the managed identity endpoint (Cloud Shell)",
            Source::ServiceFabric => "the managed identity endpoint (Service Fabric)",
        }
    }
}

/// Which identity: the host's system-assigned one, or a user-assigned one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    System,
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

impl Selector {
    fn setting(&self) -> &'static str {
        match self {
            Selector::System => "",
            Selector::ClientId(_) => "managed_identity_client_id",
            Selector::ObjectId(_) => "managed_identity_object_id",
            Selector::ResourceId(_) => "managed_identity_resource_id",
        }
    }
}

#[derive(Clone)]
pub struct ManagedIdentity {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    endpoint: String,
    /// `IDENTITY_HEADER` / `MSI_SECRET`.
    secret: Option<SecretString>,
    selector: Selector,
    /// The setting that chose `selector` (`managed_identity_*`, or `client_id` in the `auto`
    /// chain; "" for the system-assigned identity), for messages.
    selector_setting: &'static str,
    arc_key_dir: PathBuf,
    sf_thumbprint: Option<String>,
    sf_client: OnceLock<reqwest::Client>,
    /// What the detection saw, for messages.
    detected_by: String,
}

impl fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        write!(
            f,
            "ManagedIdentity({:?} at {}, {:?})",
            i.source, i.endpoint, i.selector
        )
    }
}

/// Platform variables that describe the managed identity endpoint of the machine (not
/// settings): read by `auth_method=managed_identity`/`auto` when the client is built, from the
/// snapshot `Config::load_env` took or else from the process environment.
pub const MANAGED_IDENTITY_ENVIRONMENT: &[&str] = &[
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "MSAL_MANAGED_IDENTITY_ENDPOINT",
    "AZUREPS_HOST_ENVIRONMENT",
];

/// Check the `managed_identity_resource_id` selector (setting `key`): an Azure resource id.
pub fn check_resource_id(key: &str, value: &str) -> Result<String> {
    if !value.starts_with('/') || value.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Error::invalid_setting(
            key,
            "must be an Azure resource id (/subscriptions/…/userAssignedIdentities/<name>)",
        ));
    }
    Ok(value.to_owned())
}

/// Check an endpoint for the `key` setting (or variable): https, or http on a loopback or
/// link-local address (where the platform's endpoints live).
pub fn check_endpoint(key: &str, value: &str) -> Result<Url> {
    let url = crate::authority::parse_url(value)
        .map_err(|e| Error::invalid_setting(key, format!("is not a valid URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or("");
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let local = match host.parse::<IpAddr>() {
                Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_link_local(),
                Ok(IpAddr::V6(ip)) => ip.is_loopback() || (ip.segments()[0] & 0xffc0) == 0xfe80,
                Err(_) => host.eq_ignore_ascii_case("localhost"),
            };
            if !local {
                return Err(Error::invalid_setting(
                    key,
                    "must use https unless it is on a loopback or link-local address (like 169.254.169.254 or localhost)",
                ));
            }
        }
        other => {
            return Err(Error::invalid_setting(
                key,
                format!("must be an http(s) URL (got '{other}://')"),
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid_setting(key, "has no host"));
    }
    Ok(url)
}

/// An IMDS base (`http://host[:port]`) or a full endpoint URL: a base gets IMDS's path.
fn imds_url(key: &str, value: &str) -> Result<String> {
    let url = check_endpoint(key, value)?;
    if url.path().trim_matches('/').is_empty() {
        Ok(format!("{}{IMDS_PATH}", value.trim_end_matches('/')))
    } else {
        Ok(value.to_owned())
    }
}

impl ManagedIdentity {
    /// Detect the source from the platform variables (see the module docs) and read the
    /// identity selector. `in_chain`: `auth_method=auto`, where `client_id` selects a
    /// user-assigned identity when no `managed_identity_*` selector is set (as the Azure SDKs'
    /// DefaultAzureCredential does with `AZURE_CLIENT_ID`).
    pub fn from_config(config: &Config, in_chain: bool) -> Result<ManagedIdentity> {
        let mut selectors = Vec::new();
        if let Some(v) = &config.mi_client_id {
            selectors.push(Selector::ClientId(v.clone()));
        }
        if let Some(v) = &config.mi_object_id {
            selectors.push(Selector::ObjectId(v.clone()));
        }
        if let Some(v) = &config.mi_resource_id {
            selectors.push(Selector::ResourceId(v.clone()));
        }
        if selectors.len() > 1 {
            return Err(Error::invalid_setting(
                selectors[1].setting(),
                format!(
                    "cannot be combined with '{}': select a user-assigned identity by one of them",
                    selectors[0].setting()
                ),
            ));
        }
        // `auto` takes `client_id` as the user-assigned identity's when no selector is set.
        let (selector, selector_setting) = match selectors.pop() {
            Some(s) => {
                let setting = s.setting();
                (s, setting)
            }
            None if in_chain && config.client_id.is_some() => (
                Selector::ClientId(config.client_id.clone().unwrap_or_default()),
                "client_id",
            ),
            None => (Selector::System, ""),
        };
        let var = |name: &str| config.platform_var(name);
        let (source, endpoint, secret, thumb, detected_by) = match (
            var("IDENTITY_ENDPOINT"),
            var("IDENTITY_HEADER"),
            var("IDENTITY_SERVER_THUMBPRINT"),
            var("IMDS_ENDPOINT"),
            var("MSI_ENDPOINT"),
            var("MSI_SECRET"),
        ) {
            (Some(ep), Some(h), Some(t), ..) => (
                Source::ServiceFabric,
                ep,
                Some(h),
                Some(t),
                "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT",
            ),
            (Some(ep), Some(h), None, ..) => (
                Source::AppService,
                ep,
                Some(h),
                None,
                "IDENTITY_ENDPOINT and IDENTITY_HEADER",
            ),
            (Some(ep), None, _, Some(_), ..) => {
                (Source::Arc, ep, None, None, "IDENTITY_ENDPOINT and IMDS_ENDPOINT")
            }
            (_, _, _, _, Some(ep), Some(s)) => (
                Source::AppService2017,
                ep,
                Some(s),
                None,
                "MSI_ENDPOINT and MSI_SECRET",
            ),
            (_, _, _, _, Some(ep), None) => (Source::CloudShell, ep, None, None, "MSI_ENDPOINT"),
            _ if ARC_AGENT.iter().any(|p| Path::new(p).exists()) => (
                Source::Arc,
                ARC_ENDPOINT.to_owned(),
                None,
                None,
                "the Azure Arc agent (himds)",
            ),
            _ => {
                let (ep, by) = if let Some(v) = var("MSAL_MANAGED_IDENTITY_ENDPOINT") {
                    (
                        imds_url("MSAL_MANAGED_IDENTITY_ENDPOINT", &v)?,
                        "MSAL_MANAGED_IDENTITY_ENDPOINT",
                    )
                } else if let Some(v) = var("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
                    (
                        imds_url("AZURE_POD_IDENTITY_AUTHORITY_HOST", &v)?,
                        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                    )
                } else {
                    (
                        IMDS_ENDPOINT.to_owned(),
                        "no managed identity variables (the default)",
                    )
                };
                (Source::Imds, ep, None, None, by)
            }
        };
        let mut detected_by = detected_by.to_owned();
        let endpoint = match &config.mi_endpoint {
            Some(ep) if source == Source::Imds => {
                detected_by = "setting 'managed_identity_endpoint'".to_owned();
                imds_url("managed_identity_endpoint", ep)?
            }
            Some(ep) => {
                detected_by.push_str(", endpoint from setting 'managed_identity_endpoint'");
                ep.clone()
            }
            None => endpoint,
        };
        check_endpoint("managed_identity_endpoint", &endpoint)
            .map_err(|e| e.context(format!("the {} endpoint (from {detected_by})", source.name())))?;
        let supported = match source {
            Source::Imds | Source::AppService => true,
            Source::AppService2017 => matches!(selector, Selector::System | Selector::ClientId(_)),
            Source::Arc | Source::CloudShell | Source::ServiceFabric => selector == Selector::System,
        };
        if !supported {
            let how = if selector_setting == "client_id" {
                " (auth_method=auto takes it as the managed identity's client id when no managed_identity_* setting is set)"
            } else {
                ""
            };
            return Err(Error::invalid_setting(
                selector_setting,
                format!(
                    "selects a user-assigned identity{how}, which {} does not support this way (detected from {detected_by})",
                    source.name()
                ),
            ));
        }
        let arc_key_dir = config
            .arc_key_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(ARC_KEY_DIR));
        let mi = ManagedIdentity {
            inner: Arc::new(Inner {
                source,
                endpoint,
                secret: secret.map(SecretString::new),
                selector,
                selector_setting,
                arc_key_dir,
                sf_thumbprint: thumb,
                sf_client: OnceLock::new(),
                detected_by,
            }),
        };
        log_info!("managed identity source chosen: {}", mi.describe());
        Ok(mi)
    }

    pub fn source(&self) -> Source {
        self.inner.source
    }

    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// `managed_identity:<source>:<endpoint>`: the cache partition.
    pub fn label(&self) -> String {
        format!(
            "managed_identity:{}:{}",
            self.inner.source.name(),
            self.inner.endpoint
        )
    }

    /// The Service Fabric thumbprint the endpoint is pinned to (part of the cache key: a
    /// client pinned to another certificate must not share tokens).
    pub fn pinned_thumbprint(&self) -> Option<&str> {
        self.inner.sf_thumbprint.as_deref()
    }

    /// `system`, or the user-assigned selector (`client_id=…`).
    pub fn selector_label(&self) -> String {
        match &self.inner.selector {
            Selector::System => "system".to_owned(),
            Selector::ClientId(v) => format!("client_id={v}"),
            Selector::ObjectId(v) => format!("object_id={v}"),
            Selector::ResourceId(v) => format!("resource_id={v}"),
        }
    }

    /// A sentence on what was detected, for the `auto` chain's report.
    pub fn describe(&self) -> String {
        format!(
            "{} at {} (from {}), {} identity",
            self.inner.source.name(),
            self.inner.endpoint,
            self.inner.detected_by,
            self.selector_label()
        )
    }

    /// A token for `scopes`. With `probe` (the `auto` chain on IMDS), a first attempt bounded by
    /// that time and without retries decides whether the endpoint is there at all: no answer is
    /// [`Probe::Unavailable`]. [`get_token_probing`](Self::get_token_probing) tells the chain
    /// whether the managed identity is unavailable or failed; here both are the error.
    pub async fn get_token(&self, env: &Env<'_>, scopes: &Scopes, probe: Option<Duration>) -> Result<Token> {
        self.get_token_probing(env, scopes, probe)
            .await
            .map_err(Probe::into_error)
    }

    pub async fn get_token_probing(
        &self,
        env: &Env<'_>,
        scopes: &Scopes,
        probe: Option<Duration>,
    ) -> std::result::Result<Token, Probe> {
        let inner = &self.inner;
        let resource = resource(scopes).map_err(Probe::Failed)?;
        let client = self.http_client(env).map_err(Probe::Failed)?;
        let dir = inner.arc_key_dir.clone();
        let challenge = move |header: &str| arc_authorization(header, &dir);
        let mut req = TokenRequest::get(&inner.endpoint, inner.source.who());
        let selector = |req: &mut TokenRequest<'_>,
                        client_id: &'static str,
                        object_id: &'static str,
                        res_id: &'static str| {
            match &inner.selector {
                Selector::System => {}
                Selector::ClientId(v) => req.query.push((client_id, v.clone())),
                Selector::ObjectId(v) => req.query.push((object_id, v.clone())),
                Selector::ResourceId(v) => req.query.push((res_id, v.clone())),
            }
        };
        let secret = || inner.secret.clone().unwrap_or_else(|| SecretString::new(""));
        match inner.source {
            Source::Imds => {
                req.query.push(("api-version", "2018-02-01".into()));
                req.query.push(("resource", resource.clone()));
                selector(&mut req, "client_id", "object_id", "msi_res_id");
                req.headers.push(("Metadata", SecretString::new("true")));
            }
            Source::AppService => {
                req.query.push(("api-version", "2019-08-01".into()));
                req.query.push(("resource", resource.clone()));
                selector(&mut req, "client_id", "object_id", "mi_res_id");
                req.headers.push(("X-IDENTITY-HEADER", secret()));
            }
            Source::AppService2017 => {
                req.query.push(("api-version", "2017-09-01".into()));
                req.query.push(("resource", resource.clone()));
                selector(&mut req, "clientid", "", "");
                req.headers.push(("secret", secret()));
            }
            Source::Arc => {
                req.query.push(("api-version", "2020-06-01".into()));
                req.query.push(("resource", resource.clone()));
                req.headers.push(("Metadata", SecretString::new("true")));
                req.challenge = Some(&challenge);
            }
            Source::CloudShell => {
                req.method = Method::Post;
                req.form.push(("resource", resource.as_str()));
                req.headers.push(("Metadata", SecretString::new("true")));
            }
            Source::ServiceFabric => {
                req.query.push(("api-version", "2019-07-01-preview".into()));
                req.query.push(("resource", resource.clone()));
                req.headers.push(("secret", secret()));
            }
        }
        if let Some(limit) = probe {
            req.retry = RetryPolicy::None;
            let first = http::bounded(limit, http::request_token(&client, &req), || {
                format!(
                    "{} did not answer within probe_timeout_ms={}",
                    inner.endpoint,
                    limit.as_millis()
                )
            })
            .await;
            match first {
                Err(e) if matches!(e.kind(), ErrorKind::Network | ErrorKind::Timeout) => {
                    return Err(Probe::Unavailable(e))
                }
                // Something answered that is not IMDS: no OAuth error JSON and no token (a
                // proxy's or sandbox's 403 page on 169.254.169.254). azure-identity treats an
                // answer it cannot read there as "unavailable" too.
                Err(e) if e.http_status().is_some() && e.oauth_error().is_none() => {
                    return Err(Probe::Unavailable(
                        e.context("not a managed identity endpoint's answer"),
                    ))
                }
                Ok(token) => return Ok(token),
                Err(e) if !matches!(e.http_status(), Some(404 | 408 | 410 | 429 | 500..=599)) => {
                    return Err(self.refused(e))
                }
                Err(_) => req.retry = RetryPolicy::ManagedIdentity,
            }
        }
        http::request_token_with_retry(&client, &req)
            .await
            .map_err(|e| self.refused(e))
    }

    /// How an endpoint's refusal counts for the `auto` chain. IMDS's HTTP 400
    /// `{"error":"invalid_request","error_description":"Identity not found"}` means the identity
    /// asked for is not on this host (a VM with no system-assigned identity, or a user-assigned
    /// one not assigned to it): the managed identity is [`Probe::Unavailable`], as azure-identity
    /// has it — Python's `ImdsCredential` and .NET's `ImdsManagedIdentitySource` raise
    /// `CredentialUnavailableError`/`CredentialUnavailableException` on IMDS's 400, for the
    /// system-assigned identity and a user-assigned one alike, so DefaultAzureCredential tries
    /// its next credential; Go's azidentity did so too (PR #15377), though it now stops on a
    /// user-assigned one. Used directly (`auth_method=managed_identity`) it is an error all the
    /// same (`get_token`), with a sentence naming the setting to check. MSAL (Python, .NET),
    /// which has no chain, returns IMDS's error.
    ///
    /// Only that answer: IMDS's other 400s are the request's fault, not the host's: a missing
    /// `Metadata` header (`bad_request_102`, aadtoken always sends it: something in between
    /// dropped it), a resource Entra ID does not know (`invalid_resource`, AADSTS50001: the
    /// scope is wrong), several user-assigned identities and none selected. They, and a 403
    /// that is IMDS's own JSON, stay the managed identity's failure (the chain ends with it);
    /// a 403 page that is not IMDS's (Docker Desktop's "unreachable network", a proxy) is
    /// already unavailable on the probe, as in every Azure SDK.
    fn refused(&self, e: Error) -> Probe {
        if self.inner.source == Source::Imds && identity_not_found(&e) {
            let hint = self.not_assigned_hint();
            let message = format!("{}; {hint}", e.message());
            let kind = e.kind();
            Probe::Unavailable(e.reclassified(kind, message))
        } else {
            Probe::Failed(e)
        }
    }

    /// What to check when IMDS does not have the identity asked for.
    fn not_assigned_hint(&self) -> String {
        let setting = self.inner.selector_setting;
        match &self.inner.selector {
            Selector::System => "this host has no system-assigned managed identity: enable it on the VM, or select a user-assigned identity that is assigned to it with managed_identity_client_id, managed_identity_object_id or managed_identity_resource_id".to_owned(),
            _ if setting == "client_id" => format!(
                "no user-assigned identity with {} is assigned to this host: auth_method=auto takes setting 'client_id' (AZURE_CLIENT_ID) as the managed identity's client id when no managed_identity_* setting is set; set managed_identity_client_id, managed_identity_object_id or managed_identity_resource_id to the identity assigned to the host",
                self.selector_label()
            ),
            _ => format!(
                "no user-assigned identity with {} is assigned to this host: check setting '{setting}' (managed_identity_client_id, managed_identity_object_id or managed_identity_resource_id select one), or assign the identity to the VM",
                self.selector_label()
            ),
        }
    }

    fn http_client(&self, env: &Env<'_>) -> Result<reqwest::Client> {
        match &self.inner.sf_thumbprint {
            None => env.http_direct(),
            Some(thumb) => {
                if let Some(c) = self.inner.sf_client.get() {
                    return Ok(c.clone());
                }
                let c = http::build_pinned_client(thumb)?;
                Ok(self.inner.sf_client.get_or_init(|| c).clone())
            }
        }
    }
}

/// How a managed-identity attempt ended, for the `auto` chain.
#[derive(Debug)]
pub enum Probe {
    /// No managed identity here: nothing answered, something that is not a managed-identity
    /// endpoint answered, or IMDS does not have the identity asked for ("Identity not found").
    Unavailable(Error),
    /// The endpoint answered, with an error.
    Failed(Error),
}

impl Probe {
    pub fn into_error(self) -> Error {
        match self {
            Probe::Unavailable(e) | Probe::Failed(e) => e,
        }
    }
}

/// IMDS's answer for an identity the host does not have: HTTP 400, `invalid_request`,
/// "Identity not found" (how-to-use-vm-token.md; seen verbatim in MicrosoftDocs/azure-docs#21322
/// and Azure/aad-pod-identity#778).
fn identity_not_found(e: &Error) -> bool {
    e.http_status() == Some(400)
        && e.oauth_error() == Some("invalid_request")
        && e.message().to_ascii_lowercase().contains("identity not found")
}

/// The `resource` of a managed-identity request: the one scope without `/.default`.
pub fn resource(scopes: &Scopes) -> Result<String> {
    let all: Vec<&str> = scopes.iter().collect();
    let [one] = all.as_slice() else {
        return Err(Error::new(
            ErrorKind::InvalidScope,
            format!(
                "a managed identity token is for one resource; got {} scopes ('{}')",
                all.len(),
                all.join(" ")
            ),
        ));
    };
    let r = one.strip_suffix("/.default").unwrap_or(one);
    if r.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidScope,
            format!("the scope '{one}' names no resource"),
        ));
    }
    Ok(r.to_owned())
}

/// Answer Azure Arc's challenge: `WWW-Authenticate: Basic realm=<path to a .key file>`. The
/// file must be a regular file directly in `dir`, named `*.key`, at most 4096 bytes; its
/// contents become `Authorization: Basic <contents>`.
pub fn arc_authorization(header: &str, dir: &Path) -> Result<SecretString> {
    let unsafe_path =
        |what: String| Error::new(ErrorKind::UnsafePath, format!("Azure Arc's challenge {what}"));
    let realm = header
        .trim()
        .strip_prefix("Basic")
        .or_else(|| header.trim().strip_prefix("basic"))
        .map(str::trim)
        .and_then(|r| r.strip_prefix("realm="))
        .map(|r| r.trim().trim_matches('"'))
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::BadResponse,
                "Azure Arc's 401 answer has no 'WWW-Authenticate: Basic realm=<key file>' header",
            )
        })?;
    let path = Path::new(realm);
    let shown = path.display();
    if !path.is_absolute() || path.extension().is_none_or(|e| e != "key") {
        return Err(unsafe_path(format!(
            "names '{shown}', which is not an absolute path to a '.key' file"
        )));
    }
    let parent = path.parent().and_then(|p| std::fs::canonicalize(p).ok());
    let allowed = std::fs::canonicalize(dir).ok();
    if parent.is_none() || parent != allowed {
        return Err(unsafe_path(format!(
            "names '{shown}', which is outside the Azure Arc key directory '{}'",
            dir.display()
        )));
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| {
        Error::new(
            ErrorKind::File,
            format!("the Azure Arc key file '{shown}' cannot be read: {e}"),
        )
    })?;
    if !meta.file_type().is_file() {
        return Err(unsafe_path(format!(
            "names '{shown}', which is not a regular file"
        )));
    }
    if meta.len() > ARC_KEY_MAX {
        return Err(unsafe_path(format!(
            "names '{shown}', which is larger than {ARC_KEY_MAX} bytes"
        )));
    }
    let key = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            ErrorKind::File,
            format!("the Azure Arc key file '{shown}' cannot be read: {e}"),
        )
    })?);
    Ok(SecretString::new(format!("Basic {}", key.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &str) -> Scopes {
        Scopes::parse(s).unwrap()
    }

    #[test]
    fn scope_becomes_resource() {
        assert_eq!(resource(&scopes("api://db/.default")).unwrap(), "api://db");
        assert_eq!(
            resource(&scopes("https://x.example.com")).unwrap(),
            "https://x.example.com"
        );
        assert_eq!(
            resource(&scopes("api://a/.default api://b/.default"))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidScope
        );
    }

    #[test]
    fn plain_http_only_on_local_addresses() {
        for ok in [
            "http://169.254.169.254/metadata/identity/oauth2/token",
            "http://127.0.0.1:1234/msi/token",
            "http://localhost:40342/x",
            "http://[::1]:80/",
            "https://sf.example.com:2377/metadata",
        ] {
            check_endpoint("managed_identity_endpoint", ok).unwrap();
        }
        for bad in [
            "http://10.0.0.4/x",
            "http://metadata.example.com/x",
            "ftp://127.0.0.1/",
        ] {
            let e = check_endpoint("managed_identity_endpoint", bad).unwrap_err();
            assert!(
                e.message().contains("'managed_identity_endpoint'"),
                "{bad}: {}",
                e.message()
            );
        }
    }

    fn detect(vars: &[(&str, &str)], settings: &str) -> Result<ManagedIdentity> {
        let mut c = Config::new();
        c.parse(settings).unwrap();
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        c.load_env_from(|n| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
            .unwrap();
        ManagedIdentity::from_config(&c, false)
    }

    #[test]
    fn sources_are_detected_in_sdk_order() {
        let ep = ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token");
        let h = ("IDENTITY_HEADER", "h");
        let cases: &[(&[(&str, &str)], Source)] = &[
            (
                &[ep, h, ("IDENTITY_SERVER_THUMBPRINT", "AB")],
                Source::ServiceFabric,
            ),
            (&[ep, h], Source::AppService),
            (&[ep, ("IMDS_ENDPOINT", "http://127.0.0.1:2")], Source::Arc),
            (
                &[("MSI_ENDPOINT", "http://127.0.0.1:3/x"), ("MSI_SECRET", "s")],
                Source::AppService2017,
            ),
            (&[("MSI_ENDPOINT", "http://127.0.0.1:4/x")], Source::CloudShell),
            (&[], Source::Imds),
        ];
        for (vars, source) in cases {
            assert_eq!(detect(vars, "").unwrap().source(), *source, "{vars:?}");
        }
        let mi = detect(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")], "").unwrap();
        assert_eq!(mi.endpoint(), "http://127.0.0.1:9/metadata/identity/oauth2/token");
        let mi = detect(
            &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")],
            "managed_identity_endpoint=http://127.0.0.1:8",
        )
        .unwrap();
        assert_eq!(mi.endpoint(), "http://127.0.0.1:8/metadata/identity/oauth2/token");
        assert_eq!(mi.endpoint(), "http://127.0.0.1:8/metadata/identity/oauth2/token");
        let e = detect(
            &[("MSI_ENDPOINT", "http://127.0.0.1:4/x")],
            "managed_identity_client_id=abc",
        )
        .unwrap_err();
        assert!(e.message().contains("Cloud Shell"), "{}", e.message());
        let e = detect(&[], "managed_identity_client_id=a;managed_identity_object_id=b").unwrap_err();
        assert!(e.message().contains("cannot be combined"), "{}", e.message());
        let e = detect(&[("IDENTITY_ENDPOINT", "http://10.1.2.3/x"), h], "").unwrap_err();
        assert!(e.message().contains("https"), "{}", e.message());
    }

    #[test]
    fn arc_key_file_must_be_in_the_directory() {
        let dir = std::env::temp_dir().join(format!("aadtoken-arc-{}", std::process::id()));
        let other = dir.join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(dir.join("a.key"), "k3y\n").unwrap();
        std::fs::write(other.join("b.key"), "x").unwrap();
        std::fs::write(dir.join("big.key"), vec![b'x'; 5000]).unwrap();
        let a = arc_authorization(&format!("Basic realm={}", dir.join("a.key").display()), &dir).unwrap();
        assert_eq!(a.expose(), "Basic k3y");
        for (realm, kind) in [
            (other.join("b.key"), ErrorKind::UnsafePath),
            (dir.join("other/../other/b.key"), ErrorKind::UnsafePath),
            (dir.join("big.key"), ErrorKind::UnsafePath),
            (dir.join("a.txt"), ErrorKind::UnsafePath),
            (dir.join("missing.key"), ErrorKind::File),
        ] {
            let e = arc_authorization(&format!("Basic realm={}", realm.display()), &dir).unwrap_err();
            assert_eq!(e.kind(), kind, "{}: {}", realm.display(), e.message());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
