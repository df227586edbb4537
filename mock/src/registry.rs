//! The mock directory: tenants, applications (clients) with their secrets, and resources.
//!
//! [`Registry::default()`] holds the fixtures described by the constants at the top of this
//! module. All values are mock fixture values, not real credentials.

use std::fmt;

use serde::Serialize;

/// Fixture tenant id (GUID).
pub const TENANT_ID: &str = "11111111-1111-1111-1111-111111111111";
/// Verified domain of the fixture tenant; usable in place of [`TENANT_ID`] in URLs.
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// Display name of the fixture tenant (appears in some error messages).
pub const TENANT_NAME: &str = "Contoso";
/// Fixture confidential client (application id) with a valid secret.
pub const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
/// The valid secret of [`CLIENT_ID`]. A mock fixture value, not a real secret.
pub const CLIENT_SECRET: &str = "mock-secret-Value~0123456789";
/// App roles granted to [`CLIENT_ID`]; they appear in the `roles` claim.
pub const CLIENT_ROLES: &[&str] = &["DBA"];
/// Fixture client whose only secret is expired (token requests fail with AADSTS7000222).
pub const EXPIRED_CLIENT_ID: &str = "33333333-3333-3333-3333-333333333333";
/// The expired secret of [`EXPIRED_CLIENT_ID`]. A mock fixture value, not a real secret.
pub const EXPIRED_CLIENT_SECRET: &str = "expired-secret-value";
/// Application ID URI of the fixture resource (the Oracle database app).
pub const RESOURCE: &str = "api://oracle-db";
/// Application (client) id of the [`RESOURCE`] app; `{RESOURCE_APP_ID}/.default` also works.
pub const RESOURCE_APP_ID: &str = "44444444-4444-4444-4444-444444444444";
/// `.default` scope of [`RESOURCE`].
pub const SCOPE: &str = "api://oracle-db/.default";
/// Application ID URI of a second registered resource.
pub const OTHER_RESOURCE: &str = "https://oracle.example.com/db";
/// Application (client) id of the [`OTHER_RESOURCE`] app.
pub const OTHER_RESOURCE_APP_ID: &str = "55555555-5555-5555-5555-555555555555";
/// `.default` scope of [`OTHER_RESOURCE`].
pub const OTHER_SCOPE: &str = "https://oracle.example.com/db/.default";

/// A client secret registered for an application.
///
/// `Debug` and `Serialize` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret {
    /// The secret value the client sends.
    pub value: String,
    /// An expired secret is recognised but rejected with AADSTS7000222.
    pub expired: bool,
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecret")
            .field("value", &"<redacted>")
            .field("expired", &self.expired)
            .finish()
    }
}

impl Serialize for ClientSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ClientSecret", 2)?;
        st.serialize_field("value", "<redacted>")?;
        st.serialize_field("expired", &self.expired)?;
        st.end()
    }
}

/// A confidential client application registered in a tenant.
#[derive(Clone, Debug, Serialize)]
pub struct Client {
    /// Application (client) id, normally a GUID.
    pub client_id: String,
    /// Display name, used in some error messages.
    pub display_name: String,
    /// Object id of the app's service principal in the tenant (`oid` and `sub` claims).
    pub object_id: String,
    /// Registered secrets.
    pub secrets: Vec<ClientSecret>,
    /// App roles granted to this client; emitted as the `roles` claim when non-empty
    /// (for every resource: the mock does not model per-resource role assignments).
    pub roles: Vec<String>,
}

impl Client {
    /// A client with no secrets and no roles; the service principal object id is derived
    /// from the client id, so it is stable across runs.
    pub fn new(client_id: impl Into<String>) -> Self {
        let client_id = client_id.into();
        Client {
            object_id: derived_guid("service-principal", &client_id),
            display_name: format!("app-{client_id}"),
            client_id,
            secrets: Vec::new(),
            roles: Vec::new(),
        }
    }

    /// Adds a valid secret.
    pub fn with_secret(mut self, value: impl Into<String>) -> Self {
        self.secrets.push(ClientSecret {
            value: value.into(),
            expired: false,
        });
        self
    }

    /// Adds an expired secret.
    pub fn with_expired_secret(mut self, value: impl Into<String>) -> Self {
        self.secrets.push(ClientSecret {
            value: value.into(),
            expired: true,
        });
        self
    }

    /// Sets the granted app roles.
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }
}

/// A resource (API) application whose tokens can be requested with `{identifier}/.default`.
#[derive(Clone, Debug, Serialize)]
pub struct Resource {
    /// Application ID URI, e.g. `api://oracle-db`.
    pub app_id_uri: String,
    /// Application (client) id of the resource app; also accepted as the scope's resource part.
    pub app_id: String,
}

impl Resource {
    /// A resource with the given application ID URI and an app id derived from it.
    pub fn new(app_id_uri: impl Into<String>) -> Self {
        let app_id_uri = app_id_uri.into();
        Resource {
            app_id: derived_guid("resource-app", &app_id_uri),
            app_id_uri,
        }
    }

    /// Sets the resource's application id.
    pub fn with_app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = app_id.into();
        self
    }

    /// If `requested` (the scope minus its last segment) names this resource, the identifier
    /// to use as `aud`: the app ID URI or the app id, as requested. Matching ignores ASCII
    /// case and one trailing `/`.
    pub(crate) fn matches(&self, requested: &str) -> Option<&str> {
        let norm = |s: &str| s.strip_suffix('/').unwrap_or(s).to_ascii_lowercase();
        let r = norm(requested);
        if norm(&self.app_id_uri) == r {
            Some(&self.app_id_uri)
        } else if norm(&self.app_id) == r {
            Some(&self.app_id)
        } else {
            None
        }
    }
}

/// A directory tenant.
#[derive(Clone, Debug, Serialize)]
pub struct Tenant {
    /// Tenant id (GUID).
    pub tenant_id: String,
    /// Display name, used in some error messages.
    pub display_name: String,
    /// Verified domains accepted in place of the tenant id in URLs.
    pub domains: Vec<String>,
    /// Registered confidential clients.
    pub clients: Vec<Client>,
    /// Registered resources.
    pub resources: Vec<Resource>,
}

impl Tenant {
    /// An empty tenant.
    pub fn new(tenant_id: impl Into<String>) -> Self {
        let tenant_id = tenant_id.into();
        Tenant {
            display_name: format!("tenant-{tenant_id}"),
            tenant_id,
            domains: Vec::new(),
            clients: Vec::new(),
            resources: Vec::new(),
        }
    }

    /// Adds a verified domain.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domains.push(domain.into());
        self
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }

    /// Adds a client.
    pub fn with_client(mut self, client: Client) -> Self {
        self.clients.push(client);
        self
    }

    /// Adds a resource.
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resources.push(resource);
        self
    }

    /// The client with this id (ASCII case-insensitive, as GUIDs are).
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients
            .iter()
            .find(|c| c.client_id.eq_ignore_ascii_case(client_id))
    }

    /// Mutable access to a client.
    pub fn client_mut(&mut self, client_id: &str) -> Option<&mut Client> {
        self.clients
            .iter_mut()
            .find(|c| c.client_id.eq_ignore_ascii_case(client_id))
    }
}

/// All tenants known to the mock.
#[derive(Clone, Debug, Serialize)]
pub struct Registry {
    /// The tenants.
    pub tenants: Vec<Tenant>,
}

impl Default for Registry {
    /// The fixtures: tenant [`TENANT_ID`] (alias [`TENANT_DOMAIN`]) with clients [`CLIENT_ID`]
    /// and [`EXPIRED_CLIENT_ID`] and resources [`RESOURCE`] and [`OTHER_RESOURCE`].
    fn default() -> Self {
        let tenant = Tenant::new(TENANT_ID)
            .with_display_name(TENANT_NAME)
            .with_domain(TENANT_DOMAIN)
            .with_client(
                Client::new(CLIENT_ID)
                    .with_display_name("aadtoken-test-client")
                    .with_secret(CLIENT_SECRET)
                    .with_roles(CLIENT_ROLES.iter().copied()),
            )
            .with_client(
                Client::new(EXPIRED_CLIENT_ID)
                    .with_display_name("aadtoken-expired-client")
                    .with_expired_secret(EXPIRED_CLIENT_SECRET),
            )
            .with_resource(Resource::new(RESOURCE).with_app_id(RESOURCE_APP_ID))
            .with_resource(Resource::new(OTHER_RESOURCE).with_app_id(OTHER_RESOURCE_APP_ID));
        Registry {
            tenants: vec![tenant],
        }
    }
}

impl Registry {
    /// A registry with no tenants.
    pub fn empty() -> Self {
        Registry { tenants: Vec::new() }
    }

    /// The tenant named by `id_or_domain` (tenant GUID or verified domain, ASCII case-insensitive).
    pub fn tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.is_named(id_or_domain))
    }

    /// Mutable access to a tenant by id or domain.
    pub fn tenant_mut(&mut self, id_or_domain: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|t| t.is_named(id_or_domain))
    }

    /// Adds a tenant.
    pub fn add_tenant(&mut self, tenant: Tenant) {
        self.tenants.push(tenant);
    }

    /// Every registered secret value (valid or expired), for log redaction.
    pub(crate) fn all_secret_values(&self) -> Vec<String> {
        self.tenants
            .iter()
            .flat_map(|t| t.clients.iter())
            .flat_map(|c| c.secrets.iter())
            .map(|s| s.value.clone())
            .collect()
    }
}

impl Tenant {
    fn is_named(&self, name: &str) -> bool {
        self.tenant_id.eq_ignore_ascii_case(name) || self.domains.iter().any(|d| d.eq_ignore_ascii_case(name))
    }
}

/// A GUID derived from a label and a value (SHA-256), stable across runs.
pub(crate) fn derived_guid(label: &str, value: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(label.as_bytes());
    ctx.update(&[0]);
    ctx.update(value.to_ascii_lowercase().as_bytes());
    let d = ctx.finish();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// True for a canonical GUID (`8-4-4-4-12` hex digits).
pub(crate) fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}
