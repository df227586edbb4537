//! Client assertions (certificate and federated credentials) and the username/password grant,
//! checked as Entra ID does (entra-protocol.md §2, §4, §6).
//!
//! Certificate assertions: `alg` RS256 or PS256; `x5t#S256` or `x5t` names a certificate
//! registered for the client (else AADSTS700027 "key was not found"); an `x5c` must start with
//! that certificate; the signature must verify with its key (AADSTS700027); `iss` = `sub` =
//! the client id and `aud` = the token endpoint's URL (AADSTS50012); `nbf` ≤ now ≤ `exp` with
//! five minutes of clock skew (AADSTS700024); a `jti` seen before in a *different* assertion is
//! a replay (AADSTS50012) — sending the same assertion again while it is valid is accepted, as
//! MSALs reuse theirs.
//!
//! Federated assertions (no thumbprint in the header): `iss` and `sub` must match a federated
//! credential of the client (AADSTS70021), `aud` its audience (AADSTS700212), the signature the
//! issuer's key, and the time window as above (AADSTS700024).

use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;

use crate::entra::{entra_timestamp, unix_now, EntraError};
use crate::registry::{AssertionLog, Client, Tenant, User};

/// Clock skew Entra tolerates on assertion times.
const SKEW_S: i64 = 300;

fn invalid_client(code: u32, message: impl Into<String>) -> EntraError {
    EntraError::new(401, "invalid_client", code, message)
}

fn malformed() -> EntraError {
    EntraError::new(
        400,
        "invalid_request",
        50027,
        "JWT token is invalid or malformed.",
    )
}

fn decode_part(part: &str) -> Result<Value, EntraError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed())
}

fn rsa_public_key(cert_der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

fn verify_signature(alg: &str, cert_der: &[u8], signing_input: &[u8], sig: &[u8]) -> bool {
    let params: &dyn ring::signature::VerificationAlgorithm = match alg {
        "RS256" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        "PS256" => &ring::signature::RSA_PSS_2048_8192_SHA256,
        _ => return false,
    };
    let Some(key) = rsa_public_key(cert_der) else {
        return false;
    };
    ring::signature::UnparsedPublicKey::new(params, key)
        .verify(signing_input, sig)
        .is_ok()
}

fn b64url(d: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(d)
}

fn time_text(t: i64) -> String {
    entra_timestamp(UNIX_EPOCH + Duration::from_secs(t.max(0) as u64))
}

fn check_times(claims: &Value) -> Result<(), EntraError> {
    let now = unix_now() as i64;
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    let exp = claims.get("exp").and_then(Value::as_i64);
    let outside = match exp {
        None => true,
        Some(exp) => now > exp + SKEW_S || now + SKEW_S < nbf,
    };
    if outside {
        return Err(invalid_client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
                time_text(now),
                time_text(nbf),
                exp.map_or_else(|| "(none)".to_owned(), time_text)
            ),
        ));
    }
    Ok(())
}

/// Verifies a client assertion presented by `client`; `token_urls` are the accepted `aud`
/// values (the token endpoint as the client addressed it).
pub(crate) fn verify_client_assertion(
    log: &AssertionLog,
    client: &Client,
    jwt: &str,
    token_urls: &[String],
) -> Result<(), EntraError> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(malformed());
    };
    let header = decode_part(h)?;
    let claims = decode_part(p)?;
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| malformed())?;
    let signing_input = format!("{h}.{p}");
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let str_claim = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let thumb_s256 = header.get("x5t#S256").and_then(Value::as_str);
    let thumb_s1 = header.get("x5t").and_then(Value::as_str);

    if thumb_s256.is_none() && thumb_s1.is_none() {
        return verify_federated(log, client, &header, &claims, &signing_input, &sig);
    }
    let cert = client.certificates.iter().find(|der| {
        let s256 = ring::digest::digest(&ring::digest::SHA256, der);
        let s1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
        thumb_s256 == Some(b64url(s256.as_ref()).as_str()) || thumb_s1 == Some(b64url(s1.as_ref()).as_str())
    });
    let Some(cert) = cert else {
        let shown = thumb_s256.or(thumb_s1).unwrap_or("");
        let hex: String = URL_SAFE_NO_PAD
            .decode(shown)
            .unwrap_or_default()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        return Err(invalid_client(
            700027,
            format!(
                "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '{hex}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                client.client_id
            ),
        ));
    };
    if let Some(x5c) = header.get("x5c") {
        let leaf = x5c
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .and_then(|c| STANDARD.decode(c).ok());
        if leaf.as_deref() != Some(cert.as_slice()) {
            return Err(invalid_client(
                700027,
                "Client assertion failed signature validation. [Reason - The x5c chain does not start with the certificate named by the thumbprint.]",
            ));
        }
    }
    if !verify_signature(alg, cert, signing_input.as_bytes(), &sig) {
        return Err(invalid_client(
            700027,
            format!("Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Algorithm: {alg}]"),
        ));
    }
    let (iss, sub, aud) = (str_claim("iss"), str_claim("sub"), str_claim("aud"));
    if !iss.eq_ignore_ascii_case(&client.client_id) || !sub.eq_ignore_ascii_case(&client.client_id) {
        return Err(invalid_client(
            50012,
            "Client assertion contains an invalid 'iss' or 'sub' claim: both must be the application's client id.",
        ));
    }
    if !token_urls.iter().any(|u| u.eq_ignore_ascii_case(&aud)) {
        return Err(invalid_client(
            50012,
            "Client assertion audience claim does not match Realm issuer.",
        ));
    }
    check_times(&claims)?;
    remember(log, jwt, &header, &claims)
}

fn verify_federated(
    log: &AssertionLog,
    client: &Client,
    header: &Value,
    claims: &Value,
    signing_input: &str,
    sig: &[u8],
) -> Result<(), EntraError> {
    let get = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (iss, sub) = (get("iss"), get("sub"));
    let aud = match claims.get("aud") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let Some(fic) = client
        .federated
        .iter()
        .find(|f| f.issuer == iss && f.subject == sub)
    else {
        return Err(invalid_client(
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
                aud.join(",")
            ),
        ));
    };
    if !aud.contains(&fic.audience) {
        return Err(invalid_client(
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'.",
                aud.join(",")
            ),
        ));
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if !verify_signature(alg, &fic.certificate, signing_input.as_bytes(), sig) {
        return Err(invalid_client(
            700027,
            "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]",
        ));
    }
    check_times(claims)?;
    let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig));
    remember(log, &jwt, header, claims)
}

fn remember(log: &AssertionLog, jwt: &str, header: &Value, claims: &Value) -> Result<(), EntraError> {
    let mut g = log.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
        let digest = ring::digest::digest(&ring::digest::SHA256, jwt.as_bytes())
            .as_ref()
            .to_vec();
        match g.jti.get(jti) {
            Some(seen) if *seen != digest => {
                return Err(invalid_client(
                    50012,
                    format!("Client assertion replay detected: the jti '{jti}' was already used in another assertion."),
                ))
            }
            Some(_) => {}
            None => {
                g.jti.insert(jti.to_owned(), digest);
            }
        }
    }
    g.last_header = Some(header.clone());
    g.last_claims = Some(claims.clone());
    Ok(())
}

/// The user of a username/password (ROPC) request.
pub(crate) fn check_user<'a>(
    tenant: &'a Tenant,
    username: Option<&str>,
    password: Option<&str>,
    resource: &str,
) -> Result<&'a User, EntraError> {
    let username = username.ok_or_else(|| EntraError::missing_param("username"))?;
    let password = password.ok_or_else(|| EntraError::missing_param("password"))?;
    let user = tenant.user(username).ok_or_else(|| {
        EntraError::new(
            400,
            "invalid_grant",
            50034,
            format!(
                "The user account {{EUII Hidden}} does not exist in the {} directory. To sign into this application, the account must be added to the directory.",
                tenant.tenant_id
            ),
        )
    })?;
    if user.password != password {
        return Err(EntraError::new(
            400,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        ));
    }
    if user.mfa_required {
        return Err(EntraError::new(
            400,
            "invalid_grant",
            50076,
            format!(
                "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{resource}'."
            ),
        ));
    }
    Ok(user)
}

/// The resource and `scp` of a delegated (user) scope: OIDC scopes are ignored, the rest must
/// name one resource; `.default` grants `user_impersonation`.
pub(crate) fn user_resource(scope: &str) -> Result<(String, String), EntraError> {
    let invalid = || {
        EntraError::new(
            400,
            "invalid_scope",
            70011,
            format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
        )
    };
    let mut resource: Option<String> = None;
    let mut scp = Vec::new();
    for item in scope.split(' ').filter(|s| !s.is_empty()) {
        if ["openid", "profile", "email", "offline_access"].contains(&item) {
            continue;
        }
        let after_scheme = item.find("://").map_or(0, |i| i + 3);
        let j = item[after_scheme..].rfind('/').ok_or_else(invalid)? + after_scheme;
        let (res, perm) = (&item[..j], &item[j + 1..]);
        if res.is_empty() || perm.is_empty() {
            return Err(invalid());
        }
        match &resource {
            Some(r) if !r.eq_ignore_ascii_case(res) => return Err(invalid()),
            _ => resource = Some(res.to_owned()),
        }
        scp.push(if perm == ".default" {
            "user_impersonation"
        } else {
            perm
        });
    }
    let resource = resource.ok_or_else(invalid)?;
    Ok((resource, scp.join(" ")))
}
