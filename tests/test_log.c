/* The event log (eventlog/log.h): open/reopen, appends and reads, scans,
 * time lookups, durable callbacks and tails on a loop, group commit, map
 * growth, fail-stop, read-only handles in other processes, hot backup. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/error.h"
#include "core/event.h"
#include "core/id.h"
#include "eventlog/log.h"
#include "logtest.h"
#include "testutil.h"

/* ---- helpers --------------------------------------------------------------- */

/* dir/name in static storage (a few per test; each test is its own process) */
static char *path_join(const char *dir, const char *name)
{
    static char pool[32][1024];
    static int used;
    ck_assert_int_lt(used, 32);
    char *p = pool[used++];
    snprintf(p, sizeof(pool[0]), "%s/%s", dir, name);
    return p;
}

static djs_log_t *open_ok(const char *dir, const djs_log_options_t *opts)
{
    djs_log_t *log = NULL;
    int rc = djs_log_open(&log, dir, opts);
    ck_assert_msg(rc == 0, "djs_log_open(%s): %s", dir, djs_err_name(rc));
    return log;
}

/* Append n events (entity cycling over `entities` ids, 0 = all nil) and sync. */
static void append_n(djs_log_t *log, uint64_t n, unsigned entities, size_t pad)
{
    uint64_t base = djs_log_last_seq(log);
    for (uint64_t i = 0; i < n; i++) {
        djs_id_t e = lt_entity((unsigned)(i % (entities ? entities : 1)) + 1);
        djs_event_t ev;
        ck_assert_int_eq(lt_append(log, entities ? &e : NULL, base + i + 1, pad, &ev), 0);
        ck_assert_uint_eq(ev.seq, base + i + 1);
    }
    ck_assert_int_eq(djs_log_sync(log), 0);
}

static uint64_t verify_body(djs_log_t *log, int check_body)
{
    lt_verify_t v = {.check_body = check_body};
    int e = lt_verify_log(log, &v);
    ck_assert_msg(e == LT_OK, "log check: %s at seq %llu", lt_what(e), (unsigned long long)v.err_seq);
    uint64_t bad = 0;
    e = lt_check_index(log, v.with_entity, &bad);
    ck_assert_msg(e == LT_OK, "entity index check failed (seq %llu)", (unsigned long long)bad);
    return v.next - 1;
}

static uint64_t verify_ok(djs_log_t *log)
{
    return verify_body(log, 1);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
    return st.st_mode & 07777;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

typedef struct fake_clock {
    uint64_t now;
    uint64_t calls;
} fake_clock_t;

static uint64_t fake_now(void *arg)
{
    fake_clock_t *c = arg;
    c->calls++;
    return c->now;
}

static uint64_t rng_state[2];
static void rng_init(uint64_t seed)
{
    djs_rand_seed(rng_state, seed);
}
static uint64_t rnd(uint64_t n)
{
    return djs_rand_next(rng_state) % n;
}

/* Collects the seqs a scan visits. */
typedef struct collect {
    uint64_t *seqs;
    size_t n, cap;
    uint64_t stop_at; /* return stop_val when visiting this seq */
    int stop_val;
    djs_id_t entity; /* records must carry it (when check_entity) */
    int check_entity;
    int bad;
} collect_t;

static int collect_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    collect_t *c = arg;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0 || ev.seq != seq)
        c->bad++;
    else if (c->check_entity && djs_id_cmp(&ev.entity, &c->entity) != 0)
        c->bad++;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->seqs = realloc(c->seqs, c->cap * sizeof(uint64_t));
    }
    c->seqs[c->n++] = seq;
    if (c->stop_at != 0 && seq == c->stop_at)
        return c->stop_val;
    return 0;
}

static void collect_reset(collect_t *c)
{
    free(c->seqs);
    memset(c, 0, sizeof(*c));
}

/* The scan visited exactly from..to (inclusive; none if from > to). */
static void assert_range(const collect_t *c, uint64_t from, uint64_t to)
{
    uint64_t want = from > to ? 0 : to - from + 1;
    ck_assert_msg(c->n == want, "visited %zu records, want %llu (%llu..%llu)", c->n, (unsigned long long)want,
                  (unsigned long long)from, (unsigned long long)to);
    for (size_t i = 0; i < c->n; i++)
        ck_assert_uint_eq(c->seqs[i], from + i);
    ck_assert_int_eq(c->bad, 0);
}

/* ---- open, reopen ------------------------------------------------------------ */

START_TEST(open_creates_private_dir_and_files)
{
    const char *base = tu_tmpdir();
    umask(022);
    char *dir = path_join(base, "log");
    djs_log_t *log = open_ok(dir, NULL);
    ck_assert_uint_eq(mode_of(dir), 0700);
    ck_assert_uint_eq(mode_of(path_join(dir, "data.mdb")), 0600);
    ck_assert_uint_eq(mode_of(path_join(dir, "lock.mdb")), 0600);
    ck_assert_str_eq(djs_log_dir(log), dir);
    ck_assert_uint_eq(djs_log_last_seq(log), 0);
    ck_assert_uint_eq(djs_log_durable_seq(log), 0);
    ck_assert_int_eq(djs_log_status(log), 0);
    djs_log_close(log);

    /* an existing, too open directory is tightened */
    char *dir2 = path_join(base, "open");
    ck_assert_int_eq(mkdir(dir2, 0755), 0);
    ck_assert_uint_eq(mode_of(dir2), 0755);
    log = open_ok(dir2, NULL);
    ck_assert_uint_eq(mode_of(dir2), 0700);
    ck_assert_uint_eq(mode_of(path_join(dir2, "data.mdb")), 0600);
    djs_log_close(log);

    /* a regular file where the directory should be */
    char *file = path_join(base, "file");
    ck_assert_int_eq(tu_write_file(file, "x", 1), 0);
    djs_log_t *bad = NULL;
    ck_assert_int_eq(djs_log_open(&bad, file, NULL), DJS_EINVAL);
    ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(reopen_resumes_seq_chain_and_clock)
{
    char *dir = path_join(tu_tmpdir(), "log");
    fake_clock_t clk = {.now = 5000000000ULL};
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.clock = fake_now;
    o.clock_arg = &clk;

    djs_log_t *log = open_ok(dir, &o);
    djs_event_t ev;
    djs_id_t e1 = lt_entity(1);
    for (uint64_t i = 1; i <= 5; i++) {
        ck_assert_int_eq(lt_append(log, &e1, i, 0, &ev), 0);
        ck_assert_uint_eq(ev.seq, i);
    }
    ck_assert_int_eq(djs_log_sync(log), 0);
    uint64_t last_ts = ev.ts_ns;
    uint8_t last_hash[DJS_HASH_LEN];
    memcpy(last_hash, ev.hash, DJS_HASH_LEN);
    ck_assert_uint_eq(last_ts, djs_log_last_ts(log));
    ck_assert_uint_ge(last_ts, clk.now);
    djs_log_close(log);

    /* the injected clock now runs an hour behind the last record */
    clk.now = 5000000000ULL - 3600000000000ULL / 1000;
    log = open_ok(dir, &o);
    ck_assert_uint_eq(djs_log_last_seq(log), 5);
    ck_assert_uint_eq(djs_log_durable_seq(log), 5);
    ck_assert_uint_eq(djs_log_last_ts(log), last_ts);
    ck_assert_uint_ge(djs_log_now(log), last_ts);

    uint64_t prev_ts = last_ts;
    for (uint64_t i = 6; i <= 8; i++) {
        ck_assert_int_eq(lt_append(log, &e1, i, 0, &ev), 0);
        ck_assert_uint_eq(ev.seq, i);
        ck_assert_uint_gt(ev.ts_ns, prev_ts);
        prev_ts = ev.ts_ns;
    }
    ck_assert_int_eq(djs_log_sync(log), 0);

    /* the first record after the reopen chains from the last one before it */
    djs_buf_t b;
    djs_buf_init(&b);
    ck_assert_int_eq(djs_log_get(log, 6, &b), 0);
    djs_event_t got;
    ck_assert_int_eq(djs_event_decode(b.base, b.len, &got), 0);
    uint8_t want[DJS_HASH_LEN];
    djs_event_chain(last_hash, b.base, b.len, want);
    ck_assert_mem_eq(got.hash, want, DJS_HASH_LEN);
    ck_assert_uint_gt(got.ts_ns, last_ts);
    djs_buf_dispose(&b);
    ck_assert_uint_eq(verify_ok(log), 8);
    djs_log_close(log);

    /* and once more with the real clock */
    log = open_ok(dir, NULL);
    ck_assert_uint_eq(djs_log_last_seq(log), 8);
    append_n(log, 2, 1, 0);
    ck_assert_uint_eq(verify_ok(log), 10);
    djs_log_close(log);
}
END_TEST

/* ---- append, get ------------------------------------------------------------- */

START_TEST(append_dense_seqs_and_get_roundtrip)
{
    enum { N = 1000 };
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_t *log = open_ok(dir, NULL);
    static char actor[DJS_EVENT_MAX_ACTOR + 1];
    memset(actor, 'a', sizeof(actor));
    static uint8_t body[20 + 3000];
    static uint64_t ts[N + 1];
    uint64_t prev_ts = 0;
    djs_buf_t b;
    djs_buf_init(&b);

    /* staged, not yet handed over (no loop, batch not full): not readable */
    djs_event_t ev = {.type = DJS_EV_SERVER_STARTED, .actor = "server", .actor_len = 6};
    ck_assert_int_eq(djs_log_append(log, &ev), 0);
    ck_assert_uint_eq(ev.seq, 1);
    ck_assert_int_eq(djs_log_get(log, 1, &b), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_int_eq(djs_log_get(log, 1, &b), 0);
    ck_assert_int_eq(djs_event_decode(b.base, b.len, &ev), 0);
    ck_assert_uint_eq(ev.type, DJS_EV_SERVER_STARTED);
    ck_assert_uint_eq(ev.body_len, 1); /* no body is stored as {} */
    ck_assert_uint_eq(ev.body[0], 0x80);
    ck_assert(djs_id_is_nil(&ev.entity));
    ts[1] = ev.ts_ns;
    prev_ts = ev.ts_ns;

    for (uint64_t s = 2; s <= N; s++) {
        djs_event_t e;
        memset(&e, 0, sizeof(e));
        e.type = lt_type(s);
        e.actor = actor;
        e.actor_len = s % (DJS_EVENT_MAX_ACTOR + 1);
        if (s % 3 != 0)
            e.entity = lt_entity((unsigned)(s % 7) + 1);
        e.body = body;
        e.body_len = lt_body(body, s, (s * 37) % 3000);
        ck_assert_int_eq(djs_log_append(log, &e), 0);
        ck_assert_uint_eq(e.seq, s);
        ck_assert_uint_gt(e.ts_ns, prev_ts);
        ck_assert_uint_eq(djs_log_last_seq(log), s);
        ck_assert_uint_eq(djs_log_last_ts(log), e.ts_ns);
        prev_ts = ts[s] = e.ts_ns;

        /* rejected appends consume neither a seq nor the chain */
        if (s % 100 == 0) {
            djs_event_t badev = e;
            badev.type = 999;
            ck_assert_int_eq(djs_log_append(log, &badev), DJS_EINVAL);
            badev = e;
            badev.actor_len = DJS_EVENT_MAX_ACTOR + 1;
            ck_assert_int_eq(djs_log_append(log, &badev), DJS_ETOOBIG);
            badev = e;
            static const uint8_t not_a_map[] = {0x92, 0x01, 0x02};
            badev.body = not_a_map;
            badev.body_len = sizeof(not_a_map);
            ck_assert_int_eq(djs_log_append(log, &badev), DJS_EINVAL);
            ck_assert_uint_eq(djs_log_last_seq(log), s);
            ck_assert_uint_eq(djs_log_last_ts(log), e.ts_ns);
        }
    }
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_uint_eq(djs_log_durable_seq(log), N);

    for (uint64_t s = 2; s <= N; s++) {
        djs_buf_reset(&b);
        static const uint8_t pre[3] = {9, 8, 7};
        djs_buf_append(&b, pre, 3); /* get appends to what is there */
        ck_assert_int_eq(djs_log_get(log, s, &b), 0);
        ck_assert_mem_eq(b.base, pre, 3);
        djs_event_t e;
        ck_assert_int_eq(djs_event_decode(b.base + 3, b.len - 3, &e), 0);
        ck_assert_uint_eq(e.seq, s);
        ck_assert_uint_eq(e.ts_ns, ts[s]);
        ck_assert_uint_eq(e.type, lt_type(s));
        ck_assert_uint_eq(e.actor_len, s % (DJS_EVENT_MAX_ACTOR + 1));
        ck_assert(e.actor_len == 0 || memcmp(e.actor, actor, e.actor_len) == 0);
        djs_id_t want_ent = lt_entity((unsigned)(s % 7) + 1);
        if (s % 3 != 0)
            ck_assert_int_eq(djs_id_cmp(&e.entity, &want_ent), 0);
        else
            ck_assert(djs_id_is_nil(&e.entity));
        size_t blen = lt_body(body, s, (s * 37) % 3000);
        ck_assert_uint_eq(e.body_len, blen);
        ck_assert_mem_eq(e.body, body, blen);
    }
    ck_assert_int_eq(djs_log_get(log, 0, &b), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_log_get(log, N + 1, &b), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_log_get(log, UINT64_MAX, &b), DJS_ENOTFOUND);
    djs_buf_dispose(&b);
    ck_assert_uint_eq(verify_body(log, 0), N); /* seq 1 has no body */
    djs_log_close(log);
}
END_TEST

/* ---- scans ------------------------------------------------------------------------ */

START_TEST(scan_ranges_and_early_stop)
{
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_t *log = open_ok(dir, NULL);
    collect_t c = {0};

    /* empty log */
    ck_assert_int_eq(djs_log_scan(log, 1, UINT64_MAX, collect_visit, &c), 0);
    assert_range(&c, 1, 0);
    collect_reset(&c);

    append_n(log, 100, 3, 10);
    struct {
        uint64_t from, to, first, last;
    } cases[] = {
        {1, UINT64_MAX, 1, 100},     {0, UINT64_MAX, 1, 100}, {10, 20, 10, 20},        {0, 5, 1, 5},   {100, 100, 100, 100},
        {100, UINT64_MAX, 100, 100}, {95, 1000, 95, 100},     {101, UINT64_MAX, 1, 0}, {50, 40, 1, 0}, {1000, 2000, 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(djs_log_scan(log, cases[i].from, cases[i].to, collect_visit, &c), 0);
        assert_range(&c, cases[i].first, cases[i].last);
        collect_reset(&c);
    }

    /* a non-zero return stops the scan and comes back as its result */
    c.stop_at = 30;
    c.stop_val = 42;
    ck_assert_int_eq(djs_log_scan(log, 1, UINT64_MAX, collect_visit, &c), 42);
    assert_range(&c, 1, 30);
    collect_reset(&c);
    c.stop_at = 7;
    c.stop_val = -7;
    ck_assert_int_eq(djs_log_scan(log, 5, 50, collect_visit, &c), -7);
    assert_range(&c, 5, 7);
    collect_reset(&c);
    djs_log_close(log);
}
END_TEST

START_TEST(scan_across_read_chunks)
{
    enum { N = 20000, CHUNK = 8192 };
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_t *log = open_ok(dir, NULL);
    append_n(log, N, 2, 0); /* entities 1 and 2 alternate: 10000 records each */
    collect_t c = {0};

    ck_assert_int_eq(djs_log_scan(log, 1, UINT64_MAX, collect_visit, &c), 0);
    assert_range(&c, 1, N);
    collect_reset(&c);
    ck_assert_int_eq(djs_log_scan(log, 100, 2 * CHUNK + 500, collect_visit, &c), 0);
    assert_range(&c, 100, 2 * CHUNK + 500);
    collect_reset(&c);
    ck_assert_int_eq(djs_log_scan(log, CHUNK, CHUNK + 1, collect_visit, &c), 0);
    assert_range(&c, CHUNK, CHUNK + 1);
    collect_reset(&c);
    ck_assert_int_eq(djs_log_scan(log, 1, CHUNK, collect_visit, &c), 0);
    assert_range(&c, 1, CHUNK);
    collect_reset(&c);
    /* stopping on both sides of a chunk boundary */
    uint64_t stops[] = {CHUNK, CHUNK + 1, 2 * CHUNK, N};
    for (size_t i = 0; i < 4; i++) {
        c.stop_at = stops[i];
        c.stop_val = 5;
        ck_assert_int_eq(djs_log_scan(log, 1, UINT64_MAX, collect_visit, &c), 5);
        assert_range(&c, 1, stops[i]);
        collect_reset(&c);
    }

    /* the entity scan is chunked too */
    djs_id_t e2 = lt_entity(2);
    c.entity = e2;
    c.check_entity = 1;
    ck_assert_int_eq(djs_log_scan_entity(log, &e2, 0, UINT64_MAX, collect_visit, &c), 0);
    ck_assert_uint_eq(c.n, N / 2);
    for (size_t i = 0; i < c.n; i++)
        ck_assert_uint_eq(c.seqs[i], 2 * i + 2);
    ck_assert_int_eq(c.bad, 0);
    collect_reset(&c);

    ck_assert_uint_eq(verify_ok(log), N);
    djs_log_close(log);
}
END_TEST

START_TEST(scan_entity_is_exact)
{
    enum { N = 600 };
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_t *log = open_ok(dir, NULL);
    static uint64_t want[4][N];
    size_t nwant[4] = {0};
    rng_init(11);
    for (uint64_t s = 1; s <= N; s++) {
        unsigned k = (unsigned)rnd(4); /* 0 = nil entity */
        djs_id_t e = lt_entity(k);
        djs_event_t ev;
        ck_assert_int_eq(lt_append(log, k ? &e : NULL, s, 0, &ev), 0);
        want[k][nwant[k]++] = ev.seq;
    }
    ck_assert_int_eq(djs_log_sync(log), 0);
    collect_t c = {0};
    for (unsigned k = 1; k < 4; k++) {
        djs_id_t e = lt_entity(k);
        c.entity = e;
        c.check_entity = 1;
        ck_assert_int_eq(djs_log_scan_entity(log, &e, 0, UINT64_MAX, collect_visit, &c), 0);
        ck_assert_uint_eq(c.n, nwant[k]);
        ck_assert_mem_eq(c.seqs, want[k], c.n * sizeof(uint64_t));
        ck_assert_int_eq(c.bad, 0);
        collect_reset(&c);

        /* bounds on the entity's own seqs, and between them */
        size_t a = nwant[k] / 4, z = nwant[k] * 3 / 4;
        uint64_t bounds[][2] = {{want[k][a], want[k][z]}, {want[k][a] + 1, want[k][z] - 1}, {want[k][a], want[k][a]}};
        for (size_t bi = 0; bi < 3; bi++) {
            c.entity = e;
            c.check_entity = 1;
            ck_assert_int_eq(djs_log_scan_entity(log, &e, bounds[bi][0], bounds[bi][1], collect_visit, &c), 0);
            size_t expect = 0;
            for (size_t i = 0; i < nwant[k]; i++) {
                if (want[k][i] >= bounds[bi][0] && want[k][i] <= bounds[bi][1]) {
                    ck_assert_uint_lt(expect, c.n);
                    ck_assert_uint_eq(c.seqs[expect], want[k][i]);
                    expect++;
                }
            }
            ck_assert_uint_eq(c.n, expect);
            ck_assert_uint_gt(expect, 0);
            collect_reset(&c);
        }
        /* early stop */
        c.stop_at = want[k][2];
        c.stop_val = 9;
        ck_assert_int_eq(djs_log_scan_entity(log, &e, 0, UINT64_MAX, collect_visit, &c), 9);
        ck_assert_uint_eq(c.n, 3);
        collect_reset(&c);
        /* beyond the entity's last record */
        ck_assert_int_eq(djs_log_scan_entity(log, &e, want[k][nwant[k] - 1] + 1, UINT64_MAX, collect_visit, &c), 0);
        ck_assert_uint_eq(c.n, 0);
        collect_reset(&c);
    }
    /* an unknown entity, and the nil entity (never indexed) */
    djs_id_t unknown = lt_entity(77), nil;
    memset(&nil, 0, sizeof(nil));
    ck_assert_int_eq(djs_log_scan_entity(log, &unknown, 0, UINT64_MAX, collect_visit, &c), 0);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_int_eq(djs_log_scan_entity(log, &nil, 0, UINT64_MAX, collect_visit, &c), 0);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_uint_gt(nwant[0], 0);
    uint64_t bad = 0;
    ck_assert_int_eq(lt_check_index(log, N - nwant[0], &bad), LT_OK);
    collect_reset(&c);
    djs_log_close(log);
}
END_TEST

/* ---- time -> seq ------------------------------------------------------------------ */

START_TEST(seq_at_time_lookups)
{
    enum { N = 257 };
    char *dir = path_join(tu_tmpdir(), "log");
    fake_clock_t clk = {0};
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.clock = fake_now;
    o.clock_arg = &clk;
    djs_log_t *log = open_ok(dir, &o);
    uint64_t seq = 12345;
    ck_assert_int_eq(djs_log_seq_at_time(log, 0, &seq), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_log_seq_at_time(log, UINT64_MAX, &seq), DJS_ENOTFOUND);
    ck_assert_uint_eq(seq, 12345);

    /* record s at time 1000 * s + 1000 */
    for (uint64_t s = 1; s <= N; s++) {
        djs_event_t ev;
        clk.now = 1000 * s + 1000;
        ck_assert_int_eq(lt_append(log, NULL, s, 0, &ev), 0);
        ck_assert_uint_eq(ev.ts_ns, clk.now);
    }
    ck_assert_int_eq(djs_log_sync(log), 0);
    for (uint64_t s = 1; s <= N; s++) {
        uint64_t t = 1000 * s + 1000;
        ck_assert_int_eq(djs_log_seq_at_time(log, t, &seq), 0); /* exact */
        ck_assert_uint_eq(seq, s);
        ck_assert_int_eq(djs_log_seq_at_time(log, t - 1, &seq), 0); /* just before: this one */
        ck_assert_uint_eq(seq, s);
        ck_assert_int_eq(djs_log_seq_at_time(log, t - 999, &seq), 0); /* just after the previous */
        ck_assert_uint_eq(seq, s);
    }
    ck_assert_int_eq(djs_log_seq_at_time(log, 0, &seq), 0); /* before the first */
    ck_assert_uint_eq(seq, 1);
    seq = 0;
    ck_assert_int_eq(djs_log_seq_at_time(log, 1000 * N + 1001, &seq), DJS_ENOTFOUND); /* after the last */
    ck_assert_int_eq(djs_log_seq_at_time(log, UINT64_MAX, &seq), DJS_ENOTFOUND);
    ck_assert_uint_eq(seq, 0);
    djs_log_close(log);
}
END_TEST

/* ---- durable callbacks and tails on a loop ----------------------------------------- */

typedef struct dctx {
    djs_log_t *log;
    uv_loop_t *loop;
    uv_timer_t timer;
    int round;
    uint64_t last_cb_seq;
    int n_cb, bad;
    int late_fired;
    uint64_t final_seq;
    djs_log_tail_t tail;
    uint64_t tail_last;
    int tail_calls, tail_after_stop, tail_stopped;
} dctx_t;

static void on_durable(void *arg, uint64_t seq, int status);

static void append_round(dctx_t *d)
{
    d->round++;
    for (int i = 0; i < 10; i++) {
        djs_id_t e = lt_entity((unsigned)i % 3 + 1);
        djs_event_t ev;
        ck_assert_int_eq(lt_append(d->log, &e, (uint64_t)d->round * 100 + (uint64_t)i, 0, &ev), 0);
        djs_log_when_durable(d->log, ev.seq, on_durable, d);
    }
}

static void on_durable(void *arg, uint64_t seq, int status)
{
    dctx_t *d = arg;
    if (status != 0 || seq != d->last_cb_seq + 1 || seq > djs_log_durable_seq(d->log))
        d->bad++;
    d->last_cb_seq = seq;
    d->n_cb++;
    if (seq == (uint64_t)d->round * 10 && d->round < 3)
        append_round(d); /* appends from inside a durable callback */
}

static void on_late(void *arg, uint64_t seq, int status)
{
    dctx_t *d = arg;
    if (seq != 5 || status != 0 || d->final_seq != 0)
        d->bad++;
    d->late_fired++;
}

static void on_final(void *arg, uint64_t seq, int status)
{
    dctx_t *d = arg;
    if (status != 0 || d->late_fired != 1)
        d->bad++;
    d->final_seq = seq;
    uv_stop(d->loop);
}

static void after_all_durable(uv_timer_t *t)
{
    dctx_t *d = t->data;
    /* 5 is long durable: its callback still fires, with status 0 */
    djs_log_when_durable(d->log, 5, on_late, d);
    djs_log_tail_stop(d->log, &d->tail);
    d->tail_stopped = 1;
    djs_event_t ev;
    ck_assert_int_eq(lt_append(d->log, NULL, 999, 0, &ev), 0);
    djs_log_when_durable(d->log, ev.seq, on_final, d);
}

static void on_tail(void *arg, uint64_t durable)
{
    dctx_t *d = arg;
    if (d->tail_stopped)
        d->tail_after_stop++;
    if (durable <= d->tail_last || durable > djs_log_last_seq(d->log) || durable > djs_log_durable_seq(d->log))
        d->bad++;
    d->tail_last = durable;
    d->tail_calls++;
    if (durable == 30) {
        d->timer.data = d;
        uv_timer_start(&d->timer, after_all_durable, 0, 0);
    }
}

static void first_round(uv_timer_t *t)
{
    append_round(t->data);
}

START_TEST(durable_callbacks_and_tail_on_loop)
{
    char *dir = path_join(tu_tmpdir(), "log");
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    dctx_t d;
    memset(&d, 0, sizeof(d));
    d.loop = &loop;
    d.log = open_ok(dir, NULL);
    ck_assert_int_eq(djs_log_attach(d.log, &loop), 0);
    ck_assert_int_eq(djs_log_attach(d.log, &loop), DJS_EINVAL);
    djs_log_tail_start(d.log, &d.tail, on_tail, &d);
    uv_timer_init(&loop, &d.timer);
    d.timer.data = &d;
    uv_timer_start(&d.timer, first_round, 0, 0);
    uv_run(&loop, UV_RUN_DEFAULT);

    ck_assert_int_eq(d.bad, 0);
    ck_assert_int_eq(d.n_cb, 30);
    ck_assert_uint_eq(d.last_cb_seq, 30);
    ck_assert_int_eq(d.late_fired, 1);
    ck_assert_uint_eq(d.final_seq, 31);
    ck_assert_uint_eq(d.tail_last, 30);
    ck_assert_int_gt(d.tail_calls, 0);
    ck_assert_int_eq(d.tail_after_stop, 0);
    ck_assert_uint_eq(djs_log_durable_seq(d.log), 31);

    /* close while attached: memory goes in the close callbacks */
    djs_log_close(d.log);
    uv_close((uv_handle_t *)&d.timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);

    djs_log_t *log = open_ok(dir, NULL);
    ck_assert_uint_eq(verify_ok(log), 31);
    djs_log_close(log);
}
END_TEST

typedef struct order {
    uint64_t seqs[8];
    int status[8];
    int n;
} order_t;

static void record_cb(void *arg, uint64_t seq, int status)
{
    order_t *o = arg;
    if (o->n < 8) {
        o->seqs[o->n] = seq;
        o->status[o->n] = status;
    }
    o->n++;
}

typedef struct tails {
    uint64_t seen[8];
    int n;
} tails_t;

static void record_tail(void *arg, uint64_t durable)
{
    tails_t *t = arg;
    if (t->n < 8)
        t->seen[t->n] = durable;
    t->n++;
}

START_TEST(durable_callbacks_without_loop)
{
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_t *log = open_ok(dir, NULL);
    order_t o = {0};
    tails_t tl = {0};
    djs_log_tail_t tail;
    djs_log_tail_start(log, &tail, record_tail, &tl);
    for (uint64_t i = 1; i <= 5; i++)
        ck_assert_int_eq(lt_append(log, NULL, i, 0, NULL), 0);
    djs_log_when_durable(log, 5, record_cb, &o); /* registered out of order */
    djs_log_when_durable(log, 3, record_cb, &o);
    ck_assert_int_eq(o.n, 0);
    ck_assert_int_eq(djs_log_sync(log), 0); /* runs due callbacks, in seq order */
    ck_assert_int_eq(o.n, 2);
    ck_assert_uint_eq(o.seqs[0], 3);
    ck_assert_uint_eq(o.seqs[1], 5);
    ck_assert_int_eq(o.status[0], 0);
    ck_assert_int_eq(o.status[1], 0);
    djs_log_when_durable(log, 2, record_cb, &o); /* already durable: at once */
    ck_assert_int_eq(o.n, 3);
    ck_assert_uint_eq(o.seqs[2], 2);
    ck_assert_int_eq(o.status[2], 0);
    /* the tail heard of 5 once: nothing new since, however often we ask */
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_int_eq(tl.n, 1);
    ck_assert_uint_eq(tl.seen[0], 5);
    ck_assert_int_eq(lt_append(log, NULL, 6, 0, NULL), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_int_eq(tl.n, 2);
    ck_assert_uint_eq(tl.seen[1], 6);
    djs_log_tail_stop(log, &tail);
    ck_assert_int_eq(lt_append(log, NULL, 7, 0, NULL), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_int_eq(tl.n, 2);
    djs_log_close(log);
}
END_TEST

/* Tails stopping other tails from their callbacks. */
typedef struct xtail {
    djs_log_t *log;
    djs_log_tail_t *victim;
    int calls;
} xtail_t;

static void stopper_tail(void *arg, uint64_t durable)
{
    xtail_t *x = arg;
    (void)durable;
    x->calls++;
    if (x->victim != NULL) {
        djs_log_tail_stop(x->log, x->victim);
        free(x->victim); /* stopped: the subscriber may free it at once */
        x->victim = NULL;
    }
}

static void counting_tail(void *arg, uint64_t durable)
{
    (void)durable;
    ((xtail_t *)arg)->calls++;
}

START_TEST(tail_stopped_by_another_tail)
{
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_t *log = open_ok(dir, NULL);
    /* subscribed in the order c, b, a: notified a, b, c */
    xtail_t xa = {.log = log}, xb = {.log = log}, xc = {.log = log};
    djs_log_tail_t ta, tc;
    djs_log_tail_t *tb = malloc(sizeof(*tb));
    djs_log_tail_start(log, &tc, counting_tail, &xc);
    djs_log_tail_start(log, tb, counting_tail, &xb);
    djs_log_tail_start(log, &ta, stopper_tail, &xa);
    xa.victim = tb;
    append_n(log, 3, 1, 0);
    ck_assert_int_eq(xa.calls, 1);
    ck_assert_int_eq(xb.calls, 0); /* stopped (and freed) before its turn */
    ck_assert_int_eq(xc.calls, 1); /* the others still hear of it */
    append_n(log, 3, 1, 0);
    ck_assert_int_eq(xa.calls, 2);
    ck_assert_int_eq(xb.calls, 0);
    ck_assert_int_eq(xc.calls, 2);
    djs_log_tail_stop(log, &ta);
    djs_log_tail_stop(log, &tc);
    djs_log_close(log);
}
END_TEST

/* ---- group commit -------------------------------------------------------------------- */

typedef struct gctx {
    djs_log_t *log;
    uv_loop_t *loop;
    uv_idle_t idle;
    uint64_t appended, bursts, target;
    int done, bad;
} gctx_t;

static void on_all_durable(void *arg, uint64_t seq, int status)
{
    gctx_t *g = arg;
    if (status != 0 || seq != g->target)
        g->bad++;
    g->done = 1;
    uv_stop(g->loop);
}

static void burst(uv_idle_t *h)
{
    gctx_t *g = h->data;
    uint64_t n = 1 + rnd(2000);
    if (n > g->target - g->appended)
        n = g->target - g->appended;
    for (uint64_t i = 0; i < n; i++) {
        djs_id_t e = lt_entity((unsigned)rnd(50) + 1);
        if (lt_append(g->log, &e, g->appended + 1, 0, NULL) != 0)
            g->bad++;
        g->appended++;
    }
    g->bursts++;
    if (g->appended == g->target) {
        djs_log_when_durable(g->log, g->target, on_all_durable, g);
        uv_idle_stop(h);
    }
}

START_TEST(group_commit_under_concurrent_appends)
{
    char *dir = path_join(tu_tmpdir(), "log");
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    gctx_t g;
    memset(&g, 0, sizeof(g));
    g.loop = &loop;
    g.target = 100000;
    g.log = open_ok(dir, NULL);
    ck_assert_int_eq(djs_log_attach(g.log, &loop), 0);
    rng_init(3);
    uv_idle_init(&loop, &g.idle);
    g.idle.data = &g;
    uv_idle_start(&g.idle, burst);
    uv_run(&loop, UV_RUN_DEFAULT);

    ck_assert_int_eq(g.bad, 0);
    ck_assert(g.done);
    djs_log_stats_t st;
    djs_log_get_stats(g.log, &st);
    ck_assert_uint_eq(st.events, g.target);
    ck_assert_uint_ge(st.commits, 1);
    ck_assert_uint_lt(st.commits, st.events);
    ck_assert_uint_le(st.commits, g.bursts); /* at most one commit per hand-over */
    ck_assert_uint_gt(st.bytes, 0);
    ck_assert_uint_ge(st.commit_ns_sum, st.commit_ns_max);
    ck_assert_uint_eq(djs_log_durable_seq(g.log), g.target);
    fprintf(stderr, "group commit: %llu events in %llu commits (%llu bursts)\n", (unsigned long long)st.events,
            (unsigned long long)st.commits, (unsigned long long)g.bursts);
    ck_assert_uint_eq(verify_ok(g.log), g.target);
    djs_log_close(g.log);
    uv_close((uv_handle_t *)&g.idle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- map growth ------------------------------------------------------------------------ */

typedef struct reader {
    djs_log_t *log;
    _Atomic int stop;
    uint64_t scans, max_seen;
    int err;
} reader_t;

static int reader_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    uint64_t *next = arg;
    djs_event_t ev;
    if (seq != *next || djs_event_decode(rec, len, &ev) != 0 || ev.seq != seq)
        return 1;
    (*next)++;
    return 0;
}

/* Scans in a loop on its own thread while the map grows under it. (No
 * hashing here: the SHA context is per thread and kept for the thread's
 * lifetime.) */
static void *reader_main(void *arg)
{
    reader_t *r = arg;
    while (!atomic_load(&r->stop)) {
        uint64_t next = 1;
        int rc = djs_log_scan(r->log, 1, UINT64_MAX, reader_visit, &next);
        if (rc != 0) {
            r->err = rc;
            break;
        }
        if (next - 1 < r->max_seen) {
            r->err = -1000; /* went backwards */
            break;
        }
        r->max_seen = next - 1;
        r->scans++;
    }
    return NULL;
}

START_TEST(map_grows_when_full)
{
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.map_size = 256 << 10;
    djs_log_t *log = open_ok(dir, &o);
    size_t initial = djs_log_map_size(log);
    ck_assert_uint_le(initial, 256 << 10);

    reader_t r;
    memset(&r, 0, sizeof(r));
    r.log = log;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, reader_main, &r), 0);

    append_n(log, 1500, 5, 1000); /* 1.5 MB in one commit: several doublings */
    for (int i = 0; i < 15; i++)
        append_n(log, 200, 5, 1000); /* then 3 MB more in small commits */
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
    ck_assert_int_eq(r.err, 0);
    ck_assert_uint_gt(r.scans, 0);

    djs_log_stats_t st;
    djs_log_get_stats(log, &st);
    ck_assert_uint_gt(st.map_grows, 1);
    ck_assert_uint_ge(djs_log_map_size(log), (size_t)4 << 20);
    ck_assert_uint_gt(djs_log_map_size(log), initial);
    ck_assert_uint_eq(st.events, 4500);
    ck_assert_uint_eq(verify_ok(log), 4500);
    djs_log_close(log);

    /* reopening with the small size: LMDB opens the map at the used size, the log grows again */
    log = open_ok(dir, &o);
    ck_assert_uint_eq(verify_ok(log), 4500);
    append_n(log, 500, 5, 1000);
    djs_log_get_stats(log, &st);
    ck_assert_uint_gt(st.map_grows, 0);
    ck_assert_uint_eq(verify_ok(log), 5000);
    djs_log_close(log);
}
END_TEST

/* ---- fail-stop --------------------------------------------------------------------- */

#define FS_MAX 100000

typedef struct fault {
    _Atomic int calls;
    int fail_on;  /* commit attempt number (1-based) that fails */
    int fail_rc;  /* with this LMDB code */
    int fail_max; /* how many attempts fail in a row from fail_on */
    _Atomic uint64_t durable_before;
    uint64_t first[64], last[64];
} fault_t;

static int fault_cb(void *arg, uint64_t first, uint64_t last)
{
    fault_t *f = arg;
    int n = atomic_fetch_add(&f->calls, 1) + 1;
    if (n <= 64) {
        f->first[n - 1] = first;
        f->last[n - 1] = last;
    }
    if (n >= f->fail_on && n < f->fail_on + f->fail_max)
        return f->fail_rc;
    if (n < f->fail_on)
        atomic_store(&f->durable_before, last);
    return 0;
}

typedef struct fsctx {
    djs_log_t *log;
    uv_loop_t *loop;
    uv_idle_t idle;
    uint64_t appended;
    int refused;
    int cb_count[FS_MAX + 1];
    int cb_status[FS_MAX + 1];
    int fatal_calls, fatal_err;
    char fatal_msg[256];
} fsctx_t;

static void fs_durable(void *arg, uint64_t seq, int status)
{
    fsctx_t *c = arg;
    if (seq <= FS_MAX) {
        c->cb_count[seq]++;
        c->cb_status[seq] = status;
    }
}

static void fs_fatal(void *arg, int err, const char *msg)
{
    fsctx_t *c = arg;
    c->fatal_calls++;
    c->fatal_err = err;
    snprintf(c->fatal_msg, sizeof(c->fatal_msg), "%s", msg ? msg : "(null)");
    if (c->loop != NULL)
        uv_stop(c->loop);
}

static void fs_burst(uv_idle_t *h)
{
    fsctx_t *c = h->data;
    for (int i = 0; i < 20 && c->appended < FS_MAX; i++) {
        djs_event_t ev;
        djs_id_t e = lt_entity((unsigned)i % 4 + 1);
        int rc = lt_append(c->log, &e, c->appended + 1, 0, &ev);
        if (rc != 0) {
            ck_assert_int_eq(rc, DJS_ESTORAGE);
            c->refused++;
            uv_idle_stop(h);
            return;
        }
        c->appended = ev.seq;
        djs_log_when_durable(c->log, ev.seq, fs_durable, c);
    }
}

/* Run loop until *counter reaches want (or 10 s pass); a timer of our own
 * keeps the loop alive meanwhile. */
typedef struct until {
    const int *counter;
    int want;
    uint64_t deadline;
} until_t;

static void until_tick(uv_timer_t *t)
{
    until_t *u = t->data;
    if (*u->counter >= u->want || djs_monotonic_ns() > u->deadline)
        uv_stop(t->loop);
}

static void run_until(uv_loop_t *loop, const int *counter, int want)
{
    uv_timer_t t;
    until_t u = {counter, want, djs_monotonic_ns() + 10000000000ULL};
    uv_timer_init(loop, &t);
    t.data = &u;
    uv_timer_start(&t, until_tick, 1, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* let the close complete */
}

START_TEST(fail_stop_on_commit_error)
{
    char *dir = path_join(tu_tmpdir(), "log");
    static fsctx_t c;
    static fault_t f;
    f.fail_on = 3;
    f.fail_rc = EIO;
    f.fail_max = 1000000;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.fault = fault_cb;
    o.fault_arg = &f;
    o.on_fatal = fs_fatal;
    o.fatal_arg = &c;
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    c.loop = &loop;
    c.log = open_ok(dir, &o);
    ck_assert_int_eq(djs_log_attach(c.log, &loop), 0);
    uv_idle_init(&loop, &c.idle);
    c.idle.data = &c;
    uv_idle_start(&c.idle, fs_burst);
    uv_run(&loop, UV_RUN_DEFAULT); /* until on_fatal stops it */

    uint64_t durable = atomic_load(&f.durable_before);
    ck_assert_int_eq(c.fatal_calls, 1);
    ck_assert_int_eq(c.fatal_err, DJS_ESTORAGE);
    ck_assert_msg(strlen(c.fatal_msg) > 0, "fatal message empty");
    ck_assert_int_eq(atomic_load(&f.calls), 3); /* the writer stopped at the failure */
    ck_assert_uint_gt(durable, 0);
    ck_assert_uint_eq(djs_log_durable_seq(c.log), durable);
    ck_assert_uint_gt(c.appended, durable);
    ck_assert_int_eq(djs_log_status(c.log), DJS_ESTORAGE);

    uv_idle_stop(&c.idle);
    ck_assert_int_eq(lt_append(c.log, NULL, 1, 0, NULL), DJS_ESTORAGE);
    ck_assert_int_eq(djs_log_sync(c.log), DJS_ESTORAGE);
    ck_assert_int_eq(djs_log_sync(c.log), DJS_ESTORAGE);
    /* every callback ran exactly once: 0 up to the durable seq, the error after */
    for (uint64_t s = 1; s <= c.appended; s++) {
        ck_assert_msg(c.cb_count[s] == 1, "seq %llu: %d callbacks", (unsigned long long)s, c.cb_count[s]);
        if (s <= durable)
            ck_assert_int_eq(c.cb_status[s], 0);
        else
            ck_assert_int_eq(c.cb_status[s], DJS_ESTORAGE);
    }
    /* a callback registered after the failure, for a seq that never became
     * durable, gets the error on the next loop turn (not only at close) */
    djs_log_when_durable(c.log, c.appended, fs_durable, &c);
    run_until(&loop, &c.cb_count[c.appended], 2);
    ck_assert_int_eq(c.cb_count[c.appended], 2);
    ck_assert_int_eq(c.cb_status[c.appended], DJS_ESTORAGE);
    djs_log_when_durable(c.log, durable, fs_durable, &c);
    run_until(&loop, &c.cb_count[durable], 2);
    ck_assert_int_eq(c.cb_count[durable], 2);
    ck_assert_int_eq(c.cb_status[durable], 0);
    djs_log_close(c.log);
    ck_assert_int_eq(c.cb_count[c.appended], 2);
    uv_close((uv_handle_t *)&c.idle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(c.fatal_calls, 1);

    /* a restart has exactly what was durable */
    djs_log_t *log = open_ok(dir, NULL);
    ck_assert_uint_eq(djs_log_last_seq(log), durable);
    ck_assert_uint_eq(verify_ok(log), durable);
    djs_buf_t b;
    djs_buf_init(&b);
    ck_assert_int_eq(djs_log_get(log, durable + 1, &b), DJS_ENOTFOUND);
    djs_buf_dispose(&b);
    djs_event_t ev;
    ck_assert_int_eq(lt_append(log, NULL, 1, 0, &ev), 0);
    ck_assert_uint_eq(ev.seq, durable + 1);
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_uint_eq(verify_ok(log), durable + 1);
    djs_log_close(log);
}
END_TEST

START_TEST(fail_stop_without_loop)
{
    char *dir = path_join(tu_tmpdir(), "log");
    static fsctx_t c;
    static fault_t f;
    f.fail_on = 2;
    f.fail_rc = EIO;
    f.fail_max = 1;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.fault = fault_cb;
    o.fault_arg = &f;
    o.on_fatal = fs_fatal;
    o.fatal_arg = &c;
    djs_log_t *log = open_ok(dir, &o);
    append_n(log, 10, 1, 0);
    for (uint64_t i = 11; i <= 20; i++) {
        djs_event_t ev;
        ck_assert_int_eq(lt_append(log, NULL, i, 0, &ev), 0);
        djs_log_when_durable(log, ev.seq, fs_durable, &c);
    }
    ck_assert_int_eq(djs_log_sync(log), DJS_ESTORAGE);
    ck_assert_int_eq(c.fatal_calls, 1);
    for (uint64_t s = 11; s <= 20; s++) {
        ck_assert_int_eq(c.cb_count[s], 1);
        ck_assert_int_eq(c.cb_status[s], DJS_ESTORAGE);
    }
    ck_assert_int_eq(lt_append(log, NULL, 21, 0, NULL), DJS_ESTORAGE);
    ck_assert_int_eq(djs_log_sync(log), DJS_ESTORAGE);
    ck_assert_uint_eq(djs_log_durable_seq(log), 10);
    djs_log_when_durable(log, 15, fs_durable, &c); /* after the failure: at once */
    ck_assert_int_eq(c.cb_count[15], 2);
    ck_assert_int_eq(c.cb_status[15], DJS_ESTORAGE);
    djs_log_close(log);
    ck_assert_int_eq(c.fatal_calls, 1);
    log = open_ok(dir, NULL);
    ck_assert_uint_eq(verify_ok(log), 10);
    djs_log_close(log);
}
END_TEST

START_TEST(map_full_from_commit_is_retried)
{
    char *dir = path_join(tu_tmpdir(), "log");
    static fault_t f;
    f.fail_on = 2;
    f.fail_rc = MDB_MAP_FULL;
    f.fail_max = 1;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.map_size = 1 << 20;
    o.fault = fault_cb;
    o.fault_arg = &f;
    djs_log_t *log = open_ok(dir, &o);
    size_t initial = djs_log_map_size(log);
    append_n(log, 100, 2, 0);
    append_n(log, 100, 2, 0); /* this commit hits MAP_FULL once */
    append_n(log, 100, 2, 0);
    ck_assert_int_eq(djs_log_status(log), 0);
    ck_assert_int_eq(atomic_load(&f.calls), 4);
    ck_assert_uint_eq(f.first[1], 101);
    ck_assert_uint_eq(f.last[1], 200);
    ck_assert_uint_eq(f.first[2], 101); /* the same batch again */
    ck_assert_uint_eq(f.last[2], 200);
    djs_log_stats_t st;
    djs_log_get_stats(log, &st);
    ck_assert_uint_eq(st.map_grows, 1);
    ck_assert_uint_eq(st.commits, 3);
    ck_assert_uint_eq(st.events, 300);
    ck_assert_uint_eq(djs_log_map_size(log), 2 * initial);
    ck_assert_uint_eq(djs_log_durable_seq(log), 300);
    ck_assert_uint_eq(verify_ok(log), 300);
    djs_log_close(log);
    log = open_ok(dir, NULL);
    ck_assert_uint_eq(verify_ok(log), 300);
    djs_log_close(log);
}
END_TEST

/* ---- read-only handles, other processes ----------------------------------------- */

START_TEST(readonly_handle_rules)
{
    const char *base = tu_tmpdir();
    char *missing = path_join(base, "missing");
    djs_log_options_t ro;
    djs_log_options_init(&ro);
    ro.readonly = 1;
    djs_log_t *log = NULL;
    ck_assert_int_eq(djs_log_open(&log, missing, &ro), DJS_ENOTFOUND);
    ck_assert(!file_exists(missing));

    char *dir = path_join(base, "log");
    log = open_ok(dir, NULL);
    append_n(log, 50, 2, 5);
    djs_log_close(log);

    log = open_ok(dir, &ro);
    ck_assert_uint_eq(djs_log_last_seq(log), 50);
    ck_assert_uint_eq(djs_log_durable_seq(log), 50);
    ck_assert_int_eq(lt_append(log, NULL, 51, 0, NULL), DJS_ERDONLY);
    ck_assert_int_eq(djs_log_sync(log), DJS_ERDONLY);
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(djs_log_attach(log, &loop), DJS_ERDONLY);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_uint_eq(verify_ok(log), 50);
    uint64_t seq;
    ck_assert_int_eq(djs_log_seq_at_time(log, 0, &seq), 0);
    ck_assert_uint_eq(seq, 1);
    djs_log_close(log);
}
END_TEST

static int wait_byte(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char ch;
    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    return read(fd, &ch, 1) == 1 ? 0 : -1;
}

static uint64_t now_ms(void)
{
    return djs_monotonic_ns() / 1000000;
}

/* Child: scan the whole log over and over while the parent appends; every
 * pass must see a dense, decodable, chained prefix that never shrinks. */
static int ro_child(const char *dir, int ready_fd, uint64_t target)
{
    djs_log_options_t ro;
    djs_log_options_init(&ro);
    ro.readonly = 1;
    ro.map_size = 256 << 10; /* mapped at the size in use: the parent's growth resizes it */
    djs_log_t *log = NULL;
    if (djs_log_open(&log, dir, &ro) != 0)
        return 10;
    uint64_t prev = 0, distinct = 0, deadline = now_ms() + 90000;
    int code = 0;
    for (;;) {
        lt_verify_t v = {.check_body = 1};
        if (lt_verify_log(log, &v) != LT_OK) {
            code = 20 + v.err;
            break;
        }
        uint64_t n = v.next - 1;
        if (n < prev) {
            code = 40;
            break;
        }
        if (n != prev)
            distinct++;
        if (prev == 0 && write(ready_fd, "r", 1) != 1) {
            code = 41;
            break;
        }
        prev = n;
        if (n >= target)
            break;
        if (now_ms() > deadline) {
            code = 42;
            break;
        }
    }
    if (code == 0 && djs_log_last_seq(log) != target)
        code = 43;
    if (code == 0 && distinct < 2)
        code = 44;
    djs_log_close(log);
    return code;
}

START_TEST(readonly_reader_in_child_while_parent_appends)
{
    enum { FIRST = 100, TARGET = 12000 };
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.map_size = 256 << 10; /* the parent grows the map while the child reads */
    djs_log_t *log = open_ok(dir, &o);
    append_n(log, FIRST, 3, 100);
    djs_log_close(log); /* no env and no writer thread across fork */

    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        _exit(ro_child(dir, fds[1], TARGET));
    }
    close(fds[1]);
    ck_assert_msg(wait_byte(fds[0], 60000) == 0, "reader child never got ready");
    log = open_ok(dir, &o);
    while (djs_log_last_seq(log) < TARGET) {
        uint64_t n = TARGET - djs_log_last_seq(log);
        append_n(log, n < 150 ? n : 150, 3, 700);
    }
    djs_log_stats_t st;
    djs_log_get_stats(log, &st);
    djs_log_close(log);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader child failed: status 0x%x (exit %d)", status,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ck_assert_uint_gt(st.map_grows, 0);
}
END_TEST

/* ---- backup ------------------------------------------------------------------------------- */

static int backup_child(const char *dir, const char *dest, int ready_fd)
{
    djs_log_options_t ro;
    djs_log_options_init(&ro);
    ro.readonly = 1;
    djs_log_t *log = NULL;
    if (djs_log_open(&log, dir, &ro) != 0)
        return 10;
    if (write(ready_fd, "r", 1) != 1)
        return 11;
    usleep(20000); /* let the parent get going */
    int rc = djs_log_backup(log, dest);
    djs_log_close(log);
    return rc == 0 ? 0 : 20;
}

START_TEST(backup_while_writing)
{
    enum { FIRST = 5000 };
    const char *base = tu_tmpdir();
    char *dir = path_join(base, "log"), *dest = path_join(base, "backup");
    djs_log_t *log = open_ok(dir, NULL);
    append_n(log, FIRST, 7, 200);
    djs_log_close(log);

    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        _exit(backup_child(dir, dest, fds[1]));
    }
    close(fds[1]);
    ck_assert_msg(wait_byte(fds[0], 60000) == 0, "backup child never got ready");
    close(fds[0]);
    log = open_ok(dir, NULL);
    int status = 0;
    pid_t w;
    do {
        append_n(log, 100, 7, 200);
    } while ((w = waitpid(pid, &status, WNOHANG)) == 0);
    ck_assert_int_eq(w, pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "backup child failed: status 0x%x", status);
    uint64_t total = djs_log_last_seq(log);
    ck_assert_uint_gt(total, FIRST);
    djs_log_close(log);

    ck_assert_uint_eq(mode_of(dest), 0700);
    djs_log_options_t ro;
    djs_log_options_init(&ro);
    ro.readonly = 1;
    djs_log_t *copy = open_ok(dest, &ro);
    log = open_ok(dir, &ro);
    uint64_t k = verify_ok(copy); /* dense 1..K, chained, index consistent */
    fprintf(stderr, "backup: %llu of %llu records (%d before the backup started)\n", (unsigned long long)k,
            (unsigned long long)total, FIRST);
    ck_assert_uint_ge(k, FIRST);
    ck_assert_uint_le(k, total);
    ck_assert_uint_eq(djs_log_last_seq(copy), k);
    djs_buf_t a, b;
    djs_buf_init(&a);
    djs_buf_init(&b);
    for (uint64_t s = 1; s <= k; s++) {
        djs_buf_reset(&a);
        djs_buf_reset(&b);
        ck_assert_int_eq(djs_log_get(log, s, &a), 0);
        ck_assert_int_eq(djs_log_get(copy, s, &b), 0);
        ck_assert_uint_eq(a.len, b.len);
        ck_assert_mem_eq(a.base, b.base, a.len);
    }
    ck_assert_int_eq(djs_log_get(copy, k + 1, &b), DJS_ENOTFOUND);
    djs_buf_dispose(&a);
    djs_buf_dispose(&b);

    /* never over an existing copy, nor into a file */
    ck_assert_int_eq(djs_log_backup(log, dest), DJS_EEXISTS);
    char *file = path_join(base, "file");
    ck_assert_int_eq(tu_write_file(file, "x", 1), 0);
    ck_assert_int_eq(djs_log_backup(log, file), DJS_EINVAL);
    djs_log_close(copy);
    djs_log_close(log);

    /* the copy is a working log: it can be opened for writing and extended */
    log = open_ok(dest, NULL);
    append_n(log, 10, 7, 0);
    ck_assert_uint_eq(verify_ok(log), k + 10);
    djs_log_close(log);
}
END_TEST

/* ---- options, bad directories ----------------------------------------------------- */

START_TEST(max_batch_forces_hand_over)
{
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.max_batch = 10;
    djs_log_t *log = open_ok(dir, &o);
    for (uint64_t i = 1; i <= 25; i++)
        ck_assert_int_eq(lt_append(log, NULL, i, 0, NULL), 0);
    /* two full batches were handed over without flush, sync or loop */
    uint64_t deadline = now_ms() + 20000;
    while (djs_log_durable_seq(log) < 20 && now_ms() < deadline)
        usleep(1000);
    ck_assert_uint_eq(djs_log_durable_seq(log), 20);
    /* the last five stay staged until someone hands them over */
    usleep(50000);
    ck_assert_uint_eq(djs_log_durable_seq(log), 20);
    djs_log_stats_t st;
    djs_log_get_stats(log, &st);
    ck_assert_uint_eq(st.events, 20);
    ck_assert_uint_ge(st.commits, 1);
    ck_assert_uint_le(st.commits, 2);
    djs_log_flush(log);
    deadline = now_ms() + 20000;
    while (djs_log_durable_seq(log) < 25 && now_ms() < deadline)
        usleep(1000);
    ck_assert_uint_eq(djs_log_durable_seq(log), 25);
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_uint_eq(verify_ok(log), 25);
    djs_log_close(log);
}
END_TEST

/* An LMDB environment made without djs: named DBs of our choosing (the
 * "meta" one tagged with format), or with no DBs one plain key in the main
 * database (none if format is ""). */
static void make_env(const char *dir, const char *const *dbs, const char *format)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    mkdir(dir, 0700);
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    if (dbs[0] == NULL && format == NULL) {
        MDB_val k = {3, "key"}, v = {5, "value"};
        ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
        ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    }
    for (size_t i = 0; dbs[i] != NULL; i++) {
        ck_assert_int_eq(mdb_dbi_open(txn, dbs[i], MDB_CREATE, &dbi), 0);
        if (strcmp(dbs[i], "meta") == 0 && format != NULL) {
            MDB_val k = {6, "format"}, v = {strlen(format), (void *)format};
            ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
        } else {
            MDB_val k = {3, "key"}, v = {5, "value"};
            ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
        }
    }
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Number of entries in an environment's main database (named DBs count). */
static size_t env_entries(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    ck_assert_int_eq(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return st.ms_entries;
}

START_TEST(open_of_non_log_fails_cleanly)
{
    const char *base = tu_tmpdir();
    djs_log_options_t ro;
    djs_log_options_init(&ro);
    ro.readonly = 1;
    djs_log_t *log = NULL;

    /* a plain empty directory */
    char *empty = path_join(base, "empty");
    ck_assert_int_eq(mkdir(empty, 0700), 0);
    ck_assert_int_eq(djs_log_open(&log, empty, &ro), DJS_ENOTFOUND);
    ck_assert_ptr_null(log);
    ck_assert(!file_exists(path_join(empty, "data.mdb")));
    ck_assert(!file_exists(path_join(empty, "lock.mdb")));

    /* an LMDB environment with other databases: refused, and left alone */
    char *other = path_join(base, "other");
    static const char *const other_dbs[] = {"jobs", "users", NULL};
    make_env(other, other_dbs, NULL);
    ck_assert_int_eq(djs_log_open(&log, other, &ro), DJS_ECORRUPT);
    ck_assert_int_eq(djs_log_open(&log, other, NULL), DJS_ECORRUPT);
    ck_assert_ptr_null(log);
    ck_assert_int_eq(env_entries(other), 2); /* still just jobs and users */

    /* an LMDB environment with plain keys in its main database */
    char *plain = path_join(base, "plain");
    static const char *const no_dbs[] = {NULL};
    make_env(plain, no_dbs, NULL);
    ck_assert_int_eq(djs_log_open(&log, plain, &ro), DJS_ECORRUPT);
    ck_assert_int_eq(djs_log_open(&log, plain, NULL), DJS_ECORRUPT);
    ck_assert_int_eq(env_entries(plain), 1);

    /* an empty LMDB environment (as a crash during the first open leaves it):
     * no log to read yet, but a writer makes it one */
    char *bare = path_join(base, "bare");
    make_env(bare, no_dbs, "");
    ck_assert_int_eq(env_entries(bare), 0);
    ck_assert_int_eq(djs_log_open(&log, bare, &ro), DJS_ENOTFOUND);
    log = open_ok(bare, NULL);
    append_n(log, 3, 1, 0);
    djs_log_close(log);
    log = open_ok(bare, &ro);
    ck_assert_uint_eq(verify_ok(log), 3);
    djs_log_close(log);
    log = NULL;

    /* our databases, but another format tag */
    char *fmt = path_join(base, "format");
    static const char *const our_dbs[] = {"events", "entity", "snapshots", "output", "meta", NULL};
    make_env(fmt, our_dbs, "djs-log-99");
    ck_assert_int_eq(djs_log_open(&log, fmt, &ro), DJS_EVERSION);
    ck_assert_int_eq(djs_log_open(&log, fmt, NULL), DJS_EVERSION);
    ck_assert_ptr_null(log);

    /* not an LMDB file at all */
    char *junk = path_join(base, "junk");
    ck_assert_int_eq(mkdir(junk, 0700), 0);
    static uint8_t garbage[16384];
    memset(garbage, 0x5a, sizeof(garbage));
    ck_assert_int_eq(tu_write_file(path_join(junk, "data.mdb"), garbage, sizeof(garbage)), 0);
    int rc = djs_log_open(&log, junk, &ro);
    ck_assert_msg(rc == DJS_ECORRUPT || rc == DJS_EVERSION, "open of junk: %s", djs_err_name(rc));
    rc = djs_log_open(&log, junk, NULL);
    ck_assert_msg(rc == DJS_ECORRUPT || rc == DJS_EVERSION, "rw open of junk: %s", djs_err_name(rc));
    ck_assert_ptr_null(log);

    /* a djs log whose last record does not decode */
    char *torn = path_join(base, "torn");
    log = open_ok(torn, NULL);
    append_n(log, 5, 1, 0);
    djs_log_close(log);
    log = NULL;
    {
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        uint64_t seq = 6;
        ck_assert_int_eq(mdb_env_create(&env), 0);
        ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
        ck_assert_int_eq(mdb_env_open(env, torn, 0, 0600), 0);
        ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
        ck_assert_int_eq(mdb_dbi_open(txn, "events", MDB_INTEGERKEY, &dbi), 0);
        MDB_val k = {8, &seq}, v = {4, "junk"};
        ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, MDB_APPEND), 0);
        ck_assert_int_eq(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
    }
    ck_assert_int_eq(djs_log_open(&log, torn, NULL), DJS_ECORRUPT);
    ck_assert_int_eq(djs_log_open(&log, torn, &ro), DJS_ECORRUPT);
    ck_assert_ptr_null(log);
}
END_TEST

/* ---- snapshots in pieces -------------------------------------------------- */

/* Entries in one of the log's databases, read through its environment. */
static size_t db_entries(djs_log_t *log, const char *name)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    ck_assert_int_eq(mdb_txn_begin(djs_log_env(log), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, name, 0, &dbi), 0);
    ck_assert_int_eq(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    return st.ms_entries;
}

static uint8_t *snap_bytes(size_t len, uint8_t salt)
{
    uint8_t *p = malloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 131 + i / 4096 + salt);
    return p;
}

static void expect_snapshot(djs_log_t *log, uint64_t max_seq, uint64_t want_seq, const uint8_t *want, size_t len)
{
    djs_buf_t b;
    uint64_t seq = 0;
    djs_buf_init(&b);
    ck_assert_int_eq(djs_log_get_snapshot(log, max_seq, &seq, &b), 0);
    ck_assert_uint_eq(seq, want_seq);
    ck_assert_uint_eq(b.len, len);
    ck_assert_msg(memcmp(b.base, want, len) == 0, "snapshot at %llu differs", (unsigned long long)want_seq);
    djs_buf_dispose(&b);
}

START_TEST(snapshot_pieces_across_commits)
{
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.snapshot_piece = 4096;
    djs_log_t *log = open_ok(dir, &o);
    append_n(log, 10, 3, 0);
    const size_t len = 50000, npieces = (len + 4095) / 4096;
    uint8_t *a = snap_bytes(len, 1), *c = snap_bytes(4096 * 3, 7);
    djs_log_stats_t s0, s1;
    djs_log_get_stats(log, &s0);
    ck_assert_int_eq(djs_log_put_snapshot(log, 10, a, len, 8), 0);
    /* events go on while the pieces are written */
    for (uint64_t i = 0; i < 40; i++) {
        ck_assert_int_eq(lt_append(log, NULL, 11 + i, 0, NULL), 0);
        djs_log_flush(log);
    }
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_int_eq(djs_log_snapshot_pending(log), 0);
    djs_log_get_stats(log, &s1);
    ck_assert_uint_eq(s1.snapshot_pieces - s0.snapshot_pieces, npieces);
    ck_assert_uint_ge(s1.commits - s0.commits, npieces); /* one piece per transaction at most */
    ck_assert_uint_eq(db_entries(log, "snappieces"), npieces);
    expect_snapshot(log, UINT64_MAX, 10, a, len);
    /* a whole number of pieces, then a 1-byte one */
    ck_assert_int_eq(djs_log_put_snapshot(log, 30, c, 4096 * 3, 8), 0);
    ck_assert_int_eq(djs_log_put_snapshot(log, 40, "x", 1, 8), 0);
    ck_assert_int_eq(djs_log_put_snapshot(log, 41, "x", 0, 8), DJS_EINVAL);
    ck_assert_int_eq(djs_log_put_snapshot(log, 51, "x", 1, 8), DJS_EINVAL); /* not appended */
    ck_assert_int_eq(djs_log_sync(log), 0);
    expect_snapshot(log, 35, 30, c, 4096 * 3);
    expect_snapshot(log, UINT64_MAX, 40, (const uint8_t *)"x", 1);
    expect_snapshot(log, 29, 10, a, len);
    /* replaced at the same seq */
    ck_assert_int_eq(djs_log_put_snapshot(log, 10, c, 5000, 8), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    expect_snapshot(log, 29, 10, c, 5000);
    ck_assert_uint_eq(db_entries(log, "snappieces"), 2 + 3 + 1);
    djs_log_close(log);

    /* read back after a reopen, read-only too */
    log = open_ok(dir, &o);
    expect_snapshot(log, 29, 10, c, 5000);
    djs_log_close(log);
    djs_log_options_t ro;
    djs_log_options_init(&ro);
    ro.readonly = 1;
    log = open_ok(dir, &ro);
    expect_snapshot(log, 35, 30, c, 4096 * 3);
    djs_log_close(log);
    free(a);
    free(c);
}
END_TEST

/* Fails piece-only commits from the n-th on (a crash between pieces). */
typedef struct piece_fault {
    _Atomic int armed;
    _Atomic int seen;
    int fail_on;
} piece_fault_t;

static int piece_fault_cb(void *arg, uint64_t first, uint64_t last)
{
    piece_fault_t *f = arg;
    (void)last;
    if (!atomic_load(&f->armed) || first != 0)
        return 0;
    return atomic_fetch_add(&f->seen, 1) + 1 >= f->fail_on ? EIO : 0;
}

START_TEST(snapshot_cut_short_is_ignored)
{
    char *dir = path_join(tu_tmpdir(), "log");
    static piece_fault_t f;
    f.fail_on = 4;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.snapshot_piece = 4096;
    o.fault = piece_fault_cb;
    o.fault_arg = &f;
    djs_log_t *log = open_ok(dir, &o);
    append_n(log, 20, 2, 0);
    uint8_t *a = snap_bytes(20000, 3), *b = snap_bytes(40000, 9);
    ck_assert_int_eq(djs_log_put_snapshot(log, 10, a, 20000, 8), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    atomic_store(&f.armed, 1);
    ck_assert_int_eq(djs_log_put_snapshot(log, 20, b, 40000, 8), 0);
    ck_assert_int_eq(djs_log_sync(log), DJS_ESTORAGE); /* three pieces in, the fourth fails */
    expect_snapshot(log, UINT64_MAX, 10, a, 20000);    /* the cut one is not seen */
    ck_assert_uint_eq(db_entries(log, "snappieces"), 5 + 3);
    djs_log_close(log);

    o.fault = NULL;
    log = open_ok(dir, &o);
    ck_assert_uint_eq(db_entries(log, "snappieces"), 5); /* its pieces are gone */
    expect_snapshot(log, UINT64_MAX, 10, a, 20000);
    /* a new one at the same seq is written whole */
    ck_assert_int_eq(djs_log_put_snapshot(log, 20, b, 40000, 8), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    expect_snapshot(log, UINT64_MAX, 20, b, 40000);
    djs_log_close(log);
    free(a);
    free(b);
}
END_TEST

START_TEST(snapshot_pruning_and_old_blobs)
{
    char *dir = path_join(tu_tmpdir(), "log");
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.snapshot_piece = 1000;
    djs_log_t *log = open_ok(dir, &o);
    append_n(log, 10, 2, 0);
    /* a whole-blob snapshot as logs before pieces have them */
    {
        MDB_txn *txn;
        MDB_dbi dbi;
        uint64_t seq = 1;
        MDB_val k = {sizeof(seq), &seq}, v = {6, "legacy"};
        ck_assert_int_eq(mdb_txn_begin(djs_log_env(log), NULL, 0, &txn), 0);
        ck_assert_int_eq(mdb_dbi_open(txn, "snapshots", MDB_INTEGERKEY, &dbi), 0);
        ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
        ck_assert_int_eq(mdb_txn_commit(txn), 0);
    }
    expect_snapshot(log, 5, 1, (const uint8_t *)"legacy", 6);
    uint8_t *a = snap_bytes(2500, 5);
    for (uint64_t seq = 2; seq <= 6; seq++)
        ck_assert_int_eq(djs_log_put_snapshot(log, seq, a, 2500, 3), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_uint_eq(db_entries(log, "snapshots"), 3);
    ck_assert_uint_eq(db_entries(log, "snappieces"), 3 * 3);
    djs_buf_t b;
    uint64_t seq = 0;
    djs_buf_init(&b);
    ck_assert_int_eq(djs_log_get_snapshot(log, 3, &seq, &b), DJS_ENOTFOUND); /* the blob and 2, 3 pruned */
    djs_buf_dispose(&b);
    expect_snapshot(log, 4, 4, a, 2500);
    expect_snapshot(log, UINT64_MAX, 6, a, 2500);
    free(a);
    djs_log_close(log);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("basics");
    tcase_add_test(tc, open_creates_private_dir_and_files);
    tcase_add_test(tc, reopen_resumes_seq_chain_and_clock);
    tcase_add_test(tc, append_dense_seqs_and_get_roundtrip);
    tcase_add_test(tc, scan_ranges_and_early_stop);
    tcase_add_test(tc, scan_across_read_chunks);
    tcase_add_test(tc, scan_entity_is_exact);
    tcase_add_test(tc, seq_at_time_lookups);
    suite_add_tcase(s, tc);

    tc = tcase_create("durability");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, durable_callbacks_and_tail_on_loop);
    tcase_add_test(tc, durable_callbacks_without_loop);
    tcase_add_test(tc, tail_stopped_by_another_tail);
    tcase_add_test(tc, group_commit_under_concurrent_appends);
    tcase_add_test(tc, map_grows_when_full);
    tcase_add_test(tc, fail_stop_on_commit_error);
    tcase_add_test(tc, fail_stop_without_loop);
    tcase_add_test(tc, map_full_from_commit_is_retried);
    tcase_add_test(tc, max_batch_forces_hand_over);
    suite_add_tcase(s, tc);

    tc = tcase_create("readers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, readonly_handle_rules);
    tcase_add_test(tc, readonly_reader_in_child_while_parent_appends);
    tcase_add_test(tc, backup_while_writing);
    tcase_add_test(tc, open_of_non_log_fails_cleanly);
    suite_add_tcase(s, tc);

    tc = tcase_create("snapshots");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, snapshot_pieces_across_commits);
    tcase_add_test(tc, snapshot_cut_short_is_ignored);
    tcase_add_test(tc, snapshot_pruning_and_old_blobs);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(log_suite)
