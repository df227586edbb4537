#!/usr/bin/env bash
# N processes start cold at once, each wanting one token: aadtoken (the C ABI, `bench cold`) with
# host_cache=off and =on, beside N MSAL Python processes (`msal_bench.py cold`, one
# ConfidentialClientApplication each). For each: token requests that reached the mock, and the
# wall time from starting the first process until every one has its token.
#   bench/host_cache.sh                 # N = 8 32 64, mock latency 200 ms, 3 runs each (median)
#   NS="8" RUNS=1 bench/host_cache.sh   # quicker
# The mock answers each token request after LATENCY_MS (Entra ID's own answer takes ~100-300 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
NS=${NS:-"8 32 64"}
RUNS=${RUNS:-3}
LATENCY_MS=${LATENCY_MS:-200}

bench/build.sh

work=$(mktemp -d)
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
target/release/aadtoken-mock --port 0 --latency-ms "$LATENCY_MS" --ca-out "$work/ca.pem" \
  --port-file "$work/port" >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
base="https://127.0.0.1:$(cat "$work/port")"
tenant=11111111-1111-1111-1111-111111111111
client=22222222-2222-2222-2222-222222222222
secret='mock-secret-Value~0123456789'
scope='api://oracle-db/.default'
settings="authority_host=$base;tenant_id=$tenant;client_id=$client;client_secret=$secret;scope=$scope;ca_file=$work/ca.pem"
export BENCH_AUTHORITY="$base/$tenant" BENCH_CLIENT_ID=$client BENCH_SECRET=$secret BENCH_SCOPE=$scope
export REQUESTS_CA_BUNDLE="$work/ca.pem"

counters() { curl -s --cacert "$work/ca.pem" "$base/_mock/counters"; }
token_requests() { counters | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_requests"])'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One run: N processes of "$@" started together; prints "<requests> <wall ms>".
run_n() {
  local n=$1; shift
  local before after t0 t1 pids=() failed=0
  before=$(token_requests)
  t0=$(date +%s%N)
  for _ in $(seq "$n"); do "$@" >/dev/null & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  t1=$(date +%s%N)
  [ "$failed" = 0 ] || { echo "a process failed: $*" >&2; exit 1; }
  after=$(token_requests)
  echo "$((after - before)) $(( (t1 - t0) / 1000000 ))"
}

printf '%-4s | %-28s | %-28s | %-28s\n' N "aadtoken host_cache=off" "aadtoken host_cache=on" "MSAL Python (1 app each)"
printf '%-4s | %-28s | %-28s | %-28s\n' "" "requests, wall ms" "requests, wall ms" "requests, wall ms"
for n in $NS; do
  line="$n"
  for side in off on msal; do
    results=()
    for r in $(seq "$RUNS"); do
      case $side in
        off) results+=("$(AADTOKEN_SETTINGS="$settings" run_n "$n" target/bench/bench cold)") ;;
        on)
          dir="$work/hc-$n-$r" # a cold host: no token cached yet
          results+=("$(AADTOKEN_SETTINGS="$settings;host_cache=on;host_cache_dir=$dir" run_n "$n" target/bench/bench cold)") ;;
        msal) results+=("$(run_n "$n" python3 bench/msal_bench.py cold)") ;;
      esac
    done
    req=$(printf '%s\n' "${results[@]}" | awk '{print $1}' | median)
    ms=$(printf '%s\n' "${results[@]}" | awk '{print $2}' | median)
    line="$line|$req|$ms"
  done
  echo "$line" | awk -F'|' '{printf "%-4s | %6s req, %8s ms          | %6s req, %8s ms          | %6s req, %8s ms\n", $1, $2, $3, $4, $5, $6, $7}'
done
