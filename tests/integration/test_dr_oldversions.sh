#!/usr/bin/env bash
# Disaster drill: old versions. Each fixture log of tests/fixtures/old-logs.txt
# (written by the djs of an older commit: one per snapshot format, all
# record version 1; tests/fixtures/README.md says how each was made) is
# unpacked and must, with today's binary:
#   - verify (`djs replay verify --no-replay`): the recorded number of
#     records and chain head; the whole `djs replay verify` (which replays
#     and checks each snapshot) as old-logs.txt says: OK with the recorded
#     digest, or stopped at a snapshot that does not restore;
#   - replay (`djs replay rebuild`): the recorded state digest and counts;
#   - start (`djs serve` on a copy): what old-logs.txt says of its
#     snapshots: used; refused as "unsupported format version"
#     (DJS_EVERSION); or refused as corrupt (the 4-noschedules one: format 4
#     before schedules joined it without a version bump), each said in the
#     rebuild notes, and the log replayed instead; then the live state
#     equals a full replay of the copy (the digest of GET /state, or the
#     counts where it has none), the counts are the recorded ones, and so
#     are those of GET /state?at_seq=LAST (time travel, also from
#     snapshots); a clean stop, and the copy still verifies.
# DJS_FIXTURE_PRINT=1 prints each fixture's line as today's binary computes
# it instead of checking (to refresh the digest column, see the README).
set -euo pipefail
DJS=${1:?usage: test_dr_oldversions.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init dr-oldversions
SRC=${DJS_SOURCE_DIR:-$HERE/../..}
FIX=$SRC/tests/fixtures
cur=$(sed -nE 's/^#define SNAP_VERSION ([0-9]+).*/\1/p' "$SRC/projections/snapshot.c")

# state: "seq digest-or-- submitted completed failed" of GET /state[?QUERY]
state() {
    djs_get "state${1:+?$1}" | $PY -c '
import json, sys
s = json.load(sys.stdin)
durable = s["seq"]
applied = s.get("applied_seq", durable)  # the digest is of the state at applied_seq
seq = applied if applied == durable else f"{durable}/{applied}"
print(seq, s.get("digest", "-"), s["submitted"], s["completed"], s["failed"])'
}
# rebuild DIR: "seq submitted completed failed digest" of djs replay rebuild
rebuild() {
    local out
    out=$("$DJS" replay rebuild "$1" 2>&1) || fail "$name: replay rebuild $1: $out"
    echo "$out" | sed -nE 's/^OK .*: ([0-9]+) events replayed .* ([0-9]+) submitted, ([0-9]+) completed, ([0-9]+) failed; state digest ([0-9a-f]+).*/\1 \2 \3 \4 \5/p'
}

n=0
while read -r file commit format records head digest submitted completed failed start verify; do
    case "$file" in '#'* | '') continue ;; esac
    name=${file%.tar.xz}
    n=$((n + 1))
    d=$T/$name
    mkdir -p "$d"
    tar -xJf "$FIX/$file" -C "$d" || fail "$name: cannot unpack $FIX/$file"
    [ -f "$d/data/data.mdb" ] || fail "$name: no data/data.mdb in $file"

    # the chain walk alone, then with the replay that checks every snapshot
    out=$("$DJS" replay verify --no-replay "$d/data" 2>/dev/null) || fail "$name: replay verify --no-replay: $out"
    got_records=$(echo "$out" | sed -nE 's/^OK [^:]*: ([0-9]+) records.*/\1/p')
    got_head=$(echo "$out" | sed -nE 's/.*chain head ([0-9a-f]+).*/\1/p')
    vrc=0
    vout=$("$DJS" replay verify "$d/data" 2>/dev/null) || vrc=$?
    read -r rseq rsub rcomp rfail rdig < <(rebuild "$d/data")
    if [ "${DJS_FIXTURE_PRINT:-0}" = 1 ]; then
        echo "$file $commit $format $got_records $got_head $rdig $rsub $rcomp $rfail $start $verify"
        continue
    fi
    [ "$got_records $got_head" = "$records $head" ] ||
        fail "$name: verify found $got_records records, chain head $got_head (recorded: $records, $head): $out"
    case "$verify" in
    ok)
        [ "$vrc" = 0 ] || fail "$name: replay verify (with the snapshot checks): $vout"
        vdig=$(echo "$vout" | sed -nE 's/^ *digest +([0-9a-f]{64}).*/\1/p')
        [ -z "$vdig" ] || [ "$vdig" = "$digest" ] || fail "$name: replay verify's digest $vdig, recorded $digest"
        ;;
    snapshot-corrupt)
        [ "$vrc" = 1 ] && echo "$vout" | grep -qE '^FAIL .*: the snapshot at seq [0-9]+ does not restore: corrupt' ||
            fail "$name: replay verify was expected to stop at a snapshot that does not restore (old-logs.txt): $vout"
        # a snapshot is a cache: the advice is a fresh snapshot, never a cut of the (healthy) log
        echo "$vout" | grep -q "rebuild --write-snapshot" && ! echo "$vout" | grep -q "djs restore" ||
            fail "$name: verify's advice for a bad snapshot must be a new snapshot, not a restore: $vout"
        ;;
    *) fail "$name: unknown verify expectation '$verify' in old-logs.txt" ;;
    esac
    [ "$rseq" = "$records" ] || fail "$name: the full replay stopped at seq $rseq of $records"
    [ "$rdig" = "$digest" ] || fail "$name: full replay digest $rdig, recorded $digest (see tests/fixtures/README.md if the digest's definition changed)"
    [ "$rsub $rcomp $rfail" = "$submitted $completed $failed" ] ||
        fail "$name: full replay submitted/completed/failed $rsub/$rcomp/$rfail, recorded $submitted/$completed/$failed"

    # start on a copy: what the rebuild made of the old snapshots
    cp -a "$d/data" "$d/serve"
    djs_listen
    djs_serve --data "$d/serve" --listen "127.0.0.1:$port" --rate-limit 0
    djs_wait_ready "$name: serve did not answer $URL/health" curl -sf -m 2 "$URL/health"
    AUTH=(-H "Authorization: Bearer $(djs_token admin admin "$d/serve")")
    replayed=$(sed -nE 's/^djs serve: state rebuilt in .* \(([0-9]+) events replayed after the snapshot\).*/\1/p' "$T/serve.out")
    nsnap=$(grep -c "^djs: snapshot at seq [0-9]* is unusable" "$T/serve.out" || true)
    nver=$(grep -c "^djs: snapshot at seq [0-9]* is unusable (unsupported format version): trying an older one" "$T/serve.out" || true)
    ncor=$(grep -c "^djs: snapshot at seq [0-9]* is unusable (corrupt or tampered data): trying an older one" "$T/serve.out" || true)
    case "$start" in
    used)
        [ "$nsnap" = 0 ] || fail "$name: a snapshot of format $format was refused: $(grep '^djs: ' "$T/serve.out")"
        [ "$replayed" -lt "$records" ] || fail "$name: the snapshot of format $format was not used ($replayed events replayed)"
        how="its format-$format snapshot used, $replayed events replayed on it"
        ;;
    corrupt)
        [ "$nsnap" -ge 1 ] && [ "$ncor" = "$nsnap" ] ||
            fail "$name: format-$format snapshots must be refused as corrupt: $(grep '^djs: ' "$T/serve.out")"
        [ "$replayed" = "$records" ] || fail "$name: $replayed events replayed at start, not the whole log ($records)"
        how="$nsnap format-$format snapshots refused as corrupt, whole log replayed"
        ;;
    version)
        [ "$nsnap" -ge 1 ] && [ "$nver" = "$nsnap" ] ||
            fail "$name: format-$format snapshots must be refused as \"unsupported format version\" (DJS_EVERSION): $(grep '^djs: ' "$T/serve.out")"
        [ "$replayed" = "$records" ] || fail "$name: $replayed events replayed at start, not the whole log ($records)"
        how="$nsnap format-$format snapshots refused (unsupported format version), whole log replayed"
        ;;
    *) fail "$name: unknown start expectation '$start' in old-logs.txt" ;;
    esac

    # the live state against a full replay of the copy, at one quiet seq
    ok=""
    for _ in 1 2 3 4 5; do
        s1=$(state)
        read -r qseq qsub qcomp qfail qdig < <(rebuild "$d/serve")
        s2=$(state)
        read -r seq dig sub comp failed_now <<<"$s1"
        if [ "$s1" = "$s2" ] && [ "$seq" = "$qseq" ]; then
            if [ "$dig" != - ]; then
                [ "$dig" = "$qdig" ] || fail "$name: live digest $dig at seq $seq != full replay's $qdig"
                ok="digest equal at seq $seq"
            else
                [ "$sub $comp $failed_now" = "$qsub $qcomp $qfail" ] ||
                    fail "$name: at seq $seq live submitted/completed/failed $sub/$comp/$failed_now != full replay's $qsub/$qcomp/$qfail"
                ok="counts equal at seq $seq (no live digest)"
            fi
            break
        fi
        sleep 0.2
    done
    [ -n "$ok" ] || fail "$name: no quiet point to compare the live state with a replay: $s1 / $s2"
    [ "$sub $comp $failed_now" = "$submitted $completed $failed" ] ||
        fail "$name: live submitted/completed/failed $sub/$comp/$failed_now, recorded $submitted/$completed/$failed"
    read -r tseq tdig tsub tcomp tfail <<<"$(state "at_seq=$records")"
    [ "$tseq $tsub $tcomp $tfail" = "$records $submitted $completed $failed" ] ||
        fail "$name: GET /state?at_seq=$records: seq $tseq, $tsub/$tcomp/$tfail (recorded $submitted/$completed/$failed)"
    [ "$tdig" = - ] || [ "$tdig" = "$digest" ] || fail "$name: GET /state?at_seq=$records: digest $tdig, recorded $digest"
    djs_stop_server
    out=$("$DJS" replay verify --no-replay "$d/serve" 2>/dev/null) || fail "$name: replay verify after the start: $out"
    echo "ok $name (djs $commit, snapshot format $format): $records records verify (chain head ${head:0:12}), full replay digest ${digest:0:12} as recorded; start: $how; live state $ok; time travel to seq $records"
done <"$FIX/old-logs.txt"
[ "$n" -ge 5 ] || fail "only $n fixtures in $FIX/old-logs.txt"
echo "ok: test_dr_oldversions: $n fixture logs (today's snapshot format: ${cur:-?})"
