//! Secret values: zeroized when dropped, `[redacted]` in `Debug`, reachable only through
//! [`SecretString::expose`].

use std::fmt;
use zeroize::Zeroizing;

/// A secret string (client secret, password, refresh token, assertion): zeroized on drop,
/// `[redacted]` in `Debug`; its value only through [`SecretString::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Keep `value` as a secret.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(Zeroizing::new(value.into()))
    }

    /// The secret itself. Call this only where the value goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretString::new("hunter2-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2-secret");
    }
}
