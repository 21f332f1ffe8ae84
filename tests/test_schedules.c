/* Schedules: recurring jobs fired by the engine on an injected clock
 * (scheduler/engine.h "schedules", projections/schedules.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enginetest.h"
#include "projections/schedules.h"
#include "projections/snapshot.h"

/* {"name":"tick"} and a two-job workflow {"jobs":[{"key":"a","name":"a"},{"key":"b","name":"b","dependsOn":["a"]}]} */
static const char TMPL[] = "\x81\xa4name\xa4tick";
static const char TMPL_WF[] = "\x81\xa4jobs\x92\x82\xa3key\xa1\x61\xa4name\xa1\x61\x83\xa3key\xa1\x62\xa4name\xa1\x62\xa9"
                              "dependsOn\x91\xa1\x61";

static void def_init(djs_schedule_def_t *d, const char *spec)
{
    memset(d, 0, sizeof(*d));
    d->name = ET_S("tick");
    d->spec = (djs_str_t){spec, strlen(spec)};
    d->tmpl = (const uint8_t *)TMPL;
    d->tmpl_len = sizeof(TMPL) - 1;
}

static djs_id_t mk_def(et_t *t, const djs_schedule_def_t *d)
{
    djs_id_t id;
    uint64_t seq;
    int rc = djs_engine_schedule_create(t->e, "alice", d, &id, &seq);
    if (rc != 0)
        ck_abort_msg("create: %s: %s", djs_err_name(rc), djs_engine_errmsg(t->e));
    return id;
}

static djs_id_t mk(et_t *t, const char *spec, int overlap, int catchup)
{
    djs_schedule_def_t d;
    def_init(&d, spec);
    d.overlap = (uint8_t)overlap;
    d.catchup = (uint8_t)catchup;
    return mk_def(t, &d);
}

static const djs_schedule_t *sc(et_t *t, const djs_id_t *id)
{
    const djs_schedule_t *s = djs_state_schedule(et_st(t), id);
    REQ(s != NULL);
    return s;
}

static uint64_t fires(et_t *t, const djs_id_t *id)
{
    return sc(t, id)->fires;
}

static uint64_t skips(et_t *t, const djs_id_t *id)
{
    return sc(t, id)->skips;
}

/* The job's submitted body names the schedule. */
static void expect_job_of(et_t *t, const djs_id_t *job, const djs_id_t *sched)
{
    const djs_job_t *j = et_jobp(t, job);
    REQ(j != NULL);
    djs_buf_t b;
    djs_buf_init(&b);
    et_sync(t);
    REQ_RC(djs_log_get(t->log, j->submit_seq, &b), 0);
    djs_event_t ev;
    djs_job_spec_t sp;
    REQ_RC(djs_event_decode(b.base, b.len, &ev), 0);
    REQ_RC(djs_body_read_job_spec(ev.body, ev.body_len, &sp), 0);
    REQ(et_id_eq(&sp.schedule, sched));
    djs_buf_dispose(&b);
}

static void expect_replay_equal(et_t *t)
{
    uint8_t live[32], rep[32];
    et_sync(t);
    djs_state_t *st = et_replay(t->log, &t->cfg.state, djs_log_last_seq(t->log));
    djs_state_digest(st, rep);
    et_digest(t, live);
    REQ(memcmp(live, rep, 32) == 0);
    /* and through a snapshot */
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(st, &b);
    djs_state_t *back = NULL;
    REQ_RC(djs_state_restore(b.base, b.len, &t->cfg.state, &back), 0);
    djs_state_digest(back, rep);
    REQ(memcmp(live, rep, 32) == 0);
    REQ_EQ(djs_state_nschedules(back), djs_state_nschedules(et_st(t)));
    djs_state_free(back);
    djs_state_free(st);
    djs_buf_dispose(&b);
}

/* ET_T0 is 2023-11-14 22:13:20 UTC: the next whole minute is 40 s on. */
START_TEST(every_minute)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t id = mk(&t, "* * * * *", DJS_OVERLAP_ALLOW, DJS_CATCHUP_NONE);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 0);
    et_advance(&t, 39 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 0);
    et_advance(&t, 1 * ET_SEC);
    for (uint64_t k = 1; k <= 5; k++) {
        et_run(&t);
        REQ_EQ(fires(&t, &id), k);
        REQ_EQ(sc(&t, &id)->last_nominal_s, ET_T0 / ET_SEC + 40 + 60 * (k - 1));
        REQ_EQ(sc(&t, &id)->nlast_jobs, 1);
        expect_job_of(&t, &sc(&t, &id)->last_jobs[0], &id);
        et_advance(&t, 30 * ET_SEC);
        et_run(&t);
        REQ_EQ(fires(&t, &id), k);
        et_advance(&t, 30 * ET_SEC);
    }
    REQ_EQ(djs_state_njobs(et_st(&t)), 5);
    REQ_EQ(skips(&t, &id), 0);
    expect_replay_equal(&t);
    et_close(&t);
}
END_TEST

START_TEST(interval_and_workflow)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t id = mk(&t, "every 90s", DJS_OVERLAP_ALLOW, DJS_CATCHUP_NONE);
    djs_schedule_def_t d;
    def_init(&d, "every 2m");
    d.tmpl = (const uint8_t *)TMPL_WF;
    d.tmpl_len = sizeof(TMPL_WF) - 1;
    djs_id_t wf = mk_def(&t, &d);
    et_advance(&t, 89 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 0);
    et_advance(&t, 1 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 1);
    et_advance(&t, 30 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &wf), 1);
    REQ_EQ(sc(&t, &wf)->nlast_jobs, 2);
    expect_job_of(&t, &sc(&t, &wf)->last_jobs[1], &wf);
    REQ(!djs_id_is_nil(&et_jobp(&t, &sc(&t, &wf)->last_jobs[0])->id));
    et_advance(&t, 60 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 2);
    expect_replay_equal(&t);
    et_close(&t);
}
END_TEST

/* No worker: a fired job stays QUEUED, so the previous run is still going. */
static void overlap_case(int policy, uint64_t want_fires, uint64_t want_skips)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t id = mk(&t, "every 1m", policy, DJS_CATCHUP_NONE);
    et_advance(&t, 60 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 1);
    djs_id_t first = sc(&t, &id)->last_jobs[0];
    et_advance(&t, 60 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), want_fires);
    REQ_EQ(skips(&t, &id), want_skips);
    if (policy == DJS_OVERLAP_CANCEL)
        REQ_EQ(et_state_of(&t, &first), DJS_JOB_CANCELLED);
    else
        REQ_EQ(et_state_of(&t, &first), DJS_JOB_QUEUED);
    /* once the previous run is over, skip fires again */
    if (policy == DJS_OVERLAP_SKIP) {
        uint64_t seq;
        REQ_RC(djs_engine_cancel(t.e, "alice", &first, &seq), 0);
        et_advance(&t, 60 * ET_SEC);
        et_run(&t);
        REQ_EQ(fires(&t, &id), 2);
    }
    expect_replay_equal(&t);
    et_close(&t);
}

START_TEST(overlap_skip)
{
    overlap_case(DJS_OVERLAP_SKIP, 1, 1);
}
END_TEST

START_TEST(overlap_allow)
{
    overlap_case(DJS_OVERLAP_ALLOW, 2, 0);
}
END_TEST

START_TEST(overlap_cancel_previous)
{
    overlap_case(DJS_OVERLAP_CANCEL, 2, 0);
}
END_TEST

/* every 10 min from T0; fired once at T0+600; down from T0+630 to T0+4500:
 * due then T0+1200 .. T0+4200 (6 times), the latest 300 s late. */
static void catchup_case(int policy, uint32_t max, uint64_t want_fires, uint64_t want_skips, uint32_t want_missed)
{
    et_t t;
    et_open(&t, NULL);
    djs_schedule_def_t d;
    def_init(&d, "every 10m");
    d.overlap = DJS_OVERLAP_ALLOW;
    d.catchup = (uint8_t)policy;
    d.catchup_max = max;
    djs_id_t id = mk_def(&t, &d);
    et_advance(&t, 600 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 1);
    et_advance(&t, 30 * ET_SEC);
    et_close(&t);
    et_advance(&t, 3870 * ET_SEC);
    et_open_log(&t);
    et_open_engine(&t, NULL);
    et_run(&t);
    REQ_EQ(fires(&t, &id), want_fires);
    REQ_EQ(skips(&t, &id), want_skips);
    REQ_EQ(sc(&t, &id)->last_nominal_s, ET_T0 / ET_SEC + 4200);
    et_hist_t *h = malloc(sizeof(*h));
    et_history(&t, &id, h);
    int nf = et_count_type(h, DJS_EV_SCHEDULE_FIRED);
    REQ_EQ(nf, (int)(want_fires + want_skips));
    /* the first event of the catch-up says how many it passed over */
    djs_buf_t b;
    djs_buf_init(&b);
    int k = 0;
    for (int i = 0; i < h->n; i++)
        if (h->ev[i].type == DJS_EV_SCHEDULE_FIRED && ++k == 2) {
            djs_event_t ev;
            djs_schedule_fire_t f;
            REQ_RC(djs_log_get(t.log, h->ev[i].seq, &b), 0);
            REQ_RC(djs_event_decode(b.base, b.len, &ev), 0);
            REQ_RC(djs_body_read_schedule_fire(ev.body, ev.body_len, &f), 0);
            REQ_EQ(f.missed, want_missed);
        }
    djs_buf_dispose(&b);
    /* decided once: a restart does not decide again */
    et_reopen(&t, NULL);
    et_run(&t);
    et_history(&t, &id, h);
    REQ_EQ(et_count_type(h, DJS_EV_SCHEDULE_FIRED), nf);
    free(h);
    expect_replay_equal(&t);
    et_close(&t);
}

START_TEST(catchup_none)
{
    catchup_case(DJS_CATCHUP_NONE, 0, 1, 1, 5);
}
END_TEST

START_TEST(catchup_last)
{
    catchup_case(DJS_CATCHUP_LAST, 0, 2, 0, 5);
}
END_TEST

START_TEST(catchup_all)
{
    catchup_case(DJS_CATCHUP_ALL, 10, 7, 0, 0);
}
END_TEST

START_TEST(catchup_all_bounded)
{
    catchup_case(DJS_CATCHUP_ALL, 4, 5, 0, 2);
}
END_TEST

START_TEST(start_and_end)
{
    et_t t;
    et_open(&t, NULL);
    djs_schedule_def_t d;
    def_init(&d, "every 1m");
    d.overlap = DJS_OVERLAP_ALLOW;
    d.start_ns = ET_T0 + 300 * ET_SEC;
    d.end_ns = ET_T0 + 420 * ET_SEC;
    djs_id_t id = mk_def(&t, &d);
    uint64_t due;
    REQ_RC(djs_engine_schedule_next(t.e, &id, &due), 0);
    REQ_EQ(due, ET_T0 + 300 * ET_SEC);
    for (int i = 0; i < 12; i++) {
        et_advance(&t, 60 * ET_SEC);
        et_run(&t);
    }
    REQ_EQ(fires(&t, &id), 3); /* T0+300, +360, +420 */
    REQ_RC(djs_engine_schedule_next(t.e, &id, &due), DJS_ENOTFOUND);
    d.end_ns = d.start_ns;
    djs_id_t x;
    uint64_t seq;
    REQ_RC(djs_engine_schedule_create(t.e, "alice", &d, &x, &seq), DJS_EINVAL);
    expect_replay_equal(&t);
    et_close(&t);
}
END_TEST

START_TEST(jitter_recorded)
{
    et_t t;
    et_open(&t, NULL);
    djs_schedule_def_t d;
    def_init(&d, "* * * * *");
    d.overlap = DJS_OVERLAP_ALLOW;
    d.jitter_s = 30;
    djs_id_t id = mk_def(&t, &d);
    for (int k = 0; k < 5; k++) {
        uint64_t due, nominal;
        REQ_RC(djs_engine_schedule_next(t.e, &id, &due), 0);
        REQ_RC(djs_schedule_next(sc(&t, &id), NULL, &nominal), 0);
        REQ(due >= nominal * ET_SEC && due <= nominal * ET_SEC + 30 * ET_SEC);
        /* a restart keeps the draw */
        et_reopen(&t, NULL);
        uint64_t again;
        REQ_RC(djs_engine_schedule_next(t.e, &id, &again), 0);
        REQ_EQ(again, due);
        if (due - 1 > t.now) {
            t.now = due - 1;
            et_run(&t);
            REQ_EQ(fires(&t, &id), (uint64_t)k);
        }
        t.now = due;
        et_run(&t);
        REQ_EQ(fires(&t, &id), (uint64_t)k + 1);
    }
    expect_replay_equal(&t);
    et_close(&t);
}
END_TEST

START_TEST(pause_resume_delete)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t id = mk(&t, "every 1m", DJS_OVERLAP_ALLOW, DJS_CATCHUP_ALL);
    uint64_t seq, due;
    REQ_RC(djs_engine_schedule_pause(t.e, "alice", &id, &seq), 0);
    REQ_RC(djs_engine_schedule_pause(t.e, "alice", &id, &seq), DJS_ECONFLICT);
    REQ_RC(djs_engine_schedule_next(t.e, &id, &due), DJS_ENOTFOUND);
    et_advance(&t, 300 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 0);
    REQ_RC(djs_engine_schedule_resume(t.e, "alice", &id, &seq), 0);
    REQ_RC(djs_engine_schedule_resume(t.e, "alice", &id, &seq), DJS_ECONFLICT);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 0); /* what fell in the pause is not caught up */
    et_advance(&t, 60 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 1);
    /* update: a new spec from now on */
    djs_schedule_def_t d;
    def_init(&d, "every 1h");
    REQ_RC(djs_engine_schedule_update(t.e, "alice", &id, &d, &seq), 0);
    REQ_EQ(strcmp(sc(&t, &id)->spec, "every 1h"), 0);
    et_advance(&t, 120 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 1);
    REQ_RC(djs_engine_schedule_delete(t.e, "alice", &id, &seq), 0);
    REQ(djs_state_schedule(et_st(&t), &id) == NULL);
    REQ_RC(djs_engine_schedule_delete(t.e, "alice", &id, &seq), DJS_ENOTFOUND);
    REQ_RC(djs_engine_schedule_update(t.e, "alice", &id, &d, &seq), DJS_ENOTFOUND);
    et_advance(&t, 3600 * ET_SEC);
    et_run(&t);
    REQ_EQ(djs_state_nschedules(et_st(&t)), 0);
    expect_replay_equal(&t);
    et_close(&t);
}
END_TEST

START_TEST(refusals)
{
    et_t t;
    et_open(&t, NULL);
    djs_schedule_def_t d;
    djs_id_t id;
    uint64_t seq;
    const char *bad_specs[] = {"* * * *", "61 * * * *", "every 0s", "every 400d", "@often", ""};
    for (size_t i = 0; i < sizeof(bad_specs) / sizeof(bad_specs[0]); i++) {
        def_init(&d, bad_specs[i]);
        REQ_RC(djs_engine_schedule_create(t.e, "alice", &d, &id, &seq), DJS_EINVAL);
        REQ(strncmp(djs_engine_errmsg(t.e), "spec: ", 6) == 0);
    }
    def_init(&d, "@hourly");
    d.tz = ET_S("Mars/Olympus_Mons");
    REQ_RC(djs_engine_schedule_create(t.e, "alice", &d, &id, &seq), DJS_EINVAL);
    d.tz = ET_S("../etc/passwd");
    REQ_RC(djs_engine_schedule_create(t.e, "alice", &d, &id, &seq), DJS_EINVAL);
    def_init(&d, "@hourly");
    d.tmpl = (const uint8_t *)"\x81\xa4nope\xa1x";
    d.tmpl_len = 8;
    REQ_RC(djs_engine_schedule_create(t.e, "alice", &d, &id, &seq), DJS_EINVAL);
    def_init(&d, "@hourly");
    d.jitter_s = DJS_SCHEDULE_MAX_JITTER_S + 1;
    REQ_RC(djs_engine_schedule_create(t.e, "alice", &d, &id, &seq), DJS_EINVAL);
    def_init(&d, "@hourly");
    d.name = ET_S("");
    REQ_RC(djs_engine_schedule_create(t.e, "alice", &d, &id, &seq), DJS_EINVAL);
    REQ_EQ(djs_state_nschedules(et_st(&t)), 0);
    REQ_EQ(djs_log_last_seq(t.log), 0);
    et_close(&t);
}
END_TEST

/* A template the engine refuses at fire time (a dependency that is gone)
 * is recorded as a skipped fire with the reason, once. */
START_TEST(fire_refused_recorded)
{
    et_t t;
    et_open(&t, NULL);
    char tmpl[128];
    /* {"name":"x","dependencies":["<unknown id>"]} */
    const char *dep = "01890000-0000-7000-8000-000000000001";
    int n = snprintf(tmpl, sizeof(tmpl),
                     "\x82\xa4name\xa1x\xac"
                     "dependencies\x91\xd9%c%s",
                     (char)strlen(dep), dep);
    djs_schedule_def_t d;
    def_init(&d, "every 1m");
    d.tmpl = (const uint8_t *)tmpl;
    d.tmpl_len = (size_t)n;
    djs_id_t id = mk_def(&t, &d);
    et_advance(&t, 60 * ET_SEC);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 0);
    REQ_EQ(skips(&t, &id), 1);
    et_run(&t);
    REQ_EQ(skips(&t, &id), 1);
    expect_replay_equal(&t);
    et_close(&t);
}
END_TEST

/* Catch-up stops at the end date. */
START_TEST(catchup_until_end)
{
    et_t t;
    et_open(&t, NULL);
    djs_schedule_def_t d;
    def_init(&d, "every 1m");
    d.overlap = DJS_OVERLAP_ALLOW;
    d.catchup = DJS_CATCHUP_ALL;
    d.end_ns = ET_T0 + 300 * ET_SEC;
    djs_id_t id = mk_def(&t, &d);
    et_close(&t);
    et_advance(&t, 3600 * ET_SEC);
    et_open_log(&t);
    et_open_engine(&t, NULL);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 5); /* T0+60 .. T0+300 */
    REQ_EQ(sc(&t, &id)->last_nominal_s, ET_T0 / ET_SEC + 300);
    et_run(&t);
    REQ_EQ(fires(&t, &id), 5);
    et_close(&t);
}
END_TEST

/* The bodies read back what was written. */
START_TEST(bodies_round_trip)
{
    djs_schedule_def_t d, back;
    def_init(&d, "*/5 * * * *");
    d.tz = ET_S("Europe/Paris");
    d.owner = ET_S("alice");
    d.overlap = DJS_OVERLAP_CANCEL;
    d.catchup = DJS_CATCHUP_ALL;
    d.catchup_max = 7;
    d.start_ns = 11;
    d.end_ns = 22;
    d.jitter_s = 33;
    d.next_jitter_ms = 4444;
    djs_buf_t b;
    djs_buf_init(&b);
    djs_body_schedule_def(&b, &d);
    REQ_RC(djs_body_read_schedule_def(b.base, b.len, &back), 0);
    REQ(back.spec.len == d.spec.len && memcmp(back.spec.p, d.spec.p, d.spec.len) == 0);
    REQ(back.tz.len == 12 && back.owner.len == 5 && back.name.len == 4);
    REQ(back.overlap == d.overlap && back.catchup == d.catchup && back.catchup_max == 7 && back.start_ns == 11 &&
        back.end_ns == 22 && back.jitter_s == 33 && back.next_jitter_ms == 4444);
    REQ(back.tmpl_len == d.tmpl_len && memcmp(back.tmpl, d.tmpl, d.tmpl_len) == 0);
    uint8_t ids[32];
    for (int i = 0; i < 32; i++)
        ids[i] = (uint8_t)i;
    djs_schedule_fire_t f = {.nominal_s = 1700000040,
                             .jitter_ms = 5,
                             .next_jitter_ms = 6,
                             .missed = 7,
                             .cancelled = 2,
                             .skipped = ET_S("error"),
                             .error = ET_S("why"),
                             .jobs = ids,
                             .njobs = 2};
    djs_schedule_fire_t g;
    djs_buf_reset(&b);
    djs_body_schedule_fire(&b, &f);
    REQ_RC(djs_body_read_schedule_fire(b.base, b.len, &g), 0);
    REQ(g.nominal_s == f.nominal_s && g.jitter_ms == 5 && g.next_jitter_ms == 6 && g.missed == 7 && g.cancelled == 2);
    REQ(g.skipped.len == 5 && g.error.len == 3 && g.njobs == 2 && memcmp(g.jobs, ids, 32) == 0);
    /* a wrong type is refused */
    REQ_RC(djs_body_read_schedule_fire((const uint8_t *)"\x81\xa7nominal\xa1x", 11, &g), DJS_EBADTYPE);
    djs_buf_dispose(&b);
}
END_TEST

/* The nominal times of the schedule's fires, from the log. */
static int nominals(et_t *t, const djs_id_t *id, uint64_t *out, int max)
{
    et_hist_t *h = malloc(sizeof(*h));
    et_history(t, id, h);
    djs_buf_t b;
    djs_buf_init(&b);
    int n = 0;
    for (int i = 0; i < h->n && n < max; i++) {
        if (h->ev[i].type != DJS_EV_SCHEDULE_FIRED)
            continue;
        djs_event_t ev;
        djs_schedule_fire_t f;
        djs_buf_reset(&b);
        REQ_RC(djs_log_get(t->log, h->ev[i].seq, &b), 0);
        REQ_RC(djs_event_decode(b.base, b.len, &ev), 0);
        REQ_RC(djs_body_read_schedule_fire(ev.body, ev.body_len, &f), 0);
        out[n++] = f.nominal_s;
    }
    djs_buf_dispose(&b);
    free(h);
    return n;
}

/* "30 2 * * *" in Europe/Paris over three days from `from` (unix s),
 * stepping a minute at a time: once a day, at want[]. */
static void dst_case(uint64_t from, const uint64_t want[3])
{
    djs_tz_t *tz;
    /* tzdata is a run dependency (tools/deps.sh): no zone is a failure, not a skip */
    ck_assert_int_eq(djs_tz_open("Europe/Paris", 12, &tz), 0);
    djs_tz_close(tz);
    et_t t;
    et_open(&t, NULL);
    t.now = from * ET_SEC;
    djs_schedule_def_t d;
    def_init(&d, "30 2 * * *");
    d.tz = ET_S("Europe/Paris");
    d.overlap = DJS_OVERLAP_ALLOW;
    djs_id_t id = mk_def(&t, &d);
    for (int m = 0; m < 3 * 1440; m++) {
        et_advance(&t, 60 * ET_SEC);
        et_run(&t);
    }
    uint64_t got[8];
    REQ_EQ(nominals(&t, &id, got, 8), 3);
    for (int i = 0; i < 3; i++)
        REQ_EQ(got[i], want[i]);
    REQ_EQ(fires(&t, &id), 3);
    expect_replay_equal(&t);
    et_close(&t);
}

/* 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist and
 * fires once, at 03:00 CEST (01:00 UTC). */
START_TEST(dst_spring_forward)
{
    const uint64_t want[3] = {1774661400 /* 03-28 01:30Z */, 1774746000 /* 03-29 01:00Z */, 1774830600 /* 03-30 00:30Z */};
    dst_case(1774656000 /* 2026-03-28T00:00Z */, want);
}
END_TEST

/* 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 occurs twice and fires
 * once, at its first occurrence (00:30 UTC). */
START_TEST(dst_fall_back)
{
    const uint64_t want[3] = {1792801800 /* 10-24 00:30Z */, 1792888200 /* 10-25 00:30Z */, 1792978200 /* 10-26 01:30Z */};
    dst_case(1792800000 /* 2026-10-24T00:00Z */, want);
}
END_TEST

static Suite *schedules_suite(void)
{
    Suite *s = suite_create("schedules");
    TCase *tc = tcase_create("fires");
    tcase_add_test(tc, every_minute);
    tcase_add_test(tc, interval_and_workflow);
    tcase_add_test(tc, overlap_skip);
    tcase_add_test(tc, overlap_allow);
    tcase_add_test(tc, overlap_cancel_previous);
    tcase_add_test(tc, catchup_none);
    tcase_add_test(tc, catchup_last);
    tcase_add_test(tc, catchup_all);
    tcase_add_test(tc, catchup_all_bounded);
    tcase_add_test(tc, start_and_end);
    tcase_add_test(tc, jitter_recorded);
    tcase_add_test(tc, pause_resume_delete);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, fire_refused_recorded);
    tcase_add_test(tc, catchup_until_end);
    tcase_add_test(tc, bodies_round_trip);
    tcase_add_test(tc, dst_spring_forward);
    tcase_add_test(tc, dst_fall_back);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(schedules_suite)
