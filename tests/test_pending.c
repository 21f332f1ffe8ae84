/* projections/pending: every reason a job is not running, read from a
 * projection built by the engine on a real log with a fake clock; the
 * position in its tier, exact and capped; the counts GET /stats shows agree
 * with the per-job primary reasons. */
#include <string.h>

#include "enginetest.h"
#include "projections/pending.h"

static void pend(et_t *t, const djs_id_t *id, djs_pending_t *p)
{
    const djs_job_t *j = et_jobp(t, id);
    REQ(j != NULL);
    djs_pending_of(et_st(t), j, NULL, 0, t->now, p);
}

static int has(const djs_pending_t *p, int r)
{
    return (p->reasons >> r) & 1u;
}

static djs_id_t job_caps(et_t *t, const char *name, const djs_str_t *caps, uint32_t ncaps)
{
    djs_job_request_t r;
    djs_id_t id;
    et_req(&r, name, DJS_PRIO_NORMAL);
    r.caps = caps;
    r.ncaps = ncaps;
    REQ_RC(et_submit_req(t, &r, &id), 0);
    return id;
}

START_TEST(reason_names)
{
    ck_assert_str_eq(djs_pending_reason_name(DJS_PENDING_DEPENDENCIES), "waiting-for-dependencies");
    ck_assert_str_eq(djs_pending_reason_name(DJS_PENDING_SCHEDULED), "scheduled");
    ck_assert_str_eq(djs_pending_reason_name(DJS_PENDING_RETRY_BACKOFF), "retry-backoff");
    ck_assert_str_eq(djs_pending_reason_name(DJS_PENDING_CONCURRENCY_LIMIT), "concurrency-limit");
    ck_assert_str_eq(djs_pending_reason_name(DJS_PENDING_NO_CAPABLE_WORKER), "no-capable-worker");
    ck_assert_str_eq(djs_pending_reason_name(DJS_PENDING_WORKERS_UNAVAILABLE), "workers-unavailable");
    ck_assert_str_eq(djs_pending_reason_name(DJS_PENDING_WORKERS_BUSY), "workers-busy");
    ck_assert_str_eq(djs_pending_reason_name(DJS_PENDING_DISPATCHING), "dispatching");
    ck_assert_ptr_null(djs_pending_reason_name(DJS_PENDING_NREASONS));
    ck_assert_ptr_null(djs_pending_reason_name(-1));
}
END_TEST

/* No worker has "gpu": the job waits for one, first in its tier. */
START_TEST(no_capable_worker)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "cpu-only", 4);
    djs_str_t gpu = ET_S("gpu");
    djs_id_t j = job_caps(&t, "train", &gpu, 1);
    et_run(&t);
    djs_pending_t p;
    pend(&t, &j, &p);
    ck_assert_int_eq(p.pending, 1);
    ck_assert_int_eq(p.state, DJS_JOB_QUEUED);
    ck_assert_int_eq(p.reason, DJS_PENDING_NO_CAPABLE_WORKER);
    ck_assert_uint_eq(p.reasons, 1u << DJS_PENDING_NO_CAPABLE_WORKER);
    ck_assert_uint_eq(p.capable, 0);
    ck_assert_uint_eq(p.nworkers, 0);
    ck_assert_int_eq(p.ready, 1);
    ck_assert_uint_eq(p.ahead, 0);
    ck_assert_int_eq(p.ahead_capped, 0);
    /* a worker with the capability arrives: placed, no longer pending */
    djs_id_t w;
    REQ_RC(et_register(&t, "gpu-1", 1, &gpu, 1, &w), 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_SCHEDULED);
    pend(&t, &j, &p);
    ck_assert_int_eq(p.pending, 0);
    ck_assert_uint_eq(p.reasons, 0);
    et_close(&t);
}
END_TEST

/* One slot, three jobs: the first runs, the others wait for the slot in
 * FIFO order; before the placement pass the first is dispatching. */
START_TEST(workers_busy_and_position)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w1", 1);
    djs_id_t a = et_job(&t, "a", DJS_PRIO_NORMAL);
    djs_pending_t p;
    pend(&t, &a, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_DISPATCHING);
    ck_assert_uint_eq(p.capable, 1);
    ck_assert_uint_eq(p.slots, 1);
    ck_assert_uint_eq(p.slots_busy, 0);
    et_run(&t);
    djs_id_t b = et_job(&t, "b", DJS_PRIO_NORMAL);
    djs_id_t c = et_job(&t, "c", DJS_PRIO_NORMAL);
    djs_id_t h = et_job(&t, "h", DJS_PRIO_HIGH);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &a), DJS_JOB_SCHEDULED);
    pend(&t, &a, &p);
    ck_assert_int_eq(p.pending, 0);
    pend(&t, &b, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_WORKERS_BUSY);
    ck_assert_uint_eq(p.capable_active, 1);
    ck_assert_uint_eq(p.slots_busy, 1);
    ck_assert_uint_eq(p.nworkers, 1);
    ck_assert(et_id_eq(&djs_state_worker_at(et_st(&t), p.workers[0])->id, &w));
    ck_assert_uint_eq(p.ahead, 0);
    ck_assert_uint_eq(p.ahead_higher, 1);
    ck_assert_int_eq(p.tier, DJS_PRIO_NORMAL);
    pend(&t, &c, &p);
    ck_assert_uint_eq(p.ahead, 1);
    ck_assert_uint_eq(p.ahead_higher, 1);
    pend(&t, &h, &p);
    ck_assert_uint_eq(p.ahead, 0);
    ck_assert_uint_eq(p.ahead_higher, 0);
    ck_assert_int_eq(p.tier, DJS_PRIO_HIGH);
    et_close(&t);
}
END_TEST

/* The capable worker drains, then one is lost: workers-unavailable. */
START_TEST(workers_unavailable)
{
    et_t t;
    et_open(&t, NULL);
    djs_str_t gpu = ET_S("gpu");
    djs_id_t w1, w2;
    REQ_RC(et_register(&t, "g1", 1, &gpu, 1, &w1), 0);
    uint64_t seq;
    REQ_RC(djs_engine_drain(t.e, "admin", &w1, &seq), 0);
    djs_id_t j = job_caps(&t, "train", &gpu, 1);
    et_run(&t);
    djs_pending_t p;
    pend(&t, &j, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_WORKERS_UNAVAILABLE);
    ck_assert_uint_eq(p.capable, 1);
    ck_assert_uint_eq(p.capable_draining, 1);
    ck_assert_uint_eq(p.capable_active, 0);
    ck_assert_uint_eq(p.nworkers, 1);
    /* a second one registers and falls silent: lost */
    REQ_RC(et_register(&t, "g2", 1, NULL, 0, &w2), 0); /* no gpu: not capable */
    pend(&t, &j, &p);
    ck_assert_uint_eq(p.capable, 1);
    REQ_RC(et_register(&t, "g3", 1, &gpu, 1, &w2), 0);
    REQ_RC(djs_engine_drain(t.e, "admin", &w2, &seq), 0);
    et_advance(&t, t.cfg.heartbeat_ns * (t.cfg.missed_heartbeats + 1));
    et_run(&t);
    ck_assert_int_eq(djs_state_worker(et_st(&t), &w2)->status, DJS_WORKER_LOST);
    pend(&t, &j, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_WORKERS_UNAVAILABLE);
    ck_assert_uint_eq(p.capable, 2);
    ck_assert_uint_eq(p.capable_lost + p.capable_draining, 2);
    ck_assert_uint_ge(p.capable_lost, 1);
    et_close(&t);
}
END_TEST

/* B depends on A (which waits for a gpu worker): several facts, the
 * dependency first, and the dependency listed with its state. */
START_TEST(dependencies)
{
    et_t t;
    et_open(&t, NULL);
    djs_str_t gpu = ET_S("gpu");
    djs_id_t a = job_caps(&t, "a", &gpu, 1);
    djs_job_request_t r;
    djs_id_t b;
    et_req(&r, "b", DJS_PRIO_NORMAL);
    r.dep_ids = &a;
    r.ndep_ids = 1;
    r.caps = &gpu;
    r.ncaps = 1;
    REQ_RC(et_submit_req(&t, &r, &b), 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &b), DJS_JOB_CREATED);
    djs_pending_t p;
    djs_pending_of(et_st(&t), et_jobp(&t, &b), a.b, 1, t.now, &p);
    ck_assert_int_eq(p.pending, 1);
    ck_assert_int_eq(p.state, DJS_JOB_CREATED);
    ck_assert_int_eq(p.reason, DJS_PENDING_DEPENDENCIES);
    ck_assert(has(&p, DJS_PENDING_NO_CAPABLE_WORKER));
    ck_assert(!has(&p, DJS_PENDING_SCHEDULED));
    ck_assert_uint_eq(p.unmet, 1);
    ck_assert_uint_eq(p.ndeps, 1);
    ck_assert(et_id_eq(&p.deps[0].id, &a));
    ck_assert_int_eq(p.deps[0].state, DJS_JOB_QUEUED);
    ck_assert_int_eq(p.ready, 0);
    /* A runs and completes */
    djs_id_t w;
    REQ_RC(et_register(&t, "g", 1, &gpu, 1, &w), 0);
    et_run(&t);
    et_finish(&t, &a);
    /* met, not yet queued by the engine's next pass: nothing but the worker fact */
    djs_pending_of(et_st(&t), et_jobp(&t, &b), a.b, 1, t.now, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_DISPATCHING);
    ck_assert_uint_eq(p.reasons, 1u << DJS_PENDING_DISPATCHING);
    ck_assert_uint_eq(p.ndeps, 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &b), DJS_JOB_SCHEDULED);
    et_close(&t);
}
END_TEST

/* scheduledAt 10 s ahead: scheduled until then, with dependencies too. */
START_TEST(scheduled)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 2);
    djs_job_request_t r;
    djs_id_t j, k;
    et_req(&r, "later", DJS_PRIO_NORMAL);
    r.spec.scheduled_at = t.now + 10 * ET_SEC;
    REQ_RC(et_submit_req(&t, &r, &j), 0);
    et_run(&t);
    r.dep_ids = &j;
    r.ndep_ids = 1;
    REQ_RC(et_submit_req(&t, &r, &k), 0);
    djs_pending_t p;
    pend(&t, &j, &p);
    ck_assert_int_eq(p.state, DJS_JOB_CREATED);
    ck_assert_int_eq(p.reason, DJS_PENDING_SCHEDULED);
    ck_assert_uint_eq(p.until_ns, r.spec.scheduled_at);
    ck_assert(has(&p, DJS_PENDING_DISPATCHING)); /* its worker fact: a free slot once due */
    pend(&t, &k, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_DEPENDENCIES);
    ck_assert(has(&p, DJS_PENDING_SCHEDULED));
    ck_assert_uint_eq(p.until_ns, r.spec.scheduled_at);
    et_advance(&t, 11 * ET_SEC);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_SCHEDULED);
    pend(&t, &j, &p);
    ck_assert_int_eq(p.pending, 0);
    et_close(&t);
}
END_TEST

/* A failed attempt with retries left waits for its retry time. */
START_TEST(retry_backoff)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w", 1);
    djs_job_request_t r;
    djs_id_t j;
    et_req(&r, "flaky", DJS_PRIO_NORMAL);
    r.spec.max_retries = 3;
    REQ_RC(et_submit_req(&t, &r, &j), 0);
    et_run(&t);
    uint64_t seq;
    REQ_RC(djs_engine_start(t.e, &w, &j, 1, &seq), 0);
    REQ_RC(djs_engine_fail(t.e, &w, &j, 1, ET_S("boom"), &seq), 0);
    ck_assert_int_eq(et_state_of(&t, &j), DJS_JOB_QUEUED);
    djs_pending_t p;
    pend(&t, &j, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_RETRY_BACKOFF);
    ck_assert_uint_gt(p.until_ns, t.now);
    ck_assert_uint_eq(p.until_ns, et_jobp(&t, &j)->deadline_ns);
    ck_assert_int_eq(p.ready, 0);
    uint64_t counts[DJS_PENDING_NREASONS];
    djs_pending_counts(et_st(&t), counts);
    ck_assert_uint_eq(counts[DJS_PENDING_RETRY_BACKOFF], 1);
    et_close(&t);
}
END_TEST

/* 1,500 jobs of one class and no worker: the position counts exactly up
 * to DJS_PENDING_MAX_AHEAD, then says "at least"; the tier's size. */
START_TEST(position_capped)
{
    et_t t;
    et_open(&t, NULL);
    enum { N = 1500 };
    static djs_id_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = et_job(&t, "q", DJS_PRIO_LOW);
    djs_pending_t p;
    int probe[] = {0, 1, 9, DJS_PENDING_MAX_AHEAD - 1, DJS_PENDING_MAX_AHEAD, DJS_PENDING_MAX_AHEAD + 1, 500, N - 1};
    for (size_t k = 0; k < sizeof(probe) / sizeof(probe[0]); k++) {
        pend(&t, &ids[probe[k]], &p);
        ck_assert_int_eq(p.reason, DJS_PENDING_NO_CAPABLE_WORKER);
        uint64_t want = (uint64_t)probe[k] < DJS_PENDING_MAX_AHEAD ? (uint64_t)probe[k] : DJS_PENDING_MAX_AHEAD;
        ck_assert_uint_eq(p.ahead, want);
        ck_assert_int_eq(p.ahead_capped, probe[k] > DJS_PENDING_MAX_AHEAD);
        ck_assert_uint_eq(p.in_tier, N);
    }
    /* a cancellation in the middle moves the later ones up */
    uint64_t seq;
    REQ_RC(djs_engine_cancel(t.e, "alice", &ids[3], &seq), 0);
    pend(&t, &ids[9], &p);
    ck_assert_uint_eq(p.ahead, 8);
    et_close(&t);
}
END_TEST

/* The counts by reason equal the per-job primary reasons, for a mix. */
START_TEST(counts_agree)
{
    et_t t;
    et_open(&t, NULL);
    djs_str_t gpu = ET_S("gpu"), arm = ET_S("arm");
    djs_id_t w = et_worker(&t, "w", 1), wa;
    REQ_RC(et_register(&t, "arm1", 1, &arm, 1, &wa), 0);
    uint64_t seq;
    REQ_RC(djs_engine_drain(t.e, "admin", &wa, &seq), 0);
    djs_id_t jobs[16];
    int n = 0;
    jobs[n++] = et_job(&t, "runs", DJS_PRIO_NORMAL);
    et_run(&t);
    jobs[n++] = et_job(&t, "busy1", DJS_PRIO_NORMAL);
    jobs[n++] = et_job(&t, "busy2", DJS_PRIO_HIGH);
    jobs[n++] = job_caps(&t, "gpu1", &gpu, 1);
    jobs[n++] = job_caps(&t, "arm1", &arm, 1);
    djs_job_request_t r;
    et_req(&r, "later", DJS_PRIO_NORMAL);
    r.spec.scheduled_at = t.now + 60 * ET_SEC;
    REQ_RC(et_submit_req(&t, &r, &jobs[n]), 0);
    n++;
    et_req(&r, "child", DJS_PRIO_NORMAL);
    r.dep_ids = &jobs[3];
    r.ndep_ids = 1;
    REQ_RC(et_submit_req(&t, &r, &jobs[n]), 0);
    n++;
    et_run(&t);
    (void)w;
    uint64_t want[DJS_PENDING_NREASONS], got[DJS_PENDING_NREASONS];
    memset(want, 0, sizeof(want));
    for (int i = 0; i < n; i++) {
        djs_pending_t p;
        pend(&t, &jobs[i], &p);
        if (p.pending)
            want[p.reason]++;
    }
    djs_pending_counts(et_st(&t), got);
    for (int k = 0; k < DJS_PENDING_NREASONS; k++)
        ck_assert_msg(got[k] == want[k], "%s: %llu, want %llu", djs_pending_reason_name(k), (unsigned long long)got[k],
                      (unsigned long long)want[k]);
    ck_assert_uint_eq(got[DJS_PENDING_WORKERS_BUSY], 2);
    ck_assert_uint_eq(got[DJS_PENDING_NO_CAPABLE_WORKER], 1);
    ck_assert_uint_eq(got[DJS_PENDING_WORKERS_UNAVAILABLE], 1);
    ck_assert_uint_eq(got[DJS_PENDING_SCHEDULED], 1);
    ck_assert_uint_eq(got[DJS_PENDING_DEPENDENCIES], 1);
    et_close(&t);
}
END_TEST

static djs_id_t job_key(et_t *t, const char *name, const char *key, uint32_t limit)
{
    djs_job_request_t r;
    djs_id_t id;
    et_req(&r, name, DJS_PRIO_NORMAL);
    r.spec.ckey = (djs_str_t){key, strlen(key)};
    r.spec.climit = limit;
    REQ_RC(et_submit_req(t, &r, &id), 0);
    return id;
}

/* A key at its limit: concurrency-limit before any worker fact (free
 * slots do not help), with the key, the limit and the holders; parked
 * jobs are counted under it by djs_pending_counts. */
START_TEST(concurrency_limit)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 8);
    djs_id_t a = job_key(&t, "a", "deploy/api", 1);
    djs_id_t b = job_key(&t, "b", "deploy/api", 1);
    djs_id_t c = job_key(&t, "c", "deploy/api", 1);
    djs_id_t free_one = job_key(&t, "d", "deploy/web", 1);
    djs_pending_t p;
    pend(&t, &b, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_DISPATCHING); /* nobody holds the key yet */
    ck_assert_int_eq(p.has_key, 1);
    ck_assert_uint_eq(p.held, 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &a), DJS_JOB_SCHEDULED);
    ck_assert_int_eq(et_state_of(&t, &free_one), DJS_JOB_SCHEDULED);
    pend(&t, &b, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_CONCURRENCY_LIMIT);
    ck_assert(has(&p, DJS_PENDING_DISPATCHING)); /* a slot is free, and it does not help */
    ck_assert_uint_eq(p.limit, 1);
    ck_assert_uint_eq(p.held, 1);
    ck_assert_uint_eq(p.nholders, 1);
    ck_assert(et_id_eq(&djs_state_job_at(et_st(&t), p.holders[0])->id, &a));
    ck_assert_uint_eq(p.key.len, 10);
    ck_assert_int_eq(memcmp(p.key.p, "deploy/api", 10), 0);
    pend(&t, &c, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_CONCURRENCY_LIMIT);
    uint64_t got[DJS_PENDING_NREASONS];
    djs_pending_counts(et_st(&t), got);
    ck_assert_uint_eq(got[DJS_PENDING_CONCURRENCY_LIMIT], 2); /* b and c, parked by the placement pass */
    ck_assert_uint_eq(got[DJS_PENDING_DISPATCHING], 0);
    /* the holder finishes: the next one is placed, the last still waits */
    et_finish(&t, &a);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &b), DJS_JOB_SCHEDULED);
    pend(&t, &c, &p);
    ck_assert_int_eq(p.reason, DJS_PENDING_CONCURRENCY_LIMIT);
    ck_assert(et_id_eq(&djs_state_job_at(et_st(&t), p.holders[0])->id, &b));
    et_close(&t);
}
END_TEST

static Suite *pending_suite(void)
{
    Suite *s = suite_create("pending");
    TCase *tc = tcase_create("reasons");
    tcase_add_test(tc, reason_names);
    tcase_add_test(tc, no_capable_worker);
    tcase_add_test(tc, workers_busy_and_position);
    tcase_add_test(tc, workers_unavailable);
    tcase_add_test(tc, dependencies);
    tcase_add_test(tc, scheduled);
    tcase_add_test(tc, retry_backoff);
    tcase_add_test(tc, position_capped);
    tcase_add_test(tc, counts_agree);
    tcase_add_test(tc, concurrency_limit);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(pending_suite)
