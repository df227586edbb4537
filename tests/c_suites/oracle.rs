//! Drives the C tests of the Oracle adapters against the mock Entra ID server:
//! `tests/c/oracle_test.c` (the ODPI-C callback through the real `dpi.h`'s types, the borrowed
//! token for OCI, the token file and its keeper, claims), `examples-c/oci_token_pool.c` linked
//! with a fake OCI (`tests/c/oci_fake.c`), and `tests/odpi/odpi_test.c`: the REAL ODPI-C
//! (python-oracledb 26.1.0's sdist from PyPI, downloaded once into `target/odpi/`) on a fake
//! Oracle Client library (`tests/odpi/fake_clntsh.c`). Built with `-Wall -Wextra -Wpedantic
//! -Werror` (C99; C11 and C++ for the ODPI-C programs) against `include/aadtoken.h` and the
//! fresh `libaadtoken.so`; each phase runs as its own process, normally and under valgrind (no
//! errors, no definite leaks).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use aadtoken_mock::{MockConfig, MockServer, CLIENT_ID, PUBLIC_CLIENT_ID};

use crate::common::{self, repo_root, target_dir, Under};

/// ODPI-C's sources from python-oracledb's sdist (`tests/odpi/requirements.txt` pins it by
/// hash): downloaded with pip and unpacked into `target/odpi/` once, then reused. Returns the
/// `odpi` directory (`include/dpi.h`, `embed/dpi.c`, `src/`).
fn odpi_sources() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = target_dir().join("odpi");
        let odpi = base.join("oracledb-26.1.0/src/oracledb/impl/thick/odpi");
        if odpi.join("embed/dpi.c").exists() {
            return odpi;
        }
        let download = base.join("download");
        std::fs::create_dir_all(&download).unwrap();
        let sdist = download.join("oracledb-26.1.0.tar.gz");
        if !sdist.exists() {
            // --no-binary oracledb: the sdist, not a wheel (the build tools pip needs to read
            // its metadata come as wheels); nothing is installed.
            let mut pip = Command::new("python3");
            pip.args(["-m", "pip", "download", "--quiet", "--no-deps"])
                .args(["--no-binary", "oracledb", "--require-hashes", "-r"])
                .arg(repo_root().join("tests/odpi/requirements.txt"))
                .arg("-d")
                .arg(&download);
            common::run_ok(&mut pip, "pip download oracledb==26.1.0 (ODPI-C's sources)");
        }
        // Unpacked beside, then renamed into place: a half-unpacked tree is never used.
        let partial = common::private_dir(&base, "unpacking");
        let mut tar = Command::new("tar");
        tar.arg("-xzf")
            .arg(&sdist)
            .arg("-C")
            .arg(&partial)
            .arg("oracledb-26.1.0/src/oracledb/impl/thick/odpi");
        common::run_ok(&mut tar, "unpack ODPI-C from the oracledb sdist");
        let _ = std::fs::rename(partial.join("oracledb-26.1.0"), base.join("oracledb-26.1.0"));
        let _ = std::fs::remove_dir_all(&partial);
        assert!(
            odpi.join("embed/dpi.c").exists(),
            "no ODPI-C in {}",
            sdist.display()
        );
        odpi
    })
}

/// `-I` for the real `dpi.h`.
fn dpi_include() -> String {
    format!("-I{}", odpi_sources().join("include").display())
}

fn oracle_test() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::compile_c_test("oracle_test", "oracle_test", &[&dpi_include()]))
}

/// Run a compiler command (which must succeed).
fn compile(mut cmd: Command, what: &str) {
    common::run_ok(&mut cmd, what);
}

/// The fake Oracle Client library: `target/odpi/client/libclntsh.so`, the directory ODPI-C is
/// told to load it from (`oracleClientLibDir`).
fn fake_client_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = target_dir().join("odpi/client");
        std::fs::create_dir_all(&dir).unwrap();
        let mut cc = Command::new("cc");
        cc.args(["-shared", "-fPIC", "-fvisibility=hidden"])
            .args(common::C_FLAGS)
            .arg("-std=c11")
            .arg(repo_root().join("tests/odpi/fake_clntsh.c"))
            .arg("-o")
            .arg(dir.join("libclntsh.so"))
            .arg("-lpthread");
        compile(cc, "the fake libclntsh.so");
        dir
    })
}

/// ODPI-C's `embed/dpi.c`, compiled once into `target/odpi/dpi.o` with ODPI-C's own defaults
/// (its warnings are its maintainers' business; the sources are pinned).
fn dpi_object() -> &'static Path {
    static OBJ: OnceLock<PathBuf> = OnceLock::new();
    OBJ.get_or_init(|| {
        let out = target_dir().join("odpi");
        let dpi_o = out.join("dpi.o");
        if !dpi_o.exists() {
            // Into a temporary name, then renamed: a half-written object is never used.
            let partial = out.join(format!("dpi.o.{}", std::process::id()));
            let mut cc = Command::new("cc");
            cc.args(["-c", "-fPIC", "-g", "-O1"])
                .arg(dpi_include())
                .arg(odpi_sources().join("embed/dpi.c"))
                .arg("-o")
                .arg(&partial);
            compile(cc, "ODPI-C (embed/dpi.c)");
            std::fs::rename(&partial, &dpi_o).unwrap();
        }
        dpi_o
    })
}

/// Build `target/odpi/<name>` from `sources` (relative to the repository) with ODPI-C compiled
/// in, with [`common::C_FLAGS`] and `std`, against `include/aadtoken.h`, the real `dpi.h`,
/// `tests/c`, `tests/odpi` and `examples-c`; linked with the fake client library (which ODPI-C
/// then finds already loaded) and the fresh `libaadtoken.so`.
fn odpi_program(name: &str, sources: &[&str], std: &str) -> PathBuf {
    let client = fake_client_dir();
    let lib = common::lib_dir();
    let root = repo_root();
    let bin = target_dir().join("odpi").join(name);
    let mut cc = Command::new("cc");
    cc.args(common::C_FLAGS)
        .arg(std) // (the last -std wins)
        .arg(dpi_include());
    for dir in ["include", "tests/c", "tests/odpi", "examples-c"] {
        cc.arg(format!("-I{}", root.join(dir).display()));
    }
    cc.args(sources.iter().map(|s| root.join(s)))
        .arg(dpi_object())
        .arg("-o")
        .arg(&bin)
        .arg(format!("-L{}", client.display()))
        .arg(format!("-Wl,-rpath,{}", client.display()))
        .arg("-lclntsh")
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-laadtoken", "-ldl", "-lpthread"]);
    compile(cc, name);
    bin
}

/// `tests/odpi/odpi_test.c`, C11.
fn odpi_test() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        odpi_program(
            "odpi_test",
            &["tests/odpi/odpi_test.c", "tests/c/common.c"],
            "-std=c11",
        )
    })
}

/// `examples-c/odpi_token_pool.c`, C99 as the other examples.
fn odpi_example() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| odpi_program("odpi_token_pool", &["examples-c/odpi_token_pool.c"], "-std=c99"))
}

/// The ODPI-C example on the fake client library: its three sessions (each refused by the fake
/// without a bearer token that looks like a JWT).
fn run_odpi_example(mock: &MockServer, valgrind: bool) -> String {
    let mut cmd = common::test_program(odpi_example(), under(valgrind));
    cmd.envs(mock.app_env())
        .arg("tcps://db.example.com:1522/freepdb1")
        .arg(fake_client_dir());
    let out = common::run_checked(&mut cmd, "odpi_token_pool", under(valgrind));
    assert_eq!(out.matches("session ").count(), 3, "{out}");
    assert!(out.contains("odpi_token_pool: session 3 open"), "{out}");
    out
}

#[test]
fn odpi_c_example_opens_three_sessions_with_one_token() {
    let mock = MockServer::spawn(MockConfig::default());
    run_odpi_example(&mock, false);
    assert_eq!(mock.token_requests(), 1);
}

/// One phase of `odpi_test` against `mock`.
fn odpi_command(mock: &MockServer, phase: &str, valgrind: bool) -> Command {
    let mut cmd = common::c_phase(odpi_test(), phase, under(valgrind));
    common::mock_env(&mut cmd, mock)
        .env("AADTOKEN_TEST_ORACLE_CLIENT", fake_client_dir())
        .env("AADTOKEN_TEST_PUBLIC_CLIENT", PUBLIC_CLIENT_ID);
    cmd
}

fn run_odpi(mock: &MockServer, phase: &str, valgrind: bool) -> String {
    common::run_phase(&mut odpi_command(mock, phase, valgrind), phase, under(valgrind))
}

/// The `idp-down` phase: the program asks (a line on stdout) for the identity provider to stop;
/// the mock is shut down and the program told to go on.
fn run_odpi_idp_down(valgrind: bool) -> String {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_token_lifetime(600);
    let mut child = odpi_command(&mock, "idp-down", valgrind)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run odpi_test idp-down");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if line == "stop the identity provider\n" {
            assert_eq!(mock.token_requests(), 1, "the first token only");
            drop(mock);
            child.stdin.take().unwrap().write_all(b"go\n").unwrap();
            break;
        }
    }
    stdout.read_to_string(&mut seen).unwrap();
    let mut stderr = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
    let out = std::process::Output {
        status: child.wait().unwrap(),
        stdout: seen.into_bytes(),
        stderr,
    };
    common::check_phase("idp-down", under(valgrind), out)
}

#[test]
fn odpi_c_recipe_logs_on_with_the_cached_token() {
    let mock = MockServer::spawn(MockConfig::default());
    run_odpi(&mock, "recipe", false);
    assert_eq!(
        mock.token_requests(),
        1,
        "one token for the pool, its sessions and the callback"
    );
}

#[test]
fn odpi_c_gets_a_new_token_when_it_expired() {
    let mock = MockServer::spawn(MockConfig::default());
    // Shorter than expiry_margin_s: aadtoken considers each token expired once handed out.
    mock.set_token_lifetime(600);
    run_odpi(&mock, "expired", false);
    assert_eq!(mock.token_requests(), 2, "the first token, then the callback's");
}

#[test]
fn odpi_c_sees_the_failure_when_the_identity_provider_is_down() {
    run_odpi_idp_down(false);
}

#[test]
fn odpi_c_pool_without_a_first_token_never_registers_the_callback() {
    let mock = MockServer::spawn(MockConfig::default());
    run_odpi(&mock, "misconfigured", false);
    assert_eq!(mock.token_requests(), 0);
}

#[test]
fn odpi_c_callback_never_waits_for_a_person() {
    let mock = MockServer::spawn(MockConfig::default());
    run_odpi(&mock, "person", false);
    let device_code_requests = mock
        .requests()
        .iter()
        .filter(|r| r.path.contains("devicecode"))
        .count();
    assert_eq!(device_code_requests, 0, "no device code was asked for");
    assert_eq!(mock.token_requests_for(PUBLIC_CLIENT_ID), 0);
}

#[test]
fn odpi_c_callback_is_a_dpi_access_token_callback_in_cxx() {
    let root = repo_root();
    // `c++`: g++ on Debian (what .ci/run installs when `c++` is missing).
    let mut cxx = Command::new("c++");
    cxx.args([
        "-std=c++11",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
        "-fsyntax-only",
    ])
    .arg(format!("-I{}", root.join("include").display()))
    .arg(dpi_include())
    .arg(root.join("tests/odpi/assign.cpp"));
    compile(cxx, "tests/odpi/assign.cpp (c++)");
}

fn oci_example() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        common::compile_c(
            "oci_token_pool",
            &["examples-c/oci_token_pool.c", "tests/c/oci_fake.c"],
            &[],
        )
    })
}

fn under(valgrind: bool) -> Under {
    if valgrind {
        Under::Valgrind
    } else {
        Under::Plain
    }
}

/// A fresh private directory for one phase (left in target/ for inspection).
fn phase_dir(phase: &str) -> PathBuf {
    common::private_dir(&target_dir().join("c-tests"), &format!("oracle-{phase}"))
}

fn run_phase(mock: &MockServer, phase: &str, valgrind: bool) -> String {
    let mut cmd = common::c_phase(oracle_test(), phase, under(valgrind));
    common::mock_env(&mut cmd, mock).env("AADTOKEN_TEST_DIR", phase_dir(phase));
    common::run_phase(&mut cmd, phase, under(valgrind))
}

/// Run `phase` against a fresh mock, which is returned for the checks of what it saw.
fn run(phase: &str) -> MockServer {
    let mock = MockServer::spawn(MockConfig::default());
    run_phase(&mock, phase, false);
    mock
}

fn run_oci_example(mock: &MockServer, expire_every_time: bool, valgrind: bool) -> String {
    let mut cmd = common::test_program(oci_example(), under(valgrind));
    cmd.envs(mock.app_env());
    if expire_every_time {
        cmd.env("AADTOKEN_FAKE_OCI_EXPIRE", "1");
    }
    common::run_ok(&mut cmd, &format!("oci_token_pool (valgrind: {valgrind})")).0
}

#[test]
fn odpi_callback_called_as_odpi_c_calls_it() {
    let mock = run("odpi");
    // good client: first token + the explicit refresh; the failing client: one refused request
    assert_eq!(mock.token_requests_for(CLIENT_ID), 3);
    let refused = mock
        .token_request_log()
        .iter()
        .filter(|r| r.aadsts == Some(7000215))
        .count();
    assert_eq!(refused, 1, "a 4xx is asked once");
}

#[test]
fn borrowed_token_for_oci() {
    let mock = run("borrow");
    assert_eq!(mock.token_requests(), 2, "one per scope; the rest cached");
}

#[test]
fn token_file_through_the_c_abi() {
    run("token-file");
}

#[test]
fn keeper_through_the_c_abi() {
    run("keeper");
}

#[test]
fn keeper_rewrites_the_file_ahead_of_expiry_through_the_c_abi() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_token_lifetime(20);
    run_phase(&mock, "keeper-rewrite", false);
    assert!(mock.token_requests() >= 2);
}

#[test]
fn claims_through_the_c_abi() {
    run("claims");
}

#[test]
fn oci_pool_example_logs_on_with_tokens_from_the_callback() {
    let mock = MockServer::spawn(MockConfig::default());
    // The pool's token stays valid: the callback is never needed.
    let out = run_oci_example(&mock, false, false);
    assert_eq!(out.matches("logged on with a bearer token").count(), 3, "{out}");
    assert!(
        out.contains("session 3 logged on") && out.contains("token callback calls: 0"),
        "{out}"
    );
    // OCI finds the token expired at every session: it calls the callback, which lends the
    // cached token (one request in all).
    let out = run_oci_example(&mock, true, false);
    assert!(out.contains("(token callback calls: 3)"), "{out}");
    assert_eq!(mock.token_requests(), 2, "one token per run of the example");
}

/// Every phase again under valgrind: no memory errors, no definite leaks.
#[test]
fn valgrind_reports_no_errors_or_leaks() {
    let mock = MockServer::spawn(MockConfig::default());
    for phase in ["odpi", "borrow", "token-file", "keeper", "claims"] {
        run_phase(&mock, phase, true);
    }
    run_oci_example(&mock, true, true);
    let short = MockServer::spawn(MockConfig::default());
    short.set_token_lifetime(20);
    run_phase(&short, "keeper-rewrite", true);
}

/// The real-ODPI-C phases under valgrind: no memory errors, no definite leaks (in aadtoken,
/// ODPI-C or the fake client library).
#[test]
fn odpi_c_under_valgrind_reports_no_errors_or_leaks() {
    for phase in ["recipe", "misconfigured", "person"] {
        run_odpi(&MockServer::spawn(MockConfig::default()), phase, true);
    }
    let expiring = MockServer::spawn(MockConfig::default());
    expiring.set_token_lifetime(600);
    run_odpi(&expiring, "expired", true);
    run_odpi_idp_down(true);
    run_odpi_example(&MockServer::spawn(MockConfig::default()), true);
}

/// `#define PREFIX<NAME> <value>` lines of a C header: NAME → value, where a value naming
/// another such macro is resolved and `(-1)`, `0x0010` are read as numbers.
fn defines(path: &Path, prefix: &str) -> std::collections::BTreeMap<String, i64> {
    let text = std::fs::read_to_string(path).unwrap();
    let raw: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let mut words = l.strip_prefix("#define ")?.split_whitespace();
            let name = words.next()?.strip_prefix(prefix)?;
            Some((name.to_owned(), words.next()?.to_owned()))
        })
        .collect();
    let number = |v: &str| {
        let v = v.trim_matches(|c| c == '(' || c == ')');
        match v.strip_prefix("0x") {
            Some(hex) => i64::from_str_radix(hex, 16).ok(),
            None => v.parse::<i64>().ok(),
        }
    };
    raw.iter()
        .filter_map(|(name, value)| {
            let resolved = number(value).or_else(|| {
                let other = value.strip_prefix(prefix)?;
                raw.iter().find(|(n, _)| n == other).and_then(|(_, v)| number(v))
            })?;
            Some((name.clone(), resolved))
        })
        .collect()
}

#[test]
fn oci_example_constants_are_odpi_cs() {
    let stub = defines(&repo_root().join("examples-c/oci_stub.h"), "OCI_");
    let odpi = defines(&odpi_sources().join("src/dpiImpl.h"), "DPI_OCI_");
    for name in [
        "ATTR_TOKEN",
        "ATTR_TOKEN_CBK",
        "ATTR_TOKEN_CBKCTX",
        "ATTR_TOKEN_ISBEARER",
        "ATTR_SPOOL_AUTH",
        "HTYPE_AUTHINFO",
        "HTYPE_SPOOL",
        "SPC_HOMOGENEOUS",
        "SESSGET_SPOOL",
    ] {
        assert!(
            stub.contains_key(name) && odpi.contains_key(name),
            "OCI_{name} in oci_stub.h and DPI_OCI_{name} in dpiImpl.h"
        );
    }
    let mut compared = 0;
    for (name, value) in &stub {
        if let Some(theirs) = odpi.get(name) {
            assert_eq!(
                value, theirs,
                "OCI_{name}: oci_stub.h says {value}, ODPI-C's dpiImpl.h {theirs}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 20, "only {compared} constants compared");
}
