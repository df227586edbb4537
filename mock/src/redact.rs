//! Building redacted [`LoggedRequest`]s.

use axum::http::{HeaderMap, Method, Uri};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::state::{ClientAuthMethod, LoggedRequest};

/// Replacement for values of sensitive keys.
pub const REDACTED: &str = "<redacted>";
/// Replacement for a registered client secret found anywhere else.
pub const REDACTED_SECRET: &str = "<redacted:secret>";

/// Secrets shorter than this are not searched for (they would match too much).
const MIN_SECRET_LEN: usize = 6;
const BODY_TEXT_LIMIT: usize = 4096;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Whether a form or query key carries a credential, whose value is never logged: a client
/// secret or assertion, a refresh token, an authorization code or its PKCE verifier, a
/// password, a device code, or the assertion of a JWT-bearer grant.
pub fn is_sensitive(key: &str) -> bool {
    matches!(
        key,
        "client_secret"
            | "client_assertion"
            | "refresh_token"
            | "code"
            | "code_verifier"
            | "password"
            | "device_code"
            | "assertion"
    )
}

/// Credentials from an `Authorization: Basic` header, decoded per RFC 6749 §2.3.1.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BasicCredentials {
    pub client_id: String,
    pub secret: String,
}

/// What an `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthzHeader {
    Absent,
    Basic(BasicCredentials),
    MalformedBasic,
    Other,
}

pub(crate) fn parse_authorization(headers: &HeaderMap) -> AuthzHeader {
    let Some(v) = headers.get("authorization") else {
        return AuthzHeader::Absent;
    };
    let Ok(v) = v.to_str() else {
        return AuthzHeader::Other;
    };
    let v = v.trim();
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return AuthzHeader::Other;
    }
    let Ok(raw) = STANDARD.decode(rest.trim()) else {
        return AuthzHeader::MalformedBasic;
    };
    let Ok(raw) = String::from_utf8(raw) else {
        return AuthzHeader::MalformedBasic;
    };
    let Some((id, secret)) = raw.split_once(':') else {
        return AuthzHeader::MalformedBasic;
    };
    AuthzHeader::Basic(BasicCredentials {
        client_id: form_decode(id),
        secret: form_decode(secret),
    })
}

/// `application/x-www-form-urlencoded` decoding of one component (`+` is a space).
pub(crate) fn form_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Decoded form pairs, in order.
pub(crate) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The form pairs of a request whose content type is a form; none otherwise.
pub(crate) fn form_of(headers: &HeaderMap, body: &[u8]) -> Vec<(String, String)> {
    if is_form(headers) {
        parse_form(body)
    } else {
        Vec::new()
    }
}

/// The value of the first `key` in decoded `pairs` (a form or a query).
pub(crate) fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// [`value`], unless it is empty: Entra treats an empty parameter as a missing one.
pub(crate) fn filled<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    value(pairs, key).filter(|v| !v.is_empty())
}

/// The client id a request presents: its `client_id` form field, else the Basic user name.
pub(crate) fn presented_client_id(form: &[(String, String)], authz: &AuthzHeader) -> Option<String> {
    value(form, "client_id").map(str::to_owned).or(match authz {
        AuthzHeader::Basic(c) => Some(c.client_id.clone()),
        _ => None,
    })
}

/// Replaces every occurrence of a registered secret in `s` (raw or percent/form-encoded).
/// Returns whether anything was found.
fn scrub(s: &str, secrets: &[String]) -> (String, bool) {
    let mut out = s.to_string();
    let mut found = false;
    for secret in secrets {
        let variants = [
            secret.clone(),
            form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            utf8_percent_encode(secret, NOT_UNRESERVED).to_string(),
            utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
        ];
        for v in variants.iter() {
            for v in [v.clone(), v.to_ascii_lowercase()] {
                if !v.is_empty() && out.contains(&v) {
                    out = out.replace(&v, REDACTED_SECRET);
                    found = true;
                }
            }
        }
    }
    // Unusual encodings: if the decoded text still holds a secret, log the decoded text.
    let decoded = form_decode(&out);
    if secrets.iter().any(|sec| decoded.contains(sec.as_str())) {
        let mut d = decoded;
        for sec in secrets {
            d = d.replace(sec.as_str(), REDACTED_SECRET);
        }
        return (d, true);
    }
    (out, found)
}

fn redact_query(q: &str, secrets: &[String]) -> (String, bool) {
    let (scrubbed, found) = scrub(q, secrets);
    let parts: Vec<String> = scrubbed
        .split('&')
        .map(|seg| match seg.split_once('=') {
            Some((k, v)) if is_sensitive(&form_decode(k)) && v != REDACTED_SECRET => {
                format!("{k}={REDACTED}")
            }
            _ => seg.to_string(),
        })
        .collect();
    (parts.join("&"), found)
}

/// Everything about a request that goes into the log, computed before the handler runs.
pub(crate) fn log_entry(
    route: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[String],
) -> LoggedRequest {
    let secrets: Vec<String> = secrets
        .iter()
        .filter(|s| s.len() >= MIN_SECRET_LEN)
        .cloned()
        .collect();
    let mut secret_in = Vec::new();
    let mut note = |loc: String| {
        if !secret_in.contains(&loc) {
            secret_in.push(loc);
        }
    };

    let (path, in_path) = scrub(uri.path(), &secrets);
    if in_path {
        note("path".into());
    }
    let query = uri.query().map(|q| {
        let (q, found) = redact_query(q, &secrets);
        if found {
            note("query".into());
        }
        q
    });

    let authz = parse_authorization(headers);
    let mut logged_headers = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name.as_str() == "authorization" {
            let scheme = value.split_whitespace().next().unwrap_or("").to_string();
            match &authz {
                AuthzHeader::Basic(c) if secrets.iter().any(|s| c.secret.contains(s.as_str())) => {
                    note("basic".into())
                }
                _ => {
                    if scrub(&value, &secrets).1 {
                        note("header:authorization".into());
                    }
                }
            }
            logged_headers.push((name.to_string(), format!("{scheme} {REDACTED}")));
        } else {
            let (v, found) = scrub(&value, &secrets);
            if found {
                note(format!("header:{name}"));
            }
            logged_headers.push((name.to_string(), v));
        }
    }

    let mut form = Vec::new();
    let mut body_text = None;
    if is_form(headers) {
        for (k, v) in parse_form(body) {
            let has_secret = secrets.iter().any(|s| v.contains(s.as_str()));
            if has_secret {
                note(if k == "client_secret" {
                    "body".into()
                } else {
                    format!("body:{k}")
                });
            }
            let (k, _) = scrub(&k, &secrets);
            let v = if is_sensitive(&k) {
                REDACTED.to_string()
            } else {
                scrub(&v, &secrets).0
            };
            form.push((k, v));
        }
    } else if !body.is_empty() {
        let text = String::from_utf8_lossy(body);
        let (mut t, found) = scrub(&text, &secrets);
        if found {
            note("body".into());
        }
        if t.len() > BODY_TEXT_LIMIT {
            let mut cut = BODY_TEXT_LIMIT;
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t.truncate(cut);
        }
        body_text = Some(t);
    }

    let form_has = |key: &str| form.iter().any(|(k, _)| k == key);
    let client_auth = match &authz {
        AuthzHeader::Basic(_) | AuthzHeader::MalformedBasic => ClientAuthMethod::ClientSecretBasic,
        _ if form_has("client_assertion") => ClientAuthMethod::PrivateKeyJwt,
        _ if form_has("client_secret") => ClientAuthMethod::ClientSecretPost,
        _ => ClientAuthMethod::None,
    };
    let client_id = presented_client_id(&form, &authz);

    LoggedRequest {
        seq: 0,
        unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        route: route.to_string(),
        method: method.to_string(),
        path,
        query,
        headers: logged_headers,
        form,
        body_text,
        client_auth,
        client_id,
        secret_in,
        status: 0,
        aadsts: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Vec<String> {
        vec!["mock-secret-Value~0123456789".to_string()]
    }

    #[test]
    fn query_secret_in_any_encoding() {
        for q in [
            "client_secret=mock-secret-Value~0123456789",
            "client_secret=mock-secret-Value%7E0123456789",
            "client_secret=mock-secret-Value%7e0123456789",
            "x=a&client_secret=mock%2Dsecret-Value~0123456789&y=b",
        ] {
            let (out, found) = redact_query(q, &secrets());
            assert!(found, "{q}");
            assert!(out.contains(REDACTED_SECRET), "{q} -> {out}");
            assert!(!out.contains("0123456789"), "{q} -> {out}");
        }
        let (out, found) = redact_query("client_secret=wrong&a=1", &secrets());
        assert!(!found);
        assert_eq!(out, "client_secret=<redacted>&a=1");
    }

    #[test]
    fn basic_decoding() {
        let mut h = HeaderMap::new();
        // id "a b", secret "x:y+z" form-encoded then base64
        let raw = STANDARD.encode("a+b:x%3Ay%2Bz");
        h.insert("authorization", format!("Basic {raw}").parse().unwrap());
        assert_eq!(
            parse_authorization(&h),
            AuthzHeader::Basic(BasicCredentials {
                client_id: "a b".into(),
                secret: "x:y+z".into()
            })
        );
    }
}
