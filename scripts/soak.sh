#!/usr/bin/env bash
# Soak test: THREADS threads (default 8) share one client for SECONDS (default 60) against the
# bundled mock, whose tokens live 5 s (expiry_margin_s=1), while it injects random faults (503,
# 500, 429 with Retry-After, dropped connections). Fails on any wrong token (signature, audience,
# expiry), any error other than an injected fault's while no valid token existed, resident
# memory growing by 16 MiB or more after warm-up, or a library thread left after shutdown.
# Prints one summary line (calls, tokens, errors, faults, requests, RSS, threads).
#
#   scripts/soak.sh [SECONDS] [THREADS]
#
# scripts/test.sh runs the same test for 12 s (cargo test's default).
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
SOAK_SECONDS=${1:-60} SOAK_THREADS=${2:-8} cargo test --quiet --test soak -- --nocapture >"$log" 2>&1 || status=$?
if [ $status -ne 0 ]; then cat "$log"; fi
grep -E '^soak:' "$log" || true
exit $status
