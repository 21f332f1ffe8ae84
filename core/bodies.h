/* Event bodies: the type-specific map inside each record (docs/events.md).
 *
 * Bodies are MessagePack maps with short string keys, read by key: a
 * decoder ignores keys it does not know (a field may be added without a
 * record version bump) and a missing key keeps its zero default. Decoded
 * strings, binary ids and nested payloads point into the record bytes (zero
 * copy, not NUL-terminated): they live as long as those bytes.
 *
 * Encoders append to a djs_buf_t; decoders return 0, DJS_EBADTYPE (a known
 * key with a value of the wrong type), DJS_ETOOBIG (over a limit of
 * core/job.h) or the bounded reader's errors.
 */
#ifndef DJS_CORE_BODIES_H
#define DJS_CORE_BODIES_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/id.h"

typedef struct djs_str {
    const char *p;
    size_t len;
} djs_str_t;

/* A list of strings as stored: a MessagePack array of str. */
typedef struct djs_strlist {
    const uint8_t *mp; /* the array's bytes, or NULL */
    size_t mp_len;
    uint32_t n;
} djs_strlist_t;
/* Iterate: *i starts at 0; returns 1 with *s set while items remain. */
int djs_strlist_next(const djs_strlist_t *l, size_t *off, djs_str_t *s);

/* job.submitted */
typedef struct djs_job_spec {
    djs_str_t name, description, owner, idem_key, wf_key;
    uint8_t priority;       /* djs_priority_t */
    const uint8_t *payload; /* one MessagePack map, or NULL */
    size_t payload_len;
    const uint8_t *deps; /* ndeps ids of 16 bytes, contiguous */
    uint32_t ndeps;
    uint32_t timeout_s; /* 0 = no timeout */
    uint32_t max_retries;
    uint64_t scheduled_at; /* ns; 0 = now */
    djs_strlist_t caps;    /* required capabilities */
    djs_id_t workflow;     /* nil if not part of a workflow */
    djs_str_t ckey;        /* concurrency key; empty = none ("ckey") */
    uint32_t climit;       /* its limit, >= 1 when ckey is set ("climit"; a reader may see 0: treat as 1) */
    djs_id_t schedule;     /* the schedule that fired it, or nil */
} djs_job_spec_t;

/* job.queued, job.scheduled, job.started, job.progress, job.succeeded,
 * job.failed, job.timed_out, job.cancelled, job.updated, job.retried,
 * job.upstream_failed, job.lease_expired, job.deleted, job.output: one struct, each type
 * uses the fields listed in docs/events.md. */
typedef struct djs_job_change {
    djs_str_t reason;      /* queued: why; failed: fail reason name; cancelled: text */
    djs_id_t worker;       /* scheduled, started, lease_expired: the worker */
    djs_id_t upstream;     /* upstream_failed: the dependency that failed */
    uint32_t attempt;      /* fencing: scheduled assigns it, the rest echo it */
    uint64_t lease;        /* scheduled: lease deadline (ns) */
    uint64_t retry_at;     /* failed, timed_out: when it is re-queued; 0 = fails for good */
    uint32_t percent;      /* progress: 0..100 */
    djs_str_t step;        /* progress: current step */
    uint64_t eta;          /* progress: estimated completion (ns), 0 = unknown */
    djs_str_t error;       /* failed: message */
    const uint8_t *result; /* succeeded: any MessagePack value, or NULL */
    size_t result_len;
    /* updated: which fields changed (has_*) and their new values */
    int has_priority, has_max_retries, has_timeout, has_name, has_description;
    uint8_t priority;
    uint32_t max_retries, timeout_s;
    djs_str_t name, description;
    /* output: a chunk of the job's output was stored (bytes in the log's
     * output database, not in the event) */
    uint64_t out_offset; /* where the stored bytes start in the job's output */
    uint32_t out_len;    /* bytes stored (0 once the attempt's cap is reached) */
    uint32_t out_recv;   /* bytes of this attempt's output received so far */
    int out_truncated;   /* the attempt reached its cap: the rest is dropped */
    /* SHA-256 of the out_len stored bytes ("out_sha", written whenever
     * out_len > 0 since issue 13; older events have none): the chunk is
     * bound into the hash chain, so altered output is detected */
    int has_out_sha;
    uint8_t out_sha[32];
} djs_job_change_t;

/* worker.registered, worker.updated, worker.heartbeat, worker.draining,
 * worker.lost, worker.deregistered. addr, port and tags are the original
 * API design's hostAddress, port and tags: recorded and shown, used for
 * nothing else (capabilities drive placement). A decoder refuses them past
 * these limits, so an encoder's caller keeps within them. */
#define DJS_WORKER_MAX_ADDR 255   /* bytes of addr */
#define DJS_WORKER_MAX_TAGS 32    /* tags */
#define DJS_WORKER_MAX_TAG_LEN 64 /* bytes of one tag */
#define DJS_WORKER_MAX_PORT 65535
typedef struct djs_worker_info {
    djs_str_t name, host;
    djs_strlist_t caps;
    djs_str_t addr;     /* the agent's address; empty = none */
    uint32_t port;      /* 1..DJS_WORKER_MAX_PORT; 0 = none */
    djs_strlist_t tags; /* n = 0: none (encode it with djs_body_strlist) */
    uint32_t slots;
    int has_slots, has_caps;
    uint32_t cpu_pm, mem_pm; /* heartbeat: permille */
    uint32_t resp_ms;        /* heartbeat: average response time */
    uint32_t running;        /* heartbeat: jobs the agent says it runs */
    int has_load;
} djs_worker_info_t;

/* server.started, server.stopped: the serving process and its address
 * (empty in server.stopped). */
#define DJS_SERVER_MAX_LISTEN 256 /* bytes of listen a decoder accepts */
typedef struct djs_server_info {
    int64_t pid;
    djs_str_t listen;
} djs_server_info_t;

/* cluster.leader: a node took the lead of the Raft group (the first event
 * it records): its Raft term and node id, the URL clients reach it at, and
 * the grace (ms) it gives workers and leases before it decides their loss. */
#define DJS_CLUSTER_MAX_URL 256
/* The entity of cluster.* events: 00000000-0000-0000-0000-000000000001
 * (never a job's or a worker's UUIDv7), so the entity index finds them. */
extern const djs_id_t djs_cluster_entity;
typedef struct djs_cluster_leader {
    uint64_t term;
    uint64_t node;
    djs_str_t url;
    uint32_t grace_ms;
} djs_cluster_leader_t;

/* schedule.created, schedule.updated: the whole definition. */
typedef enum djs_overlap { DJS_OVERLAP_SKIP = 0, DJS_OVERLAP_ALLOW = 1, DJS_OVERLAP_CANCEL = 2 } djs_overlap_t;
typedef enum djs_catchup { DJS_CATCHUP_NONE = 0, DJS_CATCHUP_LAST = 1, DJS_CATCHUP_ALL = 2 } djs_catchup_t;
#define DJS_SCHEDULE_MAX_SPEC 128
#define DJS_SCHEDULE_MAX_TZ 128
#define DJS_SCHEDULE_MAX_CATCHUP 1000 /* catch-up "all" fires at most this many missed times */
#define DJS_SCHEDULE_MAX_JITTER_S 3600
typedef struct djs_schedule_def {
    djs_str_t name, spec, tz, owner; /* tz empty = UTC */
    uint8_t overlap;                 /* djs_overlap_t */
    uint8_t catchup;                 /* djs_catchup_t */
    uint32_t catchup_max;            /* all: at most this many missed fires (1..DJS_SCHEDULE_MAX_CATCHUP) */
    uint64_t start_ns, end_ns;       /* no fire before start or after end; 0 = none */
    uint32_t jitter_s;               /* each fire is delayed by a draw in [0, jitter_s] s */
    uint32_t next_jitter_ms;         /* the draw for the first fire (decided here, recorded) */
    const uint8_t *tmpl;             /* the template: the POST /jobs request, one MessagePack map */
    size_t tmpl_len;
} djs_schedule_def_t;

/* schedule.fired (schedule.resumed carries next_jitter_ms only; paused and
 * deleted have empty bodies). */
typedef struct djs_schedule_fire {
    uint64_t nominal_s;      /* the nominal fire time (unix seconds) */
    uint32_t jitter_ms;      /* the delay that was applied */
    uint32_t next_jitter_ms; /* the draw for the next fire */
    uint32_t missed;         /* catch-up: nominal times passed over before this one */
    uint32_t cancelled;      /* cancel-previous: jobs of the previous run cancelled */
    djs_str_t skipped;       /* empty: jobs were submitted; else why not ("overlap", "missed", "error") */
    djs_str_t error;         /* skipped "error": the submit's refusal */
    const uint8_t *jobs;     /* njobs ids of 16 bytes: the jobs it submitted */
    uint32_t njobs;
} djs_schedule_fire_t;

/* Encoders. Strings are copied into out. The caps of an encoded spec or
 * worker are given as an array of djs_str_t (caps_in, ncaps_in). */
void djs_body_job_spec(djs_buf_t *out, const djs_job_spec_t *s, const djs_str_t *caps_in, uint32_t ncaps_in);
void djs_body_job_change(djs_buf_t *out, int type, const djs_job_change_t *c);
void djs_body_worker(djs_buf_t *out, int type, const djs_worker_info_t *w, const djs_str_t *caps_in, uint32_t ncaps_in);
void djs_body_server(djs_buf_t *out, const djs_server_info_t *s);
void djs_body_cluster_leader(djs_buf_t *out, const djs_cluster_leader_t *l);
/* Append n strings as a MessagePack array of str: the bytes a
 * djs_strlist_t points at (mp = the appended bytes, mp_len their length). */
void djs_body_strlist(djs_buf_t *out, const djs_str_t *v, uint32_t n);
void djs_body_schedule_def(djs_buf_t *out, const djs_schedule_def_t *d);
void djs_body_schedule_fire(djs_buf_t *out, const djs_schedule_fire_t *f);

/* Decoders; the struct is zeroed first. */
int djs_body_read_job_spec(const uint8_t *body, size_t len, djs_job_spec_t *s);
int djs_body_read_job_change(const uint8_t *body, size_t len, djs_job_change_t *c);
int djs_body_read_worker(const uint8_t *body, size_t len, djs_worker_info_t *w);
int djs_body_read_server(const uint8_t *body, size_t len, djs_server_info_t *s);
int djs_body_read_cluster_leader(const uint8_t *body, size_t len, djs_cluster_leader_t *l);
int djs_body_read_schedule_def(const uint8_t *body, size_t len, djs_schedule_def_t *d);
int djs_body_read_schedule_fire(const uint8_t *body, size_t len, djs_schedule_fire_t *f);

#endif
