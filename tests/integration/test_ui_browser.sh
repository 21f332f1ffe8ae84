#!/usr/bin/env bash
# The dashboard in a real browser against a real server: the UI's own
# checks first (ESLint, tsc --strict, Vitest: the stream client, reducers,
# formatting), then a Vite build served by `djs serve --dev --ui-dir` with
# its two real local agents, and ui/e2e/run.mjs driving Debian's Chromium
# through playwright-core: the one-time login link, every view (a
# screenshot each, axe-core, no console errors), live updates, the DAG,
# the output tail, retry and cancel, time travel (counts equal to
# GET /api/v1/state?at_seq=N), play mode, a user's narrower view, and a
# kill -9 and restart of the server. Screenshots stay in
# $DJS_UI_ARTEFACTS (default: tests' tmp dir/ui-artefacts).
# Exits 77 (skipped) when the machine has no Chromium or no Node.js >= 20.
set -euo pipefail
DJS=${1:?usage: test_ui_browser.sh path/to/djs}
DJS=$(realpath "$DJS") # the runner restarts the server from ui/
. "$(dirname "$0")/lib.sh"
SRC=${DJS_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
UI=$SRC/ui
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
    echo "SKIP: no Chromium at $CHROMIUM (tools/deps.sh installs Debian's chromium)" >&2
    exit 77
fi
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "SKIP: the dashboard needs Node.js >= 20 with npm (see README)" >&2
    exit 77
fi
djs_init ui_browser
ART=${DJS_UI_ARTEFACTS:-${DJS_TEST_TMP:-/var/tmp}/ui-artefacts}
rm -rf "$ART" && mkdir -p "$ART"

# the UI's own checks, from its lock
cd "$UI"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund >"$T/npm.out" 2>&1 || fail "npm ci"
fi
npm run -s lint >"$T/lint.out" 2>&1 || fail "eslint: $(cat "$T/lint.out")"
npm run -s typecheck >"$T/tsc.out" 2>&1 || fail "tsc: $(cat "$T/tsc.out")"
npx vitest run >"$T/vitest.out" 2>&1 || fail "vitest: $(tail -40 "$T/vitest.out")"
echo "ok - lint, typecheck, $(grep -Eo 'Tests +[0-9]+ passed' "$T/vitest.out" | tr -s ' ' || echo 'vitest passed')"
npx vite build --outDir "$T/dist" --emptyOutDir >"$T/vite.out" 2>&1 || fail "vite build"
cd - >/dev/null

djs_listen
start() {
    DJS_SERVE_APPEND=1 djs_serve --data "$T/data" --listen "127.0.0.1:$port" --dev --ui-dir "$T/dist"
    echo "$pid" >"$T/pid"
    djs_wait_ready "serve did not answer $URL/health" curl -sf -m 2 "$URL/health"
}
start
login=$(grep -o 'DASHBOARD http[^ ]*' "$T/serve.out" | head -1 | cut -d' ' -f2)
[ -n "$login" ] || fail "serve printed no DASHBOARD link"
admin=$(djs_token admin admin)
alice=$(djs_token alice user)
# the runner kills and restarts the server through these (it runs in this shell's process group)
export -f djs_serve djs_wait_ready fail djs_dump_logs
export DJS T port URL
# (the first server is this shell's child: a zombie until the runner ends, so the wait is on its port)
kill_cmd="kill -9 \$(cat $T/pid); while curl -sf -m 1 $URL/health >/dev/null 2>&1; do sleep 0.05; done"
start_cmd="DJS_SERVE_APPEND=1 djs_serve --data $T/data --listen 127.0.0.1:$port --dev --ui-dir $T/dist; echo \$pid >$T/pid; pid=; djs_wait_ready 'restart' curl -sf -m 2 $URL/health; disown -a"

cd "$UI"
DJS_URL=$URL DJS_LOGIN_URL=$login DJS_TOKEN=$admin DJS_USER_TOKEN=$alice DJS_ARTEFACTS=$ART CHROMIUM=$CHROMIUM \
    DJS_KILL_CMD=$kill_cmd DJS_START_CMD=$start_cmd \
    timeout 240 node e2e/run.mjs 2>&1 | tee "$T/e2e.out"
st=${PIPESTATUS[0]}
cd - >/dev/null
# the server the runner restarted is not this shell's child: stop it here
kill -9 "$(cat "$T/pid")" 2>/dev/null || true
pkill -9 -f "worker --server $URL" 2>/dev/null || true
[ "$st" = 0 ] || fail "the browser checks failed (screenshots in $ART)"
n=$(find "$ART" -name '*.png' | wc -l)
[ "$n" -ge 8 ] || fail "only $n screenshots in $ART"
echo "ok - $n screenshots in $ART"
