/* The engine: commands in, events out, driven by an injected clock (the
 * log's clock source) and djs_engine_run instead of a loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/balancer.h"
#include "enginetest.h"

static void hb(et_t *t, const djs_id_t *w)
{
    uint64_t seq;
    const djs_worker_t *wp = djs_state_worker(et_st(t), w);
    REQ(wp != NULL);
    REQ_RC(djs_engine_heartbeat(t->e, w, wp->cpu_pm, wp->mem_pm, wp->resp_ms, &seq), 0);
}

/* Advance the clock in steps of at most 4 s, keeping the given workers alive. */
static void advance_alive(et_t *t, uint64_t ns, const djs_id_t *ws, int nw)
{
    while (ns > 0) {
        uint64_t d = ns > 4 * ET_SEC ? 4 * ET_SEC : ns;
        et_advance(t, d);
        ns -= d;
        for (int i = 0; i < nw; i++)
            hb(t, &ws[i]);
    }
}

static int errmsg_has(et_t *t, const char *needle)
{
    const char *m = djs_engine_errmsg(t->e);
    return m != NULL && m[0] != '\0' && strstr(m, needle) != NULL;
}

/* ---- life cycle ------------------------------------------------------------------ */

START_TEST(full_lifecycle)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w1", 2);
    djs_id_t j = et_job(&t, "build", DJS_PRIO_NORMAL);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_QUEUED);

    uint64_t before = t.now;
    ck_assert_uint_gt(et_run(&t), 0);
    const djs_job_t *jp = et_jobp(&t, &j);
    ck_assert_int_eq(jp->state, DJS_JOB_SCHEDULED);
    ck_assert_uint_eq(jp->attempt, 1);
    djs_id_t on = et_worker_of(&t, &j);
    ck_assert(et_id_eq(&on, &w));
    ck_assert_uint_ge(jp->deadline_ns, before + t.cfg.lease_ns);
    ck_assert_uint_le(jp->deadline_ns, before + t.cfg.lease_ns + ET_MS);

    djs_assignment_t a[4];
    uint32_t n = 0;
    ck_assert_int_eq(djs_engine_poll(t.e, &w, a, 4, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert(et_id_eq(&a[0].job, &j));
    ck_assert_uint_eq(a[0].attempt, 1);
    ck_assert_uint_eq(a[0].lease_ns, jp->deadline_ns);
    ck_assert_uint_eq(a[0].submit_seq, jp->submit_seq);
    /* its placement: the server hands the assignment out once that is durable */
    et_sync(&t);
    djs_buf_t rec;
    djs_buf_init(&rec);
    djs_event_t sev;
    ck_assert_int_eq(djs_log_get(t.log, a[0].seq, &rec), 0);
    ck_assert_int_eq(djs_event_decode(rec.base, rec.len, &sev), 0);
    ck_assert_uint_eq(sev.type, DJS_EV_JOB_SCHEDULED);
    ck_assert(et_id_eq(&sev.entity, &j));
    djs_buf_dispose(&rec);

    uint64_t seq;
    ck_assert_int_eq(djs_engine_start(t.e, &w, &j, 1, &seq), 0);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_RUNNING);
    /* the same start again (its answer was lost): acknowledged, no event */
    uint64_t last = djs_log_last_seq(t.log), again = 99;
    ck_assert_int_eq(djs_engine_start(t.e, &w, &j, 1, &again), 0);
    ck_assert_uint_eq(again, 0);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    djs_id_t other = et_worker(&t, "w2", 1);
    ck_assert_int_eq(djs_engine_start(t.e, &other, &j, 1, &again), DJS_ESTALE); /* not for another worker */
    ck_assert_int_eq(djs_engine_poll(t.e, &w, a, 4, &n), 0);
    ck_assert_uint_eq(n, 0); /* started: no longer an assignment to pick up */
    ck_assert_int_eq(djs_engine_progress(t.e, &w, &j, 1, 50, ET_S("half way"), 0, &seq), 0);
    ck_assert_uint_eq(et_jobp(&t, &j)->percent, 50);
    const uint8_t result[] = {0x81, 0xa2, 'o', 'k', 0xc3}; /* {"ok": true} */
    ck_assert_int_eq(djs_engine_complete(t.e, &w, &j, 1, result, sizeof(result), &seq), 0);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_COMPLETED);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->completed, 1);
    ck_assert_uint_eq(djs_state_worker(et_st(&t), &w)->running, 0);

    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &j, h);
    const int want[] = {DJS_EV_JOB_SUBMITTED, DJS_EV_JOB_SCHEDULED, DJS_EV_JOB_STARTED, DJS_EV_JOB_PROGRESS, DJS_EV_JOB_SUCCEEDED};
    ck_assert_int_eq(h->n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(h->ev[i].type, want[i]);
    ck_assert(et_id_eq(&h->ev[1].c.worker, &w));
    ck_assert_uint_eq(h->ev[1].c.attempt, 1);
    ck_assert_uint_eq(h->ev[1].c.lease, jp->deadline_ns);
    ck_assert_uint_eq(h->ev[4].seq, seq);
    free(h);
    et_close(&t);
}
END_TEST

START_TEST(state_machine_refusals)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w1", 4);
    djs_id_t a = et_job(&t, "a", DJS_PRIO_NORMAL), b = et_job(&t, "b", DJS_PRIO_NORMAL);
    et_run(&t);
    uint64_t seq;
    uint32_t at = et_jobp(&t, &a)->attempt, bt = et_jobp(&t, &b)->attempt;

    /* start twice: the second is a retried request (its answer was lost), acknowledged without an event */
    ck_assert_int_eq(djs_engine_start(t.e, &w, &a, at, &seq), 0);
    ck_assert_int_eq(djs_engine_start(t.e, &w, &a, at, &seq), 0);
    ck_assert_uint_eq(seq, 0);
    /* complete (and progress) before start */
    ck_assert_int_eq(djs_engine_complete(t.e, &w, &b, bt, NULL, 0, &seq), DJS_ECONFLICT);
    ck_assert(errmsg_has(&t, "SCHEDULED"));
    ck_assert_int_eq(djs_engine_progress(t.e, &w, &b, bt, 10, ET_S(""), 0, &seq), DJS_ECONFLICT);
    ck_assert_int_eq(et_state_of(&t, &b), DJS_JOB_SCHEDULED);
    /* delete a RUNNING (and a SCHEDULED) job */
    ck_assert_int_eq(djs_engine_delete(t.e, "admin", &a, &seq), DJS_ECONFLICT);
    ck_assert(errmsg_has(&t, "RUNNING"));
    ck_assert_int_eq(djs_engine_delete(t.e, "admin", &b, &seq), DJS_ECONFLICT);
    ck_assert(errmsg_has(&t, "SCHEDULED"));
    /* retry a job that has not failed */
    ck_assert_int_eq(djs_engine_retry(t.e, "admin", &a, &seq), DJS_ECONFLICT);
    ck_assert(errmsg_has(&t, "FAILED"));
    /* cancel a COMPLETED job, retry it, update it */
    ck_assert_int_eq(djs_engine_complete(t.e, &w, &a, at, NULL, 0, &seq), 0);
    ck_assert_int_eq(djs_engine_cancel(t.e, "admin", &a, &seq), DJS_ECONFLICT);
    ck_assert(errmsg_has(&t, "COMPLETED"));
    ck_assert_int_eq(djs_engine_retry(t.e, "admin", &a, &seq), DJS_ECONFLICT);
    ck_assert(errmsg_has(&t, "COMPLETED"));
    djs_job_change_t ch;
    memset(&ch, 0, sizeof(ch));
    ch.has_priority = 1;
    ch.priority = DJS_PRIO_HIGH;
    ck_assert_int_eq(djs_engine_update(t.e, "admin", &a, &ch, &seq), DJS_ECONFLICT);
    /* a cancelled job cannot be cancelled again */
    ck_assert_int_eq(djs_engine_cancel(t.e, "admin", &b, &seq), 0);
    ck_assert_int_eq(djs_engine_cancel(t.e, "admin", &b, &seq), DJS_ECONFLICT);
    ck_assert(errmsg_has(&t, "CANCELLED"));
    /* unknown job: every command */
    djs_id_t ghost;
    memset(&ghost, 0x5a, sizeof(ghost));
    ck_assert_int_eq(djs_engine_cancel(t.e, "admin", &ghost, &seq), DJS_ENOTFOUND);
    ck_assert(errmsg_has(&t, "not found"));
    ck_assert_int_eq(djs_engine_retry(t.e, "admin", &ghost, &seq), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_engine_delete(t.e, "admin", &ghost, &seq), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_engine_update(t.e, "admin", &ghost, &ch, &seq), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_engine_start(t.e, &w, &ghost, 1, &seq), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_engine_complete(t.e, &w, &ghost, 1, NULL, 0, &seq), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_engine_fail(t.e, &w, &ghost, 1, ET_S("x"), &seq), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &ghost, 1, 1, 1, &seq), DJS_ENOTFOUND);
    /* the refusals appended nothing a replay would disagree with */
    et_sync(&t);
    djs_state_t *st = et_replay(t.log, &t.cfg.state, djs_log_last_seq(t.log));
    uint8_t d1[32], d2[32];
    djs_state_digest(st, d1);
    et_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);
    djs_state_free(st);
    et_close(&t);
}
END_TEST

/* ---- fencing ------------------------------------------------------------------------ */

START_TEST(fencing_after_lease_expiry)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 7;
    cfg.lease_ns = 10 * ET_SEC;
    et_t t;
    et_open(&t, &cfg);
    djs_id_t ws[2];
    ws[0] = et_worker(&t, "w1", 1);
    ws[1] = et_worker(&t, "w2", 1);
    djs_id_t j = et_job(&t, "fenced", DJS_PRIO_NORMAL);
    et_run(&t);
    ck_assert_uint_eq(et_jobp(&t, &j)->attempt, 1);
    djs_id_t first = et_worker_of(&t, &j);

    /* nobody starts it: the lease runs out, it is queued and placed again */
    advance_alive(&t, 11 * ET_SEC, ws, 2);
    et_run(&t);
    const djs_job_t *jp = et_jobp(&t, &j);
    ck_assert_int_eq(jp->state, DJS_JOB_SCHEDULED);
    ck_assert_uint_eq(jp->attempt, 2);
    ck_assert_uint_eq(jp->infra, 1);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->lease_expired, 1);
    djs_id_t cur = et_worker_of(&t, &j);
    djs_id_t other = et_id_eq(&cur, &ws[0]) ? ws[1] : ws[0];

    uint64_t seq;
    /* attempt 1 is stale, whoever reports it */
    ck_assert_int_eq(djs_engine_start(t.e, &first, &j, 1, &seq), DJS_ESTALE);
    ck_assert(errmsg_has(&t, "attempt"));
    ck_assert_int_eq(djs_engine_start(t.e, &cur, &j, 1, &seq), DJS_ESTALE);
    /* the right attempt from the wrong worker is stale too */
    ck_assert_int_eq(djs_engine_start(t.e, &other, &j, 2, &seq), DJS_ESTALE);
    ck_assert_int_eq(djs_engine_start(t.e, &cur, &j, 2, &seq), 0);
    ck_assert_int_eq(djs_engine_progress(t.e, &cur, &j, 1, 10, ET_S(""), 0, &seq), DJS_ESTALE);
    ck_assert_int_eq(djs_engine_complete(t.e, &cur, &j, 1, NULL, 0, &seq), DJS_ESTALE);
    ck_assert_int_eq(djs_engine_fail(t.e, &cur, &j, 1, ET_S("old"), &seq), DJS_ESTALE);
    ck_assert_int_eq(djs_engine_complete(t.e, &other, &j, 2, NULL, 0, &seq), DJS_ESTALE);
    ck_assert_int_eq(djs_engine_fail(t.e, &other, &j, 2, ET_S("x"), &seq), DJS_ESTALE);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_RUNNING);
    ck_assert_int_eq(djs_engine_complete(t.e, &cur, &j, 2, NULL, 0, &seq), 0);
    /* no job completes twice */
    int rc = djs_engine_complete(t.e, &cur, &j, 2, NULL, 0, &seq);
    ck_assert(rc == DJS_ESTALE || rc == DJS_ECONFLICT);
    ck_assert_int_eq(djs_engine_fail(t.e, &cur, &j, 2, ET_S("late"), &seq) != 0, 1);
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &j, h);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_SUCCEEDED), 1);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_LEASE_EXPIRED), 1);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_SCHEDULED), 2);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_STARTED), 1);
    free(h);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_COMPLETED);
    et_close(&t);
}
END_TEST

/* ---- dependencies ------------------------------------------------------------------------- */

static void wf_req(djs_job_request_t *r, const char *key, const djs_str_t *deps, uint32_t ndeps)
{
    et_req(r, key, DJS_PRIO_NORMAL);
    r->key = (djs_str_t){key, strlen(key)};
    r->dep_keys = deps;
    r->ndep_keys = ndeps;
}

/* A diamond A <- B, C <- D, listed out of order; ids[0..3] = A, B, C, D. */
static int submit_diamond(et_t *t, uint32_t a_retries, djs_id_t ids[4])
{
    static const djs_str_t dA[] = {{"A", 1}}, dBC[] = {{"B", 1}, {"C", 1}};
    djs_job_request_t r[4];
    djs_id_t out[4];
    wf_req(&r[0], "D", dBC, 2);
    wf_req(&r[1], "C", dA, 1);
    wf_req(&r[2], "A", NULL, 0);
    wf_req(&r[3], "B", dA, 1);
    r[2].spec.max_retries = a_retries;
    uint64_t seq;
    int existed;
    int rc = djs_engine_submit(t->e, "alice", r, 4, out, &seq, &existed);
    ids[0] = out[2];
    ids[1] = out[3];
    ids[2] = out[1];
    ids[3] = out[0];
    return rc;
}

START_TEST(dag_diamond_and_refusals)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w", 8);
    (void)w;
    djs_id_t d[4];
    ck_assert_int_eq(submit_diamond(&t, 0, d), 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &d[0]), DJS_JOB_SCHEDULED);
    for (int i = 1; i < 4; i++)
        ck_assert_int_eq(et_state_of(&t, &d[i]), DJS_JOB_CREATED);
    et_finish(&t, &d[0]);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &d[1]), DJS_JOB_SCHEDULED);
    ck_assert_int_eq(et_state_of(&t, &d[2]), DJS_JOB_SCHEDULED);
    ck_assert_int_eq(et_state_of(&t, &d[3]), DJS_JOB_CREATED);
    et_finish(&t, &d[1]);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &d[3]), DJS_JOB_CREATED);
    ck_assert_uint_eq(et_jobp(&t, &d[3])->unmet, 1);
    et_finish(&t, &d[2]);
    uint64_t c_done = djs_log_last_seq(t.log);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &d[3]), DJS_JOB_SCHEDULED);
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &d[3], h);
    const et_hist_ent_t *q = et_last_of(h, DJS_EV_JOB_QUEUED);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_gt(q->seq, c_done);
    ck_assert_str_eq(q->reason, "dependencies");
    free(h);

    uint64_t last = djs_log_last_seq(t.log), seq;
    int existed;
    djs_id_t out[3];
    /* a cycle by keys: refused, nothing appended */
    static const djs_str_t kA[] = {{"A", 1}}, kB[] = {{"B", 1}}, kC[] = {{"C", 1}}, kZ[] = {{"Z", 1}};
    djs_job_request_t r[3];
    wf_req(&r[0], "A", kC, 1);
    wf_req(&r[1], "B", kA, 1);
    wf_req(&r[2], "C", kB, 1);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", r, 3, out, &seq, &existed), DJS_ECYCLE);
    ck_assert(errmsg_has(&t, "cycle"));
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    /* a self-dependency is a cycle too */
    wf_req(&r[0], "A", kA, 1);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", r, 1, out, &seq, &existed), DJS_ECYCLE);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    /* an unknown key */
    wf_req(&r[0], "A", NULL, 0);
    wf_req(&r[1], "B", kZ, 1);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", r, 2, out, &seq, &existed), DJS_ENOTFOUND);
    ck_assert(errmsg_has(&t, "'Z'"));
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    /* a key used twice */
    wf_req(&r[1], "A", NULL, 0);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", r, 2, out, &seq, &existed), DJS_ECONFLICT);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    /* an unknown dependency id */
    djs_id_t ghost;
    memset(&ghost, 0x77, sizeof(ghost));
    et_req(&r[0], "x", DJS_PRIO_NORMAL);
    r[0].dep_ids = &ghost;
    r[0].ndep_ids = 1;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", r, 1, out, &seq, &existed), DJS_ENOTFOUND);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    /* a worker's id is not a job */
    r[0].dep_ids = &w;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", r, 1, out, &seq, &existed), DJS_ENOTFOUND);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);

    /* a dependency on a cancelled (or failed) job */
    djs_id_t x = et_job(&t, "x", DJS_PRIO_LOW);
    ck_assert_int_eq(djs_engine_cancel(t.e, "alice", &x, &seq), 0);
    last = djs_log_last_seq(t.log);
    et_req(&r[0], "y", DJS_PRIO_NORMAL);
    r[0].dep_ids = &x;
    r[0].ndep_ids = 1;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", r, 1, out, &seq, &existed), DJS_ECONFLICT);
    ck_assert(errmsg_has(&t, "CANCELLED"));
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    /* a dependency on a completed job is met at once */
    r[0].dep_ids = &d[0];
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", r, 1, out, &seq, &existed), 0);
    ck_assert_uint_eq(et_jobp(&t, &out[0])->unmet, 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &out[0]), DJS_JOB_SCHEDULED);
    et_close(&t);
}
END_TEST

START_TEST(dag_deep_chain)
{
    enum { N = DJS_WORKFLOW_MAX_JOBS };
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 4);
    static char keys[N][8];
    static djs_str_t prev[N];
    static djs_job_request_t r[N];
    static djs_id_t ids[N];
    /* listed last-first, so the engine has to order them */
    for (int i = 0; i < N; i++) {
        int k = N - 1 - i; /* r[i] is chain link k */
        snprintf(keys[k], sizeof(keys[k]), "k%d", k);
    }
    for (int i = 0; i < N; i++) {
        int k = N - 1 - i;
        wf_req(&r[i], keys[k], NULL, 0);
        if (k > 0) {
            prev[i] = (djs_str_t){keys[k - 1], strlen(keys[k - 1])};
            r[i].dep_keys = &prev[i];
            r[i].ndep_keys = 1;
        }
    }
    uint64_t seq;
    int existed;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", r, N, ids, &seq, &existed), 0);
    /* one more is over the limit */
    uint64_t last = djs_log_last_seq(t.log);
    static djs_job_request_t big[N + 1];
    static djs_id_t big_ids[N + 1];
    for (int i = 0; i < N + 1; i++)
        et_req(&big[i], "b", DJS_PRIO_NORMAL);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", big, N + 1, big_ids, &seq, &existed), DJS_ELIMIT);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);

    const djs_state_t *st = et_st(&t);
    for (int k = 0; k < N; k++) {
        et_run(&t);
        const djs_job_t *j = djs_state_job(st, &ids[N - 1 - k]);
        REQ_EQ(j->state, DJS_JOB_SCHEDULED);
        REQ_EQ(djs_state_metrics(st)->by_state[DJS_JOB_SCHEDULED], 1);
        REQ_EQ(djs_state_metrics(st)->by_state[DJS_JOB_CREATED], (uint64_t)(N - 1 - k));
        et_finish(&t, &ids[N - 1 - k]);
    }
    ck_assert_uint_eq(djs_state_metrics(st)->by_state[DJS_JOB_COMPLETED], N);
    et_close(&t);
}
END_TEST

START_TEST(upstream_failure_cascades)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w", 8);
    djs_id_t d[4], e[4];
    uint64_t seq;
    /* A fails for good (no retries left) */
    ck_assert_int_eq(submit_diamond(&t, 0, d), 0);
    et_run(&t);
    uint32_t at = et_jobp(&t, &d[0])->attempt;
    ck_assert_int_eq(djs_engine_start(t.e, &w, &d[0], at, &seq), 0);
    ck_assert_int_eq(djs_engine_fail(t.e, &w, &d[0], at, ET_S("exit 1"), &seq), 0);
    ck_assert_int_eq(et_state_of(&t, &d[0]), DJS_JOB_FAILED);
    ck_assert_int_eq(et_jobp(&t, &d[0])->fail_reason, DJS_FAIL_ERROR);
    for (int i = 1; i < 4; i++) {
        ck_assert_int_eq(et_state_of(&t, &d[i]), DJS_JOB_FAILED);
        ck_assert_int_eq(et_jobp(&t, &d[i])->fail_reason, DJS_FAIL_UPSTREAM);
    }
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &d[3], h);
    const et_hist_ent_t *u = et_last_of(h, DJS_EV_JOB_UPSTREAM_FAILED);
    ck_assert_ptr_nonnull(u);
    ck_assert(et_id_eq(&u->c.upstream, &d[0]));
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_UPSTREAM_FAILED), 1);
    /* an upstream-failed job cannot be retried before its dependency */
    ck_assert_int_eq(djs_engine_retry(t.e, "alice", &d[1], &seq), DJS_ECONFLICT);

    /* cancelling A does the same */
    ck_assert_int_eq(submit_diamond(&t, 0, e), 0);
    ck_assert_int_eq(djs_engine_cancel(t.e, "alice", &e[0], &seq), 0);
    ck_assert_int_eq(et_state_of(&t, &e[0]), DJS_JOB_CANCELLED);
    for (int i = 1; i < 4; i++) {
        ck_assert_int_eq(et_state_of(&t, &e[i]), DJS_JOB_FAILED);
        ck_assert_int_eq(et_jobp(&t, &e[i])->fail_reason, DJS_FAIL_UPSTREAM);
    }
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->upstream_failed, 6);
    et_run(&t);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->by_state[DJS_JOB_SCHEDULED], 0);

    /* retry A of the first diamond: it runs and completes; then B can be
     * retried and, once done with C, D too */
    ck_assert_int_eq(djs_engine_retry(t.e, "alice", &d[0], &seq), 0);
    et_run(&t);
    et_finish(&t, &d[0]);
    for (int i = 1; i < 3; i++) {
        ck_assert_int_eq(djs_engine_retry(t.e, "alice", &d[i], &seq), 0);
        et_run(&t);
        et_finish(&t, &d[i]);
    }
    ck_assert_int_eq(djs_engine_retry(t.e, "alice", &d[3], &seq), 0);
    et_run(&t);
    et_finish(&t, &d[3]);
    ck_assert_int_eq(et_state_of(&t, &d[3]), DJS_JOB_COMPLETED);

    /* deleting a job that others wait for fails them too */
    djs_id_t f[4];
    ck_assert_int_eq(submit_diamond(&t, 0, f), 0);
    ck_assert_int_eq(djs_engine_delete(t.e, "alice", &f[0], &seq), 0);
    ck_assert_ptr_null(et_jobp(&t, &f[0]));
    for (int i = 1; i < 4; i++)
        ck_assert_int_eq(et_jobp(&t, &f[i])->fail_reason, DJS_FAIL_UPSTREAM);
    /* and its dependents can never be retried */
    ck_assert_int_eq(djs_engine_retry(t.e, "alice", &f[1], &seq), DJS_ECONFLICT);
    free(h);
    et_close(&t);
}
END_TEST

START_TEST(cancel_in_a_zero_window)
{
    /* a cancelled job may be evicted by its own event: its dependents still fail */
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 8;
    cfg.state.max_terminal = 0;
    et_t t;
    et_open(&t, &cfg);
    djs_id_t d[4];
    ck_assert_int_eq(submit_diamond(&t, 0, d), 0);
    uint64_t seq;
    ck_assert_int_eq(djs_engine_cancel(t.e, "alice", &d[0], &seq), 0);
    ck_assert_ptr_null(et_jobp(&t, &d[0]));
    for (int i = 1; i < 4; i++)
        ck_assert_int_eq(et_jobp(&t, &d[i])->fail_reason, DJS_FAIL_UPSTREAM);
    et_sync(&t);
    djs_state_t *st = et_replay(t.log, &cfg.state, djs_log_last_seq(t.log));
    uint8_t a[32], b[32];
    djs_state_digest(st, a);
    et_digest(&t, b);
    ck_assert_mem_eq(a, b, 32);
    djs_state_free(st);
    et_close(&t);
}
END_TEST

START_TEST(update_job)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w", 1);
    djs_id_t blocker = et_job(&t, "blocker", DJS_PRIO_HIGH);
    et_run(&t);
    djs_id_t a = et_job(&t, "a", DJS_PRIO_LOW), b = et_job(&t, "b", DJS_PRIO_LOW);
    const djs_metrics_t *m = djs_state_metrics(et_st(&t));
    ck_assert_uint_eq(m->ready[DJS_PRIO_LOW], 2);
    djs_job_change_t c;
    memset(&c, 0, sizeof(c));
    c.has_priority = 2; /* any true value */
    c.priority = DJS_PRIO_HIGH;
    /* fields that do not belong to an update are not recorded */
    c.lease = 123;
    c.attempt = 9;
    c.retry_at = 5;
    c.worker = w;
    c.reason = ET_S("junk");
    uint64_t seq;
    ck_assert_int_eq(djs_engine_update(t.e, "alice", &b, &c, &seq), 0);
    ck_assert_uint_eq(m->ready[DJS_PRIO_LOW], 1);
    ck_assert_uint_eq(m->ready[DJS_PRIO_HIGH], 1);
    ck_assert_uint_eq(et_jobp(&t, &b)->prio, DJS_PRIO_HIGH);
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &b, h);
    const et_hist_ent_t *u = et_last_of(h, DJS_EV_JOB_UPDATED);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(u->c.has_priority, 1);
    ck_assert_uint_eq(u->c.priority, DJS_PRIO_HIGH);
    ck_assert_uint_eq(u->c.lease, 0);
    ck_assert_uint_eq(u->c.attempt, 0);
    ck_assert_uint_eq(u->c.retry_at, 0);
    ck_assert(djs_id_is_nil(&u->c.worker));
    ck_assert_str_eq(u->reason, "");
    ck_assert_int_eq(u->c.has_name + u->c.has_max_retries + u->c.has_timeout + u->c.has_description, 0);
    free(h);
    /* b now goes before a */
    et_finish(&t, &blocker);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &b), DJS_JOB_SCHEDULED);
    ck_assert_int_eq(et_state_of(&t, &a), DJS_JOB_QUEUED);
    /* refusals */
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(djs_engine_update(t.e, "alice", &a, &c, &seq), DJS_EINVAL);
    c.has_priority = 1;
    c.priority = 3;
    ck_assert_int_eq(djs_engine_update(t.e, "alice", &a, &c, &seq), DJS_EINVAL);
    memset(&c, 0, sizeof(c));
    c.has_max_retries = 1;
    c.max_retries = DJS_JOB_MAX_RETRIES + 1;
    ck_assert_int_eq(djs_engine_update(t.e, "alice", &a, &c, &seq), DJS_EINVAL);
    memset(&c, 0, sizeof(c));
    c.has_name = 1;
    ck_assert_int_eq(djs_engine_update(t.e, "alice", &a, &c, &seq), DJS_EINVAL);
    /* more retries for a running job take effect on its failure */
    memset(&c, 0, sizeof(c));
    c.has_max_retries = 1;
    c.max_retries = 1;
    uint32_t at = et_jobp(&t, &b)->attempt;
    ck_assert_int_eq(djs_engine_start(t.e, &w, &b, at, &seq), 0);
    ck_assert_int_eq(djs_engine_update(t.e, "alice", &b, &c, &seq), 0);
    ck_assert_int_eq(djs_engine_fail(t.e, &w, &b, at, ET_S("x"), &seq), 0);
    ck_assert_int_eq(et_state_of(&t, &b), DJS_JOB_QUEUED);
    et_close(&t);
}
END_TEST

/* ---- retries, timeouts, delays ------------------------------------------------------------ */

START_TEST(retries_with_backoff)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 11;
    cfg.retry_base_ns = 2 * ET_SEC;
    et_t t;
    et_open(&t, &cfg);
    djs_id_t w = et_worker(&t, "w", 1);
    djs_job_request_t r;
    et_req(&r, "flaky", DJS_PRIO_NORMAL);
    r.spec.max_retries = 3;
    djs_id_t j;
    ck_assert_int_eq(et_submit_req(&t, &r, &j), 0);
    et_hist_t *h = malloc(sizeof(*h));
    uint64_t seq;
    for (uint32_t k = 1; k <= 4; k++) {
        et_run(&t);
        const djs_job_t *jp = et_jobp(&t, &j);
        ck_assert_int_eq(jp->state, DJS_JOB_SCHEDULED);
        ck_assert_uint_eq(jp->attempt, k);
        ck_assert_int_eq(djs_engine_start(t.e, &w, &j, k, &seq), 0);
        et_advance(&t, ET_SEC);
        uint64_t now = t.now;
        ck_assert_int_eq(djs_engine_fail(t.e, &w, &j, k, ET_S("boom"), &seq), 0);
        et_history(&t, &j, h);
        const et_hist_ent_t *f = et_last_of(h, DJS_EV_JOB_FAILED);
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(f->seq, seq);
        ck_assert_str_eq(f->reason, "error");
        ck_assert_str_eq(f->error, "boom");
        ck_assert_uint_eq(f->c.attempt, k);
        if (k == 4) {
            /* the 4th failure is for good */
            ck_assert_uint_eq(f->c.retry_at, 0);
            ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_FAILED);
            ck_assert_int_eq(et_jobp(&t, &j)->fail_reason, DJS_FAIL_ERROR);
            break;
        }
        uint64_t d = cfg.retry_base_ns << (k - 1);
        ck_assert_uint_ge(f->c.retry_at, now + d / 2);
        ck_assert_uint_le(f->c.retry_at, now + d + ET_MS);
        ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_QUEUED);
        ck_assert_uint_eq(et_jobp(&t, &j)->failures, k);
        ck_assert_uint_eq(djs_state_metrics(et_st(&t))->delayed, 1);
        /* not placed before retry_at */
        t.now = f->c.retry_at - ET_MS;
        hb(&t, &w);
        et_run(&t);
        ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_QUEUED);
        ck_assert_uint_eq(et_jobp(&t, &j)->attempt, k);
        t.now = f->c.retry_at;
        hb(&t, &w);
    }
    /* a manual retry re-queues it with a fresh failure count */
    ck_assert_int_eq(djs_engine_retry(t.e, "alice", &j, &seq), 0);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_QUEUED);
    ck_assert_uint_eq(et_jobp(&t, &j)->failures, 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_SCHEDULED);
    ck_assert_uint_eq(et_jobp(&t, &j)->attempt, 5);
    et_history(&t, &j, h);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_RETRIED), 1);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_FAILED), 4);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_QUEUED), 3);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->retried, 1);
    free(h);
    et_close(&t);
}
END_TEST

START_TEST(timeouts)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w", 1);
    djs_job_request_t r;
    et_req(&r, "slow", DJS_PRIO_NORMAL);
    r.spec.timeout_s = 5;
    r.spec.max_retries = 1;
    djs_id_t j;
    ck_assert_int_eq(et_submit_req(&t, &r, &j), 0);
    uint64_t seq;
    et_run(&t);
    ck_assert_int_eq(djs_engine_start(t.e, &w, &j, 1, &seq), 0);
    advance_alive(&t, 4 * ET_SEC, &w, 1);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_RUNNING);
    advance_alive(&t, 2 * ET_SEC, &w, 1);
    et_run(&t);
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &j, h);
    const et_hist_ent_t *to = et_last_of(h, DJS_EV_JOB_TIMED_OUT);
    ck_assert_ptr_nonnull(to);
    ck_assert_str_eq(to->reason, "timeout");
    ck_assert_uint_gt(to->c.retry_at, to->ts);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_QUEUED);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->timed_out, 1);
    /* the late worker is told off */
    ck_assert_int_eq(djs_engine_complete(t.e, &w, &j, 1, NULL, 0, &seq), DJS_ESTALE);
    /* retried after the backoff, and timed out again: fails for good */
    t.now = to->c.retry_at;
    hb(&t, &w);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_SCHEDULED);
    ck_assert_int_eq(djs_engine_start(t.e, &w, &j, 2, &seq), 0);
    advance_alive(&t, 6 * ET_SEC, &w, 1);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_FAILED);
    ck_assert_int_eq(et_jobp(&t, &j)->fail_reason, DJS_FAIL_TIMEOUT);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->timed_out, 2);
    ck_assert_uint_eq(djs_state_worker(et_st(&t), &w)->running, 0);
    free(h);
    et_close(&t);
}
END_TEST

START_TEST(delayed_jobs)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w", 1);
    djs_job_request_t r;
    et_req(&r, "later", DJS_PRIO_HIGH);
    r.spec.scheduled_at = t.now + 60 * ET_SEC;
    djs_id_t j;
    ck_assert_int_eq(et_submit_req(&t, &r, &j), 0);
    /* a job due now is not delayed */
    djs_job_request_t r2;
    et_req(&r2, "now", DJS_PRIO_LOW);
    r2.spec.scheduled_at = t.now - ET_SEC;
    djs_id_t j2;
    ck_assert_int_eq(et_submit_req(&t, &r2, &j2), 0);
    ck_assert_int_eq(et_state_of(&t, &j2), DJS_JOB_QUEUED);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_CREATED);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->delayed, 1);
    ck_assert_int_eq(et_state_of(&t, &j2), DJS_JOB_SCHEDULED);
    et_finish(&t, &j2);
    advance_alive(&t, 59 * ET_SEC, &w, 1);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_CREATED);
    advance_alive(&t, 2 * ET_SEC, &w, 1);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_SCHEDULED);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->delayed, 0);
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &j, h);
    ck_assert_int_eq(h->n, 3);
    ck_assert_int_eq(h->ev[1].type, DJS_EV_JOB_QUEUED);
    ck_assert_str_eq(h->ev[1].reason, "due");
    ck_assert_uint_ge(h->ev[1].ts, r.spec.scheduled_at);
    free(h);
    et_close(&t);
}
END_TEST

/* ---- choosing jobs and workers ------------------------------------------------------------- */

/* Finish whatever is scheduled on the single-slot worker and return it. */
static djs_id_t next_run(et_t *t, const djs_id_t *w)
{
    djs_assignment_t a[2];
    uint32_t n;
    et_run(t);
    REQ_RC(djs_engine_poll(t->e, w, a, 2, &n), 0);
    REQ_EQ(n, 1);
    et_finish(t, &a[0].job);
    return a[0].job;
}

START_TEST(priority_without_aging)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 3;
    cfg.aging_ns = 0;
    et_t t;
    et_open(&t, &cfg);
    djs_id_t w = et_worker(&t, "w", 1);
    djs_id_t low = et_job(&t, "low", DJS_PRIO_LOW), normal = et_job(&t, "normal", DJS_PRIO_NORMAL), high[5];
    for (int i = 0; i < 5; i++) {
        advance_alive(&t, 30 * ET_SEC, &w, 1);
        high[i] = et_job(&t, "high", DJS_PRIO_HIGH);
    }
    for (int i = 0; i < 5; i++) {
        djs_id_t got = next_run(&t, &w);
        ck_assert_msg(et_id_eq(&got, &high[i]), "run %d is not HIGH #%d", i, i);
        advance_alive(&t, 30 * ET_SEC, &w, 1);
    }
    djs_id_t got = next_run(&t, &w);
    ck_assert(et_id_eq(&got, &normal));
    got = next_run(&t, &w);
    ck_assert(et_id_eq(&got, &low));
    et_close(&t);
}
END_TEST

static void aging_case(uint64_t low_waits, int low_first)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 4;
    cfg.aging_ns = 10 * ET_SEC;
    et_t t;
    et_open(&t, &cfg);
    djs_id_t w = et_worker(&t, "w", 1);
    djs_id_t blocker = et_job(&t, "blocker", DJS_PRIO_HIGH);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &blocker), DJS_JOB_SCHEDULED);
    djs_id_t low = et_job(&t, "low", DJS_PRIO_LOW);
    advance_alive(&t, low_waits, &w, 1);
    djs_id_t high[5];
    for (int i = 0; i < 5; i++)
        high[i] = et_job(&t, "high", DJS_PRIO_HIGH);
    et_finish(&t, &blocker);
    djs_id_t got = next_run(&t, &w);
    if (low_first) {
        ck_assert_msg(et_id_eq(&got, &low), "LOW waited %llu s and was not served first", (unsigned long long)(low_waits / ET_SEC));
        for (int i = 0; i < 5; i++) {
            got = next_run(&t, &w);
            ck_assert(et_id_eq(&got, &high[i]));
        }
    } else {
        ck_assert(et_id_eq(&got, &high[0]));
    }
    et_close(&t);
}

START_TEST(priority_with_aging)
{
    aging_case(21 * ET_SEC, 1); /* two tiers of boost: LOW ranks with HIGH and is older */
    aging_case(5 * ET_SEC, 0);  /* no boost yet */
    aging_case(15 * ET_SEC, 0); /* one tier: ranks with NORMAL */
}
END_TEST

static uint32_t expect_score(et_t *t, const djs_worker_t *w)
{
    return djs_worker_score(&t->cfg.state.weights, w->cpu_pm, w->mem_pm, w->running, w->slots, w->resp_ms);
}

START_TEST(balancer_scores)
{
    et_t t;
    et_open(&t, NULL);
    static const struct {
        const char *name;
        uint32_t slots, cpu, mem, resp;
    } spec[3] = {{"busy", 4, 800, 700, 20}, {"small", 2, 200, 300, 400}, {"big", 8, 500, 150, 100}};
    djs_id_t ws[3];
    uint64_t seq;
    for (int i = 0; i < 3; i++) {
        ws[i] = et_worker(&t, spec[i].name, spec[i].slots);
        ck_assert_int_eq(djs_engine_heartbeat(t.e, &ws[i], spec[i].cpu, spec[i].mem, spec[i].resp, &seq), 0);
        ck_assert_uint_gt(seq, 0);
    }
    const djs_state_t *st = et_st(&t);
    for (int i = 0; i < 3; i++) {
        const djs_worker_t *w = djs_state_worker(st, &ws[i]);
        ck_assert_uint_eq(w->score,
                          djs_worker_score(&t.cfg.state.weights, spec[i].cpu, spec[i].mem, 0, spec[i].slots, spec[i].resp));
    }
    /* each placement goes to the best score as it is then (running counts change it) */
    int placed[3] = {0, 0, 0};
    for (int k = 0; k < 10; k++) {
        int best = -1;
        uint32_t bs = 0;
        for (int i = 0; i < 3; i++) {
            const djs_worker_t *w = djs_state_worker(st, &ws[i]);
            if (w->running >= w->slots)
                continue;
            uint32_t s = expect_score(&t, w);
            ck_assert_uint_eq(w->score, s);
            if (best < 0 || s > bs) {
                best = i;
                bs = s;
            }
        }
        djs_id_t j = et_job(&t, "j", DJS_PRIO_NORMAL);
        et_run(&t);
        djs_id_t on = et_worker_of(&t, &j);
        ck_assert_msg(et_id_eq(&on, &ws[best]), "placement %d: expected worker %s", k, spec[best].name);
        placed[best]++;
    }
    ck_assert_int_gt(placed[0] + placed[1], 0); /* not all on one */
    ck_assert_int_gt(placed[2], 0);
    et_close(&t);
}
END_TEST

START_TEST(balancer_capabilities_and_ties)
{
    et_t t;
    et_open(&t, NULL);
    static const djs_str_t gpu[] = {{"gpu", 3}}, gpu_ssd[] = {{"ssd", 3}, {"gpu", 3}};
    djs_id_t plain, fast, g;
    uint64_t seq;
    ck_assert_int_eq(et_register(&t, "plain", 4, NULL, 0, &plain), 0);
    ck_assert_int_eq(et_register(&t, "fast", 4, gpu_ssd + 0, 1, &fast), 0); /* ssd only */
    djs_job_request_t r;
    et_req(&r, "train", DJS_PRIO_NORMAL);
    r.caps = gpu;
    r.ncaps = 1;
    djs_id_t j;
    ck_assert_int_eq(et_submit_req(&t, &r, &j), 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_QUEUED); /* no gpu worker */
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->ready[DJS_PRIO_NORMAL], 1);
    /* a loaded gpu worker still gets it; the idle ones do not */
    ck_assert_int_eq(et_register(&t, "gpu-box", 1, gpu_ssd, 2, &g), 0);
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &g, 950, 900, 900, &seq), 0);
    djs_id_t plain_job = et_job(&t, "plain", DJS_PRIO_NORMAL);
    et_run(&t);
    djs_id_t on = et_worker_of(&t, &j);
    ck_assert(et_id_eq(&on, &g));
    on = et_worker_of(&t, &plain_job);
    ck_assert(!et_id_eq(&on, &g));
    /* a second gpu job waits for the gpu worker's only slot */
    djs_id_t j2;
    ck_assert_int_eq(et_submit_req(&t, &r, &j2), 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j2), DJS_JOB_QUEUED);
    et_finish(&t, &j);
    et_run(&t);
    on = et_worker_of(&t, &j2);
    ck_assert(et_id_eq(&on, &g));
    et_close(&t);

    /* ties: equal scores go to the lower id, whatever the names, every time */
    for (int round = 0; round < 3; round++) {
        et_open(&t, NULL);
        djs_id_t a, b;
        ck_assert_int_eq(et_register(&t, round % 2 ? "zeta" : "alpha", 2, NULL, 0, &a), 0);
        ck_assert_int_eq(et_register(&t, round % 2 ? "alpha" : "zeta", 2, NULL, 0, &b), 0);
        ck_assert_int_lt(djs_id_cmp(&a, &b), 0);
        ck_assert_uint_eq(djs_state_worker(et_st(&t), &a)->score, djs_state_worker(et_st(&t), &b)->score);
        djs_id_t x = et_job(&t, "x", DJS_PRIO_NORMAL);
        et_run(&t);
        on = et_worker_of(&t, &x);
        ck_assert(et_id_eq(&on, &a));
        /* now b has the better score (a is busy) */
        djs_id_t y = et_job(&t, "y", DJS_PRIO_NORMAL);
        et_run(&t);
        on = et_worker_of(&t, &y);
        ck_assert(et_id_eq(&on, &b));
        et_close(&t);
    }
}
END_TEST

/* ---- workers ------------------------------------------------------------------------------ */

START_TEST(worker_loss)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w1 = et_worker(&t, "w1", 1), w2 = et_worker(&t, "w2", 1);
    djs_id_t j = et_job(&t, "j", DJS_PRIO_NORMAL);
    et_run(&t);
    djs_id_t on = et_worker_of(&t, &j);
    ck_assert(et_id_eq(&on, &w1));
    uint64_t seq;
    ck_assert_int_eq(djs_engine_start(t.e, &w1, &j, 1, &seq), 0);
    /* w1 falls silent; w2 keeps beating */
    uint64_t window = t.cfg.heartbeat_ns * t.cfg.missed_heartbeats;
    advance_alive(&t, window - ET_SEC, &w2, 1);
    et_run(&t);
    ck_assert_int_eq(djs_state_worker(et_st(&t), &w1)->status, DJS_WORKER_ACTIVE);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_RUNNING);
    advance_alive(&t, 2 * ET_SEC, &w2, 1);
    et_run(&t);
    ck_assert_int_eq(djs_state_worker(et_st(&t), &w1)->status, DJS_WORKER_LOST);
    ck_assert_int_eq(djs_state_worker(et_st(&t), &w2)->status, DJS_WORKER_ACTIVE);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->workers_lost, 1);
    const djs_job_t *jp = et_jobp(&t, &j);
    ck_assert_int_eq(jp->state, DJS_JOB_SCHEDULED);
    ck_assert_uint_eq(jp->attempt, 2);
    on = et_worker_of(&t, &j);
    ck_assert(et_id_eq(&on, &w2));
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &w1, h);
    ck_assert_int_eq(et_count_type(h, DJS_EV_WORKER_LOST), 1);
    et_history(&t, &j, h);
    const et_hist_ent_t *f = et_last_of(h, DJS_EV_JOB_FAILED);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->reason, "worker_lost");
    ck_assert(et_id_eq(&f->c.worker, &w1));
    ck_assert_uint_gt(f->c.retry_at, 0);
    /* the lost worker's late report is stale; its heartbeat is refused */
    ck_assert_int_eq(djs_engine_complete(t.e, &w1, &j, 1, NULL, 0, &seq), DJS_ESTALE);
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &w1, 0, 0, 0, &seq), DJS_ECONFLICT);
    ck_assert_int_eq(djs_engine_start(t.e, &w2, &j, 2, &seq), 0);
    ck_assert_int_eq(djs_engine_complete(t.e, &w2, &j, 2, NULL, 0, &seq), 0);
    et_history(&t, &j, h);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_SUCCEEDED), 1);
    /* worker losses are not failures */
    ck_assert_uint_eq(et_jobp(&t, &j)->failures, 0);
    ck_assert_uint_eq(et_jobp(&t, &j)->infra, 1);
    free(h);
    et_close(&t);
}
END_TEST

START_TEST(heartbeat_policy)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w", 1);
    uint64_t seq;
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &w, 50, 50, 10, &seq), 0);
    ck_assert_uint_eq(seq, 0);
    et_advance(&t, 5 * ET_SEC);
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &w, 100, 90, 20, &seq), 0);
    ck_assert_uint_eq(seq, 0); /* moved by exactly 100 permille: not more */
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &w, 101, 0, 20, &seq), 0);
    ck_assert_uint_gt(seq, 0);
    ck_assert_uint_eq(djs_state_worker(et_st(&t), &w)->cpu_pm, 101);
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &w, 150, 80, 30, &seq), 0);
    ck_assert_uint_eq(seq, 0);
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &w, 150, 250, 30, &seq), 0);
    ck_assert_uint_gt(seq, 0); /* memory jumped */
    uint64_t recorded = t.now;
    /* small changes only: nothing until hb_every_ns has passed */
    int events = 0;
    while (t.now + 5 * ET_SEC < recorded + t.cfg.hb_every_ns) {
        et_advance(&t, 5 * ET_SEC);
        ck_assert_int_eq(djs_engine_heartbeat(t.e, &w, 160, 240, 30, &seq), 0);
        events += seq != 0;
        et_run(&t);
    }
    ck_assert_int_eq(events, 0);
    ck_assert_int_eq(djs_state_worker(et_st(&t), &w)->status, DJS_WORKER_ACTIVE); /* unrecorded beats keep it alive */
    et_advance(&t, 6 * ET_SEC);
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &w, 160, 240, 30, &seq), 0);
    ck_assert_uint_gt(seq, 0);
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &w, h);
    ck_assert_int_eq(et_count_type(h, DJS_EV_WORKER_HEARTBEAT), 3);
    free(h);
    /* out of range */
    ck_assert_int_eq(djs_engine_heartbeat(t.e, &w, 1001, 0, 0, &seq), DJS_EINVAL);
    et_close(&t);
}
END_TEST

START_TEST(idempotency)
{
    et_t t;
    et_open(&t, NULL);
    djs_job_request_t r;
    et_req(&r, "once", DJS_PRIO_NORMAL);
    r.spec.idem_key = ET_S("key-1");
    djs_id_t a, b, c;
    uint64_t s1, s2, s3;
    int existed;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &a, &s1, &existed), 0);
    ck_assert_int_eq(existed, 0);
    uint64_t last = djs_log_last_seq(t.log);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &b, &s2, &existed), 0);
    ck_assert_int_eq(existed, 1);
    ck_assert(et_id_eq(&a, &b));
    ck_assert_uint_eq(s2, s1);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    ck_assert_int_eq(djs_engine_submit(t.e, "bob", &r, 1, &c, &s3, &existed), 0);
    ck_assert_int_eq(existed, 0);
    ck_assert(!et_id_eq(&a, &c));
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &a, h);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_SUBMITTED), 1);
    free(h);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->submitted, 2);

    /* a workflow whose first job carries a used key is the same workflow */
    djs_job_request_t wf[2];
    djs_id_t ids[2];
    static const djs_str_t d0[] = {{"first", 5}};
    wf_req(&wf[0], "first", NULL, 0);
    wf_req(&wf[1], "second", d0, 1);
    wf[0].spec.idem_key = ET_S("wf-1");
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", wf, 2, ids, &s1, &existed), 0);
    ck_assert_int_eq(existed, 0);
    djs_id_t again[2];
    last = djs_log_last_seq(t.log);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", wf, 2, again, &s2, &existed), 0);
    ck_assert_int_eq(existed, 1);
    ck_assert(et_id_eq(&again[0], &ids[0]));
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    /* one key twice in one request, or a later job reusing a key: refused */
    wf[0].spec.idem_key = ET_S("wf-2");
    wf[1].spec.idem_key = ET_S("wf-2");
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", wf, 2, ids, &s1, &existed), DJS_ECONFLICT);
    wf[1].spec.idem_key = ET_S("key-1");
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", wf, 2, ids, &s1, &existed), DJS_ECONFLICT);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    et_close(&t);
}
END_TEST

START_TEST(limits)
{
    et_t t;
    et_open(&t, NULL);
    uint64_t last = djs_log_last_seq(t.log), seq;
    djs_job_request_t r;
    djs_id_t id;
    int existed;
    static char longname[DJS_JOB_MAX_NAME + 2];
    memset(longname, 'n', sizeof(longname) - 1);

    et_req(&r, "", DJS_PRIO_NORMAL);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_EINVAL);
    ck_assert(errmsg_has(&t, "name"));
    et_req(&r, longname, DJS_PRIO_NORMAL);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_ETOOBIG);
    longname[DJS_JOB_MAX_NAME] = '\0'; /* exactly the limit is fine */
    et_req(&r, longname, DJS_PRIO_NORMAL);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), 0);
    last = djs_log_last_seq(t.log);

    static djs_id_t deps[DJS_JOB_MAX_DEPS + 1];
    for (int i = 0; i < DJS_JOB_MAX_DEPS + 1; i++)
        deps[i] = id;
    et_req(&r, "many", DJS_PRIO_NORMAL);
    r.dep_ids = deps;
    r.ndep_ids = DJS_JOB_MAX_DEPS + 1;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_ETOOBIG);

    static const uint8_t arr[] = {0x91, 0x01}, str[] = {0xa1, 'x'}, cut[] = {0x81, 0xa1}, two[] = {0x80, 0x80}, ok[] = {0x80};
    const struct {
        const uint8_t *p;
        size_t n;
        int want;
    } payloads[] = {{arr, sizeof(arr), DJS_EINVAL},
                    {str, sizeof(str), DJS_EINVAL},
                    {cut, sizeof(cut), DJS_EINVAL},
                    {two, sizeof(two), DJS_EINVAL},
                    {ok, sizeof(ok), 0}};
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        et_req(&r, "p", DJS_PRIO_NORMAL);
        r.spec.payload = payloads[i].p;
        r.spec.payload_len = payloads[i].n;
        ck_assert_msg(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed) == payloads[i].want, "payload %zu", i);
        if (payloads[i].want != 0)
            ck_assert(errmsg_has(&t, "payload"));
    }
    last = djs_log_last_seq(t.log);
    et_req(&r, "p", 7);
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_EINVAL);
    et_req(&r, "p", DJS_PRIO_NORMAL);
    r.spec.max_retries = DJS_JOB_MAX_RETRIES + 1;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_EINVAL);
    et_req(&r, "p", DJS_PRIO_NORMAL);
    static const djs_str_t empty_cap[] = {{"", 0}};
    r.caps = empty_cap;
    r.ncaps = 1;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_EINVAL);
    /* a workflow key longer than a name would not decode again: refused */
    et_req(&r, "p", DJS_PRIO_NORMAL);
    longname[DJS_JOB_MAX_NAME] = 'n';
    r.key = (djs_str_t){longname, DJS_JOB_MAX_NAME + 1};
    ck_assert_int_ne(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), 0);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    /* zero jobs */
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 0, &id, &seq, &existed), DJS_EINVAL);
    /* progress out of range */
    djs_id_t w = et_worker(&t, "w", 8);
    djs_id_t j = et_job(&t, "j", DJS_PRIO_NORMAL);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_SCHEDULED);
    ck_assert_int_eq(djs_engine_start(t.e, &w, &j, 1, &seq), 0);
    ck_assert_int_eq(djs_engine_progress(t.e, &w, &j, 1, 101, ET_S(""), 0, &seq), DJS_EINVAL);
    ck_assert_int_eq(djs_engine_complete(t.e, &w, &j, 1, cut, sizeof(cut), &seq), DJS_EINVAL);
    /* the whole log still replays to the live state */
    et_sync(&t);
    djs_state_t *st = et_replay(t.log, &t.cfg.state, djs_log_last_seq(t.log));
    uint8_t d1[32], d2[32];
    djs_state_digest(st, d1);
    et_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);
    djs_state_free(st);
    et_close(&t);
}
END_TEST

START_TEST(reregister_keeps_id)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t a, a2, b;
    static const djs_str_t caps[] = {{"gpu", 3}};
    ck_assert_int_eq(et_register(&t, "agent-1", 1, NULL, 0, &a), 0);
    ck_assert_int_eq(et_register(&t, "agent-2", 1, NULL, 0, &b), 0);
    ck_assert(!et_id_eq(&a, &b));
    djs_id_t j = et_job(&t, "j", DJS_PRIO_NORMAL);
    et_run(&t);
    ck_assert(et_id_eq((djs_id_t[]){et_worker_of(&t, &j)}, &a));
    uint64_t seq;
    ck_assert_int_eq(djs_engine_start(t.e, &a, &j, 1, &seq), 0);
    /* the agent restarts (new host, more slots, a capability): same id; what it ran is retried */
    djs_worker_info_t wi;
    memset(&wi, 0, sizeof(wi));
    wi.name = ET_S("agent-1");
    wi.host = ET_S("newhost");
    wi.slots = 3;
    wi.has_load = 1;
    wi.cpu_pm = 1001;
    ck_assert_int_eq(djs_engine_register(t.e, "admin", &wi, caps, 1, &a2, &seq), DJS_EINVAL);
    wi.cpu_pm = 100;
    wi.mem_pm = 200;
    ck_assert_int_eq(djs_engine_register(t.e, "admin", &wi, caps, 1, &a2, &seq), 0);
    ck_assert(et_id_eq(&a, &a2));
    const djs_worker_t *w = djs_state_worker(et_st(&t), &a);
    ck_assert_uint_eq(w->slots, 3);
    ck_assert_str_eq(w->host, "newhost");
    ck_assert_uint_eq(w->cpu_pm, 100);
    ck_assert_uint_eq(w->mem_pm, 200);
    ck_assert_uint_eq(djs_state_nworker_slots(et_st(&t)), 2);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->workers_active, 2);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_QUEUED);
    ck_assert_int_eq(djs_engine_complete(t.e, &a, &j, 1, NULL, 0, &seq), DJS_ESTALE);
    et_run(&t);
    ck_assert_uint_eq(et_jobp(&t, &j)->attempt, 2);
    /* a lost worker comes back under its name, with its id */
    djs_id_t lost;
    ck_assert_int_eq(et_register(&t, "agent-3", 1, NULL, 0, &lost), 0);
    djs_id_t alive[2] = {a, b};
    advance_alive(&t, 20 * ET_SEC, alive, 2);
    et_run(&t);
    ck_assert_int_eq(djs_state_worker(et_st(&t), &lost)->status, DJS_WORKER_LOST);
    djs_id_t back;
    ck_assert_int_eq(et_register(&t, "agent-3", 1, NULL, 0, &back), 0);
    ck_assert(et_id_eq(&lost, &back));
    ck_assert_int_eq(djs_state_worker(et_st(&t), &back)->status, DJS_WORKER_ACTIVE);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->workers_lost, 0);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->workers_active, 3);
    et_close(&t);
}
END_TEST

START_TEST(restart_rebuilds_same_state)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 99;
    cfg.lease_ns = 10 * ET_SEC;
    et_t t;
    et_open(&t, &cfg);
    djs_id_t w[2] = {et_worker(&t, "w1", 2), et_worker(&t, "w2", 1)};
    djs_id_t d[4];
    ck_assert_int_eq(submit_diamond(&t, 2, d), 0);
    djs_id_t a = et_job(&t, "a", DJS_PRIO_HIGH), b = et_job(&t, "b", DJS_PRIO_LOW);
    djs_job_request_t r;
    et_req(&r, "later", DJS_PRIO_NORMAL);
    r.spec.scheduled_at = t.now + 3600 * ET_SEC;
    r.spec.idem_key = ET_S("later");
    djs_id_t later;
    ck_assert_int_eq(et_submit_req(&t, &r, &later), 0);
    et_run(&t);
    et_finish(&t, &d[0]);
    uint64_t seq;
    uint32_t at = et_jobp(&t, &a)->attempt;
    djs_id_t aw = et_worker_of(&t, &a);
    ck_assert_int_eq(djs_engine_start(t.e, &aw, &a, at, &seq), 0);
    ck_assert_int_eq(djs_engine_fail(t.e, &aw, &a, at, ET_S("x"), &seq), 0);
    et_run(&t);
    (void)b;
    et_sync(&t);
    uint8_t before[32], after[32];
    et_digest(&t, before);
    uint64_t n = 0;
    et_reopen(&t, &n);
    et_digest(&t, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_eq(n, djs_log_last_seq(t.log));
    /* and it carries on: new jobs (new ids), placements, the same answers to idempotent retries */
    djs_id_t c = et_job(&t, "c", DJS_PRIO_NORMAL), seen[8] = {w[0], w[1], d[0], d[1], d[2], d[3], a, b};
    ck_assert_ptr_nonnull(et_jobp(&t, &c));
    for (int i = 0; i < 10; i++) { /* the reopened engine does not draw the same ids again */
        djs_id_t n2 = et_job(&t, "more", DJS_PRIO_LOW), nw;
        ck_assert_int_eq(et_register(&t, i % 2 ? "w3" : "w4", 1, NULL, 0, &nw), 0);
        for (int k = 0; k < 8; k++) {
            ck_assert(!et_id_eq(&n2, &seen[k]));
            ck_assert(!et_id_eq(&nw, &seen[k]));
        }
    }
    djs_id_t again;
    int existed;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &again, &seq, &existed), 0);
    ck_assert_int_eq(existed, 1);
    ck_assert(et_id_eq(&again, &later));
    for (int i = 0; i < 2; i++)
        hb(&t, &w[i]);
    et_run(&t);
    et_sync(&t);
    et_digest(&t, before);
    et_reopen(&t, NULL);
    et_digest(&t, after);
    ck_assert_mem_eq(before, after, 32);
    et_close(&t);
}
END_TEST

/* Read a job's whole stored output into a NUL-terminated static buffer. */
static const char *stored_output(et_t *t, const djs_id_t *j, uint64_t from, uint64_t *next)
{
    static char text[4096];
    djs_buf_t b;
    djs_buf_init(&b);
    REQ_RC(djs_log_read_output(t->log, j, from, sizeof(text) - 1, &b, next), 0);
    REQ(b.len < sizeof(text));
    if (b.len > 0)
        memcpy(text, b.base, b.len);
    text[b.len] = '\0';
    djs_buf_dispose(&b);
    return text;
}

START_TEST(job_output)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 7;
    cfg.output_cap = 16; /* small, to see the truncation */
    et_t t;
    et_open(&t, &cfg);
    djs_id_t w = et_worker(&t, "w1", 1), other = et_worker(&t, "w2", 1);
    djs_job_request_t r;
    et_req(&r, "talky", DJS_PRIO_NORMAL);
    r.spec.max_retries = 1;
    djs_id_t j;
    REQ_RC(et_submit_req(&t, &r, &j), 0);
    et_run(&t);
    djs_id_t on = et_worker_of(&t, &j);
    djs_id_t off = et_id_eq(&on, &w) ? other : w;
    uint64_t seq, recv;
    /* not started yet: no output */
    REQ_RC(djs_engine_output(t.e, &on, &j, 1, 0, (const uint8_t *)"x", 1, &seq, &recv), DJS_ECONFLICT);
    REQ_RC(djs_engine_start(t.e, &on, &j, 1, &seq), 0);
    /* fencing: another worker, another attempt */
    REQ_RC(djs_engine_output(t.e, &off, &j, 1, 0, (const uint8_t *)"x", 1, &seq, &recv), DJS_ESTALE);
    REQ_RC(djs_engine_output(t.e, &on, &j, 2, 0, (const uint8_t *)"x", 1, &seq, &recv), DJS_ESTALE);
    ck_assert_int_eq(djs_engine_output(t.e, &on, &j, 1, 0, (const uint8_t *)"hello\n", 6, &seq, &recv), 0);
    ck_assert_uint_gt(seq, 0);
    ck_assert_uint_eq(recv, 6);
    /* a retried chunk overlapping what arrived: only the new bytes count */
    ck_assert_int_eq(djs_engine_output(t.e, &on, &j, 1, 3, (const uint8_t *)"lo\nab", 5, &seq, &recv), 0);
    ck_assert_uint_eq(recv, 8);
    /* wholly old: acknowledged, no event */
    ck_assert_int_eq(djs_engine_output(t.e, &on, &j, 1, 0, (const uint8_t *)"hel", 3, &seq, &recv), 0);
    ck_assert_uint_eq(seq, 0);
    ck_assert_uint_eq(recv, 8);
    /* a gap is refused */
    REQ_RC(djs_engine_output(t.e, &on, &j, 1, 9, (const uint8_t *)"z", 1, &seq, &recv), DJS_ECONFLICT);
    /* crossing the cap (16): kept up to it, then the marker; later chunks dropped */
    ck_assert_int_eq(djs_engine_output(t.e, &on, &j, 1, 8, (const uint8_t *)"0123456789ABCDEF", 16, &seq, &recv), 0);
    ck_assert_uint_eq(recv, 24);
    uint64_t last = djs_log_last_seq(t.log);
    ck_assert_int_eq(djs_engine_output(t.e, &on, &j, 1, 24, (const uint8_t *)"more", 4, &seq, &recv), 0);
    ck_assert_uint_eq(seq, 0);
    ck_assert_uint_eq(recv, 28);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last); /* no event for dropped bytes */
    et_sync(&t);
    uint64_t next;
    const char *text = stored_output(&t, &j, 0, &next);
    ck_assert_str_eq(text, "hello\nab01234567\n[djs: output truncated: this attempt printed more than the limit]\n");
    ck_assert_uint_eq(next, strlen(text));
    ck_assert_uint_eq(et_jobp(&t, &j)->out_len, strlen(text));
    uint64_t first_len = strlen(text);
    /* reading from the middle of a chunk */
    ck_assert_str_eq(stored_output(&t, &j, 7, &next),
                     "b01234567\n[djs: output truncated: this attempt printed more than the limit]\n");

    /* the attempt fails; the retry's output follows in the same stream, counted from 0 again */
    REQ_RC(djs_engine_fail(t.e, &on, &j, 1, ET_S("boom"), &seq), 0);
    et_advance(&t, 3 * ET_SEC); /* past the first backoff (at most 1 s by default) */
    hb(&t, &w);
    hb(&t, &other);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_SCHEDULED);
    ck_assert_uint_eq(et_jobp(&t, &j)->attempt, 2);
    on = et_worker_of(&t, &j);
    REQ_RC(djs_engine_start(t.e, &on, &j, 2, &seq), 0);
    REQ_RC(djs_engine_output(t.e, &on, &j, 1, 0, (const uint8_t *)"old", 3, &seq, &recv), DJS_ESTALE);
    ck_assert_int_eq(djs_engine_output(t.e, &on, &j, 2, 0, (const uint8_t *)"second\n", 7, &seq, &recv), 0);
    ck_assert_uint_eq(recv, 7);
    et_sync(&t);
    ck_assert_str_eq(stored_output(&t, &j, first_len, &next), "second\n");
    ck_assert_uint_eq(next, first_len + 7);

    /* restart: the counters come back from the log (snapshot or replay) */
    uint8_t before[32], after[32];
    et_digest(&t, before);
    et_reopen(&t, NULL);
    et_digest(&t, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_eq(et_jobp(&t, &j)->out_len, first_len + 7);
    ck_assert_uint_eq(et_jobp(&t, &j)->out_recv, 7);
    ck_assert_int_eq(djs_engine_output(t.e, &on, &j, 2, 7, (const uint8_t *)"third\n", 6, &seq, &recv), 0);
    ck_assert_uint_eq(recv, 13);
    et_sync(&t);
    ck_assert_str_eq(stored_output(&t, &j, first_len, &next), "second\nthird\n");
    /* limits */
    static uint8_t big[DJS_LOG_MAX_OUTPUT_CHUNK + 1];
    REQ_RC(djs_engine_output(t.e, &on, &j, 2, 13, big, sizeof(big), &seq, &recv), DJS_ETOOBIG);
    djs_id_t nope;
    memset(&nope, 0x5a, sizeof(nope));
    REQ_RC(djs_engine_output(t.e, &on, &nope, 1, 0, big, 1, &seq, &recv), DJS_ENOTFOUND);
    ck_assert_str_eq(stored_output(&t, &nope, 0, &next), "");
    ck_assert_uint_eq(next, 0);
    et_close(&t);
}
END_TEST

/* ---- claim on poll ------------------------------------------------------------------------ */

/* the event at seq */
static int type_at(et_t *t, uint64_t seq)
{
    djs_buf_t rec;
    djs_event_t ev;
    djs_buf_init(&rec);
    REQ_RC(djs_log_get(t->log, seq, &rec), 0);
    REQ_RC(djs_event_decode(rec.base, rec.len, &ev), 0);
    int type = ev.type;
    djs_buf_dispose(&rec);
    return type;
}

START_TEST(claim_places_and_starts_in_one_step)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w1", 2);
    et_sync(&t);
    djs_log_stats_t s0, s1;
    djs_log_get_stats(t.log, &s0);
    djs_id_t j = et_job(&t, "build", DJS_PRIO_NORMAL);
    et_run(&t); /* placed: SCHEDULED */
    djs_assignment_t a[4];
    uint32_t n = 0;
    ck_assert_int_eq(djs_engine_claim(t.e, &w, a, 4, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert(et_id_eq(&a[0].job, &j));
    ck_assert_uint_eq(a[0].attempt, 1);
    const djs_job_t *jp = et_jobp(&t, &j);
    ck_assert_int_eq(jp->state, DJS_JOB_RUNNING);
    ck_assert_uint_eq(a[0].lease_ns, jp->deadline_ns); /* the run timeout's deadline */
    ck_assert_uint_eq(a[0].submit_seq, jp->submit_seq);
    ck_assert_uint_eq(a[0].seq, djs_log_last_seq(t.log));
    /* job.started right after job.scheduled, and both in one commit with the submit */
    et_sync(&t);
    djs_log_get_stats(t.log, &s1);
    ck_assert_uint_eq(s1.commits, s0.commits + 1);
    ck_assert_int_eq(type_at(&t, a[0].seq), DJS_EV_JOB_STARTED);
    ck_assert_int_eq(type_at(&t, a[0].seq - 1), DJS_EV_JOB_SCHEDULED);
    /* nothing left to claim or poll */
    ck_assert_int_eq(djs_engine_claim(t.e, &w, a, 4, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(djs_engine_poll(t.e, &w, a, 4, &n), 0);
    ck_assert_uint_eq(n, 0);
    /* the worker's later start report of the delivered attempt: acknowledged, no event */
    uint64_t last = djs_log_last_seq(t.log), seq = 99;
    ck_assert_int_eq(djs_engine_start(t.e, &w, &j, 1, &seq), 0);
    ck_assert_uint_eq(seq, 0);
    ck_assert_uint_eq(djs_log_last_seq(t.log), last);
    ck_assert_int_eq(djs_engine_complete(t.e, &w, &j, 1, NULL, 0, &seq), 0);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_COMPLETED);
    /* a replay agrees */
    uint8_t before[32], after[32];
    et_digest(&t, before);
    et_reopen(&t, NULL);
    et_digest(&t, after);
    ck_assert_mem_eq(before, after, 32);
    et_close(&t);
}
END_TEST

START_TEST(claim_fencing)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w1 = et_worker(&t, "w1", 1);
    djs_id_t j = et_job(&t, "j", DJS_PRIO_NORMAL);
    et_run(&t);
    djs_id_t w2 = et_worker(&t, "w2", 1);
    djs_assignment_t a[2];
    uint32_t n;
    uint64_t seq;
    /* another worker claims nothing, and cannot claim this job */
    ck_assert_int_eq(djs_engine_claim(t.e, &w2, a, 2, &n), 0);
    ck_assert_uint_eq(n, 0);
    REQ_RC(djs_engine_claim_one(t.e, &w2, &j, &a[0]), DJS_ECONFLICT);
    REQ_RC(djs_engine_claim_one(t.e, &w1, &j, &a[0]), 0);
    /* claimed already: not twice */
    REQ_RC(djs_engine_claim_one(t.e, &w1, &j, &a[1]), DJS_ECONFLICT);
    djs_id_t ghost;
    memset(&ghost, 0x5a, sizeof(ghost));
    REQ_RC(djs_engine_claim_one(t.e, &w1, &ghost, &a[1]), DJS_ENOTFOUND);
    REQ_RC(djs_engine_claim(t.e, &ghost, a, 2, &n), DJS_ENOTFOUND);
    /* stale attempt or the wrong worker: 409 (DJS_ESTALE) */
    REQ_RC(djs_engine_start(t.e, &w1, &j, 2, &seq), DJS_ESTALE);
    REQ_RC(djs_engine_complete(t.e, &w1, &j, 2, NULL, 0, &seq), DJS_ESTALE);
    REQ_RC(djs_engine_start(t.e, &w2, &j, 1, &seq), DJS_ESTALE);
    REQ_RC(djs_engine_complete(t.e, &w2, &j, 1, NULL, 0, &seq), DJS_ESTALE);
    /* the delivered attempt: a repeated start is fine, progress and complete too */
    REQ_RC(djs_engine_start(t.e, &w1, &j, 1, &seq), 0);
    ck_assert_uint_eq(seq, 0);
    REQ_RC(djs_engine_progress(t.e, &w1, &j, 1, 50, ET_S("half"), 0, &seq), 0);
    REQ_RC(djs_engine_complete(t.e, &w1, &j, 1, NULL, 0, &seq), 0);
    et_close(&t);
}
END_TEST

/* A claimed job is RUNNING at once: the start lease no longer applies, its
 * run timeout does. */
START_TEST(claim_lease_and_timeout)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 3;
    cfg.lease_ns = 10 * ET_SEC;
    et_t t;
    et_open(&t, &cfg);
    djs_id_t w = et_worker(&t, "w1", 1);
    djs_job_request_t r;
    et_req(&r, "slow", DJS_PRIO_NORMAL);
    r.spec.timeout_s = 30;
    djs_id_t j;
    REQ_RC(et_submit_req(&t, &r, &j), 0);
    et_run(&t);
    djs_assignment_t a[1];
    uint32_t n;
    uint64_t at = t.now;
    REQ_RC(djs_engine_claim(t.e, &w, a, 1, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_ge(a[0].lease_ns, at + 30 * ET_SEC);
    ck_assert_uint_le(a[0].lease_ns, at + 30 * ET_SEC + ET_MS);
    ck_assert_uint_eq(a[0].lease_ns, et_jobp(&t, &j)->deadline_ns);
    /* past the start lease: still RUNNING, no lease expiry */
    advance_alive(&t, 15 * ET_SEC, &w, 1);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_RUNNING);
    ck_assert_uint_eq(djs_state_metrics(et_st(&t))->lease_expired, 0);
    /* past the run timeout: timed out */
    advance_alive(&t, 16 * ET_SEC, &w, 1);
    et_run(&t);
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &j, h);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_TIMED_OUT), 1);
    ck_assert_int_eq(et_count_type(h, DJS_EV_JOB_LEASE_EXPIRED), 0);
    free(h);
    uint64_t seq;
    REQ_RC(djs_engine_complete(t.e, &w, &j, 1, NULL, 0, &seq), DJS_ESTALE);
    et_close(&t);
}
END_TEST

START_TEST(claim_worker_lost)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w1 = et_worker(&t, "w1", 1), w2 = et_worker(&t, "w2", 1);
    djs_id_t j = et_job(&t, "j", DJS_PRIO_NORMAL);
    et_run(&t);
    djs_id_t on = et_worker_of(&t, &j);
    ck_assert(et_id_eq(&on, &w1));
    djs_assignment_t a[1];
    uint32_t n;
    REQ_RC(djs_engine_claim(t.e, &w1, a, 1, &n), 0);
    ck_assert_uint_eq(n, 1);
    /* w1 falls silent while running the claimed job */
    advance_alive(&t, t.cfg.heartbeat_ns * t.cfg.missed_heartbeats + ET_SEC, &w2, 1);
    et_run(&t);
    ck_assert_int_eq(djs_state_worker(et_st(&t), &w1)->status, DJS_WORKER_LOST);
    const djs_job_t *jp = et_jobp(&t, &j);
    ck_assert_int_eq(jp->state, DJS_JOB_SCHEDULED);
    ck_assert_uint_eq(jp->attempt, 2);
    ck_assert_uint_eq(jp->infra, 1);
    uint64_t seq;
    REQ_RC(djs_engine_complete(t.e, &w1, &j, 1, NULL, 0, &seq), DJS_ESTALE);
    REQ_RC(djs_engine_claim(t.e, &w1, a, 1, &n), DJS_ECONFLICT); /* lost: register again */
    REQ_RC(djs_engine_claim(t.e, &w2, a, 1, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(a[0].attempt, 2);
    REQ_RC(djs_engine_complete(t.e, &w2, &j, 2, NULL, 0, &seq), 0);
    et_close(&t);
}
END_TEST

/* A claim whose answer never reached the worker (lost to a crash): once the
 * worker's heartbeat lists what it runs without it, past a liveness
 * window, it is failed for an infrastructure retry. */
START_TEST(claim_answer_lost)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w1", 2);
    djs_id_t kept = et_job(&t, "kept", DJS_PRIO_NORMAL), lost = et_job(&t, "lost", DJS_PRIO_NORMAL);
    et_run(&t);
    djs_assignment_t a[2];
    uint32_t n;
    uint64_t seq;
    REQ_RC(djs_engine_claim(t.e, &w, a, 2, &n), 0);
    ck_assert_uint_eq(n, 2);
    /* within the window: an answer may still be on its way */
    REQ_RC(djs_engine_unlisted(t.e, &w, &kept, 1, &seq), 0);
    ck_assert_uint_eq(seq, 0);
    advance_alive(&t, t.cfg.heartbeat_ns * t.cfg.missed_heartbeats + ET_SEC, &w, 1);
    REQ_RC(djs_engine_unlisted(t.e, &w, &kept, 1, &seq), 0);
    ck_assert_uint_gt(seq, 0);
    ck_assert_int_eq(et_state_of(&t, &kept), DJS_JOB_RUNNING);
    const djs_job_t *jp = et_jobp(&t, &lost);
    ck_assert_int_eq(jp->state, DJS_JOB_QUEUED);
    ck_assert_uint_eq(jp->infra, 1);
    ck_assert_uint_eq(jp->failures, 0);
    REQ_RC(djs_engine_complete(t.e, &w, &lost, 1, NULL, 0, &seq), DJS_ESTALE);
    et_run(&t);
    REQ_RC(djs_engine_claim(t.e, &w, a, 2, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert(et_id_eq(&a[0].job, &lost));
    ck_assert_uint_eq(a[0].attempt, 2);
    REQ_RC(djs_engine_complete(t.e, &w, &lost, 2, NULL, 0, &seq), 0);
    REQ_RC(djs_engine_complete(t.e, &w, &kept, 1, NULL, 0, &seq), 0);
    djs_id_t ghost;
    memset(&ghost, 0x5a, sizeof(ghost));
    REQ_RC(djs_engine_unlisted(t.e, &ghost, NULL, 0, &seq), DJS_ENOTFOUND);
    et_close(&t);
}
END_TEST

/* Once a worker's poll claimed, a job placed on it is started in the same
 * step as its placement; the next claim hands it out. A plain poll ends
 * that. */
START_TEST(claim_at_placement)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w1", 1);
    djs_assignment_t a[2];
    uint32_t n;
    uint64_t seq;
    REQ_RC(djs_engine_claim(t.e, &w, a, 2, &n), 0); /* an empty claim poll: the worker claims */
    ck_assert_uint_eq(n, 0);
    djs_id_t j = et_job(&t, "j", DJS_PRIO_NORMAL);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_RUNNING);
    uint64_t last = djs_log_last_seq(t.log);
    et_sync(&t);
    ck_assert_int_eq(type_at(&t, last), DJS_EV_JOB_STARTED);
    ck_assert_int_eq(type_at(&t, last - 1), DJS_EV_JOB_SCHEDULED);
    REQ_RC(djs_engine_claim(t.e, &w, a, 2, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert(et_id_eq(&a[0].job, &j));
    ck_assert_uint_eq(a[0].attempt, 1);
    ck_assert_uint_eq(a[0].seq, last);
    REQ_RC(djs_engine_claim(t.e, &w, a, 2, &n), 0); /* handed out once */
    ck_assert_uint_eq(n, 0);
    REQ_RC(djs_engine_complete(t.e, &w, &j, 1, NULL, 0, &seq), 0);
    /* an undelivered claim that ended meanwhile is not handed out */
    djs_id_t k = et_job(&t, "k", DJS_PRIO_NORMAL);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &k), DJS_JOB_RUNNING);
    REQ_RC(djs_engine_cancel(t.e, "admin", &k, &seq), 0);
    REQ_RC(djs_engine_claim(t.e, &w, a, 2, &n), 0);
    ck_assert_uint_eq(n, 0);
    /* a plain poll: placements wait for a poll again */
    REQ_RC(djs_engine_poll(t.e, &w, a, 2, &n), 0);
    djs_id_t m = et_job(&t, "m", DJS_PRIO_NORMAL);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &m), DJS_JOB_SCHEDULED);
    et_close(&t);
}
END_TEST

/* The design's extra worker fields are bounded by the engine as the body
 * decoder bounds them: what it writes, the projection reads back. */
START_TEST(worker_extras_bounded)
{
    et_t t;
    et_open(&t, NULL);
    djs_worker_info_t w = {0};
    djs_id_t id;
    uint64_t seq;
    char addr[DJS_WORKER_MAX_ADDR + 2];
    memset(addr, 'a', sizeof(addr));
    w.name = ET_S("x");
    w.slots = 1;
    w.addr = (djs_str_t){addr, DJS_WORKER_MAX_ADDR + 1};
    ck_assert_int_eq(djs_engine_register(t.e, "admin", &w, NULL, 0, &id, &seq), DJS_ETOOBIG);
    w.addr = (djs_str_t){addr, DJS_WORKER_MAX_ADDR};
    w.port = DJS_WORKER_MAX_PORT + 1;
    ck_assert_int_eq(djs_engine_register(t.e, "admin", &w, NULL, 0, &id, &seq), DJS_EINVAL);
    w.port = 8080;
    djs_buf_t b;
    djs_buf_init(&b);
    const djs_str_t bad[] = {ET_S("ok"), {"", 0}};
    djs_body_strlist(&b, bad, 2);
    w.tags = (djs_strlist_t){b.base, b.len, 2};
    ck_assert_int_eq(djs_engine_register(t.e, "admin", &w, NULL, 0, &id, &seq), DJS_EINVAL);
    ck_assert_ptr_nonnull(strstr(djs_engine_errmsg(t.e), "tags[1]"));
    djs_buf_reset(&b);
    djs_body_strlist(&b, bad, 1);
    w.tags = (djs_strlist_t){b.base, b.len, 1};
    ck_assert_int_eq(djs_engine_register(t.e, "admin", &w, NULL, 0, &id, &seq), 0);
    ck_assert_uint_eq(djs_state_worker(et_st(&t), &id)->port, 8080);
    djs_buf_dispose(&b);
    et_close(&t);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("jobs");
    tcase_add_test(tc, full_lifecycle);
    tcase_add_test(tc, state_machine_refusals);
    tcase_add_test(tc, fencing_after_lease_expiry);
    tcase_add_test(tc, claim_places_and_starts_in_one_step);
    tcase_add_test(tc, claim_fencing);
    tcase_add_test(tc, claim_lease_and_timeout);
    tcase_add_test(tc, claim_worker_lost);
    tcase_add_test(tc, claim_answer_lost);
    tcase_add_test(tc, claim_at_placement);
    tcase_add_test(tc, dag_diamond_and_refusals);
    tcase_add_test(tc, dag_deep_chain);
    tcase_add_test(tc, upstream_failure_cascades);
    tcase_add_test(tc, cancel_in_a_zero_window);
    tcase_add_test(tc, update_job);
    tcase_add_test(tc, retries_with_backoff);
    tcase_add_test(tc, timeouts);
    tcase_add_test(tc, delayed_jobs);
    tcase_add_test(tc, idempotency);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, job_output);
    suite_add_tcase(s, tc);
    tc = tcase_create("placement");
    tcase_add_test(tc, priority_without_aging);
    tcase_add_test(tc, priority_with_aging);
    tcase_add_test(tc, balancer_scores);
    tcase_add_test(tc, balancer_capabilities_and_ties);
    suite_add_tcase(s, tc);
    tc = tcase_create("workers");
    tcase_add_test(tc, worker_loss);
    tcase_add_test(tc, heartbeat_policy);
    tcase_add_test(tc, reregister_keeps_id);
    tcase_add_test(tc, restart_rebuilds_same_state);
    tcase_add_test(tc, worker_extras_bounded);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(engine_suite)
