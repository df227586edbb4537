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
    /// Registered certificates (DER): client assertions signed with their keys are accepted.
    #[serde(skip)]
    pub certificates: Vec<Vec<u8>>,
    /// Federated identity credentials (workload identity).
    pub federated: Vec<FederatedCredential>,
    /// "Allow public client flows": ROPC without a client secret is accepted, and device code
    /// and authorization code grants need no client credential.
    pub allow_public_client: bool,
    /// Registered redirect URIs ("Mobile and desktop applications"). `http://localhost` matches
    /// any port of localhost (Entra ignores the port of loopback redirect URIs); paths must match.
    pub redirect_uris: Vec<String>,
}

/// A federated identity credential: assertions issued by `issuer` for `subject` with audience
/// `audience`, signed by the key of `certificate` (standing in for the issuer's JWKS), are
/// accepted as the client's credential.
#[derive(Clone, Debug, Serialize)]
pub struct FederatedCredential {
    /// The external issuer (`iss`).
    pub issuer: String,
    /// The subject (`sub`), e.g. `system:serviceaccount:ns:name`.
    pub subject: String,
    /// The audience (`aud`); Entra's default is [`FEDERATED_AUDIENCE`].
    pub audience: String,
    /// DER certificate whose public key verifies the issuer's signatures.
    #[serde(skip)]
    pub certificate: Vec<u8>,
}

/// The default audience of federated credentials.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

impl FederatedCredential {
    /// A federated credential with the default audience.
    pub fn new(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        certificate_der: impl Into<Vec<u8>>,
    ) -> Self {
        FederatedCredential {
            issuer: issuer.into(),
            subject: subject.into(),
            audience: FEDERATED_AUDIENCE.to_owned(),
            certificate: certificate_der.into(),
        }
    }
}

/// A user account (for the username/password grant).
#[derive(Clone, Serialize)]
pub struct User {
    /// User principal name.
    pub username: String,
    /// The password (never shown by `Debug` or `Serialize`).
    #[serde(skip)]
    pub password: String,
    /// Object id (`oid`), derived from the user name.
    pub object_id: String,
    /// The account needs MFA: the password grant answers AADSTS50076.
    pub mfa_required: bool,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("mfa_required", &self.mfa_required)
            .finish()
    }
}

impl User {
    /// A user with this name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        let username = username.into();
        User {
            object_id: derived_guid("user", &username),
            username,
            password: password.into(),
            mfa_required: false,
        }
    }

    /// Requires MFA (the password grant cannot satisfy it).
    pub fn with_mfa(mut self) -> Self {
        self.mfa_required = true;
        self
    }
}

/// Fixture public client ("Mobile and desktop applications", public client flows allowed,
/// redirect URI `http://localhost`): device code and browser sign-in of people.
pub const PUBLIC_CLIENT_ID: &str = "88888888-8888-8888-8888-888888888888";
/// A second fixture user (person sign-in with several accounts).
pub const SECOND_USERNAME: &str = "scott@contoso.onmicrosoft.com";
/// The second fixture user's password. A mock fixture value, not a real password.
pub const SECOND_USER_PASSWORD: &str = "mock-Tiger-0!";

/// Fixture user (ROPC) in the fixture tenant.
pub const USERNAME: &str = "dba@contoso.onmicrosoft.com";
/// The fixture user's password. A mock fixture value, not a real password.
pub const USER_PASSWORD: &str = "mock-Passw0rd!";

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
            certificates: Vec::new(),
            federated: Vec::new(),
            allow_public_client: false,
            redirect_uris: Vec::new(),
        }
    }

    /// Registers a redirect URI (e.g. `http://localhost`).
    pub fn with_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Registers a certificate (DER) as a credential of this client.
    pub fn with_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.certificates.push(der.into());
        self
    }

    /// Adds a federated identity credential.
    pub fn with_federated(mut self, f: FederatedCredential) -> Self {
        self.federated.push(f);
        self
    }

    /// Allows public client flows (ROPC without a secret).
    pub fn with_public_client(mut self) -> Self {
        self.allow_public_client = true;
        self
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
    /// User accounts (username/password grant).
    pub users: Vec<User>,
    /// `token_endpoint_auth_methods_supported` of the tenant's generic OIDC issuer route
    /// (`/{tenant}/generic/.well-known/openid-configuration`); default `client_secret_basic`,
    /// `private_key_jwt`.
    pub oidc_auth_methods: Vec<String>,
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
            users: Vec::new(),
            oidc_auth_methods: vec!["client_secret_basic".to_owned(), "private_key_jwt".to_owned()],
        }
    }

    /// Adds a user.
    pub fn with_user(mut self, user: User) -> Self {
        self.users.push(user);
        self
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

    /// The user with this name (ASCII case-insensitive).
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
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
    /// Client assertions seen (shared by copies of the registry).
    #[serde(skip)]
    pub assertions: AssertionLog,
}

/// The client assertions the token endpoint has verified: `jti` → the assertion's digest (a
/// `jti` seen again in a *different* assertion is a replay; the same assertion sent again —
/// a client reusing its still-valid assertion, as MSAL does — is accepted), and the header of
/// the last one (for tests: `alg`, `x5t#S256`, `x5c`).
#[derive(Clone, Debug, Default)]
pub struct AssertionLog(pub(crate) std::sync::Arc<std::sync::Mutex<AssertionLogInner>>);

#[derive(Debug, Default)]
pub(crate) struct AssertionLogInner {
    pub jti: std::collections::HashMap<String, Vec<u8>>,
    pub last_header: Option<serde_json::Value>,
    pub last_claims: Option<serde_json::Value>,
}

impl AssertionLog {
    /// Header and claims of the last client assertion that verified.
    pub fn last(&self) -> Option<(serde_json::Value, serde_json::Value)> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Some((g.last_header.clone()?, g.last_claims.clone()?))
    }
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
            .with_resource(Resource::new(OTHER_RESOURCE).with_app_id(OTHER_RESOURCE_APP_ID))
            .with_client(
                Client::new(PUBLIC_CLIENT_ID)
                    .with_display_name("aadtoken-public-client")
                    .with_public_client()
                    .with_redirect_uri("http://localhost"),
            )
            .with_user(User::new(USERNAME, USER_PASSWORD))
            .with_user(User::new(SECOND_USERNAME, SECOND_USER_PASSWORD));
        Registry {
            tenants: vec![tenant],
            assertions: AssertionLog::default(),
        }
    }
}

impl Registry {
    /// A registry with no tenants.
    pub fn empty() -> Self {
        Registry {
            tenants: Vec::new(),
            assertions: AssertionLog::default(),
        }
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
            .chain(
                self.tenants
                    .iter()
                    .flat_map(|t| t.users.iter())
                    .map(|u| u.password.clone()),
            )
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
