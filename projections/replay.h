/* Replaying a range of the log into a projection, fast.
 *
 * Applying events is bound by memory latency (an index bucket and a job
 * record per event, in tables of hundreds of MB). The replayer decodes a
 * window of events ahead of the one it applies and prefetches, in two
 * stages, the index bucket and then the job record each will touch, so the
 * cache misses of many events overlap. Records are copied into the window,
 * so a concurrent writer reusing pages cannot change them under us.
 */
#ifndef DJS_PROJECTIONS_REPLAY_H
#define DJS_PROJECTIONS_REPLAY_H

#include <stdint.h>

#include "eventlog/log.h"
#include "projections/state.h"

/* Apply records from..to (inclusive; UINT64_MAX = to the end) to st in seq
 * order. On success *applied (may be NULL) counts them. If a record does not
 * decode or apply: returns DJS_ECORRUPT and *bad_seq (may be NULL) names it,
 * *bad_err its error; the state then holds every record before it. */
int djs_state_replay(djs_state_t *st, djs_log_t *log, uint64_t from, uint64_t to, uint64_t *applied, uint64_t *bad_seq,
                     int *bad_err);

#endif
