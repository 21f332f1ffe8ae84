/* The route table and dispatch, and who may call what: authentication
 * (bearer tokens, with a memo of those already verified), rate limiting
 * per principal, roles, and the ownership checks of the handlers. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/render.h"
#include "api/server_internal.h"
#include "cluster/cluster.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"

#define API "/api/v1"
#define MAX_URL_BYTES 8192
#define MAX_HEAD_BYTES 32768

/* ---- the routes ---------------------------------------------------------------------
 *
 * One table: method, path pattern (at most one {id} segment), the roles
 * that may call it (0 = public), the handler and its constant argument. It
 * drives dispatch, the 405 answers with their Allow header, and
 * djs_server_routes (which the OpenAPI test compares with docs/openapi.yaml).
 *
 * To add a route: write its handler, with the djs__route_fn signature of
 * api/server_internal.h, in the room of its resource (jobs.c, workers.c,
 * schedules.c, events.c, audit.c, system.c), declare it in server_internal.h with the others of
 * that room, and add one row here. The handler is called only after the
 * principal was admitted for the row's roles and the {id} parsed; it
 * answers (djs__send_json_new, djs__problem, djs__reply_when_durable...)
 * and returns 0. Then describe the route in docs/openapi.yaml: the OpenAPI
 * test fails until the two agree. */

typedef struct route {
    const char *method;
    const char *path;
    unsigned roles;
    djs__route_fn fn;
    const char *arg;
} route_t;

#define R(x) DJS__ROLE(x)
#define STAFF DJS__STAFF

static int admit(djs_server_t *s, h2o_req_t *req, unsigned roles, int query_ok, djs_principal_t *who);

#define ANY_JOB_ROLE (STAFF | R(USER))
#define WORKER_ROLE (STAFF | R(WORKER))
#define ANY_ROLE (STAFF | R(USER) | R(WORKER))
static const route_t route_table[] = {
    {"GET", "/health", 0, djs__system_health, NULL},
    {"GET", "/health/ready", 0, djs__system_ready, NULL},
    {"GET", "/metrics", STAFF, djs__system_metrics, NULL},
    /* the original design's paths for the two above: the same answers */
    {"GET", API "/health", 0, djs__system_health, NULL},
    {"GET", API "/metrics", STAFF, djs__system_metrics, NULL},
    {"POST", API "/jobs", ANY_JOB_ROLE, djs__jobs_post, NULL},
    {"GET", API "/jobs", ANY_JOB_ROLE, djs__jobs_list, NULL},
    {"GET", API "/jobs/{id}", ANY_JOB_ROLE, djs__jobs_get, NULL},
    {"PUT", API "/jobs/{id}", ANY_JOB_ROLE, djs__jobs_put, NULL},
    {"DELETE", API "/jobs/{id}", ANY_JOB_ROLE, djs__jobs_command, "delete"},
    {"POST", API "/jobs/{id}/retry", ANY_JOB_ROLE, djs__jobs_command, "retry"},
    {"POST", API "/jobs/{id}/cancel", ANY_JOB_ROLE, djs__jobs_cancel, NULL},
    {"GET", API "/jobs/{id}/history", ANY_JOB_ROLE, djs__jobs_history, NULL},
    {"GET", API "/jobs/{id}/logs", ANY_JOB_ROLE, djs__jobs_logs, NULL},
    {"POST", API "/jobs/{id}/output", WORKER_ROLE, djs__jobs_output, NULL},
    {"POST", API "/jobs/{id}/start", WORKER_ROLE, djs__workers_report, "start"},
    {"POST", API "/jobs/{id}/progress", WORKER_ROLE, djs__workers_report, "progress"},
    {"POST", API "/jobs/{id}/complete", WORKER_ROLE, djs__workers_report, "complete"},
    {"POST", API "/jobs/{id}/fail", WORKER_ROLE, djs__workers_report, "fail"},
    {"GET", API "/workflows", ANY_JOB_ROLE, djs__workflows_list, NULL},
    {"POST", API "/schedules", ANY_JOB_ROLE, djs__schedules_post, NULL},
    {"GET", API "/schedules", ANY_JOB_ROLE, djs__schedules_get, NULL},
    {"GET", API "/schedules/{id}", ANY_JOB_ROLE, djs__schedules_get, NULL},
    {"PUT", API "/schedules/{id}", ANY_JOB_ROLE, djs__schedules_post, NULL},
    {"DELETE", API "/schedules/{id}", ANY_JOB_ROLE, djs__schedules_command, "delete"},
    {"POST", API "/schedules/{id}/pause", ANY_JOB_ROLE, djs__schedules_command, "pause"},
    {"POST", API "/schedules/{id}/resume", ANY_JOB_ROLE, djs__schedules_command, "resume"},
    {"POST", API "/workers", WORKER_ROLE, djs__workers_post, NULL},
    {"GET", API "/workers", STAFF, djs__workers_get, NULL},
    {"GET", API "/workers/{id}", STAFF, djs__workers_get, NULL},
    {"PUT", API "/workers/{id}", WORKER_ROLE, djs__workers_put, NULL},
    {"DELETE", API "/workers/{id}", WORKER_ROLE, djs__workers_delete, NULL},
    {"POST", API "/workers/{id}/heartbeat", WORKER_ROLE, djs__workers_heartbeat, NULL},
    {"POST", API "/workers/{id}/poll", WORKER_ROLE, djs__workers_poll, NULL},
    {"POST", API "/workers/{id}/reports", WORKER_ROLE, djs__workers_reports, NULL},
    {"POST", API "/session", 0, djs__session_post, NULL},
    {"GET", API "/session", ANY_ROLE, djs__session_get, NULL},
    {"DELETE", API "/session", ANY_ROLE, djs__session_delete, NULL},
    {"GET", API "/metrics/history", STAFF, djs__system_metrics_history, NULL},
    {"GET", API "/stats", STAFF, djs__system_stats, NULL},
    {"GET", API "/state", STAFF, djs__events_state, NULL},
    {"GET", API "/events", STAFF, djs__events_get, NULL},
    {"GET", API "/audit", STAFF, djs__audit_get, NULL},
    {"GET", API "/cluster", STAFF, djs__system_cluster, NULL},
    {"POST", API "/cluster/add", R(ADMIN), djs__system_cluster_change, "add"},
    {"POST", API "/cluster/assign", R(ADMIN), djs__system_cluster_change, "assign"},
    {"POST", API "/cluster/remove", R(ADMIN), djs__system_cluster_change, "remove"},
    {"POST", API "/cluster/transfer", R(ADMIN), djs__system_cluster_change, "transfer"},
    {"POST", API "/admin/shutdown", R(ADMIN), djs__system_shutdown, NULL},
    {"GET", API "/events/stream", STAFF, djs__events_stream, "sse"},
    {"GET", "/ws/events", STAFF, djs__events_stream, "events"},
    {"GET", "/ws/job-updates", ANY_JOB_ROLE, djs__events_stream, "job-updates"},
    {"GET", "/ws/worker-status", STAFF, djs__events_stream, "worker-status"},
    {"GET", "/ws/system-metrics", STAFF, djs__events_stream, "system-metrics"},
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

static int parse_id(h2o_req_t *req, const char *p, size_t len, djs_id_t *id)
{
    if (djs_id_parse(p, len, id) != 0) {
        djs__problem(req, 400, "invalid-id", "Invalid id", "the job id is not a UUID (8-4-4-4-12 hex)");
        return -1;
    }
    return 0;
}

/* The route of the request (*idp its {id} text, or NULL); NULL after
 * answering 400 (an {id} that is no id), 405 (with Allow) or 404. */
static const route_t *find_route(h2o_req_t *req, const char **idp)
{
    const char *p = req->path_normalized.base;
    size_t n = req->path_normalized.len;
    int bad_id = 0;
    char allow_hdr[64] = "";
    *idp = NULL;
    for (size_t i = 0; i < NROUTES; i++) {
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
        if (m == 1) {
            *idp = ip;
            return &route_table[i];
        }
        bad_id = 1;
    }
    if (bad_id)
        return djs__problem(req, 400, "invalid-id", "Invalid id", "the id is not a UUID (8-4-4-4-12 hex)"), NULL;
    if (allow_hdr[0] != '\0') {
        size_t alen = strlen(allow_hdr);
        char *a = h2o_mem_alloc_pool(&req->pool, alen);
        memcpy(a, allow_hdr, alen);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, a, alen);
        char detail[96];
        snprintf(detail, sizeof(detail), "this path answers %s", allow_hdr);
        return djs__problem(req, 405, "method-not-allowed", "Method Not Allowed", detail), NULL;
    }
    return djs__problem(req, 404, "not-found", "Not Found", "no such endpoint (see docs/openapi.yaml)"), NULL;
}

/* A cluster follower serves every read; a write goes to the leader, except
 * what is this node's own (a browser session, the admin shutdown). */
static int to_leader(const route_t *r)
{
    if (strcmp(r->method, "GET") == 0 || r->fn == djs__session_post || r->fn == djs__session_delete ||
        r->fn == djs__system_shutdown)
        return 0;
    return 1;
}

/* 307 to the same path on the leader (the method and body are kept: a
 * client re-sends the request there, the write is decided once, by the
 * leader), or 503 while no leader is known (an election). */
static int redirect_to_leader(djs_server_t *s, h2o_req_t *req)
{
    const char *url = djs_cluster_leader_url(s->cfg.cluster);
    if (url == NULL) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        return djs__problem(req, 503, "no-leader", "No cluster leader",
                            "this node is a follower and no leader is known yet (an election is under way): retry shortly");
    }
    size_t ulen = strlen(url);
    while (ulen > 0 && url[ulen - 1] == '/')
        ulen--;
    char *loc = h2o_mem_alloc_pool(&req->pool, ulen + req->path.len + 1);
    memcpy(loc, url, ulen);
    memcpy(loc + ulen, req->path.base, req->path.len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, loc, ulen + req->path.len);
    return djs__problem(req, 307, "not-leader", "Temporary Redirect", "this node is a follower: send writes to the leader");
}

/* ---- read-your-writes: GET ...?min_seq=N waits until N is durable here ---- */

#define MIN_SEQ_WAIT_MS 5000 /* then 503 not-yet-applied, Retry-After: 1 */
#define MIN_SEQ_TICK_MS 2

typedef struct seq_wait {
    uv_timer_t timer;
    h2o_req_t *req; /* NULL once the client has gone */
    djs__req_link_t *link;
    djs_server_t *s;
    const route_t *hit;
    djs_principal_t who;
    djs_id_t id;
    int has_id;
    uint64_t seq;
    uint64_t waited_ms;
} seq_wait_t;

static void on_seq_wait_closed(uv_handle_t *h)
{
    djs_free(h->data);
}

static void seq_wait_end(seq_wait_t *w)
{
    djs__req_unwatch(&w->link);
    uv_close((uv_handle_t *)&w->timer, on_seq_wait_closed);
}

static void on_seq_wait_tick(uv_timer_t *t)
{
    seq_wait_t *w = t->data;
    if (w->req == NULL) {
        seq_wait_end(w);
        return;
    }
    w->waited_ms += MIN_SEQ_TICK_MS;
    if (djs_log_durable_seq(djs_engine_log(w->s->engine)) >= w->seq) {
        h2o_req_t *req = w->req;
        seq_wait_end(w);
        w->hit->fn(w->s, req, &w->who, w->has_id ? &w->id : NULL, w->hit->arg);
        return;
    }
    if (w->waited_ms >= MIN_SEQ_WAIT_MS || w->s->stopping) {
        h2o_req_t *req = w->req;
        seq_wait_end(w);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        djs__problem(req, 503, "not-yet-applied", "Not yet applied",
                     "min_seq is not durable on this node after 5 s: it is behind, or the seq was never written; retry, or "
                     "read from the leader");
    }
}

/* A GET with min_seq beyond this node's durable seq: park it until the seq
 * arrives (a follower that is behind), at most MIN_SEQ_WAIT_MS. 1 = parked
 * or answered, 0 = go on now. */
static int wait_min_seq(djs_server_t *s, h2o_req_t *req, const route_t *hit, const djs_principal_t *who, const djs_id_t *id)
{
    uint64_t min = 0;
    if (djs__query_number(req, "min_seq", 0, &min) != 0)
        return 1;
    if (min == 0 || djs_log_durable_seq(djs_engine_log(s->engine)) >= min)
        return 0;
    seq_wait_t *w = djs_calloc(1, sizeof(*w));
    w->s = s;
    w->hit = hit;
    w->who = *who;
    if (id != NULL) {
        w->id = *id;
        w->has_id = 1;
    }
    w->seq = min;
    djs__req_watch(req, &w->req, &w->link, NULL, NULL);
    uv_timer_init(s->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, on_seq_wait_tick, MIN_SEQ_TICK_MS, MIN_SEQ_TICK_MS);
    return 1;
}

int djs__on_req(h2o_handler_t *self, h2o_req_t *req)
{
    djs_server_t *s = ((djs__handler_t *)self)->server;
    const char *idp;
    /* h2o bounds a request head at ~408 KiB; we answer far less */
    size_t head = req->path.len;
    for (size_t i = 0; i < req->headers.size; i++)
        head += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    if (req->path.len > MAX_URL_BYTES)
        return djs__problem(req, 414, "uri-too-long", "URI Too Long", "the request target is longer than 8 KiB");
    if (head > MAX_HEAD_BYTES)
        return djs__problem(req, 431, "headers-too-large", "Request Header Fields Too Large",
                            "the request's header fields add up to more than 32 KiB");
    const char *path = req->path_normalized.base;
    size_t plen = req->path_normalized.len;
    if (plen == 1 || (plen >= 3 && memcmp(path, "/ui", 3) == 0 && (plen == 3 || path[3] == '/')))
        return djs__ui_serve(s, req); /* the dashboard's files are public; what they read is not */
    const route_t *hit = find_route(req, &idp);
    if (hit == NULL)
        return 0;
    if (s->stopping) /* stopping: each connection ends with its next answer, so the server can finish */
        req->http1_is_persistent = 0;
    if (s->cfg.cluster != NULL && !djs_cluster_leading(s->cfg.cluster) && to_leader(hit))
        return redirect_to_leader(s, req);
    djs_principal_t who;
    memset(&who, 0, sizeof(who));
    /* the streams may carry their token in the query (browsers set no headers on them) */
    if (hit->roles != 0 && !admit(s, req, hit->roles, hit->fn == djs__events_stream, &who))
        return 0;
    djs_id_t id, *idv = NULL;
    if (idp != NULL) {
        if (parse_id(req, idp, DJS_ID_TEXT_LEN, &id) != 0)
            return 0;
        idv = &id;
    }
    if (strcmp(hit->method, "GET") == 0 && hit->fn != djs__events_stream && wait_min_seq(s, req, hit, &who, idv))
        return 0;
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

/* ---- admission ------------------------------------------------------------------------ */

/* 403 unless the principal's role is in mask. */
static int allow(h2o_req_t *req, const djs_principal_t *who, unsigned mask)
{
    if ((mask >> who->role) & 1u)
        return 1;
    char detail[128];
    snprintf(detail, sizeof(detail), "the %s role may not do this", djs_role_name(who->role));
    djs__problem(req, 403, "forbidden", "Forbidden", detail);
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
    djs__problem(req, 429, "rate-limited", "Too Many Requests",
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

void djs__access_dispose(djs_server_t *s)
{
    djs__session_dispose(s);
    djs_free(s->buckets);
    if (s->memo == NULL)
        return;
    for (int i = 0; i < AUTH_MEMO; i++)
        djs_free(s->memo[i].token);
    djs_free(s->memo);
}

/* The value of the session cookie in the request's Cookie headers (*tok,
 * *len); 0 when there is none. */
static int session_cookie(h2o_req_t *req, const char **tok, size_t *len)
{
    static const char name[] = DJS__SESSION_COOKIE "=";
    const size_t nlen = sizeof(name) - 1;
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        const char *p = req->headers.entries[i].value.base, *end = p + req->headers.entries[i].value.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *e = memchr(p, ';', (size_t)(end - p));
            if (e == NULL)
                e = end;
            if ((size_t)(e - p) > nlen && memcmp(p, name, nlen) == 0) {
                *tok = p + nlen;
                *len = (size_t)(e - p) - nlen;
                return 1;
            }
            p = e;
        }
    }
    return 0;
}

/* Authenticate the request: 0 and *who, or -1 after a 401 answer. The
 * bearer token from the Authorization header or, where query_ok (the
 * streams: browsers cannot set headers on WebSocket or EventSource), from
 * the access_token query parameter; without either, the dashboard's
 * session cookie (*cookie set: the caller checks CSRF and Origin). A login
 * code is never a bearer token: it opens a session only. */
static int authenticate(djs_server_t *s, h2o_req_t *req, djs_principal_t *who, int query_ok, int *cookie)
{
    memset(who, 0, sizeof(*who));
    *cookie = 0;
    if (s->cfg.auth == NULL) {
        snprintf(who->sub, sizeof(who->sub), "anonymous");
        who->role = DJS_ROLE_ADMIN; /* --insecure-no-auth */
        return 0;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *why = "missing bearer token (Authorization: Bearer ...) or session cookie", *qt;
    size_t qlen;
    int ok = 0;
    if (i < 0 && query_ok && djs_query_str(req, "access_token", &qt, &qlen)) {
        ok = verify_token(s, qt, qlen, who, &why) == 0;
    } else if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0)
            ok = verify_token(s, v.base + 7, v.len - 7, who, &why) == 0;
        else
            why = "the Authorization header must be 'Bearer <token>'";
    } else if (session_cookie(req, &qt, &qlen)) {
        ok = verify_token(s, qt, qlen, who, &why) == 0;
        if (!ok)
            why = "the session has ended: log in again";
        *cookie = ok;
    }
    if (ok && who->login) {
        ok = 0;
        why = "a login code opens a session (POST /api/v1/session) and is no bearer token";
    }
    if (ok)
        return 0;
    memset(who, 0, sizeof(*who));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer realm=\"djs\""));
    djs__problem(req, 401, "unauthorized", "Unauthorized", why);
    return -1;
}

/* 1 if the Origin header (when there is one) names this server: the
 * scheme and the Host header (authority) the request came with. */
static int same_origin(h2o_req_t *req)
{
    h2o_iovec_t o;
    if (!djs__header_value(req, NULL, "origin", &o))
        return 1;
    const char *scheme = req->scheme == &H2O_URL_SCHEME_HTTPS ? "https://" : "http://";
    size_t sl = strlen(scheme);
    return o.len == sl + req->authority.len && strncasecmp(o.base, scheme, sl) == 0 &&
           strncasecmp(o.base + sl, req->authority.base, req->authority.len) == 0;
}

/* A request authenticated by the cookie: writes carry X-DJS-CSRF (a page
 * of another origin cannot set it without a CORS preflight, which djs
 * never grants) and come from this origin; so do stream upgrades (a
 * WebSocket is not bound by the same-origin policy: Origin is its check).
 * 1 to go on, else 0 after a 403. */
static int cookie_ok(h2o_req_t *req, int stream)
{
    int write = !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
                !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    h2o_iovec_t v;
    if (write && !djs__header_value(req, NULL, "x-djs-csrf", &v)) {
        djs__problem(req, 403, "csrf", "Forbidden", "a write with the session cookie needs the X-DJS-CSRF header");
        return 0;
    }
    if ((write || stream) && !same_origin(req)) {
        djs__problem(req, 403, "cross-origin", "Forbidden", "the session cookie is accepted from this server's own pages only");
        return 0;
    }
    return 1;
}

/* 1 if the request may go on to its handler: authenticated (*who), within
 * its rate, and of a role in roles; else 0 after a 401, 403 or 429. */
static int admit(djs_server_t *s, h2o_req_t *req, unsigned roles, int query_ok, djs_principal_t *who)
{
    int cookie;
    return authenticate(s, req, who, query_ok, &cookie) == 0 && (!cookie || cookie_ok(req, query_ok)) && rate_ok(s, req, who) &&
           allow(req, who, roles);
}

/* ---- ownership ------------------------------------------------------------------------ */

/* A worker token may act only for the worker registered under its subject. */
int djs__worker_self(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *wid)
{
    if (who->role != DJS_ROLE_WORKER)
        return 1;
    const djs_worker_t *w = djs_state_worker(djs_engine_state(s->engine), wid);
    if (w != NULL && strcmp(w->name, who->sub) == 0)
        return 1;
    djs__problem(req, 403, "forbidden", "Forbidden", "a worker token acts only for the worker registered under its subject");
    return 0;
}

int djs__owns(djs_server_t *s, const djs_principal_t *who, const djs_id_t *job)
{
    if (who->role != DJS_ROLE_USER)
        return 1;
    const djs_state_t *st = djs_engine_state(s->engine);
    const djs_job_t *j = djs_state_job(st, job);
    size_t len;
    const char *owner = j != NULL ? djs_state_str(st, j->owner, &len) : NULL;
    return owner != NULL && len == strlen(who->sub) && memcmp(owner, who->sub, len) == 0;
}
