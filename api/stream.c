#include "api/stream.h"

#include <h2o/websocket.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/jtext.h"
#include "api/render.h"
#include "core/alloc.h"
#include "core/bodies.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/job.h"
#include "projections/jobview.h"

#define PROTOCOL_VERSION 1
#define SCAN_CHUNK 512         /* events read per scan while feeding */
#define RING 4096              /* shared renderings kept, per stream kind */
#define MAX_RECV_MSG 4096      /* clients only send control frames and small texts */
#define CLOSE_GRACE_MS 1000    /* a close frame that cannot be sent: drop the connection */
#define CHUNK_EVENTS 1024      /* events per window chunk */
#define CHUNK_BYTES 65536      /* framed bytes per window chunk (a chunk ends past it) */
#define WINDOW_MAX_BUILD 16384 /* a burst longer than this starts the window afresh */
#define MAX_IOV 16             /* window pieces per write */

enum { FMT_JSON = 0, FMT_MSGPACK = 1 };

/* One shared rendering: the text of event `seq` for one stream kind, plus
 * what the filters need. */
typedef struct frame {
    uint64_t seq;
    uint16_t type;
    int8_t status; /* job-updates: the new status (-1 none) */
    uint8_t skip;  /* this event yields no message of this kind */
    djs_id_t entity;
    char *owner; /* job-updates: the job's owner */
    djs_buf_t text;
} frame_t;

/* ---- windows ----
 *
 * A window is the recent tail of the log already framed for one kind of
 * WebSocket stream: chunks of consecutive events, each event's frame bytes
 * (empty when the event yields no message of that kind) and what the
 * filters need. Built once per durable batch, whatever the number of
 * subscribers. A subscriber without filters whose cursor is inside the
 * window is sent straight from the chunks (its write points into them and
 * holds a reference until done: no copy, no per-event work); one with
 * filters copies the frames it wants; one behind the window reads the log
 * (catch-up) until it reaches it. The window keeps window_bytes: a live
 * subscriber that falls further behind is back in catch-up, reading the
 * log at its own pace. */
enum { V_EVENTS, V_EVENTS_MSGPACK, V_JOBS, V_WORKERS, NVARIANTS };

typedef struct meta {
    uint16_t type;
    int8_t status; /* job-updates: the new status (-1 none) */
    uint8_t skip;
    uint32_t owner; /* job-updates: offset of the owner (NUL-terminated) in strs */
    djs_id_t entity;
} meta_t;

typedef struct chunk chunk_t;
struct chunk {
    chunk_t *prev, *next;
    int refs; /* the window's, and one per write in flight that points into it */
    uint64_t first;
    uint32_t n;
    uint32_t off[CHUNK_EVENTS + 1]; /* event i's frame: data[off[i], off[i + 1]) */
    meta_t meta[CHUNK_EVENTS];
    djs_buf_t data, strs;
};

typedef struct window {
    chunk_t *head, *tail;
    uint64_t first, next; /* events [first, next) are framed; next == 0: no window */
    size_t bytes;
    uint32_t subs; /* WebSocket subscribers of this variant */
} window_t;

typedef struct sub sub_t;

struct djs_streams {
    djs_streams_config_t cfg;
    uv_loop_t *loop;
    djs_engine_t *engine;
    djs_log_t *log;
    djs_log_tail_t tail;
    uv_check_t check; /* after each I/O round: feed the subscribers that want more */
    uv_timer_t ping;
    uv_timer_t grace; /* after shutdown: drop what did not close */
    uv_timer_t batch; /* live delivery: at most once per batch_ms */
    sub_t *subs;      /* every live subscriber */
    sub_t *dead;      /* closed, freed from the check handle */
    uint32_t nsubs;
    uint64_t dropped; /* subscribers dropped as too slow or silent */
    int closing;
    int handles; /* open uv handles, for the final free */
    int freed;
    frame_t *rings[DJS_STREAM_SYSTEM_METRICS + 1];
    window_t win[NVARIANTS];
};

struct sub {
    djs_streams_t *ss;
    sub_t *prev, *next;
    int kind, format, sse;
    h2o_websocket_conn_t *ws;
    /* SSE */
    h2o_req_t *req;
    h2o_generator_t gen;
    djs_buf_t pending, inflight;
    chunk_t *held[MAX_IOV]; /* a write from the window in flight */
    int nheld;
    size_t held_bytes;
    int sending, finishing;
    /* cursor and filters */
    uint64_t next_seq;
    uint8_t types[32];
    int has_types, has_entity, status;
    djs_id_t entity;
    char owner[256];
    /* liveness */
    uint64_t last_seen_ns, stalled_since_ns;
    size_t last_queued;
    uv_timer_t timer; /* system-metrics */
    int timer_on;
    uint64_t metrics_ns, metrics_completed, metrics_failed, metrics_seq;
    uint32_t interval_ms;
    int wanting, dead;
};

static uint64_t now_ns(djs_streams_t *ss)
{
    return uv_now(ss->loop) * 1000000ULL;
}

/* ---- shared renderings -------------------------------------------------------------------- */

static char *dump(json_t *j, size_t *len)
{
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (t == NULL)
        t = strdup("{}");
    *len = strlen(t);
    return t;
}

static void put_json(djs_buf_t *b, json_t *j)
{
    size_t len;
    char *t = dump(j, &len);
    djs_buf_append(b, t, len);
    free(t);
}

/* An event as /ws/events shows it: written by jtext, by jansson when jtext
 * defers to it; sanitizer builds (the tests) check that both agree. */
static void render_event(const djs_event_t *ev, djs_buf_t *b)
{
    size_t mark = b->len;
    if (djs_jt_event(b, ev) != 0) {
        put_json(b, djs_event_json(ev));
        return;
    }
#ifdef DJS_CHECK_RENDER
    size_t len;
    char *t = dump(djs_event_json(ev), &len);
    if (len != b->len - mark || memcmp(t, b->base + mark, len) != 0) {
        fprintf(stderr, "jtext differs from jansson:\n%.*s\n%s\n", (int)(b->len - mark), (const char *)b->base + mark, t);
        abort();
    }
    free(t);
#else
    (void)mark;
#endif
}

/* The status a job event leads to, its previous status, owner and name,
 * folded from the job's own events up to seq (exact at any point of the
 * log, not only at its head). */
typedef struct fold {
    uint64_t seq;
    int prev;
    djs_job_view_t v;
} fold_t;

static int fold_cb(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    fold_t *f = arg;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0)
        return DJS_ECORRUPT;
    if (seq == f->seq)
        f->prev = f->v.found ? f->v.state : -1;
    f->v.found = 1;
    return djs_job_view_apply(&f->v, &ev, rec, len);
}

static const char *status_name(int st, uint16_t type)
{
    if (type == DJS_EV_JOB_DELETED)
        return "DELETED";
    return st < 0 ? NULL : djs_job_state_name(st);
}

static void render_job_update(djs_streams_t *ss, const djs_event_t *ev, frame_t *f)
{
    if (ev->type >= DJS_EV_JOB_OUTPUT) { /* output is not a status change; workers are not jobs */
        f->skip = 1;
        return;
    }
    fold_t fo;
    memset(&fo, 0, sizeof(fo));
    fo.seq = ev->seq;
    fo.prev = -1;
    djs_job_view_init(&fo.v);
    fo.v.id = ev->entity;
    if (djs_log_scan_entity(ss->log, &ev->entity, 0, ev->seq, fold_cb, &fo) < 0) {
        djs_job_view_dispose(&fo.v);
        f->skip = 1;
        return;
    }
    djs_event_t sub;
    djs_job_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    if (fo.v.submit.len > 0 && djs_event_decode(fo.v.submit.base, fo.v.submit.len, &sub) == 0)
        djs_body_read_job_spec(sub.body, sub.body_len, &sp);
    djs_job_change_t c;
    if (ev->type == DJS_EV_JOB_SUBMITTED || djs_body_read_job_change(ev->body, ev->body_len, &c) != 0)
        memset(&c, 0, sizeof(c));
    json_t *m = json_object();
    json_object_set_new(m, "seq", json_integer((json_int_t)ev->seq));
    json_object_set_new(m, "type", json_string("job.update"));
    json_object_set_new(m, "event", json_string(djs_event_type_name(ev->type)));
    json_object_set_new(m, "at", djs_json_time(ev->ts_ns));
    json_object_set_new(m, "jobId", djs_json_id(&ev->entity));
    json_object_set_new(m, "name", djs_json_str_lossy(sp.name.p ? sp.name.p : "", sp.name.len));
    json_object_set_new(m, "owner", djs_json_str_lossy(sp.owner.p ? sp.owner.p : "", sp.owner.len));
    const char *now = status_name(fo.v.state, ev->type), *before = status_name(fo.prev, 0);
    json_object_set_new(m, "status", now ? json_string(now) : json_null());
    json_object_set_new(m, "previousStatus", before ? json_string(before) : json_null());
    json_object_set_new(m, "worker", djs_id_is_nil(&fo.v.worker) ? json_null() : djs_json_id(&fo.v.worker));
    json_object_set_new(m, "attempt", json_integer(fo.v.attempt));
    json_object_set_new(m, "progress", json_integer(fo.v.percent));
    if (c.step.len > 0)
        json_object_set_new(m, "currentStep", djs_json_str_lossy(c.step.p, c.step.len));
    if (c.error.len > 0)
        json_object_set_new(m, "error", djs_json_str_lossy(c.error.p, c.error.len));
    json_object_set_new(m, "actor", djs_json_str_lossy(ev->actor, ev->actor_len));
    f->status = (int8_t)(ev->type == DJS_EV_JOB_DELETED ? -1 : fo.v.state);
    f->owner = djs_malloc(sp.owner.len + 1);
    if (sp.owner.len > 0)
        memcpy(f->owner, sp.owner.p, sp.owner.len);
    f->owner[sp.owner.len] = '\0';
    put_json(&f->text, m);
    djs_job_view_dispose(&fo.v);
}

static const char *worker_status_of(uint16_t type)
{
    switch (type) {
    case DJS_EV_WORKER_DRAINING:
        return "DRAINING";
    case DJS_EV_WORKER_LOST:
        return "LOST";
    case DJS_EV_WORKER_DEREGISTERED:
        return "GONE";
    }
    return "ACTIVE";
}

static void render_worker(djs_streams_t *ss, const djs_event_t *ev, frame_t *f)
{
    djs_worker_info_t w;
    if (ev->type < DJS_EV_WORKER_REGISTERED || ev->type > DJS_EV_WORKER_DEREGISTERED ||
        djs_body_read_worker(ev->body, ev->body_len, &w) != 0) {
        f->skip = 1;
        return;
    }
    json_t *m = json_object();
    json_object_set_new(m, "seq", json_integer((json_int_t)ev->seq));
    json_object_set_new(m, "type", json_string("worker.update"));
    json_object_set_new(m, "event", json_string(djs_event_type_name(ev->type)));
    json_object_set_new(m, "at", djs_json_time(ev->ts_ns));
    json_object_set_new(m, "workerId", djs_json_id(&ev->entity));
    const djs_worker_t *cur = djs_state_worker(djs_engine_state(ss->engine), &ev->entity);
    if (w.name.len > 0)
        json_object_set_new(m, "name", djs_json_str_lossy(w.name.p, w.name.len));
    else if (cur != NULL)
        json_object_set_new(m, "name", json_string(cur->name));
    json_object_set_new(m, "status", json_string(worker_status_of(ev->type)));
    if (w.has_slots)
        json_object_set_new(m, "slots", json_integer(w.slots));
    if (w.has_load) {
        json_object_set_new(m, "cpu", json_real(w.cpu_pm / 1000.0));
        json_object_set_new(m, "memory", json_real(w.mem_pm / 1000.0));
        json_object_set_new(m, "responseMs", json_integer(w.resp_ms));
        json_object_set_new(m, "running", json_integer(w.running));
    }
    json_object_set_new(m, "actor", djs_json_str_lossy(ev->actor, ev->actor_len));
    put_json(&f->text, m);
}

/* The rendering of one event for a stream kind, made once and shared. */
static const frame_t *frame_of(djs_streams_t *ss, int kind, const djs_event_t *ev)
{
    if (ss->rings[kind] == NULL)
        ss->rings[kind] = djs_calloc(RING, sizeof(frame_t));
    frame_t *f = &ss->rings[kind][ev->seq % RING];
    if (f->seq == ev->seq && f->seq != 0)
        return f;
    djs_buf_t text = f->text; /* its memory is reused */
    djs_buf_reset(&text);
    djs_free(f->owner);
    memset(f, 0, sizeof(*f));
    f->text = text;
    f->seq = ev->seq;
    f->type = ev->type;
    f->entity = ev->entity;
    f->status = -1;
    if (kind == DJS_STREAM_EVENTS)
        render_event(ev, &f->text);
    else if (kind == DJS_STREAM_JOB_UPDATES)
        render_job_update(ss, ev, f);
    else
        render_worker(ss, ev, f);
    return f;
}

/* ---- sending ------------------------------------------------------------------------------ */

/* Bytes waiting for the peer: framed data not yet written (pending), being
 * written (inflight, or held in window chunks), and wslay's control frames. */
static size_t queued(sub_t *s)
{
    size_t n = s->pending.len + s->inflight.len + s->held_bytes;
    if (!s->sse)
        n += wslay_event_get_queued_msg_length(s->ws->ws_ctx);
    return n;
}

static int room(sub_t *s)
{
    return queued(s) < s->ss->cfg.queue_bytes;
}

/* A server data frame (FIN, unmasked) around len bytes, into out. Data
 * frames do not go through wslay: h2o 2.2's wslay send callback writes one
 * piece (a header, a payload) per socket write and waits for it, two
 * syscalls and a loop turn per message; framing here lets one write carry
 * every frame queued since the last. Control frames (ping, pong, close)
 * stay with wslay, which writes only when the socket is idle. */
static void ws_frame(djs_buf_t *out, int opcode, const void *data, size_t len)
{
    uint8_t h[10];
    size_t hl = 2;
    h[0] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        h[1] = (uint8_t)len;
    } else if (len < 65536) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    djs_buf_append(out, h, hl);
    djs_buf_append(out, data, len);
}

static void ws_queue(sub_t *s, int opcode, const void *data, size_t len)
{
    struct wslay_event_msg m = {(uint8_t)opcode, data, len};
    wslay_event_queue_msg(s->ws->ws_ctx, &m);
}

/* Queue one message (JSON text, or the raw record in msgpack format). */
static void send_msg(sub_t *s, uint64_t seq, const char *event, const void *data, size_t len, int binary)
{
    if (!s->sse) {
        ws_frame(&s->pending, binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME, data, len);
        return;
    }
    char head[96];
    int n = seq > 0 ? snprintf(head, sizeof(head), "id: %" PRIu64 "\nevent: %s\ndata: ", seq, event)
                    : snprintf(head, sizeof(head), "event: %s\ndata: ", event);
    djs_buf_append(&s->pending, head, (size_t)n);
    djs_buf_append(&s->pending, data, len); /* JSON text: one line */
    djs_buf_append(&s->pending, "\n\n", 2);
}

static void sse_flush(sub_t *s);

static void on_ws(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg);
static void feed(sub_t *s);
static void want(sub_t *s);

static void release_held(sub_t *s);

static void on_ws_written(h2o_socket_t *sock, const char *err)
{
    h2o_websocket_conn_t *conn = sock->data;
    sub_t *s = conn->data;
    if (err != NULL) {
        on_ws(conn, NULL); /* closes */
        return;
    }
    djs_buf_reset(&s->inflight);
    release_held(s);
    feed(s); /* reads on from the log if there is more, and flushes */
}

static void ws_flush(sub_t *s)
{
    h2o_socket_t *sock = s->ws->sock;
    if (sock == NULL) { /* the 101 is not out yet: look again after the next I/O */
        want(s);
        return;
    }
    if (s->pending.len > 0 && !h2o_socket_is_writing(sock)) {
        djs_buf_t t = s->inflight; /* swap: the written bytes stay until on_ws_written */
        s->inflight = s->pending;
        s->pending = t;
        djs_buf_reset(&s->pending);
        h2o_iovec_t v = h2o_iovec_init(s->inflight.base, s->inflight.len);
        h2o_socket_write(sock, &v, 1, on_ws_written);
    } else if (s->pending.len > 0) {
        want(s); /* wslay is writing a control frame: try again after it */
    }
    if (!h2o_socket_is_writing(sock))
        h2o_websocket_proceed(s->ws); /* control frames, reads; may close: then s->dead is set, s stays allocated */
}

static void flush(sub_t *s)
{
    if (s->dead)
        return;
    if (s->sse)
        sse_flush(s);
    else
        ws_flush(s);
}

/* The filters: on what the record says (type, entity), then on what its
 * rendering found (no message of this kind, the job's owner and status). */
static int wants_event(const sub_t *s, uint16_t type, const djs_id_t *entity)
{
    if (s->has_entity && djs_id_cmp(entity, &s->entity) != 0)
        return 0;
    if (s->kind == DJS_STREAM_EVENTS)
        return !s->has_types || (s->types[type / 8] & (1u << (type % 8)));
    if (s->kind == DJS_STREAM_JOB_UPDATES)
        return type < DJS_EV_JOB_OUTPUT;
    return type >= DJS_EV_WORKER_REGISTERED && type <= DJS_EV_WORKER_DEREGISTERED;
}

static int wants_frame(const sub_t *s, int skip, const char *owner, int status)
{
    return !skip && (s->owner[0] == '\0' || (owner != NULL && strcmp(owner, s->owner) == 0)) &&
           (s->status < 0 || status == s->status);
}

static int unfiltered(const sub_t *s)
{
    return !s->has_types && !s->has_entity && s->owner[0] == '\0' && s->status < 0;
}

/* ---- windows (see the top of the file) ----------------------------------------------------- */

static int variant_of(const sub_t *s)
{
    if (s->sse || s->kind == DJS_STREAM_SYSTEM_METRICS)
        return -1;
    if (s->kind == DJS_STREAM_EVENTS)
        return s->format == FMT_MSGPACK ? V_EVENTS_MSGPACK : V_EVENTS;
    return s->kind == DJS_STREAM_JOB_UPDATES ? V_JOBS : V_WORKERS;
}

static const int variant_kind[NVARIANTS] = {DJS_STREAM_EVENTS, DJS_STREAM_EVENTS, DJS_STREAM_JOB_UPDATES, DJS_STREAM_WORKER_STATUS};

static void chunk_release(chunk_t *c)
{
    if (--c->refs > 0)
        return;
    djs_buf_dispose(&c->data);
    djs_buf_dispose(&c->strs);
    djs_free(c);
}

/* Drop the window's chunks (writes in flight keep theirs until done). */
static void window_reset(window_t *w)
{
    while (w->head != NULL) {
        chunk_t *c = w->head;
        w->head = c->next;
        chunk_release(c);
    }
    w->tail = NULL;
    w->first = w->next = 0;
    w->bytes = 0;
}

/* Frame event ev (record rec) at the end of window v. */
static void window_append(djs_streams_t *ss, int v, const djs_event_t *ev, const uint8_t *rec, size_t len)
{
    window_t *w = &ss->win[v];
    chunk_t *c = w->tail;
    if (c == NULL || c->n == CHUNK_EVENTS || c->data.len >= CHUNK_BYTES) {
        c = djs_calloc(1, sizeof(*c));
        c->refs = 1;
        c->first = ev->seq;
        djs_buf_init(&c->data);
        djs_buf_init(&c->strs);
        djs_buf_reserve(&c->data, CHUNK_BYTES + 4096); /* the usual chunk without a move */
        c->prev = w->tail;
        if (w->tail != NULL)
            w->tail->next = c;
        else
            w->head = c;
        w->tail = c;
    }
    meta_t *m = &c->meta[c->n];
    m->type = ev->type;
    m->entity = ev->entity;
    m->status = -1;
    m->skip = 0;
    m->owner = UINT32_MAX;
    size_t before = c->data.len;
    if (v == V_EVENTS_MSGPACK) {
        ws_frame(&c->data, WSLAY_BINARY_FRAME, rec, len);
    } else if (v == V_EVENTS || (v == V_JOBS && ev->type < DJS_EV_JOB_OUTPUT) ||
               (v == V_WORKERS && ev->type >= DJS_EV_WORKER_REGISTERED && ev->type <= DJS_EV_WORKER_DEREGISTERED)) {
        const frame_t *f = frame_of(ss, variant_kind[v], ev);
        m->skip = f->skip;
        m->status = f->status;
        if (f->owner != NULL) {
            m->owner = (uint32_t)c->strs.len;
            djs_buf_append(&c->strs, f->owner, strlen(f->owner) + 1);
        }
        if (!f->skip)
            ws_frame(&c->data, WSLAY_TEXT_FRAME, f->text.base, f->text.len);
    } else {
        m->skip = 1; /* not a message of this kind */
    }
    c->off[++c->n] = (uint32_t)c->data.len;
    w->bytes += c->data.len - before;
    w->next = ev->seq + 1;
}

static int grow_cb(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    djs_streams_t *ss = arg;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0)
        return DJS_ECORRUPT;
    for (int v = 0; v < NVARIANTS; v++)
        if (ss->win[v].subs > 0 && ss->win[v].next == seq)
            window_append(ss, v, &ev, rec, len);
    return 0;
}

/* Bring the windows that have subscribers up to the durable seq, in one
 * pass over the new records; then trim each to window_bytes. */
static void windows_grow(djs_streams_t *ss, uint64_t durable)
{
    uint64_t from = UINT64_MAX;
    for (int v = 0; v < NVARIANTS; v++) {
        window_t *w = &ss->win[v];
        if (w->subs == 0 || w->next == 0 || w->next > durable)
            continue;
        if (durable - w->next >= WINDOW_MAX_BUILD) { /* a long burst: who is behind reads the log */
            window_reset(w);
            w->first = w->next = durable + 1 - WINDOW_MAX_BUILD;
        }
        if (w->next < from)
            from = w->next;
    }
    if (from == UINT64_MAX)
        return;
    if (djs_log_scan(ss->log, from, durable, grow_cb, ss) < 0) {
        fprintf(stderr, "djs: streams: cannot read the event log past seq %" PRIu64 "\n", from);
        for (int v = 0; v < NVARIANTS; v++) /* subscribers read the log themselves, and fail there */
            if (ss->win[v].next != 0 && ss->win[v].next <= durable)
                window_reset(&ss->win[v]);
        return;
    }
    for (int v = 0; v < NVARIANTS; v++) {
        window_t *w = &ss->win[v];
        while (w->bytes > ss->cfg.window_bytes && w->head != w->tail) {
            chunk_t *c = w->head;
            w->head = c->next;
            w->head->prev = NULL;
            w->first = w->head->first;
            w->bytes -= c->data.len;
            chunk_release(c);
        }
    }
}

/* The chunk that holds seq (inside the window): live subscribers are near
 * the tail, so look from there. */
static chunk_t *window_find(window_t *w, uint64_t seq)
{
    chunk_t *c = w->tail;
    while (c != NULL && c->first > seq)
        c = c->prev;
    return c;
}

static void release_held(sub_t *s)
{
    for (int i = 0; i < s->nheld; i++)
        chunk_release(s->held[i]);
    s->nheld = 0;
    s->held_bytes = 0;
}

/* An unfiltered subscriber: write the window's bytes from its cursor on,
 * up to about a queue's worth, straight from the chunks. */
static void window_write(sub_t *s, window_t *w)
{
    h2o_iovec_t iov[MAX_IOV];
    size_t bytes = 0;
    uint64_t seq = s->next_seq;
    for (chunk_t *c = window_find(w, seq); c != NULL && s->nheld < MAX_IOV && bytes < s->ss->cfg.queue_bytes; c = c->next) {
        size_t from = c->off[seq - c->first], to = c->off[c->n];
        if (to > from) {
            iov[s->nheld] = h2o_iovec_init(c->data.base + from, to - from);
            s->held[s->nheld++] = c;
            c->refs++;
            bytes += to - from;
        }
        seq = c->first + c->n;
    }
    s->next_seq = seq;
    if (s->nheld == 0)
        return; /* only events without a message of this kind */
    s->held_bytes = bytes;
    h2o_socket_write(s->ws->sock, iov, (size_t)s->nheld, on_ws_written);
}

/* A subscriber with filters: copy the frames it wants while there is room. */
static void window_copy(sub_t *s, window_t *w)
{
    for (chunk_t *c = window_find(w, s->next_seq); c != NULL && room(s); c = c->next) {
        for (uint32_t i = (uint32_t)(s->next_seq - c->first); i < c->n && room(s); i++) {
            const meta_t *m = &c->meta[i];
            s->next_seq = c->first + i + 1;
            if (wants_event(s, m->type, &m->entity) &&
                wants_frame(s, m->skip, m->owner != UINT32_MAX ? (const char *)c->strs.base + m->owner : NULL, m->status))
                djs_buf_append(&s->pending, c->data.base + c->off[i], c->off[i + 1] - c->off[i]);
        }
    }
}

typedef struct feed_ctx {
    sub_t *s;
    uint64_t last;
    int full;
} feed_ctx_t;

static int feed_cb(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    feed_ctx_t *c = arg;
    sub_t *s = c->s;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0)
        return DJS_ECORRUPT;
    c->last = seq;
    if (!wants_event(s, ev.type, &ev.entity))
        goto next;
    if (s->format == FMT_MSGPACK) {
        send_msg(s, seq, djs_event_type_name(ev.type), rec, len, 1);
        goto next;
    }
    const frame_t *f = frame_of(s->ss, s->kind, &ev);
    if (!wants_frame(s, f->skip, f->owner, f->status))
        goto next;
    send_msg(s, seq, s->kind == DJS_STREAM_EVENTS ? djs_event_type_name(ev.type) : "update", f->text.base, f->text.len, 0);
next:
    if (!room(s)) {
        c->full = 1;
        return 1;
    }
    return 0;
}

static void close_ws(sub_t *s, int code, const char *reason);

/* Send what is durable past the cursor while there is room: from the
 * window when the cursor is inside it, else from the log (catch-up). */
static void feed(sub_t *s)
{
    if (s->dead)
        return;
    if (s->kind == DJS_STREAM_SYSTEM_METRICS) { /* timer-driven: only sends what is queued */
        flush(s);
        return;
    }
    djs_streams_t *ss = s->ss;
    uint64_t durable = djs_log_durable_seq(ss->log);
    int v = variant_of(s);
    window_t *w = v >= 0 && ss->win[v].next != 0 ? &ss->win[v] : NULL;
    for (int round = 0; round < 8 && s->next_seq <= durable && room(s); round++) {
        if (w != NULL && s->next_seq >= w->first && s->next_seq < w->next) {
            if (!unfiltered(s)) {
                window_copy(s, w);
                continue;
            }
            /* straight from the chunks, once what is queued before is out */
            if (s->pending.len == 0 && s->nheld == 0 && s->ws->sock != NULL && !h2o_socket_is_writing(s->ws->sock))
                window_write(s, w);
            break;
        }
        if (w != NULL && s->next_seq >= w->next)
            break; /* ahead of the window: the tail grows it, then feeds */
        uint64_t limit = w != NULL ? w->first - 1 : durable;
        feed_ctx_t c = {s, 0, 0};
        uint64_t to = s->next_seq + SCAN_CHUNK - 1 < limit ? s->next_seq + SCAN_CHUNK - 1 : limit;
        int rc = djs_log_scan(ss->log, s->next_seq, to, feed_cb, &c);
        if (rc < 0) {
            close_ws(s, 1011, "cannot read the event log");
            return;
        }
        s->next_seq = c.last >= s->next_seq ? c.last + 1 : to + 1;
    }
    flush(s);
    if (s->dead || s->next_seq > durable || (w != NULL && s->next_seq >= w->next))
        return; /* nothing more now: the tail feeds it when there is */
    /* more to send: a write of ours in flight feeds it again when done
     * (on_ws_written, sse_proceed); otherwise (no write, or wslay's control
     * frame, whose completion does not call us), and with a full queue to
     * watch for a stall, after this I/O round */
    int ours = s->sse ? s->sending : s->nheld > 0 || s->inflight.len > 0;
    if (!ours || !room(s))
        want(s);
}

static void on_check(uv_check_t *h);

static void want(sub_t *s)
{
    if (s->wanting)
        return;
    s->wanting = 1;
    if (!uv_is_active((uv_handle_t *)&s->ss->check))
        uv_check_start(&s->ss->check, on_check);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void unlink_sub(sub_t *s)
{
    djs_streams_t *ss = s->ss;
    if (s->dead)
        return;
    s->dead = 1;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        ss->subs = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    ss->nsubs--;
    int v = variant_of(s);
    if (v >= 0 && --ss->win[v].subs == 0)
        window_reset(&ss->win[v]); /* nobody left to read it */
    s->next = ss->dead;            /* freed from the check handle, after the current call chain */
    ss->dead = s;
    if (!uv_is_active((uv_handle_t *)&ss->check))
        uv_check_start(&ss->check, on_check);
}

static void on_timer_closed(uv_handle_t *h)
{
    sub_t *s = h->data;
    s->timer_on = 0;
}

static void free_sub(sub_t *s)
{
    release_held(s); /* the connection is closed: its write will not read them */
    djs_buf_dispose(&s->pending);
    djs_buf_dispose(&s->inflight);
    djs_free(s);
}

static void on_ws(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg)
{
    sub_t *s = conn->data;
    if (arg == NULL) { /* closed: h2o's conn goes now, s at the next check */
        if (s->timer_on && !uv_is_closing((uv_handle_t *)&s->timer))
            uv_close((uv_handle_t *)&s->timer, on_timer_closed);
        s->ws = NULL;
        unlink_sub(s);
        h2o_websocket_close(conn);
        return;
    }
    s->last_seen_ns = now_ns(s->ss);
}

static void close_ws(sub_t *s, int code, const char *reason)
{
    if (s->dead)
        return;
    if (s->sse) {
        s->finishing = 1;
        sse_flush(s);
        return;
    }
    wslay_event_queue_close(s->ws->ws_ctx, (uint16_t)code, (const uint8_t *)reason, strlen(reason));
    flush(s);
}

/* Drop the connection without a close handshake (a peer that does not read). */
static void drop_ws(sub_t *s)
{
    if (s->dead || s->sse)
        return;
    h2o_websocket_conn_t *conn = s->ws;
    if (s->timer_on && !uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    /* a reset, not a FIN queued behind data the peer will never read */
    int fd = conn->sock != NULL ? h2o_socket_get_fd(conn->sock) : -1;
    if (fd >= 0) {
        struct linger l = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    s->ws = NULL;
    unlink_sub(s);
    h2o_websocket_close(conn);
}

static void on_check(uv_check_t *h)
{
    djs_streams_t *ss = h->data;
    uint64_t now = now_ns(ss);
    for (sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (!s->wanting)
            continue;
        /* stall: the queue stayed full and did not shrink for stall_ms */
        size_t q = queued(s);
        if (!room(s)) {
            if (q < s->last_queued || s->stalled_since_ns == 0)
                s->stalled_since_ns = now;
            s->last_queued = q;
            if (now - s->stalled_since_ns > (uint64_t)ss->cfg.stall_ms * 1000000ULL) {
                fprintf(stderr, "djs: stream subscriber too slow (no progress for %u ms): closing it\n", ss->cfg.stall_ms);
                ss->dropped++;
                drop_ws(s);
            }
            continue;
        }
        s->stalled_since_ns = 0;
        s->wanting = 0;
        feed(s);
    }
    while (ss->dead != NULL) {
        sub_t *s = ss->dead;
        if (s->timer_on) /* its timer is still closing: next round */
            break;
        ss->dead = s->next;
        free_sub(s);
    }
    /* A check handle does not keep the loop from blocking: with only stalled
     * subscribers left it runs again on the next I/O or timer (at worst the
     * ping), which is when their queues can have moved. */
    int any = ss->dead != NULL;
    for (sub_t *s = ss->subs; s != NULL && !any; s = s->next)
        any = s->wanting;
    if (!any)
        uv_check_stop(&ss->check);
}

/* ---- SSE ---------------------------------------------------------------------------------- */

static void sse_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    sub_t *s = (sub_t *)((char *)g - offsetof(sub_t, gen));
    s->sending = 0;
    djs_buf_reset(&s->inflight);
    if (s->finishing && s->pending.len == 0) {
        s->req = NULL;
        unlink_sub(s);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    feed(s);
    sse_flush(s);
}

static void sse_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    sub_t *s = (sub_t *)((char *)g - offsetof(sub_t, gen));
    s->req = NULL;
    unlink_sub(s);
}

static void sse_flush(sub_t *s)
{
    if (s->dead || s->sending || s->req == NULL)
        return;
    if (s->pending.len == 0) {
        if (s->finishing) {
            h2o_req_t *req = s->req;
            s->req = NULL;
            unlink_sub(s);
            h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        }
        return;
    }
    djs_buf_t t = s->inflight; /* swap: send pending, keep its bytes until proceed */
    s->inflight = s->pending;
    s->pending = t;
    djs_buf_reset(&s->pending);
    s->sending = 1;
    h2o_iovec_t v = h2o_iovec_init(s->inflight.base, s->inflight.len);
    h2o_send(s->req, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* ---- system metrics ------------------------------------------------------------------------ */

static void send_metrics(sub_t *s)
{
    djs_streams_t *ss = s->ss;
    const djs_metrics_t *m = djs_state_metrics(djs_engine_state(ss->engine));
    uint64_t now = now_ns(ss), seq = djs_log_durable_seq(ss->log);
    double dt = s->metrics_ns ? (now - s->metrics_ns) / 1e9 : 0;
    json_t *j = json_object();
    json_object_set_new(j, "seq", json_integer((json_int_t)seq));
    json_object_set_new(j, "type", json_string("metrics"));
    char at[40];
    djs_render_iso8601(at, sizeof(at), djs_log_last_ts(ss->log));
    json_object_set_new(j, "at", json_string(at));
    json_t *jobs = json_object();
    for (int st = 0; st < DJS_JOB_NSTATES; st++)
        json_object_set_new(jobs, djs_job_state_name(st), json_integer((json_int_t)m->by_state[st]));
    json_object_set_new(j, "jobs", jobs);
    json_object_set_new(j, "active", json_integer((json_int_t)(m->by_state[DJS_JOB_SCHEDULED] + m->by_state[DJS_JOB_RUNNING])));
    json_t *ready = json_object();
    for (int p = 0; p < DJS_NPRIO; p++)
        json_object_set_new(ready, djs_priority_name(p), json_integer((json_int_t)m->ready[p]));
    json_object_set_new(j, "queued", ready);
    json_object_set_new(j, "completedPerSec", json_real(dt > 0 ? (double)(m->completed - s->metrics_completed) / dt : 0));
    json_object_set_new(j, "failedPerSec", json_real(dt > 0 ? (double)(m->failed - s->metrics_failed) / dt : 0));
    json_object_set_new(j, "eventsPerSec", json_real(dt > 0 ? (double)(seq - s->metrics_seq) / dt : 0));
    json_object_set_new(j, "workersActive", json_integer((json_int_t)m->workers_active));
    json_object_set_new(j, "slotsTotal", json_integer((json_int_t)m->slots_total));
    json_object_set_new(j, "slotsBusy", json_integer((json_int_t)m->slots_busy));
    json_object_set_new(j, "subscribers", json_integer(ss->nsubs));
    s->metrics_ns = now;
    s->metrics_completed = m->completed;
    s->metrics_failed = m->failed;
    s->metrics_seq = seq;
    size_t len;
    char *text = dump(j, &len);
    if (room(s)) /* a slow reader skips snapshots rather than queueing them */
        send_msg(s, seq, "metrics", text, len, 0);
    free(text);
    flush(s);
}

static void on_metrics_timer(uv_timer_t *t)
{
    send_metrics(t->data);
}

/* ---- pings and liveness ---------------------------------------------------------------------- */

static void on_ping(uv_timer_t *t)
{
    djs_streams_t *ss = t->data;
    uint64_t now = now_ns(ss), limit = 3ULL * ss->cfg.ping_ms * 1000000ULL;
    for (sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (s->sse) {
            if (room(s)) {
                djs_buf_append(&s->pending, ": ping\n\n", 8);
                sse_flush(s);
            }
            continue;
        }
        if (now - s->last_seen_ns > limit) {
            fprintf(stderr, "djs: stream peer silent for %" PRIu64 " ms: closing it\n", (now - s->last_seen_ns) / 1000000);
            ss->dropped++;
            drop_ws(s);
            continue;
        }
        ws_queue(s, WSLAY_PING, "djs", 3);
        flush(s);
    }
}

/* Feed every subscriber that waits for new events (the others are fed
 * as their writes complete, or from the check handle). */
static void deliver(djs_streams_t *ss)
{
    uint64_t durable = djs_log_durable_seq(ss->log);
    for (sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (!s->wanting && s->next_seq <= durable)
            feed(s);
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
    windows_grow(ss, durable);
    if (ss->cfg.batch_ms == 0)
        deliver(ss);
    else if (!uv_is_active((uv_handle_t *)&ss->batch))
        uv_timer_start(&ss->batch, on_batch, ss->cfg.batch_ms, 0);
}

/* ---- opening --------------------------------------------------------------------------------- */

/* Answer 400 with a formatted detail. */
#define bad(detail, n, ...) (snprintf((detail), (n), __VA_ARGS__), 400)

static int parse_types(sub_t *s, const char *v, size_t len, char *detail, size_t dn)
{
    s->has_types = 1;
    for (const char *p = v, *end = v + len; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        int t = djs_event_type_from_name(p, (size_t)(stop - p));
        if (t < 0 || t >= 256) {
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)(stop - p < 40 ? stop - p : 40), p);
            return bad(detail, dn, "types: '%s' is not an event type (docs/events.md)", name);
        }
        s->types[t / 8] |= (uint8_t)(1u << (t % 8));
        p = stop + 1;
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
static int read_params(djs_streams_t *ss, h2o_req_t *req, const djs_principal_t *who, sub_t *s, char *detail, size_t dn)
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
            s->format = FMT_MSGPACK;
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

static void send_hello(sub_t *s)
{
    json_t *j = json_pack("{s:s, s:i, s:s, s:I, s:I, s:s}", "type", "hello", "protocol", PROTOCOL_VERSION, "stream",
                          kind_name(s->kind), "fromSeq", (json_int_t)s->next_seq, "durableSeq",
                          (json_int_t)djs_log_durable_seq(s->ss->log), "format", s->format == FMT_MSGPACK ? "msgpack" : "json");
    size_t len;
    char *text = dump(j, &len);
    send_msg(s, 0, "hello", text, len, 0);
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
    sub_t *s = djs_calloc(1, sizeof(*s));
    s->ss = ss;
    s->kind = kind;
    s->sse = sse;
    djs_buf_init(&s->pending);
    djs_buf_init(&s->inflight);
    int st = read_params(ss, req, who, s, detail, detail_len);
    if (st != 0) {
        free_sub(s);
        return st;
    }
    s->last_seen_ns = now_ns(ss);
    int v = variant_of(s);
    if (v >= 0 && ss->win[v].subs++ == 0) { /* the window starts with what becomes durable next */
        ss->win[v].first = ss->win[v].next = djs_log_durable_seq(ss->log) + 1;
    }
    s->next = ss->subs;
    if (ss->subs != NULL)
        ss->subs->prev = s;
    ss->subs = s;
    ss->nsubs++;
    if (sse) {
        s->req = req;
        s->gen.proceed = sse_proceed;
        s->gen.stop = sse_stop;
        req->res.status = 200;
        req->res.reason = "OK";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
        h2o_start_response(req, &s->gen);
        send_hello(s);
        feed(s);
        sse_flush(s);
        return 0;
    }
    s->ws = h2o_upgrade_to_websocket(req, key, s, on_ws);
    wslay_event_config_set_max_recv_msg_length(s->ws->ws_ctx, MAX_RECV_MSG);
    send_hello(s); /* queued; sent once the 101 is out and h2o proceeds */
    if (kind == DJS_STREAM_SYSTEM_METRICS) {
        uv_timer_init(ss->loop, &s->timer);
        s->timer.data = s;
        s->timer_on = 1;
        uv_timer_start(&s->timer, on_metrics_timer, 0, s->interval_ms);
    } else {
        want(s); /* the first feed runs once the upgrade completed (ws->sock set) */
    }
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
    for (sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        drop_ws(s);
    }
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
    ss->handles = 4;
    uv_timer_start(&ss->ping, on_ping, ss->cfg.ping_ms, ss->cfg.ping_ms);
    uv_unref((uv_handle_t *)&ss->ping);
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
    for (sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        close_ws(s, 1001, "server shutting down");
    }
    uv_timer_start(&ss->grace, on_grace, CLOSE_GRACE_MS, 0);
}

static void on_closed(uv_handle_t *h)
{
    djs_streams_t *ss = h->data;
    if (--ss->handles > 0)
        return;
    for (int k = 0; k <= DJS_STREAM_SYSTEM_METRICS; k++) {
        if (ss->rings[k] == NULL)
            continue;
        for (int i = 0; i < RING; i++) {
            djs_buf_dispose(&ss->rings[k][i].text);
            djs_free(ss->rings[k][i].owner);
        }
        djs_free(ss->rings[k]);
    }
    while (ss->dead != NULL) {
        sub_t *s = ss->dead;
        ss->dead = s->next;
        free_sub(s);
    }
    for (int v = 0; v < NVARIANTS; v++)
        window_reset(&ss->win[v]);
    djs_free(ss);
}

void djs_streams_free(djs_streams_t *ss)
{
    if (ss == NULL || ss->freed)
        return;
    ss->freed = 1;
    djs_streams_shutdown(ss);
    while (ss->subs != NULL) { /* SSE requests are gone with their connections by now */
        sub_t *s = ss->subs;
        if (s->sse)
            unlink_sub(s);
        else
            drop_ws(s);
    }
    djs_log_tail_stop(ss->log, &ss->tail);
    uv_close((uv_handle_t *)&ss->check, on_closed);
    uv_close((uv_handle_t *)&ss->ping, on_closed);
    uv_close((uv_handle_t *)&ss->grace, on_closed);
    uv_close((uv_handle_t *)&ss->batch, on_closed);
}
