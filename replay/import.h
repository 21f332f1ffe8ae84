/* Import of an export (replay/export.h) into a new log: `djs replay import`.
 *
 * Only a complete export is accepted: from the source's first seq, no type
 * or entity filter (a filtered export is for reading), and from a log
 * never archived (its first record chains to the all-zero hash; a log cut
 * by `djs replay archive` cannot be imported yet). The log is built in
 * NEWDIR.tmp-XXXXXX beside newdir and renamed to newdir only once all of
 * it checks out, so a bad input leaves no log behind:
 *
 *   1. every record is appended as is (djs_log_append_record: seq, time
 *      and hash kept; its seq dense, its time increasing, its hash the
 *      chain of the one before); a jsonl line's rec must agree with its
 *      seq, type and hash; each job.output record is followed by its
 *      bytes, which are stored at the offset it names;
 *   2. the trailer's counts, last seq and chain head match what came
 *      (a file cut short has no trailer);
 *   3. the new log verifies (replay/verify.h: chain, index, output bytes
 *      against their out_sha), recording verified checkpoints as the
 *      server does; the state is rebuilt from it (its digest in the
 *      report) and a snapshot is stored at the last seq.
 *
 * Memory is bounded by one item (a record or an output chunk). Threads:
 * the calling thread is the new log's appending thread; nothing else of
 * the process may open newdir meanwhile.
 */
#ifndef DJS_REPLAY_IMPORT_H
#define DJS_REPLAY_IMPORT_H

#include <stdint.h>
#include <stdio.h>

#include "core/event.h"
#include "projections/state.h"
#include "replay/export.h"

typedef struct djs_import_options {
    const djs_state_config_t *state; /* for the rebuild and the snapshot; NULL = defaults */
    djs_export_progress_cb progress; /* events imported and the header's count; may be NULL */
    void *progress_arg;
} djs_import_options_t;

typedef struct djs_import_report {
    djs_export_format_t format; /* as read from the file (0 before its header) */
    uint64_t events, chunks, output_bytes;
    uint64_t last_seq;
    uint8_t head[DJS_HASH_LEN];   /* chain head of the new log */
    uint8_t digest[DJS_HASH_LEN]; /* state digest after the last record */
    uint64_t item;                /* on error: the 1-based line (jsonl) or item (msgpack) at fault, 0 if none */
    uint64_t bad_seq;             /* on error: the record's seq when known, else 0 */
    char detail[320];             /* on error: what is wrong, naming the line/item */
} djs_import_report_t;

/* Import the export read from in into newdir (which must not exist, or be
 * an empty directory). o may be NULL. Errors (rep->detail says which line
 * and why): DJS_EEXISTS (newdir holds something), DJS_EINVAL (not an
 * export, an item malformed or out of place, a filtered or archived
 * export), DJS_EVERSION (an export version this build does not read),
 * DJS_ETRUNCATED (the file ends before its trailer), DJS_ETOOBIG (an item
 * over its limit), DJS_ECORRUPT (a rec that disagrees with its line, a
 * count or head that disagrees with the trailer, the new log failing to
 * verify or rebuild), DJS_ESEQGAP and DJS_ECHAIN (records out of order or
 * tampered), DJS_EIO (reading in, or the file system), the log's errors. */
int djs_import(FILE *in, const char *newdir, const djs_import_options_t *o, djs_import_report_t *rep);
/* The same from a file descriptor (not closed), for the benchmark. */
int djs_import_fd(int fd, const char *newdir, const djs_import_options_t *o, djs_import_report_t *rep);

#endif
