//! Oracle-style and ojdbc-provider-azure setting names, as aliases of aadtoken's own settings.
//!
//! So that one settings string can be shared with the Oracle client's configuration, `Config::set`
//! (and so `parse` and the C `aadtoken_config_set`) accepts:
//!
//! | name | aadtoken setting |
//! |---|---|
//! | `TOKEN_AUTH` = `AZURE_SERVICE_PRINCIPAL` | `auth_method` unset: the application credential that is configured (client secret, else certificate, else client assertion) |
//! | `TOKEN_AUTH` = `AZURE_MANAGED_IDENTITY` / `AZURE_DEVICE_CODE` / `AZURE_INTERACTIVE` / `AZURE_DEFAULT` | `auth_method=managed_identity` / `device_code` / `interactive` / `auto` |
//! | `TOKEN_AUTH` = `OAUTH` | nothing: the Oracle client reads the token from `TOKEN_LOCATION`, which aadtoken writes with whatever credential is configured |
//! | `AZURE_DB_APP_ID_URI` = `<uri>` | `scope=<uri>/.default` |
//! | `oracle.jdbc.provider.accessToken` = `ojdbc-provider-azure-token` | nothing (any other provider name is refused) |
//! | `oracle.jdbc.provider.accessToken.scope` / `.tenantId` / `.clientId` / `.clientSecret` | `scope` / `tenant_id` / `client_id` / `client_secret` |
//! | `oracle.jdbc.provider.accessToken.clientCertificatePath` / `.clientCertificatePassword` | `certificate_path` / `certificate_password` |
//! | `oracle.jdbc.provider.accessToken.username` / `.password` | `username` / `password` |
//! | `oracle.jdbc.provider.accessToken.authenticationMethod` = `service-principal` | `auth_method` unset, as `AZURE_SERVICE_PRINCIPAL` |
//! | `oracle.jdbc.provider.accessToken.authenticationMethod` = `managed-identity` / `password` / `device-code` / `interactive` / `auto-detect` | `auth_method=managed_identity` / `password` / `device_code` / `interactive` / `auto` |
//!
//! `CLIENT_ID`, `TENANT_ID`, `CLIENT_SECRET` and `TOKEN_LOCATION` need no alias: keys are
//! case-insensitive, so they *are* aadtoken's `client_id`, `tenant_id`, `client_secret` and
//! `token_location`. An alias writes the setting it maps to, so the usual precedence holds: the
//! later of two writes of the same setting wins, whichever name it used.
//!
//! ojdbc's `redirectUrl` (a browser sign-in's redirect) has no equivalent and is refused with a
//! message saying so, rather than ignored.

use crate::auth_method::AuthMethod;
use crate::error::{Error, ErrorKind, Result};

/// What an alias stands for.
#[derive(Debug, PartialEq, Eq)]
pub enum Alias {
    /// Set this aadtoken setting to this value.
    Set(&'static str, String),
    /// Accepted, and nothing to set.
    Nothing,
    /// Unset `auth_method`: the application credential that is configured is used (client
    /// secret, else certificate, else client assertion) — what Oracle and ojdbc call a service
    /// principal.
    ConfiguredCredential,
}

/// The ojdbc-provider-azure connection property that names the provider; its parameters are
/// `<this>.<parameter>`.
pub const OJDBC_PREFIX: &str = "oracle.jdbc.provider.accesstoken";
/// The provider name aadtoken stands in for.
pub const OJDBC_PROVIDER: &str = "ojdbc-provider-azure-token";

/// The alias names, for documentation and tests: (name, what it maps to).
pub const ALIASES: &[(&str, &str)] = &[
    ("TOKEN_AUTH", "auth_method (OAUTH: nothing)"),
    ("AZURE_DB_APP_ID_URI", "scope = <uri>/.default"),
    (
        "oracle.jdbc.provider.accessToken",
        "nothing (must be ojdbc-provider-azure-token)",
    ),
    ("oracle.jdbc.provider.accessToken.scope", "scope"),
    (
        "oracle.jdbc.provider.accessToken.authenticationMethod",
        "auth_method",
    ),
    ("oracle.jdbc.provider.accessToken.tenantId", "tenant_id"),
    ("oracle.jdbc.provider.accessToken.clientId", "client_id"),
    ("oracle.jdbc.provider.accessToken.clientSecret", "client_secret"),
    (
        "oracle.jdbc.provider.accessToken.clientCertificatePath",
        "certificate_path",
    ),
    (
        "oracle.jdbc.provider.accessToken.clientCertificatePassword",
        "certificate_password",
    ),
    ("oracle.jdbc.provider.accessToken.username", "username"),
    ("oracle.jdbc.provider.accessToken.password", "password"),
];

/// If `key` (as the host wrote it) is an alias, what it means for `value`; `None` when `key` is
/// not an alias. Errors name `key`.
pub fn alias(key: &str, value: &str) -> Option<Result<Alias>> {
    let name = key.trim().to_ascii_lowercase();
    let value = value.trim();
    let result = match name.as_str() {
        "token_auth" => token_auth(key, value),
        "azure_db_app_id_uri" => app_id_uri(key, value),
        OJDBC_PREFIX => {
            if value.eq_ignore_ascii_case(OJDBC_PROVIDER) {
                Ok(Alias::Nothing)
            } else {
                Err(Error::invalid_setting(
                    key,
                    format!("is '{value}'; aadtoken stands in only for '{OJDBC_PROVIDER}'"),
                ))
            }
        }
        _ => {
            let param = name.strip_prefix(OJDBC_PREFIX)?.strip_prefix('.')?;
            ojdbc_parameter(key, param, value)
        }
    };
    Some(result)
}

fn token_auth(key: &str, value: &str) -> Result<Alias> {
    let method = match value.to_ascii_uppercase().as_str() {
        "OAUTH" => return Ok(Alias::Nothing),
        "AZURE_SERVICE_PRINCIPAL" => return Ok(Alias::ConfiguredCredential),
        "AZURE_MANAGED_IDENTITY" => AuthMethod::ManagedIdentity,
        "AZURE_DEVICE_CODE" => AuthMethod::DeviceCode,
        "AZURE_INTERACTIVE" => AuthMethod::Interactive,
        "AZURE_DEFAULT" => AuthMethod::Auto,
        _ => {
            return Err(Error::invalid_setting(
                key,
                format!(
                    "is '{value}'; aadtoken accepts OAUTH, AZURE_SERVICE_PRINCIPAL, AZURE_MANAGED_IDENTITY, \
                     AZURE_DEVICE_CODE, AZURE_INTERACTIVE and AZURE_DEFAULT (the OCI_* values are for \
                     OCI IAM, not Entra ID)"
                ),
            ))
        }
    };
    Ok(Alias::Set("auth_method", method.name().to_owned()))
}

fn app_id_uri(key: &str, value: &str) -> Result<Alias> {
    if value.is_empty() {
        return Err(Error::invalid_setting(key, "must not be empty"));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(Error::invalid_setting(
            key,
            "must be one application ID URI (no spaces), e.g. 'api://<db-app-id>'",
        ));
    }
    let scope = if value.ends_with("/.default") {
        value.to_owned()
    } else {
        format!("{}/.default", value.trim_end_matches('/'))
    };
    Ok(Alias::Set("scope", scope))
}

fn ojdbc_parameter(key: &str, param: &str, value: &str) -> Result<Alias> {
    let same = |setting: &'static str| Ok(Alias::Set(setting, value.to_owned()));
    match param {
        "scope" => same("scope"),
        "tenantid" => same("tenant_id"),
        "clientid" => same("client_id"),
        "clientsecret" => same("client_secret"),
        "clientcertificatepath" => same("certificate_path"),
        "clientcertificatepassword" => same("certificate_password"),
        "username" => same("username"),
        "password" => same("password"),
        "authenticationmethod" => {
            let method = match value.to_ascii_lowercase().as_str() {
                "service-principal" => return Ok(Alias::ConfiguredCredential),
                "managed-identity" => AuthMethod::ManagedIdentity,
                "password" => AuthMethod::Password,
                "device-code" => AuthMethod::DeviceCode,
                "interactive" => AuthMethod::Interactive,
                "auto-detect" => AuthMethod::Auto,
                _ => {
                    return Err(Error::invalid_setting(
                        key,
                        format!(
                            "is '{value}'; expected service-principal, managed-identity, password, \
                             device-code, interactive or auto-detect"
                        ),
                    ))
                }
            };
            Ok(Alias::Set("auth_method", method.name().to_owned()))
        }
        "redirecturl" | "redirecturi" => Err(Error::new(
            ErrorKind::UnknownSetting,
            format!("setting '{key}' (an ojdbc-provider-azure parameter) has no equivalent in this build of aadtoken"),
        )),
        _ => Err(Error::unknown_setting(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn set(c: &mut Config, k: &str, v: &str) {
        c.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }

    #[test]
    fn token_auth_maps_to_auth_method() {
        for (value, method) in [
            ("azure_managed_identity", AuthMethod::ManagedIdentity),
            ("AZURE_DEVICE_CODE", AuthMethod::DeviceCode),
            ("Azure_Interactive", AuthMethod::Interactive),
            ("AZURE_DEFAULT", AuthMethod::Auto),
        ] {
            let mut c = Config::new();
            set(&mut c, "TOKEN_AUTH", value);
            assert_eq!(c.auth_method(), Some(method), "{value}");
        }
        // A service principal: whichever application credential is configured.
        let mut c = Config::new();
        set(&mut c, "auth_method", "managed_identity");
        set(&mut c, "TOKEN_AUTH", "AZURE_SERVICE_PRINCIPAL");
        assert_eq!(c.auth_method(), None);
        // OAUTH: the Oracle client reads TOKEN_LOCATION; aadtoken's method is left as it was.
        let mut c = Config::new();
        set(&mut c, "auth_method", "client_secret");
        set(&mut c, "token_auth", "OAUTH");
        assert_eq!(c.auth_method(), Some(AuthMethod::ClientSecret));
        let e = Config::new().set("TOKEN_AUTH", "OCI_TOKEN").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting);
        assert!(e.message().contains("'TOKEN_AUTH'"), "{}", e.message());
        let e = Config::new().set("token_auth", " ").unwrap_err();
        assert!(e.message().contains("'token_auth'"), "{}", e.message());
    }

    #[test]
    fn oracle_descriptor_names() {
        let mut c = Config::new();
        c.parse(
            "TOKEN_AUTH=OAUTH; TOKEN_LOCATION=/var/run/oracle-token; CLIENT_ID=c1; TENANT_ID=t1; \
             CLIENT_SECRET=\"s;1\"; AZURE_DB_APP_ID_URI=api://oracle-db",
        )
        .unwrap();
        assert_eq!(c.client_id.as_deref(), Some("c1"));
        assert_eq!(c.tenant_id.as_deref(), Some("t1"));
        assert_eq!(c.client_secret.as_ref().unwrap().expose(), "s;1");
        assert_eq!(c.scope.as_deref(), Some("api://oracle-db/.default"));
        assert_eq!(
            c.token_location().unwrap().to_str(),
            Some("/var/run/oracle-token")
        );
        assert_eq!(c.auth_method(), None);
        for (uri, scope) in [
            ("https://example.com/db/", "https://example.com/db/.default"),
            ("api://x/.default", "api://x/.default"),
            (
                "44444444-4444-4444-4444-444444444444",
                "44444444-4444-4444-4444-444444444444/.default",
            ),
        ] {
            set(&mut c, "azure_db_app_id_uri", uri);
            assert_eq!(c.scope.as_deref(), Some(scope));
        }
        let e = c.set("AZURE_DB_APP_ID_URI", "api://a api://b").unwrap_err();
        assert!(e.message().contains("'AZURE_DB_APP_ID_URI'"), "{}", e.message());
    }

    #[test]
    fn ojdbc_provider_azure_properties() {
        let mut c = Config::new();
        c.parse(
            "oracle.jdbc.provider.accessToken=ojdbc-provider-azure-token;\
             oracle.jdbc.provider.accessToken.authenticationMethod=service-principal;\
             oracle.jdbc.provider.accessToken.tenantId=t2;\
             oracle.jdbc.provider.accessToken.clientId=c2;\
             oracle.jdbc.provider.accessToken.clientSecret=s2;\
             oracle.jdbc.provider.accessToken.scope=https://db.example.com/x/.default",
        )
        .unwrap();
        assert_eq!(
            c.auth_method(),
            None,
            "service-principal: the configured credential"
        );
        assert_eq!(c.tenant_id.as_deref(), Some("t2"));
        assert_eq!(c.client_id.as_deref(), Some("c2"));
        assert_eq!(c.client_secret.as_ref().unwrap().expose(), "s2");
        assert_eq!(c.scope.as_deref(), Some("https://db.example.com/x/.default"));
        for (value, method) in [
            ("managed-identity", AuthMethod::ManagedIdentity),
            ("password", AuthMethod::Password),
            ("device-code", AuthMethod::DeviceCode),
            ("INTERACTIVE", AuthMethod::Interactive),
            ("auto-detect", AuthMethod::Auto),
        ] {
            set(
                &mut c,
                "oracle.jdbc.provider.accessToken.authenticationMethod",
                value,
            );
            assert_eq!(c.auth_method(), Some(method));
        }
        let key = "oracle.jdbc.provider.accessToken.authenticationMethod";
        assert_eq!(c.set(key, "magic").unwrap_err().kind(), ErrorKind::InvalidSetting);
        c.parse(
            "oracle.jdbc.provider.accessToken.clientCertificatePath=/etc/app.pfx;\
             oracle.jdbc.provider.accessToken.clientCertificatePassword=pfx-pass;\
             oracle.jdbc.provider.accessToken.username=u@contoso.com;\
             oracle.jdbc.provider.accessToken.password=pw",
        )
        .unwrap();
        assert_eq!(
            c.certificate_path.as_deref(),
            Some(std::path::Path::new("/etc/app.pfx"))
        );
        assert_eq!(c.certificate_password.as_ref().unwrap().expose(), "pfx-pass");
        assert_eq!(c.username.as_deref(), Some("u@contoso.com"));
        assert_eq!(c.password.as_ref().unwrap().expose(), "pw");
        let e = c
            .set("oracle.jdbc.provider.accessToken", "ojdbc-provider-oci-token")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSetting);
        for param in ["redirectUrl", "redirectUri"] {
            let k = format!("oracle.jdbc.provider.accessToken.{param}");
            let e = c.set(&k, "x").unwrap_err();
            crate::error::assert_error(&e, ErrorKind::UnknownSetting, &[&k, "no equivalent"]);
        }
        let e = c.set("oracle.jdbc.provider.accessToken.bogus", "x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownSetting);
        assert_eq!(
            c.set("oracle.jdbc.provider.accessTokenX", "x")
                .unwrap_err()
                .kind(),
            ErrorKind::UnknownSetting
        );
    }

    #[test]
    fn an_alias_and_its_setting_are_one_setting_the_later_write_wins() {
        let mut c = Config::new();
        c.parse("scope=api://a/.default; AZURE_DB_APP_ID_URI=api://b")
            .unwrap();
        assert_eq!(c.scope.as_deref(), Some("api://b/.default"));
        c.parse("AZURE_DB_APP_ID_URI=api://c; scope=api://d/.default")
            .unwrap();
        assert_eq!(c.scope.as_deref(), Some("api://d/.default"));
        set(&mut c, "TOKEN_AUTH", "AZURE_MANAGED_IDENTITY");
        set(&mut c, "auth_method", "client_secret");
        assert_eq!(c.auth_method(), Some(AuthMethod::ClientSecret));
        // A failing alias in a settings string applies nothing.
        let before = c.scope.clone();
        assert!(c.parse("AZURE_DB_APP_ID_URI=api://e; TOKEN_AUTH=nope").is_err());
        assert_eq!(c.scope, before);
    }
}
