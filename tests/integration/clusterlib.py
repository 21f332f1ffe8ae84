"""The client-side helpers shared by the cluster integration tests
(test_cluster.sh, test_cluster_partition.sh): HTTP to the nodes, the
/api/v1/cluster views that record which node led which term (two leaders in
one term fail the test), job listings at a seq, convergence.

Each test's embedded program calls configure() once, then imports what it
uses. Python 3.11, stdlib only."""
import http.client, json, os, sys, time

NODES = {}  # n -> (host, port)
AUTH = {}  # the Authorization header; filled in by configure (the same dict stays)
TERMS = None  # the JSON file of term -> the node seen leading it


def configure(nodes, token, terms):
    """nodes: {n: (host, port)}; token: the bearer token; terms: the path of the terms file."""
    global TERMS
    NODES.clear()
    NODES.update({int(n): (h, int(p)) for n, (h, p) in nodes.items()})
    AUTH.clear()
    AUTH["Authorization"] = "Bearer " + token
    TERMS = terms


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def node_of_url(url):
    """The node a Location URL names: by its port where every node has its own
    port, by its host otherwise; None for no node."""
    hostport = url.split("//", 1)[1].split("/", 1)[0]
    if len({p for _, p in NODES.values()}) == len(NODES):
        port = int(hostport.rsplit(":", 1)[1])
        for n, (_, p) in NODES.items():
            if p == port:
                return n
    else:
        host = hostport.rsplit(":", 1)[0]
        for n, (h, _) in NODES.items():
            if h == host:
                return n
    return None


def conn(n, timeout):
    return http.client.HTTPConnection(NODES[n][0], NODES[n][1], timeout=timeout)


def get(n, path, timeout=2.0):
    """(status, parsed body) or (None, the exception)"""
    c = conn(n, timeout)
    try:
        c.request("GET", path, headers=AUTH)
        r = c.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, data
    except (OSError, http.client.HTTPException) as e:
        return None, e
    finally:
        c.close()


def cluster(n, timeout=1.0):
    """node n's /api/v1/cluster, or None"""
    st, b = get(n, "/api/v1/cluster", timeout)
    return b if st == 200 and isinstance(b, dict) else None


def led_terms():
    """{term (a string): the node seen leading it} so far"""
    return json.load(open(TERMS)) if os.path.exists(TERMS) else {}


def observe(v):
    """Records which node led in which term; two nodes in one term fail."""
    terms = led_terms()
    changed = False
    for n, x in v.items():
        if x is None or x.get("state") != "leader":
            continue
        t = str(x["term"])
        if t in terms and terms[t] != n:
            fail(f"two leaders in term {t}: node {terms[t]} and node {n} ({x})")
        if t not in terms:
            terms[t] = n
            changed = True
    if changed:
        with open(TERMS + ".tmp", "w") as f:
            json.dump(terms, f)
        os.replace(TERMS + ".tmp", TERMS)


def views(nodes=None, timeout=1.0):
    """/api/v1/cluster of each node (all by default), observed"""
    v = {n: cluster(n, timeout) for n in (nodes or sorted(NODES))}
    observe(v)
    return v


def short(v):
    return {n: (x and f"{x['state']} t{x['term']} L{x['leaderId']} a{x['appliedSeq']}") for n, x in v.items()}


def jsonl(path):
    """the complete lines of a JSON-lines file (none if it does not exist)"""
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
    return out


def all_jobs(n, at):
    """every job node n lists at seq at (paged)"""
    jobs, cur = [], None
    while True:
        q = f"/api/v1/jobs?limit=500&at_seq={at}" + (f"&cursor={cur}" if cur else "")
        st, b = get(n, q, 30.0)
        if st != 200:
            fail(f"node {n} GET {q}: {st} {b}")
        jobs += b["jobs"]
        cur = b.get("next")
        if not cur:
            return jobs


def jobs_by_name(n, at):
    """{name: [ids]} of node n's listing at seq at"""
    seen = {}
    for j in all_jobs(n, at):
        seen.setdefault(j["name"], []).append(j["id"])
    return seen


def get_job(c, r):
    """GET /api/v1/jobs/{r's id} on connection c: (True if 200 under r's name, status, body)"""
    c.request("GET", f"/api/v1/jobs/{r['id']}", headers=AUTH)
    resp = c.getresponse()
    data = resp.read()
    return resp.status == 200 and json.loads(data)["name"] == r["name"], resp.status, data


def converge(limit, state_timeout=2.0, heads=False):
    """Waits until every node reports the same /api/v1/state seq, appliedSeq and
    durableSeq (heads: and chain head and digest) twice in a row, with
    seq = appliedSeq = durableSeq. Returns (top, seconds, None, None), top =
    (seq, appliedSeq, durableSeq[, chain head, digest]); after limit s
    (None, seconds, the last views, the last /state answers)."""
    t0 = time.time()
    prev = None
    while True:
        v = views()
        st = {n: get(n, "/api/v1/state", state_timeout) for n in sorted(NODES)}
        cur = None
        if all(x is not None for x in v.values()) and all(s[0] == 200 for s in st.values()):
            tops = {(b["seq"], v[n]["appliedSeq"], v[n]["durableSeq"])
                    + ((b["chain_head"], b["digest"]) if heads else ()) for n, (_, b) in st.items()}
            if len(tops) == 1:
                cur = tops.pop()
        if cur is not None and cur == prev and cur[0] == cur[1] == cur[2]:
            return cur, time.time() - t0, None, None
        prev = cur
        if time.time() - t0 > limit:
            return None, time.time() - t0, v, st
        time.sleep(0.3)
