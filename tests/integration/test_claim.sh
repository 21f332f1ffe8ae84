#!/usr/bin/env bash
# Claim on poll (POST /workers/{id}/poll?claim=true): the assignments it
# delivers are started in the same durable step as their placement, so the
# job is RUNNING when the worker receives it; fencing is unchanged.
set -euo pipefail
DJS=${1:?usage: test_claim.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init claim
djs_listen
req() { # METHOD PATH [BODY] -> $code, $body
    if [ $# -ge 3 ]; then
        code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X "$1" -H 'content-type: application/json' --data-binary "$3" "$URL$2")
    else
        code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X "$1" "$URL$2")
    fi
    body=$(cat "$T/body")
}
expect() { [ "$code" = "$1" ] || fail "$2: expected $1, got $code: $body"; }
field() { echo "$body" | $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }
status() { req GET "/api/v1/jobs/$1"; field '["status"]'; }
rep() { echo "{\"jobId\":\"$1\",\"attempt\":$2,\"action\":\"$3\"${4:+,$4}}"; }
# one_claimed FILE JOB: the answer delivers JOB, claimed, attempt 1, with its payload
one_claimed() {
    $PY - "$1" "$2" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["assignments"]
assert len(a) == 1 and a[0]["jobId"] == sys.argv[2] and a[0]["attempt"] == 1 and a[0]["claimed"] is True, a
assert a[0]["payload"] == {"cmd": "true"} and a[0]["leaseDeadline"], a
PY
}

djs_start_server
AUTH=(-H "Authorization: Bearer $(djs_token admin admin)")
req POST /api/v1/workers '{"name":"wc","slots":1,"capabilities":["claim"]}'; expect 201 register
wid=$(field '["id"]')

# bad values of claim
for v in maybe TRUE 1 ""; do
    req POST "/api/v1/workers/$wid/poll?wait=0&claim=$v"; expect 400 "claim=$v"
    [ "$(field '["type"]' | sed 's|.*/||')" = invalid-query ] || fail "claim=$v: $body"
done

# placed before the poll: claimed by it
req POST /api/v1/jobs '{"name":"c1","requiredCapabilities":["claim"],"payload":{"cmd":"true"}}'; expect 201 submit
j1=$(field '["id"]')
djs_wait_status "$j1" SCHEDULED 5
req POST "/api/v1/workers/$wid/poll?wait=5&claim=true"; expect 200 "claim poll"
echo "$body" >"$T/p1"
one_claimed "$T/p1" "$j1" || fail "claim of a placed job: $body"
[ "$(status "$j1")" = RUNNING ] || fail "claimed job RUNNING: $body"
# the delivered attempt's start again: acknowledged (no event); a stale attempt: 409
req POST "/api/v1/jobs/$j1/start" "{\"workerId\":\"$wid\",\"attempt\":1}"; expect 200 "repeated start"
req POST "/api/v1/jobs/$j1/start" "{\"workerId\":\"$wid\",\"attempt\":2}"; expect 409 "stale start"
req POST "/api/v1/jobs/$j1/complete" "{\"workerId\":\"$wid\",\"attempt\":2}"; expect 409 "stale complete"
started=$(djs_history "$j1" 'sum(e["type"] == "job.started" for e in ev)')
[ "$started" = 1 ] || fail "one job.started, got $started"

# a parked claim poll woken by a placement, carrying the last job's completion
curl -s "${AUTH[@]}" -X POST -H 'content-type: application/json' --data-binary "{\"reports\":[$(rep "$j1" 1 complete)]}" \
    "$URL/api/v1/workers/$wid/poll?wait=10&claim=true" >"$T/p2" &
poller=$!
sleep 0.5
[ "$(status "$j1")" = COMPLETED ] || fail "the poll's report applied before it waits: $body"
req POST /api/v1/jobs '{"name":"c2","requiredCapabilities":["claim"],"payload":{"cmd":"true"}}'; expect 201 submit
j2=$(field '["id"]')
wait $poller
one_claimed "$T/p2" "$j2" || fail "parked claim poll: $(cat "$T/p2")"
$PY -c 'import json,sys; b=json.load(open(sys.argv[1])); assert b["results"][0]["status"] == 200, b' "$T/p2" ||
    fail "the poll's results: $(cat "$T/p2")"
[ "$(status "$j2")" = RUNNING ] || fail "woken claim: RUNNING: $body"
pair=$(djs_history "$j2" '[(e["type"], e["seq"]) for e in ev if e["type"] in ("job.scheduled", "job.started")]')
$PY -c 'import sys; p = eval(sys.argv[1]); assert [t for t, _ in p] == ["job.scheduled", "job.started"] and p[1][1] == p[0][1] + 1, p' "$pair" ||
    fail "scheduled then started, one after the other: $pair"
req POST "/api/v1/workers/$wid/reports" "{\"reports\":[$(rep "$j2" 1 complete)]}"; expect 200 "complete c2"

# claim=false: today's poll (the assignment is SCHEDULED, not claimed); a
# plain poll also ends claims at placement for the worker
req POST "/api/v1/workers/$wid/poll?wait=0&claim=false"; expect 200 "plain empty poll"
req POST /api/v1/jobs '{"name":"c3","requiredCapabilities":["claim"],"payload":{"cmd":"true"}}'; expect 201 submit
j3=$(field '["id"]')
djs_wait_status "$j3" SCHEDULED 5
req POST "/api/v1/workers/$wid/poll?wait=5&claim=false"; expect 200 "plain poll"
[ "$(field '["assignments"][0]["jobId"]')" = "$j3" ] && [ "$(field '["assignments"][0].get("claimed")')" = None ] ||
    fail "plain poll: $body"
[ "$(status "$j3")" = SCHEDULED ] || fail "plain poll leaves it SCHEDULED: $body"
# a claim poll now claims it too (placed before the poll)
req POST "/api/v1/workers/$wid/poll?wait=0&claim=true"; expect 200 "claim the plain one"
[ "$(field '["assignments"][0]["claimed"]')" = True ] || fail "claimed: $body"
[ "$(status "$j3")" = RUNNING ] || fail "c3 RUNNING: $body"
# an empty claim poll: nothing to claim
req POST "/api/v1/workers/$wid/poll?wait=0&claim=true"; expect 200 "empty claim poll"
[ "$(field '["assignments"]')" = "[]" ] || fail "empty claim poll: $body"
req POST "/api/v1/workers/$wid/reports" "{\"reports\":[$(rep "$j3" 1 complete)]}"; expect 200 "complete c3"
# a worker whose polls claim: a job placed on it while no poll is parked is
# started with its placement (one commit) and handed to the next claim poll
req POST /api/v1/jobs '{"name":"c4","requiredCapabilities":["claim"],"payload":{"cmd":"true"}}'; expect 201 submit
j4=$(field '["id"]')
djs_wait_status "$j4" RUNNING 5
pair=$(djs_history "$j4" '[(e["type"], e["seq"]) for e in ev if e["type"] in ("job.scheduled", "job.started")]')
$PY -c 'import sys; p = eval(sys.argv[1]); assert [t for t, _ in p] == ["job.scheduled", "job.started"] and p[1][1] == p[0][1] + 1, p' "$pair" ||
    fail "c4 claimed at its placement: $pair"
req POST "/api/v1/workers/$wid/poll?wait=5&claim=true"; expect 200 "claim poll after a placement"
echo "$body" >"$T/p4"
one_claimed "$T/p4" "$j4" || fail "the claim at placement handed out: $body"
req POST "/api/v1/workers/$wid/poll?wait=0&claim=true"; expect 200 "handed out once"
[ "$(field '["assignments"]')" = "[]" ] || fail "a claim is handed out once: $body"
echo "claim: ok"
