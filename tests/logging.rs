//! Logging: what the log says, and what it never says.
//!
//! One test binary (the log sink is process-wide), one test: a trace-level sink captures every
//! record while every flow that exists runs against the mocks — client secret (cache hit and
//! miss, single flight, forced refresh, background refresh, a 5xx retry, throttling, a wrong
//! secret, the host cache with a garbled file), certificate (PFX with a password), workload identity (assertion file), managed
//! identity (IMDS, App Service with its secret header), username/password, `auto`, the token
//! file and its keeper, and person sign-in (device code with a cache file, browser with PKCE).
//! Then: no secret value, assertion, access/id/refresh token, authorization or device code,
//! password or PFX password appears in any record, nor any JWT-shaped text; user names appear
//! only from the client with `log_pii=true`; and the events the README promises are there.
//! The environment sink (`AADTOKEN_LOG_FILE`) is checked for mode 0600, append and symlinks.

mod common;
mod creds;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aadtoken_core::config::{DeviceCodePrompt, UrlOpener};
use aadtoken_core::log::{self, Level};
use aadtoken_core::oracle::{Keeper, KeeperOptions};
use aadtoken_core::{Client, Config, ErrorKind};
use aadtoken_mock::{
    Client as MockClient, Fault, ManagedIdentityMock, MockConfig, MockServer, RefreshIn, CLIENT_ID,
    CLIENT_SECRET, OTHER_SCOPE, PUBLIC_CLIENT_ID, SCOPE, TENANT_ID, USERNAME, USER_PASSWORD,
};
use creds::{federated_credential, federated_token, temp_dir, TestCert};

const CERT_APP: &str = "66666666-6666-6666-6666-666666666666";
const PFX_PASSWORD: &str = "pfx-pass-Zq81";

#[derive(Clone, Debug)]
struct Line {
    level: Level,
    target: String,
    message: String,
    correlation_id: Option<String>,
}

type Captured = Arc<Mutex<Vec<Line>>>;

fn capture() -> Captured {
    let lines: Captured = Arc::default();
    let sink = Arc::clone(&lines);
    log::set_sink(
        Level::Trace,
        Some(Box::new(move |r: &log::Record<'_>| {
            sink.lock().unwrap().push(Line {
                level: r.level,
                target: r.target.to_owned(),
                message: r.message.to_owned(),
                correlation_id: r.correlation_id.map(str::to_owned),
            })
        })),
    );
    lines
}

fn app_config(mock: &MockServer, settings: &str) -> Config {
    // no platform variables from the test's environment
    common::with_platform(
        common::mock_config(mock, &format!("tenant_id={TENANT_ID};scope={SCOPE};{settings}")),
        &[],
    )
}

/// `eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.`
fn jwt_shaped(text: &str) -> Option<&str> {
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find("eyJ").map(|i| i + from) {
        let mut j = i + 3;
        while j < bytes.len() && b64(bytes[j]) {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'.' {
            let mut k = j + 1;
            while k < bytes.len() && b64(bytes[k]) {
                k += 1;
            }
            if k > j + 1 && k < bytes.len() && bytes[k] == b'.' {
                return Some(&text[i..=k]);
            }
        }
        from = i + 3;
    }
    None
}

#[test]
fn jwt_shape_detector() {
    assert!(jwt_shaped("x eyJhbGc.eyJzdWI.sig y").is_some());
    assert!(jwt_shaped("eyJhbGc.eyJzdWI.").is_some());
    assert!(jwt_shaped("eyJhbGc.eyJzdWI").is_none());
    assert!(jwt_shaped("[redacted JWT]").is_none());
}

/// Approves each device code through the mock's API.
struct Approve(Arc<MockServer>);
impl DeviceCodePrompt for Approve {
    fn prompt(&self, _message: &str, user_code: &str, _uri: &str, _expires_on: i64) {
        assert!(self.0.approve_device_code(user_code, USERNAME));
    }
}

/// The mock browser: opens the authorize URL, follows the redirect to the loopback listener,
/// and remembers the authorization code it carried.
struct Browser {
    ca: PathBuf,
    codes: Mutex<Vec<String>>,
}
impl UrlOpener for Browser {
    fn open(&self, url: &str) -> aadtoken_core::Result<()> {
        let answer = common::browse(&self.ca, url);
        let location = common::redirect_location(&answer);
        let code = location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("code="))
            .expect("a code in the redirect")
            .to_owned();
        self.codes.lock().unwrap().push(code);
        common::browse(&self.ca, &location);
        Ok(())
    }
}

#[test]
fn trace_level_logs_of_every_flow_hold_no_secret_and_no_pii() {
    let _lock = SINK_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let lines = capture();
    let mut secrets: Vec<String> = vec![
        CLIENT_SECRET.into(),
        USER_PASSWORD.into(),
        PFX_PASSWORD.into(),
        "wrong-secret-value-Xk2".into(),
    ];
    let mut tokens: Vec<String> = Vec::new();

    // Client secret: miss, hit, single flight, forced refresh, retry, throttle, refusal.
    let mock = Arc::new(MockServer::spawn(MockConfig::default()));
    let client = Client::new(&app_config(
        &mock,
        &format!("client_id={CLIENT_ID};client_secret={CLIENT_SECRET}"),
    ))
    .unwrap();
    mock.set_latency(Duration::from_millis(300));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = client.clone();
            std::thread::spawn(move || c.get_token(None).unwrap())
        })
        .collect();
    for h in handles {
        tokens.push(h.join().unwrap().secret().to_owned());
    }
    mock.set_latency(Duration::ZERO);
    tokens.push(client.get_token(None).unwrap().secret().to_owned());
    mock.fail_next(1, Fault::status(500));
    tokens.push(client.refresh_token(None).unwrap().secret().to_owned());
    mock.fail_next(1, Fault::throttled(Some(2)));
    assert_eq!(
        client.refresh_token(None).unwrap_err().kind(),
        ErrorKind::Throttled
    );
    assert_eq!(
        client.refresh_token(None).unwrap_err().kind(),
        ErrorKind::Throttled
    );
    let wrong = Client::new(&app_config(
        &mock,
        "client_id=22222222-2222-2222-2222-222222222222;client_secret=wrong-secret-value-Xk2",
    ))
    .unwrap();
    assert_eq!(
        wrong.get_token(None).unwrap_err().kind(),
        ErrorKind::InvalidClient
    );

    // Host cache: a token written for other processes, then a garbled file ignored by a
    // client whose in-process token is not good enough (expiry margin above the lifetime).
    let host_dir = temp_dir("log-host-cache").join("hc");
    let host = |extra: &str| {
        Client::new(&app_config(
            &mock,
            &format!(
                "client_id={CLIENT_ID};client_secret={CLIENT_SECRET};scope={OTHER_SCOPE};host_cache=on;host_cache_dir={};{extra}",
                host_dir.display()
            ),
        ))
        .unwrap()
    };
    tokens.push(host("").get_token(None).unwrap().secret().to_owned());
    for entry in std::fs::read_dir(&host_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "token") {
            std::fs::write(&path, b"{garbled").unwrap();
        }
    }
    tokens.push(
        host("expiry_margin_s=3600")
            .get_token(None)
            .unwrap()
            .secret()
            .to_owned(),
    );

    // Background refresh: tokens with refresh_in 1 s.
    let bg_mock = MockServer::spawn(MockConfig::default());
    bg_mock.set_refresh_in(Some(RefreshIn::Number(1)));
    let bg = Client::new(&app_config(
        &bg_mock,
        &format!("client_id={CLIENT_ID};client_secret={CLIENT_SECRET}"),
    ))
    .unwrap();
    tokens.push(bg.get_token(None).unwrap().secret().to_owned());
    std::thread::sleep(Duration::from_millis(1600));
    tokens.push(bg.get_token(None).unwrap().secret().to_owned());
    // Wait (up to 20 s on a loaded machine) for the background refresh to finish.
    for _ in 0..200 {
        if lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.message.contains("background refresh done"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(bg_mock.tokens_issued() >= 2, "the background refresh ran");
    tokens.push(bg.get_token(None).unwrap().secret().to_owned());

    // Certificate (PFX with a password).
    let cert = TestCert::new("aadtoken-log-test");
    let dir = temp_dir("logging");
    let pfx = cert.write_pfx(&dir, "app.pfx", PFX_PASSWORD);
    mock.add_client(
        TENANT_ID,
        MockClient::new(CERT_APP).with_certificate(cert.cert_der.clone()),
    );
    let c = Client::new(&app_config(
        &mock,
        &format!(
            "client_id={CERT_APP};certificate_path={};certificate_password={PFX_PASSWORD}",
            pfx.display()
        ),
    ))
    .unwrap();
    tokens.push(c.get_token(None).unwrap().secret().to_owned());

    // Workload identity (an assertion file).
    let fed_app = "77777777-7777-7777-7777-777777777777";
    mock.add_client(
        TENANT_ID,
        MockClient::new(fed_app).with_federated(federated_credential(&cert)),
    );
    let assertion = federated_token(&cert, 0, 3600);
    let file = dir.join("federated-token");
    std::fs::write(&file, &assertion).unwrap();
    tokens.push(assertion);
    let c = Client::new(&app_config(
        &mock,
        &format!("client_id={fed_app};assertion_file={}", file.display()),
    ))
    .unwrap();
    tokens.push(c.get_token(None).unwrap().secret().to_owned());

    // Username/password, and the same identity with log_pii=true.
    for pii in ["false", "true"] {
        let c = Client::new(&app_config(
            &mock,
            &format!(
                "client_id={CLIENT_ID};client_secret={CLIENT_SECRET};auth_method=password;username={USERNAME};password={USER_PASSWORD};log_pii={pii}"
            ),
        ))
        .unwrap();
        tokens.push(c.get_token(None).unwrap().secret().to_owned());
    }

    // Managed identity: IMDS, and App Service with its secret header; `auto` falling to IMDS.
    let mi = ManagedIdentityMock::spawn();
    secrets.push(mi.identity_header().to_owned());
    let vars = [
        ("IDENTITY_ENDPOINT", mi.app_service_endpoint()),
        ("IDENTITY_HEADER", mi.identity_header().to_owned()),
    ];
    let imds = format!("managed_identity_endpoint={}", mi.base_url());
    for c in [
        common::platform_config(&format!("auth_method=managed_identity;scope={SCOPE};{imds}"), &[]),
        common::platform_config(&format!("auth_method=managed_identity;scope={SCOPE}"), &vars),
        common::platform_config(&format!("auth_method=auto;scope={SCOPE};{imds}"), &[]),
    ] {
        tokens.push(
            Client::new(&c)
                .unwrap()
                .get_token(None)
                .unwrap()
                .secret()
                .to_owned(),
        );
    }

    // The token file, once and by the keeper.
    let tf = dir.join("oracle");
    std::fs::create_dir(&tf).unwrap();
    let keeper = Keeper::start(&client, &tf, KeeperOptions::default()).unwrap();
    keeper.stop();
    let planted = dir.join("planted");
    std::fs::create_dir(&planted).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere"), planted.join("token")).unwrap();
    assert_eq!(
        Keeper::start(&client, &planted, KeeperOptions::default())
            .unwrap_err()
            .kind(),
        ErrorKind::UnsafePath
    );

    // Person sign-in: device code (accounts in a cache file), then the browser with PKCE.
    mock.set_device_code_timing(1, 60);
    let cache_file = dir.join("accounts.json");
    let mut c = app_config(
        &mock,
        &format!(
            "client_id={PUBLIC_CLIENT_ID};auth_method=device_code;cache_file={}",
            cache_file.display()
        ),
    );
    c.set_device_code_prompt(Some(Arc::new(Approve(Arc::clone(&mock)))));
    let dc = Client::new(&c).unwrap();
    tokens.push(dc.get_token(None).unwrap().secret().to_owned());
    tokens.push(
        dc.get_token(Some(aadtoken_mock::OTHER_SCOPE))
            .unwrap()
            .secret()
            .to_owned(),
    );
    let cached = std::fs::read_to_string(&cache_file).unwrap();
    let mut refresh_tokens = 0;
    for word in cached.split('"') {
        if word.contains("mock-rt") {
            secrets.push(word.to_owned());
            refresh_tokens += 1;
        }
    }
    assert!(
        refresh_tokens >= 1,
        "the cache file holds the refresh token: {}",
        cached.len()
    );
    let browser = Arc::new(Browser {
        ca: mock.ca_file().to_path_buf(),
        codes: Mutex::new(Vec::new()),
    });
    let mut c = app_config(
        &mock,
        &format!("client_id={PUBLIC_CLIENT_ID};auth_method=interactive;login_hint={USERNAME};log_pii=true"),
    );
    c.set_url_opener(Some(browser.clone()));
    tokens.push(
        Client::new(&c)
            .unwrap()
            .sign_in(None)
            .unwrap()
            .secret()
            .to_owned(),
    );
    secrets.extend(browser.codes.lock().unwrap().iter().cloned());
    assert!(!browser.codes.lock().unwrap().is_empty());

    log::set_sink(Level::Error, None);
    let lines = lines.lock().unwrap().clone();
    let _ = std::fs::remove_dir_all(&dir);

    if std::env::var_os("AADTOKEN_LOG_DUMP").is_some() {
        for l in &lines {
            println!("{:5} {}: {} {:?}", l.level, l.target, l.message, l.correlation_id);
        }
    }
    // Nothing secret, nothing token-shaped.
    secrets.retain(|s| s.len() >= 6);
    for l in &lines {
        let all = format!("{} {} {:?}", l.target, l.message, l.correlation_id);
        for s in secrets.iter().chain(&tokens) {
            assert!(!all.contains(s.as_str()), "a secret in the log: {all}");
        }
        for marker in [
            "mock-rt",
            "mock-code",
            "DAQABAAEAAAD",
            "code_verifier",
            "client_assertion=",
        ] {
            assert!(!all.contains(marker), "'{marker}' in the log: {all}");
        }
        assert!(jwt_shaped(&all).is_none(), "JWT-shaped text in the log: {all}");
        assert!(!l.message.contains('\n'), "one line per record: {all}");
    }
    // User names only from the clients with log_pii=true.
    let named: Vec<&Line> = lines.iter().filter(|l| l.message.contains(USERNAME)).collect();
    assert!(!named.is_empty(), "log_pii=true shows the user");
    assert!(
        lines.iter().any(|l| l.message.contains("[user hidden")),
        "log_pii=false hides the user"
    );
    let named_count = named.len();
    assert!(
        named_count <= 2,
        "only the log_pii=true sign-in names the user: {named:#?}"
    );

    // The events the README promises.
    let has = |level: Level, text: &str| lines.iter().any(|l| l.level == level && l.message.contains(text));
    for (level, text) in [
        (Level::Trace, "cache hit"),
        (Level::Debug, "cache miss"),
        (Level::Debug, "request sent"),
        (Level::Debug, "answered HTTP 200"),
        (Level::Debug, "joining the request in flight"),
        (Level::Info, "new token cached"),
        (Level::Info, "refresh scheduled"),
        (Level::Info, "forced refresh"),
        (Level::Warn, "retrying once in 1 s"),
        (Level::Warn, "throttled by the identity provider"),
        (Level::Debug, "throttled, not calling"),
        (
            Level::Info,
            "answered with an error: InvalidClient, HTTP 401, invalid_client, AADSTS7000215",
        ),
        (Level::Error, "no token: InvalidClient"),
        (Level::Debug, "background refresh started"),
        (Level::Debug, "background refresh done"),
        (Level::Info, "managed identity source chosen: IMDS"),
        (Level::Info, "managed identity source chosen: App Service"),
        (Level::Info, "auth_method=auto: using managed identity"),
        (Level::Info, "token file written"),
        (Level::Info, "keeper: started"),
        (Level::Info, "keeper: stopped"),
        (Level::Error, "refused: UnsafePath"),
        (Level::Info, "person sign-in started (DeviceCode)"),
        (Level::Info, "device code sign-in: prompting"),
        (
            Level::Info,
            "browser sign-in: waiting for the redirect on 127.0.0.1:",
        ),
        (Level::Debug, "redeeming the refresh token"),
        (Level::Debug, "runtime started"),
        (Level::Debug, "host cache in"),
        (Level::Warn, "host cache: ignoring"),
    ] {
        assert!(has(level, text), "no {level} record with '{text}'");
    }
    // Requests carry their correlation id.
    let sent: Vec<&Line> = lines
        .iter()
        .filter(|l| l.message.contains("request sent"))
        .collect();
    assert!(sent.iter().all(|l| l
        .correlation_id
        .as_deref()
        .is_some_and(|c| uuid::Uuid::parse_str(c).is_ok())));
    assert!(lines.iter().all(|l| l.target.starts_with("aadtoken::")));
    println!(
        "{} records checked; {} secrets and {} tokens never appear",
        lines.len(),
        secrets.len(),
        tokens.len()
    );
}

#[test]
fn the_environment_log_file_is_private_appended_and_never_a_link() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("logfile");
    let path = dir.join("aadtoken.log");
    std::fs::write(&path, "earlier line\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let vars = |p: PathBuf| {
        move |n: &str| match n {
            "AADTOKEN_LOG" => Some("debug".into()),
            "AADTOKEN_LOG_FILE" => Some(p.clone().into_os_string()),
            _ => None,
        }
    };
    // Serialised with the other test through the process-wide sink: this test only runs the
    // sink API, not flows.
    let _lock = SINK_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    assert!(log::set_from_environment(vars(path.clone())));
    assert!(log::enabled(Level::Debug) && !log::enabled(Level::Trace));
    aadtoken_core::log_info!("a line with eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln in it");
    log::set_sink(Level::Error, None);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("earlier line\n"), "appended: {text}");
    assert!(text.contains("Z INFO  logging: "), "{text}");
    assert!(text.contains("a line with [redacted JWT] in it"), "{text}");
    assert!(jwt_shaped(&text).is_none());

    // A new file is created 0600 whatever the umask.
    let fresh = dir.join("new.log");
    assert!(log::set_from_environment(vars(fresh.clone())));
    aadtoken_core::log_warn!("x");
    log::set_sink(Level::Error, None);
    assert_eq!(
        std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A symbolic link is not followed: no logging at all rather than writing through it.
    let target = dir.join("target.log");
    std::fs::write(&target, "").unwrap();
    let link = dir.join("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(!log::set_from_environment(vars(link)));
    aadtoken_core::log_error!("must not be written");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    // A level without a file, or a file without a level: off.
    assert!(!log::set_from_environment(
        |n| (n == "AADTOKEN_LOG").then(|| "trace".into())
    ));
    assert!(!log::set_from_environment(
        |n| (n == "AADTOKEN_LOG_FILE").then(|| path.clone().into_os_string())
    ));
    assert!(!log::enabled(Level::Error));
    let _ = std::fs::remove_dir_all(&dir);
}

static SINK_LOCK: Mutex<()> = Mutex::new(());

/// A child forked while another thread of the parent is writing to the `AADTOKEN_LOG_FILE` log
/// writes its own first line at once: the file sink holds no lock a parent thread could have
/// held at the fork (each line is one `write(2)` with `O_APPEND`), and lines never interleave.
#[test]
fn a_child_forked_while_a_thread_logs_writes_its_first_line_at_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = temp_dir("logfork");
    let path = dir.join("aadtoken.log");
    let _lock = SINK_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    assert!(log::set_from_environment(|n: &str| match n {
        "AADTOKEN_LOG" => Some("info".into()),
        "AADTOKEN_LOG_FILE" => Some(path.clone().into_os_string()),
        _ => None,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    aadtoken_core::log_info!("parent writer {w} line {i} {}", "x".repeat(200));
                    i += 1;
                }
            })
        })
        .collect();
    const CHILDREN: usize = 100;
    for n in 0..CHILDREN {
        // SAFETY: the child only logs one line (what this test is about) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            aadtoken_core::log_info!("child {n} first line");
            unsafe { libc::_exit(0) };
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if done == pid {
                break;
            }
            if Instant::now() > deadline {
                unsafe { libc::kill(pid, libc::SIGKILL) };
                unsafe { libc::waitpid(pid, &mut status, 0) };
                stop.store(true, Ordering::Relaxed);
                panic!("child {n} hung on its first log line (a lock copied from the parent?)");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child {n}: {status}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    log::set_sink(Level::Error, None);
    let text = std::fs::read_to_string(&path).unwrap();
    for n in 0..CHILDREN {
        assert!(
            text.contains(&format!(" child {n} first line\n")),
            "child {n}'s line is missing"
        );
    }
    // Every line whole: a timestamp at its start, one record per line.
    for line in text.lines() {
        assert!(
            line.len() > 25 && line.as_bytes()[4] == b'-' && line.matches(" INFO  ").count() == 1,
            "a torn or interleaved line: {line:.120}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
