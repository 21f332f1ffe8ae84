"""WebSocket and SSE streams of djs serve, with a real client (Debian's
python3-websockets) and real HTTP submissions.

usage: streams.py HOST PORT ADMIN_TOKEN USER_TOKEN SERVER_PID
Prints one line per check; exits 1 on the first failure."""
import asyncio
import http.client
import json
import os
import socket
import sys
import threading
import time

import websockets

HOST, PORT, TOKEN, USER_TOKEN, PID = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
WS = f"ws://{HOST}:{PORT}"
AUTH = [("Authorization", f"Bearer {TOKEN}")]


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def ok(msg):
    print(f"ok {msg}", flush=True)


def api(method, path, body=None, token=TOKEN, headers=None):
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    h = {"Authorization": f"Bearer {token}"}
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body)
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data and r.getheader("content-type", "").find("json") >= 0 else data)


def submit(n, name="job", token=TOKEN, priority="NORMAL"):
    """n jobs in one workflow (one request); returns (ids, seq)."""
    st, b = api("POST", "/api/v1/jobs", {"jobs": [{"key": f"k{i}", "name": f"{name}-{i}", "priority": priority}
                                                  for i in range(n)]}, token=token)
    if st != 201:
        fail(f"submit: {st} {b}")
    return [j["id"] for j in b["jobs"]], b["seq"]


async def aapi(*a, **k):
    return await asyncio.to_thread(api, *a, **k)


async def asubmit(*a, **k):
    return await asyncio.to_thread(submit, *a, **k)


def durable_seq():
    st, b = api("GET", "/api/v1/events?limit=1")
    c = http.client.HTTPConnection(HOST, PORT, timeout=10)
    c.request("GET", "/api/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    r = c.getresponse()
    r.read()
    return int(r.getheader("djs-seq"))


def rss_kb():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def connect(path, token=TOKEN, **kw):
    return await websockets.connect(f"{WS}{path}", extra_headers=[("Authorization", f"Bearer {token}")] if token else [],
                                    max_size=None, open_timeout=10, **kw)


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def hello(ws, stream):
    h = await recv_json(ws)
    if h.get("type") != "hello" or h.get("protocol") != 1 or h.get("stream") != stream or "fromSeq" not in h:
        fail(f"hello on {stream}: {h}")
    return h


async def collect_until(ws, last_seq, timeout=30):
    """Event seqs received until last_seq is seen."""
    seqs = []
    deadline = time.time() + timeout
    while not seqs or seqs[-1] < last_seq:
        left = deadline - time.time()
        if left <= 0:
            fail(f"only reached seq {seqs[-1] if seqs else None} of {last_seq}")
        m = await recv_json(ws, left)
        seqs.append(m["seq"])
    return seqs


async def catch_up_then_live():
    await asubmit(50, "before")
    start = durable_seq()
    ws = await connect("/ws/events?from_seq=1")
    h = await hello(ws, "events")
    if h["fromSeq"] != 1:
        fail(f"fromSeq {h}")
    # submissions run while the stream catches up and goes live
    last = {}

    def producer():
        for _ in range(20):
            _, last["seq"] = submit(25, "during")
    t = threading.Thread(target=producer)
    t.start()
    await asyncio.sleep(0.05)
    t.join()
    seqs = await collect_until(ws, last["seq"])
    if seqs != list(range(1, last["seq"] + 1)):
        missing = sorted(set(range(1, last["seq"] + 1)) - set(seqs))
        fail(f"gap or duplicate at the seam: {len(seqs)} received, missing {missing[:5]}, start {start}")
    ok(f"catch-up then live: seqs 1..{last['seq']} exactly once (catch-up past {start})")
    await ws.close()
    return last["seq"]


async def resume(upto):
    ws = await connect(f"/ws/events?from_seq={upto - 40}")
    await hello(ws, "events")
    got = [ (await recv_json(ws))["seq"] for _ in range(15)]
    await ws.close()
    ws = await connect(f"/ws/events?from_seq={got[-1] + 1}")
    h = await hello(ws, "events")
    rest = await collect_until(ws, upto)
    await ws.close()
    if got + rest != list(range(upto - 40, upto + 1)):
        fail(f"resume: {got} then {rest[:5]}...")
    ok("reconnect with the last seq + 1 resumes exactly")


async def filters():
    ids, seq = await asubmit(3, "filtered")
    ws = await connect(f"/ws/events?from_seq=1&types=job.submitted")
    await hello(ws, "events")
    n = 0
    while True:
        m = await recv_json(ws)
        if m["type"] != "job.submitted":
            fail(f"types filter let through {m['type']}")
        n += 1
        if m["entity"] == ids[-1]:
            break
    await ws.close()
    ws = await connect(f"/ws/events?from_seq=1&entity={ids[1]}")
    await hello(ws, "events")
    m = await recv_json(ws)
    if m["entity"] != ids[1] or m["type"] != "job.submitted":
        fail(f"entity filter: {m}")
    await ws.close()
    ok(f"filters: types ({n} job.submitted only), entity")


async def job_updates_and_roles():
    # a user sees only its own jobs; the events stream is for staff
    try:
        await connect("/ws/events", token=USER_TOKEN)
        fail("a user opened /ws/events")
    except websockets.exceptions.InvalidStatusCode as e:
        if e.status_code != 403:
            fail(f"user on /ws/events: {e.status_code}")
    mine = await connect("/ws/job-updates", token=USER_TOKEN)
    await hello(mine, "job-updates")
    admin = await connect("/ws/job-updates")
    await hello(admin, "job-updates")
    theirs, _ = await asubmit(1, "admins-job")
    own, _ = await asubmit(1, "users-job", token=USER_TOKEN, priority="HIGH")  # the worker below takes it first
    m = await recv_json(mine)
    if m["jobId"] != own[0] or m["status"] not in ("QUEUED", "CREATED") or m["previousStatus"] is not None \
            or m["name"] != "users-job-0" or m["owner"] != "alice":
        fail(f"user's job update: {m}")
    a1, a2 = await recv_json(admin), await recv_json(admin)
    if {a1["jobId"], a2["jobId"]} != {theirs[0], own[0]}:
        fail(f"admin sees both: {a1} {a2}")
    # drive the user's job through a worker: SCHEDULED, RUNNING, COMPLETED with previous statuses
    st, w = await aapi("POST", "/api/v1/workers", {"name": "sw", "slots": 1})
    wid = w["id"]
    statuses = []
    st, p = await aapi("POST", f"/api/v1/workers/{wid}/poll?wait=5&max=1")
    for a in p["assignments"]:
        await aapi("POST", f"/api/v1/jobs/{a['jobId']}/start", {"workerId": wid, "attempt": a["attempt"]})
        await aapi("POST", f"/api/v1/jobs/{a['jobId']}/progress", {"workerId": wid, "attempt": a["attempt"], "percentage": 40,
                                                            "currentStep": "half"})
        await aapi("POST", f"/api/v1/jobs/{a['jobId']}/complete", {"workerId": wid, "attempt": a["attempt"]})
    want = [("QUEUED", "SCHEDULED"), ("SCHEDULED", "RUNNING"), ("RUNNING", "RUNNING"), ("RUNNING", "COMPLETED")]
    for prev, now in want:
        m = await recv_json(mine)
        if m["jobId"] != own[0]:
            fail(f"user saw another job: {m}")
        statuses.append((m["previousStatus"], m["status"]))
        if (m["previousStatus"], m["status"]) != (prev, now):
            fail(f"job-updates transitions: {statuses} want {want}")
        if now == "SCHEDULED" and m["worker"] != wid:
            fail(f"worker in update: {m}")
    await mine.close()
    await admin.close()
    ok("job-updates: transitions with previous status, worker, progress; a user sees only its own jobs")
    return wid


async def worker_status(wid):
    ws = await connect(f"/ws/worker-status?worker={wid}&from_seq=1")
    await hello(ws, "worker-status")
    m = await recv_json(ws)
    if m["event"] != "worker.registered" or m["status"] != "ACTIVE" or m["name"] != "sw":
        fail(f"worker-status registration: {m}")
    await aapi("PUT", f"/api/v1/workers/{wid}", {"draining": True})
    m = await recv_json(ws)
    if m["event"] != "worker.draining" or m["status"] != "DRAINING":
        fail(f"worker-status drain: {m}")
    await ws.close()
    ok("worker-status: registered, draining")


async def metrics():
    ws = await connect("/ws/system-metrics?interval_ms=200")
    await hello(ws, "system-metrics")
    t0 = time.time()
    ms = [await recv_json(ws) for _ in range(3)]
    dt = time.time() - t0
    for m in ms:
        for k in ("seq", "jobs", "queued", "completedPerSec", "workersActive", "eventsPerSec"):
            if k not in m:
                fail(f"metrics without {k}: {m}")
    if dt > 2:
        fail(f"3 snapshots at 200 ms took {dt:.1f} s")
    await ws.close()
    ok(f"system-metrics: 3 snapshots in {dt:.2f} s")


async def msgpack_format():
    ws = await connect("/ws/events?from_seq=1&format=msgpack")
    h = await hello(ws, "events")
    if h["format"] != "msgpack":
        fail(f"hello format: {h}")
    m = await asyncio.wait_for(ws.recv(), 10)
    if not isinstance(m, bytes) or m[0] != 0x98:  # the record: a MessagePack array of 8
        fail(f"msgpack frame: {m[:16]!r}")
    await ws.close()
    ok("format=msgpack: binary frames carrying the records")


async def bad_requests():
    def get(path, headers=None):
        c = http.client.HTTPConnection(HOST, PORT, timeout=10)
        c.request("GET", path, headers=headers or {"Authorization": f"Bearer {TOKEN}"})
        r = c.getresponse()
        b = r.read()
        return r.status, r.getheader("content-type"), b
    st, ct, b = get("/ws/events")
    if st != 426 or ct != "application/problem+json":
        fail(f"no upgrade: {st} {ct} {b}")
    for path, want in (("/ws/events?from_seq=x", 400), ("/ws/events?types=job.nope", 400),
                       ("/ws/events?format=xml", 400), ("/ws/job-updates?status=DONE", 400),
                       ("/ws/system-metrics?interval_ms=5", 400), ("/ws/events?entity=123", 400)):
        try:
            await connect(path)
            fail(f"{path} opened")
        except websockets.exceptions.InvalidStatusCode as e:
            if e.status_code != want:
                fail(f"{path}: {e.status_code}, want {want}")
    try:
        await connect("/ws/events", token=None)
        fail("no token opened a stream")
    except websockets.exceptions.InvalidStatusCode as e:
        if e.status_code != 401:
            fail(f"no token: {e.status_code}")
    ws = await websockets.connect(f"{WS}/ws/events?access_token={TOKEN}", open_timeout=10)
    await hello(ws, "events")
    await ws.close()
    ok("bad upgrades: 426 without upgrade, 400 bad parameters, 401 without token; access_token query works")


async def many_subscribers(n=200):
    subs = [await connect("/ws/events") for _ in range(n)]
    for s in subs:
        await hello(s, "events")
    _, last = await asubmit(20, "fanout")
    counts = []
    for s in subs:
        seqs = await collect_until(s, last)
        if seqs != sorted(set(seqs)) or seqs[-1] != last:
            fail("a subscriber saw duplicates or disorder")
        counts.append(len(seqs))
        await s.close()
    if len(set(counts)) != 1:
        fail(f"subscribers got different counts: {set(counts)}")
    ok(f"{n} concurrent subscribers each got the same {counts[0]} events")


def raw_ws_stalled():
    """A WebSocket client that completes the upgrade and never reads."""
    s = socket.create_connection((HOST, PORT))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall((f"GET /ws/events?from_seq=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               f"Authorization: Bearer {TOKEN}\r\n\r\n").encode())
    return s


async def slow_consumer():
    stalled = raw_ws_stalled()
    good = await connect("/ws/events")
    await hello(good, "events")
    rss0 = rss_kb()
    long_name = "x" * 200
    last = 0
    # the good consumer reads while the events are made (as a live client
    # does): on a busy machine the submits can take longer than the stall
    # time, and a client that waited for them would be stalled itself
    target = {}

    async def read_good():
        seqs, deadline = [], time.time() + 90
        while "last" not in target or not seqs or seqs[-1] < target["last"]:
            if time.time() > deadline:
                fail(f"the good consumer only reached seq {seqs[-1] if seqs else None} of {target.get('last')}")
            try:
                m = json.loads(await asyncio.wait_for(good.recv(), 1.0))
            except asyncio.TimeoutError:
                continue
            seqs.append(m["seq"])
        return seqs

    reader = asyncio.create_task(read_good())
    for _ in range(12):  # ~24,000 events of ~450 bytes: far beyond queue and socket buffers
        _, last = await asubmit(1000, long_name)
    target["last"] = last
    seqs = await reader
    # the stalled one is closed once its queue made no progress for the stall time
    deadline = time.time() + 20
    closed = False
    stalled.setblocking(False)
    while time.time() < deadline and not closed:
        try:
            while True:
                d = stalled.recv(1 << 20)
                if not d:
                    closed = True
                    break
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed = True
        if not closed:
            await asyncio.sleep(0.2)
    if not closed:
        fail("a client that stopped reading was not closed")
    rss1 = rss_kb()
    await good.close()
    if rss1 - rss0 > 64 * 1024:
        fail(f"server memory grew by {(rss1 - rss0) // 1024} MiB with a stalled subscriber")
    ok(f"a client that stopped reading was closed; the other got all {len(seqs)} events; server RSS +{(rss1 - rss0) // 1024} MiB")


async def lagging_subscribers():
    """Live subscribers that stop reading during a burst fall behind the
    server's window of recent events (64 KiB in this test) and are fed from
    the log when they read again: every event, in order, exactly once; the
    filtered one only what it asked for."""
    start = durable_seq() + 1
    lag = await connect("/ws/events", max_queue=4)
    await hello(lag, "events")
    filt = await connect("/ws/events?types=job.submitted", max_queue=4)
    await hello(filt, "events")
    t0 = time.time()
    last, jobs = 0, 0
    while time.time() - t0 < 1.0:  # both read nothing meanwhile (the stall limit is 2 s)
        _, last = await asubmit(500, "y" * 250)
        jobs += 500
    seqs = await collect_until(lag, last, timeout=60)
    if seqs != list(range(start, last + 1)):
        fail(f"lagging subscriber: {len(seqs)} events for {start}..{last}")
    got = []
    while not got or got[-1]["seq"] < last:
        got.append(await recv_json(filt))
    if any(m["type"] != "job.submitted" for m in got) or [m["seq"] for m in got] != sorted({m["seq"] for m in got}) \
            or len(got) != jobs:
        fail(f"lagging filtered subscriber: {len(got)} messages for {jobs} submissions")
    await lag.close()
    await filt.close()
    ok(f"two subscribers that stopped reading during a burst of {last - start + 1} events got all of it afterwards")


async def main():
    last = await catch_up_then_live()
    await resume(last)
    await filters()
    wid = await job_updates_and_roles()
    await worker_status(wid)
    await metrics()
    await msgpack_format()
    await bad_requests()
    await many_subscribers()
    await slow_consumer()
    await lagging_subscribers()
    # the server is stopped by the caller: this last stream must end with 1001
    ws = await connect("/ws/events")
    await hello(ws, "events")
    await aapi("POST", "/api/v1/admin/shutdown")
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except websockets.exceptions.ConnectionClosed as e:
        if e.code != 1001:
            fail(f"shutdown closed the stream with {e.code}, want 1001")
    ok("server shutdown closes streams with 1001")


asyncio.run(main())
