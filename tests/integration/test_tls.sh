#!/usr/bin/env bash
# HTTPS: a self-signed certificate made here, TLS 1.2+ only, HTTP/1.1, and
# HTTP/2 by ALPN only when --http2 is given; a bad key refused at start.
set -euo pipefail
DJS=${1:?usage: test_tls.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init tls
command -v openssl >/dev/null || fail "openssl CLI missing (tools/deps.sh installs it)"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
djs_listen
URL="https://localhost:$port"
tls_ready() { curl -sf --cacert "$T/cert.pem" "$URL/health"; }
djs_serve --data "$T/data" --listen "127.0.0.1:$port" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
djs_wait_ready "serve did not answer $URL/health" tls_ready
grep -q "listening on https://" "$T/serve.out" || fail "https in the start message"
TOKEN=$(djs_token admin admin)
[ "$(curl -s --cacert "$T/cert.pem" --http1.1 -o /dev/null -w '%{http_version} %{http_code}' "$URL/health")" = "1.1 200" ] ||
    fail "HTTP/1.1 over TLS"
[ "$(curl -s --cacert "$T/cert.pem" --http2 -o /dev/null -w '%{http_version} %{http_code}' "$URL/health")" = "1.1 200" ] ||
    fail "without --http2, ALPN must settle on HTTP/1.1"
code=$(curl -s --cacert "$T/cert.pem" -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
       -H 'content-type: application/json' --data-binary '{"name":"over-tls"}' "$URL/api/v1/jobs")
[ "$code" = 201 ] || fail "submit over TLS: $code $(cat "$T/body")"
if curl -s --cacert "$T/cert.pem" --tls-max 1.1 -o /dev/null "$URL/health" 2>/dev/null; then
    fail "TLS 1.1 must be refused"
fi
if curl -s -o /dev/null "$URL/health" 2>/dev/null; then
    fail "an unverified certificate must not be accepted by a verifying client (sanity of the test itself)"
fi
djs_stop_server
djs_serve --data "$T/data" --listen "127.0.0.1:$port" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --http2
djs_wait_ready "serve --http2 did not answer $URL/health" tls_ready
[ "$(curl -s --cacert "$T/cert.pem" --http2 -o /dev/null -w '%{http_version} %{http_code}' "$URL/health")" = "2 200" ] ||
    fail "HTTP/2 by ALPN with --http2"
code=$(curl -s --http2 --cacert "$T/cert.pem" -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
       -H 'content-type: application/json' --data-binary '{"name":"over-h2"}' "$URL/api/v1/jobs")
[ "$code" = 201 ] || fail "durable submit over HTTP/2: $code $(cat "$T/body")"
djs_stop_server
# a key that does not match the certificate: refused at start, exit 1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other" -keyout "$T/other.pem" -out "$T/other-cert.pem" 2>/dev/null
set +e
"$DJS" serve --data "$T/data" --listen "127.0.0.1:$port" --tls-cert "$T/cert.pem" --tls-key "$T/other.pem" >"$T/bad.out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "mismatched key must exit 1 (got $rc): $(cat "$T/bad.out")"
grep -q "TLS" "$T/bad.out" || fail "mismatched key: say TLS"
echo "test_tls: all checks passed"
