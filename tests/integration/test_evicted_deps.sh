#!/usr/bin/env bash
# Dependencies on jobs that have left memory: a server that keeps only two
# finished jobs (--keep-finished 2) and a real agent. A job evicted after
# completing is still a met dependency, one evicted after being cancelled
# is refused (409), a deleted one too, an id that never was a job is 404;
# GET answers for evicted jobs from their history; the same holds after a
# restart (the state is rebuilt with the same window).
set -euo pipefail
DJS=${1:?usage: test_evicted_deps.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init evicted
mkdir -p "$T/wd"
djs_start_server --keep-finished 2 --heartbeat-interval 1
ADMIN=$(djs_token admin admin)
TW=$(djs_token w1 worker)
AUTH=(-H "Authorization: Bearer $ADMIN")
"$DJS" worker --server "$URL" --token "$TW" --name w1 --slots 2 --workdir "$T/wd" --heartbeat 0.3 >>"$T/w1.out" 2>&1 &

# post JSON: sets code and body of POST /jobs
post() {
    code=$(djs_api -o "$T/post" -w '%{http_code}' -H 'content-type: application/json' --data-binary "$1" "$URL/api/v1/jobs")
    body=$(cat "$T/post")
}
ok_job() { djs_submit "{\"name\":\"$1\",\"payload\":$(djs_exec_payload 'echo done')}"; }

ok_job first
first=$id
djs_wait_status "$first" COMPLETED 20
# a job nobody can run, cancelled; then one created and deleted
djs_submit '{"name":"never","requiredCapabilities":["nobody-has-this"]}'
never=$id
djs_api -o /dev/null -X POST "$URL/api/v1/jobs/$never/cancel"
djs_submit '{"name":"gone","requiredCapabilities":["nobody-has-this"]}'
gone=$id
djs_api -o /dev/null -X POST "$URL/api/v1/jobs/$gone/cancel"
djs_api -o /dev/null -X DELETE "$URL/api/v1/jobs/$gone"
# finish enough jobs to push first and never out of the window
for i in 1 2 3 4; do
    ok_job "filler-$i"
    djs_wait_status "$id" COMPLETED 20
done

check_deps() {
    # evicted, but the log answers for it
    [ "$(djs_jfield "$first" '["status"]')" = COMPLETED ] || fail "GET of an evicted job"
    post "{\"name\":\"after-first\",\"dependencies\":[\"$first\"],\"payload\":$(djs_exec_payload 'echo after')}"
    [ "$code" = 201 ] || fail "dependency on an evicted COMPLETED job: $code $body"
    after=$($PY -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$body")
    djs_wait_status "$after" COMPLETED 20
    post "{\"name\":\"after-never\",\"dependencies\":[\"$never\"]}"
    [ "$code" = 409 ] || fail "dependency on an evicted CANCELLED job: $code $body"
    grep -q "was cancelled" <<<"$body" || fail "detail names the cancel: $body"
    post "{\"name\":\"after-gone\",\"dependencies\":[\"$gone\"]}"
    [ "$code" = 409 ] || fail "dependency on a deleted job: $code $body"
    grep -q "was deleted" <<<"$body" || fail "detail names the delete: $body"
    post '{"name":"after-ghost","dependencies":["0190f000-0000-7000-8000-000000000000"]}'
    [ "$code" = 404 ] || fail "dependency on an id that never was a job: $code $body"
}
check_deps
# the evictions are replayed the same way on a restart
djs_stop_server
DJS_SERVE_APPEND=1 djs_start_server --keep-finished 2 --heartbeat-interval 1
check_deps
echo "PASS evicted dependencies"
