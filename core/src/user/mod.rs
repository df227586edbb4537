//! Signing a person in (public-client flows), sharing the one request path and the process-wide
//! access-token cache with the application credentials:
//!
//! * `device_code` — the device authorization grant (RFC 8628): the host's prompt callback
//!   shows the code, aadtoken polls the token endpoint;
//! * `browser` — the authorization code flow with PKCE (S256) on a loopback redirect
//!   (`http://localhost:<port>`, listeners on 127.0.0.1 and ::1), the page opened by the host's callback
//!   or the system browser;
//! * refresh tokens — after a sign-in, tokens for the same or another scope of the account are
//!   obtained silently with its refresh token; rotated refresh tokens replace old ones;
//! * `accounts` — the signed-in accounts and their refresh tokens, in memory and, with
//!   `cache_file`, in a file shared by processes (`cache_file`).
//!
//! When a sign-in happens: explicitly through [`UserCredential::sign_in`]
//! (`aadtoken_client_sign_in`); or, when `automatic_sign_in` is true (the default), by a
//! `get_token` that finds no account or whose refresh token is refused — never by a background
//! refresh, which stays silent.
//!
//! Bounds: every network step (the refresh, the device-code request, each poll, the code
//! redemption) is bounded by `timeout_ms`; the interaction itself by the device code's
//! `expires_in` or by `interactive_timeout_s`.

pub(crate) mod account;
pub(crate) mod accounts;
pub(crate) mod browser;
pub mod cache_file;
pub(crate) mod device_code;
pub(crate) mod pkce;
pub(crate) mod public_client;

pub use browser::open_system_browser;
pub(crate) use public_client::{parse_user_tokens, PublicClient, UserSettings, DEFAULT_INTERACTIVE_TIMEOUT};

use std::fmt;
use std::sync::Arc;

use crate::cache::Scopes;
use crate::config::Config;
use crate::credential::app::{App, Env};
use crate::error::{Error, ErrorKind, Result};
use crate::token::Token;

use account::Account;
use accounts::AccountStore;

/// Which way the person signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Device code: sign in on another device.
    DeviceCode,
    /// Browser: authorization code + PKCE on a loopback redirect.
    Browser,
}

/// A public client that signs people in (`auth_method=device_code|interactive`).
pub struct UserCredential {
    client: PublicClient,
    flow: Flow,
    store: Arc<AccountStore>,
    /// One sign-in at a time per credential: concurrent callers that need one share it (the
    /// second finds the first's account and refreshes silently).
    sign_in_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for UserCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredential")
            .field("app", &self.client.app)
            .field("flow", &self.flow)
            .field("settings", &self.client.settings)
            .field("cache_file", &self.store.file_path())
            .field("device_code_callback", &self.client.prompt.is_some())
            .field("open_url_callback", &self.client.opener.is_some())
            .finish()
    }
}

impl UserCredential {
    /// The public client of the settings (`auth_method=device_code` or `interactive`).
    pub fn from_config(config: &Config, flow: Flow) -> Result<UserCredential> {
        let why = match flow {
            Flow::DeviceCode => "for auth_method=device_code",
            Flow::Browser => "for auth_method=interactive",
        };
        let app = App::for_person_sign_in(config, why)?;
        let store = AccountStore::for_client(&app.issuer.url(), &app.client_id, config.cache_file())?;
        let settings = UserSettings {
            login_hint: config.login_hint.clone(),
            account: config.account.clone(),
            domain_hint: config.domain_hint.clone(),
            prompt: config.prompt.clone(),
            redirect_port: config.redirect_port.unwrap_or(0),
            interactive_timeout: config.interactive_timeout.unwrap_or(DEFAULT_INTERACTIVE_TIMEOUT),
            automatic: config.automatic_sign_in.unwrap_or(true),
            step_timeout: config.timeout(),
            log_pii: config.log_pii(),
        };
        Ok(UserCredential {
            client: PublicClient {
                app,
                settings,
                prompt: config.device_code_prompt.clone(),
                opener: config.url_opener.clone(),
            },
            flow,
            store,
            sign_in_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Which way the person signs in.
    pub fn flow(&self) -> Flow {
        self.flow
    }

    /// The application this credential signs people in to.
    pub fn app(&self) -> &App {
        &self.client.app
    }

    /// The sign-in settings.
    pub fn settings(&self) -> &UserSettings {
        &self.client.settings
    }

    /// May a `get_token` that finds no working refresh token start a sign-in?
    pub fn automatic(&self) -> bool {
        self.client.settings.automatic
    }

    /// Feeds the cache-key fingerprint: which account this client asks for, and where accounts
    /// are kept (clients selecting different accounts never share access tokens).
    pub fn fingerprint_parts(&self) -> String {
        format!(
            "user\0{}\0{}\0{}",
            self.client
                .settings
                .login_hint
                .as_deref()
                .unwrap_or("")
                .to_ascii_lowercase(),
            self.client.settings.account.as_deref().unwrap_or(""),
            self.store
                .file_path()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )
    }

    /// A token for `scopes`: silently with the account's refresh token; when that is not
    /// possible (no account, refresh token refused) and `interaction` is allowed (a caller's
    /// `get_token`, not a background refresh) and `automatic_sign_in` is on, by signing the
    /// person in.
    pub async fn get_token(&self, env: &Env<'_>, scopes: &Scopes, interaction: bool) -> Result<Token> {
        match self.silent(env, scopes).await {
            Err(e)
                if e.kind() == ErrorKind::InteractionRequired
                    && interaction
                    && self.client.settings.automatic =>
            {
                let _one = self.sign_in_lock.lock().await;
                // Another caller may have signed in while this one waited.
                match self.silent(env, scopes).await {
                    Err(e) if e.kind() == ErrorKind::InteractionRequired => {
                        self.interactive(env, scopes).await
                    }
                    other => other,
                }
            }
            Err(e) if e.kind() == ErrorKind::InteractionRequired && interaction => {
                let message = format!(
                    "{} (automatic_sign_in is off: sign in with aadtoken_client_sign_in or `aadtoken login`)",
                    e.message()
                );
                Err(e.reclassified(ErrorKind::InteractionRequired, message))
            }
            other => other,
        }
    }

    /// Sign the person in now (device code or browser), even when a refresh token would work;
    /// the account and its refresh token are kept for silent use afterwards.
    pub async fn sign_in(&self, env: &Env<'_>, scopes: &Scopes) -> Result<Token> {
        let _one = self.sign_in_lock.lock().await;
        self.interactive(env, scopes).await
    }

    async fn interactive(&self, env: &Env<'_>, scopes: &Scopes) -> Result<Token> {
        log_info!(
            "person sign-in started ({:?}) for application {} at {}",
            self.flow,
            self.client.app.client_id,
            self.client.app.issuer.url()
        );
        let got = match self.flow {
            Flow::DeviceCode => device_code::run(&self.client, env, scopes).await?,
            Flow::Browser => browser::run(&self.client, env, scopes).await?,
        };
        if let Some(account) = got.account {
            log_info!(
                "person signed in as {} (home account {})",
                crate::log::pii(self.client.settings.log_pii, &account.username),
                crate::log::pii(self.client.settings.log_pii, &account.home_account_id)
            );
            self.check_expected(&account)?;
            let mut guard = self.store.lock(self.client.settings.step_timeout).await?;
            guard.save(account)?;
        }
        Ok(got.token)
    }

    /// Sign the person out: forget the account the settings select (`account`, `login_hint`,
    /// or the only one) and its refresh token, in memory and in `cache_file`. Returns the user
    /// name of the account forgotten (`None`: there was none).
    pub async fn sign_out(&self) -> Result<Option<String>> {
        let mut guard = self.store.lock(self.client.settings.step_timeout).await?;
        let Some(account) = self.selected(&guard)? else {
            return Ok(None);
        };
        guard.remove(&account)?;
        drop(guard); // before logging: a log callback may call back into the library
        log_info!(
            "signed out {} (home account {}): its refresh token is forgotten",
            crate::log::pii(self.client.settings.log_pii, &account.username),
            crate::log::pii(self.client.settings.log_pii, &account.home_account_id)
        );
        Ok(Some(account.username))
    }

    /// The account the settings select among those in the store (`account`, `login_hint`, or
    /// the only one).
    fn selected(&self, guard: &accounts::StoreGuard<'_>) -> Result<Option<Account>> {
        let settings = &self.client.settings;
        Ok(accounts::select(
            guard.accounts(),
            settings.account.as_deref(),
            settings.login_hint.as_deref(),
        )?
        .cloned())
    }

    /// After a sign-in: the person signed in as the account the settings ask for.
    fn check_expected(&self, account: &Account) -> Result<()> {
        let wrong = |wanted: &str, setting: &str| {
            Err(Error::new(
                ErrorKind::InteractionRequired,
                format!(
                    "the person signed in as '{}' ({}), but '{setting}' asks for '{wanted}'; the account was kept, \
                     but this client keeps asking for '{wanted}': sign in as that account, or change '{setting}'",
                    account.username, account.home_account_id
                ),
            ))
        };
        if let Some(want) = &self.client.settings.account {
            if !account.home_account_id.eq_ignore_ascii_case(want) {
                return wrong(want, "account");
            }
        } else if let Some(hint) = &self.client.settings.login_hint {
            // An issuer that tells no user name cannot be checked against the hint.
            if !account.username.is_empty() && !account.username.eq_ignore_ascii_case(hint) {
                return wrong(hint, "login_hint");
            }
        }
        Ok(())
    }

    /// A token with the refresh token of the selected account (rotated refresh token saved),
    /// or `InteractionRequired` when there is none or it is refused.
    async fn silent(&self, env: &Env<'_>, scopes: &Scopes) -> Result<Token> {
        // Logged before the account lock is taken: a log callback may call back into the library.
        log_debug!(
            "redeeming the refresh token of the signed-in account, if any, for {}",
            scopes.joined()
        );
        let mut guard = self.store.lock(self.client.settings.step_timeout).await?;
        let Some(account) = self.selected(&guard)? else {
            return Err(Error::new(
                ErrorKind::InteractionRequired,
                format!(
                    "no signed-in account{} for application {} at {}{}: a person must sign in",
                    match (&self.client.settings.account, &self.client.settings.login_hint) {
                        (Some(a), _) => format!(" '{a}'"),
                        (None, Some(h)) => format!(" '{h}'"),
                        _ => String::new(),
                    },
                    self.client.app.client_id,
                    self.client.app.issuer.url(),
                    match self.store.file_path() {
                        Some(p) => format!(" (cache_file {})", p.display()),
                        None => String::new(),
                    }
                ),
            ));
        };
        let result = self
            .client
            .redeem(
                env,
                scopes,
                "refresh_token",
                &[("refresh_token", account.refresh_token.expose())],
                Some(account.tenant_id.as_str()),
            )
            .await;
        match result {
            Ok(got) => {
                if let Some(updated) = got.account {
                    guard.save(rotated(&account, updated, got.identified))?;
                }
                Ok(got.token)
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidGrant | ErrorKind::InteractionRequired) => {
                drop(guard); // before logging (see above)
                log_warn!(
                    "the refresh token of {} was refused ({}): a person must sign in again",
                    crate::log::pii(self.client.settings.log_pii, &account.username),
                    crate::log::error_summary(&e)
                );
                let message = format!(
                    "the refresh token of '{}' was refused, so the person must sign in again: {}",
                    account.username,
                    e.message()
                );
                Err(e.reclassified(ErrorKind::InteractionRequired, message))
            }
            Err(e) => Err(e),
        }
    }
}

/// The account to keep after `previous`'s refresh token was redeemed and the answer carried a
/// new (rotated) one: the same person, whatever the answer says of them — a refresh answer often
/// lacks the id token (`identified` false) — with the new refresh token, and the names the
/// sign-in recorded where the answer has none.
fn rotated(previous: &Account, mut updated: Account, identified: bool) -> Account {
    if !identified || updated.home_account_id != previous.home_account_id {
        updated.home_account_id = previous.home_account_id.clone();
        updated.tenant_id = previous.tenant_id.clone();
    }
    if updated.username.is_empty() {
        updated.username = previous.username.clone();
    }
    if updated.name.is_none() {
        updated.name = previous.name.clone();
    }
    updated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;

    fn account(id: &str, user: &str, rt: &str) -> Account {
        Account {
            authority: "https://h/t".into(),
            client_id: "c".into(),
            home_account_id: id.into(),
            username: user.into(),
            name: Some("N".into()),
            tenant_id: "t".into(),
            refresh_token: SecretString::new(rt),
            updated_on: 0,
        }
    }

    #[test]
    fn a_rotated_refresh_token_stays_with_the_account_it_was_redeemed_for() {
        let previous = account("sub.https://i", "alice", "rt-1");
        // The refresh answer named nobody (no id token): the same account, the new token.
        let mut answer = account(public_client::UNIDENTIFIED, "", "rt-2");
        answer.name = None;
        answer.tenant_id = String::new();
        let kept = rotated(&previous, answer, false);
        assert_eq!(kept.home_account_id, "sub.https://i");
        assert_eq!(
            (kept.username.as_str(), kept.name.as_deref()),
            ("alice", Some("N"))
        );
        assert_eq!(kept.tenant_id, "t");
        assert_eq!(kept.refresh_token.expose(), "rt-2");
        assert!(kept.same(&previous), "replaces the old one in the store");
    }
}
