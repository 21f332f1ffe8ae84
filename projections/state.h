/* The projection: all scheduler and load-balancer state, rebuilt from
 * events.
 *
 * djs_state_apply(state, event) is pure (DESIGN.md invariant 2): it reads
 * no clock, draws no random number and does no I/O; the only times it uses
 * are those carried by events (their timestamps and body fields). Replaying
 * events 1..N always yields the same state, and djs_state_digest proves it.
 *
 * What it keeps, per job, is compact (about 150 bytes with its indexes):
 * state, priority, attempt, worker, deadlines, counters, and the seq of the
 * job.submitted event; names, payloads and progress texts stay in the log
 * (memory-mapped) and are read from there when needed. Every non-terminal
 * job is kept; COMPLETED and CANCELLED ones are kept in a bounded window (by
 * count and by age, measured in event time) and then evicted: the log still
 * answers for them through the entity index.
 *
 * Derived indexes (rebuilt, never persisted as truth): per capability class
 * three FIFO priority tiers of ready jobs, a timer heap of job deadlines,
 * per class a max-heap of available workers by balancer score, and per
 * concurrency key the jobs that hold it and the ready jobs parked behind it.
 *
 * Concurrency limits: a job may carry a concurrency key and a limit
 * (job.submitted's ckey and climit). A key is held by each of its jobs from
 * job.scheduled until the job leaves SCHEDULED/RUNNING (any event that
 * frees its worker: succeeded, failed, timed out, lease expired, worker
 * lost, cancelled, deleted); placement skips a ready job while the number of
 * holders of its key is at least the job's own limit (jobs of one key with
 * different limits: each is judged by its own), without stopping at it:
 * such a job is parked out of its tier, and put back by the next placement
 * after a holder releases the key, or when the job before it leaves the tier.
 *
 * Invariant of the parking (why the jobs behind a full key are never
 * blocked, and why replay, which parks nothing, decides the same): for each
 * key, tier and limit L, when fewer than L jobs hold the key, the earliest
 * ready job of that group is in its tier, not parked, whenever placement
 * looks. Parking happens only at a full key; placement after a release, or
 * the removal of that earliest job from the tier, puts the group's first
 * parked job back.
 *
 * Ownership: djs_state_t is opaque, created by djs_state_new and freed by
 * djs_state_free. Pointers returned by lookups are valid until the next
 * apply or free. Single-threaded (the loop thread), like the engine.
 */
#ifndef DJS_PROJECTIONS_STATE_H
#define DJS_PROJECTIONS_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/balancer.h"
#include "core/bodies.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/id.h"
#include "core/job.h"

#define DJS_NONE UINT32_MAX

typedef struct djs_job {
    djs_id_t id;
    uint64_t submit_seq;   /* its job.submitted record: name, payload, deps... */
    uint64_t last_seq;     /* last event that changed it */
    uint64_t created_ns;   /* submission time */
    uint64_t queued_ns;    /* became ready (aging and wait time start here) */
    uint64_t ready_key;    /* FIFO key within its tier: the seq that made it ready */
    uint64_t started_ns;   /* last start */
    uint64_t finished_ns;  /* reached COMPLETED, FAILED or CANCELLED */
    uint64_t deadline_ns;  /* CREATED: scheduledAt; QUEUED: retry time; SCHEDULED: lease; RUNNING: timeout; 0 = none */
    uint64_t progress_seq; /* last job.progress record (step and ETA are there) */
    uint32_t worker;       /* worker slot while SCHEDULED or RUNNING, else DJS_NONE */
    uint32_t owner;        /* interned principal */
    uint32_t cls;          /* capability class (interned set of required capabilities) */
    uint32_t unmet;        /* dependencies not yet COMPLETED */
    uint32_t dependents;   /* index of its list of dependent jobs, or DJS_NONE */
    uint32_t idem;         /* index of its idempotency entry, or DJS_NONE */
    uint32_t ckey;         /* its concurrency key (index in the state's key table), or DJS_NONE */
    uint32_t climit;       /* the key's limit for this job (>= 1 with a key) */
    uint32_t timeout_s;
    uint32_t attempt;  /* assignments so far: the fencing token */
    uint32_t out_len;  /* bytes of output stored for the job (all attempts) */
    uint32_t out_recv; /* bytes of the current attempt's output received */
    uint16_t max_retries;
    uint16_t failures;   /* failed or timed-out attempts since submission or manual retry */
    uint16_t infra;      /* worker losses and lease expiries (not counted as failures) */
    uint8_t state;       /* djs_job_state_t */
    uint8_t prio;        /* djs_priority_t */
    uint8_t percent;     /* progress */
    uint8_t fail_reason; /* djs_fail_reason_t, when FAILED */
    uint8_t timer_kind;  /* what deadline_ns means while in the timer heap (DJS_TIMER_*) */
    uint8_t parked;      /* ready, but set aside from its tier while its key is at its limit (derived) */
} djs_job_t;

enum { DJS_TIMER_NONE = 0, DJS_TIMER_DUE, DJS_TIMER_RETRY, DJS_TIMER_LEASE, DJS_TIMER_TIMEOUT };

/* The job's position in the state machine of core/job.h: its state, or
 * DJS_JOB_SM_RETRY_WAIT while it is QUEUED for a retry time (then, and only
 * then, its timer is a retry timer). */
static inline int djs_state_job_pos(const djs_job_t *j)
{
    return djs_job_sm_pos(j->state, j->timer_kind == DJS_TIMER_RETRY);
}

typedef enum djs_worker_status {
    DJS_WORKER_ACTIVE = 0,
    DJS_WORKER_DRAINING = 1,
    DJS_WORKER_LOST = 2,
    DJS_WORKER_GONE = 3,
} djs_worker_status_t;

typedef struct djs_worker {
    djs_id_t id;
    char *name, *host;
    /* the original API design's hostAddress, port and tags, as last
     * registered: shown, never read by placement */
    char *addr;    /* "" = none */
    uint32_t port; /* 0 = none */
    uint8_t *tags; /* the registration's packed array of str (as a djs_strlist_t's mp), NULL = none */
    uint32_t tags_len, ntags;
    uint32_t caps; /* interned capability set */
    uint32_t slots, running;
    uint32_t cpu_pm, mem_pm, resp_ms; /* last recorded heartbeat */
    uint32_t score;                   /* balancer score in millionths */
    uint8_t status;                   /* djs_worker_status_t */
    uint64_t registered_ns, heartbeat_ns, last_seq;
    uint32_t *jobs; /* slots of its SCHEDULED and RUNNING jobs */
    uint32_t njobs, cap_jobs;
} djs_worker_t;

/* Fixed histogram buckets (seconds) for wait and run times. */
#define DJS_HIST_BUCKETS 14
extern const double djs_hist_bounds[DJS_HIST_BUCKETS];

typedef struct djs_hist {
    uint64_t count[DJS_HIST_BUCKETS + 1]; /* last = +Inf */
    uint64_t n;
    double sum;
} djs_hist_t;

typedef struct djs_metrics {
    uint64_t by_state[DJS_JOB_NSTATES];
    uint64_t ready[DJS_NPRIO]; /* QUEUED and eligible, per tier */
    uint64_t delayed;          /* CREATED waiting for scheduledAt, or QUEUED waiting for a retry time */
    uint64_t submitted, completed, failed, cancelled, deleted, timed_out, retried, lease_expired, upstream_failed;
    uint64_t workers_active, workers_draining, workers_lost;
    uint64_t slots_total, slots_busy; /* over ACTIVE workers: utilization = busy / total */
    uint64_t events;
    djs_hist_t wait, run;
} djs_metrics_t;

typedef struct djs_state_config {
    uint64_t max_terminal;     /* COMPLETED/CANCELLED jobs kept in memory (default 100,000) */
    uint64_t max_terminal_age; /* ns; older ones are evicted (default 1 h) */
    djs_weights_t weights;     /* balancer weights */
    /* Test seam (NULL in production, set only by tests): the 64-bit index
     * hash of an idempotency entry from its 16-byte digest (SHA-256 of the
     * length-prefixed owner and key). NULL takes the digest's first 8
     * bytes. A constant function makes every key collide in the index:
     * lookups compare digests, so answers do not change. Stored nowhere:
     * snapshots keep the digest and a restore derives the hash again. */
    uint64_t (*idem_hash)(const uint8_t digest[16]);
} djs_state_config_t;

typedef struct djs_state djs_state_t;

void djs_state_config_init(djs_state_config_t *c);
djs_state_t *djs_state_new(const djs_state_config_t *c); /* NULL config = defaults */
void djs_state_free(djs_state_t *st);

/* Apply one decoded event. Returns 0, or an error if the event does not
 * fit the state (a corrupt or foreign log): DJS_ENOTFOUND (unknown job or
 * worker), DJS_EEXISTS, DJS_ECONFLICT (a transition core/job.h's table
 * refuses, an output chunk that does not follow the last one, a worker
 * deregistered with jobs), or a body decoding error. On error the state is
 * unchanged for that event. */
int djs_state_apply(djs_state_t *st, const djs_event_t *ev);
/* Seq of the last applied event. */
uint64_t djs_state_seq(const djs_state_t *st);
uint64_t djs_state_ts(const djs_state_t *st); /* its timestamp */

/* SHA-256 over a canonical walk (jobs and workers in id order, every
 * persistent field, the metrics counters): equal digests, equal states. */
void djs_state_digest(const djs_state_t *st, uint8_t out[32]);

/* ---- lookups ------------------------------------------------------------ */

const djs_job_t *djs_state_job(const djs_state_t *st, const djs_id_t *id); /* NULL if not live */
const djs_job_t *djs_state_job_at(const djs_state_t *st, uint32_t slot);
uint32_t djs_state_job_slot(const djs_state_t *st, const djs_job_t *j);
const djs_worker_t *djs_state_worker(const djs_state_t *st, const djs_id_t *id);
const djs_worker_t *djs_state_worker_at(const djs_state_t *st, uint32_t slot);
const djs_worker_t *djs_state_worker_by_name(const djs_state_t *st, const char *name, size_t len);
uint32_t djs_state_njob_slots(const djs_state_t *st);
uint32_t djs_state_nworker_slots(const djs_state_t *st);
uint64_t djs_state_njobs(const djs_state_t *st); /* live jobs */
const djs_metrics_t *djs_state_metrics(const djs_state_t *st);
/* Interned strings (owners). */
const char *djs_state_str(const djs_state_t *st, uint32_t id, size_t *len);
/* The job submitted with this owner and idempotency key, or NULL (found by
 * the digest of owner and key, so keys whose index hashes collide differ). */
const djs_job_t *djs_state_job_by_idem(const djs_state_t *st, const char *owner, size_t owner_len, const char *key, size_t key_len);
/* A concurrency key as the projection sees it. */
typedef struct djs_concurrency {
    djs_str_t key;           /* its name, owned by the state */
    uint32_t limit;          /* the job's limit (djs_state_concurrency_key: 0) */
    uint32_t held;           /* jobs of the key SCHEDULED or RUNNING now */
    const uint32_t *holders; /* their slots (held of them, in no particular order), owned by the state */
} djs_concurrency_t;
/* The concurrency key of job j: 0 with *out filled, or DJS_ENOTFOUND if
 * the job has none. The job is at its limit (placement skips it) when
 * out->held >= out->limit. Pointers valid until the next apply. */
int djs_state_job_concurrency(const djs_state_t *st, const djs_job_t *j, djs_concurrency_t *out);
/* The same by key name: 0, or DJS_ENOTFOUND if no job ever had that key. */
int djs_state_concurrency_key(const djs_state_t *st, const char *key, size_t len, djs_concurrency_t *out);
/* Dependents of a job (slots); returns the count and sets *list. */
uint32_t djs_state_dependents(const djs_state_t *st, const djs_job_t *j, const uint32_t **list);
/* 1 if a worker with capability set `wcaps` can run jobs of class `cls`. */
int djs_state_class_fits(djs_state_t *st, uint32_t cls, uint32_t wcaps);
/* The capability names of a class or worker set: fills up to max, returns
 * the set's size. Strings are owned by the state. */
uint32_t djs_state_cap_names(const djs_state_t *st, uint32_t set, djs_str_t *out, uint32_t max);

/* ---- scheduling queries (the engine passes the time) ---------------------- */

/* The next placement: the ready job that should run first (priority tiers,
 * FIFO inside a tier, aging: a job's tier improves by one every aging_ns it
 * has waited) among classes with an available worker, and the best worker
 * for it (highest score, ties by lower id). O(number of classes). Returns 0,
 * or DJS_ENOTFOUND when nothing can be placed now. */
int djs_state_next_placement(djs_state_t *st, uint64_t now_ns, uint64_t aging_ns, uint32_t *job_slot, uint32_t *worker_slot);
/* The job whose timer fires first: 0 with its slot and deadline, or
 * DJS_ENOTFOUND. */
int djs_state_next_timer(const djs_state_t *st, uint32_t *job_slot, uint64_t *deadline_ns);

#endif
