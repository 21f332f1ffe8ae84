/* replay/audit and replay/point over real logs: an engine (fake clock)
 * writing real events for two subjects and a worker, and records appended
 * with real bodies (core/bodies.h). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "enginetest.h"
#include "logtest.h"
#include "replay/audit.h"
#include "replay/point.h"

typedef struct got {
    uint64_t seq[256];
    int type[256];
    char actor[256][64];
    djs_id_t entity[256];
    djs_id_t worker[256]; /* fact "worker", nil if none */
    uint64_t attempt[256];
    char text[256][256];
    int n;
} got_t;

static int collect(void *arg, const djs_audit_match_t *m)
{
    got_t *g = arg;
    ck_assert_int_lt(g->n, 256);
    int i = g->n++;
    g->seq[i] = m->seq;
    g->type[i] = m->type;
    snprintf(g->actor[i], sizeof(g->actor[i]), "%.*s", (int)m->actor.len, m->actor.p);
    g->entity[i] = m->entity;
    memset(&g->worker[i], 0, sizeof(djs_id_t));
    g->attempt[i] = 0;
    for (uint32_t k = 0; k < m->nfacts; k++) {
        if (strcmp(m->facts[k].key, "worker") == 0)
            g->worker[i] = m->facts[k].id;
        if (strcmp(m->facts[k].key, "attempt") == 0)
            g->attempt[i] = m->facts[k].u;
    }
    djs_audit_facts_text(m, g->text[i], sizeof(g->text[i]));
    return 0;
}

/* A history: worker w registered by admin; alice submits j1 and j3, bob
 * j2; j1 placed on w, started and completed; bob cancels j2, alice j3
 * (still waiting: scheduled in an hour). */
typedef struct fx {
    et_t t;
    djs_id_t w, j1, j2, j3;
} fx_t;

static void fixture(fx_t *f)
{
    et_open(&f->t, NULL);
    f->w = et_worker(&f->t, "w1", 1);
    et_advance(&f->t, ET_SEC);
    djs_job_request_t r;
    uint64_t seq;
    int existed;
    et_req(&r, "one", DJS_PRIO_NORMAL);
    REQ_RC(djs_engine_submit(f->t.e, "alice", &r, 1, &f->j1, &seq, &existed), 0);
    et_req(&r, "two", DJS_PRIO_NORMAL);
    REQ_RC(djs_engine_submit(f->t.e, "bob", &r, 1, &f->j2, &seq, &existed), 0);
    et_req(&r, "three", DJS_PRIO_NORMAL);
    r.spec.scheduled_at = f->t.now + 3600 * ET_SEC;
    REQ_RC(djs_engine_submit(f->t.e, "alice", &r, 1, &f->j3, &seq, &existed), 0);
    et_run(&f->t);
    et_advance(&f->t, ET_SEC);
    et_finish(&f->t, &f->j1);
    REQ_RC(djs_engine_cancel(f->t.e, "bob", &f->j2, &seq), 0);
    REQ_RC(djs_engine_cancel(f->t.e, "alice", &f->j3, &seq), 0);
    et_sync(&f->t);
}

static int run(djs_log_t *log, const djs_audit_query_t *q, got_t *g, djs_audit_result_t *res)
{
    memset(g, 0, sizeof(*g));
    return djs_audit_run(log, q, collect, g, res);
}

START_TEST(actor_filter_is_exact)
{
    fx_t f;
    fixture(&f);
    djs_audit_query_t q;
    djs_audit_result_t res;
    got_t g;
    djs_audit_query_init(&q);
    q.actor = "alice";
    q.actor_len = 5;
    REQ_RC(run(f.t.log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 3);
    ck_assert_int_eq(g.type[0], DJS_EV_JOB_SUBMITTED);
    ck_assert(et_id_eq(&g.entity[0], &f.j1));
    ck_assert_int_eq(g.type[1], DJS_EV_JOB_SUBMITTED);
    ck_assert(et_id_eq(&g.entity[1], &f.j3));
    ck_assert_int_eq(g.type[2], DJS_EV_JOB_CANCELLED);
    ck_assert(et_id_eq(&g.entity[2], &f.j3));
    ck_assert_uint_eq(res.next_seq, 0);
    ck_assert_uint_eq(res.examined, djs_log_last_seq(f.t.log));
    ck_assert(strstr(g.text[0], "name=one") != NULL && strstr(g.text[0], "owner=alice") != NULL);
    /* a prefix is not the actor */
    q.actor_len = 4;
    REQ_RC(run(f.t.log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 0);
    et_close(&f.t);
}
END_TEST

START_TEST(job_filter_names_every_worker_that_ran_it)
{
    fx_t f;
    fixture(&f);
    djs_audit_query_t q;
    djs_audit_result_t res;
    got_t g;
    djs_audit_query_init(&q);
    q.has_entity = 1;
    q.entity = f.j1;
    REQ_RC(run(f.t.log, &q, &g, &res), 0);
    int ran = 0;
    for (int i = 0; i < g.n; i++) {
        ck_assert(et_id_eq(&g.entity[i], &f.j1));
        if (g.type[i] == DJS_EV_JOB_SCHEDULED || g.type[i] == DJS_EV_JOB_STARTED) {
            ck_assert(et_id_eq(&g.worker[i], &f.w));
            ck_assert_uint_eq(g.attempt[i], 1);
            ran++;
        }
    }
    ck_assert_int_eq(ran, 2);
    ck_assert_int_eq(g.type[0], DJS_EV_JOB_SUBMITTED);
    ck_assert_int_eq(g.type[g.n - 1], DJS_EV_JOB_SUCCEEDED);
    char wid[DJS_ID_TEXT_LEN + 1], want[64];
    djs_id_format(&f.w, wid);
    snprintf(want, sizeof(want), "worker=%s attempt=1", wid);
    ck_assert_str_eq(g.text[1], want);
    /* job.scheduled is the scheduler's decision */
    ck_assert_int_eq(g.type[1], DJS_EV_JOB_SCHEDULED);
    ck_assert_str_eq(g.actor[1], "scheduler");
    ck_assert_int_eq(djs_audit_entity_known(f.t.log, &f.j1), 1);
    djs_id_t none = lt_entity(999);
    ck_assert_int_eq(djs_audit_entity_known(f.t.log, &none), 0);
    et_close(&f.t);
}
END_TEST

START_TEST(type_set_and_filters_combine)
{
    fx_t f;
    fixture(&f);
    djs_audit_query_t q;
    djs_audit_result_t res;
    got_t g;
    djs_audit_query_init(&q);
    REQ_RC(djs_audit_query_add_types(&q, "job.cancelled", strlen("job.cancelled"), NULL, NULL), 0);
    REQ_RC(run(f.t.log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.actor[0], "bob"); /* who cancelled j2 */
    ck_assert(et_id_eq(&g.entity[0], &f.j2));
    ck_assert_str_eq(g.actor[1], "alice");
    /* and bob only, and also submissions */
    REQ_RC(djs_audit_query_add_types(&q, "job.submitted,worker.registered", strlen("job.submitted,worker.registered"), NULL, NULL),
           0);
    q.actor = "bob";
    q.actor_len = 3;
    REQ_RC(run(f.t.log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 2);
    ck_assert_int_eq(g.type[0], DJS_EV_JOB_SUBMITTED);
    ck_assert_int_eq(g.type[1], DJS_EV_JOB_CANCELLED);
    /* entity and type: j2's cancellation only */
    q.actor = NULL;
    q.has_entity = 1;
    q.entity = f.j2;
    REQ_RC(run(f.t.log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 2); /* submitted and cancelled */
    et_close(&f.t);
}
END_TEST

START_TEST(bad_type_lists_are_refused)
{
    djs_audit_query_t q;
    const char *bad = NULL;
    size_t bl = 0;
    djs_audit_query_init(&q);
    ck_assert_int_eq(djs_audit_query_add_types(&q, "job.cancelled,job.nope", strlen("job.cancelled,job.nope"), &bad, &bl),
                     DJS_EINVAL);
    ck_assert_uint_eq(bl, 8);
    ck_assert(strncmp(bad, "job.nope", 8) == 0);
    ck_assert_int_eq(djs_audit_query_add_types(&q, "", 0, &bad, &bl), DJS_EINVAL);
    ck_assert_int_eq(djs_audit_query_add_types(&q, "job.cancelled,", strlen("job.cancelled,"), &bad, &bl), DJS_EINVAL);
    ck_assert_int_eq(djs_audit_query_add_types(&q, ",job.cancelled", strlen(",job.cancelled"), &bad, &bl), DJS_EINVAL);
    ck_assert_int_eq(djs_audit_query_add_type(&q, 0), DJS_EINVAL);
    ck_assert_int_eq(djs_audit_query_add_type(&q, 99), DJS_EINVAL);
    ck_assert_int_eq(djs_audit_query_add_type(&q, 500), DJS_EINVAL);
}
END_TEST

/* Pages of `limit` matches, or of `budget` records, followed by next_seq,
 * give exactly the unbounded answer. */
static void pages_match(djs_log_t *log, djs_audit_query_t q, uint32_t limit, uint64_t budget)
{
    got_t whole, page;
    djs_audit_result_t res;
    REQ_RC(run(log, &q, &whole, &res), 0);
    ck_assert_int_gt(whole.n, 0);
    q.limit = limit;
    q.budget = budget;
    int n = 0, calls = 0;
    for (;;) {
        REQ_RC(run(log, &q, &page, &res), 0);
        calls++;
        ck_assert(limit == 0 || res.matched <= limit);
        ck_assert(budget == 0 || res.examined <= budget);
        for (int i = 0; i < page.n; i++, n++)
            ck_assert_uint_eq(page.seq[i], whole.seq[n]);
        if (res.next_seq == 0)
            break;
        ck_assert_uint_gt(res.next_seq, q.from_seq);
        q.from_seq = res.next_seq;
        ck_assert_int_lt(calls, 1000);
    }
    ck_assert_int_eq(n, whole.n);
    ck_assert_int_gt(calls, 1);
}

START_TEST(limit_and_budget_page_through)
{
    fx_t f;
    fixture(&f);
    djs_audit_query_t q;
    djs_audit_query_init(&q);
    REQ_RC(djs_audit_query_add_types(&q, "job.submitted,job.cancelled", strlen("job.submitted,job.cancelled"), NULL, NULL), 0);
    pages_match(f.t.log, q, 1, 0);
    pages_match(f.t.log, q, 2, 0);
    pages_match(f.t.log, q, 0, 1);
    pages_match(f.t.log, q, 0, 3);
    pages_match(f.t.log, q, 1, 2);
    q.has_entity = 1;
    q.entity = f.j1;
    memset(q.types, 0, sizeof(q.types));
    pages_match(f.t.log, q, 0, 1);
    pages_match(f.t.log, q, 2, 0);
    /* a budget stops a scan that finds nothing, with a cursor */
    djs_audit_query_init(&q);
    q.actor = "nobody";
    q.actor_len = 6;
    q.budget = 2;
    got_t g;
    djs_audit_result_t res;
    REQ_RC(run(f.t.log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 0);
    ck_assert_uint_eq(res.examined, 2);
    ck_assert_uint_eq(res.next_seq, 3);
    et_close(&f.t);
}
END_TEST

START_TEST(seq_range_and_times)
{
    fx_t f;
    fixture(&f);
    djs_log_t *log = f.t.log;
    uint64_t last = djs_log_last_seq(log), s;
    djs_audit_query_t q;
    djs_audit_result_t res;
    got_t all, g;
    djs_audit_query_init(&q);
    q.actor = "alice";
    q.actor_len = 5;
    REQ_RC(run(log, &q, &all, &res), 0);
    q.from_seq = all.seq[0] + 1;
    q.to_seq = all.seq[2] - 1;
    REQ_RC(run(log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.seq[0], all.seq[1]);
    q.from_seq = 5;
    q.to_seq = 4;
    REQ_RC(run(log, &q, &g, &res), 0); /* an empty range */
    ck_assert_int_eq(g.n, 0);
    /* times: every record's own timestamp maps back to it */
    for (uint64_t k = 1; k <= last; k++) {
        djs_buf_t b;
        djs_event_t ev;
        djs_buf_init(&b);
        REQ_RC(djs_log_get(log, k, &b), 0);
        REQ_RC(djs_event_decode(b.base, b.len, &ev), 0);
        REQ_RC(djs_replay_point_from(log, ev.ts_ns, &s), 0);
        REQ_EQ(s, k);
        REQ_RC(djs_replay_point_to(log, ev.ts_ns, &s), 0);
        REQ_EQ(s, k);
        REQ_RC(djs_replay_point_to(log, ev.ts_ns - 1, &s), 0);
        REQ_EQ(s, k - 1);
        djs_buf_dispose(&b);
    }
    REQ_RC(djs_replay_point_from(log, ET_T0 + 1000 * ET_SEC, &s), 0);
    ck_assert_uint_eq(s, last + 1);
    REQ_RC(djs_replay_point_to(log, ET_T0 + 1000 * ET_SEC, &s), 0);
    ck_assert_uint_eq(s, last);
    REQ_RC(djs_replay_point_to(log, ET_T0 - 1, &s), 0);
    ck_assert_uint_eq(s, 0);
    REQ_RC(djs_replay_point_from(log, 0, &s), 0);
    ck_assert_uint_eq(s, 1);
    et_close(&f.t);
}
END_TEST

static int stop_at_two(void *arg, const djs_audit_match_t *m)
{
    (void)m;
    return ++*(int *)arg == 2 ? 7 : 0;
}

START_TEST(callback_stops_with_a_cursor)
{
    fx_t f;
    fixture(&f);
    djs_audit_query_t q;
    djs_audit_result_t res;
    int n = 0;
    djs_audit_query_init(&q);
    REQ_RC(djs_audit_query_add_type(&q, DJS_EV_JOB_SUBMITTED), 0);
    ck_assert_int_eq(djs_audit_run(f.t.log, &q, stop_at_two, &n, &res), 7);
    ck_assert_uint_eq(res.matched, 2);
    ck_assert_uint_gt(res.next_seq, 0);
    ck_assert_int_eq(djs_audit_run(NULL, &q, stop_at_two, &n, &res), DJS_EINVAL);
    et_close(&f.t);
}
END_TEST

/* Facts of bodies the engine rarely writes in a test: appended as records. */
START_TEST(failure_facts_from_real_bodies)
{
    djs_log_t *log;
    REQ_RC(djs_log_open(&log, tu_tmpdir(), NULL), 0);
    djs_id_t job = lt_entity(1), up = lt_entity(2);
    djs_job_change_t c;
    djs_buf_t body;
    djs_buf_init(&body);
    memset(&c, 0, sizeof(c));
    c.attempt = 3;
    c.reason = ET_S("exit_code");
    c.error = ET_S("exit 2\n");
    c.retry_at = 1800000000ULL * ET_SEC;
    djs_body_job_change(&body, DJS_EV_JOB_FAILED, &c);
    djs_event_t ev = {
        .type = DJS_EV_JOB_FAILED, .actor = "w-7", .actor_len = 3, .entity = job, .body = body.base, .body_len = body.len};
    REQ_RC(djs_log_append(log, &ev), 0);
    djs_buf_reset(&body);
    memset(&c, 0, sizeof(c));
    c.upstream = up;
    djs_body_job_change(&body, DJS_EV_JOB_UPSTREAM_FAILED, &c);
    djs_event_t ev2 = {.type = DJS_EV_JOB_UPSTREAM_FAILED,
                       .actor = "scheduler",
                       .actor_len = 9,
                       .entity = job,
                       .body = body.base,
                       .body_len = body.len};
    REQ_RC(djs_log_append(log, &ev2), 0);
    REQ_RC(djs_log_sync(log), 0);
    djs_audit_query_t q;
    djs_audit_result_t res;
    got_t g;
    djs_audit_query_init(&q);
    q.has_entity = 1;
    q.entity = job;
    REQ_RC(run(log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.text[0], "attempt=3 reason=exit_code error=exit 2? retryAt=2027-01-15T08:00:00Z");
    char uid[DJS_ID_TEXT_LEN + 1], want[64];
    djs_id_format(&up, uid);
    snprintf(want, sizeof(want), "upstream=%s", uid);
    ck_assert_str_eq(g.text[1], want);
    /* the text is cut, never overrun */
    char small[12];
    djs_audit_match_t m = {.nfacts = 1};
    m.facts[0] = (djs_audit_fact_t){.key = "reason", .kind = DJS_AUDIT_STR, .s = ET_S("a very long reason")};
    ck_assert_str_eq(djs_audit_facts_text(&m, small, sizeof(small)), "reason=a ve");
    djs_buf_dispose(&body);
    djs_log_close(log);
}
END_TEST

/* A schedule's fire and the job it submitted, by the schedule's id and by type. */
START_TEST(schedule_facts)
{
    static const char tmpl[] = "\x81\xa4name\xa4tick";
    et_t t;
    et_open(&t, NULL);
    djs_schedule_def_t d;
    memset(&d, 0, sizeof(d));
    d.name = ET_S("every-minute");
    d.spec = ET_S("* * * * *");
    d.tmpl = (const uint8_t *)tmpl;
    d.tmpl_len = sizeof(tmpl) - 1;
    djs_id_t id;
    uint64_t seq;
    REQ_RC(djs_engine_schedule_create(t.e, "alice", &d, &id, &seq), 0);
    et_advance(&t, 40 * ET_SEC);
    et_run(&t);
    et_sync(&t);
    djs_audit_query_t q;
    djs_audit_result_t res;
    got_t g;
    djs_audit_query_init(&q);
    q.has_entity = 1;
    q.entity = id;
    REQ_RC(run(t.log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 2);
    ck_assert_int_eq(g.type[0], DJS_EV_SCHEDULE_CREATED);
    ck_assert_str_eq(g.text[0], "name=every-minute owner=alice");
    ck_assert_int_eq(g.type[1], DJS_EV_SCHEDULE_FIRED);
    ck_assert_str_eq(g.text[1], "jobs=1");
    djs_audit_query_init(&q);
    REQ_RC(djs_audit_query_add_type(&q, DJS_EV_JOB_SUBMITTED), 0);
    REQ_RC(run(t.log, &q, &g, &res), 0);
    ck_assert_int_eq(g.n, 1);
    char sid[DJS_ID_TEXT_LEN + 1];
    djs_id_format(&id, sid);
    ck_assert(strstr(g.text[0], "name=tick") != NULL && strstr(g.text[0], sid) != NULL);
    et_close(&t);
}
END_TEST

static Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("audit");
    tcase_add_test(tc, actor_filter_is_exact);
    tcase_add_test(tc, job_filter_names_every_worker_that_ran_it);
    tcase_add_test(tc, type_set_and_filters_combine);
    tcase_add_test(tc, bad_type_lists_are_refused);
    tcase_add_test(tc, limit_and_budget_page_through);
    tcase_add_test(tc, seq_range_and_times);
    tcase_add_test(tc, callback_stops_with_a_cursor);
    tcase_add_test(tc, failure_facts_from_real_bodies);
    tcase_add_test(tc, schedule_facts);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(audit_suite)
