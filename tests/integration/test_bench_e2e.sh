#!/usr/bin/env bash
# `djs bench e2e` small: a real djs serve with 10 simulated workers and 2
# producers, then beanstalkd doing the same work; the last line is one JSON
# object with the fields the docs promise and sane values. A second, tiny
# run with --hold-ms checks that concurrency builds up (peak running).
# Skipped (exit 0) when beanstalkd is not installed.
set -euo pipefail
DJS=${1:?usage: test_bench_e2e.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init bench-e2e
# on failure: the end of the benchmark's output
DJS_LOGS=("$T/out" "$T/err") DJS_LOG_TAIL=30
t_start=$(date +%s)

if ! command -v beanstalkd >/dev/null 2>&1 && [ ! -x /usr/bin/beanstalkd ]; then
    echo "SKIP: beanstalkd is not installed (tools/deps.sh installs the Debian package beanstalkd)"
    exit 0
fi


timeout 50 "$DJS" bench e2e --jobs 2000 --workers 10 --producers 2 --dir "$T" >"$T/out" 2>"$T/err" ||
    fail "bench e2e exited with $?"
grep -q "simulated workers: 10 in one process over HTTP" "$T/out" || fail "the output does not say how workers are simulated"
grep -q "bench e2e: djs:" "$T/err" || fail "no progress lines on stderr"
tail -n 1 "$T/out" >"$T/json"
$PY - "$T/json" <<'EOF' || fail "the JSON line"
import json, sys
j = json.load(open(sys.argv[1]))
need = ["djs_jobs_per_s", "beanstalkd_fsync_jobs_per_s", "ratio_vs_beanstalkd", "submit_to_start_p50_ms",
        "submit_to_start_p99_ms", "workers", "jobs", "producers", "mode", "submit_to_start_measures"]
missing = [k for k in need if k not in j]
assert not missing, f"missing fields {missing}"
assert j["jobs"] == 2000 and j["workers"] == 10 and j["producers"] == 2, j
assert j["mode"] == "workflows" and j["batch"] == 50 and j["protocol"] == "batched", j
assert j["djs_jobs_per_s"] > 50, j["djs_jobs_per_s"]
assert j["beanstalkd_fsync_jobs_per_s"] > 50, j["beanstalkd_fsync_jobs_per_s"]
r = j["djs_jobs_per_s"] / j["beanstalkd_fsync_jobs_per_s"]
assert abs(j["ratio_vs_beanstalkd"] - r) < 0.01 * r + 0.01, (j["ratio_vs_beanstalkd"], r)
assert 0 <= j["submit_to_start_p50_ms"] <= j["submit_to_start_p99_ms"] < 60000, j
assert j["errors"] == 0 and j["refused"] == 0, j
print("ok: djs %.0f jobs/s, beanstalkd %.0f jobs/s, ratio %.2f, submit-to-start p50 %.2f ms p99 %.2f ms" % (
    j["djs_jobs_per_s"], j["beanstalkd_fsync_jobs_per_s"], j["ratio_vs_beanstalkd"],
    j["submit_to_start_p50_ms"], j["submit_to_start_p99_ms"]))
EOF

# the old protocol and one job per request still work
timeout 30 "$DJS" bench e2e --jobs 500 --workers 5 --producers 2 --batch 1 --protocol single --no-beanstalkd --dir "$T" \
    >"$T/out" 2>"$T/err" || fail "bench e2e --protocol single exited with $?"
tail -n 1 "$T/out" >"$T/json"
$PY - "$T/json" <<'EOF' || fail "the JSON line of the --protocol single run"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["mode"] == "one job per request" and j["protocol"] == "single" and j["ratio_vs_beanstalkd"] is None, j
assert j["djs_jobs_per_s"] > 50 and j["requests_per_job"] >= 3, j
assert j["errors"] == 0 and j["refused"] == 0, j
print("ok: --protocol single %.0f jobs/s, %.2f requests per job" % (j["djs_jobs_per_s"], j["requests_per_job"]))
EOF
# single claims on poll by default (no start reports: submit, poll, complete); --claim false starts each
# job with a report (3 requests per job and the polls, which may bring several assignments)
$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["claim"] is True and j["requests_per_job"] < 3.5, j' "$T/json" ||
    fail "--protocol single claims: $(cat "$T/json")"
timeout 30 "$DJS" bench e2e --jobs 500 --workers 5 --producers 2 --batch 1 --protocol single --claim false --no-beanstalkd \
    --dir "$T" >"$T/out" 2>"$T/err" || fail "bench e2e --claim false exited with $?"
tail -n 1 "$T/out" >"$T/json"
$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["claim"] is False and j["requests_per_job"] >= 3.1 and j["errors"] == 0 and j["refused"] == 0, j' "$T/json" ||
    fail "--claim false: $(cat "$T/json")"
"$DJS" bench e2e --claim maybe --no-beanstalkd 2>/dev/null && fail "--claim maybe accepted"

# concurrency: 20 workers x 5 slots hold 100 jobs for 1.5 s: all run at once
timeout 30 "$DJS" bench e2e --jobs 100 --workers 20 --slots 5 --producers 2 --hold-ms 1500 --dir "$T" >"$T/out" 2>"$T/err" ||
    fail "bench e2e --hold-ms exited with $?"
tail -n 1 "$T/out" >"$T/json"
$PY - "$T/json" <<'EOF' || fail "the JSON line of the --hold-ms run"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["hold_ms"] == 1500 and j["beanstalkd_fsync_jobs_per_s"] is None, j
assert j["peak_running_client"] == 100, j["peak_running_client"]
assert j["peak_running"] >= 90, j["peak_running"]  # sampled every 200 ms while all 100 are held 1.5 s
print("ok: peak running %d (server) %d (workers)" % (j["peak_running"], j["peak_running_client"]))
EOF
[ -z "$(ls -A "$T" | grep -v -e '^out$' -e '^err$' -e '^json$')" ] || fail "temporary data left in $T: $(ls "$T")"
echo "PASS test_bench_e2e ($(($(date +%s) - t_start)) s)"
