#!/usr/bin/env bash
# The streams with real clients: Server-Sent Events with curl (resume by
# Last-Event-ID), then the WebSocket endpoints with Python's websockets
# (tests/integration/streams.py): catch-up then live without gap or
# duplicate, resume, filters, roles, job and worker updates, metrics,
# msgpack frames, bad upgrades, 200 subscribers, a client that stops
# reading (closed, memory bounded), and 1001 on shutdown.
set -euo pipefail
DJS=${1:?usage: test_streams.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init streams
$PY -c 'import websockets' 2>/dev/null || fail "python3-websockets is missing (tools/deps.sh installs it)"

# the memory check below measures RSS: under ASan keep its quarantine of
# freed blocks small, or it alone looks like growth
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8" \
    djs_start_server --stream-ping-ms 1000 --stream-stall-ms 2000 --stream-window-bytes 65536 --rate-limit 0
TOKEN=$(djs_token admin admin)
ALICE=$(djs_token alice user)
H="Authorization: Bearer $TOKEN"

# SSE: every event from seq 1 as "id: SEQ", then resume after Last-Event-ID
for i in 1 2 3; do
    curl -sf -X POST -H "$H" -H 'content-type: application/json' -d "{\"name\":\"sse-$i\"}" "$URL/api/v1/jobs" >/dev/null
done
curl -s -N --max-time 2 -H "$H" "$URL/api/v1/events/stream?from_seq=1" >"$T/sse" || true
grep -q '^event: hello' "$T/sse" || fail "SSE hello: $(head -5 "$T/sse")"
ids=$(grep '^id: ' "$T/sse" | cut -d' ' -f2 | tr '\n' ' ')
[ "$(echo $ids | cut -d' ' -f1-4)" = "1 2 3 4" ] || fail "SSE ids from 1: $ids"
grep -q '^event: job.submitted' "$T/sse" || fail "SSE event names"
grep '^data: {' "$T/sse" | sed -n 2p | sed 's/^data: //' | $PY -c 'import json,sys; e=json.load(sys.stdin); assert e["seq"]>=1 and "type" in e' ||
    fail "SSE data is JSON"
curl -s -N --max-time 2 -H "$H" -H 'Last-Event-ID: 3' "$URL/api/v1/events/stream" >"$T/sse2" || true
[ "$(grep '^id: ' "$T/sse2" | head -1)" = "id: 4" ] || fail "SSE resume after Last-Event-ID 3: $(grep '^id: ' "$T/sse2" | head -2)"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/api/v1/events/stream?access_token=$ALICE")
[ "$code" = 403 ] || fail "SSE for a user: $code"
echo "ok SSE: ids from 1, resume by Last-Event-ID, roles"

$PY "$HERE/streams.py" 127.0.0.1 "$port" "$TOKEN" "$ALICE" "$pid" || fail "streams.py"
wait "$pid" || fail "serve exited with $? after the shutdown"
pid=""
if grep -E "ERROR: AddressSanitizer|runtime error:" "$T/serve.out"; then fail "sanitizer report"; fi
"$DJS" replay verify "$T/data" >/dev/null || fail "replay verify"
echo "streams: ok"
