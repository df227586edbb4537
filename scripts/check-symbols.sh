#!/usr/bin/env bash
# The library exports exactly:
#  - the C functions the header declares, all named aadtoken_*;
#  - the JNI functions of the Java binding (feature `jni`, on by default), all named
#    Java_aadtoken_<Class>_<method>, one for each `native` method in bindings/java/src/aadtoken/.
# Nothing else (no stray Rust or dependency symbols).
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-target/debug/libaadtoken.so}
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' | sort -u)
declared=$(grep -oE '\baadtoken_[a-z0-9_]+\(' include/aadtoken.h | tr -d '(' | sort -u)
# `static native Token clientGetToken(long handle, ...)` in Native.java -> Java_aadtoken_Native_clientGetToken
# (method names without '_', so no JNI name escaping is involved).
native=$(for f in bindings/java/src/aadtoken/*.java; do
  class=$(basename "$f" .java)
  { grep -E '^\s*[a-z ]*\bnative\b' "$f" || true; } | { grep -oE '[A-Za-z0-9]+\s*\(' || true; } |
    tr -d '( ' | sed "s/^/Java_aadtoken_${class}_/"
done | sort -u)

stray_macros=$(grep -oE '^#define [A-Za-z_][A-Za-z0-9_]*' include/aadtoken.h | awk '{print $2}' | grep -vE '^AADTOKEN_' || true)
if [ -n "$stray_macros" ]; then
  echo "macros in include/aadtoken.h outside the AADTOKEN_ namespace (make the Rust constant pub(crate) or exclude it in cbindgen.toml):" >&2
  echo "$stray_macros" >&2
  exit 1
fi
stray=$(grep -vE '^(aadtoken_|Java_aadtoken_)' <<<"$exported" || true)
if [ -n "$stray" ]; then
  echo "exported symbols outside the aadtoken_ and Java_aadtoken_ namespaces:" >&2
  echo "$stray" >&2
  exit 1
fi
c_exported=$(grep -E '^aadtoken_' <<<"$exported" || true)
if [ "$c_exported" != "$declared" ]; then
  echo "exported functions differ from the header (< exported only, > declared only):" >&2
  diff <(echo "$c_exported") <(echo "$declared") >&2 || true
  exit 1
fi
jni_exported=$(grep -E '^Java_aadtoken_' <<<"$exported" || true)
if [ "$jni_exported" != "$native" ]; then
  echo "JNI exports differ from the Java native methods (< exported only, > declared in Java only):" >&2
  diff <(echo "$jni_exported") <(echo "$native") >&2 || true
  exit 1
fi
echo "$(wc -l <<<"$c_exported") C functions, all aadtoken_*, all declared in include/aadtoken.h;" \
  "$(wc -l <<<"$jni_exported") JNI functions, one per native method of bindings/java"
