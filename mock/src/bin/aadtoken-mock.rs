//! `aadtoken-mock`: runs the Entra ID mock (and, with `--managed-identity`, the managed-identity
//! endpoints) until SIGTERM/SIGINT. See mock/README.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aadtoken_mock::{
    write_file_atomic, ManagedIdentityMock, MiSource, MockConfig, MockServer, CLIENT_ID, CLIENT_SECRET,
    EXPIRED_CLIENT_ID, OTHER_SCOPE, SCOPE, TENANT_DOMAIN, TENANT_ID,
};
use clap::Parser;

/// Local HTTPS mock of the Microsoft Entra ID token service (fixture data only).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TCP port on 127.0.0.1 (0 = pick a free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where to write the generated CA certificate (PEM) that clients must trust.
    #[arg(long, default_value = "aadtoken-mock-ca.pem")]
    ca_out: PathBuf,
    /// Write the chosen port (decimal, with a newline) to this file, atomically.
    #[arg(long)]
    port_file: Option<PathBuf>,
    /// Access-token lifetime in seconds (expires_in).
    #[arg(long, default_value_t = 3599)]
    token_lifetime: u64,
    /// Added latency per token request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Emit expires_in / ext_expires_in as JSON strings.
    #[arg(long)]
    expires_in_as_string: bool,
    /// Also print the fixture client secret (a mock value, not a real secret).
    #[arg(long)]
    print_fixture: bool,
    /// Also serve the managed-identity endpoints (plain HTTP on 127.0.0.1; Service Fabric on a
    /// second, HTTPS port), and print the variables that point a client at them as this source:
    /// imds, app-service, app-service-2017, arc, cloud-shell or service-fabric.
    #[arg(long, value_name = "SOURCE", value_parser = MiSource::parse)]
    managed_identity: Option<MiSource>,
    /// Write those variables (`NAME=value` lines, then `AADTOKEN_MOCK_MI_URL`, the base URL of
    /// the control routes) to this file, atomically.
    #[arg(long, requires = "managed_identity")]
    mi_env_file: Option<PathBuf>,
    /// Azure Arc: the directory the challenge's key files are written to (clients accept them
    /// only from /var/opt/azcmagent/tokens; aadtoken's debug builds also from its
    /// arc_key_dir_for_tests setting). Default: a temporary directory.
    #[arg(long, requires = "managed_identity")]
    arc_key_dir: Option<PathBuf>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut cfg = MockConfig::default()
        .with_port(args.port)
        .with_ca_out(&args.ca_out)
        .with_token_lifetime(args.token_lifetime);
    cfg.behaviour.latency_ms = args.latency_ms;
    cfg.behaviour.expires_in_as_string = args.expires_in_as_string;
    let mock = match MockServer::start(cfg).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("aadtoken-mock: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(pf) = &args.port_file {
        if let Err(e) = write_file_atomic(pf, format!("{}\n", mock.port()).as_bytes()) {
            eprintln!("aadtoken-mock: cannot write {}: {e}", pf.display());
            return ExitCode::FAILURE;
        }
    }
    let mi = match args
        .managed_identity
        .map(|source| (source, ManagedIdentityMock::try_spawn()))
    {
        None => None,
        Some((_, Err(e))) => {
            eprintln!("aadtoken-mock: cannot start the managed identity endpoints: {e}");
            return ExitCode::FAILURE;
        }
        Some((source, Ok(mi))) => {
            if let Some(dir) = &args.arc_key_dir {
                mi.set_arc_key_dir(dir);
            }
            // The client's variables, then the mock's own base URL (its /_mock/ control routes).
            let mut vars = mi.client_env(source);
            vars.push(("AADTOKEN_MOCK_MI_URL", mi.base_url()));
            let env: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            if let Some(f) = &args.mi_env_file {
                if let Err(e) = write_file_atomic(f, env.as_bytes()) {
                    eprintln!("aadtoken-mock: cannot write {}: {e}", f.display());
                    return ExitCode::FAILURE;
                }
            }
            Some((source, mi, env))
        }
    };
    println!(
        "aadtoken-mock listening on {} (CA: {})",
        mock.base_url(),
        mock.ca_file().display()
    );
    if let Some((source, mi, env)) = &mi {
        println!(
            "managed identity ({}) on {} (control: {}/_mock/; Arc key files in {}):",
            source.name(),
            mi.base_url(),
            mi.base_url(),
            mi.arc_key_dir().display()
        );
        print!("{env}");
    }
    println!("fixture tenant: {TENANT_ID} (domain {TENANT_DOMAIN})");
    println!("fixture client_id: {CLIENT_ID} (expired-secret client: {EXPIRED_CLIENT_ID})");
    println!("fixture scope: {SCOPE} (also {OTHER_SCOPE})");
    if args.print_fixture {
        println!("fixture client_secret: {CLIENT_SECRET} (mock fixture value, not a real secret)");
    }

    wait_for_signal().await;
    drop(mock);
    if let Some((_, mi, _)) = mi {
        tokio::task::block_in_place(|| drop(mi));
    }
    // Let in-flight log lines flush; nothing else to clean up.
    tokio::time::sleep(Duration::from_millis(10)).await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
