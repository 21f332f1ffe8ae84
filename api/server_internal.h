/* The HTTP front-end's rooms and what they share. Private to the .c files
 * of api/: not installed, included by no other folder.
 *
 *   server.c   the lifecycle: listener, connections, TLS, start and stop
 *   route.c    the route table, dispatch, and who may call what
 *              (authentication, rate limiting, roles, ownership)
 *   http.c     answers (text, JSON, problems), request parsing (JSON
 *              bodies, fields, query numbers, times, points in the log) and
 *              ack after durable
 *   jobs.c     jobs and workflows: submit, list, read, update, cancel,
 *              retry, delete, history, logs, output
 *   workers.c  workers: register, list, update, drain, deregister,
 *              heartbeat, the long poll, fenced and batched reports
 *   events.c   the log: events paging, state at a point, streams
 *   system.c   health, readiness, metrics, stats, shutdown
 *   pending.c  why a job is not running: the `pending` object of a job
 *              and the counts by reason of /stats
 *
 * Every handler has the route table's signature (djs__route_fn below) and is
 * called on the loop thread once the request is admitted. It answers
 * (now, or later from the loop thread: ack after durable, long poll) and
 * returns 0; a handler never returns an error code to h2o.
 *
 * Ownership: everything here borrows the server; answers are copied into
 * the request's pool.
 */
#ifndef DJS_API_SERVER_INTERNAL_H
#define DJS_API_SERVER_INTERNAL_H

#include <h2o.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "api/auth.h"
#include "api/prom.h"
#include "api/server.h"
#include "api/stream.h"
#include "core/buf.h"
#include "core/id.h"
#include "projections/pending.h"

#define DJS__PROBLEM_BASE "https://djs.dev/problems/"
#define DJS__MAX_JSON_DEPTH 32 /* nesting of a payload or a result */

/* Role masks of the route table. */
#define DJS__ROLE(x) (1u << DJS_ROLE_##x)
#define DJS__STAFF (DJS__ROLE(ADMIN) | DJS__ROLE(OPERATOR))

struct djs_server {
    djs_server_config_t cfg;
    uv_loop_t *loop;
    djs_engine_t *engine;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    int port;
    int stopping;
    struct poller *pollers; /* parked long-polls (workers.c) */
    int conns;              /* open connections */
    int listener_closed;
    SSL_CTX *ssl;           /* NULL: plain HTTP */
    struct bucket *buckets; /* rate limiting, per principal (route.c) */
    uint32_t nbuckets;
    struct auth_memo *memo;       /* tokens already verified (route.c) */
    struct used_code *used_codes; /* login codes taken, until they expire (session.c) */
    uint32_t nused_codes;
    djs_buf_t scratch;      /* answers rendered without jansson */
    djs_http_stats_t http;  /* requests by route and status, for /metrics */
    djs_streams_t *streams; /* WebSocket and SSE subscribers */
    struct conn *conn_list; /* open connections */
    uv_timer_t drain;       /* after stop: ends the connections that are still open */
    int drain_on;
    uint64_t digest_seq; /* the live state's digest, cached for this seq (0: none) */
    uint8_t digest[32];
};

/* The one h2o handler: every path goes through djs__on_req. */
typedef struct djs__handler {
    h2o_handler_t super;
    djs_server_t *server;
} djs__handler_t;

/* A route's handler: who is the admitted principal (zeroed on public
 * routes), id the parsed {id} segment (NULL when the route has none), arg
 * the route's constant argument (NULL when it has none). */
typedef int (*djs__route_fn)(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);

/* ---- route.c -------------------------------------------------------------------- */

/* h2o's on_req: limits, route, admission, then the route's handler. */
int djs__on_req(h2o_handler_t *self, h2o_req_t *req);
/* Frees the rate-limit buckets and the verified-token memo. */
void djs__access_dispose(djs_server_t *s);
/* 1 if who may act as worker wid (a worker token only for the worker
 * registered under its subject); else 0 after a 403 answer. */
int djs__worker_self(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *wid);
/* 1 if who may see the live job (a user only its own jobs); 0, no answer. */
int djs__owns(djs_server_t *s, const djs_principal_t *who, const djs_id_t *job);

/* ---- session.c: the dashboard's login (docs/ui.md) ----------------------------------- */

#define DJS__SESSION_COOKIE "djs_session"
#define DJS__MAX_USED_CODES 4096 /* login codes remembered at once (each until it expires) */

int djs__session_post(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__session_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__session_delete(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* Frees the table of login codes taken. */
void djs__session_dispose(djs_server_t *s);

/* ---- ui.c ------------------------------------------------------------------------------- */

/* The dashboard's files for "/", "/ui" and "/ui/..." (api/ui.h). Returns 0. */
int djs__ui_serve(djs_server_t *s, h2o_req_t *req);

/* ---- http.c: answers ----------------------------------------------------------------- */

/* Count the answer in the /metrics figures (route template, method, status, time). */
void djs__observe(h2o_req_t *req, int status);
/* Answer with JSON text (copied into the request's pool); a DJS-Seq header when seq > 0. */
void djs__send_text(h2o_req_t *req, int status, const char *text, size_t len, uint64_t seq);
void djs__send_json(h2o_req_t *req, int status, json_t *body, uint64_t seq);
/* djs__send_json, then drop the reference to body; returns 0. */
int djs__send_json_new(h2o_req_t *req, int status, json_t *body, uint64_t seq);
/* RFC 9457 problem details; type is a stable slug, detail may quote client
 * bytes (made valid UTF-8 here; NULL: the title). Returns 0. */
int djs__problem(h2o_req_t *req, int status, const char *type, const char *title, const char *detail);
/* djs__problem with extension members (RFC 9457 §3.2); ext is stolen. */
int djs__problem_ext(h2o_req_t *req, int status, const char *type, const char *title, const char *detail, json_t *ext);
/* An engine or log error as a status, slug and title. */
int djs__engine_status(int rc, const char **type, const char **title);
/* Answer rc as a problem, with the engine's message as detail. Returns 0. */
int djs__engine_problem(h2o_req_t *req, djs_engine_t *e, int rc);
/* Answer `body` (the reference is taken) once seq is durable; 503 if the
 * log fails first; nobody if the client left. Returns 0. */
/* A request answered later by something on the heap (a parked write, a
 * long-poll, a read waiting for min_seq, a cluster change): the link in
 * the request's pool clears *req_field and *link_field when the client
 * goes first, then calls gone(arg) (may be NULL); the owner calls
 * djs__req_unwatch(link_field) when it is done with the request (it has
 * answered, or drops it) so that the pool's end touches nothing. */
typedef struct djs__req_link djs__req_link_t;
void djs__req_watch(h2o_req_t *req, h2o_req_t **req_field, djs__req_link_t **link_field, void (*gone)(void *arg), void *arg);
void djs__req_unwatch(djs__req_link_t **link_field);

int djs__reply_when_durable(djs_server_t *s, h2o_req_t *req, uint64_t seq, int status, json_t *body);
/* The same with the answer text[0..len) (copied). */
int djs__reply_when_durable_text(djs_server_t *s, h2o_req_t *req, uint64_t seq, int status, const char *text, size_t len);

/* ---- http.c: requests -------------------------------------------------------------- */

/* The body as a JSON object; NULL after answering 415 or 400. An empty body is {}. */
json_t *djs__read_json_body(h2o_req_t *req);
/* 0 if j has only the allowed fields (NULL-terminated); else -1 after a
 * 400 naming the field with the prefix at ("" or "reports[3]."). */
int djs__only_fields_at(h2o_req_t *req, json_t *j, const char *const *allowed, const char *at);
int djs__only_fields(h2o_req_t *req, json_t *j, const char *const *allowed);
/* Answer 400 wrong-type: "<field> must be <what>". Returns 0. */
int djs__wrong_type(h2o_req_t *req, const char *field, const char *what);
/* 1 and *out if the header (by token, or by lowercase name when tok is NULL) is there. */
int djs__header_value(h2o_req_t *req, const h2o_token_t *tok, const char *name, h2o_iovec_t *out);
/* 1 if the Content-Type is `type` (case-insensitive), with or without parameters. */
int djs__media_type_is(h2o_req_t *req, const char *type);
/* A decimal query parameter: dflt when absent; -1 after a 400 when present
 * but not a non-negative integer. */
int djs__query_number(h2o_req_t *req, const char *name, uint64_t dflt, uint64_t *out);
/* An RFC 3339 time (2026-11-27T10:02:00Z, fractions, +01:00 offsets;
 * %3A and %2B escapes and a '+' sent as a space, as in query strings) as
 * ns since the epoch. Errors: DJS_EINVAL (malformed, before 1970, or past
 * what 64-bit ns hold, 2554). */
int djs__parse_rfc3339(const char *p, size_t len, uint64_t *ns);
/* The point a read is about: ?at_seq=N or ?as_of=RFC3339 (the last event
 * at or before that time); *given says whether either was. *seq = durable
 * seq when neither is given. 0, or -1 after a 400. */
int djs__read_point(djs_server_t *s, h2o_req_t *req, uint64_t *seq, int *given);
/* The items of the JSON array x as strings (pointing into x) in an array
 * from the request's pool, *n of them (*out NULL when none). DJS_EINVAL
 * when an item is not a string (nothing answered). The length is the
 * array's: the body cap bounds it (an item takes at least 3 bytes of body,
 * 16 here). */
int djs__json_strings(h2o_req_t *req, const json_t *x, const djs_str_t **out, uint32_t *n);
/* Append v as MessagePack to out. DJS_ETOOBIG when nested deeper than
 * DJS__MAX_JSON_DEPTH (out then holds a part: drop it). */
int djs__pack_json(djs_buf_t *out, const json_t *v);

/* ---- the handlers, by room ------------------------------------------------------------ */

/* jobs.c */
int djs__jobs_post(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__jobs_list(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__jobs_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__jobs_put(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* arg "retry" or "delete" */
int djs__jobs_command(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__jobs_cancel(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__jobs_history(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__jobs_logs(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__jobs_output(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* GET /workflows: the workflows of the live jobs with counts by status */
int djs__workflows_list(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* schedules.c: /schedules (post serves PUT /{id} too: the whole definition;
 * command's arg: "pause", "resume", "delete") */
int djs__schedules_post(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__schedules_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__schedules_command(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);

/* workers.c */
int djs__workers_post(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* id NULL: the list */
int djs__workers_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__workers_put(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__workers_delete(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__workers_heartbeat(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__workers_poll(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__workers_reports(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* POST /jobs/{id}/<arg>: arg "start", "progress", "complete" or "fail" */
int djs__workers_report(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* The engine's assignment callback: wakes the worker's parked polls. arg is the server. */
void djs__polls_on_assign(void *arg, const djs_id_t *worker, const djs_id_t *job);
/* Answer every parked poll now (empty lists) and retire it: at stop. */
void djs__polls_finish_all(djs_server_t *s);

/* events.c */
int djs__events_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__events_state(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* arg "sse" or a WebSocket stream kind ("events", "job-updates", ...) */
int djs__events_stream(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* Answer a page of the log: GET /events, or the history of job (not NULL). */
int djs__events_page(djs_server_t *s, h2o_req_t *req, const djs_id_t *job);

/* audit.c */
int djs__audit_get(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);

/* pending.c: the facts p (djs_pending_of, pending) of a job submitted
 * as sp, read from st (worker names), as the JSON object GET /jobs/{id}
 * shows: appended to b as text, or as a new jansson reference (the same
 * text read back). */
void djs__pending_text(djs_buf_t *b, const djs_state_t *st, const djs_pending_t *p, const djs_job_spec_t *sp);
json_t *djs__pending_json(const djs_state_t *st, const djs_pending_t *p, const djs_job_spec_t *sp);
/* {reason: count} of the pending jobs by primary reason (djs_pending_counts). */
json_t *djs__pending_counts_json(const djs_state_t *st);

/* system.c */
int djs__system_health(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__system_ready(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__system_metrics(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__system_stats(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__system_metrics_history(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__system_cluster(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__system_cluster_change(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
int djs__system_shutdown(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg);
/* Answer the system's figures now or at the request's point (with its time when with_ts). */
int djs__stats_reply(djs_server_t *s, h2o_req_t *req, int with_ts);

#endif
