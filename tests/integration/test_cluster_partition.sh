#!/usr/bin/env bash
# A 3-node cluster (djs serve --node-id/--peers, --election-ms 500), each
# node in its own network namespace with its own address, under network
# partitions. The client (the load and the checks, Python) runs in a hub
# namespace that holds the bridge and reaches every node all the time:
#
#   ns HUB: bridge br0, 10.231.X.254/24 (the client)
#     |-- veth -- ns N1: 10.231.X.1 (HTTP :18300, Raft :18301)
#     |-- veth -- ns N2: 10.231.X.2
#     `-- veth -- ns N3: 10.231.X.3
#
# A cut between two nodes makes each side's neighbour (ARP) entry for the
# other a permanent entry for a MAC address nobody has: their packets to
# each other are dropped silently (as a firewall DROP would, TCP sees
# timeouts), while both still reach and answer the hub. It needs only
# iproute2 (no iptables/nft).
#
#   1. the leader isolated from both peers: the two others elect a leader
#      and take writes within seconds; the old leader steps down (it
#      re-execs) and acknowledges no write answered later than the cut + 2 s,
#      nor any write sent after the cut while it is cut off (writes sent
#      straight to it get 503/resets/redirects); healed, it rejoins as a
#      follower: the same /api/v1/state seq, chain head and digest on all 3
#      nodes, and every acknowledged job is on all 3
#   2. a follower isolated: the two others keep taking writes; healed, it
#      catches up (same seq/digest); whether the leader and term stayed the
#      same (pre-vote) is reported
#   3. one node's links flap 6 times (1 s off, 1 s on) under a light load:
#      the node acknowledges nothing sent while it is cut off; the cluster
#      converges and loses no acknowledged job
#   4. one-way loss on the leader's egress: `tc qdisc add ... netem loss
#      100%` on its veth where sch_netem exists (skipped with a message
#      otherwise), then always the same one-way loss towards its peers only
#      (its neighbour entries for them, the peers' for it untouched): a new
#      leader, no acknowledgement from the old one, no acknowledged job lost
# Each phase runs its own load (2 client threads that follow 307s, rotate
# servers on errors and 503 no-leader, and record every 201 with its time
# and the node that answered), stops it after the heal and checks
# convergence and every acknowledged job (GET /jobs listing at the common
# seq on each node: every acked id under its name, exactly once, no job
# nobody submitted; GET /jobs/{id} for those acked around the partition).
# No two nodes are ever seen leading in the same term. At the end SIGTERM:
# every node exits 0 and `djs replay verify` passes with one chain head.
# Skips (exit 77) with the reason when network namespaces, veths or a
# bridge cannot be created here. Everything is removed on exit.
set -euo pipefail
DJS=${1:?usage: test_cluster_partition.sh path/to/djs}
. "$(dirname "$0")/lib.sh"

skip() {
    echo "SKIP: $*"
    exit 77
}
command -v ip >/dev/null 2>&1 || skip "no 'ip' command (install iproute2)"
djs_init cluster_partition
DJS_LOG_TAIL=30 # read by fail (lib.sh)
export DJS_LOG_TAIL
t_start=$EPOCHREALTIME
# re-exec'd and SIGKILLed nodes never reach LeakSanitizer's exit check
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
ELECTION_MS=500

# names and addresses: distinct from test_netns.sh (10.213.x, djs-s/a/c-PID)
PFX=djs-cp$$
HUB=$PFX-hub
X=$(($$ % 250 + 1))
NET=10.231.$X
HTTP_PORT=18300
RAFT_PORT=18301
declare -A NS IP
for n in 1 2 3; do
    NS[$n]=$PFX-n$n
    IP[$n]=$NET.$n
done
made_ns=()
# shellcheck disable=SC2016 # eval'd at exit
djs_at_exit 'for p in "${made_ns[@]}"; do ip netns del "$p" 2>/dev/null || true; done'

if ! err=$(ip netns add "$HUB" 2>&1); then skip "ip netns add as uid $(id -u): $err"; fi
made_ns+=("$HUB")
if ! err=$(ip -n "$HUB" link add name br0 type bridge 2>&1); then skip "no bridge in a namespace: $err"; fi
ip -n "$HUB" link set lo up
ip -n "$HUB" addr add "$NET.254/24" dev br0
ip -n "$HUB" link set br0 up
for n in 1 2 3; do
    ip netns add "${NS[$n]}" || fail "ip netns add ${NS[$n]}"
    made_ns+=("${NS[$n]}")
    if ! err=$(ip link add name "v$n" netns "${NS[$n]}" type veth peer name "h$n" netns "$HUB" 2>&1); then
        skip "no veth pair between namespaces: $err"
    fi
    ip -n "$HUB" link set "h$n" master br0
    ip -n "$HUB" link set "h$n" up
    ip -n "${NS[$n]}" link set lo up
    ip -n "${NS[$n]}" addr add "${IP[$n]}/24" dev "v$n"
    ip -n "${NS[$n]}" link set "v$n" up
done
echo "ok namespaces $HUB (bridge br0, $NET.254) and ${NS[1]}, ${NS[2]}, ${NS[3]} ($NET.1-3)"

# ---- cutting links ----------------------------------------------------------------------------
# drop_to A B: node A's packets to node B go to a MAC address nobody has (dropped on the wire)
drop_to() { ip -n "${NS[$1]}" neigh replace "${IP[$2]}" lladdr "02:de:ad:00:00:0$2" dev "v$1" nud permanent; }
undrop_to() { ip -n "${NS[$1]}" neigh del "${IP[$2]}" dev "v$1"; }
others() { local m; for m in 1 2 3; do [ "$m" = "$1" ] || echo "$m"; done; }
isolate() { local m; for m in $(others "$1"); do drop_to "$1" "$m" && drop_to "$m" "$1"; done; }
heal() { local m; for m in $(others "$1"); do undrop_to "$1" "$m" && undrop_to "$m" "$1"; done; }

CL=$T/cl.py
export DJS_IT_DIR=$HERE # clusterlib.py, imported by cl.py
cat >"$CL" <<'PY'
"""The client side, run in the hub namespace: loads, waits, checks.
usage: cl.py CONFIG COMMAND ARGS..."""
import http.client, json, os, random, sys, threading, time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.environ["DJS_IT_DIR"])
import clusterlib
from clusterlib import AUTH, conn, fail, get, get_job, jobs_by_name, jsonl, led_terms, node_of_url, short, views

CFG = json.load(open(sys.argv[1]))
D = CFG["dir"]
clusterlib.configure(CFG["nodes"], CFG["token"], os.path.join(D, "terms.json"))  # n -> [ip, port]
NODES = clusterlib.NODES
TIMEOUT = 3.0


def all_records():
    """every exchange that ended in a 201, from every load and direct writer so far"""
    recs = []
    for fn in sorted(os.listdir(D)):
        if fn.startswith(("hist-", "direct-")) and fn.endswith(".jsonl"):
            recs += jsonl(os.path.join(D, fn))
    return recs


# ---- the load ---------------------------------------------------------------------------------

def submit(state, name):
    """One submission of {"name": NAME}, following the leader: the same name is
    sent again only where it surely was not taken (connection refused before
    sending, 307, 503 no-leader); a lost answer or another 503 ends it as
    indeterminate."""
    body = json.dumps({"name": name})
    hdr = dict(AUTH, **{"Content-Type": "application/json"})
    start = time.time()
    steps = []
    n = state["hint"]
    order = sorted(NODES)

    def nxt(m):
        return order[(order.index(m) + 1) % len(order)]

    def done(outcome, **kw):
        return dict(kw, name=name, start=start, end=time.time(), outcome=outcome, steps=steps[-8:])

    while True:
        if time.time() - start > 30:
            return done("error", why="gave up after 30 s")
        c = state["conns"].get(n)
        if c is None:
            c = state["conns"][n] = conn(n, TIMEOUT)
        try:
            if c.sock is None:
                c.connect()
        except OSError as e:
            steps.append([n, type(e).__name__])
            state["conns"].pop(n).close()
            n = nxt(n)
            time.sleep(0.05)
            continue
        t_send = time.time()
        try:
            c.request("POST", "/api/v1/jobs", body, hdr)
            r = c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            steps.append([n, type(e).__name__])
            state["conns"].pop(n).close()
            state["hint"] = nxt(n)
            return done("indeterminate", node=n, why=type(e).__name__, sent=t_send)
        try:
            b = json.loads(data) if data else {}
        except ValueError:
            b = {}
        ptype = (b.get("type") or "").rsplit("/", 1)[-1] if isinstance(b, dict) else ""
        steps.append([n, r.status, ptype])
        if r.status == 201:
            state["hint"] = n
            return done("ok", node=n, id=b["id"], sent=t_send)
        if r.status == 307:
            m = node_of_url(r.getheader("location") or "")
            if m is None:
                return done("error", node=n, why=f"307 to {r.getheader('location')!r}")
            if len(steps) > 1 and steps[-2][:2] == [n, 307]:
                time.sleep(0.05)
            n = m
            continue
        if r.status == 503 and ptype == "no-leader":
            time.sleep(0.1)
            n = nxt(n)
            continue
        if r.status == 503:
            state["hint"] = nxt(n)
            return done("indeterminate", node=n, why=f"503 {ptype}", sent=t_send)
        return done("error", node=n, why=f"{r.status} {b}")


def cmd_load(args):
    """load TAG THREADS PAUSE_S: submits until D/stop-TAG exists; history in D/hist-TAG.jsonl"""
    tag, nthreads, pause = args[0], int(args[1]), float(args[2])
    out = open(os.path.join(D, f"hist-{tag}.jsonl"), "a")
    lock = threading.Lock()
    stop = os.path.join(D, f"stop-{tag}")

    def writer(k):
        state = {"hint": random.choice(sorted(NODES)), "conns": {}}
        i = 0
        while not os.path.exists(stop):
            r = submit(state, f"{tag}-{k}-{i}")
            with lock:
                out.write(json.dumps(r) + "\n")
                out.flush()
            i += 1
            time.sleep(pause if r["outcome"] == "ok" else 0.05)

    ts = [threading.Thread(target=writer, args=(k,)) for k in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def cmd_direct(args):
    """direct TAG NODE PAUSE_S: POSTs to NODE only (no redirect followed, a new
    name each time) until D/stop-TAG exists; every exchange in D/direct-TAG.jsonl"""
    tag, n, pause = args[0], int(args[1]), float(args[2])
    out = open(os.path.join(D, f"direct-{tag}.jsonl"), "a")
    stop = os.path.join(D, f"stop-{tag}")
    hdr = dict(AUTH, **{"Content-Type": "application/json"})
    c = None
    i = 0
    while not os.path.exists(stop):
        name = f"{tag}-direct-{i}"
        i += 1
        rec = {"name": name, "node": n, "start": time.time()}
        try:
            if c is None:
                c = conn(n, TIMEOUT)
            c.request("POST", "/api/v1/jobs", json.dumps({"name": name}), hdr)
            r = c.getresponse()
            data = r.read()
            try:
                b = json.loads(data) if data else {}
            except ValueError:
                b = {}
            rec.update(status=r.status, type=(b.get("type") or "").rsplit("/", 1)[-1])
            if r.status == 201:
                rec.update(outcome="ok", id=b["id"])
            elif r.status == 503 and rec["type"] == "no-leader" or r.status == 307:
                rec.update(outcome="refused", location=r.getheader("location"))
            else:
                rec.update(outcome="indeterminate")
        except (OSError, http.client.HTTPException) as e:
            rec.update(status=None, outcome="indeterminate", why=type(e).__name__)
            if c is not None:
                c.close()
            c = None
        rec["end"] = time.time()
        out.write(json.dumps(rec) + "\n")
        out.flush()
        time.sleep(pause)


# ---- waits ------------------------------------------------------------------------------------

def cmd_leader(args):
    """leader EXCL|0 TIMEOUT_S SINCE: waits until one node other than EXCL leads
    and the others (not EXCL) follow it; prints NODE SECONDS TERM"""
    excl, limit, since = int(args[0]), float(args[1]), float(args[2])
    nodes = [n for n in sorted(NODES) if n != excl]
    while True:
        v = views(nodes)
        lead = [n for n, x in v.items() if x and x.get("leading")]
        if len(lead) == 1 and all(x and x["leaderId"] == lead[0] for x in v.values()):
            print(lead[0], f"{time.time() - since:.2f}", v[lead[0]]["term"])
            return
        if time.time() - since > limit:
            fail(f"no single leader among nodes {nodes} {limit} s after the start: {short(v)}")
        time.sleep(0.05)


def cmd_notleading(args):
    """notleading NODE TIMEOUT_S SINCE: waits until NODE answers that it does not lead; prints SECONDS"""
    n, limit, since = int(args[0]), float(args[1]), float(args[2])
    while True:
        v = views([n])
        if v[n] is not None and not v[n]["leading"]:
            print(f"{time.time() - since:.2f}")
            return
        if time.time() - since > limit:
            fail(f"node {n} still leads (or does not answer) {limit} s after it was cut off: {short(v)}")
        time.sleep(0.05)


def cmd_firstack(args):
    """firstack TAG SINCE TIMEOUT_S NOT_NODE: the first 201 of the load sent after
    SINCE by a node other than NOT_NODE; prints SECONDS NODE"""
    tag, since, limit, notn = args[0], float(args[1]), float(args[2]), int(args[3])
    while True:
        oks = [r for r in jsonl(os.path.join(D, f"hist-{tag}.jsonl"))
               if r["outcome"] == "ok" and r["sent"] >= since and r["node"] != notn]
        if oks:
            r = min(oks, key=lambda r: r["end"])
            print(f"{r['end'] - since:.2f}", r["node"])
            return
        if time.time() - since > limit:
            fail(f"no write acknowledged within {limit} s: {jsonl(os.path.join(D, f'hist-{tag}.jsonl'))[-4:]}")
        time.sleep(0.05)


def cmd_rejoined(args):
    """rejoined NODE TIMEOUT_S SINCE: waits until NODE follows the leader of the
    others and has applied the leader's appliedSeq (read once NODE follows); prints SECONDS"""
    n, limit, since = int(args[0]), float(args[1]), float(args[2])
    target = None
    while True:
        v = views()
        me = v[n]
        lead = [m for m, x in v.items() if x and x["leading"]]
        if me and len(lead) == 1 and lead[0] != n and me["leaderId"] == lead[0] and me["state"] == "follower":
            if target is None:
                target = v[lead[0]]["appliedSeq"]
            if me["appliedSeq"] >= target:
                print(f"{time.time() - since:.2f}")
                return
        if time.time() - since > limit:
            fail(f"node {n} did not rejoin as a caught-up follower {limit} s after the heal: {short(v)}")
        time.sleep(0.05)


def cmd_converge(args):
    """converge TIMEOUT_S: waits until /api/v1/state seq, chain head and digest are
    the same on every node (and appliedSeq = durableSeq = seq) twice in a row; prints SEQ SECONDS DIGEST"""
    limit = float(args[0])
    cur, secs, v, st = clusterlib.converge(limit, state_timeout=5.0, heads=True)
    if cur is None:
        fail(f"the nodes did not converge in {limit} s: {short(v)} "
             f"{ {n: (s[1].get('seq'), s[1].get('digest', '')[:12]) if s[0] == 200 else s for n, s in st.items()} }")
    print(cur[0], f"{secs:.2f}", cur[4][:16])


# ---- checks -----------------------------------------------------------------------------------

def cmd_isocheck(args):
    """isocheck WHAT NODE T_OFF T_ON T_LIMIT: while NODE was cut off (from T_OFF,
    when the cut was in place, to T_ON, when the heal began) it acknowledged no
    write sent in that window (it cannot reach a majority), and no 201 of it
    came later than T_OFF + 2 s and before T_LIMIT; prints what its clients got"""
    what, n, t_off, t_on, t_lim = args[0], int(args[1]), float(args[2]), float(args[3]), float(args[4])
    bad = []
    for r in all_records():
        if r["outcome"] != "ok" or r["node"] != n:
            continue
        sent = r.get("sent", r["start"])
        if sent >= t_off and r["end"] <= t_on:
            bad.append(f"sent {sent - t_off:+.3f} s, answered {r['end'] - t_off:+.3f} s after the cut: {r}")
        elif t_off + 2 < r["end"] <= t_lim:
            bad.append(f"answered {r['end'] - t_off:+.3f} s after the cut (heal at {t_on - t_off:+.3f} s): {r}")
    if bad:
        fail(f"{what}: node {n} acknowledged {len(bad)} writes while cut off from its peers: {bad[:4]}")
    last = [r["end"] - t_off for r in all_records() if r["outcome"] == "ok" and r["node"] == n and t_off - 5 < r["end"] <= t_lim]
    print(f"{max(last):+.2f}" if last else "none")


def cmd_direct_summary(args):
    """direct_summary TAG T_OFF T_ON: what the direct writer got between T_OFF and T_ON"""
    tag, t_off, t_on = args[0], float(args[1]), float(args[2])
    recs = [r for r in jsonl(os.path.join(D, f"direct-{tag}.jsonl")) if r["start"] >= t_off and r["end"] <= t_on]
    kinds = {}
    for r in recs:
        k = str(r["status"]) + (" " + r["type"] if r.get("type") else "") if r["status"] else r.get("why", "?")
        kinds[k] = kinds.get(k, 0) + 1
    if not recs:
        fail(f"the writer sending to the isolated node made no attempt between the cut and the heal")
    if not any(r["outcome"] == "refused" for r in recs):
        fail(f"the isolated node never answered its client with a 503 no-leader or a 307 while cut off: {kinds}")
    print(f"{len(recs)} attempts: " + ", ".join(f"{v} x {k}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))


def cmd_acks(args):
    """acks TAG T0 T1 [NOT_NODE]: how many 201s of the load TAG were answered in [T0, T1] (by nodes other than NOT_NODE)"""
    tag, t0, t1 = args[0], float(args[1]), float(args[2])
    notn = int(args[3]) if len(args) > 3 else 0
    print(sum(1 for r in jsonl(os.path.join(D, f"hist-{tag}.jsonl"))
              if r["outcome"] == "ok" and t0 <= r["end"] <= t1 and r["node"] != notn))


def cmd_jobs(args):
    """jobs SEQ WHAT [T0 T1]: every job acknowledged so far (any load, any direct
    writer) is on every node at SEQ, alone under its name; no job nobody
    submitted; GET /jobs/{id} on every node for those acked within [T0, T1]"""
    S, what = int(args[0]), args[1]
    t0, t1 = (float(args[2]), float(args[3])) if len(args) > 3 else (0, 0)
    recs = all_records()
    errs = [r for r in recs if r["outcome"] == "error"]
    if errs:
        fail(f"{what}: {len(errs)} submissions failed outright, e.g. {errs[:3]}")
    oks = [r for r in recs if r["outcome"] == "ok"]
    ids = [r["id"] for r in oks]
    if len(set(ids)) != len(ids):
        fail(f"{what}: one job id acknowledged for two submissions")
    byname = {r["name"]: r["id"] for r in oks}
    if len(byname) != len(oks):
        fail(f"{what}: one name acknowledged twice")
    sent = {r["name"] for r in recs}
    indet = [r for r in recs if r["outcome"] == "indeterminate"]
    taken = 0
    for n in sorted(NODES):
        seen = jobs_by_name(n, S)
        lost = [(nm, i, seen.get(nm)) for nm, i in byname.items() if seen.get(nm) != [i]]
        if lost:
            fail(f"{what}: node {n} at seq {S}: {len(lost)} acknowledged jobs missing or not alone under their "
                 f"name, e.g. {lost[:5]}")
        unknown = [nm for nm in seen if nm not in sent]
        if unknown:
            fail(f"{what}: node {n} has jobs nobody submitted: {unknown[:5]}")
        dup = [nm for nm, v in seen.items() if len(v) > 1]
        if dup:
            fail(f"{what}: node {n}: names with more than one job: {dup[:5]}")
        taken = sum(1 for r in indet if r["name"] in seen)
    window = [r for r in oks if t0 <= r["end"] <= t1]
    for n in sorted(NODES):
        c = conn(n, 30)
        for r in window:
            ok, status, data = get_job(c, r)
            if not ok:
                fail(f"{what}: node {n} GET /api/v1/jobs/{r['id']} ({r['name']}, acked by node {r['node']}): "
                     f"{status} {data[:200]}")
        c.close()
    print(f"ok {what}: all {len(oks)} acknowledged jobs so far on all 3 nodes at seq {S} "
          f"(listing; {len(window)} acked around the partition also by GET /jobs/{{id}}); "
          f"{len(indet)} indeterminate attempts, {taken} of them taken; no unknown or duplicate job")


def cmd_terms(args):
    terms = led_terms()
    print(len(terms), " ".join(f"{t}:{n}" for t, n in sorted(terms.items(), key=lambda kv: int(kv[0]))))


if __name__ == "__main__":
    globals()["cmd_" + sys.argv[2]](sys.argv[3:])
PY

# ---- the nodes --------------------------------------------------------------------------------
PEERS="1=${IP[1]}:$RAFT_PORT,2=${IP[2]}:$RAFT_PORT,3=${IP[3]}:$RAFT_PORT"
for n in 1 2 3; do mkdir -m 0700 "$T/d$n"; done
ADMIN=$("$DJS" token create --sub admin --role admin --data "$T/d1" --ttl 2h)
for n in 2 3; do install -m 0600 "$T/d1/jwt.secret" "$T/d$n/jwt.secret"; done
AUTH=(-H "Authorization: Bearer $ADMIN")
$PY -c 'import json,sys; a=sys.argv; print(json.dumps({"nodes": {"1": [a[1], int(a[4])], "2": [a[2], int(a[4])], "3": [a[3], int(a[4])]}, "token": a[5], "dir": a[6]}))' \
    "${IP[1]}" "${IP[2]}" "${IP[3]}" "$HTTP_PORT" "$ADMIN" "$T" >"$T/cfg.json"
cl() { ip netns exec "$HUB" "$PY" "$CL" "$T/cfg.json" "$@"; }
now() { echo "$EPOCHREALTIME"; }
secs() { $PY -c "print(f'{$2 - $1:.2f}')"; }

declare -A NPID
start_node() {
    local n=$1
    ip netns exec "${NS[$n]}" "$DJS" serve --data "$T/d$n" --listen "${IP[$n]}:$HTTP_PORT" --node-id "$n" \
        --peers "$PEERS" --election-ms "$ELECTION_MS" --rate-limit 0 >>"$T/node$n.out" 2>&1 &
    NPID[$n]=$!
}
alive() {
    local n
    for n in 1 2 3; do
        kill -0 "${NPID[$n]}" 2>/dev/null || fail "node $n (pid ${NPID[$n]}) exited: $(tail -n 20 "$T/node$n.out")"
    done
}
reexecs() { grep -c "restarting to rebuild from the committed log" "$T/node$1.out" || true; }
djs_on_fail() {
    local n
    for n in 1 2 3; do
        echo "node $n: $(ip netns exec "$HUB" curl -s -m 1 "${AUTH[@]}" "http://${IP[$n]}:$HTTP_PORT/api/v1/cluster")"
        ip -n "${NS[$n]}" neigh show | sed "s/^/  ns $n neigh: /"
    done
}
LOADPID=""
DPID=""
# start_load TAG: the phase's load (2 threads) in the hub
start_load() {
    ip netns exec "$HUB" "$PY" "$CL" "$T/cfg.json" load "$1" 2 0.03 >>"$T/load-$1.err" 2>&1 &
    LOADPID=$!
}
stop_load() {
    touch "$T/stop-$1"
    wait "$LOADPID" || fail "the load client of $1: $(tail -n 5 "$T/load-$1.err")"
    LOADPID=""
}
start_direct() { # start_direct TAG NODE
    ip netns exec "$HUB" "$PY" "$CL" "$T/cfg.json" direct "$1" "$2" 0.05 >>"$T/direct-$1.err" 2>&1 &
    DPID=$!
}
stop_direct() {
    touch "$T/stop-$1"
    wait "$DPID" || fail "the direct writer of $1: $(tail -n 5 "$T/direct-$1.err")"
    DPID=""
}

t0=$(now)
for n in 1 2 3; do start_node "$n"; done
read -r L dt term < <(cl leader 0 30 "$t0") || fail "no leader at the start"
for n in 1 2 3; do
    ip netns exec "$HUB" curl -sf -m 2 "http://${IP[$n]}:$HTTP_PORT/health" >/dev/null || fail "node $n unreachable from the hub"
done
echo "ok 3 nodes up in their namespaces, node $L leads term $term after $dt s"

# ---- 1. the leader isolated from the majority -------------------------------------------------
start_load p1
start_direct p1 "$L"
cl firstack p1 "$t0" 20 0 >/dev/null || fail "no write acknowledged before the partition"
sleep 1.5
old=$L
re0=$(reexecs "$old")
isolate "$old"
t_cut=$(now)
cl notleading "$old" 10 "$t_cut" >"$T/down" 2>&1 &
downpid=$!
read -r N dt_lead term < <(cl leader "$old" 10 "$t_cut") || fail "no new leader after isolating leader node $old"
read -r dt_ack ack_node < <(cl firstack p1 "$t_cut" 10 "$old") || fail "no write acknowledged after isolating node $old"
wait "$downpid" || fail "the isolated leader: $(cat "$T/down")"
dt_down=$(cat "$T/down")
sleep 3 # the partition lasts; writes keep going to the old leader
for _ in $(seq 40); do [ "$(reexecs "$old")" -gt "$re0" ] && break; sleep 0.1; done
[ "$(reexecs "$old")" -gt "$re0" ] || fail "isolated leader node $old did not restart to rebuild from the committed log"
t_heal=$(now)
heal "$old"
n_iso=$(cl acks p1 "$t_cut" "$t_heal" "$old")
[ "$n_iso" -gt 0 ] || fail "the majority took no write while node $old was cut off"
dt_rejoin=$(cl rejoined "$old" 40 "$t_heal") || fail "after the heal of node $old"
t_back=$(now)
stop_direct p1
direct=$(cl direct_summary p1 "$t_cut" "$t_heal") || fail "direct writer"
last_old=$(cl isocheck "phase 1" "$old" "$t_cut" "$t_heal" "$t_back") || fail "phase 1: the old leader acknowledged writes after it was cut off"
stop_load p1
read -r S dt_conv dig < <(cl converge 30) || fail "phase 1: no convergence"
cl jobs "$S" "phase 1" "$(secs 2 "$t_cut")" "$t_back" || fail "phase 1: acknowledged jobs"
alive
echo "ok 1. leader node $old isolated from its peers: node $N leads term $term after $dt_lead s, first write acked (node $ack_node) after $dt_ack s, node $old stopped leading after $dt_down s (restarted to rebuild); $n_iso writes acked by the majority during the $(secs "$t_cut" "$t_heal") s cut"
echo "ok 1. writes sent straight to the isolated old leader: $direct; its last 201 at $last_old s from the cut (none later than +2 s)"
echo "ok 1. healed: node $old follows node $N, caught up after $dt_rejoin s; all 3 nodes at seq $S, digest $dig (converged in $dt_conv s)"

# ---- 2. a follower isolated --------------------------------------------------------------------
read -r L _ term2 < <(cl leader 0 10 "$(now)") || fail "no leader before phase 2"
F=$(others "$L" | head -n 1)
start_load p2
sleep 1
isolate "$F"
t_cut=$(now)
sleep 4
t_heal=$(now)
n_iso=$(cl acks p2 "$t_cut" "$t_heal" "$F")
[ "$n_iso" -gt 0 ] || fail "phase 2: the leader and the other follower took no write while follower $F was cut off"
heal "$F"
dt_rejoin=$(cl rejoined "$F" 40 "$t_heal") || fail "phase 2: after the heal of node $F"
t_back=$(now)
cl isocheck "phase 2" "$F" "$t_cut" "$t_heal" "$t_heal" >/dev/null || fail "phase 2"
stop_load p2
read -r L2 _ term2b < <(cl leader 0 10 "$(now)") || fail "no leader after phase 2"
read -r S dt_conv dig < <(cl converge 30) || fail "phase 2: no convergence"
cl jobs "$S" "phase 2" "$t_cut" "$t_back" || fail "phase 2: acknowledged jobs"
alive
same="the same leader and term (pre-vote)"
[ "$L2 $term2b" = "$L $term2" ] || same="leader now node $L2 term $term2b (was node $L term $term2)"
echo "ok 2. follower node $F isolated for $(secs "$t_cut" "$t_heal") s: nodes $(others "$F" | tr '\n' ' ')took $n_iso writes; healed, it caught up after $dt_rejoin s; $same; all 3 at seq $S, digest $dig"

# ---- 3. flapping links -------------------------------------------------------------------------
read -r L _ _ < <(cl leader 0 10 "$(now)") || fail "no leader before phase 3"
FL=$L
start_load p3
sleep 1
re0=$(reexecs "$FL")
offs=()
for _ in 1 2 3 4 5 6; do
    isolate "$FL"
    a=$(now)
    sleep 1
    b=$(now)
    heal "$FL"
    offs+=("$a $b")
    sleep 1
done
for w in "${offs[@]}"; do
    read -r a b <<<"$w"
    cl isocheck "phase 3" "$FL" "$a" "$b" "$b" >/dev/null || fail "phase 3: node $FL acknowledged a write while cut off"
done
sleep 1
stop_load p3
read -r L3 _ _ < <(cl leader 0 20 "$(now)") || fail "no leader after the flapping"
read -r S dt_conv dig < <(cl converge 40) || fail "phase 3: no convergence after the flapping"
cl jobs "$S" "phase 3" 0 0 || fail "phase 3: acknowledged jobs"
alive
n3=$(grep -c '"outcome": "ok"' "$T/hist-p3.jsonl" || true)
echo "ok 3. node $FL (the leader) flapped 6 times (1 s off, 1 s on): $n3 writes acked meanwhile, it restarted $(($(reexecs "$FL") - re0)) times, acknowledged nothing sent while cut off; leader now node $L3; all 3 at seq $S, digest $dig (converged in $dt_conv s)"

# ---- 4. one-way loss on the leader's egress -----------------------------------------------------
# oneway TAG HOW: the leader's egress is lost (HOW netem: tc netem loss 100% on its veth,
# the hub's traffic included; HOW neigh: its packets to its peers only)
oneway() {
    local tag=$1 how=$2 L N dt_lead term dt_ack re0 t_cut t_heal last S dt_conv dig dt_rejoin m
    read -r L _ _ < <(cl leader 0 10 "$(now)") || fail "no leader before phase 4 ($how)"
    start_load "$tag"
    sleep 1
    re0=$(reexecs "$L")
    if [ "$how" = netem ]; then
        ip netns exec "${NS[$L]}" tc qdisc add dev "v$L" root netem loss 100% || fail "tc netem worked a moment ago"
    else
        for m in $(others "$L"); do drop_to "$L" "$m"; done
    fi
    t_cut=$(now)
    read -r N dt_lead term < <(cl leader "$L" 10 "$t_cut") || fail "4 ($how): no new leader with node $L's egress lost"
    read -r dt_ack _ < <(cl firstack "$tag" "$t_cut" 10 "$L") || fail "4 ($how): no write acknowledged after the loss began"
    sleep 3
    t_heal=$(now)
    if [ "$how" = netem ]; then
        ip netns exec "${NS[$L]}" tc qdisc del dev "v$L" root || fail "tc qdisc del"
    else
        for m in $(others "$L"); do undrop_to "$L" "$m"; done
    fi
    dt_rejoin=$(cl rejoined "$L" 40 "$t_heal") || fail "4 ($how): after the loss ended"
    last=$(cl isocheck "phase 4 ($how)" "$L" "$t_cut" "$t_heal" "$(now)") || fail "phase 4 ($how): the old leader acknowledged writes"
    stop_load "$tag"
    read -r S dt_conv dig < <(cl converge 30) || fail "4 ($how): no convergence"
    cl jobs "$S" "phase 4 ($how)" "$(secs 2 "$t_cut")" "$(now)" || fail "phase 4 ($how): acknowledged jobs"
    alive
    echo "ok 4. one-way loss ($how) on leader node $L's egress for $(secs "$t_cut" "$t_heal") s: node $N leads term $term after $dt_lead s, first ack after $dt_ack s; node $L restarted $(($(reexecs "$L") - re0)) times, its last 201 at $last s from the loss; it rejoined after $dt_rejoin s; all 3 at seq $S, digest $dig"
}
# netem where it exists (probed on the hub's loopback)
if err=$(ip netns exec "$HUB" tc qdisc add dev lo root netem loss 0% 2>&1); then
    ip netns exec "$HUB" tc qdisc del dev lo root
    oneway p4n netem
else
    echo "skip 4. (netem): 'tc qdisc add ... netem' failed here: $(echo "$err" | head -n 1) (no tc or no sch_netem); the one-way loss runs with neighbour entries only"
fi
oneway p4 neigh

# ---- the end ------------------------------------------------------------------------------------
for n in 1 2 3; do
    ! grep -n -m 3 -E "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$T/node$n.out" ||
        fail "node $n: a sanitizer report in its output"
done
read -r nterms terms < <(cl terms)
djs_cluster_stop_verify 1 2 3
echo "ok SIGTERM: every node exits 0; replay verify OK on the 3 data dirs, one chain head; $nterms terms seen led, one leader each ($terms)"
echo "ok: test_cluster_partition in $(secs "$t_start" "$(now)") s"
