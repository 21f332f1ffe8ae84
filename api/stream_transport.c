/* The wire (see stream_internal.h): WebSocket data frames framed here and
 * written by us, control frames (ping, pong, close) left to wslay, and
 * Server-Sent Events through an h2o generator; close, drop, pings. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "api/stream_internal.h"
#include "core/buf.h"

#define MAX_RECV_MSG 4096 /* clients only send control frames and small texts */

/* ---- sending ------------------------------------------------------------------------------ */

/* Bytes waiting for the peer: framed data not yet written (pending), being
 * written (inflight, or held in window chunks), and wslay's control frames. */
size_t djs__stream_queued(djs__stream_sub_t *s)
{
    size_t n = s->pending.len + s->inflight.len + s->held_bytes;
    if (!s->sse)
        n += wslay_event_get_queued_msg_length(s->ws->ws_ctx);
    return n;
}

int djs__stream_room(djs__stream_sub_t *s)
{
    return djs__stream_queued(s) < s->ss->cfg.queue_bytes;
}

/* A server data frame (FIN, unmasked) around len bytes, into out. Data
 * frames do not go through wslay: h2o 2.2's wslay send callback writes one
 * piece (a header, a payload) per socket write and waits for it, two
 * syscalls and a loop turn per message; framing here lets one write carry
 * every frame queued since the last. Control frames (ping, pong, close)
 * stay with wslay, which writes only when the socket is idle. */
void djs__stream_ws_frame(djs_buf_t *out, int opcode, const void *data, size_t len)
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

static void ws_queue(djs__stream_sub_t *s, int opcode, const void *data, size_t len)
{
    struct wslay_event_msg m = {(uint8_t)opcode, data, len};
    wslay_event_queue_msg(s->ws->ws_ctx, &m);
}

/* Queue one message (JSON text, or the raw record in msgpack format). */
void djs__stream_send_msg(djs__stream_sub_t *s, uint64_t seq, const char *event, const void *data, size_t len, int binary)
{
    if (!s->sse) {
        djs__stream_ws_frame(&s->pending, binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME, data, len);
        return;
    }
    char head[96];
    int n = seq > 0 ? snprintf(head, sizeof(head), "id: %" PRIu64 "\nevent: %s\ndata: ", seq, event)
                    : snprintf(head, sizeof(head), "event: %s\ndata: ", event);
    djs_buf_append(&s->pending, head, (size_t)n);
    djs_buf_append(&s->pending, data, len); /* JSON text: one line */
    djs_buf_append(&s->pending, "\n\n", 2);
}

/* ---- SSE ------------------------------------------------------------------------------------ */

static void sse_flush(djs__stream_sub_t *s)
{
    if (s->dead || s->sending || s->req == NULL)
        return;
    if (s->pending.len == 0) {
        if (s->finishing) {
            h2o_req_t *req = s->req;
            s->req = NULL;
            djs__stream_unlink(s);
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

static void sse_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    djs__stream_sub_t *s = (djs__stream_sub_t *)((char *)g - offsetof(djs__stream_sub_t, gen));
    s->sending = 0;
    djs_buf_reset(&s->inflight);
    if (s->finishing && s->pending.len == 0) {
        s->req = NULL;
        djs__stream_unlink(s);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    djs__stream_feed(s);
    sse_flush(s);
}

static void sse_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    djs__stream_sub_t *s = (djs__stream_sub_t *)((char *)g - offsetof(djs__stream_sub_t, gen));
    s->req = NULL;
    djs__stream_unlink(s);
}

void djs__stream_sse_start(djs__stream_sub_t *s, h2o_req_t *req)
{
    s->req = req;
    s->gen.proceed = sse_proceed;
    s->gen.stop = sse_stop;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_start_response(req, &s->gen);
}

/* ---- WebSocket ------------------------------------------------------------------------------ */

static void on_ws(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg)
{
    djs__stream_sub_t *s = conn->data;
    if (arg == NULL) { /* closed: h2o's conn goes now, s at the next check */
        djs__stream_metrics_stop(s);
        s->ws = NULL;
        djs__stream_unlink(s);
        h2o_websocket_close(conn);
        return;
    }
    s->last_seen_ns = djs__stream_now_ns(s->ss);
}

void djs__stream_on_ws_written(h2o_socket_t *sock, const char *err)
{
    h2o_websocket_conn_t *conn = sock->data;
    djs__stream_sub_t *s = conn->data;
    if (err != NULL) {
        on_ws(conn, NULL); /* closes */
        return;
    }
    djs_buf_reset(&s->inflight);
    djs__stream_release_held(s);
    djs__stream_feed(s); /* reads on from the log if there is more, and flushes */
}

static void ws_flush(djs__stream_sub_t *s)
{
    h2o_socket_t *sock = s->ws->sock;
    if (sock == NULL) { /* the 101 is not out yet: look again after the next I/O */
        djs__stream_want(s);
        return;
    }
    if (s->pending.len > 0 && !h2o_socket_is_writing(sock)) {
        djs_buf_t t = s->inflight; /* swap: the written bytes stay until djs__stream_on_ws_written */
        s->inflight = s->pending;
        s->pending = t;
        djs_buf_reset(&s->pending);
        h2o_iovec_t v = h2o_iovec_init(s->inflight.base, s->inflight.len);
        h2o_socket_write(sock, &v, 1, djs__stream_on_ws_written);
    } else if (s->pending.len > 0) {
        djs__stream_want(s); /* wslay is writing a control frame: try again after it */
    }
    if (!h2o_socket_is_writing(sock))
        h2o_websocket_proceed(s->ws); /* control frames, reads; may close: then s->dead is set, s stays allocated */
}

void djs__stream_ws_start(djs__stream_sub_t *s, h2o_req_t *req, const char *key)
{
    s->ws = h2o_upgrade_to_websocket(req, key, s, on_ws);
    wslay_event_config_set_max_recv_msg_length(s->ws->ws_ctx, MAX_RECV_MSG);
}

/* ---- flushing and closing ------------------------------------------------------------------ */

void djs__stream_flush(djs__stream_sub_t *s)
{
    if (s->dead)
        return;
    if (s->sse)
        sse_flush(s);
    else
        ws_flush(s);
}

void djs__stream_close(djs__stream_sub_t *s, int code, const char *reason)
{
    if (s->dead)
        return;
    if (s->sse) {
        s->finishing = 1;
        sse_flush(s);
        return;
    }
    wslay_event_queue_close(s->ws->ws_ctx, (uint16_t)code, (const uint8_t *)reason, strlen(reason));
    djs__stream_flush(s);
}

/* Drop the connection without a close handshake (a peer that does not read). */
void djs__stream_drop(djs__stream_sub_t *s)
{
    if (s->dead || s->sse)
        return;
    h2o_websocket_conn_t *conn = s->ws;
    djs__stream_metrics_stop(s);
    /* a reset, not a FIN queued behind data the peer will never read */
    int fd = conn->sock != NULL ? h2o_socket_get_fd(conn->sock) : -1;
    if (fd >= 0) {
        struct linger l = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    s->ws = NULL;
    djs__stream_unlink(s);
    h2o_websocket_close(conn);
}

/* ---- pings and liveness ---------------------------------------------------------------------- */

void djs__stream_on_ping(uv_timer_t *t)
{
    djs_streams_t *ss = t->data;
    uint64_t now = djs__stream_now_ns(ss), limit = 3ULL * ss->cfg.ping_ms * 1000000ULL;
    for (djs__stream_sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (s->sse) {
            if (djs__stream_room(s)) {
                djs_buf_append(&s->pending, ": ping\n\n", 8);
                sse_flush(s);
            }
            continue;
        }
        if (now - s->last_seen_ns > limit) {
            fprintf(stderr, "djs: stream peer silent for %" PRIu64 " ms: closing it\n", (now - s->last_seen_ns) / 1000000);
            ss->dropped++;
            djs__stream_drop(s);
            continue;
        }
        ws_queue(s, WSLAY_PING, "djs", 3);
        djs__stream_flush(s);
    }
}
