#!/usr/bin/env bash
# Real worker agents on a 3-node cluster, across leader failovers: two
# `djs worker` processes given every node (--server URL1,URL2,URL3) run
# shell jobs submitted with `djs submit --server ...` while the leader is
# killed (kill -9) three times mid-run and restarted. Then:
#   - every submitted job is COMPLETED, on every node;
#   - each job succeeded exactly once (one job.succeeded in its history)
#     and its output is there;
#   - no worker was declared lost: a new leader gives the workers a full
#     heartbeat window from its cluster.leader event (no mass worker loss);
#   - a report for a stale attempt is still 409 on the new leader (fencing
#     is in the replicated log);
#   - every node has the same seq and digest.
set -euo pipefail
DJS=${1:?usage: test_cluster_agents.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init cluster-agents
DJS_LOG_TAIL=20
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

declare -A HP RP PID
for i in 1 2 3; do
    HP[$i]=$(djs_free_port)
    RP[$i]=$(djs_free_port)
    mkdir -p "$T/n$i" "$T/w$i"
    chmod 700 "$T/n$i"
done
PEERS="1=127.0.0.1:${RP[1]},2=127.0.0.1:${RP[2]},3=127.0.0.1:${RP[3]}"
SERVERS="http://127.0.0.1:${HP[1]},http://127.0.0.1:${HP[2]},http://127.0.0.1:${HP[3]}"
TOK=$("$DJS" token create --sub admin --role admin --ttl 2h --data "$T/n1")
for i in 2 3; do install -m 600 "$T/n1/jwt.secret" "$T/n$i/jwt.secret"; done
AUTH=(-H "Authorization: Bearer $TOK")
start() {
    "$DJS" serve --data "$T/n$1" --listen "127.0.0.1:${HP[$1]}" --node-id "$1" --peers "$PEERS" --election-ms 500 \
        --rate-limit 0 --heartbeat-interval 1 >>"$T/n$1.out" 2>&1 &
    PID[$1]=$!
}
url() { echo "http://127.0.0.1:${HP[$1]}"; }
leader() {
    local i
    for i in 1 2 3; do
        curl -s -m 2 "${AUTH[@]}" "$(url "$i")/api/v1/cluster" 2>/dev/null | grep -q '"leading":true' && { echo "$i"; return 0; }
    done
    return 1
}
wait_leader() {
    local k
    for k in $(seq 200); do leader && return 0; sleep 0.05; done
    return 1
}
for i in 1 2 3; do start "$i"; done
L=$(wait_leader) || fail "no leader"

for w in 1 2; do
    "$DJS" worker --server "$SERVERS" --token "$("$DJS" token create --sub "w$w" --role worker --data "$T/n1")" --name "w$w" \
        --slots 3 --workdir "$T/w$w" --heartbeat 1 >>"$T/w$w.out" 2>&1 &
done
for k in $(seq 100); do
    n=$(curl -s "${AUTH[@]}" "$(url "$L")/api/v1/stats" | $PY -c 'import json,sys; print(json.load(sys.stdin)["workersActive"])')
    [ "$n" = 2 ] && break
    sleep 0.1
done
[ "$n" = 2 ] || fail "the two agents did not register through the server list"

# 30 jobs of ~0.6 s each, submitted through the whole list while the leader is killed 3 times
NJOBS=30
(
    for k in $(seq $NJOBS); do
        DJS_TOKEN=$TOK "$DJS" submit --server "$SERVERS" --name "aj-$k" --cmd "sleep 0.6; echo out-aj-$k" \
            -o json >>"$T/submits" 2>>"$T/submit.err" || echo "submit aj-$k failed" >>"$T/submit.err"
        sleep 0.1
    done
) &
spid=$!
kills=0
for c in 1 2 3; do
    sleep 1.2
    L=$(wait_leader) || fail "no leader before kill $c"
    kill -9 "${PID[$L]}"
    wait "${PID[$L]}" 2>/dev/null || true
    kills=$((kills + 1))
    N=$(wait_leader) || fail "no new leader after kill $c"
    start "$L"
    echo "ok kill $c: node $L killed mid-run, node $N leads"
done
wait "$spid" || true
nsub=$(grep -c '"id"' "$T/submits" || true)
[ "$nsub" = $NJOBS ] || fail "only $nsub of $NJOBS submits acknowledged: $(tail -5 "$T/submit.err")"
grep -o '"id": *"[0-9a-f-]*"' "$T/submits" | sed 's/.*"\([0-9a-f-]*\)"$/\1/' >"$T/ids"
[ "$(sort -u "$T/ids" | wc -l)" = $NJOBS ] || fail "duplicate job ids among the submits"

# every job completes (on the current leader), then on every node
L=$(wait_leader) || fail "no leader at the end"
for k in $(seq 600); do
    done_n=0
    while read -r id; do
        st=$(curl -s "${AUTH[@]}" "$(url "$L")/api/v1/jobs/$id" | $PY -c 'import json,sys; print(json.load(sys.stdin).get("status"))' 2>/dev/null || true)
        [ "$st" = COMPLETED ] && done_n=$((done_n + 1))
    done <"$T/ids"
    [ "$done_n" = $NJOBS ] && break
    sleep 0.2
    L=$(wait_leader) || true
done
[ "$done_n" = $NJOBS ] || fail "only $done_n of $NJOBS jobs completed"
seq_all=""
for k in $(seq 200); do
    s1=$(curl -s "${AUTH[@]}" "$(url 1)/api/v1/state" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["seq"], d["digest"])')
    s2=$(curl -s "${AUTH[@]}" "$(url 2)/api/v1/state" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["seq"], d["digest"])')
    s3=$(curl -s "${AUTH[@]}" "$(url 3)/api/v1/state" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["seq"], d["digest"])')
    [ "$s1" = "$s2" ] && [ "$s2" = "$s3" ] && { seq_all=$s1; break; }
    sleep 0.05
done
[ -n "$seq_all" ] || fail "the nodes did not converge: $s1 / $s2 / $s3"

# exactly one success per job, its output stored, on every node
for i in 1 2 3; do
    bad=$($PY - "$(url "$i")" "$TOK" "$T/ids" <<'PY'
import json, sys, urllib.request
base, tok, ids = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().split()
def get(p):
    r = urllib.request.Request(base + p, headers={"Authorization": "Bearer " + tok})
    return urllib.request.urlopen(r, timeout=10).read().decode()
bad = []
for jid in ids:
    h = json.loads(get(f"/api/v1/jobs/{jid}/history"))
    evs = h.get("events", h if isinstance(h, list) else [])
    ok = sum(1 for e in evs if e.get("type") == "job.succeeded")
    if ok != 1:
        bad.append(f"{jid}: {ok} job.succeeded")
    j = json.loads(get(f"/api/v1/jobs/{jid}"))
    if j.get("status") != "COMPLETED":
        bad.append(f"{jid}: {j.get('status')}")
print("; ".join(bad[:5]))
PY
)
    [ -z "$bad" ] || fail "node $i: $bad"
done
lost=$(curl -s "${AUTH[@]}" "$(url "$L")/api/v1/events?type=worker.lost&limit=100" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))')
[ "$lost" = 0 ] || fail "$lost worker.lost events across $kills failovers (the new leaders did not give the workers their grace)"
leaders=$(curl -s "${AUTH[@]}" "$(url "$L")/api/v1/events?type=cluster.leader&limit=100" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))')
[ "$leaders" -ge $((kills + 1)) ] || fail "only $leaders cluster.leader events for $kills failovers"
out=$(curl -s "${AUTH[@]}" "$(url "$L")/api/v1/jobs/$(head -1 "$T/ids")/logs")
echo "$out" | grep -q "out-aj-" || fail "the first job's output is not on the leader: $out"

# fencing on the new leader: a report for an attempt that is over is 409
id=$(head -1 "$T/ids")
WT=$("$DJS" token create --sub w1 --role worker --data "$T/n1")
wid=$(curl -s "${AUTH[@]}" "$(url "$L")/api/v1/workers" |
    $PY -c 'import json,sys; d=json.load(sys.stdin); print([w["id"] for w in d["workers"] if w["name"] == "w1"][0])')
code=$(curl -s -o "$T/stale" -w '%{http_code}' --location-trusted -H "Authorization: Bearer $WT" -H 'content-type: application/json' \
    -d "{\"workerId\":\"$wid\",\"attempt\":1,\"result\":{}}" "$(url "$L")/api/v1/jobs/$id/complete")
[ "$code" = 409 ] || fail "a report for a finished attempt answered $code on the new leader: $(cat "$T/stale")"
echo "ok $NJOBS jobs through $kills leader kills: all COMPLETED with one job.succeeded each on every node, 0 worker.lost, $leaders cluster.leader events, stale report $code; seq/digest $seq_all on all"
echo "ok: test_cluster_agents"
