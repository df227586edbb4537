//! A client: one identity (authority, application, credential) with default scopes, sharing the
//! process-wide cache and runtime. Cheap to clone, safe to use from many threads.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cache::{self, CacheEntry, CacheKey, Lookup, Need, Scopes};
use crate::config::Config;
use crate::credential::{Credential, Env, Source};
use crate::error::{Error, ErrorKind, Result};
use crate::host_cache::HostCache;
use crate::http::ExtraRoots;
use crate::runtime::{self, Runtime};
use crate::token::Token;

/// A client: one identity (authority, application, credential) with default scopes; cheap to
/// clone, safe to share between threads (see the module docs).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    credential: Credential,
    /// The configured `scope` text and its cache entry, resolved once.
    default: Option<(String, Arc<CacheEntry>)>,
    extra_roots: Option<ExtraRoots>,
    timeout: Duration,
    margin: Duration,
    /// The Oracle adapters' state: `token_location`, tokens lent to driver callbacks.
    oracle: crate::oracle::ClientState,
    /// `host_cache=on`: where in-process misses look first, and new tokens go for other processes.
    host_cache: Option<HostCache>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("credential", &self.inner.credential)
            .finish_non_exhaustive()
    }
}

/// The host's completion callback of [`Client::get_token_async`].
pub type Completion = Box<dyn FnOnce(Result<Arc<Token>>) + Send + 'static>;

impl Client {
    /// Check the settings and build a client. The config is copied; later changes to it do
    /// not affect the client.
    pub fn new(config: &Config) -> Result<Client> {
        let credential = Credential::from_config(config)?;
        let extra_roots = match &config.ca_file {
            Some(path) => Some(ExtraRoots::from_pem_file("ca_file", path)?),
            None => None,
        };
        let host_cache = HostCache::from_config(config, &credential)?;
        let mut inner = Inner {
            host_cache,
            credential,
            default: None,
            extra_roots,
            timeout: config.timeout(),
            margin: config.expiry_margin(),
            oracle: crate::oracle::ClientState::new(config),
        };
        if let Some(text) = &config.scope {
            let entry = cache::entry(inner.key(Scopes::parse(text)?));
            inner.default = Some((text.clone(), entry));
        }
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// A token for `scopes` (space separated; `None` = the configured `scope`).
    ///
    /// While the cached token has more than `expiry_margin_s` left it is returned at once —
    /// no lock, no I/O. Past its `refresh_on`, the first caller also starts a background
    /// refresh, and everyone keeps getting the valid token meanwhile. Only a caller with no
    /// usable token waits, sharing one request with every other such caller.
    pub fn get_token(&self, scopes: Option<&str>) -> Result<Arc<Token>> {
        self.get_token_as(scopes, Interaction::Allowed)
    }

    /// Like [`Client::get_token`], for a caller that must never wait for a person: a database
    /// driver's token callback, which runs on the driver's thread while it opens a connection
    /// (ODPI-C, OCI, python-oracledb, node-oracledb, ojdbc). A person sign-in credential
    /// (`auth_method=device_code`/`interactive`) answers from its signed-in account's refresh
    /// token, or fails at once with `InteractionRequired` saying to sign in first on the host's
    /// own thread — whatever `automatic_sign_in` says. The wait is bounded by `timeout_ms`, also
    /// when it joins a request another caller started (which may be a sign-in). Any other
    /// credential behaves exactly as with [`Client::get_token`].
    pub fn get_token_without_interaction(&self, scopes: Option<&str>) -> Result<Arc<Token>> {
        self.for_driver(self.get_token_as(scopes, Interaction::Forbidden))
    }

    /// Like [`Client::refresh_token`] (always asks the identity provider), for a driver's
    /// callback that must never wait for a person, as [`Client::get_token_without_interaction`]:
    /// a person sign-in credential refreshes through its signed-in account's refresh token, or
    /// fails at once with `InteractionRequired`.
    pub fn refresh_token_without_interaction(&self, scopes: Option<&str>) -> Result<Arc<Token>> {
        self.for_driver(self.refresh_token_as(scopes, Interaction::Forbidden))
    }

    /// A driver callback's result: a person sign-in's `InteractionRequired` says what to do.
    fn for_driver(&self, result: Result<Arc<Token>>) -> Result<Arc<Token>> {
        result.map_err(|e| match self.inner.credential.source() {
            #[cfg(feature = "signin")]
            Source::User(_) if e.kind() == ErrorKind::InteractionRequired => {
                let message = format!(
                    "{} (a database driver's token callback never waits for a person to sign in: \
                     sign in first on the host's own thread with aadtoken_client_sign_in or \
                     aadtoken_client_get_token, or with `aadtoken login` and cache_file)",
                    e.message()
                );
                e.reclassified(ErrorKind::InteractionRequired, message)
            }
            _ => e,
        })
    }

    fn get_token_as(&self, scopes: Option<&str>, interaction: Interaction) -> Result<Arc<Token>> {
        let entry = self.inner.entry_for(scopes)?;
        match entry.lookup(self.inner.margin) {
            Lookup::Fresh(token) => {
                log_trace!(
                    "{} ({}): cache hit",
                    entry.key().authority,
                    entry.key().scopes.joined()
                );
                Ok(token)
            }
            Lookup::Due(token) => {
                self.inner.refresh_in_background(&entry);
                Ok(token)
            }
            Lookup::Missing => {
                log_debug!(
                    "{} ({}): cache miss, requesting a token ({})",
                    entry.key().authority,
                    entry.key().scopes.joined(),
                    self.inner.credential.kind_name()
                );
                let rt = runtime::current()?;
                rt.block_on(self.inner.fetch(&rt, &entry, Need::Usable, interaction))
            }
        }
    }

    /// Always ask the identity provider, and replace the cached token for these scopes.
    /// Concurrent forced refreshes of the same entry share one request; more than
    /// [`cache::MAX_FORCED_PER_MINUTE`] a minute are refused (`TooManyRefreshes`).
    pub fn refresh_token(&self, scopes: Option<&str>) -> Result<Arc<Token>> {
        self.refresh_token_as(scopes, Interaction::Allowed)
    }

    fn refresh_token_as(&self, scopes: Option<&str>, interaction: Interaction) -> Result<Arc<Token>> {
        let entry = self.inner.entry_for(scopes)?;
        log_info!(
            "{} ({}): forced refresh requested by the host",
            entry.key().authority,
            entry.key().scopes.joined()
        );
        let rt = runtime::current()?;
        rt.block_on(self.inner.fetch(&rt, &entry, Need::New, interaction))
    }

    /// Like [`Client::get_token`] without blocking: returns at once, and `done` runs exactly
    /// once on a library thread with the result — also when the request is cancelled
    /// ([`Pending::cancel`]) or the library is shut down first (`Cancelled`). Bounded by
    /// `timeout_ms` like the blocking call.
    pub fn get_token_async(&self, scopes: Option<&str>, done: Completion) -> Result<Pending> {
        let entry = self.inner.entry_for(scopes)?.into_owned();
        let rt = runtime::current()?;
        let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
        let completion = Once {
            done: Some(done),
            rt: Arc::clone(&rt),
        };
        let inner = Arc::clone(&self.inner);
        rt.clone().spawn(async move {
            let result = match entry.lookup(inner.margin) {
                Lookup::Fresh(token) => Ok(token),
                Lookup::Due(token) => {
                    inner.refresh_in_background(&entry);
                    Ok(token)
                }
                Lookup::Missing => {
                    let cancelled = async {
                        match cancel_rx.await {
                            Ok(()) => (),
                            Err(_) => std::future::pending().await, // handle dropped: not a cancel
                        }
                    };
                    tokio::select! {
                        r = inner.fetch(&rt, &entry, Need::Usable, Interaction::Allowed) => r,
                        () = cancelled => {
                            log_debug!("{} ({}): async request cancelled by the host",
                                entry.key().authority, entry.key().scopes.joined());
                            Err(Error::new(ErrorKind::Cancelled, "the request was cancelled"))
                        }
                    }
                }
            };
            completion.complete(result);
        });
        Ok(Pending {
            cancel: Mutex::new(Some(cancel_tx)),
        })
    }
}

/// Whether a fetch may start a person sign-in (and so wait for a person).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interaction {
    /// A caller's request: with `automatic_sign_in`, a sign-in may start.
    Allowed,
    /// A background refresh or a driver's callback: never.
    Forbidden,
}

/// A started asynchronous request.
pub struct Pending {
    cancel: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Pending {
    /// Cancel the request if it has not finished: its completion then gets `Cancelled`.
    /// A request that already finished (or is finishing) is unaffected.
    pub fn cancel(&self) {
        if let Some(tx) = self.cancel.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(());
        }
    }
}

/// Runs the host's completion exactly once: with the result, on a library thread that may
/// call back into the library; or, if it never got that far (runtime shut down), with
/// `Cancelled` from wherever it is dropped.
struct Once {
    done: Option<Completion>,
    rt: Arc<Runtime>,
}

impl Once {
    fn complete(mut self, result: Result<Arc<Token>>) {
        let done = self.done.take();
        let rt = Arc::clone(&self.rt);
        // If the blocking pool refuses the job (shutting down), `guard` is dropped unrun and
        // reports the cancellation instead.
        let guard = Once {
            done,
            rt: Arc::clone(&rt),
        };
        rt.spawn_blocking(move || {
            let mut guard = guard;
            if let Some(done) = guard.done.take() {
                done(result);
            }
        });
    }
}

impl Drop for Once {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done(Err(Error::new(
                ErrorKind::Cancelled,
                "the library was shut down before the request finished",
            )));
        }
    }
}

/// Stop the library's background work and join its threads (see `runtime::shutdown`).
pub fn shutdown() -> bool {
    runtime::shutdown()
}

impl Client {
    /// What the Oracle adapters (token file, ODPI-C/OCI callbacks) keep for this client.
    pub fn oracle(&self) -> &crate::oracle::ClientState {
        &self.inner.oracle
    }
}

impl Inner {
    fn key(&self, scopes: Scopes) -> CacheKey {
        CacheKey {
            authority: self.credential.authority_label().to_owned(),
            client_id: self.credential.client_label().to_owned(),
            credential: self.credential.fingerprint(),
            scopes,
        }
    }

    fn entry_for(&self, scopes: Option<&str>) -> Result<Cow<'_, Arc<CacheEntry>>> {
        match (scopes, &self.default) {
            (None, Some((_, entry))) => Ok(Cow::Borrowed(entry)),
            (Some(text), Some((configured, entry))) if text == configured => Ok(Cow::Borrowed(entry)),
            (Some(text), _) => Ok(Cow::Owned(cache::entry(self.key(Scopes::parse(text)?)))),
            (None, None) => Err(Error::missing_setting(
                "scope",
                "when get_token is called without scopes (e.g. 'api://<db-app>/.default')",
            )),
        }
    }

    /// Start a background refresh of `entry` unless one is running or backing off.
    fn refresh_in_background(self: &Arc<Self>, entry: &Arc<CacheEntry>) {
        let Ok(rt) = runtime::current() else { return };
        if !entry.begin_background(rt.generation()) {
            return;
        }
        let inner = Arc::clone(self);
        let entry = Arc::clone(entry);
        let task_rt = Arc::clone(&rt);
        log_debug!(
            "{} ({}): token past its refresh_on: background refresh started, callers keep the cached token",
            entry.key().authority,
            entry.key().scopes.joined()
        );
        rt.spawn(async move {
            let result = inner
                .fetch(&task_rt, &entry, Need::NotDue, Interaction::Forbidden)
                .await;
            match &result {
                Ok(_) => log_debug!(
                    "{} ({}): background refresh done",
                    entry.key().authority,
                    entry.key().scopes.joined()
                ),
                Err(e) => log_warn!(
                    "{} ({}): background refresh failed: {}",
                    entry.key().authority,
                    entry.key().scopes.joined(),
                    crate::log::error_summary(e)
                ),
            }
            entry.end_background(result.is_ok(), inner.margin);
        });
    }

    /// Get a token for `entry` through the cache's single flight, bounded by `timeout_ms` —
    /// except when a person may have to sign in (a caller's fetch with `auth_method=device_code`
    /// or `interactive` and `automatic_sign_in`): then each network step is bounded by
    /// `timeout_ms` and the interaction by its own bound (the device code's `expires_in`,
    /// `interactive_timeout_s`), and the async API's cancel ends it. Background refreshes
    /// (`Need::NotDue`) and [`Interaction::Forbidden`] fetches never start a sign-in.
    async fn fetch(
        &self,
        rt: &Runtime,
        entry: &CacheEntry,
        need: Need,
        interaction: Interaction,
    ) -> Result<Arc<Token>> {
        let interaction = interaction == Interaction::Allowed && need != Need::NotDue;
        let flight = entry.fetch(rt.generation(), need, self.margin, || {
            self.obtain(rt, entry.key(), need, interaction)
        });
        #[cfg(feature = "signin")]
        if let Source::User(u) = self.credential.source() {
            if interaction && u.automatic() {
                return flight.await;
            }
        }
        let limit = self.timeout;
        crate::http::bounded(limit, flight, || {
            format!(
                "no token from {} within timeout_ms={}",
                self.credential.authority_label(),
                limit.as_millis()
            )
        })
        .await
    }

    /// The token the leader of the in-process single flight gets: through the host cache when
    /// it is on (another process's token, or one request per host), else by [`Inner::request`].
    async fn obtain(&self, rt: &Runtime, key: &CacheKey, need: Need, interaction: bool) -> Result<Token> {
        match &self.host_cache {
            Some(host) => {
                host.get(key, need, self.margin, || {
                    self.request(rt, &key.scopes, interaction)
                })
                .await
            }
            None => self.request(rt, &key.scopes, interaction).await,
        }
    }

    /// One token request (with the HTTP retry policy), scheduled for proactive refresh.
    async fn request(&self, rt: &Runtime, scopes: &Scopes, interaction: bool) -> Result<Token> {
        let env = Env {
            rt,
            extra_roots: self.extra_roots.as_ref(),
        };
        let mut token = self.credential.get_token(&env, scopes, interaction).await?;
        token.schedule_refresh(self.margin, jitter());
        Ok(token)
    }
}

impl Client {
    /// Sign a person in now (`auth_method=device_code`: through the device-code callback;
    /// `interactive`: in a browser), even when a cached refresh token would still work, and
    /// return a token for `scopes` (`None` = the configured `scope`), which replaces the cached
    /// one. The account and its refresh token are kept (in `cache_file` too, when set), so
    /// later `get_token` calls for any scope of the account are silent. Blocks for the whole
    /// sign-in: bounded by the device code's `expires_in` or `interactive_timeout_s`.
    pub fn sign_in(&self, scopes: Option<&str>) -> Result<Arc<Token>> {
        #[cfg(not(feature = "signin"))]
        {
            let _ = scopes;
            Err(crate::credential::without_signin("auth_method"))
        }
        #[cfg(feature = "signin")]
        self.sign_in_now(scopes)
    }

    #[cfg(feature = "signin")]
    fn sign_in_now(&self, scopes: Option<&str>) -> Result<Arc<Token>> {
        let user = self.person("sign_in")?;
        let entry = self.inner.entry_for(scopes)?;
        let rt = runtime::current()?;
        let env = Env {
            rt: &rt,
            extra_roots: self.inner.extra_roots.as_ref(),
        };
        let mut token = rt.block_on(user.sign_in(&env, &entry.key().scopes))?;
        token.schedule_refresh(self.inner.margin, jitter());
        let token = Arc::new(token);
        entry.store(Arc::clone(&token));
        Ok(token)
    }

    /// Sign the person out (`auth_method=device_code` or `interactive`): forget the account the
    /// settings select (`account`, `login_hint`, or the only one) and its refresh token, in
    /// memory and in `cache_file`, and drop the access tokens this process cached for the
    /// application (authority and client id), so that no later `get_token` hands out a token of
    /// the person signed out; the next one needs a sign-in. Returns the user name of the account
    /// forgotten (`None`: none was signed in). Does not end the person's session at the
    /// identity provider (a browser may still be signed in there).
    pub fn sign_out(&self) -> Result<Option<String>> {
        #[cfg(not(feature = "signin"))]
        {
            Err(crate::credential::without_signin("auth_method"))
        }
        #[cfg(feature = "signin")]
        self.sign_out_now()
    }

    #[cfg(feature = "signin")]
    fn sign_out_now(&self) -> Result<Option<String>> {
        let user = self.person("sign_out")?;
        let rt = runtime::current()?;
        let forgotten = rt.block_on(user.sign_out())?;
        let (authority, client_id) = (
            self.inner.credential.authority_label(),
            self.inner.credential.client_label(),
        );
        cache::clear_where(|k| k.authority == authority && k.client_id == client_id);
        Ok(forgotten)
    }

    /// The person sign-in of this client, or an error naming `auth_method` for `call`.
    #[cfg(feature = "signin")]
    fn person(&self, call: &str) -> Result<&crate::user::UserCredential> {
        match self.inner.credential.source() {
            Source::User(user) => Ok(user),
            _ => Err(Error::invalid_setting(
                "auth_method",
                format!(
                    "is not a person sign-in: {call} needs auth_method=device_code or interactive (this client uses {})",
                    self.inner.credential.kind_name()
                ),
            )),
        }
    }

    /// The credential this client uses (for diagnostics: its kind, the `auto` chain's choice).
    pub fn credential(&self) -> &Credential {
        &self.inner.credential
    }

    /// The kind of credential that gets this client's tokens: with `auth_method=auto`, the one
    /// the chain chose (`None` until one has given a token).
    pub fn credential_in_use(&self) -> Option<&'static str> {
        match self.inner.credential.source() {
            Source::Auto(chain) => chain.chosen().map(Credential::kind_name),
            _ => Some(self.inner.credential.kind_name()),
        }
    }
}

/// A uniformly random fraction in [0, 1) for refresh jitter.
fn jitter() -> f64 {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let n = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    f64::from(n) / (f64::from(u32::MAX) + 1.0)
}
