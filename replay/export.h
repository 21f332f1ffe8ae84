/* Export of a log: `djs replay export`, read back by replay/import.h.
 *
 * Two encodings of one stream of items, each versioned by its header
 * (DJS_EXPORT_VERSION; a change of any item's layout bumps it, and
 * import keeps reading every older version):
 *
 *   header   {"format":"djs-export","version":1,"encoding":"jsonl"|"msgpack",
 *             "first_seq","last_seq" (the range asked for),
 *             "log_first_seq" (the source log's first seq: 1, or after its archive base),
 *             "prev_hash" (the chain hash before first_seq),
 *             "base" (the source's archive base {seq,ts,hash}, or null),
 *             "complete" (true: from the log's first seq, no type or entity
 *             filter; only these are importable), "types", "entity"}
 *   record   one per exported event, in seq order
 *   output   {"output":seq,"job":id,"offset":n,"data":bytes} after each
 *            job.output record that stored bytes: the bytes it recorded,
 *            read with djs_log_read_output
 *   trailer  {"end":"djs-export","events":n,"chunks":n,"output_bytes":n,
 *             "last_seq":seq,"head":hash}: the last item, so a file cut
 *            short is detected
 *
 * jsonl: one JSON object per line. A record line is the streams' rendering
 * of the event (core/jtext.h djs_jt_event: seq, type, at, actor, entity,
 * body) plus "hash" (hex) and "rec" (base64 of the exact stored record):
 * JSON cannot carry MessagePack's distinctions (bin or str, integer
 * widths), so import uses rec and checks that it agrees with the line's
 * seq, type and hash. Hashes are hex, ids canonical text, bytes base64.
 * msgpack: the header, output and trailer items are maps with the same
 * keys (hashes and ids as bin, data as bin), and a record item is the
 * stored record itself (an array of 8, core/event.h), byte for byte.
 *
 * Threads and concurrency: any thread; the log may be a read-only handle
 * beside a running server. Records are read by djs_log_scan (short read
 * transactions) up to the last seq as of the start, and written as they are
 * read: memory is bounded by one record and its output. The file depends
 * only on the records of the range and the options: exporting the same
 * range of a log and of its import gives the same bytes.
 */
#ifndef DJS_REPLAY_EXPORT_H
#define DJS_REPLAY_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/id.h"
#include "eventlog/log.h"

#define DJS_EXPORT_VERSION 1
#define DJS_EXPORT_MAX_TYPES 64

typedef enum djs_export_format {
    DJS_EXPORT_JSONL = 1,
    DJS_EXPORT_MSGPACK = 2,
} djs_export_format_t;

/* Progress: records scanned so far and the records of the range. */
typedef void (*djs_export_progress_cb)(void *arg, uint64_t done, uint64_t total);

typedef struct djs_export_options {
    djs_export_format_t format;
    uint64_t from_seq;               /* 0: the log's first seq */
    uint64_t to_seq;                 /* 0 or UINT64_MAX: the last seq as of the start */
    int types[DJS_EXPORT_MAX_TYPES]; /* event types to keep ... */
    size_t ntypes;                   /* ... 0: every type */
    int has_entity;                  /* keep only this job's, worker's or schedule's events */
    djs_id_t entity;
    djs_export_progress_cb progress; /* may be NULL; about every 1% and at the end */
    void *progress_arg;
} djs_export_options_t;

void djs_export_options_init(djs_export_options_t *o); /* jsonl, everything */

typedef struct djs_export_report {
    uint64_t first_seq, last_seq; /* the range exported (last < first: empty) */
    uint64_t events;              /* records written */
    uint64_t chunks;              /* output items written */
    uint64_t output_bytes;        /* their bytes */
    uint64_t bytes;               /* bytes written in all */
    int complete;                 /* importable (see the header's "complete") */
    uint8_t head[DJS_HASH_LEN];   /* hash of the last record written (or prev_hash) */
    uint64_t bad_seq;             /* on error: the record it happened at, or 0 */
    char detail[256];             /* on error: what went wrong */
} djs_export_report_t;

/* Write the export of log to out (left open; flushed). rep is filled in
 * either case. Errors: DJS_EINVAL (bad options: a range outside the log,
 * an unknown type), DJS_EARCHIVED (from_seq before the log's archived
 * start), DJS_ECORRUPT (a record that does not decode, or output bytes
 * missing for a job.output record: rep->bad_seq), DJS_EIO (writing out),
 * and the log's read errors. */
int djs_export(djs_log_t *log, const djs_export_options_t *o, FILE *out, djs_export_report_t *rep);
/* The same to a file descriptor (not closed), for the benchmark. */
int djs_export_fd(djs_log_t *log, const djs_export_options_t *o, int fd, djs_export_report_t *rep);

/* Base64 (RFC 4648, with padding), shared with import. */
void djs_base64_encode(const uint8_t *p, size_t n, djs_buf_t *out);
/* Decode s[0..n) (padding required, no whitespace) appending to out.
 * DJS_EINVAL on anything else (out may hold part of it). */
int djs_base64_decode(const char *s, size_t n, djs_buf_t *out);

#endif
