/* The worker agent's own state, shared by its two rooms (private to
 * tools/agent): agent.c runs the jobs (their output, progress and
 * reports), the loop and the signals; session.c keeps the agent's standing
 * with the server (registration, heartbeats, long polls, the drain).
 * Threading: the agent's loop thread only. Nothing here returns an error:
 * a call that cannot start is logged and tried again on a later pump. */
#ifndef DJS_TOOLS_AGENT_AGENT_INTERNAL_H
#define DJS_TOOLS_AGENT_AGENT_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "tools/agent/agent.h"
#include "tools/agent/agent_http.h"
#include "tools/agent/kind.h"
#include "tools/agent/lines.h"
#include "tools/agent/outbuf.h"
#include "tools/agent/retry.h"
#include "tools/cli/servers.h"

#define TICK_MS 100
#define POLL_WAIT_S 25
#define POLL_TIMEOUT_MS ((POLL_WAIT_S + 15) * 1000L)
#define CALL_TIMEOUT_MS 30000L
#define PROGRESS_PERIOD_MS 1000   /* at most one progress report per second per job */
#define DEREGISTER_GRACE_MS 30000 /* past the drain deadline, give up deregistering */

/* J_CLAIMED: delivered by a claim poll, RUNNING on the server already: the
 * next pump launches it without a start report. */
enum { J_STARTING, J_CLAIMED, J_RUNNING, J_FLUSHING, J_REPORTING };
enum { ANS_OK = DJS_AGENT_ANS_OK, ANS_RETRY = DJS_AGENT_ANS_RETRY, ANS_FINAL = DJS_AGENT_ANS_FINAL };
enum { DRAIN_NONE, DRAIN_PUT, DRAIN_WAIT, DRAIN_DELETE, DRAIN_DONE };

typedef struct djs__agent djs__agent_t;
struct report_batch; /* the reports of one request (agent.c) */

/* A job on hand: in the agent's list (a->jobs), which owns it, from its
 * assignment until its outcome is recorded or refused. */
struct djs_agent_job {
    djs__agent_t *a;
    djs_agent_job_t *prev, *next;
    char id[40];
    uint32_t attempt;
    char *name;
    json_t *payload;
    uint32_t timeout_s;
    int state;
    const djs_agent_kind_t *kind;
    void *kd;
    int kind_live; /* started and not yet exited */
    uint64_t started_ms, deadline_ms, term_ms;
    int killed;
    char *stop_reason; /* why the agent stopped it: overrides the kind's outcome */
    /* start, then complete / fail: in flight in *batch, or due at rep_due */
    struct report_batch *batch;
    uint32_t batch_i;
    uint64_t rep_due;
    /* output waiting, and its shipping */
    djs_agent_outbuf_t out;
    uint64_t out_due, out_last;
    uint32_t out_backoff;
    djs_agent_http_req_t *out_req;
    /* stdout lines: progress (last value wins) and the result */
    djs_agent_lines_t lines;
    int prog_dead;
    uint64_t prog_last;
    djs_agent_http_req_t *prog_req;
    /* outcome */
    int ok;
    char *error;
    json_t *result;
};

/* The agent: owned by djs_agent_run, for the length of the run. */
struct djs__agent {
    uv_loop_t loop;
    djs_agent_config_t cfg;
    djs_servers_t servers;                     /* cfg.server's list; the current one gets every new call */
    djs_agent_http_route_t route;              /* of every call to the server: follows the leader, moves on (agent.c) */
    char answered_by[DJS_SERVERS_URL_MAX + 1]; /* during a call's callback: the server that answered (or not) */
    djs_agent_http_t *http;
    json_t *caps;
    char host[256];
    char id[40];
    int registered, ever_registered;
    djs_agent_http_req_t *reg_req, *poll_req, *hb_req, *drain_req;
    uint64_t reg_due, poll_due, hb_due, hb_sent;
    uint32_t reg_backoff, poll_backoff, drain_backoff, resp_ms;
    int hb_no_running;
    uint64_t cpu_busy, cpu_total;
    uv_timer_t tick, kick;
    uv_signal_t sig_term, sig_int;
    djs_agent_job_t *jobs;
    uint32_t njobs;
    struct report_batch *batches;    /* in flight */
    struct report_batch *poll_batch; /* the one the poll in flight carries, or NULL */
    uint32_t rep_backoff;
    int drain, hard, exit_code, stopped, delete_conflicts;
    uint64_t drain_deadline, drain_due;
};

static inline uint64_t now_ms(djs__agent_t *a)
{
    return uv_now(&a->loop);
}

/* Next delay of a backoff (retry.h). */
static inline uint32_t backoff_next(uint32_t *state)
{
    return djs_agent_backoff_next(state, (uint32_t)rand());
}

static inline int answer_class(long status)
{
    return djs_agent_answer_class(status);
}

/* ---- agent.c ---- */

/* One line "djs worker: ..." on stderr. */
void djs__agent_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "409 stale-attempt: detail" from a problem answer, or the transport error. */
void djs__agent_describe(char *out, size_t n, long status, const char *body, size_t len, const char *error);
/* url = the current server's base URL + the formatted path. A call sent
 * to it with a->route follows a cluster follower's redirect to the leader
 * (who becomes current) and, when the server does not take it (no answer,
 * 503 no-leader), makes the next server current: the call's own retry
 * goes there. */
void djs__agent_url(djs__agent_t *a, char *url, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* An authenticated call to the server (a->route) with body (JSON text,
 * copied; may be NULL). The request, or NULL after a message (then no
 * callback). */
djs_agent_http_req_t *djs__agent_send(djs__agent_t *a, const char *method, const char *url, const char *body, long timeout_ms,
                                      djs_agent_http_cb cb, void *arg);
/* The same with body a JSON value (taken: its reference is dropped; may
 * be NULL). */
djs_agent_http_req_t *djs__agent_send_json(djs__agent_t *a, const char *method, const char *url, json_t *body, long timeout_ms,
                                           djs_agent_http_cb cb, void *arg);
/* Run the pumps soon, from a zero timer (never from inside the caller). */
void djs__agent_kick(djs__agent_t *a);
/* The job on hand with that id and attempt (0: any), or NULL. */
djs_agent_job_t *djs__agent_find_job(djs__agent_t *a, const char *id, uint32_t attempt);
/* A new job, STARTING: its start report goes with the next batch. payload is
 * borrowed (a reference is taken; NULL: {}). */
djs_agent_job_t *djs__agent_job_new(djs__agent_t *a, const char *id, uint32_t attempt, const char *name, uint32_t timeout_s,
                                    json_t *payload);
/* Stop a running job: SIGTERM now and SIGKILL after the grace, or SIGKILL
 * at once; reason becomes its failure. */
void djs__agent_job_stop(djs_agent_job_t *j, const char *reason, int now);
/* Batch b's request got this answer: each report settled on its own. Frees b. */
void djs__agent_batch_answered(djs__agent_t *a, struct report_batch *b, long status, const char *body, size_t len,
                               const char *error);
/* Forget batch b (may be NULL) whose request is gone: its reports are due
 * again after delay_ms. Frees b. */
void djs__agent_batch_abandon(djs__agent_t *a, struct report_batch *b, uint64_t delay_ms);

/* ---- session.c ---- */

/* Register when not registered, heartbeat when due, and step the drain. */
void djs__agent_session_pump(djs__agent_t *a);
/* A poll for up to max assignments, waiting up to wait_s, carrying body
 * (the reports of a->poll_batch, or NULL). On failure to start one,
 * a->poll_req stays NULL and the next poll is put off. */
void djs__agent_poll_send(djs__agent_t *a, uint32_t wait_s, uint32_t max, const char *body);

#endif
