//! A mock of the Azure managed-identity endpoints (entra-protocol.md §8), on plain HTTP on
//! 127.0.0.1, each with its real request and response shape and its error bodies:
//!
//! | path | source | checks | answer |
//! |---|---|---|---|
//! | `GET /metadata/identity/oauth2/token` | IMDS | `Metadata: true`, `api-version`, `resource`; selector `client_id` / `object_id` / `msi_res_id` | `expires_in`/`expires_on`/`not_before` as strings; errors `{error, error_description}` |
//! | `GET /msi/token` | App Service 2019-08-01 | `X-IDENTITY-HEADER`, `api-version=2019-08-01`, `resource`; selector `client_id` / `principal_id` / `object_id` / `mi_res_id` | `expires_on` epoch string, no `expires_in`; errors `{statusCode, message, correlationId}` |
//! | `GET /msi2017/token` | App Service 2017-09-01 | header `secret`, `api-version=2017-09-01`, `resource`; selector `clientid` | `expires_on` as `M/d/yyyy h:mm:ss AM +00:00` |
//! | `GET /arc/metadata/identity/oauth2/token` | Azure Arc | `Metadata: true`; without `Authorization` → 401 `WWW-Authenticate: Basic realm=<key file>`; then `Authorization: Basic <file contents>` | IMDS-like |
//! | `POST /oauth2/token` | Cloud Shell | `Metadata: true`, form `resource` | `expires_in` |
//! | `GET /servicefabric/token` (HTTPS, second port) | Service Fabric | header `secret`, `api-version=2019-07-01-preview`, `resource` | `expires_on` as a number; errors `{"error":{code, message}}` |
//!
//! Service Fabric's listener is HTTPS with a self-signed certificate; clients pin it by its
//! thumbprint ([`ManagedIdentityMock::service_fabric_thumbprint`], as `IDENTITY_SERVER_THUMBPRINT`).
//!
//! Tokens are RS256 JWTs with `aud` = the resource, `oid`/`sub` = the identity's object id,
//! `appid` = its client id, `xms_mirid` = its resource id; lifetime 24 h by default (managed
//! identity tokens live long). Faults ([`ManagedIdentityMock::fail_next`],
//! [`ManagedIdentityMock::inject`]) answer the next requests with an IMDS-style status (404,
//! 410, 429, 5xx, optionally with `Retry-After`) or with a page that is not a managed-identity
//! endpoint's answer ([`MiFault::NotManagedIdentity`]: what a proxy or sandbox on
//! 169.254.169.254 answers).
//!
//! Control routes (not recorded), as the Entra ID mock has them: `GET /_mock/requests` (the
//! request log as JSON), `POST /_mock/clear_requests`, `POST /_mock/fail` with
//! `{"count":n,"status":503,"retry_after":"2"}` or `{"count":n,"kind":"not_managed_identity","status":403}`.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt as _;

use crate::entra::unix_now;
use crate::keys::SigningKey;
use crate::recording::{record, Recorder};
use crate::redact::value as param;
use crate::registry::{derived_guid, TENANT_ID};
use crate::server::Running;

/// A managed identity the mock host has.
#[derive(Clone, Debug, Serialize)]
pub struct MiIdentity {
    /// Client (application) id.
    pub client_id: String,
    /// Object (principal) id.
    pub object_id: String,
    /// Azure resource id.
    pub resource_id: String,
    /// The host's system-assigned identity (selected when no selector is sent).
    pub system: bool,
}

impl MiIdentity {
    /// A user-assigned identity named `name` (ids derived from it).
    pub fn user_assigned(name: &str) -> Self {
        MiIdentity {
            client_id: derived_guid("mi-client", name),
            object_id: derived_guid("mi-object", name),
            resource_id: format!(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
            ),
            system: false,
        }
    }

    /// The system-assigned identity of a host named `name`.
    pub fn system_assigned(name: &str) -> Self {
        MiIdentity {
            system: true,
            resource_id: format!(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}"
            ),
            ..Self::user_assigned(name)
        }
    }
}

/// An injected answer of the managed-identity mock, in place of the next request's.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MiFault {
    /// An IMDS-style JSON error with this status (404, 410, 429, 5xx…), and `Retry-After` with
    /// this value when given (seconds, or an HTTP date).
    Status {
        /// HTTP status.
        status: u16,
        /// The `Retry-After` header's value.
        #[serde(default)]
        retry_after: Option<String>,
    },
    /// An HTML page with this status (e.g. 403): something that is not a managed-identity
    /// endpoint answering on its address.
    NotManagedIdentity {
        /// HTTP status.
        status: u16,
    },
}

/// One request the managed-identity mock received. Secret header values (`X-IDENTITY-HEADER`,
/// `secret`, `Authorization`) are logged as `<redacted>`.
#[derive(Clone, Debug, Serialize)]
pub struct MiRequest {
    /// `imds`, `app_service`, `app_service_2017`, `arc`, `cloud_shell` or `service_fabric`.
    pub source: &'static str,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// Decoded form fields (Cloud Shell).
    pub form: Vec<(String, String)>,
    /// Answer status.
    pub status: u16,
}

struct Shared {
    key: SigningKey,
    port: u16,
    sf_port: u16,
    sf_thumbprint: String,
    identities: Mutex<Vec<MiIdentity>>,
    identity_header: String,
    msi_secret: String,
    arc_dir: Mutex<PathBuf>,
    arc_keys: Mutex<HashSet<String>>,
    faults: Mutex<VecDeque<MiFault>>,
    lifetime_s: Mutex<u64>,
    log: Mutex<Vec<MiRequest>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running managed-identity mock. Dropping it stops the server and removes its Arc key
/// directory.
pub struct ManagedIdentityMock {
    shared: Arc<Shared>,
    /// Before `_arc_dir`: the server stops before its key directory goes.
    _running: Running,
    _arc_dir: tempfile::TempDir,
}

impl std::fmt::Debug for ManagedIdentityMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentityMock")
            .field("port", &self.shared.port)
            .finish_non_exhaustive()
    }
}

/// Declares [`MiSource`] from one table, a line a source: its doc, its variant and its
/// `--managed-identity` value. The enum, [`MiSource::ALL`] and [`MiSource::name`] come from it.
macro_rules! mi_sources {
    ($($(#[$doc:meta])* $source:ident = $flag:literal,)*) => {
        /// A managed-identity source the mock can stand in for (the standalone binary's
        /// `--managed-identity` flag): which variables point a client at it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum MiSource {
            $($(#[$doc])* $source,)*
        }

        impl MiSource {
            /// Every source, in the order of the `--managed-identity` values.
            pub const ALL: [MiSource; [$($flag),*].len()] = [$(MiSource::$source),*];

            /// The flag value: `imds`, `app-service`, `app-service-2017`, `arc`, `cloud-shell`,
            /// `service-fabric`.
            pub fn name(self) -> &'static str {
                match self {
                    $(MiSource::$source => $flag,)*
                }
            }
        }
    };
}

mi_sources! {
    /// Azure VMs' Instance Metadata Service.
    Imds = "imds",
    /// App Service, Functions, Container Apps (API 2019-08-01).
    AppService = "app-service",
    /// App Service's API 2017-09-01 (and Azure ML).
    AppService2017 = "app-service-2017",
    /// Azure Arc-enabled servers.
    Arc = "arc",
    /// Azure Cloud Shell.
    CloudShell = "cloud-shell",
    /// Service Fabric (HTTPS, pinned by thumbprint).
    ServiceFabric = "service-fabric",
}

impl MiSource {
    /// The source a flag value names.
    pub fn parse(value: &str) -> Result<MiSource, String> {
        MiSource::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = MiSource::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown managed identity source '{value}' (one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// The fixture host's system-assigned identity name.
pub const MI_HOST: &str = "mock-vm";

impl ManagedIdentityMock {
    /// Starts the mock on its own thread, with the system-assigned identity of [`MI_HOST`] and
    /// one user-assigned identity, `mock-uami` ([`MiIdentity::user_assigned`]).
    pub fn spawn() -> ManagedIdentityMock {
        Self::try_spawn().expect("aadtoken-mock: managed identity mock failed to start")
    }

    /// Like [`ManagedIdentityMock::spawn`], returning start-up errors.
    pub fn try_spawn() -> io::Result<ManagedIdentityMock> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let sf_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        sf_listener.set_nonblocking(true)?;
        let sf_port = sf_listener.local_addr()?.port();
        let (sf_tls, sf_thumbprint) = service_fabric_tls()?;
        let arc_dir = tempfile::Builder::new().prefix("aadtoken-mock-arc-").tempdir()?;
        let shared = Arc::new(Shared {
            key: SigningKey::generate()?,
            port,
            sf_port,
            sf_thumbprint,
            identities: Mutex::new(vec![
                MiIdentity::system_assigned(MI_HOST),
                MiIdentity::user_assigned("mock-uami"),
            ]),
            identity_header: format!("mock-identity-header-{}", uuid::Uuid::new_v4()),
            msi_secret: format!("mock-msi-secret-{}", uuid::Uuid::new_v4()),
            arc_dir: Mutex::new(arc_dir.path().to_path_buf()),
            arc_keys: Mutex::new(HashSet::new()),
            faults: Mutex::new(VecDeque::new()),
            lifetime_s: Mutex::new(86_399),
            log: Mutex::new(Vec::new()),
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("aadtoken-mock-mi")
            .enable_all()
            .build()?;
        let (listener, sf_listener) = {
            let _g = rt.enter();
            (
                TcpListener::from_std(listener)?,
                TcpListener::from_std(sf_listener)?,
            )
        };
        let app = router(Arc::clone(&shared));
        let (tx, mut rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("aadtoken-mock-mi-{port}"))
            .spawn(move || {
                rt.block_on(async move {
                    loop {
                        tokio::select! {
                            _ = &mut rx => break,
                            accepted = listener.accept() => {
                                let Ok((tcp, _)) = accepted else { continue };
                                tokio::spawn(serve_conn(tcp, app.clone()));
                            }
                            accepted = sf_listener.accept() => {
                                let Ok((tcp, _)) = accepted else { continue };
                                let (app, tls) = (app.clone(), sf_tls.clone());
                                tokio::spawn(async move {
                                    if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await {
                                        serve_conn(stream, app).await;
                                    }
                                });
                            }
                        }
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(ManagedIdentityMock {
            shared,
            _running: Running::new(tx, Some(thread)),
            _arc_dir: arc_dir,
        })
    }

    /// `http://127.0.0.1:PORT` (an IMDS base, as `AZURE_POD_IDENTITY_AUTHORITY_HOST` takes).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.port)
    }

    /// The IMDS token endpoint.
    pub fn imds_endpoint(&self) -> String {
        format!("{}/metadata/identity/oauth2/token", self.base_url())
    }

    /// The App Service (2019-08-01) endpoint, as `IDENTITY_ENDPOINT` gives it.
    pub fn app_service_endpoint(&self) -> String {
        format!("{}/msi/token", self.base_url())
    }

    /// The App Service 2017 endpoint, as `MSI_ENDPOINT` gives it.
    pub fn app_service_2017_endpoint(&self) -> String {
        format!("{}/msi2017/token", self.base_url())
    }

    /// The Azure Arc endpoint, as `IDENTITY_ENDPOINT` gives it on an Arc server.
    pub fn arc_endpoint(&self) -> String {
        format!("{}/arc/metadata/identity/oauth2/token", self.base_url())
    }

    /// The Cloud Shell endpoint, as `MSI_ENDPOINT` gives it.
    pub fn cloud_shell_endpoint(&self) -> String {
        format!("{}/oauth2/token", self.base_url())
    }

    /// The Service Fabric endpoint (HTTPS), as `IDENTITY_ENDPOINT` gives it there.
    pub fn service_fabric_endpoint(&self) -> String {
        format!("https://127.0.0.1:{}/servicefabric/token", self.shared.sf_port)
    }

    /// Hex SHA-1 thumbprint of the Service Fabric listener's certificate
    /// (`IDENTITY_SERVER_THUMBPRINT`).
    pub fn service_fabric_thumbprint(&self) -> &str {
        &self.shared.sf_thumbprint
    }

    /// `IDENTITY_HEADER` (App Service's `X-IDENTITY-HEADER` value; Service Fabric's `secret`).
    pub fn identity_header(&self) -> &str {
        &self.shared.identity_header
    }

    /// `MSI_SECRET` (App Service 2017's `secret` header value).
    pub fn msi_secret(&self) -> &str {
        &self.shared.msi_secret
    }

    /// The environment variables that point a client (aadtoken, MSAL, the Azure SDKs) at this
    /// mock as `source`, as the platform sets them. IMDS is moved with both overrides clients
    /// read (`AZURE_POD_IDENTITY_AUTHORITY_HOST`, `MSAL_MANAGED_IDENTITY_ENDPOINT`); Cloud Shell
    /// also gets `AZUREPS_HOST_ENVIRONMENT`, which MSAL Python checks.
    pub fn client_env(&self, source: MiSource) -> Vec<(&'static str, String)> {
        match source {
            MiSource::Imds => vec![
                ("AZURE_POD_IDENTITY_AUTHORITY_HOST", self.base_url()),
                ("MSAL_MANAGED_IDENTITY_ENDPOINT", self.imds_endpoint()),
            ],
            MiSource::AppService => vec![
                ("IDENTITY_ENDPOINT", self.app_service_endpoint()),
                ("IDENTITY_HEADER", self.identity_header().to_owned()),
            ],
            MiSource::AppService2017 => vec![
                ("MSI_ENDPOINT", self.app_service_2017_endpoint()),
                ("MSI_SECRET", self.msi_secret().to_owned()),
            ],
            MiSource::Arc => vec![
                ("IDENTITY_ENDPOINT", self.arc_endpoint()),
                ("IMDS_ENDPOINT", self.base_url()),
            ],
            MiSource::CloudShell => vec![
                ("MSI_ENDPOINT", self.cloud_shell_endpoint()),
                ("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0".to_owned()),
            ],
            MiSource::ServiceFabric => vec![
                ("IDENTITY_ENDPOINT", self.service_fabric_endpoint()),
                ("IDENTITY_HEADER", self.identity_header().to_owned()),
                (
                    "IDENTITY_SERVER_THUMBPRINT",
                    self.service_fabric_thumbprint().to_owned(),
                ),
            ],
        }
    }

    /// The directory the Arc endpoint writes its key files to (a temporary directory).
    pub fn arc_key_dir(&self) -> PathBuf {
        lock(&self.shared.arc_dir).clone()
    }

    /// Make the Arc endpoint write its key files to `dir` instead (e.g. outside the
    /// directory the client allows).
    pub fn set_arc_key_dir(&self, dir: &Path) {
        *lock(&self.shared.arc_dir) = dir.to_path_buf();
    }

    /// The identities of the host (system-assigned first).
    pub fn identities(&self) -> Vec<MiIdentity> {
        lock(&self.shared.identities).clone()
    }

    /// Give the host these identities instead (the system-assigned one is the one with
    /// `system`). Without a system-assigned identity (e.g. `vec![]`: a VM with no managed
    /// identity), IMDS answers a request that selects none as the real one does: HTTP 400
    /// `{"error":"invalid_request","error_description":"Identity not found"}` — the answer to
    /// a user-assigned identity the host does not have, too.
    pub fn set_identities(&self, identities: Vec<MiIdentity>) {
        *lock(&self.shared.identities) = identities;
    }

    /// The user-assigned fixture identity `mock-uami`.
    pub fn user_assigned(&self) -> MiIdentity {
        MiIdentity::user_assigned("mock-uami")
    }

    /// The system-assigned fixture identity.
    pub fn system_assigned(&self) -> MiIdentity {
        MiIdentity::system_assigned(MI_HOST)
    }

    /// Token lifetime in seconds (default 86399).
    pub fn set_token_lifetime(&self, secs: u64) {
        *lock(&self.shared.lifetime_s) = secs;
    }

    /// Answer the next `n` requests with `status` (404, 410, 429, 500, 503…), IMDS-style.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.inject(
            n,
            MiFault::Status {
                status,
                retry_after: None,
            },
        );
    }

    /// Answer the next `n` requests with `fault`.
    pub fn inject(&self, n: usize, fault: MiFault) {
        lock(&self.shared.faults).extend(std::iter::repeat_n(fault, n));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<MiRequest> {
        lock(&self.shared.log).clone()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Verifies a token minted by this mock; returns its claims.
    pub fn verify_token(&self, jwt: &str) -> Result<Value, String> {
        self.shared.key.verify_jwt(jwt)
    }
}

async fn serve_conn<S>(stream: S, app: Router)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        async move { app.oneshot(req).await }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

/// A self-signed certificate for 127.0.0.1 and its hex SHA-1 thumbprint.
fn service_fabric_tls() -> io::Result<(tokio_rustls::TlsAcceptor, String)> {
    let other = |e: &dyn std::fmt::Display| io::Error::other(format!("Service Fabric TLS: {e}"));
    let key = rcgen::KeyPair::generate().map_err(|e| other(&e))?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).map_err(|e| other(&e))?;
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress(std::net::IpAddr::V4(
            Ipv4Addr::LOCALHOST,
        )));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sf-cluster.mock.invalid");
    let cert = params.self_signed(&key).map_err(|e| other(&e))?;
    let der = cert.der().to_vec();
    let thumb: String = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| other(&e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(der)],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .map_err(|e| other(&e))?;
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), thumb))
}

type St = State<Arc<Shared>>;
type Q = Query<Vec<(String, String)>>;

fn router(st: Arc<Shared>) -> Router {
    Router::new()
        .route("/metadata/identity/oauth2/token", any(imds))
        .route("/msi/token", get(app_service))
        .route("/msi2017/token", get(app_service_2017))
        .route("/arc/metadata/identity/oauth2/token", any(arc))
        .route("/oauth2/token", any(cloud_shell))
        .route("/servicefabric/token", get(service_fabric))
        .route("/_mock/requests", get(ctl_requests))
        .route("/_mock/clear_requests", axum::routing::post(ctl_clear_requests))
        .route("/_mock/fail", axum::routing::post(ctl_fail))
        .route_layer(middleware::from_fn_with_state(st.clone(), record::<Shared>))
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found").into_response() })
        .with_state(st)
}

/// Every request to a route is logged (its secret headers redacted) and may be answered by an
/// injected fault instead.
impl Recorder for Shared {
    type Entry = MiRequest;

    fn route(&self, path: &str) -> Option<&'static str> {
        Some(match path {
            "/metadata/identity/oauth2/token" => "imds",
            "/msi/token" => "app_service",
            "/msi2017/token" => "app_service_2017",
            "/arc/metadata/identity/oauth2/token" => "arc",
            "/oauth2/token" => "cloud_shell",
            "/servicefabric/token" => "service_fabric",
            _ => return None,
        })
    }

    fn begin(&self, source: &'static str, parts: &Parts, body: &Bytes) -> MiRequest {
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().to_ascii_lowercase();
                let value = if matches!(name.as_str(), "x-identity-header" | "secret" | "authorization") {
                    "<redacted>".to_owned()
                } else {
                    v.to_str().unwrap_or("").to_owned()
                };
                (name, value)
            })
            .collect();
        let query = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        // Only Cloud Shell takes its parameters as a form.
        let form = if source == "cloud_shell" {
            form_urlencoded::parse(body).into_owned().collect()
        } else {
            Vec::new()
        };
        MiRequest {
            source,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query,
            headers,
            form,
            status: 0,
        }
    }

    fn fault(&self, _route: &'static str) -> Option<Response> {
        fault(self)
    }

    fn finish(&self, mut entry: MiRequest, resp: &Response) {
        entry.status = resp.status().as_u16();
        lock(&self.log).push(entry);
    }
}

fn imds_error(status: u16, error: &str, description: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        code,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn fault(st: &Shared) -> Option<Response> {
    let (status, retry_after) = match lock(&st.faults).pop_front()? {
        MiFault::Status { status, retry_after } => (status, retry_after),
        MiFault::NotManagedIdentity { status } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            let page = "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>Access to 169.254.169.254 is not allowed from this network.</p></body></html>";
            return Some((code, [("content-type", "text/html")], page).into_response());
        }
    };
    let (error, text) = match status {
        404 => ("not_found", "IMDS is updating (404)."),
        410 => (
            "gone",
            "IMDS is updating; it will be available within 70 seconds.",
        ),
        429 => ("too_many_requests", "Too many requests."),
        _ => ("internal_error", "An unexpected error occurred."),
    };
    let mut resp = imds_error(status, error, text);
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert("retry-after", v);
    }
    Some(resp)
}

async fn ctl_requests(State(st): St) -> Response {
    Json(lock(&st.log).clone()).into_response()
}

async fn ctl_clear_requests(State(st): St) -> Response {
    lock(&st.log).clear();
    Json(json!({ "ok": true })).into_response()
}

/// `{"count":n,"status":503,"retry_after":"2"}` or `{"count":n,"kind":"not_managed_identity","status":403}`.
async fn ctl_fail(State(st): St, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| e.to_string())
        .and_then(|mut v| {
            let count = v
                .get("count")
                .map_or(Some(1), Value::as_u64)
                .ok_or("count must be a number")?;
            if let Some(o) = v.as_object_mut() {
                o.remove("count");
                o.entry("kind").or_insert_with(|| "status".into());
            }
            let fault: MiFault = serde_json::from_value(v).map_err(|e| format!("bad fault: {e}"))?;
            Ok((count, fault))
        });
    match parsed {
        Ok((count, fault)) => {
            let mut q = lock(&st.faults);
            q.extend(std::iter::repeat_n(fault, count as usize));
            Json(json!({ "pending": q.len() })).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

/// The identity a request selects with `keys` = (client id, object id, resource id) parameter
/// names; `Err(message)` when the selection is invalid or unknown.
fn select(st: &Shared, q: &[(String, String)], keys: [&[&str]; 3]) -> Result<MiIdentity, &'static str> {
    let ids = lock(&st.identities);
    let mut found: Vec<(usize, &str)> = Vec::new();
    for (i, names) in keys.iter().enumerate() {
        for n in *names {
            if let Some(v) = param(q, n) {
                found.push((i, v));
            }
        }
    }
    match found.as_slice() {
        [] => ids.iter().find(|i| i.system).cloned().ok_or("Identity not found"),
        [(kind, value)] => ids
            .iter()
            .find(|i| match kind {
                0 => i.client_id.eq_ignore_ascii_case(value),
                1 => i.object_id.eq_ignore_ascii_case(value),
                _ => i.resource_id.eq_ignore_ascii_case(value),
            })
            .cloned()
            .ok_or("Identity not found"),
        _ => Err("Multiple identity selectors were specified; specify only one."),
    }
}

struct Minted {
    token: String,
    now: u64,
    exp: u64,
    lifetime: u64,
}

fn mint(st: &Shared, resource: &str, id: &MiIdentity) -> Minted {
    let now = unix_now();
    let lifetime = *lock(&st.lifetime_s);
    let iat = now.saturating_sub(300);
    let claims = json!({
        "aud": resource,
        "iss": format!("https://sts.windows.net/{TENANT_ID}/"),
        "iat": iat,
        "nbf": iat,
        "exp": now + lifetime,
        "appid": id.client_id,
        "appidacr": "2",
        "idp": format!("https://sts.windows.net/{TENANT_ID}/"),
        "idtyp": "app",
        "oid": id.object_id,
        "sub": id.object_id,
        "tid": TENANT_ID,
        "xms_mirid": id.resource_id,
        "uti": uuid::Uuid::new_v4().to_string(),
        "ver": "1.0",
    });
    Minted {
        token: st.key.sign_jwt(&claims),
        now,
        exp: now + lifetime,
        lifetime,
    }
}

fn imds_style(m: &Minted, resource: &str, id: &MiIdentity) -> Response {
    Json(json!({
        "access_token": m.token,
        "client_id": id.client_id,
        "expires_in": m.lifetime.to_string(),
        "expires_on": m.exp.to_string(),
        "ext_expires_in": m.lifetime.to_string(),
        "not_before": m.now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}

fn metadata_ok(headers: &HeaderMap) -> bool {
    headers.get("metadata").and_then(|v| v.to_str().ok()) == Some("true")
}

async fn imds(State(st): St, method: Method, Query(q): Q, headers: HeaderMap) -> Response {
    let (st, q, headers) = (&*st, &q, &headers);
    if method != Method::GET {
        return imds_error(405, "method_not_allowed", "The request method is not supported.");
    }
    if !metadata_ok(headers) {
        return imds_error(400, "invalid_request", "Required metadata header not specified");
    }
    if param(q, "api-version").is_none() {
        return imds_error(
            400,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let Some(resource) = param(q, "resource").filter(|r| !r.is_empty()) else {
        return imds_error(
            400,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    match select(st, q, [&["client_id"], &["object_id"], &["msi_res_id"]]) {
        Ok(id) => imds_style(&mint(st, resource, &id), resource, &id),
        Err(m) => imds_error(400, "invalid_request", m),
    }
}

fn app_service_error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        code,
        Json(json!({ "statusCode": status, "message": message, "correlationId": uuid::Uuid::new_v4().to_string() })),
    )
        .into_response()
}

async fn app_service(State(st): St, Query(q): Q, headers: HeaderMap) -> Response {
    match headers.get("x-identity-header").and_then(|v| v.to_str().ok()) {
        None => {
            return app_service_error(
                400,
                "Required header 'X-IDENTITY-HEADER' was not found in the request.",
            )
        }
        Some(h) if h != st.identity_header => {
            return app_service_error(401, "The X-IDENTITY-HEADER value is not valid.")
        }
        Some(_) => {}
    }
    if param(&q, "api-version") != Some("2019-08-01") {
        return app_service_error(
            400,
            "The api-version is missing or not supported; use 2019-08-01.",
        );
    }
    let Some(resource) = param(&q, "resource").filter(|r| !r.is_empty()) else {
        return app_service_error(400, "The 'resource' parameter is required.");
    };
    match select(
        &st,
        &q,
        [&["client_id"], &["principal_id", "object_id"], &["mi_res_id"]],
    ) {
        Ok(id) => {
            let m = mint(&st, resource, &id);
            Json(json!({
                "access_token": m.token,
                "expires_on": m.exp.to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": id.client_id,
            }))
            .into_response()
        }
        Err(_) => app_service_error(400, "Unable to load the proper Managed Identity."),
    }
}

/// `M/d/yyyy h:mm:ss AM +00:00`, as App Service 2017 formats `expires_on`.
fn date_2017(t: u64) -> String {
    let ts = crate::entra::entra_timestamp(std::time::UNIX_EPOCH + Duration::from_secs(t));
    // "YYYY-MM-DD HH:MM:SSZ"
    let (y, mo, d) = (
        &ts[0..4],
        ts[5..7].trim_start_matches('0'),
        ts[8..10].trim_start_matches('0'),
    );
    let h: u32 = ts[11..13].parse().unwrap_or(0);
    let (h12, ampm) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!("{mo}/{d}/{y} {h12}:{} {ampm} +00:00", &ts[14..19])
}

async fn app_service_2017(State(st): St, Query(q): Q, headers: HeaderMap) -> Response {
    if headers.get("secret").and_then(|v| v.to_str().ok()) != Some(st.msi_secret.as_str()) {
        return app_service_error(401, "The 'secret' header is missing or not valid.");
    }
    if param(&q, "api-version") != Some("2017-09-01") {
        return app_service_error(
            400,
            "The api-version is missing or not supported; use 2017-09-01.",
        );
    }
    let Some(resource) = param(&q, "resource").filter(|r| !r.is_empty()) else {
        return app_service_error(400, "The 'resource' parameter is required.");
    };
    match select(&st, &q, [&["clientid"], &[], &[]]) {
        Ok(id) => {
            let m = mint(&st, resource, &id);
            Json(json!({
                "access_token": m.token,
                "expires_on": date_2017(m.exp),
                "resource": resource,
                "token_type": "Bearer",
            }))
            .into_response()
        }
        Err(_) => app_service_error(400, "Unable to load the proper Managed Identity."),
    }
}

async fn arc(State(st): St, Query(q): Q, headers: HeaderMap) -> Response {
    if !metadata_ok(&headers) {
        return imds_error(400, "invalid_request", "Required metadata header not specified");
    }
    if param(&q, "api-version").is_none() {
        return imds_error(
            400,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let Some(resource) = param(&q, "resource").filter(|r| !r.is_empty()) else {
        return imds_error(
            400,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        None => {
            let secret = uuid::Uuid::new_v4().simple().to_string();
            let dir = lock(&st.arc_dir).clone();
            let path = dir.join(format!("{}.key", uuid::Uuid::new_v4().simple()));
            if std::fs::write(&path, &secret).is_err() {
                return imds_error(500, "internal_error", "could not write the key file");
            }
            lock(&st.arc_keys).insert(secret);
            let mut r = imds_error(401, "unauthorized", "Authorization required.");
            if let Ok(v) = HeaderValue::from_str(&format!("Basic realm={}", path.display())) {
                r.headers_mut().insert("www-authenticate", v);
            }
            r
        }
        Some(auth) => {
            let ok = auth
                .strip_prefix("Basic ")
                .is_some_and(|k| lock(&st.arc_keys).remove(k.trim()));
            if !ok {
                return imds_error(401, "unauthorized", "The key is not valid.");
            }
            match select(&st, &q, [&[], &[], &[]]) {
                Ok(id) => imds_style(&mint(&st, resource, &id), resource, &id),
                Err(m) => imds_error(400, "invalid_request", m),
            }
        }
    }
}

async fn cloud_shell(State(st): St, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    if method != Method::POST {
        return imds_error(405, "method_not_allowed", "Use POST.");
    }
    if !metadata_ok(&headers) {
        return imds_error(400, "invalid_request", "Required metadata header not specified");
    }
    let Some(resource) = param(&form, "resource").filter(|r| !r.is_empty()) else {
        return imds_error(
            400,
            "invalid_request",
            "Required form field 'resource' is missing",
        );
    };
    let id = MiIdentity::system_assigned(MI_HOST);
    let m = mint(&st, resource, &id);
    Json(json!({
        "access_token": m.token,
        "expires_in": m.lifetime.to_string(),
        "expires_on": m.exp.to_string(),
        "not_before": m.now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}

fn service_fabric_error(status: u16, code: &str, message: &str) -> Response {
    let s = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (s, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

async fn service_fabric(State(st): St, Query(q): Q, headers: HeaderMap) -> Response {
    match headers.get("secret").and_then(|v| v.to_str().ok()) {
        None => {
            return service_fabric_error(
                401,
                "SecretHeaderNotFound",
                "Secret is not found in the request headers.",
            )
        }
        Some(s) if s != st.identity_header => {
            return service_fabric_error(401, "ManagedIdentityNotFound", "The secret is not valid.")
        }
        Some(_) => {}
    }
    if param(&q, "api-version") != Some("2019-07-01-preview") {
        return service_fabric_error(400, "InvalidApiVersion", "Use api-version 2019-07-01-preview.");
    }
    let Some(resource) = param(&q, "resource").filter(|r| !r.is_empty()) else {
        return service_fabric_error(
            400,
            "ArgumentNullOrEmpty",
            "Value cannot be null or empty: resource.",
        );
    };
    let id = MiIdentity::system_assigned(MI_HOST);
    let m = mint(&st, resource, &id);
    Json(json!({
        "token_type": "Bearer",
        "access_token": m.token,
        "expires_on": m.exp,
        "resource": resource,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_2017_format() {
        // 2026-11-29 10:48:18 UTC
        assert_eq!(super::date_2017(1_795_949_298), "11/29/2026 10:48:18 AM +00:00");
        assert_eq!(
            super::date_2017(1_795_949_298 + 43_200),
            "11/29/2026 10:48:18 PM +00:00"
        );
    }
}
