/* What changed between two points of the log: jobs created, succeeded,
 * failed, cancelled, retried; workers registered, lost, deregistered;
 * schedules fired. `djs replay diff` prints it.
 *
 * The state at `from` is rebuilt (djs_state_rebuild: a snapshot, then the
 * log) and the events from+1..to are applied to it one by one with the
 * projection's own apply (djs_state_apply), each counted as it goes; the
 * state after the last is the state at `to`, which gives every listed item
 * its status and name there. No second state machine: a diff of a log the
 * projection refuses is refused too (DJS_ECORRUPT with the bad seq).
 *
 * Counts are exact. The listing holds each entity once per kind (with how
 * many events of that kind it had in the range), at most max_items entries;
 * past that only counts grow and `truncated` says so.
 *
 * Threads: any (read transactions; the rebuild uses a helper thread). The
 * log must outlive the call. The report is the caller's: djs_diff_dispose.
 */
#ifndef DJS_REPLAY_DIFF_H
#define DJS_REPLAY_DIFF_H

#include <stdint.h>

#include "core/id.h"
#include "eventlog/log.h"

#define DJS_DIFF_KIND_MAP(X)                                                                                                       \
    X(JOBS_CREATED, "jobsCreated")                                                                                                 \
    X(JOBS_SUCCEEDED, "jobsSucceeded")                                                                                             \
    X(JOBS_FAILED, "jobsFailed") /* failed or timed out for good, or upstream failed */                                            \
    X(JOBS_CANCELLED, "jobsCancelled")                                                                                             \
    X(JOBS_RETRIED, "jobsRetried") /* retried by hand, or a failure with a retry to come */                                        \
    X(JOBS_DELETED, "jobsDeleted")                                                                                                 \
    X(WORKERS_REGISTERED, "workersRegistered")                                                                                     \
    X(WORKERS_LOST, "workersLost")                                                                                                 \
    X(WORKERS_DEREGISTERED, "workersDeregistered")                                                                                 \
    X(SCHEDULES_FIRED, "schedulesFired") /* schedule.fired, skipped fires included */

typedef enum djs_diff_kind {
#define DJS__DIFF_ENUM(name, key) DJS_DIFF_##name,
    DJS_DIFF_KIND_MAP(DJS__DIFF_ENUM)
#undef DJS__DIFF_ENUM
        DJS_DIFF_NKINDS
} djs_diff_kind_t;

/* "jobsCreated", ... (NULL for an unknown kind). */
const char *djs_diff_kind_name(int kind);

typedef struct djs_diff_item {
    int kind;           /* djs_diff_kind_t */
    djs_id_t id;        /* the job, worker or schedule */
    uint32_t count;     /* its events of this kind in the range */
    uint64_t seq;       /* the first of them */
    char *name;         /* its name ("" if unknown), owned by the report */
    const char *status; /* at `to`: a job state (COMPLETED...) or DELETED; a worker's ACTIVE, DRAINING,
                           LOST or GONE; a schedule's ACTIVE, PAUSED or DELETED (static strings) */
} djs_diff_item_t;

typedef struct djs_diff_report {
    uint64_t from_seq, to_seq; /* the events applied: from_seq+1 .. to_seq */
    uint64_t from_ts, to_ts;   /* the timestamps of the two points (0 for seq 0) */
    uint64_t events;           /* events in the range */
    uint64_t counts[DJS_DIFF_NKINDS];
    djs_diff_item_t *items; /* in order of first appearance, grouped by nothing */
    uint32_t nitems;
    int truncated;    /* the listing stopped at max_items */
    uint64_t bad_seq; /* on DJS_ECORRUPT: the event that did not apply ... */
    int bad_err;      /* ... and why */
} djs_diff_report_t;

/* Diff the log between seq `from` (0: the empty log) and `to` (at most the
 * last seq), listing at most max_items items (0: none, counts only). rep is
 * filled (dispose it even on error). Errors: DJS_EINVAL (from > to, to past
 * the last seq, NULL argument), DJS_EARCHIVED (from before the archive
 * base of an archived log), DJS_ECORRUPT (an event does not decode or
 * apply: rep->bad_seq, rep->bad_err), and the rebuild's and log's errors. */
int djs_diff_run(djs_log_t *log, uint64_t from, uint64_t to, uint32_t max_items, djs_diff_report_t *rep);
void djs_diff_dispose(djs_diff_report_t *rep);

#endif
