#include "api/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

#define HS256_LEN 32

struct djs_auth {
    size_t key_len;
    uint8_t key[DJS_AUTH_MAX_KEY];
};

/* ---- roles ---- */

static const char *const role_names[] = {
    [DJS_ROLE_ADMIN] = "admin",
    [DJS_ROLE_OPERATOR] = "operator",
    [DJS_ROLE_USER] = "user",
    [DJS_ROLE_WORKER] = "worker",
};

const char *djs_role_name(int role)
{
    if (role < DJS_ROLE_ADMIN || role > DJS_ROLE_WORKER)
        return "?";
    return role_names[role];
}

int djs_role_parse(const char *name)
{
    if (name == NULL)
        return DJS_EINVAL;
    for (int r = DJS_ROLE_ADMIN; r <= DJS_ROLE_WORKER; r++)
        if (strcmp(name, role_names[r]) == 0)
            return r;
    return DJS_EINVAL;
}

/* ---- key file ---- */

static int read_key(int fd, djs_auth_t *a)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return djs_err_from_errno(errno);
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0)
        return DJS_EPERM;
    size_t n = 0;
    for (;;) {
        uint8_t extra;
        uint8_t *p = n < sizeof a->key ? a->key + n : &extra;
        size_t want = n < sizeof a->key ? sizeof a->key - n : 1;
        ssize_t r = read(fd, p, want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return djs_err_from_errno(errno);
        }
        if (r == 0)
            break;
        if (p == &extra) {
            OPENSSL_cleanse(&extra, 1);
            return DJS_EINVAL; /* longer than DJS_AUTH_MAX_KEY */
        }
        n += (size_t)r;
    }
    if (n < DJS_AUTH_MIN_KEY)
        return DJS_EINVAL;
    a->key_len = n;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return djs_err_from_errno(errno);
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write a new secret to a private temporary file, then link() it into place:
 * readers never see a partly written key, and of two racing creators the
 * first link wins and the other uses its key. */
static int create_key(const char *dir, const char *path)
{
    uint8_t key[DJS_AUTH_MIN_KEY];
    if (RAND_bytes(key, sizeof key) != 1)
        return DJS_ECRYPTO;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/%s.tmp.%ld", dir, DJS_AUTH_SECRET_FILE, (long)getpid()) >= (int)sizeof tmp) {
        OPENSSL_cleanse(key, sizeof key);
        return DJS_EINVAL;
    }
    (void)unlink(tmp); /* a leftover of a crashed run with our pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        OPENSSL_cleanse(key, sizeof key);
        return djs_err_from_errno(errno);
    }
    int rc = write_all(fd, key, sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    if (rc == 0 && fsync(fd) != 0)
        rc = djs_err_from_errno(errno);
    if (close(fd) != 0 && rc == 0)
        rc = djs_err_from_errno(errno);
    if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST)
        rc = djs_err_from_errno(errno);
    (void)unlink(tmp);
    if (rc == 0) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    return rc;
}

int djs_auth_open(djs_auth_t **out, const char *data_dir)
{
    if (out == NULL || data_dir == NULL || *data_dir == '\0')
        return DJS_EINVAL;
    *out = NULL;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", data_dir, DJS_AUTH_SECRET_FILE) >= (int)sizeof path)
        return DJS_EINVAL;
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
        return djs_err_from_errno(errno);
    int fd = -1;
    for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0)
            break;
        if (errno != ENOENT)
            return errno == ELOOP ? DJS_EPERM : djs_err_from_errno(errno);
        if (attempt == 0) {
            int rc = create_key(data_dir, path);
            if (rc != 0)
                return rc;
        }
    }
    if (fd < 0)
        return djs_err_from_errno(errno);
    djs_auth_t *a = djs_calloc(1, sizeof *a);
    int rc = read_key(fd, a);
    close(fd);
    if (rc != 0) {
        djs_auth_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void djs_auth_close(djs_auth_t *a)
{
    if (a == NULL)
        return;
    OPENSSL_cleanse(a, sizeof *a);
    djs_free(a);
}

/* ---- base64url (RFC 4648 section 5, no padding) ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(djs_buf_t *out, const uint8_t *p, size_t n)
{
    char *o = (char *)djs_buf_reserve(out, (n + 2) / 3 * 4);
    size_t k = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[k++] = b64url[v >> 18];
        o[k++] = b64url[(v >> 12) & 63];
        o[k++] = b64url[(v >> 6) & 63];
        o[k++] = b64url[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[k++] = b64url[v >> 18];
        o[k++] = b64url[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[k++] = b64url[v >> 18];
        o[k++] = b64url[(v >> 12) & 63];
        o[k++] = b64url[(v >> 6) & 63];
    }
    out->len += k;
}

static int b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Strict decode: only the URL alphabet, no padding, and the unused low bits
 * of the last character must be zero, so each byte string has exactly one
 * accepted encoding. dst needs n * 3 / 4 bytes. Returns the length or -1. */
static long b64url_decode(const char *s, size_t n, uint8_t *dst)
{
    if (n % 4 == 1)
        return -1;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[k++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-zero leftover bits: not the canonical encoding */
        return -1;
    return (long)k;
}

/* ---- signing ---- */

static int hs256(const djs_auth_t *a, const void *msg, size_t n, uint8_t mac[HS256_LEN])
{
    unsigned int mlen = 0;
    if (HMAC(EVP_sha256(), a->key, (int)a->key_len, msg, n, mac, &mlen) == NULL || mlen != HS256_LEN)
        return DJS_ECRYPTO;
    return 0;
}

static int append_json_b64(djs_buf_t *out, json_t *j)
{
    if (j == NULL)
        return DJS_EINVAL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (s == NULL)
        return DJS_EINVAL;
    b64url_encode(out, (const uint8_t *)s, strlen(s));
    free(s);
    return 0;
}

/* Sign sub, role, iat, nbf, exp and, for a login code (jti not NULL),
 * use, jti and sttl. */
static int sign(const djs_auth_t *a, const char *sub, int role, uint64_t now_s, uint64_t ttl_s, const char *jti, uint64_t sttl,
                djs_buf_t *out)
{
    if (a == NULL || sub == NULL || out == NULL)
        return DJS_EINVAL;
    size_t sublen = strlen(sub);
    if (sublen == 0 || sublen > DJS_AUTH_MAX_SUB || role < DJS_ROLE_ADMIN || role > DJS_ROLE_WORKER || ttl_s == 0)
        return DJS_EINVAL;
    if (now_s > (uint64_t)INT64_MAX || ttl_s > (uint64_t)INT64_MAX - now_s)
        return DJS_EINVAL;
    json_t *sj = json_string(sub); /* NULL for invalid UTF-8 */
    if (sj == NULL)
        return DJS_EINVAL;
    json_t *claims = json_pack("{s:o, s:s, s:I, s:I, s:I}", "sub", sj, "role", djs_role_name(role), "iat", (json_int_t)now_s, "nbf",
                               (json_int_t)now_s, "exp", (json_int_t)(now_s + ttl_s));
    if (jti != NULL) {
        json_object_set_new(claims, "use", json_string("login"));
        json_object_set_new(claims, "jti", json_string(jti));
        json_object_set_new(claims, "sttl", json_integer((json_int_t)sttl));
    }
    size_t start = out->len;
    int rc = append_json_b64(out, json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT"));
    if (rc == 0) {
        djs_buf_append(out, ".", 1);
        rc = append_json_b64(out, claims);
    } else {
        json_decref(claims);
    }
    uint8_t mac[HS256_LEN];
    if (rc == 0)
        rc = hs256(a, out->base + start, out->len - start, mac);
    if (rc != 0) {
        out->len = start;
        return rc;
    }
    djs_buf_append(out, ".", 1);
    b64url_encode(out, mac, sizeof mac);
    *djs_buf_reserve(out, 1) = '\0';
    return 0;
}

int djs_auth_sign(const djs_auth_t *a, const char *sub, int role, uint64_t now_s, uint64_t ttl_s, djs_buf_t *out)
{
    return sign(a, sub, role, now_s, ttl_s, NULL, 0, out);
}

int djs_auth_sign_login(const djs_auth_t *a, const char *sub, int role, uint64_t now_s, uint64_t code_ttl_s, uint64_t session_ttl_s,
                        djs_buf_t *out)
{
    if (session_ttl_s == 0 || session_ttl_s > DJS_AUTH_MAX_SESSION_TTL)
        return DJS_EINVAL;
    uint8_t raw[DJS_AUTH_JTI_LEN / 2];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return DJS_ECRYPTO;
    char jti[DJS_AUTH_JTI_LEN + 1];
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        jti[2 * i] = hex[raw[i] >> 4];
        jti[2 * i + 1] = hex[raw[i] & 15];
    }
    jti[DJS_AUTH_JTI_LEN] = '\0';
    return sign(a, sub, role, now_s, code_ttl_s, jti, session_ttl_s, out);
}

/* ---- verification ---- */

/* Decode a base64url part holding a JSON object (duplicate keys refused). */
static json_t *part_json(const char *s, size_t n)
{
    uint8_t *raw = djs_malloc(n / 4 * 3 + 3);
    long k = b64url_decode(s, n, raw);
    json_t *j = NULL;
    if (k > 0) {
        json_error_t err;
        j = json_loadb((const char *)raw, (size_t)k, JSON_REJECT_DUPLICATES, &err);
        if (j != NULL && !json_is_object(j)) {
            json_decref(j);
            j = NULL;
        }
    }
    djs_free(raw);
    return j;
}

/* An optional non-negative integer claim: 1 present (*v set), 0 absent,
 * -1 present but not a non-negative integer. */
static int int_claim(json_t *claims, const char *name, uint64_t *v)
{
    json_t *j = json_object_get(claims, name);
    if (j == NULL)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return -1;
    *v = (uint64_t)json_integer_value(j);
    return 1;
}

static uint64_t sat_add(uint64_t x, uint64_t y)
{
    return x > UINT64_MAX - y ? UINT64_MAX : x + y;
}

static const char *check_claims(json_t *c, uint64_t now_s, uint64_t leeway_s, djs_principal_t *p)
{
    int r = int_claim(c, "exp", &p->exp);
    if (r == 0)
        return "missing exp";
    if (r < 0)
        return "invalid exp";
    if (int_claim(c, "nbf", &p->nbf) < 0)
        return "invalid nbf";
    if (int_claim(c, "iat", &p->iat) < 0)
        return "invalid iat";
    if (sat_add(p->exp, leeway_s) <= now_s)
        return "token expired";
    if (p->nbf > sat_add(now_s, leeway_s))
        return "token not yet valid";
    json_t *sub = json_object_get(c, "sub");
    if (sub == NULL)
        return "missing sub";
    if (!json_is_string(sub) || json_string_length(sub) == 0 || json_string_length(sub) > DJS_AUTH_MAX_SUB)
        return "invalid sub";
    json_t *role = json_object_get(c, "role");
    if (role == NULL)
        return "missing role";
    int rv = json_is_string(role) ? djs_role_parse(json_string_value(role)) : DJS_EINVAL;
    if (rv < 0)
        return "unknown role";
    /* the loader refuses \u0000 (no JSON_ALLOW_NUL), so the length is strlen */
    memcpy(p->sub, json_string_value(sub), json_string_length(sub));
    p->sub[json_string_length(sub)] = '\0';
    p->role = rv;
    json_t *use = json_object_get(c, "use");
    if (use == NULL)
        return NULL;
    if (!json_is_string(use) || strcmp(json_string_value(use), "login") != 0)
        return "unknown use";
    json_t *jti = json_object_get(c, "jti");
    if (!json_is_string(jti) || json_string_length(jti) != DJS_AUTH_JTI_LEN ||
        strspn(json_string_value(jti), "0123456789abcdef") != DJS_AUTH_JTI_LEN)
        return "invalid jti";
    if (int_claim(c, "sttl", &p->session_ttl) != 1 || p->session_ttl == 0 || p->session_ttl > DJS_AUTH_MAX_SESSION_TTL)
        return "invalid sttl";
    memcpy(p->jti, json_string_value(jti), DJS_AUTH_JTI_LEN + 1);
    p->login = 1;
    return NULL;
}

static const char *verify(const djs_auth_t *a, const char *t, size_t len, uint64_t now_s, uint64_t leeway_s, djs_principal_t *p)
{
    if (t == NULL || len == 0)
        return "malformed token";
    if (len > DJS_AUTH_MAX_TOKEN)
        return "token too long";
    const char *d1 = memchr(t, '.', len);
    if (d1 == NULL)
        return "malformed token";
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t));
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)) != NULL)
        return "malformed token";
    size_t hlen = (size_t)(d1 - t), plen = (size_t)(d2 - d1 - 1), slen = len - (size_t)(d2 + 1 - t);

    json_t *hdr = part_json(t, hlen);
    if (hdr == NULL)
        return "malformed header";
    json_t *alg = json_object_get(hdr, "alg");
    json_t *typ = json_object_get(hdr, "typ");
    const char *why = NULL;
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        why = "unsupported alg (only HS256)";
    else if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        why = "unsupported typ (only JWT)";
    else if (json_object_get(hdr, "crit") != NULL)
        why = "unsupported crit header";
    json_decref(hdr);
    if (why != NULL)
        return why;

    /* 32 bytes encode to 43 characters; anything else cannot match */
    uint8_t sig[HS256_LEN + 3], mac[HS256_LEN];
    if (slen != 43 || b64url_decode(d2 + 1, slen, sig) != HS256_LEN)
        return "bad signature";
    if (hs256(a, t, (size_t)(d2 - t), mac) != 0)
        return "signature check failed";
    if (CRYPTO_memcmp(sig, mac, HS256_LEN) != 0)
        return "bad signature";

    json_t *claims = part_json(d1 + 1, plen);
    if (claims == NULL)
        return "malformed claims";
    why = check_claims(claims, now_s, leeway_s, p);
    json_decref(claims);
    return why;
}

int djs_auth_verify(const djs_auth_t *a, const char *token, size_t len, uint64_t now_s, uint64_t leeway_s, djs_principal_t *out,
                    const char **why)
{
    if (why != NULL)
        *why = NULL;
    if (a == NULL || out == NULL) {
        if (why != NULL)
            *why = "invalid argument";
        return DJS_EINVAL;
    }
    memset(out, 0, sizeof *out);
    const char *w = verify(a, token, len, now_s, leeway_s, out);
    if (w != NULL) {
        memset(out, 0, sizeof *out);
        if (why != NULL)
            *why = w;
        return DJS_EAUTH;
    }
    return 0;
}
