/* djs jobs, job, cancel, retry, delete, history, logs: reading and acting
 * on jobs through the REST API. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "core/job.h"
#include "tools/djs/cli.h"
#include "tools/client/client.h"

#define LOG_CHUNK "1048576" /* bytes asked for per logs request */
#define LOG_POLL_NS 500000000L
#define HISTORY_PAGE "1000"

/* ---- djs jobs ------------------------------------------------------------------------------ */

/* Option -> query parameter of GET /api/v1/jobs. */
static const struct {
    const char *opt, *param;
} job_filters[] = {
    {"--status", "status"},           {"--priority", "priority"}, {"--owner", "owner"},   {"--capability", "capability"},
    {"--name-prefix", "name_prefix"}, {"--limit", "limit"},       {"--cursor", "cursor"},
};
#define NFILTERS (sizeof(job_filters) / sizeof(job_filters[0]))

static int check_filters(const djs_client_t *c, const char **v)
{
    if (v[0] != NULL && djs_job_state_parse(v[0], strlen(v[0])) < 0)
        return djs_client_usage_error(
            c, "--status takes CREATED, QUEUED, SCHEDULED, RUNNING, COMPLETED, FAILED or CANCELLED, not '%s'", v[0]);
    if (v[1] != NULL && djs_priority_parse(v[1], strlen(v[1])) < 0)
        return djs_client_usage_error(c, "--priority takes HIGH, NORMAL or LOW, not '%s'", v[1]);
    if (v[5] != NULL && djs_client_check_uint(c, "--limit", v[5], 500) != 0)
        return 2;
    if (v[5] != NULL && strtoul(v[5], NULL, 10) == 0)
        return djs_client_usage_error(c, "--limit takes 1 to 500");
    if (v[6] != NULL && djs_client_check_id(c, v[6]) != 0)
        return 2;
    return 0;
}

static void jobs_table(json_t *jobs)
{
    static const char *const head[] = {"ID", "NAME", "STATUS", "PRIORITY", "ATTEMPT", "WORKER", "CREATED"};
    static const char *const keys[] = {"id", "name", "status", "priority", "attempt", "assignedWorker", "createdAt"};
    json_t *t = djs_client_table_new(head, 7), *j;
    size_t i;
    json_array_foreach(jobs, i, j)
    {
        char cells[7][160];
        const char *row[7];
        for (int k = 0; k < 7; k++)
            row[k] = djs_client_cell(json_object_get(j, keys[k]), cells[k], sizeof(cells[k]));
        djs_client_table_add(t, row, 7);
    }
    djs_client_table_print(t);
}

/* One page from cursor (NULL: the first). 0 and *page, or 1. */
static int jobs_page(djs_client_t *c, const char **v, const char *cursor, json_t **page)
{
    djs_buf_t url;
    djs_buf_init(&url);
    djs_client_url(c, &url, "/api/v1/jobs");
    for (size_t i = 0; i < NFILTERS; i++)
        if (v[i] != NULL && strcmp(job_filters[i].param, "cursor") != 0)
            djs_client_query(&url, job_filters[i].param, v[i]);
    if (cursor != NULL)
        djs_client_query(&url, "cursor", cursor);
    djs_client_query_point(c, &url);
    int rc = djs_client_json(c, "GET", (const char *)url.base, NULL, NULL, page);
    djs_buf_dispose(&url);
    if (rc == 0 && !json_is_array(json_object_get(*page, "jobs"))) {
        fprintf(stderr, "djs: %s answered without a jobs list\n", c->server);
        json_decref(*page);
        return 1;
    }
    return rc;
}

/* Keep the jobs whose name starts with prefix: the server filters by
 * name_prefix too, this keeps the answer right with a server that does not. */
static void keep_prefix(json_t *jobs, const char *prefix)
{
    size_t n = strlen(prefix), i = 0;
    while (i < json_array_size(jobs)) {
        const char *name = json_string_value(json_object_get(json_array_get(jobs, i), "name"));
        if (name != NULL && strncmp(name, prefix, n) == 0)
            i++;
        else
            json_array_remove(jobs, i);
    }
}

/* All pages (all) or one into jobs; *next is the cursor after them or "". */
static int jobs_fetch(djs_client_t *c, const char **v, int all, json_t *jobs, char *next, size_t nn)
{
    snprintf(next, nn, "%s", v[6] ? v[6] : "");
    do {
        json_t *page;
        if (jobs_page(c, v, next[0] ? next : NULL, &page) != 0)
            return 1;
        if (v[4] != NULL)
            keep_prefix(json_object_get(page, "jobs"), v[4]);
        json_array_extend(jobs, json_object_get(page, "jobs"));
        const char *n = json_string_value(json_object_get(page, "next"));
        snprintf(next, nn, "%s", n ? n : "");
        json_decref(page);
    } while (all && next[0] != '\0');
    return 0;
}

int djs_cmd_jobs(djs_client_t *c, int argc, char **argv)
{
    const char *v[NFILTERS];
    for (size_t i = 0; i < NFILTERS; i++)
        v[i] = djs_cli_opt(argc, argv, job_filters[i].opt);
    int all = djs_cli_flag(argc, argv, "--all");
    if (djs_client_rest(c, argc, argv, NULL, 0, 0) != 0 || check_filters(c, v) != 0)
        return 2;
    json_t *jobs = json_array();
    char next[64];
    int rc = jobs_fetch(c, v, all, jobs, next, sizeof(next));
    if (rc == 0 && c->out == DJS_CLIENT_OUT_JSON) {
        json_t *b = json_pack("{s:O, s:o}", "jobs", jobs, "next", next[0] ? json_string(next) : json_null());
        djs_client_print_json(b);
        json_decref(b);
    } else if (rc == 0) {
        jobs_table(jobs);
        if (next[0] != '\0')
            fprintf(stderr, "(more: djs jobs --all, or --cursor %s)\n", next);
    }
    json_decref(jobs);
    return rc;
}

/* ---- djs watch ---------------------------------------------------------------------------------- */

static int all_final(json_t *jobs)
{
    size_t i;
    json_t *j;
    json_array_foreach(jobs, i, j)
    {
        const char *st = json_string_value(json_object_get(j, "status"));
        int s = st ? djs_job_state_parse(st, strlen(st)) : -1;
        if (s < 0 || !djs_job_state_final(s))
            return 0;
    }
    return json_array_size(jobs) > 0;
}

static void watch_table(json_t *jobs)
{
    static const char *const head[] = {"NAME", "STATUS", "PROGRESS", "ATTEMPT", "WORKER", "ID"};
    static const char *const keys[] = {"name", "status", "progress", "attempt", "assignedWorker", "id"};
    json_t *t = djs_client_table_new(head, 6), *j;
    size_t i;
    json_array_foreach(jobs, i, j)
    {
        char cells[6][160];
        const char *row[6];
        for (int k = 0; k < 6; k++)
            row[k] = djs_client_cell(json_object_get(j, keys[k]), cells[k], sizeof(cells[k]));
        char pct[16];
        json_t *p = json_object_get(j, "progress");
        if (json_is_integer(p)) {
            snprintf(pct, sizeof(pct), "%d%%", (int)json_integer_value(p));
            row[2] = pct;
        }
        djs_client_table_add(t, row, 6);
    }
    djs_client_table_print(t);
}

/* djs watch: the jobs table again every interval until every job listed
 * is finished (COMPLETED, FAILED, CANCELLED); exit 0 if all completed. */
int djs_cmd_watch(djs_client_t *c, int argc, char **argv)
{
    const char *v[NFILTERS];
    for (size_t i = 0; i < NFILTERS; i++)
        v[i] = djs_cli_opt(argc, argv, job_filters[i].opt);
    const char *iv = djs_cli_opt(argc, argv, "--interval-ms");
    uint64_t interval = 500;
    if (djs_client_rest(c, argc, argv, NULL, 0, 0) != 0 || check_filters(c, v) != 0 ||
        (iv != NULL && djs_client_check_uint(c, "--interval-ms", iv, 60000) != 0))
        return 2;
    if (iv != NULL && (interval = strtoull(iv, NULL, 10)) < 100)
        return djs_client_usage_error(c, "--interval-ms takes 100 to 60000");
    int tty = isatty(STDOUT_FILENO);
    for (;;) {
        json_t *jobs = json_array();
        char next[64];
        if (jobs_fetch(c, v, 1, jobs, next, sizeof(next)) != 0) {
            json_decref(jobs);
            return 1;
        }
        int done = all_final(jobs), failed = 0;
        size_t i;
        json_t *j;
        json_array_foreach(jobs, i, j) failed += strcmp(json_string_value(json_object_get(j, "status")), "COMPLETED") != 0;
        if (tty)
            fputs("\033[H\033[2J", stdout); /* redraw in place */
        if (c->out == DJS_CLIENT_OUT_JSON)
            djs_client_print_json(jobs);
        else
            watch_table(jobs);
        fflush(stdout);
        json_decref(jobs);
        if (done)
            return failed ? 1 : 0;
        if (!tty && c->out != DJS_CLIENT_OUT_JSON)
            printf("\n");
        usleep((useconds_t)interval * 1000);
    }
}

/* ---- djs job ID, cancel, retry, delete ----------------------------------------------------- */

static int one_id(djs_client_t *c, int argc, char **argv, const char **id)
{
    if (djs_client_rest(c, argc, argv, id, 1, 1) != 0 || djs_client_check_id(c, *id) != 0)
        return 2;
    return 0;
}

/* GET path (+ the time-travel point); prints the object as key/value
 * lines or JSON. */
static int show(djs_client_t *c, const char *path)
{
    djs_buf_t url;
    json_t *j;
    djs_buf_init(&url);
    djs_client_url(c, &url, path);
    djs_client_query_point(c, &url);
    int rc = djs_client_json(c, "GET", (const char *)url.base, NULL, NULL, &j);
    djs_buf_dispose(&url);
    if (rc != 0)
        return rc;
    if (c->out == DJS_CLIENT_OUT_JSON)
        djs_client_print_json(j);
    else
        djs_client_print_kv(j);
    json_decref(j);
    return 0;
}

int djs_cmd_job(djs_client_t *c, int argc, char **argv)
{
    const char *id;
    char path[96];
    if (one_id(c, argc, argv, &id) != 0)
        return 2;
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    return show(c, path);
}

int djs_cmd_job_action(djs_client_t *c, int argc, char **argv)
{
    const char *id, *method = "POST";
    char path[96];
    json_t *j;
    if (one_id(c, argc, argv, &id) != 0)
        return 2;
    if (strcmp(c->cmd, "delete") == 0) {
        method = "DELETE";
        snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    } else {
        snprintf(path, sizeof(path), "/api/v1/jobs/%s/%s", id, c->cmd);
    }
    djs_buf_t url;
    djs_buf_init(&url);
    djs_client_url(c, &url, path);
    int rc = djs_client_json(c, method, (const char *)url.base, NULL, NULL, &j);
    djs_buf_dispose(&url);
    if (rc != 0)
        return rc;
    if (c->out == DJS_CLIENT_OUT_JSON) {
        djs_client_print_json(j);
    } else {
        char st[64];
        printf("%s %s\n", id, djs_client_cell(json_object_get(j, "status"), st, sizeof(st)));
    }
    json_decref(j);
    return 0;
}

/* ---- djs history ID -------------------------------------------------------------------------- */

static int history_page(djs_client_t *c, const char *id, json_int_t from, json_t **page)
{
    char path[96], fs[32];
    djs_buf_t url;
    djs_buf_init(&url);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/history", id);
    snprintf(fs, sizeof(fs), "%" JSON_INTEGER_FORMAT, from);
    djs_client_url(c, &url, path);
    djs_client_query(&url, "from_seq", fs);
    djs_client_query(&url, "limit", HISTORY_PAGE);
    djs_client_query_point(c, &url);
    int rc = djs_client_json(c, "GET", (const char *)url.base, NULL, NULL, page);
    djs_buf_dispose(&url);
    return rc;
}

int djs_cmd_history(djs_client_t *c, int argc, char **argv)
{
    const char *id;
    if (one_id(c, argc, argv, &id) != 0)
        return 2;
    json_t *events = json_array();
    json_int_t from = 1;
    int rc;
    for (;;) {
        json_t *page;
        if ((rc = history_page(c, id, from, &page)) != 0)
            break;
        json_array_extend(events, json_object_get(page, "events"));
        json_t *next = json_object_get(page, "next");
        from = json_is_integer(next) ? json_integer_value(next) : 0;
        json_decref(page);
        if (djs_client_cut_at_seq(c, events) || from <= 0)
            break;
    }
    if (rc == 0 && c->out == DJS_CLIENT_OUT_JSON) {
        json_t *b = json_pack("{s:O, s:n}", "events", events, "next");
        djs_client_print_json(b);
        json_decref(b);
    } else if (rc == 0) {
        djs_client_print_events(events, 0);
    }
    json_decref(events);
    return rc;
}

/* ---- djs logs ID [-f] ------------------------------------------------------------------------ */

static int logs_get(djs_client_t *c, const char *id, uint64_t offset)
{
    char path[96], off[32];
    djs_buf_t url;
    djs_buf_init(&url);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/logs", id);
    snprintf(off, sizeof(off), "%" PRIu64, offset);
    djs_client_url(c, &url, path);
    djs_client_query(&url, "offset", off);
    djs_client_query(&url, "limit", LOG_CHUNK);
    int rc = djs_client_send(c, "GET", (const char *)url.base, NULL, 0, NULL);
    djs_buf_dispose(&url);
    return rc;
}

/* The offset to ask next: DJS-Log-Next-Offset, else past what came. */
static uint64_t logs_next(const djs_client_http_res_t *r, uint64_t offset)
{
    char *end;
    unsigned long long n = strtoull(r->log_next, &end, 10);
    if (r->log_next[0] < '0' || r->log_next[0] > '9' || *end != '\0' || n < offset)
        return offset + r->body.len;
    return n;
}

int djs_cmd_logs(djs_client_t *c, int argc, char **argv)
{
    const char *id;
    int follow = djs_cli_flag(argc, argv, "-f") | djs_cli_flag(argc, argv, "--follow");
    if (one_id(c, argc, argv, &id) != 0)
        return 2;
    uint64_t offset = 0;
    for (;;) {
        if (logs_get(c, id, offset) != 0)
            return 1;
        djs_client_http_res_t *r = &c->res;
        if (r->body.len > 0 && (fwrite(r->body.base, 1, r->body.len, stdout) != r->body.len || fflush(stdout) != 0))
            return 1; /* stdout is gone (a closed pipe): nothing more to do */
        uint64_t next = logs_next(r, offset);
        if (strcmp(r->log_complete, "true") == 0)
            return 0;
        if (next == offset && !follow)
            return 0; /* everything there is, once */
        if (next == offset)
            nanosleep(&(struct timespec){0, LOG_POLL_NS}, NULL);
        offset = next;
    }
}
