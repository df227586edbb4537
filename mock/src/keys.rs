//! Key material: the RS256 token-signing key (with a self-signed certificate, as Entra
//! publishes `x5c`) and the TLS CA + server certificate.

use std::io;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rsa::pkcs8::EncodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

fn other<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> io::Error + '_ {
    move |e| io::Error::other(format!("{what}: {e}"))
}

/// Which server certificate the mock presents (all signed by its CA).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServerCert {
    /// Valid for `localhost` and `127.0.0.1`.
    #[default]
    Valid,
    /// Valid names, but expired (not after 2021-01-01).
    Expired,
    /// In date, but for `wrong-host.example` only.
    WrongHost,
}

/// The token-signing key.
pub(crate) struct SigningKey {
    key: RsaKeyPair,
    rng: SystemRandom,
    /// `kid` (and `x5t`): base64url SHA-1 thumbprint of the certificate, as Entra does.
    pub kid: String,
    /// base64url modulus.
    pub n: String,
    /// base64url public exponent.
    pub e: String,
    /// base64 DER certificate for `x5c`.
    pub x5c: String,
}

impl SigningKey {
    /// Generates a fresh 2048-bit RSA key and a self-signed certificate for it.
    pub fn generate() -> io::Result<Self> {
        let mut rng = rsa::rand_core::OsRng;
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(other("RSA keygen"))?;
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        let pkcs8 = private.to_pkcs8_der().map_err(other("PKCS#8"))?;
        let key = RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).map_err(other("ring RSA key"))?;

        let rc_key = KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .map_err(other("rcgen RSA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "accounts.mock.invalid");
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let cert = params.self_signed(&rc_key).map_err(other("signing cert"))?;
        let der = cert.der().as_ref();
        let thumb = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
        Ok(SigningKey {
            key,
            rng: SystemRandom::new(),
            kid: URL_SAFE_NO_PAD.encode(thumb.as_ref()),
            n,
            e,
            x5c: STANDARD.encode(der),
        })
    }

    /// Signs `claims` as a compact RS256 JWS with header `{"typ":"JWT","alg":"RS256","x5t":kid,"kid":kid}`.
    pub fn sign_jwt(&self, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "RS256",
            "x5t": self.kid,
            "kid": self.kid,
        });
        let mut out = URL_SAFE_NO_PAD.encode(header.to_string());
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), &mut sig)
            .expect("RSA signing cannot fail with a valid key");
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(sig));
        out
    }

    /// Verifies a compact RS256 JWS made with this key and returns its claims.
    pub fn verify_jwt(&self, jwt: &str) -> Result<serde_json::Value, String> {
        let mut parts = jwt.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a compact JWS".into());
        };
        let header: serde_json::Value = decode_json(h)?;
        if header["alg"] != "RS256" || header["kid"] != self.kid.as_str() {
            return Err(format!("unexpected header {header}"));
        }
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|e| e.to_string())?;
        let n = URL_SAFE_NO_PAD.decode(&self.n).map_err(|e| e.to_string())?;
        let e = URL_SAFE_NO_PAD.decode(&self.e).map_err(|e| e.to_string())?;
        ring::signature::RsaPublicKeyComponents { n, e }
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                &jwt.as_bytes()[..h.len() + 1 + p.len()],
                &sig,
            )
            .map_err(|_| "bad signature".to_string())?;
        decode_json(p)
    }

    /// The JWK for the JWKS document.
    pub fn jwk(&self, issuer: &str) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "x5c": [self.x5c],
            "cloud_instance_name": "microsoftonline.com",
            "issuer": issuer,
        })
    }
}

fn decode_json(part: &str) -> Result<serde_json::Value, String> {
    let raw = URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string())?;
    serde_json::from_slice(&raw).map_err(|e| e.to_string())
}

/// TLS material: a fresh CA and a server certificate for `localhost` / `127.0.0.1`.
pub(crate) struct TlsMaterial {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl TlsMaterial {
    pub fn generate(cert: ServerCert) -> io::Result<Self> {
        let serial = uuid::Uuid::new_v4().simple().to_string();
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = rcgen::DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("aadtoken-mock CA {}", &serial[..8]));
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "aadtoken-mock");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        ca_params.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let ca_key = KeyPair::generate().map_err(other("CA key"))?;
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(other("CA cert"))?;

        let names = match cert {
            ServerCert::WrongHost => vec!["wrong-host.example".to_owned()],
            _ => vec!["localhost".into(), "127.0.0.1".into()],
        };
        let mut leaf_params = CertificateParams::new(names).map_err(other("server cert params"))?;
        leaf_params.distinguished_name = rcgen::DistinguishedName::new();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.use_authority_key_identifier_extension = true;
        leaf_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        leaf_params.not_after = match cert {
            ServerCert::Expired => rcgen::date_time_ymd(2021, 1, 1),
            _ => rcgen::date_time_ymd(2049, 12, 31),
        };
        let leaf_key = KeyPair::generate().map_err(other("server key"))?;
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca)
            .map_err(other("server cert"))?;

        let chain = vec![
            CertificateDer::from(leaf.der().to_vec()),
            CertificateDer::from(ca.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(other("TLS versions"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(other("TLS server config"))?;
        server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsMaterial {
            ca_pem: ca.pem(),
            server_config: Arc::new(server_config),
        })
    }
}
