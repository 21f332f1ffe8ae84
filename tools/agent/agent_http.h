/* Asynchronous HTTP for the worker agent: libcurl's multi interface driven
 * by a libuv loop (one uv_poll per socket curl opens, one uv_timer for
 * curl's timeouts, completions read with curl_multi_info_read). Many
 * requests run at once over kept-alive connections (curl reuses them per
 * multi handle). Threading: the loop thread only. Used by the agent and its http kind. */
#ifndef DJS_TOOLS_AGENT_HTTP_H
#define DJS_TOOLS_AGENT_HTTP_H

#include <stddef.h>
#include <uv.h>

#include "core/error.h"

/* The struct that embeds member m (of type T) at p. */
#ifndef container_of
#define container_of(p, T, m) ((T *)((char *)(p)-offsetof(T, m)))
#endif

typedef struct djs_agent_http djs_agent_http_t;
typedef struct djs_agent_http_req djs_agent_http_req_t;

/* The end of one request. status is the HTTP status, or 0 when no answer
 * came (refused, reset, timed out, answer over max_body): error says why.
 * body (len bytes, NUL-terminated) belongs to the request and is valid
 * during the callback only. The request is gone once the callback
 * returns; the callback may start or cancel other requests. */
typedef void (*djs_agent_http_cb)(void *arg, long status, const char *body, size_t len, const char *error);

#define DJS_AGENT_HTTP_MAX_HOPS 3 /* redirects followed for one call */

/* Calls to the djs server (a cluster's nodes), as opposed to the http
 * kind's: how their redirects are followed, and a look at every answer
 * (to move on to another server). Owned by the caller; it must outlive
 * the calls that name it. Both run on the loop thread, from inside the
 * completion, and must not cancel or start requests. */
typedef struct djs_agent_http_route {
    /* A 307 or 308 answer to a call to url, with a Location: return 1 to
     * send the same call (method, body, headers, the token) to location
     * instead, at most DJS_AGENT_HTTP_MAX_HOPS times per call; 0 to hand
     * the redirect to the call's callback. NULL: never follow. */
    int (*redirect)(void *arg, const char *url, const char *location);
    /* Every answer, just before the call's callback (the same arguments);
     * url is where the call went last. May be NULL. */
    void (*answered)(void *arg, const char *url, long status, const char *body, size_t len);
    void *arg;
} djs_agent_http_route_t;

typedef struct djs_agent_http_opts {
    const char *token;  /* sent as "Authorization: Bearer" on calls with auth set; may be NULL */
    const char *cacert; /* PEM file of CA certificates, or NULL: the system's */
    int insecure;       /* 1: skip certificate checks (testing only) */
} djs_agent_http_opts_t;

/* One call. Strings and body are copied: the caller may free them once
 * djs_agent_http_send returns. */
typedef struct djs_agent_http_call {
    const char *method;                  /* GET, POST, PUT, DELETE, ... */
    const char *url;                     /* http or https only; redirects are followed only as route says */
    const char *content_type;            /* of the body, or NULL */
    const void *body;                    /* may be NULL */
    size_t len;                          /* body bytes */
    const char *const *headers;          /* NULL-terminated extra "Name: value" lines, or NULL */
    int auth;                            /* 1: add the bearer token */
    long timeout_ms;                     /* whole request; 0: none */
    size_t max_body;                     /* larger answers fail the request; 0: 16 MiB */
    const djs_agent_http_route_t *route; /* NULL: redirects go to the callback as they are */
} djs_agent_http_call_t;

/* 0, or DJS_EIO if curl cannot start (then *out is NULL). opts strings
 * are copied. */
int djs_agent_http_open(djs_agent_http_t **out, uv_loop_t *loop, const djs_agent_http_opts_t *opts);
/* Cancel every request (no callbacks) and close the handles; the memory
 * goes once the loop has run the close callbacks. Not from a callback. */
void djs_agent_http_close(djs_agent_http_t *h);

/* Start a call; its callback runs later, never from inside this function.
 * Returns the request (a handle for djs_agent_http_cancel, valid until its
 * callback runs), or NULL when curl refused the call (then no callback). */
djs_agent_http_req_t *djs_agent_http_send(djs_agent_http_t *h, const djs_agent_http_call_t *c, djs_agent_http_cb cb, void *arg);
/* Abandon a request that has not called back yet: no callback will run. */
void djs_agent_http_cancel(djs_agent_http_req_t *r);

#endif
