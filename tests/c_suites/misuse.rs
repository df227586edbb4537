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

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{self, target_dir, Under};

fn plain() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::compile_c_test("misuse_test", "misuse_test", &[]))
}

fn sanitized() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::compile_c_test("misuse_test", "misuse_test_asan", common::SANITIZE))
}

fn phase_dir(phase: &str) -> PathBuf {
    common::private_dir(&target_dir().join("c-tests"), &format!("misuse-{phase}"))
}

fn run(phase: &str, under: Under) -> String {
    run_with(phase, under, &[])
}

fn run_with(phase: &str, under: Under, vars: &[(&str, &Path)]) -> String {
    let mock = aadtoken_mock::MockServer::spawn(aadtoken_mock::MockConfig::default());
    let bin = if under == Under::Sanitizers {
        sanitized()
    } else {
        plain()
    };
    let mut cmd = common::c_phase(bin, phase, under);
    if under == Under::Valgrind {
        cmd.env("AADTOKEN_TEST_SLOW", "1");
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let dir = phase_dir(phase);
    common::mock_env(&mut cmd, &mock).env("AADTOKEN_TEST_DIR", &dir);
    let stdout = common::run_phase(&mut cmd, phase, under);
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
        &[("AADTOKEN_LOG", Path::new("debug")), ("AADTOKEN_LOG_FILE", &log)],
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
