//! Drives the C tests of the Oracle adapters against the mock Entra ID server:
//! `tests/c/oracle_test.c` (the ODPI-C callback through ODPI-C's own types, the borrowed token
//! for OCI, the token file and its keeper, claims) and `examples-c/oci_token_pool.c` linked with
//! a fake OCI (`tests/c/oci_fake.c`). Built with `-std=c99 -Wall -Wextra -Wpedantic -Werror`
//! against `include/aadtoken.h` and the fresh `libaadtoken.so`; each phase runs as its own
//! process, normally and under valgrind (no errors, no definite leaks).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aadtoken_mock::{MockConfig, MockServer, CLIENT_ID};

use crate::common::{self, target_dir, Under};

fn oracle_test() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::compile_c_test("oracle_test", "oracle_test", &[]))
}

fn oci_example() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        common::compile_c(
            "oci_token_pool",
            &["examples-c/oci_token_pool.c", "tests/c/oci_fake.c"],
            &[],
        )
    })
}

fn under(valgrind: bool) -> Under {
    if valgrind {
        Under::Valgrind
    } else {
        Under::Plain
    }
}

/// A fresh private directory for one phase (left in target/ for inspection).
fn phase_dir(phase: &str) -> PathBuf {
    common::private_dir(&target_dir().join("c-tests"), &format!("oracle-{phase}"))
}

fn run_phase(mock: &MockServer, phase: &str, valgrind: bool) -> String {
    let mut cmd = common::c_phase(oracle_test(), phase, under(valgrind));
    common::mock_env(&mut cmd, mock).env("AADTOKEN_TEST_DIR", phase_dir(phase));
    common::run_phase(&mut cmd, phase, under(valgrind))
}

/// Run `phase` against a fresh mock, which is returned for the checks of what it saw.
fn run(phase: &str) -> MockServer {
    let mock = MockServer::spawn(MockConfig::default());
    run_phase(&mock, phase, false);
    mock
}

fn run_oci_example(mock: &MockServer, expire_every_time: bool, valgrind: bool) -> String {
    let mut cmd = common::test_program(oci_example(), under(valgrind));
    cmd.envs(mock.app_env());
    if expire_every_time {
        cmd.env("AADTOKEN_FAKE_OCI_EXPIRE", "1");
    }
    common::run_ok(&mut cmd, &format!("oci_token_pool (valgrind: {valgrind})")).0
}

#[test]
fn odpi_callback_called_as_odpi_c_calls_it() {
    let mock = run("odpi");
    // good client: first token + the explicit refresh; the failing client: one refused request
    assert_eq!(mock.token_requests_for(CLIENT_ID), 3);
    let refused = mock
        .token_request_log()
        .iter()
        .filter(|r| r.aadsts == Some(7000215))
        .count();
    assert_eq!(refused, 1, "a 4xx is asked once");
}

#[test]
fn borrowed_token_for_oci() {
    let mock = run("borrow");
    assert_eq!(mock.token_requests(), 2, "one per scope; the rest cached");
}

#[test]
fn token_file_through_the_c_abi() {
    run("token-file");
}

#[test]
fn keeper_through_the_c_abi() {
    run("keeper");
}

#[test]
fn keeper_rewrites_the_file_ahead_of_expiry_through_the_c_abi() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_token_lifetime(20);
    run_phase(&mock, "keeper-rewrite", false);
    assert!(mock.token_requests() >= 2);
}

#[test]
fn claims_through_the_c_abi() {
    run("claims");
}

#[test]
fn oci_pool_example_logs_on_with_tokens_from_the_callback() {
    let mock = MockServer::spawn(MockConfig::default());
    // The pool's token stays valid: the callback is never needed.
    let out = run_oci_example(&mock, false, false);
    assert_eq!(out.matches("logged on with a bearer token").count(), 3, "{out}");
    assert!(
        out.contains("session 3 logged on") && out.contains("token callback calls: 0"),
        "{out}"
    );
    // OCI finds the token expired at every session: it calls the callback, which lends the
    // cached token (one request in all).
    let out = run_oci_example(&mock, true, false);
    assert!(out.contains("(token callback calls: 3)"), "{out}");
    assert_eq!(mock.token_requests(), 2, "one token per run of the example");
}

/// Every phase again under valgrind: no memory errors, no definite leaks.
#[test]
fn valgrind_reports_no_errors_or_leaks() {
    let mock = MockServer::spawn(MockConfig::default());
    for phase in ["odpi", "borrow", "token-file", "keeper", "claims"] {
        run_phase(&mock, phase, true);
    }
    run_oci_example(&mock, true, true);
    let short = MockServer::spawn(MockConfig::default());
    short.set_token_lifetime(20);
    run_phase(&short, "keeper-rewrite", true);
}
