/* The schedules room: /api/v1/schedules (recurring jobs; the engine's
 * "schedules" in scheduler/engine.h). A user sees and changes only the
 * schedules it owns; staff see all. Answers are sent once their events
 * are durable. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/render.h"
#include "api/server_internal.h"
#include "core/error.h"
#include "core/mp.h"
#include "projections/schedules.h"

#define SEC 1000000000ULL

/* live: the state now (nextFireAt is the engine's armed timer); at a past
 * point the next fire is not a fact of the log, so it is null. */
static json_t *schedule_json(djs_engine_t *e, const djs_schedule_t *s, int live)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", djs_json_id(&s->id));
    json_object_set_new(j, "name", json_string(s->name));
    json_object_set_new(j, "spec", json_string(s->spec));
    json_object_set_new(j, "tz", json_string(s->tz[0] ? s->tz : "UTC"));
    json_object_set_new(j, "owner", json_string(s->owner));
    json_object_set_new(j, "overlap", json_string(djs_overlap_name(s->overlap)));
    json_object_set_new(j, "catchUp", json_string(djs_catchup_name(s->catchup)));
    json_object_set_new(j, "catchUpMax", json_integer(s->catchup_max));
    json_object_set_new(j, "jitterSeconds", json_integer(s->jitter_s));
    json_object_set_new(j, "startAt", djs_json_time(s->start_ns));
    json_object_set_new(j, "endAt", djs_json_time(s->end_ns));
    json_object_set_new(j, "paused", json_boolean(s->paused));
    json_object_set_new(j, "createdAt", djs_json_time(s->created_ns));
    json_object_set_new(j, "updatedAt", djs_json_time(s->def_ns));
    json_object_set_new(j, "lastFireAt", djs_json_time(s->last_nominal_s * SEC));
    uint64_t due;
    json_object_set_new(j, "nextFireAt", djs_json_time(live && djs_engine_schedule_next(e, &s->id, &due) == 0 ? due : 0));
    json_object_set_new(j, "fires", json_integer((json_int_t)s->fires));
    json_object_set_new(j, "skips", json_integer((json_int_t)s->skips));
    json_t *jobs = json_array();
    for (uint32_t i = 0; i < s->nlast_jobs; i++)
        json_array_append_new(jobs, djs_json_id(&s->last_jobs[i]));
    json_object_set_new(j, "lastJobs", jobs);
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, s->tmpl, s->tmpl_len);
    json_t *t = djs_mp_to_json(&r, 0);
    json_object_set_new(j, "job", t != NULL ? t : json_null());
    json_object_set_new(j, "seq", json_integer((json_int_t)s->last_seq));
    return j;
}

/* The schedule, if who may see it; NULL after answering 404. */
static const djs_schedule_t *visible(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id)
{
    const djs_schedule_t *sc = djs_state_schedule(djs_engine_state(s->engine), id);
    if (sc != NULL && (who->role != DJS_ROLE_USER || strcmp(sc->owner, who->sub) == 0))
        return sc;
    djs__problem(req, 404, "not-found", "Not Found", "no such schedule");
    return NULL;
}

/* An RFC 3339 UTC time ("2026-01-02T03:04:05Z") as ns; -1 if not one. */
static int parse_time(const char *t, uint64_t *ns)
{
    struct tm tm;
    int n = 0;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) !=
            6 ||
        t[n] != '\0' || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t s = timegm(&tm);
    if (s <= 0)
        return -1;
    *ns = (uint64_t)s * SEC;
    return 0;
}

static int rd_string(h2o_req_t *req, json_t *j, const char *field, int required, djs_str_t *out)
{
    json_t *x = json_object_get(j, field);
    if (x == NULL && !required)
        return 0;
    if (!json_is_string(x))
        return djs__wrong_type(req, field, "a string"), -1;
    *out = (djs_str_t){json_string_value(x), json_string_length(x)};
    return 0;
}

static int rd_policy(h2o_req_t *req, json_t *j, const char *field, int (*parse)(const char *, size_t), const char *what,
                     uint8_t *out)
{
    json_t *x = json_object_get(j, field);
    if (x == NULL)
        return 0;
    int v = json_is_string(x) ? parse(json_string_value(x), json_string_length(x)) : -1;
    if (v < 0)
        return djs__wrong_type(req, field, what), -1;
    *out = (uint8_t)v;
    return 0;
}

static int rd_uint(h2o_req_t *req, json_t *j, const char *field, uint32_t *out)
{
    json_t *x = json_object_get(j, field);
    if (x == NULL)
        return 0;
    if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > UINT32_MAX)
        return djs__wrong_type(req, field, "a non-negative integer"), -1;
    *out = (uint32_t)json_integer_value(x);
    return 0;
}

static int rd_time(h2o_req_t *req, json_t *j, const char *field, uint64_t *out)
{
    json_t *x = json_object_get(j, field);
    if (x == NULL || json_is_null(x))
        return 0;
    if (!json_is_string(x) || parse_time(json_string_value(x), out) != 0)
        return djs__wrong_type(req, field, "an RFC 3339 UTC time (2026-01-02T03:04:05Z)"), -1;
    return 0;
}

/* The body's definition into d (strings point into j, the template into
 * tmpl); -1 after answering 400. */
static int read_def(h2o_req_t *req, json_t *j, djs_schedule_def_t *d, djs_buf_t *tmpl)
{
    static const char *const fields[] = {"name",          "spec",    "tz",    "overlap", "catchUp", "catchUpMax",
                                         "jitterSeconds", "startAt", "endAt", "job",     NULL};
    memset(d, 0, sizeof(*d));
    if (djs__only_fields(req, j, fields) != 0 || rd_string(req, j, "name", 1, &d->name) != 0 ||
        rd_string(req, j, "spec", 1, &d->spec) != 0 || rd_string(req, j, "tz", 0, &d->tz) != 0 ||
        rd_policy(req, j, "overlap", djs_overlap_parse, "one of skip, allow, cancel-previous", &d->overlap) != 0 ||
        rd_policy(req, j, "catchUp", djs_catchup_parse, "one of none, last, all", &d->catchup) != 0 ||
        rd_uint(req, j, "catchUpMax", &d->catchup_max) != 0 || rd_uint(req, j, "jitterSeconds", &d->jitter_s) != 0 ||
        rd_time(req, j, "startAt", &d->start_ns) != 0 || rd_time(req, j, "endAt", &d->end_ns) != 0)
        return -1;
    json_t *job = json_object_get(j, "job");
    if (!json_is_object(job))
        return djs__wrong_type(req, "job", "a job object as POST /jobs takes (one job or {\"jobs\":[...]})"), -1;
    if (djs__pack_json(tmpl, job) != 0)
        return djs__problem(req, 422, "limit-exceeded", "Limit exceeded", "job is nested too deeply"), -1;
    d->tmpl = tmpl->base;
    d->tmpl_len = tmpl->len;
    return 0;
}

static int answer(djs_server_t *s, h2o_req_t *req, const djs_id_t *id, uint64_t seq, int status)
{
    const djs_schedule_t *sc = djs_state_schedule(djs_engine_state(s->engine), id);
    return djs__reply_when_durable(s, req, seq, status, schedule_json(s->engine, sc, 1));
}

/* POST /schedules, PUT /schedules/{id}: the whole definition. */
int djs__schedules_post(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    if (id != NULL && visible(s, req, who, id) == NULL)
        return 0;
    json_t *j = djs__read_json_body(req);
    if (j == NULL)
        return 0;
    djs_schedule_def_t d;
    djs_buf_t tmpl;
    djs_buf_init(&tmpl);
    if (read_def(req, j, &d, &tmpl) == 0) {
        uint64_t seq;
        djs_id_t nid;
        int rc = id == NULL ? djs_engine_schedule_create(s->engine, who->sub, &d, &nid, &seq)
                            : djs_engine_schedule_update(s->engine, who->sub, id, &d, &seq);
        if (rc != 0)
            djs__engine_problem(req, s->engine, rc);
        else
            answer(s, req, id == NULL ? &nid : id, seq, id == NULL ? 201 : 200);
    }
    djs_buf_dispose(&tmpl);
    json_decref(j);
    return 0;
}

/* GET /schedules (?limit=, ?cursor=: in id order) and GET /schedules/{id}. */
int djs__schedules_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    if (id != NULL) {
        const djs_schedule_t *sc = visible(s, req, who, id);
        return sc == NULL ? 0 : djs__send_json_new(req, 200, schedule_json(s->engine, sc, 1), sc->last_seq);
    }
    uint64_t limit;
    const char *v;
    size_t len;
    djs_id_t cursor = {{0}};
    uint64_t at;
    int given;
    if (djs__query_number(req, "limit", 100, &limit) != 0 || djs__read_point(s, req, &at, &given) != 0)
        return 0;
    if (djs_query_str(req, "cursor", &v, &len) && djs_id_parse(v, len, &cursor) != 0)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "cursor must be the last id of the previous page");
    const djs_state_t *st = djs_engine_state(s->engine);
    if (given) { /* time travel: the schedules as of that seq */
        int rc = djs_engine_state_at(s->engine, at, &st);
        if (rc != 0)
            return djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    json_t *items = json_array();
    /* one pass per item: schedules are few (thousands), pages short */
    for (uint64_t k = 0; k < limit; k++) {
        const djs_schedule_t *best = NULL;
        for (uint32_t i = 0; i < djs_state_nschedule_slots(st); i++) {
            const djs_schedule_t *sc = djs_state_schedule_at(st, i);
            if (sc == NULL || djs_id_cmp(&sc->id, &cursor) <= 0 || (who->role == DJS_ROLE_USER && strcmp(sc->owner, who->sub) != 0))
                continue;
            if (best == NULL || djs_id_cmp(&sc->id, &best->id) < 0)
                best = sc;
        }
        if (best == NULL)
            break;
        json_array_append_new(items, schedule_json(s->engine, best, !given));
        cursor = best->id;
    }
    json_t *b = json_object();
    json_object_set_new(b, "schedules", items);
    json_object_set_new(b, "seq", json_integer((json_int_t)(given ? at : djs_state_seq(st))));
    return djs__send_json_new(req, 200, b, given ? at : djs_state_seq(st));
}

/* DELETE /schedules/{id}, POST /schedules/{id}/pause and /resume (arg). */
int djs__schedules_command(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    if (visible(s, req, who, id) == NULL)
        return 0;
    uint64_t seq;
    int rc = strcmp(arg, "pause") == 0    ? djs_engine_schedule_pause(s->engine, who->sub, id, &seq)
             : strcmp(arg, "resume") == 0 ? djs_engine_schedule_resume(s->engine, who->sub, id, &seq)
                                          : djs_engine_schedule_delete(s->engine, who->sub, id, &seq);
    if (rc != 0)
        return djs__engine_problem(req, s->engine, rc);
    if (strcmp(arg, "delete") != 0)
        return answer(s, req, id, seq, 200);
    json_t *b = json_object();
    json_object_set_new(b, "id", djs_json_id(id));
    json_object_set_new(b, "status", json_string("DELETED"));
    json_object_set_new(b, "seq", json_integer((json_int_t)seq));
    return djs__reply_when_durable(s, req, seq, 200, b);
}
