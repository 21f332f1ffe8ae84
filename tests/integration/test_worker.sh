#!/usr/bin/env bash
# The worker agent end to end: a real djs serve and two real djs worker
# processes; jobs of every outcome, output and progress, a timeout that
# needs SIGKILL, a diamond workflow, a stdout flood, kill -9 of an agent
# mid-job (retried on the other, completes once) and a drain on SIGTERM.
set -euo pipefail
DJS=${1:?usage: test_worker.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init worker
DJS_LOG_TAIL=40
# the survivor job's sleep (attempt 1) runs on in its own process group
djs_at_exit '[ -f "$T/wd/sleeper.pid" ] && kill -9 -- "-$(cat "$T/wd/sleeper.pid")"'
t_start=$(date +%s)

mkdir -p "$T/wd"
djs_start_server --heartbeat-interval 1
ADMIN=$(djs_token admin admin)
TA=$(djs_token wa worker)
TB=$(djs_token wb worker)
# the agent drained at the end runs on an operator token (worker tokens
# work too: the server lets a worker drain and deregister itself)
TC=$(djs_token ops operator)
AUTH=(-H "Authorization: Bearer $ADMIN")

# start_agent NAME TOKEN CAPS [FLAGS...] -> its pid in $apid, output in $T/NAME.out
start_agent() {
    "$DJS" worker --server "$URL" --token "$2" --name "$1" --capabilities "$3" "${@:4}" --slots 3 --workdir "$T/wd" \
        --heartbeat 0.3 --grace 1 --drain-timeout 20 >>"$T/$1.out" 2>&1 &
    apid=$!
    for _ in $(seq 100); do
        grep -q "registered as" "$T/$1.out" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "agent $1 did not register"
}
start_agent wa "$TA" alpha
pa=$apid
start_agent wb "$TB" beta --tags zone=eu,disk=ssd
pb=$apid

echo "== exec: the JSON last line is the result"
djs_submit "{\"name\":\"ok\",\"payload\":$(djs_exec_payload 'echo working; echo "{\"answer\": 42}"')}"
ok=$id
djs_wait_status "$ok" COMPLETED 15
[ "$(djs_history "$ok" '[e["body"].get("result") for e in ev if e["type"]=="job.succeeded"]')" = "[{'answer': 42}]" ] ||
    fail "result: $(djs_get "jobs/$ok/history")"

echo "== exec: exit status 3 fails after its retries"
djs_submit "{\"name\":\"bad\",\"maxRetries\":1,\"payload\":$(djs_exec_payload 'echo trying; exit 3')}"
bad=$id
djs_wait_status "$bad" FAILED 20
[ "$(djs_history "$bad" '[e["body"].get("error") for e in ev if e["type"]=="job.failed"]')" = "['exit status 3', 'exit status 3']" ] ||
    fail "exit status errors: $(djs_get "jobs/$bad/history")"

echo "== unknown kind: fails at once, the agents keep serving"
djs_submit '{"name":"nope","maxRetries":0,"payload":{"kind":"nope"}}'
nope=$id
djs_wait_status "$nope" FAILED 15
djs_history "$nope" '[e["body"].get("error") for e in ev if e["type"]=="job.failed"]' | grep -q "unknown job kind 'nope'" ||
    fail "unknown kind error: $(djs_get "jobs/$nope/history")"
kill -0 "$pa" && kill -0 "$pb" || fail "an agent died on an unknown kind"

echo "== http kind: success by status, the body is the output"
# tags are advertised as capabilities: a job requiring zone=eu runs on wb only
djs_submit "{\"name\":\"eu-only\",\"requiredCapabilities\":[\"zone=eu\"],\"payload\":$(djs_exec_payload 'echo in eu')}"
djs_wait_status "$id" COMPLETED 20
wbid=$(djs_get workers | $PY -c 'import json,sys; print([w["id"] for w in json.load(sys.stdin)["workers"] if w["name"]=="wb"][0])')
djs_get "jobs/$id/history" | $PY -c 'import json,sys; e=[x for x in json.load(sys.stdin)["events"] if x["type"]=="job.scheduled"]; assert all(x["body"]["worker"]==sys.argv[1] for x in e), e' "$wbid" ||
    fail "the zone=eu job ran elsewhere than the tagged agent"
echo "ok tags route jobs (zone=eu ran on wb)"
djs_submit "{\"name\":\"ping\",\"payload\":{\"kind\":\"http\",\"url\":\"$URL/health\"}}"
ping=$id
djs_submit "{\"name\":\"ping201\",\"maxRetries\":0,\"payload\":{\"kind\":\"http\",\"url\":\"$URL/health\",\"expectStatus\":[201]}}"
ping201=$id
djs_wait_status "$ping" COMPLETED 15
[ -n "$(djs_get "jobs/$ping/logs")" ] || fail "http body as output"
djs_wait_status "$ping201" FAILED 15
djs_history "$ping201" '[e["body"].get("error") for e in ev if e["type"]=="job.failed"]' | grep -q "HTTP status 200" ||
    fail "http status error: $(djs_get "jobs/$ping201/history")"

echo "== output in order with stderr, and progress"
djs_submit "{\"name\":\"out\",\"payload\":$(djs_exec_payload 'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo "::progress 50 half"; sleep 1.2; echo three')}"
out=$id
saw50=0
for _ in $(seq 20); do
    [ "$(djs_jfield "$out" '["progress"]["percentage"]')" = 50 ] && saw50=1 && break
    sleep 0.1
done
djs_wait_status "$out" COMPLETED 15
[ "$(djs_get "jobs/$out/logs")" = $'one\ntwo\n::progress 50 half\nthree' ] || fail "logs: $(djs_get "jobs/$out/logs" | od -c | head)"
[ "$(djs_history "$out" '[(e["body"]["pct"], e["body"].get("step")) for e in ev if e["type"]=="job.progress"]')" = "[(50, 'half')]" ] ||
    fail "progress event: $(djs_get "jobs/$out/history")"
[ $saw50 = 1 ] || fail "the job did not show progress 50 while running"

echo "== timeout: TERM ignored, killed after the grace"
djs_submit "{\"name\":\"stuck\",\"maxRetries\":0,\"timeoutSeconds\":1,\"payload\":$(djs_exec_payload 'trap "" TERM; echo $$ > stuck.pid; sleep 30')}"
stuck=$id
djs_wait_status "$stuck" FAILED 15
# the server times the run out too: whichever is first, the attempt ends timed out
djs_history "$stuck" '[e["type"] + ": " + e["body"].get("error", "") for e in ev if e["type"] in ("job.failed","job.timed_out")]' |
    grep -q "timed_out\|timed out" || fail "timeout error: $(djs_get "jobs/$stuck/history")"
for _ in $(seq 40); do
    kill -0 "$(cat "$T/wd/stuck.pid")" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$(cat "$T/wd/stuck.pid")" 2>/dev/null && fail "the stuck job's process survived"
grep -q "(stuck) failed in [2-9]\.[0-9]* s" "$T/wa.out" "$T/wb.out" || fail "the stuck job did not get its grace before SIGKILL"
grep -q "stopping: timed out after 1 s\|stopping: stopped by the server" "$T/wa.out" "$T/wb.out" || fail "no stop logged"

echo "== diamond workflow in dependency order"
step() { djs_exec_payload "echo $1 >> order; sleep 0.2"; }
djs_submit "{\"jobs\":[{\"key\":\"a\",\"name\":\"A\",\"payload\":$(step a)},{\"key\":\"b\",\"name\":\"B\",\"dependsOn\":[\"a\"],\"payload\":$(step b)},{\"key\":\"c\",\"name\":\"C\",\"dependsOn\":[\"a\"],\"payload\":$(step c)},{\"key\":\"d\",\"name\":\"D\",\"dependsOn\":[\"b\",\"c\"],\"payload\":$(step d)}]}"
wd=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][3]["id"])' "$T/sub")
djs_wait_status "$wd" COMPLETED 20
order=$(tr -d '\n' <"$T/wd/order")
case "$order" in abcd | acbd) ;; *) fail "workflow order: $order" ;; esac

echo "== a 5 MB flood: capped log, heartbeats kept going"
djs_submit "{\"name\":\"flood\",\"payload\":$(djs_exec_payload 'head -c 5000000 /dev/zero | tr "\0" x; echo; echo "{\"flood\": true}"')}"
flood=$id
djs_wait_status "$flood" COMPLETED 30
size=0
off=0
for _ in $(seq 10); do
    curl -s "${AUTH[@]}" -D "$T/hdr" -o "$T/chunk" "$URL/api/v1/jobs/$flood/logs?offset=$off&limit=1048576"
    n=$(stat -c %s "$T/chunk")
    size=$((size + n))
    off=$(grep -i '^djs-log-next-offset:' "$T/hdr" | tr -dc 0-9)
    cat "$T/chunk" >>"$T/flood.log"
    grep -qi '^djs-log-complete: true' "$T/hdr" && break
done
[ "$size" -ge 1000000 ] && [ "$size" -le 1200000 ] || fail "flood log size $size"
grep -q "dropped\|truncated" "$T/flood.log" || fail "no truncation marker in the flood log: $(tail -c 200 "$T/flood.log")"
[ "$(djs_history "$flood" '[e["body"].get("result") for e in ev if e["type"]=="job.succeeded"]')" = "[{'flood': True}]" ] ||
    fail "flood result"
grep -q "registering again" "$T/wa.out" "$T/wb.out" && fail "an agent was declared lost during the flood"
djs_get workers | $PY -c 'import json,sys; w=json.load(sys.stdin)["workers"]; assert all(x["status"]=="ACTIVE" for x in w), w' ||
    fail "workers not active after the flood"

echo "== kill -9 of the agent running a job: retried on the other, completes once"
djs_submit "{\"name\":\"survivor\",\"payload\":$(djs_exec_payload 'if [ "$DJS_JOB_ATTEMPT" = 1 ]; then echo $$ > sleeper.pid; sleep 30; fi; echo done')}"
sv=$id
djs_wait_status "$sv" RUNNING 15
wid=$(djs_jfield "$sv" '["assignedWorker"]')
vname=$(djs_get "workers/$wid" | $PY -c 'import json,sys; print(json.load(sys.stdin)["name"])')
if [ "$vname" = wa ]; then victim=$pa; else victim=$pb; fi
kill -9 "$victim"
djs_wait_status "$sv" COMPLETED 20
[ "$(djs_history "$sv" 'sum(e["type"]=="job.started" for e in ev), sum(e["type"]=="job.succeeded" for e in ev)')" = "2 1" ] ||
    fail "two attempts, one completion: $(djs_get "jobs/$sv/history")"
kill -9 -- "-$(cat "$T/wd/sleeper.pid")" 2>/dev/null || true
rm -f "$T/wd/sleeper.pid"
# a restarted agent keeps its identity
if [ "$vname" = wa ]; then start_agent wa "$TA" alpha; pa=$apid; else start_agent wb "$TB" beta; pb=$apid; fi
[ "$(grep "registered as" "$T/$vname.out" | awk '{print $5}' | sort -u | wc -l)" = 1 ] || fail "a restart changed the worker id"

echo "== SIGTERM drains: the running job finishes, the agent deregisters and exits 0"
start_agent wc "$TC" gamma
pc=$apid
djs_submit "{\"name\":\"last\",\"requiredCapabilities\":[\"gamma\"],\"payload\":$(djs_exec_payload 'sleep 1; echo finished')}"
last=$id
djs_wait_status "$last" RUNNING 15
cid=$(djs_jfield "$last" '["assignedWorker"]')
kill -TERM "$pc"
rc=0
wait "$pc" || rc=$?
[ "$rc" = 0 ] || fail "drained agent exit status $rc"
djs_wait_status "$last" COMPLETED 5
[ "$(djs_get "workers/$cid" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = GONE ] ||
    fail "worker status after drain: $(djs_get "workers/$cid")"
grep -q "deregistered" "$T/wc.out" || fail "no deregistration logged"

# worker tokens may not drain or deregister (403): the agents say so and still leave cleanly
kill -TERM "$pa" "$pb"
for p in "$pa" "$pb"; do
    rc=0
    wait "$p" || rc=$?
    [ "$rc" = 0 ] || fail "agent $p exit status $rc after SIGTERM"
done

# the agents batch their starts and outcomes: carried by polls or POST /workers/{id}/reports, never one request per report
curl -s "${AUTH[@]}" "$URL/metrics" >"$T/metrics"
grep -q 'route="/api/v1/workers/{id}/poll"' "$T/metrics" || fail "no polls in the metrics"
! grep -E 'route="/api/v1/jobs/\{id\}/(start|complete|fail)"' "$T/metrics" || fail "the agents sent single reports"

# the polls claim (?claim=true): every job was delivered RUNNING and launched without a start report
grep -q ') started: [a-z]* (claimed by its poll)$' "$T"/w?.out || fail "no claimed launch logged"
! grep -h ') started: [a-z]*$' "$T"/w?.out || fail "a job was launched after a start report"
[ "$(djs_history "$ok" 'sum(e["type"]=="job.started" for e in ev)')" = 1 ] || fail "one job.started: $(djs_get "jobs/$ok/history")"

echo "ok: test_worker in $(($(date +%s) - t_start)) s"
