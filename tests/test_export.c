/* replay/export and replay/import: a log with workflows, retries, a cancel,
 * output chunks (one crossing the cap, with its marker) and enough
 * heartbeats to span several read chunks, exported in both encodings,
 * imported, compared record by record and byte by byte, re-exported
 * identically; then tampered, broken, truncated and filtered exports,
 * each refused with its line or item named and nothing left behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "enginetest.h"
#include "projections/rebuild.h"
#include "projections/snapshot.h"
#include "replay/export.h"
#include "replay/import.h"
#include "replay/verify.h"

typedef struct src {
    et_t t;
    djs_id_t jobs[8];
    int njobs;
    uint8_t digest[32];
    uint64_t last;
} src_t;

static uint8_t big[300000];

static void run_job(et_t *t, const djs_id_t *w, const djs_id_t *j, const uint8_t *out, size_t n, int fail, int line)
{
    uint64_t seq, recv;
    const djs_job_t *jp = et_jobp(t, j);
    if (jp == NULL || jp->state != DJS_JOB_SCHEDULED)
        ck_abort_msg("line %d: job in state %d, not scheduled", line, jp ? jp->state : -1);
    uint32_t att = jp->attempt;
    REQ_RC(djs_engine_start(t->e, w, j, att, &seq), 0);
    for (size_t off = 0; off < n;) {
        size_t k = n - off > DJS_LOG_MAX_OUTPUT_CHUNK ? DJS_LOG_MAX_OUTPUT_CHUNK : n - off;
        REQ_RC(djs_engine_output(t->e, w, j, att, off, out + off, k, &seq, &recv), 0);
        off += k;
    }
    et_advance(t, ET_MS);
    if (fail)
        REQ_RC(djs_engine_fail(t->e, w, j, att, ET_S("exit 1"), &seq), 0);
    else
        REQ_RC(djs_engine_complete(t->e, w, j, att, NULL, 0, &seq), 0);
}

static void build(src_t *s)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 3;
    cfg.output_cap = 280000; /* the second big chunk crosses it: kept part + marker in one event */
    et_t *t = &s->t;
    et_open(t, &cfg);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + i / 251);
    djs_id_t w = et_worker(t, "w1", 4);
    djs_job_request_t r;
    djs_id_t a = et_job(t, "extract", DJS_PRIO_NORMAL), b, f, c;
    et_req(&r, "transform", DJS_PRIO_NORMAL);
    r.dep_ids = &a;
    r.ndep_ids = 1;
    REQ_RC(et_submit_req(t, &r, &b), 0);
    et_req(&r, "flaky", DJS_PRIO_HIGH);
    r.spec.max_retries = 2;
    REQ_RC(et_submit_req(t, &r, &f), 0);
    c = et_job(t, "cancel-me", DJS_PRIO_LOW);
    uint64_t seq;
    REQ_RC(djs_engine_cancel(t->e, "admin", &c, &seq), 0);
    et_run(t);
    run_job(t, &w, &a, (const uint8_t *)"hello\n", 6, 0, __LINE__);
    run_job(t, &w, &f, big, 1000, 1, __LINE__); /* fails, retried later */
    et_run(t);
    run_job(t, &w, &b, big, sizeof(big), 0, __LINE__);
    for (int i = 0; i < 4200; i++) { /* more than one read chunk (8,192 records) */
        djs_id_t k = et_job(t, "short-lived", DJS_PRIO_LOW);
        REQ_RC(djs_engine_cancel(t->e, "bob", &k, &seq), 0);
    }
    for (int i = 0; i < 30; i++) { /* past the retry's backoff, the worker kept alive */
        et_advance(t, 2 * ET_SEC);
        REQ_RC(djs_engine_heartbeat(t->e, &w, 100, 200, 3, &seq), 0);
        et_run(t);
    }
    run_job(t, &w, &f, (const uint8_t *)"second try\n", 11, 0, __LINE__);
    et_sync(t);
    s->jobs[0] = a, s->jobs[1] = b, s->jobs[2] = f, s->jobs[3] = c;
    s->njobs = 4;
    s->last = djs_log_last_seq(t->log);
    djs_state_t *st;
    REQ_RC(djs_state_rebuild(t->log, NULL, s->last, &st, NULL), 0);
    djs_state_digest(st, s->digest);
    djs_state_free(st);
}

static void export_to(djs_log_t *log, const djs_export_options_t *o, const char *path, djs_export_report_t *rep)
{
    FILE *f = fopen(path, "w");
    REQ(f != NULL);
    int rc = djs_export(log, o, f, rep);
    if (rc != 0)
        ck_abort_msg("export: %s (%s)", rep->detail, djs_err_name(rc));
    REQ(fclose(f) == 0);
}

static int import_from(const char *path, const char *newdir, djs_import_report_t *rep)
{
    FILE *f = fopen(path, "r");
    REQ(f != NULL);
    int rc = djs_import(f, newdir, NULL, rep);
    fclose(f);
    return rc;
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

/* Nothing named NAME or NAME.tmp-* in dir's parent. */
static int left_behind(const char *newdir)
{
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", newdir);
    char *slash = strrchr(parent, '/');
    const char *base = slash + 1;
    *slash = '\0';
    DIR *d = opendir(parent);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, base, strlen(base)) == 0;
    closedir(d);
    return n;
}

static void same_logs(src_t *s, djs_log_t *b)
{
    djs_log_t *a = s->t.log;
    djs_buf_t x, y;
    djs_buf_init(&x);
    djs_buf_init(&y);
    REQ_EQ(djs_log_last_seq(b), s->last);
    for (uint64_t seq = 1; seq <= s->last; seq++) {
        djs_buf_reset(&x);
        djs_buf_reset(&y);
        REQ_RC(djs_log_get(a, seq, &x), 0);
        REQ_RC(djs_log_get(b, seq, &y), 0);
        REQ(x.len == y.len && memcmp(x.base, y.base, x.len) == 0);
    }
    for (int i = 0; i < s->njobs; i++) {
        uint64_t na, nb;
        djs_buf_reset(&x);
        djs_buf_reset(&y);
        REQ_RC(djs_log_read_output(a, &s->jobs[i], 0, 1u << 20, &x, &na), 0);
        REQ_RC(djs_log_read_output(b, &s->jobs[i], 0, 1u << 20, &y, &nb), 0);
        REQ_EQ(na, nb);
        REQ(x.len == y.len && memcmp(x.base, y.base, x.len) == 0);
    }
    djs_buf_dispose(&x);
    djs_buf_dispose(&y);
}

static void round_trip(djs_export_format_t format)
{
    src_t *s = calloc(1, sizeof(*s));
    build(s);
    const char *dir = tu_tmpdir();
    char file[4200], file2[4200], newdir[4200];
    snprintf(file, sizeof(file), "%s/export", dir);
    snprintf(file2, sizeof(file2), "%s/export2", dir);
    snprintf(newdir, sizeof(newdir), "%s/imported", dir);
    djs_export_options_t o;
    djs_export_options_init(&o);
    o.format = format;
    djs_export_report_t er, er2;
    export_to(s->t.log, &o, file, &er);
    ck_assert_uint_eq(er.events, s->last);
    ck_assert_int_eq(er.complete, 1);
    ck_assert_uint_eq(er.chunks, 5);                            /* hello, flaky's 1000, two big ones, the second try */
    ck_assert_uint_gt(er.output_bytes, 6 + 1000 + 280000 + 11); /* the cap's bytes and the marker */
    ck_assert_uint_lt(er.output_bytes, 6 + 1000 + 280000 + 11 + 200);
    djs_import_report_t ir;
    int rc = import_from(file, newdir, &ir);
    if (rc != 0)
        ck_abort_msg("import: %s (%s)", ir.detail, djs_err_name(rc));
    ck_assert_uint_eq(ir.events, s->last);
    ck_assert_uint_eq(ir.chunks, er.chunks);
    ck_assert_int_eq(memcmp(ir.digest, s->digest, 32), 0);
    ck_assert_int_eq(memcmp(ir.head, er.head, 32), 0);
    ck_assert_int_eq(left_behind(newdir), 1); /* newdir itself, no .tmp- */
    djs_log_t *b = open_ro(newdir);
    same_logs(s, b);
    djs_verify_report_t vr;
    ck_assert_int_eq(djs_verify_log(b, &vr, NULL, NULL), 0);
    uint64_t sseq;
    djs_buf_t snap;
    djs_buf_init(&snap);
    ck_assert_int_eq(djs_log_get_snapshot(b, UINT64_MAX, &sseq, &snap), 0); /* a fresh snapshot at the end */
    ck_assert_uint_eq(sseq, s->last);
    djs_buf_dispose(&snap);
    uint8_t vh[DJS_HASH_LEN]; /* and a verified checkpoint: a server's start-up check begins there */
    ck_assert_int_eq(djs_log_get_verified(b, &sseq, vh), 0);
    ck_assert_uint_eq(sseq, s->last);
    ck_assert_int_eq(memcmp(vh, er.head, DJS_HASH_LEN), 0);
    export_to(b, &o, file2, &er2); /* re-export: byte for byte the same file */
    size_t n1, n2;
    uint8_t *d1 = tu_read_file(file, &n1), *d2 = tu_read_file(file2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_int_eq(memcmp(d1, d2, n1), 0);
    free(d1);
    free(d2);
    djs_log_close(b);
    et_close(&s->t);
    free(s);
}

START_TEST(round_trip_jsonl)
{
    round_trip(DJS_EXPORT_JSONL);
}
END_TEST

START_TEST(round_trip_msgpack)
{
    round_trip(DJS_EXPORT_MSGPACK);
}
END_TEST

/* ---- bad input -------------------------------------------------------------- */

typedef struct bad {
    src_t *s;
    char dir[4096], file[4200], newdir[4200], variant[4200];
    uint8_t *data;
    size_t len;
} bad_t;

static void bad_open(bad_t *x, djs_export_format_t format)
{
    memset(x, 0, sizeof(*x));
    x->s = calloc(1, sizeof(*x->s));
    build(x->s);
    snprintf(x->dir, sizeof(x->dir), "%s", tu_tmpdir());
    snprintf(x->file, sizeof(x->file), "%s/export", x->dir);
    snprintf(x->newdir, sizeof(x->newdir), "%s/new", x->dir);
    snprintf(x->variant, sizeof(x->variant), "%s/variant", x->dir);
    djs_export_options_t o;
    djs_export_options_init(&o);
    o.format = format;
    djs_export_report_t er;
    export_to(x->s->t.log, &o, x->file, &er);
    x->data = tu_read_file(x->file, &x->len);
}

static void bad_close(bad_t *x)
{
    et_close(&x->s->t);
    free(x->s);
    free(x->data);
}

/* Import data[0..n) and expect err with `where` in the detail and no log. */
static void refused(bad_t *x, const uint8_t *p, size_t n, int err, const char *where)
{
    REQ(tu_write_file(x->variant, p, n) == 0);
    djs_import_report_t ir;
    int rc = import_from(x->variant, x->newdir, &ir);
    if (rc != err || strstr(ir.detail, where) == NULL)
        ck_abort_msg("want %s at \"%s\", got %s: %s", djs_err_name(err), where, djs_err_name(rc), ir.detail);
    struct stat st;
    ck_assert_int_ne(stat(x->newdir, &st), 0);
    ck_assert_int_eq(left_behind(x->newdir), 0);
}

/* The byte offset where line k (1-based) starts. */
static size_t line_at(const bad_t *x, int k)
{
    size_t off = 0;
    for (int i = 1; i < k; i++)
        off = (size_t)((const uint8_t *)memchr(x->data + off, '\n', x->len - off) - x->data) + 1;
    return off;
}

START_TEST(jsonl_tampered_broken_truncated)
{
    bad_t x;
    bad_open(&x, DJS_EXPORT_JSONL);
    uint8_t *v = malloc(x.len);
    size_t l4 = line_at(&x, 4), l5 = line_at(&x, 5);

    /* a rec altered inside (its record no longer chains, or no longer decodes) */
    memcpy(v, x.data, x.len);
    char *rec = strstr((char *)v + l4, "\"rec\":\"") + 7 + 40;
    *rec = *rec == 'A' ? 'B' : 'A';
    REQ(tu_write_file(x.variant, v, x.len) == 0);
    djs_import_report_t ir;
    int rc = import_from(x.variant, x.newdir, &ir);
    ck_assert_msg(rc != 0 && strstr(ir.detail, "line 4:") != NULL, "%s: %s", djs_err_name(rc), ir.detail);
    ck_assert_int_eq(left_behind(x.newdir), 0);

    /* the line's seq disagrees with its rec */
    memcpy(v, x.data, x.len);
    ck_assert_int_eq(memcmp(v + l4, "{\"seq\":3,", 9), 0);
    v[l4 + 7] = '4';
    refused(&x, v, x.len, DJS_ECORRUPT, "line 4: the line says seq 4 but its rec is record 3");

    /* a record removed: the next one is out of place */
    memcpy(v, x.data, l4);
    memcpy(v + l4, x.data + l5, x.len - l5);
    refused(&x, v, x.len - (l5 - l4), DJS_ESEQGAP, "line 4: record 4 where 3 was expected");

    /* cut at a line boundary: no trailer; cut inside a line */
    size_t l100 = line_at(&x, 100);
    refused(&x, x.data, l100, DJS_ETRUNCATED, "without its trailer");
    refused(&x, x.data, l100 + 30, DJS_ETRUNCATED, "line 100: the line is cut short");
    refused(&x, x.data, x.len - 1, DJS_ETRUNCATED, "cut short"); /* only the last newline gone */

    /* the trailer's count altered */
    memcpy(v, x.data, x.len);
    char *ev = memmem(v, x.len, "\n{\"end\":\"djs-export\",\"events\":", 30);
    ev = ev != NULL ? ev + 1 : NULL;
    REQ(ev != NULL);
    ev[29] = ev[29] == '1' ? '2' : '1';
    refused(&x, v, x.len, DJS_ECORRUPT, "the trailer counts");

    /* not an export at all; garbage after the trailer */
    refused(&x, (const uint8_t *)"{\"hello\":1}\n", 12, DJS_EINVAL, "line 1: not an export item");
    memcpy(v, x.data, x.len);
    free(v);
    v = malloc(x.len + 20);
    memcpy(v, x.data, x.len);
    memcpy(v + x.len, "{\"format\":\"x\"}\n", 15);
    refused(&x, v, x.len + 15, DJS_EINVAL, "data after the trailer");

    /* the readable fields are the rendering; rec is the record: an edited
     * body text (seq, type and hash intact) imports rec as it is */
    memcpy(v, x.data, x.len);
    char *name = strstr((char *)v + l4, "\"name\":\"transform\"");
    REQ(name != NULL);
    memcpy(name + 8, "TRANSFORM", 9);
    REQ(tu_write_file(x.variant, v, x.len) == 0);
    rc = import_from(x.variant, x.newdir, &ir);
    ck_assert_msg(rc == 0, "%s", ir.detail);
    djs_log_t *b = open_ro(x.newdir);
    same_logs(x.s, b);
    djs_log_close(b);
    tu_rmtree(x.newdir);
    free(v);

    /* the intact file still imports: the refusals left nothing in the way */
    rc = import_from(x.file, x.newdir, &ir);
    ck_assert_msg(rc == 0, "%s", ir.detail);
    /* ... and a second import into the same directory is refused */
    rc = import_from(x.file, x.newdir, &ir);
    ck_assert_int_eq(rc, DJS_EEXISTS);
    ck_assert_ptr_nonnull(strstr(ir.detail, "already holds a log"));
    bad_close(&x);
}
END_TEST

START_TEST(msgpack_tampered_truncated)
{
    bad_t x;
    bad_open(&x, DJS_EXPORT_MSGPACK);
    uint8_t *v = malloc(x.len);
    memcpy(v, x.data, x.len);
    uint8_t *r3 = memmem(v, x.len, "\x98\x01\x03", 3); /* record 3: array of 8, version 1, seq 3 */
    REQ(r3 != NULL);
    r3[3 + 9 + 1 + 3] ^= 0x01; /* type, ts, then a byte of the actor */
    djs_import_report_t ir;
    REQ(tu_write_file(x.variant, v, x.len) == 0);
    int rc = import_from(x.variant, x.newdir, &ir);
    ck_assert_msg(rc != 0 && strstr(ir.detail, "item 4 (byte") != NULL, "%s: %s", djs_err_name(rc), ir.detail);
    ck_assert_int_eq(left_behind(x.newdir), 0);
    refused(&x, x.data, x.len / 2, DJS_ETRUNCATED, "cut short");
    refused(&x, x.data, x.len - 3, DJS_ETRUNCATED, "cut short"); /* inside the trailer */
    free(v);
    bad_close(&x);
}
END_TEST

START_TEST(filtered_exports_read_not_imported)
{
    src_t *s = calloc(1, sizeof(*s));
    build(s);
    const char *dir = tu_tmpdir();
    char file[4200], newdir[4200];
    snprintf(file, sizeof(file), "%s/export", dir);
    snprintf(newdir, sizeof(newdir), "%s/new", dir);
    djs_export_options_t o;
    djs_export_report_t er;
    djs_import_report_t ir;
    for (int k = 0; k < 4; k++) {
        djs_export_options_init(&o);
        o.format = k % 2 ? DJS_EXPORT_MSGPACK : DJS_EXPORT_JSONL;
        if (k < 2) {
            o.types[o.ntypes++] = DJS_EV_JOB_OUTPUT;
            o.types[o.ntypes++] = DJS_EV_JOB_SUBMITTED;
        } else {
            o.from_seq = 5;
        }
        export_to(s->t.log, &o, file, &er);
        ck_assert_int_eq(er.complete, 0);
        if (k < 2) {
            ck_assert_uint_eq(er.events, 5 + 4 + 4200); /* 5 output records and the submits */
            ck_assert_uint_eq(er.chunks, 5);
        } else {
            ck_assert_uint_eq(er.events, s->last - 4);
        }
        ck_assert_int_eq(import_from(file, newdir, &ir), DJS_EINVAL);
        ck_assert_ptr_nonnull(strstr(ir.detail, "a filtered export"));
        ck_assert_int_eq(left_behind(newdir), 0);
    }
    /* one job's history */
    djs_export_options_init(&o);
    o.has_entity = 1;
    o.entity = s->jobs[2]; /* flaky: submitted, scheduled, started, output, failed, ..., succeeded */
    o.to_seq = s->last;
    export_to(s->t.log, &o, file, &er);
    size_t n;
    uint8_t *d = tu_read_file(file, &n);
    char id[DJS_ID_TEXT_LEN + 1];
    djs_id_format(&s->jobs[2], id);
    int lines = 0, records = 0;
    for (char *p = (char *)d; p < (char *)d + n; p = strchr(p, '\n') + 1, lines++)
        records += strncmp(p, "{\"seq\":", 7) == 0;
    ck_assert_uint_eq(records, er.events);
    ck_assert_int_eq(lines, records + 2 + (int)er.chunks);
    ck_assert_uint_ge(er.events, 8);
    free(d);
    /* a range outside the log */
    djs_export_options_init(&o);
    o.from_seq = s->last + 5;
    FILE *f = fopen(file, "w");
    ck_assert_int_eq(djs_export(s->t.log, &o, f, &er), DJS_EINVAL);
    fclose(f);
    et_close(&s->t);
    free(s);
}
END_TEST

START_TEST(bench_hooks_empty_log_and_missing_output)
{
    /* the fd entry points the benchmark calls, on an empty log */
    const char *dir = tu_tmpdir();
    char src[4200], file[4200], newdir[4200];
    snprintf(src, sizeof(src), "%s/src", dir);
    snprintf(file, sizeof(file), "%s/export", dir);
    snprintf(newdir, sizeof(newdir), "%s/new", dir);
    djs_log_t *log;
    REQ_RC(djs_log_open(&log, src, NULL), 0);
    djs_export_options_t o;
    djs_export_options_init(&o);
    o.format = DJS_EXPORT_MSGPACK;
    djs_export_report_t er;
    FILE *f = fopen(file, "w");
    ck_assert_int_eq(djs_export_fd(log, &o, fileno(f), &er), 0);
    fclose(f);
    ck_assert_uint_eq(er.events, 0);
    ck_assert_int_eq(er.complete, 1);
    djs_log_close(log);
    f = fopen(file, "r");
    djs_import_report_t ir;
    int rc = djs_import_fd(fileno(f), newdir, NULL, &ir);
    fclose(f);
    ck_assert_msg(rc == 0, "%s", ir.detail);
    ck_assert_uint_eq(ir.events, 0);
    log = open_ro(newdir);
    ck_assert_uint_eq(djs_log_last_seq(log), 0);
    djs_log_close(log);

    /* output bytes gone from the source: the export names the record */
    src_t *s = calloc(1, sizeof(*s));
    build(s);
    REQ_RC(djs_log_drop_output(s->t.log, &s->jobs[1], 100000), 0); /* transform's big output, from its middle */
    o.format = DJS_EXPORT_JSONL;
    f = fopen(file, "w");
    rc = djs_export(s->t.log, &o, f, &er);
    fclose(f);
    ck_assert_int_eq(rc, DJS_ECORRUPT);
    ck_assert_uint_gt(er.bad_seq, 0);
    ck_assert_msg(strstr(er.detail, "output bytes at offset") != NULL, "%s", er.detail);
    et_close(&s->t);
    free(s);
}
END_TEST

START_TEST(archived_log_exports_but_does_not_import)
{
    src_t *s = calloc(1, sizeof(*s));
    build(s);
    const char *dir = tu_tmpdir();
    char file[4200], newdir[4200];
    snprintf(file, sizeof(file), "%s/export", dir);
    snprintf(newdir, sizeof(newdir), "%s/new", dir);
    uint64_t base = 20;
    djs_state_t *st;
    REQ_RC(djs_state_rebuild(s->t.log, NULL, base, &st, NULL), 0);
    djs_buf_t snap;
    djs_buf_init(&snap);
    djs_state_snapshot(st, &snap);
    djs_state_free(st);
    REQ_RC(djs_log_store_snapshot(s->t.log, base, snap.base, snap.len), 0);
    djs_buf_dispose(&snap);
    REQ_RC(djs_log_archive_cut(s->t.log, base, NULL, NULL), 0);
    djs_export_options_t o;
    djs_export_options_init(&o);
    djs_export_report_t er;
    export_to(s->t.log, &o, file, &er);
    ck_assert_uint_eq(er.first_seq, base + 1);
    ck_assert_int_eq(er.complete, 1);
    size_t n;
    char *d = (char *)tu_read_file(file, &n);
    ck_assert_ptr_nonnull(strstr(d, "\"base\":{\"seq\":20,"));
    free(d);
    o.from_seq = 3; /* archived */
    FILE *f = fopen(file, "w");
    ck_assert_int_eq(djs_export(s->t.log, &o, f, &er), DJS_EARCHIVED);
    fclose(f);
    o.from_seq = 0;
    export_to(s->t.log, &o, file, &er);
    djs_import_report_t ir;
    ck_assert_int_eq(import_from(file, newdir, &ir), DJS_EINVAL);
    ck_assert_msg(strstr(ir.detail, "an export of an archived log") != NULL, "%s", ir.detail);
    ck_assert_int_eq(left_behind(newdir), 0);
    et_close(&s->t);
    free(s);
}
END_TEST

static Suite *export_suite(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("export");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, round_trip_jsonl);
    tcase_add_test(tc, round_trip_msgpack);
    tcase_add_test(tc, jsonl_tampered_broken_truncated);
    tcase_add_test(tc, msgpack_tampered_truncated);
    tcase_add_test(tc, filtered_exports_read_not_imported);
    tcase_add_test(tc, bench_hooks_empty_log_and_missing_output);
    tcase_add_test(tc, archived_log_exports_but_does_not_import);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(export_suite)
