/* Retention: `djs replay archive`. Old events move out of the live log
 * into a verified archive file, and the log then starts from a checkpoint.
 *
 *   1. the point: base = the last record older than `before`;
 *   2. the archive: the log's records from its first seq to base, with
 *      their job output, exported in the msgpack encoding of
 *      replay/export.h, then read back and checked (djs_archive_check):
 *      dense seqs, increasing times, the hash chain from the log's start,
 *      every output chunk against its event's out_sha, the trailer, and a
 *      head equal to record base's hash. Only then is the log touched;
 *   3. the checkpoint: a snapshot of the state at base (rebuilt with the
 *      retention the server's newest snapshot recorded) is stored, then
 *      djs_log_archive_cut records base {seq, time, hash} and deletes the
 *      archived records in short transactions. The log's first record
 *      chains to base's hash, so `djs replay verify` checks the log from
 *      there and djs_archive_check proves the archive ends there: the chain
 *      verifies across the archive. Seqs never change: the same seq still
 *      names the same event in the log, its archive and every stream;
 *   4. with prune_output: the output of jobs that have no event after base
 *      (finished and archived whole) is removed from the log (it is in the
 *      archive).
 *
 * Beside a running server: the log is opened as a tool handle
 * (eventlog/log.h); the server keeps appending, its time travel before
 * base answers 410 afterwards. A second archive of the same log starts
 * after the first's base (its file's header names that base).
 */
#ifndef DJS_REPLAY_ARCHIVE_H
#define DJS_REPLAY_ARCHIVE_H

#include <stdint.h>
#include <stdio.h>

#include "core/event.h"

typedef void (*djs_archive_progress_cb)(void *arg, const char *phase, uint64_t done, uint64_t total);

typedef struct djs_archive_options {
    uint64_t before_ns;  /* archive the records older than this time ... */
    uint64_t before_seq; /* ... or, when not 0, those before this seq */
    int prune_output;
    djs_archive_progress_cb progress; /* may be NULL */
    void *arg;
} djs_archive_options_t;

typedef struct djs_archive_report {
    uint64_t first_seq, base_seq; /* archived: first_seq..base_seq */
    uint64_t events, chunks, output_bytes, file_bytes;
    uint64_t jobs_pruned, pruned_bytes; /* output removed from the log */
    uint8_t head[DJS_HASH_LEN];         /* hash of record base_seq: the log's new starting point */
    uint8_t digest[32];                 /* state digest at base_seq (the stored snapshot's) */
    char detail[320];                   /* on error: what went wrong */
} djs_archive_report_t;

/* Archive the log in dir into the file dest (which must not exist; written
 * beside it as dest.tmp-XXXXXX and renamed once checked). Errors:
 * DJS_EEXISTS (dest exists), DJS_EINVAL (nothing to archive: the point is
 * before the log's first record, or at or after its last), DJS_EARCHIVED,
 * DJS_ECORRUPT (the archive did not check out: the log is left as it was),
 * DJS_EIO, and the log's errors. rep->detail says what happened. */
int djs_archive(const char *dir, const char *dest, const djs_archive_options_t *o, djs_archive_report_t *rep);

/* Check an archive file read from `in` (djs_archive's output, or any
 * complete msgpack export): the chain from the header's prev_hash, every
 * output chunk, the trailer. head/last_seq/first_seq are filled from it.
 * Errors: DJS_EINVAL (not a msgpack export), DJS_ETRUNCATED (cut short),
 * DJS_ESEQGAP, DJS_ECHAIN, DJS_ECORRUPT (output or trailer); detail says
 * where. */
typedef struct djs_archive_check_report {
    uint64_t first_seq, last_seq, events, chunks;
    uint8_t prev[DJS_HASH_LEN]; /* the chain hash before first_seq */
    uint8_t head[DJS_HASH_LEN];
    char detail[320];
} djs_archive_check_report_t;
int djs_archive_check(FILE *in, djs_archive_check_report_t *rep);

#endif
