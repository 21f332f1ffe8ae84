#!/usr/bin/env bash
# Delayed jobs over the API and "why isn't my job running?": curl against
# the real djs serve. A job delayed 2 s stays CREATED (pending: scheduled)
# and is delivered to a worker's poll only after its time; GET /jobs/{id}
# shows the whole spec and the pending reasons; GET /stats counts the
# pending jobs by reason; bad times and delays are refused.
set -euo pipefail
DJS=${1:?usage: test_pending.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init pending
djs_listen
req() {
    if [ $# -ge 3 ]; then
        code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X "$1" -H "content-type: application/json" --data-binary "$3" "$URL$2")
    else
        code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X "$1" "$URL$2")
    fi
    body=$(cat "$T/body")
}
expect() { [ "$code" = "$1" ] || fail "$2: expected $1, got $code: $body"; }
field() { echo "$body" | $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }
problem() { # status slug what
    expect "$1" "$3"
    field '["type"]' | grep -q "/$2\$" || fail "$3: problem type, got $body"
}
# check WHAT PYTHON-EXPR: the expression holds for j, the body as JSON
check() { echo "$body" | $PY -c "import json,sys; j=json.load(sys.stdin); assert $2, j" || fail "$1: $body"; }

djs_start_server
TOKEN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $TOKEN")

# ---- bad input: 400 for shape, 422 past the horizon ----
for bad in '"tomorrow"' '"2026-13-01T00:00:00Z"' '"2026-11-27T10:02:00"' '"2026-11-27 10:02:00Z"' '12' 'null' '"99999-01-01T00:00:00Z"' '"1969-12-31T23:59:59Z"'; do
    req POST /api/v1/jobs "{\"name\":\"x\",\"scheduledAt\":$bad}"; problem 400 wrong-type "scheduledAt $bad"
done
for bad in -1 1.5 '"10"' true null '[]'; do
    req POST /api/v1/jobs "{\"name\":\"x\",\"delaySeconds\":$bad}"; problem 400 wrong-type "delaySeconds $bad"
done
req POST /api/v1/jobs '{"name":"x","delaySeconds":5,"scheduledAt":"2030-01-01T00:00:00Z"}'; problem 400 conflicting-fields both
req POST /api/v1/jobs '{"jobs":[{"key":"a","name":"a","delaySeconds":1,"scheduledAt":"2030-01-01T00:00:00Z"}]}'
problem 400 conflicting-fields "both in a workflow"
req POST /api/v1/jobs '{"name":"x","delaySeconds":31622401}'; problem 422 invalid-value "delay past 366 days"
req POST /api/v1/jobs '{"name":"x","delaySeconds":100000000000000000}'; problem 422 invalid-value "huge delay"
req POST /api/v1/jobs '{"name":"x","scheduledAt":"2500-01-01T00:00:00Z"}'; problem 422 invalid-value "scheduledAt far ahead"
req POST /api/v1/jobs '{"jobs":[{"key":"a","name":"a","delaySeconds":-3}]}'; problem 400 wrong-type "negative delay in a workflow"
field '["detail"]' | grep -q 'jobs\[0\].delaySeconds' || fail "workflow detail names the job: $body"

# ---- no worker yet: a job needing gpu says so ----
req POST /api/v1/jobs '{"name":"train","requiredCapabilities":["gpu"],"payload":{"cmd":"true","n":[1,2]},"timeoutSeconds":30,"maxRetries":2}'
expect 201 "gpu job"
gpu=$(field '["id"]')
req GET "/api/v1/jobs/$gpu"; expect 200 "get gpu job"
check "whole spec" 'j["payload"] == {"cmd": "true", "n": [1, 2]} and j["requiredCapabilities"] == ["gpu"] and j["scheduledAt"] is None and j["timeoutSeconds"] == 30 and j["maxRetries"] == 2 and j["workflow"] is None and j["schedule"] is None and j["dependencies"] == []'
check "no capable worker" 'j["pending"]["reason"] == "no-capable-worker" and j["pending"]["reasons"] == ["no-capable-worker"] and "gpu" in j["pending"]["detail"] and j["pending"]["workers"]["capable"] == 0 and j["pending"]["position"]["ahead"] == 0 and j["pending"]["position"]["tier"] == "NORMAL" and j["pending"]["concurrency"] is None'

# a dependent of it: waiting for dependencies, listed with their states
req POST /api/v1/jobs "{\"name\":\"after\",\"dependencies\":[\"$gpu\"]}"; expect 201 dependent
dep=$(field '["id"]')
req GET "/api/v1/jobs/$dep"
check "dependencies" 'j["status"] == "CREATED" and j["pending"]["reason"] == "waiting-for-dependencies" and j["pending"]["dependencies"]["unmet"] == 1 and j["pending"]["dependencies"]["waitingFor"][0]["status"] == "QUEUED" and j["pending"]["position"] is None'

# ---- a worker with one slot, a delayed job, a job behind a busy slot ----
req POST /api/v1/workers '{"name":"w1","slots":1}'; expect 201 "register worker"
wid=$(field '["id"]')
req POST /api/v1/jobs '{"name":"first"}'; expect 201 first
first=$(field '["id"]')
req POST "/api/v1/workers/$wid/poll?wait=2"; expect 200 "poll first"
check "first delivered" "any(a['jobId'] == '$first' for a in j['assignments'])"
req POST /api/v1/jobs '{"name":"second"}'; expect 201 second
second=$(field '["id"]')
req POST /api/v1/jobs '{"name":"third","priority":"LOW"}'; expect 201 third
third=$(field '["id"]')
req GET "/api/v1/jobs/$first"; check "running job has no pending" '"pending" not in j'
req GET "/api/v1/jobs/$second"
check "workers busy" "j['pending']['reason'] == 'workers-busy' and j['pending']['workers']['slotsBusy'] == 1 and j['pending']['workers']['listed'][0]['id'] == '$wid' and j['pending']['workers']['listed'][0]['name'] == 'w1' and j['pending']['position']['ahead'] == 0"
req GET "/api/v1/jobs/$third"
check "position" 'j["pending"]["position"]["tier"] == "LOW" and j["pending"]["position"]["aheadInBetterTiers"] == 1 and j["pending"]["position"]["aheadAtLeast"] is False and j["pending"]["position"]["readyInTier"] == 1'

# delaySeconds: turned into an absolute time at arrival, shown as scheduledAt
t0=$(date +%s.%N)
req POST /api/v1/jobs '{"name":"later","delaySeconds":2}'; expect 201 "delayed job"
later=$(field '["id"]')
req GET "/api/v1/jobs/$later"; expect 200 "get delayed"
check "delayed: CREATED and scheduled" 'j["status"] == "CREATED" and j["scheduledAt"] is not None and j["pending"]["reason"] == "scheduled" and j["pending"]["until"] == j["scheduledAt"]'
$PY - "$body" "$t0" <<'PY' || fail "scheduledAt is not about 2 s after the submission: $body"
import json, sys, datetime
j = json.loads(sys.argv[1])
at = datetime.datetime.strptime(j["scheduledAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
assert 1.5 <= at - float(sys.argv[2]) <= 3.5, at - float(sys.argv[2])
PY
req GET /api/v1/jobs
check "list shows scheduledAt" "[x['scheduledAt'] for x in j['jobs'] if x['id'] == '$later'][0] is not None"
req GET /api/v1/stats; expect 200 stats
check "stats by reason" 'j["pendingByReason"]["scheduled"] == 1 and j["pendingByReason"]["workers-busy"] == 2 and j["pendingByReason"]["no-capable-worker"] == 1 and j["pendingByReason"]["waiting-for-dependencies"] == 1 and j["pendingByReason"]["retry-backoff"] == 0'

# free the slot: second and third run, then the delayed one only after its time
for j in "$first"; do
    req POST "/api/v1/jobs/$j/start" "{\"workerId\":\"$wid\",\"attempt\":1}"; expect 200 "start $j"
    req POST "/api/v1/jobs/$j/complete" "{\"workerId\":\"$wid\",\"attempt\":1}"; expect 200 "complete $j"
done
for j in "$second" "$third"; do
    req POST "/api/v1/workers/$wid/poll?wait=2"; expect 200 "poll $j"
    check "$j delivered" "any(a['jobId'] == '$j' for a in j['assignments'])"
    req POST "/api/v1/jobs/$j/start" "{\"workerId\":\"$wid\",\"attempt\":1}"; expect 200 "start $j"
    req POST "/api/v1/jobs/$j/complete" "{\"workerId\":\"$wid\",\"attempt\":1}"; expect 200 "complete $j"
done
now=$(date +%s.%N)
if $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) - float(sys.argv[2]) < 1.8 else 1)" "$now" "$t0"; then
    req GET "/api/v1/jobs/$later"; check "still waiting before its time" 'j["status"] == "CREATED"'
fi
req POST "/api/v1/workers/$wid/poll?wait=5"; expect 200 "poll delayed"
check "delayed job delivered" "any(a['jobId'] == '$later' for a in j['assignments'])"
done_at=$(date +%s.%N)
$PY -c "import sys; d = float(sys.argv[1]) - float(sys.argv[2]); sys.exit(0 if d >= 1.9 else 1)" "$done_at" "$t0" ||
    fail "the delayed job was delivered before its time"
req GET "/api/v1/jobs/$later"; check "delayed job scheduled" 'j["status"] == "SCHEDULED" and "pending" not in j'

# scheduledAt in the past runs now; in a workflow, each job has its own time
req POST /api/v1/jobs '{"name":"past","scheduledAt":"2020-01-01T00:00:00Z"}'; expect 201 "past time"
past=$(field '["id"]')
req GET "/api/v1/jobs/$past"; check "past time queued" 'j["status"] == "QUEUED" and j["scheduledAt"] == "2020-01-01T00:00:00.000Z"'
req POST /api/v1/jobs '{"jobs":[{"key":"a","name":"a","scheduledAt":"2099-01-01T00:00:00+01:00"},{"key":"b","name":"b","dependsOn":["a"],"delaySeconds":60}]}'
problem 422 invalid-value "workflow past the horizon"
req POST /api/v1/jobs '{"jobs":[{"key":"a","name":"a","delaySeconds":3600},{"key":"b","name":"b","dependsOn":["a"]}]}'
expect 201 "workflow with a delay"
wa=$(field '["jobs"][0]["id"]')
wb=$(field '["jobs"][1]["id"]')
req GET "/api/v1/jobs/$wa"; check "workflow job scheduled" 'j["pending"]["reason"] == "scheduled" and j["workflow"] is not None'
req GET "/api/v1/jobs/$wb"; check "workflow dependent" "j['pending']['reason'] == 'waiting-for-dependencies' and j['pending']['dependencies']['waitingFor'][0]['id'] == '$wa' and j['pending']['dependencies']['waitingFor'][0]['status'] == 'CREATED'"

# drain the worker: the next job finds its capable worker unavailable
req PUT "/api/v1/workers/$wid" '{"draining":true}'; expect 200 drain
req POST /api/v1/jobs '{"name":"stuck"}'; expect 201 stuck
stuck=$(field '["id"]')
req GET "/api/v1/jobs/$stuck"; check "workers unavailable" 'j["pending"]["reason"] == "workers-unavailable" and j["pending"]["workers"]["draining"] == 1'

# a read at a point of the log has no pending (it is about now), but the spec
req GET "/api/v1/jobs/$stuck?at_seq=$(field '["seq"]')"; check "time travel read" '"pending" not in j and j["scheduledAt"] is None'
# and an evicted or finished job: the spec, no pending
req GET "/api/v1/jobs/$first"; check "finished job spec" 'j["status"] == "COMPLETED" and j["payload"] is None and j["requiredCapabilities"] == [] and "pending" not in j'
echo "test_pending: ok"
