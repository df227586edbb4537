//! `auth_method=auto`: the first credential that is configured and available, in the order of
//! the Azure SDKs' DefaultAzureCredential:
//!
//! 1. environment — client secret (`client_secret`, e.g. `AZURE_CLIENT_SECRET`), then
//!    certificate (`certificate_path`, e.g. `AZURE_CLIENT_CERTIFICATE_PATH`), each with
//!    `tenant_id` and `client_id`;
//! 2. workload identity — `assertion_file` (`AZURE_FEDERATED_TOKEN_FILE`) or an assertion
//!    callback, with `tenant_id` and `client_id`;
//! 3. managed identity — detected from the platform variables; on plain IMDS the first request
//!    is a probe bounded by `probe_timeout_ms` (default 1 s) without retries.
//!
//! No silent fallbacks: a credential that is configured but broken (an unreadable certificate)
//! fails `Client::new`; one that is tried and refused (a wrong secret) ends the search with its
//! error. Only "not configured" and "nothing answered" move on to the next. Once one has given
//! a token, the chain keeps using it. When none works, the error lists each and why.

use std::sync::OnceLock;
use std::time::Duration;

use crate::auth_method::AuthMethod;
use crate::cache::Scopes;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::token::Token;

use super::app::Env;
use super::managed_identity::{ManagedIdentity, Probe, Source};
use super::{Credential, Source as CredentialSource};

#[derive(Debug)]
pub struct Chain {
    /// (name, the credential, or why it is not configured).
    candidates: Vec<(&'static str, std::result::Result<Credential, String>)>,
    /// The candidate that gave a token.
    chosen: OnceLock<usize>,
    probe: Duration,
}

impl Chain {
    pub fn from_config(config: &Config) -> Result<Chain> {
        let mut candidates = Vec::new();
        let app_missing = || -> Option<String> {
            let missing: Vec<&str> = [
                (
                    "tenant_id",
                    config.tenant_id.is_none() && config.authority.is_none(),
                ),
                ("client_id", config.client_id.is_none()),
            ]
            .into_iter()
            .filter_map(|(k, missing)| missing.then_some(k))
            .collect();
            (!missing.is_empty()).then(|| format!("'{}' not set", missing.join("' and '")))
        };
        let wrap = |e: Error, name: &str| e.context(format!("auth_method=auto, {name}"));

        // An application candidate: configured when `present` and the application is.
        let mut app = |name: &'static str, present: bool, unset: &str, method: AuthMethod| -> Result<()> {
            let candidate = match (present, app_missing()) {
                (false, _) => Err(format!("{unset} not set")),
                (true, Some(m)) => Err(m),
                (true, None) => Ok(Credential::of_kind(config, method).map_err(|e| wrap(e, name))?),
            };
            candidates.push((name, candidate));
            Ok(())
        };
        app(
            "environment (client secret)",
            config.client_secret.is_some(),
            "'client_secret' (AZURE_CLIENT_SECRET)",
            AuthMethod::ClientSecret,
        )?;
        app(
            "environment (certificate)",
            config.certificate_path.is_some(),
            "'certificate_path' (AZURE_CLIENT_CERTIFICATE_PATH)",
            AuthMethod::Certificate,
        )?;
        app(
            "workload identity",
            config.assertion_file.is_some() || config.assertion_callback.is_some(),
            "'assertion_file' (AZURE_FEDERATED_TOKEN_FILE)",
            AuthMethod::ClientAssertion,
        )?;
        let name = "managed identity";
        candidates.push((
            name,
            Ok(Credential::managed_identity(
                ManagedIdentity::from_config(config, true).map_err(|e| wrap(e, name))?,
            )),
        ));
        Ok(Chain {
            candidates,
            chosen: OnceLock::new(),
            probe: config.probe_timeout(),
        })
    }

    /// The configured candidates, in order.
    pub fn configured(&self) -> impl Iterator<Item = &Credential> {
        self.candidates.iter().filter_map(|(_, c)| c.as_ref().ok())
    }

    /// The candidate in use, once one has given a token.
    pub fn chosen(&self) -> Option<&Credential> {
        self.chosen
            .get()
            .and_then(|i| self.candidates[*i].1.as_ref().ok())
    }

    pub async fn get_token(&self, env: &Env<'_>, scopes: &Scopes) -> Result<Token> {
        if let Some(c) = self.chosen() {
            return c.get_token(env, scopes, false).await;
        }
        let mut report: Vec<String> = Vec::new();
        for (i, (name, candidate)) in self.candidates.iter().enumerate() {
            let credential = match candidate {
                Err(why) => {
                    crate::log_debug!("auth_method=auto: {name} not configured ({why})");
                    report.push(format!("{name}: not configured ({why})"));
                    continue;
                }
                Ok(c) => c,
            };
            let result = match credential.source() {
                CredentialSource::ManagedIdentity(mi) => {
                    let probe = (mi.source() == Source::Imds).then_some(self.probe);
                    match mi.get_token_probing(env, scopes, probe).await {
                        Ok(t) => Ok(t),
                        Err(Probe::Unavailable(e)) => {
                            crate::log_info!(
                                "auth_method=auto: {name} unavailable ({}), trying the next",
                                crate::log::error_summary(&e)
                            );
                            report.push(format!("{name}: unavailable, {}: {}", mi.describe(), e.message()));
                            continue;
                        }
                        Err(Probe::Failed(e)) => Err(e),
                    }
                }
                _ => credential.get_token(env, scopes, false).await,
            };
            match result {
                Ok(token) => {
                    crate::log_info!("auth_method=auto: using {name} from now on");
                    let _ = self.chosen.set(i);
                    return Ok(token);
                }
                Err(e) => {
                    let detail = match credential.source() {
                        CredentialSource::ManagedIdentity(mi) => {
                            format!("{}: {}", mi.describe(), e.message())
                        }
                        _ => e.message().to_owned(),
                    };
                    report.push(format!("{name}: failed: {detail}"));
                    let message = format!(
                        "auth_method=auto: {name} was tried and failed; tried: {}",
                        report.join("; ")
                    );
                    let kind = e.kind();
                    return Err(e.reclassified(kind, message));
                }
            }
        }
        Err(Error::new(
            ErrorKind::MissingSetting,
            format!(
                "auth_method=auto found no usable credential; tried: {}",
                report.join("; ")
            ),
        ))
    }
}
