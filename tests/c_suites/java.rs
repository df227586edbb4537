//! Drives the Java binding's tests (bindings/java/test/AadTokenTest.java) against the mock Entra
//! ID server: compiles the `aadtoken` package and the test with `javac -Xlint:all -Werror`,
//! packs `aadtoken.jar`, and runs the test program on a JVM with `-Xcheck:jni` (which reports
//! any misuse of JNI by the native code) against the freshly built `libaadtoken.so`.

use std::path::{Path, PathBuf};
use std::process::Command;

use aadtoken_mock::{MockConfig, MockServer};

use crate::common::{self, repo_root, require_tool, target_dir, Under};

const JDK_HINT: &str = "a JDK 11 or newer: apt-get install openjdk-17-jdk-headless";

fn run(cmd: &mut Command, what: &str) {
    common::run_ok(cmd, what);
}

fn java_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "java"))
        .collect();
    files.sort();
    files
}

/// Compile the binding and the test; returns (jar, test classes directory).
fn build() -> (PathBuf, PathBuf) {
    for tool in ["javac", "jar", "java"] {
        require_tool(tool, JDK_HINT);
    }
    let java = repo_root().join("bindings/java");
    let out = target_dir().join("java");
    let classes = out.join("classes");
    let test_classes = out.join("test-classes");
    for d in [&classes, &test_classes] {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d).unwrap();
    }
    run(
        Command::new("javac")
            .args(["-Xlint:all", "-Werror", "--release", "11", "-d"])
            .arg(&classes)
            .args(java_files(&java.join("src/aadtoken"))),
        "javac bindings/java/src",
    );
    let jar = out.join("aadtoken.jar");
    run(
        Command::new("jar")
            .arg("--create")
            .arg("--file")
            .arg(&jar)
            .arg("-C")
            .arg(&classes)
            .arg("."),
        "jar",
    );
    run(
        Command::new("javac")
            .args(["-Xlint:all", "-Werror", "-d"])
            .arg(&test_classes)
            .arg("-cp")
            .arg(&jar)
            .args(java_files(&java.join("test"))),
        "javac bindings/java/test",
    );
    (jar, test_classes)
}

#[test]
fn java_binding_against_the_mock() {
    let lib = common::lib_dir().join("libaadtoken.so");
    let (jar, test_classes) = build();
    let mock = MockServer::spawn(MockConfig::default());
    let classpath = format!("{}:{}", jar.display(), test_classes.display());
    let mut cmd = common::test_program(Path::new("java"), Under::Plain);
    cmd.arg("-Xcheck:jni")
        .arg(format!("-Daadtoken.library={}", lib.display()))
        .arg("-cp")
        .arg(&classpath)
        .arg("AadTokenTest")
        .env("AADTOKEN_TEST_VERSION", aadtoken::VERSION)
        .env_remove("AADTOKEN_LIB")
        .env_remove("JAVA_TOOL_OPTIONS");
    // AADTOKEN_TEST_*, and for AadTokenClient.fromEnvironment() AZURE_* and AADTOKEN_SETTINGS.
    common::mock_env(&mut cmd, &mock).envs(mock.app_env());
    let out = cmd.output().expect("run java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "the Java tests failed ({:?}):\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("java: ") && l.ends_with(" 0 failed")),
        "no summary line:\n{stdout}"
    );
    // -Xcheck:jni reports JNI misuse as warnings; the library itself never prints.
    assert!(
        !stdout.contains("WARNING") && stderr.trim().is_empty(),
        "unexpected output (JNI check warnings?):\n{stdout}\n--- stderr\n{stderr}"
    );
}
