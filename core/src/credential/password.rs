//! Username and password (the OAuth resource owner password credentials grant, ROPC).
//!
//! Legacy: it cannot satisfy multi-factor authentication or Conditional Access, Microsoft
//! discourages it, and accounts with MFA get `interaction_required` (AADSTS50076). Use it only
//! for accounts made for it (e.g. test users without MFA). The client may be public (no secret)
//! or confidential (`client_secret` is sent too).

use std::fmt;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::secret::SecretString;

#[derive(Clone)]
pub struct UsernamePassword {
    username: String,
    password: SecretString,
    client_secret: Option<SecretString>,
}

impl fmt::Debug for UsernamePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsernamePassword")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}

impl UsernamePassword {
    pub fn from_config(config: &Config) -> Result<Self> {
        let why = "for auth_method=password";
        Ok(UsernamePassword {
            username: config
                .username
                .clone()
                .ok_or_else(|| Error::missing_setting("username", why))?,
            password: config
                .password
                .clone()
                .ok_or_else(|| Error::missing_setting("password", why))?,
            client_secret: config.client_secret.clone(),
        })
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &SecretString {
        &self.password
    }

    pub fn client_secret(&self) -> Option<&SecretString> {
        self.client_secret.as_ref()
    }
}
