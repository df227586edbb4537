//! Typed settings: plain data with defaults, and the host's callbacks. Nothing here checks a
//! value: the key table and the checks are in `core::settings` ([`Config::set`],
//! [`Config::parse`], [`Config::load_env`]), each value parsed by the module that owns its type.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth_method::AuthMethod;
use crate::authority::{AuthorityHost, AuthorityKind};
use crate::credential::certificate::AssertionAlg;
use crate::credential::selection::Selection;
use crate::error::Result;
use crate::secret::SecretString;

/// Default for `timeout_ms`: the whole `get_token` call, retries included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for `expiry_margin_s`: a cached token with less left than this is not handed out.
pub const DEFAULT_EXPIRY_MARGIN: Duration = Duration::from_secs(300);
/// Default for `probe_timeout_ms`.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(1000);

/// What the host supplies client assertions with (`aadtoken_config_set_assertion_callback`).
/// Called on a library thread, possibly several threads over time; must be quick-ish and
/// thread-safe. `id` tells providers apart in cache keys.
pub trait AssertionProvider: Send + Sync {
    /// A fresh (or still valid) assertion JWT.
    fn assertion(&self) -> Result<SecretString>;
    /// Distinguishes providers in cache keys (e.g. the function and userdata addresses).
    fn id(&self) -> u64;
}

/// The host's device-code prompt (`aadtoken_config_set_device_code_callback`): shows the
/// person where to go and which code to enter. Called once per device-code sign-in, on a library
/// thread; the library never prints the message itself.
pub trait DeviceCodePrompt: Send + Sync {
    /// `message` is Entra's text for the person; `expires_on` is when the code expires (Unix s).
    fn prompt(&self, message: &str, user_code: &str, verification_uri: &str, expires_on: i64);
}

/// The host's way of opening the sign-in page (`aadtoken_config_set_open_url_callback`), used
/// instead of the system browser. Called on a library thread while the loopback listener
/// waits; `Err` (the callback returned non-zero) ends the sign-in.
pub trait UrlOpener: Send + Sync {
    /// Open `url` for the person; `Err` ends the sign-in.
    fn open(&self, url: &str) -> Result<()>;
}

/// Typed settings. Build with [`Config::default`] and the setters; hand to `Client::new`.
#[derive(Clone, Default)]
pub struct Config {
    pub(crate) tenant_id: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) scope: Option<String>,
    pub(crate) authority_host: Option<AuthorityHost>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) expiry_margin: Option<Duration>,
    pub(crate) auth_method: Option<AuthMethod>,
    pub(crate) token_location: Option<PathBuf>,
    pub(crate) authority: Option<String>,
    pub(crate) authority_kind: Option<AuthorityKind>,
    pub(crate) certificate_path: Option<PathBuf>,
    pub(crate) certificate_password: Option<SecretString>,
    pub(crate) send_certificate_chain: bool,
    pub(crate) assertion_alg: AssertionAlg,
    pub(crate) assertion_file: Option<PathBuf>,
    pub(crate) assertion_callback: Option<std::sync::Arc<dyn AssertionProvider>>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<SecretString>,
    pub(crate) mi_client_id: Option<String>,
    pub(crate) mi_object_id: Option<String>,
    pub(crate) mi_resource_id: Option<String>,
    pub(crate) mi_endpoint: Option<String>,
    pub(crate) probe_timeout: Option<Duration>,
    /// `auto_credentials` (`AZURE_TOKEN_CREDENTIALS`) and the value as given.
    pub(crate) auto_credentials: Option<(Selection, String)>,
    pub(crate) arc_key_dir: Option<PathBuf>,
    /// The managed-identity platform variables as `load_env` saw them.
    pub(crate) platform_env: Option<std::sync::Arc<Vec<(String, String)>>>,
    pub(crate) login_hint: Option<String>,
    #[cfg_attr(not(feature = "signin"), allow(dead_code))] // read by person sign-in only
    pub(crate) account: Option<String>,
    pub(crate) domain_hint: Option<String>,
    #[cfg_attr(not(feature = "signin"), allow(dead_code))]
    pub(crate) prompt: Option<String>,
    pub(crate) redirect_port: Option<u16>,
    pub(crate) interactive_timeout: Option<Duration>,
    pub(crate) automatic_sign_in: Option<bool>,
    pub(crate) cache_file: Option<PathBuf>,
    pub(crate) device_code_prompt: Option<std::sync::Arc<dyn DeviceCodePrompt>>,
    pub(crate) url_opener: Option<std::sync::Arc<dyn UrlOpener>>,
    /// `log_pii`: log messages may name users.
    pub(crate) log_pii: bool,
    /// `host_cache=on`: application tokens are shared by the processes of this user on the host.
    pub(crate) host_cache: bool,
    pub(crate) host_cache_dir: Option<PathBuf>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scope", &self.scope)
            .field("authority_host", &self.authority_host)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("expiry_margin", &self.expiry_margin)
            .field("auth_method", &self.auth_method)
            .field("token_location", &self.token_location)
            .field("authority", &self.authority)
            .field("authority_kind", &self.authority_kind)
            .field("certificate_path", &self.certificate_path)
            .field("certificate_password", &self.certificate_password)
            .field("send_certificate_chain", &self.send_certificate_chain)
            .field("assertion_alg", &self.assertion_alg)
            .field("assertion_file", &self.assertion_file)
            .field("assertion_callback", &self.assertion_callback.is_some())
            .field("username", &self.username)
            .field("password", &self.password)
            .field("managed_identity_client_id", &self.mi_client_id)
            .field("managed_identity_object_id", &self.mi_object_id)
            .field("managed_identity_resource_id", &self.mi_resource_id)
            .field("managed_identity_endpoint", &self.mi_endpoint)
            .field("host_cache", &self.host_cache)
            .field("host_cache_dir", &self.host_cache_dir)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// An empty configuration (every setting at its default).
    pub fn new() -> Self {
        Self::default()
    }

    /// The `timeout_ms` setting, or its default.
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    /// The `expiry_margin_s` setting, or its default.
    pub fn expiry_margin(&self) -> Duration {
        self.expiry_margin.unwrap_or(DEFAULT_EXPIRY_MARGIN)
    }

    /// The `auth_method` setting; `None` = the configured credential.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        self.auth_method
    }

    /// Set (or, with `None`, remove) the host's client-assertion provider.
    pub fn set_assertion_callback(&mut self, provider: Option<std::sync::Arc<dyn AssertionProvider>>) {
        self.assertion_callback = provider;
    }

    /// A managed-identity platform variable: from the snapshot `load_env` took, else from the
    /// process environment. Empty values count as unset.
    pub fn platform_var(&self, name: &str) -> Option<String> {
        match &self.platform_env {
            Some(vars) => vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            None => std::env::var(name).ok().filter(|v| !v.trim().is_empty()),
        }
    }

    /// The `probe_timeout_ms` setting, or its default.
    pub fn probe_timeout(&self) -> Duration {
        self.probe_timeout.unwrap_or(DEFAULT_PROBE_TIMEOUT)
    }

    /// Set (or, with `None`, remove) the host's device-code prompt.
    pub fn set_device_code_prompt(&mut self, prompt: Option<std::sync::Arc<dyn DeviceCodePrompt>>) {
        self.device_code_prompt = prompt;
    }

    /// Set (or, with `None`, remove) the host's way of opening the sign-in page.
    pub fn set_url_opener(&mut self, opener: Option<std::sync::Arc<dyn UrlOpener>>) {
        self.url_opener = opener;
    }

    /// The `cache_file` setting (person sign-in's persistent account cache).
    pub fn cache_file(&self) -> Option<&std::path::Path> {
        self.cache_file.as_deref()
    }

    /// The `log_pii` setting: whether log messages may name users.
    pub fn log_pii(&self) -> bool {
        self.log_pii
    }

    /// The `token_location` setting (Oracle's `TOKEN_LOCATION`).
    pub fn token_location(&self) -> Option<&std::path::Path> {
        self.token_location.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let mut c = Config::new();
        c.set("client_secret", "very-secret-value").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret-value"));
        assert!(shown.contains("[redacted]"));
    }
}
