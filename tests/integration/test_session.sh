#!/usr/bin/env bash
# The dashboard's login (api/session.c, docs/ui.md): POST /api/v1/session
# exchanges a bearer token, or a one-time login code, for an HttpOnly
# SameSite=Strict cookie with the token's lifetime; the cookie authenticates
# reads, writes only with X-DJS-CSRF and from this origin, and WebSocket
# upgrades only from this origin; a login code is taken once and is never a
# bearer token; a user's session sees only its jobs and no staff routes;
# DELETE ends the session in the browser; bad bodies are precise 4xx.
set -euo pipefail
DJS=${1:?usage: test_session.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init session
djs_start_server
ADMIN=$(djs_token root admin)
CODE_LINK=$("$DJS" token create --data "$T/data" --login-code --sub alice --role user --url "$URL/")
case "$CODE_LINK" in "$URL/ui/login#code="*) ;; *) fail "login link: $CODE_LINK" ;; esac
"$DJS" token create --data "$T/data" --sub x --role admin --code-ttl 5m >/dev/null 2>"$T/err" && fail "--code-ttl without --login-code accepted"
grep -q "go with --login-code" "$T/err" || fail "usage error: $(cat "$T/err")"
"$DJS" token verify --data "$T/data" "${CODE_LINK#*#code=}" | grep -q "use=login" || fail "token verify does not say use=login"

$PY - "$URL" "$ADMIN" "${CODE_LINK#*#code=}" "$("$DJS" token create --data "$T/data" --login-code --sub bob --role user)" <<'PYEOF'
import asyncio, http.client, json, sys, urllib.parse
import websockets

url, admin, code, code2 = sys.argv[1:5]
u = urllib.parse.urlparse(url)
host, port = u.hostname, u.port

def req(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(host, port, timeout=10)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    try:
        j = json.loads(raw) if raw else None
    except ValueError:
        j = None
    return r.status, r, j

def expect(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)

def problem(st, r, j, status, typ):
    expect(st == status, f"expected {status} {typ}, got {st} {j}")
    expect(r.getheader("Content-Type", "").startswith("application/problem+json"), f"{typ}: not a problem: {r.getheader('Content-Type')}")
    expect(j["type"].endswith("/" + typ), f"expected type {typ}, got {j}")

def cookie_of(r):
    sc = r.getheader("Set-Cookie")
    expect(sc is not None, "no Set-Cookie")
    parts = [p.strip() for p in sc.split(";")]
    name, _, value = parts[0].partition("=")
    expect(name == "djs_session", f"cookie name: {sc}")
    attrs = {p.split("=")[0].lower(): (p.split("=", 1)[1] if "=" in p else True) for p in parts[1:]}
    return value, attrs

# bad bodies
problem(*req("POST", "/api/v1/session", "{"), 400, "malformed-json")
problem(*req("POST", "/api/v1/session", {}), 400, "invalid-body")
problem(*req("POST", "/api/v1/session", {"token": admin, "code": code}), 400, "invalid-body")
problem(*req("POST", "/api/v1/session", {"token": 7}), 400, "wrong-type")
problem(*req("POST", "/api/v1/session", {"token": admin, "x": 1}), 400, "unknown-field")
forged = admin[:-2] + ("AA" if not admin.endswith("AA") else "BB")
st, r, j = req("POST", "/api/v1/session", {"token": forged})
problem(st, r, j, 401, "unauthorized")
expect("bad signature" in j["detail"], f"forged: {j}")
expect(r.getheader("Set-Cookie") is None, "a refused login set a cookie")
problem(*req("POST", "/api/v1/session", {"code": admin}), 400, "not-a-login-code")
problem(*req("POST", "/api/v1/session", {"token": code}), 400, "login-code-as-token")

# a login code is no bearer token, not even on a stream's access_token
st, r, j = req("GET", "/api/v1/jobs", headers={"Authorization": "Bearer " + code})
problem(st, r, j, 401, "unauthorized")
expect("login code" in j["detail"], f"code as bearer: {j}")

# the admin's token for a cookie
st, r, j = req("POST", "/api/v1/session", {"token": admin})
expect(st == 200 and j["sub"] == "root" and j["role"] == "admin" and isinstance(j["exp"], int), f"session: {st} {j}")
sess, attrs = cookie_of(r)
expect(sess == admin, "the cookie holds the token")
expect(attrs.get("httponly") is True and attrs.get("samesite") == "Strict" and attrs.get("path") == "/", f"cookie attrs {attrs}")
expect(3500 <= int(attrs["max-age"]) <= 3600, f"max-age {attrs}")
expect("secure" not in attrs, "Secure on plain HTTP")
expect(r.getheader("Cache-Control") == "no-store", "session answer cacheable")
C = {"Cookie": "theme=dark; djs_session=" + sess + "; other=1"}
st, r, j = req("GET", "/api/v1/session", headers=C)
expect(st == 200 and j["sub"] == "root", f"GET session: {st} {j}")
st, r, j = req("GET", "/api/v1/workers", headers=C)
expect(st == 200, f"cookie read: {st} {j}")
job = {"name": "cookie-job", "payload": {"command": "/bin/true"}}
problem(*req("POST", "/api/v1/jobs", job, headers=C), 403, "csrf")
st, r, j = req("POST", "/api/v1/jobs", job, headers={**C, "X-DJS-CSRF": "1", "Origin": "http://evil.example"})
problem(st, r, j, 403, "cross-origin")
st, r, j = req("POST", "/api/v1/jobs", job, headers={**C, "X-DJS-CSRF": "1", "Origin": url.rstrip("/")})
expect(st == 201, f"cookie write: {st} {j}")
admin_job = j["id"]
# a bearer token needs no CSRF header (no browser sends it by itself)
st, r, j = req("POST", "/api/v1/jobs", job, headers={"Authorization": "Bearer " + admin})
expect(st == 201, f"bearer write: {st} {j}")
problem(*req("GET", "/api/v1/jobs", headers={"Cookie": "djs_session=garbage"}), 401, "unauthorized")

# the login code: once
st, r, j = req("POST", "/api/v1/session", {"code": code})
expect(st == 200 and j["sub"] == "alice" and j["role"] == "user", f"code login: {st} {j}")
usess, attrs = cookie_of(r)
expect(usess != code, "the session is a new token, not the code")
expect(43000 <= int(attrs["max-age"]) <= 43200, f"code session max-age {attrs}")
problem(*req("POST", "/api/v1/session", {"code": code}), 401, "login-code-used")
U = {"Cookie": "djs_session=" + usess}
problem(*req("GET", "/api/v1/workers", headers=U), 403, "forbidden")
st, r, j = req("POST", "/api/v1/jobs", {"name": "alice-job", "payload": {"command": "/bin/true"}}, headers={**U, "X-DJS-CSRF": "1"})
expect(st == 201, f"user write: {st} {j}")
st, r, j = req("GET", "/api/v1/jobs?limit=100", headers=U)
names = {x["name"] for x in j["jobs"]}
expect(names == {"alice-job"}, f"a user sees only its jobs: {names}")
problem(*req("GET", f"/api/v1/jobs/{admin_job}", headers=U), 404, "not-found")

async def ws():
    W = f"ws://{host}:{port}"
    ok = await websockets.connect(f"{W}/ws/job-updates?from_seq=1", extra_headers=[("Cookie", "djs_session=" + usess)], origin=url.rstrip("/"))
    hello = json.loads(await asyncio.wait_for(ok.recv(), 5))
    expect(hello["type"] == "hello", f"hello {hello}")
    seen = set()
    while True:
        m = json.loads(await asyncio.wait_for(ok.recv(), 5))
        seen.add(m["name"])
        if m["name"] == "alice-job":
            break
    expect(seen == {"alice-job"}, f"the user's stream shows other jobs: {seen}")
    await ok.close()
    try:
        await websockets.connect(f"{W}/ws/job-updates", extra_headers=[("Cookie", "djs_session=" + usess)], origin="http://evil.example")
        expect(False, "cross-origin WebSocket with the cookie accepted")
    except websockets.exceptions.InvalidStatusCode as e:
        expect(e.status_code == 403, f"cross-origin ws: {e.status_code}")
    try:
        await websockets.connect(f"{W}/ws/events", extra_headers=[("Cookie", "djs_session=" + usess)], origin=url.rstrip("/"))
        expect(False, "a user's cookie opened /ws/events")
    except websockets.exceptions.InvalidStatusCode as e:
        expect(e.status_code == 403, f"user /ws/events: {e.status_code}")
asyncio.run(ws())

# the second code still works (codes are independent), then logout
st, r, j = req("POST", "/api/v1/session", {"code": code2})
expect(st == 200 and j["sub"] == "bob", f"second code: {st} {j}")
problem(*req("DELETE", "/api/v1/session", headers=U), 403, "csrf")
st, r, j = req("DELETE", "/api/v1/session", headers={**U, "X-DJS-CSRF": "1"})
expect(st == 204, f"logout: {st} {j}")
v, attrs = cookie_of(r)
expect(v == "" and attrs["max-age"] == "0", f"logout cookie {v} {attrs}")
print("session checks passed")
PYEOF

# without authentication the session says so (the dashboard still works)
djs_stop_server
djs_listen
djs_serve --data "$T/noauth" --listen "127.0.0.1:$port" --insecure-no-auth
djs_wait_ready "no-auth serve did not answer" curl -sf -m 2 "$URL/health"
out=$(curl -s "$URL/api/v1/session")
echo "$out" | grep -q '"role":"admin"' || fail "no-auth session: $out"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d '{"token":"x"}' "$URL/api/v1/session")
[ "$code" = 200 ] || fail "no-auth POST session: $code"
echo "session: ok"
