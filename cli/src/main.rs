//! `aadtoken`: Microsoft Entra ID access tokens for Oracle Database clients, from the command
//! line — print a token, show its claims, write the Oracle `TOKEN_LOCATION` file once or keep it
//! fresh. Built on aadtoken's Rust API; the only part of aadtoken that prints.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use aadtoken_core::config::{DeviceCodePrompt, UrlOpener};
use aadtoken_core::oracle::keeper::is_permanent;
use aadtoken_core::oracle::{Keeper, KeeperEvent, KeeperOptions, TokenFile};
use aadtoken_core::token::unix_now;
use aadtoken_core::{AuthMethod, Claims};
use aadtoken_core::{Client, Config, Error, ErrorKind};
use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0   success (keep: stopped by SIGTERM or SIGINT)
  1   token error: Entra ID refused (wrong secret, unknown app or scope…), could not be reached,
      timed out or answered something that is not a token; or a token that cannot be decoded
  2   usage: a bad command line, or an unknown, invalid or missing setting
  3   token file: the location is unsafe (a symbolic link, a directory others can write) or
      cannot be written
  4   not available in this build
  70  internal error in aadtoken (please report it)

Settings, later sources overriding earlier ones:
  1. the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
     AZURE_AUTHORITY_HOST, then the settings string in AADTOKEN_SETTINGS (skip with --no-env)
  2. --settings-file FILE   (each line a settings string; '#' starts a comment line)
  3. --settings \"k=v;k=v\"   (in the order given)
  4. --set key=value        (in the order given)
Keys are aadtoken's (tenant_id, client_id, client_secret, scope, authority_host, ca_file,
timeout_ms, expiry_margin_s, auth_method, token_location, cache_file, login_hint…) or Oracle's (TOKEN_AUTH,
AZURE_DB_APP_ID_URI, TOKEN_LOCATION, CLIENT_ID, TENANT_ID, CLIENT_SECRET) or ojdbc-provider-azure's
(oracle.jdbc.provider.accessToken.*); see the README.";

/// Microsoft Entra ID access tokens for Oracle Database clients.
#[derive(Parser, Debug)]
#[command(name = "aadtoken", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct SettingsArgs {
    /// Set one setting (repeatable; applied last, in order)
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    set: Vec<String>,
    /// A settings string "key=value;key=value" (repeatable)
    #[arg(long, value_name = "SETTINGS", global = true)]
    settings: Vec<String>,
    /// A file of settings: one settings string per line, '#' comments (repeatable)
    #[arg(long = "settings-file", value_name = "FILE", global = true)]
    settings_file: Vec<PathBuf>,
    /// Do not read settings from the environment (AZURE_*, AADTOKEN_SETTINGS)
    #[arg(long, global = true)]
    no_env: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print an access token, and nothing else (for scripts)
    ///
    /// The token goes to stdout followed by a newline only when stdout is a terminal, so
    /// `aadtoken token > file` writes exactly the token. For the Oracle TOKEN_LOCATION file use
    /// `write-token-file` or `keep` (atomic, mode 0600).
    #[command(after_help = EXIT_CODES)]
    Token {
        /// Scopes, space separated (default: the `scope` setting)
        #[arg(long)]
        scope: Option<String>,
    },
    /// Show a token's claims and the time it has left
    ///
    /// Decodes the JWT payload without checking its signature: what the token says, to check
    /// it against the database (its IDENTITY_PROVIDER_CONFIG `application_id_uri` must equal
    /// `aud`). Gets a token with the settings, or reads one with --file.
    #[command(after_help = EXIT_CODES)]
    Claims {
        /// Scopes, space separated (default: the `scope` setting)
        #[arg(long, conflicts_with = "file")]
        scope: Option<String>,
        /// Read the token from this file (or TOKEN_LOCATION directory; '-' = stdin) instead
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Print the whole payload as JSON
        #[arg(long)]
        json: bool,
    },
    /// Write the Oracle token file once (TOKEN_AUTH=OAUTH, TOKEN_LOCATION)
    ///
    /// LOCATION is a directory (the file `token` in it is written) or a file path; default:
    /// the `token_location` (TOKEN_LOCATION) setting. The raw token, no trailing newline, mode
    /// 0600, replaced atomically. Refused: a symbolic link, a directory others can write.
    #[command(name = "write-token-file", after_help = EXIT_CODES)]
    WriteTokenFile {
        /// A TOKEN_LOCATION directory or a file path
        location: Option<PathBuf>,
        /// Scopes, space separated (default: the `scope` setting)
        #[arg(long)]
        scope: Option<String>,
    },
    /// Keep the Oracle token file fresh until stopped (for 19c/21c clients)
    ///
    /// Writes the file (as write-token-file), then rewrites it ahead of each token's expiry:
    /// at the token's refresh time or when `expiry_margin_s` (default 300) are left. When
    /// renewing fails the file keeps the last good token and renewal is retried with backoff;
    /// errors that retrying cannot fix (wrong secret, unknown application or scope, unsafe
    /// location) end the command with their exit code. Log lines go to stderr. SIGTERM or
    /// SIGINT stop it cleanly (exit 0); the file stays.
    #[command(after_help = EXIT_CODES)]
    Keep {
        /// A TOKEN_LOCATION directory or a file path
        location: Option<PathBuf>,
        /// Scopes, space separated (default: the `scope` setting)
        #[arg(long)]
        scope: Option<String>,
    },
    /// Sign in as a person: device code (default) or browser (--interactive)
    ///
    /// Signs in with the settings' public client (client_id, tenant_id) and keeps the account
    /// and its refresh token in `cache_file`, so that later commands (and programs using the
    /// same cache_file) get tokens without signing in again. Device code: the message saying
    /// where to go and which code to enter is printed on stderr. --interactive: the system
    /// browser opens the sign-in page (when none can be started, its address is printed on
    /// stderr to open by hand); it comes back to a listener on 127.0.0.1 and ::1
    /// (http://localhost).
    #[command(after_help = EXIT_CODES)]
    Login {
        /// Device code flow: sign in on another device (the default)
        #[arg(long, conflicts_with = "interactive")]
        device_code: bool,
        /// Browser sign-in (authorization code with PKCE on a loopback redirect)
        #[arg(long)]
        interactive: bool,
        /// Scopes, space separated (default: the `scope` setting)
        #[arg(long)]
        scope: Option<String>,
    },
    /// Sign the person out: forget the account and its refresh token in `cache_file`
    ///
    /// Removes the signed-in account the settings select (`login_hint` or `account`, else the
    /// only one) with its refresh token from `cache_file`, so that later commands and programs
    /// sharing the file must sign in again. Signing out when nobody is signed in succeeds. The
    /// person's browser session at the identity provider is not ended.
    #[command(after_help = EXIT_CODES)]
    Logout,
}

/// A failure and the exit code it gives.
struct Failure {
    code: u8,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            code: exit_code(e.kind()),
            message: one_line(&e),
        }
    }
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidArgument
        | ErrorKind::UnknownSetting
        | ErrorKind::InvalidSetting
        | ErrorKind::MissingSetting => 2,
        ErrorKind::File | ErrorKind::UnsafePath => 3,
        ErrorKind::Internal => 70,
        _ => 1,
    }
}

/// The error in one line: its message (with the AADSTS code and hint, and the correlation id,
/// when Entra ID sent them) and its kind.
fn one_line(e: &Error) -> String {
    let text: String = e
        .to_string()
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    format!("{text} [{:?}]", e.kind())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = match &cli.command {
        Command::Token { .. } => "token",
        Command::Claims { .. } => "claims",
        Command::WriteTokenFile { .. } => "write-token-file",
        Command::Keep { .. } => "keep",
        Command::Login { .. } => "login",
        Command::Logout => "logout",
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("aadtoken {name}: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Token { scope } => {
            let client = client(&cli.settings)?;
            let token = client.get_token(scope.as_deref())?;
            let mut out = std::io::stdout().lock();
            let newline = if out.is_terminal() { "\n" } else { "" };
            write!(out, "{}{newline}", token.secret())
                .and_then(|()| out.flush())
                .map_err(|e| Failure {
                    code: 1,
                    message: format!("could not write the token to stdout: {e}"),
                })
        }
        Command::Claims { scope, file, json } => {
            let (token, source) = match file {
                Some(path) => (read_token(&path)?, format!("the token in {}", path.display())),
                None => {
                    let client = client(&cli.settings)?;
                    let t = client.get_token(scope.as_deref())?;
                    (t.secret().to_owned(), "a token from Entra ID".to_owned())
                }
            };
            let claims = Claims::from_jwt(&token).map_err(|e| Failure {
                code: 1,
                message: one_line(&e),
            })?;
            if json {
                println!("{}", claims.json_pretty());
            } else {
                print_claims(&claims, &source);
            }
            Ok(())
        }
        Command::WriteTokenFile { location, scope } => {
            let (config, client) = config_and_client(&cli.settings)?;
            let file = TokenFile::new(location_of(location, &config)?)?;
            let token = client.get_token(scope.as_deref())?;
            file.write(&token)?;
            eprintln!(
                "aadtoken write-token-file: wrote {} (token expires {}, {})",
                file.path().display(),
                utc(token.expires_on()),
                left(token.expires_on() - unix_now())
            );
            Ok(())
        }
        Command::Keep { location, scope } => keep(&cli.settings, location, scope),
        Command::Login {
            device_code,
            interactive,
            scope,
        } => login(&cli.settings, device_code, interactive, scope),
        Command::Logout => logout(&cli.settings),
    }
}

/// The settings, in the documented order: environment, files, strings, single settings.
fn config(args: &SettingsArgs) -> Result<Config, Error> {
    let mut c = Config::new();
    c.set_device_code_prompt(Some(Arc::new(StderrPrompt)));
    c.set_url_opener(Some(Arc::new(SystemBrowserOrUrl)));
    if !args.no_env {
        c.load_env().map_err(|e| e.context("environment"))?;
        if let Some(s) = std::env::var("AADTOKEN_SETTINGS")
            .ok()
            .filter(|s| !s.trim().is_empty())
        {
            c.parse(&s).map_err(|e| e.context("AADTOKEN_SETTINGS"))?;
        }
    }
    for path in &args.settings_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("--settings-file {}: {e}", path.display()),
            )
        })?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            c.parse(line)
                .map_err(|e| e.context(format!("--settings-file {}, line {}", path.display(), n + 1)))?;
        }
    }
    for (i, s) in args.settings.iter().enumerate() {
        c.parse(s)
            .map_err(|e| e.context(format!("--settings #{}", i + 1)))?;
    }
    for kv in &args.set {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::invalid_argument("--set", "must be KEY=VALUE"))?;
        c.set(k, v).map_err(|e| e.context("--set"))?;
    }
    Ok(c)
}

/// The CLI is the host of person sign-in: it shows the device-code message on stderr.
struct StderrPrompt;

impl DeviceCodePrompt for StderrPrompt {
    fn prompt(&self, message: &str, _user_code: &str, _uri: &str, expires_on: i64) {
        eprintln!(
            "aadtoken: {message} (the code expires {}, {})",
            utc(expires_on),
            left(expires_on - unix_now())
        );
    }
}

/// The CLI opens the browser sign-in page in the system browser; when none can be started
/// (no desktop, an SSH session), it prints the page's address on stderr instead and keeps
/// waiting for the redirect (`interactive_timeout_s`): opened in a browser on this machine, the
/// sign-in completes.
struct SystemBrowserOrUrl;

impl UrlOpener for SystemBrowserOrUrl {
    fn open(&self, url: &str) -> Result<(), Error> {
        if let Err(e) = aadtoken_core::user::open_system_browser(url) {
            let why = e.message().split(';').next().unwrap_or("").to_owned();
            eprintln!(
                "aadtoken: {why}. To sign in, open this page in a browser on this machine (it comes back to \
                 http://localhost):\n\n  {url}\n\nor, without a browser here, stop this command and run \
                 `aadtoken login --device-code` to sign in on another device."
            );
        }
        Ok(())
    }
}

/// `aadtoken login`: sign a person in explicitly and keep the account in `cache_file`.
fn login(
    args: &SettingsArgs,
    device_code: bool,
    interactive: bool,
    scope: Option<String>,
) -> Result<(), Failure> {
    let mut c = config(args)?;
    let method = if interactive {
        AuthMethod::Interactive
    } else if device_code || c.auth_method() != Some(AuthMethod::Interactive) {
        AuthMethod::DeviceCode
    } else {
        AuthMethod::Interactive
    };
    c.set("auth_method", method.name())?;
    if c.cache_file().is_none() {
        eprintln!(
            "aadtoken login: note: no cache_file is set, so this sign-in lasts only for this command \
             (set cache_file=PATH to keep it for later commands and programs)"
        );
    }
    let client = Client::new(&c)?;
    let token = client.sign_in(scope.as_deref())?;
    let who = Claims::from_jwt(token.secret())
        .ok()
        .and_then(|claims| claims.user_name().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    eprintln!(
        "aadtoken login: signed in as {who}{} (token expires {}, {})",
        c.cache_file()
            .map(|p| format!("; the account is kept in {}", p.display()))
            .unwrap_or_default(),
        utc(token.expires_on()),
        left(token.expires_on() - unix_now())
    );
    Ok(())
}

/// `aadtoken logout`: forget the signed-in account in `cache_file`.
fn logout(args: &SettingsArgs) -> Result<(), Failure> {
    let mut c = config(args)?;
    if !matches!(
        c.auth_method(),
        Some(AuthMethod::DeviceCode | AuthMethod::Interactive)
    ) {
        c.set("auth_method", AuthMethod::DeviceCode.name())?;
    }
    let client = Client::new(&c)?;
    let where_ = c
        .cache_file()
        .map(|p| format!(" from {}", p.display()))
        .unwrap_or_else(|| " (no cache_file is set, so nothing was kept to forget)".to_owned());
    match client.sign_out()? {
        Some(who) if who.is_empty() => {
            eprintln!("aadtoken logout: signed out: the account and its refresh token are removed{where_}")
        }
        Some(who) => eprintln!(
            "aadtoken logout: signed out {who}: the account and its refresh token are removed{where_}"
        ),
        None => eprintln!("aadtoken logout: nobody was signed in{where_}"),
    }
    Ok(())
}

fn config_and_client(args: &SettingsArgs) -> Result<(Config, Client), Error> {
    let c = config(args)?;
    let client = Client::new(&c)?;
    Ok((c, client))
}

fn client(args: &SettingsArgs) -> Result<Client, Error> {
    config_and_client(args).map(|(_, c)| c)
}

fn location_of(given: Option<PathBuf>, config: &Config) -> Result<PathBuf, Error> {
    given
        .or_else(|| config.token_location().map(Path::to_path_buf))
        .ok_or_else(|| {
            Error::missing_setting(
                "token_location",
                "when no LOCATION is given (the Oracle client's TOKEN_LOCATION: a directory or a file)",
            )
        })
}

/// A token from a file, a TOKEN_LOCATION directory, or stdin ('-').
fn read_token(path: &Path) -> Result<String, Failure> {
    let fail = |e: std::io::Error, what: &Path| Failure {
        code: 3,
        message: format!("could not read {}: {e}", what.display()),
    };
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| fail(e, path))?;
        s
    } else {
        let file = if path.is_dir() {
            path.join("token")
        } else {
            path.to_path_buf()
        };
        std::fs::read_to_string(&file).map_err(|e| fail(e, &file))?
    };
    if text.ends_with('\n') && path != Path::new("-") {
        eprintln!(
            "aadtoken claims: note: {} ends with a newline; Oracle clients reject a token file \
             with one (write it with `aadtoken write-token-file`)",
            path.display()
        );
    }
    Ok(text.trim().to_owned())
}

fn print_claims(c: &Claims, source: &str) {
    let now = unix_now();
    let dash = || "-".to_owned();
    let text = |v: Option<&str>| v.map(str::to_owned).unwrap_or_else(dash);
    let time = |t: Option<i64>| t.map(utc).unwrap_or_else(dash);
    let listed = |v: Option<String>| v.filter(|s| !s.is_empty()).unwrap_or_else(dash);
    let expiry = c.expires_on().map(|e| left(e - now));
    let rows: [(&str, String, &str); 11] = [
        (
            "aud",
            c.audience().unwrap_or_else(dash),
            "audience: must equal application_id_uri in the database's IDENTITY_PROVIDER_CONFIG",
        ),
        ("iss", text(c.issuer()), "issuer"),
        ("tid", text(c.tenant_id()), "tenant"),
        (
            "oid",
            text(c.object_id()),
            "object id of the user or service principal",
        ),
        (
            "appid",
            text(c.app_id()),
            "application the token was issued to (appid / azp)",
        ),
        (
            "upn",
            text(c.user_name()),
            "user (upn / preferred_username): AZURE_USER= mappings; none in application tokens",
        ),
        (
            "roles",
            listed(c.roles()),
            "app roles: AZURE_ROLE= mappings and global roles",
        ),
        ("scp", listed(c.scopes()), "delegated scopes (user tokens)"),
        ("iat", time(c.issued_at()), "issued"),
        ("nbf", time(c.not_before()), "not valid before"),
        (
            "exp",
            time(c.expires_on()),
            expiry.as_deref().unwrap_or("no expiry claim"),
        ),
    ];
    println!("Claims of {source} (decoded, signature not checked):");
    let width = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .min(70);
    for (name, value, note) in rows {
        println!("  {name:<6} {value:<width$}  {note}");
    }
}

/// "in 59 min 59 s" / "expired 5 s ago".
fn left(secs: i64) -> String {
    let span = |s: i64| {
        let s = s.abs();
        match (s / 3600, (s % 3600) / 60, s % 60) {
            (0, 0, s) => format!("{s} s"),
            (0, m, s) => format!("{m} min {s} s"),
            (h, m, _) => format!("{h} h {m} min"),
        }
    };
    if secs >= 0 {
        format!("in {}", span(secs))
    } else {
        format!("expired {} ago", span(secs))
    }
}

/// Unix seconds as "YYYY-MM-DD HH:MM:SSZ" (UTC).
fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

fn log(line: &str) {
    eprintln!("{} aadtoken keep: {line}", utc(unix_now()));
}

enum Stop {
    Signal(&'static str),
    Permanent(Error),
}

/// Send `Stop::Signal` on SIGTERM or SIGINT (from a thread of its own).
fn watch_signals(tx: mpsc::Sender<Stop>) -> Result<(), Failure> {
    let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<()>>();
    let spawned = std::thread::Builder::new()
        .name("aadtoken-signals".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_io().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (mut term, mut int) =
                    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                        (Ok(t), Ok(i)) => (t, i),
                        (Err(e), _) | (_, Err(e)) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                let _ = ready_tx.send(Ok(()));
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                let _ = tx.send(Stop::Signal(name));
            });
        });
    let internal = |what: String| Failure {
        code: 70,
        message: format!("could not watch for SIGTERM/SIGINT: {what}"),
    };
    spawned.map_err(|e| internal(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(internal(e.to_string())),
        Err(e) => Err(internal(e.to_string())),
    }
}

fn keep(args: &SettingsArgs, location: Option<PathBuf>, scope: Option<String>) -> Result<(), Failure> {
    let (config, client) = config_and_client(args)?;
    let location = location_of(location, &config)?;
    let (tx, rx) = mpsc::channel::<Stop>();
    watch_signals(tx.clone())?;

    let permanent_tx = Mutex::new(tx);
    let margin = config.expiry_margin().as_secs();
    let on_event = Arc::new(move |event: &KeeperEvent<'_>| match event {
        KeeperEvent::Written {
            path,
            expires_on,
            renew_at,
        } => {
            let now = unix_now();
            log(&format!(
                "wrote {} (token expires {}, {}; next renewal {})",
                path.display(),
                utc(*expires_on),
                left(expires_on - now),
                left(renew_at - now)
            ));
        }
        KeeperEvent::Failed {
            error,
            retry_in,
            file_expires_on,
            permanent,
            ..
        } => {
            let now = unix_now();
            let file = if *file_expires_on > now {
                format!(
                    "the file keeps its token (expires {})",
                    left(file_expires_on - now)
                )
            } else {
                "the token in the file has EXPIRED".to_owned()
            };
            if *permanent {
                log(&format!("renewal failed: {}; {file}", one_line(error)));
                let _ = permanent_tx
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .send(Stop::Permanent((*error).clone()));
            } else {
                log(&format!(
                    "renewal failed: {}; {file}; retrying in {} s",
                    one_line(error),
                    retry_in.as_secs_f64().ceil()
                ));
            }
        }
    });
    let opts = KeeperOptions {
        scopes: scope.clone(),
        on_event: Some(on_event),
        ..KeeperOptions::default()
    };
    log(&format!(
        "keeping the token file at {} (renewed at each token's refresh time or when {margin} s are left)",
        location.display()
    ));

    // The first write: transient failures are retried like later ones; others end here.
    let mut delay = Duration::from_secs(1);
    let keeper = loop {
        match Keeper::start(&client, &location, opts.clone()) {
            Ok(k) => break k,
            Err(e) if is_permanent(e.kind()) || e.kind() == ErrorKind::File => return Err(e.into()),
            Err(e) => {
                log(&format!(
                    "could not write the first token: {}; retrying in {} s",
                    one_line(&e),
                    delay.as_secs()
                ));
                match rx.recv_timeout(delay) {
                    Ok(Stop::Signal(name)) => {
                        log(&format!(
                            "{name} received; stopped before the first token was written"
                        ));
                        return Ok(());
                    }
                    Ok(Stop::Permanent(e)) => return Err(e.into()),
                    Err(_) => delay = (delay * 2).min(Duration::from_secs(60)),
                }
            }
        }
    };

    let stop = rx.recv();
    let path = keeper.path().to_path_buf();
    keeper.stop();
    match stop {
        Ok(Stop::Signal(name)) => {
            log(&format!(
                "{name} received; stopped ({} stays in place)",
                path.display()
            ));
            Ok(())
        }
        Ok(Stop::Permanent(e)) => {
            log("stopping: retrying cannot fix this error");
            Err(e.into())
        }
        Err(_) => Err(Failure {
            code: 70,
            message: "the signal watcher ended unexpectedly".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        let cases = [
            (0, "1970-01-01 00:00:00Z"),
            (951_782_400, "2000-02-29 00:00:00Z"),
            (1_795_950_498, "2026-11-29 11:08:18Z"),
            (-1, "1969-12-31 23:59:59Z"),
        ];
        for (t, want) in cases {
            assert_eq!(utc(t), want, "utc({t})");
        }
    }

    #[test]
    fn time_left() {
        let cases = [
            (5, "in 5 s"),
            (3599, "in 59 min 59 s"),
            (7260, "in 2 h 1 min"),
            (-5, "expired 5 s ago"),
        ];
        for (s, want) in cases {
            assert_eq!(left(s), want, "left({s})");
        }
    }

    #[test]
    fn exit_codes_by_kind() {
        use ErrorKind::*;
        let cases = [
            (InvalidClient, 1),
            (Network, 1),
            (UnknownSetting, 2),
            (MissingSetting, 2),
            (UnsafePath, 3),
            (File, 3),
            (Internal, 70),
        ];
        for (kind, want) in cases {
            assert_eq!(exit_code(kind), want, "{kind:?}");
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
