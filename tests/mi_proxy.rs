//! Managed-identity endpoints are reached directly, never through a proxy (IMDS must not be
//! proxied), while Entra ID requests keep honouring HTTP(S)_PROXY. Its own test binary: it
//! changes the process environment.

mod common;

use aadtoken_core::{Client, ErrorKind};
use aadtoken_mock::{ManagedIdentityMock, MockConfig, MockServer, SCOPE};

#[test]
fn managed_identity_bypasses_the_proxy_that_entra_requests_use() {
    let closed = common::closed_port();
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
    let c = common::platform_config(
        &format!(
            "auth_method=managed_identity;scope={SCOPE};managed_identity_endpoint={}",
            mi.base_url()
        ),
        &[],
    );
    let token = Client::new(&c).unwrap().get_token(None).unwrap();
    assert!(mi.verify_token(token.secret()).is_ok());
    assert_eq!(mi.requests().len(), 1);

    // The same process's Entra ID requests go to the (dead) proxy.
    let mock = MockServer::spawn(MockConfig::default());
    let c = common::app_config(&mock, "");
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert_eq!(mock.token_requests(), 0);
}
