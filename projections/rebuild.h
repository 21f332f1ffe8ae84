/* Rebuilding a projection from the log: the newest usable snapshot at or
 * before a seq, then the log replayed on top of it. The server's start-up
 * and every whole-system time-travel read ("the queue at 10:02") come
 * through here.
 *
 * Snapshots are a cache (DESIGN.md invariant 1): a snapshot that does not
 * restore, or that claims another seq, is skipped for the one before it;
 * if the log does not apply on top of a snapshot, the whole log is
 * replayed from seq 1. What was skipped and why is returned in the report,
 * never printed: the caller decides where it goes.
 *
 * Threads: any thread (LMDB read transactions; the replay uses one helper
 * thread of its own, projections/replay.h). The log must outlive the call.
 */
#ifndef DJS_PROJECTIONS_REBUILD_H
#define DJS_PROJECTIONS_REBUILD_H

#include <stdint.h>

#include "eventlog/log.h"
#include "projections/state.h"

typedef struct djs_rebuild_report {
    uint64_t snapshot_seq;      /* the snapshot the state started from; 0: replayed from seq 1 */
    uint32_t snapshots_skipped; /* unusable snapshots passed over */
    int full_replay;            /* 1 if the log did not apply on a snapshot and was replayed from seq 1 */
    uint64_t applied;           /* events applied on top of the starting point */
    uint64_t bad_seq;           /* on DJS_ECORRUPT: the first event that does not apply ... */
    int bad_err;                /* ... and why (a DJS_E code) */
    char notes[512];            /* one line per skipped snapshot or fallback, '\n'-separated; "" if none */
} djs_rebuild_report_t;

/* Build the state as of seq `upto` (<= the log's last seq) into *out, which
 * the caller frees (djs_state_free). rep (may be NULL) says how. Errors: the
 * log's read errors; DJS_ECORRUPT if an event does not apply even from seq 1
 * (a foreign or damaged log: rep->bad_seq names it, run `djs replay verify`;
 * also when an archived log has no usable snapshot at or after its base);
 * DJS_EARCHIVED if upto is before the archive base (eventlog/log.h). */
int djs_state_rebuild(djs_log_t *log, const djs_state_config_t *c, uint64_t upto, djs_state_t **out, djs_rebuild_report_t *rep);

/* Time travel: the whole state as of seq (at most the durable seq), built by
 * djs_state_rebuild. c may be NULL (defaults). Errors: DJS_ERANGE (seq not
 * durable yet), and those of djs_state_rebuild. */
int djs_state_at(djs_log_t *log, const djs_state_config_t *c, uint64_t seq, djs_state_t **out);

/* A small cache of whole-system states by seq (the DJS_STATE_CACHE most
 * recently used points), so repeated reads of one point (a dashboard paging
 * "as of 10:02") rebuild once. Borrows log (must outlive it); copies c (may
 * be NULL). States it returns are read-only, owned by the cache, valid until
 * the next djs_state_cache_at or djs_state_cache_free. Not thread-safe. */
#define DJS_STATE_CACHE 4
typedef struct djs_state_cache djs_state_cache_t;
djs_state_cache_t *djs_state_cache_new(djs_log_t *log, const djs_state_config_t *c);
/* Errors: those of djs_state_at. */
int djs_state_cache_at(djs_state_cache_t *tc, uint64_t seq, const djs_state_t **out);
void djs_state_cache_free(djs_state_cache_t *tc); /* NULL is ignored */

#endif
