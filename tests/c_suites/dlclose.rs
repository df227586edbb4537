//! `aadtoken_shutdown` then `dlclose` (tests/c/dlclose_test.c, which loads the library with
//! `dlopen` only): after the shutdown no library thread runs and `dlclose` returns 0; whether
//! the library is unmapped depends on whether a living thread has used it (README "Shutdown
//! and dlclose"), and a later `dlopen` works either way.

use std::path::PathBuf;
use std::sync::OnceLock;

use aadtoken_mock::{MockConfig, MockServer};

use crate::common::{self, Under};

/// Build the program once: against the header, without linking the library.
fn binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = common::target_dir().join("c-tests/dlclose_test");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let root = common::repo_root();
        let status = std::process::Command::new("cc")
            .args(common::C_FLAGS)
            .arg(format!("-I{}", root.join("include").display()))
            .arg(root.join("tests/c/dlclose_test.c"))
            .arg("-o")
            .arg(&out)
            .args(["-ldl", "-lpthread"])
            .status()
            .expect("run cc");
        assert!(status.success(), "compiling tests/c/dlclose_test.c failed");
        out
    })
}

fn run(phase: &str) -> MockServer {
    let mock = MockServer::spawn(MockConfig::default());
    let mut cmd = common::c_phase(binary(), phase, Under::Plain);
    cmd.env("AADTOKEN_TEST_LIB", common::lib_dir().join("libaadtoken.so"));
    common::run_phase(common::mock_env(&mut cmd, &mock), phase, Under::Plain);
    mock
}

#[test]
fn after_shutdown_dlclose_keeps_a_library_a_living_thread_used_and_dlopen_gets_it_back() {
    let mock = run("stays");
    assert_eq!(
        mock.token_requests(),
        1,
        "the reopened library is the same one: its cache served the second token"
    );
}

#[test]
fn after_shutdown_dlclose_unloads_a_library_no_living_thread_used_and_dlopen_loads_it_afresh() {
    let mock = run("unloads");
    assert_eq!(
        mock.token_requests(),
        2,
        "the reopened library is a fresh copy: a new token request"
    );
}
