//! The process-wide token cache and the policy around it. Two clients with the same identity
//! and scopes share one entry: one token, one in-flight request, one throttle.
//!
//! * Reads take no lock and do no I/O: each thread keeps its own replica of the current token
//!   (refreshed when the entry's generation changes), so handing out a token costs one
//!   uncontended reference-count increment, and threads never contend on a shared cache line.
//! * Single flight: callers that need a new token at the same time share one request and all
//!   get its result, success or error.
//! * Proactive refresh: after a token's `refresh_on`, the first reader starts a background
//!   refresh and every reader keeps getting the still-valid token; a failed background refresh
//!   backs off and tries again while the old token stays in use.
//! * Throttling: a `Retry-After` from the identity provider is remembered per entry, so every
//!   thread fails fast with `Throttled` until it passes instead of hammering.
//! * Loop guard: more than [`MAX_FORCED_PER_MINUTE`] forced refreshes of one entry within a
//!   minute are refused locally (Entra would answer AADSTS50196 "loop detected").

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use crate::error::{Error, ErrorKind, Result};
use crate::token::{unix_now, unix_now_coarse, Token};

/// Forced refreshes of one entry allowed per rolling minute.
pub const MAX_FORCED_PER_MINUTE: usize = 10;
/// Throttle applied after a 429 that carries no `Retry-After`.
const DEFAULT_THROTTLE: Duration = Duration::from_secs(5);
/// The longest `Retry-After` honoured (as MSAL does).
const MAX_THROTTLE: Duration = Duration::from_secs(3600);
/// First wait after a failed background refresh; doubles up to [`MAX_BACKOFF_S`].
const FIRST_BACKOFF_S: i64 = 2;
const MAX_BACKOFF_S: i64 = 300;

/// A set of scopes: deduplicated and sorted (as MSAL sends them), so that "b a" and "a b"
/// share a cache entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parse space-separated scopes.
    pub fn parse(text: &str) -> Result<Self> {
        let set: BTreeSet<&str> = text.split_whitespace().collect();
        if set.is_empty() {
            return Err(Error::invalid_argument(
                "scopes",
                "is empty (give at least one scope, e.g. 'api://<db-app>/.default')",
            ));
        }
        if let Some(bad) = set.iter().find(|s| s.chars().any(|c| c.is_control() || c == '"')) {
            let shown: String = bad.chars().filter(|c| !c.is_control()).collect();
            return Err(Error::invalid_argument(
                "scopes",
                &format!("contains an invalid scope '{shown}'"),
            ));
        }
        Ok(Scopes(set.into_iter().map(str::to_owned).collect()))
    }

    /// The form value: scopes joined by single spaces.
    pub fn joined(&self) -> String {
        self.0.join(" ")
    }

    /// The scopes, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// A SHA-256 digest that tells credentials apart in cache keys (a digest of a secret, among
/// others): compared, never shown.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 32]);

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest(..)")
    }
}

/// What makes two token requests interchangeable.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// `https://host/tenant`.
    pub authority: String,
    /// The client id (or the managed identity's selector, the ROPC user).
    pub client_id: String,
    /// A digest of the credential, so clients with different secrets never share tokens.
    pub credential: Digest,
    /// The scopes the token is for.
    pub scopes: Scopes,
}

/// How much a fetch insists on asking the identity provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// A token with more than the margin left; the cached one if it qualifies.
    Usable,
    /// A token not yet due for refresh (background refresh): the cached one if another
    /// refresh already replaced the due one.
    NotDue,
    /// Always a new token (`refresh_token`).
    New,
}

/// What a lock-free read found.
pub enum Lookup {
    /// Usable and not due for refresh.
    Fresh(Arc<Token>),
    /// Usable, but past `refresh_on`: hand it out and refresh in the background.
    Due(Arc<Token>),
    /// Nothing usable: the caller must wait for a new token.
    Missing,
}

/// One in-flight request; everyone who needs it awaits the same result.
struct Flight {
    generation: u64,
    result: tokio::sync::OnceCell<Result<Arc<Token>>>,
}

#[derive(Default)]
struct Policy {
    flight: Option<Arc<Flight>>,
    /// Until when the identity provider asked us not to call, and the error that said so.
    throttled: Option<(Instant, Error)>,
    /// Start times of recent forced refreshes (loop guard).
    forced: VecDeque<Instant>,
}

/// One cached token and the state that governs renewing it.
pub struct CacheEntry {
    id: u64,
    key: CacheKey,
    token: ArcSwapOption<Token>,
    /// Bumped after every store; readers compare it with their replica's.
    generation: AtomicU64,
    policy: Mutex<Policy>,
    /// A background refresh is running (under runtime generation `background_gen`).
    background: AtomicBool,
    background_gen: AtomicU64,
    /// Unix seconds before which no new background refresh starts (backoff after failures).
    background_not_before: AtomicI64,
    background_backoff: AtomicI64,
}

thread_local! {
    /// Per-thread replicas: (entry id, entry generation, token copy).
    static REPLICAS: RefCell<Vec<(u64, u64, Arc<Token>)>> = const { RefCell::new(Vec::new()) };
}

impl CacheEntry {
    /// What the entry caches tokens for.
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    /// The lock-free read: this thread's replica of the current token, classified.
    pub fn lookup(&self, margin: Duration) -> Lookup {
        let generation = self.generation.load(Ordering::Acquire);
        let token = REPLICAS
            .try_with(|r| {
                let mut replicas = r.borrow_mut();
                if let Some(slot) = replicas.iter_mut().find(|(id, _, _)| *id == self.id) {
                    if slot.1 != generation {
                        let current = self.token.load_full()?;
                        *slot = (self.id, generation, Arc::new(current.replicate()));
                    }
                    return Some(Arc::clone(&slot.2));
                }
                let current = self.token.load_full()?;
                let replica = Arc::new(current.replicate());
                replicas.push((self.id, generation, Arc::clone(&replica)));
                Some(replica)
            })
            // During thread teardown there are no thread-locals: read the shared token.
            .unwrap_or_else(|_| self.token.load_full());
        let Some(token) = token else {
            return Lookup::Missing;
        };
        let now = unix_now_coarse();
        if !token.is_fresh(now, margin) {
            Lookup::Missing
        } else if now >= token.refresh_on() {
            Lookup::Due(token)
        } else {
            Lookup::Fresh(token)
        }
    }

    /// The shared token if it satisfies `need` (checked again once a flight is joined).
    fn satisfies(&self, need: Need, margin: Duration) -> Option<Arc<Token>> {
        let token = self.token.load_full()?;
        let now = unix_now();
        match need {
            Need::Usable if token.is_fresh(now, margin) => Some(token),
            Need::NotDue if token.is_fresh(now, margin) && now < token.refresh_on() => Some(token),
            _ => None,
        }
    }

    /// Replace the cached token (a sign-in's or a forced refresh's).
    pub fn store(&self, token: Arc<Token>) {
        self.token.store(Some(token));
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Drop the cached token (a signed-out person's): the next lookup misses.
    pub fn clear(&self) {
        self.token.store(None);
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn policy(&self) -> MutexGuard<'_, Policy> {
        self.policy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Get a token according to `need`, sharing the request with concurrent callers.
    ///
    /// `generation` is the runtime generation the caller runs on (flights of another
    /// generation belong to a runtime that is gone, e.g. the parent's before a fork).
    /// `request` performs one request (with its own retry policy) and returns the new token,
    /// already scheduled for refresh.
    pub async fn fetch<F, Fut>(
        &self,
        generation: u64,
        need: Need,
        margin: Duration,
        request: F,
    ) -> Result<Arc<Token>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>>,
    {
        if need != Need::New {
            if let Some(token) = self.satisfies(need, margin) {
                return Ok(token);
            }
        }
        // Decided under the policy lock; logged after it is released (a log callback may call
        // back into the library).
        enum Setup {
            Throttled(Error),
            Refused(Error),
            Joined(Arc<Flight>),
            Started(Arc<Flight>),
        }
        let setup = {
            let mut policy = self.policy();
            let throttle = match &policy.throttled {
                Some((until, err)) if *until > Instant::now() => {
                    Some(throttled(err, *until - Instant::now()))
                }
                _ => None,
            };
            if let Some(err) = throttle {
                Setup::Throttled(err)
            } else {
                policy.throttled = None;
                match &policy.flight {
                    Some(f) if f.generation == generation && f.result.get().is_none() => {
                        Setup::Joined(Arc::clone(f))
                    }
                    _ => match (need == Need::New)
                        .then(|| loop_guard(&mut policy.forced, &self.key))
                        .transpose()
                    {
                        Err(e) => Setup::Refused(e),
                        Ok(_) => {
                            let f = Arc::new(Flight {
                                generation,
                                result: tokio::sync::OnceCell::new(),
                            });
                            policy.flight = Some(Arc::clone(&f));
                            Setup::Started(f)
                        }
                    },
                }
            }
        };
        let flight = match setup {
            Setup::Throttled(err) => {
                log_debug!(
                    "{} ({}): throttled, not calling the identity provider for another {} s",
                    self.key.authority,
                    self.key.scopes.joined(),
                    err.retry_after().map_or(0, |d| d.as_secs())
                );
                return Err(err);
            }
            Setup::Refused(err) => {
                log_warn!("{}", err.message());
                return Err(err);
            }
            Setup::Joined(f) => {
                log_debug!(
                    "{} ({}): joining the request in flight (single flight)",
                    self.key.authority,
                    self.key.scopes.joined()
                );
                f
            }
            Setup::Started(f) => f,
        };
        let result = flight
            .result
            .get_or_init(|| async {
                // Another flight may have finished while this one was being set up.
                if need != Need::New {
                    if let Some(token) = self.satisfies(need, margin) {
                        return Ok(token);
                    }
                }
                match request().await {
                    Ok(token) => {
                        let now = unix_now();
                        log_info!("{} ({}): new token cached, expires in {} s (at {}), refresh scheduled in {} s (refresh_on {})",
                            self.key.authority, self.key.scopes.joined(),
                            token.expires_on() - now, token.expires_on(),
                            token.refresh_on() - now, token.refresh_on());
                        let token = Arc::new(token);
                        self.store(Arc::clone(&token));
                        Ok(token)
                    }
                    Err(err) => {
                        if err.kind() == ErrorKind::Throttled {
                            let wait = err.retry_after().unwrap_or(DEFAULT_THROTTLE).min(MAX_THROTTLE);
                            log_warn!("{} ({}): throttled by the identity provider; every call fails fast for {} s",
                                self.key.authority, self.key.scopes.joined(), wait.as_secs());
                            self.policy().throttled = Some((Instant::now() + wait, err.clone()));
                        } else {
                            let level = if need == Need::NotDue {
                                crate::log::Level::Warn
                            } else {
                                crate::log::Level::Error
                            };
                            crate::log_at!(level, cid = err.correlation_id();
                                "{} ({}): no token: {}", self.key.authority, self.key.scopes.joined(),
                                crate::log::error_summary(&err));
                        }
                        Err(err)
                    }
                }
            })
            .await
            .clone();
        let mut policy = self.policy();
        if policy.flight.as_ref().is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            policy.flight = None;
        }
        result
    }

    /// Claim the right to start a background refresh now (at most one at a time per entry,
    /// none during a backoff). `generation` as in [`CacheEntry::fetch`].
    pub fn begin_background(&self, generation: u64) -> bool {
        if unix_now() < self.background_not_before.load(Ordering::Relaxed) {
            return false;
        }
        if self.background.swap(true, Ordering::AcqRel) {
            // Running, unless it was started by a runtime that is gone (before a fork).
            if self.background_gen.load(Ordering::Acquire) == generation {
                return false;
            }
        }
        self.background_gen.store(generation, Ordering::Release);
        true
    }

    /// Record how a background refresh ended: success resets the backoff; failure doubles it,
    /// but never waits more than half the time the cached token has left before callers must
    /// wait for a new one (its expiry minus `margin`), at least 1 s: a short-lived token is
    /// retried several times before it runs out instead of expiring during one long backoff.
    pub fn end_background(&self, ok: bool, margin: Duration) {
        if ok {
            self.background_backoff.store(0, Ordering::Relaxed);
            self.background_not_before.store(0, Ordering::Relaxed);
        } else {
            let previous = self.background_backoff.load(Ordering::Relaxed);
            let next = if previous == 0 {
                FIRST_BACKOFF_S
            } else {
                (previous * 2).min(MAX_BACKOFF_S)
            };
            self.background_backoff.store(next, Ordering::Relaxed);
            let now = unix_now();
            let usable_left = self
                .token
                .load()
                .as_ref()
                .map_or(0, |t| t.expires_on() - margin.as_secs() as i64 - now);
            let wait = next.min((usable_left / 2).max(1));
            self.background_not_before.store(now + wait, Ordering::Relaxed);
            log_warn!("{} ({}): background refresh failed; backing off {} s before the next one (the cached token stays in use, usable for {} s more)",
                self.key.authority, self.key.scopes.joined(), wait, usable_left.max(0));
        }
        self.background.store(false, Ordering::Release);
    }
}

/// The error handed to callers while a throttle lasts: the original diagnostics, with the time
/// left to wait.
fn throttled(original: &Error, left: Duration) -> Error {
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    Error::new(
        ErrorKind::Throttled,
        format!(
            "not calling the identity provider for another {secs} s, as it asked (Retry-After); last answer: {}",
            original.message()
        ),
    )
    .with_aadsts(original.aadsts().to_vec())
    .with_retry_after(Duration::from_secs(secs))
    .with_http_status(original.http_status().unwrap_or(429))
}

fn loop_guard(forced: &mut VecDeque<Instant>, key: &CacheKey) -> Result<()> {
    let now = Instant::now();
    while forced
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
    {
        forced.pop_front();
    }
    if forced.len() >= MAX_FORCED_PER_MINUTE {
        return Err(Error::new(
            ErrorKind::TooManyRefreshes,
            format!(
                "refresh_token was called more than {MAX_FORCED_PER_MINUTE} times within a minute for the same \
                 identity and scopes ({}); refusing to ask again (Entra ID would answer AADSTS50196 'loop detected'): \
                 use get_token, which serves the cached token, and refresh only when a server rejects a token",
                key.scopes.joined()
            ),
        ));
    }
    forced.push_back(now);
    Ok(())
}

type Map = RwLock<HashMap<CacheKey, Arc<CacheEntry>>>;

fn map() -> &'static Map {
    static MAP: OnceLock<Map> = OnceLock::new();
    MAP.get_or_init(Default::default)
}

/// Drop the cached tokens of every entry whose key matches `which`; how many entries matched.
pub fn clear_where(which: impl Fn(&CacheKey) -> bool) -> usize {
    let map = map().read().unwrap_or_else(|p| p.into_inner());
    let mut n = 0;
    for (_, e) in map.iter().filter(|(k, _)| which(k)) {
        e.clear();
        n += 1;
    }
    n
}

/// The process-wide entry for `key`, created empty on first use.
pub fn entry(key: CacheKey) -> Arc<CacheEntry> {
    static IDS: AtomicU64 = AtomicU64::new(1);
    if let Some(e) = map().read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Arc::clone(e);
    }
    let mut w = map().write().unwrap_or_else(|p| p.into_inner());
    Arc::clone(w.entry(key.clone()).or_insert_with(|| {
        Arc::new(CacheEntry {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            key,
            token: ArcSwapOption::empty(),
            generation: AtomicU64::new(0),
            policy: Mutex::new(Policy::default()),
            background: AtomicBool::new(false),
            background_gen: AtomicU64::new(0),
            background_not_before: AtomicI64::new(0),
            background_backoff: AtomicI64::new(0),
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> CacheKey {
        CacheKey {
            authority: "https://h/t".into(),
            client_id: "c".into(),
            credential: Digest([7; 32]),
            scopes: Scopes::parse(s).unwrap(),
        }
    }

    #[test]
    fn scopes_are_sorted_and_deduplicated() {
        let s = Scopes::parse("  b/.default a/.default b/.default ").unwrap();
        assert_eq!(s.joined(), "a/.default b/.default");
        assert_eq!(s, Scopes::parse("a/.default b/.default").unwrap());
        assert!(Scopes::parse("   ").is_err());
        assert!(Scopes::parse("a\u{1}b")
            .unwrap_err()
            .message()
            .contains("'scopes'"));
    }

    #[test]
    fn same_key_same_entry_and_lookup_classifies() {
        let a = entry(key("x y"));
        let b = entry(key("y x"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &entry(key("x"))));
        assert!(matches!(a.lookup(Duration::ZERO), Lookup::Missing));
        let now = unix_now();
        a.store(Arc::new(Token::new("t", now + 100, now + 50)));
        assert!(matches!(b.lookup(Duration::from_secs(10)), Lookup::Fresh(_)));
        assert!(matches!(b.lookup(Duration::from_secs(200)), Lookup::Missing));
        a.store(Arc::new(Token::new("u", now + 100, now - 1)));
        match b.lookup(Duration::from_secs(10)) {
            Lookup::Due(t) => assert_eq!(t.secret(), "u", "the replica follows the new generation"),
            _ => panic!("past refresh_on: due"),
        }
    }

    #[test]
    fn loop_guard_refuses_the_eleventh_forced_refresh_in_a_minute() {
        let k = key("loop");
        let mut forced = VecDeque::new();
        for _ in 0..MAX_FORCED_PER_MINUTE {
            loop_guard(&mut forced, &k).unwrap();
        }
        let e = loop_guard(&mut forced, &k).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooManyRefreshes);
        assert!(e.message().contains("AADSTS50196"));
    }

    #[test]
    fn background_refresh_is_claimed_once_and_backs_off() {
        let e = entry(key("bg"));
        assert!(e.begin_background(1));
        assert!(!e.begin_background(1), "one at a time");
        assert!(
            e.begin_background(2),
            "a claim from a runtime that is gone does not count"
        );
        e.end_background(false, Duration::ZERO);
        assert!(!e.begin_background(2), "backing off after a failure");
        e.background_not_before.store(0, Ordering::Relaxed);
        assert!(e.begin_background(2));
        e.end_background(true, Duration::ZERO);
        assert_eq!(e.background_backoff.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn background_backoff_never_outlasts_half_the_token_s_usable_life() {
        let e = entry(key("bg-short"));
        let now = unix_now();
        // Usable for 10 s more (expiry in 13 s, margin 3 s).
        e.store(Arc::new(Token::new("t", now + 13, now)));
        let margin = Duration::from_secs(3);
        let mut waits = Vec::new();
        for _ in 0..6 {
            assert!(e.begin_background(1));
            e.end_background(false, margin);
            waits.push(e.background_not_before.load(Ordering::Relaxed) - unix_now());
            e.background_not_before.store(0, Ordering::Relaxed);
        }
        // The doubling (2, 4, 8, 16 … s) goes on underneath, but no wait exceeds 10 / 2 s.
        assert_eq!(e.background_backoff.load(Ordering::Relaxed), 64);
        assert!(waits.iter().all(|w| (1..=5).contains(w)), "{waits:?}");
        assert!(waits[0] <= 2 && waits[5] >= 4, "{waits:?}");
        // A token already inside the margin: retried after 1 s.
        e.store(Arc::new(Token::new("u", now + 2, now)));
        assert!(e.begin_background(1));
        e.end_background(false, margin);
        assert!((0..=1).contains(&(e.background_not_before.load(Ordering::Relaxed) - unix_now())));
        // A long-lived token keeps the plain doubling.
        e.background_not_before.store(0, Ordering::Relaxed);
        e.store(Arc::new(Token::new("v", now + 3600, now)));
        assert!(e.begin_background(1));
        e.end_background(false, margin);
        assert!(e.background_not_before.load(Ordering::Relaxed) - unix_now() >= 127);
    }
}
