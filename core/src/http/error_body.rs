//! Reading error bodies: a non-200 answer (Entra's OAuth error JSON, the managed-identity
//! endpoints' shapes, anything else) becomes an [`Error`] with the OAuth code, the AADSTS
//! codes and their hint, the correlation id, the HTTP status and `Retry-After`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{aadsts_hint, Error, ErrorKind};

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
        let m = e.message();
        assert!(m.contains("Required metadata header"), "{m}");
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
