/* The benchmarks' one small HTTP/1.1 client (plain TCP, loopback): the
 * framing of answers, blocking round trips for set-up steps and helper
 * threads, and a keep-alive connection on a libuv loop. Answers are
 * framed by Content-Length only (what djs serve sends on these routes);
 * no chunked bodies, no TLS. Threading: a connection belongs to the
 * thread of its loop; the blocking calls to their caller's thread. */
#ifndef DJS_TOOLS_BENCH_UVHTTP_H
#define DJS_TOOLS_BENCH_UVHTTP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/error.h"

/* The struct that embeds member m (of type T) at p. */
#ifndef container_of
#define container_of(p, T, m) ((T *)((char *)(p)-offsetof(T, m)))
#endif

/* ---- framing ---- */

/* Whether the first HTTP/1.1 answer in buf[0..len) is whole (1) or not yet
 * (0). *scanned and *total start at 0 for each answer and carry the
 * search between calls; once the head is found *total is head + body
 * (Content-Length) and *head the head's length. */
int djs_bench_http_answer(const char *buf, size_t len, size_t *scanned, size_t *total, size_t *head);
/* The status of the answer at buf ("HTTP/1.1 201 ..."): 0 when len < 12. */
int djs_bench_http_status(const char *buf, size_t len);

/* ---- blocking ---- */

/* A TCP connection to addr with TCP_NODELAY: the fd (a descriptor, not an
 * error), or DJS_EIO. */
int djs_bench_http_connect_fd(const struct sockaddr_in *addr);
/* Write everything, also on a non-blocking socket (waits up to 5 s per
 * wait with poll). 0 or DJS_EIO. */
int djs_bench_http_write_all(int fd, const void *data, size_t len);
/* Send req on fd and read one answer into *rbuf (grown as needed,
 * NUL-terminated; the caller frees it with djs_free). Its HTTP status (a
 * status, not an error), or DJS_EIO when no whole answer came. */
int djs_bench_http_roundtrip(int fd, const char *req, size_t len, char **rbuf, size_t *rcap);
/* One request over a fresh connection, read to its end (send
 * "Connection: close"); the answer (NUL-terminated, cut to outlen) in out.
 * The HTTP status, or DJS_EIO when no answer came. */
int djs_bench_http_request(const struct sockaddr_in *addr, const char *req, char *out, size_t outlen);

/* ---- on a libuv loop ---- */

/* Write data to s: what the socket takes now, the rest copied and queued
 * (a failed write shows up as a read error). 0, or a libuv error (UV_E...,
 * left untranslated on this loop API: callers print it with uv_strerror,
 * as they do the codes libuv hands their callbacks). */
int djs_bench_http_write(uv_stream_t *s, const char *data, size_t len);

typedef struct djs_bench_http_conn djs_bench_http_conn_t;
/* A whole answer arrived: status, and the body (len bytes, valid during
 * the call). now_ns is djs_monotonic_ns() read once per read. Return 0 to
 * go on to the next answer already in, or 1 to stop (the caller is
 * closing: nothing of c is touched after). */
typedef int (*djs_bench_http_answer_cb)(djs_bench_http_conn_t *c, int status, const char *body, size_t len, uint64_t now_ns);
/* The read ended: err is a UV error (UV_EOF when the server closed).
 * Pending answers are lost; the caller closes or reopens (djs_bench_http_reset). */
typedef void (*djs_bench_http_error_cb)(djs_bench_http_conn_t *c, int err);

/* Embedded struct: djs_bench_http_init, djs_bench_http_dispose (after the handle closed).
 * The caller reaches its own struct with container_of or tcp.data. */
struct djs_bench_http_conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    djs_bench_http_answer_cb on_answer;
    djs_bench_http_error_cb on_error;
    char *rbuf;
    size_t rlen, rcap, scanned, total;
};

void djs_bench_http_init(djs_bench_http_conn_t *c, djs_bench_http_answer_cb on_answer, djs_bench_http_error_cb on_error);
void djs_bench_http_dispose(djs_bench_http_conn_t *c);
/* uv_tcp_init on loop and connect to addr; cb gets c->creq. 0 or a libuv error. */
int djs_bench_http_connect(djs_bench_http_conn_t *c, uv_loop_t *loop, const struct sockaddr_in *addr, uv_connect_cb cb);
/* Once connected: TCP_NODELAY and reading (answers go to on_answer). */
void djs_bench_http_read_start(djs_bench_http_conn_t *c);
/* Forget what was read (before connecting c again). */
void djs_bench_http_reset(djs_bench_http_conn_t *c);
/* Send request bytes on c. 0 or a libuv error. */
int djs_bench_http_send(djs_bench_http_conn_t *c, const char *data, size_t len);

#endif
