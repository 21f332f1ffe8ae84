/* djs bench e2e: jobs end to end, side by side with beanstalkd.
 *
 * Starts `djs serve` (this same binary) as a child on a free loopback port
 * with a fresh data directory, mints an admin token with its secret, and in
 * this process, on one libuv loop:
 *
 *   - K simulated workers over the agent's HTTP protocol: each registers
 *     (POST /workers with its slots), keeps one long poll open while it has
 *     free slots (POST /workers/{id}/poll?wait=25&max=FREE), starts each
 *     assignment and completes it (at once, or --hold-ms later); a
 *     heartbeat every 2 s. By default reports are batched: whatever starts
 *     and completions are ready go in one request, carried by the next
 *     poll (with wait=0: their answer is wanted now) or, while the poll is
 *     parked or no slot is free, by POST /workers/{id}/reports.
 *     --protocol single sends POST /jobs/{id}/start and /complete, one
 *     request per report. With claim (the default of --protocol single,
 *     --claim true|false) the polls ask ?claim=true: each job they deliver
 *     is RUNNING already (its start acknowledged by the poll's answer), so
 *     no start report is sent. One connection for the poll and C for the
 *     reports per worker (the agent's libcurl multi also opens one per
 *     request in flight). Jobs are no-ops: nothing is executed.
 *   - P producer connections submitting N jobs with POST /jobs, workflows
 *     of B independent jobs per request (--batch B, default 50; 1: one job
 *     per request), each the next as soon as the previous is acknowledged
 *     (durable).
 *
 * Throughput is N over the time from the first submit sent to the last
 * completion acknowledged (durable). Submit-to-start latency is per job,
 * from reading its submit acknowledgement to reading the acknowledgement of
 * its start (RUNNING is durable); the time to sending the start is given
 * too. The command around this run (options, the child server, the same
 * work on beanstalkd, the report) is e2e_cmd.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "api/auth.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/id.h"
#include "tools/bench/e2e.h"
#include "tools/bench/util.h"
#include "tools/bench/uvhttp.h"

#define HB_EVERY_MS 2000
#define POLL_WAIT_S 25
#define CONNECTING_MAX 64 /* the server listens with a backlog of 128 */
#define STALL_S 60

/* ---- the djs run --------------------------------------------------------------------------------- */

enum { OP_REGISTER = 1, OP_START, OP_COMPLETE, OP_HEARTBEAT, OP_SUBMIT, OP_REPORTS, OP_POLL, OP_STATS };

#define MAX_REPORTS 1000 /* per request, the server's limit */

/* One job, in an open-addressing table keyed by its id. */
typedef struct job {
    djs_id_t id;
    uint32_t used, attempt;
    uint32_t mine; /* assigned to a simulated worker for this attempt: its start is queued or sent */
    uint64_t ack_ns, start_sent_ns, start_ack_ns;
} job_t;

typedef struct op {
    uint32_t type, job; /* job: index in the table */
} op_t;

struct e2e;
struct worker;

typedef struct hconn {
    djs_bench_http_conn_t http; /* first: on_answer and on_error get it */
    struct e2e *b;
    struct worker *w; /* NULL for producers and the stats reader */
    int open, busy;
    op_t op;       /* the request in flight */
    uint32_t nsub; /* jobs in the submit in flight */
    op_t *carry;   /* batched protocol: the reports in the request in flight, in order */
    uint32_t ncarry;
} hconn_t;

typedef struct worker {
    struct e2e *b;
    char id[DJS_ID_TEXT_LEN + 1];
    uint32_t held;       /* assigned and not yet completed */
    uint32_t starting;   /* starts queued or not yet acknowledged */
    uint32_t starts_out; /* batched: starts sent on a report connection, not yet answered */
    int hb_queued;
    uint64_t hb_due;
    hconn_t *poll;
    hconn_t **rep;
    op_t *q; /* ring of reports waiting for a connection */
    uint32_t qhead, qlen, qcap;
} worker_t;

typedef struct hold {
    uint32_t worker, job;
    uint64_t due;
} hold_t;

typedef struct e2e {
    uv_loop_t loop;
    struct sockaddr_in addr;
    char auth[1100]; /* "Authorization: Bearer ...\r\n" */
    uint64_t n, hold_ms;
    uint32_t nworkers, nprod, slots, conns, batch;
    int batched; /* reports batched (POST /workers/{id}/reports, or carried by the poll) */
    int claim;   /* polls with ?claim=true */
    worker_t *workers;
    hconn_t **all, **prod, *stats;
    uint32_t nall, connected, next_connect, registered;
    int closing, failed, running;
    char why[256];
    /* jobs */
    job_t *jobs;
    uint64_t mask;
    uint64_t issued, acked, assigned, started, completed, refused, errors;
    uint64_t nreq[OP_STATS + 1], empty_polls, reconnects, carried_by_polls, carried_by_reports;
    uint32_t *lat_ack, *lat_sent;
    uint64_t nlat;
    uint64_t t0, t_submit_end, t_end;
    /* concurrency */
    int64_t running_client, peak_running_client, peak_running_server, peak_slots_busy;
    hold_t *holds;
    uint64_t hhead, hlen, hcap;
    uv_timer_t tick, hold_timer, stats_timer;
    uint64_t last_completed, stall_ticks, tick_count;
    /* prebuilt submit requests: a full one and the remainder */
    char *sub_req, *sub_last;
    size_t sub_len, sub_last_len;
    uint32_t sub_last_n;
} e2e_t;

static void e2e_close_all(e2e_t *b);

static void e2e_fail(e2e_t *b, const char *fmt, const char *detail, size_t dlen)
{
    if (!b->failed && !b->closing) {
        b->failed = 1;
        int k = snprintf(b->why, sizeof(b->why), "%s", fmt);
        if (detail != NULL && k > 0 && (size_t)k < sizeof(b->why))
            snprintf(b->why + k, sizeof(b->why) - (size_t)k, ": %.*s", (int)(dlen > 160 ? 160 : dlen), detail);
    }
    e2e_close_all(b);
}

/* the job of this id, added if new; UINT32_MAX if the table is full */
static uint32_t job_find(e2e_t *b, const djs_id_t *id)
{
    uint64_t h;
    memcpy(&h, id->b + 8, sizeof(h)); /* UUIDv7: the random half */
    h *= 0x9E3779B97F4A7C15ull;
    for (uint64_t i = 0; i <= b->mask; i++) {
        job_t *j = &b->jobs[(h + i) & b->mask];
        if (!j->used) {
            j->used = 1;
            j->id = *id;
            return (uint32_t)((h + i) & b->mask);
        }
        if (memcmp(j->id.b, id->b, 16) == 0)
            return (uint32_t)((h + i) & b->mask);
    }
    return UINT32_MAX;
}

static void job_latency(e2e_t *b, job_t *j)
{
    b->lat_ack[b->nlat] = j->start_ack_ns > j->ack_ns ? (uint32_t)((j->start_ack_ns - j->ack_ns) / 1000) : 0;
    b->lat_sent[b->nlat] = j->start_sent_ns > j->ack_ns ? (uint32_t)((j->start_sent_ns - j->ack_ns) / 1000) : 0;
    b->nlat++;
}

/* ---- connections ---- */

static int conn_send(hconn_t *c, const char *data, size_t len)
{
    c->busy = 1;
    return djs_bench_http_send(&c->http, data, len);
}

/* A request with a small JSON body (or none) on c. */
static void conn_request(hconn_t *c, const char *method, const char *path, const char *body, uint32_t type, uint32_t job)
{
    char req[2048];
    size_t bl = body ? strlen(body) : 0;
    int k =
        snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: b\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 method, path, c->b->auth, bl, body ? body : "");
    c->op = (op_t){type, job};
    c->b->nreq[type]++;
    if (k <= 0 || (size_t)k >= sizeof(req) || conn_send(c, req, (size_t)k) != 0)
        e2e_fail(c->b, "a request could not be sent", NULL, 0);
}

/* POST path with a JSON body of bl bytes on c. */
static void conn_post(hconn_t *c, const char *path, const char *body, size_t bl, uint32_t type)
{
    size_t cap = bl + 1600;
    char *req = djs_malloc(cap);
    int k = snprintf(req, cap, "POST %s HTTP/1.1\r\nHost: b\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     path, c->b->auth, bl);
    c->op = (op_t){type, 0};
    c->b->nreq[type]++;
    if (k <= 0 || (size_t)k + bl > cap) {
        e2e_fail(c->b, "a request could not be built", NULL, 0);
    } else {
        memcpy(req + k, body, bl);
        if (conn_send(c, req, (size_t)k + bl) != 0)
            e2e_fail(c->b, "a request could not be sent", NULL, 0);
    }
    djs_free(req);
}

static void e2e_close_all(e2e_t *b)
{
    if (b->closing)
        return;
    b->closing = 1;
    for (uint32_t i = 0; i < b->nall; i++)
        if (b->all[i]->open && !uv_is_closing((uv_handle_t *)&b->all[i]->http.tcp))
            uv_close((uv_handle_t *)&b->all[i]->http.tcp, NULL);
    uv_timer_t *timers[] = {&b->tick, &b->hold_timer, &b->stats_timer};
    for (int i = 0; i < 3; i++)
        if (!uv_is_closing((uv_handle_t *)timers[i]))
            uv_close((uv_handle_t *)timers[i], NULL);
}

/* ---- simulated workers ---- */

static void worker_push(worker_t *w, op_t op, int front)
{
    if (w->qlen == w->qcap) {
        uint32_t cap = w->qcap ? w->qcap * 2 : 16;
        op_t *q = djs_malloc(cap * sizeof(op_t));
        for (uint32_t i = 0; i < w->qlen; i++)
            q[i] = w->q[(w->qhead + i) % w->qcap];
        djs_free(w->q);
        w->q = q;
        w->qcap = cap;
        w->qhead = 0;
    }
    if (front) {
        w->qhead = (w->qhead + w->qcap - 1) % w->qcap;
        w->q[w->qhead] = op;
    } else {
        w->q[(w->qhead + w->qlen) % w->qcap] = op;
    }
    w->qlen++;
}

static void report_send(hconn_t *c, op_t op)
{
    e2e_t *b = c->b;
    worker_t *w = c->w;
    char path[128], body[160], idt[DJS_ID_TEXT_LEN + 1];
    if (op.type == OP_HEARTBEAT) {
        w->hb_queued = 0;
        snprintf(path, sizeof(path), "/api/v1/workers/%s/heartbeat", w->id);
        conn_request(c, "POST", path, "{\"cpu\":0.05,\"memory\":0.2,\"responseMs\":1}", OP_HEARTBEAT, 0);
        return;
    }
    job_t *j = &b->jobs[op.job];
    djs_id_format(&j->id, idt);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/%s", idt, op.type == OP_START ? "start" : "complete");
    snprintf(body, sizeof(body), "{\"workerId\":\"%s\",\"attempt\":%u}", w->id, j->attempt);
    if (op.type == OP_START)
        j->start_sent_ns = djs_monotonic_ns();
    conn_request(c, "POST", path, body, op.type, op.job);
}

/* Batched protocol: the worker's queued reports (at most MAX_REPORTS, in
 * queue order) as {"reports":[...]}; they move to c->carry. Returns the
 * body (djs_free it) and its length in *len. */
static char *reports_body(worker_t *w, hconn_t *c, size_t *len)
{
    e2e_t *b = w->b;
    uint32_t n = w->qlen < MAX_REPORTS ? w->qlen : MAX_REPORTS;
    size_t cap = 32 + (size_t)n * 100, k;
    char *body = djs_malloc(cap), idt[DJS_ID_TEXT_LEN + 1];
    uint64_t now = djs_monotonic_ns();
    if (c->carry == NULL)
        c->carry = djs_malloc(MAX_REPORTS * sizeof(op_t));
    c->ncarry = 0;
    k = (size_t)snprintf(body, cap, "{\"reports\":[");
    for (uint32_t i = 0; i < n; i++) {
        op_t op = w->q[w->qhead];
        w->qhead = (w->qhead + 1) % w->qcap;
        w->qlen--;
        job_t *j = &b->jobs[op.job];
        djs_id_format(&j->id, idt);
        k += (size_t)snprintf(body + k, cap - k, "%s{\"jobId\":\"%s\",\"attempt\":%u,\"action\":\"%s\"}", i ? "," : "", idt,
                              j->attempt, op.type == OP_START ? "start" : "complete");
        if (op.type == OP_START)
            j->start_sent_ns = now;
        c->carry[c->ncarry++] = op;
    }
    k += (size_t)snprintf(body + k, cap - k, "]}");
    *len = k;
    return body;
}

/* Batched protocol: the poll goes out (once no start is out on a report
 * connection, and while slots are or will be free) carrying every queued
 * report, with wait=0 when it carries some (their answer is wanted now);
 * otherwise queued reports go in one POST /workers/{id}/reports per idle
 * report connection. */
static void worker_pump_batched(worker_t *w)
{
    e2e_t *b = w->b;
    char path[160];
    uint32_t ncomp = 0;
    for (uint32_t i = 0; i < w->qlen; i++)
        ncomp += w->q[(w->qhead + i) % w->qcap].type == OP_COMPLETE;
    uint32_t free = b->slots - w->held + ncomp;
    if (!w->poll->busy && w->starts_out == 0 && free > 0) {
        snprintf(path, sizeof(path), "/api/v1/workers/%s/poll?wait=%d&max=%u&claim=%s", w->id, w->qlen > 0 ? 0 : POLL_WAIT_S,
                 free > 64 ? 64 : free, b->claim ? "true" : "false");
        if (w->qlen > 0) {
            size_t bl;
            char *body = reports_body(w, w->poll, &bl);
            b->carried_by_polls += w->poll->ncarry;
            conn_post(w->poll, path, body, bl, OP_POLL);
            djs_free(body);
        } else {
            w->poll->ncarry = 0;
            conn_request(w->poll, "POST", path, NULL, OP_POLL, 0);
        }
    }
    for (uint32_t i = 0; i < b->conns && !b->closing; i++) {
        hconn_t *c = w->rep[i];
        if (c->busy)
            continue;
        if (w->hb_queued) {
            report_send(c, (op_t){OP_HEARTBEAT, 0});
            continue;
        }
        if (w->qlen == 0)
            break;
        size_t bl;
        char *body = reports_body(w, c, &bl);
        for (uint32_t k = 0; k < c->ncarry; k++)
            w->starts_out += c->carry[k].type == OP_START;
        b->carried_by_reports += c->ncarry;
        snprintf(path, sizeof(path), "/api/v1/workers/%s/reports", w->id);
        conn_post(c, path, body, bl, OP_REPORTS);
        djs_free(body);
    }
}

/* Send what is due: reports on idle connections, and the poll while the
 * worker has free slots. */
static void worker_pump(worker_t *w)
{
    e2e_t *b = w->b;
    if (b->closing || !b->running)
        return;
    if (b->batched) {
        worker_pump_batched(w);
        return;
    }
    for (uint32_t i = 0; i < b->conns && w->qlen > 0; i++) {
        hconn_t *c = w->rep[i];
        if (c->busy)
            continue;
        op_t op = w->q[w->qhead];
        w->qhead = (w->qhead + 1) % w->qcap;
        w->qlen--;
        report_send(c, op);
    }
    /* The next poll once the starts are through: until then the server
     * answers a poll at once with the same assignments. */
    if (!w->poll->busy && w->held < b->slots && w->starting == 0) {
        char path[160];
        uint32_t free = b->slots - w->held;
        snprintf(path, sizeof(path), "/api/v1/workers/%s/poll?wait=%d&max=%u&claim=%s", w->id, POLL_WAIT_S, free > 64 ? 64 : free,
                 b->claim ? "true" : "false");
        conn_request(w->poll, "POST", path, NULL, OP_POLL, 0);
    }
}

static const char *find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    return p < end ? memmem(p, (size_t)(end - p), needle, n) : NULL;
}

static void start_done(e2e_t *b, worker_t *w, uint32_t ji, int status, const char *body, size_t len, uint64_t now);

static void on_poll_answer(e2e_t *b, worker_t *w, const char *body, size_t len)
{
    uint64_t now = djs_monotonic_ns();
    const char *end = body + len, *p = body;
    uint64_t before = b->assigned;
    while ((p = find(p, end, "\"jobId\":\"")) != NULL) {
        p += 9;
        djs_id_t id;
        const char *at = find(p, end, "\"attempt\":");
        if (end - p < DJS_ID_TEXT_LEN || djs_id_parse(p, DJS_ID_TEXT_LEN, &id) != 0 || at == NULL) {
            e2e_fail(b, "malformed poll answer", body, len);
            return;
        }
        uint32_t ji = job_find(b, &id);
        if (ji == UINT32_MAX) {
            e2e_fail(b, "job table full (more assignments than jobs)", NULL, 0);
            return;
        }
        uint32_t attempt = (uint32_t)strtoul(at + 10, NULL, 10);
        p = at;
        job_t *j = &b->jobs[ji];
        if (j->mine && j->attempt == attempt)
            continue; /* an assignment we have, its start not yet applied: polls list it until then */
        j->attempt = attempt;
        j->mine = 1;
        b->assigned++;
        w->held++;
        w->starting++;
        if (b->claim) { /* RUNNING already: the poll's answer acknowledged its start */
            j->start_sent_ns = now;
            start_done(b, w, ji, 200, body, len, now);
        } else {
            worker_push(w, (op_t){OP_START, ji}, 0);
        }
    }
    if (b->assigned == before)
        b->empty_polls++;
}

static void hold_push(e2e_t *b, uint32_t worker, uint32_t job, uint64_t now)
{
    if (b->hlen == b->hcap) {
        uint64_t cap = b->hcap ? b->hcap * 2 : 1024;
        hold_t *h = djs_malloc(cap * sizeof(hold_t));
        for (uint64_t i = 0; i < b->hlen; i++)
            h[i] = b->holds[(b->hhead + i) % b->hcap];
        djs_free(b->holds);
        b->holds = h;
        b->hcap = cap;
        b->hhead = 0;
    }
    b->holds[(b->hhead + b->hlen) % b->hcap] = (hold_t){worker, job, now + b->hold_ms * 1000000ull};
    b->hlen++;
}

static void on_hold_timer(uv_timer_t *t)
{
    e2e_t *b = t->data;
    uint64_t now = djs_monotonic_ns();
    while (b->hlen > 0 && b->holds[b->hhead].due <= now) {
        hold_t h = b->holds[b->hhead];
        b->hhead = (b->hhead + 1) % b->hcap;
        b->hlen--;
        worker_push(&b->workers[h.worker], (op_t){OP_COMPLETE, h.job}, 0);
        worker_pump(&b->workers[h.worker]);
    }
}

/* The answer to a start (status 200 or 409) of job ji. */
static void start_done(e2e_t *b, worker_t *w, uint32_t ji, int status, const char *body, size_t len, uint64_t now)
{
    job_t *j = &b->jobs[ji];
    w->starting--;
    if (status == 409) { /* the assignment ended meanwhile (lease): the server retries it */
        if (b->refused++ < 3)
            fprintf(stderr, "bench e2e: a start refused: %.*s\n", (int)(len > 300 ? 300 : len), body);
        w->held--;
        return;
    }
    if (status != 200) {
        e2e_fail(b, "a start was refused", body, len);
        return;
    }
    j->start_ack_ns = now;
    if (j->ack_ns != 0)
        job_latency(b, j);
    b->started++;
    if (++b->running_client > b->peak_running_client)
        b->peak_running_client = b->running_client;
    if (b->hold_ms == 0)
        worker_push(w, (op_t){OP_COMPLETE, ji}, 0);
    else
        hold_push(b, (uint32_t)(w - b->workers), ji, now);
}

static void complete_done(e2e_t *b, worker_t *w, int status, const char *body, size_t len, uint64_t now)
{
    b->running_client--;
    w->held--;
    if (status == 409) {
        if (b->refused++ < 3)
            fprintf(stderr, "bench e2e: a completion refused: %.*s\n", (int)(len > 300 ? 300 : len), body);
        return;
    }
    if (status != 200) {
        e2e_fail(b, "a completion was refused", body, len);
        return;
    }
    if (++b->completed == b->n) {
        b->t_end = now;
        e2e_close_all(b);
    }
}

/* The "results" of the reports c carried, one per report, in order. */
static void on_results(e2e_t *b, worker_t *w, hconn_t *c, const char *body, size_t len, uint64_t now)
{
    const char *end = body + len, *p = find(body, end, "\"results\":[");
    uint32_t n = c->ncarry;
    c->ncarry = 0;
    if (p == NULL && n > 0) {
        e2e_fail(b, "an answer without the results of its reports", body, len);
        return;
    }
    for (uint32_t i = 0; i < n && !b->closing; i++) {
        op_t op = c->carry[i];
        const char *st = find(p, end, "\"status\":");
        if (st == NULL) {
            e2e_fail(b, "fewer results than reports", body, len);
            return;
        }
        p = st + 9;
        int status = (int)strtol(p, NULL, 10);
        if (op.type == OP_START) {
            if (c != w->poll)
                w->starts_out--;
            start_done(b, w, op.job, status, body, len, now);
        } else {
            complete_done(b, w, status, body, len, now);
        }
    }
}

static void producer_send(e2e_t *b, hconn_t *c)
{
    if (b->issued >= b->n) {
        c->busy = 0;
        return;
    }
    uint64_t left = b->n - b->issued;
    int last = left < b->batch;
    c->nsub = last ? (uint32_t)left : b->batch;
    b->issued += c->nsub;
    c->op = (op_t){OP_SUBMIT, 0};
    b->nreq[OP_SUBMIT]++;
    if (conn_send(c, last ? b->sub_last : b->sub_req, last ? b->sub_last_len : b->sub_len) != 0)
        e2e_fail(b, "a submit could not be sent", NULL, 0);
}

static void on_stats_timer(uv_timer_t *t);

static void start_run(e2e_t *b)
{
    b->running = 1;
    b->t0 = djs_monotonic_ns();
    fprintf(stderr, "bench e2e: djs: %u workers registered, submitting %" PRIu64 " jobs\n", b->nworkers, b->n);
    for (uint32_t i = 0; i < b->nprod && !b->closing; i++)
        producer_send(b, b->prod[i]);
    for (uint32_t i = 0; i < b->nworkers && !b->closing; i++) {
        b->workers[i].hb_due = b->t0 + (uint64_t)HB_EVERY_MS * 1000000ull * i / b->nworkers;
        worker_pump(&b->workers[i]);
    }
    conn_request(b->stats, "GET", "/api/v1/stats", NULL, OP_STATS, 0);
    uv_timer_start(&b->stats_timer, on_stats_timer, 200, 200);
}

static int64_t json_int_after(const char *body, size_t len, const char *key)
{
    const char *p = find(body, body + len, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void on_stats_timer(uv_timer_t *t)
{
    e2e_t *b = t->data;
    if (!b->closing && !b->stats->busy)
        conn_request(b->stats, "GET", "/api/v1/stats", NULL, OP_STATS, 0);
    uv_timer_start(&b->stats_timer, on_stats_timer, 200, 200);
}

/* One whole answer came on c. */
/* A producer's submit answered: each job's acknowledgement time, then its next submit. */
static void submit_done(e2e_t *b, hconn_t *c, int status, const char *body, size_t len, uint64_t now)
{
    if (status != 201) {
        e2e_fail(b, "a submit was refused", body, len);
        return;
    }
    const char *p = body, *end = body + len;
    uint32_t got = 0;
    while ((p = find(p, end, "\"id\":\"")) != NULL && got < c->nsub) {
        p += 6;
        djs_id_t id;
        if (end - p < DJS_ID_TEXT_LEN || djs_id_parse(p, DJS_ID_TEXT_LEN, &id) != 0)
            break;
        uint32_t ji = job_find(b, &id);
        if (ji == UINT32_MAX)
            break;
        job_t *j = &b->jobs[ji];
        j->ack_ns = now;
        if (j->start_ack_ns != 0) /* its start was acknowledged before its submit */
            job_latency(b, j);
        got++;
    }
    if (got != c->nsub) {
        e2e_fail(b, "a submit answer without the job ids", body, len);
        return;
    }
    b->acked += got;
    if (b->acked == b->n)
        b->t_submit_end = now;
    producer_send(b, c);
}

/* A worker registered: its id; the run starts once all have. */
static void register_done(e2e_t *b, worker_t *w, int status, const char *body, size_t len)
{
    const char *p = find(body, body + len, "\"id\":\"");
    if (status != 201 || p == NULL || body + len - (p + 6) < DJS_ID_TEXT_LEN) {
        e2e_fail(b, "a worker registration was refused", body, len);
        return;
    }
    memcpy(w->id, p + 6, DJS_ID_TEXT_LEN);
    w->id[DJS_ID_TEXT_LEN] = '\0';
    if (++b->registered == b->nworkers)
        start_run(b);
}

static void on_answer(hconn_t *c, int status, const char *body, size_t len, uint64_t now)
{
    e2e_t *b = c->b;
    worker_t *w = c->w;
    op_t op = c->op;
    c->busy = 0;
    switch (op.type) {
    case OP_SUBMIT:
        submit_done(b, c, status, body, len, now);
        return;
    case OP_REGISTER:
        register_done(b, w, status, body, len);
        return;
    case OP_POLL:
        if (status != 200) {
            e2e_fail(b, "a poll was refused", body, len);
            return;
        }
        if (c->ncarry > 0) {
            const char *r = find(body, body + len, "\"results\":[");
            on_results(b, w, c, body, len, now);
            if (b->closing)
                return;
            len = r != NULL ? (size_t)(r - body) : len; /* the assignments come first */
        }
        on_poll_answer(b, w, body, len);
        break;
    case OP_START:
        start_done(b, w, op.job, status, body, len, now);
        break;
    case OP_COMPLETE:
        complete_done(b, w, status, body, len, now);
        break;
    case OP_REPORTS:
        if (status != 200) {
            e2e_fail(b, "a batch of reports was refused", body, len);
            return;
        }
        on_results(b, w, c, body, len, now);
        break;
    case OP_HEARTBEAT:
        if (status != 200)
            b->errors++;
        break;
    case OP_STATS: {
        int64_t r = json_int_after(body, len, "\"RUNNING\":"), s = json_int_after(body, len, "\"slotsBusy\":");
        if (r > b->peak_running_server)
            b->peak_running_server = r;
        if (s > b->peak_slots_busy)
            b->peak_slots_busy = s;
        return;
    }
    }
    if (w != NULL)
        worker_pump(w);
}

/* uvhttp's callbacks: an answer, or the end of the reads. */
static int on_http_answer(djs_bench_http_conn_t *h, int status, const char *body, size_t len, uint64_t now)
{
    hconn_t *c = container_of(h, hconn_t, http);
    if (c->b->closing)
        return 1;
    on_answer(c, status, body, len, now);
    return c->b->closing;
}

static void on_closed_reopen(uv_handle_t *h);

static void on_http_error(djs_bench_http_conn_t *h, int err)
{
    hconn_t *c = container_of(h, hconn_t, http);
    if (c->busy || h->rlen > 0) {
        e2e_fail(c->b, "the server closed a connection with a request in flight", uv_strerror(err), strlen(uv_strerror(err)));
    } else { /* an idle keep-alive connection timed out: open it again, as libcurl would */
        c->busy = 1;
        uv_close((uv_handle_t *)&h->tcp, on_closed_reopen);
    }
}

static void on_reopened(uv_connect_t *req, int status)
{
    hconn_t *c = container_of((djs_bench_http_conn_t *)req->data, hconn_t, http);
    e2e_t *b = c->b;
    if (status != 0) {
        e2e_fail(b, "cannot connect to the server", uv_strerror(status), strlen(uv_strerror(status)));
        return;
    }
    if (b->closing)
        return;
    djs_bench_http_read_start(&c->http);
    c->busy = 0;
    b->reconnects++;
    if (c->w != NULL)
        worker_pump(c->w);
}

static void on_closed_reopen(uv_handle_t *h)
{
    hconn_t *c = container_of((djs_bench_http_conn_t *)h->data, hconn_t, http);
    e2e_t *b = c->b;
    if (b->closing)
        return;
    djs_bench_http_reset(&c->http);
    int rc = djs_bench_http_connect(&c->http, &b->loop, &b->addr, on_reopened);
    if (rc != 0)
        e2e_fail(b, "cannot connect to the server", uv_strerror(rc), strlen(uv_strerror(rc)));
}

static void connect_next(e2e_t *b);

static void on_connected(uv_connect_t *req, int status)
{
    hconn_t *c = container_of((djs_bench_http_conn_t *)req->data, hconn_t, http);
    e2e_t *b = c->b;
    if (status != 0) {
        e2e_fail(b, "cannot connect to the server", uv_strerror(status), strlen(uv_strerror(status)));
        return;
    }
    if (b->closing)
        return;
    djs_bench_http_read_start(&c->http);
    if (++b->connected < b->nall) {
        connect_next(b);
        return;
    }
    fprintf(stderr, "bench e2e: djs: %u connections open, registering %u workers\n", b->nall, b->nworkers);
    for (uint32_t i = 0; i < b->nworkers && !b->closing; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"name\":\"sim-%06u\",\"host\":\"bench\",\"slots\":%u}", i, b->slots);
        conn_request(b->workers[i].rep[0], "POST", "/api/v1/workers", body, OP_REGISTER, 0);
    }
}

static void connect_next(e2e_t *b)
{
    while (b->next_connect < b->nall && b->next_connect - b->connected < CONNECTING_MAX && !b->closing) {
        hconn_t *c = b->all[b->next_connect++];
        c->open = 1;
        int rc = djs_bench_http_connect(&c->http, &b->loop, &b->addr, on_connected);
        if (rc != 0)
            e2e_fail(b, "cannot connect to the server", uv_strerror(rc), strlen(uv_strerror(rc)));
    }
}

static void on_tick(uv_timer_t *t)
{
    e2e_t *b = t->data;
    uint64_t now = djs_monotonic_ns();
    if (b->running) {
        for (uint32_t i = 0; i < b->nworkers; i++) { /* heartbeats first in the queue */
            worker_t *w = &b->workers[i];
            if (now >= w->hb_due && !w->hb_queued) {
                w->hb_queued = 1;
                w->hb_due = now + HB_EVERY_MS * 1000000ull;
                if (!b->batched)
                    worker_push(w, (op_t){OP_HEARTBEAT, 0}, 1);
                worker_pump(w);
            }
        }
    }
    if (++b->tick_count % 10 != 0)
        return;
    fprintf(stderr,
            "bench e2e: djs: %" PRIu64 " submitted, %" PRIu64 " started, %" PRIu64 " completed of %" PRIu64 "; running %" PRId64
            " (server peak %" PRId64 ")\n",
            b->acked, b->started, b->completed, b->n, b->running_client, b->peak_running_server);
    if (b->completed == b->last_completed) {
        if (++b->stall_ticks >= STALL_S)
            e2e_fail(b, "no job completed for 60 s", NULL, 0);
    } else {
        b->stall_ticks = 0;
    }
    b->last_completed = b->completed;
}

/* ---- one run ---------------------------------------------------------------------------------- */

/* The run's state and its connections: one poll and C report connections
 * per worker, the producers, the stats reader. */
static e2e_t *e2e_new(const djs__bench_e2e_params_t *p)
{
    e2e_t *b = djs_calloc(1, sizeof(*b));
    b->addr = p->addr;
    snprintf(b->auth, sizeof(b->auth), "Authorization: Bearer %s\r\n", p->token);
    b->n = p->n;
    b->hold_ms = p->hold_ms;
    b->nworkers = p->workers;
    b->nprod = p->producers;
    b->slots = p->slots;
    b->conns = p->conns;
    b->batch = p->batch;
    b->batched = p->batched;
    b->claim = p->claim;
    uint64_t cap = 1024;
    while (cap < 2 * p->n)
        cap *= 2;
    b->mask = cap - 1;
    b->jobs = djs_calloc(cap, sizeof(job_t));
    b->lat_ack = djs_malloc(p->n * sizeof(uint32_t));
    b->lat_sent = djs_malloc(p->n * sizeof(uint32_t));
    b->sub_req = djs_bench_submit_request(b->auth, p->batch, p->batch > 1, &b->sub_len);
    b->sub_last_n = (uint32_t)(p->n % p->batch);
    b->sub_last = djs_bench_submit_request(b->auth, b->sub_last_n ? b->sub_last_n : 1, p->batch > 1, &b->sub_last_len);

    b->nall = p->workers * (1 + p->conns) + p->producers + 1;
    b->all = djs_calloc(b->nall, sizeof(hconn_t *));
    b->workers = djs_calloc(p->workers, sizeof(worker_t));
    b->prod = djs_calloc(p->producers, sizeof(hconn_t *));
    uint32_t k = 0;
    for (uint32_t i = 0; i < b->nall; i++) {
        b->all[i] = djs_calloc(1, sizeof(hconn_t));
        djs_bench_http_init(&b->all[i]->http, on_http_answer, on_http_error);
        b->all[i]->b = b;
    }
    for (uint32_t i = 0; i < p->workers; i++) {
        worker_t *w = &b->workers[i];
        w->b = b;
        w->rep = djs_calloc(p->conns, sizeof(hconn_t *));
        w->poll = b->all[k++];
        w->poll->w = w;
        for (uint32_t r = 0; r < p->conns; r++) {
            w->rep[r] = b->all[k++];
            w->rep[r]->w = w;
        }
    }
    for (uint32_t i = 0; i < p->producers; i++)
        b->prod[i] = b->all[k++];
    b->stats = b->all[k++];
    return b;
}

static void e2e_results(const e2e_t *b, djs__bench_e2e_result_t *out)
{
    uint64_t n = b->n;
    memset(out, 0, sizeof(*out));
    out->ok = !b->failed && b->completed == n;
    if (!out->ok)
        snprintf(out->why, sizeof(out->why), "%.200s (%" PRIu64 " of %" PRIu64 " completed)", b->why, b->completed, n);
    if (out->ok) {
        out->seconds = (double)(b->t_end - b->t0) / 1e9;
        out->jobs_per_s = (double)n / out->seconds;
        out->submit_per_s = (double)n / ((double)(b->t_submit_end - b->t0) / 1e9);
        uint32_t *sent = b->lat_sent;
        djs_bench_percentiles(b->lat_ack, b->nlat, &out->p50_ms, &out->p99_ms);
        djs_bench_percentiles(sent, b->nlat, &out->sent_p50_ms, &out->sent_p99_ms);
    }
    out->peak_running_server = b->peak_running_server;
    out->peak_slots_busy = b->peak_slots_busy;
    out->peak_running_client = b->peak_running_client;
    out->refused = b->refused;
    out->polls = b->nreq[OP_POLL];
    out->empty_polls = b->empty_polls;
    out->heartbeats = b->nreq[OP_HEARTBEAT];
    out->reconnects = b->reconnects;
    out->submits = b->nreq[OP_SUBMIT];
    out->starts = b->nreq[OP_START];
    out->completes = b->nreq[OP_COMPLETE];
    out->reports_reqs = b->nreq[OP_REPORTS];
    out->carried_by_polls = b->carried_by_polls;
    out->carried_by_reports = b->carried_by_reports;
    out->errors = b->errors;
}

static void e2e_free(e2e_t *b)
{
    for (uint32_t i = 0; i < b->nall; i++) {
        djs_bench_http_dispose(&b->all[i]->http);
        djs_free(b->all[i]->carry);
        djs_free(b->all[i]);
    }
    for (uint32_t i = 0; i < b->nworkers; i++) {
        djs_free(b->workers[i].rep);
        djs_free(b->workers[i].q);
    }
    djs_free(b->all);
    djs_free(b->workers);
    djs_free(b->prod);
    djs_free(b->holds);
    djs_free(b->jobs);
    djs_free(b->lat_ack);
    djs_free(b->lat_sent);
    djs_free(b->sub_req);
    djs_free(b->sub_last);
    djs_free(b);
}

void djs__bench_e2e_run(const djs__bench_e2e_params_t *p, djs__bench_e2e_result_t *out)
{
    e2e_t *b = e2e_new(p);
    uv_loop_init(&b->loop);
    uv_timer_init(&b->loop, &b->tick);
    uv_timer_init(&b->loop, &b->hold_timer);
    uv_timer_init(&b->loop, &b->stats_timer);
    b->tick.data = b->hold_timer.data = b->stats_timer.data = b;
    uv_timer_start(&b->tick, on_tick, 100, 100);
    if (p->hold_ms > 0)
        uv_timer_start(&b->hold_timer, on_hold_timer, 1, 1);
    connect_next(b);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
    e2e_results(b, out);
    e2e_free(b);
}
