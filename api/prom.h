/* Prometheus text exposition (format 0.0.4) of djs: GET /metrics.
 *
 * djs_prom_render writes every family from a djs_prom_input_t: the
 * projection's metrics (job counts, ready queues, workers, wait and run
 * histograms), the event log's writer statistics, and the HTTP request
 * statistics kept in a djs_http_stats_t that the server fills. Any input
 * pointer may be NULL: its families are then left out.
 *
 * Rules the output keeps (tests/test_prom.c checks them, and promtool
 * check metrics): every family has # HELP and # TYPE before its samples;
 * counters end in _total, durations are in seconds (_seconds); label values
 * are escaped (\\, \", \n); histograms are cumulative with le buckets in
 * increasing order ending with le="+Inf", equal to _count; no two samples
 * share a name and label set; the text ends with a newline.
 *
 * Families:
 *   djs_jobs{state}                    gauge, all 7 states always present
 *   djs_queue_ready{priority}          gauge, HIGH/NORMAL/LOW always present
 *   djs_jobs_delayed                   gauge
 *   djs_jobs_<event>_total             counters (submitted, completed, ...)
 *   djs_workers{status}                gauge, active/draining/lost
 *   djs_worker_slots, djs_worker_slots_busy, djs_worker_utilization_ratio
 *   djs_projection_events_total        events applied to the projection
 *   djs_job_wait_seconds, djs_job_run_seconds   histograms (djs_hist_bounds)
 *   djs_log_commits_total, djs_log_events_total, djs_log_bytes_total,
 *   djs_log_map_grows_total, djs_log_map_size_bytes, djs_log_last_seq,
 *   djs_log_durable_seq
 *   djs_log_commit_seconds             summary without quantiles: _sum and
 *                                      _count from the log's commit_ns_sum
 *                                      and commits (mean commit latency =
 *                                      rate(_sum)/rate(_count)); the log has
 *                                      no per-commit hook, so no histogram
 *   djs_log_commit_max_seconds         gauge, slowest commit since start
 *   djs_http_requests_total{route,method,status}   counter; status is the
 *                                      class ("2xx" ... "5xx", "other")
 *   djs_http_request_duration_seconds{route}       histogram
 *   djs_log_failed                     gauge, 1 once the log refuses writes
 *                                      (fail-stop: the server exits soon
 *                                      after), else 0; with log_stats
 *   djs_stream_subscribers             gauge, open WebSocket/SSE streams
 *   djs_stream_subscribers_dropped_total  counter, subscribers the server
 *                                      dropped (too slow: no progress for
 *                                      stall-ms; silent for 3 pings)
 *   process_cpu_seconds_total, process_resident_memory_bytes,
 *   process_start_time_seconds         the standard process families
 *
 * Threading: djs_http_stats_t is not synchronized; observe and render on
 * the same thread (the loop thread).
 */
#ifndef DJS_API_PROM_H
#define DJS_API_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "eventlog/log.h"
#include "projections/state.h"

/* ---- HTTP request statistics ------------------------------------------- */

/* Distinct routes kept; further routes are counted under route="other"
 * (as is a route literally named "other"). */
#define DJS_HTTP_MAX_ROUTES 64
/* Route labels longer than this are truncated (at a UTF-8 boundary). */
#define DJS_HTTP_ROUTE_MAX 200
/* GET HEAD POST PUT PATCH DELETE OPTIONS, and "other" */
#define DJS_HTTP_NMETHODS 8
/* 1xx 2xx 3xx 4xx 5xx, and "other" (outside 100..599) */
#define DJS_HTTP_NCLASSES 6
/* Request-duration buckets (seconds), see djs_http_duration_bounds. */
#define DJS_HTTP_DURATION_BUCKETS 14
extern const double djs_http_duration_bounds[DJS_HTTP_DURATION_BUCKETS];

typedef struct djs_http_route_stats {
    char *name; /* owned, sanitized (valid UTF-8, bounded); NULL = unused */
    uint64_t requests[DJS_HTTP_NMETHODS][DJS_HTTP_NCLASSES];
    uint64_t bucket[DJS_HTTP_DURATION_BUCKETS + 1]; /* per bucket (not cumulative); last = +Inf */
    uint64_t count;
    uint64_t sum_ns;
} djs_http_route_stats_t;

typedef struct djs_http_stats {
    djs_http_route_stats_t routes[DJS_HTTP_MAX_ROUTES];
    uint32_t nroutes;
    djs_http_route_stats_t other; /* overflow, rendered as route="other" */
} djs_http_stats_t;

void djs_http_stats_init(djs_http_stats_t *hs);
/* Count one request. route should be the route template ("/v1/jobs/{id}"),
 * not the raw path, so that the label set stays small; NULL counts as
 * "other". method is matched case-sensitively; status is the HTTP status
 * code. */
void djs_http_stats_observe(djs_http_stats_t *hs, const char *route, const char *method, int status, uint64_t duration_ns);
void djs_http_stats_dispose(djs_http_stats_t *hs);

/* ---- rendering ------------------------------------------------------------- */

/* ---- the process and the streams ---------------------------------------- */

typedef struct djs_prom_process {
    double cpu_seconds;      /* user + system CPU time used */
    uint64_t resident_bytes; /* resident set size now */
    double start_time;       /* when the process started, Unix time in seconds */
} djs_prom_process_t;

/* Read this process's figures: getrusage for the CPU time, /proc/self/statm
 * for the resident size, /proc/self/stat and /proc/stat's btime for the
 * start time (Linux). Fields that cannot be read are left 0. Errors:
 * DJS_EIO when a /proc file cannot be read or parsed (out is still
 * filled as far as it could be). */
int djs_prom_process_read(djs_prom_process_t *out);

typedef struct djs_prom_streams {
    uint32_t subscribers; /* djs_streams_count() */
    uint64_t dropped;     /* djs_streams_dropped() */
} djs_prom_streams_t;

/* A cluster node's Raft view (cluster/cluster.h, djs_cluster_get_status). */
typedef struct djs_prom_cluster {
    int leading;      /* leads and takes writes */
    int leader_known; /* a leader is known (this node or another) */
    uint64_t term, commit_index, last_applied, elections_won;
    uint32_t voters;
} djs_prom_cluster_t;

typedef struct djs_prom_input {
    const djs_metrics_t *metrics;      /* djs_state_metrics(); NULL = leave out */
    const djs_log_stats_t *log_stats;  /* djs_log_get_stats(); NULL = leave out the log families */
    uint64_t log_map_size;             /* djs_log_map_size(), bytes */
    uint64_t log_last_seq;             /* djs_log_last_seq() */
    uint64_t log_durable_seq;          /* djs_log_durable_seq() */
    int log_failed;                    /* with log_stats: djs_log_status() != 0 */
    const djs_http_stats_t *http;      /* NULL = leave out */
    const djs_prom_process_t *process; /* NULL = leave out the process families */
    const djs_prom_streams_t *streams; /* NULL = leave out the stream families */
    const djs_prom_cluster_t *cluster; /* a cluster node; NULL = leave out the cluster families */
} djs_prom_input_t;

/* Content-Type of the output. */
#define DJS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append the exposition text to out. */
void djs_prom_render(djs_buf_t *out, const djs_prom_input_t *in);

#endif
