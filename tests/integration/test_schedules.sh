#!/usr/bin/env bash
# Schedules over REST against the real djs serve: an "every 1s" schedule
# fires jobs that carry its scheduleId; paused, it stops; bad inputs get
# precise problems; users see only their own schedules.
set -euo pipefail
DJS=${1:?usage: test_schedules.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init schedules
djs_listen
req() {
    if [ $# -ge 3 ]; then
        code=$(curl -s "${AUTH[@]}" -D "$T/headers" -o "$T/body" -w '%{http_code}' -X "$1" -H "content-type: application/json" --data-binary "$3" "$URL$2")
    else
        code=$(curl -s "${AUTH[@]}" -D "$T/headers" -o "$T/body" -w '%{http_code}' -X "$1" "$URL$2")
    fi
    body=$(cat "$T/body")
}
expect() { [ "$code" = "$1" ] || fail "$2: expected $1, got $code: $body"; }
field() { echo "$body" | $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }
problem() { # status slug what
    expect "$1" "$3"
    field '["type"]' | grep -q "/$2\$" || fail "$3: problem type, got $body"
    grep -qi "^content-type: application/problem+json" "$T/headers" || fail "$3: not application/problem+json"
}
njobs() { # jobs fired by schedule $1
    req GET "/api/v1/jobs?schedule=$1&limit=500"; expect 200 "list by schedule"
    echo "$body" | $PY -c "import json,sys; print(len(json.load(sys.stdin)[\"jobs\"]))" || fail "list by schedule: $body"
}

djs_start_server
AUTH=(-H "Authorization: Bearer $(djs_token alice user)")

req POST /api/v1/schedules '{"name":"tick","spec":"every 1s","overlap":"allow","job":{"name":"tick","payload":{"cmd":"true"}}}'
expect 201 create
sid=$(field '["id"]')
[ "$(field '["spec"]')" = "every 1s" ] || fail "spec echoed"
[ "$(field '["tz"]')" = "UTC" ] || fail "tz default"
[ "$(field '["overlap"]')" = "allow" ] || fail "overlap"
[ "$(field '["catchUp"]')" = "none" ] || fail "catch-up default"
[ "$(field '["job"]["name"]')" = "tick" ] || fail "template echoed"

# jobs appear, each with the schedule's id
n=0
for _ in $(seq 1 50); do
    n=$(njobs "$sid")
    [ "$n" -ge 2 ] && break
    sleep 0.2
done
[ "$n" -ge 2 ] || fail "no fires after 10 s: $n"
req GET "/api/v1/jobs?schedule=$sid"; expect 200 "list by schedule"
jid=$(field '["jobs"][0]["id"]')
req GET "/api/v1/jobs/$jid"; expect 200 "fired job"
[ "$(field '["scheduleId"]')" = "$sid" ] || fail "scheduleId on the job: $body"
req GET "/api/v1/schedules/$sid"; expect 200 "get schedule"
[ "$(field '["fires"]')" -ge 2 ] || fail "fires counted"

# pause: they stop
req POST "/api/v1/schedules/$sid/pause"; expect 200 pause
[ "$(field '["paused"]')" = "True" ] || fail "paused"
pseq=$(field '["seq"]')
# time travel: just before the pause it was running, at the pause paused; no next fire at a past point
req GET "/api/v1/schedules?at_seq=$((pseq - 1))"; expect 200 "schedules at_seq"
[ "$(field '["seq"]')" = "$((pseq - 1))" ] || fail "schedules at_seq answers its seq: $body"
[ "$(field '["schedules"][0]["paused"]')" = False ] || fail "schedule before the pause: $body"
[ "$(field '["schedules"][0]["nextFireAt"]')" = None ] || fail "nextFireAt at a past point: $body"
req GET "/api/v1/schedules?at_seq=$pseq"; expect 200 "schedules at the pause"
[ "$(field '["schedules"][0]["paused"]')" = True ] || fail "schedule at the pause: $body"
req GET "/api/v1/schedules?at_seq=1"; expect 200 "schedules at seq 1"
[ "$(field '["schedules"]')" = "[]" ] || fail "no schedule at seq 1: $body"
req POST "/api/v1/schedules/$sid/pause"; problem 409 conflict "pause twice"
a=$(njobs "$sid"); sleep 2.5; b=$(njobs "$sid")
[ "$a" = "$b" ] || fail "fired while paused: $a then $b"
req POST "/api/v1/schedules/$sid/resume"; expect 200 resume
for _ in $(seq 1 50); do
    c=$(njobs "$sid")
    [ "$c" -gt "$b" ] && break
    sleep 0.2
done
[ "$c" -gt "$b" ] || fail "no fire after resume"

# list, update, another user's view
req GET /api/v1/schedules; expect 200 list
[ "$(field '["schedules"][0]["id"]')" = "$sid" ] || fail "list"
req PUT "/api/v1/schedules/$sid" '{"name":"hourly","spec":"@hourly","tz":"UTC","job":{"name":"h"}}'
expect 200 update
[ "$(field '["spec"]')" = "@hourly" ] || fail "updated spec"
BOB=(-H "Authorization: Bearer $(djs_token bob user)")
code=$(curl -s "${BOB[@]}" -o /dev/null -w '%{http_code}' "$URL/api/v1/schedules/$sid")
[ "$code" = 404 ] || fail "another user sees the schedule: $code"

# bad inputs
req POST /api/v1/schedules '{"name":"x","spec":"* * *","job":{"name":"x"}}'; problem 422 invalid-value "bad spec"
echo "$body" | grep -q "spec" || fail "spec named: $body"
req POST /api/v1/schedules '{"name":"x","spec":"@daily","tz":"Mars/Base","job":{"name":"x"}}'; problem 422 invalid-value "bad tz"
req POST /api/v1/schedules '{"name":"x","spec":"@daily","job":{"nope":1}}'; problem 422 invalid-value "bad template"
req POST /api/v1/schedules '{"name":"x","spec":"@daily"}'; problem 400 wrong-type "no job"
req POST /api/v1/schedules '{"name":"x","spec":"@daily","overlap":"sometimes","job":{"name":"x"}}'; problem 400 wrong-type "bad overlap"
req POST /api/v1/schedules '{"name":"x","spec":"@daily","startAt":"yesterday","job":{"name":"x"}}'; problem 400 wrong-type "bad startAt"
req POST /api/v1/schedules '{"name":"x","spec":"@daily","color":"red","job":{"name":"x"}}'; expect 400 "unknown field"
req POST /api/v1/schedules '{"name":"x","spec":"@daily","startAt":"2030-01-02T00:00:00Z","endAt":"2030-01-01T00:00:00Z","job":{"name":"x"}}'
problem 422 invalid-value "end before start"
req GET /api/v1/schedules/01890000-0000-7000-8000-000000000001; problem 404 not-found "unknown schedule"
req GET "/api/v1/jobs?schedule=nope"; expect 400 "bad schedule filter"

req DELETE "/api/v1/schedules/$sid"; expect 200 delete
[ "$(field '["status"]')" = DELETED ] || fail "deleted"
req DELETE "/api/v1/schedules/$sid"; problem 404 not-found "delete twice"
djs_stop_server
echo "test_schedules: ok"
