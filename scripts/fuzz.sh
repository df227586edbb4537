#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of untrusted input (fuzz/fuzz_targets: token, error,
# discovery and managed-identity responses, settings strings, JWT claims, token-file locations,
# the log's JWT scrubber) with cargo fuzz (libFuzzer + AddressSanitizer).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# cargo fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
# Installs cargo-fuzz the first time. Corpora grow in fuzz/corpus/<target> (seeded from
# fuzz/seeds/<target>); a crash leaves its input in fuzz/artifacts/<target>/ and fails the run:
# add it to the regression cases of tests/properties.rs once fixed. Prints one summary line per
# target (executions, corpus size, crashes).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true

if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz" >&2
  cargo install --locked --quiet cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi

status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  if [ -d "fuzz/seeds/$t" ]; then cp -n fuzz/seeds/"$t"/* "fuzz/corpus/$t/" 2>/dev/null || true; fi
  log=$(mktemp)
  echo "== fuzzing $t for $secs s" >&2
  if cargo fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -print_final_stats=1 \
      -rss_limit_mb=2048 -max_len=65536 >"$log" 2>&1; then result=ok; else result=CRASH; status=1; fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
  summary+=("$(printf '%-20s %-6s %12s executions  %6s corpus files  %3s crash files' "$t" "$result" "${execs:-?}" "$corpus" "$crashes")")
  if [ "$result" = CRASH ]; then tail -n 40 "$log" >&2; fi
  rm -f "$log"
done
printf '\n== fuzz summary (%s s per target)\n' "$secs"
printf '%s\n' "${summary[@]}"
exit $status
