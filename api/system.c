/* System routes: health, readiness, the Prometheus exposition, the stats
 * (now or at a point of the log) and the admin shutdown. */
#include <jansson.h>
#include <string.h>

#include "api/prom.h"
#include "api/render.h"
#include "api/server_internal.h"
#include "cluster/cluster.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/job.h"

/* GET /health: the process answers. */
int djs__system_health(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)s, (void)who, (void)id, (void)arg;
    return djs__send_json_new(req, 200, json_pack("{s:s}", "status", "ok"), 0);
}

/* GET /health/ready: and the log takes writes. A cluster node is ready
 * when it leads, or follows a known leader with nothing committed left to
 * apply; its role and lag are in the answer either way. */
int djs__system_ready(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    int st = djs_log_status(djs_engine_log(s->engine));
    if (st != 0)
        return djs__problem(req, 503, "log-unavailable", "Event log not writable", djs_strerror(st));
    if (s->cfg.cluster == NULL)
        return djs__send_json_new(req, 200, json_pack("{s:s}", "status", "ready"), 0);
    djs_cluster_status_t cs;
    djs_cluster_get_status(s->cfg.cluster, &cs);
    uint64_t lag = cs.commit_index > cs.last_applied ? cs.commit_index - cs.last_applied : 0;
    const char *role = cs.leading ? "leader" : cs.state;
    if (!cs.leading && (cs.leader_url == NULL || lag > 0)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        return djs__problem_ext(req, 503, "not-ready", "Not ready",
                                cs.leader_url == NULL ? "no cluster leader is known to this node" : "this follower is applying",
                                json_pack("{s:s,s:I}", "role", role, "lag", (json_int_t)lag));
    }
    return djs__send_json_new(req, 200,
                              json_pack("{s:s,s:s,s:I,s:I}", "status", "ready", "role", role, "lag", (json_int_t)lag, "appliedSeq",
                                        (json_int_t)cs.applied_seq),
                              0);
}

/* ---- membership: POST /api/v1/cluster/{add,assign,remove,transfer} (admin, on the leader) ---- */

/* A request waiting for its Raft change; each side clears the other's
 * pointer when it goes first (the client may leave). */
typedef struct change_wait {
    h2o_req_t *req; /* NULL once the client has gone */
    djs__req_link_t *link;
    char what[16];
    uint64_t node;
} change_wait_t;

static void on_change_done(void *arg, int status, const char *detail)
{
    change_wait_t *w = arg;
    h2o_req_t *req = w->req;
    djs__req_unwatch(&w->link);
    if (req != NULL) {
        if (status == 0) {
            djs__send_json_new(req, 200,
                               json_pack("{s:s,s:I,s:s}", "status", "done", "node", (json_int_t)w->node, "change", w->what), 0);
        } else {
            const char *type, *title;
            int st = status == DJS_EBUSY ? 409 : status == DJS_EUNAVAILABLE ? 503 : djs__engine_status(status, &type, &title);
            char d[200];
            snprintf(d, sizeof(d), "the cluster change (%s of node %llu) did not complete: %s", w->what,
                     (unsigned long long)w->node, detail && *detail ? detail : djs_strerror(status));
            djs__problem(req, st, st == 409 ? "conflict" : "cluster-change-failed", "Cluster change failed", d);
        }
    }
    djs_free(w);
}

int djs__system_cluster_change(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id;
    if (s->cfg.cluster == NULL)
        return djs__problem(req, 409, "not-clustered", "Not a cluster",
                            "this server runs alone (start it with --node-id and --peers)");
    json_t *b = djs__read_json_body(req);
    if (b == NULL)
        return 0;
    static const char *const add_f[] = {"id", "address", "role", NULL}, *const assign_f[] = {"id", "role", NULL},
                             *const id_f[] = {"id", NULL};
    int add = strcmp(arg, "add") == 0, assign = strcmp(arg, "assign") == 0, transfer = strcmp(arg, "transfer") == 0;
    if (djs__only_fields(req, b, add ? add_f : assign ? assign_f : id_f) != 0) {
        json_decref(b);
        return 0;
    }
    json_t *jid = json_object_get(b, "id"), *jaddr = json_object_get(b, "address"), *jrole = json_object_get(b, "role");
    const char *why = NULL;
    if (jid == NULL && transfer)
        ; /* any voter */
    else if (!json_is_integer(jid) || json_integer_value(jid) < (transfer ? 0 : 1))
        why = "id must be a node id (an integer, 1 or more)";
    else if (add && !json_is_string(jaddr))
        why = "address must be the new node's Raft address, HOST:PORT";
    else if ((add || assign) && jrole != NULL && !json_is_string(jrole))
        why = "role must be voter, standby or spare";
    else if (assign && jrole == NULL)
        why = "role is required: voter, standby or spare";
    if (why != NULL) {
        json_decref(b);
        return djs__problem(req, 422, "invalid-value", "Invalid value", why);
    }
    change_wait_t *w = djs_calloc(1, sizeof(*w));
    w->node = jid ? (uint64_t)json_integer_value(jid) : 0;
    djs__req_watch(req, &w->req, &w->link, NULL, NULL);
    snprintf(w->what, sizeof(w->what), "%s", arg);
    const char *role = jrole ? json_string_value(jrole) : "voter";
    int rc;
    if (add)
        rc = djs_cluster_add(s->cfg.cluster, w->node, json_string_value(jaddr), role, on_change_done, w);
    else if (assign)
        rc = djs_cluster_assign(s->cfg.cluster, w->node, role, on_change_done, w);
    else if (transfer)
        rc = djs_cluster_transfer(s->cfg.cluster, w->node, on_change_done, w);
    else
        rc = djs_cluster_remove(s->cfg.cluster, w->node, on_change_done, w);
    json_decref(b);
    if (rc != 0) {
        djs__req_unwatch(&w->link);
        djs_free(w);
        const char *type, *title;
        int st = rc == DJS_EBUSY || rc == DJS_EEXISTS ? 409 : djs__engine_status(rc, &type, &title);
        return djs__problem(
            req, st, st == 409 ? "conflict" : type, st == 409 ? "Conflict" : title,
            rc == DJS_EBUSY     ? "another membership change is under way"
            : rc == DJS_EEXISTS ? "a node with this id or address is already in the cluster"
            : rc == DJS_EINVAL
                ? "no such change: check the id, address (HOST:PORT) and role; remove the leader by transferring the lead first"
            : rc == DJS_ENOTFOUND ? "no such node in the cluster"
                                  : djs_strerror(rc));
    }
    return 0;
}

/* GET /api/v1/cluster: this node's view of the cluster. */
int djs__system_cluster(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    djs_log_t *log = djs_engine_log(s->engine);
    if (s->cfg.cluster == NULL)
        return djs__send_json_new(req, 200,
                                  json_pack("{s:b,s:I,s:I}", "clustered", 0, "appliedSeq", (json_int_t)djs_log_last_seq(log),
                                            "durableSeq", (json_int_t)djs_log_durable_seq(log)),
                                  0);
    djs_cluster_status_t cs;
    djs_cluster_get_status(s->cfg.cluster, &cs);
    json_t *nodes = json_array();
    for (uint32_t i = 0; i < cs.n; i++)
        json_array_append_new(nodes, json_pack("{s:I,s:s,s:s,s:b}", "id", (json_int_t)cs.nodes[i].id, "address", cs.nodes[i].addr,
                                               "role", cs.nodes[i].role, "leader", cs.nodes[i].leader));
    json_t *b = json_pack("{s:b,s:I,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "clustered", 1, "node",
                          (json_int_t)cs.node_id, "state", cs.state, "leading", cs.leading, "term", (json_int_t)cs.term, "leaderId",
                          (json_int_t)cs.leader_id, "commitIndex", (json_int_t)cs.commit_index, "lastApplied",
                          (json_int_t)cs.last_applied, "lastIndex", (json_int_t)cs.last_index, "lag",
                          (json_int_t)(cs.commit_index > cs.last_applied ? cs.commit_index - cs.last_applied : 0), "appliedSeq",
                          (json_int_t)cs.applied_seq, "durableSeq", (json_int_t)djs_log_durable_seq(log), "electionsWon",
                          (json_int_t)cs.elections_won, "nodes", nodes);
    json_object_set_new(b, "leaderUrl", cs.leader_url ? json_string(cs.leader_url) : json_null());
    return djs__send_json_new(req, 200, b, 0);
}

/* GET /metrics: the Prometheus text. */
int djs__system_metrics(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    djs_log_t *log = djs_engine_log(s->engine);
    djs_log_stats_t ls;
    djs_log_get_stats(log, &ls);
    djs__observe(req, 200); /* counted before rendering, so this scrape is included */
    djs_prom_process_t proc;
    (void)djs_prom_process_read(&proc); /* what could not be read is 0 */
    djs_prom_streams_t streams = {0, 0};
    if (s->streams != NULL)
        streams = (djs_prom_streams_t){djs_streams_count(s->streams), djs_streams_dropped(s->streams)};
    djs_prom_cluster_t pc;
    if (s->cfg.cluster != NULL) {
        djs_cluster_status_t cs;
        djs_cluster_get_status(s->cfg.cluster, &cs);
        uint32_t voters = 0;
        for (uint32_t i = 0; i < cs.n; i++)
            voters += strcmp(cs.nodes[i].role, "voter") == 0;
        pc = (djs_prom_cluster_t){cs.leading,      cs.leader_id != 0, cs.term, cs.commit_index,
                                  cs.last_applied, cs.elections_won,  voters};
    }
    djs_prom_input_t in = {.metrics = djs_state_metrics(djs_engine_state(s->engine)),
                           .cluster = s->cfg.cluster != NULL ? &pc : NULL,
                           .log_stats = &ls,
                           .log_map_size = djs_log_map_size(log),
                           .log_last_seq = djs_log_last_seq(log),
                           .log_durable_seq = djs_log_durable_seq(log),
                           .log_failed = djs_log_status(log) != 0,
                           .http = &s->http,
                           .process = &proc,
                           .streams = &streams};
    djs_buf_t out;
    djs_buf_init(&out);
    djs_prom_render(&out, &in);
    char *copy = h2o_mem_alloc_pool(&req->pool, out.len ? out.len : 1);
    memcpy(copy, out.base, out.len);
    size_t len = out.len;
    djs_buf_dispose(&out);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT(DJS_PROM_CONTENT_TYPE));
    req->res.content_length = len; /* not chunked: one write, simpler clients */
    h2o_send_inline(req, copy, len);
    return 0;
}

/* The counters of the metrics, and the pending jobs by reason
 * (djs_pending_counts: O(1) from the counters for the waiting ones,
 * O(classes x workers) for the ready ones, no walk of the jobs). */
static json_t *stats_json(const djs_state_t *st, uint64_t seq)
{
    const djs_metrics_t *m = djs_state_metrics(st);
    json_t *b = json_object(), *states = json_object(), *ready = json_object();
    for (int i = 0; i < DJS_JOB_NSTATES; i++)
        json_object_set_new(states, djs_job_state_name(i), json_integer((json_int_t)m->by_state[i]));
    for (int i = 0; i < DJS_NPRIO; i++)
        json_object_set_new(ready, djs_priority_name(i), json_integer((json_int_t)m->ready[i]));
    json_object_set_new(b, "jobs", states);
    json_object_set_new(b, "ready", ready);
    json_object_set_new(b, "delayed", json_integer((json_int_t)m->delayed));
    json_object_set_new(b, "submitted", json_integer((json_int_t)m->submitted));
    json_object_set_new(b, "completed", json_integer((json_int_t)m->completed));
    json_object_set_new(b, "failed", json_integer((json_int_t)m->failed));
    json_object_set_new(b, "cancelled", json_integer((json_int_t)m->cancelled));
    json_object_set_new(b, "workersActive", json_integer((json_int_t)m->workers_active));
    json_object_set_new(b, "workersLost", json_integer((json_int_t)m->workers_lost));
    json_object_set_new(b, "slotsTotal", json_integer((json_int_t)m->slots_total));
    json_object_set_new(b, "slotsBusy", json_integer((json_int_t)m->slots_busy));
    json_object_set_new(b, "pendingByReason", djs__pending_counts_json(st));
    json_object_set_new(b, "seq", json_integer((json_int_t)seq));
    return b;
}

/* GET /stats and /state: now, or as of ?at_seq / ?as_of (time travel). */
int djs__stats_reply(djs_server_t *s, h2o_req_t *req, int with_ts)
{
    uint64_t seq;
    int given;
    if (djs__read_point(s, req, &seq, &given) != 0)
        return 0;
    const djs_state_t *st = djs_engine_state(s->engine);
    if (given) {
        int rc = djs_engine_state_at(s->engine, seq, &st);
        if (rc != 0)
            return djs__problem(req, 500, "internal", "Internal error", djs_strerror(rc));
    }
    djs_log_t *log = djs_engine_log(s->engine);
    json_t *b = stats_json(st, given ? seq : djs_log_durable_seq(log));
    if (with_ts)
        json_object_set_new(b, "at", djs_json_time(djs_state_ts(st)));
    if (with_ts) { /* /state: what a client or replica compares (issue 13) */
        uint64_t applied = djs_state_seq(st);
        uint8_t head[DJS_HASH_LEN], digest[32];
        char hh[2 * DJS_HASH_LEN + 1], dh[65];
        const uint8_t *d = digest;
        if (!given && s->digest_seq == applied && applied > 0) {
            d = s->digest;
        } else {
            djs_state_digest(st, digest);
            if (!given) {
                memcpy(s->digest, digest, 32);
                s->digest_seq = applied;
            }
        }
        if (applied == 0 || djs_log_hash_at(log, applied, head) != 0)
            memset(head, 0, sizeof(head));
        djs_hex(head, DJS_HASH_LEN, hh);
        djs_hex(d, 32, dh);
        json_object_set_new(b, "applied_seq", json_integer((json_int_t)applied));
        json_object_set_new(b, "chain_head", json_string(hh));
        json_object_set_new(b, "digest", json_string(dh));
        json_object_set_new(b, "first_seq", json_integer((json_int_t)djs_log_first_seq(log)));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("djs-chain-head"), 0, NULL,
                              h2o_strdup(&req->pool, hh, 64).base, 64);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("djs-state-digest"), 0, NULL,
                              h2o_strdup(&req->pool, dh, 64).base, 64);
    }
    return djs__send_json_new(req, 200, b, given ? seq : djs_log_durable_seq(log));
}

/* GET /stats */
int djs__system_stats(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    return djs__stats_reply(s, req, 0);
}

/* POST /admin/shutdown: answered 202, then cfg.on_shutdown is called. */
int djs__system_shutdown(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    djs__send_json_new(req, 202, json_pack("{s:s}", "status", "shutting down"), 0);
    if (s->cfg.on_shutdown != NULL)
        s->cfg.on_shutdown(s->cfg.shutdown_arg);
    return 0;
}

/* GET /api/v1/metrics/history?seconds=N: the last N (default and at most
 * 3600) seconds of system-metrics samples, oldest first. */
int djs__system_metrics_history(djs_server_t *s, h2o_req_t *req, const djs_principal_t *who, const djs_id_t *id, const char *arg)
{
    (void)who, (void)id, (void)arg;
    uint64_t secs;
    if (djs__query_number(req, "seconds", DJS_STREAM_HISTORY_SAMPLES, &secs) != 0)
        return 0;
    if (secs == 0 || secs > DJS_STREAM_HISTORY_SAMPLES)
        return djs__problem(req, 400, "invalid-query", "Invalid query", "seconds must be 1 to 3600");
    djs_buf_reset(&s->scratch);
    djs_streams_metrics_history(s->streams, (uint32_t)secs, &s->scratch);
    djs__send_text(req, 200, (const char *)s->scratch.base, s->scratch.len, 0);
    return 0;
}
