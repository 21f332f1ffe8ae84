/* djs bench e2e, the command: its options, the child `djs serve`, the djs
 * run (e2e.c), the same work on beanstalkd (beanstalk.c), and the report:
 * human lines, then one JSON line. What is measured: e2e.c's opening
 * comment and docs/benchmarks.md. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "tools/bench/beanstalk.h"
#include "tools/bench/bench.h"
#include "tools/bench/e2e.h"
#include "tools/bench/util.h"
#include "tools/cli/args.h"

/* Jobs per POST /jobs by default: with 8 producers, each waiting for its
 * durable acknowledgement (one group commit, 1-3 ms here), one job per
 * request cannot pass about 4,000 jobs/s; 50 keeps the workers fed without
 * a backlog of seconds (--batch 1 measures one job per request). */
#define DEFAULT_BATCH 50

static const char usage[] = "djs bench e2e [--jobs N] [--workers K] [--producers P] [--slots S] [--conns C] [--batch B] "
                            "[--protocol batched|single] [--claim true|false] [--hold-ms T] [--no-beanstalkd] [--dir DIR] [--keep]";

typedef struct opts {
    uint64_t n, workers, producers, slots, conns, batch, hold_ms;
    const char *dirbase;
    int keep, no_bs, batched, claim;
} opts_t;

/* The options into o: 0, or 2 after a usage message. */
static int parse_opts(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.n = 100000, .workers = 100, .producers = 8, .slots = 8, .conns = 1, .batch = DEFAULT_BATCH, .batched = 1};
    const char *v;
    o->dirbase = djs_cli_opt(argc, argv, "--dir");
    if (((v = djs_cli_opt(argc, argv, "--jobs")) && djs_cli_u64(v, &o->n)) ||
        ((v = djs_cli_opt(argc, argv, "--workers")) && djs_cli_u64(v, &o->workers)) ||
        ((v = djs_cli_opt(argc, argv, "--producers")) && djs_cli_u64(v, &o->producers)) ||
        ((v = djs_cli_opt(argc, argv, "--slots")) && djs_cli_u64(v, &o->slots)) ||
        ((v = djs_cli_opt(argc, argv, "--conns")) && djs_cli_u64(v, &o->conns)) ||
        ((v = djs_cli_opt(argc, argv, "--batch")) && djs_cli_u64(v, &o->batch)) ||
        ((v = djs_cli_opt(argc, argv, "--hold-ms")) && djs_cli_u64(v, &o->hold_ms)) || o->n == 0 || o->n > 100000000 ||
        o->workers == 0 || o->workers > 5000 || o->producers == 0 || o->producers > 1000 || o->slots == 0 || o->slots > 10000 ||
        o->conns == 0 || o->conns > 64 || o->batch == 0 || o->batch > 1000 || o->hold_ms > 3600000) {
        fprintf(stderr, "djs bench e2e: bad number\nusage: %s\n", usage);
        return 2;
    }
    o->keep = djs_cli_flag(argc, argv, "--keep");
    o->no_bs = djs_cli_flag(argc, argv, "--no-beanstalkd");
    if ((v = djs_cli_opt(argc, argv, "--protocol")) != NULL) {
        if (strcmp(v, "batched") != 0 && strcmp(v, "single") != 0) {
            fprintf(stderr, "djs bench e2e: --protocol is batched or single\nusage: %s\n", usage);
            return 2;
        }
        o->batched = strcmp(v, "batched") == 0;
    }
    o->claim = !o->batched; /* the simple client's path: claim on poll */
    if ((v = djs_cli_opt(argc, argv, "--claim")) != NULL) {
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
            fprintf(stderr, "djs bench e2e: --claim is true or false\nusage: %s\n", usage);
            return 2;
        }
        o->claim = strcmp(v, "true") == 0;
    }
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 0, usage) < 0)
        return 2;
    return 0;
}

static void print_setup(const opts_t *o, const djs_bench_env_t *env, pid_t pid)
{
    printf("bench e2e: djs serve on %s (pid %d), data in %s\n", env->listen, (int)pid, env->dir);
    printf("simulated workers: %" PRIu64 " in one process over HTTP (%" PRIu64 " slots each, 1 poll + %" PRIu64
           " report connection(s) each, no-op jobs%s)\n",
           o->workers, o->slots, o->conns, o->hold_ms ? ", each held running" : ", completed as soon as started");
    if (o->batched)
        printf("reports: batched (each worker's starts and completions ready at once go in one request: carried by its next poll, "
               "or POST /workers/{id}/reports while the poll is parked)\n");
    else if (o->claim)
        printf("reports: single (POST /jobs/{id}/complete, one request per report; no starts: the polls claim)\n");
    else
        printf("reports: single (POST /jobs/{id}/start and /complete, one request per report)\n");
    if (o->claim)
        printf("claim: yes (POST /workers/{id}/poll?claim=true: a delivered job is RUNNING, its start acknowledged by the "
               "poll's answer)\n");
    else
        printf("claim: no (each assignment is started by a report)\n");
    if (o->hold_ms)
        printf("hold: each job stays RUNNING %" PRIu64 " ms before its completion is sent\n", o->hold_ms);
    if (o->batch > 1)
        printf("producers: %" PRIu64 " connections, workflows of %" PRIu64 " independent jobs per request, %" PRIu64
               " jobs, durable acknowledgements\n",
               o->producers, o->batch, o->n);
    else
        printf("producers: %" PRIu64 " connections, one job per request, %" PRIu64 " jobs, durable acknowledgements\n",
               o->producers, o->n);
    fflush(stdout);
}

/* The CPU seconds of the server and of this process, and the wall time, during a run. */
typedef struct cpu {
    double server, client, wall;
} cpu_t;

static void print_djs(const opts_t *o, const djs__bench_e2e_result_t *d, const cpu_t *cpu, int st)
{
    uint64_t n = o->n;
    printf("djs:        %8.0f jobs/s end to end (%" PRIu64 " jobs in %.2f s: first submit sent to last completion acknowledged)\n",
           d->jobs_per_s, n, d->seconds);
    printf("            %8.0f jobs/s submitted (first submit sent to last submit acknowledged)\n", d->submit_per_s);
    printf("            submit acknowledged -> start acknowledged: p50 %.2f ms, p99 %.2f ms\n", d->p50_ms, d->p99_ms);
    printf("            submit acknowledged -> start sent:         p50 %.2f ms, p99 %.2f ms\n", d->sent_p50_ms, d->sent_p99_ms);
    printf("            peak running: %" PRId64 " (GET /stats RUNNING, every 200 ms), %" PRId64 " slots busy, %" PRId64
           " seen by the workers; %" PRIu64 " reports refused (409), server exit status %d\n",
           d->peak_running_server, d->peak_slots_busy, d->peak_running_client, d->refused, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    uint64_t nreqs = d->submits + d->polls + d->starts + d->completes + d->reports_reqs + d->heartbeats;
    printf("            requests: %.3f per job: %" PRIu64 " submits, %" PRIu64 " polls (%" PRIu64 " brought nothing new), %" PRIu64
           " starts, %" PRIu64 " completions, %" PRIu64 " batches of reports, %" PRIu64
           " heartbeats; reports carried by polls %" PRIu64 ", by batches %" PRIu64 "; %" PRIu64
           " idle connections closed by the server and opened again\n",
           (double)nreqs / (double)n, d->submits, d->polls, d->empty_polls, d->starts, d->completes, d->reports_reqs, d->heartbeats,
           d->carried_by_polls, d->carried_by_reports, d->reconnects);
    printf("            CPU during the run (%.1f s with set-up): server %.1f s (%.0f us/job), this process %.1f s (%.0f us/job), "
           "on %ld cores\n",
           cpu->wall, cpu->server, cpu->server * 1e6 / (double)n, cpu->client, cpu->client * 1e6 / (double)n,
           sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
}

/* v with the given decimals, or null when not measured */
static void num_or_null(char *out, size_t n, int ok, double v, int decimals)
{
    if (ok)
        snprintf(out, n, "%.*f", decimals, v);
    else
        snprintf(out, n, "null");
}

static void print_json(const opts_t *o, const djs__bench_e2e_result_t *d, const cpu_t *cpu, const djs_bench_bs_result_t *bs,
                       double ratio)
{
    uint64_t n = o->n;
    uint64_t nreqs = d->submits + d->polls + d->starts + d->completes + d->reports_reqs + d->heartbeats;
    char bsj[32], bsp50[32], bsp99[32], rat[32];
    num_or_null(bsj, sizeof(bsj), bs->ran, bs->jobs_per_s, 0);
    num_or_null(bsp50, sizeof(bsp50), bs->ran, bs->p50_ms, 2);
    num_or_null(bsp99, sizeof(bsp99), bs->ran, bs->p99_ms, 2);
    num_or_null(rat, sizeof(rat), bs->ran, ratio, 3);
    printf("{\"bench\":\"e2e\",\"mode\":\"%s\",\"batch\":%" PRIu64
           ",\"protocol\":\"%s\",\"claim\":%s,\"requests_per_job\":%.3f,\"simulated_workers\":\"one process over HTTP\","
           "\"jobs\":%" PRIu64 ",\"workers\":%" PRIu64 ",\"producers\":%" PRIu64 ",\"slots_per_worker\":%" PRIu64
           ",\"report_conns_per_worker\":%" PRIu64 ",\"hold_ms\":%" PRIu64 ",\"djs_jobs_per_s\":%.0f,\"djs_submit_per_s\":%.0f,"
           "\"submit_to_start_p50_ms\":%.2f,\"submit_to_start_p99_ms\":%.2f,"
           "\"submit_to_start_measures\":\"submit ack read to start ack read\","
           "\"submit_to_start_sent_p50_ms\":%.2f,\"submit_to_start_sent_p99_ms\":%.2f,"
           "\"server_cpu_us_per_job\":%.0f,\"client_cpu_us_per_job\":%.0f,\"peak_running\":%" PRId64 ",\"peak_slots_busy\":%" PRId64
           ",\"peak_running_client\":%" PRId64 ",\"refused\":%" PRIu64 ",\"errors\":%" PRIu64
           ",\"beanstalkd_fsync_jobs_per_s\":%s,\"beanstalkd_put_to_reserve_p50_ms\":%s,"
           "\"beanstalkd_put_to_reserve_p99_ms\":%s,\"ratio_vs_beanstalkd\":%s}\n",
           o->batch > 1 ? "workflows" : "one job per request", o->batch, o->batched ? "batched" : "single",
           o->claim ? "true" : "false", (double)nreqs / (double)n, n, o->workers, o->producers, o->slots, o->conns, o->hold_ms,
           d->jobs_per_s, d->submit_per_s, d->p50_ms, d->p99_ms, d->sent_p50_ms, d->sent_p99_ms, cpu->server * 1e6 / (double)n,
           cpu->client * 1e6 / (double)n, d->peak_running_server, d->peak_slots_busy, d->peak_running_client, d->refused,
           d->errors + bs->errors, bsj, bsp50, bsp99, rat);
}

/* The same work on beanstalkd, unless skipped, and its lines; then the JSON line. */
static void compare_beanstalkd(const opts_t *o, const char *tmpbase, const djs__bench_e2e_result_t *d, const cpu_t *cpu)
{
    djs_bench_bs_result_t bs = {0};
    if (o->no_bs)
        snprintf(bs.why, sizeof(bs.why), "skipped (--no-beanstalkd)");
    else if (o->hold_ms)
        snprintf(bs.why, sizeof(bs.why), "skipped (--hold-ms: a concurrency run, not a throughput comparison)");
    else
        djs_bench_beanstalk(o->n, (int)o->producers, (int)o->workers, tmpbase, &bs);
    if (bs.ran)
        printf("beanstalkd: %8.0f jobs/s (put, reserve, delete; binlog, -f 0; %" PRIu64 " producers, %" PRIu64
               " consumers), %.0f puts/s; put acknowledged -> reserved: p50 %.2f ms, p99 %.2f ms\n",
               bs.jobs_per_s, o->producers, o->workers, bs.put_per_s, bs.p50_ms, bs.p99_ms);
    else
        printf("beanstalkd: not measured: %s\n", bs.why);
    double ratio = bs.ran && bs.jobs_per_s > 0 ? d->jobs_per_s / bs.jobs_per_s : 0;
    if (bs.ran)
        printf("ratio djs/beanstalkd: %.2f\n", ratio);
    print_json(o, d, cpu, &bs, ratio);
}

int djs_bench_e2e(int argc, char **argv)
{
    opts_t o;
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    /* every simulated worker holds 1 + C sockets, the server as many */
    if (djs_bench_fd_limit("e2e", o.workers, "workers", o.workers * (1 + o.conns) + o.producers + 64) != 0)
        return 1;
    const char *tmpbase = o.dirbase ? o.dirbase : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    djs_bench_env_t env;
    if (djs_bench_prepare("e2e", tmpbase, 86400, &env) != 0)
        return 1;
    pid_t pid = djs_bench_serve("e2e", env.exe, env.dir, &env.addr, 1);
    if (pid < 0)
        return 1;
    print_setup(&o, &env, pid);

    djs__bench_e2e_params_t p = {.addr = env.addr,
                                 .token = env.token,
                                 .n = o.n,
                                 .hold_ms = o.hold_ms,
                                 .workers = (uint32_t)o.workers,
                                 .producers = (uint32_t)o.producers,
                                 .slots = (uint32_t)o.slots,
                                 .conns = (uint32_t)o.conns,
                                 .batch = (uint32_t)o.batch,
                                 .batched = o.batched,
                                 .claim = o.claim};
    djs__bench_e2e_result_t d;
    double s0 = djs_bench_proc_cpu_s(pid), c0 = djs_bench_proc_cpu_s(getpid()), w0 = (double)djs_monotonic_ns() / 1e9;
    djs__bench_e2e_run(&p, &d);
    cpu_t cpu = {.server = djs_bench_proc_cpu_s(pid) - s0,
                 .client = djs_bench_proc_cpu_s(getpid()) - c0,
                 .wall = (double)djs_monotonic_ns() / 1e9 - w0};
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!o.keep)
        djs_bench_rm_dir(env.dir);
    if (!d.ok) {
        fprintf(stderr, "djs bench e2e: the djs run failed: %s\n", d.why);
        return 1;
    }
    print_djs(&o, &d, &cpu, st);
    compare_beanstalkd(&o, tmpbase, &d, &cpu);
    return 0;
}
