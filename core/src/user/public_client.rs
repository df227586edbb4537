//! The public client that person sign-in talks through: the application (an Entra authority or
//! any OpenID Connect issuer, and a client id, no secret), the sign-in settings and the host's
//! callbacks, the endpoints of the flows (built for Entra, from the discovery document of an
//! OpenID issuer), and the one grant every flow ends with ([`PublicClient::redeem`]: refresh
//! token, device code, authorization code), sent through the application credentials' request
//! path ([`App::grant_request`], `http::request_body_with_retry`, `http::bounded`).
//!
//! Entra-only parameters (`client_info=1`) are sent to Entra authorities only.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use crate::authority::{check_identifier, Authority, Issuer};
use crate::cache::Scopes;
use crate::claims::Claims;
use crate::config::{DeviceCodePrompt, UrlOpener};
use crate::credential::app::{App, ClientAuth, Endpoint, Env};
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
    /// Whether the answer said who signed in (else the account is [`UNIDENTIFIED`]).
    pub identified: bool,
    /// The OpenID Connect `nonce` its id token carries, for the flow that sent one to check.
    pub nonce: IdTokenNonce,
}

/// The `nonce` claim of a token answer's id token (OpenID Connect Core §3.1.3.7, step 11: a
/// client that sent a `nonce` checks that the id token carries the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdTokenNonce {
    /// The answer carried no id token: nothing to check.
    NoIdToken,
    /// An id token without a `nonce` claim (or one whose claims cannot be read).
    Absent,
    /// The id token's `nonce` claim.
    Claimed(String),
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

/// The endpoints of person sign-in besides the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserEndpoint {
    /// Where the browser signs in (`/authorize`, `authorization_endpoint`).
    Authorize,
    /// Where device codes come from (`/devicecode`, `device_authorization_endpoint`).
    DeviceCode,
}

/// The application side of person sign-in, shared by the flows.
pub struct PublicClient {
    /// The application: an Entra authority (`common`/`organizations`/`consumers` allowed) or
    /// an OpenID Connect issuer.
    pub app: Arc<App>,
    /// The sign-in settings.
    pub settings: UserSettings,
    /// The host's device-code prompt.
    pub prompt: Option<Arc<dyn DeviceCodePrompt>>,
    /// The host's way of opening the sign-in page (else the system browser).
    pub opener: Option<Arc<dyn UrlOpener>>,
}

impl PublicClient {
    /// Whether the authority is Entra ID (which takes `client_info` and answers AADSTS codes).
    pub fn is_entra(&self) -> bool {
        matches!(self.app.issuer, Issuer::Entra(_))
    }

    /// An endpoint of the flows: built from host and tenant for Entra, else the one the
    /// issuer's discovery document publishes (an issuer that publishes none does not offer
    /// that flow: an error naming `auth_method`).
    pub async fn endpoint(&self, env: &Env<'_>, which: UserEndpoint) -> Result<String> {
        let (path, field, method, other) = match which {
            UserEndpoint::Authorize => (
                "authorize",
                "authorization_endpoint",
                "interactive",
                "device_code",
            ),
            UserEndpoint::DeviceCode => (
                "devicecode",
                "device_authorization_endpoint",
                "device_code",
                "interactive",
            ),
        };
        let issuer = match &self.app.issuer {
            Issuer::Entra(a) => return Ok(a.endpoint(path)),
            Issuer::Oidc(issuer) => issuer,
        };
        let token = self.app.token_endpoint(env).await?;
        let published = token.meta.and_then(|m| match which {
            UserEndpoint::Authorize => m.authorization_endpoint.clone(),
            UserEndpoint::DeviceCode => m.device_authorization_endpoint.clone(),
        });
        published.ok_or_else(|| {
            Error::invalid_setting(
                "auth_method",
                format!(
                    "is '{method}', but the OpenID Connect issuer {issuer} publishes no '{field}' in its discovery \
                     document, so it does not offer that sign-in (try auth_method={other})"
                ),
            )
        })
    }

    /// The token endpoint of a grant: the application's ([`App::token_endpoint`]), except that
    /// after a sign-in through `common`/`organizations`/`consumers` the account's own tenant
    /// (`tenant`) answers, as MSAL does.
    async fn token_endpoint(&self, env: &Env<'_>, tenant: Option<&str>) -> Result<Endpoint<'_>> {
        match &self.app.issuer {
            Issuer::Entra(a) => match accounts_authority(a, tenant) {
                Some(own) => Ok(Endpoint {
                    url: own.token_endpoint(),
                    meta: None,
                }),
                None => self.app.token_endpoint(env).await,
            },
            Issuer::Oidc(_) => self.app.token_endpoint(env).await,
        }
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

    /// One grant at the token endpoint (public client: `client_id`, no secret; `client_info=1`
    /// for Entra), bounded by `timeout_ms`, answered with the access token and the account.
    /// `tenant`: the signed-in account's tenant, when a refresh token is redeemed.
    pub async fn redeem(
        &self,
        env: &Env<'_>,
        scopes: &Scopes,
        grant_type: &str,
        fields: &[(&'static str, &str)],
        tenant: Option<&str>,
    ) -> Result<UserTokens> {
        let scope = Self::decorated_scope(scopes);
        let endpoint = self.token_endpoint(env, tenant).await?;
        let mut grant = Vec::with_capacity(fields.len() + 1);
        if self.is_entra() {
            grant.push(("client_info", "1"));
        }
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

/// The authority of an account's silent requests when `configured` is `common`,
/// `organizations` or `consumers`: its own `tenant` (when known and a valid tenant name).
fn accounts_authority(configured: &Authority, tenant: Option<&str>) -> Option<Authority> {
    let t = tenant.filter(|t| !t.is_empty() && check_identifier("tenant", t).is_ok())?;
    configured.is_multi_tenant().then(|| configured.with_tenant(t))
}

/// Who signed in, as a token response says.
struct Identity {
    home_account_id: String,
    tenant_id: String,
}

/// The home account id and tenant of the person in `info` (Entra's `client_info`) or the
/// `claims` of a token: `uid.utid`, else `oid.tid`, else `sub.iss` (OpenID Connect Core §2:
/// `sub` is unique per issuer, so the pair names one person anywhere).
fn identity(info: Option<&ClientInfo>, claims: Option<&Claims>) -> Option<Identity> {
    if let Some(i) = info {
        return Some(Identity {
            home_account_id: format!("{}.{}", i.uid, i.utid).to_ascii_lowercase(),
            tenant_id: i.utid.to_ascii_lowercase(),
        });
    }
    let c = claims?;
    match (c.object_id(), c.tenant_id(), c.subject(), c.issuer()) {
        (Some(o), Some(t), _, _) => Some(Identity {
            home_account_id: format!("{o}.{t}").to_ascii_lowercase(),
            tenant_id: t.to_ascii_lowercase(),
        }),
        (_, tid, Some(sub), Some(iss)) => Some(Identity {
            home_account_id: format!("{sub}.{iss}"),
            tenant_id: tid.unwrap_or("").to_ascii_lowercase(),
        }),
        _ => None,
    }
}

/// The home account id of an account whose token response named nobody (no `client_info`, no
/// id token, an opaque access token): one such account per application.
pub const UNIDENTIFIED: &str = "unidentified.account";

/// Parse a person-sign-in token response: the access token, and — whenever a refresh token
/// came — the account to keep it under. Who signed in comes from `client_info` (Entra), else
/// the id token's `oid`+`tid`, else its `sub`+`iss`, else the same claims of a JWT access
/// token; an answer that names nobody still yields an account ([`UNIDENTIFIED`], or the
/// account whose refresh token was redeemed), so a refresh token is never dropped. The id
/// token's `nonce` is handed back for the browser sign-in to check ([`IdTokenNonce`]).
pub fn parse_user_tokens(body: &[u8], sent_at: i64, authority: &str, client_id: &str) -> Result<UserTokens> {
    let token = parse_success(body, sent_at)?;
    let fields: UserFields = serde_json::from_slice(body)
        .map_err(|_| Error::new(ErrorKind::BadResponse, "the token response is not a JSON object"))?;
    let id_token = fields.id_token.as_deref().filter(|t| !t.is_empty());
    let id = id_token.and_then(|t| Claims::from_jwt(t).ok());
    let nonce = match (id_token, &id) {
        (None, _) => IdTokenNonce::NoIdToken,
        (Some(_), Some(c)) => c
            .string("nonce")
            .map_or(IdTokenNonce::Absent, |n| IdTokenNonce::Claimed(n.to_owned())),
        (Some(_), None) => IdTokenNonce::Absent,
    };
    let info = fields.client_info.as_deref().and_then(|c| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice::<ClientInfo>(&bytes).ok()
    });
    let found = identity(info.as_ref(), id.as_ref())
        .or_else(|| identity(None, Claims::from_jwt(token.secret()).ok().as_ref()));
    let identified = found.is_some();
    let who = found.unwrap_or_else(|| Identity {
        home_account_id: UNIDENTIFIED.to_owned(),
        tenant_id: String::new(),
    });
    let account = fields.refresh_token.filter(|r| !r.is_empty()).map(|rt| Account {
        authority: authority.to_owned(),
        client_id: client_id.to_owned(),
        home_account_id: who.home_account_id,
        username: id
            .as_ref()
            .and_then(|c| {
                c.string("preferred_username")
                    .or_else(|| c.user_name())
                    .or_else(|| c.string("email"))
            })
            .unwrap_or("")
            .to_owned(),
        name: id.as_ref().and_then(|c| c.string("name")).map(str::to_owned),
        tenant_id: who.tenant_id,
        refresh_token: SecretString::new(rt),
        updated_on: crate::token::unix_now(),
    });
    Ok(UserTokens {
        token,
        account,
        identified,
        nonce,
    })
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

    fn jwt(claims: serde_json::Value) -> String {
        format!("{}.{}.sig", b64(&serde_json::json!({"alg":"none"})), b64(&claims))
    }

    fn answer(extra: serde_json::Value) -> Vec<u8> {
        let mut body =
            serde_json::json!({"token_type":"Bearer","expires_in":3599,"access_token":"opaque-at"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body.to_string().into_bytes()
    }

    #[test]
    fn account_from_oid_tid_else_sub_and_iss_else_unidentified() {
        // An id token with oid and tid, no client_info (Entra without client_info=1).
        let id = jwt(serde_json::json!({"oid":"O1","tid":"T1","sub":"s","iss":"https://i"}));
        let a = parse_user_tokens(
            &answer(serde_json::json!({"refresh_token":"rt","id_token":id})),
            0,
            "a",
            "c",
        )
        .unwrap();
        assert!(a.identified);
        let acct = a.account.unwrap();
        assert_eq!(
            (acct.home_account_id.as_str(), acct.tenant_id.as_str()),
            ("o1.t1", "t1")
        );
        // A standard OpenID provider: sub and iss only (sub is case-sensitive: kept as is).
        let id = jwt(
            serde_json::json!({"sub":"Alice-1","iss":"https://idp.example/oidc","preferred_username":"alice"}),
        );
        let a = parse_user_tokens(
            &answer(serde_json::json!({"refresh_token":"rt","id_token":id})),
            0,
            "a",
            "c",
        )
        .unwrap();
        let acct = a.account.unwrap();
        assert_eq!(acct.home_account_id, "Alice-1.https://idp.example/oidc");
        assert_eq!(acct.username, "alice");
        assert_eq!(acct.tenant_id, "");
        assert!(crate::user::accounts::check_home_account_id("account", &acct.home_account_id).is_ok());
        // No id token: a JWT access token's claims say who it is.
        let at = jwt(serde_json::json!({"oid":"o2","tid":"t2"}));
        let body =
            serde_json::json!({"token_type":"Bearer","expires_in":60,"access_token":at,"refresh_token":"rt"});
        let a = parse_user_tokens(body.to_string().as_bytes(), 0, "a", "c").unwrap();
        assert_eq!(a.account.unwrap().home_account_id, "o2.t2");
        // Nothing names the person: the refresh token is still kept, under UNIDENTIFIED.
        let a = parse_user_tokens(&answer(serde_json::json!({"refresh_token":"rt-2"})), 0, "a", "c").unwrap();
        assert!(!a.identified);
        let acct = a.account.unwrap();
        assert_eq!(acct.home_account_id, UNIDENTIFIED);
        assert_eq!(acct.refresh_token.expose(), "rt-2");
    }

    #[test]
    fn the_id_tokens_nonce_is_handed_back() {
        let nonce = |extra: serde_json::Value| parse_user_tokens(&answer(extra), 0, "a", "c").unwrap().nonce;
        assert_eq!(nonce(serde_json::json!({})), IdTokenNonce::NoIdToken);
        assert_eq!(
            nonce(serde_json::json!({"id_token": ""})),
            IdTokenNonce::NoIdToken
        );
        let id = jwt(serde_json::json!({"sub":"s","iss":"https://i","nonce":"n-1"}));
        assert_eq!(
            nonce(serde_json::json!({"id_token": id})),
            IdTokenNonce::Claimed("n-1".into())
        );
        let id = jwt(serde_json::json!({"sub":"s","iss":"https://i"}));
        assert_eq!(nonce(serde_json::json!({"id_token": id})), IdTokenNonce::Absent);
        let id = jwt(serde_json::json!({"sub":"s","nonce":7}));
        assert_eq!(
            nonce(serde_json::json!({"id_token": id})),
            IdTokenNonce::Absent,
            "not a string"
        );
        assert_eq!(
            nonce(serde_json::json!({"id_token": "not-a-jwt"})),
            IdTokenNonce::Absent,
            "unreadable"
        );
    }

    #[test]
    fn silent_requests_of_a_multi_tenant_sign_in_go_to_the_accounts_tenant() {
        let host = crate::authority::AuthorityHost::default_host();
        let orgs = Authority::any_tenant(host.clone(), "organizations").unwrap();
        assert_eq!(accounts_authority(&orgs, Some("t1")).unwrap().tenant(), "t1");
        assert!(
            accounts_authority(&orgs, Some("")).is_none(),
            "an OpenID account without tid"
        );
        assert!(accounts_authority(&orgs, Some("a/b")).is_none());
        assert!(accounts_authority(&orgs, None).is_none());
        let own = Authority::new(host, "contoso.onmicrosoft.com").unwrap();
        assert!(
            accounts_authority(&own, Some("t1")).is_none(),
            "a named tenant stays"
        );
    }
}
