/* Private to projections/: the layout of djs_state_t, shared by state.c
 * (apply) and snapshot.c (digest, snapshot, restore). */
#ifndef DJS_PROJECTIONS_STATE_INTERNAL_H
#define DJS_PROJECTIONS_STATE_INTERNAL_H

#include <openssl/evp.h>
#include <string.h>

#include "core/heap.h"
#include "core/idx.h"
#include "projections/state.h"

typedef struct capset {
    uint32_t *v; /* sorted interned string ids */
    uint32_t n;
} capset_t;

/* A job class: the jobs that need one capability set, and the workers that
 * have it and a free slot. */
typedef struct class
{
    djs_heap_t tiers[DJS_NPRIO]; /* ready jobs by ready_key, one heap per priority */
    djs_heap_t workers;          /* available fitting workers by score */
    uint32_t *wpos;              /* worker slot -> position in `workers` */
    uint32_t wpos_cap;
} class_t;

/* The jobs waiting on one job. A dependent that is deleted or evicted
 * stays listed until the list is next read (djs_state_dependents drops it
 * then): its slot may meanwhile hold another job, which `seq` (the
 * dependent's submit_seq, unique per job) tells apart. */
typedef struct deplist {
    uint32_t *v;   /* dependent job slots */
    uint64_t *seq; /* their submit_seq when listed */
    uint32_t n, cap;
} deplist_t;

typedef struct term_ent {
    uint32_t slot;
    uint64_t seq; /* the job's last_seq when it finished: detects reuse */
} term_ent_t;

/* An idempotency entry. The digest identifies owner and key (a lookup
 * compares it, so keys whose index hashes collide stay apart); the index
 * hash is derived from it (djs__idem_index_hash). */
#define DJS__IDEM_DIGEST 16
typedef struct idem {
    uint8_t d[DJS__IDEM_DIGEST]; /* SHA-256 of the length-prefixed owner and key, first 16 bytes */
    uint64_t h;                  /* its index hash */
    uint32_t slot;               /* the job's slot; DJS_NONE = free entry */
} idem_t;

/* The ready jobs of one concurrency key in one tier (class, priority) with
 * one limit, parked while the key is at that limit (state.h explains the
 * invariant). Derived, never persisted. */
typedef struct park {
    uint32_t cls, limit;
    uint8_t prio;
    djs_heap_t jobs; /* by ready_key; positions in st->jpos: a job is in its tier or parked, never both */
} park_t;

/* A concurrency key: the jobs holding it (SCHEDULED or RUNNING) and its
 * parked groups. Keys are never removed (like interned strings). */
typedef struct ckey {
    uint32_t str;      /* interned name */
    uint32_t *holders; /* job slots */
    uint32_t held, cap_holders;
    park_t *parks;
    uint32_t nparks, cap_parks;
    uint8_t in_room; /* listed in st->room */
} ckey_t;

struct djs_state {
    djs_state_config_t cfg;
    uint64_t seq, ts;

    djs_job_t *jobs;
    uint32_t njobs, cap_jobs;
    uint32_t *free_jobs, nfree_jobs, cap_free_jobs;
    uint64_t live_jobs, nterminal;
    uint32_t *jpos; /* job slot -> position in its ready tier */
    uint32_t *tpos; /* job slot -> position in the timer heap */
    djs_idx_t job_idx;
    djs_heap_t timers;

    djs_worker_t *workers;
    uint32_t nworkers, cap_workers;
    djs_idx_t worker_idx, wname_idx;

    char **strs;
    size_t *str_lens;
    uint32_t nstrs, cap_strs;
    djs_idx_t str_idx;

    capset_t *sets;
    class_t **classes; /* per set; NULL until a job needs that set */
    uint32_t nsets, cap_sets;
    djs_idx_t set_idx;
    uint32_t *active_classes, nactive, cap_active;

    deplist_t *deplists;
    uint32_t ndeplists, cap_deplists;
    uint32_t *free_deplists, nfree_deplists, cap_free_deplists;

    term_ent_t *term; /* ring of finished jobs, oldest first */
    uint32_t term_head, term_n, term_cap;

    idem_t *idem;
    uint32_t nidem, cap_idem;
    uint32_t *free_idem, nfree_idem, cap_free_idem;
    djs_idx_t idem_idx;
    /* SHA-256 for idempotency digests, fetched and allocated once: per key
     * that cost four times the hash itself (replay hashes every key) */
    EVP_MD *sha256;
    EVP_MD_CTX *md_ctx;

    ckey_t *ckeys;
    uint32_t nckeys, cap_ckeys;
    uint32_t *str_ckey, nstr_ckey;   /* interned string -> its key, or DJS_NONE */
    uint32_t *room, nroom, cap_room; /* keys released since the last placement, with parked jobs */

    djs_metrics_t metrics;
    struct djs__sched_set *sched; /* schedules (projections/schedules.c) */
};

static inline uint64_t djs__id_hash(const djs_id_t *id)
{
    uint64_t h;
    memcpy(&h, id->b + 8, 8); /* UUIDv7: 62 random bits here, but not in the low byte */
    h ^= h >> 33;             /* murmur3's finalizer: every bit of the index's mask is mixed */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

class_t *djs__state_class_get(djs_state_t *st, uint32_t c);
void djs__state_add_dependent(djs_state_t *st, djs_job_t *dep, uint32_t s);
uint32_t djs__state_intern_str(djs_state_t *st, const char *p, size_t len);
uint32_t djs__state_intern_set(djs_state_t *st, const capset_t *k);
void djs__state_worker_refresh(djs_state_t *st, uint32_t ws);
void djs__state_set_timer(djs_state_t *st, uint32_t s, int kind, uint64_t deadline);
void djs__state_remove_job(djs_state_t *st, uint32_t s);
/* The concurrency key named by interned string str (created if new). */
uint32_t djs__state_ckey(djs_state_t *st, uint32_t str);
/* Job slot s (which has a key) holds its key. */
void djs__state_ckey_hold(djs_state_t *st, uint32_t s);
/* The digest of an idempotency entry: the first 16 bytes of SHA-256 over
 * u64be(owner_len) owner u64be(key_len) key. */
void djs__idem_digest(const djs_state_t *st, const char *owner, size_t owner_len, const char *key, size_t key_len,
                      uint8_t d[DJS__IDEM_DIGEST]);
/* The index hash of a digest: cfg.idem_hash, or its first 8 bytes. */
uint64_t djs__idem_index_hash(const djs_state_t *st, const uint8_t d[DJS__IDEM_DIGEST]);
/* Add an entry for job slot s (snapshot restore, and apply). */
void djs__idem_add(djs_state_t *st, uint32_t s, const uint8_t d[DJS__IDEM_DIGEST]);
/* projections/schedules.c: its part of the state; pack is the canonical
 * form (sorted by id) that the digest hashes and the snapshot stores. */
struct djs__sched_set *djs__sched_new(void);
void djs__sched_free(struct djs__sched_set *ss);
int djs__sched_apply(djs_state_t *st, const djs_event_t *ev);
void djs__sched_pack(const struct djs__sched_set *ss, djs_buf_t *out);
int djs__sched_unpack(struct djs__sched_set *ss, const uint8_t *p, size_t len);

#endif
