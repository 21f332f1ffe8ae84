/* Jobs and workflows: submit, list, read (now or at a point of the log),
 * update, cancel, retry, delete, history, and the output an attempt prints
 * (stored by POST /jobs/{id}/output, read by GET /jobs/{id}/logs). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jtext.h"
#include "api/render.h"
#include "api/server_internal.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/job.h"
#include "core/mp.h"
#include "projections/jobview.h"

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

/* What a job read needs of the live projection: the pending facts of a
 * job read now (st NULL: a read at a point of the log, without them). */
typedef struct job_live {
    const djs_state_t *st;
    uint64_t now_ns;
} job_live_t;

/* The pending facts of the job into *out, and out; NULL when it is not
 * pending now (or not live, or the read is not about now). */
static const djs_pending_t *job_pending(const job_live_t *lv, const djs_job_view_t *v, const djs_job_spec_t *sp, djs_pending_t *out)
{
    if (lv == NULL || lv->st == NULL)
        return NULL;
    const djs_job_t *j = djs_state_job(lv->st, &v->id);
    if (j == NULL)
        return NULL;
    djs_pending_of(lv->st, j, sp->deps, sp->ndeps, lv->now_ns, out);
    return out->pending ? out : NULL;
}

static json_t *payload_json(const djs_job_spec_t *sp)
{
    if (sp->payload == NULL)
        return json_null();
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, sp->payload, sp->payload_len);
    json_t *p = djs_mp_to_json(&r, 0);
    return p != NULL ? p : json_null();
}

/* The spec fields beyond the summary: payload, requiredCapabilities,
 * scheduledAt, workflow, schedule (set by schedules, issue 12: null). */
static void spec_json(json_t *j, const djs_job_spec_t *sp)
{
    json_object_set_new(j, "payload", payload_json(sp));
    json_t *caps = json_array();
    size_t off = 0;
    djs_str_t c;
    while (djs_strlist_next(&sp->caps, &off, &c))
        json_array_append_new(caps, djs_json_str_lossy(c.p, c.len));
    json_object_set_new(j, "requiredCapabilities", caps);
    json_object_set_new(j, "scheduledAt", djs_json_time(sp->scheduled_at));
    json_object_set_new(j, "workflow", djs_id_is_nil(&sp->workflow) ? json_null() : djs_json_id(&sp->workflow));
    json_object_set_new(j, "schedule", djs_id_is_nil(&sp->schedule) ? json_null() : djs_json_id(&sp->schedule));
}

static json_t *job_json(const djs_job_view_t *v, const job_live_t *lv)
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
    spec_json(j, &sp);
    if (sp.ckey.len > 0) {
        json_object_set_new(j, "concurrencyKey", djs_json_str_lossy(sp.ckey.p, sp.ckey.len));
        json_object_set_new(j, "concurrencyLimit", json_integer(sp.climit > 0 ? sp.climit : 1));
    }
    if (!djs_id_is_nil(&sp.schedule))
        json_object_set_new(j, "scheduleId", djs_json_id(&sp.schedule));
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
    djs_pending_t pend;
    if (job_pending(lv, v, &sp, &pend) != NULL)
        json_object_set_new(j, "pending", djs__pending_json(lv->st, &pend, &sp));
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

/* spec_json's text; -1 as job_text. */
static int spec_text(djs_buf_t *b, const djs_job_spec_t *sp)
{
    djs_jt_lit(b, ",\"payload\":");
    if (sp->payload == NULL) {
        djs_jt_lit(b, "null");
    } else {
        djs_mp_reader_t r;
        djs_mp_reader_init(&r, sp->payload, sp->payload_len);
        if (djs_jt_mp(b, &r, 0) != 0)
            return -1;
    }
    djs_jt_lit(b, ",\"requiredCapabilities\":[");
    size_t off = 0;
    djs_str_t c;
    for (int i = 0; djs_strlist_next(&sp->caps, &off, &c); i++) {
        if (i > 0)
            djs_jt_lit(b, ",");
        if (djs_jt_str(b, c.p, c.len) != 0)
            return -1;
    }
    djs_jt_lit(b, "],\"scheduledAt\":");
    djs_jt_time(b, sp->scheduled_at);
    djs_jt_lit(b, ",\"workflow\":");
    if (djs_id_is_nil(&sp->workflow))
        djs_jt_lit(b, "null");
    else
        djs_jt_id(b, &sp->workflow);
    djs_jt_lit(b, ",\"schedule\":");
    if (djs_id_is_nil(&sp->schedule))
        djs_jt_lit(b, "null");
    else
        djs_jt_id(b, &sp->schedule);
    return 0;
}

/* ,"result":... and ,"error":... as job_json has them (jansson's rendering
 * of the values); -1 as job_text. */
static int outcome_text(djs_buf_t *b, const djs_job_view_t *v)
{
    json_t *outcome[2];
    job_outcome(v, &outcome[0], &outcome[1]);
    for (int k = 0; k < 2; k++) {
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
    return 0;
}

/* job_json's text; -1 if a string is not valid UTF-8 (then use job_json). */
static int job_text(djs_buf_t *b, const djs_job_view_t *v, const job_live_t *lv)
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
    djs_jt_lit(b, "]");
    if (spec_text(b, &sp) != 0)
        return -1;
    if (sp.ckey.len > 0) {
        djs_jt_lit(b, ",\"concurrencyKey\":");
        if (djs_jt_str(b, sp.ckey.p, sp.ckey.len) != 0)
            return -1;
        djs_jt_lit(b, ",\"concurrencyLimit\":");
        djs_jt_int(b, sp.climit > 0 ? sp.climit : 1);
    }
    if (!djs_id_is_nil(&sp.schedule)) {
        djs_jt_lit(b, ",\"scheduleId\":");
        djs_jt_id(b, &sp.schedule);
    }
    djs_jt_lit(b, ",\"progress\":{\"percentage\":");
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
    if (outcome_text(b, v) != 0)
        return -1;
    djs_pending_t pend;
    if (job_pending(lv, v, &sp, &pend) != NULL) {
        djs_jt_lit(b, ",\"pending\":");
        djs__pending_text(b, lv->st, &pend, &sp);
    }
    djs_jt_lit(b, ",\"seq\":");
    djs_jt_int(b, (int64_t)v->last_seq);
    djs_jt_lit(b, "}");
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

/* GET /jobs/{id}, now or at ?at_seq / ?as_of */
int djs__jobs_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    uint64_t at;
    int given;
    if (djs__read_point(s, req, &at, &given) != 0)
        return 0;
    djs_job_view_t v;
    int rc = view_job(s, who, id, given ? at : UINT64_MAX, &v);
    /* a read now shows why the job is not running, from the live projection */
    job_live_t lv = {given ? NULL : djs_engine_state(s->engine), djs_log_now(djs_engine_log(s->engine))};
    if (rc == 0) {
        djs_buf_t *b = &s->scratch;
        djs_buf_reset(b);
        if (job_text(b, &v, &lv) == 0) {
#ifdef DJS_CHECK_RENDER /* sanitizer builds (the tests) compare with jansson's text */
            json_t *j = job_json(&v, &lv);
            char *t = json_dumps(j, JSON_COMPACT);
            if (t == NULL || strlen(t) != b->len || memcmp(t, b->base, b->len) != 0) {
                fprintf(stderr, "job_text differs from job_json:\n%.*s\n%s\n", (int)b->len, (const char *)b->base, t);
                abort();
            }
            free(t);
            json_decref(j);
#endif
            djs__send_text(req, 200, (const char *)b->base, b->len, v.last_seq);
        } else {
            json_t *j = job_json(&v, &lv);
            djs__send_json(req, 200, j, v.last_seq);
            json_decref(j);
        }
    } else if (rc == DJS_ENOTFOUND) {
        djs__problem(req, 404, "not-found", "Not Found", "no such job");
    } else {
        djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    djs_job_view_dispose(&v);
    return 0;
}

/* Reading a submission: the strings of each djs_job_request_t point into
 * the request's JSON, its arrays come from the request's pool, and its
 * payload is packed into a buffer of its own (payloads[i], disposed by the
 * caller).
 *
 * Limits: the engine owns the limits of a job spec (name and description
 * lengths, number of dependencies and capabilities, key length, retries,
 * timeout, workflow size: djs_engine_submit's validation, whose message
 * names the field and becomes the problem's detail). Here only the shape is
 * checked: JSON types, integers that fit their fields, the payload's JSON
 * depth. So the arrays are as long as the request says; what bounds them
 * is the body cap (cfg.max_body, 1 MiB by default): a dependency takes at
 * least 3 bytes of body (16 here), a capability or key 3 (16 here), a job
 * object 3 (about 250 here), the same order as jansson's own objects. */

/* The dependencies (job ids) of x, an array, into the request's pool. */
static int read_dep_ids(h2o_req_t *req, const json_t *x, djs_job_request_t *r)
{
    size_t n = json_array_size(x);
    djs_id_t *ids = n > 0 ? h2o_mem_alloc_pool(&req->pool, n * sizeof(*ids)) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(x, i);
        if (!json_is_string(d) || djs_id_parse(json_string_value(d), json_string_length(d), &ids[i]) != 0)
            return DJS_EINVAL;
    }
    r->dep_ids = ids;
    r->ndep_ids = (uint32_t)n;
    return 0;
}

/* name, description, priority, timeoutSeconds, maxRetries, payload. */
static int read_job_fields(h2o_req_t *req, json_t *j, djs_job_request_t *r, djs_buf_t *payload, const char *at)
{
    json_t *x;
    char f[96];
#define WRONG(field, what) (snprintf(f, sizeof(f), "%s%s", at, field), djs__wrong_type(req, f, what), -1)
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
        if (djs__pack_json(payload, x) != 0) {
            snprintf(f, sizeof(f), "%spayload is nested too deeply", at);
            return djs__problem(req, 422, "limit-exceeded", "Limit exceeded", f), -1;
        }
        r->spec.payload = payload->base;
        r->spec.payload_len = payload->len;
    }
#undef WRONG
    return 0;
}

/* dependencies, requiredCapabilities, and a workflow job's key and dependsOn. */
static int read_job_links(h2o_req_t *req, json_t *j, djs_job_request_t *r, const char *at)
{
    json_t *x;
    char f[96];
#define WRONG(field, what) (snprintf(f, sizeof(f), "%s%s", at, field), djs__wrong_type(req, f, what), -1)
    if ((x = json_object_get(j, "dependencies")) != NULL) {
        if (!json_is_array(x))
            return WRONG("dependencies", "an array of job ids");
        if (read_dep_ids(req, x, r) != 0)
            return WRONG("dependencies[]", "job ids (UUID strings)");
    }
    if ((x = json_object_get(j, "requiredCapabilities")) != NULL) {
        if (!json_is_array(x))
            return WRONG("requiredCapabilities", "an array of strings");
        if (djs__json_strings(req, x, &r->caps, &r->ncaps) != 0)
            return WRONG("requiredCapabilities[]", "strings");
    }
    if ((x = json_object_get(j, "key")) != NULL) {
        /* an empty key would read as no key: refused here; its length is the engine's */
        if (!json_is_string(x) || json_string_length(x) == 0)
            return WRONG("key", "a non-empty string of at most 256 bytes");
        r->key = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    if ((x = json_object_get(j, "dependsOn")) != NULL) {
        if (!json_is_array(x))
            return WRONG("dependsOn", "an array of keys of this workflow's jobs");
        if (djs__json_strings(req, x, &r->dep_keys, &r->ndep_keys) != 0)
            return WRONG("dependsOn[]", "keys (strings)");
    }
#undef WRONG
    return 0;
}

/* concurrencyKey (a non-empty string; its length is the engine's) and
 * concurrencyLimit (an integer >= 1; its bound is the engine's, and a key
 * alone means 1). */
static int read_job_limits(h2o_req_t *req, json_t *j, djs_job_request_t *r, const char *at)
{
    json_t *x;
    char f[96];
#define WRONG(field, what) (snprintf(f, sizeof(f), "%s%s", at, field), djs__wrong_type(req, f, what), -1)
    if ((x = json_object_get(j, "concurrencyKey")) != NULL) {
        if (!json_is_string(x) || json_string_length(x) == 0)
            return WRONG("concurrencyKey", "a non-empty string of at most 128 bytes");
        r->spec.ckey = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    if ((x = json_object_get(j, "concurrencyLimit")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > UINT32_MAX)
            return WRONG("concurrencyLimit", "an integer of at least 1");
        r->spec.climit = (uint32_t)json_integer_value(x);
    }
#undef WRONG
    return 0;
}

/* How far ahead a job may be delayed: 366 days, by delaySeconds or
 * scheduledAt. Every waiting job is kept in the projection (about 150
 * bytes and a timer each) until it runs; a year covers "next month's
 * report", and what repeats further out is a schedule's (issue 12). It also
 * keeps now + delay far from the 64-bit ns limit. */
#define MAX_DELAY_S (366u * 24 * 3600)

/* scheduledAt (RFC 3339) or delaySeconds (from now_ns, the request's
 * arrival: the event records the absolute time, replay never re-decides).
 * -1 after answering 400 or 422. */
static int read_job_time(h2o_req_t *req, json_t *j, djs_job_request_t *r, const char *at, uint64_t now_ns)
{
    json_t *when = json_object_get(j, "scheduledAt"), *delay = json_object_get(j, "delaySeconds");
    char f[128];
    if (when != NULL && delay != NULL) {
        snprintf(f, sizeof(f), "give %sscheduledAt or %sdelaySeconds, not both", at, at);
        return djs__problem(req, 400, "conflicting-fields", "Conflicting fields", f), -1;
    }
    uint64_t ns = 0, horizon = now_ns + (uint64_t)MAX_DELAY_S * 1000000000ULL;
    if (when != NULL) {
        snprintf(f, sizeof(f), "%sscheduledAt", at);
        if (!json_is_string(when) || djs__parse_rfc3339(json_string_value(when), json_string_length(when), &ns) != 0)
            return djs__wrong_type(req, f, "an RFC 3339 time, e.g. 2026-11-27T10:02:00Z"), -1;
    } else if (delay != NULL) {
        snprintf(f, sizeof(f), "%sdelaySeconds", at);
        if (!json_is_integer(delay) || json_integer_value(delay) < 0)
            return djs__wrong_type(req, f, "a non-negative integer"), -1;
        if (json_integer_value(delay) > MAX_DELAY_S)
            ns = UINT64_MAX;
        else
            ns = now_ns + (uint64_t)json_integer_value(delay) * 1000000000ULL;
    } else {
        return 0;
    }
    if (ns > horizon) {
        snprintf(f + strlen(f), sizeof(f) - strlen(f), " is more than %u s (366 days) ahead", MAX_DELAY_S);
        return djs__problem(req, 422, "invalid-value", "Invalid value", f), -1;
    }
    r->spec.scheduled_at = ns;
    return 0;
}

static const char *const job_fields[] = {
    "name",       "description",          "priority",    "payload",      "dependencies",   "timeoutSeconds",
    "maxRetries", "requiredCapabilities", "scheduledAt", "delaySeconds", "concurrencyKey", "concurrencyLimit",
    NULL};
static const char *const workflow_job_fields[] = {
    "key",          "dependsOn",      "name",       "description",          "priority",       "payload",
    "dependencies", "timeoutSeconds", "maxRetries", "requiredCapabilities", "concurrencyKey", "concurrencyLimit",
    "scheduledAt",  "delaySeconds",   NULL};

/* Validate the shape of a job object into r. `at` prefixes field names in
 * error details ("" or "jobs[3]."); a workflow job (wf) may also carry key
 * and dependsOn. -1 after answering 400 or 422. */
static int read_job(h2o_req_t *req, json_t *j, djs_job_request_t *r, djs_buf_t *payload, const char *at, int wf, uint64_t now_ns)
{
    if (djs__only_fields(req, j, wf ? workflow_job_fields : job_fields) != 0)
        return -1;
    if (read_job_fields(req, j, r, payload, at) != 0 || read_job_links(req, j, r, at) != 0 || read_job_limits(req, j, r, at) != 0 ||
        read_job_time(req, j, r, at, now_ns) != 0)
        return -1;
    return 0;
}

/* The Idempotency-Key header, if any, into r (the first job): printable
 * ASCII without spaces; its length is the engine's. -1 after a 400. */
static int read_idem_key(h2o_req_t *req, djs_job_request_t *r)
{
    h2o_iovec_t idem;
    if (!djs__header_value(req, NULL, "idempotency-key", &idem))
        return 0;
    for (size_t i = 0; i < idem.len; i++)
        if (idem.base[i] < 0x21 || idem.base[i] > 0x7e)
            return djs__problem(req, 400, "invalid-header", "Invalid header",
                                "Idempotency-Key must be printable ASCII without spaces (at most 128 bytes)"),
                   -1;
    r->spec.idem_key = (djs_str_t){idem.base, idem.len};
    return 0;
}

/* The n jobs of the body (j itself, or the items of list for a workflow)
 * into r[0..n) and payloads[0..n) (each initialised here once reached:
 * *ready says how many, to dispose of). -1 after answering 400 or 422. */
static int read_jobs(h2o_req_t *req, json_t *j, json_t *list, size_t n, djs_job_request_t *r, djs_buf_t *payloads, size_t *ready,
                     uint64_t now_ns)
{
    for (size_t i = 0; i < n; i++) {
        char at[32] = "";
        json_t *one = list != NULL ? json_array_get(list, i) : j;
        djs_buf_init(&payloads[i]);
        *ready = i + 1;
        if (list != NULL)
            snprintf(at, sizeof(at), "jobs[%zu].", i);
        if (!json_is_object(one))
            return djs__wrong_type(req, "jobs[]", "job objects"), -1;
        if (read_job(req, one, &r[i], &payloads[i], at, list != NULL, now_ns) != 0)
            return -1;
    }
    return read_idem_key(req, &r[0]);
}

/* The receipt of an accepted submission, once durable: {id, status, seq}
 * for one job (or a repeat), {jobs: [{key, id}], status, seq} for a workflow. */
static int answer_submit(djs_server_t *s, h2o_req_t *req, const djs_job_request_t *r, const djs_id_t *ids, size_t n, int wf,
                         int existed, uint64_t seq)
{
    if (!wf || existed) {
        /* {"id":...,"status":...,"seq":...} as jansson writes it */
        char text[128], idt[DJS_ID_TEXT_LEN + 1];
        djs_id_format(&ids[0], idt);
        int len = snprintf(text, sizeof(text), "{\"id\":\"%s\",\"status\":\"%s\",\"seq\":%" PRId64 "}", idt,
                           existed ? "EXISTS" : "ACCEPTED", (int64_t)seq);
        return djs__reply_when_durable_text(s, req, seq, existed ? 200 : 201, text, (size_t)len);
    }
    json_t *b = json_object(), *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        if (r[i].key.len > 0)
            json_object_set_new(o, "key", json_stringn(r[i].key.p, r[i].key.len));
        json_object_set_new(o, "id", djs_json_id(&ids[i]));
        json_array_append_new(out, o);
    }
    json_object_set_new(b, "jobs", out);
    json_object_set_new(b, "status", json_string("ACCEPTED"));
    json_object_set_new(b, "seq", json_integer((json_int_t)seq));
    return djs__reply_when_durable(s, req, seq, 201, b);
}

/* The engine validates against the projection only (it does no I/O): for
 * a dependency that is no longer in it (finished and evicted), read from
 * the log what it ended as and pass that fact along (dep_final). A read
 * error answers 503. */
static int gather_dep_facts(djs_server_t *s, h2o_req_t *req, djs_job_request_t *r, size_t n)
{
    djs_engine_t *e = s->engine;
    if (n > DJS_WORKFLOW_MAX_JOBS)
        return 0; /* the engine refuses it: no log reads for a request that cannot pass */
    for (size_t i = 0; i < n; i++) {
        int *final = NULL;
        if (r[i].ndep_ids + r[i].ndep_keys > DJS_JOB_MAX_DEPS)
            continue; /* likewise */
        for (uint32_t k = 0; k < r[i].ndep_ids; k++) {
            if (djs_state_job(djs_engine_state(e), &r[i].dep_ids[k]) != NULL)
                continue;
            if (final == NULL) {
                final = h2o_mem_alloc_pool(&req->pool, r[i].ndep_ids * sizeof(*final));
                for (uint32_t m = 0; m < r[i].ndep_ids; m++)
                    final[m] = DJS_JOB_FINAL_UNKNOWN;
                r[i].dep_final = final;
            }
            int rc = djs_job_view_final(djs_engine_log(e), &r[i].dep_ids[k], &final[k]);
            if (rc != 0)
                return djs__problem(req, 503, "unavailable", "Service Unavailable", djs_strerror(rc)), rc;
        }
    }
    return 0;
}

/* POST /jobs: one job object, or {"jobs":[...]} submitted atomically as a
 * workflow whose jobs may depend on each other by key. */
int djs__jobs_post(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)id, (void)arg;
    static const char *const only_jobs[] = {"jobs", NULL};
    json_t *j = djs__read_json_body(req);
    if (j == NULL)
        return 0;
    json_t *list = json_object_get(j, "jobs");
    size_t n = list != NULL ? json_array_size(list) : 1, ready = 0;
    if (list != NULL && djs__only_fields(req, j, only_jobs) != 0)
        goto fail;
    if (list != NULL && (!json_is_array(list) || n == 0)) {
        djs__wrong_type(req, "jobs", "a non-empty array of job objects");
        goto fail;
    }
    /* n is bounded by the body (see above); the engine refuses more than DJS_WORKFLOW_MAX_JOBS */
    djs_job_request_t *r = h2o_mem_alloc_pool(&req->pool, n * sizeof(*r));
    djs_buf_t *payloads = h2o_mem_alloc_pool(&req->pool, n * sizeof(*payloads));
    djs_id_t *ids = h2o_mem_alloc_pool(&req->pool, n * sizeof(*ids));
    memset(r, 0, n * sizeof(*r));
    uint64_t now = djs_log_now(djs_engine_log(s->engine)); /* the request's arrival, for delaySeconds */
    if (read_jobs(req, j, list, n, r, payloads, &ready, now) == 0 && gather_dep_facts(s, req, r, n) == 0) {
        uint64_t seq;
        int existed;
        int rc = djs_engine_submit(s->engine, who->sub, r, (uint32_t)n, ids, &seq, &existed);
        if (rc != 0)
            djs__engine_problem(req, s->engine, rc);
        else
            answer_submit(s, req, r, ids, n, list != NULL, existed, seq);
    }
    for (size_t i = 0; i < ready; i++)
        djs_buf_dispose(&payloads[i]);
fail:
    json_decref(j);
    return 0;
}

/* POST /jobs/{id}/cancel */
int djs__jobs_cancel(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    uint64_t seq;
    if (!djs__owns(s, who, id))
        return djs__problem(req, 404, "not-found", "Not Found", "no such job");
    int rc = djs_engine_cancel(s->engine, who->sub, id, &seq);
    if (rc != 0)
        return djs__engine_problem(req, s->engine, rc);
    json_t *b = json_pack("{s:o, s:s, s:I}", "id", djs_json_id(id), "status", "CANCELLED", "seq", (json_int_t)seq);
    return djs__reply_when_durable(s, req, seq, 200, b);
}

/* POST /jobs/{id}/output?workerId=&attempt=&offset=: raw bytes the running
 * attempt printed, at byte `offset` of this attempt's output. */
int djs__jobs_output(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    const djs_id_t *job = id;
    const char *v;
    size_t vlen;
    djs_id_t wid;
    if (!djs_query_str(req, "workerId", &v, &vlen) || djs_id_parse(v, vlen, &wid) != 0)
        return djs__wrong_type(req, "workerId", "the worker's id (query parameter)");
    if (!djs__worker_self(s, req, who, &wid))
        return 0;
    uint64_t attempt, offset;
    if (djs__query_number(req, "attempt", 0, &attempt) != 0 || djs__query_number(req, "offset", UINT64_MAX, &offset) != 0)
        return 0;
    if (attempt == 0 || attempt > UINT32_MAX)
        return djs__wrong_type(req, "attempt", "the assignment's attempt number (query parameter)");
    if (offset == UINT64_MAX)
        return djs__wrong_type(req, "offset", "the byte offset of this chunk in the attempt's output (query parameter)");
    if (req->entity.len > 0 && !djs__media_type_is(req, "application/octet-stream") && !djs__media_type_is(req, "text/plain"))
        return djs__problem(req, 415, "unsupported-media-type", "Unsupported Media Type", "send application/octet-stream");
    uint64_t seq, received = UINT64_MAX; /* set by the engine once the attempt is known */
    int rc = djs_engine_output(s->engine, &wid, job, (uint32_t)attempt, offset, (const uint8_t *)req->entity.base, req->entity.len,
                               &seq, &received);
    if (rc == DJS_ECONFLICT && received != UINT64_MAX && received != offset) /* a gap: say where to resume */
        return djs__problem_ext(req, 409, "conflict", "Conflict", djs_engine_errmsg(s->engine),
                                json_pack("{s:I}", "received", (json_int_t)received));
    if (rc != 0)
        return djs__engine_problem(req, s->engine, rc);
    json_t *b = json_pack("{s:o, s:I}", "id", djs_json_id(job), "received", (json_int_t)received);
    if (seq == 0)
        return djs__send_json_new(req, 200, b, 0);
    json_object_set_new(b, "seq", json_integer((json_int_t)seq));
    return djs__reply_when_durable(s, req, seq, 200, b);
}

/* GET /jobs/{id}/logs?offset=&limit=: the stored output from offset on,
 * raw; DJS-Log-Next-Offset says where to go on, DJS-Log-Complete whether
 * the job is finished and everything was returned. */
int djs__jobs_logs(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    uint64_t offset, limit;
    if (djs__query_number(req, "offset", 0, &offset) != 0 || djs__query_number(req, "limit", 256 * 1024, &limit) != 0)
        return 0;
    if (limit == 0 || limit > (1u << 20))
        return djs__problem(req, 400, "invalid-query", "Invalid query", "limit must be 1 to 1048576 bytes");
    djs_job_view_t v;
    int rc = view_job(s, who, id, UINT64_MAX, &v);
    if (rc != 0) {
        djs_job_view_dispose(&v);
        return rc == DJS_ENOTFOUND ? djs__problem(req, 404, "not-found", "Not Found", "no such job")
                                   : djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
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
        return djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    int complete = djs_job_state_final(v.state) && next >= v.out_len;
    djs__observe(req, 200);
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

/* DELETE /jobs/{id} and POST /jobs/{id}/retry: arg "delete" or "retry" */
int djs__jobs_command(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    const char *what = arg;
    uint64_t seq;
    int rc;
    if (!djs__owns(s, who, id))
        return djs__problem(req, 404, "not-found", "Not Found", "no such job");
    if (strcmp(what, "retry") == 0)
        rc = djs_engine_retry(s->engine, who->sub, id, &seq);
    else
        rc = djs_engine_delete(s->engine, who->sub, id, &seq);
    if (rc != 0)
        return djs__engine_problem(req, s->engine, rc);
    return djs__reply_when_durable(s, req, seq, 200,
                                   json_pack("{s:o, s:s, s:I}", "id", djs_json_id(id), "status",
                                             strcmp(what, "retry") == 0 ? "QUEUED" : "DELETED", "seq", (json_int_t)seq));
}

/* PUT /jobs/{id}: name, description, priority, maxRetries, timeoutSeconds */
int djs__jobs_put(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    static const char *const fields[] = {"name", "description", "priority", "maxRetries", "timeoutSeconds", NULL};
    json_t *j = djs__read_json_body(req), *x;
    if (j == NULL)
        return 0;
    djs_job_change_t c;
    memset(&c, 0, sizeof(c));
    if (djs__only_fields(req, j, fields) != 0)
        goto fail;
    if (!djs__owns(s, who, id)) {
        djs__problem(req, 404, "not-found", "Not Found", "no such job");
        goto fail;
    }
    if ((x = json_object_get(j, "name")) != NULL) {
        if (!json_is_string(x)) {
            djs__wrong_type(req, "name", "a string");
            goto fail;
        }
        c.has_name = 1;
        c.name = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    if ((x = json_object_get(j, "description")) != NULL) {
        if (!json_is_string(x)) {
            djs__wrong_type(req, "description", "a string");
            goto fail;
        }
        c.has_description = 1;
        c.description = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    if ((x = json_object_get(j, "priority")) != NULL) {
        int pr = json_is_string(x) ? djs_priority_parse(json_string_value(x), json_string_length(x)) : -1;
        if (pr < 0) {
            djs__wrong_type(req, "priority", "one of HIGH, NORMAL, LOW");
            goto fail;
        }
        c.has_priority = 1;
        c.priority = (uint8_t)pr;
    }
    if ((x = json_object_get(j, "maxRetries")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > UINT32_MAX) {
            djs__wrong_type(req, "maxRetries", "a non-negative integer");
            goto fail;
        }
        c.has_max_retries = 1;
        c.max_retries = (uint32_t)json_integer_value(x);
    }
    if ((x = json_object_get(j, "timeoutSeconds")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > UINT32_MAX) {
            djs__wrong_type(req, "timeoutSeconds", "a non-negative integer");
            goto fail;
        }
        c.has_timeout = 1;
        c.timeout_s = (uint32_t)json_integer_value(x);
    }
    uint64_t seq;
    int rc = djs_engine_update(s->engine, who->sub, id, &c, &seq);
    if (rc != 0)
        djs__engine_problem(req, s->engine, rc);
    else
        djs__reply_when_durable(s, req, seq, 200,
                                json_pack("{s:o, s:s, s:I}", "id", djs_json_id(id), "status", "UPDATED", "seq", (json_int_t)seq));
fail:
    json_decref(j);
    return 0;
}

/* GET /jobs?status=&priority=&owner=&capability=&name_prefix=&schedule=&workflow=&worker=&limit=&cursor=:
 * live jobs in id (creation) order, a page after the cursor id. Each page
 * is one pass over the live projection keeping the `limit` smallest ids
 * past the cursor. */
typedef struct list_filter {
    int status, prio; /* -1: any */
    djs_id_t cursor;
    const char *owner, *cap, *prefix; /* NULL: any */
    size_t owner_len, cap_len, prefix_len;
    int has_sched; /* schedule=: jobs fired by that schedule */
    djs_id_t sched;
    int has_wf; /* workflow=: jobs submitted in that workflow */
    djs_id_t wf;
    int has_worker;  /* worker=: jobs placed on that worker now (SCHEDULED or RUNNING) */
    uint32_t worker; /* its slot, DJS_NONE when unknown (nothing matches) */
} list_filter_t;

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

/* 1 and *sp (pointing into rec) when the job's job.submitted record reads. */
static int read_spec(djs_server_t *s, const djs_job_t *j, djs_buf_t *rec, djs_job_spec_t *sp)
{
    djs_event_t ev;
    djs_buf_reset(rec);
    return djs_log_get(djs_engine_log(s->engine), j->submit_seq, rec) == 0 && djs_event_decode(rec->base, rec->len, &ev) == 0 &&
           djs_body_read_job_spec(ev.body, ev.body_len, sp) == 0;
}

/* 1 if the job's name starts with prefix. */
static int name_has_prefix(djs_server_t *s, const djs_job_t *j, const char *prefix, size_t len, djs_buf_t *rec)
{
    djs_job_spec_t sp;
    return read_spec(s, j, rec, &sp) && sp.name.len >= len && memcmp(sp.name.p, prefix, len) == 0;
}

/* 1 if the job was fired by schedule id. */
static int fired_by(djs_server_t *s, const djs_job_t *j, const djs_id_t *id, djs_buf_t *rec)
{
    djs_job_spec_t sp;
    return read_spec(s, j, rec, &sp) && djs_id_cmp(&sp.schedule, id) == 0;
}

/* 1 if the job was submitted in workflow id. */
static int in_workflow(djs_server_t *s, const djs_job_t *j, const djs_id_t *id, djs_buf_t *rec)
{
    djs_job_spec_t sp;
    return read_spec(s, j, rec, &sp) && djs_id_cmp(&sp.workflow, id) == 0;
}

/* The query's filter (a user sees only its own jobs); -1 after a 400. */
static int read_filter(h2o_req_t *req, const djs_state_t *st, const djs_principal_t *who, list_filter_t *f)
{
    const char *v;
    size_t len;
    memset(f, 0, sizeof(*f));
    f->status = f->prio = -1;
    djs_query_str(req, "capability", &f->cap, &f->cap_len);
    djs_query_str(req, "name_prefix", &f->prefix, &f->prefix_len);
    f->owner = who->role == DJS_ROLE_USER ? who->sub : NULL;
    f->owner_len = f->owner ? strlen(f->owner) : 0;
    if (djs_query_str(req, "status", &v, &len) && (f->status = djs_job_state_parse(v, len)) < 0)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "status is not a job state"), -1;
    if (djs_query_str(req, "priority", &v, &len) && (f->prio = djs_priority_parse(v, len)) < 0)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "priority is not HIGH, NORMAL or LOW"), -1;
    if (djs_query_str(req, "cursor", &v, &len) && djs_id_parse(v, len, &f->cursor) != 0)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "cursor must be the last id of the previous page"), -1;
    if (f->owner == NULL && djs_query_str(req, "owner", &v, &len))
        f->owner = v, f->owner_len = len;
    if ((f->has_sched = djs_query_str(req, "schedule", &v, &len)) && djs_id_parse(v, len, &f->sched) != 0)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "schedule must be a schedule id"), -1;
    if ((f->has_wf = djs_query_str(req, "workflow", &v, &len)) && djs_id_parse(v, len, &f->wf) != 0)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "workflow must be a workflow id"), -1;
    djs_id_t wid;
    if ((f->has_worker = djs_query_str(req, "worker", &v, &len))) {
        if (djs_id_parse(v, len, &wid) != 0)
            return djs__problem(req, 400, "invalid-query", "Invalid query", "worker must be a worker id"), -1;
        f->worker = DJS_NONE;
        for (uint32_t i = 0; i < djs_state_nworker_slots(st); i++) {
            const djs_worker_t *w = djs_state_worker_at(st, i);
            if (w != NULL && djs_id_cmp(&w->id, &wid) == 0)
                f->worker = i;
        }
    }
    return 0;
}

static int list_matches(djs_server_t *s, djs_state_t *st, const djs_job_t *j, const list_filter_t *f, djs_buf_t *rec)
{
    if (djs_id_cmp(&j->id, &f->cursor) <= 0 || (f->status >= 0 && j->state != f->status) || (f->prio >= 0 && j->prio != f->prio))
        return 0;
    if (f->owner != NULL) {
        size_t ol;
        const char *o = djs_state_str(st, j->owner, &ol);
        if (ol != f->owner_len || memcmp(o, f->owner, ol) != 0)
            return 0;
    }
    if (f->cap != NULL && !set_has(st, j->cls, f->cap, f->cap_len))
        return 0;
    if (f->has_worker && (f->worker == DJS_NONE || j->worker != f->worker))
        return 0;
    if (f->has_sched && !fired_by(s, j, &f->sched, rec))
        return 0;
    if (f->has_wf && !in_workflow(s, j, &f->wf, rec))
        return 0;
    return f->prefix == NULL || name_has_prefix(s, j, f->prefix, f->prefix_len, rec);
}

/* The page's slots, sorted by id: the `limit` smallest ids that match; *n of them. */
static uint32_t *list_page(djs_server_t *s, djs_state_t *st, const list_filter_t *f, uint64_t limit, uint32_t *n)
{
    uint32_t *page = djs_malloc(((size_t)limit + 1) * sizeof(uint32_t));
    djs_buf_t rec;
    djs_buf_init(&rec);
    *n = 0;
    for (uint32_t slot = 0; slot < djs_state_njob_slots(st); slot++) {
        const djs_job_t *j = djs_state_job_at(st, slot);
        if (j == NULL || !list_matches(s, st, j, f, &rec))
            continue;
        /* insertion into the sorted page, dropping the largest past limit */
        uint32_t i = *n;
        while (i > 0 && djs_id_cmp(&djs_state_job_at(st, page[i - 1])->id, &j->id) > 0) {
            page[i] = page[i - 1];
            i--;
        }
        if (i < limit) {
            page[i] = slot;
            if (*n < limit)
                (*n)++;
        }
    }
    djs_buf_dispose(&rec);
    return page;
}

/* One job of the list: {id, name, scheduledAt, owner, status, priority, attempt, progress, assignedWorker, createdAt}. */
static json_t *list_item_json(djs_server_t *s, djs_state_t *st, const djs_job_t *j, djs_buf_t *rec)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", djs_json_id(&j->id));
    djs_job_spec_t sp;
    if (read_spec(s, j, rec, &sp)) {
        json_object_set_new(o, "name", json_stringn(sp.name.p ? sp.name.p : "", sp.name.len));
        json_object_set_new(o, "scheduledAt", djs_json_time(sp.scheduled_at));
        json_object_set_new(o, "workflow", djs_id_is_nil(&sp.workflow) ? json_null() : djs_json_id(&sp.workflow));
        json_t *deps = json_array();
        for (uint32_t k = 0; k < sp.ndeps; k++) {
            djs_id_t d;
            memcpy(d.b, sp.deps + 16 * (size_t)k, 16);
            json_array_append_new(deps, djs_json_id(&d));
        }
        json_object_set_new(o, "dependencies", deps);
    }
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
    json_object_set_new(o, "startedAt", j->started_ns ? djs_json_time(j->started_ns) : json_null());
    json_object_set_new(o, "finishedAt", j->finished_ns ? djs_json_time(j->finished_ns) : json_null());
    json_object_set_new(o, "seq", json_integer((json_int_t)j->last_seq));
    return o;
}

int djs__jobs_list(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)id, (void)arg;
    uint64_t limit, at;
    int given;
    if (djs__query_number(req, "limit", 50, &limit) != 0 || djs__read_point(s, req, &at, &given) != 0)
        return 0;
    const djs_state_t *cst = djs_engine_state(s->engine);
    if (given) {
        int rc = djs_engine_state_at(s->engine, at, &cst);
        if (rc != 0)
            return djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    djs_state_t *st = (djs_state_t *)cst; /* read only below */
    list_filter_t f;
    if (limit == 0 || limit > 500)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "limit must be 1 to 500");
    if (read_filter(req, st, who, &f) != 0)
        return 0;
    uint32_t n;
    uint32_t *page = list_page(s, st, &f, limit, &n);
    json_t *list = json_array();
    djs_buf_t rec;
    djs_buf_init(&rec);
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(list, list_item_json(s, st, djs_state_job_at(st, page[i]), &rec));
    djs_buf_dispose(&rec);
    json_t *b = json_pack("{s:o}", "jobs", list);
    json_object_set_new(b, "next", n == limit ? djs_json_id(&djs_state_job_at(st, page[n - 1])->id) : json_null());
    djs_free(page);
    /* as /state's seq: the point asked for, or the last durable seq (a live page may
     * already show events applied after it); read pages at_seq=it, stream from it + 1 */
    json_object_set_new(b, "seq", json_integer((json_int_t)(given ? at : djs_log_durable_seq(djs_engine_log(s->engine)))));
    return djs__send_json_new(req, 200, b, given ? at : djs_state_seq(st));
}

/* GET /jobs/{id}/history: the job's events, paged as GET /events. */
int djs__jobs_history(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    if (!djs__owns(s, who, id))
        return djs__problem(req, 404, "not-found", "Not Found", "no such job");
    return djs__events_page(s, req, id);
}

/* GET /workflows?limit=&cursor=&at_seq=: the workflows of the live jobs
 * (now or at a point), oldest first (a workflow's id is a UUIDv7: its
 * order is its submission's), each with its first job's name, its jobs'
 * count by status and an overall status: RUNNING while any job is
 * unfinished, else FAILED if one failed, CANCELLED if one was cancelled,
 * else COMPLETED. One pass over the live jobs that reads each job's
 * submission record (an LMDB read) and one sort; a user sees the
 * workflows of its own jobs only. Evicted jobs are not counted. */
typedef struct wf_row {
    djs_id_t wf, job;
    uint32_t slot;
} wf_row_t;

static int wf_row_cmp(const void *a, const void *b)
{
    const wf_row_t *x = a, *y = b;
    int c = djs_id_cmp(&x->wf, &y->wf);
    return c != 0 ? c : djs_id_cmp(&x->job, &y->job);
}

static const char *wf_status(const uint32_t *counts)
{
    if (counts[DJS_JOB_CREATED] + counts[DJS_JOB_QUEUED] + counts[DJS_JOB_SCHEDULED] + counts[DJS_JOB_RUNNING] > 0)
        return "RUNNING";
    return counts[DJS_JOB_FAILED] ? "FAILED" : counts[DJS_JOB_CANCELLED] ? "CANCELLED" : "COMPLETED";
}

int djs__workflows_list(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)id, (void)arg;
    uint64_t limit, at;
    int given;
    if (djs__query_number(req, "limit", 50, &limit) != 0 || djs__read_point(s, req, &at, &given) != 0)
        return 0;
    if (limit == 0 || limit > 500)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "limit must be 1 to 500");
    djs_id_t cursor;
    memset(&cursor, 0, sizeof(cursor));
    const char *v;
    size_t len;
    if (djs_query_str(req, "cursor", &v, &len) && djs_id_parse(v, len, &cursor) != 0)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "cursor must be the last id of the previous page");
    const djs_state_t *st = djs_engine_state(s->engine);
    if (given) {
        int rc = djs_engine_state_at(s->engine, at, &st);
        if (rc != 0)
            return djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    const char *owner = who->role == DJS_ROLE_USER ? who->sub : NULL;
    size_t owner_len = owner ? strlen(owner) : 0;
    size_t cap = 64, n = 0;
    wf_row_t *rows = djs_malloc(cap * sizeof(*rows));
    djs_buf_t rec;
    djs_buf_init(&rec);
    for (uint32_t slot = 0; slot < djs_state_njob_slots(st); slot++) {
        const djs_job_t *j = djs_state_job_at(st, slot);
        if (j == NULL)
            continue;
        if (owner != NULL) {
            size_t ol;
            const char *o = djs_state_str(st, j->owner, &ol);
            if (ol != owner_len || memcmp(o, owner, ol) != 0)
                continue;
        }
        djs_job_spec_t sp;
        if (!read_spec(s, j, &rec, &sp) || djs_id_is_nil(&sp.workflow) || djs_id_cmp(&sp.workflow, &cursor) <= 0)
            continue;
        if (n == cap)
            rows = djs_realloc(rows, (cap *= 2) * sizeof(*rows));
        rows[n++] = (wf_row_t){sp.workflow, j->id, slot};
    }
    qsort(rows, n, sizeof(*rows), wf_row_cmp);
    json_t *list = json_array();
    const djs_id_t *last = NULL;
    for (size_t i = 0; i < n && json_array_size(list) < limit;) {
        size_t k = i;
        uint32_t counts[DJS_JOB_NSTATES] = {0};
        for (; k < n && djs_id_cmp(&rows[k].wf, &rows[i].wf) == 0; k++)
            counts[djs_state_job_at(st, rows[k].slot)->state]++;
        const djs_job_t *first = djs_state_job_at(st, rows[i].slot);
        json_t *o = json_object(), *c = json_object();
        json_object_set_new(o, "id", djs_json_id(&rows[i].wf));
        djs_job_spec_t sp;
        if (read_spec(s, first, &rec, &sp))
            json_object_set_new(o, "name", json_stringn(sp.name.p ? sp.name.p : "", sp.name.len));
        json_object_set_new(o, "createdAt", djs_json_time(first->created_ns));
        json_object_set_new(o, "jobs", json_integer((json_int_t)(k - i)));
        for (int t = 0; t < DJS_JOB_NSTATES; t++)
            if (counts[t])
                json_object_set_new(c, djs_job_state_name(t), json_integer(counts[t]));
        json_object_set_new(o, "counts", c);
        json_object_set_new(o, "status", json_string(wf_status(counts)));
        json_array_append_new(list, o);
        last = &rows[i].wf;
        i = k;
    }
    int more = 0;
    if (last != NULL)
        for (size_t i = 0; i < n && !more; i++)
            more = djs_id_cmp(&rows[i].wf, last) > 0;
    json_t *b = json_pack("{s:o}", "workflows", list);
    json_object_set_new(b, "next", more ? djs_json_id(last) : json_null());
    djs_buf_dispose(&rec);
    djs_free(rows);
    return djs__send_json_new(req, 200, b, given ? at : djs_state_seq(st));
}
