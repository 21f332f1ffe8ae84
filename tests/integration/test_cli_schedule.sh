#!/usr/bin/env bash
# djs schedule / djs schedules against a real server and agent: an every-1s
# schedule fires jobs that carry its id, pause stops them, resume brings
# them back, delete ends it; the server's refusals come back as exit 1,
# usage errors as exit 2.
set -euo pipefail
DJS=${1:?usage: test_cli_schedule.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init clisched
mkdir -p "$T/wd"
djs_start_server --heartbeat-interval 1
export DJS_SERVER=$URL DJS_TOKEN
DJS_TOKEN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $DJS_TOKEN")
"$DJS" worker --token "$(djs_token w1 worker)" --name w1 --slots 2 --workdir "$T/wd" --heartbeat 0.3 >>"$T/w1.out" 2>&1 &

fired() { djs_get "jobs?schedule=$1&limit=500" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))'; }
status() { "$DJS" schedules -o json | $PY -c 'import json,sys; print(["PAUSED" if s["paused"] else "ACTIVE" for s in json.load(sys.stdin)["schedules"] if s["id"] == sys.argv[1]][0])' "$1"; }

sid=$("$DJS" schedule create --name tick --every 1s --overlap allow --cmd 'echo tick')
[ -n "$sid" ] || fail "schedule create printed no id"
"$DJS" schedules >"$T/list.out" || fail "djs schedules: $(cat "$T/list.out")"
grep -q "$sid.*tick.*every 1s" "$T/list.out" || fail "djs schedules lists it: $(cat "$T/list.out")"
for _ in $(seq 100); do [ "$(fired "$sid")" -ge 2 ] && break; sleep 0.1; done
[ "$(fired "$sid")" -ge 2 ] || fail "no jobs fired by $sid"
job=$(djs_get "jobs?schedule=$sid&limit=1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')
[ "$(djs_jfield "$job" '["scheduleId"]')" = "$sid" ] || fail "the job links back to its schedule"
[ "$("$DJS" schedule pause "$sid")" = "$sid PAUSED" ] || fail "pause prints the new status"
[ "$(status "$sid")" = PAUSED ] || fail "pause: $(status "$sid")"
"$DJS" schedules | grep -q "$sid .*PAUSED" || fail "djs schedules shows PAUSED: $("$DJS" schedules)"
n=$(fired "$sid")
sleep 2.5
[ "$(fired "$sid")" -le $((n + 1)) ] || fail "a paused schedule fired: $n -> $(fired "$sid")"
"$DJS" schedule resume "$sid" >/dev/null
n=$(fired "$sid")
for _ in $(seq 50); do [ "$(fired "$sid")" -gt "$n" ] && break; sleep 0.1; done
[ "$(fired "$sid")" -gt "$n" ] || fail "resumed schedule does not fire"
# a cron spec in a zone, with a -f job template
printf '{"name": "nightly", "payload": {"command": "/bin/true"}, "maxRetries": 2}\n' >"$T/job.json"
nid=$("$DJS" schedule create --name nightly --cron '30 2 * * *' --tz Europe/Paris --catch-up last -f "$T/job.json")
"$DJS" schedule show "$nid" -o json | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["spec"] == "30 2 * * *" and d["tz"] == "Europe/Paris" and d["catchUp"] == "last", d
assert d["job"]["maxRetries"] == 2 and d["nextFireAt"], d' || fail "schedule show: $("$DJS" schedule show "$nid" -o json)"
# refusals: the server's (exit 1) and usage errors (exit 2)
expect_exit() {
    local want=$1
    shift
    set +e
    "$DJS" "$@" >"$T/err.out" 2>&1
    local rc=$?
    set -e
    [ "$rc" = "$want" ] || fail "djs $*: exit $rc, want $want: $(cat "$T/err.out")"
}
expect_exit 1 schedule create --name bad --cron '61 * * * *' --cmd true
grep -q "minute" "$T/err.out" || fail "the cron error names the field: $(cat "$T/err.out")"
expect_exit 1 schedule create --name bad --cron '* * * * *' --tz Mars/Olympus --cmd true
expect_exit 2 schedule create --name bad --cmd true
expect_exit 2 schedule create --name bad --cron '* * * * *' --every 5m --cmd true
expect_exit 2 schedule frobnicate "$sid"
"$DJS" schedule delete "$sid" >/dev/null
expect_exit 1 schedule show "$sid"
echo "PASS djs schedule"
