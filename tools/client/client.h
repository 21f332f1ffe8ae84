/* The client subcommands of djs (submit, jobs, job, cancel, ...): the
 * options they share, calls to the REST API that turn any failure into one
 * line on stderr, and output as aligned tables or JSON. Used by the
 * client subcommands in tools/djs (their declarations: tools/djs/cli.h).
 *
 * Exit codes, for every client subcommand: 0 done, 1 the server refused
 * (any non-2xx answer: "djs: <status> <title>: <detail>") or could not be
 * reached ("djs: cannot reach <url>: <why>"), 2 a usage error. The
 * functions below that can fail return these exit codes (0, 1, 2), not
 * DJS_E... codes: a subcommand returns them as they are. */
#ifndef DJS_TOOLS_CLIENT_CLIENT_H
#define DJS_TOOLS_CLIENT_CLIENT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "tools/cli/servers.h"
#include "tools/client/http.h"

#define DJS_CLIENT_DEFAULT_SERVER "http://127.0.0.1:8080"
#define DJS_CLIENT_DEFAULT_TIMEOUT_S 30
#define DJS_CLIENT_FAILOVER_MS 10000     /* how long a call goes on trying a cluster's servers */
#define DJS_CLIENT_FAILOVER_WAIT_MS 2000 /* the longest wait between rounds (Retry-After) */

enum { DJS_CLIENT_OUT_TABLE, DJS_CLIENT_OUT_JSON };

/* One subcommand's run. Embedded struct: djs_client_init, djs_client_dispose. */
typedef struct djs_client {
    const char *cmd;       /* "jobs": names the subcommand in messages */
    const char *server;    /* the current server's base URL (servers' current one) */
    djs_servers_t servers; /* --server, $DJS_SERVER or the default: one URL or a cluster's list */
    const char *token;     /* --token or $DJS_TOKEN; NULL: none sent */
    const char *as_of;     /* --as-of (reads only), or NULL */
    const char *at_seq;    /* --at-seq (reads only), or NULL */
    int out;               /* DJS_CLIENT_OUT_TABLE or DJS_CLIENT_OUT_JSON (-o) */
    djs_client_http_opts_t opts;
    djs_client_http_t *http;   /* opened by the first call */
    djs_client_http_res_t res; /* the last answer */
} djs_client_t;

/* Take the shared options out of argv (--server, --token, -o, --cacert,
 * --insecure, --request-timeout, and --as-of / --at-seq when reads is
 * set). 0, or 2 after a usage message. */
int djs_client_init(djs_client_t *c, const char *cmd, int argc, char **argv, int reads);
void djs_client_dispose(djs_client_t *c);

/* Print "djs CMD: <what>" and the usage hint; returns 2. */
int djs_client_usage_error(const djs_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After the options were taken: between minpos and maxpos positional
 * arguments into pos, nothing that looks like an option. 0 or 2. */
int djs_client_rest(const djs_client_t *c, int argc, char **argv, const char **pos, int minpos, int maxpos);
/* Every value of a repeatable option, in order, into a JSON array of strings. */
json_t *djs_client_opt_all(int argc, char **argv, const char *name);
/* 0 if s is a job or worker id (a UUID), else 2 after a usage message. */
int djs_client_check_id(const djs_client_t *c, const char *s);
/* Parse a non-negative integer option value; 0, or 2 after a usage message. */
int djs_client_check_uint(const djs_client_t *c, const char *opt, const char *s, uint64_t max);

/* URL building: url = server + path (path taken as is); then
 * djs_client_query appends ?name=value or &name=value, value percent-encoded;
 * djs_client_query_point appends as_of / at_seq when given. url stays
 * NUL-terminated. */
void djs_client_url(const djs_client_t *c, djs_buf_t *url, const char *path);
void djs_client_query(djs_buf_t *url, const char *name, const char *value);
void djs_client_query_point(const djs_client_t *c, djs_buf_t *url);

/* METHOD url (built by djs_client_url); 0 on a 2xx answer (in c->res), 1
 * after printing the one error line. A 429 with a short Retry-After is
 * retried up to 3 times. A cluster follower's 307 is followed to the
 * leader (tools/cli/servers.h: up to 3 hops, the token included, only to
 * one of the servers listed, or anywhere http(s) for a list of one), which
 * becomes c->server for the calls after. When a server does not take the
 * call (no answer, 503 no-leader), the next one in the list is tried, each
 * once a round, rounds apart by Retry-After (at most
 * DJS_CLIENT_FAILOVER_WAIT_MS), for up to DJS_CLIENT_FAILOVER_MS; then
 * the error line names every server tried. A request that went out and
 * got no answer is sent again elsewhere only if it is idempotent (GET,
 * HEAD, PUT, DELETE, or an Idempotency-Key header). One URL without a
 * redirect: a transport failure fails at once, as ever. */
int djs_client_send(djs_client_t *c, const char *method, const char *url, const char *body, size_t len, const char *const *headers);
/* Same, with body (may be NULL) encoded as JSON and the answer decoded:
 * 0 and *out (a new reference; {} for an empty answer), or 1. */
int djs_client_json(djs_client_t *c, const char *method, const char *url, json_t *body, const char *const *headers, json_t **out);

/* Output. djs_client_print_json: indented, one value. djs_client_print_kv: one
 * "key  value" line per field, nested objects flattened as a.b. */
void djs_client_print_json(json_t *v);
void djs_client_print_kv(json_t *obj);
/* A value as table text into buf: strings as they are, null as "-",
 * objects and arrays as compact JSON cut to n; control characters become
 * '?' so names cannot drive the terminal. */
const char *djs_client_cell(json_t *v, char *buf, size_t n);

/* A table: rows of string cells (a JSON array of arrays), printed with
 * columns aligned. djs_client_table_new takes the header; djs_client_table_add one row of n
 * cells; djs_client_table_print prints and frees it. */
json_t *djs_client_table_new(const char *const *header, int n);
void djs_client_table_add(json_t *t, const char *const *cells, int n);
void djs_client_table_print(json_t *t);

/* Events (GET /events, /jobs/{id}/history) as one table: SEQ TIME TYPE
 * ACTOR ENTITY BODY; with_entity 0 leaves ENTITY out. */
void djs_client_print_events(json_t *events, int with_entity);
/* Drop the events after --at-seq, if given: the log is append-only, so
 * the events as of seq N are a prefix. 1 if any were dropped (no need to
 * ask for more pages). */
int djs_client_cut_at_seq(const djs_client_t *c, json_t *events);

#endif
