/* Workers: register, list, update, drain, deregister, heartbeat; the long
 * poll that hands out assignments once their placement is durable; and
 * the fenced reports of a running attempt (start, progress, complete,
 * fail), one per request or many per request or poll. */
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

/* capabilities: an array of strings, into the request's pool. How many and
 * how long is the engine's to check (its refusal names the field); the
 * body cap bounds the array (djs__json_strings). */
static int read_caps(h2o_req_t *req, json_t *x, const djs_str_t **caps, uint32_t *n)
{
    *caps = NULL;
    *n = 0;
    if (x == NULL)
        return 0;
    if (!json_is_array(x))
        return djs__wrong_type(req, "capabilities", "an array of at most 32 strings"), -1;
    if (djs__json_strings(req, x, caps, n) != 0)
        return djs__wrong_type(req, "capabilities[]", "strings"), -1;
    return 0;
}

/* ---- registration ------------------------------------------------------------------------ */

/* A field with two spellings, ours and the original API design's (host and
 * hostName, slots and maxConcurrentJobs): its value (NULL if neither is
 * given) and *used, the spelling given. Both given with different values:
 * 400 conflicting-fields, and -1. */
static int either(h2o_req_t *req, json_t *j, const char *name, const char *alias, json_t **x, const char **used)
{
    json_t *a = json_object_get(j, name), *b = json_object_get(j, alias);
    if (a != NULL && b != NULL && !json_equal(a, b)) {
        char detail[200];
        snprintf(detail, sizeof(detail),
                 "%s and %s are one field (%s is the original API's name for it) given two different values", name, alias, alias);
        return djs__problem(req, 400, "conflicting-fields", "Conflicting fields", detail), -1;
    }
    *x = a != NULL ? a : b;
    *used = a != NULL ? name : alias;
    return 0;
}

/* hostAddress: an IP address (v4, or v6 with brackets or a zone) or a DNS name */
static int addr_ok(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') ||
              (p[i] != '\0' && strchr(".:-_[]%", p[i]) != NULL)))
            return 0;
    return len > 0;
}

/* tags: at most DJS_WORKER_MAX_TAGS strings of 1 to DJS_WORKER_MAX_TAG_LEN
 * bytes, packed into *out for the event body (the caller disposes it). */
static int read_tags(h2o_req_t *req, json_t *x, djs_buf_t *out, djs_strlist_t *tags)
{
    const djs_str_t *v;
    uint32_t n;
    char detail[96];
    if (!json_is_array(x) || djs__json_strings(req, x, &v, &n) != 0)
        return djs__wrong_type(req, "tags", "an array of strings"), -1;
    if (n > DJS_WORKER_MAX_TAGS) {
        snprintf(detail, sizeof(detail), "tags holds %u strings, at most %d", n, DJS_WORKER_MAX_TAGS);
        return djs__problem(req, 422, "limit-exceeded", "Limit exceeded", detail), -1;
    }
    for (uint32_t i = 0; i < n; i++)
        if (v[i].len == 0 || v[i].len > DJS_WORKER_MAX_TAG_LEN) {
            snprintf(detail, sizeof(detail), "tags[%u] must be 1 to %d bytes", i, DJS_WORKER_MAX_TAG_LEN);
            return djs__problem(req, 422, "invalid-value", "Invalid value", detail), -1;
        }
    djs_body_strlist(out, v, n);
    *tags = (djs_strlist_t){(const uint8_t *)out->base, out->len, n};
    return 0;
}

/* The original design's fields that have no counterpart of ours: recorded
 * in worker.registered and shown by GET /workers, nothing else. */
static int read_design_fields(h2o_req_t *req, json_t *j, djs_worker_info_t *wi, djs_buf_t *tags)
{
    json_t *x;
    if ((x = json_object_get(j, "hostAddress")) != NULL) {
        if (!json_is_string(x))
            return djs__wrong_type(req, "hostAddress", "a string (an IP address or a DNS name)"), -1;
        if (!addr_ok(json_string_value(x), json_string_length(x)) || json_string_length(x) > DJS_WORKER_MAX_ADDR)
            return djs__problem(req, 422, "invalid-value", "Invalid value",
                                "hostAddress must be an IP address or a DNS name: 1 to 255 letters, digits and . : - _ [ ] %"),
                   -1;
        wi->addr = (djs_str_t){json_string_value(x), json_string_length(x)};
    }
    x = json_object_get(j, "port");
    if (x != NULL && (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > DJS_WORKER_MAX_PORT))
        return djs__wrong_type(req, "port", "an integer from 1 to 65535"), -1;
    wi->port = x != NULL ? (uint32_t)json_integer_value(x) : 0;
    if ((x = json_object_get(j, "tags")) != NULL && read_tags(req, x, tags, &wi->tags) != 0)
        return -1;
    return 0;
}

/* name, host (hostName), slots (maxConcurrentJobs), capabilities and the
 * design's fields into *wi; -1 after answering 400 or 422. */
static int read_registration(h2o_req_t *req, json_t *j, djs_worker_info_t *wi, const djs_str_t **caps, uint32_t *ncaps,
                             djs_buf_t *tags)
{
    static const char *const fields[] = {"name",         "host", "hostName", "hostAddress",       "port",
                                         "capabilities", "tags", "slots",    "maxConcurrentJobs", NULL};
    json_t *x;
    const char *used;
    if (djs__only_fields(req, j, fields) != 0)
        return -1;
    if (!json_is_string(x = json_object_get(j, "name")))
        return djs__wrong_type(req, "name", "a string"), -1;
    wi->name = (djs_str_t){json_string_value(x), json_string_length(x)};
    if (either(req, j, "host", "hostName", &x, &used) != 0)
        return -1;
    if (x != NULL && !json_is_string(x))
        return djs__wrong_type(req, used, "a string"), -1;
    if (x != NULL)
        wi->host = (djs_str_t){json_string_value(x), json_string_length(x)};
    if (either(req, j, "slots", "maxConcurrentJobs", &x, &used) != 0)
        return -1;
    if (x != NULL && (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 10000))
        return djs__wrong_type(req, used, "an integer from 1 to 10000"), -1;
    wi->slots = x != NULL ? (uint32_t)json_integer_value(x) : 1;
    if (read_caps(req, json_object_get(j, "capabilities"), caps, ncaps) != 0)
        return -1;
    return read_design_fields(req, j, wi, tags);
}

/* POST /workers: register, or register again by name (keeping the id) */
int djs__workers_post(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)id, (void)arg;
    json_t *j = djs__read_json_body(req);
    if (j == NULL)
        return 0;
    djs_worker_info_t wi = {0};
    const djs_str_t *caps = NULL;
    uint32_t ncaps = 0;
    djs_buf_t tags;
    djs_buf_init(&tags);
    if (read_registration(req, j, &wi, &caps, &ncaps, &tags) != 0)
        goto fail;
    if (who->role == DJS_ROLE_WORKER && (wi.name.len != strlen(who->sub) || memcmp(wi.name.p, who->sub, wi.name.len) != 0)) {
        djs__problem(req, 403, "forbidden", "Forbidden", "a worker token registers only the worker named by its subject");
        goto fail;
    }
    djs_id_t wid;
    uint64_t seq;
    int rc = djs_engine_register(s->engine, who->sub, &wi, caps, ncaps, &wid, &seq);
    if (rc != 0)
        djs__engine_problem(req, s->engine, rc);
    else
        djs__reply_when_durable(s, req, seq, 201, json_pack("{s:o, s:I}", "id", djs_json_id(&wid), "seq", (json_int_t)seq));
fail:
    djs_buf_dispose(&tags);
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
        return djs__wrong_type(req, name, "a number from 0 to 1"), -1;
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
        return djs__wrong_type(req, "running", "an array of {jobId, attempt}"), NULL;
    }
    const djs_state_t *st = djs_engine_state(s->engine);
    const djs_worker_t *w = djs_state_worker(st, wid);
    for (size_t i = 0; i < json_array_size(running); i++) {
        json_t *r = json_array_get(running, i), *jid = json_object_get(r, "jobId"), *att = json_object_get(r, "attempt");
        djs_id_t id;
        if (!json_is_object(r) || !json_is_string(jid) || djs_id_parse(json_string_value(jid), json_string_length(jid), &id) != 0 ||
            !json_is_integer(att)) {
            json_decref(stop);
            return djs__wrong_type(req, "running[]", "objects {jobId, attempt}"), NULL;
        }
        const djs_job_t *j = djs_state_job(st, &id);
        int current = j != NULL && w != NULL && j->worker != DJS_NONE && djs_state_worker_at(st, j->worker) == w &&
                      j->attempt == (uint64_t)json_integer_value(att) &&
                      (j->state == DJS_JOB_SCHEDULED || j->state == DJS_JOB_RUNNING);
        if (!current)
            json_array_append_new(stop, djs_json_id(&id));
    }
    return stop;
}

/* The jobs of a "running" list that jobs_to_stop accepted whose delivery
 * never reached the worker (djs_engine_unlisted: a claim answer lost)
 * are failed for a retry; *seq is the last event (0: none). */
static int forget_unlisted(djs_server_t *s, json_t *running, const djs_id_t *wid, uint64_t *seq)
{
    *seq = 0;
    if (running == NULL)
        return 0; /* an agent that does not say what it runs */
    size_t n = json_array_size(running);
    djs_id_t *ids = djs_calloc(n ? n : 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        json_t *jid = json_object_get(json_array_get(running, i), "jobId");
        djs_id_parse(json_string_value(jid), json_string_length(jid), &ids[i]);
    }
    int rc = djs_engine_unlisted(s->engine, wid, ids, (uint32_t)n, seq);
    djs_free(ids);
    return rc;
}

/* POST /workers/{id}/heartbeat */
int djs__workers_heartbeat(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    const djs_id_t *wid = id;
    if (!djs__worker_self(s, req, who, wid))
        return 0;
    static const char *const fields[] = {"cpu", "memory", "responseMs", "running", NULL};
    json_t *j = djs__read_json_body(req), *x, *stop = NULL;
    if (j == NULL)
        return 0;
    uint32_t cpu, mem, resp = 0;
    if (djs__only_fields(req, j, fields) == 0 && get_fraction(req, j, "cpu", &cpu) == 0 &&
        get_fraction(req, j, "memory", &mem) == 0 && (stop = jobs_to_stop(s, req, json_object_get(j, "running"), wid)) != NULL) {
        x = json_object_get(j, "responseMs");
        if (x != NULL && (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 3600000)) {
            djs__wrong_type(req, "responseMs", "an integer of milliseconds");
        } else {
            resp = x ? (uint32_t)json_integer_value(x) : 0;
            uint64_t seq = 0, useq;
            int rc = forget_unlisted(s, json_object_get(j, "running"), wid, &useq);
            if (rc == 0)
                rc = djs_engine_heartbeat(s->engine, wid, cpu, mem, resp, &seq);
            json_t *b = json_pack("{s:b, s:I, s:O}", "recorded", seq != 0, "seq", (json_int_t)seq, "stop", stop);
            if (rc != 0) {
                json_decref(b);
                djs__engine_problem(req, s->engine, rc);
            } else if (seq != 0 || useq != 0) {
                djs__reply_when_durable(s, req, seq > useq ? seq : useq, 200, b);
            } else {
                djs__send_json_new(req, 200, b, 0);
            }
        }
    }
    json_decref(stop);
    json_decref(j);
    return 0;
}

static const char *worker_status_name(int st)
{
    static const char *names[] = {"ACTIVE", "DRAINING", "LOST", "GONE"};
    return st >= 0 && st <= 3 ? names[st] : "?";
}

static json_t *tags_json(const djs_worker_t *w)
{
    json_t *a = json_array();
    djs_strlist_t l = {w->tags, w->tags_len, w->ntags};
    djs_str_t t;
    size_t off = 0;
    while (djs_strlist_next(&l, &off, &t))
        json_array_append_new(a, json_stringn(t.p, t.len));
    return a;
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
    json_object_set_new(o, "hostAddress", w->addr[0] != '\0' ? json_string(w->addr) : json_null());
    json_object_set_new(o, "port", w->port != 0 ? json_integer(w->port) : json_null());
    json_object_set_new(o, "tags", tags_json(w));
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

/* GET /workers and GET /workers/{id}, now or at a point of the log */
int djs__workers_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)arg;
    const djs_id_t *one = id;
    uint64_t seq;
    int given;
    if (djs__read_point(s, req, &seq, &given) != 0)
        return 0;
    const djs_state_t *cst = djs_engine_state(s->engine);
    if (given) {
        int rc = djs_engine_state_at(s->engine, seq, &cst);
        if (rc != 0)
            return djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    djs_state_t *st = (djs_state_t *)cst; /* read only below */
    if (one != NULL) {
        const djs_worker_t *w = djs_state_worker(st, one);
        if (w == NULL)
            return djs__problem(req, 404, "not-found", "Not Found", "no such worker");
        return djs__send_json_new(req, 200, worker_json(st, w), djs_state_seq(st));
    }
    json_t *list = json_array();
    for (uint32_t i = 0; i < djs_state_nworker_slots(st); i++) {
        const djs_worker_t *w = djs_state_worker_at(st, i);
        if (w->status != DJS_WORKER_GONE)
            json_array_append_new(list, worker_json(st, w));
    }
    return djs__send_json_new(req, 200, json_pack("{s:o}", "workers", list), djs_state_seq(st));
}

/* PUT /workers/{id}: slots and capabilities, or {"draining": true} */
int djs__workers_put(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    const djs_id_t *wid = id;
    if (!djs__worker_self(s, req, who, wid))
        return 0;
    static const char *const fields[] = {"slots", "capabilities", "draining", NULL};
    json_t *j = djs__read_json_body(req), *x;
    if (j == NULL)
        return 0;
    djs_worker_info_t wi = {0};
    const djs_str_t *caps = NULL;
    uint32_t ncaps = 0;
    uint64_t seq;
    int rc;
    if (djs__only_fields(req, j, fields) != 0)
        goto fail;
    if ((x = json_object_get(j, "draining")) != NULL) {
        if (!json_is_true(x) || json_object_size(j) != 1) {
            djs__wrong_type(req, "draining", "true, alone (a drain cannot be undone; register again)");
            goto fail;
        }
        rc = djs_engine_drain(s->engine, who->sub, wid, &seq);
    } else {
        if ((x = json_object_get(j, "slots")) != NULL) {
            if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 10000) {
                djs__wrong_type(req, "slots", "an integer from 1 to 10000");
                goto fail;
            }
            wi.has_slots = 1;
            wi.slots = (uint32_t)json_integer_value(x);
        }
        if ((x = json_object_get(j, "capabilities")) != NULL) {
            if (read_caps(req, x, &caps, &ncaps) != 0)
                goto fail;
            wi.has_caps = 1;
        }
        rc = djs_engine_update_worker(s->engine, who->sub, wid, &wi, caps, ncaps, &seq);
    }
    if (rc != 0)
        djs__engine_problem(req, s->engine, rc);
    else
        djs__reply_when_durable(s, req, seq, 200, json_pack("{s:o, s:I}", "id", djs_json_id(wid), "seq", (json_int_t)seq));
fail:
    json_decref(j);
    return 0;
}

/* DELETE /workers/{id}: deregister (once it runs nothing) */
int djs__workers_delete(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    const djs_id_t *wid = id;
    if (!djs__worker_self(s, req, who, wid))
        return 0;
    uint64_t seq;
    int rc = djs_engine_deregister(s->engine, who->sub, wid, &seq);
    if (rc != 0)
        return djs__engine_problem(req, s->engine, rc);
    return djs__reply_when_durable(s, req, seq, 200,
                                   json_pack("{s:o, s:s, s:I}", "id", djs_json_id(wid), "status", "GONE", "seq", (json_int_t)seq));
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
#define WRONG(field, what) (snprintf(f, sizeof(f), "%s%s", at, field), djs__wrong_type(req, f, what), -1)
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
            if (djs__pack_json(&r->result, x) != 0) {
                snprintf(f, sizeof(f), "%sresult is nested too deeply", at);
                return djs__problem(req, 422, "limit-exceeded", "Limit exceeded", f), -1;
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
int djs__workers_report(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    const djs_id_t *job = id;
    const char *what = arg;
    static const char *const fields[] = {"workerId", "attempt", "percentage", "currentStep", "estimatedCompletion",
                                         "result",   "error",   NULL};
    json_t *j = djs__read_json_body(req), *x;
    if (j == NULL)
        return 0;
    report_t r = {.job = *job, .action = report_action(what, strlen(what))};
    djs_buf_init(&r.result);
    djs_id_t wid;
    if (djs__only_fields(req, j, fields) != 0)
        goto fail;
    x = json_object_get(j, "workerId");
    if (!json_is_string(x) || djs_id_parse(json_string_value(x), json_string_length(x), &wid) != 0) {
        djs__wrong_type(req, "workerId", "the worker's id");
        goto fail;
    }
    if (!djs__worker_self(s, req, who, &wid) || read_report(req, j, "", &r) != 0)
        goto fail;
    uint64_t seq;
    int rc = apply_report(s, &wid, &r, &seq);
    if (rc != 0)
        djs__engine_problem(req, s->engine, rc);
    else
        djs__reply_when_durable(s, req, seq, 200,
                                json_pack("{s:o, s:s, s:I}", "id", djs_json_id(job), "reported", what, "seq", (json_int_t)seq));
fail:
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
    if (djs__only_fields(req, j, only_reports) != 0)
        return -1;
    if (!json_is_array(list) || json_array_size(list) < min || json_array_size(list) > MAX_REPORTS)
        return djs__wrong_type(req, "reports",
                               min ? "an array of 1 to 1000 report objects" : "an array of at most 1000 report objects"),
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
            return snprintf(f, sizeof(f), "reports[%zu]", i), djs__wrong_type(req, f, "a report object"), -1;
        if (djs__only_fields_at(req, one, item_fields, at) != 0)
            return -1;
        x = json_object_get(one, "jobId");
        if (!json_is_string(x) || djs_id_parse(json_string_value(x), json_string_length(x), &r[i].job) != 0)
            return snprintf(f, sizeof(f), "%sjobId", at), djs__wrong_type(req, f, "a job id"), -1;
        x = json_object_get(one, "action");
        if (!json_is_string(x) || (r[i].action = report_action(json_string_value(x), json_string_length(x))) < 0)
            return snprintf(f, sizeof(f), "%saction", at), djs__wrong_type(req, f, "one of start, progress, complete, fail"), -1;
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
            int st = djs__engine_status(e, &type, &title);
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
int djs__workers_reports(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    const djs_id_t *wid = id;
    if (!djs__worker_self(s, req, who, wid))
        return 0;
    json_t *j = djs__read_json_body(req);
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
            djs__engine_problem(req, s->engine, rc);
        } else {
            djs_jt_lit(t, ",\"seq\":");
            djs_jt_int(t, (int64_t)seq);
            djs_jt_lit(t, "}");
            check_text(t);
            if (seq != 0)
                djs__reply_when_durable_text(s, req, seq, 200, (const char *)t->base, t->len);
            else
                djs__send_text(req, 200, (const char *)t->base, t->len, 0);
        }
    }
    reports_free(r, n);
    json_decref(j);
    return 0;
}

/* ---- the long poll ----------------------------------------------------------------- */

/* A parked POST /workers/{id}/poll: answered at the first assignment for
 * its worker or when its wait ends (an empty list). */
typedef struct poller {
    struct poller *prev, *next;
    djs_server_t *server;
    h2o_req_t *req; /* NULL once answered or gone */
    djs_id_t worker;
    uint32_t max;
    uv_timer_t timer;
    djs__req_link_t *link;
    struct wake *wake;   /* pending "answer once durable", or NULL */
    djs_buf_t results;   /* the results (a JSON array) of the reports the poll carried */
    int has_results;     /* it carried some (possibly an empty list) */
    uint64_t report_seq; /* the last event those reports wrote: answer once durable */
    int failed;          /* the log failed before report_seq was durable */
    int claim;           /* ?claim=true: what it delivers is started (claimed[]) */
    uint32_t nclaimed;
    uint64_t claim_seq;           /* the last job.started of claimed[]: answer once durable */
    djs_assignment_t claimed[64]; /* claimed for it: job.started appended, delivered once durable */
} poller_t;

/* Assignments are handed out only once durable (a worker must never run a
 * placement that a crash could erase); this token waits for that. */
typedef struct wake {
    poller_t *p; /* NULL if the poller finished meanwhile */
} wake_t;

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

/* What the poll delivers, the durable part of it: the worker's pending
 * assignments or, for a claim poll, the jobs claimed for it. */
static int poller_list(poller_t *p, djs_assignment_t *as, uint32_t *n)
{
    djs_server_t *s = p->server;
    int rc = 0;
    if (p->claim) {
        memcpy(as, p->claimed, p->nclaimed * sizeof(*as));
        *n = p->nclaimed;
    } else if ((rc = djs_engine_poll(s->engine, &p->worker, as, p->max < 64 ? p->max : 64, n)) != 0) {
        return rc;
    }
    *n = durable_only(s, as, *n);
    return 0;
}

/* The assignments p delivers as JSON, with each job's name and payload. */
static json_t *assignments_json(poller_t *p, int *rc)
{
    djs_server_t *s = p->server;
    djs_assignment_t as[64];
    uint32_t n;
    if ((*rc = poller_list(p, as, &n)) != 0)
        return NULL;
    json_t *list = json_array();
    djs_buf_t rec;
    djs_buf_init(&rec);
    for (uint32_t i = 0; i < n; i++) {
        json_t *a = json_object();
        json_object_set_new(a, "jobId", djs_json_id(&as[i].job));
        json_object_set_new(a, "attempt", json_integer(as[i].attempt));
        json_object_set_new(a, "leaseDeadline", djs_json_time(as[i].lease_ns));
        if (p->claim)
            json_object_set_new(a, "claimed", json_true());
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
static int assignments_text(poller_t *p, djs_buf_t *b)
{
    djs_server_t *s = p->server;
    djs_assignment_t as[64];
    uint32_t n;
    int rc = poller_list(p, as, &n);
    if (rc != 0)
        return rc;
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
        if (p->claim)
            djs_jt_lit(b, ",\"claimed\":true");
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
        djs__problem(p->req, 503, "log-unavailable", "Event log not writable", "the reports could not be made durable");
        return;
    }
    djs_buf_reset(b);
    int rc = assignments_text(p, b);
    if (rc < 0) {
        djs__engine_problem(p->req, s->engine, rc);
    } else if (rc == 0) {
        if (p->has_results) {
            djs_jt_lit(b, ",\"results\":");
            djs_buf_append(b, p->results.base, p->results.len);
            djs_jt_lit(b, ",\"seq\":");
            djs_jt_int(b, (int64_t)p->report_seq);
        }
        djs_jt_lit(b, "}");
        check_text(b);
        djs__send_text(p->req, 200, (const char *)b->base, b->len, 0);
    } else { /* a name or payload only jansson renders */
        json_t *list = assignments_json(p, &rc);
        if (list == NULL) {
            djs__engine_problem(p->req, s->engine, rc);
            return;
        }
        json_t *body = json_pack("{s:o}", "assignments", list);
        if (p->has_results) {
            json_object_set_new(body, "results", json_loadb((const char *)p->results.base, p->results.len, 0, NULL));
            json_object_set_new(body, "seq", json_integer((json_int_t)p->report_seq));
        }
        djs__send_json_new(p->req, 200, body, 0);
    }
}

/* Answer (if the client is still there) and retire the poller. A poller
 * whose reports or claims are not durable yet leaves the list of pollers
 * and is answered once they are. */
static void poller_finish(poller_t *p)
{
    uint64_t need = p->report_seq > p->claim_seq ? p->report_seq : p->claim_seq;
    if (p->req != NULL && !p->failed && need > djs_log_durable_seq(djs_engine_log(p->server->engine))) {
        poller_unlink(p);
        uv_timer_stop(&p->timer);
        poller_wake(p);
        return;
    }
    if (p->req != NULL)
        poller_answer(p);
    djs_buf_dispose(&p->results);
    p->has_results = 0;
    djs__req_unwatch(&p->link);
    if (p->wake != NULL)
        p->wake->p = NULL;
    p->wake = NULL;
    p->req = NULL;
    poller_unlink(p);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_poller_closed);
}

static void on_poller_gone(void *arg)
{
    poller_finish(arg); /* the client left */
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

/* Answer once what p delivers is durable: for a claim poll its claims and
 * reports (what was claimed at placement rode on an earlier commit), else
 * everything appended so far (the placements that woke it). */
static void poller_wake(poller_t *p)
{
    if (p->wake != NULL)
        return;
    p->wake = djs_calloc(1, sizeof(wake_t));
    p->wake->p = p;
    djs_log_t *log = djs_engine_log(p->server->engine);
    uint64_t need = p->report_seq > p->claim_seq ? p->report_seq : p->claim_seq;
    djs_log_when_durable(log, p->claim ? need : djs_log_last_seq(log), on_wake_durable, p->wake);
}

/* A placement for a parked poll's worker. A claim poll not yet waking
 * takes what the engine claimed for the worker (the job was started right
 * after its job.scheduled, in the same loop turn: one commit) and wakes;
 * one already waking leaves it to the next poll (what it delivers must be
 * durable when it answers); a claim poll that got nothing (another took
 * it) stays parked. Other polls wake. */
void djs__polls_on_assign(void *arg, const djs_id_t *worker, const djs_id_t *job)
{
    djs_server_t *s = arg;
    (void)job;
    for (poller_t *p = s->pollers, *next; p != NULL; p = next) {
        next = p->next;
        if (djs_id_cmp(&p->worker, worker) != 0)
            continue;
        if (p->claim) {
            uint32_t k = 0;
            if (p->wake != NULL || p->req == NULL || p->nclaimed >= p->max ||
                djs_engine_claim(s->engine, worker, &p->claimed[p->nclaimed], p->max - p->nclaimed, &k) != 0 || k == 0)
                continue;
            p->nclaimed += k;
            for (uint32_t i = 0; i < p->nclaimed; i++)
                p->claim_seq = p->claimed[i].seq > p->claim_seq ? p->claimed[i].seq : p->claim_seq;
        }
        poller_wake(p);
    }
}

/* ?claim=true|false (default false): 0, or -1 after answering 400. */
static int query_claim(h2o_req_t *req, int *claim)
{
    const char *v;
    size_t len;
    *claim = 0;
    if (!djs_query_str(req, "claim", &v, &len))
        return 0;
    if ((len == 4 && memcmp(v, "true", 4) == 0) || (len == 5 && memcmp(v, "false", 5) == 0)) {
        *claim = len == 4;
        return 0;
    }
    return djs__problem(req, 400, "invalid-query", "Invalid query", "claim must be true or false"), -1;
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
    json_t *j = djs__read_json_body(req);
    if (j == NULL)
        return -1;
    report_t *r;
    size_t n;
    int rc = -1;
    if (read_reports(req, j, 0, &r, &n) == 0 && (rc = apply_reports(s, wid, r, n, results, seq)) != 0)
        djs__engine_problem(req, s->engine, rc);
    reports_free(r, n);
    json_decref(j);
    *has = rc == 0;
    return rc == 0 ? 0 : -1;
}

/* POST /workers/{id}/poll?wait=&max=&claim=: the reports it carries
 * applied, then parked until an assignment for the worker is durable or the
 * wait ends. With claim=true the assignments it delivers are started first
 * (those placed before it, and the first placements while it is parked):
 * answered once their job.started is durable, the jobs RUNNING. */
int djs__workers_poll(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)arg;
    const djs_id_t *wid = id;
    if (!djs__worker_self(s, req, who, wid))
        return 0;
    uint64_t wait_s, max, seq;
    djs_buf_t results;
    int has, claim;
    if (djs__query_number(req, "wait", 30, &wait_s) != 0 || djs__query_number(req, "max", 16, &max) != 0 ||
        query_claim(req, &claim) != 0)
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
    poller_t *p = djs_calloc(1, sizeof(*p));
    djs_assignment_t probe[1];
    uint32_t pending;
    int rc = claim ? djs_engine_claim(s->engine, wid, p->claimed, (uint32_t)max, &p->nclaimed)
                   : djs_engine_poll(s->engine, wid, probe, 1, &pending);
    if (rc != 0) {
        djs_free(p);
        djs_buf_dispose(&results);
        return djs__engine_problem(req, s->engine, rc);
    }
    pending = claim ? p->nclaimed : pending;
    for (uint32_t i = 0; claim && i < pending; i++)
        p->claim_seq = p->claimed[i].seq > p->claim_seq ? p->claimed[i].seq : p->claim_seq;
    p->claim = claim;
    p->server = s;
    p->worker = *wid;
    p->max = (uint32_t)max;
    p->results = results;
    p->has_results = has;
    p->report_seq = seq;
    djs__req_watch(req, &p->req, &p->link, on_poller_gone, p);
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

void djs__polls_finish_all(djs_server_t *s)
{
    while (s->pollers != NULL)
        poller_finish(s->pollers);
}
