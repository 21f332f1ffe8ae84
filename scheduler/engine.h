/* The engine: commands in, events out.
 *
 * Every command is validated against the projection and either refused
 * with a precise error (and a one-line detail in djs_engine_errmsg) or turned
 * into events that are appended to the log and applied to the projection at
 * once. A command returns the seq of its last event: the caller acknowledges
 * it once that seq is durable (djs_log_when_durable), never before.
 *
 * The engine also makes the time-driven decisions, each recorded as an
 * event: delayed jobs and retries becoming due (job.queued), leases expiring,
 * runs timing out, workers being lost (three missed heartbeats) and, after
 * any change, placing ready jobs on workers (job.scheduled). It reads the
 * time from the log's clock (djs_log_now), so tests can drive it; the
 * projection never reads a clock.
 *
 * Threading: the loop thread only. Ownership: the engine borrows the log
 * (which must outlive it) and owns its projection.
 */
#ifndef DJS_SCHEDULER_ENGINE_H
#define DJS_SCHEDULER_ENGINE_H

#include <stdint.h>
#include <uv.h>

#include "core/bodies.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "projections/rebuild.h"
#include "projections/state.h"

typedef struct djs_engine djs_engine_t;

/* Called when a job is placed on a worker (to wake its long-poll). */
typedef void (*djs_engine_assign_cb)(void *arg, const djs_id_t *worker, const djs_id_t *job);

typedef struct djs_engine_config {
    djs_state_config_t state;
    uint64_t aging_ns;          /* a ready job's tier improves by one per aging_ns waited; default 60 s, 0 = no aging */
    uint64_t lease_ns;          /* time a worker has to start an assignment; default 30 s */
    uint64_t heartbeat_ns;      /* expected heartbeat interval; default 5 s */
    uint32_t missed_heartbeats; /* lost after this many intervals without one; default 3 */
    uint64_t retry_base_ns;     /* backoff base; default 1 s */
    uint64_t retry_cap_ns;      /* backoff cap; default 5 min */
    uint32_t max_infra_retries; /* worker losses / lease expiries before a job fails for good; default 10 */
    uint32_t hb_delta_pm;       /* record a heartbeat when cpu or mem moved more than this (permille); default 100 */
    uint64_t hb_every_ns;       /* ... or when the last recorded one is older than this; default 60 s */
    uint64_t snapshot_every;    /* events between snapshots; default 100,000; 0 = none */
    uint32_t snapshots_kept;    /* default 8 */
    uint64_t seed;              /* jitter PRNG seed; 0 = random */
    uint32_t output_cap;        /* output bytes kept per attempt; default 1 MiB; the rest is dropped with a marker */
    djs_engine_assign_cb on_assign;
    void *assign_arg;
    djs_note_cb note; /* lines for the operator (snapshots skipped or failed); default NULL: silent */
    void *note_arg;
} djs_engine_config_t;

void djs_engine_config_init(djs_engine_config_t *c);

/* Rebuild the projection (djs_state_rebuild: latest usable snapshot, then
 * the rest of the log; what it skipped goes to c->note) and, if loop is not
 * NULL, start the engine's timers and its snapshotter on it. *replay_ns and
 * *replayed (may be NULL) say how long it took and how many events were
 * applied. Errors: DJS_EINVAL (balancer weights do not sum to 1), the log's
 * read errors, DJS_ECORRUPT if an event does not apply (a foreign or
 * damaged log: run `djs replay verify`; c->note names the event). */
int djs_engine_open(djs_engine_t **out, djs_log_t *log, uv_loop_t *loop, const djs_engine_config_t *c, uint64_t *replay_ns,
                    uint64_t *replayed);
/* Stop timers and free the engine (and its projection). If a loop was
 * given, let it run afterwards so the handles close. */
void djs_engine_close(djs_engine_t *e);

const djs_state_t *djs_engine_state(const djs_engine_t *e);
djs_log_t *djs_engine_log(djs_engine_t *e);
/* The detail of the last refused command (static buffer in the engine). */
const char *djs_engine_errmsg(const djs_engine_t *e);

/* Replace the on_assign callback (e.g. once the HTTP server exists). */
void djs_engine_set_assign_cb(djs_engine_t *e, djs_engine_assign_cb cb, void *arg);

/* Process due timers and place ready jobs, as the loop does on its own;
 * for tests and for loop-less use. Returns the last seq appended (0 if none). */
uint64_t djs_engine_run(djs_engine_t *e);

/* Snapshots (every snapshot_every events). An engine with a loop hands
 * them to its snapshotter (scheduler/snapshotter.h: a forked child, the
 * loop goes on); one at a time: a snapshot due while one is in flight is
 * skipped; one that cannot be taken is noted (c->note). Without a loop
 * (tests, tools) the snapshot is serialized in place. 1 while a child is
 * at work. */
int djs_engine_snapshot_busy(const djs_engine_t *e);

/* ---- cluster roles (cluster/cluster.h) ------------------------------------------- */

/* A follower: the projection follows the committed log (djs_engine_apply)
 * and the engine decides nothing (commands are refused by the log with
 * DJS_ENOTLEADER; timers, placements and liveness checks do not run);
 * snapshots are still taken. */
void djs_engine_follow(djs_engine_t *e);
/* Apply one committed record of another leader to the projection.
 * DJS_ECORRUPT (detail in djs_engine_errmsg) when it does not apply. */
int djs_engine_apply(djs_engine_t *e, const uint8_t *rec, size_t len);
/* This node leads (the log takes appends): record cluster.leader (term,
 * node, its URL, the grace) and start deciding. Every worker gets a full
 * heartbeat window from now, and no lease expires before grace_ms. */
int djs_engine_lead(djs_engine_t *e, uint64_t term, uint64_t node, const char *url, uint32_t grace_ms, uint64_t *seq);

/* ---- jobs ----------------------------------------------------------------------- */

typedef struct djs_job_request {
    djs_job_spec_t spec;   /* name, description, priority, payload, timeout, retries, scheduled_at, idem_key */
    const djs_str_t *caps; /* required capabilities */
    uint32_t ncaps;
    const djs_id_t *dep_ids; /* dependencies on existing jobs */
    uint32_t ndep_ids;
    /* ndep_ids entries, or NULL: for a dependency no longer in the
     * projection (evicted), its final state as the caller read it from the
     * log (djs_job_view_final, projections/jobview.h). The engine validates
     * against the projection and these facts only: it does no I/O. */
    const int *dep_final;
    const djs_str_t *dep_keys; /* dependencies on other jobs of this request, by key */
    uint32_t ndep_keys;
    djs_str_t key; /* this job's key inside a workflow (may be empty for one job) */
} djs_job_request_t;

/* Submit n >= 1 jobs atomically (a workflow when n > 1): all are accepted
 * or none. ids_out[n] receives the job ids. With an idempotency key already
 * used by this owner, *existed is set and ids_out[0] names the first job (no
 * events). Errors: DJS_EINVAL/DJS_ETOOBIG (limits), DJS_ENOTFOUND (unknown
 * dependency id or key: an id not in the projection without a dep_final
 * fact is unknown), DJS_ECONFLICT (dependency cancelled, deleted or failed,
 * duplicate key), DJS_ECYCLE, DJS_ELIMIT (too many jobs). */
int djs_engine_submit(djs_engine_t *e, const char *owner, const djs_job_request_t *reqs, uint32_t n, djs_id_t *ids_out,
                      uint64_t *seq, int *existed);
/* Every job command below may also return the log's append errors
 * (DJS_ESTORAGE, DJS_EMAPFULL after growth failed: fail-stop), and
 * DJS_ENOTFOUND for a job not in the projection (never submitted, deleted,
 * or finished and evicted: its history is still in the log). */
/* Cancel a job that has not finished (its dependents fail upstream).
 * DJS_ECONFLICT if it is COMPLETED, FAILED or CANCELLED already. */
int djs_engine_cancel(djs_engine_t *e, const char *actor, const djs_id_t *job, uint64_t *seq);
/* Re-queue a FAILED job with a fresh retry budget. DJS_ECONFLICT if it is
 * not FAILED or some of its dependencies have not completed. */
int djs_engine_retry(djs_engine_t *e, const char *actor, const djs_id_t *job, uint64_t *seq);
/* Remove a finished job from the projection (its history stays in the
 * log). DJS_ECONFLICT if it has not finished. */
int djs_engine_delete(djs_engine_t *e, const char *actor, const djs_id_t *job, uint64_t *seq);
/* Change priority, max retries, timeout, name or description (the has_*
 * fields of c say which). DJS_ECONFLICT once the job has finished,
 * DJS_EINVAL (nothing to change, a value out of range), DJS_ETOOBIG. */
int djs_engine_update(djs_engine_t *e, const char *actor, const djs_id_t *job, const djs_job_change_t *c, uint64_t *seq);

/* ---- workers ----------------------------------------------------------------------- */

/* Every worker command may also return the log's append errors; those
 * naming a worker return DJS_ENOTFOUND for an unknown id. */
/* Register, or re-register by name (keeping the id). DJS_EINVAL (name,
 * slots 1..10000, load figures, capability lengths), DJS_ETOOBIG (host,
 * more than DJS_JOB_MAX_CAPS capabilities). */
int djs_engine_register(djs_engine_t *e, const char *actor, const djs_worker_info_t *w, const djs_str_t *caps, uint32_t ncaps,
                        djs_id_t *id, uint64_t *seq);
/* Liveness plus load figures; *seq is 0 when the heartbeat was not worth
 * an event (see docs/events.md, heartbeat policy). DJS_ECONFLICT if the
 * worker was lost or left: it must register again. */
int djs_engine_heartbeat(djs_engine_t *e, const djs_id_t *worker, uint32_t cpu_pm, uint32_t mem_pm, uint32_t resp_ms,
                         uint64_t *seq);
/* Change slots or capabilities. DJS_EINVAL (nothing to change, bad values),
 * DJS_ETOOBIG, DJS_ECONFLICT (the worker was lost or left). */
int djs_engine_update_worker(djs_engine_t *e, const char *actor, const djs_id_t *worker, const djs_worker_info_t *w,
                             const djs_str_t *caps, uint32_t ncaps, uint64_t *seq);
/* Stop placing jobs on the worker; those it runs finish. DJS_ECONFLICT if
 * it is draining already, lost or gone. */
int djs_engine_drain(djs_engine_t *e, const char *actor, const djs_id_t *worker, uint64_t *seq);
/* The worker leaves. DJS_ECONFLICT while jobs are still assigned to it. */
int djs_engine_deregister(djs_engine_t *e, const char *actor, const djs_id_t *worker, uint64_t *seq);

typedef struct djs_assignment {
    djs_id_t job;
    uint32_t attempt;
    uint64_t lease_ns;
    uint64_t submit_seq; /* where the payload is */
    uint64_t seq;        /* its placement (job.scheduled): hand it out only once durable */
} djs_assignment_t;
/* The worker's assignments not yet started (at most max); counts as a
 * heartbeat for liveness. DJS_ENOTFOUND, DJS_ECONFLICT (lost or gone: it
 * must register again). */
int djs_engine_poll(djs_engine_t *e, const djs_id_t *worker, djs_assignment_t *out, uint32_t max, uint32_t *n);

/* Claim on poll: at most max (at most 64) assignments of the worker,
 * started: first those claimed at placement and not yet handed out, then
 * its SCHEDULED ones, each started now (job.started right after its
 * job.scheduled). From this call on (until a djs_engine_poll of the
 * worker; in memory only) a job placed on the worker is started in the
 * same step as its placement (one commit: a job costs one durable round
 * trip less) and waits for the next claim. out[i].seq is the job.started
 * (answer once durable), out[i].lease_ns the run timeout's deadline (0:
 * none); the attempt is the one delivered: a later start report of it is
 * acknowledged as a repeated start. Counts as a heartbeat. Errors: those
 * of djs_engine_poll, the log's append errors (the jobs claimed before the
 * error stay claimed: *n of them). */
int djs_engine_claim(djs_engine_t *e, const djs_id_t *worker, djs_assignment_t *out, uint32_t max, uint32_t *n);
/* Claim one job just placed on worker (e.g. from on_assign, for a parked
 * claim poll): DJS_ENOTFOUND (job or worker), DJS_ECONFLICT (not a
 * SCHEDULED assignment of this worker: claimed already, or placed
 * elsewhere), the log's append errors. */
int djs_engine_claim_one(djs_engine_t *e, const djs_id_t *worker, const djs_id_t *job, djs_assignment_t *out);

/* What a worker says it runs (ids[0..n), e.g. its heartbeat's "running"):
 * a job RUNNING on it that it does not list, started more than a liveness
 * window (heartbeat_ns * missed_heartbeats) ago, never reached it (a claim
 * answer lost to a crash or a dropped connection) and fails with reason
 * lease_expired, an infrastructure retry. *seq is the last event (0:
 * none). Errors: those of djs_engine_poll, the log's append errors. */
int djs_engine_unlisted(djs_engine_t *e, const djs_id_t *worker, const djs_id_t *ids, uint32_t n, uint64_t *seq);

/* Fenced reports of an assignment: the worker and attempt must be the
 * job's current ones (DJS_ESTALE otherwise) and the job in the right state
 * (DJS_ECONFLICT); DJS_ENOTFOUND for an unknown job or worker, the log's
 * append errors; progress DJS_EINVAL (percent over 100), DJS_ETOOBIG (step);
 * complete DJS_EINVAL (result malformed, too deep or too large). */
/* Start an assignment. Starting the RUNNING attempt again (the same worker
 * and attempt: an answer lost to a crash) is acknowledged with *seq = 0. */
int djs_engine_start(djs_engine_t *e, const djs_id_t *worker, const djs_id_t *job, uint32_t attempt, uint64_t *seq);
int djs_engine_progress(djs_engine_t *e, const djs_id_t *worker, const djs_id_t *job, uint32_t attempt, uint32_t percent,
                        djs_str_t step, uint64_t eta_ns, uint64_t *seq);
/* A chunk of the running attempt's output (stdout/stderr as the agent
 * captured it), at byte offset `offset` of this attempt's output. The bytes
 * go to the log's output database and a job.output event records them.
 * Retried chunks are fine: bytes already received are skipped (*seq = 0
 * when nothing was new). Past output_cap the attempt's output ends with a
 * truncation marker and later bytes are acknowledged but dropped.
 * *received = bytes of this attempt received after the call (left untouched
 * when the report is refused before the attempt is known). Errors as the
 * other fenced reports, DJS_ECONFLICT for a gap (offset beyond what was
 * received), DJS_ETOOBIG for a chunk over DJS_LOG_MAX_OUTPUT_CHUNK. */
int djs_engine_output(djs_engine_t *e, const djs_id_t *worker, const djs_id_t *job, uint32_t attempt, uint64_t offset,
                      const uint8_t *data, size_t len, uint64_t *seq, uint64_t *received);
int djs_engine_complete(djs_engine_t *e, const djs_id_t *worker, const djs_id_t *job, uint32_t attempt, const uint8_t *result,
                        size_t result_len, uint64_t *seq);
int djs_engine_fail(djs_engine_t *e, const djs_id_t *worker, const djs_id_t *job, uint32_t attempt, djs_str_t error, uint64_t *seq);

/* ---- the serving process -------------------------------------------------------- */

/* Record that a server started (server.started: pid, listen address) or
 * is stopping cleanly (server.stopped), by actor "server", through the same
 * path as every other event. Errors: DJS_ETOOBIG (listen longer than
 * DJS_SERVER_MAX_LISTEN), the log's append errors. */
int djs_engine_server_started(djs_engine_t *e, int64_t pid, const char *listen, uint64_t *seq);
int djs_engine_server_stopped(djs_engine_t *e, int64_t pid, uint64_t *seq);

/* ---- schedules (scheduler/schedules.c) ------------------------------------------------ */

/* Recurring jobs. A schedule's definition is a djs_schedule_def_t
 * (core/bodies.h: name, spec, tz, policies, start/end, jitter, and the
 * template: the POST /jobs request as MessagePack, one job or
 * {"jobs":[...]}); owner and next_jitter_ms are set by the engine. Its
 * fires are decided by djs_engine_run and recorded as schedule.fired in the
 * same batch as the job.submitted events of the jobs submitted through
 * djs_engine_submit's checks (jobs carry the schedule's id).
 *
 * Policies at a fire: overlap (the previous fire's jobs not all finished):
 * skip (recorded as skipped "overlap"), allow, or cancel-previous (they are
 * cancelled, then the new ones submitted). Catch-up, when fires were
 * missed (a nominal time more than DJS_SCHEDULE_GRACE_S late: the server
 * was down): none (one schedule.fired skipped "missed" records them, unless
 * the latest one is within the grace: that one fires), last (the latest
 * fires, recording how many it stands for), all (each of the latest
 * catchup_max fires, the older ones counted as missed; the overlap policy
 * is judged once for the batch). Jitter: each fire waits a draw in
 * [0, jitter_s] s, drawn when the previous fire (or the definition, or the
 * resume) was recorded, so a replay never draws again.
 *
 * Errors of create and update: DJS_EINVAL (name, spec: the reason in
 * djs_engine_errmsg; unknown zone; policies out of range; end before start;
 * template malformed), DJS_ETOOBIG (template over limits); update, pause,
 * resume, delete DJS_ENOTFOUND (no such schedule); pause DJS_ECONFLICT if
 * paused already, resume if not paused; and the log's append errors. The
 * zone is loaded (I/O) here, once per name, and cached. */
#define DJS_SCHEDULE_GRACE_S 60
#define DJS_SCHEDULE_DEFAULT_CATCHUP 10
int djs_engine_schedule_create(djs_engine_t *e, const char *owner, const djs_schedule_def_t *d, djs_id_t *id, uint64_t *seq);
int djs_engine_schedule_update(djs_engine_t *e, const char *actor, const djs_id_t *id, const djs_schedule_def_t *d, uint64_t *seq);
int djs_engine_schedule_pause(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq);
int djs_engine_schedule_resume(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq);
int djs_engine_schedule_delete(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq);
/* The next fire instant (ns, jitter included) of a schedule: 0, or
 * DJS_ENOTFOUND (no such schedule, paused, or no fire left). */
int djs_engine_schedule_next(djs_engine_t *e, const djs_id_t *id, uint64_t *due_ns);

/* ---- time travel -------------------------------------------------------------------- */

/* The whole system as of seq, through the engine's time-travel cache
 * (projections/rebuild.h: djs_state_cache_at over this engine's log and
 * state config). The state is read-only, owned by the cache, valid until a
 * later call of this function or djs_engine_close. Does not touch the live
 * state; at the live state's own seq, once durable, it is the live state
 * (djs_engine_state: valid until the next event is applied). Errors: those
 * of djs_state_at. */
int djs_engine_state_at(djs_engine_t *e, uint64_t seq, const djs_state_t **out);

#endif
