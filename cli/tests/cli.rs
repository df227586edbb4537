//! The `aadtoken` command run as a process against the mock Entra ID server: each subcommand's
//! output and exit code, the settings sources and their precedence, `keep` rewriting the file
//! and stopping cleanly on SIGTERM/SIGINT, and the errors of each class.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aadtoken_core::AuthMethod;
use aadtoken_mock::{
    MockConfig, MockServer, TempDir, CLIENT_ID, CLIENT_SECRET, PUBLIC_CLIENT_ID, SCOPE, TENANT_ID, USERNAME,
};

const BIN: &str = env!("CARGO_BIN_EXE_aadtoken");

/// The command with the mock's settings in the environment, as a deployment passes them.
fn aadtoken(mock: &MockServer) -> Command {
    let mut c = bare();
    c.envs(mock.app_env());
    c
}

/// The command with none of the settings variables set.
fn bare() -> Command {
    let mut c = Command::new(BIN);
    for v in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_AUTHORITY_HOST",
        "AADTOKEN_SETTINGS",
    ] {
        c.env_remove(v);
    }
    c
}

/// Settings for the mock's public client (person sign-in), then `extra`.
fn public_settings(mock: &MockServer, extra: &str) -> String {
    format!(
        "tenant_id={TENANT_ID}; client_id={PUBLIC_CLIENT_ID}; authority_host={}; ca_file={}; scope={SCOPE}{extra}",
        mock.base_url(),
        mock.ca_file().display()
    )
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run aadtoken");
    (
        status.code().expect("exited, not killed"),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn is_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.split('.').count() == 3 && !s.contains(char::is_whitespace)
}

#[test]
fn token_prints_only_the_token() {
    let mock = MockServer::spawn(MockConfig::default());
    let (code, out, err) = run(aadtoken(&mock).arg("token"));
    assert_eq!(code, 0, "{err}");
    assert!(
        is_jwt(&out),
        "stdout is the token and nothing else (no newline when piped): {out:?}"
    );
    assert!(err.is_empty(), "{err}");
    assert_eq!(mock.verify_token(&out).unwrap()["aud"], "api://oracle-db");
}

#[test]
fn claims_table_and_json() {
    let mock = MockServer::spawn(MockConfig::default());
    let (code, out, err) = run(aadtoken(&mock).arg("claims"));
    assert_eq!(code, 0, "{err}");
    for needle in [
        "aud    api://oracle-db",
        &format!("tid    {TENANT_ID}"),
        &format!("appid  {CLIENT_ID}"),
        "roles  DBA",
        "application_id_uri",
        "in 59 min",
        "signature not checked",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    let (code, out, _) = run(aadtoken(&mock).args(["claims", "--json"]));
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["aud"], "api://oracle-db");
    assert_eq!(json["appid"], CLIENT_ID);

    // From a token file, with no settings and no request.
    let dir = TempDir::new("cli");
    let (code, _, err) = run(aadtoken(&mock).args(["write-token-file"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let requests = mock.token_requests();
    let (code, out, err) = run(bare().args(["claims", "--file"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("aud    api://oracle-db"), "{out}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(mock.token_requests(), requests);
    // A file with a trailing newline: decoded, with a warning that Oracle would reject it.
    let with_newline = dir.path().join("nl");
    fs::write(
        &with_newline,
        format!("{}\n", fs::read_to_string(dir.path().join("token")).unwrap()),
    )
    .unwrap();
    let (code, _, err) = run(bare().args(["claims", "--file"]).arg(&with_newline));
    assert_eq!(code, 0);
    assert!(err.contains("ends with a newline"), "{err}");
    // Not a JWT: a token error, and the text is not echoed.
    fs::write(dir.path().join("junk"), "not-a-jwt-secretish").unwrap();
    let (code, _, err) = run(bare().args(["claims", "--file"]).arg(dir.path().join("junk")));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a JWT") && !err.contains("secretish"), "{err}");
}

#[test]
fn write_token_file_writes_the_raw_token_with_mode_0600() {
    let mock = MockServer::spawn(MockConfig::default());
    let dir = TempDir::new("cli");
    let (code, out, err) = run(aadtoken(&mock).arg("write-token-file").arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "nothing on stdout: {out}");
    let file = dir.path().join("token");
    assert!(err.contains(&format!("wrote {}", file.display())), "{err}");
    let token = fs::read_to_string(&file).unwrap();
    assert!(is_jwt(&token), "raw token, no newline: {token:?}");
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    mock.verify_token(&token).unwrap();

    // TOKEN_LOCATION from the settings, as the Oracle client's configuration says it.
    let other = TempDir::new("cli");
    let (code, _, err) = run(aadtoken(&mock)
        .arg("write-token-file")
        .arg("--settings")
        .arg(format!(
            "TOKEN_AUTH=OAUTH; TOKEN_LOCATION={}",
            other.path().display()
        )));
    assert_eq!(code, 0, "{err}");
    assert!(is_jwt(&fs::read_to_string(other.path().join("token")).unwrap()));

    // Refused locations: exit 3.
    let link = dir.path().join("link");
    symlink(dir.path(), &link).unwrap();
    let (code, _, err) = run(aadtoken(&mock).arg("write-token-file").arg(&link));
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("symbolic link") && err.contains("[UnsafePath]"),
        "{err}"
    );
    let (code, _, err) = run(aadtoken(&mock)
        .arg("write-token-file")
        .arg(dir.path().join("no/such/dir/token")));
    assert_eq!(code, 3, "{err}");
    // No location at all: a usage error naming the setting.
    let (code, _, err) = run(aadtoken(&mock).arg("write-token-file"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("token_location"), "{err}");
}

/// Read `keep`'s stderr lines on a thread; hand them over as they come.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for_line(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, needle: &str, limit: Duration) {
    let start = Instant::now();
    while !seen.iter().any(|l| l.contains(needle)) {
        let left = limit.checked_sub(start.elapsed()).unwrap_or_else(|| {
            panic!(
                "no line with {needle:?} within {limit:?}; got:\n{}",
                seen.join("\n")
            )
        });
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {needle:?}; got:\n{}", seen.join("\n")),
        }
    }
}

fn keep_stops_cleanly_on(signal: &str) {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_token_lifetime(6);
    let dir = TempDir::new("cli");
    let mut child = aadtoken(&mock)
        .args(["keep", "--set", "expiry_margin_s=3"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let mut seen = Vec::new();
    wait_for_line(&rx, &mut seen, "wrote", Duration::from_secs(20));
    let first = fs::read_to_string(dir.path().join("token")).unwrap();
    // Two more writes: the keeper renews ahead of the 6-second tokens' expiry.
    let start = Instant::now();
    while seen.iter().filter(|l| l.contains("wrote")).count() < 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", seen.join("\n"));
        if let Ok(l) = rx.recv_timeout(Duration::from_secs(1)) {
            seen.push(l);
        }
    }
    let now = fs::read_to_string(dir.path().join("token")).unwrap();
    assert_ne!(now, first);
    assert!(is_jwt(&now));
    let kill = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let rest: Vec<String> = rx.iter().collect();
    seen.extend(rest);
    assert_eq!(
        status.code(),
        Some(0),
        "clean stop on {signal}:\n{}",
        seen.join("\n")
    );
    let last = seen.last().unwrap();
    assert!(
        last.contains(&format!("{signal} received; stopped")),
        "last line: {last}\n{}",
        seen.join("\n")
    );
    assert!(dir.path().join("token").exists(), "the file stays");
    // Every line is a log line: a UTC timestamp and the command.
    assert!(
        seen.iter().all(|l| l.contains("Z aadtoken keep: ")),
        "{}",
        seen.join("\n")
    );
}

#[test]
fn keep_rewrites_ahead_of_expiry_and_stops_on_sigterm() {
    keep_stops_cleanly_on("TERM");
}

#[test]
fn keep_stops_on_sigint() {
    keep_stops_cleanly_on("INT");
}

#[test]
fn keep_exits_on_errors_retrying_cannot_fix() {
    let mock = MockServer::spawn(MockConfig::default());
    let dir = TempDir::new("cli");
    let (code, _, err) = run(aadtoken(&mock)
        .args(["keep", "--set", "client_secret=wrong"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("AADSTS7000215") && err.contains("[InvalidClient]"),
        "{err}"
    );
    assert!(
        !err.contains("client_secret=wrong") && !err.contains("wrong secret value"),
        "{err}"
    );
    assert!(!dir.path().join("token").exists());
    let link = dir.path().join("link");
    symlink(dir.path(), &link).unwrap();
    let (code, _, err) = run(aadtoken(&mock).arg("keep").arg(&link));
    assert_eq!(code, 3, "{err}");
}

/// `aadtoken login` with the device code flow: the message on stderr, the mock approving the
/// code it shows, the account kept in `cache_file`; then `aadtoken token` in another process
/// gets a person's token from that file without signing in again.
#[test]
fn login_with_a_device_code_then_token_from_the_cache_file() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_device_code_timing(1, 60);
    let dir = TempDir::new("cli");
    let cache = dir.path().join("cache.json");
    let settings = public_settings(&mock, &format!("; cache_file={}", cache.display()));
    let mut child = bare()
        .args(["login", "--settings", &settings])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("To sign in, use a web browser"), "{line}");
    let (code, _) = mock.device_codes().pop().unwrap();
    assert!(line.contains(&code), "{line}");
    assert!(mock.approve_device_code(&code, USERNAME));
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert!(rest.contains(&format!("signed in as {USERNAME}")), "{rest}");
    assert_eq!(fs::metadata(&cache).unwrap().mode() & 0o777, 0o600);

    let (code, out, err) = run(bare().args([
        "token",
        "--settings",
        &settings,
        "--set",
        "auth_method=device_code",
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(mock.verify_token(&out).unwrap()["upn"], USERNAME);
    assert_eq!(mock.device_codes().len(), 0, "no second sign-in");

    // A cache file others can read is refused, and left as it is.
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(bare().args([
        "token",
        "--settings",
        &settings,
        "--set",
        "auth_method=device_code",
    ]));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}

/// `aadtoken login --interactive` opens the system browser: a fake `xdg-open` first in PATH
/// plays the browser (the mock signs in at once and redirects to the loopback listener).
#[test]
fn login_interactive_with_the_system_browser() {
    let mock = MockServer::spawn(MockConfig::default());
    let dir = TempDir::new("cli");
    let browser = Path::new(BIN).with_file_name("aadtoken-mock-browser");
    assert!(
        browser.exists(),
        "{} not found: cargo build -p aadtoken-mock",
        browser.display()
    );
    let script = dir.path().join("xdg-open");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ $# -eq 1 ] || exit 9\nout=$('{b}' --ca-file '{ca}' \"$1\") || exit 8\n\
             loc=$(printf '%s\\n' \"$out\" | sed -n 's/^location: //p')\n'{b}' \"$loc\" >/dev/null || exit 7\n",
            b = browser.display(),
            ca = mock.ca_file().display(),
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o700)).unwrap();
    let cache = dir.path().join("cache.json");
    let settings = public_settings(&mock, &format!("; cache_file={}", cache.display()));
    let (code, out, err) = run(bare()
        .args(["login", "--interactive", "--settings", &settings])
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display())));
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert!(err.contains(&format!("signed in as {USERNAME}")), "{err}");
    assert_eq!(mock.authorization_codes_issued(), 1);
    assert!(cache.exists());
}

#[test]
fn login_declined_and_without_a_client_id() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_device_code_timing(1, 60);
    let settings = public_settings(&mock, "");
    let mut child = bare()
        .args(["login", "--device-code", "--settings", &settings])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("To sign in") {
        line.clear();
        stderr.read_line(&mut line).unwrap();
    }
    let (code, _) = mock.device_codes().pop().unwrap();
    assert!(mock.deny_device_code(&code));
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("[UserCancelled]"), "{rest}");
    let (code, _, err) = run(bare().args(["login", "--set", &format!("tenant_id={TENANT_ID}")]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("client_id"), "{err}");
}

#[test]
fn errors_are_one_line_with_the_aadsts_hint_and_a_class_exit_code() {
    let mock = MockServer::spawn(MockConfig::default());
    let (code, out, err) = run(aadtoken(&mock).args(["token", "--set", "client_secret=wrong"]));
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("aadtoken token: "), "{err}");
    assert!(
        err.contains("AADSTS7000215") && err.contains("secret's ID instead of its value"),
        "{err}"
    );
    assert!(err.contains("correlation id"), "{err}");

    // Settings errors: exit 2, naming the key and where it came from.
    let (code, _, err) = run(aadtoken(&mock).args(["token", "--set", "bogus=1"]));
    assert_eq!(code, 2);
    assert!(err.contains("'bogus'") && err.contains("--set"), "{err}");
    let (code, _, err) = run(aadtoken(&mock).args(["token", "--settings", "timeout_ms=soon"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("'timeout_ms'") && err.contains("--settings #1"),
        "{err}"
    );
    let (code, _, err) = run(bare().arg("token"));
    assert_eq!(code, 2);
    assert!(
        err.contains("'tenant_id'") && err.contains("[MissingSetting]"),
        "{err}"
    );
    // A method this build lacks (while there is one).
    if let Some(m) = AuthMethod::ALL.into_iter().find(|m| !m.is_available()) {
        let (code, _, err) = run(aadtoken(&mock).args(["token", "--set", &format!("auth_method={m}")]));
        assert_eq!(code, 2);
        assert!(
            err.contains("'auth_method'") && err.contains("not supported by this build yet"),
            "{err}"
        );
    }
    // Unreachable identity provider: exit 1.
    let (code, _, err) = run(aadtoken(&mock).args(["token", "--set", "authority_host=https://127.0.0.1:9"]));
    assert_eq!(code, 1, "{err}");
    // clap's own usage errors are exit 2 too.
    let (code, _, _) = run(bare().args(["token", "--no-such-flag"]));
    assert_eq!(code, 2);
    let (code, _, _) = run(&mut bare());
    assert_eq!(code, 2, "a subcommand is required");
}

#[test]
fn settings_sources_and_their_precedence() {
    let mock = MockServer::spawn(MockConfig::default());
    let dir = TempDir::new("cli");
    // Everything from a settings file (comments allowed), no environment at all.
    let file = dir.path().join("aadtoken.conf");
    fs::write(
        &file,
        format!(
            "# the database's app\nAZURE_DB_APP_ID_URI=api://oracle-db\n\nTENANT_ID={TENANT_ID}; CLIENT_ID={CLIENT_ID}\n\
             oracle.jdbc.provider.accessToken.clientSecret={CLIENT_SECRET}\nauthority_host={}\nca_file={}\n",
            mock.base_url(),
            mock.ca_file().display()
        ),
    )
    .unwrap();
    let (code, out, err) = run(bare().args(["token", "--settings-file"]).arg(&file));
    assert_eq!(code, 0, "{err}");
    assert!(is_jwt(&out));

    // Precedence: environment < file < --settings < --set. A wrong secret from an earlier
    // source is overridden by a later one; the reverse fails.
    let wrong_file = dir.path().join("wrong.conf");
    fs::write(&wrong_file, "client_secret=from-the-file\n").unwrap();
    let ok = |args: &[&str]| run(aadtoken(&mock).args(args)).0;
    assert_eq!(
        ok(&["token", "--set", "client_secret=wrong"]),
        1,
        "--set beats the environment"
    );
    let wf = wrong_file.to_str().unwrap();
    let good = format!("client_secret={CLIENT_SECRET}");
    assert_eq!(
        ok(&["token", "--settings-file", wf]),
        1,
        "a file beats the environment"
    );
    assert_eq!(
        ok(&["token", "--settings-file", wf, "--settings", &good]),
        0,
        "--settings beats a file"
    );
    assert_eq!(
        ok(&["token", "--settings", "client_secret=wrong", "--set", &good]),
        0,
        "--set beats --settings"
    );
    assert_eq!(
        ok(&["token", "--set", &good, "--settings", "client_secret=wrong"]),
        0,
        "--set is applied last, wherever it appears"
    );
    // --no-env ignores AZURE_* and AADTOKEN_SETTINGS.
    let (code, _, err) = run(aadtoken(&mock).args(["token", "--no-env"]));
    assert_eq!(code, 2);
    assert!(err.contains("tenant_id"), "{err}");
    // A bad line in a file is reported with its line number.
    fs::write(&wrong_file, "# ok\nno_equals_sign\n").unwrap();
    let (code, _, err) = run(aadtoken(&mock).args(["token", "--settings-file", wf]));
    assert_eq!(code, 2);
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn help_for_each_subcommand() {
    let (code, out, _) = run(bare().arg("--help"));
    assert_eq!(code, 0);
    for sub in ["token", "claims", "write-token-file", "keep", "login", "logout"] {
        assert!(out.contains(sub), "{sub} listed:\n{out}");
        let (code, out, _) = run(bare().args([sub, "--help"]));
        assert_eq!(code, 0, "{sub} --help");
        assert!(out.contains("Usage: aadtoken"), "{sub}:\n{out}");
        assert!(
            out.contains("Exit codes:") && out.contains("--settings-file"),
            "{sub}:\n{out}"
        );
    }
    let (code, out, _) = run(bare().arg("--version"));
    assert_eq!(code, 0);
    assert!(out.contains(env!("CARGO_PKG_VERSION")));
}

/// `aadtoken login --interactive` where no browser can be started (an `xdg-open` that fails, as
/// on a machine without a desktop): the sign-in page's address on stderr, with the way to use
/// `--device-code` instead; opened by hand (here: the mock browser), the sign-in completes.
/// Then `aadtoken logout` forgets the account, and a command needing it fails without prompting.
#[test]
fn login_interactive_without_a_browser_prints_the_url_then_logout() {
    let mock = MockServer::spawn(MockConfig::default());
    let dir = TempDir::new("cli-nobrowser");
    let script = dir.path().join("xdg-open");
    fs::write(
        &script,
        "#!/bin/sh
echo 'xdg-open: no method available for opening' >&2
exit 3
",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o700)).unwrap();
    let cache = dir.path().join("cache.json");
    let settings = public_settings(&mock, &format!("; cache_file={}", cache.display()));
    let mut child = bare()
        .args(["login", "--interactive", "--settings", &settings])
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    let mut seen = Vec::new();
    wait_for_line(&lines, &mut seen, "--device-code", Duration::from_secs(30));
    let text = seen.join("\n");
    assert!(text.contains("could not open a browser"), "{text}");
    let url = seen
        .iter()
        .find_map(|l| l.trim().strip_prefix("https://").map(|u| format!("https://{u}")))
        .unwrap_or_else(|| panic!("no URL in {text}"));
    let browser = Path::new(BIN).with_file_name("aadtoken-mock-browser");
    let out = Command::new(&browser)
        .arg("--ca-file")
        .arg(mock.ca_file())
        .arg(&url)
        .output()
        .unwrap();
    let answer = String::from_utf8(out.stdout).unwrap();
    let location = answer
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap()
        .to_owned();
    assert!(Command::new(&browser)
        .arg(&location)
        .output()
        .unwrap()
        .status
        .success());
    let status = child.wait().unwrap();
    wait_for_line(&lines, &mut seen, "signed in as", Duration::from_secs(10));
    assert!(status.success(), "{seen:?}");
    assert!(fs::read_to_string(&cache).unwrap().contains(USERNAME));

    let (code, out, err) = run(bare().args(["logout", "--settings", &settings]));
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert!(err.contains(&format!("signed out {USERNAME}")), "{err}");
    assert!(!fs::read_to_string(&cache).unwrap().contains(USERNAME));
    let (code, _, err) = run(bare().args(["logout", "--settings", &settings]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nobody was signed in"), "{err}");
    let (code, _, err) = run(bare().args([
        "token",
        "--settings",
        &format!("{settings}; auth_method=interactive; automatic_sign_in=false"),
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("[InteractionRequired]"), "{err}");
}

#[test]
fn several_keepers_with_the_host_cache_make_one_request_per_token() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_token_lifetime(8);
    mock.set_latency(Duration::from_millis(300));
    let dir = TempDir::new("cli-host-cache");
    let host_cache_dir = format!("host_cache_dir={}", dir.path().join("hc").display());
    let mut keepers: Vec<_> = (0..4)
        .map(|i| {
            let mut child = aadtoken(&mock)
                .args([
                    "keep",
                    "--set",
                    "expiry_margin_s=2",
                    "--set",
                    "host_cache=on",
                    "--set",
                ])
                .arg(&host_cache_dir)
                .arg(dir.path().join(format!("token-{i}")))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let rx = lines_of(&mut child);
            (child, rx, Vec::new())
        })
        .collect();
    let writes = |n: usize, keepers: &mut Vec<(std::process::Child, mpsc::Receiver<String>, Vec<String>)>| {
        let start = Instant::now();
        for (_, rx, seen) in keepers.iter_mut() {
            while seen.iter().filter(|l| l.contains("wrote")).count() < n {
                assert!(start.elapsed() < Duration::from_secs(40), "{}", seen.join("\n"));
                if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                    seen.push(l);
                }
            }
        }
    };
    let files = || -> Vec<String> {
        (0..4)
            .map(|i| fs::read_to_string(dir.path().join(format!("token-{i}"))).unwrap())
            .collect()
    };
    writes(1, &mut keepers);
    assert_eq!(
        mock.token_requests(),
        1,
        "four keepers started together: one request"
    );
    let first = files();
    assert!(first.iter().all(|t| *t == first[0] && is_jwt(t)));
    // Renewal ahead of the 8-second token's expiry: once for the host too.
    writes(2, &mut keepers);
    let second = files();
    assert!(second.iter().all(|t| *t == second[0] && *t != first[0]));
    assert_eq!(mock.token_requests(), 2, "one renewal for the four keepers");
    for (mut child, _, _) in keepers {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
