//! Entra ID authorities: the cloud's host and the tenant, and the endpoints built from them.
//!
//! For Entra authorities the endpoints follow from host and tenant, so the first token needs
//! one request and no discovery round trip.

use std::fmt;

use reqwest::Url;

use crate::core::error::{Error, Result};

/// The public cloud's authority host, used when `authority_host` is not set.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// Hosts of the Entra clouds (public, US Government, China, the sovereign clouds).
/// Any other https host is accepted too (a private or test authority), but these are known.
pub const KNOWN_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login-us.microsoftonline.com",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.sovcloud-identity.fr",
    "login.sovcloud-identity.de",
    "login.sovcloud-identity.sg",
];

/// `https://host[:port]`, validated: https only, no path, query, fragment or credentials.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuthorityHost(Url);

impl AuthorityHost {
    /// Parse the value of the setting `key`. A bare host name means `https://<host>`.
    pub fn parse(key: &str, value: &str) -> Result<Self> {
        let with_scheme = if value.contains("://") {
            value.to_owned()
        } else {
            format!("https://{value}")
        };
        let url = Url::parse(&with_scheme)
            .map_err(|e| Error::invalid_setting(key, format!("is not a valid URL ({e})")))?;
        if url.scheme() != "https" {
            return Err(Error::invalid_setting(
                key,
                format!(
                    "must use https (got '{}://'); tokens are never requested over plain http",
                    url.scheme()
                ),
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::invalid_setting(key, "has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::invalid_setting(key, "must not contain user information"));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.path().trim_matches('/').is_empty() {
            return Err(Error::invalid_setting(
                key,
                "must be a host only, like https://login.microsoftonline.com (put the tenant in 'tenant_id')",
            ));
        }
        Ok(AuthorityHost(url))
    }

    pub fn default_host() -> Self {
        AuthorityHost(Url::parse(DEFAULT_AUTHORITY_HOST).expect("constant URL"))
    }

    /// `https://host[:port]` without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    pub fn is_known_cloud(&self) -> bool {
        self.0
            .host_str()
            .is_some_and(|h| KNOWN_HOSTS.iter().any(|k| k.eq_ignore_ascii_case(h)))
    }
}

impl fmt::Debug for AuthorityHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorityHost({})", self.as_str())
    }
}

/// Host plus tenant: everything needed to build the endpoints of an Entra tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Authority {
    host: AuthorityHost,
    tenant: String,
}

/// Tenants that name no single directory; the client credentials flow cannot use them.
const MULTI_TENANT_ALIASES: &[&str] = &["common", "organizations", "consumers"];

impl Authority {
    pub fn new(host: AuthorityHost, tenant: &str) -> Result<Self> {
        if MULTI_TENANT_ALIASES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(tenant))
        {
            return Err(Error::invalid_setting(
                "tenant_id",
                format!("is '{tenant}', which names no single tenant; an application signs in to its own tenant, so give its directory (tenant) ID"),
            ));
        }
        Ok(Authority {
            host,
            tenant: tenant.to_owned(),
        })
    }

    pub fn host(&self) -> &AuthorityHost {
        &self.host
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// `https://host/tenant`: the cache partition and the error-message name of this authority.
    pub fn url(&self) -> String {
        format!("{}/{}", self.host.as_str(), self.tenant)
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth2/v2.0/token", self.url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_hosts_and_bare_names() {
        let h = AuthorityHost::parse("authority_host", "login.microsoftonline.us").unwrap();
        assert_eq!(h.as_str(), "https://login.microsoftonline.us");
        assert!(h.is_known_cloud());
        let h = AuthorityHost::parse("authority_host", "https://127.0.0.1:8443/").unwrap();
        assert_eq!(h.as_str(), "https://127.0.0.1:8443");
        assert!(!h.is_known_cloud());
    }

    #[test]
    fn rejects_http_paths_and_garbage() {
        for bad in [
            "http://login.microsoftonline.com",
            "https://host/tenant",
            "https://host?x=1",
            "https://u:p@host",
            "https://",
            "ht!tp://x",
        ] {
            let e = AuthorityHost::parse("authority_host", bad).unwrap_err();
            assert!(
                e.message().starts_with("setting 'authority_host'"),
                "{bad}: {}",
                e.message()
            );
        }
    }

    #[test]
    fn builds_the_token_endpoint_and_refuses_multi_tenant_aliases() {
        let a = Authority::new(AuthorityHost::default_host(), "contoso.onmicrosoft.com").unwrap();
        assert_eq!(
            a.token_endpoint(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let e = Authority::new(AuthorityHost::default_host(), "common").unwrap_err();
        assert!(e.message().contains("'tenant_id'"));
    }
}
