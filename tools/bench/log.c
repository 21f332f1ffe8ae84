/* djs bench log: the real append path against a raw LMDB loop.
 *
 * Phase 1 (djs): N events through djs_log_append on a libuv loop (codec,
 * hash chain, entity index, group-commit writer thread, durable commits),
 * with at most --inflight events appended but not yet durable. Latency is
 * append -> durable notification, per event.
 * Phase 2 (raw): the same LMDB writes (main log with MDB_APPEND plus the
 * entity index, same entity sequence, same record sizes, same events per
 * transaction as phase 1 averaged) from one thread, without codec, chain or
 * threads: the physical baseline.
 * Phase 3 (read): a sequential scan of the phase 1 log decoding every record.
 */
#include <dirent.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "tools/bench/bench.h"
#include "tools/cli/args.h"

typedef struct bench {
    uv_loop_t loop;
    uv_idle_t idle;
    djs_log_t *log;
    djs_log_tail_t tail;
    uint64_t n, appended, base, done, inflight;
    uint64_t *t_app;
    uint32_t *lat_us;
    uint64_t t_start, t_end;
    djs_id_t *ents;
    uint64_t nents;
    int uniform; /* entity choice: uniform over all, or a lifecycle window */
    uint64_t rng[2];
    uint8_t *body;
    size_t body_len;
    int err;
} bench_t;

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void on_idle(uv_idle_t *h);

/* Which entity event k belongs to. "window" models job lifecycles: entities
 * are created in time order and each gets its events while it is among the
 * ~1,000 most recent ones, so the index sees time-ordered keys, as with real
 * UUIDv7 job ids. "uniform" spreads events over all entities at random, the
 * worst case for the index. Both phases use the same sequence. */
static uint64_t pick_entity(bench_t *b, uint64_t k)
{
    uint64_t r = djs_rand_next(b->rng);
    if (b->uniform)
        return r % b->nents;
    uint64_t per = b->n / b->nents ? b->n / b->nents : 1;
    uint64_t i = k / per + r % 1024;
    return i >= b->nents ? b->nents - 1 - (r % 64) % b->nents : i;
}

static void on_tail(void *arg, uint64_t durable)
{
    bench_t *b = arg;
    uint64_t now = djs_monotonic_ns();
    for (uint64_t s = b->base + b->done + 1; s <= durable; s++) {
        uint64_t i = s - b->base - 1;
        b->lat_us[i] = (uint32_t)((now - b->t_app[i]) / 1000);
    }
    b->done = durable - b->base;
    if (b->done == b->n) {
        b->t_end = now;
        djs_log_tail_stop(b->log, &b->tail);
        return;
    }
    if (!uv_is_active((uv_handle_t *)&b->idle) && b->appended < b->n)
        uv_idle_start(&b->idle, on_idle);
}

static void on_idle(uv_idle_t *h)
{
    bench_t *b = h->data;
    for (int k = 0; k < 4096 && b->appended < b->n; k++) {
        if (b->appended - b->done >= b->inflight) {
            uv_idle_stop(h); /* window full: the tail callback restarts us */
            return;
        }
        djs_event_t ev = {0};
        ev.type = DJS_EV_JOB_PROGRESS;
        ev.actor = "bench";
        ev.actor_len = 5;
        ev.entity = b->ents[pick_entity(b, b->appended)];
        ev.body = b->body;
        ev.body_len = b->body_len;
        b->t_app[b->appended] = djs_monotonic_ns();
        int rc = djs_log_append(b->log, &ev);
        if (rc != 0) {
            b->err = rc;
            uv_idle_stop(h);
            uv_stop(&b->loop);
            return;
        }
        b->appended++;
    }
    if (b->appended == b->n)
        uv_idle_stop(h);
}

/* A body map {"p": bin} with pad bytes of padding. */
static void fill_body(bench_t *b, size_t pad)
{
    b->body = djs_realloc(b->body, pad + 6);
    uint8_t *p = b->body;
    *p++ = 0x81;
    *p++ = 0xa1;
    *p++ = 'p';
    if (pad <= 255) {
        *p++ = 0xc4;
        *p++ = (uint8_t)pad;
    } else {
        *p++ = 0xc5;
        *p++ = (uint8_t)(pad >> 8);
        *p++ = (uint8_t)pad;
    }
    for (size_t i = 0; i < pad; i++)
        *p++ = (uint8_t)djs_rand_next(b->rng);
    b->body_len = (size_t)(p - b->body);
}

/* Size the body so that a whole record (with a seq as large as this run's
 * and a current timestamp) is `size` bytes, or as close as the format allows. */
static void make_body(bench_t *b, size_t size)
{
    size_t pad = 0;
    for (int round = 0; round < 3; round++) {
        fill_body(b, pad);
        djs_event_t ev = {0};
        uint8_t zero[DJS_HASH_LEN] = {0};
        djs_buf_t tmp;
        djs_buf_init(&tmp);
        ev.type = DJS_EV_JOB_PROGRESS;
        ev.actor = "bench";
        ev.actor_len = 5;
        ev.seq = b->n;
        ev.ts_ns = djs_wall_ns();
        ev.entity = b->ents[0];
        ev.body = b->body;
        ev.body_len = b->body_len;
        djs_event_encode(&ev, zero, &tmp);
        size_t len = tmp.len;
        djs_buf_dispose(&tmp);
        if (len == size || (len > size && pad == 0))
            return;
        pad = len < size ? pad + (size - len) : pad - (len - size < pad ? len - size : pad);
    }
}

static int raw_lmdb(const char *dir, bench_t *b, size_t rec_len, uint64_t per_txn, double *secs)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi ev_db, ent_db;
    MDB_cursor *c;
    uint8_t *val = djs_malloc(rec_len);
    int rc;
    for (size_t i = 0; i < rec_len; i++)
        val[i] = (uint8_t)djs_rand_next(b->rng);
    mkdir(dir, 0700);
    if ((rc = mdb_env_create(&env)) != 0)
        goto out;
    mdb_env_set_maxdbs(env, 4);
    mdb_env_set_mapsize(env, (size_t)(b->n * (rec_len + 128) * 2 + (64u << 20)));
    if ((rc = mdb_env_open(env, dir, MDB_NOTLS, 0600)) != 0)
        goto out_env;
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
        goto out_env;
    mdb_dbi_open(txn, "events", MDB_CREATE | MDB_INTEGERKEY, &ev_db);
    mdb_dbi_open(txn, "entity", MDB_CREATE, &ent_db);
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto out_env;

    djs_rand_seed(b->rng, 42); /* same entity sequence as phase 1 */
    uint64_t t0 = djs_monotonic_ns();
    for (uint64_t seq = 1; seq <= b->n;) {
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
            goto out_env;
        mdb_cursor_open(txn, ev_db, &c);
        for (uint64_t k = 0; k < per_txn && seq <= b->n; k++, seq++) {
            MDB_val key = {8, &seq}, v = {rec_len, val};
            if ((rc = mdb_cursor_put(c, &key, &v, MDB_APPEND)) != 0)
                break;
            uint8_t ek[24];
            memcpy(ek, b->ents[pick_entity(b, seq - 1)].b, 16);
            for (int i = 0; i < 8; i++)
                ek[16 + i] = (uint8_t)(seq >> (56 - 8 * i));
            MDB_val kk = {24, ek}, vv = {0, NULL};
            if ((rc = mdb_put(txn, ent_db, &kk, &vv, 0)) != 0)
                break;
        }
        mdb_cursor_close(c);
        if (rc != 0) {
            mdb_txn_abort(txn);
            goto out_env;
        }
        if ((rc = mdb_txn_commit(txn)) != 0)
            goto out_env;
    }
    *secs = (djs_monotonic_ns() - t0) / 1e9;
out_env:
    mdb_env_close(env);
out:
    djs_free(val);
    return rc == 0 ? 0 : djs_err_from_mdb(rc);
}

static int count_record(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    uint64_t *n = arg;
    djs_event_t ev;
    (void)seq;
    if (djs_event_decode(rec, len, &ev) != 0)
        return DJS_ECORRUPT;
    (*n)++;
    return 0;
}

static int run_djs(bench_t *b, const char *dir, double *secs)
{
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.map_size = (size_t)(b->n * 512) + (64u << 20);
    int rc = djs_log_open(&b->log, dir, &o);
    if (rc != 0)
        return rc;
    uv_loop_init(&b->loop);
    djs_log_attach(b->log, &b->loop);
    uv_idle_init(&b->loop, &b->idle);
    b->idle.data = b;
    b->base = djs_log_last_seq(b->log);
    djs_log_tail_start(b->log, &b->tail, on_tail, b);
    djs_rand_seed(b->rng, 42);
    b->t_start = djs_monotonic_ns();
    uv_idle_start(&b->idle, on_idle);
    while (b->done < b->n && b->err == 0)
        uv_run(&b->loop, UV_RUN_ONCE);
    *secs = (b->t_end - b->t_start) / 1e9;
    uv_close((uv_handle_t *)&b->idle, NULL);
    return b->err;
}

int djs_bench_log(int argc, char **argv)
{
    const char *usage =
        "djs bench log [--events N] [--size BYTES] [--entities E] [--inflight W] [--pattern window|uniform] [--dir DIR] [--keep]";
    uint64_t n = 1000000, size = 128, nents = 200000, inflight = 65536;
    const char *v, *dir = djs_cli_opt(argc, argv, "--dir");
    if (((v = djs_cli_opt(argc, argv, "--events")) && djs_cli_u64(v, &n)) ||
        ((v = djs_cli_opt(argc, argv, "--size")) && djs_cli_u64(v, &size)) ||
        ((v = djs_cli_opt(argc, argv, "--entities")) && djs_cli_u64(v, &nents)) ||
        ((v = djs_cli_opt(argc, argv, "--inflight")) && djs_cli_u64(v, &inflight)) || n == 0 || nents == 0 || inflight == 0 ||
        size > 65536) {
        fprintf(stderr, "djs bench log: bad number\nusage: %s\n", usage);
        return 2;
    }
    int keep = djs_cli_flag(argc, argv, "--keep");
    const char *pattern = djs_cli_opt(argc, argv, "--pattern");
    if (pattern != NULL && strcmp(pattern, "uniform") != 0 && strcmp(pattern, "window") != 0) {
        fprintf(stderr, "djs bench log: --pattern is window or uniform\n");
        return 2;
    }
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 0, usage) < 0)
        return 2;

    char base[4096], real_dir[4200], raw_dir[4200];
    if (dir != NULL) {
        snprintf(base, sizeof(base), "%s", dir);
        if (mkdir(base, 0700) != 0 && access(base, W_OK) != 0) {
            perror(base);
            return 1;
        }
    } else {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
        snprintf(base, sizeof(base), "%s/djs-bench-XXXXXX", tmp);
        if (mkdtemp(base) == NULL) {
            perror(base);
            return 1;
        }
    }
    snprintf(real_dir, sizeof(real_dir), "%s/djs", base);
    snprintf(raw_dir, sizeof(raw_dir), "%s/raw", base);

    bench_t b;
    memset(&b, 0, sizeof(b));
    b.n = n;
    b.nents = nents;
    b.inflight = inflight;
    b.uniform = pattern != NULL && strcmp(pattern, "uniform") == 0;
    djs_rand_seed(b.rng, 7);
    b.t_app = djs_malloc(n * sizeof(uint64_t));
    b.lat_us = djs_malloc(n * sizeof(uint32_t));
    b.ents = djs_malloc(nents * sizeof(djs_id_t));
    djs_idgen_t g;
    djs_idgen_init(&g, 99);
    uint64_t ms = djs_wall_ns() / 1000000;
    for (uint64_t i = 0; i < nents; i++)
        djs_id_new(&g, ms + i / 64, &b.ents[i]); /* time-ordered, like real job ids */
    make_body(&b, size);

    printf("bench log: %" PRIu64 " events of %" PRIu64 " bytes over %" PRIu64 " entities (%s), in %s\n", n, size, nents,
           b.uniform ? "uniform" : "window", base);
    fflush(stdout);
    double t_djs = 0, t_raw = 0;
    int rc = run_djs(&b, real_dir, &t_djs);
    if (rc != 0) {
        fprintf(stderr, "bench log: append failed: %s\n", djs_strerror(rc));
        return 1;
    }
    djs_log_stats_t st;
    djs_log_get_stats(b.log, &st);
    size_t rec_len = st.events ? (size_t)(st.bytes / st.events) : size;
    uint64_t per_txn = st.commits ? (st.events + st.commits - 1) / st.commits : n;
    qsort(b.lat_us, n, sizeof(uint32_t), cmp_u32);
    uint32_t p50 = b.lat_us[n / 2], p99 = b.lat_us[(n * 99) / 100 >= n ? n - 1 : (n * 99) / 100], pmax = b.lat_us[n - 1];
    printf("djs path:  %.0f durable events/s (%.2fs), %" PRIu64 " commits, %" PRIu64 " events/commit, %zu-byte records\n",
           n / t_djs, t_djs, st.commits, per_txn, rec_len);
    printf("           append->durable p50 %u us, p99 %u us, max %u us; commit avg %.2f ms, max %.2f ms\n", p50, p99, pmax,
           st.commits ? st.commit_ns_sum / 1e6 / st.commits : 0.0, st.commit_ns_max / 1e6);
    fflush(stdout);

    uint64_t nread = 0, t0 = djs_monotonic_ns();
    rc = djs_log_scan(b.log, b.base + 1, UINT64_MAX, count_record, &nread);
    double t_read = (djs_monotonic_ns() - t0) / 1e9;
    if (rc != 0 || nread != n) {
        fprintf(stderr, "bench log: read back %" PRIu64 " of %" PRIu64 " events: %s\n", nread, n, djs_strerror(rc));
        return 1;
    }
    printf("read:      %.0f events/s (sequential scan, decoding every record)\n", n / t_read);
    djs_log_close(b.log);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    uv_loop_close(&b.loop);

    rc = raw_lmdb(raw_dir, &b, rec_len, per_txn, &t_raw);
    if (rc != 0) {
        fprintf(stderr, "bench log: raw LMDB loop failed: %s\n", djs_strerror(rc));
        return 1;
    }
    printf("raw LMDB:  %.0f events/s (%.2fs), same writes, %" PRIu64 " events per transaction, one thread\n", n / t_raw, t_raw,
           per_txn);
    printf("ratio djs/raw: %.2f\n", t_raw / t_djs);
    printf("{\"bench\":\"log\",\"pattern\":\"%s\",\"events\":%" PRIu64 ",\"size\":%" PRIu64 ",\"entities\":%" PRIu64
           ",\"durable_events_per_s\":%.0f,\"raw_lmdb_events_per_s\":%.0f,\"ratio_vs_raw\":%.3f,"
           "\"append_to_durable_p50_us\":%u,\"append_to_durable_p99_us\":%u,\"read_events_per_s\":%.0f,"
           "\"commits\":%" PRIu64 ",\"events_per_commit\":%" PRIu64 "}\n",
           b.uniform ? "uniform" : "window", n, size, nents, n / t_djs, n / t_raw, t_raw / t_djs, p50, p99, n / t_read, st.commits,
           per_txn);
    if (!keep)
        rm_tree(real_dir), rm_tree(raw_dir), rmdir(base);
    djs_free(b.t_app);
    djs_free(b.lat_us);
    djs_free(b.ents);
    djs_free(b.body);
    return 0;
}
