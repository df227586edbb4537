//! End-to-end tests of the mock over HTTPS, with reqwest (rustls + ring) trusting the mock CA.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aadtoken_mock::{
    Client, ClientAuthMethod, Fault, MockConfig, MockServer, RefreshIn, CLIENT_ID, CLIENT_SECRET,
    EXPIRED_CLIENT_ID, EXPIRED_CLIENT_SECRET, OTHER_RESOURCE, OTHER_SCOPE, REDACTED, REDACTED_SECRET,
    RESOURCE, RESOURCE_APP_ID, SCOPE, TENANT_DOMAIN, TENANT_ID,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use reqwest::header::HeaderMap;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use serde_json::{json, Value};

fn http_for(mock: &MockServer) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(mock.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(cfg)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn answer(resp: reqwest::Response) -> Answer {
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        text: resp.text().await.unwrap(),
    }
}

async fn post_form(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Answer {
    answer(http.post(url).form(form).send().await.unwrap()).await
}

/// A token request authenticated with HTTP Basic as `user:password` (already form-encoded).
async fn post_basic(
    http: &reqwest::Client,
    mock: &MockServer,
    user: &str,
    password: &str,
    form: &[(&str, &str)],
) -> Answer {
    let basic = STANDARD.encode(format!("{user}:{password}"));
    answer(
        http.post(mock.token_url(TENANT_ID))
            .header("authorization", format!("Basic {basic}"))
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get(http: &reqwest::Client, url: &str) -> Answer {
    answer(http.get(url).send().await.unwrap()).await
}

/// The OpenID configuration at `authority` (`https://host:port/tenant`).
async fn discovery(http: &reqwest::Client, authority: &str) -> Answer {
    get(
        http,
        &format!("{authority}/v2.0/.well-known/openid-configuration"),
    )
    .await
}

fn good_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("scope", SCOPE),
        ("grant_type", "client_credentials"),
    ]
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Verifies an RS256 JWT against a JWKS document, independently of the mock's own code.
fn verify_with_jwks(jwt: &str, jwks: &Value) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let kid = header["kid"].as_str().unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("kid in JWKS");
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    ring::signature::RsaPublicKeyComponents { n, e }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &sig,
        )
        .expect("signature verifies against the JWKS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

fn is_entra_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && s.chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            19 => c == 'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Checks status, `error`, `error_codes` and the whole Entra error shape.
fn assert_entra_error(a: &Answer, status: u16, error: &str, code: u64) -> Value {
    assert_eq!(a.status, status, "status for {}", a.text);
    let body = a.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    let mut expected = [
        "correlation_id",
        "error",
        "error_codes",
        "error_description",
        "error_uri",
        "timestamp",
        "trace_id",
    ];
    expected.sort();
    assert_eq!(keys, expected, "{}", a.text);
    assert_eq!(body["error"], error, "{}", a.text);
    assert_eq!(body["error_codes"], json!([code]), "{}", a.text);
    let ts = body["timestamp"].as_str().unwrap();
    assert!(is_entra_timestamp(ts), "{ts}");
    let trace = body["trace_id"].as_str().unwrap();
    let corr = body["correlation_id"].as_str().unwrap();
    uuid::Uuid::parse_str(trace).unwrap();
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(
        desc.ends_with(&format!(
            "\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
        )),
        "{desc:?}"
    );
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
    assert_eq!(a.header("x-ms-request-id"), Some(trace));
    assert_eq!(a.header("content-type"), Some("application/json; charset=utf-8"));
    body
}

fn assert_token_headers(a: &Answer) {
    assert_eq!(a.header("cache-control"), Some("no-store, no-cache"));
    assert_eq!(a.header("pragma"), Some("no-cache"));
    assert_eq!(a.header("content-type"), Some("application/json; charset=utf-8"));
    uuid::Uuid::parse_str(a.header("x-ms-request-id").unwrap()).unwrap();
}

#[tokio::test]
async fn discovery_jwks_and_token_with_claims() {
    let mock = MockServer::spawn(MockConfig::default());
    let http = http_for(&mock);
    let base = mock.base_url().to_string();
    assert_eq!(base, format!("https://127.0.0.1:{}", mock.port()));
    assert!(std::fs::read_to_string(mock.ca_file())
        .unwrap()
        .contains("BEGIN CERTIFICATE"));

    // Discovery by domain alias answers with the tenant GUID.
    let d = discovery(&http, &format!("{base}/{TENANT_DOMAIN}")).await;
    assert_eq!(d.status, 200, "{}", d.text);
    let doc = d.json();
    let issuer = format!("{base}/{TENANT_ID}/v2.0");
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(
        doc["token_endpoint"],
        format!("{base}/{TENANT_ID}/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/{TENANT_ID}/oauth2/v2.0/authorize")
    );
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{base}/{TENANT_ID}/oauth2/v2.0/devicecode")
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "private_key_jwt", "client_secret_basic"])
    );
    for field in [
        "response_modes_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "response_types_supported",
        "scopes_supported",
        "request_uri_parameter_supported",
        "userinfo_endpoint",
        "http_logout_supported",
        "frontchannel_logout_supported",
        "end_session_endpoint",
        "claims_supported",
        "kerberos_endpoint",
        "tenant_region_scope",
        "cloud_instance_name",
        "cloud_graph_host_name",
        "msgraph_host",
        "rbac_url",
    ] {
        assert!(doc.get(field).is_some(), "discovery lacks {field}");
    }
    let jwks = get(&http, doc["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(jwks.status, 200);
    let jwks = jwks.json();
    assert_eq!(jwks["keys"][0]["kid"], mock.signing_kid());

    // Two tokens: both verify, both distinct.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let resp = http
            .post(mock.token_url(TENANT_ID))
            .header("client-request-id", "5b0d2f5e-1111-4b7a-9c55-0123456789ab")
            .header("return-client-request-id", "true")
            .form(&good_form())
            .send()
            .await
            .unwrap();
        let a = answer(resp).await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_token_headers(&a);
        assert_eq!(
            a.header("client-request-id"),
            Some("5b0d2f5e-1111-4b7a-9c55-0123456789ab")
        );
        assert!(
            a.text.starts_with(
                r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"ey"#
            ),
            "{}",
            a.text
        );
        let body = a.json();
        assert!(body.get("refresh_in").is_none());
        let jwt = body["access_token"].as_str().unwrap();
        let claims = verify_with_jwks(jwt, &jwks);
        assert_eq!(mock.verify_token(jwt).unwrap(), claims);
        let now = unix_now();
        assert_eq!(claims["aud"], RESOURCE);
        assert_eq!(claims["iss"], issuer);
        assert_eq!(claims["tid"], TENANT_ID);
        assert_eq!(claims["appid"], CLIENT_ID);
        assert_eq!(claims["azp"], CLIENT_ID);
        assert_eq!(claims["ver"], "2.0");
        assert_eq!(claims["roles"], json!(["DBA"]));
        assert_eq!(claims["sub"], claims["oid"]);
        uuid::Uuid::parse_str(claims["oid"].as_str().unwrap()).unwrap();
        let exp = claims["exp"].as_u64().unwrap();
        assert!(exp.abs_diff(now + 3599) <= 2, "exp {exp} now {now}");
        let nbf = claims["nbf"].as_u64().unwrap();
        assert!(nbf <= now && claims["iat"].as_u64().unwrap() <= now);
        seen.push(claims);
    }
    assert_eq!(seen[0]["oid"], seen[1]["oid"], "oid is stable per client");
    assert_ne!(seen[0]["jti"], seen[1]["jti"]);
    assert_ne!(seen[0]["uti"], seen[1]["uti"]);

    // Other resource, by app ID URI and by the resource app id.
    let mut form = good_form();
    form[2] = ("scope", OTHER_SCOPE);
    let a = post_form(&http, &mock.token_url(TENANT_DOMAIN), &form).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let claims = verify_with_jwks(a.json()["access_token"].as_str().unwrap(), &jwks);
    assert_eq!(claims["aud"], OTHER_RESOURCE);
    assert_eq!(claims["iss"], issuer);
    let scope_by_id = format!("{RESOURCE_APP_ID}/.default");
    form[2] = ("scope", &scope_by_id);
    let a = post_form(&http, &mock.token_url(TENANT_ID), &form).await;
    assert_eq!(a.status, 200, "{}", a.text);

    assert_eq!(mock.token_requests(), 4);
    assert_eq!(mock.tokens_issued(), 4);
    assert_eq!(mock.token_requests_for(CLIENT_ID), 4);
    let c = mock.counters();
    assert_eq!(c.requests_by_route["openid_configuration"], 1);
    assert_eq!(c.requests_by_route["jwks"], 1);
    assert_eq!(c.requests_by_route["token"], 4);

    let log = mock.token_request_log();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].client_auth, ClientAuthMethod::ClientSecretPost);
    assert_eq!(log[0].form_value("client_secret"), Some(REDACTED));
    assert_eq!(log[0].form_value("scope"), Some(SCOPE));
    assert_eq!(log[0].secret_in, vec!["body".to_string()]);
    assert_eq!(log[0].client_id.as_deref(), Some(CLIENT_ID));
    assert_eq!(log[0].status, 200);
    assert_eq!(
        log[0].header("client-request-id"),
        Some("5b0d2f5e-1111-4b7a-9c55-0123456789ab")
    );
    assert!(serde_json::to_string(&mock.requests())
        .unwrap()
        .find(CLIENT_SECRET)
        .is_none());
}

#[tokio::test]
async fn instance_discovery_and_unknown_tenant_discovery() {
    let mock = MockServer::spawn(MockConfig::default());
    let http = http_for(&mock);
    let base = mock.base_url();
    let port = mock.port();
    let ok = get(
        &http,
        &format!(
            "{base}/common/discovery/instance?api-version=1.1&authorization_endpoint=https://localhost:{port}/{TENANT_ID}/oauth2/v2.0/authorize"
        ),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let v = ok.json();
    assert_eq!(
        v["tenant_discovery_endpoint"],
        format!("https://localhost:{port}/{TENANT_ID}/v2.0/.well-known/openid-configuration")
    );
    assert_eq!(v["api-version"], "1.1");
    let aliases = v["metadata"][0]["aliases"].as_array().unwrap();
    assert!(aliases.contains(&json!(format!("127.0.0.1:{port}"))));

    let bad = get(
        &http,
        &format!(
            "{base}/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.example.com/{TENANT_ID}/oauth2/v2.0/authorize"
        ),
    )
    .await;
    assert_entra_error(&bad, 400, "invalid_instance", 50049);

    let unknown = discovery(&http, &format!("{base}/fabrikam.onmicrosoft.com")).await;
    let body = assert_entra_error(&unknown, 400, "invalid_tenant", 90002);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("Tenant 'fabrikam.onmicrosoft.com' not found"));

    // A meta tenant: its own endpoints, Entra's `{tenantid}` issuer; no generic issuer for it.
    let d = discovery(&http, &format!("{base}/organizations")).await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(d.json()["issuer"], format!("{base}/{{tenantid}}/v2.0"));
    assert_eq!(
        d.json()["token_endpoint"],
        format!("{base}/organizations/oauth2/v2.0/token")
    );
    let keys = get(&http, &format!("{base}/common/discovery/v2.0/keys")).await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    assert!(keys.json()["keys"][0]["kid"].is_string());
    let generic = get(
        &http,
        &format!("{base}/organizations/generic/.well-known/openid-configuration"),
    )
    .await;
    assert_entra_error(&generic, 400, "invalid_tenant", 90002);
    let generic = get(
        &http,
        &format!("{base}/{TENANT_ID}/generic/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(generic.status, 200, "{}", generic.text);
    assert_eq!(generic.json()["issuer"], format!("{base}/{TENANT_ID}/generic"));
    // A malformed tenant, on each discovery route.
    for path in [
        "v2.0/.well-known/openid-configuration",
        "generic/.well-known/openid-configuration",
        "discovery/v2.0/keys",
    ] {
        let bad = get(&http, &format!("{base}/not_a_tenant!/{path}")).await;
        assert_entra_error(&bad, 400, "invalid_tenant", 900023);
    }

    // Served on the localhost alias too, with that host in the document.
    let d = discovery(&http, &format!("https://localhost:{port}/{TENANT_ID}")).await;
    assert_eq!(d.status, 200);
    assert_eq!(
        d.json()["issuer"],
        format!("https://localhost:{port}/{TENANT_ID}/v2.0")
    );
}

/// (tenant, form, status, error, AADSTS code, text in the description)
type ErrorCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, u64, &'a str);

#[tokio::test]
async fn token_errors_in_entra_shape() {
    let mock = MockServer::spawn(MockConfig::default());
    let http = http_for(&mock);
    let cc = ("grant_type", "client_credentials");
    let id = ("client_id", CLIENT_ID);
    let sec = ("client_secret", CLIENT_SECRET);
    let scope = ("scope", SCOPE);
    #[rustfmt::skip]
    let cases: Vec<ErrorCase> = vec![
        ("99999999-9999-9999-9999-999999999999", vec![cc, id, sec, scope], 400, "invalid_request", 90002,
            "Tenant '99999999-9999-9999-9999-999999999999' not found"),
        ("fabrikam.onmicrosoft.com", vec![cc, id, sec, scope], 400, "invalid_request", 90002, "not found"),
        ("not_a_tenant", vec![cc, id, sec, scope], 400, "invalid_request", 900023, "neither a valid DNS name"),
        ("common", vec![cc, id, sec, scope], 400, "invalid_request", 50059, "No tenant-identifying information"),
        (TENANT_ID, vec![id, sec, scope], 400, "invalid_request", 900144,
            "The request body must contain the following parameter: 'grant_type'."),
        (TENANT_ID, vec![("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), id, sec, scope], 400,
            "unsupported_grant_type", 70003, "jwt-bearer"),
        (TENANT_ID, vec![cc, id, sec, ("resource", RESOURCE)], 400, "invalid_request", 901002, "'resource'"),
        (TENANT_ID, vec![cc, sec, scope], 400, "invalid_request", 900144, "parameter: 'client_id'."),
        (TENANT_ID, vec![cc, ("client_id", "99999999-0000-0000-0000-000000000000"), sec, scope], 400,
            "unauthorized_client", 700016,
            "Application with identifier '99999999-0000-0000-0000-000000000000' was not found in the directory 'Contoso'."),
        (TENANT_ID, vec![cc, id, scope], 401, "invalid_client", 7000218, "'client_assertion' or 'client_secret'"),
        (TENANT_ID, vec![cc, id, ("client_secret", "wrong-secret"), scope], 401, "invalid_client", 7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '22222222-2222-2222-2222-222222222222'."),
        (TENANT_ID, vec![cc, ("client_id", EXPIRED_CLIENT_ID), ("client_secret", EXPIRED_CLIENT_SECRET), scope], 401,
            "invalid_client", 7000222, "are expired"),
        (TENANT_ID, vec![cc, id, sec], 400, "invalid_request", 900144, "parameter: 'scope'."),
        (TENANT_ID, vec![cc, id, sec, ("scope", "api://oracle-db/.default https://oracle.example.com/db/.default")], 400,
            "invalid_scope", 700022, "contains more than one resource"),
        (TENANT_ID, vec![cc, id, sec, ("scope", "api://oracle-db/user_impersonation")], 400, "invalid_scope", 1002012,
            "/.default suffixed"),
        (TENANT_ID, vec![cc, id, sec, ("scope", "api:///.default")], 400, "invalid_scope", 70011, "is not valid"),
        (TENANT_ID, vec![cc, id, sec, ("scope", "api://unknown-app/.default")], 400, "invalid_resource", 500011,
            "The resource principal named api://unknown-app was not found in the tenant named Contoso."),
        (TENANT_ID, vec![cc, id, sec, scope, ("scope", SCOPE)], 400, "invalid_request", 9000411, "'scope' is duplicated"),
        (TENANT_ID, vec![cc, id, scope, ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", "e30.e30.sig")], 401, "invalid_client", 70021, "No matching federated identity record"),
    ];
    for (tenant, form, status, error, code, text) in &cases {
        let a = post_form(&http, &mock.token_url(tenant), form).await;
        let body = assert_entra_error(&a, *status, error, *code);
        assert_token_headers(&a);
        assert!(
            body["error_description"].as_str().unwrap().contains(text),
            "{code}: {}",
            body["error_description"]
        );
        assert_eq!(a.header("x-ms-clitelem"), Some(format!("1,{code},0,,").as_str()));
    }

    // GET on the token endpoint.
    let a = get(&http, &mock.token_url(TENANT_ID)).await;
    assert_entra_error(&a, 400, "invalid_request", 900561);
    // A JSON body is not read (Entra only reads form bodies).
    let a = answer(
        http.post(mock.token_url(TENANT_ID))
            .json(&json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_entra_error(&a, 400, "invalid_request", 900144);

    // The correlation id is the client-request-id when sent.
    let a = answer(
        http.post(mock.token_url(TENANT_ID))
            .header("client-request-id", "corr-42")
            .form(&[cc, id, scope])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let body = assert_entra_error(&a, 401, "invalid_client", 7000218);
    assert_eq!(body["correlation_id"], "corr-42");
    assert_eq!(a.header("client-request-id"), Some("corr-42"));

    let n = cases.len() as u64 + 3;
    let c = mock.counters();
    assert_eq!(c.token_requests, n);
    assert_eq!(c.token_errors, n);
    assert_eq!(c.tokens_issued, 0);
    assert_eq!(
        mock.token_request_log()
            .iter()
            .map(|r| r.aadsts.unwrap())
            .collect::<Vec<_>>()
            .len() as u64,
        n
    );
}

#[tokio::test]
async fn basic_auth_with_special_characters() {
    let mock = MockServer::spawn(MockConfig::default());
    let http = http_for(&mock);
    // A client whose secret needs form-url-encoding inside the Basic credentials.
    let odd_id = "66666666-6666-6666-6666-666666666666";
    let odd_secret = "a:b+c d%e~f/g=h";
    mock.add_client(TENANT_ID, Client::new(odd_id).with_secret(odd_secret));
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let cc = [("grant_type", "client_credentials"), ("scope", SCOPE)];
    let a = post_basic(&http, &mock, &enc(odd_id), &enc(odd_secret), &cc).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let claims = mock
        .verify_token(a.json()["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["appid"], odd_id);
    assert!(claims.get("roles").is_none());

    // Basic with the fixture client and client_id repeated in the body.
    let a = post_basic(
        &http,
        &mock,
        CLIENT_ID,
        &enc(CLIENT_SECRET),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("scope", SCOPE),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);

    // Wrong secret over Basic.
    let a = post_basic(&http, &mock, CLIENT_ID, "nope", &cc).await;
    assert_entra_error(&a, 401, "invalid_client", 7000215);

    let log = mock.token_request_log();
    assert_eq!(log.len(), 3);
    for r in &log {
        assert_eq!(r.client_auth, ClientAuthMethod::ClientSecretBasic);
        assert_eq!(r.header("authorization"), Some("Basic <redacted>"));
    }
    assert_eq!(log[0].client_id.as_deref(), Some(odd_id));
    assert_eq!(log[0].secret_in, vec!["basic".to_string()]);
    assert_eq!(log[1].secret_in, vec!["basic".to_string()]);
    assert!(log[2].secret_in.is_empty());
    assert_eq!(mock.token_requests_for(odd_id), 1);
    assert_eq!(mock.token_requests_for(CLIENT_ID), 2);
}

#[tokio::test]
async fn faults_throttling_and_recovery() {
    let mock = MockServer::spawn(MockConfig::default());
    let http = http_for(&mock);
    let url = mock.token_url(TENANT_ID);
    mock.fail_next(2, Fault::throttled(Some(5)));
    mock.fail_next(1, Fault::status(503));
    assert_eq!(mock.pending_faults(), 3);
    for _ in 0..2 {
        let a = post_form(&http, &url, &good_form()).await;
        assert_eq!(a.header("retry-after"), Some("5"));
        assert_entra_error(&a, 429, "temporarily_unavailable", 90055);
        assert_token_headers(&a);
    }
    let a = post_form(&http, &url, &good_form()).await;
    assert_entra_error(&a, 503, "temporarily_unavailable", 90033);
    assert!(a.header("retry-after").is_none());
    let a = post_form(&http, &url, &good_form()).await;
    assert_eq!(a.status, 200);

    // Through the control route.
    let r = http
        .post(format!("{}/_mock/fail", mock.base_url()))
        .json(&json!({"count": 1, "status": 500, "retry_after": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let a = post_form(&http, &url, &good_form()).await;
    assert_entra_error(&a, 500, "server_error", 90033);
    assert_eq!(a.header("retry-after"), Some("1"));

    // A dropped connection, then a non-JSON 200.
    mock.fail_next(1, Fault::Disconnect);
    mock.fail_next(1, Fault::MalformedBody);
    let err = http.post(&url).form(&good_form()).send().await;
    match err {
        Err(_) => {}
        Ok(r) => assert!(r.text().await.is_err(), "expected a transport error"),
    }
    let a = post_form(&http, &url, &good_form()).await;
    assert_eq!(a.status, 200);
    assert!(serde_json::from_str::<Value>(&a.text).is_err());
    let a = post_form(&http, &url, &good_form()).await;
    assert_eq!(a.status, 200);
    assert!(a.json()["access_token"].is_string());

    let c = mock.counters();
    assert_eq!(c.token_requests, 8);
    assert_eq!(c.faults_injected, 6);
    assert_eq!(c.tokens_issued, 2);
    assert_eq!(c.token_errors, 4);
    assert_eq!(mock.token_request_log()[5].status, 0, "disconnect logged as 0");
}

#[tokio::test]
async fn log_redacts_secrets_outside_the_body() {
    let mock = MockServer::spawn(MockConfig::default());
    let http = http_for(&mock);
    // A careless client: secret in the query string and in a custom header.
    let url = format!(
        "{}?client_secret={}&x=1",
        mock.token_url(TENANT_ID),
        form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect::<String>()
    );
    let a = answer(
        http.post(&url)
            .header("x-debug", format!("secret={CLIENT_SECRET}"))
            .form(&good_form())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    // A careful client.
    let a = post_form(&http, &mock.token_url(TENANT_ID), &good_form()).await;
    assert_eq!(a.status, 200);
    // Wrong secret in the query: not a registered secret, redacted by key.
    let a = post_form(
        &http,
        &format!("{}?client_secret=guess&code=abc", mock.token_url(TENANT_ID)),
        &good_form(),
    )
    .await;
    assert_eq!(a.status, 200);

    let log = mock.token_request_log();
    let careless = &log[0];
    assert_eq!(
        careless.query.as_deref(),
        Some("client_secret=<redacted:secret>&x=1")
    );
    assert_eq!(
        careless.header("x-debug"),
        Some(format!("secret={REDACTED_SECRET}").as_str())
    );
    assert_eq!(careless.form_value("client_secret"), Some(REDACTED));
    assert_eq!(
        careless.secret_in,
        vec![
            "query".to_string(),
            "header:x-debug".to_string(),
            "body".to_string()
        ]
    );

    let careful = &log[1];
    assert!(careful.query.is_none());
    assert!(careful.headers.iter().all(|(_, v)| !v.contains(REDACTED_SECRET)));
    assert!(!careful.path.contains(REDACTED_SECRET));
    assert_eq!(careful.form_value("client_secret"), Some(REDACTED));
    assert_eq!(careful.secret_in, vec!["body".to_string()]);

    assert_eq!(
        log[2].query.as_deref(),
        Some("client_secret=<redacted>&code=<redacted>")
    );

    // Nowhere in the serialised log (API and HTTP) does the secret appear.
    let api = serde_json::to_string(&mock.requests()).unwrap();
    let over_http = get(&http, &format!("{}/_mock/requests", mock.base_url())).await;
    assert_eq!(over_http.status, 200);
    for text in [&api, &over_http.text] {
        assert!(!text.contains(CLIENT_SECRET));
        assert!(!text.contains("mock-secret-Value%7E0123456789"));
        assert!(!text.contains("guess"));
    }
    assert_eq!(over_http.json().as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn control_routes_and_response_variants() {
    let mock = MockServer::spawn(MockConfig::default());
    let http = http_for(&mock);
    let base = mock.base_url().to_string();
    let url = mock.token_url(TENANT_ID);

    // expires_in as string, refresh_in as string, custom lifetime via HTTP.
    let r = answer(
        http.post(format!("{base}/_mock/config"))
            .json(&json!({"token_lifetime_s": 120, "expires_in_as_string": true, "refresh_in": "60"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["token_lifetime_s"], 120);
    assert_eq!(mock.behaviour().refresh_in, Some(RefreshIn::String(60)));
    let a = post_form(&http, &url, &good_form()).await;
    assert!(
        a.text.starts_with(
            r#"{"token_type":"Bearer","expires_in":"120","ext_expires_in":"120","refresh_in":"60","access_token":"#
        ),
        "{}",
        a.text
    );
    let claims = mock
        .verify_token(a.json()["access_token"].as_str().unwrap())
        .unwrap();
    assert!(claims["exp"].as_u64().unwrap().abs_diff(unix_now() + 120) <= 2);

    // Through the Rust API: numbers again, refresh_in number, ext_expires_in different.
    mock.set_expires_in_as_string(false);
    mock.set_refresh_in(Some(RefreshIn::Number(1800)));
    mock.set_token_lifetime(3600);
    mock.set_ext_expires_in(Some(7200));
    let a = post_form(&http, &url, &good_form()).await;
    let v = a.json();
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["ext_expires_in"], 7200);
    assert_eq!(v["refresh_in"], 1800);

    // Invalid config is refused and changes nothing.
    let r = answer(
        http.post(format!("{base}/_mock/config"))
            .json(&json!({"token_lifetime_s": 5, "bogus": 1}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(mock.behaviour().token_lifetime_s, 3600);

    // Latency.
    let r = http
        .post(format!("{base}/_mock/config"))
        .json(&json!({"latency_ms": 300}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = Instant::now();
    let a = post_form(&http, &url, &good_form()).await;
    assert_eq!(a.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    mock.set_latency(Duration::ZERO);

    // Counters over HTTP, then reset.
    let c = get(&http, &format!("{base}/_mock/counters")).await.json();
    assert_eq!(c["token_requests"], 3);
    assert_eq!(c["tokens_issued"], 3);
    assert_eq!(c["token_requests_by_client"][CLIENT_ID], 3);
    assert_eq!(c["requests_by_route"]["token"], 3);
    let log = get(&http, &format!("{base}/_mock/requests")).await.json();
    assert_eq!(log.as_array().unwrap().len(), 3);
    assert_eq!(log[0]["client_auth"], "client_secret_post");
    assert_eq!(log[0]["secret_in"], json!(["body"]));

    let r = http.post(format!("{base}/_mock/reset")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(mock.token_requests(), 0);
    assert!(mock.requests().is_empty());
    assert_eq!(mock.behaviour(), MockConfig::default().behaviour);
    let a = post_form(&http, &url, &good_form()).await;
    assert_eq!(a.json()["expires_in"], 3599);

    // Registry additions over HTTP.
    let r = answer(
        http.post(format!("{base}/_mock/clients"))
            .json(&json!({"client_id": "77777777-7777-7777-7777-777777777777", "secret": "another-mock-secret", "roles": ["R1"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("another-mock-secret"));
    let r = http
        .post(format!("{base}/_mock/resources"))
        .json(&json!({"app_id_uri": "api://new-db"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let a = post_form(
        &http,
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "77777777-7777-7777-7777-777777777777"),
            ("client_secret", "another-mock-secret"),
            ("scope", "api://new-db/.default"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let claims = mock
        .verify_token(a.json()["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["aud"], "api://new-db");
    assert_eq!(claims["roles"], json!(["R1"]));
    let reg = get(&http, &format!("{base}/_mock/registry")).await;
    assert!(!reg.text.contains(CLIENT_SECRET));
    assert!(!reg.text.contains("another-mock-secret"));

    // A refused control request says why.
    for (path, body, says) in [
        ("clients", "{", "invalid JSON"),
        ("config", "not json", "invalid JSON"),
        ("clients", r#"{"secret": "s"}"#, "client_id is required"),
        (
            "resources",
            r#"{"tenant": "nobody", "app_id_uri": "api://x"}"#,
            "unknown tenant 'nobody'",
        ),
    ] {
        let r = answer(
            http.post(format!("{base}/_mock/{path}"))
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 400, "{path} {body}: {}", r.text);
        assert!(r.text.contains(says), "{path} {body}: {}", r.text);
    }
}

#[tokio::test]
async fn id_token_nonce_mode_through_the_control_route() {
    let mock = MockServer::spawn(MockConfig::default());
    let http = http_for(&mock);
    let url = format!("{}/_mock/id_token", mock.base_url());
    assert_eq!(mock.user_flows_summary()["id_token_nonce"], "echo");
    let set = |nonce: &str| http.post(&url).json(&json!({ "nonce": nonce })).send();
    let r = answer(set("other").await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["nonce"], "other");
    let r = answer(set("random").await.unwrap()).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(mock.user_flows_summary()["id_token_nonce"], "other", "unchanged");
    mock.set_id_token_nonce(aadtoken_mock::NonceMode::Omit);
    assert_eq!(mock.user_flows_summary()["id_token_nonce"], "omit");
}

#[tokio::test]
async fn several_mocks_are_independent_and_async_start_works() {
    let a = MockServer::spawn(MockConfig::default());
    let b = MockServer::start(MockConfig::default().with_token_lifetime(60))
        .await
        .unwrap();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.ca_pem(), b.ca_pem());
    assert_ne!(a.ca_file(), b.ca_file());
    assert_ne!(a.signing_kid(), b.signing_kid());

    let ha = http_for(&a);
    let hb = http_for(&b);
    let ta = post_form(&ha, &a.token_url(TENANT_ID), &good_form()).await;
    let tb = post_form(&hb, &b.token_url(TENANT_ID), &good_form()).await;
    assert_eq!(tb.json()["expires_in"], 60);
    let jwt_a = ta.json()["access_token"].as_str().unwrap().to_string();
    assert!(a.verify_token(&jwt_a).is_ok());
    assert!(b.verify_token(&jwt_a).is_err());
    assert_eq!(a.token_requests(), 1);
    assert_eq!(b.token_requests(), 1);

    // A client trusting only A's CA cannot talk to B.
    assert!(ha
        .get(format!("{}/_mock/counters", b.base_url()))
        .send()
        .await
        .is_err());

    let ca_file = a.ca_file().to_path_buf();
    let port = a.port();
    drop(a);
    assert!(!ca_file.exists(), "temporary CA file removed on drop");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    drop(b);
}

#[test]
fn binary_serves_until_sigterm() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let port_file = dir.path().join("port");
    let child = Command::new(env!("CARGO_BIN_EXE_aadtoken-mock"))
        .arg("--ca-out")
        .arg(&ca)
        .arg("--port-file")
        .arg(&port_file)
        .arg("--token-lifetime")
        .arg("77")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let port: u16 = loop {
        if let Ok(s) = std::fs::read_to_string(&port_file) {
            break s.trim().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "mock binary did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE"));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let cfg =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(cfg)
            .build()
            .unwrap();
        let a = post_form(
            &http,
            &format!("https://localhost:{port}/{TENANT_DOMAIN}/oauth2/v2.0/token"),
            &good_form(),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.json()["expires_in"], 77);
    });

    let st = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first = stdout.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "aadtoken-mock listening on https://127.0.0.1:{port} (CA: {})",
            ca.display()
        )
    );
    assert!(stdout.contains(TENANT_ID) && stdout.contains(CLIENT_ID) && stdout.contains(SCOPE));
    assert!(
        !stdout.contains(CLIENT_SECRET),
        "secret printed without --print-fixture"
    );
}
