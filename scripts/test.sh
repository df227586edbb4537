#!/usr/bin/env bash
# Run every test: the committed header is current, no import cycle, lints, the build, the exported symbols,
# the C example builds, the C packaging, the Python binding, and all Rust, C and Java tests
# (against the bundled mock Entra ID server).
# Builds once into the shared target directory; every stage reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "header: include/aadtoken.h matches the sources"
scripts/gen-header.sh --check

step "no import cycle between the modules of core and of the mock"
python3 scripts/check-cycles.py core/src mock/src

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "build (library, mock, tests)"
cargo build --workspace --all-targets --quiet

step "exported symbols"
scripts/check-symbols.sh target/debug/libaadtoken.so

step "C example builds with -std=c99 -Wall -Wextra -Wpedantic -Werror"
make -s -C examples-c clean all

step "C packaging: version macros, header as C99 and C++, soname, make install, pkg-config, static link"
scripts/check-packaging.sh

step "Python binding (ctypes) and the python-oracledb adapter"
AADTOKEN_LIB="$PWD/target/debug/libaadtoken.so" python3 bindings/python/tests/run.py

step "Rust and C tests"
cargo test --workspace --quiet

step "Java: the binding and the ojdbc provider (Maven: JUnit 5 under -Xcheck:jni, the jar alone, the real ojdbc11 and ucp11)"
# Uses target/debug/libaadtoken.so (put inside the jar) and target/debug/aadtoken-mock, built above.
mvn -B --no-transfer-progress -f bindings/java/pom.xml verify
