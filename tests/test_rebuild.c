/* projections/rebuild: the state rebuilt from snapshots and the log, with
 * the reasons for every fallback returned (not printed); the time-travel
 * cache; and the engine paths that lean on it: server.started/stopped
 * written through the engine, dependencies on evicted jobs judged on facts
 * the caller read from the log. */
#include <string.h>

#include "core/bodies.h"
#include "core/error.h"
#include "enginetest.h"
#include "projections/rebuild.h"
#include "projections/snapshot.h"
#include "testutil.h"

/* n jobs, a third of them run to completion, on one worker. */
static void some_work(et_t *t, int n)
{
    for (int i = 0; i < n; i++) {
        djs_id_t j = et_job(t, "rb", i % 3);
        et_run(t);
        if (i % 3 == 0 && et_state_of(t, &j) == DJS_JOB_SCHEDULED)
            et_finish(t, &j);
    }
    et_run(t);
    et_sync(t);
}

static void expect_same(const djs_state_t *a, const djs_state_t *b)
{
    uint8_t da[32], db[32];
    djs_state_digest(a, da);
    djs_state_digest(b, db);
    ck_assert_mem_eq(da, db, 32);
}

static void put_snapshot_of(et_t *t)
{
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(et_st(t), &b);
    ck_assert_int_eq(djs_log_put_snapshot(t->log, djs_state_seq(et_st(t)), b.base, b.len, 4), 0);
    djs_buf_dispose(&b);
    et_sync(t);
}

START_TEST(report_says_what_was_used)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 4);
    some_work(&t, 30);
    uint64_t s1 = djs_state_seq(et_st(&t));
    put_snapshot_of(&t);
    some_work(&t, 30);
    uint64_t last = djs_log_last_seq(t.log);

    djs_rebuild_report_t rep;
    djs_state_t *st = NULL;
    ck_assert_int_eq(djs_state_rebuild(t.log, NULL, last, &st, &rep), 0);
    ck_assert_uint_eq(rep.snapshot_seq, s1);
    ck_assert_uint_eq(rep.applied, last - s1);
    ck_assert_uint_eq(rep.snapshots_skipped, 0);
    ck_assert_int_eq(rep.full_replay, 0);
    ck_assert_str_eq(rep.notes, "");
    expect_same(st, et_st(&t));
    djs_state_free(st);

    /* a point before the snapshot: replayed from seq 1 */
    ck_assert_int_eq(djs_state_rebuild(t.log, NULL, s1 - 1, &st, &rep), 0);
    ck_assert_uint_eq(rep.snapshot_seq, 0);
    ck_assert_uint_eq(rep.applied, s1 - 1);
    ck_assert_uint_eq(djs_state_seq(st), s1 - 1);
    djs_state_free(st);
    et_close(&t);
}
END_TEST

START_TEST(damaged_snapshot_is_skipped_and_said)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 4);
    some_work(&t, 20);
    uint64_t s1 = djs_state_seq(et_st(&t));
    put_snapshot_of(&t);
    some_work(&t, 20);
    uint64_t s2 = djs_state_seq(et_st(&t));
    ck_assert_int_eq(djs_log_put_snapshot(t.log, s2, "garbage", 7, 4), 0);
    et_sync(&t);

    djs_rebuild_report_t rep;
    djs_state_t *st = NULL;
    ck_assert_int_eq(djs_state_rebuild(t.log, NULL, s2, &st, &rep), 0);
    ck_assert_uint_eq(rep.snapshots_skipped, 1);
    ck_assert_uint_eq(rep.snapshot_seq, s1);
    ck_assert_uint_eq(rep.applied, s2 - s1);
    ck_assert_ptr_nonnull(strstr(rep.notes, "is unusable"));
    expect_same(st, et_st(&t));
    djs_state_free(st);
    et_close(&t);
}
END_TEST

/* A snapshot that restores but does not fit the log: the whole log is
 * replayed, and the report says so. */
START_TEST(foreign_snapshot_means_full_replay)
{
    et_t t, other;
    et_open(&t, NULL);
    et_worker(&t, "w", 4);
    djs_id_t job = et_job(&t, "odd", DJS_PRIO_HIGH); /* seq 2 */
    et_run(&t);                                      /* seq 3: job.scheduled */
    ck_assert_int_eq(et_state_of(&t, &job), DJS_JOB_SCHEDULED);
    et_sync(&t);
    /* another log's state at seq 2 (two workers, no job): it restores, but
     * the job.scheduled at seq 3 does not apply to it */
    et_open(&other, NULL);
    et_worker(&other, "a", 1);
    et_worker(&other, "b", 1);
    ck_assert_uint_eq(djs_state_seq(et_st(&other)), 2);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(et_st(&other), &b);
    et_close(&other);
    ck_assert_int_eq(djs_log_put_snapshot(t.log, 2, b.base, b.len, 4), 0);
    djs_buf_dispose(&b);
    et_sync(&t);

    djs_rebuild_report_t rep;
    djs_state_t *st = NULL;
    uint64_t last = djs_log_last_seq(t.log);
    ck_assert_int_eq(djs_state_rebuild(t.log, NULL, last, &st, &rep), 0);
    ck_assert_int_eq(rep.full_replay, 1);
    ck_assert_uint_eq(rep.snapshot_seq, 0);
    ck_assert_uint_eq(rep.applied, last);
    ck_assert_ptr_nonnull(strstr(rep.notes, "does not apply on top of the snapshot at seq 2"));
    expect_same(st, et_st(&t));
    djs_state_free(st);
    et_close(&t);
}
END_TEST

static void note_count(void *arg, const char *line)
{
    ck_assert_ptr_nonnull(strstr(line, "snapshot"));
    (*(int *)arg)++;
}

/* the engine hands the report's notes to its note callback, line by line */
START_TEST(engine_open_notes_what_it_skipped)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 4);
    some_work(&t, 10);
    put_snapshot_of(&t);
    some_work(&t, 10);
    ck_assert_int_eq(djs_log_put_snapshot(t.log, djs_state_seq(et_st(&t)), "junk", 4, 4), 0);
    ck_assert_int_eq(djs_log_put_snapshot(t.log, djs_state_seq(et_st(&t)) - 1, "junk", 4, 4), 0);
    et_sync(&t);
    int notes = 0;
    t.cfg.note = note_count;
    t.cfg.note_arg = &notes;
    uint64_t n = 0;
    et_reopen(&t, &n);
    ck_assert_int_eq(notes, 2);
    et_close(&t);
}
END_TEST

START_TEST(state_cache_reuses_and_evicts)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 4);
    some_work(&t, 20);
    djs_state_cache_t *tc = djs_state_cache_new(t.log, NULL);
    const djs_state_t *a = NULL, *b = NULL;
    ck_assert_int_eq(djs_state_cache_at(tc, 10, &a), 0);
    ck_assert_uint_eq(djs_state_seq(a), 10);
    ck_assert_int_eq(djs_state_cache_at(tc, 10, &b), 0);
    ck_assert_ptr_eq(a, b); /* the same point is built once */
    for (uint64_t s = 11; s < 11 + DJS_STATE_CACHE; s++) {
        ck_assert_int_eq(djs_state_cache_at(tc, s, &b), 0);
        ck_assert_uint_eq(djs_state_seq(b), s);
    }
    /* seq 10 was the least recently used: built again */
    ck_assert_int_eq(djs_state_cache_at(tc, 10, &b), 0);
    ck_assert_uint_eq(djs_state_seq(b), 10);
    ck_assert_int_eq(djs_state_cache_at(tc, djs_log_durable_seq(t.log) + 1, &b), DJS_ERANGE);
    djs_state_cache_free(tc);
    et_close(&t);
}
END_TEST

/* server.started/stopped go through the engine: applied at once, so the
 * live projection and a replay agree (the seq and the event count too). */
START_TEST(server_events_through_the_engine)
{
    et_t t;
    et_open(&t, NULL);
    uint64_t seq = 0;
    ck_assert_int_eq(djs_engine_server_started(t.e, 4242, "127.0.0.1:8080", &seq), 0);
    ck_assert_uint_eq(seq, djs_log_last_seq(t.log));
    ck_assert_uint_eq(djs_state_seq(et_st(&t)), seq);
    et_worker(&t, "w", 2);
    some_work(&t, 5);
    ck_assert_int_eq(djs_engine_server_stopped(t.e, 4242, &seq), 0);
    ck_assert_uint_eq(djs_state_seq(et_st(&t)), seq);
    et_sync(&t);
    djs_state_t *rs = et_replay(t.log, &t.cfg.state, seq);
    expect_same(rs, et_st(&t));
    ck_assert_uint_eq(djs_state_metrics(rs)->events, djs_state_metrics(et_st(&t))->events);
    djs_state_free(rs);

    djs_event_t ev;
    djs_buf_t rec;
    djs_buf_init(&rec);
    ck_assert_int_eq(djs_log_get(t.log, 1, &rec), 0);
    ck_assert_int_eq(djs_event_decode(rec.base, rec.len, &ev), 0);
    ck_assert_int_eq(ev.type, DJS_EV_SERVER_STARTED);
    ck_assert_int_eq((int)ev.actor_len, 6);
    ck_assert_int_eq(memcmp(ev.actor, "server", 6), 0);
    djs_server_info_t si;
    ck_assert_int_eq(djs_body_read_server(ev.body, ev.body_len, &si), 0);
    ck_assert_int_eq(si.pid, 4242);
    ck_assert_uint_eq(si.listen.len, 14);
    ck_assert_int_eq(memcmp(si.listen.p, "127.0.0.1:8080", 14), 0);
    djs_buf_dispose(&rec);

    char big[DJS_SERVER_MAX_LISTEN + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(djs_engine_server_started(t.e, 1, big, &seq), DJS_ETOOBIG);
    et_close(&t);
}
END_TEST

/* A dependency that is no longer live is judged on the caller's fact; with
 * no fact it is unknown. The engine itself reads nothing from the log. */
START_TEST(evicted_dependency_facts)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t ghost;
    memset(&ghost, 0x5a, sizeof(ghost));
    djs_job_request_t r;
    djs_id_t id;
    uint64_t seq;
    int existed;
    et_req(&r, "after", DJS_PRIO_NORMAL);
    r.dep_ids = &ghost;
    r.ndep_ids = 1;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_ENOTFOUND);
    int final = DJS_JOB_COMPLETED;
    r.dep_final = &final;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), 0);
    final = DJS_JOB_FINAL_DELETED;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(djs_engine_errmsg(t.e), "deleted"));
    final = DJS_JOB_CANCELLED;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(djs_engine_errmsg(t.e), "cancelled"));
    final = DJS_JOB_FINAL_UNKNOWN;
    ck_assert_int_eq(djs_engine_submit(t.e, "alice", &r, 1, &id, &seq, &existed), DJS_ENOTFOUND);

    /* the facts as the log tells them */
    et_sync(&t);
    ck_assert_int_eq(djs_job_view_final(t.log, &ghost, &final), 0);
    ck_assert_int_eq(final, DJS_JOB_FINAL_UNKNOWN);
    djs_id_t w = et_worker(&t, "w", 1);
    et_sync(&t);
    ck_assert_int_eq(djs_job_view_final(t.log, &w, &final), 0);
    ck_assert_int_eq(final, DJS_JOB_FINAL_UNKNOWN); /* a worker is not a job */
    djs_id_t done = et_job(&t, "done", DJS_PRIO_HIGH);
    et_run(&t);
    et_finish(&t, &done);
    djs_id_t gone = et_job(&t, "gone", DJS_PRIO_LOW);
    ck_assert_int_eq(djs_engine_cancel(t.e, "admin", &gone, &seq), 0);
    djs_id_t del = et_job(&t, "del", DJS_PRIO_LOW);
    ck_assert_int_eq(djs_engine_cancel(t.e, "admin", &del, &seq), 0);
    ck_assert_int_eq(djs_engine_delete(t.e, "admin", &del, &seq), 0);
    et_sync(&t);
    ck_assert_int_eq(djs_job_view_final(t.log, &done, &final), 0);
    ck_assert_int_eq(final, DJS_JOB_COMPLETED);
    ck_assert_int_eq(djs_job_view_final(t.log, &gone, &final), 0);
    ck_assert_int_eq(final, DJS_JOB_CANCELLED);
    ck_assert_int_eq(djs_job_view_final(t.log, &del, &final), 0);
    ck_assert_int_eq(final, DJS_JOB_FINAL_DELETED);
    et_close(&t);
}
END_TEST

/* A snapshot whose tables restore but do not reproduce the digest it was
 * written with (version 5) is refused; one without the digest (version 4
 * layout) still restores. */
START_TEST(snapshot_digest_must_be_reproduced)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 4);
    some_work(&t, 20);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(et_st(&t), &b);
    djs_state_t *st = NULL;
    ck_assert_int_eq(djs_state_restore(b.base, b.len, NULL, &st), 0);
    expect_same(st, et_st(&t));
    djs_state_free(st);
    djs_snapshot_meta_t m;
    ck_assert_int_eq(djs_state_snapshot_meta(b.base, b.len, &m), 0);
    ck_assert_int_eq(m.has_digest, 1);
    ck_assert_uint_eq(m.seq, djs_state_seq(et_st(&t)));
    uint8_t dg[32];
    djs_state_digest(et_st(&t), dg);
    ck_assert_mem_eq(m.digest, dg, 32);
    djs_state_config_t dc;
    djs_state_config_init(&dc);
    ck_assert_uint_eq(m.max_terminal, dc.max_terminal);
    ck_assert_uint_eq(m.max_terminal_age, dc.max_terminal_age);
    /* [..., [digest, keep, age] (53 bytes), sha256 (c4 20 + 32)]: change the digest, re-seal */
    size_t d = b.len - 34 - 53;
    ck_assert_uint_eq(b.base[d], 0x93);
    b.base[d + 3] ^= 0x40;
    djs_sha256_2(b.base, b.len - 34, NULL, 0, b.base + b.len - 32);
    ck_assert_int_eq(djs_state_restore(b.base, b.len, NULL, &st), DJS_ECORRUPT);
    ck_assert_ptr_null(st);
    /* the version 4 layout: 14 fields, no digest */
    memmove(b.base + d, b.base + d + 53, 34);
    b.len -= 53;
    ck_assert_uint_eq(b.base[0], 0x9f);
    b.base[0] = 0x9e;
    ck_assert_uint_eq(b.base[11], 5); /* fixarray, "djs-state" (10 bytes), version */
    b.base[11] = 4;
    djs_sha256_2(b.base, b.len - 34, NULL, 0, b.base + b.len - 32);
    ck_assert_int_eq(djs_state_restore(b.base, b.len, NULL, &st), 0);
    expect_same(st, et_st(&t));
    djs_state_free(st);
    djs_buf_dispose(&b);
    et_close(&t);
}
END_TEST

/* An archived log: built from its base snapshot on, never from seq 1,
 * and nothing before the base can be built. */
START_TEST(archived_log_starts_at_its_base)
{
    et_t t;
    et_open(&t, NULL);
    et_worker(&t, "w", 4);
    some_work(&t, 20);
    uint64_t base = djs_state_seq(et_st(&t));
    put_snapshot_of(&t);
    some_work(&t, 20);
    uint64_t last = djs_log_last_seq(t.log);
    ck_assert_int_eq(djs_log_archive_cut(t.log, base, NULL, NULL), 0);
    djs_rebuild_report_t rep;
    djs_state_t *st = NULL;
    ck_assert_int_eq(djs_state_rebuild(t.log, NULL, last, &st, &rep), 0);
    ck_assert_uint_eq(rep.snapshot_seq, base);
    expect_same(st, et_st(&t));
    djs_state_free(st);
    ck_assert_int_eq(djs_state_rebuild(t.log, NULL, base - 1, &st, &rep), DJS_EARCHIVED);
    ck_assert_int_eq(djs_state_rebuild(t.log, NULL, base, &st, &rep), 0);
    ck_assert_uint_eq(djs_state_seq(st), base);
    djs_state_free(st);
    /* without its base snapshot it refuses rather than replay from seq 1 */
    ck_assert_int_eq(djs_log_put_snapshot(t.log, base, "garbage", 7, 4), 0);
    et_sync(&t);
    ck_assert_int_eq(djs_state_rebuild(t.log, NULL, last, &st, &rep), DJS_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(rep.notes, "archive base"));
    et_close(&t);
}
END_TEST

static Suite *rebuild_suite(void)
{
    Suite *s = suite_create("rebuild");
    TCase *tc = tcase_create("rebuild");
    tcase_add_test(tc, report_says_what_was_used);
    tcase_add_test(tc, snapshot_digest_must_be_reproduced);
    tcase_add_test(tc, archived_log_starts_at_its_base);
    tcase_add_test(tc, damaged_snapshot_is_skipped_and_said);
    tcase_add_test(tc, foreign_snapshot_means_full_replay);
    tcase_add_test(tc, engine_open_notes_what_it_skipped);
    tcase_add_test(tc, state_cache_reuses_and_evicts);
    tcase_add_test(tc, server_events_through_the_engine);
    tcase_add_test(tc, evicted_dependency_facts);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(rebuild_suite)
