#include "projections/jobview.h"

#include <string.h>

#include "core/error.h"
#include "core/event.h"
#include "core/job.h"

void djs_job_view_init(djs_job_view_t *v)
{
    memset(v, 0, sizeof(*v));
    djs_buf_init(&v->submit);
    djs_buf_init(&v->last_progress);
    djs_buf_init(&v->last_result);
}

void djs_job_view_dispose(djs_job_view_t *v)
{
    djs_buf_dispose(&v->submit);
    djs_buf_dispose(&v->last_progress);
    djs_buf_dispose(&v->last_result);
}

static void keep(djs_buf_t *b, const uint8_t *rec, size_t len)
{
    djs_buf_reset(b);
    djs_buf_append(b, rec, len);
}

static void finished(djs_job_view_t *v, int state, uint64_t ts)
{
    v->state = (uint8_t)state;
    v->finished_ns = ts;
    v->worker = (djs_id_t){{0}};
}

int djs_job_view_apply(djs_job_view_t *v, const djs_event_t *ev, const uint8_t *rec, size_t len)
{
    int rc;
    v->last_seq = ev->seq;
    v->events++;
    if (ev->type == DJS_EV_JOB_SUBMITTED) {
        djs_job_spec_t sp;
        if ((rc = djs_body_read_job_spec(ev->body, ev->body_len, &sp)) != 0)
            return rc;
        v->found = 1;
        v->id = ev->entity;
        v->submit_seq = ev->seq;
        v->created_ns = ev->ts_ns;
        v->prio = sp.priority;
        v->max_retries = sp.max_retries;
        v->timeout_s = sp.timeout_s;
        /* without dependencies or a start time, a submission is a queueing */
        v->state = sp.ndeps == 0 && sp.scheduled_at <= ev->ts_ns ? DJS_JOB_QUEUED : DJS_JOB_CREATED;
        if (v->state == DJS_JOB_QUEUED)
            v->queued_ns = ev->ts_ns;
        keep(&v->submit, rec, len);
        return 0;
    }
    djs_job_change_t c;
    if ((rc = djs_body_read_job_change(ev->body, ev->body_len, &c)) != 0)
        return rc;
    switch (ev->type) {
    case DJS_EV_JOB_QUEUED:
    case DJS_EV_JOB_RETRIED:
    case DJS_EV_JOB_LEASE_EXPIRED:
        v->state = DJS_JOB_QUEUED;
        v->queued_ns = ev->ts_ns;
        v->worker = (djs_id_t){{0}};
        v->retry_at_ns = 0;
        if (ev->type == DJS_EV_JOB_RETRIED)
            v->failures = 0, v->finished_ns = 0;
        break;
    case DJS_EV_JOB_SCHEDULED:
        v->state = DJS_JOB_SCHEDULED;
        v->attempt = c.attempt;
        v->worker = c.worker;
        break;
    case DJS_EV_JOB_STARTED:
        v->state = DJS_JOB_RUNNING;
        v->started_ns = ev->ts_ns;
        v->percent = 0;
        break;
    case DJS_EV_JOB_OUTPUT:
        v->out_len = c.out_offset + c.out_len;
        break;
    case DJS_EV_JOB_PROGRESS:
        v->percent = (uint8_t)c.percent;
        v->eta_ns = c.eta;
        keep(&v->last_progress, rec, len);
        break;
    case DJS_EV_JOB_SUCCEEDED:
        v->percent = 100;
        keep(&v->last_result, rec, len);
        finished(v, DJS_JOB_COMPLETED, ev->ts_ns);
        break;
    case DJS_EV_JOB_FAILED:
    case DJS_EV_JOB_TIMED_OUT: {
        int reason = ev->type == DJS_EV_JOB_TIMED_OUT ? DJS_FAIL_TIMEOUT : djs_fail_reason_parse(c.reason.p, c.reason.len);
        keep(&v->last_result, rec, len);
        if (reason != DJS_FAIL_WORKER_LOST && reason != DJS_FAIL_LEASE_EXPIRED)
            v->failures++;
        v->worker = (djs_id_t){{0}};
        if (c.retry_at > 0) {
            v->state = DJS_JOB_QUEUED;
            v->retry_at_ns = c.retry_at;
        } else {
            v->fail_reason = (uint8_t)(reason < 0 ? DJS_FAIL_ERROR : reason);
            finished(v, DJS_JOB_FAILED, ev->ts_ns);
        }
        break;
    }
    case DJS_EV_JOB_UPSTREAM_FAILED:
        v->fail_reason = DJS_FAIL_UPSTREAM;
        finished(v, DJS_JOB_FAILED, ev->ts_ns);
        break;
    case DJS_EV_JOB_CANCELLED:
        finished(v, DJS_JOB_CANCELLED, ev->ts_ns);
        break;
    case DJS_EV_JOB_UPDATED:
        if (c.has_priority)
            v->prio = c.priority;
        if (c.has_max_retries)
            v->max_retries = c.max_retries;
        if (c.has_timeout)
            v->timeout_s = c.timeout_s;
        break;
    case DJS_EV_JOB_DELETED:
        v->found = 0; /* gone from the API's point of view; history remains */
        break;
    }
    return 0;
}

typedef struct fold {
    djs_job_view_t *v;
    int rc;
} fold_t;

static int fold_cb(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    fold_t *f = arg;
    djs_event_t ev;
    (void)seq;
    if ((f->rc = djs_event_decode(rec, len, &ev)) != 0 || (f->rc = djs_job_view_apply(f->v, &ev, rec, len)) != 0)
        return 1;
    return 0;
}

int djs_job_view_at(djs_log_t *log, const djs_id_t *id, uint64_t at_seq, djs_job_view_t *v)
{
    fold_t f = {v, 0};
    int rc = djs_log_scan_entity(log, id, 0, at_seq, fold_cb, &f);
    if (rc == 1)
        return f.rc;
    if (rc != 0)
        return rc;
    return v->found ? 0 : DJS_ENOTFOUND;
}

typedef struct final_scan {
    int found, first, last, state;
} final_scan_t;

static int final_cb(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    final_scan_t *f = arg;
    djs_event_t ev;
    (void)seq;
    if (djs_event_decode(rec, len, &ev) != 0)
        return 0;
    if (!f->found)
        f->first = ev.type;
    f->found = 1;
    f->last = ev.type;
    return 0;
}

int djs_job_view_final(djs_log_t *log, const djs_id_t *id, int *final)
{
    final_scan_t f = {0, 0, 0, 0};
    int rc = djs_log_scan_entity(log, id, 0, djs_log_durable_seq(log), final_cb, &f);
    if (rc != 0)
        return rc;
    if (!f.found || f.first != DJS_EV_JOB_SUBMITTED)
        *final = DJS_JOB_FINAL_UNKNOWN;
    else if (f.last == DJS_EV_JOB_DELETED)
        *final = DJS_JOB_FINAL_DELETED;
    else if (f.last == DJS_EV_JOB_SUCCEEDED)
        *final = DJS_JOB_COMPLETED;
    else if (f.last == DJS_EV_JOB_CANCELLED)
        *final = DJS_JOB_CANCELLED;
    else
        *final = DJS_JOB_FAILED; /* only terminal jobs are evicted: anything else is not a met dependency */
    return 0;
}
