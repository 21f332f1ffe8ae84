#!/usr/bin/env bash
# docs/openapi.yaml and the server agree: every route the server serves is
# documented, and every documented route is served (a request to it is not
# answered "no such endpoint").
set -euo pipefail
DJS=${1:?usage: test_openapi.sh path/to/djs}
SRC=${DJS_SOURCE_DIR:?}
base=${DJS_TEST_TMP:-/var/tmp}
mkdir -p "$base"
T=$(mktemp -d "$base/openapi-XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
PY=/usr/bin/python3

# documented routes: "METHOD /path" from the paths section
$PY - "$SRC/docs/openapi.yaml" >"$T/documented" <<'PY'
import re, sys
path = None
in_paths = False
for line in open(sys.argv[1]):
    if re.match(r"^paths:\s*$", line):
        in_paths = True
        continue
    if in_paths and re.match(r"^\S", line):
        in_paths = False
    if not in_paths:
        continue
    m = re.match(r"^  (/\S*):\s*$", line)
    if m:
        path = m.group(1)
        continue
    m = re.match(r"^    (get|put|post|delete|patch):", line)
    if m and path:
        print(m.group(1).upper(), path)
PY
"$DJS" routes | sort >"$T/served"
sort -o "$T/documented" "$T/documented"
[ -s "$T/served" ] || fail "no routes from djs routes"
if ! diff -u "$T/served" "$T/documented"; then
    fail "docs/openapi.yaml and the server's routes differ (- served only, + documented only)"
fi

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DJS" serve --data "$T/data" --listen "127.0.0.1:$port" --insecure-no-auth >"$T/serve.out" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
while read -r method path; do
    [ "$path" = /api/v1/admin/shutdown ] && continue  # exercised by test_api.sh
    url="http://127.0.0.1:$port${path//\{id\}/01890a5d-ac96-774b-bcce-b302099a8057}"
    [ "${path##*/}" = poll ] && url="$url?wait=0"
    if [ "${path##*/}" = stream ]; then # an endless text/event-stream: take its first second
        curl -s -o "$T/body" --max-time 1 "$url" >/dev/null || true
        grep -q "event: hello" "$T/body" || fail "$method $path: no stream"
        continue
    fi
    curl -s --max-time 10 -o "$T/body" -X "$method" -H 'content-type: application/json' --data-binary '{}' "$url" >/dev/null ||
        fail "$method $path: no answer"
    if grep -q "no such endpoint" "$T/body"; then fail "$method $path is documented but not served"; fi
done <"$T/documented"
kill -TERM "$pid"; wait "$pid" || fail "serve exit status"
pid=""
echo "test_openapi: $(wc -l <"$T/documented") routes agree"
