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
//! `AZURE_TOKEN_CREDENTIALS` (setting `auto_credentials`) narrows the chain with
//! azure-identity's values (`credential::selection`): `prod` (all of them), or one of
//! `EnvironmentCredential`, `WorkloadIdentityCredential`, `ManagedIdentityCredential` (then
//! without the IMDS probe, as that credential alone). `dev` and the other azure-identity
//! credential names select developer tools aadtoken does not have: `Client::new` fails naming
//! the variable.
//!
//! A candidate that is not configured, cannot be built from what is configured (a certificate
//! file that cannot be read, a user-assigned identity the host's source does not support) or is
//! excluded by `AZURE_TOKEN_CREDENTIALS` is skipped with its reason; one whose endpoint does not
//! answer, answers something that is not a managed-identity endpoint (a 403 page of a proxy or
//! sandbox on 169.254.169.254), or is IMDS answering HTTP 400 "Identity not found" (no identity,
//! or not the user-assigned one asked for, on this host: azure-identity's "credential
//! unavailable", see `ManagedIdentity::get_token_probing`) is unavailable and skipped too, its
//! answer in the report. One that is tried and refused
//! (a wrong secret) ends the search with its error: no silent fallback to another identity.
//! Once one has given a token, the chain keeps using it. When none works, the error names each
//! candidate and why it was skipped.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use crate::cache::Scopes;
use crate::error::{Error, ErrorKind, Result};
use crate::token::Token;

use super::app::Env;
use super::managed_identity::{ManagedIdentity, Probe, Source};
use super::selection::TOKEN_CREDENTIALS_VAR;

/// A token future of a candidate (boxed: the chain is itself a credential, so the types nest).
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Token>> + Send + 'a>>;

/// What the chain needs of a candidate credential.
pub trait Candidate {
    /// The managed identity, when the candidate is one: it is probed rather than asked.
    fn managed_identity(&self) -> Option<&ManagedIdentity>;
    /// One token for `scopes` (never a person sign-in).
    fn token<'a>(&'a self, env: &'a Env<'_>, scopes: &'a Scopes) -> TokenFuture<'a>;
}

/// Why a candidate is not in use.
#[derive(Clone, Debug)]
pub enum Skipped {
    /// What it needs is not set.
    NotConfigured(String),
    /// It is configured but cannot be built (the error's message).
    Unusable(String),
    /// `AZURE_TOKEN_CREDENTIALS` leaves it out (its value).
    Excluded(String),
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skipped::NotConfigured(why) => write!(f, "not configured ({why})"),
            Skipped::Unusable(why) => write!(f, "skipped, cannot be used: {why}"),
            Skipped::Excluded(value) => {
                write!(
                    f,
                    "excluded by auto_credentials ({TOKEN_CREDENTIALS_VAR}={value})"
                )
            }
        }
    }
}

/// A candidate: its name in messages, and the credential or why it is skipped.
pub type Entry<C> = (&'static str, std::result::Result<C, Skipped>);

/// The candidates of `auth_method=auto` and the one chosen.
#[derive(Debug)]
pub struct Chain<C> {
    candidates: Vec<Entry<C>>,
    /// The candidate that gave a token.
    chosen: OnceLock<usize>,
    /// The bound on the first request to plain IMDS; `None`: no probe.
    probe: Option<Duration>,
}

impl<C> Chain<C> {
    /// A chain of `candidates` (name, the credential or why it is skipped), in order; `probe`
    /// bounds the first request to plain IMDS (`None`: IMDS is asked like any credential).
    pub fn new(candidates: Vec<Entry<C>>, probe: Option<Duration>) -> Chain<C> {
        Chain {
            candidates,
            chosen: OnceLock::new(),
            probe,
        }
    }

    /// The configured candidates, in order.
    pub fn configured(&self) -> impl Iterator<Item = &C> {
        self.candidates.iter().filter_map(|(_, c)| c.as_ref().ok())
    }

    /// The candidate in use, once one has given a token.
    pub fn chosen(&self) -> Option<&C> {
        self.chosen
            .get()
            .and_then(|i| self.candidates[*i].1.as_ref().ok())
    }
}

impl<C: Candidate> Chain<C> {
    /// A token from the chosen candidate, or from the first that gives one (see the module docs).
    pub async fn get_token(&self, env: &Env<'_>, scopes: &Scopes) -> Result<Token> {
        if let Some(c) = self.chosen() {
            return c.token(env, scopes).await;
        }
        let mut report: Vec<String> = Vec::new();
        for (i, (name, candidate)) in self.candidates.iter().enumerate() {
            let credential = match candidate {
                Err(why) => {
                    match why {
                        Skipped::Unusable(_) => log_warn!("auth_method=auto: {name} {why}"),
                        _ => log_debug!("auth_method=auto: {name} {why}"),
                    }
                    report.push(format!("{name}: {why}"));
                    continue;
                }
                Ok(c) => c,
            };
            let result = match credential.managed_identity() {
                Some(mi) => {
                    let probe = self.probe.filter(|_| mi.source() == Source::Imds);
                    match mi.get_token_probing(env, scopes, probe).await {
                        Ok(t) => Ok(t),
                        Err(Probe::Unavailable(e)) => {
                            log_info!(
                                "auth_method=auto: {name} unavailable ({}), trying the next",
                                crate::log::error_summary(&e)
                            );
                            report.push(format!("{name}: unavailable, {}: {}", mi.describe(), e.message()));
                            continue;
                        }
                        Err(Probe::Failed(e)) => Err(e),
                    }
                }
                None => credential.token(env, scopes).await,
            };
            match result {
                Ok(token) => {
                    log_info!("auth_method=auto: using {name} from now on");
                    let _ = self.chosen.set(i);
                    return Ok(token);
                }
                Err(e) => {
                    let detail = match credential.managed_identity() {
                        Some(mi) => format!("{}: {}", mi.describe(), e.message()),
                        None => e.message().to_owned(),
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
