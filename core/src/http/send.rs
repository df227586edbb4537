//! Sending and retry: the one request path every grant uses. A [`TokenRequest`] is sent by
//! [`request_body`] (a stale pooled connection is replaced once, Azure Arc's `401` challenge
//! answered once), retried by [`request_body_with_retry`] under its [`RetryPolicy`], and a
//! token answer parsed by [`request_token_with_retry`]; [`bounded`] puts a deadline on any of it.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::time::Duration;

use reqwest::header::{HeaderValue, RETRY_AFTER};

use crate::error::{Error, ErrorKind, Result};
use crate::secret::SecretString;
use crate::token::{parse_success, unix_now, Token};

use super::error_body::error_from;

/// Largest response body read; a token response is a few kilobytes.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// GET a JSON document (OIDC discovery) through the same path as token requests (no retry);
/// the body of a 200 answer.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let mut req = TokenRequest::get(url, "the identity provider");
    req.what = "discovery request";
    req.retry = RetryPolicy::None;
    request_body(client, &req).await.map(|(body, _)| body)
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
    /// What the request is, for messages: "token request", "discovery request".
    pub what: &'static str,
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
            what: "token request",
            retry: RetryPolicy::Entra,
            challenge: None,
        }
    }

    /// A GET of `endpoint`, answered by `who` (a managed-identity endpoint, a discovery
    /// document), with the managed-identity retry policy unless changed.
    pub fn get(endpoint: &'a str, who: &'static str) -> Self {
        TokenRequest {
            method: Method::Get,
            who,
            retry: RetryPolicy::ManagedIdentity,
            ..TokenRequest::post(endpoint, Vec::new())
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

impl RetryPolicy {
    /// Whether a request that failed with `e` after `attempt` retries is sent again: how long
    /// to wait first, and the log line that says so.
    fn next(self, e: &Error, attempt: u32, who: &str) -> Option<(Duration, String)> {
        match self {
            RetryPolicy::None => None,
            RetryPolicy::Entra => {
                (attempt == 0 && e.kind() == ErrorKind::ServerError && e.retry_after().is_none()).then(|| {
                    let wait = SERVER_ERROR_RETRY_DELAY;
                    let note = format!(
                        "{who} answered a server error ({}); retrying once in {} s",
                        crate::log::error_summary(e),
                        wait.as_secs()
                    );
                    (wait, note)
                })
            }
            RetryPolicy::ManagedIdentity => {
                let status = e.http_status().unwrap_or(0);
                let max = match status {
                    410 => 6,
                    404 | 408 | 429 | 500..=599 => 3,
                    _ => return None,
                };
                if attempt >= max {
                    return None;
                }
                let backoff = Duration::from_secs(1 << attempt);
                let wait = e
                    .retry_after()
                    .map_or(backoff, |after| after.min(Duration::from_secs(60)));
                let note = format!(
                    "{who} answered HTTP {status}; retry {} of {max} in {} s",
                    attempt + 1,
                    wait.as_secs_f64()
                );
                Some((wait, note))
            }
        }
    }
}

/// Send a token request with its retry policy and parse the token. [`RetryPolicy::Entra`]: a
/// 5xx without `Retry-After` is retried once after [`SERVER_ERROR_RETRY_DELAY`]; throttling
/// (429, or 5xx with `Retry-After`) and 4xx answers are not retried (the cache remembers a
/// `Retry-After`). [`RetryPolicy::ManagedIdentity`]: see there. The caller's deadline bounds
/// the whole, retries included.
pub async fn request_token_with_retry(client: &reqwest::Client, req: &TokenRequest<'_>) -> Result<Token> {
    let (body, sent_at) = request_body_with_retry(client, req).await?;
    parse_token(req, &body, sent_at)
}

/// Send a token request once and turn the answer into a token or an [`Error`].
///
/// A request that fails before any response arrives because a pooled connection had been
/// closed by the server while idle is sent once more on a fresh connection. A `401` challenge
/// is answered once when the request has a [`Challenge`] (Azure Arc).
pub async fn request_token(client: &reqwest::Client, req: &TokenRequest<'_>) -> Result<Token> {
    let (body, sent_at) = request_body(client, req).await?;
    parse_token(req, &body, sent_at)
}

/// The token of a `200` answer to `req`.
fn parse_token(req: &TokenRequest<'_>, body: &[u8], sent_at: i64) -> Result<Token> {
    parse_success(body, sent_at).map_err(|e| {
        e.context(format!("token request to {}", req.endpoint))
            .with_http_status(200)
            .with_correlation_id(&req.correlation_id)
    })
}

/// [`request_body`] with the request's retry policy (the one retry loop): for answers that
/// carry more than a token (person sign-in: refresh and id tokens, device codes), and under
/// [`request_token_with_retry`].
pub async fn request_body_with_retry(
    client: &reqwest::Client,
    req: &TokenRequest<'_>,
) -> Result<(Vec<u8>, i64)> {
    let mut attempt = 0u32;
    loop {
        let result = request_body(client, req).await;
        let Err(e) = &result else { return result };
        let Some((wait, note)) = req.retry.next(e, attempt, req.who) else {
            return result;
        };
        log_warn!(cid = Some(&req.correlation_id); "{note}");
        tokio::time::sleep(wait).await;
        attempt += 1;
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
        log_debug!(cid = Some(&req.correlation_id);
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
    .context(format!("{} to {}", req.what, req.endpoint));
    if err.kind() == ErrorKind::Throttled {
        log_warn!(cid = Some(&req.correlation_id);
            "{} is throttling: {}", req.who, crate::log::error_summary(&err));
    } else {
        log_info!(cid = Some(&req.correlation_id);
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
    log_debug!(cid = Some(&req.correlation_id);
        "{} {} ({}): request sent", if req.method == Method::Post { "POST" } else { "GET" }, req.endpoint, req.who);
    let result = match send(client, req, authorization).await {
        Err(e) if is_stale_connection(&e) => {
            log_debug!(cid = Some(&req.correlation_id);
                "the pooled connection to {} was closed by the server; sending once more on a new one", req.endpoint);
            send(client, req, authorization).await
        }
        other => other,
    }
    .map_err(|e| transport_error(&e, req.endpoint).with_correlation_id(&req.correlation_id));
    match &result {
        Ok(raw) => log_debug!(cid = Some(&req.correlation_id);
            "{} answered HTTP {} ({} bytes) in {} ms", req.endpoint, raw.status, raw.body.len(), started.elapsed().as_millis()),
        Err(e) => log_warn!(cid = Some(&req.correlation_id);
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
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
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

/// A `Retry-After` value (RFC 9110 §10.2.3): delay seconds, or an HTTP date (then the time
/// from `now` until it, rounded up to whole seconds; a date already past is zero).
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let wait = when.duration_since(now).unwrap_or(Duration::ZERO);
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Some(Duration::from_secs(secs))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        // 1_796_000_000 = Mon, 30 Nov 2026 00:53:20 GMT; all three HTTP date forms.
        for date in [
            "Mon, 30 Nov 2026 00:53:50 GMT",
            "Monday, 30-Nov-26 00:53:50 GMT",
            "Mon Nov 30 00:53:50 2026",
        ] {
            assert_eq!(
                parse_retry_after(date, now),
                Some(Duration::from_secs(30)),
                "{date}"
            );
        }
        let later = now + Duration::from_millis(500);
        assert_eq!(
            parse_retry_after("Mon, 30 Nov 2026 00:53:50 GMT", later),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Mon, 30 Nov 2026 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn basic_authorization_encodes_then_base64s() {
        // RFC 6749 §2.3.1: form-url-encode each part first.
        assert_eq!(
            basic_authorization("a b", "s:/").expose(),
            "Basic YStiOnMlM0ElMkY="
        );
    }
}
