//! The fault-injection matrix: for each way the network or the identity provider can fail, the
//! status a user gets, the message, how long it takes (bounded by `timeout_ms`) and how many
//! requests were made. RELIABILITY.md lists the same table; this test asserts it.
//! Run with `-- --nocapture` to print the table.

mod common;

use std::time::{Duration, Instant};

use aadtoken_core::{Client, Config, ErrorKind};
use aadtoken_mock::{Fault, MockConfig, MockServer, ServerCert, CLIENT_ID, CLIENT_SECRET, SCOPE, TENANT_ID};

const TIMEOUT_MS: u64 = 1500;

struct Case {
    name: &'static str,
    /// `None`: no fault (for TLS cases, where the server itself is the fault).
    fault: Option<Fault>,
    server_cert: ServerCert,
    trust_mock_ca: bool,
    kind: ErrorKind,
    requests: u64,
    /// Upper bound on the time the call may take.
    within: Duration,
    /// A word the message must contain.
    says: &'static str,
}

fn case(name: &'static str, fault: Fault, kind: ErrorKind, requests: u64, says: &'static str) -> Case {
    Case {
        name,
        fault: Some(fault),
        server_cert: ServerCert::Valid,
        trust_mock_ca: true,
        kind,
        requests,
        within: Duration::from_millis(TIMEOUT_MS + 1000),
        says,
    }
}

fn tls_case(name: &'static str, cert: ServerCert, trust: bool, says: &'static str) -> Case {
    Case {
        name,
        fault: None,
        server_cert: cert,
        trust_mock_ca: trust,
        kind: ErrorKind::Tls,
        requests: 0,
        within: Duration::from_secs(2),
        says,
    }
}

fn client(mock: &MockServer, trust: bool) -> Client {
    let ca_file = trust.then(|| mock.ca_file().to_str().unwrap());
    let settings = common::app_settings(&format!("timeout_ms={TIMEOUT_MS}"));
    Client::new(&common::mock_config_with_ca(mock, ca_file, &settings)).unwrap()
}

#[test]
fn fault_matrix() {
    let elsewhere = MockServer::spawn(MockConfig::default());
    let redirect_to = format!("{}/{TENANT_ID}/oauth2/v2.0/token", elsewhere.base_url());
    let status = |s: u16| Fault::status(s);
    let cases = vec![
        case(
            "429 with Retry-After: 7",
            Fault::throttled(Some(7)),
            ErrorKind::Throttled,
            1,
            "HTTP 429",
        ),
        case(
            "429 without Retry-After",
            Fault::throttled(None),
            ErrorKind::Throttled,
            1,
            "HTTP 429",
        ),
        case(
            "500 (Entra error body)",
            status(500),
            ErrorKind::ServerError,
            2,
            "HTTP 500",
        ),
        case(
            "502 (Entra error body)",
            status(502),
            ErrorKind::ServerError,
            2,
            "HTTP 502",
        ),
        case(
            "503 (Entra error body)",
            status(503),
            ErrorKind::ServerError,
            2,
            "HTTP 503",
        ),
        case(
            "504 (Entra error body)",
            status(504),
            ErrorKind::ServerError,
            2,
            "HTTP 504",
        ),
        case(
            "503 with Retry-After: 30",
            Fault::Status {
                status: 503,
                retry_after: Some(30),
            },
            ErrorKind::Throttled,
            1,
            "HTTP 503",
        ),
        case(
            "502 HTML page from a proxy",
            Fault::HtmlStatus { status: 502 },
            ErrorKind::ServerError,
            2,
            "not an OAuth error",
        ),
        case(
            "connection closed, no answer",
            Fault::Disconnect,
            ErrorKind::Network,
            2,
            "could not reach",
        ),
        case(
            "reset mid-response",
            Fault::ResetMidResponse,
            ErrorKind::Network,
            2,
            "could not reach",
        ),
        case(
            "truncated body",
            Fault::Truncated,
            ErrorKind::Network,
            2,
            "could not reach",
        ),
        case(
            "accepts, never answers",
            Fault::Hang,
            ErrorKind::Timeout,
            1,
            "timeout_ms=1500",
        ),
        case(
            "slow body (1 byte / 50 ms)",
            Fault::Trickle { delay_ms: 50 },
            ErrorKind::Timeout,
            1,
            "timeout_ms",
        ),
        case(
            "200 with an HTML page",
            Fault::MalformedBody,
            ErrorKind::BadResponse,
            1,
            "not a JSON object",
        ),
        case(
            "200 without access_token",
            Fault::MissingField {
                field: "access_token".into(),
            },
            ErrorKind::BadResponse,
            1,
            "no 'access_token'",
        ),
        case(
            "200 without expires_in",
            Fault::MissingField {
                field: "expires_in".into(),
            },
            ErrorKind::BadResponse,
            1,
            "neither 'expires_in' nor 'expires_on'",
        ),
        case(
            "200 with a 5 MB body",
            Fault::HugeBody { bytes: 5 << 20 },
            ErrorKind::BadResponse,
            1,
            "not a JSON object",
        ),
        case(
            "307 redirect to another host",
            Fault::Redirect {
                location: redirect_to,
            },
            ErrorKind::BadResponse,
            1,
            "HTTP 307",
        ),
        tls_case("TLS: CA not trusted", ServerCert::Valid, false, "UnknownIssuer"),
        tls_case(
            "TLS: expired certificate",
            ServerCert::Expired,
            true,
            "certificate expired",
        ),
        tls_case(
            "TLS: certificate for another host",
            ServerCert::WrongHost,
            true,
            "not valid for name",
        ),
    ];

    println!("| fault | status | requests | time (ms) | message |");
    println!("|---|---|---|---|---|");
    let mut failures = Vec::new();
    for c in cases {
        let mock = MockServer::spawn(MockConfig::default().with_server_cert(c.server_cert));
        if let Some(f) = &c.fault {
            mock.fail_next(1, f.clone());
            mock.fail_next(1, f.clone()); // for the one retry some faults get
        }
        let started = Instant::now();
        let result = client(&mock, c.trust_mock_ca).get_token(None);
        let took = started.elapsed();
        let Err(err) = result else {
            failures.push(format!("{}: got a token", c.name));
            continue;
        };
        let status = aadtoken::ffi::status_of(err.kind());
        let message: String = err.message().chars().take(140).collect();
        println!(
            "| {} | {} ({:?}) | {} | {} | {} |",
            c.name,
            status,
            err.kind(),
            mock.token_requests(),
            took.as_millis(),
            message.replace('|', "/")
        );
        if err.kind() != c.kind {
            failures.push(format!(
                "{}: kind {:?}, expected {:?} ({err})",
                c.name,
                err.kind(),
                c.kind
            ));
        }
        if mock.token_requests() != c.requests {
            failures.push(format!(
                "{}: {} requests, expected {}",
                c.name,
                mock.token_requests(),
                c.requests
            ));
        }
        if took > c.within {
            failures.push(format!("{}: took {took:?}, bound {:?}", c.name, c.within));
        }
        if !err.message().contains(c.says) {
            failures.push(format!("{}: message lacks '{}': {err}", c.name, c.says));
        }
        if err.message().contains(CLIENT_SECRET) {
            failures.push(format!("{}: the secret is in the message", c.name));
        }
    }
    assert_eq!(
        elsewhere.token_requests(),
        0,
        "a redirect is never followed (credentials stay put)"
    );
    assert!(failures.is_empty(), "fault matrix:\n{}", failures.join("\n"));
}

#[test]
fn connection_refused_is_a_network_error_within_the_deadline() {
    let port = common::closed_port();
    let mut c = Config::new();
    c.parse(&format!(
        "authority_host=https://127.0.0.1:{port};tenant_id={TENANT_ID};client_id={CLIENT_ID};client_secret=x;\
         scope={SCOPE};timeout_ms={TIMEOUT_MS}"
    ))
    .unwrap();
    let started = Instant::now();
    let err = Client::new(&c).unwrap().get_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(
        err.message().contains("Connection refused") || err.message().contains("connection refused"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A short-lived token whose background refreshes keep failing is retried until shortly before
/// callers would have to wait for a new one: the backoff after a failed background refresh
/// (2, 4, 8 … s) is capped by half the time the cached token has left, so the last attempt is
/// not one long backoff before the token runs out (RELIABILITY.md, "Background refresh").
#[test]
fn background_refresh_of_a_short_token_keeps_retrying_before_it_runs_out() {
    use aadtoken_core::token::unix_now;
    let mock = MockServer::spawn(MockConfig::default().with_token_lifetime(16));
    mock.set_refresh_in(Some(aadtoken_mock::RefreshIn::Number(2)));
    let client = Client::new(&common::app_config(&mock, "timeout_ms=1500;expiry_margin_s=2")).unwrap();
    let first = client.get_token(None).unwrap();
    // Callers get this token until 2 s (the margin) before it expires; background refreshes
    // start 2 s after it was issued (`refresh_in`) and all fail.
    let usable_until = first.expires_on() - 2;
    mock.fail_next(1000, Fault::status(400));
    let before = mock.token_requests();
    let mut attempts = Vec::new();
    let mut seen = before;
    while unix_now() < usable_until {
        let t = client
            .get_token(None)
            .expect("the cached token while it is usable");
        assert_eq!(t.secret(), first.secret());
        let n = mock.token_requests();
        if n > seen {
            attempts.push(unix_now());
            seen = n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    mock.clear_faults();
    // Uncapped, the attempts would come 2, 4 and 8 s after the first failure (t = 2, 4, 8 s
    // of a 14 s usable life) and the next one only at t = 16 s, after the token ran out.
    let last = *attempts.last().expect("background refreshes were attempted");
    assert!(
        attempts.len() >= 5 && usable_until - last <= 3,
        "background attempts at {:?} s before the token's usable end; expected at least 5, the last within 3 s of it",
        attempts.iter().map(|a| usable_until - a).collect::<Vec<_>>()
    );
}

/// With `ca_file`, a chain is checked against its certificates first and against the system's
/// roots only when they do not accept it; a server that neither trusts is refused with the
/// same error and hint as before (the outcome is that of all the roots together).
#[test]
fn a_ca_file_of_another_ca_falls_through_to_the_system_roots_and_is_refused() {
    let mock = MockServer::spawn(MockConfig::default());
    let other = MockServer::spawn(MockConfig::default());
    let settings = common::app_settings(&format!("timeout_ms={TIMEOUT_MS}"));
    let config = common::mock_config_with_ca(&mock, Some(other.ca_file().to_str().unwrap()), &settings);
    let err = Client::new(&config).unwrap().get_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(
        err.message().contains("UnknownIssuer") && err.message().contains("'ca_file'"),
        "{err}"
    );
    assert_eq!(mock.token_requests(), 0);
    // The mock's own CA in `ca_file`: accepted at the first stage.
    let config = common::mock_config_with_ca(&mock, Some(mock.ca_file().to_str().unwrap()), &settings);
    Client::new(&config).unwrap().get_token(None).unwrap();
}
