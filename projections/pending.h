/* Why a job is not running: the blocking facts of one job, read from the
 * live projection.
 *
 * Pure reads of the state (projections/state.h): no clock but the `now_ns`
 * the caller passes, no I/O, no allocation. A job is pending while it is
 * CREATED, QUEUED ready, or QUEUED waiting for a retry time; SCHEDULED,
 * RUNNING and finished jobs are not (djs_pending_of answers pending = 0).
 *
 * Reasons (their names are the stable strings the API shows):
 *
 *   waiting-for-dependencies  CREATED with dependencies not COMPLETED
 *   scheduled                 CREATED until its scheduledAt
 *   retry-backoff             QUEUED, not ready before its retry time
 *   concurrency-limit         its concurrency key is at its limit: as many
 *                             jobs of the key as this job's limit are
 *                             SCHEDULED or RUNNING (they are listed)
 *   no-capable-worker         no registered worker has all its capabilities
 *   workers-unavailable       capable workers exist, all draining or lost
 *   workers-busy              capable active workers exist, every slot busy
 *   dispatching               ready, and a capable worker has a free slot:
 *                             the next placement pass places it (transient)
 *
 * A job may have several facts at once (a CREATED job waiting for a
 * dependency whose class has no worker): `reasons` holds every one as a
 * bit (1u << reason), `reason` the primary one, the first that must clear
 * for the job to run, in the order above (time and dependencies, then
 * limits, then workers). The worker facts are computed for every pending
 * job, not only ready ones, since they will block it next.
 *
 * Position in the tier (a ready job only): the number of ready jobs of its
 * class and tier ahead of it in FIFO order (`ahead`), counted by a bounded
 * walk of the tier's heap that visits at most 2 * DJS_PENDING_MAX_AHEAD + 1
 * entries whatever the queue's size: past DJS_PENDING_MAX_AHEAD the count
 * stops and `ahead_capped` says "at least that many" (`in_tier`, the tier's
 * size, bounds it from above). `ahead_higher` is the ready jobs of its
 * class in better tiers (O(1)). The cap keeps the worst case of a read
 * near 1 us (measured: a job past 1,000 ahead in a 100k queue cost 2-8 us
 * with a cap of 1,000, as much as the rest of GET /jobs/{id}). Aging (a job's tier
 * improves every aging period it waits) may let older jobs of a worse tier
 * overtake it: the position is the order without aging.
 *
 * Cost: O(workers) for the worker facts, O(min(ahead, MAX_AHEAD)) for the
 * position, O(dependencies) with the caller's list.
 */
#ifndef DJS_PROJECTIONS_PENDING_H
#define DJS_PROJECTIONS_PENDING_H

#include <stdint.h>

#include "core/id.h"
#include "projections/state.h"

#define DJS_PENDING_REASON_MAP(X)                                                                                                  \
    X(DEPENDENCIES, 0, "waiting-for-dependencies")                                                                                 \
    X(SCHEDULED, 1, "scheduled")                                                                                                   \
    X(RETRY_BACKOFF, 2, "retry-backoff")                                                                                           \
    X(CONCURRENCY_LIMIT, 3, "concurrency-limit")                                                                                   \
    X(NO_CAPABLE_WORKER, 4, "no-capable-worker")                                                                                   \
    X(WORKERS_UNAVAILABLE, 5, "workers-unavailable")                                                                               \
    X(WORKERS_BUSY, 6, "workers-busy")                                                                                             \
    X(DISPATCHING, 7, "dispatching")

typedef enum djs_pending_reason {
#define DJS__PR_ENUM(name, num, text) DJS_PENDING_##name = (num),
    DJS_PENDING_REASON_MAP(DJS__PR_ENUM)
#undef DJS__PR_ENUM
        DJS_PENDING_NREASONS
} djs_pending_reason_t;

#define DJS_PENDING_MAX_AHEAD 100  /* position counted exactly up to this */
#define DJS_PENDING_MAX_DEPS 32    /* unmet dependencies listed (all are counted) */
#define DJS_PENDING_MAX_WORKERS 16 /* capable workers listed (all are counted) */

/* One dependency that has not completed. */
typedef struct djs_pending_dep {
    djs_id_t id;
    int state; /* djs_job_state_t */
} djs_pending_dep_t;

typedef struct djs_pending {
    int pending;       /* 0: not pending (SCHEDULED, RUNNING, finished); the rest is zero */
    int reason;        /* the primary djs_pending_reason_t */
    uint32_t reasons;  /* every blocking fact: bit (1u << reason) */
    int state;         /* the job's state (CREATED or QUEUED) */
    int ready;         /* in its ready tier */
    uint64_t until_ns; /* scheduled: scheduledAt; retry-backoff: the retry time; else 0 */
    /* dependencies (CREATED): unmet counted by the projection, listed from
     * the caller's ids */
    uint32_t unmet;
    djs_pending_dep_t deps[DJS_PENDING_MAX_DEPS];
    uint32_t ndeps; /* listed */
    /* workers whose capabilities fit the job's (registered, not GONE) */
    uint32_t capable, capable_active, capable_draining, capable_lost;
    uint32_t slots, slots_busy;                /* over the capable ACTIVE workers */
    uint32_t workers[DJS_PENDING_MAX_WORKERS]; /* their slots (djs_state_worker_at), active first */
    uint32_t nworkers;                         /* listed */
    /* position (ready jobs only) */
    uint64_t ahead;        /* ready jobs of its class and tier before it */
    int ahead_capped;      /* 1: at least `ahead` (the walk stopped) */
    uint64_t ahead_higher; /* ready jobs of its class in better tiers */
    uint64_t in_tier;      /* ready jobs of its class in its tier, itself included */
    int tier;              /* its priority tier */
    /* its concurrency key (has_key), and the jobs holding it now */
    int has_key, parked;                       /* parked: set aside from its tier while the key is full */
    djs_str_t key;                             /* owned by the state */
    uint32_t limit, held;                      /* this job's limit; jobs of the key SCHEDULED or RUNNING */
    uint32_t holders[DJS_PENDING_MAX_WORKERS]; /* their job slots (djs_state_job_at) */
    uint32_t nholders;                         /* listed */
} djs_pending_t;

/* The stable name of a reason ("scheduled", ...), NULL if unknown. */
const char *djs_pending_reason_name(int reason);

/* The pending facts of live job j at now_ns into *out. deps/ndeps: the
 * job's dependency ids (16 bytes each, from its job.submitted record), or
 * NULL: those not COMPLETED in the projection are listed (a dependency no
 * longer live was evicted COMPLETED, since a cancelled or deleted one fails
 * its dependents). Never fails. */
void djs_pending_of(const djs_state_t *st, const djs_job_t *j, const uint8_t *deps, uint32_t ndeps, uint64_t now_ns,
                    djs_pending_t *out);

/* Pending jobs counted by primary reason (for GET /stats), out[reason].
 * CREATED jobs are split from the metrics counters (O(1): a CREATED job
 * with no timer waits for dependencies), QUEUED ones waiting for a retry
 * likewise, ready jobs parked behind a full concurrency key as
 * concurrency-limit, and the other ready ones per class by the class's
 * worker fact: O(classes x workers), no walk of the jobs (a ready job of a
 * full key not yet parked, because placement has not reached it, counts by
 * its worker fact). `dispatching` counts ready jobs whose class has a free
 * capable worker. */
void djs_pending_counts(const djs_state_t *st, uint64_t out[DJS_PENDING_NREASONS]);

#endif
