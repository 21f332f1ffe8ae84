#!/usr/bin/env bash
# djs serve --dev (what ./tools/run starts): the server with two local
# agents; it prints the URL, an admin token and the example, the example
# workflow (examples/diamond.yaml, a diamond of dependencies) runs to the
# end with the client commands, and SIGTERM drains the agents and exits 0.
set -euo pipefail
DJS=${1:?usage: test_dev.sh path/to/djs}
HERE=$(cd "$(dirname "$0")" && pwd)
base=${DJS_TEST_TMP:-/var/tmp}
mkdir -p "$base"
T=$(mktemp -d "$base/dev-XXXXXX")
pid=""
cleanup() { if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi; pkill -9 -f "worker --server http://127.0.0.1:$port" 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$T/serve.out" >&2 || true; exit 1; }
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DJS" serve --dev --data "$T/data" --listen "127.0.0.1:$port" >"$T/serve.out" 2>&1 &
pid=$!
for _ in $(seq 100); do
    [ "$(grep -c "registered as" "$T/serve.out" 2>/dev/null)" = 2 ] && break
    kill -0 "$pid" 2>/dev/null || fail "serve --dev exited early"
    sleep 0.1
done
[ "$(grep -c "registered as" "$T/serve.out")" = 2 ] || fail "two local agents did not register"
grep -q "^djs serve: URL   http://127.0.0.1:$port" "$T/serve.out" || fail "no URL line"
grep -q "examples/diamond.yaml" "$T/serve.out" || fail "no example line"
export DJS_SERVER="http://127.0.0.1:$port"
DJS_TOKEN=$(grep "^djs serve: TOKEN" "$T/serve.out" | awk '{print $4}')
export DJS_TOKEN
[ -n "$DJS_TOKEN" ] || fail "no admin token printed"
"$DJS" submit -f "$HERE/../../examples/diamond.yaml" >/dev/null || fail "submit the example"
timeout 60 "$DJS" watch --name-prefix diamond >"$T/watch" || fail "the example workflow did not complete: $(tail -6 "$T/watch")"
[ "$(grep -c COMPLETED <(tail -5 "$T/watch"))" = 4 ] || fail "four COMPLETED jobs: $(tail -6 "$T/watch")"
# the join ran after both sides: its start is after both sides' completions
"$DJS" events --type job.succeeded -o json >"$T/succ"
"$DJS" events --type job.started -o json >"$T/start"
/usr/bin/python3 - "$T/succ" "$T/start" <<'PY' || fail "dependency order"
import json, sys
succ = json.load(open(sys.argv[1]))["events"]; start = json.load(open(sys.argv[2]))["events"]
assert len(succ) == 4 and len(start) == 4, (len(succ), len(start))
assert start[-1]["seq"] > max(e["seq"] for e in succ[:3]), "join started before its parents finished"
PY
"$DJS" workers -o json | /usr/bin/python3 -c 'import json,sys; w=json.load(sys.stdin)["workers"]; assert sorted(x["name"] for x in w)==["local-1","local-2"], w' ||
    fail "workers local-1 and local-2"
kill -TERM "$pid"
wait "$pid" || fail "serve --dev exited with $? on SIGTERM"
pid=""
grep -q "stopped cleanly" "$T/serve.out" || fail "no clean stop"
! pgrep -f "worker --server http://127.0.0.1:$port" >/dev/null || fail "local agents outlived the server"
echo "dev: ok"
