#!/usr/bin/env bash
# djs replay export / import end to end: a real server and a real agent
# producing output (a workflow, a retried failure, a cancel, a capped
# flood), exports of both encodings taken while jobs keep coming, imported
# into new directories that verify; re-exports byte for byte identical
# from the source and the imports; equal rebuild digests; refusals of a
# filtered, a tampered and a truncated export; and djs serve on an
# imported directory serving a job's output.
set -euo pipefail
DJS=${1:?usage: test_export_import.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init export
t_start=$(date +%s)

mkdir -p "$T/wd"
djs_start_server --heartbeat-interval 1
ADMIN=$(djs_token admin admin)
TW=$(djs_token wa worker)
AUTH=(-H "Authorization: Bearer $ADMIN")
"$DJS" worker --server "$URL" --token "$TW" --name wa --slots 4 --workdir "$T/wd" --heartbeat 0.3 >>"$T/wa.out" 2>&1 &
for _ in $(seq 100); do
    grep -q "registered as" "$T/wa.out" 2>/dev/null && break
    sleep 0.1
done
grep -q "registered as" "$T/wa.out" || fail "the agent did not register"

echo "== a workload: output, a workflow, a retried failure, a cancel, a flood"
djs_submit "{\"name\":\"out\",\"payload\":$(djs_exec_payload 'echo one; echo two >&2; printf "caf\303\251 \\000 bin\\n"; echo three')}"
out=$id
djs_submit "{\"jobs\":[{\"key\":\"a\",\"name\":\"A\",\"payload\":$(djs_exec_payload 'echo a')},{\"key\":\"b\",\"name\":\"B\",\"dependsOn\":[\"a\"],\"payload\":$(djs_exec_payload 'echo b')},{\"key\":\"c\",\"name\":\"C\",\"dependsOn\":[\"a\",\"b\"],\"payload\":$(djs_exec_payload 'echo c')}]}"
wf=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][2]["id"])' "$T/sub")
djs_submit "{\"name\":\"bad\",\"maxRetries\":1,\"payload\":$(djs_exec_payload 'echo trying; exit 3')}"
bad=$id
djs_submit "{\"name\":\"slow\",\"payload\":$(djs_exec_payload 'sleep 30')}"
slow=$id
djs_submit "{\"name\":\"flood\",\"payload\":$(djs_exec_payload 'head -c 1500000 /dev/zero | tr "\0" x; echo')}"
flood=$id
djs_wait_status "$slow" RUNNING 15
[ "$(djs_api -o /dev/null -w '%{http_code}' -X POST "$URL/api/v1/jobs/$slow/cancel")" = 200 ] || fail "cancel"
djs_wait_status "$out" COMPLETED 15
djs_wait_status "$wf" COMPLETED 20
djs_wait_status "$bad" FAILED 20
djs_wait_status "$flood" COMPLETED 30

# more jobs keep coming while the exports run
(
    for i in $(seq 200); do
        djs_api -o /dev/null -H 'content-type: application/json' \
            --data-binary "{\"name\":\"bg$i\",\"payload\":$(djs_exec_payload "echo bg $i")}" "$URL/api/v1/jobs" || true
        sleep 0.02
    done
) &
bg=$!

echo "== export while the server runs (both encodings)"
sleep 0.5
"$DJS" replay export "$T/data" --format jsonl -o "$T/live.jsonl" 2>"$T/exp1.err" || fail "live export jsonl: $(cat "$T/exp1.err")"
"$DJS" replay export "$T/data" --format msgpack >"$T/live.mp" 2>"$T/exp2.err" || fail "live export msgpack: $(cat "$T/exp2.err")"
grep -q "complete (importable)" "$T/exp1.err" || fail "export summary: $(cat "$T/exp1.err")"
grep -q "export: .* records (100%)" "$T/exp1.err" || fail "no progress lines: $(cat "$T/exp1.err")"
head -1 "$T/live.jsonl" | $PY -c 'import json,sys; h=json.load(sys.stdin); assert h["format"]=="djs-export" and h["complete"] and h["first_seq"]==1, h'
# every event line is the stream rendering plus hash and rec
$PY - "$T/live.jsonl" "$out" <<'PY' || fail "jsonl lines"
import base64, json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert "end" in lines[-1], lines[-1]
ev = [l for l in lines if "rec" in l]
assert lines[-1]["events"] == len(ev) and lines[-1]["last_seq"] == ev[-1]["seq"]
assert [e["seq"] for e in ev] == list(range(1, len(ev) + 1))
for e in ev:
    assert set(e) == {"seq", "type", "at", "actor", "entity", "body", "hash", "rec"}, e
    assert len(e["hash"]) == 64 and base64.b64decode(e["rec"])[-32:].hex() == e["hash"]
outs = [l for l in lines if "output" in l and l["job"] == sys.argv[2]]
data = b"".join(base64.b64decode(o["data"]) for o in outs)
assert b"one\n" in data and b"three\n" in data, data
PY
wait "$bg" || true
# the rendering matches the events stream's: GET /events shows the same text for a record
seq3=$(sed -n 4p "$T/live.jsonl" | $PY -c 'import json,sys; e=json.load(sys.stdin); del e["hash"], e["rec"]; print(json.dumps(e, separators=(",",":"), ensure_ascii=False))')
djs_get "events?from_seq=3&limit=1" | $PY -c '
import json,sys
want = json.loads(sys.argv[1])
got = json.load(sys.stdin)["events"][0]
assert got == want, (got, want)' "$seq3" || fail "export line differs from GET /events"

# ... and byte for byte the text /ws/events sends (the same core/jtext rendering)
$PY - "$T/live.jsonl" "$port" "$ADMIN" <<'PY' || fail "export lines differ from /ws/events frames"
import asyncio, json, sys, websockets
lines = [l for l in open(sys.argv[1], "rb").read().split(b"\n") if b'"rec":"' in l][:40]
want = [l[: l.rindex(b',"hash":"')] + b"}" for l in lines]
async def main():
    ws = await websockets.connect(f"ws://127.0.0.1:{sys.argv[2]}/ws/events?from_seq=1",
                                  extra_headers=[("Authorization", f"Bearer {sys.argv[3]}")], max_size=None, open_timeout=10)
    got = []
    while len(got) < len(want):
        m = await asyncio.wait_for(ws.recv(), 10)
        m = m.encode() if isinstance(m, str) else m
        if m.startswith(b'{"seq":'):
            got.append(m)
    await ws.close()
    for g, w in zip(got, want):
        assert g == w, (g, w)
asyncio.run(main())
PY

echo "== import both, verify, rebuild"
"$DJS" replay import "$T/live.jsonl" "$T/imp_j" >"$T/imp_j.out" 2>&1 || fail "import jsonl: $(cat "$T/imp_j.out")"
"$DJS" replay import - "$T/imp_m" <"$T/live.mp" >"$T/imp_m.out" 2>&1 || fail "import msgpack: $(cat "$T/imp_m.out")"
"$DJS" replay verify "$T/imp_j" >"$T/v.out" || fail "verify imp_j: $(cat "$T/v.out")"
"$DJS" replay verify "$T/imp_m" >"$T/v.out" || fail "verify imp_m: $(cat "$T/v.out")"
last_j=$(tail -1 "$T/live.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["last_seq"])')
last_m=$(grep -o 'seqs 1\.\.[0-9]*' "$T/imp_m.out" | cut -d. -f3)
[ -n "$last_m" ] || fail "import output: $(cat "$T/imp_m.out")"

echo "== re-exports are byte for byte the same, from the source and from the imports"
for f in jsonl msgpack; do
    "$DJS" replay export "$T/imp_j" --format $f -o "$T/re_j.$f" 2>/dev/null || fail "re-export imp_j $f"
    "$DJS" replay export "$T/data" --format $f --to "$last_j" -o "$T/src_j.$f" 2>/dev/null || fail "export data --to $last_j $f"
    cmp "$T/re_j.$f" "$T/src_j.$f" || fail "imp_j $f re-export differs from the source's"
    "$DJS" replay export "$T/imp_m" --format $f -o "$T/re_m.$f" 2>/dev/null || fail "re-export imp_m $f"
    "$DJS" replay export "$T/data" --format $f --to "$last_m" -o "$T/src_m.$f" 2>/dev/null || fail "export data --to $last_m $f"
    cmp "$T/re_m.$f" "$T/src_m.$f" || fail "imp_m $f re-export differs from the source's"
done
cmp "$T/re_j.jsonl" "$T/live.jsonl" || fail "the live jsonl export and its import's re-export differ"
cmp "$T/re_m.msgpack" "$T/live.mp" || fail "the live msgpack export and its import's re-export differ"

echo "== refusals: filtered, tampered, truncated, into a used directory"
"$DJS" replay export "$T/data" --format jsonl --types job.output,job.failed -o "$T/filtered.jsonl" 2>/dev/null
if "$DJS" replay import "$T/filtered.jsonl" "$T/nope" 2>"$T/e.err"; then fail "a filtered export was imported"; fi
grep -q "a filtered export" "$T/e.err" || fail "filtered message: $(cat "$T/e.err")"
"$DJS" replay export "$T/data" --format jsonl --entity "$out" -o "$T/one.jsonl" 2>/dev/null
$PY -c 'import json,sys; ev=[json.loads(l) for l in open(sys.argv[1])][1:-1]; r=[e for e in ev if "rec" in e]; assert r and all(e["entity"]==sys.argv[2] for e in r), ev' "$T/one.jsonl" "$out" ||
    fail "--entity export"
at10=$(sed -n 11p "$T/live.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["at"])')
at20=$(sed -n 21p "$T/live.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["at"])')
"$DJS" replay export "$T/data" --format jsonl --from "$at10" --to "$at20" -o "$T/time.jsonl" 2>/dev/null || fail "export by time"
$PY -c '
import json,sys
ev=[json.loads(l) for l in open(sys.argv[1])]
r=[e for e in ev if "rec" in e]
assert r and 10 in [e["seq"] for e in r] and all(sys.argv[2] <= e["at"] <= sys.argv[3] for e in r), r
assert ev[0]["complete"] == (r[0]["seq"] == 1)' "$T/time.jsonl" "$at10" "$at20" || fail "--from/--to TIME: $(cat "$T/time.jsonl")"
sed '6s/"seq":5,/"seq":6,/' "$T/live.jsonl" >"$T/tampered.jsonl"
if "$DJS" replay import "$T/tampered.jsonl" "$T/nope" 2>"$T/e.err"; then fail "a tampered export was imported"; fi
grep -q "line 6: the line says seq 6 but its rec is record 5" "$T/e.err" || fail "tampered message: $(cat "$T/e.err")"
head -c $(($(stat -c %s "$T/live.mp") - 100)) "$T/live.mp" >"$T/cut.mp"
if "$DJS" replay import "$T/cut.mp" "$T/nope" 2>"$T/e.err"; then fail "a truncated export was imported"; fi
grep -q "cut short" "$T/e.err" || fail "truncated message: $(cat "$T/e.err")"
if "$DJS" replay import "$T/live.jsonl" "$T/imp_j" 2>"$T/e.err"; then fail "imported over a log"; fi
grep -q "already holds a log" "$T/e.err" || fail "used directory message: $(cat "$T/e.err")"
[ ! -e "$T/nope" ] && [ -z "$(ls -d "$T"/*.tmp-* 2>/dev/null)" ] || fail "a refused import left something: $(ls "$T")"

echo "== the whole log after the server stops: equal digests; the import serves"
djs_get "jobs/$out/logs" >"$T/logs_src"
grep -q three "$T/logs_src" || fail "logs of job out: $(cat "$T/logs_src")"
djs_stop_server
"$DJS" replay export "$T/data" --format msgpack -o "$T/all.mp" 2>/dev/null || fail "final export"
"$DJS" replay import "$T/all.mp" "$T/imp_all" >"$T/imp_all.out" || fail "final import"
d_src=$("$DJS" replay rebuild "$T/data" | grep -o 'state digest [0-9a-f]*')
d_imp=$("$DJS" replay rebuild "$T/imp_all" | grep -o 'state digest [0-9a-f]*')
[ -n "$d_src" ] && [ "$d_src" = "$d_imp" ] || fail "rebuild digests: '$d_src' vs '$d_imp'"
grep -q "$d_src" "$T/imp_all.out" || fail "import's digest is not the rebuild's: $(cat "$T/imp_all.out")"
port=""
djs_listen
djs_serve --data "$T/imp_all" --listen "127.0.0.1:$port"
djs_wait_ready "serve on the import did not answer" curl -sf -m 2 "$URL/health"
AUTH=(-H "Authorization: Bearer $(djs_token admin admin "$T/imp_all")")
[ "$(djs_jfield "$out" '["status"]')" = COMPLETED ] || fail "the imported server does not know job out"
djs_get "jobs/$out/logs" >"$T/logs_imp"
cmp "$T/logs_imp" "$T/logs_src" || fail "logs of job out on the imported server: $(od -c "$T/logs_imp" | head)"
djs_get "jobs/$flood/logs?offset=1048000&limit=65536" | grep -q "output truncated" || fail "the flood's capped output and marker on the imported server"
djs_stop_server
"$DJS" replay verify "$T/imp_all" >/dev/null || fail "imp_all no longer verifies after serving"

echo "ok: test_export_import in $(($(date +%s) - t_start)) s"
