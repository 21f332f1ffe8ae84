/* djs bench engine: the engine in process (no HTTP), durable appends.
 *
 * Phase 1: N jobs through the full lifecycle (submit, placement by the
 * engine, start, complete) on W workers, in rounds that fill the free slots;
 * events are handed to the group-commit writer as they come, and the run
 * ends when the last one is durable. Snapshots every --snapshot-every events.
 * Phase 2: rebuild the projection by replaying the whole log (no snapshot),
 * keeping every job in memory, to measure apply speed and memory per job.
 * Phase 3: time travel: one job as of a random seq (fold of its events), and
 * the whole system as of a random seq (nearest snapshot + replay).
 * Phase 4 (--queued Q): Q jobs queued at once, placed and completed in
 * rounds, first without concurrency keys, then under --keys K keys of
 * --limit L each (in fresh logs of their own), three times each, interleaved:
 * the best placement cost per job of both (CPU time of the thread).
 *
 * With --schedules N instead: N schedules firing every minute (cron
 * "* * * * *", overlap cancel-previous so finished runs leave memory) over
 * --hours H simulated hours (default 24) on an event clock: no waiting,
 * every fire decided, submitted and recorded by djs_engine_run.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "projections/jobview.h"
#include "projections/replay.h"
#include "projections/schedules.h"
#include "scheduler/engine.h"
#include "tools/bench/bench.h"
#include "tools/cli/args.h"

typedef struct pending {
    djs_id_t worker, job;
} pending_t;

typedef struct eb {
    pending_t *p;
    uint32_t n, cap;
} eb_t;

static void on_assign(void *arg, const djs_id_t *worker, const djs_id_t *job)
{
    eb_t *b = arg;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = djs_realloc(b->p, b->cap * sizeof(pending_t));
    }
    b->p[b->n].worker = *worker;
    b->p[b->n].job = *job;
    b->n++;
}

static uint64_t rss_anon_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "RssAnon: %" SCNu64, &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int fail(const char *what, int rc, djs_engine_t *e)
{
    fprintf(stderr, "bench engine: %s: %s%s%s\n", what, djs_strerror(rc), e ? ": " : "", e ? djs_engine_errmsg(e) : "");
    return 1;
}

typedef struct params {
    uint64_t jobs, workers, slots, snapshot_every;
} params_t;

static int lifecycle(const params_t *p, djs_log_t *log, djs_engine_t *e, eb_t *eb, djs_id_t *sample, uint64_t *sched_ns)
{
    djs_id_t *wids = djs_malloc(p->workers * sizeof(djs_id_t));
    char name[64];
    uint64_t seq;
    int rc;
    for (uint64_t w = 0; w < p->workers; w++) {
        djs_worker_info_t wi = {0};
        snprintf(name, sizeof(name), "bench-worker-%05" PRIu64, w);
        wi.name = (djs_str_t){name, strlen(name)};
        wi.host = (djs_str_t){"localhost", 9};
        wi.slots = (uint32_t)p->slots;
        wi.cpu_pm = (uint32_t)(w * 37 % 1000);
        wi.mem_pm = (uint32_t)(w * 53 % 1000);
        wi.has_load = 1;
        if ((rc = djs_engine_register(e, "bench", &wi, NULL, 0, &wids[w], &seq)) != 0)
            return fail("register", rc, e);
    }
    static const char *pnames[] = {"HIGH", "NORMAL", "LOW"};
    uint64_t submitted = 0, done = 0, capacity = p->workers * p->slots;
    uint8_t payload[] = {0x81, 0xa3, 'c', 'm', 'd', 0xa4, 't', 'r', 'u', 'e'};
    while (done < p->jobs) {
        uint64_t batch = capacity < p->jobs - submitted ? capacity : p->jobs - submitted;
        for (uint64_t i = 0; i < batch; i++, submitted++) {
            djs_job_request_t r;
            djs_id_t id;
            int existed;
            memset(&r, 0, sizeof(r));
            snprintf(name, sizeof(name), "job-%" PRIu64, submitted);
            r.spec.name = (djs_str_t){name, strlen(name)};
            r.spec.priority = (uint8_t)(submitted % 3);
            r.spec.payload = payload;
            r.spec.payload_len = sizeof(payload);
            r.spec.max_retries = 3;
            if ((rc = djs_engine_submit(e, "bench", &r, 1, &id, &seq, &existed)) != 0)
                return fail("submit", rc, e);
            if (submitted % (p->jobs / 1000 + 1) == 0 && submitted / (p->jobs / 1000 + 1) < 1000)
                sample[submitted / (p->jobs / 1000 + 1)] = id;
        }
        (void)pnames;
        uint64_t t0 = djs_monotonic_ns();
        eb->n = 0;
        djs_engine_run(e);
        *sched_ns += djs_monotonic_ns() - t0;
        for (uint32_t i = 0; i < eb->n; i++) {
            const djs_job_t *j = djs_state_job(djs_engine_state(e), &eb->p[i].job);
            uint32_t attempt = j->attempt;
            if ((rc = djs_engine_start(e, &eb->p[i].worker, &eb->p[i].job, attempt, &seq)) != 0)
                return fail("start", rc, e);
            if ((rc = djs_engine_complete(e, &eb->p[i].worker, &eb->p[i].job, attempt, NULL, 0, &seq)) != 0)
                return fail("complete", rc, e);
        }
        done += eb->n;
        if (eb->n == 0 && submitted == p->jobs)
            return fail("nothing placed", DJS_ECONFLICT, NULL);
        djs_log_flush(log);
        /* bound what waits for durability, as a server bounds its requests */
        if (djs_log_last_seq(log) - djs_log_durable_seq(log) > 400000 && (rc = djs_log_sync(log)) != 0)
            return fail("sync", rc, NULL);
        if (done % 100000 < eb->n && isatty(2))
            fprintf(stderr, "\r  %" PRIu64 "/%" PRIu64 " jobs", done, p->jobs);
    }
    if (isatty(2))
        fputc('\n', stderr);
    djs_free(wids);
    return djs_log_sync(log) == 0 ? 0 : fail("sync", djs_log_status(log), NULL);
}

/* ---- phase 4: queued jobs, with and without concurrency keys ---------------------------------- */

typedef struct queued {
    uint64_t jobs, keys, limit;
} queued_t;

static int queued_submit(djs_engine_t *e, const queued_t *q, uint64_t keys)
{
    char name[64], key[32];
    uint64_t seq;
    for (uint64_t i = 0; i < q->jobs; i++) {
        djs_job_request_t r;
        djs_id_t id;
        int existed, rc;
        memset(&r, 0, sizeof(r));
        snprintf(name, sizeof(name), "queued-%" PRIu64, i);
        r.spec.name = (djs_str_t){name, strlen(name)};
        r.spec.priority = (uint8_t)(i % 3);
        if (keys > 0) {
            snprintf(key, sizeof(key), "key-%" PRIu64, i % keys);
            r.spec.ckey = (djs_str_t){key, strlen(key)};
            r.spec.climit = (uint32_t)q->limit;
        }
        if ((rc = djs_engine_submit(e, "bench", &r, 1, &id, &seq, &existed)) != 0)
            return fail("submit", rc, e);
    }
    return 0;
}

/* CPU time of this thread: a shared machine's other processes do not count. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Place and complete everything queued; *sched_ns: CPU time in placement. */
static int queued_drain(djs_log_t *log, djs_engine_t *e, eb_t *eb, uint64_t jobs, uint64_t *sched_ns)
{
    uint64_t seq, done = 0;
    int rc;
    while (done < jobs) {
        uint64_t t0 = cpu_ns();
        eb->n = 0;
        djs_engine_run(e);
        *sched_ns += cpu_ns() - t0;
        if (eb->n == 0)
            return fail("nothing placed", DJS_ECONFLICT, NULL);
        for (uint32_t i = 0; i < eb->n; i++) {
            uint32_t attempt = djs_state_job(djs_engine_state(e), &eb->p[i].job)->attempt;
            if ((rc = djs_engine_start(e, &eb->p[i].worker, &eb->p[i].job, attempt, &seq)) != 0 ||
                (rc = djs_engine_complete(e, &eb->p[i].worker, &eb->p[i].job, attempt, NULL, 0, &seq)) != 0)
                return fail("start/complete", rc, e);
        }
        done += eb->n;
        djs_log_flush(log);
        if (djs_log_last_seq(log) - djs_log_durable_seq(log) > 400000 && (rc = djs_log_sync(log)) != 0)
            return fail("sync", rc, NULL);
    }
    return djs_log_sync(log) == 0 ? 0 : fail("sync", djs_log_status(log), NULL);
}

/* One run of phase 4 in a fresh log: placement ns per job, and jobs/s overall. */
static int queued_run(const params_t *p, const queued_t *q, uint64_t keys, double *ns_per_job, double *jobs_per_s)
{
    char base[4096], path[4200];
    snprintf(base, sizeof(base), "%s/djs-bench-queued-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp");
    if (mkdtemp(base) == NULL) {
        perror(base);
        return 1;
    }
    djs_log_t *log;
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.map_size = (size_t)q->jobs * 2048 + (256u << 20);
    int rc = djs_log_open(&log, base, &lo);
    if (rc != 0)
        return fail("open log", rc, NULL);
    eb_t eb = {0};
    djs_engine_config_t ec;
    djs_engine_config_init(&ec);
    ec.snapshot_every = 0;
    ec.on_assign = on_assign;
    ec.assign_arg = &eb;
    ec.seed = 1;
    djs_engine_t *e;
    if ((rc = djs_engine_open(&e, log, NULL, &ec, NULL, NULL)) != 0)
        return fail("open engine", rc, NULL);
    uint64_t seq, sched_ns = 0, t0 = djs_monotonic_ns();
    for (uint64_t w = 0; w < p->workers && rc == 0; w++) {
        djs_worker_info_t wi = {0};
        snprintf(path, sizeof(path), "queued-worker-%05" PRIu64, w);
        wi.name = (djs_str_t){path, strlen(path)};
        wi.host = (djs_str_t){"localhost", 9};
        wi.slots = (uint32_t)p->slots;
        djs_id_t wid;
        if ((rc = djs_engine_register(e, "bench", &wi, NULL, 0, &wid, &seq)) != 0)
            return fail("register", rc, e);
    }
    if (queued_submit(e, q, keys) != 0 || queued_drain(log, e, &eb, q->jobs, &sched_ns) != 0)
        return 1;
    *jobs_per_s = q->jobs / ((djs_monotonic_ns() - t0) / 1e9);
    *ns_per_job = (double)sched_ns / q->jobs;
    djs_engine_close(e);
    djs_log_close(log);
    djs_free(eb.p);
    snprintf(path, sizeof(path), "%s/data.mdb", base);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", base);
    unlink(path);
    rmdir(base);
    return 0;
}

/* Three runs of each, interleaved (the machine may be shared): the best of each. */
static int queued_phase(const params_t *p, const queued_t *q)
{
    double plain_ns = 0, plain_rate = 0, keyed_ns = 0, keyed_rate = 0;
    for (int i = 0; i < 3; i++) {
        double ns, rate, kns, krate;
        if (queued_run(p, q, 0, &ns, &rate) != 0 || queued_run(p, q, q->keys, &kns, &krate) != 0)
            return 1;
        if (i == 0 || ns < plain_ns)
            plain_ns = ns, plain_rate = rate;
        if (i == 0 || kns < keyed_ns)
            keyed_ns = kns, keyed_rate = krate;
    }
    printf("queued:    %" PRIu64 " jobs queued at once (best of 3): placement %.0f CPU ns/job without keys (%.0f jobs/s overall), "
           "%.0f ns/job under %" PRIu64 " keys of limit %" PRIu64 " (%.0f jobs/s): %.2fx\n",
           q->jobs, plain_ns, plain_rate, keyed_ns, q->keys, q->limit, keyed_rate, keyed_ns / plain_ns);
    printf("{\"bench\":\"engine-queued\",\"jobs\":%" PRIu64 ",\"keys\":%" PRIu64 ",\"limit\":%" PRIu64
           ",\"place_ns_per_job\":%.0f,\"keys_place_ns_per_job\":%.0f,\"keys_ratio\":%.3f,\"jobs_per_s\":%.0f,"
           "\"keys_jobs_per_s\":%.0f}\n",
           q->jobs, q->keys, q->limit, plain_ns, keyed_ns, keyed_ns / plain_ns, plain_rate, keyed_rate);
    fflush(stdout);
    return 0;
}

static uint64_t bench_clock(void *arg)
{
    return *(const uint64_t *)arg;
}

/* The schedules run (see the top); 0, or 1 after printing the error. */
static int bench_schedules(uint64_t n, uint64_t hours, const char *base)
{
    static const char tmpl[] =
        "\x82\xa4name\xa4tick\xa7payload\x81\xa3\x63md\xa4true"; /* {"name":"tick","payload":{"cmd":"true"}} */
    uint64_t now = 1700000000ULL * 1000000000ULL;
    djs_log_t *log;
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.clock = bench_clock;
    lo.clock_arg = &now;
    int rc = djs_log_open(&log, base, &lo);
    if (rc != 0)
        return fail("open log", rc, NULL);
    djs_engine_config_t ec;
    djs_engine_config_init(&ec);
    ec.seed = 1;
    ec.snapshot_every = 0;
    djs_engine_t *e;
    if ((rc = djs_engine_open(&e, log, NULL, &ec, NULL, NULL)) != 0)
        return fail("open engine", rc, NULL);
    djs_schedule_def_t d = {0};
    d.name = (djs_str_t){"tick", 4};
    d.spec = (djs_str_t){"* * * * *", 9};
    d.overlap = DJS_OVERLAP_CANCEL;
    d.tmpl = (const uint8_t *)tmpl;
    d.tmpl_len = sizeof(tmpl) - 1;
    for (uint64_t i = 0; i < n; i++) {
        djs_id_t id;
        uint64_t seq;
        if ((rc = djs_engine_schedule_create(e, "bench", &d, &id, &seq)) != 0)
            return fail("create schedule", rc, e);
    }
    uint64_t seq0 = djs_log_last_seq(log), t0 = djs_monotonic_ns(), worst = 0;
    for (uint64_t m = 0; m < hours * 60; m++) {
        now += 60ULL * 1000000000ULL;
        uint64_t t = djs_monotonic_ns();
        djs_engine_run(e);
        if ((rc = djs_log_sync(log)) != 0)
            return fail("sync", rc, NULL);
        worst = djs_monotonic_ns() - t > worst ? djs_monotonic_ns() - t : worst;
    }
    double secs = (djs_monotonic_ns() - t0) / 1e9;
    uint64_t fires = 0, events = djs_log_last_seq(log) - seq0;
    const djs_state_t *st = djs_engine_state(e);
    for (uint32_t i = 0; i < djs_state_nschedule_slots(st); i++)
        if (djs_state_schedule_at(st, i) != NULL)
            fires += djs_state_schedule_at(st, i)->fires;
    printf("schedules: %" PRIu64 " fires of %" PRIu64 " schedules over %" PRIu64 " simulated h in %.2fs: %.0f fires/s durable"
           " (%" PRIu64 " events, %.0f events/s), slowest minute %.1f ms\n",
           fires, n, hours, secs, fires / secs, events, events / secs, worst / 1e6);
    printf("{\"bench\":\"engine-schedules\",\"schedules\":%" PRIu64 ",\"hours\":%" PRIu64 ",\"fires\":%" PRIu64
           ",\"fires_per_s\":%.0f,\"events_per_s\":%.0f,\"slowest_minute_ms\":%.1f}\n",
           n, hours, fires, fires / secs, events / secs, worst / 1e6);
    djs_engine_close(e);
    djs_log_close(log);
    return fires == n * hours * 60 ? 0 : (fprintf(stderr, "bench engine: fires missing\n"), 1);
}

int djs_bench_engine(int argc, char **argv)
{
    const char *usage = "djs bench engine [--jobs N] [--workers W] [--slots S] [--snapshot-every E] [--dir DIR] [--keep]\n"
                        "                 [--queued Q [--keys K] [--limit L]] [--schedules N [--hours H]]";
    uint64_t nsched = 0, hours = 24;
    int rc;
    params_t p = {1000000, 1000, 4, 100000};
    queued_t q = {0, 100, 10};
    const char *v, *dir = djs_cli_opt(argc, argv, "--dir");
    if (((v = djs_cli_opt(argc, argv, "--queued")) && djs_cli_u64(v, &q.jobs)) ||
        ((v = djs_cli_opt(argc, argv, "--keys")) && djs_cli_u64(v, &q.keys)) ||
        ((v = djs_cli_opt(argc, argv, "--limit")) && djs_cli_u64(v, &q.limit)) || q.limit == 0 ||
        q.limit > DJS_JOB_MAX_CONCURRENCY_LIMIT) {
        fprintf(stderr, "djs bench engine: bad number (1 <= limit <= %d)\nusage: %s\n", DJS_JOB_MAX_CONCURRENCY_LIMIT, usage);
        return 2;
    }
    if (((v = djs_cli_opt(argc, argv, "--jobs")) && djs_cli_u64(v, &p.jobs)) ||
        ((v = djs_cli_opt(argc, argv, "--workers")) && djs_cli_u64(v, &p.workers)) ||
        ((v = djs_cli_opt(argc, argv, "--slots")) && djs_cli_u64(v, &p.slots)) ||
        ((v = djs_cli_opt(argc, argv, "--snapshot-every")) && djs_cli_u64(v, &p.snapshot_every)) || p.jobs < 1000 ||
        p.workers == 0 || p.slots == 0 || p.slots > 10000 ||
        ((v = djs_cli_opt(argc, argv, "--schedules")) && (djs_cli_u64(v, &nsched) || nsched == 0)) ||
        ((v = djs_cli_opt(argc, argv, "--hours")) && (djs_cli_u64(v, &hours) || hours == 0))) {
        fprintf(stderr, "djs bench engine: bad number (jobs >= 1000)\nusage: %s\n", usage);
        return 2;
    }
    int keep = djs_cli_flag(argc, argv, "--keep");
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 0, usage) < 0)
        return 2;
    char base[4096];
    if (dir != NULL) {
        snprintf(base, sizeof(base), "%s", dir);
    } else {
        snprintf(base, sizeof(base), "%s/djs-bench-engine-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp");
        if (mkdtemp(base) == NULL) {
            perror(base);
            return 1;
        }
    }
    if (nsched > 0) {
        rc = bench_schedules(nsched, hours, base);
        goto cleanup;
    }
    printf("bench engine: %" PRIu64 " jobs, %" PRIu64 " workers x %" PRIu64 " slots, snapshot every %" PRIu64 " events, in %s\n",
           p.jobs, p.workers, p.slots, p.snapshot_every, base);
    fflush(stdout);

    djs_log_t *log;
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.map_size = (size_t)p.jobs * 2048 + (256u << 20);
    rc = djs_log_open(&log, base, &lo);
    if (rc != 0)
        return fail("open log", rc, NULL);
    eb_t eb = {0};
    djs_engine_config_t ec;
    djs_engine_config_init(&ec);
    ec.snapshot_every = p.snapshot_every;
    ec.snapshots_kept = 1000;
    ec.on_assign = on_assign;
    ec.assign_arg = &eb;
    ec.seed = 1;
    djs_engine_t *e;
    if ((rc = djs_engine_open(&e, log, NULL, &ec, NULL, NULL)) != 0)
        return fail("open engine", rc, NULL);
    djs_id_t *sample = djs_calloc(1000, sizeof(djs_id_t));
    uint64_t sched_ns = 0, t0 = djs_monotonic_ns();
    if (lifecycle(&p, log, e, &eb, sample, &sched_ns) != 0)
        return 1;
    double t_life = (djs_monotonic_ns() - t0) / 1e9;
    uint64_t events = djs_log_last_seq(log);
    printf("lifecycle: %.0f jobs/s durable (%.2fs, %" PRIu64 " events, %.0f events/s), placement %.0f ns/job\n", p.jobs / t_life,
           t_life, events, events / t_life, (double)sched_ns / p.jobs);
    fflush(stdout);
    uint8_t live_digest[32];
    djs_state_digest(djs_engine_state(e), live_digest);
    djs_engine_close(e);

    /* phase 2a: replay as a restart does it (default window of finished
     * jobs), without a snapshot: the apply rate */
    djs_state_t *st = djs_state_new(NULL);
    t0 = djs_monotonic_ns();
    if ((rc = djs_state_replay(st, log, 1, UINT64_MAX, NULL, NULL, NULL)) != 0)
        return fail("replay", rc, NULL);
    double t_replay = (djs_monotonic_ns() - t0) / 1e9;
    printf("replay:    %.0f events/s (%.2fs) as a restart does it, %" PRIu64 " jobs kept in memory\n", events / t_replay, t_replay,
           djs_state_njobs(st));
    djs_state_free(st);

    /* phase 2b: replay keeping every job: memory per job */
    djs_state_config_t sc;
    djs_state_config_init(&sc);
    sc.max_terminal = UINT64_MAX;
    sc.max_terminal_age = UINT64_MAX / 2;
    malloc_trim(0); /* give back what was freed, so the delta is the new state's */
    uint64_t rss0 = rss_anon_bytes();
    st = djs_state_new(&sc);
    t0 = djs_monotonic_ns();
    if ((rc = djs_state_replay(st, log, 1, UINT64_MAX, NULL, NULL, NULL)) != 0)
        return fail("replay", rc, NULL);
    double t_all = (djs_monotonic_ns() - t0) / 1e9;
    uint64_t rss1 = rss_anon_bytes();
    double per_job = (double)(rss1 - rss0) / p.jobs;
    printf("           %.0f events/s (%.2fs) keeping all %" PRIu64 " jobs: %.0f bytes of anonymous memory per job\n",
           events / t_all, t_all, djs_state_njobs(st), per_job);
    djs_state_free(st);

    /* phase 3: time travel */
    uint64_t rng[2], as_of[1000], state_at[21];
    djs_rand_seed(rng, 3);
    for (int i = 0; i < 1000; i++) {
        djs_job_view_t jv;
        djs_job_view_init(&jv);
        uint64_t at = 1 + djs_rand_next(rng) % events, t = djs_monotonic_ns();
        djs_job_view_at(log, &sample[djs_rand_next(rng) % 1000], at, &jv);
        as_of[i] = djs_monotonic_ns() - t;
        djs_job_view_dispose(&jv);
    }
    qsort(as_of, 1000, sizeof(uint64_t), cmp_u64);
    for (int i = 0; i < 21; i++) {
        djs_state_t *at;
        uint64_t seq = 1 + djs_rand_next(rng) % events, t = djs_monotonic_ns();
        if ((rc = djs_state_at(log, &ec.state, seq, &at)) != 0)
            return fail("state_at", rc, NULL);
        state_at[i] = djs_monotonic_ns() - t;
        djs_state_free(at);
    }
    qsort(state_at, 21, sizeof(uint64_t), cmp_u64);
    printf("as of:     one job p50 %.1f us (p99 %.1f us); whole system p50 %.1f ms (max %.1f ms)\n", as_of[500] / 1e3,
           as_of[990] / 1e3, state_at[10] / 1e6, state_at[20] / 1e6);
    if (q.jobs > 0 && queued_phase(&p, &q) != 0) /* before the run's JSON line, which stays the last */
        return 1;
    printf("{\"bench\":\"engine\",\"jobs\":%" PRIu64 ",\"workers\":%" PRIu64 ",\"events\":%" PRIu64
           ",\"jobs_per_s\":%.0f,\"apply_events_per_s\":%.0f,\"replay_s\":%.3f,\"apply_keep_all_events_per_s\":%.0f,"
           "\"rss_bytes_per_job\":%.0f,"
           "\"schedule_ns_per_job\":%.0f,\"entity_as_of_us_p50\":%.1f,\"state_at_ms_p50\":%.1f}\n",
           p.jobs, p.workers, events, p.jobs / t_life, events / t_replay, t_replay, events / t_all, per_job,
           (double)sched_ns / p.jobs, as_of[500] / 1e3, state_at[10] / 1e6);
    (void)live_digest;
    djs_free(sample);
    djs_free(eb.p);
    djs_log_close(log);
    rc = 0;
cleanup:
    if (!keep && dir == NULL) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/data.mdb", base);
        unlink(path);
        snprintf(path, sizeof(path), "%s/lock.mdb", base);
        unlink(path);
        rmdir(base);
    }
    return rc;
}
