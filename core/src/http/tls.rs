//! TLS configuration: one reqwest client per trust configuration (the system's roots plus an
//! optional `ca_file`, or a pinned certificate for Service Fabric), rustls with the *ring*
//! provider, no redirects, proxies from the standard environment variables (or none, for the
//! managed-identity endpoints), aadtoken's client headers.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::DigitallySignedStruct as Dss;

use arc_swap::ArcSwapOption;

use crate::error::{Error, Result};

/// Idle pooled connections are dropped after this, below common server idle timeouts.
const POOL_IDLE: Duration = Duration::from_secs(50);
/// The `x-client-SKU` header aadtoken sends.
pub const SKU: &str = "aadtoken";

/// Trust anchors beyond the system's: the parsed certificates of `ca_file`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExtraRoots {
    certs: Vec<CertificateDer<'static>>,
}

impl ExtraRoots {
    /// Read a PEM file of CA certificates (the value of setting `key`).
    pub fn from_pem_file(key: &str, path: &std::path::Path) -> Result<Self> {
        let pem = std::fs::read(path).map_err(|e| {
            Error::invalid_setting(
                key,
                format!("names '{}', which cannot be read: {e}", path.display()),
            )
        })?;
        let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| {
                Error::invalid_setting(
                    key,
                    format!("names '{}', which is not valid PEM: {e}", path.display()),
                )
            })?;
        if certs.is_empty() {
            return Err(Error::invalid_setting(
                key,
                format!(
                    "names '{}', which holds no 'BEGIN CERTIFICATE' block",
                    path.display()
                ),
            ));
        }
        Ok(ExtraRoots { certs })
    }
}

/// Which of the system's trust anchors: the CA bundle file alone (where OpenSSL's
/// `SSL_CERT_FILE` or the distribution puts it), or everything (the bundle and the CA
/// directories, as `rustls-native-certs` finds them; on Debian-like systems the directory holds
/// the bundle's certificates a second time, plus any added with `c_rehash` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum System {
    Bundle,
    All,
}

/// The system's trust anchors once loaded: kept for the life of the process, so they are read
/// and parsed once. Not a `OnceLock`: a load that a forked child inherits half-done must not
/// make the child wait forever; a child whose parent had not finished loads them itself.
static BUNDLE_ROOTS: ArcSwapOption<rustls::RootCertStore> = ArcSwapOption::const_empty();
static ALL_ROOTS: ArcSwapOption<rustls::RootCertStore> = ArcSwapOption::const_empty();

/// The system's trust anchors of `which`, read and parsed on first use (each distinct
/// certificate once).
fn system_roots(which: System) -> Arc<rustls::RootCertStore> {
    let loaded = match which {
        System::Bundle => &BUNDLE_ROOTS,
        System::All => &ALL_ROOTS,
    };
    if let Some(roots) = loaded.load_full() {
        return roots;
    }
    let started = std::time::Instant::now();
    let found = match which {
        System::Bundle => match openssl_probe::probe().cert_file {
            Some(file) => rustls_native_certs::load_certs_from_paths(Some(&file), None),
            None => rustls_native_certs::CertificateResult::default(),
        },
        System::All => rustls_native_certs::load_native_certs(),
    };
    let read = found.certs.len();
    let mut seen = std::collections::HashSet::new();
    let unique = found
        .certs
        .into_iter()
        .filter(|c| seen.insert(c.as_ref().to_vec()));
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(unique);
    let store = Arc::new(store);
    loaded.store(Some(Arc::clone(&store)));
    log_debug!(
        "system trust store ({which:?}) loaded: {} CA certificates ({read} read) in {} µs",
        store.len(),
        started.elapsed().as_micros()
    );
    store
}

/// Build the reqwest client for one trust configuration. `direct`: never use a proxy (the
/// managed-identity endpoints are local to the host and must not go through one).
///
/// The server's certificate is trusted when it chains to a system root or to a `ca_file`
/// certificate, as always; what changes is only when the roots are read. Nothing is loaded
/// here: a chain is checked against the `ca_file` certificates first, then against the
/// system's CA bundle file, then against all the system's roots (bundle and CA directories),
/// each set read only when the one before did not accept the chain. Without `ca_file` the
/// bundle is read on a library thread from now on, while the connection is being set up.
pub fn build_client(extra: Option<&ExtraRoots>, direct: bool) -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra_certs = extra.map(|e| e.certs.clone()).unwrap_or_default();
    let roots = Roots {
        extra: extra
            .map(|_| verifier(&extra_certs, None, &provider))
            .transpose()?,
        bundle: OnceLock::new(),
        all: OnceLock::new(),
        extra_certs,
    };
    let trust = Arc::new(Trust {
        anchors: Anchors::Roots(roots),
        provider,
    });
    if extra.is_none() {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let preload = Arc::clone(&trust);
            drop(rt.spawn_blocking(move || {
                let _ = preload.system(System::Bundle);
            }));
        }
    }
    client_with_tls(trust, direct)
}

/// A client for Service Fabric's managed-identity endpoint: HTTPS whose server certificate is
/// trusted only when its thumbprint (hex SHA-1, or SHA-256) equals `thumbprint`
/// (`IDENTITY_SERVER_THUMBPRINT`); no CA, no host name check, no proxy.
pub fn build_pinned_client(thumbprint: &str) -> Result<reqwest::Client> {
    let trust = Trust {
        anchors: Anchors::Thumbprint(thumbprint.trim().to_ascii_lowercase().replace(':', "")),
        provider: Arc::new(rustls::crypto::ring::default_provider()),
    };
    client_with_tls(Arc::new(trust), true)
}

/// A WebPKI verifier of chains to `certs` (plus the system's roots `system`).
fn verifier(
    certs: &[CertificateDer<'static>],
    system: Option<&rustls::RootCertStore>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>> {
    let mut roots = system.cloned().unwrap_or_else(rustls::RootCertStore::empty);
    for cert in certs {
        roots.add(cert.clone()).map_err(|e| {
            Error::invalid_setting("ca_file", format!("holds a certificate rustls cannot use: {e}"))
        })?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))
}

/// A verifier built on first need (or the message of why it could not be built).
type Lazy = OnceLock<std::result::Result<Arc<WebPkiServerVerifier>, String>>;

/// The one certificate verifier of aadtoken's clients: the server's certificate is trusted as
/// `anchors` say; the handshake signatures are checked by the crypto provider's algorithms.
#[derive(Debug)]
struct Trust {
    anchors: Anchors,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

/// What a server's certificate is trusted by.
#[derive(Debug)]
enum Anchors {
    /// The standard WebPKI check against the system's roots plus `ca_file`.
    Roots(Roots),
    /// Service Fabric: the certificate's thumbprint (lowercase hex SHA-1 or SHA-256), nothing
    /// else (no CA, no host name).
    Thumbprint(String),
}

/// The system's roots plus `ca_file`, read in stages (see [`build_client`]). A chain that a
/// subset of the roots accepts is accepted by all of them too, so checking subsets first
/// changes no outcome; a chain no stage accepts gets the answer of the last (all roots).
#[derive(Debug)]
struct Roots {
    /// Chains to the `ca_file` certificates only (`None` without `ca_file`).
    extra: Option<Arc<WebPkiServerVerifier>>,
    /// Chains to the system's CA bundle file plus `ca_file`.
    bundle: Lazy,
    /// Chains to all the system's roots plus `ca_file`.
    all: Lazy,
    extra_certs: Vec<CertificateDer<'static>>,
}

impl Trust {
    /// The verifier of the system's roots `which` plus `ca_file` (`Err` when it cannot be built,
    /// e.g. the system has no such roots: the stage is skipped; or when no roots are used).
    fn system(&self, which: System) -> std::result::Result<&Arc<WebPkiServerVerifier>, ()> {
        let Anchors::Roots(roots) = &self.anchors else {
            return Err(());
        };
        let lazy = match which {
            System::Bundle => &roots.bundle,
            System::All => &roots.all,
        };
        lazy.get_or_init(|| {
            verifier(&roots.extra_certs, Some(&system_roots(which)), &self.provider)
                .map_err(|e| e.message().to_owned())
        })
        .as_ref()
        .map_err(|e| log_debug!("no system trust store ({which:?}): {e}"))
    }

    /// The crypto provider's algorithms: they check the handshake signatures.
    fn signature_algorithms(&self) -> &rustls::crypto::WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }
}

/// What a handshake signature check answers.
type SignatureCheck = std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error>;

impl rustls::client::danger::ServerCertVerifier for Trust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let roots = match &self.anchors {
            Anchors::Roots(roots) => roots,
            Anchors::Thumbprint(thumbprint) => return pinned(thumbprint, end_entity),
        };
        // No trust anchor at all (an empty system store and no `ca_file`) is an unknown issuer.
        let mut answer = Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        for stage in [None, Some(System::Bundle), Some(System::All)] {
            let verifier = match stage {
                None => roots.extra.as_ref().ok_or(()),
                Some(which) => self.system(which),
            };
            if let Ok(verifier) = verifier {
                answer = verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
                if answer.is_ok() {
                    break;
                }
            }
        }
        answer
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &Dss) -> SignatureCheck {
        verify_tls12_signature(message, cert, dss, self.signature_algorithms())
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &Dss) -> SignatureCheck {
        verify_tls13_signature(message, cert, dss, self.signature_algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.signature_algorithms().supported_schemes()
    }
}

/// The pinned check: `end_entity`'s SHA-1 or SHA-256 thumbprint is `thumbprint`.
fn pinned(
    thumbprint: &str,
    end_entity: &CertificateDer<'_>,
) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
    let hex = |d: ring::digest::Digest| d.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>();
    let sha1 = hex(ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        end_entity,
    ));
    let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, end_entity));
    if thumbprint == sha1 || thumbprint == sha256 {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    } else {
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure,
        ))
    }
}

/// The reqwest client whose TLS trusts servers as `trust` says (see [`build_client`] for
/// `direct`).
fn client_with_tls(trust: Arc<Trust>, direct: bool) -> Result<reqwest::Client> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::clone(&trust.provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(trust)
        .with_no_client_auth();
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert("x-client-SKU", HeaderValue::from_static(SKU));
    headers.insert("x-client-Ver", HeaderValue::from_static(crate::VERSION));
    headers.insert("x-client-OS", HeaderValue::from_static(std::env::consts::OS));
    headers.insert(
        "x-ms-lib-capability",
        HeaderValue::from_static("retry-after, h429"),
    );
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .default_headers(headers)
        .user_agent(concat!("aadtoken/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(POOL_IDLE);
    if direct {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| Error::internal(format!("HTTP client setup failed: {e}")))
}
