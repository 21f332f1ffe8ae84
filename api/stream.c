/* The streams object and opening a stream (the rest is in the rooms that
 * stream_internal.h lists): query parameters into a cursor and filters,
 * the hello message, and new durable events from the log's tail framed
 * into the windows and delivered, at once or in batches of batch_ms. */
#include "api/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "api/stream_internal.h"
#include "core/alloc.h"
#include "core/job.h"

#define PROTOCOL_VERSION 1
#define CLOSE_GRACE_MS 1000 /* a close frame that cannot be sent: drop the connection */

/* ---- new durable events ---------------------------------------------------------------------- */

/* Feed every subscriber that waits for new events (the others are fed
 * as their writes complete, or from the check handle). */
static void deliver(djs_streams_t *ss)
{
    uint64_t durable = djs_log_durable_seq(ss->log);
    for (djs__stream_sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (!s->wanting && s->next_seq <= durable)
            djs__stream_feed(s);
    }
}

static void on_batch(uv_timer_t *t)
{
    deliver(t->data);
}

/* New durable events: frame them into the windows now, deliver them at
 * once or, with batch_ms, together with what else becomes durable within
 * batch_ms (one write per subscriber per batch instead of one per group
 * commit: the writes, not the events, are what costs). */
static void on_tail(void *arg, uint64_t durable)
{
    djs_streams_t *ss = arg;
    djs__stream_windows_grow(ss, durable);
    if (ss->cfg.batch_ms == 0)
        deliver(ss);
    else if (!uv_is_active((uv_handle_t *)&ss->batch))
        uv_timer_start(&ss->batch, on_batch, ss->cfg.batch_ms, 0);
}

/* ---- opening --------------------------------------------------------------------------------- */

/* Answer 400 with a formatted detail. */
#define bad(detail, n, ...) (snprintf((detail), (n), __VA_ARGS__), 400)

static int parse_types(djs__stream_sub_t *s, const char *v, size_t len, char *detail, size_t dn)
{
    s->has_types = 1;
    /* the list's commas, as sent or percent-encoded (%2C: browsers'
     * URLSearchParams encode them) */
    for (const char *p = v, *end = v + len; p < end;) {
        const char *stop = p;
        size_t skip = 1;
        while (stop < end && *stop != ',' && !(end - stop >= 3 && stop[0] == '%' && stop[1] == '2' && (stop[2] | 0x20) == 'c'))
            stop++;
        if (stop < end && *stop == '%')
            skip = 3;
        int t = djs_event_type_from_name(p, (size_t)(stop - p));
        if (t < 0 || t >= 256) {
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)(stop - p < 40 ? stop - p : 40), p);
            return bad(detail, dn, "types: '%s' is not an event type (docs/events.md)", name);
        }
        s->types[t / 8] |= (uint8_t)(1u << (t % 8));
        p = stop + skip;
    }
    return 0;
}

static int parse_u64(const char *v, size_t len, uint64_t *out)
{
    uint64_t n = 0;
    if (len == 0 || len > 19)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    *out = n;
    return 0;
}

/* Query parameters -> cursor and filters; 0 or 400 with detail. */
static int read_params(djs_streams_t *ss, h2o_req_t *req, const djs_principal_t *who, djs__stream_sub_t *s, char *detail, size_t dn)
{
    const char *v;
    size_t len;
    uint64_t durable = djs_log_durable_seq(ss->log), n;
    s->next_seq = durable + 1; /* default: live from now */
    s->status = -1;
    if (djs_query_str(req, "from_seq", &v, &len)) {
        if (parse_u64(v, len, &n) != 0 || n == 0)
            return bad(detail, dn, "%s must be a positive integer", "from_seq");
        s->next_seq = n;
    }
    ssize_t h = h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), -1);
    if (h >= 0) { /* SSE resume: the seq after the last one received */
        h2o_iovec_t lv = req->headers.entries[h].value;
        if (parse_u64(lv.base, lv.len, &n) != 0)
            return bad(detail, dn, "%s must be the id (seq) of an event", "Last-Event-ID");
        s->next_seq = n + 1;
    }
    if (djs_query_str(req, "format", &v, &len)) {
        if (len == 7 && memcmp(v, "msgpack", 7) == 0 && s->kind == DJS_STREAM_EVENTS && !s->sse)
            s->format = DJS__STREAM_FMT_MSGPACK;
        else if (!(len == 4 && memcmp(v, "json", 4) == 0))
            return bad(detail, dn, "format must be json%s", s->kind == DJS_STREAM_EVENTS && !s->sse ? " or msgpack" : "");
    }
    if (djs_query_str(req, "types", &v, &len)) {
        if (s->kind != DJS_STREAM_EVENTS)
            return bad(detail, dn, "%s applies to /ws/events only", "types");
        if (parse_types(s, v, len, detail, dn) != 0)
            return 400;
    }
    static const char *const id_params[] = {"entity", "job", "worker"};
    for (int i = 0; i < 3; i++) {
        if (!djs_query_str(req, id_params[i], &v, &len))
            continue;
        if (djs_id_parse(v, len, &s->entity) != 0)
            return bad(detail, dn, "%s must be an id (UUID)", id_params[i]);
        s->has_entity = 1;
    }
    if (djs_query_str(req, "status", &v, &len)) {
        if (s->kind != DJS_STREAM_JOB_UPDATES || (s->status = djs_job_state_parse(v, len)) < 0)
            return bad(detail, dn, "%s must be a job state, on /ws/job-updates", "status");
    }
    if (djs_query_str(req, "owner", &v, &len)) {
        if (s->kind != DJS_STREAM_JOB_UPDATES || len == 0 || len >= sizeof(s->owner))
            return bad(detail, dn, "%s must be a user name, on /ws/job-updates", "owner");
        memcpy(s->owner, v, len);
        s->owner[len] = '\0';
    }
    if (who != NULL && who->role == DJS_ROLE_USER) /* a user sees only its own jobs */
        snprintf(s->owner, sizeof(s->owner), "%s", who->sub);
    s->interval_ms = 1000;
    if (djs_query_str(req, "interval_ms", &v, &len)) {
        if (s->kind != DJS_STREAM_SYSTEM_METRICS || parse_u64(v, len, &n) != 0 || n < 100 || n > 60000)
            return bad(detail, dn, "%s must be 100 to 60000, on /ws/system-metrics", "interval_ms");
        s->interval_ms = (uint32_t)n;
    }
    return 0;
}

static const char *kind_name(int kind)
{
    static const char *const names[] = {"", "events", "job-updates", "worker-status", "system-metrics"};
    return names[kind];
}

static void send_hello(djs__stream_sub_t *s)
{
    json_t *j =
        json_pack("{s:s, s:i, s:s, s:I, s:I, s:s}", "type", "hello", "protocol", PROTOCOL_VERSION, "stream", kind_name(s->kind),
                  "fromSeq", (json_int_t)s->next_seq, "durableSeq", (json_int_t)djs_log_durable_seq(s->ss->log), "format",
                  s->format == DJS__STREAM_FMT_MSGPACK ? "msgpack" : "json");
    size_t len;
    char *text = djs__stream_dump(j, &len);
    djs__stream_send_msg(s, 0, "hello", text, len, 0);
    free(text);
}

int djs_stream_open(djs_streams_t *ss, h2o_req_t *req, const djs_principal_t *who, int kind, int sse, char *detail,
                    size_t detail_len)
{
    if (ss->closing) {
        snprintf(detail, detail_len, "the server is shutting down");
        return 503;
    }
    if (ss->nsubs >= ss->cfg.max_subscribers) {
        snprintf(detail, detail_len, "too many stream subscribers (%u)", ss->cfg.max_subscribers);
        return 503;
    }
    const char *key = NULL;
    if (!sse) {
        if (req->version >= 0x200) {
            snprintf(detail, detail_len, "WebSocket streams need HTTP/1.1 (use the SSE stream over HTTP/2)");
            return 400;
        }
        if (h2o_is_websocket_handshake(req, &key) != 0 || key == NULL) {
            snprintf(detail, detail_len, "this endpoint needs a WebSocket upgrade (GET, Upgrade: websocket, Sec-WebSocket-Key)");
            return 426;
        }
    }
    djs__stream_sub_t *s = djs_calloc(1, sizeof(*s));
    s->ss = ss;
    s->kind = kind;
    s->sse = sse;
    djs_buf_init(&s->pending);
    djs_buf_init(&s->inflight);
    int st = read_params(ss, req, who, s, detail, detail_len);
    if (st != 0) {
        djs__stream_free_sub(s);
        return st;
    }
    s->last_seen_ns = djs__stream_now_ns(ss);
    int v = djs__stream_variant_of(s);
    if (v >= 0 && ss->win[v].subs++ == 0) { /* the window starts with what becomes durable next */
        ss->win[v].first = ss->win[v].next = djs_log_durable_seq(ss->log) + 1;
    }
    s->next = ss->subs;
    if (ss->subs != NULL)
        ss->subs->prev = s;
    ss->subs = s;
    ss->nsubs++;
    if (sse) {
        djs__stream_sse_start(s, req);
        send_hello(s);
        djs__stream_feed(s);
        djs__stream_flush(s);
        return 0;
    }
    djs__stream_ws_start(s, req, key);
    send_hello(s); /* queued; sent once the 101 is out and h2o proceeds */
    if (kind == DJS_STREAM_SYSTEM_METRICS)
        djs__stream_metrics_start(s);
    else
        djs__stream_want(s); /* the first feed runs once the upgrade completed (ws->sock set) */
    return 0;
}

/* ---- the streams object ------------------------------------------------------------------------ */

void djs_streams_config_init(djs_streams_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->ping_ms = 15000;
    c->stall_ms = 30000;
    c->queue_bytes = 256 * 1024;
    c->max_subscribers = 10000;
    c->batch_ms = 10;
    c->window_bytes = 8u << 20;
}

/* After shutdown: whoever did not finish the close handshake is dropped. */
static void on_grace(uv_timer_t *t)
{
    djs_streams_t *ss = t->data;
    for (djs__stream_sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        djs__stream_drop(s);
    }
}

/* Once a second: one more sample of the last hour's (the oldest drops). */
static void on_hist_timer(uv_timer_t *t)
{
    djs_streams_t *ss = t->data;
    size_t len;
    char *text = djs__metrics_sample(ss, &ss->hist_prev, &len);
    uint32_t at = (ss->hist_head + ss->hist_n) % DJS_STREAM_HISTORY_SAMPLES;
    if (ss->hist_n == DJS_STREAM_HISTORY_SAMPLES) {
        free(ss->hist[ss->hist_head]);
        ss->hist_head = (ss->hist_head + 1) % DJS_STREAM_HISTORY_SAMPLES;
    } else {
        ss->hist_n++;
    }
    ss->hist[at] = text;
}

void djs_streams_metrics_history(const djs_streams_t *ss, uint32_t seconds, djs_buf_t *out)
{
    djs_buf_append(out, "{\"intervalMs\":1000,\"samples\":[", 30);
    uint32_t n = ss->hist_n < seconds ? ss->hist_n : seconds;
    for (uint32_t i = ss->hist_n - n; i < ss->hist_n; i++) {
        const char *t = ss->hist[(ss->hist_head + i) % DJS_STREAM_HISTORY_SAMPLES];
        if (i > ss->hist_n - n)
            djs_buf_append(out, ",", 1);
        djs_buf_append(out, t, strlen(t));
    }
    djs_buf_append(out, "]}", 2);
}

int djs_streams_new(djs_streams_t **out, uv_loop_t *loop, djs_engine_t *engine, const djs_streams_config_t *c)
{
    djs_streams_t *ss = djs_calloc(1, sizeof(*ss));
    if (c != NULL)
        ss->cfg = *c;
    else
        djs_streams_config_init(&ss->cfg);
    ss->loop = loop;
    ss->engine = engine;
    ss->log = djs_engine_log(engine);
    uv_check_init(loop, &ss->check);
    ss->check.data = ss;
    uv_timer_init(loop, &ss->ping);
    ss->ping.data = ss;
    uv_timer_init(loop, &ss->grace);
    ss->grace.data = ss;
    uv_timer_init(loop, &ss->batch);
    ss->batch.data = ss;
    uv_timer_init(loop, &ss->hist_timer);
    ss->hist_timer.data = ss;
    ss->handles = 5;
    uv_timer_start(&ss->ping, djs__stream_on_ping, ss->cfg.ping_ms, ss->cfg.ping_ms);
    uv_unref((uv_handle_t *)&ss->ping);
    free(djs__metrics_sample(ss, &ss->hist_prev, &(size_t){0})); /* the rates' starting point */
    uv_timer_start(&ss->hist_timer, on_hist_timer, 1000, 1000);
    uv_unref((uv_handle_t *)&ss->hist_timer);
    djs_log_tail_start(ss->log, &ss->tail, on_tail, ss);
    *out = ss;
    return 0;
}

uint32_t djs_streams_count(const djs_streams_t *ss)
{
    return ss->nsubs;
}

uint64_t djs_streams_dropped(const djs_streams_t *ss)
{
    return ss->dropped;
}

void djs_streams_shutdown(djs_streams_t *ss)
{
    if (ss == NULL || ss->closing)
        return;
    ss->closing = 1;
    for (djs__stream_sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        djs__stream_close(s, 1001, "server shutting down");
    }
    uv_timer_start(&ss->grace, on_grace, CLOSE_GRACE_MS, 0);
}

static void on_closed(uv_handle_t *h)
{
    djs_streams_t *ss = h->data;
    if (--ss->handles > 0)
        return;
    djs__stream_rings_dispose(ss);
    for (uint32_t i = 0; i < ss->hist_n; i++)
        free(ss->hist[(ss->hist_head + i) % DJS_STREAM_HISTORY_SAMPLES]);
    ss->hist_n = 0;
    while (ss->dead != NULL) {
        djs__stream_sub_t *s = ss->dead;
        ss->dead = s->next;
        djs__stream_free_sub(s);
    }
    for (int v = 0; v < DJS__STREAM_NVARIANTS; v++)
        djs__stream_window_reset(&ss->win[v]);
    djs_free(ss);
}

void djs_streams_free(djs_streams_t *ss)
{
    if (ss == NULL || ss->freed)
        return;
    ss->freed = 1;
    djs_streams_shutdown(ss);
    while (ss->subs != NULL) { /* SSE requests are gone with their connections by now */
        djs__stream_sub_t *s = ss->subs;
        if (s->sse)
            djs__stream_unlink(s);
        else
            djs__stream_drop(s);
    }
    djs_log_tail_stop(ss->log, &ss->tail);
    uv_close((uv_handle_t *)&ss->check, on_closed);
    uv_close((uv_handle_t *)&ss->ping, on_closed);
    uv_close((uv_handle_t *)&ss->grace, on_closed);
    uv_close((uv_handle_t *)&ss->batch, on_closed);
    uv_close((uv_handle_t *)&ss->hist_timer, on_closed);
}
