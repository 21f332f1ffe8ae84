#!/usr/bin/env bash
# A 3-node cluster (djs serve --node-id/--peers, Raft on loopback) under a
# load of job submissions that follow the leader, while the leader is
# killed (kill -9) again and again, then stopped (SIGSTOP) for longer than
# the election timeout and resumed.
#
#   1. three nodes start on fresh data dirs with one jwt.secret; exactly one
#      leads (GET /api/v1/cluster)
#   2. 4 client threads submit jobs with unique names, following 307s to the
#      leader (method, body and Authorization re-sent) and trying the other
#      nodes on 503 no-leader or a refused connection; every attempt goes to
#      a history (thread, name, start, end, outcome ok+id / indeterminate /
#      error, the node that answered); a reader thread pages /jobs and
#      /events on every node meanwhile
#   3. DJS_CLUSTER_CYCLES (20) times: kill -9 the leader, time the new
#      leader and the first acknowledged write sent after the kill (each
#      within DJS_CLUSTER_FAILOVER_MAX s, 10), restart the killed node on its
#      data dir and wait until it has applied what the leader had
#   4. SIGSTOP the leader for 3.5 s: another node leads and takes writes;
#      after SIGCONT the old leader acknowledges nothing (a write sitting in
#      its socket while it was stopped gets 307/503 or a closed connection,
#      one sent to it after SIGCONT, again until it answers, gets 307/503;
#      no load write sent after the stop got 201 from it), unless it leads
#      again in a later term
#   5. with the load stopped and the three nodes caught up: every 201 job is
#      there (GET /jobs/{id} 200, same name) on every node, acked ids and
#      names are unique and each acked name is exactly one job; the nodes
#      agree on /state's seq, chain head and digest, and on the digest at
#      several earlier seqs (at_seq), the cluster.leader seqs among them;
#      no two nodes were ever seen leading in the same term
#   6. a WebSocket /ws/events?from_seq=1 subscription opened on a follower
#      before the kills saw every seq once, in order, no gap (it resumes at
#      last+1 on another node only when its node goes down), and the events
#      it saw are the log's; followers answer /jobs and /events pages
# Then SIGTERM: every node exits 0, and `djs replay verify` passes on each
# data dir with the same chain head.
set -euo pipefail
DJS=${1:?usage: test_cluster.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init cluster
DJS_LOG_TAIL=40
CYCLES=${DJS_CLUSTER_CYCLES:-20}
[ "$CYCLES" -ge 1 ] || fail "DJS_CLUSTER_CYCLES must be at least 1"
FAILOVER_MAX=${DJS_CLUSTER_FAILOVER_MAX:-10}
ELECTION_MS=500
# the nodes run (and re-exec) a copy: a rebuild of the tree during the ~80 s
# must not make a restart fail with "Permission denied" or run another binary
cp "$DJS" "$T/djs"
DJS=$T/djs
# Killed and re-exec'd nodes never reach LeakSanitizer's exit check; the final
# SIGTERM does, and a leak found there fails the exit status check.
# DJS_CLUSTER_NOLEAKS=1 runs the nodes with detect_leaks=0.

CL=$T/cl.py
export DJS_IT_DIR=$HERE # clusterlib.py, imported by cl.py
cat >"$CL" <<'PY'
"""The test's client side: the load, the checks, the WebSocket subscriber.
usage: cl.py CONFIG COMMAND ARGS... (CONFIG: the JSON written by the script)"""
import asyncio, hashlib, http.client, json, os, random, socket, statistics, sys, threading, time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.environ["DJS_IT_DIR"])
import clusterlib
from clusterlib import AUTH, conn, fail, get, get_job, jobs_by_name, jsonl, led_terms, node_of_url, views

CFG = json.load(open(sys.argv[1]))
NODES = {int(k): int(v) for k, v in CFG["http"].items()}  # n -> its HTTP port on 127.0.0.1
D = CFG["dir"]
HIST = os.path.join(D, "history.jsonl")
clusterlib.configure({n: ("127.0.0.1", p) for n, p in NODES.items()}, CFG["token"], os.path.join(D, "terms.json"))
TIMEOUT = 3.0  # a write's answer: longer is an indeterminate outcome


# ---- submitting: one attempt per unique name -------------------------------------------------

class Submitter:
    """Submits {"name": NAME}, following the leader. The same name is sent
    again only where the write surely was not taken: a refused connection,
    a 307 (a follower, before anything else), a 503 no-leader. A lost
    connection or a timeout after sending, and any other 503, end the
    attempt as indeterminate; the next attempt has a new name."""

    def __init__(self, avoid=()):
        self.conns = {}
        self.avoid = set(avoid)
        order = [n for n in sorted(NODES) if n not in self.avoid]
        self.hint = random.choice(order)

    def _conn(self, n):
        c = self.conns.get(n)
        if c is None:
            c = self.conns[n] = conn(n, TIMEOUT)
        return c

    def _drop(self, n):
        c = self.conns.pop(n, None)
        if c is not None:
            c.close()

    def _next(self, n):
        order = [m for m in sorted(NODES) if m not in self.avoid]
        return order[(order.index(n) + 1) % len(order)] if n in order else order[0]

    def submit(self, name, give_up_s=30.0):
        body = json.dumps({"name": name})
        hdr = dict(AUTH, **{"Content-Type": "application/json"})
        start = time.time()
        steps = []
        n = self.hint
        res = {"name": name, "start": start}

        def done(outcome, **kw):
            res.update(kw, outcome=outcome, end=time.time(), steps=steps[-12:])
            return res

        while True:
            if time.time() - start > give_up_s:
                return done("error", why="gave up: no leader took it")
            c = self._conn(n)
            try:
                if c.sock is None:
                    c.connect()
            except OSError as e:  # nothing was sent
                steps.append([n, type(e).__name__])
                self._drop(n)
                n = self._next(n)
                time.sleep(0.05)
                continue
            try:
                c.request("POST", "/api/v1/jobs", body, hdr)
                r = c.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:  # sent: taken or not
                steps.append([n, type(e).__name__])
                self._drop(n)
                self.hint = self._next(n)
                return done("indeterminate", node=n, why=type(e).__name__)
            try:
                b = json.loads(data) if data else {}
            except ValueError:
                b = {"raw": data.decode("latin-1")[:200]}
            ptype = b.get("type", "") if isinstance(b, dict) else ""
            steps.append([n, r.status, ptype.rsplit("/", 1)[-1]])
            if r.status == 201:
                self.hint = n
                return done("ok", node=n, id=b["id"], seq=b.get("seq"))
            if r.status == 307:
                loc = r.getheader("location") or ""
                m = node_of_url(loc) if loc.startswith("http") else None
                if m is None or not loc.endswith("/api/v1/jobs"):
                    return done("error", node=n, why=f"307 to {loc!r}")
                if m in self.avoid:  # sent to a node this submitter must not use
                    time.sleep(0.05)
                    n = self._next(n)
                else:
                    if len(steps) > 1 and steps[-2][:2] == [n, 307]:
                        time.sleep(0.02)
                    n = m
                continue
            if r.status == 503 and ptype.endswith("/no-leader"):
                time.sleep(0.1)
                n = self._next(n)
                continue
            if r.status == 503:
                self.hint = self._next(n)
                return done("indeterminate", node=n, why=f"503 {ptype}")
            return done("error", node=n, why=f"{r.status} {b}")


def cmd_load(args):
    """load THREADS PREFIX: submits until D/stop-load exists; the history goes to HIST."""
    nthreads, prefix = int(args[0]), args[1]
    lock = threading.Lock()
    out = open(HIST, "a")
    stop = os.path.join(D, "stop-load")
    read_bad = []

    def writer(k):
        s = Submitter()
        i = 0
        while not os.path.exists(stop):
            r = s.submit(f"{prefix}-{k}-{i}")
            r["thread"] = k
            with lock:
                out.write(json.dumps(r) + "\n")
                out.flush()
            i += 1
            time.sleep(0.01 if r["outcome"] == "ok" else 0.05)

    def reader():
        # followers (and the leader) serve reads: a page of jobs, a page of events in order
        while not os.path.exists(stop):
            n = random.choice(sorted(NODES))
            st, b = get(n, "/api/v1/jobs?limit=20", 3.0)
            if st is not None and st != 200:
                read_bad.append(f"node {n} /jobs: {st} {b}")
            st, b = get(n, f"/api/v1/events?from_seq={random.randint(1, 50)}&limit=50", 3.0)
            if st == 200:
                seqs = [e["seq"] for e in b["events"]]
                if seqs and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
                    read_bad.append(f"node {n} /events: seqs {seqs}")
            elif st is not None:
                read_bad.append(f"node {n} /events: {st} {b}")
            time.sleep(0.2)

    ts = [threading.Thread(target=writer, args=(k,)) for k in range(nthreads)]
    ts.append(threading.Thread(target=reader))
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if read_bad:
        fail(f"{len(read_bad)} bad reads during the load, e.g. {read_bad[:3]}")


def history():
    return jsonl(HIST)


def cmd_leader(args):
    """leader [EXCLUDE|0] TIMEOUT_S SINCE_TS [all]: waits until exactly one of
    the other nodes leads (all: and every node names it); prints NODE SECONDS TERM."""
    excl, limit, since = int(args[0]), float(args[1]), float(args[2])
    agree = len(args) > 3 and args[3] == "all"
    nodes = [n for n in sorted(NODES) if n != excl]
    last = None
    while True:
        v = views(nodes)
        lead = [n for n, x in v.items() if x is not None and x.get("leading")]
        if len(lead) == 1:
            L = lead[0]
            if not agree or all(x is not None and x.get("leaderId") == L for x in v.values()):
                print(L, f"{time.time() - since:.3f}", v[L]["term"])
                return
        last = v
        if time.time() - since > limit:
            fail(f"no single leader among nodes {nodes} {limit} s after {since:.3f}: {last}")
        time.sleep(0.05)


def cmd_firstack(args):
    """firstack SINCE_TS TIMEOUT_S [NOT_NODE]: waits for the first ok in the history
    sent after SINCE_TS; prints SECONDS (from SINCE_TS to its answer) NODE."""
    since, limit = float(args[0]), float(args[1])
    not_node = int(args[2]) if len(args) > 2 else 0
    while True:
        oks = [r for r in history() if r["outcome"] == "ok" and r["start"] >= since and r["node"] != not_node]
        if oks:
            r = min(oks, key=lambda r: r["end"])
            print(f"{r['end'] - since:.3f}", r["node"])
            return
        if time.time() - since > limit:
            tail = history()[-8:]
            fail(f"no write acknowledged within {limit} s after {since:.3f}; last attempts: {tail}")
        time.sleep(0.05)


def cmd_caughtup(args):
    """caughtup NODE TIMEOUT_S: waits until NODE follows a known leader and has
    applied at least the leader's appliedSeq (taken once NODE answers); prints SECONDS."""
    n, limit = int(args[0]), float(args[1])
    t0 = time.time()
    target = None
    while True:
        v = views(sorted(NODES))
        me = v[n]
        if me is not None and target is None:
            lead = [x for x in v.values() if x is not None and x.get("leading")]
            if lead:
                target = lead[0]["appliedSeq"]
        if me is not None and target is not None and me["leaderId"] != 0 and me["appliedSeq"] >= target \
                and me["durableSeq"] >= target:
            print(f"{time.time() - t0:.3f}", target)
            return
        if time.time() - t0 > limit:
            fail(f"node {n} did not catch up to seq {target} in {limit} s: "
                 + (f"{me}" if me is not None else "it does not answer /api/v1/cluster"))
        time.sleep(0.05)


def cmd_direct(args):
    """direct NODE NAME TIMEOUT_S OUT [retry]: a POST to NODE itself (no redirect
    followed); retry: again while the connection is refused or lost, until NODE
    answers or TIMEOUT_S pass. Writes {start, end, status, type, location, id |
    error, tries} to OUT."""
    n, name, limit, out = int(args[0]), args[1], float(args[2]), args[3]
    retry = len(args) > 4 and args[4] == "retry"
    res = {"node": n, "name": name, "start": time.time(), "tries": []}
    while True:
        c = conn(n, max(0.1, limit - (time.time() - res["start"])))
        try:
            c.request("POST", "/api/v1/jobs", json.dumps({"name": name}),
                      dict(AUTH, **{"Content-Type": "application/json"}))
            r = c.getresponse()
            data = r.read()
            b = json.loads(data) if data else {}
            res.update(status=r.status, type=b.get("type"), location=r.getheader("location"), id=b.get("id"))
            break
        except (OSError, http.client.HTTPException, ValueError) as e:
            res["tries"].append(type(e).__name__)
            res.update(status=None, error=type(e).__name__)
            if not retry or time.time() - res["start"] > limit:
                break
            time.sleep(0.02)
        finally:
            c.close()
    res["end"] = time.time()
    with open(out + ".tmp", "w") as f:
        json.dump(res, f)
    os.replace(out + ".tmp", out)


def cmd_write(args):
    """write AVOID NAME SINCE_TS: submits NAME through the other nodes; prints
    SECONDS (from SINCE_TS to the 201) NODE ID."""
    avoid, name, since = int(args[0]), args[1], float(args[2])
    s = Submitter(avoid=(avoid,))
    r = s.submit(name, give_up_s=15.0)
    with open(os.path.join(D, "extra.jsonl"), "a") as f:
        f.write(json.dumps(r) + "\n")
    if r["outcome"] != "ok":
        fail(f"a write avoiding node {avoid} was not acknowledged: {r}")
    if r["node"] == avoid:
        fail(f"{r}")
    print(f"{r['end'] - since:.3f}", r["node"], r["id"])


def cmd_stopcheck(args):
    """stopcheck OLD T_STOPPED TERM: after SIGCONT of OLD (stopped while it led
    TERM): the write that waited in its socket while it was stopped and the one
    sent after SIGCONT were not acknowledged by it, nor any load write sent after
    T_STOPPED, unless OLD led again in a later term."""
    old, t_stopped = int(args[0]), float(args[1])
    terms = led_terms()
    old_terms = sorted(int(t) for t, n in terms.items() if n == old)
    stop_term = int(args[2])
    led_again = [t for t in old_terms if t > stop_term]
    bad = []
    for f in ("direct-stopped.json", "direct-cont.json"):
        r = json.load(open(os.path.join(D, f)))
        print(f"ok {f.split('.')[0]} write to node {old}: " + " ".join(r["tries"] + [str(r.get("status") or "")]).strip()
              + f" {(r.get('type') or '').rsplit('/', 1)[-1]}".rstrip())
        if f == "direct-cont.json" and r.get("status") is None:
            bad.append(f"{f}: no answer from node {old} after SIGCONT: {r}")
        if r.get("status") == 201 and not led_again:
            bad.append(f"{f}: {r}")
        if r.get("status") not in (None, 307, 503, 201):
            bad.append(f"{f}: unexpected {r}")
    for r in history():
        if r["outcome"] == "ok" and r["node"] == old and r["start"] >= t_stopped and not led_again:
            bad.append(f"load: {r}")
    if bad:
        fail(f"node {old}, stopped as the leader of term {stop_term}, acknowledged writes after SIGCONT "
             f"without leading again (terms it led: {old_terms}): {bad[:5]}")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def cmd_figures(args):
    """figures FILE: lines of 'CYCLE LEADER_S ACK_S CATCHUP_S' -> p50/max"""
    rows = [list(map(float, l.split())) for l in open(args[0]) if l.strip()]
    for i, what in ((1, "new leader"), (2, "first acknowledged write"), (3, "restarted node caught up")):
        xs = [r[i] for r in rows]
        print(f"ok {what} after kill -9 of the leader ({len(xs)} cycles): p50 {statistics.median(xs):.2f} s, "
              f"max {max(xs):.2f} s")


def cmd_converge(args):
    """converge TIMEOUT_S: waits until every node reports the same appliedSeq,
    durableSeq and /state seq twice in a row; prints SEQ."""
    limit = float(args[0])
    cur, _, v, st = clusterlib.converge(limit)
    if cur is None:
        fail(f"the nodes did not converge in {limit} s: {v} {[(n, s[1].get('seq') if s[0] == 200 else s) for n, s in st.items()]}")
    print(cur[0])


def all_events(n, upto):
    evs, frm = [], 1
    while frm <= upto:
        q = f"/api/v1/events?from_seq={frm}&limit=1000&at_seq={upto}"
        st, b = get(n, q, 30.0)
        if st != 200:
            fail(f"node {n} GET {q}: {st} {b}")
        if not b["events"]:
            break
        evs += b["events"]
        frm = b["events"][-1]["seq"] + 1
    return evs


def ev_key(e):
    return f"{e['seq']} {e['type']} {e.get('entity')}\n"


def cmd_final(args):
    """final SEQ: the invariants at the common seq SEQ, on every node."""
    S = int(args[0])
    h = history()
    extra = [json.loads(l) for l in open(os.path.join(D, "extra.jsonl"))] if os.path.exists(os.path.join(D, "extra.jsonl")) else []
    allh = h + extra
    oks = [r for r in allh if r["outcome"] == "ok"]
    errs = [r for r in allh if r["outcome"] == "error"]
    indet = [r for r in allh if r["outcome"] == "indeterminate"]
    if errs:
        fail(f"{len(errs)} attempts failed outright, e.g. {errs[:3]}")
    ids = [r["id"] for r in oks]
    names = [r["name"] for r in oks]
    if len(set(ids)) != len(ids):
        fail("one job id acknowledged for two submissions")
    if len(set(names)) != len(names):
        fail("one name acknowledged twice")
    print(f"ok {len(allh)} submissions: {len(oks)} acknowledged (201), {len(indet)} indeterminate, 0 refused")

    # the same state on every node, now and at earlier seqs
    st = {n: get(n, "/api/v1/state") for n in sorted(NODES)}
    tops = {n: (b["seq"], b["applied_seq"], b["chain_head"], b["digest"]) for n, (c, b) in st.items()}
    if len(set(tops.values())) != 1:
        fail(f"the nodes disagree on /state: {tops}")
    if tops[1][0] != S:
        fail(f"/state seq {tops[1][0]} != {S}")
    evs = all_events(1, S)
    if [e["seq"] for e in evs] != list(range(1, S + 1)):
        fail(f"node 1's /events is not seqs 1..{S}")
    leads = [e["seq"] for e in evs if e["type"] == "cluster.leader"]
    points = {1, S // 4, S // 2, 3 * S // 4, S - 1, S}
    for s in leads:
        points |= {s - 1, s, s + 1}
    points = sorted(p for p in points if 1 <= p <= S)
    for p in points:
        d = {}
        for n in sorted(NODES):
            c, b = get(n, f"/api/v1/state?at_seq={p}", 30.0)
            if c != 200:
                fail(f"node {n} /state?at_seq={p}: {c} {b}")
            d[n] = (b["seq"], b["chain_head"], b["digest"])
        if len(set(d.values())) != 1 or d[1][0] != p:
            fail(f"at seq {p} the nodes disagree: {d}")
    print(f"ok all nodes at seq {S}, chain head {tops[1][2][:12]}, digest {tops[1][3][:12]}; "
          f"the same digest on every node at {len(points)} earlier seqs ({len(leads)} cluster.leader events)")
    with open(os.path.join(D, "log.sha"), "w") as f:
        f.write(hashlib.sha256("".join(ev_key(e) for e in evs).encode()).hexdigest())

    # every acknowledged job on every node: GET /jobs/{id}, and in the listing exactly once by name
    byname = {r["name"]: r["id"] for r in oks}
    indet_names = {r["name"] for r in indet}
    for n in sorted(NODES):
        seen = jobs_by_name(n, S)
        lost = [(nm, i) for nm, i in byname.items() if seen.get(nm) != [i]]
        if lost:
            fail(f"node {n}: {len(lost)} acknowledged jobs missing or not alone under their name, e.g. "
                 f"{[(nm, i, seen.get(nm)) for nm, i in lost[:5]]}")
        dup = [nm for nm, v in seen.items() if len(v) > 1]
        if dup:
            fail(f"node {n}: names with more than one job: {dup[:5]}")
        unknown = [nm for nm in seen if nm not in byname and nm not in indet_names]
        if unknown:
            fail(f"node {n}: jobs nobody submitted or that were refused: {unknown[:5]}")
        if n == 1:
            taken = {nm for nm in indet_names if nm in seen}
    bad = []
    lock = threading.Lock()

    def check(n, part):
        c = conn(n, 30)
        for r in part:
            ok, status, _ = get_job(c, r)
            if not ok:
                with lock:
                    bad.append((n, r["id"], status))
        c.close()

    ts = [threading.Thread(target=check, args=(n, oks[k::3])) for n in sorted(NODES) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if bad:
        fail(f"{len(bad)} acknowledged jobs do not answer GET /jobs/{{id}} 200, e.g. {bad[:5]}")
    why = {}
    for r in indet:
        w = why.setdefault(r["why"].rsplit("/", 1)[-1], [0, 0])
        w[0] += 1
        w[1] += r["name"] in taken
    print(f"ok every acknowledged job ({len(oks)}) answers GET /api/v1/jobs/{{id}} 200 on all {len(NODES)} nodes "
          f"and is the only job of its name; indeterminate attempts (how many, how many were taken): "
          + (", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(why.items())) or "none"))
    with open(os.path.join(D, "acked"), "w") as f:
        f.write(str(len(oks)))

    # followers serve reads
    v = views(sorted(NODES))
    fol = [n for n, x in v.items() if x and x["state"] == "follower"]
    if len(fol) != 2:
        fail(f"expected 2 followers: {v}")
    for n in fol:
        c, b = get(n, "/api/v1/jobs?limit=7")
        if c != 200 or len(b["jobs"]) != 7:
            fail(f"follower {n} /jobs?limit=7: {c} {b}")
        c, b = get(n, f"/api/v1/events?from_seq={S - 9}&limit=10")
        if c != 200 or [e["seq"] for e in b["events"]] != list(range(S - 9, S + 1)):
            fail(f"follower {n} /events: {c} {b}")
    print(f"ok followers {fol} serve /jobs and /events pages")


async def ws_run(first, stopf, progf):
    import websockets
    last = 0
    n = first
    h = hashlib.sha256()
    segs = []
    while True:
        if os.path.exists(stopf):
            want = int(open(stopf).read().strip() or 0)
            if last >= want:
                break
        uri = f"ws://127.0.0.1:{NODES[n]}/ws/events?from_seq={last + 1}"
        try:
            async with websockets.connect(uri, extra_headers=AUTH, max_size=None, open_timeout=2,
                                          ping_interval=None) as ws:
                seg = {"node": n, "open": time.time(), "from": last + 1, "to": last}
                segs.append(seg)
                hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if hello.get("type") != "hello" or hello.get("fromSeq") != last + 1:
                    fail(f"ws node {n}: hello {hello} (from_seq {last + 1})")
                while True:
                    try:
                        m = await asyncio.wait_for(ws.recv(), 0.5)
                    except asyncio.TimeoutError:
                        if os.path.exists(stopf) and last >= int(open(stopf).read().strip() or 0):
                            break
                        continue
                    e = json.loads(m)
                    if e["seq"] != last + 1:
                        fail(f"ws node {n}: seq {e['seq']} after {last}")
                    last = seg["to"] = e["seq"]
                    seg["close"] = time.time()
                    h.update(ev_key(e).encode())
                    if last % 50 == 0:
                        with open(progf + ".tmp", "w") as f:
                            f.write(str(last))
                        os.replace(progf + ".tmp", progf)
                break
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
            n = n % len(NODES) + 1  # its node went away: resume at last + 1 on the next one
            await asyncio.sleep(0.1)
    return last, segs, h.hexdigest()


def cmd_ws(args):
    """ws NODE: /ws/events from seq 1 on NODE until D/stop-ws names a seq it reached."""
    first = int(args[0])
    last, segs, dig = asyncio.run(ws_run(first, os.path.join(D, "stop-ws"), os.path.join(D, "ws.progress")))
    with open(os.path.join(D, "ws.result"), "w") as f:
        json.dump({"first": first, "last": last, "segs": segs, "sha": dig}, f)


def cmd_wscheck(args):
    """wscheck SEQ CYCLES_FILE: the subscriber reached SEQ, saw the log's events,
    and at least one connection of it stayed open across a kill of the leader
    (opened before the kill, on another node, receiving events after the first
    write acknowledged after it)."""
    S = int(args[0])
    r = json.load(open(os.path.join(D, "ws.result")))
    if r["last"] != S:
        fail(f"the WebSocket subscriber stopped at seq {r['last']}, not {S}")
    if r["sha"] != open(os.path.join(D, "log.sha")).read():
        fail("the events the WebSocket subscriber saw are not the log's")
    kills = [l.split() for l in open(args[1]) if l.strip()]
    across = 0
    for k in kills:
        t0, killed, ack = float(k[4]), int(k[5]), float(k[2])
        if any(g["node"] != killed and g["open"] < t0 and g.get("close", 0) > t0 + ack for g in r["segs"]):
            across += 1
    if across == 0:
        fail(f"no WebSocket connection stayed open across a leader kill: {r['segs']}")
    print(f"ok /ws/events?from_seq=1 opened on follower node {r['first']}: seqs 1..{S} in order without a gap, "
          f"the same events as the log, {len(r['segs'])} connections (resumed at last+1 when its node went down); "
          f"{across} of {len(kills)} leader kills passed under an open connection")


def cmd_ports(args):
    """ports K: K distinct free ports below the ephemeral range (no client
    connection takes them while their node is down)."""
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    got = set()
    while len(got) < int(args[0]):
        p = random.randrange(max(1024, lo - 12000), lo)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            got.add(p)
        except OSError:
            pass
        finally:
            s.close()
    print(" ".join(map(str, got)))


if __name__ == "__main__":
    globals()["cmd_" + sys.argv[2]](sys.argv[3:])
PY

# ---- the three nodes -----------------------------------------------------------------------

cfg() { $PY -c 'import json,sys; print(json.dumps({"http": {"1": sys.argv[1], "2": sys.argv[2], "3": sys.argv[3]}, "token": sys.argv[4], "dir": sys.argv[5]}))' "$@"; }
cl() { $PY "$CL" "$T/cfg.json" "$@"; }
# cfg.json needs the token; the ports helper does not read it
echo '{"http": {}, "token": "", "dir": ""}' >"$T/cfg.json"
read -r -a P <<<"$(cl ports 6)"
HTTP=([1]=${P[0]} [2]=${P[1]} [3]=${P[2]})
RAFT=([1]=${P[3]} [2]=${P[4]} [3]=${P[5]})
PEERS="1=127.0.0.1:${RAFT[1]},2=127.0.0.1:${RAFT[2]},3=127.0.0.1:${RAFT[3]}"
for n in 1 2 3; do mkdir -m 0700 "$T/d$n"; done
ADMIN=$("$DJS" token create --sub admin --role admin --data "$T/d1" --ttl 2h)
for n in 2 3; do install -m 0600 "$T/d1/jwt.secret" "$T/d$n/jwt.secret"; done
cfg "${HTTP[1]}" "${HTTP[2]}" "${HTTP[3]}" "$ADMIN" "$T" >"$T/cfg.json"
AUTH=(-H "Authorization: Bearer $ADMIN")

declare -A NPID
NODE_ENV=${DJS_CLUSTER_NOLEAKS:+ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0}
start_node() { # start_node N: djs serve for node N on its data dir, its output appended to node N.out
    local n=$1
    env ${NODE_ENV:+"$NODE_ENV"} "$DJS" serve --data "$T/d$n" --listen "127.0.0.1:${HTTP[$n]}" --node-id "$n" --peers "$PEERS" \
        --election-ms "$ELECTION_MS" --rate-limit 0 >>"$T/node$n.out" 2>&1 &
    NPID[$n]=$!
}
alive() { # alive: every node process still runs (a crash fails the test at once)
    local n
    for n in 1 2 3; do
        kill -0 "${NPID[$n]}" 2>/dev/null || fail "node $n (pid ${NPID[$n]}) exited by itself: $(tail -n 20 "$T/node$n.out")"
    done
}
djs_on_fail() {
    local n
    for n in 1 2 3; do echo "node $n: $(curl -s -m 1 "${AUTH[@]}" "http://127.0.0.1:${HTTP[$n]}/api/v1/cluster")"; done
    [ ! -f "$T/history.jsonl" ] || { echo "--- last attempts"; tail -n 6 "$T/history.jsonl"; }
}

t_begin=$EPOCHREALTIME
for n in 1 2 3; do start_node "$n"; done
read -r L dt term < <(cl leader 0 30 "$t_begin" all) || fail "no leader"
grep -q "djs serve: cluster: this node ($L) leads, term $term" "$T/node$L.out" || fail "node $L leads per /api/v1/cluster but did not say so"
echo "ok 3 nodes up, node $L leads term $term (${dt} s after the start)"
leader=$L

# ---- load, stream, kills -------------------------------------------------------------------

$PY "$CL" "$T/cfg.json" load 4 job >"$T/load.out" 2>&1 & # not through cl: the job is python itself, killed by djs_cleanup
LOADPID=$!
# the WebSocket subscriber starts on a follower of the first kill
WSNODE=$((leader % 3 + 1))
$PY "$CL" "$T/cfg.json" ws "$WSNODE" >"$T/ws.out" 2>&1 &
WSPID=$!
cl firstack "$t_begin" 20 >/dev/null || fail "no write acknowledged at the start"
sleep 0.5

: >"$T/cycles"
for ((cyc = 1; cyc <= CYCLES; cyc++)); do
    alive
    kill -0 "$LOADPID" 2>/dev/null || fail "the load client stopped: $(cat "$T/load.out")"
    read -r L _ < <(cl leader 0 "$FAILOVER_MAX" "$EPOCHREALTIME") || fail "cycle $cyc: no leader before the kill"
    t0=$EPOCHREALTIME
    kill -9 "${NPID[$L]}"
    wait "${NPID[$L]}" 2>/dev/null || true
    read -r N dt_lead term < <(cl leader "$L" "$FAILOVER_MAX" "$t0") || fail "cycle $cyc: no new leader after kill -9 of node $L"
    read -r dt_ack ack_node < <(cl firstack "$t0" "$FAILOVER_MAX" "$L") || fail "cycle $cyc: no write acknowledged after kill -9 of node $L"
    start_node "$L"
    read -r dt_up up_seq < <(cl caughtup "$L" 30) || fail "cycle $cyc: node $L did not catch up after its restart"
    echo "cycle $cyc: killed leader node $L; node $N leads term $term after $dt_lead s, first ack (node $ack_node) after $dt_ack s; node $L restarted, at seq $up_seq after $dt_up s"
    echo "$cyc $dt_lead $dt_ack $dt_up $t0 $L" >>"$T/cycles"
    sleep "0.$((RANDOM % 5 + 2))"
done
cl figures "$T/cycles"
alive

# ---- SIGSTOP the leader for longer than the election timeout -------------------------------

read -r L _ stop_term < <(cl leader 0 "$FAILOVER_MAX" "$EPOCHREALTIME") || fail "no leader before SIGSTOP"
reexecs=$(grep -c "restarting to rebuild from the committed log" "$T/node$L.out" || true)
t0=$EPOCHREALTIME
kill -STOP "${NPID[$L]}"
t_stopped=$EPOCHREALTIME # a request sent after this is read by node L only after SIGCONT
# a write that reaches the stopped leader's socket and waits there
$PY "$CL" "$T/cfg.json" direct "$L" stopped-write 30 "$T/direct-stopped.json" &
DPID=$!
read -r N dt_lead term < <(cl leader "$L" "$FAILOVER_MAX" "$t0") || fail "no new leader while node $L is stopped"
read -r dt_w w_node _ < <(cl write "$L" while-stopped "$t0") || fail "no write taken while node $L is stopped"
[ "$w_node" = "$N" ] || fail "the write while node $L was stopped was acknowledged by node $w_node, not the leader $N"
# longer than the election timeout, and than the load's 3 s answer timeout
sleep "$($PY -c "import time; print(max(0.0, 3.5 - (time.time() - $t0)))")"
t_cont=$EPOCHREALTIME
kill -CONT "${NPID[$L]}"
cl direct "$L" after-cont 20 "$T/direct-cont.json" retry
wait "$DPID" || fail "the write sent to the stopped leader"
read -r dt_up up_seq < <(cl caughtup "$L" 30) || fail "node $L did not rejoin after SIGCONT"
how="did not re-exec"
[ "$(grep -c "restarting to rebuild from the committed log" "$T/node$L.out" || true)" = "$reexecs" ] || how="re-exec'd"
sleep 1
cl stopcheck "$L" "$t_stopped" "$stop_term" || fail "after SIGCONT"
echo "ok SIGSTOP of leader node $L (term $stop_term) for $($PY -c "print(f'{$t_cont - $t0:.1f}')") s: node $N led term $term after $dt_lead s and took a write $dt_w s after the SIGSTOP; after SIGCONT node $L ($how) acknowledged nothing as leader and caught up in $dt_up s"
alive

# ---- the end: load stopped, all caught up ---------------------------------------------------

touch "$T/stop-load"
wait "$LOADPID" || fail "the load client: $(tail -n 5 "$T/load.out")"
S=$(cl converge 30) || fail "the nodes did not converge"
cl final "$S" || fail "final checks"
echo "$S" >"$T/stop-ws"
wait "$WSPID" || fail "the WebSocket subscriber: $(tail -n 5 "$T/ws.out")"
cl wscheck "$S" "$T/cycles" || fail "the WebSocket subscription"

acked=$(cat "$T/acked")
djs_cluster_stop_verify 1 2 3
echo "ok SIGTERM: all nodes exit 0; replay verify OK on the 3 data dirs, one chain head"
echo "ok $CYCLES leader kills, $acked jobs acknowledged, $S events, $(($(date +%s) - ${t_begin%.*})) s"
echo "ok: test_cluster"
