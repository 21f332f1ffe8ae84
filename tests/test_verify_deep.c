/* djs replay verify on real logs written through the engine: the replay
 * reproduces every snapshot's digest, job output is checked against the
 * hash its event carries, a trusted starting point (--from, the verified
 * checkpoint) skips what was checked before, and an archived log verifies
 * from its base. */
#include <lmdb.h>
#include <string.h>

#include "core/error.h"
#include "enginetest.h"
#include "projections/snapshot.h"
#include "replay/verify.h"
#include "testutil.h"

static uint64_t chunks_written;

/* jobs on one worker; every third prints output and completes */
static void work(et_t *t, int n)
{
    djs_id_t w = et_worker(t, "w", 8);
    for (int i = 0; i < n; i++) {
        djs_id_t j = et_job(t, "vj", i % 3);
        et_run(t);
        if (i % 3 != 0 || et_state_of(t, &j) != DJS_JOB_SCHEDULED)
            continue;
        const djs_job_t *jp = et_jobp(t, &j);
        uint32_t att = jp->attempt;
        uint64_t seq, recv;
        char line[64];
        int len = snprintf(line, sizeof(line), "output line of job %d\n", i);
        REQ_RC(djs_engine_start(t->e, &w, &j, att, &seq), 0);
        REQ_RC(djs_engine_output(t->e, &w, &j, att, 0, (const uint8_t *)line, (size_t)len, &seq, &recv), 0);
        REQ_RC(djs_engine_output(t->e, &w, &j, att, (uint64_t)len, (const uint8_t *)"more\n", 5, &seq, &recv), 0);
        chunks_written += 2;
        REQ_RC(djs_engine_complete(t->e, &w, &j, att, NULL, 0, &seq), 0);
    }
    et_run(t);
    et_sync(t);
}

static void snapshot_now(et_t *t)
{
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(et_st(t), &b);
    REQ_RC(djs_log_put_snapshot(t->log, djs_state_seq(et_st(t)), b.base, b.len, 8), 0);
    djs_buf_dispose(&b);
    et_sync(t);
}

static int verify(djs_log_t *log, const djs_verify_options_t *o, djs_verify_report_t *rep)
{
    djs_verify_options_t d;
    djs_verify_options_init(&d);
    return djs_verify_run(log, o != NULL ? o : &d, rep);
}

START_TEST(real_log_verifies_with_summary)
{
    et_t t;
    et_open(&t, NULL);
    work(&t, 60);
    snapshot_now(&t);
    work(&t, 30);
    snapshot_now(&t);
    work(&t, 30);
    djs_verify_report_t rep;
    ck_assert_int_eq(verify(t.log, NULL, &rep), 0);
    ck_assert_uint_eq(rep.records, djs_log_last_seq(t.log));
    ck_assert_uint_eq(rep.first_seq, 1);
    ck_assert_uint_eq(rep.jobs, 120);
    ck_assert_uint_eq(rep.workers, 3); /* work() registers its worker each time */
    ck_assert_uint_gt(chunks_written, 0);
    ck_assert_uint_eq(rep.output_chunks, chunks_written);
    ck_assert_uint_eq(rep.output_unbound, 0);
    ck_assert_uint_eq(rep.snapshots, 2);
    ck_assert_uint_gt(rep.index_entries, 0);
    ck_assert_uint_gt(rep.last_ts, rep.first_ts);
    uint8_t d[32];
    et_digest(&t, d);
    ck_assert_mem_eq(rep.digest, d, 32);
    et_close(&t);
}
END_TEST

static void raw_put(const char *dir, const char *dbname, unsigned flags, MDB_val *k, MDB_val *v)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, dbname, flags, &dbi), 0);
    ck_assert_int_eq(mdb_put(txn, dbi, k, v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

typedef struct first_output {
    uint64_t seq;
    djs_id_t job;
    djs_job_change_t c;
} first_output_t;

static int find_output(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    first_output_t *f = arg;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0 || ev.type != DJS_EV_JOB_OUTPUT)
        return 0;
    f->seq = seq;
    f->job = ev.entity;
    ck_assert_int_eq(djs_body_read_job_change(ev.body, ev.body_len, &f->c), 0);
    return f->c.out_offset > 0 ? 1 : 0; /* the second chunk of a job */
}

START_TEST(altered_output_is_found)
{
    et_t t;
    et_open(&t, NULL);
    work(&t, 30);
    first_output_t f = {0};
    ck_assert_int_eq(djs_log_scan(t.log, 1, UINT64_MAX, find_output, &f), 1);
    ck_assert_int_eq(f.c.has_out_sha, 1);
    et_close(&t);
    uint8_t key[24];
    memcpy(key, f.job.b, 16);
    for (int i = 0; i < 8; i++)
        key[16 + i] = (uint8_t)(f.c.out_offset >> (56 - 8 * i));
    MDB_val k = {24, key}, v = {5, "mXre\n"};
    raw_put(t.dir, "output", 0, &k, &v);

    djs_log_t *log;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    ck_assert_int_eq(djs_log_open(&log, t.dir, &o), 0);
    djs_verify_report_t rep;
    ck_assert_int_eq(verify(log, NULL, &rep), DJS_ECORRUPT);
    ck_assert_uint_eq(rep.bad_seq, f.seq);
    ck_assert_ptr_nonnull(strstr(rep.detail, "output"));
    djs_verify_options_t vo;
    djs_verify_options_init(&vo);
    vo.output = 0; /* the start-up check does not read output: the chain itself is intact */
    ck_assert_int_eq(verify(log, &vo, &rep), 0);
    djs_log_close(log);
}
END_TEST

/* A snapshot that restores fine but holds another state than the log
 * says at its seq (taken from a different history). */
START_TEST(snapshot_of_other_state_is_found)
{
    et_t t, other;
    et_open(&t, NULL);
    work(&t, 30);
    uint64_t at = djs_state_seq(et_st(&t));
    djs_engine_config_t oc;
    djs_engine_config_init(&oc);
    oc.seed = 2; /* other ids: another history */
    et_open(&other, &oc);
    work(&other, 31);
    /* other's state, re-stamped with t's seq: seq matches, contents do not */
    djs_state_t *o2 = et_replay(other.log, NULL, at);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(o2, &b);
    djs_state_free(o2);
    ck_assert_uint_eq(djs_state_seq(et_st(&t)), at);
    REQ_RC(djs_log_put_snapshot(t.log, at, b.base, b.len, 8), 0);
    et_sync(&t);
    work(&t, 6);
    djs_verify_report_t rep;
    ck_assert_int_eq(verify(t.log, NULL, &rep), DJS_ECORRUPT);
    ck_assert_uint_eq(rep.bad_seq, at);
    ck_assert_ptr_nonnull(strstr(rep.detail, "snapshot"));
    djs_buf_dispose(&b);
    et_close(&other);
    et_close(&t);
}
END_TEST

START_TEST(trusted_start_and_checkpoints)
{
    et_t t;
    et_open(&t, NULL);
    work(&t, 30);
    uint64_t mid = djs_log_last_seq(t.log);
    snapshot_now(&t);
    work(&t, 30);
    uint64_t last = djs_log_last_seq(t.log);
    djs_verify_options_t o;
    djs_verify_options_init(&o);
    o.from = mid;
    djs_verify_report_t rep;
    ck_assert_int_eq(verify(t.log, &o, &rep), 0);
    ck_assert_uint_eq(rep.trusted_seq, mid);
    ck_assert_uint_eq(rep.first_seq, mid + 1);
    ck_assert_uint_eq(rep.records, last - mid);
    ck_assert_uint_eq(rep.replayed, last - mid); /* from the snapshot at mid */
    uint8_t d[32];
    et_digest(&t, d);
    ck_assert_mem_eq(rep.digest, d, 32);

    /* the start-up check: records checkpoints, then starts from the newest */
    djs_verify_options_init(&o);
    o.from_checkpoint = 1;
    o.checkpoint_every = 50;
    o.output = o.index = o.replay = 0;
    ck_assert_int_eq(verify(t.log, &o, &rep), 0);
    ck_assert_uint_eq(rep.records, last);
    uint64_t vseq;
    uint8_t vh[DJS_HASH_LEN];
    ck_assert_int_eq(djs_log_get_verified(t.log, &vseq, vh), 0);
    ck_assert_uint_eq(vseq, last);
    ck_assert_mem_eq(vh, rep.head_hash, DJS_HASH_LEN);
    work(&t, 3);
    ck_assert_int_eq(verify(t.log, &o, &rep), 0);
    ck_assert_uint_eq(rep.trusted_seq, last);
    ck_assert_uint_eq(rep.records, djs_log_last_seq(t.log) - last);
    /* a checkpoint whose record has changed since: refused */
    vh[0] ^= 1;
    ck_assert_int_eq(djs_log_put_verified(t.log, mid, vh), 0);
    djs_verify_report_t r2;
    ck_assert_int_eq(djs_log_get_verified(t.log, &vseq, vh), 0);
    ck_assert_int_eq(verify(t.log, &o, &r2), DJS_ECHAIN);
    ck_assert_uint_eq(r2.bad_seq, mid);
    et_close(&t);
}
END_TEST

START_TEST(archived_log_verifies_from_its_base)
{
    et_t t;
    et_open(&t, NULL);
    work(&t, 30);
    uint64_t base = djs_log_last_seq(t.log);
    snapshot_now(&t);
    work(&t, 30);
    REQ_RC(djs_log_archive_cut(t.log, base, NULL, NULL), 0);
    djs_verify_report_t rep;
    ck_assert_int_eq(verify(t.log, NULL, &rep), 0);
    ck_assert_uint_eq(rep.base_seq, base);
    ck_assert_uint_eq(rep.first_seq, base + 1);
    ck_assert_uint_eq(rep.records, djs_log_last_seq(t.log) - base);
    uint8_t d[32];
    et_digest(&t, d);
    ck_assert_mem_eq(rep.digest, d, 32);
    et_close(&t);
}
END_TEST

static Suite *verify_deep_suite(void)
{
    Suite *s = suite_create("verify_deep");
    TCase *tc = tcase_create("deep");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, real_log_verifies_with_summary);
    tcase_add_test(tc, altered_output_is_found);
    tcase_add_test(tc, snapshot_of_other_state_is_found);
    tcase_add_test(tc, trusted_start_and_checkpoints);
    tcase_add_test(tc, archived_log_verifies_from_its_base);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(verify_deep_suite)
