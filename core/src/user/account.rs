//! A signed-in person with their refresh token: what the account store keeps and the cache
//! file holds.

use crate::secret::SecretString;

/// A signed-in person, as one application sees them.
#[derive(Clone, Debug)]
pub struct Account {
    /// `https://host/tenant` of the application's authority.
    pub authority: String,
    /// The application's client id.
    pub client_id: String,
    /// `uid.utid` from `client_info` (object id and home tenant), lower case.
    pub home_account_id: String,
    /// `preferred_username` from the id token.
    pub username: String,
    /// The display name from the id token.
    pub name: Option<String>,
    /// The home tenant (`utid`).
    pub tenant_id: String,
    /// The refresh token (a secret).
    pub refresh_token: SecretString,
    /// When the refresh token was stored (Unix seconds).
    pub updated_on: i64,
}

impl Account {
    /// The same person of the same application (authority, client id, home account id).
    pub(crate) fn same(&self, other: &Account) -> bool {
        self.authority == other.authority
            && self.client_id.eq_ignore_ascii_case(&other.client_id)
            && self.home_account_id == other.home_account_id
    }
}
