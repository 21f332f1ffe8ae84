#!/usr/bin/env bash
# djs bench ui runs end to end (a small load, a short live phase): its last
# stdout line is JSON with every figure the dashboard's benchmark reports,
# each a number, and the probes saw events reach the page. The figures are
# not judged here (docs/benchmarks.md has them, from a Release build); this
# keeps the benchmark from rotting. Exits 77 (skipped) as bench ui does
# where node, ui/node_modules or Chromium is missing.
set -euo pipefail
DJS=${1:?usage: test_bench_ui.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init bench_ui
st=0
"$DJS" bench ui --jobs 3000 --seconds 3 --samples 5 --dir "$T" >"$T/bench.out" 2>"$T/bench.err" || st=$?
[ "$st" = 77 ] && { tail -3 "$T/bench.err" >&2; exit 77; }
[ "$st" = 0 ] || fail "bench ui exited $st"
tail -n 1 "$T/bench.out" >"$T/last.json"
$PY - "$T/last.json" <<'PY' || fail "bench ui's JSON: $(cat "$T/last.json")"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("initial_js_gzip_kb", "first_render_ms", "live_update_longtask_p99_ms", "scroll_frame_p99_ms",
          "ui_rss_mb", "event_to_pixel_p99_ms"):
    assert isinstance(d[k], (int, float)), k
assert d["jobs"] == 3000 and d["initial_js_gzip_kb"] > 10 and d["first_render_ms"] > 0, d
assert d["event_to_pixel_samples"] >= 1 and d["producer_events_per_s"] > 0, d
assert set(d["pass"]) >= {"initial_js_gzip_kb", "first_render_ms", "scroll_frame_p99_ms", "event_to_pixel_p99_ms"}, d
PY
echo "ok - bench ui: $(cat "$T/last.json" | head -c 300)"
