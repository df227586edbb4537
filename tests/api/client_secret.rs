//! The client credentials flow with a client secret, through the Rust API, against the mock:
//! what Entra answers in each case and what aadtoken makes of it.
//! (Each test starts its own mock, so its authority — and cache partition — is its own.)

use std::time::{Duration, Instant};

use aadtoken_core::{Client, Config, ErrorKind};

use crate::common::{app_client as client, closed_port};
use aadtoken_mock::{
    Fault, MockConfig, MockServer, RefreshIn, CLIENT_ID, CLIENT_SECRET, EXPIRED_CLIENT_ID,
    EXPIRED_CLIENT_SECRET, OTHER_SCOPE, SCOPE, TENANT_DOMAIN, TENANT_ID,
};

#[test]
fn token_is_a_jwt_for_the_resource_signed_by_the_tenant() {
    let mock = MockServer::spawn(MockConfig::default());
    let token = client(&mock, "").get_token(None).unwrap();
    let claims = mock
        .verify_token(token.secret())
        .expect("signature verifies against the JWKS");
    assert_eq!(claims["aud"], "api://oracle-db");
    assert_eq!(claims["tid"], TENANT_ID);
    assert_eq!(claims["appid"], CLIENT_ID);
    let lifetime = token.expires_on() - aadtoken_core::token::unix_now();
    assert!(
        (3590..=3600).contains(&lifetime),
        "expires_on from expires_in: {lifetime}"
    );
}

#[test]
fn tenant_by_domain_name_and_explicit_scopes() {
    let mock = MockServer::spawn(MockConfig::default());
    let c = client(&mock, &format!("tenant_id={TENANT_DOMAIN}"));
    let token = c.get_token(Some(OTHER_SCOPE)).unwrap();
    assert_eq!(
        mock.verify_token(token.secret()).unwrap()["aud"],
        "https://oracle.example.com/db"
    );
    // Scope order and repetition do not matter for the cache.
    let again = c
        .get_token(Some(&format!("{OTHER_SCOPE}  {OTHER_SCOPE}")))
        .unwrap();
    assert_eq!(again.secret(), token.secret());
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn expires_in_as_a_string_and_refresh_in() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_expires_in_as_string(true);
    mock.set_refresh_in(Some(RefreshIn::String(1800)));
    let token = client(&mock, "").get_token(None).unwrap();
    let now = aadtoken_core::token::unix_now();
    assert!((3590..=3600).contains(&(token.expires_on() - now)));
    // refresh_in, less a jitter of up to 60 s so that many processes do not refresh together
    let refresh_in = token.refresh_on() - now;
    assert!(
        (1735..=1800).contains(&refresh_in),
        "refresh_on from refresh_in: {refresh_in}"
    );
}

#[test]
fn a_token_inside_the_expiry_margin_is_renewed() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_token_lifetime(200);
    let c = client(&mock, "expiry_margin_s=300");
    let a = c.get_token(None).unwrap();
    let b = c.get_token(None).unwrap();
    assert_ne!(
        a.secret(),
        b.secret(),
        "a 200 s token is inside a 300 s margin: not served from cache"
    );
    assert_eq!(mock.token_requests(), 2);
    let c2 = client(&mock, "expiry_margin_s=100");
    let shared = c2.get_token(None).unwrap();
    assert_eq!(
        shared.secret(),
        b.secret(),
        "same identity, shared cache: with a 100 s margin the cached 200 s token is served"
    );
}

fn expect(mock: &MockServer, extra: &str, kind: ErrorKind, aadsts: u32, hint: &str) {
    let err = client(mock, extra).get_token(None).unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(err.aadsts().first(), Some(&aadsts), "{err}");
    assert!(err.message().contains(hint), "hint '{hint}' missing from: {err}");
    assert!(err.correlation_id().is_some_and(|c| c.len() == 36), "{err:?}");
    assert!(!err.to_string().contains(CLIENT_SECRET));
}

#[test]
fn entra_refusals_map_to_statuses_with_hints() {
    let mock = MockServer::spawn(MockConfig::default());
    expect(
        &mock,
        "client_secret=wrong-secret",
        ErrorKind::InvalidClient,
        7000215,
        "secret's ID instead of its value",
    );
    expect(
        &mock,
        &format!("client_id={EXPIRED_CLIENT_ID};client_secret={EXPIRED_CLIENT_SECRET}"),
        ErrorKind::InvalidClient,
        7000222,
        "has expired",
    );
    expect(
        &mock,
        "client_id=99999999-9999-9999-9999-999999999999",
        ErrorKind::UnauthorizedClient,
        700016,
        "check 'client_id'",
    );
    expect(
        &mock,
        "tenant_id=00000000-0000-0000-0000-000000000000",
        ErrorKind::TenantNotFound,
        90002,
        "tenant was not found",
    );
    expect(
        &mock,
        "scope=api://oracle-db/session",
        ErrorKind::InvalidScope,
        1002012,
        "/.default",
    );
    expect(
        &mock,
        "scope=api://no-such-db/.default",
        ErrorKind::InvalidResource,
        500011,
        "application ID URI",
    );
    assert_eq!(mock.token_requests(), 6, "no retries on 4xx");
}

#[test]
fn server_errors_and_malformed_answers() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.fail_next(2, Fault::status(500));
    let err = client(&mock, "").get_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError, "{err}");
    assert_eq!(err.http_status(), Some(500));
    assert_eq!(
        mock.token_requests(),
        2,
        "a 5xx without Retry-After is retried once"
    );

    mock.fail_next(1, Fault::MalformedBody);
    let err = client(&mock, "").get_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadResponse, "{err}");
    assert!(err.message().contains("not a JSON object"), "{err}");
}

#[test]
fn a_dropped_connection_is_retried_once_on_a_fresh_one() {
    let mock = MockServer::spawn(MockConfig::default());
    let c = client(&mock, "");
    mock.fail_next(1, Fault::Disconnect);
    c.get_token(None)
        .expect("the request is sent again after the connection dropped");
    assert_eq!(mock.token_requests(), 2);

    mock.fail_next(2, Fault::Disconnect);
    let err = c.refresh_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!(mock.token_requests(), 4, "one retry only");
}

#[test]
fn the_whole_call_is_bounded_by_timeout_ms() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_latency(Duration::from_secs(5));
    let started = Instant::now();
    let err = client(&mock, "timeout_ms=300").get_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.message().contains("timeout_ms=300"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "returned before the server answered"
    );
}

#[test]
fn nothing_listening_is_a_network_error() {
    let port = closed_port();
    let mut c = Config::new();
    c.parse(&format!(
        "authority_host=https://127.0.0.1:{port};tenant_id={TENANT_ID};client_id={CLIENT_ID};client_secret=x;scope={SCOPE}"
    ))
    .unwrap();
    let err = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(err.message().contains("could not reach"), "{err}");
}

#[test]
fn settings_are_checked_when_the_client_is_built() {
    let mut c = Config::new();
    c.parse(&format!("tenant_id=common;client_id={CLIENT_ID};client_secret=x"))
        .unwrap();
    let err = Client::new(&c).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSetting);
    assert!(err.message().contains("'tenant_id'"), "{err}");

    let mut c = Config::new();
    c.parse(&format!(
        "tenant_id={TENANT_ID};client_id={CLIENT_ID};client_secret=x"
    ))
    .unwrap();
    let client = Client::new(&c).unwrap();
    let err = client.get_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingSetting);
    assert!(err.message().contains("'scope'"), "{err}");
}
