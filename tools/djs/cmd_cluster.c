/* djs cluster status|add|assign|remove|transfer: a cluster's membership
 * through the REST API (GET /api/v1/cluster, POST /api/v1/cluster/...; the
 * changes go to the leader: with --server listing the nodes, the client
 * follows a follower's redirect). `djs cluster recover` is offline
 * (cmd_cluster_recover.c). */
#include <stdlib.h>
#include <string.h>

#include "tools/client/client.h"
#include "tools/djs/cli.h"

static void status_table(json_t *j)
{
    static const char *const head[] = {"NODE", "ADDRESS", "ROLE", "LEADER"};
    json_t *t = djs_client_table_new(head, 4), *n;
    size_t i;
    json_array_foreach(json_object_get(j, "nodes"), i, n)
    {
        char id[32], addr[160], role[32];
        const char *row[] = {djs_client_cell(json_object_get(n, "id"), id, sizeof(id)),
                             djs_client_cell(json_object_get(n, "address"), addr, sizeof(addr)),
                             djs_client_cell(json_object_get(n, "role"), role, sizeof(role)),
                             json_is_true(json_object_get(n, "leader")) ? "*" : ""};
        djs_client_table_add(t, row, 4);
    }
    djs_client_table_print(t);
}

static int status(djs_client_t *c)
{
    djs_buf_t url;
    json_t *j;
    djs_buf_init(&url);
    djs_client_url(c, &url, "/api/v1/cluster");
    int rc = djs_client_json(c, "GET", (const char *)url.base, NULL, NULL, &j);
    djs_buf_dispose(&url);
    if (rc != 0)
        return 1;
    if (c->out == DJS_CLIENT_OUT_JSON) {
        djs_client_print_json(j);
    } else if (!json_is_true(json_object_get(j, "clustered"))) {
        printf("not a cluster: one server (applied seq %lld)\n", (long long)json_integer_value(json_object_get(j, "appliedSeq")));
    } else {
        json_t *nodes = json_object_get(j, "nodes");
        json_incref(nodes);
        json_object_del(j, "nodes");
        djs_client_print_kv(j);
        json_object_set_new(j, "nodes", nodes);
        printf("\n");
        status_table(j);
    }
    json_decref(j);
    return 0;
}

static int change(djs_client_t *c, const char *what, json_t *body)
{
    char path[64];
    djs_buf_t url;
    json_t *ans;
    snprintf(path, sizeof(path), "/api/v1/cluster/%s", what);
    djs_buf_init(&url);
    djs_client_url(c, &url, path);
    int rc = djs_client_json(c, "POST", (const char *)url.base, body, NULL, &ans);
    djs_buf_dispose(&url);
    json_decref(body);
    if (rc != 0)
        return 1;
    if (c->out == DJS_CLIENT_OUT_JSON)
        djs_client_print_json(ans);
    else
        printf("%s: done\n", what);
    json_decref(ans);
    return 0;
}

int djs_cmd_cluster(djs_client_t *c, int argc, char **argv)
{
    const char *pos[3] = {NULL, NULL, NULL};
    const char *role = djs_cli_opt(argc, argv, "--role");
    if (djs_client_rest(c, argc, argv, pos, 1, 3) != 0)
        return 2;
    const char *sub = pos[0];
    uint64_t id = 0;
    if (strcmp(sub, "status") == 0) {
        if (pos[1] != NULL)
            return djs_client_usage_error(c, "status takes no argument");
        return status(c);
    }
    if (strcmp(sub, "add") != 0 && strcmp(sub, "assign") != 0 && strcmp(sub, "remove") != 0 && strcmp(sub, "transfer") != 0)
        return djs_client_usage_error(c, "'%s' is not a cluster command (status, add, assign, remove, transfer, recover)", sub);
    if (pos[1] != NULL) {
        if (djs_client_check_uint(c, "node id", pos[1], 1000000) != 0)
            return 2;
        id = strtoull(pos[1], NULL, 10);
    }
    json_t *body = json_object();
    if (strcmp(sub, "transfer") == 0) {
        if (pos[2] != NULL)
            return json_decref(body), djs_client_usage_error(c, "transfer takes at most a node id");
        if (id != 0)
            json_object_set_new(body, "id", json_integer((json_int_t)id));
        return change(c, "transfer", body);
    }
    if (id == 0)
        return json_decref(body), djs_client_usage_error(c, "%s needs a node id (1 or more)", sub);
    json_object_set_new(body, "id", json_integer((json_int_t)id));
    if (strcmp(sub, "add") == 0) {
        if (pos[2] == NULL)
            return json_decref(body), djs_client_usage_error(c, "add needs the node's Raft address, HOST:PORT");
        json_object_set_new(body, "address", json_string(pos[2]));
        if (role != NULL)
            json_object_set_new(body, "role", json_string(role));
    } else if (strcmp(sub, "assign") == 0) {
        if (role == NULL && pos[2] == NULL)
            return json_decref(body), djs_client_usage_error(c, "assign needs a role: voter, standby or spare");
        json_object_set_new(body, "role", json_string(role != NULL ? role : pos[2]));
    } else if (pos[2] != NULL) {
        return json_decref(body), djs_client_usage_error(c, "remove takes one node id");
    }
    return change(c, sub, body);
}
