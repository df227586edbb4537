//! Proxies come from the standard environment variables (HTTPS_PROXY, NO_PROXY), read when the
//! process-wide HTTP client is built. Its own test binary: it changes the process environment.

mod common;

use aadtoken_core::{Client, ErrorKind};
use aadtoken_mock::{MockConfig, MockServer};

fn client(mock: &MockServer, ca_file: &str) -> Client {
    Client::new(&common::mock_config_with_ca(
        mock,
        Some(ca_file),
        &common::app_settings(""),
    ))
    .unwrap()
}

#[test]
fn https_proxy_and_no_proxy_are_honoured() {
    let closed = common::closed_port();
    // SAFETY of set_var: this test binary has a single test, so no other thread reads the env.
    unsafe {
        std::env::set_var("HTTPS_PROXY", format!("http://127.0.0.1:{closed}"));
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }
    let mock = MockServer::spawn(MockConfig::default());
    let err = client(&mock, mock.ca_file().to_str().unwrap())
        .get_token(None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!(
        mock.token_requests(),
        0,
        "the request went to the (dead) proxy, not the server"
    );

    // A different trust configuration builds a new HTTP client, which reads NO_PROXY.
    unsafe { std::env::set_var("NO_PROXY", "127.0.0.1") };
    let copy = std::env::temp_dir().join(format!("aadtoken-proxy-test-ca-{}.pem", std::process::id()));
    // The CA twice: a different set of trust anchors, hence a new HTTP client.
    std::fs::write(&copy, format!("{}\n{}", mock.ca_pem(), mock.ca_pem())).unwrap();
    let token = client(&mock, copy.to_str().unwrap()).get_token(None);
    std::fs::remove_file(&copy).ok();
    token.expect("NO_PROXY bypasses the proxy");
    assert_eq!(mock.token_requests(), 1);
}
