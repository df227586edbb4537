//! Ways of proving the identity a token is for. Every kind sends its token request through the
//! one HTTP path (`core::http`: `request_token_with_retry` / `request_body_with_retry`), and the
//! response, the cache and the retry policy are shared by all of them:
//!
//! * the application kinds talk to the application's authority ([`App`] in [`app`]: an Entra
//!   tenant or a generic OpenID Connect issuer, its token endpoint, the one grant request) and
//!   differ only in their [`Proof`] (in [`proof`]): a client secret, a [`Certificate`] (a signed
//!   client assertion), an [`AssertionSource`] (an externally issued assertion: workload
//!   identity federation) or a [`UsernamePassword`] (ROPC, legacy);
//! * [`ManagedIdentity`] asks the Azure host's identity endpoint (IMDS, App Service, Arc…),
//!   with the request shape that endpoint expects;
//! * [`Chain`] (`auth_method=auto`) picks the first of those that is configured and available;
//! * person sign-in (`core::user`) uses [`App`] as a public client.
//!
//! [`Credential::from_config`] picks the kind from `auth_method` (or, unset, from the settings
//! that are present); this module is the dispatcher above all of them.

pub mod app;
pub mod assertion;
pub mod certificate;
pub mod chain;
pub mod managed_identity;
pub mod password;
pub mod proof;
mod secret;
pub mod selection;

pub use app::{App, Env};
pub use assertion::AssertionSource;
pub use certificate::Certificate;
pub use chain::{Candidate, Chain, Skipped};
pub use managed_identity::ManagedIdentity;
pub use password::UsernamePassword;
pub use proof::Proof;
pub use secret::ClientSecret;
pub use selection::{Family, Selection};

use std::sync::Arc;

use ring::digest;

use crate::auth_method::AuthMethod;
use crate::cache::{Digest, Scopes};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::token::Token;
#[cfg(feature = "signin")]
use crate::user::{Flow, UserCredential};

/// A configured credential: where its tokens come from ([`Source`]) and the facts the cache
/// and messages need, worked out once when it is built (by the constructor of its kind).
#[derive(Clone, Debug)]
pub struct Credential {
    source: Source,
    /// A short name of the kind, for messages.
    kind_name: &'static str,
    /// The authority part of cache keys and the name of the token source in messages.
    authority_label: String,
    /// The client part of cache keys.
    client_label: String,
    /// Tells credentials apart in cache keys without keeping their values there.
    fingerprint: Digest,
}

/// Where a credential's tokens come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// An application at its authority (client secret, certificate, client assertion, or
    /// username/password), proving its identity with the [`Proof`].
    App(Arc<App>, Proof),
    /// An Azure managed identity.
    ManagedIdentity(ManagedIdentity),
    /// `auth_method=auto`: the first configured and available of several.
    Auto(Arc<Chain<Credential>>),
    /// A person signs in (`auth_method=device_code` or `interactive`): a public client with
    /// refresh tokens and accounts (see `core::user`).
    #[cfg(feature = "signin")]
    User(Arc<UserCredential>),
}

/// The error for a person sign-in setting (`setting`) in a build without the `signin` feature.
#[cfg(not(feature = "signin"))]
pub(crate) fn without_signin(setting: &str) -> Error {
    Error::invalid_setting(
        setting,
        "asks for person sign-in, but this build of aadtoken was built without person sign-in (cargo feature \
         signin): use a build with it, or an application or managed identity credential",
    )
}

/// A SHA-256 over what `feed` puts in.
fn digest_of(feed: impl FnOnce(&mut digest::Context)) -> Digest {
    let mut ctx = digest::Context::new(&digest::SHA256);
    feed(&mut ctx);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Digest(out)
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
                Ok(Credential::app(app, Proof::Secret(ClientSecret::new(secret))))
            }
            AuthMethod::Certificate => {
                let app = App::from_config(config, APP_WHY)?;
                let cert = Certificate::load(
                    config.certificate_path.as_deref(),
                    config.certificate_password.as_ref(),
                    config.assertion_alg,
                    config.send_certificate_chain,
                )?;
                Ok(Credential::app(app, Proof::Certificate(cert)))
            }
            AuthMethod::ClientAssertion => {
                let app = App::from_config(config, APP_WHY)?;
                Ok(Credential::app(
                    app,
                    Proof::Assertion(AssertionSource::from_config(config)?),
                ))
            }
            AuthMethod::Password => {
                let app = App::from_config(config, "for auth_method=password")?;
                Ok(Credential::app(
                    app,
                    Proof::Password(UsernamePassword::from_config(config)?),
                ))
            }
            AuthMethod::ManagedIdentity => Ok(Credential::managed_identity(ManagedIdentity::from_config(
                config, false,
            )?)),
            AuthMethod::Auto => Ok(Credential::auto(Self::auto_chain(config)?)),
            #[cfg(feature = "signin")]
            AuthMethod::DeviceCode => Ok(Credential::user(UserCredential::from_config(
                config,
                Flow::DeviceCode,
            )?)),
            #[cfg(feature = "signin")]
            AuthMethod::Interactive => Ok(Credential::user(UserCredential::from_config(
                config,
                Flow::Browser,
            )?)),
            #[cfg(not(feature = "signin"))]
            AuthMethod::DeviceCode | AuthMethod::Interactive => Err(without_signin("auth_method")),
        }
    }

    /// The `auth_method=auto` chain of the settings: its candidates in the order of the
    /// `chain` module's docs, each built or told why it is skipped. Only a selection
    /// (`auto_credentials` / `AZURE_TOKEN_CREDENTIALS`) that names nothing aadtoken has fails.
    fn auto_chain(config: &Config) -> Result<Chain<Credential>> {
        let (selection, value) = config
            .auto_credentials
            .clone()
            .unwrap_or((Selection::Prod, String::new()));
        let app_missing = || -> Option<String> {
            let missing: Vec<&str> = [
                (
                    "tenant_id",
                    config.tenant_id.is_none() && config.authority.is_none(),
                ),
                ("client_id", config.client_id.is_none()),
            ]
            .into_iter()
            .filter_map(|(k, missing)| missing.then_some(k))
            .collect();
            (!missing.is_empty()).then(|| format!("'{}' not set", missing.join("' and '")))
        };
        let build = |make: &dyn Fn() -> Result<Credential>| {
            make().map_err(|e| Skipped::Unusable(e.message().to_owned()))
        };
        let excluded = || Skipped::Excluded(value.clone());
        let mut candidates: Vec<chain::Entry<Credential>> = Vec::new();
        // An application candidate: configured when `present` and the application is.
        let apps = [
            (
                "environment (client secret)",
                Family::Environment,
                config.client_secret.is_some(),
                "'client_secret' (AZURE_CLIENT_SECRET) not set",
                AuthMethod::ClientSecret,
            ),
            (
                "environment (certificate)",
                Family::Environment,
                config.certificate_path.is_some(),
                "'certificate_path' (AZURE_CLIENT_CERTIFICATE_PATH) not set",
                AuthMethod::Certificate,
            ),
            (
                "workload identity",
                Family::WorkloadIdentity,
                config.assertion_file.is_some() || config.assertion_callback.is_some(),
                "'assertion_file' (AZURE_FEDERATED_TOKEN_FILE) not set",
                AuthMethod::ClientAssertion,
            ),
        ];
        for (name, family, present, unset, method) in apps {
            let candidate = if !selection.admits(family)? {
                Err(excluded())
            } else {
                match (present, app_missing()) {
                    (false, _) => Err(Skipped::NotConfigured(unset.to_owned())),
                    (true, Some(m)) => Err(Skipped::NotConfigured(m)),
                    (true, None) => build(&|| Credential::of_kind(config, method)),
                }
            };
            candidates.push((name, candidate));
        }
        let mi = if selection.admits(Family::ManagedIdentity)? {
            build(&|| ManagedIdentity::from_config(config, true).map(Credential::managed_identity))
        } else {
            Err(excluded())
        };
        candidates.push(("managed identity", mi));
        // Asked for by name, the managed identity is used as that credential alone: no probe.
        let probe = (selection != Selection::Only(Family::ManagedIdentity)).then(|| config.probe_timeout());
        Ok(Chain::new(candidates, probe))
    }

    /// An application credential: `app` proving its identity with `proof`.
    fn app(app: Arc<App>, proof: Proof) -> Credential {
        Credential {
            kind_name: proof.kind_name(),
            authority_label: app.issuer.url(),
            client_label: proof.client_label(&app),
            fingerprint: digest_of(|ctx| proof.feed(ctx)),
            source: Source::App(app, proof),
        }
    }

    /// A managed identity: the source and endpoint, the selector, a pinned thumbprint.
    fn managed_identity(mi: ManagedIdentity) -> Credential {
        let (label, selector) = (mi.label(), mi.selector_label());
        let fingerprint = digest_of(|ctx| {
            ctx.update(b"managed_identity\0");
            ctx.update(label.as_bytes());
            ctx.update(b"\0");
            ctx.update(selector.as_bytes());
            ctx.update(b"\0");
            ctx.update(mi.pinned_thumbprint().unwrap_or("").as_bytes());
        });
        Credential {
            kind_name: "managed identity",
            authority_label: label,
            client_label: selector,
            fingerprint,
            source: Source::ManagedIdentity(mi),
        }
    }

    /// `auth_method=auto`: told apart by every configured candidate.
    fn auto(chain: Chain<Credential>) -> Credential {
        let fingerprint = digest_of(|ctx| {
            ctx.update(b"auto\0");
            for c in chain.configured() {
                ctx.update(c.authority_label.as_bytes());
                ctx.update(b"\0");
                ctx.update(c.client_label.as_bytes());
                ctx.update(b"\0");
                ctx.update(&c.fingerprint.0);
            }
        });
        Credential {
            kind_name: "auto",
            authority_label: "auto".to_owned(),
            client_label: String::new(),
            fingerprint,
            source: Source::Auto(Arc::new(chain)),
        }
    }

    /// A person sign-in of `flow`.
    #[cfg(feature = "signin")]
    fn user(user: UserCredential) -> Credential {
        Credential {
            kind_name: match user.flow() {
                Flow::DeviceCode => "device code",
                Flow::Browser => "interactive (browser)",
            },
            authority_label: user.app().issuer.url(),
            client_label: user.app().client_id.clone(),
            fingerprint: digest_of(|ctx| ctx.update(user.fingerprint_parts().as_bytes())),
            source: Source::User(Arc::new(user)),
        }
    }

    /// Where the tokens come from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// A short name of the kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        self.kind_name
    }

    /// The authority part of cache keys and the name of the token source in messages.
    pub fn authority_label(&self) -> &str {
        &self.authority_label
    }

    /// The client part of cache keys: the application's client id, the managed identity's
    /// selector, or the user name for ROPC (tokens are per user).
    pub fn client_label(&self) -> &str {
        &self.client_label
    }

    /// A digest that tells credentials apart in cache keys without keeping their values there:
    /// the secret's digest, the certificate's thumbprint, the assertion's source, the managed
    /// identity's source and selector.
    pub fn fingerprint(&self) -> Digest {
        self.fingerprint
    }

    /// One token for `scopes` (no cache: `core::client` calls this inside its single flight).
    /// `interaction`: a person sign-in may start (a caller's `get_token`, never a background
    /// refresh or a candidate of the `auto` chain).
    pub async fn get_token(&self, env: &Env<'_>, scopes: &Scopes, interaction: bool) -> Result<Token> {
        #[cfg(not(feature = "signin"))]
        let _ = interaction; // only a person sign-in interacts
        match &self.source {
            Source::App(app, proof) => proof.get_token(app, env, scopes).await,
            Source::ManagedIdentity(mi) => mi.get_token(env, scopes, None).await,
            Source::Auto(chain) => chain.get_token(env, scopes).await,
            #[cfg(feature = "signin")]
            Source::User(u) => u.get_token(env, scopes, interaction).await,
        }
    }
}

impl Candidate for Credential {
    fn managed_identity(&self) -> Option<&ManagedIdentity> {
        match &self.source {
            Source::ManagedIdentity(mi) => Some(mi),
            _ => None,
        }
    }

    fn token<'a>(&'a self, env: &'a Env<'_>, scopes: &'a Scopes) -> chain::TokenFuture<'a> {
        Box::pin(self.get_token(env, scopes, false))
    }
}

/// A build without an optional feature refuses what needs it, naming the setting (run by
/// `cargo test -p aadtoken-core --no-default-features`, a step of `scripts/test.sh`).
#[cfg(all(test, not(all(feature = "signin", feature = "pkcs12"))))]
mod without_features {
    use crate::{Client, Config, ErrorKind};

    const APP: &str =
        "tenant_id=11111111-1111-1111-1111-111111111111;client_id=22222222-2222-2222-2222-222222222222";

    fn refused(settings: &str, setting: &str, feature: &str) {
        let mut config = Config::new();
        config.parse(settings).unwrap();
        let e = Client::new(&config).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting, "{e}");
        assert!(
            e.message().contains(&format!("'{setting}'"))
                && e.message().contains(&format!("feature {feature}")),
            "{e}"
        );
    }

    #[cfg(not(feature = "signin"))]
    #[test]
    fn without_signin_person_sign_in_is_refused() {
        for method in ["device_code", "interactive"] {
            refused(&format!("{APP};auth_method={method}"), "auth_method", "signin");
        }
        for key in ["account", "prompt"] {
            let e = Config::new().set(key, "login").unwrap_err();
            crate::error::assert_error(
                &e,
                ErrorKind::InvalidSetting,
                &[&format!("'{key}'"), "feature signin"],
            );
        }
        let mut config = Config::new();
        config
            .parse(&format!("{APP};client_secret=s;scope=api://db/.default"))
            .unwrap();
        let e = Client::new(&config).unwrap().sign_in(None).unwrap_err();
        assert!(e.message().contains("feature signin"), "{e}");
    }

    #[cfg(not(feature = "pkcs12"))]
    #[test]
    fn without_pkcs12_a_pfx_file_is_refused() {
        let path = std::env::temp_dir().join(format!("aadtoken-no-pkcs12-{}.pfx", std::process::id()));
        std::fs::write(&path, [0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03]).unwrap();
        refused(
            &format!(
                "{APP};auth_method=certificate;certificate_path={}",
                path.display()
            ),
            "certificate_path",
            "pkcs12",
        );
        let _ = std::fs::remove_file(&path);
    }
}
