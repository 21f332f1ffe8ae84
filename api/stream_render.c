/* The shared renderings (see stream_internal.h): an event turned into the
 * JSON of a stream kind once, whatever the number of subscribers, kept in a
 * ring of RING per kind. Job updates fold the job's own events up to the
 * event's seq, so their previous status is exact at any point of the log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jtext.h"
#include "api/render.h"
#include "api/stream_internal.h"
#include "core/alloc.h"
#include "core/bodies.h"
#include "core/error.h"
#include "core/job.h"
#include "projections/jobview.h"

#define RING 4096 /* shared renderings kept, per stream kind */

char *djs__stream_dump(json_t *j, size_t *len)
{
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (t == NULL)
        t = strdup("{}");
    *len = strlen(t);
    return t;
}

static void put_json(djs_buf_t *b, json_t *j)
{
    size_t len;
    char *t = djs__stream_dump(j, &len);
    djs_buf_append(b, t, len);
    free(t);
}

/* An event as /ws/events shows it: written by core/jtext (jansson only if
 * it failed, which it no longer does); sanitizer builds (the tests) check
 * that both agree. */
static void render_event(const djs_event_t *ev, djs_buf_t *b)
{
    size_t mark = b->len;
    if (djs_jt_event(b, ev) != 0) {
        put_json(b, djs_event_json(ev));
        return;
    }
#ifdef DJS_CHECK_RENDER
    size_t len;
    char *t = djs__stream_dump(djs_event_json(ev), &len);
    if (len != b->len - mark || memcmp(t, b->base + mark, len) != 0) {
        fprintf(stderr, "jtext differs from jansson:\n%.*s\n%s\n", (int)(b->len - mark), (const char *)b->base + mark, t);
        abort();
    }
    free(t);
#else
    (void)mark;
#endif
}

/* The status a job event leads to, its previous status, owner and name,
 * folded from the job's own events up to seq (exact at any point of the
 * log, not only at its head). */
typedef struct fold {
    uint64_t seq;
    int prev;
    djs_job_view_t v;
} fold_t;

static int fold_cb(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    fold_t *f = arg;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0)
        return DJS_ECORRUPT;
    if (seq == f->seq)
        f->prev = f->v.found ? f->v.state : -1;
    f->v.found = 1;
    return djs_job_view_apply(&f->v, &ev, rec, len);
}

static const char *status_name(int st, uint16_t type)
{
    if (type == DJS_EV_JOB_DELETED)
        return "DELETED";
    return st < 0 ? NULL : djs_job_state_name(st);
}

static void render_job_update(djs_streams_t *ss, const djs_event_t *ev, djs__stream_frame_t *f)
{
    if (ev->type >= DJS_EV_JOB_OUTPUT) { /* output is not a status change; workers are not jobs */
        f->skip = 1;
        return;
    }
    fold_t fo;
    memset(&fo, 0, sizeof(fo));
    fo.seq = ev->seq;
    fo.prev = -1;
    djs_job_view_init(&fo.v);
    fo.v.id = ev->entity;
    if (djs_log_scan_entity(ss->log, &ev->entity, 0, ev->seq, fold_cb, &fo) < 0) {
        djs_job_view_dispose(&fo.v);
        f->skip = 1;
        return;
    }
    djs_event_t sub;
    djs_job_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    if (fo.v.submit.len > 0 && djs_event_decode(fo.v.submit.base, fo.v.submit.len, &sub) == 0)
        djs_body_read_job_spec(sub.body, sub.body_len, &sp);
    djs_job_change_t c;
    if (ev->type == DJS_EV_JOB_SUBMITTED || djs_body_read_job_change(ev->body, ev->body_len, &c) != 0)
        memset(&c, 0, sizeof(c));
    json_t *m = json_object();
    json_object_set_new(m, "seq", json_integer((json_int_t)ev->seq));
    json_object_set_new(m, "type", json_string("job.update"));
    json_object_set_new(m, "event", json_string(djs_event_type_name(ev->type)));
    json_object_set_new(m, "at", djs_json_time(ev->ts_ns));
    json_object_set_new(m, "jobId", djs_json_id(&ev->entity));
    json_object_set_new(m, "name", djs_json_str_lossy(sp.name.p ? sp.name.p : "", sp.name.len));
    json_object_set_new(m, "owner", djs_json_str_lossy(sp.owner.p ? sp.owner.p : "", sp.owner.len));
    const char *now = status_name(fo.v.state, ev->type), *before = status_name(fo.prev, 0);
    json_object_set_new(m, "status", now ? json_string(now) : json_null());
    json_object_set_new(m, "previousStatus", before ? json_string(before) : json_null());
    json_object_set_new(m, "worker", djs_id_is_nil(&fo.v.worker) ? json_null() : djs_json_id(&fo.v.worker));
    json_object_set_new(m, "attempt", json_integer(fo.v.attempt));
    json_object_set_new(m, "progress", json_integer(fo.v.percent));
    if (c.step.len > 0)
        json_object_set_new(m, "currentStep", djs_json_str_lossy(c.step.p, c.step.len));
    if (c.error.len > 0)
        json_object_set_new(m, "error", djs_json_str_lossy(c.error.p, c.error.len));
    json_object_set_new(m, "actor", djs_json_str_lossy(ev->actor, ev->actor_len));
    f->status = (int8_t)(ev->type == DJS_EV_JOB_DELETED ? -1 : fo.v.state);
    f->owner = djs_malloc(sp.owner.len + 1);
    if (sp.owner.len > 0)
        memcpy(f->owner, sp.owner.p, sp.owner.len);
    f->owner[sp.owner.len] = '\0';
    put_json(&f->text, m);
    djs_job_view_dispose(&fo.v);
}

static const char *worker_status_of(uint16_t type)
{
    switch (type) {
    case DJS_EV_WORKER_DRAINING:
        return "DRAINING";
    case DJS_EV_WORKER_LOST:
        return "LOST";
    case DJS_EV_WORKER_DEREGISTERED:
        return "GONE";
    }
    return "ACTIVE";
}

static void render_worker(djs_streams_t *ss, const djs_event_t *ev, djs__stream_frame_t *f)
{
    djs_worker_info_t w;
    if (ev->type < DJS_EV_WORKER_REGISTERED || ev->type > DJS_EV_WORKER_DEREGISTERED ||
        djs_body_read_worker(ev->body, ev->body_len, &w) != 0) {
        f->skip = 1;
        return;
    }
    json_t *m = json_object();
    json_object_set_new(m, "seq", json_integer((json_int_t)ev->seq));
    json_object_set_new(m, "type", json_string("worker.update"));
    json_object_set_new(m, "event", json_string(djs_event_type_name(ev->type)));
    json_object_set_new(m, "at", djs_json_time(ev->ts_ns));
    json_object_set_new(m, "workerId", djs_json_id(&ev->entity));
    const djs_worker_t *cur = djs_state_worker(djs_engine_state(ss->engine), &ev->entity);
    if (w.name.len > 0)
        json_object_set_new(m, "name", djs_json_str_lossy(w.name.p, w.name.len));
    else if (cur != NULL)
        json_object_set_new(m, "name", json_string(cur->name));
    json_object_set_new(m, "status", json_string(worker_status_of(ev->type)));
    if (w.has_slots)
        json_object_set_new(m, "slots", json_integer(w.slots));
    if (w.has_load) {
        json_object_set_new(m, "cpu", json_real(w.cpu_pm / 1000.0));
        json_object_set_new(m, "memory", json_real(w.mem_pm / 1000.0));
        json_object_set_new(m, "responseMs", json_integer(w.resp_ms));
        json_object_set_new(m, "running", json_integer(w.running));
    }
    json_object_set_new(m, "actor", djs_json_str_lossy(ev->actor, ev->actor_len));
    put_json(&f->text, m);
}

/* The rendering of one event for a stream kind, made once and shared. */
const djs__stream_frame_t *djs__stream_frame_of(djs_streams_t *ss, int kind, const djs_event_t *ev)
{
    if (ss->rings[kind] == NULL)
        ss->rings[kind] = djs_calloc(RING, sizeof(djs__stream_frame_t));
    djs__stream_frame_t *f = &ss->rings[kind][ev->seq % RING];
    if (f->seq == ev->seq && f->seq != 0)
        return f;
    djs_buf_t text = f->text; /* its memory is reused */
    djs_buf_reset(&text);
    djs_free(f->owner);
    memset(f, 0, sizeof(*f));
    f->text = text;
    f->seq = ev->seq;
    f->type = ev->type;
    f->entity = ev->entity;
    f->status = -1;
    if (kind == DJS_STREAM_EVENTS)
        render_event(ev, &f->text);
    else if (kind == DJS_STREAM_JOB_UPDATES)
        render_job_update(ss, ev, f);
    else
        render_worker(ss, ev, f);
    return f;
}

void djs__stream_rings_dispose(djs_streams_t *ss)
{
    for (int k = 0; k <= DJS_STREAM_SYSTEM_METRICS; k++) {
        if (ss->rings[k] == NULL)
            continue;
        for (int i = 0; i < RING; i++) {
            djs_buf_dispose(&ss->rings[k][i].text);
            djs_free(ss->rings[k][i].owner);
        }
        djs_free(ss->rings[k]);
        ss->rings[k] = NULL;
    }
}
