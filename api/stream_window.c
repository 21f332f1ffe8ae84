/* The live windows (see stream_internal.h): the log's recent tail framed
 * once per durable batch, per WebSocket stream variant, into
 * reference-counted chunks that unfiltered subscribers' writes point into. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/stream_internal.h"
#include "core/alloc.h"
#include "core/error.h"

#define CHUNK_EVENTS 1024      /* events per window chunk */
#define CHUNK_BYTES 65536      /* framed bytes per window chunk (a chunk ends past it) */
#define WINDOW_MAX_BUILD 16384 /* a burst longer than this starts the window afresh */

/* What the filters need of one framed event. */
typedef struct meta {
    uint16_t type;
    int8_t status; /* job-updates: the new status (-1 none) */
    uint8_t skip;
    uint32_t owner; /* job-updates: offset of the owner (NUL-terminated) in strs */
    djs_id_t entity;
} meta_t;

/* Consecutive framed events; freed with its last reference. */
struct djs__stream_chunk {
    djs__stream_chunk_t *prev, *next;
    int refs; /* the window's, and one per write in flight that points into it */
    uint64_t first;
    uint32_t n;
    uint32_t off[CHUNK_EVENTS + 1]; /* event i's frame: data[off[i], off[i + 1]) */
    meta_t meta[CHUNK_EVENTS];
    djs_buf_t data, strs;
};

int djs__stream_variant_of(const djs__stream_sub_t *s)
{
    if (s->sse || s->kind == DJS_STREAM_SYSTEM_METRICS)
        return -1;
    if (s->kind == DJS_STREAM_EVENTS)
        return s->format == DJS__STREAM_FMT_MSGPACK ? DJS__STREAM_V_EVENTS_MSGPACK : DJS__STREAM_V_EVENTS;
    return s->kind == DJS_STREAM_JOB_UPDATES ? DJS__STREAM_V_JOBS : DJS__STREAM_V_WORKERS;
}

static const int variant_kind[DJS__STREAM_NVARIANTS] = {DJS_STREAM_EVENTS, DJS_STREAM_EVENTS, DJS_STREAM_JOB_UPDATES,
                                                        DJS_STREAM_WORKER_STATUS};

static void chunk_release(djs__stream_chunk_t *c)
{
    if (--c->refs > 0)
        return;
    djs_buf_dispose(&c->data);
    djs_buf_dispose(&c->strs);
    djs_free(c);
}

void djs__stream_window_reset(djs__stream_window_t *w)
{
    while (w->head != NULL) {
        djs__stream_chunk_t *c = w->head;
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
    djs__stream_window_t *w = &ss->win[v];
    djs__stream_chunk_t *c = w->tail;
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
    if (v == DJS__STREAM_V_EVENTS_MSGPACK) {
        djs__stream_ws_frame(&c->data, WSLAY_BINARY_FRAME, rec, len);
    } else if (v == DJS__STREAM_V_EVENTS || (v == DJS__STREAM_V_JOBS && ev->type < DJS_EV_JOB_OUTPUT) ||
               (v == DJS__STREAM_V_WORKERS && ev->type >= DJS_EV_WORKER_REGISTERED && ev->type <= DJS_EV_WORKER_DEREGISTERED)) {
        const djs__stream_frame_t *f = djs__stream_frame_of(ss, variant_kind[v], ev);
        m->skip = f->skip;
        m->status = f->status;
        if (f->owner != NULL) {
            m->owner = (uint32_t)c->strs.len;
            djs_buf_append(&c->strs, f->owner, strlen(f->owner) + 1);
        }
        if (!f->skip)
            djs__stream_ws_frame(&c->data, WSLAY_TEXT_FRAME, f->text.base, f->text.len);
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
    for (int v = 0; v < DJS__STREAM_NVARIANTS; v++)
        if (ss->win[v].subs > 0 && ss->win[v].next == seq)
            window_append(ss, v, &ev, rec, len);
    return 0;
}

/* One pass over the new records for every window that has subscribers. */
void djs__stream_windows_grow(djs_streams_t *ss, uint64_t durable)
{
    uint64_t from = UINT64_MAX;
    for (int v = 0; v < DJS__STREAM_NVARIANTS; v++) {
        djs__stream_window_t *w = &ss->win[v];
        if (w->subs == 0 || w->next == 0 || w->next > durable)
            continue;
        if (durable - w->next >= WINDOW_MAX_BUILD) { /* a long burst: who is behind reads the log */
            djs__stream_window_reset(w);
            w->first = w->next = durable + 1 - WINDOW_MAX_BUILD;
        }
        if (w->next < from)
            from = w->next;
    }
    if (from == UINT64_MAX)
        return;
    if (djs_log_scan(ss->log, from, durable, grow_cb, ss) < 0) {
        fprintf(stderr, "djs: streams: cannot read the event log past seq %" PRIu64 "\n", from);
        for (int v = 0; v < DJS__STREAM_NVARIANTS; v++) /* subscribers read the log themselves, and fail there */
            if (ss->win[v].next != 0 && ss->win[v].next <= durable)
                djs__stream_window_reset(&ss->win[v]);
        return;
    }
    for (int v = 0; v < DJS__STREAM_NVARIANTS; v++) {
        djs__stream_window_t *w = &ss->win[v];
        while (w->bytes > ss->cfg.window_bytes && w->head != w->tail) {
            djs__stream_chunk_t *c = w->head;
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
static djs__stream_chunk_t *window_find(djs__stream_window_t *w, uint64_t seq)
{
    djs__stream_chunk_t *c = w->tail;
    while (c != NULL && c->first > seq)
        c = c->prev;
    return c;
}

void djs__stream_release_held(djs__stream_sub_t *s)
{
    for (int i = 0; i < s->nheld; i++)
        chunk_release(s->held[i]);
    s->nheld = 0;
    s->held_bytes = 0;
}

/* An unfiltered subscriber: write the window's bytes from its cursor on,
 * up to about a queue's worth, straight from the chunks. */
void djs__stream_window_write(djs__stream_sub_t *s, djs__stream_window_t *w)
{
    h2o_iovec_t iov[DJS__STREAM_MAX_IOV];
    size_t bytes = 0;
    uint64_t seq = s->next_seq;
    for (djs__stream_chunk_t *c = window_find(w, seq);
         c != NULL && s->nheld < DJS__STREAM_MAX_IOV && bytes < s->ss->cfg.queue_bytes; c = c->next) {
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
    h2o_socket_write(s->ws->sock, iov, (size_t)s->nheld, djs__stream_on_ws_written);
}

/* A subscriber with filters: copy the frames it wants while there is room. */
void djs__stream_window_copy(djs__stream_sub_t *s, djs__stream_window_t *w)
{
    for (djs__stream_chunk_t *c = window_find(w, s->next_seq); c != NULL && djs__stream_room(s); c = c->next) {
        for (uint32_t i = (uint32_t)(s->next_seq - c->first); i < c->n && djs__stream_room(s); i++) {
            const meta_t *m = &c->meta[i];
            s->next_seq = c->first + i + 1;
            if (djs__stream_wants_event(s, m->type, &m->entity) &&
                djs__stream_wants_frame(s, m->skip, m->owner != UINT32_MAX ? (const char *)c->strs.base + m->owner : NULL,
                                        m->status))
                djs_buf_append(&s->pending, c->data.base + c->off[i], c->off[i + 1] - c->off[i]);
        }
    }
}
