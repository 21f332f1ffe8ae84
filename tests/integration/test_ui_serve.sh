#!/usr/bin/env bash
# The dashboard's files, served by djs from its own binary (api/ui.c): /
# and /ui redirect to /ui/; every encoding djs offers decodes to the same
# bytes; Vary, strong per-encoding ETags, 304 on If-None-Match; HEAD;
# hashed assets immutable, index.html no-cache; the dashboard's routes
# answer index.html, a missing asset is a 404 problem, never HTML; a strict
# CSP; no way out of the tree; methods other than GET/HEAD are 405; the
# binary's stack is not executable (the .incbin file says so); --ui-dir
# serves a folder instead, and a file changed there is seen at once.
set -euo pipefail
DJS=${1:?usage: test_ui_serve.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init ui_serve

# the assembler file of the embedded assets keeps the stack non-executable
if command -v readelf >/dev/null; then
    readelf -lW "$DJS" | grep GNU_STACK | grep -q ' RW ' || fail "djs has an executable stack: $(readelf -lW "$DJS" | grep GNU_STACK)"
fi

djs_start_server
H() { curl -s -o /dev/null -D - "$@" | tr -d '\r'; }
hdr() { grep -i "^$1:" | head -1 | cut -d' ' -f2- || true; }

# redirects
for p in / /ui; do
    out=$(H "$URL$p")
    echo "$out" | head -1 | grep -q ' 302' || fail "$p: not a 302: $out"
    [ "$(echo "$out" | hdr location)" = /ui/ ] || fail "$p: location: $out"
done

# index.html: no-cache, CSP, nosniff, frame-ancestors
curl -s "$URL/ui/" >"$T/index.identity"
grep -qi '<!doctype html>' "$T/index.identity" || fail "/ui/ is no HTML page: $(head -c 300 "$T/index.identity")"
out=$(H "$URL/ui/")
[ "$(echo "$out" | hdr cache-control)" = no-cache ] || fail "index.html cache-control: $out"
echo "$out" | hdr content-security-policy | grep -q "default-src 'none'" || fail "no strict CSP: $out"
echo "$out" | hdr content-security-policy | grep -q "frame-ancestors 'none'" || fail "CSP frame-ancestors: $out"
echo "$out" | hdr content-security-policy | grep -q "unsafe" && fail "CSP allows unsafe-*: $out"
[ "$(echo "$out" | hdr x-content-type-options)" = nosniff ] || fail "nosniff: $out"
echo "$out" | hdr content-type | grep -q '^text/html' || fail "index content-type: $out"

# the assets the page names, and index.html, in every encoding: same bytes
mapfile -t assets < <(grep -o '/ui/[A-Za-z0-9_./-]*\.\(js\|css\|svg\)' "$T/index.identity" | sort -u)
[ ${#assets[@]} -gt 0 ] || fail "index.html names no asset"
for a in /ui/ "${assets[@]}"; do
    curl -s -H 'Accept-Encoding: identity' "$URL$a" >"$T/id"
    [ -s "$T/id" ] || fail "$a: empty"
    for enc in gzip br; do
        out=$(H -H "Accept-Encoding: $enc" "$URL$a")
        echo "$out" | head -1 | grep -q ' 200' || fail "$a ($enc): $out"
        echo "$out" | hdr vary | grep -qi accept-encoding || fail "$a: no Vary: Accept-Encoding: $out"
        ce=$(echo "$out" | hdr content-encoding)
        curl -s -H "Accept-Encoding: $enc" "$URL$a" >"$T/enc"
        case "$ce" in
        "") cmp -s "$T/id" "$T/enc" || fail "$a: an unencoded answer differs" ;;
        gzip) gzip -dc "$T/enc" | cmp -s "$T/id" - || fail "$a: the gzip body does not decode to the file" ;;
        br) brotli -dc "$T/enc" | cmp -s "$T/id" - || fail "$a: the brotli body does not decode to the file" ;;
        *) fail "$a: content-encoding $ce for Accept-Encoding $enc" ;;
        esac
        [ -z "$ce" ] || [ "$ce" = "$enc" ] || fail "$a: asked $enc, got $ce"
        etag=$(echo "$out" | hdr etag)
        [[ $etag =~ ^\"[0-9a-f]{32}(-gz|-br)?\"$ ]] || fail "$a: not a strong ETag: '$etag'"
        # 304 for the same ETag, 200 for another
        code=$(curl -s -o "$T/nm" -w '%{http_code}' -H "Accept-Encoding: $enc" -H "If-None-Match: $etag" "$URL$a")
        [ "$code" = 304 ] && [ ! -s "$T/nm" ] || fail "$a: If-None-Match $etag answered $code"
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Accept-Encoding: $enc" -H 'If-None-Match: "0000"' "$URL$a")
        [ "$code" = 200 ] || fail "$a: another ETag answered $code"
    done
    # HEAD: the headers and length of a GET, no body
    len=$(curl -s -I -H 'Accept-Encoding: identity' "$URL$a" | tr -d '\r' | hdr content-length)
    [ "$len" = "$(stat -c %s "$T/id")" ] || fail "$a: HEAD content-length $len, GET $(stat -c %s "$T/id")"
    [ "$(curl -s -I "$URL$a" | wc -c)" -lt 2000 ] || fail "$a: HEAD sent a body"
    if [[ $a =~ /assets/.*-.*\. ]]; then
        H "$URL$a" | hdr cache-control | grep -q 'max-age=31536000, immutable' || fail "$a: hashed asset not immutable"
    fi
done
# a refused identity with no compressed body acceptable: 406
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: identity;q=0' "$URL/ui/favicon.svg")
case "$code" in 200 | 406) ;; *) fail "identity;q=0 answered $code" ;; esac

# the dashboard's routes answer index.html; missing files are 404 problems
for p in /ui/jobs /ui/jobs/j-123 /ui/workflows/w-1/dag /ui/events; do
    curl -s "$URL$p" | cmp -s "$T/index.identity" - || fail "$p: not index.html"
done
for p in /ui/assets/nope-abc.js /ui/nope.css /ui/favicon.ico; do
    out=$(curl -s -D "$T/h" "$URL$p")
    head -1 "$T/h" | grep -q ' 404' || fail "$p: $(head -1 "$T/h")"
    grep -qi '^content-type: application/problem+json' "$T/h" || fail "$p: a missing asset answered $(grep -i content-type "$T/h")"
    echo "$out" | grep -qi '<html' && fail "$p: a missing asset answered HTML"
done

# no way out of the tree, however the path is spelled
for p in '/ui/../jwt.secret' '/ui/%2e%2e/jwt.secret' '/ui/assets/..%2f..%2fjwt.secret' '/ui/.env' '/ui//etc/passwd' '/ui/a%00b'; do
    code=$(curl -s --path-as-is -o "$T/t" -w '%{http_code}' "$URL$p")
    case "$code" in 400 | 404) ;; *) fail "$p answered $code" ;; esac
    grep -q "$(head -c 20 "$T/data/jwt.secret" 2>/dev/null || echo NOSECRET)" "$T/t" && fail "$p leaked the secret"
done
true

# only GET and HEAD
for m in POST PUT DELETE; do
    out=$(curl -s -X "$m" -D - -o /dev/null "$URL/ui/" | tr -d '\r')
    echo "$out" | head -1 | grep -q ' 405' || fail "$m /ui/: $(echo "$out" | head -1)"
    echo "$out" | hdr allow | grep -q 'GET, HEAD' || fail "$m /ui/: no Allow: $out"
done

# the API is untouched by all this
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/jobs")" = 401 ] || fail "the API lost its auth"
djs_stop_server

# --ui-dir: a folder, read per request
mkdir -p "$T/site/assets"
echo '<!doctype html><title>dev</title>one' >"$T/site/index.html"
echo 'console.log(1)' >"$T/site/assets/app-1234.js"
djs_start_server --ui-dir "$T/site"
grep -q "dashboard: /ui/ from $T/site" "$T/serve.out" || fail "--ui-dir not said at start"
curl -s "$URL/ui/" | grep -q one || fail "--ui-dir index"
curl -s "$URL/ui/jobs/x" | grep -q one || fail "--ui-dir SPA fallback"
curl -s "$URL/ui/assets/app-1234.js" | grep -q console || fail "--ui-dir asset"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/ui/assets/none.js")" = 404 ] || fail "--ui-dir missing asset"
e1=$(H "$URL/ui/" | hdr etag)
sleep 1.1
echo '<!doctype html><title>dev</title>two, longer' >"$T/site/index.html"
curl -s "$URL/ui/" | grep -q two || fail "--ui-dir: a changed file not seen"
e2=$(H "$URL/ui/" | hdr etag)
[ -n "$e1" ] && [ "$e1" != "$e2" ] || fail "--ui-dir: the ETag did not change ($e1, $e2)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $e2" "$URL/ui/")" = 304 ] || fail "--ui-dir: 304"
djs_stop_server
"$DJS" serve --data "$T/data2" --listen "127.0.0.1:$port" --ui-dir "$T/nope" >"$T/bad.out" 2>&1 && fail "--ui-dir of a missing folder started"
grep -q "is not a directory" "$T/bad.out" || fail "--ui-dir error: $(cat "$T/bad.out")"
echo "ui_serve: ok"
