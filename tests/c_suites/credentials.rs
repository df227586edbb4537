//! Drives tests/c/credentials_test.c: every non-interactive credential kind end to end from C
//! against the mocks (certificate as PEM and as PFX from the environment, workload identity
//! from AKS's variables, a client-assertion callback, managed identity from IMDS, App Service,
//! App Service 2017, Azure Arc, Cloud Shell and Service Fabric, username/password, the `auto` chain, a generic
//! OIDC issuer), a refusal of each that can be refused, and all of it again under valgrind.
//! Compiled with `-std=c99 -Wall -Wextra -Wpedantic -Werror`; each phase is its own process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aadtoken_mock::{
    Client as MockClient, ManagedIdentityMock, MockConfig, MockServer, CLIENT_ID, CLIENT_SECRET, SCOPE,
    TENANT_ID, USERNAME, USER_PASSWORD,
};

use crate::common::{self, closed_port, Under};
use crate::creds::{federated_credential, federated_token, temp_dir, TestCert};

const APP: &str = "77777777-7777-7777-7777-777777777777";

fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::compile_c_test("credentials_test", "credentials_test", &[]))
}

/// One run of the C program.
struct Case {
    name: &'static str,
    phase: &'static str,
    settings: String,
    env: Vec<(&'static str, String)>,
}

fn run(case: &Case, valgrind: bool) -> String {
    let under = if valgrind { Under::Valgrind } else { Under::Plain };
    let mut cmd = common::c_phase(binary(), case.phase, under);
    cmd.env("AADTOKEN_TEST_SETTINGS", &case.settings);
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run credentials_test");
    let what = format!("{} ({})", case.name, case.phase);
    let stdout = common::checked_output(&what, under, out);
    assert!(stdout.contains(" passed, 0 failed"), "no summary:\n{stdout}");
    stdout
}

/// The mocks and files every case uses.
struct World {
    mock: MockServer,
    mi: ManagedIdentityMock,
    dir: PathBuf,
    cert_pem: PathBuf,
    cert_pfx: PathBuf,
    other_pem: PathBuf,
    token_file: PathBuf,
    assertion: String,
}

impl World {
    fn new() -> World {
        let dir = temp_dir("c-credentials");
        let cert = TestCert::new("c-test-app");
        let other = TestCert::new("unregistered");
        let issuer = TestCert::new("aks-issuer");
        let mock = MockServer::spawn(MockConfig::default());
        mock.add_client(
            TENANT_ID,
            MockClient::new(APP)
                .with_certificate(cert.cert_der.clone())
                .with_federated(federated_credential(&issuer)),
        );
        let token_file = dir.join("azure-identity-token");
        std::fs::write(&token_file, federated_token(&issuer, 0, 3600)).unwrap();
        World {
            cert_pem: cert.write_pem(&dir, "app.pem"),
            cert_pfx: cert.write_pfx(&dir, "app.pfx", "c-pfx-pass"),
            other_pem: other.write_pem(&dir, "other.pem"),
            assertion: federated_token(&issuer, 0, 3600),
            token_file,
            mi: ManagedIdentityMock::spawn(),
            mock,
            dir,
        }
    }

    /// Settings that reach the mock Entra ID.
    fn entra(&self, rest: &str) -> String {
        format!(
            "authority_host={};ca_file={};tenant_id={TENANT_ID};scope={SCOPE};{rest}",
            self.mock.base_url(),
            self.mock.ca_file().display()
        )
    }

    fn cases(&self) -> Vec<Case> {
        let mi = &self.mi;
        let mi_scope = format!("auth_method=managed_identity;scope={SCOPE}");
        vec![
            Case {
                name: "certificate (PEM)",
                phase: "token",
                settings: self.entra(&format!("client_id={APP};certificate_path={}", self.cert_pem.display())),
                env: vec![],
            },
            Case {
                name: "certificate (PFX from the environment, RS256, chain)",
                phase: "token",
                settings: format!("ca_file={};scope={SCOPE};assertion_alg=RS256", self.mock.ca_file().display()),
                env: vec![
                    ("AADTOKEN_TEST_LOAD_ENV", "1".into()),
                    ("AZURE_TENANT_ID", TENANT_ID.into()),
                    ("AZURE_CLIENT_ID", APP.into()),
                    ("AZURE_AUTHORITY_HOST", self.mock.base_url().into()),
                    ("AZURE_CLIENT_CERTIFICATE_PATH", self.cert_pfx.display().to_string()),
                    ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "c-pfx-pass".into()),
                    ("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true".into()),
                ],
            },
            Case {
                name: "certificate not registered",
                phase: "refused",
                settings: self.entra(&format!("client_id={APP};certificate_path={}", self.other_pem.display())),
                env: vec![("AADTOKEN_TEST_STATUS", "300".into()), ("AADTOKEN_TEST_AADSTS", "700027".into())],
            },
            Case {
                name: "workload identity (AKS variables)",
                phase: "token",
                settings: format!("ca_file={};scope={SCOPE}", self.mock.ca_file().display()),
                env: vec![
                    ("AADTOKEN_TEST_LOAD_ENV", "1".into()),
                    ("AZURE_TENANT_ID", TENANT_ID.into()),
                    ("AZURE_CLIENT_ID", APP.into()),
                    ("AZURE_AUTHORITY_HOST", self.mock.base_url().into()),
                    ("AZURE_FEDERATED_TOKEN_FILE", self.token_file.display().to_string()),
                ],
            },
            Case {
                name: "client-assertion callback",
                phase: "callback",
                settings: self.entra(&format!("client_id={APP};auth_method=client_assertion")),
                env: vec![("AADTOKEN_TEST_ASSERTION", self.assertion.clone())],
            },
            Case {
                name: "managed identity: IMDS (AZURE_POD_IDENTITY_AUTHORITY_HOST)",
                phase: "token",
                settings: mi_scope.clone(),
                env: vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", mi.base_url())],
            },
            Case {
                name: "managed identity: IMDS, user-assigned",
                phase: "token",
                settings: format!(
                    "{mi_scope};managed_identity_endpoint={};managed_identity_resource_id={}",
                    mi.imds_endpoint(),
                    mi.user_assigned().resource_id
                ),
                env: vec![],
            },
            Case {
                name: "managed identity: App Service",
                phase: "token",
                settings: mi_scope.clone(),
                env: vec![
                    ("IDENTITY_ENDPOINT", mi.app_service_endpoint()),
                    ("IDENTITY_HEADER", mi.identity_header().into()),
                ],
            },
            Case {
                name: "managed identity: App Service 2017",
                phase: "token",
                settings: mi_scope.clone(),
                env: vec![
                    ("MSI_ENDPOINT", mi.app_service_2017_endpoint()),
                    ("MSI_SECRET", mi.msi_secret().into()),
                ],
            },
            Case {
                name: "managed identity: Azure Arc",
                phase: "token",
                settings: format!("{mi_scope};arc_key_dir_for_tests={}", mi.arc_key_dir().display()),
                env: vec![("IDENTITY_ENDPOINT", mi.arc_endpoint()), ("IMDS_ENDPOINT", mi.base_url())],
            },
            Case {
                name: "managed identity: Cloud Shell",
                phase: "token",
                settings: mi_scope.clone(),
                env: vec![("MSI_ENDPOINT", mi.cloud_shell_endpoint())],
            },
            Case {
                name: "managed identity: Service Fabric (pinned HTTPS)",
                phase: "token",
                settings: mi_scope.clone(),
                env: vec![
                    ("IDENTITY_ENDPOINT", mi.service_fabric_endpoint()),
                    ("IDENTITY_HEADER", mi.identity_header().into()),
                    ("IDENTITY_SERVER_THUMBPRINT", mi.service_fabric_thumbprint().into()),
                ],
            },
            Case {
                name: "managed identity: App Service with a wrong header",
                phase: "refused",
                settings: mi_scope.clone(),
                env: vec![
                    ("IDENTITY_ENDPOINT", mi.app_service_endpoint()),
                    ("IDENTITY_HEADER", "c-wrong-identity-header".into()),
                    ("AADTOKEN_TEST_STATUS", "309".into()),
                    ("AADTOKEN_TEST_HIDDEN", "c-wrong-identity-header".into()),
                ],
            },
            Case {
                name: "username/password",
                phase: "token",
                settings: self.entra(&format!(
                    "client_id={CLIENT_ID};client_secret={CLIENT_SECRET};auth_method=password;username={USERNAME};password={USER_PASSWORD}"
                )),
                env: vec![],
            },
            Case {
                name: "username/password, wrong password",
                phase: "refused",
                settings: format!(
                    "authority_host={};ca_file={};tenant_id={TENANT_ID};scope={SCOPE};client_id={CLIENT_ID};client_secret={CLIENT_SECRET};auth_method=password",
                    self.mock.base_url(),
                    self.mock.ca_file().display()
                ),
                env: vec![
                    ("AADTOKEN_TEST_LOAD_ENV", "1".into()),
                    ("AZURE_USERNAME", USERNAME.into()),
                    ("AZURE_PASSWORD", "c-wrong-password".into()),
                    ("AADTOKEN_TEST_STATUS", "305".into()),
                    ("AADTOKEN_TEST_AADSTS", "50126".into()),
                    ("AADTOKEN_TEST_HIDDEN", "c-wrong-password".into()),
                ],
            },
            Case {
                name: "auto: the environment's secret",
                phase: "token",
                settings: format!(
                    "auth_method=auto;ca_file={};scope={SCOPE};managed_identity_endpoint={}",
                    self.mock.ca_file().display(),
                    mi.imds_endpoint()
                ),
                env: vec![
                    ("AADTOKEN_TEST_LOAD_ENV", "1".into()),
                    ("AZURE_TENANT_ID", TENANT_ID.into()),
                    ("AZURE_CLIENT_ID", CLIENT_ID.into()),
                    ("AZURE_CLIENT_SECRET", CLIENT_SECRET.into()),
                    ("AZURE_AUTHORITY_HOST", self.mock.base_url().into()),
                ],
            },
            Case {
                name: "auto: managed identity",
                phase: "token",
                // A generous probe: under valgrind on a loaded machine the first request of a
                // process takes far longer than the 1 s default.
                settings: format!("auth_method=auto;scope={SCOPE};probe_timeout_ms=20000"),
                env: vec![("MSAL_MANAGED_IDENTITY_ENDPOINT", mi.imds_endpoint())],
            },
            Case {
                name: "auto: nothing available",
                phase: "refused",
                settings: format!(
                    "auth_method=auto;scope={SCOPE};managed_identity_endpoint=http://127.0.0.1:{};probe_timeout_ms=300",
                    closed_port()
                ),
                env: vec![("AADTOKEN_TEST_STATUS", "103".into())],
            },
            Case {
                name: "generic OIDC issuer, client_secret_basic",
                phase: "token",
                settings: format!(
                    "authority_kind=oidc;authority={}/{TENANT_ID}/generic;ca_file={};client_id={CLIENT_ID};client_secret={CLIENT_SECRET};scope={SCOPE}",
                    self.mock.base_url(),
                    self.mock.ca_file().display()
                ),
                env: vec![],
            },
        ]
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn every_credential_kind_from_c() {
    let world = World::new();
    for case in world.cases() {
        let out = run(&case, false);
        assert!(!out.is_empty(), "{}", case.name);
    }
    // What the mocks saw: the certificate case signed PS256; the environment's PFX case RS256
    // with its chain (the last certificate assertion of that kind).
    let log = world.mock.token_request_log();
    assert!(log
        .iter()
        .any(|r| r.form_value("grant_type") == Some("password") && r.status == 200));
    let sources: std::collections::BTreeSet<&str> = world.mi.requests().iter().map(|r| r.source).collect();
    for s in [
        "imds",
        "app_service",
        "app_service_2017",
        "arc",
        "cloud_shell",
        "service_fabric",
    ] {
        assert!(sources.contains(s), "no {s} request: {sources:?}");
    }
}

#[test]
fn every_credential_kind_from_c_under_valgrind() {
    let world = World::new();
    for case in world.cases() {
        run(&case, true);
    }
}
