//! Every non-interactive credential kind through the Rust API against the mocks: certificate,
//! client assertion (workload identity), managed identity (IMDS, App Service 2019 and 2017,
//! Azure Arc, Cloud Shell), username/password, the `auto` chain, full authority URLs and a
//! generic OpenID Connect issuer — and their main failure modes.
//! (Each test starts its own mock, so its authority — and cache partition — is its own.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{self, platform_config, with_platform};
use crate::creds::{federated_credential, federated_token, temp_dir, TestCert, FED_ISSUER};
use aadtoken_core::{Client, Config, ErrorKind};
use aadtoken_mock::{
    Client as MockClient, ClientAuthMethod, ManagedIdentityMock, MockConfig, MockServer, CLIENT_ID,
    CLIENT_SECRET, SCOPE, TENANT_ID, USERNAME, USER_PASSWORD,
};

/// An app registered with a certificate (and nothing else).
const CERT_APP: &str = "66666666-6666-6666-6666-666666666666";

fn base(mock: &MockServer, settings: &str) -> Config {
    common::mock_config(mock, &format!("tenant_id={TENANT_ID};scope={SCOPE};{settings}"))
}

/// Whether `pairs` (a logged form, query or headers) hold `key` with `value`.
fn has(pairs: &[(String, String)], key: &str, value: &str) -> bool {
    pairs.iter().any(|(k, v)| k == key && v == value)
}

fn cert_mock(cert: &TestCert) -> MockServer {
    let mock = MockServer::spawn(MockConfig::default());
    mock.add_client(
        TENANT_ID,
        MockClient::new(CERT_APP).with_certificate(cert.cert_der.clone()),
    );
    mock
}

/// A config of [`CERT_APP`] signing with `signer`, written as `file` in `dir`.
fn cert_config(mock: &MockServer, signer: &TestCert, dir: &Path, file: &str) -> Config {
    let path = signer.write_pem(dir, file);
    base(
        mock,
        &format!("client_id={CERT_APP};certificate_path={}", path.display()),
    )
}

/// A mock that knows `registered` as [`CERT_APP`]'s certificate, and a config of
/// [`CERT_APP`] signing with `signer`, written as `app.pem` in the new temp dir `dir_name`
/// (returned third).
fn cert_app(registered: &TestCert, signer: &TestCert, dir_name: &str) -> (MockServer, Config, PathBuf) {
    let dir = temp_dir(dir_name);
    let mock = cert_mock(registered);
    let c = cert_config(&mock, signer, &dir, "app.pem");
    (mock, c, dir)
}

#[test]
fn certificate_pem_signs_ps256_with_sha256_thumbprint() {
    let cert = TestCert::new("aadtoken-test-app");
    let (mock, c, dir) = cert_app(&cert, &cert, "cert-pem");
    let client = Client::new(&c).unwrap();
    assert_eq!(client.credential().kind_name(), "certificate");
    let token = client.get_token(None).unwrap();
    assert_eq!(mock.verify_token(token.secret()).unwrap()["appid"], CERT_APP);
    let (header, claims) = mock.registry().assertions.last().unwrap();
    assert_eq!(header["alg"], "PS256");
    assert!(
        header["x5t#S256"].is_string() && header.get("x5t").is_none() && header.get("x5c").is_none(),
        "{header}"
    );
    assert_eq!(claims["aud"], mock.token_url(TENANT_ID));
    assert_eq!(
        (claims["iss"].as_str(), claims["sub"].as_str()),
        (Some(CERT_APP), Some(CERT_APP))
    );
    let (nbf, exp, iat) = (
        claims["nbf"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
        claims["iat"].as_i64().unwrap(),
    );
    assert_eq!((exp - nbf, iat), (600, nbf));
    let form = &mock.token_request_log()[0].form;
    assert!(has(
        form,
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ));
    assert!(!form.iter().any(|(k, _)| k == "client_secret"));
    // The assertion is reused while it has more than 60 s left (another scope, same jti).
    client.get_token(Some(aadtoken_mock::OTHER_SCOPE)).unwrap();
    assert_eq!(mock.registry().assertions.last().unwrap().1["jti"], claims["jti"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn certificate_pfx_rs256_with_chain() {
    let cert = TestCert::new("aadtoken-test-app");
    let dir = temp_dir("cert-pfx");
    let path = cert.write_pfx(&dir, "app.pfx", "pfx-pass");
    let mock = cert_mock(&cert);
    let c = base(
        &mock,
        &format!(
            "client_id={CERT_APP};certificate_path={};certificate_password=pfx-pass;assertion_alg=RS256;send_certificate_chain=true",
            path.display()
        ),
    );
    Client::new(&c).unwrap().get_token(None).unwrap();
    let (header, _) = mock.registry().assertions.last().unwrap();
    assert_eq!(header["alg"], "RS256");
    assert!(
        header["x5t"].is_string() && header.get("x5t#S256").is_none(),
        "{header}"
    );
    assert_eq!(header["x5c"].as_array().unwrap().len(), 1);

    // A wrong password names the setting and never shows the password.
    let c = base(
        &mock,
        &format!(
            "client_id={CERT_APP};certificate_path={};certificate_password=nope-pass",
            path.display()
        ),
    );
    let e = Client::new(&c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSetting);
    assert!(
        e.message().contains("certificate_password") && !e.message().contains("nope-pass"),
        "{}",
        e.message()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn certificate_not_registered_is_aadsts700027_with_its_thumbprint() {
    let registered = TestCert::new("registered");
    let other = TestCert::new("other");
    let (_mock, c, dir) = cert_app(&registered, &other, "cert-wrong");
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidClient, "{e}");
    assert_eq!(e.aadsts(), &[700027]);
    common::assert_names(&e, &["Thumbprint of key used by client"]);
    assert!(e.correlation_id().is_some());
    let _ = std::fs::remove_dir_all(dir);
}

/// A token issuer (as AKS's) and a mock where [`CERT_APP`] trusts its tokens.
fn federated_mock() -> (TestCert, MockServer) {
    let issuer = TestCert::new("aks-issuer");
    let mock = MockServer::spawn(MockConfig::default());
    mock.add_client(
        TENANT_ID,
        MockClient::new(CERT_APP).with_federated(federated_credential(&issuer)),
    );
    (issuer, mock)
}

#[test]
fn workload_identity_file_is_reread_when_it_changes_and_an_expired_one_is_aadsts700024() {
    let (issuer, mock) = federated_mock();
    let dir = temp_dir("wi");
    let file = dir.join("azure-identity-token");
    std::fs::write(&file, federated_token(&issuer, 0, 3600)).unwrap();
    // The AKS webhook's variables.
    let c = with_platform(base(&mock, ""), &[]);
    let mut c = c;
    c.load_env_from(|n| match n {
        "AZURE_CLIENT_ID" => Some(CERT_APP.to_owned()),
        "AZURE_FEDERATED_TOKEN_FILE" => Some(file.display().to_string()),
        _ => None,
    })
    .unwrap();
    let client = Client::new(&c).unwrap();
    assert_eq!(
        client.credential().kind_name(),
        "workload identity (assertion file)"
    );
    let token = client.get_token(None).unwrap();
    assert_eq!(mock.verify_token(token.secret()).unwrap()["appid"], CERT_APP);
    let form = &mock.token_request_log()[0].form;
    assert!(has(form, "client_assertion", "<redacted>"));

    // Kubernetes rotates the file; here with an expired token (a different size, so it is
    // read again at once).
    std::fs::write(&file, format!("{}\n\n", federated_token(&issuer, -7200, -3600))).unwrap();
    let e = client.refresh_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidClient, "{e}");
    assert_eq!(e.aadsts(), &[700024]);
    common::assert_names(&e, &["not within its valid time range"]);

    // A missing file is a file error naming the setting.
    std::fs::remove_file(&file).unwrap();
    let e = client.refresh_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::File);
    assert!(e.message().contains("'assertion_file'"), "{}", e.message());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn federated_assertion_for_an_unknown_subject_is_aadsts70021() {
    let (issuer, mock) = federated_mock();
    let dir = temp_dir("wi-sub");
    let file = dir.join("token");
    let now = aadtoken_core::token::unix_now();
    let jwt = issuer.sign_jwt(&serde_json::json!({
        "aud": aadtoken_mock::FEDERATED_AUDIENCE, "iss": FED_ISSUER, "sub": "system:serviceaccount:other:sa",
        "iat": now, "nbf": now, "exp": now + 600,
    }));
    std::fs::write(&file, jwt).unwrap();
    let c = base(
        &mock,
        &format!("client_id={CERT_APP};assertion_file={}", file.display()),
    );
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.aadsts(), &[70021], "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn password_grant_gives_a_user_token_and_a_bad_password_is_aadsts50126() {
    let mock = MockServer::spawn(MockConfig::default());
    let settings = format!("client_id={CLIENT_ID};client_secret={CLIENT_SECRET};auth_method=password;username={USERNAME};password={USER_PASSWORD}");
    let token = Client::new(&base(&mock, &settings))
        .unwrap()
        .get_token(None)
        .unwrap();
    let claims = mock.verify_token(token.secret()).unwrap();
    assert_eq!(claims["upn"], USERNAME);
    assert_eq!(claims["scp"], "user_impersonation");
    let log = &mock.token_request_log()[0];
    assert!(has(&log.form, "grant_type", "password"));
    assert!(has(&log.form, "password", "<redacted>"));

    let mut c = base(&mock, &settings);
    c.set("password", "wrong-password-value").unwrap();
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidGrant, "{e}");
    assert_eq!(e.aadsts(), &[50126]);
    assert!(
        !e.message().contains("wrong-password-value") && !format!("{c:?}").contains("wrong-password-value")
    );
}

fn imds_config(mi: &ManagedIdentityMock, settings: &str) -> Config {
    platform_config(
        &format!(
            "auth_method=managed_identity;scope={SCOPE};managed_identity_endpoint={};{settings}",
            mi.base_url()
        ),
        &[],
    )
}

/// Managed identity for [`SCOPE`], without platform variables yet.
fn mi_config() -> Config {
    let mut c = Config::new();
    c.parse(&format!("auth_method=managed_identity;scope={SCOPE}"))
        .unwrap();
    c
}

/// A client of [`imds_config`].
fn imds_client(mi: &ManagedIdentityMock, settings: &str) -> Client {
    Client::new(&imds_config(mi, settings)).unwrap()
}

#[test]
fn imds_system_assigned_token_with_half_life_refresh() {
    let mi = ManagedIdentityMock::spawn();
    let client = imds_client(&mi, "");
    let token = client.get_token(None).unwrap();
    let claims = mi.verify_token(token.secret()).unwrap();
    assert_eq!(claims["aud"], "api://oracle-db");
    assert_eq!(claims["oid"], mi.system_assigned().object_id);
    let req = &mi.requests()[0];
    assert_eq!((req.source, req.method.as_str()), ("imds", "GET"));
    assert!(has(&req.headers, "metadata", "true"));
    assert_eq!(
        req.query,
        vec![
            ("api-version".to_owned(), "2018-02-01".to_owned()),
            ("resource".to_owned(), "api://oracle-db".to_owned())
        ]
    );
    // A 24-hour token is renewed at half its life (minus jitter), not near expiry.
    let life = token.expires_on() - token.issued_at();
    assert!((86_000..=86_400).contains(&life), "{life}");
    let half = token.issued_at() + life / 2;
    assert!(
        token.refresh_on() <= half && token.refresh_on() > half - 120,
        "{} vs {half}",
        token.refresh_on()
    );
    // Exactly one resource per managed identity token.
    let e = client
        .get_token(Some("api://a/.default api://b/.default"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidScope);
}

#[test]
fn user_assigned_selectors_go_in_each_source_s_parameter() {
    let mi = ManagedIdentityMock::spawn();
    let uami = mi.user_assigned();
    let app = [
        ("IDENTITY_ENDPOINT", mi.app_service_endpoint()),
        ("IDENTITY_HEADER", mi.identity_header().to_owned()),
    ];
    for (setting, value, imds_param, app_param) in [
        (
            "managed_identity_client_id",
            &uami.client_id,
            "client_id",
            "client_id",
        ),
        (
            "managed_identity_object_id",
            &uami.object_id,
            "object_id",
            "object_id",
        ),
        (
            "managed_identity_resource_id",
            &uami.resource_id,
            "msi_res_id",
            "mi_res_id",
        ),
    ] {
        // IMDS
        mi.clear_requests();
        let c = imds_config(&mi, &format!("{setting}={value}"));
        let token = Client::new(&c).unwrap().get_token(None).unwrap();
        assert_eq!(mi.verify_token(token.secret()).unwrap()["oid"], uami.object_id);
        let q = &mi.requests()[0].query;
        assert!(has(q, imds_param, value), "{setting}: {q:?}");
        // App Service
        mi.clear_requests();
        let c = platform_config(
            &format!("auth_method=managed_identity;scope={SCOPE};{setting}={value}"),
            &app,
        );
        let token = Client::new(&c).unwrap().get_token(None).unwrap();
        assert_eq!(mi.verify_token(token.secret()).unwrap()["oid"], uami.object_id);
        let req = &mi.requests()[0];
        assert_eq!(req.source, "app_service");
        assert!(has(&req.query, app_param, value), "{setting}: {:?}", req.query);
        assert!(has(&req.query, "api-version", "2019-08-01"));
        assert!(has(&req.headers, "x-identity-header", "<redacted>"));
    }
    // An identity the host does not have: IMDS's answer, as an error.
    let c = imds_config(
        &mi,
        "managed_identity_client_id=99999999-9999-9999-9999-999999999999",
    );
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.http_status(), Some(400));
    common::assert_names(&e, &["Identity not found", "IMDS"]);
}

#[test]
fn imds_410_is_retried_until_it_answers() {
    let mi = ManagedIdentityMock::spawn();
    mi.fail_next(2, 410);
    let start = Instant::now();
    let token = imds_client(&mi, "").get_token(None).unwrap();
    assert!(!token.secret().is_empty());
    let statuses: Vec<u16> = mi.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![410, 410, 200]);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(3),
        "backoff 1 s then 2 s: {waited:?}"
    );
    // Within the caller's deadline: a 2 s timeout ends the retries.
    mi.fail_next(20, 410);
    let start = Instant::now();
    let e = imds_client(&mi, "timeout_ms=2000")
        .refresh_token(None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[test]
fn app_service_with_a_wrong_header_is_refused_and_the_header_never_shown() {
    let mi = ManagedIdentityMock::spawn();
    let c = platform_config(
        &format!("auth_method=managed_identity;scope={SCOPE}"),
        &[
            ("IDENTITY_ENDPOINT", mi.app_service_endpoint()),
            ("IDENTITY_HEADER", "wrong-identity-header".to_owned()),
        ],
    );
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.http_status(), Some(401));
    common::assert_names(&e, &["App Service", "X-IDENTITY-HEADER"]);
    assert!(!e.message().contains("wrong-identity-header"));
}

#[test]
fn app_service_2017_date_expiry_and_cloud_shell_post() {
    let mi = ManagedIdentityMock::spawn();
    let c = mi_config();
    let c2017 = with_platform(
        c.clone(),
        &[
            ("MSI_ENDPOINT", mi.app_service_2017_endpoint()),
            ("MSI_SECRET", mi.msi_secret().to_owned()),
        ],
    );
    let token = Client::new(&c2017).unwrap().get_token(None).unwrap();
    let exp = mi.verify_token(token.secret()).unwrap()["exp"].as_i64().unwrap();
    assert_eq!(token.expires_on(), exp, "expires_on read from the date string");
    assert_eq!(mi.requests()[0].source, "app_service_2017");

    let shell = with_platform(c, &[("MSI_ENDPOINT", mi.cloud_shell_endpoint())]);
    let token = Client::new(&shell).unwrap().get_token(None).unwrap();
    assert_eq!(mi.verify_token(token.secret()).unwrap()["aud"], "api://oracle-db");
    let req = mi
        .requests()
        .into_iter()
        .find(|r| r.source == "cloud_shell")
        .unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.form,
        vec![("resource".to_owned(), "api://oracle-db".to_owned())]
    );
}

#[test]
fn arc_challenge_reads_the_key_file_only_from_the_allowed_directory() {
    let mi = ManagedIdentityMock::spawn();
    let mut c = Config::new();
    c.parse(&format!(
        "auth_method=managed_identity;scope={SCOPE};arc_key_dir_for_tests={}",
        mi.arc_key_dir().display()
    ))
    .unwrap();
    let vars = [
        ("IDENTITY_ENDPOINT", mi.arc_endpoint()),
        ("IMDS_ENDPOINT", mi.base_url()),
    ];
    let c = with_platform(c, &vars);
    let token = Client::new(&c).unwrap().get_token(None).unwrap();
    assert!(mi.verify_token(token.secret()).is_ok());
    let statuses: Vec<(u16, bool)> = mi
        .requests()
        .iter()
        .map(|r| (r.status, r.headers.iter().any(|(k, _)| k == "authorization")))
        .collect();
    assert_eq!(statuses, vec![(401, false), (200, true)]);

    // The agent points at a file elsewhere: refused, and the file is never read.
    let elsewhere = temp_dir("arc-elsewhere");
    mi.set_arc_key_dir(&elsewhere);
    let e = Client::new(&c).unwrap().refresh_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsafePath, "{e}");
    common::assert_names(&e, &["outside the Azure Arc key directory"]);
    let _ = std::fs::remove_dir_all(elsewhere);
}

#[test]
fn auto_chain_reports_what_it_tried() {
    // Nothing configured, and nothing listens where IMDS would be.
    let port = common::closed_port();
    let c = platform_config(&format!(
        "auth_method=auto;scope={SCOPE};managed_identity_endpoint=http://127.0.0.1:{port};probe_timeout_ms=500"
    ), &[]);
    let start = Instant::now();
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(e.kind(), ErrorKind::MissingSetting, "{e}");
    let m = e.message();
    for part in [
        "auth_method=auto found no usable credential",
        "environment (client secret): not configured",
        "environment (certificate): not configured",
        "workload identity: not configured",
        "managed identity: unavailable, IMDS at",
    ] {
        assert!(m.contains(part), "missing '{part}' in: {m}");
    }

    // The environment's secret comes first and wins.
    let mock = MockServer::spawn(MockConfig::default());
    let mi = ManagedIdentityMock::spawn();
    let mut c = base(
        &mock,
        &format!("auth_method=auto;managed_identity_endpoint={}", mi.base_url()),
    );
    c.load_env_from(|n| match n {
        "AZURE_CLIENT_ID" => Some(CLIENT_ID.to_owned()),
        "AZURE_CLIENT_SECRET" => Some(CLIENT_SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let client = Client::new(&c).unwrap();
    client.get_token(None).unwrap();
    assert_eq!(client.credential_in_use().unwrap(), "client secret");
    assert!(
        mi.requests().is_empty(),
        "no probing once a credential is configured"
    );

    // A configured credential that is refused ends the search: no silent fallback to IMDS.
    c.set("client_secret", "not-the-secret").unwrap();
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidClient);
    assert!(
        e.message()
            .contains("environment (client secret) was tried and failed"),
        "{}",
        e.message()
    );
    assert!(mi.requests().is_empty());

    // Nothing in the environment: the managed identity (IMDS answers the probe).
    let mut c = Config::new();
    c.parse(&format!(
        "auth_method=auto;scope={SCOPE};probe_timeout_ms=20000;managed_identity_endpoint={}",
        mi.base_url()
    ))
    .unwrap();
    let client = Client::new(&with_platform(c, &[])).unwrap();
    client.get_token(None).unwrap();
    assert_eq!(client.credential_in_use().unwrap(), "managed identity");
}

#[test]
fn full_authority_url_and_a_generic_oidc_issuer() {
    let mock = MockServer::spawn(MockConfig::default());
    let mut c = Config::new();
    c.parse(&format!(
        "authority={}/{TENANT_ID};client_id={CLIENT_ID};client_secret={CLIENT_SECRET};scope={SCOPE};ca_file={}",
        mock.base_url(),
        mock.ca_file().display()
    ))
    .unwrap();
    Client::new(&c).unwrap().get_token(None).unwrap();
    assert_eq!(
        mock.token_request_log()[0].client_auth,
        ClientAuthMethod::ClientSecretPost
    );

    // OIDC: discovery, then HTTP Basic (the issuer lists client_secret_basic first).
    mock.clear_requests();
    let mut o = c.clone();
    o.parse(&format!(
        "authority_kind=oidc;authority={}/{TENANT_ID}/generic",
        mock.base_url()
    ))
    .unwrap();
    Client::new(&o).unwrap().get_token(None).unwrap();
    let routes: Vec<String> = mock.requests().iter().map(|r| r.route.clone()).collect();
    assert_eq!(routes, vec!["oidc_discovery", "token"]);
    assert_eq!(
        mock.token_request_log()[0].client_auth,
        ClientAuthMethod::ClientSecretBasic
    );

    // An issuer that takes only client_secret_post gets the secret in the body.
    mock.with_registry(|r| {
        r.tenant_mut(TENANT_ID).unwrap().oidc_auth_methods = vec!["client_secret_post".into()]
    });
    mock.clear_requests();
    Client::new(&o)
        .unwrap()
        .get_token(Some(aadtoken_mock::OTHER_SCOPE))
        .unwrap();
    assert_eq!(
        mock.token_request_log()[0].client_auth,
        ClientAuthMethod::ClientSecretPost
    );

    // A certificate needs private_key_jwt, which this issuer does not offer.
    let cert = TestCert::new("oidc-app");
    let dir = temp_dir("oidc-cert");
    let path = cert.write_pem(&dir, "app.pem");
    let mut oc = o.clone();
    oc.parse(&format!(
        "auth_method=certificate;certificate_path={}",
        path.display()
    ))
    .unwrap();
    let e = Client::new(&oc).unwrap().get_token(None).unwrap_err();
    assert!(e.message().contains("private_key_jwt"), "{}", e.message());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cache_keys_tell_credentials_apart() {
    let a = TestCert::new("a");
    let b = TestCert::new("b");
    let dir = temp_dir("cache-key");
    let mock = MockServer::spawn(MockConfig::default());
    mock.add_client(
        TENANT_ID,
        MockClient::new(CERT_APP)
            .with_certificate(a.cert_der.clone())
            .with_certificate(b.cert_der.clone()),
    );
    let ca = Client::new(&cert_config(&mock, &a, &dir, "a.pem")).unwrap();
    let cb = Client::new(&cert_config(&mock, &b, &dir, "b.pem")).unwrap();
    let ta = ca.get_token(None).unwrap();
    let tb = cb.get_token(None).unwrap();
    assert_ne!(ta.secret(), tb.secret());
    assert_eq!(mock.token_requests(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn service_fabric_is_https_pinned_to_its_thumbprint() {
    let mi = ManagedIdentityMock::spawn();
    let c = mi_config();
    let vars = |thumb: &str| {
        vec![
            ("IDENTITY_ENDPOINT", mi.service_fabric_endpoint()),
            ("IDENTITY_HEADER", mi.identity_header().to_owned()),
            ("IDENTITY_SERVER_THUMBPRINT", thumb.to_owned()),
        ]
    };
    let good = with_platform(c.clone(), &vars(mi.service_fabric_thumbprint()));
    let token = Client::new(&good).unwrap().get_token(None).unwrap();
    assert_eq!(mi.verify_token(token.secret()).unwrap()["aud"], "api://oracle-db");
    let req = &mi.requests()[0];
    assert_eq!(req.source, "service_fabric");
    assert!(has(&req.query, "api-version", "2019-07-01-preview"));
    assert!(has(&req.headers, "secret", "<redacted>"));

    // Any other certificate is refused, whatever CA signed it.
    let wrong = with_platform(c, &vars("00112233445566778899AABBCCDDEEFF00112233"));
    let e = Client::new(&wrong).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert_eq!(mi.requests().len(), 1, "nothing sent to an unpinned server");
}

/// The environment of a host with a complete client secret and `AZURE_CLIENT_ID`, plus `vars`.
fn secret_env_with(mock: &MockServer, settings: &str, vars: &[(&'static str, String)]) -> Config {
    let mut c = base(mock, settings);
    let mut all: Vec<(&str, String)> = vec![
        ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
    ];
    all.extend(vars.iter().cloned());
    c.load_env_from(|n| all.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
        .unwrap();
    c
}

#[test]
fn auto_skips_a_managed_identity_that_cannot_select_the_client_id_and_uses_the_secret_first() {
    // Cloud Shell, Azure Arc and Service Fabric hosts have no user-assigned identities; `auto`
    // takes AZURE_CLIENT_ID as one. The secret comes first and must still work.
    let mock = MockServer::spawn(MockConfig::default());
    let mi = ManagedIdentityMock::spawn();
    let hosts: [(&str, Vec<(&'static str, String)>); 3] = [
        ("Cloud Shell", vec![("MSI_ENDPOINT", mi.cloud_shell_endpoint())]),
        (
            "Azure Arc",
            vec![
                ("IDENTITY_ENDPOINT", mi.arc_endpoint()),
                ("IMDS_ENDPOINT", mi.base_url()),
            ],
        ),
        (
            "Service Fabric",
            vec![
                ("IDENTITY_ENDPOINT", mi.service_fabric_endpoint()),
                ("IDENTITY_HEADER", mi.identity_header().to_owned()),
                (
                    "IDENTITY_SERVER_THUMBPRINT",
                    mi.service_fabric_thumbprint().to_owned(),
                ),
            ],
        ),
    ];
    for (host, vars) in &hosts {
        let c = secret_env_with(&mock, "auth_method=auto", vars);
        let client = Client::new(&c).unwrap_or_else(|e| panic!("{host}: {e}"));
        // (refresh: the process-wide cache already holds this identity's token)
        client.refresh_token(None).unwrap();
        assert_eq!(client.credential_in_use(), Some("client secret"), "{host}");

        // Without the secret, the report says why the managed identity was skipped, naming
        // the setting the user did set.
        let mut c2 = base(&mock, "auth_method=auto");
        c2.set("client_id", CLIENT_ID).unwrap();
        let c2 = with_platform(c2, vars);
        let e = Client::new(&c2).unwrap().get_token(None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingSetting, "{host}: {e}");
        let m = e.message();
        assert!(
            m.contains("managed identity: skipped, cannot be used: setting 'client_id'")
                && m.contains(host)
                && !m.contains("managed_identity_client_id"),
            "{host}: {m}"
        );
    }
    assert!(mi.requests().is_empty());
}

#[test]
fn auto_treats_an_answer_that_is_not_imds_as_no_managed_identity() {
    // 169.254.169.254 answers a proxy's 403 page, as on other clouds and in sandboxes.
    let mi = ManagedIdentityMock::spawn();
    mi.inject(1, aadtoken_mock::MiFault::NotManagedIdentity { status: 403 });
    let c = platform_config(
        &format!(
            "auth_method=auto;scope={SCOPE};managed_identity_endpoint={}",
            mi.base_url()
        ),
        &[],
    );
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingSetting, "{e}");
    let m = e.message();
    assert!(
        m.starts_with("auth_method=auto found no usable credential"),
        "{m}"
    );
    assert!(
        m.contains("managed identity: unavailable, IMDS at")
            && m.contains("not a managed identity endpoint's answer")
            && m.contains("HTTP 403"),
        "{m}"
    );
    assert_eq!(mi.requests().len(), 1, "one probe, no retries");

    // A real IMDS error (JSON) is still the managed identity's failure.
    mi.inject(
        1,
        aadtoken_mock::MiFault::Status {
            status: 400,
            retry_after: None,
        },
    );
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert!(
        e.message().contains("managed identity was tried and failed"),
        "{e}"
    );
}

#[test]
fn auto_moves_past_an_imds_that_does_not_have_the_identity() {
    // A VM without a managed identity: IMDS answers 400 invalid_request "Identity not found".
    let mi = ManagedIdentityMock::spawn();
    mi.set_identities(vec![]);
    let ep = format!("managed_identity_endpoint={}", mi.base_url());
    let auto = platform_config(&format!("auth_method=auto;scope={SCOPE};{ep}"), &[]);
    let e = Client::new(&auto).unwrap().get_token(None).unwrap_err();
    // Unavailable, not "tried and failed": the chain goes on (managed identity is its last
    // candidate) and ends as when nothing is configured, its report naming IMDS's answer.
    assert_eq!(e.kind(), ErrorKind::MissingSetting, "{e}");
    common::assert_names(
        &e,
        &[
            "auth_method=auto found no usable credential",
            "environment (client secret): not configured",
            "workload identity: not configured",
            "managed identity: unavailable, IMDS at",
            "HTTP 400 invalid_request: Identity not found",
            "no system-assigned managed identity",
        ],
    );
    assert!(!e.message().contains("tried and failed"), "{e}");
    assert_eq!(mi.requests().len(), 1, "one probe, no retries of a 400");

    // The user-assigned identity auto takes from client_id is not assigned to the host: the
    // same, naming client_id.
    mi.set_identities(vec![mi.system_assigned()]);
    let mut c = Config::new();
    c.parse(&format!(
        "auth_method=auto;scope={SCOPE};{ep};client_id=99999999-9999-9999-9999-999999999999"
    ))
    .unwrap();
    let e = Client::new(&with_platform(c, &[]))
        .unwrap()
        .get_token(None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingSetting, "{e}");
    common::assert_names(
        &e,
        &[
            "managed identity: unavailable",
            "Identity not found",
            "client_id=99999999-9999-9999-9999-999999999999",
            "setting 'client_id'",
        ],
    );
}

#[test]
fn a_direct_managed_identity_that_imds_does_not_have_is_an_error_naming_the_setting() {
    // Configured directly, the managed identity's refusal is the error, naming what to check.
    let mi = ManagedIdentityMock::spawn();
    mi.set_identities(vec![]);
    let e = imds_client(&mi, "").get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IdentityProvider, "{e}");
    assert_eq!(e.http_status(), Some(400));
    assert_eq!(e.oauth_error(), Some("invalid_request"));
    common::assert_names(
        &e,
        &[
            "Identity not found",
            "no system-assigned managed identity",
            "managed_identity_client_id",
        ],
    );
    mi.set_identities(vec![mi.system_assigned(), mi.user_assigned()]);
    mi.clear_requests();
    let e = imds_client(
        &mi,
        "managed_identity_object_id=99999999-9999-9999-9999-999999999999",
    )
    .get_token(None)
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IdentityProvider, "{e}");
    common::assert_names(
        &e,
        &[
            "Identity not found",
            "object_id=99999999-9999-9999-9999-999999999999",
            "check setting 'managed_identity_object_id'",
        ],
    );
    assert_eq!(mi.requests().len(), 1, "IMDS's 400 is not retried");
}

#[test]
fn azure_token_credentials_narrows_the_chain_like_azure_identity() {
    let mock = MockServer::spawn(MockConfig::default());
    let mi = ManagedIdentityMock::spawn();
    let ep = format!("managed_identity_endpoint={}", mi.base_url());
    let with = |value: &str| {
        secret_env_with(
            &mock,
            &format!("auth_method=auto;{ep}"),
            &[("AZURE_TOKEN_CREDENTIALS", value.to_owned())],
        )
    };
    // ManagedIdentityCredential: the secret is left out, the managed identity used (and
    // AZURE_CLIENT_ID is its selector, as in azure-identity: the mock knows no such identity,
    // so IMDS answers "Identity not found" and the managed identity is unavailable, as
    // azure-identity's DefaultAzureCredential reports it).
    let e = Client::new(&with("managedidentitycredential"))
        .unwrap()
        .get_token(None)
        .unwrap_err();
    let m = e.message();
    assert!(
        m.contains("environment (client secret): excluded by auto_credentials (AZURE_TOKEN_CREDENTIALS=managedidentitycredential)")
            && m.contains("managed identity: unavailable")
            && m.contains("Identity not found"),
        "{m}"
    );
    let c = platform_config(
        &format!("auth_method=auto;scope={SCOPE};{ep}"),
        &[(
            "AZURE_TOKEN_CREDENTIALS",
            " ManagedIdentityCredential ".to_owned(),
        )],
    );
    let client = Client::new(&c).unwrap();
    client.get_token(None).unwrap();
    assert_eq!(client.credential_in_use(), Some("managed identity"));

    // EnvironmentCredential and prod keep the secret; WorkloadIdentityCredential leaves
    // nothing configured.
    for value in ["EnvironmentCredential", "prod", "PROD"] {
        let client = Client::new(&with(value)).unwrap();
        client.refresh_token(None).unwrap();
        assert_eq!(client.credential_in_use(), Some("client secret"), "{value}");
    }
    let e = Client::new(&with("WorkloadIdentityCredential"))
        .unwrap()
        .get_token(None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingSetting);
    assert!(
        e.message().contains("workload identity: not configured")
            && e.message().contains("managed identity: excluded by"),
        "{}",
        e.message()
    );

    // dev and developer-tool credentials: aadtoken has none; the client is refused naming the
    // variable.
    for value in ["dev", "AzureCliCredential", "visualstudiocodecredential"] {
        let e = Client::new(&with(value)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting, "{value}");
        common::assert_names(&e, &["AZURE_TOKEN_CREDENTIALS", "does not have it"]);
    }
    // Not an azure-identity value at all: load_env fails naming the variable.
    let mut c = Config::new();
    let e = c
        .load_env_from(|n| (n == "AZURE_TOKEN_CREDENTIALS").then(|| "laptop".to_owned()))
        .unwrap_err();
    common::assert_names(&e, &["AZURE_TOKEN_CREDENTIALS", "'prod', 'dev'"]);
    assert!(mi.requests().len() <= 3);
}

#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let mi = ManagedIdentityMock::spawn();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(40));
    mi.inject(
        1,
        aadtoken_mock::MiFault::Status {
            status: 400,
            retry_after: Some(date.clone()),
        },
    );
    let e = imds_client(&mi, "").get_token(None).unwrap_err();
    let after = e
        .retry_after()
        .unwrap_or_else(|| panic!("no Retry-After from '{date}': {e}"));
    assert!(
        (Duration::from_secs(30)..=Duration::from_secs(41)).contains(&after),
        "{date}: {after:?}"
    );
}

#[test]
fn a_renewed_certificate_file_is_read_again() {
    let old = TestCert::new("aadtoken-test-app");
    let new = TestCert::new("aadtoken-test-app-renewed");
    let (mock, c, dir) = cert_app(&old, &old, "cert-renewal");
    let client = Client::new(&c).unwrap();
    client.get_token(None).unwrap();
    let thumb = || {
        let last = mock.registry().assertions.last().unwrap().0.clone();
        last["x5t#S256"].as_str().unwrap().to_owned()
    };
    let of = |cert: &TestCert| {
        use base64::Engine as _;
        let sha = ring::digest::digest(&ring::digest::SHA256, &cert.cert_der);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha.as_ref())
    };
    assert_eq!(thumb(), of(&old));

    // The file is renewed in place with a certificate Entra does not know yet: the next
    // request signs with it (and is refused), although the old assertion had minutes left.
    new.write_pem(&dir, "app.pem");
    let e = client.refresh_token(None).unwrap_err();
    assert_eq!(e.aadsts(), &[700027], "{e}");

    // Once registered, it works; a file that cannot be parsed keeps the last good one.
    mock.add_client(
        TENANT_ID,
        MockClient::new(CERT_APP).with_certificate(new.cert_der.clone()),
    );
    client.refresh_token(None).unwrap();
    assert_eq!(thumb(), of(&new));
    std::fs::write(dir.join("app.pem"), "-----BEGIN CERTIFICATE-----\nhalf written").unwrap();
    client.refresh_token(None).unwrap();
    assert_eq!(thumb(), of(&new));
    let _ = std::fs::remove_dir_all(dir);
}

/// `aadtoken-mock` run as driver authors run it in their CI: killed when dropped.
struct MockProcess(std::process::Child);

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` (the managed-identity mock's control routes):
/// the status and the body.
fn http_request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.split(' ').nth(1).unwrap().parse().unwrap(), body.to_owned())
}

#[test]
fn the_standalone_mock_serves_each_managed_identity_source() {
    let bin = common::target_dir().join("debug/aadtoken-mock");
    assert!(
        bin.exists(),
        "{} not found: build it with `cargo build -p aadtoken-mock` (scripts/test.sh does)",
        bin.display()
    );
    for source in aadtoken_mock::MiSource::ALL {
        let dir = temp_dir("mock-bin-mi");
        let (env_file, arc_dir) = (dir.join("mi.env"), dir.join("arc"));
        std::fs::create_dir_all(&arc_dir).unwrap();
        let child = std::process::Command::new(&bin)
            .args(["--managed-identity", source.name(), "--mi-env-file"])
            .arg(&env_file)
            .arg("--arc-key-dir")
            .arg(&arc_dir)
            .arg("--ca-out")
            .arg(dir.join("ca.pem"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let _guard = MockProcess(child);
        common::wait_until(
            &format!("{}: the env file", source.name()),
            Duration::from_secs(30),
            || env_file.exists(),
        );
        let vars: Vec<(&str, String)> = std::fs::read_to_string(&env_file)
            .unwrap()
            .lines()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                let k: &'static str = Box::leak(k.to_owned().into_boxed_str());
                (k, v.to_owned())
            })
            .collect();
        let c = platform_config(
            &format!(
                "auth_method=managed_identity;scope={SCOPE};arc_key_dir_for_tests={}",
                arc_dir.display()
            ),
            &vars,
        );
        let client = Client::new(&c).unwrap_or_else(|e| panic!("{}: {e}", source.name()));
        let token = client
            .get_token(None)
            .unwrap_or_else(|e| panic!("{}: {e}", source.name()));
        assert!(!token.secret().is_empty());

        // Fault injection and the request log over HTTP, as another project's CI uses them.
        let url = &vars.iter().find(|(k, _)| *k == "AADTOKEN_MOCK_MI_URL").unwrap().1;
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let (status, body) = http_request(port, "POST", "/_mock/fail", r#"{"count":1,"status":503}"#);
        assert_eq!(status, 200, "{body}");
        client
            .refresh_token(None)
            .unwrap_or_else(|e| panic!("{}: {e}", source.name()));
        let (_, log) = http_request(port, "GET", "/_mock/requests", "");
        let log: serde_json::Value = serde_json::from_str(&log).unwrap();
        let statuses: Vec<u64> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_u64().unwrap())
            .filter(|s| *s != 401) // Azure Arc's challenge
            .collect();
        assert_eq!(statuses, [200, 503, 200], "{}: {log}", source.name());
        let _ = std::fs::remove_dir_all(dir);
    }
}
