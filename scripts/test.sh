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

step "the smallest build (-p aadtoken --no-default-features: no JNI, PKCS#12 or person sign-in): lints, core's tests, the same C functions"
# In a target directory of its own, so the default build the other steps test stays in place.
CARGO_TARGET_DIR=target/minimal cargo clippy -p aadtoken --no-default-features --lib --quiet -- -D warnings
CARGO_TARGET_DIR=target/minimal cargo clippy -p aadtoken-core --no-default-features --lib --tests --quiet -- -D warnings
CARGO_TARGET_DIR=target/minimal cargo test -p aadtoken-core --no-default-features --lib --quiet
CARGO_TARGET_DIR=target/minimal cargo build -p aadtoken --no-default-features --quiet
c_exports() { nm -D --defined-only "$1" | awk '$3 ~ /^aadtoken_/ {print $3}' | sort; }
diff <(c_exports target/debug/libaadtoken.so) <(c_exports target/minimal/debug/libaadtoken.so)

step "exported symbols"
scripts/check-symbols.sh target/debug/libaadtoken.so

step "C example builds with -std=c99 -Wall -Wextra -Wpedantic -Werror"
make -s -C examples-c clean all

step "C packaging: version macros, header as C99 and C++, soname, make install, pkg-config, static link"
scripts/check-packaging.sh

step "Python binding (ctypes) and the python-oracledb adapter"
AADTOKEN_LIB="$PWD/target/debug/libaadtoken.so" python3 bindings/python/tests/run.py

step "Python package: pip install ./bindings/python in a fresh venv builds the library into it (reusing target/)"
python3 bindings/python/tests/check_install.py

step "Node.js binding (koffi), its TypeScript declarations and node-oracledb: npm ci, npm test"
(cd bindings/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error &&
  AADTOKEN_LIB="$PWD/../../target/debug/libaadtoken.so" npm test --silent)

step "Node packages of the sign-in tests, from their lock files: oidc-provider (tests/oidc), playwright-core (tests/browser)"
# Used by tests/oidc_provider.rs (a certified OpenID provider) and cli/tests/chromium.rs (Chromium).
for dir in tests/oidc tests/browser; do (cd "$dir" && npm ci --no-audit --no-fund --silent); done

step "wire check: requests of MSAL Python and of aadtoken against the same mock (README: Requests compared with MSAL)"
python3 tests/msal_wire/compare.py

step "Rust and C tests"
cargo test --workspace --quiet

step "Java: the binding and the ojdbc provider (Maven: JUnit 5 under -Xcheck:jni, the jar alone, the real ojdbc11 and ucp11)"
# Uses target/debug/libaadtoken.so (put inside the jar) and target/debug/aadtoken-mock, built above.
mvn -B --no-transfer-progress -f bindings/java/pom.xml verify
