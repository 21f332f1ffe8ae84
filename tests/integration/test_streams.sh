#!/usr/bin/env bash
# The streams with real clients: Server-Sent Events with curl (resume by
# Last-Event-ID), then the WebSocket endpoints with Python's websockets
# (tests/integration/streams.py): catch-up then live without gap or
# duplicate, resume, filters, roles, job and worker updates, metrics,
# msgpack frames, bad upgrades, 200 subscribers, a client that stops
# reading (closed, memory bounded), and 1001 on shutdown.
set -euo pipefail
DJS=${1:?usage: test_streams.sh path/to/djs}
HERE=$(cd "$(dirname "$0")" && pwd)
base=${DJS_TEST_TMP:-/var/tmp}
mkdir -p "$base"
T=$(mktemp -d "$base/streams-XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$T/serve.out" >&2 || true; exit 1; }
PY=/usr/bin/python3
$PY -c 'import websockets' 2>/dev/null || fail "python3-websockets is missing (tools/deps.sh installs it)"

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$port"
# the memory check below measures RSS: under ASan keep its quarantine of
# freed blocks small, or it alone looks like growth
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8" \
"$DJS" serve --data "$T/data" --listen "127.0.0.1:$port" --stream-ping-ms 1000 --stream-stall-ms 2000 --stream-window-bytes 65536 \
    --rate-limit 0 >"$T/serve.out" 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl -sf "$URL/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || fail "serve exited early"
    sleep 0.1
done
TOKEN=$("$DJS" token create --data "$T/data" --sub admin --role admin)
ALICE=$("$DJS" token create --data "$T/data" --sub alice --role user)
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
