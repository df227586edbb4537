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
