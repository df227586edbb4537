//! Oracle Database integration: the token file of `TOKEN_AUTH=OAUTH` + `TOKEN_LOCATION`
//! (19c/21c clients) and its keeper, Oracle-style setting names, and the per-client state the
//! ODPI-C / OCI adapters need.

pub mod keeper;
pub mod settings;
pub mod token_file;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::token::{unix_now, Token};

pub use keeper::{Keeper, KeeperEvent, KeeperOptions, KeeperStatus};
pub use token_file::TokenFile;

/// What a client keeps for the Oracle adapters: its `token_location` and `expiry_margin_s`
/// (read by the token-file keeper), and per thread the last token lent to a driver callback.
///
/// ODPI-C and OCI take the token as a pointer and a length and copy it right after the callback
/// returns; the bytes must stay valid until then. [`ClientState::lend`] keeps the lent token
/// alive until the same thread borrows again from the same client, or the client is dropped —
/// per thread, so that a refresh on one thread never pulls the bytes from under another.
#[derive(Debug)]
pub struct ClientState {
    token_location: Option<PathBuf>,
    expiry_margin: Duration,
    lent: Mutex<HashMap<ThreadId, Lent>>,
}

#[derive(Debug, Default)]
struct Lent {
    token: Option<Arc<Token>>,
    error: Option<Error>,
}

/// Tokens lent to threads that have not borrowed since are let go this long after they expire.
const LENT_GRACE_S: i64 = 60;

impl ClientState {
    /// The Oracle state of a client built from `config` (`token_location`, `expiry_margin_s`).
    pub fn new(config: &Config) -> ClientState {
        ClientState {
            token_location: config.token_location().map(Path::to_path_buf),
            expiry_margin: config.expiry_margin(),
            lent: Mutex::new(HashMap::new()),
        }
    }

    /// The client's `token_location` setting.
    pub fn token_location(&self) -> Option<&Path> {
        self.token_location.as_deref()
    }

    /// The client's `expiry_margin_s`.
    pub fn expiry_margin(&self) -> Duration {
        self.expiry_margin
    }

    /// Record the outcome of a borrow on the calling thread: a token is kept alive (replacing
    /// the thread's previous one) and returned; an error is remembered for [`Self::last_error`].
    pub fn lend(&self, result: Result<Arc<Token>>) -> Result<Arc<Token>> {
        let me = std::thread::current().id();
        let now = unix_now();
        let mut lent = self.lent.lock().unwrap_or_else(|p| p.into_inner());
        // Other threads' expired tokens are of no use to anyone: let them go.
        lent.retain(|id, l| {
            *id == me
                || l.error.is_some()
                || l.token
                    .as_ref()
                    .is_some_and(|t| t.expires_on() + LENT_GRACE_S > now)
        });
        let slot = lent.entry(me).or_default();
        match &result {
            Ok(token) => {
                slot.token = Some(Arc::clone(token));
                slot.error = None;
            }
            Err(e) => slot.error = Some(e.clone()),
        }
        result
    }

    /// The error of the calling thread's last failed borrow, if its last borrow failed.
    pub fn last_error(&self) -> Option<Error> {
        let me = std::thread::current().id();
        let lent = self.lent.lock().unwrap_or_else(|p| p.into_inner());
        lent.get(&me).and_then(|l| l.error.clone())
    }
}
