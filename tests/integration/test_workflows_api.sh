#!/usr/bin/env bash
# What the dashboard's views read (docs/openapi.yaml): GET /api/v1/workflows
# (counts by status, overall status, pages, at_seq, a user's own only),
# GET /jobs?workflow= and ?worker= (with dependencies, startedAt,
# finishedAt and seq in each item), and /ws/events?types= with the comma
# percent-encoded as browsers send it; GET /api/v1/metrics/history.
set -euo pipefail
DJS=${1:?usage: test_workflows_api.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init workflows_api
djs_start_server --dev
# the local agents are the server's children: the cleanup's kill -9 of the server leaves them behind
djs_at_exit "pkill -9 -f 'worker --server $URL' 2>/dev/null || true"
ADMIN=$(djs_token root admin)
AUTH=(-H "Authorization: Bearer $ADMIN")
ALICE=$(djs_token alice user)
P=$(djs_exec_payload 'true')
SLOW=$(djs_exec_payload 'sleep 30')
djs_submit "{\"jobs\":[{\"key\":\"a\",\"name\":\"wf1-a\",\"payload\":$P},{\"key\":\"b\",\"name\":\"wf1-b\",\"dependsOn\":[\"a\"],\"payload\":$P}]}"
wf1_last=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][1]["id"])' "$T/sub")
djs_wait_status "$wf1_last" COMPLETED 20
seq_done=$(curl -s "${AUTH[@]}" "$URL/api/v1/state" | $PY -c 'import json,sys; print(json.load(sys.stdin)["applied_seq"])')
djs_submit "{\"jobs\":[{\"key\":\"s\",\"name\":\"wf2-slow\",\"payload\":$SLOW},{\"key\":\"t\",\"name\":\"wf2-next\",\"dependsOn\":[\"s\"],\"payload\":$P}]}"
slow=$id
djs_wait_status "$slow" RUNNING 20
curl -s -H "Authorization: Bearer $ALICE" -H 'content-type: application/json' \
    -d "{\"jobs\":[{\"key\":\"x\",\"name\":\"alice-wf\",\"payload\":$P},{\"key\":\"y\",\"name\":\"alice-y\",\"dependsOn\":[\"x\"],\"payload\":$P}]}" "$URL/api/v1/jobs" | grep -q ACCEPTED || fail "alice could not submit"

$PY - "$URL" "$ADMIN" "$ALICE" "$slow" "$seq_done" <<'PYEOF'
import asyncio, json, sys, urllib.request, urllib.error
import websockets
url, admin, alice, slow, seq_done = sys.argv[1:6]
def get(path, tok=admin):
    r = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + tok})
    try:
        with urllib.request.urlopen(r, timeout=10) as f:
            return f.status, json.load(f)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
def expect(c, what):
    if not c:
        print("FAIL:", what, file=sys.stderr); sys.exit(1)
st, w = get("/api/v1/workflows")
expect(st == 200 and len(w["workflows"]) == 3, f"workflows: {st} {w}")
by = {x["name"]: x for x in w["workflows"]}
expect(by["wf1-a"]["status"] == "COMPLETED" and by["wf1-a"]["counts"] == {"COMPLETED": 2} and by["wf1-a"]["jobs"] == 2, f"wf1 {by}")
expect(by["wf2-slow"]["status"] == "RUNNING" and by["wf2-slow"]["counts"] == {"RUNNING": 1, "CREATED": 1}, f"wf2 {by['wf2-slow']}")
names = [x["name"] for x in w["workflows"]]
expect(names == ["wf1-a", "wf2-slow", "alice-wf"], f"oldest first: {names}")
st, p1 = get("/api/v1/workflows?limit=1")
expect(len(p1["workflows"]) == 1 and p1["next"] == p1["workflows"][0]["id"], f"page 1 {p1}")
st, p2 = get("/api/v1/workflows?limit=2&cursor=" + p1["next"])
expect([x["name"] for x in p2["workflows"]] == ["wf2-slow", "alice-wf"] and p2["next"] is None, f"page 2 {p2}")
st, a = get("/api/v1/workflows", alice)
expect(st == 200 and [x["name"] for x in a["workflows"]] == ["alice-wf"], f"a user's own: {a}")
st, old = get(f"/api/v1/workflows?at_seq={seq_done}")
expect([x["name"] for x in old["workflows"]] == ["wf1-a"], f"at_seq {old}")
st, e = get("/api/v1/workflows?limit=0")
expect(st == 400, f"limit 0: {st}")
st, e = get("/api/v1/workflows?cursor=nope")
expect(st == 400, f"bad cursor: {st}")
wf2 = by["wf2-slow"]["id"]
st, j = get("/api/v1/jobs?workflow=" + wf2)
expect([x["name"] for x in j["jobs"]] == ["wf2-slow", "wf2-next"], f"jobs?workflow {j}")
expect(j["jobs"][1]["dependencies"] == [slow] and j["jobs"][0]["startedAt"] and j["jobs"][0]["finishedAt"] is None
       and isinstance(j["jobs"][0]["seq"], int) and j["jobs"][0]["workflow"] == wf2, f"items {j['jobs']}")
worker = j["jobs"][0]["assignedWorker"]
st, j = get("/api/v1/jobs?worker=" + worker)
expect([x["name"] for x in j["jobs"]] == ["wf2-slow"], f"jobs?worker {j}")
st, j = get("/api/v1/jobs?worker=01a24933-0fb5-73f0-9fff-b7b99c85456e")
expect(st == 200 and j["jobs"] == [], f"unknown worker {j}")
st, e = get("/api/v1/jobs?workflow=x")
expect(st == 400 and "workflow" in e["detail"], f"bad workflow {st} {e}")
async def ws():
    h = [("Authorization", "Bearer " + admin)]
    w = await websockets.connect(url.replace("http", "ws") + "/ws/events?from_seq=1&types=job.submitted%2cjob.succeeded", extra_headers=h)
    await w.recv()
    seen = set()
    for _ in range(6):
        seen.add(json.loads(await asyncio.wait_for(w.recv(), 5))["type"])
    expect(seen == {"job.submitted", "job.succeeded"}, f"types %2c {seen}")
asyncio.run(ws())
st, h = get("/api/v1/metrics/history?seconds=5")
expect(st == 200 and h["intervalMs"] == 1000 and 1 <= len(h["samples"]) <= 5, f"history {st} {h}")
last = h["samples"][-1]
expect(last["type"] == "metrics" and "submittedPerSec" in last and "sampledAt" in last and last["running"] == 1, f"sample {last}")
st, h = get("/api/v1/metrics/history?seconds=3601")
expect(st == 400, f"history seconds 3601: {st}")
st, h = get("/api/v1/metrics/history", alice)
expect(st == 403, f"a user reads the history: {st}")
print("workflows api checks passed")
PYEOF
echo "workflows_api: ok"
