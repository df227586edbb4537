#!/usr/bin/env bash
# Benchmarks, side by side in one run on one mock: aadtoken (C ABI) vs curl vs MSAL Python.
# Writes bench/results.json and bench/chart.svg and prints a table with ratios.
#   bench/run.sh            # full run
#   QUICK=1 bench/run.sh    # fewer iterations (smoke test)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=${QUICK:-0}
CACHED_ITERS=$([ "$quick" = 1 ] && echo 200000 || echo 2000000)
WARM_ITERS=$([ "$quick" = 1 ] && echo 100 || echo 1000)
MSAL_CACHED_ITERS=$([ "$quick" = 1 ] && echo 2000 || echo 20000)
COLD_RUNS=$([ "$quick" = 1 ] && echo 3 || echo 11)
REPS=$([ "$quick" = 1 ] && echo 1 || echo 5)

bench/build.sh
command -v curl >/dev/null || { echo "curl is needed (apt-get install curl)" >&2; exit 1; }

work=$(mktemp -d)
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
target/release/aadtoken-mock --port 0 --ca-out "$work/ca.pem" --port-file "$work/port" >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
base="https://127.0.0.1:$port"
tenant=11111111-1111-1111-1111-111111111111
client=22222222-2222-2222-2222-222222222222
secret='mock-secret-Value~0123456789'
scope='api://oracle-db/.default'
settings="authority_host=$base;tenant_id=$tenant;client_id=$client;client_secret=$secret;scope=$scope;ca_file=$work/ca.pem"
form="client_id=$client&grant_type=client_credentials&scope=api%3A%2F%2Foracle-db%2F.default&client_secret=mock-secret-Value~0123456789"
url="$base/$tenant/oauth2/v2.0/token"
export BENCH_AUTHORITY="$base/$tenant" BENCH_CLIENT_ID=$client BENCH_SECRET=$secret BENCH_SCOPE=$scope
export REQUESTS_CA_BUNDLE="$work/ca.pem"
# Same trust store for curl as for aadtoken (the system's CAs plus the mock's), so that both
# load and index the same certificates on a cold start.
sys_bundle=$(for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do [ -f "$f" ] && echo "$f" && break; done)
cat $sys_bundle "$work/ca.pem" > "$work/bundle.pem"

ctl() { curl -s --cacert "$work/ca.pem" -X "$1" "$base/_mock/$2"; }
token_requests() { ctl GET counters | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_requests"])'; }
val() { awk -v k="$1" '$1 == k {print $2}'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A R

echo "== (a) cached get_token" >&2
for t in 1 2; do
  runs=()
  for _ in $(seq "$REPS"); do
    out=$(AADTOKEN_SETTINGS="$settings" target/bench/bench cached "$t" "$CACHED_ITERS")
    runs+=("$(echo "$out" | val ns_per_op | median) $(echo "$out" | val aggregate_mops)")
  done
  R[cached_ns_$t]=$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | median)
  R[cached_mops_$t]=$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | median)
done
R[msal_cached_ns]=$(for _ in $(seq "$REPS"); do python3 bench/msal_bench.py cached "$MSAL_CACHED_ITERS" | val ns_per_op; done | median)

echo "== (b) warm miss: one token over a warm connection" >&2
# expiry_margin_s above the mock's 3599 s lifetime: no cached token is ever good enough.
R[warm_us]=$(for _ in $(seq "$REPS"); do AADTOKEN_SETTINGS="$settings;expiry_margin_s=3600" target/bench/bench warm "$WARM_ITERS" | val median_us; done | median)
curl_urls=()
for _ in $(seq "$WARM_ITERS"); do curl_urls+=(-o /dev/null "$url"); done
R[curl_warm_us]=$(for _ in $(seq "$REPS"); do
  curl -s --cacert "$work/bundle.pem" -d "$form" -w '%{time_total}\n' "${curl_urls[@]}" | tail -n +2 | awk '{print $1*1e6}' | median
done | median)
R[msal_warm_us]=$(for _ in $(seq "$REPS"); do python3 bench/msal_bench.py warm "$WARM_ITERS" | val median_us; done | median)

echo "== (c) cold: first token in a fresh process vs curl on a new connection" >&2
# Two trust stores, each given to both: the mock's CA alone (ca_file / --cacert), and the
# system's CAs plus the mock's (bundle.pem), which both then read and parse on the first request.
# Interleaved run by run, so that both see the same machine.
bundle_settings="${settings%;ca_file=*};ca_file=$work/bundle.pem"
cold_aad() { AADTOKEN_SETTINGS="$1" target/bench/bench cold | val cold_ms; }
cold_curl() { curl -s -o /dev/null --cacert "$1" -d "$form" -w '%{time_total}\n' "$url" | awk '{print $1*1e3}'; }
: > "$work/cold"
for _ in $(seq "$COLD_RUNS"); do
  echo "a1 $(cold_aad "$settings")" >> "$work/cold"
  echo "c1 $(cold_curl "$work/ca.pem")" >> "$work/cold"
  echo "ab $(cold_aad "$bundle_settings")" >> "$work/cold"
  echo "cb $(cold_curl "$work/bundle.pem")" >> "$work/cold"
done
R[cold_ms]=$(val a1 < "$work/cold" | median)
R[curl_cold_mockca_ms]=$(val c1 < "$work/cold" | median)
R[cold_bundle_ms]=$(val ab < "$work/cold" | median)
R[curl_cold_ms]=$(val cb < "$work/cold" | median)
R[curl_process_ms]=$(for _ in $(seq "$COLD_RUNS"); do s=$(date +%s%N); curl -s -o /dev/null --cacert "$work/bundle.pem" -d "$form" "$url"; echo $(( ($(date +%s%N) - s) / 1000 )) | awk '{print $1/1e3}'; done | median)
R[msal_cold_ms]=$(for _ in $(seq "$COLD_RUNS"); do python3 bench/msal_bench.py cold | val cold_ms; done | median)
R[msal_cold_import_ms]=$(for _ in $(seq "$COLD_RUNS"); do python3 bench/msal_bench.py cold | val cold_with_import_ms; done | median)

echo "== (d) 64 concurrent callers on a cold cache" >&2
ctl POST reset >/dev/null
AADTOKEN_SETTINGS="$settings" target/bench/bench conc 64 >/dev/null
R[conc_requests]=$(token_requests)
ctl POST reset >/dev/null
python3 bench/msal_bench.py conc 64 >/dev/null
R[msal_conc_requests]=$(token_requests)

if command -v valgrind >/dev/null; then
  echo "== instruction counts (valgrind --tool=callgrind: stable on a busy machine)" >&2
  # Per cached get_token + token_free: the difference of two runs of different lengths, so the
  # start-up and the first (network) token cancel out.
  instr() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | awk '/Collected/ {print $4}'; }
  n1=$(AADTOKEN_SETTINGS="$settings" instr target/bench/bench cached 1 20000)
  n2=$(AADTOKEN_SETTINGS="$settings" instr target/bench/bench cached 1 120000)
  R[cached_instr]=$(( (n2 - n1) / 100000 ))
  R[cold_instr]=$(AADTOKEN_SETTINGS="$settings" instr target/bench/bench cold)
  R[cold_bundle_instr]=$(AADTOKEN_SETTINGS="$bundle_settings" instr target/bench/bench cold)
fi

echo "== footprint" >&2
fp=$(AADTOKEN_SETTINGS="$settings" target/bench/bench footprint)
R[rss_growth_kb]=$(echo "$fp" | val rss_growth_kb)
R[library_threads_idle]=$(echo "$fp" | val library_threads_idle)
strip -o "$work/libaadtoken.so" target/release/libaadtoken.so
R[so_bytes]=$(stat -c %s "$work/libaadtoken.so")

{
  echo "{"
  first=1
  for k in $(printf '%s\n' "${!R[@]}" | sort); do
    [ $first = 1 ] || echo ","
    first=0
    printf '  "%s": %s' "$k" "${R[$k]}"
  done
  printf ',\n  "machine": "%s",\n  "date": "%s"\n}\n' "$(nproc) cores, $(uname -m), $(. /etc/os-release; echo "$PRETTY_NAME")" "$(date -u +%Y-%m-%d)"
} > bench/results.json
python3 bench/report.py bench/results.json bench/chart.svg
