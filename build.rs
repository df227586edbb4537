//! Build script: give the shared library a versioned soname (`libaadtoken.so.MAJOR`), so a
//! program linked against it keeps loading a compatible release (`make install` puts
//! `libaadtoken.so.0.1.0` with the `.so.0` and `.so` links in place).
//!
//! A program linked with `-laadtoken` records the soname, so the dynamic loader looks for
//! `libaadtoken.so.0`. For in-tree use (tests, `examples-c`, the demo) this script also puts a
//! `libaadtoken.so.0 -> libaadtoken.so` link next to cargo's output.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    let soname = format!("libaadtoken.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // Relative relocations packed (DT_RELR): the ~9,000 pointers the library holds to itself
    // take a few KB instead of ~200 KB, and are applied faster at load. Only where the linker
    // and the C library support it (GNU ld 2.38+, glibc 2.36+): a test link decides.
    // (The probe uses the host's compiler, so only a native build is probed.)
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    if native && links_with("-Wl,-z,pack-relative-relocs") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
    }

    // OUT_DIR is <target>/<profile>/build/aadtoken-<hash>/out: the library lands in <profile>.
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    if let Some(profile_dir) = out_dir.ancestors().nth(3) {
        let link = profile_dir.join(&soname);
        if std::fs::symlink_metadata(&link).is_err() {
            #[cfg(unix)]
            let _ = std::os::unix::fs::symlink("libaadtoken.so", &link);
        }
    }
}

/// Whether the C compiler links a small shared library with `flag` without complaint.
fn links_with(flag: &str) -> bool {
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let src = dir.join("relr_probe.c");
    if std::fs::write(&src, "static int x; int *aadtoken_relr_probe = &x;\n").is_err() {
        return false;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    std::process::Command::new(cc)
        .args(["-shared", "-fPIC", flag, "-o"])
        .arg(dir.join("librelr_probe.so"))
        .arg(&src)
        .output()
        .is_ok_and(|out| out.status.success() && out.stderr.is_empty())
}
