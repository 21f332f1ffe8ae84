#!/usr/bin/env bash
# djs serve --config FILE: settings from a file reach the server and the
# engine, flags win over the file, and bad files are refused with one line
# naming the file and line (exit 2).
set -euo pipefail
DJS=${1:?usage: test_config.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init config

p1=$(djs_free_port); p2=$(djs_free_port)
cat >"$T/djs.conf" <<CONF
# a comment line
data = $T/data
listen = 127.0.0.1:$p1     # trailing comment
insecure-no-auth = true
output-cap = 1024
rate-limit = "0"
CONF
# the flag wins over the file's listen
djs_serve --config "$T/djs.conf" --listen "127.0.0.1:$p2"
djs_wait_ready "serve did not answer on port $p2" curl -s -o /dev/null "http://127.0.0.1:$p2/health"
URL="http://127.0.0.1:$p2/api/v1"
grep -q "listening on http://127.0.0.1:$p2/" "$T/serve.out" || fail "flag did not win over the file"
! curl -s -o /dev/null "http://127.0.0.1:$p1/health" || fail "also listening on the file's port"
[ -f "$T/data/data.mdb" ] || fail "data directory from the file not used"
grep -q "NO AUTHENTICATION" "$T/serve.out" || fail "insecure-no-auth from the file not applied"

# output-cap from the file reaches the engine: 2000 bytes keep 1024 and a marker
j=$(curl -s -X POST -H 'content-type: application/json' -d '{"name":"loud"}' "$URL/jobs" | $PY -c 'import json,sys; print(json.load(sys.stdin)["id"])')
w=$(curl -s -X POST -H 'content-type: application/json' -d '{"name":"w","slots":1}' "$URL/workers" | $PY -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -s -X POST "$URL/workers/$w/poll?wait=2" >/dev/null
curl -s -X POST -H 'content-type: application/json' -d "{\"workerId\":\"$w\",\"attempt\":1}" "$URL/jobs/$j/start" >/dev/null
head -c 2000 /dev/zero | tr '\0' 'x' >"$T/chunk"
curl -s -X POST -H 'content-type: application/octet-stream' --data-binary @"$T/chunk" \
     "$URL/jobs/$j/output?workerId=$w&attempt=1&offset=0" >"$T/out.json"
grep -q '"received":2000' "$T/out.json" || fail "output chunk: $(cat "$T/out.json")"
curl -s "$URL/jobs/$j/logs" >"$T/logs"
[ "$(head -c 1024 "$T/logs" | tr -d x | wc -c)" = 0 ] || fail "the first 1024 bytes are the output"
grep -q "output truncated" "$T/logs" || fail "no truncation marker at the file's output-cap"
[ "$(tr -cd x <"$T/logs" | wc -c)" = 1024 ] || fail "kept more than output-cap bytes"
djs_stop_server

# bad files: one line naming file:line, exit 2
refused() { # expected-message config-text
    printf '%s\n' "$2" >"$T/bad.conf"
    set +e
    "$DJS" serve --config "$T/bad.conf" >"$T/bad.out" 2>&1
    rc=$?
    set -e
    [ "$rc" = 2 ] || fail "config '$2': exit $rc, want 2"
    [ "$(wc -l <"$T/bad.out")" = 1 ] || fail "config '$2': not one line: $(cat "$T/bad.out")"
    grep -q "$1" "$T/bad.out" || fail "config '$2': '$(cat "$T/bad.out")' does not say '$1'"
}
refused "bad.conf:2: unknown setting 'colour'" $'data = /tmp/x\ncolour = blue'
refused "bad.conf:1: expected 'key = value'" 'just words'
refused "already set on line 1" $'lease = 5\nlease = 6'
refused "lease wants a number from 1 to 86400" 'lease = 0'
refused "http2 wants true or false" 'http2 = maybe'
set +e; "$DJS" serve --config "$T/missing.conf" >"$T/bad.out" 2>&1; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "missing.conf: No such file" "$T/bad.out" || fail "missing config file: $rc $(cat "$T/bad.out")"
# a data directory that cannot be opened: one line, exit 1, nothing leaked (ASan builds fail on a leak)
set +e; "$DJS" serve --data "$T/no/such/dir" --listen 127.0.0.1:0 >"$T/bad.out" 2>&1; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "cannot open the event log in $T/no/such/dir" "$T/bad.out" &&
    [ "$(wc -l <"$T/bad.out")" = 1 ] || fail "unopenable data dir: $rc $(cat "$T/bad.out")"
echo "config: ok"
