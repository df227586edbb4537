//! Entry points for fuzzing and property tests (`fuzz/`, `tests/properties.rs`): each feeds
//! untrusted input to one parser the library runs on data it does not control — token, error,
//! discovery, managed-identity and person-sign-in responses, settings strings and values, JWT
//! claims, scopes, token-file locations, host cache files, dates, Azure Arc's challenge — and checks the
//! invariants that must hold whatever the input (no panic, no secret or JWT echoed, kinds
//! consistent with the status). Not part of the API: hidden from the docs, may change any time.
#![doc(hidden)]

use crate::error::ErrorKind;

/// Whether `text` contains something shaped like a JWT (`eyJ…` `.` `…` `.`).
pub fn jwt_shaped(text: &str) -> bool {
    crate::log::scrub(text) != text
}

/// A 200 token response (Entra, OIDC or a managed identity endpoint).
pub fn token_response(body: &[u8]) {
    let now = 1_800_000_000;
    if let Ok(t) = crate::token::parse_success(body, now) {
        assert!(!t.secret().is_empty());
        assert!(!t.secret().bytes().any(|b| b == 0 || b.is_ascii_whitespace()));
        assert_eq!(t.with_nul().last(), Some(&0));
        assert!(t.refresh_on() <= t.expires_on());
        let mut t = t;
        t.schedule_refresh(std::time::Duration::from_secs(300), 0.5);
        assert!(t.refresh_on() <= t.expires_on() && t.refresh_on() >= t.issued_at().min(t.expires_on()));
        assert!(!format!("{t:?}").contains(t.secret()) || t.secret().len() < 3);
    }
}

/// A non-200 answer with `status` (Entra's error JSON, a managed identity's shapes, HTML…).
pub fn error_response(status: u16, body: &[u8], retry_after: Option<u64>) {
    let after = retry_after.map(std::time::Duration::from_secs);
    for who in ["Entra ID", "the managed identity endpoint (App Service)"] {
        let e = crate::http::error_from(who, status, body, after, "sent-correlation-id");
        assert_eq!(e.http_status(), Some(status));
        assert!(e.correlation_id().is_some());
        assert!(!e.message().contains('\0'));
        if status == 429 {
            assert_eq!(e.kind(), ErrorKind::Throttled);
        }
        if (500..600).contains(&status) {
            assert!(
                matches!(e.kind(), ErrorKind::ServerError | ErrorKind::Throttled),
                "{:?}",
                e.kind()
            );
        }
        let _ = crate::log::error_summary(&e);
    }
}

/// A `Retry-After` header's value (seconds or an HTTP date): never a panic; seconds are taken
/// as they are; a date gives the time until it from a fixed now.
pub fn retry_after(value: &str) {
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    let got = crate::http::parse_retry_after(value, now);
    if let Ok(secs) = value.trim().parse::<u64>() {
        assert_eq!(got, Some(std::time::Duration::from_secs(secs)));
    }
}

/// An OpenID Connect discovery document.
pub fn discovery(body: &[u8]) {
    if let Ok(m) = crate::authority::OidcMetadata::parse("https://issuer.example", body) {
        let url = crate::authority::parse_url(&m.token_endpoint).expect("it parsed before");
        assert_eq!(url.scheme(), "https", "{}", m.token_endpoint);
    }
}

/// A settings string, applied to a config (all or nothing), and each key/value pair alone.
pub fn settings(text: &str) {
    let parsed = crate::settings::parse_settings(text);
    let mut c = crate::Config::new();
    let applied = c.parse(text);
    if let Ok(pairs) = &parsed {
        for (k, v) in pairs {
            assert_eq!(k.trim(), k);
            let _ = crate::Config::new().set(k, v);
        }
    } else {
        assert!(applied.is_err());
    }
    if let Err(e) = applied {
        assert!(matches!(
            e.kind(),
            ErrorKind::InvalidArgument
                | ErrorKind::UnknownSetting
                | ErrorKind::InvalidSetting
                | ErrorKind::MissingSetting
        ));
    }
    let _ = format!("{c:?}");
}

/// One setting.
pub fn config_set(key: &str, value: &str) {
    let mut c = crate::Config::new();
    if let Err(e) = c.set(key, value) {
        // A secret's value never comes back in the message.
        if ["client_secret", "password", "certificate_password"]
            .contains(&key.trim().to_ascii_lowercase().as_str())
            && value.trim().len() >= 4
        {
            assert!(!e.message().contains(value.trim()), "{}", e.message());
        }
    }
}

/// A JWT's claims (`aadtoken claims`, `aadtoken_token_claims`): errors never echo the token.
pub fn claims(token: &str) {
    match crate::claims::Claims::from_jwt(token) {
        Ok(c) => {
            let _ = (
                c.audience(),
                c.roles(),
                c.scopes(),
                c.expires_on(),
                c.json_pretty(),
            );
        }
        Err(e) => {
            // A token has no spaces; a spaced input may simply spell out the message's own
            // words (fuzzing found "argument 'token' is not a JWT (").
            // Likewise "argument" alone: only inputs shaped like a token (a dot, 16+ characters) count.
            if token.len() >= 16 && token.contains('.') && !token.contains(' ') {
                assert!(!e.message().contains(token), "{}", e.message());
            }
        }
    }
}

/// Scopes as a caller passes them.
pub fn scopes(text: &str) {
    if let Ok(s) = crate::cache::Scopes::parse(text) {
        let joined = s.joined();
        assert_eq!(crate::cache::Scopes::parse(&joined).ok().as_ref(), Some(&s));
        let _ = crate::credential::managed_identity::resource(&s);
    }
}

/// A `TOKEN_LOCATION` as a host passes it (only resolves and checks; writes nothing).
pub fn token_file_location(text: &str) {
    if text.contains('\0') {
        return;
    }
    if let Ok(f) = crate::oracle::TokenFile::new(text) {
        assert!(f.path().file_name().is_some(), "{}", f.path().display());
    }
}

/// A host cache token file (`host_cache=on`) as another process (or anyone who can write the
/// directory) left it, read for the name `name`: taken only when it is well formed.
pub fn host_cache_file(bytes: &[u8], name: &str) {
    if let Ok(t) = crate::host_cache::parse_token(bytes, name) {
        assert!(!t.secret().is_empty());
        assert!(
            t.secret().bytes().all(|b| b.is_ascii_graphic()),
            "{:?}",
            t.secret()
        );
        assert!(t.refresh_on() <= t.expires_on());
        let other = format!("{name}x");
        assert!(
            crate::host_cache::parse_token(bytes, &other).is_err(),
            "taken for another name"
        );
    }
}

/// An `expires_on` date as managed identity endpoints send it.
pub fn date(text: &str) {
    let _ = crate::token::parse_date(text);
}

/// A person-sign-in token response (refresh token, id token, client_info).
#[cfg(feature = "signin")]
pub fn user_tokens(body: &[u8]) {
    let _ = crate::user::parse_user_tokens(body, 1_800_000_000, "https://login.example/t", "client");
}

/// Azure Arc's `WWW-Authenticate` challenge (against a key directory that does not exist, so
/// nothing is read).
pub fn arc_challenge(header: &str) {
    let dir = std::path::Path::new("/nonexistent/aadtoken-fuzz");
    if let Ok(v) = crate::credential::managed_identity::arc_authorization(header, dir) {
        panic!("a challenge outside the key directory was answered: {v:?}");
    }
}

/// The log's JWT scrubber: what comes out is never JWT-shaped.
pub fn scrub(text: &str) {
    let out = crate::log::scrub(text);
    assert!(
        crate::log::scrub(&out) == out,
        "scrubbing twice changes nothing: {out}"
    );
    if !text.contains("eyJ") {
        assert_eq!(out, text);
    }
}
