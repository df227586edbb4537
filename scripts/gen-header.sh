#!/usr/bin/env bash
# Regenerate include/aadtoken.h with the pinned cbindgen, or with --check verify that the
# committed header is what the sources generate (exit 1 and a diff if not).
set -euo pipefail
CBINDGEN_VERSION=0.29.4
cd "$(dirname "$0")/.."

if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version)" != "cbindgen $CBINDGEN_VERSION" ]; then
  echo "installing cbindgen $CBINDGEN_VERSION (the pinned version)" >&2
  cargo install --locked --quiet --version "$CBINDGEN_VERSION" cbindgen
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
IFS=. read -r major minor patch <<<"$version"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cbindgen --quiet --config cbindgen.toml --crate aadtoken --output "$tmp" .
# Version macros follow Cargo.toml (cbindgen cannot derive them).
python3 - "$tmp" "$major" "$minor" "$patch" "$version" <<'PY'
import sys
path, major, minor, patch, full = sys.argv[1:]
text = open(path).read()
marker = "aadtoken_version() gives the loaded library's. */\n"
macros = (f"#define AADTOKEN_VERSION_MAJOR {major}\n#define AADTOKEN_VERSION_MINOR {minor}\n"
          f"#define AADTOKEN_VERSION_PATCH {patch}\n#define AADTOKEN_VERSION_STRING \"{full}\"\n")
assert marker in text, "cbindgen.toml's after_includes marker is missing"
open(path, "w").write(text.replace(marker, marker + macros, 1))
PY

if [ "${1:-}" = "--check" ]; then
  if ! diff -u include/aadtoken.h "$tmp"; then
    echo "include/aadtoken.h is out of date: run scripts/gen-header.sh and commit the result" >&2
    exit 1
  fi
  echo "include/aadtoken.h is current"
else
  mkdir -p include
  cp "$tmp" include/aadtoken.h
  echo "wrote include/aadtoken.h"
fi
