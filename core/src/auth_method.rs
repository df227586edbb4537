//! The `auth_method` setting: which way of proving identity a client uses.
//!
//! Unset means "the credential that is configured" (today: `client_secret`). Oracle's
//! `TOKEN_AUTH` and ojdbc-provider-azure's `authenticationMethod` map onto it (see
//! `core::oracle::settings`). Methods this build does not implement are refused by
//! `Client::new` with an error naming `auth_method`, never faked.

use std::fmt;

use crate::error::{Error, Result};

/// A way of proving identity: the value of the `auth_method` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// Client credentials flow with the application's client secret.
    ClientSecret,
    /// Client credentials flow with a certificate (a signed client assertion).
    Certificate,
    /// Client credentials flow with an externally issued assertion (workload identity
    /// federation: a file such as AKS's `AZURE_FEDERATED_TOKEN_FILE`, or a host callback).
    ClientAssertion,
    /// Resource owner password credentials (legacy; incompatible with MFA).
    Password,
    /// An Azure managed identity (IMDS, App Service, Arc…).
    ManagedIdentity,
    /// A person signs in on another device with a code (device authorization grant).
    DeviceCode,
    /// A person signs in with a browser (authorization code + PKCE on a loopback redirect).
    Interactive,
    /// The first credential that is available (like Azure SDK's DefaultAzureCredential).
    Auto,
}

impl AuthMethod {
    /// Every method, in the order the README lists them.
    pub const ALL: [AuthMethod; 8] = [
        AuthMethod::ClientSecret,
        AuthMethod::Certificate,
        AuthMethod::ClientAssertion,
        AuthMethod::Password,
        AuthMethod::ManagedIdentity,
        AuthMethod::DeviceCode,
        AuthMethod::Interactive,
        AuthMethod::Auto,
    ];

    /// The setting value (`client_secret`, …).
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::ClientSecret => "client_secret",
            AuthMethod::Certificate => "certificate",
            AuthMethod::ClientAssertion => "client_assertion",
            AuthMethod::Password => "password",
            AuthMethod::ManagedIdentity => "managed_identity",
            AuthMethod::DeviceCode => "device_code",
            AuthMethod::Interactive => "interactive",
            AuthMethod::Auto => "auto",
        }
    }

    /// Parse a setting value: case-insensitive, `-` accepted for `_`.
    pub fn parse(value: &str) -> Option<AuthMethod> {
        let v = value.trim().to_ascii_lowercase().replace('-', "_");
        if v == "workload_identity" {
            return Some(AuthMethod::ClientAssertion);
        }
        AuthMethod::ALL.into_iter().find(|m| m.name() == v)
    }

    /// Parse the value of the setting `key`; an unknown method is an error naming `key` and
    /// listing the methods.
    pub fn parse_setting(key: &str, value: &str) -> Result<AuthMethod> {
        AuthMethod::parse(value).ok_or_else(|| {
            let names: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.name()).collect();
            Error::invalid_setting(key, format!("must be one of {}", names.join(", ")))
        })
    }

    /// Whether this build can get tokens with this method.
    pub fn is_available(self) -> bool {
        true
    }

    /// The methods this build implements, for messages: `'client_secret'`.
    pub fn available_names() -> String {
        let names: Vec<String> = AuthMethod::ALL
            .into_iter()
            .filter(|m| m.is_available())
            .map(|m| format!("'{}'", m.name()))
            .collect();
        names.join(", ")
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Refuse an `auth_method` this build cannot serve (`None`: the configured credential). Called
/// first thing by `Client::new`.
pub fn check_available(method: Option<AuthMethod>) -> Result<()> {
    match method {
        Some(m) if !m.is_available() => Err(Error::invalid_setting(
            "auth_method",
            format!(
                "is '{m}', which is not supported by this build yet (this build supports {})",
                AuthMethod::available_names()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::error::ErrorKind;

    #[test]
    fn names_round_trip() {
        for m in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(m.name()), Some(m));
            assert_eq!(
                AuthMethod::parse(&m.name().to_uppercase().replace('_', "-")),
                Some(m)
            );
        }
        assert_eq!(AuthMethod::parse("passwd"), None);
        assert_eq!(
            AuthMethod::parse("workload-identity"),
            Some(AuthMethod::ClientAssertion)
        );
    }

    #[test]
    fn unavailable_methods_are_refused_naming_the_setting() {
        for m in AuthMethod::ALL {
            let mut c = Config::new();
            c.set("auth_method", m.name()).unwrap();
            let r = check_available(c.auth_method());
            if m.is_available() {
                assert!(r.is_ok());
            } else {
                let e = r.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidSetting);
                assert!(e.message().contains("'auth_method'"), "{}", e.message());
                assert!(
                    e.message().contains("not supported by this build yet"),
                    "{}",
                    e.message()
                );
                assert!(e.message().contains(m.name()), "{}", e.message());
            }
        }
        assert!(check_available(Config::new().auth_method()).is_ok());
    }
}
