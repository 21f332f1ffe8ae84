/* djs bench api: a built-in HTTP/1.1 load generator against a real server.
 *
 * Starts `djs serve` (this same binary) as a child on a free loopback port
 * with a fresh data directory, mints an admin token with the server's
 * secret, then drives C keep-alive connections from one libuv loop, each
 * sending its next request as soon as the previous answer is read. Three
 * phases of S seconds: GET /health (the ceiling: the cheapest request the
 * server answers), GET /api/v1/jobs/{id}, POST /api/v1/jobs (acknowledged
 * only when durable). The child is the server; this process is the client:
 * on 2 cores they share the machine, as with wrk.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
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
#include "tools/djs/cli.h"

typedef struct conn conn_t;

typedef struct phase {
    uv_loop_t *loop;
    struct sockaddr_in addr;
    const char *req; /* the request bytes, the same for every send */
    size_t req_len;
    uint64_t end_ns;
    uint64_t done, errors, non2xx;
    uint32_t *lat_us;
    uint64_t nlat, cap_lat;
    int open;
} phase_t;

struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    phase_t *ph;
    char buf[65536];
    size_t len;
    uint64_t sent_ns;
};

static void send_next(conn_t *c);

static void on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->ph->open--;
    djs_free(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    conn_t *c = h->data;
    (void)hint;
    b->base = c->buf + c->len;
    b->len = sizeof(c->buf) - c->len;
}

/* One whole response in buf? Returns its length, or 0. */
static size_t response_len(conn_t *c, int *status)
{
    c->buf[c->len < sizeof(c->buf) ? c->len : sizeof(c->buf) - 1] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL)
        return 0;
    size_t head = (size_t)(end - c->buf) + 4, body = 0;
    for (char *p = c->buf; p < end; p++) {
        if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
            body = strtoul(p + 15, NULL, 10);
            break;
        }
    }
    *status = atoi(c->buf + 9);
    return c->len >= head + body ? head + body : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn_t *c = s->data;
    (void)b;
    if (n < 0) {
        if (n != UV_EOF)
            c->ph->errors++;
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    c->len += (size_t)n;
    int status = 0;
    size_t r = response_len(c, &status);
    if (r == 0)
        return;
    phase_t *ph = c->ph;
    uint64_t now = djs_monotonic_ns();
    ph->done++;
    if (status < 200 || status > 299)
        ph->non2xx++;
    if (ph->nlat == ph->cap_lat) {
        ph->cap_lat = ph->cap_lat ? ph->cap_lat * 2 : 65536;
        ph->lat_us = djs_realloc(ph->lat_us, ph->cap_lat * sizeof(uint32_t));
    }
    ph->lat_us[ph->nlat++] = (uint32_t)((now - c->sent_ns) / 1000);
    memmove(c->buf, c->buf + r, c->len - r);
    c->len -= r;
    if (now >= ph->end_ns) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    send_next(c);
}

static void on_written(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    djs_free(w);
    if (status != 0 && status != UV_ECANCELED && !uv_is_closing((uv_handle_t *)&c->tcp)) {
        c->ph->errors++;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    }
}

static void send_next(conn_t *c)
{
    uv_buf_t b = uv_buf_init((char *)c->ph->req, (unsigned)c->ph->req_len);
    c->sent_ns = djs_monotonic_ns();
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)b.len)
        return;
    if (n > 0) {
        b.base += n;
        b.len -= (size_t)n;
    }
    uv_write_t *w = djs_malloc(sizeof(*w)); /* its own request: an answer may come before the callback */
    w->data = c;
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

static void on_connect(uv_connect_t *r, int status)
{
    conn_t *c = r->data;
    if (status != 0) {
        c->ph->errors++;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    send_next(c);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct result {
    double rps, p50_ms, p99_ms;
    uint64_t done, errors, non2xx;
} result_t;

static result_t run_phase(const char *name, const struct sockaddr_in *addr, const char *req, int conns, double secs)
{
    uv_loop_t loop;
    phase_t ph;
    memset(&ph, 0, sizeof(ph));
    uv_loop_init(&loop);
    ph.loop = &loop;
    ph.addr = *addr;
    ph.req = req;
    ph.req_len = strlen(req);
    uint64_t t0 = djs_monotonic_ns();
    ph.end_ns = t0 + (uint64_t)(secs * 1e9);
    for (int i = 0; i < conns; i++) {
        conn_t *c = djs_calloc(1, sizeof(*c));
        c->ph = &ph;
        uv_tcp_init(&loop, &c->tcp);
        c->tcp.data = c;
        c->connect.data = c;
        ph.open++;
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)addr, on_connect);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    double el = (djs_monotonic_ns() - t0) / 1e9;
    uv_loop_close(&loop);
    result_t r = {0};
    r.done = ph.done;
    r.errors = ph.errors;
    r.non2xx = ph.non2xx;
    r.rps = ph.done / el;
    if (ph.nlat > 0) {
        qsort(ph.lat_us, ph.nlat, sizeof(uint32_t), cmp_u32);
        r.p50_ms = ph.lat_us[ph.nlat / 2] / 1e3;
        r.p99_ms = ph.lat_us[ph.nlat * 99 / 100] / 1e3;
    }
    djs_free(ph.lat_us);
    printf("%-12s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%" PRIu64 " answers, %" PRIu64 " not 2xx, %" PRIu64 " errors)\n", name,
           r.rps, r.p50_ms, r.p99_ms, r.done, r.non2xx, r.errors);
    fflush(stdout);
    return r;
}

/* One request over a fresh connection (setup steps). */
static int one_request(const struct sockaddr_in *addr, const char *req, char *out, size_t outlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    size_t n = 0;
    ssize_t k;
    while (n + 1 < outlen && (k = read(fd, out + n, outlen - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(fd);
    return atoi(out + 9);
}

int bench_api(int argc, char **argv)
{
    const char *usage = "djs bench api [--connections C] [--seconds S] [--keep]";
    uint64_t conns = 64, secs = 5;
    const char *v;
    if (((v = cli_opt(argc, argv, "--connections")) && cli_u64(v, &conns)) ||
        ((v = cli_opt(argc, argv, "--seconds")) && cli_u64(v, &secs)) || conns == 0 || conns > 1000 || secs == 0 || secs > 600) {
        fprintf(stderr, "djs bench api: bad number\nusage: %s\n", usage);
        return 2;
    }
    int keep = cli_flag(argc, argv, "--keep");
    const char *pos[1];
    if (cli_rest(argc, argv, pos, 0, usage) < 0)
        return 2;
    char dir[4096], exe[4096], listen[64], token[1024];
    snprintf(dir, sizeof(dir), "%s/djs-bench-api-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp");
    if (mkdtemp(dir) == NULL) {
        perror(dir);
        return 1;
    }
    ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (el <= 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    exe[el] = '\0';
    /* a free port: bind 0, read it, release it for the server */
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t alen = sizeof(addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
        perror("choosing a port");
        return 1;
    }
    close(fd);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", ntohs(addr.sin_port));
    djs_auth_t *auth;
    djs_buf_t tok;
    djs_buf_init(&tok);
    if (djs_auth_open(&auth, dir) != 0 || djs_auth_sign(auth, "bench", DJS_ROLE_ADMIN, (uint64_t)time(NULL), 3600, &tok) != 0) {
        fprintf(stderr, "djs bench api: cannot make a token in %s\n", dir);
        return 1;
    }
    snprintf(token, sizeof(token), "%.*s", (int)tok.len, (const char *)tok.base);
    djs_buf_dispose(&tok);
    djs_auth_close(auth);

    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        /* no rate limit: the benchmark is one principal on purpose */
        execl(exe, exe, "serve", "--data", dir, "--listen", listen, "--rate-limit", "0", (char *)NULL);
        _exit(127);
    }
    char out[65536], req[2048];
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) {
        usleep(50000);
        up = one_request(&addr, "GET /health HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", out, sizeof(out)) == 200;
    }
    if (!up) {
        fprintf(stderr, "djs bench api: the server did not start\n");
        kill(pid, SIGKILL);
        return 1;
    }
    const char *body = "{\"name\":\"bench\",\"payload\":{\"cmd\":\"true\"}}";
    snprintf(req, sizeof(req),
             "POST /api/v1/jobs HTTP/1.1\r\nHost: b\r\nConnection: close\r\nAuthorization: Bearer %s\r\nContent-Type: "
             "application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             token, strlen(body), body);
    char *idp;
    if (one_request(&addr, req, out, sizeof(out)) != 201 || (idp = strstr(out, "\"id\":\"")) == NULL) {
        fprintf(stderr, "djs bench api: could not submit the job to read\n");
        kill(pid, SIGKILL);
        return 1;
    }
    char id[40];
    snprintf(id, sizeof(id), "%.36s", idp + 6);
    printf("bench api: djs serve on %s, %" PRIu64 " connections, %" PRIu64 " s per phase\n", listen, conns, secs);
    fflush(stdout);

    char health[256], get[2048], post[2048];
    snprintf(health, sizeof(health), "GET /health HTTP/1.1\r\nHost: b\r\n\r\n");
    snprintf(get, sizeof(get), "GET /api/v1/jobs/%s HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer %s\r\n\r\n", id, token);
    snprintf(
        post, sizeof(post),
        "POST /api/v1/jobs HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: "
        "%zu\r\n\r\n%s",
        token, strlen(body), body);
    result_t h = run_phase("GET /health", &addr, health, (int)conns, (double)secs);
    result_t g = run_phase("GET job", &addr, get, (int)conns, (double)secs);
    result_t p = run_phase("POST job", &addr, post, (int)conns, (double)secs);

    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    printf("server exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    printf("{\"bench\":\"api\",\"connections\":%" PRIu64 ",\"seconds\":%" PRIu64 ",\"health_rps\":%.0f,\"get_job_rps\":%.0f,"
           "\"get_job_p99_ms\":%.2f,\"submit_rps\":%.0f,\"submit_p50_ms\":%.2f,\"submit_p99_ms\":%.2f,"
           "\"ratio_submit_vs_health\":%.3f,\"errors\":%" PRIu64 "}\n",
           conns, secs, h.rps, g.rps, g.p99_ms, p.rps, p.p50_ms, p.p99_ms, h.rps > 0 ? p.rps / h.rps : 0.0,
           h.errors + g.errors + p.errors + h.non2xx + g.non2xx + p.non2xx);
    if (!keep) {
        char path[4200];
        const char *files[] = {"data.mdb", "lock.mdb", "jwt.secret"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return 0;
}
