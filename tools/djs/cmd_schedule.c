/* djs schedule create|show|pause|resume|delete and djs schedules: recurring
 * jobs over /api/v1/schedules. The job template takes the flags (or -f
 * FILE) of djs submit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/client/client.h"
#include "tools/djs/cli.h"

/* The schedule's own settings, as the API names them. */
static const struct {
    const char *flag, *field;
    int integer;
} settings[] = {
    {"--tz", "tz", 0},
    {"--overlap", "overlap", 0},
    {"--catch-up", "catchUp", 0},
    {"--catch-up-max", "catchUpMax", 1},
    {"--jitter", "jitterSeconds", 1},
    {"--start", "startAt", 0},
    {"--end", "endAt", 0},
};

static int take_settings(djs_client_t *c, int argc, char **argv, json_t *body)
{
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        const char *v = djs_cli_opt(argc, argv, settings[i].flag);
        if (v == NULL)
            continue;
        if (settings[i].integer) {
            if (djs_client_check_uint(c, settings[i].flag, v, 1000000) != 0)
                return 2;
            json_object_set_new(body, settings[i].field, json_integer(strtoll(v, NULL, 10)));
        } else if (json_object_set_new(body, settings[i].field, json_string(v)) != 0) {
            return djs_client_usage_error(c, "%s must be UTF-8 text", settings[i].flag);
        }
    }
    return 0;
}

/* --cron SPEC or --every DURATION (sent as the spec "every DURATION"). */
static int take_spec(djs_client_t *c, int argc, char **argv, json_t *body)
{
    const char *cron = djs_cli_opt(argc, argv, "--cron"), *every = djs_cli_opt(argc, argv, "--every");
    char spec[96];
    if ((cron == NULL) == (every == NULL))
        return djs_client_usage_error(c, "give --cron SPEC or --every DURATION (one of them)");
    if (every != NULL && (size_t)snprintf(spec, sizeof(spec), "every %s", every) >= sizeof(spec))
        return djs_client_usage_error(c, "--every takes a duration like 90s, 5m, 2h or 1d");
    if (json_object_set_new(body, "spec", json_string(cron != NULL ? cron : spec)) != 0)
        return djs_client_usage_error(c, "--cron must be UTF-8 text");
    return 0;
}

/* ACTIVE or PAUSED (the API's "paused"), DELETED for a delete's answer. */
static const char *status_of(json_t *s)
{
    const char *st = json_string_value(json_object_get(s, "status"));
    if (st != NULL)
        return st;
    return json_is_true(json_object_get(s, "paused")) ? "PAUSED" : "ACTIVE";
}

static void print_schedule(const djs_client_t *c, json_t *s)
{
    if (c->out == DJS_CLIENT_OUT_JSON)
        djs_client_print_json(s);
    else
        djs_client_print_kv(s);
}

static int request(djs_client_t *c, const char *method, const char *path, json_t *body, json_t **ans)
{
    djs_buf_t url;
    djs_buf_init(&url);
    djs_client_url(c, &url, path);
    int rc = djs_client_json(c, method, (const char *)url.base, body, NULL, ans);
    djs_buf_dispose(&url);
    return rc;
}

static int create(djs_client_t *c, int argc, char **argv)
{
    json_t *body = json_object(), *job = NULL, *ans;
    const char *name = djs_cli_opt(argc, argv, "--name");
    int rc;
    if (name == NULL)
        rc = djs_client_usage_error(c, "missing --name NAME (the schedule's, and its jobs' unless -f FILE)");
    else if (json_object_set_new(body, "name", json_string(name)) != 0)
        rc = djs_client_usage_error(c, "--name must be UTF-8 text");
    else if ((rc = take_spec(c, argc, argv, body)) == 0 && (rc = take_settings(c, argc, argv, body)) == 0 &&
             (rc = djs_cmd_job_body(c, argc, argv, name, &job)) == 0) {
        json_object_set_new(body, "job", job);
        if ((rc = request(c, "POST", "/api/v1/schedules", body, &ans)) == 0) {
            char id[64];
            if (c->out == DJS_CLIENT_OUT_JSON)
                djs_client_print_json(ans);
            else
                printf("%s\n", djs_client_cell(json_object_get(ans, "id"), id, sizeof(id)));
            json_decref(ans);
        }
    }
    json_decref(body);
    return rc;
}

/* show, pause, resume, delete ID */
static int one(djs_client_t *c, const char *action, int argc, char **argv)
{
    const char *id;
    char path[128];
    json_t *ans;
    if (djs_client_rest(c, argc, argv, &id, 1, 1) != 0 || djs_client_check_id(c, id) != 0)
        return 2;
    const char *method = strcmp(action, "show") == 0 ? "GET" : strcmp(action, "delete") == 0 ? "DELETE" : "POST";
    if (strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0)
        snprintf(path, sizeof(path), "/api/v1/schedules/%s/%s", id, action);
    else
        snprintf(path, sizeof(path), "/api/v1/schedules/%s", id);
    int rc = request(c, method, path, NULL, &ans);
    if (rc != 0)
        return rc;
    if (strcmp(action, "show") == 0 || c->out == DJS_CLIENT_OUT_JSON) {
        print_schedule(c, ans);
    } else {
        printf("%s %s\n", id, status_of(ans));
    }
    json_decref(ans);
    return 0;
}

int djs_cmd_schedule(djs_client_t *c, int argc, char **argv)
{
    const char *action = argc > 1 ? argv[1] : "";
    if (strcmp(action, "create") == 0)
        return create(c, argc - 1, argv + 1);
    if (strcmp(action, "show") == 0 || strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0 ||
        strcmp(action, "delete") == 0)
        return one(c, action, argc - 1, argv + 1);
    return djs_client_usage_error(c, "schedule takes create, show, pause, resume or delete, not '%s'", action);
}

int djs_cmd_schedules(djs_client_t *c, int argc, char **argv)
{
    static const char *const head[] = {"ID", "NAME", "SPEC", "TZ", "STATUS", "NEXT", "FIRES"};
    const char *limit = djs_cli_opt(argc, argv, "--limit");
    char path[96];
    json_t *ans, *s;
    size_t i;
    if (djs_client_rest(c, argc, argv, NULL, 0, 0) != 0 || (limit != NULL && djs_client_check_uint(c, "--limit", limit, 1000) != 0))
        return 2;
    snprintf(path, sizeof(path), "/api/v1/schedules%s%s", limit ? "?limit=" : "", limit ? limit : "");
    int rc = request(c, "GET", path, NULL, &ans);
    if (rc != 0)
        return rc;
    if (c->out == DJS_CLIENT_OUT_JSON) {
        djs_client_print_json(ans);
        json_decref(ans);
        return 0;
    }
    json_t *t = djs_client_table_new(head, 7);
    json_array_foreach(json_object_get(ans, "schedules"), i, s)
    {
        static const char *const keys[] = {"id", "name", "spec", "tz", NULL, "nextFireAt", "fires"};
        char cells[7][128];
        const char *row[7];
        for (int k = 0; k < 7; k++)
            row[k] = keys[k] != NULL ? djs_client_cell(json_object_get(s, keys[k]), cells[k], sizeof(cells[k])) : status_of(s);
        djs_client_table_add(t, row, 7);
    }
    djs_client_table_print(t);
    json_decref(ans);
    return 0;
}
