#!/usr/bin/env bash
# djs serve --dev (what ./tools/run starts): the server with two local
# agents; it prints the URL, an admin token and the example, the example
# workflow (examples/diamond.yaml, a diamond of dependencies) runs to the
# end with the client commands, and SIGTERM drains the agents and exits 0.
set -euo pipefail
DJS=${1:?usage: test_dev.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init dev
djs_listen
# the local agents are the server's children: a server killed -9 leaves them behind
djs_at_exit 'pkill -9 -f "worker --server http://127.0.0.1:$port"'
djs_serve --dev --data "$T/data" --listen "127.0.0.1:$port"
two_agents() { [ "$(grep -c "registered as" "$T/serve.out" 2>/dev/null)" = 2 ]; }
djs_wait_ready "two local agents did not register" two_agents
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
djs_stop_server
grep -q "stopped cleanly" "$T/serve.out" || fail "no clean stop"
! pgrep -f "worker --server http://127.0.0.1:$port" >/dev/null || fail "local agents outlived the server"
echo "dev: ok"
