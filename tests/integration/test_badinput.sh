#!/usr/bin/env bash
# Bad-input corpus against the real djs serve: malformed JSON, wrong types,
# deep nesting, huge numbers, invalid UTF-8, oversized bodies and headers,
# bad tokens, unknown routes and methods, slow, half-closed and vanishing
# clients, pipelined garbage (tests/integration/badinput.py sends them over
# raw sockets). Every case must get the right 4xx (problem+json where our
# handler answers) and the server must keep serving; at the end it stops
# cleanly, its log verifies, and its stderr holds no sanitizer report.
set -euo pipefail
DJS=${1:?usage: test_badinput.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init badinput
show_server() {
    echo "---- djs serve stdout ----" >&2; cat "$T/serve.out" >&2 || true
    echo "---- djs serve stderr ----" >&2; cat "$T/serve.err" >&2 || true
}
# sanitizer reports go to stderr; keep the process running after a UBSan
# report so that the case that caused it is the one that fails
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# every start appends: stdout to serve.out, stderr to serve.err
DJS_SERVE_APPEND=1 DJS_SERVE_ERR="$T/serve.err"
djs_start_server
TOKEN=$(djs_token t admin)

# A case that kills the server is a failure; the server is then restarted
# on the same data and the corpus resumes after that case, so that one run
# lists every defect.
rc=0 from="" crashed="" problems=()
for _ in $(seq 20); do
    rm -f "$T/crashed"
    rc=0
    BADINPUT_FROM="$from" BADINPUT_CRASHED="$T/crashed" \
        timeout 120 "$PY" "$HERE/badinput.py" 127.0.0.1 "$port" "$TOKEN" "$T/data" "$pid" || rc=$?
    if [ "$rc" != 3 ] || [ ! -s "$T/crashed" ]; then break; fi
    from=$(cat "$T/crashed")
    crashed="$crashed $from"
    wait "$pid" 2>/dev/null || true
    pid=""
    echo "---- the server died in case $from: restarting it, resuming after that case ----"
    djs_start_server
done
[ -z "$crashed" ] || problems+=("cases that killed the server:$crashed")
[ "$rc" = 0 ] || problems+=("badinput.py: cases failed (exit $rc of the last run; see the FAIL lines)")

# graceful stop, then the log and the sanitizers
if kill -0 "$pid" 2>/dev/null; then
    code=$(curl -s -o "$T/shutdown" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/v1/admin/shutdown")
    [ "$code" = 202 ] || problems+=("shutdown: expected 202, got $code: $(cat "$T/shutdown")")
    # idle keep-alive connections would hold the stop until h2o's 10 s idle timeout
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
        problems+=("serve did not stop within 30 s of POST /admin/shutdown")
    fi
    st=0; wait "$pid" || st=$?
    [ "$st" = 0 ] || problems+=("serve exit status $st after a graceful stop")
else
    problems+=("the server is not running after the corpus")
fi
pid=""
if "$DJS" replay verify "$T/data" >"$T/verify" 2>&1 && grep -q '^OK' "$T/verify"; then
    echo "ok replay-verify $(grep "^OK" "$T/verify" | head -c 160)"
else
    problems+=("djs replay verify: $(cat "$T/verify")")
fi
if grep -qE "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$T/serve.err" "$T/serve.out"; then
    problems+=("sanitizer reports in the server's output: $(grep -hE "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$T/serve.err" "$T/serve.out" | sort | uniq -c | tr '\n' ';')")
fi
if [ ${#problems[@]} -gt 0 ]; then
    show_server
    for p in "${problems[@]}"; do echo "FAIL: $p" >&2; done
    exit 1
fi
echo "test_badinput: all checks passed"
