/* One job as of a point (fold of its own events) agrees with the whole
 * projection rebuilt to that point, for every event of its history. */
#include <string.h>

#include "core/error.h"
#include "eventlog/log.h"
#include "projections/jobview.h"
#include "scheduler/engine.h"
#include "testutil.h"

static uint64_t fake_now = 1700000000000000000ULL;
static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

typedef struct world {
    djs_log_t *log;
    djs_engine_t *e;
    djs_id_t worker;
} world_t;

static void open_world(world_t *w, const char *dir)
{
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.clock = fake_clock;
    ck_assert_int_eq(djs_log_open(&w->log, dir, &lo), 0);
    djs_engine_config_t ec;
    djs_engine_config_init(&ec);
    ec.seed = 7;
    ck_assert_int_eq(djs_engine_open(&w->e, w->log, NULL, &ec, NULL, NULL), 0);
    djs_worker_info_t wi = {0};
    wi.name = (djs_str_t){"w1", 2};
    wi.slots = 2;
    uint64_t seq;
    ck_assert_int_eq(djs_engine_register(w->e, "test", &wi, NULL, 0, &w->worker, &seq), 0);
}

static djs_id_t submit(world_t *w, const char *name, uint32_t retries, const djs_id_t *dep)
{
    djs_job_request_t r;
    memset(&r, 0, sizeof(r));
    r.spec.name = (djs_str_t){name, strlen(name)};
    r.spec.priority = 1;
    r.spec.max_retries = retries;
    r.dep_ids = dep;
    r.ndep_ids = dep ? 1 : 0;
    djs_id_t id;
    uint64_t seq;
    int existed;
    ck_assert_int_eq(djs_engine_submit(w->e, "alice", &r, 1, &id, &seq, &existed), 0);
    return id;
}

static void run_once(world_t *w, const djs_id_t *job, int fail)
{
    uint64_t seq;
    fake_now += 1000000;
    djs_engine_run(w->e);
    const djs_job_t *j = djs_state_job(djs_engine_state(w->e), job);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(j->state, DJS_JOB_SCHEDULED);
    uint32_t a = j->attempt;
    ck_assert_int_eq(djs_engine_start(w->e, &w->worker, job, a, &seq), 0);
    ck_assert_int_eq(djs_engine_progress(w->e, &w->worker, job, a, 40, (djs_str_t){"half", 4}, 0, &seq), 0);
    if (fail)
        ck_assert_int_eq(djs_engine_fail(w->e, &w->worker, job, a, (djs_str_t){"boom", 4}, &seq), 0);
    else
        ck_assert_int_eq(djs_engine_complete(w->e, &w->worker, job, a, NULL, 0, &seq), 0);
}

typedef struct seqs {
    uint64_t v[64];
    int n;
} seqs_t;

static int collect(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    seqs_t *s = arg;
    (void)rec;
    (void)len;
    if (s->n < 64)
        s->v[s->n++] = seq;
    return 0;
}

START_TEST(view_matches_projection_at_every_event)
{
    world_t w;
    open_world(&w, tu_tmpdir());
    djs_id_t a = submit(&w, "a", 1, NULL);
    djs_id_t b = submit(&w, "b", 0, &a);
    run_once(&w, &a, 1);               /* fails, will retry */
    fake_now += 10ULL * 1000000000ULL; /* past any backoff */
    run_once(&w, &a, 0);               /* completes */
    fake_now += 1000000;
    djs_engine_run(w.e); /* b queued (dependencies), placed */
    run_once(&w, &b, 0);
    ck_assert_int_eq(djs_log_sync(w.log), 0);

    const djs_id_t *jobs[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        seqs_t s = {.n = 0};
        ck_assert_int_eq(djs_log_scan_entity(w.log, jobs[k], 0, UINT64_MAX, collect, &s), 0);
        ck_assert_int_ge(s.n, 5);
        for (int i = 0; i < s.n; i++) {
            djs_job_view_t v;
            djs_state_t *at;
            djs_job_view_init(&v);
            ck_assert_int_eq(djs_job_view_at(w.log, jobs[k], s.v[i], &v), 0);
            ck_assert_int_eq(djs_state_at(w.log, NULL, s.v[i], &at), 0);
            const djs_job_t *j = djs_state_job(at, jobs[k]);
            ck_assert_ptr_nonnull(j);
            ck_assert_msg(v.state == j->state, "job %d event %d (seq %llu): view %s, projection %s", k, i,
                          (unsigned long long)s.v[i], djs_job_state_name(v.state), djs_job_state_name(j->state));
            ck_assert_uint_eq(v.attempt, j->attempt);
            ck_assert_uint_eq(v.percent, j->percent);
            ck_assert_uint_eq(v.last_seq, j->last_seq);
            ck_assert_uint_eq(v.submit_seq, j->submit_seq);
            djs_state_free(at);
            djs_job_view_dispose(&v);
        }
    }
    /* before its submission a job has no view */
    djs_job_view_t v;
    djs_job_view_init(&v);
    ck_assert_int_eq(djs_job_view_at(w.log, &b, 1, &v), DJS_ENOTFOUND);
    djs_job_view_dispose(&v);
    djs_engine_close(w.e);
    djs_log_close(w.log);
}
END_TEST

START_TEST(engine_time_travel_cache)
{
    world_t w;
    open_world(&w, tu_tmpdir());
    djs_id_t a = submit(&w, "a", 0, NULL);
    run_once(&w, &a, 0);
    djs_id_t b = submit(&w, "b", 0, NULL);
    run_once(&w, &b, 0);
    ck_assert_int_eq(djs_log_sync(w.log), 0);
    uint64_t last = djs_log_durable_seq(w.log);
    ck_assert_uint_ge(last, 8);
    uint8_t live_before[32], live_after[32];
    djs_state_digest(djs_engine_state(w.e), live_before);
    /* more distinct points than the cache holds, each twice */
    for (int round = 0; round < 2; round++) {
        for (uint64_t seq = 2; seq <= last; seq++) {
            const djs_state_t *c1, *c2;
            djs_state_t *fresh;
            ck_assert_int_eq(djs_engine_state_at(w.e, seq, &c1), 0);
            ck_assert_int_eq(djs_engine_state_at(w.e, seq, &c2), 0);
            ck_assert_ptr_eq(c1, c2); /* the second read is a cache hit */
            ck_assert_uint_eq(djs_state_seq(c1), seq);
            ck_assert_int_eq(djs_state_at(w.log, NULL, seq, &fresh), 0);
            uint8_t d1[32], d2[32];
            djs_state_digest(c1, d1);
            djs_state_digest(fresh, d2);
            ck_assert(memcmp(d1, d2, 32) == 0);
            djs_state_free(fresh);
        }
    }
    ck_assert_int_eq(djs_engine_state_at(w.e, last + 100, &(const djs_state_t *){NULL}), DJS_ERANGE);
    /* at the live state's own durable seq: the live state itself, no replay */
    const djs_state_t *now;
    ck_assert_uint_eq(djs_state_seq(djs_engine_state(w.e)), last);
    ck_assert_int_eq(djs_engine_state_at(w.e, last, &now), 0);
    ck_assert_ptr_eq(now, djs_engine_state(w.e));
    djs_state_digest(djs_engine_state(w.e), live_after);
    ck_assert(memcmp(live_before, live_after, 32) == 0);
    djs_engine_close(w.e);
    djs_log_close(w.log);
}
END_TEST

static Suite *jobview_suite(void)
{
    Suite *s = suite_create("jobview");
    TCase *tc = tcase_create("jobview");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, view_matches_projection_at_every_event);
    tcase_add_test(tc, engine_time_travel_cache);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(jobview_suite)
