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

/* One event being folded. */
typedef struct view_ev {
    const djs_event_t *ev;
    djs_job_change_t c;
    int next; /* the position core/job.h's table leads to */
    const uint8_t *rec;
    size_t len;
} view_ev_t;

static uint16_t clamp16(uint32_t n)
{
    return (uint16_t)(n > 0xffff ? 0xffff : n); /* the projection keeps 16 bits */
}

/* Where the view is in the state machine. */
static int view_pos(const djs_job_view_t *v)
{
    return v->live ? djs_job_sm_pos(v->state, v->retry_at_ns != 0) : DJS_JOB_SM_NONE;
}

static int apply_submitted(djs_job_view_t *v, const djs_event_t *ev, const uint8_t *rec, size_t len)
{
    djs_job_spec_t sp;
    int rc = djs_body_read_job_spec(ev->body, ev->body_len, &sp);
    if (rc != 0 || (rc = djs_job_event_check(ev->type, view_pos(v))) != 0)
        return rc;
    /* a job id deleted and submitted again starts afresh, as in the projection */
    djs_buf_t submit = v->submit, progress = v->last_progress, result = v->last_result;
    memset(v, 0, sizeof(*v));
    v->submit = submit;
    v->last_progress = progress;
    v->last_result = result;
    djs_buf_reset(&v->last_progress);
    djs_buf_reset(&v->last_result);
    v->found = v->live = 1;
    v->id = ev->entity;
    v->submit_seq = v->last_seq = ev->seq;
    v->events = 1;
    v->created_ns = ev->ts_ns;
    v->prio = sp.priority;
    v->max_retries = clamp16(sp.max_retries);
    v->timeout_s = sp.timeout_s;
    v->state = (uint8_t)djs_job_event_next(ev->type, DJS_JOB_SM_NONE, djs_job_spec_alt(&sp, ev->ts_ns));
    if (v->state == DJS_JOB_QUEUED)
        v->queued_ns = ev->ts_ns;
    keep(&v->submit, rec, len);
    return 0;
}

/* job.queued, job.lease_expired, job.retried: ready now */
static void on_ready(djs_job_view_t *v, view_ev_t *x)
{
    v->queued_ns = x->ev->ts_ns;
    if (x->ev->type == DJS_EV_JOB_RETRIED) {
        v->failures = 0;
        v->finished_ns = 0;
    }
}

static void on_scheduled(djs_job_view_t *v, view_ev_t *x)
{
    v->attempt = x->c.attempt;
    v->worker = x->c.worker;
    v->out_recv = 0;
}

static void on_started(djs_job_view_t *v, view_ev_t *x)
{
    v->started_ns = x->ev->ts_ns;
    v->percent = 0;
}

static void on_output(djs_job_view_t *v, view_ev_t *x)
{
    v->out_len += x->c.out_len;
    v->out_recv = x->c.out_recv;
}

static void on_progress(djs_job_view_t *v, view_ev_t *x)
{
    v->percent = (uint8_t)x->c.percent;
    v->eta_ns = x->c.eta;
    keep(&v->last_progress, x->rec, x->len);
}

static void on_succeeded(djs_job_view_t *v, view_ev_t *x)
{
    v->percent = 100;
    keep(&v->last_result, x->rec, x->len);
    v->finished_ns = x->ev->ts_ns;
}

/* job.failed, job.timed_out */
static void on_failed(djs_job_view_t *v, view_ev_t *x)
{
    int type = x->ev->type;
    int reason = type == DJS_EV_JOB_TIMED_OUT ? DJS_FAIL_TIMEOUT : djs_fail_reason_parse(x->c.reason.p, x->c.reason.len);
    if (reason < 0)
        reason = DJS_FAIL_ERROR;
    keep(&v->last_result, x->rec, x->len);
    if (reason != DJS_FAIL_WORKER_LOST && reason != DJS_FAIL_LEASE_EXPIRED)
        v->failures++;
    if (x->next != DJS_JOB_SM_RETRY_WAIT) {
        v->fail_reason = (uint8_t)reason;
        v->finished_ns = x->ev->ts_ns;
    }
}

static void on_upstream_failed(djs_job_view_t *v, view_ev_t *x)
{
    v->fail_reason = DJS_FAIL_UPSTREAM;
    v->finished_ns = x->ev->ts_ns;
}

static void on_cancelled(djs_job_view_t *v, view_ev_t *x)
{
    v->finished_ns = x->ev->ts_ns;
}

static void on_updated(djs_job_view_t *v, view_ev_t *x)
{
    if (x->c.has_priority)
        v->prio = x->c.priority;
    if (x->c.has_max_retries)
        v->max_retries = clamp16(x->c.max_retries);
    if (x->c.has_timeout)
        v->timeout_s = x->c.timeout_s;
}

static void on_deleted(djs_job_view_t *v, view_ev_t *x)
{
    (void)x;
    v->found = v->live = 0; /* gone from the API's point of view; history remains */
}

/* Per job event type but job.submitted: what it changes beyond the position. */
static void (*const view_ops[DJS_EV_JOB_OUTPUT + 1])(djs_job_view_t *v, view_ev_t *x) = {
    [DJS_EV_JOB_QUEUED] = on_ready,        [DJS_EV_JOB_SCHEDULED] = on_scheduled, [DJS_EV_JOB_STARTED] = on_started,
    [DJS_EV_JOB_PROGRESS] = on_progress,   [DJS_EV_JOB_SUCCEEDED] = on_succeeded, [DJS_EV_JOB_FAILED] = on_failed,
    [DJS_EV_JOB_TIMED_OUT] = on_failed,    [DJS_EV_JOB_CANCELLED] = on_cancelled, [DJS_EV_JOB_UPDATED] = on_updated,
    [DJS_EV_JOB_DELETED] = on_deleted,     [DJS_EV_JOB_RETRIED] = on_ready,       [DJS_EV_JOB_UPSTREAM_FAILED] = on_upstream_failed,
    [DJS_EV_JOB_LEASE_EXPIRED] = on_ready, [DJS_EV_JOB_OUTPUT] = on_output,
};

/* The projection's check of a job.output: chunks follow each other. */
static int output_follows(const djs_job_view_t *v, const djs_job_change_t *c)
{
    return c->out_offset == v->out_len && c->out_len <= UINT32_MAX - v->out_len && c->out_recv >= v->out_recv;
}

/* The position the event leads to, as the fields say it: the state, the
 * worker (only while SCHEDULED or RUNNING) and the retry time (only while
 * waiting for it). */
static void enter(djs_job_view_t *v, const view_ev_t *x, int pos)
{
    if (x->next == DJS_JOB_SM_NONE)
        return;
    if (x->next == DJS_JOB_SM_RETRY_WAIT && pos != DJS_JOB_SM_RETRY_WAIT)
        v->retry_at_ns = x->c.retry_at;
    else if (x->next != DJS_JOB_SM_RETRY_WAIT)
        v->retry_at_ns = 0;
    v->state = (uint8_t)djs_job_sm_state(x->next);
    if (v->state != DJS_JOB_SCHEDULED && v->state != DJS_JOB_RUNNING)
        v->worker = (djs_id_t){{0}};
}

int djs_job_view_apply(djs_job_view_t *v, const djs_event_t *ev, const uint8_t *rec, size_t len)
{
    if (ev->type == DJS_EV_JOB_SUBMITTED)
        return apply_submitted(v, ev, rec, len);
    int pos = view_pos(v);
    if (pos == DJS_JOB_SM_NONE)
        return DJS_ENOTFOUND;
    view_ev_t x = {.ev = ev, .rec = rec, .len = len};
    int rc = djs_body_read_job_change(ev->body, ev->body_len, &x.c);
    if (rc != 0 || (rc = djs_job_event_check(ev->type, pos)) != 0)
        return rc;
    if (ev->type == DJS_EV_JOB_OUTPUT && !output_follows(v, &x.c))
        return DJS_ECONFLICT;
    x.next = djs_job_event_next(ev->type, pos, djs_job_change_alt(ev->type, &x.c));
    v->last_seq = ev->seq;
    v->events++;
    view_ops[ev->type](v, &x);
    enter(v, &x, pos);
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
