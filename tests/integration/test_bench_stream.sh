#!/usr/bin/env bash
# `djs bench stream` small: a real djs serve, 20,000 events caught up from
# seq 1 by one WebSocket subscriber, then 20 live subscribers while a
# producer submits 500 jobs/s for 2 s. The last line is one JSON object
# with the fields docs/benchmarks.md promises; every subscriber receives
# every event and none is dropped.
set -euo pipefail
DJS=${1:?usage: test_bench_stream.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init bench-stream
# on failure: the end of the benchmark's output
DJS_LOGS=("$T/out" "$T/err") DJS_LOG_TAIL=30


timeout 55 "$DJS" bench stream --subscribers 20 --events-per-s 500 --seconds 2 --catchup-events 20000 --dir "$T" \
    >"$T/out" 2>"$T/err" || fail "bench stream exited with $?"
grep -q "bench stream: live: 20 subscribers connected" "$T/err" || fail "no progress lines on stderr"
tail -n 1 "$T/out" >"$T/json"
$PY - "$T/json" <<'PYEOF' || fail "the JSON line"
import json, sys
j = json.load(open(sys.argv[1]))
need = ["catchup_events_per_s", "live_delivery_p99_ms", "live_delivery_p50_ms", "subscribers", "delivered_events_per_s",
        "dropped_subscribers", "server_rss_mb", "events_per_s", "method", "catchup_events", "deliveries",
        "expected_deliveries", "gaps", "ok"]
missing = [k for k in need if k not in j]
assert not missing, f"missing fields {missing}"
assert j["subscribers"] == 20, j["subscribers"]
assert j["dropped_subscribers"] == 0, j
assert j["gaps"] == 0, j
assert j["catchup_events"] >= 20000 and j["catchup_events_per_s"] > 0, j
assert j["deliveries"] == j["expected_deliveries"] >= 20 * 1000, j
assert j["ok"] is True, j
assert 0 <= j["live_delivery_p50_ms"] <= j["live_delivery_p99_ms"] < 60000, j
assert j["events_per_s"] > 100 and j["delivered_events_per_s"] > 0 and j["server_rss_mb"] > 0, j
print("ok: catch-up %.0f events/s; 20 subscribers: p50 %.1f ms, p99 %.1f ms, %.0f deliveries/s, server RSS %.1f MB" % (
    j["catchup_events_per_s"], j["live_delivery_p50_ms"], j["live_delivery_p99_ms"], j["delivered_events_per_s"],
    j["server_rss_mb"]))
PYEOF
