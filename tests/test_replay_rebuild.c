/* replay/rebuild: from scratch up to a point, digests equal to the live
 * engine's at that point, and a snapshot written from a tool handle that
 * the engine then starts from. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "enginetest.h"
#include "projections/snapshot.h"
#include "replay/rebuild.h"

typedef struct fx {
    et_t t;
    uint64_t n1, n2;
    uint8_t d1[32], d2[32];
} fx_t;

static void fixture(fx_t *f)
{
    et_open(&f->t, NULL);
    et_worker(&f->t, "w1", 2);
    djs_id_t a = et_job(&f->t, "a", DJS_PRIO_NORMAL);
    et_run(&f->t);
    et_sync(&f->t);
    f->n1 = djs_log_last_seq(f->t.log);
    et_digest(&f->t, f->d1);
    et_advance(&f->t, ET_SEC);
    et_finish(&f->t, &a);
    et_job(&f->t, "b", DJS_PRIO_HIGH);
    et_run(&f->t);
    et_sync(&f->t);
    f->n2 = djs_log_last_seq(f->t.log);
    et_digest(&f->t, f->d2);
    et_close(&f->t);
}

static djs_log_t *open_dir(const char *dir, int readonly, int tool)
{
    djs_log_t *log;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = readonly;
    o.tool = tool;
    REQ_RC(djs_log_open(&log, dir, &o), 0);
    return log;
}

START_TEST(digest_at_a_seq_equals_the_live_one)
{
    fx_t f;
    fixture(&f);
    djs_log_t *log = open_dir(f.t.dir, 1, 0);
    djs_replay_rebuild_opts_t o;
    djs_replay_rebuild_report_t r;
    djs_replay_rebuild_opts_init(&o);
    o.to_seq = f.n1;
    REQ_RC(djs_replay_rebuild(log, &o, &r, NULL), 0);
    ck_assert_uint_eq(r.seq, f.n1);
    ck_assert_uint_eq(r.events, f.n1);
    ck_assert_uint_eq(r.start_seq, 0);
    ck_assert(memcmp(r.digest, f.d1, 32) == 0);
    ck_assert_uint_eq(r.submitted, 1);
    REQ_RC(djs_replay_rebuild(log, NULL, &r, NULL), 0); /* the end */
    ck_assert_uint_eq(r.seq, f.n2);
    ck_assert(memcmp(r.digest, f.d2, 32) == 0);
    ck_assert_uint_eq(r.completed, 1);
    ck_assert_uint_gt(r.ts_ns, ET_T0);
    /* keep_all keeps the state's facts (no job was evicted here) */
    o.to_seq = UINT64_MAX;
    o.keep_all = 1;
    djs_state_t *st = NULL;
    REQ_RC(djs_replay_rebuild(log, &o, &r, &st), 0);
    ck_assert_ptr_nonnull(st);
    ck_assert_uint_eq(djs_state_seq(st), f.n2);
    djs_state_free(st);
    o.to_seq = 0;
    ck_assert_int_eq(djs_replay_rebuild(log, &o, &r, NULL), DJS_EINVAL);
    o.to_seq = f.n2 + 1;
    ck_assert_int_eq(djs_replay_rebuild(log, &o, &r, NULL), DJS_EINVAL);
    ck_assert_int_eq(djs_replay_rebuild(log, &o, NULL, NULL), DJS_EINVAL);
    /* a snapshot needs a handle that can write */
    o.to_seq = f.n1;
    o.keep_all = 0;
    o.write_snapshot = 1;
    ck_assert_int_eq(djs_replay_rebuild(log, &o, &r, NULL), DJS_ERDONLY);
    djs_log_close(log);
}
END_TEST

START_TEST(written_snapshot_is_the_engines_starting_point)
{
    fx_t f;
    fixture(&f);
    djs_log_t *log = open_dir(f.t.dir, 0, 1);
    djs_replay_rebuild_opts_t o;
    djs_replay_rebuild_report_t r;
    djs_replay_rebuild_opts_init(&o);
    o.to_seq = f.n1;
    o.write_snapshot = 1;
    REQ_RC(djs_replay_rebuild(log, &o, &r, NULL), 0);
    ck_assert_uint_gt(r.snapshot_bytes, 0);
    ck_assert_uint_eq(r.retention_seq, 0); /* no snapshot before: the defaults */
    djs_buf_t b;
    uint64_t seq = 0;
    djs_buf_init(&b);
    REQ_RC(djs_log_get_snapshot(log, UINT64_MAX, &seq, &b), 0);
    ck_assert_uint_eq(seq, f.n1);
    ck_assert_uint_eq(b.len, r.snapshot_bytes);
    djs_state_t *st;
    REQ_RC(djs_state_restore(b.base, b.len, NULL, &st), 0);
    uint8_t d[32];
    djs_state_digest(st, d);
    ck_assert(memcmp(d, f.d1, 32) == 0);
    djs_state_free(st);
    djs_buf_dispose(&b);
    djs_log_close(log);
    /* the engine opens on it and replays only what follows */
    uint64_t replayed = 0;
    et_open_log(&f.t);
    et_open_engine(&f.t, &replayed);
    ck_assert_uint_eq(replayed, f.n2 - f.n1);
    et_digest(&f.t, d);
    ck_assert(memcmp(d, f.d2, 32) == 0);
    et_close(&f.t);
}
END_TEST

/* --write-snapshot builds with the retention the server's newest snapshot
 * recorded, not the defaults. */
START_TEST(snapshot_keeps_the_servers_retention)
{
    fx_t f;
    fixture(&f);
    djs_log_t *log = open_dir(f.t.dir, 0, 1);
    djs_state_config_t sc;
    djs_state_config_init(&sc);
    sc.max_terminal = 5;
    sc.max_terminal_age = 77 * ET_SEC;
    djs_state_t *st = djs_state_new(&sc);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(st, &b);
    REQ_RC(djs_log_store_snapshot(log, 1, b.base, b.len), 0); /* an empty state claiming seq 0: only its meta is read */
    djs_state_free(st);
    djs_buf_dispose(&b);
    djs_replay_rebuild_opts_t o;
    djs_replay_rebuild_report_t r;
    djs_replay_rebuild_opts_init(&o);
    o.write_snapshot = 1;
    o.keep_all = 1;
    ck_assert_int_eq(djs_replay_rebuild(log, &o, &r, NULL), DJS_EINVAL);
    o.keep_all = 0;
    REQ_RC(djs_replay_rebuild(log, &o, &r, NULL), 0);
    ck_assert_uint_eq(r.max_terminal, 5);
    ck_assert_uint_eq(r.max_terminal_age, 77 * ET_SEC);
    ck_assert_uint_eq(r.seq, f.n2);
    djs_snapshot_meta_t m;
    uint64_t seq;
    djs_buf_init(&b);
    REQ_RC(djs_log_get_snapshot(log, UINT64_MAX, &seq, &b), 0);
    REQ_RC(djs_state_snapshot_meta(b.base, b.len, &m), 0);
    ck_assert_uint_eq(m.seq, f.n2);
    ck_assert_uint_eq(m.max_terminal, 5);
    ck_assert(m.has_digest && memcmp(m.digest, r.digest, 32) == 0);
    djs_buf_dispose(&b);
    djs_log_close(log);
}
END_TEST

static Suite *replay_rebuild_suite(void)
{
    Suite *s = suite_create("replay_rebuild");
    TCase *tc = tcase_create("replay_rebuild");
    tcase_add_test(tc, digest_at_a_seq_equals_the_live_one);
    tcase_add_test(tc, written_snapshot_is_the_engines_starting_point);
    tcase_add_test(tc, snapshot_keeps_the_servers_retention);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(replay_rebuild_suite)
