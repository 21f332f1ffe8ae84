#!/usr/bin/env bash
# kill -9 of the server under load with real agents: a server (heartbeat
# interval 1 s), 3 djs worker agents and 3 producers submitting short jobs.
# The server is killed with SIGKILL and restarted on the same data and port;
# the agents are never restarted. Every acknowledged job (201) exists and
# completes exactly once (one job.succeeded in the log), the agents come
# back on their own and keep working, and the log verifies after a
# graceful stop.
set -euo pipefail
DJS=${1:?usage: test_server_crash_agents.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init crash-agents
DJS_LOG_TAIL=40
t_start=$(date +%s)
spid=""
apids=()
ppids=()
djs_on_fail() {
    echo "--- refused or dropped reports in the agents' logs:"
    grep -h "refused\|dropped" "$T"/w?.out || true
}
elapsed() { $PY -c "import time; print(f'{time.time() - $1:.1f}')"; }

# every start appends to serve.out; a restart after kill -9 replays the log
DJS_SERVE_APPEND=1 DJS_START_TIMEOUT=15
start_server() {
    djs_start_server --heartbeat-interval 1 --rate-limit 0
    spid=$pid
}
start_server
ADMIN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $ADMIN")
DJS_CURL=(curl -m 10)

mkdir -p "$T/wd"
declare -A wid=()
for n in w1 w2 w3; do
    tok=$(djs_token "$n" worker)
    "$DJS" worker --server "$URL" --token "$tok" --name "$n" --slots 4 --workdir "$T/wd" \
        --heartbeat 0.3 --grace 1 --drain-timeout 10 >>"$T/$n.out" 2>&1 &
    apids+=($!)
done
for n in w1 w2 w3; do
    for _ in $(seq 200); do
        grep -q "registered as" "$T/$n.out" 2>/dev/null && break
        sleep 0.05
    done
    grep -q "registered as" "$T/$n.out" || fail "agent $n did not register"
    wid[$n]=$(grep -m1 "registered as" "$T/$n.out" | awk '{print $5}')
done
echo "ok server on $URL, agents w1 w2 w3 registered"

# A producer: submits short jobs until $T/stop exists, appending every
# acknowledged (201) id to its file; rides out the outage (refused
# connections, resets) by reconnecting.
cat >"$T/produce.py" <<'PY'
import http.client, json, os, sys, time
port, token, out, stop, k = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
n = 0
conn = None
with open(out, "a") as f:
    while not os.path.exists(stop):
        body = json.dumps({"name": f"p{k}-{n}", "maxRetries": 2,
                           "payload": {"command": "/bin/sh", "args": ["-c", "echo $DJS_JOB_ID; sleep 0.3"]}})
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/v1/jobs", body, hdr)
            r = conn.getresponse()
            data = r.read()
            if r.status == 201:
                f.write(json.loads(data)["id"] + "\n")
                f.flush()
            else:
                print(f"producer {k}: {r.status} {data[:200]!r}", file=sys.stderr)
            n += 1
        except (OSError, http.client.HTTPException) as e:
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
            continue
        time.sleep(0.03)
PY
for k in 1 2 3; do
    $PY "$T/produce.py" "$port" "$ADMIN" "$T/acked.$k" "$T/stop" "$k" 2>>"$T/producers.out" &
    ppids+=($!)
done
acked() { cat "$T"/acked.* 2>/dev/null | wc -l; }
completed() { # jobs in the log that succeeded (from the stats, cheap)
    djs_get "events?type=job.succeeded&limit=1000" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))' 2>/dev/null || echo 0
}
# Two rounds: under load (jobs queued, running, being reported), kill -9,
# restart on the same data and port, and the producers carry on.
declare -A lines=()
n0=0
for round in 1 2; do
    for _ in $(seq 200); do
        [ "$(acked)" -ge $((n0 + 60)) ] && [ "$(completed)" -ge 20 ] && break
        sleep 0.1
    done
    [ "$(acked)" -ge $((n0 + 60)) ] || fail "round $round: the producers got only $(acked) jobs acknowledged"
    sleep 1 # a moment more of load: jobs in every state when the server dies
    before=$(acked)
    done_before=$(completed)
    for n in w1 w2 w3; do lines[$n]=$(wc -l <"$T/$n.out"); done
    kill -9 "$spid"
    wait "$spid" 2>/dev/null || true
    t_kill=$(date +%s.%N)
    echo "ok round $round: kill -9 of the server with $before jobs acknowledged ($done_before succeeded a moment before)"
    start_server
    echo "ok round $round: server restarted on the same data and port in $(elapsed "$t_kill") s"
    n0=$(acked)
done
# the producers go on against the restarted server for a moment
for _ in $(seq 200); do
    [ "$(acked)" -ge $((n0 + 60)) ] && break
    sleep 0.1
done
[ "$(acked)" -ge $((n0 + 60)) ] || fail "no acknowledgements after the last restart ($(acked) acked)"
touch "$T/stop"
for p in "${ppids[@]}"; do wait "$p" || fail "a producer failed"; done
ppids=()
cat "$T"/acked.* >"$T/acked"
total=$(wc -l <"$T/acked")
[ "$(sort -u "$T/acked" | wc -l)" = "$total" ] || fail "an id was acknowledged twice"
echo "ok producers stopped: $total jobs acknowledged ($((total - before)) after the last kill)"

# wait until every acknowledged job has finished, then check them all
cat >"$T/check.py" <<'PY'
import collections, http.client, json, sys, time
port, token, acked_file, deadline = int(sys.argv[1]), sys.argv[2], sys.argv[3], time.time() + float(sys.argv[4])
hdr = {"Authorization": "Bearer " + token}
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
def get(path):
    c.request("GET", path, headers=hdr)
    r = c.getresponse()
    return r.status, r.read()
ids = [l.strip() for l in open(acked_file) if l.strip()]
status = {}
pending = list(ids)
while pending and time.time() < deadline:
    left = []
    for i in pending:
        code, body = get(f"/api/v1/jobs/{i}")
        if code == 404:
            sys.exit(f"acknowledged job {i} is missing after the restart")
        if code != 200:
            sys.exit(f"GET /jobs/{i}: {code} {body[:200]!r}")
        j = json.loads(body)
        status[i] = j["status"]
        if j["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            continue
        left.append(i)
    pending = left
    if pending:
        time.sleep(0.3)
if pending:
    by = collections.Counter(status[i] for i in pending)
    code, body = get(f"/api/v1/jobs/{pending[0]}/history")
    sys.exit(f"{len(pending)} acknowledged jobs not finished in time: {dict(by)}; e.g. {pending[:3]}; history of the first: {body.decode()[:3000]}")
bad = [i for i in ids if status[i] != "COMPLETED"]
if bad:
    code, body = get(f"/api/v1/jobs/{bad[0]}/history")
    sys.exit(f"{len(bad)} jobs did not complete, e.g. {bad[0]} {status[bad[0]]}: {body.decode()[:3000]}")
# every job.succeeded in the log, by job
succ = collections.Counter()
seq = 1
while True:
    code, body = get(f"/api/v1/events?type=job.succeeded&from_seq={seq}&limit=1000")
    if code != 200:
        sys.exit(f"GET /events: {code} {body[:200]!r}")
    page = json.loads(body)
    for e in page["events"]:
        succ[e["entity"]] += 1
    if page.get("next") is None:
        break
    seq = page["next"]
twice = [i for i, n in succ.items() if n > 1]
if twice:
    code, body = get(f"/api/v1/jobs/{twice[0]}/history")
    sys.exit(f"{len(twice)} jobs completed more than once, e.g. {twice[0]}: {body.decode()[:3000]}")
none = [i for i in ids if succ[i] != 1]
if none:
    sys.exit(f"{len(none)} completed jobs without exactly one job.succeeded, e.g. {none[0]}")
# attempts beyond the first (assignments lost with the server, retried) and the output of each job
retried = 0
for i in ids:
    code, body = get(f"/api/v1/jobs/{i}")
    if json.loads(body)["attempt"] > 1:
        retried += 1
    code, body = get(f"/api/v1/jobs/{i}/logs")
    if code != 200 or i not in body.decode(errors="replace"):
        sys.exit(f"job {i} logs: {code} {body[:200]!r}")
print(f"{len(ids)} {len(succ)} {retried}")
PY
t_wait=$(date +%s.%N)
res=$($PY "$T/check.py" "$port" "$ADMIN" "$T/acked" 45 2>&1) || fail "$res"
read -r n_ids n_succ n_retried <<<"$res"
echo "ok all $n_ids acknowledged jobs exist and COMPLETED (waited $(elapsed "$t_wait") s); $n_succ job.succeeded events in the log, none twice; $n_retried jobs needed more than one attempt; every job's output is its id"

# the agents were never restarted: still the same processes, same ids, ACTIVE, and they ran jobs after the restart
i=0
for n in w1 w2 w3; do
    kill -0 "${apids[$i]}" 2>/dev/null || fail "agent $n died"
    i=$((i + 1))
    [ "$(grep "registered as" "$T/$n.out" | awk '{print $5}' | sort -u)" = "${wid[$n]}" ] || fail "agent $n changed its id"
    st=$(djs_get "workers/${wid[$n]}" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [ "$st" = ACTIVE ] || fail "worker $n is $st after the restart"
    after=$(tail -n +"$((lines[$n] + 1))" "$T/$n.out" | grep -c ") started: exec" || true)
    [ "$after" -ge 1 ] || fail "agent $n ran no job after the last restart"
    echo "ok agent $n (pid never restarted) reconnected by itself: ACTIVE, $after jobs started after the last restart"
done
n_retry=$(cat "$T"/w?.out | grep -c "not reported\|poll failed\|heartbeat failed\|output not" || true)
echo "ok the agents rode out the outage: $n_retry failed calls retried"
[ "$(djs_get workers | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))')" = 3 ] || fail "worker count: $(djs_get workers)"

# Graceful stop. The agents stop first: a server whose agents keep their
# keep-alive connections busy does not finish a graceful stop (see
# test_netns.sh, which expects that it does).
for p in "${apids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${apids[@]}"; do
    rc=0
    wait "$p" || rc=$?
    [ "$rc" = 0 ] || fail "agent $p exit status $rc after SIGTERM"
done
apids=()
curl -s -m 5 -X POST "${AUTH[@]}" "$URL/api/v1/admin/shutdown" >/dev/null || true
for _ in $(seq 300); do
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$spid" 2>/dev/null && fail "djs serve did not stop within 30 s of POST /admin/shutdown"
rc=0
wait "$spid" || rc=$?
spid=""
[ "$rc" = 0 ] || fail "serve exit status $rc"
out=$("$DJS" replay verify "$T/data" 2>&1) || fail "replay verify: $out"
echo "$out" | grep -q '^OK' || fail "replay verify: $out"
echo "ok graceful stop; replay verify: $out"

# The answer to a start lost with the server. kill -9 between the durable
# job.started and its answer happens in the rounds above now and then; here
# it is made certain: an agent talks through a proxy that forwards its
# first request carrying a start report (the agent batches reports: on a
# poll or POST /workers/{id}/reports) and drops the connection instead of
# relaying the answer. The agent retries the start for the same attempt;
# the job must still run and complete once. (The agents claim on poll and
# send no start reports: this one polls with --no-claim.)
start_server
cat >"$T/proxy.py" <<'PY'
import socket, struct, sys, threading
listen_port, up_port, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
mode = sys.argv[4] if len(sys.argv) > 4 else "start"  # claim: drop the first answer delivering a claimed job
armed = threading.Event(); armed.set()
def rst(sock):  # wakes the other thread's recv, then resets the connection
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
def serve(c):
    u = socket.create_connection(("127.0.0.1", up_port))
    drop = threading.Event()
    def up():  # agent -> server; notice the first start request
        tail = b""  # the end of the previous read: a marker split across two reads is still seen
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                seen, tail = tail + d, d[-32:]
                if mode == "start" and (b'"action":"start"' in seen or b"/start HTTP/1." in seen) and armed.is_set():
                    armed.clear(); drop.set()
                    print("proxy: forwarding a start and dropping its answer", flush=True)
                u.sendall(d)
        except OSError:
            pass
        try: u.shutdown(socket.SHUT_WR)
        except OSError: pass
    threading.Thread(target=up, daemon=True).start()
    try:
        while True:
            d = u.recv(65536)
            if not d:
                break
            if drop.is_set():  # the start's answer (durable by then): lose it
                rst(c); rst(u)
                return
            if mode == "claim" and b'"claimed":true' in d and armed.is_set():
                armed.clear()
                print("proxy: dropping the answer of a claim poll", flush=True)
                rst(c); rst(u)
                return
            c.sendall(d)
    except OSError:
        pass
    rst(c); rst(u)
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", listen_port)); l.listen(64)
open(ready, "w").close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
pport=$(djs_free_port)
$PY "$T/proxy.py" "$pport" "$port" "$T/proxy.ready" >>"$T/proxy.out" 2>&1 &
ppids+=($!)
for _ in $(seq 100); do [ -e "$T/proxy.ready" ] && break; sleep 0.05; done
tok=$(djs_token w4 worker)
"$DJS" worker --server "http://127.0.0.1:$pport" --token "$tok" --name w4 --capabilities lossy --slots 1 --workdir "$T/wd" \
    --heartbeat 0.3 --grace 1 --no-claim >>"$T/w4.out" 2>&1 &
apids+=($!)
for _ in $(seq 200); do grep -q "registered as" "$T/w4.out" 2>/dev/null && break; sleep 0.05; done
grep -q "registered as" "$T/w4.out" || fail "agent w4 did not register through the proxy"
curl -s -m 10 "${AUTH[@]}" -H 'content-type: application/json' -o "$T/sub" \
    --data-binary '{"name":"lost-start","requiredCapabilities":["lossy"],"payload":{"command":"/bin/sh","args":["-c","echo ran $DJS_JOB_ATTEMPT"]}}' \
    "$URL/api/v1/jobs"
ls_id=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/sub")
st=""
for _ in $(seq 200); do
    st=$(djs_get "jobs/$ls_id" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    case "$st" in COMPLETED | FAILED | CANCELLED) break ;; esac
    sleep 0.1
done
grep -q "dropping its answer" "$T/proxy.out" || fail "the proxy did not see the start"
[ "$st" = COMPLETED ] || fail "job $ls_id, whose start answer was lost, is $st after 20 s (expected COMPLETED); agent w4: $(grep "$ls_id" "$T/w4.out"); history: $(djs_get "jobs/$ls_id/history")"
[ "$(djs_get "jobs/$ls_id/history" | $PY -c 'import json,sys; print(sum(e["type"]=="job.succeeded" for e in json.load(sys.stdin)["events"]))')" = 1 ] ||
    fail "job $ls_id: not exactly one job.succeeded: $(djs_get "jobs/$ls_id/history")"
echo "ok a start whose answer was lost: the agent's retry is accepted, the job completes once"

# The answer of a claim poll lost (the job RUNNING on the server, the agent
# never heard of it): the agent's heartbeats list what it runs, without the
# job; past a liveness window the server fails that attempt for an
# infrastructure retry (lease_expired) and the job runs and completes once.
pport=$(djs_free_port)
$PY "$T/proxy.py" "$pport" "$port" "$T/proxy2.ready" claim >>"$T/proxy2.out" 2>&1 &
ppids+=($!)
for _ in $(seq 100); do [ -e "$T/proxy2.ready" ] && break; sleep 0.05; done
tok=$(djs_token w5 worker)
"$DJS" worker --server "http://127.0.0.1:$pport" --token "$tok" --name w5 --capabilities lossy2 --slots 1 --workdir "$T/wd" \
    --heartbeat 0.3 --grace 1 >>"$T/w5.out" 2>&1 &
apids+=($!)
for _ in $(seq 200); do grep -q "registered as" "$T/w5.out" 2>/dev/null && break; sleep 0.05; done
grep -q "registered as" "$T/w5.out" || fail "agent w5 did not register through the proxy"
curl -s -m 10 "${AUTH[@]}" -H 'content-type: application/json' -o "$T/sub" \
    --data-binary '{"name":"lost-claim","requiredCapabilities":["lossy2"],"payload":{"command":"/bin/sh","args":["-c","echo ran $DJS_JOB_ATTEMPT"]}}' \
    "$URL/api/v1/jobs"
lc_id=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/sub")
st=""
for _ in $(seq 200); do
    st=$(djs_get "jobs/$lc_id" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    case "$st" in COMPLETED | FAILED | CANCELLED) break ;; esac
    sleep 0.1
done
grep -q "dropping the answer of a claim poll" "$T/proxy2.out" || fail "the proxy did not see a claim"
[ "$st" = COMPLETED ] || fail "job $lc_id, whose claim answer was lost, is $st after 20 s (expected COMPLETED); agent w5: $(grep "$lc_id" "$T/w5.out"); history: $(djs_get "jobs/$lc_id/history")"
djs_get "jobs/$lc_id/history" | $PY -c '
import json, sys
ev = json.load(sys.stdin)["events"]
n = lambda t: sum(e["type"] == t for e in ev)
assert n("job.succeeded") == 1 and n("job.started") == 2, ev
assert [e["body"].get("reason") for e in ev if e["type"] == "job.failed"] == ["lease_expired"], ev
' || fail "job $lc_id: one lost claim, one completion: $(djs_get "jobs/$lc_id/history")"
echo "ok a claim whose answer was lost: the attempt is retried, the job completes once"
echo "ok: test_server_crash_agents in $(($(date +%s) - t_start)) s"
