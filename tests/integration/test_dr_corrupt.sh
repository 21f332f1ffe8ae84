#!/usr/bin/env bash
# Disaster drill: corruption. A real server and agent write a log with job
# output and snapshots; then bytes are flipped in copies of the data file:
#   - a record: `djs replay verify` names its seq; `djs serve` refuses to
#     start (exit 4), names the same seq and says how to recover; nothing is
#     served;
#   - the verified checkpoint's own record: the start is refused too;
#   - the entity index: verify names the bad entry;
#   - job output bytes: verify names the job.output event whose hash they
#     no longer match;
#   - the newest snapshot: verify names it; the server skips it for an older
#     one, says so, and serves exactly the state a full replay gives.
set -euo pipefail
DJS=${1:?usage: test_dr_corrupt.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init dr_corrupt
mkdir -p "$T/wd"

# ---- a log: jobs with output, run by a real agent; snapshots every 40 events
djs_start_server --snapshot-every 40 --heartbeat-interval 1
ADMIN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $ADMIN")
"$DJS" worker --server "$URL" --token "$(djs_token w1 worker)" --name w1 --slots 4 --workdir "$T/wd" --heartbeat 0.3 \
    >>"$T/w1.out" 2>&1 &
agent=$!
for i in $(seq 1 12); do
    djs_submit "{\"name\":\"filler-$i\",\"payload\":$(djs_exec_payload "echo filler $i")}"
done
djs_wait_status "$id" COMPLETED 30
djs_submit "{\"name\":\"marker-record-7f3a\",\"payload\":$(djs_exec_payload 'echo marker-out"put-9c2e"; echo done')}"
marker=$id
djs_wait_status "$marker" COMPLETED 30
for i in $(seq 1 12); do
    djs_submit "{\"name\":\"after-$i\",\"payload\":$(djs_exec_payload "echo after $i")}"
done
djs_wait_status "$id" COMPLETED 30
rec_seq=$(djs_history "$marker" '[e["seq"] for e in ev if e["type"] == "job.submitted"][0]')
out_seq=$(djs_history "$marker" '[e["seq"] for e in ev if e["type"] == "job.output"][0]')
marker_hex=$($PY -c 'import sys,uuid; print(uuid.UUID(sys.argv[1]).hex)' "$marker")
# the agent leaves (deregisters), then the server stops: nothing is pending
kill -TERM "$agent"
wait "$agent" || true
djs_stop_server
"$DJS" replay verify "$T/data" >"$T/verify0" 2>&1 || fail "the clean log must verify: $(cat "$T/verify0")"
grep -q "snapshots  [1-9]" "$T/verify0" || fail "the drill needs snapshots: $(cat "$T/verify0")"
grep -q "output     [1-9]" "$T/verify0" || fail "the drill needs bound output: $(cat "$T/verify0")"

# flip DIR NEEDLE-HEX OFFSET: xor 0x20 into byte NEEDLE+OFFSET of every copy
# of NEEDLE in DIR/data.mdb (LMDB is copy-on-write: stale copies linger)
flip() {
    $PY - "$1/data.mdb" "$2" "$3" <<'PY'
import sys
path, needle, off = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3])
b = bytearray(open(path, "rb").read())
n, i = 0, b.find(needle)
while i >= 0:
    b[i + off] ^= 0x20
    n += 1
    i = b.find(needle, i + 1)
assert n > 0, "needle not found"
open(path, "wb").write(b)
PY
}
hexof() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# expect_verify_fail DIR SEQ WORDS: verify exits 1 naming SEQ (a regex), its detail has WORDS
expect_verify_fail() {
    local rc=0
    "$DJS" replay verify "$1" >"$T/v.out" 2>/dev/null || rc=$?
    [ "$rc" = 1 ] || fail "verify of $1 must exit 1 (got $rc): $(cat "$T/v.out")"
    grep -q "^FAIL .*first bad seq $2: .*$3" "$T/v.out" || fail "verify of $1 must name seq $2 ($3): $(cat "$T/v.out")"
}

# expect_refused DIR SEQ: djs serve exits 3 before listening, naming SEQ
expect_refused() {
    local rc=0 p
    p=$(djs_free_port)
    timeout 20 "$DJS" serve --data "$1" --listen "127.0.0.1:$p" >"$T/refused.out" 2>&1 || rc=$?
    [ "$rc" = 4 ] || fail "serve on $1 must refuse with exit 4 (got $rc): $(cat "$T/refused.out")"
    grep -q "REFUSING TO START.*damaged at seq $2" "$T/refused.out" || fail "the refusal must name seq $2: $(cat "$T/refused.out")"
    grep -q "djs restore" "$T/refused.out" || fail "the refusal must point to djs restore"
    ! grep -q "listening on" "$T/refused.out" || fail "a refused start must not listen"
}

# ---- a record (its name's bytes): found by verify, refused by serve
cp -a "$T/data" "$T/c-record"
flip "$T/c-record" "$(hexof marker-record-7f3a)" 3
expect_verify_fail "$T/c-record" "$rec_seq" "hash chain broken"
expect_refused "$T/c-record" "$rec_seq"

# ---- the record a verified checkpoint names (the server's last start checked
# up to there and will not rehash before it): a changed checkpointed record
# is still refused, by its hash
cp -a "$T/data" "$T/c-checkpoint"
djs_serve --data "$T/c-checkpoint" --listen 127.0.0.1:0
djs_wait_ready "serve on the checkpoint copy" grep -q "press Ctrl-C" "$T/serve.out"
grep -q "hash chain checked" "$T/serve.out" || fail "the start must say it checked the chain: $(cat "$T/serve.out")"
djs_stop_server
cp -a "$T/c-checkpoint" "$T/c-checkpoint2"
djs_serve --data "$T/c-checkpoint2" --listen 127.0.0.1:0
djs_wait_ready "serve on the checkpoint copy again" grep -q "press Ctrl-C" "$T/serve.out"
grep -q "from the last verified checkpoint" "$T/serve.out" || fail "a restart starts from the checkpoint: $(cat "$T/serve.out")"
djs_stop_server
# every record the server itself wrote (actor "server": server.started and
# server.stopped) changes, the checkpointed one (the last server.stopped)
# among them: start-up checks only from the checkpoint on, and finds it
# changed by its hash
ck=$("$DJS" replay verify -o json "$T/c-checkpoint2" 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["last_seq"])')
flip "$T/c-checkpoint2" "a6$(hexof server)" 1
rc=0
timeout 20 "$DJS" serve --data "$T/c-checkpoint2" --listen "127.0.0.1:$(djs_free_port)" >"$T/refused2.out" 2>&1 || rc=$?
[ "$rc" = 4 ] || fail "a changed checkpointed record must refuse the start (got $rc): $(cat "$T/refused2.out")"
# the checkpoint names the end of the log as the second start found it: two
# records (a start and a stop) before the end
grep -q "REFUSING TO START.*damaged at seq $((ck - 2)): record $((ck - 2)) differs from the verified checkpoint" "$T/refused2.out" ||
    fail "the refusal must name the checkpointed record $((ck - 2)): $(cat "$T/refused2.out")"

# ---- the entity index: the marker's job.submitted entry now names another seq
cp -a "$T/data" "$T/c-index"
seq_hex=$(printf '%016x' "$rec_seq")
flip "$T/c-index" "$marker_hex$seq_hex" 23
expect_verify_fail "$T/c-index" "[0-9]*" "entity index"

# ---- job output: the bytes no longer match the job.output event's hash (the
# command spells the marker in two pieces, so only the output holds it whole)
cp -a "$T/data" "$T/c-output"
flip "$T/c-output" "$(hexof marker-output-9c2e)" 2
expect_verify_fail "$T/c-output" "$out_seq" "job output bytes"

# ---- the newest snapshot: skipped for an older one; the state is a replay's
cp -a "$T/data" "$T/c-snap"
snap_seq=$($PY - "$T/c-snap/data.mdb" <<'PY'
import sys
# a snapshot starts [fixarray 15, "djs-state" (fixstr 9), version 5, seq (msgpack uint)]
b = bytearray(open(sys.argv[1], "rb").read())
head = bytes([0x9f, 0xa9]) + b"djs-state" + bytes([5])
def seq_at(i):
    t = b[i]
    if t < 0x80: return t, 1
    n = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}[t]
    return int.from_bytes(b[i + 1:i + 1 + n], "big"), 1 + n
hits, i = [], b.find(head)
while i >= 0:
    hits.append((seq_at(i + len(head))[0], i))
    i = b.find(head, i + 1)
assert hits, "no snapshot in the file"
newest = max(s for s, _ in hits)
for s, i in hits:
    if s == newest:
        b[i + 60] ^= 0x55   # inside its tables: the checksum no longer matches
open(sys.argv[1], "wb").write(b)
print(newest)
PY
)
expect_verify_fail "$T/c-snap" "$snap_seq" "snapshot at seq $snap_seq"
djs_serve --data "$T/c-snap" --listen 127.0.0.1:0
djs_wait_ready "serve on the copy with a bad snapshot" grep -q "press Ctrl-C" "$T/serve.out"
grep -q "snapshot at seq $snap_seq is unusable" "$T/serve.out" || fail "the start must say it skipped the snapshot: $(cat "$T/serve.out")"
URL=$(sed -n 's|.*listening on \(http://[0-9.:]*\)/.*|\1|p' "$T/serve.out" | head -1)
state=$(djs_get state)
applied=$(echo "$state" | $PY -c 'import json,sys; print(json.load(sys.stdin)["applied_seq"])')
live=$(echo "$state" | $PY -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=""
end=$("$DJS" replay verify --no-replay -o json "$T/c-snap" 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["last_seq"])' || true)
[ "$end" = "$applied" ] || fail "the server wrote more than server.started (log ends at $end, state was at $applied)"
full=$("$DJS" replay rebuild "$T/c-snap" | grep -o "digest [0-9a-f]*" | cut -d' ' -f2)
[ -n "$full" ] && [ "$live" = "$full" ] || fail "the state served after skipping a snapshot ($live) is not a full replay's ($full)"
echo "test_dr_corrupt: all checks passed"
