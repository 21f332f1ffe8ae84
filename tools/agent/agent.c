/* The worker agent's loop and its jobs: each job's reports (start, output,
 * progress, outcome), the signals and the shutdown. Registration,
 * heartbeats, the long poll and the drain are session.c's; the state both
 * share is in agent_internal.h.
 *
 * Everything time-driven is a deadline checked by pump_all, which runs
 * every TICK_MS and right after anything happens (djs__agent_kick: a zero
 * timer, so handlers never re-enter each other). A job moves STARTING
 * (start report) -> RUNNING (its kind runs) -> FLUSHING (output and
 * progress sent) -> REPORTING (complete or fail) and is then freed. The
 * polls claim (?claim=true): a job they deliver is RUNNING on the server
 * already, so it starts CLAIMED and is launched without a start report.
 *
 * Starts and outcomes are batched: every report ready in one loop turn
 * goes in one request, carried by the next poll when one is due (the
 * completions free the slots it asks to fill) and otherwise by POST
 * /workers/{id}/reports. Each report in it is answered on its own. */
#include "tools/agent/agent.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "tools/agent/kind.h"
#include "tools/agent/kinds.h"
#include "tools/agent/lines.h"
#include "tools/agent/outbuf.h"
#include "tools/agent/reports.h"
#include "tools/agent/retry.h"
#include "tools/agent/agent_internal.h"

/* ---- small helpers ---------------------------------------------------------------------- */

void djs__agent_say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "djs worker: %s\n", line);
}

static char *dupstr(const char *s)
{
    return djs_strndup(s, strlen(s));
}

/* "409 stale-attempt: detail" from a problem answer, or the transport error. */
void djs__agent_describe(char *out, size_t n, long status, const char *body, size_t len, const char *error)
{
    if (status == 0) {
        snprintf(out, n, "%s", error && *error ? error : "no answer");
        return;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *type = j ? json_string_value(json_object_get(j, "type")) : NULL;
    const char *detail = j ? json_string_value(json_object_get(j, "detail")) : NULL;
    const char *slug = type ? strrchr(type, '/') : NULL;
    snprintf(out, n, "%ld%s%s%s%s", status, slug ? " " : "", slug ? slug + 1 : "", detail ? ": " : "", detail ? detail : "");
    json_decref(j);
}

djs_agent_http_req_t *djs__agent_send(djs__agent_t *a, const char *method, const char *url, const char *body, long timeout_ms,
                                      djs_agent_http_cb cb, void *arg)
{
    djs_agent_http_call_t c = {.method = method,
                               .url = url,
                               .content_type = body ? "application/json" : NULL,
                               .body = body,
                               .len = body ? strlen(body) : 0,
                               .auth = 1,
                               .timeout_ms = timeout_ms,
                               .route = &a->route};
    djs_agent_http_req_t *r = djs_agent_http_send(a->http, &c, cb, arg);
    if (r == NULL)
        djs__agent_say("cannot start a request to %s", url);
    return r;
}

djs_agent_http_req_t *djs__agent_send_json(djs__agent_t *a, const char *method, const char *url, json_t *body, long timeout_ms,
                                           djs_agent_http_cb cb, void *arg)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    djs_agent_http_req_t *r = djs__agent_send(a, method, url, text, timeout_ms, cb, arg);
    free(text);
    json_decref(body);
    return r;
}

void djs__agent_url(djs__agent_t *a, char *url, size_t n, const char *fmt, ...)
{
    int k = snprintf(url, n, "%s", djs_servers_current(&a->servers));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(url + k, n - (size_t)k, fmt, ap);
    va_end(ap);
}

/* ---- the servers: following the leader, moving on --------------------------------------------------- */

/* A follower's 307: re-sent to the leader when the Location is one of the
 * servers (any http(s) one for a single --server), who becomes current. */
static int on_route_redirect(void *arg, const char *url, const char *location)
{
    djs__agent_t *a = arg;
    if (!djs_servers_may_follow(&a->servers, location)) {
        djs__agent_say("not following a redirect to %.200s: not one of the servers (--server)", location);
        return 0;
    }
    if (djs_servers_learn(&a->servers, url, location))
        djs__agent_say("the cluster's leader is %s: calls go there now", djs_servers_current(&a->servers));
    return 1;
}

/* Every answer: when the current server did not take a call, the next one
 * becomes current, and the call's retry (its own backoff) goes there. */
static void on_route_answered(void *arg, const char *url, long status, const char *body, size_t len)
{
    djs__agent_t *a = arg;
    const char *rel = djs_servers_rel(&a->servers, url);
    size_t n = rel ? (size_t)(rel - url) : strlen(url);
    snprintf(a->answered_by, sizeof(a->answered_by), "%.*s", n < sizeof(a->answered_by) ? (int)n : 0, url);
    if (!djs_servers_unavailable(status, body, len))
        return;
    if (djs_servers_failed(&a->servers, url))
        djs__agent_say("%s did not take a call (%s): trying %s next", a->answered_by,
                       status == 0     ? "no answer"
                       : status == 503 ? "no leader"
                                       : "a redirect not followed",
                       djs_servers_current(&a->servers));
}

/* ---- jobs: lookup, creation, removal --------------------------------------------------------- */

djs_agent_job_t *djs__agent_find_job(djs__agent_t *a, const char *id, uint32_t attempt)
{
    for (djs_agent_job_t *j = a->jobs; j != NULL; j = j->next)
        if (strcmp(j->id, id) == 0 && (attempt == 0 || j->attempt == attempt))
            return j;
    return NULL;
}

/* Reports in one request: jobs[i] is NULL once that job was freed. */
typedef struct report_batch {
    struct report_batch *prev, *next;
    djs__agent_t *a;
    djs_agent_http_req_t *req; /* NULL when the poll carries it */
    uint32_t n;
    djs_agent_job_t *jobs[];
} report_batch_t;

static void job_free(djs_agent_job_t *j)
{
    djs__agent_t *a = j->a;
    if (j->batch != NULL)
        j->batch->jobs[j->batch_i] = NULL;
    djs_agent_http_cancel(j->out_req);
    djs_agent_http_cancel(j->prog_req);
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        a->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    a->njobs--;
    djs_agent_outbuf_dispose(&j->out);
    djs_agent_lines_dispose(&j->lines);
    json_decref(j->payload);
    json_decref(j->result);
    djs_free(j->name);
    djs_free(j->stop_reason);
    djs_free(j->error);
    djs_free(j);
    djs__agent_kick(a);
}

djs_agent_job_t *djs__agent_job_new(djs__agent_t *a, const char *id, uint32_t attempt, const char *name, uint32_t timeout_s,
                                    json_t *payload)
{
    djs_agent_job_t *j = djs_calloc(1, sizeof(*j));
    j->a = a;
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->attempt = attempt;
    j->name = dupstr(name);
    j->timeout_s = timeout_s;
    j->payload = payload ? json_incref(payload) : json_object();
    j->state = J_STARTING;
    djs_agent_outbuf_init(&j->out);
    djs_agent_lines_init(&j->lines);
    j->next = a->jobs;
    if (a->jobs != NULL)
        a->jobs->prev = j;
    a->jobs = j;
    a->njobs++;
    return j;
}

/* ---- accessors for kinds --------------------------------------------------------------------- */

const json_t *djs_agent_job_payload(const djs_agent_job_t *j)
{
    return j->payload;
}
uint32_t djs_agent_job_timeout_s(const djs_agent_job_t *j)
{
    return j->timeout_s;
}
const char *djs_agent_job_id(const djs_agent_job_t *j)
{
    return j->id;
}
uint32_t djs_agent_job_attempt(const djs_agent_job_t *j)
{
    return j->attempt;
}
const char *djs_agent_job_workdir(const djs_agent_job_t *j)
{
    return j->a->cfg.workdir;
}
uv_loop_t *djs_agent_job_loop(const djs_agent_job_t *j)
{
    return &j->a->loop;
}
djs_agent_http_t *djs_agent_job_http(const djs_agent_job_t *j)
{
    return j->a->http;
}
void *djs_agent_job_data(const djs_agent_job_t *j)
{
    return j->kd;
}
void djs_agent_job_set_data(djs_agent_job_t *j, void *data)
{
    j->kd = data;
}

/* ---- output, progress and the result line ------------------------------------------------- */

void djs_agent_job_output(djs_agent_job_t *j, int is_stdout, const char *data, size_t len)
{
    if (is_stdout)
        djs_agent_lines_feed(&j->lines, data, len);
    djs_agent_outbuf_append(&j->out, data, len);
    if (j->out.buf.len >= DJS_AGENT_OUT_CHUNK || j->lines.pending)
        djs__agent_kick(j->a);
}

static void on_output(void *arg, long status, const char *body, size_t len, const char *error)
{
    djs_agent_job_t *j = arg;
    char why[512];
    j->out_req = NULL;
    int cls = answer_class(status);
    json_t *ans = status ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *rcv = json_object_get(ans, "received");
    if ((cls == ANS_OK || status == 409) && json_is_integer(rcv) && json_integer_value(rcv) >= 0 &&
        djs_agent_outbuf_ack(&j->out, (uint64_t)json_integer_value(rcv)) == 0) {
        j->out_backoff = 0;
    } else if (cls == ANS_RETRY) {
        uint32_t d = backoff_next(&j->out_backoff);
        j->out_due = now_ms(j->a) + d;
        djs__agent_describe(why, sizeof(why), status, body, len, error);
        djs__agent_say("job %s attempt %u: output not shipped (%s); retrying in %.1f s", j->id, j->attempt, why, d / 1000.0);
    } else {
        djs__agent_describe(why, sizeof(why), status, body, len, error);
        djs__agent_say("job %s attempt %u: output refused (%s); the rest of its output is dropped", j->id, j->attempt, why);
        djs_agent_outbuf_kill(&j->out);
    }
    json_decref(ans);
    djs__agent_kick(j->a);
}

static void out_pump(djs_agent_job_t *j)
{
    djs__agent_t *a = j->a;
    uint64_t now = now_ms(a);
    if (j->out_req != NULL || now < j->out_due || !a->registered)
        return;
    if (!djs_agent_outbuf_due(&j->out, j->state == J_RUNNING, now - j->out_last))
        return;
    size_t n = djs_agent_outbuf_chunk(&j->out);
    char url[1024];
    djs__agent_url(a, url, sizeof(url), "/api/v1/jobs/%s/output?workerId=%s&attempt=%u&offset=%" PRIu64, j->id, a->id, j->attempt,
                   j->out.off);
    djs_agent_http_call_t c = {.method = "POST",
                               .url = url,
                               .content_type = "application/octet-stream",
                               .body = j->out.buf.base,
                               .len = n,
                               .auth = 1,
                               .timeout_ms = CALL_TIMEOUT_MS,
                               .route = &a->route};
    j->out_last = now;
    j->out_req = djs_agent_http_send(a->http, &c, on_output, j);
    if (j->out_req == NULL)
        j->out_due = now + backoff_next(&j->out_backoff);
}

static void on_progress(void *arg, long status, const char *body, size_t len, const char *error)
{
    djs_agent_job_t *j = arg;
    j->prog_req = NULL;
    int cls = answer_class(status);
    if (cls == ANS_RETRY) {
        j->lines.pending = 1; /* the stored value is still the latest, or a newer one replaced it */
    } else if (cls == ANS_FINAL) {
        char why[512];
        djs__agent_describe(why, sizeof(why), status, body, len, error);
        djs__agent_say("job %s attempt %u: progress refused (%s); no more progress reports", j->id, j->attempt, why);
        j->prog_dead = 1;
    }
    djs__agent_kick(j->a);
}

static void prog_pump(djs_agent_job_t *j)
{
    djs__agent_t *a = j->a;
    uint64_t now = now_ms(a);
    if (!j->lines.pending || j->prog_req != NULL || j->prog_dead || !a->registered)
        return;
    if (j->state == J_RUNNING && now < j->prog_last + PROGRESS_PERIOD_MS)
        return;
    char url[1024];
    djs__agent_url(a, url, sizeof(url), "/api/v1/jobs/%s/progress", j->id);
    json_t *b = json_pack("{s:s, s:i, s:i}", "workerId", a->id, "attempt", (int)j->attempt, "percentage", j->lines.pct);
    if (j->lines.step[0] != '\0')
        json_object_set_new(b, "currentStep", json_string(j->lines.step));
    j->lines.pending = 0;
    j->prog_last = now;
    j->prog_req = djs__agent_send_json(a, "POST", url, b, CALL_TIMEOUT_MS, on_progress, j);
}

/* ---- the job's life ------------------------------------------------------------------------------ */

static void job_fail_now(djs_agent_job_t *j, const char *error)
{
    j->ok = 0;
    djs_free(j->error);
    j->error = dupstr(error);
    j->state = J_FLUSHING;
    djs__agent_say("job %s attempt %u (%s) failed: %s", j->id, j->attempt, j->name, error);
    djs__agent_kick(j->a);
}

static const djs_agent_kind_t *pick_kind(djs_agent_job_t *j, char *err, size_t n)
{
    if (!json_is_object(j->payload)) {
        snprintf(err, n, "malformed payload: not a JSON object");
        return NULL;
    }
    json_t *k = json_object_get(j->payload, "kind");
    if (k == NULL) {
        if (json_object_get(j->payload, "command") != NULL)
            return djs_agent_kind_find("exec");
        snprintf(err, n, "payload names no job kind (no \"kind\" and no \"command\")");
        return NULL;
    }
    if (!json_is_string(k)) {
        snprintf(err, n, "malformed job kind: payload.kind must be a string");
        return NULL;
    }
    const djs_agent_kind_t *kind = djs_agent_kind_find(json_string_value(k));
    if (kind == NULL)
        snprintf(err, n, "unknown job kind '%.64s'", json_string_value(k));
    return kind;
}

static void job_launch(djs_agent_job_t *j)
{
    djs__agent_t *a = j->a;
    char err[512];
    int claimed = j->state == J_CLAIMED;
    j->state = J_RUNNING;
    j->started_ms = now_ms(a);
    if (a->drain && now_ms(a) >= a->drain_deadline) {
        job_fail_now(j, "agent stopped");
        return;
    }
    j->kind = pick_kind(j, err, sizeof(err));
    if (j->kind == NULL) {
        job_fail_now(j, err);
        return;
    }
    if (j->timeout_s > 0)
        j->deadline_ms = j->started_ms + (uint64_t)j->timeout_s * 1000;
    err[0] = '\0';
    if (j->kind->start(j, err, sizeof(err)) != 0) {
        j->kd = NULL;
        job_fail_now(j, err[0] ? err : "the job did not start");
        return;
    }
    j->kind_live = 1;
    djs__agent_say("job %s attempt %u (%s) started: %s%s", j->id, j->attempt, j->name, j->kind->name,
                   claimed ? " (claimed by its poll)" : "");
}

static json_t *result_of(djs_agent_job_t *j, uint64_t dur)
{
    const djs_buf_t *last = &j->lines.last;
    json_t *r = last->len ? json_loadb((const char *)last->base, last->len, JSON_DECODE_ANY, NULL) : NULL;
    return r ? r : json_pack("{s:i, s:I}", "exitCode", 0, "durationMs", (json_int_t)dur);
}

void djs_agent_job_exit(djs_agent_job_t *j, int ok, const char *error)
{
    uint64_t dur = now_ms(j->a) - j->started_ms;
    j->kind_live = 0;
    j->kd = NULL;
    djs_agent_lines_end(&j->lines); /* a last line without its newline */
    djs_agent_outbuf_end(&j->out);
    j->ok = ok && j->stop_reason == NULL;
    djs_free(j->error);
    j->error = j->ok ? NULL : dupstr(j->stop_reason ? j->stop_reason : error ? error : "failed");
    if (j->ok)
        j->result = result_of(j, dur);
    j->state = J_FLUSHING;
    if (j->ok)
        djs__agent_say("job %s attempt %u (%s) succeeded in %.3f s", j->id, j->attempt, j->name, dur / 1000.0);
    else
        djs__agent_say("job %s attempt %u (%s) failed in %.3f s: %s", j->id, j->attempt, j->name, dur / 1000.0, j->error);
    djs__agent_kick(j->a);
}

/* Stop a running job: SIGTERM now and SIGKILL after the grace, or SIGKILL at once. */
void djs__agent_job_stop(djs_agent_job_t *j, const char *reason, int now)
{
    if (!j->kind_live)
        return;
    if (j->stop_reason == NULL) {
        j->stop_reason = dupstr(reason);
        djs__agent_say("job %s attempt %u (%s): stopping: %s", j->id, j->attempt, j->name, reason);
    }
    if (now) {
        if (!j->killed) {
            j->killed = 1;
            j->kind->kill(j, SIGKILL); /* may end the job (djs_agent_job_exit) */
        }
        return;
    }
    if (j->term_ms != 0)
        return; /* asked already: job_timers sends SIGKILL after the grace */
    j->term_ms = now_ms(j->a);
    j->kind->kill(j, SIGTERM);
}

static const char *report_what(const djs_agent_job_t *j)
{
    return j->state == J_STARTING ? "start" : j->ok ? "complete" : "fail";
}

/* The server's final answer to one report (cls ANS_OK or ANS_FINAL; why
 * describes a refusal). May free the job. */
static void report_done(djs_agent_job_t *j, int cls, const char *why)
{
    if (cls == ANS_FINAL) {
        djs__agent_say("job %s attempt %u: %s refused (%s); dropped", j->id, j->attempt, report_what(j), why);
        if (j->state == J_STARTING || j->state == J_REPORTING)
            job_free(j);
    } else if (j->state == J_STARTING) {
        job_launch(j);
    } else {
        job_free(j);
    }
}

static void batch_unlink(djs__agent_t *a, report_batch_t *b)
{
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        a->batches = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    if (a->poll_batch == b)
        a->poll_batch = NULL;
}

/* Forget a batch whose request is gone: its reports are due again after
 * delay_ms. */
void djs__agent_batch_abandon(djs__agent_t *a, report_batch_t *b, uint64_t delay_ms)
{
    if (b == NULL)
        return;
    batch_unlink(a, b);
    djs_agent_http_cancel(b->req);
    for (uint32_t i = 0; i < b->n; i++)
        if (b->jobs[i] != NULL) {
            b->jobs[i]->batch = NULL;
            b->jobs[i]->rep_due = now_ms(a) + delay_ms;
        }
    djs_free(b);
}

/* The answer to a request that carried batch b ({"results":[...]} on a
 * 2xx): each report is settled on its own; the ones without a final answer
 * go again after a backoff. */
void djs__agent_batch_answered(djs__agent_t *a, report_batch_t *b, long status, const char *body, size_t len, const char *error)
{
    char why[512];
    json_t *ans = answer_class(status) == ANS_OK ? json_loadb(body, len, 0, NULL) : NULL;
    uint32_t again = 0;
    batch_unlink(a, b);
    djs__agent_describe(why, sizeof(why), status, body, len, error);
    for (uint32_t i = 0; i < b->n; i++) {
        djs_agent_job_t *j = b->jobs[i];
        if (j == NULL)
            continue;
        j->batch = NULL;
        long st;
        int c = djs_agent_batch_result(status, ans, i, &st, why, sizeof(why));
        if (c == ANS_RETRY) {
            again++;
            j->rep_due = UINT64_MAX; /* set below, once the delay is drawn */
        } else {
            report_done(j, c, why);
        }
    }
    if (again > 0) {
        uint32_t d = backoff_next(&a->rep_backoff);
        djs__agent_say("%u report(s) not recorded (%s); retrying in %.1f s", again, why, d / 1000.0);
        for (djs_agent_job_t *j = a->jobs; j != NULL; j = j->next)
            if (j->rep_due == UINT64_MAX)
                j->rep_due = now_ms(a) + d;
    } else {
        a->rep_backoff = 0;
    }
    json_decref(ans);
    djs_free(b);
    djs__agent_kick(a);
}

static void on_reports(void *arg, long status, const char *body, size_t len, const char *error)
{
    report_batch_t *b = arg;
    b->req = NULL;
    djs__agent_batch_answered(b->a, b, status, body, len, error);
}

/* One report as an item of {"reports":[...]}. */
static json_t *report_item(djs_agent_job_t *j)
{
    return djs_agent_report_item(j->id, j->attempt, report_what(j), j->result, j->error);
}

/* The reports due now (at most DJS_AGENT_BATCH_MAX and DJS_AGENT_BATCH_MAX_BYTES) as a batch
 * and its body {"reports":[...]} (free()); NULL when none is due.
 * *outcomes counts the completions and failures in it. */
static report_batch_t *batch_take(djs__agent_t *a, char **body, uint32_t *outcomes)
{
    uint32_t n = 0;
    uint64_t now = now_ms(a);
    for (djs_agent_job_t *j = a->jobs; j != NULL && n < DJS_AGENT_BATCH_MAX; j = j->next)
        n += (j->state == J_STARTING || j->state == J_REPORTING) && j->batch == NULL && now >= j->rep_due;
    if (n == 0)
        return NULL;
    report_batch_t *b = djs_calloc(1, sizeof(*b) + n * sizeof(djs_agent_job_t *));
    b->a = a;
    djs_agent_batch_t text;
    djs_agent_batch_init(&text);
    *outcomes = 0;
    for (djs_agent_job_t *j = a->jobs; j != NULL && b->n < n; j = j->next) {
        if (!((j->state == J_STARTING || j->state == J_REPORTING) && j->batch == NULL && now >= j->rep_due))
            continue;
        json_t *item = report_item(j);
        int full = djs_agent_batch_add(&text, item) != 0;
        json_decref(item);
        if (full)
            break; /* the rest goes in the next request */
        *outcomes += j->state == J_REPORTING;
        j->batch = b;
        j->batch_i = b->n;
        b->jobs[b->n++] = j;
    }
    *body = djs_agent_batch_finish(&text);
    b->next = a->batches;
    if (a->batches != NULL)
        a->batches->prev = b;
    a->batches = b;
    return b;
}

/* Send the reports that are due: on the poll when one is due anyway (and
 * then with wait=0: their answers are wanted now), else in one POST
 * /workers/{id}/reports. */
static void reports_pump(djs__agent_t *a)
{
    char *body = NULL, url[1024];
    uint32_t outcomes = 0;
    if (a->hard || !a->registered)
        return;
    report_batch_t *b = batch_take(a, &body, &outcomes);
    if (b == NULL)
        return;
    uint32_t free_slots = (a->cfg.slots > a->njobs ? a->cfg.slots - a->njobs : 0) + outcomes;
    if (!a->drain && free_slots > 0 && a->poll_req == NULL && now_ms(a) >= a->poll_due) {
        a->poll_batch = b;
        djs__agent_poll_send(a, 0, free_slots, body);
        if (a->poll_req == NULL)
            djs__agent_batch_abandon(a, b, backoff_next(&a->rep_backoff));
    } else {
        djs__agent_url(a, url, sizeof(url), "/api/v1/workers/%s/reports", a->id);
        djs_agent_http_call_t c = {.method = "POST",
                                   .url = url,
                                   .content_type = "application/json",
                                   .body = body,
                                   .len = strlen(body),
                                   .auth = 1,
                                   .timeout_ms = CALL_TIMEOUT_MS,
                                   .route = &a->route};
        b->req = djs_agent_http_send(a->http, &c, on_reports, b);
        if (b->req == NULL)
            djs__agent_batch_abandon(a, b, backoff_next(&a->rep_backoff));
    }
    djs_free(body);
}

static void job_timers(djs_agent_job_t *j)
{
    djs__agent_t *a = j->a;
    uint64_t now = now_ms(a);
    char why[64];
    if (!j->kind_live)
        return;
    if (a->drain && now >= a->drain_deadline) {
        djs__agent_job_stop(j, "agent stopped", 1);
    } else if (j->deadline_ms && now >= j->deadline_ms && j->term_ms == 0) {
        snprintf(why, sizeof(why), "timed out after %u s", j->timeout_s);
        djs__agent_job_stop(j, why, 0);
    } else if (j->term_ms && !j->killed && now >= j->term_ms + a->cfg.grace_ms) {
        j->killed = 1;
        j->kind->kill(j, SIGKILL);
    }
}

/* Everything this job is due to do now. May free the job. */
static void job_pump(djs_agent_job_t *j)
{
    djs__agent_t *a = j->a;
    if (j->state == J_CLAIMED && !a->hard)
        job_launch(j); /* started by its poll: no start report */
    if (a->hard || !a->registered) {
        job_timers(j);
        return;
    }
    if (j->state == J_STARTING || j->state == J_REPORTING)
        return;    /* reports_pump sends it */
    job_timers(j); /* may move it to FLUSHING */
    out_pump(j);
    prog_pump(j);
    if (j->state == J_FLUSHING && j->out_req == NULL && (j->out.buf.len == 0 || j->out.dead) && j->prog_req == NULL &&
        (!j->lines.pending || j->prog_dead)) {
        j->state = J_REPORTING;
        j->rep_due = 0;
    }
}

static void agent_shutdown(djs__agent_t *a)
{
    uv_timer_stop(&a->tick);
    uv_timer_stop(&a->kick);
    uv_close((uv_handle_t *)&a->tick, NULL);
    uv_close((uv_handle_t *)&a->kick, NULL);
    uv_close((uv_handle_t *)&a->sig_term, NULL);
    uv_close((uv_handle_t *)&a->sig_int, NULL);
    djs_agent_http_cancel(a->reg_req);
    djs_agent_http_cancel(a->poll_req);
    djs_agent_http_cancel(a->hb_req);
    djs_agent_http_cancel(a->drain_req);
    a->reg_req = a->poll_req = a->hb_req = a->drain_req = NULL;
    while (a->batches != NULL)
        djs__agent_batch_abandon(a, a->batches, 0);
    while (a->jobs != NULL)
        job_free(a->jobs);
    djs_agent_http_close(a->http);
    a->http = NULL;
}

static int any_kind_live(djs__agent_t *a)
{
    for (djs_agent_job_t *j = a->jobs; j != NULL; j = j->next)
        if (j->kind_live)
            return 1;
    return 0;
}

static void agent_pump(djs__agent_t *a)
{
    if (a->hard) {
        if (!any_kind_live(a))
            a->stopped = 1;
        return;
    }
    djs__agent_session_pump(a);
}

static void pump_all(djs__agent_t *a)
{
    if (a->http == NULL)
        return;
    agent_pump(a);
    for (djs_agent_job_t *j = a->jobs, *next; j != NULL; j = next) {
        next = j->next;
        job_pump(j);
    }
    reports_pump(a);
    uint32_t free_slots = a->cfg.slots > a->njobs ? a->cfg.slots - a->njobs : 0;
    if (a->registered && !a->hard && !a->drain && free_slots > 0 && a->poll_req == NULL && now_ms(a) >= a->poll_due)
        djs__agent_poll_send(a, POLL_WAIT_S, free_slots, NULL);
    if (a->stopped && !any_kind_live(a))
        agent_shutdown(a);
}

static void on_tick(uv_timer_t *t)
{
    pump_all(container_of(t, djs__agent_t, tick));
}

static void on_kick(uv_timer_t *t)
{
    pump_all(container_of(t, djs__agent_t, kick));
}

void djs__agent_kick(djs__agent_t *a)
{
    if (a->http != NULL && !uv_is_active((uv_handle_t *)&a->kick))
        uv_timer_start(&a->kick, on_kick, 0, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    djs__agent_t *a = s->data;
    if (!a->drain && !a->hard) {
        a->drain = DRAIN_PUT;
        a->drain_deadline = now_ms(a) + a->cfg.drain_timeout_ms;
        djs__agent_say("%s: draining (%u jobs on hand, up to %.0f s), then deregistering", strsignal(signum), a->njobs,
                       a->cfg.drain_timeout_ms / 1000.0);
        djs__agent_batch_abandon(a, a->poll_batch, 0);
        djs_agent_http_cancel(a->poll_req);
        a->poll_req = NULL;
    } else if (!a->hard) {
        djs__agent_say("%s again: killing every job and leaving now", strsignal(signum));
        a->hard = 1;
        a->exit_code = 1;
        for (djs_agent_job_t *j = a->jobs, *next; j != NULL; j = next) {
            next = j->next;
            djs__agent_job_stop(j, "agent stopped", 1);
        }
    }
    djs__agent_kick(a);
}

/* ---- start --------------------------------------------------------------------------------------- */

static json_t *caps_array(const char *csv)
{
    json_t *arr = json_array();
    const char *p = csv ? csv : "";
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n > 0)
            json_array_append_new(arr, json_stringn(p, n));
        p += n + (c != NULL);
    }
    return arr;
}

int djs_agent_run(const djs_agent_config_t *c)
{
    char err[320];
    djs__agent_t *a = djs_calloc(1, sizeof(*a));
    a->cfg = *c;
    if (djs_servers_parse(&a->servers, c->server, err, sizeof(err)) != 0) {
        djs__agent_say("--server %s", err);
        djs_free(a);
        return 1;
    }
    a->route = (djs_agent_http_route_t){.redirect = on_route_redirect, .answered = on_route_answered, .arg = a};
    a->caps = caps_array(c->capabilities);
    if (gethostname(a->host, sizeof(a->host) - 1) != 0)
        snprintf(a->host, sizeof(a->host), "unknown");
    srand((unsigned)(getpid() ^ (unsigned)uv_hrtime()));
    uv_loop_init(&a->loop);
    djs_agent_http_opts_t ho = {.token = c->token, .cacert = c->cacert, .insecure = c->insecure};
    if (djs_agent_http_open(&a->http, &a->loop, &ho) != 0) {
        djs__agent_say("cannot start libcurl");
        uv_loop_close(&a->loop);
        json_decref(a->caps);
        djs_servers_dispose(&a->servers);
        djs_free(a);
        return 1;
    }
    uv_timer_init(&a->loop, &a->tick);
    uv_timer_init(&a->loop, &a->kick);
    uv_signal_init(&a->loop, &a->sig_term);
    uv_signal_init(&a->loop, &a->sig_int);
    a->sig_term.data = a->sig_int.data = a;
    uv_signal_start(&a->sig_term, on_signal, SIGTERM);
    uv_signal_start(&a->sig_int, on_signal, SIGINT);
    uv_timer_start(&a->tick, on_tick, TICK_MS, TICK_MS);
    djs__agent_say("starting: name %s, %u slots, workdir %s, server%s %s", c->name, c->slots, c->workdir,
                   a->servers.n > 1 ? "s" : "", c->server);
    djs__agent_kick(a);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    int rc = a->exit_code;
    if (uv_loop_close(&a->loop) != 0)
        djs__agent_say("warning: handles left open at exit");
    json_decref(a->caps);
    djs_servers_dispose(&a->servers);
    djs_free(a);
    return rc;
}
