#!/usr/bin/env bash
# Disaster drill: point-in-time recovery. A server with a real agent runs
# workflows (a diamond that completes, a chain whose middle job fails so its
# dependent is upstream-failed, a two-stage workflow caught with its first
# stage RUNNING); seq N is noted in the middle of that; more work follows
# (completions, a cancel, new jobs); a hot backup; `djs restore --to-seq N`
# into a new directory and a second server on it. Its state at N equals the
# original's at N (GET /state?at_seq=N and every page of GET /jobs?at_seq=N
# from both servers; the original's digest and chain head at N are those
# restore printed), the digest restore prints equals a full replay of the
# cut log (`djs replay rebuild`) and `djs replay rebuild --to-seq N` of the
# original, records 1..N are the original's and the
# restored log goes on with the new start's server.started at N+1, and it
# verifies. --to-time with the ns time of record N gives N (also written
# with an offset), one ns earlier gives N-1; a point beyond the backup is
# refused.
set -euo pipefail
DJS=${1:?usage: test_dr_pitr.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init dr-pitr
DJS_START_TIMEOUT=15

djs_start_server --heartbeat-interval 1
opid=$pid OURL=$URL oport=$port
ADMIN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $ADMIN")
DJS_CURL=(curl -m 10)
mkdir -p "$T/wd"
"$DJS" worker --server "$URL" --token "$(djs_token agent1 worker)" --name agent1 --slots 3 --workdir "$T/wd" \
    --heartbeat 0.3 --grace 1 >>"$T/agent.out" 2>&1 &
for _ in $(seq 200); do
    grep -q "registered as" "$T/agent.out" 2>/dev/null && break
    sleep 0.05
done
grep -q "registered as" "$T/agent.out" || fail "the agent did not register"

sh_job() { # NAME KEY DEPENDS-ON-JSON SHELL-CMD [EXTRA-JSON]
    printf '{"name":"%s","key":"%s","dependsOn":%s,"maxRetries":0,"payload":%s%s}' "$1" "$2" "$3" "$(djs_exec_payload "$4")" "${5:-}"
}
wf() { echo "{\"jobs\":[$(
    IFS=,
    echo "$*"
)]}"; }
ids_of() { $PY -c 'import json,sys; print(" ".join(j["id"] for j in json.load(open(sys.argv[1]))["jobs"]))' "$T/sub"; }

# a diamond that completes
djs_submit "$(wf "$(sh_job fetch f '[]' 'echo fetch')" "$(sh_job left l '["f"]' 'echo left')" \
    "$(sh_job right r '["f"]' 'echo right')" "$(sh_job join j '["l","r"]' 'echo join')")"
read -r _ _ _ join <<<"$(ids_of)"
djs_wait_status "$join" COMPLETED 30
# a chain whose middle fails: its dependent is upstream-failed
djs_submit "$(wf "$(sh_job a a '[]' 'echo a')" "$(sh_job b b '["a"]' 'echo b; exit 3')" "$(sh_job c c '["b"]' 'echo c')")"
read -r _ chb chc <<<"$(ids_of)"
djs_wait_status "$chb" FAILED 30
djs_wait_status "$chc" FAILED 30
# two stages: the first runs for a while, the second waits for it
djs_submit "$(wf "$(sh_job slow s '[]' 'echo started; sleep 2; echo done')" "$(sh_job after t '["s"]' 'echo after')")"
read -r slow after <<<"$(ids_of)"
djs_wait_status "$slow" RUNNING 30

# N: in the middle of the workflow
N=$(djs_get state | $PY -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
[ "$(djs_jfield "$after" '["status"]')" = CREATED ] || fail "the second stage is not waiting at N"
echo "ok N = $N: $slow RUNNING, $after CREATED"

# more work after N
djs_wait_status "$after" COMPLETED 30
djs_submit "{\"name\":\"late\",\"payload\":$(djs_exec_payload 'echo late')}"
djs_wait_status "$id" COMPLETED 30
djs_submit '{"name":"never","requiredCapabilities":["gpu-none-has"]}'
djs_api -o /dev/null -X POST "$URL/api/v1/jobs/$id/cancel"
djs_wait_status "$id" CANCELLED 10
last=$(djs_get state | $PY -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
[ "$last" -gt $((N + 5)) ] || fail "little happened after N ($N .. $last)"

"$DJS" backup "$T/data" "$T/bk" >"$T/backup.out" 2>&1 || fail "backup: $(cat "$T/backup.out")"
bseq=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["seq"])' "$T/bk/manifest.json")
[ "$bseq" -ge "$last" ] || fail "the backup ends at $bseq, before $last"
echo "ok hot backup at seq $bseq"

# restore to N and start a second server on it
"$DJS" restore "$T/bk" "$T/pitr" --to-seq "$N" >"$T/restore.out" 2>&1 || fail "restore --to-seq: $(cat "$T/restore.out")"
cat "$T/restore.out"
grep -q "^  seq $N " "$T/restore.out" || fail "restore did not end at $N"
grep -q "cut after seq $N" "$T/restore.out" || fail "restore did not say it cut"
digest=$(awk '/state digest/ {print $3}' "$T/restore.out")
head=$(awk '/chain head/ {print $NF}' "$T/restore.out")
tsN=$(awk -v n="$N" '$1 == "seq" && $2 == n {gsub(/[(),]/, "", $3); print $3}' "$T/restore.out")
[ -n "$digest" ] && [ -n "$tsN" ] || fail "restore printed no digest or time"

# the digest is that of a full replay of the cut log (a second copy, never started)
"$DJS" restore "$T/bk" "$T/pitr2" --to-seq "$N" >/dev/null 2>&1 || fail "second restore"
"$DJS" replay rebuild "$T/pitr2" >"$T/rebuild.out" 2>&1 || fail "rebuild: $(cat "$T/rebuild.out")"
grep -q "state digest $digest" "$T/rebuild.out" || fail "restore's digest $digest is not the replay's: $(cat "$T/rebuild.out")"
# and that of the original rebuilt to N (beside its running server)
"$DJS" replay rebuild --to-seq "$N" "$T/data" >"$T/rebuild-orig.out" 2>&1 || fail "rebuild --to-seq: $(cat "$T/rebuild-orig.out")"
grep -q "state digest $digest" "$T/rebuild-orig.out" || fail "the original rebuilt to $N: $(cat "$T/rebuild-orig.out")"
echo "ok the digest equals djs replay rebuild --to-seq $N of the original"
echo "ok the restored digest is the digest of a full replay to $N"

djs_listen
rport=$port RURL=$URL
djs_serve --data "$T/pitr" --listen "127.0.0.1:$rport" --heartbeat-interval 1
djs_wait_ready "the restored server did not answer $RURL/health" curl -sf -m 2 "$RURL/health"
rpid=$pid

# state and job listings at N, from both servers
$PY - "$oport" "$rport" "$ADMIN" "$N" "$digest" "$head" <<'PY' || fail "the restored state at N differs from the original's"
import http.client, json, sys
oport, rport, token, n, digest, head = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
hdr = {"Authorization": "Bearer " + token}
def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers=hdr)
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"GET {path} on :{port}: {r.status} {body[:200]!r}")
    return json.loads(body)
def jobs(port):
    out, cursor = [], None
    while True:
        page = get(port, f"/api/v1/jobs?at_seq={n}&limit=500" + (f"&cursor={cursor}" if cursor else ""))
        out += page["jobs"]
        cursor = page["next"]
        if not cursor:
            return out
def events(port, upto):
    out, frm = [], 1
    while frm is not None and frm <= upto:
        page = get(port, f"/api/v1/events?from_seq={frm}&limit=1000")
        out += [e for e in page["events"] if e["seq"] <= upto]
        frm = page["next"]
    return out
so, sr = get(oport, f"/api/v1/state?at_seq={n}"), get(rport, f"/api/v1/state?at_seq={n}")
if so != sr:
    sys.exit(f"/state?at_seq={n}:\n original {so}\n restored {sr}")
# the original's state digest and chain head at N are those restore printed
if (so.get("digest"), so.get("chain_head")) != (digest, head):
    sys.exit(f"the original at {n}: digest {so['digest']}, head {so['chain_head']}; restore printed {digest}, {head}")
jo, jr = jobs(oport), jobs(rport)
if jo != jr or len(jo) < 9:
    sys.exit(f"/jobs?at_seq={n}: {len(jo)} jobs on the original, {len(jr)} restored, equal: {jo == jr}")
states = sorted({j["status"] for j in jo})
for want in ("COMPLETED", "FAILED", "RUNNING", "CREATED"):
    if want not in states:
        sys.exit(f"no {want} job at N: {states}")
eo, er = events(oport, n), events(rport, n + 1)
if eo != er[:n] or len(eo) != n:
    sys.exit(f"records 1..{n} differ ({len(eo)} original, {len(er)} restored)")
if len(er) != n + 1 or er[n]["type"] != "server.started":
    sys.exit(f"record {n + 1} of the restored log is not the new start's server.started: {er[n:]}")
live = get(rport, "/api/v1/state")
if live["seq"] == n + 1 and live["jobs"] != so["jobs"]:
    sys.exit(f"the restored server's live state (seq {n + 1}) is not the state at N: {live['jobs']} vs {so['jobs']}")
print(f"ok state (digest {digest[:12]}…, as restore printed) and {len(jo)} jobs at seq {n} equal on both servers ({', '.join(states)}); records 1..{n} equal, then server.started")
PY
pid=$rpid
djs_stop_server
"$DJS" replay verify "$T/pitr" >"$T/verify.out" 2>&1 || fail "verify: $(cat "$T/verify.out")"
grep -q '^OK' "$T/verify.out" || fail "verify: $(cat "$T/verify.out")"
echo "ok the restored log verifies"

# --to-time: the ns time of record N names N; so does the same instant with an offset; 1 ns before names N-1
one_ns_before=$($PY -c '
import sys
d, frac = sys.argv[1][:-1].split(".")
ns = int(frac) - 1
print(f"{d}.{ns:09d}Z" if ns >= 0 else "")' "$tsN")
with_offset=$($PY -c '
import datetime, sys
d, frac = sys.argv[1][:-1].split(".")
t = datetime.datetime.strptime(d, "%Y-%m-%dT%H:%M:%S") + datetime.timedelta(hours=1)
print(t.strftime("%Y-%m-%dT%H:%M:%S") + "." + frac + "+01:00")' "$tsN")
for spec in "$tsN:$N" "$with_offset:$N" "$one_ns_before:$((N - 1))"; do
    t=${spec%:*} want=${spec##*:}
    [ -n "${t%%:*}" ] || continue
    rm -rf "$T/ptime"
    "$DJS" restore "$T/bk" "$T/ptime" --to-time "$t" >"$T/rt.out" 2>&1 || fail "restore --to-time $t: $(cat "$T/rt.out")"
    grep -q "^  seq $want " "$T/rt.out" || fail "restore --to-time $t: want seq $want: $(cat "$T/rt.out")"
    if [ "$want" = "$N" ]; then grep -q "state digest $digest" "$T/rt.out" || fail "--to-time $t: another digest"; fi
    echo "ok --to-time $t gives seq $want"
done

# bad points
st=0
"$DJS" restore "$T/bk" "$T/far" --to-seq $((bseq + 1)) >"$T/r.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q "beyond the backup, which ends at seq $bseq" "$T/r.out" || fail "--to-seq beyond: $st $(cat "$T/r.out")"
[ ! -e "$T/far" ] || fail "--to-seq beyond made the directory"
st=0
"$DJS" restore "$T/bk" "$T/far" --to-time 2001-01-01T00:00:00Z >"$T/r.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q "no record at or before" "$T/r.out" || fail "--to-time before the log: $st $(cat "$T/r.out")"
st=0
"$DJS" restore "$T/bk" "$T/far" --to-time 10:02 >"$T/r.out" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q "RFC 3339" "$T/r.out" || fail "--to-time 10:02: $st $(cat "$T/r.out")"
echo "ok bad points refused"

pid=$opid URL=$OURL
djs_stop_server
"$DJS" replay verify "$T/data" | grep -q '^OK' || fail "the original verifies"
echo "test_dr_pitr: all checks passed"
