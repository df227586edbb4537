//! TLS configuration: one reqwest client per trust configuration (the system's roots plus an
//! optional `ca_file`, or a pinned certificate for Service Fabric), rustls with the *ring*
//! provider, no redirects, proxies from the standard environment variables (or none, for the
//! managed-identity endpoints), aadtoken's client headers.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::DigitallySignedStruct as Dss;

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

/// The system's trust anchors, loaded once per process (reading them takes milliseconds).
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
        store
    })
}

/// Build the reqwest client for one trust configuration. `direct`: never use a proxy (the
/// managed-identity endpoints are local to the host and must not go through one).
pub fn build_client(extra: Option<&ExtraRoots>, direct: bool) -> Result<reqwest::Client> {
    let mut roots = system_roots().clone();
    if let Some(extra) = extra {
        for cert in &extra.certs {
            roots.add(cert.clone()).map_err(|e| {
                Error::invalid_setting("ca_file", format!("holds a certificate rustls cannot use: {e}"))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_with_tls(tls, direct)
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
