#include "tools/bench/uvhttp.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/clock.h"

/* ---- framing ---- */

int djs_bench_http_answer(const char *buf, size_t len, size_t *scanned, size_t *total, size_t *head)
{
    if (*total == 0) {
        size_t from = *scanned > 3 ? *scanned - 3 : 0;
        const char *end = len > from ? memmem(buf + from, len - from, "\r\n\r\n", 4) : NULL;
        if (end == NULL) {
            *scanned = len;
            return 0;
        }
        size_t h = (size_t)(end - buf) + 4, body = 0;
        for (const char *p = buf; p < end; p++) {
            p = memchr(p, '\n', (size_t)(end - p));
            if (p == NULL)
                break;
            if ((size_t)(end - p) > 16 && strncasecmp(p + 1, "content-length:", 15) == 0) {
                const char *d = p + 16;
                while (*d == ' ')
                    d++;
                while (*d >= '0' && *d <= '9')
                    body = body * 10 + (size_t)(*d++ - '0');
                break;
            }
        }
        *total = h + body;
        *head = h;
    }
    return len >= *total;
}

int djs_bench_http_status(const char *buf, size_t len)
{
    return len >= 12 ? (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0') : 0;
}

/* ---- blocking ---- */

int djs_bench_http_connect_fd(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return DJS_EIO;
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
        close(fd);
        return DJS_EIO;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int djs_bench_http_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {fd, POLLOUT, 0};
            if (poll(&pf, 1, 5000) <= 0)
                return DJS_EIO;
            continue;
        }
        if (k <= 0)
            return DJS_EIO;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

int djs_bench_http_roundtrip(int fd, const char *req, size_t len, char **rbuf, size_t *rcap)
{
    if (djs_bench_http_write_all(fd, req, len) != 0)
        return DJS_EIO;
    size_t have = 0, scanned = 0, total = 0, head = 0;
    for (;;) {
        size_t want = total > have ? total + 1 : have + 65536;
        if (want > *rcap) {
            *rcap = want;
            *rbuf = djs_realloc(*rbuf, *rcap);
        }
        ssize_t r = read(fd, *rbuf + have, *rcap - have - 1);
        if (r <= 0)
            return DJS_EIO;
        have += (size_t)r;
        (*rbuf)[have] = '\0';
        if (djs_bench_http_answer(*rbuf, have, &scanned, &total, &head))
            return have >= 12 ? atoi(*rbuf + 9) : DJS_EIO;
    }
}

int djs_bench_http_request(const struct sockaddr_in *addr, const char *req, char *out, size_t outlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
        if (fd >= 0)
            close(fd);
        return DJS_EIO;
    }
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return DJS_EIO;
    }
    size_t n = 0;
    ssize_t k;
    while (n + 1 < outlen && (k = read(fd, out + n, outlen - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(fd);
    return n >= 12 ? atoi(out + 9) : DJS_EIO;
}

/* ---- on a libuv loop ---- */

typedef struct qwrite {
    uv_write_t req;
    char data[];
} qwrite_t;

static void on_qwrite(uv_write_t *w, int status)
{
    (void)status; /* a failed write shows up as a read error */
    djs_free(w);
}

int djs_bench_http_write(uv_stream_t *s, const char *data, size_t len)
{
    uv_buf_t bf = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write(s, &bf, 1);
    if (n == (int)len)
        return 0;
    if (n < 0 && n != UV_EAGAIN)
        return n;
    size_t done = n > 0 ? (size_t)n : 0;
    qwrite_t *w = djs_malloc(sizeof(*w) + len - done);
    memcpy(w->data, data + done, len - done);
    bf = uv_buf_init(w->data, (unsigned)(len - done));
    return uv_write(&w->req, s, &bf, 1, on_qwrite);
}

void djs_bench_http_init(djs_bench_http_conn_t *c, djs_bench_http_answer_cb on_answer, djs_bench_http_error_cb on_error)
{
    memset(c, 0, sizeof(*c));
    c->on_answer = on_answer;
    c->on_error = on_error;
}

void djs_bench_http_dispose(djs_bench_http_conn_t *c)
{
    djs_free(c->rbuf);
    c->rbuf = NULL;
    c->rlen = c->rcap = 0;
}

int djs_bench_http_connect(djs_bench_http_conn_t *c, uv_loop_t *loop, const struct sockaddr_in *addr, uv_connect_cb cb)
{
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    return uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)addr, cb);
}

void djs_bench_http_reset(djs_bench_http_conn_t *c)
{
    c->rlen = c->total = c->scanned = 0;
}

int djs_bench_http_send(djs_bench_http_conn_t *c, const char *data, size_t len)
{
    return djs_bench_http_write((uv_stream_t *)&c->tcp, data, len);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    djs_bench_http_conn_t *c = h->data;
    (void)hint;
    size_t want = c->total > c->rlen ? c->total - c->rlen : 16384;
    if (want < 16384)
        want = 16384;
    if (c->rcap - c->rlen < want) {
        c->rcap = c->rlen + want;
        c->rbuf = djs_realloc(c->rbuf, c->rcap);
    }
    *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

/* Parse what has arrived: 1 when one whole answer is in rbuf; c->scanned
 * is then where its body starts. */
static int answer_complete(djs_bench_http_conn_t *c)
{
    size_t head = 0, had = c->total;
    int whole = djs_bench_http_answer(c->rbuf, c->rlen, &c->scanned, &c->total, &head);
    if (had == 0 && c->total != 0)
        c->scanned = head; /* now: where the body starts */
    return whole;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    djs_bench_http_conn_t *c = s->data;
    (void)buf;
    if (n < 0) {
        c->on_error(c, (int)n);
        return;
    }
    c->rlen += (size_t)n;
    uint64_t now = djs_monotonic_ns();
    while (c->rlen > 0 && answer_complete(c)) {
        size_t total = c->total;
        if (c->on_answer(c, djs_bench_http_status(c->rbuf, c->rlen), c->rbuf + c->scanned, total - c->scanned, now) != 0)
            return;
        memmove(c->rbuf, c->rbuf + total, c->rlen - total);
        c->rlen -= total;
        c->total = 0;
        c->scanned = 0;
    }
}

void djs_bench_http_read_start(djs_bench_http_conn_t *c)
{
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}
