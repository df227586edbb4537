//! Test credentials: RSA certificates as PEM and PKCS#12 files, and federated (workload
//! identity) assertions signed by a test issuer. Mock values only.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};

/// An RSA key with a self-signed certificate.
pub struct TestCert {
    pub pkcs8_der: Vec<u8>,
    pub cert_der: Vec<u8>,
    pub pem: String,
}

impl TestCert {
    pub fn new(cn: &str) -> TestCert {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let pkcs8 = key.to_pkcs8_der().unwrap();
        let key_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let rc_key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let cert = params.self_signed(&rc_key).unwrap();
        TestCert {
            pkcs8_der: pkcs8.as_bytes().to_vec(),
            cert_der: cert.der().to_vec(),
            pem: format!("{}{}", cert.pem(), key_pem.as_str()),
        }
    }

    /// Writes the certificate and key as one PEM file.
    pub fn write_pem(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.pem).unwrap();
        path
    }

    /// Writes a PKCS#12 file with this password.
    pub fn write_pfx(&self, dir: &Path, name: &str, password: &str) -> PathBuf {
        use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
        let chain = PrivateKeyChain::new(
            vec![1u8, 2, 3, 4],
            PrivateKey::from_der(&self.pkcs8_der).unwrap(),
            [Certificate::from_der(&self.cert_der).unwrap()],
        );
        let mut store = KeyStore::new();
        store.add_entry("aadtoken-test", KeyStoreEntry::PrivateKeyChain(chain));
        let der = store.writer(password).write().unwrap();
        let path = dir.join(name);
        std::fs::write(&path, der).unwrap();
        path
    }

    /// A JWT with these claims, signed RS256 with this key (a federated token's issuer).
    pub fn sign_jwt(&self, claims: &serde_json::Value) -> String {
        let key = ring::signature::RsaKeyPair::from_pkcs8(&self.pkcs8_der).unwrap();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "test-issuer-key"});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// The issuer and subject of the test's federated credential (as AKS would issue).
pub const FED_ISSUER: &str = "https://oidc.aks.mock.invalid/issuer";
pub const FED_SUBJECT: &str = "system:serviceaccount:db:app";

/// The federated credential an app registers to trust the tokens `issuer_key` signs as
/// [`FED_ISSUER`] for [`FED_SUBJECT`].
pub fn federated_credential(issuer_key: &TestCert) -> aadtoken_mock::FederatedCredential {
    aadtoken_mock::FederatedCredential::new(FED_ISSUER, FED_SUBJECT, issuer_key.cert_der.clone())
}

/// A federated token valid from `nbf_offset` to `exp_offset` seconds from now.
pub fn federated_token(issuer_key: &TestCert, nbf_offset: i64, exp_offset: i64) -> String {
    let now = aadtoken_core::token::unix_now();
    issuer_key.sign_jwt(&serde_json::json!({
        "aud": [aadtoken_mock::FEDERATED_AUDIENCE],
        "iss": FED_ISSUER,
        "sub": FED_SUBJECT,
        "iat": now + nbf_offset,
        "nbf": now + nbf_offset,
        "exp": now + exp_offset,
        "jti": uuid::Uuid::new_v4().to_string(),
    }))
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "aadtoken-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
