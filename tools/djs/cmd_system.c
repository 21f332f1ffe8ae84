/* djs workers, stats, events: the system through the REST API. */
#include <stdlib.h>
#include <string.h>

#include "tools/djs/cli.h"
#include "tools/client/client.h"

/* GET url into *out; 0 or 1. */
static int get(djs_client_t *c, djs_buf_t *url, json_t **out)
{
    int rc = djs_client_json(c, "GET", (const char *)url->base, NULL, NULL, out);
    djs_buf_dispose(url);
    return rc;
}

/* ---- djs workers [ID] ------------------------------------------------------------------------ */

static const char *percent(json_t *v, char *buf, size_t n)
{
    if (!json_is_number(v))
        return "-";
    snprintf(buf, n, "%.0f%%", json_number_value(v) * 100);
    return buf;
}

static void workers_table(json_t *workers)
{
    static const char *const head[] = {"ID", "NAME", "HOST", "STATUS", "SLOTS", "RUNNING", "CPU", "MEM", "SCORE", "CAPABILITIES"};
    static const char *const keys[] = {"id",          "name", "host",   "status", "slots",
                                       "runningJobs", "cpu",  "memory", "score",  "capabilities"};
    json_t *t = djs_client_table_new(head, 10), *w;
    size_t i;
    json_array_foreach(workers, i, w)
    {
        char cells[10][160];
        const char *row[10];
        for (int k = 0; k < 10; k++)
            row[k] = djs_client_cell(json_object_get(w, keys[k]), cells[k], sizeof(cells[k]));
        row[6] = percent(json_object_get(w, "cpu"), cells[6], sizeof(cells[6]));
        row[7] = percent(json_object_get(w, "memory"), cells[7], sizeof(cells[7]));
        djs_client_table_add(t, row, 10);
    }
    djs_client_table_print(t);
}

int djs_cmd_workers(djs_client_t *c, int argc, char **argv)
{
    const char *id = NULL;
    char path[96];
    json_t *j;
    if (djs_client_rest(c, argc, argv, &id, 0, 1) != 0 || (id != NULL && djs_client_check_id(c, id) != 0))
        return 2;
    snprintf(path, sizeof(path), "/api/v1/workers%s%s", id ? "/" : "", id ? id : "");
    djs_buf_t url;
    djs_buf_init(&url);
    djs_client_url(c, &url, path);
    djs_client_query_point(c, &url);
    if (get(c, &url, &j) != 0)
        return 1;
    if (c->out == DJS_CLIENT_OUT_JSON)
        djs_client_print_json(j);
    else if (id != NULL)
        djs_client_print_kv(j);
    else
        workers_table(json_object_get(j, "workers"));
    json_decref(j);
    return 0;
}

/* ---- djs stats ------------------------------------------------------------------------------- */

int djs_cmd_stats(djs_client_t *c, int argc, char **argv)
{
    json_t *j;
    if (djs_client_rest(c, argc, argv, NULL, 0, 0) != 0)
        return 2;
    djs_buf_t url;
    djs_buf_init(&url);
    djs_client_url(c, &url, "/api/v1/stats");
    djs_client_query_point(c, &url);
    if (get(c, &url, &j) != 0)
        return 1;
    if (c->out == DJS_CLIENT_OUT_JSON)
        djs_client_print_json(j);
    else
        djs_client_print_kv(j);
    json_decref(j);
    return 0;
}

/* ---- djs events ------------------------------------------------------------------------------ */

static int events_args(djs_client_t *c, int argc, char **argv, djs_buf_t *url)
{
    const char *from = djs_cli_opt(argc, argv, "--from-seq"), *limit = djs_cli_opt(argc, argv, "--limit");
    const char *type = djs_cli_opt(argc, argv, "--type"), *entity = djs_cli_opt(argc, argv, "--entity");
    if (djs_client_rest(c, argc, argv, NULL, 0, 0) != 0)
        return 2;
    if (from != NULL && djs_client_check_uint(c, "--from-seq", from, UINT64_MAX) != 0)
        return 2;
    if (limit != NULL && (djs_client_check_uint(c, "--limit", limit, 1000) != 0))
        return 2;
    if (limit != NULL && strtoul(limit, NULL, 10) == 0)
        return djs_client_usage_error(c, "--limit takes 1 to 1000");
    if (entity != NULL && djs_client_check_id(c, entity) != 0)
        return 2;
    djs_client_url(c, url, "/api/v1/events");
    if (from != NULL)
        djs_client_query(url, "from_seq", from);
    if (limit != NULL)
        djs_client_query(url, "limit", limit);
    if (type != NULL)
        djs_client_query(url, "type", type);
    if (entity != NULL)
        djs_client_query(url, "entity", entity);
    djs_client_query_point(c, url);
    return 0;
}

int djs_cmd_events(djs_client_t *c, int argc, char **argv)
{
    djs_buf_t url;
    json_t *j;
    djs_buf_init(&url);
    if (events_args(c, argc, argv, &url) != 0) {
        djs_buf_dispose(&url);
        return 2;
    }
    if (get(c, &url, &j) != 0)
        return 1;
    json_t *events = json_object_get(j, "events");
    if (!json_is_array(events)) {
        json_object_set_new(j, "events", json_array());
        events = json_object_get(j, "events");
    }
    if (djs_client_cut_at_seq(c, events))
        json_object_set_new(j, "next", json_null());
    if (c->out == DJS_CLIENT_OUT_JSON) {
        djs_client_print_json(j);
    } else {
        djs_client_print_events(events, 1);
        json_t *next = json_object_get(j, "next");
        if (json_is_integer(next))
            fprintf(stderr, "(more: djs events --from-seq %" JSON_INTEGER_FORMAT ")\n", json_integer_value(next));
    }
    json_decref(j);
    return 0;
}
