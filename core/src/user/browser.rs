//! The browser sign-in: the authorization code flow with PKCE (S256) on a loopback redirect
//! (entra-protocol.md §7).
//!
//! 1. A listener on `127.0.0.1` and one on `::1`, on the same port (any free port, or
//!    `redirect_port`), since a browser may resolve `localhost` to either; the redirect URI is
//!    `http://localhost:<port>` (Entra, and OpenID providers following RFC 8252 §7.3, ignore
//!    the port of a loopback redirect URI when matching the registration). A host without
//!    IPv6 gets the 127.0.0.1 listener alone.
//! 2. The `/authorize` URL (client id, redirect URI, scopes with `openid profile
//!    offline_access`, a fresh `state` and OpenID Connect `nonce`, the PKCE challenge,
//!    `prompt`/`login_hint`/`domain_hint`)
//!    is opened by the host's open-URL callback, else by the system browser (`xdg-open`,
//!    `open`, or `rundll32 url.dll,FileProtocolHandler` — the URL as one argument, never
//!    through a shell).
//! 3. The browser comes back to the listener with `code` and `state` (or `error`): the state
//!    is checked, the browser gets a small page ("you can close this window"), the listener is
//!    closed, and the code is redeemed with the PKCE verifier. `interactive_timeout_s` bounds
//!    the wait for the redirect.
//! 4. When the answer carries an id token, its `nonce` claim must be the one sent (OpenID
//!    Connect Core §3.1.3.7, step 11): else the code came from another authorization request
//!    (an injected code), the sign-in fails with `StateMismatch`, and nothing is kept.
//!
//! The listener takes what real browsers do: connections are read side by side (a preconnect
//! that never sends a request holds up nobody), other paths (`/favicon.ico`) get a 404, and
//! while the opener still runs after the redirect came, a reload of the redirect URL gets the
//! same "signed in" page again.

use std::time::Duration;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cache::Scopes;
use crate::credential::app::Env;
use crate::error::{Error, ErrorKind, Result};

use super::pkce::{random_string, Pkce};
use super::public_client::{IdTokenNonce, PublicClient, UserEndpoint, UserTokens};

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
    let endpoint = client.endpoint(env, UserEndpoint::Authorize).await?;
    let listeners = Listeners::bind(client.settings.redirect_port)?;
    let port = listeners.port;
    let redirect_uri = format!("http://localhost:{port}");
    log_info!(
        "browser sign-in: waiting for the redirect on 127.0.0.1:{port}{} (at most {} s)",
        if listeners.v6.is_some() { " and [::1]" } else { "" },
        client.settings.interactive_timeout.as_secs()
    );
    let pkce = Pkce::new()?;
    let state = random_string(24)?;
    let nonce = random_string(24)?;
    let sent = Sent {
        redirect_uri: &redirect_uri,
        state: &state,
        nonce: &nonce,
        challenge: &pkce.challenge,
    };
    let url = authorize_url(client, &endpoint, scopes, &sent)?;

    let wait = client.settings.interactive_timeout;
    let outcome = tokio::time::timeout(wait, wait_for_redirect(client, &listeners, url, &state)).await;
    drop(listeners);
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
                None,
            )
            .await
            .map_err(|e| {
                let m = format!(
                    "redeeming the sign-in's authorization code failed: {}",
                    e.message()
                );
                let kind = e.kind();
                e.reclassified(kind, m)
            })
            .and_then(|got| check_nonce(&got.nonce, &nonce).map(|()| got)),
        Redirect::Error { error, description } => {
            let summary = description.lines().next().unwrap_or("").trim().to_owned();
            // AADSTS codes are Entra's: another issuer's text is only text.
            let aadsts: Vec<u32> = Some(summary.as_str())
                .filter(|_| client.is_entra())
                .and_then(|s| s.strip_prefix("AADSTS"))
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

/// The loopback listeners of one sign-in: 127.0.0.1 and, when the host has IPv6, ::1, on
/// one port.
struct Listeners {
    v4: TcpListener,
    v6: Option<TcpListener>,
    port: u16,
}

/// Attempts at finding a port free on both loopback addresses (`redirect_port` 0).
const PORT_ATTEMPTS: usize = 8;

impl Listeners {
    fn bind(port: u16) -> Result<Listeners> {
        let mut last = None;
        for _ in 0..if port == 0 { PORT_ATTEMPTS } else { 1 } {
            let v4 = listen(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
                .map_err(|e| listen_error("127.0.0.1", port, &e))?;
            let bound = v4
                .local_addr()
                .map_err(|e| Error::internal(format!("loopback listener: {e}")))?
                .port();
            match listen(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bound)) {
                Ok(v6) => {
                    return Ok(Listeners {
                        v4,
                        v6: Some(v6),
                        port: bound,
                    })
                }
                // Taken on ::1 by something else: a browser resolving localhost to ::1 would
                // reach it, so another port (or, for redirect_port, an error).
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some(e),
                // No IPv6 loopback on this host: localhost can only be 127.0.0.1.
                Err(e) => {
                    log_debug!("browser sign-in: no listener on [::1]:{bound} ({e}); 127.0.0.1 only");
                    return Ok(Listeners {
                        v4,
                        v6: None,
                        port: bound,
                    });
                }
            }
        }
        let e = last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AddrInUse));
        Err(listen_error("[::1]", port, &e))
    }

    /// The next connection on either address.
    async fn accept(&self) -> std::io::Result<TcpStream> {
        let v6 = async {
            match &self.v6 {
                Some(l) => l.accept().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            a = self.v4.accept() => a.map(|(s, _)| s),
            a = v6 => a.map(|(s, _)| s),
        }
    }
}

/// A listening socket on `addr` (`SO_REUSEADDR`, so that a recent sign-in's port can be
/// listened on again; IPv6 only for an IPv6 address).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(16)
}

fn listen_error(address: &str, port: u16, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::Network,
        format!("could not listen on {address}:{port} for the sign-in redirect (redirect_port): {e}"),
    )
}

/// What one sign-in sends to `/authorize` besides the settings.
struct Sent<'a> {
    redirect_uri: &'a str,
    state: &'a str,
    nonce: &'a str,
    challenge: &'a str,
}

fn authorize_url(client: &PublicClient, endpoint: &str, scopes: &Scopes, sent: &Sent<'_>) -> Result<String> {
    let mut url = reqwest::Url::parse(endpoint)
        .map_err(|e| Error::internal(format!("authorize URL {endpoint}: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &client.app.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", sent.redirect_uri)
            .append_pair("scope", &PublicClient::decorated_scope(scopes))
            .append_pair("state", sent.state)
            .append_pair("nonce", sent.nonce)
            .append_pair("code_challenge", sent.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("response_mode", "query");
        if client.is_entra() {
            q.append_pair("client_info", "1");
        }
        let s = &client.settings;
        // OpenID Connect Core §11: an issuer grants offline_access (the refresh token) only
        // with prompt=consent; Entra needs no such thing.
        let prompt = s.prompt.as_deref().or((!client.is_entra()).then_some("consent"));
        if let Some(p) = prompt {
            q.append_pair("prompt", p);
        }
        if let Some(h) = &s.login_hint {
            q.append_pair("login_hint", h);
        }
        if let Some(d) = s.domain_hint.as_ref().filter(|_| client.is_entra()) {
            q.append_pair("domain_hint", d);
        }
    }
    Ok(url.into())
}

/// The id token of the redeemed code carries the `nonce` this sign-in sent (an answer without
/// an id token has nothing to check). Another nonce, or none, means the code was issued for
/// another authorization request — a code injected into this sign-in's redirect — so the
/// tokens are not used: `StateMismatch`, as for a redirect with another `state`.
fn check_nonce(got: &IdTokenNonce, sent: &str) -> Result<()> {
    let what = match got {
        IdTokenNonce::NoIdToken => return Ok(()),
        IdTokenNonce::Claimed(n) if n == sent => return Ok(()),
        IdTokenNonce::Claimed(_) => "another 'nonce' than the one aadtoken sent",
        IdTokenNonce::Absent => "no 'nonce', although aadtoken sent one",
    };
    Err(Error::new(
        ErrorKind::StateMismatch,
        format!(
            "the id token of the redeemed sign-in carried {what}, so its authorization code came from another \
             sign-in (a forged or replayed redirect); its tokens were not kept"
        ),
    ))
}

/// Open the page and wait for the redirect: browser connections are served while the opener
/// (a host callback, or the system browser's launcher) runs, since it may itself wait for
/// the redirect to complete; each connection is read on its own task, so one that sends
/// nothing delays no other. The result is returned once the redirect came and the opener
/// returned.
async fn wait_for_redirect(
    client: &PublicClient,
    listeners: &Listeners,
    url: String,
    state: &str,
) -> Result<Redirect> {
    let opener = client.opener.clone();
    let mut opening = Some(tokio::task::spawn_blocking(move || match opener {
        Some(o) => o.open(&url),
        None => open_system_browser(&url),
    }));
    let mut reading = tokio::task::JoinSet::new();
    let mut outcome: Option<Result<Redirect>> = None;
    loop {
        if opening.is_none() {
            if let Some(done) = outcome.take() {
                // The opener (a host callback) ends before the sign-in does, so it never runs
                // after the call that started the sign-in has returned.
                return done;
            }
        }
        tokio::select! {
            opened = async { opening.as_mut().expect("guarded").await }, if opening.is_some() => {
                opening = None;
                // Once the redirect came, the opener's result no longer matters.
                if outcome.is_none() {
                    match opened {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(e),
                        Err(e) => return Err(Error::internal(format!("opening the sign-in page did not complete: {e}"))),
                    }
                }
            }
            accepted = listeners.accept() => {
                if let Ok(mut stream) = accepted {
                    reading.spawn(async move {
                        let target = tokio::time::timeout(READ_TIMEOUT, read_target(&mut stream)).await;
                        (stream, target.ok().flatten())
                    });
                }
            }
            Some(read) = reading.join_next(), if !reading.is_empty() => {
                let Ok((mut stream, Some(target))) = read else { continue };
                match &outcome {
                    None => outcome = serve(&mut stream, &target, state).await,
                    Some(done) => {
                        let code = matches!(done, Ok(Redirect::Code(_)));
                        serve_again(&mut stream, &target, state, code).await
                    }
                }
            }
        }
    }
}

/// The query parameters of a request to `/` (`None`: another path).
fn redirect_params(target: &str) -> Option<Vec<(String, String)>> {
    let url = crate::authority::parse_url(&format!("http://localhost{target}")).ok()?;
    (url.path() == "/").then(|| {
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
}

/// Serve one browser request while waiting for the redirect. `None`: not the redirect
/// (another path, a probe): keep waiting.
async fn serve(stream: &mut TcpStream, target: &str, state: &str) -> Option<Result<Redirect>> {
    let params = redirect_params(target).unwrap_or_default();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if param("code").is_none() && param("error").is_none() {
        not_found(stream).await;
        return None;
    }
    if param("state").as_deref() != Some(state) {
        respond(
            stream,
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
            stream,
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
    signed_in(stream).await;
    Some(Ok(Redirect::Code(code)))
}

/// Serve a request after the redirect came (a reload of the redirect URL, a favicon): the
/// redirect of this sign-in, when it `signed` the person in, gets its page again, anything
/// else a 404; nothing changes.
async fn serve_again(stream: &mut TcpStream, target: &str, state: &str, signed: bool) {
    let params = redirect_params(target).unwrap_or_default();
    if signed && params.iter().any(|(k, v)| k == "state" && v == state) {
        signed_in(stream).await;
    } else {
        not_found(stream).await;
    }
}

async fn signed_in(stream: &mut TcpStream) {
    respond(
        stream,
        "200 OK",
        "Signed in",
        "You are signed in; aadtoken has what it needs. You can close this window.",
    )
    .await;
}

async fn not_found(stream: &mut TcpStream) {
    respond(
        stream,
        "404 Not Found",
        "Not found",
        "This is aadtoken's sign-in listener.",
    )
    .await;
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
/// shell), its output discarded (the library never prints). What a browser sign-in does
/// without an open-URL callback; public for hosts (the CLI) that add to it.
pub fn open_system_browser(url: &str) -> Result<()> {
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
    fn the_id_tokens_nonce_must_be_the_one_sent() {
        assert!(
            check_nonce(&IdTokenNonce::NoIdToken, "n1").is_ok(),
            "no id token: nothing to check"
        );
        assert!(check_nonce(&IdTokenNonce::Claimed("n1".into()), "n1").is_ok());
        for got in [
            IdTokenNonce::Claimed("n2".into()),
            IdTokenNonce::Claimed(String::new()),
            IdTokenNonce::Absent,
        ] {
            let e = check_nonce(&got, "n1").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::StateMismatch, "{got:?}");
            assert!(e.message().contains("'nonce'"), "{}", e.message());
            assert!(
                !e.message().contains("n1") && !e.message().contains("n2"),
                "{}",
                e.message()
            );
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<script>\"x\" & 'y'"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;"
        );
    }
}
