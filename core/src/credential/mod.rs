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
pub mod proof;
mod secret;

pub use app::{App, Env};
pub use assertion::AssertionSource;
pub use certificate::Certificate;
pub use chain::Chain;
pub use managed_identity::ManagedIdentity;
pub use password::UsernamePassword;
pub use proof::Proof;
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
    /// An application at its authority (client secret, certificate, client assertion, or
    /// username/password), proving its identity with the [`Proof`].
    App(Arc<App>, Proof),
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

    /// The credential of `method`, from the settings.
    pub(crate) fn of_kind(config: &Config, method: AuthMethod) -> Result<Credential> {
        match method {
            AuthMethod::ClientSecret => {
                let app = App::from_config(config, APP_WHY)?;
                let secret = config.client_secret.clone().ok_or_else(|| {
                    Error::missing_setting(
                        "client_secret",
                        "(or set certificate_path, assertion_file or another auth_method)",
                    )
                })?;
                Ok(Credential::App(app, Proof::Secret(ClientSecret::new(secret))))
            }
            AuthMethod::Certificate => {
                let app = App::from_config(config, APP_WHY)?;
                let cert = Certificate::load(
                    config.certificate_path.as_deref(),
                    config.certificate_password.as_ref(),
                    config.assertion_alg,
                    config.send_certificate_chain,
                )?;
                Ok(Credential::App(app, Proof::Certificate(cert)))
            }
            AuthMethod::ClientAssertion => {
                let app = App::from_config(config, APP_WHY)?;
                Ok(Credential::App(
                    app,
                    Proof::Assertion(AssertionSource::from_config(config)?),
                ))
            }
            AuthMethod::Password => {
                let app = App::from_config(config, "for auth_method=password")?;
                Ok(Credential::App(
                    app,
                    Proof::Password(UsernamePassword::from_config(config)?),
                ))
            }
            AuthMethod::ManagedIdentity => Ok(Credential::ManagedIdentity(ManagedIdentity::from_config(
                config, false,
            )?)),
            AuthMethod::Auto => Ok(Credential::Auto(Arc::new(Chain::from_config(config)?))),
            AuthMethod::DeviceCode => Ok(Credential::User(Arc::new(UserCredential::from_config(
                config,
                Flow::DeviceCode,
            )?))),
            AuthMethod::Interactive => Ok(Credential::User(Arc::new(UserCredential::from_config(
                config,
                Flow::Browser,
            )?))),
        }
    }

    /// A short name of the kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Credential::App(_, proof) => proof.kind_name(),
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
            Credential::App(app, _) => app.issuer.url(),
            Credential::ManagedIdentity(mi) => mi.label(),
            Credential::Auto(_) => "auto".to_owned(),
            Credential::User(u) => u.app().issuer.url(),
        }
    }

    /// The client part of cache keys: the application's client id, the managed identity's
    /// selector, or the user name for ROPC (tokens are per user).
    pub fn client_label(&self) -> String {
        match self {
            Credential::App(app, proof) => proof.client_label(app),
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
        match self {
            Credential::App(_, proof) => proof.feed(&mut ctx),
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
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// One token for `scopes` (no cache: `core::client` calls this inside its single flight).
    pub async fn get_token(&self, env: &Env<'_>, scopes: &Scopes) -> Result<Token> {
        match self {
            Credential::App(app, proof) => proof.get_token(app, env, scopes).await,
            Credential::ManagedIdentity(mi) => mi.get_token(env, scopes, None).await,
            Credential::Auto(chain) => Box::pin(chain.get_token(env, scopes)).await,
            // Silent only: a sign-in is started by the client (`Client::get_token`), never here.
            Credential::User(u) => u.get_token(env, scopes, false).await,
        }
    }
}
