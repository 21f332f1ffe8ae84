/* The event record: one job or worker transition, as stored in the log.
 *
 * Wire format, version 1 (a MessagePack array of 8, in this order):
 *
 *   [ version  : uint  = 1
 *   , seq      : uint  (the LMDB key it is stored under; 1, 2, 3, ...)
 *   , type     : uint  (djs_event_type_t)
 *   , ts       : uint  (ns since the Unix epoch, strictly increasing)
 *   , actor    : str   (who caused it: token subject, "scheduler", worker id; <= 255 bytes)
 *   , entity   : bin 16 (job, worker or schedule UUIDv7; all-zero for server events)
 *   , body     : map   (type-specific; docs/events.md lists each body)
 *   , hash     : bin 32 ]
 *
 * Hash chain: hash = SHA-256(previous record's hash || every byte of this
 * record before the 32 hash bytes). The record before seq 1 has an all-zero
 * hash. Changing, removing or reordering any record breaks the chain from
 * there on, which `djs replay verify` reports.
 *
 * VERSIONING RULE. If you change the layout above (add, remove, retype or
 * reorder a field), you must: bump DJS_EVENT_VERSION; keep the decoder of
 * every older version (decode_v1, decode_v2, ...) reachable from
 * djs_event_decode, since logs are never rewritten; add a golden fixture
 * tests/fixtures/events-vN.bin produced by the new encoder; and keep every
 * older fixture decoding in tests/test_event.c. Adding an event type or a
 * body field is not a layout change (bodies are maps read by key), but an
 * older binary refuses unknown types with DJS_EBADTYPE rather than guess.
 */
#ifndef DJS_CORE_EVENT_H
#define DJS_CORE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/id.h"

#define DJS_EVENT_VERSION 1
#define DJS_EVENT_MAX_ACTOR 255
#define DJS_EVENT_MAX_BODY (4u << 20)                    /* 4 MiB: a 1 MiB payload with room to spare */
#define DJS_EVENT_MAX_RECORD (DJS_EVENT_MAX_BODY + 512u) /* whole record */
#define DJS_EVENT_MAX_DEPTH 32                           /* nesting inside a body */
#define DJS_HASH_LEN 32

/* X(NAME, number, "wire.name"). Numbers are stored in the log: never reuse
 * or renumber; append new types. */
#define DJS_EVENT_TYPE_MAP(X)                                                                                                      \
    X(JOB_SUBMITTED, 1, "job.submitted")                                                                                           \
    X(JOB_QUEUED, 2, "job.queued")                                                                                                 \
    X(JOB_SCHEDULED, 3, "job.scheduled")                                                                                           \
    X(JOB_STARTED, 4, "job.started")                                                                                               \
    X(JOB_PROGRESS, 5, "job.progress")                                                                                             \
    X(JOB_SUCCEEDED, 6, "job.succeeded")                                                                                           \
    X(JOB_FAILED, 7, "job.failed")                                                                                                 \
    X(JOB_TIMED_OUT, 8, "job.timed_out")                                                                                           \
    X(JOB_CANCELLED, 9, "job.cancelled")                                                                                           \
    X(JOB_UPDATED, 10, "job.updated")                                                                                              \
    X(JOB_DELETED, 11, "job.deleted")                                                                                              \
    X(JOB_RETRIED, 12, "job.retried")                                                                                              \
    X(JOB_UPSTREAM_FAILED, 13, "job.upstream_failed")                                                                              \
    X(JOB_LEASE_EXPIRED, 14, "job.lease_expired")                                                                                  \
    X(JOB_OUTPUT, 15, "job.output")                                                                                                \
    X(WORKER_REGISTERED, 32, "worker.registered")                                                                                  \
    X(WORKER_HEARTBEAT, 33, "worker.heartbeat")                                                                                    \
    X(WORKER_UPDATED, 34, "worker.updated")                                                                                        \
    X(WORKER_DRAINING, 35, "worker.draining")                                                                                      \
    X(WORKER_LOST, 36, "worker.lost")                                                                                              \
    X(WORKER_DEREGISTERED, 37, "worker.deregistered")                                                                              \
    X(SERVER_STARTED, 64, "server.started")                                                                                        \
    X(SERVER_STOPPED, 65, "server.stopped")                                                                                        \
    X(CLUSTER_LEADER, 66, "cluster.leader")                                                                                        \
    X(SCHEDULE_CREATED, 80, "schedule.created")                                                                                    \
    X(SCHEDULE_UPDATED, 81, "schedule.updated")                                                                                    \
    X(SCHEDULE_PAUSED, 82, "schedule.paused")                                                                                      \
    X(SCHEDULE_RESUMED, 83, "schedule.resumed")                                                                                    \
    X(SCHEDULE_DELETED, 84, "schedule.deleted")                                                                                    \
    X(SCHEDULE_FIRED, 85, "schedule.fired")

typedef enum djs_event_type {
#define DJS__EV_ENUM(name, num, wire) DJS_EV_##name = (num),
    DJS_EVENT_TYPE_MAP(DJS__EV_ENUM)
#undef DJS__EV_ENUM
} djs_event_type_t;

/* Wire name ("job.submitted") or NULL for an unknown type. */
const char *djs_event_type_name(int type);
/* Type number for a wire name, or DJS_EINVAL. */
int djs_event_type_from_name(const char *name, size_t len);
int djs_event_type_valid(int type);
/* All known types, in number order; returns their count. */
size_t djs_event_types(const int **types);

/* A decoded or to-be-encoded event. After djs_event_decode, actor and body
 * point into the record bytes (zero copy; actor is not NUL-terminated): they
 * live as long as those bytes (with LMDB, until the read transaction ends). */
typedef struct djs_event {
    uint32_t version;
    uint16_t type;
    uint64_t seq;
    uint64_t ts_ns;
    const char *actor;
    size_t actor_len;
    djs_id_t entity;
    const uint8_t *body; /* one MessagePack map; NULL/0 encodes as {} */
    size_t body_len;
    uint8_t hash[DJS_HASH_LEN];
} djs_event_t;

/* Append the encoded record of ev (current version) to out, chained to
 * prev_hash; stores the new hash in ev->hash. The body, if any, must be one
 * well-formed map (checked). Errors: DJS_EINVAL (unknown type, bad body),
 * DJS_ETOOBIG (actor or body over limit). On error out is unchanged. */
int djs_event_encode(djs_event_t *ev, const uint8_t prev_hash[DJS_HASH_LEN], djs_buf_t *out);

/* Decode a record of any supported version. Never reads outside [rec,
 * rec+len), never allocates. Errors: DJS_ETRUNCATED, DJS_ETOOBIG,
 * DJS_EBADTYPE (a field of the wrong type or an unknown event type),
 * DJS_ERANGE (a negative number in an unsigned field), DJS_EVERSION,
 * DJS_ECORRUPT (trailing bytes, wrong field count). */
int djs_event_decode(const uint8_t *rec, size_t len, djs_event_t *ev);

/* The hash a record should carry given its predecessor's hash. The record
 * must be at least DJS_HASH_LEN bytes (decode it first). */
void djs_event_chain(const uint8_t prev_hash[DJS_HASH_LEN], const uint8_t *rec, size_t len, uint8_t out[DJS_HASH_LEN]);

/* SHA-256 of a[0..alen) || b[0..blen) (either may be empty), with the
 * same per-thread OpenSSL context as the chain: job output chunks are
 * bound into the chain by their hash (job.output's out_sha). */
void djs_sha256_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[DJS_HASH_LEN]);

#endif
