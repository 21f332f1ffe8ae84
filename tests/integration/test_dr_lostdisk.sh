#!/usr/bin/env bash
# Disaster drill: the data disk is lost. A server started from a config
# file, under load from three submitting clients (each with its own token)
# and a real agent completing jobs; a hot `djs backup --config` meanwhile;
# then the disaster: kill -9 the server, rm -rf the data directory and the
# config. `djs restore --config-to-source` into the same path (the config
# back where it was), start the server on the restored config: it
# serves, the tokens minted before the disaster still work, every job
# acknowledged at or before the backup's seq is there (jobs the agent had
# completed by then are still COMPLETED), the agent carries on with new
# work, and `djs replay verify` passes. Then the bad inputs of restore.
set -euo pipefail
DJS=${1:?usage: test_dr_lostdisk.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init dr-lostdisk
DJS_START_TIMEOUT=15
DJS_SERVE_APPEND=1

djs_listen
cat >"$T/djs.conf" <<EOF
# the server's settings: they travel with the backup
data = $T/data
listen = 127.0.0.1:$port
heartbeat-interval = 1
EOF
djs_serve --config "$T/djs.conf"
djs_wait_ready "serve did not answer $URL/health" curl -sf -m 2 "$URL/health"
ADMIN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $ADMIN")
DJS_CURL=(curl -m 10)
for k in 1 2 3; do djs_token "client$k" user >"$T/tok.$k"; done

mkdir -p "$T/wd"
"$DJS" worker --server "$URL" --token "$(djs_token agent1 worker)" --name agent1 --slots 4 --workdir "$T/wd" \
    --heartbeat 0.3 --grace 1 >>"$T/agent.out" 2>&1 &
for _ in $(seq 200); do
    grep -q "registered as" "$T/agent.out" 2>/dev/null && break
    sleep 0.05
done
grep -q "registered as" "$T/agent.out" || fail "the agent did not register"

# A client: submits short exec jobs until $T/stop exists, writing "id seq"
# for each acknowledged (201) one; rides out the outage.
cat >"$T/client.py" <<'PY'
import http.client, json, os, sys, time
port, token, out, stop, k = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
n, conn = 0, None
with open(out, "a") as f:
    while not os.path.exists(stop):
        body = json.dumps({"name": f"c{k}-{n}", "payload": {"command": "/bin/sh", "args": ["-c", "echo out-$DJS_JOB_ID"]}})
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/v1/jobs", body, hdr)
            r = conn.getresponse()
            data = r.read()
            if r.status == 201:
                d = json.loads(data)
                f.write(f"{d['id']} {d['seq']}\n")
                f.flush()
            elif r.status == 429:
                time.sleep(float(r.getheader("Retry-After", "1")))
            n += 1
            time.sleep(0.01)
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.1)
PY
cpids=()
for k in 1 2 3; do
    $PY "$T/client.py" "$port" "$(cat "$T/tok.$k")" "$T/acked.$k" "$T/stop" "$k" 2>>"$T/clients.err" &
    cpids+=($!)
done
sleep 2

# the hot backup, under load
"$DJS" backup "$T/data" "$T/bk" --config "$T/djs.conf" >"$T/backup.out" 2>&1 || fail "backup: $(cat "$T/backup.out")"
cat "$T/backup.out"
grep -q "token secret: carried" "$T/backup.out" || fail "the backup did not carry the secret"
bseq=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["seq"])' "$T/bk/manifest.json")
grep -q "seq $bseq " "$T/backup.out" || fail "backup printed another seq than its manifest's $bseq"
sleep 1

# the disaster
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=""
touch "$T/stop"
for p in "${cpids[@]}"; do wait "$p" || true; done
rm -rf "$T/data" "$T/djs.conf" # the config was on the lost disk too
cat "$T"/acked.? >"$T/acked"
before=$(awk -v s="$bseq" '$2 <= s' "$T/acked" | wc -l)
after=$(awk -v s="$bseq" '$2 > s' "$T/acked" | wc -l)
[ "$before" -gt 10 ] || fail "only $before jobs acknowledged before the backup"
echo "ok backup at seq $bseq: $before jobs acknowledged before it, $after after; data directory destroyed"

# restore: bad inputs first (each exit 1 with a precise message, nothing made)
r() { "$DJS" restore "$@" >"$T/r.out" 2>&1; }
expect_refused() { # WHAT NEEDLE BACKUP
    local st=0
    r "$3" "$T/never" || st=$?
    [ "$st" = 1 ] || fail "$1: exit $st, want 1: $(cat "$T/r.out")"
    grep -q -- "$2" "$T/r.out" || fail "$1: no '$2' in: $(cat "$T/r.out")"
    [ ! -e "$T/never" ] || fail "$1: the target was made"
    ! ls -d "$T"/.never.restore-* >/dev/null 2>&1 || fail "$1: a temporary directory was left"
    echo "ok refused: $1"
}
cp -r "$T/bk" "$T/bad"
$PY -c 'import sys; p=sys.argv[1]; s=open(p).read(); open(p,"w").write(s[: len(s) // 2])' "$T/bad/manifest.json"
expect_refused "corrupt manifest" "manifest.json is not valid JSON" "$T/bad"
rm -rf "$T/bad" && cp -r "$T/bk" "$T/bad"
printf 'x' | dd of="$T/bad/data.mdb" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_refused "a log that differs" "(the log) does not match the manifest" "$T/bad"
rm -rf "$T/bad" && cp -r "$T/bk" "$T/bad"
echo "one more line" >>"$T/bad/djs.conf"
expect_refused "a config that differs" "(the config) has" "$T/bad"
rm -rf "$T/bad" && cp -r "$T/bk" "$T/bad"
rm "$T/bad/jwt.secret"
expect_refused "missing secret" "(the secret) is listed in the manifest but cannot be read" "$T/bad"
rm "$T/bad/manifest.json"
expect_refused "no manifest" "incomplete backup" "$T/bad"
mkdir -p "$T/busy" && touch "$T/busy/something"
st=0
"$DJS" restore "$T/bk" "$T/busy" >"$T/r.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q "is not empty" "$T/r.out" || fail "a non-empty DIR: exit $st: $(cat "$T/r.out")"
echo "ok refused: DIR not empty"

"$DJS" restore "$T/bk" "$T/data" --config-to-source >"$T/restore.out" 2>&1 || fail "restore: $(cat "$T/restore.out")"
cat "$T/restore.out"
grep -q "seq $bseq " "$T/restore.out" || fail "restore did not end at the backup's seq $bseq"
grep -q "start it with: djs serve --config $T/djs.conf --data $T/data" "$T/restore.out" || fail "restore did not say how to start"
cmp -s "$T/bk/djs.conf" "$T/djs.conf" || fail "the config was not put back where it came from"
[ "$(stat -c %a "$T/data/jwt.secret")" = 600 ] || fail "the secret is not 0600"
st=0
"$DJS" restore "$T/bk" "$T/data" >"$T/r.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q "already holds a log" "$T/r.out" || fail "restore over a log: exit $st: $(cat "$T/r.out")"

# start on it, as restore said
djs_serve --config "$T/djs.conf" --data "$T/data"
djs_wait_ready "the restored server did not answer $URL/health" curl -sf -m 2 "$URL/health"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/api/v1/jobs?limit=1")
[ "$code" = 200 ] || fail "the admin token minted before the disaster: $code"
for k in 1 2 3; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/tok.$k")" "$URL/api/v1/jobs?limit=1")
    [ "$code" = 200 ] || fail "client$k's token minted before the disaster: $code"
done
echo "ok the restored server serves; every token minted before the disaster works"
djs_get "state?at_seq=$bseq" >"$T/state.json"
$PY - "$T/state.json" "$T/bk/manifest.json" <<'PY' || fail "the restored server's state at the backup's seq is not the manifest's"
import json, sys
st, m = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
if (st.get("digest"), st.get("chain_head")) != (m["state_digest"], m["chain_head"]):
    sys.exit(f"at seq {m['seq']}: digest {st.get('digest')} head {st.get('chain_head')}; manifest {m['state_digest']} {m['chain_head']}")
print(f"ok the restored server's digest and chain head at seq {m['seq']} are the manifest's")
PY

# every job acknowledged at or before the backup's seq is there, as it was
awk -v s="$bseq" '$2 <= s {print $1}' "$T/acked" >"$T/must"
$PY - "$port" "$ADMIN" "$T/must" "$bseq" <<'PY' || fail "jobs acknowledged before the backup are missing"
import http.client, json, sys
port, token, path, bseq = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
hdr = {"Authorization": "Bearer " + token}
ids = [l.strip() for l in open(path) if l.strip()]
missing, differ, completed = [], [], 0
for i in ids:
    c.request("GET", f"/api/v1/jobs/{i}", headers=hdr)
    r = c.getresponse(); body = r.read()
    if r.status != 200:
        missing.append((i, r.status)); continue
    c.request("GET", f"/api/v1/jobs/{i}?at_seq={bseq}", headers=hdr)
    r2 = c.getresponse(); then = json.loads(r2.read())
    if json.loads(body)["status"] == "COMPLETED":
        completed += 1
    if r2.status != 200 or then.get("status") is None:
        differ.append(i)
if missing or differ:
    print("missing:", missing[:5], "unreadable at the backup's seq:", differ[:5], file=sys.stderr); sys.exit(1)
if completed == 0:
    print("no job the agent completed before the backup is COMPLETED", file=sys.stderr); sys.exit(1)
print(f"ok all {len(ids)} jobs acknowledged at or before seq {bseq} are there ({completed} COMPLETED)")
PY

# the agent carries on against the restored server
djs_submit "{\"name\":\"after-restore\",\"payload\":$(djs_exec_payload 'echo restored')}"
djs_wait_status "$id" COMPLETED 30
echo "ok a job submitted after the restore completed on the agent"

djs_stop_server
"$DJS" replay verify "$T/data" >"$T/verify.out" 2>&1 || fail "verify: $(cat "$T/verify.out")"
grep -q '^OK' "$T/verify.out" || fail "verify: $(cat "$T/verify.out")"
echo "test_dr_lostdisk: all checks passed"
