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

use crate::core::error::{aadsts_hint, Error, ErrorKind, Result};
use crate::core::token::{parse_success, unix_now, Token};

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

/// Build the reqwest client for one trust configuration.
pub fn build_client(extra: Option<&ExtraRoots>) -> Result<reqwest::Client> {
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
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert("x-client-SKU", HeaderValue::from_static(SKU));
    headers.insert("x-client-Ver", HeaderValue::from_static(crate::VERSION));
    headers.insert("x-client-OS", HeaderValue::from_static(std::env::consts::OS));
    headers.insert(
        "x-ms-lib-capability",
        HeaderValue::from_static("retry-after, h429"),
    );
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .default_headers(headers)
        .user_agent(concat!("aadtoken/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(POOL_IDLE)
        .build()
        .map_err(|e| Error::internal(format!("HTTP client setup failed: {e}")))
}

/// A token request: the endpoint and the form, with the correlation id sent as `client-request-id`.
pub struct TokenRequest<'a> {
    pub endpoint: &'a str,
    pub form: Vec<(&'static str, &'a str)>,
    pub correlation_id: String,
}

/// What came back, before interpretation.
struct RawResponse {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<Duration>,
}

/// Wait before the one retry of a server error that came without `Retry-After`.
pub const SERVER_ERROR_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Send a token request with the retry policy: a 5xx without `Retry-After` is retried once
/// after [`SERVER_ERROR_RETRY_DELAY`]; throttling (429, or 5xx with `Retry-After`) and 4xx
/// answers are not retried (the cache remembers a `Retry-After`). The caller's deadline bounds
/// the whole, retries included.
pub async fn request_token_with_retry(client: &reqwest::Client, req: &TokenRequest<'_>) -> Result<Token> {
    match request_token(client, req).await {
        Err(e) if e.kind() == ErrorKind::ServerError && e.retry_after().is_none() => {
            tokio::time::sleep(SERVER_ERROR_RETRY_DELAY).await;
            request_token(client, req).await
        }
        other => other,
    }
}

/// Send a token request once and turn the answer into a token or an [`Error`].
///
/// A request that fails before any response arrives because a pooled connection had been
/// closed by the server while idle is sent once more on a fresh connection.
pub async fn request_token(client: &reqwest::Client, req: &TokenRequest<'_>) -> Result<Token> {
    let sent_at = unix_now();
    let raw = match send(client, req).await {
        Err(e) if is_stale_connection(&e) => send(client, req).await,
        other => other,
    }
    .map_err(|e| transport_error(&e, req.endpoint).with_correlation_id(&req.correlation_id))?;
    if raw.status == 200 {
        return parse_success(&raw.body, sent_at).map_err(|e| {
            e.context(format!("token request to {}", req.endpoint))
                .with_http_status(200)
                .with_correlation_id(&req.correlation_id)
        });
    }
    Err(
        error_from_response(raw.status, &raw.body, raw.retry_after, &req.correlation_id)
            .context(format!("token request to {}", req.endpoint)),
    )
}

async fn send(
    client: &reqwest::Client,
    req: &TokenRequest<'_>,
) -> std::result::Result<RawResponse, reqwest::Error> {
    let mut response = client
        .post(req.endpoint)
        .header("client-request-id", &req.correlation_id)
        .header("return-client-request-id", "true")
        .form(&req.form)
        .send()
        .await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
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

/// The OAuth / Entra error body (entra-protocol.md §4).
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u32>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

/// Turn a non-200 answer into an [`Error`]: JSON bodies for any status are read, the status
/// class decides when there is none.
pub fn error_from_response(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    sent_correlation_id: &str,
) -> Error {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
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
            let mut message = format!("Entra ID answered HTTP {status} {code}: {summary}");
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
                format!("the identity provider answered HTTP {status} with {what} (a proxy, or 'authority_host' is not an Entra ID host?)"),
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
