#!/usr/bin/env bash
# C packaging checks, from the existing build in target/$PROFILE (default debug; no second build):
#  - the header's AADTOKEN_VERSION_* macros equal Cargo.toml's version and aadtoken_version();
#  - the header compiles cleanly as C99 and as C++ (-Wall -Wextra -Wpedantic -Werror);
#  - the shared library's soname is libaadtoken.so.MAJOR;
#  - `make install PREFIX=<temp> NO_BUILD=1` installs the versioned library and its links, the
#    static library, the header and aadtoken.pc;
#  - examples-c, copied out of the tree, builds with `pkg-config --cflags --libs aadtoken` and
#    loads the installed libaadtoken.so.MAJOR, and links statically with libaadtoken.a
#    (-lpthread -ldl -lm); both then fetch a token from the mock Entra ID server.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
target=${CARGO_TARGET_DIR:-target}
build="$target/$PROFILE"

need() { command -v "$1" >/dev/null || { echo "check-packaging: '$1' is required ($2)" >&2; exit 1; }; }
need pkg-config "apt-get install pkg-config"
need c++ "apt-get install g++"
need readelf "apt-get install binutils"
need make "apt-get install make"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
IFS=. read -r major minor patch <<<"$version"
work=$(mktemp -d)
mock_pid=
passed=0
cleanup() {
  local rc=$?
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
  rm -rf "$work"
  [ $rc -eq 0 ] || echo "packaging: $passed passed, 1 failed"
}
trap cleanup EXIT
ok() { passed=$((passed + 1)); echo "ok   $*"; }

# -- header: version macros, C99 and C++
cat >"$work/version.c" <<EOF
#include <stdio.h>
#include <string.h>
#include <aadtoken.h>
#if AADTOKEN_VERSION_MAJOR != $major || AADTOKEN_VERSION_MINOR != $minor || AADTOKEN_VERSION_PATCH != $patch
#error "AADTOKEN_VERSION_* differ from Cargo.toml ($version)"
#endif
int main(void) {
    if (strcmp(AADTOKEN_VERSION_STRING, "$version") != 0) { puts("AADTOKEN_VERSION_STRING"); return 1; }
    if (strcmp(aadtoken_version(), AADTOKEN_VERSION_STRING) != 0) { puts("aadtoken_version()"); return 1; }
    return 0;
}
EOF
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude "$work/version.c" -o "$work/version" \
  -L"$build" -Wl,-rpath,"$PWD/$build" -laadtoken
"$work/version"
ok "AADTOKEN_VERSION_MAJOR/MINOR/PATCH/STRING = $version = Cargo.toml = aadtoken_version()"

printf '#include <aadtoken.h>\n#include <aadtoken.h>\nint main(void) { return aadtoken_status_str(AADTOKEN_OK) == 0; }\n' >"$work/twice.c"
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -Iinclude "$work/twice.c"
ok "header compiles as C99 (-Wall -Wextra -Wpedantic -Werror, included twice)"
for std in c++11 c++17; do
  c++ -std=$std -Wall -Wextra -Wpedantic -Werror -x c++ -fsyntax-only -Iinclude "$work/twice.c"
done
# Linked from C++: the extern "C" block gives unmangled names.
c++ -Wall -Wextra -Werror -x c++ -Iinclude "$work/twice.c" -o "$work/twice_cxx" \
  -L"$build" -Wl,-rpath,"$PWD/$build" -laadtoken
"$work/twice_cxx"
ok "header compiles and links as C++11 and C++17"

# -- soname
soname=$(readelf -d "$build/libaadtoken.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libaadtoken.so.$major" ] || { echo "soname is '$soname', expected libaadtoken.so.$major" >&2; exit 1; }
ok "soname $soname"

# -- make install into a temporary prefix, from the existing build
prefix="$work/prefix"
make -s install PREFIX="$prefix" PROFILE="$PROFILE" NO_BUILD=1 >/dev/null
lib="$prefix/lib"
[ -f "$lib/libaadtoken.so.$version" ] && [ ! -L "$lib/libaadtoken.so.$version" ]
[ "$(readlink "$lib/libaadtoken.so.$major")" = "libaadtoken.so.$version" ]
[ "$(readlink "$lib/libaadtoken.so")" = "libaadtoken.so.$major" ]
[ -f "$lib/libaadtoken.a" ] && [ -f "$prefix/include/aadtoken.h" ] && [ -f "$lib/pkgconfig/aadtoken.pc" ]
cmp -s include/aadtoken.h "$prefix/include/aadtoken.h"
ok "make install: libaadtoken.so.$version, .so.$major -> .so.$version, .so -> .so.$major, libaadtoken.a, aadtoken.h, aadtoken.pc"

export PKG_CONFIG_PATH="$lib/pkgconfig"
[ "$(pkg-config --modversion aadtoken)" = "$version" ]
[ "$(echo $(pkg-config --cflags aadtoken))" = "-I$prefix/include" ]
[ "$(echo $(pkg-config --libs aadtoken))" = "-L$lib -laadtoken" ]
[ "$(echo $(pkg-config --static --libs aadtoken))" = "-L$lib -laadtoken -lpthread -ldl -lm" ]
ok "pkg-config: version $version, --cflags, --libs, --static --libs"

# -- examples-c out of the tree: via pkg-config (shared) and statically
cp -r examples-c "$work/examples-c"
rm -f "$work/examples-c/get_token" "$work/examples-c/get_token_static" "$work/examples-c/get_token_pc"
make -s -C "$work/examples-c" get_token_pc
make -s -C "$work/examples-c" get_token_static LIBDIR="$lib" INCDIR="$prefix/include"
resolved=$(LD_LIBRARY_PATH="$lib" ldd "$work/examples-c/get_token_pc" | awk '$1 == "libaadtoken.so.'"$major"'" {print $3}')
[ "$resolved" = "$lib/libaadtoken.so.$major" ] || { echo "get_token_pc loads '$resolved'" >&2; exit 1; }
if ldd "$work/examples-c/get_token_static" | grep -q aadtoken; then
  echo "get_token_static still needs libaadtoken.so" >&2
  exit 1
fi
ok "examples-c built with pkg-config (needs libaadtoken.so.$major from the prefix) and statically (no libaadtoken.so)"

# -- both fetch a token from the mock
[ -x "$target/debug/aadtoken-mock" ] || { echo "$target/debug/aadtoken-mock not built (cargo build --workspace)" >&2; exit 1; }
"$target/debug/aadtoken-mock" --port 0 --ca-out "$work/ca.pem" --port-file "$work/port" >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/mock.log"; echo "the mock did not start" >&2; exit 1; }
port=$(cat "$work/port")
for bin in get_token_pc get_token_static; do
  out=$(env -u AZURE_TENANT_ID -u AZURE_CLIENT_ID -u AZURE_CLIENT_SECRET -u AZURE_AUTHORITY_HOST \
    LD_LIBRARY_PATH="$lib" \
    AADTOKEN_SETTINGS="tenant_id=11111111-1111-1111-1111-111111111111; client_id=22222222-2222-2222-2222-222222222222; client_secret=mock-secret-Value~0123456789; authority_host=https://127.0.0.1:$port; ca_file=$work/ca.pem; scope=api://oracle-db/.default" \
    "$work/examples-c/$bin")
  grep -q "^aadtoken $version: got an access token of [0-9]* bytes" <<<"$out" || { echo "$bin: $out" >&2; exit 1; }
done
ok "get_token_pc and get_token_static fetched a token from the mock"
echo "packaging: $passed passed, 0 failed"
