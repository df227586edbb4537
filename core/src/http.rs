//! The one HTTP path: every credential kind sends its token request through
//! [`request_token`]. One reqwest client per trust configuration (system roots plus an optional
//! `ca_file`), rustls with the *ring* provider, no redirects, proxies from the standard
//! environment variables, a cap on the size of what is read.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, RETRY_AFTER};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::Deserialize;

use crate::error::{aadsts_hint, Error, ErrorKind, Result};
use crate::secret::SecretString;
use crate::token::{parse_success, unix_now, Token};

/// Largest response body read; a token response is a few kilobytes.
pub(crate) const MAX_BODY: usize = 1 << 20;
/// Idle pooled connections are dropped after this, below common server idle timeouts.
const POOL_IDLE: Duration = Duration::from_secs(50);
pub const SKU: &str = "aadtoken";

/// Trust anchors beyond the system's: the parsed certificates of `ca_file`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExtraRoots {
    certs: Vec<CertificateDer<'static>>,
}

impl ExtraRoots {
    /// Read a PEM file of CA certificates (the value of setting `key`).
    pub fn from_pem_file(key: &str, path: &std::path::Path) -> Result<Self> {
        let pem = std::fs::read(path).map_err(|e| {
            Error::invalid_setting(
                key,
                format!("names '{}', which cannot be read: {e}", path.display()),
            )
        })?;
        let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| {
                Error::invalid_setting(
                    key,
                    format!("names '{}', which is not valid PEM: {e}", path.display()),
                )
            })?;
        if certs.is_empty() {
            return Err(Error::invalid_setting(
                key,
                format!(
                    "names '{}', which holds no 'BEGIN CERTIFICATE' block",
                    path.display()
                ),
            ));
        }
        Ok(ExtraRoots { certs })
    }
}

/// The system's trust anchors, loaded once per process (reading them takes milliseconds).
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
        store
    })
}

/// Build the reqwest client for one trust configuration. `direct`: never use a proxy (the
/// managed-identity endpoints are local to the host and must not go through one).
pub fn build_client(extra: Option<&ExtraRoots>, direct: bool) -> Result<reqwest::Client> {
    let mut roots = system_roots().clone();
    if let Some(extra) = extra {
        for cert in &extra.certs {
            roots.add(cert.clone()).map_err(|e| {
                Error::invalid_setting("ca_file", format!("holds a certificate rustls cannot use: {e}"))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_with_tls(tls, direct)
}

/// A client for Service Fabric's managed-identity endpoint: HTTPS whose server certificate is
/// trusted only when its thumbprint (hex SHA-1, or SHA-256) equals `thumbprint`
/// (`IDENTITY_SERVER_THUMBPRINT`); no CA, no host name check, no proxy.
pub fn build_pinned_client(thumbprint: &str) -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        thumbprint: thumbprint.trim().to_ascii_lowercase().replace(':', ""),
        provider: Arc::clone(&provider),
    });
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    client_with_tls(tls, true)
}

#[derive(Debug)]
struct Pinned {
    thumbprint: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let hex = |d: ring::digest::Digest| d.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>();
        let sha1 = hex(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            end_entity,
        ));
        let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, end_entity));
        if self.thumbprint == sha1 || self.thumbprint == sha256 {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn client_with_tls(tls: rustls::ClientConfig, direct: bool) -> Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert("x-client-SKU", HeaderValue::from_static(SKU));
    headers.insert("x-client-Ver", HeaderValue::from_static(crate::VERSION));
    headers.insert("x-client-OS", HeaderValue::from_static(std::env::consts::OS));
    headers.insert(
        "x-ms-lib-capability",
        HeaderValue::from_static("retry-after, h429"),
    );
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .default_headers(headers)
        .user_agent(concat!("aadtoken/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(POOL_IDLE);
    if direct {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| Error::internal(format!("HTTP client setup failed: {e}")))
}

/// GET a JSON document (OIDC discovery) with the same transport and error handling as token
/// requests; the body of a 200 answer.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let req = TokenRequest {
        method: Method::Get,
        endpoint: url,
        query: Vec::new(),
        headers: Vec::new(),
        form: Vec::new(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        who: "the identity provider",
        retry: RetryPolicy::None,
        challenge: None,
    };
    let raw = send_once(client, &req, None).await?;
    if raw.status == 200 {
        return Ok(raw.body);
    }
    Err(error_from(
        req.who,
        raw.status,
        &raw.body,
        raw.retry_after,
        &req.correlation_id,
    )
    .context(format!("discovery request to {url}")))
}

/// Run `step` within `limit`; past it, a `Timeout` error with the message `late` makes. Every
/// bound on a network step goes through here (a whole `get_token`, a sign-in's step, a probe).
pub async fn bounded<T>(
    limit: Duration,
    step: impl std::future::Future<Output = Result<T>>,
    late: impl FnOnce() -> String,
) -> Result<T> {
    match tokio::time::timeout(limit, step).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(ErrorKind::Timeout, late())),
    }
}

/// How a token request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Which retry policy applies (see [`request_token_with_retry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryPolicy {
    /// Entra ID / OIDC token endpoints: one retry of a 5xx without `Retry-After`.
    Entra,
    /// The managed-identity endpoints (IMDS and the others): 404, 408, 429 and 5xx retried
    /// with exponential backoff (1, 2, 4 s); 410 ("IMDS is updating, back within 70 s") up to
    /// six times (1 … 32 s, about 63 s in all). The caller's deadline bounds it all.
    ManagedIdentity,
    /// No retry at all (probes).
    None,
}

/// Answers a `401` with `WWW-Authenticate` (Azure Arc's challenge): given the header's value,
/// the `Authorization` value to send the request again with.
pub type Challenge<'a> = &'a (dyn Fn(&str) -> Result<SecretString> + Send + Sync);

/// A token request, as the credential describes it: method, URL, query, headers and form. The
/// correlation id is sent as `client-request-id`. Every credential kind sends through
/// [`request_token_with_retry`], so they share transport, retry and response parsing.
pub struct TokenRequest<'a> {
    pub method: Method,
    pub endpoint: &'a str,
    pub query: Vec<(&'static str, String)>,
    /// Extra headers; values may be secrets (they are marked sensitive).
    pub headers: Vec<(&'static str, SecretString)>,
    pub form: Vec<(&'static str, &'a str)>,
    pub correlation_id: String,
    /// Who answers, for messages: "Entra ID", "the managed identity endpoint (IMDS)"…
    pub who: &'static str,
    pub retry: RetryPolicy,
    pub challenge: Option<Challenge<'a>>,
}

impl<'a> TokenRequest<'a> {
    /// A form POST to an Entra ID (or OIDC) token endpoint.
    pub fn post(endpoint: &'a str, form: Vec<(&'static str, &'a str)>) -> Self {
        TokenRequest {
            method: Method::Post,
            endpoint,
            query: Vec::new(),
            headers: Vec::new(),
            form,
            correlation_id: uuid::Uuid::new_v4().to_string(),
            who: "Entra ID",
            retry: RetryPolicy::Entra,
            challenge: None,
        }
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1), for `client_secret_basic`.
pub fn basic_authorization(id: &str, secret: &str) -> SecretString {
    use base64::Engine as _;
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let pair = zeroize::Zeroizing::new(format!("{}:{}", enc(id), enc(secret)));
    SecretString::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
    ))
}

/// What came back, before interpretation.
struct RawResponse {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<Duration>,
    www_authenticate: Option<String>,
}

/// Wait before the one retry of a server error that came without `Retry-After`.
pub const SERVER_ERROR_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Send a token request with its retry policy. [`RetryPolicy::Entra`]: a 5xx without
/// `Retry-After` is retried once after [`SERVER_ERROR_RETRY_DELAY`]; throttling (429, or 5xx
/// with `Retry-After`) and 4xx answers are not retried (the cache remembers a `Retry-After`).
/// [`RetryPolicy::ManagedIdentity`]: see there. The caller's deadline bounds the whole, retries
/// included.
pub async fn request_token_with_retry(client: &reqwest::Client, req: &TokenRequest<'_>) -> Result<Token> {
    match req.retry {
        RetryPolicy::None => request_token(client, req).await,
        RetryPolicy::Entra => match request_token(client, req).await {
            Err(e) if e.kind() == ErrorKind::ServerError && e.retry_after().is_none() => {
                crate::log_warn!(cid = Some(&req.correlation_id);
                    "{} answered a server error ({}); retrying once in {} s",
                    req.who, crate::log::error_summary(&e), SERVER_ERROR_RETRY_DELAY.as_secs());
                tokio::time::sleep(SERVER_ERROR_RETRY_DELAY).await;
                request_token(client, req).await
            }
            other => other,
        },
        RetryPolicy::ManagedIdentity => {
            let mut attempt = 0u32;
            loop {
                let result = request_token(client, req).await;
                let status = match &result {
                    Err(e) => e.http_status().unwrap_or(0),
                    Ok(_) => return result,
                };
                let max = match status {
                    410 => 6,
                    404 | 408 | 429 | 500..=599 => 3,
                    _ => return result,
                };
                if attempt >= max {
                    return result;
                }
                let backoff = Duration::from_secs(1 << attempt);
                let wait = result
                    .as_ref()
                    .err()
                    .and_then(Error::retry_after)
                    .map_or(backoff, |after| after.min(Duration::from_secs(60)));
                crate::log_warn!(cid = Some(&req.correlation_id);
                    "{} answered HTTP {status}; retry {} of {max} in {} s",
                    req.who, attempt + 1, wait.as_secs_f64());
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

/// Send a token request once and turn the answer into a token or an [`Error`].
///
/// A request that fails before any response arrives because a pooled connection had been
/// closed by the server while idle is sent once more on a fresh connection. A `401` challenge
/// is answered once when the request has a [`Challenge`] (Azure Arc).
pub async fn request_token(client: &reqwest::Client, req: &TokenRequest<'_>) -> Result<Token> {
    let (body, sent_at) = request_body(client, req).await?;
    parse_success(&body, sent_at).map_err(|e| {
        e.context(format!("token request to {}", req.endpoint))
            .with_http_status(200)
            .with_correlation_id(&req.correlation_id)
    })
}

/// [`request_body`] with the Entra retry policy of [`request_token_with_retry`] (one retry of a
/// 5xx without `Retry-After`): for answers that carry more than a token (person sign-in: refresh
/// and id tokens, device codes).
pub async fn request_body_with_retry(
    client: &reqwest::Client,
    req: &TokenRequest<'_>,
) -> Result<(Vec<u8>, i64)> {
    match request_body(client, req).await {
        Err(e) if e.kind() == ErrorKind::ServerError && e.retry_after().is_none() => {
            crate::log_warn!(cid = Some(&req.correlation_id);
                "{} answered a server error ({}); retrying once in {} s",
                req.who, crate::log::error_summary(&e), SERVER_ERROR_RETRY_DELAY.as_secs());
            tokio::time::sleep(SERVER_ERROR_RETRY_DELAY).await;
            request_body(client, req).await
        }
        other => other,
    }
}

/// Send a request once (as [`request_token`] does: stale-connection retry, Arc challenge) and
/// return the body of a `200` answer with the time the request was sent; any other answer
/// becomes an [`Error`].
pub async fn request_body(client: &reqwest::Client, req: &TokenRequest<'_>) -> Result<(Vec<u8>, i64)> {
    let sent_at = unix_now();
    let mut raw = send_once(client, req, None).await?;
    if let (401, Some(challenge), Some(header)) = (raw.status, req.challenge, raw.www_authenticate.as_deref())
    {
        crate::log_debug!(cid = Some(&req.correlation_id);
            "{} answered 401 with a challenge; answering it with the local key file", req.who);
        let authorization = challenge(header).map_err(|e| e.with_correlation_id(&req.correlation_id))?;
        raw = send_once(client, req, Some(&authorization)).await?;
    }
    if raw.status == 200 {
        return Ok((raw.body, sent_at));
    }
    let err = error_from(
        req.who,
        raw.status,
        &raw.body,
        raw.retry_after,
        &req.correlation_id,
    )
    .context(format!("token request to {}", req.endpoint));
    if err.kind() == ErrorKind::Throttled {
        crate::log_warn!(cid = Some(&req.correlation_id);
            "{} is throttling: {}", req.who, crate::log::error_summary(&err));
    } else {
        crate::log_info!(cid = Some(&req.correlation_id);
            "{} answered with an error: {}", req.who, crate::log::error_summary(&err));
    }
    Err(err)
}

async fn send_once(
    client: &reqwest::Client,
    req: &TokenRequest<'_>,
    authorization: Option<&SecretString>,
) -> Result<RawResponse> {
    let started = std::time::Instant::now();
    crate::log_debug!(cid = Some(&req.correlation_id);
        "{} {} ({}): request sent", if req.method == Method::Post { "POST" } else { "GET" }, req.endpoint, req.who);
    let result = match send(client, req, authorization).await {
        Err(e) if is_stale_connection(&e) => {
            crate::log_debug!(cid = Some(&req.correlation_id);
                "the pooled connection to {} was closed by the server; sending once more on a new one", req.endpoint);
            send(client, req, authorization).await
        }
        other => other,
    }
    .map_err(|e| transport_error(&e, req.endpoint).with_correlation_id(&req.correlation_id));
    match &result {
        Ok(raw) => crate::log_debug!(cid = Some(&req.correlation_id);
            "{} answered HTTP {} ({} bytes) in {} ms", req.endpoint, raw.status, raw.body.len(), started.elapsed().as_millis()),
        Err(e) => crate::log_warn!(cid = Some(&req.correlation_id);
            "no answer from {} after {} ms: {}", req.endpoint, started.elapsed().as_millis(), crate::log::error_summary(e)),
    }
    result
}

async fn send(
    client: &reqwest::Client,
    req: &TokenRequest<'_>,
    authorization: Option<&SecretString>,
) -> std::result::Result<RawResponse, reqwest::Error> {
    // Endpoints are validated when settings are read; an unparsable one is left to reqwest to
    // report.
    let mut url = reqwest::Url::parse(req.endpoint).ok();
    let mut builder = match (&mut url, req.method) {
        (Some(url), method) => {
            if !req.query.is_empty() {
                url.query_pairs_mut()
                    .extend_pairs(req.query.iter().map(|(k, v)| (*k, v.as_str())));
            }
            match method {
                Method::Get => client.get(url.clone()),
                Method::Post => client.post(url.clone()),
            }
        }
        (None, Method::Get) => client.get(req.endpoint),
        (None, Method::Post) => client.post(req.endpoint),
    };
    builder = builder
        .header("client-request-id", &req.correlation_id)
        .header("return-client-request-id", "true");
    for (name, value) in &req.headers {
        if let Ok(mut v) = HeaderValue::from_str(value.expose()) {
            v.set_sensitive(true);
            builder = builder.header(*name, v);
        }
    }
    if let Some(auth) = authorization {
        if let Ok(mut v) = HeaderValue::from_str(auth.expose()) {
            v.set_sensitive(true);
            builder = builder.header(reqwest::header::AUTHORIZATION, v);
        }
    }
    if req.method == Method::Post {
        builder = builder.form(&req.form);
    }
    let mut response = builder.send().await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let www_authenticate = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            // Treat as an unusable answer; keep what fits so the caller reports a bad response.
            body.extend_from_slice(&chunk[..MAX_BODY - body.len()]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(RawResponse {
        status,
        body,
        retry_after,
        www_authenticate,
    })
}

/// A send that failed without any response because the connection was already dead
/// (closed by the peer while it sat in the pool): hyper reports "connection closed before
/// message completed" or an I/O reset/EOF. Timeouts and connect failures are not retried.
fn is_stale_connection(e: &reqwest::Error) -> bool {
    if e.is_timeout() || e.is_connect() {
        return false;
    }
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            ) {
                return true;
            }
        }
        if s.to_string()
            .contains("connection closed before message completed")
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Classify a failure that produced no HTTP response.
fn transport_error(e: &reqwest::Error, endpoint: &str) -> Error {
    let chain = error_chain(e);
    if e.is_timeout() {
        return Error::new(
            ErrorKind::Timeout,
            format!("token request to {endpoint} timed out"),
        );
    }
    if let Some(tls) = find_source::<rustls::Error>(e) {
        let hint = match tls {
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                "; the server's certificate is not signed by a trusted CA (behind a TLS-inspecting proxy, set 'ca_file' to its CA)"
            }
            rustls::Error::InvalidCertificate(_) => "; check the server's certificate and 'authority_host'",
            _ => "",
        };
        return Error::new(
            ErrorKind::Tls,
            format!("TLS handshake with {endpoint} failed: {tls}{hint}"),
        );
    }
    Error::new(ErrorKind::Network, format!("could not reach {endpoint}: {chain}"))
}

fn find_source<T: StdError + 'static>(e: &reqwest::Error) -> Option<&T> {
    let mut next: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = next {
        if let Some(found) = s.downcast_ref::<T>() {
            return Some(found);
        }
        // io::Error::source() skips the error it wraps, so descend into it explicitly.
        next = match s.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => s.source(),
        };
    }
    None
}

/// "a: b: c" from an error and its sources, without repeating the URL reqwest puts in front.
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = source {
        if !out.is_empty() {
            out.push_str(": ");
        }
        let _ = write!(out, "{s}");
        source = s.source();
    }
    if out.is_empty() {
        out = e.to_string();
    }
    out
}

/// The OAuth / Entra error body (entra-protocol.md §4), and the managed-identity endpoints'
/// shapes (§8): App Service `{statusCode, message}`, Service Fabric `{"error":{code, message}}`.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default, deserialize_with = "error_field")]
    error: Option<String>,
    error_description: Option<String>,
    message: Option<String>,
    #[serde(default)]
    error_codes: Vec<u32>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

/// `error` is a string (OAuth) or an object `{code, message}` (Service Fabric); the object's
/// message becomes the description.
fn error_field<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Object(o) => {
            o.get("code")
                .and_then(|c| c.as_str())
                .map(|c| match o.get("message").and_then(|m| m.as_str()) {
                    Some(m) => format!("{c}\u{0}{m}"),
                    None => c.to_owned(),
                })
        }
        _ => None,
    })
}

/// Turn a non-200 answer from Entra ID into an [`Error`] (see [`error_from`]).
pub fn error_from_response(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    sent_correlation_id: &str,
) -> Error {
    error_from("Entra ID", status, body, retry_after, sent_correlation_id)
}

/// Turn a non-200 answer into an [`Error`]: JSON bodies for any status are read, the status
/// class decides when there is none. `who` names the server in the message.
pub fn error_from(
    who: &str,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    sent_correlation_id: &str,
) -> Error {
    let mut parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    if let Some(b) = parsed.as_mut() {
        // Service Fabric: "code\0message"; App Service: only `message`.
        if let Some((code, message)) = b.error.clone().as_deref().and_then(|e| e.split_once('\0')) {
            b.error = Some(code.to_owned());
            b.error_description.get_or_insert_with(|| message.to_owned());
        }
        if b.error.is_none() {
            if let Some(m) = b.message.clone() {
                b.error = Some(
                    if status >= 500 {
                        "server_error"
                    } else {
                        "invalid_request"
                    }
                    .to_owned(),
                );
                b.error_description.get_or_insert(m);
            }
        }
    }
    let mut err = match parsed
        .as_ref()
        .and_then(|b| b.error.as_deref().map(|code| (b, code)))
    {
        Some((b, code)) => {
            let codes = if b.error_codes.is_empty() {
                aadsts_from_description(b.error_description.as_deref())
            } else {
                b.error_codes.clone()
            };
            let kind = match (status, code) {
                (429, _) => ErrorKind::Throttled,
                (_, "invalid_client") => ErrorKind::InvalidClient,
                (_, "unauthorized_client") => ErrorKind::UnauthorizedClient,
                (_, "invalid_scope") => ErrorKind::InvalidScope,
                (_, "invalid_resource") => ErrorKind::InvalidResource,
                (_, "invalid_grant") => ErrorKind::InvalidGrant,
                (_, "interaction_required") => ErrorKind::InteractionRequired,
                (_, "temporarily_unavailable") => ErrorKind::ServerError,
                _ if codes.first() == Some(&90002) => ErrorKind::TenantNotFound,
                _ if status >= 500 => ErrorKind::ServerError,
                _ => ErrorKind::IdentityProvider,
            };
            let summary = b
                .error_description
                .as_deref()
                .and_then(|d| d.lines().next())
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .unwrap_or(code);
            // The server's text goes into messages and logs: no control characters (a NUL
            // would cut the C string, escapes could forge log lines).
            let (code_shown, summary) = (printable(code), printable(summary));
            let mut message = format!("{who} answered HTTP {status} {code_shown}: {summary}");
            if let Some(hint) = codes.first().and_then(|c| aadsts_hint(*c)) {
                let _ = write!(message, " (hint: {hint})");
            }
            let mut err = Error::new(kind, message)
                .with_oauth_error(code)
                .with_aadsts(codes);
            if let Some(t) = &b.trace_id {
                err = err.with_trace_id(t);
            }
            err
        }
        None => {
            let kind = match status {
                429 => ErrorKind::Throttled,
                500..=599 => ErrorKind::ServerError,
                _ => ErrorKind::BadResponse,
            };
            let what = if body.is_empty() {
                "an empty body"
            } else {
                "a body that is not an OAuth error"
            };
            Error::new(
                kind,
                if who == "Entra ID" {
                    format!("the identity provider answered HTTP {status} with {what} (a proxy, or 'authority_host' is not an Entra ID host?)")
                } else {
                    format!("{who} answered HTTP {status} with {what}")
                },
            )
        }
    };
    if status == 429 || (status >= 500 && retry_after.is_some()) {
        err = Error::new(ErrorKind::Throttled, err.message().to_owned()).with_aadsts(err.aadsts().to_vec());
        if let Some(code) = parsed.as_ref().and_then(|b| b.error.clone()) {
            err = err.with_oauth_error(code);
        }
    }
    let correlation = parsed
        .as_ref()
        .and_then(|b| b.correlation_id.clone())
        .unwrap_or_else(|| sent_correlation_id.to_owned());
    err = err.with_http_status(status).with_correlation_id(correlation);
    if let Some(after) = retry_after {
        err = err.with_retry_after(after);
    }
    err
}

/// `text` with each control character (NUL, escapes, line breaks) replaced by a space.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// Pull "AADSTS1234" numbers out of a description when `error_codes` is absent.
fn aadsts_from_description(description: Option<&str>) -> Vec<u32> {
    let Some(d) = description else { return Vec::new() };
    d.match_indices("AADSTS")
        .filter_map(|(i, _)| {
            let digits: String = d[i + 6..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .take(1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRONG_SECRET: &[u8] = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'x'.\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: 2026-11-29 10:00:00Z","error_codes":[7000215],"timestamp":"2026-11-29 10:00:00Z","trace_id":"t-1","correlation_id":"c-1","error_uri":"https://login.microsoftonline.com/error?code=7000215"}"#;

    #[test]
    fn entra_errors_carry_code_aadsts_ids_and_a_hint() {
        let e = error_from_response(401, WRONG_SECRET, None, "sent");
        assert_eq!(e.kind(), ErrorKind::InvalidClient);
        assert_eq!(e.oauth_error(), Some("invalid_client"));
        assert_eq!(e.aadsts(), &[7000215]);
        assert_eq!(e.correlation_id(), Some("c-1"));
        assert_eq!(e.trace_id(), Some("t-1"));
        assert_eq!(e.http_status(), Some(401));
        assert!(e
            .message()
            .contains("AADSTS7000215: Invalid client secret provided."));
        assert!(e.message().contains("secret's ID instead of its value"));
        assert!(
            !e.message().contains("Trace ID"),
            "only the first line of the description"
        );
    }

    #[test]
    fn status_classes_without_json() {
        let e = error_from_response(502, b"<html>Bad gateway</html>", None, "c");
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert_eq!(e.correlation_id(), Some("c"));
        let e = error_from_response(429, b"", Some(Duration::from_secs(7)), "c");
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        let e = error_from_response(404, b"not found", None, "c");
        assert_eq!(e.kind(), ErrorKind::BadResponse);
    }

    #[test]
    fn managed_identity_error_shapes() {
        let who = "the managed identity endpoint (App Service)";
        let e = error_from(who, 500, br#"{"statusCode":500,"message":"An unexpected error occured while fetching the AAD Token.","correlationId":"x"}"#, None, "c");
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert!(e.message().starts_with(who), "{}", e.message());
        assert!(e.message().contains("unexpected error"), "{}", e.message());
        let e = error_from("sf", 401, br#"{"error":{"code":"SecretHeaderNotFound","message":"Secret is not found in the request headers."}}"#, None, "c");
        assert_eq!(e.oauth_error(), Some("SecretHeaderNotFound"));
        assert!(e.message().contains("Secret is not found"), "{}", e.message());
        let e = error_from(
            "imds",
            400,
            br#"{"error":"invalid_request","error_description":"Required metadata header not specified"}"#,
            None,
            "c",
        );
        assert_eq!(e.kind(), ErrorKind::IdentityProvider);
        assert!(
            e.message().contains("Required metadata header"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn basic_authorization_encodes_then_base64s() {
        // RFC 6749 §2.3.1: form-url-encode each part first.
        assert_eq!(
            basic_authorization("a b", "s:/").expose(),
            "Basic YStiOnMlM0ElMkY="
        );
    }

    #[test]
    fn tenant_not_found_and_codes_from_description() {
        let e = error_from_response(
            400,
            br#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}"#,
            None,
            "c",
        );
        assert_eq!(e.kind(), ErrorKind::TenantNotFound);
        assert_eq!(e.aadsts(), &[90002]);
        assert!(e.message().contains("hint: the tenant was not found"));
    }
}
