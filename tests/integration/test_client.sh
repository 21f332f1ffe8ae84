#!/usr/bin/env bash
# The CLI client subcommands (djs submit, jobs, job, cancel, retry, delete,
# history, logs, workers, stats, events) against the real djs serve: table
# and JSON output, DJS_SERVER / DJS_TOKEN, YAML and JSON files, workflows,
# time travel, following logs, TLS options, and every error as one line
# with the right exit code (1 refused or unreachable, 2 usage). The worker
# side (register, poll, start, output, complete, fail) is played with curl.
set -euo pipefail
DJS=${1:?usage: test_client.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init client
DJS_LOG_TAIL=20
tpid="" # the TLS server, next to the main one ($pid)

djs_start_server
TOKEN=$(djs_token admin admin)
export DJS_SERVER="$URL" DJS_TOKEN="$TOKEN"

# run ARGS...: djs with stdout in $T/out, stderr in $T/err, exit code in $rc
run() {
    set +e
    "$DJS" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
}
# ok ARGS...: must exit 0; $out is its stdout
ok() {
    run "$@"
    [ $rc -eq 0 ] || fail "djs $*: exit $rc: $(cat "$T/err")"
    out=$(cat "$T/out")
}
# refused EXIT PATTERN ARGS...: exit EXIT, one line on stderr matching PATTERN, nothing on stdout
refused() {
    local want=$1 pat=$2
    shift 2
    run "$@"
    [ $rc -eq "$want" ] || fail "djs $*: expected exit $want, got $rc: $(cat "$T/err")"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "djs $*: expected one line on stderr, got: $(cat "$T/err")"
    grep -q -- "$pat" "$T/err" || fail "djs $*: stderr should match '$pat': $(cat "$T/err")"
    [ ! -s "$T/out" ] || fail "djs $*: expected nothing on stdout: $(cat "$T/out")"
}
# jf EXPR: a field of the JSON on stdout, e.g. jf '["id"]'
jf() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$1)" "$T/out"; }
# jx EXPR: a Python expression over that JSON, d, e.g. jx 'len(d["jobs"])'
jx() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/out"; }
uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
# worker side, with curl: wpost PATH [BODY] -> $body
wpost() {
    body=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' --data-binary "${2:-}" "$URL$1") ||
        fail "worker call $1 failed"
}
wfield() { echo "$body" | $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# ---- help and usage errors (exit 2, one line) ----------------------------------
ok help
helptext=$out
for c in submit jobs job cancel retry delete history logs workers stats events; do
    echo "$helptext" | grep -q "^  $c " || fail "djs help must list $c"
    ok "$c" --help
    echo "$out" | grep -q "^usage: djs $c" || fail "djs $c --help"
done
refused 2 "unknown option" jobs --bogus
refused 2 "missing --name" submit
refused 2 "missing the ID" job
refused 2 "not an id" job not-a-uuid
refused 2 "not an id" cancel 12345
refused 2 "unexpected argument" stats extra
refused 2 "--priority takes" submit --name x --priority URGENT
refused 2 "--payload must be a JSON object" submit --name x --payload '[1]'
refused 2 "not both" submit --name x --payload '{}' --cmd true
refused 2 "--timeout takes" submit --name x --timeout soon
refused 2 "not an id" submit --name x --depends-on nope
refused 2 "no --name" submit -f "$T/x.json" --name x
refused 2 "-o takes" jobs -o yaml
refused 2 "--limit takes" jobs --limit 0
refused 2 "--limit takes" jobs --limit 501
refused 2 "--status takes" jobs --status SLEEPING
refused 2 "not both" stats --as-of 2026-01-01T00:00:00Z --at-seq 1
refused 2 "--at-seq takes" stats --at-seq -1
refused 2 "--server must be" stats --server ftp://example.com
refused 2 "unknown option" cancel --at-seq 1 01890a5d-ac96-774b-bcce-b302099a8057
refused 2 "--idempotency-key" submit --name x --idempotency-key "a b"

# ---- connection and auth failures (exit 1, one line) ----------------------------
dead=$(djs_free_port)
refused 1 "cannot reach http://127.0.0.1:$dead" stats --server "http://127.0.0.1:$dead"
refused 1 "cannot reach http://127.0.0.1:$dead" submit --name x --server "http://127.0.0.1:$dead"
run_no_token() {
    set +e
    env -u DJS_TOKEN "$DJS" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
    [ $rc -eq 1 ] || fail "without a token, djs $* must exit 1 (got $rc)"
    [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^djs: 401 Unauthorized: " "$T/err" || fail "no token: one 401 line: $(cat "$T/err")"
}
run_no_token jobs
run_no_token submit --name x
refused 1 "^djs: 401 Unauthorized: " stats --token not.a.jwt
USER_TOKEN=$(djs_token alice user)
refused 1 "^djs: 403 Forbidden: " stats --token "$USER_TOKEN"

# ---- submit from flags, the env variables and the flags that override them ------
ok submit --name hello --priority high --cmd 'echo hi' --retries 2 --timeout 60 --description "first job"
hello=$out
[[ $hello =~ $uuid_re ]] || fail "submit prints the id, got '$hello'"
ok job "$hello" -o json
[ "$(jf '["name"]')" = hello ] && [ "$(jf '["priority"]')" = HIGH ] && [ "$(jf '["maxRetries"]')" = 2 ] &&
    [ "$(jf '["timeoutSeconds"]')" = 60 ] && [ "$(jf '["description"]')" = "first job" ] || fail "job fields: $(cat "$T/out")"
ok events --entity "$hello" --type job.submitted -o json
[ "$(jf '["events"][0]["body"]["payload"]')" = "{'kind': 'exec', 'command': '/bin/sh', 'args': ['-c', 'echo hi']}" ] ||
    fail "--cmd payload: $(cat "$T/out")"
# flags beat the environment
set +e
DJS_SERVER="http://127.0.0.1:$dead" DJS_TOKEN=bogus "$DJS" job "$hello" --server "$URL" --token "$TOKEN" >"$T/out" 2>"$T/err"
[ $? -eq 0 ] || fail "--server/--token must override DJS_SERVER/DJS_TOKEN: $(cat "$T/err")"
DJS_SERVER="http://127.0.0.1:$dead" "$DJS" job "$hello" >/dev/null 2>"$T/err"
[ $? -eq 1 ] && grep -q "cannot reach http://127.0.0.1:$dead" "$T/err" || fail "DJS_SERVER must be used"
set -e
ok submit --name after --depends-on "$hello" --requires gpu --payload '{"kind":"exec","command":"true"}' -o json
after=$(jf '["id"]')
[ "$(jf '["status"]')" = ACCEPTED ] && [ "$(jf '["seq"]')" -gt 0 ] || fail "submit -o json: $(cat "$T/out")"
ok job "$after" -o json
[ "$(jf '["dependencies"]')" = "['$hello']" ] && [ "$(jf '["status"]')" = CREATED ] || fail "dependency: $(cat "$T/out")"
# idempotency: the same key gives the same job, EXISTS the second time
ok submit --name once --idempotency-key k-1
once=$out
ok submit --name once --idempotency-key k-1 -o json
[ "$(jf '["id"]')" = "$once" ] && [ "$(jf '["status"]')" = EXISTS ] || fail "idempotent submit: $(cat "$T/out")"
# the server's own refusals, one line each
refused 1 "^djs: 404 Not Found: " submit --name orphan --depends-on 01890a5d-ac96-774b-bcce-b302099a8057
refused 1 "^djs: 422 " submit --name ""

# ---- submit from files: YAML, JSON, stdin, workflows -----------------------------
cat >"$T/job.yaml" <<'EOF'
# a job in YAML
name: nightly-report
priority: LOW
timeoutSeconds: 600
maxRetries: 3
requiredCapabilities: [linux, "py3"]
payload:
  kind: exec
  command: /bin/sh
  args: ["-c", "echo 'report: done'"]
  env: {A: "1", B: 2, C: null, D: true, E: 1.5, F: "007", G: 0x1f}
  script: |
    line one
    line two
EOF
ok submit -f "$T/job.yaml"
yjob=$out
[[ $yjob =~ $uuid_re ]] || fail "submit -f job.yaml prints the id, got '$yjob'"
ok job "$yjob" -o json
[ "$(jf '["name"]')" = nightly-report ] && [ "$(jf '["priority"]')" = LOW ] && [ "$(jf '["maxRetries"]')" = 3 ] ||
    fail "YAML job fields: $(cat "$T/out")"
ok events --entity "$yjob" -o json
[ "$(jf '["events"][0]["body"]["payload"]["env"]')" = "{'A': '1', 'B': 2, 'C': None, 'D': True, 'E': 1.5, 'F': '007', 'G': 31}" ] ||
    fail "YAML scalar types: $(cat "$T/out")"
[ "$(jf '["events"][0]["body"]["payload"]["script"]')" = "$(printf 'line one\nline two')" ] || fail "YAML block scalar"
echo '{"name":"from-stdin-json","priority":"HIGH"}' | "$DJS" submit -f - >"$T/out" || fail "submit -f - (JSON)"
grep -Eq "$uuid_re" "$T/out" || fail "stdin JSON id"
printf 'name: from-stdin-yaml\n' | "$DJS" submit -f - >"$T/out" || fail "submit -f - (YAML)"
grep -Eq "$uuid_re" "$T/out" || fail "stdin YAML id"
printf 'name: x\nalias: &a 1\nagain: *a\n' >"$T/alias.yaml"
refused 1 "aliases" submit -f "$T/alias.yaml"
printf '{"name": "x", "name": "y"}' >"$T/dup.json"
refused 1 "duplicate" submit -f "$T/dup.json"
printf 'name: x\n---\nname: y\n' >"$T/two.yaml"
refused 1 "one YAML document" submit -f "$T/two.yaml"
printf '[1, 2]\n' >"$T/list.json"
refused 1 "must hold one job" submit -f "$T/list.json"
refused 1 "cannot open" submit -f "$T/missing.yaml"
printf 'name: x\nbogus: 1\n' >"$T/unknown.yaml"
refused 1 "^djs: 400 Unknown field: " submit -f "$T/unknown.yaml"
# a workflow: jobs that depend on each other by key (JSON, then YAML)
cat >"$T/wf.json" <<'EOF'
{"jobs": [
  {"key": "extract", "name": "wf-extract", "priority": "HIGH"},
  {"key": "transform", "name": "wf-transform", "dependsOn": ["extract"]},
  {"key": "load", "name": "wf-load", "dependsOn": ["transform"], "maxRetries": 1}
]}
EOF
ok submit -f "$T/wf.json"
[ "$(echo "$out" | head -1 | tr -s ' ')" = "KEY ID" ] || fail "workflow table header: $out"
echo "$out" | grep -Eq "^extract +[0-9a-f-]{36}$" && echo "$out" | grep -Eq "^load +[0-9a-f-]{36}$" || fail "workflow keys and ids: $out"
wf_load=$(echo "$out" | awk '$1=="load"{print $2}')
ok job "$wf_load" -o json
[ "$(jf '["status"]')" = CREATED ] && [ "$(jf '["name"]')" = wf-load ] || fail "workflow job waits: $(cat "$T/out")"
cat >"$T/wf.yaml" <<'EOF'
jobs:
  - key: a
    name: wf2-a
  - key: b
    name: wf2-b
    dependsOn: [a]
EOF
ok submit -f "$T/wf.yaml" -o json --idempotency-key wf-2
[ "$(jf '["status"]')" = ACCEPTED ] && [ "$(jx '[k["key"] for k in d["jobs"]]')" = "['a', 'b']" ] || fail "workflow JSON: $(cat "$T/out")"
first=$(jf '["jobs"][0]["id"]')
ok submit -f "$T/wf.yaml" -o json --idempotency-key wf-2
# (the replay answers EXISTS with the first job's id, or the whole key/id list)
[ "$(jf '["status"]')" = EXISTS ] && [ "$(jx 'd["jobs"][0]["id"] if "jobs" in d else d["id"]')" = "$first" ] ||
    fail "workflow replay: $(cat "$T/out")"
printf '{"jobs":[{"key":"a","name":"c1","dependsOn":["b"]},{"key":"b","name":"c2","dependsOn":["a"]}]}' >"$T/cycle.json"
refused 1 "^djs: 409 " submit -f "$T/cycle.json"

# ---- jobs: table, JSON, filters, pages ---------------------------------------------
ok jobs
[ "$(echo "$out" | head -1 | tr -s ' ')" = "ID NAME STATUS PRIORITY ATTEMPT WORKER CREATED" ] || fail "jobs header: $out"
echo "$out" | grep -Eq "^$hello +hello +QUEUED +HIGH +0 +- +20[0-9-]+T" || fail "jobs row: $out"
total=$(($(echo "$out" | wc -l) - 1))
[ "$total" -ge 10 ] || fail "expected at least 10 jobs, got $total"
ok jobs -o json
[ "$(jx 'len(d["jobs"])')" = "$total" ] && [ "$(jf '["next"]')" = None ] || fail "jobs -o json"
ok jobs --limit 2
[ "$(echo "$out" | wc -l)" = 3 ] && grep -q "more: djs jobs --all" "$T/err" || fail "one page of 2"
ok jobs --limit 2 --all -o json
[ "$(jx 'len(d["jobs"])')" = "$total" ] || fail "--all follows the cursors"
ok jobs --status created -o json
[ "$(jx '[j["status"] for j in d["jobs"]].count("CREATED")')" = "$(jx 'len(d["jobs"])')" ] && [ "$(jx 'len(d["jobs"])')" -ge 3 ] ||
    fail "--status: $(cat "$T/out")"
ok jobs --priority LOW -o json
[ "$(jx '[j["name"] for j in d["jobs"]]')" = "['nightly-report']" ] || fail "--priority: $(cat "$T/out")"
ok jobs --owner nobody -o json
[ "$(jf '["jobs"]')" = "[]" ] || fail "--owner"
ok jobs --name-prefix wf- -o json
[ "$(jx '[j["name"] for j in d["jobs"]]')" = "['wf-extract', 'wf-transform', 'wf-load']" ] || fail "--name-prefix: $(cat "$T/out")"
ok jobs --capability gpu
ok jobs --at-seq 3

# ---- a worker runs jobs (curl), the client watches --------------------------------
ok cancel "$hello"
[ "$out" = "$hello CANCELLED" ] || fail "cancel prints id and status: $out"
refused 1 "^djs: 409 Conflict: " cancel "$hello"
refused 1 "^djs: 404 Not Found: " job 01890a5d-ac96-774b-bcce-b302099a8057
refused 1 "^djs: 404 Not Found: " cancel 01890a5d-ac96-774b-bcce-b302099a8057
refused 1 "^djs: 404 Not Found: " history 01890a5d-ac96-774b-bcce-b302099a8057
refused 1 "^djs: 404 Not Found: " logs 01890a5d-ac96-774b-bcce-b302099a8057
# cancel everything still waiting so the worker receives only the job below
for j in $("$DJS" jobs --all -o json | $PY -c 'import json,sys; print(" ".join(j["id"] for j in json.load(sys.stdin)["jobs"] if j["status"] in ("CREATED","QUEUED")))'); do
    "$DJS" cancel "$j" >/dev/null 2>&1 || true
done
wpost /api/v1/workers '{"name":"w1","slots":2,"capabilities":["gpu","linux"]}'
wid=$(wfield '["id"]')
ok workers
[ "$(echo "$out" | head -1 | tr -s ' ')" = "ID NAME HOST STATUS SLOTS RUNNING CPU MEM SCORE CAPABILITIES" ] || fail "workers header: $out"
echo "$out" | grep -Eq "^$wid +w1 .* ACTIVE +2 +0 .*gpu" || fail "workers row: $out"
ok workers "$wid"
echo "$out" | grep -Eq "^name +w1$" && echo "$out" | grep -Eq "^capabilities +gpu, linux$" || fail "workers ID: $out"
ok workers -o json
[ "$(jf '["workers"][0]["id"]')" = "$wid" ] || fail "workers -o json"
refused 1 "^djs: 404 Not Found: " workers 01890a5d-ac96-774b-bcce-b302099a8057

ok submit --name runner --requires gpu --cmd 'echo one; echo two'
run_id=$out
wpost "/api/v1/workers/$wid/poll?wait=5"
[ "$(wfield '["assignments"][0]["jobId"]')" = "$run_id" ] || fail "the worker got the job: $body"
attempt=$(wfield '["assignments"][0]["attempt"]')
wpost "/api/v1/jobs/$run_id/start" "{\"workerId\":\"$wid\",\"attempt\":$attempt}"
ok jobs --status RUNNING
echo "$out" | grep -Eq "^$run_id +runner +RUNNING +NORMAL +$attempt " || fail "running job listed: $out"
ok job "$run_id"
echo "$out" | grep -Eq "^status +RUNNING$" && echo "$out" | grep -Eq "^assignedWorker +$wid$" || fail "job table: $out"
output() { # OFFSET TEXT: the worker streams output (TEXT as printf's format)
    printf "$2" | curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/octet-stream' \
        --data-binary @- "$URL/api/v1/jobs/$run_id/output?workerId=$wid&attempt=$attempt&offset=$1" >/dev/null ||
        fail "posting output at $1"
}
output 0 'one\n'
ok logs "$run_id"
[ "$out" = "one" ] || fail "logs so far: '$out'"
# follow: new output arrives, then the job completes; logs -f prints it all and exits 0
"$DJS" logs -f "$run_id" >"$T/follow" 2>"$T/follow.err" &
fpid=$!
sleep 0.7
output 4 'two\n'
sleep 0.7
kill -0 $fpid 2>/dev/null || fail "logs -f must keep following a running job: $(cat "$T/follow.err")"
wpost "/api/v1/jobs/$run_id/complete" "{\"workerId\":\"$wid\",\"attempt\":$attempt,\"result\":{\"ok\":true}}"
for _ in $(seq 50); do kill -0 $fpid 2>/dev/null || break; sleep 0.1; done
kill -0 $fpid 2>/dev/null && fail "logs -f did not stop once the job completed"
wait $fpid || fail "logs -f exit status: $(cat "$T/follow.err")"
[ "$(cat "$T/follow")" = "$(printf 'one\ntwo')" ] || fail "logs -f output: '$(cat "$T/follow")'"
ok logs "$run_id"
[ "$out" = "$(printf 'one\ntwo')" ] || fail "logs of a finished job: '$out'"
ok job "$run_id"
echo "$out" | grep -Eq "^status +COMPLETED$" && echo "$out" | grep -Eq "^metrics.runSeconds +[0-9.]+$" || fail "job table: $out"

# history: one line per event, in order
ok history "$run_id"
[ "$(echo "$out" | head -1 | tr -s ' ')" = "SEQ TIME TYPE ACTOR BODY" ] || fail "history header: $out"
types=$(echo "$out" | tail -n +2 | awk '{print $3}' | grep -v '^job.output' | tr '\n' ' ')
[[ $types =~ ^job.submitted\ (job.queued\ )?job.scheduled\ job.started\ job.succeeded\ $ ]] || fail "history types: $types"
ok history "$run_id" -o json
started_seq=$($PY -c 'import json,sys; print([e["seq"] for e in json.load(open(sys.argv[1]))["events"] if e["type"]=="job.started"][0])' "$T/out")
# time travel: the job as of the seq it started, the history up to it
ok job "$run_id" --at-seq "$started_seq" -o json
[ "$(jf '["status"]')" = RUNNING ] || fail "job --at-seq: $(cat "$T/out")"
ok history "$run_id" --at-seq "$started_seq"
[ "$(echo "$out" | tail -1 | awk '{print $3}')" = job.started ] || fail "history --at-seq: $out"
ok events --limit 1 -o json
first_at=$(jf '["events"][0]["at"]')
ok stats --as-of "$first_at" -o json
[ "$(jf '["submitted"]')" = 0 ] || fail "stats --as-of the first event: $(cat "$T/out")"
refused 1 "^djs: 400 Invalid query: " stats --as-of yesterday

# a failure without retries left, then retry and delete
ok submit --name flaky --requires gpu --cmd false
flaky=$out
wpost "/api/v1/workers/$wid/poll?wait=5"
attempt=$(wfield '["assignments"][0]["attempt"]')
wpost "/api/v1/jobs/$flaky/start" "{\"workerId\":\"$wid\",\"attempt\":$attempt}"
wpost "/api/v1/jobs/$flaky/fail" "{\"workerId\":\"$wid\",\"attempt\":$attempt,\"error\":\"exit 1\"}"
ok job "$flaky" -o json
[ "$(jf '["status"]')" = FAILED ] || fail "flaky failed: $(cat "$T/out")"
ok logs "$flaky"
[ -z "$out" ] || fail "no output for flaky"
run logs -f "$flaky"
[ $rc -eq 0 ] || fail "logs -f of a finished job without output exits 0"
ok retry "$flaky"
[ "$out" = "$flaky QUEUED" ] || fail "retry: $out"
ok cancel "$flaky" -o json
[ "$(jf '["status"]')" = CANCELLED ] || fail "cancel -o json"
ok delete "$flaky"
[ "$out" = "$flaky DELETED" ] || fail "delete: $out"
refused 1 "^djs: 404 Not Found: " job "$flaky"
refused 1 "^djs: 409 Conflict: " retry "$run_id"

# ---- stats and events ---------------------------------------------------------------
ok stats
echo "$out" | grep -Eq "^jobs.COMPLETED +1$" && echo "$out" | grep -Eq "^workersActive +1$" || fail "stats table: $out"
ok stats -o json
[ "$(jf '["jobs"]["COMPLETED"]')" = 1 ] || fail "stats -o json"
ok events --limit 3
[ "$(echo "$out" | head -1 | tr -s ' ')" = "SEQ TIME TYPE ACTOR ENTITY BODY" ] && [ "$(echo "$out" | wc -l)" = 4 ] || fail "events: $out"
echo "$out" | sed -n 2p | grep -Eq "^1 +20.* server.started +server " || fail "first event: $out"
grep -q "more: djs events --from-seq 4" "$T/err" || fail "events: next page hint"
ok events --from-seq 2 --limit 2 -o json
[ "$(jx '[e["seq"] for e in d["events"]]')" = "[2, 3]" ] && [ "$(jf '["next"]')" = 4 ] || fail "events --from-seq: $(cat "$T/out")"
ok events --type job.cancelled -o json
[ "$(jx '{e["type"] for e in d["events"]}')" = "{'job.cancelled'}" ] || fail "events --type"
ok events --entity "$run_id" -o json
[ "$(jx '{e["entity"] for e in d["events"]}')" = "{'$run_id'}" ] || fail "events --entity"
refused 1 "^djs: 400 Invalid query: " events --type no.such.type

# ---- TLS: --cacert, --insecure, and a refused certificate ---------------------------
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
    tport=$(djs_free_port)
    "$DJS" serve --data "$T/tdata" --listen "127.0.0.1:$tport" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" >"$T/tserve.out" 2>&1 &
    tpid=$!
    for _ in $(seq 100); do curl -sf --cacert "$T/cert.pem" "https://localhost:$tport/health" >/dev/null 2>&1 && break; sleep 0.1; done
    TT=$(djs_token admin admin "$T/tdata")
    ok stats --server "https://localhost:$tport" --token "$TT" --cacert "$T/cert.pem"
    ok stats --server "https://localhost:$tport" --token "$TT" --insecure
    refused 1 "cannot reach https://localhost:$tport" stats --server "https://localhost:$tport" --token "$TT"
    kill -TERM "$tpid"
    wait "$tpid" || true
    tpid=""
else
    echo "SKIP TLS checks: openssl CLI missing (tools/deps.sh installs it)"
fi

# ---- the server goes away -----------------------------------------------------------
djs_stop_server
refused 1 "^djs: cannot reach $URL: " jobs
echo "test_client: all checks passed"
