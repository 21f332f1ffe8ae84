/* The event log's maintenance calls (eventlog/log.h): verified checkpoints,
 * importing records as they are, synchronous snapshots, point-in-time
 * truncation, output removal, and the archive cut (also beside a writer in
 * another process). */
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/event.h"
#include "core/id.h"
#include "eventlog/log.h"
#include "logtest.h"
#include "testutil.h"

static char *dir_of(const char *name)
{
    static char pool[8][1024];
    static int used;
    ck_assert_int_lt(used, 8);
    char *p = pool[used++];
    snprintf(p, sizeof(pool[0]), "%s/%s", tu_tmpdir(), name);
    return p;
}

static djs_log_t *open_with(const char *dir, int readonly, int tool)
{
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = readonly;
    o.tool = tool;
    o.snapshot_piece = 1000;
    djs_log_t *log = NULL;
    int rc = djs_log_open(&log, dir, &o);
    ck_assert_msg(rc == 0, "djs_log_open(%s): %s", dir, djs_err_name(rc));
    return log;
}

static void append_n(djs_log_t *log, uint64_t n, unsigned entities)
{
    uint64_t base = djs_log_last_seq(log);
    for (uint64_t i = 0; i < n; i++) {
        djs_id_t e = lt_entity((unsigned)(i % entities) + 1);
        djs_event_t ev;
        ck_assert_int_eq(lt_append(log, &e, base + i + 1, 0, &ev), 0);
    }
    ck_assert_int_eq(djs_log_sync(log), 0);
}

static void record_at(djs_log_t *log, uint64_t seq, djs_buf_t *out, djs_event_t *ev)
{
    djs_buf_reset(out);
    ck_assert_int_eq(djs_log_get(log, seq, out), 0);
    ck_assert_int_eq(djs_event_decode(out->base, out->len, ev), 0);
}

/* Check seqs first..last are there, dense, chained from prev. */
typedef struct chain {
    uint64_t next;
    uint8_t hash[DJS_HASH_LEN];
    int bad;
} chain_t;

static int chain_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    chain_t *c = arg;
    djs_event_t ev;
    uint8_t h[DJS_HASH_LEN];
    if (seq != c->next || djs_event_decode(rec, len, &ev) != 0) {
        c->bad = 1;
        return 1;
    }
    djs_event_chain(c->hash, rec, len, h);
    if (memcmp(h, ev.hash, DJS_HASH_LEN) != 0) {
        c->bad = 1;
        return 1;
    }
    memcpy(c->hash, ev.hash, DJS_HASH_LEN);
    c->next++;
    return 0;
}

static void expect_chain(djs_log_t *log, uint64_t first, const uint8_t prev[DJS_HASH_LEN], uint64_t last)
{
    chain_t c = {.next = first};
    memcpy(c.hash, prev, DJS_HASH_LEN);
    ck_assert_int_eq(djs_log_scan(log, 0, UINT64_MAX, chain_visit, &c), 0);
    ck_assert_msg(!c.bad, "chain broken at %llu", (unsigned long long)c.next);
    ck_assert_uint_eq(c.next - 1, last);
}

typedef struct count {
    uint64_t n, max_seq, min_seq;
} count_t;

static int count_index(void *arg, const djs_id_t *entity, uint64_t seq)
{
    (void)entity;
    count_t *c = arg;
    c->n++;
    if (seq > c->max_seq)
        c->max_seq = seq;
    if (c->min_seq == 0 || seq < c->min_seq)
        c->min_seq = seq;
    return 0;
}

static const uint8_t zero[DJS_HASH_LEN];

START_TEST(verified_checkpoint_roundtrip)
{
    char *dir = dir_of("verified");
    djs_log_t *log = open_with(dir, 0, 0);
    uint64_t seq = 7;
    uint8_t h[DJS_HASH_LEN], want[DJS_HASH_LEN];
    ck_assert_int_eq(djs_log_get_verified(log, &seq, h), DJS_ENOTFOUND);
    append_n(log, 20, 3);
    djs_buf_t b;
    djs_event_t ev;
    djs_buf_init(&b);
    record_at(log, 12, &b, &ev);
    memcpy(want, ev.hash, DJS_HASH_LEN);
    ck_assert_int_eq(djs_log_put_verified(log, 12, want), 0);
    ck_assert_int_eq(djs_log_get_verified(log, &seq, h), 0);
    ck_assert_uint_eq(seq, 12);
    ck_assert_mem_eq(h, want, DJS_HASH_LEN);
    djs_log_close(log);
    /* read by another handle, refused to write by a read-only one */
    log = open_with(dir, 1, 0);
    ck_assert_int_eq(djs_log_get_verified(log, &seq, h), 0);
    ck_assert_uint_eq(seq, 12);
    ck_assert_int_eq(djs_log_put_verified(log, 13, want), DJS_ERDONLY);
    ck_assert_int_eq(djs_log_get_base(log, &(djs_log_base_t){0}), DJS_ENOTFOUND);
    ck_assert_uint_eq(djs_log_first_seq(log), 1);
    djs_log_close(log);
    djs_buf_dispose(&b);
}
END_TEST

typedef struct copy {
    djs_log_t *dst;
    int rc;
} copy_t;

static int copy_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    (void)seq;
    copy_t *c = arg;
    c->rc = djs_log_append_record(c->dst, rec, len);
    return c->rc;
}

START_TEST(append_record_keeps_records_and_refuses_others)
{
    char *a = dir_of("import-src"), *b = dir_of("import-dst");
    djs_log_t *src = open_with(a, 0, 0);
    append_n(src, 300, 5);
    djs_log_t *dst = open_with(b, 0, 0);
    copy_t c = {.dst = dst};
    ck_assert_int_eq(djs_log_scan(src, 1, 200, copy_visit, &c), 0);
    ck_assert_int_eq(djs_log_sync(dst), 0);
    djs_buf_t r1, r2;
    djs_event_t e1, e2;
    djs_buf_init(&r1);
    djs_buf_init(&r2);
    /* the same record twice, one skipped, a tampered one: refused, nothing staged */
    record_at(src, 200, &r1, &e1);
    ck_assert_int_eq(djs_log_append_record(dst, r1.base, r1.len), DJS_ESEQGAP);
    record_at(src, 202, &r1, &e1);
    ck_assert_int_eq(djs_log_append_record(dst, r1.base, r1.len), DJS_ESEQGAP);
    record_at(src, 201, &r1, &e1);
    r1.base[r1.len - DJS_HASH_LEN - 3] ^= 1; /* a body byte: still decodes, chain differs */
    ck_assert_int_eq(djs_log_append_record(dst, r1.base, r1.len), DJS_ECHAIN);
    ck_assert_int_lt(djs_log_append_record(dst, r1.base, 5), 0); /* does not decode */
    ck_assert_uint_eq(djs_log_last_seq(dst), 200);
    c.rc = 0;
    ck_assert_int_eq(djs_log_scan(src, 201, UINT64_MAX, copy_visit, &c), 0);
    ck_assert_int_eq(djs_log_sync(dst), 0);
    for (uint64_t s = 1; s <= 300; s++) {
        record_at(src, s, &r1, &e1);
        record_at(dst, s, &r2, &e2);
        ck_assert_uint_eq(r1.len, r2.len);
        ck_assert_mem_eq(r1.base, r2.base, r1.len);
    }
    count_t ia = {0}, ib = {0};
    ck_assert_int_eq(djs_log_scan_index(src, count_index, &ia), 0);
    ck_assert_int_eq(djs_log_scan_index(dst, count_index, &ib), 0);
    ck_assert_uint_eq(ia.n, ib.n);
    /* appends go on from the imported tail, never below its clock */
    djs_event_t ev;
    djs_id_t e = lt_entity(1);
    ck_assert_int_eq(lt_append(dst, &e, 301, 0, &ev), 0);
    ck_assert_uint_gt(ev.ts_ns, e1.ts_ns);
    ck_assert_int_eq(djs_log_sync(dst), 0);
    expect_chain(dst, 1, zero, 301);
    djs_log_close(dst);
    djs_log_close(src);
    /* a read-only or tool handle cannot import */
    src = open_with(a, 0, 1);
    record_at(src, 1, &r1, &e1);
    ck_assert_int_eq(djs_log_append_record(src, r1.base, r1.len), DJS_ERDONLY);
    djs_log_close(src);
    djs_buf_dispose(&r1);
    djs_buf_dispose(&r2);
}
END_TEST

START_TEST(truncate_cuts_records_index_snapshots_output)
{
    char *dir = dir_of("truncate");
    djs_log_t *log = open_with(dir, 0, 0);
    append_n(log, 100, 4);
    uint8_t snap[2500];
    memset(snap, 7, sizeof(snap));
    ck_assert_int_eq(djs_log_put_snapshot(log, 50, snap, sizeof(snap), 8), 0);
    ck_assert_int_eq(djs_log_put_snapshot(log, 80, snap, sizeof(snap), 8), 0);
    djs_id_t job = lt_entity(2);
    ck_assert_int_eq(djs_log_put_output(log, &job, 0, "aaaa", 4), 0);
    ck_assert_int_eq(djs_log_put_output(log, &job, 4, "bbbb", 4), 0);
    ck_assert_int_eq(djs_log_put_output(log, &job, 8, "cccc", 4), 0);
    append_n(log, 1, 4);
    djs_buf_t b;
    djs_event_t ev;
    djs_buf_init(&b);
    record_at(log, 90, &b, &ev);
    ck_assert_int_eq(djs_log_put_verified(log, 90, ev.hash), 0);
    djs_log_close(log);

    log = open_with(dir, 0, 0);
    ck_assert_int_eq(djs_log_truncate(log, 60), 0);
    ck_assert_int_eq(djs_log_drop_output(log, &job, 4), 0);
    ck_assert_uint_eq(djs_log_last_seq(log), 60);
    expect_chain(log, 1, zero, 60);
    count_t ix = {0};
    ck_assert_int_eq(djs_log_scan_index(log, count_index, &ix), 0);
    ck_assert_uint_eq(ix.n, 60);
    ck_assert_uint_eq(ix.max_seq, 60);
    uint64_t seq = 0;
    djs_buf_reset(&b);
    ck_assert_int_eq(djs_log_get_snapshot(log, UINT64_MAX, &seq, &b), 0);
    ck_assert_uint_eq(seq, 50);
    uint8_t h[DJS_HASH_LEN];
    ck_assert_int_eq(djs_log_get_verified(log, &seq, h), DJS_ENOTFOUND); /* it was above the cut */
    djs_buf_reset(&b);
    uint64_t next = 0;
    ck_assert_int_eq(djs_log_read_output(log, &job, 0, 100, &b, &next), 0);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_uint_eq(next, 4);
    /* appends go on after the cut, chained to record 60 */
    append_n(log, 5, 4);
    expect_chain(log, 1, zero, 65);
    djs_log_close(log);
    /* and after a reopen */
    log = open_with(dir, 0, 0);
    ck_assert_uint_eq(djs_log_last_seq(log), 65);
    append_n(log, 1, 4);
    expect_chain(log, 1, zero, 66);
    djs_log_close(log);
    djs_buf_dispose(&b);
}
END_TEST

START_TEST(archive_cut_leaves_a_log_from_its_base)
{
    char *dir = dir_of("archive");
    djs_log_t *log = open_with(dir, 0, 0);
    append_n(log, 100, 4);
    uint8_t snap[2500];
    memset(snap, 9, sizeof(snap));
    ck_assert_int_eq(djs_log_put_snapshot(log, 20, snap, sizeof(snap), 8), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    djs_buf_t b;
    djs_event_t ev;
    djs_buf_init(&b);
    record_at(log, 40, &b, &ev);
    uint8_t h40[DJS_HASH_LEN];
    uint64_t ts40 = ev.ts_ns;
    memcpy(h40, ev.hash, DJS_HASH_LEN);
    djs_log_close(log);

    log = open_with(dir, 0, 1);
    ck_assert_int_eq(djs_log_append(log, &(djs_event_t){.type = DJS_EV_JOB_QUEUED}), DJS_ERDONLY);
    ck_assert_int_eq(djs_log_archive_cut(log, 40, NULL, NULL), DJS_EINVAL); /* no snapshot at 40 */
    ck_assert_int_eq(djs_log_store_snapshot(log, 40, snap, sizeof(snap)), 0);
    ck_assert_int_eq(djs_log_archive_cut(log, 100, NULL, NULL), DJS_EINVAL); /* the last record stays */
    ck_assert_int_eq(djs_log_archive_cut(log, 40, NULL, NULL), 0);
    ck_assert_int_eq(djs_log_archive_cut(log, 30, NULL, NULL), DJS_EARCHIVED);
    djs_log_base_t base;
    ck_assert_int_eq(djs_log_get_base(log, &base), 0);
    ck_assert_uint_eq(base.seq, 40);
    ck_assert_uint_eq(base.ts_ns, ts40);
    ck_assert_mem_eq(base.hash, h40, DJS_HASH_LEN);
    ck_assert_uint_eq(djs_log_first_seq(log), 41);
    expect_chain(log, 41, h40, 100);
    count_t ix = {0};
    ck_assert_int_eq(djs_log_scan_index(log, count_index, &ix), 0);
    ck_assert_uint_eq(ix.n, 60);
    ck_assert_uint_eq(ix.min_seq, 41);
    uint64_t seq = 0, vseq = 0;
    djs_buf_reset(&b);
    ck_assert_int_eq(djs_log_get_snapshot(log, 45, &seq, &b), 0);
    ck_assert_uint_eq(seq, 40);
    ck_assert_int_eq(djs_log_get_snapshot(log, 39, &seq, &b), DJS_ENOTFOUND); /* the one at 20 went */
    uint8_t vh[DJS_HASH_LEN];
    ck_assert_int_eq(djs_log_get_verified(log, &vseq, vh), 0);
    ck_assert_uint_eq(vseq, 40);
    ck_assert_int_eq(djs_log_truncate(log, 30), DJS_EARCHIVED);
    djs_log_close(log);

    /* a writer goes on after it, and its snapshot pruning keeps the base */
    log = open_with(dir, 0, 0);
    append_n(log, 10, 4);
    for (uint64_t s = 101; s <= 110; s++)
        ck_assert_int_eq(djs_log_put_snapshot(log, s, snap, sizeof(snap), 2), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_int_eq(djs_log_get_snapshot(log, 100, &seq, &b), 0);
    ck_assert_uint_eq(seq, 40);
    ck_assert_int_eq(djs_log_get_snapshot(log, 108, &seq, &b), 0); /* 101..108 pruned: 109, 110 and the base kept */
    ck_assert_uint_eq(seq, 40);
    expect_chain(log, 41, h40, 110);
    djs_log_close(log);
    djs_buf_dispose(&b);
}
END_TEST

/* A tool in another process archives while this one appends. */
START_TEST(archive_beside_a_writer_in_another_process)
{
    char *dir = dir_of("archive-live");
    djs_log_t *log = open_with(dir, 0, 0);
    append_n(log, 5000, 16);
    uint8_t snap[3000];
    memset(snap, 3, sizeof(snap));
    ck_assert_int_eq(djs_log_put_snapshot(log, 4000, snap, sizeof(snap), 4), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    djs_buf_t b;
    djs_event_t ev;
    djs_buf_init(&b);
    record_at(log, 4000, &b, &ev);
    uint8_t h[DJS_HASH_LEN];
    memcpy(h, ev.hash, DJS_HASH_LEN);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        djs_log_options_t o;
        djs_log_options_init(&o);
        o.tool = 1;
        djs_log_t *t = NULL;
        int rc = djs_log_open(&t, dir, &o);
        if (rc == 0)
            rc = djs_log_archive_cut(t, 4000, NULL, NULL);
        if (t != NULL)
            djs_log_close(t);
        _exit(rc == 0 ? 0 : 10 - rc);
    }
    for (int round = 0; round < 40; round++)
        append_n(log, 100, 16);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "archive child: status %d", status);
    append_n(log, 10, 16);
    ck_assert_uint_eq(djs_log_first_seq(log), 4001);
    expect_chain(log, 4001, h, 9010);
    djs_log_close(log);
    djs_buf_dispose(&b);
}
END_TEST

static Suite *log_maint_suite(void)
{
    Suite *s = suite_create("log_maint");
    TCase *tc = tcase_create("maintenance");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, verified_checkpoint_roundtrip);
    tcase_add_test(tc, append_record_keeps_records_and_refuses_others);
    tcase_add_test(tc, truncate_cuts_records_index_snapshots_output);
    tcase_add_test(tc, archive_cut_leaves_a_log_from_its_base);
    tcase_add_test(tc, archive_beside_a_writer_in_another_process);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(log_maint_suite)
