#!/usr/bin/env bash
# The library exports exactly the functions the header declares, all named aadtoken_*.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-target/debug/libaadtoken.so}
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' | sort -u)
declared=$(grep -oE '\baadtoken_[a-z0-9_]+\(' include/aadtoken.h | tr -d '(' | sort -u)
stray=$(grep -vE '^aadtoken_' <<<"$exported" || true)
if [ -n "$stray" ]; then
  echo "exported symbols outside the aadtoken_ namespace:" >&2
  echo "$stray" >&2
  exit 1
fi
if [ "$exported" != "$declared" ]; then
  echo "exported functions differ from the header (< exported only, > declared only):" >&2
  diff <(echo "$exported") <(echo "$declared") >&2 || true
  exit 1
fi
echo "$(wc -l <<<"$exported") exported functions, all aadtoken_*, all declared in include/aadtoken.h"
