/* djs bench api: a built-in HTTP/1.1 load generator against a real server.
 *
 * Starts `djs serve` (this same binary) as a child on a free loopback port
 * with a fresh data directory, mints an admin token with the server's
 * secret, then drives C keep-alive connections from T threads (default 1)
 * with one epoll set each, each connection sending its next request as soon
 * as the previous answer is read. Three
 * phases of S seconds: GET /health (the ceiling: the cheapest request the
 * server answers), GET /api/v1/jobs/{id}, POST /api/v1/jobs (acknowledged
 * only when durable). The child is the server; this process is the client:
 * on 2 cores they share the machine, as with wrk.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "api/auth.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "tools/bench/bench.h"
#include "tools/bench/util.h"
#include "tools/bench/uvhttp.h"
#include "tools/cli/args.h"

/* The load generator: per thread one epoll set (level-triggered, each socket
 * registered once for reading), non-blocking keep-alive connections with one
 * request in flight each. The request bytes are built once; an answer
 * is complete when its head ("\r\n\r\n") and Content-Length bytes are in;
 * no allocation per request. The clock is read once per epoll_wait return
 * and serves as the completion time of every answer of that batch and as
 * the send time of the requests that follow them. */

#define CONN_BUF 65536

typedef struct conn {
    int fd;
    int dead;
    size_t len;     /* bytes in buf */
    size_t scanned; /* bytes already searched for the end of the head */
    size_t total;   /* head + body length once the head is in, else 0 */
    size_t wpos;    /* bytes of the request written (partial write) */
    uint64_t sent_ns;
    char buf[CONN_BUF];
} conn_t;

typedef struct phase {
    struct sockaddr_in addr;
    const char *req; /* the request bytes, the same for every send */
    size_t req_len;
    int nconns;
    uint64_t end_ns;
    uint64_t done, errors, non2xx;
    uint32_t *lat_us;
    uint64_t nlat, cap_lat;
    uint64_t t0, t1;
} phase_t;

static void conn_fail(phase_t *ph, int ep, conn_t *c, int error)
{
    if (c->dead)
        return;
    if (error)
        ph->errors++;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->dead = 1;
}

/* Write (the rest of) the request; 0 on success or when waiting for room,
 * else DJS_EIO. */
static int conn_write(phase_t *ph, int ep, conn_t *c)
{
    while (c->wpos < ph->req_len) {
        ssize_t n = write(c->fd, ph->req + c->wpos, ph->req_len - c->wpos);
        if (n > 0) {
            c->wpos += (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) == 0 ? 0 : DJS_EIO;
        } else if (!(n < 0 && errno == EINTR)) {
            return DJS_EIO;
        }
    }
    return 0;
}

static int conn_send(phase_t *ph, int ep, conn_t *c, uint64_t now)
{
    c->sent_ns = now;
    c->wpos = 0;
    return conn_write(ph, ep, c);
}

/* Read what arrived: 1 when an answer is complete and the next request is
 * due (the caller sends it once the whole batch of events is read). */
static int conn_readable(phase_t *ph, int ep, conn_t *c, uint64_t now)
{
    ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        conn_fail(ph, ep, c, n < 0 || c->len > 0); /* EOF between answers: the server closed, not an error */
        return 0;
    }
    c->len += (size_t)n;
    size_t head;
    if (!djs_bench_http_answer(c->buf, c->len, &c->scanned, &c->total, &head)) {
        if (c->len == sizeof(c->buf))
            conn_fail(ph, ep, c, 1); /* an answer larger than the buffer: not expected from these endpoints */
        return 0;
    }
    int status = djs_bench_http_status(c->buf, c->len);
    ph->done++;
    if (status < 200 || status > 299)
        ph->non2xx++;
    if (ph->nlat == ph->cap_lat) {
        ph->cap_lat = ph->cap_lat ? ph->cap_lat * 2 : 1u << 18;
        ph->lat_us = djs_realloc(ph->lat_us, ph->cap_lat * sizeof(uint32_t));
    }
    ph->lat_us[ph->nlat++] = (uint32_t)((now - c->sent_ns) / 1000);
    /* one request in flight: whatever follows the answer would be unsolicited */
    size_t extra = c->len - c->total;
    if (extra > 0)
        memmove(c->buf, c->buf + c->total, extra);
    c->len = extra;
    c->scanned = 0;
    c->total = 0;
    if (now >= ph->end_ns) {
        conn_fail(ph, ep, c, 0);
        return 0;
    }
    return 1;
}

static void *phase_thread(void *arg)
{
    phase_t *ph = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    conn_t *conns = djs_calloc((size_t)ph->nconns, sizeof(conn_t));
    int open = 0;
    for (int i = 0; i < ph->nconns; i++) {
        conn_t *c = &conns[i];
        c->fd = djs_bench_http_connect_fd(&ph->addr);
        if (c->fd < 0) {
            ph->errors++;
            c->dead = 1;
            continue;
        }
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
        open++;
    }
    ph->t0 = djs_monotonic_ns();
    for (int i = 0; i < ph->nconns; i++)
        if (!conns[i].dead && conn_send(ph, ep, &conns[i], ph->t0) != 0)
            conn_fail(ph, ep, &conns[i], 1), open--;
    struct epoll_event evs[256];
    conn_t *due[256];
    while (open > 0) {
        int k = epoll_wait(ep, evs, 256, 1000), ndue = 0;
        uint64_t now = djs_monotonic_ns();
        if (k < 0 && errno != EINTR)
            break;
        for (int i = 0; i < k; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            if ((evs[i].events & EPOLLOUT) && c->wpos < ph->req_len) {
                if (conn_write(ph, ep, c) != 0) {
                    conn_fail(ph, ep, c, 1);
                } else if (c->wpos == ph->req_len) {
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                }
            }
            if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && conn_readable(ph, ep, c, now))
                due[ndue++] = c;
            if (c->dead)
                open--;
        }
        /* the next requests go out together once the batch is read (as wrk
         * does): the server then finds them in one wake-up */
        for (int i = 0; i < ndue; i++)
            if (conn_send(ph, ep, due[i], now) != 0)
                conn_fail(ph, ep, due[i], 1), open--;
        if (now >= ph->end_ns + 10000000000ull) /* answers still missing 10 s after the end */
            break;
    }
    ph->t1 = djs_monotonic_ns();
    for (int i = 0; i < ph->nconns; i++)
        if (!conns[i].dead)
            conn_fail(ph, ep, &conns[i], 1);
    djs_free(conns);
    close(ep);
    return NULL;
}

typedef struct result {
    double rps, p50_ms, p99_ms;
    double server_us, client_us; /* CPU time (user + system) per answer */
    uint64_t done, errors, non2xx;
} result_t;

static result_t run_phase(const char *name, pid_t server, const struct sockaddr_in *addr, const char *req, int conns, int threads,
                          double secs)
{
    double s0 = djs_bench_proc_cpu_s(server), c0 = djs_bench_proc_cpu_s(getpid());
    phase_t ph[16];
    pthread_t tid[16];
    memset(ph, 0, sizeof(ph));
    uint64_t end = djs_monotonic_ns() + (uint64_t)(secs * 1e9);
    for (int t = 0; t < threads; t++) {
        ph[t].addr = *addr;
        ph[t].req = req;
        ph[t].req_len = strlen(req);
        ph[t].nconns = conns / threads + (t < conns % threads);
        ph[t].end_ns = end;
    }
    if (threads == 1) {
        phase_thread(&ph[0]);
    } else {
        for (int t = 0; t < threads; t++)
            pthread_create(&tid[t], NULL, phase_thread, &ph[t]);
        for (int t = 0; t < threads; t++)
            pthread_join(tid[t], NULL);
    }
    double s1 = djs_bench_proc_cpu_s(server), c1 = djs_bench_proc_cpu_s(getpid());
    result_t r = {0};
    uint64_t t0 = UINT64_MAX, t1 = 0, nlat = 0;
    for (int t = 0; t < threads; t++) {
        r.done += ph[t].done;
        r.errors += ph[t].errors;
        r.non2xx += ph[t].non2xx;
        nlat += ph[t].nlat;
        t0 = ph[t].t0 < t0 ? ph[t].t0 : t0;
        t1 = ph[t].t1 > t1 ? ph[t].t1 : t1;
    }
    uint32_t *lat = djs_malloc((nlat ? nlat : 1) * sizeof(uint32_t));
    nlat = 0;
    for (int t = 0; t < threads; t++) {
        if (ph[t].nlat)
            memcpy(lat + nlat, ph[t].lat_us, ph[t].nlat * sizeof(uint32_t));
        nlat += ph[t].nlat;
        djs_free(ph[t].lat_us);
    }
    double el = (t1 - t0) / 1e9;
    r.rps = el > 0 ? r.done / el : 0;
    djs_bench_percentiles(lat, nlat, &r.p50_ms, &r.p99_ms);
    djs_free(lat);
    if (r.done > 0) {
        r.server_us = (s1 - s0) * 1e6 / (double)r.done;
        r.client_us = (c1 - c0) * 1e6 / (double)r.done;
    }
    printf("%-12s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  CPU/answer: server %5.1f us, client %5.1f us  (%" PRIu64
           " answers, %" PRIu64 " not 2xx, %" PRIu64 " errors)\n",
           name, r.rps, r.p50_ms, r.p99_ms, r.server_us, r.client_us, r.done, r.non2xx, r.errors);
    fflush(stdout);
    return r;
}

/* The log's commit counters from /metrics (a snapshot). */
typedef struct log_counters {
    double commits, events, commit_s;
} log_counters_t;

static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return 0;
}

static log_counters_t log_counters(const struct sockaddr_in *addr, const char *token)
{
    static char out[1 << 20];
    char req[2048];
    log_counters_t c = {0};
    snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\nAuthorization: Bearer %s\r\n\r\n", token);
    if (djs_bench_http_request(addr, req, out, sizeof(out)) == 200) {
        c.commits = metric(out, "djs_log_commits_total");
        c.events = metric(out, "djs_log_events_total");
        c.commit_s = metric(out, "djs_log_commit_seconds_sum");
    }
    return c;
}

/* The same phase driven by wrk (-t1, same connections and duration), as a
 * cross-check of the built-in client; rps < 0 when wrk is not available. */
static result_t run_wrk(const char *name, const char *listen, const char *path, const char *token, const char *script, int conns,
                        double secs)
{
    result_t r = {.rps = -1};
    char cmd[2048], line[512];
    snprintf(cmd, sizeof(cmd), "wrk -t1 -c%d -d%.0fs --latency %s%s%s -H 'Authorization: Bearer %s' http://%s%s 2>/dev/null", conns,
             secs, script ? "-s '" : "", script ? script : "", script ? "'" : "", token, listen, path);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return r;
    while (fgets(line, sizeof(line), f) != NULL) {
        double x;
        char unit[8];
        if (sscanf(line, " Requests/sec: %lf", &x) == 1)
            r.rps = x;
        else if (sscanf(line, " Non-2xx or 3xx responses: %lf", &x) == 1)
            r.non2xx = (uint64_t)x;
        else if (sscanf(line, " 50%% %lf%7s", &x, unit) == 2)
            r.p50_ms = strcmp(unit, "us") == 0 ? x / 1e3 : strcmp(unit, "s") == 0 ? x * 1e3 : x;
        else if (sscanf(line, " 99%% %lf%7s", &x, unit) == 2)
            r.p99_ms = strcmp(unit, "us") == 0 ? x / 1e3 : strcmp(unit, "s") == 0 ? x * 1e3 : x;
    }
    if (pclose(f) != 0)
        r.rps = -1;
    if (r.rps >= 0)
        printf("wrk %-8s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%" PRIu64 " not 2xx)\n", name, r.rps, r.p50_ms, r.p99_ms,
               r.non2xx);
    else
        printf("wrk %-8s not run (is wrk installed?)\n", name);
    fflush(stdout);
    return r;
}

int djs_bench_api(int argc, char **argv)
{
    const char *usage = "djs bench api [--connections C] [--seconds S] [--threads T] [--wrk] [--keep]";
    uint64_t conns = 64, secs = 5, threads = 1;
    const char *v;
    if (((v = djs_cli_opt(argc, argv, "--connections")) && djs_cli_u64(v, &conns)) ||
        ((v = djs_cli_opt(argc, argv, "--seconds")) && djs_cli_u64(v, &secs)) ||
        ((v = djs_cli_opt(argc, argv, "--threads")) && djs_cli_u64(v, &threads)) || conns == 0 || conns > 1000 || secs == 0 ||
        secs > 600 || threads == 0 || threads > 16 || threads > conns) {
        fprintf(stderr, "djs bench api: bad number\nusage: %s\n", usage);
        return 2;
    }
    int keep = djs_cli_flag(argc, argv, "--keep"), use_wrk = djs_cli_flag(argc, argv, "--wrk");
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 0, usage) < 0)
        return 2;
    djs_bench_env_t env;
    if (djs_bench_prepare("api", NULL, 3600, &env) != 0)
        return 1;
    const char *dir = env.dir, *exe = env.exe, *listen = env.listen, *token = env.token;
    struct sockaddr_in addr = env.addr;
    pid_t pid = djs_bench_serve("api", exe, dir, &addr, 0);
    if (pid < 0)
        return 1;
    char out[65536], req[2048];
    const char *body = "{\"name\":\"bench\",\"payload\":{\"cmd\":\"true\"}}";
    snprintf(req, sizeof(req),
             "POST /api/v1/jobs HTTP/1.1\r\nHost: b\r\nConnection: close\r\nAuthorization: Bearer %s\r\nContent-Type: "
             "application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             token, strlen(body), body);
    char *idp;
    if (djs_bench_http_request(&addr, req, out, sizeof(out)) != 201 || (idp = strstr(out, "\"id\":\"")) == NULL) {
        fprintf(stderr, "djs bench api: could not submit the job to read\n");
        kill(pid, SIGKILL);
        return 1;
    }
    char id[40];
    snprintf(id, sizeof(id), "%.36s", idp + 6);
    printf("bench api: djs serve on %s (pid %d), %" PRIu64 " connections, %" PRIu64 " client thread(s), %" PRIu64 " s per phase\n",
           listen, (int)pid, conns, threads, secs);
    fflush(stdout);

    char health[256], get[2048], post[2048];
    snprintf(health, sizeof(health), "GET /health HTTP/1.1\r\nHost: b\r\n\r\n");
    snprintf(get, sizeof(get), "GET /api/v1/jobs/%s HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer %s\r\n\r\n", id, token);
    snprintf(
        post, sizeof(post),
        "POST /api/v1/jobs HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: "
        "%zu\r\n\r\n%s",
        token, strlen(body), body);
    result_t h = run_phase("GET /health", pid, &addr, health, (int)conns, (int)threads, (double)secs);
    result_t g = run_phase("GET job", pid, &addr, get, (int)conns, (int)threads, (double)secs);
    log_counters_t l0 = log_counters(&addr, token);
    result_t p = run_phase("POST job", pid, &addr, post, (int)conns, (int)threads, (double)secs);
    log_counters_t l1 = log_counters(&addr, token);
    double commits = l1.commits - l0.commits, commit_ms = commits > 0 ? (l1.commit_s - l0.commit_s) * 1e3 / commits : 0;
    double per_commit = commits > 0 ? (l1.events - l0.events) / commits : 0;
    printf("log during POST: %.0f commits, %.1f events per commit, %.2f ms per commit (put + commit + fsync)\n", commits,
           per_commit, commit_ms);
    result_t wh = {.rps = -1}, wg = {.rps = -1}, wp = {.rps = -1};
    char script[4200], path[4200];
    if (use_wrk) {
        snprintf(script, sizeof(script), "%s/post.lua", dir);
        FILE *f = fopen(script, "w");
        if (f != NULL) {
            fprintf(f, "wrk.method = \"POST\"\nwrk.body = '%s'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n", body);
            fclose(f);
        }
        snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
        wh = run_wrk("health", listen, "/health", token, NULL, (int)conns, (double)secs);
        wg = run_wrk("get job", listen, path, token, NULL, (int)conns, (double)secs);
        wp = run_wrk("post job", listen, "/api/v1/jobs", token, script, (int)conns, (double)secs);
        unlink(script);
    }

    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    printf("server exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    printf("{\"bench\":\"api\",\"connections\":%" PRIu64 ",\"seconds\":%" PRIu64 ",\"health_rps\":%.0f,\"get_job_rps\":%.0f,"
           "\"get_job_p99_ms\":%.2f,\"submit_rps\":%.0f,\"submit_p50_ms\":%.2f,\"submit_p99_ms\":%.2f,"
           "\"ratio_submit_vs_health\":%.3f,\"server_cpu_us\":{\"health\":%.1f,\"get_job\":%.1f,\"submit\":%.1f},"
           "\"client_cpu_us\":{\"health\":%.1f,\"get_job\":%.1f,\"submit\":%.1f},\"submit_commit_ms\":%.2f,"
           "\"submit_events_per_commit\":%.1f,\"errors\":%" PRIu64,
           conns, secs, h.rps, g.rps, g.p99_ms, p.rps, p.p50_ms, p.p99_ms, h.rps > 0 ? p.rps / h.rps : 0.0, h.server_us,
           g.server_us, p.server_us, h.client_us, g.client_us, p.client_us, commit_ms, per_commit,
           h.errors + g.errors + p.errors + h.non2xx + g.non2xx + p.non2xx);
    if (use_wrk)
        printf(",\"wrk_health_rps\":%.0f,\"wrk_get_job_rps\":%.0f,\"wrk_submit_rps\":%.0f,\"wrk_submit_p99_ms\":%.2f,"
               "\"wrk_non2xx\":%" PRIu64,
               wh.rps, wg.rps, wp.rps, wp.p99_ms, wh.non2xx + wg.non2xx + wp.non2xx);
    printf("}\n");
    if (!keep) {
        const char *files[] = {"data.mdb", "lock.mdb", "jwt.secret"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return 0;
}
