//! The browser sign-in: the authorization code flow with PKCE (S256) on a loopback redirect
//! (entra-protocol.md §7).
//!
//! 1. A listener on `127.0.0.1` (any free port, or `redirect_port`); the redirect URI is
//!    `http://localhost:<port>` (Entra ignores the port of a localhost redirect URI when
//!    matching the registration).
//! 2. The `/authorize` URL (client id, redirect URI, scopes with `openid profile
//!    offline_access`, a fresh `state`, the PKCE challenge, `prompt`/`login_hint`/`domain_hint`)
//!    is opened by the host's open-URL callback, else by the system browser (`xdg-open`,
//!    `open`, or `rundll32 url.dll,FileProtocolHandler` — the URL as one argument, never
//!    through a shell).
//! 3. The browser comes back to the listener with `code` and `state` (or `error`): the state
//!    is checked, the browser gets a small page ("you can close this window"), the listener is
//!    closed, and the code is redeemed with the PKCE verifier. `interactive_timeout_s` bounds
//!    the wait for the redirect.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cache::Scopes;
use crate::credential::app::Env;
use crate::error::{Error, ErrorKind, Result};

use super::pkce::{random_string, Pkce};
use super::public_client::{PublicClient, UserTokens};

/// Largest request head read from the browser.
const MAX_REQUEST: usize = 16 * 1024;
/// How long one browser connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What came back on the redirect.
enum Redirect {
    Code(zeroize::Zeroizing<String>),
    Error { error: String, description: String },
}

/// The values of the `prompt` setting (`key`): `login`, `none`, `consent` or `select_account`,
/// kept in lower case.
pub fn check_prompt(key: &str, value: &str) -> Result<String> {
    let v = value.to_ascii_lowercase();
    if !["login", "none", "consent", "select_account"].contains(&v.as_str()) {
        return Err(Error::invalid_setting(
            key,
            "must be login, none, consent or select_account",
        ));
    }
    Ok(v)
}

/// Sign the person in with a browser: listen on the loopback redirect, open the authorize
/// page, wait for the code (within `interactive_timeout_s`) and redeem it.
pub async fn run(client: &PublicClient, env: &Env<'_>, scopes: &Scopes) -> Result<UserTokens> {
    let port = client.settings.redirect_port;
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        Error::new(
            ErrorKind::Network,
            format!("could not listen on 127.0.0.1:{port} for the sign-in redirect (redirect_port): {e}"),
        )
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::internal(format!("loopback listener: {e}")))?
        .port();
    let redirect_uri = format!("http://localhost:{port}");
    crate::log_info!(
        "browser sign-in: waiting for the redirect on 127.0.0.1:{port} (at most {} s)",
        client.settings.interactive_timeout.as_secs()
    );
    let pkce = Pkce::new()?;
    let state = random_string(24)?;
    let url = authorize_url(client, scopes, &redirect_uri, &state, &pkce.challenge)?;

    let wait = client.settings.interactive_timeout;
    let outcome = tokio::time::timeout(wait, wait_for_redirect(client, &listener, url, &state)).await;
    drop(listener);
    let redirect = match outcome {
        Ok(r) => r?,
        Err(_) => {
            return Err(Error::new(
                ErrorKind::SignInExpired,
                format!(
                    "no sign-in came back to {redirect_uri} within interactive_timeout_s={}",
                    wait.as_secs()
                ),
            ))
        }
    };
    match redirect {
        Redirect::Code(code) => client
            .redeem(
                env,
                scopes,
                "authorization_code",
                &[
                    ("code", code.as_str()),
                    ("redirect_uri", redirect_uri.as_str()),
                    ("code_verifier", pkce.verifier.expose()),
                ],
            )
            .await
            .map_err(|e| {
                let m = format!(
                    "redeeming the sign-in's authorization code failed: {}",
                    e.message()
                );
                let kind = e.kind();
                e.reclassified(kind, m)
            }),
        Redirect::Error { error, description } => {
            let summary = description.lines().next().unwrap_or("").trim().to_owned();
            let aadsts: Vec<u32> = summary
                .strip_prefix("AADSTS")
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|d| d.parse().ok())
                .into_iter()
                .collect();
            let kind = match error.as_str() {
                "access_denied" => ErrorKind::UserCancelled,
                "interaction_required" | "login_required" | "consent_required" => {
                    ErrorKind::InteractionRequired
                }
                "invalid_client" => ErrorKind::InvalidClient,
                "unauthorized_client" => ErrorKind::UnauthorizedClient,
                "invalid_scope" => ErrorKind::InvalidScope,
                "temporarily_unavailable" | "server_error" => ErrorKind::ServerError,
                _ => ErrorKind::IdentityProvider,
            };
            let what = if kind == ErrorKind::UserCancelled {
                "the person cancelled or declined the sign-in"
            } else {
                "the sign-in failed"
            };
            Err(Error::new(kind, format!("{what}: {error}: {summary}"))
                .with_oauth_error(error)
                .with_aadsts(aadsts))
        }
    }
}

fn authorize_url(
    client: &PublicClient,
    scopes: &Scopes,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> Result<String> {
    let endpoint = client.endpoint("authorize");
    let mut url = reqwest::Url::parse(&endpoint)
        .map_err(|e| Error::internal(format!("authorize URL {endpoint}: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &client.app.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &PublicClient::decorated_scope(scopes))
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("response_mode", "query")
            .append_pair("client_info", "1");
        let s = &client.settings;
        if let Some(p) = &s.prompt {
            q.append_pair("prompt", p);
        }
        if let Some(h) = &s.login_hint {
            q.append_pair("login_hint", h);
        }
        if let Some(d) = &s.domain_hint {
            q.append_pair("domain_hint", d);
        }
    }
    Ok(url.into())
}

/// Open the page and wait for the redirect: browser connections are served while the opener
/// (a host callback, or the system browser's launcher) runs, since it may itself wait for
/// the redirect to complete.
async fn wait_for_redirect(
    client: &PublicClient,
    listener: &TcpListener,
    url: String,
    state: &str,
) -> Result<Redirect> {
    let opener = client.opener.clone();
    let mut opening = Some(tokio::task::spawn_blocking(move || match opener {
        Some(o) => o.open(&url),
        None => open_system_browser(&url),
    }));
    loop {
        tokio::select! {
            opened = async { opening.as_mut().expect("guarded").await }, if opening.is_some() => {
                opening = None;
                match opened {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(e) => return Err(Error::internal(format!("opening the sign-in page did not complete: {e}"))),
                }
            }
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if let Some(done) = serve(stream, state).await {
                    // The opener (a host callback) ends before the sign-in does, so it never
                    // runs after the call that started the sign-in has returned. Its result
                    // no longer matters: the redirect came.
                    if let Some(opening) = opening.take() {
                        let _ = opening.await;
                    }
                    return done;
                }
            }
        }
    }
}

/// Serve one browser connection. `None`: not the redirect (another path, a probe): keep
/// waiting.
async fn serve(mut stream: TcpStream, state: &str) -> Option<Result<Redirect>> {
    let target = match tokio::time::timeout(READ_TIMEOUT, read_target(&mut stream)).await {
        Ok(Some(t)) => t,
        _ => return None,
    };
    let url = crate::authority::parse_url(&format!("http://localhost{target}")).ok()?;
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    if url.path() != "/" || (param("code").is_none() && param("error").is_none()) {
        respond(
            &mut stream,
            "404 Not Found",
            "Not found",
            "This is aadtoken's sign-in listener.",
        )
        .await;
        return None;
    }
    if param("state").as_deref() != Some(state) {
        respond(
            &mut stream,
            "400 Bad Request",
            "Sign-in failed",
            "This sign-in response does not belong to the sign-in aadtoken started (its state does not match), so \
             it was ignored. Start the sign-in again from your application.",
        )
        .await;
        return Some(Err(Error::new(
            ErrorKind::StateMismatch,
            "the sign-in redirect carried another 'state' than the one aadtoken sent (a stale browser tab, or a \
             forged redirect); its code was not redeemed",
        )));
    }
    if let Some(error) = param("error") {
        let description = param("error_description").unwrap_or_default();
        respond(
            &mut stream,
            "200 OK",
            "Sign-in failed",
            &format!(
                "The sign-in did not complete: {error}. {} You can close this window.",
                description.lines().next().unwrap_or("")
            ),
        )
        .await;
        return Some(Ok(Redirect::Error { error, description }));
    }
    let code = zeroize::Zeroizing::new(param("code").unwrap_or_default());
    respond(
        &mut stream,
        "200 OK",
        "Signed in",
        "You are signed in; aadtoken has what it needs. You can close this window.",
    )
    .await;
    Some(Ok(Redirect::Code(code)))
}

/// The request target of `GET <target> HTTP/1.x`.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = std::str::from_utf8(&buf).ok()?;
    let mut parts = head.lines().next()?.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, title: &str, text: &str) {
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{t}</h1><p>{x}</p></body></html>\n",
        t = escape(title),
        x = escape(text)
    );
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// HTML-escape text that may come from the redirect (an error description).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Open `url` in the system browser: the launcher with the URL as its one argument (no
/// shell), its output discarded (the library never prints).
fn open_system_browser(url: &str) -> Result<()> {
    #[cfg(target_os = "macos")]
    let (program, args): (&str, Vec<&str>) = ("open", vec![url]);
    #[cfg(windows)]
    let (program, args): (&str, Vec<&str>) = ("rundll32", vec!["url.dll,FileProtocolHandler", url]);
    #[cfg(not(any(target_os = "macos", windows)))]
    let (program, args): (&str, Vec<&str>) = ("xdg-open", vec![url]);
    let failed = |why: String| {
        Error::new(
            ErrorKind::CallbackRequired,
            format!(
                "could not open a browser for the sign-in ({program}: {why}); set an open-URL callback \
                 (aadtoken_config_set_open_url_callback), or use auth_method=device_code"
            ),
        )
    };
    let status = std::process::Command::new(program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| failed(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(format!("exited with {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<script>\"x\" & 'y'"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;"
        );
    }
}
