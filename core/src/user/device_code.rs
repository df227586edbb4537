//! The device code flow (RFC 8628; entra-protocol.md §5): `POST /devicecode`, the host's prompt
//! callback shows the person the code, then the token endpoint is polled every `interval`
//! seconds (`slow_down` adds 5 s) until the person has signed in, declined, or the code expired
//! (`expires_in`, which bounds the whole flow). A poll that fails for a reason that says
//! nothing about the code (no connection, a timeout, a 5xx or 429 answer) is followed by the
//! next poll, within the code's lifetime. The library never prints the message itself.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::cache::Scopes;
use crate::credential::app::Env;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, TokenRequest};
use crate::token::unix_now;

use super::public_client::{PublicClient, UserEndpoint, UserTokens};

/// The grant type of the device-code poll.
pub const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Defaults when the answer lacks them (as MSAL Python).
const DEFAULT_INTERVAL: u64 = 5;
const DEFAULT_EXPIRES_IN: u64 = 1800;
/// `slow_down` adds this to the interval (RFC 8628 §3.5).
const SLOW_DOWN: u64 = 5;

/// A number as a JSON number or string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    N(u64),
    S(String),
}

impl Num {
    fn get(&self) -> Option<u64> {
        match self {
            Num::N(n) => Some(*n),
            Num::S(s) => s.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct DeviceCode {
    device_code: String,
    user_code: String,
    verification_uri: String,
    expires_in: Option<Num>,
    interval: Option<Num>,
    message: Option<String>,
}

/// Sign the person in with a device code: request it, show it through the host's prompt, and
/// poll the token endpoint until the person has signed in (or the code expired).
pub async fn run(client: &PublicClient, env: &Env<'_>, scopes: &Scopes) -> Result<UserTokens> {
    let Some(prompt) = client.prompt.clone() else {
        return Err(Error::new(
            ErrorKind::CallbackRequired,
            "auth_method=device_code needs a device-code callback to show the person where to sign in and which \
             code to enter (aadtoken_config_set_device_code_callback); aadtoken never prints it itself",
        ));
    };
    let endpoint = client.endpoint(env, UserEndpoint::DeviceCode).await?;
    let scope = PublicClient::decorated_scope(scopes);
    let req = TokenRequest::post(
        &endpoint,
        vec![("client_id", client.app.client_id.as_str()), ("scope", &scope)],
    );
    let (body, sent_at) = client
        .bounded(
            http::request_body_with_retry(&env.http()?, &req),
            "device code request",
        )
        .await
        .map_err(|e| e.context(format!("device code request to {endpoint}")))?;
    let code: DeviceCode = serde_json::from_slice(&body).map_err(|_| {
        Error::new(
            ErrorKind::BadResponse,
            format!(
                "the device code answer from {endpoint} lacks device_code, user_code or verification_uri"
            ),
        )
        .with_correlation_id(&req.correlation_id)
    })?;
    let expires_in = code
        .expires_in
        .as_ref()
        .and_then(Num::get)
        .unwrap_or(DEFAULT_EXPIRES_IN);
    let mut interval = code
        .interval
        .as_ref()
        .and_then(Num::get)
        .unwrap_or(DEFAULT_INTERVAL)
        .max(1);
    let expires_on = sent_at + expires_in as i64;
    let message = code.message.clone().unwrap_or_else(|| {
        format!(
            "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
            code.verification_uri, code.user_code
        )
    });
    {
        let (user_code, uri) = (code.user_code.clone(), code.verification_uri.clone());
        let prompt = Arc::clone(&prompt);
        log_info!(
            "device code sign-in: prompting the person through the host's callback (verification URI {uri}, code valid for {expires_in} s, polling every {interval} s)"
        );
        PublicClient::blocking(move || prompt.prompt(&message, &user_code, &uri, expires_on)).await?;
    }
    let device_code = zeroize::Zeroizing::new(code.device_code);
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if unix_now() > expires_on {
            return Err(expired(&format!("its expires_in ({expires_in} s) passed")));
        }
        match client
            .redeem(env, scopes, GRANT, &[("device_code", device_code.as_str())], None)
            .await
        {
            Ok(tokens) => return Ok(tokens),
            Err(e) => match e.oauth_error() {
                Some("authorization_pending") => {}
                Some("slow_down") => interval += SLOW_DOWN,
                Some("authorization_declined" | "access_denied") => {
                    let m = format!("the person declined the device code sign-in: {}", e.message());
                    return Err(e.reclassified(ErrorKind::UserCancelled, m));
                }
                Some("bad_verification_code") => {
                    let m = format!(
                        "the identity provider did not recognise the device code: {}",
                        e.message()
                    );
                    return Err(e.reclassified(ErrorKind::BadVerificationCode, m));
                }
                Some("expired_token") => {
                    let m = format!(
                        "the device code expired before the person signed in: {}",
                        e.message()
                    );
                    return Err(e.reclassified(ErrorKind::SignInExpired, m));
                }
                _ if transient(&e) => {
                    // The code is still valid: the next poll may well work (the request's own
                    // retry is spent, so this one waits an interval).
                    log_warn!(
                        "device code sign-in: a poll failed ({}); polling on until the code expires",
                        crate::log::error_summary(&e)
                    );
                }
                _ => return Err(e),
            },
        }
    }
}

/// A poll failure that says nothing about the device code: no connection, no answer in time,
/// a 5xx or 429 answer (Entra's `temporarily_unavailable`/`server_error` included).
fn transient(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Network | ErrorKind::Timeout | ErrorKind::ServerError | ErrorKind::Throttled
    )
}

fn expired(why: &str) -> Error {
    Error::new(
        ErrorKind::SignInExpired,
        format!("the device code expired before the person signed in ({why}); start the sign-in again"),
    )
}
