#include "api/server.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <h2o.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/job.h"
#include "core/mp.h"
#include "api/auth.h"
#include "api/jtext.h"
#include "api/prom.h"
#include "api/render.h"
#include "api/stream.h"
#include "projections/jobview.h"

#define API "/api/v1"
#define PROBLEM_BASE "https://djs.dev/problems/"
#define MAX_JSON_DEPTH 32

typedef struct handler {
    h2o_handler_t super;
    djs_server_t *server;
} handler_t;

struct djs_server {
    djs_server_config_t cfg;
    uv_loop_t *loop;
    djs_engine_t *engine;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    int port;
    int stopping;
    struct poller *pollers; /* parked long-polls */
    int conns;              /* open connections */
    int listener_closed;
    SSL_CTX *ssl;           /* NULL: plain HTTP */
    struct bucket *buckets; /* rate limiting, per principal */
    uint32_t nbuckets;
    struct auth_memo *memo; /* tokens already verified, see authenticate */
    djs_buf_t scratch;      /* answers rendered without jansson */
    djs_http_stats_t http;  /* requests by route and status, for /metrics */
    djs_streams_t *streams; /* WebSocket and SSE subscribers */
    struct conn *conn_list; /* open connections */
    uv_timer_t drain;       /* after stop: ends the connections that are still open */
    int drain_on;
};

/* A parked POST /workers/{id}/poll: answered at the first assignment for
 * its worker or when its wait ends (an empty list). */
typedef struct poller {
    struct poller *prev, *next;
    djs_server_t *server;
    h2o_req_t *req; /* NULL once answered or gone */
    djs_id_t worker;
    uint32_t max;
    uv_timer_t timer;
    struct poller_ref *ref;
    struct wake *wake;   /* pending "answer once durable", or NULL */
    djs_buf_t results;   /* the results (a JSON array) of the reports the poll carried */
    int has_results;     /* it carried some (possibly an empty list) */
    uint64_t report_seq; /* the last event those reports wrote: answer once durable */
    int failed;          /* the log failed before report_seq was durable */
} poller_t;

/* Assignments are handed out only once durable (a worker must never run a
 * placement that a crash could erase); this token waits for that. */
typedef struct wake {
    poller_t *p; /* NULL if the poller finished meanwhile */
} wake_t;

typedef struct poller_ref {
    poller_t *p;
} poller_ref_t;

/* ---- responses ----------------------------------------------------------------- */

/* The route as a template: path segments that are ids become {id}, so the
 * metrics' label set stays small. */
/* Like snprintf(out + k, n - k, "%.*s", len, p) when k < n; returns k + len. */
static size_t put_text(char *out, size_t n, size_t k, const char *p, size_t len)
{
    if (k < n) {
        size_t room = n - k - 1, c = len < room ? len : room;
        memcpy(out + k, p, c);
        out[k + c] = '\0';
    }
    return k + len;
}

/* Decimal text of x ending at end (exclusive); returns its start. */
static char *u64_text(char *end, uint64_t x)
{
    do
        *--end = (char)('0' + x % 10);
    while ((x /= 10) != 0);
    return end;
}

static void route_template(h2o_req_t *req, char *out, size_t n)
{
    const char *p = req->path_normalized.base, *end = p + req->path_normalized.len;
    size_t k = 0;
    while (p < end && k + 8 < n) {
        const char *seg = p + 1, *slash = memchr(seg, '/', (size_t)(end - seg));
        const char *stop = slash ? slash : end;
        djs_id_t id;
        k = put_text(out, n, k, "/", 1);
        if (djs_id_parse(seg, (size_t)(stop - seg), &id) == 0)
            k = put_text(out, n, k, "{id}", 4);
        else
            k = put_text(out, n, k, seg, (size_t)(stop - seg));
        p = stop;
    }
    if (k == 0)
        put_text(out, n, 0, "/", 1);
}

static void observe(h2o_req_t *req, int status)
{
    djs_server_t *s = (djs_server_t *)((char *)req->conn->ctx - offsetof(djs_server_t, ctx));
    char route[128], method[16];
    struct timeval now;
    gettimeofday(&now, NULL);
    int64_t us = (now.tv_sec - req->timestamps.request_begin_at.tv_sec) * 1000000LL +
                 (now.tv_usec - req->timestamps.request_begin_at.tv_usec);
    route_template(req, route, sizeof(route));
    put_text(method, sizeof(method), 0, req->method.base, req->method.len < 15 ? req->method.len : 15);
    djs_http_stats_observe(&s->http, route, method, status, us > 0 ? (uint64_t)us * 1000 : 0);
}

/* Answer with JSON text (copied into the request's pool). */
static void send_text(h2o_req_t *req, int status, const char *text, size_t len, uint64_t seq)
{
    observe(req, status);
    char *copy = h2o_mem_alloc_pool(&req->pool, len);
    memcpy(copy, text, len);
    req->res.status = status;
    req->res.reason = status == 200 ? "OK" : status == 201 ? "Created" : status == 202 ? "Accepted" : "";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (seq > 0) {
        char *s = h2o_mem_alloc_pool(&req->pool, 24), *t = u64_text(s + 24, seq);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("djs-seq"), 0, NULL, t, (size_t)(s + 24 - t));
    }
    req->res.content_length = len; /* not chunked: one write, simpler clients */
    h2o_send_inline(req, copy, len);
}

static void send_json(h2o_req_t *req, int status, json_t *body, uint64_t seq)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL) /* out of memory, or a value that cannot be rendered */
        text = strdup("{\"error\":\"the answer could not be rendered\"}"), status = 500;
    send_text(req, status, text, strlen(text), seq);
    free(text);
}

/* send_json, then drop the reference to body */
static int send_json_new(h2o_req_t *req, int status, json_t *body, uint64_t seq)
{
    send_json(req, status, body, seq);
    json_decref(body);
    return 0;
}

/* RFC 9457 problem details. `type` is a stable slug. The detail may quote
 * client bytes: it is made valid UTF-8 here. */
/* problem() with extension members (RFC 9457 §3.2): ext is stolen. */
static int problem_ext(h2o_req_t *req, int status, const char *type, const char *title, const char *detail, json_t *ext);

static int problem(h2o_req_t *req, int status, const char *type, const char *title, const char *detail)
{
    return problem_ext(req, status, type, title, detail, NULL);
}

static int problem_ext(h2o_req_t *req, int status, const char *type, const char *title, const char *detail, json_t *ext)
{
    observe(req, status);
    const char *d = detail ? detail : title;
    json_t *b = json_object();
    char t[128];
    snprintf(t, sizeof(t), PROBLEM_BASE "%s", type);
    json_object_set_new(b, "type", json_string(t));
    json_object_set_new(b, "title", json_string(title));
    json_object_set_new(b, "status", json_integer(status));
    json_object_set_new(b, "detail", djs_json_str_lossy(d, strlen(d)));
    json_object_set_new(b, "instance", djs_json_str_lossy(req->path.base, req->path.len));
    if (ext != NULL) {
        json_object_update(b, ext);
        json_decref(ext);
    }
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    if (text == NULL)
        text = strdup("{}");
    size_t len = strlen(text);
    char *copy = h2o_mem_alloc_pool(&req->pool, len);
    memcpy(copy, text, len);
    free(text);
    req->res.status = status;
    req->res.reason = title;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/problem+json"));
    req->res.content_length = len; /* not chunked: one write, simpler clients */
    h2o_send_inline(req, copy, len);
    return 0;
}

static int query_number(h2o_req_t *req, const char *name, uint64_t dflt, uint64_t *out);
static json_t *read_json_body(h2o_req_t *req);
static int only_fields(h2o_req_t *req, json_t *j, const char *const *allowed);
static int only_fields_at(h2o_req_t *req, json_t *j, const char *const *allowed, const char *at);
static int wrong_type(h2o_req_t *req, const char *field, const char *what);

/* RFC 3339 time (2026-11-27T10:02:00Z, fractions, or +01:00 offsets; a '+'
 * that arrived as a space in a query string is accepted) -> ns. */
static int parse_rfc3339(const char *p, size_t len, uint64_t *ns)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '%' && i + 2 < len && buf[i + 1] == '3' && (buf[i + 2] == 'A' || buf[i + 2] == 'a'))
            buf[i] = ':', memmove(buf + i + 1, buf + i + 3, len - i - 2), len -= 2;
        else if (buf[i] == '%' && i + 2 < len && buf[i + 1] == '2' && (buf[i + 2] == 'B' || buf[i + 2] == 'b'))
            buf[i] = '+', memmove(buf + i + 1, buf + i + 3, len - i - 2), len -= 2;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int used = 0;
    if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
               &used) != 6)
        return -1;
    const char *r = buf + used;
    uint64_t frac = 0, scale = 1000000000ULL;
    if (*r == '.') {
        r++;
        while (*r >= '0' && *r <= '9') {
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*r - '0') * scale;
            }
            r++;
        }
    }
    long off = 0;
    if (*r == 'Z' || *r == 'z') {
        r++;
    } else if (*r == '+' || *r == '-' || *r == ' ') {
        int hh, mm;
        char sign = *r == '-' ? '-' : '+';
        if (sscanf(r + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
            return -1;
        off = (hh * 3600L + mm * 60L) * (sign == '-' ? -1 : 1);
        r += 6;
    } else {
        return -1;
    }
    if (*r != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60 || tm.tm_year < 1970)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm) - off;
    if (t < 0)
        return -1;
    *ns = (uint64_t)t * 1000000000ULL + frac;
    return 0;
}

/* The point a read is about: ?at_seq=N or ?as_of=RFC3339 (the last event at
 * or before that time). *seq = durable seq when neither is given. 0 or -1
 * after a 400 answer. */
static int read_point(djs_server_t *s, h2o_req_t *req, uint64_t *seq, int *given)
{
    djs_log_t *log = djs_engine_log(s->engine);
    uint64_t durable = djs_log_durable_seq(log);
    const char *v;
    size_t len;
    *given = 0;
    *seq = durable;
    if (djs_query_str(req, "at_seq", &v, &len)) {
        uint64_t n;
        if (query_number(req, "at_seq", 0, &n) != 0)
            return -1;
        if (n > durable)
            return problem(req, 400, "invalid-query", "Invalid query", "at_seq is beyond the last durable event"), -1;
        *seq = n;
        *given = 1;
    } else if (djs_query_str(req, "as_of", &v, &len)) {
        uint64_t ns, first;
        if (parse_rfc3339(v, len, &ns) != 0)
            return problem(req, 400, "invalid-query", "Invalid query", "as_of must be an RFC 3339 time, e.g. 2026-11-27T10:02:00Z"),
                   -1;
        int rc = djs_log_seq_at_time(log, ns + 1, &first);
        *seq = rc == 0 ? first - 1 : durable;
        if (*seq > durable)
            *seq = durable;
        *given = 1;
    }
    return 0;
}

/* Map an engine or log error to a status, slug and title. */
static int engine_status(int rc, const char **type, const char **title)
{
    static const struct {
        int rc, status;
        const char *type, *title;
    } map[] = {
        {DJS_ENOTFOUND, 404, "not-found", "Not Found"},
        {DJS_ECONFLICT, 409, "conflict", "Conflict"},
        {DJS_ECYCLE, 409, "dependency-cycle", "Dependency cycle"},
        {DJS_ESTALE, 409, "stale-attempt", "Stale attempt"},
        {DJS_ETOOBIG, 422, "limit-exceeded", "Limit exceeded"},
        {DJS_ELIMIT, 422, "limit-exceeded", "Limit exceeded"},
        {DJS_EINVAL, 422, "invalid-value", "Invalid value"},
        {DJS_ESTORAGE, 503, "log-unavailable", "Event log not writable"},
        {DJS_EMAPFULL, 503, "log-unavailable", "Event log not writable"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].rc == rc) {
            *type = map[i].type;
            *title = map[i].title;
            return map[i].status;
        }
    *type = "internal";
    *title = "Internal error";
    return 500;
}

static int engine_problem(h2o_req_t *req, djs_engine_t *e, int rc)
{
    const char *type, *title;
    int status = engine_status(rc, &type, &title);
    return problem(req, status, type, title, status == 500 ? djs_strerror(rc) : djs_engine_errmsg(e));
}

/* ---- authentication and roles --------------------------------------------------------- */

#define R(x) (1u << DJS_ROLE_##x)
#define STAFF (R(ADMIN) | R(OPERATOR))

/* 403 unless the principal's role is in mask. */
static int allow(h2o_req_t *req, const djs_principal_t *who, unsigned mask)
{
    if ((mask >> who->role) & 1u)
        return 1;
    char detail[128];
    snprintf(detail, sizeof(detail), "the %s role may not do this", djs_role_name(who->role));
    problem(req, 403, "forbidden", "Forbidden", detail);
    return 0;
}

/* A worker token may act only for the worker registered under its subject. */
static int worker_self(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *wid)
{
    if (who->role != DJS_ROLE_WORKER)
        return 1;
    djs_worker_t *w = djs_state_worker(djs_engine_state(s->engine), wid);
    if (w != NULL && strcmp(w->name, who->sub) == 0)
        return 1;
    problem(req, 403, "forbidden", "Forbidden", "a worker token acts only for the worker registered under its subject");
    return 0;
}

/* Rate limiting: a token bucket per principal (rate per second, burst).
 * At most MAX_BUCKETS principals are tracked; when the table is full it is
 * cleared (every principal starts again with a full bucket), which errs on
 * the side of serving. */
#define MAX_BUCKETS 4096
typedef struct bucket {
    char sub[256];
    double tokens;
    uint64_t last_ns;
} bucket_t;

/* 1 if the principal may go on; else answers 429 with Retry-After. */
static int rate_ok(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who)
{
    if (s->cfg.rate_per_s == 0)
        return 1;
    bucket_t *b = NULL;
    for (uint32_t i = 0; i < s->nbuckets && b == NULL; i++)
        if (strcmp(s->buckets[i].sub, who->sub) == 0)
            b = &s->buckets[i];
    uint64_t now = djs_monotonic_ns();
    double burst = s->cfg.rate_burst ? s->cfg.rate_burst : s->cfg.rate_per_s;
    if (b == NULL) {
        if (s->buckets == NULL)
            s->buckets = djs_calloc(MAX_BUCKETS, sizeof(bucket_t));
        if (s->nbuckets == MAX_BUCKETS)
            s->nbuckets = 0;
        b = &s->buckets[s->nbuckets++];
        snprintf(b->sub, sizeof(b->sub), "%s", who->sub);
        b->tokens = burst;
        b->last_ns = now;
    }
    b->tokens += (now - b->last_ns) / 1e9 * s->cfg.rate_per_s;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_ns = now;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 1;
    }
    char *ra = h2o_mem_alloc_pool(&req->pool, 16);
    int n = snprintf(ra, 16, "%d", (int)((1 - b->tokens) / s->cfg.rate_per_s) + 1);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, ra, (size_t)n);
    problem(req, 429, "rate-limited", "Too Many Requests",
            "this principal is over its request rate: retry after the given seconds");
    return 0;
}

/* Tokens whose signature and claims were verified, so that a client
 * sending the same token on every request (every client does) pays the
 * HMAC and two JSON parses once: 18% of the loop thread under GET
 * /jobs/{id} (perf). The answer of djs_auth_verify depends only on the
 * token's bytes, the key (fixed for the server's life) and the time, and
 * the time rules (exp, nbf, with the same leeway) are checked again at
 * every hit. Only successes are kept; a hit needs the whole token equal,
 * compared in constant time. Direct-mapped by a hash of the token. */
#define AUTH_MEMO 64
#define AUTH_LEEWAY_S 30

typedef struct auth_memo {
    char *token; /* NULL: empty slot */
    size_t len;
    uint64_t hash;
    djs_principal_t who;
} auth_memo_t;

static uint64_t token_hash(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    for (; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

static int verify_token(djs_server_t *s, const char *tok, size_t len, djs_principal_t *who, const char **why)
{
    uint64_t now = (uint64_t)time(NULL), h = token_hash(tok, len);
    if (s->memo == NULL)
        s->memo = djs_calloc(AUTH_MEMO, sizeof(auth_memo_t));
    auth_memo_t *m = &s->memo[h % AUTH_MEMO];
    if (m->token != NULL && m->len == len && m->hash == h && CRYPTO_memcmp(m->token, tok, len) == 0) {
        /* djs_auth_verify's time rules (saturating sums, as there) */
        uint64_t exp = m->who.exp > UINT64_MAX - AUTH_LEEWAY_S ? UINT64_MAX : m->who.exp + AUTH_LEEWAY_S;
        uint64_t late = now > UINT64_MAX - AUTH_LEEWAY_S ? UINT64_MAX : now + AUTH_LEEWAY_S;
        if (exp > now && m->who.nbf <= late) {
            *who = m->who;
            return 0;
        }
        djs_free(m->token);
        m->token = NULL;
    }
    int rc = djs_auth_verify(s->cfg.auth, tok, len, now, AUTH_LEEWAY_S, who, why);
    if (rc == 0 && len <= DJS_AUTH_MAX_TOKEN) {
        djs_free(m->token);
        m->token = djs_malloc(len);
        memcpy(m->token, tok, len);
        m->len = len;
        m->hash = h;
        m->who = *who;
    }
    return rc;
}

static void auth_memo_free(djs_server_t *s)
{
    if (s->memo == NULL)
        return;
    for (int i = 0; i < AUTH_MEMO; i++)
        djs_free(s->memo[i].token);
    djs_free(s->memo);
}

/* Authenticate the request: 0 and *who, or -1 after a 401 answer. */
/* The bearer token from the Authorization header or, where query_ok (the
 * streams: browsers cannot set headers on WebSocket or EventSource), from
 * the access_token query parameter. */
static int authenticate(djs_server_t *s, h2o_req_t *req, djs_principal_t *who, int query_ok)
{
    memset(who, 0, sizeof(*who));
    if (s->cfg.auth == NULL) {
        snprintf(who->sub, sizeof(who->sub), "anonymous");
        who->role = DJS_ROLE_ADMIN; /* --insecure-no-auth */
        return 0;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *why = "missing bearer token (Authorization: Bearer ...)", *qt;
    size_t qlen;
    if (i < 0 && query_ok && djs_query_str(req, "access_token", &qt, &qlen)) {
        if (verify_token(s, qt, qlen, who, &why) == 0)
            return 0;
    } else if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0) {
            if (verify_token(s, v.base + 7, v.len - 7, who, &why) == 0)
                return 0;
        } else {
            why = "the Authorization header must be 'Bearer <token>'";
        }
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer realm=\"djs\""));
    problem(req, 401, "unauthorized", "Unauthorized", why);
    return -1;
}

static int owns(djs_server_t *s, const djs_principal_t *who, const djs_id_t *job)
{
    if (who->role != DJS_ROLE_USER)
        return 1;
    djs_state_t *st = djs_engine_state(s->engine);
    djs_job_t *j = djs_state_job(st, job);
    size_t len;
    const char *owner = j != NULL ? djs_state_str(st, j->owner, &len) : NULL;
    return owner != NULL && len == strlen(who->sub) && memcmp(owner, who->sub, len) == 0;
}

/* ---- ack after durable ------------------------------------------------------------ */

/* A parked answer (heap) and its link in the request's pool; each side
 * clears the other's pointer when it goes first. */
typedef struct park_ref park_ref_t;
typedef struct park {
    h2o_req_t *req; /* NULL once the request is gone */
    park_ref_t *ref;
    json_t *body; /* the answer, or NULL: then text */
    int status;
    size_t len;
    char *big; /* the text when longer than text[] (heap), or NULL */
    char text[128];
} park_t;

struct park_ref {
    park_t *park;
};

static void on_req_dispose(void *p)
{
    park_ref_t *ref = p;
    if (ref->park != NULL) {
        ref->park->req = NULL; /* the client left; answer nobody */
        ref->park->ref = NULL;
    }
}

static void on_durable(void *arg, uint64_t seq, int status)
{
    park_t *p = arg;
    if (p->ref != NULL)
        p->ref->park = NULL; /* the pool will be freed after this answer */
    if (p->req != NULL) {
        if (status == 0 && p->body == NULL)
            send_text(p->req, p->status, p->big ? p->big : p->text, p->len, seq);
        else if (status == 0)
            send_json(p->req, p->status, p->body, seq);
        else
            problem(p->req, 503, "log-unavailable", "Event log not writable", djs_strerror(status));
    }
    json_decref(p->body);
    djs_free(p->big);
    djs_free(p);
}

/* Answer `body` once seq is durable. Takes the reference to body. With
 * body NULL, the answer is text[0..len) (copied). */
static int reply_when_durable_text(djs_server_t *s, h2o_req_t *req, uint64_t seq, int status, json_t *body, const char *text,
                                   size_t len)
{
    park_t *p = djs_malloc(sizeof(*p));
    p->len = 0;
    p->big = NULL;
    if (body == NULL) {
        if (len > sizeof(p->text))
            p->big = djs_malloc(len);
        memcpy(p->big ? p->big : p->text, text, len);
        p->len = len;
    }
    park_ref_t *ref = h2o_mem_alloc_shared(&req->pool, sizeof(*ref), on_req_dispose);
    ref->park = p;
    p->ref = ref;
    p->req = req;
    p->body = body;
    p->status = status;
    djs_log_when_durable(djs_engine_log(s->engine), seq, on_durable, p);
    return 0;
}

static int reply_when_durable(djs_server_t *s, h2o_req_t *req, uint64_t seq, int status, json_t *body)
{
    return reply_when_durable_text(s, req, seq, status, body, NULL, 0);
}

/* ---- JSON helpers ---------------------------------------------------------------- */

static int pack_json(msgpack_packer *pk, const json_t *v, int depth)
{
    if (depth > MAX_JSON_DEPTH)
        return DJS_ETOOBIG;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        msgpack_pack_map(pk, (uint32_t)json_object_size(v));
        json_object_foreach((json_t *)v, k, x)
        {
            msgpack_pack_str_with_body(pk, k, strlen(k));
            if (pack_json(pk, x, depth + 1) != 0)
                return DJS_ETOOBIG;
        }
        return 0;
    }
    case JSON_ARRAY:
        msgpack_pack_array(pk, (uint32_t)json_array_size(v));
        for (size_t i = 0; i < json_array_size(v); i++)
            if (pack_json(pk, json_array_get(v, i), depth + 1) != 0)
                return DJS_ETOOBIG;
        return 0;
    case JSON_STRING:
        return msgpack_pack_str_with_body(pk, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(v));
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(v));
    case JSON_TRUE:
        return msgpack_pack_true(pk);
    case JSON_FALSE:
        return msgpack_pack_false(pk);
    case JSON_NULL:
        return msgpack_pack_nil(pk);
    }
    return DJS_EINVAL;
}

static int buf_write(void *data, const char *p, size_t n)
{
    djs_buf_append((djs_buf_t *)data, p, n);
    return 0;
}

/* ---- jobs ----------------------------------------------------------------------------- */

/* The outcome of the job's last run: *result (job.succeeded's result) and
 * *error (job.failed's error), each a new reference or NULL. */
static void job_outcome(const djs_job_view_t *v, json_t **result, json_t **error)
{
    djs_event_t ev;
    djs_job_change_t c;
    *result = *error = NULL;
    if (v->last_result.len == 0 || djs_event_decode(v->last_result.base, v->last_result.len, &ev) != 0 ||
        djs_body_read_job_change(ev.body, ev.body_len, &c) != 0)
        return;
    if (ev.type == DJS_EV_JOB_SUCCEEDED && c.result_len > 0) {
        djs_mp_reader_t r;
        djs_mp_reader_init(&r, c.result, c.result_len);
        *result = djs_mp_to_json(&r, 0);
    } else if (ev.type != DJS_EV_JOB_SUCCEEDED) {
        const char *e = c.error.len > 0 ? c.error.p : (c.reason.len > 0 ? c.reason.p : "failed");
        size_t n = c.error.len > 0 ? c.error.len : (c.reason.len > 0 ? c.reason.len : 6);
        *error = djs_json_str_lossy(e, n);
    }
}

static json_t *job_json(const djs_job_view_t *v)
{
    djs_event_t ev;
    djs_job_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    if (djs_event_decode(v->submit.base, v->submit.len, &ev) == 0)
        djs_body_read_job_spec(ev.body, ev.body_len, &sp);
    json_t *j = json_object();
    json_object_set_new(j, "id", djs_json_id(&v->id));
    json_object_set_new(j, "name", json_stringn(sp.name.p ? sp.name.p : "", sp.name.len));
    json_object_set_new(j, "description", json_stringn(sp.description.p ? sp.description.p : "", sp.description.len));
    json_object_set_new(j, "owner", json_stringn(sp.owner.p ? sp.owner.p : "", sp.owner.len));
    json_object_set_new(j, "status", json_string(djs_job_state_name(v->state)));
    json_object_set_new(j, "priority", json_string(djs_priority_name(v->prio)));
    json_object_set_new(j, "createdAt", djs_json_time(v->created_ns));
    json_object_set_new(j, "startedAt", djs_json_time(v->started_ns));
    json_object_set_new(j, "finishedAt", djs_json_time(v->finished_ns));
    json_object_set_new(j, "assignedWorker", djs_id_is_nil(&v->worker) ? json_null() : djs_json_id(&v->worker));
    json_object_set_new(j, "attempt", json_integer(v->attempt));
    json_object_set_new(j, "maxRetries", json_integer(v->max_retries));
    json_object_set_new(j, "timeoutSeconds", json_integer(v->timeout_s));
    json_t *deps = json_array();
    for (uint32_t i = 0; i < sp.ndeps; i++) {
        djs_id_t d;
        memcpy(d.b, sp.deps + 16 * i, 16);
        json_array_append_new(deps, djs_json_id(&d));
    }
    json_object_set_new(j, "dependencies", deps);
    json_t *prog = json_object();
    json_object_set_new(prog, "percentage", json_integer(v->percent));
    json_object_set_new(prog, "estimatedCompletion", djs_json_time(v->eta_ns));
    json_object_set_new(j, "progress", prog);
    json_t *m = json_object();
    json_object_set_new(m, "failures", json_integer(v->failures));
    json_object_set_new(m, "events", json_integer((json_int_t)v->events));
    if (v->started_ns && v->finished_ns >= v->started_ns)
        json_object_set_new(m, "runSeconds", json_real((v->finished_ns - v->started_ns) / 1e9));
    json_object_set_new(j, "metrics", m);
    json_t *result, *error;
    job_outcome(v, &result, &error);
    if (result != NULL)
        json_object_set_new(j, "result", result);
    if (error != NULL)
        json_object_set_new(j, "error", error);
    json_object_set_new(j, "seq", json_integer((json_int_t)v->last_seq));
    return j;
}

/* ---- JSON text without jansson objects --------------------------------------------
 *
 * The hot answers (one job, a submission's receipt) are written straight
 * into a buffer by api/jtext, byte for byte what json_dumps(...,
 * JSON_COMPACT) gives for the same jansson object; building and freeing ~25
 * jansson values per answer was a third of get_job's own time. A string
 * that is not valid UTF-8 (jansson refuses it) makes the writer fail, and
 * the caller falls back to jansson. */

/* job_json's text; -1 if a string is not valid UTF-8 (then use job_json). */
static int job_text(djs_buf_t *b, const djs_job_view_t *v)
{
    djs_event_t ev;
    djs_job_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    if (djs_event_decode(v->submit.base, v->submit.len, &ev) == 0)
        djs_body_read_job_spec(ev.body, ev.body_len, &sp);
    const char *st = djs_job_state_name(v->state), *pr = djs_priority_name(v->prio);
    djs_jt_lit(b, "{\"id\":");
    djs_jt_id(b, &v->id);
    djs_jt_lit(b, ",\"name\":");
    if (djs_jt_str(b, sp.name.p ? sp.name.p : "", sp.name.len) != 0)
        return -1;
    djs_jt_lit(b, ",\"description\":");
    if (djs_jt_str(b, sp.description.p ? sp.description.p : "", sp.description.len) != 0)
        return -1;
    djs_jt_lit(b, ",\"owner\":");
    if (djs_jt_str(b, sp.owner.p ? sp.owner.p : "", sp.owner.len) != 0)
        return -1;
    djs_jt_lit(b, ",\"status\":");
    djs_jt_str(b, st, strlen(st));
    djs_jt_lit(b, ",\"priority\":");
    djs_jt_str(b, pr, strlen(pr));
    djs_jt_lit(b, ",\"createdAt\":");
    djs_jt_time(b, v->created_ns);
    djs_jt_lit(b, ",\"startedAt\":");
    djs_jt_time(b, v->started_ns);
    djs_jt_lit(b, ",\"finishedAt\":");
    djs_jt_time(b, v->finished_ns);
    djs_jt_lit(b, ",\"assignedWorker\":");
    if (djs_id_is_nil(&v->worker))
        djs_jt_lit(b, "null");
    else
        djs_jt_id(b, &v->worker);
    djs_jt_lit(b, ",\"attempt\":");
    djs_jt_int(b, v->attempt);
    djs_jt_lit(b, ",\"maxRetries\":");
    djs_jt_int(b, v->max_retries);
    djs_jt_lit(b, ",\"timeoutSeconds\":");
    djs_jt_int(b, v->timeout_s);
    djs_jt_lit(b, ",\"dependencies\":[");
    for (uint32_t i = 0; i < sp.ndeps; i++) {
        djs_id_t d;
        memcpy(d.b, sp.deps + 16 * i, 16);
        if (i > 0)
            djs_jt_lit(b, ",");
        djs_jt_id(b, &d);
    }
    djs_jt_lit(b, "],\"progress\":{\"percentage\":");
    djs_jt_int(b, v->percent);
    djs_jt_lit(b, ",\"estimatedCompletion\":");
    djs_jt_time(b, v->eta_ns);
    djs_jt_lit(b, "},\"metrics\":{\"failures\":");
    djs_jt_int(b, v->failures);
    djs_jt_lit(b, ",\"events\":");
    djs_jt_int(b, (int64_t)v->events);
    if (v->started_ns && v->finished_ns >= v->started_ns) {
        djs_jt_lit(b, ",\"runSeconds\":");
        djs_jt_real(b, (v->finished_ns - v->started_ns) / 1e9);
    }
    djs_jt_lit(b, "}");
    json_t *outcome[2];
    job_outcome(v, &outcome[0], &outcome[1]);
    for (int k = 0; k < 2; k++) { /* jansson's rendering of the values, as in job_json */
        if (outcome[k] == NULL)
            continue;
        char *t = json_dumps(outcome[k], JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(outcome[k]);
        if (t == NULL) {
            if (k == 0)
                json_decref(outcome[1]);
            return -1;
        }
        djs_jt_lit(b, k == 0 ? ",\"result\":" : ",\"error\":");
        djs_jt_lit(b, t);
        free(t);
    }
    djs_jt_lit(b, ",\"seq\":");
    djs_jt_int(b, (int64_t)v->last_seq);
    djs_jt_lit(b, "}");
    return 0;
}

static int parse_id(h2o_req_t *req, const char *p, size_t len, djs_id_t *id)
{
    if (djs_id_parse(p, len, id) != 0) {
        problem(req, 400, "invalid-id", "Invalid id", "the job id is not a UUID (8-4-4-4-12 hex)");
        return -1;
    }
    return 0;
}

/* Fold job id as of at_seq into v (initialised here; the caller disposes
 * it). DJS_ENOTFOUND also for another owner's job when who is a user: a
 * user sees only its own jobs, and learns nothing of others'. */
static int view_job(djs_server_t *s, const djs_principal_t *who, const djs_id_t *id, uint64_t at_seq, djs_job_view_t *v)
{
    djs_job_view_init(v);
    int rc = djs_job_view_at(djs_engine_log(s->engine), id, at_seq, v);
    if (rc == 0 && who->role == DJS_ROLE_USER) {
        djs_event_t ev;
        djs_job_spec_t sp;
        if (djs_event_decode(v->submit.base, v->submit.len, &ev) != 0 || djs_body_read_job_spec(ev.body, ev.body_len, &sp) != 0 ||
            sp.owner.len != strlen(who->sub) || memcmp(sp.owner.p, who->sub, sp.owner.len) != 0)
            rc = DJS_ENOTFOUND;
    }
    return rc;
}

static int get_job(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *idp)
{
    djs_id_t id = *idp;
    uint64_t at;
    int given;
    if (read_point(s, req, &at, &given) != 0)
        return 0;
    djs_job_view_t v;
    int rc = view_job(s, who, &id, given ? at : UINT64_MAX, &v);
    if (rc == 0) {
        djs_buf_t *b = &s->scratch;
        djs_buf_reset(b);
        if (job_text(b, &v) == 0) {
#ifdef DJS_CHECK_RENDER /* sanitizer builds (the tests) compare with jansson's text */
            json_t *j = job_json(&v);
            char *t = json_dumps(j, JSON_COMPACT);
            if (t == NULL || strlen(t) != b->len || memcmp(t, b->base, b->len) != 0) {
                fprintf(stderr, "job_text differs from job_json:\n%.*s\n%s\n", (int)b->len, (const char *)b->base, t);
                abort();
            }
            free(t);
            json_decref(j);
#endif
            send_text(req, 200, (const char *)b->base, b->len, v.last_seq);
        } else {
            json_t *j = job_json(&v);
            send_json(req, 200, j, v.last_seq);
            json_decref(j);
        }
    } else if (rc == DJS_ENOTFOUND) {
        problem(req, 404, "not-found", "Not Found", "no such job");
    } else {
        problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    djs_job_view_dispose(&v);
    return 0;
}

static const char *const job_fields[] = {
    "name", "description", "priority", "payload", "dependencies", "timeoutSeconds", "maxRetries", "requiredCapabilities", NULL};
static const char *const workflow_job_fields[] = {
    "key",          "dependsOn",      "name",       "description",          "priority", "payload",
    "dependencies", "timeoutSeconds", "maxRetries", "requiredCapabilities", NULL};

/* Room for one job's arrays while its request is being read. */
typedef struct job_slots {
    djs_id_t deps[DJS_JOB_MAX_DEPS];
    djs_str_t caps[DJS_JOB_MAX_CAPS];
    djs_str_t keys[DJS_JOB_MAX_DEPS];
    djs_buf_t payload;
} job_slots_t;

/* Validate the shape of a job object; fills r (strings point into j). `at`
 * prefixes field names in error details ("" or "jobs[3]."); a workflow job
 * (wf) may also carry key and dependsOn. */
static int read_job(h2o_req_t *req, json_t *j, djs_job_request_t *r, job_slots_t *sl, const char *at, int wf)
{
    json_t *x;
    char f[96];
    if (only_fields(req, j, wf ? workflow_job_fields : job_fields) != 0)
        return -1;
#define WRONG(field, what) (snprintf(f, sizeof(f), "%s%s", at, field), wrong_type(req, f, what), -1)
#define LIMIT(what) (snprintf(f, sizeof(f), "%s" what, at), problem(req, 422, "limit-exceeded", "Limit exceeded", f), -1)
    x = json_object_get(j, "name");
    if (!json_is_string(x))
        return WRONG("name", "a string");
    r->spec.name = (djs_str_t){json_string_value(x), json_string_length(x)};
    if ((x = json_object_get(j, "description")) != NULL) {
        if (!json_is_string(x))
            return WRONG("description", "a string");
        r->spec.description = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    r->spec.priority = DJS_PRIO_NORMAL;
    if ((x = json_object_get(j, "priority")) != NULL) {
        int p = json_is_string(x) ? djs_priority_parse(json_string_value(x), json_string_length(x)) : -1;
        if (p < 0)
            return WRONG("priority", "one of HIGH, NORMAL, LOW");
        r->spec.priority = (uint8_t)p;
    }
    if ((x = json_object_get(j, "timeoutSeconds")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > UINT32_MAX)
            return WRONG("timeoutSeconds", "a non-negative integer");
        r->spec.timeout_s = (uint32_t)json_integer_value(x);
    }
    if ((x = json_object_get(j, "maxRetries")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > UINT32_MAX)
            return WRONG("maxRetries", "a non-negative integer");
        r->spec.max_retries = (uint32_t)json_integer_value(x);
    }
    if ((x = json_object_get(j, "payload")) != NULL) {
        if (!json_is_object(x))
            return WRONG("payload", "an object");
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sl->payload, buf_write);
        if (pack_json(&pk, x, 1) != 0)
            return LIMIT("payload is nested too deeply");
        r->spec.payload = sl->payload.base;
        r->spec.payload_len = sl->payload.len;
    }
    if ((x = json_object_get(j, "dependencies")) != NULL) {
        if (!json_is_array(x))
            return WRONG("dependencies", "an array of job ids");
        if (json_array_size(x) > DJS_JOB_MAX_DEPS)
            return LIMIT("dependencies: more than 256");
        for (size_t i = 0; i < json_array_size(x); i++) {
            json_t *d = json_array_get(x, i);
            if (!json_is_string(d) || djs_id_parse(json_string_value(d), json_string_length(d), &sl->deps[i]) != 0)
                return WRONG("dependencies[]", "job ids (UUID strings)");
        }
        r->dep_ids = sl->deps;
        r->ndep_ids = (uint32_t)json_array_size(x);
    }
    if ((x = json_object_get(j, "requiredCapabilities")) != NULL) {
        if (!json_is_array(x))
            return WRONG("requiredCapabilities", "an array of strings");
        if (json_array_size(x) > DJS_JOB_MAX_CAPS)
            return LIMIT("requiredCapabilities: more than 32");
        for (size_t i = 0; i < json_array_size(x); i++) {
            json_t *c = json_array_get(x, i);
            if (!json_is_string(c))
                return WRONG("requiredCapabilities[]", "strings");
            sl->caps[i] = (djs_str_t){json_string_value(c), json_string_length(c)};
        }
        r->caps = sl->caps;
        r->ncaps = (uint32_t)json_array_size(x);
    }
    if ((x = json_object_get(j, "key")) != NULL) {
        if (!json_is_string(x) || json_string_length(x) == 0 || json_string_length(x) > DJS_JOB_MAX_NAME)
            return WRONG("key", "a non-empty string of at most 256 bytes");
        r->key = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    if ((x = json_object_get(j, "dependsOn")) != NULL) {
        if (!json_is_array(x))
            return WRONG("dependsOn", "an array of keys of this workflow's jobs");
        if (json_array_size(x) + r->ndep_ids > DJS_JOB_MAX_DEPS)
            return LIMIT("dependencies and dependsOn: more than 256 together");
        for (size_t i = 0; i < json_array_size(x); i++) {
            json_t *d = json_array_get(x, i);
            if (!json_is_string(d))
                return WRONG("dependsOn[]", "keys (strings)");
            sl->keys[i] = (djs_str_t){json_string_value(d), json_string_length(d)};
        }
        r->dep_keys = sl->keys;
        r->ndep_keys = (uint32_t)json_array_size(x);
    }
#undef LIMIT
#undef WRONG
    return 0;
}

static int header_value(h2o_req_t *req, const h2o_token_t *tok, const char *name, h2o_iovec_t *out)
{
    ssize_t i =
        tok != NULL ? h2o_find_header(&req->headers, tok, -1) : h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return 0;
    *out = req->headers.entries[i].value;
    return 1;
}

/* POST /jobs: one job object, or {"jobs":[...]} submitted atomically as a
 * workflow whose jobs may depend on each other by key. */
static int post_job(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who)
{
    json_t *j = read_json_body(req);
    if (j == NULL)
        return 0;
    json_t *list = json_object_get(j, "jobs");
    int wf = list != NULL;
    size_t n = 1;
    if (wf) {
        static const char *const only_jobs[] = {"jobs", NULL};
        if (only_fields(req, j, only_jobs) != 0)
            goto out;
        if (!json_is_array(list) || json_array_size(list) == 0) {
            wrong_type(req, "jobs", "a non-empty array of job objects");
            goto out;
        }
        if ((n = json_array_size(list)) > DJS_WORKFLOW_MAX_JOBS) {
            problem(req, 422, "limit-exceeded", "Limit exceeded", "jobs: a workflow holds at most 1000 jobs");
            goto out;
        }
    }
    djs_job_request_t *r = djs_calloc(n, sizeof(*r));
    job_slots_t *sl = djs_malloc(n * sizeof(*sl));
    djs_id_t *ids = djs_malloc(n * sizeof(*ids));
    size_t ready = 0;
    int bad = 0;
    for (; ready < n && !bad; ready++) {
        char at[32] = "";
        json_t *one = wf ? json_array_get(list, ready) : j;
        djs_buf_init(&sl[ready].payload);
        if (wf)
            snprintf(at, sizeof(at), "jobs[%zu].", ready);
        if (!json_is_object(one))
            bad = (wrong_type(req, "jobs[]", "job objects"), 1);
        else
            bad = read_job(req, one, &r[ready], &sl[ready], at, wf) != 0;
    }
    if (!bad) {
        h2o_iovec_t idem;
        if (header_value(req, NULL, "idempotency-key", &idem)) {
            for (size_t i = 0; i < idem.len && !bad; i++)
                if (idem.base[i] < 0x21 || idem.base[i] > 0x7e)
                    bad = (problem(req, 400, "invalid-header", "Invalid header",
                                   "Idempotency-Key must be printable ASCII without spaces (at most 128 bytes)"),
                           1);
            r[0].spec.idem_key = (djs_str_t){idem.base, idem.len};
        }
    }
    if (!bad) {
        uint64_t seq;
        int existed;
        int rc = djs_engine_submit(s->engine, who->sub, r, (uint32_t)n, ids, &seq, &existed);
        if (rc != 0) {
            engine_problem(req, s->engine, rc);
        } else if (!wf || existed) {
            /* {"id":...,"status":...,"seq":...} as jansson writes it */
            char text[128], idt[DJS_ID_TEXT_LEN + 1];
            djs_id_format(&ids[0], idt);
            int len = snprintf(text, sizeof(text), "{\"id\":\"%s\",\"status\":\"%s\",\"seq\":%" PRId64 "}", idt,
                               existed ? "EXISTS" : "ACCEPTED", (int64_t)seq);
            reply_when_durable_text(s, req, seq, existed ? 200 : 201, NULL, text, (size_t)len);
        } else {
            json_t *b = json_object(), *out = json_array();
            for (size_t i = 0; i < n; i++) {
                json_t *o = json_object();
                if (r[i].key.len > 0)
                    json_object_set_new(o, "key", json_stringn(r[i].key.p, r[i].key.len));
                json_object_set_new(o, "id", djs_json_id(&ids[i]));
                json_array_append_new(out, o);
            }
            json_object_set_new(b, "jobs", out);
            json_object_set_new(b, "status", json_string(existed ? "EXISTS" : "ACCEPTED"));
            json_object_set_new(b, "seq", json_integer((json_int_t)seq));
            reply_when_durable(s, req, seq, existed ? 200 : 201, b);
        }
    }
    for (size_t i = 0; i < ready; i++)
        djs_buf_dispose(&sl[i].payload);
    djs_free(ids);
    djs_free(sl);
    djs_free(r);
out:
    json_decref(j);
    return 0;
}

static int cancel_job(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *idp)
{
    djs_id_t id = *idp;
    uint64_t seq;
    if (!owns(s, who, &id))
        return problem(req, 404, "not-found", "Not Found", "no such job");
    int rc = djs_engine_cancel(s->engine, who->sub, &id, &seq);
    if (rc != 0)
        return engine_problem(req, s->engine, rc);
    json_t *b = json_pack("{s:o, s:s, s:I}", "id", djs_json_id(&id), "status", "CANCELLED", "seq", (json_int_t)seq);
    return reply_when_durable(s, req, seq, 200, b);
}

/* ---- workers ------------------------------------------------------------------------- */

/* 1 if the request's Content-Type is `type` (case-insensitive), with or
 * without parameters ("application/json; charset=utf-8"). */
static int media_type_is(h2o_req_t *req, const char *type)
{
    h2o_iovec_t ct;
    size_t n = strlen(type);
    if (!header_value(req, H2O_TOKEN_CONTENT_TYPE, NULL, &ct) || ct.len < n || strncasecmp(ct.base, type, n) != 0)
        return 0;
    return ct.len == n || ct.base[n] == ';' || ct.base[n] == ' ' || ct.base[n] == '\t';
}

static json_t *read_json_body(h2o_req_t *req)
{
    json_error_t err;
    if (req->entity.len == 0)
        return json_object();
    if (!media_type_is(req, "application/json")) {
        problem(req, 415, "unsupported-media-type", "Unsupported Media Type", "send application/json");
        return NULL;
    }
    json_t *j = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL) {
        char detail[200];
        snprintf(detail, sizeof(detail), "malformed JSON at line %d column %d: %.120s", err.line, err.column, err.text);
        problem(req, 400, "malformed-json", "Malformed JSON", detail);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        problem(req, 400, "invalid-body", "Invalid body", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Check that j has only the allowed fields; answers 400 otherwise, naming
 * the field with the prefix `at` ("" or "reports[3]."). */
static int only_fields_at(h2o_req_t *req, json_t *j, const char *const *allowed, const char *at)
{
    const char *k;
    json_t *x;
    json_object_foreach(j, k, x)
    {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok) {
            char detail[192];
            snprintf(detail, sizeof(detail), "unknown field '%s%.64s'", at, k);
            problem(req, 400, "unknown-field", "Unknown field", detail);
            return -1;
        }
    }
    return 0;
}

static int only_fields(h2o_req_t *req, json_t *j, const char *const *allowed)
{
    return only_fields_at(req, j, allowed, "");
}

static int wrong_type(h2o_req_t *req, const char *field, const char *what)
{
    char detail[160];
    snprintf(detail, sizeof(detail), "%s must be %s", field, what);
    return problem(req, 400, "wrong-type", "Wrong type", detail);
}

static int read_caps(h2o_req_t *req, json_t *x, djs_str_t *caps, uint32_t *n)
{
    *n = 0;
    if (x == NULL)
        return 0;
    if (!json_is_array(x) || json_array_size(x) > DJS_JOB_MAX_CAPS)
        return wrong_type(req, "capabilities", "an array of at most 32 strings"), -1;
    for (size_t i = 0; i < json_array_size(x); i++) {
        json_t *c = json_array_get(x, i);
        if (!json_is_string(c))
            return wrong_type(req, "capabilities[]", "strings"), -1;
        caps[i] = (djs_str_t){json_string_value(c), json_string_length(c)};
    }
    *n = (uint32_t)json_array_size(x);
    return 0;
}

static int post_worker(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who)
{
    static const char *const fields[] = {"name", "host", "capabilities", "slots", NULL};
    json_t *j = read_json_body(req), *x;
    if (j == NULL)
        return 0;
    djs_worker_info_t wi = {0};
    djs_str_t caps[DJS_JOB_MAX_CAPS];
    uint32_t ncaps = 0;
    if (only_fields(req, j, fields) != 0)
        goto out;
    if (!json_is_string(x = json_object_get(j, "name"))) {
        wrong_type(req, "name", "a string");
        goto out;
    }
    wi.name = (djs_str_t){json_string_value(x), json_string_length(x)};
    if ((x = json_object_get(j, "host")) != NULL) {
        if (!json_is_string(x)) {
            wrong_type(req, "host", "a string");
            goto out;
        }
        wi.host = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    x = json_object_get(j, "slots");
    if (x != NULL && (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 10000)) {
        wrong_type(req, "slots", "an integer from 1 to 10000");
        goto out;
    }
    wi.slots = x != NULL ? (uint32_t)json_integer_value(x) : 1;
    if (read_caps(req, json_object_get(j, "capabilities"), caps, &ncaps) != 0)
        goto out;
    if (who->role == DJS_ROLE_WORKER && (wi.name.len != strlen(who->sub) || memcmp(wi.name.p, who->sub, wi.name.len) != 0)) {
        problem(req, 403, "forbidden", "Forbidden", "a worker token registers only the worker named by its subject");
        goto out;
    }
    djs_id_t id;
    uint64_t seq;
    int rc = djs_engine_register(s->engine, who->sub, &wi, caps, ncaps, &id, &seq);
    if (rc != 0)
        engine_problem(req, s->engine, rc);
    else
        reply_when_durable(s, req, seq, 201, json_pack("{s:o, s:I}", "id", djs_json_id(&id), "seq", (json_int_t)seq));
out:
    json_decref(j);
    return 0;
}

static int get_fraction(h2o_req_t *req, json_t *j, const char *name, uint32_t *pm)
{
    json_t *x = json_object_get(j, name);
    *pm = 0;
    if (x == NULL)
        return 0;
    if (!json_is_number(x) || json_number_value(x) < 0 || json_number_value(x) > 1)
        return wrong_type(req, name, "a number from 0 to 1"), -1;
    *pm = (uint32_t)(json_number_value(x) * 1000 + 0.5);
    return 0;
}

/* The jobs an agent says it runs ("running": [{jobId, attempt}]) that are
 * no longer its current assignment (cancelled, timed out, reassigned,
 * gone): it must stop them. NULL (after answering 400) on a bad list. */
static json_t *jobs_to_stop(djs_server_t *s, h2o_req_t *req, json_t *running, const djs_id_t *wid)
{
    json_t *stop = json_array();
    if (running == NULL)
        return stop;
    if (!json_is_array(running) || json_array_size(running) > 10000) {
        json_decref(stop);
        return wrong_type(req, "running", "an array of {jobId, attempt}"), NULL;
    }
    djs_state_t *st = djs_engine_state(s->engine);
    djs_worker_t *w = djs_state_worker(st, wid);
    for (size_t i = 0; i < json_array_size(running); i++) {
        json_t *r = json_array_get(running, i), *jid = json_object_get(r, "jobId"), *att = json_object_get(r, "attempt");
        djs_id_t id;
        if (!json_is_object(r) || !json_is_string(jid) || djs_id_parse(json_string_value(jid), json_string_length(jid), &id) != 0 ||
            !json_is_integer(att)) {
            json_decref(stop);
            return wrong_type(req, "running[]", "objects {jobId, attempt}"), NULL;
        }
        djs_job_t *j = djs_state_job(st, &id);
        int current = j != NULL && w != NULL && j->worker != DJS_NONE && djs_state_worker_at(st, j->worker) == w &&
                      j->attempt == (uint64_t)json_integer_value(att) &&
                      (j->state == DJS_JOB_SCHEDULED || j->state == DJS_JOB_RUNNING);
        if (!current)
            json_array_append_new(stop, djs_json_id(&id));
    }
    return stop;
}

static int heartbeat(djs_server_t *s, h2o_req_t *req, const djs_id_t *wid)
{
    static const char *const fields[] = {"cpu", "memory", "responseMs", "running", NULL};
    json_t *j = read_json_body(req), *x, *stop = NULL;
    if (j == NULL)
        return 0;
    uint32_t cpu, mem, resp = 0;
    if (only_fields(req, j, fields) == 0 && get_fraction(req, j, "cpu", &cpu) == 0 && get_fraction(req, j, "memory", &mem) == 0 &&
        (stop = jobs_to_stop(s, req, json_object_get(j, "running"), wid)) != NULL) {
        x = json_object_get(j, "responseMs");
        if (x != NULL && (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 3600000)) {
            wrong_type(req, "responseMs", "an integer of milliseconds");
        } else {
            resp = x ? (uint32_t)json_integer_value(x) : 0;
            uint64_t seq;
            int rc = djs_engine_heartbeat(s->engine, wid, cpu, mem, resp, &seq);
            json_t *b = json_pack("{s:b, s:I, s:O}", "recorded", seq != 0, "seq", (json_int_t)seq, "stop", stop);
            if (rc != 0) {
                json_decref(b);
                engine_problem(req, s->engine, rc);
            } else if (seq != 0) {
                reply_when_durable(s, req, seq, 200, b);
            } else {
                send_json_new(req, 200, b, 0);
            }
        }
    }
    json_decref(stop);
    json_decref(j);
    return 0;
}

/* ---- fenced reports ----------------------------------------------------------------------- */

/* POST /jobs/{id}/start|progress|complete|fail carry one report; POST
 * /workers/{id}/reports and the body of a poll carry many. Both read each
 * report with read_report and apply it with apply_report. */
enum { REPORT_START, REPORT_PROGRESS, REPORT_COMPLETE, REPORT_FAIL };
static const char *const report_actions[] = {"start", "progress", "complete", "fail", NULL};
#define MAX_REPORTS 1000 /* per request; docs/openapi.yaml and docs/worker.md say so */

/* One report: strings point into the request's JSON, result is packed. */
typedef struct report {
    djs_id_t job;
    int action;
    uint32_t attempt;
    uint32_t percent;
    djs_str_t text;   /* progress: currentStep; fail: error */
    djs_buf_t result; /* complete: the result as MessagePack, empty if none */
} report_t;

static int report_action(const char *p, size_t len)
{
    for (int i = 0; report_actions[i] != NULL; i++)
        if (strlen(report_actions[i]) == len && memcmp(report_actions[i], p, len) == 0)
            return i;
    return -1;
}

/* Read attempt and the action's own fields of j into r (r->job and
 * r->action already set, r->result initialised). `at` prefixes field names
 * in error details ("" or "reports[3]."). Answers 400 or 422 and returns
 * -1 when a field is wrong. */
static int read_report(h2o_req_t *req, json_t *j, const char *at, report_t *r)
{
    char f[96];
    json_t *x = json_object_get(j, "attempt");
#define WRONG(field, what) (snprintf(f, sizeof(f), "%s%s", at, field), wrong_type(req, f, what), -1)
    if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > UINT32_MAX)
        return WRONG("attempt", "the assignment's attempt number");
    r->attempt = (uint32_t)json_integer_value(x);
    switch (r->action) {
    case REPORT_PROGRESS:
        x = json_object_get(j, "percentage");
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 100)
            return WRONG("percentage", "an integer from 0 to 100");
        r->percent = (uint32_t)json_integer_value(x);
        if ((x = json_object_get(j, "currentStep")) != NULL && !json_is_string(x))
            return WRONG("currentStep", "a string");
        r->text = x ? (djs_str_t){json_string_value(x), json_string_length(x)} : (djs_str_t){NULL, 0};
        break;
    case REPORT_COMPLETE:
        if ((x = json_object_get(j, "result")) != NULL) {
            msgpack_packer pk;
            msgpack_packer_init(&pk, &r->result, buf_write);
            if (pack_json(&pk, x, 1) != 0) {
                snprintf(f, sizeof(f), "%sresult is nested too deeply", at);
                return problem(req, 422, "limit-exceeded", "Limit exceeded", f), -1;
            }
        }
        break;
    case REPORT_FAIL:
        if ((x = json_object_get(j, "error")) != NULL && !json_is_string(x))
            return WRONG("error", "a string");
        r->text = x ? (djs_str_t){json_string_value(x), json_string_length(x)} : (djs_str_t){"failed", 6};
        break;
    }
#undef WRONG
    return 0;
}

/* The engine call of one report, fenced by worker and attempt. */
static int apply_report(djs_server_t *s, const djs_id_t *wid, const report_t *r, uint64_t *seq)
{
    *seq = 0;
    switch (r->action) {
    case REPORT_START:
        return djs_engine_start(s->engine, wid, &r->job, r->attempt, seq);
    case REPORT_PROGRESS:
        return djs_engine_progress(s->engine, wid, &r->job, r->attempt, r->percent, r->text, 0, seq);
    case REPORT_COMPLETE:
        return djs_engine_complete(s->engine, wid, &r->job, r->attempt, r->result.base, r->result.len, seq);
    default:
        return djs_engine_fail(s->engine, wid, &r->job, r->attempt, r->text, seq);
    }
}

/* POST /jobs/{id}/start|progress|complete|fail, fenced by workerId + attempt. */
static int report(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *job, const char *what)
{
    static const char *const fields[] = {"workerId", "attempt", "percentage", "currentStep", "estimatedCompletion",
                                         "result",   "error",   NULL};
    json_t *j = read_json_body(req), *x;
    if (j == NULL)
        return 0;
    report_t r = {.job = *job, .action = report_action(what, strlen(what))};
    djs_buf_init(&r.result);
    djs_id_t wid;
    if (only_fields(req, j, fields) != 0)
        goto out;
    x = json_object_get(j, "workerId");
    if (!json_is_string(x) || djs_id_parse(json_string_value(x), json_string_length(x), &wid) != 0) {
        wrong_type(req, "workerId", "the worker's id");
        goto out;
    }
    if (!worker_self(s, req, who, &wid) || read_report(req, j, "", &r) != 0)
        goto out;
    uint64_t seq;
    int rc = apply_report(s, &wid, &r, &seq);
    if (rc != 0)
        engine_problem(req, s->engine, rc);
    else
        reply_when_durable(s, req, seq, 200,
                           json_pack("{s:o, s:s, s:I}", "id", djs_json_id(job), "reported", what, "seq", (json_int_t)seq));
out:
    djs_buf_dispose(&r.result);
    json_decref(j);
    return 0;
}

static void reports_free(report_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        djs_buf_dispose(&r[i].result);
    djs_free(r);
}

/* {"reports":[{jobId, action, attempt, ...}]}: at least `min` and at most
 * MAX_REPORTS items, all read before any is applied. Answers 400 or 422
 * naming the first wrong item and returns -1. *out (strings pointing into
 * j) is freed with reports_free, also after an error. */
static int read_reports(h2o_req_t *req, json_t *j, size_t min, report_t **out, size_t *n)
{
    static const char *const only_reports[] = {"reports", NULL};
    static const char *const item_fields[] = {"jobId",  "action", "attempt", "percentage", "currentStep", "estimatedCompletion",
                                              "result", "error",  NULL};
    json_t *list = json_object_get(j, "reports");
    *out = NULL;
    *n = 0;
    if (only_fields(req, j, only_reports) != 0)
        return -1;
    if (!json_is_array(list) || json_array_size(list) < min || json_array_size(list) > MAX_REPORTS)
        return wrong_type(req, "reports", min ? "an array of 1 to 1000 report objects" : "an array of at most 1000 report objects"),
               -1;
    *n = json_array_size(list);
    report_t *r = *out = djs_calloc(*n ? *n : 1, sizeof(*r));
    for (size_t i = 0; i < *n; i++)
        djs_buf_init(&r[i].result);
    for (size_t i = 0; i < *n; i++) {
        char at[32], f[64];
        json_t *one = json_array_get(list, i), *x;
        snprintf(at, sizeof(at), "reports[%zu].", i);
        if (!json_is_object(one))
            return snprintf(f, sizeof(f), "reports[%zu]", i), wrong_type(req, f, "a report object"), -1;
        if (only_fields_at(req, one, item_fields, at) != 0)
            return -1;
        x = json_object_get(one, "jobId");
        if (!json_is_string(x) || djs_id_parse(json_string_value(x), json_string_length(x), &r[i].job) != 0)
            return snprintf(f, sizeof(f), "%sjobId", at), wrong_type(req, f, "a job id"), -1;
        x = json_object_get(one, "action");
        if (!json_is_string(x) || (r[i].action = report_action(json_string_value(x), json_string_length(x))) < 0)
            return snprintf(f, sizeof(f), "%saction", at), wrong_type(req, f, "one of start, progress, complete, fail"), -1;
        if (read_report(req, one, at, &r[i]) != 0)
            return -1;
    }
    return 0;
}

#ifdef DJS_CHECK_RENDER
/* Sanitizer builds: text written by hand must be what json_dumps(...,
 * JSON_COMPACT) writes for it. */
static void check_text(const djs_buf_t *b)
{
    json_t *j = json_loadb((const char *)b->base, b->len, 0, NULL);
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (t == NULL || strlen(t) != b->len || memcmp(t, b->base, b->len) != 0) {
        fprintf(stderr, "djs serve: rendering differs from jansson's: %.*s\n", (int)b->len, (const char *)b->base);
        abort();
    }
    free(t);
    json_decref(j);
}
#else
static void check_text(const djs_buf_t *b)
{
    (void)b;
}
#endif

/* Apply r[0..n) in order, each on its own, and append their results to out
 * as a JSON array: {jobId, status 200, seq} or {jobId, status, type,
 * detail} each. *max_seq is the last event written (0: none). A storage
 * error ends the batch: its code is returned (out is then to be dropped). */
static int apply_reports(djs_server_t *s, const djs_id_t *wid, const report_t *r, size_t n, djs_buf_t *out, uint64_t *max_seq)
{
    *max_seq = 0;
    djs_jt_lit(out, "[");
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        int e = apply_report(s, wid, &r[i], &seq);
        if (e == DJS_ESTORAGE || e == DJS_EMAPFULL)
            return e;
        djs_jt_lit(out, i > 0 ? ",{\"jobId\":" : "{\"jobId\":");
        djs_jt_id(out, &r[i].job);
        djs_jt_lit(out, ",\"status\":");
        if (e == 0) {
            djs_jt_int(out, 200);
            djs_jt_lit(out, ",\"seq\":");
            djs_jt_int(out, (int64_t)seq);
            *max_seq = seq > *max_seq ? seq : *max_seq;
        } else {
            const char *type, *title;
            int st = engine_status(e, &type, &title);
            const char *d = st == 500 ? djs_strerror(e) : djs_engine_errmsg(s->engine);
            djs_jt_int(out, st);
            djs_jt_lit(out, ",\"type\":");
            djs_jt_str(out, type, strlen(type));
            djs_jt_lit(out, ",\"detail\":");
            djs_jt_str_lossy(out, d, strlen(d));
        }
        djs_jt_lit(out, "}");
    }
    djs_jt_lit(out, "]");
    return 0;
}

/* POST /workers/{id}/reports: many fenced reports of one worker, answered
 * once every event they wrote is durable. */
static int post_reports(djs_server_t *s, h2o_req_t *req, const djs_id_t *wid)
{
    json_t *j = read_json_body(req);
    if (j == NULL)
        return 0;
    report_t *r;
    size_t n;
    if (read_reports(req, j, 1, &r, &n) == 0) {
        uint64_t seq;
        djs_buf_t *t = &s->scratch;
        djs_buf_reset(t);
        djs_jt_lit(t, "{\"results\":");
        int rc = apply_reports(s, wid, r, n, t, &seq);
        if (rc != 0) {
            engine_problem(req, s->engine, rc);
        } else {
            djs_jt_lit(t, ",\"seq\":");
            djs_jt_int(t, (int64_t)seq);
            djs_jt_lit(t, "}");
            check_text(t);
            if (seq != 0)
                reply_when_durable_text(s, req, seq, 200, NULL, (const char *)t->base, t->len);
            else
                send_text(req, 200, (const char *)t->base, t->len, 0);
        }
    }
    reports_free(r, n);
    json_decref(j);
    return 0;
}

/* Keep the assignments whose placement is durable: a poll is answered
 * once what was placed when it was woken is durable, and anything placed
 * after that goes to the next poll (a worker must never run a placement
 * that a crash could erase). Returns the new count. */
static uint32_t durable_only(djs_server_t *s, djs_assignment_t *as, uint32_t n)
{
    uint64_t durable = djs_log_durable_seq(djs_engine_log(s->engine));
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (as[i].seq <= durable)
            as[k++] = as[i];
    return k;
}

/* The worker's pending assignments as JSON, with each job's name and payload. */
static json_t *assignments_json(djs_server_t *s, const djs_id_t *wid, uint32_t max, int *rc)
{
    djs_assignment_t as[64];
    uint32_t n;
    if ((*rc = djs_engine_poll(s->engine, wid, as, max < 64 ? max : 64, &n)) != 0)
        return NULL;
    n = durable_only(s, as, n);
    json_t *list = json_array();
    djs_buf_t rec;
    djs_buf_init(&rec);
    for (uint32_t i = 0; i < n; i++) {
        json_t *a = json_object();
        json_object_set_new(a, "jobId", djs_json_id(&as[i].job));
        json_object_set_new(a, "attempt", json_integer(as[i].attempt));
        json_object_set_new(a, "leaseDeadline", djs_json_time(as[i].lease_ns));
        djs_event_t ev;
        djs_job_spec_t sp;
        djs_buf_reset(&rec);
        if (djs_log_get(djs_engine_log(s->engine), as[i].submit_seq, &rec) == 0 && djs_event_decode(rec.base, rec.len, &ev) == 0 &&
            djs_body_read_job_spec(ev.body, ev.body_len, &sp) == 0) {
            json_object_set_new(a, "name", json_stringn(sp.name.p ? sp.name.p : "", sp.name.len));
            json_object_set_new(a, "timeoutSeconds", json_integer(sp.timeout_s));
            djs_mp_reader_t r;
            djs_mp_reader_init(&r, sp.payload, sp.payload_len);
            json_t *pl = sp.payload_len ? djs_mp_to_json(&r, 0) : json_object();
            json_object_set_new(a, "payload", pl ? pl : json_object());
        }
        json_array_append_new(list, a);
    }
    djs_buf_dispose(&rec);
    return list;
}

/* assignments_json as text, {"assignments":[...] without the closing
 * brace, appended to b: 0, an engine error, or 1 when a name or payload
 * needs jansson's rendering (b is then to be dropped). */
static int assignments_text(djs_server_t *s, djs_buf_t *b, const djs_id_t *wid, uint32_t max)
{
    djs_assignment_t as[64];
    uint32_t n;
    int rc = djs_engine_poll(s->engine, wid, as, max < 64 ? max : 64, &n);
    if (rc != 0)
        return rc;
    n = durable_only(s, as, n);
    djs_buf_t rec;
    djs_buf_init(&rec);
    djs_jt_lit(b, "{\"assignments\":[");
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        djs_event_t ev;
        djs_job_spec_t sp;
        djs_jt_lit(b, i > 0 ? ",{\"jobId\":" : "{\"jobId\":");
        djs_jt_id(b, &as[i].job);
        djs_jt_lit(b, ",\"attempt\":");
        djs_jt_int(b, as[i].attempt);
        djs_jt_lit(b, ",\"leaseDeadline\":");
        djs_jt_time(b, as[i].lease_ns);
        djs_buf_reset(&rec);
        if (djs_log_get(djs_engine_log(s->engine), as[i].submit_seq, &rec) == 0 && djs_event_decode(rec.base, rec.len, &ev) == 0 &&
            djs_body_read_job_spec(ev.body, ev.body_len, &sp) == 0) {
            djs_jt_lit(b, ",\"name\":");
            if (djs_jt_str(b, sp.name.p ? sp.name.p : "", sp.name.len) != 0)
                rc = 1;
            djs_jt_lit(b, ",\"timeoutSeconds\":");
            djs_jt_int(b, sp.timeout_s);
            djs_jt_lit(b, ",\"payload\":");
            djs_mp_reader_t r;
            djs_mp_reader_init(&r, sp.payload, sp.payload_len);
            int e = sp.payload_len ? djs_jt_mp(b, &r, 0) : DJS_EINVAL;
            if (e == DJS_EINVAL)
                djs_jt_lit(b, "{}"); /* none, or malformed: as assignments_json */
            else if (e != 0)
                rc = 1;
        }
        djs_jt_lit(b, "}");
    }
    djs_jt_lit(b, "]");
    djs_buf_dispose(&rec);
    return rc;
}

static void poller_unlink(poller_t *p)
{
    djs_server_t *s = p->server;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else if (s->pollers == p)
        s->pollers = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static void on_poller_closed(uv_handle_t *h)
{
    djs_free(h->data);
}

static void poller_wake(poller_t *p);

static void poller_answer(poller_t *p)
{
    djs_server_t *s = p->server;
    djs_buf_t *b = &s->scratch;
    if (p->has_results && p->failed) {
        problem(p->req, 503, "log-unavailable", "Event log not writable", "the reports could not be made durable");
        return;
    }
    djs_buf_reset(b);
    int rc = assignments_text(s, b, &p->worker, p->max);
    if (rc < 0) {
        engine_problem(p->req, s->engine, rc);
    } else if (rc == 0) {
        if (p->has_results) {
            djs_jt_lit(b, ",\"results\":");
            djs_buf_append(b, p->results.base, p->results.len);
            djs_jt_lit(b, ",\"seq\":");
            djs_jt_int(b, (int64_t)p->report_seq);
        }
        djs_jt_lit(b, "}");
        check_text(b);
        send_text(p->req, 200, (const char *)b->base, b->len, 0);
    } else { /* a name or payload only jansson renders */
        json_t *list = assignments_json(s, &p->worker, p->max, &rc);
        if (list == NULL) {
            engine_problem(p->req, s->engine, rc);
            return;
        }
        json_t *body = json_pack("{s:o}", "assignments", list);
        if (p->has_results) {
            json_object_set_new(body, "results", json_loadb((const char *)p->results.base, p->results.len, 0, NULL));
            json_object_set_new(body, "seq", json_integer((json_int_t)p->report_seq));
        }
        send_json_new(p->req, 200, body, 0);
    }
}

/* Answer (if the client is still there) and retire the poller. A poller
 * whose reports are not durable yet leaves the list of pollers and is
 * answered once they are. */
static void poller_finish(poller_t *p)
{
    if (p->req != NULL && !p->failed && p->report_seq > djs_log_durable_seq(djs_engine_log(p->server->engine))) {
        poller_unlink(p);
        uv_timer_stop(&p->timer);
        poller_wake(p);
        return;
    }
    if (p->req != NULL)
        poller_answer(p);
    djs_buf_dispose(&p->results);
    p->has_results = 0;
    if (p->ref != NULL)
        p->ref->p = NULL;
    if (p->wake != NULL)
        p->wake->p = NULL;
    p->wake = NULL;
    p->req = NULL;
    poller_unlink(p);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_poller_closed);
}

static void on_poller_dispose(void *arg)
{
    poller_ref_t *ref = arg;
    if (ref->p != NULL) {
        ref->p->req = NULL; /* the client left */
        ref->p->ref = NULL;
        poller_finish(ref->p);
    }
}

static void on_poll_timeout(uv_timer_t *t)
{
    poller_finish(t->data);
}

static void on_wake_durable(void *arg, uint64_t seq, int status)
{
    wake_t *w = arg;
    (void)seq;
    if (w->p != NULL) {
        /* on a storage failure the assignments come from what is durable; reports get 503 */
        w->p->failed = status != 0;
        w->p->wake = NULL;
        poller_finish(w->p);
    }
    djs_free(w);
}

static void poller_wake(poller_t *p)
{
    if (p->wake != NULL)
        return;
    p->wake = djs_calloc(1, sizeof(wake_t));
    p->wake->p = p;
    djs_log_t *log = djs_engine_log(p->server->engine);
    djs_log_when_durable(log, djs_log_last_seq(log), on_wake_durable, p->wake);
}

static void on_assign(void *arg, const djs_id_t *worker, const djs_id_t *job)
{
    djs_server_t *s = arg;
    (void)job;
    for (poller_t *p = s->pollers; p != NULL; p = p->next)
        if (djs_id_cmp(&p->worker, worker) == 0)
            poller_wake(p);
}

/* The reports a poll may carry ({"reports":[...]}, possibly empty), applied
 * before it waits: 0 and, when it carried some, *has set and their results
 * in *results (initialised here; the caller disposes of it); -1 once
 * answered with an error. */
static int poll_reports(djs_server_t *s, h2o_req_t *req, const djs_id_t *wid, djs_buf_t *results, int *has, uint64_t *seq)
{
    djs_buf_init(results);
    *has = 0;
    *seq = 0;
    if (req->entity.len == 0)
        return 0;
    json_t *j = read_json_body(req);
    if (j == NULL)
        return -1;
    report_t *r;
    size_t n;
    int rc = -1;
    if (read_reports(req, j, 0, &r, &n) == 0 && (rc = apply_reports(s, wid, r, n, results, seq)) != 0)
        engine_problem(req, s->engine, rc);
    reports_free(r, n);
    json_decref(j);
    *has = rc == 0;
    return rc == 0 ? 0 : -1;
}

static int poll_worker(djs_server_t *s, h2o_req_t *req, const djs_id_t *wid)
{
    uint64_t wait_s, max, seq;
    djs_buf_t results;
    int has;
    if (query_number(req, "wait", 30, &wait_s) != 0 || query_number(req, "max", 16, &max) != 0)
        return 0;
    if (wait_s > 60)
        wait_s = 60; /* bounded: a parked HTTP/1.1 request notices its client only when written */
    if (s->stopping)
        wait_s = 0; /* a poll arriving during a stop is not parked: it would hold the stop */
    if (max == 0 || max > 64)
        max = 64;
    if (poll_reports(s, req, wid, &results, &has, &seq) != 0) {
        djs_buf_dispose(&results);
        return 0;
    }
    djs_assignment_t probe[1];
    uint32_t pending;
    int rc = djs_engine_poll(s->engine, wid, probe, 1, &pending);
    if (rc != 0) {
        djs_buf_dispose(&results);
        return engine_problem(req, s->engine, rc);
    }
    poller_t *p = djs_calloc(1, sizeof(*p));
    p->server = s;
    p->req = req;
    p->worker = *wid;
    p->max = (uint32_t)max;
    p->results = results;
    p->has_results = has;
    p->report_seq = seq;
    p->ref = h2o_mem_alloc_shared(&req->pool, sizeof(poller_ref_t), on_poller_dispose);
    p->ref->p = p;
    uv_timer_init(s->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_poll_timeout, wait_s * 1000, 0);
    p->next = s->pollers;
    if (s->pollers != NULL)
        s->pollers->prev = p;
    s->pollers = p;
    if (pending > 0 || wait_s == 0)
        poller_wake(p); /* answer as soon as what it will receive is durable */
    return 0;
}

/* ---- job output -------------------------------------------------------------------------- */

/* A decimal query parameter: dflt when absent; answers 400 (and returns -1)
 * when present but not a number. */
static int query_number(h2o_req_t *req, const char *name, uint64_t dflt, uint64_t *out)
{
    const char *v;
    size_t len;
    *out = dflt;
    if (!djs_query_str(req, name, &v, &len))
        return 0;
    uint64_t n = 0;
    int ok = len > 0;
    for (size_t i = 0; i < len && ok; i++) {
        ok = v[i] >= '0' && v[i] <= '9' && n <= 100000000000000ULL;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (!ok) {
        char detail[96];
        snprintf(detail, sizeof(detail), "%.40s must be a non-negative integer", name);
        problem(req, 400, "invalid-query", "Invalid query", detail);
        return -1;
    }
    *out = n;
    return 0;
}

/* POST /jobs/{id}/output?workerId=&attempt=&offset=: raw bytes the running
 * attempt printed, at byte `offset` of this attempt's output. */
static int post_output(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *job)
{
    const char *v;
    size_t vlen;
    djs_id_t wid;
    if (!djs_query_str(req, "workerId", &v, &vlen) || djs_id_parse(v, vlen, &wid) != 0)
        return wrong_type(req, "workerId", "the worker's id (query parameter)");
    if (!worker_self(s, req, who, &wid))
        return 0;
    uint64_t attempt, offset;
    if (query_number(req, "attempt", 0, &attempt) != 0 || query_number(req, "offset", UINT64_MAX, &offset) != 0)
        return 0;
    if (attempt == 0 || attempt > UINT32_MAX)
        return wrong_type(req, "attempt", "the assignment's attempt number (query parameter)");
    if (offset == UINT64_MAX)
        return wrong_type(req, "offset", "the byte offset of this chunk in the attempt's output (query parameter)");
    if (req->entity.len > 0 && !media_type_is(req, "application/octet-stream") && !media_type_is(req, "text/plain"))
        return problem(req, 415, "unsupported-media-type", "Unsupported Media Type", "send application/octet-stream");
    uint64_t seq, received = UINT64_MAX; /* set by the engine once the attempt is known */
    int rc = djs_engine_output(s->engine, &wid, job, (uint32_t)attempt, offset, (const uint8_t *)req->entity.base, req->entity.len,
                               &seq, &received);
    if (rc == DJS_ECONFLICT && received != UINT64_MAX && received != offset) /* a gap: say where to resume */
        return problem_ext(req, 409, "conflict", "Conflict", djs_engine_errmsg(s->engine),
                           json_pack("{s:I}", "received", (json_int_t)received));
    if (rc != 0)
        return engine_problem(req, s->engine, rc);
    json_t *b = json_pack("{s:o, s:I}", "id", djs_json_id(job), "received", (json_int_t)received);
    if (seq == 0)
        return send_json_new(req, 200, b, 0);
    json_object_set_new(b, "seq", json_integer((json_int_t)seq));
    return reply_when_durable(s, req, seq, 200, b);
}

/* GET /jobs/{id}/logs?offset=&limit=: the stored output from offset on,
 * raw; DJS-Log-Next-Offset says where to go on, DJS-Log-Complete whether
 * the job is finished and everything was returned. */
static int get_logs(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id)
{
    uint64_t offset, limit;
    if (query_number(req, "offset", 0, &offset) != 0 || query_number(req, "limit", 256 * 1024, &limit) != 0)
        return 0;
    if (limit == 0 || limit > (1u << 20))
        return problem(req, 400, "invalid-query", "Invalid query", "limit must be 1 to 1048576 bytes");
    djs_job_view_t v;
    int rc = view_job(s, who, id, UINT64_MAX, &v);
    if (rc != 0) {
        djs_job_view_dispose(&v);
        return rc == DJS_ENOTFOUND ? problem(req, 404, "not-found", "Not Found", "no such job")
                                   : problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    djs_buf_t out;
    djs_buf_init(&out);
    uint64_t next = offset;
    if (offset < v.out_len) {
        uint64_t max = v.out_len - offset < limit ? v.out_len - offset : limit;
        rc = djs_log_read_output(djs_engine_log(s->engine), id, offset, (size_t)max, &out, &next);
    }
    if (rc != 0) {
        djs_buf_dispose(&out);
        djs_job_view_dispose(&v);
        return problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    int complete = djs_job_state_final(v.state) && next >= v.out_len;
    observe(req, 200);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    char *hv = h2o_mem_alloc_pool(&req->pool, 24);
    int hn = snprintf(hv, 24, "%" PRIu64, next);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("djs-log-next-offset"), 0, NULL, hv, (size_t)hn);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("djs-log-complete"), 0, NULL, complete ? "true" : "false",
                          complete ? 4 : 5);
    char *sv = h2o_mem_alloc_pool(&req->pool, 24);
    int sn = snprintf(sv, 24, "%" PRIu64, v.last_seq);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("djs-seq"), 0, NULL, sv, (size_t)sn);
    char *copy = h2o_mem_alloc_pool(&req->pool, out.len + 1);
    if (out.len > 0)
        memcpy(copy, out.base, out.len);
    req->res.content_length = out.len;
    h2o_send_inline(req, copy, out.len);
    djs_buf_dispose(&out);
    djs_job_view_dispose(&v);
    return 0;
}

/* ---- system ------------------------------------------------------------------------------ */

/* ---- more job and worker commands ----------------------------------------------------- */

static int job_command(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *what)
{
    uint64_t seq;
    int rc;
    if (!owns(s, who, id))
        return problem(req, 404, "not-found", "Not Found", "no such job");
    if (strcmp(what, "retry") == 0)
        rc = djs_engine_retry(s->engine, who->sub, id, &seq);
    else
        rc = djs_engine_delete(s->engine, who->sub, id, &seq);
    if (rc != 0)
        return engine_problem(req, s->engine, rc);
    return reply_when_durable(s, req, seq, 200,
                              json_pack("{s:o, s:s, s:I}", "id", djs_json_id(id), "status",
                                        strcmp(what, "retry") == 0 ? "QUEUED" : "DELETED", "seq", (json_int_t)seq));
}

static int put_job(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id)
{
    static const char *const fields[] = {"name", "description", "priority", "maxRetries", "timeoutSeconds", NULL};
    json_t *j = read_json_body(req), *x;
    if (j == NULL)
        return 0;
    djs_job_change_t c;
    memset(&c, 0, sizeof(c));
    if (only_fields(req, j, fields) != 0)
        goto out;
    if (!owns(s, who, id)) {
        problem(req, 404, "not-found", "Not Found", "no such job");
        goto out;
    }
    if ((x = json_object_get(j, "name")) != NULL) {
        if (!json_is_string(x)) {
            wrong_type(req, "name", "a string");
            goto out;
        }
        c.has_name = 1;
        c.name = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    if ((x = json_object_get(j, "description")) != NULL) {
        if (!json_is_string(x)) {
            wrong_type(req, "description", "a string");
            goto out;
        }
        c.has_description = 1;
        c.description = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    if ((x = json_object_get(j, "priority")) != NULL) {
        int pr = json_is_string(x) ? djs_priority_parse(json_string_value(x), json_string_length(x)) : -1;
        if (pr < 0) {
            wrong_type(req, "priority", "one of HIGH, NORMAL, LOW");
            goto out;
        }
        c.has_priority = 1;
        c.priority = (uint8_t)pr;
    }
    if ((x = json_object_get(j, "maxRetries")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > UINT32_MAX) {
            wrong_type(req, "maxRetries", "a non-negative integer");
            goto out;
        }
        c.has_max_retries = 1;
        c.max_retries = (uint32_t)json_integer_value(x);
    }
    if ((x = json_object_get(j, "timeoutSeconds")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > UINT32_MAX) {
            wrong_type(req, "timeoutSeconds", "a non-negative integer");
            goto out;
        }
        c.has_timeout = 1;
        c.timeout_s = (uint32_t)json_integer_value(x);
    }
    uint64_t seq;
    int rc = djs_engine_update(s->engine, who->sub, id, &c, &seq);
    if (rc != 0)
        engine_problem(req, s->engine, rc);
    else
        reply_when_durable(s, req, seq, 200,
                           json_pack("{s:o, s:s, s:I}", "id", djs_json_id(id), "status", "UPDATED", "seq", (json_int_t)seq));
out:
    json_decref(j);
    return 0;
}

static const char *worker_status_name(int st)
{
    static const char *names[] = {"ACTIVE", "DRAINING", "LOST", "GONE"};
    return st >= 0 && st <= 3 ? names[st] : "?";
}

static json_t *worker_json(djs_state_t *st, const djs_worker_t *w)
{
    json_t *o = json_object(), *caps = json_array();
    djs_str_t names[DJS_JOB_MAX_CAPS];
    uint32_t n = djs_state_cap_names(st, w->caps, names, DJS_JOB_MAX_CAPS);
    for (uint32_t i = 0; i < n && i < DJS_JOB_MAX_CAPS; i++)
        json_array_append_new(caps, json_stringn(names[i].p, names[i].len));
    json_object_set_new(o, "id", djs_json_id(&w->id));
    json_object_set_new(o, "name", json_string(w->name));
    json_object_set_new(o, "host", json_string(w->host));
    json_object_set_new(o, "status", json_string(worker_status_name(w->status)));
    json_object_set_new(o, "capabilities", caps);
    json_object_set_new(o, "slots", json_integer(w->slots));
    json_object_set_new(o, "runningJobs", json_integer(w->running));
    json_object_set_new(o, "cpu", json_real(w->cpu_pm / 1000.0));
    json_object_set_new(o, "memory", json_real(w->mem_pm / 1000.0));
    json_object_set_new(o, "responseMs", json_integer(w->resp_ms));
    json_object_set_new(o, "score", json_real(w->score / 1e6));
    json_object_set_new(o, "registeredAt", djs_json_time(w->registered_ns));
    json_object_set_new(o, "lastRecordedHeartbeat", djs_json_time(w->heartbeat_ns));
    return o;
}

static int get_workers(djs_server_t *s, h2o_req_t *req, const djs_id_t *one)
{
    uint64_t seq;
    int given;
    if (read_point(s, req, &seq, &given) != 0)
        return 0;
    const djs_state_t *cst = djs_engine_state(s->engine);
    if (given) {
        int rc = djs_engine_state_at(s->engine, seq, &cst);
        if (rc != 0)
            return problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    djs_state_t *st = (djs_state_t *)cst; /* read only below */
    if (one != NULL) {
        djs_worker_t *w = djs_state_worker(st, one);
        if (w == NULL)
            return problem(req, 404, "not-found", "Not Found", "no such worker");
        return send_json_new(req, 200, worker_json(st, w), djs_state_seq(st));
    }
    json_t *list = json_array();
    for (uint32_t i = 0; i < djs_state_nworker_slots(st); i++) {
        djs_worker_t *w = djs_state_worker_at(st, i);
        if (w->status != DJS_WORKER_GONE)
            json_array_append_new(list, worker_json(st, w));
    }
    return send_json_new(req, 200, json_pack("{s:o}", "workers", list), djs_state_seq(st));
}

static int put_worker(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *wid)
{
    static const char *const fields[] = {"slots", "capabilities", "draining", NULL};
    json_t *j = read_json_body(req), *x;
    if (j == NULL)
        return 0;
    djs_worker_info_t wi = {0};
    djs_str_t caps[DJS_JOB_MAX_CAPS];
    uint32_t ncaps = 0;
    uint64_t seq;
    int rc;
    if (only_fields(req, j, fields) != 0)
        goto out;
    if ((x = json_object_get(j, "draining")) != NULL) {
        if (!json_is_true(x) || json_object_size(j) != 1) {
            wrong_type(req, "draining", "true, alone (a drain cannot be undone; register again)");
            goto out;
        }
        rc = djs_engine_drain(s->engine, who->sub, wid, &seq);
    } else {
        if ((x = json_object_get(j, "slots")) != NULL) {
            if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 10000) {
                wrong_type(req, "slots", "an integer from 1 to 10000");
                goto out;
            }
            wi.has_slots = 1;
            wi.slots = (uint32_t)json_integer_value(x);
        }
        if ((x = json_object_get(j, "capabilities")) != NULL) {
            if (read_caps(req, x, caps, &ncaps) != 0)
                goto out;
            wi.has_caps = 1;
        }
        rc = djs_engine_update_worker(s->engine, who->sub, wid, &wi, caps, ncaps, &seq);
    }
    if (rc != 0)
        engine_problem(req, s->engine, rc);
    else
        reply_when_durable(s, req, seq, 200, json_pack("{s:o, s:I}", "id", djs_json_id(wid), "seq", (json_int_t)seq));
out:
    json_decref(j);
    return 0;
}

static int delete_worker(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *wid)
{
    uint64_t seq;
    int rc = djs_engine_deregister(s->engine, who->sub, wid, &seq);
    if (rc != 0)
        return engine_problem(req, s->engine, rc);
    return reply_when_durable(s, req, seq, 200,
                              json_pack("{s:o, s:s, s:I}", "id", djs_json_id(wid), "status", "GONE", "seq", (json_int_t)seq));
}

/* ---- the log: events, history, lists ---------------------------------------------------- */

typedef struct events_ctx {
    json_t *list;
    uint32_t limit;
    int type; /* 0 = any */
    uint64_t last;
} events_ctx_t;

static int event_cb(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    events_ctx_t *c = arg;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0)
        return DJS_ECORRUPT;
    c->last = seq;
    if (c->type != 0 && ev.type != c->type)
        return 0;
    json_t *e = json_object();
    json_object_set_new(e, "seq", json_integer((json_int_t)seq));
    json_object_set_new(e, "type", json_string(djs_event_type_name(ev.type)));
    json_object_set_new(e, "at", djs_json_time(ev.ts_ns));
    json_object_set_new(e, "actor", json_stringn(ev.actor, ev.actor_len));
    json_object_set_new(e, "entity", djs_id_is_nil(&ev.entity) ? json_null() : djs_json_id(&ev.entity));
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, ev.body, ev.body_len);
    json_t *body = djs_mp_to_json(&r, 0);
    if (body != NULL && ev.type == DJS_EV_JOB_SUBMITTED)
        json_object_del(body, "deps"); /* binary ids: listed by GET /jobs/{id} */
    json_object_set_new(e, "body", body ? body : json_object());
    json_array_append_new(c->list, e);
    return json_array_size(c->list) >= c->limit ? 1 : 0;
}

/* GET /events?from_seq=&limit=&type=&entity= and GET /jobs/{id}/history. */
static int get_events(djs_server_t *s, h2o_req_t *req, const djs_id_t *job)
{
    djs_log_t *log = djs_engine_log(s->engine);
    uint64_t limit, from, durable;
    int given;
    /* as of a point (at_seq / as_of): the events up to it */
    if (query_number(req, "limit", 100, &limit) != 0 || query_number(req, "from_seq", 1, &from) != 0 ||
        read_point(s, req, &durable, &given) != 0)
        return 0;
    if (limit == 0 || limit > 1000)
        return problem(req, 400, "invalid-query", "Invalid query", "limit must be 1 to 1000");
    events_ctx_t c = {json_array(), (uint32_t)limit, 0, 0};
    const char *v;
    size_t len;
    djs_id_t entity;
    int by_entity = job != NULL;
    if (job != NULL)
        entity = *job;
    if (djs_query_str(req, "type", &v, &len) && (c.type = djs_event_type_from_name(v, len)) < 0) {
        json_decref(c.list);
        return problem(req, 400, "invalid-query", "Invalid query", "type is not an event type (docs/events.md)");
    }
    if (job == NULL && djs_query_str(req, "entity", &v, &len)) {
        if (djs_id_parse(v, len, &entity) != 0) {
            json_decref(c.list);
            return problem(req, 400, "invalid-query", "Invalid query", "entity must be a job or worker id");
        }
        by_entity = 1;
    }
    int rc =
        by_entity ? djs_log_scan_entity(log, &entity, from, durable, event_cb, &c) : djs_log_scan(log, from, durable, event_cb, &c);
    if (rc < 0) {
        json_decref(c.list);
        return problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    if (job != NULL && json_array_size(c.list) == 0 && from <= 1) {
        json_decref(c.list);
        return problem(req, 404, "not-found", "Not Found", "no such job");
    }
    json_t *b = json_pack("{s:o}", "events", c.list);
    /* the cursor: where the next page starts */
    json_object_set_new(b, "next", rc == 1 ? json_integer((json_int_t)(c.last + 1)) : json_null());
    return send_json_new(req, 200, b, durable);
}

/* GET /jobs?status=&priority=&owner=&limit=&cursor=: live jobs in id
 * (creation) order, a page after the cursor id. Each page is one pass over
 * the live projection keeping the `limit` smallest ids past the cursor. */
/* 1 if the capability set `set` holds the capability cap. */
static int set_has(const djs_state_t *st, uint32_t set, const char *cap, size_t len)
{
    djs_str_t names[DJS_JOB_MAX_CAPS];
    uint32_t n = djs_state_cap_names(st, set, names, DJS_JOB_MAX_CAPS);
    for (uint32_t i = 0; i < n && i < DJS_JOB_MAX_CAPS; i++)
        if (names[i].len == len && memcmp(names[i].p, cap, len) == 0)
            return 1;
    return 0;
}

/* 1 if the job's name (in its job.submitted record) starts with prefix. */
static int name_has_prefix(djs_server_t *s, const djs_job_t *j, const char *prefix, size_t len, djs_buf_t *rec)
{
    djs_event_t ev;
    djs_job_spec_t sp;
    djs_buf_reset(rec);
    return djs_log_get(djs_engine_log(s->engine), j->submit_seq, rec) == 0 && djs_event_decode(rec->base, rec->len, &ev) == 0 &&
           djs_body_read_job_spec(ev.body, ev.body_len, &sp) == 0 && sp.name.len >= len && memcmp(sp.name.p, prefix, len) == 0;
}

static int list_jobs(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who)
{
    uint64_t limit, at;
    int given;
    if (query_number(req, "limit", 50, &limit) != 0 || read_point(s, req, &at, &given) != 0)
        return 0;
    const djs_state_t *cst = djs_engine_state(s->engine);
    if (given) {
        int rc = djs_engine_state_at(s->engine, at, &cst);
        if (rc != 0)
            return problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    djs_state_t *st = (djs_state_t *)cst; /* read only below */
    const char *cap = NULL, *prefix = NULL;
    size_t cap_len = 0, prefix_len = 0;
    djs_query_str(req, "capability", &cap, &cap_len);
    djs_query_str(req, "name_prefix", &prefix, &prefix_len);
    djs_buf_t rec;
    djs_buf_init(&rec);
    int status = -1, prio = -1;
    const char *v;
    size_t len;
    djs_id_t cursor = {{0}};
    const char *owner = who->role == DJS_ROLE_USER ? who->sub : NULL;
    size_t owner_len = owner ? strlen(owner) : 0;
    if (limit == 0 || limit > 500)
        return problem(req, 400, "invalid-query", "Invalid query", "limit must be 1 to 500");
    if (djs_query_str(req, "status", &v, &len) && (status = djs_job_state_parse(v, len)) < 0)
        return problem(req, 400, "invalid-query", "Invalid query", "status is not a job state");
    if (djs_query_str(req, "priority", &v, &len) && (prio = djs_priority_parse(v, len)) < 0)
        return problem(req, 400, "invalid-query", "Invalid query", "priority is not HIGH, NORMAL or LOW");
    if (djs_query_str(req, "cursor", &v, &len) && djs_id_parse(v, len, &cursor) != 0)
        return problem(req, 400, "invalid-query", "Invalid query", "cursor must be the last id of the previous page");
    if (owner == NULL && djs_query_str(req, "owner", &v, &len))
        owner = v, owner_len = len;
    uint32_t *page = djs_malloc(((size_t)limit + 1) * sizeof(uint32_t)), n = 0;
    for (uint32_t slot = 0; slot < djs_state_njob_slots(st); slot++) {
        djs_job_t *j = djs_state_job_at(st, slot);
        if (j == NULL || djs_id_cmp(&j->id, &cursor) <= 0 || (status >= 0 && j->state != status) || (prio >= 0 && j->prio != prio))
            continue;
        if (owner != NULL) {
            size_t ol;
            const char *o = djs_state_str(st, j->owner, &ol);
            if (ol != owner_len || memcmp(o, owner, ol) != 0)
                continue;
        }
        if (cap != NULL && !set_has(st, j->cls, cap, cap_len))
            continue;
        if (prefix != NULL && !name_has_prefix(s, j, prefix, prefix_len, &rec))
            continue;
        /* insertion into the sorted page, dropping the largest past limit */
        uint32_t i = n;
        while (i > 0 && djs_id_cmp(&djs_state_job_at(st, page[i - 1])->id, &j->id) > 0) {
            page[i] = page[i - 1];
            i--;
        }
        if (i < limit) {
            page[i] = slot;
            if (n < limit)
                n++;
        }
    }
    json_t *list = json_array();
    for (uint32_t i = 0; i < n; i++) {
        djs_job_t *j = djs_state_job_at(st, page[i]);
        json_t *o = json_object();
        json_object_set_new(o, "id", djs_json_id(&j->id));
        djs_event_t ev;
        djs_job_spec_t sp;
        djs_buf_reset(&rec);
        if (djs_log_get(djs_engine_log(s->engine), j->submit_seq, &rec) == 0 && djs_event_decode(rec.base, rec.len, &ev) == 0 &&
            djs_body_read_job_spec(ev.body, ev.body_len, &sp) == 0)
            json_object_set_new(o, "name", json_stringn(sp.name.p ? sp.name.p : "", sp.name.len));
        size_t ol;
        const char *ow = djs_state_str(st, j->owner, &ol);
        json_object_set_new(o, "owner", json_stringn(ow, ol));
        json_object_set_new(o, "status", json_string(djs_job_state_name(j->state)));
        json_object_set_new(o, "priority", json_string(djs_priority_name(j->prio)));
        json_object_set_new(o, "attempt", json_integer(j->attempt));
        json_object_set_new(o, "progress", json_integer(j->percent));
        json_object_set_new(o, "assignedWorker",
                            j->worker != DJS_NONE ? djs_json_id(&djs_state_worker_at(st, j->worker)->id) : json_null());
        json_object_set_new(o, "createdAt", djs_json_time(j->created_ns));
        json_array_append_new(list, o);
    }
    djs_buf_dispose(&rec);
    json_t *b = json_pack("{s:o}", "jobs", list);
    json_object_set_new(b, "next", n == limit ? djs_json_id(&djs_state_job_at(st, page[n - 1])->id) : json_null());
    djs_free(page);
    return send_json_new(req, 200, b, given ? at : djs_state_seq(st));
}

static json_t *stats_json(const djs_metrics_t *m, uint64_t seq)
{
    json_t *b = json_object(), *states = json_object(), *ready = json_object();
    for (int i = 0; i < DJS_JOB_NSTATES; i++)
        json_object_set_new(states, djs_job_state_name(i), json_integer((json_int_t)m->by_state[i]));
    for (int i = 0; i < DJS_NPRIO; i++)
        json_object_set_new(ready, djs_priority_name(i), json_integer((json_int_t)m->ready[i]));
    json_object_set_new(b, "jobs", states);
    json_object_set_new(b, "ready", ready);
    json_object_set_new(b, "delayed", json_integer((json_int_t)m->delayed));
    json_object_set_new(b, "submitted", json_integer((json_int_t)m->submitted));
    json_object_set_new(b, "completed", json_integer((json_int_t)m->completed));
    json_object_set_new(b, "failed", json_integer((json_int_t)m->failed));
    json_object_set_new(b, "cancelled", json_integer((json_int_t)m->cancelled));
    json_object_set_new(b, "workersActive", json_integer((json_int_t)m->workers_active));
    json_object_set_new(b, "workersLost", json_integer((json_int_t)m->workers_lost));
    json_object_set_new(b, "slotsTotal", json_integer((json_int_t)m->slots_total));
    json_object_set_new(b, "slotsBusy", json_integer((json_int_t)m->slots_busy));
    json_object_set_new(b, "seq", json_integer((json_int_t)seq));
    return b;
}

/* GET /stats and /state: now, or as of ?at_seq / ?as_of (time travel). */
static int get_stats(djs_server_t *s, h2o_req_t *req, int with_ts)
{
    uint64_t seq;
    int given;
    if (read_point(s, req, &seq, &given) != 0)
        return 0;
    const djs_state_t *st = djs_engine_state(s->engine);
    if (given) {
        int rc = djs_engine_state_at(s->engine, seq, &st);
        if (rc != 0)
            return problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    json_t *b = stats_json(djs_state_metrics(st), given ? seq : djs_log_durable_seq(djs_engine_log(s->engine)));
    if (with_ts)
        json_object_set_new(b, "at", djs_json_time(djs_state_ts(st)));
    return send_json_new(req, 200, b, given ? seq : djs_log_durable_seq(djs_engine_log(s->engine)));
}

static int get_prometheus(djs_server_t *s, h2o_req_t *req)
{
    djs_log_t *log = djs_engine_log(s->engine);
    djs_log_stats_t ls;
    djs_log_get_stats(log, &ls);
    observe(req, 200); /* counted before rendering, so this scrape is included */
    djs_prom_input_t in = {djs_state_metrics(djs_engine_state(s->engine)),
                           &ls,
                           djs_log_map_size(log),
                           djs_log_last_seq(log),
                           djs_log_durable_seq(log),
                           &s->http};
    djs_buf_t out;
    djs_buf_init(&out);
    djs_prom_render(&out, &in);
    char *copy = h2o_mem_alloc_pool(&req->pool, out.len ? out.len : 1);
    memcpy(copy, out.base, out.len);
    size_t len = out.len;
    djs_buf_dispose(&out);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT(DJS_PROM_CONTENT_TYPE));
    req->res.content_length = len; /* not chunked: one write, simpler clients */
    h2o_send_inline(req, copy, len);
    return 0;
}

/* ---- routing ------------------------------------------------------------------------------
 *
 * One table: method, path pattern (at most one {id} segment), the roles
 * that may call it (0 = public) and the handler. It drives dispatch, the
 * 405 answers with their Allow header, and djs_server_routes (which the
 * OpenAPI test compares with docs/openapi.yaml). */

#define MAX_URL_BYTES 8192
#define DRAIN_MS 2000 /* after a stop: in-flight answers get this long, then connections are ended */
#define MAX_HEAD_BYTES 32768

typedef int (*route_fn)(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);

typedef struct route {
    const char *method;
    const char *path;
    unsigned roles;
    route_fn fn;
    const char *arg;
} route_t;

static int h_health(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)s, (void)who, (void)id, (void)arg;
    return send_json_new(req, 200, json_pack("{s:s}", "status", "ok"), 0);
}

static int h_ready(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    int st = djs_log_status(djs_engine_log(s->engine));
    if (st != 0)
        return problem(req, 503, "log-unavailable", "Event log not writable", djs_strerror(st));
    return send_json_new(req, 200, json_pack("{s:s}", "status", "ready"), 0);
}

static int h_metrics(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    return get_prometheus(s, req);
}

static int h_post_job(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)id, (void)arg;
    return post_job(s, req, who);
}

static int h_list_jobs(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)id, (void)arg;
    return list_jobs(s, req, who);
}

static int h_get_job(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return get_job(s, req, who, id);
}

static int h_put_job(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return put_job(s, req, who, id);
}

static int h_job_command(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    return job_command(s, req, who, id, arg);
}

static int h_cancel(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return cancel_job(s, req, who, id);
}

static int h_history(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    if (!owns(s, who, id))
        return problem(req, 404, "not-found", "Not Found", "no such job");
    return get_events(s, req, id);
}

static int h_logs(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return get_logs(s, req, who, id);
}

static int h_output(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return post_output(s, req, who, id);
}

static int h_report(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    return report(s, req, who, id, arg);
}

static int h_post_worker(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)id, (void)arg;
    return post_worker(s, req, who);
}

static int h_get_workers(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)arg;
    return get_workers(s, req, id);
}

/* A worker token may change, drain or deregister only its own worker. */
static int h_put_worker(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return worker_self(s, req, who, id) ? put_worker(s, req, who, id) : 0;
}

static int h_delete_worker(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return worker_self(s, req, who, id) ? delete_worker(s, req, who, id) : 0;
}

static int h_heartbeat(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return worker_self(s, req, who, id) ? heartbeat(s, req, id) : 0;
}

static int h_poll(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return worker_self(s, req, who, id) ? poll_worker(s, req, id) : 0;
}

static int h_reports(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    return worker_self(s, req, who, id) ? post_reports(s, req, id) : 0;
}

static int h_stats(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id;
    return get_stats(s, req, arg != NULL);
}

static int h_events(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    return get_events(s, req, NULL);
}

static int h_stream(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)id;
    static const char *const kinds[] = {"", "events", "job-updates", "worker-status", "system-metrics"};
    int sse = strcmp(arg, "sse") == 0, kind = DJS_STREAM_EVENTS;
    for (int k = 1; k <= DJS_STREAM_SYSTEM_METRICS; k++)
        if (strcmp(arg, kinds[k]) == 0)
            kind = k;
    char detail[160];
    int st = djs_stream_open(s->streams, req, who, kind, sse, detail, sizeof(detail));
    if (st == 0) {
        observe(req, sse ? 200 : 101);
        return 0;
    }
    if (st == 426) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
        return problem(req, 426, "upgrade-required", "Upgrade Required", detail);
    }
    if (st == 503)
        return problem(req, 503, "unavailable", "Service Unavailable", detail);
    return problem(req, 400, "invalid-query", "Invalid query", detail);
}

static int h_shutdown(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    send_json_new(req, 202, json_pack("{s:s}", "status", "shutting down"), 0);
    if (s->cfg.on_shutdown != NULL)
        s->cfg.on_shutdown(s->cfg.shutdown_arg);
    return 0;
}

#define ANY_JOB_ROLE (STAFF | R(USER))
#define WORKER_ROLE (STAFF | R(WORKER))
static const route_t route_table[] = {
    {"GET", "/health", 0, h_health, NULL},
    {"GET", "/health/ready", 0, h_ready, NULL},
    {"GET", "/metrics", STAFF, h_metrics, NULL},
    {"POST", API "/jobs", ANY_JOB_ROLE, h_post_job, NULL},
    {"GET", API "/jobs", ANY_JOB_ROLE, h_list_jobs, NULL},
    {"GET", API "/jobs/{id}", ANY_JOB_ROLE, h_get_job, NULL},
    {"PUT", API "/jobs/{id}", ANY_JOB_ROLE, h_put_job, NULL},
    {"DELETE", API "/jobs/{id}", ANY_JOB_ROLE, h_job_command, "delete"},
    {"POST", API "/jobs/{id}/retry", ANY_JOB_ROLE, h_job_command, "retry"},
    {"POST", API "/jobs/{id}/cancel", ANY_JOB_ROLE, h_cancel, NULL},
    {"GET", API "/jobs/{id}/history", ANY_JOB_ROLE, h_history, NULL},
    {"GET", API "/jobs/{id}/logs", ANY_JOB_ROLE, h_logs, NULL},
    {"POST", API "/jobs/{id}/output", WORKER_ROLE, h_output, NULL},
    {"POST", API "/jobs/{id}/start", WORKER_ROLE, h_report, "start"},
    {"POST", API "/jobs/{id}/progress", WORKER_ROLE, h_report, "progress"},
    {"POST", API "/jobs/{id}/complete", WORKER_ROLE, h_report, "complete"},
    {"POST", API "/jobs/{id}/fail", WORKER_ROLE, h_report, "fail"},
    {"POST", API "/workers", WORKER_ROLE, h_post_worker, NULL},
    {"GET", API "/workers", STAFF, h_get_workers, NULL},
    {"GET", API "/workers/{id}", STAFF, h_get_workers, NULL},
    {"PUT", API "/workers/{id}", WORKER_ROLE, h_put_worker, NULL},
    {"DELETE", API "/workers/{id}", WORKER_ROLE, h_delete_worker, NULL},
    {"POST", API "/workers/{id}/heartbeat", WORKER_ROLE, h_heartbeat, NULL},
    {"POST", API "/workers/{id}/poll", WORKER_ROLE, h_poll, NULL},
    {"POST", API "/workers/{id}/reports", WORKER_ROLE, h_reports, NULL},
    {"GET", API "/stats", STAFF, h_stats, NULL},
    {"GET", API "/state", STAFF, h_stats, "state"},
    {"GET", API "/events", STAFF, h_events, NULL},
    {"POST", API "/admin/shutdown", R(ADMIN), h_shutdown, NULL},
    {"GET", API "/events/stream", STAFF, h_stream, "sse"},
    {"GET", "/ws/events", STAFF, h_stream, "events"},
    {"GET", "/ws/job-updates", ANY_JOB_ROLE, h_stream, "job-updates"},
    {"GET", "/ws/worker-status", STAFF, h_stream, "worker-status"},
    {"GET", "/ws/system-metrics", STAFF, h_stream, "system-metrics"},
};
#define NROUTES (sizeof(route_table) / sizeof(route_table[0]))

/* 1: path p matches pattern pat (*idp -> the {id} text); -1: it has the
 * pattern's shape but the {id} segment is not 36 characters; 0: no. */
static int match_path(const char *pat, const char *p, size_t n, const char **idp)
{
    const char *brace = strstr(pat, "{id}");
    if (brace == NULL)
        return n == strlen(pat) && memcmp(p, pat, n) == 0;
    size_t plen = (size_t)(brace - pat), slen = strlen(brace + 4);
    if (n < plen + slen || memcmp(p, pat, plen) != 0 || memcmp(p + n - slen, brace + 4, slen) != 0)
        return 0;
    size_t mid = n - plen - slen;
    if (memchr(p + plen, '/', mid) != NULL)
        return 0;
    *idp = p + plen;
    return mid == DJS_ID_TEXT_LEN ? 1 : -1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    djs_server_t *s = ((handler_t *)self)->server;
    const char *p = req->path_normalized.base, *idp = NULL;
    size_t n = req->path_normalized.len;
    const route_t *hit = NULL;
    int bad_id = 0;
    /* h2o bounds a request head at ~408 KiB; we answer far less */
    size_t head = req->path.len;
    for (size_t i = 0; i < req->headers.size; i++)
        head += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    if (req->path.len > MAX_URL_BYTES)
        return problem(req, 414, "uri-too-long", "URI Too Long", "the request target is longer than 8 KiB");
    if (head > MAX_HEAD_BYTES)
        return problem(req, 431, "headers-too-large", "Request Header Fields Too Large",
                       "the request's header fields add up to more than 32 KiB");
    char allow_hdr[64] = "";
    for (size_t i = 0; i < NROUTES && hit == NULL; i++) {
        const char *ip = NULL;
        int m = match_path(route_table[i].path, p, n, &ip);
        if (m == 0)
            continue;
        if (!h2o_memis(req->method.base, req->method.len, route_table[i].method, strlen(route_table[i].method))) {
            if (m == 1 && strlen(allow_hdr) + strlen(route_table[i].method) + 3 < sizeof(allow_hdr))
                snprintf(allow_hdr + strlen(allow_hdr), sizeof(allow_hdr) - strlen(allow_hdr), "%s%s", allow_hdr[0] ? ", " : "",
                         route_table[i].method);
            continue;
        }
        if (m == 1)
            hit = &route_table[i], idp = ip;
        else
            bad_id = 1;
    }
    if (hit == NULL && bad_id)
        return problem(req, 400, "invalid-id", "Invalid id", "the id is not a UUID (8-4-4-4-12 hex)");
    if (hit == NULL && allow_hdr[0] != '\0') {
        size_t alen = strlen(allow_hdr);
        char *a = h2o_mem_alloc_pool(&req->pool, alen);
        memcpy(a, allow_hdr, alen);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, a, alen);
        char detail[96];
        snprintf(detail, sizeof(detail), "this path answers %s", allow_hdr);
        return problem(req, 405, "method-not-allowed", "Method Not Allowed", detail);
    }
    if (hit == NULL)
        return problem(req, 404, "not-found", "Not Found", "no such endpoint (see docs/openapi.yaml)");
    if (s->stopping) /* stopping: each connection ends with its next answer, so the server can finish */
        req->http1_is_persistent = 0;
    djs_principal_t who;
    memset(&who, 0, sizeof(who));
    if (hit->roles != 0 &&
        (authenticate(s, req, &who, hit->fn == h_stream) != 0 || !rate_ok(s, req, &who) || !allow(req, &who, hit->roles)))
        return 0;
    djs_id_t id, *idv = NULL;
    if (idp != NULL) {
        if (parse_id(req, idp, DJS_ID_TEXT_LEN, &id) != 0)
            return 0;
        idv = &id;
    }
    return hit->fn(s, req, &who, idv, hit->arg);
}

const char *const *djs_server_routes(void)
{
    static char text[NROUTES][96];
    static const char *list[NROUTES + 1];
    for (size_t i = 0; i < NROUTES; i++) {
        snprintf(text[i], sizeof(text[i]), "%s %s", route_table[i].method, route_table[i].path);
        list[i] = text[i];
    }
    list[NROUTES] = NULL;
    return list;
}

/* ---- listener ---------------------------------------------------------------------------
 *
 * The h2o context may be disposed only once every connection is gone, so
 * connections are counted; the server is freed when the listener is closed
 * and the last connection has closed. */
static void maybe_free(djs_server_t *s);
static void on_drain_closed(uv_handle_t *h);

/* h2o takes the handle's data pointer: the server is found through this
 * wrapper instead (the handle is its first member). */
typedef struct conn {
    uv_tcp_t tcp;
    djs_server_t *server;
    struct conn *prev, *next; /* the server's open connections */
} conn_t;

static void on_conn_closed(uv_handle_t *h)
{
    conn_t *c = (conn_t *)h;
    djs_server_t *s = c->server;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conn_list = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    djs_free(c);
    s->conns--;
    maybe_free(s);
}

static void on_accept(uv_stream_t *listener, int status)
{
    djs_server_t *s = listener->data;
    if (status != 0 || s->stopping)
        return;
    conn_t *conn = djs_malloc(sizeof(*conn));
    uv_tcp_init(listener->loop, &conn->tcp);
    conn->server = s;
    conn->prev = NULL;
    conn->next = s->conn_list;
    if (s->conn_list != NULL)
        s->conn_list->prev = conn;
    s->conn_list = conn;
    s->conns++;
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp) != 0) {
        uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
        return;
    }
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&conn->tcp, on_conn_closed);
    h2o_accept(&s->accept_ctx, sock);
}

void djs_server_config_init(djs_server_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->port = 8080;
    c->max_body = 1u << 20;
    c->rate_per_s = 1000;
    c->rate_burst = 2000;
    c->stream_batch_ms = -1;
}

/* TLS 1.2 or later, the certificate chain and key, ALPN offering
 * http/1.1, and h2 when asked for: h2o 2.2's HTTP/2 stack is frozen since
 * 2019 and gets no fixes, so it is a choice (WebSocket clients use
 * HTTP/1.1 anyway). */
static int setup_tls(djs_server_t *s)
{
    if (s->cfg.tls_cert == NULL && s->cfg.tls_key == NULL)
        return 0;
    if (s->cfg.tls_cert == NULL || s->cfg.tls_key == NULL)
        return DJS_EINVAL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return DJS_ECRYPTO;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, s->cfg.tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, s->cfg.tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        char msg[256];
        ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
        fprintf(stderr, "djs: TLS: %s\n", msg);
        SSL_CTX_free(ctx);
        return DJS_ECRYPTO;
    }
    static const h2o_iovec_t http1_only[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};
    h2o_ssl_register_alpn_protocols(ctx, s->cfg.http2 ? h2o_http2_alpn_protocols : http1_only);
    s->ssl = ctx;
    s->accept_ctx.ssl_ctx = ctx;
    return 0;
}

static void maybe_free(djs_server_t *s)
{
    if (!s->listener_closed || s->conns > 0)
        return;
    if (s->drain_on) { /* all closed before the drain: stop waiting for it */
        if (!uv_is_closing((uv_handle_t *)&s->drain))
            uv_close((uv_handle_t *)&s->drain, on_drain_closed);
        return;
    }
    if (s->ssl != NULL)
        SSL_CTX_free(s->ssl);
    djs_streams_free(s->streams);
    h2o_context_dispose(&s->ctx);
    h2o_config_dispose(&s->config);
    djs_http_stats_dispose(&s->http);
    djs_free(s->buckets);
    auth_memo_free(s);
    djs_buf_dispose(&s->scratch);
    djs_free(s);
}

static void on_listener_closed(uv_handle_t *h)
{
    djs_server_t *s = h->data;
    s->listener_closed = 1;
    maybe_free(s);
}

int djs_server_start(djs_server_t **out, uv_loop_t *loop, djs_engine_t *engine, const djs_server_config_t *c)
{
    djs_server_t *s = djs_calloc(1, sizeof(*s));
    struct sockaddr_in addr;
    int rc;
    if (c != NULL)
        s->cfg = *c;
    else
        djs_server_config_init(&s->cfg);
    s->loop = loop;
    s->engine = engine;
    if (uv_ip4_addr(s->cfg.host, s->cfg.port, &addr) != 0) {
        djs_free(s);
        return DJS_EINVAL;
    }
    djs_http_stats_init(&s->http);
    djs_buf_init(&s->scratch);
    /* Per-request memory: h2o's request pools (4 KiB chunks) and socket
     * input buffers come from recycle bins that keep 16 blocks, so with
     * more connections than that each request mallocs and frees blocks of
     * 4-8 KiB; glibc then trims the top of the heap on free and grows it
     * again at the next malloc (brk and page faults: 13% of the loop thread
     * under 64 connections, perf). Keep freed memory in the process, and a
     * larger bin for the socket buffers (a per-thread setting of h2o). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    if (h2o_socket_buffer_prototype.allocator.max < 1024)
        h2o_socket_buffer_prototype.allocator.max = 1024;
    h2o_config_init(&s->config);
    s->config.max_request_entity_size = s->cfg.max_body;
    s->config.http1.upgrade_to_http2 = s->cfg.http2; /* no cleartext h2c upgrade unless h2 was chosen */
    h2o_hostconf_t *host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    handler_t *h = (handler_t *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->server = s;
    h2o_context_init(&s->ctx, loop, &s->config);
    s->accept_ctx.ctx = &s->ctx;
    s->accept_ctx.hosts = s->config.hosts;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    int trc = setup_tls(s);
    if (trc != 0) {
        s->stopping = 1;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        *out = NULL;
        return trc;
    }
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&s->listener, 128, on_accept)) != 0) {
        s->stopping = 1;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed); /* frees s once the loop runs */
        *out = NULL;
        return djs_err_from_uv(rc);
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    djs_engine_set_assign_cb(engine, on_assign, s);
    djs_streams_config_t sc;
    djs_streams_config_init(&sc);
    if (s->cfg.stream_ping_ms > 0)
        sc.ping_ms = s->cfg.stream_ping_ms;
    if (s->cfg.stream_stall_ms > 0)
        sc.stall_ms = s->cfg.stream_stall_ms;
    if (s->cfg.stream_batch_ms >= 0)
        sc.batch_ms = (uint32_t)s->cfg.stream_batch_ms;
    if (s->cfg.stream_window_bytes > 0)
        sc.window_bytes = s->cfg.stream_window_bytes;
    djs_streams_new(&s->streams, loop, engine, &sc);
    *out = s;
    return 0;
}

int djs_server_port(const djs_server_t *s)
{
    return s->port;
}

static void on_drain_closed(uv_handle_t *h)
{
    djs_server_t *s = h->data;
    s->drain_on = 0;
    maybe_free(s);
}

static void on_drain(uv_timer_t *t)
{
    djs_server_t *s = t->data;
    for (conn_t *c = s->conn_list; c != NULL; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
    uv_close((uv_handle_t *)&s->drain, on_drain_closed);
}

void djs_server_stop(djs_server_t *s)
{
    if (s == NULL || s->stopping)
        return;
    s->stopping = 1;
    djs_engine_set_assign_cb(s->engine, NULL, NULL);
    while (s->pollers != NULL) /* answer parked polls now (empty lists) */
        poller_finish(s->pollers);
    djs_streams_shutdown(s->streams); /* WebSockets get 1001, SSE responses end */
    /* No h2o_context_request_shutdown: in h2o 2.2 it arms an HTTP/2 timer
     * that h2o_context_dispose then asserts on. Instead: answers from now on
     * close their connections (on_req), and after DRAIN_MS whatever is still
     * open (idle keep-alive connections, which busy agents never leave idle
     * for long) is shut down at the socket, so h2o reads EOF and closes it
     * through its own paths. The server is freed once the last one closed. */
    uv_timer_init(s->loop, &s->drain);
    s->drain.data = s;
    s->drain_on = 1;
    uv_timer_start(&s->drain, on_drain, DRAIN_MS, 0);
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}
