#!/usr/bin/env bash
# kill -9 under load through the API: every job the server acknowledged
# (201) is there after a restart, and the log verifies.
set -euo pipefail
DJS=${1:?usage: test_crash_api.sh path/to/djs}
base=${DJS_TEST_TMP:-/var/tmp}
mkdir -p "$base"
T=$(mktemp -d "$base/crash-XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
PY=/usr/bin/python3
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$port"
start() {
    "$DJS" serve --data "$T/data" --listen "127.0.0.1:$port" --rate-limit 0 >>"$T/serve.out" 2>&1 &
    pid=$!
    for _ in $(seq 200); do curl -sf "$URL/health" >/dev/null 2>&1 && return 0; sleep 0.05; done
    fail "serve did not start"
}
start
TOKEN=$("$DJS" token create --data "$T/data" --sub loader --role admin)

for round in 1 2 3; do
    # 4 concurrent submitters, each recording the ids it was acknowledged
    $PY - "$URL" "$TOKEN" "$T/acked.$round" <<'PY' &
import http.client, json, sys, threading, time
url, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
host, port = url.split("//")[1].split(":")
lock = threading.Lock()
def run(k):
    n = 0
    while True:
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=5)
            while True:
                body = json.dumps({"name": f"crash-{k}-{n}"})
                c.request("POST", "/api/v1/jobs", body, {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                if r.status == 201:
                    with lock, open(out, "a") as f:
                        f.write(json.loads(data)["id"] + "\n")
                        f.flush()
                n += 1
        except Exception:
            return  # the server died: stop
ts = [threading.Thread(target=run, args=(k,)) for k in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
PY
    loader=$!
    sleep "0.$((RANDOM % 5 + 3))"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    wait "$loader" || true
    start
    acked=$(wc -l <"$T/acked.$round" 2>/dev/null || echo 0)
    [ "$acked" -gt 0 ] || fail "round $round: nothing was acknowledged before the kill"
    missing=0
    while read -r id; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/v1/jobs/$id")
        [ "$code" = 200 ] || missing=$((missing + 1))
    done <"$T/acked.$round"
    [ "$missing" = 0 ] || fail "round $round: $missing of $acked acknowledged jobs are missing after kill -9"
    echo "round $round: $acked acknowledged jobs, all present after kill -9 and restart"
done
kill -TERM "$pid"; wait "$pid" || fail "clean stop"
pid=""
"$DJS" replay verify "$T/data" | grep -q '^OK' || fail "log verifies after three kills"
echo "test_crash_api: all checks passed"
