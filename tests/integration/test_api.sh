#!/usr/bin/env bash
# The HTTP API (first slice) with a real client: curl against the real djs
# serve on a free port. Each check asserts the status code and the body.
set -euo pipefail
DJS=${1:?usage: test_api.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init api
djs_listen
# req METHOD PATH [BODY [CONTENT-TYPE]] -> sets $code and $body
req() {
    local ct=${4:-application/json}
    if [ $# -ge 3 ]; then
        code=$(curl -s "${AUTH[@]}" -D "$T/headers" -o "$T/body" -w '%{http_code}' -X "$1" -H "content-type: $ct" --data-binary "$3" "$URL$2")
    else
        code=$(curl -s "${AUTH[@]}" -D "$T/headers" -o "$T/body" -w '%{http_code}' -X "$1" "$URL$2")
    fi
    body=$(cat "$T/body")
}
expect() { [ "$code" = "$1" ] || fail "$2: expected $1, got $code: $body"; }
field() { echo "$body" | $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }
problem() { # status slug
    expect "$1" "$3"
    [ "$(field '["status"]')" = "$1" ] || fail "$3: problem status"
    field '["type"]' | grep -q "/$2\$" || fail "$3: problem type, got $body"
    grep -qi "^content-type: application/problem+json" "$T/headers" || fail "$3: not application/problem+json"
    [ -n "$(field '["title"]')" ] && [ -n "$(field '["detail"]')" ] || fail "$3: title and detail"
}

djs_start_server
TOKEN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $TOKEN")
req GET /health; expect 200 health
req GET /health/ready; expect 200 ready

req POST /api/v1/jobs '{"name":"hello","priority":"HIGH","maxRetries":2,"payload":{"cmd":"echo","args":["hi"]}}'
expect 201 submit
id=$(field '["id"]')
seq=$(field '["seq"]')
[ "$seq" -ge 2 ] || fail "seq in answer"
req GET "/api/v1/jobs/$id"; expect 200 "get job"
[ "$(field '["name"]')" = hello ] || fail "name"
[ "$(field '["status"]')" = QUEUED ] || fail "status"
[ "$(field '["priority"]')" = HIGH ] || fail "priority"
[ "$(field '["maxRetries"]')" = 2 ] || fail "maxRetries"
curl -s -i "${AUTH[@]}" "$URL/api/v1/jobs/$id" | grep -qi "^djs-seq: [0-9]" || fail "DJS-Seq header"

# dependencies and idempotency
req POST /api/v1/jobs "{\"name\":\"after\",\"dependencies\":[\"$id\"]}"; expect 201 "submit with dependency"
dep=$(field '["id"]')
req GET "/api/v1/jobs/$dep"; [ "$(field '["status"]')" = CREATED ] || fail "dependent waits"
code=$(curl -s "${AUTH[@]}" -o "$T/b1" -w '%{http_code}' -X POST -H 'content-type: application/json' -H 'Idempotency-Key: k-1' \
       --data-binary '{"name":"once"}' "$URL/api/v1/jobs")
[ "$code" = 201 ] || fail "first idempotent submit: $code"
code=$(curl -s "${AUTH[@]}" -o "$T/b2" -w '%{http_code}' -X POST -H 'content-type: application/json' -H 'Idempotency-Key: k-1' \
       --data-binary '{"name":"once"}' "$URL/api/v1/jobs")
[ "$code" = 200 ] || fail "repeated idempotent submit: $code"
[ "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/b1")" = \
  "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/b2")" ] || fail "idempotency returned another job"

# a workflow: a diamond by keys, accepted atomically; the joins wait for their parents
req POST /api/v1/jobs '{"jobs":[{"key":"a","name":"A"},{"key":"b","name":"B","dependsOn":["a"]},{"key":"c","name":"C","dependsOn":["a"]},{"key":"d","name":"D","dependsOn":["b","c"]}]}'
expect 201 "workflow submit"
[ "$(field '["jobs"][3]["key"]')" = d ] || fail "workflow answer names keys"
wa=$(field '["jobs"][0]["id"]'); wd=$(field '["jobs"][3]["id"]')
req GET "/api/v1/jobs/$wa"; [ "$(field '["status"]')" = QUEUED ] || fail "workflow root queued"
req GET "/api/v1/jobs/$wd"; [ "$(field '["status"]')" = CREATED ] || fail "workflow join waits"
req POST /api/v1/jobs '{"jobs":[{"key":"a","name":"A","dependsOn":["b"]},{"key":"b","name":"B","dependsOn":["a"]}]}'
problem 409 dependency-cycle "workflow cycle"
req POST /api/v1/jobs '{"jobs":[{"key":"a","name":"A"},{"key":"b","name":7}]}'; problem 400 wrong-type "workflow field"
echo "$body" | grep -q 'jobs\[1\].name' || fail "workflow error names the job: $body"
req POST /api/v1/jobs '{"jobs":[{"key":"a","name":"A","dependsOn":["nope"]}]}'; problem 404 not-found "workflow unknown key"
req POST /api/v1/jobs '{"jobs":[]}'; problem 400 wrong-type "empty workflow"
req POST /api/v1/jobs '{"name":"x","key":"a"}'; problem 400 unknown-field "key outside a workflow"
req GET "/api/v1/jobs/$wa"; [ "$(field '["status"]')" = QUEUED ] || fail "failed workflows left no trace"
req POST "/api/v1/jobs/$wa/cancel"; expect 200 "cancel the workflow root"
req GET "/api/v1/jobs/$wd"; [ "$(field '["status"]')" = FAILED ] || fail "cancelling a root fails the join (upstream failed): $body"

# cancel, then the state conflict
req POST "/api/v1/jobs/$dep/cancel"; expect 200 cancel
req POST "/api/v1/jobs/$dep/cancel"; problem 409 conflict "cancel twice"

# bad input: each a precise problem, and the server keeps serving
req POST /api/v1/jobs '{"name":'; problem 400 malformed-json "truncated JSON"
req POST /api/v1/jobs '{"name":"x","name":"y"}'; problem 400 malformed-json "duplicate keys"
req POST /api/v1/jobs '[1,2]'; problem 400 invalid-body "array body"
req POST /api/v1/jobs '{"name":"x","bogus":1}'; problem 400 unknown-field "unknown field"
req POST /api/v1/jobs '{"name":5}'; problem 400 wrong-type "name type"
req POST /api/v1/jobs '{"name":"x","priority":"URGENT"}'; problem 400 wrong-type "priority value"
req POST /api/v1/jobs '{"name":"x","maxRetries":-1}'; problem 400 wrong-type "negative retries"
req POST /api/v1/jobs '{"name":"x","payload":[1]}'; problem 400 wrong-type "payload not object"
req POST /api/v1/jobs '{"name":"x","dependencies":["nope"]}'; problem 400 wrong-type "bad dependency id"
req POST /api/v1/jobs '{"name":"x","dependencies":["01890a5d-ac96-774b-bcce-b302099a8057"]}'; problem 404 not-found "unknown dependency"
req POST /api/v1/jobs '{"name":""}'; problem 422 invalid-value "empty name"
req POST /api/v1/jobs "{\"name\":\"$(head -c 300 /dev/zero | tr '\0' a)\"}"; problem 422 limit-exceeded "long name"
req POST /api/v1/jobs '{"name":"x"}' text/plain; problem 415 unsupported-media-type "content type"
deep=$($PY -c 'print("{\"name\":\"x\",\"payload\":" + "{\"a\":"*40 + "1" + "}"*40 + "}")')
req POST /api/v1/jobs "$deep"; problem 422 limit-exceeded "deep payload"
$PY -c 'print("{\"name\":\"x\",\"description\":\"" + "a"*(2*1024*1024) + "\"}")' > "$T/huge.json"
code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X POST -H 'content-type: application/json' --data-binary @"$T/huge.json" "$URL/api/v1/jobs")
[ "$code" = 413 ] || fail "huge body: expected 413, got $code"
req GET /api/v1/jobs/01890a5d-ac96-774b-bcce-b302099a8057; problem 404 not-found "unknown job"
req GET /api/v1/jobs/not-a-uuid; problem 400 invalid-id "bad id"
req GET /api/v1/nothing; problem 404 not-found "unknown endpoint"
req GET /health; expect 200 "still serving"

req GET /api/v1/stats; expect 200 stats
[ "$(field '["submitted"]')" = 7 ] || fail "stats submitted (3 jobs and a 4-job workflow): $body"

# a worker: register, long-poll woken by a placement, fenced reports.
# First cancel what is still queued, so the worker gets only the gpu job.
req POST "/api/v1/jobs/$id/cancel"; expect 200 "cancel hello"
req POST "/api/v1/jobs/$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/b1")/cancel"; expect 200 "cancel once"
req POST /api/v1/workers '{"name":"w1","slots":1,"capabilities":["gpu"]}'; expect 201 "register worker"
wid=$(field '["id"]')
req POST /api/v1/workers '{"name":"w2","slots":0}'; problem 400 wrong-type "zero slots"
curl -s "${AUTH[@]}" -X POST "$URL/api/v1/workers/$wid/poll?wait=10" >"$T/poll" &
poller=$!
sleep 0.3
req POST /api/v1/jobs '{"name":"gpu-job","requiredCapabilities":["gpu"],"payload":{"cmd":"true"}}'; expect 201 "gpu job"
gid=$(field '["id"]')
wait $poller
$PY - "$T/poll" "$gid" <<'PY' || fail "the long-poll did not deliver the gpu job: $(cat "$T/poll")"
import json, sys
a = json.load(open(sys.argv[1]))["assignments"]
assert any(x["jobId"] == sys.argv[2] and x["attempt"] >= 1 and x["payload"] == {"cmd": "true"} for x in a), a
PY
attempt=$($PY -c 'import json,sys; print([x for x in json.load(open(sys.argv[1]))["assignments"] if x["jobId"]==sys.argv[2]][0]["attempt"])' "$T/poll" "$gid")
req POST "/api/v1/jobs/$gid/start" "{\"workerId\":\"$wid\",\"attempt\":$((attempt + 1))}"; problem 409 stale-attempt "stale attempt"
req POST "/api/v1/jobs/$gid/complete" "{\"workerId\":\"$wid\",\"attempt\":$attempt}"; problem 409 conflict "complete before start"
req POST "/api/v1/jobs/$gid/start" "{\"workerId\":\"$wid\",\"attempt\":$attempt}"; expect 200 start
req POST "/api/v1/jobs/$gid/progress" "{\"workerId\":\"$wid\",\"attempt\":$attempt,\"percentage\":60,\"currentStep\":\"x\"}"; expect 200 progress
req POST "/api/v1/jobs/$gid/progress" "{\"workerId\":\"$wid\",\"attempt\":$attempt,\"percentage\":160}"; problem 400 wrong-type "percentage range"
# output: raw chunks at offsets of the attempt, retried chunks are harmless, gaps refused
out() { # offset data -> code, body
    code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X POST -H 'content-type: application/octet-stream' \
           --data-binary "$2" "$URL/api/v1/jobs/$gid/output?workerId=$wid&attempt=$attempt&offset=$1")
    body=$(cat "$T/body")
}
out 0 $'line one\n'; expect 200 "output chunk"; [ "$(field '["received"]')" = 9 ] || fail "received: $body"
out 5 $'one\nline two\n'; expect 200 "overlapping chunk"; [ "$(field '["received"]')" = 18 ] || fail "received after overlap: $body"
out 40 x; problem 409 conflict "output gap"
[ "$(field '["received"]')" = 18 ] || fail "a gap says where to resume: $body"
out abc x; problem 400 invalid-query "output offset not a number"
code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X POST -H 'content-type: application/json' --data-binary x \
       "$URL/api/v1/jobs/$gid/output?workerId=$wid&attempt=$attempt&offset=18"); body=$(cat "$T/body")
problem 415 unsupported-media-type "output as JSON"
code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X POST -H 'content-type: application/octet-stream' --data-binary x \
       "$URL/api/v1/jobs/$gid/output?workerId=$wid&attempt=99&offset=18"); body=$(cat "$T/body")
problem 409 stale-attempt "output of another attempt"
curl -s "${AUTH[@]}" -D "$T/hdr" -o "$T/logs" "$URL/api/v1/jobs/$gid/logs"
[ "$(cat "$T/logs")" = $'line one\nline two' ] || fail "logs: $(cat "$T/logs")"
grep -qi '^djs-log-next-offset: 18' "$T/hdr" || fail "logs next offset: $(cat "$T/hdr")"
grep -qi '^djs-log-complete: false' "$T/hdr" || fail "logs not complete while running"
[ "$(curl -s "${AUTH[@]}" "$URL/api/v1/jobs/$gid/logs?offset=14&limit=3")" = two ] || fail "logs from an offset"
req GET "/api/v1/jobs/$gid/logs?limit=0"; problem 400 invalid-query "logs limit 0"
req POST "/api/v1/jobs/$gid/complete" "{\"workerId\":\"$wid\",\"attempt\":$attempt,\"result\":{\"ok\":true}}"; expect 200 complete
curl -s "${AUTH[@]}" -D "$T/hdr" -o /dev/null "$URL/api/v1/jobs/$gid/logs?offset=18"
grep -qi '^djs-log-complete: true' "$T/hdr" || fail "logs complete once the job is done: $(cat "$T/hdr")"
req POST "/api/v1/jobs/$gid/complete" "{\"workerId\":\"$wid\",\"attempt\":$attempt}"; problem 409 stale-attempt "complete twice"
req GET "/api/v1/jobs/$gid"; [ "$(field '["status"]')" = COMPLETED ] || fail "gpu job completed: $body"
[ "$(field '["result"]["ok"]')" = True ] || fail "the job carries its result: $body"
req POST "/api/v1/workers/$wid/heartbeat" '{"cpu":0.5,"memory":0.25,"responseMs":12}'; expect 200 heartbeat
req POST "/api/v1/workers/$wid/heartbeat" '{"cpu":5}'; problem 400 wrong-type "cpu range"
# the agent lists what it runs; jobs that are no longer its assignment come back in "stop"
req POST "/api/v1/workers/$wid/heartbeat" "{\"cpu\":0.5,\"memory\":0.25,\"running\":[{\"jobId\":\"$gid\",\"attempt\":$attempt}]}"
expect 200 "heartbeat with running jobs"
[ "$(field '["stop"]')" = "['$gid']" ] || fail "a completed job is to be stopped: $body"
req POST "/api/v1/workers/$wid/heartbeat" '{"cpu":0.1,"running":[{"jobId":"nope"}]}'; problem 400 wrong-type "bad running list"
t0=$(date +%s%N)
req POST "/api/v1/workers/$wid/poll?wait=1"; expect 200 "empty poll"
[ "$(field '["assignments"]')" = "[]" ] || fail "empty poll body: $body"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 900 ] || fail "poll returned before its wait"

# Prometheus exposition, checked by promtool
curl -s "${AUTH[@]}" "$URL/metrics" >"$T/metrics"
if [ -x /usr/bin/promtool ]; then
    /usr/bin/promtool check metrics <"$T/metrics" || fail "promtool check metrics"
else
    echo "SKIP promtool check: /usr/bin/promtool missing (tools/deps.sh installs prometheus)"
fi
grep -q '^djs_jobs{state="COMPLETED"} 1$' "$T/metrics" || fail "djs_jobs COMPLETED in metrics"
grep -q '^djs_http_requests_total{route="/api/v1/jobs/{id}",method="GET",status="2xx"}' "$T/metrics" || fail "http metrics by route template"
grep -q '^djs_log_durable_seq ' "$T/metrics" || fail "log metrics"

# update, retry, delete; workers
req POST /api/v1/jobs '{"name":"to-change"}'; expect 201 "submit to change"; cj=$(field '["id"]')
req PUT "/api/v1/jobs/$cj" '{"priority":"LOW","maxRetries":5}'; expect 200 "update job"
req GET "/api/v1/jobs/$cj"; [ "$(field '["priority"]')" = LOW ] && [ "$(field '["maxRetries"]')" = 5 ] || fail "update applied: $body"
req PUT "/api/v1/jobs/$cj" '{"color":"red"}'; problem 400 unknown-field "update unknown field"
req PUT "/api/v1/jobs/$cj" '{"maxRetries":1000}'; problem 422 invalid-value "update beyond limit"
req POST "/api/v1/jobs/$cj/retry"; problem 409 conflict "retry a queued job"
req DELETE "/api/v1/jobs/$gid"; expect 200 "delete a completed job"
req GET "/api/v1/jobs/$gid"; problem 404 not-found "deleted job"
req GET "/api/v1/jobs/$gid/history"; expect 200 "the history outlives the job"
[ "$(field '["events"][-1]["type"]')" = job.deleted ] || fail "history ends with job.deleted: $body"
[ "$(field '["events"][1]["body"]["worker"]')" = "$wid" ] || fail "job.scheduled body names the worker: $body"
req GET /api/v1/workers; expect 200 "list workers"
[ "$(field '["workers"][0]["name"]')" = w1 ] || fail "workers list: $body"
req GET "/api/v1/workers/$wid"; expect 200 "one worker"
[ "$(field '["cpu"]')" = 0.5 ] || fail "worker load: $body"
req PUT "/api/v1/workers/$wid" '{"slots":3}'; expect 200 "update worker"
req GET "/api/v1/workers/$wid"; [ "$(field '["slots"]')" = 3 ] || fail "slots updated"
req PUT "/api/v1/workers/$wid" '{"draining":true}'; expect 200 "drain worker"
req GET "/api/v1/workers/$wid"; [ "$(field '["status"]')" = DRAINING ] || fail "draining"
req DELETE "/api/v1/workers/$wid"; problem 409 conflict "deregister with an assigned job"
req POST "/api/v1/jobs/$cj/cancel"; expect 200 "cancel the job it holds"
req DELETE "/api/v1/workers/$wid"; expect 200 "deregister"
req POST "/api/v1/workers/$wid/heartbeat" '{"cpu":0.1}'; problem 409 conflict "heartbeat after deregistering"

# lists, history, the log, time travel
req GET "/api/v1/jobs?limit=2"; expect 200 "list page 1"
n1=$(field '["jobs"].__len__()'); next=$(field '["next"]')
[ "$n1" = 2 ] && [ "$next" != None ] || fail "first page: $body"
req GET "/api/v1/jobs?limit=2&cursor=$next"; expect 200 "list page 2"
first2=$(field '["jobs"][0]["id"]')
[ "$first2" \> "$next" ] || fail "the second page starts after the cursor"
req GET "/api/v1/jobs?status=CANCELLED"; expect 200 "list by status"
echo "$body" | $PY -c 'import json,sys; j=json.load(sys.stdin)["jobs"]; assert len(j) >= 3 and all(x["status"]=="CANCELLED" for x in j), j' ||
    fail "status filter: $body"
req GET "/api/v1/jobs?status=DONE"; problem 400 invalid-query "bad status filter"
req POST /api/v1/jobs '{"name":"nightly-fpga-build","requiredCapabilities":["fpga","x86"]}'; expect 201 "fpga job"
fid=$(field '["id"]'); fseq=$(field '["seq"]')
req GET "/api/v1/jobs?capability=fpga"; expect 200 "list by capability"
[ "$(field '["jobs"][0]["progress"]')" = 0 ] || fail "list items carry progress: $body"
[ "$(field '["jobs"].__len__()')" = 1 ] && [ "$(field '["jobs"][0]["id"]')" = "$fid" ] || fail "capability filter: $body"
[ "$(field '["jobs"][0]["assignedWorker"]')" = None ] || fail "list items carry assignedWorker: $body"
req GET "/api/v1/jobs?name_prefix=nightly-"; expect 200 "list by name prefix"
[ "$(field '["jobs"].__len__()')" = 1 ] && [ "$(field '["jobs"][0]["name"]')" = nightly-fpga-build ] || fail "name prefix: $body"
req GET "/api/v1/jobs?name_prefix=zzz"; [ "$(field '["jobs"].__len__()')" = 0 ] || fail "name prefix matches nothing: $body"
req GET "/api/v1/jobs?capability=fpga&at_seq=$((fseq - 1))"; expect 200 "list as of before the job"
[ "$(field '["jobs"].__len__()')" = 0 ] || fail "list at_seq: $body"
grep -qi "^djs-seq: $((fseq - 1))" "$T/headers" || fail "list at_seq answers DJS-Seq of the point"
req GET "/api/v1/jobs?capability=fpga&at_seq=$fseq"; [ "$(field '["jobs"].__len__()')" = 1 ] || fail "list at its seq: $body"
req GET "/api/v1/events?from_seq=1&at_seq=5"; expect 200 "events up to a point"
[ "$(field '["events"][-1]["seq"]')" = 5 ] || fail "events at_seq: $body"
req POST "/api/v1/jobs/$fid/cancel"; expect 200 "cancel the fpga job"
req GET "/api/v1/jobs/$gid/history"; expect 200 history
[ "$(field '["events"][0]["type"]')" = job.submitted ] || fail "history starts with job.submitted: $body"
field '["events"]' | grep -q "job.succeeded" || fail "history has job.succeeded"
sched=$(echo "$body" | $PY -c 'import json,sys; print([e["seq"] for e in json.load(sys.stdin)["events"] if e["type"]=="job.scheduled"][0])')
req GET "/api/v1/jobs/$gid?at_seq=$sched"; expect 200 "job as of its placement (deleted since)"
[ "$(field '["status"]')" = SCHEDULED ] || fail "time travel to at_seq: $body"
req GET "/api/v1/jobs/$gid?as_of=2000-01-01T00:00:00Z"; problem 404 not-found "job before it existed"
req GET "/api/v1/jobs/$gid?as_of=yesterday"; problem 400 invalid-query "bad as_of"
req GET "/api/v1/jobs/$gid?at_seq=999999999"; problem 400 invalid-query "at_seq beyond the log"
req GET "/api/v1/state?at_seq=$sched"; expect 200 "state as of a seq"
[ "$(field '["seq"]')" = "$sched" ] && [ "$(field '["jobs"]["SCHEDULED"]')" = 1 ] || fail "state at_seq: $body"
req GET "/api/v1/state?as_of=$($PY -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))')"; expect 200 "state as of now"
req GET "/api/v1/events?from_seq=1&limit=3"; expect 200 events
[ "$(field '["events"].__len__()')" = 3 ] && [ "$(field '["next"]')" = 4 ] || fail "events page: $body"
req GET "/api/v1/events?type=job.succeeded"; expect 200 "events by type"
[ "$(field '["events"].__len__()')" = 1 ] || fail "events by type: $body"
req GET "/api/v1/events?type=job.nothing"; problem 400 invalid-query "bad event type"

# authentication and roles
as() { local t=$1; shift; AUTH=(-H "Authorization: Bearer $t"); req "$@"; AUTH=(-H "Authorization: Bearer $TOKEN"); }
ALICE=$(djs_token alice user)
BOB=$(djs_token bob user)
OPER=$(djs_token ops operator)
WTOK=$(djs_token w9 worker)
AUTH=(); req GET /api/v1/stats; AUTH=(-H "Authorization: Bearer $TOKEN"); problem 401 unauthorized "no token"
grep -qi '^www-authenticate: Bearer' "$T/headers" || fail "401 without WWW-Authenticate"
as "garbage.token.here" GET /api/v1/stats; problem 401 unauthorized "garbage token"
FORGED=$($PY -c 'import jwt,time; print(jwt.encode({"sub":"admin","role":"admin","exp":int(time.time())+600}, "x"*32, algorithm="HS256"))')
as "$FORGED" GET /api/v1/stats; problem 401 unauthorized "token signed with another key"
EXPIRED=$($PY -c 'import jwt,time,sys; print(jwt.encode({"sub":"admin","role":"admin","exp":int(time.time())-600}, open(sys.argv[1],"rb").read(), algorithm="HS256"))' "$T/data/jwt.secret")
as "$EXPIRED" GET /api/v1/stats; problem 401 unauthorized "expired token"
as "$ALICE" POST /api/v1/jobs '{"name":"alices"}'; expect 201 "user submits"
aj=$(field '["id"]')
as "$ALICE" GET "/api/v1/jobs/$aj"; expect 200 "user reads own job"
[ "$(field '["owner"]')" = alice ] || fail "owner is the token subject"
as "$ALICE" GET "/api/v1/jobs"; expect 200 "user lists"
[ "$(field '["jobs"].__len__()')" = 1 ] && [ "$(field '["jobs"][0]["id"]')" = "$aj" ] || fail "a user lists only its own jobs: $body"
as "$BOB" GET "/api/v1/jobs/$aj/history"; problem 404 not-found "user reads another's history"
as "$BOB" GET "/api/v1/jobs/$aj"; problem 404 not-found "user reads another's job"
as "$BOB" POST "/api/v1/jobs/$aj/cancel"; problem 404 not-found "user cancels another's job"
as "$ALICE" GET /api/v1/stats; problem 403 forbidden "user reads stats"
as "$ALICE" POST /api/v1/admin/shutdown; problem 403 forbidden "user shuts down"
as "$OPER" POST /api/v1/admin/shutdown; problem 403 forbidden "operator shuts down"
as "$OPER" GET /api/v1/stats; expect 200 "operator reads stats"
as "$ALICE" POST "/api/v1/jobs/$aj/cancel"; expect 200 "user cancels own job"
as "$WTOK" POST /api/v1/workers '{"name":"not-me","slots":1}'; problem 403 forbidden "worker registers another name"
as "$WTOK" POST /api/v1/workers '{"name":"w9","slots":1}'; expect 201 "worker registers itself"
w9=$(field '["id"]')
as "$WTOK" PUT "/api/v1/workers/$wid" '{"draining":true}'; problem 403 forbidden "worker drains another"
as "$WTOK" DELETE "/api/v1/workers/$wid"; problem 403 forbidden "worker deregisters another"
as "$WTOK" PUT "/api/v1/workers/$w9" '{"draining":true}'; expect 200 "worker drains itself"
as "$WTOK" DELETE "/api/v1/workers/$w9"; expect 200 "worker deregisters itself"
as "$WTOK" POST "/api/v1/workers/$wid/heartbeat" '{"cpu":0.1}'; problem 403 forbidden "worker beats for another"
as "$WTOK" POST /api/v1/jobs '{"name":"x"}'; problem 403 forbidden "worker submits"

# batched reports: POST /workers/{id}/reports applies each report on its own, in order
req POST /api/v1/workers '{"name":"wb","slots":4,"capabilities":["batch"]}'; expect 201 "register batch worker"
wb=$(field '["id"]')
UNKNOWN=01890a5d-ac96-774b-bcce-b302099a8057
req POST /api/v1/jobs '{"jobs":[{"name":"b1","requiredCapabilities":["batch"]},{"name":"b2","requiredCapabilities":["batch"]},{"name":"b3","requiredCapabilities":["batch"]}]}'
expect 201 "batch jobs"
b1=$(field '["jobs"][0]["id"]'); b2=$(field '["jobs"][1]["id"]'); b3=$(field '["jobs"][2]["id"]')
req POST "/api/v1/workers/$wb/poll?wait=0&max=4"; expect 200 "poll batch worker"
[ "$(field '["assignments"].__len__()')" = 3 ] || fail "three assignments: $body"
[ "$(field '.get("results")')" = None ] || fail "a poll without a body has no results: $body"
rep() { echo "{\"jobId\":\"$1\",\"attempt\":$2,\"action\":\"$3\"${4:+,$4}}"; }
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$(rep "$b1" 1 start),$(rep "$b2" 2 start),$(rep "$b3" 1 complete),$(rep "$b3" 1 start),$(rep "$b1" 1 complete '"result":{"n":1}'),$(rep "$UNKNOWN" 1 start)]}"
expect 200 "mixed batch"
$PY - "$body" "$b1" "$b2" "$b3" "$UNKNOWN" <<'PY' || fail "mixed batch results: $body"
import json, sys
b = json.loads(sys.argv[1]); r = b["results"]; b1, b2, b3, unk = sys.argv[2:6]
assert [x["jobId"] for x in r] == [b1, b2, b3, b3, b1, unk], r
assert [x["status"] for x in r] == [200, 409, 409, 200, 200, 404], r
assert r[1]["type"] == "stale-attempt" and r[2]["type"] == "conflict" and r[5]["type"] == "not-found", r
assert all(x["detail"] for x in r if x["status"] != 200), r
assert r[0]["seq"] < r[3]["seq"] < r[4]["seq"] == b["seq"], b
PY
req GET "/api/v1/jobs/$b1"; [ "$(field '["status"]')" = COMPLETED ] && [ "$(field '["result"]["n"]')" = 1 ] || fail "b1 completed by a batch: $body"
req GET "/api/v1/jobs/$b3"; [ "$(field '["status"]')" = RUNNING ] || fail "b3 started by a batch: $body"
# reports on the poll: applied first, their results next to the assignments
req POST "/api/v1/workers/$wb/poll?wait=0" "{\"reports\":[$(rep "$b3" 1 progress '"percentage":50,"currentStep":"half"'),$(rep "$b3" 1 fail '"error":"boom"'),$(rep "$b2" 1 start)]}"
expect 200 "poll with reports"
$PY - "$body" "$b3" "$b2" <<'PY' || fail "poll with reports: $body"
import json, sys
b = json.loads(sys.argv[1]); b3, b2 = sys.argv[2:4]
assert [(x["jobId"], x["status"]) for x in b["results"]] == [(b3, 200), (b3, 200), (b2, 200)], b
assert b["seq"] == b["results"][2]["seq"], b
assert isinstance(b["assignments"], list), b
PY
req GET "/api/v1/jobs/$b3"; [ "$(field '["metrics"]["failures"]')" = 1 ] || fail "b3 failed by a poll's report: $body"
req POST "/api/v1/workers/$wb/poll?wait=0" '{"reports":[]}'; expect 200 "poll with no reports"
[ "$(field '["results"]')" = "[]" ] || fail "empty results: $body"
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$(rep "$b2" 1 complete)]}"; expect 200 "complete via reports"
req GET "/api/v1/jobs/$b2"; [ "$(field '["status"]')" = COMPLETED ] || fail "b2 completed: $body"
# a refused batch is refused whole: nothing of it is applied
req POST "/api/v1/workers/$wb/reports" '{"reports":[]}'; problem 400 wrong-type "no reports"
req POST "/api/v1/workers/$wb/reports" '{}'; problem 400 wrong-type "reports missing"
req POST "/api/v1/workers/$wb/reports" '{"reports":{}}'; problem 400 wrong-type "reports not an array"
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$(rep "$b2" 1 start),$(rep "$b2" 1 start),$(rep "$b2" 1 start),{\"jobId\":\"$b2\",\"attempt\":\"1\",\"action\":\"start\"}]}"
problem 400 wrong-type "attempt of an item"
[ "$(field '["detail"]')" = "reports[3].attempt must be the assignment's attempt number" ] || fail "the detail names the item: $body"
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$(rep "$b2" 1 finish)]}"; problem 400 wrong-type "unknown action"
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$(rep "$b2" 1 progress)]}"; problem 400 wrong-type "progress without percentage"
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$(rep nope 1 start)]}"; problem 400 wrong-type "bad job id"
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$(rep "$b2" 1 start '"workerId":"x"')]}"; problem 400 unknown-field "workerId in an item"
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$(rep "$b2" 1 start)],\"x\":1}"; problem 400 unknown-field "unknown top field"
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$($PY -c 'import sys; print(",".join([sys.argv[1]] * 1001))' "$(rep "$b2" 1 start)")]}"
problem 400 wrong-type "1001 reports"
req POST "/api/v1/workers/$wb/poll?wait=0" '{"reports":[1]}'; problem 400 wrong-type "poll with a bad report"
req POST "/api/v1/workers/$wb/reports" "{\"reports\":[$(rep "$b2" 1 start)]}" text/plain; problem 415 unsupported-media-type "reports as text"

as "$WTOK" POST "/api/v1/workers/$wb/reports" "{\"reports\":[{\"jobId\":\"$b2\",\"attempt\":1,\"action\":\"start\"}]}"; problem 403 forbidden "worker reports for another"
as "$WTOK" POST "/api/v1/workers/$wb/poll?wait=0" '{"reports":[]}'; problem 403 forbidden "worker polls for another"

# graceful shutdown over the API, then a restart keeps everything
req POST /api/v1/admin/shutdown; expect 202 shutdown
wait "$pid" || fail "serve exit status $?"
pid=""
grep -q "stopped cleanly" "$T/serve.out" || fail "clean stop"
djs_start_server
req GET "/api/v1/jobs/$id"; expect 200 "job after restart"
[ "$(field '["name"]')" = hello ] || fail "name after restart"
[ "$(field '["status"]')" = CANCELLED ] || fail "status after restart"
req GET "/api/v1/jobs/$gid"; problem 404 not-found "deleted job stays deleted after restart"
req GET "/api/v1/jobs/$cj"; [ "$(field '["status"]')" = CANCELLED ] && [ "$(field '["priority"]')" = LOW ] || fail "updated, cancelled job after restart"
djs_stop_server
"$DJS" replay verify "$T/data" | grep -q '^OK' || fail "log verifies after the API run"
# rate limiting: a burst of 5 per principal, then 429 with Retry-After
djs_start_server --rate-limit 1:5
codes=""
for _ in $(seq 8); do codes="$codes $(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "${AUTH[@]}" "$URL/api/v1/stats")"; done
[ "$(echo $codes | tr ' ' '\n' | grep -c 200)" -le 6 ] && echo "$codes" | grep -q 429 || fail "rate limit: $codes"
grep -qi '^retry-after: [0-9]' "$T/headers" || fail "429 without Retry-After"
grep -q "rate-limited" "$T/body" || fail "429 problem type"
as "$ALICE" GET "/api/v1/jobs"; expect 200 "another principal has its own bucket"
djs_stop_server
# snapshots: a forked child writes them while the server goes on; the next
# start restores the newest and replays only what came after it
djs_start_server --snapshot-every 20
for i in $(seq 30); do req POST /api/v1/jobs "{\"name\":\"snap-$i\"}"; expect 201 "submit $i"; done
sleep 1 # the child and the pieces: well under a second for a state this small
djs_stop_server
grep -q "snapshot.*dropped\|no snapshot at\|could not store a snapshot" "$T/serve.out" && fail "a snapshot failed"
events=$("$DJS" replay verify "$T/data" | sed -n 's/^OK .*: \([0-9]*\) records.*/\1/p')
djs_start_server
n=$(sed -n 's/.*(\([0-9]*\) events replayed after the snapshot).*/\1/p' "$T/serve.out")
[ -n "$n" ] && [ -n "$events" ] && [ "$n" -lt 20 ] && [ "$n" -lt "$events" ] ||
    fail "restart replayed $n of $events events: no snapshot used"
djs_stop_server
echo "test_api: all checks passed"
