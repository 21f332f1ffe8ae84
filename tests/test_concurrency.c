/* Concurrency limits through the engine (issue 12): at most `limit` jobs of
 * one concurrency key SCHEDULED or RUNNING; a full key holds back its own
 * jobs only (other keys, other classes, other tiers go on); every way a job
 * leaves SCHEDULED/RUNNING releases its key; a restart rebuilds the counts;
 * the fields are validated and recorded in job.submitted. */
#include <stdlib.h>
#include <string.h>

#include "enginetest.h"
#include "projections/snapshot.h"

static void hb(et_t *t, const djs_id_t *w)
{
    uint64_t seq;
    REQ_RC(djs_engine_heartbeat(t->e, w, 100, 100, 5, &seq), 0);
}

/* Let ns pass in steps of 4 s; the nw workers of ws beat at each step. */
static void pass(et_t *t, uint64_t ns, const djs_id_t *ws, int nw)
{
    while (ns > 0) {
        uint64_t d = ns > 4 * ET_SEC ? 4 * ET_SEC : ns;
        et_advance(t, d);
        ns -= d;
        for (int i = 0; i < nw; i++)
            hb(t, &ws[i]);
        et_run(t);
    }
}

/* A job with concurrency key `key` (NULL: none) and limit, needing caps. */
static djs_id_t kjob(et_t *t, const char *name, int prio, const char *key, uint32_t limit, const djs_str_t *caps, uint32_t ncaps)
{
    djs_job_request_t r;
    djs_id_t id;
    et_req(&r, name, prio);
    if (key != NULL)
        r.spec.ckey = (djs_str_t){key, strlen(key)};
    r.spec.climit = limit;
    r.caps = caps;
    r.ncaps = ncaps;
    r.spec.max_retries = 1;
    REQ_RC(et_submit_req(t, &r, &id), 0);
    return id;
}

static uint32_t held(et_t *t, const char *key)
{
    djs_concurrency_t c;
    if (djs_state_concurrency_key(et_st(t), key, strlen(key), &c) != 0)
        return 0;
    return c.held;
}

static int placed(et_t *t, const djs_id_t *j)
{
    int s = et_state_of(t, j);
    return s == DJS_JOB_SCHEDULED || s == DJS_JOB_RUNNING;
}

START_TEST(limit_holds)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 10);
    djs_id_t j[5];
    for (int i = 0; i < 5; i++)
        j[i] = kjob(&t, "deploy", DJS_PRIO_NORMAL, "deploy/api", 2, NULL, 0);
    et_run(&t);
    /* the first two, in submission order */
    ck_assert(placed(&t, &j[0]) && placed(&t, &j[1]));
    for (int i = 2; i < 5; i++)
        ck_assert_int_eq(et_state_of(&t, &j[i]), DJS_JOB_QUEUED);
    djs_concurrency_t c;
    REQ_RC(djs_state_job_concurrency(et_st(&t), et_jobp(&t, &j[3]), &c), 0);
    ck_assert_uint_eq(c.limit, 2);
    ck_assert_uint_eq(c.held, 2);
    ck_assert_int_eq((int)c.key.len, 10);
    ck_assert(memcmp(c.key.p, "deploy/api", 10) == 0);
    uint32_t s0 = djs_state_job_slot(et_st(&t), et_jobp(&t, &j[0])), s1 = djs_state_job_slot(et_st(&t), et_jobp(&t, &j[1]));
    ck_assert((c.holders[0] == s0 && c.holders[1] == s1) || (c.holders[0] == s1 && c.holders[1] == s0));
    /* a holder finishes: the next in line, and only it */
    et_finish(&t, &j[1]);
    et_run(&t);
    ck_assert(placed(&t, &j[2]));
    ck_assert_int_eq(et_state_of(&t, &j[3]), DJS_JOB_QUEUED);
    ck_assert_uint_eq(held(&t, "deploy/api"), 2);
    et_finish(&t, &j[0]);
    et_finish(&t, &j[2]);
    et_run(&t);
    ck_assert(placed(&t, &j[3]) && placed(&t, &j[4]));
    et_finish(&t, &j[3]);
    et_finish(&t, &j[4]);
    ck_assert_uint_eq(held(&t, "deploy/api"), 0);
    /* a job without a key has none */
    djs_id_t plain = et_job(&t, "plain", DJS_PRIO_NORMAL);
    ck_assert_int_eq(djs_state_job_concurrency(et_st(&t), et_jobp(&t, &plain), &c), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_state_concurrency_key(et_st(&t), "nope", 4, &c), DJS_ENOTFOUND);
    et_close(&t);
}
END_TEST

/* A full key is skipped, not waited on: jobs behind it in the same tier,
 * in lower tiers, of other keys and of other classes are placed. */
START_TEST(full_key_does_not_block)
{
    et_t t;
    et_open(&t, NULL);
    djs_str_t gpu = ET_S("gpu");
    et_worker(&t, "w", 8);
    djs_id_t wid;
    REQ_RC(et_register(&t, "g", 8, &gpu, 1, &wid), 0);
    djs_id_t a1 = kjob(&t, "a1", DJS_PRIO_HIGH, "a", 1, NULL, 0);
    djs_id_t a2 = kjob(&t, "a2", DJS_PRIO_HIGH, "a", 1, NULL, 0);
    djs_id_t a3 = kjob(&t, "a3", DJS_PRIO_HIGH, "a", 1, NULL, 0);
    djs_id_t b1 = kjob(&t, "b1", DJS_PRIO_HIGH, "b", 1, NULL, 0);
    djs_id_t n1 = kjob(&t, "n1", DJS_PRIO_HIGH, NULL, 0, NULL, 0);
    djs_id_t low = kjob(&t, "low", DJS_PRIO_LOW, NULL, 0, NULL, 0);
    djs_id_t ag = kjob(&t, "ag", DJS_PRIO_NORMAL, "a", 1, &gpu, 1);
    djs_id_t g1 = kjob(&t, "g1", DJS_PRIO_NORMAL, NULL, 0, &gpu, 1);
    et_run(&t);
    ck_assert(placed(&t, &a1) && placed(&t, &b1) && placed(&t, &n1) && placed(&t, &low) && placed(&t, &g1));
    ck_assert_int_eq(et_state_of(&t, &a2), DJS_JOB_QUEUED);
    ck_assert_int_eq(et_state_of(&t, &a3), DJS_JOB_QUEUED);
    ck_assert_int_eq(et_state_of(&t, &ag), DJS_JOB_QUEUED);
    ck_assert_uint_eq(held(&t, "a"), 1);
    ck_assert_uint_eq(held(&t, "b"), 1);
    /* more work arrives behind the parked ones and runs at once */
    djs_id_t b2 = kjob(&t, "b2", DJS_PRIO_HIGH, "b", 2, NULL, 0);
    djs_id_t n2 = kjob(&t, "n2", DJS_PRIO_HIGH, NULL, 0, NULL, 0);
    et_run(&t);
    ck_assert(placed(&t, &b2) && placed(&t, &n2));
    /* a1 done: the earliest waiting job of "a" overall (a2, HIGH) goes, not ag or a3 */
    et_finish(&t, &a1);
    et_run(&t);
    ck_assert(placed(&t, &a2));
    ck_assert_int_eq(et_state_of(&t, &a3), DJS_JOB_QUEUED);
    ck_assert_int_eq(et_state_of(&t, &ag), DJS_JOB_QUEUED);
    et_finish(&t, &a2);
    et_run(&t);
    ck_assert(placed(&t, &a3));
    et_finish(&t, &a3);
    et_run(&t);
    ck_assert(placed(&t, &ag));
    et_close(&t);
}
END_TEST

/* Jobs of one key with different limits: each is judged by its own. */
START_TEST(different_limits_per_job)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 8);
    djs_id_t j1 = kjob(&t, "j1", DJS_PRIO_NORMAL, "k", 2, NULL, 0);
    djs_id_t j2 = kjob(&t, "j2", DJS_PRIO_NORMAL, "k", 1, NULL, 0);
    djs_id_t j3 = kjob(&t, "j3", DJS_PRIO_NORMAL, "k", 2, NULL, 0);
    djs_id_t j4 = kjob(&t, "j4", DJS_PRIO_NORMAL, "k", 3, NULL, 0);
    et_run(&t);
    /* j1 (1 held < 2); j2 (1 >= 1: waits); j3 (1 < 2); j4 (2 < 3) */
    ck_assert(placed(&t, &j1) && placed(&t, &j3) && placed(&t, &j4));
    ck_assert_int_eq(et_state_of(&t, &j2), DJS_JOB_QUEUED);
    ck_assert_uint_eq(held(&t, "k"), 3);
    et_finish(&t, &j1);
    et_finish(&t, &j3);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j2), DJS_JOB_QUEUED); /* j4 still holds it */
    et_finish(&t, &j4);
    et_run(&t);
    ck_assert(placed(&t, &j2));
    et_close(&t);
}
END_TEST

/* Every way out of SCHEDULED/RUNNING releases the key. */
enum {
    P_SUCCEEDED,
    P_FAILED_RETRY,
    P_FAILED_FINAL,
    P_TIMED_OUT,
    P_LEASE,
    P_WORKER_LOST,
    P_CANCEL_RUNNING,
    P_CANCEL_SCHEDULED,
    NPATHS
};
static const char *const path_names[NPATHS] = {"succeeded",     "failed, retry", "failed for good",     "timed out",
                                               "lease expired", "worker lost",   "cancelled (running)", "cancelled (scheduled)"};

static void release_path(int path)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t ws[2] = {et_worker(&t, "w1", 2), et_worker(&t, "w2", 2)};
    djs_job_request_t r;
    djs_id_t j1, j2;
    et_req(&r, "j1", DJS_PRIO_NORMAL);
    r.spec.ckey = ET_S("k");
    r.spec.climit = 1;
    r.spec.max_retries = path == P_FAILED_FINAL ? 0 : 1;
    r.spec.timeout_s = path == P_TIMED_OUT ? 5 : 0;
    REQ_RC(et_submit_req(&t, &r, &j1), 0);
    j2 = kjob(&t, "j2", DJS_PRIO_NORMAL, "k", 1, NULL, 0);
    et_run(&t);
    ck_assert_msg(placed(&t, &j1) && et_state_of(&t, &j2) == DJS_JOB_QUEUED, "%s: setup", path_names[path]);
    djs_id_t on = et_worker_of(&t, &j1), other = et_id_eq(&on, &ws[0]) ? ws[1] : ws[0];
    uint32_t att = et_jobp(&t, &j1)->attempt;
    uint64_t seq;
    if (path != P_LEASE && path != P_CANCEL_SCHEDULED && path != P_WORKER_LOST)
        REQ_RC(djs_engine_start(t.e, &on, &j1, att, &seq), 0);
    switch (path) {
    case P_SUCCEEDED:
        REQ_RC(djs_engine_complete(t.e, &on, &j1, att, NULL, 0, &seq), 0);
        break;
    case P_FAILED_RETRY:
    case P_FAILED_FINAL:
        REQ_RC(djs_engine_fail(t.e, &on, &j1, att, ET_S("exit 1"), &seq), 0);
        break;
    case P_TIMED_OUT:
        pass(&t, 6 * ET_SEC, ws, 2);
        break;
    case P_LEASE:
        pass(&t, t.cfg.lease_ns + ET_SEC, ws, 2);
        break;
    case P_WORKER_LOST:
        pass(&t, t.cfg.heartbeat_ns * t.cfg.missed_heartbeats + 2 * ET_SEC, &other, 1);
        ck_assert_int_eq(djs_state_worker(et_st(&t), &on)->status, DJS_WORKER_LOST);
        break;
    case P_CANCEL_RUNNING:
    case P_CANCEL_SCHEDULED:
        REQ_RC(djs_engine_cancel(t.e, "admin", &j1, &seq), 0);
        break;
    }
    et_run(&t);
    ck_assert_msg(placed(&t, &j2), "%s: j2 is %s", path_names[path], djs_job_state_name(et_state_of(&t, &j2)));
    ck_assert_msg(!placed(&t, &j1), "%s: j1 still holds the key", path_names[path]);
    ck_assert_uint_eq(held(&t, "k"), 1);
    /* j1, if it comes back (retry time, lease expired, worker lost), waits for j2 */
    pass(&t, 3 * ET_SEC, path == P_WORKER_LOST ? &other : ws, path == P_WORKER_LOST ? 1 : 2);
    ck_assert_msg(!placed(&t, &j1), "%s: j1 placed beside j2", path_names[path]);
    et_close(&t);
}

START_TEST(release_on_every_path)
{
    for (int p = 0; p < NPATHS; p++)
        release_path(p);
}
END_TEST

/* The job behind a parked one must not stay parked when the job ahead of it
 * leaves its tier another way than by being placed (cancelled, moved to
 * another priority) while the key has room. */
START_TEST(parked_group_moves_on)
{
    for (int variant = 0; variant < 2; variant++) {
        et_t t;
        et_open(&t, NULL);
        djs_str_t cpu = ET_S("cpu"), gpu = ET_S("gpu");
        djs_id_t wid;
        REQ_RC(et_register(&t, "c", 1, &cpu, 1, &wid), 0);
        REQ_RC(et_register(&t, "g", 1, &gpu, 1, &wid), 0);
        djs_id_t h = kjob(&t, "holder", DJS_PRIO_NORMAL, "k", 1, &cpu, 1);
        djs_id_t p1 = kjob(&t, "p1", DJS_PRIO_NORMAL, "k", 1, &gpu, 1);
        djs_id_t p2 = kjob(&t, "p2", DJS_PRIO_NORMAL, "k", 1, &gpu, 1);
        et_run(&t); /* h runs; p1 and p2 are set aside (g is free) */
        ck_assert(placed(&t, &h));
        djs_id_t x = kjob(&t, "x", DJS_PRIO_NORMAL, NULL, 0, &gpu, 1);
        et_run(&t); /* x takes g */
        ck_assert(placed(&t, &x));
        et_finish(&t, &h);
        et_run(&t); /* the key has room, but no gpu slot */
        ck_assert_int_eq(et_state_of(&t, &p1), DJS_JOB_QUEUED);
        uint64_t seq;
        if (variant == 0) {
            REQ_RC(djs_engine_cancel(t.e, "admin", &p1, &seq), 0);
        } else {
            djs_job_change_t c;
            memset(&c, 0, sizeof(c));
            c.has_priority = 1;
            c.priority = DJS_PRIO_LOW;
            REQ_RC(djs_engine_update(t.e, "admin", &p1, &c, &seq), 0);
        }
        et_finish(&t, &x);
        et_run(&t);
        ck_assert_msg(placed(&t, &p2), "variant %d: p2 is %s", variant, djs_job_state_name(et_state_of(&t, &p2)));
        et_close(&t);
    }
}
END_TEST

/* A restart rebuilds holders from the log; the parked jobs come back in order. */
START_TEST(restart_rebuilds_holders)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 4);
    djs_id_t j[4];
    for (int i = 0; i < 4; i++)
        j[i] = kjob(&t, "j", DJS_PRIO_NORMAL, "k", 1, NULL, 0);
    djs_id_t free_job = et_job(&t, "free", DJS_PRIO_LOW);
    et_run(&t);
    ck_assert(placed(&t, &j[0]) && placed(&t, &free_job));
    uint8_t before[32], after[32];
    et_digest(&t, before);
    et_reopen(&t, NULL);
    et_digest(&t, after);
    ck_assert(memcmp(before, after, 32) == 0);
    ck_assert_uint_eq(held(&t, "k"), 1);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &j[1]), DJS_JOB_QUEUED);
    /* and from a snapshot */
    djs_buf_t snap;
    djs_buf_init(&snap);
    djs_state_snapshot(et_st(&t), &snap);
    djs_state_t *rs = NULL;
    REQ_RC(djs_state_restore(snap.base, snap.len, &t.cfg.state, &rs), 0);
    djs_concurrency_t c;
    REQ_RC(djs_state_concurrency_key(rs, "k", 1, &c), 0);
    ck_assert_uint_eq(c.held, 1);
    ck_assert_uint_eq(c.holders[0], djs_state_job_slot(et_st(&t), et_jobp(&t, &j[0])));
    REQ_RC(djs_state_job_concurrency(rs, djs_state_job(rs, &j[2]), &c), 0);
    ck_assert_uint_eq(c.limit, 1);
    djs_state_free(rs);
    djs_buf_dispose(&snap);
    for (int i = 0; i < 3; i++) {
        et_finish(&t, &j[i]);
        et_run(&t);
        ck_assert(placed(&t, &j[i + 1]));
        if (i + 2 < 4)
            ck_assert_int_eq(et_state_of(&t, &j[i + 2]), DJS_JOB_QUEUED);
    }
    et_close(&t);
}
END_TEST

START_TEST(fields_validated_and_recorded)
{
    et_t t;
    et_open(&t, NULL);
    djs_job_request_t r;
    djs_id_t id;
    char long_key[DJS_JOB_MAX_CONCURRENCY_KEY + 2];
    memset(long_key, 'k', sizeof(long_key));
    et_req(&r, "j", DJS_PRIO_NORMAL);
    r.spec.ckey = (djs_str_t){long_key, DJS_JOB_MAX_CONCURRENCY_KEY + 1};
    REQ_RC(et_submit_req(&t, &r, &id), DJS_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(djs_engine_errmsg(t.e), "concurrencyKey"));
    r.spec.ckey = (djs_str_t){long_key, DJS_JOB_MAX_CONCURRENCY_KEY};
    r.spec.climit = DJS_JOB_MAX_CONCURRENCY_LIMIT + 1;
    REQ_RC(et_submit_req(&t, &r, &id), DJS_EINVAL);
    ck_assert_ptr_nonnull(strstr(djs_engine_errmsg(t.e), "concurrencyLimit"));
    r.spec.ckey = (djs_str_t){NULL, 0};
    r.spec.climit = 2;
    REQ_RC(et_submit_req(&t, &r, &id), DJS_EINVAL);
    ck_assert_ptr_nonnull(strstr(djs_engine_errmsg(t.e), "concurrencyKey"));
    /* a key alone: limit 1, recorded in job.submitted */
    r.spec.ckey = ET_S("solo");
    r.spec.climit = 0;
    REQ_RC(et_submit_req(&t, &r, &id), 0);
    djs_concurrency_t c;
    REQ_RC(djs_state_job_concurrency(et_st(&t), et_jobp(&t, &id), &c), 0);
    ck_assert_uint_eq(c.limit, 1);
    et_sync(&t);
    djs_buf_t rec;
    djs_buf_init(&rec);
    REQ_RC(djs_log_get(t.log, et_jobp(&t, &id)->submit_seq, &rec), 0);
    djs_event_t ev;
    djs_job_spec_t sp;
    REQ_RC(djs_event_decode(rec.base, rec.len, &ev), 0);
    REQ_RC(djs_body_read_job_spec(ev.body, ev.body_len, &sp), 0);
    ck_assert_int_eq((int)sp.ckey.len, 4);
    ck_assert(memcmp(sp.ckey.p, "solo", 4) == 0);
    ck_assert_uint_eq(sp.climit, 1);
    djs_buf_dispose(&rec);
    /* the body encoder and decoder: absent when there is no key */
    djs_buf_t b;
    djs_buf_init(&b);
    djs_job_spec_t in;
    memset(&in, 0, sizeof(in));
    in.name = ET_S("n");
    in.owner = ET_S("o");
    djs_body_job_spec(&b, &in, NULL, 0);
    REQ_RC(djs_body_read_job_spec(b.base, b.len, &sp), 0);
    ck_assert_uint_eq(sp.ckey.len, 0);
    ck_assert_uint_eq(sp.climit, 0);
    djs_buf_reset(&b);
    in.ckey = ET_S("svc");
    in.climit = 7;
    djs_body_job_spec(&b, &in, NULL, 0);
    REQ_RC(djs_body_read_job_spec(b.base, b.len, &sp), 0);
    ck_assert_uint_eq(sp.ckey.len, 3);
    ck_assert_uint_eq(sp.climit, 7);
    djs_buf_dispose(&b);
    et_close(&t);
}
END_TEST

static Suite *concurrency_suite(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("limits");
    tcase_add_test(tc, limit_holds);
    tcase_add_test(tc, full_key_does_not_block);
    tcase_add_test(tc, different_limits_per_job);
    tcase_add_test(tc, release_on_every_path);
    tcase_add_test(tc, parked_group_moves_on);
    tcase_add_test(tc, restart_rebuilds_holders);
    tcase_add_test(tc, fields_validated_and_recorded);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(concurrency_suite)
