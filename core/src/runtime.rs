//! The process-wide async machinery: one small tokio runtime and the shared HTTP clients,
//! built lazily on first network use.
//!
//! The runtime has one worker thread (`aadtoken-worker`): it drives connections and timers and
//! runs background work (proactive refreshes, async requests). A thread that must wait for a
//! token polls its own future on its own thread (`Handle::block_on`); cached tokens never come
//! here. Idle, that one worker is the library's only thread (plus, transiently, a resolver
//! thread for host names and a thread that runs async callbacks).
//!
//! Fork: a child process inherits the parent's runtime (without its worker thread) and pooled
//! TLS connections, which it must not use (the runtime would hang; a TLS stream shared by two
//! processes corrupts both). So the state remembers the pid that built it, and a process that
//! finds another pid builds a fresh state and deliberately leaks the inherited one (dropping it
//! would close the parent's connections). Each state has a generation number so that in-flight
//! requests recorded by another generation (the parent's) are never waited for.
//!
//! Shutdown: [`shutdown`] stops the runtime and joins its threads (for `dlclose` and JVM exit).
//! The next network use builds a new runtime, so the library keeps working afterwards.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::error::{Error, Result};
use crate::http::{build_client, ExtraRoots};

pub struct Runtime {
    pid: u32,
    generation: u64,
    handle: tokio::runtime::Handle,
    /// Owned here so that [`shutdown`] can stop it; `None` once stopped.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    clients: Mutex<HashMap<(Option<ExtraRoots>, bool), reqwest::Client>>,
}

static CURRENT: ArcSwapOption<Runtime> = ArcSwapOption::const_empty();
static BUILD: Mutex<()> = Mutex::new(());
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// How long [`shutdown`] waits for background work to stop.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// The runtime of this process, built on first use (and again in a forked child or after
/// [`shutdown`]).
pub fn current() -> Result<Arc<Runtime>> {
    let pid = std::process::id();
    if let Some(rt) = CURRENT.load_full().filter(|rt| rt.pid == pid) {
        return Ok(rt);
    }
    let guard = BUILD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut forked = false;
    if let Some(rt) = CURRENT.load_full() {
        if rt.pid == pid {
            return Ok(rt);
        }
        // Inherited from the parent: never drop it here (see the module comment).
        forked = true;
        std::mem::forget(rt);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(8)
        .thread_name("aadtoken-worker")
        .thread_keep_alive(Duration::from_secs(10))
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::internal(format!("could not start the async runtime: {e}")))?;
    let fresh = Arc::new(Runtime {
        pid,
        generation: GENERATION.fetch_add(1, Ordering::Relaxed) + 1,
        handle: runtime.handle().clone(),
        runtime: Mutex::new(Some(runtime)),
        clients: Mutex::new(HashMap::new()),
    });
    CURRENT.store(Some(fresh.clone()));
    // Logged once the lock is released: a log callback may call back into the library.
    drop(guard);
    if forked {
        log_info!(
            "running in a forked child (pid {pid}): started a runtime of its own, leaving the parent's alone"
        );
    }
    log_debug!(
        "runtime started (generation {}, one worker thread)",
        fresh.generation
    );
    Ok(fresh)
}

/// Stop background work and join the library's threads. Tokens already cached stay cached;
/// the next call that needs the network starts a new runtime. Returns `true` if a runtime was
/// running.
pub fn shutdown() -> bool {
    // Logged before the lock is taken: a log callback may call back into the library.
    log_debug!("shutdown: stopping the runtime and joining its threads");
    let _guard = BUILD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(rt) = CURRENT.swap(None) else {
        return false;
    };
    if rt.pid != std::process::id() {
        std::mem::forget(rt); // a parent's runtime: not ours to stop
        return false;
    }
    let runtime = rt.runtime.lock().unwrap_or_else(|p| p.into_inner()).take();
    match runtime {
        Some(runtime) => {
            runtime.shutdown_timeout(SHUTDOWN_WAIT);
            true
        }
        None => false,
    }
}

impl Runtime {
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Run a future to completion on the calling thread (the worker drives its I/O).
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.handle.block_on(fut)
    }

    /// Run a future in the background on the worker.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.handle.spawn(fut));
    }

    /// Run a blocking closure (a host callback) on a library thread that is not the worker,
    /// so that it may call back into the library.
    pub fn spawn_blocking<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        drop(self.handle.spawn_blocking(f));
    }

    /// The shared HTTP client for one trust configuration (connections are pooled per client);
    /// `direct`: the one that never uses a proxy (managed-identity endpoints).
    pub fn http_client(&self, extra: Option<&ExtraRoots>, direct: bool) -> Result<reqwest::Client> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let key = (extra.cloned(), direct);
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let client = build_client(extra, direct)?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}
