//! Entra ID authorities: the cloud's host and the tenant, and the endpoints built from them.
//!
//! For Entra authorities the endpoints follow from host and tenant, so the first token needs
//! one request and no discovery round trip; aadtoken never calls Entra's instance discovery, so
//! every request stays on the configured cloud's host. A generic OpenID Connect issuer
//! (`authority_kind=oidc`: ADFS, B2C, External ID, any OIDC provider) is resolved through its
//! discovery document, `{issuer}/.well-known/openid-configuration`, once per client.

use std::fmt;

use reqwest::Url;

use crate::error::{Error, Result};

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

/// The `authority_kind` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AuthorityKind {
    /// Microsoft Entra ID: endpoints built from host and tenant, no discovery round trip.
    #[default]
    Entra,
    /// A generic OpenID Connect issuer: endpoints from `{issuer}/.well-known/openid-configuration`.
    Oidc,
}

impl AuthorityKind {
    /// Parse the value of the setting `key` (`entra`, `aad`, `entra_id`; `oidc`, `generic`).
    pub fn parse(key: &str, value: &str) -> Result<Self> {
        match value.to_ascii_lowercase().as_str() {
            "entra" | "aad" | "entra_id" => Ok(AuthorityKind::Entra),
            "oidc" | "generic" => Ok(AuthorityKind::Oidc),
            _ => Err(Error::invalid_setting(key, "must be 'entra' or 'oidc'")),
        }
    }
}

/// Check a tenant or client id (or another directory identifier) given as the setting `key`:
/// a GUID or a domain name, no spaces, slashes or control characters, since it becomes part of
/// a URL path.
pub fn check_identifier(key: &str, value: &str) -> Result<String> {
    if !is_identifier(value) || value.len() > 256 {
        return Err(Error::invalid_setting(
            key,
            "must be a GUID or a domain name (letters, digits, '-', '.', '_')",
        ));
    }
    Ok(value.to_owned())
}

/// Letters, digits, `-`, `.` and `_` only.
fn is_identifier(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// `https://host[:port]`, validated: https only, no path, query, fragment or credentials.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuthorityHost(Url);

/// `Url::parse` for URLs that come from settings, the environment or a server: ASCII only.
/// aadtoken's IDNA support is ASCII-only (`idna_adapter` 1.0, see Cargo.toml), and a non-ASCII
/// host such as `A¡` reaches a debug assertion there; no Entra, OIDC or Azure endpoint has
/// one (an internationalised name is written in its `xn--` form).
///
/// The authority part (`host[:port]`) is lowercased first: hosts are case-insensitive, and the
/// same adapter asserts that it never sees an upper-case ASCII letter in a host that takes its
/// slow path (`https://i)C%2E/`; found by fuzzing).
pub fn parse_url(text: &str) -> std::result::Result<Url, String> {
    if !text.is_ascii() {
        return Err("it contains characters that are not ASCII (write an internationalised host name in its xn-- form)".to_owned());
    }
    match text.find("://") {
        Some(i) => {
            let start = i + 3;
            let end = text[start..]
                .find(['/', '?', '#'])
                .map_or(text.len(), |j| start + j);
            let mut lowered = String::with_capacity(text.len());
            lowered.push_str(&text[..start]);
            lowered.push_str(&text[start..end].to_ascii_lowercase());
            lowered.push_str(&text[end..]);
            Url::parse(&lowered).map_err(|e| e.to_string())
        }
        None => Url::parse(text).map_err(|e| e.to_string()),
    }
}

impl AuthorityHost {
    /// Parse the value of the setting `key`. A bare host name means `https://<host>`.
    pub fn parse(key: &str, value: &str) -> Result<Self> {
        let with_scheme = if value.contains("://") {
            value.to_owned()
        } else {
            format!("https://{value}")
        };
        let url = https_url(key, &with_scheme)?;
        if url.query().is_some() || url.fragment().is_some() || !url.path().trim_matches('/').is_empty() {
            return Err(Error::invalid_setting(
                key,
                "must be a host only, like https://login.microsoftonline.com (put the tenant in 'tenant_id')",
            ));
        }
        Ok(AuthorityHost(url))
    }

    /// The public cloud's host ([`DEFAULT_AUTHORITY_HOST`]).
    pub fn default_host() -> Self {
        AuthorityHost(Url::parse(DEFAULT_AUTHORITY_HOST).expect("constant URL"))
    }

    /// `https://host[:port]` without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// Whether the host is one of the Entra clouds of [`KNOWN_HOSTS`], or an Entra External
    /// ID tenant's host (`<tenant>.ciamlogin.com`).
    pub fn is_known_cloud(&self) -> bool {
        self.0.host_str().is_some_and(|h| {
            KNOWN_HOSTS.iter().any(|k| k.eq_ignore_ascii_case(h)) || ciam_subdomain(h).is_some()
        })
    }
}

impl fmt::Debug for AuthorityHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorityHost({})", self.as_str())
    }
}

/// `text` (the value of the setting `key`) as an https URL with a host and no user information.
fn https_url(key: &str, text: &str) -> Result<Url> {
    let url =
        parse_url(text).map_err(|e| Error::invalid_setting(key, format!("is not a valid URL ({e})")))?;
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
    Ok(url)
}

/// Check the value of the `authority` setting: an https URL with a host, no user information,
/// query or fragment. Whether its path must be a tenant (Entra) or may be anything (OIDC) is
/// decided when the client is built.
pub fn check_authority_url(key: &str, value: &str) -> Result<Url> {
    let url = https_url(key, value.trim_end_matches('/'))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid_setting(key, "must not have a query or fragment"));
    }
    Ok(url)
}

/// The suffix of Entra External ID (CIAM) hosts: `https://<tenant>.ciamlogin.com/<tenant id>`.
const CIAM_SUFFIX: &str = ".ciamlogin.com";

/// `contoso` of the Entra External ID host `contoso.ciamlogin.com`.
fn ciam_subdomain(host: &str) -> Option<&str> {
    let lower = host.len().checked_sub(CIAM_SUFFIX.len())?;
    (host.is_char_boundary(lower) && host[lower..].eq_ignore_ascii_case(CIAM_SUFFIX))
        .then(|| &host[..lower])
        .filter(|sub| !sub.is_empty() && !sub.contains('.'))
}

/// Split an Entra authority URL (`https://host/tenant`) into host and tenant. An Entra External
/// ID authority may name only its host (`https://contoso.ciamlogin.com`): its tenant is then
/// `contoso.onmicrosoft.com`, as MSAL takes it.
pub fn split_entra_authority(key: &str, value: &str) -> Result<(AuthorityHost, String)> {
    let url = check_authority_url(key, value)?;
    let mut segments: Vec<&str> = url.path().split('/').filter(|s| !s.is_empty()).collect();
    let ciam_tenant = url
        .host_str()
        .and_then(ciam_subdomain)
        .map(|sub| format!("{sub}.onmicrosoft.com"));
    if let (true, Some(t)) = (segments.is_empty(), ciam_tenant.as_deref()) {
        segments.push(t);
    }
    let [tenant] = segments.as_slice() else {
        return Err(Error::invalid_setting(
            key,
            "must be https://<host>/<tenant> for Entra ID (for ADFS, B2C or another OpenID Connect issuer set authority_kind=oidc)",
        ));
    };
    if !is_identifier(tenant) {
        return Err(Error::invalid_setting(
            key,
            "has a tenant that is not a GUID or a domain name",
        ));
    }
    let mut host = url.clone();
    host.set_path("");
    let host = AuthorityHost::parse(key, host.as_str())?;
    Ok((host, (*tenant).to_owned()))
}

/// The endpoints a generic OpenID Connect issuer publishes (the fields aadtoken uses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcMetadata {
    /// `token_endpoint`: where tokens are requested.
    pub token_endpoint: String,
    /// `token_endpoint_auth_methods_supported`; the OIDC default when absent is
    /// `client_secret_basic`.
    pub auth_methods: Vec<String>,
    /// `authorization_endpoint`: where a person signs in with a browser.
    pub authorization_endpoint: Option<String>,
    /// `device_authorization_endpoint` (RFC 8628): where device codes are requested.
    pub device_authorization_endpoint: Option<String>,
}

impl OidcMetadata {
    /// Parse a discovery document fetched from `issuer`: `token_endpoint` must be https.
    pub fn parse(issuer: &str, body: &[u8]) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct Doc {
            token_endpoint: Option<String>,
            token_endpoint_auth_methods_supported: Option<Vec<String>>,
            authorization_endpoint: Option<String>,
            device_authorization_endpoint: Option<String>,
        }
        let bad = |what: &str| {
            Error::new(
                crate::error::ErrorKind::BadResponse,
                format!("the OpenID Connect discovery document of {issuer} {what}"),
            )
        };
        let doc: Doc = serde_json::from_slice(body).map_err(|_| bad("is not a JSON object"))?;
        let https = |field: &str, value: Option<String>| -> Result<Option<String>> {
            let Some(v) = value else { return Ok(None) };
            let url = parse_url(&v).map_err(|_| bad(&format!("has an invalid '{field}'")))?;
            if url.scheme() != "https" {
                return Err(bad(&format!("has a '{field}' that is not https")));
            }
            Ok(Some(v))
        };
        let endpoint =
            https("token_endpoint", doc.token_endpoint)?.ok_or_else(|| bad("has no 'token_endpoint'"))?;
        Ok(OidcMetadata {
            authorization_endpoint: https("authorization_endpoint", doc.authorization_endpoint)?,
            device_authorization_endpoint: https(
                "device_authorization_endpoint",
                doc.device_authorization_endpoint,
            )?,
            token_endpoint: endpoint,
            auth_methods: doc
                .token_endpoint_auth_methods_supported
                .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]),
        })
    }

    /// Whether the issuer's token endpoint accepts the client authentication `method`.
    pub fn supports(&self, method: &str) -> bool {
        self.auth_methods.iter().any(|m| m == method)
    }
}

/// Where tokens come from: an Entra tenant (endpoints built locally) or a generic OIDC issuer
/// (endpoints discovered).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Issuer {
    /// An Entra tenant: endpoints built from host and tenant.
    Entra(Authority),
    /// The issuer URL, without a trailing slash.
    Oidc(String),
}

impl Issuer {
    /// The authority of a client from its settings: `authority` (a full URL; with
    /// `authority_kind=oidc` the issuer) wins over `authority_host` + `tenant_id`. `why` ends
    /// the message of a missing `tenant_id`. `person`: a person signs in (device code,
    /// browser), so an Entra tenant may be `common`, `organizations` or `consumers`.
    pub fn from_settings(
        kind: AuthorityKind,
        authority: Option<&str>,
        host: Option<&AuthorityHost>,
        tenant_id: Option<&str>,
        why: &str,
        person: bool,
    ) -> Result<Issuer> {
        let entra = |host: AuthorityHost, tenant: &str| {
            if person {
                Authority::any_tenant(host, tenant)
            } else {
                Authority::new(host, tenant)
            }
        };
        match kind {
            AuthorityKind::Oidc => {
                let issuer = authority.ok_or_else(|| {
                    Error::missing_setting("authority", "with authority_kind=oidc (the issuer URL)")
                })?;
                check_authority_url("authority", issuer)?;
                Ok(Issuer::Oidc(issuer.trim_end_matches('/').to_owned()))
            }
            AuthorityKind::Entra => {
                if let Some(url) = authority {
                    let (host, tenant) = split_entra_authority("authority", url)?;
                    return Ok(Issuer::Entra(entra(host, &tenant)?));
                }
                let tenant = tenant_id.ok_or_else(|| Error::missing_setting("tenant_id", why))?;
                let host = host.cloned().unwrap_or_else(AuthorityHost::default_host);
                Ok(Issuer::Entra(entra(host, tenant)?))
            }
        }
    }

    /// The cache partition and the error-message name.
    pub fn url(&self) -> String {
        match self {
            Issuer::Entra(a) => a.url(),
            Issuer::Oidc(i) => i.clone(),
        }
    }

    /// `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        match self {
            Issuer::Entra(a) => format!("{}/v2.0/.well-known/openid-configuration", a.url()),
            Issuer::Oidc(i) => format!("{i}/.well-known/openid-configuration"),
        }
    }
}

/// Host plus tenant: everything needed to build the endpoints of an Entra tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Authority {
    host: AuthorityHost,
    tenant: String,
}

/// Tenants that name no single directory: person sign-in may use them (the person's own
/// tenant is learnt from the sign-in); the application flows cannot (Entra refuses them).
const MULTI_TENANT_ALIASES: &[&str] = &["common", "organizations", "consumers"];

impl Authority {
    /// Host and tenant; a tenant that names no single directory (`common`, …) is refused: an
    /// application (client credentials, assertions, managed identity, password) gets its
    /// tokens from its own tenant.
    pub fn new(host: AuthorityHost, tenant: &str) -> Result<Self> {
        let a = Self::any_tenant(host, tenant)?;
        if a.is_multi_tenant() {
            return Err(Error::invalid_setting(
                "tenant_id",
                format!(
                    "is '{tenant}' (in 'tenant_id' or 'authority'), which names no single tenant: Entra ID refuses it for \
                     an application's own tokens, so give the application's directory (tenant) ID; 'common', \
                     'organizations' and 'consumers' work only for person sign-in (auth_method=device_code or interactive)"
                ),
            ));
        }
        Ok(a)
    }

    /// Host and tenant, where the tenant may be `common`, `organizations` or `consumers`
    /// (person sign-in).
    pub fn any_tenant(host: AuthorityHost, tenant: &str) -> Result<Self> {
        Ok(Authority {
            host,
            tenant: tenant.to_owned(),
        })
    }

    /// Whether the tenant is `common`, `organizations` or `consumers`.
    pub fn is_multi_tenant(&self) -> bool {
        MULTI_TENANT_ALIASES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&self.tenant))
    }

    /// The same host with another tenant (a signed-in person's own, for silent requests after
    /// a multi-tenant sign-in, as MSAL does).
    pub fn with_tenant(&self, tenant: &str) -> Authority {
        Authority {
            host: self.host.clone(),
            tenant: tenant.to_owned(),
        }
    }

    /// The authority host.
    pub fn host(&self) -> &AuthorityHost {
        &self.host
    }

    /// The tenant (a GUID or a domain name).
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// `https://host/tenant`: the cache partition and the error-message name of this authority.
    pub fn url(&self) -> String {
        format!("{}/{}", self.host.as_str(), self.tenant)
    }

    /// An OAuth 2.0 endpoint of the tenant: `https://host/tenant/oauth2/v2.0/{path}`
    /// (`token`, `authorize`, `devicecode`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/oauth2/v2.0/{path}", self.url())
    }

    /// The token endpoint of the tenant.
    pub fn token_endpoint(&self) -> String {
        self.endpoint("token")
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
            let m = e.message();
            assert!(m.starts_with("setting 'authority_host'"), "{bad}: {m}");
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

    #[test]
    fn full_authority_urls_split_into_host_and_tenant() {
        for (url, host, tenant) in [
            (
                "https://login.microsoftonline.us/contoso.onmicrosoft.com",
                "https://login.microsoftonline.us",
                "contoso.onmicrosoft.com",
            ),
            (
                "https://login.chinacloudapi.cn/t1/",
                "https://login.chinacloudapi.cn",
                "t1",
            ),
            (
                "https://login.sovcloud-identity.fr/t2",
                "https://login.sovcloud-identity.fr",
                "t2",
            ),
            ("https://127.0.0.1:8443/t3", "https://127.0.0.1:8443", "t3"),
        ] {
            let (h, t) = split_entra_authority("authority", url).unwrap();
            assert_eq!((h.as_str(), t.as_str()), (host, tenant), "{url}");
        }
        for bad in [
            "http://login.microsoftonline.com/t",
            "https://host",
            "https://host/a/b",
            "https://host/t?x=1",
            "https://host/a%20b",
        ] {
            let e = split_entra_authority("authority", bad).unwrap_err();
            assert!(e.message().contains("'authority'"), "{bad}: {}", e.message());
        }
        let i = Issuer::from_settings(
            AuthorityKind::Entra,
            Some("https://login.microsoftonline.us/t9"),
            None,
            Some("ignored"),
            "",
            false,
        )
        .unwrap();
        assert_eq!(i.url(), "https://login.microsoftonline.us/t9");
        let i = Issuer::from_settings(
            AuthorityKind::Oidc,
            Some("https://idp.example.com/realms/db/"),
            None,
            None,
            "",
            false,
        )
        .unwrap();
        assert_eq!(
            i.discovery_url(),
            "https://idp.example.com/realms/db/.well-known/openid-configuration"
        );
    }

    #[test]
    fn oidc_metadata_needs_an_https_token_endpoint() {
        let m = OidcMetadata::parse("i", br#"{"token_endpoint":"https://x/token"}"#).unwrap();
        assert!(m.supports("client_secret_basic") && !m.supports("private_key_jwt"));
        assert!(OidcMetadata::parse("i", br#"{"token_endpoint":"http://x/token"}"#).is_err());
        assert!(OidcMetadata::parse("i", br#"{}"#).is_err());
    }

    #[test]
    fn multi_tenant_aliases_for_person_sign_in_only_and_their_tenant_endpoint() {
        for person in [false, true] {
            let got = Issuer::from_settings(
                AuthorityKind::Entra,
                None,
                None,
                Some("organizations"),
                "",
                person,
            );
            match (person, got) {
                (false, Err(e)) => {
                    assert!(e.message().contains("only for person sign-in"), "{}", e.message())
                }
                (true, Ok(Issuer::Entra(a))) => {
                    assert!(a.is_multi_tenant());
                    assert_eq!(
                        a.with_tenant("t1").token_endpoint(),
                        "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
                    );
                }
                (_, other) => panic!("{person}: {other:?}"),
            }
        }
    }

    #[test]
    fn entra_external_id_hosts_are_known_and_name_their_tenant() {
        let (host, tenant) = split_entra_authority("authority", "https://contoso.ciamlogin.com").unwrap();
        assert!(host.is_known_cloud());
        assert_eq!(tenant, "contoso.onmicrosoft.com");
        let (_, tenant) =
            split_entra_authority("authority", "https://contoso.ciamlogin.com/0000-1111/").unwrap();
        assert_eq!(tenant, "0000-1111");
        assert!(split_entra_authority("authority", "https://ciamlogin.com").is_err());
        assert!(!AuthorityHost::parse("h", "a.b.ciamlogin.com")
            .unwrap()
            .is_known_cloud());
    }

    #[test]
    fn oidc_metadata_publishes_the_person_sign_in_endpoints() {
        let m = OidcMetadata::parse(
            "i",
            br#"{"token_endpoint":"https://x/token","authorization_endpoint":"https://x/auth","device_authorization_endpoint":"https://x/device"}"#,
        )
        .unwrap();
        assert_eq!(m.authorization_endpoint.as_deref(), Some("https://x/auth"));
        assert_eq!(
            m.device_authorization_endpoint.as_deref(),
            Some("https://x/device")
        );
        let e = OidcMetadata::parse(
            "i",
            br#"{"token_endpoint":"https://x/t","device_authorization_endpoint":"http://x/d"}"#,
        )
        .unwrap_err();
        assert!(
            e.message().contains("device_authorization_endpoint"),
            "{}",
            e.message()
        );
    }
}
