/* Verification of a whole log: `djs replay verify`.
 *
 * Walks every record in seq order and checks that: keys are dense from 1,
 * each record decodes, its seq field matches its key, timestamps strictly
 * increase, and each hash equals SHA-256(previous hash || record prefix).
 * Then it checks the entity index both ways: every record with an entity
 * has an index entry, and every index entry points at a record of that
 * entity. Stops at the first bad record and names it.
 */
#ifndef DJS_REPLAY_VERIFY_H
#define DJS_REPLAY_VERIFY_H

#include <stdint.h>

#include "eventlog/log.h"

typedef struct djs_verify_report {
    uint64_t records;  /* records checked */
    uint64_t last_seq; /* last good seq */
    uint64_t bad_seq;  /* first bad seq, 0 if none */
    uint64_t index_entries;
    int error;                       /* 0, or the djs error of the first problem */
    char detail[256];                /* human-readable description of the problem */
    uint8_t head_hash[DJS_HASH_LEN]; /* hash of the last good record */
} djs_verify_report_t;

/* Progress: called about every 1% (and at the end) with records done and
 * the total expected. May be NULL. */
typedef void (*djs_verify_progress_cb)(void *arg, uint64_t done, uint64_t total);

/* Returns 0 when the log verifies, else rep->error (also a negative code)
 * with rep->bad_seq and rep->detail set. I/O errors are returned as such. */
int djs_verify_log(djs_log_t *log, djs_verify_report_t *rep, djs_verify_progress_cb progress, void *arg);

#endif
