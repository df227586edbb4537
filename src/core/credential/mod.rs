//! Ways of proving the application's identity. Each kind only contributes its form fields
//! (grant and client authentication); the request, the response, the cache and the retry
//! policy are shared by all of them (see `core::client` and `core::http`).

mod secret;

pub use secret::ClientSecret;

use ring::digest;

/// A configured credential.
#[derive(Clone, Debug)]
pub enum Credential {
    /// Client credentials flow with a client secret.
    ClientSecret(ClientSecret),
}

impl Credential {
    /// The OAuth grant this credential uses for an application token.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Credential::ClientSecret(_) => "client_credentials",
        }
    }

    /// Add the grant-specific and client-authentication fields to a token request form.
    pub fn add_fields<'a>(&'a self, form: &mut Vec<(&'static str, &'a str)>) {
        match self {
            Credential::ClientSecret(s) => s.add_fields(form),
        }
    }

    /// A digest that tells credentials apart in cache keys without keeping their values there.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        match self {
            Credential::ClientSecret(s) => {
                ctx.update(b"client_secret\0");
                ctx.update(s.secret().expose().as_bytes());
            }
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}
