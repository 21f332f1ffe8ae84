#!/usr/bin/env bash
# --server as a list (a cluster's nodes), for the CLI and the worker agent,
# against one real djs serve (the leader) and stand-ins for the other nodes
# (fake_node.py): a follower that answers 307 to the leader, one in an
# election (503 no-leader), dead ports. The redirect is followed with the
# token only to a listed server (any for a single --server), a node that
# does not take a call is passed over, and a list of dead nodes fails with
# one line naming them. The real cluster: test_cluster.sh.
set -euo pipefail
DJS=${1:?usage: test_client_servers.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init client_servers
DJS_LOG_TAIL=30
mkdir -p "$T/wd"

djs_start_server --heartbeat-interval 1
ADMIN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $ADMIN")
export DJS_TOKEN=$ADMIN
unset DJS_SERVER

# listening URL: something accepts connections there (curl exit 7: refused)
listening() {
    local st=0
    curl -s -m 1 -o /dev/null "$1/x" || st=$?
    [ "$st" -ne 7 ]
}
# fake MODE TARGET NAME: a fake node on a free port (its URL in $furl, its log $T/NAME.log)
fake() {
    local p
    p=$(djs_free_port)
    : >"$T/$3.log"
    $PY "$HERE/fake_node.py" "$p" "$1" "$2" "$T/$3.log" 2>>"$T/fakes.err" &
    furl="http://127.0.0.1:$p"
    djs_wait_ready "fake node $3 did not start" listening "$furl"
    : >"$T/$3.log"
}
fake sink "" sink
SINK=$furl
fake follower "$URL" f1
F1=$furl
fake follower "$SINK" evil # a "follower" that points to a server not in the list
EVIL=$furl
fake electing "" el
EL=$furl
DEAD1="http://127.0.0.1:$(djs_free_port)"
DEAD2="http://127.0.0.1:$(djs_free_port)"
fake follower "$DEAD2" stale # a follower that still points to a dead leader
STALE=$furl
fake drop "" drop # dies with the request in hand
DROP=$furl

run() {
    set +e
    "$DJS" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
}
ok() {
    run "$@"
    [ $rc -eq 0 ] || fail "djs $*: exit $rc: $(cat "$T/err")"
}
refused() {
    local want=$1 pat=$2
    shift 2
    run "$@"
    [ $rc -eq "$want" ] || fail "djs $*: expected exit $want, got $rc: $(cat "$T/err")"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "djs $*: expected one line on stderr, got: $(cat "$T/err")"
    grep -q -- "$pat" "$T/err" || fail "djs $*: stderr should match '$pat': $(cat "$T/err")"
}

echo "== usage: a bad list is refused (exit 2), by the CLI and the worker"
refused 2 "--server must be an http:// or https:// URL" stats --server "$URL,,$F1"
refused 2 "--server must be an http:// or https:// URL" stats --server "$URL,ftp://x"
run worker --server "$URL,nope" --token "$ADMIN" --workdir "$T/wd"
[ $rc -eq 2 ] && grep -q -- "--server must be an http:// or https:// URL, not 'nope'" "$T/err" || fail "worker bad list: $rc $(cat "$T/err")"

echo "== CLI: a follower's 307 is followed to the listed leader, the token with it"
ok submit --server "$F1,$URL" --name via-follower --cmd true
job1=$(cat "$T/out")
grep -q "^POST /api/v1/jobs auth$" "$T/f1.log" || fail "the follower did not see the submit: $(cat "$T/f1.log")"
[ "$(djs_jfield "$job1" '["name"]')" = via-follower ] || fail "the job is not on the leader"
echo "== CLI: one --server: any http(s) Location is followed"
ok cancel --server "$F1" "$job1"
grep -q "^POST /api/v1/jobs/$job1/cancel auth$" "$T/f1.log" || fail "cancel did not go by the follower: $(cat "$T/f1.log")"
[ "$(djs_jfield "$job1" '["status"]')" = CANCELLED ] || fail "cancel did not reach the leader"
echo "== CLI: a Location outside the list is not followed; the token does not go there"
refused 1 "not one of the --server URLs" submit --server "$EVIL,$F1" --name evil --cmd true
grep -q "$EVIL" "$T/err" || fail "the error line should name the server tried: $(cat "$T/err")"
[ ! -s "$T/sink.log" ] || fail "a request went to the unlisted Location: $(cat "$T/sink.log")"
echo "== CLI: dead and electing nodes are passed over"
: >"$T/f1.log"
ok submit --server "$DEAD1,$EL,$F1,$URL" --name passed-over --cmd true
grep -q "^POST /api/v1/jobs auth$" "$T/el.log" || fail "the electing node was not tried: $(cat "$T/el.log")"
grep -q "^POST /api/v1/jobs auth$" "$T/f1.log" || fail "the follower was not tried: $(cat "$T/f1.log")"
ok stats --server "$DEAD1,$URL"
echo "== CLI: a write that went out without an answer is sent again only when idempotent"
# djs submit always carries an Idempotency-Key (a random one without
# --idempotency-key), so it is sent again; each submit makes one job
ok submit --server "$DROP,$URL" --name dropped --cmd true
ok submit --server "$DROP,$URL" --name dropped --cmd true --idempotency-key drop-1
[ "$(grep -c "^POST /api/v1/jobs auth$" "$T/drop.log")" = 2 ] || fail "drop: $(cat "$T/drop.log")"
ok jobs --server "$DROP,$URL" --name-prefix dropped -o json
[ "$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["jobs"]))' "$T/out")" = 2 ] || fail "dropped: $(cat "$T/out")"
# a cancel is not idempotent: went out, no answer, not sent again
jid=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["id"])' "$T/out")
refused 1 "may have taken effect, so it is not sent again" cancel --server "$DROP,$URL" "$jid"
grep -q "^POST /api/v1/jobs/$jid/cancel auth$" "$T/drop.log" || fail "the cancel did not go to the dropping node: $(cat "$T/drop.log")"
echo "== CLI: only dead nodes: one line naming them, after about 10 s"
t0=$(date +%s)
refused 1 "no server took the request" stats --server "$DEAD1,$DEAD2"
t1=$(date +%s)
grep -q "$DEAD1 (" "$T/err" && grep -q "$DEAD2 (" "$T/err" || fail "the servers tried should be named: $(cat "$T/err")"
[ $((t1 - t0)) -ge 8 ] && [ $((t1 - t0)) -le 14 ] || fail "gave up after $((t1 - t0)) s, not about 10"
echo "== CLI: one --server whose leader is dead: tried in rounds, then one line naming the leader"
t0=$(date +%s)
refused 1 "no server took the request" submit --server "$STALE" --name stale --cmd true
[ $(($(date +%s) - t0)) -ge 8 ] || fail "gave up too soon"
grep -q "$DEAD2 (.*; the leader that $STALE named)" "$T/err" || fail "the dead leader should be named: $(cat "$T/err")"
[ "$(grep -c "^POST /api/v1/jobs auth$" "$T/stale.log")" -le 60 ] || fail "too many tries: $(wc -l <"$T/stale.log")"
echo "== CLI: one dead server fails at once, as ever"
t0=$(date +%s)
refused 1 "^djs: cannot reach $DEAD1: " stats --server "$DEAD1"
[ $(($(date +%s) - t0)) -le 2 ] || fail "one dead server should fail at once"

# agent NAME SERVERS: a worker (worker token NAME), output in $T/NAME.out, pid in $apid; waits for its registration
agent() {
    "$DJS" worker --server "$2" --token "$(djs_token "$1" worker)" --name "$1" --capabilities "$1" --slots 2 --workdir "$T/wd" \
        --heartbeat 0.3 >>"$T/$1.out" 2>&1 &
    apid=$!
    for _ in $(seq 150); do
        grep -q "registered as" "$T/$1.out" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "agent $1 did not register"
}
# job_on CAP: submits a job only agent CAP runs, waits for it to complete
job_on() {
    djs_submit "{\"name\":\"on-$1\",\"requiredCapabilities\":[\"$1\"],\"payload\":$(djs_exec_payload "echo ran on $1")}"
    djs_wait_status "$id" COMPLETED 20
}

echo "== agent: dead, electing and evil nodes passed over, a follower's 307 followed to the leader"
: >"$T/f1.log"
agent wa "$DEAD1,$EVIL,$EL,$F1,$URL"
grep -q "registered as .* with $URL" "$T/wa.out" || fail "wa should have registered with the leader: $(cat "$T/wa.out")"
grep -q "^POST /api/v1/workers auth$" "$T/f1.log" || fail "wa's registration did not go by the follower: $(cat "$T/f1.log")"
grep -q "not following a redirect to $SINK" "$T/wa.out" || fail "wa should have refused the evil redirect"
job_on wa
kill -TERM "$apid"
wait "$apid" || fail "wa did not exit 0 on SIGTERM"
grep -q "deregistered" "$T/wa.out" || fail "wa did not deregister by the list: $(tail -5 "$T/wa.out")"
[ ! -s "$T/sink.log" ] || fail "the agent sent a request to the unlisted Location: $(cat "$T/sink.log")"
echo "== agent: one --server that is a follower: its leader is followed"
agent wb "$F1"
grep -q "the cluster's leader is $URL" "$T/wb.out" || fail "wb: $(cat "$T/wb.out")"
job_on wb
grep -q "^POST /api/v1/workers auth$" "$T/f1.log" || fail "wb's registration did not go by the follower"

echo "PASS"
