//! Drives the Java binding's tests (bindings/java/test/AadTokenTest.java) against the mock Entra
//! ID server: compiles the `aadtoken` package and the test with `javac -Xlint:all -Werror`,
//! packs `aadtoken.jar`, and runs the test program on a JVM with `-Xcheck:jni` (which reports
//! any misuse of JNI by the native code) against the freshly built `libaadtoken.so`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aadtoken_mock::{MockConfig, MockServer, CLIENT_ID, CLIENT_SECRET, OTHER_SCOPE, SCOPE, TENANT_ID};
use common::{repo_root, require_tool, target_dir};

const JDK_HINT: &str = "a JDK 11 or newer: apt-get install openjdk-17-jdk-headless";

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed with {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
    let out = Command::new("java")
        .arg("-Xcheck:jni")
        .arg(format!("-Daadtoken.library={}", lib.display()))
        .arg("-cp")
        .arg(&classpath)
        .arg("AadTokenTest")
        .env("AADTOKEN_TEST_AUTHORITY", mock.base_url())
        .env("AADTOKEN_TEST_CA", mock.ca_file())
        .env("AADTOKEN_TEST_TENANT", TENANT_ID)
        .env("AADTOKEN_TEST_CLIENT", CLIENT_ID)
        .env("AADTOKEN_TEST_SECRET", CLIENT_SECRET)
        .env("AADTOKEN_TEST_SCOPE", SCOPE)
        .env("AADTOKEN_TEST_OTHER_SCOPE", OTHER_SCOPE)
        .env("AADTOKEN_TEST_VERSION", aadtoken::VERSION)
        // For AadTokenClient.fromEnvironment().
        .env("AZURE_TENANT_ID", TENANT_ID)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .env("AZURE_AUTHORITY_HOST", mock.base_url())
        .env(
            "AADTOKEN_SETTINGS",
            format!("scope={SCOPE}; ca_file={}", mock.ca_file().display()),
        )
        .env_remove("AADTOKEN_LIB")
        .env_remove("JAVA_TOOL_OPTIONS")
        .output()
        .expect("run java");
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
