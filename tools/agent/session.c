/* The worker agent's standing with the server: it registers (again after
 * the server forgot it), heartbeats with the machine's load and the jobs it
 * runs (the answer names the ones to stop), long-polls for assignments
 * (taking them in as new jobs), and on SIGTERM drains and deregisters.
 * The jobs themselves and their reports are agent.c's. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tools/agent/agent_internal.h"

/* ---- machine load from /proc -------------------------------------------------------------- */

static double cpu_sample(djs__agent_t *a)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return 0;
    uint64_t total = 0, idle = v[3] + v[4];
    for (int i = 0; i < 8; i++)
        total += v[i];
    uint64_t busy = total - idle;
    double r = 0;
    if (a->cpu_total != 0 && total > a->cpu_total && busy >= a->cpu_busy)
        r = (double)(busy - a->cpu_busy) / (double)(total - a->cpu_total);
    a->cpu_busy = busy;
    a->cpu_total = total;
    return r < 0 ? 0 : r > 1 ? 1 : r;
}

static double mem_sample(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return 0;
    char line[256];
    unsigned long long total = 0, avail = 0, v;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "MemTotal: %llu", &v) == 1)
            total = v;
        else if (sscanf(line, "MemAvailable: %llu", &v) == 1)
            avail = v;
    }
    fclose(f);
    if (total == 0 || avail > total)
        return 0;
    return 1.0 - (double)avail / (double)total;
}

/* ---- registration, heartbeats, polls ------------------------------------------------------------- */

static void lost(djs__agent_t *a, const char *why)
{
    djs__agent_say("%s: registering again (running jobs go on; their late reports may be refused)", why);
    a->registered = 0;
    a->reg_due = 0;
    a->reg_backoff = 0;
    djs__agent_batch_abandon(a, a->poll_batch, 0);
    djs_agent_http_cancel(a->poll_req);
    a->poll_req = NULL;
}

static void on_registered(void *arg, long status, const char *body, size_t len, const char *error)
{
    djs__agent_t *a = arg;
    char why[512];
    a->reg_req = NULL;
    json_t *j = answer_class(status) == ANS_OK ? json_loadb(body, len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    if (id != NULL && strlen(id) < sizeof(a->id)) {
        snprintf(a->id, sizeof(a->id), "%s", id);
        a->registered = a->ever_registered = 1;
        a->reg_backoff = 0;
        a->hb_due = a->poll_due = 0;
        djs__agent_say("registered as %s (name %s, %u slots) with %s", a->id, a->cfg.name, a->cfg.slots,
                       djs_servers_current(&a->servers));
    } else if (answer_class(status) == ANS_FINAL && !a->ever_registered) {
        djs__agent_describe(why, sizeof(why), status, body, len, error);
        djs__agent_say("registration refused (%s)", why);
        a->exit_code = 1;
        a->stopped = 1;
    } else {
        uint32_t d = backoff_next(&a->reg_backoff);
        a->reg_due = now_ms(a) + d;
        djs__agent_describe(why, sizeof(why), status, body, len, error);
        djs__agent_say("cannot register with %s (%s); retrying in %.1f s", a->answered_by, why, d / 1000.0);
    }
    json_decref(j);
    djs__agent_kick(a);
}

static void register_send(djs__agent_t *a)
{
    char url[1024];
    djs__agent_url(a, url, sizeof(url), "/api/v1/workers");
    json_t *b = json_pack("{s:s, s:s, s:O, s:i}", "name", a->cfg.name, "host", a->host, "capabilities", a->caps, "slots",
                          (int)a->cfg.slots);
    a->reg_req = djs__agent_send_json(a, "POST", url, b, CALL_TIMEOUT_MS, on_registered, a);
    if (a->reg_req == NULL)
        a->reg_due = now_ms(a) + backoff_next(&a->reg_backoff);
}

/* The answer's "stop": job ids we said we run that are no longer ours. Of
 * several attempts of one job here, the older ones are surely stale and
 * the newest may be current: the newest goes only when it is alone. */
static void heartbeat_stop_list(djs__agent_t *a, json_t *ans)
{
    json_t *stop = json_object_get(ans, "stop"), *x;
    size_t i;
    json_array_foreach(stop, i, x)
    {
        const char *id = json_is_string(x) ? json_string_value(x) : json_string_value(json_object_get(x, "jobId"));
        uint32_t newest = 0, count = 0;
        for (djs_agent_job_t *j = a->jobs; id != NULL && j != NULL; j = j->next)
            if (strcmp(j->id, id) == 0 && j->kind_live)
                newest = j->attempt > newest ? j->attempt : newest, count++;
        for (djs_agent_job_t *j = a->jobs; count > 0 && j != NULL; j = j->next)
            if (strcmp(j->id, id) == 0 && j->kind_live && (count == 1 || j->attempt != newest))
                djs__agent_job_stop(j, "stopped by the server (cancelled, timed out or reassigned)", 0);
    }
}

static void on_heartbeat(void *arg, long status, const char *body, size_t len, const char *error)
{
    djs__agent_t *a = arg;
    char why[512];
    a->hb_req = NULL;
    a->resp_ms = (uint32_t)(now_ms(a) - a->hb_sent);
    if (answer_class(status) == ANS_OK) {
        json_t *ans = json_loadb(body, len, 0, NULL);
        heartbeat_stop_list(a, ans);
        json_decref(ans);
    } else if (status == 400 && !a->hb_no_running && len > 0 && strstr(body, "running") != NULL) {
        djs__agent_say("the server does not take the running-jobs list in heartbeats; sending load only");
        a->hb_no_running = 1;
        a->hb_due = 0;
    } else if (status == 409 || status == 404) {
        djs__agent_describe(why, sizeof(why), status, body, len, error);
        lost(a, why);
    } else {
        djs__agent_describe(why, sizeof(why), status, body, len, error);
        djs__agent_say("heartbeat failed (%s)", why);
    }
    djs__agent_kick(a);
}

static void heartbeat_send(djs__agent_t *a)
{
    char url[1024];
    djs__agent_url(a, url, sizeof(url), "/api/v1/workers/%s/heartbeat", a->id);
    json_t *b = json_pack("{s:f, s:f}", "cpu", cpu_sample(a), "memory", mem_sample());
    if (a->resp_ms > 0)
        json_object_set_new(b, "responseMs", json_integer(a->resp_ms < 3600000 ? a->resp_ms : 3600000));
    if (!a->hb_no_running) {
        json_t *run = json_array();
        for (djs_agent_job_t *j = a->jobs; j != NULL; j = j->next)
            json_array_append_new(run, json_pack("{s:s, s:i}", "jobId", j->id, "attempt", (int)j->attempt));
        json_object_set_new(b, "running", run);
    }
    a->hb_sent = now_ms(a);
    a->hb_due = a->hb_sent + a->cfg.heartbeat_ms;
    a->hb_req = djs__agent_send_json(a, "POST", url, b, (long)a->cfg.heartbeat_ms * 3, on_heartbeat, a);
}

static void take_assignment(djs__agent_t *a, json_t *x)
{
    const char *id = json_string_value(json_object_get(x, "jobId"));
    json_t *att = json_object_get(x, "attempt");
    if (id == NULL || strlen(id) >= 40 || !json_is_integer(att) || json_integer_value(att) < 1)
        return;
    uint32_t attempt = (uint32_t)json_integer_value(att);
    if (djs__agent_find_job(a, id, attempt) != NULL)
        return; /* already ours: its start is on its way, or it runs */
    const char *name = json_string_value(json_object_get(x, "name"));
    json_t *to = json_object_get(x, "timeoutSeconds");
    uint32_t timeout = json_is_integer(to) && json_integer_value(to) > 0 ? (uint32_t)json_integer_value(to) : 0;
    djs_agent_job_t *j = djs__agent_job_new(a, id, attempt, name ? name : "", timeout, json_object_get(x, "payload"));
    if (json_is_true(json_object_get(x, "claimed")))
        j->state = J_CLAIMED; /* started by the poll: job_pump launches it */
    /* else its start report: reports_pump */
}

static void on_poll(void *arg, long status, const char *body, size_t len, const char *error)
{
    djs__agent_t *a = arg;
    char why[512];
    a->poll_req = NULL;
    int cls = answer_class(status);
    if (a->poll_batch != NULL && (cls != ANS_FINAL || (status != 409 && status != 404)))
        djs__agent_batch_answered(a, a->poll_batch, status, body, len, error);
    else
        djs__agent_batch_abandon(a, a->poll_batch, 0); /* the worker is lost: sent again once registered */
    if (cls == ANS_OK) {
        a->poll_backoff = 0;
        json_t *ans = json_loadb(body, len, 0, NULL), *x;
        size_t i;
        json_array_foreach(json_object_get(ans, "assignments"), i, x) take_assignment(a, x);
        json_decref(ans);
    } else if (status == 409 || status == 404) {
        djs__agent_describe(why, sizeof(why), status, body, len, error);
        lost(a, why);
    } else {
        uint32_t d = backoff_next(&a->poll_backoff);
        a->poll_due = now_ms(a) + d;
        djs__agent_describe(why, sizeof(why), status, body, len, error);
        djs__agent_say("poll failed (%s); retrying in %.1f s", why, d / 1000.0);
    }
    djs__agent_kick(a);
}

/* A poll, carrying the reports of a->poll_batch as body (or NULL). */
void djs__agent_poll_send(djs__agent_t *a, uint32_t wait_s, uint32_t max, const char *body)
{
    char url[1024];
    djs__agent_url(a, url, sizeof(url), "/api/v1/workers/%s/poll?wait=%u&max=%u&claim=%s", a->id, wait_s, max > 64 ? 64 : max,
                   a->cfg.no_claim ? "false" : "true");
    a->poll_req = djs__agent_send(a, "POST", url, body, POLL_TIMEOUT_MS, on_poll, a);
    if (a->poll_req == NULL)
        a->poll_due = now_ms(a) + backoff_next(&a->poll_backoff);
}

static void poll_send(djs__agent_t *a, uint32_t wait_s, uint32_t max)
{
    djs__agent_poll_send(a, wait_s, max, NULL);
}

/* ---- drain and stop -------------------------------------------------------------------------------- */

static void on_drain_answer(void *arg, long status, const char *body, size_t len, const char *error)
{
    djs__agent_t *a = arg;
    char why[512];
    a->drain_req = NULL;
    int cls = answer_class(status);
    djs__agent_describe(why, sizeof(why), status, body, len, error);
    if (cls == ANS_RETRY && now_ms(a) < a->drain_deadline + DEREGISTER_GRACE_MS) {
        uint32_t d = backoff_next(&a->drain_backoff);
        a->drain_due = now_ms(a) + d;
        djs__agent_say("%s failed (%s); retrying in %.1f s", a->drain == DRAIN_PUT ? "drain" : "deregister", why, d / 1000.0);
    } else if (a->drain == DRAIN_PUT) {
        if (cls != ANS_OK)
            djs__agent_say("drain not recorded (%s); going on", why);
        a->drain = DRAIN_WAIT;
        a->drain_backoff = 0;
    } else if (cls == ANS_OK) {
        djs__agent_say("deregistered %s; bye", a->id);
        a->drain = DRAIN_DONE;
    } else if (status == 409 && ++a->delete_conflicts < 5 && a->registered) {
        djs__agent_say("deregister refused (%s): collecting assignments made before the drain", why);
        a->drain = DRAIN_WAIT;
        poll_send(a, 0, a->cfg.slots);
    } else {
        djs__agent_say("could not deregister (%s); leaving anyway", why);
        a->drain = DRAIN_DONE;
    }
    djs__agent_kick(a);
}

static void drain_pump(djs__agent_t *a)
{
    char url[1024];
    uint64_t now = now_ms(a);
    if (a->drain_req != NULL || now < a->drain_due || a->drain == DRAIN_DONE)
        return;
    if (!a->registered) {
        if (a->njobs == 0 || now >= a->drain_deadline + DEREGISTER_GRACE_MS)
            a->drain = DRAIN_DONE;
        return;
    }
    djs__agent_url(a, url, sizeof(url), "/api/v1/workers/%s", a->id);
    if (a->drain == DRAIN_PUT) {
        a->drain_req = djs__agent_send_json(a, "PUT", url, json_pack("{s:b}", "draining", 1), CALL_TIMEOUT_MS, on_drain_answer, a);
    } else if (a->drain == DRAIN_WAIT && a->njobs == 0 && a->poll_req == NULL) {
        a->drain = DRAIN_DELETE;
        a->drain_backoff = 0;
    }
    if (a->drain == DRAIN_DELETE)
        a->drain_req = djs__agent_send_json(a, "DELETE", url, NULL, CALL_TIMEOUT_MS, on_drain_answer, a);
}

/* Registration or the heartbeat when due, and the drain's steps. */
void djs__agent_session_pump(djs__agent_t *a)
{
    uint64_t now = now_ms(a);
    if (!a->registered) {
        if (a->reg_req == NULL && now >= a->reg_due && !a->stopped)
            register_send(a);
    } else {
        if (a->hb_req == NULL && now >= a->hb_due)
            heartbeat_send(a);
    }
    if (a->drain)
        drain_pump(a);
    if (a->drain == DRAIN_DONE)
        a->stopped = 1;
}
