//! A client: one identity (authority, application, credential) with default scopes, sharing the
//! process-wide cache and runtime. Cheap to clone, safe to use from many threads.

use std::sync::Arc;
use std::time::Duration;

use crate::core::authority::{Authority, AuthorityHost};
use crate::core::cache::{self, CacheEntry, CacheKey, Scopes};
use crate::core::config::Config;
use crate::core::credential::{ClientSecret, Credential};
use crate::core::error::{Error, ErrorKind, Result};
use crate::core::http::{self, ExtraRoots, TokenRequest};
use crate::core::runtime;
use crate::core::token::Token;

#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    authority: Authority,
    client_id: String,
    credential: Credential,
    /// The configured `scope` text and its cache entry, resolved once.
    default: Option<(String, Arc<CacheEntry>)>,
    extra_roots: Option<ExtraRoots>,
    timeout: Duration,
    margin: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("authority", &self.inner.authority.url())
            .field("client_id", &self.inner.client_id)
            .field("credential", &self.inner.credential)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Check the settings and build a client. The config is copied; later changes to it do
    /// not affect the client.
    pub fn new(config: &Config) -> Result<Client> {
        let why = "for the client credentials flow";
        let tenant = config
            .tenant_id
            .as_deref()
            .ok_or_else(|| Error::missing_setting("tenant_id", why))?;
        let client_id = config
            .client_id
            .clone()
            .ok_or_else(|| Error::missing_setting("client_id", why))?;
        let secret = config
            .client_secret
            .clone()
            .ok_or_else(|| Error::missing_setting("client_secret", "(no other credential is configured)"))?;
        let host = config
            .authority_host
            .clone()
            .unwrap_or_else(AuthorityHost::default_host);
        let authority = Authority::new(host, tenant)?;
        let extra_roots = match &config.ca_file {
            Some(path) => Some(ExtraRoots::from_pem_file("ca_file", path)?),
            None => None,
        };
        let credential = Credential::ClientSecret(ClientSecret::new(secret));
        let mut inner = Inner {
            authority,
            client_id,
            credential,
            default: None,
            extra_roots,
            timeout: config.timeout(),
            margin: config.expiry_margin(),
        };
        if let Some(text) = &config.scope {
            let entry = cache::entry(inner.key(Scopes::parse(text)?));
            inner.default = Some((text.clone(), entry));
        }
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// A token for `scopes` (space separated; `None` = the configured `scope`): the cached one
    /// while it has more than `expiry_margin_s` left, else a new one from the identity provider.
    pub fn get_token(&self, scopes: Option<&str>) -> Result<Arc<Token>> {
        let entry = self.inner.entry_for(scopes)?;
        if let Some(token) = entry.fresh(self.inner.margin) {
            return Ok(token);
        }
        self.inner.fetch(&entry, false)
    }

    /// Always ask the identity provider, and replace the cached token for these scopes.
    pub fn refresh_token(&self, scopes: Option<&str>) -> Result<Arc<Token>> {
        let entry = self.inner.entry_for(scopes)?;
        self.inner.fetch(&entry, true)
    }
}

impl Inner {
    fn key(&self, scopes: Scopes) -> CacheKey {
        CacheKey {
            authority: self.authority.url(),
            client_id: self.client_id.clone(),
            credential: self.credential.fingerprint(),
            scopes,
        }
    }

    fn entry_for(&self, scopes: Option<&str>) -> Result<Arc<CacheEntry>> {
        match (scopes, &self.default) {
            (None, Some((_, entry))) => Ok(Arc::clone(entry)),
            (Some(text), Some((configured, entry))) if text == configured => Ok(Arc::clone(entry)),
            (Some(text), _) => Ok(cache::entry(self.key(Scopes::parse(text)?))),
            (None, None) => Err(Error::missing_setting(
                "scope",
                "when get_token is called without scopes (e.g. 'api://<db-app>/.default')",
            )),
        }
    }

    /// Fetch a token for `entry`, one request at a time per entry: callers that wait while
    /// another fetches get its token (unless `force`). Bounded by `timeout_ms` in all.
    fn fetch(&self, entry: &Arc<CacheEntry>, force: bool) -> Result<Arc<Token>> {
        let rt = runtime::current()?;
        let http = rt.http_client(self.extra_roots.as_ref())?;
        let timeout = self.timeout;
        rt.block_on(async {
            match tokio::time::timeout(timeout, self.fetch_single_flight(&http, entry, force)).await {
                Ok(result) => result,
                Err(_) => Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "no token from {} within timeout_ms={}",
                        self.authority.url(),
                        timeout.as_millis()
                    ),
                )),
            }
        })
    }

    async fn fetch_single_flight(
        &self,
        http: &reqwest::Client,
        entry: &CacheEntry,
        force: bool,
    ) -> Result<Arc<Token>> {
        let _flight = entry.flight.lock().await;
        if !force {
            if let Some(token) = entry.fresh(self.margin) {
                return Ok(token);
            }
        }
        let token = Arc::new(self.request(http, &entry.key().scopes).await?);
        entry.store(Arc::clone(&token));
        Ok(token)
    }

    async fn request(&self, http: &reqwest::Client, scopes: &Scopes) -> Result<Token> {
        let endpoint = self.authority.token_endpoint();
        let scope = scopes.joined();
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", self.credential.grant_type()),
            ("scope", scope.as_str()),
        ];
        self.credential.add_fields(&mut form);
        let req = TokenRequest {
            endpoint: &endpoint,
            form,
            correlation_id: uuid::Uuid::new_v4().to_string(),
        };
        http::request_token(http, &req).await
    }
}
