"""The crash-loop drill's Python side (tests/integration/test_dr_crashloop.sh).

    dr_crashloop.py load PORT TOKENS_FILE DIR   submitting clients until DIR/stop
    dr_crashloop.py check PORT TOKEN DIR        after a restart: acks, completions
    dr_crashloop.py state PORT TOKEN            one line: seq digest-or-"-" submitted completed failed njobs

load: one thread per token (one principal each, so the rate limit is per
client), each on its own keep-alive connection. A client submits single jobs
and small workflows; every 201 answer's job ids go to DIR/acked.K (one line
each, flushed before the next request). A 429 is not a loss: the client
sleeps for Retry-After and counts it (DIR/throttled.K). A refused or reset
connection (the server was killed) is retried after a short pause; the
answer of a request cut off that way was never given, so it is not an ack.
While DIR/pause exists the clients send nothing and each says so with
DIR/paused.K (removed when it goes on).

check: every job.submitted in the log (read through GET /events from where
the last call stopped; DIR/check.json keeps the cursors, the ids and the
counts) and every acknowledged id not checked by an earlier call: each must
be one of them. Every job.succeeded since the cursor is counted per job: a
job with two (for one attempt or for two) is a failure.
Prints one summary line; exits non-zero with the reason on the first
failure.
"""
import http.client
import json
import os
import random
import sys
import threading
import time


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def job(name, fail_first):
    # a job that fails its first attempt is retried (maxRetries 2): retries
    # and their backoff timers cross the kills too
    script = 'echo "$DJS_JOB_ID"'
    if fail_first:
        script = '[ "$DJS_JOB_ATTEMPT" -gt 1 ] || exit 3; ' + script
    return {"name": name, "maxRetries": 2, "payload": {"command": "/bin/sh", "args": ["-c", script]}}


def body_for(k, n, rnd):
    if rnd.random() < 0.2:  # a small workflow: a -> b, a -> c
        jobs = [dict(job(f"c{k}-{n}-a", False), key="a"),
                dict(job(f"c{k}-{n}-b", rnd.random() < 0.2), key="b", dependsOn=["a"]),
                dict(job(f"c{k}-{n}-c", False), key="c", dependsOn=["a"])]
        return {"jobs": jobs}
    return job(f"c{k}-{n}", rnd.random() < 0.1)


def client(k, port, token, d):
    rnd = random.Random(k)
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    pause, stop, paused = os.path.join(d, "pause"), os.path.join(d, "stop"), os.path.join(d, f"paused.{k}")
    c, n, throttled, other = None, 0, 0, 0
    with open(os.path.join(d, f"acked.{k}"), "a") as out:
        while not os.path.exists(stop):
            if os.path.exists(pause):
                if not os.path.exists(paused):
                    open(paused, "w").close()
                time.sleep(0.01)
                continue
            if os.path.exists(paused):
                os.unlink(paused)
            try:
                if c is None:
                    c = conn(port)
                c.request("POST", "/api/v1/jobs", json.dumps(body_for(k, n, rnd)), hdr)
                r = c.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                if c is not None:
                    c.close()
                c = None
                time.sleep(0.05)
                continue
            n += 1
            if r.status == 201:
                a = json.loads(data)
                ids = [j["id"] for j in a["jobs"]] if "jobs" in a else [a["id"]]
                out.write("".join(i + "\n" for i in ids))
                out.flush()
            elif r.status == 429:
                throttled += 1
                with open(os.path.join(d, f"throttled.{k}"), "w") as f:
                    f.write(f"{throttled}\n")
                time.sleep(float(r.getheader("Retry-After", "1")))
            else:
                other += 1
                print(f"client {k}: {r.status} {data[:200]!r}", file=sys.stderr, flush=True)
            time.sleep(0.01)


def load(port, tokens_file, d):
    tokens = [l.strip() for l in open(tokens_file) if l.strip()]
    ts = [threading.Thread(target=client, args=(k, port, t, d), daemon=True) for k, t in enumerate(tokens)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


class Api:
    def __init__(self, port, token):
        self.port, self.hdr, self.c = port, {"Authorization": "Bearer " + token}, conn(port)

    def get(self, path):  # the checker is rate limited too: it backs off on 429 like the clients
        for _ in range(20):
            try:
                self.c.request("GET", path, headers=self.hdr)
                r = self.c.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException):
                self.c.close()
                self.c = conn(self.port)
                continue
            if r.status != 429:
                return r.status, body
            time.sleep(float(r.getheader("Retry-After", "1")))
        sys.exit(f"GET {path}: no answer")

    def events(self, etype, seq, visit):
        """Visit every event of type etype from seq on; returns the seq after the last."""
        while True:
            code, body = self.get(f"/api/v1/events?type={etype}&from_seq={seq}&limit=1000")
            if code != 200:
                sys.exit(f"GET /events?type={etype}: {code} {body[:200]!r}")
            page = json.loads(body)
            for e in page["events"]:
                visit(e)
                seq = e["seq"] + 1
            if page.get("next") is None:
                return seq
            seq = page["next"]


def check(port, token, d):
    api = Api(port, token)
    sp = os.path.join(d, "check.json")
    st = json.load(open(sp)) if os.path.exists(sp) else {"lines": {}, "sub_cursor": 1, "submitted": [], "succ_cursor": 1, "succ": {}}
    # every job.submitted in the log (ids), then every acknowledged id must be one of them
    submitted = set(st["submitted"])
    st["sub_cursor"] = api.events("job.submitted", st["sub_cursor"], lambda e: submitted.add(e["entity"]))
    new = 0
    for f in sorted(os.listdir(d)):
        if not f.startswith("acked."):
            continue
        lines = open(os.path.join(d, f)).read().split("\n")[:-1]  # whole lines only
        done = st["lines"].get(f, 0)
        for i, jid in enumerate(lines[done:], start=done):
            if jid not in submitted:
                code, body = api.get(f"/api/v1/jobs/{jid}")
                sys.exit(f"acknowledged job {jid} ({f} line {i + 1}) is missing after the restart: no job.submitted "
                         f"for it in the log; GET /jobs/{jid} answers {code} {body[:200]!r}")
            new += 1
        st["lines"][f] = len(lines)
    st["submitted"] = sorted(submitted)
    succ, nsucc = st["succ"], [0]  # job id -> [attempt, ...] of its job.succeeded events

    def on_succ(e):
        nsucc[0] += 1
        att = succ.setdefault(e["entity"], [])
        att.append(e["body"].get("attempt"))
        if len(att) > 1:
            _, h = api.get(f"/api/v1/jobs/{e['entity']}/history")
            what = "twice for the same attempt" if len(set(att)) < len(att) else "for two attempts"
            sys.exit(f"job {e['entity']} completed more than once ({what}: attempts {att}, the second at seq {e['seq']}); "
                     f"history: {h.decode(errors='replace')[:3000]}")

    st["succ_cursor"] = api.events("job.succeeded", st["succ_cursor"], on_succ)
    json.dump(st, open(sp + ".tmp", "w"))
    os.replace(sp + ".tmp", sp)
    total = sum(st["lines"].values())
    print(f"{new} new acks present ({total} in all), {nsucc[0]} new job.succeeded ({len(succ)} jobs completed, none twice)")


def state(port, token):
    code, body = Api(port, token).get("/api/v1/state")
    if code != 200:
        sys.exit(f"GET /state: {code} {body[:200]!r}")
    s = json.loads(body)
    njobs = sum(s["jobs"].values())
    # the digest is of the state at applied_seq; a quiet point has it durable too
    applied = s.get("applied_seq", s["seq"])
    seq = applied if applied == s["seq"] else f"{s['seq']}/{applied}"
    print(seq, s.get("digest", "-"), s["submitted"], s["completed"], s["failed"], njobs)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "load":
        load(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif cmd == "check":
        check(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif cmd == "state":
        state(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
