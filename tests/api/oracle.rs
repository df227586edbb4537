//! Oracle integration through the Rust API, against the mock: the `TOKEN_LOCATION` token file
//! (content, mode, atomic replacement, refused locations), the keeper (rewrites ahead of expiry,
//! keeps the file while renewing fails, stops promptly), Oracle-style settings end to end, and
//! the claims of a real (mock) token.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aadtoken_core::oracle::{Keeper, KeeperEvent, KeeperOptions, TokenFile};
use aadtoken_core::token::unix_now;
use aadtoken_core::{AuthMethod, Claims};
use aadtoken_core::{Client, Config, ErrorKind};

use crate::common::{self, app_client as client, app_config as config};
use aadtoken_mock::{Fault, MockConfig, MockServer, TempDir, CLIENT_ID, CLIENT_SECRET, SCOPE, TENANT_ID};

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().mode() & 0o7777
}

fn no_temp_files_left(dir: &Path) {
    let left: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".aadtoken-"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

#[test]
fn token_file_holds_exactly_the_token_with_mode_0600() {
    let mock = MockServer::spawn(MockConfig::default());
    let c = client(&mock, "");
    let token = c.get_token(None).unwrap();
    let dir = TempDir::new("oracle");

    // A directory location: the file is <dir>/token.
    let file = TokenFile::new(dir.path()).unwrap();
    assert_eq!(file.path(), dir.path().join("token"));
    file.write(&token).unwrap();
    let written = fs::read(dir.path().join("token")).unwrap();
    assert_eq!(written, token.secret().as_bytes(), "byte-exact, nothing added");
    assert_ne!(written.last(), Some(&b'\n'), "no trailing newline");
    assert_eq!(mode(&dir.path().join("token")), 0o600);
    mock.verify_token(std::str::from_utf8(&written).unwrap()).unwrap();

    // A file location, replacing a file that had looser permissions.
    let path = dir.path().join("my-token");
    fs::write(&path, "old\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    TokenFile::new(&path).unwrap().write(&token).unwrap();
    assert_eq!(fs::read(&path).unwrap(), token.secret().as_bytes());
    assert_eq!(mode(&path), 0o600);
    no_temp_files_left(dir.path());
}

#[test]
fn a_reader_never_sees_a_partial_file() {
    let dir = TempDir::new("oracle");
    let file = TokenFile::new(dir.path()).unwrap();
    let long = vec![b'L'; 64 * 1024];
    let short = vec![b's'; 700];
    file.write_bytes(&short).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (done, path, long, short) = (
            Arc::clone(&done),
            file.path().to_path_buf(),
            long.clone(),
            short.clone(),
        );
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::Relaxed) {
                let got = fs::read(&path).expect("the file is always there");
                assert!(
                    got == long || got == short,
                    "a reader saw {} bytes: a partial or mixed file",
                    got.len()
                );
                reads += 1;
            }
            reads
        })
    };
    for i in 0..400 {
        file.write_bytes(if i % 2 == 0 { &long } else { &short }).unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().expect("reader saw only whole files");
    assert!(reads > 0);
    no_temp_files_left(dir.path());
}

#[test]
fn symbolic_links_are_refused_and_their_targets_untouched() {
    let dir = TempDir::new("oracle");
    let real_dir = dir.path().join("real");
    fs::create_dir(&real_dir).unwrap();
    let victim = dir.path().join("victim");
    fs::write(&victim, "keep me").unwrap();

    // The location is a link to a directory.
    let dir_link = dir.path().join("dir-link");
    symlink(&real_dir, &dir_link).unwrap();
    let e = TokenFile::new(&dir_link).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsafePath, "{e}");
    common::assert_names(&e, &["symbolic link", "dir-link"]);

    // The location is a link to a file.
    let file_link = dir.path().join("file-link");
    symlink(&victim, &file_link).unwrap();
    assert_eq!(
        TokenFile::new(&file_link).unwrap_err().kind(),
        ErrorKind::UnsafePath
    );

    // The directory is fine but <dir>/token is a link (planted after the location was resolved).
    let file = TokenFile::new(&real_dir).unwrap();
    symlink(&victim, real_dir.join("token")).unwrap();
    let e = file.write_bytes(b"token").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsafePath, "{e}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(fs::symlink_metadata(real_dir.join("token"))
        .unwrap()
        .file_type()
        .is_symlink());
    no_temp_files_left(&real_dir);
}

#[test]
fn directories_others_can_write_are_refused() {
    let dir = TempDir::new("oracle");
    // Resolved while the directory was private, written after it was opened up: refused then.
    let resolved_early = TokenFile::new(dir.path()).unwrap();
    for refused in [0o777, 0o1777, 0o703] {
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(refused)).unwrap();
        let e = TokenFile::new(dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsafePath, "mode {refused:o}: {e}");
        assert!(e.message().contains("writable by other users"), "{e}");
        let e = resolved_early.write_bytes(b"t").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsafePath, "mode {refused:o}: {e}");
        assert!(!dir.path().join("token").exists());
    }
    // Group-writable is fine in a directory the user owns (shared with the Oracle group).
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o770)).unwrap();
    TokenFile::new(dir.path()).unwrap().write_bytes(b"t").unwrap();
    assert_eq!(fs::read(dir.path().join("token")).unwrap(), b"t");
    no_temp_files_left(dir.path());
}

#[test]
fn a_missing_directory_is_a_file_error_naming_it() {
    let dir = TempDir::new("oracle");
    let e = TokenFile::new(dir.path().join("no-such-dir").join("token")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::File);
    assert!(e.message().contains("no-such-dir"), "{e}");
}

/// Events seen by a keeper's observer, with when they arrived.
#[derive(Default)]
struct Seen {
    written: Vec<(i64, i64)>, // (unix ms when written, token expires_on)
    failed: Vec<(ErrorKind, Duration, bool)>,
}

fn observer(seen: &Arc<Mutex<Seen>>) -> KeeperOptions {
    let seen = Arc::clone(seen);
    KeeperOptions {
        retry_min: Duration::from_millis(200),
        retry_max: Duration::from_secs(1),
        on_event: Some(Arc::new(move |e: &KeeperEvent<'_>| {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            let mut s = seen.lock().unwrap();
            match e {
                KeeperEvent::Written { expires_on, .. } => s.written.push((now_ms, *expires_on)),
                KeeperEvent::Failed {
                    error,
                    retry_in,
                    permanent,
                    ..
                } => s.failed.push((error.kind(), *retry_in, *permanent)),
            }
        })),
        ..KeeperOptions::default()
    }
}

/// A keeper started in a new directory for a client of a mock whose tokens live
/// `lifetime_s`, renewed with `margin_s` left; what it reports is recorded in the [`Seen`].
fn started_keeper(lifetime_s: u64, margin_s: u64) -> (MockServer, TempDir, Arc<Mutex<Seen>>, Keeper) {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_token_lifetime(lifetime_s);
    let c = client(&mock, &format!("expiry_margin_s={margin_s}"));
    let dir = TempDir::new("oracle");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let keeper = Keeper::start(&c, dir.path(), observer(&seen)).unwrap();
    (mock, dir, seen, keeper)
}

#[test]
fn keeper_rewrites_the_file_before_each_token_expires() {
    // 10-second tokens renewed with 5 s left: seconds of slack before each expiry, even on a
    // loaded machine.
    let (mock, dir, seen, keeper) = started_keeper(10, 5);
    assert_eq!(keeper.path(), dir.path().join("token"));
    let first = fs::read_to_string(keeper.path()).unwrap();
    common::wait_until("three writes", Duration::from_secs(40), || {
        seen.lock().unwrap().written.len() >= 3
    });
    let status = keeper.status();
    keeper.stop();

    let seen = seen.lock().unwrap();
    assert!(seen.failed.is_empty(), "no failures: {:?}", seen.failed);
    for pair in seen.written.windows(2) {
        let ((_, expires), (written_ms, _)) = (pair[0], pair[1]);
        assert!(
            written_ms < expires * 1000,
            "rewritten before the previous token expired ({written_ms} ms vs exp {expires} s)"
        );
    }
    let now_in_file = fs::read_to_string(dir.path().join("token")).unwrap();
    assert_ne!(now_in_file, first, "a newer token");
    assert!(!now_in_file.ends_with('\n'));
    mock.verify_token(&now_in_file).unwrap();
    assert_eq!(mode(&dir.path().join("token")), 0o600);
    assert!(status.writes >= 3 && status.last_error.is_none(), "{status:?}");
    assert!(status.expires_on > unix_now());
    no_temp_files_left(dir.path());
}

#[test]
fn keeper_keeps_the_last_good_token_while_renewing_fails_then_recovers() {
    let (mock, _dir, seen, keeper) = started_keeper(6, 3);
    let good = fs::read_to_string(keeper.path()).unwrap();

    // Every token request now gets a proxy's HTML page.
    mock.fail_next(100_000, Fault::MalformedBody);
    common::wait_until("three failed renewals", Duration::from_secs(30), || {
        seen.lock().unwrap().failed.len() >= 3
    });
    assert_eq!(
        fs::read_to_string(keeper.path()).unwrap(),
        good,
        "the file keeps its token"
    );
    let status = keeper.status();
    assert_eq!(
        status.last_error.as_ref().map(|e| e.kind()),
        Some(ErrorKind::BadResponse)
    );
    assert!(status.consecutive_failures >= 3);
    {
        let s = seen.lock().unwrap();
        let delays: Vec<Duration> = s.failed.iter().map(|f| f.1).collect();
        assert!(
            delays.windows(2).all(|w| w[1] >= w[0]),
            "backoff grows: {delays:?}"
        );
        assert!(delays[2] > delays[0], "backoff grows: {delays:?}");
        assert!(s.failed.iter().all(|f| !f.2), "a bad response is not permanent");
    }

    // Entra ID is back: the keeper recovers on its own.
    mock.clear_faults();
    let writes_before = seen.lock().unwrap().written.len();
    common::wait_until("a write after recovery", Duration::from_secs(20), || {
        seen.lock().unwrap().written.len() > writes_before
    });
    let fresh = fs::read_to_string(keeper.path()).unwrap();
    assert_ne!(fresh, good);
    mock.verify_token(&fresh).unwrap();
    assert!(keeper.status().last_error.is_none());
    keeper.stop();
}

#[test]
fn keeper_start_fails_cleanly_and_stop_is_prompt() {
    let mock = MockServer::spawn(MockConfig::default());
    let dir = TempDir::new("oracle");

    // Wrong secret: nothing started, nothing written.
    let bad = Client::new(&config(&mock, "client_secret=wrong")).unwrap();
    let e = Keeper::start(&bad, dir.path(), KeeperOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidClient);
    assert!(!dir.path().join("token").exists());

    // An unsafe location: refused before any request.
    let c = client(&mock, "");
    let link = dir.path().join("link");
    symlink(dir.path(), &link).unwrap();
    let open = dir.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let requests = mock.token_requests();
    for refused in [&link, &open] {
        let e = Keeper::start(&c, refused, KeeperOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsafePath, "{}", refused.display());
    }
    assert_eq!(
        mock.token_requests(),
        requests,
        "refused before any token request"
    );

    // An hour-long token: the keeper sleeps, and stop wakes and joins it at once.
    let keeper = Keeper::start(&c, dir.path(), KeeperOptions::default()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    keeper.stop();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        started.elapsed()
    );
    // Dropping a keeper stops it too.
    drop(Keeper::start(&c, dir.path(), KeeperOptions::default()).unwrap());
    assert!(dir.path().join("token").exists(), "the file stays after stop");
}

#[test]
fn oracle_style_settings_end_to_end() {
    let mock = MockServer::spawn(MockConfig::default());
    let dir = TempDir::new("oracle");
    // As a sqlnet.ora / descriptor would say it, plus where the mock is.
    let mut cfg = Config::new();
    cfg.parse(&format!(
        "authority_host={}; ca_file={}; TOKEN_AUTH=OAUTH; TOKEN_LOCATION={}; TENANT_ID={TENANT_ID}; \
         CLIENT_ID={CLIENT_ID}; CLIENT_SECRET={CLIENT_SECRET}; AZURE_DB_APP_ID_URI=api://oracle-db",
        mock.base_url(),
        mock.ca_file().display(),
        dir.path().display()
    ))
    .unwrap();
    let c = Client::new(&cfg).unwrap();
    assert_eq!(c.oracle().token_location(), Some(dir.path()));
    let token = c.get_token(None).unwrap();
    assert_eq!(
        mock.verify_token(token.secret()).unwrap()["aud"],
        "api://oracle-db"
    );
    TokenFile::new(c.oracle().token_location().unwrap())
        .unwrap()
        .write(&token)
        .unwrap();
    assert_eq!(
        fs::read(dir.path().join("token")).unwrap(),
        token.secret().as_bytes()
    );
    assert_eq!(
        mock.token_request_log()[0].form_value("scope"),
        Some("api://oracle-db/.default")
    );

    // The ojdbc-provider-azure property names.
    let mut cfg = Config::new();
    cfg.set("authority_host", mock.base_url()).unwrap();
    cfg.set("ca_file", mock.ca_file().to_str().unwrap()).unwrap();
    for (k, v) in [
        ("oracle.jdbc.provider.accessToken", "ojdbc-provider-azure-token"),
        (
            "oracle.jdbc.provider.accessToken.authenticationMethod",
            "service-principal",
        ),
        ("oracle.jdbc.provider.accessToken.tenantId", TENANT_ID),
        ("oracle.jdbc.provider.accessToken.clientId", CLIENT_ID),
        ("oracle.jdbc.provider.accessToken.clientSecret", CLIENT_SECRET),
        ("oracle.jdbc.provider.accessToken.scope", SCOPE),
    ] {
        cfg.set(k, v).unwrap();
    }
    let token = Client::new(&cfg).unwrap().get_token(None).unwrap();
    assert_eq!(mock.verify_token(token.secret()).unwrap()["appid"], CLIENT_ID);
}

#[test]
fn methods_this_build_lacks_are_refused_by_client_new() {
    let mock = MockServer::spawn(MockConfig::default());
    let mut refused = 0;
    for (key, value, method) in [
        ("TOKEN_AUTH", "AZURE_MANAGED_IDENTITY", "managed_identity"),
        ("TOKEN_AUTH", "AZURE_DEVICE_CODE", "device_code"),
        ("TOKEN_AUTH", "AZURE_INTERACTIVE", "interactive"),
        ("TOKEN_AUTH", "AZURE_DEFAULT", "auto"),
        ("auth_method", "managed_identity", "managed_identity"),
        (
            "oracle.jdbc.provider.accessToken.authenticationMethod",
            "auto-detect",
            "auto",
        ),
    ] {
        let mut cfg = config(&mock, "");
        cfg.set(key, value).unwrap();
        let m = AuthMethod::parse(method).unwrap();
        assert_eq!(cfg.auth_method(), Some(m), "{key}={value}");
        let result = Client::new(&cfg);
        if m.is_available() {
            // Implemented in this build: whatever else it needs, it is not refused as missing.
            if let Err(e) = result {
                assert!(
                    !e.message().contains("not supported by this build"),
                    "{key}={value}: {e}"
                );
            }
            continue;
        }
        refused += 1;
        let e = result.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting, "{key}={value}");
        assert!(
            e.message().contains("'auth_method'")
                && e.message().contains(method)
                && e.message().contains("not supported by this build yet"),
            "{key}={value}: {e}"
        );
    }
    // Once every method is in the build there is nothing left to refuse; the refusal itself is
    // also covered by the unit tests of `auth_method`.
    let _ = refused;
    let mut cfg = config(&mock, "");
    cfg.set("TOKEN_AUTH", "AZURE_SERVICE_PRINCIPAL").unwrap();
    Client::new(&cfg).unwrap().get_token(None).unwrap();
    assert_eq!(mock.token_requests(), 1, "building clients makes no request");
}

#[test]
fn claims_of_a_token_from_the_mock() {
    let mock = MockServer::spawn(MockConfig::default());
    let token = client(&mock, "").get_token(None).unwrap();
    let verified = mock.verify_token(token.secret()).unwrap();
    let claims = Claims::from_jwt(token.secret()).unwrap();
    assert_eq!(claims.audience().as_deref(), Some("api://oracle-db"));
    assert_eq!(claims.tenant_id(), Some(TENANT_ID));
    assert_eq!(claims.app_id(), Some(CLIENT_ID));
    assert_eq!(claims.object_id(), verified["oid"].as_str());
    assert_eq!(claims.issuer(), verified["iss"].as_str());
    assert_eq!(claims.roles().as_deref(), Some("DBA"));
    assert_eq!(claims.user_name(), None, "an application token has no user");
    assert_eq!(claims.scopes(), None);
    assert!((claims.expires_on().unwrap() - token.expires_on()).abs() <= 30);
    assert!(claims.not_before().unwrap() <= unix_now());
    let parsed: serde_json::Value = serde_json::from_str(claims.json()).unwrap();
    assert_eq!(parsed, verified);
}

/// What a database driver's token callback asks for (ODPI-C, OCI: `borrow` in src/ffi/oracle.rs):
/// `get_token_without_interaction` never waits for a person. With nobody signed in it fails at
/// once with `InteractionRequired` saying what to do — no device code asked for, although
/// `automatic_sign_in` is on — and once the host has signed the person in on its own thread, it
/// answers silently (the cached token; another scope through the refresh token).
#[test]
fn a_drivers_callback_never_starts_a_person_sign_in() {
    use aadtoken_core::config::DeviceCodePrompt;
    use aadtoken_mock::{OTHER_SCOPE, PUBLIC_CLIENT_ID, USERNAME};

    struct Approve(Arc<MockServer>, Mutex<u32>);
    impl DeviceCodePrompt for Approve {
        fn prompt(&self, _message: &str, user_code: &str, _uri: &str, _expires_on: i64) {
            *self.1.lock().unwrap() += 1;
            assert!(self.0.approve_device_code(user_code, USERNAME));
        }
    }
    let mock = Arc::new(MockServer::spawn(MockConfig::default()));
    mock.set_device_code_timing(1, 60);
    let mut c = crate::common::mock_config(
        &mock,
        &format!("tenant_id={TENANT_ID};client_id={PUBLIC_CLIENT_ID};scope={SCOPE};auth_method=device_code"),
    );
    let prompt = Arc::new(Approve(Arc::clone(&mock), Mutex::new(0)));
    c.set_device_code_prompt(Some(prompt.clone()));
    let client = Client::new(&c).unwrap();

    let e = client.get_token_without_interaction(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InteractionRequired, "{e}");
    common::assert_names(&e, &["never waits for a person", "aadtoken_client_sign_in"]);
    assert_eq!(*prompt.1.lock().unwrap(), 0, "no device code shown");
    assert!(
        mock.requests().iter().all(|r| !r.path.contains("devicecode")),
        "no device code asked for"
    );

    // The host signs in first (its own thread may wait for the person), then hands the client
    // to the driver.
    let signed_in = client.get_token(None).unwrap();
    assert_eq!(*prompt.1.lock().unwrap(), 1);
    let lent = client.get_token_without_interaction(None).unwrap();
    assert_eq!(lent.secret(), signed_in.secret(), "the cached token");
    let other = client.get_token_without_interaction(Some(OTHER_SCOPE)).unwrap();
    assert_ne!(other.secret(), signed_in.secret());
    assert_eq!(
        *prompt.1.lock().unwrap(),
        1,
        "silently, through the refresh token"
    );
}

/// A forked child holds a copy of the parent's keeper but not its thread: there the keeper is
/// inert (its status says so, naming `keeper`; stopping it returns at once without touching
/// the file), and the parent's keeper goes on as before.
#[test]
fn a_keeper_in_a_forked_child_is_inert_and_the_parent_s_keeps_running() {
    let mock = MockServer::spawn(MockConfig::default());
    let c = client(&mock, "");
    let dir = TempDir::new("oracle-fork");
    let keeper = Keeper::start(&c, dir.path(), KeeperOptions::default()).unwrap();
    let before = fs::read_to_string(keeper.path()).unwrap();
    // SAFETY: the child only reads the keeper's state, stops it and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let status = keeper.status();
            let Some(e) = status.last_error else { return 2 };
            if e.kind() != ErrorKind::InvalidArgument
                || !e.message().contains("'keeper'")
                || !e.message().contains("fork")
            {
                return 3;
            }
            if status.writes != 1 {
                return 4;
            }
            let path = keeper.path().to_path_buf();
            keeper.stop(); // must return at once: the thread is the parent's
            if fs::read_to_string(path).ok().as_deref() != Some(before.as_str()) {
                return 5;
            }
            0
        }))
        .unwrap_or(6);
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != pid {
        if Instant::now() > deadline {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung stopping its copy of the keeper");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed a check (exit code {}: 2 no error, 3 wrong error, 4 wrong state, 5 file changed, 6 panic)",
        libc::WEXITSTATUS(status)
    );
    // The parent's keeper is untouched: its status is clean and it stops normally.
    let status = keeper.status();
    assert!(status.last_error.is_none() && status.writes == 1, "{status:?}");
    keeper.stop();
    assert_eq!(fs::read_to_string(dir.path().join("token")).unwrap(), before);
}
