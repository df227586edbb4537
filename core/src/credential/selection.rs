//! `auto_credentials` (azure-identity's `AZURE_TOKEN_CREDENTIALS`): which candidates the
//! `auth_method=auto` chain has. Values as azure-identity's DefaultAzureCredential takes them
//! (trimmed, any case): `prod` (its deployed-service credentials: environment, workload identity,
//! managed identity — aadtoken's whole chain), `dev` (developer tools), or one credential's
//! name. aadtoken has no developer-tool credentials: `dev` and their names are accepted as
//! values but fail the `auto` client with a message naming the variable.

use crate::error::{Error, Result};

/// The variable azure-identity narrows its default chain with (read into `auto_credentials`).
pub const TOKEN_CREDENTIALS_VAR: &str = "AZURE_TOKEN_CREDENTIALS";

/// The groups of candidates, as azure-identity names its credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `EnvironmentCredential`: the client secret or certificate of the environment.
    Environment,
    /// `WorkloadIdentityCredential`: a federated token file (or an assertion callback).
    WorkloadIdentity,
    /// `ManagedIdentityCredential`.
    ManagedIdentity,
}

impl Family {
    /// azure-identity's name of the credential.
    pub fn credential_name(self) -> &'static str {
        match self {
            Family::Environment => "EnvironmentCredential",
            Family::WorkloadIdentity => "WorkloadIdentityCredential",
            Family::ManagedIdentity => "ManagedIdentityCredential",
        }
    }
}

/// azure-identity credentials of its default chain that aadtoken does not have (developer tools
/// and person sign-in): `AZURE_TOKEN_CREDENTIALS` may name them, but aadtoken cannot honour it.
const NOT_IN_AADTOKEN: &[&str] = &[
    "AzureCliCredential",
    "AzurePowerShellCredential",
    "AzureDeveloperCliCredential",
    "VisualStudioCodeCredential",
    "VisualStudioCredential",
    "IntelliJCredential",
    "InteractiveBrowserCredential",
    "BrokerCredential",
    "SharedTokenCacheCredential",
];

/// `auto_credentials` (`AZURE_TOKEN_CREDENTIALS`): which candidates the chain has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// `prod`: every candidate (aadtoken's whole chain is azure-identity's `prod` part).
    Prod,
    /// One credential (any case, as azure-identity accepts it).
    Only(Family),
    /// `dev`, or a credential aadtoken does not have (its name as azure-identity spells it).
    Unsupported(&'static str),
}

impl Selection {
    /// Parse the value of setting `key`: `prod`, `dev` or an azure-identity credential name,
    /// in any case. Anything else is an error naming `key` and the valid values.
    pub fn parse(key: &str, value: &str) -> Result<Selection> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("prod") {
            return Ok(Selection::Prod);
        }
        if v.eq_ignore_ascii_case("dev") {
            return Ok(Selection::Unsupported("dev"));
        }
        for f in [
            Family::Environment,
            Family::WorkloadIdentity,
            Family::ManagedIdentity,
        ] {
            if v.eq_ignore_ascii_case(f.credential_name()) {
                return Ok(Selection::Only(f));
            }
        }
        if let Some(name) = NOT_IN_AADTOKEN.iter().find(|n| v.eq_ignore_ascii_case(n)) {
            return Ok(Selection::Unsupported(name));
        }
        Err(Error::invalid_setting(
            key,
            format!(
                "must be 'prod', 'dev' or the name of one azure-identity credential (EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential, {})",
                NOT_IN_AADTOKEN.join(", ")
            ),
        ))
    }

    /// Whether candidates of `family` are in the chain; `Err` when the selection names
    /// nothing aadtoken has (the error names the setting and the variable).
    pub fn admits(self, family: Family) -> Result<bool> {
        match self {
            Selection::Prod => Ok(true),
            Selection::Only(f) => Ok(f == family),
            Selection::Unsupported(what) => {
                let what = if what == "dev" {
                    "'dev', which selects developer-tool credentials (Azure CLI, PowerShell, Visual Studio Code…)".to_owned()
                } else {
                    format!("'{what}'")
                };
                Err(Error::invalid_setting(
                    "auto_credentials",
                    format!(
                        "({TOKEN_CREDENTIALS_VAR}) is {what}: aadtoken does not have it. For auth_method=auto use 'prod', EnvironmentCredential, WorkloadIdentityCredential or ManagedIdentityCredential; for a person's sign-in use auth_method=device_code or interactive"
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_identity_values() {
        let parse = |v: &str| Selection::parse("auto_credentials", v);
        assert_eq!(parse(" PROD ").unwrap(), Selection::Prod);
        assert_eq!(
            parse("workloadidentitycredential").unwrap(),
            Selection::Only(Family::WorkloadIdentity)
        );
        assert_eq!(parse("Dev").unwrap(), Selection::Unsupported("dev"));
        assert_eq!(
            parse("azureclicredential").unwrap(),
            Selection::Unsupported("AzureCliCredential")
        );
        let e = parse("laptop").unwrap_err();
        assert!(e.message().contains("'auto_credentials'"), "{}", e.message());
        assert!(Selection::Prod.admits(Family::ManagedIdentity).unwrap());
        assert!(!Selection::Only(Family::Environment)
            .admits(Family::ManagedIdentity)
            .unwrap());
        let e = Selection::Unsupported("dev")
            .admits(Family::Environment)
            .unwrap_err();
        assert!(e.message().contains(TOKEN_CREDENTIALS_VAR), "{}", e.message());
    }
}
