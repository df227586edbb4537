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
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    let soname = format!("libaadtoken.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");

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
