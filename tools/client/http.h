/* A small blocking HTTP client for the djs CLI, over one libcurl easy
 * handle. The handle is kept between requests, so one command that makes
 * several calls (pages, log polling) reuses one keep-alive connection.
 * Used by client.c. */
#ifndef DJS_TOOLS_CLIENT_HTTP_H
#define DJS_TOOLS_CLIENT_HTTP_H

#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

#define DJS_CLIENT_HTTP_CONNECT_TIMEOUT_MS 5000L
#define DJS_CLIENT_HTTP_MAX_BODY (64u << 20) /* a larger answer is a transport error */
#define DJS_CLIENT_HTTP_LOCATION_MAX 4096    /* a longer Location is kept as "" */

typedef struct djs_client_http_opts {
    const char *cacert; /* PEM file of CA certificates to trust, or NULL: the system's */
    int insecure;       /* 1: skip the certificate and host name checks (testing only) */
    long timeout_ms;    /* the whole request, connect included; 0: no limit */
} djs_client_http_opts_t;

/* One answer. Embedded struct: djs_client_http_res_init before the first request,
 * djs_client_http_res_dispose after the last; each request resets it. Header fields
 * are the raw values with surrounding blanks removed, "" when absent
 * (longer values are cut to the field's size; a longer Location is ""). */
typedef struct djs_client_http_res {
    long status;                                     /* e.g. 200; 0 after a transport failure */
    char reason[64];                                 /* the status line's reason phrase, may be "" (HTTP/2) */
    djs_buf_t body;                                  /* the body bytes; base[len] is '\0' (not counted) */
    char content_type[96];                           /* Content-Type */
    char seq[24];                                    /* DJS-Seq: the log seq the answer reflects */
    char retry_after[24];                            /* Retry-After (429, 503) */
    char log_next[24];                               /* DJS-Log-Next-Offset */
    char log_complete[8];                            /* DJS-Log-Complete: "true" or "false" */
    char location[DJS_CLIENT_HTTP_LOCATION_MAX + 1]; /* Location (a 307 from a cluster follower) */
    int sent;        /* after a transport failure: 1 if (part of) the request went out, so it may have taken effect */
    char error[256]; /* why the request failed, after an error */
} djs_client_http_res_t;

typedef struct djs_client_http djs_client_http_t;

/* Owns a curl easy handle; djs_client_http_close frees it. 0, or DJS_EIO
 * if curl cannot start (then *out is NULL). */
int djs_client_http_open(djs_client_http_t **out, const djs_client_http_opts_t *opts);
void djs_client_http_close(djs_client_http_t *h);

void djs_client_http_res_init(djs_client_http_res_t *r);
void djs_client_http_res_dispose(djs_client_http_res_t *r);

/* METHOD url. body (len bytes, may be NULL) is sent as application/json;
 * token, if not NULL, as "Authorization: Bearer token"; headers is a
 * NULL-terminated list of extra "Name: value" lines, or NULL. Redirects
 * are not followed here (client.c follows a cluster follower's 307 by
 * r->location, where it decides to); only http and https URLs are
 * allowed. Returns 0 once an answer arrived, whatever its status; when
 * none did (r->status 0, r->error says why, r->sent whether the request
 * went out): DJS_ETOOBIG for an answer over DJS_CLIENT_HTTP_MAX_BODY,
 * DJS_EIO for the rest (connection refused, TLS failure, timeout),
 * DJS_ENOMEM if the headers could not be built. */
int djs_client_http_request(djs_client_http_t *h, const char *method, const char *url, const char *token,
                            const char *const *headers, const char *body, size_t len, djs_client_http_res_t *r);

#endif
