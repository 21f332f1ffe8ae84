/* The streams' rooms and what they share. Private to api/stream*.c:
 * included by no other file.
 *
 *   stream.c            the streams object (start, shutdown, free), opening
 *                       a stream (query parameters, hello) and waking
 *                       subscribers on new durable events (tail, batches)
 *   stream_sub.c        the subscriber: filters, the cursor fed from the
 *                       window or from the log (catch-up), waking those that
 *                       want more and closing stalled ones, its lifecycle,
 *                       and the system-metrics snapshots
 *   stream_render.c     the shared renderings: an event turned into the
 *                       JSON of each stream kind once, in a ring per kind
 *   stream_window.c     the live windows: the recent log framed once per
 *                       durable batch into reference-counted chunks
 *   stream_transport.c  the wire: WebSocket framing and writes (data frames
 *                       ours, control frames wslay's), Server-Sent Events,
 *                       close and drop, pings
 *
 * Everything runs on the loop thread. Ownership: djs_streams_t owns its
 * subscribers (the live list, then the dead list freed from the check
 * handle), the rings and the windows; a chunk is owned by its references
 * (the window's, one per write in flight that points into it).
 */
#ifndef DJS_API_STREAM_INTERNAL_H
#define DJS_API_STREAM_INTERNAL_H

#include <h2o.h>
#include <h2o/websocket.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "api/stream.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/id.h"

#define DJS__STREAM_MAX_IOV 16 /* window pieces per write */

enum { DJS__STREAM_FMT_JSON = 0, DJS__STREAM_FMT_MSGPACK = 1 };

/* One shared rendering: the text of event `seq` for one stream kind, plus
 * what the filters need. Owned by its ring (stream_render.c). */
typedef struct djs__stream_frame {
    uint64_t seq;
    uint16_t type;
    int8_t status; /* job-updates: the new status (-1 none) */
    uint8_t skip;  /* this event yields no message of this kind */
    djs_id_t entity;
    char *owner; /* job-updates: the job's owner */
    djs_buf_t text;
} djs__stream_frame_t;

/* A window is the recent tail of the log already framed for one kind of
 * WebSocket stream: chunks of consecutive events, each event's frame bytes
 * (empty when the event yields no message of that kind) and what the
 * filters need. Built once per durable batch, whatever the number of
 * subscribers. A subscriber without filters whose cursor is inside the
 * window is sent straight from the chunks (its write points into them and
 * holds a reference until done: no copy, no per-event work); one with
 * filters copies the frames it wants; one behind the window reads the log
 * (catch-up) until it reaches it. The window keeps window_bytes: a live
 * subscriber that falls further behind is back in catch-up, reading the
 * log at its own pace. The chunks are stream_window.c's. */
enum { DJS__STREAM_V_EVENTS, DJS__STREAM_V_EVENTS_MSGPACK, DJS__STREAM_V_JOBS, DJS__STREAM_V_WORKERS, DJS__STREAM_NVARIANTS };

typedef struct djs__stream_chunk djs__stream_chunk_t;

typedef struct djs__stream_window {
    djs__stream_chunk_t *head, *tail;
    uint64_t first, next; /* events [first, next) are framed; next == 0: no window */
    size_t bytes;
    uint32_t subs; /* WebSocket subscribers of this variant */
} djs__stream_window_t;

typedef struct djs__stream_sub djs__stream_sub_t;

/* The counters a metrics sample's rates are computed against. */
typedef struct djs__metrics_prev {
    uint64_t ns, completed, failed, seq, submitted;
} djs__metrics_prev_t;

struct djs_streams {
    djs_streams_config_t cfg;
    uv_loop_t *loop;
    djs_engine_t *engine;
    djs_log_t *log;
    djs_log_tail_t tail;
    uv_check_t check; /* after each I/O round: feed the subscribers that want more */
    uv_timer_t ping;
    uv_timer_t grace;        /* after shutdown: drop what did not close */
    uv_timer_t batch;        /* live delivery: at most once per batch_ms */
    djs__stream_sub_t *subs; /* every live subscriber */
    djs__stream_sub_t *dead; /* closed, freed from the check handle */
    uint32_t nsubs;
    uint64_t dropped; /* subscribers dropped as too slow or silent */
    int closing;
    int handles; /* open uv handles, for the final free */
    int freed;
    djs__stream_frame_t *rings[DJS_STREAM_SYSTEM_METRICS + 1];
    /* the last hour of system-metrics samples, one per second (the
     * dashboard's charts on load: GET /api/v1/metrics/history) */
    uv_timer_t hist_timer;
    char *hist[DJS_STREAM_HISTORY_SAMPLES]; /* JSON texts (malloc), a ring */
    uint32_t hist_head, hist_n;
    djs__metrics_prev_t hist_prev;
    djs__stream_window_t win[DJS__STREAM_NVARIANTS];
};

/* A subscriber: owned by its djs_streams_t from djs_stream_open until
 * djs__stream_free_sub (from the check handle, once unlinked). */
struct djs__stream_sub {
    djs_streams_t *ss;
    djs__stream_sub_t *prev, *next;
    int kind, format, sse;
    h2o_websocket_conn_t *ws;
    /* SSE */
    h2o_req_t *req;
    h2o_generator_t gen;
    djs_buf_t pending, inflight;
    djs__stream_chunk_t *held[DJS__STREAM_MAX_IOV]; /* a write from the window in flight */
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
    djs__metrics_prev_t metrics;
    uint32_t interval_ms;
    int wanting, dead;
};

static inline uint64_t djs__stream_now_ns(djs_streams_t *ss)
{
    return uv_now(ss->loop) * 1000000ULL;
}

/* ---- stream_render.c ---- */

/* The rendering of ev for stream kind `kind` (events, job-updates,
 * worker-status), made once and shared: owned by the ring, valid until
 * the ring's slot is reused (4,096 events later). */
const djs__stream_frame_t *djs__stream_frame_of(djs_streams_t *ss, int kind, const djs_event_t *ev);
/* Free every ring (at the final free). */
void djs__stream_rings_dispose(djs_streams_t *ss);
/* Compact text of j, consuming j; the caller frees the text (free()). */
char *djs__stream_dump(json_t *j, size_t *len);

/* ---- stream_window.c ---- */

/* The window variant of s, or -1 (SSE and system metrics have none). */
int djs__stream_variant_of(const djs__stream_sub_t *s);
/* Drop the window's chunks (writes in flight keep theirs until done). */
void djs__stream_window_reset(djs__stream_window_t *w);
/* Bring the windows that have subscribers up to the durable seq, then trim
 * each to window_bytes. A log read error resets the windows it touched. */
void djs__stream_windows_grow(djs_streams_t *ss, uint64_t durable);
/* An unfiltered WebSocket subscriber whose cursor is inside w: write w's
 * frames from the cursor on straight from the chunks (s holds them until
 * the write completes) and move the cursor. */
void djs__stream_window_write(djs__stream_sub_t *s, djs__stream_window_t *w);
/* A filtered subscriber inside w: copy the frames it wants into its
 * pending queue while there is room, moving the cursor. */
void djs__stream_window_copy(djs__stream_sub_t *s, djs__stream_window_t *w);
/* Release the chunks s's finished (or abandoned) write held. */
void djs__stream_release_held(djs__stream_sub_t *s);

/* ---- stream_sub.c ---- */

/* The filters: on what the record says (type, entity), then on what its
 * rendering found (no message of this kind, the job's owner and status). */
int djs__stream_wants_event(const djs__stream_sub_t *s, uint16_t type, const djs_id_t *entity);
int djs__stream_wants_frame(const djs__stream_sub_t *s, int skip, const char *owner, int status);
/* Send what is durable past s's cursor while there is room; closes s
 * (1011) when the log cannot be read. */
void djs__stream_feed(djs__stream_sub_t *s);
/* Feed s again after this I/O round (the check handle). */
void djs__stream_want(djs__stream_sub_t *s);
/* Take s off the live list onto the dead one (freed from the check handle,
 * after the current call chain); idempotent. */
void djs__stream_unlink(djs__stream_sub_t *s);
/* Free s (its connection is gone). */
void djs__stream_free_sub(djs__stream_sub_t *s);
/* Start s's system-metrics timer (a snapshot now, then every interval_ms);
 * stop it (its close completes in a later loop turn: timer_on until then). */
/* A system-metrics message (JSON text, malloc'd; *len) with rates since
 * *prev, which it then updates. */
char *djs__metrics_sample(djs_streams_t *ss, djs__metrics_prev_t *prev, size_t *len);
void djs__stream_metrics_start(djs__stream_sub_t *s);
void djs__stream_metrics_stop(djs__stream_sub_t *s);

/* ---- stream_transport.c ---- */

/* Bytes waiting for the peer, and whether the queue has room below
 * queue_bytes. */
size_t djs__stream_queued(djs__stream_sub_t *s);
int djs__stream_room(djs__stream_sub_t *s);
/* A server data frame (FIN, unmasked) around len bytes, appended to out. */
void djs__stream_ws_frame(djs_buf_t *out, int opcode, const void *data, size_t len);
/* Queue one message (JSON text, or the raw record when binary) in s's
 * framing: a WebSocket frame, or an SSE event with id seq (none when 0). */
void djs__stream_send_msg(djs__stream_sub_t *s, uint64_t seq, const char *event, const void *data, size_t len, int binary);
/* Write what is queued if the connection can take it; may close s. */
void djs__stream_flush(djs__stream_sub_t *s);
/* The write-completion callback of every WebSocket data write. */
void djs__stream_on_ws_written(h2o_socket_t *sock, const char *err);
/* Close s: WebSocket close frame with code and reason, or the SSE end. */
void djs__stream_close(djs__stream_sub_t *s, int code, const char *reason);
/* Drop a WebSocket without a close handshake (a reset); SSE: no-op. */
void djs__stream_drop(djs__stream_sub_t *s);
/* Take req over as s's text/event-stream response (200, headers sent). */
void djs__stream_sse_start(djs__stream_sub_t *s, h2o_req_t *req);
/* Upgrade req to s's WebSocket (key from the handshake); what is queued
 * goes once the 101 is out. */
void djs__stream_ws_start(djs__stream_sub_t *s, h2o_req_t *req, const char *key);
/* The ping timer: SSE comments, WebSocket pings, silent peers dropped. */
void djs__stream_on_ping(uv_timer_t *t);

#endif
