#!/usr/bin/env bash
# Disaster drill: a crash loop. `djs serve` (snapshots every 100 events, a
# low per-principal rate limit) under concurrent load: 3 submitting clients,
# each with its own token, sending single jobs and small workflows, some of
# which fail their first attempt and are retried; 3 real `djs worker`
# agents running them. DR_CYCLES times (default 50): SIGKILL of the server
# at a random moment 0.2-1.5 s after it is ready, a restart on the same
# directory and port, and then, with the load paused and the agents
# stopped (SIGSTOP) for a quiet point:
#   - every acknowledged (201) job id since the last cycle answers GET /jobs/{id};
#   - no job has two job.succeeded events (dr_crashloop.py check);
#   - `djs replay verify DIR` passes on the directory as the kill left it;
#   - the live state equals a full replay: GET /api/v1/state's seq equals
#     `djs replay rebuild DIR`'s, and its digest (when the server exposes
#     one) or else its counts (submitted, completed, failed) equal the
#     rebuild's.
# Clients answered 429 back off for Retry-After: not a loss. One line per cycle.
set -euo pipefail
DJS=${1:?usage: test_dr_crashloop.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init dr-crashloop
CYCLES=${DR_CYCLES:-50}
DJS_LOG_TAIL=30
DJS_SERVE_APPEND=1 DJS_START_TIMEOUT=20
t_start=$(date +%s)
DRV="$HERE/dr_crashloop.py"
apids=()
djs_on_fail() {
    echo "--- cycle log:"
    tail -n 5 "$T/cycles.out" 2>/dev/null || true
    echo "--- client errors:"
    tail -n 20 "$T/load.err" 2>/dev/null || true
}
# a stopped agent must not outlive the script stopped: SIGCONT before the kill
djs_at_exit 'for p in "${apids[@]}"; do kill -CONT "$p"; done'

start_server() { djs_start_server --heartbeat-interval 2 --snapshot-every 100 --rate-limit 30:10; }
start_server
ADMIN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $ADMIN")
for k in 1 2 3; do djs_token "client$k" user >>"$T/tokens"; done

mkdir -p "$T/wd" "$T/load"
for n in w1 w2 w3; do
    "$DJS" worker --server "$URL" --token "$(djs_token "$n" worker)" --name "$n" --slots 4 --workdir "$T/wd" \
        --heartbeat 0.5 --grace 1 >>"$T/$n.out" 2>&1 &
    apids+=($!)
done
for n in w1 w2 w3; do
    for _ in $(seq 200); do
        grep -q "registered as" "$T/$n.out" 2>/dev/null && break
        sleep 0.05
    done
    grep -q "registered as" "$T/$n.out" || fail "agent $n did not register"
done
$PY "$DRV" load "$port" "$T/tokens" "$T/load" 2>>"$T/load.err" &
lpid=$!
echo "ok server on $URL, 3 agents, 3 clients; $CYCLES cycles"

# pause: the clients idle (each says so) and the agents stop; resume: both go on
pause() {
    touch "$T/load/pause"
    for _ in $(seq 500); do
        [ "$(find "$T/load" -name 'paused.*' | wc -l)" = 3 ] && break
        sleep 0.01
    done
    [ "$(find "$T/load" -name 'paused.*' | wc -l)" = 3 ] || fail "the clients did not pause within 5 s"
    for p in "${apids[@]}"; do kill -STOP "$p"; done
}
resume() {
    for p in "${apids[@]}"; do kill -CONT "$p"; done
    rm -f "$T/load/pause"
}

# The live state against a full replay, at one quiet seq: GET /state, the
# rebuild, GET /state again; retried while the seq moves (a timer of the
# server: a retry due, a placement).
compare_state() {
    local s1 s2 rb rseq rdig rsub rcomp rfail
    local seq dig sub comp failed
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        s1=$($PY "$DRV" state "$port" "$ADMIN") || fail "cycle $cyc: $s1"
        rb=$("$DJS" replay rebuild "$T/data" 2>&1) || fail "cycle $cyc: replay rebuild: $rb"
        s2=$($PY "$DRV" state "$port" "$ADMIN") || fail "cycle $cyc: $s2"
        read -r seq dig sub comp failed _ <<<"$s1"
        # OK DIR: N events replayed in ..., J jobs in memory, S submitted, C completed, F failed; state digest HEX
        read -r rseq rsub rcomp rfail rdig < <(echo "$rb" | sed -nE \
            's/^OK .*: ([0-9]+) events replayed .* ([0-9]+) submitted, ([0-9]+) completed, ([0-9]+) failed; state digest ([0-9a-f]+).*/\1 \2 \3 \4 \5/p')
        [ -n "${rseq:-}" ] || fail "cycle $cyc: cannot read the rebuild's answer: $rb"
        if [ "$s1" = "$s2" ] && [ "$seq" = "$rseq" ]; then
            [ "$sub $comp $failed" = "$rsub $rcomp $rfail" ] ||
                fail "cycle $cyc: at seq $seq live submitted/completed/failed $sub/$comp/$failed != full replay's $rsub/$rcomp/$rfail"
            if [ "$dig" != - ]; then
                [ "$dig" = "$rdig" ] || fail "cycle $cyc: live digest $dig at seq $seq != full replay's $rdig"
                cmp_what="digest ${dig:0:12} and counts equal"
            else
                cmp_what="counts $sub/$comp/$failed equal (no live digest)"
            fi
            cmp_seq=$seq
            return 0
        fi
        sleep 0.1
    done
    fail "cycle $cyc: no quiet point to compare: live $s1 then $s2, rebuild at seq $rseq"
}

from_snap=0
for ((cyc = 1; cyc <= CYCLES; cyc++)); do
    ms=$((200 + RANDOM % 1301))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    # the chain as the crash left it (verify on the live directory can see
    # index entries newer than the records it walked: see the report)
    out=$("$DJS" replay verify "$T/data" 2>&1) || fail "cycle $cyc: replay verify after the kill: $out"
    echo "$out" | grep -q '^OK' || fail "cycle $cyc: replay verify after the kill: $out"
    t0=$(date +%s%N)
    start_server
    t_up=$((($(date +%s%N) - t0) / 1000000))
    # how the start rebuilt its state: from a snapshot, or the whole log
    replayed=$(sed -nE 's/^djs serve: state rebuilt in .* \(([0-9]+) events replayed after the snapshot\).*/\1/p' "$T/serve.out" | tail -1)
    before=$(sed -nE 's/^djs serve: event log .* \(([0-9]+) events before this start.*/\1/p' "$T/serve.out" | tail -1)
    if [ -n "$replayed" ] && [ -n "$before" ] && [ "$replayed" -lt "$before" ]; then
        from_snap=$((from_snap + 1))
        how="from a snapshot + $replayed events"
    else
        how="by a full replay of $before events"
    fi
    pause
    res=$($PY "$DRV" check "$port" "$ADMIN" "$T/load" 2>&1) || fail "cycle $cyc: $res"
    compare_state
    resume
    throttled=$({ cat "$T"/load/throttled.* 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}')
    echo "cycle $cyc: kill -9 after $ms ms, up again in $t_up ms ($how); $res; verify OK; at seq $cmp_seq $cmp_what; $throttled 429s so far" |
        tee -a "$T/cycles.out"
done

touch "$T/load/stop"
wait "$lpid" || fail "the load driver failed: $(tail -5 "$T/load.err")"
total=$(cat "$T"/load/acked.* | wc -l)
[ "$(cat "$T"/load/acked.* | sort -u | wc -l)" = "$total" ] || fail "an id was acknowledged twice"
[ "$total" -ge $((CYCLES * 5)) ] || fail "only $total jobs acknowledged in $CYCLES cycles: the load did not run"
succ=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["succ"]))' "$T/load/check.json")
[ "$succ" -ge $((CYCLES * 2)) ] || fail "only $succ jobs completed in $CYCLES cycles: the agents did not work"
throttled=$({ cat "$T"/load/throttled.* 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}')
[ "$from_snap" -ge $((CYCLES / 4)) ] || fail "only $from_snap of $CYCLES starts rebuilt from a snapshot: the snapshot path was hardly exercised"
[ "$throttled" -gt 0 ] || fail "no client was ever answered 429: the rate-limit path was not exercised"
echo "ok: test_dr_crashloop: $CYCLES kills ($from_snap starts from a snapshot), $total jobs acknowledged, all present; $succ completed, none twice; $throttled 429s backed off; in $(($(date +%s) - t_start)) s"
