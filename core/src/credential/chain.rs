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

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use crate::cache::Scopes;
use crate::error::{Error, ErrorKind, Result};
use crate::token::Token;

use super::app::Env;
use super::managed_identity::{ManagedIdentity, Probe, Source};

/// A token future of a candidate (boxed: the chain is itself a credential, so the types nest).
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Token>> + Send + 'a>>;

/// What the chain needs of a candidate credential.
pub trait Candidate {
    /// The managed identity, when the candidate is one: it is probed rather than asked.
    fn managed_identity(&self) -> Option<&ManagedIdentity>;
    /// One token for `scopes` (never a person sign-in).
    fn token<'a>(&'a self, env: &'a Env<'_>, scopes: &'a Scopes) -> TokenFuture<'a>;
}

/// The candidates of `auth_method=auto` and the one chosen.
#[derive(Debug)]
pub struct Chain<C> {
    /// (name, the credential, or why it is not configured).
    candidates: Vec<(&'static str, std::result::Result<C, String>)>,
    /// The candidate that gave a token.
    chosen: OnceLock<usize>,
    probe: Duration,
}

impl<C> Chain<C> {
    /// A chain of `candidates` (name, the credential or why it is not configured), in order;
    /// `probe` bounds the first request to plain IMDS.
    pub fn new(candidates: Vec<(&'static str, std::result::Result<C, String>)>, probe: Duration) -> Chain<C> {
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
                    crate::log_debug!("auth_method=auto: {name} not configured ({why})");
                    report.push(format!("{name}: not configured ({why})"));
                    continue;
                }
                Ok(c) => c,
            };
            let result = match credential.managed_identity() {
                Some(mi) => {
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
                None => credential.token(env, scopes).await,
            };
            match result {
                Ok(token) => {
                    crate::log_info!("auth_method=auto: using {name} from now on");
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
