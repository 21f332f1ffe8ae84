/* djs why ID: why a job is not running, from the `pending` object of
 * GET /api/v1/jobs/{id} (computed by the server from its projection). */
#include <stdio.h>
#include <string.h>

#include "tools/client/client.h"
#include "tools/djs/cli.h"

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static long long num(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static void print_deps(json_t *p)
{
    json_t *d = json_object_get(p, "dependencies"), *v;
    json_t *list = json_object_get(d, "waitingFor");
    size_t i;
    if (num(d, "unmet") == 0)
        return;
    printf("waiting for:  %lld dependencies:", num(d, "unmet"));
    json_array_foreach(list, i, v) printf(" %s (%s)", str(v, "id"), str(v, "status"));
    printf("\n");
}

static void print_workers(json_t *p)
{
    json_t *w = json_object_get(p, "workers"), *v;
    size_t i;
    printf("workers:      %lld capable (%lld active, %lld draining, %lld lost), %lld of %lld slots busy\n", num(w, "capable"),
           num(w, "active"), num(w, "draining"), num(w, "lost"), num(w, "slotsBusy"), num(w, "slots"));
    json_array_foreach(json_object_get(w, "listed"), i, v)
    {
        printf("              %s %s %s, %lld of %lld slots running\n", str(v, "id"), str(v, "name"), str(v, "status"),
               num(v, "running"), num(v, "slots"));
    }
}

static void print_position(json_t *p)
{
    json_t *pos = json_object_get(p, "position");
    if (!json_is_object(pos))
        return;
    printf("position:     %s%lld ahead in its tier (%s, %lld ready in it), %lld ready in better tiers\n",
           json_is_true(json_object_get(pos, "aheadAtLeast")) ? "at least " : "", num(pos, "ahead"), str(pos, "tier"),
           num(pos, "readyInTier"), num(pos, "aheadInBetterTiers"));
}

static void print_concurrency(json_t *p)
{
    json_t *c = json_object_get(p, "concurrency"), *v;
    size_t i;
    if (!json_is_object(c))
        return;
    printf("concurrency:  key '%s', %lld of %lld held%s", str(c, "key"), num(c, "held"), num(c, "limit"),
           json_array_size(json_object_get(c, "heldBy")) ? " by" : "");
    json_array_foreach(json_object_get(c, "heldBy"), i, v) printf(" %s", json_string_value(v));
    printf("\n");
}

static void print_pending(json_t *job, json_t *p)
{
    json_t *v;
    size_t i;
    printf("%s %s: %s\n", str(job, "id"), str(job, "name"), str(job, "status"));
    printf("why:          %s: %s\n", str(p, "reason"), str(p, "detail"));
    int others = 0;
    json_array_foreach(json_object_get(p, "reasons"), i, v)
    {
        if (strcmp(json_string_value(v), str(p, "reason")) == 0)
            continue;
        printf(others++ ? ", %s" : "also:         %s", json_string_value(v));
    }
    if (others)
        printf("\n");
    if (json_is_string(json_object_get(p, "until")))
        printf("until:        %s\n", str(p, "until"));
    print_deps(p);
    print_concurrency(p);
    print_workers(p);
    print_position(p);
}

int djs_cmd_why(djs_client_t *c, int argc, char **argv)
{
    const char *id;
    char path[96];
    json_t *j;
    if (djs_client_rest(c, argc, argv, &id, 1, 1) != 0 || djs_client_check_id(c, id) != 0)
        return 2;
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    djs_buf_t url;
    djs_buf_init(&url);
    djs_client_url(c, &url, path);
    int rc = djs_client_json(c, "GET", (const char *)url.base, NULL, NULL, &j);
    djs_buf_dispose(&url);
    if (rc != 0)
        return rc;
    json_t *p = json_object_get(j, "pending");
    if (c->out == DJS_CLIENT_OUT_JSON) {
        json_t *o = json_pack("{s:O, s:O, s:O}", "id", json_object_get(j, "id"), "status", json_object_get(j, "status"), "pending",
                              p != NULL ? p : json_null());
        djs_client_print_json(o);
        json_decref(o);
    } else if (p != NULL) {
        print_pending(j, p);
    } else {
        const char *st = str(j, "status");
        int live = strcmp(st, "SCHEDULED") == 0 || strcmp(st, "RUNNING") == 0;
        printf("%s %s: %s (%s)\n", str(j, "id"), str(j, "name"), st,
               live ? "not pending: it is on a worker" : "not pending: it has finished");
    }
    json_decref(j);
    return 0;
}
