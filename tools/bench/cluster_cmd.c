/* djs bench cluster: a 3-node cluster on loopback against a single node,
 * in the same run, with the load of bench e2e (simulated workers and
 * producers over HTTP, e2e.c), then the cluster's own figures:
 *   - submit latency: one job per request, one at a time, to the leader
 *     (and to the single node): p50/p99 of the acknowledgement;
 *   - follower lag: from a submit's acknowledgement by the leader to the
 *     job being readable on a follower (polled), p50/p99;
 *   - follower reads: GET /api/v1/jobs/{id} on the two followers from
 *     four keep-alive connections for a few seconds: reads/s;
 *   - failover: kill -9 the leader, then round-robin submits to the other
 *     nodes (following 307) until one is acknowledged: the time from the
 *     kill, p50 and max over --kills kills (the killed node is started
 *     again and caught up before the next one).
 * Human lines, then one JSON line. docs/benchmarks.md has the figures. */
#include <arpa/inet.h>
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
#include "tools/bench/bench.h"
#include "tools/bench/e2e.h"
#include "tools/bench/util.h"
#include "tools/bench/uvhttp.h"
#include "tools/cli/args.h"

#define NODES 3

static const char usage[] =
    "djs bench cluster [--jobs N] [--workers K] [--producers P] [--kills K] [--probes N] [--dir DIR] [--keep]";

typedef struct node {
    char dir[4200];
    struct sockaddr_in addr;
    int raft_port;
    pid_t pid;
} node_t;

typedef struct cluster {
    node_t n[NODES];
    char peers[256];
    char exe[4096];
    const char *token;
} cluster_t;

static int start_node(cluster_t *c, int i)
{
    char id[16];
    snprintf(id, sizeof(id), "%d", i + 1);
    const char *extra[] = {"--node-id", id, "--peers", c->peers, "--election-ms", "500", NULL};
    c->n[i].pid = djs_bench_serve_args("cluster", c->exe, c->n[i].dir, &c->n[i].addr, 1, extra);
    return c->n[i].pid < 0 ? -1 : 0;
}

/* One request over a fresh connection; status, and the answer in out. */
static int request(const struct sockaddr_in *a, const char *method, const char *path, const char *token, const char *body,
                   char *out, size_t outlen)
{
    char req[2048];
    if (body != NULL)
        snprintf(req, sizeof(req),
                 "%s %s HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer %s\r\nConnection: close\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 method, path, token, strlen(body), body);
    else
        snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", method,
                 path, token);
    return djs_bench_http_request(a, req, out, outlen);
}

/* The node that leads (index), or -1. */
static int find_leader(cluster_t *c)
{
    char out[4096];
    for (int i = 0; i < NODES; i++)
        if (c->n[i].pid > 0 && request(&c->n[i].addr, "GET", "/api/v1/cluster", c->token, NULL, out, sizeof(out)) == 200 &&
            strstr(out, "\"leading\":true") != NULL)
            return i;
    return -1;
}

static int wait_leader(cluster_t *c, double max_s)
{
    uint64_t t0 = djs_monotonic_ns();
    int l;
    while ((l = find_leader(c)) < 0 && (double)(djs_monotonic_ns() - t0) / 1e9 < max_s)
        usleep(20000);
    return l;
}

static int64_t json_num(const char *body, const char *key)
{
    char k[64];
    snprintf(k, sizeof(k), "\"%s\":", key);
    const char *p = strstr(body, k);
    return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

/* Submit one job to node i; 201 fills id (36 chars). */
static int submit(cluster_t *c, int i, const char *name, char id[37])
{
    char body[128], out[4096];
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
    int st = request(&c->n[i].addr, "POST", "/api/v1/jobs", c->token, body, out, sizeof(out));
    const char *p = strstr(out, "\"id\":\"");
    if (st == 201 && p != NULL) {
        memcpy(id, p + 6, 36);
        id[36] = '\0';
    }
    return st;
}

/* Elapsed microseconds since t0 (ns), for djs_bench_percentiles. */
static uint32_t us_since(uint64_t t0)
{
    uint64_t us = (djs_monotonic_ns() - t0) / 1000;
    return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Submit latency to node i, one at a time. */
static void submit_latency(cluster_t *c, int i, int probes, double *p50, double *p99)
{
    uint32_t *lat = djs_calloc((size_t)probes, sizeof(uint32_t));
    int n = 0;
    char id[37], name[64];
    for (int k = 0; k < probes; k++) {
        snprintf(name, sizeof(name), "lat-%d", k);
        uint64_t t0 = djs_monotonic_ns();
        if (submit(c, i, name, id) == 201)
            lat[n++] = us_since(t0);
    }
    djs_bench_percentiles(lat, (uint64_t)n, p50, p99);
    djs_free(lat);
}

/* Leader's acknowledgement to the job readable on follower f. */
static void follower_lag(cluster_t *c, int leader, int f, int probes, double *p50, double *p99, char last_id[37])
{
    uint32_t *lag = djs_calloc((size_t)probes, sizeof(uint32_t));
    int n = 0;
    char id[37], name[64], path[128], out[8192];
    for (int k = 0; k < probes; k++) {
        snprintf(name, sizeof(name), "lag-%d", k);
        if (submit(c, leader, name, id) != 201)
            continue;
        uint64_t t0 = djs_monotonic_ns();
        snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
        while (request(&c->n[f].addr, "GET", path, c->token, NULL, out, sizeof(out)) != 200 &&
               djs_monotonic_ns() - t0 < 5000000000ULL)
            ;
        lag[n++] = us_since(t0);
        memcpy(last_id, id, 37);
    }
    djs_bench_percentiles(lag, (uint64_t)n, p50, p99);
    djs_free(lag);
}

typedef struct reader {
    pthread_t t;
    const struct sockaddr_in *addr;
    char req[1024];
    double seconds;
    uint64_t ok, bad;
} reader_t;

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    char *rbuf = NULL;
    size_t rcap = 0;
    int fd = -1;
    uint64_t t0 = djs_monotonic_ns();
    while ((double)(djs_monotonic_ns() - t0) / 1e9 < r->seconds) {
        if (fd < 0) {
            fd = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(fd, (const struct sockaddr *)r->addr, sizeof(*r->addr)) != 0) {
                close(fd);
                fd = -1;
                r->bad++;
                usleep(1000);
                continue;
            }
        }
        int st = djs_bench_http_roundtrip(fd, r->req, strlen(r->req), &rbuf, &rcap);
        if (st == 200) {
            r->ok++;
        } else {
            r->bad++;
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    djs_free(rbuf);
    return NULL;
}

static double follower_reads(cluster_t *c, int leader, const char *id, double seconds)
{
    reader_t r[4];
    int k = 0;
    for (int i = 0; i < NODES; i++)
        for (int j = 0; j < 2 && i != leader; j++, k++) {
            r[k] = (reader_t){.addr = &c->n[i].addr, .seconds = seconds};
            snprintf(r[k].req, sizeof(r[k].req), "GET /api/v1/jobs/%s HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer %s\r\n\r\n", id,
                     c->token);
            pthread_create(&r[k].t, NULL, reader_main, &r[k]);
        }
    uint64_t ok = 0;
    for (int i = 0; i < k; i++) {
        pthread_join(r[i].t, NULL);
        ok += r[i].ok;
    }
    return (double)ok / seconds;
}

/* Applied seq of node i (-1: no answer). */
static int64_t applied_seq(cluster_t *c, int i)
{
    char out[4096];
    if (request(&c->n[i].addr, "GET", "/api/v1/cluster", c->token, NULL, out, sizeof(out)) != 200)
        return -1;
    return json_num(out, "appliedSeq");
}

static int failover(cluster_t *c, int kills, double *p50, double *max)
{
    uint32_t *t = djs_calloc((size_t)kills, sizeof(uint32_t));
    int n = 0;
    for (int k = 0; k < kills; k++) {
        int l = wait_leader(c, 20);
        if (l < 0)
            break;
        uint64_t t0 = djs_monotonic_ns();
        kill(c->n[l].pid, SIGKILL);
        waitpid(c->n[l].pid, NULL, 0);
        c->n[l].pid = 0;
        char id[37], name[64];
        int done = 0;
        for (int r = 0; !done && djs_monotonic_ns() - t0 < 30000000000ULL; r++) {
            int i = r % NODES;
            if (i == l)
                continue;
            snprintf(name, sizeof(name), "fo-%d-%d", k, r);
            if (submit(c, i, name, id) == 201)
                done = 1;
            else
                usleep(5000);
        }
        if (!done)
            break;
        t[n++] = us_since(t0);
        printf("  kill %d: node %d killed, a write acknowledged by the new leader %.2f s later\n", k + 1, l + 1, t[n - 1] / 1e6);
        fflush(stdout);
        if (start_node(c, l) != 0)
            break;
        int nl = wait_leader(c, 20);
        int64_t want = nl >= 0 ? applied_seq(c, nl) : -1;
        for (int w = 0; w < 500 && applied_seq(c, l) < want; w++)
            usleep(20000);
    }
    double p99_ms, p50_ms;
    djs_bench_percentiles(t, (uint64_t)n, &p50_ms, &p99_ms); /* sorts t */
    *p50 = p50_ms / 1e3;
    *max = n > 0 ? t[n - 1] / 1e6 : 0;
    djs_free(t);
    return n == kills ? 0 : -1;
}

static void stop_all(cluster_t *c)
{
    for (int i = 0; i < NODES; i++)
        if (c->n[i].pid > 0) {
            kill(c->n[i].pid, SIGTERM);
            waitpid(c->n[i].pid, NULL, 0);
            c->n[i].pid = 0;
        }
}

static int run_e2e(const struct sockaddr_in *addr, const char *token, uint64_t jobs, uint64_t workers, uint64_t producers,
                   djs__bench_e2e_result_t *d)
{
    djs__bench_e2e_params_t p = {.addr = *addr,
                                 .token = token,
                                 .n = jobs,
                                 .workers = (uint32_t)workers,
                                 .producers = (uint32_t)producers,
                                 .slots = 8,
                                 .conns = 1,
                                 .batch = 50,
                                 .batched = 1,
                                 .claim = 0};
    djs__bench_e2e_run(&p, d);
    return d->ok ? 0 : -1;
}

int djs_bench_cluster(int argc, char **argv)
{
    uint64_t jobs = 50000, workers = 50, producers = 8, kills = 10, probes = 300;
    const char *v, *dirbase = djs_cli_opt(argc, argv, "--dir");
    if (((v = djs_cli_opt(argc, argv, "--jobs")) && djs_cli_u64(v, &jobs)) ||
        ((v = djs_cli_opt(argc, argv, "--workers")) && djs_cli_u64(v, &workers)) ||
        ((v = djs_cli_opt(argc, argv, "--producers")) && djs_cli_u64(v, &producers)) ||
        ((v = djs_cli_opt(argc, argv, "--kills")) && djs_cli_u64(v, &kills)) ||
        ((v = djs_cli_opt(argc, argv, "--probes")) && djs_cli_u64(v, &probes)) || jobs == 0 || jobs > 10000000 || workers == 0 ||
        workers > 2000 || producers == 0 || producers > 256 || kills > 100 || probes == 0 || probes > 100000) {
        fprintf(stderr, "djs bench cluster: bad number\nusage: %s\n", usage);
        return 2;
    }
    int keep = djs_cli_flag(argc, argv, "--keep");
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 0, usage) < 0)
        return 2;
    if (djs_bench_fd_limit("cluster", workers, "workers", workers * 2 + producers + 64) != 0)
        return 1;

    /* the single node */
    djs_bench_env_t env;
    if (djs_bench_prepare("cluster", dirbase, 86400, &env) != 0)
        return 1;
    pid_t single = djs_bench_serve("cluster", env.exe, env.dir, &env.addr, 1);
    if (single < 0)
        return 1;
    printf("bench cluster: single node on %s, then 3 nodes on loopback (Raft, election timeout 500 ms); %" PRIu64 " jobs, %" PRIu64
           " simulated workers, %" PRIu64 " producers (workflows of 50), as bench e2e\n",
           env.listen, jobs, workers, producers);
    fflush(stdout);
    djs__bench_e2e_result_t ds, dc;
    int rc = run_e2e(&env.addr, env.token, jobs, workers, producers, &ds);
    cluster_t c;
    memset(&c, 0, sizeof(c));
    c.token = env.token;
    snprintf(c.exe, sizeof(c.exe), "%s", env.exe);
    node_t sn = {.addr = env.addr, .pid = single};
    cluster_t one = c;
    one.n[0] = sn;
    double s_p50 = 0, s_p99 = 0;
    if (rc == 0)
        submit_latency(&one, 0, (int)probes, &s_p50, &s_p99);
    kill(single, SIGTERM);
    waitpid(single, NULL, 0);
    if (rc != 0) {
        fprintf(stderr, "djs bench cluster: the single-node run failed: %s\n", ds.why);
        return 1;
    }
    printf("single:     %8.0f jobs/s end to end; submit p50 %.2f ms, p99 %.2f ms (one job per request, one at a time)\n",
           ds.jobs_per_s, s_p50, s_p99);
    fflush(stdout);

    /* the cluster: the same token secret on every node */
    char secret[4200];
    snprintf(secret, sizeof(secret), "%s/jwt.secret", env.dir);
    size_t slen = 0;
    FILE *f = fopen(secret, "rb");
    char sbuf[4096];
    if (f != NULL) {
        slen = fread(sbuf, 1, sizeof(sbuf), f);
        fclose(f);
    }
    int plen = 0;
    for (int i = 0; i < NODES; i++) {
        snprintf(c.n[i].dir, sizeof(c.n[i].dir), "%s/node%d", env.dir, i + 1);
        mkdir(c.n[i].dir, 0700);
        char p[4300];
        snprintf(p, sizeof(p), "%s/jwt.secret", c.n[i].dir);
        FILE *o = fopen(p, "wb");
        if (o == NULL || fwrite(sbuf, 1, slen, o) != slen) {
            fprintf(stderr, "djs bench cluster: cannot write %s\n", p);
            return 1;
        }
        fclose(o);
        chmod(p, 0600);
        struct sockaddr_in ra;
        if (djs_bench_free_port(&c.n[i].addr) != 0 || djs_bench_free_port(&ra) != 0)
            return 1;
        c.n[i].raft_port = ntohs(ra.sin_port);
        plen +=
            snprintf(c.peers + plen, sizeof(c.peers) - (size_t)plen, "%s%d=127.0.0.1:%d", i ? "," : "", i + 1, c.n[i].raft_port);
    }
    for (int i = 0; i < NODES; i++)
        if (start_node(&c, i) != 0) {
            stop_all(&c);
            return 1;
        }
    int leader = wait_leader(&c, 20);
    if (leader < 0) {
        fprintf(stderr, "djs bench cluster: no leader within 20 s\n");
        stop_all(&c);
        return 1;
    }
    rc = run_e2e(&c.n[leader].addr, env.token, jobs, workers, producers, &dc);
    if (rc != 0) {
        fprintf(stderr, "djs bench cluster: the cluster run failed: %s\n", dc.why);
        stop_all(&c);
        return 1;
    }
    double c_p50 = 0, c_p99 = 0, lag50 = 0, lag99 = 0, fo50 = 0, fomax = 0;
    submit_latency(&c, leader, (int)probes, &c_p50, &c_p99);
    int follower = (leader + 1) % NODES;
    char id[37] = {0};
    follower_lag(&c, leader, follower, (int)(probes < 200 ? probes : 200), &lag50, &lag99, id);
    double reads = id[0] ? follower_reads(&c, leader, id, 3.0) : 0;
    printf("cluster:    %8.0f jobs/s end to end (leader node %d); ratio to the single node %.2f\n", dc.jobs_per_s, leader + 1,
           dc.jobs_per_s / ds.jobs_per_s);
    printf("            submit p50 %.2f ms, p99 %.2f ms (one job per request, one at a time, to the leader)\n", c_p50, c_p99);
    printf("            follower lag (leader's 201 to the job readable on node %d): p50 %.2f ms, p99 %.2f ms\n", follower + 1,
           lag50, lag99);
    printf("            follower reads: %.0f GET /jobs/{id} per s (4 keep-alive connections on the 2 followers, 3 s)\n", reads);
    fflush(stdout);
    int fok = kills > 0 ? failover(&c, (int)kills, &fo50, &fomax) : 0;
    if (kills > 0)
        printf("            failover (kill -9 of the leader to the first acknowledged write): p50 %.2f s, max %.2f s over %" PRIu64
               " kills%s\n",
               fo50, fomax, kills, fok == 0 ? "" : " (INCOMPLETE)");
    stop_all(&c);
    if (!keep) {
        for (int i = 0; i < NODES; i++) {
            char cmd[4400];
            snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c.n[i].dir);
            if (system(cmd) != 0)
                fprintf(stderr, "djs bench cluster: could not remove %s\n", c.n[i].dir);
        }
        djs_bench_rm_dir(env.dir);
    }
    printf("{\"bench\":\"cluster\",\"nodes\":3,\"jobs\":%" PRIu64 ",\"workers\":%" PRIu64 ",\"producers\":%" PRIu64
           ",\"cluster_jobs_per_s\":%.0f,\"single_jobs_per_s\":%.0f,\"ratio_cluster_vs_single\":%.3f,\"submit_p50_ms\":%.2f,"
           "\"submit_p99_ms\":%.2f,\"single_submit_p99_ms\":%.2f,\"follower_lag_p50_ms\":%.2f,\"follower_lag_p99_ms\":%.2f,"
           "\"follower_reads_per_s\":%.0f,\"failover_s\":{\"p50\":%.2f,\"max\":%.2f,\"kills\":%" PRIu64 "}}\n",
           jobs, workers, producers, dc.jobs_per_s, ds.jobs_per_s, dc.jobs_per_s / ds.jobs_per_s, c_p50, c_p99, s_p99, lag50, lag99,
           reads, fo50, fomax, kills);
    return fok == 0 ? 0 : 1;
}
