//! A real browser as the system browser: `aadtoken login --interactive` against the mock, whose
//! `/authorize` shows an HTML sign-in page, with the real `xdg-open` starting `$BROWSER` =
//! tests/browser/open.mjs, which drives Debian's Chromium (headless, playwright-core pinned in
//! tests/browser/package.json). Chromium opens the sign-in URL aadtoken hands it, the page's
//! "Sign in" button is clicked, the redirect reaches aadtoken's loopback listener over
//! `http://localhost`, and the page Chromium ends on says the sign-in is complete (its
//! screenshot is kept in target/browser-artifacts/); Chromium also asks for /favicon.ico and
//! reloads that page. A browser closed without signing in ends the command within
//! `interactive_timeout_s`, its listener closed.
//!
//! Needs `/usr/bin/chromium` (Debian's `chromium`), `xdg-open` (`xdg-utils`), `node` and
//! `npm` (playwright-core is installed with `npm ci` in tests/browser when missing).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aadtoken_mock::{MockConfig, MockServer, TempDir, PUBLIC_CLIENT_ID, SCOPE, TENANT_ID, USERNAME};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_aadtoken");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// tests/browser/open.mjs, with its dependencies installed.
fn browser_program() -> PathBuf {
    for (tool, install) in [
        ("/usr/bin/chromium", "apt-get install chromium chromium-driver"),
        ("/usr/bin/xdg-open", "apt-get install xdg-utils"),
    ] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is required by this test; install it ({install})"
        );
    }
    let package = repo().join("tests/browser");
    // Once per test binary: the tests run in parallel, and two `npm ci` in one folder race.
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        if !package.join("node_modules/playwright-core").exists() {
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&package)
                .output()
                .expect("npm is required by this test (apt-get install npm)");
            assert!(
                out.status.success(),
                "npm ci in tests/browser: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
    package.join("open.mjs")
}

/// `aadtoken login --interactive` with Chromium as `$BROWSER` in `mode`; (exit code, stderr,
/// the browser's report, how long it took).
fn login(mock: &MockServer, dir: &Path, mode: &str, extra: &str) -> (i32, String, Value, Duration) {
    let program = browser_program();
    let artifacts = repo().join("target/browser-artifacts");
    fs::create_dir_all(&artifacts).unwrap();
    let report = dir.join(format!("{mode}.json"));
    let settings = format!(
        "tenant_id={TENANT_ID}; client_id={PUBLIC_CLIENT_ID}; authority_host={}; ca_file={}; scope={SCOPE}; \
         cache_file={}{extra}",
        mock.base_url(),
        mock.ca_file().display(),
        dir.join("cache.json").display()
    );
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["--no-env", "login", "--interactive", "--settings", &settings])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", dir)
        .env("BROWSER", &program)
        .env("AADTOKEN_BROWSER_MODE", mode)
        .env("AADTOKEN_BROWSER_CA", mock.ca_file())
        .env("AADTOKEN_BROWSER_REPORT", &report)
        .env("AADTOKEN_BROWSER_SCREENSHOT", artifacts.join("signed-in.png"))
        .output()
        .unwrap();
    let took = started.elapsed();
    let report: Value = serde_json::from_slice(&fs::read(&report).unwrap_or_default()).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        report,
        took,
    )
}

#[test]
fn chromium_signs_in_through_the_mock_page_and_the_loopback_listener() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.show_sign_in_page();
    let dir = TempDir::new("chromium");
    let screenshot = repo().join("target/browser-artifacts/signed-in.png");
    let _ = fs::remove_file(&screenshot);
    let (code, err, report, _) = login(&mock, dir.path(), "sign-in", "; interactive_timeout_s=120");
    assert_eq!(code, 0, "{err}\n{report:#}");
    assert!(err.contains(&format!("signed in as {USERNAME}")), "{err}");
    assert!(
        report["sign_in_page"].as_str().unwrap().contains(USERNAME),
        "{report:#}"
    );
    let final_url = report["final_url"].as_str().unwrap();
    assert!(
        final_url.starts_with("http://localhost:") && final_url.contains("code="),
        "{final_url}"
    );
    assert!(
        report["final_page"]
            .as_str()
            .unwrap()
            .contains("You are signed in"),
        "{report:#}"
    );
    assert!(
        report["reloaded_page"]
            .as_str()
            .unwrap()
            .contains("You are signed in"),
        "{report:#}"
    );
    assert_eq!(report["favicon_status"], 404, "{report:#}");
    let png = fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a screenshot of the final page");
    assert_eq!(mock.authorization_codes_issued(), 1);
    assert_eq!(
        mock.token_requests(),
        1,
        "the code was redeemed once, though the page was reloaded"
    );
    // The page's form carried the authorize request's nonce on to the code (whose id token
    // aadtoken checked): the GET that showed the page and the POST that signed in.
    let authorize: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.route == "authorize")
        .collect();
    let get = authorize.iter().find(|r| r.method == "GET").unwrap();
    let nonce = get
        .query
        .as_deref()
        .unwrap()
        .split('&')
        .find_map(|p| p.strip_prefix("nonce="))
        .unwrap_or_else(|| panic!("no nonce in {:?}", get.query))
        .to_owned();
    let post = authorize.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.form_value("nonce"), Some(nonce.as_str()));
}

#[test]
fn a_browser_closed_without_signing_in_ends_within_interactive_timeout() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.show_sign_in_page();
    let dir = TempDir::new("chromium-closed");
    let (code, err, report, took) = login(&mock, dir.path(), "close", "; interactive_timeout_s=8");
    assert_eq!(code, 1, "{err}\n{report:#}");
    assert!(
        err.contains("[SignInExpired]") && err.contains("interactive_timeout_s=8"),
        "{err}"
    );
    assert_eq!(report["closed_without_signing_in"], true, "{report:#}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    // The listener is gone with the command.
    let port: u16 = report["redirect_uri"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still open"
    );
    assert_eq!(mock.token_requests(), 0);
}
