//! Settings: string keys and values (so a new setting never changes the ABI or a binding),
//! checked when they are set, and checked for completeness when a client is built.
//!
//! Three ways in, applied in the order the host calls them (a later call overrides an earlier
//! one for the same key):
//! * [`Config::set`] — one key, one value;
//! * [`Config::parse`] — a settings string `key=value;key=value` (see [`parse_settings`]);
//! * [`Config::load_env`] — the Azure SDK environment variables (`AZURE_TENANT_ID`, …).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::auth_method::AuthMethod;
use crate::core::authority::AuthorityHost;
use crate::core::error::{Error, Result};
use crate::core::oracle::settings::{self as oracle_settings, Alias};
use crate::core::secret::SecretString;

/// Default for `timeout_ms`: the whole `get_token` call, retries included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for `expiry_margin_s`: a cached token with less left than this is not handed out.
pub const DEFAULT_EXPIRY_MARGIN: Duration = Duration::from_secs(300);
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
];

/// Environment variables read by [`Config::load_env`] and the setting each one fills.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("AZURE_TENANT_ID", "tenant_id"),
    ("AZURE_CLIENT_ID", "client_id"),
    ("AZURE_CLIENT_SECRET", "client_secret"),
    ("AZURE_AUTHORITY_HOST", "authority_host"),
];

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
            .finish()
    }
}

impl Config {
    pub fn new() -> Self {
        Self::default()
    }

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
            };
        }
        if !SETTINGS.iter().any(|(k, _)| *k == name) {
            return Err(Error::unknown_setting(key));
        }
        if value.is_empty() {
            return Err(Error::invalid_setting(&name, "must not be empty"));
        }
        match name.as_str() {
            "tenant_id" => self.tenant_id = Some(identifier(&name, value)?),
            "client_id" => self.client_id = Some(identifier(&name, value)?),
            "client_secret" => self.client_secret = Some(SecretString::new(value)),
            "scope" => {
                crate::core::cache::Scopes::parse(value)
                    .map_err(|e| e.context(format!("setting '{name}'")))?;
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
            "auth_method" => {
                let m = AuthMethod::parse(value).ok_or_else(|| {
                    Error::invalid_setting(
                        &name,
                        "must be client_secret, managed_identity, device_code, interactive or auto",
                    )
                })?;
                self.auth_method = Some(m);
            }
            "token_location" => self.token_location = Some(PathBuf::from(value)),
            _ => unreachable!("every key in SETTINGS is handled"),
        }
        Ok(())
    }

    /// Apply a settings string `key=value;key=value` (see [`parse_settings`]). All entries are
    /// checked first; on any error nothing is applied.
    pub fn parse(&mut self, settings: &str) -> Result<()> {
        let pairs = parse_settings(settings)?;
        let mut next = self.clone();
        for (k, v) in &pairs {
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
        for (var, key) in ENVIRONMENT {
            if let Some(value) = get(var).filter(|v| !v.trim().is_empty()) {
                next.set(key, &value)
                    .map_err(|e| e.context(format!("environment variable {var}")))?;
            }
        }
        *self = next;
        Ok(())
    }

    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    pub fn expiry_margin(&self) -> Duration {
        self.expiry_margin.unwrap_or(DEFAULT_EXPIRY_MARGIN)
    }

    /// The `auth_method` setting; `None` = the configured credential.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        self.auth_method
    }

    /// The `token_location` setting (Oracle's `TOKEN_LOCATION`).
    pub fn token_location(&self) -> Option<&std::path::Path> {
        self.token_location.as_deref()
    }
}

/// Tenant and client ids: GUIDs or domain names; no spaces, slashes or control characters,
/// since they become part of a URL path.
fn identifier(key: &str, value: &str) -> Result<String> {
    let ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !ok || value.len() > 256 {
        return Err(Error::invalid_setting(
            key,
            "must be a GUID or a domain name (letters, digits, '-', '.', '_')",
        ));
    }
    Ok(value.to_owned())
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

/// Split a settings string into `(key, value)` pairs.
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
    let mut pairs = Vec::new();
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
        let mut value = String::new();
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
            value.truncate(value.trim_end().len());
        }
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorKind;

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

    #[test]
    fn debug_redacts_the_secret() {
        let mut c = Config::new();
        c.set("client_secret", "very-secret-value").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret-value"));
        assert!(shown.contains("[redacted]"));
    }
}
