//! The claims of an access token: its JWT payload, decoded for display and diagnosis.
//!
//! **No signature check**: this is what the token *says*, for a person or a log to read ("is the
//! audience the database's application ID URI?"), never a basis for trusting it. The database
//! validates the signature against Entra ID's keys at logon.
//!
//! Errors never contain the token or any part of it.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The decoded payload of a JWT access token. Build with [`Claims::from_jwt`].
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    json: String,
    map: Map<String, Value>,
}

impl Claims {
    /// Decode the payload (second part) of a compact JWS `header.payload.signature`.
    ///
    /// The payload is base64url; padding (`=`) may be present or not, and the standard
    /// alphabet (`+`, `/`) is accepted too. Encrypted tokens (JWE, five parts) cannot be read.
    pub fn from_jwt(token: &str) -> Result<Claims> {
        let bad = |problem: &str| Error::invalid_argument("token", problem);
        let token = token.trim();
        let parts: Vec<&str> = token.split('.').collect();
        match parts.len() {
            3 => {}
            5 => {
                return Err(bad(
                    "is an encrypted token (JWE): its claims can only be read by its audience",
                ))
            }
            _ => {
                return Err(bad(
                    "is not a JWT (expected three base64url parts separated by '.')",
                ))
            }
        }
        let bytes =
            base64url_decode(parts[1]).ok_or_else(|| bad("has a payload that is not valid base64url"))?;
        let json = String::from_utf8(bytes).map_err(|_| bad("has a payload that is not UTF-8"))?;
        let map = match serde_json::from_str::<Value>(&json) {
            Ok(Value::Object(map)) => map,
            _ => return Err(bad("has a payload that is not a JSON object")),
        };
        Ok(Claims { json, map })
    }

    /// The payload as the token carries it (compact JSON text).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The payload indented for people.
    pub fn json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.map).unwrap_or_else(|_| self.json.clone())
    }

    /// Any claim.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    /// All claims, in the token's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A claim that is a string (other types give `None`).
    pub fn string(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(Value::as_str)
    }

    /// A claim that is a number of seconds (`exp`, `iat`, `nbf`); fractions are truncated.
    pub fn seconds(&self, name: &str) -> Option<i64> {
        match self.map.get(name)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// `aud`: the audience. The database accepts the token only when this equals the
    /// `application_id_uri` of its `IDENTITY_PROVIDER_CONFIG`. Several audiences (an array) are
    /// joined by spaces.
    pub fn audience(&self) -> Option<String> {
        self.joined("aud")
    }

    /// `iss`: who issued the token.
    pub fn issuer(&self) -> Option<&str> {
        self.string("iss")
    }

    /// `tid`: the tenant that issued the token.
    pub fn tenant_id(&self) -> Option<&str> {
        self.string("tid")
    }

    /// `oid`: the object id of the signed-in principal (user or service principal).
    pub fn object_id(&self) -> Option<&str> {
        self.string("oid")
    }

    /// `sub`: the subject.
    pub fn subject(&self) -> Option<&str> {
        self.string("sub")
    }

    /// The user's sign-in name: `upn`, else `preferred_username`, else `unique_name`. Absent
    /// in application (client credentials) tokens. `CREATE USER … IDENTIFIED GLOBALLY AS
    /// 'AZURE_USER=…'` matches this.
    pub fn user_name(&self) -> Option<&str> {
        ["upn", "preferred_username", "unique_name"]
            .iter()
            .find_map(|c| self.string(c))
    }

    /// The application the token was issued to: `appid` (v1 tokens), else `azp` (v2).
    pub fn app_id(&self) -> Option<&str> {
        self.string("appid").or_else(|| self.string("azp"))
    }

    /// `roles`: app roles (application tokens, and users assigned to roles), space separated.
    /// `IDENTIFIED GLOBALLY AS 'AZURE_ROLE=…'` and global roles match these.
    pub fn roles(&self) -> Option<String> {
        self.joined("roles")
    }

    /// `scp`: delegated scopes (user tokens only), space separated as Entra sends them.
    pub fn scopes(&self) -> Option<String> {
        self.joined("scp")
    }

    /// `exp`: expiry, Unix seconds.
    pub fn expires_on(&self) -> Option<i64> {
        self.seconds("exp")
    }

    /// `iat`: issued at, Unix seconds (Entra backdates it by five minutes for clock skew).
    pub fn issued_at(&self) -> Option<i64> {
        self.seconds("iat")
    }

    /// `nbf`: not valid before, Unix seconds.
    pub fn not_before(&self) -> Option<i64> {
        self.seconds("nbf")
    }

    /// A string claim, or an array of strings joined by spaces.
    fn joined(&self, name: &str) -> Option<String> {
        match self.map.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => {
                let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                Some(parts.join(" "))
            }
            _ => None,
        }
    }
}

/// Decode base64url (or standard base64), with or without `=` padding.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn b64url(bytes: &[u8], pad: bool) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
            if pad {
                out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
            }
        }
        out
    }

    fn jwt(payload: &str, pad: bool) -> String {
        format!(
            "{}.{}.c2ln",
            b64url(br#"{"alg":"RS256","typ":"JWT"}"#, pad),
            b64url(payload.as_bytes(), pad)
        )
    }

    #[test]
    fn decodes_the_claims_a_dba_checks() {
        let payload = r#"{"aud":"api://oracle-db","iss":"https://login.microsoftonline.com/t/v2.0","tid":"t","oid":"o","sub":"o","azp":"app","roles":["DBA","Reader"],"exp":1700003600,"iat":1700000000,"nbf":1700000000.5}"#;
        for pad in [false, true] {
            let c = Claims::from_jwt(&jwt(payload, pad)).unwrap();
            assert_eq!(c.json(), payload);
            assert_eq!(c.audience().as_deref(), Some("api://oracle-db"));
            assert_eq!(c.issuer(), Some("https://login.microsoftonline.com/t/v2.0"));
            assert_eq!(c.tenant_id(), Some("t"));
            assert_eq!(c.object_id(), Some("o"));
            assert_eq!(c.subject(), Some("o"));
            assert_eq!(c.app_id(), Some("app"));
            assert_eq!(c.roles().as_deref(), Some("DBA Reader"));
            assert_eq!(c.scopes(), None);
            assert_eq!(c.user_name(), None);
            assert_eq!(c.expires_on(), Some(1_700_003_600));
            assert_eq!(c.issued_at(), Some(1_700_000_000));
            assert_eq!(c.not_before(), Some(1_700_000_000));
        }
    }

    #[test]
    fn user_tokens_and_v1_names() {
        let c = Claims::from_jwt(&jwt(
            r#"{"aud":["a","b"],"appid":"v1app","azp":"v2app","preferred_username":"p@x","scp":"session:scope:connect","exp":"5"}"#,
            false,
        ))
        .unwrap();
        assert_eq!(c.audience().as_deref(), Some("a b"));
        assert_eq!(c.app_id(), Some("v1app"));
        assert_eq!(c.user_name(), Some("p@x"));
        assert_eq!(c.scopes().as_deref(), Some("session:scope:connect"));
        assert_eq!(c.expires_on(), Some(5));
        let c = Claims::from_jwt(&jwt(r#"{"upn":"u@x","preferred_username":"p@x"}"#, false)).unwrap();
        assert_eq!(c.user_name(), Some("u@x"), "upn first");
    }

    #[test]
    fn every_payload_length_and_both_alphabets() {
        for len in 0..40 {
            let payload = format!(
                "{{\"k\":\"{}\"}}",
                "é?>~".repeat(len).chars().take(len).collect::<String>()
            );
            let std = b64url(payload.as_bytes(), true)
                .replace('-', "+")
                .replace('_', "/");
            assert_eq!(base64url_decode(&std).unwrap(), payload.as_bytes(), "{len}");
            assert_eq!(
                base64url_decode(&b64url(payload.as_bytes(), false)).unwrap(),
                payload.as_bytes()
            );
        }
    }

    #[test]
    fn errors_name_the_problem_and_never_show_the_token() {
        let secretish = "eyJzZWNyZXQiOiJ2ZXJ5In0";
        for bad in [
            secretish.to_owned(),
            format!("a.{secretish}!.c"),
            format!("a.{}.c", b64url(b"[1,2]", false)),
            format!("a.{}.c", b64url(&[0xff, 0xfe], false)),
            format!("a.{secretish}.c.d.e"),
            "a.b2.c".to_owned(),
        ] {
            let e = Claims::from_jwt(&bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains("'token'"), "{}", e.message());
            assert!(!e.message().contains(secretish), "{}", e.message());
        }
    }
}
