/* The log as the API shows it: pages of events (GET /events, and a job's
 * history through jobs.c), the system's state at a point (time travel),
 * and the streams, which api/stream.c serves once opened here. */
#include <jansson.h>
#include <string.h>

#include "api/render.h"
#include "api/server_internal.h"
#include "api/stream.h"
#include "core/error.h"
#include "core/event.h"

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
int djs__events_page(djs_server_t *s, h2o_req_t *req, const djs_id_t *job)
{
    djs_log_t *log = djs_engine_log(s->engine);
    uint64_t limit, from, durable;
    int given;
    /* as of a point (at_seq / as_of): the events up to it */
    if (djs__query_number(req, "limit", 100, &limit) != 0 || djs__query_number(req, "from_seq", 1, &from) != 0 ||
        djs__read_point(s, req, &durable, &given) != 0)
        return 0;
    if (limit == 0 || limit > 1000)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "limit must be 1 to 1000");
    events_ctx_t c = {json_array(), (uint32_t)limit, 0, 0};
    const char *v;
    size_t len;
    djs_id_t entity;
    int by_entity = job != NULL;
    if (job != NULL)
        entity = *job;
    if (djs_query_str(req, "type", &v, &len) && (c.type = djs_event_type_from_name(v, len)) < 0) {
        json_decref(c.list);
        return djs__problem(req, 400, "invalid-query", "Invalid query", "type is not an event type (docs/events.md)");
    }
    if (job == NULL && djs_query_str(req, "entity", &v, &len)) {
        if (djs_id_parse(v, len, &entity) != 0) {
            json_decref(c.list);
            return djs__problem(req, 400, "invalid-query", "Invalid query", "entity must be a job or worker id");
        }
        by_entity = 1;
    }
    int rc =
        by_entity ? djs_log_scan_entity(log, &entity, from, durable, event_cb, &c) : djs_log_scan(log, from, durable, event_cb, &c);
    if (rc < 0) {
        json_decref(c.list);
        return djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    if (job != NULL && json_array_size(c.list) == 0 && from <= 1) {
        json_decref(c.list);
        return djs__problem(req, 404, "not-found", "Not Found", "no such job");
    }
    json_t *b = json_pack("{s:o}", "events", c.list);
    /* the cursor: where the next page starts */
    json_object_set_new(b, "next", rc == 1 ? json_integer((json_int_t)(c.last + 1)) : json_null());
    return djs__send_json_new(req, 200, b, durable);
}

/* GET /events?from_seq=&limit=&type=&entity= */
int djs__events_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    return djs__events_page(s, req, NULL);
}

/* GET /state: the stats with the time of the point they are at. */
int djs__events_state(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    return djs__stats_reply(s, req, 1);
}

/* GET /api/v1/events/stream (SSE) and /ws/<kind> (WebSocket). */
int djs__events_stream(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
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
        djs__observe(req, sse ? 200 : 101);
        return 0;
    }
    if (st == 426) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
        return djs__problem(req, 426, "upgrade-required", "Upgrade Required", detail);
    }
    if (st == 503)
        return djs__problem(req, 503, "unavailable", "Service Unavailable", detail);
    return djs__problem(req, 400, "invalid-query", "Invalid query", detail);
}
