//! Person sign-in against a real, certified OpenID provider: panva's `oidc-provider` (npm,
//! pinned in tests/oidc/package.json), started by tests/oidc/server.mjs over HTTPS on 127.0.0.1
//! with a certificate of a test CA that aadtoken trusts through `ca_file`. Its tokens carry no
//! `client_info` and no `oid`/`tid` — only `sub` and `iss` name the person.
//!
//! In both layouts — Entra's (`https://host/<tenant>/oauth2/v2.0/...`, an Entra authority) and a
//! plain issuer (`authority_kind=oidc`, endpoints from discovery) — device code and browser
//! sign-in are followed by silent refreshes (with the rotated refresh token: the provider
//! consumes each one) and no second prompt. The provider echoes the authorize request's
//! `nonce` into its id tokens, which aadtoken checks: one whose nonce was replaced on the way is
//! refused.
//!
//! Needs `node` (≥ 20) and `npm`; the provider is installed with `npm ci` in tests/oidc when it
//! is not there yet.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use aadtoken_core::config::{DeviceCodePrompt, UrlOpener};
use aadtoken_core::{Client, Config, ErrorKind};
use serde_json::{json, Value};

const TENANT: &str = "a0b1c2d3-0000-4000-8000-00000000c1a0";
const CLIENT_ID: &str = "aadtoken-oidc-test";

/// The provider process and its line protocol (see server.mjs).
struct Provider {
    child: Child,
    stdin: Mutex<ChildStdin>,
    lines: Mutex<mpsc::Receiver<String>>,
    port: u16,
    ca: PathBuf,
    next_id: AtomicUsize,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA, and a server certificate it signed for 127.0.0.1 and localhost: (CA, cert, key).
fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "aadtoken oidc-provider test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, leaf.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

impl Provider {
    fn start() -> Arc<Provider> {
        common::require_tool("node", "apt-get install nodejs npm");
        let package = common::repo_root().join("tests/oidc");
        // Once per test binary: the tests run in parallel, and two `npm ci` in one folder race.
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            if !package.join("node_modules/oidc-provider").exists() {
                common::require_tool("npm", "apt-get install npm");
                let out = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&package)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "npm ci in tests/oidc: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        });
        let dir = common::target_dir().join(format!(
            "oidc-provider-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca, cert, key) = test_pki(&dir);
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&package)
            .env("OIDC_CERT", &cert)
            .env("OIDC_KEY", &key)
            .env("OIDC_CA", &ca)
            .env("OIDC_TENANT", TENANT)
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // The provider also prints notices on stdout: only JSON lines are answers.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with('{') && tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("oidc-provider did not start");
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap() as u16;
        Arc::new(Provider {
            stdin: Mutex::new(child.stdin.take().unwrap()),
            child,
            lines: Mutex::new(rx),
            port,
            ca,
            next_id: AtomicUsize::new(1),
        })
    }

    /// One command to the provider's browser; its answer.
    fn ask(&self, mut cmd: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        cmd["id"] = json!(id);
        let lines = self.lines.lock().unwrap();
        writeln!(self.stdin.lock().unwrap(), "{cmd}").unwrap();
        let answer: Value =
            serde_json::from_str(&lines.recv_timeout(Duration::from_secs(60)).unwrap()).unwrap();
        assert_eq!(answer["id"], json!(id));
        assert!(answer.get("error").is_none(), "{answer}");
        answer
    }
}

/// The person: approves each device code on the provider's pages, or signs in in its "browser".
struct Person {
    provider: Arc<Provider>,
    prompts: AtomicUsize,
    opened: AtomicUsize,
    pages: Mutex<Vec<String>>,
    /// Replace the authorize request's `nonce` (as a code from another sign-in would carry).
    other_nonce: AtomicBool,
}

impl DeviceCodePrompt for Person {
    fn prompt(&self, _message: &str, user_code: &str, uri: &str, _expires_on: i64) {
        self.prompts.fetch_add(1, Ordering::SeqCst);
        let page = self
            .provider
            .ask(json!({"device": format!("{uri}?user_code={user_code}"), "user": "alice"}));
        self.pages
            .lock()
            .unwrap()
            .push(page["page"].as_str().unwrap().to_owned());
    }
}

impl UrlOpener for Person {
    fn open(&self, url: &str) -> aadtoken_core::Result<()> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let mut url = url.to_owned();
        if self.other_nonce.load(Ordering::SeqCst) {
            let start = url.find("&nonce=").expect("a nonce in the authorize URL") + "&nonce=".len();
            let end = url[start..].find('&').map_or(url.len(), |i| start + i);
            url.replace_range(start..end, "nonce-of-another-sign-in");
        }
        let page = self.provider.ask(json!({"browse": url, "user": "alice"}));
        self.pages
            .lock()
            .unwrap()
            .push(page["page"].as_str().unwrap().to_owned());
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
enum Layout {
    /// `https://127.0.0.1:<port>/<tenant>`, an Entra authority.
    Entra,
    /// `https://127.0.0.1:<port>/oidc` with `authority_kind=oidc`.
    Oidc,
}

fn client(provider: &Arc<Provider>, layout: Layout, method: &str) -> (Client, Arc<Person>) {
    let mut c = Config::new();
    let base = format!("https://127.0.0.1:{}", provider.port);
    match layout {
        Layout::Entra => {
            c.set("authority", &format!("{base}/{TENANT}")).unwrap();
            // Not Entra, though laid out like it: OpenID Connect Core §11 grants offline_access
            // (a refresh token) to a browser sign-in only with prompt=consent, which aadtoken
            // sends by itself to OpenID issuers (authority_kind=oidc) but not to Entra.
            c.set("prompt", "consent").unwrap();
        }
        Layout::Oidc => {
            c.set("authority_kind", "oidc").unwrap();
            c.set("authority", &format!("{base}/oidc")).unwrap();
            // The id token tells no user name (sub only): the hint cannot be checked, and the
            // one account without a name is the one whose refresh token is tried.
            c.set("login_hint", "alice@example.test").unwrap();
        }
    }
    c.parse(&format!(
        "client_id={CLIENT_ID};scope=db.read;auth_method={method};timeout_ms=10000;interactive_timeout_s=60"
    ))
    .unwrap();
    c.set("ca_file", provider.ca.to_str().unwrap()).unwrap();
    let person = Arc::new(Person {
        provider: Arc::clone(provider),
        prompts: AtomicUsize::new(0),
        opened: AtomicUsize::new(0),
        pages: Mutex::new(Vec::new()),
        other_nonce: AtomicBool::new(false),
    });
    c.set_device_code_prompt(Some(person.clone()));
    c.set_url_opener(Some(person.clone()));
    (Client::new(&c).unwrap(), person)
}

/// Sign in (the first `get_token`), then two forced refreshes: each redeems the refresh token
/// the previous answer rotated (oidc-provider consumes a refresh token when it is used), and
/// nobody is asked to sign in again.
fn sign_in_then_silent_refresh(layout: Layout, method: &str) {
    let provider = Provider::start();
    let (client, person) = client(&provider, layout, method);
    let first = client.get_token(None).unwrap();
    let interactions = || person.prompts.load(Ordering::SeqCst) + person.opened.load(Ordering::SeqCst);
    assert_eq!(interactions(), 1, "{layout:?} {method}: one sign-in");
    let page = person.pages.lock().unwrap()[0].clone();
    match method {
        "device_code" => assert!(page.contains("Sign-in Success"), "{page}"),
        _ => assert!(page.contains("You are signed in"), "{page}"),
    }
    let second = client.refresh_token(None).unwrap();
    assert_ne!(second.secret(), first.secret());
    let third = client.refresh_token(None).unwrap();
    assert_ne!(third.secret(), second.secret());
    assert_eq!(client.get_token(None).unwrap().secret(), third.secret());
    assert_eq!(interactions(), 1, "{layout:?} {method}: no second sign-in");
}

#[test]
fn device_code_in_the_entra_layout_then_silent_refresh() {
    sign_in_then_silent_refresh(Layout::Entra, "device_code");
}

#[test]
fn browser_in_the_entra_layout_then_silent_refresh() {
    sign_in_then_silent_refresh(Layout::Entra, "interactive");
}

#[test]
fn device_code_on_an_oidc_issuer_then_silent_refresh() {
    sign_in_then_silent_refresh(Layout::Oidc, "device_code");
}

#[test]
fn browser_on_an_oidc_issuer_then_silent_refresh() {
    sign_in_then_silent_refresh(Layout::Oidc, "interactive");
}

/// The provider puts the authorize request's `nonce` into the id token: with the nonce replaced
/// on the way, its id token carries another than aadtoken sent, and the sign-in is refused
/// (nothing kept: the next one asks the person again, and succeeds).
#[test]
fn browser_sign_in_refuses_an_id_token_with_another_nonce() {
    let provider = Provider::start();
    for layout in [Layout::Entra, Layout::Oidc] {
        let (client, person) = client(&provider, layout, "interactive");
        person.other_nonce.store(true, Ordering::SeqCst);
        let e = client.get_token(None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::StateMismatch, "{layout:?}: {e:?}");
        assert!(e.message().contains("'nonce'"), "{}", e.message());
        person.other_nonce.store(false, Ordering::SeqCst);
        client.get_token(None).unwrap();
        assert_eq!(
            person.opened.load(Ordering::SeqCst),
            2,
            "{layout:?}: signed in again"
        );
    }
}
