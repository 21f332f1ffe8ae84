#!/usr/bin/env bash
# Server and agents in different network namespaces, so every request
# crosses a (veth) interface, and a network cut between one agent and the
# server that lasts longer than the heartbeat window.
#
#   ns S (server)  10.213.X.1/30 <-veth-> 10.213.X.2/30  ns A (agents wa: gpu,nodea; wb: cpu)
#                  10.213.X.5/30 <-veth-> 10.213.X.6/30  ns C (agent wc: gpu,nodec; joins for the cut)
#
# 1. gpu jobs run only on wa, plain jobs spread, both agents of A work, and
#    the server's veth counts the agents' bytes.
# 2. Cut: A's veth goes down while wa runs two gpu jobs: "cut" (attempt 1
#    sleeps 20 s) and "short" (attempt 1 ends 2.5 s into the cut). The
#    server (heartbeat interval 1 s, lost after 3 s) declares wa lost and
#    retries both on wc, in its own namespace, which completes them. The
#    link comes back: wa's late reports (the failure of "cut", stopped by
#    the server's stop list, and the completion of "short") are refused by
#    fencing (409); each history keeps one job.succeeded, of attempt 2; wa
#    registers again under its id and runs a job only it can take.
# 3. POST /admin/shutdown with the agents still connected: the server stops
#    within 15 s, and the log verifies.
# Everything (namespaces, veths, processes) is removed on exit. Skips (exit
# 0) with the reason when `ip netns add` is not permitted here.
set -euo pipefail
DJS=${1:?usage: test_netns.sh path/to/djs}
PY=/usr/bin/python3
t_start=$(date +%s)

skip() {
    echo "SKIP: network namespaces not permitted: $*"
    exit 0
}
command -v ip >/dev/null 2>&1 || skip "no 'ip' command (install iproute2)"

NS_S=djs-s-$$
NS_A=djs-a-$$
NS_C=djs-c-$$
X=$(($$ % 250 + 1))
SIP=10.213.$X.1 # the server, seen from A
AIP=10.213.$X.2
S2IP=10.213.$X.5 # the server's side of the link to C
CIP=10.213.$X.6
PORT=18080
URL="http://$SIP:$PORT"

. "$(dirname "$0")/lib.sh"
djs_init netns
DJS_LOG_TAIL=60
made_ns=()
# attempt 1 of "cut" sleeps in its own process group; deleting a namespace
# destroys the veth ends in it (and so their peers)
djs_at_exit '[ -f "$T/wd/cut.pid" ] && kill -9 -- "-$(cat "$T/wd/cut.pid")"'
djs_at_exit 'for p in "${made_ns[@]}"; do ip netns del "$p" 2>/dev/null || true; done'

# Try for real; a refusal is a skip with the reason, anything later a failure.
if ! err=$(ip netns add "$NS_S" 2>&1); then skip "ip netns add as uid $(id -u): $err"; fi
made_ns+=("$NS_S")
ip netns add "$NS_A" || fail "ip netns add $NS_A"
made_ns+=("$NS_A")
ip netns add "$NS_C" || fail "ip netns add $NS_C"
made_ns+=("$NS_C")
# veth pairs created straight inside the namespaces: nothing appears in the host's namespace
ip link add name vs-a netns "$NS_S" type veth peer name va-s netns "$NS_A" || fail "veth S-A"
ip link add name vs-c netns "$NS_S" type veth peer name vc-s netns "$NS_C" || fail "veth S-C"
ip -n "$NS_S" addr add "$SIP/30" dev vs-a
ip -n "$NS_A" addr add "$AIP/30" dev va-s
ip -n "$NS_S" addr add "$S2IP/30" dev vs-c
ip -n "$NS_C" addr add "$CIP/30" dev vc-s
for ns in "$NS_S" "$NS_A" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set vs-a up
ip -n "$NS_S" link set vs-c up
ip -n "$NS_A" link set va-s up
ip -n "$NS_C" link set vc-s up
# C reaches the server's address $SIP through its own link (a local address of S)
ip -n "$NS_C" route add default via "$S2IP" dev vc-s
echo "ok namespaces $NS_S, $NS_A, $NS_C with veths on 10.213.$X.0/29"

inS() { ip netns exec "$NS_S" "$@"; }
mkdir -p "$T/wd"
DJS_SERVE_PREFIX=(ip netns exec "$NS_S")
djs_serve --data "$T/data" --listen "$SIP:$PORT" --heartbeat-interval 1 --rate-limit 0
spid=$pid
djs_wait_ready "serve did not answer on $URL" inS curl -sf -m 2 "$URL/health"
ip netns exec "$NS_A" curl -sf -m 2 "$URL/health" >/dev/null || fail "A cannot reach the server"
ip netns exec "$NS_C" curl -sf -m 2 "$URL/health" >/dev/null || fail "C cannot reach the server"
echo "ok server on $URL inside $NS_S, reachable from $NS_A and $NS_C"
# rx_bytes NS DEV: bytes received on that interface
rx_bytes() { ip -n "$1" -j -s link show dev "$2" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["bytes"])'; }
rx_a0=$(rx_bytes "$NS_S" vs-a)

ADMIN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $ADMIN")

# start_agent NS NAME CAPS -> $apid; log in $T/NAME.out
start_agent() {
    local tok
    tok=$(djs_token "$2" worker)
    ip netns exec "$1" "$DJS" worker --server "$URL" --token "$tok" --name "$2" --capabilities "$3" --slots 2 \
        --workdir "$T/wd" --heartbeat 0.3 --grace 1 --drain-timeout 10 >>"$T/$2.out" 2>&1 &
    apid=$!
    for _ in $(seq 200); do
        grep -q "registered as" "$T/$2.out" 2>/dev/null && return 0
        kill -0 "$apid" 2>/dev/null || fail "agent $2 exited"
        sleep 0.05
    done
    fail "agent $2 did not register"
}
# every client call is made from the server's namespace
DJS_CURL=(ip netns exec "$NS_S" curl -m 10)
wname() { djs_get "workers/$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["name"])'; }
# ranon ID: the name of the worker whose attempt succeeded (a finished job has no assignedWorker)
ranon() {
    local w
    w=$(djs_history "$1" '([e["body"]["worker"] for e in ev if e["type"]=="job.scheduled" and e["body"]["attempt"] in [s["body"]["attempt"] for s in ev if s["type"]=="job.succeeded"]] or ["none"])[-1]')
    [ "$w" = none ] && echo none || wname "$w"
}
wstatus() { djs_get "workers/$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }

start_agent "$NS_A" wa gpu,nodea
pa=$apid
start_agent "$NS_A" wb cpu
pb=$apid
echo "ok agents wa (gpu) and wb registered from $NS_A"

# ---- 1. capability routing and spreading across the interface ----------------------------
gpu_ids=()
plain_ids=()
for i in 1 2 3 4; do
    djs_submit "{\"name\":\"gpu-$i\",\"requiredCapabilities\":[\"gpu\"],\"payload\":$(djs_exec_payload 'sleep 0.5; echo gpu $DJS_JOB_ID')}"
    gpu_ids+=("$id")
done
for i in 1 2 3 4 5 6 7 8; do
    djs_submit "{\"name\":\"plain-$i\",\"payload\":$(djs_exec_payload 'sleep 0.5; echo plain $DJS_JOB_ID')}"
    plain_ids+=("$id")
done
for j in "${gpu_ids[@]}" "${plain_ids[@]}"; do djs_wait_status "$j" COMPLETED 30; done
declare -A ran=()
for j in "${gpu_ids[@]}"; do
    w=$(ranon "$j")
    [ "$w" = wa ] || fail "gpu job $j ran on $w, not on wa: $(djs_get "jobs/$j/history")"
    for x in $(djs_history "$j" '" ".join(e["body"]["worker"] for e in ev if e["type"]=="job.scheduled")'); do
        [ "$(wname "$x")" = wa ] || fail "gpu job $j was placed on $(wname "$x"): $(djs_get "jobs/$j/history")"
    done
    ran[$w]=$((${ran[$w]:-0} + 1))
done
for j in "${plain_ids[@]}"; do
    w=$(ranon "$j")
    ran[$w]=$((${ran[$w]:-0} + 1))
    [ "$(djs_get "jobs/$j/logs")" = "plain $j" ] || fail "plain job $j output: $(djs_get "jobs/$j/logs")"
done
[ "${ran[wa]:-0}" -ge 1 ] && [ "${ran[wb]:-0}" -ge 1 ] || fail "both agents should have run jobs: wa ${ran[wa]:-0}, wb ${ran[wb]:-0}"
rx_a1=$(rx_bytes "$NS_S" vs-a)
[ $((rx_a1 - rx_a0)) -gt 10000 ] || fail "the server's veth to A received only $((rx_a1 - rx_a0)) bytes"
echo "ok the server's veth to $NS_A received $((rx_a1 - rx_a0)) bytes from the agents"
echo "ok 4 gpu jobs all on wa; 12 jobs completed across the veth (wa ${ran[wa]}, wb ${ran[wb]})"

# ---- 2. network cut longer than the heartbeat window ---------------------------------------
# Two jobs on wa, submitted while wa is the only gpu agent: "cut" sleeps 20 s
# in attempt 1 (still running when the link comes back: the server's stop
# list ends it and its failure report is refused); "short" ends once the
# link is down (it waits for the test's link.down file, so a slow machine
# cannot let it finish before the cut), and its completion report waits
# out the cut and is refused.
cut_payload=$(djs_exec_payload 'if [ "$DJS_JOB_ATTEMPT" = 1 ]; then echo $$ > cut.pid; echo cut-off; sleep 20; fi; echo attempt $DJS_JOB_ATTEMPT done')
short_payload=$(djs_exec_payload 'if [ "$DJS_JOB_ATTEMPT" = 1 ]; then touch short.running; for i in $(seq 300); do [ -e link.down ] && break; sleep 0.1; done; sleep 0.5; fi; echo attempt $DJS_JOB_ATTEMPT done')
djs_submit "{\"name\":\"cut\",\"requiredCapabilities\":[\"gpu\"],\"payload\":$cut_payload}"
cut=$id
djs_submit "{\"name\":\"short\",\"requiredCapabilities\":[\"gpu\"],\"payload\":$short_payload}"
short=$id
djs_wait_status "$cut" RUNNING 20
djs_wait_status "$short" RUNNING 20
for j in "$cut" "$short"; do
    [ "$(wname "$(djs_jfield "$j" '["assignedWorker"]')")" = wa ] || fail "gpu job $j does not run on wa"
done
for _ in $(seq 50); do [ -s "$T/wd/cut.pid" ] && [ -e "$T/wd/short.running" ] && break; sleep 0.1; done
# wc (gpu too) joins from C over its own link: where the jobs go when wa is cut off
start_agent "$NS_C" wc gpu,nodec
pc=$apid
echo "ok jobs cut ($cut) and short ($short) run on wa; agent wc (gpu) registered from $NS_C"
wa_id=$(grep -m1 "registered as" "$T/wa.out" | awk '{print $5}')
wb_id=$(grep -m1 "registered as" "$T/wb.out" | awk '{print $5}')
lines_before=$(wc -l <"$T/wa.out")
t_cut=$(date +%s.%N)
ip -n "$NS_A" link set va-s down || fail "link down"
touch "$T/wd/link.down"
echo "ok link va-s in $NS_A is down: wa and wb are cut off from the server"

# the server declares wa lost and both jobs run again on wc
for _ in $(seq 200); do
    [ "$(wstatus "$wa_id")" = LOST ] && break
    sleep 0.1
done
[ "$(wstatus "$wa_id")" = LOST ] || fail "wa is not LOST 20 s after the cut: $(djs_get "workers/$wa_id")"
t_lost=$(date +%s.%N)
echo "ok wa declared LOST $($PY -c "print(f'{$t_lost-$t_cut:.1f}')") s after the cut"
for j in "$cut" "$short"; do
    djs_wait_status "$j" COMPLETED 30
    [ "$(ranon "$j")" = wc ] || fail "the retry of $j did not run on wc: $(djs_get "jobs/$j/history")"
    [ "$(djs_get "jobs/$j/logs" | tail -n 1)" = "attempt 2 done" ] || fail "retry output of $j: $(djs_get "jobs/$j/logs")"
    djs_history "$j" '[e["body"].get("reason") for e in ev if e["type"]=="job.failed"]' | grep -q worker_lost ||
        fail "no worker_lost failure in the history of $j: $(djs_get "jobs/$j/history")"
done
echo "ok both jobs retried on wc (attempt 2) and completed while wa was cut off"
# keep the link down until attempt 1 of "short" has ended on wa (its report is stuck) and
# at least 2 heartbeat windows (6 s) have passed
for _ in $(seq 100); do
    grep -q "job $short attempt 1 (short) succeeded" "$T/wa.out" &&
        $PY -c "import sys,time; sys.exit(time.time() - $t_cut < 6)" && break
    sleep 0.1
done
grep -q "job $short attempt 1 (short) succeeded" "$T/wa.out" || fail "attempt 1 of short did not end on wa"
kill -0 "$(cat "$T/wd/cut.pid")" 2>/dev/null || fail "attempt 1 of cut stopped during the cut"
[ "$(djs_history "$short" 'sum(e["type"]=="job.succeeded" for e in ev)')" = 1 ] || fail "short: a success got through the cut"

ip -n "$NS_A" link set va-s up || fail "link up"
t_up=$(date +%s.%N)
echo "ok link va-s is up again after $($PY -c "print(f'{$t_up-$t_cut:.1f}')") s"
# the late reports of both attempts 1 are refused by fencing; wa registers again
late() { tail -n +"$((lines_before + 1))" "$T/wa.out" | grep "job $1 attempt 1: $2 refused (409"; }
for _ in $(seq 400); do
    late "$cut" fail >/dev/null && late "$short" complete >/dev/null && break
    sleep 0.1
done
late "$cut" fail || fail "no fenced (409) failure report of cut attempt 1 (stopped by the server) in wa's log"
late "$short" complete || fail "no fenced (409) late completion of short attempt 1 in wa's log"
tail -n +"$((lines_before + 1))" "$T/wa.out" | grep -q "registering again" || fail "wa did not notice it was lost"
for w in "$wa_id" "$wb_id"; do
    for _ in $(seq 200); do
        [ "$(wstatus "$w")" = ACTIVE ] && break
        sleep 0.1
    done
    [ "$(wstatus "$w")" = ACTIVE ] || fail "worker $w is not ACTIVE again: $(djs_get "workers/$w")"
done
[ "$(grep "registered as" "$T/wa.out" | awk '{print $5}' | sort -u)" = "$wa_id" ] || fail "wa came back under another id"
for _ in $(seq 50); do
    kill -0 "$(cat "$T/wd/cut.pid")" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$(cat "$T/wd/cut.pid")" 2>/dev/null && fail "attempt 1 of cut still runs on wa after the server's stop list"
rm -f "$T/wd/cut.pid"
for j in "$cut" "$short"; do
    n=$(djs_history "$j" 'sum(e["type"]=="job.succeeded" for e in ev), [e["body"]["attempt"] for e in ev if e["type"]=="job.succeeded"], sum(e["type"]=="job.started" for e in ev)')
    [ "$n" = "1 [2] 2" ] || fail "job $j: expected one success (attempt 2) of two starts, got $n: $(djs_get "jobs/$j/history")"
    [ "$(djs_jfield "$j" '["status"]')" = COMPLETED ] || fail "job $j status changed"
done
echo "ok late reports of attempt 1 refused (409: a failure and a completion); one job.succeeded each (attempt 2); wa re-registered as $wa_id"

# the cut-off agent keeps working: a job only it can take
djs_submit "{\"name\":\"after-cut\",\"requiredCapabilities\":[\"nodea\"],\"payload\":$(djs_exec_payload 'echo back')}"
after=$id
djs_wait_status "$after" COMPLETED 30
[ "$(ranon "$after")" = wa ] || fail "after-cut job not on wa"
echo "ok wa runs jobs again after the cut"
for p in "$pa" "$pb" "$pc"; do kill -0 "$p" 2>/dev/null || fail "an agent died (pid $p)"; done
kill -0 "$spid" 2>/dev/null || fail "the server died"

# graceful stop while the agents are still connected; the log verifies
djs_api -X POST "$URL/api/v1/admin/shutdown" >/dev/null || true
for _ in $(seq 150); do
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$spid" 2>/dev/null &&
    fail "djs serve did not stop within 15 s of POST /admin/shutdown while 3 agents are connected (their heartbeats and polls keep its keep-alive connections busy)"
rc=0
wait "$spid" || rc=$?
[ "$rc" = 0 ] || fail "serve exit status $rc"
"$DJS" replay verify "$T/data" | grep -q '^OK' || fail "replay verify: $("$DJS" replay verify "$T/data" 2>&1)"
echo "ok log verifies after a graceful stop"
echo "ok: test_netns in $(($(date +%s) - t_start)) s"
