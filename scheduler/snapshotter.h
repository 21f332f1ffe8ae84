/* The snapshotter: writes snapshots of a live projection without stopping
 * the loop.
 *
 * A start forks a child that serializes the copy-on-write projection
 * (projections/snapshot.h) into a memfd and reports its length on a pipe,
 * then exits; the loop reads the report, reaps the child (waitpid with
 * WNOHANG, retried on a short timer) and, if the child exited cleanly and
 * the bytes check out (length, header, seq), hands the memfd to the log,
 * which writes it in pieces between event commits
 * (djs_log_put_snapshot_fd). Anything else is dropped with a note: a
 * snapshot is only a cache of the log. The child touches no libuv and no
 * LMDB (both forbid use after fork), closes every descriptor but its two,
 * runs at nice 10 and dies with its parent.
 *
 * Threads: the loop thread. Ownership: the snapshotter borrows the loop and
 * the log (both must outlive it) and owns its child, memfd and handles.
 */
#ifndef DJS_SCHEDULER_SNAPSHOTTER_H
#define DJS_SCHEDULER_SNAPSHOTTER_H

#include <stdint.h>
#include <uv.h>

#include "core/error.h"
#include "eventlog/log.h"
#include "projections/state.h"

typedef struct djs_snapshotter djs_snapshotter_t;

/* A snapshotter on loop that stores snapshots in log, keeping the newest
 * `kept`. note (may be NULL: silent) hears about snapshots that could not
 * be taken or stored. Cannot fail (out of memory aborts). */
djs_snapshotter_t *djs_snapshotter_new(uv_loop_t *loop, djs_log_t *log, uint32_t kept, djs_note_cb note, void *note_arg);

/* Start a snapshot of st, whose seq is seq; returns at once. One at a time.
 * Errors: DJS_EBUSY (the previous one is still being written, or its pipe still closing: skip this
 * one), DJS_EIO (no memfd, pipe or fork: a note says which). */
int djs_snapshotter_start(djs_snapshotter_t *s, const djs_state_t *st, uint64_t seq);

/* 1 while a child is at work or its snapshot is being checked. */
int djs_snapshotter_busy(const djs_snapshotter_t *s);

/* Stop a child still writing (its snapshot is lost; the next run takes
 * another) and free the snapshotter once its handles have closed: let the
 * loop run afterwards. NULL is ignored. */
void djs_snapshotter_close(djs_snapshotter_t *s);

#endif
