//! `aadtoken-mock-browser`: a stand-in for a person's browser in tests. Sends one HTTP(S)
//! request — trusting the mock's CA for https — and prints what came back, without following
//! redirects:
//!
//! ```text
//! aadtoken-mock-browser [--ca-file CA.pem] [--post-json BODY] URL
//! 302
//! location: http://localhost:41234/?code=…&state=…
//!
//! <body>
//! ```
//!
//! The first line is the status; then `location:` when the answer had one; a blank line; the
//! body. Exit 0 when an answer came (whatever its status), 1 otherwise. Tests use it from C to
//! open `/authorize` (the mock signs in at once and redirects to the loopback listener) and to
//! call `/_mock/` routes (approve a device code).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

fn usage() -> ExitCode {
    eprintln!("usage: aadtoken-mock-browser [--ca-file CA.pem] [--post-json BODY] URL");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut ca, mut body, mut url) = (None, None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--ca-file" => ca = args.next(),
            "--post-json" => body = args.next(),
            _ if url.is_none() && !a.starts_with("--") => url = Some(a),
            _ => return usage(),
        }
    }
    let Some(url) = url else { return usage() };
    match fetch(&url, ca.as_deref(), body.as_deref()) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("aadtoken-mock-browser: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fetch(url: &str, ca: Option<&str>, body: Option<&str>) -> Result<String, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err("only http:// and https:// URLs".into());
    };
    let (authority, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|e| e.to_string())?),
        None => (authority, if tls { 443 } else { 80 }),
    };
    let connect_host = if host == "localhost" { "127.0.0.1" } else { host };
    let tcp = TcpStream::connect((connect_host, port)).map_err(|e| format!("connect: {e}"))?;
    let mut request = match body {
        Some(b) => format!(
            "POST {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        ),
        None => format!("GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"),
    }
    .into_bytes();
    let mut raw = Vec::new();
    if tls {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(ca.ok_or("https needs --ca-file")?).map_err(|e| format!("CA file: {e}"))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots
                .add(cert.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        }
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
        let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream.write_all(&request).map_err(|e| format!("send: {e}"))?;
        match stream.read_to_end(&mut raw) {
            Ok(_) => {}
            // A server that closes without close_notify: keep what arrived.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
            Err(e) => return Err(format!("receive: {e}")),
        }
    } else {
        let mut tcp = tcp;
        tcp.write_all(&request).map_err(|e| format!("send: {e}"))?;
        tcp.read_to_end(&mut raw).map_err(|e| format!("receive: {e}"))?;
    }
    request.clear();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or("no status line")?;
    let mut out = format!("{status}\n");
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("location") {
                out.push_str(&format!("location: {}\n", v.trim()));
            }
        }
    }
    out.push('\n');
    out.push_str(body);
    Ok(out)
}
