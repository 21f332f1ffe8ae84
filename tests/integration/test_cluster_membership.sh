#!/usr/bin/env bash
# Cluster membership with real processes on loopback: a 3-node cluster
# takes jobs; a 4th node started with --join is added as a voter from a
# backup of a follower and catches up (same seq and digest); the lead is
# transferred to it for maintenance (the answer comes, another node leads,
# the old leader restarts as a follower); the old leader is removed and the
# cluster of 3 goes on; bad membership requests get precise problems; and
# after losing quorum for good, `djs cluster recover` on the survivor with
# the longest log makes it a cluster of one that serves every acknowledged
# job and takes writes. Also: POST /api/v1/cluster/* on a single server is
# a 409; bad bodies, unknown nodes, removing the leader itself and a user
# token are refused with precise problems.
set -euo pipefail
DJS=${1:?usage: test_cluster_membership.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init cluster-membership
DJS_LOG_TAIL=25
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

declare -A HP RP PID
for i in 1 2 3 4; do
    HP[$i]=$(djs_free_port)
    RP[$i]=$(djs_free_port)
    mkdir -p "$T/n$i"
    chmod 700 "$T/n$i"
done
PEERS="1=127.0.0.1:${RP[1]},2=127.0.0.1:${RP[2]},3=127.0.0.1:${RP[3]}"
TOK=$("$DJS" token create --sub admin --role admin --ttl 2h --data "$T/n1")
for i in 2 3 4; do install -m 600 "$T/n1/jwt.secret" "$T/n$i/jwt.secret"; done
AUTH=(-H "Authorization: Bearer $TOK")

# start N [extra serve args...]
start() {
    local i=$1
    shift
    "$DJS" serve --data "$T/n$i" --listen "127.0.0.1:${HP[$i]}" --node-id "$i" --election-ms 500 --rate-limit 0 "$@" \
        >>"$T/n$i.out" 2>&1 &
    PID[$i]=$!
}
url() { echo "http://127.0.0.1:${HP[$1]}"; }
cluster_json() { curl -s -m 3 "${AUTH[@]}" "$(url "$1")/api/v1/cluster"; }
field() { $PY -c "import json,sys; d=json.loads(sys.stdin.read() or '{}'); print(d.get('$1', ''))"; }
# leader NODES...: the node among them that leads (empty if none)
leader() {
    local i
    for i in "$@"; do
        [ "$(cluster_json "$i" | field leading)" = True ] && { echo "$i"; return 0; }
    done
}
wait_leader() {
    local l="" k
    for k in $(seq 200); do
        l=$(leader "$@")
        [ -n "$l" ] && { echo "$l"; return 0; }
        sleep 0.05
    done
    return 1
}
# post NODE PATH BODY: status and body (in $T/resp) of a POST, redirects
# followed with the token; a 503 no-leader (a follower that has not applied
# the new leader's cluster.leader yet) is retried for up to 5 s, as a client would
post() {
    local code k
    for k in $(seq 100); do
        code=$(curl -s -m 15 -o "$T/resp" -w '%{http_code}' --location-trusted "${AUTH[@]}" -H 'content-type: application/json' \
            --data-binary "$3" "$(url "$1")$2")
        [ "$code" = 503 ] && grep -q no-leader "$T/resp" || break
        sleep 0.05
    done
    echo "$code"
}
submit() {
    local code
    code=$(post "$1" /api/v1/jobs "{\"name\":\"$2\"}")
    [ "$code" = 201 ] || return 1
    $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/resp" >>"$T/acked"
}
state() { curl -s -m 3 "${AUTH[@]}" "$(url "$1")/api/v1/state" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["seq"], d["digest"])'; }
# converge NODES...: wait until every node reports the same seq and digest
converge() {
    local k a b same
    for k in $(seq 200); do
        same=1
        a=$(state "$1" 2>/dev/null || echo x)
        for b in "${@:2}"; do [ "$(state "$b" 2>/dev/null || echo y)" = "$a" ] || same=0; done
        [ $same = 1 ] && { echo "$a"; return 0; }
        sleep 0.05
    done
    return 1
}
all_acked_on() {
    local n=$1 id miss=0
    while read -r id; do
        [ "$(curl -s -m 3 -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$(url "$n")/api/v1/jobs/$id")" = 200 ] || miss=$((miss + 1))
    done <"$T/acked"
    [ $miss = 0 ] || fail "$miss of $(wc -l <"$T/acked") acknowledged jobs are missing on node $n"
}

# ---- a cluster of three takes jobs
for i in 1 2 3; do start "$i" --peers "$PEERS"; done
L=$(wait_leader 1 2 3) || fail "no leader among 1, 2, 3"
for k in $(seq 30); do submit "$(( (k % 3) + 1 ))" "m-$k" || fail "submit m-$k"; done
echo "ok three nodes, node $L leads, 30 jobs acknowledged through any node"
for i in 1 2 3; do
    curl -s "${AUTH[@]}" "$(url "$i")/metrics" >"$T/metrics-$i"
    promtool check metrics <"$T/metrics-$i" >"$T/promtool.out" 2>&1 || fail "promtool on node $i's metrics: $(cat "$T/promtool.out")"
    want=$([ "$i" = "$L" ] && echo 1 || echo 0)
    grep -qx "djs_cluster_leader $want" "$T/metrics-$i" || fail "node $i: djs_cluster_leader is not $want"
    grep -qx "djs_cluster_voters 3" "$T/metrics-$i" || fail "node $i: djs_cluster_voters is not 3"
    grep -qx "djs_cluster_leader_known 1" "$T/metrics-$i" || fail "node $i knows no leader"
done
echo "ok /metrics on every node passes promtool and says who leads (djs_cluster_leader, _voters, _leader_known)"

# ---- read-your-writes on a follower: ?min_seq= waits for the seq of the write
F=$(for i in 1 2 3; do [ "$i" != "$L" ] && echo "$i" && break; done)
for k in $(seq 20); do
    code=$(post "$L" /api/v1/jobs "{\"name\":\"ryw-$k\"}")
    [ "$code" = 201 ] || fail "submit ryw-$k: $code"
    read -r id seq < <($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["id"], d["seq"])' "$T/resp")
    echo "$id" >>"$T/acked"
    code=$(curl -s -m 10 -o "$T/get" -w '%{http_code}' "${AUTH[@]}" "$(url "$F")/api/v1/jobs/$id?min_seq=$seq")
    [ "$code" = 200 ] || fail "follower $F answered $code for job $id with min_seq=$seq: $(cat "$T/get")"
done
code=$(curl -s -m 10 -o "$T/get" -w '%{http_code}' "${AUTH[@]}" "$(url "$F")/api/v1/jobs?min_seq=abc")
[ "$code" = 400 ] || fail "min_seq=abc answered $code"
t0=$(date +%s%N)
code=$(curl -s -m 10 -o "$T/get" -w '%{http_code}' "${AUTH[@]}" "$(url "$F")/api/v1/stats?min_seq=999999999")
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$code" = 503 ] && grep -q not-yet-applied "$T/get" || fail "a min_seq never written answered $code: $(cat "$T/get")"
[ "$ms" -ge 4500 ] || fail "a min_seq never written was refused after $ms ms, not after waiting 5 s"
echo "ok read-your-writes: 20 jobs written on the leader read on follower $F with min_seq=their seq (200 each); min_seq=abc 400; a seq never written 503 not-yet-applied after $ms ms"

# ---- membership on a single server is a 409, bad requests are precise
SP=$(djs_free_port)
mkdir -p "$T/single" && install -m 600 "$T/n1/jwt.secret" "$T/single/jwt.secret"
"$DJS" serve --data "$T/single" --listen "127.0.0.1:$SP" --rate-limit 0 >"$T/single.out" 2>&1 &
spid=$!
djs_wait_ready "single server" curl -sf -m 2 "http://127.0.0.1:$SP/health"
code=$(curl -s -o "$T/resp" -w '%{http_code}' "${AUTH[@]}" -H 'content-type: application/json' -d '{"id":2,"address":"127.0.0.1:1"}' \
    "http://127.0.0.1:$SP/api/v1/cluster/add")
[ "$code" = 409 ] && grep -q not-clustered "$T/resp" || fail "cluster/add on a single server: $code $(cat "$T/resp")"
kill "$spid"
wait "$spid" || true
for body in '{"id":0,"address":"127.0.0.1:1"}' '{"id":5}' '{"id":5,"address":"127.0.0.1:1","role":"king"}' '{"id":"5","address":"x:1"}' \
    '{"id":5,"address":"127.0.0.1:1","extra":1}' '[1]' '{'; do
    code=$(post "$L" /api/v1/cluster/add "$body")
    case "$code" in 400 | 422) ;; *) fail "cluster/add $body answered $code: $(cat "$T/resp")" ;; esac
    grep -q '"type"' "$T/resp" || fail "cluster/add $body: no problem body"
done
code=$(post "$L" /api/v1/cluster/remove '{"id":99}')
[ "$code" = 404 ] || [ "$code" = 409 ] || [ "$code" = 422 ] || fail "removing an unknown node answered $code: $(cat "$T/resp")"
code=$(post "$L" /api/v1/cluster/remove "{\"id\":$L}")
[ "$code" = 422 ] || fail "removing the leader itself answered $code (transfer first): $(cat "$T/resp")"
# a user token may not change membership
UTOK=$("$DJS" token create --sub u --role user --ttl 1h --data "$T/n1")
code=$(curl -s -o /dev/null -w '%{http_code}' --location-trusted -H "Authorization: Bearer $UTOK" -H 'content-type: application/json' \
    -d '{"id":5,"address":"127.0.0.1:1"}' "$(url "$L")/api/v1/cluster/add")
[ "$code" = 403 ] || fail "a user token changed membership: $code"
echo "ok membership refused where it must be: single server 409, bad bodies 400/422, unknown node, the leader itself, a user token 403"

# ---- node 4 joins, seeded from a backup of a follower
"$DJS" backup "$T/n$F" "$T/bk" >"$T/backup.out" 2>&1 || fail "djs backup of node $F: $(tail -3 "$T/backup.out")"
rm -rf "$T/n4"
"$DJS" restore "$T/bk" "$T/n4" >"$T/restore.out" 2>&1 || fail "djs restore: $(tail -3 "$T/restore.out")"
[ ! -e "$T/n4/raft" ] || fail "the backup carried Raft state"
[ -e "$T/n4/jwt.secret" ] || install -m 600 "$T/n1/jwt.secret" "$T/n4/jwt.secret"
start 4 --peers "4=127.0.0.1:${RP[4]}" --join
djs_wait_ready "node 4" curl -sf -m 2 "$(url 4)/health"
[ -z "$(leader 4)" ] || fail "a --join node led before it was added"
for k in $(seq 10); do submit "$L" "j-$k" || fail "submit j-$k"; done
code=$(post "$L" /api/v1/cluster/add "{\"id\":4,\"address\":\"127.0.0.1:${RP[4]}\",\"role\":\"voter\"}")
[ "$code" = 200 ] || fail "cluster/add node 4: $code $(cat "$T/resp")"
code=$(post "$L" /api/v1/cluster/add "{\"id\":4,\"address\":\"127.0.0.1:${RP[4]}\"}")
[ "$code" = 409 ] || fail "adding node 4 twice answered $code: $(cat "$T/resp")"
sv=$(converge 1 2 3 4) || fail "node 4 did not catch up: $(for i in 1 2 3 4; do state $i; done)"
roles=$(cluster_json "$L" | $PY -c 'import json,sys; print(sorted((n["id"], n["role"]) for n in json.load(sys.stdin)["nodes"]))')
[ "$roles" = "[(1, 'voter'), (2, 'voter'), (3, 'voter'), (4, 'voter')]" ] || fail "roles after the add: $roles"
all_acked_on 4
echo "ok node 4 joined from a backup of node $F as a voter and caught up: seq and digest $sv on all four; $(wc -l <"$T/acked") acked jobs on it"

# ---- transfer the lead to node 4, then remove the old leader
ALL="$(url 1),$(url 2),$(url 3),$(url 4)"
DJS_TOKEN=$TOK "$DJS" cluster status --server "$(url 4)" >"$T/status" 2>&1 || fail "djs cluster status: $(cat "$T/status")"
grep -Eq "^4 +127\.0\.0\.1:${RP[4]} +voter" "$T/status" || fail "djs cluster status does not list node 4 as a voter: $(cat "$T/status")"
grep -Eq "^$L .* \*$" "$T/status" || fail "djs cluster status does not mark node $L as the leader: $(cat "$T/status")"
rc=0
DJS_TOKEN=$TOK "$DJS" cluster frobnicate --server "$ALL" >"$T/bad" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "djs cluster frobnicate exited $rc"
# the transfer, sent to a follower first: the CLI follows it to the leader
DJS_TOKEN=$TOK "$DJS" cluster transfer 4 --server "$(url 4),$(url "$L")" >"$T/transfer" 2>&1 || fail "djs cluster transfer 4: $(cat "$T/transfer")"
grep -q "transfer: done" "$T/transfer" || fail "djs cluster transfer: $(cat "$T/transfer")"
N=$(wait_leader 1 2 3 4) || fail "no leader after the transfer"
[ "$N" = 4 ] || fail "node $N leads after a transfer to 4"
for k in $(seq 200); do grep -q "restarting to rebuild from the committed log" "$T/n$L.out" && break; sleep 0.05; done
grep -q "restarting to rebuild from the committed log" "$T/n$L.out" || fail "the old leader $L did not restart as a follower"
submit 4 after-transfer || fail "a write on the new leader"
DJS_TOKEN=$TOK "$DJS" cluster remove "$L" --server "$ALL" >"$T/remove" 2>&1 || fail "djs cluster remove $L: $(cat "$T/remove")"
kill "${PID[$L]}" 2>/dev/null || true
wait "${PID[$L]}" 2>/dev/null || true
REST=$(for i in 1 2 3 4; do [ "$i" != "$L" ] && echo "$i"; done | tr '\n' ' ')
# shellcheck disable=SC2086
for k in $(seq 10); do submit 4 "r-$k" || fail "submit r-$k after the removal"; done
n=$(cluster_json 4 | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["nodes"]))')
[ "$n" = 3 ] || fail "$n nodes after removing node $L"
# shellcheck disable=SC2086
sv=$(converge $REST) || fail "nodes $REST did not converge"
for i in $REST; do all_acked_on "$i"; done
echo "ok the lead moved to node 4, node $L was removed; nodes $REST: seq and digest $sv, every acked job on each"

# ---- a node whose log is damaged fail-stops at its start and never leads
G=$(for i in $REST; do [ "$i" != 4 ] && echo "$i" && break; done)
submit 4 corrupt-marker-5d1e || fail "submit the marker"
converge $REST >/dev/null || fail "nodes $REST did not converge before the corruption"
kill "${PID[$G]}"
wait "${PID[$G]}" 2>/dev/null || true
$PY - "$T/n$G/data.mdb" "$(printf '%s' corrupt-marker-5d1e | od -An -tx1 | tr -d ' \n')" <<'PY'
import sys
path, needle = sys.argv[1], bytes.fromhex(sys.argv[2])
b = bytearray(open(path, "rb").read())
n, i = 0, b.find(needle)
while i >= 0:
    b[i + 3] ^= 0x20
    n += 1
    i = b.find(needle, i + 1)
assert n > 0, "marker not found"
open(path, "wb").write(b)
PY
rc=0
timeout 30 "$DJS" serve --data "$T/n$G" --listen "127.0.0.1:${HP[$G]}" --node-id "$G" --election-ms 500 --peers "$PEERS" \
    >"$T/n$G-corrupt.out" 2>&1 || rc=$?
[ "$rc" = 4 ] || fail "node $G with a damaged log exited $rc (expected 4): $(tail -3 "$T/n$G-corrupt.out")"
grep -q "REFUSING TO START" "$T/n$G-corrupt.out" || fail "node $G's refusal does not say why: $(tail -3 "$T/n$G-corrupt.out")"
[ "$(wait_leader 4)" = 4 ] || fail "node 4 no longer leads after node $G's refusal"
submit 4 after-corrupt || fail "a write with node $G down"
echo "ok node $G with a flipped byte in its log refused to start (exit 4, before Raft: it cannot lead); node 4 goes on"

# ---- quorum lost for good: only node 4 is left; recover it alone
for i in $REST; do [ "$i" = 4 ] || [ "$i" = "$G" ] || { kill -9 "${PID[$i]}"; wait "${PID[$i]}" 2>/dev/null || true; }; done
kill "${PID[4]}"
wait "${PID[4]}" 2>/dev/null || true
out=$("$DJS" cluster recover --data "$T/n4" --node-id 4 --peers "4=127.0.0.1:${RP[4]}" 2>&1) || fail "cluster recover: $out"
echo "$out" | grep -q "event log at seq" || fail "recover does not say the log's seq: $out"
start 4 --peers "4=127.0.0.1:${RP[4]}"
[ "$(wait_leader 4)" = 4 ] || fail "the recovered node does not lead"
all_acked_on 4
submit 4 after-recover || fail "a write after the recovery"
code=$("$DJS" cluster recover --data "$T/nope" --node-id 1 --peers "1=127.0.0.1:1" >/dev/null 2>&1; echo $?) || true
[ "$code" = 1 ] || fail "recover on a directory without Raft state exited $code"
echo "ok quorum lost: djs cluster recover made node 4 a cluster of one; $(wc -l <"$T/acked") acked jobs present, writes taken"
echo "ok: test_cluster_membership"
