/* replay/diff over real logs written by the engine (fake clock): counts,
 * listing with names and statuses at the end point, bounds, and a log the
 * projection refuses. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "enginetest.h"
#include "logtest.h"
#include "replay/diff.h"
#include "replay/rebuild.h"

typedef struct fx {
    et_t t;
    djs_id_t w, w2, j1, j2, j3;
    uint64_t a, b; /* the two points */
} fx_t;

static djs_id_t submit(fx_t *f, const char *name, uint32_t retries)
{
    djs_job_request_t r;
    djs_id_t id;
    et_req(&r, name, DJS_PRIO_NORMAL);
    r.spec.max_retries = retries;
    REQ_RC(et_submit_req(&f->t, &r, &id), 0);
    return id;
}

static void fail_current(fx_t *f, const djs_id_t *j)
{
    const djs_job_t *jp = et_jobp(&f->t, j);
    REQ(jp != NULL && jp->state == DJS_JOB_SCHEDULED);
    uint32_t att = jp->attempt;
    djs_id_t w = et_worker_of(&f->t, j);
    uint64_t seq;
    REQ_RC(djs_engine_start(f->t.e, &w, j, att, &seq), 0);
    REQ_RC(djs_engine_fail(f->t.e, &w, j, att, ET_S("boom"), &seq), 0);
}

/* a: worker w1 registered. Then: j1 completes; j2 fails, is retried, fails
 * for good; j3 is cancelled; w2 registers and deregisters. b: the end. */
static void fixture(fx_t *f)
{
    et_open(&f->t, NULL);
    f->w = et_worker(&f->t, "w1", 1);
    et_sync(&f->t);
    f->a = djs_log_last_seq(f->t.log);
    et_advance(&f->t, ET_SEC);
    f->j1 = submit(f, "one", 0);
    et_run(&f->t);
    et_finish(&f->t, &f->j1);
    f->j2 = submit(f, "two", 1);
    et_run(&f->t);
    fail_current(f, &f->j2);
    et_advance(&f->t, 3 * ET_SEC); /* past the first backoff (1 s base, jitter), before heartbeats are missed */
    et_run(&f->t);
    fail_current(f, &f->j2);
    REQ(et_state_of(&f->t, &f->j2) == DJS_JOB_FAILED);
    f->j3 = submit(f, "three", 0);
    uint64_t seq;
    REQ_RC(djs_engine_cancel(f->t.e, "bob", &f->j3, &seq), 0);
    f->w2 = et_worker(&f->t, "w2", 1);
    REQ_RC(djs_engine_deregister(f->t.e, "admin", &f->w2, &seq), 0);
    et_sync(&f->t);
    f->b = djs_log_last_seq(f->t.log);
}

static const djs_diff_item_t *item(const djs_diff_report_t *r, int kind, const djs_id_t *id)
{
    for (uint32_t i = 0; i < r->nitems; i++)
        if (r->items[i].kind == kind && et_id_eq(&r->items[i].id, id))
            return &r->items[i];
    return NULL;
}

START_TEST(counts_and_listing_between_two_points)
{
    fx_t f;
    fixture(&f);
    djs_diff_report_t r;
    REQ_RC(djs_diff_run(f.t.log, f.a, f.b, 100, &r), 0);
    ck_assert_uint_eq(r.events, f.b - f.a);
    ck_assert_uint_eq(r.counts[DJS_DIFF_JOBS_CREATED], 3);
    ck_assert_uint_eq(r.counts[DJS_DIFF_JOBS_SUCCEEDED], 1);
    ck_assert_uint_eq(r.counts[DJS_DIFF_JOBS_RETRIED], 1);
    ck_assert_uint_eq(r.counts[DJS_DIFF_JOBS_FAILED], 1);
    ck_assert_uint_eq(r.counts[DJS_DIFF_JOBS_CANCELLED], 1);
    ck_assert_uint_eq(r.counts[DJS_DIFF_WORKERS_REGISTERED], 1);
    ck_assert_uint_eq(r.counts[DJS_DIFF_WORKERS_DEREGISTERED], 1);
    ck_assert_uint_eq(r.counts[DJS_DIFF_WORKERS_LOST], 0);
    const djs_diff_item_t *it = item(&r, DJS_DIFF_JOBS_CREATED, &f.j1);
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->name, "one");
    ck_assert_str_eq(it->status, "COMPLETED");
    it = item(&r, DJS_DIFF_JOBS_FAILED, &f.j2);
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->name, "two");
    ck_assert_str_eq(it->status, "FAILED");
    it = item(&r, DJS_DIFF_JOBS_RETRIED, &f.j2);
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->status, "FAILED"); /* the status at b, not when it was retried */
    it = item(&r, DJS_DIFF_JOBS_CANCELLED, &f.j3);
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->name, "three");
    ck_assert_str_eq(it->status, "CANCELLED");
    it = item(&r, DJS_DIFF_WORKERS_REGISTERED, &f.w2);
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->status, "GONE");
    ck_assert_ptr_null(item(&r, DJS_DIFF_WORKERS_REGISTERED, &f.w)); /* registered before a */
    ck_assert_int_eq(r.truncated, 0);
    ck_assert_uint_gt(r.to_ts, r.from_ts);
    djs_diff_dispose(&r);
    et_close(&f.t);
}
END_TEST

START_TEST(from_the_start_and_an_empty_range)
{
    fx_t f;
    fixture(&f);
    djs_diff_report_t r;
    REQ_RC(djs_diff_run(f.t.log, 0, f.a, 100, &r), 0);
    ck_assert_uint_eq(r.counts[DJS_DIFF_WORKERS_REGISTERED], 1);
    ck_assert_uint_eq(r.counts[DJS_DIFF_JOBS_CREATED], 0);
    const djs_diff_item_t *it = item(&r, DJS_DIFF_WORKERS_REGISTERED, &f.w);
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->name, "w1");
    ck_assert_str_eq(it->status, "ACTIVE");
    djs_diff_dispose(&r);
    REQ_RC(djs_diff_run(f.t.log, f.b, f.b, 100, &r), 0);
    ck_assert_uint_eq(r.events, 0);
    ck_assert_uint_eq(r.nitems, 0);
    djs_diff_dispose(&r);
    /* a split range adds up */
    djs_diff_report_t r1, r2, all;
    uint64_t mid = (f.a + f.b) / 2;
    REQ_RC(djs_diff_run(f.t.log, f.a, mid, 0, &r1), 0);
    REQ_RC(djs_diff_run(f.t.log, mid, f.b, 0, &r2), 0);
    REQ_RC(djs_diff_run(f.t.log, f.a, f.b, 0, &all), 0);
    for (int k = 0; k < DJS_DIFF_NKINDS; k++)
        ck_assert_uint_eq(r1.counts[k] + r2.counts[k], all.counts[k]);
    ck_assert_uint_eq(all.nitems, 0); /* max_items 0: counts only */
    djs_diff_dispose(&r1);
    djs_diff_dispose(&r2);
    djs_diff_dispose(&all);
    et_close(&f.t);
}
END_TEST

START_TEST(listing_is_bounded_and_bad_ranges_refused)
{
    fx_t f;
    fixture(&f);
    djs_diff_report_t r;
    REQ_RC(djs_diff_run(f.t.log, f.a, f.b, 2, &r), 0);
    ck_assert_uint_eq(r.nitems, 2);
    ck_assert_int_eq(r.truncated, 1);
    ck_assert_uint_eq(r.counts[DJS_DIFF_JOBS_CREATED], 3); /* counts stay exact */
    djs_diff_dispose(&r);
    ck_assert_int_eq(djs_diff_run(f.t.log, f.b, f.a, 10, &r), DJS_EINVAL);
    djs_diff_dispose(&r);
    ck_assert_int_eq(djs_diff_run(f.t.log, 0, f.b + 1, 10, &r), DJS_EINVAL);
    djs_diff_dispose(&r);
    ck_assert_int_eq(djs_diff_run(f.t.log, 0, f.b, 10, NULL), DJS_EINVAL);
    ck_assert_str_eq(djs_diff_kind_name(DJS_DIFF_SCHEDULES_FIRED), "schedulesFired");
    ck_assert_ptr_null(djs_diff_kind_name(DJS_DIFF_NKINDS));
    et_close(&f.t);
}
END_TEST

/* The diff applies with the projection: an event it refuses is named. */
START_TEST(an_event_that_does_not_apply_is_named)
{
    fx_t f;
    fixture(&f);
    et_close(&f.t);
    djs_log_t *log;
    REQ_RC(djs_log_open(&log, f.t.dir, NULL), 0);
    djs_job_change_t c;
    djs_buf_t body;
    djs_buf_init(&body);
    memset(&c, 0, sizeof(c));
    c.attempt = 1;
    djs_body_job_change(&body, DJS_EV_JOB_SUCCEEDED, &c);
    djs_event_t ev = {.type = DJS_EV_JOB_SUCCEEDED,
                      .actor = "x",
                      .actor_len = 1,
                      .entity = lt_entity(77),
                      .body = body.base,
                      .body_len = body.len};
    REQ_RC(djs_log_append(log, &ev), 0);
    REQ_RC(djs_log_sync(log), 0);
    djs_diff_report_t r;
    ck_assert_int_eq(djs_diff_run(log, f.a, f.b + 1, 10, &r), DJS_ECORRUPT);
    ck_assert_uint_eq(r.bad_seq, f.b + 1);
    ck_assert_int_eq(r.bad_err, DJS_ENOTFOUND);
    djs_diff_dispose(&r);
    REQ_RC(djs_diff_run(log, f.a, f.b, 10, &r), 0); /* up to the event before it: fine */
    djs_diff_dispose(&r);
    djs_buf_dispose(&body);
    djs_log_close(log);
}
END_TEST

/* A schedule created before a fires twice after it: two fires of one
 * schedule, its two jobs created. */
START_TEST(schedule_fires_are_counted)
{
    static const char tmpl[] = "\x81\xa4name\xa4tick";
    et_t t;
    et_open(&t, NULL);
    djs_schedule_def_t d;
    memset(&d, 0, sizeof(d));
    d.name = ET_S("every-minute");
    d.spec = ET_S("* * * * *");
    d.overlap = DJS_OVERLAP_ALLOW;
    d.tmpl = (const uint8_t *)tmpl;
    d.tmpl_len = sizeof(tmpl) - 1;
    djs_id_t id;
    uint64_t seq;
    REQ_RC(djs_engine_schedule_create(t.e, "alice", &d, &id, &seq), 0);
    et_sync(&t);
    uint64_t a = djs_log_last_seq(t.log);
    et_advance(&t, 40 * ET_SEC); /* ET_T0 + 40 s is a whole minute */
    et_run(&t);
    et_advance(&t, 60 * ET_SEC);
    et_run(&t);
    et_sync(&t);
    djs_diff_report_t r;
    REQ_RC(djs_diff_run(t.log, a, djs_log_last_seq(t.log), 100, &r), 0);
    ck_assert_uint_eq(r.counts[DJS_DIFF_SCHEDULES_FIRED], 2);
    ck_assert_uint_eq(r.counts[DJS_DIFF_JOBS_CREATED], 2);
    const djs_diff_item_t *it = item(&r, DJS_DIFF_SCHEDULES_FIRED, &id);
    ck_assert_ptr_nonnull(it);
    ck_assert_uint_eq(it->count, 2);
    ck_assert_str_eq(it->name, "every-minute");
    ck_assert_str_eq(it->status, "ACTIVE");
    djs_diff_dispose(&r);
    REQ_RC(djs_engine_schedule_pause(t.e, "bob", &id, &seq), 0);
    et_sync(&t);
    REQ_RC(djs_diff_run(t.log, a, djs_log_last_seq(t.log), 100, &r), 0);
    ck_assert_str_eq(item(&r, DJS_DIFF_SCHEDULES_FIRED, &id)->status, "PAUSED");
    djs_diff_dispose(&r);
    et_close(&t);
}
END_TEST

/* An archived log (cut at a, with its base snapshot): diffs and rebuilds
 * start at the base; before it is DJS_EARCHIVED. */
START_TEST(archived_log_starts_at_its_base)
{
    fx_t f;
    fixture(&f);
    et_close(&f.t);
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.tool = 1;
    djs_log_t *log;
    REQ_RC(djs_log_open(&log, f.t.dir, &o), 0);
    uint64_t cut = f.a + 3; /* the archive base */
    djs_diff_report_t before, r;
    REQ_RC(djs_diff_run(log, cut, f.b, 100, &before), 0);
    djs_replay_rebuild_opts_t ro;
    djs_replay_rebuild_report_t rr, whole;
    djs_replay_rebuild_opts_init(&ro);
    REQ_RC(djs_replay_rebuild(log, &ro, &whole, NULL), 0);
    ro.to_seq = cut;
    ro.write_snapshot = 1;
    REQ_RC(djs_replay_rebuild(log, &ro, &rr, NULL), 0);
    REQ_RC(djs_log_archive_cut(log, cut, NULL, NULL), 0);
    ck_assert_uint_eq(djs_log_first_seq(log), cut + 1);
    ck_assert_int_eq(djs_diff_run(log, f.a, f.b, 100, &r), DJS_EARCHIVED);
    djs_diff_dispose(&r);
    REQ_RC(djs_diff_run(log, cut, f.b, 100, &r), 0);
    for (int k = 0; k < DJS_DIFF_NKINDS; k++)
        ck_assert_uint_eq(r.counts[k], before.counts[k]);
    ck_assert_uint_eq(r.nitems, before.nitems);
    ck_assert_uint_gt(r.nitems, 0);
    djs_diff_dispose(&r);
    djs_diff_dispose(&before);
    /* rebuilt from the base snapshot: the same digest as from seq 1 */
    djs_replay_rebuild_opts_init(&ro);
    REQ_RC(djs_replay_rebuild(log, &ro, &rr, NULL), 0);
    ck_assert_uint_eq(rr.start_seq, cut);
    ck_assert_uint_eq(rr.events, f.b - cut);
    ck_assert(memcmp(rr.digest, whole.digest, 32) == 0);
    ro.to_seq = cut - 1;
    ck_assert_int_eq(djs_replay_rebuild(log, &ro, &rr, NULL), DJS_EARCHIVED);
    djs_log_close(log);
}
END_TEST

static Suite *diff_suite(void)
{
    Suite *s = suite_create("diff");
    TCase *tc = tcase_create("diff");
    tcase_add_test(tc, counts_and_listing_between_two_points);
    tcase_add_test(tc, from_the_start_and_an_empty_range);
    tcase_add_test(tc, listing_is_bounded_and_bad_ranges_refused);
    tcase_add_test(tc, an_event_that_does_not_apply_is_named);
    tcase_add_test(tc, schedule_fires_are_counted);
    tcase_add_test(tc, archived_log_starts_at_its_base);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(diff_suite)
