//! Drives the C tests of the Oracle adapters against the mock Entra ID server:
//! `tests/c/oracle_test.c` (the ODPI-C callback through ODPI-C's own types, the borrowed token
//! for OCI, the token file and its keeper, claims) and `examples-c/oci_token_pool.c` linked with
//! a fake OCI (`tests/c/oci_fake.c`). Built with `-std=c99 -Wall -Wextra -Wpedantic -Werror`
//! against `include/aadtoken.h` and the fresh `libaadtoken.so`; each phase runs as its own
//! process, normally and under valgrind (no errors, no definite leaks).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use aadtoken_mock::{MockConfig, MockServer, CLIENT_ID, CLIENT_SECRET, OTHER_SCOPE, SCOPE, TENANT_ID};
use common::target_dir;

fn compile(name: &str, sources: &[&str]) -> PathBuf {
    common::compile_c(name, sources, &[])
}

fn oracle_test() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| compile("oracle_test", &["tests/c/oracle_test.c"]))
}

fn oci_example() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        compile(
            "oci_token_pool",
            &["examples-c/oci_token_pool.c", "tests/c/oci_fake.c"],
        )
    })
}

/// A fresh private directory for one phase (left in target/ for inspection).
fn phase_dir(phase: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = target_dir().join("c-tests").join(format!(
        "oracle-{phase}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

fn command(bin: &Path, valgrind: bool) -> Command {
    if valgrind {
        common::valgrind(bin)
    } else {
        Command::new(bin)
    }
}

fn clean_env(cmd: &mut Command) {
    for var in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_AUTHORITY_HOST",
        "AADTOKEN_SETTINGS",
        "AADTOKEN_FAKE_OCI_EXPIRE",
    ] {
        cmd.env_remove(var);
    }
}

fn run_phase(mock: &MockServer, phase: &str, valgrind: bool) -> String {
    let mut cmd = command(oracle_test(), valgrind);
    clean_env(&mut cmd);
    cmd.arg(phase)
        .env("AADTOKEN_TEST_AUTHORITY", mock.base_url())
        .env("AADTOKEN_TEST_CA", mock.ca_file())
        .env("AADTOKEN_TEST_TENANT", TENANT_ID)
        .env("AADTOKEN_TEST_CLIENT", CLIENT_ID)
        .env("AADTOKEN_TEST_SECRET", CLIENT_SECRET)
        .env("AADTOKEN_TEST_SCOPE", SCOPE)
        .env("AADTOKEN_TEST_OTHER_SCOPE", OTHER_SCOPE)
        .env("AADTOKEN_TEST_DIR", phase_dir(phase));
    let out = cmd.output().expect("run oracle_test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "oracle_test {phase} (valgrind: {valgrind}) failed with {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(&format!("{phase}: ")),
        "no summary line:\n{stdout}"
    );
    if !valgrind {
        assert!(
            stderr.is_empty(),
            "the library must not write to stderr, got:\n{stderr}"
        );
    }
    stdout
}

fn run_oci_example(mock: &MockServer, expire_every_time: bool, valgrind: bool) -> String {
    let mut cmd = command(oci_example(), valgrind);
    clean_env(&mut cmd);
    cmd.env("AZURE_TENANT_ID", TENANT_ID)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .env("AZURE_AUTHORITY_HOST", mock.base_url())
        .env(
            "AADTOKEN_SETTINGS",
            format!("scope={SCOPE}; ca_file={}", mock.ca_file().display()),
        );
    if expire_every_time {
        cmd.env("AADTOKEN_FAKE_OCI_EXPIRE", "1");
    }
    let out = cmd.output().expect("run oci_token_pool");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "oci_token_pool (valgrind: {valgrind}) failed with {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout
}

#[test]
fn odpi_callback_called_as_odpi_c_calls_it() {
    let mock = MockServer::spawn(MockConfig::default());
    run_phase(&mock, "odpi", false);
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
    let mock = MockServer::spawn(MockConfig::default());
    run_phase(&mock, "borrow", false);
    assert_eq!(mock.token_requests(), 2, "one per scope; the rest cached");
}

#[test]
fn token_file_through_the_c_abi() {
    let mock = MockServer::spawn(MockConfig::default());
    run_phase(&mock, "token-file", false);
}

#[test]
fn keeper_through_the_c_abi() {
    let mock = MockServer::spawn(MockConfig::default());
    run_phase(&mock, "keeper", false);
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
    let mock = MockServer::spawn(MockConfig::default());
    run_phase(&mock, "claims", false);
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
