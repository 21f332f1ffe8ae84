#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/auth.h"
#include "core/buf.h"
#include "core/error.h"
#include "testutil.h"

#define NOW 1700000000ULL

/* ---- helpers: hand-built tokens ---- */

static void b64url(djs_buf_t *out, const void *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t c = 0; c < chars; c++)
            djs_buf_append(out, &tab[(v >> (18 - 6 * c)) & 63], 1);
    }
}

static uint8_t *read_key(const char *dir, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/jwt.secret", dir);
    uint8_t *k = tu_read_file(path, len);
    ck_assert_ptr_nonnull(k);
    return k;
}

/* header.payload.HMAC-SHA256(key) as a NUL-terminated string in out. */
static void make_token(djs_buf_t *out, const char *hdr, const char *payload, const uint8_t *key, size_t klen)
{
    djs_buf_reset(out);
    b64url(out, hdr, strlen(hdr));
    djs_buf_append(out, ".", 1);
    b64url(out, payload, strlen(payload));
    uint8_t mac[32];
    unsigned int mlen = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)klen, out->base, out->len, mac, &mlen));
    djs_buf_append(out, ".", 1);
    b64url(out, mac, mlen);
    djs_buf_append(out, "", 1);
    out->len--;
}

typedef struct fixture {
    const char *dir;
    djs_auth_t *a;
    uint8_t *key;
    size_t klen;
    djs_buf_t tok;
} fixture_t;

static void fx_open(fixture_t *f)
{
    f->dir = tu_tmpdir();
    ck_assert_int_eq(djs_auth_open(&f->a, f->dir), 0);
    f->key = read_key(f->dir, &f->klen);
    djs_buf_init(&f->tok);
}

static void fx_close(fixture_t *f)
{
    djs_auth_close(f->a);
    free(f->key);
    djs_buf_dispose(&f->tok);
}

static const char *HS256_HDR = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* Verify out->tok at NOW with 30 s leeway; return the reason or NULL. */
static const char *check(fixture_t *f, djs_principal_t *p)
{
    const char *why = "unset";
    int rc = djs_auth_verify(f->a, (const char *)f->tok.base, f->tok.len, NOW, 30, p, &why);
    if (rc == 0) {
        ck_assert_ptr_null(why);
        return NULL;
    }
    ck_assert_int_eq(rc, DJS_EAUTH);
    ck_assert_ptr_nonnull(why);
    return why;
}

static const char *check_claims(fixture_t *f, const char *hdr, const char *payload)
{
    djs_principal_t p;
    make_token(&f->tok, hdr, payload, f->key, f->klen);
    return check(f, &p);
}

#define ck_reason(expr, want)                                                                                                      \
    do {                                                                                                                           \
        const char *got_ = (expr);                                                                                                 \
        ck_assert_msg(got_ != NULL && strcmp(got_, (want)) == 0, "%s: got '%s', want '%s'", #expr, got_ ? got_ : "(accepted)",     \
                      (want));                                                                                                     \
    } while (0)

/* ---- tests ---- */

START_TEST(roles)
{
    ck_assert_str_eq(djs_role_name(DJS_ROLE_ADMIN), "admin");
    ck_assert_str_eq(djs_role_name(DJS_ROLE_OPERATOR), "operator");
    ck_assert_str_eq(djs_role_name(DJS_ROLE_USER), "user");
    ck_assert_str_eq(djs_role_name(DJS_ROLE_WORKER), "worker");
    ck_assert_str_eq(djs_role_name(0), "?");
    ck_assert_str_eq(djs_role_name(99), "?");
    ck_assert_int_eq(djs_role_parse("worker"), DJS_ROLE_WORKER);
    ck_assert_int_eq(djs_role_parse("admin"), DJS_ROLE_ADMIN);
    ck_assert_int_eq(djs_role_parse("Admin"), DJS_EINVAL);
    ck_assert_int_eq(djs_role_parse(""), DJS_EINVAL);
    ck_assert_int_eq(djs_role_parse(NULL), DJS_EINVAL);
}
END_TEST

START_TEST(sign_verify_roundtrip)
{
    fixture_t f;
    fx_open(&f);
    for (int r = DJS_ROLE_ADMIN; r <= DJS_ROLE_WORKER; r++) {
        djs_buf_reset(&f.tok);
        ck_assert_int_eq(djs_auth_sign(f.a, "alice@example", r, NOW, 3600, &f.tok), 0);
        ck_assert_uint_eq(strlen((const char *)f.tok.base), f.tok.len);
        djs_principal_t p;
        ck_assert_ptr_null(check(&f, &p));
        ck_assert_str_eq(p.sub, "alice@example");
        ck_assert_int_eq(p.role, r);
        ck_assert_uint_eq(p.iat, NOW);
        ck_assert_uint_eq(p.nbf, NOW);
        ck_assert_uint_eq(p.exp, NOW + 3600);
    }
    /* the header is exactly the canonical one */
    ck_assert(memcmp(f.tok.base, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);
    /* sign rejects bad input */
    djs_buf_reset(&f.tok);
    char longsub[300];
    memset(longsub, 'x', sizeof longsub - 1);
    longsub[sizeof longsub - 1] = '\0';
    ck_assert_int_eq(djs_auth_sign(f.a, "", DJS_ROLE_USER, NOW, 60, &f.tok), DJS_EINVAL);
    ck_assert_int_eq(djs_auth_sign(f.a, longsub, DJS_ROLE_USER, NOW, 60, &f.tok), DJS_EINVAL);
    longsub[255] = '\0';
    ck_assert_int_eq(djs_auth_sign(f.a, longsub, DJS_ROLE_USER, NOW, 60, &f.tok), 0);
    djs_buf_reset(&f.tok);
    ck_assert_int_eq(djs_auth_sign(f.a, "bob", 0, NOW, 60, &f.tok), DJS_EINVAL);
    ck_assert_int_eq(djs_auth_sign(f.a, "bob", 5, NOW, 60, &f.tok), DJS_EINVAL);
    ck_assert_int_eq(djs_auth_sign(f.a, "bob", DJS_ROLE_USER, NOW, 0, &f.tok), DJS_EINVAL);
    ck_assert_int_eq(djs_auth_sign(f.a, "bob", DJS_ROLE_USER, NOW, UINT64_MAX, &f.tok), DJS_EINVAL);
    ck_assert_int_eq(djs_auth_sign(f.a, "\xff\xfe", DJS_ROLE_USER, NOW, 60, &f.tok), DJS_EINVAL);
    ck_assert_uint_eq(f.tok.len, 0);
    fx_close(&f);
}
END_TEST

START_TEST(secret_file_lifecycle)
{
    const char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/jwt.secret", dir);
    djs_auth_t *a;
    ck_assert_int_eq(djs_auth_open(&a, dir), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, 32);
    djs_buf_t tok;
    djs_buf_init(&tok);
    ck_assert_int_eq(djs_auth_sign(a, "svc", DJS_ROLE_WORKER, NOW, 60, &tok), 0);
    djs_auth_close(a);

    /* reopen: same key, the token still verifies */
    ck_assert_int_eq(djs_auth_open(&a, dir), 0);
    djs_principal_t p;
    ck_assert_int_eq(djs_auth_verify(a, (const char *)tok.base, tok.len, NOW, 0, &p, NULL), 0);
    ck_assert_str_eq(p.sub, "svc");
    djs_auth_close(a);

    /* readable by others: refused */
    ck_assert_int_eq(chmod(path, 0644), 0);
    a = (djs_auth_t *)1;
    ck_assert_int_eq(djs_auth_open(&a, dir), DJS_EPERM);
    ck_assert_ptr_null(a);
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(djs_auth_open(&a, dir), DJS_EPERM);
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(djs_auth_open(&a, dir), 0);
    djs_auth_close(a);

    /* a different key: the old token no longer verifies */
    const char *dir2 = tu_tmpdir();
    ck_assert_int_eq(djs_auth_open(&a, dir2), 0);
    const char *why = NULL;
    ck_assert_int_eq(djs_auth_verify(a, (const char *)tok.base, tok.len, NOW, 0, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "bad signature");
    djs_auth_close(a);

    /* too short (31 bytes): refused; 64 bytes: fine */
    const char *dir3 = tu_tmpdir();
    char path3[512];
    snprintf(path3, sizeof path3, "%s/jwt.secret", dir3);
    uint8_t k[64];
    memset(k, 7, sizeof k);
    ck_assert_int_eq(tu_write_file(path3, k, 31), 0);
    ck_assert_int_eq(chmod(path3, 0600), 0);
    ck_assert_int_eq(djs_auth_open(&a, dir3), DJS_EINVAL);
    ck_assert_int_eq(tu_write_file(path3, k, 0), 0);
    ck_assert_int_eq(djs_auth_open(&a, dir3), DJS_EINVAL);
    ck_assert_int_eq(tu_write_file(path3, k, 64), 0);
    ck_assert_int_eq(chmod(path3, 0600), 0);
    ck_assert_int_eq(djs_auth_open(&a, dir3), 0);
    djs_auth_close(a);

    /* a missing data dir is created 0700 */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/fresh", dir3);
    ck_assert_int_eq(djs_auth_open(&a, sub), 0);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    djs_auth_close(a);
    djs_buf_dispose(&tok);
}
END_TEST

START_TEST(rejects_algorithms)
{
    fixture_t f;
    fx_open(&f);
    const char *claims = "{\"exp\":1700003600,\"role\":\"user\",\"sub\":\"eve\"}";
    ck_assert_ptr_null(check_claims(&f, HS256_HDR, claims));
    ck_assert_ptr_null(check_claims(&f, "{\"alg\":\"HS256\"}", claims)); /* typ optional */
    ck_assert_ptr_null(check_claims(&f, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", claims));
    ck_reason(check_claims(&f, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", claims), "unsupported alg (only HS256)");
    ck_reason(check_claims(&f, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims), "unsupported alg (only HS256)");
    ck_reason(check_claims(&f, "{\"alg\":\"hs256\"}", claims), "unsupported alg (only HS256)");
    ck_reason(check_claims(&f, "{\"typ\":\"JWT\"}", claims), "unsupported alg (only HS256)");
    ck_reason(check_claims(&f, "{\"alg\":null}", claims), "unsupported alg (only HS256)");
    ck_reason(check_claims(&f, "{\"alg\":\"HS256\",\"typ\":\"JWE\"}", claims), "unsupported typ (only JWT)");
    ck_reason(check_claims(&f, "{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", claims), "unsupported crit header");
    ck_reason(check_claims(&f, "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", claims), "malformed header");
    ck_reason(check_claims(&f, "[\"HS256\"]", claims), "malformed header");
    ck_reason(check_claims(&f, "\"HS256\"", claims), "malformed header");
    ck_reason(check_claims(&f, "{\"alg\":\"HS256\"} x", claims), "malformed header");

    /* alg none with an empty signature */
    djs_buf_reset(&f.tok);
    b64url(&f.tok, "{\"alg\":\"none\",\"typ\":\"JWT\"}", 26);
    djs_buf_append(&f.tok, ".", 1);
    b64url(&f.tok, claims, strlen(claims));
    djs_buf_append(&f.tok, ".", 1);
    djs_principal_t p;
    ck_reason(check(&f, &p), "unsupported alg (only HS256)");
    ck_assert_str_eq(p.sub, ""); /* zeroed on failure */
    fx_close(&f);
}
END_TEST

START_TEST(rejects_tampering)
{
    fixture_t f;
    fx_open(&f);
    djs_principal_t p;
    ck_assert_int_eq(djs_auth_sign(f.a, "mallory", DJS_ROLE_USER, NOW, 3600, &f.tok), 0);
    char *t = (char *)f.tok.base;
    char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');

    /* payload swapped for an admin one, signature kept */
    djs_buf_t evil;
    djs_buf_init(&evil);
    djs_buf_append(&evil, t, (size_t)(dot1 + 1 - t));
    const char *admin = "{\"exp\":1700003600,\"iat\":1700000000,\"nbf\":1700000000,\"role\":\"admin\",\"sub\":\"mallory\"}";
    b64url(&evil, admin, strlen(admin));
    djs_buf_append(&evil, dot2, strlen(dot2));
    const char *why;
    ck_assert_int_eq(djs_auth_verify(f.a, (const char *)evil.base, evil.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "bad signature");

    /* one payload character changed */
    char saved = dot1[3];
    dot1[3] = saved == 'A' ? 'B' : 'A';
    ck_reason(check(&f, &p), "bad signature");
    dot1[3] = saved;
    ck_assert_ptr_null(check(&f, &p));

    /* signature: changed char, truncated, extended, dropped */
    size_t last = f.tok.len - 1;
    saved = t[last - 5];
    t[last - 5] = saved == 'A' ? 'B' : 'A';
    ck_reason(check(&f, &p), "bad signature");
    t[last - 5] = saved;
    /* the last char carries 2 data bits: a change in the 4 unused low bits
     * decodes to the same bytes and must still be refused */
    saved = t[last];
    t[last] = (char)(saved ^ 1);
    ck_reason(check(&f, &p), "bad signature");
    t[last] = saved;
    f.tok.len--;
    ck_reason(check(&f, &p), "bad signature");
    f.tok.len++;
    ck_assert_ptr_null(check(&f, &p));
    size_t full = f.tok.len;
    f.tok.len = (size_t)(dot2 + 1 - t);
    ck_reason(check(&f, &p), "bad signature");
    f.tok.len = full;

    /* signed with another key */
    uint8_t other[32];
    memset(other, 0x42, sizeof other);
    make_token(&evil, HS256_HDR, admin, other, sizeof other);
    ck_assert_int_eq(djs_auth_verify(f.a, (const char *)evil.base, evil.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "bad signature");
    djs_buf_dispose(&evil);
    fx_close(&f);
}
END_TEST

START_TEST(rejects_structure)
{
    fixture_t f;
    fx_open(&f);
    djs_principal_t p;
    const char *why;
    ck_assert_int_eq(djs_auth_sign(f.a, "x", DJS_ROLE_USER, NOW, 3600, &f.tok), 0);
    ck_assert_int_eq(djs_auth_verify(f.a, "", 0, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "malformed token");
    ck_assert_int_eq(djs_auth_verify(f.a, NULL, 0, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_int_eq(djs_auth_verify(f.a, "abc", 3, NOW, 30, &p, NULL), DJS_EAUTH);
    ck_assert_int_eq(djs_auth_verify(NULL, "abc", 3, NOW, 30, &p, &why), DJS_EINVAL);
    ck_assert_int_eq(djs_auth_verify(f.a, "abc", 3, NOW, 30, NULL, &why), DJS_EINVAL);

    /* two parts, four parts */
    djs_buf_t b;
    djs_buf_init(&b);
    char *t = (char *)f.tok.base;
    char *dot2 = strrchr(t, '.');
    djs_buf_append(&b, t, (size_t)(dot2 - t));
    ck_assert_int_eq(djs_auth_verify(f.a, (const char *)b.base, b.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "malformed token");
    djs_buf_reset(&b);
    djs_buf_append(&b, t, f.tok.len);
    djs_buf_append(&b, ".", 1);
    ck_assert_int_eq(djs_auth_verify(f.a, (const char *)b.base, b.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "malformed token");
    djs_buf_append(&b, "abc", 3);
    ck_assert_int_eq(djs_auth_verify(f.a, (const char *)b.base, b.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "malformed token");
    ck_assert_int_eq(djs_auth_verify(f.a, "..", 2, NOW, 30, &p, &why), DJS_EAUTH);

    /* bad base64 characters: standard alphabet, padding, spaces */
    djs_buf_reset(&b);
    djs_buf_append(&b, t, f.tok.len);
    char *u = (char *)b.base;
    u[2] = '+';
    ck_assert_int_eq(djs_auth_verify(f.a, u, b.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "malformed header");
    u[2] = t[2];
    u[b.len - 1] = '=';
    ck_assert_int_eq(djs_auth_verify(f.a, u, b.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "bad signature");
    u[b.len - 1] = t[b.len - 1];
    u[strchr(u, '.') - u + 2] = '/';
    ck_assert_int_eq(djs_auth_verify(f.a, u, b.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "bad signature"); /* the signature covers the text */
    /* the exact valid token with a trailing NUL or space inside len */
    djs_buf_reset(&b);
    djs_buf_append(&b, t, f.tok.len);
    djs_buf_append(&b, " ", 1);
    ck_assert_int_eq(djs_auth_verify(f.a, (const char *)b.base, b.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_int_eq(djs_auth_verify(f.a, (const char *)b.base, b.len - 1, NOW, 30, &p, &why), 0);

    /* 9 KiB token: refused before parsing; padding the payload makes the
     * same refusal for a syntactically fine token */
    djs_buf_reset(&b);
    djs_buf_reserve(&b, 9216);
    memset(b.base, 'A', 9216);
    b.len = 9216;
    b.base[100] = b.base[200] = '.';
    ck_assert_int_eq(djs_auth_verify(f.a, (const char *)b.base, b.len, NOW, 30, &p, &why), DJS_EAUTH);
    ck_assert_str_eq(why, "token too long");
    char big[9300];
    int n = snprintf(big, sizeof big, "{\"exp\":1700003600,\"role\":\"user\",\"sub\":\"x\",\"pad\":\"%07000d\"}", 0);
    ck_assert_int_lt(n, (int)sizeof big);
    ck_reason(check_claims(&f, HS256_HDR, big), "token too long");
    djs_buf_dispose(&b);
    fx_close(&f);
}
END_TEST

START_TEST(rejects_claims)
{
    fixture_t f;
    fx_open(&f);
    djs_principal_t p;
    /* NOW = 1700000000, leeway 30 */
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1699999900,\"role\":\"user\",\"sub\":\"a\"}"), "token expired");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1699999970,\"role\":\"user\",\"sub\":\"a\"}"), "token expired");
    ck_assert_ptr_null(check_claims(&f, HS256_HDR, "{\"exp\":1699999971,\"role\":\"user\",\"sub\":\"a\"}")); /* within leeway */
    ck_assert_ptr_null(check_claims(&f, HS256_HDR, "{\"exp\":1700000001,\"role\":\"user\",\"sub\":\"a\"}"));
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"nbf\":1700000100,\"role\":\"user\",\"sub\":\"a\"}"),
              "token not yet valid");
    ck_assert_ptr_null(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"nbf\":1700000030,\"role\":\"user\",\"sub\":\"a\"}"));
    ck_reason(check_claims(&f, HS256_HDR, "{\"role\":\"user\",\"sub\":\"a\"}"), "missing exp");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":\"1700003600\",\"role\":\"user\",\"sub\":\"a\"}"), "invalid exp");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600.5,\"role\":\"user\",\"sub\":\"a\"}"), "invalid exp");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":-1,\"role\":\"user\",\"sub\":\"a\"}"), "invalid exp");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":null,\"role\":\"user\",\"sub\":\"a\"}"), "invalid exp");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"nbf\":\"0\",\"role\":\"user\",\"sub\":\"a\"}"), "invalid nbf");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"iat\":true,\"role\":\"user\",\"sub\":\"a\"}"), "invalid iat");
    /* an exp near the integer limit is fine and does not overflow the leeway */
    ck_assert_ptr_null(check_claims(&f, HS256_HDR, "{\"exp\":9223372036854775807,\"role\":\"user\",\"sub\":\"a\"}"));
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":92233720368547758070,\"role\":\"user\",\"sub\":\"a\"}"), "malformed claims");
    /* duplicate keys: a second sub or role must not win */
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"role\":\"user\",\"role\":\"admin\",\"sub\":\"a\"}"),
              "malformed claims");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"role\":\"user\",\"sub\":\"a\",\"sub\":\"b\"}"),
              "malformed claims");
    ck_reason(check_claims(&f, HS256_HDR, "[1700003600]"), "malformed claims");
    ck_reason(check_claims(&f, HS256_HDR, ""), "malformed claims");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"role\":\"user\"}"), "missing sub");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"role\":\"user\",\"sub\":\"\"}"), "invalid sub");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"role\":\"user\",\"sub\":42}"), "invalid sub");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"role\":\"user\",\"sub\":\"a\\u0000b\"}"), "malformed claims");
    char buf[512];
    snprintf(buf, sizeof buf, "{\"exp\":1700003600,\"role\":\"user\",\"sub\":\"%0256d\"}", 0);
    ck_reason(check_claims(&f, HS256_HDR, buf), "invalid sub");
    snprintf(buf, sizeof buf, "{\"exp\":1700003600,\"role\":\"user\",\"sub\":\"%0255d\"}", 0);
    ck_assert_ptr_null(check_claims(&f, HS256_HDR, buf));
    make_token(&f.tok, HS256_HDR, buf, f.key, f.klen);
    ck_assert_ptr_null(check(&f, &p));
    ck_assert_uint_eq(strlen(p.sub), 255);
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"sub\":\"a\"}"), "missing role");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"role\":\"root\",\"sub\":\"a\"}"), "unknown role");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"role\":\"Admin\",\"sub\":\"a\"}"), "unknown role");
    ck_reason(check_claims(&f, HS256_HDR, "{\"exp\":1700003600,\"role\":1,\"sub\":\"a\"}"), "unknown role");
    /* unknown claims are ignored; UTF-8 sub kept */
    ck_assert_ptr_null(
        check_claims(&f, HS256_HDR, "{\"aud\":\"x\",\"exp\":1700003600,\"role\":\"worker\",\"sub\":\"j\\u00f6rg\",\"x\":[1,{}]}"));
    make_token(&f.tok, HS256_HDR, "{\"exp\":1700003600,\"role\":\"worker\",\"sub\":\"j\\u00f6rg\"}", f.key, f.klen);
    ck_assert_ptr_null(check(&f, &p));
    ck_assert_str_eq(p.sub, "j\xc3\xb6rg");
    ck_assert_int_eq(p.role, DJS_ROLE_WORKER);
    ck_assert_uint_eq(p.nbf, 0);
    fx_close(&f);
}
END_TEST

/* A login code: use "login", a 32-hex jti (a new one per code) and the
 * session's lifetime; malformed ones are refused. */
START_TEST(login_codes)
{
    fixture_t f;
    fx_open(&f);
    djs_principal_t p;
    ck_assert_int_eq(djs_auth_sign_login(f.a, "alice", DJS_ROLE_USER, NOW, 600, 7200, &f.tok), 0);
    ck_assert_ptr_null(check(&f, &p));
    ck_assert_int_eq(p.login, 1);
    ck_assert_int_eq(p.role, DJS_ROLE_USER);
    ck_assert_uint_eq(p.exp, NOW + 600);
    ck_assert_uint_eq(p.session_ttl, 7200);
    ck_assert_uint_eq(strlen(p.jti), DJS_AUTH_JTI_LEN);
    ck_assert_uint_eq(strspn(p.jti, "0123456789abcdef"), DJS_AUTH_JTI_LEN);
    char first[DJS_AUTH_JTI_LEN + 1];
    memcpy(first, p.jti, sizeof first);
    f.tok.len = 0;
    ck_assert_int_eq(djs_auth_sign_login(f.a, "alice", DJS_ROLE_USER, NOW, 600, 7200, &f.tok), 0);
    ck_assert_ptr_null(check(&f, &p));
    ck_assert_str_ne(p.jti, first);
    f.tok.len = 0;
    ck_assert_int_eq(djs_auth_sign(f.a, "bob", DJS_ROLE_ADMIN, NOW, 60, &f.tok), 0);
    ck_assert_ptr_null(check(&f, &p));
    ck_assert_int_eq(p.login, 0);
    ck_assert_str_eq(p.jti, "");
    ck_assert_int_eq(djs_auth_sign_login(f.a, "a", DJS_ROLE_USER, NOW, 600, 0, &f.tok), DJS_EINVAL);
    ck_assert_int_eq(djs_auth_sign_login(f.a, "a", DJS_ROLE_USER, NOW, 600, DJS_AUTH_MAX_SESSION_TTL + 1, &f.tok), DJS_EINVAL);
    ck_assert_int_eq(djs_auth_sign_login(f.a, "a", DJS_ROLE_USER, NOW, 0, 60, &f.tok), DJS_EINVAL);
#define C(extra) "{\"exp\":1700003600,\"role\":\"user\",\"sub\":\"a\"" extra "}"
#define JTI "\"0123456789abcdef0123456789abcdef\""
    ck_assert_ptr_null(check_claims(&f, HS256_HDR, C(",\"use\":\"login\",\"jti\":" JTI ",\"sttl\":60")));
    ck_reason(check_claims(&f, HS256_HDR, C(",\"use\":\"refresh\",\"jti\":" JTI ",\"sttl\":60")), "unknown use");
    ck_reason(check_claims(&f, HS256_HDR, C(",\"use\":1")), "unknown use");
    ck_reason(check_claims(&f, HS256_HDR, C(",\"use\":\"login\",\"sttl\":60")), "invalid jti");
    ck_reason(check_claims(&f, HS256_HDR, C(",\"use\":\"login\",\"jti\":\"0123456789ABCDEF0123456789abcdef\",\"sttl\":60")),
              "invalid jti");
    ck_reason(check_claims(&f, HS256_HDR, C(",\"use\":\"login\",\"jti\":\"0123\",\"sttl\":60")), "invalid jti");
    ck_reason(check_claims(&f, HS256_HDR, C(",\"use\":\"login\",\"jti\":" JTI)), "invalid sttl");
    ck_reason(check_claims(&f, HS256_HDR, C(",\"use\":\"login\",\"jti\":" JTI ",\"sttl\":0")), "invalid sttl");
    ck_reason(check_claims(&f, HS256_HDR, C(",\"use\":\"login\",\"jti\":" JTI ",\"sttl\":2592001")), "invalid sttl");
#undef C
#undef JTI
    fx_close(&f);
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

START_TEST(random_mutations)
{
    fixture_t f;
    fx_open(&f);
    ck_assert_int_eq(djs_auth_sign(f.a, "fuzz", DJS_ROLE_OPERATOR, NOW, 3600, &f.tok), 0);
    const size_t n0 = f.tok.len;
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \"{}";
    char *m = malloc(n0 + 64);
    int accepted = 0;
    for (int it = 0; it < 10000; it++) {
        size_t n = n0;
        memcpy(m, f.tok.base, n0);
        int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits; e++) {
            size_t pos = n ? rnd() % n : 0;
            uint8_t c = (rnd() & 1) ? (uint8_t)alpha[rnd() % (sizeof alpha - 1)] : (uint8_t)rnd();
            switch (rnd() % 4) {
            case 0: /* flip bits */
                if (n)
                    m[pos] = (char)(m[pos] ^ (uint8_t)(1u << (rnd() % 8)));
                break;
            case 1: /* replace */
                if (n)
                    m[pos] = (char)c;
                break;
            case 2: /* insert */
                if (n < n0 + 60) {
                    memmove(m + pos + 1, m + pos, n - pos);
                    m[pos] = (char)c;
                    n++;
                }
                break;
            default: /* delete */
                if (n) {
                    memmove(m + pos, m + pos + 1, n - pos - 1);
                    n--;
                }
                break;
            }
        }
        djs_principal_t p;
        const char *why = NULL;
        int rc = djs_auth_verify(f.a, m, n, NOW, 30, &p, &why);
        int same = n == n0 && memcmp(m, f.tok.base, n0) == 0;
        if (rc == 0) {
            ck_assert_msg(same, "mutation %d verified: %.*s", it, (int)n, m);
            accepted++;
        } else {
            ck_assert_int_eq(rc, DJS_EAUTH);
            ck_assert_ptr_nonnull(why);
            ck_assert_msg(!same, "the original token was refused: %s", why);
        }
    }
    free(m);
    (void)accepted;
    fx_close(&f);
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("jwt");
    tcase_add_test(tc, roles);
    tcase_add_test(tc, sign_verify_roundtrip);
    tcase_add_test(tc, secret_file_lifecycle);
    tcase_add_test(tc, rejects_algorithms);
    tcase_add_test(tc, rejects_tampering);
    tcase_add_test(tc, rejects_structure);
    tcase_add_test(tc, rejects_claims);
    tcase_add_test(tc, login_codes);
    tcase_add_test(tc, random_mutations);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(auth_suite)
