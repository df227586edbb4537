//! Entra-shaped error bodies and the common response headers of the token endpoint.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Marker put into response extensions so the request log can record the AADSTS code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AadstsCode(pub u32);

/// An Entra error answer.
#[derive(Clone, Debug)]
pub(crate) struct EntraError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub message: String,
    pub retry_after: Option<u32>,
}

impl EntraError {
    pub fn new(status: u16, error: &'static str, code: u32, message: impl Into<String>) -> Self {
        EntraError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            error,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `invalid_request` AADSTS900144 for a missing body parameter.
    pub fn missing_param(name: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// AADSTS90002 (unknown tenant) with the given `error` value.
    pub fn tenant_not_found(error: &'static str, tenant: &str) -> Self {
        Self::new(
            400,
            error,
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are \
                 signing into the correct cloud. Check with your subscription administrator, this may \
                 happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    /// AADSTS900023 (tenant identifier that is neither a GUID nor a DNS name).
    pub fn tenant_malformed(error: &'static str, tenant: &str) -> Self {
        Self::new(
            400,
            error,
            900023,
            format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        )
    }

    /// The body, with fresh trace id and the given correlation id.
    pub fn body(&self, trace_id: &str, correlation_id: &str) -> ErrorBody {
        let timestamp = entra_timestamp(SystemTime::now());
        ErrorBody {
            error: self.error.to_string(),
            error_description: format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.message
            ),
            error_codes: vec![self.code],
            timestamp,
            trace_id: trace_id.to_string(),
            correlation_id: correlation_id.to_string(),
            error_uri: format!("https://login.microsoftonline.com/error?code={}", self.code),
        }
    }

    /// A complete response for a non-token route (discovery, JWKS, instance discovery).
    pub fn into_plain_response(self, req_headers: &HeaderMap) -> Response {
        let ids = RequestIds::new(req_headers);
        let mut resp = (
            self.status,
            axum::Json(self.body(&ids.trace_id, &ids.correlation_id)),
        )
            .into_response();
        ids.apply(resp.headers_mut());
        resp.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        resp.extensions_mut().insert(AadstsCode(self.code));
        resp
    }
}

/// The JSON error body (field order as Entra sends it).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ErrorBody {
    pub error: String,
    pub error_description: String,
    pub error_codes: Vec<u32>,
    pub timestamp: String,
    pub trace_id: String,
    pub correlation_id: String,
    pub error_uri: String,
}

/// Per-request ids: a fresh trace id and the correlation id (the request's
/// `client-request-id` header when present, else fresh).
pub(crate) struct RequestIds {
    pub trace_id: String,
    pub correlation_id: String,
    pub client_request_id: Option<HeaderValue>,
}

impl RequestIds {
    pub fn new(req_headers: &HeaderMap) -> Self {
        let client_request_id = req_headers.get("client-request-id").cloned();
        let correlation_id = client_request_id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        RequestIds {
            trace_id: uuid::Uuid::new_v4().to_string(),
            correlation_id,
            client_request_id,
        }
    }

    /// Adds `x-ms-request-id`, the echoed `client-request-id` and the fixed ESTS headers.
    pub fn apply(&self, h: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(&self.trace_id) {
            h.insert("x-ms-request-id", v);
        }
        if let Some(v) = &self.client_request_id {
            h.insert("client-request-id", v.clone());
        }
        h.insert("x-ms-ests-server", HeaderValue::from_static("2.1.mock"));
        h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        h.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SSZ` in UTC, as in Entra error bodies.
pub(crate) fn entra_timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamp_format() {
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199); // 2024-02-29 23:59:59
        assert_eq!(entra_timestamp(t), "2024-02-29 23:59:59Z");
        assert_eq!(entra_timestamp(UNIX_EPOCH), "1970-01-01 00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29 00:00:00
        assert_eq!(entra_timestamp(t), "2000-02-29 00:00:00Z");
    }
}
