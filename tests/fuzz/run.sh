#!/usr/bin/env bash
# Run a libFuzzer target for a bounded time on a writable copy of its seed
# corpus: run.sh FUZZER SEED_DIR WORK_DIR SECONDS. Fails on any crash.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 secs=$4
rm -rf "$work" && mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
cd "$work"
exec "$fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 corpus
