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

/* 1 if the state machine allows from -> to, else 0. */
int djs_job_transition_ok(int from, int to);

/* Exponential backoff with jitter for attempt n (1-based failures so far):
 * min(cap, base * 2^(n-1)) scaled by a jitter factor in [0.5, 1.0] drawn
 * from `rnd` (uniform 64-bit). Pure: the engine supplies the randomness and
 * records the result in the event. */
uint64_t djs_retry_backoff_ns(uint32_t n, uint64_t base_ns, uint64_t cap_ns, uint64_t rnd);

#endif
