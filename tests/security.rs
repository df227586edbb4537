//! The security review points, each tested:
//!
//! * authorities are https only; plain http only for managed-identity endpoints, and only on
//!   loopback or link-local addresses (settings and platform variables alike);
//! * no credential follows a redirect: a managed-identity endpoint answering 307 gets the
//!   secret header once, and the redirect target gets nothing (the token endpoint's case is in
//!   tests/faults.rs);
//! * token and cache files are created 0600 and never followed through a symbolic link;
//! * the browser sign-in's loopback listener is bound to 127.0.0.1 and ::1 only, and a redirect with a
//!   forged `state` redeems nothing;
//! * `Debug` of every type that holds a secret shows no secret;
//! * secrets are wiped when dropped: this binary's allocator inspects every block freed while
//!   a check is armed, and fails if one still holds the secret (SecretString, Token, Config
//!   filled by set and by a settings string, a client, an error).

mod common;
mod creds;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aadtoken_core::config::UrlOpener;
use aadtoken_core::secret::SecretString;
use aadtoken_core::token::Token;
use aadtoken_core::{Client, Config, ErrorKind};
use aadtoken_mock::{MockConfig, MockServer, CLIENT_ID, PUBLIC_CLIENT_ID, SCOPE, TENANT_ID};
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------------
// An allocator that looks for a secret in freed memory.

struct Watch;
static ARMED: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);
/// The secret looked for; set before arming (the allocator only reads it).
static MARKER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static MARKER_PTR: AtomicUsize = AtomicUsize::new(0);
static MARKER_LEN: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::Acquire) {
            let (m, n) = (
                MARKER_PTR.load(Ordering::Acquire),
                MARKER_LEN.load(Ordering::Acquire),
            );
            if n > 0 && layout.size() >= n && ptr as usize != m {
                // SAFETY: the block is ours until System.dealloc below; the marker lives in a
                // Vec that is neither freed nor moved while armed.
                let block = std::slice::from_raw_parts(ptr, layout.size());
                let marker = std::slice::from_raw_parts(m as *const u8, n);
                if block.windows(n).any(|w| w == marker) {
                    FOUND.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOC: Watch = Watch;

/// Only one wipe check at a time (the allocator state is global).
static WIPE: Mutex<()> = Mutex::new(());

/// Run `f` with the allocator watching for `secret` in freed blocks; returns how many freed
/// blocks still held it.
fn freed_copies(secret: &str, f: impl FnOnce(&str)) -> usize {
    let _one = WIPE.lock().unwrap_or_else(|p| p.into_inner());
    {
        let mut m = MARKER.lock().unwrap();
        m.clear();
        m.extend_from_slice(secret.as_bytes());
        MARKER_PTR.store(m.as_ptr() as usize, Ordering::Release);
        MARKER_LEN.store(m.len(), Ordering::Release);
    }
    FOUND.store(0, Ordering::Relaxed);
    ARMED.store(true, Ordering::Release);
    f(secret);
    ARMED.store(false, Ordering::Release);
    MARKER_LEN.store(0, Ordering::Release);
    FOUND.load(Ordering::Relaxed)
}

/// A fresh secret in memory the test wipes itself.
fn secret(tag: &str) -> Zeroizing<String> {
    Zeroizing::new(format!("Wipe-{tag}-{}", uuid::Uuid::new_v4().simple()))
}

/// Asserts that `f`, given a fresh secret tagged `tag`, leaves no freed block holding it
/// (`what` names the code under test).
fn assert_wiped(tag: &str, what: &str, f: impl FnOnce(&str)) {
    let s = secret(tag);
    assert_eq!(freed_copies(&s, f), 0, "{what}");
}

#[test]
fn the_allocator_check_sees_a_plain_string_freed_unwiped() {
    let s = secret("control");
    let n = freed_copies(&s, |v| drop(v.to_owned()));
    assert!(n >= 1, "the check must catch an unwiped copy");
}

#[test]
fn secrets_are_wiped_when_dropped() {
    assert_wiped("secretstring", "SecretString", |v| {
        drop(SecretString::new(v.to_owned()))
    });

    assert_wiped("token", "Token and its replicas", |v| {
        let t = Token::new(v, i64::MAX / 2, 0);
        let r = t.replicate();
        drop((t, r));
    });

    // A handle handed to C is one reference of the shared token (`Arc::into_raw`), released by
    // `aadtoken_token_free` (`Arc::from_raw` and a drop), possibly on another thread: the bytes
    // are wiped when the last reference goes, whichever thread drops it.
    assert_wiped(
        "shared-token",
        "a shared token released from several threads",
        |v| {
            let t = Arc::new(Token::new(v, i64::MAX / 2, 0));
            let handles: Vec<_> = (0..3).map(|_| Arc::into_raw(Arc::clone(&t)) as usize).collect();
            drop(t);
            let threads: Vec<_> = handles
                .into_iter()
                // SAFETY: each address is one reference made by `Arc::into_raw` above, released once.
                .map(|h| std::thread::spawn(move || drop(unsafe { Arc::from_raw(h as *const Token) })))
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        },
    );

    assert_wiped("config-set", "Config filled by set", |v| {
        let mut c = Config::new();
        c.set("client_secret", v).unwrap();
        c.set("password", v).unwrap();
        c.set("certificate_password", v).unwrap();
        let copy = c.clone();
        drop((c, copy));
    });

    assert_wiped("config-parse", "Config filled by a settings string", |v| {
        let mut text = Zeroizing::new(String::with_capacity(256)); // no reallocation
        text.push_str("tenant_id=t; client_id=c; client_secret=\"");
        text.push_str(v);
        text.push_str("\"; password=");
        text.push_str(v);
        let mut c = Config::new();
        c.parse(&text).unwrap();
        drop(c);
    });

    assert_wiped("client", "a client and its credential", |v| {
        let mut c = Config::new();
        c.parse("tenant_id=t;client_id=c;scope=api://x/.default").unwrap();
        c.set("client_secret", v).unwrap();
        let client = Client::new(&c).unwrap();
        let twin = client.clone();
        let _ = format!("{client:?}");
        drop((c, client, twin));
    });
}

// ---------------------------------------------------------------------------------------------

#[test]
fn authorities_are_https_only() {
    for (key, value) in [
        ("authority_host", "http://login.microsoftonline.com"),
        ("authority_host", "ftp://login.microsoftonline.com"),
        ("authority", "http://login.microsoftonline.com/tenant"),
        ("authority", "http://127.0.0.1:8443/tenant"),
    ] {
        let e = Config::new().set(key, value).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting, "{key}={value}");
        assert!(e.message().contains(key), "{}", e.message());
    }
    let e = Config::new()
        .load_env_from(|n| (n == "AZURE_AUTHORITY_HOST").then(|| "http://login.example".to_owned()))
        .unwrap_err();
    assert!(e.message().contains("AZURE_AUTHORITY_HOST"), "{}", e.message());
    // An OIDC issuer's discovery document may not point the token endpoint at plain http.
    let e = aadtoken_core::authority::OidcMetadata::parse(
        "https://issuer.example",
        br#"{"token_endpoint":"http://issuer.example/token"}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadResponse);
    assert!(e.message().contains("not https"), "{}", e.message());
}

#[test]
fn managed_identity_plain_http_only_on_loopback_and_link_local() {
    let mi = |vars: Vec<(&'static str, &'static str)>, settings: &str| {
        let mut c = Config::new();
        c.parse(&format!("auth_method=managed_identity;scope={SCOPE};{settings}"))
            .unwrap();
        c.load_env_from(move |n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string()))
            .unwrap();
        Client::new(&c)
    };
    for ok in [
        "http://169.254.169.254",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost:40342",
        "http://[fe80::1]:80",
        "https://identity.example.com",
    ] {
        mi(vec![], &format!("managed_identity_endpoint={ok}")).unwrap();
    }
    for bad in [
        "http://10.0.0.4",
        "http://metadata.example.com",
        "http://192.168.1.1",
        "http://8.8.8.8",
    ] {
        let e = Config::new().set("managed_identity_endpoint", bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting, "{bad}");
    }
    // The platform's variables are held to the same rule.
    for (vars, name) in [
        (
            vec![
                ("IDENTITY_ENDPOINT", "http://10.1.2.3/msi/token"),
                ("IDENTITY_HEADER", "h"),
            ],
            "App Service",
        ),
        (vec![("MSI_ENDPOINT", "http://metadata.example/x")], "Cloud Shell"),
        (
            vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://10.0.0.9")],
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        ),
    ] {
        let e = mi(vars, "").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting, "{name}: {}", e.message());
        assert!(e.message().contains("https"), "{name}: {}", e.message());
    }
}

#[test]
fn a_managed_identity_redirect_is_not_followed_with_the_secret_header() {
    let endpoint = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    target.set_nonblocking(true).unwrap();
    let (ep_port, target_port) = (
        endpoint.local_addr().unwrap().port(),
        target.local_addr().unwrap().port(),
    );
    let server = std::thread::spawn(move || {
        let (mut s, _) = endpoint.accept().unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            req.extend_from_slice(&buf[..n]);
        }
        let answer = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{target_port}/msi/token?api-version=2019-08-01\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(answer.as_bytes()).unwrap();
        String::from_utf8_lossy(&req).into_owned()
    });
    let header = "identity-header-Qx81";
    let endpoint_url = format!("http://127.0.0.1:{ep_port}/msi/token");
    let vars = [
        ("IDENTITY_ENDPOINT", endpoint_url),
        ("IDENTITY_HEADER", header.to_owned()),
    ];
    let c = common::platform_config(
        &format!("auth_method=managed_identity;scope={SCOPE};timeout_ms=5000"),
        &vars,
    );
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    let request = server.join().unwrap();
    assert!(
        request
            .to_ascii_lowercase()
            .contains(&format!("x-identity-header: {header}").to_ascii_lowercase()),
        "the configured endpoint got the header: {request}"
    );
    assert_eq!(e.kind(), ErrorKind::BadResponse, "{}", e.message());
    assert!(e.message().contains("307"), "{}", e.message());
    assert!(!e.message().contains(header));
    match target.accept() {
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the redirect target was contacted: {other:?}"),
    }
}

#[test]
fn token_and_cache_files_are_private_and_never_followed_through_links() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = creds::temp_dir("security-files");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The token file: 0600 whatever the umask, a planted link refused with its target untouched.
    let tf = aadtoken_core::oracle::TokenFile::new(&dir).unwrap();
    tf.write(&Token::new("header.payload.sig", i64::MAX / 2, 0))
        .unwrap();
    assert_eq!(
        std::fs::metadata(tf.path()).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let victim = dir.join("victim");
    std::fs::write(&victim, "do not touch").unwrap();
    let linked = dir.join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink(&victim, linked.join("token")).unwrap();
    assert_eq!(
        aadtoken_core::oracle::TokenFile::new(&linked).unwrap_err().kind(),
        ErrorKind::UnsafePath
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "do not touch");
    // The person sign-in cache file: the same rules.
    let link = dir.join("cache-link.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let e = aadtoken_core::user::cache_file::CacheFile::open(&link).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsafePath, "{}", e.message());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "do not touch");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Looks at how the listener is bound, then sends a forged redirect to it.
struct ForgedRedirect {
    bound: Mutex<Vec<String>>,
}
impl UrlOpener for ForgedRedirect {
    fn open(&self, url: &str) -> aadtoken_core::Result<()> {
        let redirect = url
            .split('&')
            .find_map(|p| p.strip_prefix("redirect_uri="))
            .expect("a redirect_uri");
        let port: u16 = redirect
            .rsplit("%3A")
            .next()
            .unwrap()
            .trim_end_matches('/')
            .parse()
            .unwrap();
        // Every listening socket on that port, from the kernel's table.
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (addr, state) = (f[1], f[3]);
                let (ip, p) = addr.rsplit_once(':').unwrap();
                if state == "0A" && u16::from_str_radix(p, 16).unwrap() == port {
                    self.bound.lock().unwrap().push(format!("{table} {ip}"));
                }
            }
        }
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /?code=forged-code&state=forged-state HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut page = String::new();
        let _ = s.read_to_string(&mut page);
        Ok(())
    }
}

#[test]
fn the_loopback_listener_is_on_loopback_only_and_a_forged_state_redeems_nothing() {
    let mock = MockServer::spawn(MockConfig::default());
    let mut c = common::mock_config(
        &mock,
        &format!(
            "tenant_id={TENANT_ID};client_id={PUBLIC_CLIENT_ID};scope={SCOPE};auth_method=interactive;interactive_timeout_s=20"
        ),
    );
    let opener = Arc::new(ForgedRedirect {
        bound: Mutex::new(Vec::new()),
    });
    c.set_url_opener(Some(opener.clone()));
    let e = Client::new(&c).unwrap().sign_in(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StateMismatch, "{}", e.message());
    assert_eq!(mock.token_requests(), 0, "no code was redeemed");
    let bound = opener.bound.lock().unwrap().clone();
    assert_eq!(
        bound,
        vec![
            "/proc/net/tcp 0100007F".to_owned(),
            "/proc/net/tcp6 00000000000000000000000001000000".to_owned()
        ],
        "listening only on the loopback addresses 127.0.0.1 and ::1"
    );
}

#[test]
fn debug_of_every_secret_holding_type_is_redacted() {
    let mock = MockServer::spawn(MockConfig::default());
    let dir = creds::temp_dir("security-debug");
    let cert = creds::TestCert::new("aadtoken-debug");
    let pfx = cert.write_pfx(&dir, "app.pfx", "pfx-password-Debug1");
    let assertion = dir.join("assertion");
    std::fs::write(&assertion, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.assertion-sig").unwrap();
    let secrets = [
        "client-secret-Debug1",
        "user-password-Debug1",
        "pfx-password-Debug1",
        "identity-header-Debug1",
        "assertion-sig",
        "token-value-Debug1",
    ];
    let base = format!(
        "tenant_id={TENANT_ID};client_id={CLIENT_ID};scope={SCOPE};authority_host={};ca_file={}",
        mock.base_url(),
        mock.ca_file().display()
    );
    let mut shown: Vec<String> = Vec::new();
    let mut all = Config::new();
    all.parse(&format!(
        "{base};client_secret=client-secret-Debug1;password=user-password-Debug1;username=u@example.com;\
         certificate_path={};certificate_password=pfx-password-Debug1;assertion_file={}",
        pfx.display(),
        assertion.display()
    ))
    .unwrap();
    shown.push(format!("{all:?} {all:#?}"));
    for method in [
        "client_secret",
        "certificate",
        "client_assertion",
        "password",
        "auto",
    ] {
        let mut c = all.clone();
        c.set("auth_method", method).unwrap();
        c.load_env_from(|_| None).unwrap();
        let client = Client::new(&c).unwrap();
        shown.push(format!("{client:?} {client:#?} {:?}", client.credential()));
    }
    let mut c = Config::new();
    c.parse(&format!("auth_method=managed_identity;scope={SCOPE}"))
        .unwrap();
    c.load_env_from(|n| match n {
        "IDENTITY_ENDPOINT" => Some("http://127.0.0.1:1/msi/token".into()),
        "IDENTITY_HEADER" => Some("identity-header-Debug1".into()),
        _ => None,
    })
    .unwrap();
    let client = Client::new(&c).unwrap();
    shown.push(format!("{client:?} {:#?}", client.credential()));
    let mut c = Config::new();
    c.parse(&format!(
        "{base};client_id={PUBLIC_CLIENT_ID};auth_method=device_code"
    ))
    .unwrap();
    let client = Client::new(&c).unwrap();
    shown.push(format!("{client:#?}"));
    shown.push(format!("{:?}", SecretString::new("token-value-Debug1")));
    shown.push(format!("{:?}", Token::new("token-value-Debug1", 1, 1)));
    shown.push(format!(
        "{:?}",
        aadtoken_core::http::basic_authorization("id", "client-secret-Debug1")
    ));
    shown.push(format!("{:?}", aadtoken_core::oracle::KeeperOptions::default()));
    for text in &shown {
        for s in secrets {
            assert!(!text.contains(s), "'{s}' in Debug output: {text}");
        }
    }
    assert!(
        shown.iter().any(|t| t.contains("[redacted")),
        "redaction is visible"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
