/* Points in a log for the replay tools: a time turned into a seq, the way
 * `--from TIME` and `--to TIME` mean it.
 *
 * A range [from, to] of seqs is inclusive at both ends. A "from" time is
 * the first event at or after it; a "to" time the last event at or before
 * it. Threads: any (LMDB read transactions); the log must outlive the call.
 */
#ifndef DJS_REPLAY_POINT_H
#define DJS_REPLAY_POINT_H

#include <stdint.h>

#include "eventlog/log.h"

/* *seq = the first seq whose timestamp is >= ts_ns, or the log's last seq
 * + 1 when every event is older (an empty range from there). Errors: the
 * log's read errors (DJS_ECORRUPT, DJS_EIO...). */
int djs_replay_point_from(djs_log_t *log, uint64_t ts_ns, uint64_t *seq);
/* *seq = the last seq whose timestamp is <= ts_ns, or 0 when every event
 * is newer. Errors: as djs_replay_point_from. */
int djs_replay_point_to(djs_log_t *log, uint64_t ts_ns, uint64_t *seq);

#endif
