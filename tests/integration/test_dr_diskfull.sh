#!/usr/bin/env bash
# Disaster drill: the disk fills up under load.
#
# Where the machine allows it (root with CAP_SYS_ADMIN: this script re-runs
# itself in a private mount namespace with `unshare -m`, so the mount goes
# away with it) the data directory is on an 8 MiB tmpfs and a filler file
# takes the rest of it. Elsewhere (a container without CAP_SYS_ADMIN), or
# with DR_DISKFULL_MODE=seam, it uses the test build's fault seam instead:
# djs serve built with DJS_TEST_SEAMS fails every commit with ENOSPC while
# the file named by DJS_TEST_ENOSPC_FILE exists. Without either it exits 77
# (CTest: skipped) and says why.
#
# What djs does (docs/operations.md, "Disk full"): fail-stop. The commit
# that finds no space fails, the writes waiting for it are answered 503
# application/problem+json (log-unavailable), and djs serve prints
# "FATAL: event log failed" and exits 3. A start while the disk is still
# full exits 1 ("cannot write to the event log"), or comes up on free
# pages inside data.mdb and fail-stops at the first write that needs more
# space. Once space is back, a
# start replays the log: every acknowledged (201) job is there, the log
# verifies, and writes are taken again.
set -euo pipefail
DJS=${1:?usage: test_dr_diskfull.sh path/to/djs}
mode=${DR_DISKFULL_MODE:-auto}
if [ "$mode" != seam ] && [ -z "${DR_DISKFULL_NS:-}" ] && unshare -m --propagation private true 2>/dev/null; then
    DR_DISKFULL_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
djs_init dr-diskfull
DJS_LOG_TAIL=30
DJS_SERVE_APPEND=1

mkdir "$T/mnt"
if [ "$mode" != seam ] && [ -n "${DR_DISKFULL_NS:-}" ] && mount -t tmpfs -o size=8m,mode=0700 tmpfs "$T/mnt" 2>"$T/mount.err"; then
    mode=tmpfs
    djs_at_exit "umount -l '$T/mnt'"
    DATA=$T/mnt/data
    fill() { dd if=/dev/zero of="$T/mnt/filler" bs=64k 2>/dev/null || true; }
    unfill() { rm -f "$T/mnt/filler"; }
    echo "ok data directory on an 8 MiB tmpfs ($T/mnt)"
else
    [ "$mode" = seam ] || echo "no size-limited file system here ($(cat "$T/mount.err" 2>/dev/null || echo 'unshare -m refused')): the fault seam instead"
    mode=seam
    DATA=$T/data
    export DJS_TEST_ENOSPC_FILE=$T/full
    fill() { touch "$T/full"; }
    unfill() { rm -f "$T/full"; }
fi

# start_server [ENV...]: djs serve on DATA; waits for /health.
start_server() {
    djs_listen_once
    env "$@" "$DJS" serve --data "$DATA" --listen "127.0.0.1:$port" --rate-limit 0 --snapshot-every 300 >>"$T/serve.out" 2>&1 &
    pid=$!
    djs_wait_ready "serve did not answer $URL/health" curl -sf -m 2 "$URL/health"
}
djs_listen_once() { [ -n "${port:-}" ] || djs_listen; }
# the fail-stop exit leaves its memory to the OS on purpose (cmd_serve.c: it
# does not touch the log again): LeakSanitizer would turn exit 3 into its own
NOLEAKS="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

start_server "$NOLEAKS"
if [ "$mode" = seam ] && ! grep -q "TEST SEAM: commits fail with ENOSPC" "$T/serve.out"; then
    echo "SKIP: cannot mount a size-limited file system here and $DJS was built without DJS_TEST_SEAMS" >&2
    exit 77
fi
ADMIN=$(djs_token admin admin "$DATA")
AUTH=(-H "Authorization: Bearer $ADMIN")

# Two clients submit jobs of about 3 KB until the server is gone; every 201
# id goes to acked, every other answer (status, content type, problem type) to
# answers, connection errors are counted once the server has exited.
cat >"$T/load.py" <<'PY'
import http.client, json, os, sys, threading, time
port, token, d = int(sys.argv[1]), sys.argv[2], sys.argv[3]
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
lock = threading.Lock()
def run(k):
    c, n, refused_since = None, 0, None
    while not os.path.exists(os.path.join(d, "stop")):
        body = json.dumps({"name": f"df-{k}-{n}", "payload": {"command": "/bin/echo", "args": ["x" * 3000]}})
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/api/v1/jobs", body, hdr)
            r = c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            if c is not None:
                c.close()
            c = None
            time.sleep(0.05)
            continue
        n += 1
        with lock:
            if r.status == 201:
                with open(os.path.join(d, "acked"), "a") as f:
                    f.write(json.loads(data)["id"] + "\n")
            else:
                try:
                    ptype = json.loads(data).get("type", "")
                except ValueError:
                    ptype = repr(data[:80])
                with open(os.path.join(d, "answers"), "a") as f:
                    f.write(f"{r.status} {r.getheader('Content-Type')} {ptype}\n")
ts = [threading.Thread(target=run, args=(k,)) for k in range(2)]
[t.start() for t in ts]
[t.join() for t in ts]
PY
mkdir "$T/load"
$PY "$T/load.py" "$port" "$ADMIN" "$T/load" 2>>"$T/load.err" &
lpid=$!
acked() { cat "$T/load/acked" 2>/dev/null | wc -l; }
for _ in $(seq 200); do [ "$(acked)" -ge 200 ] && break; sleep 0.05; done
[ "$(acked)" -ge 200 ] || fail "only $(acked) jobs acknowledged before filling the disk"
before=$(acked)

# the disk fills: the server must stop by itself, with status 3
fill
t0=$(date +%s%N)
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "the server still runs 15 s after the disk filled ($(acked) acked)"
rc=0
wait "$pid" || rc=$?
pid=""
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 3 ] || fail "the server exited with $rc after the disk filled (expected 3, fail-stop)"
grep -q "FATAL: event log failed (DJS_ESTORAGE): commit failed: No space left on device" "$T/serve.out" ||
    fail "no FATAL line naming the full disk in the server's output"
sleep 0.3
touch "$T/load/stop"
wait "$lpid" || fail "the load failed: $(tail -5 "$T/load.err")"
total=$(acked)
n503=$(grep -c '^503 application/problem+json https://djs.dev/problems/log-unavailable$' "$T/load/answers" 2>/dev/null || true)
others=$(grep -vc '^503 application/problem+json https://djs.dev/problems/log-unavailable$' "$T/load/answers" 2>/dev/null || true)
[ "${others:-0}" = 0 ] || fail "answers other than 201 and 503 log-unavailable: $(grep -v '^503 ' "$T/load/answers" | sort | uniq -c)"
[ "${n503:-0}" -ge 1 ] || fail "no write was answered 503 when the commit failed (they should not hang or be dropped)"
echo "ok disk full ($mode): the server fail-stopped with status 3 in $ms ms; $n503 writes answered 503 problem+json; $total acknowledged ($before before the fill)"

# A start while the disk is still full: it exits 1 when it cannot record
# server.started; on a real file system LMDB may find free pages inside
# data.mdb for that and come up, and then it fail-stops (exit 3) at the
# first write that needs new space. Either way nothing acknowledged is lost.
env "$NOLEAKS" "$DJS" serve --data "$DATA" --listen "127.0.0.1:$port" --rate-limit 0 >"$T/full-start.out" 2>&1 &
pid=$!
until curl -sf -m 2 "$URL/health" >/dev/null 2>&1; do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then
    for i in $(seq 2000); do
        code=$(curl -s -m 10 -o "$T/sub" -w '%{http_code}' "${AUTH[@]}" -H 'content-type: application/json' \
            --data-binary "{\"name\":\"full-$i\",\"payload\":{\"command\":\"/bin/echo\",\"args\":[\"$(printf '%03000d' 0)\"]}}" \
            "$URL/api/v1/jobs" || true)
        case "$code" in
        201) $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/sub" >>"$T/load/acked" ;;
        503 | 000) break ;;
        *) fail "a write to the server started on a full disk answered $code: $(cat "$T/sub")" ;;
        esac
    done
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && fail "the server started on the full disk still runs after its writes failed"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" = 3 ] || fail "the server started on the full disk exited $rc after its writes failed (expected 3)"
    echo "ok a start while the disk is full came up (free pages inside data.mdb) and fail-stopped (3) at write $i"
else
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" = 1 ] || fail "a start on the full disk exited $rc (expected 1): $(cat "$T/full-start.out")"
    grep -q "cannot write to the event log" "$T/full-start.out" || fail "a start on the full disk: $(cat "$T/full-start.out")"
    echo "ok a start while the disk is full exits 1: $(grep 'cannot write' "$T/full-start.out")"
fi
pid=""
total=$(acked)

# space comes back: the log verifies, a start serves everything acknowledged and takes writes
unfill
out=$("$DJS" replay verify "$DATA" 2>&1) || fail "replay verify after the disk full: $out"
echo "$out" | grep -q '^OK' || fail "replay verify after the disk full: $out"
start_server
missing=0
while read -r id; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$URL/api/v1/jobs/$id")
    [ "$code" = 200 ] || { missing=$((missing + 1)); echo "acknowledged job $id: GET answers $code" >&2; }
done <"$T/load/acked"
[ "$missing" = 0 ] || fail "$missing of $total acknowledged jobs are missing after the disk full and a restart"
djs_submit '{"name":"after-the-disk-full"}'
djs_wait_status "$id" QUEUED 5
djs_stop_server
out=$("$DJS" replay verify "$DATA" 2>&1) || fail "replay verify at the end: $out"
echo "$out" | grep -q '^OK' || fail "replay verify at the end: $out"
echo "ok space back: all $total acknowledged jobs present, a new write acknowledged, clean stop; $(echo "$out" | grep "^OK")"
echo "ok: test_dr_diskfull ($mode)"
