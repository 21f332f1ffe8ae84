#!/usr/bin/python3
"""Bad-input corpus against a running `djs serve` (see test_badinput.sh).

Every case sends malformed bytes over a raw socket and checks the answer:
the right 4xx, and when our handler answers, an application/problem+json
body with type, title, status and detail whose status is the HTTP status.
After every case the server must still be alive and answer GET /health.
Cases whose answer comes from h2o itself (framing, header limits, request
line) are recorded ("note ...") rather than judged, except that the server
must survive them.

Prints `ok <name> <status>` or `FAIL <name>: expected ..., got ...` per case
and exits 1 if any case failed, 3 if the server died (the case's name then
goes to the file named by $BADINPUT_CRASHED). Standard library only.

usage: badinput.py HOST PORT TOKEN DATA_DIR SERVER_PID
"""
import base64
import hashlib
import hmac
import json
import os
import select
import socket
import sys
import time

HOST, PORT, TOKEN, DATA, PID = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
PROBLEM_BASE = "https://djs.dev/problems/"
UNKNOWN_ID = "01890a5d-ac96-774b-bcce-b302099a8057"  # a valid UUIDv7 no job has

failures = []
T0 = time.monotonic()
# BADINPUT_SKIP=name,name: leave cases out (to look past a crash while debugging).
# BADINPUT_FROM=name: run only the cases after that one (test_badinput.sh
# resumes so after a case killed the server); the controls always run.
SKIP = set(filter(None, os.environ.get("BADINPUT_SKIP", "").split(",")))
FROM = os.environ.get("BADINPUT_FROM") or None
resumed = FROM is None


def skipped(name):
    global resumed
    if not resumed:
        resumed = name == FROM
        return True
    if name in SKIP:
        say(f"skip {name}")
        return True
    return False


def say(line):
    print(line, flush=True)


def fail(name, msg):
    failures.append(name)
    say(f"FAIL {name}: {msg}")


def note(name, msg):
    say(f"note {name}: {msg}")


# ---- raw HTTP/1.1 ---------------------------------------------------------------------


class Resp:
    def __init__(self, status=None, reason=b"", headers=None, body=b"", what=None):
        self.status = status      # int, or None when no (complete) answer came
        self.reason = reason
        self.headers = headers or {}
        self.body = body
        self.what = what          # None, or "closed" / "reset" / "timeout" when status is None

    def show(self):
        return str(self.status) if self.status is not None else self.what

    def ctype(self):
        return self.headers.get("content-type", "")

    def __repr__(self):
        b = self.body[:160]
        return f"{self.show()} {self.ctype()!r} {b!r}"


class Conn:
    def __init__(self, timeout=5.0, nodelay=False):
        self.s = socket.create_connection((HOST, PORT), timeout=timeout)
        if nodelay:
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def close(self, rst=False):
        if rst:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.s.close()

    def _fill(self):
        d = self.s.recv(262144)
        if not d:
            raise EOFError
        self.buf += d

    def read_response(self, head=False):
        """One response from the connection (keep-alive aware)."""
        try:
            while b"\r\n\r\n" not in self.buf:
                self._fill()
        except EOFError:
            return Resp(what="closed" if not self.buf else "closed-mid-head")
        except (ConnectionResetError, BrokenPipeError):
            return Resp(what="reset")
        except socket.timeout:
            return Resp(what="timeout")
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            return Resp(what="garbled " + repr(lines[0][:60]))
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        r = Resp(status, parts[2] if len(parts) > 2 else b"", headers)
        try:
            if head or status in (204, 304) or 100 <= status < 200:
                return r
            if "content-length" in headers:
                n = int(headers["content-length"])
                while len(self.buf) < n:
                    self._fill()
                r.body, self.buf = self.buf[:n], self.buf[n:]
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                body = b""
                while True:
                    while b"\r\n" not in self.buf:
                        self._fill()
                    size_line, self.buf = self.buf.split(b"\r\n", 1)
                    n = int(size_line.split(b";")[0], 16)
                    while len(self.buf) < n + 2:
                        self._fill()
                    body += self.buf[:n]
                    self.buf = self.buf[n + 2:]
                    if n == 0:
                        break
                r.body = body
            else:
                while True:
                    self._fill()
        except EOFError:
            r.body = r.body or self.buf
            self.buf = b""
        except (ConnectionResetError, socket.timeout) as e:
            r.body = r.body or self.buf
            r.what = type(e).__name__
        return r


def build(method, path, body=None, ctype="application/json", token=TOKEN, headers=(), close=True, te=None):
    """A request as bytes. path, header values and body may be str or bytes."""
    def b(x):
        return x if isinstance(x, bytes) else x.encode()
    out = [b(method) + b" " + b(path) + b" HTTP/1.1", b"Host: %s:%d" % (HOST.encode(), PORT)]
    if token is not None:
        out.append(b"Authorization: Bearer " + b(token))
    if body is not None and ctype is not None:
        out.append(b"Content-Type: " + b(ctype))
    if body is not None and te is None:
        out.append(b"Content-Length: %d" % len(b(body)))
    if te is not None:
        out.append(b"Transfer-Encoding: " + b(te))
    for h in headers:
        out.append(b(h))
    if close:
        out.append(b"Connection: close")
    return b"\r\n".join(out) + b"\r\n\r\n" + (b(body) if body is not None and te is None else b"")


def exchange(data, timeout=5.0):
    c = Conn(timeout)
    try:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return c.read_response()
    finally:
        c.close()


def request(method, path, body=None, **kw):
    return exchange(build(method, path, body, **kw))


# ---- checks -----------------------------------------------------------------------------


def problem_errors(r, slug=None):
    errs = []
    if not r.ctype().lower().startswith("application/problem+json"):
        errs.append(f"content-type {r.ctype()!r}, not application/problem+json")
    try:
        j = json.loads(r.body)
    except ValueError:
        return errs + [f"body is not JSON: {r.body[:120]!r}"]
    if not isinstance(j, dict):
        return errs + ["body is not a JSON object"]
    for f in ("type", "title", "status", "detail"):
        if f not in j:
            errs.append(f"no '{f}' in the problem")
    if j.get("status") != r.status:
        errs.append(f"problem status {j.get('status')!r} != HTTP {r.status}")
    for f in ("type", "title", "detail"):
        if f in j and not (isinstance(j[f], str) and j[f]):
            errs.append(f"'{f}' is not a non-empty string")
    if slug is not None and j.get("type") != PROBLEM_BASE + slug:
        errs.append(f"type {j.get('type')!r}, expected {PROBLEM_BASE + slug}")
    return errs


def alive():
    try:
        os.kill(PID, 0)
        with open(f"/proc/{PID}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def health(timeout=2.0):
    t = time.monotonic()
    try:
        r = exchange(build("GET", "/health", token=None), timeout)
    except OSError as e:
        return Resp(what=f"connect: {e}"), time.monotonic() - t
    return r, time.monotonic() - t


def died(name):
    """The server is gone: tell test_badinput.sh which case killed it (it
    restarts the server and runs the corpus again without that case)."""
    fail(name, "the server process died (its stderr is printed at the end)")
    failed = list(dict.fromkeys(failures))
    say(f"summary: {len(failed)} failed: {' '.join(failed)}; stopping this run, the server is gone")
    crashed = os.environ.get("BADINPUT_CRASHED")
    if crashed:
        with open(crashed, "w") as f:
            f.write(name + "\n")
    sys.exit(3)


def after(name):
    """The server survived the case and serves the next request."""
    if not alive():
        died(name)
    r, dt = health()
    if r.status != 200:
        time.sleep(0.2)
        if not alive():
            died(name)
        fail(name + "/health-after", f"expected GET /health 200 after the case, got {r!r}")


def judge(name, r, expect, problem=True, slug=None):
    """expect: an int or a tuple of ints."""
    exp = expect if isinstance(expect, tuple) else (expect,)
    if r.status not in exp:
        fail(name, f"expected {'/'.join(map(str, exp))}, got {r!r}")
        return False
    if problem and r.status >= 400:
        errs = problem_errors(r, slug)
        if errs:
            fail(name, f"expected a problem+json {r.status}, got: {'; '.join(errs)}; body {r.body[:200]!r}")
            return False
    say(f"ok {name} {r.status}")
    return True


def check(name, data, expect, problem=True, slug=None, timeout=5.0):
    if skipped(name):
        return Resp(what="skipped")
    try:
        r = exchange(data, timeout)
    except OSError as e:
        r = Resp(what=f"error {e}")
    judge(name, r, expect, problem, slug)
    after(name)
    return r


def record(name, data, timeout=5.0, want_4xx_or_close=False):
    """h2o's territory: note the answer, require only that the server survives."""
    if skipped(name):
        return Resp(what="skipped")
    try:
        r = exchange(data, timeout)
    except OSError as e:
        r = Resp(what=f"error {e}")
    describe(name, r)
    if want_4xx_or_close and r.status is not None and not 400 <= r.status < 500:
        fail(name, f"expected a 4xx or a closed connection, got {r!r}")
    else:
        say(f"ok {name} {r.show()}")
    after(name)
    return r


def describe(name, r):
    if r.status is None:
        note(name, f"no answer: {r.what}")
    elif r.status >= 400 and problem_errors(r):
        note(name, f"{r.status} with a non-problem body: content-type {r.ctype()!r} body {r.body[:80]!r}")


def job(**fields):
    d = {"name": "x"}
    d.update(fields)
    return json.dumps(d)


def post_job(name, body, expect, slug=None, ctype="application/json", headers=()):
    return check(name, build("POST", "/api/v1/jobs", body, ctype=ctype, headers=headers), expect, slug=slug)


# ---- JWT by hand ---------------------------------------------------------------------------


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims, key, header=None, sig=None, alg=hashlib.sha256):
    h = b64u(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    p = b64u(claims if isinstance(claims, bytes) else json.dumps(claims).encode())
    if sig is None:
        sig = b64u(hmac.new(key, f"{h}.{p}".encode(), alg).digest()) if key else ""
    return f"{h}.{p}.{sig}"


# ======================================================================================
# cases
# ======================================================================================

# ---- positive controls: the harness itself works ----
r = request("POST", "/api/v1/jobs", job(name="control"))
judge("control-submit", r, 201, problem=False)
CONTROL_ID = json.loads(r.body)["id"] if r.status == 201 else UNKNOWN_ID
check("control-get", build("GET", f"/api/v1/jobs/{CONTROL_ID}"), 200, problem=False)

# ---- broken JSON ----
for name, body, slug in [
    ("json-truncated", '{"name":', "malformed-json"),
    ("json-truncated-string", '{"name":"abc', "malformed-json"),
    ("json-trailing-garbage", '{"name":"x"} garbage', "malformed-json"),
    ("json-two-objects", '{"name":"x"}{"name":"y"}', "malformed-json"),
    ("json-null", "null", None),
    ("json-array", '[{"name":"x"}]', None),
    ("json-bare-string", '"name"', None),
    ("json-bare-number", "42", None),
    ("json-whitespace-only", "   \n ", "malformed-json"),
    ("json-single-quotes", "{'name':'x'}", "malformed-json"),
    ("json-trailing-comma", '{"name":"x",}', "malformed-json"),
    ("json-comment", '{"name":"x" /* c */}', "malformed-json"),
    ("json-nan", '{"name":"x","maxRetries":NaN}', "malformed-json"),
    ("json-infinity", '{"name":"x","timeoutSeconds":Infinity}', "malformed-json"),
    ("json-duplicate-key", '{"name":"x","name":"y"}', "malformed-json"),
    ("json-nul-escape", '{"name":"a\\u0000b"}', "malformed-json"),
    ("json-raw-control-char", '{"name":"a\x01b"}', "malformed-json"),
    ("json-bad-escape", '{"name":"a\\qb"}', "malformed-json"),
    # an invalid escape followed by a multi-byte character: jansson's error
    # text quotes the bytes read so far, ending inside the character
    ("json-bad-escape-multibyte", '{"name":"\\\u00e9"}', "malformed-json"),
    ("json-bad-escape-emoji", '{"name":"x\\\U0001F600"}', "malformed-json"),
    ("json-bad-token-multibyte", '{"name":\u00e9\u00e9}', "malformed-json"),
    ("json-missing-colon", '{"name" "x"}', "malformed-json"),
]:
    post_job(name, body, 400, slug)
# an empty body is read as {}: name is then missing
post_job("json-empty-body", "", 400)

# ---- wrong types for each field of POST /api/v1/jobs ----
WT = "wrong-type"
for name, body in [
    ("missing-name", "{}"),
    ("name-number", '{"name":5}'),
    ("name-null", '{"name":null}'),
    ("name-array", '{"name":["x"]}'),
    ("name-object", '{"name":{"a":1}}'),
    ("name-bool", '{"name":true}'),
    ("description-number", job(description=7)),
    ("priority-bogus", job(priority="URGENT")),
    ("priority-lowercase-garbage", job(priority="hIgHx")),
    ("priority-number", job(priority=1)),
    ("priority-null", job(priority=None)),
    ("timeout-negative", job(timeoutSeconds=-1)),
    ("timeout-float", job(timeoutSeconds=1.5)),
    ("timeout-float-integral", job(timeoutSeconds=10.0)),
    ("timeout-string", job(timeoutSeconds="10")),
    ("timeout-bool", job(timeoutSeconds=True)),
    ("timeout-huge", job(timeoutSeconds=10**12)),
    ("timeout-2pow32", job(timeoutSeconds=2**32)),
    ("retries-negative", job(maxRetries=-1)),
    ("retries-float", job(maxRetries=2.5)),
    ("retries-string", job(maxRetries="3")),
    ("retries-null", job(maxRetries=None)),
    ("retries-huge", job(maxRetries=10**15)),
    ("payload-array", job(payload=[1, 2])),
    ("payload-string", job(payload="cmd")),
    ("payload-number", job(payload=3)),
    ("payload-null", job(payload=None)),
    ("deps-string", job(dependencies=UNKNOWN_ID)),
    ("deps-object", job(dependencies={"a": UNKNOWN_ID})),
    ("deps-number-item", job(dependencies=[5])),
    ("deps-null-item", job(dependencies=[None])),
    ("deps-not-uuid", job(dependencies=["nope"])),
    ("deps-uuid-no-dashes", job(dependencies=[UNKNOWN_ID.replace("-", "")])),
    ("deps-uuid-trailing", job(dependencies=[UNKNOWN_ID + "0"])),
    ("caps-string", job(requiredCapabilities="gpu")),
    ("caps-number-item", job(requiredCapabilities=[5])),
    ("caps-nested-array", job(requiredCapabilities=[["gpu"]])),
    ("caps-null-item", job(requiredCapabilities=[None])),
    ("scheduled-at-number", job(scheduledAt=1700000000)),
    ("scheduled-at-null", job(scheduledAt=None)),
    ("scheduled-at-words", job(scheduledAt="tomorrow")),
    ("scheduled-at-no-zone", job(scheduledAt="2026-11-27T10:02:00")),
    ("scheduled-at-bad-month", job(scheduledAt="2026-13-27T10:02:00Z")),
    ("scheduled-at-bad-offset", job(scheduledAt="2026-11-27T10:02:00+25:00")),
    ("scheduled-at-before-1970", job(scheduledAt="1969-12-31T23:59:59Z")),
    ("scheduled-at-year-9999", job(scheduledAt="9999-12-31T23:59:59Z")),
    ("scheduled-at-trailing", job(scheduledAt="2026-11-27T10:02:00Zjunk")),
    ("scheduled-at-long", job(scheduledAt="2026-11-27T10:02:00." + "1" * 5000 + "Z")),
    ("delay-negative", job(delaySeconds=-1)),
    ("delay-float", job(delaySeconds=1.5)),
    ("delay-string", job(delaySeconds="10")),
    ("delay-bool", job(delaySeconds=True)),
    ("delay-null", job(delaySeconds=None)),
    ("delay-array", job(delaySeconds=[1])),
]:
    post_job(name, body, 400, WT)
post_job("delay-and-scheduled-at", job(delaySeconds=1, scheduledAt="2030-01-01T00:00:00Z"), 400, "conflicting-fields")
post_job("workflow-delay-and-scheduled-at",
         json.dumps({"jobs": [{"key": "a", "name": "a", "delaySeconds": 1, "scheduledAt": "2030-01-01T00:00:00Z"}]}), 400,
         "conflicting-fields")
post_job("workflow-delay-negative", json.dumps({"jobs": [{"key": "a", "name": "a", "delaySeconds": -5}]}), 400, WT)

# unknown fields
post_job("unknown-field", job(bogus=1), 400, "unknown-field")
post_job("unknown-field-case", job(Name="y"), 400, "unknown-field")
post_job("unknown-field-long", job(**{"z" * 5000: 1}), 400, "unknown-field")
# a 65-byte key whose 64th byte starts a 2-byte UTF-8 character: the detail
# quotes at most 64 bytes of it and must still be valid UTF-8 (JSON)
post_job("unknown-field-utf8-cut", job(**{"a" * 63 + "\u00e9": 1}), 400, "unknown-field")
post_job("unknown-field-utf8-cut-4byte", job(**{"a" * 62 + "\U0001F600": 1}), 400, "unknown-field")
check("unknown-field-utf8-cut-put-job", build("PUT", f"/api/v1/jobs/{CONTROL_ID}", json.dumps({"a" * 63 + "\u00e9": 1})),
      400, slug="unknown-field")
check("unknown-field-utf8-cut-post-worker", build("POST", "/api/v1/workers", json.dumps({"name": "w", "slots": 1,
      "a" * 63 + "\u00e9": 1})), 400, slug="unknown-field")

# values of the right type beyond the documented limits: 422
post_job("timeout-over-max", job(timeoutSeconds=604801), 422, "invalid-value")
post_job("retries-over-max", job(maxRetries=101), 422, "invalid-value")
post_job("delay-over-max", job(delaySeconds=31622401), 422, "invalid-value")
post_job("delay-huge", job(delaySeconds=2**62), 422, "invalid-value")
post_job("scheduled-at-far-ahead", job(scheduledAt="2400-01-01T00:00:00Z"), 422, "invalid-value")
post_job("name-empty", job(name=""), 422, "invalid-value")
post_job("name-too-long", job(name="n" * 257), 422, "limit-exceeded")
post_job("description-too-long", job(description="d" * 4097), 422, "limit-exceeded")
post_job("caps-empty-string", job(requiredCapabilities=[""]), 422)
post_job("caps-too-long", job(requiredCapabilities=["c" * 65]), 422)
post_job("caps-too-many", job(requiredCapabilities=[f"c{i}" for i in range(33)]), 422, "limit-exceeded")
# dependencies: unknown id is documented (and tested in test_api.sh) as 404
post_job("deps-unknown-id", job(dependencies=[UNKNOWN_ID]), 404, "not-found")
post_job("deps-too-many", job(dependencies=[UNKNOWN_ID] * 257), 422, "limit-exceeded")
post_job("deps-too-many-garbage", job(dependencies=["x"] * 100000), (400, 422))
post_job("idempotency-key-too-long", job(), 422, headers=("Idempotency-Key: " + "k" * 129,))

# ---- deep nesting ----
for depth in (100, 1000, 100000):
    post_job(f"nest-object-{depth}", '{"name":"x","payload":' + '{"a":' * depth + "1" + "}" * depth + "}", (400, 422))
    post_job(f"nest-array-{depth}", '{"name":"x","payload":{"a":' + "[" * depth + "]" * depth + "}}", (400, 422))
    # nesting outside the payload: the body itself, and a wrong-typed field
    post_job(f"nest-body-array-{depth}", "[" * depth + "]" * depth, 400)
    post_job(f"nest-name-{depth}", '{"name":' + "[" * depth + "]" * depth + "}", 400)
# unbalanced: opened and never closed
post_job("nest-unclosed-100000", '{"name":"x","payload":' + '{"a":' * 100000, 400)
post_job("nest-payload-30-accepted", '{"name":"deep-ok","payload":' + '{"a":' * 30 + "1" + "}" * 30 + "}", 201)

# ---- POST /api/v1/workers: our fields and the original design's ----
def worker(**fields):
    w = {"name": "bad-worker"}
    w.update(fields)
    return json.dumps(w)


def post_worker(name, body, expect, slug=None):
    return check(name, build("POST", "/api/v1/workers", body), expect, slug=slug)


for name, body in [
    ("worker-name-missing", "{}"),
    ("worker-name-number", '{"name":5}'),
    ("worker-host-number", worker(host=5)),
    ("worker-hostname-number", worker(hostName=5)),
    ("worker-hostname-null", worker(hostName=None)),
    ("worker-hostname-array", worker(hostName=["h"])),
    ("worker-slots-string", worker(slots="2")),
    ("worker-slots-zero", worker(slots=0)),
    ("worker-maxjobs-string", worker(maxConcurrentJobs="2")),
    ("worker-maxjobs-float", worker(maxConcurrentJobs=2.5)),
    ("worker-maxjobs-negative", worker(maxConcurrentJobs=-1)),
    ("worker-maxjobs-zero", worker(maxConcurrentJobs=0)),
    ("worker-maxjobs-huge", worker(maxConcurrentJobs=10**15)),
    ("worker-maxjobs-null", worker(maxConcurrentJobs=None)),
    ("worker-maxjobs-bool", worker(maxConcurrentJobs=True)),
    ("worker-hostaddress-number", worker(hostAddress=10)),
    ("worker-hostaddress-null", worker(hostAddress=None)),
    ("worker-hostaddress-array", worker(hostAddress=["10.0.0.1"])),
    ("worker-port-string", worker(port="8080")),
    ("worker-port-float", worker(port=80.5)),
    ("worker-port-zero", worker(port=0)),
    ("worker-port-negative", worker(port=-1)),
    ("worker-port-65536", worker(port=65536)),
    ("worker-port-huge", worker(port=2**62)),
    ("worker-port-null", worker(port=None)),
    ("worker-tags-string", worker(tags="gpu")),
    ("worker-tags-object", worker(tags={"a": "b"})),
    ("worker-tags-null", worker(tags=None)),
    ("worker-tags-number-item", worker(tags=[5])),
    ("worker-tags-null-item", worker(tags=[None])),
    ("worker-tags-nested", worker(tags=[["a"]])),
    ("worker-caps-string", worker(capabilities="gpu")),
]:
    post_worker(name, body, 400, WT)
# one field, two spellings, two values
for name, body in [
    ("worker-host-hostname-differ", worker(host="a", hostName="b")),
    ("worker-host-hostname-types-differ", worker(host="1", hostName=1)),
    ("worker-slots-maxjobs-differ", worker(slots=1, maxConcurrentJobs=2)),
    ("worker-slots-maxjobs-types-differ", worker(slots=2, maxConcurrentJobs="2")),
]:
    post_worker(name, body, 400, "conflicting-fields")
# the right type beyond the limits
post_worker("worker-hostaddress-empty", worker(hostAddress=""), 422, "invalid-value")
post_worker("worker-hostaddress-space", worker(hostAddress="10.0.0.1 "), 422, "invalid-value")
# (a NUL in a string is refused by the JSON reader before any field is read)
post_worker("worker-hostaddress-nul", worker(hostAddress="10.0.0.1\u0000"), 400, "malformed-json")
post_worker("worker-hostaddress-utf8", worker(hostAddress="h\u00e9te"), 422, "invalid-value")
post_worker("worker-hostaddress-too-long", worker(hostAddress="a" * 256), 422, "invalid-value")
post_worker("worker-tags-too-many", worker(tags=["t"] * 33), 422, "limit-exceeded")
post_worker("worker-tags-empty-item", worker(tags=[""]), 422, "invalid-value")
post_worker("worker-tags-item-too-long", worker(tags=["t" * 65]), 422, "invalid-value")
post_worker("worker-tags-too-many-garbage", worker(tags=["t"] * 100000), 422, "limit-exceeded")
post_worker("worker-unknown-field", worker(hostname="h"), 400, "unknown-field")

# ---- batched worker reports: POST /workers/{id}/reports and the body of a poll ----
# A wrong report refuses the whole request (400 naming the item) before any is applied.
REPORTS = f"/api/v1/workers/{UNKNOWN_ID}/reports"
POLL = f"/api/v1/workers/{UNKNOWN_ID}/poll?wait=0"


def rep(**fields):
    d = {"jobId": UNKNOWN_ID, "attempt": 1, "action": "start"}
    d.update(fields)
    return d


def post_reports(name, body, expect, slug=None, path=REPORTS, ctype="application/json"):
    body = body if isinstance(body, str) else json.dumps(body)
    return check(name, build("POST", path, body, ctype=ctype), expect, slug=slug)


for name, body in [
    ("reports-missing", {}),
    ("reports-null", {"reports": None}),
    ("reports-object", {"reports": {"a": rep()}}),
    ("reports-string", {"reports": "start"}),
    ("reports-empty", {"reports": []}),
    ("reports-1001", {"reports": [rep()] * 1001}),
    ("reports-100000-garbage", {"reports": [1] * 100000}),
    ("reports-item-number", {"reports": [rep(), 5]}),
    ("reports-item-array", {"reports": [[rep()]]}),
    ("reports-jobid-missing", {"reports": [{"attempt": 1, "action": "start"}]}),
    ("reports-jobid-number", {"reports": [rep(jobId=5)]}),
    ("reports-jobid-not-uuid", {"reports": [rep(jobId="nope")]}),
    ("reports-action-missing", {"reports": [{"jobId": UNKNOWN_ID, "attempt": 1}]}),
    ("reports-action-unknown", {"reports": [rep(action="finish")]}),
    ("reports-action-case", {"reports": [rep(action="START")]}),
    ("reports-action-prefix", {"reports": [rep(action="star")]}),
    ("reports-attempt-missing", {"reports": [{"jobId": UNKNOWN_ID, "action": "start"}]}),
    ("reports-attempt-zero", {"reports": [rep(attempt=0)]}),
    ("reports-attempt-negative", {"reports": [rep(attempt=-1)]}),
    ("reports-attempt-string", {"reports": [rep(attempt="1")]}),
    ("reports-attempt-float", {"reports": [rep(attempt=1.0)]}),
    ("reports-attempt-2pow32", {"reports": [rep(attempt=2**32)]}),
    ("reports-progress-no-percentage", {"reports": [rep(action="progress")]}),
    ("reports-progress-101", {"reports": [rep(action="progress", percentage=101)]}),
    ("reports-progress-step-number", {"reports": [rep(action="progress", percentage=5, currentStep=5)]}),
    ("reports-fail-error-object", {"reports": [rep(action="fail", error={"e": 1})]}),
    ("reports-late-bad-item", {"reports": [rep()] * 999 + [rep(attempt=None)]}),
]:
    post_reports(name, body, 400, "wrong-type")
post_reports("reports-action-nul", {"reports": [rep(action="start\u0000")]}, 400)
post_reports("reports-attempt-1e400", '{"reports":[{"jobId":"%s","attempt":1e400,"action":"start"}]}' % UNKNOWN_ID, 400)
post_reports("reports-unknown-field", {"reports": [rep(workerId=UNKNOWN_ID)]}, 400, "unknown-field")
post_reports("reports-unknown-top-field", {"reports": [rep()], "more": []}, 400, "unknown-field")
post_reports("reports-malformed", '{"reports":[{"jobId":', 400, "malformed-json")
post_reports("reports-body-array", "[]", 400, "invalid-body")
post_reports("reports-text-plain", {"reports": [rep()]}, 415, "unsupported-media-type", ctype="text/plain")
post_reports("reports-result-deep", '{"reports":[{"jobId":"%s","attempt":1,"action":"complete","result":%s1%s}]}'
             % (UNKNOWN_ID, "[" * 40, "]" * 40), 422, "limit-exceeded")
post_reports("reports-result-nest-100000", '{"reports":[{"jobId":"%s","attempt":1,"action":"complete","result":%s}]}'
             % (UNKNOWN_ID, "[" * 100000 + "]" * 100000), 400, "malformed-json")
post_reports("poll-reports-not-array", {"reports": 1}, 400, "wrong-type", path=POLL)
post_reports("poll-reports-1001", {"reports": [rep()] * 1001}, 400, "wrong-type", path=POLL)
post_reports("poll-reports-bad-item", {"reports": [rep(action="stop")]}, 400, "wrong-type", path=POLL)
post_reports("poll-unknown-field", {"wait": 1}, 400, "unknown-field", path=POLL)
post_reports("poll-malformed", "{", 400, "malformed-json", path=POLL)


def reports_unknown_job(name):
    """Well-formed reports of a job nobody has: 200, each refused on its own (404)."""
    if skipped(name):
        return
    r = request("POST", REPORTS, json.dumps({"reports": [rep(), rep(action="complete", result={"x": [1]})]}))
    if judge(name, r, 200, problem=False):
        try:
            got = [x["status"] for x in json.loads(r.body)["results"]]
        except (ValueError, KeyError, TypeError):
            got = f"<unreadable: {r.body[:200]!r}>"
        if got != [404, 404]:
            fail(name + "-results", f"expected two 404 results, got {got}")
    after(name)


reports_unknown_job("reports-unknown-job")

# ---- accepted payloads come back as sent (history shows the submitted body) ----


def payload_roundtrip(name, payload):
    if skipped(name):
        return
    r = request("POST", "/api/v1/jobs", json.dumps({"name": name, "payload": payload}))
    if judge(name, r, 201):
        jid = json.loads(r.body)["id"]
        h = request("GET", f"/api/v1/jobs/{jid}/history")
        try:
            got = json.loads(h.body)["events"][0]["body"].get("payload")
        except (ValueError, KeyError, IndexError, AttributeError):
            got = f"<unreadable history: {h!r}>"
        if got != payload:
            fail(name + "-readback", f"expected the payload as submitted, history shows {str(got)[:200]}")
        else:
            say(f"ok {name}-readback {h.status}")
    after(name)


payload_roundtrip("payload-roundtrip-control", {"ключ": "значение \U0001F600", "n": -5, "f": 1.5, "z": None, "t": True,
                                                "l": [1, "x", {"y": []}], "big": 9223372036854775807})
payload_roundtrip("payload-key-300-bytes", {"k" * 300: 1})
payload_roundtrip("payload-keys-same-255-prefix", {"p" * 255 + "1": 1, "p" * 255 + "2": 2})
payload_roundtrip("payload-key-utf8-across-255", {"a" * 254 + "\u00e9": 1, "b": 2})

# ---- huge numbers in integer fields ----
for field in ("timeoutSeconds", "maxRetries"):
    for label, num in [("1e400", "1e400"), ("2pow64", "18446744073709551616"),
                       ("below-int64", "-9223372036854775809"), ("int64-max", "9223372036854775807"),
                       ("1e18", "1e18"), ("neg-zero-float", "-0.0"), ("long-digits", "9" * 5000)]:
        post_job(f"huge-{field}-{label}", '{"name":"x","%s":%s}' % (field, num), 400)
post_job("huge-in-payload-1e400", '{"name":"x","payload":{"n":1e400}}', 400)
post_job("huge-in-payload-2pow64", '{"name":"x","payload":{"n":18446744073709551616}}', 400)
# huge numbers in query strings
for path in ["/api/v1/jobs?limit=18446744073709551616", "/api/v1/jobs?limit=-1", "/api/v1/jobs?limit=1e400",
             f"/api/v1/jobs/{CONTROL_ID}?at_seq=18446744073709551616", f"/api/v1/jobs/{CONTROL_ID}?at_seq=-1",
             f"/api/v1/jobs/{CONTROL_ID}?at_seq=1e3", "/api/v1/events?from_seq=99999999999999999999999",
             "/api/v1/events?limit=0", f"/api/v1/jobs/{CONTROL_ID}?as_of=99999-99-99T99:99:99Z",
             f"/api/v1/jobs/{CONTROL_ID}?as_of=2026-13-45T25:61:61Z"]:
    check("query-" + path.split("/api/v1/")[1].replace("/", "_")[:60].replace(CONTROL_ID, "ID"),
          build("GET", path), 400, slug="invalid-query")

# ---- invalid UTF-8 ----
BAD_UTF8 = [
    ("byte-ff", b"\xff"),
    ("byte-fe", b"\xfe"),
    ("lone-continuation", b"\x80"),
    ("overlong-slash-2", b"\xc0\xaf"),
    ("overlong-slash-3", b"\xe0\x80\xaf"),
    ("overlong-slash-4", b"\xf0\x80\x80\xaf"),
    ("overlong-nul", b"\xc0\x80"),
    ("five-byte", b"\xf8\x88\x80\x80\x80"),
    ("above-10ffff", b"\xf4\x90\x80\x80"),
    ("utf8-surrogate", b"\xed\xa0\x80"),
    ("truncated-3byte", b"\xe2\x82"),
    ("bad-continuation", b"\xe2\x28\xa1"),
]
for label, bad in BAD_UTF8:
    post_job(f"utf8-name-{label}", b'{"name":"a' + bad + b'b"}', 400, "malformed-json")
post_job("utf8-in-key", b'{"na\xffme":"x"}', 400, "malformed-json")
post_job("utf8-in-payload", b'{"name":"x","payload":{"k":"\xc0\xaf"}}', 400, "malformed-json")
post_job("utf8-truncated-at-eof", b'{"name":"x"}\xe2', 400, "malformed-json")
for label, esc in [("lone-high", "\\ud800"), ("lone-low", "\\udc00"), ("reversed-pair", "\\udc00\\ud800"),
                   ("high-then-ascii", "\\ud800A"), ("high-then-high", "\\ud800\\ud800"), ("short-escape", "\\u12")]:
    post_job(f"escape-{label}", '{"name":"a%sb"}' % esc, 400, "malformed-json")
post_job("escape-valid-pair-accepted", '{"name":"smile \\ud83d\\ude00"}', 201)
# in the path
check("path-utf8-ff", b"GET /api/v1/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
      b"\r\nConnection: close\r\n\r\n", 404)
check("path-utf8-job-id", b"GET /api/v1/jobs/" + b"\xff" * 36 + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      TOKEN.encode() + b"\r\nConnection: close\r\n\r\n", 400, slug="invalid-id")
check("path-utf8-overlong-job-id", b"GET /api/v1/jobs/" + b"\xc0\xaf" * 18 + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      TOKEN.encode() + b"\r\nConnection: close\r\n\r\n", 400, slug="invalid-id")
check("path-pct-ff", build("GET", "/api/v1/%ff%fe"), 404)
check("path-pct-nul", build("GET", "/api/v1/jobs%00"), (400, 404))
check("path-pct-job-id", build("GET", "/api/v1/jobs/" + "%ff" * 12), 400, slug="invalid-id")
# routing comes before authentication: an unknown path is 404 with or without a token (the routes are public in docs/openapi.yaml)
check("path-utf8-unauthenticated", b"GET /\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, slug="not-found")
check("query-utf8-status", build("GET", "/api/v1/jobs?status=%ff%fe"), 400, slug="invalid-query")
check("query-utf8-raw-status", build("GET", b"/api/v1/jobs?status=\xff\xfe"), 400, slug="invalid-query")
check("query-utf8-event-type", build("GET", "/api/v1/events?type=%c0%af"), 400, slug="invalid-query")
check("query-utf8-as-of", build("GET", f"/api/v1/jobs/{CONTROL_ID}?as_of=%ff"), 400, slug="invalid-query")
# in header values
check("header-utf8-authorization", build("GET", "/api/v1/stats", token=b"\xff\xfe\xc0\xaf"), 401, slug="unauthorized")
check("header-utf8-content-type", build("POST", "/api/v1/jobs", job(), ctype=b"application/\xffjson"), 415,
      slug="unsupported-media-type")
check("header-utf8-content-type-suffix", build("POST", "/api/v1/jobs", job(), ctype=b"application/json\xff"), 415,
      slug="unsupported-media-type")
check("header-utf8-idempotency-key", build("POST", "/api/v1/jobs", job(name="idem-utf8"),
      headers=(b"Idempotency-Key: \xff\xfe\xc0\xaf",)), (400, 422))
r = check("header-utf8-unrelated-on-health", build("GET", "/health", token=None, headers=(b"X-Junk: \xff\xfe\xc0\xaf",)),
          200, problem=False)

# ---- bodies ----
def body_limit_cl():
    name = "body-content-length-2MiB"
    if skipped(name):
        return
    c = Conn(10)
    c.send(build("POST", "/api/v1/jobs", None, headers=("Content-Type: application/json",
                                                          "Content-Length: %d" % (2 << 20))))
    # the length is known from the headers: the answer may come before the body
    ready, _, _ = select.select([c.s], [], [], 2.0)
    if not ready:
        try:
            c.send(b"a" * (2 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass
    r = c.read_response()
    c.close()
    describe(name, r)
    judge(name, r, 413, problem=False)
    after(name)


def body_limit_chunked():
    name = "body-chunked-past-1MiB"
    if skipped(name):
        return
    c = Conn(10)
    c.send(build("POST", "/api/v1/jobs", None, te="chunked", headers=("Content-Type: application/json",)))
    sent = 0
    chunk = b"a" * 65536
    while sent < (3 << 20):
        ready, _, _ = select.select([c.s], [], [], 0)
        if ready:
            break
        try:
            c.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            break
        sent += len(chunk)
        time.sleep(0.002)
    else:
        try:
            c.send(b"0\r\n\r\n")
        except OSError:
            pass
    r = c.read_response()
    c.close()
    describe(name, r)
    judge(name, r, 413, problem=False)
    note(name, f"answered after {sent} body bytes")
    after(name)


body_limit_cl()
body_limit_chunked()
# a valid chunked body is accepted (control for the case above)
check("body-chunked-valid", build("POST", "/api/v1/jobs", None, te="chunked", headers=("Content-Type: application/json",))
      + b"5\r\n{\"nam\r\nb\r\ne\":\"chunk\"}\r\n0\r\n\r\n", 201)


def short_body_then_close(name, rst):
    if skipped(name):
        return
    c = Conn(5)
    c.send(build("POST", "/api/v1/jobs", None, close=False,
                 headers=("Content-Type: application/json", "Content-Length: 1000")) + b'{"name":"sh')
    time.sleep(0.05)
    c.close(rst=rst)
    say(f"ok {name} closed")
    after(name)


short_body_then_close("body-short-then-close", False)
short_body_then_close("body-short-then-reset", True)
post_job("content-type-missing", job(), 415, "unsupported-media-type", ctype=None)
post_job("content-type-text-plain", job(), 415, "unsupported-media-type", ctype="text/plain")
post_job("content-type-form", job(), 415, "unsupported-media-type", ctype="application/x-www-form-urlencoded")
post_job("content-type-jsonp", job(), 415, "unsupported-media-type", ctype="application/jsonp")
post_job("content-type-json-patch", job(), 415, "unsupported-media-type", ctype="application/json-patch+json")
post_job("content-type-empty", job(), 415, "unsupported-media-type", ctype="")
post_job("content-type-charset-accepted", job(name="charset"), 201, ctype="application/json; charset=utf-8")
post_job("content-type-case-accepted", job(name="case"), 201, ctype="Application/JSON")
# framing that h2o owns: record
record("framing-content-length-negative", build("POST", "/api/v1/jobs", None, headers=(
    "Content-Type: application/json", "Content-Length: -1")) + b"{}", want_4xx_or_close=True)
record("framing-content-length-garbage", build("POST", "/api/v1/jobs", None, headers=(
    "Content-Type: application/json", "Content-Length: 12abc")) + b'{"name":"x"}', want_4xx_or_close=True)
record("framing-content-length-huge", build("POST", "/api/v1/jobs", None, headers=(
    "Content-Type: application/json", "Content-Length: 99999999999999999999999")), want_4xx_or_close=True)
record("framing-content-length-conflict", build("POST", "/api/v1/jobs", None, headers=(
    "Content-Type: application/json", "Content-Length: 12", "Content-Length: 3")) + b'{"name":"x"}')
record("framing-cl-and-chunked", build("POST", "/api/v1/jobs", None, te="chunked", headers=(
    "Content-Type: application/json", "Content-Length: 4")) + b"d\r\n{\"name\":\"te\"}\r\n0\r\n\r\n")
record("framing-bad-chunk-size", build("POST", "/api/v1/jobs", None, te="chunked", headers=(
    "Content-Type: application/json",)) + b"zz\r\n{}\r\n0\r\n\r\n", want_4xx_or_close=True)
record("framing-chunk-size-overflow", build("POST", "/api/v1/jobs", None, te="chunked", headers=(
    "Content-Type: application/json",)) + b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", want_4xx_or_close=True)
record("framing-unknown-transfer-encoding", build("POST", "/api/v1/jobs", None, te="gzip, chunked", headers=(
    "Content-Type: application/json",)) + b"2\r\n{}\r\n0\r\n\r\n")

# ---- headers and request line (h2o's limits) ----
# our own bounds, far below h2o's ~408 KiB request head: 32 KiB of header fields, 8 KiB of target
check("header-single-64KiB", build("GET", "/health", token=None, headers=("X-Big: " + "a" * 65536,)), 431,
      slug="headers-too-large")
check("header-authorization-64KiB", build("GET", "/api/v1/stats", token="a" * 65536), 431, slug="headers-too-large")
check("header-single-16KiB", build("GET", "/health", token=None, headers=("X-Big: " + "a" * 16384,)), 200)
check("request-target-16KiB", build("GET", "/api/v1/" + "u" * 16384), 414, slug="uri-too-long")
record("headers-200", build("GET", "/health", token=None, headers=tuple(f"X-H{i}: v" for i in range(200))),
       want_4xx_or_close=True)
record("headers-100", build("GET", "/health", token=None, headers=tuple(f"X-H{i}: v" for i in range(97))))
record("header-block-500KiB", build("GET", "/health", token=None, headers=tuple(
    f"X-H{i}: " + "b" * 8000 for i in range(64))), want_4xx_or_close=True)
record("request-line-16KiB-query", build("GET", "/health?" + "q=1&" * 4096, token=None))
record("request-line-1MiB", build("GET", "/" + "u" * (1 << 20), token=None), want_4xx_or_close=True)
record("request-line-garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, want_4xx_or_close=True)
record("request-line-no-version", b"GET /health\r\n\r\n")
record("request-line-http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00" * 9)
record("request-line-bad-version", b"GET /health HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n")
record("request-line-lowercase-method", b"get /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
record("request-line-nul-in-path", b"GET /hea\x00lth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
       want_4xx_or_close=True)
record("header-no-colon", b"GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\nConnection: close\r\n\r\n",
       want_4xx_or_close=True)
record("header-nul-in-value", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\nConnection: close\r\n\r\n")
record("header-bare-lf", b"GET /health HTTP/1.1\nHost: x\nConnection: close\n\n")
record("header-space-before-colon", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A : b\r\nConnection: close\r\n\r\n")
record("header-obs-fold", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  c\r\nConnection: close\r\n\r\n")
record("header-no-host", b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")

# ---- auth ----
KEY = open(os.path.join(DATA, "jwt.secret"), "rb").read()
now = int(time.time())
good = {"sub": "badinput", "role": "admin", "iat": now, "nbf": now, "exp": now + 600}
check("auth-control-hand-made-token", build("GET", "/api/v1/stats", token=jwt(good, KEY)), 200, problem=False)
U = "unauthorized"
for name, tok in [
    ("auth-garbage", "garbage"),
    ("auth-three-garbage-parts", "garbage.token.here"),
    ("auth-empty-parts", ".."),
    ("auth-alg-none", jwt(good, None, header={"alg": "none", "typ": "JWT"})),
    ("auth-alg-none-upper", jwt(good, None, header={"alg": "NONE"})),
    ("auth-alg-none-signed", jwt(good, KEY, header={"alg": "none"})),
    ("auth-alg-hs512", jwt(good, KEY, header={"alg": "HS512", "typ": "JWT"}, alg=hashlib.sha512)),
    ("auth-alg-missing", jwt(good, KEY, header={"typ": "JWT"})),
    ("auth-other-secret", jwt(good, b"x" * 32)),
    ("auth-empty-secret", jwt(good, b"", sig=b64u(hmac.new(b"", b"", hashlib.sha256).digest()))),
    ("auth-expired", jwt(dict(good, exp=now - 600, iat=now - 1200, nbf=now - 1200), KEY)),
    ("auth-not-yet-valid", jwt(dict(good, nbf=now + 600), KEY)),
    ("auth-no-exp", jwt({"sub": "a", "role": "admin"}, KEY)),
    ("auth-exp-string", jwt(dict(good, exp=str(now + 600)), KEY)),
    ("auth-exp-huge", jwt(dict(good, exp=10**30), KEY)),
    ("auth-exp-1e400", jwt(b'{"sub":"a","role":"admin","exp":1e400}', KEY)),
    ("auth-no-sub", jwt({"role": "admin", "exp": now + 600}, KEY)),
    ("auth-sub-long", jwt(dict(good, sub="s" * 300), KEY)),
    ("auth-role-unknown", jwt(dict(good, role="root"), KEY)),
    ("auth-role-number", jwt(dict(good, role=1), KEY)),
    ("auth-claims-array", jwt([1, 2], KEY)),
    ("auth-claims-invalid-utf8", jwt(b'{"sub":"\xff","role":"admin","exp":%d}' % (now + 600), KEY)),
    ("auth-claims-not-json", jwt(b"not json", KEY)),
    ("auth-signature-truncated", jwt(good, KEY)[:-5]),
    ("auth-signature-flipped", jwt(good, KEY)[:-2] + ("A" if jwt(good, KEY)[-2] != "A" else "B") + jwt(good, KEY)[-1]),
    ("auth-padded-base64", jwt(good, KEY) + "=="),
    ("auth-four-parts", jwt(good, KEY) + ".x"),
    ("auth-token-10KiB", "a" * 10240),
]:
    check(name, build("GET", "/api/v1/stats", token=tok), 401, slug=U)
check("auth-no-header", build("GET", "/api/v1/stats", token=None), 401, slug=U)
check("auth-bearer-empty", build("GET", "/api/v1/stats", token=None, headers=("Authorization: Bearer ",)), 401, slug=U)
check("auth-bearer-no-space", build("GET", "/api/v1/stats", token=None, headers=("Authorization: Bearer",)), 401, slug=U)
check("auth-basic", build("GET", "/api/v1/stats", token=None, headers=("Authorization: Basic dXNlcjpwYXNz",)), 401, slug=U)
check("auth-two-headers-bad-first", build("GET", "/api/v1/stats", token=None, headers=(
    "Authorization: Bearer garbage", "Authorization: Bearer " + TOKEN)), (400, 401))
check("auth-post-no-token", build("POST", "/api/v1/jobs", job(), token=None), 401, slug=U)
check("auth-shutdown-no-token", build("POST", "/api/v1/admin/shutdown", token=None), 401, slug=U)
check("auth-shutdown-expired", build("POST", "/api/v1/admin/shutdown",
      token=jwt(dict(good, exp=now - 600, iat=now - 1200, nbf=now - 1200), KEY)), 401, slug=U)

# ---- methods and routes ----
check("route-unknown", build("GET", "/api/v1/nothing"), 404, slug="not-found")
check("route-unknown-root", build("GET", "/nothing"), 404, slug="not-found")
check("route-unknown-deep", build("GET", "/api/v1/jobs/" + UNKNOWN_ID + "/nothing/else"), 404, slug="not-found")
check("route-dotdot", build("GET", "/api/v1/jobs/../../etc/passwd"), (400, 404))
M405 = "method-not-allowed"
for name, method, path in [
    ("method-patch-jobs", "PATCH", "/api/v1/jobs"),
    ("method-delete-jobs", "DELETE", "/api/v1/jobs"),
    ("method-bogus-jobs", "FROB", "/api/v1/jobs"),
    ("method-delete-stats", "DELETE", "/api/v1/stats"),
    ("method-post-health", "POST", "/health"),
    ("method-get-shutdown", "GET", "/api/v1/admin/shutdown"),
    ("method-post-job-id", "POST", f"/api/v1/jobs/{CONTROL_ID}"),
    ("method-get-cancel", "GET", f"/api/v1/jobs/{CONTROL_ID}/cancel"),
    ("method-put-workers", "PUT", "/api/v1/workers"),
    ("method-post-events", "POST", "/api/v1/events"),
]:
    r = check(name, build(method, path), 405, slug=M405)
    if r.status == 405 and "allow" not in r.headers:
        note(name, "405 without an Allow header (RFC 9110 15.5.6: the server MUST send Allow)")
check("route-unknown-job", build("GET", f"/api/v1/jobs/{UNKNOWN_ID}"), 404, slug="not-found")
check("route-unknown-job-cancel", build("POST", f"/api/v1/jobs/{UNKNOWN_ID}/cancel"), 404, slug="not-found")
check("route-unknown-job-history", build("GET", f"/api/v1/jobs/{UNKNOWN_ID}/history"), 404, slug="not-found")
check("route-unknown-worker", build("GET", f"/api/v1/workers/{UNKNOWN_ID}"), 404, slug="not-found")
for name, path in [
    ("id-short", "/api/v1/jobs/not-a-uuid"),
    ("id-36-not-hex", "/api/v1/jobs/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"),
    ("id-37-chars", f"/api/v1/jobs/{UNKNOWN_ID}0"),
    ("id-no-dashes", "/api/v1/jobs/" + UNKNOWN_ID.replace("-", "")),
    ("id-braces", "/api/v1/jobs/{" + UNKNOWN_ID + "}"),
    ("id-cancel-malformed", "/api/v1/jobs/not-a-uuid/cancel"),
    ("id-worker-malformed", "/api/v1/workers/not-a-uuid"),
]:
    check(name, build("POST" if name.endswith("cancel-malformed") else "GET", path), 400, slug="invalid-id")

# ---- slow and half-closed clients ----


def slowloris():
    name = "slow-slowloris-20"
    if skipped(name):
        return
    held = []
    for _ in range(20):
        c = Conn(5)
        c.send(b"GET /heal")
        held.append(c)
    worst, bad = 0.0, None
    t_end = time.monotonic() + 2.5
    while time.monotonic() < t_end:
        r, dt = health(2.0)
        worst = max(worst, dt)
        if r.status != 200:
            bad = r
            break
        time.sleep(0.05)
    # the same with an authenticated request
    r2, dt2 = None, 0.0
    t = time.monotonic()
    r2 = request("GET", f"/api/v1/jobs/{CONTROL_ID}")
    dt2 = time.monotonic() - t
    for c in held:
        c.close()
    if bad is not None:
        fail(name, f"GET /health during slowloris: {bad!r}")
    elif worst >= 1.0 or dt2 >= 1.0:
        fail(name, f"expected /health < 1 s during slowloris, worst {worst:.3f} s, get job {dt2:.3f} s")
    elif r2.status != 200:
        fail(name, f"GET job during slowloris: {r2!r}")
    else:
        say(f"ok {name} 200 (worst /health {worst * 1000:.1f} ms)")
    after(name)


def half_close_mid_body():
    name = "slow-shutdown-wr-mid-body"
    if skipped(name):
        return
    c = Conn(3)
    c.send(build("POST", "/api/v1/jobs", None, close=False,
                 headers=("Content-Type: application/json", "Content-Length: 200")) + b'{"name":"half')
    c.s.shutdown(socket.SHUT_WR)
    t = time.monotonic()
    r = c.read_response()
    dt = time.monotonic() - t
    c.close()
    if r.status is not None and not 400 <= r.status < 500:
        fail(name, f"expected no answer or a 4xx, got {r!r}")
    else:
        say(f"ok {name} {r.show()}")
    if r.what == "timeout":
        note(name, "the server kept the half-closed connection open for 3 s without answering or closing")
    else:
        note(name, f"{r.show()} after {dt * 1000:.0f} ms")
    after(name)


def half_close_after_headers():
    name = "slow-shutdown-wr-after-headers"
    if skipped(name):
        return
    c = Conn(3)
    c.send(build("POST", "/api/v1/jobs", None, close=False,
                 headers=("Content-Type: application/json", "Content-Length: 50")))
    c.s.shutdown(socket.SHUT_WR)
    r = c.read_response()
    c.close()
    if r.status is not None and not 400 <= r.status < 500:
        fail(name, f"expected no answer or a 4xx, got {r!r}")
    else:
        say(f"ok {name} {r.show()}")
    after(name)


def half_close_after_full_request():
    # a complete request then FIN (nc -N, some proxies): recorded
    name = "slow-shutdown-wr-after-full-request"
    if skipped(name):
        return
    c = Conn(5)
    c.send(build("POST", "/api/v1/jobs", job(name="half-closed-full"), close=False))
    c.s.shutdown(socket.SHUT_WR)
    r = c.read_response()
    c.close()
    say(f"ok {name} {r.show()}")
    if r.status != 201:
        note(name, f"a complete request followed by SHUT_WR got {r!r} (a 201 would be friendlier)")
    after(name)


def never_reads():
    name = "slow-never-reads-then-closes"
    if skipped(name):
        return
    # (1) one request, close without reading
    c = Conn(5)
    c.send(build("GET", f"/api/v1/jobs/{CONTROL_ID}"))
    c.close()
    # (2) many pipelined requests with large answers, never read: the
    # server's writes block; then the client goes away (FIN, then RST)
    for rst in (False, True):
        c = Conn(5)
        many = build("GET", "/api/v1/events?limit=1000", close=False) * 60 + build("GET", "/metrics", close=False) * 60
        try:
            c.send(many)
        except OSError:
            pass
        time.sleep(0.3)
        c.close(rst=rst)
    say(f"ok {name} closed")
    after(name)


def open_close_500():
    name = "slow-500-open-close"
    if skipped(name):
        return
    for i in range(500):
        c = Conn(5)
        c.close(rst=(i % 5 == 0))
    # and 50 that send a request and vanish before the answer
    for i in range(50):
        c = Conn(5)
        c.send(build("GET", "/health", token=None))
        c.close(rst=(i % 2 == 0))
    say(f"ok {name} closed")
    after(name)


def byte_by_byte():
    name = "slow-byte-by-byte"
    if skipped(name):
        return
    body = json.dumps({"name": "byte-by-byte", "priority": "LOW", "payload": {"k": "v"}})
    data = build("POST", "/api/v1/jobs", body)
    c = Conn(10, nodelay=True)
    for i in range(len(data)):
        c.send(data[i:i + 1])
        time.sleep(0.002)
    r = c.read_response()
    c.close()
    if judge(name, r, 201, problem=False):
        jid = json.loads(r.body)["id"]
        r2 = request("GET", f"/api/v1/jobs/{jid}")
        if r2.status != 200 or json.loads(r2.body).get("name") != "byte-by-byte":
            fail(name + "-readback", f"GET the job sent byte by byte: {r2!r}")
        else:
            say(f"ok {name}-readback 200")
    after(name)


slowloris()
half_close_mid_body()
half_close_after_headers()
half_close_after_full_request()
never_reads()
open_close_500()
byte_by_byte()

# ---- pipelining ----


def pipelined(name, first, garbage, first_expect):
    if skipped(name):
        return
    c = Conn(5)
    c.send(first + garbage)
    r1 = c.read_response()
    c.s.settimeout(1.0)  # an incomplete second request gets no answer: do not wait long
    r2 = c.read_response()
    c.close()
    if r1.status != first_expect:
        fail(name, f"the valid request before the garbage: expected {first_expect}, got {r1!r}")
    elif r2.status is not None and not 400 <= r2.status < 500:
        fail(name, f"the garbage after it: expected a 4xx or a close, got {r2!r}")
    else:
        say(f"ok {name} {r1.status}+{r2.show()}")
        describe(name + "-garbage", r2)
    after(name)


pipelined("pipeline-health-then-garbage", build("GET", "/health", token=None, close=False),
          b"\x00\xffGARBAGE \x01\x02\r\n\r\n", 200)
pipelined("pipeline-submit-then-garbage", build("POST", "/api/v1/jobs", job(name="pipelined"), close=False),
          b"NOT HTTP AT ALL\r\n\r\n", 201)
pipelined("pipeline-get-then-half-request", build("GET", f"/api/v1/jobs/{CONTROL_ID}", close=False),
          b"POST /api/v1/jobs HTTP/1.1\r\nContent-Length: 5\r\n\r\n{", 200)
pipelined("pipeline-get-then-tls-hello", build("GET", "/health", token=None, close=False),
          b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(64), 200)


def pipeline_three_valid():
    name = "pipeline-three-valid"
    if skipped(name):
        return
    c = Conn(5)
    c.send(build("GET", "/health", token=None, close=False) + build("POST", "/api/v1/jobs", job(name="p2"), close=False)
           + build("GET", f"/api/v1/jobs/{CONTROL_ID}", close=True))
    got = [c.read_response().status for _ in range(3)]
    c.close()
    if got != [200, 201, 200]:
        fail(name, f"expected 200,201,200 in order, got {got}")
    else:
        say(f"ok {name} 200+201+200")
    after(name)


pipeline_three_valid()

# ---- the end: still accepting work ----
r = request("POST", "/api/v1/jobs", json.dumps({"name": "final", "priority": "HIGH", "payload": {"cmd": "true"}}))
if judge("final-submit", r, 201, problem=False):
    jid = json.loads(r.body)["id"]
    check("final-get", build("GET", f"/api/v1/jobs/{jid}"), 200, problem=False)
if not alive():
    fail("final-alive", "the server process is gone")

failed = list(dict.fromkeys(failures))
say(f"summary: {len(failed)} failed: {' '.join(failed) if failed else '-'}; {time.monotonic() - T0:.1f} s")
sys.exit(1 if failures else 0)
