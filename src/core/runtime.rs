//! The process-wide async machinery: one small tokio runtime and the shared HTTP clients,
//! built lazily on first network use.
//!
//! The runtime is `current_thread`: it starts no thread of its own; each caller that needs the
//! network drives it with `block_on` on its own thread (concurrent callers each poll their own
//! future, one of them runs the I/O driver). Cached tokens never come here.
//!
//! Fork: a child process inherits the parent's runtime and pooled TLS connections, which it
//! must not use (a multi-thread runtime has no workers in the child and hangs; a pooled TLS
//! stream shared by two processes corrupts both). So the state remembers the pid that built
//! it, and a process that finds another pid builds a fresh state and deliberately leaks the
//! inherited one (dropping it would close the parent's connections).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use crate::core::error::{Error, Result};
use crate::core::http::{build_client, ExtraRoots};

pub struct Runtime {
    pid: u32,
    rt: tokio::runtime::Runtime,
    clients: Mutex<HashMap<Option<ExtraRoots>, reqwest::Client>>,
}

static CURRENT: ArcSwapOption<Runtime> = ArcSwapOption::const_empty();
static BUILD: Mutex<()> = Mutex::new(());

/// The runtime of this process, built on first use (and again in a forked child).
pub fn current() -> Result<Arc<Runtime>> {
    let pid = std::process::id();
    if let Some(rt) = CURRENT.load_full().filter(|rt| rt.pid == pid) {
        return Ok(rt);
    }
    let _guard = BUILD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(rt) = CURRENT.load_full() {
        if rt.pid == pid {
            return Ok(rt);
        }
        // Inherited from the parent: never drop it here (see the module comment).
        std::mem::forget(rt);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::internal(format!("could not start the async runtime: {e}")))?;
    let fresh = Arc::new(Runtime {
        pid,
        rt,
        clients: Mutex::new(HashMap::new()),
    });
    CURRENT.store(Some(fresh.clone()));
    Ok(fresh)
}

impl Runtime {
    /// Run a future to completion on the calling thread.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }

    /// The shared HTTP client for one trust configuration (connections are pooled per client).
    pub fn http_client(&self, extra: Option<&ExtraRoots>) -> Result<reqwest::Client> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&extra.cloned()) {
            return Ok(c.clone());
        }
        let client = build_client(extra)?;
        clients.insert(extra.cloned(), client.clone());
        Ok(client)
    }
}
