/* The HTTP front-end: h2o on the engine's libuv loop.
 *
 * One loop thread owns the engine and every connection; the log's writer
 * thread does the fsyncs. A write request is parked until its events are
 * durable (djs_log_when_durable) and only then answered; a request whose
 * client went away meanwhile is forgotten (its events stay: they were
 * accepted). Errors are RFC 9457 application/problem+json.
 *
 * Streams (api/stream.h): /ws/events, /ws/job-updates, /ws/worker-status,
 * /ws/system-metrics (WebSocket) and /api/v1/events/stream (SSE).
 *
 * Every endpoint but /health and /health/ready needs a bearer token (JWT
 * HS256, api/auth.h) unless auth is NULL. Roles: admin everything; operator
 * jobs, workers, stats, metrics; user submits and sees or cancels only its
 * own jobs; worker registers, heartbeats, polls and reports only as the
 * worker named by its token's subject.
 *
 * The code: server.c (lifecycle), route.c (the route table), http.c and
 * one file per resource, behind the private api/server_internal.h.
 *
 * Ownership: djs_server_start borrows loop and engine (both must outlive
 * the server); djs_server_stop closes the listener and frees the server
 * from libuv close callbacks (let the loop run afterwards).
 */
#ifndef DJS_API_SERVER_H
#define DJS_API_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "scheduler/engine.h"

typedef struct djs_server djs_server_t;

typedef struct djs_server_config {
    const char *host;     /* default 127.0.0.1 */
    int port;             /* default 8080; 0 = any free port (see djs_server_port) */
    size_t max_body;      /* default 1 MiB */
    const char *tls_cert; /* PEM certificate chain; with tls_key, serve HTTPS (TLS 1.2+, h2 by ALPN) */
    const char *tls_key;
    int http2;                      /* offer h2 by ALPN over TLS (off by default: h2o 2.2's HTTP/2 stack gets no fixes) */
    unsigned rate_per_s;            /* requests per second per principal; 0 = no limit (default 1000) */
    unsigned rate_burst;            /* bucket size; 0 = rate_per_s (default 2000) */
    struct djs_auth *auth;          /* verifies bearer tokens; NULL = no authentication (--insecure-no-auth) */
    unsigned stream_ping_ms;        /* WebSocket ping / SSE comment interval; 0 = default 15 s */
    unsigned stream_stall_ms;       /* close a stream subscriber whose queue is stuck this long; 0 = default 30 s */
    int stream_batch_ms;            /* live stream events go out at most this often; -1 = default 10 ms, 0 = at once */
    size_t stream_window_bytes;     /* recent framed events kept per stream kind; 0 = default 8 MiB */
    const char *ui_dir;             /* serve the dashboard from this directory instead of the embedded one (development) */
    struct djs_cluster *cluster;    /* a cluster node (cluster/cluster.h): writes go to the leader; NULL = one server */
    void (*on_shutdown)(void *arg); /* POST /api/v1/admin/shutdown was accepted */
    void *shutdown_arg;
} djs_server_config_t;

void djs_server_config_init(djs_server_config_t *c);
/* Listen and serve; *out is NULL on error (what was set up is freed from
 * close callbacks: let the loop run). Errors: DJS_EEXISTS (address in use),
 * DJS_EINVAL (bad host, or only one of the TLS files), DJS_EPERM (a
 * privileged port), DJS_ECRYPTO (the certificate or key does not load),
 * DJS_EIO (any other socket error, e.g. an address not on this machine). */
int djs_server_start(djs_server_t **out, uv_loop_t *loop, djs_engine_t *engine, const djs_server_config_t *c);
/* The port listened on (the one chosen when the configuration said 0). */
int djs_server_port(const djs_server_t *s);
/* The routes served, "METHOD /path" with {id} placeholders, NULL-terminated. */
const char *const *djs_server_routes(void);

/* Stop accepting; in-flight requests still get their answers as long as
 * the loop runs. */
void djs_server_stop(djs_server_t *s);

#endif
