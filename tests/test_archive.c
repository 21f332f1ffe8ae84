/* replay/archive: old records move to a checked archive file; the log then
 * starts from a base whose snapshot rebuilds the same state, verifies from
 * there, refuses time travel before it; the archive checks out and ends at
 * the base's hash; altered or cut archives are refused; --prune-output
 * removes only the output of jobs archived whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "enginetest.h"
#include "projections/rebuild.h"
#include "replay/archive.h"
#include "replay/verify.h"
#include "testutil.h"

/* n jobs with output, completed; returns the last job's id */
static djs_id_t work(et_t *t, djs_id_t *w, int n, const char *tag)
{
    djs_id_t j = {{0}};
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s-%d", tag, i);
        djs_job_request_t r;
        et_req(&r, name, 1);
        REQ_RC(et_submit_req(t, &r, &j), 0);
        et_run(t);
        const djs_job_t *jp = et_jobp(t, &j);
        REQ(jp->state == DJS_JOB_SCHEDULED);
        uint32_t att = jp->attempt;
        uint64_t seq, recv;
        REQ_RC(djs_engine_start(t->e, w, &j, att, &seq), 0);
        REQ_RC(djs_engine_output(t->e, w, &j, att, 0, (const uint8_t *)"line one\n", 9, &seq, &recv), 0);
        REQ_RC(djs_engine_complete(t->e, w, &j, att, NULL, 0, &seq), 0);
        et_advance(t, ET_MS);
    }
    et_sync(t);
    return j;
}

static djs_log_t *open_ro(const char *dir)
{
    djs_log_t *log;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    REQ_RC(djs_log_open(&log, dir, &o), 0);
    return log;
}

static uint64_t output_len(djs_log_t *log, const djs_id_t *job)
{
    djs_buf_t b;
    uint64_t next = 0;
    djs_buf_init(&b);
    REQ_RC(djs_log_read_output(log, job, 0, 1 << 20, &b, &next), 0);
    djs_buf_dispose(&b);
    return next;
}

START_TEST(archive_then_log_starts_at_base)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w", 4);
    djs_id_t old = work(&t, &w, 20, "old");
    et_advance(&t, 10 * ET_MS);
    djs_id_t alive;
    djs_job_request_t r;
    et_req(&r, "alive-across", 1);
    REQ_RC(et_submit_req(&t, &r, &alive), 0); /* submitted before the point, runs after */
    uint64_t alive_seq = djs_log_last_seq(t.log);
    et_advance(&t, 10 * ET_MS);
    uint64_t point = t.now;
    et_advance(&t, ET_MS);
    et_run(&t);
    const djs_job_t *ap = et_jobp(&t, &alive);
    uint32_t att = ap->attempt;
    uint64_t seq, recv;
    REQ_RC(djs_engine_start(t.e, &w, &alive, att, &seq), 0);
    REQ_RC(djs_engine_output(t.e, &w, &alive, att, 0, (const uint8_t *)"late\n", 5, &seq, &recv), 0);
    REQ_RC(djs_engine_complete(t.e, &w, &alive, att, NULL, 0, &seq), 0);
    work(&t, &w, 5, "new");
    uint8_t before[32];
    et_digest(&t, before);
    uint64_t last = djs_log_last_seq(t.log);
    et_close(&t);

    char dest[4200];
    snprintf(dest, sizeof(dest), "%s/old.djsarchive", t.dir);
    djs_archive_options_t o = {.before_ns = point, .prune_output = 1};
    djs_archive_report_t rep;
    int rc = djs_archive(t.dir, dest, &o, &rep);
    ck_assert_msg(rc == 0, "archive: %s", rep.detail);
    ck_assert_uint_eq(rep.first_seq, 1);
    ck_assert_uint_ge(rep.base_seq, alive_seq);
    ck_assert_uint_eq(rep.events, rep.base_seq);
    ck_assert_uint_eq(rep.chunks, 20);
    ck_assert_uint_eq(rep.jobs_pruned, 20); /* "alive-across" had no output before the point */
    djs_archive_report_t again;
    ck_assert_int_eq(djs_archive(t.dir, dest, &o, &again), DJS_EEXISTS);

    /* the log: starts after the base, verifies, rebuilds the same state */
    djs_log_t *log = open_ro(t.dir);
    ck_assert_uint_eq(djs_log_first_seq(log), rep.base_seq + 1);
    ck_assert_uint_eq(djs_log_last_seq(log), last);
    djs_verify_report_t vr;
    ck_assert_int_eq(djs_verify_log(log, &vr, NULL, NULL), 0);
    ck_assert_uint_eq(vr.base_seq, rep.base_seq);
    ck_assert_mem_eq(vr.digest, before, 32);
    djs_state_t *st;
    ck_assert_int_eq(djs_state_rebuild(log, NULL, last, &st, NULL), 0);
    uint8_t after[32];
    djs_state_digest(st, after);
    ck_assert_mem_eq(after, before, 32);
    djs_state_free(st);
    ck_assert_int_eq(djs_state_rebuild(log, NULL, rep.base_seq - 1, &st, NULL), DJS_EARCHIVED);
    ck_assert_uint_eq(output_len(log, &old), 0);   /* pruned: archived whole */
    ck_assert_uint_eq(output_len(log, &alive), 5); /* kept: it goes on after the base */
    djs_log_close(log);

    /* the archive: checks out and ends where the log starts */
    FILE *f = fopen(dest, "r");
    ck_assert_ptr_nonnull(f);
    djs_archive_check_report_t cr;
    ck_assert_int_eq(djs_archive_check(f, &cr), 0);
    fclose(f);
    ck_assert_uint_eq(cr.last_seq, rep.base_seq);
    ck_assert_mem_eq(cr.head, rep.head, DJS_HASH_LEN);

    /* altered, then cut short: refused */
    size_t len;
    uint8_t *bytes = tu_read_file(dest, &len);
    ck_assert_ptr_nonnull(bytes);
    uint8_t *hit = memmem(bytes, len, "old-7", 5);
    ck_assert_ptr_nonnull(hit);
    hit[4] ^= 1;
    char alt[4300];
    snprintf(alt, sizeof(alt), "%s.altered", dest);
    ck_assert_int_eq(tu_write_file(alt, bytes, len), 0);
    f = fopen(alt, "r");
    ck_assert_int_eq(djs_archive_check(f, &cr), DJS_ECHAIN);
    fclose(f);
    hit[4] ^= 1;
    ck_assert_int_eq(tu_write_file(alt, bytes, len - 40), 0);
    f = fopen(alt, "r");
    ck_assert_int_ne(djs_archive_check(f, &cr), 0);
    fclose(f);
    free(bytes);

    /* a second archive goes on from the first's base */
    char dest2[4300];
    snprintf(dest2, sizeof(dest2), "%s/second.djsarchive", t.dir);
    djs_archive_options_t o2 = {.before_seq = rep.base_seq + 5};
    djs_archive_report_t rep2;
    rc = djs_archive(t.dir, dest2, &o2, &rep2);
    ck_assert_msg(rc == 0, "second archive: %s", rep2.detail);
    ck_assert_uint_eq(rep2.first_seq, rep.base_seq + 1);
    ck_assert_uint_eq(rep2.base_seq, rep.base_seq + 4);
    f = fopen(dest2, "r");
    ck_assert_int_eq(djs_archive_check(f, &cr), 0);
    fclose(f);
    ck_assert_mem_eq(cr.prev, rep.head, DJS_HASH_LEN);
    /* nothing before the base can be archived again */
    djs_archive_options_t o3 = {.before_seq = 3};
    snprintf(dest2, sizeof(dest2), "%s/third.djsarchive", t.dir);
    ck_assert_int_eq(djs_archive(t.dir, dest2, &o3, &rep2), DJS_EARCHIVED);
    log = open_ro(t.dir);
    ck_assert_int_eq(djs_verify_log(log, &vr, NULL, NULL), 0);
    ck_assert_mem_eq(vr.digest, before, 32);
    djs_log_close(log);
}
END_TEST

static Suite *archive_suite(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("archive");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, archive_then_log_starts_at_base);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(archive_suite)
