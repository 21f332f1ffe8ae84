/* Helpers shared by tests/test_engine.c and tests/test_state.c: a log with
 * an injected clock, an engine opened without a loop, workers and jobs made
 * in one line, a job's history read back from the log, and replays. */
#ifndef DJS_TESTS_ENGINETEST_H
#define DJS_TESTS_ENGINETEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/bodies.h"
#include "core/error.h"
#include "core/event.h"
#include "core/job.h"
#include "eventlog/log.h"
#include "projections/jobview.h"
#include "projections/state.h"
#include "scheduler/engine.h"
#include "testutil.h"

#define ET_SEC 1000000000ULL
#define ET_MS 1000000ULL
#define ET_T0 (1700000000ULL * ET_SEC) /* the fake clock starts here */
#define ET_S(lit) ((djs_str_t){(lit), sizeof(lit) - 1})

/* REQ_RC(call, want): a cheap assertion like REQ and REQ_EQ (testutil.h)
 * on a return code, naming both errors. */
#define REQ_RC(call, want)                                                                                                         \
    do {                                                                                                                           \
        int rc_ = (call);                                                                                                          \
        if (rc_ != (want))                                                                                                         \
            ck_abort_msg("%s:%d: %s gave %s, want %s", __FILE__, __LINE__, #call, djs_err_name(rc_), djs_err_name(want));          \
    } while (0)

typedef struct et {
    char dir[4096];
    uint64_t now; /* the fake clock: the log reads it through et_clock */
    djs_log_t *log;
    djs_engine_t *e;
    djs_engine_config_t cfg;
} et_t;

static inline uint64_t et_clock(void *arg)
{
    return *(const uint64_t *)arg;
}

static inline void et_open_log(et_t *t)
{
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.clock = et_clock;
    o.clock_arg = &t->now;
    REQ_RC(djs_log_open(&t->log, t->dir, &o), 0);
}

static inline void et_open_engine(et_t *t, uint64_t *replayed)
{
    REQ_RC(djs_engine_open(&t->e, t->log, NULL, &t->cfg, NULL, replayed), 0);
}

/* A fresh log in a fresh directory, and an engine with cfg (NULL: the
 * defaults with seed 1). t must stay where it is until et_close. */
static inline void et_open(et_t *t, const djs_engine_config_t *cfg)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "%s", tu_tmpdir());
    t->now = ET_T0;
    if (cfg != NULL) {
        t->cfg = *cfg;
    } else {
        djs_engine_config_init(&t->cfg);
        t->cfg.seed = 1;
    }
    et_open_log(t);
    et_open_engine(t, NULL);
}

static inline void et_close(et_t *t)
{
    if (t->e != NULL)
        djs_engine_close(t->e);
    if (t->log != NULL)
        djs_log_close(t->log);
    t->e = NULL;
    t->log = NULL;
}

/* Close the engine and the log, open both again; *replayed (may be NULL)
 * says how many events the engine applied on open. */
static inline void et_reopen(et_t *t, uint64_t *replayed)
{
    et_close(t);
    et_open_log(t);
    et_open_engine(t, replayed);
}

static inline const djs_state_t *et_st(et_t *t)
{
    return djs_engine_state(t->e);
}

static inline uint64_t et_run(et_t *t)
{
    return djs_engine_run(t->e);
}

static inline void et_advance(et_t *t, uint64_t ns)
{
    t->now += ns;
}

static inline void et_sync(et_t *t)
{
    REQ_RC(djs_log_sync(t->log), 0);
}

static inline void et_digest(et_t *t, uint8_t out[32])
{
    djs_state_digest(et_st(t), out);
}

/* ---- workers ---------------------------------------------------------------- */

static inline int et_register(et_t *t, const char *name, uint32_t slots, const djs_str_t *caps, uint32_t ncaps, djs_id_t *id)
{
    djs_worker_info_t w;
    uint64_t seq;
    memset(&w, 0, sizeof(w));
    w.name = (djs_str_t){name, strlen(name)};
    w.host = ET_S("testhost");
    w.slots = slots;
    return djs_engine_register(t->e, "admin", &w, caps, ncaps, id, &seq);
}

static inline djs_id_t et_worker(et_t *t, const char *name, uint32_t slots)
{
    djs_id_t id;
    REQ_RC(et_register(t, name, slots, NULL, 0, &id), 0);
    return id;
}

/* ---- jobs -------------------------------------------------------------------- */

static inline void et_req(djs_job_request_t *r, const char *name, int prio)
{
    memset(r, 0, sizeof(*r));
    r->spec.name = (djs_str_t){name, strlen(name)};
    r->spec.priority = (uint8_t)prio;
}

/* Submit one job as the API does: the final state of dependencies that
 * are no longer live is read from the log first (djs_job_view_final). */
static inline int et_submit_req(et_t *t, const djs_job_request_t *r, djs_id_t *id)
{
    uint64_t seq;
    int existed, final[DJS_JOB_MAX_DEPS];
    djs_job_request_t q = *r;
    for (uint32_t k = 0; k < q.ndep_ids && k < DJS_JOB_MAX_DEPS; k++) {
        final[k] = DJS_JOB_FINAL_UNKNOWN;
        if (djs_state_job(et_st(t), &q.dep_ids[k]) == NULL)
            djs_job_view_final(t->log, &q.dep_ids[k], &final[k]);
    }
    q.dep_final = final;
    return djs_engine_submit(t->e, "alice", &q, 1, id, &seq, &existed);
}

static inline djs_id_t et_job(et_t *t, const char *name, int prio)
{
    djs_job_request_t r;
    djs_id_t id;
    et_req(&r, name, prio);
    REQ_RC(et_submit_req(t, &r, &id), 0);
    return id;
}

static inline const djs_job_t *et_jobp(et_t *t, const djs_id_t *id)
{
    return djs_state_job(et_st(t), id);
}

static inline int et_state_of(et_t *t, const djs_id_t *id)
{
    const djs_job_t *j = et_jobp(t, id);
    return j == NULL ? -1 : j->state;
}

/* The worker a job is placed on (nil id if none). */
static inline djs_id_t et_worker_of(et_t *t, const djs_id_t *id)
{
    djs_id_t nil;
    memset(&nil, 0, sizeof(nil));
    const djs_job_t *j = et_jobp(t, id);
    if (j == NULL || j->worker == DJS_NONE)
        return nil;
    return djs_state_worker_at(et_st(t), j->worker)->id;
}

static inline int et_id_eq(const djs_id_t *a, const djs_id_t *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

/* Start and complete the job's current assignment. */
static inline void et_finish(et_t *t, const djs_id_t *job)
{
    const djs_job_t *j = et_jobp(t, job);
    REQ(j != NULL && j->state == DJS_JOB_SCHEDULED);
    uint32_t att = j->attempt;
    djs_id_t w = et_worker_of(t, job);
    uint64_t seq;
    REQ_RC(djs_engine_start(t->e, &w, job, att, &seq), 0);
    REQ_RC(djs_engine_complete(t->e, &w, job, att, NULL, 0, &seq), 0);
}

/* ---- history ----------------------------------------------------------------- */

#define ET_HIST_MAX 256

typedef struct et_hist_ent {
    uint16_t type;
    uint64_t seq, ts;
    djs_job_change_t c; /* decoded for job events other than job.submitted */
    char reason[64], error[128];
} et_hist_ent_t;

typedef struct et_hist {
    et_hist_ent_t ev[ET_HIST_MAX];
    int n;
} et_hist_t;

static inline int et_hist_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    et_hist_t *h = arg;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0 || h->n >= ET_HIST_MAX)
        return 1;
    et_hist_ent_t *x = &h->ev[h->n++];
    memset(x, 0, sizeof(*x));
    x->type = ev.type;
    x->seq = seq;
    x->ts = ev.ts_ns;
    if (ev.type != DJS_EV_JOB_SUBMITTED && ev.type < DJS_EV_WORKER_REGISTERED &&
        djs_body_read_job_change(ev.body, ev.body_len, &x->c) == 0) {
        snprintf(x->reason, sizeof(x->reason), "%.*s", (int)x->c.reason.len, x->c.reason.p);
        snprintf(x->error, sizeof(x->error), "%.*s", (int)x->c.error.len, x->c.error.p);
        /* the strings point into the map: keep only our copies */
        x->c.reason = (djs_str_t){NULL, 0};
        x->c.error = x->c.step = x->c.name = x->c.description = x->c.reason;
        x->c.result = NULL;
    }
    return 0;
}

/* The durable history of one entity (syncs the log first). */
static inline void et_history(et_t *t, const djs_id_t *id, et_hist_t *h)
{
    et_sync(t);
    h->n = 0;
    REQ_RC(djs_log_scan_entity(t->log, id, 0, UINT64_MAX, et_hist_visit, h), 0);
}

static inline int et_count_type(const et_hist_t *h, int type)
{
    int n = 0;
    for (int i = 0; i < h->n; i++)
        n += h->ev[i].type == type;
    return n;
}

/* The last event of that type, or NULL. */
static inline const et_hist_ent_t *et_last_of(const et_hist_t *h, int type)
{
    for (int i = h->n; i-- > 0;)
        if (h->ev[i].type == type)
            return &h->ev[i];
    return NULL;
}

/* ---- replay -------------------------------------------------------------------- */

typedef struct et_replay {
    djs_state_t *st;
    int rc;
    uint64_t bad_seq;
} et_replay_t;

static inline int et_replay_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    et_replay_t *r = arg;
    djs_event_t ev;
    int rc = djs_event_decode(rec, len, &ev);
    if (rc == 0)
        rc = djs_state_apply(r->st, &ev);
    if (rc != 0) {
        r->rc = rc;
        r->bad_seq = seq;
        return 1;
    }
    return 0;
}

/* Apply records from..to of the (durable) log to st. */
static inline void et_apply_range(djs_log_t *log, djs_state_t *st, uint64_t from, uint64_t to)
{
    et_replay_t r = {st, 0, 0};
    if (from > to)
        return;
    int rc = djs_log_scan(log, from, to, et_replay_visit, &r);
    if (r.rc != 0)
        ck_abort_msg("replay: event %llu does not apply: %s", (unsigned long long)r.bad_seq, djs_err_name(r.rc));
    REQ_RC(rc, 0);
}

/* A fresh state replayed from seq 1 to `to`. */
static inline djs_state_t *et_replay(djs_log_t *log, const djs_state_config_t *c, uint64_t to)
{
    djs_state_t *st = djs_state_new(c);
    et_apply_range(log, st, 1, to);
    return st;
}

static inline void et_hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

#endif
