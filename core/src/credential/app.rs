//! The application side shared by every credential that talks to an authority (the
//! application kinds and person sign-in): where tokens come from ([`App`]: an Entra tenant or a
//! generic OpenID Connect issuer, its token endpoint), how the application authenticates there
//! ([`ClientAuth`]), and what a credential needs from the client to send a request ([`Env`]).

use std::fmt;
use std::sync::Arc;

use crate::authority::{Issuer, OidcMetadata};
use crate::cache::Scopes;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::{self, ExtraRoots, TokenRequest};
use crate::runtime::Runtime;
use crate::secret::SecretString;
use crate::token::Token;

/// The client assertion type of RFC 7523 (certificate and federated credentials).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What a credential needs from the client to send a request.
pub struct Env<'a> {
    pub rt: &'a Runtime,
    pub extra_roots: Option<&'a ExtraRoots>,
}

impl Env<'_> {
    /// The shared HTTP client (proxies from the environment).
    pub fn http(&self) -> Result<reqwest::Client> {
        self.rt.http_client(self.extra_roots, false)
    }

    /// The shared HTTP client that never uses a proxy (managed-identity endpoints).
    pub fn http_direct(&self) -> Result<reqwest::Client> {
        self.rt.http_client(self.extra_roots, true)
    }
}

/// The application side: where its tokens come from and its client id. Shared by the
/// application credential kinds.
pub struct App {
    pub issuer: Issuer,
    pub client_id: String,
    /// The OIDC issuer's discovery document, fetched once.
    oidc: tokio::sync::OnceCell<OidcMetadata>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("issuer", &self.issuer.url())
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// A token endpoint, with the OIDC issuer's metadata when it came from discovery.
pub struct Endpoint<'a> {
    pub url: String,
    pub meta: Option<&'a OidcMetadata>,
}

/// How the application authenticates itself at the token endpoint.
pub enum ClientAuth<'a> {
    /// `client_secret` in the body (Entra), or HTTP Basic when an OIDC issuer prefers it.
    Secret(&'a SecretString),
    /// `client_assertion_type` jwt-bearer + `client_assertion`.
    Assertion(&'a SecretString),
    /// A public client: only `client_id` (ROPC without a secret).
    None,
}

impl App {
    /// The application of the settings (its authority and `client_id`); `why` ends the
    /// message of a missing setting.
    pub fn from_config(config: &Config, why: &str) -> Result<Arc<App>> {
        Self::build(config, why, false)
    }

    /// The application a person signs in to: as [`App::from_config`], but an Entra tenant
    /// may be `common`, `organizations` or `consumers`.
    pub fn for_person_sign_in(config: &Config, why: &str) -> Result<Arc<App>> {
        Self::build(config, why, true)
    }

    fn build(config: &Config, why: &str, person: bool) -> Result<Arc<App>> {
        let issuer = Issuer::from_settings(
            config.authority_kind.unwrap_or_default(),
            config.authority.as_deref(),
            config.authority_host.as_ref(),
            config.tenant_id.as_deref(),
            why,
            person,
        )?;
        let client_id = config
            .client_id
            .clone()
            .ok_or_else(|| Error::missing_setting("client_id", why))?;
        Ok(Arc::new(App {
            issuer,
            client_id,
            oidc: tokio::sync::OnceCell::new(),
        }))
    }

    /// The token endpoint, and for an OIDC issuer its metadata (fetched once per client).
    pub async fn token_endpoint(&self, env: &Env<'_>) -> Result<Endpoint<'_>> {
        match &self.issuer {
            Issuer::Entra(a) => Ok(Endpoint {
                url: a.token_endpoint(),
                meta: None,
            }),
            Issuer::Oidc(issuer) => {
                let meta = self
                    .oidc
                    .get_or_try_init(|| async {
                        let url = self.issuer.discovery_url();
                        let body = http::get_json(&env.http()?, &url).await?;
                        OidcMetadata::parse(issuer, &body)
                    })
                    .await?;
                Ok(Endpoint {
                    url: meta.token_endpoint.clone(),
                    meta: Some(meta),
                })
            }
        }
    }

    /// One grant to `endpoint`, with the Entra retry policy: [`App::grant_request`] sent
    /// through the one request path, answered with the token.
    pub async fn request(
        &self,
        env: &Env<'_>,
        endpoint: &Endpoint<'_>,
        scopes: &Scopes,
        grant_type: &str,
        fields: &[(&'static str, &str)],
        auth: ClientAuth<'_>,
    ) -> Result<Token> {
        let scope = scopes.joined();
        let req = self.grant_request(endpoint, &scope, grant_type, fields, auth)?;
        http::request_token_with_retry(&env.http()?, &req).await
    }

    /// The request of one grant: `client_id`, `grant_type`, `scope`, the grant's `fields` and
    /// the client authentication (in the body, or HTTP Basic when an OIDC issuer wants it).
    pub fn grant_request<'a>(
        &'a self,
        endpoint: &'a Endpoint<'_>,
        scope: &'a str,
        grant_type: &'a str,
        fields: &[(&'static str, &'a str)],
        auth: ClientAuth<'a>,
    ) -> Result<TokenRequest<'a>> {
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", grant_type),
            ("scope", scope),
        ];
        form.extend_from_slice(fields);
        let meta = endpoint.meta;
        // An OIDC issuer that does not accept this client authentication: `setting` names it.
        // `problem` is told the issuer and the methods it accepts.
        let refuse = |setting: &str, m: &OidcMetadata, problem: fn(&str, &str) -> String| {
            let text = problem(&self.issuer.url(), &m.auth_methods.join(", "));
            Err(Error::invalid_setting(setting, text))
        };
        let mut basic = None;
        match auth {
            ClientAuth::Secret(secret) => {
                match meta {
                    // OIDC's default client authentication is HTTP Basic; Entra takes the body.
                    Some(m) if m.supports("client_secret_basic") || !m.supports("client_secret_post") => {
                        if !m.supports("client_secret_basic") {
                            return refuse("client_secret", m, |issuer, accepted| {
                                format!("cannot be used with {issuer}: its token endpoint accepts only {accepted}")
                            });
                        }
                        basic = Some(http::basic_authorization(&self.client_id, secret.expose()));
                    }
                    _ => form.push(("client_secret", secret.expose())),
                }
            }
            ClientAuth::Assertion(jwt) => {
                if let Some(m) = meta.filter(|m| !m.supports("private_key_jwt")) {
                    return refuse("auth_method", m, |issuer, accepted| {
                        format!(
                            "needs a client assertion (private_key_jwt), which {issuer} does not accept (it accepts {accepted})"
                        )
                    });
                }
                form.push(("client_assertion_type", JWT_BEARER));
                form.push(("client_assertion", jwt.expose()));
            }
            ClientAuth::None => {}
        }
        let mut req = TokenRequest::post(&endpoint.url, form);
        if meta.is_some() {
            req.who = "the identity provider";
        }
        if let Some(b) = basic {
            req.headers.push(("authorization", b));
        }
        Ok(req)
    }
}
