//! The host cache (`host_cache=on`) across real processes: the C program tests/c/host_cache_test.c,
//! started many times at once against the mock (which answers slowly), and the mock's request
//! counter as the judge. Also: a process killed while it holds the request, a wrong secret, a
//! fork while the parent asks, files that must not be trusted, and the sweep of expired files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use aadtoken_mock::{MockConfig, MockServer};

use crate::common::{self, Under};

fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::compile_c_test("host_cache_test", "host_cache_test", &[]))
}

/// A slow mock (every token request waits `latency_ms`).
fn slow_mock(latency_ms: u64) -> MockServer {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_latency(Duration::from_millis(latency_ms));
    mock
}

/// A fresh parent directory; the host cache directory is `hc` in it (the library creates it).
fn host_dir() -> PathBuf {
    common::private_dir(&std::env::temp_dir(), "aadtoken-host-cache-test").join("hc")
}

/// One run of `phase`, pointed at `mock` and the host cache `dir`.
fn phase(mock: &MockServer, dir: &Path, phase: &str) -> Command {
    let mut c = common::c_phase(binary(), phase, Under::Plain);
    common::mock_env(&mut c, mock).env("AADTOKEN_TEST_HOST_CACHE_DIR", dir);
    c
}

/// `cmd` with the library's log at debug level in `log`.
fn logged(mut cmd: Command, log: &Path) -> Command {
    cmd.env("AADTOKEN_LOG", "debug").env("AADTOKEN_LOG_FILE", log);
    cmd
}

/// What a run printed after `label` (one value per line "<label> <value>").
fn printed<'a>(stdout: &'a str, label: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(label)?.strip_prefix(' '))
        .collect()
}

/// The token a run printed.
fn token_of(stdout: &str) -> String {
    let tokens = printed(stdout, "token");
    assert!(!tokens.is_empty(), "no token printed:\n{stdout}");
    tokens[0].to_owned()
}

/// Run `name` once (it must succeed); what it printed.
fn run(mock: &MockServer, dir: &Path, name: &str) -> String {
    common::run_phase(&mut phase(mock, dir, name), name, Under::Plain)
}

/// Run `get` once; its token.
fn get(mock: &MockServer, dir: &Path, cmd: Option<Command>) -> String {
    let mut cmd = cmd.unwrap_or_else(|| phase(mock, dir, "get"));
    token_of(&common::run_phase(&mut cmd, "get", Under::Plain))
}

/// The one token file in the host cache `dir`.
fn token_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "token"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn thirty_two_processes_at_once_send_one_request_and_a_later_one_none() {
    let mock = slow_mock(300);
    let dir = host_dir();
    let go = dir.with_file_name("go");
    let children: Vec<Child> = (0..32)
        .map(|_| {
            phase(&mock, &dir, "get")
                .env("AADTOKEN_TEST_GO", &go)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Every process is started and waiting; now they all ask at once.
    std::fs::write(&go, b"").unwrap();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|c| {
            token_of(&common::check_phase(
                "get",
                Under::Plain,
                c.wait_with_output().unwrap(),
            ))
        })
        .collect();
    assert_eq!(mock.token_requests(), 1, "one request for the whole host");
    common::assert_all_same(&tokens, "every process has the same token");
    mock.verify_token(&tokens[0]).unwrap();

    // Files: the key and the token are private; the directory is 0700.
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let file = token_file(&dir);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let name = file.file_stem().unwrap().to_str().unwrap();
    assert_eq!(name.len(), 64, "an HMAC-SHA256 in hex names the file");
    assert!(!name.contains("mock-secret"), "{name}");

    // A further process while the token is valid: nothing reaches the mock.
    assert_eq!(get(&mock, &dir, None), tokens[0]);
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn a_wrong_secret_fails_while_the_good_token_sits_in_the_host_cache() {
    let mock = slow_mock(0);
    let dir = host_dir();
    let good = get(&mock, &dir, None);
    common::run_phase(
        &mut phase(&mock, &dir, "wrong-secret"),
        "wrong-secret",
        Under::Plain,
    );
    assert_eq!(
        mock.token_requests(),
        2,
        "the wrong secret went to the identity provider"
    );
    assert_eq!(mock.token_request_log()[1].aadsts, Some(7000215));
    assert_eq!(get(&mock, &dir, None), good, "the good token is still served");
    assert_eq!(mock.token_requests(), 2);
}

#[test]
fn a_process_killed_while_it_asks_leaves_the_others_a_token_within_timeout_ms() {
    let mock = slow_mock(3000);
    let dir = host_dir();
    let mut holder = phase(&mock, &dir, "get").stdout(Stdio::null()).spawn().unwrap();
    common::wait_until(
        "the first process's request reaches the mock",
        Duration::from_secs(30),
        || mock.token_requests() == 1,
    );
    // A second process finds the request taken and waits for it.
    let log = dir.with_file_name("waiter.log");
    let mut waiter = logged(phase(&mock, &dir, "get"), &log);
    let waiter = waiter
        .env("AADTOKEN_TEST_TIMEOUT_MS", "10000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until(
        "the second process waits for the first",
        Duration::from_secs(30),
        || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("another process on this host is asking")),
    );
    assert_eq!(mock.token_requests(), 1, "the waiter has not asked");
    holder.kill().unwrap(); // SIGKILL: no clean-up of any kind
    holder.wait().unwrap();
    let out = common::check_phase("get", Under::Plain, waiter.wait_with_output().unwrap());
    mock.verify_token(&token_of(&out)).unwrap();
    assert_eq!(
        mock.token_requests(),
        2,
        "the waiter asked once the holder was gone"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        !log.contains("asking without it"),
        "it got the lock, not a timeout:\n{log}"
    );
}

#[test]
fn a_forced_refresh_takes_the_token_another_process_got_while_it_waited() {
    let mock = slow_mock(3000);
    let dir = host_dir();
    let asking = phase(&mock, &dir, "get").stdout(Stdio::piped()).spawn().unwrap();
    common::wait_until("the first process asks", Duration::from_secs(30), || {
        mock.token_requests() == 1
    });
    let forced = run(&mock, &dir, "refresh");
    let got = common::check_phase("get", Under::Plain, asking.wait_with_output().unwrap());
    assert_eq!(
        token_of(&forced),
        token_of(&got),
        "the token obtained while it waited"
    );
    assert_eq!(mock.token_requests(), 1);
    // Alone, a forced refresh asks (the file holds a token, but nobody else is asking).
    let alone = token_of(&common::run_phase(
        &mut phase(&mock, &dir, "refresh"),
        "refresh",
        Under::Plain,
    ));
    assert_ne!(alone, token_of(&got));
    assert_eq!(mock.token_requests(), 2);
    assert_eq!(
        get(&mock, &dir, None),
        alone,
        "and writes its token for the others"
    );
}

#[test]
fn a_child_forked_while_its_parent_asks_does_not_hold_the_parents_lock() {
    let mock = slow_mock(1500);
    let dir = host_dir();
    let mut cmd = phase(&mock, &dir, "fork");
    cmd.env("AADTOKEN_TEST_FORK_AFTER_MS", "100")
        .env("AADTOKEN_TEST_CHILD_WAIT_MS", "2500")
        .env("AADTOKEN_TEST_TIMEOUT_MS", "6000");
    let out = common::run_phase(&mut cmd, "fork", Under::Plain);
    let tokens = printed(&out, "token");
    assert_eq!(tokens.len(), 2, "{out}");
    assert_eq!(
        tokens[0], tokens[1],
        "the child read the parent's token from the host cache"
    );
    assert_eq!(printed(&out, "refreshed").len(), 1, "{out}");
    assert_eq!(
        mock.token_requests(),
        2,
        "the parent's request and the child's forced refresh"
    );
}

#[test]
fn children_of_a_pre_fork_parent_share_its_token_and_one_request_for_another() {
    let mock = slow_mock(300);
    let dir = host_dir();
    let out = run(&mock, &dir, "prefork");
    let (tokens, others) = (printed(&out, "token"), printed(&out, "other"));
    assert_eq!((tokens.len(), others.len()), (5, 4), "{out}");
    common::assert_all_same(&tokens, "the children use the parent's token");
    common::assert_all_same(&others, "one token for the other scope");
    assert_eq!(
        mock.token_requests(),
        2,
        "the parent's request and one for the four children"
    );
}

#[test]
fn shutdown_leaves_no_lock_behind() {
    let mock = slow_mock(0);
    let dir = host_dir();
    let out = run(&mock, &dir, "shutdown");
    let refreshed = printed(&out, "refreshed");
    assert_eq!(refreshed.len(), 1, "{out}");
    let refreshed = refreshed[0];
    assert_eq!(mock.token_requests(), 2);
    // Another process finds the refreshed token (written under the lock) and sends nothing.
    assert_eq!(get(&mock, &dir, None), refreshed);
    assert_eq!(mock.token_requests(), 2);
}

#[test]
fn garbled_foreign_and_loose_token_files_are_ignored_and_logged() {
    let mock = slow_mock(0);
    let dir = host_dir();
    let first = get(&mock, &dir, None);
    let file = token_file(&dir);
    let good = std::fs::read(&file).unwrap();
    let log = dir.with_file_name("reader.log");
    let mut requests = 1;
    let mut expect_ignored = |why: &str| {
        let _ = std::fs::remove_file(&log);
        let token = get(&mock, &dir, Some(logged(phase(&mock, &dir, "get"), &log)));
        requests += 1;
        assert_eq!(
            mock.token_requests(),
            requests,
            "{why}: not trusted, a new request"
        );
        assert_ne!(token, first);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("WARN") && text.contains("ignoring") && text.contains(why),
            "{why}:\n{text}"
        );
        // The new token replaced it: the next process reads it.
        assert_eq!(get(&mock, &dir, None), token);
        assert_eq!(mock.token_requests(), requests);
    };
    let private = |bytes: &[u8]| {
        std::fs::write(&file, bytes).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    };

    private(b"{\"format\":\"aadtoken-host-token\",\"acc");
    expect_ignored("not a host cache token");
    private(&good[..good.len() - 7]);
    expect_ignored("not a host cache token");

    private(&good);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    expect_ignored("other users can read or write it (mode 644)");

    assert_eq!(
        euid(),
        0,
        "making a file of another user needs root (.ci/run runs the tests as root)"
    );
    private(&good);
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    expect_ignored("belongs to another user (uid 65534");
}

/// The effective uid of the test (the owner of its /proc/self).
fn euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn cached_tokens_touch_no_file() {
    let mock = slow_mock(0);
    let dir = host_dir();
    let client = aadtoken_core::Client::new(&common::app_config(
        &mock,
        &format!("host_cache=on;host_cache_dir={}", dir.display()),
    ))
    .unwrap();
    let first = client.get_token(None).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    for _ in 0..100 {
        assert_eq!(client.get_token(None).unwrap().secret(), first.secret());
    }
    assert!(
        !dir.exists(),
        "the in-process cache answered: no file was read or written"
    );
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn an_unsafe_host_cache_dir_is_refused_when_the_client_is_built() {
    let mock = slow_mock(0);
    let dir = host_dir();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = aadtoken_core::Client::new(&common::app_config(
        &mock,
        &format!("host_cache=on;host_cache_dir={}", dir.display()),
    ))
    .unwrap_err();
    assert_eq!(e.kind(), aadtoken_core::ErrorKind::UnsafePath);
    common::assert_names(&e, &["host_cache_dir", "chmod 700"]);
}

#[test]
fn a_persons_tokens_stay_out_of_the_host_cache() {
    use aadtoken_mock::{USERNAME, USER_PASSWORD};
    let mock = slow_mock(0);
    let dir = host_dir();
    let client = aadtoken_core::Client::new(&common::app_config(
        &mock,
        &format!(
            "auth_method=password;username={USERNAME};password={USER_PASSWORD};host_cache=on;host_cache_dir={}",
            dir.display()
        ),
    ))
    .unwrap();
    client.get_token(None).unwrap();
    assert_eq!(mock.token_requests(), 1);
    assert!(!dir.exists(), "no host cache for a person's token");
}

/// The contents of a host cache token file for `name` whose token expires at `expires_on`.
fn stored(name: &str, expires_on: i64) -> String {
    format!(
        r#"{{"format":"aadtoken-host-token","version":1,"name":"{name}","access_token":"x.y.z","expires_on":{expires_on},"refresh_on":{}}}"#,
        expires_on - 1800
    )
}

/// A file name of the host cache's pattern (64 hex digits), one per `n`.
fn cache_name(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `bytes` into `path`, with `mode`.
fn place(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_process_that_writes_a_token_removes_expired_and_garbled_token_files_and_keeps_the_rest() {
    let mock = slow_mock(0);
    let dir = host_dir();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let now = unix_now();
    let file = |n: u8, ext: &str| dir.join(format!("{}.{ext}", cache_name(n)));
    let token = |n: u8, expires_on: i64, mode: u32| {
        place(
            &file(n, "token"),
            stored(&cache_name(n), expires_on).as_bytes(),
            mode,
        );
        file(n, "token")
    };
    // To go: a token that expired two hours ago (and its lock file), a garbled file.
    let expired = token(1, now - 7200, 0o600);
    place(&file(1, "lock"), b"", 0o600);
    let garbled = file(2, "token");
    place(&garbled, b"{\"format\":\"aadtoken-host-token\",\"acc", 0o600);
    // To keep: a live token, one expired within the hour of grace, files others can read, of
    // another user, a symbolic link, and other names, all holding an expired token.
    let kept = [
        token(3, now + 3600, 0o600),
        token(4, now - 1800, 0o600),
        token(5, now - 7200, 0o644),
        token(6, now - 7200, 0o600),
    ];
    assert_eq!(
        euid(),
        0,
        "making a file of another user needs root (.ci/run runs the tests as root)"
    );
    std::os::unix::fs::chown(&kept[3], Some(65534), Some(65534)).unwrap();
    let outside = dir.with_file_name("outside.token");
    place(&outside, stored(&cache_name(7), now - 7200).as_bytes(), 0o600);
    std::os::unix::fs::symlink(&outside, file(7, "token")).unwrap();
    let others = [
        dir.join(format!("{}.token", cache_name(0xab).to_uppercase())),
        dir.join(format!("{}.token.bak", cache_name(8))),
        dir.join("notes.txt"),
    ];
    for other in &others {
        place(other, stored(&cache_name(8), now - 7200).as_bytes(), 0o600);
    }

    let log = dir.with_file_name("sweeper.log");
    let got = get(&mock, &dir, Some(logged(phase(&mock, &dir, "get"), &log)));
    mock.verify_token(&got).unwrap();

    for gone in [&expired, &file(1, "lock"), &garbled] {
        assert!(!gone.exists(), "{} is removed", gone.display());
    }
    for keep in kept.iter().chain(&others).chain([&outside]) {
        assert!(keep.exists(), "{} is kept", keep.display());
    }
    let link = std::fs::symlink_metadata(file(7, "token")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is kept");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("DEBUG") && text.contains("removed 2 token files"),
        "{text}"
    );
    // The token written is there for the next process.
    assert_eq!(get(&mock, &dir, None), got);
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn a_sweep_leaves_the_file_of_a_token_another_process_is_asking_for() {
    let mock = slow_mock(0);
    let dir = host_dir();
    let first = get(&mock, &dir, None);
    let asked = token_file(&dir);
    let name = asked.file_stem().unwrap().to_str().unwrap().to_owned();
    // Its token expired two hours ago, and so did another key's, nobody's.
    let now = unix_now();
    place(&asked, stored(&name, now - 7200).as_bytes(), 0o600);
    let nobodys = dir.join(format!("{}.token", cache_name(1)));
    place(&nobodys, stored(&cache_name(1), now - 7200).as_bytes(), 0o600);

    // A process asks for a new token (it holds the key's lock for 5 s) ...
    mock.set_latency(Duration::from_secs(5));
    let mut holder = phase(&mock, &dir, "get").stdout(Stdio::piped()).spawn().unwrap();
    common::wait_until("the process asks", Duration::from_secs(30), || {
        mock.token_requests() == 2
    });
    // ... while another writes a token for another scope, and sweeps.
    mock.set_latency(Duration::ZERO);
    let mut sweeper = phase(&mock, &dir, "get");
    sweeper.env("AADTOKEN_TEST_GET_SCOPES", aadtoken_mock::OTHER_SCOPE);
    get(&mock, &dir, Some(sweeper));
    assert_eq!(mock.token_requests(), 3);
    assert!(!nobodys.exists(), "the sweep ran");
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the first process still waits for its token (the sweeper took over 5 s?)"
    );
    assert_eq!(
        std::fs::read(&asked).unwrap(),
        stored(&name, now - 7200).as_bytes(),
        "the file whose lock another process holds is left to it"
    );

    let new = token_of(&common::check_phase(
        "get",
        Under::Plain,
        holder.wait_with_output().unwrap(),
    ));
    assert_ne!(new, first);
    assert_eq!(get(&mock, &dir, None), new, "its token is in the file");
    assert_eq!(mock.token_requests(), 3);
}
