//! Certificate credentials: the application proves its identity with a client assertion, a JWT
//! signed with the certificate's private key (entra-protocol.md §6).
//!
//! * The certificate comes from `certificate_path`: PEM (certificate(s) and an unencrypted
//!   `PRIVATE KEY` / `RSA PRIVATE KEY`), or PKCS#12/PFX (with `certificate_password`).
//! * Header: `alg` PS256 with `x5t#S256` (SHA-256 thumbprint) by default, or RS256 with `x5t`
//!   (SHA-1 thumbprint) when `assertion_alg=RS256`; `x5c` (the chain, leaf first) when
//!   `send_certificate_chain=true` (subject name + issuer authentication).
//! * Claims: `aud` = the token endpoint, `iss` = `sub` = the client id, a unique `jti`, `iat` =
//!   `nbf` = now, `exp` = now + 10 min. An assertion is reused until it has less than 60 s
//!   left, then a new one is signed (as MSAL does).
//! * Renewal: the file is read again before each new assertion is signed; when its contents
//!   changed (a renewed certificate), the new certificate and key are used from then on. A file
//!   that cannot be read or parsed at that moment (half written, being replaced) keeps the last
//!   good certificate in use, with a warning in the log.
//!
//! The key never leaves this module; the assertion is a secret (zeroized, never in messages).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{KeyPair as _, RsaKeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::secret::SecretString;
use crate::token::unix_now;

/// Lifetime of a client assertion.
pub(crate) const ASSERTION_LIFETIME_S: i64 = 600;
/// A cached assertion with less than this left is replaced.
pub(crate) const ASSERTION_RENEW_S: i64 = 60;

/// `assertion_alg`: how the certificate's client assertion is signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AssertionAlg {
    /// RSASSA-PSS SHA-256 with the SHA-256 thumbprint (`x5t#S256`): Entra's current default.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 SHA-256 with the SHA-1 thumbprint (`x5t`): older issuers, ADFS.
    Rs256,
}

impl AssertionAlg {
    /// Parse the value of the setting `key` (`PS256` or `RS256`, any case).
    pub fn parse(key: &str, value: &str) -> Result<Self> {
        match value.to_ascii_uppercase().as_str() {
            "PS256" => Ok(AssertionAlg::Ps256),
            "RS256" => Ok(AssertionAlg::Rs256),
            _ => Err(Error::invalid_setting(key, "must be 'PS256' or 'RS256'")),
        }
    }
}

/// The application's certificate and private key, and the client assertions signed with them.
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<Inner>,
}

struct Inner {
    /// `certificate_path`, read again when an assertion is signed.
    path: PathBuf,
    password: Option<SecretString>,
    alg: AssertionAlg,
    send_chain: bool,
    rng: SystemRandom,
    /// What the file held when it was last read successfully.
    loaded: Mutex<Arc<Loaded>>,
    cached: Mutex<Option<Cached>>,
}

/// A certificate file, parsed.
struct Loaded {
    key: RsaKeyPair,
    /// DER certificates, leaf first.
    chain: Vec<Vec<u8>>,
    x5t_s256: String,
    x5t: String,
    /// SHA-256 of the file's bytes: tells a renewed file from the same one.
    file_digest: [u8; 32],
}

struct Cached {
    aud: String,
    exp: i64,
    jwt: SecretString,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("x5t#S256", &self.loaded().x5t_s256)
            .field("alg", &self.inner.alg)
            .field("send_chain", &self.inner.send_chain)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Certificate {
    /// Load `certificate_path` (PEM or PKCS#12) with `certificate_password`; `None` for the
    /// path is the missing-setting error.
    pub fn load(
        path: Option<&Path>,
        password: Option<&SecretString>,
        alg: AssertionAlg,
        send_chain: bool,
    ) -> Result<Certificate> {
        let path = path.ok_or_else(|| {
            Error::missing_setting(
                "certificate_path",
                "for auth_method=certificate (a PEM or PFX file with the certificate and its private key)",
            )
        })?;
        let loaded = parse(path, password)?;
        Ok(Certificate {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                password: password.cloned(),
                alg,
                send_chain,
                rng: SystemRandom::new(),
                loaded: Mutex::new(Arc::new(loaded)),
                cached: Mutex::new(None),
            }),
        })
    }

    fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.inner.loaded.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Read the file again; when its contents changed and parse, use the new certificate from
    /// now on (and forget the assertion signed with the old one). The certificate to sign with.
    fn reload(&self) -> Arc<Loaded> {
        let inner = &self.inner;
        let current = self.loaded();
        let bytes = match std::fs::read(&inner.path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) => {
                log_warn!(
                    "setting 'certificate_path' names '{}', which cannot be read now ({e}); signing with the certificate read before",
                    inner.path.display()
                );
                return current;
            }
        };
        if file_digest(&bytes) == current.file_digest {
            return current;
        }
        match parse_bytes(&inner.path, &bytes, inner.password.as_ref()) {
            Ok(new) => {
                log_info!(
                    "certificate_path '{}' changed: signing with its certificate x5t#S256={} from now on (was {})",
                    inner.path.display(),
                    new.x5t_s256,
                    current.x5t_s256
                );
                let new = Arc::new(new);
                *inner.loaded.lock().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&new);
                *inner.cached.lock().unwrap_or_else(|p| p.into_inner()) = None;
                new
            }
            Err(e) => {
                log_warn!(
                    "certificate_path changed but cannot be used ({}); signing with the certificate read before",
                    e.message()
                );
                current
            }
        }
    }

    /// base64url SHA-256 thumbprint of the certificate in use (`x5t#S256`).
    pub fn thumbprint_sha256(&self) -> String {
        self.loaded().x5t_s256.clone()
    }

    /// base64url SHA-1 thumbprint of the certificate in use (`x5t`).
    pub fn thumbprint_sha1(&self) -> String {
        self.loaded().x5t.clone()
    }

    /// A client assertion for `aud` (the token endpoint): the cached one while it has more than
    /// [`ASSERTION_RENEW_S`] left, else a newly signed one.
    pub fn assertion(&self, aud: &str, client_id: &str) -> Result<SecretString> {
        let now = unix_now();
        let loaded = self.reload();
        let mut cached = self.inner.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached.as_ref() {
            if c.aud == aud && c.exp - now > ASSERTION_RENEW_S {
                return Ok(c.jwt.clone());
            }
        }
        let jwt = self.sign(&loaded, aud, client_id, now)?;
        *cached = Some(Cached {
            aud: aud.to_owned(),
            exp: now + ASSERTION_LIFETIME_S,
            jwt: jwt.clone(),
        });
        Ok(jwt)
    }

    fn sign(&self, loaded: &Loaded, aud: &str, client_id: &str, now: i64) -> Result<SecretString> {
        let inner = &self.inner;
        let mut header = serde_json::Map::new();
        header.insert("typ".into(), "JWT".into());
        match inner.alg {
            AssertionAlg::Ps256 => {
                header.insert("alg".into(), "PS256".into());
                header.insert("x5t#S256".into(), loaded.x5t_s256.clone().into());
            }
            AssertionAlg::Rs256 => {
                header.insert("alg".into(), "RS256".into());
                header.insert("x5t".into(), loaded.x5t.clone().into());
            }
        }
        if inner.send_chain {
            let chain: Vec<serde_json::Value> =
                loaded.chain.iter().map(|c| STANDARD.encode(c).into()).collect();
            header.insert("x5c".into(), chain.into());
        }
        let claims = serde_json::json!({
            "aud": aud,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME_S,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::Value::Object(header).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let alg: &'static dyn ring::signature::RsaEncoding = match inner.alg {
            AssertionAlg::Ps256 => &ring::signature::RSA_PSS_SHA256,
            AssertionAlg::Rs256 => &ring::signature::RSA_PKCS1_SHA256,
        };
        let mut sig = vec![0u8; loaded.key.public().modulus_len()];
        loaded
            .key
            .sign(alg, &inner.rng, signing_input.as_bytes(), &mut sig)
            .map_err(|_| Error::internal("signing the client assertion failed"))?;
        Ok(SecretString::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig)
        )))
    }
}

/// SHA-256 of a certificate file's bytes.
fn file_digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// Read and parse the certificate file at `path`.
fn parse(path: &Path, password: Option<&SecretString>) -> Result<Loaded> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
        Error::new(
            ErrorKind::File,
            format!(
                "setting 'certificate_path' names '{}', which cannot be read: {e}",
                path.display()
            ),
        )
    })?);
    parse_bytes(path, &bytes, password)
}

/// Parse the contents of the certificate file at `path` (PEM or PKCS#12).
fn parse_bytes(path: &Path, bytes: &[u8], password: Option<&SecretString>) -> Result<Loaded> {
    let bad = |what: String| {
        Error::invalid_setting(
            "certificate_path",
            format!("names '{}', which {what}", path.display()),
        )
    };
    let is_pem = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .is_some_and(|i| bytes[i..].starts_with(b"-----BEGIN"));
    let (key_der, mut certs): KeyAndChain = if is_pem {
        if contains(bytes, b"ENCRYPTED PRIVATE KEY") || contains(bytes, b"Proc-Type: 4,ENCRYPTED") {
            return Err(bad(
                "holds an encrypted PEM private key; decrypt it (openssl pkey) or use a PKCS#12/PFX file with certificate_password"
                    .into(),
            ));
        }
        let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(bytes)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("is not valid PEM: {e}")))?
            .into_iter()
            .map(|c| c.to_vec())
            .collect();
        let key = PrivateKeyDer::from_pem_slice(bytes)
            .map_err(|_| bad("holds no 'PRIVATE KEY' or 'RSA PRIVATE KEY' block".into()))?;
        let der = match &key {
            PrivateKeyDer::Pkcs8(k) => Zeroizing::new(k.secret_pkcs8_der().to_vec()),
            PrivateKeyDer::Pkcs1(k) => Zeroizing::new(k.secret_pkcs1_der().to_vec()),
            _ => {
                return Err(bad(
                    "holds a key that is not RSA (Entra ID certificate credentials use RSA keys)".into(),
                ))
            }
        };
        (der, certs)
    } else {
        pkcs12(bytes, password).map_err(bad)?
    };
    let key = RsaKeyPair::from_pkcs8(&key_der)
        .or_else(|_| RsaKeyPair::from_der(&key_der))
        .map_err(|e| bad(format!("holds a private key that is not a usable RSA key ({e})")))?;
    // The leaf is the certificate that carries the key's public key.
    let public = key.public_key().as_ref();
    let leaf = certs
        .iter()
        .position(|c| contains(c, public))
        .ok_or_else(|| bad("holds no certificate for its private key".into()))?;
    let leaf_der = certs.remove(leaf);
    certs.insert(0, leaf_der);
    let sha256 = ring::digest::digest(&ring::digest::SHA256, &certs[0]);
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &certs[0]);
    Ok(Loaded {
        key,
        chain: certs,
        x5t_s256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
        x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
        file_digest: file_digest(bytes),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A private key (DER) and its certificates (DER).
type KeyAndChain = (Zeroizing<Vec<u8>>, Vec<Vec<u8>>);

/// The private key (DER) and certificates of a PKCS#12/PFX file; the error completes "names
/// '<path>', which …".
#[cfg(feature = "pkcs12")]
fn pkcs12(bytes: &[u8], password: Option<&SecretString>) -> std::result::Result<KeyAndChain, String> {
    let pw = password.map_or("", SecretString::expose);
    let store = p12_keystore::KeyStore::from_pkcs12(bytes, pw, p12_keystore::Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| {
            let hint = if password.is_none() {
                " (is 'certificate_password' missing?)"
            } else {
                " (is 'certificate_password' right?)"
            };
            format!("cannot be opened as PKCS#12/PFX: {e}{hint}")
        })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| "holds no private key".to_owned())?;
    Ok((
        Zeroizing::new(chain.key().as_der().to_vec()),
        chain.certs().iter().map(|c| c.as_der().to_vec()).collect(),
    ))
}

/// Without the `pkcs12` feature only PEM files are read.
#[cfg(not(feature = "pkcs12"))]
fn pkcs12(_bytes: &[u8], _password: Option<&SecretString>) -> std::result::Result<KeyAndChain, String> {
    Err(
        "is not PEM, and this build of aadtoken was built without PKCS#12/PFX support (feature pkcs12): \
         convert the file to PEM (openssl pkcs12 -nodes) or use a build with that feature"
            .to_owned(),
    )
}
