#!/usr/bin/env bash
# djs submit --at/--in/--concurrency-key and djs why against a real server
# and a real agent: each reason as the CLI prints it, and -o json.
set -euo pipefail
DJS=${1:?usage: test_cli_why.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init cliwhy
mkdir -p "$T/wd"
djs_start_server --heartbeat-interval 1
export DJS_SERVER=$URL DJS_TOKEN
DJS_TOKEN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $DJS_TOKEN")
"$DJS" worker --token "$(djs_token w1 worker)" --name w1 --slots 2 --workdir "$T/wd" --heartbeat 0.3 >>"$T/w1.out" 2>&1 &
for _ in $(seq 100); do
    [ "$(djs_get workers | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))')" = 1 ] && break
    sleep 0.1
done

why() { "$DJS" why "$1" >"$T/why.out" 2>&1 || fail "djs why $1: $(cat "$T/why.out")"; }
expect_why() { why "$1"; grep -q "^why: *$2: " "$T/why.out" || fail "djs why: want $2, got: $(cat "$T/why.out")"; }

# a capability nobody has
gpu=$("$DJS" submit --name gpu --requires gpu-a100 --cmd true)
expect_why "$gpu" no-capable-worker
grep -q "gpu-a100" "$T/why.out" || fail "the detail names the capability: $(cat "$T/why.out")"
# a delay, by --in and by --at
later=$("$DJS" submit --name later --in 10m --cmd true)
expect_why "$later" scheduled
grep -q "^until: " "$T/why.out" || fail "until shown: $(cat "$T/why.out")"
at=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
atjob=$("$DJS" submit --name at --at "$at" --cmd true)
[ "$(djs_jfield "$atjob" '["scheduledAt"]')" = "${at%Z}.000Z" ] || fail "--at sent as scheduledAt: $(djs_jfield "$atjob" '["scheduledAt"]')"
expect_why "$atjob" scheduled
set +e
"$DJS" submit --name bad --at 'not a time' --cmd true >"$T/bad.out" 2>&1; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "scheduledAt" "$T/bad.out" || fail "a bad --at is the server's 400: $rc $(cat "$T/bad.out")"
# a concurrency key at its limit: the second waits, held by the first
first=$("$DJS" submit --name deploy-1 --concurrency-key deploy/api --cmd 'sleep 4')
djs_wait_status "$first" RUNNING 20
second=$("$DJS" submit --name deploy-2 --concurrency-key deploy/api --concurrency-limit 1 --cmd true)
for _ in $(seq 50); do
    why "$second"
    grep -q "^why: *concurrency-limit" "$T/why.out" && break
    sleep 0.1
done
grep -q "^why: *concurrency-limit: concurrency key 'deploy/api' is at its limit" "$T/why.out" ||
    fail "concurrency-limit: $(cat "$T/why.out")"
grep -q "^concurrency: .*held by $first" "$T/why.out" || fail "held by the first: $(cat "$T/why.out")"
"$DJS" why "$second" -o json >"$T/why.json"
$PY - "$T/why.json" "$first" <<'PY' || fail "djs why -o json: $(cat "$T/why.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pending"]["reason"] == "concurrency-limit", d
c = d["pending"]["concurrency"]
assert c["key"] == "deploy/api" and c["limit"] == 1 and c["held"] == 1 and c["full"] is True, c
assert c["heldBy"] == [sys.argv[2]], c
PY
djs_wait_status "$second" COMPLETED 30
why "$second"
grep -q "COMPLETED (not pending: it has finished)" "$T/why.out" || fail "a finished job: $(cat "$T/why.out")"
set +e
"$DJS" why not-an-id >"$T/bad.out" 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "djs why with a bad id: exit $rc"
echo "PASS djs why and the submit time and concurrency flags"
