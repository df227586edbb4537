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

pub mod app;
pub mod assertion;
pub mod certificate;
pub mod chain;
pub mod managed_identity;
pub mod password;
mod secret;

pub use app::{App, ClientAuth, Endpoint, Env, JWT_BEARER};
pub use assertion::AssertionSource;
pub use certificate::Certificate;
pub use chain::Chain;
pub use managed_identity::ManagedIdentity;
pub use password::UsernamePassword;
pub use secret::ClientSecret;

use std::sync::Arc;

use ring::digest;

use crate::auth_method::AuthMethod;
use crate::cache::Scopes;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::token::Token;
use crate::user::{Flow, UserCredential};

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
    User(Arc<UserCredential>),
}

const APP_WHY: &str = "for the client credentials flow";

impl Credential {
    /// The credential the settings describe: `auth_method` when set; else the one configured
    /// (`client_secret`, then `certificate_path`, then `assertion_file` / an assertion callback;
    /// with none of them, the settings error names `client_secret`).
    pub fn from_config(config: &Config) -> Result<Credential> {
        crate::auth_method::check_available(config.auth_method())?;
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
                let cert = Certificate::load(
                    config.certificate_path.as_deref(),
                    config.certificate_password.as_ref(),
                    config.assertion_alg,
                    config.send_certificate_chain,
                )?;
                Credential::Certificate(app, cert)
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
            AuthMethod::DeviceCode => {
                Credential::User(Arc::new(UserCredential::from_config(config, Flow::DeviceCode)?))
            }
            AuthMethod::Interactive => {
                Credential::User(Arc::new(UserCredential::from_config(config, Flow::Browser)?))
            }
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
                Flow::DeviceCode => "device code",
                Flow::Browser => "interactive (browser)",
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
            Credential::User(u) => u.app().issuer.url(),
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
            Credential::User(u) => u.app().client_id.clone(),
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
