//! The public client that person sign-in talks through: the application (an Entra
//! authority and client id, no secret), the sign-in settings and the host's callbacks, and the
//! one grant every flow ends with ([`PublicClient::redeem`]: refresh token, device code,
//! authorization code), sent through the application credentials' request path
//! ([`App::grant_request`], `http::request_body_with_retry`, `http::bounded`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use crate::authority::Authority;
use crate::cache::Scopes;
use crate::claims::Claims;
use crate::config::{DeviceCodePrompt, UrlOpener};
use crate::credential::app::{App, ClientAuth, Env};
use crate::error::{Error, ErrorKind, Result};
use crate::http;
use crate::secret::SecretString;
use crate::token::{parse_success, Token};

use super::account::Account;

/// Scopes every person sign-in adds (as MSAL does): an id token, the profile, a refresh token.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];
/// Default of `interactive_timeout_s`.
pub const DEFAULT_INTERACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// The settings of the person sign-in flows.
#[derive(Clone, Debug)]
pub struct UserSettings {
    /// `login_hint`: the user name to sign in as.
    pub login_hint: Option<String>,
    /// `account`: the cached account to use (home account id).
    pub account: Option<String>,
    /// `domain_hint`, sent to `/authorize`.
    pub domain_hint: Option<String>,
    /// `prompt`, sent to `/authorize`.
    pub prompt: Option<String>,
    /// `redirect_port` (0: any free port).
    pub redirect_port: u16,
    /// `interactive_timeout_s`: how long the browser sign-in waits for the redirect.
    pub interactive_timeout: Duration,
    /// `automatic_sign_in`: `get_token` may start a sign-in.
    pub automatic: bool,
    /// `timeout_ms`: the bound of each network step.
    pub step_timeout: Duration,
    /// `log_pii`: log messages may name the user.
    pub log_pii: bool,
}

/// What a person-sign-in token response carries besides the access token.
pub struct UserTokens {
    /// The access token.
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

/// The application side of person sign-in, shared by the flows.
pub struct PublicClient {
    /// The application (an Entra authority: person sign-in needs one).
    pub app: Arc<App>,
    /// The Entra authority of `app`, for the authorize and device-code endpoints.
    pub authority: Authority,
    /// The sign-in settings.
    pub settings: UserSettings,
    /// The host's device-code prompt.
    pub prompt: Option<Arc<dyn DeviceCodePrompt>>,
    /// The host's way of opening the sign-in page (else the system browser).
    pub opener: Option<Arc<dyn UrlOpener>>,
}

impl PublicClient {
    /// An endpoint of the authority: `authorize`, `devicecode` (the token endpoint is the
    /// application's, [`App::token_endpoint`]).
    pub fn endpoint(&self, path: &str) -> String {
        self.authority.endpoint(path)
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

    /// One grant at the token endpoint (public client: `client_id`, no secret, and
    /// `client_info=1`), bounded by `timeout_ms`, answered with the access token and the account.
    pub async fn redeem(
        &self,
        env: &Env<'_>,
        scopes: &Scopes,
        grant_type: &str,
        fields: &[(&'static str, &str)],
    ) -> Result<UserTokens> {
        let scope = Self::decorated_scope(scopes);
        let endpoint = self.app.token_endpoint(env).await?;
        let mut grant = vec![("client_info", "1")];
        grant.extend_from_slice(fields);
        let req = self
            .app
            .grant_request(&endpoint, &scope, grant_type, &grant, ClientAuth::None)?;
        let (body, sent_at) = self
            .bounded(http::request_body_with_retry(&env.http()?, &req), "token request")
            .await?;
        parse_user_tokens(&body, sent_at, &self.app.issuer.url(), &self.app.client_id).map_err(|e| {
            e.context(format!("token request to {}", endpoint.url))
                .with_correlation_id(&req.correlation_id)
        })
    }

    /// Run one network step (`what`: "token request", …) within `timeout_ms`.
    pub async fn bounded<T>(&self, step: impl Future<Output = Result<T>>, what: &str) -> Result<T> {
        let limit = self.settings.step_timeout;
        http::bounded(limit, step, || {
            format!(
                "{what} to {} did not finish within timeout_ms={}",
                self.app.issuer.url(),
                limit.as_millis()
            )
        })
        .await
    }

    /// Run a host callback (or anything that may block) on a thread set aside for blocking
    /// work, so that it may call back into the library.
    pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
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
            PublicClient::decorated_scope(&s),
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
