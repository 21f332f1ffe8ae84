/* djs_diff_run: the state at `from`, then each event up to `to` applied
 * with the projection's apply and classified; names and statuses read from
 * the state that results (the state at `to`). */
#include "replay/diff.h"

#include <string.h>

#include "core/alloc.h"
#include "core/bodies.h"
#include "core/error.h"
#include "core/event.h"
#include "core/job.h"
#include "projections/rebuild.h"
#include "projections/schedules.h"
#include "projections/state.h"

const char *djs_diff_kind_name(int kind)
{
    static const char *const names[] = {
#define DJS__DIFF_NAME(name, key) key,
        DJS_DIFF_KIND_MAP(DJS__DIFF_NAME)
#undef DJS__DIFF_NAME
    };
    return kind >= 0 && kind < DJS_DIFF_NKINDS ? names[kind] : NULL;
}

/* ---- the listing: items by (kind, id), an open-addressing index --------------------- */

typedef struct diff_run {
    djs_diff_report_t *rep;
    djs_state_t *st;
    uint32_t max_items, cap_items;
    uint32_t *index; /* item number + 1, 0 = free */
    uint32_t index_cap;
} diff_run_t;

static uint32_t hash(int kind, const djs_id_t *id)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
    for (int i = 0; i < 16; i++)
        h = (h ^ id->b[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t *slot_of(diff_run_t *r, int kind, const djs_id_t *id)
{
    uint32_t mask = r->index_cap - 1, i = hash(kind, id) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t k = r->index[i];
        if (k == 0)
            return &r->index[i];
        const djs_diff_item_t *it = &r->rep->items[k - 1];
        if (it->kind == kind && memcmp(it->id.b, id->b, 16) == 0)
            return &r->index[i];
    }
}

static void grow_index(diff_run_t *r)
{
    uint32_t ncap = r->index_cap ? r->index_cap * 2 : 1024;
    djs_free(r->index);
    r->index = djs_calloc(ncap, sizeof(uint32_t));
    r->index_cap = ncap;
    for (uint32_t k = 0; k < r->rep->nitems; k++)
        *slot_of(r, r->rep->items[k].kind, &r->rep->items[k].id) = k + 1;
}

static void note(diff_run_t *r, int kind, const djs_id_t *id, uint64_t seq)
{
    djs_diff_report_t *rep = r->rep;
    rep->counts[kind]++;
    if (r->max_items == 0)
        return;
    if ((rep->nitems + 1) * 2 > r->index_cap)
        grow_index(r);
    uint32_t *slot = slot_of(r, kind, id);
    if (*slot != 0) {
        rep->items[*slot - 1].count++;
        return;
    }
    if (rep->nitems >= r->max_items) {
        rep->truncated = 1;
        return;
    }
    if (rep->nitems == r->cap_items) {
        r->cap_items = r->cap_items ? r->cap_items * 2 : 64;
        rep->items = djs_realloc(rep->items, r->cap_items * sizeof(*rep->items));
    }
    djs_diff_item_t *it = &rep->items[rep->nitems];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->id = *id;
    it->count = 1;
    it->seq = seq;
    *slot = ++rep->nitems;
}

/* ---- classifying one event (after it applied) ------------------------------------- */

static int failure_kind(const djs_event_t *ev)
{
    djs_job_change_t c;
    if (djs_body_read_job_change(ev->body, ev->body_len, &c) != 0)
        return -1;
    return c.retry_at != 0 ? DJS_DIFF_JOBS_RETRIED : DJS_DIFF_JOBS_FAILED;
}

static int kind_of(const djs_event_t *ev)
{
    switch (ev->type) {
    case DJS_EV_JOB_SUBMITTED:
        return DJS_DIFF_JOBS_CREATED;
    case DJS_EV_JOB_SUCCEEDED:
        return DJS_DIFF_JOBS_SUCCEEDED;
    case DJS_EV_JOB_FAILED:
    case DJS_EV_JOB_TIMED_OUT:
        return failure_kind(ev);
    case DJS_EV_JOB_UPSTREAM_FAILED:
        return DJS_DIFF_JOBS_FAILED;
    case DJS_EV_JOB_CANCELLED:
        return DJS_DIFF_JOBS_CANCELLED;
    case DJS_EV_JOB_RETRIED:
        return DJS_DIFF_JOBS_RETRIED;
    case DJS_EV_JOB_DELETED:
        return DJS_DIFF_JOBS_DELETED;
    case DJS_EV_WORKER_REGISTERED:
        return DJS_DIFF_WORKERS_REGISTERED;
    case DJS_EV_WORKER_LOST:
        return DJS_DIFF_WORKERS_LOST;
    case DJS_EV_WORKER_DEREGISTERED:
        return DJS_DIFF_WORKERS_DEREGISTERED;
    case DJS_EV_SCHEDULE_FIRED:
        return DJS_DIFF_SCHEDULES_FIRED;
    default:
        return -1;
    }
}

static int on_event(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    diff_run_t *r = arg;
    djs_event_t ev;
    int rc = djs_event_decode(rec, len, &ev);
    if (rc == 0)
        rc = djs_state_apply(r->st, &ev);
    if (rc != 0) {
        r->rep->bad_seq = seq;
        r->rep->bad_err = rc;
        return DJS_ECORRUPT;
    }
    r->rep->events++;
    r->rep->to_ts = ev.ts_ns;
    int kind = kind_of(&ev);
    if (kind >= 0)
        note(r, kind, &ev.entity, seq);
    return 0;
}

/* ---- names and statuses at `to` ---------------------------------------------------- */

static const char *worker_status(int s)
{
    static const char *const names[] = {"ACTIVE", "DRAINING", "LOST", "GONE"};
    return s >= 0 && s < 4 ? names[s] : "GONE";
}

static void job_name(djs_log_t *log, const djs_job_t *j, djs_diff_item_t *it, djs_buf_t *b)
{
    djs_event_t ev;
    djs_job_spec_t sp;
    djs_buf_reset(b);
    if (djs_log_get(log, j->submit_seq, b) == 0 && djs_event_decode(b->base, b->len, &ev) == 0 &&
        djs_body_read_job_spec(ev.body, ev.body_len, &sp) == 0)
        it->name = djs_strndup(sp.name.p, sp.name.len);
}

static void describe(djs_log_t *log, const djs_state_t *st, djs_diff_item_t *it, djs_buf_t *b)
{
    if (it->kind <= DJS_DIFF_JOBS_DELETED) {
        const djs_job_t *j = djs_state_job(st, &it->id);
        it->status = j ? djs_job_state_name(j->state) : "DELETED";
        if (j != NULL)
            job_name(log, j, it, b);
    } else if (it->kind <= DJS_DIFF_WORKERS_DEREGISTERED) {
        const djs_worker_t *w = djs_state_worker(st, &it->id);
        it->status = worker_status(w ? w->status : DJS_WORKER_GONE);
        if (w != NULL && w->name != NULL)
            it->name = djs_strndup(w->name, strlen(w->name));
    } else {
        const djs_schedule_t *s = djs_state_schedule(st, &it->id);
        it->status = s == NULL ? "DELETED" : s->paused ? "PAUSED" : "ACTIVE";
        if (s != NULL && s->name != NULL)
            it->name = djs_strndup(s->name, strlen(s->name));
    }
    if (it->name == NULL)
        it->name = djs_strndup("", 0);
}

static uint64_t ts_of(djs_log_t *log, uint64_t seq)
{
    djs_buf_t b;
    djs_event_t ev;
    uint64_t ts = 0;
    djs_buf_init(&b);
    if (seq != 0 && djs_log_get(log, seq, &b) == 0 && djs_event_decode(b.base, b.len, &ev) == 0)
        ts = ev.ts_ns;
    djs_buf_dispose(&b);
    return ts;
}

int djs_diff_run(djs_log_t *log, uint64_t from, uint64_t to, uint32_t max_items, djs_diff_report_t *rep)
{
    if (rep == NULL)
        return DJS_EINVAL;
    memset(rep, 0, sizeof(*rep));
    if (log == NULL || from > to || to > djs_log_last_seq(log))
        return DJS_EINVAL;
    if (from + 1 < djs_log_first_seq(log)) /* archived: no state before the base */
        return DJS_EARCHIVED;
    rep->from_seq = from;
    rep->to_seq = to;
    rep->from_ts = rep->to_ts = ts_of(log, from);
    djs_state_config_t sc;
    djs_state_config_init(&sc);
    sc.max_terminal = UINT64_MAX; /* keep every finished job: each listed one has a status at `to` */
    sc.max_terminal_age = UINT64_MAX / 2;
    diff_run_t r = {rep, NULL, max_items, 0, NULL, 0};
    djs_buf_t b;
    djs_buf_init(&b);
    int rc = 0;
    if (from == 0) {
        r.st = djs_state_new(&sc);
    } else {
        djs_rebuild_report_t rr;
        if ((rc = djs_state_rebuild(log, &sc, from, &r.st, &rr)) != 0) {
            rep->bad_seq = rr.bad_seq;
            rep->bad_err = rr.bad_err;
            goto fail;
        }
    }
    if (to > from && (rc = djs_log_scan(log, from + 1, to, on_event, &r)) != 0)
        goto fail;
    for (uint32_t k = 0; k < rep->nitems; k++)
        describe(log, r.st, &rep->items[k], &b);
fail:
    djs_buf_dispose(&b);
    djs_free(r.index);
    if (r.st != NULL)
        djs_state_free(r.st);
    return rc;
}

void djs_diff_dispose(djs_diff_report_t *rep)
{
    if (rep == NULL)
        return;
    for (uint32_t k = 0; k < rep->nitems; k++)
        djs_free(rep->items[k].name);
    djs_free(rep->items);
    rep->items = NULL;
    rep->nitems = 0;
}
