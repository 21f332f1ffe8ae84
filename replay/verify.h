/* Verification of a log: `djs replay verify` and the server's start-up check.
 *
 * The chain walk visits every record from the log's first seq (1, or the
 * one after an archive base, chained to the base's hash) in seq order and
 * checks that keys are dense, each record decodes, its seq field matches
 * its key, timestamps strictly increase, and each hash equals
 * SHA-256(previous hash || record prefix). Along the way it checks job
 * output: every job.output event that carries out_sha (all written since
 * output was bound into the chain) must find exactly its bytes in the
 * output store with that SHA-256. Then the entity index both ways (a
 * sequential walk whose order-independent sum must equal the records'),
 * naming the first bad entry when they differ.
 *
 * The replay (opts.replay), on a thread of its own beside the chain walk,
 * applies every record with the live server's own apply and, at each
 * stored snapshot, checks that the snapshot restores and that its digest
 * equals the replayed state's: a snapshot that would restore other state
 * than the log says is found here. It replays with the retention the
 * newest snapshot recorded (snapshots v5), so a server run with
 * --keep-finished verifies too; a snapshot taken under another retention
 * gets a replay of its own.
 *
 * Everything runs through short read transactions: safe beside a running
 * server (the walk stops at the last seq when it started). Stops at the
 * first problem and names it.
 */
#ifndef DJS_REPLAY_VERIFY_H
#define DJS_REPLAY_VERIFY_H

#include <stdint.h>

#include "eventlog/log.h"

/* Progress: called about every 1% (and at the end) with records done and
 * the total expected. May be NULL. */
typedef void (*djs_verify_progress_cb)(void *arg, uint64_t done, uint64_t total);

typedef struct djs_verify_options {
    /* Start: 0 = the log's start. Else the record at `from` is trusted
     * (its stored hash starts the chain) and the walk checks from+1 on;
     * the index is then checked for records after `from` only, and the
     * replay starts from the newest snapshot at or before `from`. */
    uint64_t from;
    /* Start from the log's verified checkpoint (djs_log_get_verified) when
     * it is newer than `from`; its hash must match the stored record's. */
    int from_checkpoint;
    /* Record a verified checkpoint every this many good records and at the
     * end (0: never). Needs a writable handle. */
    uint64_t checkpoint_every;
    int output; /* check job output bytes against their out_sha */
    int index;  /* check the entity index */
    int replay; /* replay and check every snapshot's digest */
    /* Without the replay, a chain walk of at least this many records is
     * split in two halves on two threads (0: 400,000; tests set it low). */
    uint64_t split_min;
    djs_verify_progress_cb progress;
    void *arg;
} djs_verify_options_t;

/* Every check on (output, index, replay), from the start, no checkpoints. */
void djs_verify_options_init(djs_verify_options_t *o);

typedef struct djs_verify_report {
    uint64_t first_seq; /* first record walked */
    uint64_t records;   /* records checked */
    uint64_t last_seq;  /* last good seq */
    uint64_t bad_seq;   /* first bad seq, 0 if none */
    uint64_t first_ts, last_ts;
    uint64_t bytes;          /* record bytes walked */
    uint64_t jobs;           /* job.submitted records */
    uint64_t workers;        /* worker.registered records */
    uint64_t schedule_fires; /* schedule.fired records */
    uint64_t index_entries;
    uint64_t output_chunks;          /* chunks checked against out_sha */
    uint64_t output_bytes;           /* their bytes */
    uint64_t output_unbound;         /* chunks from before out_sha: not checkable */
    uint32_t snapshots;              /* snapshots checked against the replay */
    uint32_t snapshots_old;          /* snapshots of a format without a digest: restored and compared */
    uint64_t replayed;               /* records the replay applied */
    uint64_t base_seq;               /* archive base (0: none) */
    uint64_t trusted_seq;            /* the record whose hash was trusted (from / checkpoint / base), 0: none */
    int error;                       /* 0, or the djs error of the first problem */
    int snapshot_problem;            /* 1: the problem is a stored snapshot (a cache), the records verified */
    char detail[256];                /* human-readable description of the problem */
    uint8_t head_hash[DJS_HASH_LEN]; /* hash of the last good record */
    uint8_t digest[32];              /* the replayed state's digest at last_seq (opts.replay) */
} djs_verify_report_t;

/* Returns 0 when the log verifies, else rep->error (a negative code) with
 * rep->bad_seq and rep->detail set: DJS_ESEQGAP, DJS_ECHAIN, DJS_ECORRUPT
 * (a record, index entry, output chunk or snapshot that does not match),
 * decode errors; I/O errors are returned as such. */
int djs_verify_run(djs_log_t *log, const djs_verify_options_t *o, djs_verify_report_t *rep);

/* djs_verify_run with every check from the start and this progress. */
int djs_verify_log(djs_log_t *log, djs_verify_report_t *rep, djs_verify_progress_cb progress, void *arg);

#endif
