//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Cargo's target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { repo_root().join(p) })
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Where `libaadtoken.so` is: `AADTOKEN_LIB_DIR`, else the debug build that `cargo test`
/// produces alongside the test binaries.
pub fn lib_dir() -> PathBuf {
    let dir = std::env::var_os("AADTOKEN_LIB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug"));
    let lib = dir.join("libaadtoken.so");
    assert!(
        lib.exists(),
        "{} not found: build it first with `cargo build`",
        lib.display()
    );
    if std::env::var_os("AADTOKEN_LIB_DIR").is_none() {
        // `cargo test` does not rebuild the cdylib; refuse to test a stale one.
        let built = lib.metadata().and_then(|m| m.modified()).unwrap();
        if let Some(newer) = newest_source(&repo_root().join("src")).filter(|(t, _)| *t > built) {
            panic!(
                "{} is older than {}: run `cargo build` (scripts/test.sh does) first",
                lib.display(),
                newer.1.display()
            );
        }
    }
    dir
}

fn newest_source(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let candidate = if path.is_dir() {
            newest_source(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|t| (t, path))
        };
        if let Some(c) = candidate {
            if newest.as_ref().is_none_or(|n| c.0 > n.0) {
                newest = Some(c);
            }
        }
    }
    newest
}

/// Fail (not skip) when a tool the test needs is missing, saying how to install it.
pub fn require_tool(tool: &str, install: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is required by this test and was not found; install it ({install})"
    );
}

/// The flags every C test program is built with.
pub const C_FLAGS: &[&str] = &[
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-g",
    "-O1",
];

/// Compile C `sources` (paths relative to the repository) into `target/c-tests/<name>`, against
/// `include/aadtoken.h` (and `examples-c/`) and the fresh `libaadtoken.so`, with [`C_FLAGS`]
/// and `extra` flags (e.g. sanitizers). Panics when the compiler fails.
pub fn compile_c(name: &str, sources: &[&str], extra: &[&str]) -> PathBuf {
    let lib_dir = lib_dir();
    let out_dir = target_dir().join("c-tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(name);
    let root = repo_root();
    let status = std::process::Command::new("cc")
        .args(C_FLAGS)
        .args(extra)
        .arg(format!("-I{}", root.join("include").display()))
        .arg(format!("-I{}", root.join("examples-c").display()))
        .args(sources.iter().map(|s| root.join(s)))
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-laadtoken", "-lpthread"])
        .status()
        .expect("run cc");
    assert!(status.success(), "compiling {sources:?} {extra:?} failed");
    out
}

/// `valgrind` with the project's settings around `bin`: exit 99 on any memory error or definite
/// leak, ring's known false positives suppressed by `tests/c/valgrind.supp`.
pub fn valgrind(bin: &Path) -> std::process::Command {
    require_tool("valgrind", "apt-get install valgrind");
    let mut c = std::process::Command::new("valgrind");
    c.args([
        "--quiet",
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
    ])
    .arg(format!(
        "--suppressions={}",
        repo_root().join("tests/c/valgrind.supp").display()
    ))
    .arg(bin);
    c
}

/// Compile the C test program `tests/c/<name>.c` with the shared `tests/c/common.c` (see
/// [`compile_c`]) into `target/c-tests/<out>`.
pub fn compile_c_test(name: &str, out: &str, extra: &[&str]) -> PathBuf {
    let source = format!("tests/c/{name}.c");
    compile_c(out, &[source.as_str(), "tests/c/common.c"], extra)
}

/// The sanitizers the misuse suite builds with (gcc's ASan, LeakSanitizer and UBSan).
pub const SANITIZE: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
];

/// How a C (or Java) test program runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Under {
    /// As it is: the library must not write to stderr.
    Plain,
    /// Under [`valgrind`]: its own reports go to stderr, which is not checked.
    Valgrind,
    /// Built with [`SANITIZE`]: any finding fails the run, and stderr must stay empty.
    Sanitizers,
}

/// Variables that would change what a test program does: never inherited from the harness
/// (a test sets the ones it needs after [`test_program`] clears them): the Azure SDK variables
/// and managed-identity platform variables the library reads, and the test's own.
pub fn cleared_env() -> impl Iterator<Item = &'static str> {
    let own = [
        "AADTOKEN_LOG",
        "AADTOKEN_LOG_FILE",
        "AADTOKEN_SETTINGS",
        "AADTOKEN_FAKE_OCI_EXPIRE",
    ];
    aadtoken_core::settings::ENVIRONMENT
        .iter()
        .map(|(var, _)| *var)
        .chain(
            aadtoken_core::settings::MANAGED_IDENTITY_ENVIRONMENT
                .iter()
                .copied(),
        )
        .chain(own)
}

/// A command running `bin` as `under` says (valgrind around it, or the sanitizers' options),
/// with [`cleared_env`] removed.
pub fn test_program(bin: &Path, under: Under) -> std::process::Command {
    let mut cmd = match under {
        Under::Valgrind => valgrind(bin),
        Under::Plain => std::process::Command::new(bin),
        Under::Sanitizers => {
            let mut c = std::process::Command::new(bin);
            c.env(
                "ASAN_OPTIONS",
                "detect_leaks=1:abort_on_error=0:exitcode=97:detect_stack_use_after_return=0:allocator_may_return_null=0",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=96");
            c
        }
    };
    for var in cleared_env() {
        cmd.env_remove(var);
    }
    cmd
}

/// One phase of a C test program: `bin PHASE` as `under` says, with [`cleared_env`] removed.
pub fn c_phase(bin: &Path, phase: &str, under: Under) -> std::process::Command {
    let mut cmd = test_program(bin, under);
    cmd.arg(phase);
    cmd
}

/// The `AADTOKEN_TEST_*` variables pointing a test program at `mock` and its registered
/// confidential client: `_AUTHORITY`, `_CA`, `_TENANT`, `_CLIENT`, `_SECRET`, `_SCOPE`,
/// `_OTHER_SCOPE`.
pub fn mock_env<'a>(
    cmd: &'a mut std::process::Command,
    mock: &aadtoken_mock::MockServer,
) -> &'a mut std::process::Command {
    use aadtoken_mock::{CLIENT_ID, CLIENT_SECRET, OTHER_SCOPE, SCOPE, TENANT_ID};
    cmd.env("AADTOKEN_TEST_AUTHORITY", mock.base_url())
        .env("AADTOKEN_TEST_CA", mock.ca_file())
        .env("AADTOKEN_TEST_TENANT", TENANT_ID)
        .env("AADTOKEN_TEST_CLIENT", CLIENT_ID)
        .env("AADTOKEN_TEST_SECRET", CLIENT_SECRET)
        .env("AADTOKEN_TEST_SCOPE", SCOPE)
        .env("AADTOKEN_TEST_OTHER_SCOPE", OTHER_SCOPE)
}

/// A program's outcome: it exited 0, else the panic shows both outputs. Returns (stdout, stderr).
pub fn succeeded(what: &str, out: std::process::Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed with {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// Run `cmd` and check that it [`succeeded`].
pub fn run_ok(cmd: &mut std::process::Command, what: &str) -> (String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {what}: {e}"));
    succeeded(what, out)
}

/// The outcome of a test program: it [`succeeded`], and, unless `under` is valgrind, wrote
/// nothing to stderr. Returns its stdout.
pub fn checked_output(what: &str, under: Under, out: std::process::Output) -> String {
    let (stdout, stderr) = succeeded(&format!("{what} ({under:?})"), out);
    if under != Under::Valgrind {
        assert!(
            stderr.is_empty(),
            "the library must not write to stderr ({what}, {under:?}), got:\n{stderr}"
        );
    }
    stdout
}

/// Run a test program (see [`checked_output`]).
pub fn run_checked(cmd: &mut std::process::Command, what: &str, under: Under) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {what}: {e}"));
    checked_output(what, under, out)
}

/// A phase's outcome (see [`checked_output`]) with its summary line `PHASE: N passed, 0 failed`.
pub fn check_phase(phase: &str, under: Under, out: std::process::Output) -> String {
    let stdout = checked_output(phase, under, out);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("{phase}: ")) && l.ends_with(" passed, 0 failed")),
        "no summary line for {phase}:\n{stdout}"
    );
    stdout
}

/// Run one phase (see [`check_phase`]).
pub fn run_phase(cmd: &mut std::process::Command, phase: &str, under: Under) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {phase}: {e}"));
    check_phase(phase, under, out)
}

/// A fresh private directory (mode 0700) `<parent>/<name>-<pid>-<n>`.
pub fn private_dir(parent: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let d = parent.join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

/// A port on which nothing listens (bound, then closed).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A config that reaches `mock` (its authority, its CA trusted) with `settings` on top.
pub fn mock_config(mock: &aadtoken_mock::MockServer, settings: &str) -> aadtoken_core::Config {
    mock_config_with_ca(mock, Some(mock.ca_file().to_str().unwrap()), settings)
}

/// [`mock_config`] trusting `ca_file` (`None`: no `ca_file`, the system's roots).
pub fn mock_config_with_ca(
    mock: &aadtoken_mock::MockServer,
    ca_file: Option<&str>,
    settings: &str,
) -> aadtoken_core::Config {
    let mut c = aadtoken_core::Config::new();
    c.set("authority_host", mock.base_url()).unwrap();
    if let Some(ca_file) = ca_file {
        c.set("ca_file", ca_file).unwrap();
    }
    c.parse(settings).unwrap();
    c
}

/// `c` with exactly `vars` as its platform variables (not the test process's environment).
pub fn with_platform(mut c: aadtoken_core::Config, vars: &[(&str, String)]) -> aadtoken_core::Config {
    c.load_env_from(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
        .unwrap();
    c
}

/// A config of `settings` alone with exactly `vars` as its platform variables.
pub fn platform_config(settings: &str, vars: &[(&str, String)]) -> aadtoken_core::Config {
    let mut c = aadtoken_core::Config::new();
    c.parse(settings).unwrap();
    with_platform(c, vars)
}

/// The settings of the mock's registered confidential client (secret, tenant, scope).
pub fn app_settings(extra: &str) -> String {
    use aadtoken_mock::{CLIENT_ID, CLIENT_SECRET, SCOPE, TENANT_ID};
    format!("tenant_id={TENANT_ID};client_id={CLIENT_ID};client_secret={CLIENT_SECRET};scope={SCOPE};{extra}")
}

/// A config for the mock's registered confidential client, with `extra` settings.
pub fn app_config(mock: &aadtoken_mock::MockServer, extra: &str) -> aadtoken_core::Config {
    mock_config(mock, &app_settings(extra))
}

/// A client for the mock's registered confidential client, with `extra` settings.
pub fn app_client(mock: &aadtoken_mock::MockServer, extra: &str) -> aadtoken_core::Client {
    aadtoken_core::Client::new(&app_config(mock, extra)).unwrap()
}

/// Polls `done` until it holds; fails the test naming `what` when `limit` passes first.
pub fn wait_until(what: &str, limit: std::time::Duration, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Asserts that `items` (at least one) are all equal; `what` says what that means. (They
/// are tokens: the message says which one differs, not what it holds.)
pub fn assert_all_same<T: PartialEq>(items: &[T], what: &str) {
    assert!(!items.is_empty(), "{what}: nothing to compare");
    if let Some(i) = items.iter().position(|t| *t != items[0]) {
        panic!("{what}: item {i} of {} differs from the first", items.len());
    }
}

/// Asserts that the message of `e` names every one of `parts`.
pub fn assert_names(e: &aadtoken_core::Error, parts: &[&str]) {
    for part in parts {
        assert!(e.message().contains(part), "no {part:?} in: {}", e.message());
    }
}

/// The browser stand-in `aadtoken-mock-browser` (built by `cargo build -p aadtoken-mock`).
pub fn mock_browser() -> PathBuf {
    let bin = target_dir().join("debug/aadtoken-mock-browser");
    assert!(
        bin.exists(),
        "{} not found: build it with `cargo build -p aadtoken-mock` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// `aadtoken-mock-browser --ca-file CA URL`: what it printed of the answer.
pub fn browse(ca: &Path, url: &str) -> String {
    let out = std::process::Command::new(mock_browser())
        .arg("--ca-file")
        .arg(ca)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Where a redirect that [`browse`] printed points.
pub fn redirect_location(answer: &str) -> String {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_else(|| panic!("no redirect: {answer}"))
        .to_owned()
}
