/* Answers and request parsing shared by the handlers (api/server_internal.h):
 * JSON and problem answers with their /metrics accounting, ack after
 * durable, the JSON body and its fields, query parameters, RFC 3339 times
 * and the point in the log a read is about. */
#include <stddef.h>
#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "api/render.h"
#include "api/server_internal.h"
#include "core/alloc.h"
#include "core/error.h"

/* ---- answers ---------------------------------------------------------------------- */

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

/* The route as a template: path segments that are ids become {id}, so the
 * metrics' label set stays small. */
static void route_template(h2o_req_t *req, char *out, size_t n)
{
    const char *p = req->path_normalized.base, *end = p + req->path_normalized.len;
    size_t k = 0;
    if (end - p >= 3 && memcmp(p, "/ui", 3) == 0 && (end - p == 3 || p[3] == '/')) {
        put_text(out, n, 0, "/ui/*", 5); /* the dashboard's files: one series, not one per file */
        return;
    }
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

void djs__observe(h2o_req_t *req, int status)
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
void djs__send_text(h2o_req_t *req, int status, const char *text, size_t len, uint64_t seq)
{
    djs__observe(req, status);
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

void djs__send_json(h2o_req_t *req, int status, json_t *body, uint64_t seq)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL) /* out of memory, or a value that cannot be rendered */
        text = strdup("{\"error\":\"the answer could not be rendered\"}"), status = 500;
    djs__send_text(req, status, text, strlen(text), seq);
    free(text);
}

/* send_json, then drop the reference to body */
int djs__send_json_new(h2o_req_t *req, int status, json_t *body, uint64_t seq)
{
    djs__send_json(req, status, body, seq);
    json_decref(body);
    return 0;
}

int djs__problem(h2o_req_t *req, int status, const char *type, const char *title, const char *detail)
{
    return djs__problem_ext(req, status, type, title, detail, NULL);
}

int djs__problem_ext(h2o_req_t *req, int status, const char *type, const char *title, const char *detail, json_t *ext)
{
    djs__observe(req, status);
    const char *d = detail ? detail : title;
    json_t *b = json_object();
    char t[128];
    snprintf(t, sizeof(t), DJS__PROBLEM_BASE "%s", type);
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

/* Map an engine or log error to a status, slug and title. */
int djs__engine_status(int rc, const char **type, const char **title)
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
        {DJS_ENOTLEADER, 503, "not-leader", "Not the cluster leader"},
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

int djs__engine_problem(h2o_req_t *req, djs_engine_t *e, int rc)
{
    const char *type, *title;
    int status = djs__engine_status(rc, &type, &title);
    return djs__problem(req, status, type, title, status == 500 ? djs_strerror(rc) : djs_engine_errmsg(e));
}

/* ---- ack after durable ------------------------------------------------------------ */

struct djs__req_link {
    h2o_req_t **req;        /* the owner's request field; NULL once detached */
    djs__req_link_t **self; /* the owner's link field */
    void (*gone)(void *arg);
    void *arg;
};

static void on_link_dispose(void *p)
{
    djs__req_link_t *l = p;
    if (l->req == NULL)
        return;
    *l->req = NULL; /* the client left: answer nobody */
    *l->self = NULL;
    l->req = NULL;
    if (l->gone != NULL)
        l->gone(l->arg);
}

void djs__req_watch(h2o_req_t *req, h2o_req_t **req_field, djs__req_link_t **link_field, void (*gone)(void *arg), void *arg)
{
    djs__req_link_t *l = h2o_mem_alloc_shared(&req->pool, sizeof(*l), on_link_dispose);
    *l = (djs__req_link_t){req_field, link_field, gone, arg};
    *req_field = req;
    *link_field = l;
}

void djs__req_unwatch(djs__req_link_t **link_field)
{
    if (*link_field != NULL) {
        (*link_field)->req = NULL;
        *link_field = NULL;
    }
}

/* A parked answer (heap), linked to its request (djs__req_watch). */
typedef struct park {
    h2o_req_t *req; /* NULL once the request is gone */
    djs__req_link_t *link;
    json_t *body; /* the answer, or NULL: then text */
    int status;
    size_t len;
    char *big; /* the text when longer than text[] (heap), or NULL */
    char text[128];
} park_t;

static void on_durable(void *arg, uint64_t seq, int status)
{
    park_t *p = arg;
    h2o_req_t *req = p->req;
    djs__req_unwatch(&p->link); /* the pool will be freed after this answer */
    if (req != NULL) {
        if (status == 0 && p->body == NULL)
            djs__send_text(req, p->status, p->big ? p->big : p->text, p->len, seq);
        else if (status == 0)
            djs__send_json(req, p->status, p->body, seq);
        else
            djs__problem(req, 503, "log-unavailable", "Event log not writable", djs_strerror(status));
    }
    json_decref(p->body);
    djs_free(p->big);
    djs_free(p);
}

/* Answer `body` once seq is durable. Takes the reference to body. With
 * body NULL, the answer is text[0..len) (copied). */
static int park(djs_server_t *s, h2o_req_t *req, uint64_t seq, int status, json_t *body, const char *text, size_t len)
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
    djs__req_watch(req, &p->req, &p->link, NULL, NULL);
    p->body = body;
    p->status = status;
    djs_log_when_durable(djs_engine_log(s->engine), seq, on_durable, p);
    return 0;
}

int djs__reply_when_durable(djs_server_t *s, h2o_req_t *req, uint64_t seq, int status, json_t *body)
{
    return park(s, req, seq, status, body, NULL, 0);
}

int djs__reply_when_durable_text(djs_server_t *s, h2o_req_t *req, uint64_t seq, int status, const char *text, size_t len)
{
    return park(s, req, seq, status, NULL, text, len);
}

/* ---- requests ---------------------------------------------------------------------- */

static int pack_json(msgpack_packer *pk, const json_t *v, int depth)
{
    if (depth > DJS__MAX_JSON_DEPTH)
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

int djs__pack_json(djs_buf_t *out, const json_t *v)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    return pack_json(&pk, v, 1);
}

int djs__json_strings(h2o_req_t *req, const json_t *x, const djs_str_t **out, uint32_t *n)
{
    size_t len = json_array_size(x);
    djs_str_t *v = len > 0 ? h2o_mem_alloc_pool(&req->pool, len * sizeof(*v)) : NULL;
    for (size_t i = 0; i < len; i++) {
        json_t *c = json_array_get(x, i);
        if (!json_is_string(c))
            return DJS_EINVAL;
        v[i] = (djs_str_t){json_string_value(c), json_string_length(c)};
    }
    *out = v;
    *n = (uint32_t)len;
    return 0;
}

int djs__header_value(h2o_req_t *req, const h2o_token_t *tok, const char *name, h2o_iovec_t *out)
{
    ssize_t i =
        tok != NULL ? h2o_find_header(&req->headers, tok, -1) : h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return 0;
    *out = req->headers.entries[i].value;
    return 1;
}

/* 1 if the request's Content-Type is `type` (case-insensitive), with or
 * without parameters ("application/json; charset=utf-8"). */
int djs__media_type_is(h2o_req_t *req, const char *type)
{
    h2o_iovec_t ct;
    size_t n = strlen(type);
    if (!djs__header_value(req, H2O_TOKEN_CONTENT_TYPE, NULL, &ct) || ct.len < n || strncasecmp(ct.base, type, n) != 0)
        return 0;
    return ct.len == n || ct.base[n] == ';' || ct.base[n] == ' ' || ct.base[n] == '\t';
}

json_t *djs__read_json_body(h2o_req_t *req)
{
    json_error_t err;
    if (req->entity.len == 0)
        return json_object();
    if (!djs__media_type_is(req, "application/json")) {
        djs__problem(req, 415, "unsupported-media-type", "Unsupported Media Type", "send application/json");
        return NULL;
    }
    json_t *j = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL) {
        char detail[200];
        snprintf(detail, sizeof(detail), "malformed JSON at line %d column %d: %.120s", err.line, err.column, err.text);
        djs__problem(req, 400, "malformed-json", "Malformed JSON", detail);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        djs__problem(req, 400, "invalid-body", "Invalid body", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Check that j has only the allowed fields; answers 400 otherwise, naming
 * the field with the prefix `at` ("" or "reports[3]."). */
int djs__only_fields_at(h2o_req_t *req, json_t *j, const char *const *allowed, const char *at)
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
            djs__problem(req, 400, "unknown-field", "Unknown field", detail);
            return -1;
        }
    }
    return 0;
}

int djs__only_fields(h2o_req_t *req, json_t *j, const char *const *allowed)
{
    return djs__only_fields_at(req, j, allowed, "");
}

int djs__wrong_type(h2o_req_t *req, const char *field, const char *what)
{
    char detail[160];
    snprintf(detail, sizeof(detail), "%s must be %s", field, what);
    return djs__problem(req, 400, "wrong-type", "Wrong type", detail);
}

/* A decimal query parameter: dflt when absent; answers 400 (and returns -1)
 * when present but not a number. */
int djs__query_number(h2o_req_t *req, const char *name, uint64_t dflt, uint64_t *out)
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
        djs__problem(req, 400, "invalid-query", "Invalid query", detail);
        return -1;
    }
    *out = n;
    return 0;
}

/* RFC 3339 time (2026-11-27T10:02:00Z, fractions, or +01:00 offsets; a '+'
 * that arrived as a space in a query string is accepted) -> ns. */
int djs__parse_rfc3339(const char *p, size_t len, uint64_t *ns)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return DJS_EINVAL;
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
        return DJS_EINVAL;
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
            return DJS_EINVAL;
        off = (hh * 3600L + mm * 60L) * (sign == '-' ? -1 : 1);
        r += 6;
    } else {
        return DJS_EINVAL;
    }
    if (*r != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60 || tm.tm_year < 1970)
        return DJS_EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm) - off;
    if (t < 0 || (uint64_t)t >= UINT64_MAX / 1000000000ULL) /* ns past 2554 do not fit */
        return DJS_EINVAL;
    *ns = (uint64_t)t * 1000000000ULL + frac;
    return 0;
}

/* The point a read is about: ?at_seq=N or ?as_of=RFC3339 (the last event at
 * or before that time). *seq = durable seq when neither is given. 0 or -1
 * after a 400 answer. */
int djs__read_point(djs_server_t *s, h2o_req_t *req, uint64_t *seq, int *given)
{
    djs_log_t *log = djs_engine_log(s->engine);
    uint64_t durable = djs_log_durable_seq(log);
    const char *v;
    size_t len;
    *given = 0;
    *seq = durable;
    if (djs_query_str(req, "at_seq", &v, &len)) {
        uint64_t n;
        if (djs__query_number(req, "at_seq", 0, &n) != 0)
            return -1;
        if (n > durable)
            return djs__problem(req, 400, "invalid-query", "Invalid query", "at_seq is beyond the last durable event"), -1;
        *seq = n;
        *given = 1;
    } else if (djs_query_str(req, "as_of", &v, &len)) {
        uint64_t ns, first;
        if (djs__parse_rfc3339(v, len, &ns) != 0)
            return djs__problem(req, 400, "invalid-query", "Invalid query",
                                "as_of must be an RFC 3339 time, e.g. 2026-11-27T10:02:00Z"),
                   -1;
        int rc = djs_log_seq_at_time(log, ns + 1, &first);
        *seq = rc == 0 ? first - 1 : durable;
        if (*seq > durable)
            *seq = durable;
        *given = 1;
    }
    uint64_t first;
    if (*given && *seq + 1 < (first = djs_log_first_seq(log))) {
        char d[160];
        snprintf(d, sizeof(d),
                 "the log before seq %" PRIu64 " was archived (djs replay archive): time travel reaches back to seq %" PRIu64,
                 first, first - 1);
        return djs__problem(req, 410, "archived", "Archived", d), -1;
    }
    return 0;
}
