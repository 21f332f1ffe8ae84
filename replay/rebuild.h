/* `djs replay rebuild`: the projection rebuilt from scratch (no snapshot)
 * up to a point, its digest, and optionally a fresh snapshot of it stored
 * in the log.
 *
 * "From scratch" is from seq 1, or, in an archived log (djs replay
 * archive), from the snapshot at the archive base, the only starting point
 * such a log has. The same apply as the server (djs_state_replay), so the
 * digest equals the server's at that seq (GET /api/v1/state?at_seq=N) when
 * both use the same retention of finished jobs (the defaults, or keep_all
 * for every job).
 *
 * Threads: any; the log must outlive the call. Writing a snapshot needs a
 * tool handle (djs_log_options_t.tool), safe beside a running server.
 */
#ifndef DJS_REPLAY_REBUILD_H
#define DJS_REPLAY_REBUILD_H

#include <stdint.h>

#include "eventlog/log.h"
#include "projections/state.h"

typedef struct djs_replay_rebuild_opts {
    uint64_t to_seq;    /* the last event to apply; UINT64_MAX: the end as of the call */
    int keep_all;       /* keep every finished job in memory (the server's defaults evict them) */
    int write_snapshot; /* store the state as a snapshot at to_seq (djs_log_store_snapshot), built
                           with the retention the newest snapshot in the log recorded (the server's:
                           snapshot format 5), else the defaults; not with keep_all (DJS_EINVAL) */
} djs_replay_rebuild_opts_t;

void djs_replay_rebuild_opts_init(djs_replay_rebuild_opts_t *o); /* the end, default retention, no snapshot */

typedef struct djs_replay_rebuild_report {
    uint64_t seq;       /* the state's seq: the last event applied */
    uint64_t ts_ns;     /* its timestamp */
    uint64_t start_seq; /* 0: from the empty state; else the archive base snapshot it started from */
    uint64_t events;    /* events applied */
    double seconds;     /* time spent applying */
    uint64_t jobs;      /* jobs in memory at the end */
    uint64_t submitted, completed, failed;
    uint8_t digest[32];                      /* djs_state_digest */
    uint64_t snapshot_bytes;                 /* with write_snapshot: the stored snapshot's size */
    uint64_t retention_seq;                  /* with write_snapshot: the snapshot whose retention was used; 0: the defaults */
    uint64_t max_terminal, max_terminal_age; /* the retention the state was built with */
    uint64_t bad_seq;                        /* on DJS_ECORRUPT: the event that does not apply ... */
    int bad_err;                             /* ... and why */
} djs_replay_rebuild_report_t;

/* Rebuild per o (NULL: defaults) into rep. If out is not NULL it receives
 * the state (the caller's: djs_state_free) on success. Errors: DJS_EINVAL
 * (to_seq 0 or past the last seq, NULL rep, keep_all with
 * write_snapshot), DJS_EARCHIVED (to_seq before
 * the archive base), DJS_ECORRUPT (an event does not apply, or the base
 * snapshot does not restore: rep->bad_seq, rep->bad_err), the log's read
 * errors, and with write_snapshot djs_log_store_snapshot's (DJS_ERDONLY on
 * a read-only handle). */
int djs_replay_rebuild(djs_log_t *log, const djs_replay_rebuild_opts_t *o, djs_replay_rebuild_report_t *rep, djs_state_t **out);

#endif
