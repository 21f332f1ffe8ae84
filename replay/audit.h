/* Audit queries over the log: who did what and when.
 *
 * A query filters the records of a seq range by entity (a job, worker or
 * schedule id: its history through the entity index), by actor (the exact
 * token subject, the worker name of an agent's reports, "scheduler" or
 * "server" that caused an event) and by a set of event types; the
 * filters combine (all must hold). Each
 * match carries the record's seq, time, type, actor and entity, and the
 * facts of its body an auditor asks about (below), so "who cancelled job
 * X", "everything alice did yesterday" and "every worker that ran job X"
 * (its job.scheduled and job.started events, fact "worker") are one query.
 *
 * Work is bounded: a call examines at most `budget` records and returns at
 * most `limit` matches, then says where to go on (next_seq), so a caller
 * serving requests pages through a log of any size in bounded steps.
 *
 * Threads: any (LMDB read transactions, in chunks: djs_log_scan). Works on
 * a read-only handle beside a running server. The log must outlive the call.
 */
#ifndef DJS_REPLAY_AUDIT_H
#define DJS_REPLAY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/bodies.h"
#include "core/event.h"
#include "core/id.h"
#include "eventlog/log.h"

/* Event type numbers are below this (core/event.h). */
#define DJS_AUDIT_MAX_TYPE 128

typedef struct djs_audit_query {
    int has_entity;
    djs_id_t entity;   /* with has_entity: only this entity's records */
    const char *actor; /* NULL: any; else exactly these actor_len bytes */
    size_t actor_len;
    uint64_t types[DJS_AUDIT_MAX_TYPE / 64]; /* bit t: type t matches; all zero: any type */
    uint64_t from_seq, to_seq;               /* inclusive; from 0 means 1, to UINT64_MAX the end as of the call */
    uint32_t limit;                          /* matches per call; 0: no limit */
    uint64_t budget;                         /* records examined per call; 0: no limit */
} djs_audit_query_t;

/* Zero filters, the whole log, no limit, no budget. */
void djs_audit_query_init(djs_audit_query_t *q);
/* Add type to the set. DJS_EINVAL if it is not an event type. */
int djs_audit_query_add_type(djs_audit_query_t *q, int type);
/* Add the comma-separated wire names in s[0..len) ("job.cancelled,job.retried")
 * to the set. DJS_EINVAL (with *bad and *bad_len the first unknown name, if bad
 * is not NULL) when one is not an event type or the list has an empty item. */
int djs_audit_query_add_types(djs_audit_query_t *q, const char *s, size_t len, const char **bad, size_t *bad_len);

/* One fact of a record's body. Keys are the API's camelCase names:
 *   worker    id    job.scheduled, job.started, job.lease_expired: the worker
 *                   that was given or ran the attempt
 *   attempt   uint  the attempt (fencing token) an event is about
 *   reason    str   job.queued, job.failed, job.timed_out, job.cancelled...: why
 *   error     str   job.failed: the error message
 *   retryAt   time  job.failed, job.timed_out: when it runs again (absent: for good)
 *   upstream  id    job.upstream_failed: the dependency that failed
 *   name      str   job.submitted, job.updated (a new name), worker.registered,
 *                   schedule.created/updated: the name
 *   owner     str   job.submitted, schedule.created/updated: the owner
 *   schedule  id    job.submitted: the schedule that fired it
 *   jobs      uint  schedule.fired: jobs it submitted
 *   skipped   str   schedule.fired: why it submitted none
 *   percent   uint  job.progress
 * Strings point into the record: valid only during the callback. */
typedef enum djs_audit_kind { DJS_AUDIT_ID, DJS_AUDIT_UINT, DJS_AUDIT_STR, DJS_AUDIT_TIME } djs_audit_kind_t;
typedef struct djs_audit_fact {
    const char *key;
    int kind; /* djs_audit_kind_t */
    djs_id_t id;
    uint64_t u; /* UINT, TIME (ns) */
    djs_str_t s;
} djs_audit_fact_t;

#define DJS_AUDIT_MAX_FACTS 8
typedef struct djs_audit_match {
    uint64_t seq, ts_ns;
    int type;
    djs_str_t actor; /* points into the record */
    djs_id_t entity; /* nil for server events */
    djs_audit_fact_t facts[DJS_AUDIT_MAX_FACTS];
    uint32_t nfacts;
} djs_audit_match_t;

/* Called for each match in seq order; m is valid only during the call.
 * Return 0 to go on; any other value stops the query, which returns it. */
typedef int (*djs_audit_cb)(void *arg, const djs_audit_match_t *m);

typedef struct djs_audit_result {
    uint64_t examined; /* records read */
    uint64_t matched;  /* matches delivered */
    uint64_t next_seq; /* where the next call should start (its from_seq); 0: the range is done */
} djs_audit_result_t;

/* Run q over log. res is filled on success and when cb stopped the query
 * (then next_seq is the seq after the match it stopped at). Returns 0, cb's
 * non-zero value, DJS_EINVAL (from_seq > to_seq is not an error: an empty
 * range; a NULL argument is), DJS_ECORRUPT (a record that does not decode),
 * or the log's read errors. */
int djs_audit_run(djs_log_t *log, const djs_audit_query_t *q, djs_audit_cb cb, void *arg, djs_audit_result_t *res);

/* 1 if the log holds any record of entity (at any seq), 0 if none, or a
 * read error: the "no such job" answer. */
int djs_audit_entity_known(djs_log_t *log, const djs_id_t *entity);

/* The facts as one line of text into out (NUL-terminated, cut to n):
 * "worker=ID attempt=2 reason=..."; strings have control bytes replaced
 * by '?'. Returns out. */
char *djs_audit_facts_text(const djs_audit_match_t *m, char *out, size_t n);

#endif
