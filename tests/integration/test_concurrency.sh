#!/usr/bin/env bash
# Concurrency limits over REST with a real server and agent: two jobs with
# the same concurrencyKey and limit 1 on an agent with free slots; the
# second waits until the first completes, while a job without a key runs at
# once. GET shows the fields; bad values are refused.
set -euo pipefail
DJS=${1:?usage: test_concurrency.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init concurrency
mkdir -p "$T/wd"
djs_start_server --heartbeat-interval 1
ADMIN=$(djs_token admin admin)
TW=$(djs_token w1 worker)
AUTH=(-H "Authorization: Bearer $ADMIN")
"$DJS" worker --server "$URL" --token "$TW" --name w1 --slots 3 --workdir "$T/wd" --heartbeat 0.3 >>"$T/w1.out" 2>&1 &

post() {
    code=$(djs_api -o "$T/post" -w '%{http_code}' -H 'content-type: application/json' --data-binary "$1" "$URL/api/v1/jobs")
    body=$(cat "$T/post")
}

wait_go=$(djs_exec_payload "while [ ! -f '$T/go' ]; do sleep 0.05; done; echo first")
djs_submit "{\"name\":\"deploy-1\",\"concurrencyKey\":\"deploy/api\",\"concurrencyLimit\":1,\"payload\":$wait_go}"
first=$id
djs_wait_status "$first" RUNNING 20
djs_submit "{\"name\":\"deploy-2\",\"concurrencyKey\":\"deploy/api\",\"concurrencyLimit\":1,\"payload\":$(djs_exec_payload 'echo second')}"
second=$id
[ "$(djs_jfield "$second" '["concurrencyKey"]')" = deploy/api ] || fail "GET shows concurrencyKey: $(djs_get "jobs/$second")"
[ "$(djs_jfield "$second" '["concurrencyLimit"]')" = 1 ] || fail "GET shows concurrencyLimit"
# a job without a key is not held up by the full key
djs_submit "{\"name\":\"other\",\"payload\":$(djs_exec_payload 'echo other')}"
other=$id
djs_wait_status "$other" COMPLETED 20
[ "$(djs_jfield "$other" '.get("concurrencyKey", "none")')" = none ] || fail "no key: no field"
sleep 1
[ "$(djs_jfield "$second" '["status"]')" = QUEUED ] || fail "the second job of the key must wait: $(djs_get "jobs/$second")"
[ "$(djs_jfield "$first" '["status"]')" = RUNNING ] || fail "the first job still runs"
touch "$T/go"
djs_wait_status "$first" COMPLETED 20
djs_wait_status "$second" COMPLETED 20
# it was placed only after the first one finished
done_seq=$(djs_history "$first" '[e["seq"] for e in ev if e["type"] == "job.succeeded"][0]')
sched_seq=$(djs_history "$second" '[e["seq"] for e in ev if e["type"] == "job.scheduled"][0]')
[ "$sched_seq" -gt "$done_seq" ] || fail "second scheduled at seq $sched_seq, first succeeded at $done_seq"

# refusals
post '{"name":"bad","concurrencyKey":"k","concurrencyLimit":0}'
[ "$code" = 400 ] || [ "$code" = 422 ] || fail "concurrencyLimit 0: $code $body"
post '{"name":"bad","concurrencyKey":""}'
[ "$code" = 400 ] || [ "$code" = 422 ] || fail "empty concurrencyKey: $code $body"
post '{"name":"bad","concurrencyLimit":2}'
[ "$code" = 422 ] || fail "concurrencyLimit without a key: $code $body"
post "{\"name\":\"bad\",\"concurrencyKey\":\"$(printf 'k%.0s' $(seq 129))\"}"
[ "${code:0:1}" = 4 ] || fail "concurrencyKey of 129 bytes: $code $body"
# in a workflow, and a key alone means a limit of 1
post '{"jobs":[{"key":"a","name":"wa","concurrencyKey":"wf","requiredCapabilities":["nobody"]},{"key":"b","name":"wb","dependsOn":["a"]}]}'
[ "$code" = 201 ] || fail "workflow with a key: $code $body"
wa=$($PY -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])' <<<"$body")
[ "$(djs_jfield "$wa" '["concurrencyLimit"]')" = 1 ] || fail "a key alone: limit 1: $(djs_get "jobs/$wa")"
# the engine benchmark's run of queued jobs under keys: both figures, a JSON line
djs_stop_server
"$DJS" bench engine --jobs 1000 --workers 20 --queued 2000 --keys 10 --limit 2 >"$T/bench.out"
grep '"bench":"engine-queued"' "$T/bench.out" | $PY -c '
import json, sys
r = json.loads(sys.stdin.read())
for k in ("place_ns_per_job", "keys_place_ns_per_job", "keys_ratio", "jobs_per_s", "keys_jobs_per_s"):
    assert k in r and r[k] > 0, k
assert r["jobs"] == 2000 and r["keys"] == 10 and r["limit"] == 2
' || fail "bench engine --queued JSON line: $(cat "$T/bench.out")"
tail -1 "$T/bench.out" | grep -q '"bench":"engine",' || fail "the run's own JSON line stays the last"
echo "PASS concurrency limits"
