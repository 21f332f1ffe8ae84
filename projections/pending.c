/* Why a job is not running (see pending.h): reads of the projection's
 * layout (state_internal.h), nothing written. */
#include "projections/pending.h"

#include <string.h>

#include "projections/state_internal.h"

static const char *const reason_names[] = {
#define DJS__PR_NAME(name, num, text) [num] = text,
    DJS_PENDING_REASON_MAP(DJS__PR_NAME)
#undef DJS__PR_NAME
};

const char *djs_pending_reason_name(int reason)
{
    return reason >= 0 && reason < DJS_PENDING_NREASONS ? reason_names[reason] : NULL;
}

static int ent_before(const djs_heap_ent_t *x, uint64_t key, uint32_t slot)
{
    return x->key < key || (x->key == key && x->slot < slot);
}

/* Entries of heap h ordered before (key, slot), counted up to max. In a
 * min-heap the entries before a key form a subtree around the root: a walk
 * that descends only below such entries visits at most 2 * count + 1. The
 * explicit stack holds at most one pending sibling per level. */
static uint64_t count_before(const djs_heap_t *h, uint64_t key, uint32_t slot, uint64_t max, int *capped)
{
    uint32_t stack[80];
    uint32_t sp = 0;
    uint64_t n = 0;
    *capped = 0;
    if (h->n > 0)
        stack[sp++] = 0;
    while (sp > 0) {
        uint32_t i = stack[--sp];
        if (!ent_before(&h->a[i], key, slot))
            continue;
        if (n == max) {
            *capped = 1;
            break;
        }
        n++;
        uint64_t c = 2 * (uint64_t)i + 1;
        if (c + 1 < h->n)
            stack[sp++] = (uint32_t)(c + 1);
        if (c < h->n)
            stack[sp++] = (uint32_t)c;
    }
    return n;
}

static void add_reason(djs_pending_t *p, int r)
{
    p->reasons |= 1u << r;
}

/* The unmet dependencies among ids, listed up to DJS_PENDING_MAX_DEPS. */
static void list_deps(const djs_state_t *st, const uint8_t *deps, uint32_t ndeps, djs_pending_t *p)
{
    for (uint32_t k = 0; k < ndeps && p->ndeps < DJS_PENDING_MAX_DEPS; k++) {
        djs_id_t id;
        memcpy(id.b, deps + 16 * (size_t)k, 16);
        const djs_job_t *d = djs_state_job(st, &id);
        if (d == NULL || d->state == DJS_JOB_COMPLETED)
            continue;
        p->deps[p->ndeps].id = id;
        p->deps[p->ndeps].state = d->state;
        p->ndeps++;
    }
}

/* The workers able to run class cls: counted, and listed (active ones
 * first, then draining and lost). */
static void worker_facts(const djs_state_t *st, uint32_t cls, djs_pending_t *p)
{
    djs_state_t *w_st = (djs_state_t *)st; /* djs_state_class_fits only reads */
    uint32_t later[DJS_PENDING_MAX_WORKERS], nlater = 0;
    for (uint32_t ws = 0; ws < st->nworkers; ws++) {
        const djs_worker_t *w = &st->workers[ws];
        if (w->status == DJS_WORKER_GONE || !djs_state_class_fits(w_st, cls, w->caps))
            continue;
        p->capable++;
        if (w->status == DJS_WORKER_ACTIVE) {
            p->capable_active++;
            p->slots += w->slots;
            p->slots_busy += w->running < w->slots ? w->running : w->slots;
            if (p->nworkers < DJS_PENDING_MAX_WORKERS)
                p->workers[p->nworkers++] = ws;
        } else {
            if (w->status == DJS_WORKER_DRAINING)
                p->capable_draining++;
            else
                p->capable_lost++;
            if (nlater < DJS_PENDING_MAX_WORKERS)
                later[nlater++] = ws;
        }
    }
    for (uint32_t i = 0; i < nlater && p->nworkers < DJS_PENDING_MAX_WORKERS; i++)
        p->workers[p->nworkers++] = later[i];
}

/* The worker fact of a class whose counts are in p. */
static int worker_reason(const djs_pending_t *p)
{
    if (p->capable == 0)
        return DJS_PENDING_NO_CAPABLE_WORKER;
    if (p->capable_active == 0)
        return DJS_PENDING_WORKERS_UNAVAILABLE;
    if (p->slots_busy >= p->slots)
        return DJS_PENDING_WORKERS_BUSY;
    return DJS_PENDING_DISPATCHING;
}

static void position(const djs_state_t *st, const djs_job_t *j, djs_pending_t *p)
{
    const class_t *cl = st->classes[j->cls];
    uint32_t s = djs_state_job_slot(st, j);
    p->tier = j->prio;
    if (cl == NULL || st->jpos[s] == DJS_HEAP_NONE || j->parked)
        return; /* not ready, or parked out of its tier by its concurrency key */
    p->ready = 1;
    for (int t = 0; t < j->prio; t++)
        p->ahead_higher += djs_heap_size(&cl->tiers[t]);
    p->in_tier = djs_heap_size(&cl->tiers[j->prio]);
    p->ahead = count_before(&cl->tiers[j->prio], j->ready_key, s, DJS_PENDING_MAX_AHEAD, &p->ahead_capped);
}

/* Its concurrency key: at its limit, nothing else helps (a free worker
 * does not: placement skips the job). */
static void key_facts(const djs_state_t *st, const djs_job_t *j, djs_pending_t *p)
{
    djs_concurrency_t c;
    if (djs_state_job_concurrency(st, j, &c) != 0)
        return;
    p->has_key = 1;
    p->parked = j->parked;
    p->key = c.key;
    p->limit = c.limit;
    p->held = c.held;
    for (uint32_t i = 0; i < c.held && p->nholders < DJS_PENDING_MAX_WORKERS; i++)
        p->holders[p->nholders++] = c.holders[i];
    if (c.held >= c.limit)
        add_reason(p, DJS_PENDING_CONCURRENCY_LIMIT);
}

/* The time and dependency facts of a CREATED or retry-waiting job. */
static void wait_facts(const djs_state_t *st, const djs_job_t *j, const uint8_t *deps, uint32_t ndeps, uint64_t now_ns,
                       djs_pending_t *p)
{
    if (j->state == DJS_JOB_CREATED) {
        p->unmet = j->unmet;
        if (j->unmet > 0) {
            add_reason(p, DJS_PENDING_DEPENDENCIES);
            list_deps(st, deps, ndeps, p);
        }
        /* deadline_ns holds scheduledAt while CREATED; once it has passed
         * the engine's next pass queues the job */
        if (j->deadline_ns > now_ns) {
            add_reason(p, DJS_PENDING_SCHEDULED);
            p->until_ns = j->deadline_ns;
        }
    } else if (j->timer_kind == DJS_TIMER_RETRY) {
        add_reason(p, DJS_PENDING_RETRY_BACKOFF);
        p->until_ns = j->deadline_ns;
    }
}

void djs_pending_of(const djs_state_t *st, const djs_job_t *j, const uint8_t *deps, uint32_t ndeps, uint64_t now_ns,
                    djs_pending_t *out)
{
    memset(out, 0, sizeof(*out));
    if (j == NULL || (j->state != DJS_JOB_CREATED && j->state != DJS_JOB_QUEUED))
        return;
    out->pending = 1;
    out->state = j->state;
    wait_facts(st, j, deps, ndeps, now_ns, out);
    key_facts(st, j, out);
    worker_facts(st, j->cls, out);
    add_reason(out, worker_reason(out));
    position(st, j, out);
    for (int r = 0; r < DJS_PENDING_NREASONS; r++)
        if (out->reasons & (1u << r)) {
            out->reason = r;
            break;
        }
}

void djs_pending_counts(const djs_state_t *st, uint64_t out[DJS_PENDING_NREASONS])
{
    const djs_metrics_t *m = &st->metrics;
    uint64_t ready = 0;
    memset(out, 0, DJS_PENDING_NREASONS * sizeof(out[0]));
    for (int t = 0; t < DJS_NPRIO; t++)
        ready += m->ready[t];
    uint64_t retry = m->by_state[DJS_JOB_QUEUED] - ready; /* QUEUED and not ready: a retry timer */
    uint64_t sched = m->delayed - retry;                  /* the other delaying timers: CREATED until scheduledAt */
    out[DJS_PENDING_RETRY_BACKOFF] = retry;
    out[DJS_PENDING_SCHEDULED] = sched;
    out[DJS_PENDING_DEPENDENCIES] = m->by_state[DJS_JOB_CREATED] - sched; /* no timer until dependencies are met */
    uint64_t in_tiers = 0;
    for (uint32_t i = 0; i < st->nactive; i++) {
        uint32_t c = st->active_classes[i];
        const class_t *cl = st->classes[c];
        uint64_t n = 0;
        for (int t = 0; t < DJS_NPRIO; t++)
            n += djs_heap_size(&cl->tiers[t]);
        in_tiers += n;
        if (n == 0)
            continue;
        djs_pending_t p;
        memset(&p, 0, sizeof(p));
        worker_facts(st, c, &p);
        out[worker_reason(&p)] += n;
    }
    out[DJS_PENDING_CONCURRENCY_LIMIT] = ready - in_tiers; /* ready but parked behind a full key (every class is listed) */
}
