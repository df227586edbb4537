//! Ways of proving the identity a token is for. Every kind sends its token request through the
//! one HTTP path (`core::http::request_token_with_retry`), and the response, the cache and the
//! retry policy are shared by all of them:
//!
//! * the application kinds — [`ClientSecret`], [`Certificate`] (a signed client assertion),
//!   [`AssertionSource`] (an externally issued assertion: workload identity federation) and
//!   [`UsernamePassword`] (ROPC, legacy) — talk to the application's authority ([`App`]: an Entra
//!   tenant or a generic OpenID Connect issuer) and differ only in their form fields;
//! * [`ManagedIdentity`] asks the Azure host's identity endpoint (IMDS, App Service, Arc…),
//!   with the request shape that endpoint expects;
//! * [`Chain`] (`auth_method=auto`) picks the first of those that is configured and available.
//!
//! [`Credential::from_config`] picks the kind from `auth_method` (or, unset, from the settings
//! that are present).

pub mod assertion;
pub mod certificate;
pub mod chain;
pub mod managed_identity;
pub mod password;
mod secret;

pub use assertion::AssertionSource;
pub use certificate::Certificate;
pub use chain::Chain;
pub use managed_identity::ManagedIdentity;
pub use password::UsernamePassword;
pub use secret::ClientSecret;

use std::fmt;
use std::sync::Arc;

use ring::digest;

use crate::auth_method::AuthMethod;
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
    pub fn from_config(config: &Config, why: &str) -> Result<Arc<App>> {
        let issuer = Issuer::from_config(config, why)?;
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

    /// One token request: `client_id`, `grant_type`, `scope`, the grant's `fields` and the
    /// client authentication, to `endpoint`.
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
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", grant_type),
            ("scope", scope.as_str()),
        ];
        form.extend_from_slice(fields);
        let meta = endpoint.meta;
        let mut basic = None;
        match auth {
            ClientAuth::Secret(secret) => match meta {
                // OIDC's default client authentication is HTTP Basic; Entra takes the body.
                Some(m) if m.supports("client_secret_basic") || !m.supports("client_secret_post") => {
                    if !m.supports("client_secret_basic") {
                        return Err(Error::invalid_setting(
                            "client_secret",
                            format!(
                                "cannot be used with {}: its token endpoint accepts only {}",
                                self.issuer.url(),
                                m.auth_methods.join(", ")
                            ),
                        ));
                    }
                    basic = Some(http::basic_authorization(&self.client_id, secret.expose()));
                }
                _ => form.push(("client_secret", secret.expose())),
            },
            ClientAuth::Assertion(jwt) => {
                if let Some(m) = meta.filter(|m| !m.supports("private_key_jwt")) {
                    return Err(Error::invalid_setting(
                        "auth_method",
                        format!(
                            "needs a client assertion (private_key_jwt), which {} does not accept (it accepts {})",
                            self.issuer.url(),
                            m.auth_methods.join(", ")
                        ),
                    ));
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
        http::request_token_with_retry(&env.http()?, &req).await
    }
}

/// A configured credential.
#[derive(Clone, Debug)]
pub enum Credential {
    /// Client credentials flow with a client secret.
    ClientSecret(Arc<App>, ClientSecret),
    /// Client credentials flow with a certificate: a client assertion signed with its key.
    Certificate(Arc<App>, Certificate),
    /// Client credentials flow with an assertion from a file or the host (workload identity).
    Assertion(Arc<App>, AssertionSource),
    /// Resource owner password credentials (legacy; no MFA).
    Password(Arc<App>, UsernamePassword),
    /// An Azure managed identity.
    ManagedIdentity(ManagedIdentity),
    /// `auth_method=auto`: the first configured and available of several.
    Auto(Arc<Chain>),
    /// A person signs in (`auth_method=device_code` or `interactive`): a public client with
    /// refresh tokens and accounts (see `core::user`).
    User(Arc<crate::user::UserCredential>),
}

const APP_WHY: &str = "for the client credentials flow";

impl Credential {
    /// The credential the settings describe: `auth_method` when set; else the one configured
    /// (`client_secret`, then `certificate_path`, then `assertion_file` / an assertion callback;
    /// with none of them, the settings error names `client_secret`).
    pub fn from_config(config: &Config) -> Result<Credential> {
        crate::auth_method::check_available(config)?;
        let method = match config.auth_method() {
            Some(m) => m,
            None if config.client_secret.is_some() => AuthMethod::ClientSecret,
            None if config.certificate_path.is_some() => AuthMethod::Certificate,
            None if config.assertion_file.is_some() || config.assertion_callback.is_some() => {
                AuthMethod::ClientAssertion
            }
            None => AuthMethod::ClientSecret,
        };
        Self::of_kind(config, method)
    }

    fn of_kind(config: &Config, method: AuthMethod) -> Result<Credential> {
        Ok(match method {
            AuthMethod::ClientSecret => {
                let app = App::from_config(config, APP_WHY)?;
                let secret = config.client_secret.clone().ok_or_else(|| {
                    Error::missing_setting(
                        "client_secret",
                        "(or set certificate_path, assertion_file or another auth_method)",
                    )
                })?;
                Credential::ClientSecret(app, ClientSecret::new(secret))
            }
            AuthMethod::Certificate => {
                let app = App::from_config(config, APP_WHY)?;
                Credential::Certificate(app, Certificate::from_config(config)?)
            }
            AuthMethod::ClientAssertion => {
                let app = App::from_config(config, APP_WHY)?;
                Credential::Assertion(app, AssertionSource::from_config(config)?)
            }
            AuthMethod::Password => {
                let app = App::from_config(config, "for auth_method=password")?;
                Credential::Password(app, UsernamePassword::from_config(config)?)
            }
            AuthMethod::ManagedIdentity => {
                Credential::ManagedIdentity(ManagedIdentity::from_config(config, false)?)
            }
            AuthMethod::Auto => Credential::Auto(Arc::new(Chain::from_config(config)?)),
            AuthMethod::DeviceCode => Credential::User(Arc::new(crate::user::UserCredential::from_config(
                config,
                crate::user::Flow::DeviceCode,
            )?)),
            AuthMethod::Interactive => Credential::User(Arc::new(crate::user::UserCredential::from_config(
                config,
                crate::user::Flow::Browser,
            )?)),
        })
    }

    /// A short name of the kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Credential::ClientSecret(..) => "client secret",
            Credential::Certificate(..) => "certificate",
            Credential::Assertion(_, AssertionSource::File(_)) => "workload identity (assertion file)",
            Credential::Assertion(..) => "client assertion (callback)",
            Credential::Password(..) => "username/password",
            Credential::ManagedIdentity(_) => "managed identity",
            Credential::Auto(_) => "auto",
            Credential::User(u) => match u.flow() {
                crate::user::Flow::DeviceCode => "device code",
                crate::user::Flow::Browser => "interactive (browser)",
            },
        }
    }

    /// The authority part of cache keys and the name of the token source in messages.
    pub fn authority_label(&self) -> String {
        match self {
            Credential::ClientSecret(app, _)
            | Credential::Certificate(app, _)
            | Credential::Assertion(app, _)
            | Credential::Password(app, _) => app.issuer.url(),
            Credential::ManagedIdentity(mi) => mi.label(),
            Credential::Auto(_) => "auto".to_owned(),
            Credential::User(u) => u.app.issuer.url(),
        }
    }

    /// The client part of cache keys: the application's client id, the managed identity's
    /// selector, or the user name for ROPC (tokens are per user).
    pub fn client_label(&self) -> String {
        match self {
            Credential::ClientSecret(app, _)
            | Credential::Certificate(app, _)
            | Credential::Assertion(app, _) => app.client_id.clone(),
            Credential::Password(app, p) => format!("{} user {}", app.client_id, p.username()),
            Credential::ManagedIdentity(mi) => mi.selector_label(),
            Credential::Auto(_) => String::new(),
            Credential::User(u) => u.app.client_id.clone(),
        }
    }

    /// A digest that tells credentials apart in cache keys without keeping their values there:
    /// the secret's digest, the certificate's thumbprint, the assertion's source, the managed
    /// identity's source and selector.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        self.feed(&mut ctx);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    fn feed(&self, ctx: &mut digest::Context) {
        match self {
            Credential::ClientSecret(_, s) => {
                ctx.update(b"client_secret\0");
                ctx.update(s.secret().expose().as_bytes());
            }
            Credential::Certificate(_, c) => {
                ctx.update(b"certificate\0");
                ctx.update(c.thumbprint_sha256().as_bytes());
            }
            Credential::Assertion(_, a) => {
                ctx.update(b"assertion\0");
                ctx.update(a.source_id().as_bytes());
            }
            Credential::Password(_, p) => {
                ctx.update(b"password\0");
                ctx.update(p.username().as_bytes());
                ctx.update(b"\0");
                ctx.update(p.password().expose().as_bytes());
            }
            Credential::ManagedIdentity(mi) => {
                ctx.update(b"managed_identity\0");
                ctx.update(mi.label().as_bytes());
                ctx.update(b"\0");
                ctx.update(mi.selector_label().as_bytes());
                ctx.update(b"\0");
                ctx.update(mi.pinned_thumbprint().unwrap_or("").as_bytes());
            }
            Credential::User(u) => ctx.update(u.fingerprint_parts().as_bytes()),
            Credential::Auto(chain) => {
                ctx.update(b"auto\0");
                for c in chain.configured() {
                    ctx.update(c.authority_label().as_bytes());
                    ctx.update(b"\0");
                    ctx.update(c.client_label().as_bytes());
                    ctx.update(b"\0");
                    ctx.update(&c.fingerprint());
                }
            }
        }
    }

    /// One token for `scopes` (no cache: `core::client` calls this inside its single flight).
    pub async fn get_token(&self, env: &Env<'_>, scopes: &Scopes) -> Result<Token> {
        match self {
            Credential::ClientSecret(app, s) => {
                let endpoint = app.token_endpoint(env).await?;
                app.request(
                    env,
                    &endpoint,
                    scopes,
                    "client_credentials",
                    &[],
                    ClientAuth::Secret(s.secret()),
                )
                .await
            }
            Credential::Certificate(app, c) => {
                let endpoint = app.token_endpoint(env).await?;
                let jwt = c.assertion(&endpoint.url, &app.client_id)?;
                app.request(
                    env,
                    &endpoint,
                    scopes,
                    "client_credentials",
                    &[],
                    ClientAuth::Assertion(&jwt),
                )
                .await
            }
            Credential::Assertion(app, a) => {
                let endpoint = app.token_endpoint(env).await?;
                let jwt = a.assertion().await?;
                app.request(
                    env,
                    &endpoint,
                    scopes,
                    "client_credentials",
                    &[],
                    ClientAuth::Assertion(&jwt),
                )
                .await
            }
            Credential::Password(app, p) => {
                let endpoint = app.token_endpoint(env).await?;
                let fields = [("username", p.username()), ("password", p.password().expose())];
                let auth = match p.client_secret() {
                    Some(s) => ClientAuth::Secret(s),
                    None => ClientAuth::None,
                };
                app.request(env, &endpoint, scopes, "password", &fields, auth)
                    .await
            }
            Credential::ManagedIdentity(mi) => mi.get_token(env, scopes, None).await,
            Credential::Auto(chain) => Box::pin(chain.get_token(env, scopes)).await,
            // Silent only: a sign-in is started by the client (`Client::get_token`), never here.
            Credential::User(u) => u.get_token(env, scopes, false).await,
        }
    }
}
