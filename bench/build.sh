#!/usr/bin/env bash
# What the benchmark scripts (bench/run.sh, bench/host_cache.sh) run: the release library and
# mock, target/bench/bench (bench/bench.c against the release library) and MSAL Python.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== building (release)" >&2
# Built separately: building them together would unify the mock's dependency features (tokio's
# and hyper's server parts) into the library and measure a bigger library than users get.
# The shared library alone, as `make` builds it (with the rlib in the same compilation it is ~1 MB
# bigger; BENCHMARKS.md, "Library size").
cargo rustc --release --quiet -p aadtoken --lib --crate-type cdylib
cargo build --release --quiet -p aadtoken-mock
mkdir -p target/bench
cc -O2 -std=c99 -Wall -Wextra -Iinclude bench/bench.c -o target/bench/bench \
  -Ltarget/release -Wl,-rpath,"$PWD/target/release" -laadtoken -lpthread
python3 -c 'import msal' 2>/dev/null || pip install --quiet msal==1.39.0  # the version BENCHMARKS.md was measured with
