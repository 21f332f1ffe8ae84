#!/usr/bin/env bash
# `djs bench cluster` small: a single node, then three real `djs serve`
# nodes on loopback (Raft) with 5 simulated workers, probes and one kill of
# the leader; the last line is one JSON object with the fields the docs
# promise (docs/benchmarks.md) and sane values, so the benchmark does not rot.
set -euo pipefail
DJS=${1:?usage: test_bench_cluster.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init bench-cluster
DJS_LOGS=("$T/out" "$T/err") DJS_LOG_TAIL=30
# the killed leader exits by SIGKILL: nothing for LeakSanitizer to say
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
timeout 240 "$DJS" bench cluster --jobs 2000 --workers 5 --producers 2 --kills 1 --probes 30 --dir "$T" >"$T/out" 2>"$T/err" ||
    fail "bench cluster exited with $?"
grep -q "^cluster: " "$T/out" || fail "no cluster line"
grep -q "kill 1: node [1-3] killed, a write acknowledged by the new leader" "$T/out" || fail "no failover line"
tail -n 1 "$T/out" >"$T/json"
$PY - "$T/json" <<'EOF' || fail "the JSON line"
import json, sys
j = json.load(open(sys.argv[1]))
need = ["cluster_jobs_per_s", "single_jobs_per_s", "ratio_cluster_vs_single", "submit_p99_ms", "failover_s",
        "follower_lag_p99_ms", "follower_reads_per_s"]
missing = [k for k in need if k not in j]
assert not missing, f"missing fields {missing}"
assert j["nodes"] == 3 and j["jobs"] == 2000, j
assert j["cluster_jobs_per_s"] > 20 and j["single_jobs_per_s"] > 20, j
r = j["cluster_jobs_per_s"] / j["single_jobs_per_s"]
assert abs(j["ratio_cluster_vs_single"] - r) < 0.01 * r + 0.01, (j["ratio_cluster_vs_single"], r)
assert 0 < j["submit_p50_ms"] <= j["submit_p99_ms"] < 10000, j
assert 0 < j["follower_lag_p50_ms"] <= j["follower_lag_p99_ms"] < 5000, j
assert j["follower_reads_per_s"] > 10, j
f = j["failover_s"]
assert f["kills"] == 1 and 0 < f["p50"] <= f["max"] < 30, f
EOF
echo "ok bench cluster: $(tail -n 1 "$T/out")"
echo "ok: test_bench_cluster"
