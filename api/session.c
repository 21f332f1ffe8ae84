/* The dashboard's login: POST /api/v1/session exchanges a token, or a
 * one-time login code (djs_auth_sign_login), for the session cookie;
 * GET says who the session is; DELETE ends it (docs/ui.md).
 *
 * The cookie is the bearer token itself, HttpOnly (the page's scripts
 * never see it), SameSite=Strict (no other site's page sends it), Path=/,
 * Secure over TLS, with the token's remaining lifetime as Max-Age. Writes
 * made with the cookie also need the X-DJS-CSRF header and WebSocket
 * upgrades a same-origin Origin (both checked in route.c). A login code is
 * taken once: its jti is remembered until the code expires. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/server_internal.h"
#include "core/alloc.h"
#include "core/error.h"

#define CODE_LEEWAY_S 30

typedef struct used_code {
    char jti[DJS_AUTH_JTI_LEN + 1];
    uint64_t until; /* the code's exp plus the leeway: afterwards it is refused anyway */
} used_code_t;

/* 1 if jti was taken before; else remember it (0), or -1 when the table is
 * full of codes that have not expired. */
static int take_code(djs_server_t *s, const djs_principal_t *p, uint64_t now)
{
    uint32_t live = 0;
    for (uint32_t i = 0; i < s->nused_codes; i++) {
        if (s->used_codes[i].until <= now)
            continue;
        if (strcmp(s->used_codes[i].jti, p->jti) == 0)
            return 1;
        s->used_codes[live++] = s->used_codes[i];
    }
    s->nused_codes = live;
    if (live == DJS__MAX_USED_CODES)
        return -1;
    if (s->used_codes == NULL)
        s->used_codes = djs_calloc(DJS__MAX_USED_CODES, sizeof(used_code_t));
    used_code_t *u = &s->used_codes[s->nused_codes++];
    memcpy(u->jti, p->jti, sizeof(u->jti));
    u->until = p->exp + CODE_LEEWAY_S;
    return 0;
}

void djs__session_dispose(djs_server_t *s)
{
    djs_free(s->used_codes);
    s->used_codes = NULL;
    s->nused_codes = 0;
}

static json_t *who_json(const djs_principal_t *who)
{
    return json_pack("{s:s, s:s, s:o}", "sub", who->sub, "role", djs_role_name(who->role), "exp",
                     who->exp ? json_integer((json_int_t)who->exp) : json_null());
}

static void set_cookie(h2o_req_t *req, const char *token, size_t len, uint64_t max_age)
{
    int tls = req->scheme == &H2O_URL_SCHEME_HTTPS;
    size_t cap = len + 128;
    char *c = h2o_mem_alloc_pool(&req->pool, cap);
    int n = snprintf(c, cap, "%s=%.*s; Path=/; Max-Age=%llu; HttpOnly; SameSite=Strict%s", DJS__SESSION_COOKIE, (int)len, token,
                     (unsigned long long)max_age, tls ? "; Secure" : "");
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, c, (size_t)n);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
}

/* POST /api/v1/session {token} | {code} */
int djs__session_post(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    static const char *const fields[] = {"token", "code", NULL};
    json_t *body = djs__read_json_body(req);
    if (body == NULL)
        return 0;
    int rc = 0;
    if (djs__only_fields(req, body, fields) != 0)
        goto done;
    json_t *tj = json_object_get(body, "token"), *cj = json_object_get(body, "code");
    if ((tj == NULL) == (cj == NULL)) {
        djs__problem(req, 400, "invalid-body", "Invalid body",
                     "give exactly one of token (a bearer token) and code (a login code)");
        goto done;
    }
    json_t *v = tj ? tj : cj;
    const char *field = tj ? "token" : "code";
    if (!json_is_string(v) || json_string_length(v) == 0) {
        djs__wrong_type(req, field, "a non-empty string");
        goto done;
    }
    if (s->cfg.auth == NULL) { /* --insecure-no-auth: every request is already an admin */
        djs_principal_t anon;
        memset(&anon, 0, sizeof(anon));
        snprintf(anon.sub, sizeof(anon.sub), "anonymous");
        anon.role = DJS_ROLE_ADMIN;
        djs__send_json_new(req, 200, who_json(&anon), 0);
        goto done;
    }
    uint64_t now = (uint64_t)time(NULL);
    djs_principal_t p;
    const char *why = NULL;
    if (djs_auth_verify(s->cfg.auth, json_string_value(v), json_string_length(v), now, CODE_LEEWAY_S, &p, &why) != 0) {
        char detail[160];
        snprintf(detail, sizeof(detail), "the %s is refused: %s", field, why ? why : "invalid");
        djs__problem(req, 401, "unauthorized", "Unauthorized", detail);
        goto done;
    }
    if (tj != NULL && p.login) {
        djs__problem(req, 400, "login-code-as-token", "Invalid body", "this is a login code: send it as code, not token");
        goto done;
    }
    if (cj != NULL && !p.login) {
        djs__problem(req, 400, "not-a-login-code", "Invalid body",
                     "code takes a login code (djs token create --login-code); send a bearer token as token");
        goto done;
    }
    if (tj != NULL) {
        set_cookie(req, json_string_value(tj), json_string_length(tj), p.exp > now ? p.exp - now : 0);
        djs__send_json_new(req, 200, who_json(&p), 0);
        goto done;
    }
    int t = take_code(s, &p, now);
    if (t != 0) {
        if (t > 0)
            djs__problem(req, 401, "login-code-used", "Unauthorized", "this login code was used already: ask for a new one");
        else
            djs__problem(req, 503, "busy", "Service Unavailable", "too many unexpired login codes were used: retry in a minute");
        goto done;
    }
    djs_buf_t tok;
    djs_buf_init(&tok);
    if ((rc = djs_auth_sign(s->cfg.auth, p.sub, p.role, now, p.session_ttl, &tok)) != 0) {
        djs_buf_dispose(&tok);
        djs__problem(req, 500, "internal", "Internal Server Error", djs_strerror(rc));
        rc = 0;
        goto done;
    }
    djs_principal_t sess = p;
    sess.login = 0;
    sess.jti[0] = '\0';
    sess.iat = sess.nbf = now;
    sess.exp = now + p.session_ttl;
    set_cookie(req, (const char *)tok.base, tok.len, p.session_ttl);
    djs_buf_dispose(&tok);
    djs__send_json_new(req, 200, who_json(&sess), 0);
done:
    json_decref(body);
    return rc;
}

/* GET /api/v1/session: who this session (or token) is. */
int djs__session_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)s, (void)id, (void)arg;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    return djs__send_json_new(req, 200, who_json(who), 0);
}

/* DELETE /api/v1/session: the browser forgets the cookie. The token stays
 * valid until it expires (tokens are not revocable; rotate the secret to
 * end them all: docs/operations.md). */
int djs__session_delete(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)s, (void)who, (void)id, (void)arg;
    set_cookie(req, "", 0, 0);
    req->res.status = 204;
    req->res.reason = "No Content";
    djs__observe(req, 204);
    h2o_send_inline(req, NULL, 0);
    return 0;
}
