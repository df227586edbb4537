//! Proof Key for Code Exchange (RFC 7636, S256) and the `state` of a browser sign-in, from the
//! operating system's CSPRNG (ring's `SystemRandom`).

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};
use crate::secret::SecretString;

/// A PKCE pair: the verifier stays here; the challenge goes to `/authorize`.
pub struct Pkce {
    /// 43 characters of `[A-Za-z0-9-_]` (32 random bytes, base64url without padding).
    pub verifier: SecretString,
    /// `base64url(SHA-256(verifier))`, sent with `code_challenge_method=S256`.
    pub challenge: String,
}

/// `n` random bytes as base64url without padding.
pub fn random_string(n: usize) -> Result<String> {
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; n]);
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::internal("the system random number generator failed"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*bytes))
}

impl Pkce {
    /// A fresh verifier and its S256 challenge.
    pub fn new() -> Result<Pkce> {
        let verifier = random_string(32)?;
        let challenge = challenge_of(&verifier);
        Ok(Pkce {
            verifier: SecretString::new(verifier),
            challenge,
        })
    }
}

/// The S256 challenge of a verifier.
pub fn challenge_of(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_is_43_unreserved_chars_and_challenge_is_s256() {
        let p = Pkce::new().unwrap();
        let v = p.verifier.expose();
        assert_eq!(v.len(), 43);
        assert!(v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(v, Pkce::new().unwrap().verifier.expose(), "fresh each time");
        // RFC 7636 appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
