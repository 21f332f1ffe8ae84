#!/usr/bin/env bash
# kill -9 under load through the API: every job the server acknowledged
# (201) is there after a restart, and the log verifies.
set -euo pipefail
DJS=${1:?usage: test_crash_api.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init crash
DJS_SERVE_APPEND=1 # one serve.out for all the runs
start() { djs_start_server --rate-limit 0; }
start
TOKEN=$(djs_token loader admin)

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
djs_stop_server
"$DJS" replay verify "$T/data" | grep -q '^OK' || fail "log verifies after three kills"
echo "test_crash_api: all checks passed"
