/* Prometheus text exposition (format 0.0.4). See prom.h. */
#include "api/prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/job.h"

const double djs_http_duration_bounds[DJS_HTTP_DURATION_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};

static const char *const http_methods[DJS_HTTP_NMETHODS] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"};
static const char *const http_classes[DJS_HTTP_NCLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};

/* ---- HTTP statistics ------------------------------------------------------- */

void djs_http_stats_init(djs_http_stats_t *hs)
{
    memset(hs, 0, sizeof *hs);
}

void djs_http_stats_dispose(djs_http_stats_t *hs)
{
    for (uint32_t i = 0; i < hs->nroutes; i++)
        djs_free(hs->routes[i].name);
    memset(hs, 0, sizeof *hs);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Copy route into out (DJS_HTTP_ROUTE_MAX + 1 bytes) as valid UTF-8: invalid
 * bytes become '?', NUL ends it, truncated at a sequence boundary. Sanitizing
 * before the lookup keeps distinct stored names distinct as labels. */
static void sanitize_route(const char *route, char *out)
{
    const unsigned char *s = (const unsigned char *)route;
    size_t n = strlen(route), i = 0, o = 0;
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i);
        if (k == 0) {
            if (o + 1 > DJS_HTTP_ROUTE_MAX)
                break;
            out[o++] = '?';
            i++;
            continue;
        }
        if (o + k > DJS_HTTP_ROUTE_MAX)
            break;
        memcpy(out + o, s + i, k);
        o += k;
        i += k;
    }
    out[o] = '\0';
}

static int method_index(const char *m)
{
    if (m)
        for (int i = 0; i < DJS_HTTP_NMETHODS - 1; i++)
            if (strcmp(m, http_methods[i]) == 0)
                return i;
    return DJS_HTTP_NMETHODS - 1;
}

static djs_http_route_stats_t *route_entry(djs_http_stats_t *hs, const char *route)
{
    if (!route)
        return &hs->other;
    char name[DJS_HTTP_ROUTE_MAX + 1];
    sanitize_route(route, name);
    if (strcmp(name, "other") == 0)
        return &hs->other;
    /* linear: at most 64 short names, on the loop thread */
    for (uint32_t i = 0; i < hs->nroutes; i++)
        if (strcmp(hs->routes[i].name, name) == 0)
            return &hs->routes[i];
    if (hs->nroutes >= DJS_HTTP_MAX_ROUTES)
        return &hs->other;
    djs_http_route_stats_t *r = &hs->routes[hs->nroutes++];
    r->name = djs_strndup(name, strlen(name));
    return r;
}

void djs_http_stats_observe(djs_http_stats_t *hs, const char *route, const char *method, int status, uint64_t duration_ns)
{
    djs_http_route_stats_t *r = route_entry(hs, route);
    int cls = status >= 100 && status <= 599 ? status / 100 - 1 : DJS_HTTP_NCLASSES - 1;
    r->requests[method_index(method)][cls]++;
    double s = (double)duration_ns / 1e9;
    int b = 0;
    while (b < DJS_HTTP_DURATION_BUCKETS && s > djs_http_duration_bounds[b])
        b++;
    r->bucket[b]++;
    r->count++;
    r->sum_ns += duration_ns;
}

/* ---- the process ------------------------------------------------------------ */

/* Resident pages: the second field of /proc/self/statm. */
static int read_resident(uint64_t *bytes)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return DJS_EIO;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (n != 2)
        return DJS_EIO;
    long page = sysconf(_SC_PAGESIZE);
    *bytes = (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
    return 0;
}

/* The boot time, from the btime line of /proc/stat (its other lines can be
 * long: read by getline). */
static int read_boot_time(double *btime)
{
    int rc = DJS_EIO;
    char *line = NULL;
    size_t cap = 0;
    unsigned long long bt;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return DJS_EIO;
    while (getline(&line, &cap, f) > 0)
        if (sscanf(line, "btime %llu", &bt) == 1) {
            *btime = (double)bt;
            rc = 0;
            break;
        }
    free(line);
    fclose(f);
    return rc;
}

/* Seconds from boot to the start of this process: field 22 of
 * /proc/self/stat, counted after the command name's closing parenthesis
 * (the name itself may hold spaces and parentheses). */
static int read_start_after_boot(double *secs)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return DJS_EIO;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return DJS_EIO;
    for (int field = 3; field <= 22 && p != NULL; field++) /* p: the space before this field */
        p = strchr(p + 1, ' ');
    long hz = sysconf(_SC_CLK_TCK);
    if (p == NULL || hz <= 0)
        return DJS_EIO;
    *secs = (double)strtoull(p + 1, NULL, 10) / (double)hz;
    return 0;
}

int djs_prom_process_read(djs_prom_process_t *out)
{
    int rc = 0;
    double btime = 0, after = 0;
    struct rusage ru;
    memset(out, 0, sizeof *out);
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                           (double)ru.ru_stime.tv_usec / 1e6;
    else
        rc = DJS_EIO;
    if (read_resident(&out->resident_bytes) != 0)
        rc = DJS_EIO;
    if (read_boot_time(&btime) == 0 && read_start_after_boot(&after) == 0)
        out->start_time = btime + after;
    else
        rc = DJS_EIO;
    return rc;
}

/* ---- text output ------------------------------------------------------------- */

static void put(djs_buf_t *out, const char *s)
{
    djs_buf_append(out, s, strlen(s));
}

static void putf(djs_buf_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(djs_buf_t *out, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        djs_buf_append(out, tmp, (size_t)n);
        return;
    }
    char *p = (char *)djs_buf_reserve(out, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    out->len += (size_t)n;
}

/* A float in the shortest form that reads back exactly; +Inf, -Inf, NaN. */
static void fmt_double(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void put_double(djs_buf_t *out, double v)
{
    char tmp[40];
    fmt_double(tmp, sizeof tmp, v);
    put(out, tmp);
}

/* A label value, escaped: backslash, double quote, line feed. */
static void put_label_value(djs_buf_t *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '\\':
            put(out, "\\\\");
            break;
        case '"':
            put(out, "\\\"");
            break;
        case '\n':
            put(out, "\\n");
            break;
        default:
            djs_buf_append(out, p, 1);
        }
    }
}

static void family(djs_buf_t *out, const char *name, const char *type, const char *help)
{
    putf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(djs_buf_t *out, const char *name, uint64_t v)
{
    putf(out, "%s %" PRIu64 "\n", name, v);
}

static void sample_label_u64(djs_buf_t *out, const char *name, const char *label, const char *value, uint64_t v)
{
    putf(out, "%s{%s=\"", name, label);
    put_label_value(out, value);
    putf(out, "\"} %" PRIu64 "\n", v);
}

static void counter(djs_buf_t *out, const char *name, const char *help, uint64_t v)
{
    family(out, name, "counter", help);
    sample_u64(out, name, v);
}

static void gauge(djs_buf_t *out, const char *name, const char *help, uint64_t v)
{
    family(out, name, "gauge", help);
    sample_u64(out, name, v);
}

/* One histogram series: per-bucket counts (nb bounds + the +Inf bucket),
 * made cumulative here. labels is either "" or `key="escaped",` (with the
 * trailing comma, so le can follow). _count is the +Inf bucket, so the two
 * always agree even if n were out of step. */
static void histogram_series(djs_buf_t *out, const char *name, const char *labels, const double *bounds, int nb,
                             const uint64_t *per_bucket, double sum)
{
    uint64_t cum = 0;
    for (int i = 0; i <= nb; i++) {
        cum += per_bucket[i];
        char le[40];
        if (i < nb)
            fmt_double(le, sizeof le, bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        putf(out, "%s_bucket{%sle=\"%s\"} %" PRIu64 "\n", name, labels, le, cum);
    }
    size_t ll = strlen(labels);
    if (ll) /* drop the trailing comma */
        putf(out, "%s_sum{%.*s} ", name, (int)(ll - 1), labels);
    else
        putf(out, "%s_sum ", name);
    put_double(out, sum);
    put(out, "\n");
    if (ll)
        putf(out, "%s_count{%.*s} %" PRIu64 "\n", name, (int)(ll - 1), labels, cum);
    else
        putf(out, "%s_count %" PRIu64 "\n", name, cum);
}

static void render_metrics(djs_buf_t *out, const djs_metrics_t *m)
{
    family(out, "djs_jobs", "gauge", "Jobs known to the scheduler, by state.");
    for (int s = 0; s < DJS_JOB_NSTATES; s++)
        sample_label_u64(out, "djs_jobs", "state", djs_job_state_name(s), m->by_state[s]);

    family(out, "djs_queue_ready", "gauge", "Queued jobs ready to run, by priority tier.");
    for (int p = 0; p < DJS_NPRIO; p++)
        sample_label_u64(out, "djs_queue_ready", "priority", djs_priority_name(p), m->ready[p]);

    gauge(out, "djs_jobs_delayed", "Jobs waiting for their scheduled time or a retry time.", m->delayed);

    counter(out, "djs_jobs_submitted_total", "Jobs submitted.", m->submitted);
    counter(out, "djs_jobs_completed_total", "Jobs completed.", m->completed);
    counter(out, "djs_jobs_failed_total", "Jobs that failed for good.", m->failed);
    counter(out, "djs_jobs_cancelled_total", "Jobs cancelled.", m->cancelled);
    counter(out, "djs_jobs_deleted_total", "Jobs deleted.", m->deleted);
    counter(out, "djs_jobs_timed_out_total", "Job attempts that ran past their timeout.", m->timed_out);
    counter(out, "djs_jobs_retried_total", "Job retries.", m->retried);
    counter(out, "djs_jobs_lease_expired_total", "Job assignments whose lease expired before the worker started them.",
            m->lease_expired);
    counter(out, "djs_jobs_upstream_failed_total", "Jobs failed because a dependency failed.", m->upstream_failed);

    family(out, "djs_workers", "gauge", "Registered workers, by status.");
    sample_label_u64(out, "djs_workers", "status", "active", m->workers_active);
    sample_label_u64(out, "djs_workers", "status", "draining", m->workers_draining);
    sample_label_u64(out, "djs_workers", "status", "lost", m->workers_lost);

    gauge(out, "djs_worker_slots", "Job slots over active workers.", m->slots_total);
    gauge(out, "djs_worker_slots_busy", "Busy job slots over active workers.", m->slots_busy);
    family(out, "djs_worker_utilization_ratio", "gauge", "Busy slots over total slots of active workers (0 when there are none).");
    put(out, "djs_worker_utilization_ratio ");
    put_double(out, m->slots_total ? (double)m->slots_busy / (double)m->slots_total : 0.0);
    put(out, "\n");

    counter(out, "djs_projection_events_total", "Events applied to the scheduler state.", m->events);

    family(out, "djs_job_wait_seconds", "histogram", "Time jobs waited in the ready queue before starting.");
    histogram_series(out, "djs_job_wait_seconds", "", djs_hist_bounds, DJS_HIST_BUCKETS, m->wait.count, m->wait.sum);
    family(out, "djs_job_run_seconds", "histogram", "Time job attempts ran.");
    histogram_series(out, "djs_job_run_seconds", "", djs_hist_bounds, DJS_HIST_BUCKETS, m->run.count, m->run.sum);
}

static void render_log(djs_buf_t *out, const djs_prom_input_t *in)
{
    const djs_log_stats_t *ls = in->log_stats;
    counter(out, "djs_log_commits_total", "Event log write transactions committed.", ls->commits);
    counter(out, "djs_log_events_total", "Events committed to the log.", ls->events);
    counter(out, "djs_log_bytes_total", "Record bytes committed to the log.", ls->bytes);
    family(out, "djs_log_commit_seconds", "summary", "Time in put, commit and fsync per log commit.");
    put(out, "djs_log_commit_seconds_sum ");
    put_double(out, (double)ls->commit_ns_sum / 1e9);
    put(out, "\n");
    sample_u64(out, "djs_log_commit_seconds_count", ls->commits);
    family(out, "djs_log_commit_max_seconds", "gauge", "Slowest log commit since start.");
    put(out, "djs_log_commit_max_seconds ");
    put_double(out, (double)ls->commit_ns_max / 1e9);
    put(out, "\n");
    counter(out, "djs_log_map_grows_total", "Times the log's memory map was grown.", ls->map_grows);
    gauge(out, "djs_log_map_size_bytes", "Size of the log's memory map.", in->log_map_size);
    gauge(out, "djs_log_last_seq", "Seq of the last event appended.", in->log_last_seq);
    gauge(out, "djs_log_durable_seq", "Seq of the last durable event.", in->log_durable_seq);
    gauge(out, "djs_log_failed", "1 once the event log refuses writes (fail-stop; the server then exits), else 0.",
          in->log_failed ? 1 : 0);
}

static void gauge_double(djs_buf_t *out, const char *name, const char *help, double v)
{
    family(out, name, "gauge", help);
    putf(out, "%s ", name);
    put_double(out, v);
    put(out, "\n");
}

static void render_process(djs_buf_t *out, const djs_prom_process_t *p)
{
    family(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    put(out, "process_cpu_seconds_total ");
    put_double(out, p->cpu_seconds);
    put(out, "\n");
    gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", p->resident_bytes);
    gauge_double(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", p->start_time);
}

static void render_streams(djs_buf_t *out, const djs_prom_streams_t *st)
{
    gauge(out, "djs_stream_subscribers", "Open WebSocket and SSE stream subscribers.", st->subscribers);
    counter(out, "djs_stream_subscribers_dropped_total",
            "Stream subscribers dropped by the server (no progress for stall-ms, or silent for 3 pings).", st->dropped);
}

static const djs_http_route_stats_t *http_route(const djs_http_stats_t *hs, uint32_t i)
{
    return i < hs->nroutes ? &hs->routes[i] : &hs->other;
}

static void render_http(djs_buf_t *out, const djs_http_stats_t *hs)
{
    uint32_t n = hs->nroutes + 1; /* + other */
    family(out, "djs_http_requests_total", "counter", "HTTP requests, by route, method and status class.");
    for (uint32_t i = 0; i < n; i++) {
        const djs_http_route_stats_t *r = http_route(hs, i);
        const char *name = i < hs->nroutes ? r->name : "other";
        for (int m = 0; m < DJS_HTTP_NMETHODS; m++)
            for (int c = 0; c < DJS_HTTP_NCLASSES; c++) {
                if (!r->requests[m][c])
                    continue;
                put(out, "djs_http_requests_total{route=\"");
                put_label_value(out, name);
                putf(out, "\",method=\"%s\",status=\"%s\"} %" PRIu64 "\n", http_methods[m], http_classes[c], r->requests[m][c]);
            }
    }
    family(out, "djs_http_request_duration_seconds", "histogram", "HTTP request duration, by route.");
    djs_buf_t labels;
    djs_buf_init(&labels);
    for (uint32_t i = 0; i < n; i++) {
        const djs_http_route_stats_t *r = http_route(hs, i);
        if (!r->count)
            continue;
        djs_buf_reset(&labels);
        put(&labels, "route=\"");
        put_label_value(&labels, i < hs->nroutes ? r->name : "other");
        put(&labels, "\",");
        djs_buf_append(&labels, "", 1); /* NUL, not counted */
        labels.len--;
        histogram_series(out, "djs_http_request_duration_seconds", (const char *)labels.base, djs_http_duration_bounds,
                         DJS_HTTP_DURATION_BUCKETS, r->bucket, (double)r->sum_ns / 1e9);
    }
    djs_buf_dispose(&labels);
}

static void render_cluster(djs_buf_t *out, const djs_prom_cluster_t *c)
{
    gauge(out, "djs_cluster_leader", "1 while this node leads the cluster and takes writes, else 0.", c->leading ? 1 : 0);
    gauge(out, "djs_cluster_leader_known", "1 while this node knows a leader (itself or another), else 0 (an election).",
          c->leader_known ? 1 : 0);
    gauge(out, "djs_cluster_term", "This node's current Raft term.", c->term);
    gauge(out, "djs_cluster_commit_index", "The Raft commit index as this node knows it.", c->commit_index);
    gauge(out, "djs_cluster_apply_lag_entries", "Committed Raft entries not yet applied on this node.",
          c->commit_index > c->last_applied ? c->commit_index - c->last_applied : 0);
    counter(out, "djs_cluster_elections_won_total", "Times this process took the lead.", c->elections_won);
    gauge(out, "djs_cluster_voters", "Voters in the cluster's configuration.", c->voters);
}

void djs_prom_render(djs_buf_t *out, const djs_prom_input_t *in)
{
    if (in->metrics)
        render_metrics(out, in->metrics);
    if (in->log_stats)
        render_log(out, in);
    if (in->http)
        render_http(out, in->http);
    if (in->streams)
        render_streams(out, in->streams);
    if (in->process)
        render_process(out, in->process);
    if (in->cluster)
        render_cluster(out, in->cluster);
}
