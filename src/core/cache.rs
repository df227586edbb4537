//! The process-wide token cache. Two clients with the same identity and scopes share one entry:
//! one token, one in-flight request.
//!
//! Reading a cached token takes no lock and does no I/O: an entry holds an atomically swapped
//! `Arc<Token>`; a refresh stores a new snapshot and never changes one already handed out.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::core::error::{Error, Result};
use crate::core::token::{unix_now, Token};

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

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// What makes two token requests interchangeable.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// `https://host/tenant`.
    pub authority: String,
    pub client_id: String,
    /// A digest of the credential, so clients with different secrets never share tokens.
    pub credential: [u8; 32],
    pub scopes: Scopes,
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheKey")
            .field("authority", &self.authority)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// One cached token and the lock that makes concurrent fetches for it a single request.
pub struct CacheEntry {
    key: CacheKey,
    token: ArcSwapOption<Token>,
    pub(crate) flight: tokio::sync::Mutex<()>,
}

impl CacheEntry {
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    /// The cached token if it has more than `margin` left. Lock-free.
    pub fn fresh(&self, margin: Duration) -> Option<Arc<Token>> {
        let guard = self.token.load();
        match guard.as_ref() {
            Some(t) if t.is_fresh(unix_now(), margin) => Some(Arc::clone(t)),
            _ => None,
        }
    }

    pub fn store(&self, token: Arc<Token>) {
        self.token.store(Some(token));
    }
}

type Map = RwLock<HashMap<CacheKey, Arc<CacheEntry>>>;

fn map() -> &'static Map {
    static MAP: OnceLock<Map> = OnceLock::new();
    MAP.get_or_init(Default::default)
}

/// The process-wide entry for `key`, created empty on first use.
pub fn entry(key: CacheKey) -> Arc<CacheEntry> {
    if let Some(e) = map().read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Arc::clone(e);
    }
    let mut w = map().write().unwrap_or_else(|p| p.into_inner());
    Arc::clone(w.entry(key.clone()).or_insert_with(|| {
        Arc::new(CacheEntry {
            key,
            token: ArcSwapOption::empty(),
            flight: tokio::sync::Mutex::new(()),
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn same_key_same_entry() {
        let key = |s: &str| CacheKey {
            authority: "https://h/t".into(),
            client_id: "c".into(),
            credential: [7; 32],
            scopes: Scopes::parse(s).unwrap(),
        };
        let a = entry(key("x y"));
        let b = entry(key("y x"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &entry(key("x"))));
        assert!(a.fresh(Duration::ZERO).is_none());
        a.store(Arc::new(Token::new("t", unix_now() + 100, unix_now() + 50)));
        assert!(b.fresh(Duration::from_secs(10)).is_some());
        assert!(b.fresh(Duration::from_secs(200)).is_none());
    }
}
