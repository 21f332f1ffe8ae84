/* One job as of a point in its history: the fold of its own events.
 *
 * Cheap (the entity index names exactly its records) and independent of
 * the live projection, so it answers for jobs that were evicted and for
 * time-travel reads of a single job. Strings point into `buf`, which the
 * view owns: call djs_job_view_dispose.
 *
 * It follows the state machine of core/job.h, as projections/state.c does,
 * and agrees with the projection on every field both have (state, prio,
 * percent, fail_reason, attempt, failures, max_retries, timeout_s,
 * submit_seq, last_seq, the times, out_len, the worker; retry_at_ns is the
 * projection's retry deadline; eta_ns is the one in its last job.progress).
 * It refuses what the projection refuses, with the same codes, except what
 * only the whole state can see (whether a job.scheduled's worker exists):
 * so every log the projection replays folds without error.
 */
#ifndef DJS_PROJECTIONS_JOBVIEW_H
#define DJS_PROJECTIONS_JOBVIEW_H

#include <stdint.h>

#include "core/bodies.h"
#include "core/buf.h"
#include "eventlog/log.h"

typedef struct djs_job_view {
    djs_id_t id;
    int found;
    uint8_t state, prio, percent, fail_reason;
    uint32_t attempt, failures, max_retries, timeout_s;
    uint64_t submit_seq, last_seq, events;
    uint64_t created_ns, queued_ns, started_ns, finished_ns, retry_at_ns, eta_ns;
    uint64_t out_len;        /* bytes of output stored (job.output records) */
    uint32_t out_recv;       /* bytes of the current attempt's output received */
    uint8_t live;            /* submitted and not deleted (the machine's position is not NONE) */
    djs_id_t worker;         /* nil when not assigned */
    djs_buf_t submit;        /* the job.submitted record (name, payload, deps...) */
    djs_buf_t last_progress; /* the last job.progress record (step), may be empty */
    djs_buf_t last_result;   /* the job.succeeded or job.failed record, may be empty */
} djs_job_view_t;

void djs_job_view_init(djs_job_view_t *v);
void djs_job_view_dispose(djs_job_view_t *v);
/* Apply one event of this job (the caller feeds them in seq order); rec
 * and len are its record, copied when the view keeps it. Returns 0, or the
 * code djs_state_apply gives for an event that does not fit: DJS_ENOTFOUND
 * (no such job by then), DJS_EEXISTS, DJS_ECONFLICT (refused by the state
 * machine, an output chunk that does not follow the last), or a body
 * decoding error; then the view is unchanged. */
int djs_job_view_apply(djs_job_view_t *v, const djs_event_t *ev, const uint8_t *rec, size_t len);
/* Fold job id's events with seq <= at_seq (UINT64_MAX = all). 0 with
 * v->found set, DJS_ENOTFOUND if it had no events by then (or was deleted),
 * the error of djs_job_view_apply for an event that does not fit, or the
 * log's read errors. */
int djs_job_view_at(djs_log_t *log, const djs_id_t *id, uint64_t at_seq, djs_job_view_t *v);

/* What a job no longer in the live projection (evicted) ended as, read
 * from its history up to the durable seq: for a dependency named by a new
 * submission (the engine validates against the projection only, so the
 * caller gathers this fact from the log and passes it in the request).
 * *final is a job state (COMPLETED, CANCELLED, ...), DJS_JOB_FINAL_DELETED,
 * or DJS_JOB_FINAL_UNKNOWN when the id names no job (never submitted, or a
 * worker). Errors: the log's read errors. */
#define DJS_JOB_FINAL_UNKNOWN (-1)
#define DJS_JOB_FINAL_DELETED (-2)
int djs_job_view_final(djs_log_t *log, const djs_id_t *id, int *final);

#endif
