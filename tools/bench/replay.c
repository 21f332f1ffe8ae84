/* djs bench replay: the audit and disaster-recovery tools on a big log.
 *
 * Build: a log of --events N events from a realistic workload, written
 * through the engine in process (no HTTP): workflows of three jobs (two
 * depend on the first), one job in ten fails its first attempt and is
 * retried, one in four prints output, workers heartbeat; snapshots every
 * N/5 events, as a server takes them.
 * Then, each timed on its own:
 *   verify   djs_verify_run with every check (chain, index, output, a
 *            replay reproducing each snapshot's digest);
 *   rebuild  a replay of the whole log into a fresh projection (no
 *            snapshot), as `djs replay rebuild`;
 *   export / import  (replay/export.h, replay/import.h) to msgpack and back;
 *   cold start  `djs serve` on the directory until /health answers: first
 *            on a log never checked (the start-up chain check hashes all of
 *            it: cold_start_first_s), then a restart from its verified
 *            checkpoint and snapshot (cold_start_s), then on a copy without
 *            snapshots (cold_start_no_snapshot_s);
 *   backup   a complete backup (replay/backup.h) while a writer thread keeps
 *            appending: MB/s, and the writer's append-to-durable p99 during
 *            the backup over its p99 without one;
 *   restore  (replay/restore.h) of that backup into a new directory.
 * The last line is JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "projections/replay.h"
#include "projections/state.h"
#include "replay/backup.h"
#include "replay/export.h"
#include "replay/import.h"
#include "replay/restore.h"
#include "replay/verify.h"
#include "scheduler/engine.h"
#include "tools/bench/bench.h"
#include "tools/bench/util.h"
#include "tools/cli/args.h"

#define NAME "bench replay"

static int fail(const char *what, int rc, djs_engine_t *e)
{
    fprintf(stderr, NAME ": %s: %s%s%s\n", what, djs_strerror(rc), e ? ": " : "", e ? djs_engine_errmsg(e) : "");
    return 1;
}

static double secs(uint64_t t0)
{
    return (djs_monotonic_ns() - t0) / 1e9;
}

/* ---- the workload --------------------------------------------------------------------------- */

typedef struct placed {
    djs_id_t worker, job;
} placed_t;

typedef struct plist {
    placed_t *p;
    uint32_t n, cap;
} plist_t;

static void on_assign(void *arg, const djs_id_t *worker, const djs_id_t *job)
{
    plist_t *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->p = djs_realloc(l->p, l->cap * sizeof(placed_t));
    }
    l->p[l->n].worker = *worker;
    l->p[l->n].job = *job;
    l->n++;
}

static int build(const char *dir, uint64_t target, uint64_t *events)
{
    djs_log_t *log;
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.map_size = (size_t)target * 400 + ((size_t)256 << 20);
    int rc = djs_log_open(&log, dir, &lo);
    if (rc != 0)
        return fail("open the log", rc, NULL);
    plist_t pl = {0};
    djs_engine_config_t ec;
    djs_engine_config_init(&ec);
    ec.snapshot_every = target / 5 > 1000 ? target / 5 : 1000;
    ec.on_assign = on_assign;
    ec.assign_arg = &pl;
    ec.seed = 1;
    djs_engine_t *e;
    if ((rc = djs_engine_open(&e, log, NULL, &ec, NULL, NULL)) != 0)
        return fail("open the engine", rc, NULL);
    enum { WORKERS = 32, SLOTS = 64 };
    djs_id_t wids[WORKERS];
    char name[64];
    uint64_t seq, n = 0, t0 = djs_monotonic_ns();
    for (int w = 0; w < WORKERS; w++) {
        djs_worker_info_t wi = {0};
        snprintf(name, sizeof(name), "replay-worker-%02d", w);
        wi.name = (djs_str_t){name, strlen(name)};
        wi.host = (djs_str_t){"localhost", 9};
        wi.slots = SLOTS;
        if ((rc = djs_engine_register(e, "bench", &wi, NULL, 0, &wids[w], &seq)) != 0)
            return fail("register", rc, e);
    }
    static const uint8_t payload[] = {0x82, 0xa7, 'c', 'o', 'm', 'm', 'a',  'n',  'd', 0xa4, 'm', 'a', 'k',
                                      'e',  0xa4, 'a', 'r', 'g', 's', 0x91, 0xa5, 'b', 'u',  'i', 'l', 'd'};
    static const char out[] = "compiling module 42 of 118: ok (3.2 s)\nlinking target: ok\n"
                              "tests: 318 passed, 0 failed, 2 skipped\n";
    uint64_t wf = 0, round = 0;
    while (djs_log_last_seq(log) < target) {
        /* a few workflows of three: build, then test and package */
        for (int k = 0; k < 256; k++, wf++) {
            djs_job_request_t r[3];
            djs_id_t ids[3];
            int existed;
            char names[3][48];
            djs_str_t dep = {"build", 5};
            memset(r, 0, sizeof(r));
            for (int j = 0; j < 3; j++) {
                static const char *keys[3] = {"build", "test", "package"};
                snprintf(names[j], sizeof(names[j]), "wf-%" PRIu64 "-%s", wf, keys[j]);
                r[j].spec.name = (djs_str_t){names[j], strlen(names[j])};
                r[j].spec.priority = (uint8_t)(wf % 3);
                r[j].spec.payload = payload;
                r[j].spec.payload_len = sizeof(payload);
                r[j].spec.max_retries = 2;
                r[j].key = (djs_str_t){keys[j], strlen(keys[j])};
                if (j > 0) {
                    r[j].dep_keys = &dep;
                    r[j].ndep_keys = 1;
                }
            }
            if ((rc = djs_engine_submit(e, "ci-bot", r, 3, ids, &seq, &existed)) != 0)
                return fail("submit", rc, e);
        }
        pl.n = 0;
        djs_engine_run(e);
        for (uint32_t i = 0; i < pl.n; i++, n++) {
            const djs_job_t *j = djs_state_job(djs_engine_state(e), &pl.p[i].job);
            uint32_t att = j->attempt;
            uint64_t recv;
            if ((rc = djs_engine_start(e, &pl.p[i].worker, &pl.p[i].job, att, &seq)) != 0)
                return fail("start", rc, e);
            if (n % 4 == 0 && (rc = djs_engine_output(e, &pl.p[i].worker, &pl.p[i].job, att, 0, (const uint8_t *)out,
                                                      sizeof(out) - 1, &seq, &recv)) != 0)
                return fail("output", rc, e);
            if (n % 10 == 3 && att == 1)
                rc = djs_engine_fail(e, &pl.p[i].worker, &pl.p[i].job, att, (djs_str_t){"exit status 1", 13}, &seq);
            else
                rc = djs_engine_complete(e, &pl.p[i].worker, &pl.p[i].job, att, NULL, 0, &seq);
            if (rc != 0)
                return fail("report", rc, e);
        }
        if (++round % 8 == 0)
            for (int w = 0; w < WORKERS; w++)
                if ((rc = djs_engine_heartbeat(e, &wids[w], (uint32_t)(round * 7 % 1000), 400, 3, &seq)) != 0)
                    return fail("heartbeat", rc, e);
        djs_log_flush(log);
        if (djs_log_last_seq(log) - djs_log_durable_seq(log) > 400000 && (rc = djs_log_sync(log)) != 0)
            return fail("sync", rc, NULL);
        if (isatty(2) && round % 64 == 0)
            fprintf(stderr, "\r  building: %" PRIu64 "/%" PRIu64 " events", djs_log_last_seq(log), target);
    }
    if (isatty(2))
        fputc('\n', stderr);
    if ((rc = djs_log_sync(log)) != 0)
        return fail("sync", rc, NULL);
    *events = djs_log_last_seq(log);
    printf(NAME ": built %" PRIu64 " events (%" PRIu64 " workflows) in %.1f s\n", *events, wf, secs(t0));
    djs_engine_close(e);
    djs_log_close(log);
    djs_free(pl.p);
    return 0;
}

/* ---- the cold start: djs serve until /health answers -------------------------------------------- */

static double cold_start(const char *exe, const char *dir, const char *what)
{
    struct sockaddr_in addr;
    if (djs_bench_free_port(&addr) != 0)
        return -1;
    uint64_t t0 = djs_monotonic_ns();
    pid_t pid = djs_bench_serve(NAME, exe, dir, &addr, 1);
    double s = secs(t0);
    if (pid < 0) {
        fprintf(stderr, NAME ": %s: the server did not come up\n", what);
        return -1;
    }
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    printf(NAME ": cold start (%s): %.2f s\n", what, s);
    return s;
}

static int copy_file(const char *from, const char *to)
{
    char cmd[9000];
    snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", from, to);
    return system(cmd) == 0 ? 0 : DJS_EIO;
}

/* ---- the writer beside a backup --------------------------------------------------------------------- */

typedef struct writer {
    djs_log_t *log;
    volatile int stop;
    uint32_t *lat; /* append-to-durable, us */
    uint64_t *at;  /* when each append started (monotonic ns) */
    uint64_t n, cap;
    int rc;
} writer_t;

/* One event every ~200 us, each waited for (a server's commits, one request
 * at a time), latency recorded. */
static void *writer_main(void *arg)
{
    writer_t *w = arg;
    static const uint8_t body[] = {0x81, 0xa1, 'x', 0x01};
    while (!w->stop && w->n < w->cap) {
        djs_event_t ev = {0};
        ev.type = DJS_EV_SERVER_STARTED;
        ev.actor = "bench";
        ev.actor_len = 5;
        ev.body = body;
        ev.body_len = sizeof(body);
        uint64_t t0 = djs_monotonic_ns();
        if ((w->rc = djs_log_append(w->log, &ev)) != 0 || (w->rc = djs_log_sync(w->log)) != 0)
            return NULL;
        w->at[w->n] = t0;
        w->lat[w->n++] = (uint32_t)((djs_monotonic_ns() - t0) / 1000);
        usleep(200);
    }
    return NULL;
}

/* p99 of the appends that started in [from, to) */
static double p99_between(const writer_t *w, uint64_t from, uint64_t to, uint64_t *n)
{
    uint32_t *l = djs_malloc((w->n + 1) * sizeof(uint32_t));
    *n = 0;
    for (uint64_t i = 0; i < w->n; i++)
        if (w->at[i] >= from && w->at[i] < to)
            l[(*n)++] = w->lat[i];
    double p50, p99;
    djs_bench_percentiles(l, *n, &p50, &p99);
    djs_free(l);
    return p99;
}

static double p99_of(uint32_t *lat, uint64_t n)
{
    double p50, p99;
    djs_bench_percentiles(lat, n, &p50, &p99);
    return p99;
}

/* Append for `s` seconds with no backup: the baseline p99 (ms). */
static int writer_run(djs_log_t *log, double s, writer_t *w, pthread_t *th)
{
    memset(w, 0, sizeof(*w));
    w->log = log;
    w->cap = (uint64_t)(s * 10000) + 1000000;
    w->lat = djs_malloc(w->cap * sizeof(uint32_t));
    w->at = djs_malloc(w->cap * sizeof(uint64_t));
    return pthread_create(th, NULL, writer_main, w) == 0 ? 0 : DJS_EIO;
}

static double dir_mb(const char *dir)
{
    char p[4400];
    struct stat st;
    snprintf(p, sizeof(p), "%s/data.mdb", dir);
    return stat(p, &st) == 0 ? st.st_blocks * 512.0 / 1e6 : 0;
}

int djs_bench_replay(int argc, char **argv)
{
    const char *usage = "djs bench replay [--events N] [--dir DIR] [--keep]";
    uint64_t target = 10000000;
    const char *v = djs_cli_opt(argc, argv, "--events"), *dirbase = djs_cli_opt(argc, argv, "--dir");
    int keep = djs_cli_flag(argc, argv, "--keep");
    if ((v != NULL && djs_cli_u64(v, &target) != 0) || target < 1000 || djs_cli_rest(argc, argv, NULL, 0, usage) != 0) {
        fprintf(stderr, "usage: %s (N >= 1000)\n", usage);
        return 2;
    }
    djs_bench_env_t env;
    if (djs_bench_prepare("replay", dirbase, 3600, &env) != 0)
        return 1;
    char dir[4200], copy[4200], bak[4200], path[4300], path2[4300];
    snprintf(dir, sizeof(dir), "%s/log", env.dir);
    snprintf(copy, sizeof(copy), "%s/nosnap", env.dir);
    snprintf(bak, sizeof(bak), "%s/backup", env.dir);
    uint64_t events = 0;
    printf(NAME ": %" PRIu64 " events in %s\n", target, env.dir);
    if (build(dir, target, &events) != 0)
        return 1;
    double log_mb = dir_mb(dir);

    /* verify, every check */
    djs_log_t *log;
    djs_log_options_t ro;
    djs_log_options_init(&ro);
    ro.readonly = 1;
    int rc = djs_log_open(&log, dir, &ro);
    if (rc != 0)
        return fail("open the log read-only", rc, NULL);
    djs_verify_options_t vo;
    djs_verify_report_t rep;
    djs_verify_options_init(&vo);
    uint64_t t0 = djs_monotonic_ns();
    if ((rc = djs_verify_run(log, &vo, &rep)) != 0)
        return fail(rep.detail, rc, NULL);
    double verify_s = secs(t0);
    printf(NAME ": verify: %" PRIu64 " records, %u snapshots, %" PRIu64 " output chunks in %.2f s (%.0f events/s)\n", rep.records,
           rep.snapshots, rep.output_chunks, verify_s, events / verify_s);
    vo.output = vo.index = vo.replay = 0;
    t0 = djs_monotonic_ns();
    if ((rc = djs_verify_run(log, &vo, &rep)) != 0)
        return fail(rep.detail, rc, NULL);
    double chain_s = secs(t0);
    printf(NAME ": chain only: %.2f s (%.0f events/s)\n", chain_s, events / chain_s);

    /* rebuild from scratch */
    djs_state_t *st = djs_state_new(NULL);
    uint64_t applied = 0, bad = 0;
    int err = 0;
    t0 = djs_monotonic_ns();
    if ((rc = djs_state_replay(st, log, 1, UINT64_MAX, &applied, &bad, &err)) != 0)
        return fail("rebuild", err ? err : rc, NULL);
    double rebuild_s = secs(t0);
    djs_state_free(st);
    printf(NAME ": rebuild: %" PRIu64 " events in %.2f s (%.0f events/s)\n", applied, rebuild_s, applied / rebuild_s);

    /* export (msgpack, the lossless one) and import of it */
    char exp[4300], imp[4300];
    snprintf(exp, sizeof(exp), "%s/export.msgpack", env.dir);
    snprintf(imp, sizeof(imp), "%s/imported", env.dir);
    FILE *ef = fopen(exp, "w+");
    if (ef == NULL)
        return fail("create the export file", DJS_EIO, NULL);
    djs_export_options_t xo;
    djs_export_report_t xr;
    djs_export_options_init(&xo);
    xo.format = DJS_EXPORT_MSGPACK;
    t0 = djs_monotonic_ns();
    if ((rc = djs_export(log, &xo, ef, &xr)) != 0)
        return fail(xr.detail, rc, NULL);
    double export_s = secs(t0);
    printf(NAME ": export: %" PRIu64 " records, %" PRIu64 " output chunks, %.0f MB in %.2f s (%.0f events/s)\n", xr.events,
           xr.chunks, xr.bytes / 1e6, export_s, xr.events / export_s);
    djs_log_close(log);
    rewind(ef);
    djs_import_report_t ir;
    t0 = djs_monotonic_ns();
    if ((rc = djs_import(ef, imp, NULL, &ir)) != 0)
        return fail(ir.detail, rc, NULL);
    double import_s = secs(t0);
    fclose(ef);
    unlink(exp);
    printf(NAME ": import (with its verify and rebuild): %" PRIu64 " records in %.2f s (%.0f events/s)\n", ir.events, import_s,
           ir.events / import_s);
    djs_bench_rm_dir(imp);

    /* cold starts: first (no checkpoint yet), restart, no snapshots */
    double first_s = cold_start(env.exe, dir, "first start: the whole chain checked");
    double cold_s = cold_start(env.exe, dir, "restart: from the verified checkpoint and a snapshot");
    mkdir(copy, 0700);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    snprintf(path2, sizeof(path2), "%s/data.mdb", copy);
    double nosnap_s = -1;
    djs_log_t *tl;
    djs_log_options_t to;
    djs_log_options_init(&to);
    to.tool = 1;
    if (copy_file(path, path2) == 0 && djs_log_open(&tl, copy, &to) == 0) {
        int dropped = djs_log_drop_snapshots(tl, 0, UINT64_MAX);
        djs_log_close(tl);
        if (dropped == 0)
            nosnap_s = cold_start(env.exe, copy, "restart without snapshots: the whole log replayed");
    }

    /* backup while a writer appends */
    djs_log_options_t wo;
    djs_log_options_init(&wo);
    if ((rc = djs_log_open(&log, dir, &wo)) != 0)
        return fail("open the log", rc, NULL);
    writer_t w;
    pthread_t th;
    if (writer_run(log, 3, &w, &th) != 0)
        return fail("writer thread", DJS_EIO, NULL);
    sleep(3);
    w.stop = 1;
    pthread_join(th, NULL);
    double base_p99 = p99_of(w.lat, w.n);
    uint64_t base_n = w.n;
    djs_free(w.lat);
    djs_free(w.at);
    if (writer_run(log, 60, &w, &th) != 0)
        return fail("writer thread", DJS_EIO, NULL);
    usleep(200000);
    djs_backup_options_t bo;
    djs_backup_report_t br;
    djs_backup_options_init(&bo);
    bo.secret_name = "jwt.secret";
    t0 = djs_monotonic_ns();
    rc = djs_backup_run(log, bak, &bo, &br);
    double backup_s = secs(t0);
    w.stop = 1;
    pthread_join(th, NULL);
    if (rc != 0)
        return fail(br.detail, rc, NULL);
    uint64_t n_during, n_copy, n_rest;
    double during_p99 = p99_between(&w, t0, t0 + (uint64_t)(backup_s * 1e9), &n_during);
    double copy_p99 = p99_between(&w, t0, t0 + br.copy_ns, &n_copy);
    double rest_p99 = p99_between(&w, t0 + br.copy_ns, t0 + (uint64_t)(backup_s * 1e9), &n_rest);
    double bak_mb = br.bytes / 1e6, copy_s = br.copy_ns / 1e9;
    printf(NAME ": append p99 in the LMDB copy %.2f ms (%" PRIu64 " appends), in the checks after it %.2f ms (%" PRIu64 ")\n",
           copy_p99, n_copy, rest_p99, n_rest);
    printf(NAME ": backup: %.0f MB (of a %.0f MB file) in %.2f s, %.0f MB/s complete (the LMDB copy alone %.2f s, %.0f MB/s; "
                "then its verify, digest and manifest); a writer's append p99 %.2f ms during it, %.2f ms before (%" PRIu64
                " / %" PRIu64 " appends)\n",
           bak_mb, log_mb, backup_s, bak_mb / backup_s, copy_s, br.data_bytes / 1e6 / copy_s, during_p99, base_p99, n_during,
           base_n);
    djs_free(w.lat);
    djs_free(w.at);
    djs_log_close(log);

    /* restore of that backup */
    char rest[4300];
    snprintf(rest, sizeof(rest), "%s/restored", env.dir);
    djs_restore_report_t rr;
    t0 = djs_monotonic_ns();
    if ((rc = djs_restore(bak, rest, NULL, &rr)) != 0)
        return fail(rr.detail, rc, NULL);
    double restore_s = secs(t0);
    printf(NAME ": restore: %.0f MB, seq %" PRIu64 ", verified, in %.2f s\n", rr.bytes / 1e6, rr.seq, restore_s);

    printf("{\"bench\":\"replay\",\"events\":%" PRIu64 ",\"log_mb\":%.0f,\"verify_events_per_s\":%.0f,\"chain_events_per_s\":%.0f,"
           "\"rebuild_events_per_s\":%.0f,\"export_events_per_s\":%.0f,\"import_events_per_s\":%.0f,\"cold_start_first_s\":%.2f,"
           "\"cold_start_s\":%.2f,\"cold_start_no_snapshot_s\":%.2f,"
           "\"backup_mb_per_s\":%.0f,\"backup_copy_mb_per_s\":%.0f,\"restore_s\":%.2f,\"append_p99_ms\":%.3f,\"append_p99_during_"
           "backup_ms\":%.3f,"
           "\"append_p99_during_backup_ratio\":%.2f}\n",
           events, log_mb, events / verify_s, events / chain_s, applied / rebuild_s, xr.events / export_s, ir.events / import_s,
           first_s, cold_s, nosnap_s, bak_mb / backup_s, br.data_bytes / 1e6 / copy_s, restore_s, base_p99, during_p99,
           base_p99 > 0 ? during_p99 / base_p99 : 0);
    if (!keep) {
        djs_bench_rm_dir(dir);
        djs_bench_rm_dir(copy);
        djs_bench_rm_dir(bak);
        djs_bench_rm_dir(rest);
        djs_bench_rm_dir(env.dir);
    }
    return 0;
}
