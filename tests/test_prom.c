/* The Prometheus exposition: rendered text parsed back by a small line
 * parser and checked against the format's rules, then by promtool. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/prom.h"
#include "core/buf.h"
#include "testutil.h"

/* ---- a small parser for the text format ------------------------------------- */

#define MAXL 8

typedef struct label {
    char key[64];
    char val[512]; /* decoded */
} label_t;

typedef struct sample {
    char name[128];
    label_t labels[MAXL];
    int nlabels;
    char key[2048];  /* name{k="v",...} sorted, decoded: for duplicate checks */
    char nole[2048]; /* name-less labels without le: groups a histogram's series */
    char le[40];
    double value;
    int family; /* index into families */
} sample_t;

typedef struct fam {
    char name[128];
    char type[16];
    int help, type_seen, nsamples;
} fam_t;

typedef struct expo {
    sample_t *s;
    int ns, caps;
    fam_t f[256];
    int nf;
} expo_t;

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const label_t *)a)->key, ((const label_t *)b)->key);
}

static int find_family(expo_t *e, const char *name)
{
    for (int i = 0; i < e->nf; i++)
        if (strcmp(e->f[i].name, name) == 0)
            return i;
    return -1;
}

static int add_family(expo_t *e, const char *name)
{
    int i = find_family(e, name);
    if (i >= 0)
        return i;
    ck_assert_int_lt(e->nf, 256);
    snprintf(e->f[e->nf].name, sizeof e->f[0].name, "%s", name);
    return e->nf++;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The family a sample belongs to: its own name, or for histograms and
 * summaries its name without _bucket/_sum/_count. */
static int sample_family(expo_t *e, const char *name)
{
    static const char *const sufs[] = {"_bucket", "_sum", "_count"};
    for (int k = 0; k < 3; k++) {
        if (!ends_with(name, sufs[k]))
            continue;
        char base[128];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(name) - strlen(sufs[k])), name);
        int f = find_family(e, base);
        if (f >= 0 && (strcmp(e->f[f].type, "histogram") == 0 || (k > 0 && strcmp(e->f[f].type, "summary") == 0)))
            return f;
    }
    return find_family(e, name);
}

static void parse_sample(expo_t *e, const char *line, int last_family)
{
    if (e->ns == e->caps) {
        e->caps = e->caps ? e->caps * 2 : 256;
        e->s = realloc(e->s, (size_t)e->caps * sizeof *e->s);
        ck_assert_ptr_nonnull(e->s);
    }
    sample_t *s = &e->s[e->ns++];
    memset(s, 0, sizeof *s);
    const char *p = line;
    size_t n = strcspn(p, "{ ");
    ck_assert_uint_lt(n, sizeof s->name);
    memcpy(s->name, p, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg((s->name[i] >= 'a' && s->name[i] <= 'z') || (s->name[i] >= '0' && s->name[i] <= '9') || s->name[i] == '_',
                      "not snake_case: %s", s->name);
    p += n;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            ck_assert_int_lt(s->nlabels, MAXL);
            label_t *l = &s->labels[s->nlabels++];
            size_t k = strcspn(p, "=");
            ck_assert_uint_lt(k, sizeof l->key);
            memcpy(l->key, p, k);
            p += k;
            ck_assert_int_eq(*p++, '=');
            ck_assert_int_eq(*p++, '"');
            size_t o = 0;
            while (*p != '"') {
                ck_assert_msg(*p != '\0' && *p != '\n', "unterminated label value in: %s", line);
                char c = *p++;
                if (c == '\\') {
                    c = *p++;
                    ck_assert_msg(c == '\\' || c == '"' || c == 'n', "bad escape in: %s", line);
                    if (c == 'n')
                        c = '\n';
                }
                ck_assert_uint_lt(o, sizeof l->val - 1);
                l->val[o++] = c;
            }
            p++;
            if (*p == ',')
                p++;
        }
        p++;
    }
    ck_assert_int_eq(*p++, ' ');
    char *end;
    s->value = strtod(p, &end);
    ck_assert_msg(end != p && *end == '\0', "bad value in: %s", line);

    qsort(s->labels, (size_t)s->nlabels, sizeof s->labels[0], label_cmp);
    size_t kl = (size_t)snprintf(s->key, sizeof s->key, "%s{", s->name);
    for (int i = 0; i < s->nlabels; i++) {
        kl += (size_t)snprintf(s->key + kl, sizeof s->key - kl, "%s=\"%s\",", s->labels[i].key, s->labels[i].val);
        if (strcmp(s->labels[i].key, "le") == 0)
            snprintf(s->le, sizeof s->le, "%s", s->labels[i].val);
        else {
            size_t nl = strlen(s->nole);
            snprintf(s->nole + nl, sizeof s->nole - nl, "%s=%s,", s->labels[i].key, s->labels[i].val);
        }
    }
    ck_assert_uint_lt(kl, sizeof s->key);
    snprintf(s->key + kl, sizeof s->key - kl, "}");

    s->family = sample_family(e, s->name);
    ck_assert_msg(s->family >= 0, "sample before its # TYPE: %s", line);
    fam_t *f = &e->f[s->family];
    ck_assert_msg(f->help && f->type_seen, "sample before # HELP and # TYPE: %s", line);
    ck_assert_msg(s->family == last_family, "family %s not contiguous: %s", f->name, line);
    f->nsamples++;
}

/* Parse text (NUL-terminated) into e, checking the structure as it goes. */
static void parse(expo_t *e, char *text)
{
    memset(e, 0, sizeof *e);
    size_t len = strlen(text);
    ck_assert_msg(len == 0 || text[len - 1] == '\n', "output does not end with a newline");
    int last = -1;
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        ck_assert_msg(*line != '\0', "empty line");
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
            char name[128], rest[256];
            ck_assert_int_eq(sscanf(line + 7, "%127s %255[^\n]", name, rest), 2);
            int existed = find_family(e, name) >= 0;
            int f = add_family(e, name);
            ck_assert_msg(!existed || f == last, "family %s split", name);
            ck_assert_msg(e->f[f].nsamples == 0, "# line after samples of %s", name);
            if (line[2] == 'H') {
                ck_assert_msg(!e->f[f].help, "two HELP for %s", name);
                e->f[f].help = 1;
            } else {
                ck_assert_msg(!e->f[f].type_seen, "two TYPE for %s", name);
                ck_assert_msg(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0 || strcmp(rest, "histogram") == 0 ||
                                  strcmp(rest, "summary") == 0,
                              "bad type %s", rest);
                snprintf(e->f[f].type, sizeof e->f[f].type, "%s", rest);
                e->f[f].type_seen = 1;
            }
            last = f;
            continue;
        }
        ck_assert_msg(line[0] != '#', "unexpected comment: %s", line);
        parse_sample(e, line, last);
    }
}

static void expo_free(expo_t *e)
{
    free(e->s);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(((const sample_t *)a)->key, ((const sample_t *)b)->key);
}

static const sample_t *find_sample(const expo_t *e, const char *name, const char *nole)
{
    for (int i = 0; i < e->ns; i++)
        if (strcmp(e->s[i].name, name) == 0 && strcmp(e->s[i].nole, nole) == 0 && e->s[i].le[0] == '\0')
            return &e->s[i];
    return NULL;
}

/* Every rule of the format that the tests care about. */
static void check_rules(expo_t *e)
{
    for (int i = 0; i < e->nf; i++) {
        fam_t *f = &e->f[i];
        ck_assert_msg(f->help && f->type_seen, "family %s lacks HELP or TYPE", f->name);
        if (strcmp(f->type, "counter") == 0)
            ck_assert_msg(ends_with(f->name, "_total"), "counter %s does not end in _total", f->name);
        else
            ck_assert_msg(!ends_with(f->name, "_total"), "non-counter %s ends in _total", f->name);
    }
    /* histograms: per series, le increasing, counts non-decreasing, ends with
     * +Inf equal to _count, _sum present */
    for (int i = 0; i < e->ns; i++) {
        const sample_t *s = &e->s[i];
        fam_t *f = &e->f[s->family];
        if (strcmp(f->type, "histogram") != 0 || !ends_with(s->name, "_bucket"))
            continue;
        if (i > 0 && strcmp(e->s[i - 1].name, s->name) == 0 && strcmp(e->s[i - 1].nole, s->nole) == 0)
            continue; /* not the first bucket of its series */
        double prev_le = -INFINITY, prev_v = 0;
        int j = i, saw_inf = 0;
        for (; j < e->ns && strcmp(e->s[j].name, s->name) == 0 && strcmp(e->s[j].nole, s->nole) == 0; j++) {
            ck_assert_msg(!saw_inf, "bucket after +Inf in %s", s->key);
            ck_assert_msg(e->s[j].le[0], "bucket without le in %s", e->s[j].key);
            double le = strcmp(e->s[j].le, "+Inf") == 0 ? INFINITY : strtod(e->s[j].le, NULL);
            ck_assert_msg(le > prev_le, "le not increasing in %s", e->s[j].key);
            ck_assert_msg(e->s[j].value >= prev_v, "bucket count decreasing in %s", e->s[j].key);
            prev_le = le;
            prev_v = e->s[j].value;
            saw_inf = isinf(le);
        }
        ck_assert_msg(saw_inf, "no le=\"+Inf\" in %s", s->key);
        char nm[160];
        snprintf(nm, sizeof nm, "%s_count", f->name);
        const sample_t *c = find_sample(e, nm, s->nole);
        ck_assert_msg(c != NULL, "no %s for %s", nm, s->key);
        ck_assert_msg(c->value == prev_v, "+Inf %g != _count %g in %s", prev_v, c->value, s->key);
        snprintf(nm, sizeof nm, "%s_sum", f->name);
        ck_assert_msg(find_sample(e, nm, s->nole) != NULL, "no %s for %s", nm, s->key);
    }
    /* no duplicate series */
    sample_t *copy = malloc((size_t)e->ns * sizeof *copy + 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, e->s, (size_t)e->ns * sizeof *copy);
    qsort(copy, (size_t)e->ns, sizeof *copy, key_cmp);
    for (int i = 1; i < e->ns; i++)
        ck_assert_msg(strcmp(copy[i - 1].key, copy[i].key) != 0, "duplicate series %s", copy[i].key);
    free(copy);
}

/* ---- sample inputs ------------------------------------------------------------ */

static void fill_hist(djs_hist_t *h, uint64_t seed)
{
    for (int b = 0; b <= DJS_HIST_BUCKETS; b++) {
        h->count[b] = seed + (uint64_t)b % 3;
        h->n += h->count[b];
    }
    h->sum = 1234.5 + (double)seed;
}

static void fill_sample(djs_metrics_t *m, djs_log_stats_t *ls, djs_http_stats_t *hs)
{
    memset(m, 0, sizeof *m);
    for (int s = 0; s < DJS_JOB_NSTATES; s++)
        m->by_state[s] = 10 + (uint64_t)s;
    for (int p = 0; p < DJS_NPRIO; p++)
        m->ready[p] = 3 + (uint64_t)p;
    m->delayed = 4;
    m->submitted = 100, m->completed = 60, m->failed = 5, m->cancelled = 6, m->deleted = 7;
    m->timed_out = 8, m->retried = 9, m->lease_expired = 2, m->upstream_failed = 1;
    m->workers_active = 3, m->workers_draining = 1, m->workers_lost = 2;
    m->slots_total = 12, m->slots_busy = 5, m->events = 999;
    fill_hist(&m->wait, 1);
    fill_hist(&m->run, 2);
    memset(ls, 0, sizeof *ls);
    ls->commits = 50, ls->events = 999, ls->bytes = 123456, ls->commit_ns_sum = 2500000000ULL;
    ls->commit_ns_max = 30000000, ls->map_grows = 1;
    djs_http_stats_init(hs);
    djs_http_stats_observe(hs, "/v1/jobs", "POST", 201, 1500000);
    djs_http_stats_observe(hs, "/v1/jobs", "POST", 400, 200000);
    djs_http_stats_observe(hs, "/v1/jobs", "GET", 200, 800000);
    djs_http_stats_observe(hs, "/v1/jobs/{id}", "GET", 404, 100000);
    djs_http_stats_observe(hs, "/v1/jobs/{id}", "DELETE", 204, 30000000000ULL); /* beyond the last bound */
    djs_http_stats_observe(hs, "/metrics", "GET", 200, 500000);
    djs_http_stats_observe(hs, "/v1/workers", "BREW", 503, 2000000);
    djs_http_stats_observe(hs, "/v1/workers", "GET", 999, 2000000);
    djs_http_stats_observe(hs, NULL, "GET", 404, 50000);
}

static char *render(const djs_prom_input_t *in)
{
    djs_buf_t b;
    djs_buf_init(&b);
    djs_prom_render(&b, in);
    char *text = malloc(b.len + 1);
    ck_assert_ptr_nonnull(text);
    if (b.len)
        memcpy(text, b.base, b.len);
    text[b.len] = '\0';
    djs_buf_dispose(&b);
    return text;
}

static char *render_sample(djs_http_stats_t *hs)
{
    djs_metrics_t m;
    djs_log_stats_t ls;
    fill_sample(&m, &ls, hs);
    djs_prom_process_t proc = {.cpu_seconds = 12.25, .resident_bytes = 64u << 20, .start_time = 1700000000.5};
    djs_prom_streams_t streams = {.subscribers = 3, .dropped = 2};
    djs_prom_input_t in = {.metrics = &m,
                           .log_stats = &ls,
                           .log_map_size = 1 << 30,
                           .log_last_seq = 1000,
                           .log_durable_seq = 998,
                           .log_failed = 1,
                           .http = hs,
                           .process = &proc,
                           .streams = &streams};
    return render(&in);
}

static double value_of(const expo_t *e, const char *key)
{
    for (int i = 0; i < e->ns; i++)
        if (strcmp(e->s[i].key, key) == 0)
            return e->s[i].value;
    ck_abort_msg("no series %s", key);
    return NAN;
}

/* ---- tests ------------------------------------------------------------------------- */

START_TEST(sample_follows_the_rules)
{
    djs_http_stats_t hs;
    char *text = render_sample(&hs);
    expo_t e;
    parse(&e, text);
    check_rules(&e);
    /* all states and tiers, values where they belong */
    ck_assert_double_eq(value_of(&e, "djs_jobs{state=\"QUEUED\",}"), 11);
    ck_assert_double_eq(value_of(&e, "djs_jobs{state=\"CANCELLED\",}"), 16);
    int states = 0;
    for (int i = 0; i < e.ns; i++)
        states += strcmp(e.s[i].name, "djs_jobs") == 0;
    ck_assert_int_eq(states, 7);
    ck_assert_double_eq(value_of(&e, "djs_queue_ready{priority=\"HIGH\",}"), 3);
    ck_assert_double_eq(value_of(&e, "djs_queue_ready{priority=\"LOW\",}"), 5);
    ck_assert_double_eq_tol(value_of(&e, "djs_worker_utilization_ratio{}"), 5.0 / 12.0, 1e-12);
    ck_assert_double_eq(value_of(&e, "djs_log_commit_seconds_sum{}"), 2.5);
    ck_assert_double_eq(value_of(&e, "djs_log_commit_seconds_count{}"), 50);
    /* histogram cumulation: per-bucket seed + b%3 */
    ck_assert_double_eq(value_of(&e, "djs_job_wait_seconds_bucket{le=\"0.001\",}"), 1);
    ck_assert_double_eq(value_of(&e, "djs_job_wait_seconds_bucket{le=\"0.005\",}"), 3);
    ck_assert_double_eq(value_of(&e, "djs_job_wait_seconds_count{}"), 15 + 15);
    /* HTTP */
    ck_assert_double_eq(value_of(&e, "djs_http_requests_total{method=\"POST\",route=\"/v1/jobs\",status=\"2xx\",}"), 1);
    ck_assert_double_eq(value_of(&e, "djs_http_requests_total{method=\"other\",route=\"/v1/workers\",status=\"5xx\",}"), 1);
    ck_assert_double_eq(value_of(&e, "djs_http_requests_total{method=\"GET\",route=\"/v1/workers\",status=\"other\",}"), 1);
    ck_assert_double_eq(value_of(&e, "djs_http_requests_total{method=\"GET\",route=\"other\",status=\"4xx\",}"), 1);
    ck_assert_double_eq(value_of(&e, "djs_http_request_duration_seconds_count{route=\"/v1/jobs\",}"), 3);
    ck_assert_double_eq(value_of(&e, "djs_http_request_duration_seconds_bucket{le=\"10\",route=\"/v1/jobs/{id}\",}"), 1);
    ck_assert_double_eq(value_of(&e, "djs_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/v1/jobs/{id}\",}"), 2);
    ck_assert_double_eq_tol(value_of(&e, "djs_http_request_duration_seconds_sum{route=\"/v1/jobs\",}"), 0.0025, 1e-12);
    /* fail-stop, streams, the standard process families */
    ck_assert_double_eq(value_of(&e, "djs_log_failed{}"), 1);
    ck_assert_double_eq(value_of(&e, "djs_stream_subscribers{}"), 3);
    ck_assert_double_eq(value_of(&e, "djs_stream_subscribers_dropped_total{}"), 2);
    ck_assert_double_eq(value_of(&e, "process_cpu_seconds_total{}"), 12.25);
    ck_assert_double_eq(value_of(&e, "process_resident_memory_bytes{}"), 64u << 20);
    ck_assert_double_eq(value_of(&e, "process_start_time_seconds{}"), 1700000000.5);
    ck_assert_str_eq(e.f[find_family(&e, "process_cpu_seconds_total")].type, "counter");
    ck_assert(text[0] != '\0');
    expo_free(&e);
    free(text);
    djs_http_stats_dispose(&hs);
}
END_TEST

START_TEST(process_figures)
{
    /* this very process: some resident memory, started just now */
    djs_prom_process_t p;
    ck_assert_int_eq(djs_prom_process_read(&p), 0);
    ck_assert(p.cpu_seconds >= 0);
    ck_assert_uint_gt(p.resident_bytes, 1u << 20);
    double now = (double)time(NULL);
    ck_assert_msg(p.start_time > now - 120 && p.start_time <= now + 2, "start %f, now %f", p.start_time, now);
    /* the families, and a log that takes writes */
    djs_log_stats_t ls;
    memset(&ls, 0, sizeof ls);
    djs_prom_streams_t st = {0, 0};
    djs_prom_input_t in = {.log_stats = &ls, .process = &p, .streams = &st};
    char *text = render(&in);
    expo_t e;
    parse(&e, text);
    check_rules(&e);
    ck_assert_double_eq(value_of(&e, "djs_log_failed{}"), 0);
    ck_assert_double_eq(value_of(&e, "djs_stream_subscribers_dropped_total{}"), 0);
    ck_assert_double_eq(value_of(&e, "process_resident_memory_bytes{}"), (double)p.resident_bytes);
    expo_free(&e);
    free(text);
}
END_TEST

START_TEST(empty_inputs)
{
    /* zero metrics, no requests yet: still well formed */
    djs_metrics_t m;
    memset(&m, 0, sizeof m);
    djs_log_stats_t ls;
    memset(&ls, 0, sizeof ls);
    djs_http_stats_t hs;
    djs_http_stats_init(&hs);
    djs_prom_input_t in = {.metrics = &m, .log_stats = &ls, .http = &hs};
    char *text = render(&in);
    expo_t e;
    parse(&e, text);
    check_rules(&e);
    ck_assert_double_eq(value_of(&e, "djs_worker_utilization_ratio{}"), 0);
    ck_assert_double_eq(value_of(&e, "djs_job_run_seconds_bucket{le=\"+Inf\",}"), 0);
    expo_free(&e);
    free(text);
    djs_http_stats_dispose(&hs);
    /* nothing at all: empty output */
    djs_prom_input_t none = {0};
    text = render(&none);
    ck_assert_str_eq(text, "");
    free(text);
}
END_TEST

START_TEST(label_escaping)
{
    djs_http_stats_t hs;
    djs_http_stats_init(&hs);
    const char *route = "/a\"b\\c\nd";
    djs_http_stats_observe(&hs, route, "GET", 200, 1000);
    djs_http_stats_observe(&hs, "/bad\xff\xfe utf8", "GET", 200, 1000);
    djs_prom_input_t in = {.http = &hs};
    char *text = render(&in);
    ck_assert_ptr_nonnull(strstr(text, "djs_http_requests_total{route=\"/a\\\"b\\\\c\\nd\",method=\"GET\",status=\"2xx\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "route=\"/bad?? utf8\""));
    expo_t e;
    parse(&e, text);
    check_rules(&e);
    int found = 0;
    for (int i = 0; i < e.ns; i++)
        for (int l = 0; l < e.s[i].nlabels; l++)
            if (strcmp(e.s[i].labels[l].key, "route") == 0 && strcmp(e.s[i].labels[l].val, route) == 0)
                found++;
    ck_assert_int_eq(found, 1 + DJS_HTTP_DURATION_BUCKETS + 1 + 2); /* requests, buckets, _sum, _count */
    expo_free(&e);
    free(text);
    djs_http_stats_dispose(&hs);
}
END_TEST

START_TEST(route_overflow)
{
    djs_http_stats_t hs;
    djs_http_stats_init(&hs);
    char route[32];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < DJS_HTTP_MAX_ROUTES + 6; i++) {
            snprintf(route, sizeof route, "/r%d", i);
            djs_http_stats_observe(&hs, route, "GET", 200, 1000000);
        }
    djs_http_stats_observe(&hs, "other", "GET", 200, 1000000); /* the literal name joins the overflow */
    djs_http_stats_observe(&hs, "/r0", "GET", 200, 1000000);   /* known routes still count */
    ck_assert_uint_eq(hs.nroutes, DJS_HTTP_MAX_ROUTES);
    djs_prom_input_t in = {.http = &hs};
    char *text = render(&in);
    expo_t e;
    parse(&e, text);
    check_rules(&e);
    int routes = 0;
    for (int i = 0; i < e.ns; i++)
        routes += strcmp(e.s[i].name, "djs_http_requests_total") == 0;
    ck_assert_int_eq(routes, DJS_HTTP_MAX_ROUTES + 1);
    ck_assert_double_eq(value_of(&e, "djs_http_requests_total{method=\"GET\",route=\"other\",status=\"2xx\",}"), 13);
    ck_assert_double_eq(value_of(&e, "djs_http_requests_total{method=\"GET\",route=\"/r0\",status=\"2xx\",}"), 3);
    ck_assert_double_eq(value_of(&e, "djs_http_requests_total{method=\"GET\",route=\"/r63\",status=\"2xx\",}"), 2);
    ck_assert_double_eq(value_of(&e, "djs_http_request_duration_seconds_count{route=\"other\",}"), 13);
    ck_assert_ptr_null(strstr(text, "route=\"/r64\""));
    expo_free(&e);
    free(text);
    djs_http_stats_dispose(&hs);
}
END_TEST

START_TEST(promtool_accepts)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        printf("test_prom: /usr/bin/promtool missing, skipping promtool_accepts\n");
        return;
    }
    djs_http_stats_t hs;
    char *text = render_sample(&hs);
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.txt", tu_tmpdir());
    ck_assert_int_eq(tu_write_file(path, text, strlen(text)), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < '%s'", path);
    int rc = system(cmd);
    ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "promtool check metrics failed (%d) on %s", rc, path);
    free(text);
    djs_http_stats_dispose(&hs);
}
END_TEST

static Suite *prom_suite(void)
{
    Suite *s = suite_create("prom");
    TCase *tc = tcase_create("exposition");
    tcase_add_test(tc, sample_follows_the_rules);
    tcase_add_test(tc, process_figures);
    tcase_add_test(tc, empty_inputs);
    tcase_add_test(tc, label_escaping);
    tcase_add_test(tc, route_overflow);
    tcase_add_test(tc, promtool_accepts);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(prom_suite)
