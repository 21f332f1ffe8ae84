#!/usr/bin/env bash
# Retention beside a running server: `djs replay archive --before T` moves
# the older records (and, with --prune-output, the output of jobs archived
# whole) into a checked archive file while a real agent runs jobs and a
# client keeps submitting. Afterwards: nothing acknowledged is lost, the log
# verifies from its base, the archive checks out and ends at the log's base
# (the chain verifies across it), time travel before the base is 410, the
# pruned output is gone from the log but in the archive, and a restart
# serves the same state.
set -euo pipefail
DJS=${1:?usage: test_archive.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init archive
mkdir -p "$T/wd"
djs_start_server --snapshot-every 50 --heartbeat-interval 1
ADMIN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $ADMIN")
"$DJS" worker --server "$URL" --token "$(djs_token w1 worker)" --name w1 --slots 4 --workdir "$T/wd" --heartbeat 0.3 \
    >>"$T/w1.out" 2>&1 &

for i in $(seq 1 15); do
    djs_submit "{\"name\":\"old-$i\",\"payload\":$(djs_exec_payload "echo old-output-$i")}"
    echo "$id" >>"$T/old.ids"
done
djs_wait_status "$id" COMPLETED 30
old_job=$(head -1 "$T/old.ids")
sleep 0.2
point=$($PY -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))')
sleep 0.2
early_seq=3

# a client keeps submitting while the archive runs
(
    for i in $(seq 1 60); do
        code=$(curl -s -o "$T/bg.$i" -w '%{http_code}' "${AUTH[@]}" -H 'content-type: application/json' \
            --data-binary "{\"name\":\"during-$i\",\"payload\":{\"command\":\"/bin/true\"}}" "$URL/api/v1/jobs")
        if [ "$code" = 201 ]; then
            $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/bg.$i" >>"$T/acked.ids"
        fi
        sleep 0.02
    done
) &
bg=$!
"$DJS" replay archive "$T/data" --before "$point" "$T/old.djsarchive" --prune-output >"$T/archive.out" 2>"$T/archive.err" ||
    fail "archive beside a running server: $(cat "$T/archive.out" "$T/archive.err")"
wait "$bg"
grep -q "moved to $T/old.djsarchive" "$T/archive.out" || fail "archive summary: $(cat "$T/archive.out")"
grep -q "output of [1-9][0-9]* jobs archived whole removed" "$T/archive.out" || fail "prune summary: $(cat "$T/archive.out")"
base=$(sed -n 's/.*the log now starts at seq \([0-9]*\),.*/\1/p' "$T/archive.out")
[ -n "$base" ] && [ "$base" -gt "$early_seq" ] || fail "no base in: $(cat "$T/archive.out")"

# the server went on: every acknowledged submit is there, new ones work
[ "$(wc -l <"$T/acked.ids")" -gt 0 ] || fail "no submit was acknowledged during the archive"
while read -r j; do
    [ "$(djs_jfield "$j" '["name"]')" != "" ] || fail "acknowledged job $j is missing"
done <"$T/acked.ids"
djs_submit "{\"name\":\"after-archive\",\"payload\":$(djs_exec_payload 'echo after')}"
djs_wait_status "$id" COMPLETED 30

# the log verifies from its base; the archive checks out and ends there
"$DJS" replay verify "$T/data" >"$T/verify.out" 2>&1 || fail "verify after the archive: $(cat "$T/verify.out")"
grep -q "archived before seq $base" "$T/verify.out" || fail "verify must say where the log starts: $(cat "$T/verify.out")"
"$DJS" replay archive --check "$T/old.djsarchive" "$T/data" >"$T/check.out" || fail "archive check: $(cat "$T/check.out")"
grep -q "continues it" "$T/check.out" || fail "the log must continue the archive: $(cat "$T/check.out")"

# time travel before the base: 410 with a problem; at the base and after: 200
code=$(djs_api -o "$T/tt" -w '%{http_code}' "$URL/api/v1/state?at_seq=$early_seq")
[ "$code" = 410 ] || fail "time travel before the archive base: $code $(cat "$T/tt")"
grep -q 'problems/archived' "$T/tt" || fail "410 must be a problem of type archived: $(cat "$T/tt")"
code=$(djs_api -o "$T/tt" -w '%{http_code}' "$URL/api/v1/state?at_seq=$((base - 1))")
[ "$code" = 200 ] || fail "time travel to the base itself: $code $(cat "$T/tt")"

# pruned output: gone from the log, in the archive
logs=$(djs_api "$URL/api/v1/jobs/$old_job/logs")
! echo "$logs" | grep -q "old-output-1" || fail "the pruned output is still served: $logs"
grep -q "old-output-1" "$T/old.djsarchive" || fail "the archive must hold the pruned output"

# bad input: a time with nothing before it, an existing file, a cut archive
set +e
"$DJS" replay archive "$T/data" --before "$point" "$T/old.djsarchive" >/dev/null 2>&1
[ $? = 1 ] || fail "archive over an existing file must exit 1"
"$DJS" replay archive "$T/data" --before 1999-01-01T00:00:00Z "$T/none.djsarchive" >"$T/none.out" 2>&1
[ $? = 1 ] || fail "archive with nothing before the point must exit 1"
"$DJS" replay archive "$T/data" --before yesterday "$T/x" >/dev/null 2>&1
[ $? = 2 ] || fail "a bad --before must exit 2"
head -c 2000 "$T/old.djsarchive" >"$T/cut.djsarchive"
"$DJS" replay archive --check "$T/cut.djsarchive" >"$T/cut.out" 2>&1
[ $? = 1 ] || fail "a cut archive must fail its check"
set -e
grep -q "cut short\|ends" "$T/cut.out" || fail "the check must say it was cut short: $(cat "$T/cut.out")"

# a restart serves the same state, from the base's snapshot on
before=$(djs_get state | $PY -c 'import json,sys; s=json.load(sys.stdin); print(s["submitted"], s["completed"])')
djs_stop_server
djs_start_server --snapshot-every 50 --heartbeat-interval 1
after=$(djs_get state | $PY -c 'import json,sys; s=json.load(sys.stdin); print(s["submitted"], s["completed"])')
[ "$before" = "$after" ] || fail "a restart after the archive changed the counts: $before -> $after"
"$DJS" replay verify "$T/data" >"$T/verify2.out" 2>&1 || fail "verify after the restart: $(cat "$T/verify2.out")"
echo "test_archive: all checks passed"
