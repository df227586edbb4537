//! TLS configuration: one reqwest client per trust configuration (the system's roots plus an
//! optional `ca_file`, or a pinned certificate for Service Fabric), rustls with the *ring*
//! provider, no redirects, proxies from the standard environment variables (or none, for the
//! managed-identity endpoints), aadtoken's client headers.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use rustls::client::WebPkiServerVerifier;
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

/// The system's trust anchors once loaded: kept for the life of the process, so they are read
/// and parsed once. Not a `OnceLock`: a load that a forked child inherits half-done must not
/// make the child wait forever; a child whose parent had not finished loads them itself.
static SYSTEM_ROOTS: ArcSwapOption<rustls::RootCertStore> = ArcSwapOption::const_empty();

/// The system's trust anchors (the CA bundle file and the CA directory, as OpenSSL finds them),
/// loaded and parsed on first use. The directory of a Debian-like system holds the bundle's
/// certificates a second time: each distinct certificate is parsed once.
fn system_roots() -> Arc<rustls::RootCertStore> {
    if let Some(roots) = SYSTEM_ROOTS.load_full() {
        return roots;
    }
    let started = std::time::Instant::now();
    let found = rustls_native_certs::load_native_certs();
    let read = found.certs.len();
    let mut seen = std::collections::HashSet::new();
    let unique = found
        .certs
        .into_iter()
        .filter(|c| seen.insert(c.as_ref().to_vec()));
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(unique);
    let store = Arc::new(store);
    SYSTEM_ROOTS.store(Some(Arc::clone(&store)));
    crate::log_debug!(
        "system trust store loaded: {} CA certificates ({read} read) in {} µs",
        store.len(),
        started.elapsed().as_micros()
    );
    store
}

/// Build the reqwest client for one trust configuration. `direct`: never use a proxy (the
/// managed-identity endpoints are local to the host and must not go through one).
///
/// The server's certificate is trusted when it chains to a system root or to a `ca_file`
/// certificate. Nothing is loaded here: with `ca_file` the chain is checked against its
/// certificates first, and the system's roots (~140 certificates, a millisecond or more to read
/// and parse) are loaded only if that check fails; without `ca_file` they are loaded on a
/// library thread from now on, while the connection is being set up.
pub fn build_client(extra: Option<&ExtraRoots>, direct: bool) -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let trust = Arc::new(Trust {
        extra: extra
            .map(|e| verifier(e.certs.clone(), None, &provider))
            .transpose()?,
        extra_certs: extra.map(|e| e.certs.clone()),
        all: OnceLock::new(),
        provider: Arc::clone(&provider),
    });
    if extra.is_none() {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let preload = Arc::clone(&trust);
            drop(rt.spawn_blocking(move || drop(preload.all())));
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(trust)
        .with_no_client_auth();
    client_with_tls(tls, direct)
}

/// A WebPKI verifier of chains to `certs` (plus the system's roots when `system` is given).
fn verifier(
    certs: Vec<CertificateDer<'static>>,
    system: Option<&rustls::RootCertStore>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>> {
    let mut roots = system.cloned().unwrap_or_else(rustls::RootCertStore::empty);
    for cert in certs {
        roots.add(cert).map_err(|e| {
            Error::invalid_setting("ca_file", format!("holds a certificate rustls cannot use: {e}"))
        })?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))
}

/// The standard WebPKI check against the system's roots plus `ca_file`, with the system's
/// roots loaded only when needed (see [`build_client`]). A chain the `ca_file` certificates
/// alone accept is accepted by their union with the system's roots too, so trying them first
/// changes no outcome.
#[derive(Debug)]
struct Trust {
    /// A verifier of chains to the `ca_file` certificates only.
    extra: Option<Arc<WebPkiServerVerifier>>,
    extra_certs: Option<Vec<CertificateDer<'static>>>,
    /// A verifier of chains to the system's roots plus `ca_file`, built on first need.
    all: OnceLock<std::result::Result<Arc<WebPkiServerVerifier>, String>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl Trust {
    fn all(&self) -> std::result::Result<&Arc<WebPkiServerVerifier>, rustls::Error> {
        self.all
            .get_or_init(|| {
                let certs = self.extra_certs.clone().unwrap_or_default();
                verifier(certs, Some(&system_roots()), &self.provider).map_err(|e| e.message().to_owned())
            })
            .as_ref()
            .map_err(|e| rustls::Error::General(e.clone()))
    }

    fn algorithms(&self) -> &rustls::crypto::WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }
}

impl rustls::client::danger::ServerCertVerifier for Trust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if let Some(extra) = &self.extra {
            if let Ok(ok) = extra.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                return Ok(ok);
            }
        }
        self.all()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &Dss) -> SignatureCheck {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &Dss) -> SignatureCheck {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}

/// A client for Service Fabric's managed-identity endpoint: HTTPS whose server certificate is
/// trusted only when its thumbprint (hex SHA-1, or SHA-256) equals `thumbprint`
/// (`IDENTITY_SERVER_THUMBPRINT`); no CA, no host name check, no proxy.
pub fn build_pinned_client(thumbprint: &str) -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        thumbprint: thumbprint.trim().to_ascii_lowercase().replace(':', ""),
        provider: Arc::clone(&provider),
    });
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    client_with_tls(tls, true)
}

#[derive(Debug)]
struct Pinned {
    thumbprint: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

/// What a handshake signature check answers.
type SignatureCheck = std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error>;

impl Pinned {
    /// The provider's signature algorithms (the pin replaces only the certificate check).
    fn algorithms(&self) -> &rustls::crypto::WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let hex = |d: ring::digest::Digest| d.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>();
        let sha1 = hex(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            end_entity,
        ));
        let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, end_entity));
        if self.thumbprint == sha1 || self.thumbprint == sha256 {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &Dss) -> SignatureCheck {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &Dss) -> SignatureCheck {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}

fn client_with_tls(tls: rustls::ClientConfig, direct: bool) -> Result<reqwest::Client> {
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
