//! A faithful local mock of Microsoft Entra ID for aadtoken's tests, demo and benchmarks.
//!
//! The server speaks HTTPS on 127.0.0.1 with a CA generated at start-up (see
//! [`MockServer::ca_file`]), serves OIDC discovery, JWKS, instance discovery and the v2.0
//! token endpoint (client-credentials grant with `client_secret_post` or
//! `client_secret_basic`), answers errors with Entra-shaped bodies, mints RS256 JWT access
//! tokens, and can be scripted (lifetime, `expires_in` type, `refresh_in`, latency, injected
//! faults) through this API or through `/_mock/` HTTP routes on the same server.
//!
//! ```no_run
//! use aadtoken_mock::{MockConfig, MockServer, Fault, TENANT_ID, CLIENT_ID, SCOPE};
//! let mock = MockServer::spawn(MockConfig::default());
//! println!("{} trusts {}", mock.base_url(), mock.ca_file().display());
//! mock.fail_next(1, Fault::throttled(Some(2)));
//! // ... point the client at mock.authority(TENANT_ID) ...
//! assert_eq!(mock.token_requests(), 0);
//! ```
//!
//! The request log ([`MockServer::requests`]) redacts secrets: values of the form keys that
//! [`is_sensitive`] names become [`REDACTED`], the `Authorization` value becomes
//! `<scheme> <redacted>`, and a registered client secret found anywhere else (path, query,
//! any header, other form fields) becomes [`REDACTED_SECRET`]; where it was found is listed
//! in [`LoggedRequest::secret_in`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod control;
mod discovery;
mod entra;
mod grants;
mod keys;
pub mod managed_identity;
mod recording;
mod redact;
pub mod registry;
mod respond;
mod routes;
mod server;
mod state;
mod support;
mod token;
mod user_flows;
mod user_state;

pub use keys::ServerCert;
pub use managed_identity::{ManagedIdentityMock, MiFault, MiIdentity, MiRequest, MiSource};
pub use redact::{is_sensitive, REDACTED, REDACTED_SECRET};
pub use registry::{AssertionLog, FederatedCredential, User, FEDERATED_AUDIENCE, USERNAME, USER_PASSWORD};
pub use registry::{
    Client, ClientSecret, Registry, Resource, Tenant, CLIENT_ID, CLIENT_ROLES, CLIENT_SECRET,
    EXPIRED_CLIENT_ID, EXPIRED_CLIENT_SECRET, OTHER_RESOURCE, OTHER_RESOURCE_APP_ID, OTHER_SCOPE, RESOURCE,
    RESOURCE_APP_ID, SCOPE, TENANT_DOMAIN, TENANT_ID, TENANT_NAME,
};
pub use registry::{PUBLIC_CLIENT_ID, SECOND_USERNAME, SECOND_USER_PASSWORD};
pub use server::{write_file_atomic, MockConfig, MockServer};
pub use state::{ClientAuthMethod, Counters, Fault, LoggedRequest, RefreshIn, TokenBehaviour};
pub use support::TempDir;
pub use token::CLOCK_SKEW_BACKDATE_S;
pub use user_state::{AuthorizeMode, DeviceCodeStatus, NonceMode, OTHER_NONCE};
