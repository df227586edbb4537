//! How an application proves its identity at its authority: the one thing the application
//! credentials differ in. Each [`Proof`] adds its client authentication and grant fields to the
//! one grant request ([`App::grant_request`]); endpoint, transport, retry and response parsing
//! are the application's.

use ring::digest;

use crate::cache::Scopes;
use crate::error::Result;
use crate::secret::SecretString;
use crate::token::Token;

use super::app::{App, ClientAuth, Env};
use super::assertion::AssertionSource;
use super::certificate::Certificate;
use super::password::UsernamePassword;
use super::secret::ClientSecret;

/// The client credentials grant (the application's own token).
const CLIENT_CREDENTIALS: &str = "client_credentials";

/// An application credential's proof of identity.
#[derive(Clone, Debug)]
pub enum Proof {
    /// A client secret (client credentials flow).
    Secret(ClientSecret),
    /// A certificate: a client assertion signed with its key (client credentials flow).
    Certificate(Certificate),
    /// An assertion from a file or the host (workload identity federation).
    Assertion(AssertionSource),
    /// A user name and password (resource owner password credentials; legacy, no MFA).
    Password(UsernamePassword),
}

impl Proof {
    /// A short name of the kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Proof::Secret(_) => "client secret",
            Proof::Certificate(_) => "certificate",
            Proof::Assertion(AssertionSource::File(_)) => "workload identity (assertion file)",
            Proof::Assertion(_) => "client assertion (callback)",
            Proof::Password(_) => "username/password",
        }
    }

    /// The client part of cache keys: the client id, and for ROPC the user (tokens are per user).
    pub fn client_label(&self, app: &App) -> String {
        match self {
            Proof::Password(p) => format!("{} user {}", app.client_id, p.username()),
            _ => app.client_id.clone(),
        }
    }

    /// Feeds the cache-key fingerprint without keeping the values: the secret's digest, the
    /// certificate's thumbprint, the assertion's source, the user and password.
    pub fn feed(&self, ctx: &mut digest::Context) {
        match self {
            Proof::Secret(s) => {
                ctx.update(b"client_secret\0");
                ctx.update(s.secret().expose().as_bytes());
            }
            Proof::Certificate(c) => {
                ctx.update(b"certificate\0");
                ctx.update(c.thumbprint_sha256().as_bytes());
            }
            Proof::Assertion(a) => {
                ctx.update(b"assertion\0");
                ctx.update(a.source_id().as_bytes());
            }
            Proof::Password(p) => {
                ctx.update(b"password\0");
                ctx.update(p.username().as_bytes());
                ctx.update(b"\0");
                ctx.update(p.password().expose().as_bytes());
            }
        }
    }

    /// One token for `scopes` from the application's token endpoint.
    pub async fn get_token(&self, app: &App, env: &Env<'_>, scopes: &Scopes) -> Result<Token> {
        let endpoint = app.token_endpoint(env).await?;
        let assertion: SecretString;
        let (grant_type, fields, auth) = match self {
            Proof::Secret(s) => (CLIENT_CREDENTIALS, Vec::new(), ClientAuth::Secret(s.secret())),
            Proof::Certificate(c) => {
                assertion = c.assertion(&endpoint.url, &app.client_id)?;
                (CLIENT_CREDENTIALS, Vec::new(), ClientAuth::Assertion(&assertion))
            }
            Proof::Assertion(a) => {
                assertion = a.assertion().await?;
                (CLIENT_CREDENTIALS, Vec::new(), ClientAuth::Assertion(&assertion))
            }
            Proof::Password(p) => (
                "password",
                vec![("username", p.username()), ("password", p.password().expose())],
                p.client_secret().map_or(ClientAuth::None, ClientAuth::Secret),
            ),
        };
        app.request(env, &endpoint, scopes, grant_type, &fields, auth)
            .await
    }
}
