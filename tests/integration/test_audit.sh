#!/usr/bin/env bash
# djs audit, GET /api/v1/audit, djs replay diff and djs replay rebuild
# --to-seq against a real djs serve and a real worker agent: two token
# subjects (alice, a user, and bob, an operator) submit and cancel jobs;
# then the audit from the data directory while the server runs and over
# HTTP, the route's roles, bad filters and paging; a diff between two
# seqs; rebuilt digests at a seq; a snapshot written beside the server.
set -euo pipefail
DJS=${1:?usage: test_audit.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init audit
DJS_LOG_TAIL=40
mkdir -p "$T/wd"

djs_start_server
ADMIN=$(djs_token root admin)
ALICE=$(djs_token alice user)
BOB=$(djs_token bob operator)
WTOK=$(djs_token w1 worker)
AUTH=(-H "Authorization: Bearer $ADMIN")
D=$T/data

"$DJS" worker --server "$URL" --token "$WTOK" --name w1 --slots 2 --workdir "$T/wd" --heartbeat 0.5 >>"$T/w1.out" 2>&1 &
for _ in $(seq 100); do grep -q "registered as" "$T/w1.out" 2>/dev/null && break; sleep 0.1; done
grep -q "registered as" "$T/w1.out" || fail "the agent did not register"
WID=$(djs_get workers | $PY -c 'import json,sys; print(json.load(sys.stdin)["workers"][0]["id"])')

seq_now() { djs_get state | $PY -c 'import json,sys; print(json.load(sys.stdin)["seq"])'; }
S0=$(seq_now)

# as_user TOKEN ARGS...: curl as that token
as_user() {
    local tok=$1
    shift
    curl -s -H "Authorization: Bearer $tok" "$@"
}
submit_as() { # TOKEN JSON -> job id
    as_user "$1" -H 'content-type: application/json' --data-binary "$2" "$URL/api/v1/jobs" |
        $PY -c 'import json,sys; t=sys.stdin.read(); print(json.loads(t).get("id") or sys.exit("submit: " + t))'
}

echo "== alice and bob submit; a real agent runs; each cancels one"
A=$(submit_as "$ALICE" "{\"name\":\"a-ok\",\"payload\":$(djs_exec_payload 'echo hi')}")
B=$(submit_as "$BOB" "{\"name\":\"b-long\",\"payload\":$(djs_exec_payload 'sleep 30')}")
C=$(submit_as "$ALICE" "{\"name\":\"c-later\",\"scheduledAt\":\"$(date -u -d "+30 days" +%Y-%m-%dT%H:%M:%SZ)\",\"payload\":$(djs_exec_payload 'true')}")
djs_wait_status "$A" COMPLETED 20
djs_wait_status "$B" RUNNING 20
[ "$(as_user "$BOB" -o /dev/null -w '%{http_code}' -X POST "$URL/api/v1/jobs/$B/cancel")" = 200 ] || fail "bob's cancel"
[ "$(as_user "$ALICE" -o /dev/null -w '%{http_code}' -X POST "$URL/api/v1/jobs/$C/cancel")" = 200 ] || fail "alice's cancel"
djs_wait_status "$B" CANCELLED 10
S1=$(seq_now)

echo "== djs audit from the directory, beside the running server"
"$DJS" audit "$D" --actor alice -o json >"$T/alice.json" || fail "audit --actor"
$PY - "$T/alice.json" "$A" "$C" <<'PY' || fail "audit --actor alice: $(cat "$T/alice.json")"
import json, sys
d = json.load(open(sys.argv[1])); a, c = sys.argv[2], sys.argv[3]
got = [(e["type"], e["entity"]) for e in d["events"]]
assert got == [("job.submitted", a), ("job.submitted", c), ("job.cancelled", c)], got
assert all(e["actor"] == "alice" for e in d["events"])
assert d["events"][0]["facts"]["name"] == "a-ok" and d["events"][0]["facts"]["owner"] == "alice"
assert d["next"] is None
PY
# JSON when stdout is not a terminal, without -o
"$DJS" audit "$D" --actor alice | $PY -c 'import json,sys; assert len(json.load(sys.stdin)["events"]) == 3' || fail "default JSON on a pipe"
"$DJS" audit "$D" --job "$A" -o json >"$T/jobA.json" || fail "audit --job"
$PY - "$T/jobA.json" "$WID" <<'PY' || fail "audit --job: $(cat "$T/jobA.json")"
import json, sys
d = json.load(open(sys.argv[1])); w = sys.argv[2]
ran = [(e["type"], e["facts"].get("worker"), e["facts"].get("attempt")) for e in d["events"] if e["type"] in ("job.scheduled", "job.started")]
assert ran and all(x[1] == w and x[2] == 1 for x in ran), ran
types = [e["type"] for e in d["events"]]
assert types[0] == "job.submitted" and types[-1] == "job.succeeded", types
PY
# the agent's reports carry its worker's name
"$DJS" audit "$D" --actor w1 --job "$A" -o json | $PY -c '
import json, sys
t = [e["type"] for e in json.load(sys.stdin)["events"]]
assert t[0] == "job.started" and t[-1] == "job.succeeded" and set(t) <= {"job.started", "job.output", "job.progress", "job.succeeded"}, t' ||
    fail "audit --actor w1"
"$DJS" audit "$D" --type job.cancelled -o json >"$T/cancel.json" || fail "audit --type"
$PY - "$T/cancel.json" "$B" "$C" <<'PY' || fail "audit --type job.cancelled: $(cat "$T/cancel.json")"
import json, sys
d = json.load(open(sys.argv[1]))
got = sorted((e["entity"], e["actor"]) for e in d["events"])
assert got == sorted([(sys.argv[2], "bob"), (sys.argv[3], "alice")]), got
PY
# who cancelled job B, as a table
"$DJS" audit "$D" --job "$B" --type job.cancelled -o table >"$T/t.txt" || fail "audit table"
grep -q "job.cancelled.*bob" "$T/t.txt" || fail "table: $(cat "$T/t.txt")"
# a range and a limit
"$DJS" audit "$D" --actor alice --from "$((S0 + 1))" --to "$S1" --limit 2 -o json >"$T/lim.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["events"])==2 and isinstance(d["next"], int), d' "$T/lim.json" ||
    fail "limit 2: $(cat "$T/lim.json")"
"$DJS" audit "$D" --actor alice --from -1h -o json | $PY -c 'import json,sys; assert len(json.load(sys.stdin)["events"])==3' ||
    fail "--from -1h"
"$DJS" audit "$D" --actor alice --from 2099-01-01T00:00:00Z -o json | $PY -c 'import json,sys; assert json.load(sys.stdin)["events"]==[]' ||
    fail "--from in the future"

echo "== the CLI's errors"
st=0; "$DJS" audit "$D" --job 01900000-0000-7000-8000-000000000000 >"$T/e.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q "no job, worker or schedule" "$T/e.out" || fail "unknown job: $st $(cat "$T/e.out")"
st=0; "$DJS" audit "$D" --actor alice --from yesterday >"$T/e.out" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q "neither an event seq nor a time" "$T/e.out" || fail "bad time: $st $(cat "$T/e.out")"
st=0; "$DJS" audit "$D" >"$T/e.out" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q "give a filter" "$T/e.out" || fail "no filter: $st $(cat "$T/e.out")"
st=0; "$DJS" audit "$D" --type job.nope >"$T/e.out" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q "'job.nope' is not an event type" "$T/e.out" || fail "bad type: $st $(cat "$T/e.out")"

echo "== djs audit --server gives the same rows"
for f in "--actor alice" "--job $A" "--type job.cancelled"; do
    # shellcheck disable=SC2086
    "$DJS" audit "$D" $f --to "$S1" -o json >"$T/dir.json"
    # shellcheck disable=SC2086
    DJS_TOKEN=$BOB "$DJS" audit --server "$URL" $f --to "$S1" -o json >"$T/srv.json" || fail "audit --server $f"
    cmp -s "$T/dir.json" "$T/srv.json" || fail "audit $f: directory and server differ: $(diff "$T/dir.json" "$T/srv.json")"
done
# a time in another offset, written with a space: both sides place it on the same event
t1=$(djs_get "events?from_seq=$((S0 + 2))&limit=1" | $PY -c '
import datetime, json, sys
at = json.load(sys.stdin)["events"][0]["at"]
t = datetime.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(t.astimezone(datetime.timezone(datetime.timedelta(hours=1))).strftime("%Y-%m-%d %H:%M:%S.%f+01:00"))')
"$DJS" audit "$D" --type job.submitted,job.cancelled --from "$t1" --to "$S1" -o json >"$T/dir.json"
DJS_TOKEN=$BOB "$DJS" audit --server "$URL" --type job.submitted,job.cancelled --from "$t1" --to "$S1" -o json >"$T/srv.json" ||
    fail "audit --server --from '$t1'"
cmp -s "$T/dir.json" "$T/srv.json" || fail "--from '$t1': directory and server differ: $(diff "$T/dir.json" "$T/srv.json")"
# the events at or after that millisecond, no more, no less
"$DJS" audit "$D" --type job.submitted,job.cancelled --to "$S1" -o json >"$T/all.json"
at1=$(djs_get "events?from_seq=$((S0 + 2))&limit=1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["events"][0]["at"])')
$PY - "$T/dir.json" "$T/all.json" "$at1" <<'PY' || fail "--from '$t1': $(cat "$T/dir.json")"
import json, sys
got, every, at = json.load(open(sys.argv[1]))["events"], json.load(open(sys.argv[2]))["events"], sys.argv[3]
assert got == [e for e in every if e["at"] >= at], (got, at)
assert 0 < len(got) <= len(every) == 5
PY
st=0; DJS_TOKEN=$ALICE "$DJS" audit --server "$URL" --actor alice >"$T/e.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q "403" "$T/e.out" || fail "audit --server as a user: $st $(cat "$T/e.out")"
st=0; DJS_TOKEN=$BOB "$DJS" audit --server "$URL" --job 01900000-0000-7000-8000-000000000000 >"$T/e.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q "404" "$T/e.out" || fail "audit --server unknown job: $st $(cat "$T/e.out")"

echo "== GET /api/v1/audit: roles, bad filters, paging"
code() { # TOKEN QUERY -> status; the body in $T/body, the content type in $T/ct
    as_user "$1" -o "$T/body" -w '%{http_code} %{content_type}' "$URL/api/v1/audit?$2" >"$T/ct"
    cut -d' ' -f1 "$T/ct"
}
[ "$(code "$ADMIN" "actor=alice")" = 200 ] || fail "admin: $(cat "$T/body")"
[ "$(code "$BOB" "actor=alice")" = 200 ] || fail "operator: $(cat "$T/body")"
[ "$(code "$ALICE" "actor=alice")" = 403 ] || fail "user: $(cat "$T/ct") $(cat "$T/body")"
grep -q "application/problem+json" "$T/ct" || fail "403 is not problem+json: $(cat "$T/ct")"
[ "$(code "$WTOK" "actor=alice")" = 403 ] || fail "worker token: $(cat "$T/body")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/audit?actor=alice")" = 401 ] || fail "no token"
for q in "" "type=job.nope" "type=job.cancelled,," "job=nope" "from=yesterday" "to=12x" "limit=0" "limit=1001" "actor=" \
    "actor=%zz" "actor=alice&cursor=abc"; do
    [ "$(code "$BOB" "$q")" = 400 ] || fail "'$q': want 400, got $(cat "$T/ct") $(cat "$T/body")"
    grep -q "application/problem+json" "$T/ct" || fail "'$q': not problem+json"
    $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]==400 and d["detail"]' "$T/body" ||
        fail "'$q': $(cat "$T/body")"
done
long=$($PY -c 'print("a" * 600)')
[ "$(code "$BOB" "actor=$long")" = 400 ] || fail "a 600-byte actor: $(cat "$T/body")"
[ "$(code "$BOB" "type=$($PY -c 'print(",".join(["job.submitted"] * 200))')")" = 400 ] || fail "a long type list"
[ "$(code "$BOB" "actor=alice&to=2099-01-01T00:00:00Z&from=1")" = 200 ] || fail "a future to: $(cat "$T/body")"
[ "$(code "$BOB" "job=01900000-0000-7000-8000-000000000000")" = 404 ] || fail "unknown job: $(cat "$T/body")"
# percent-encoded, comma-separated types; pages of one, followed to the end
$PY - "$URL" "$BOB" "$B" "$C" <<'PY' || fail "paging"
import json, sys, urllib.request
url, tok, b, c = sys.argv[1:5]
def get(q):
    r = urllib.request.urlopen(urllib.request.Request(url + "/api/v1/audit?" + q, headers={"Authorization": "Bearer " + tok}))
    return json.load(r)
whole = get("type=job.cancelled%2Cjob.submitted&limit=1000")
assert whole["next"] is None and len(whole["events"]) == 5, whole
pages, cursor = [], None
while True:
    p = get("type=job.cancelled,job.submitted&limit=1" + ("&cursor=%d" % cursor if cursor else ""))
    pages += p["events"]
    cursor = p["next"]
    if cursor is None:
        break
assert pages == whole["events"], (pages, whole)
# time bounds: from a time after everything, nothing
assert get("type=job.submitted&from=2099-01-01T00:00:00Z")["events"] == []
PY

echo "== djs replay diff between two seqs"
"$DJS" replay diff "$D" --from "$S0" --to "$S1" -o json >"$T/diff.json" || fail "diff"
$PY - "$T/diff.json" "$A" "$B" "$C" <<'PY' || fail "diff: $(cat "$T/diff.json")"
import json, sys
d = json.load(open(sys.argv[1])); a, b, c = sys.argv[2:5]
n = d["counts"]
assert n["jobsCreated"] == 3 and n["jobsSucceeded"] == 1 and n["jobsCancelled"] == 2 and n["jobsFailed"] == 0, n
assert n["workersRegistered"] == 0, n
items = {(i["kind"], i["id"]): i for i in d["items"]}
assert items[("jobsCreated", a)]["name"] == "a-ok" and items[("jobsCreated", a)]["status"] == "COMPLETED", items
assert items[("jobsCancelled", b)]["status"] == "CANCELLED" and items[("jobsCancelled", b)]["name"] == "b-long"
assert items[("jobsCancelled", c)]["name"] == "c-later"
PY
"$DJS" replay diff "$D" --from 0 --to "$S0" -o json |
    $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["counts"]["workersRegistered"]==1 and d["counts"]["jobsCreated"]==0, d' ||
    fail "diff from the start"
"$DJS" replay diff "$D" --from "$S0" --to "$S1" -o table | grep -q "b-long.*CANCELLED" || fail "diff table"
st=0; "$DJS" replay diff "$D" --from "$S1" --to "$S0" >"$T/e.out" 2>&1 || st=$?
[ "$st" = 2 ] || fail "diff from after to: $st"

echo "== djs replay rebuild --to-seq"
dig() { "$DJS" replay rebuild "$@" | sed -n 's/.*state digest \([0-9a-f]*\).*/\1/p' | head -1; }
d1=$(dig "$D" --to-seq "$S0")
[ -n "$d1" ] || fail "rebuild --to-seq printed no digest"
# the server's state at the same seq (time travel) has the same digest
for n in "$S0" "$S1"; do
    want=$(djs_get "state?at_seq=$n" | $PY -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
    [ "$(dig "$D" --to-seq "$n")" = "$want" ] || fail "rebuild --to-seq $n: /state?at_seq says $want"
done
# and a copy of the log rebuilds to it too
"$DJS" backup "$D" "$T/copy" >/dev/null
[ "$(dig "$T/copy" --to-seq "$S0")" = "$d1" ] || fail "rebuild --to-seq $S0 differs on a copy"
[ "$(dig "$D" --to-seq "$S1")" != "$d1" ] || fail "rebuild at $S1 has the digest of $S0"
# --to-time: the last event at or before a time. Times show milliseconds:
# the end of S0's millisecond, and the last seq in that millisecond
read -r when last < <(djs_get "events?from_seq=$S0&limit=50" | $PY -c '
import json, sys
ev = json.load(sys.stdin)["events"]
ms = ev[0]["at"][:-1]
print(ms + "999999Z", max(e["seq"] for e in ev if e["at"][:-1] == ms))')
[ "$(dig "$D" --to-time "$when")" = "$(dig "$D" --to-seq "$last")" ] || fail "rebuild --to-time $when (seq $last)"
st=0; "$DJS" replay rebuild "$D" --to-seq 999999999 >"$T/e.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q "not a seq of the log" "$T/e.out" || fail "rebuild past the end: $st $(cat "$T/e.out")"

echo "== rebuild --write-snapshot beside the running server, then a restart uses it"
"$DJS" replay rebuild "$D" --to-seq "$S1" --write-snapshot >"$T/snap.out" || fail "write-snapshot: $(cat "$T/snap.out")"
grep -q "snapshot of [0-9]* bytes stored at seq $S1" "$T/snap.out" || fail "write-snapshot: $(cat "$T/snap.out")"
[ "$(djs_jfield "$A" '["status"]')" = COMPLETED ] || fail "the server after the snapshot"
djs_stop_server
"$DJS" replay verify "$D" >"$T/verify.out" || fail "verify after write-snapshot: $(cat "$T/verify.out")"
djs_start_server
n=$(sed -n 's/.*(\([0-9]*\) events replayed after the snapshot).*/\1/p' "$T/serve.out")
[ -n "$n" ] && [ "$n" -lt "$S1" ] || fail "the restart did not start from the snapshot at $S1 ($n events replayed)"
[ "$(djs_jfield "$B" '["status"]')" = CANCELLED ] || fail "restart after the snapshot"
echo "PASS"
