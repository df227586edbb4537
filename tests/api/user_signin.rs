//! Person sign-in through the Rust API against the mock: device code (prompt callback, the
//! mock's approval), the browser flow (open-URL callback driving the mock's `/authorize` and the
//! loopback redirect), silent refresh with rotating refresh tokens, and their failure modes.
//! The C ABI and the persistent cache across processes are tested by tests/c_suites/signin.rs.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common;
use aadtoken_core::config::{DeviceCodePrompt, UrlOpener};
use aadtoken_core::{Client, Config, Error, ErrorKind};
use aadtoken_mock::{
    MockConfig, MockServer, NonceMode, OTHER_NONCE, OTHER_SCOPE, PUBLIC_CLIENT_ID, SCOPE, SECOND_USERNAME,
    TENANT_ID, USERNAME,
};

fn config(mock: &MockServer, method: &str) -> Config {
    common::mock_config(
        mock,
        &format!("tenant_id={TENANT_ID};client_id={PUBLIC_CLIENT_ID};scope={SCOPE};auth_method={method};timeout_ms=10000"),
    )
}

/// Approves each device code as it is shown (through the mock's Rust API), and records it.
struct Approve {
    mock: Arc<MockServer>,
    user: &'static str,
    deny: bool,
    shown: Mutex<Vec<(String, String, String, i64)>>,
}

impl Approve {
    /// A prompt that approves each code as `user` (or denies it).
    fn new(mock: &Arc<MockServer>, user: &'static str, deny: bool) -> Arc<Approve> {
        Arc::new(Approve {
            mock: Arc::clone(mock),
            user,
            deny,
            shown: Mutex::new(Vec::new()),
        })
    }

    /// How many prompts it was shown.
    fn prompts(&self) -> usize {
        self.shown.lock().unwrap().len()
    }
}

impl DeviceCodePrompt for Approve {
    fn prompt(&self, message: &str, user_code: &str, uri: &str, expires_on: i64) {
        self.shown
            .lock()
            .unwrap()
            .push((message.into(), user_code.into(), uri.into(), expires_on));
        if self.deny {
            assert!(self.mock.deny_device_code(user_code));
        } else {
            assert!(self.mock.approve_device_code(user_code, self.user));
        }
    }
}

fn device_client(
    mock: &Arc<MockServer>,
    user: &'static str,
    deny: bool,
    extra: &str,
) -> (Client, Arc<Approve>) {
    let mut c = config(mock, "device_code");
    if !extra.is_empty() {
        c.parse(extra).unwrap();
    }
    let prompt = Approve::new(mock, user, deny);
    c.set_device_code_prompt(Some(prompt.clone()));
    (Client::new(&c).unwrap(), prompt)
}

fn upn(mock: &MockServer, jwt: &str) -> String {
    mock.verify_token(jwt).unwrap()["upn"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn fast_mock() -> Arc<MockServer> {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_device_code_timing(1, 60);
    Arc::new(mock)
}

#[test]
fn device_code_sign_in_then_silent_refresh_for_another_scope() {
    let mock = fast_mock();
    let (client, prompt) = device_client(&mock, USERNAME, false, "");
    let t = client.get_token(None).unwrap();
    let claims = mock.verify_token(t.secret()).unwrap();
    assert_eq!(claims["upn"], USERNAME);
    assert_eq!(claims["preferred_username"], USERNAME);
    assert_eq!(claims["scp"], "user_impersonation");
    assert_eq!(claims["aud"], "api://oracle-db");
    assert_eq!(claims["tid"], TENANT_ID);
    assert!(claims["oid"].as_str().is_some());
    let shown = prompt.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 1, "one prompt");
    let (message, code, uri, expires_on) = &shown[0];
    assert!(
        message.contains(code.as_str()) && message.contains(uri.as_str()),
        "{message}"
    );
    assert!(*expires_on > aadtoken_core::token::unix_now() + 30);
    let polls = mock.token_request_log();
    assert!(polls
        .iter()
        .all(|r| r.form_value("grant_type") == Some("urn:ietf:params:oauth:grant-type:device_code")));
    let scope = polls[0].form_value("scope").unwrap();
    assert!(
        scope.contains("openid") && scope.contains("offline_access") && scope.contains(SCOPE),
        "{scope}"
    );
    assert!(
        polls.iter().all(|r| r.form_value("client_secret").is_none()),
        "public client"
    );

    // The cached token, then another resource silently through the refresh token.
    assert_eq!(client.get_token(None).unwrap().secret(), t.secret());
    let before = mock.token_requests();
    let other = client.get_token(Some(OTHER_SCOPE)).unwrap();
    assert_eq!(mock.token_requests(), before + 1, "one refresh request");
    let last = mock.token_request_log().pop().unwrap();
    assert_eq!(last.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(last.form_value("refresh_token"), Some(aadtoken_mock::REDACTED));
    assert_eq!(upn(&mock, other.secret()), USERNAME);
    assert_eq!(prompt.prompts(), 1, "no second prompt");
    // Rotation: every refresh consumes the refresh token (the mock refuses reuse), so a second
    // forced refresh only works with the rotated one.
    client.refresh_token(Some(OTHER_SCOPE)).unwrap();
    client.refresh_token(None).unwrap();
    assert_eq!(mock.refresh_tokens_issued(), 4);
}

#[test]
fn revoked_refresh_token_means_interaction_required_without_automatic_sign_in() {
    let mock = fast_mock();
    let (client, prompt) = device_client(&mock, USERNAME, false, "automatic_sign_in=false");
    let e = client.get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InteractionRequired, "{e:?}");
    assert!(e.message().contains("automatic_sign_in"), "{}", e.message());
    assert_eq!(mock.token_requests(), 0, "nothing to refresh with");
    client.sign_in(None).unwrap();
    assert_eq!(prompt.prompts(), 1);
    assert_eq!(mock.revoke_refresh_tokens(USERNAME), 1);
    let e = client.get_token(Some(OTHER_SCOPE)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InteractionRequired, "{e:?}");
    assert_eq!(e.aadsts(), &[70043]);
    assert_eq!(e.oauth_error(), Some("invalid_grant"));
    assert!(e.message().contains(USERNAME), "{}", e.message());
    assert_eq!(prompt.prompts(), 1, "no sign-in started by itself");
}

#[test]
fn automatic_sign_in_after_a_revoked_refresh_token() {
    let mock = fast_mock();
    let (client, prompt) = device_client(&mock, USERNAME, false, "");
    client.get_token(None).unwrap();
    mock.revoke_refresh_tokens(USERNAME);
    let t = client.get_token(Some(OTHER_SCOPE)).unwrap();
    assert_eq!(upn(&mock, t.secret()), USERNAME);
    assert_eq!(prompt.prompts(), 2, "signed in again");
}

/// A driver's forced refresh (python-oracledb's `refresh=True`, node-oracledb's
/// `accessToken(true)`, ojdbc's provider after a rejected token) never waits for a person: with
/// nobody signed in `refresh_token_without_interaction` fails at once with
/// `InteractionRequired` (no device code asked for, although `automatic_sign_in` is on); once
/// the host has signed in, it asks the identity provider through the refresh token, silently.
/// For an application credential it is `refresh_token`.
#[test]
fn a_drivers_forced_refresh_never_starts_a_person_sign_in() {
    let mock = fast_mock();
    let (client, prompt) = device_client(&mock, USERNAME, false, "");
    let e = client.refresh_token_without_interaction(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InteractionRequired, "{e:?}");
    common::assert_names(&e, &["never waits for a person", "aadtoken_client_sign_in"]);
    assert_eq!(prompt.prompts(), 0, "no device code shown");
    assert!(
        mock.requests().iter().all(|r| !r.path.contains("devicecode")),
        "no device code asked for"
    );

    let signed_in = client.sign_in(None).unwrap();
    assert_eq!(prompt.prompts(), 1);
    let before = mock.token_requests();
    let refreshed = client.refresh_token_without_interaction(None).unwrap();
    assert_ne!(refreshed.secret(), signed_in.secret(), "a new token");
    assert_eq!(mock.token_requests(), before + 1, "one request");
    let last = mock.token_request_log().pop().unwrap();
    assert_eq!(last.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(upn(&mock, refreshed.secret()), USERNAME);
    assert_eq!(
        client.get_token_without_interaction(None).unwrap().secret(),
        refreshed.secret(),
        "it replaced the cached token"
    );
    assert_eq!(prompt.prompts(), 1, "silently, through the refresh token");

    let app = common::app_client(&mock, "");
    let first = app.get_token_without_interaction(None).unwrap();
    let before = mock.token_requests();
    let again = app.refresh_token_without_interaction(None).unwrap();
    assert_ne!(again.secret(), first.secret());
    assert_eq!(mock.token_requests(), before + 1, "always asks, as refresh_token");
    assert_eq!(app.get_token(None).unwrap().secret(), again.secret());
}

fn device_error(setup: impl FnOnce(&MockServer), deny: bool) -> (Error, Arc<MockServer>) {
    let mock = fast_mock();
    setup(&mock);
    let (client, _) = device_client(&mock, USERNAME, deny, "");
    (client.get_token(None).unwrap_err(), mock)
}

#[test]
fn device_code_declined_expired_and_no_callback() {
    let (e, _) = device_error(|_| {}, true);
    assert_eq!(e.kind(), ErrorKind::UserCancelled, "{e:?}");
    assert_eq!(e.oauth_error(), Some("authorization_declined"));

    // Nobody approves: the mock answers expired_token once the code's 2 s are over.
    let mock = fast_mock();
    mock.set_device_code_timing(1, 2);
    let mut c = config(&mock, "device_code");
    c.set_device_code_prompt(Some(
        Approve::new(&mock, USERNAME, false) as Arc<dyn DeviceCodePrompt>
    ));
    struct Ignore;
    impl DeviceCodePrompt for Ignore {
        fn prompt(&self, _: &str, _: &str, _: &str, _: i64) {}
    }
    c.set_device_code_prompt(Some(Arc::new(Ignore)));
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SignInExpired, "{e:?}");

    let mock = fast_mock();
    let e = Client::new(&config(&mock, "device_code"))
        .unwrap()
        .get_token(None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CallbackRequired, "{e:?}");
    common::assert_names(&e, &["aadtoken_config_set_device_code_callback"]);
    assert_eq!(mock.counters().total_requests, 0, "fails before any request");
}

#[test]
fn an_unknown_device_code_is_a_bad_verification_code() {
    struct Forget(Arc<MockServer>);
    impl DeviceCodePrompt for Forget {
        fn prompt(&self, _: &str, _: &str, _: &str, _: i64) {
            self.0.forget_device_codes();
        }
    }
    let mock = fast_mock();
    let mut c = config(&mock, "device_code");
    c.set_device_code_prompt(Some(Arc::new(Forget(Arc::clone(&mock)))));
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadVerificationCode, "{e:?}");
    assert_eq!(e.aadsts(), &[70018]);
    assert_eq!(aadtoken::ffi::status_of(e.kind()), 310);
}

#[test]
fn slow_down_adds_five_seconds_to_the_interval() {
    let mock = fast_mock();
    mock.slow_down_first_polls(1);
    let (client, _) = device_client(&mock, USERNAME, false, "");
    client.get_token(None).unwrap();
    let polls: Vec<u64> = mock.token_request_log().iter().map(|r| r.unix_ms).collect();
    assert_eq!(polls.len(), 2, "slow_down, then the token: {polls:?}");
    let gap = polls[1] - polls[0];
    assert!(
        gap >= 5_900,
        "the second poll came {gap} ms after the first (interval 1 s + 5 s)"
    );
}

#[test]
fn several_accounts_need_a_login_hint() {
    let mock = fast_mock();
    let (a, _) = device_client(&mock, USERNAME, false, "login_hint=dba@contoso.onmicrosoft.com");
    a.get_token(None).unwrap();
    let (b, _) = device_client(
        &mock,
        SECOND_USERNAME,
        false,
        &format!("login_hint={SECOND_USERNAME}"),
    );
    assert_eq!(upn(&mock, b.get_token(None).unwrap().secret()), SECOND_USERNAME);
    // A client without a hint cannot choose between the two cached accounts.
    let (c, prompt) = device_client(&mock, USERNAME, false, "");
    let e = c.get_token(Some(OTHER_SCOPE)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingSetting, "{e:?}");
    common::assert_names(&e, &[USERNAME, SECOND_USERNAME]);
    assert_eq!(prompt.prompts(), 0);
    // Signing in as someone else than login_hint asks for is refused.
    let (d, _) = device_client(&mock, USERNAME, false, &format!("login_hint={SECOND_USERNAME}"));
    let e = d.sign_in(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InteractionRequired, "{e:?}");
}

struct Browser {
    ca: PathBuf,
    /// Rewrites the redirect before it reaches the listener (state tampering).
    tamper: fn(String) -> String,
    /// Rewrites the authorize URL before the mock sees it (PKCE tampering).
    tamper_url: fn(String) -> String,
    pages: Mutex<Vec<String>>,
}

impl UrlOpener for Browser {
    fn open(&self, url: &str) -> aadtoken_core::Result<()> {
        let answer = common::browse(&self.ca, &(self.tamper_url)(url.to_owned()));
        let location = common::redirect_location(&answer);
        let page = common::browse(&self.ca, &(self.tamper)(location));
        self.pages.lock().unwrap().push(page);
        Ok(())
    }
}

fn browser(
    mock: &MockServer,
    tamper: fn(String) -> String,
    tamper_url: fn(String) -> String,
) -> Arc<Browser> {
    Arc::new(Browser {
        ca: mock.ca_file().to_path_buf(),
        tamper,
        tamper_url,
        pages: Mutex::new(Vec::new()),
    })
}

fn browser_client(
    mock: &MockServer,
    tamper: fn(String) -> String,
    tamper_url: fn(String) -> String,
) -> (Client, Arc<Browser>) {
    let mut c = config(mock, "interactive");
    c.set("login_hint", USERNAME).unwrap();
    let b = browser(mock, tamper, tamper_url);
    c.set_url_opener(Some(b.clone()));
    (Client::new(&c).unwrap(), b)
}

fn same(s: String) -> String {
    s
}

#[test]
fn browser_sign_in_with_pkce_then_silent_refresh() {
    let mock = MockServer::spawn(MockConfig::default());
    let (client, browser) = browser_client(&mock, same, same);
    let t = client.get_token(None).unwrap();
    assert_eq!(upn(&mock, t.secret()), USERNAME);
    let pages = browser.pages.lock().unwrap().clone();
    assert!(
        pages[0].starts_with("200\n") && pages[0].contains("You can close this window"),
        "{pages:?}"
    );
    let log = mock.requests();
    let authorize = log.iter().find(|r| r.route == "authorize").unwrap();
    let q = authorize.query.clone().unwrap();
    for p in [
        "code_challenge_method=S256",
        "response_type=code",
        "redirect_uri=http%3A%2F%2Flocalhost%3A",
        "login_hint=",
        "state=",
        "nonce=",
        "offline_access",
    ] {
        assert!(q.contains(p), "{p} in {q}");
    }
    let redeem = mock.token_request_log().pop().unwrap();
    assert_eq!(redeem.form_value("grant_type"), Some("authorization_code"));
    assert_eq!(redeem.form_value("code_verifier"), Some(aadtoken_mock::REDACTED));
    assert!(redeem
        .form_value("redirect_uri")
        .unwrap()
        .starts_with("http://localhost:"));
    // Another scope: silent.
    client.get_token(Some(OTHER_SCOPE)).unwrap();
    assert_eq!(mock.authorization_codes_issued(), 1);
}

fn wrong_state(location: String) -> String {
    location.replace("state=", "state=X")
}

fn wrong_challenge(url: String) -> String {
    let i = url.find("code_challenge=").unwrap() + "code_challenge=".len();
    format!(
        "{}{}{}",
        &url[..i],
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        &url[i + 43..]
    )
}

#[test]
fn browser_failures_state_mismatch_denied_pkce_mismatch_timeout() {
    let mock = MockServer::spawn(MockConfig::default());
    let (client, browser) = browser_client(&mock, wrong_state, same);
    let e = client.get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StateMismatch, "{e:?}");
    assert!(browser.pages.lock().unwrap()[0].starts_with("400\n"));
    assert_eq!(mock.token_requests(), 0, "the code was not redeemed");

    mock.deny_sign_ins();
    let (client, _) = browser_client(&mock, same, same);
    let e = client.get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UserCancelled, "{e:?}");
    assert_eq!(e.oauth_error(), Some("access_denied"));
    assert_eq!(e.aadsts(), &[65004]);

    mock.approve_sign_ins_as(USERNAME);
    let (client, _) = browser_client(&mock, same, wrong_challenge);
    let e = client.get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidGrant, "{e:?}");
    assert_eq!(e.aadsts(), &[501481]);

    // Nobody comes back: interactive_timeout_s.
    struct Nothing;
    impl UrlOpener for Nothing {
        fn open(&self, _: &str) -> aadtoken_core::Result<()> {
            Ok(())
        }
    }
    let mut c = config(&mock, "interactive");
    c.set("interactive_timeout_s", "1").unwrap();
    c.set_url_opener(Some(Arc::new(Nothing)));
    let started = Instant::now();
    let e = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SignInExpired, "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The `nonce` of each authorize request in the mock's log, oldest first.
fn sent_nonces(mock: &MockServer) -> Vec<String> {
    mock.requests()
        .iter()
        .filter(|r| r.route == "authorize")
        .filter_map(|r| {
            // aadtoken's nonce is base64url: nothing in it is percent-encoded.
            let q = r.query.as_deref()?;
            q.split('&')
                .find_map(|p| p.strip_prefix("nonce="))
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn browser_sign_in_sends_a_fresh_nonce_and_refuses_an_id_token_without_it() {
    let mock = fast_mock();
    let dir = common::private_dir(&common::target_dir(), "nonce");
    let cache = dir.join("accounts.json");
    let browser_with_cache = |extra: &str| {
        let mut c = config(&mock, "interactive");
        c.parse(&format!(
            "login_hint={USERNAME};cache_file={};{extra}",
            cache.display()
        ))
        .unwrap();
        c.set_url_opener(Some(browser(&mock, same, same)));
        Client::new(&c).unwrap()
    };
    // Entra echoes the nonce into the id token (the mock does, as Entra): signed in.
    let client = browser_with_cache("");
    client.sign_in(None).unwrap();
    client.sign_in(None).unwrap();
    let nonces = sent_nonces(&mock);
    assert_eq!(nonces.len(), 2, "{nonces:?}");
    assert!(nonces[0].len() >= 32, "{nonces:?}");
    assert_ne!(nonces[0], nonces[1], "a fresh nonce per sign-in");
    assert!(std::fs::read_to_string(&cache).unwrap().contains(USERNAME));
    client.sign_out().unwrap();

    // An id token with another sign-in's nonce (an injected code), or with none: refused,
    // and nothing is kept.
    for mode in [NonceMode::Omit, NonceMode::Other] {
        mock.set_id_token_nonce(mode);
        let before = mock.token_requests();
        let e = browser_with_cache("").sign_in(None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::StateMismatch, "{mode:?}: {e:?}");
        assert!(e.message().contains("'nonce'"), "{}", e.message());
        assert!(!e.message().contains(OTHER_NONCE), "{}", e.message());
        assert_eq!(mock.token_requests(), before + 1, "the code was redeemed");
        let file = std::fs::read_to_string(&cache).unwrap();
        assert!(
            !file.contains(USERNAME) && !file.contains("refresh_token\""),
            "{mode:?}: {file}"
        );
        let e = browser_with_cache("automatic_sign_in=false")
            .get_token(None)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InteractionRequired, "{mode:?}: {e:?}");
    }
    // The device code flow sends no nonce and checks none (its id token carries another here).
    let (device, _) = device_client(&mock, USERNAME, false, "");
    device.get_token(None).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn device_code_polling_survives_transient_errors_within_the_codes_lifetime() {
    let mock = fast_mock();
    // More than the request's own retry takes (one retry of a 5xx): two polls fail outright,
    // one of them by a dropped connection.
    mock.fail_next(2, aadtoken_mock::Fault::status(503));
    mock.fail_next(1, aadtoken_mock::Fault::Disconnect);
    mock.fail_next(2, aadtoken_mock::Fault::status(500));
    let (client, prompt) = device_client(&mock, USERNAME, false, "");
    let t = client.get_token(None).unwrap();
    assert_eq!(upn(&mock, t.secret()), USERNAME);
    assert_eq!(mock.pending_faults(), 0, "every fault was met");
    assert_eq!(prompt.prompts(), 1, "one sign-in");
}

#[test]
fn organizations_for_person_sign_in_then_the_accounts_own_tenant() {
    let mock = fast_mock();
    let settings = format!(
        "tenant_id=organizations;client_id={PUBLIC_CLIENT_ID};scope={SCOPE};auth_method=device_code;timeout_ms=10000"
    );
    let mut c = common::mock_config(&mock, &settings);
    let prompt = Approve::new(&mock, USERNAME, false);
    c.set_device_code_prompt(Some(prompt.clone()));
    let client = Client::new(&c).unwrap();
    client.get_token(None).unwrap();
    let log = mock.requests();
    assert!(
        log.iter()
            .filter(|r| r.route == "token" || r.path.ends_with("/devicecode"))
            .all(|r| r.path.starts_with("/organizations/")),
        "the sign-in goes to organizations"
    );
    // Silent: the account's own tenant, as MSAL does.
    mock.clear_requests();
    client.get_token(Some(OTHER_SCOPE)).unwrap();
    let refresh = mock.token_request_log().pop().unwrap();
    assert_eq!(refresh.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(refresh.path, format!("/{TENANT_ID}/oauth2/v2.0/token"));
    assert_eq!(prompt.prompts(), 1);

    // An application's own tokens: Entra refuses the aliases, so does aadtoken, by name.
    for alias in ["organizations", "common", "consumers"] {
        let e = Client::new(&common::app_config(&mock, &format!("tenant_id={alias}"))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting, "{e:?}");
        common::assert_names(&e, &["'tenant_id'", "only for person sign-in"]);
    }
}

#[test]
fn sign_out_forgets_the_account_its_refresh_token_and_its_access_tokens() {
    let mock = fast_mock();
    let dir = common::private_dir(
        &common::target_dir(),
        &format!("signout-{}", uuid::Uuid::new_v4().simple()),
    );
    let cache = dir.join("accounts.json");
    let extra = format!("cache_file={}", cache.display());
    let (client, prompt) = device_client(&mock, USERNAME, false, &extra);
    client.get_token(None).unwrap();
    assert!(std::fs::read_to_string(&cache).unwrap().contains(USERNAME));
    assert_eq!(client.sign_out().unwrap().as_deref(), Some(USERNAME));
    let file = std::fs::read_to_string(&cache).unwrap();
    assert!(
        !file.contains(USERNAME) && !file.contains("refresh_token\""),
        "{file}"
    );
    // Nothing left to sign out; another client of the same file finds no account either.
    assert_eq!(client.sign_out().unwrap(), None);
    let (other, _) = device_client(
        &mock,
        USERNAME,
        false,
        &format!("{extra};automatic_sign_in=false"),
    );
    let e = other.get_token(Some(OTHER_SCOPE)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InteractionRequired, "{e:?}");
    // The access token cached before the sign-out is not handed out: a new sign-in.
    client.get_token(None).unwrap();
    assert_eq!(prompt.prompts(), 2, "signed in again");
    // Not a person sign-in: a clear error.
    let e = common::app_client(&mock, "").sign_out().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSetting, "{e:?}");
    assert!(e.message().contains("'auth_method'"), "{}", e.message());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Plays what real browsers do around the redirect: a preconnect that sends nothing, a
/// favicon request, the redirect itself over IPv6 (`localhost` resolving to ::1), then a reload
/// of the redirect URL.
struct RealisticBrowser {
    ca: PathBuf,
    seen: Mutex<Vec<String>>,
}

fn http_get(addr: std::net::SocketAddr, target: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    // Less than the listener gives a silent connection (10 s): a preconnect must delay nobody.
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    page
}

impl UrlOpener for RealisticBrowser {
    fn open(&self, url: &str) -> aadtoken_core::Result<()> {
        let location = common::redirect_location(&common::browse(&self.ca, url));
        let rest = location.strip_prefix("http://localhost:").unwrap();
        let (port, target) = rest.split_at(rest.find('/').unwrap());
        let port: u16 = port.parse().unwrap();
        let v4 = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let v6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
        let _preconnect = std::net::TcpStream::connect(v4).unwrap();
        let mut seen = self.seen.lock().unwrap();
        seen.push(http_get(v4, "/favicon.ico"));
        seen.push(http_get(v6, target));
        seen.push(http_get(v4, target));
        Ok(())
    }
}

#[test]
fn the_loopback_listener_takes_preconnects_favicons_ipv6_and_reloads() {
    let mock = MockServer::spawn(MockConfig::default());
    let mut c = config(&mock, "interactive");
    let browser = Arc::new(RealisticBrowser {
        ca: mock.ca_file().to_path_buf(),
        seen: Mutex::new(Vec::new()),
    });
    c.set_url_opener(Some(browser.clone()));
    let t = Client::new(&c).unwrap().get_token(None).unwrap();
    assert_eq!(upn(&mock, t.secret()), USERNAME);
    let seen = browser.seen.lock().unwrap().clone();
    assert!(seen[0].starts_with("HTTP/1.1 404"), "{}", seen[0]);
    for page in &seen[1..] {
        assert!(
            page.starts_with("HTTP/1.1 200") && page.contains("You are signed in"),
            "{page}"
        );
    }
    assert_eq!(mock.authorization_codes_issued(), 1);
    assert_eq!(mock.token_requests(), 1, "the code was redeemed once");
}
