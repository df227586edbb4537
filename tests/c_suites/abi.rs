//! Drives the C tests of the ABI (tests/c/abi_test.c) against the mock Entra ID server: builds
//! the C program against `include/aadtoken.h` and the freshly built `libaadtoken.so` with
//! `-std=c99 -Wall -Wextra -Wpedantic -Werror`, runs each phase as its own process (so each
//! starts with an empty process-wide cache), checks the mock's counters and request log after
//! each, and runs the phases again under valgrind with zero errors and zero definite leaks.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aadtoken_mock::{MockConfig, MockServer, CLIENT_ID, CLIENT_SECRET, OTHER_SCOPE, SCOPE, TENANT_ID};

use crate::common::{self, Under};

/// Build tests/c/abi_test.c once per test process, with the list of statuses it checks
/// (`abi_statuses.inc`) read from the header.
fn abi_test_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = common::target_dir().join("c-tests/abi-include");
        std::fs::create_dir_all(&dir).unwrap();
        let list: String = header_statuses()
            .iter()
            .map(|(name, _)| format!("{{{name}, \"{name}\"}},\n"))
            .collect();
        std::fs::write(dir.join("abi_statuses.inc"), list).unwrap();
        common::compile_c_test("abi_test", "abi_test", &[&format!("-I{}", dir.display())])
    })
}

/// Every status the header declares (`AADTOKEN_OK` and `AADTOKEN_ERR_*` with a number, as a
/// `#define` or an enumerator), in the header's order.
fn header_statuses() -> Vec<(String, u32)> {
    let header = std::fs::read_to_string(common::repo_root().join("include/aadtoken.h")).unwrap();
    let mut found = Vec::new();
    for line in header.lines() {
        let line = line.trim().trim_end_matches(',');
        let line = line.strip_prefix("#define ").unwrap_or(line);
        let mut parts = line
            .split(|c: char| c.is_whitespace() || c == '=')
            .filter(|p| !p.is_empty());
        let (Some(name), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let is_status = name == "AADTOKEN_OK" || name.starts_with("AADTOKEN_ERR_");
        let value = value
            .trim_start_matches("((aadtoken_status)")
            .trim_end_matches(')');
        if let (true, Ok(v)) = (is_status, value.parse::<u32>()) {
            found.push((name.to_owned(), v));
        }
    }
    found
}

#[test]
fn the_header_declares_every_status_once() {
    let statuses = header_statuses();
    assert!(
        statuses.len() >= 30,
        "statuses read from the header: {statuses:?}"
    );
    assert_eq!(statuses[0], ("AADTOKEN_OK".to_owned(), 0));
    let names: std::collections::BTreeSet<&str> = statuses.iter().map(|(n, _)| n.as_str()).collect();
    let values: std::collections::BTreeSet<u32> = statuses.iter().map(|(_, v)| *v).collect();
    assert_eq!(names.len(), statuses.len(), "a name twice: {statuses:?}");
    assert_eq!(values.len(), statuses.len(), "a number twice: {statuses:?}");
}

/// Run one phase of the C test against `mock`, optionally under valgrind; panics on failure.
fn run_phase(mock: &MockServer, phase: &str, valgrind: bool) -> String {
    let under = if valgrind { Under::Valgrind } else { Under::Plain };
    let mut cmd = common::c_phase(abi_test_binary(), phase, under);
    common::run_phase(common::mock_env(&mut cmd, mock), phase, under)
}

fn fresh_mock() -> MockServer {
    MockServer::spawn(MockConfig::default())
}

/// Run `phase` against a fresh mock, which is returned for the checks of what it saw.
fn run(phase: &str) -> MockServer {
    let mock = fresh_mock();
    run_phase(&mock, phase, false);
    mock
}

#[test]
fn token_obtained_through_the_c_abi() {
    let mock = run("success");
    assert_eq!(mock.token_requests(), 1);
    assert_eq!(mock.tokens_issued(), 1);
}

#[test]
fn request_is_what_entra_expects_and_the_secret_travels_only_in_the_body() {
    let mock = run("success");
    let log = mock.token_request_log();
    assert_eq!(log.len(), 1);
    let req = &log[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/{TENANT_ID}/oauth2/v2.0/token"));
    assert_eq!(req.status, 200);
    assert_eq!(req.form_value("grant_type"), Some("client_credentials"));
    assert_eq!(req.form_value("client_id"), Some(CLIENT_ID));
    assert_eq!(req.form_value("scope"), Some(SCOPE));
    assert_eq!(
        req.form_value("client_secret"),
        Some(aadtoken_mock::REDACTED),
        "secret sent in the body"
    );
    assert_eq!(
        req.secret_in,
        vec!["body".to_owned()],
        "the secret was sent only in the body"
    );
    assert!(
        req.query.as_deref().unwrap_or("").is_empty(),
        "no query string: {:?}",
        req.query
    );
    for (name, value) in &req.headers {
        assert!(
            !value.contains(aadtoken_mock::REDACTED_SECRET),
            "secret in header {name}"
        );
        assert!(!value.contains(CLIENT_SECRET), "secret in header {name}");
    }
    assert!(!req.path.contains(aadtoken_mock::REDACTED_SECRET));
    let header = |n: &str| req.header(n).unwrap_or_else(|| panic!("header {n} missing"));
    assert_eq!(
        uuid::Uuid::parse_str(header("client-request-id"))
            .unwrap()
            .get_version_num(),
        4
    );
    assert_eq!(header("return-client-request-id"), "true");
    assert_eq!(header("x-client-SKU"), "aadtoken");
    assert_eq!(header("x-client-Ver"), aadtoken::VERSION);
    assert!(header("content-type").starts_with("application/x-www-form-urlencoded"));
    assert_eq!(header("accept"), "application/json");
    assert!(
        req.header("authorization").is_none(),
        "no Authorization header with client_secret_post"
    );
}

#[test]
fn second_get_is_cached_and_refresh_asks_again() {
    let mock = run("cache");
    // first get + refresh; the second get, the twin client and the get after refresh are cached
    assert_eq!(mock.token_requests(), 2);
}

#[test]
fn another_scope_of_the_same_identity() {
    let mock = run("other-scope");
    assert_eq!(mock.token_request_log()[0].form_value("scope"), Some(OTHER_SCOPE));
}

#[test]
fn wrong_secret_gives_invalid_client_with_aadsts_and_correlation_id() {
    let mock = fresh_mock();
    let out = run_phase(&mock, "wrong-secret", false);
    assert_eq!(mock.token_requests(), 1, "a 4xx is not retried");
    let req = &mock.token_request_log()[0];
    assert_eq!(req.aadsts, Some(7000215));
    // The error's correlation id is the one the client sent.
    let sent = req.header("client-request-id").unwrap().to_owned();
    assert!(
        out.contains(&sent),
        "the message quotes the correlation id {sent}:\n{out}"
    );
}

#[test]
fn untrusted_ca_is_a_tls_error() {
    let mock = run("untrusted");
    assert_eq!(mock.token_requests(), 0, "no request got past the handshake");
}

/// Without `ca_file` the server is checked against the system's CA bundle (read on a library
/// thread while connecting): with the mock's CA as that bundle (`SSL_CERT_FILE`), it is trusted.
#[test]
fn without_ca_file_the_system_bundle_is_trusted() {
    let mock = fresh_mock();
    let mut cmd = common::c_phase(abi_test_binary(), "system-bundle", Under::Plain);
    cmd.env("SSL_CERT_FILE", mock.ca_file())
        .env_remove("SSL_CERT_DIR");
    common::run_phase(common::mock_env(&mut cmd, &mock), "system-bundle", Under::Plain);
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn argument_and_setting_errors_name_the_culprit() {
    let mock = run("args");
    assert_eq!(mock.token_requests(), 0);
}

#[test]
fn settings_from_the_environment() {
    let mock = run("env");
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn threads_sharing_one_client_make_one_request() {
    let mock = fresh_mock();
    mock.set_latency(std::time::Duration::from_millis(200));
    run_phase(&mock, "threads", false);
    assert_eq!(
        mock.token_requests(),
        1,
        "8 threads x 200 calls on a cold cache: one request"
    );
}

#[test]
fn async_get_through_the_c_abi() {
    let mock = run("async");
    assert_eq!(
        mock.token_requests(),
        1,
        "the second async get was served from the cache"
    );
}

#[test]
fn async_get_cancelled_and_cut_short_by_shutdown() {
    let mock = fresh_mock();
    mock.set_latency(std::time::Duration::from_secs(3));
    run_phase(&mock, "async-cancel", false);
}

#[test]
fn shutdown_joins_the_library_thread_and_the_library_keeps_working() {
    let mock = run("shutdown");
    assert_eq!(mock.token_requests(), 2);
}

#[test]
fn a_forked_child_gets_tokens_and_the_parent_keeps_working() {
    let mock = run("fork");
    assert_eq!(
        mock.token_requests(),
        3,
        "parent get, child refresh, parent refresh"
    );
}

#[test]
fn a_child_forked_while_a_request_is_in_flight_gets_its_own_token() {
    let mock = fresh_mock();
    mock.set_latency(std::time::Duration::from_millis(1500));
    run_phase(&mock, "fork-inflight", false);
    assert_eq!(
        mock.token_requests(),
        2,
        "the parent's request and the child's own (the child never joins the parent's)"
    );
}

/// Every phase again under valgrind: no memory errors, no definite leaks.
#[test]
fn valgrind_reports_no_errors_or_leaks() {
    let mock = fresh_mock();
    for phase in [
        "success",
        "cache",
        "wrong-secret",
        "untrusted",
        "args",
        "env",
        "threads",
    ] {
        run_phase(&mock, phase, true);
    }
}
