/* djs bench e2e, the peer: the same work on beanstalkd.
 *
 * beanstalkd runs as a child on a free loopback port with its binlog in a
 * fresh directory and `-f 0` (fsync after every write, before the reply), so
 * each INSERTED and DELETED it sends is durable, as djs's acknowledgements
 * are. P producer connections put N jobs (`put 1024 0 60 <bytes>`, the next put
 * when INSERTED is read); K consumer connections each `reserve`, then
 * `delete <id>`, then reserve again. All connections are C on one libuv loop,
 * one command in flight per connection, as our djs clients. The latency is
 * from reading INSERTED <id> (the put acknowledged) to reading RESERVED <id>
 * (a consumer has it: for beanstalkd, reserving is starting).
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "tools/bench/beanstalk.h"
#include "tools/bench/util.h"
#include "tools/bench/uvhttp.h"

#define BS_BUF 4096
#define BS_CONNECTING_MAX 64

/* the job body: the same bytes as the payload djs's producers send */
static const char bs_body[] = "{\"name\":\"noop\",\"payload\":{\"kind\":\"noop\"}}";

struct bs;

typedef struct bconn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct bs *b;
    int producer;
    int open;
    size_t rlen;
    char rbuf[BS_BUF];
} bconn_t;

typedef struct bs {
    uv_loop_t loop;
    struct sockaddr_in addr;
    bconn_t *conns;
    int nconns, nprod, connected, next_connect, closing;
    uint64_t n, issued, inserted, deleted, errors;
    uint64_t t0, t_put, t_end;
    uint64_t *ack_ns, *res_ns; /* by job id (1..n in a fresh beanstalkd) */
    uint32_t *lat;
    uint64_t nlat;
    int failed;
    char why[80];
    uv_timer_t tick;
    uint64_t last_deleted, stall_ticks;
    char put[128];
    size_t put_len;
} bs_t;

static int bs_send(bconn_t *c, const char *data, size_t len)
{
    return djs_bench_http_write((uv_stream_t *)&c->tcp, data, len);
}

static void bs_close_all(bs_t *b)
{
    if (b->closing)
        return;
    b->closing = 1;
    for (int i = 0; i < b->nconns; i++)
        if (b->conns[i].open && !uv_is_closing((uv_handle_t *)&b->conns[i].tcp))
            uv_close((uv_handle_t *)&b->conns[i].tcp, NULL);
    if (!uv_is_closing((uv_handle_t *)&b->tick))
        uv_close((uv_handle_t *)&b->tick, NULL);
}

static void bs_fail(bs_t *b, const char *why)
{
    if (!b->failed && !b->closing) {
        b->failed = 1;
        snprintf(b->why, sizeof(b->why), "%s", why);
    }
    bs_close_all(b);
}

static void bs_latency(bs_t *b, uint64_t id)
{
    uint64_t a = b->ack_ns[id], r = b->res_ns[id];
    b->lat[b->nlat++] = r > a ? (uint32_t)((r - a) / 1000) : 0;
}

static int bs_put(bs_t *b, bconn_t *c)
{
    b->issued++;
    return bs_send(c, b->put, b->put_len);
}

/* One whole reply at the start of c->rbuf: its length, or 0 if incomplete. */
static size_t bs_reply_len(bconn_t *c)
{
    char *eol = memmem(c->rbuf, c->rlen, "\r\n", 2);
    if (eol == NULL)
        return 0;
    size_t line = (size_t)(eol - c->rbuf) + 2;
    if (line > 9 && memcmp(c->rbuf, "RESERVED ", 9) == 0) {
        unsigned long long id, bytes;
        if (sscanf(c->rbuf + 9, "%llu %llu", &id, &bytes) != 2 || bytes > BS_BUF)
            return SIZE_MAX;
        return c->rlen >= line + bytes + 2 ? line + bytes + 2 : 0;
    }
    return line;
}

static void bs_reply(bs_t *b, bconn_t *c, size_t len, uint64_t now)
{
    char cmd[64];
    unsigned long long id;
    if (c->producer) {
        if (sscanf(c->rbuf, "INSERTED %llu", &id) != 1 || id == 0 || id > b->n) {
            b->errors++;
            bs_fail(b, "a put was not answered INSERTED");
            return;
        }
        b->ack_ns[id] = now;
        if (b->res_ns[id] != 0)
            bs_latency(b, id);
        if (++b->inserted == b->n)
            b->t_put = now;
        if (b->issued < b->n && bs_put(b, c) != 0)
            bs_fail(b, "write failed");
        return;
    }
    (void)len;
    if (sscanf(c->rbuf, "RESERVED %llu", &id) == 1) {
        if (id == 0 || id > b->n) {
            bs_fail(b, "reserved an unknown job id");
            return;
        }
        b->res_ns[id] = now;
        if (b->ack_ns[id] != 0)
            bs_latency(b, id);
        int k = snprintf(cmd, sizeof(cmd), "delete %llu\r\n", id);
        if (bs_send(c, cmd, (size_t)k) != 0)
            bs_fail(b, "write failed");
    } else if (strncmp(c->rbuf, "DELETED\r\n", 9) == 0) {
        if (++b->deleted == b->n) {
            b->t_end = now;
            bs_close_all(b);
            return;
        }
        if (bs_send(c, "reserve\r\n", 9) != 0)
            bs_fail(b, "write failed");
    } else {
        b->errors++;
        bs_fail(b, "unexpected reply to reserve or delete");
    }
}

static void bs_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    bconn_t *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(sizeof(c->rbuf) - c->rlen));
}

static void bs_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    bconn_t *c = s->data;
    bs_t *b = c->b;
    (void)buf;
    if (n < 0) {
        bs_fail(b, "beanstalkd closed a connection");
        return;
    }
    c->rlen += (size_t)n;
    uint64_t now = djs_monotonic_ns();
    size_t len;
    while (!b->closing && (len = bs_reply_len(c)) != 0) {
        if (len == SIZE_MAX) {
            bs_fail(b, "malformed reply");
            return;
        }
        bs_reply(b, c, len, now);
        memmove(c->rbuf, c->rbuf + len, c->rlen - len);
        c->rlen -= len;
    }
    if (c->rlen == sizeof(c->rbuf))
        bs_fail(b, "reply too long");
}

static void bs_start(bs_t *b)
{
    b->t0 = djs_monotonic_ns();
    for (int i = 0; i < b->nconns && !b->closing; i++) {
        bconn_t *c = &b->conns[i];
        int rc = c->producer ? (b->issued < b->n ? bs_put(b, c) : 0) : bs_send(c, "reserve\r\n", 9);
        if (rc != 0)
            bs_fail(b, "write failed");
    }
}

static void bs_connect_next(bs_t *b);

static void bs_connected(uv_connect_t *req, int status)
{
    bconn_t *c = req->data;
    bs_t *b = c->b;
    if (status != 0) {
        bs_fail(b, "cannot connect to beanstalkd");
        return;
    }
    if (b->closing)
        return;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, bs_alloc, bs_read);
    if (++b->connected == b->nconns)
        bs_start(b);
    else
        bs_connect_next(b);
}

static void bs_connect_next(bs_t *b)
{
    while (b->next_connect < b->nconns && b->next_connect - b->connected < BS_CONNECTING_MAX && !b->closing) {
        bconn_t *c = &b->conns[b->next_connect++];
        uv_tcp_init(&b->loop, &c->tcp);
        c->open = 1;
        c->tcp.data = c;
        c->creq.data = c;
        if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&b->addr, bs_connected) != 0)
            bs_fail(b, "cannot connect to beanstalkd");
    }
}

static void bs_tick(uv_timer_t *t)
{
    bs_t *b = t->data;
    fprintf(stderr, "bench e2e: beanstalkd: %" PRIu64 " put, %" PRIu64 " deleted of %" PRIu64 "\n", b->inserted, b->deleted, b->n);
    if (b->deleted == b->last_deleted && b->connected == b->nconns) {
        if (++b->stall_ticks >= 30)
            bs_fail(b, "no progress for 30 s");
    } else {
        b->stall_ticks = 0;
    }
    b->last_deleted = b->deleted;
}

/* The path of executable name in $PATH (or /usr/sbin, /usr/bin) into out:
 * 0 or DJS_ENOTFOUND. */
static int find_exe(const char *name, char *out, size_t n)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, n, "%s/%s", *d ? d : ".", name);
        if (access(out, X_OK) == 0)
            return 0;
    }
    return DJS_ENOTFOUND;
}

void djs_bench_beanstalk(uint64_t njobs, int producers, int consumers, const char *tmpbase, djs_bench_bs_result_t *out)
{
    memset(out, 0, sizeof(*out));
    char exe[4200], dir[4096], port[16];
    if (find_exe("beanstalkd", exe, sizeof(exe)) != 0) {
        snprintf(out->why, sizeof(out->why), "beanstalkd is not installed (Debian package beanstalkd)");
        return;
    }
    snprintf(dir, sizeof(dir), "%s/djs-bench-e2e-bs-XXXXXX", tmpbase);
    bs_t *b = djs_calloc(1, sizeof(*b));
    if (mkdtemp(dir) == NULL || djs_bench_free_port(&b->addr) != 0) {
        snprintf(out->why, sizeof(out->why), "cannot make %.100s or choose a port", dir);
        djs_free(b);
        return;
    }
    snprintf(port, sizeof(port), "%d", ntohs(b->addr.sin_port));
    pid_t pid = fork();
    if (pid == 0) {
        execl(exe, exe, "-l", "127.0.0.1", "-p", port, "-b", dir, "-f", "0", (char *)NULL);
        _exit(127);
    }
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) {
        usleep(20000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        up = fd >= 0 && connect(fd, (const struct sockaddr *)&b->addr, sizeof(b->addr)) == 0;
        if (fd >= 0)
            close(fd);
        if (!up && waitpid(pid, NULL, WNOHANG) == pid) {
            pid = -1;
            break;
        }
    }
    if (!up) {
        snprintf(out->why, sizeof(out->why), "beanstalkd did not start");
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        djs_bench_rm_dir(dir);
        djs_free(b);
        return;
    }
    fprintf(stderr, "bench e2e: beanstalkd (pid %d) on 127.0.0.1:%s, binlog in %s, -f 0\n", (int)pid, port, dir);

    b->n = njobs;
    b->nprod = producers;
    b->nconns = producers + consumers;
    b->conns = djs_calloc((size_t)b->nconns, sizeof(bconn_t));
    b->ack_ns = djs_calloc(njobs + 1, sizeof(uint64_t));
    b->res_ns = djs_calloc(njobs + 1, sizeof(uint64_t));
    b->lat = djs_malloc((njobs + 1) * sizeof(uint32_t));
    b->put_len = (size_t)snprintf(b->put, sizeof(b->put), "put 1024 0 60 %zu\r\n%s\r\n", strlen(bs_body), bs_body);
    for (int i = 0; i < b->nconns; i++) {
        b->conns[i].b = b;
        b->conns[i].producer = i < producers;
    }
    uv_loop_init(&b->loop);
    uv_timer_init(&b->loop, &b->tick);
    b->tick.data = b;
    uv_timer_start(&b->tick, bs_tick, 1000, 1000);
    bs_connect_next(b);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);

    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    djs_bench_rm_dir(dir);
    if (b->failed) {
        snprintf(out->why, sizeof(out->why), "beanstalkd run failed: %.80s (%" PRIu64 " of %" PRIu64 " deleted)", b->why,
                 b->deleted, b->n);
    } else {
        out->ran = 1;
        out->jobs_per_s = (double)b->n / ((double)(b->t_end - b->t0) / 1e9);
        out->put_per_s = (double)b->n / ((double)(b->t_put - b->t0) / 1e9);
        djs_bench_percentiles(b->lat, b->nlat, &out->p50_ms, &out->p99_ms);
    }
    out->errors = b->errors;
    djs_free(b->conns);
    djs_free(b->ack_ns);
    djs_free(b->res_ns);
    djs_free(b->lat);
    djs_free(b);
}
