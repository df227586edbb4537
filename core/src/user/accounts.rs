//! Signed-in accounts and their refresh tokens: one store per application (authority and
//! client id) and cache file, shared by every client of the process.
//!
//! Changes happen under the store's lock — in the process, and with `cache_file` also across
//! processes (an exclusive `flock` of the cache file's lock file) — and the file is read again
//! under that lock before a refresh token is used and before it is written, so that two
//! processes never refresh with the same refresh token or lose the rotated one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

pub use super::account::Account;
use super::cache_file::{CacheFile, FileLock};

/// Check the `account` setting (`key`): a home account id as aadtoken reports it after a
/// sign-in — `<object id>.<tenant id>` (Entra), or `<sub>.<issuer>` for an OpenID issuer that
/// names people only by `sub` — printable ASCII without spaces. Compared without regard to case.
pub fn check_home_account_id(key: &str, value: &str) -> Result<String> {
    let ok = value.len() <= 1024
        && value.split_once('.').is_some_and(|(u, t)| {
            !u.is_empty() && !t.is_empty() && value.bytes().all(|c| c.is_ascii_graphic())
        });
    if !ok {
        return Err(Error::invalid_setting(
            key,
            "must be a home account id '<object id>.<tenant id>' (or '<sub>.<issuer>'), as aadtoken reports it after a sign-in",
        ));
    }
    Ok(value.to_owned())
}

/// The accounts of one application, in memory and optionally in a cache file.
pub struct AccountStore {
    authority: String,
    client_id: String,
    file: Option<CacheFile>,
    /// Accounts when there is no cache file.
    memory: Mutex<Vec<Account>>,
    /// Held while the accounts are read, a refresh token is used and the result saved.
    busy: tokio::sync::Mutex<()>,
}

type Stores = Mutex<HashMap<(String, String, Option<PathBuf>), Arc<AccountStore>>>;

impl AccountStore {
    /// The process-wide store of this application and cache file. A cache file is checked
    /// (owner, permissions, content) every time a client is built with it.
    pub fn for_client(authority: &str, client_id: &str, file: Option<&Path>) -> Result<Arc<AccountStore>> {
        static STORES: OnceLock<Stores> = OnceLock::new();
        let checked = file.map(CacheFile::open).transpose()?;
        let key = (
            authority.to_owned(),
            client_id.to_ascii_lowercase(),
            file.map(Path::to_path_buf),
        );
        let mut stores = STORES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Ok(Arc::clone(stores.entry(key).or_insert_with(|| {
            Arc::new(AccountStore {
                authority: authority.to_owned(),
                client_id: client_id.to_owned(),
                file: checked,
                memory: Mutex::new(Vec::new()),
                busy: tokio::sync::Mutex::new(()),
            })
        })))
    }

    /// The cache file, when there is one.
    pub fn file_path(&self) -> Option<&Path> {
        self.file.as_ref().map(CacheFile::path)
    }

    /// Take the store's lock (waiting at most `wait`), and read the accounts (from the file,
    /// again, when there is one).
    pub async fn lock(&self, wait: Duration) -> Result<StoreGuard<'_>> {
        let timed_out = || {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "the account store{} stayed busy for timeout_ms={}",
                    self.file_path()
                        .map(|p| format!(" ({})", p.display()))
                        .unwrap_or_default(),
                    wait.as_millis()
                ),
            )
        };
        let started = tokio::time::Instant::now();
        let busy = tokio::time::timeout(wait, self.busy.lock())
            .await
            .map_err(|_| timed_out())?;
        let (file_lock, all) = match &self.file {
            Some(f) => {
                let left = wait.saturating_sub(started.elapsed());
                let lock = f.lock(left).await?;
                (Some(lock), f.load()?)
            }
            None => (
                None,
                self.memory.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            ),
        };
        Ok(StoreGuard {
            store: self,
            _busy: busy,
            _file: file_lock,
            all,
        })
    }
}

/// The store, locked; the accounts as read under the lock.
pub struct StoreGuard<'a> {
    store: &'a AccountStore,
    _busy: tokio::sync::MutexGuard<'a, ()>,
    _file: Option<FileLock>,
    /// Every account read (a cache file may hold other applications' too).
    all: Vec<Account>,
}

impl StoreGuard<'_> {
    /// This application's accounts.
    pub fn accounts(&self) -> Vec<&Account> {
        self.all
            .iter()
            .filter(|a| {
                a.authority == self.store.authority && a.client_id.eq_ignore_ascii_case(&self.store.client_id)
            })
            .collect()
    }

    /// Add or replace (same application and home account id) an account, and write the store.
    pub fn save(&mut self, account: Account) -> Result<()> {
        match self.all.iter_mut().find(|a| a.same(&account)) {
            Some(slot) => *slot = account,
            None => self.all.push(account),
        }
        self.write()
    }
}

impl StoreGuard<'_> {
    /// Remove an account (same application and home account id) and write the store.
    pub fn remove(&mut self, account: &Account) -> Result<()> {
        self.all.retain(|a| !a.same(account));
        self.write()
    }

    fn write(&self) -> Result<()> {
        match &self.store.file {
            Some(f) => f.save(&self.all),
            None => {
                *self.store.memory.lock().unwrap_or_else(|p| p.into_inner()) = self.all.clone();
                Ok(())
            }
        }
    }
}

/// The account to use: the one `account` (home account id) names, else the one `login_hint`
/// (user name) names (or the only account without a user name), else the only one. `None` when the named one (or any) is not there;
/// an error when several are cached and nothing says which.
pub fn select<'a>(
    accounts: Vec<&'a Account>,
    account: Option<&str>,
    login_hint: Option<&str>,
) -> Result<Option<&'a Account>> {
    if let Some(id) = account {
        return Ok(accounts
            .into_iter()
            .find(|a| a.home_account_id.eq_ignore_ascii_case(id)));
    }
    if let Some(hint) = login_hint {
        if let Some(a) = accounts.iter().find(|a| a.username.eq_ignore_ascii_case(hint)) {
            return Ok(Some(a));
        }
        // An issuer that told no user name (an id token with `sub` only): the one such account
        // may well be the hinted person, so its refresh token is tried before anyone is asked.
        let mut unnamed = accounts.into_iter().filter(|a| a.username.is_empty());
        return Ok(match (unnamed.next(), unnamed.next()) {
            (Some(a), None) => Some(a),
            _ => None,
        });
    }
    match accounts.len() {
        0 | 1 => Ok(accounts.into_iter().next()),
        _ => {
            let names: Vec<String> = accounts
                .iter()
                .map(|a| format!("{} ({})", a.username, a.home_account_id))
                .collect();
            Err(Error::missing_setting(
                "login_hint",
                &format!(
                    "(or 'account') to choose among the signed-in accounts: {}",
                    names.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;

    fn acct(user: &str, id: &str) -> Account {
        Account {
            authority: "https://h/t".into(),
            client_id: "c".into(),
            home_account_id: id.into(),
            username: user.into(),
            name: None,
            tenant_id: "t".into(),
            refresh_token: SecretString::new("rt"),
            updated_on: 0,
        }
    }

    #[test]
    fn selection_by_account_hint_or_the_only_one() {
        let a = acct("a@x", "1.t");
        let b = acct("b@x", "2.t");
        assert!(select(vec![], None, None).unwrap().is_none());
        assert_eq!(select(vec![&a], None, None).unwrap().unwrap().username, "a@x");
        let e = select(vec![&a, &b], None, None).unwrap_err();
        crate::error::assert_error(&e, ErrorKind::MissingSetting, &["a@x (1.t)", "'login_hint'"]);
        assert_eq!(
            select(vec![&a, &b], None, Some("B@X"))
                .unwrap()
                .unwrap()
                .home_account_id,
            "2.t"
        );
        assert_eq!(
            select(vec![&a, &b], Some("1.T"), Some("b@x"))
                .unwrap()
                .unwrap()
                .username,
            "a@x"
        );
        assert!(select(vec![&a], Some("9.t"), None).unwrap().is_none());
    }

    #[test]
    fn a_login_hint_falls_back_to_the_one_account_without_a_user_name() {
        let named = acct("a@x", "1.t");
        let unnamed = acct("", "sub.https://i");
        let got = select(vec![&named, &unnamed], None, Some("b@x"))
            .unwrap()
            .unwrap();
        assert_eq!(got.home_account_id, "sub.https://i");
        let other = acct("", "sub2.https://i");
        assert!(select(vec![&unnamed, &other], None, Some("b@x"))
            .unwrap()
            .is_none());
        assert!(select(vec![&named], None, Some("b@x")).unwrap().is_none());
    }
}
