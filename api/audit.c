/* GET /api/v1/audit: who did what and when (replay/audit.h over the live
 * log), for admins and operators. Each request examines at most
 * AUDIT_BUDGET records and answers a page with a `next` cursor. */
#include <jansson.h>
#include <string.h>

#include "api/render.h"
#include "api/server_internal.h"
#include "core/error.h"
#include "replay/audit.h"
#include "replay/point.h"

#define AUDIT_BUDGET 50000u /* records examined per request */
#define AUDIT_MAX_LIMIT 1000u
#define AUDIT_MAX_PARAM 512u /* bytes of a decoded actor or type list */

static int bad(h2o_req_t *req, const char *detail)
{
    return djs__problem(req, 400, "invalid-query", "Invalid query", detail), -1;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The percent-decoded value of query parameter name, in the request's
 * pool: 1 found, 0 absent, -1 malformed (%-escape) or too long. */
static int query_text(h2o_req_t *req, const char *name, const char **out, size_t *olen)
{
    const char *v;
    size_t len, n = 0;
    if (!djs_query_str(req, name, &v, &len))
        return 0;
    if (len > 3 * AUDIT_MAX_PARAM)
        return -1;
    char *d = h2o_mem_alloc_pool(&req->pool, len + 1);
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '%') {
            int hi = i + 2 < len ? hexval(v[i + 1]) : -1, lo = i + 2 < len ? hexval(v[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            d[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            d[n++] = v[i] == '+' ? ' ' : v[i];
        }
    }
    if (n == 0 || n > AUDIT_MAX_PARAM)
        return -1;
    d[n] = '\0';
    *out = d;
    *olen = n;
    return 1;
}

/* from= / to=: a seq (digits) or an RFC 3339 time, into a seq of the log.
 * 0 (absent: *seq untouched), or -1 after a 400. */
static int query_point(h2o_req_t *req, djs_log_t *log, const char *name, int is_to, uint64_t *seq)
{
    const char *v;
    size_t len;
    if (!djs_query_str(req, name, &v, &len))
        return 0;
    size_t digits = 0;
    while (digits < len && v[digits] >= '0' && v[digits] <= '9')
        digits++;
    if (len > 0 && digits == len) {
        uint64_t n;
        if (djs__query_number(req, name, 0, &n) != 0)
            return -1;
        *seq = n;
        return 0;
    }
    uint64_t ns;
    if (djs__parse_rfc3339(v, len, &ns) != 0)
        return bad(req, is_to ? "to must be an event seq or an RFC 3339 time, e.g. 2026-12-04T10:02:00Z"
                              : "from must be an event seq or an RFC 3339 time, e.g. 2026-12-04T10:02:00Z");
    int rc = is_to ? djs_replay_point_to(log, ns, seq) : djs_replay_point_from(log, ns, seq);
    if (rc != 0)
        return djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc)), -1;
    return 0;
}

/* The filters of the query string into q; 0, or -1 after a 400/404. */
static int read_query(djs_log_t *log, h2o_req_t *req, djs_audit_query_t *q, uint64_t durable)
{
    const char *v;
    size_t len;
    uint64_t limit, cursor;
    int r;
    djs_audit_query_init(q);
    q->to_seq = durable;
    if (djs_query_str(req, "job", &v, &len)) {
        if (djs_id_parse(v, len, &q->entity) != 0)
            return bad(req, "job must be a job, worker or schedule id (a UUID)");
        q->has_entity = 1;
    }
    if ((r = query_text(req, "actor", &q->actor, &q->actor_len)) < 0)
        return bad(req, "actor must be 1 to 512 bytes (percent-encoded)");
    if ((r = query_text(req, "type", &v, &len)) < 0)
        return bad(req, "type must be a comma-separated list of event types");
    if (r == 1 && djs_audit_query_add_types(q, v, len, NULL, NULL) != 0)
        return bad(req, "type names an unknown event type (docs/events.md), e.g. job.cancelled,job.scheduled");
    if (!q->has_entity && q->actor == NULL && r == 0)
        return bad(req, "give at least one filter: job, actor or type");
    if (djs__query_number(req, "limit", 100, &limit) != 0 || djs__query_number(req, "cursor", 0, &cursor) != 0)
        return -1;
    if (limit == 0 || limit > AUDIT_MAX_LIMIT)
        return bad(req, "limit must be 1 to 1000");
    q->limit = (uint32_t)limit;
    q->budget = AUDIT_BUDGET;
    if (query_point(req, log, "from", 0, &q->from_seq) != 0 || query_point(req, log, "to", 1, &q->to_seq) != 0)
        return -1;
    if (q->to_seq > durable)
        q->to_seq = durable;
    if (cursor != 0) {
        if (cursor < q->from_seq)
            return bad(req, "cursor is before from: pass the next value of the previous page");
        q->from_seq = cursor;
    }
    if (q->has_entity) {
        int known = djs_audit_entity_known(log, &q->entity);
        if (known < 0)
            return djs__problem(req, 500, "internal", "Internal error", djs_strerror(known)), -1;
        if (known == 0)
            return djs__problem(req, 404, "not-found", "Not Found",
                                djs_log_first_seq(log) > 1 ? "no job, worker or schedule with this id in the log (its older events "
                                                             "are archived)"
                                                           : "no job, worker or schedule with this id in the log"),
                   -1;
    }
    return 0;
}

static json_t *fact_json(const djs_audit_fact_t *f)
{
    switch (f->kind) {
    case DJS_AUDIT_ID:
        return djs_json_id(&f->id);
    case DJS_AUDIT_UINT:
        return json_integer((json_int_t)f->u);
    case DJS_AUDIT_TIME:
        return djs_json_time(f->u);
    default:
        return djs_json_str_lossy(f->s.p, f->s.len);
    }
}

static int on_match(void *arg, const djs_audit_match_t *m)
{
    json_t *e = json_object(), *facts = json_object();
    json_object_set_new(e, "seq", json_integer((json_int_t)m->seq));
    json_object_set_new(e, "at", djs_json_time(m->ts_ns));
    json_object_set_new(e, "type", json_string(djs_event_type_name(m->type)));
    json_object_set_new(e, "actor", djs_json_str_lossy(m->actor.p, m->actor.len));
    json_object_set_new(e, "entity", djs_id_is_nil(&m->entity) ? json_null() : djs_json_id(&m->entity));
    for (uint32_t i = 0; i < m->nfacts; i++)
        json_object_set_new(facts, m->facts[i].key, fact_json(&m->facts[i]));
    json_object_set_new(e, "facts", facts);
    json_array_append_new(arg, e);
    return 0;
}

/* GET /audit?job=&actor=&type=&from=&to=&limit=&cursor= */
int djs__audit_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    djs_log_t *log = djs_engine_log(s->engine);
    uint64_t durable = djs_log_durable_seq(log);
    djs_audit_query_t q;
    if (read_query(log, req, &q, durable) != 0)
        return 0;
    json_t *list = json_array();
    djs_audit_result_t res;
    int rc = djs_audit_run(log, &q, on_match, list, &res);
    if (rc != 0) {
        json_decref(list);
        return djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    json_t *b = json_pack("{s:o,s:I,s:I}", "events", list, "examined", (json_int_t)res.examined, "toSeq", (json_int_t)q.to_seq);
    json_object_set_new(b, "next", res.next_seq ? json_integer((json_int_t)res.next_seq) : json_null());
    return djs__send_json_new(req, 200, b, durable);
}
