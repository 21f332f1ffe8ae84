#!/usr/bin/env bash
# docs/openapi.yaml and the server agree: every route the server serves is
# documented, and every documented route is served (a request to it is not
# answered "no such endpoint").
set -euo pipefail
DJS=${1:?usage: test_openapi.sh path/to/djs}
SRC=${DJS_SOURCE_DIR:?}
. "$(dirname "$0")/lib.sh"
djs_init openapi

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

djs_start_server --insecure-no-auth
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
djs_stop_server
echo "test_openapi: $(wc -l <"$T/documented") routes agree"
