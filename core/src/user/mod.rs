//! Signing a person in (public-client flows), sharing the one request path and the process-wide
//! access-token cache with the application credentials:
//!
//! * [`device_code`] — the device authorization grant (RFC 8628): the host's prompt callback
//!   shows the code, aadtoken polls the token endpoint;
//! * [`browser`] — the authorization code flow with PKCE (S256) on a loopback redirect
//!   (`http://localhost:<port>`, listener on 127.0.0.1), the page opened by the host's callback
//!   or the system browser;
//! * refresh tokens — after a sign-in, tokens for the same or another scope of the account are
//!   obtained silently with its refresh token; rotated refresh tokens replace old ones;
//! * [`accounts`] — the signed-in accounts and their refresh tokens, in memory and, with
//!   `cache_file`, in a file shared by processes ([`cache_file`]).
//!
//! When a sign-in happens: explicitly through [`UserCredential::sign_in`]
//! (`aadtoken_client_sign_in`); or, when `automatic_sign_in` is true (the default), by a
//! `get_token` that finds no account or whose refresh token is refused — never by a background
//! refresh, which stays silent.
//!
//! Bounds: every network step (the refresh, the device-code request, each poll, the code
//! redemption) is bounded by `timeout_ms`; the interaction itself by the device code's
//! `expires_in` or by `interactive_timeout_s`.

pub mod accounts;
pub mod browser;
pub mod cache_file;
pub mod device_code;
pub mod pkce;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use crate::authority::Issuer;
use crate::cache::Scopes;
use crate::claims::Claims;
use crate::config::{Config, DeviceCodePrompt, UrlOpener};
use crate::credential::{App, Env};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, TokenRequest};
use crate::secret::SecretString;
use crate::token::{parse_success, Token};

use accounts::{Account, AccountStore};

/// Scopes every person sign-in adds (as MSAL does): an id token, the profile, a refresh token.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];
/// Default of `interactive_timeout_s`.
pub const DEFAULT_INTERACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// Which way the person signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Device code: sign in on another device.
    DeviceCode,
    /// Browser: authorization code + PKCE on a loopback redirect.
    Browser,
}

/// The settings of the person sign-in flows.
#[derive(Clone, Debug)]
pub struct UserSettings {
    pub login_hint: Option<String>,
    pub account: Option<String>,
    pub domain_hint: Option<String>,
    pub prompt: Option<String>,
    pub redirect_port: u16,
    pub interactive_timeout: Duration,
    pub automatic: bool,
    /// `timeout_ms`: the bound of each network step.
    pub step_timeout: Duration,
    /// `log_pii`: log messages may name the user.
    pub log_pii: bool,
}

/// A public client that signs people in (`auth_method=device_code|interactive`).
pub struct UserCredential {
    pub app: Arc<App>,
    flow: Flow,
    settings: UserSettings,
    store: Arc<AccountStore>,
    prompt: Option<Arc<dyn DeviceCodePrompt>>,
    opener: Option<Arc<dyn UrlOpener>>,
    /// One sign-in at a time per credential: concurrent callers that need one share it (the
    /// second finds the first's account and refreshes silently).
    sign_in_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for UserCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredential")
            .field("app", &self.app)
            .field("flow", &self.flow)
            .field("settings", &self.settings)
            .field("cache_file", &self.store.file_path())
            .field("device_code_callback", &self.prompt.is_some())
            .field("open_url_callback", &self.opener.is_some())
            .finish()
    }
}

/// What a person-sign-in token response carries besides the access token.
pub struct UserTokens {
    pub token: Token,
    /// The signed-in account with its refresh token (absent when no refresh token came).
    pub account: Option<Account>,
}

#[derive(Deserialize)]
struct UserFields {
    refresh_token: Option<String>,
    id_token: Option<String>,
    client_info: Option<String>,
}

#[derive(Deserialize)]
struct ClientInfo {
    uid: String,
    utid: String,
}

impl UserCredential {
    pub fn from_config(config: &Config, flow: Flow) -> Result<UserCredential> {
        let why = match flow {
            Flow::DeviceCode => "for auth_method=device_code",
            Flow::Browser => "for auth_method=interactive",
        };
        let app = App::from_config(config, why)?;
        if let Issuer::Oidc(_) = app.issuer {
            return Err(Error::invalid_setting(
                "authority_kind",
                "is 'oidc', but person sign-in (device_code, interactive) needs an Entra ID authority",
            ));
        }
        let store = AccountStore::for_client(&app.issuer.url(), &app.client_id, config.cache_file())?;
        Ok(UserCredential {
            app,
            flow,
            settings: UserSettings {
                login_hint: config.login_hint.clone(),
                account: config.account.clone(),
                domain_hint: config.domain_hint.clone(),
                prompt: config.prompt.clone(),
                redirect_port: config.redirect_port.unwrap_or(0),
                interactive_timeout: config.interactive_timeout.unwrap_or(DEFAULT_INTERACTIVE_TIMEOUT),
                automatic: config.automatic_sign_in.unwrap_or(true),
                step_timeout: config.timeout(),
                log_pii: config.log_pii(),
            },
            store,
            prompt: config.device_code_prompt.clone(),
            opener: config.url_opener.clone(),
            sign_in_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn flow(&self) -> Flow {
        self.flow
    }

    pub fn settings(&self) -> &UserSettings {
        &self.settings
    }

    /// May a `get_token` that finds no working refresh token start a sign-in?
    pub fn automatic(&self) -> bool {
        self.settings.automatic
    }

    /// Feeds the cache-key fingerprint: which account this client asks for, and where accounts
    /// are kept (clients selecting different accounts never share access tokens).
    pub fn fingerprint_parts(&self) -> String {
        format!(
            "user\0{}\0{}\0{}",
            self.settings
                .login_hint
                .as_deref()
                .unwrap_or("")
                .to_ascii_lowercase(),
            self.settings.account.as_deref().unwrap_or(""),
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
                if e.kind() == ErrorKind::InteractionRequired && interaction && self.settings.automatic =>
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
        crate::log_info!(
            "person sign-in started ({:?}) for application {} at {}",
            self.flow,
            self.app.client_id,
            self.app.issuer.url()
        );
        let got = match self.flow {
            Flow::DeviceCode => device_code::run(self, env, scopes).await?,
            Flow::Browser => browser::run(self, env, scopes).await?,
        };
        if let Some(account) = got.account {
            crate::log_info!(
                "person signed in as {} (home account {})",
                crate::log::pii(self.settings.log_pii, &account.username),
                crate::log::pii(self.settings.log_pii, &account.home_account_id)
            );
            self.check_expected(&account)?;
            let mut guard = self.store.lock(self.settings.step_timeout).await?;
            guard.save(account)?;
        }
        Ok(got.token)
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
        if let Some(want) = &self.settings.account {
            if !account.home_account_id.eq_ignore_ascii_case(want) {
                return wrong(want, "account");
            }
        } else if let Some(hint) = &self.settings.login_hint {
            if !account.username.eq_ignore_ascii_case(hint) {
                return wrong(hint, "login_hint");
            }
        }
        Ok(())
    }

    /// A token with the refresh token of the selected account (rotated refresh token saved),
    /// or `InteractionRequired` when there is none or it is refused.
    async fn silent(&self, env: &Env<'_>, scopes: &Scopes) -> Result<Token> {
        // Logged before the account lock is taken: a log callback may call back into the library.
        crate::log_debug!(
            "redeeming the refresh token of the signed-in account, if any, for {}",
            scopes.joined()
        );
        let mut guard = self.store.lock(self.settings.step_timeout).await?;
        let account = accounts::select(
            guard.accounts(),
            self.settings.account.as_deref(),
            self.settings.login_hint.as_deref(),
        )?
        .cloned();
        let Some(account) = account else {
            return Err(Error::new(
                ErrorKind::InteractionRequired,
                format!(
                    "no signed-in account{} for application {} at {}{}: a person must sign in",
                    match (&self.settings.account, &self.settings.login_hint) {
                        (Some(a), _) => format!(" '{a}'"),
                        (None, Some(h)) => format!(" '{h}'"),
                        _ => String::new(),
                    },
                    self.app.client_id,
                    self.app.issuer.url(),
                    match self.store.file_path() {
                        Some(p) => format!(" (cache_file {})", p.display()),
                        None => String::new(),
                    }
                ),
            ));
        };
        let result = self
            .redeem(
                env,
                scopes,
                "refresh_token",
                &[("refresh_token", account.refresh_token.expose())],
            )
            .await;
        match result {
            Ok(got) => {
                if let Some(mut updated) = got.account {
                    // The same person: keep the names the sign-in recorded when the refresh
                    // answer lacks an id token.
                    if updated.username.is_empty() {
                        updated.username = account.username.clone();
                    }
                    guard.save(updated)?;
                }
                Ok(got.token)
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidGrant | ErrorKind::InteractionRequired) => {
                drop(guard); // before logging (see above)
                crate::log_warn!(
                    "the refresh token of {} was refused ({}): a person must sign in again",
                    crate::log::pii(self.settings.log_pii, &account.username),
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

    /// The token endpoint of the authority.
    fn endpoint(&self, path: &str) -> String {
        format!("{}/oauth2/v2.0/{path}", self.app.issuer.url())
    }

    /// The scope value sent: the requested scopes and [`OIDC_SCOPES`].
    pub fn decorated_scope(scopes: &Scopes) -> String {
        let mut all: Vec<&str> = scopes.iter().collect();
        for s in OIDC_SCOPES {
            if !all.contains(&s) {
                all.push(s);
            }
        }
        all.join(" ")
    }

    /// One grant at the token endpoint (public client: `client_id`, no secret), bounded by
    /// `timeout_ms`, answered with the access token and the account.
    async fn redeem(
        &self,
        env: &Env<'_>,
        scopes: &Scopes,
        grant_type: &str,
        fields: &[(&'static str, &str)],
    ) -> Result<UserTokens> {
        let scope = Self::decorated_scope(scopes);
        let endpoint = self.endpoint("token");
        let mut form = vec![
            ("client_id", self.app.client_id.as_str()),
            ("grant_type", grant_type),
            ("scope", scope.as_str()),
            ("client_info", "1"),
        ];
        form.extend_from_slice(fields);
        let req = TokenRequest::post(&endpoint, form);
        let (body, sent_at) = self
            .bounded(http::request_body_with_retry(&env.http()?, &req), "token request")
            .await?;
        parse_user_tokens(&body, sent_at, &self.app.issuer.url(), &self.app.client_id).map_err(|e| {
            e.context(format!("token request to {endpoint}"))
                .with_correlation_id(&req.correlation_id)
        })
    }

    /// Run one network step within `timeout_ms`.
    async fn bounded<T>(&self, step: impl Future<Output = Result<T>>, what: &str) -> Result<T> {
        match tokio::time::timeout(self.settings.step_timeout, step).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{what} to {} did not finish within timeout_ms={}",
                    self.app.issuer.url(),
                    self.settings.step_timeout.as_millis()
                ),
            )),
        }
    }

    /// Run a host callback (or anything that may block) on a thread set aside for blocking
    /// work, so that it may call back into the library.
    async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::internal(format!("a sign-in callback did not complete: {e}")))
    }
}

/// Parse a person-sign-in token response: the access token, and the account from
/// `client_info` (home account id `uid.utid`) and the id token (user name).
pub fn parse_user_tokens(body: &[u8], sent_at: i64, authority: &str, client_id: &str) -> Result<UserTokens> {
    let token = parse_success(body, sent_at)?;
    let fields: UserFields = serde_json::from_slice(body)
        .map_err(|_| Error::new(ErrorKind::BadResponse, "the token response is not a JSON object"))?;
    let id = fields.id_token.as_deref().and_then(|t| Claims::from_jwt(t).ok());
    let info = fields.client_info.as_deref().and_then(|c| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice::<ClientInfo>(&bytes).ok()
    });
    let (uid, utid) = match (&info, &id) {
        (Some(i), _) => (i.uid.clone(), i.utid.clone()),
        (None, Some(c)) => match (c.object_id(), c.tenant_id()) {
            (Some(o), Some(t)) => (o.to_owned(), t.to_owned()),
            _ => return Ok(UserTokens { token, account: None }),
        },
        (None, None) => return Ok(UserTokens { token, account: None }),
    };
    let account = fields.refresh_token.filter(|r| !r.is_empty()).map(|rt| Account {
        authority: authority.to_owned(),
        client_id: client_id.to_owned(),
        home_account_id: format!("{uid}.{utid}").to_ascii_lowercase(),
        username: id
            .as_ref()
            .and_then(|c| c.string("preferred_username").or_else(|| c.user_name()))
            .unwrap_or("")
            .to_owned(),
        name: id.as_ref().and_then(|c| c.string("name")).map(str::to_owned),
        tenant_id: utid.clone(),
        refresh_token: SecretString::new(rt),
        updated_on: crate::token::unix_now(),
    });
    Ok(UserTokens { token, account })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn decorated_scopes_add_oidc_once() {
        let s = Scopes::parse("api://db/.default offline_access").unwrap();
        assert_eq!(
            UserCredential::decorated_scope(&s),
            "api://db/.default offline_access openid profile"
        );
    }

    #[test]
    fn account_from_client_info_and_id_token() {
        let id = format!(
            "{}.{}.sig",
            b64(&serde_json::json!({"alg":"none"})),
            b64(
                &serde_json::json!({"preferred_username":"Dba@Contoso.com","name":"D B A","oid":"o","tid":"t"})
            )
        );
        let body = serde_json::json!({
            "token_type":"Bearer","expires_in":3599,"access_token":"a.b.c","refresh_token":"rt-1",
            "id_token": id, "client_info": b64(&serde_json::json!({"uid":"U1","utid":"T1"})),
        });
        let got = parse_user_tokens(body.to_string().as_bytes(), 100, "https://h/t", "c").unwrap();
        assert_eq!(got.token.expires_on(), 3699);
        let a = got.account.unwrap();
        assert_eq!(a.home_account_id, "u1.t1");
        assert_eq!(a.username, "Dba@Contoso.com");
        assert_eq!(a.refresh_token.expose(), "rt-1");
        // No refresh token: no account to keep.
        let body = serde_json::json!({"token_type":"Bearer","expires_in":3599,"access_token":"x"});
        assert!(parse_user_tokens(body.to_string().as_bytes(), 0, "h", "c")
            .unwrap()
            .account
            .is_none());
    }
}
