/* The server's lifecycle: the listener and its connections, TLS, start
 * and stop. What a request gets is decided in route.c and the rooms it
 * routes to (api/server_internal.h). */
#include "api/server.h"

#include <h2o.h>
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "api/server_internal.h"
#include "core/alloc.h"
#include "core/error.h"

#define DRAIN_MS 2000 /* after a stop: in-flight answers get this long, then connections are ended */

/* ---- listener ---------------------------------------------------------------------------
 *
 * The h2o context may be disposed only once every connection is gone, so
 * connections are counted; the server is freed when the listener is closed
 * and the last connection has closed. */
static void maybe_free(djs_server_t *s);
static void on_drain_closed(uv_handle_t *h);

/* h2o takes the handle's data pointer: the server is found through this
 * wrapper instead (the handle is its first member). */
typedef struct conn {
    uv_tcp_t tcp;
    djs_server_t *server;
    struct conn *prev, *next; /* the server's open connections */
} conn_t;

static void on_conn_closed(uv_handle_t *h)
{
    conn_t *c = (conn_t *)h;
    djs_server_t *s = c->server;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conn_list = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    djs_free(c);
    s->conns--;
    maybe_free(s);
}

static void on_accept(uv_stream_t *listener, int status)
{
    djs_server_t *s = listener->data;
    if (status != 0 || s->stopping)
        return;
    conn_t *conn = djs_malloc(sizeof(*conn));
    uv_tcp_init(listener->loop, &conn->tcp);
    conn->server = s;
    conn->prev = NULL;
    conn->next = s->conn_list;
    if (s->conn_list != NULL)
        s->conn_list->prev = conn;
    s->conn_list = conn;
    s->conns++;
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp) != 0) {
        uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
        return;
    }
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&conn->tcp, on_conn_closed);
    h2o_accept(&s->accept_ctx, sock);
}

void djs_server_config_init(djs_server_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->port = 8080;
    c->max_body = 1u << 20;
    c->rate_per_s = 1000;
    c->rate_burst = 2000;
    c->stream_batch_ms = -1;
}

/* TLS 1.2 or later, the certificate chain and key, ALPN offering
 * http/1.1, and h2 when asked for: h2o 2.2's HTTP/2 stack is frozen since
 * 2019 and gets no fixes, so it is a choice (WebSocket clients use
 * HTTP/1.1 anyway). */
static int setup_tls(djs_server_t *s)
{
    if (s->cfg.tls_cert == NULL && s->cfg.tls_key == NULL)
        return 0;
    if (s->cfg.tls_cert == NULL || s->cfg.tls_key == NULL)
        return DJS_EINVAL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return DJS_ECRYPTO;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, s->cfg.tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, s->cfg.tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        char msg[256];
        ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
        fprintf(stderr, "djs: TLS: %s\n", msg);
        SSL_CTX_free(ctx);
        return DJS_ECRYPTO;
    }
    static const h2o_iovec_t http1_only[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};
    h2o_ssl_register_alpn_protocols(ctx, s->cfg.http2 ? h2o_http2_alpn_protocols : http1_only);
    s->ssl = ctx;
    s->accept_ctx.ssl_ctx = ctx;
    return 0;
}

static void maybe_free(djs_server_t *s)
{
    if (!s->listener_closed || s->conns > 0)
        return;
    if (s->drain_on) { /* all closed before the drain: stop waiting for it */
        if (!uv_is_closing((uv_handle_t *)&s->drain))
            uv_close((uv_handle_t *)&s->drain, on_drain_closed);
        return;
    }
    if (s->ssl != NULL)
        SSL_CTX_free(s->ssl);
    djs_streams_free(s->streams);
    h2o_context_dispose(&s->ctx);
    h2o_config_dispose(&s->config);
    djs_http_stats_dispose(&s->http);
    djs__access_dispose(s);
    djs_buf_dispose(&s->scratch);
    djs_free(s);
}

static void on_listener_closed(uv_handle_t *h)
{
    djs_server_t *s = h->data;
    s->listener_closed = 1;
    maybe_free(s);
}

/* The h2o configuration and context: one host, one handler for every path (route.c). */
static void setup_h2o(djs_server_t *s)
{
    /* Per-request memory: h2o's request pools (4 KiB chunks) and socket
     * input buffers come from recycle bins that keep 16 blocks, so with
     * more connections than that each request mallocs and frees blocks of
     * 4-8 KiB; glibc then trims the top of the heap on free and grows it
     * again at the next malloc (brk and page faults: 13% of the loop thread
     * under 64 connections, perf). Keep freed memory in the process, and a
     * larger bin for the socket buffers (a per-thread setting of h2o). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    if (h2o_socket_buffer_prototype.allocator.max < 1024)
        h2o_socket_buffer_prototype.allocator.max = 1024;
    h2o_config_init(&s->config);
    s->config.max_request_entity_size = s->cfg.max_body;
    s->config.http1.upgrade_to_http2 = s->cfg.http2; /* no cleartext h2c upgrade unless h2 was chosen */
    h2o_hostconf_t *host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    djs__handler_t *h = (djs__handler_t *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = djs__on_req;
    h->server = s;
    h2o_context_init(&s->ctx, s->loop, &s->config);
    s->accept_ctx.ctx = &s->ctx;
    s->accept_ctx.hosts = s->config.hosts;
}

static void start_streams(djs_server_t *s)
{
    djs_streams_config_t sc;
    djs_streams_config_init(&sc);
    if (s->cfg.stream_ping_ms > 0)
        sc.ping_ms = s->cfg.stream_ping_ms;
    if (s->cfg.stream_stall_ms > 0)
        sc.stall_ms = s->cfg.stream_stall_ms;
    if (s->cfg.stream_batch_ms >= 0)
        sc.batch_ms = (uint32_t)s->cfg.stream_batch_ms;
    if (s->cfg.stream_window_bytes > 0)
        sc.window_bytes = s->cfg.stream_window_bytes;
    djs_streams_new(&s->streams, s->loop, s->engine, &sc);
}

int djs_server_start(djs_server_t **out, uv_loop_t *loop, djs_engine_t *engine, const djs_server_config_t *c)
{
    djs_server_t *s = djs_calloc(1, sizeof(*s));
    struct sockaddr_in addr;
    int rc;
    if (c != NULL)
        s->cfg = *c;
    else
        djs_server_config_init(&s->cfg);
    s->loop = loop;
    s->engine = engine;
    if (uv_ip4_addr(s->cfg.host, s->cfg.port, &addr) != 0) {
        djs_free(s);
        return DJS_EINVAL;
    }
    djs_http_stats_init(&s->http);
    djs_buf_init(&s->scratch);
    setup_h2o(s);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    int trc = setup_tls(s);
    if (trc != 0) {
        s->stopping = 1;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        *out = NULL;
        return trc;
    }
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&s->listener, 128, on_accept)) != 0) {
        s->stopping = 1;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed); /* frees s once the loop runs */
        *out = NULL;
        return djs_err_from_uv(rc);
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    djs_engine_set_assign_cb(engine, djs__polls_on_assign, s);
    start_streams(s);
    *out = s;
    return 0;
}

int djs_server_port(const djs_server_t *s)
{
    return s->port;
}

static void on_drain_closed(uv_handle_t *h)
{
    djs_server_t *s = h->data;
    s->drain_on = 0;
    maybe_free(s);
}

static void on_drain(uv_timer_t *t)
{
    djs_server_t *s = t->data;
    for (conn_t *c = s->conn_list; c != NULL; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
    uv_close((uv_handle_t *)&s->drain, on_drain_closed);
}

void djs_server_stop(djs_server_t *s)
{
    if (s == NULL || s->stopping)
        return;
    s->stopping = 1;
    djs_engine_set_assign_cb(s->engine, NULL, NULL);
    djs__polls_finish_all(s);         /* answer parked polls now (empty lists) */
    djs_streams_shutdown(s->streams); /* WebSockets get 1001, SSE responses end */
    /* No h2o_context_request_shutdown: in h2o 2.2 it arms an HTTP/2 timer
     * that h2o_context_dispose then asserts on. Instead: answers from now on
     * close their connections (on_req), and after DRAIN_MS whatever is still
     * open (idle keep-alive connections, which busy agents never leave idle
     * for long) is shut down at the socket, so h2o reads EOF and closes it
     * through its own paths. The server is freed once the last one closed. */
    uv_timer_init(s->loop, &s->drain);
    s->drain.data = s;
    s->drain_on = 1;
    uv_timer_start(&s->drain, on_drain, DRAIN_MS, 0);
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}
