/* The job model: states, priorities, the state machine, limits.
 *
 * States (DESIGN.md "Job model"):
 *
 *   CREATED --> QUEUED --> SCHEDULED --> RUNNING --> COMPLETED
 *      |          ^  \         |  \         |  \
 *      |          |   \        |   `--> QUEUED (lease expired, worker lost: retry)
 *      |          |    \       |            `--> QUEUED (failed/timed out, retries left, not before retry_at)
 *      v          |     v      v                v
 *   FAILED, CANCELLED from every non-terminal state; FAILED --> QUEUED by a manual retry.
 *
 * CREATED waits for dependencies and for scheduledAt; QUEUED is eligible
 * once its not-before time (retry backoff) has passed.
 */
#ifndef DJS_CORE_JOB_H
#define DJS_CORE_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "core/bodies.h"
#include "core/error.h"
#include "core/event.h"

#define DJS_JOB_STATE_MAP(X)                                                                                                       \
    X(CREATED, 0, "CREATED")                                                                                                       \
    X(QUEUED, 1, "QUEUED")                                                                                                         \
    X(SCHEDULED, 2, "SCHEDULED")                                                                                                   \
    X(RUNNING, 3, "RUNNING")                                                                                                       \
    X(COMPLETED, 4, "COMPLETED")                                                                                                   \
    X(FAILED, 5, "FAILED")                                                                                                         \
    X(CANCELLED, 6, "CANCELLED")

typedef enum djs_job_state {
#define DJS__JS_ENUM(name, num, text) DJS_JOB_##name = (num),
    DJS_JOB_STATE_MAP(DJS__JS_ENUM)
#undef DJS__JS_ENUM
        DJS_JOB_NSTATES
} djs_job_state_t;

typedef enum djs_priority { DJS_PRIO_HIGH = 0, DJS_PRIO_NORMAL = 1, DJS_PRIO_LOW = 2, DJS_NPRIO = 3 } djs_priority_t;

/* Why a job failed; stored in job.failed bodies as its name. */
#define DJS_FAIL_REASON_MAP(X)                                                                                                     \
    X(ERROR, 0, "error")                                                                                                           \
    X(TIMEOUT, 1, "timeout")                                                                                                       \
    X(WORKER_LOST, 2, "worker_lost")                                                                                               \
    X(LEASE_EXPIRED, 3, "lease_expired")                                                                                           \
    X(UPSTREAM, 4, "upstream_failed")

typedef enum djs_fail_reason {
#define DJS__FR_ENUM(name, num, text) DJS_FAIL_##name = (num),
    DJS_FAIL_REASON_MAP(DJS__FR_ENUM)
#undef DJS__FR_ENUM
} djs_fail_reason_t;

/* Limits (defaults; the engine's config may lower them). */
#define DJS_JOB_MAX_NAME 256
#define DJS_JOB_MAX_DESCRIPTION 4096
#define DJS_JOB_MAX_PAYLOAD (1u << 20)
#define DJS_JOB_MAX_DEPS 256
#define DJS_JOB_MAX_CAPS 32
#define DJS_JOB_MAX_CAP_LEN 64
#define DJS_JOB_MAX_RETRIES 100
#define DJS_JOB_MAX_TIMEOUT_S (7 * 24 * 3600)
#define DJS_JOB_MAX_IDEM_KEY 128
#define DJS_WORKFLOW_MAX_JOBS 1000
/* Concurrency limits: at most `limit` jobs with the same concurrency key are
 * SCHEDULED or RUNNING at once. A key without a limit has limit 1. */
#define DJS_JOB_MAX_CONCURRENCY_KEY 128
#define DJS_JOB_MAX_CONCURRENCY_LIMIT 10000

const char *djs_job_state_name(int state);          /* NULL if unknown */
int djs_job_state_parse(const char *s, size_t len); /* state or DJS_EINVAL; case-insensitive */
const char *djs_priority_name(int prio);            /* "HIGH", "NORMAL", "LOW" */
int djs_priority_parse(const char *s, size_t len);  /* prio or DJS_EINVAL; case-insensitive */
const char *djs_fail_reason_name(int reason);
int djs_fail_reason_parse(const char *s, size_t len);

static inline int djs_job_state_terminal(int s)
{
    return s == DJS_JOB_COMPLETED || s == DJS_JOB_CANCELLED;
}
/* Terminal or failed: nothing will happen to it without a client's retry. */
static inline int djs_job_state_final(int s)
{
    return djs_job_state_terminal(s) || s == DJS_JOB_FAILED;
}

/* ---- the state machine ------------------------------------------------------
 *
 * One table (core/job.c) says, for every job event type, at which positions
 * of the machine it may apply and where it leads. The live projection
 * (projections/state.c), the one-job fold (projections/jobview.c) and the
 * engine's command checks (scheduler/engine.c) all ask it: "may I emit E
 * for this job" is the question the projection asks when it applies E.
 * Nothing else encodes a transition.
 *
 * Positions are the job states plus two:
 *   DJS_JOB_SM_RETRY_WAIT  QUEUED but not ready: it waits for the retry time
 *                          of a job.failed or job.timed_out (retryAt > 0);
 *                          only job.queued makes it ready
 *   DJS_JOB_SM_NONE        no such job: never submitted, or deleted
 *
 * Most events lead to one position, or leave it unchanged (DJS_JOB_SM_SAME:
 * progress, output, updated). Three have two targets, chosen by a body field
 * (the `alt` flag, picked by djs_job_spec_alt / djs_job_change_alt):
 *   job.submitted               QUEUED; CREATED when it waits (dependencies
 *                               or a start time after the event's)
 *   job.failed, job.timed_out   FAILED; RETRY_WAIT when a retry is due
 *
 * Checks beyond the position, which only the projection can make, stay with
 * it: job.scheduled names a registered worker, job.output chunks follow each
 * other. The engine adds command rules that are not transitions (a job
 * failed upstream is retried only once its dependencies completed).
 */
enum { DJS_JOB_SM_RETRY_WAIT = DJS_JOB_NSTATES, DJS_JOB_SM_NONE, DJS_JOB_SM_NPOS };
#define DJS_JOB_SM_SAME 0xff /* a rule's target: the position does not change */

typedef struct djs_job_rule {
    uint16_t from; /* bit p: the event applies at position p */
    uint8_t to[2]; /* the position it leads to: to[alt] (DJS_JOB_SM_SAME: unchanged) */
} djs_job_rule_t;

/* The machine position of a job in `state`, waiting for a retry time or not. */
static inline int djs_job_sm_pos(int state, int retry_wait)
{
    return state == DJS_JOB_QUEUED && retry_wait ? DJS_JOB_SM_RETRY_WAIT : state;
}
/* The job state at a position: RETRY_WAIT is QUEUED; NONE gives DJS_JOB_NSTATES. */
static inline int djs_job_sm_state(int pos)
{
    return pos == DJS_JOB_SM_RETRY_WAIT ? DJS_JOB_QUEUED : pos;
}

/* The table, indexed by event type (job.submitted .. job.output); read it
 * through the functions below (inline: the projection asks it for every
 * event it applies). */
extern const djs_job_rule_t djs__job_rules[];

/* The rule of a job event type (job.submitted .. job.output), or NULL for
 * any other type. Points into the constant table. */
static inline const djs_job_rule_t *djs_job_rule(int type)
{
    return type >= DJS_EV_JOB_SUBMITTED && type <= DJS_EV_JOB_OUTPUT ? &djs__job_rules[type] : NULL;
}
/* 1 if event `type` may apply to a job at position pos, else 0. */
static inline int djs_job_event_allowed(int type, int pos)
{
    const djs_job_rule_t *r = djs_job_rule(type);
    return r != NULL && pos >= 0 && pos < DJS_JOB_SM_NPOS && ((r->from >> pos) & 1u);
}
/* Why event `type` may not apply at pos: 0 if it may, DJS_ENOTFOUND (no such
 * job: pos is DJS_JOB_SM_NONE and the event is not job.submitted),
 * DJS_EEXISTS (job.submitted for a job that exists), DJS_ECONFLICT (the
 * machine refuses it there, or not a job event). The codes djs_state_apply
 * returns. */
static inline int djs_job_event_check(int type, int pos)
{
    if (djs_job_event_allowed(type, pos))
        return 0;
    if (pos == DJS_JOB_SM_NONE)
        return DJS_ENOTFOUND;
    return type == DJS_EV_JOB_SUBMITTED ? DJS_EEXISTS : DJS_ECONFLICT;
}
/* The position after event `type` applies at pos, with the body's choice
 * alt (0 or 1). pos itself when the rule leaves it unchanged, or when the
 * event does not apply there (check first). */
static inline int djs_job_event_next(int type, int pos, int alt)
{
    if (!djs_job_event_allowed(type, pos))
        return pos;
    int to = djs_job_rule(type)->to[alt != 0];
    return to == DJS_JOB_SM_SAME ? pos : to;
}
/* The body's choice for job.submitted: 1 (CREATED) when the job waits for
 * dependencies or for a start time after ts_ns, 0 (QUEUED) otherwise. */
int djs_job_spec_alt(const djs_job_spec_t *sp, uint64_t ts_ns);
/* The body's choice for a job change: 1 (RETRY_WAIT) for job.failed or
 * job.timed_out with a retry time, 0 otherwise. */
static inline int djs_job_change_alt(int type, const djs_job_change_t *c)
{
    return (type == DJS_EV_JOB_FAILED || type == DJS_EV_JOB_TIMED_OUT) && c->retry_at > 0;
}

/* 1 if some job event takes a job from state `from` to another state `to`
 * (derived from the table: positions folded onto states), else 0. */
int djs_job_transition_ok(int from, int to);

/* Exponential backoff with jitter for attempt n (1-based failures so far):
 * min(cap, base * 2^(n-1)) scaled by a jitter factor in [0.5, 1.0] drawn
 * from `rnd` (uniform 64-bit). Pure: the engine supplies the randomness and
 * records the result in the event. */
uint64_t djs_retry_backoff_ns(uint32_t n, uint64_t base_ns, uint64_t cap_ns, uint64_t rnd);

#endif
