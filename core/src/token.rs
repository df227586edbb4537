//! An access token: an immutable snapshot (a later refresh never changes it), shared by
//! reference count, zeroized when the last reference goes.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use zeroize::Zeroize;

use crate::error::{Error, ErrorKind, Result};

/// An access token: its value (zeroized on drop, never in `Debug`), when it was issued and
/// expires, and when the cache refreshes it.
pub struct Token {
    /// The token's bytes followed by one NUL, so C can borrow it as a string.
    value: Box<[u8]>,
    /// When the request that obtained it was sent (Unix seconds).
    issued_at: i64,
    expires_on: i64,
    refresh_on: i64,
    /// `refresh_in` from the identity provider, as an absolute time.
    refresh_hint: Option<i64>,
}

impl Token {
    /// `value` must not contain NUL bytes (JWTs never do; the response parser checks).
    pub fn new(value: &str, expires_on: i64, refresh_on: i64) -> Self {
        let mut bytes = Vec::with_capacity(value.len() + 1);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
        Token {
            value: bytes.into_boxed_slice(),
            issued_at: unix_now().min(expires_on),
            expires_on,
            refresh_on,
            refresh_hint: None,
        }
    }

    /// Decide when to renew this token (before it is shared), following MSAL's rules:
    /// the identity provider's `refresh_in` when it sent one; else half the lifetime for tokens
    /// living two hours or more; else `expiry_margin` before expiry. Never later than `lead`
    /// before the point where callers would have to wait (expiry minus margin), so that a
    /// background refresh has time to finish, and minus a random jitter of up to half of
    /// `lead` so that many processes do not refresh at the same second.
    pub fn schedule_refresh(&mut self, margin: Duration, jitter_fraction: f64) {
        let lifetime = (self.expires_on - self.issued_at).max(0);
        let lead = (lifetime / 10).clamp(1, 120);
        let wait_point = self.expires_on - margin.as_secs() as i64;
        let base = match self.refresh_hint {
            Some(hint) => hint,
            None if lifetime >= 7200 => self.issued_at + lifetime / 2,
            None => wait_point,
        };
        let jitter = ((lead as f64 / 2.0) * jitter_fraction.clamp(0.0, 1.0)) as i64;
        self.refresh_on = (base.min(wait_point - lead) - jitter)
            .max(self.issued_at)
            .min(self.expires_on);
    }

    /// A copy with its own allocation (for per-thread replicas of a shared token).
    pub fn replicate(&self) -> Token {
        Token {
            value: self.value.clone(),
            issued_at: self.issued_at,
            expires_on: self.expires_on,
            refresh_on: self.refresh_on,
            refresh_hint: self.refresh_hint,
        }
    }

    /// When the token was obtained (Unix seconds).
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// The access token (a JWT for Entra). Handle with care: it is a bearer credential.
    pub fn secret(&self) -> &str {
        std::str::from_utf8(&self.value[..self.value.len() - 1]).expect("built from a str")
    }

    /// The token followed by a NUL byte.
    pub fn with_nul(&self) -> &[u8] {
        &self.value
    }

    /// The length of the token's value in bytes.
    pub fn len(&self) -> usize {
        self.value.len() - 1
    }

    /// Whether the token's value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Expiry, Unix seconds.
    pub fn expires_on(&self) -> i64 {
        self.expires_on
    }

    /// When aadtoken plans to renew this token, Unix seconds (never after `expires_on`).
    pub fn refresh_on(&self) -> i64 {
        self.refresh_on
    }

    /// True while more than `margin` is left before expiry.
    pub fn is_fresh(&self, now: i64, margin: Duration) -> bool {
        self.expires_on - now > margin.as_secs() as i64
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &format_args!("[redacted, {} bytes]", self.len()))
            .field("expires_on", &self.expires_on)
            .field("refresh_on", &self.refresh_on)
            .finish()
    }
}

/// The time now, in Unix seconds, from the coarse clock (`CLOCK_REALTIME_COARSE`: the time of
/// the last timer tick, which the C library reads from the vDSO without a timestamp counter
/// read or a syscall; a few milliseconds behind at most). For the cache's hit path, whose
/// decisions are in whole seconds.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn unix_now_coarse() -> i64 {
    rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse).tv_sec
}

/// The time now, in Unix seconds (systems without a coarse clock).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn unix_now_coarse() -> i64 {
    unix_now()
}

/// The time now, in Unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A number that Entra sends either as a JSON number or as a string ("3599").
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(f64),
    String(String),
}

impl NumberOrString {
    fn seconds(&self) -> Option<i64> {
        match self {
            NumberOrString::Number(n) if n.is_finite() => Some(*n as i64),
            NumberOrString::Number(_) => None,
            NumberOrString::String(s) => {
                let s = s.trim();
                s.parse::<i64>()
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().filter(|n| n.is_finite()).map(|n| n as i64))
                    .or_else(|| parse_date(s))
            }
        }
    }
}

/// A date as managed-identity endpoints send `expires_on`: App Service 2017's
/// `M/d/yyyy h:mm:ss AM +00:00` (the offset optional), or RFC 3339 `yyyy-mm-ddThh:mm:ssZ`.
/// Unix seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    // At most 6 digits per field: no arithmetic below can overflow.
    let num = |t: &str| (t.len() <= 6).then(|| t.parse::<i64>().ok()).flatten();
    let (date, rest) = s.split_once([' ', 'T'])?;
    let (y, m, d) = if date.contains('/') {
        let mut p = date.split('/');
        let (m, d, y) = (num(p.next()?)?, num(p.next()?)?, num(p.next()?)?);
        (y, m, d)
    } else {
        let mut p = date.split('-');
        (num(p.next()?)?, num(p.next()?)?, num(p.next()?)?)
    };
    let mut parts = rest.split_whitespace();
    let mut time = parts.next()?;
    let mut offset = 0i64;
    let zone_start = time
        .find(['Z', 'z', '+'])
        .or_else(|| time.rfind('-').filter(|i| *i > 0));
    let mut zone: Option<String> = zone_start.map(|i| time[i..].to_owned());
    if let Some(i) = zone_start {
        time = &time[..i];
    }
    let mut pm = None;
    for p in parts {
        match p.to_ascii_uppercase().as_str() {
            "AM" => pm = Some(false),
            "PM" => pm = Some(true),
            z => zone = Some(z.to_owned()),
        }
    }
    if let Some(z) = zone.filter(|z| !z.eq_ignore_ascii_case("z")) {
        // A zone is ASCII (`+01:00`, `-0500`); anything else is garbage, and slicing it by
        // bytes could split a character (found by fuzzing).
        if !z.is_ascii() {
            return None;
        }
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, mi) = z
            .trim_start_matches(['+', '-'])
            .split_once(':')
            .unwrap_or((z.get(1..).unwrap_or(""), "0"));
        offset = sign * (num(h)? * 3600 + num(mi)? * 60);
    }
    let mut t = time.split(':');
    let (mut h, mi) = (num(t.next()?)?, num(t.next()?)?);
    let sec = t
        .next()
        .map(|x| x.split('.').next().unwrap_or("0"))
        .map_or(Some(0), num)?;
    match pm {
        Some(true) if h < 12 => h += 12,
        Some(false) if h == 12 => h = 0,
        _ => {}
    }
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Years a token can expire in; anything else is garbage (and would overflow below).
    if !(1970..=9999).contains(&y) || !(-86_400..=86_400).contains(&offset) {
        return None;
    }
    // Days from civil (H. Hinnant).
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

#[derive(Deserialize)]
struct SuccessBody {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<NumberOrString>,
    expires_on: Option<NumberOrString>,
    refresh_in: Option<NumberOrString>,
}

/// The longest token lifetime accepted from `expires_in` (a year; Entra's are hours): a larger
/// number is a malformed answer, not a token to cache for centuries.
const MAX_LIFETIME_S: i64 = 366 * 86_400;

/// Parse a 200 token response. `now` is when the request was sent (expiry counts from then).
pub fn parse_success(body: &[u8], now: i64) -> Result<Token> {
    let bad = |what: &str| Error::new(ErrorKind::BadResponse, format!("the token response {what}"));
    let parsed: SuccessBody = serde_json::from_slice(body).map_err(|_| {
        bad("is not a JSON object with an access token (a proxy or a wrong 'authority_host'?)")
    })?;
    let value = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("has no 'access_token'"))?;
    if value.bytes().any(|b| b == 0 || b.is_ascii_whitespace()) {
        return Err(bad("has an 'access_token' with invalid characters"));
    }
    if let Some(tt) = &parsed.token_type {
        if !tt.eq_ignore_ascii_case("bearer") {
            return Err(bad(&format!("has token_type '{tt}', expected 'Bearer'")));
        }
    }
    let expires_on = match (&parsed.expires_in, &parsed.expires_on) {
        (Some(e), _) => {
            now + e
                .seconds()
                .filter(|s| (1..=MAX_LIFETIME_S).contains(s))
                .ok_or_else(|| bad("has an invalid 'expires_in'"))?
        }
        (None, Some(e)) => e.seconds().ok_or_else(|| bad("has an invalid 'expires_on'"))?,
        (None, None) => return Err(bad("has neither 'expires_in' nor 'expires_on'")),
    };
    let refresh_hint = parsed
        .refresh_in
        .as_ref()
        .and_then(NumberOrString::seconds)
        .filter(|s| *s > 0)
        .map(|s| now.saturating_add(s).min(expires_on));
    let mut token = Token::new(&value, expires_on, refresh_hint.unwrap_or(expires_on));
    token.issued_at = now.min(expires_on);
    token.refresh_hint = refresh_hint;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_numbers_and_strings() {
        let t = parse_success(
            br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"a.b.c"}"#,
            1000,
        )
        .unwrap();
        assert_eq!(
            (t.secret(), t.expires_on(), t.refresh_on()),
            ("a.b.c", 4599, 4599)
        );
        let t = parse_success(
            br#"{"token_type":"Bearer","expires_in":"3599","refresh_in":"1800","access_token":"x"}"#,
            0,
        )
        .unwrap();
        assert_eq!((t.expires_on(), t.refresh_on()), (3599, 1800));
        let t = parse_success(br#"{"access_token":"x","expires_on":"1700000000"}"#, 0).unwrap();
        assert_eq!(t.expires_on(), 1_700_000_000);
        assert_eq!(t.with_nul(), b"x\0");
    }

    #[test]
    fn rejects_incomplete_or_odd_responses() {
        for body in [
            &b"<html>proxy error</html>"[..],
            br#"{"expires_in":3599}"#,
            br#"{"access_token":"","expires_in":3599}"#,
            br#"{"access_token":"x"}"#,
            br#"{"access_token":"x","expires_in":"soon"}"#,
            br#"{"access_token":"x","expires_in":-5}"#,
            br#"{"access_token":"x y","expires_in":5}"#,
            br#"{"access_token":"x","expires_in":5,"token_type":"pop"}"#,
        ] {
            let e = parse_success(body, 0).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::BadResponse,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn refresh_schedule_follows_hint_half_life_or_margin() {
        let margin = Duration::from_secs(300);
        // One-hour token: refresh before expiry - margin, with a lead of 120 s for the refresh.
        let mut t = parse_success(br#"{"access_token":"x","expires_in":3600}"#, 0).unwrap();
        t.schedule_refresh(margin, 0.0);
        assert_eq!(t.refresh_on(), 3600 - 300 - 120);
        t.schedule_refresh(margin, 1.0);
        assert_eq!(
            t.refresh_on(),
            3600 - 300 - 120 - 60,
            "jitter of up to half the lead"
        );
        // Entra's refresh_in wins when it is earlier.
        let mut t = parse_success(
            br#"{"access_token":"x","expires_in":86400,"refresh_in":43200}"#,
            0,
        )
        .unwrap();
        t.schedule_refresh(margin, 0.0);
        assert_eq!(t.refresh_on(), 43200);
        // Long-lived token without a hint: half-life.
        let mut t = parse_success(br#"{"access_token":"x","expires_in":"86400"}"#, 0).unwrap();
        t.schedule_refresh(margin, 0.0);
        assert_eq!(t.refresh_on(), 43200);
        // A token shorter than the margin: refresh at once.
        let mut t = parse_success(br#"{"access_token":"x","expires_in":60}"#, 100).unwrap();
        t.schedule_refresh(margin, 0.5);
        assert_eq!(t.refresh_on(), 100);
    }

    #[test]
    fn managed_identity_dates() {
        assert_eq!(parse_date("11/29/2026 10:48:18 AM +00:00"), Some(1_795_949_298));
        assert_eq!(
            parse_date("11/29/2026 10:48:18 PM +00:00"),
            Some(1_795_949_298 + 43_200)
        );
        assert_eq!(
            parse_date("11/29/2026 12:48:18 PM +01:00"),
            Some(1_795_949_298 + 3600)
        );
        assert_eq!(parse_date("2026-11-29T10:48:18Z"), Some(1_795_949_298));
        assert_eq!(parse_date("2026-11-29T11:48:18+01:00"), Some(1_795_949_298));
        assert_eq!(parse_date("soon"), None);
        let t = parse_success(br#"{"access_token":"x","expires_on":"11/29/2026 10:48:18 AM +00:00","resource":"r","token_type":"Bearer"}"#, 1_795_900_000).unwrap();
        assert_eq!((t.expires_on(), t.issued_at()), (1_795_949_298, 1_795_900_000));
    }

    #[test]
    fn debug_hides_the_value() {
        let t = Token::new("eyJsecret", 1, 1);
        assert!(!format!("{t:?}").contains("eyJsecret"));
    }
}
