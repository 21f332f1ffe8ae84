/* Live and replayable streams over the event log: WebSocket endpoints
 * (/ws/events, /ws/job-updates, /ws/worker-status, /ws/system-metrics) and
 * Server-Sent Events (/api/v1/events/stream). Private to api/: the server
 * routes requests here after authentication.
 *
 * Every stream is a cursor over the durable log: a subscriber has a next
 * seq and is fed from the log in bounded chunks whenever its send queue has
 * room, both while catching up and live (woken by the log's tail), so the
 * seam between the two has no gap and no duplicate by construction. A
 * subscriber whose queue stays full is simply read for more slowly; one
 * whose queue makes no progress for stall_ms is closed (1008). Renderings
 * are shared: an event is turned into JSON once per stream kind, whatever
 * the number of subscribers, and live subscribers are written from a
 * window of recent events framed once per durable batch (see
 * stream_internal.h); live events go out in batches of batch_ms.
 *
 * Ownership: djs_streams_new borrows loop and engine; djs_streams_shutdown
 * closes every stream (1001 "server shutting down"); djs_streams_free
 * releases the rest from libuv close callbacks (let the loop run).
 */
#ifndef DJS_API_STREAM_H
#define DJS_API_STREAM_H

#include <h2o.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"

#include "api/auth.h"
#include "scheduler/engine.h"

typedef struct djs_streams djs_streams_t;

typedef struct djs_streams_config {
    uint32_t ping_ms;         /* WebSocket ping (and SSE comment) interval; default 15 s; a peer silent for 3 is closed */
    uint32_t stall_ms;        /* close a subscriber whose queue made no progress this long; default 30 s */
    size_t queue_bytes;       /* per-subscriber send queue high-water mark; default 256 KiB */
    uint32_t max_subscribers; /* default 10,000; beyond, 503 */
    uint32_t batch_ms;        /* live events go out at most this often per subscriber; default 10; 0: at once */
    size_t window_bytes;      /* framed recent events kept per stream kind; default 8 MiB */
} djs_streams_config_t;

enum { DJS_STREAM_EVENTS = 1, DJS_STREAM_JOB_UPDATES, DJS_STREAM_WORKER_STATUS, DJS_STREAM_SYSTEM_METRICS };

void djs_streams_config_init(djs_streams_config_t *c);
/* Start the streams (c NULL: the defaults). Errors: none today (0); a
 * caller checks anyway. */
int djs_streams_new(djs_streams_t **out, uv_loop_t *loop, djs_engine_t *engine, const djs_streams_config_t *c);
/* The last `seconds` (at most DJS_STREAM_HISTORY_SAMPLES) of the samples
 * taken once a second since start, each a /ws/system-metrics message, as
 * {"intervalMs":1000,"samples":[...]} appended to out (oldest first). */
#define DJS_STREAM_HISTORY_SAMPLES 3600
void djs_streams_metrics_history(const djs_streams_t *ss, uint32_t seconds, djs_buf_t *out);
/* Close every stream (WebSocket close 1001, SSE end) and refuse new ones. */
void djs_streams_shutdown(djs_streams_t *ss);
/* Free (after shutdown); memory goes from close callbacks. */
void djs_streams_free(djs_streams_t *ss);
/* Open subscribers now. */
uint32_t djs_streams_count(const djs_streams_t *ss);
/* Subscribers dropped since start as too slow (stall_ms) or silent (3
 * pings); closes at shutdown are not counted. */
uint64_t djs_streams_dropped(const djs_streams_t *ss);

/* Take over req as a WebSocket stream of `kind` (an HTTP/1.1 upgrade) or,
 * with sse set, as a text/event-stream response of the events stream.
 * Returns 0 when taken over; otherwise an HTTP status (400, 426, 503) with
 * a one-line reason in detail, and req is untouched for the caller to
 * answer. */
int djs_stream_open(djs_streams_t *ss, h2o_req_t *req, const djs_principal_t *who, int kind, int sse, char *detail,
                    size_t detail_len);

#endif
