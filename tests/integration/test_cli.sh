#!/usr/bin/env bash
# The djs program end to end: serve opens the log and records its start and
# stop; verify and backup work on a live log from other processes; a changed
# byte makes verify fail; bench log prints its JSON line.
set -euo pipefail
DJS=${1:?usage: test_cli.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init cli

# port 0: the server picks its port; the start message says when it listens
start_server() {
    djs_serve --data "$T/data" --listen 127.0.0.1:0
    djs_wait_ready "serve did not start" grep -q "press Ctrl-C" "$T/serve.out"
}
stop_server() {
    djs_stop_server
    grep -q "stopped cleanly" "$T/serve.out" || fail "no clean stop message"
}

# usage errors are one line and exit 2
set +e
"$DJS" no-such-command >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command must exit 2"
"$DJS" serve --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option must exit 2"
"$DJS" replay verify "$T/nowhere" >/dev/null 2>&1; [ $? -eq 1 ] || fail "verify of a missing dir must exit 1"
set -e

start_server
[ "$(stat -c %a "$T/data")" = 700 ] || fail "data dir must be 0700"
[ "$(stat -c %a "$T/data/data.mdb")" = 600 ] || fail "data.mdb must be 0600"
# read-only tools alongside the running writer
"$DJS" replay verify "$T/data" | grep -q "^OK .* 1 records" || fail "verify on a live log"
"$DJS" backup "$T/data" "$T/backup" >/dev/null || fail "backup on a live log"
"$DJS" replay verify "$T/backup" | grep -q "^OK" || fail "verify of the backup"
set +e
"$DJS" backup "$T/data" "$T/backup" >/dev/null 2>&1; [ $? -eq 1 ] || fail "backup over an existing copy must fail"
set -e
stop_server

start_server
grep -q "3 events before\|2 events before" "$T/serve.out" || fail "restart must see the earlier events"
stop_server
"$DJS" replay verify "$T/data" | grep -q "^OK .* 4 records" || fail "4 records after two runs"

# change one byte of the first record's actor text ("server") in the file
python3 - "$T/data/data.mdb" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"\xa6server")
assert i >= 0, "actor not found"
while i >= 0:          # every copy (LMDB is copy-on-write)
    b[i + 1] ^= 0x20
    i = b.find(b"\xa6server", i + 1)
open(p, "wb").write(b)
PY
set +e
out=$("$DJS" replay verify "$T/data")
rc=$?
set -e
[ $rc -eq 1 ] || fail "verify of a tampered log must exit 1 (got $rc): $out"
echo "$out" | grep -q "^FAIL .*first bad seq" || fail "verify must name the first bad seq: $out"

# the benchmark runs and ends with its JSON line
"$DJS" bench log --events 20000 --entities 4000 --dir "$T/bench" >"$T/bench.out"
tail -1 "$T/bench.out" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
for k in ("durable_events_per_s", "raw_lmdb_events_per_s", "ratio_vs_raw", "append_to_durable_p99_us", "read_events_per_s"):
    assert k in r and r[k] > 0, k
assert r["events"] == 20000
' || fail "bench log JSON line"
# the engine benchmark: full lifecycle, replay, time travel; its log replays
# to the same digest twice and verifies
"$DJS" bench engine --jobs 3000 --workers 20 --snapshot-every 2000 --dir "$T/engine" --keep >"$T/engine.out"
tail -1 "$T/engine.out" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
for k in ("jobs_per_s", "apply_events_per_s", "replay_s", "rss_bytes_per_job", "schedule_ns_per_job",
          "entity_as_of_us_p50", "state_at_ms_p50"):
    assert k in r and r[k] > 0, k
assert r["jobs"] == 3000 and r["events"] >= 4 * 3000
' || fail "bench engine JSON line"
d1=$("$DJS" replay rebuild "$T/engine" | grep -o "digest [0-9a-f]*")
d2=$("$DJS" replay rebuild "$T/engine" | grep -o "digest [0-9a-f]*")
[ -n "$d1" ] && [ "$d1" = "$d2" ] || fail "rebuild digests differ: $d1 / $d2"
"$DJS" replay rebuild "$T/engine" | grep -q "3000 submitted, 3000 completed" || fail "rebuild counts"
"$DJS" replay verify "$T/engine" | grep -q "^OK" || fail "engine log verifies"
# the API benchmark: a child server, three phases, a JSON line, no errors
"$DJS" bench api --connections 8 --seconds 1 >"$T/api.out"
tail -1 "$T/api.out" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
for k in ("health_rps", "get_job_rps", "submit_rps", "submit_p50_ms", "submit_p99_ms", "ratio_submit_vs_health"):
    assert k in r and r[k] > 0, k
assert r["errors"] == 0, r
' || fail "bench api JSON line: $(cat "$T/api.out")"
grep -q "server exit status 0" "$T/api.out" || fail "the benchmarked server did not stop cleanly"
echo "test_cli: all checks passed"
