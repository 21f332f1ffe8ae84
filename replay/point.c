/* Times to seqs: a binary search of the log by timestamp (eventlog). */
#include "replay/point.h"

#include "core/error.h"

int djs_replay_point_from(djs_log_t *log, uint64_t ts_ns, uint64_t *seq)
{
    int rc = djs_log_seq_at_time(log, ts_ns, seq);
    if (rc == DJS_ENOTFOUND) {
        *seq = djs_log_last_seq(log) + 1;
        return 0;
    }
    return rc;
}

int djs_replay_point_to(djs_log_t *log, uint64_t ts_ns, uint64_t *seq)
{
    if (ts_ns == UINT64_MAX) {
        *seq = djs_log_last_seq(log);
        return 0;
    }
    uint64_t first;
    int rc = djs_log_seq_at_time(log, ts_ns + 1, &first);
    if (rc == DJS_ENOTFOUND) {
        *seq = djs_log_last_seq(log);
        return 0;
    }
    if (rc != 0)
        return rc;
    *seq = first - 1; /* seqs are dense: the one before is the last at or before ts */
    return 0;
}
