//! Client secret (the client credentials flow with `client_secret` in the form body).
//! The secret goes in the body only: never in the URL or a header other than the body.

use crate::secret::SecretString;

#[derive(Clone, Debug)]
pub struct ClientSecret {
    secret: SecretString,
}

impl ClientSecret {
    pub fn new(secret: SecretString) -> Self {
        ClientSecret { secret }
    }

    pub fn secret(&self) -> &SecretString {
        &self.secret
    }
}
