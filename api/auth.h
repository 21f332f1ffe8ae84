/* Authentication: HS256 JSON Web Tokens (RFC 7519) with one shared key.
 *
 * The key lives in DATA_DIR/jwt.secret (raw bytes, at least 32, mode 0600),
 * created with 32 random bytes on first use. Tokens carry sub, role, iat,
 * nbf and exp. Verification accepts only alg "HS256" (never "none" or any
 * other algorithm named by the token), requires exp, and compares the
 * signature in constant time. Authorization (what a role may do) is not here.
 */
#ifndef DJS_API_AUTH_H
#define DJS_API_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Roles start at 1: a zeroed principal has no role (DJS_ROLE_NONE). */
typedef enum djs_role {
    DJS_ROLE_NONE = 0,
    DJS_ROLE_ADMIN = 1,
    DJS_ROLE_OPERATOR = 2,
    DJS_ROLE_USER = 3,
    DJS_ROLE_WORKER = 4,
} djs_role_t;

/* "admin", "operator", "user", "worker"; "?" for anything else. Static. */
const char *djs_role_name(int role);
/* Exact, case-sensitive lowercase name -> role (> 0), or DJS_EINVAL. */
int djs_role_parse(const char *name);

#define DJS_AUTH_SECRET_FILE "jwt.secret"
#define DJS_AUTH_MIN_KEY 32                     /* bytes: 256 bits */
#define DJS_AUTH_MAX_KEY 4096                   /* a longer secret file is refused */
#define DJS_AUTH_MAX_TOKEN 8192                 /* longer tokens are rejected unparsed */
#define DJS_AUTH_MAX_SUB 255                    /* bytes */
#define DJS_AUTH_JTI_LEN 32                     /* hex digits of a login code's id */
#define DJS_AUTH_MAX_SESSION_TTL (30u * 86400u) /* a login code opens at most 30 days */

typedef struct djs_principal {
    char sub[256];          /* NUL-terminated, 1..255 bytes */
    int role;               /* DJS_ROLE_... */
    uint64_t exp, nbf, iat; /* seconds since the epoch; nbf/iat 0 if absent */
    /* A login code (djs_auth_sign_login): use "login", its jti and the
     * lifetime of the session it opens. login 0: an ordinary token. */
    int login;
    char jti[DJS_AUTH_JTI_LEN + 1];
    uint64_t session_ttl;
} djs_principal_t;

typedef struct djs_auth djs_auth_t;

/* Load DATA_DIR/jwt.secret, creating DATA_DIR (0700, leaf only) and the
 * secret (32 bytes from RAND_bytes, 0600, published atomically with link())
 * when missing. DJS_EPERM if the file is readable or writable by group or
 * others or is not a regular file, DJS_EINVAL if the key is shorter than
 * DJS_AUTH_MIN_KEY or longer than DJS_AUTH_MAX_KEY (or data_dir is NULL,
 * empty or too long for a path), DJS_ECRYPTO if no
 * randomness, else the translation of the failing call's errno
 * (djs_err_from_errno: DJS_ENOTFOUND for a missing parent directory,
 * DJS_EPERM, DJS_ERDONLY, DJS_ESTORAGE for a full disk, DJS_EIO). */
int djs_auth_open(djs_auth_t **out, const char *data_dir);
/* Wipe the key and free. NULL is fine. */
void djs_auth_close(djs_auth_t *a);

/* Append a signed token (base64url text, no padding) to out; a NUL is
 * stored after it but not counted in out->len. Claims: sub, role, iat=nbf=
 * now_s, exp=now_s+ttl_s. DJS_EINVAL for an empty, too long or non-UTF-8
 * sub, an unknown role, ttl_s 0 or an exp beyond INT64_MAX. */
int djs_auth_sign(const djs_auth_t *a, const char *sub, int role, uint64_t now_s, uint64_t ttl_s, djs_buf_t *out);

/* Append a login code: a token with "use":"login", a random 128-bit "jti"
 * (hex) and "sttl", the seconds of the session it opens (1 ..
 * DJS_AUTH_MAX_SESSION_TTL), valid for code_ttl_s. The server takes it only
 * at POST /api/v1/session, once (it remembers the jti until the code
 * expires), never as a bearer token: the code may pass through a URL's
 * fragment and a browser's history. Errors as djs_auth_sign, and
 * DJS_ECRYPTO if no randomness. */
int djs_auth_sign_login(const djs_auth_t *a, const char *sub, int role, uint64_t now_s, uint64_t code_ttl_s, uint64_t session_ttl_s,
                        djs_buf_t *out);

/* Check a token (token[0..len), need not be NUL-terminated). 0 and *out
 * filled, or DJS_EAUTH with *why a short static reason (why may be NULL),
 * or DJS_EINVAL for a NULL a/out. The token is expired when
 * exp + leeway_s <= now_s and not yet valid when nbf > now_s + leeway_s
 * (PyJWT's rules). A "use" claim other than "login", or a login code
 * without a 32-hex-digit jti or a valid sttl, is refused. On failure *out
 * is zeroed. */
int djs_auth_verify(const djs_auth_t *a, const char *token, size_t len, uint64_t now_s, uint64_t leeway_s, djs_principal_t *out,
                    const char **why);

#endif
