# shellcheck shell=bash disable=SC2034  # HERE, id, ...: set here, read by the scripts
# The helpers every integration script sources, after `set -euo pipefail`
# and DJS=${1:?...}:
#
#     . "$(dirname "$0")/lib.sh"
#     djs_init NAME
#
# djs_init makes the temp dir and registers the cleanup; the rest are used
# as needed. What this file sets, for the scripts to read:
#   T      the script's temp dir, $DJS_TEST_TMP/NAME-XXXXXX (/var/tmp when
#          DJS_TEST_TMP is unset); removed on exit, kept when the script
#          fails and DJS_TEST_KEEP=1
#   PY     /usr/bin/python3 (Debian's, with python3-jwt and websockets)
#   HERE   this directory (badinput.py, streams.py, ../../examples)
#   port, URL   the server's port and http://127.0.0.1:$port (djs_listen)
#   pid    the server started by djs_serve or djs_start_server, "" once
#          it has been waited for
# Knobs, set by a script before the call that reads them:
#   DJS_SERVE_APPEND=1   djs_serve appends to $T/serve.out (default: each
#                        start truncates it, so greps see one run)
#   DJS_SERVE_ERR=FILE   djs_serve sends stderr there, not to serve.out
#   DJS_SERVE_PREFIX=(…) command run before "$DJS" serve (ip netns exec NS)
#   DJS_START_TIMEOUT=S  how long djs_wait_ready waits (10 s)
#   DJS_CURL=(…)         how djs_api runs curl (default: curl)
#   DJS_LOGS=(files…)    what fail prints (default: $T/*.out and $T/*.err)
#   DJS_LOG_TAIL=N       lines of each of those files fail prints (80)
#   djs_on_fail          a function that fail calls first when defined

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
T=""
pid=""
djs_exit_hooks=()

# djs_init NAME: the temp dir ($T) and the traps. Every script calls it once.
djs_init() {
    djs_tmpdir "$1"
    trap djs_cleanup EXIT
    trap 'exit 1' INT TERM
}

# djs_tmpdir NAME: sets T to a new directory $DJS_TEST_TMP/NAME-XXXXXX.
djs_tmpdir() {
    local base=${DJS_TEST_TMP:-/var/tmp}
    mkdir -p "$base"
    T=$(mktemp -d "$base/$1-XXXXXX")
}

# djs_at_exit CMD: one more cleanup step (a string, eval'd), run after the
# script's processes are killed and before the temp dir is removed.
djs_at_exit() { djs_exit_hooks+=("$1"); }

# djs_cleanup: the EXIT trap. Kills (SIGKILL) every background process of
# the script still running, waits for them, runs the djs_at_exit steps in
# order, then removes $T. The script's exit status is kept.
djs_cleanup() {
    local st=$? p h
    local -a left
    mapfile -t left < <(jobs -pr)
    for p in "${left[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${left[@]}"; do wait "$p" 2>/dev/null || true; done
    for h in "${djs_exit_hooks[@]}"; do eval "$h" 2>/dev/null || true; done
    [ -n "$T" ] || return 0
    if [ "$st" != 0 ] && [ "${DJS_TEST_KEEP:-0}" = 1 ]; then
        echo "kept $T (DJS_TEST_KEEP=1)" >&2
    else
        rm -rf "$T"
    fi
}

# djs_dump_logs: the tail of each log (DJS_LOGS, or $T/*.out and $T/*.err).
djs_dump_logs() {
    local f
    local -a files
    if [ -n "${DJS_LOGS+x}" ]; then files=("${DJS_LOGS[@]}"); else files=("$T"/*.out "$T"/*.err); fi
    for f in "${files[@]}"; do
        [ -f "$f" ] || continue
        echo "--- $f"
        tail -n "${DJS_LOG_TAIL:-80}" "$f"
    done
}

# fail MSG...: prints FAIL: MSG, then djs_on_fail (if the script defines
# it) and the logs, all on stderr; exits 1.
fail() {
    echo "FAIL: $*" >&2
    if declare -F djs_on_fail >/dev/null; then djs_on_fail >&2 || true; fi
    [ -z "$T" ] || djs_dump_logs >&2
    exit 1
}

# djs_free_port: prints a TCP port of 127.0.0.1 free at the time of the call.
djs_free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# djs_listen: picks the server's port and URL (port, URL).
djs_listen() {
    port=$(djs_free_port)
    URL="http://127.0.0.1:$port"
}

# djs_serve ARGS...: "$DJS" serve ARGS in the background (after
# DJS_SERVE_PREFIX if set), stdout and stderr to $T/serve.out (see
# DJS_SERVE_APPEND, DJS_SERVE_ERR); sets pid. Does not wait.
djs_serve() {
    local out="$T/serve.out" err=${DJS_SERVE_ERR:-}
    [ "${DJS_SERVE_APPEND:-0}" = 1 ] || : >"$out"
    [ -z "$err" ] || [ "${DJS_SERVE_APPEND:-0}" = 1 ] || : >"$err"
    if [ -n "$err" ]; then
        "${DJS_SERVE_PREFIX[@]}" "$DJS" serve "$@" >>"$out" 2>>"$err" &
    else
        "${DJS_SERVE_PREFIX[@]}" "$DJS" serve "$@" >>"$out" 2>&1 &
    fi
    pid=$!
}

# djs_wait_ready WHAT CMD...: runs CMD every 50 ms until it succeeds. Fails
# with "serve exited early" when $pid is set and has exited, and with WHAT
# after DJS_START_TIMEOUT seconds (10).
djs_wait_ready() {
    local what=$1 limit=${DJS_START_TIMEOUT:-10} deadline
    shift
    deadline=$(($(date +%s%N) + limit * 1000000000))
    until "$@" >/dev/null 2>&1; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then fail "serve exited early"; fi
        [ "$(date +%s%N)" -lt "$deadline" ] || fail "$what (waited $limit s)"
        sleep 0.05
    done
}

# djs_start_server ARGS...: djs serve --data $T/data --listen 127.0.0.1:$port
# ARGS (djs_listen first if no port is chosen yet), then waits until GET
# $URL/health answers 2xx.
djs_start_server() {
    [ -n "${port:-}" ] || djs_listen
    djs_serve --data "$T/data" --listen "127.0.0.1:$port" "$@"
    djs_wait_ready "serve did not answer $URL/health" curl -sf -m 2 "$URL/health"
}

# djs_stop_server: SIGTERM to the server, which must exit 0; clears pid.
djs_stop_server() {
    local st=0
    kill -TERM "$pid"
    wait "$pid" || st=$?
    pid=""
    [ "$st" = 0 ] || fail "serve exited with $st on SIGTERM"
}

# djs_token SUB ROLE [DATA]: prints a token minted by djs token create with
# the data dir's key (DATA, default $T/data).
djs_token() {
    "$DJS" token create --data "${3:-$T/data}" --sub "$1" --role "$2"
}

# ---- the API with curl, as an admin: AUTH=(-H "Authorization: Bearer …") ----

# djs_api CURL-ARGS...: curl -s with $AUTH, through DJS_CURL.
djs_api() {
    local -a c=(curl)
    [ -z "${DJS_CURL+x}" ] || c=("${DJS_CURL[@]}")
    "${c[@]}" -s "${AUTH[@]}" "$@"
}

# djs_get PATH: prints the body of GET $URL/api/v1/PATH.
djs_get() { djs_api "$URL/api/v1/$1"; }

# djs_submit JSON: POST /jobs must answer 201; sets id (the job's, or the
# first job's of a workflow). The answer stays in $T/sub.
djs_submit() {
    djs_api -o "$T/sub" -w '%{http_code}' -H 'content-type: application/json' --data-binary "$1" \
        "$URL/api/v1/jobs" >"$T/code" || true
    [ "$(cat "$T/code")" = 201 ] || fail "submit: $(cat "$T/code") $(cat "$T/sub" 2>/dev/null)"
    id=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["id"] if "id" in d else d["jobs"][0]["id"])' "$T/sub")
}

# djs_jfield ID EXPR: prints EXPR of the job's JSON, e.g. '["status"]'.
djs_jfield() { djs_get "jobs/$1" | $PY -c "import json,sys; print(json.load(sys.stdin)$2)"; }

# djs_wait_status ID STATUS SECONDS: polls the job until it has STATUS;
# fails at once when it ends in another final status, or after SECONDS.
djs_wait_status() {
    local s="" i
    for ((i = 0; i < $3 * 10; i++)); do
        s=$(djs_jfield "$1" '["status"]' 2>/dev/null || echo "?")
        [ "$s" = "$2" ] && return 0
        case "$s" in COMPLETED | FAILED | CANCELLED) break ;; esac
        sleep 0.1
    done
    fail "job $1: expected $2, got $s: $(djs_get "jobs/$1/history")"
}

# djs_history ID EXPR: prints the Python EXPR over the job's events (ev).
djs_history() {
    djs_get "jobs/$1/history" | $PY -c "import json,sys; ev=json.load(sys.stdin)['events']; print($2)"
}

# djs_exec_payload SHELL-CMD: prints an exec payload running sh -c SHELL-CMD.
djs_exec_payload() {
    $PY -c 'import json,sys; print(json.dumps({"command":"/bin/sh","args":["-c",sys.argv[1]]}))' "$1"
}

# djs_cluster_stop_verify N...: SIGTERM cluster nodes N (pids in NPID[N],
# data in $T/dN); each must exit 0, and `djs replay verify` must pass on
# each data directory with one chain head for all of them.
djs_cluster_stop_verify() {
    local n st out heads=""
    for n in "$@"; do kill -TERM "${NPID[$n]}"; done
    for n in "$@"; do
        st=0
        wait "${NPID[$n]}" || st=$?
        [ "$st" = 0 ] || fail "node $n exited with $st on SIGTERM"
    done
    for n in "$@"; do
        out=$("$DJS" replay verify "$T/d$n" 2>&1) || fail "replay verify node $n: $out"
        echo "$out" | grep -q '^OK' || fail "replay verify node $n: $out"
        heads+="$(echo "$out" | grep -oE '[0-9a-f]{64}' | tail -n1) "
    done
    if [ "$(echo "$heads" | tr ' ' '\n' | grep -c .)" != $# ] || [ "$(echo "$heads" | tr ' ' '\n' | grep . | sort -u | wc -l)" != 1 ]; then
        fail "the nodes' logs verify with different chain heads: $heads"
    fi
}
