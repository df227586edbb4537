#!/usr/bin/env bash
# The Java benchmark: aadtoken's Java binding vs msal4j, one run, one mock (see BENCHMARKS.md).
#   bench/java/run.sh            # full run
#   QUICK=1 bench/java/run.sh    # fewer iterations (smoke test)
# Builds the release library and mock, installs the aadtoken artifacts (release library inside)
# into ~/.m2, builds the harness and prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "== building (release)" >&2
# Separately, as bench/run.sh does: together, the mock's features would be unified into the library.
cargo build --release --quiet -p aadtoken
cargo build --release --quiet -p aadtoken-mock
mvn -q -B -f bindings/java/pom.xml install -DskipTests -Daadtoken.nativeDir="$PWD/target/release"
mvn -q -B -f bench/java/pom.xml package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
echo "== running" >&2
# The mock on port 443: msal4j's cache misses on any other port (see BENCHMARKS.md).
exec java -Daadtoken.mock="$PWD/target/release/aadtoken-mock" -Daadtoken.mockPort=443 \
  -cp "bench/java/target/classes:$(cat bench/java/target/classpath.txt)" aadtoken.bench.JavaBench
