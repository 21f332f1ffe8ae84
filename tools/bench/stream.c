/* djs bench stream: WebSocket event streams, catch-up and live.
 *
 * Starts `djs serve` (this same binary) as a child on a free loopback port
 * with a fresh data directory and an admin token minted with its secret
 * (as bench e2e does), then:
 *
 *   1. Catch-up: fills the log with N events (workflows of 1,000 no-op jobs
 *      per POST /jobs, one job.submitted event each, over 4 keep-alive
 *      connections, each acknowledged durable), then ONE subscriber opens
 *      /ws/events?from_seq=1 and reads until it has the durableSeq its hello
 *      announced. catchup_events_per_s = events received / (connect ..
 *      last event read).
 *   2. Live: S subscribers to /ws/events (live from now) on one epoll loop,
 *      and a producer thread submitting R jobs/s (every 10 ms, a workflow of
 *      the jobs due by then: R/100 at steady pace) for T seconds. For each
 *      delivery the subscriber takes the event's "at" (the log's append
 *      time, millisecond precision, truncated; durable within the group
 *      commit window after it) against CLOCK_REALTIME read right after the
 *      read() that brought it.
 *
 * The client is a minimal WebSocket client: HTTP/1.1 upgrade with a fixed
 * Sec-WebSocket-Key, 101 checked, server frames parsed (FIN/opcode, 7/16/64
 * bit lengths, unmasked), pings answered with masked pongs. JSON text
 * frames: only the leading "seq": number and the "at" string are read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "tools/bench/bench.h"
#include "tools/bench/util.h"
#include "tools/bench/uvhttp.h"
#include "tools/cli/args.h"

#define FILL_CONNS 4
#define FILL_BATCH 1000
#define HIST_US 100                 /* histogram bucket: 0.1 ms */
#define HIST_N (60 * 1000 * 10 + 1) /* up to 60 s, the last bucket holds the rest */
#define SUB_BUF (64 * 1024)
#define DRAIN_S 20

static uint64_t now_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- a minimal WebSocket client ---- */

typedef struct wsc {
    int fd, open, hello, dropped, closed_by_server;
    char *buf;
    size_t len, cap;
    uint64_t first_seq, last_seq, n, gaps, durable_seq;
} wsc_t;

typedef struct live_stats {
    uint64_t *hist; /* NULL: do not measure latency */
    uint64_t deliveries, no_at, pings, bad_frames;
    uint64_t t_last_ns; /* monotonic, last delivery */
    uint64_t sec_max;   /* the largest latency (histogram buckets) since the last progress line */
} live_stats_t;

/* Connect, upgrade to WebSocket on path; bytes after the 101 stay in buf.
 * 0, DJS_EIO (no connection, a failed write or read, the upgrade refused)
 * or DJS_ETOOBIG (the upgrade answer fills the buffer). */
static int ws_open(wsc_t *c, const struct sockaddr_in *addr, const char *auth, const char *path, size_t cap)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    int fd = djs_bench_http_connect_fd(addr);
    if (fd < 0)
        return fd;
    char req[2048];
    int k = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: b\r\n%sUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, auth);
    if (k <= 0 || (size_t)k >= sizeof(req) || djs_bench_http_write_all(fd, req, (size_t)k) != 0) {
        close(fd);
        return DJS_EIO;
    }
    c->buf = djs_malloc(cap);
    memset(c->buf, 0, cap); /* touched now: page faults are not part of a delivery */
    c->cap = cap;
    char *end = NULL;
    while (end == NULL) {
        if (c->len == c->cap) {
            close(fd);
            return DJS_ETOOBIG;
        }
        ssize_t r = read(fd, c->buf + c->len, c->cap - c->len);
        if (r <= 0) {
            close(fd);
            return DJS_EIO;
        }
        c->len += (size_t)r;
        end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    }
    if (c->len < 12 || memcmp(c->buf + 8, " 101", 4) != 0) {
        fprintf(stderr, "bench stream: upgrade refused: %.*s\n", (int)(c->len > 200 ? 200 : c->len), c->buf);
        close(fd);
        return DJS_EIO;
    }
    size_t hl = (size_t)(end + 4 - c->buf);
    memmove(c->buf, end + 4, c->len - hl);
    c->len -= hl;
    c->fd = fd;
    c->open = 1;
    return 0;
}

static void ws_close(wsc_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->open = 0;
    djs_free(c->buf);
    c->buf = NULL;
}

/* A masked frame from the client (pong, close). */
static void ws_send(wsc_t *c, int opcode, const char *payload, size_t len)
{
    unsigned char f[2 + 4 + 125];
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    if (len > 125)
        len = 125;
    f[0] = (unsigned char)(0x80 | opcode);
    f[1] = (unsigned char)(0x80 | len);
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < len; i++)
        f[6 + i] = (unsigned char)payload[i] ^ mask[i % 4];
    (void)djs_bench_http_write_all(c->fd, f, 6 + len);
}

/* "2026-11-27T10:02:00.123Z" -> Unix microseconds, 0 if malformed */
static uint64_t parse_at_us(const char *p, const char *end)
{
    if (end - p < 20 || p[4] != '-' || p[10] != 'T')
        return 0;
#define D2(i) ((unsigned)(p[i] - '0') * 10 + (unsigned)(p[(i) + 1] - '0'))
    int y = (int)(D2(0) * 100 + D2(2));
    unsigned m = D2(5), d = D2(8), hh = D2(11), mm = D2(14), ss = D2(17);
#undef D2
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    uint64_t us = ((uint64_t)days * 86400 + hh * 3600 + mm * 60 + ss) * 1000000ull;
    p += 19;
    if (p < end && *p == '.') {
        uint64_t scale = 100000;
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
            us += (uint64_t)(*p - '0') * scale;
            scale /= 10;
        }
    }
    return us;
}

static uint64_t parse_u64(const char *p, const char *end)
{
    uint64_t v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

/* One text message. */
static void ws_message(wsc_t *c, const char *m, size_t len, uint64_t now_us, live_stats_t *st)
{
    const char *end = m + len;
    if (len > 7 && memcmp(m, "{\"seq\":", 7) == 0) {
        const char *p = m + 7;
        uint64_t seq = parse_u64(p, end);
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (c->n == 0)
            c->first_seq = seq;
        else if (seq != c->last_seq + 1)
            c->gaps++;
        c->last_seq = seq;
        c->n++;
        st->deliveries++;
        if (st->hist != NULL) {
            /* {"seq":N,"type":"T","at":"...: read in place; else look for it */
            const char *at = NULL, *q;
            if (end - p > 9 && memcmp(p, ",\"type\":\"", 9) == 0 && (q = memchr(p + 9, '"', (size_t)(end - p - 9))) != NULL &&
                end - q > 8 && memcmp(q, "\",\"at\":\"", 8) == 0)
                at = q + 8;
            else if ((at = memmem(m, len < 160 ? len : 160, "\"at\":\"", 6)) != NULL)
                at += 6;
            uint64_t at_us = at ? parse_at_us(at, end) : 0;
            if (at_us == 0) {
                st->no_at++;
                return;
            }
            uint64_t d = now_us > at_us ? (now_us - at_us) / HIST_US : 0;
            st->hist[d < HIST_N - 1 ? d : HIST_N - 1]++;
            if (d > st->sec_max)
                st->sec_max = d;
        }
        return;
    }
    const char *ds = memmem(m, len, "\"durableSeq\":", 13);
    if (ds != NULL && memmem(m, len, "\"hello\"", 7) != NULL) {
        c->hello = 1;
        c->durable_seq = parse_u64(ds + 13, end);
    }
}

/* Consume the complete frames in c->buf. 0, or DJS_ECLOSED when the server closed. */
static int ws_frames(wsc_t *c, uint64_t now_us, live_stats_t *st)
{
    size_t off = 0;
    int rc = 0;
    while (c->len - off >= 2) {
        const unsigned char *h = (const unsigned char *)c->buf + off;
        size_t avail = c->len - off, hl = 2;
        uint64_t pl = h[1] & 0x7f;
        if (pl == 126) {
            if (avail < 4)
                break;
            pl = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (pl == 127) {
            if (avail < 10)
                break;
            pl = 0;
            for (int i = 0; i < 8; i++)
                pl = pl << 8 | h[2 + i];
            hl = 10;
        }
        if (h[1] & 0x80)
            hl += 4; /* servers must not mask; tolerated (not unmasked: counted as bad) */
        if (avail < hl + pl) {
            if (hl + pl > c->cap) { /* a frame larger than the buffer */
                c->cap = hl + pl + 1024;
                memmove(c->buf, c->buf + off, avail);
                c->len = avail;
                off = 0;
                c->buf = djs_realloc(c->buf, c->cap);
            }
            break;
        }
        int op = h[0] & 0x0f, fin = h[0] & 0x80;
        const char *payload = (const char *)h + hl;
        if (h[1] & 0x80)
            st->bad_frames++;
        if (op == 1 && fin) {
            ws_message(c, payload, (size_t)pl, now_us, st);
        } else if (op == 9) {
            st->pings++;
            ws_send(c, 10, payload, (size_t)pl);
        } else if (op == 8) {
            c->closed_by_server = 1;
            rc = DJS_ECLOSED;
            off += hl + (size_t)pl;
            break;
        } else if (op != 10) {
            st->bad_frames++; /* fragments and binary frames: not expected with format=json */
        }
        off += hl + (size_t)pl;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return rc;
}

/* ---- HTTP, blocking: the fill and the producer ---- */

typedef struct fill {
    struct sockaddr_in addr;
    const char *auth;
    uint64_t n;
    atomic_uint_fast64_t issued, done, errors;
    char *req_full, *req_last;
    size_t len_full, len_last;
    uint32_t last_m;
} fill_t;

static void *fill_thread(void *arg)
{
    fill_t *f = arg;
    int fd = djs_bench_http_connect_fd(&f->addr);
    char *rbuf = NULL;
    size_t rcap = 0;
    if (fd < 0) {
        atomic_fetch_add(&f->errors, 1);
        return NULL;
    }
    for (;;) {
        uint64_t at = atomic_fetch_add(&f->issued, FILL_BATCH);
        if (at >= f->n)
            break;
        int last = f->n - at < FILL_BATCH;
        int st = djs_bench_http_roundtrip(fd, last ? f->req_last : f->req_full, last ? f->len_last : f->len_full, &rbuf, &rcap);
        if (st != 201 && st != 200) {
            fprintf(stderr, "bench stream: fill: submit answered %d: %.200s\n", st, rbuf ? rbuf : "");
            atomic_fetch_add(&f->errors, 1);
            break;
        }
        atomic_fetch_add(&f->done, last ? f->last_m : FILL_BATCH);
    }
    close(fd);
    djs_free(rbuf);
    return NULL;
}

/* ---- the live producer ---- */

typedef struct producer {
    struct sockaddr_in addr;
    const char *auth;
    uint64_t rate, seconds;
    atomic_uint_fast64_t submitted;
    atomic_int finished;
    uint64_t t0_ns, t1_ns, errors, requests, final_seq;
    char *reqs[FILL_BATCH + 1]; /* built on first use */
    size_t lens[FILL_BATCH + 1];
} producer_t;

static void *producer_thread(void *arg)
{
    producer_t *p = arg;
    int fd = djs_bench_http_connect_fd(&p->addr);
    char *rbuf = NULL;
    size_t rcap = 0;
    uint64_t total = p->rate * p->seconds, sent = 0, tick = 0;
    p->t0_ns = now_ns(CLOCK_MONOTONIC);
    while (fd >= 0 && sent < total) {
        tick++;
        uint64_t due_ns = p->t0_ns + tick * 10000000ull;
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now < due_ns) {
            struct timespec ts = {(time_t)((due_ns - now) / 1000000000ull), (long)((due_ns - now) % 1000000000ull)};
            nanosleep(&ts, NULL);
            now = now_ns(CLOCK_MONOTONIC);
        }
        uint64_t due = (now - p->t0_ns) * p->rate / 1000000000ull;
        if (due > total)
            due = total;
        if (due <= sent)
            continue;
        uint64_t m = due - sent;
        if (m > FILL_BATCH)
            m = FILL_BATCH;
        if (p->reqs[m] == NULL)
            p->reqs[m] = djs_bench_submit_request(p->auth, (uint32_t)m, 1, &p->lens[m]);
        int st = djs_bench_http_roundtrip(fd, p->reqs[m], p->lens[m], &rbuf, &rcap);
        p->requests++;
        if (st != 201 && st != 200) {
            fprintf(stderr, "bench stream: producer: submit answered %d\n", st);
            p->errors++;
            break;
        }
        sent += m;
        atomic_store(&p->submitted, sent);
    }
    p->t1_ns = now_ns(CLOCK_MONOTONIC);
    if (fd < 0)
        p->errors++;
    else
        close(fd);
    djs_free(rbuf);
    /* the last durable seq: a fresh subscriber's hello says it */
    wsc_t c;
    live_stats_t st = {0};
    if (ws_open(&c, &p->addr, p->auth, "/ws/events", 65536) == 0) {
        uint64_t t_end = now_ns(CLOCK_MONOTONIC) + 5000000000ull;
        while (!c.hello && now_ns(CLOCK_MONOTONIC) < t_end) {
            if (ws_frames(&c, 0, &st) != 0)
                break;
            if (c.hello)
                break;
            ssize_t r = read(c.fd, c.buf + c.len, c.cap - c.len);
            if (r <= 0)
                break;
            c.len += (size_t)r;
        }
        p->final_seq = c.durable_seq;
        ws_close(&c);
    }
    atomic_store(&p->finished, 1);
    return NULL;
}

/* ---- server helpers ---- */

static double rss_mb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    double mb = -1;
    if (f == NULL)
        return mb;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            mb = strtod(line + 6, NULL) / 1024.0;
    fclose(f);
    return mb;
}

static double hist_pct(const uint64_t *hist, uint64_t total, double pct)
{
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)((double)total * pct), seen = 0;
    for (size_t i = 0; i < HIST_N; i++) {
        seen += hist[i];
        if (seen > want)
            return (double)(i + 1) * HIST_US / 1000.0; /* the bucket's upper bound */
    }
    return (double)HIST_N * HIST_US / 1000.0;
}

/* ---- the two phases ---- */

typedef struct catchup_result {
    int ok;
    uint64_t events, target;
    double seconds, fill_seconds, fill_per_s, server_cpu_s, client_cpu_s;
} catchup_result_t;

static void run_catchup(const struct sockaddr_in *addr, const char *auth, uint64_t n, pid_t srv, catchup_result_t *out)
{
    memset(out, 0, sizeof(*out));
    fill_t f = {.addr = *addr, .auth = auth, .n = n};
    f.req_full = djs_bench_submit_request(auth, FILL_BATCH, 1, &f.len_full);
    f.last_m = (uint32_t)(n % FILL_BATCH ? n % FILL_BATCH : FILL_BATCH);
    f.req_last = djs_bench_submit_request(auth, f.last_m, 1, &f.len_last);
    pthread_t th[FILL_CONNS];
    uint64_t t0 = now_ns(CLOCK_MONOTONIC), next = t0 + 2000000000ull;
    for (int i = 0; i < FILL_CONNS; i++)
        pthread_create(&th[i], NULL, fill_thread, &f);
    while (atomic_load(&f.done) < n && atomic_load(&f.errors) == 0) {
        usleep(50000);
        if (now_ns(CLOCK_MONOTONIC) >= next) {
            next += 2000000000ull;
            fprintf(stderr, "bench stream: fill: %" PRIu64 " of %" PRIu64 " jobs submitted (durable)\n",
                    (uint64_t)atomic_load(&f.done), n);
        }
    }
    for (int i = 0; i < FILL_CONNS; i++)
        pthread_join(th[i], NULL);
    out->fill_seconds = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    out->fill_per_s = (double)n / out->fill_seconds;
    djs_free(f.req_full);
    djs_free(f.req_last);
    if (atomic_load(&f.errors) != 0 || atomic_load(&f.done) < n) {
        fprintf(stderr, "bench stream: the fill failed\n");
        return;
    }
    fprintf(stderr, "bench stream: fill: %" PRIu64 " jobs in %.1f s (%.0f/s); catching up from seq 1\n", n, out->fill_seconds,
            out->fill_per_s);

    wsc_t c;
    live_stats_t st = {0};
    double s0 = djs_bench_proc_cpu_s(srv), k0 = djs_bench_proc_cpu_s(getpid());
    uint64_t c0 = now_ns(CLOCK_MONOTONIC);
    if (ws_open(&c, addr, auth, "/ws/events?from_seq=1", 4 << 20) != 0) {
        fprintf(stderr, "bench stream: the catch-up subscriber could not connect\n");
        return;
    }
    for (;;) {
        if (ws_frames(&c, 0, &st) != 0) {
            fprintf(stderr, "bench stream: catch-up: the server closed the stream\n");
            break;
        }
        if (c.hello && c.last_seq >= c.durable_seq)
            break;
        if (c.len == c.cap) {
            c.cap *= 2;
            c.buf = djs_realloc(c.buf, c.cap);
        }
        ssize_t r = read(c.fd, c.buf + c.len, c.cap - c.len);
        if (r <= 0) {
            fprintf(stderr, "bench stream: catch-up: the connection ended\n");
            break;
        }
        c.len += (size_t)r;
    }
    uint64_t c1 = now_ns(CLOCK_MONOTONIC);
    out->server_cpu_s = djs_bench_proc_cpu_s(srv) - s0;
    out->client_cpu_s = djs_bench_proc_cpu_s(getpid()) - k0;
    out->events = c.n;
    out->target = c.durable_seq;
    out->seconds = (double)(c1 - c0) / 1e9;
    out->ok = c.hello && c.last_seq >= c.durable_seq && c.first_seq == 1 && c.gaps == 0 && c.n == c.durable_seq;
    if (!out->ok)
        fprintf(stderr,
                "bench stream: catch-up incomplete: %" PRIu64 " events, first %" PRIu64 ", last %" PRIu64 ", durable %" PRIu64
                ", %" PRIu64 " gaps\n",
                c.n, c.first_seq, c.last_seq, c.durable_seq, c.gaps);
    ws_close(&c);
}

typedef struct live_result {
    int ok;
    uint64_t connected, dropped, deliveries, expected, gaps, no_at, pings, bad, submitted, requests, errors, events;
    double p50_ms, p99_ms, max_ms, delivered_per_s, produced_per_s, seconds, server_cpu_s, client_cpu_s;
} live_result_t;

static void run_live(const struct sockaddr_in *addr, const char *auth, uint32_t nsubs, uint64_t rate, uint64_t seconds, pid_t srv,
                     live_result_t *out)
{
    memset(out, 0, sizeof(*out));
    wsc_t *subs = djs_calloc(nsubs, sizeof(wsc_t));
    live_stats_t st = {0};
    st.hist = djs_calloc(HIST_N, sizeof(uint64_t));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (uint32_t i = 0; i < nsubs; i++) {
        if (ws_open(&subs[i], addr, auth, "/ws/events", SUB_BUF) != 0) {
            fprintf(stderr, "bench stream: subscriber %u could not connect\n", i);
            break;
        }
        fcntl(subs[i].fd, F_SETFL, fcntl(subs[i].fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, subs[i].fd, &ev);
        out->connected++;
        ws_frames(&subs[i], 0, &st);
    }
    /* every hello in before the producer starts: all subscribers are then live from the same point */
    uint64_t t_wait = now_ns(CLOCK_MONOTONIC) + 10000000000ull;
    struct epoll_event evs[256];
    for (;;) {
        uint32_t hellos = 0;
        for (uint32_t i = 0; i < out->connected; i++)
            hellos += (uint32_t)subs[i].hello;
        if (hellos == out->connected || now_ns(CLOCK_MONOTONIC) > t_wait)
            break;
        int k = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < k; e++) {
            wsc_t *c = &subs[evs[e].data.u32];
            ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
            if (r > 0) {
                c->len += (size_t)r;
                ws_frames(c, 0, &st);
            }
        }
    }
    fprintf(stderr, "bench stream: live: %" PRIu64 " subscribers connected; producing %" PRIu64 " jobs/s for %" PRIu64 " s\n",
            out->connected, rate, seconds);
    if (out->connected < nsubs) {
        st.deliveries = 0;
        goto done;
    }

    producer_t *p = djs_calloc(1, sizeof(*p));
    p->addr = *addr;
    p->auth = auth;
    p->rate = rate;
    p->seconds = seconds;
    pthread_t th;
    st.deliveries = 0;
    memset(st.hist, 0, HIST_N * sizeof(uint64_t));
    uint64_t t0 = now_ns(CLOCK_MONOTONIC), next = t0 + 1000000000ull, last_del = 0, t_fin = 0;
    double s0 = djs_bench_proc_cpu_s(srv), k0 = djs_bench_proc_cpu_s(getpid());
    pthread_create(&th, NULL, producer_thread, p);
    uint64_t open = out->connected;
    for (;;) {
        int k = epoll_wait(ep, evs, 256, 50);
        for (int e = 0; e < k; e++) {
            wsc_t *c = &subs[evs[e].data.u32];
            for (int rounds = 0; rounds < 4 && c->open; rounds++) {
                if (c->len == c->cap) {
                    c->cap *= 2;
                    c->buf = djs_realloc(c->buf, c->cap);
                }
                ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    break;
                uint64_t now_us = now_ns(CLOCK_REALTIME) / 1000;
                if (r <= 0) {
                    c->dropped = 1;
                    c->open = 0;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    open--;
                    fprintf(stderr, "bench stream: subscriber %u: connection ended (%s)\n", evs[e].data.u32,
                            r == 0 ? "EOF" : strerror(errno));
                    break;
                }
                c->len += (size_t)r;
                uint64_t before = st.deliveries;
                if (ws_frames(c, now_us, &st) != 0) {
                    c->dropped = 1;
                    c->open = 0;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    open--;
                    fprintf(stderr, "bench stream: subscriber %u: closed by the server\n", evs[e].data.u32);
                    break;
                }
                if (st.deliveries != before)
                    st.t_last_ns = now_ns(CLOCK_MONOTONIC);
                if ((size_t)r < c->cap / 2)
                    break;
            }
        }
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= next) {
            next += 1000000000ull;
            fprintf(stderr,
                    "bench stream: live: %.0f s: %" PRIu64 " jobs submitted, %" PRIu64 " deliveries (+%" PRIu64 "), %" PRIu64
                    " subscribers open, latency max %.1f ms\n",
                    (double)(now - t0) / 1e9, (uint64_t)atomic_load(&p->submitted), st.deliveries, st.deliveries - last_del, open,
                    st.sec_max * HIST_US / 1000.0);
            st.sec_max = 0;
            last_del = st.deliveries;
        }
        if (atomic_load(&p->finished)) {
            if (t_fin == 0)
                t_fin = now;
            int all = 1;
            for (uint32_t i = 0; i < nsubs && all; i++)
                all = !subs[i].open || subs[i].last_seq >= p->final_seq;
            if (all || now - t_fin > DRAIN_S * 1000000000ull || open == 0)
                break;
        }
    }
    pthread_join(th, NULL);
    out->server_cpu_s = djs_bench_proc_cpu_s(srv) - s0;
    out->client_cpu_s = djs_bench_proc_cpu_s(getpid()) - k0;
    out->submitted = atomic_load(&p->submitted);
    out->requests = p->requests;
    out->errors = p->errors;
    out->produced_per_s = (double)out->submitted / ((double)(p->t1_ns - p->t0_ns) / 1e9);
    out->seconds = (double)(st.t_last_ns - t0) / 1e9;
    /* events each subscriber should have: what the first one saw start, to the final durable seq */
    uint64_t first = UINT64_MAX;
    for (uint32_t i = 0; i < nsubs; i++)
        if (subs[i].n > 0 && subs[i].first_seq < first)
            first = subs[i].first_seq;
    out->events = first != UINT64_MAX && p->final_seq >= first ? p->final_seq - first + 1 : 0;
    out->expected = out->events * nsubs;
    for (uint32_t i = 0; i < nsubs; i++) {
        out->dropped += (uint64_t)subs[i].dropped;
        out->gaps += subs[i].gaps;
        if (subs[i].n > 0 && subs[i].first_seq != first)
            out->gaps++;
    }
    for (size_t i = 0; i <= FILL_BATCH; i++)
        djs_free(p->reqs[i]);
    djs_free(p);
done:
    out->deliveries = st.deliveries;
    out->no_at = st.no_at;
    out->pings = st.pings;
    out->bad = st.bad_frames;
    out->delivered_per_s = out->seconds > 0 ? (double)st.deliveries / out->seconds : 0;
    out->p50_ms = hist_pct(st.hist, st.deliveries - st.no_at, 0.50);
    out->p99_ms = hist_pct(st.hist, st.deliveries - st.no_at, 0.99);
    out->max_ms = hist_pct(st.hist, st.deliveries - st.no_at, 1.0 - 1e-12);
    out->ok =
        out->connected == nsubs && out->dropped == 0 && out->deliveries == out->expected && out->gaps == 0 && out->errors == 0;
    for (uint32_t i = 0; i < nsubs; i++)
        if (subs[i].buf != NULL) {
            if (subs[i].open)
                ws_send(&subs[i], 8, "\x03\xe8", 2);
            ws_close(&subs[i]);
        }
    close(ep);
    djs_free(subs);
    djs_free(st.hist);
}

int djs_bench_stream(int argc, char **argv)
{
    const char *usage = "djs bench stream [--subscribers S] [--events-per-s R] [--seconds T] [--catchup-events N] [--dir DIR] "
                        "[--keep]";
    uint64_t nsubs = 1000, rate = 5000, seconds = 10, ncatch = 1000000;
    const char *v, *dirbase = djs_cli_opt(argc, argv, "--dir");
    if (((v = djs_cli_opt(argc, argv, "--subscribers")) && djs_cli_u64(v, &nsubs)) ||
        ((v = djs_cli_opt(argc, argv, "--events-per-s")) && djs_cli_u64(v, &rate)) ||
        ((v = djs_cli_opt(argc, argv, "--seconds")) && djs_cli_u64(v, &seconds)) ||
        ((v = djs_cli_opt(argc, argv, "--catchup-events")) && djs_cli_u64(v, &ncatch)) || nsubs == 0 || nsubs > 10000 ||
        rate == 0 || rate > 1000000 || seconds == 0 || seconds > 3600 || ncatch == 0 || ncatch > 100000000) {
        fprintf(stderr, "djs bench stream: bad number\nusage: %s\n", usage);
        return 2;
    }
    int keep = djs_cli_flag(argc, argv, "--keep");
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 0, usage) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (djs_bench_fd_limit("stream", nsubs, "subscribers", nsubs + 64) != 0)
        return 1;
    const char *tmpbase = dirbase ? dirbase : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    djs_bench_env_t env;
    if (djs_bench_prepare("stream", tmpbase, 86400, &env) != 0)
        return 1;
    const char *dir = env.dir, *exe = env.exe, *listen = env.listen, *token = env.token;
    struct sockaddr_in addr = env.addr;
    char auth[1100];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
    /* the child inherits the raised RLIMIT_NOFILE: a socket per subscriber there too */
    pid_t pid = djs_bench_serve("djs bench stream", exe, dir, &addr, 1);
    if (pid < 0)
        return 1;
    printf("bench stream: djs serve on %s (pid %d), data in %s, %ld cores\n", listen, (int)pid, dir, sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);

    catchup_result_t cu;
    run_catchup(&addr, auth, ncatch, pid, &cu);
    if (cu.ok)
        printf("catch-up:  %8.0f events/s (one subscriber, /ws/events?from_seq=1, JSON text frames: %" PRIu64
               " events to durableSeq %" PRIu64 " in %.2f s; CPU: server %.2f s, this process %.2f s; fill: %" PRIu64
               " jobs in workflows of %d over %d connections, %.1f s, %.0f jobs/s)\n",
               (double)cu.events / cu.seconds, cu.events, cu.target, cu.seconds, cu.server_cpu_s, cu.client_cpu_s, ncatch,
               FILL_BATCH, FILL_CONNS, cu.fill_seconds, cu.fill_per_s);
    fflush(stdout);
    double rss_catch = rss_mb(pid);

    live_result_t lv = {0};
    if (cu.ok)
        run_live(&addr, auth, (uint32_t)nsubs, rate, seconds, pid, &lv);
    double rss = rss_mb(pid);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!keep)
        djs_bench_rm_dir(dir);
    if (!cu.ok) {
        fprintf(stderr, "djs bench stream: the catch-up phase failed\n");
        return 1;
    }
    printf("live:      %" PRIu64 " subscribers, producer %.0f jobs/s (%" PRIu64 " jobs, %" PRIu64 " requests), %" PRIu64
           " events each\n",
           lv.connected, lv.produced_per_s, lv.submitted, lv.requests, lv.events);
    printf("           delivery (event \"at\" -> received): p50 %.1f ms, p99 %.1f ms, max %.1f ms; %" PRIu64 " of %" PRIu64
           " deliveries, %.0f/s summed over subscribers\n",
           lv.p50_ms, lv.p99_ms, lv.max_ms, lv.deliveries, lv.expected, lv.delivered_per_s);
    printf("           dropped subscribers %" PRIu64 ", gaps %" PRIu64 ", pings %" PRIu64
           ", server RSS %.1f MB (%.1f MB after catch-up), "
           "server exit status %d\n",
           lv.dropped, lv.gaps, lv.pings, rss, rss_catch, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    printf("           CPU from the producer's start to the last delivery (%.1f s): server %.1f s, this process %.1f s\n",
           lv.seconds, lv.server_cpu_s, lv.client_cpu_s);
    printf("{\"bench\":\"stream\",\"catchup_events\":%" PRIu64 ",\"catchup_events_per_s\":%.0f,\"catchup_seconds\":%.3f,"
           "\"fill_jobs_per_s\":%.0f,\"subscribers\":%" PRIu64 ",\"events_per_s_target\":%" PRIu64 ",\"events_per_s\":%.0f,"
           "\"seconds\":%" PRIu64 ",\"live_events\":%" PRIu64 ",\"live_delivery_p50_ms\":%.1f,\"live_delivery_p99_ms\":%.1f,"
           "\"live_delivery_max_ms\":%.1f,\"deliveries\":%" PRIu64 ",\"expected_deliveries\":%" PRIu64
           ",\"delivered_events_per_s\":%.0f,\"dropped_subscribers\":%" PRIu64 ",\"gaps\":%" PRIu64
           ",\"server_rss_mb\":%.1f,\"server_rss_after_catchup_mb\":%.1f,\"catchup_server_cpu_s\":%.2f,"
           "\"catchup_client_cpu_s\":%.2f,\"live_server_cpu_s\":%.2f,\"live_client_cpu_s\":%.2f,\"ok\":%s,"
           "\"method\":\"JSON text frames, only the leading seq and the at string parsed; catch-up: one subscriber from seq 1 "
           "to the durableSeq of its hello, connect to last event read; live: latency = CLOCK_REALTIME after the read() "
           "minus the event's at (log append time, ms precision truncated, durable within the group commit window after "
           "it), 0.1 ms histogram buckets, upper bound reported; producer: workflows of the jobs due every 10 ms, one "
           "job.submitted event per job, durable acknowledgements\"}\n",
           cu.events, (double)cu.events / cu.seconds, cu.seconds, cu.fill_per_s, nsubs, rate, lv.produced_per_s, seconds, lv.events,
           lv.p50_ms, lv.p99_ms, lv.max_ms, lv.deliveries, lv.expected, lv.delivered_per_s, lv.dropped, lv.gaps, rss, rss_catch,
           cu.server_cpu_s, cu.client_cpu_s, lv.server_cpu_s, lv.client_cpu_s, lv.ok ? "true" : "false");
    /* measured: 0 even when deliveries are incomplete ("ok":false says so); 1 when the live phase could not run */
    return lv.connected == nsubs ? 0 : 1;
}
