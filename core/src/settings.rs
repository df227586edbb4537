//! The settings table: every key aadtoken accepts, and how its string value becomes a typed
//! field of [`Config`] (string keys and values, so a new setting never changes the ABI or a
//! binding). Each value is parsed and checked by the module that owns its type (`AuthorityHost`
//! and `AuthorityKind` in `authority`, `AuthMethod` in `auth_method`, `AssertionAlg` in the
//! certificate credential, the managed-identity selector and endpoint in `managed_identity`,
//! the Oracle names in `oracle::settings`, scopes in `cache`…); this module only routes keys.
//!
//! Three ways in, applied in the order the host calls them (a later call overrides an earlier
//! one for the same key):
//! * [`Config::set`] — one key, one value;
//! * [`Config::parse`] — a settings string `key=value;key=value` (see [`parse_settings`]);
//! * [`Config::load_env`] — the Azure SDK environment variables (`AZURE_TENANT_ID`, …).
//!
//! Completeness (which settings a credential needs) is checked when a client is built.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth_method::AuthMethod;
use crate::authority::{self, check_identifier, AuthorityHost, AuthorityKind};
use crate::cache::Scopes;
use crate::config::Config;
use crate::credential::certificate::AssertionAlg;
use crate::credential::managed_identity;
pub use crate::credential::managed_identity::MANAGED_IDENTITY_ENVIRONMENT;
use crate::credential::selection::Selection;
use crate::error::{Error, Result};
use crate::host_cache;
use crate::oracle::settings::{self as oracle_settings, Alias};
use crate::secret::SecretString;
#[cfg(feature = "signin")]
use crate::user::{accounts, browser};

const MAX_TIMEOUT_MS: u64 = 600_000;
const MAX_EXPIRY_MARGIN_S: u64 = 3_600;

/// Every setting key aadtoken accepts, with a one-line description (the README's table).
pub const SETTINGS: &[(&str, &str)] = &[
    (
        "tenant_id",
        "Directory (tenant) ID or domain of the app registration",
    ),
    ("client_id", "Application (client) ID"),
    ("client_secret", "Client secret value (not its ID)"),
    (
        "scope",
        "Default scopes, space separated, e.g. 'api://<db-app>/.default'",
    ),
    (
        "authority_host",
        "Entra ID authority host, default https://login.microsoftonline.com",
    ),
    ("ca_file", "PEM file of extra trusted CA certificates"),
    (
        "timeout_ms",
        "Bound on a whole token call, retries included (default 30000)",
    ),
    (
        "expiry_margin_s",
        "Cached tokens with less than this left are renewed (default 300)",
    ),
    (
        "auth_method",
        "client_secret, managed_identity, device_code, interactive or auto (default: the configured credential)",
    ),
    (
        "token_location",
        "Oracle TOKEN_LOCATION: a directory (file 'token' in it) or a file, for the token file",
    ),
    (
        "authority",
        "Full authority URL https://host/tenant (Entra), or the issuer URL with authority_kind=oidc",
    ),
    ("authority_kind", "entra (default) or oidc (a generic OpenID Connect issuer)"),
    (
        "certificate_path",
        "PEM (certificate + private key) or PKCS#12/PFX file of the application's certificate",
    ),
    ("certificate_password", "Password of a PKCS#12/PFX certificate_path"),
    (
        "send_certificate_chain",
        "true: put the certificate chain (x5c) in the assertion (subject name/issuer auth)",
    ),
    (
        "assertion_alg",
        "Signature of the certificate's client assertion: PS256 (default, x5t#S256) or RS256 (x5t)",
    ),
    (
        "assertion_file",
        "File holding a client assertion JWT (workload identity); read before every token request",
    ),
    ("username", "User name for auth_method=password (legacy, no MFA)"),
    ("password", "Password for auth_method=password (legacy, no MFA)"),
    (
        "managed_identity_client_id",
        "User-assigned managed identity, selected by client id",
    ),
    (
        "managed_identity_object_id",
        "User-assigned managed identity, selected by object (principal) id",
    ),
    (
        "managed_identity_resource_id",
        "User-assigned managed identity, selected by Azure resource id",
    ),
    (
        "managed_identity_endpoint",
        "Override of the managed identity endpoint URL (http only on loopback/link-local)",
    ),
    (
        "probe_timeout_ms",
        "auth_method=auto: bound on probing IMDS (default 1000)",
    ),
    (
        "auto_credentials",
        "auth_method=auto: prod (all candidates) or EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential alone (AZURE_TOKEN_CREDENTIALS)",
    ),
    (
        "login_hint",
        "Person sign-in: the user name to sign in as, and to pick among cached accounts",
    ),
    (
        "account",
        "Person sign-in: the cached account to use, by home account id (uid.utid)",
    ),
    ("domain_hint", "Browser sign-in: the domain_hint sent to /authorize"),
    ("prompt", "Browser sign-in: login, none, consent or select_account"),
    (
        "redirect_port",
        "Browser sign-in: loopback port of the redirect (default 0 = any free port)",
    ),
    (
        "interactive_timeout_s",
        "Browser sign-in: how long to wait for the redirect (default 300)",
    ),
    (
        "automatic_sign_in",
        "Person sign-in: get_token may start a sign-in when no refresh token works (default true)",
    ),
    (
        "cache_file",
        "Person sign-in: file keeping accounts and refresh tokens across processes (mode 0600)",
    ),
    (
        "log_pii",
        "true: log messages may name users (user names, UPNs); default false",
    ),
    (
        "host_cache",
        "on: application tokens are shared by this user's processes on the host, one request per host (default off)",
    ),
    (
        "host_cache_dir",
        "Directory of the host cache (default $XDG_RUNTIME_DIR/aadtoken, else <tmp>/aadtoken-<uid>; must be 0700, yours)",
    ),
    (
        "arc_key_dir_for_tests",
        "Tests only (debug builds): the directory Azure Arc key files must be in",
    ),
];

/// Environment variables read by [`Config::load_env`] and the setting each one fills.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("AZURE_TENANT_ID", "tenant_id"),
    ("AZURE_CLIENT_ID", "client_id"),
    ("AZURE_CLIENT_SECRET", "client_secret"),
    ("AZURE_AUTHORITY_HOST", "authority_host"),
    ("AZURE_CLIENT_CERTIFICATE_PATH", "certificate_path"),
    ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "certificate_password"),
    ("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "send_certificate_chain"),
    ("AZURE_FEDERATED_TOKEN_FILE", "assertion_file"),
    ("AZURE_USERNAME", "username"),
    ("AZURE_PASSWORD", "password"),
    ("AZURE_TOKEN_CREDENTIALS", "auto_credentials"),
];

impl Config {
    /// Set one setting. Keys are case-insensitive; an unknown key or a bad value is an error
    /// that names the key, and leaves the config unchanged. Oracle-style and ojdbc names
    /// (`TOKEN_AUTH`, `AZURE_DB_APP_ID_URI`, `oracle.jdbc.provider.accessToken.*`) set the
    /// aadtoken setting they stand for (see `core::oracle::settings`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let key = key.trim();
        let name = key.to_ascii_lowercase();
        let value = value.trim();
        if let Some(alias) = oracle_settings::alias(key, value) {
            if value.is_empty() {
                return Err(Error::invalid_setting(key, "must not be empty"));
            }
            return match alias? {
                Alias::Set(setting, v) => self
                    .set(setting, &v)
                    .map_err(|e| e.context(format!("setting '{key}' (for '{setting}')"))),
                Alias::Nothing => Ok(()),
                Alias::ConfiguredCredential => {
                    self.auth_method = None;
                    Ok(())
                }
            };
        }
        if !SETTINGS.iter().any(|(k, _)| *k == name) {
            return Err(Error::unknown_setting(key));
        }
        if value.is_empty() {
            return Err(Error::invalid_setting(&name, "must not be empty"));
        }
        match name.as_str() {
            "tenant_id" => self.tenant_id = Some(check_identifier(&name, value)?),
            "client_id" => self.client_id = Some(check_identifier(&name, value)?),
            "client_secret" => self.client_secret = Some(SecretString::new(value)),
            "scope" => {
                Scopes::parse(value).map_err(|e| e.context(format!("setting '{name}'")))?;
                self.scope = Some(value.to_owned());
            }
            "authority_host" => self.authority_host = Some(AuthorityHost::parse(&name, value)?),
            "ca_file" => self.ca_file = Some(PathBuf::from(value)),
            "timeout_ms" => {
                let ms = number(&name, value, 1, MAX_TIMEOUT_MS)?;
                self.timeout = Some(Duration::from_millis(ms));
            }
            "expiry_margin_s" => {
                let s = number(&name, value, 0, MAX_EXPIRY_MARGIN_S)?;
                self.expiry_margin = Some(Duration::from_secs(s));
            }
            "auth_method" => self.auth_method = Some(AuthMethod::parse_setting(&name, value)?),
            "token_location" => self.token_location = Some(PathBuf::from(value)),
            "authority" => {
                authority::check_authority_url(&name, value)?;
                self.authority = Some(value.trim_end_matches('/').to_owned());
            }
            "authority_kind" => self.authority_kind = Some(AuthorityKind::parse(&name, value)?),
            "certificate_path" => self.certificate_path = Some(PathBuf::from(value)),
            "certificate_password" => self.certificate_password = Some(SecretString::new(value)),
            "send_certificate_chain" => self.send_certificate_chain = boolean(&name, value)?,
            "assertion_alg" => self.assertion_alg = AssertionAlg::parse(&name, value)?,
            "assertion_file" => self.assertion_file = Some(PathBuf::from(value)),
            "username" => self.username = Some(value.to_owned()),
            "password" => self.password = Some(SecretString::new(value)),
            "managed_identity_client_id" => self.mi_client_id = Some(check_identifier(&name, value)?),
            "managed_identity_object_id" => self.mi_object_id = Some(check_identifier(&name, value)?),
            "managed_identity_resource_id" => {
                self.mi_resource_id = Some(managed_identity::check_resource_id(&name, value)?)
            }
            "managed_identity_endpoint" => {
                managed_identity::check_endpoint(&name, value)?;
                self.mi_endpoint = Some(value.to_owned());
            }
            "probe_timeout_ms" => {
                let ms = number(&name, value, 1, 60_000)?;
                self.probe_timeout = Some(Duration::from_millis(ms));
            }
            "auto_credentials" => {
                self.auto_credentials = Some((Selection::parse(&name, value)?, value.to_owned()))
            }
            "login_hint" => self.login_hint = Some(value.to_owned()),
            #[cfg(feature = "signin")]
            "account" => self.account = Some(accounts::check_home_account_id(&name, value)?),
            #[cfg(not(feature = "signin"))]
            "account" | "prompt" => return Err(crate::credential::without_signin(&name)),
            "domain_hint" => self.domain_hint = Some(check_identifier(&name, value)?),
            #[cfg(feature = "signin")]
            "prompt" => self.prompt = Some(browser::check_prompt(&name, value)?),
            "redirect_port" => self.redirect_port = Some(number(&name, value, 0, 65535)? as u16),
            "interactive_timeout_s" => {
                self.interactive_timeout = Some(Duration::from_secs(number(&name, value, 1, 3600)?))
            }
            "automatic_sign_in" => self.automatic_sign_in = Some(boolean(&name, value)?),
            "cache_file" => self.cache_file = Some(PathBuf::from(value)),
            "log_pii" => self.log_pii = boolean(&name, value)?,
            "host_cache" => self.host_cache = host_cache::parse_mode(&name, value)?,
            "host_cache_dir" => self.host_cache_dir = Some(host_cache::parse_dir(&name, value)?),
            "arc_key_dir_for_tests" => {
                if !cfg!(debug_assertions) {
                    return Err(Error::invalid_setting(
                        &name,
                        "is accepted by debug builds only (it exists for aadtoken's tests); release builds always use the Azure Arc agent's own directory",
                    ));
                }
                self.arc_key_dir = Some(PathBuf::from(value));
            }
            _ => unreachable!("every key in SETTINGS is handled"),
        }
        Ok(())
    }

    /// Apply a settings string `key=value;key=value` (see [`parse_settings`]). All entries are
    /// checked first; on any error nothing is applied.
    pub fn parse(&mut self, settings: &str) -> Result<()> {
        // The values may be secrets: wiped when this returns, whichever way.
        let pairs = WipedPairs(parse_settings(settings)?);
        let mut next = self.clone();
        for (k, v) in &pairs.0 {
            next.set(k, v)?;
        }
        *self = next;
        Ok(())
    }

    /// Read the Azure SDK environment variables of [`ENVIRONMENT`]. Unset or empty variables
    /// are skipped; a set variable overrides what the config held.
    pub fn load_env(&mut self) -> Result<()> {
        self.load_env_from(|name| std::env::var(name).ok())
    }

    /// [`Config::load_env`] with a custom source of variables (tests, hosts with their own env).
    pub fn load_env_from(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        let mut next = self.clone();
        let platform: Vec<(String, String)> = MANAGED_IDENTITY_ENVIRONMENT
            .iter()
            .filter_map(|var| {
                get(var)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (var.to_string(), v))
            })
            .collect();
        next.platform_env = Some(std::sync::Arc::new(platform));
        for (var, key) in ENVIRONMENT {
            if let Some(value) = get(var).filter(|v| !v.trim().is_empty()) {
                next.set(key, &value)
                    .map_err(|e| e.context(format!("environment variable {var}")))?;
            }
        }
        *self = next;
        Ok(())
    }
}

fn boolean(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::invalid_setting(key, "must be true or false (1/0, yes/no)")),
    }
}

fn number(key: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Error::invalid_setting(
            key,
            format!("must be a whole number from {min} to {max}"),
        )),
    }
}

/// Settings pairs whose keys and values are zeroed when dropped (values may be secrets).
struct WipedPairs(Vec<(String, String)>);

impl Drop for WipedPairs {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        for (k, v) in &mut self.0 {
            k.zeroize();
            v.zeroize();
        }
    }
}

/// Split a settings string into `(key, value)` pairs. Values are built without reallocating,
/// and everything is zeroed on an error, so a secret leaves no copies in freed memory (the
/// caller zeroes what it gets).
///
/// Grammar: entries separated by `;`; each entry `key=value`, split at the first `=` (so a
/// value may contain `=`); spaces around keys and values are ignored; empty entries are
/// skipped. A value that must contain `;` or keep leading/trailing spaces is written in double
/// quotes, inside which `\"` is a quote and `\\` a backslash: `scope="a b"; client_secret="x;y"`.
pub fn parse_settings(input: &str) -> Result<Vec<(String, String)>> {
    let bad = |index: usize, problem: &str| {
        Error::invalid_argument(
            "settings",
            &format!("entry {index} {problem} (expected key=value;key=value)"),
        )
    };
    let mut pairs = WipedPairs(Vec::new());
    let mut chars = input.chars().peekable();
    let mut index = 0;
    while chars.peek().is_some() {
        // The key: everything up to '='. A ';' or the end first means an entry without '='.
        let mut key = String::new();
        let mut has_eq = false;
        for c in chars.by_ref() {
            match c {
                '=' => {
                    has_eq = true;
                    break;
                }
                ';' => break,
                c => key.push(c),
            }
        }
        let key = key.trim();
        if !has_eq {
            if key.is_empty() {
                continue; // an empty entry: ";;" or a trailing ';'
            }
            return Err(bad(index + 1, "has no '='"));
        }
        index += 1;
        if key.is_empty() {
            return Err(bad(index, "has an empty key"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        // Room for the longest possible value: no reallocation leaves a copy behind.
        let mut value = zeroize::Zeroizing::new(String::with_capacity(input.len()));
        if chars.next_if_eq(&'"').is_some() {
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(bad(index, &format!("('{key}') has an unterminated quote")));
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            match chars.next() {
                None | Some(';') => {}
                Some(_) => return Err(bad(index, &format!("('{key}') has text after its quoted value"))),
            }
        } else {
            for c in chars.by_ref() {
                if c == ';' {
                    break;
                }
                value.push(c);
            }
            let len = value.trim_end().len();
            value.truncate(len);
        }
        pairs.0.push((key.to_owned(), std::mem::take(&mut *value)));
    }
    Ok(std::mem::take(&mut pairs.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn parses_plain_and_quoted_values() {
        let p = parse_settings(" tenant_id = t1 ; scope=\"a/.default b\";client_secret=\"x;y=\\\"z\\\\\"; ;")
            .unwrap();
        assert_eq!(
            p,
            vec![
                ("tenant_id".into(), "t1".into()),
                ("scope".into(), "a/.default b".into()),
                ("client_secret".into(), "x;y=\"z\\".into()),
            ]
        );
        assert_eq!(parse_settings("a=b=c").unwrap(), vec![("a".into(), "b=c".into())]);
        assert!(parse_settings("").unwrap().is_empty());
        assert!(parse_settings(";;").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_settings_strings() {
        for bad in [
            "tenant_id",
            "a=b;novalue;c=d",
            "=x",
            "k=\"unterminated",
            "k=\"v\" junk",
        ] {
            let e = parse_settings(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message().contains("settings"), "{bad}: {}", e.message());
        }
    }

    #[test]
    fn unknown_and_bad_settings_name_the_key() {
        let mut c = Config::new();
        let e = c.set("tennant_id", "x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownSetting);
        assert!(e.message().contains("'tennant_id'"));
        let e = c.set("tenant_id", "  ").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting);
        assert!(e.message().contains("'tenant_id'"));
        let e = c.set("timeout_ms", "soon").unwrap_err();
        assert!(e.message().contains("'timeout_ms'"));
        let e = c
            .set("authority_host", "http://login.microsoftonline.com")
            .unwrap_err();
        assert!(e.message().contains("'authority_host'"), "{}", e.message());
        let e = c.set("tenant_id", "a/b").unwrap_err();
        assert!(e.message().contains("'tenant_id'"));
    }

    #[test]
    fn keys_are_case_insensitive_and_parse_is_all_or_nothing() {
        let mut c = Config::new();
        c.parse("TENANT_ID=t1;Client_Id=c1").unwrap();
        assert_eq!(c.tenant_id.as_deref(), Some("t1"));
        assert_eq!(c.client_id.as_deref(), Some("c1"));
        let e = c.parse("tenant_id=t2;bogus=1").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownSetting);
        assert_eq!(
            c.tenant_id.as_deref(),
            Some("t1"),
            "a failed parse applies nothing"
        );
    }

    #[test]
    fn environment_fills_settings_and_skips_empty_values() {
        let mut c = Config::new();
        c.set("client_id", "from-api").unwrap();
        c.load_env_from(|name| match name {
            "AZURE_TENANT_ID" => Some("t-env".into()),
            "AZURE_CLIENT_ID" => Some("".into()),
            "AZURE_CLIENT_SECRET" => Some("s3cret".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.tenant_id.as_deref(), Some("t-env"));
        assert_eq!(c.client_id.as_deref(), Some("from-api"));
        assert_eq!(c.client_secret.as_ref().unwrap().expose(), "s3cret");
        let e = Config::new()
            .load_env_from(|n| (n == "AZURE_AUTHORITY_HOST").then(|| "http://x".to_owned()))
            .unwrap_err();
        assert!(e.message().contains("AZURE_AUTHORITY_HOST"), "{}", e.message());
    }
}
