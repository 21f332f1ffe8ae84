/* The append-only event log, in LMDB.
 *
 * One LMDB environment per data directory (created 0700, files 0600):
 *   "events"    seq (u64, MDB_INTEGERKEY) -> record (core/event.h), MDB_APPEND
 *   "entity"    entity id (16) || seq (u64 big-endian) -> empty: one job's history
 *   "snapshots" seq (u64, MDB_INTEGERKEY) -> a manifest (length, piece count and
 *               size) of a projection snapshot (filled by projections/), or, in logs
 *               written before pieces, the whole snapshot (still read)
 *   "snappieces" seq (u64 big-endian) || piece (u32 big-endian) -> up to
 *               snapshot_piece bytes of a snapshot
 *   "output"    job id (16) || byte offset (u64 big-endian) -> bytes: job output
 *               (djs_log_put_output; the events only record its size)
 *   "meta"      "format" -> "djs-log-1"
 *
 * Threads. One appending thread (the libuv loop thread that owns the
 * engine) calls djs_log_append; appends are staged without locks and handed
 * to a writer thread at the end of each loop iteration (or when a batch is
 * full). The writer commits everything handed over since its last commit in
 * one transaction, one fsync (group commit), then publishes the durable seq
 * and wakes the loop (uv_async). Durable callbacks and tail notifications
 * run on the loop thread. Reads (get, scan, seq-at-time) may run on any
 * thread, concurrently with the writer, and from other processes that open
 * the same directory read-only.
 *
 * Failures. MDB_MAP_FULL grows the map (doubling) and redoes the batch. Any
 * other commit failure is fail-stop: the log stops accepting appends
 * (DJS_ESTORAGE), pending durable callbacks get DJS_ESTORAGE, and the
 * on_fatal callback runs on the loop thread so the process can exit
 * non-zero; a restart replays what was durable.
 */
#ifndef DJS_EVENTLOG_LOG_H
#define DJS_EVENTLOG_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/event.h"

typedef struct djs_log djs_log_t;

/* Translate an LMDB return code (MDB_NOTFOUND, MDB_MAP_FULL, errno values...)
 * into a djs code (core/error.h). 0 stays 0. */
int djs_err_from_mdb(int mdb_rc);

typedef void (*djs_log_fatal_cb)(void *arg, int err, const char *msg);
/* Visitor for scans (and djs_log_commit_entry). rec/len point into the
 * memory map (or the entry) and are valid only during the call. Return 0
 * to go on; any other value stops the scan and is returned by it. */
typedef int (*djs_log_visit_cb)(void *arg, uint64_t seq, const uint8_t *rec, size_t len);
/* Test seam: called by the writer thread before each commit; a non-zero
 * LMDB code (e.g. EIO, MDB_MAP_FULL) is treated as if the commit failed so. */
typedef int (*djs_log_fault_cb)(void *arg, uint64_t first_seq, uint64_t last_seq);

/* Replicated log (cluster/): called on the appending thread with each
 * sealed batch in its replicated form (entry, len: valid during the call)
 * and the batch's last event seq (0: output chunks only). 0 = taken (the
 * batch waits for djs_log_commit_entry); an error fails the log with it. */
typedef int (*djs_log_replicate_cb)(void *arg, const void *entry, size_t len, uint64_t last_seq);

typedef struct djs_log_options {
    size_t map_size;    /* initial map size in bytes; default 1 GiB; grows by doubling */
    int readonly;       /* read only; another process may be writing */
    uint32_t max_batch; /* staged events that force a hand-over; default 16384 */
    djs_time_cb clock;  /* timestamp source; NULL = CLOCK_REALTIME */
    void *clock_arg;
    djs_log_fatal_cb on_fatal; /* loop thread; NULL = only log the error */
    void *fatal_arg;
    djs_log_fault_cb fault; /* tests only */
    void *fault_arg;
    size_t snapshot_piece; /* bytes of a snapshot written per transaction; default 1 MiB */
    /* Read-write for a tool (restore, archive, rebuild --write-snapshot),
     * safe beside a running server: no writer thread, no clean-up of a live
     * writer's snapshot pieces, the tail read from the disk, no appends.
     * It writes only through the maintenance calls below, each synchronous
     * (LMDB serializes writers across processes). */
    int tool;
    /* Replicated log: sealed batches go to replicate() instead of the
     * writer, and reach the writer (and so become durable) only once
     * djs_log_commit_entry says they were committed. Appends are refused
     * (DJS_ENOTLEADER) unless djs_log_set_leader(log, 1). */
    djs_log_replicate_cb replicate;
    void *replicate_arg;
} djs_log_options_t;

void djs_log_options_init(djs_log_options_t *o);

/* Open (creating if needed, unless readonly) the log in dir. opts may be
 * NULL for defaults. On success *out is owned by the caller until
 * djs_log_close. Errors: DJS_EPERM, DJS_ENOTFOUND (readonly and no log),
 * DJS_ECORRUPT (not a djs log, or its last record does not decode),
 * DJS_EVERSION, DJS_EIO. */
int djs_log_open(djs_log_t **out, const char *dir, const djs_log_options_t *opts);

/* Deliver durable callbacks, tail notifications and fatal errors on loop,
 * and hand staged appends to the writer once per loop iteration. Call once,
 * from the appending thread. Without it, use djs_log_flush/djs_log_sync.
 * The log keeps the loop alive only while appended events await
 * durability, so uv_run returns once everything is durable and nothing
 * else is active. */
int djs_log_attach(djs_log_t *log, uv_loop_t *loop);

/* Flush staged events, wait until they are durable, stop the writer and
 * release everything. Pending durable callbacks run first (status 0 or the
 * failure). If attached, the memory is freed from libuv close callbacks:
 * the caller must let the loop run (uv_run) afterwards. */
void djs_log_close(djs_log_t *log);

/* Append one event. The log assigns ev->seq, ev->ts_ns (strictly
 * increasing, never below the last durable record's) and ev->hash; actor
 * and body are copied. Returns 0 and the seq is final at once; the event is
 * durable later (djs_log_when_durable). Errors: DJS_ESTORAGE (fail-stopped),
 * DJS_ERDONLY, DJS_EINVAL/DJS_ETOOBIG (from the codec). Appending thread only. */
int djs_log_append(djs_log_t *log, djs_event_t *ev);

/* Hand staged events to the writer now. */
void djs_log_flush(djs_log_t *log);
/* Flush and block until every appended event is durable (or the log
 * failed; with a replicated log: every event handed to the writer, since
 * the pending ones need the loop to commit), then run due durable
 * callbacks on this thread. Returns 0 or the
 * fail-stop error. Appending thread only. */
int djs_log_sync(djs_log_t *log);

/* Block until seq (at most the last seq handed to the writer: with a
 * replicated log, the last committed one) is durable or the log failed.
 * Returns 0 or the fail-stop error. Any thread but the writer. */
int djs_log_wait_durable(djs_log_t *log, uint64_t seq);

/* ---- the replicated log (opts.replicate): appending thread only ---------
 *
 * The leader appends as a single server does; each sealed batch (one loop
 * iteration's events and output chunks) goes to opts.replicate and waits
 * in a pending list. Consensus then delivers every committed entry, in
 * order, on every node, to djs_log_commit_entry:
 *   - the leader's own oldest pending batch goes to the writer, so its
 *     events become durable (and acknowledged) once committed and stored;
 *   - on a follower, a new entry is checked (seq continuity, timestamps,
 *     the hash chain: as djs_log_append_record), staged and handed to the
 *     writer, and on_new sees each of its events (to apply them);
 *   - an entry this node stored already (a restart replays from the
 *     consensus log) is checked against the stored chain and skipped.
 * Errors: DJS_ENOTLEADER (pending batches of ours, and the committed entry
 * is another leader's: our projection is ahead of the log), DJS_ESEQGAP,
 * DJS_ECHAIN, DJS_ECORRUPT (a malformed entry), DJS_EBUSY (a follower with
 * staged appends), on_new's non-zero value, DJS_ESTORAGE. Every error
 * means this node can no longer follow: fail-stop. */
void djs_log_set_leader(djs_log_t *log, int leader);
/* Batches replicated and not yet committed. */
size_t djs_log_pending(const djs_log_t *log);
/* The last event seq handed to the writer: with a replicated log, the
 * last committed one (durable here soon, djs_log_wait_durable). */
uint64_t djs_log_committed_seq(djs_log_t *log);
int djs_log_commit_entry(djs_log_t *log, const void *entry, size_t len, djs_log_visit_cb on_new, void *arg);

/* Status is 0 when seq was made durable, or the fail-stop error. */
typedef void (*djs_log_durable_cb)(void *arg, uint64_t seq, int status);
/* Call cb once seq is durable (immediately if it already is). Callbacks run
 * in seq order on the loop thread (or inside djs_log_sync). */
void djs_log_when_durable(djs_log_t *log, uint64_t seq, djs_log_durable_cb cb, void *arg);

/* Tail subscription: cb(arg, durable_seq) on the loop thread each time the
 * durable seq advances. The struct is owned by the subscriber and must stay
 * valid until djs_log_tail_stop. */
typedef void (*djs_log_tail_cb)(void *arg, uint64_t durable_seq);
typedef struct djs_log_tail {
    djs_log_tail_cb cb;
    void *arg;
    struct djs_log_tail *prev, *next;
} djs_log_tail_t;
void djs_log_tail_start(djs_log_t *log, djs_log_tail_t *t, djs_log_tail_cb cb, void *arg);
void djs_log_tail_stop(djs_log_t *log, djs_log_tail_t *t);

uint64_t djs_log_last_seq(djs_log_t *log);    /* last appended; read-only handles read the disk */
uint64_t djs_log_durable_seq(djs_log_t *log); /* last durable */
uint64_t djs_log_last_ts(djs_log_t *log);     /* timestamp of the last appended event */
/* Hash of the record at seq (the chain head as of seq): from memory for the
 * last appended one, else read. Errors: DJS_ENOTFOUND (not stored: archived,
 * or beyond the end), decode and read errors. Appending thread for the
 * last seq of a writable handle; any thread otherwise. */
int djs_log_hash_at(djs_log_t *log, uint64_t seq, uint8_t out[DJS_HASH_LEN]);
int djs_log_status(djs_log_t *log); /* 0, or the fail-stop error */
const char *djs_log_dir(djs_log_t *log);
/* Map size in bytes now (grows on MAP_FULL). */
size_t djs_log_map_size(djs_log_t *log);
/* The log's event clock: the engine reads "now" here so that decisions and
 * timestamps agree. Appending thread only. */
uint64_t djs_log_now(djs_log_t *log);

/* Store a projection snapshot taken after applying seq (which must be
 * appended already). The writer thread writes it in pieces of
 * snapshot_piece bytes, one piece per transaction, between the commits of
 * events (and on its own when no events are waiting), so a large snapshot
 * never holds up durability for more than one piece. It becomes visible to
 * djs_log_get_snapshot only with its last piece, which is committed with or
 * after the events up to seq: a snapshot never refers to a seq that is not
 * durable. Then only the newest `keep` snapshots are kept. A snapshot cut
 * short by a crash is never seen and its pieces are removed at the next
 * open. A snapshot already stored at seq is replaced (and invisible until
 * the new one is complete). Snapshots are written in the order they were
 * put; djs_log_sync and djs_log_close wait for them.
 * djs_log_put_snapshot copies data; djs_log_put_snapshot_fd reads len bytes
 * from fd at offsets 0..len-1 with pread on the writer thread and owns fd
 * from the call on, error or not (it is closed once written or dropped).
 * Errors: DJS_EINVAL (seq 0 or not appended, len 0, keep 0), DJS_ESTORAGE,
 * DJS_ERDONLY, DJS_ECLOSED. Appending thread only. */
int djs_log_put_snapshot(djs_log_t *log, uint64_t seq, const void *data, size_t len, uint32_t keep);
int djs_log_put_snapshot_fd(djs_log_t *log, uint64_t seq, int fd, size_t len, uint32_t keep);
/* How many snapshots are queued or being written (not yet visible); never
 * fails. */
int djs_log_snapshot_pending(djs_log_t *log);
/* Job output, kept outside the event log. Stage len bytes (1 ..
 * DJS_LOG_MAX_OUTPUT_CHUNK) of job's output at byte offset; they are
 * written by the writer thread in the same transaction as the events
 * appended after them (or an earlier one), so a caller that appends an
 * event recording the chunk right after knows the bytes are durable when
 * that event is. A later put at the same offset replaces the chunk.
 * Errors: DJS_EINVAL (len 0 or over the cap), DJS_ERDONLY, DJS_ESTORAGE
 * (the log has failed: fail-stop). Appending thread only. */
#define DJS_LOG_MAX_OUTPUT_CHUNK (256u * 1024u)
int djs_log_put_output(djs_log_t *log, const djs_id_t *job, uint64_t offset, const void *data, size_t len);
/* Append to out up to max bytes of job's stored output from offset on;
 * *next = the offset after the last byte returned (== offset when there is
 * nothing more yet). Errors: LMDB's, translated (djs_err_from_mdb:
 * DJS_ECORRUPT, DJS_ELIMIT, DJS_EIO...). Any thread. */
int djs_log_read_output(djs_log_t *log, const djs_id_t *job, uint64_t offset, size_t max, djs_buf_t *out, uint64_t *next);

/* The newest complete snapshot with seq <= max_seq: its seq and bytes
 * (appended to out; nothing is appended when its pieces do not match its
 * manifest, which no snapshot format accepts). DJS_ENOTFOUND if none. Any
 * thread. */
int djs_log_get_snapshot(djs_log_t *log, uint64_t max_seq, uint64_t *seq, djs_buf_t *out);

/* Writer statistics, for metrics and benchmarks. */
typedef struct djs_log_stats {
    uint64_t commits;       /* write transactions committed */
    uint64_t events;        /* records committed */
    uint64_t bytes;         /* record bytes committed */
    uint64_t commit_ns_sum; /* time in put+commit(+fsync), summed */
    uint64_t commit_ns_max;
    uint64_t map_grows;
    uint64_t snapshot_pieces; /* snapshot pieces committed (one per transaction at most) */
} djs_log_stats_t;
void djs_log_get_stats(djs_log_t *log, djs_log_stats_t *st);

/* ---- reads: any thread, any process ------------------------------------ */

/* (djs_log_visit_cb, the visitor of scans, is declared at the top.) */

/* Copy the record stored at seq into out (appended). DJS_ENOTFOUND. */
int djs_log_get(djs_log_t *log, uint64_t seq, djs_buf_t *out);
/* Visit records from..to inclusive (to = UINT64_MAX for "to the end as of
 * now") in seq order. Reads in chunks of short read transactions so a long
 * scan does not pin old pages. Returns 0 at the end, the visitor's
 * non-zero value if it stopped the scan, or LMDB's errors translated
 * (DJS_ECORRUPT, DJS_ELIMIT when no reader slot is free, DJS_EIO). */
int djs_log_scan(djs_log_t *log, uint64_t from, uint64_t to, djs_log_visit_cb cb, void *arg);
/* Visit the records of one entity with from <= seq <= to, in seq order.
 * Returns as djs_log_scan. */
int djs_log_scan_entity(djs_log_t *log, const djs_id_t *entity, uint64_t from, uint64_t to, djs_log_visit_cb cb, void *arg);
/* Visit every entry of the entity index (entity, seq) in key order; for
 * verification. Same return convention as the scans. */
typedef int (*djs_log_index_cb)(void *arg, const djs_id_t *entity, uint64_t seq);
int djs_log_scan_index(djs_log_t *log, djs_log_index_cb cb, void *arg);

/* First seq whose timestamp is >= ts_ns (binary search). DJS_ENOTFOUND if
 * every record is older. */
int djs_log_seq_at_time(djs_log_t *log, uint64_t ts_ns, uint64_t *seq);

/* Hot backup with compaction into dest (created 0700 if missing, must hold
 * no data.mdb). Safe while a writer is appending; consistent as of the
 * start. Blocks: call it from its own thread or a tool. Errors: DJS_EINVAL
 * (dest is not a directory), DJS_EEXISTS (dest already holds a log),
 * djs_err_from_errno of mkdir, LMDB's copy errors translated (DJS_EBUSY
 * from a thread that holds a read transaction, DJS_EIO...). */
int djs_log_backup(djs_log_t *log, const char *dest);

/* ---- maintenance: checkpoints, import, archive, truncation -------------- */

/* The archive base: the last record moved out by `djs replay archive`.
 * The log then starts at base.seq + 1 and its first record chains to
 * base.hash; a snapshot at base.seq is kept as its starting point.
 * Errors: DJS_ENOTFOUND (never archived: the log starts at seq 1 from an
 * all-zero hash), DJS_ECORRUPT, read errors. Any thread. */
typedef struct djs_log_base {
    uint64_t seq;
    uint64_t ts_ns;
    uint8_t hash[DJS_HASH_LEN];
} djs_log_base_t;
int djs_log_get_base(djs_log_t *log, djs_log_base_t *b);
/* base.seq + 1, or 1. Never fails (a read error counts as "not archived"). */
uint64_t djs_log_first_seq(djs_log_t *log);

/* Verified checkpoint: the newest (seq, hash) whose chain from the start
 * was checked (by the server's start-up check, restore, import or
 * archive), so the next check starts there. It is a hint for speed, not a
 * trust anchor against someone who can write the file: `djs replay
 * verify` always checks from the start. get: DJS_ENOTFOUND, DJS_ECORRUPT.
 * put: DJS_ERDONLY, DJS_ESTORAGE, LMDB's write errors. Any thread, not
 * inside another write transaction of this process. */
int djs_log_get_verified(djs_log_t *log, uint64_t *seq, uint8_t hash[DJS_HASH_LEN]);
int djs_log_put_verified(djs_log_t *log, uint64_t seq, const uint8_t hash[DJS_HASH_LEN]);

/* Import: append an encoded record as is (seq, timestamp and hash kept),
 * staged and committed like djs_log_append (djs_log_sync to wait). The
 * record must be the next one: seq == last + 1 (DJS_ESEQGAP), a timestamp
 * above the last (DJS_ESEQGAP), hash == the chain of the last hash and
 * the record (DJS_ECHAIN); decode errors as djs_event_decode; DJS_ERDONLY
 * on read-only and tool handles, DJS_ESTORAGE, DJS_ECLOSED. Appending
 * thread only. */
int djs_log_append_record(djs_log_t *log, const uint8_t *rec, size_t len);

/* Store a snapshot at seq (<= the last seq) synchronously, piece by piece,
 * from a tool handle, or a read-write one with no snapshot queued
 * (DJS_EBUSY). Nothing is pruned. Errors: DJS_EINVAL, DJS_ERDONLY,
 * DJS_ESTORAGE, LMDB's write errors. */
int djs_log_store_snapshot(djs_log_t *log, uint64_t seq, const void *data, size_t len);

/* Point-in-time cut (restore --to-seq): remove the records after
 * last_keep, their index entries, the snapshots above it and a verified
 * checkpoint above it; a read-write handle then appends after last_keep.
 * Output chunks are the caller's (djs_log_drop_output). Exclusive use
 * only: no server may have the directory open. Errors: DJS_EARCHIVED
 * (last_keep is before the archive base), DJS_EBUSY (appends in flight on
 * this handle), DJS_ERDONLY, LMDB's write errors. */
int djs_log_truncate(djs_log_t *log, uint64_t last_keep);
/* Remove job's output chunks stored at offsets >= from_off. Errors as
 * djs_log_truncate. */
int djs_log_drop_output(djs_log_t *log, const djs_id_t *job, uint64_t from_off);

/* Remove the snapshots with lo <= seq <= hi (the archive base's is kept):
 * a tool's, e.g. a benchmark's cold start without snapshots. Errors as
 * djs_log_truncate (DJS_ERDONLY, LMDB's write errors). */
int djs_log_drop_snapshots(djs_log_t *log, uint64_t lo, uint64_t hi);

/* Archive cut: record base = the record at base_seq (which must have a
 * snapshot stored at exactly base_seq, DJS_EINVAL otherwise), then delete
 * the records up to base_seq, their index entries and older snapshots in
 * transactions of a few thousand records, so a server appending beside
 * the tool waits at most one of them. progress (may be NULL) gets records
 * done and the total after each. Safe beside a running server (tool
 * handle). Errors: DJS_EARCHIVED (base_seq already archived), DJS_EINVAL
 * (base_seq not below the last seq, or no snapshot there), DJS_ERDONLY,
 * read and write errors. */
int djs_log_archive_cut(djs_log_t *log, uint64_t base_seq, void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg);

/* The raw LMDB environment, for the benchmark's physical baseline and
 * the snapshot/output stores of later modules. */
struct MDB_env *djs_log_env(djs_log_t *log);

#endif
