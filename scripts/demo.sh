#!/usr/bin/env bash
# The demo: build the library and the mock Entra ID server, start the mock on 127.0.0.1,
# fetch a token through the C ABI from the C example (examples-c/get_token.c), then show its
# claims and write the Oracle TOKEN_LOCATION file with the `aadtoken` command (cli/).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building libaadtoken, the aadtoken command and the mock Entra ID server"
cargo build --quiet -p aadtoken -p aadtoken-cli -p aadtoken-mock
make -s -C examples-c

work=$(mktemp -d)
mock_pid=
cleanup() {
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting the mock Entra ID server (HTTPS on 127.0.0.1, its own CA)"
target/debug/aadtoken-mock --port 0 --ca-out "$work/ca.pem" --port-file "$work/port" >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/mock.log"; echo "the mock did not start" >&2; exit 1; }
sed 's/^/   /' "$work/mock.log"
port=$(cat "$work/port")

echo "== examples-c/get_token: client credentials through the C ABI"
echo "   (the mock's fixture app; these are mock values, not real credentials)"
# Settings the way a deployment passes them: Azure SDK environment variables plus a
# settings string for what has no standard variable.
export AZURE_TENANT_ID=11111111-1111-1111-1111-111111111111
export AZURE_CLIENT_ID=22222222-2222-2222-2222-222222222222
export AZURE_CLIENT_SECRET='mock-secret-Value~0123456789'
export AZURE_AUTHORITY_HOST="https://127.0.0.1:$port"
export AADTOKEN_SETTINGS="scope=api://oracle-db/.default; ca_file=$work/ca.pem"
examples-c/get_token

echo "== aadtoken claims: what the token says (the database checks aud against its application_id_uri)"
target/debug/aadtoken claims

echo "== aadtoken write-token-file: the file a 19c/21c client reads (TOKEN_AUTH=OAUTH, TOKEN_LOCATION)"
mkdir -m 700 "$work/oracle"
target/debug/aadtoken write-token-file "$work/oracle"
echo "   mode $(stat -c '%a, %s bytes' "$work/oracle/token"), ends with '$(tail -c 1 "$work/oracle/token")' (the raw token, no newline)"
echo "   (aadtoken keep \$TOKEN_LOCATION keeps it fresh; stop it with SIGTERM)"
