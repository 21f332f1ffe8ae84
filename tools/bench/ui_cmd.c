/* djs bench ui, the command: the server side of the dashboard benchmark.
 * It makes a data directory and an admin token, finds or builds the
 * dashboard (--ui-dir, else `npx vite build` from the source tree's ui/),
 * starts `djs serve --ui-dir` without agents (the jobs stay QUEUED), loads
 * the jobs in workflows of 1,000 over several connections, then runs
 * ui/e2e/bench.mjs (node, playwright-core, Debian's Chromium), which runs
 * the producer and the browser and prints the figures: progress on stderr,
 * one JSON line on stdout. What is measured: bench.mjs's opening comment
 * and docs/benchmarks.md. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#endif
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "tools/bench/bench.h"
#include "tools/bench/util.h"
#include "tools/bench/uvhttp.h"
#include "tools/cli/args.h"

/* Jobs per POST /jobs while loading: the most a workflow may hold. */
#define LOAD_BATCH 1000
/* The exit code of a run that could not start for want of node, its
 * packages or Chromium (the automake convention for a skipped test). */
#define EXIT_SKIP 77

static const char usage[] = "djs bench ui [--jobs 100000] [--seconds 60] [--rate 2000] [--samples 30] [--scroll-step PX] "
                            "[--loaders 4] [--ui-dir DIR] [--dir DIR] [--keep]";

typedef struct opts {
    uint64_t n, seconds, rate, samples, scroll_step, loaders;
    const char *dirbase, *ui_dir;
    int keep;
} opts_t;

/* The options into o: 0, or 2 after a usage message. */
static int parse_opts(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.n = 100000, .seconds = 60, .rate = 2000, .samples = 30, .scroll_step = 800, .loaders = 4};
    const char *v;
    o->dirbase = djs_cli_opt(argc, argv, "--dir");
    o->ui_dir = djs_cli_opt(argc, argv, "--ui-dir");
    if (((v = djs_cli_opt(argc, argv, "--jobs")) && djs_cli_u64(v, &o->n)) ||
        ((v = djs_cli_opt(argc, argv, "--seconds")) && djs_cli_u64(v, &o->seconds)) ||
        ((v = djs_cli_opt(argc, argv, "--rate")) && djs_cli_u64(v, &o->rate)) ||
        ((v = djs_cli_opt(argc, argv, "--samples")) && djs_cli_u64(v, &o->samples)) ||
        ((v = djs_cli_opt(argc, argv, "--scroll-step")) && djs_cli_u64(v, &o->scroll_step)) ||
        ((v = djs_cli_opt(argc, argv, "--loaders")) && djs_cli_u64(v, &o->loaders)) || o->n == 0 || o->n > 10000000 ||
        o->seconds == 0 || o->seconds > 3600 || o->rate > 100000 || o->samples == 0 || o->samples > 10000 || o->scroll_step == 0 ||
        o->scroll_step > 100000 || o->loaders == 0 || o->loaders > 64) {
        fprintf(stderr, "djs bench ui: bad number\nusage: %s\n", usage);
        return 2;
    }
    o->keep = djs_cli_flag(argc, argv, "--keep");
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 0, usage) < 0)
        return 2;
    return 0;
}

static int exists(const char *dir, const char *rel)
{
    char p[8400];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    return access(p, F_OK) == 0;
}

/* The source tree (the one holding ui/e2e/bench.mjs) into src:
 * $DJS_SOURCE_DIR, the parent of this program's directory (build/djs,
 * build-dev/djs) or the working directory. 0, or DJS_ENOTFOUND after a
 * message. */
static int find_source(const char *exe, char *src, size_t n)
{
    char up[4096], cwd[4096];
    snprintf(up, sizeof(up), "%s", exe);
    snprintf(up, sizeof(up), "%s/..", dirname(up));
    const char *cand[3] = {getenv("DJS_SOURCE_DIR"), up, getcwd(cwd, sizeof(cwd))};
    for (int i = 0; i < 3; i++) {
        if (cand[i] != NULL && exists(cand[i], "ui/e2e/bench.mjs")) {
            if (realpath(cand[i], src) == NULL)
                snprintf(src, n, "%s", cand[i]);
            return 0;
        }
    }
    fprintf(stderr,
            "djs bench ui: cannot find the source tree (ui/e2e/bench.mjs) next to %s or in the working directory; "
            "set DJS_SOURCE_DIR\n",
            exe);
    return DJS_ENOTFOUND;
}

/* Whether node, the dashboard's packages and Chromium are here: 0, or
 * DJS_ENOTFOUND after a message saying what is missing and how to get it. */
static int check_tools(const char *src, int need_vite)
{
    char ui[4200];
    snprintf(ui, sizeof(ui), "%s/ui", src);
    const char *chromium = getenv("CHROMIUM") ? getenv("CHROMIUM") : "/usr/bin/chromium";
    if (system("node --version > /dev/null 2>&1") != 0) {
        fprintf(stderr, "djs bench ui: skipped: node is not on PATH (node 20 or later: apt-get install nodejs)\n");
        return DJS_ENOTFOUND;
    }
    if (!exists(ui, "node_modules/playwright-core/package.json") || (need_vite && !exists(ui, "node_modules/vite/package.json"))) {
        fprintf(stderr, "djs bench ui: skipped: %s/node_modules lacks playwright-core%s (run: cd %s && npm ci)\n", ui,
                need_vite ? " or vite" : "", ui);
        return DJS_ENOTFOUND;
    }
    if (access(chromium, X_OK) != 0) {
        fprintf(stderr, "djs bench ui: skipped: no Chromium at %s (apt-get install chromium, or set CHROMIUM)\n", chromium);
        return DJS_ENOTFOUND;
    }
    return 0;
}

/* Run argv (a program on PATH) in directory cwd (NULL: ours), its stdout
 * ours or, with to_stderr, on our stderr, and wait: its exit status (0 ran
 * well), or -1. */
static int run_child(const char *cwd, char *const argv[], int to_stderr)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        if (to_stderr)
            dup2(2, 1);
        if (cwd != NULL && chdir(cwd) != 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Build the dashboard from src/ui into out. 0, or DJS_EIO after a message. */
static int build_ui(const char *src, const char *out)
{
    char ui[4200];
    snprintf(ui, sizeof(ui), "%s/ui", src);
    fprintf(stderr, "bench ui: building the dashboard: cd %s && npx vite build --outDir %s --emptyOutDir\n", ui, out);
    uint64_t t0 = djs_monotonic_ns();
    char *argv[] = {"npx", "vite", "build", "--outDir", (char *)out, "--emptyOutDir", "--logLevel", "warn", NULL};
    int rc = run_child(ui, argv, 1);
    if (rc != 0 || !exists(out, "index.html")) {
        fprintf(stderr, "djs bench ui: the dashboard build failed (exit %d)\n", rc);
        return DJS_EIO;
    }
    fprintf(stderr, "bench ui: dashboard built in %.1f s\n", (double)(djs_monotonic_ns() - t0) / 1e9);
    return 0;
}

/* ---- loading ---- */

typedef struct loader {
    const djs_bench_env_t *env;
    uint64_t n;
    atomic_uint_fast64_t next; /* the next job index to claim, in batches */
    atomic_uint_fast64_t done, failed;
} loader_t;

/* One loading connection: claim batches until all are claimed. */
static void *load_thread(void *arg)
{
    loader_t *l = arg;
    char auth[1200], *rbuf = NULL;
    size_t rcap = 0, full_len = 0;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", l->env->token);
    char *full = djs_bench_submit_request(auth, LOAD_BATCH, 1, &full_len);
    int fd = -1;
    for (;;) {
        uint64_t at = atomic_fetch_add(&l->next, LOAD_BATCH);
        if (at >= l->n)
            break;
        uint32_t m = (uint32_t)(l->n - at < LOAD_BATCH ? l->n - at : LOAD_BATCH);
        size_t len = full_len;
        char *req = m == LOAD_BATCH ? full : djs_bench_submit_request(auth, m, 1, &len);
        int st = DJS_EIO;
        for (int attempt = 0; attempt < 3 && st != 201; attempt++) {
            if (fd < 0)
                fd = djs_bench_http_connect_fd(&l->env->addr);
            st = fd < 0 ? DJS_EIO : djs_bench_http_roundtrip(fd, req, len, &rbuf, &rcap);
            if (st < 0 && fd >= 0) {
                close(fd);
                fd = -1;
            }
        }
        if (req != full)
            djs_free(req);
        atomic_fetch_add(st == 201 ? &l->done : &l->failed, m);
        if (st != 201 && atomic_load(&l->failed) == m)
            fprintf(stderr, "djs bench ui: a load request answered %d: %.300s\n", st, rbuf ? rbuf : "");
    }
    if (fd >= 0)
        close(fd);
    djs_free(full);
    djs_free(rbuf);
    return NULL;
}

/* Submit o->n no-op jobs over o->loaders connections; the seconds it took
 * in *secs. 0, or DJS_EIO after a message (a thread, or a refused batch). */
static int load_jobs(const opts_t *o, const djs_bench_env_t *env, double *secs)
{
    loader_t l = {.env = env, .n = o->n};
    pthread_t th[64];
    uint64_t nth = 0, t0 = djs_monotonic_ns();
    int rc = 0;
    fprintf(stderr, "bench ui: loading %" PRIu64 " jobs (workflows of %d, %" PRIu64 " connections)\n", o->n, LOAD_BATCH,
            o->loaders);
    for (; nth < o->loaders; nth++) {
        if (pthread_create(&th[nth], NULL, load_thread, &l) != 0) {
            fprintf(stderr, "djs bench ui: cannot start a loading thread\n");
            rc = DJS_EIO;
            break;
        }
    }
    for (uint64_t i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    *secs = (double)(djs_monotonic_ns() - t0) / 1e9;
    if (rc != 0)
        goto fail;
    if (atomic_load(&l.done) != o->n) {
        fprintf(stderr, "djs bench ui: %" PRIu64 " of %" PRIu64 " jobs were refused\n", (uint64_t)atomic_load(&l.failed), o->n);
        rc = DJS_EIO;
        goto fail;
    }
    fprintf(stderr, "bench ui: loaded %" PRIu64 " jobs in %.2f s (%.0f jobs/s)\n", o->n, *secs, (double)o->n / *secs);
fail:
    return rc;
}

/* ---- the browser side ---- */

/* Run node src/ui/e2e/bench.mjs against the server; its stdout (the JSON
 * line) is ours. Its exit status, or -1. */
static int run_browser(const opts_t *o, const djs_bench_env_t *env, const char *src, double load_s)
{
    char script[4200], url[128], n[32], secs[32], rate[32], samples[32], step[32], ls[32];
    snprintf(script, sizeof(script), "%s/ui/e2e/bench.mjs", src);
    snprintf(url, sizeof(url), "http://%s", env->listen);
    snprintf(n, sizeof(n), "%" PRIu64, o->n);
    snprintf(secs, sizeof(secs), "%" PRIu64, o->seconds);
    snprintf(rate, sizeof(rate), "%" PRIu64, o->rate);
    snprintf(samples, sizeof(samples), "%" PRIu64, o->samples);
    snprintf(step, sizeof(step), "%" PRIu64, o->scroll_step);
    snprintf(ls, sizeof(ls), "%.3f", load_s);
    char *argv[] = {"node", script,   "--url", url,         "--token", (char *)env->token, "--jobs", n,          "--seconds",
                    secs,   "--rate", rate,    "--samples", samples,   "--scroll-step",    step,     "--load-s", ls,
                    NULL};
    return run_child(NULL, argv, 0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Remove dir and everything under it (it is one this command made). */
static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The dashboard to serve: --ui-dir, or one built into uibuf. 0, or after
 * a message DJS_ENOTFOUND (a tool is missing: skip) or DJS_EIO. */
static int prepare_ui(const opts_t *o, const char *src, const djs_bench_env_t *env, char *uibuf, size_t n, const char **ui)
{
    int rc = check_tools(src, o->ui_dir == NULL);
    if (rc != 0)
        return rc;
    if (o->ui_dir != NULL) {
        if (!exists(o->ui_dir, "index.html")) {
            fprintf(stderr, "djs bench ui: %s/index.html does not exist (--ui-dir takes a built dashboard)\n", o->ui_dir);
            return DJS_EIO;
        }
        *ui = o->ui_dir;
        return 0;
    }
    snprintf(uibuf, n, "%s-dist", env->dir);
    *ui = uibuf;
    return build_ui(src, uibuf);
}

int djs_bench_ui(int argc, char **argv)
{
    opts_t o;
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    djs_bench_env_t env;
    char src[4096], uibuf[4200];
    const char *ui = NULL;
    int code = 1;
    pid_t pid = -1;
    if (djs_bench_prepare("ui", o.dirbase, 86400, &env) != 0)
        return 1;
    uibuf[0] = '\0';
    int rc = find_source(env.exe, src, sizeof(src));
    if (rc == 0)
        rc = prepare_ui(&o, src, &env, uibuf, sizeof(uibuf), &ui);
    if (rc != 0) {
        code = rc == DJS_ENOTFOUND ? EXIT_SKIP : 1;
        goto fail;
    }
    /* the dashboard from that folder, and no agents: the jobs stay QUEUED */
    pid = djs_bench_serve_args("ui", env.exe, env.dir, &env.addr, 1, (const char *const[]){"--ui-dir", ui, NULL});
    if (pid < 0)
        goto fail;
    fprintf(stderr, "bench ui: djs serve on %s (pid %d, no agents: jobs stay QUEUED), data in %s, dashboard from %s\n", env.listen,
            (int)pid, env.dir, ui);
    double load_s = 0;
    if (load_jobs(&o, &env, &load_s) != 0)
        goto fail;
    int st = run_browser(&o, &env, src, load_s);
    if (st != 0)
        fprintf(stderr, "djs bench ui: the browser run failed (node exit %d)\n", st);
    code = st == 0 ? 0 : 1;
fail:
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    if (!o.keep) {
        rm_tree(env.dir);
        if (uibuf[0] != '\0')
            rm_tree(uibuf);
    } else {
        fprintf(stderr, "bench ui: kept %s%s%s\n", env.dir, uibuf[0] ? " and " : "", uibuf);
    }
    return code;
}
