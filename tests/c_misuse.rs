//! The C ABI misused on purpose (`tests/c/misuse_test.c`): NULL for every pointer of every
//! export, invalid UTF-8, empty and 1 MB strings, `_free(NULL)`, calls in a wrong order, odd
//! settings strings, 64 threads sharing a client while another forces refreshes, async requests
//! racing cancel/free/shutdown, and the log callback. Each phase runs as its own process against
//! the mock, twice:
//!
//! * built with `-fsanitize=address,undefined` (gcc's AddressSanitizer, LeakSanitizer and
//!   UBSan on the C program; the debug `libaadtoken.so` it loads has every allocation and free
//!   intercepted by ASan): any invalid access, double free, leak or undefined behaviour fails the
//!   run — with no suppression at all;
//! * built plainly and run under valgrind (`tests/c/valgrind.supp`): no errors, no definite
//!   leaks.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use aadtoken_mock::{MockConfig, MockServer, CLIENT_ID, CLIENT_SECRET, SCOPE, TENANT_ID};
use common::target_dir;

pub const SANITIZE: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
];

fn plain() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::compile_c("misuse_test", &["tests/c/misuse_test.c"], &[]))
}

fn sanitized() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::compile_c("misuse_test_asan", &["tests/c/misuse_test.c"], SANITIZE))
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Under {
    Sanitizers,
    Valgrind,
}

fn phase_dir(phase: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = target_dir().join("c-tests").join(format!(
        "misuse-{phase}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

fn run(phase: &str, under: Under) -> String {
    run_with(phase, under, &[])
}

fn run_with(phase: &str, under: Under, vars: &[(&str, &std::path::Path)]) -> String {
    let mock = MockServer::spawn(MockConfig::default());
    let mut cmd = match under {
        Under::Sanitizers => {
            let mut c = Command::new(sanitized());
            c.env(
                "ASAN_OPTIONS",
                "detect_leaks=1:abort_on_error=0:exitcode=97:detect_stack_use_after_return=0:allocator_may_return_null=0",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=96");
            c
        }
        Under::Valgrind => {
            let mut c = common::valgrind(plain());
            c.env("AADTOKEN_TEST_SLOW", "1");
            c
        }
    };
    let dir = phase_dir(phase);
    for var in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AADTOKEN_LOG",
        "AADTOKEN_LOG_FILE",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd
        .arg(phase)
        .env("AADTOKEN_TEST_AUTHORITY", mock.base_url())
        .env("AADTOKEN_TEST_CA", mock.ca_file())
        .env("AADTOKEN_TEST_TENANT", TENANT_ID)
        .env("AADTOKEN_TEST_CLIENT", CLIENT_ID)
        .env("AADTOKEN_TEST_SECRET", CLIENT_SECRET)
        .env("AADTOKEN_TEST_SCOPE", SCOPE)
        .env("AADTOKEN_TEST_DIR", &dir)
        .output()
        .expect("run misuse_test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "misuse_test {phase} ({under:?}) failed with {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(&format!("{phase}: ")) && stdout.contains(", 0 failed"),
        "no summary line:\n{stdout}"
    );
    if under == Under::Sanitizers {
        // The library never writes to stderr; sanitizers would, on any finding.
        assert!(stderr.is_empty(), "stderr of {phase}:\n{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{phase} ({under:?}): {}", stdout.lines().last().unwrap_or(""));
    stdout
}

#[test]
fn null_pointers_everywhere_under_sanitizers() {
    run("null", Under::Sanitizers);
}

#[test]
fn odd_strings_under_sanitizers() {
    run("strings", Under::Sanitizers);
}

#[test]
fn calls_in_a_wrong_order_under_sanitizers() {
    run("order", Under::Sanitizers);
}

#[test]
fn sixty_four_threads_and_forced_refreshes_under_sanitizers() {
    let out = run("threads", Under::Sanitizers);
    assert!(out.contains("64 readers made"), "{out}");
}

#[test]
fn async_cancel_free_and_shutdown_races_under_sanitizers() {
    run("async", Under::Sanitizers);
}

#[test]
fn log_callback_under_sanitizers() {
    run("log", Under::Sanitizers);
}

#[test]
fn log_file_from_the_environment_under_sanitizers() {
    let dir = phase_dir("logfile-dir");
    let log = dir.join("aadtoken.log");
    run_with(
        "logfile",
        Under::Sanitizers,
        &[
            ("AADTOKEN_LOG", std::path::Path::new("debug")),
            ("AADTOKEN_LOG_FILE", &log),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every phase again under valgrind: no memory errors, no definite leaks.
#[test]
fn every_phase_under_valgrind() {
    for phase in ["null", "strings", "order", "threads", "async", "log"] {
        run(phase, Under::Valgrind);
    }
}
