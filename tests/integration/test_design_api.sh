#!/usr/bin/env bash
# The original API design's spellings, served beside ours: GET
# /api/v1/health and /api/v1/metrics answer as /health and /metrics, and
# POST /api/v1/workers takes hostName, hostAddress, port,
# maxConcurrentJobs and tags (recorded in worker.registered, shown by GET
# /workers, kept across a restart and in time travel). Both spellings of
# one field with different values: 400 conflicting-fields.
set -euo pipefail
DJS=${1:?usage: test_design_api.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init design_api
# req METHOD PATH [BODY] -> sets $code and $body
req() {
    if [ $# -ge 3 ]; then
        code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X "$1" -H 'content-type: application/json' --data-binary "$3" "$URL$2")
    else
        code=$(curl -s "${AUTH[@]}" -o "$T/body" -w '%{http_code}' -X "$1" "$URL$2")
    fi
    body=$(cat "$T/body")
}
expect() { [ "$code" = "$1" ] || fail "$2: expected $1, got $code: $body"; }
field() { echo "$body" | $PY -c "import json,sys; print(json.dumps(json.load(sys.stdin)$1))"; }
problem() { # status slug what
    expect "$1" "$3"
    [ "$(field '["type"]')" = "\"https://djs.dev/problems/$2\"" ] || fail "$3: problem type, got $body"
}

djs_start_server
TOKEN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $TOKEN")

# ---- health and metrics under /api/v1 ----
[ "$(curl -s "$URL/api/v1/health")" = "$(curl -s "$URL/health")" ] || fail "/api/v1/health differs from /health"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/health")" = 200 ] || fail "/api/v1/health needs no token"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/metrics")" = 401 ] || fail "/api/v1/metrics needs a token, as /metrics"
curl -s "${AUTH[@]}" "$URL/api/v1/metrics" >"$T/m1"
curl -s "${AUTH[@]}" "$URL/metrics" >"$T/m2"
if [ -x /usr/bin/promtool ]; then /usr/bin/promtool check metrics <"$T/m1" || fail "promtool check of /api/v1/metrics"; fi
# the same families (values move between two scrapes)
grep '^# TYPE' "$T/m1" >"$T/t1"
grep '^# TYPE' "$T/m2" >"$T/t2"
[ -s "$T/t1" ] && diff -u "$T/t1" "$T/t2" || fail "/api/v1/metrics and /metrics expose different families"
grep -q '^djs_http_requests_total{route="/api/v1/health",method="GET",status="2xx"}' "$T/m2" || fail "/api/v1/health counted by route"

# ---- the design's worker fields ----
req POST /api/v1/workers '{"name":"d1","hostName":"h1","hostAddress":"10.0.0.5","port":8081,"maxConcurrentJobs":3,"tags":["gpu-box","eu"]}'
expect 201 "register with the design's fields"
wid=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$body")
seq1=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["seq"])' "$body")
check_d1() { # what: the worker as registered first
    req GET "/api/v1/workers/$wid${2:-}"; expect 200 "$1"
    [ "$(field '["host"]')" = '"h1"' ] || fail "$1: hostName is host: $body"
    [ "$(field '["slots"]')" = 3 ] || fail "$1: maxConcurrentJobs is slots: $body"
    [ "$(field '["hostAddress"]')" = '"10.0.0.5"' ] || fail "$1: hostAddress: $body"
    [ "$(field '["port"]')" = 8081 ] || fail "$1: port: $body"
    [ "$(field '["tags"]')" = '["gpu-box", "eu"]' ] || fail "$1: tags: $body"
}
check_d1 "the worker shows them"
req GET /api/v1/workers; expect 200 "list"
[ "$(field '["workers"][0]["tags"]')" = '["gpu-box", "eu"]' ] || fail "list shows tags: $body"
# recorded in the event body
req GET "/api/v1/events?limit=100"; expect 200 events
[ "$(field "[\"events\"][$((seq1 - 1))][\"body\"]")" = \
  '{"name": "d1", "host": "h1", "addr": "10.0.0.5", "port": 8081, "tags": ["gpu-box", "eu"], "slots": 3, "caps": []}' ] ||
    fail "worker.registered body: $body"
# the same job placed by slots: 3 slots, 3 assignments
for i in 1 2 3 4; do req POST /api/v1/jobs "{\"name\":\"j$i\"}"; expect 201 "submit j$i"; done
req POST "/api/v1/workers/$wid/poll?wait=1&max=8"; expect 200 poll
[ "$($PY -c 'import json,sys; print(len(json.loads(sys.argv[1])["assignments"]))' "$body")" = 3 ] ||
    fail "maxConcurrentJobs 3 gives three assignments: $body"

# both spellings: equal values are one value; different ones are refused
req POST /api/v1/workers '{"name":"d2","host":"h","hostName":"h","slots":2,"maxConcurrentJobs":2}'; expect 201 "both spellings, equal"
req POST /api/v1/workers '{"name":"d2","host":"h","hostName":"other"}'; problem 400 conflicting-fields "host and hostName differ"
echo "$body" | grep -q 'host and hostName' || fail "the problem names both fields: $body"
req POST /api/v1/workers '{"name":"d2","slots":2,"maxConcurrentJobs":4}'; problem 400 conflicting-fields "slots and maxConcurrentJobs differ"
echo "$body" | grep -q 'slots and maxConcurrentJobs' || fail "the problem names both fields: $body"
req POST /api/v1/workers '{"name":"d2","slots":2,"maxConcurrentJobs":"2"}'; problem 400 conflicting-fields "2 and \"2\" differ"
# wrong values name the spelling given
req POST /api/v1/workers '{"name":"d2","maxConcurrentJobs":0}'; problem 400 wrong-type "maxConcurrentJobs 0"
echo "$body" | grep -q 'maxConcurrentJobs must be' || fail "names maxConcurrentJobs: $body"
req POST /api/v1/workers '{"name":"d2","hostName":5}'; problem 400 wrong-type "hostName 5"
echo "$body" | grep -q 'hostName must be' || fail "names hostName: $body"
req POST /api/v1/workers '{"name":"d2","port":70000}'; problem 400 wrong-type "port 70000"
req POST /api/v1/workers '{"name":"d2","hostAddress":"a b"}'; problem 422 invalid-value "hostAddress with a space"
req POST /api/v1/workers "{\"name\":\"d2\",\"tags\":[$($PY -c 'print(",".join(["\"t\""] * 33))')]}"; problem 422 limit-exceeded "33 tags"
req POST /api/v1/workers '{"name":"d2","tags":[""]}'; problem 422 invalid-value "an empty tag"
req GET /api/v1/workers; [ "$($PY -c 'import json,sys; print(len(json.loads(sys.argv[1])["workers"]))' "$body")" = 2 ] ||
    fail "refused registrations registered nothing: $body"

# a registration states them anew: without them, none
req POST /api/v1/workers '{"name":"d1","host":"h1","slots":3}'; expect 201 "register d1 again"
seq2=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["seq"])' "$body")
req GET "/api/v1/workers/$wid"; expect 200 "d1 again"
[ "$(field '["hostAddress"]')" = null ] && [ "$(field '["port"]')" = null ] && [ "$(field '["tags"]')" = '[]' ] ||
    fail "re-registered without them: $body"
# time travel shows the first registration's
check_d1 "as of the first registration" "?at_seq=$seq1"

# a restart replays them (from the log, or a snapshot)
req POST /api/v1/workers '{"name":"d1","hostAddress":"fe80::1%eth0","port":1,"tags":["z"]}'; expect 201 "register d1 a third time"
djs_stop_server
djs_start_server
req GET "/api/v1/workers/$wid"; expect 200 "after a restart"
[ "$(field '["hostAddress"]')" = '"fe80::1%eth0"' ] && [ "$(field '["port"]')" = 1 ] && [ "$(field '["tags"]')" = '["z"]' ] ||
    fail "after a restart: $body"
req GET "/api/v1/workers/$wid?at_seq=$seq2"; expect 200 "as of the second registration, after a restart"
[ "$(field '["tags"]')" = '[]' ] || fail "time travel after a restart: $body"
djs_stop_server
"$DJS" replay verify "$T/data" | grep -q "^OK" || fail "the log verifies"
echo "test_design_api: ok"
