//! Managed-identity endpoints are reached directly, never through a proxy (IMDS must not be
//! proxied), while Entra ID requests keep honouring HTTP(S)_PROXY. Its own test binary: it
//! changes the process environment.

use aadtoken_core::{Client, Config, ErrorKind};
use aadtoken_mock::{
    ManagedIdentityMock, MockConfig, MockServer, CLIENT_ID, CLIENT_SECRET, SCOPE, TENANT_ID,
};

#[test]
fn managed_identity_bypasses_the_proxy_that_entra_requests_use() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // SAFETY of set_var: this test binary has a single test, so no other thread reads the env.
    unsafe {
        for v in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            std::env::set_var(v, format!("http://127.0.0.1:{closed}"));
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }
    let mi = ManagedIdentityMock::spawn();
    let mut c = Config::new();
    c.parse(&format!(
        "auth_method=managed_identity;scope={SCOPE};managed_identity_endpoint={}",
        mi.base_url()
    ))
    .unwrap();
    c.load_env_from(|_| None).unwrap();
    let token = Client::new(&c).unwrap().get_token(None).unwrap();
    assert!(mi.verify_token(token.secret()).is_ok());
    assert_eq!(mi.requests().len(), 1);

    // The same process's Entra ID requests go to the (dead) proxy.
    let mock = MockServer::spawn(MockConfig::default());
    let mut c = Config::new();
    c.set("authority_host", mock.base_url()).unwrap();
    c.set("ca_file", mock.ca_file().to_str().unwrap()).unwrap();
    c.parse(&format!(
        "tenant_id={TENANT_ID};client_id={CLIENT_ID};client_secret={CLIENT_SECRET};scope={SCOPE}"
    ))
    .unwrap();
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert_eq!(mock.token_requests(), 0);
}
