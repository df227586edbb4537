//! The HTTPS server and the [`MockServer`] handle.

use std::collections::VecDeque;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::keys::{ServerCert, SigningKey, TlsMaterial};
use crate::registry::{Client, Registry, Resource, Tenant};
use crate::respond::Disconnect;
use crate::routes;
use crate::state::{lock, Counters, Fault, LoggedRequest, RefreshIn, Shared, TokenBehaviour};

/// Start-up configuration of a [`MockServer`].
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// TCP port on 127.0.0.1; 0 (default) picks a free one.
    pub port: u16,
    /// Tenants, clients and resources; default: the fixtures.
    pub registry: Registry,
    /// Initial token-endpoint behaviour; [`MockServer::reset`] returns to it.
    pub behaviour: TokenBehaviour,
    /// Where to write the CA certificate (PEM). `None` (default): a file in a temporary
    /// directory owned by the server and removed when it stops.
    pub ca_out: Option<PathBuf>,
    /// Maximum number of logged requests kept (oldest dropped first); 0 = unlimited.
    /// Default 10 000.
    pub log_capacity: usize,
    /// Tokio worker threads of a server started with [`MockServer::spawn`] (default 2).
    pub worker_threads: usize,
    /// The server certificate presented (default: valid for `localhost` and `127.0.0.1`).
    pub server_cert: ServerCert,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            port: 0,
            registry: Registry::default(),
            behaviour: TokenBehaviour::default(),
            ca_out: None,
            log_capacity: 10_000,
            worker_threads: 2,
            server_cert: ServerCert::Valid,
        }
    }
}

impl MockConfig {
    /// Sets the port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Replaces the registry.
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Sets the initial behaviour.
    pub fn with_behaviour(mut self, behaviour: TokenBehaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// Sets the initial token lifetime in seconds.
    pub fn with_token_lifetime(mut self, secs: u64) -> Self {
        self.behaviour.token_lifetime_s = secs;
        self
    }

    /// Presents this server certificate.
    pub fn with_server_cert(mut self, cert: ServerCert) -> Self {
        self.server_cert = cert;
        self
    }

    /// Writes the CA PEM to this path (atomically) instead of a temporary directory.
    pub fn with_ca_out(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_out = Some(path.into());
        self
    }
}

/// Writes `contents` to a temporary file beside `path`, then renames it over `path`, so a
/// reader never sees a partial file.
pub fn write_file_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    // Unique per process and call: two mocks of one process writing the same path must not
    // rename each other's temporary file away.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

struct Prepared {
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    tls: TlsAcceptor,
    ca_pem: String,
    ca_file: PathBuf,
    ca_dir: Option<tempfile::TempDir>,
}

/// `e` with the step that failed in front, so a start-up failure says what went wrong.
fn step(what: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn prepare(cfg: MockConfig) -> io::Result<Prepared> {
    let listener =
        std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, cfg.port)).map_err(step("binding 127.0.0.1"))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let key = SigningKey::generate().map_err(step("generating the signing key"))?;
    let tls = TlsMaterial::generate(cfg.server_cert).map_err(step("generating the TLS certificates"))?;
    let (ca_file, ca_dir) = match cfg.ca_out {
        Some(path) => {
            write_file_atomic(&path, tls.ca_pem.as_bytes()).map_err(step("writing the CA file"))?;
            (path, None)
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("aadtoken-mock-")
                .tempdir()
                .map_err(step("creating the CA file's directory"))?;
            let path = dir.path().join("ca.pem");
            std::fs::write(&path, tls.ca_pem.as_bytes()).map_err(step("writing the CA file"))?;
            (path, Some(dir))
        }
    };
    let shared = Arc::new(Shared {
        registry: RwLock::new(cfg.registry),
        behaviour: Mutex::new(cfg.behaviour.clone()),
        initial_behaviour: cfg.behaviour,
        faults: Mutex::new(VecDeque::new()),
        counters: Mutex::new(Counters::default()),
        log: Mutex::new(VecDeque::new()),
        log_capacity: cfg.log_capacity,
        seq: AtomicU64::new(0),
        key,
        port,
        user_flows: Mutex::new(Default::default()),
    });
    Ok(Prepared {
        shared,
        listener,
        tls: TlsAcceptor::from(tls.server_config),
        ca_pem: tls.ca_pem,
        ca_file,
        ca_dir,
    })
}

#[derive(Debug)]
struct DisconnectNow;

impl std::fmt::Display for DisconnectNow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected disconnect")
    }
}

impl std::error::Error for DisconnectNow {}

async fn handle_conn(tcp: TcpStream, acceptor: TlsAcceptor, app: Router) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        _ => return,
    };
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        async move {
            let resp = app.oneshot(req).await.unwrap_or_else(|e| match e {});
            if resp.extensions().get::<Disconnect>().is_some() {
                Err(DisconnectNow)
            } else {
                Ok(resp)
            }
        }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), svc)
        .await;
}

async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    conns.spawn(handle_conn(tcp, acceptor.clone(), app.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    conns.abort_all();
}

/// Start-up failures that load causes and that go away: a thread that cannot be created yet
/// (`EAGAIN`), no free port for a port-0 bind, an interrupted call. (A fixed `port` in use is
/// not one: it stays in use.)
fn is_transient(e: &io::Error, port: u16) -> bool {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => true,
        io::ErrorKind::AddrInUse | io::ErrorKind::AddrNotAvailable => port == 0,
        _ => false,
    }
}

/// A server's off switch: the sender that ends its accept loop, and the thread that runs it
/// (when it has its own). Dropping it stops the server and waits for that thread.
pub(crate) struct Running {
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub(crate) fn new(shutdown: oneshot::Sender<()>, thread: Option<std::thread::JoinHandle<()>>) -> Self {
        Running {
            shutdown: Some(shutdown),
            thread,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A running mock. Dropping it stops the server (and removes its temporary CA file).
pub struct MockServer {
    pub(crate) shared: Arc<Shared>,
    base_url: String,
    ca_pem: String,
    ca_file: PathBuf,
    /// Before `_ca_dir`: the server stops before its CA file goes.
    _running: Running,
    _ca_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("base_url", &self.base_url)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts a server on its own thread and Tokio runtime; returns once it is listening.
    ///
    /// On a loaded machine (many test processes at once) creating threads or finding a free
    /// port can fail for a moment; those failures are retried a few times before giving up.
    ///
    /// # Panics
    /// If the server cannot start (see [`MockServer::try_spawn`]); the message names the step
    /// that failed and why.
    pub fn spawn(cfg: MockConfig) -> MockServer {
        let mut attempt = 0;
        loop {
            match Self::try_spawn(cfg.clone()) {
                Ok(server) => return server,
                Err(e) if attempt < 5 && is_transient(&e, cfg.port) => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100 << attempt));
                }
                Err(e) => panic!("aadtoken-mock: failed to start (attempt {}): {e}", attempt + 1),
            }
        }
    }

    /// Like [`MockServer::spawn`], returning start-up errors (port in use, key generation,
    /// CA file not writable, threads that cannot be created), each naming the step that failed.
    pub fn try_spawn(cfg: MockConfig) -> io::Result<MockServer> {
        let workers = cfg.worker_threads.max(1);
        let p = prepare(cfg)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("aadtoken-mock-worker")
            .enable_all()
            .build()
            .map_err(step("starting the runtime's threads"))?;
        let listener = {
            let _guard = rt.enter();
            TcpListener::from_std(p.listener)?
        };
        let (tx, rx) = oneshot::channel();
        let app = routes::router(p.shared.clone());
        let acceptor = p.tls;
        let thread = std::thread::Builder::new()
            .name(format!("aadtoken-mock-{}", p.shared.port))
            .spawn(move || {
                rt.block_on(serve(listener, acceptor, app, rx));
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(step("starting the server thread"))?;
        Ok(Self::new(
            p.shared,
            p.ca_pem,
            p.ca_file,
            p.ca_dir,
            tx,
            Some(thread),
        ))
    }

    /// Starts a server on the current Tokio runtime; returns once it is listening.
    pub async fn start(cfg: MockConfig) -> io::Result<MockServer> {
        let p = tokio::task::spawn_blocking(move || prepare(cfg))
            .await
            .map_err(io::Error::other)??;
        let listener = TcpListener::from_std(p.listener)?;
        let (tx, rx) = oneshot::channel();
        tokio::spawn(serve(listener, p.tls, routes::router(p.shared.clone()), rx));
        Ok(Self::new(p.shared, p.ca_pem, p.ca_file, p.ca_dir, tx, None))
    }

    fn new(
        shared: Arc<Shared>,
        ca_pem: String,
        ca_file: PathBuf,
        ca_dir: Option<tempfile::TempDir>,
        shutdown: oneshot::Sender<()>,
        thread: Option<std::thread::JoinHandle<()>>,
    ) -> Self {
        MockServer {
            base_url: format!("https://127.0.0.1:{}", shared.port),
            shared,
            ca_pem,
            ca_file,
            _running: Running::new(shutdown, thread),
            _ca_dir: ca_dir,
        }
    }

    /// Stops the server (same as dropping it).
    pub fn shutdown(self) {}

    // --- addresses -------------------------------------------------------------------

    /// `https://127.0.0.1:PORT` (no trailing slash). `https://localhost:PORT` works too.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// `{base_url}/{tenant}`: the authority URL for a tenant id or domain.
    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.base_url)
    }

    /// `{base_url}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url)
    }

    /// Path of the CA certificate (PEM) that clients must trust.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The environment of an application that reads its settings from it, as a deployment
    /// passes them, for the registered confidential client ([`CLIENT_ID`](crate::CLIENT_ID)):
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_AUTHORITY_HOST` and
    /// `AADTOKEN_SETTINGS` (the scope and this server's CA file). For `Command::envs`.
    pub fn app_env(&self) -> [(&'static str, String); 5] {
        use crate::registry::{CLIENT_ID, CLIENT_SECRET, SCOPE, TENANT_ID};
        [
            ("AZURE_TENANT_ID", TENANT_ID.to_owned()),
            ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
            ("AZURE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("AZURE_AUTHORITY_HOST", self.base_url.clone()),
            (
                "AADTOKEN_SETTINGS",
                format!("scope={SCOPE}; ca_file={}", self.ca_file.display()),
            ),
        ]
    }

    // --- tokens ------------------------------------------------------------------------

    /// The `kid` of the token-signing key (as in the JWKS).
    pub fn signing_kid(&self) -> &str {
        &self.shared.key.kid
    }

    /// Verifies an access token minted by this server (RS256 signature and `kid`) and returns
    /// its claims. Does not check `exp`.
    pub fn verify_token(&self, jwt: &str) -> Result<serde_json::Value, String> {
        self.shared.key.verify_jwt(jwt)
    }

    // --- counters and log --------------------------------------------------------------

    /// Token-endpoint requests so far (any outcome).
    pub fn token_requests(&self) -> u64 {
        lock(&self.shared.counters).token_requests
    }

    /// Token-endpoint requests that presented this client id.
    pub fn token_requests_for(&self, client_id: &str) -> u64 {
        lock(&self.shared.counters)
            .token_requests_by_client
            .get(client_id)
            .copied()
            .unwrap_or(0)
    }

    /// Successful token responses so far.
    pub fn tokens_issued(&self) -> u64 {
        lock(&self.shared.counters).tokens_issued
    }

    /// A snapshot of all counters.
    pub fn counters(&self) -> Counters {
        lock(&self.shared.counters).clone()
    }

    /// The request log (oldest first; control routes are not logged).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    /// Logged token-endpoint requests only.
    pub fn token_request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.route == "token")
            .cloned()
            .collect()
    }

    /// Empties the request log (counters are kept).
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Resets counters, the log, pending faults and the behaviour (to the start-up
    /// [`MockConfig::behaviour`]). The registry is kept.
    pub fn reset(&self) {
        self.shared.reset();
    }

    // --- behaviour -----------------------------------------------------------------------

    /// Current behaviour.
    pub fn behaviour(&self) -> TokenBehaviour {
        self.shared.behaviour()
    }

    /// Replaces the behaviour.
    pub fn set_behaviour(&self, b: TokenBehaviour) {
        *lock(&self.shared.behaviour) = b;
    }

    fn update(&self, f: impl FnOnce(&mut TokenBehaviour)) {
        f(&mut lock(&self.shared.behaviour));
    }

    /// Token lifetime in seconds (`expires_in`, and `exp` = now + secs).
    pub fn set_token_lifetime(&self, secs: u64) {
        self.update(|b| b.token_lifetime_s = secs);
    }

    /// `ext_expires_in`; `None` = same as the lifetime.
    pub fn set_ext_expires_in(&self, secs: Option<u64>) {
        self.update(|b| b.ext_expires_in = secs);
    }

    /// Emit `expires_in` / `ext_expires_in` as JSON strings.
    pub fn set_expires_in_as_string(&self, as_string: bool) {
        self.update(|b| b.expires_in_as_string = as_string);
    }

    /// Emit `refresh_in` (number or string), or not at all.
    pub fn set_refresh_in(&self, refresh_in: Option<RefreshIn>) {
        self.update(|b| b.refresh_in = refresh_in);
    }

    /// Added latency per token request (millisecond resolution).
    pub fn set_latency(&self, latency: Duration) {
        self.update(|b| b.latency_ms = latency.as_millis().try_into().unwrap_or(u64::MAX));
    }

    /// Makes the next `n` token requests fail with `fault` (queued after pending faults).
    pub fn fail_next(&self, n: u32, fault: Fault) {
        lock(&self.shared.faults).extend(std::iter::repeat_n(fault, n as usize));
    }

    /// Faults not yet consumed.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.faults).len()
    }

    /// Drops pending faults.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    // --- registry ------------------------------------------------------------------------

    /// A copy of the registry.
    pub fn registry(&self) -> Registry {
        self.shared.registry().clone()
    }

    /// Runs `f` with the registry locked for writing.
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        f(&mut self.shared.registry_mut())
    }

    /// Adds (or replaces, by client id) a client in a tenant.
    ///
    /// # Panics
    /// If the tenant is not registered.
    pub fn add_client(&self, tenant: &str, client: Client) {
        self.with_registry(|r| {
            let t = r
                .tenant_mut(tenant)
                .unwrap_or_else(|| panic!("aadtoken-mock: unknown tenant '{tenant}'"));
            t.clients
                .retain(|c| !c.client_id.eq_ignore_ascii_case(&client.client_id));
            t.clients.push(client);
        });
    }

    /// Adds a resource to a tenant.
    ///
    /// # Panics
    /// If the tenant is not registered.
    pub fn add_resource(&self, tenant: &str, resource: Resource) {
        self.with_registry(|r| {
            r.tenant_mut(tenant)
                .unwrap_or_else(|| panic!("aadtoken-mock: unknown tenant '{tenant}'"))
                .resources
                .push(resource);
        });
    }

    /// Adds a tenant.
    pub fn add_tenant(&self, tenant: Tenant) {
        self.with_registry(|r| r.add_tenant(tenant));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handle_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::MockServer>();
    }
}

#[cfg(test)]
mod start_tests {
    use super::*;

    #[test]
    fn a_start_up_failure_names_its_step_and_only_load_failures_are_retried() {
        let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = MockServer::try_spawn(MockConfig::default().with_port(port)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().starts_with("binding 127.0.0.1: "), "{e}");
        assert!(!is_transient(&e, port), "a fixed port in use stays in use");
        assert!(is_transient(&e, 0), "no free port for port 0: retried");
        assert!(is_transient(&io::Error::from_raw_os_error(libc_eagain()), 0));
        assert!(!is_transient(&io::Error::other("key generation"), 0));
    }

    fn libc_eagain() -> i32 {
        11 // EAGAIN on Linux: what pthread_create answers when no thread can be made yet
    }

    /// Many mocks started at once from many threads (as parallel tests do) all start.
    #[test]
    fn many_mocks_start_at_once() {
        let threads: Vec<_> = (0..16)
            .map(|_| std::thread::spawn(|| MockServer::spawn(MockConfig::default()).port()))
            .collect();
        let mut ports: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 16, "each its own port");
    }
}
