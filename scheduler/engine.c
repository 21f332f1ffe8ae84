#include "scheduler/engine.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/dag.h"
#include "core/error.h"
#include "core/mp.h"
#include "projections/jobview.h"
#include "projections/rebuild.h"
#include "projections/snapshot.h"
#include "scheduler/engine_internal.h"
#include "scheduler/snapshotter.h"

#define SCHEDULER_ACTOR "scheduler"
#define SERVER_ACTOR "server"
#define MAX_POLL_ASSIGN 64

#define MAX_UNDELIVERED 16

/* Engine-side (not projected) knowledge of a worker: liveness, and claims
 * on placement (in memory only: after a restart, until its next claim
 * poll, its placements wait for a poll as before). */
typedef struct live {
    uint64_t last_seen_ns;
    uint32_t claims; /* its last poll claimed: a job placed on it is started at once */
    uint32_t nund;
    struct {
        djs_id_t job;
        uint32_t attempt;
        uint64_t seq;       /* its job.started */
    } und[MAX_UNDELIVERED]; /* claimed at placement, not yet handed to a poll */
} live_t;

struct djs_engine {
    djs_engine_config_t cfg;
    djs_log_t *log;
    djs_state_t *st;
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_check_t check;
    int handles;
    live_t *live;
    uint32_t nlive;
    uint64_t rng[2];
    djs_idgen_t ids;
    djs_buf_t body;
    uint64_t last_snapshot_seq;
    djs_snapshotter_t *snapper; /* loop engines only */
    uint64_t last_liveness_check;
    int dirty;
    char errmsg[256];
    djs_state_cache_t *tt;  /* time travel: made on first use */
    djs__sched_rt_t *sched; /* schedules (scheduler/schedules.c) */
    int following;          /* a cluster follower: applies, decides nothing */
    uint64_t grace_until;   /* a new leader's grace: no lease expires before it */
};

/* Hand '\n'-separated lines to the note callback one by one. */
static void note_lines(djs_engine_t *e, const char *lines)
{
    while (*lines != '\0') {
        size_t n = strcspn(lines, "\n");
        djs_notef(e->cfg.note, e->cfg.note_arg, "%.*s", (int)n, lines);
        lines += n + (lines[n] == '\n');
    }
}

__attribute__((format(printf, 3, 4))) static int refuse(djs_engine_t *e, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->errmsg, sizeof(e->errmsg), fmt, ap);
    va_end(ap);
    return err;
}

const char *djs_engine_errmsg(const djs_engine_t *e)
{
    return e->errmsg;
}

void djs_engine_config_init(djs_engine_config_t *c)
{
    memset(c, 0, sizeof(*c));
    djs_state_config_init(&c->state);
    c->aging_ns = 60ULL * 1000000000ULL;
    c->lease_ns = 30ULL * 1000000000ULL;
    c->heartbeat_ns = 5ULL * 1000000000ULL;
    c->missed_heartbeats = 3;
    c->retry_base_ns = 1000000000ULL;
    c->retry_cap_ns = 300ULL * 1000000000ULL;
    c->max_infra_retries = 10;
    c->hb_delta_pm = 100;
    c->hb_every_ns = 60ULL * 1000000000ULL;
    c->snapshot_every = 100000;
    c->snapshots_kept = 8;
    c->output_cap = 1u << 20;
}

void djs_engine_set_assign_cb(djs_engine_t *e, djs_engine_assign_cb cb, void *arg)
{
    e->cfg.on_assign = cb;
    e->cfg.assign_arg = arg;
}

const djs_state_t *djs_engine_state(const djs_engine_t *e)
{
    return e->st;
}

djs_log_t *djs_engine_log(djs_engine_t *e)
{
    return e->log;
}

static uint64_t now_ns(djs_engine_t *e)
{
    return djs_log_now(e->log);
}

/* ---- emitting events ------------------------------------------------------------- */

/* Append one event (body in e->body) and apply it. An apply failure here is
 * a bug in the engine's own validation: the log already holds the event, so
 * the projection would diverge from it; stop rather than go on wrong. */
static int emit(djs_engine_t *e, int type, const djs_id_t *entity, const char *actor, uint64_t *seq)
{
    djs_event_t ev = {0};
    ev.type = (uint16_t)type;
    ev.entity = *entity;
    ev.actor = actor;
    ev.actor_len = strlen(actor);
    if (ev.actor_len > DJS_EVENT_MAX_ACTOR)
        ev.actor_len = DJS_EVENT_MAX_ACTOR;
    ev.body = e->body.base;
    ev.body_len = e->body.len;
    int rc = djs_log_append(e->log, &ev);
    if (rc != 0)
        return refuse(e, rc, "event log: %s", djs_strerror(rc));
    /* apply from the encoded form, exactly as a replay will */
    rc = djs_state_apply(e->st, &ev);
    if (rc != 0) {
        fprintf(stderr, "djs: BUG: engine emitted %s for an entity that refuses it (%s)\n", djs_event_type_name(type),
                djs_err_name(rc));
        abort();
    }
    if (seq != NULL)
        *seq = ev.seq;
    e->dirty = 1;
    return 0;
}

/* ---- what engine.c lends scheduler/schedules.c (engine_internal.h) ---------------------- */

djs_buf_t *djs__engine_body(djs_engine_t *e)
{
    return &e->body;
}

int djs__engine_emit(djs_engine_t *e, int type, const djs_id_t *entity, const char *actor, uint64_t *seq)
{
    return emit(e, type, entity, actor, seq);
}

int djs__engine_refuse(djs_engine_t *e, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->errmsg, sizeof(e->errmsg), fmt, ap);
    va_end(ap);
    return err;
}

void djs__engine_note(djs_engine_t *e, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    djs_notef(e->cfg.note, e->cfg.note_arg, "%s", line);
}

uint64_t djs__engine_now(djs_engine_t *e)
{
    return now_ns(e);
}

uint64_t djs__engine_rand(djs_engine_t *e)
{
    return djs_rand_next(e->rng);
}

void djs__engine_new_id(djs_engine_t *e, djs_id_t *id)
{
    djs_id_new(&e->ids, now_ns(e) / 1000000, id);
}

const djs_state_t *djs__engine_st(djs_engine_t *e)
{
    return e->st;
}

djs__sched_rt_t *djs__engine_sched(djs_engine_t *e)
{
    return e->sched;
}

static int emit_change(djs_engine_t *e, int type, const djs_id_t *job, const char *actor, const djs_job_change_t *c, uint64_t *seq)
{
    djs_buf_reset(&e->body);
    djs_body_job_change(&e->body, type, c);
    return emit(e, type, job, actor, seq);
}

/* A stack of job slots. */
typedef struct slots {
    uint32_t *v;
    uint32_t n, cap;
} slots_t;

static void slots_push(slots_t *s, uint32_t slot)
{
    if (s->n == s->cap)
        s->v = djs_realloc(s->v, (s->cap = s->cap ? s->cap * 2 : 16) * sizeof(uint32_t));
    s->v[s->n++] = slot;
}

static void slots_push_dependents(djs_engine_t *e, const djs_job_t *j, slots_t *s)
{
    const uint32_t *deps;
    uint32_t nd = j != NULL ? djs_state_dependents(e->st, j, &deps) : 0;
    for (uint32_t i = 0; i < nd; i++)
        slots_push(s, deps[i]);
}

/* Every job waiting (transitively) on the jobs in `stack` fails as
 * upstream-failed of `up`. Iterative, O(dependents). Frees the stack. The
 * stack is filled before the event that ends `up` is applied: that event may
 * evict `up` (a cancelled job leaves the terminal window) and its list. */
static int cascade_from(djs_engine_t *e, const djs_id_t *up, slots_t *stack, uint64_t *seq)
{
    int rc = 0;
    while (stack->n > 0 && rc == 0) {
        const djs_job_t *d = djs_state_job_at(e->st, stack->v[--stack->n]);
        if (d == NULL || !djs_job_event_allowed(DJS_EV_JOB_UPSTREAM_FAILED, djs_state_job_pos(d)))
            continue;
        djs_job_change_t c = {0};
        c.upstream = *up;
        djs_id_t id = d->id;
        /* push its dependents before the event frees its list */
        slots_push_dependents(e, d, stack);
        rc = emit_change(e, DJS_EV_JOB_UPSTREAM_FAILED, &id, SCHEDULER_ACTOR, &c, seq);
    }
    djs_free(stack->v);
    *stack = (slots_t){NULL, 0, 0};
    return rc;
}

/* When a job fails for good, every job waiting on it fails too. */
static int cascade_upstream(djs_engine_t *e, const djs_id_t *root, uint64_t *seq)
{
    slots_t stack = {NULL, 0, 0};
    slots_push_dependents(e, djs_state_job(e->st, root), &stack);
    return cascade_from(e, root, &stack, seq);
}

/* ---- submit ---------------------------------------------------------------------------- */

/* A dependency that is not live: judged on the fact the caller read from
 * the log (djs_job_view_final), the engine does no I/O. */
static int check_evicted_dep(djs_engine_t *e, const djs_job_request_t *r, uint32_t k)
{
    char text[DJS_ID_TEXT_LEN + 1];
    djs_id_format(&r->dep_ids[k], text);
    int final = r->dep_final != NULL ? r->dep_final[k] : DJS_JOB_FINAL_UNKNOWN;
    if (final == DJS_JOB_COMPLETED)
        return 0;
    if (final == DJS_JOB_FINAL_UNKNOWN)
        return refuse(e, DJS_ENOTFOUND, "dependency %s is not a job", text);
    return refuse(e, DJS_ECONFLICT, "dependency %s was %s", text,
                  final == DJS_JOB_FINAL_DELETED ? "deleted"
                  : final == DJS_JOB_CANCELLED   ? "cancelled"
                                                 : "failed");
}

/* concurrencyKey: 1 to DJS_JOB_MAX_CONCURRENCY_KEY bytes; concurrencyLimit:
 * 1 to DJS_JOB_MAX_CONCURRENCY_LIMIT, only with a key (0 = the default, 1). */
static int validate_limits(djs_engine_t *e, const djs_job_spec_t *s, uint32_t i)
{
    if (s->ckey.len > DJS_JOB_MAX_CONCURRENCY_KEY)
        return refuse(e, DJS_ETOOBIG, "jobs[%u].concurrencyKey is longer than %d bytes", i, DJS_JOB_MAX_CONCURRENCY_KEY);
    if (s->ckey.len == 0 && s->climit > 0)
        return refuse(e, DJS_EINVAL, "jobs[%u].concurrencyLimit needs a concurrencyKey", i);
    if (s->climit > DJS_JOB_MAX_CONCURRENCY_LIMIT)
        return refuse(e, DJS_EINVAL, "jobs[%u].concurrencyLimit is above %d", i, DJS_JOB_MAX_CONCURRENCY_LIMIT);
    return 0;
}

static int validate_request(djs_engine_t *e, const djs_job_request_t *r, uint32_t i)
{
    const djs_job_spec_t *s = &r->spec;
    if (s->name.len == 0)
        return refuse(e, DJS_EINVAL, "jobs[%u].name is required", i);
    if (s->name.len > DJS_JOB_MAX_NAME)
        return refuse(e, DJS_ETOOBIG, "jobs[%u].name is longer than %d bytes", i, DJS_JOB_MAX_NAME);
    if (s->description.len > DJS_JOB_MAX_DESCRIPTION)
        return refuse(e, DJS_ETOOBIG, "jobs[%u].description is longer than %d bytes", i, DJS_JOB_MAX_DESCRIPTION);
    if (s->priority >= DJS_NPRIO)
        return refuse(e, DJS_EINVAL, "jobs[%u].priority is not HIGH, NORMAL or LOW", i);
    if (s->payload_len > DJS_JOB_MAX_PAYLOAD)
        return refuse(e, DJS_ETOOBIG, "jobs[%u].payload is larger than %u bytes", i, DJS_JOB_MAX_PAYLOAD);
    if (s->payload_len > 0 && (s->payload[0] < 0x80 || (s->payload[0] > 0x8f && s->payload[0] != 0xde && s->payload[0] != 0xdf)))
        return refuse(e, DJS_EINVAL, "jobs[%u].payload must be an object", i);
    if (s->payload_len > 0 && djs_mp_validate(s->payload, s->payload_len, DJS_EVENT_MAX_DEPTH - 2) != 0)
        return refuse(e, DJS_EINVAL, "jobs[%u].payload is malformed or nested too deeply", i);
    if (r->ndep_ids + r->ndep_keys > DJS_JOB_MAX_DEPS)
        return refuse(e, DJS_ETOOBIG, "jobs[%u] has more than %d dependencies", i, DJS_JOB_MAX_DEPS);
    if (r->ncaps > DJS_JOB_MAX_CAPS)
        return refuse(e, DJS_ETOOBIG, "jobs[%u] requires more than %d capabilities", i, DJS_JOB_MAX_CAPS);
    for (uint32_t k = 0; k < r->ncaps; k++)
        if (r->caps[k].len == 0 || r->caps[k].len > DJS_JOB_MAX_CAP_LEN)
            return refuse(e, DJS_EINVAL, "jobs[%u].requiredCapabilities[%u] must be 1 to %d bytes", i, k, DJS_JOB_MAX_CAP_LEN);
    if (s->max_retries > DJS_JOB_MAX_RETRIES)
        return refuse(e, DJS_EINVAL, "jobs[%u].maxRetries is above %d", i, DJS_JOB_MAX_RETRIES);
    if (s->timeout_s > DJS_JOB_MAX_TIMEOUT_S)
        return refuse(e, DJS_EINVAL, "jobs[%u].timeoutSeconds is above %d", i, DJS_JOB_MAX_TIMEOUT_S);
    if (s->idem_key.len > DJS_JOB_MAX_IDEM_KEY)
        return refuse(e, DJS_ETOOBIG, "jobs[%u] idempotency key is longer than %d bytes", i, DJS_JOB_MAX_IDEM_KEY);
    if (r->key.len > DJS_JOB_MAX_NAME) /* stored as wfkey, which a reader bounds so */
        return refuse(e, DJS_ETOOBIG, "jobs[%u].key is longer than %d bytes", i, DJS_JOB_MAX_NAME);
    int lrc = validate_limits(e, s, i);
    if (lrc != 0)
        return lrc;
    for (uint32_t k = 0; k < r->ndep_ids; k++) {
        const djs_job_t *d = djs_state_job(e->st, &r->dep_ids[k]);
        char text[DJS_ID_TEXT_LEN + 1];
        djs_id_format(&r->dep_ids[k], text);
        if (d == NULL) {
            int rc = check_evicted_dep(e, r, k);
            if (rc != 0)
                return rc;
        } else if (d->state == DJS_JOB_CANCELLED || d->state == DJS_JOB_FAILED) {
            return refuse(e, DJS_ECONFLICT, "jobs[%u] depends on %s, which is %s", i, text, djs_job_state_name(d->state));
        }
    }
    return 0;
}

static int key_index(const djs_job_request_t *reqs, uint32_t n, djs_str_t k)
{
    for (uint32_t i = 0; i < n; i++)
        if (reqs[i].key.len == k.len && memcmp(reqs[i].key.p, k.p, k.len) == 0)
            return (int)i;
    return -1;
}

/* Order a workflow so dependencies come first (Kahn); refuse cycles. */
static int order_workflow(djs_engine_t *e, const djs_job_request_t *reqs, uint32_t n, uint32_t *order)
{
    uint32_t *off = djs_malloc((n + 1) * sizeof(uint32_t)), m = 0, on_cycle = 0;
    for (uint32_t i = 0; i < n; i++)
        m += reqs[i].ndep_keys;
    uint32_t *deps = djs_malloc((m ? m : 1) * sizeof(uint32_t));
    int rc = 0;
    m = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        off[i] = m;
        for (uint32_t k = 0; k < reqs[i].ndep_keys; k++) {
            int d = key_index(reqs, n, reqs[i].dep_keys[k]);
            if (d < 0)
                rc = refuse(e, DJS_ENOTFOUND, "jobs[%u] depends on key '%.*s', which no job of this workflow has", i,
                            (int)reqs[i].dep_keys[k].len, reqs[i].dep_keys[k].p);
            else
                deps[m++] = (uint32_t)d;
        }
        if (i > 0 && rc == 0 && reqs[i].key.len > 0 && key_index(reqs, i, reqs[i].key) >= 0)
            rc = refuse(e, DJS_ECONFLICT, "jobs[%u].key '%.*s' is used twice", i, (int)reqs[i].key.len, reqs[i].key.p);
    }
    off[n] = m;
    if (rc == 0 && djs_dag_toposort(n, off, deps, order, &on_cycle) == DJS_ECYCLE)
        rc = refuse(e, DJS_ECYCLE, "the dependencies of jobs[%u] ('%.*s') form a cycle", on_cycle, (int)reqs[on_cycle].key.len,
                    reqs[on_cycle].key.p);
    djs_free(off);
    djs_free(deps);
    return rc;
}

int djs_engine_submit(djs_engine_t *e, const char *owner, const djs_job_request_t *reqs, uint32_t n, djs_id_t *ids, uint64_t *seq,
                      int *existed)
{
    *existed = 0;
    *seq = 0;
    if (n == 0)
        return refuse(e, DJS_EINVAL, "no jobs to submit");
    if (n > DJS_WORKFLOW_MAX_JOBS)
        return refuse(e, DJS_ELIMIT, "a workflow holds at most %d jobs", DJS_WORKFLOW_MAX_JOBS);
    /* the owner as stored (the projection keys idempotency on it) */
    size_t olen = strlen(owner);
    if (olen > DJS_EVENT_MAX_ACTOR)
        olen = DJS_EVENT_MAX_ACTOR;
    /* a request whose first job's key was used is a repeat of that request */
    if (reqs[0].spec.idem_key.len > 0) {
        const djs_job_t *j = djs_state_job_by_idem(e->st, owner, olen, reqs[0].spec.idem_key.p, reqs[0].spec.idem_key.len);
        if (j != NULL) {
            ids[0] = j->id;
            *existed = 1;
            *seq = j->submit_seq;
            return 0;
        }
    }
    int rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = validate_request(e, &reqs[i], i)) != 0)
            return rc;
    /* any other key must be new, and used once (the projection indexes each once) */
    for (uint32_t i = 1; i < n; i++) {
        djs_str_t k = reqs[i].spec.idem_key;
        if (k.len == 0)
            continue;
        if (djs_state_job_by_idem(e->st, owner, olen, k.p, k.len) != NULL)
            return refuse(e, DJS_ECONFLICT, "jobs[%u] idempotency key '%.*s' was used by another job", i, (int)k.len, k.p);
        for (uint32_t m = 0; m < i; m++)
            if (reqs[m].spec.idem_key.len == k.len && memcmp(reqs[m].spec.idem_key.p, k.p, k.len) == 0)
                return refuse(e, DJS_ECONFLICT, "jobs[%u] and jobs[%u] have the same idempotency key", m, i);
    }
    uint32_t *order = djs_malloc(n * sizeof(uint32_t));
    if ((rc = order_workflow(e, reqs, n, order)) != 0)
        goto out;
    uint64_t now = now_ns(e);
    for (uint32_t i = 0; i < n; i++)
        djs_id_new(&e->ids, now / 1000000, &ids[i]);
    djs_id_t wf = {{0}};
    if (n > 1)
        djs_id_new(&e->ids, now / 1000000, &wf);
    for (uint32_t k = 0; k < n && rc == 0; k++) {
        uint32_t i = order[k];
        const djs_job_request_t *r = &reqs[i];
        uint32_t nd = r->ndep_ids + r->ndep_keys;
        uint8_t *deps = djs_malloc(nd ? nd * 16 : 1);
        for (uint32_t d = 0; d < r->ndep_ids; d++)
            memcpy(deps + 16 * d, r->dep_ids[d].b, 16);
        for (uint32_t d = 0; d < r->ndep_keys; d++)
            memcpy(deps + 16 * (r->ndep_ids + d), ids[key_index(reqs, n, r->dep_keys[d])].b, 16);
        djs_job_spec_t sp = r->spec;
        sp.owner.p = owner;
        sp.owner.len = olen;
        sp.deps = deps;
        sp.ndeps = nd;
        sp.workflow = wf;
        sp.wf_key = r->key;
        if (sp.ckey.len > 0 && sp.climit == 0)
            sp.climit = 1; /* a key alone: one job at a time */
        djs_buf_reset(&e->body);
        djs_body_job_spec(&e->body, &sp, r->caps, r->ncaps);
        rc = emit(e, DJS_EV_JOB_SUBMITTED, &ids[i], owner, seq);
        djs_free(deps);
    }
out:
    djs_free(order);
    return rc;
}

/* ---- other job commands ------------------------------------------------------------------ */

static const djs_job_t *find_job(djs_engine_t *e, const djs_id_t *id, int *rc)
{
    const djs_job_t *j = djs_state_job(e->st, id);
    if (j == NULL) {
        char text[DJS_ID_TEXT_LEN + 1];
        djs_id_format(id, text);
        *rc = refuse(e, DJS_ENOTFOUND, "job %s not found (or finished long enough ago to be evicted: see its history)", text);
    }
    return j;
}

int djs_engine_cancel(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq)
{
    int rc = 0;
    const djs_job_t *j = find_job(e, id, &rc);
    if (j == NULL)
        return rc;
    if (!djs_job_event_allowed(DJS_EV_JOB_CANCELLED, djs_state_job_pos(j)))
        return refuse(e, DJS_ECONFLICT, "job is %s: only a job that has not finished can be cancelled",
                      djs_job_state_name(j->state));
    djs_job_change_t c = {0};
    slots_t stack = {NULL, 0, 0};
    slots_push_dependents(e, j, &stack);
    if ((rc = emit_change(e, DJS_EV_JOB_CANCELLED, id, actor, &c, seq)) != 0) {
        djs_free(stack.v);
        return rc;
    }
    return cascade_from(e, id, &stack, seq);
}

int djs_engine_retry(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq)
{
    int rc = 0;
    const djs_job_t *j = find_job(e, id, &rc);
    if (j == NULL)
        return rc;
    if (!djs_job_event_allowed(DJS_EV_JOB_RETRIED, djs_state_job_pos(j)))
        return refuse(e, DJS_ECONFLICT, "job is %s: only a FAILED job can be retried", djs_job_state_name(j->state));
    /* it never ran: every dependency must have completed since (the
     * projection counts them, including dependencies deleted or evicted
     * without completing, which never will) */
    if (j->fail_reason == DJS_FAIL_UPSTREAM && j->unmet > 0)
        return refuse(e, DJS_ECONFLICT, "%u of its dependencies have not completed: retry them first", j->unmet);
    djs_job_change_t c = {0};
    return emit_change(e, DJS_EV_JOB_RETRIED, id, actor, &c, seq);
}

int djs_engine_delete(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq)
{
    int rc = 0;
    const djs_job_t *j = find_job(e, id, &rc);
    if (j == NULL)
        return rc;
    if (!djs_job_event_allowed(DJS_EV_JOB_DELETED, djs_state_job_pos(j)))
        return refuse(e, DJS_ECONFLICT, "job is %s: cancel it before deleting it", djs_job_state_name(j->state));
    if ((rc = cascade_upstream(e, id, seq)) != 0)
        return rc;
    djs_job_change_t c = {0};
    return emit_change(e, DJS_EV_JOB_DELETED, id, actor, &c, seq);
}

int djs_engine_update(djs_engine_t *e, const char *actor, const djs_id_t *id, const djs_job_change_t *in, uint64_t *seq)
{
    int rc = 0;
    const djs_job_t *j = find_job(e, id, &rc);
    if (j == NULL)
        return rc;
    if (!djs_job_event_allowed(DJS_EV_JOB_UPDATED, djs_state_job_pos(j)))
        return refuse(e, DJS_ECONFLICT, "job is %s and can no longer change", djs_job_state_name(j->state));
    if (!(in->has_priority || in->has_max_retries || in->has_timeout || in->has_name || in->has_description))
        return refuse(e, DJS_EINVAL, "nothing to update");
    if (in->has_priority && in->priority >= DJS_NPRIO)
        return refuse(e, DJS_EINVAL, "priority is not HIGH, NORMAL or LOW");
    if (in->has_max_retries && in->max_retries > DJS_JOB_MAX_RETRIES)
        return refuse(e, DJS_EINVAL, "maxRetries is above %d", DJS_JOB_MAX_RETRIES);
    if (in->has_timeout && in->timeout_s > DJS_JOB_MAX_TIMEOUT_S)
        return refuse(e, DJS_EINVAL, "timeoutSeconds is above %d", DJS_JOB_MAX_TIMEOUT_S);
    if (in->has_name && (in->name.len == 0 || in->name.len > DJS_JOB_MAX_NAME))
        return refuse(e, DJS_EINVAL, "name must be 1 to %d bytes", DJS_JOB_MAX_NAME);
    if (in->has_description && in->description.len > DJS_JOB_MAX_DESCRIPTION)
        return refuse(e, DJS_ETOOBIG, "description is longer than %d bytes", DJS_JOB_MAX_DESCRIPTION);
    /* only the has_* fields and their values: nothing else the caller left in *in */
    djs_job_change_t c = {0};
    c.has_priority = in->has_priority != 0;
    c.priority = in->priority;
    c.has_max_retries = in->has_max_retries != 0;
    c.max_retries = in->max_retries;
    c.has_timeout = in->has_timeout != 0;
    c.timeout_s = in->timeout_s;
    c.has_name = in->has_name != 0;
    c.name = in->name;
    c.has_description = in->has_description != 0;
    c.description = in->description;
    return emit_change(e, DJS_EV_JOB_UPDATED, id, actor, &c, seq);
}

/* ---- workers ------------------------------------------------------------------------------ */

static live_t *live_of(djs_engine_t *e, const djs_worker_t *w)
{
    uint32_t slot = (uint32_t)(w - djs_state_worker_at(e->st, 0));
    if (slot >= e->nlive) {
        uint32_t n = e->nlive ? e->nlive : 16;
        while (n <= slot)
            n *= 2;
        e->live = djs_realloc(e->live, n * sizeof(live_t));
        memset(e->live + e->nlive, 0, (n - e->nlive) * sizeof(live_t));
        e->nlive = n;
    }
    return &e->live[slot];
}

/* The original design's fields (recorded, shown, not used for placement):
 * bounded here as the body decoder bounds them, so what the engine writes
 * the projection reads back. */
static int check_worker_extras(djs_engine_t *e, const djs_worker_info_t *w)
{
    djs_str_t t;
    size_t off = 0;
    uint32_t k = 0;
    if (w->addr.len > DJS_WORKER_MAX_ADDR)
        return refuse(e, DJS_ETOOBIG, "hostAddress is longer than %d bytes", DJS_WORKER_MAX_ADDR);
    if (w->port > DJS_WORKER_MAX_PORT)
        return refuse(e, DJS_EINVAL, "port must be 1 to %d", DJS_WORKER_MAX_PORT);
    if (w->tags.n > DJS_WORKER_MAX_TAGS)
        return refuse(e, DJS_ETOOBIG, "more than %d tags", DJS_WORKER_MAX_TAGS);
    while (djs_strlist_next(&w->tags, &off, &t)) {
        if (t.len == 0 || t.len > DJS_WORKER_MAX_TAG_LEN)
            return refuse(e, DJS_EINVAL, "tags[%u] must be 1 to %d bytes", k, DJS_WORKER_MAX_TAG_LEN);
        k++;
    }
    return 0;
}

static int check_worker_info(djs_engine_t *e, const djs_worker_info_t *w, uint32_t ncaps, const djs_str_t *caps, int reg)
{
    if (reg && (w->name.len == 0 || w->name.len > DJS_JOB_MAX_NAME))
        return refuse(e, DJS_EINVAL, "name must be 1 to %d bytes", DJS_JOB_MAX_NAME);
    if (w->host.len > DJS_JOB_MAX_NAME)
        return refuse(e, DJS_ETOOBIG, "host is longer than %d bytes", DJS_JOB_MAX_NAME);
    if ((reg || w->has_slots) && (w->slots == 0 || w->slots > 10000))
        return refuse(e, DJS_EINVAL, "slots must be 1 to 10000");
    if (w->has_load && (w->cpu_pm > 1000 || w->mem_pm > 1000))
        return refuse(e, DJS_EINVAL, "cpu and memory are fractions of 1000");
    if (ncaps > DJS_JOB_MAX_CAPS)
        return refuse(e, DJS_ETOOBIG, "more than %d capabilities", DJS_JOB_MAX_CAPS);
    for (uint32_t k = 0; k < ncaps; k++)
        if (caps[k].len == 0 || caps[k].len > DJS_JOB_MAX_CAP_LEN)
            return refuse(e, DJS_EINVAL, "capabilities[%u] must be 1 to %d bytes", k, DJS_JOB_MAX_CAP_LEN);
    return check_worker_extras(e, w);
}

int djs_engine_register(djs_engine_t *e, const char *actor, const djs_worker_info_t *w, const djs_str_t *caps, uint32_t ncaps,
                        djs_id_t *id, uint64_t *seq)
{
    int rc = check_worker_info(e, w, ncaps, caps, 1);
    if (rc != 0)
        return rc;
    const djs_worker_t *old = djs_state_worker_by_name(e->st, w->name.p, w->name.len);
    if (old != NULL) {
        if (old->njobs > 0) {
            /* a restarted agent: what it was running is gone with it */
            uint64_t now = now_ns(e);
            while (old->njobs > 0) {
                const djs_job_t *j = djs_state_job_at(e->st, old->jobs[0]);
                djs_job_change_t c = {0};
                c.reason = (djs_str_t){"worker_lost", 11};
                c.attempt = j->attempt;
                c.worker = old->id;
                c.retry_at = j->infra + 1u <= e->cfg.max_infra_retries ? now : 0;
                c.error = (djs_str_t){"the worker re-registered while running it", 41};
                djs_id_t jid = j->id;
                if ((rc = emit_change(e, DJS_EV_JOB_FAILED, &jid, SCHEDULER_ACTOR, &c, seq)) != 0)
                    return rc;
                if (c.retry_at == 0 && (rc = cascade_upstream(e, &jid, seq)) != 0)
                    return rc;
                old = djs_state_worker_by_name(e->st, w->name.p, w->name.len);
            }
        }
        *id = old->id;
    } else {
        djs_id_new(&e->ids, now_ns(e) / 1000000, id);
    }
    djs_buf_reset(&e->body);
    djs_body_worker(&e->body, DJS_EV_WORKER_REGISTERED, w, caps, ncaps);
    if ((rc = emit(e, DJS_EV_WORKER_REGISTERED, id, actor, seq)) != 0)
        return rc;
    live_of(e, djs_state_worker(e->st, id))->last_seen_ns = now_ns(e);
    return 0;
}

static const djs_worker_t *find_worker(djs_engine_t *e, const djs_id_t *id, int *rc)
{
    const djs_worker_t *w = djs_state_worker(e->st, id);
    if (w == NULL) {
        char text[DJS_ID_TEXT_LEN + 1];
        djs_id_format(id, text);
        *rc = refuse(e, DJS_ENOTFOUND, "worker %s not found", text);
    } else if (w->status == DJS_WORKER_LOST || w->status == DJS_WORKER_GONE) {
        *rc = refuse(e, DJS_ECONFLICT, "worker %s is %s: register again", w->name,
                     w->status == DJS_WORKER_LOST ? "lost" : "deregistered");
        return NULL;
    }
    return w;
}

static uint32_t absdiff(uint32_t a, uint32_t b)
{
    return a > b ? a - b : b - a;
}

int djs_engine_heartbeat(djs_engine_t *e, const djs_id_t *id, uint32_t cpu_pm, uint32_t mem_pm, uint32_t resp_ms, uint64_t *seq)
{
    int rc = 0;
    *seq = 0;
    const djs_worker_t *w = find_worker(e, id, &rc);
    if (w == NULL)
        return rc;
    if (cpu_pm > 1000 || mem_pm > 1000)
        return refuse(e, DJS_EINVAL, "cpu and memory are fractions of 1000");
    uint64_t now = now_ns(e);
    live_of(e, w)->last_seen_ns = now;
    /* record only what moves the balancer, or at a slow cadence */
    int moved = absdiff(cpu_pm, w->cpu_pm) > e->cfg.hb_delta_pm || absdiff(mem_pm, w->mem_pm) > e->cfg.hb_delta_pm ||
                absdiff(resp_ms, w->resp_ms) > (w->resp_ms / 2 > 50 ? w->resp_ms / 2 : 50);
    if (!moved && now - w->heartbeat_ns < e->cfg.hb_every_ns)
        return 0;
    djs_worker_info_t wi = {0};
    wi.cpu_pm = cpu_pm;
    wi.mem_pm = mem_pm;
    wi.resp_ms = resp_ms;
    wi.running = w->running;
    djs_buf_reset(&e->body);
    djs_body_worker(&e->body, DJS_EV_WORKER_HEARTBEAT, &wi, NULL, 0);
    djs_id_t wid = w->id;
    return emit(e, DJS_EV_WORKER_HEARTBEAT, &wid, w->name, seq);
}

int djs_engine_update_worker(djs_engine_t *e, const char *actor, const djs_id_t *id, const djs_worker_info_t *in,
                             const djs_str_t *caps, uint32_t ncaps, uint64_t *seq)
{
    int rc = 0;
    const djs_worker_t *w = find_worker(e, id, &rc);
    if (w == NULL)
        return rc;
    if (!in->has_slots && !in->has_caps)
        return refuse(e, DJS_EINVAL, "nothing to update (slots, capabilities)");
    if ((rc = check_worker_info(e, in, ncaps, caps, 0)) != 0)
        return rc;
    djs_worker_info_t wi = *in;
    wi.name = wi.host = (djs_str_t){NULL, 0};
    wi.has_load = 0;
    djs_buf_reset(&e->body);
    djs_body_worker(&e->body, DJS_EV_WORKER_UPDATED, &wi, caps, ncaps);
    return emit(e, DJS_EV_WORKER_UPDATED, id, actor, seq);
}

int djs_engine_drain(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq)
{
    int rc = 0;
    const djs_worker_t *w = find_worker(e, id, &rc);
    if (w == NULL)
        return rc;
    if (w->status == DJS_WORKER_DRAINING)
        return refuse(e, DJS_ECONFLICT, "worker is already draining");
    djs_worker_info_t wi = {0};
    djs_buf_reset(&e->body);
    djs_body_worker(&e->body, DJS_EV_WORKER_DRAINING, &wi, NULL, 0);
    return emit(e, DJS_EV_WORKER_DRAINING, id, actor, seq);
}

int djs_engine_deregister(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq)
{
    int rc = 0;
    const djs_worker_t *w = find_worker(e, id, &rc);
    if (w == NULL)
        return rc;
    if (w->njobs > 0)
        return refuse(e, DJS_ECONFLICT, "worker still has %u assigned jobs: drain it and let them finish", w->njobs);
    djs_worker_info_t wi = {0};
    djs_buf_reset(&e->body);
    djs_body_worker(&e->body, DJS_EV_WORKER_DEREGISTERED, &wi, NULL, 0);
    return emit(e, DJS_EV_WORKER_DEREGISTERED, id, actor, seq);
}

int djs_engine_poll(djs_engine_t *e, const djs_id_t *id, djs_assignment_t *out, uint32_t max, uint32_t *n)
{
    int rc = 0;
    *n = 0;
    const djs_worker_t *w = find_worker(e, id, &rc);
    if (w == NULL)
        return rc;
    live_t *l = live_of(e, w);
    l->last_seen_ns = now_ns(e);
    l->claims = 0;
    for (uint32_t i = 0; i < w->njobs && *n < max; i++) {
        const djs_job_t *j = djs_state_job_at(e->st, w->jobs[i]);
        if (j->state != DJS_JOB_SCHEDULED)
            continue;
        out[*n].job = j->id;
        out[*n].attempt = j->attempt;
        out[*n].lease_ns = j->deadline_ns;
        out[*n].submit_seq = j->submit_seq;
        out[*n].seq = j->last_seq;
        (*n)++;
    }
    return 0;
}

/* ---- fenced reports ------------------------------------------------------------------------- */

/* The job of a worker's report that will emit event `type`: the job must be
 * this worker's current attempt, and the state machine must allow `type`
 * where the job is. NULL with *rc set (DJS_ENOTFOUND, DJS_ESTALE,
 * DJS_ECONFLICT) otherwise. */
static const djs_job_t *fenced(djs_engine_t *e, const djs_id_t *wid, const djs_id_t *id, uint32_t attempt, int type, int *rc)
{
    const djs_job_t *j = find_job(e, id, rc);
    if (j == NULL)
        return NULL;
    const djs_worker_t *w = djs_state_worker(e->st, wid);
    const djs_worker_t *cur = j->worker != DJS_NONE ? djs_state_worker_at(e->st, j->worker) : NULL;
    if (w == NULL || cur != w || attempt != j->attempt) {
        if (w != NULL && attempt == j->attempt && cur == NULL) /* its own attempt, ended by the scheduler */
            *rc = refuse(e, DJS_ESTALE, "attempt %u is over: the job is %s now (timed out, lease expired, cancelled or lost)",
                         attempt, djs_job_state_name(j->state));
        else
            *rc = refuse(e, DJS_ESTALE, "attempt %u by this worker is not the job's current assignment (attempt %u)", attempt,
                         j->attempt);
        return NULL;
    }
    if (!djs_job_event_allowed(type, djs_state_job_pos(j))) {
        const char *why = type == DJS_EV_JOB_STARTED  ? ": it can be started only once per attempt"
                          : type == DJS_EV_JOB_FAILED ? ""
                                                      : ", not RUNNING: start it first";
        *rc = refuse(e, DJS_ECONFLICT, "job is %s%s", djs_job_state_name(j->state), why);
        return NULL;
    }
    live_of(e, w)->last_seen_ns = now_ns(e);
    return j;
}

int djs_engine_start(djs_engine_t *e, const djs_id_t *wid, const djs_id_t *id, uint32_t attempt, uint64_t *seq)
{
    int rc = 0;
    /* a repeated start of the running attempt (its answer was lost, e.g.
     * to a server crash) is acknowledged again: no event */
    const djs_job_t *r = djs_state_job(e->st, id);
    const djs_worker_t *w = djs_state_worker(e->st, wid);
    if (r != NULL && w != NULL && r->state == DJS_JOB_RUNNING && r->attempt == attempt && r->worker != DJS_NONE &&
        djs_state_worker_at(e->st, r->worker) == w) {
        *seq = 0;
        return 0;
    }
    const djs_job_t *j = fenced(e, wid, id, attempt, DJS_EV_JOB_STARTED, &rc);
    if (j == NULL)
        return rc;
    djs_job_change_t c = {0};
    c.attempt = attempt;
    c.worker = *wid;
    return emit_change(e, DJS_EV_JOB_STARTED, id, djs_state_worker(e->st, wid)->name, &c, seq);
}

/* ---- claims: placement and start in one durable step ------------------------------------- */

int djs_engine_claim_one(djs_engine_t *e, const djs_id_t *wid, const djs_id_t *id, djs_assignment_t *out)
{
    int rc = 0;
    const djs_job_t *j = find_job(e, id, &rc);
    if (j == NULL)
        return rc;
    const djs_worker_t *w = djs_state_worker(e->st, wid);
    if (w == NULL)
        return refuse(e, DJS_ENOTFOUND, "no such worker");
    if (j->state != DJS_JOB_SCHEDULED || j->worker == DJS_NONE || djs_state_worker_at(e->st, j->worker) != w)
        return refuse(e, DJS_ECONFLICT, "the job is not an assignment of this worker waiting to start");
    uint64_t seq;
    uint32_t attempt = j->attempt;
    if ((rc = djs_engine_start(e, wid, id, attempt, &seq)) != 0)
        return rc;
    j = djs_state_job(e->st, id);
    out->job = *id;
    out->attempt = attempt;
    out->lease_ns = j->deadline_ns; /* RUNNING: the run timeout's deadline (0: none) */
    out->submit_seq = j->submit_seq;
    out->seq = seq;
    return 0;
}

/* Hand out (at most max) the jobs claimed at placement for worker w that
 * are still its RUNNING attempt; forget the rest. Returns how many. */
static uint32_t take_undelivered(djs_engine_t *e, const djs_worker_t *w, live_t *l, djs_assignment_t *out, uint32_t max)
{
    uint32_t n = 0, keep = 0;
    for (uint32_t i = 0; i < l->nund; i++) {
        const djs_job_t *j = djs_state_job(e->st, &l->und[i].job);
        int valid = j != NULL && j->state == DJS_JOB_RUNNING && j->attempt == l->und[i].attempt && j->worker != DJS_NONE &&
                    djs_state_worker_at(e->st, j->worker) == w;
        if (valid && n < max)
            out[n++] = (djs_assignment_t){j->id, j->attempt, j->deadline_ns, j->submit_seq, l->und[i].seq};
        else if (valid)
            l->und[keep++] = l->und[i];
    }
    l->nund = keep;
    return n;
}

/* The hook of place(): a job just placed on a worker whose polls claim is
 * started in the same step (one commit with its placement), and waits in
 * its list of undelivered claims for the next poll. */
static int claim_placed(djs_engine_t *e, const djs_id_t *wid, const djs_id_t *jid)
{
    live_t *l = live_of(e, djs_state_worker(e->st, wid));
    if (!l->claims || l->nund >= MAX_UNDELIVERED)
        return 0;
    djs_assignment_t a;
    int rc = djs_engine_claim_one(e, wid, jid, &a);
    if (rc != 0)
        return rc;
    l = live_of(e, djs_state_worker(e->st, wid));
    l->und[l->nund].job = a.job;
    l->und[l->nund].attempt = a.attempt;
    l->und[l->nund].seq = a.seq;
    l->nund++;
    return 0;
}

int djs_engine_claim(djs_engine_t *e, const djs_id_t *wid, djs_assignment_t *out, uint32_t max, uint32_t *n)
{
    djs_id_t ids[64];
    uint32_t k = 0;
    int rc = 0;
    *n = 0;
    const djs_worker_t *w = find_worker(e, wid, &rc);
    if (w == NULL)
        return rc;
    live_t *l = live_of(e, w);
    l->last_seen_ns = now_ns(e);
    l->claims = 1;
    *n = take_undelivered(e, w, l, out, max);
    max -= *n;
    for (uint32_t i = 0; i < w->njobs && k < max && k < 64; i++) {
        const djs_job_t *j = djs_state_job_at(e->st, w->jobs[i]);
        if (j->state == DJS_JOB_SCHEDULED)
            ids[k++] = j->id;
    }
    for (uint32_t i = 0; i < k; i++) {
        if ((rc = djs_engine_claim_one(e, wid, &ids[i], &out[*n])) != 0)
            return rc;
        (*n)++;
    }
    return 0;
}

/* Jobs RUNNING on worker wid that it does not list, started more than a
 * liveness window ago, into out (at most max): their delivery never
 * reached the worker. */
static uint32_t unlisted(djs_engine_t *e, const djs_worker_t *w, const djs_id_t *ids, uint32_t n, djs_id_t *out, uint32_t max)
{
    uint64_t now = now_ns(e), grace = e->cfg.heartbeat_ns * e->cfg.missed_heartbeats;
    uint32_t k = 0;
    for (uint32_t i = 0; i < w->njobs && k < max; i++) {
        const djs_job_t *j = djs_state_job_at(e->st, w->jobs[i]);
        if (j->state != DJS_JOB_RUNNING || j->started_ns + grace > now)
            continue;
        uint32_t f = 0;
        while (f < n && djs_id_cmp(&ids[f], &j->id) != 0)
            f++;
        if (f == n)
            out[k++] = j->id;
    }
    return k;
}

int djs_engine_unlisted(djs_engine_t *e, const djs_id_t *wid, const djs_id_t *ids, uint32_t n, uint64_t *seq)
{
    int rc = 0;
    djs_id_t gone[64];
    *seq = 0;
    const djs_worker_t *w = find_worker(e, wid, &rc);
    if (w == NULL)
        return rc;
    uint32_t k = unlisted(e, w, ids, n, gone, 64);
    for (uint32_t i = 0; i < k; i++) {
        const djs_job_t *j = djs_state_job(e->st, &gone[i]);
        djs_job_change_t c = {0};
        c.attempt = j->attempt;
        c.worker = *wid;
        c.reason = (djs_str_t){"lease_expired", 13};
        c.error = (djs_str_t){"the worker does not run it: its delivery never reached the worker", 65};
        c.retry_at = j->infra + 1u <= e->cfg.max_infra_retries ? now_ns(e) : 0;
        if ((rc = emit_change(e, DJS_EV_JOB_FAILED, &gone[i], SCHEDULER_ACTOR, &c, seq)) != 0)
            return rc;
        if (c.retry_at == 0 && (rc = cascade_upstream(e, &gone[i], seq)) != 0)
            return rc;
    }
    return 0;
}

int djs_engine_progress(djs_engine_t *e, const djs_id_t *wid, const djs_id_t *id, uint32_t attempt, uint32_t percent,
                        djs_str_t step, uint64_t eta_ns, uint64_t *seq)
{
    int rc = 0;
    const djs_job_t *j = fenced(e, wid, id, attempt, DJS_EV_JOB_PROGRESS, &rc);
    if (j == NULL)
        return rc;
    if (percent > 100)
        return refuse(e, DJS_EINVAL, "percentage must be 0 to 100");
    if (step.len > DJS_JOB_MAX_NAME)
        return refuse(e, DJS_ETOOBIG, "currentStep is longer than %d bytes", DJS_JOB_MAX_NAME);
    djs_job_change_t c = {0};
    c.attempt = attempt;
    c.percent = percent;
    c.step = step;
    c.eta = eta_ns;
    return emit_change(e, DJS_EV_JOB_PROGRESS, id, djs_state_worker(e->st, wid)->name, &c, seq);
}

int djs_engine_output(djs_engine_t *e, const djs_id_t *wid, const djs_id_t *id, uint32_t attempt, uint64_t offset,
                      const uint8_t *data, size_t len, uint64_t *seq, uint64_t *received)
{
    static const char marker[] = "\n[djs: output truncated: this attempt printed more than the limit]\n";
    int rc = 0;
    *seq = 0;
    const djs_job_t *j = fenced(e, wid, id, attempt, DJS_EV_JOB_OUTPUT, &rc);
    if (j == NULL)
        return rc;
    *received = j->out_recv;
    if (len > DJS_LOG_MAX_OUTPUT_CHUNK)
        return refuse(e, DJS_ETOOBIG, "an output chunk holds at most %u bytes", DJS_LOG_MAX_OUTPUT_CHUNK);
    uint32_t cap = e->cfg.output_cap;
    if (j->out_recv > cap) { /* truncated already: acknowledged, dropped, no event */
        *received = offset + len > j->out_recv ? offset + len : j->out_recv;
        return 0;
    }
    if (offset > j->out_recv)
        return refuse(e, DJS_ECONFLICT, "output offset %" PRIu64 " leaves a gap: %u bytes of this attempt were received", offset,
                      j->out_recv);
    uint64_t skip = j->out_recv - offset; /* a retried chunk: bytes already here */
    if (skip >= len)
        return 0;
    data += skip;
    len -= (size_t)skip;
    if (len > UINT32_MAX - j->out_recv || j->out_len > UINT32_MAX - DJS_LOG_MAX_OUTPUT_CHUNK)
        return refuse(e, DJS_ELIMIT, "this job's output is over 4 GiB");
    /* this attempt's bytes kept so far = received, up to the cap; keep up
     * to the cap, then the marker once */
    uint32_t kept = j->out_recv; /* <= cap here */
    size_t keep = cap - kept;
    if (keep > len)
        keep = len;
    int truncate = keep < len; /* this chunk crosses the cap */
    djs_job_change_t c = {0};
    c.attempt = attempt;
    c.out_offset = j->out_len;
    c.out_recv = (uint32_t)(j->out_recv + len);
    c.out_truncated = truncate;
    if (keep > 0 && (rc = djs_log_put_output(e->log, id, j->out_len, data, keep)) != 0)
        return rc;
    c.out_len = (uint32_t)keep;
    if (truncate && (rc = djs_log_put_output(e->log, id, j->out_len + keep, marker, sizeof(marker) - 1)) != 0)
        return rc;
    if (truncate)
        c.out_len += (uint32_t)(sizeof(marker) - 1);
    if (c.out_len > 0) { /* bind the stored bytes into the chain */
        djs_sha256_2(data, keep, marker, truncate ? sizeof(marker) - 1 : 0, c.out_sha);
        c.has_out_sha = 1;
    }
    if ((rc = emit_change(e, DJS_EV_JOB_OUTPUT, id, djs_state_worker(e->st, wid)->name, &c, seq)) != 0)
        return rc;
    *received = c.out_recv;
    return 0;
}

int djs_engine_complete(djs_engine_t *e, const djs_id_t *wid, const djs_id_t *id, uint32_t attempt, const uint8_t *result,
                        size_t result_len, uint64_t *seq)
{
    int rc = 0;
    const djs_job_t *j = fenced(e, wid, id, attempt, DJS_EV_JOB_SUCCEEDED, &rc);
    if (j == NULL)
        return rc;
    if (result_len > DJS_JOB_MAX_PAYLOAD || (result_len > 0 && djs_mp_validate(result, result_len, DJS_EVENT_MAX_DEPTH - 2) != 0))
        return refuse(e, DJS_EINVAL, "result is malformed, nested too deeply or larger than %u bytes", DJS_JOB_MAX_PAYLOAD);
    djs_job_change_t c = {0};
    c.attempt = attempt;
    c.result = result;
    c.result_len = result_len;
    if ((rc = emit_change(e, DJS_EV_JOB_SUCCEEDED, id, djs_state_worker(e->st, wid)->name, &c, seq)) != 0)
        return rc;
    return 0;
}

/* Failure of a run: retry with backoff while retries remain, else fail for good. */
static int fail_run(djs_engine_t *e, const djs_job_t *j, int type, const char *reason, djs_str_t error, const char *actor,
                    uint64_t *seq)
{
    djs_job_change_t c = {0};
    uint64_t now = now_ns(e);
    c.attempt = j->attempt;
    c.reason = (djs_str_t){reason, strlen(reason)};
    c.error = error;
    if ((uint32_t)j->failures + 1 <= j->max_retries)
        c.retry_at = now + djs_retry_backoff_ns(j->failures + 1u, e->cfg.retry_base_ns, e->cfg.retry_cap_ns, djs_rand_next(e->rng));
    djs_id_t id = j->id;
    int rc = emit_change(e, type, &id, actor, &c, seq);
    if (rc == 0 && c.retry_at == 0)
        rc = cascade_upstream(e, &id, seq);
    return rc;
}

int djs_engine_fail(djs_engine_t *e, const djs_id_t *wid, const djs_id_t *id, uint32_t attempt, djs_str_t error, uint64_t *seq)
{
    int rc = 0;
    const djs_job_t *j = fenced(e, wid, id, attempt, DJS_EV_JOB_FAILED, &rc);
    if (j == NULL)
        return rc;
    if (error.len > DJS_JOB_MAX_DESCRIPTION)
        error.len = DJS_JOB_MAX_DESCRIPTION;
    return fail_run(e, j, DJS_EV_JOB_FAILED, "error", error, djs_state_worker(e->st, wid)->name, seq);
}

/* ---- time-driven decisions and placement ----------------------------------------------------- */

static int on_timer_due(djs_engine_t *e, uint32_t slot, uint64_t now, uint64_t *seq)
{
    const djs_job_t *j = djs_state_job_at(e->st, slot);
    djs_job_change_t c = {0};
    djs_id_t id = j->id;
    switch (j->timer_kind) {
    case DJS_TIMER_DUE:
        c.reason = j->deadline_ns > 0 ? (djs_str_t){"due", 3} : (djs_str_t){"dependencies", 12};
        return emit_change(e, DJS_EV_JOB_QUEUED, &id, SCHEDULER_ACTOR, &c, seq);
    case DJS_TIMER_RETRY:
        c.reason = (djs_str_t){"retry", 5};
        return emit_change(e, DJS_EV_JOB_QUEUED, &id, SCHEDULER_ACTOR, &c, seq);
    case DJS_TIMER_LEASE:
        c.attempt = j->attempt;
        c.worker = djs_state_worker_at(e->st, j->worker)->id;
        if (j->infra + 1u > e->cfg.max_infra_retries) {
            c.reason = (djs_str_t){"lease_expired", 13};
            c.error = (djs_str_t){"no worker started it in time, too many times", 44};
            int rc = emit_change(e, DJS_EV_JOB_FAILED, &id, SCHEDULER_ACTOR, &c, seq);
            return rc == 0 ? cascade_upstream(e, &id, seq) : rc;
        }
        return emit_change(e, DJS_EV_JOB_LEASE_EXPIRED, &id, SCHEDULER_ACTOR, &c, seq);
    case DJS_TIMER_TIMEOUT:
        return fail_run(e, j, DJS_EV_JOB_TIMED_OUT, "timeout", (djs_str_t){"ran past timeoutSeconds", 23}, SCHEDULER_ACTOR, seq);
    }
    (void)now;
    return 0;
}

static int lose_worker(djs_engine_t *e, uint32_t ws, uint64_t now, uint64_t *seq)
{
    const djs_worker_t *w = djs_state_worker_at(e->st, ws);
    djs_id_t wid = w->id;
    int rc;
    while (w->njobs > 0) {
        const djs_job_t *j = djs_state_job_at(e->st, w->jobs[0]);
        djs_job_change_t c = {0};
        djs_id_t jid = j->id;
        c.attempt = j->attempt;
        c.reason = (djs_str_t){"worker_lost", 11};
        c.worker = wid;
        c.error = (djs_str_t){"the worker missed its heartbeats", 32};
        c.retry_at = j->infra + 1u <= e->cfg.max_infra_retries ? now : 0;
        if ((rc = emit_change(e, DJS_EV_JOB_FAILED, &jid, SCHEDULER_ACTOR, &c, seq)) != 0)
            return rc;
        if (c.retry_at == 0 && (rc = cascade_upstream(e, &jid, seq)) != 0)
            return rc;
        w = djs_state_worker_at(e->st, ws);
    }
    djs_worker_info_t wi = {0};
    djs_buf_reset(&e->body);
    djs_body_worker(&e->body, DJS_EV_WORKER_LOST, &wi, NULL, 0);
    return emit(e, DJS_EV_WORKER_LOST, &wid, SCHEDULER_ACTOR, seq);
}

static int check_liveness(djs_engine_t *e, uint64_t now, uint64_t *seq)
{
    uint64_t window = e->cfg.heartbeat_ns * e->cfg.missed_heartbeats;
    for (uint32_t ws = 0; ws < djs_state_nworker_slots(e->st); ws++) {
        const djs_worker_t *w = djs_state_worker_at(e->st, ws);
        if (w->status != DJS_WORKER_ACTIVE && w->status != DJS_WORKER_DRAINING)
            continue;
        live_t *l = live_of(e, w);
        if (l->last_seen_ns == 0)
            l->last_seen_ns = now; /* after a restart: a full window of grace */
        if (now > l->last_seen_ns + window) {
            int rc = lose_worker(e, ws, now, seq);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static int place(djs_engine_t *e, uint64_t now, uint64_t *seq)
{
    uint32_t js, ws;
    while (djs_state_next_placement(e->st, now, e->cfg.aging_ns, &js, &ws) == 0) {
        const djs_job_t *j = djs_state_job_at(e->st, js);
        const djs_worker_t *w = djs_state_worker_at(e->st, ws);
        djs_job_change_t c = {0};
        c.worker = w->id;
        c.attempt = j->attempt + 1;
        c.lease = now + e->cfg.lease_ns;
        djs_id_t jid = j->id, wid = w->id;
        int rc = emit_change(e, DJS_EV_JOB_SCHEDULED, &jid, SCHEDULER_ACTOR, &c, seq);
        if (rc == 0)
            rc = claim_placed(e, &wid, &jid);
        if (rc != 0)
            return rc;
        if (e->cfg.on_assign != NULL)
            e->cfg.on_assign(e->cfg.assign_arg, &wid, &jid);
    }
    return 0;
}

/* ---- the serving process ------------------------------------------------------------------ */

static int server_event(djs_engine_t *e, int type, int64_t pid, const char *listen, uint64_t *seq)
{
    djs_server_info_t si = {pid, {listen, strlen(listen)}};
    if (si.listen.len > DJS_SERVER_MAX_LISTEN)
        return refuse(e, DJS_ETOOBIG, "listen address is longer than %d bytes", DJS_SERVER_MAX_LISTEN);
    djs_id_t none;
    memset(&none, 0, sizeof(none));
    djs_buf_reset(&e->body);
    djs_body_server(&e->body, &si);
    return emit(e, type, &none, SERVER_ACTOR, seq);
}

int djs_engine_server_started(djs_engine_t *e, int64_t pid, const char *listen, uint64_t *seq)
{
    return server_event(e, DJS_EV_SERVER_STARTED, pid, listen, seq);
}

int djs_engine_server_stopped(djs_engine_t *e, int64_t pid, uint64_t *seq)
{
    return server_event(e, DJS_EV_SERVER_STOPPED, pid, "", seq);
}

/* ---- cluster roles ---------------------------------------------------------------------- */

void djs_engine_follow(djs_engine_t *e)
{
    e->following = 1;
}

int djs_engine_apply(djs_engine_t *e, const uint8_t *rec, size_t len)
{
    djs_event_t ev;
    int rc = djs_event_decode(rec, len, &ev);
    if (rc == 0 && (rc = djs_state_apply(e->st, &ev)) != 0)
        snprintf(e->errmsg, sizeof(e->errmsg), "%s at seq %" PRIu64 " does not apply (%s)", djs_event_type_name(ev.type), ev.seq,
                 djs_err_name(rc));
    return rc != 0 ? DJS_ECORRUPT : 0;
}

int djs_engine_lead(djs_engine_t *e, uint64_t term, uint64_t node, const char *url, uint32_t grace_ms, uint64_t *seq)
{
    djs_cluster_leader_t l = {term, node, {url, strlen(url)}, grace_ms};
    if (l.url.len > DJS_CLUSTER_MAX_URL)
        return refuse(e, DJS_ETOOBIG, "the leader URL is longer than %d bytes", DJS_CLUSTER_MAX_URL);
    e->following = 0;
    djs_buf_reset(&e->body);
    djs_body_cluster_leader(&e->body, &l);
    int rc = emit(e, DJS_EV_CLUSTER_LEADER, &djs_cluster_entity, SERVER_ACTOR, seq);
    if (rc != 0)
        return rc;
    /* the workers heartbeated the old leader: a full window from now, and
     * no lease expires during the grace */
    if (e->live != NULL)
        memset(e->live, 0, e->nlive * sizeof(*e->live));
    e->grace_until = now_ns(e) + (uint64_t)grace_ms * 1000000u;
    e->last_liveness_check = 0;
    return 0;
}

/* ---- snapshots ------------------------------------------------------------------------- */

int djs_engine_snapshot_busy(const djs_engine_t *e)
{
    return e->snapper != NULL && djs_snapshotter_busy(e->snapper);
}

static void maybe_snapshot(djs_engine_t *e)
{
    uint64_t seq = djs_state_seq(e->st);
    if (e->cfg.snapshot_every == 0 || e->cfg.snapshots_kept == 0 || seq < e->last_snapshot_seq + e->cfg.snapshot_every)
        return;
    /* refused, failed or skipped, the next try is snapshot_every events
     * later: not on every run */
    e->last_snapshot_seq = seq;
    if (e->snapper != NULL) {
        djs_snapshotter_start(e->snapper, e->st, seq); /* DJS_EBUSY: skip this one; DJS_EIO: noted */
        return;
    }
    djs_buf_t snap;
    djs_buf_init(&snap);
    djs_state_snapshot(e->st, &snap);
    if (djs_log_put_snapshot(e->log, seq, snap.base, snap.len, e->cfg.snapshots_kept) != 0)
        djs_notef(e->cfg.note, e->cfg.note_arg, "could not store a snapshot at seq %" PRIu64, seq);
    djs_buf_dispose(&snap);
}

uint64_t djs_engine_run(djs_engine_t *e)
{
    uint64_t seq = 0, now = now_ns(e);
    uint32_t slot;
    uint64_t deadline;
    int rc = 0;
    if (e->following) {
        maybe_snapshot(e);
        e->dirty = 0;
        return 0;
    }
    if (now >= e->last_liveness_check + e->cfg.heartbeat_ns / 5) {
        e->last_liveness_check = now;
        rc = check_liveness(e, now, &seq);
    }
    while (rc == 0 && djs_state_next_timer(e->st, &slot, &deadline) == 0 && deadline <= now) {
        if (now < e->grace_until && djs_state_job_at(e->st, slot)->timer_kind == DJS_TIMER_LEASE)
            break; /* a new leader's grace: the worker may have started it during the failover */
        rc = on_timer_due(e, slot, now, &seq);
    }
    if (rc == 0)
        rc = djs__sched_run(e, now, &seq);
    if (rc == 0)
        rc = place(e, now, &seq);
    if (rc == 0)
        maybe_snapshot(e);
    e->dirty = 0;
    return seq;
}

/* ---- loop integration -------------------------------------------------------------------- */

static void on_timer(uv_timer_t *h);

static void rearm(djs_engine_t *e)
{
    uint32_t slot;
    uint64_t deadline, now = now_ns(e), wait_ms = e->cfg.heartbeat_ns / 5 / 1000000;
    if (djs_state_next_timer(e->st, &slot, &deadline) == 0) {
        uint64_t ms = deadline > now ? (deadline - now + 999999) / 1000000 : 0;
        if (ms < wait_ms)
            wait_ms = ms;
    }
    if (djs__sched_next_due(e, &deadline) == 0) {
        uint64_t ms = deadline > now ? (deadline - now + 999999) / 1000000 : 0;
        if (ms < wait_ms)
            wait_ms = ms;
    }
    if (e->grace_until > now && (e->grace_until - now) / 1000000 + 1 < wait_ms)
        wait_ms = (e->grace_until - now) / 1000000 + 1;
    uv_timer_start(&e->timer, on_timer, wait_ms ? wait_ms : 1, 0);
}

static void on_timer(uv_timer_t *h)
{
    djs_engine_t *e = h->data;
    djs_engine_run(e);
    rearm(e);
}

static void on_check(uv_check_t *h)
{
    djs_engine_t *e = h->data;
    if (!e->dirty)
        return;
    djs_engine_run(e);
    rearm(e);
}

/* ---- open / close ---------------------------------------------------------------------------- */

int djs_engine_open(djs_engine_t **out, djs_log_t *log, uv_loop_t *loop, const djs_engine_config_t *c, uint64_t *replay_ns,
                    uint64_t *replayed)
{
    djs_engine_t *e = djs_calloc(1, sizeof(*e));
    if (c != NULL)
        e->cfg = *c;
    else
        djs_engine_config_init(&e->cfg);
    if (djs_weights_check(&e->cfg.state.weights) != 0) {
        djs_free(e);
        return DJS_EINVAL;
    }
    e->log = log;
    djs_buf_init(&e->body);
    /* a fixed seed (tests, benchmarks) is mixed with the log's length, so a
     * reopened engine does not draw the ids it drew before */
    uint64_t seed = e->cfg.seed;
    if (seed != 0)
        seed ^= djs_log_last_seq(log) * 0x9e3779b97f4a7c15ULL;
    djs_rand_seed(e->rng, seed ? seed : djs_wall_ns());
    djs_idgen_init(&e->ids, seed);
    uint64_t t0 = djs_monotonic_ns();
    djs_rebuild_report_t rep;
    int rc = djs_state_rebuild(log, &e->cfg.state, djs_log_last_seq(log), &e->st, &rep);
    note_lines(e, rep.notes);
    if (rc != 0) {
        djs_buf_dispose(&e->body);
        djs_free(e);
        return rc;
    }
    e->last_snapshot_seq = djs_state_seq(e->st);
    e->sched = djs__sched_rt_open(e);
    if (replay_ns != NULL)
        *replay_ns = djs_monotonic_ns() - t0;
    if (replayed != NULL)
        *replayed = rep.applied;
    if (loop != NULL) {
        e->loop = loop;
        e->snapper = djs_snapshotter_new(loop, log, e->cfg.snapshots_kept, e->cfg.note, e->cfg.note_arg);
        uv_timer_init(loop, &e->timer);
        uv_check_init(loop, &e->check);
        e->timer.data = e->check.data = e;
        uv_check_start(&e->check, on_check);
        uv_unref((uv_handle_t *)&e->check);
        e->handles = 2;
        rearm(e);
        uv_unref((uv_handle_t *)&e->timer);
    }
    *out = e;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    djs_engine_t *e = h->data;
    if (--e->handles == 0)
        djs_free(e);
}

int djs_engine_state_at(djs_engine_t *e, uint64_t seq, const djs_state_t **out)
{
    /* the live state at its own, durable seq is that point: no replay (the
     * dashboard pins its first read at the durable seq, usually this one) */
    if (seq == djs_state_seq(e->st) && seq <= djs_log_durable_seq(e->log)) {
        *out = e->st;
        return 0;
    }
    if (e->tt == NULL)
        e->tt = djs_state_cache_new(e->log, &e->cfg.state);
    return djs_state_cache_at(e->tt, seq, out);
}

void djs_engine_close(djs_engine_t *e)
{
    if (e == NULL)
        return;
    djs_state_cache_free(e->tt);
    djs__sched_rt_close(e->sched);
    djs_state_free(e->st);
    djs_buf_dispose(&e->body);
    djs_free(e->live);
    if (e->loop != NULL) {
        djs_snapshotter_close(e->snapper);
        uv_close((uv_handle_t *)&e->timer, on_closed);
        uv_close((uv_handle_t *)&e->check, on_closed);
        return;
    }
    djs_free(e);
}
