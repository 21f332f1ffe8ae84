/* replay/backup and replay/restore: a backup restores to the same seq,
 * chain head and digest, with its secret; a restore cut at N has the state
 * djs_state_rebuild gives at N on the original, its output cut back, and
 * verifies; --to-time names the last record at or before the time; a
 * backup taken while a writer appends is consistent; and every kind of bad
 * backup or target is refused with its error, leaving the target alone. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/bodies.h"
#include "core/error.h"
#include "enginetest.h"
#include "projections/rebuild.h"
#include "projections/snapshot.h"
#include "replay/backup.h"
#include "replay/restore.h"
#include "replay/verify.h"
#include "testutil.h"

#define SECRET "jwt.secret"

/* dir/name, in a pool never reused within a test (each test is its own
 * process). */
static const char *sub(const char *dir, const char *name)
{
    static char pool[512][1024];
    static int next;
    ck_assert_int_lt(next, 512);
    char *p = pool[next++];
    snprintf(p, sizeof(pool[0]), "%s/%s", dir, name);
    return p;
}

/* Jobs on two workers, some run with output (several chunks each),
 * completed or failed, a snapshot in the middle. */
static void workload(et_t *t)
{
    et_worker(t, "w1", 2);
    et_worker(t, "w2", 2);
    for (int i = 0; i < 24; i++) {
        djs_id_t j = et_job(t, i == 5 ? "marker-in-record-5" : "bk", i % 3);
        et_advance(t, ET_MS);
        et_run(t);
        const djs_job_t *jp = et_jobp(t, &j);
        if (jp == NULL || jp->state != DJS_JOB_SCHEDULED)
            continue;
        uint32_t att = jp->attempt;
        djs_id_t w = et_worker_of(t, &j);
        uint64_t seq, recv, off = 0;
        REQ_RC(djs_engine_start(t->e, &w, &j, att, &seq), 0);
        for (int c = 0; c < 3; c++) {
            char line[64];
            int n = snprintf(line, sizeof(line), "job %d chunk %d\n", i, c);
            REQ_RC(djs_engine_output(t->e, &w, &j, att, off, (const uint8_t *)line, (size_t)n, &seq, &recv), 0);
            off += (uint64_t)n;
            et_advance(t, ET_MS);
        }
        if (i % 4 == 3)
            REQ_RC(djs_engine_fail(t->e, &w, &j, att, ET_S("boom"), &seq), 0);
        else
            REQ_RC(djs_engine_complete(t->e, &w, &j, att, NULL, 0, &seq), 0);
        et_run(t);
        if (i == 10) {
            djs_buf_t b;
            djs_buf_init(&b);
            et_sync(t);
            djs_state_snapshot(et_st(t), &b);
            REQ_RC(djs_log_put_snapshot(t->log, djs_state_seq(et_st(t)), b.base, b.len, 4), 0);
            djs_buf_dispose(&b);
        }
    }
    et_sync(t);
}

static void write_secret(const char *dir)
{
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    ck_assert_int_eq(tu_write_file(sub(dir, SECRET), key, sizeof(key)), 0);
    chmod(sub(dir, SECRET), 0600);
}

/* A data directory with the workload and a secret; the engine closed. */
static void make_source(et_t *t)
{
    et_open(t, NULL);
    workload(t);
    et_close(t);
    write_secret(t->dir);
}

static djs_log_t *open_ro(const char *dir)
{
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    djs_log_t *log = NULL;
    int rc = djs_log_open(&log, dir, &o);
    ck_assert_msg(rc == 0, "open %s: %s", dir, djs_err_name(rc));
    return log;
}

static void backup_of(const char *src, const char *dest, const char *config, djs_backup_report_t *rep)
{
    djs_log_t *log = open_ro(src);
    djs_backup_options_t o;
    djs_backup_options_init(&o);
    o.secret_name = SECRET;
    o.config_path = config;
    int rc = djs_backup_run(log, dest, &o, rep);
    djs_log_close(log);
    ck_assert_msg(rc == 0, "backup: %s [%s]", rep->detail, djs_err_name(rc));
}

/* The digest djs_state_rebuild gives at seq on dir. */
static void digest_at(const char *dir, uint64_t seq, uint8_t out[32])
{
    djs_log_t *log = open_ro(dir);
    djs_state_t *st = NULL;
    ck_assert_int_eq(djs_state_rebuild(log, NULL, seq, &st, NULL), 0);
    djs_state_digest(st, out);
    djs_state_free(st);
    djs_log_close(log);
}

static void verify_ok(const char *dir, djs_verify_report_t *vr)
{
    djs_log_t *log = open_ro(dir);
    int rc = djs_verify_log(log, vr, NULL, NULL);
    djs_log_close(log);
    ck_assert_msg(rc == 0, "verify %s: seq %llu: %s", dir, (unsigned long long)vr->bad_seq, vr->detail);
}

static int restore_to(const char *bk, const char *dir, uint64_t to_seq, djs_restore_report_t *rep)
{
    djs_restore_options_t o;
    djs_restore_options_init(&o);
    o.to_seq = to_seq;
    o.secret_name = SECRET;
    return djs_restore(bk, dir, &o, rep);
}

/* Nothing but dir's own entries beside it: no temporary directory left. */
static int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

START_TEST(round_trip_keeps_seq_head_digest_and_secret)
{
    et_t t;
    make_source(&t);
    const char *cfg = sub(tu_tmpdir(), "djs.conf");
    ck_assert_int_eq(tu_write_file(cfg, "listen = 127.0.0.1:1\n", 21), 0);
    const char *bk = sub(tu_tmpdir(), "bk");
    djs_backup_report_t br;
    backup_of(t.dir, bk, cfg, &br);
    ck_assert(br.has_secret && br.has_config);
    ck_assert_uint_gt(br.seq, 50);
    ck_assert_uint_gt(br.bytes, br.data_bytes);

    djs_backup_manifest_t m;
    char detail[512];
    ck_assert_int_eq(djs_backup_check(bk, &m, detail, sizeof(detail)), 0);
    ck_assert_uint_eq(m.seq, br.seq);
    ck_assert_uint_eq(m.first_seq, 1);
    ck_assert_int_eq(m.nfiles, 3);
    ck_assert_mem_eq(m.head, br.head, 32);
    uint8_t d[32];
    digest_at(t.dir, br.seq, d);
    ck_assert_mem_eq(m.digest, d, 32);
    struct stat st;
    ck_assert_int_eq(stat(sub(bk, "data.mdb"), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_ne(stat(sub(bk, "lock.mdb"), &st), 0);

    const char *parent = tu_tmpdir(), *dir = sub(parent, "restored");
    djs_restore_report_t rr;
    int rc = restore_to(bk, dir, 0, &rr);
    ck_assert_msg(rc == 0, "restore: %s", rr.detail);
    ck_assert(!rr.cut && rr.in_place && rr.has_secret);
    ck_assert_uint_eq(rr.seq, br.seq);
    ck_assert_mem_eq(rr.head, br.head, 32);
    ck_assert_mem_eq(rr.digest, d, 32);
    ck_assert_int_eq(entries_in(parent), 1);
    ck_assert_str_eq(rr.config_path, sub(dir, "djs.conf"));
    ck_assert_int_eq(stat(sub(dir, SECRET), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    size_t a, b;
    uint8_t *x = tu_read_file(sub(t.dir, SECRET), &a), *y = tu_read_file(sub(dir, SECRET), &b);
    ck_assert(a == b && memcmp(x, y, a) == 0);
    free(x);
    free(y);

    djs_verify_report_t vr;
    verify_ok(dir, &vr);
    ck_assert_uint_eq(vr.last_seq, br.seq);
    djs_log_t *log = open_ro(dir);
    uint64_t vseq;
    uint8_t vh[32];
    ck_assert_int_eq(djs_log_get_verified(log, &vseq, vh), 0);
    ck_assert_uint_eq(vseq, br.seq);
    ck_assert_mem_eq(vh, br.head, 32);
    djs_log_close(log);
}
END_TEST

typedef struct out_at {
    djs_id_t job[64];
    uint32_t len[64];
    int n;
} out_at_t;

/* Every job's output length in the state at seq (rebuilt on dir). */
static void outputs_at(const char *dir, uint64_t seq, out_at_t *o)
{
    djs_log_t *log = open_ro(dir);
    djs_state_config_t sc;
    djs_state_config_init(&sc);
    djs_state_t *st = NULL;
    ck_assert_int_eq(djs_state_rebuild(log, &sc, seq, &st, NULL), 0);
    o->n = 0;
    for (uint32_t s = 0; s < djs_state_njob_slots(st) && o->n < 64; s++) {
        const djs_job_t *j = djs_state_job_at(st, s);
        if (j == NULL || j->submit_seq == 0)
            continue;
        o->job[o->n] = j->id;
        o->len[o->n++] = j->out_len;
    }
    djs_state_free(st);
    djs_log_close(log);
}

START_TEST(cut_at_n_is_the_state_at_n)
{
    et_t t;
    make_source(&t);
    const char *bk = sub(tu_tmpdir(), "bk");
    djs_backup_report_t br;
    backup_of(t.dir, bk, NULL, &br);
    uint64_t points[] = {1, br.seq / 5, br.seq / 3, br.seq / 2 + 1, br.seq - 7, br.seq - 1}, cut_back = 0;
    for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
        uint64_t n = points[p];
        const char *dir = sub(tu_tmpdir(), "pitr");
        djs_restore_report_t rr;
        int rc = restore_to(bk, dir, n, &rr);
        ck_assert_msg(rc == 0, "restore --to-seq %llu: %s", (unsigned long long)n, rr.detail);
        ck_assert(rr.cut);
        ck_assert_uint_eq(rr.seq, n);
        ck_assert_uint_eq(rr.records_dropped, br.seq - n);
        cut_back += rr.output_jobs_dropped;
        uint8_t want[32];
        digest_at(t.dir, n, want);
        ck_assert_msg(memcmp(rr.digest, want, 32) == 0, "digest at %llu differs", (unsigned long long)n);
        djs_verify_report_t vr;
        verify_ok(dir, &vr);
        ck_assert_uint_eq(vr.last_seq, n);
        digest_at(dir, n, want);
        ck_assert_mem_eq(rr.digest, want, 32);
        /* the stored output of every job is what its events at n recorded */
        out_at_t o;
        outputs_at(dir, n, &o);
        djs_log_t *log = open_ro(dir);
        for (int i = 0; i < o.n; i++) {
            djs_buf_t b;
            djs_buf_init(&b);
            uint64_t next = 0;
            ck_assert_int_eq(djs_log_read_output(log, &o.job[i], 0, 1 << 20, &b, &next), 0);
            ck_assert_uint_eq(b.len, o.len[i]);
            djs_buf_dispose(&b);
        }
        djs_log_close(log);
        /* a write after the cut appends at n + 1 */
        log = NULL;
        ck_assert_int_eq(djs_log_open(&log, dir, NULL), 0);
        ck_assert_uint_eq(djs_log_last_seq(log), n);
        djs_log_close(log);
    }
    ck_assert_uint_gt(cut_back, 3); /* the points fell inside jobs' output */
}
END_TEST

START_TEST(to_time_is_the_last_record_at_or_before)
{
    et_t t;
    make_source(&t);
    const char *bk = sub(tu_tmpdir(), "bk");
    djs_backup_report_t br;
    backup_of(t.dir, bk, NULL, &br);
    uint64_t n = br.seq / 2, ts;
    djs_log_t *log = open_ro(t.dir);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_event_t ev;
    ck_assert_int_eq(djs_log_get(log, n, &b), 0);
    ck_assert_int_eq(djs_event_decode(b.base, b.len, &ev), 0);
    ts = ev.ts_ns;
    djs_buf_dispose(&b);
    djs_log_close(log);

    djs_restore_options_t o;
    djs_restore_options_init(&o);
    o.has_to_time = 1;
    o.to_time_ns = ts;
    djs_restore_report_t rr;
    const char *dir = sub(tu_tmpdir(), "t");
    ck_assert_int_eq(djs_restore(bk, dir, &o, &rr), 0);
    ck_assert_uint_eq(rr.seq, n);
    ck_assert_uint_eq(rr.ts_ns, ts);
    ck_assert(rr.cut);
    o.to_time_ns = ts - 1; /* timestamps strictly increase: the record before */
    ck_assert_int_eq(djs_restore(bk, sub(tu_tmpdir(), "t"), &o, &rr), 0);
    ck_assert_uint_eq(rr.seq, n - 1);
    o.to_time_ns = UINT64_MAX; /* after everything: the whole backup, no cut */
    ck_assert_int_eq(djs_restore(bk, sub(tu_tmpdir(), "t"), &o, &rr), 0);
    ck_assert_uint_eq(rr.seq, br.seq);
    ck_assert(!rr.cut);
    o.to_time_ns = 1;
    ck_assert_int_eq(djs_restore(bk, sub(tu_tmpdir(), "t"), &o, &rr), DJS_ERANGE);
    o.to_seq = 3;
    ck_assert_int_eq(djs_restore(bk, sub(tu_tmpdir(), "t"), &o, &rr), DJS_EINVAL);
}
END_TEST

/* Copy a backup directory (plain files). */
static const char *copy_backup(const char *bk)
{
    const char *to = sub(tu_tmpdir(), "bkcopy");
    ck_assert_int_eq(mkdir(to, 0700), 0);
    const char *names[] = {"data.mdb", SECRET, "manifest.json"};
    for (int i = 0; i < 3; i++) {
        size_t len;
        uint8_t *d = tu_read_file(sub(bk, names[i]), &len);
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(tu_write_file(sub(to, names[i]), d, len), 0);
        free(d);
    }
    return to;
}

static void expect_refused(const char *bk, int want, const char *needle)
{
    const char *parent = tu_tmpdir(), *dir = sub(parent, "never");
    djs_restore_report_t rr;
    int rc = restore_to(bk, dir, 0, &rr);
    ck_assert_msg(rc == want, "restore gave %s (%s), want %s", djs_err_name(rc), rr.detail, djs_err_name(want));
    ck_assert_msg(strstr(rr.detail, needle) != NULL, "'%s' does not say '%s'", rr.detail, needle);
    ck_assert_int_eq(entries_in(parent), 0);
}

static void edit_manifest(const char *bk, const char *from, const char *to)
{
    size_t len;
    uint8_t *raw = tu_read_file(sub(bk, "manifest.json"), &len);
    ck_assert_ptr_nonnull(raw);
    char *m = calloc(1, len + 1);
    memcpy(m, raw, len);
    free(raw);
    char *at = strstr(m, from);
    ck_assert_ptr_nonnull(at);
    char out[8192];
    int n = snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - m), m, to, at + strlen(from));
    ck_assert_int_eq(tu_write_file(sub(bk, "manifest.json"), out, (size_t)n), 0);
    free(m);
}

START_TEST(bad_backups_are_refused)
{
    et_t t;
    make_source(&t);
    const char *bk = sub(tu_tmpdir(), "bk");
    djs_backup_report_t br;
    backup_of(t.dir, bk, NULL, &br);

    /* a byte of the log changed */
    const char *c = copy_backup(bk);
    size_t len;
    uint8_t *d = tu_read_file(sub(c, "data.mdb"), &len);
    d[len / 2] ^= 1;
    ck_assert_int_eq(tu_write_file(sub(c, "data.mdb"), d, len), 0);
    free(d);
    expect_refused(c, DJS_ECORRUPT, "does not match the manifest");

    /* the secret changed, or missing */
    c = copy_backup(bk);
    ck_assert_int_eq(tu_write_file(sub(c, SECRET), "0123456789abcdef0123456789abcdeX", 32), 0);
    expect_refused(c, DJS_ECORRUPT, "(the secret) does not match");
    unlink(sub(c, SECRET));
    expect_refused(c, DJS_ENOTFOUND, "(the secret) is listed in the manifest but cannot be read");

    /* no manifest: incomplete */
    c = copy_backup(bk);
    unlink(sub(c, "manifest.json"));
    expect_refused(c, DJS_ENOTFOUND, "incomplete backup");

    /* manifest damaged: not JSON, a key of the wrong type, another version */
    c = copy_backup(bk);
    edit_manifest(c, "\"files\"", "\"files\" ::");
    expect_refused(c, DJS_ECORRUPT, "not valid JSON");
    c = copy_backup(bk);
    edit_manifest(c, "\"seq\": ", "\"seq\": \"x\", \"no\": ");
    expect_refused(c, DJS_ECORRUPT, "\"seq\"");
    c = copy_backup(bk);
    edit_manifest(c, "\"version\": 1", "\"version\": 99");
    expect_refused(c, DJS_EVERSION, "version 99");
    c = copy_backup(bk);
    edit_manifest(c, "\"name\": \"jwt.secret\"", "\"name\": \"../jwt.secret\"");
    expect_refused(c, DJS_ECORRUPT, "plain name");

    /* the target holds a log, or anything */
    const char *dir = sub(tu_tmpdir(), "full");
    djs_restore_report_t rr;
    ck_assert_int_eq(restore_to(bk, dir, 0, &rr), 0);
    ck_assert_int_eq(restore_to(bk, dir, 0, &rr), DJS_EEXISTS);
    ck_assert_ptr_nonnull(strstr(rr.detail, "already holds a log"));
    dir = sub(tu_tmpdir(), "other");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(tu_write_file(sub(dir, "x"), "x", 1), 0);
    ck_assert_int_eq(restore_to(bk, dir, 0, &rr), DJS_EEXISTS);
    ck_assert_ptr_nonnull(strstr(rr.detail, "not empty"));
    /* an empty directory is fine */
    dir = sub(tu_tmpdir(), "empty");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(restore_to(bk, dir, br.seq - 3, &rr), 0);
    ck_assert_int_eq(entries_in(dir), 2); /* data.mdb and the secret, no temporary directory */
    djs_verify_report_t vr;
    verify_ok(dir, &vr);
    ck_assert_uint_eq(vr.last_seq, br.seq - 3);
    /* points outside the backup */
    ck_assert_int_eq(restore_to(bk, sub(tu_tmpdir(), "far"), br.seq + 1, &rr), DJS_ERANGE);

    /* a backup goes into a new or empty directory only */
    djs_log_t *log = open_ro(t.dir);
    djs_backup_report_t b2;
    ck_assert_int_eq(djs_backup_run(log, bk, NULL, &b2), DJS_EEXISTS);
    djs_log_close(log);
}
END_TEST

/* A source whose log does not verify gives no backup: the copy is left
 * without a manifest, and restore calls it incomplete. */
START_TEST(unverified_copy_gets_no_manifest)
{
    et_t t;
    make_source(&t);
    size_t len;
    uint8_t *d = tu_read_file(sub(t.dir, "data.mdb"), &len);
    ck_assert_ptr_nonnull(d);
    const char *marker = "marker-in-record-5";
    int hits = 0;
    for (uint8_t *p = d, *hit; (hit = memmem(p, len - (size_t)(p - d), marker, strlen(marker))) != NULL; p = hit + 1, hits++)
        hit[3] ^= 0x20;
    ck_assert_int_gt(hits, 0);
    ck_assert_int_eq(tu_write_file(sub(t.dir, "data.mdb"), d, len), 0);
    free(d);
    const char *bk = sub(tu_tmpdir(), "bk");
    djs_log_t *log = open_ro(t.dir);
    djs_backup_report_t br;
    int rc = djs_backup_run(log, bk, NULL, &br);
    djs_log_close(log);
    ck_assert_int_eq(rc, DJS_ECHAIN);
    ck_assert_msg(strstr(br.detail, "does not verify") != NULL, "%s", br.detail);
    struct stat st;
    ck_assert_int_ne(stat(sub(bk, "manifest.json"), &st), 0);
    expect_refused(bk, DJS_ENOTFOUND, "incomplete backup");
}
END_TEST

/* An archived log (it starts after a base record): backed up and restored
 * with its base; a point after the base is cut as usual, one before it is
 * DJS_EARCHIVED. */
START_TEST(archived_log_round_trip)
{
    et_t t;
    make_source(&t);
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.tool = 1;
    djs_log_t *log = NULL;
    ck_assert_int_eq(djs_log_open(&log, t.dir, &lo), 0);
    uint64_t base = 0;
    djs_buf_t b;
    djs_buf_init(&b);
    ck_assert_int_eq(djs_log_get_snapshot(log, UINT64_MAX, &base, &b), 0);
    djs_buf_dispose(&b);
    ck_assert_uint_gt(base, 10);
    ck_assert_int_eq(djs_log_archive_cut(log, base, NULL, NULL), 0);
    ck_assert_uint_eq(djs_log_first_seq(log), base + 1);
    djs_log_close(log);

    const char *bk = sub(tu_tmpdir(), "bk");
    djs_backup_report_t br;
    backup_of(t.dir, bk, NULL, &br);
    ck_assert_uint_eq(br.first_seq, base + 1);
    djs_backup_manifest_t m;
    ck_assert_int_eq(djs_backup_check(bk, &m, NULL, 0), 0);
    ck_assert_uint_eq(m.first_seq, base + 1);
    djs_restore_report_t rr;
    const char *dir = sub(tu_tmpdir(), "whole");
    ck_assert_int_eq(restore_to(bk, dir, 0, &rr), 0);
    ck_assert_uint_eq(rr.seq, br.seq);
    log = open_ro(dir);
    ck_assert_uint_eq(djs_log_first_seq(log), base + 1);
    djs_log_close(log);

    uint64_t n = base + (br.seq - base) / 2;
    ck_assert_int_eq(restore_to(bk, sub(tu_tmpdir(), "cut"), n, &rr), 0);
    uint8_t want[32];
    digest_at(t.dir, n, want);
    ck_assert_mem_eq(rr.digest, want, 32);
    ck_assert_int_eq(restore_to(bk, sub(tu_tmpdir(), "before"), base - 1, &rr), DJS_EARCHIVED);
    ck_assert_ptr_nonnull(strstr(rr.detail, "archived"));
}
END_TEST

typedef struct hot {
    djs_log_t *log;
    const char *dest;
    djs_backup_report_t rep;
    int rc;
} hot_t;

static void *hot_backup(void *arg)
{
    hot_t *h = arg;
    h->rc = djs_backup_run(h->log, h->dest, NULL, &h->rep);
    return NULL;
}

/* djs_backup_run on the writer's own handle from another thread while the
 * writer keeps appending (the benchmark's case): the copy is a verified
 * prefix of the log. */
START_TEST(hot_backup_beside_a_writer)
{
    et_t t;
    et_open(&t, NULL);
    workload(&t);
    hot_t h = {.log = t.log, .dest = sub(tu_tmpdir(), "hot")};
    uint64_t before = djs_log_last_seq(t.log);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, hot_backup, &h), 0);
    for (int i = 0; i < 3000; i++) {
        et_job(&t, "hot", 1);
        et_advance(&t, ET_MS);
        if (i % 100 == 0)
            et_sync(&t);
    }
    et_sync(&t);
    pthread_join(th, NULL);
    ck_assert_msg(h.rc == 0, "hot backup: %s", h.rep.detail);
    ck_assert_uint_ge(h.rep.seq, before);
    ck_assert_uint_le(h.rep.seq, djs_log_last_seq(t.log));
    uint64_t seq = h.rep.seq;
    uint8_t head[32];
    memcpy(head, h.rep.head, 32);
    et_close(&t);
    uint8_t d[32];
    digest_at(t.dir, seq, d);
    ck_assert_mem_eq(h.rep.digest, d, 32);
    djs_log_t *log = open_ro(t.dir);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_event_t ev;
    ck_assert_int_eq(djs_log_get(log, seq, &b), 0);
    ck_assert_int_eq(djs_event_decode(b.base, b.len, &ev), 0);
    ck_assert_mem_eq(ev.hash, head, 32);
    djs_buf_dispose(&b);
    djs_log_close(log);
}
END_TEST

static Suite *backup_suite(void)
{
    Suite *s = suite_create("backup");
    TCase *tc = tcase_create("backup");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip_keeps_seq_head_digest_and_secret);
    tcase_add_test(tc, cut_at_n_is_the_state_at_n);
    tcase_add_test(tc, to_time_is_the_last_record_at_or_before);
    tcase_add_test(tc, bad_backups_are_refused);
    tcase_add_test(tc, unverified_copy_gets_no_manifest);
    tcase_add_test(tc, archived_log_round_trip);
    tcase_add_test(tc, hot_backup_beside_a_writer);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(backup_suite)
