//! Drives tests/c/signin_test.c: person sign-in end to end from C against the mock, without a
//! person — the device code through the prompt callback and the mock's approve route, the
//! browser flow through the open-URL callback completing the loopback redirect, silent refresh
//! after sign-in, the `_silent` exports of driver callbacks that never start a sign-in, a
//! second process reusing the persistent cache without signing in, two processes refreshing at
//! once without losing the rotated refresh token, and every failure
//! path (state mismatch, denied, PKCE mismatch, declined, expired, slow_down honoured, no
//! callback, revoked refresh token, garbled and loose cache files left untouched, cancel). Built
//! with `-std=c99 -Wall -Wextra -Wpedantic -Werror`; each phase is its own process; the phases
//! run again under valgrind.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use aadtoken_mock::{MockConfig, MockServer, CLIENT_ID, PUBLIC_CLIENT_ID, USERNAME};

use crate::common::{self, Under};

fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::compile_c_test("signin_test", "signin_test", &[]))
}

/// A private directory for a cache file.
fn cache_path(name: &str) -> PathBuf {
    common::private_dir(&std::env::temp_dir(), &format!("aadtoken-signin-{name}")).join("cache.json")
}

fn under(valgrind: bool) -> Under {
    if valgrind {
        Under::Valgrind
    } else {
        Under::Plain
    }
}

fn command(mock: &MockServer, phase: &str, valgrind: bool, cache: &Path) -> Command {
    let mut cmd = common::c_phase(binary(), phase, under(valgrind));
    common::mock_env(&mut cmd, mock)
        .env("AADTOKEN_TEST_APP_CLIENT", CLIENT_ID)
        .env("AADTOKEN_TEST_CLIENT", PUBLIC_CLIENT_ID)
        .env("AADTOKEN_TEST_USER", USERNAME)
        .env("AADTOKEN_TEST_BROWSER", common::mock_browser())
        .env("AADTOKEN_TEST_CACHE", cache);
    cmd
}

fn check(phase: &str, valgrind: bool, out: Output) -> String {
    common::check_phase(phase, under(valgrind), out)
}

fn run_phase(mock: &MockServer, phase: &str, valgrind: bool, cache: &Path) -> String {
    let out = command(mock, phase, valgrind, cache)
        .output()
        .expect("run signin_test");
    check(phase, valgrind, out)
}

fn mock() -> MockServer {
    let m = MockServer::spawn(MockConfig::default());
    m.set_device_code_timing(1, 60);
    m
}

fn run(phase: &str) -> MockServer {
    let m = mock();
    run_phase(&m, phase, false, &cache_path(phase));
    m
}

/// The grant types of the token requests the mock granted, in order.
fn granted(m: &MockServer) -> Vec<String> {
    m.token_request_log()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.form_value("grant_type").unwrap().to_owned())
        .collect()
}

#[test]
fn device_code_through_the_prompt_callback_and_the_approve_route() {
    let m = run("device");
    // Sign-in, the other scope's refresh, the explicit sign-in: three refresh tokens.
    assert_eq!(m.refresh_tokens_issued(), 3);
    assert_eq!(
        granted(&m),
        [
            "urn:ietf:params:oauth:grant-type:device_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ]
    );
}

#[test]
fn interactive_through_the_open_url_callback_and_the_loopback_redirect() {
    let m = run("interactive");
    assert_eq!(m.authorization_codes_issued(), 1);
    let log = m.token_request_log();
    assert_eq!(log[0].form_value("grant_type"), Some("authorization_code"));
    assert_eq!(log[1].form_value("grant_type"), Some("refresh_token"));
    let authorize = m.requests().into_iter().find(|r| r.route == "authorize").unwrap();
    let q = authorize.query.unwrap();
    assert!(
        q.contains("code_challenge_method=S256") && q.contains("state=") && q.contains("&nonce="),
        "{q}"
    );
}

#[test]
fn browser_failures_from_c() {
    let m = run("state-mismatch");
    assert_eq!(m.token_requests(), 0, "a mismatched state redeems nothing");
    let m = mock();
    m.deny_sign_ins();
    run_phase(&m, "denied", false, &cache_path("denied"));
    let m = run("pkce-mismatch");
    assert_eq!(m.token_request_log()[0].aadsts, Some(501481));
    let m = run("open-fails");
    assert_eq!(m.counters().total_requests, 0);
}

/// Without an open-URL callback aadtoken starts the system browser: `xdg-open` with the URL as
/// its one argument (the fake one here insists on exactly one, so a URL split by a shell would
/// fail), which plays the browser through the redirect. With no browser at all: status 510.
#[test]
fn the_system_browser_gets_the_url_as_one_argument() {
    let m = mock();
    let dir = cache_path("xdg").parent().unwrap().to_path_buf();
    let script = dir.join("xdg-open");
    let page = dir.join("page");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ $# -eq 1 ] || exit 9\nout=$('{b}' --ca-file '{ca}' \"$1\") || exit 8\n\
             loc=$(printf '%s\\n' \"$out\" | sed -n 's/^location: //p')\n\
             '{b}' \"$loc\" > '{page}' || exit 7\n",
            b = common::mock_browser().display(),
            ca = m.ca_file().display(),
            page = page.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = command(&m, "system-browser", false, &cache_path("sys"))
        .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
        .output()
        .unwrap();
    check("system-browser", false, out);
    let page = std::fs::read_to_string(&page).unwrap();
    assert!(
        page.starts_with("200\n") && page.contains("You can close this window"),
        "{page}"
    );
    assert_eq!(m.authorization_codes_issued(), 1);

    let empty = cache_path("nobrowser").parent().unwrap().to_path_buf();
    let out = command(&m, "no-browser", false, &cache_path("nb"))
        .env("PATH", empty)
        .output()
        .unwrap();
    check("no-browser", false, out);
}

#[test]
fn device_code_failures_from_c() {
    run("declined");
    let m = mock();
    m.set_device_code_timing(1, 2);
    run_phase(&m, "expired", false, &cache_path("expired"));
    let m = run("no-callback");
    assert_eq!(m.counters().total_requests, 0, "refused before any request");
    let m = run("revoked");
    assert_eq!(m.token_request_log().last().unwrap().aadsts, Some(70043));
}

#[test]
fn slow_down_is_honoured() {
    let m = mock();
    m.slow_down_first_polls(1);
    run_phase(&m, "slow-down", false, &cache_path("slow"));
    let polls: Vec<u64> = m.token_request_log().iter().map(|r| r.unix_ms).collect();
    assert_eq!(polls.len(), 2, "{polls:?}");
    assert!(
        polls[1] - polls[0] >= 5_900,
        "interval 1 s + 5 s, got {} ms",
        polls[1] - polls[0]
    );
}

/// The `_silent` exports a driver's token callback uses never wait for a person: with nobody
/// signed in they fail at once without a device code (the only one is the explicit sign-in's);
/// afterwards the refresh goes through the refresh token. For the application they are get and
/// refresh.
#[test]
fn the_silent_exports_never_start_a_sign_in() {
    let m = run("silent");
    assert_eq!(
        m.counters().requests_by_route.get("devicecode").copied(),
        Some(1),
        "only aadtoken_client_sign_in asked for a device code"
    );
    assert_eq!(
        granted(&m),
        [
            "urn:ietf:params:oauth:grant-type:device_code",
            "refresh_token",
            "refresh_token",
            "client_credentials",
            "client_credentials"
        ]
    );
}

#[test]
fn async_sign_in_is_cancelled() {
    run("async-cancel");
}

#[test]
fn a_second_process_reuses_the_persistent_cache_and_two_refresh_at_once() {
    let m = mock();
    let cache = cache_path("shared");
    run_phase(&m, "cache-write", false, &cache);
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        text.contains("\"version\": 1") && text.contains(USERNAME),
        "{text}"
    );
    let devicecode = |m: &MockServer| {
        m.counters()
            .requests_by_route
            .get("devicecode")
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(devicecode(&m), 1);
    run_phase(&m, "cache-read", false, &cache);
    assert_eq!(devicecode(&m), 1, "no second sign-in");

    // Two processes at once, each refreshing twice while the other does: the lock serialises
    // them and each uses the refresh token the other rotated (the mock refuses a used one).
    m.set_latency(Duration::from_millis(300));
    let spawn = || {
        command(&m, "cache-read", false, &cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    check("cache-read", false, a.wait_with_output().unwrap());
    check("cache-read", false, b.wait_with_output().unwrap());
    m.set_latency(Duration::ZERO);
    assert_eq!(
        m.counters().token_errors,
        0,
        "no refresh token was lost: {:?}",
        m.token_request_log()
    );
    run_phase(&m, "cache-read", false, &cache);
    assert_eq!(m.refresh_tokens_issued(), 1 + 2 * 4);
    assert_eq!(devicecode(&m), 1);

    // aadtoken_client_sign_out in a third process: the account leaves the file.
    run_phase(&m, "cache-sign-out", false, &cache);
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        !text.contains(USERNAME) && text.contains("\"accounts\": []"),
        "{text}"
    );
}

#[test]
fn garbled_and_loose_cache_files_are_refused_and_left_untouched() {
    let m = mock();
    let cache = cache_path("garbled");
    std::fs::write(&cache, b"{ this is not a cache").unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o600)).unwrap();
    run_phase(&m, "cache-garbled", false, &cache);
    assert_eq!(std::fs::read(&cache).unwrap(), b"{ this is not a cache");

    let cache = cache_path("loose");
    run_phase(&m, "cache-write", false, &cache);
    let before = std::fs::read(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o644)).unwrap();
    run_phase(&m, "cache-perms", false, &cache);
    assert_eq!(std::fs::read(&cache).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

/// The phases again under valgrind: no memory errors, no definite leaks.
#[test]
fn valgrind_reports_no_errors_or_leaks() {
    for phase in [
        "device",
        "interactive",
        "state-mismatch",
        "pkce-mismatch",
        "declined",
        "no-callback",
        "revoked",
        "async-cancel",
        "silent",
    ] {
        let m = mock();
        run_phase(&m, phase, true, &cache_path(phase));
    }
    let m = mock();
    let cache = cache_path("valgrind-cache");
    run_phase(&m, "cache-write", true, &cache);
    run_phase(&m, "cache-read", true, &cache);
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o640)).unwrap();
    run_phase(&m, "cache-perms", true, &cache);
}
