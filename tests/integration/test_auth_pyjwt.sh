#!/usr/bin/env bash
# Interoperability of djs tokens with Debian's PyJWT (python3-jwt, installed
# by tools/deps.sh; /usr/bin/python3, not the pyenv one on PATH):
# a token from `djs token create` verifies in PyJWT with the key in
# DATA/jwt.secret, and `djs token verify` accepts a PyJWT token only when it
# is HS256, signed with that key and not expired.
set -euo pipefail
DJS=${1:?usage: test_auth_pyjwt.sh path/to/djs}
. "$(dirname "$0")/lib.sh"
djs_init auth

"$PY" -c 'import jwt' 2>/dev/null || fail "$PY cannot import jwt: install python3-jwt (tools/deps.sh)"
D="$T/data"

# usage errors: one line, exit 2
set +e
for args in "create" "create --sub a" "create --sub a --role root" "create --sub a --role user --ttl 5x" \
            "create --sub a --role user --ttl 0" "create --sub a --role user --bogus" "verify" "frob"; do
    # shellcheck disable=SC2086
    "$DJS" token $args >"$T/out" 2>"$T/err"; rc=$?
    [ $rc -eq 2 ] || fail "'djs token $args' exited $rc, want 2"
    [ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err"; fail "'djs token $args' error is not one line"; }
done
set -e
"$DJS" token help | grep -q "token verify" || fail "token help does not document verify"
"$DJS" help | grep -q "token create" || fail "djs help does not list token create"

# djs -> PyJWT
tok=$("$DJS" token create --sub alice --role operator --ttl 2h --data "$D")
[ "$(stat -c %a "$D/jwt.secret")" = 600 ] || fail "jwt.secret must be 0600"
[ "$(stat -c %s "$D/jwt.secret")" = 32 ] || fail "jwt.secret must hold 32 bytes"
"$PY" - "$D/jwt.secret" "$tok" <<'EOF' || fail "PyJWT refused the djs token"
import sys, time, jwt
key = open(sys.argv[1], "rb").read()
tok = sys.argv[2]
hdr = jwt.get_unverified_header(tok)
assert hdr == {"alg": "HS256", "typ": "JWT"}, hdr
c = jwt.decode(tok, key, algorithms=["HS256"], options={"require": ["exp", "iat", "nbf", "sub"]})
assert c["sub"] == "alice" and c["role"] == "operator", c
assert c["iat"] == c["nbf"] and c["exp"] - c["iat"] == 7200, c
assert abs(c["iat"] - time.time()) < 60, c
EOF
out=$("$DJS" token verify --data "$D" "$tok") || fail "djs refused its own token"
exp=$("$PY" -c 'import sys,jwt; print(jwt.decode(sys.argv[1], options={"verify_signature": False})["exp"])' "$tok")
[ "$out" = "sub=alice role=operator exp=$exp" ] || fail "verify printed '$out'"

# the default ttl is one hour, ttl suffixes work
for spec in "90s:90" "15m:900" ":3600" "1d:86400"; do
    ttl=${spec%%:*} want=${spec##*:}
    t2=$("$DJS" token create --sub bob --role user --data "$D" ${ttl:+--ttl "$ttl"})
    got=$("$PY" -c 'import sys,jwt; c=jwt.decode(sys.argv[1], options={"verify_signature": False}); print(c["exp"]-c["iat"])' "$t2")
    [ "$got" = "$want" ] || fail "ttl '$ttl' gave $got s, want $want"
done

# PyJWT -> djs: mint one good token and several bad ones
"$PY" - "$D/jwt.secret" "$T" <<'EOF'
import base64, json, sys, time, jwt
key = open(sys.argv[1], "rb").read()
out = sys.argv[2]
now = int(time.time())
good = {"sub": "carol", "role": "worker", "iat": now, "nbf": now, "exp": now + 600}
def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def save(name, tok):
    open(f"{out}/{name}.tok", "w").write(tok)
save("valid", jwt.encode(good, key, algorithm="HS256"))
save("expired", jwt.encode(dict(good, iat=now - 7200, nbf=now - 7200, exp=now - 3600), key, algorithm="HS256"))
save("future", jwt.encode(dict(good, nbf=now + 3600), key, algorithm="HS256"))
save("noexp", jwt.encode({k: v for k, v in good.items() if k != "exp"}, key, algorithm="HS256"))
save("badrole", jwt.encode(dict(good, role="root"), key, algorithm="HS256"))
save("hs512", jwt.encode(good, key, algorithm="HS512"))
save("otherkey", jwt.encode(good, b"k" * 32, algorithm="HS256"))
try:
    none = jwt.encode(good, None, algorithm="none")
except Exception:
    none = b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(json.dumps(good).encode()) + "."
save("none", none)
# alg none but carrying a valid HS256 signature of its own text
h = b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(json.dumps(good).encode())
import hmac, hashlib
save("none_signed", h + "." + b64(hmac.new(key, h.encode(), hashlib.sha256).digest()))
EOF

out=$("$DJS" token verify --data "$D" "$(cat "$T/valid.tok")") || fail "djs refused the PyJWT token: $out"
[ "$out" = "sub=carol role=worker exp=$("$PY" -c 'import sys,jwt; print(jwt.decode(sys.argv[1], options={"verify_signature": False})["exp"])' "$(cat "$T/valid.tok")")" ] ||
    fail "verify printed '$out'"

check_refused() { # name expected-reason
    local rc=0 out
    out=$("$DJS" token verify --data "$D" "$(cat "$T/$1.tok")" 2>&1) || rc=$?
    [ $rc -eq 1 ] || fail "$1 token: exit $rc ($out), want 1"
    case "$out" in *"$2"*) ;; *) fail "$1 token: '$out' does not say '$2'" ;; esac
}
check_refused expired "token expired"
check_refused future "token not yet valid"
check_refused noexp "missing exp"
check_refused badrole "unknown role"
check_refused hs512 "unsupported alg"
check_refused none "unsupported alg"
check_refused none_signed "unsupported alg"
check_refused otherkey "bad signature"

# a world-readable secret is refused
chmod 0644 "$D/jwt.secret"
set +e
"$DJS" token verify --data "$D" "$(cat "$T/valid.tok")" >/dev/null 2>"$T/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "a 0644 jwt.secret must be refused (exit $rc)"
grep -q "0600" "$T/err" || { cat "$T/err"; fail "no hint about the mode"; }
echo "auth pyjwt interop: OK"
