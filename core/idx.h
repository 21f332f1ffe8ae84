/* An open-addressing hash index of u32 slots (linear probing, backward-shift
 * deletion, no tombstones). The items live in the caller's tables; the index
 * stores their slots with the low 32 bits of their hash, so that probing
 * and growing never touch the items themselves (a cache miss each), and
 * asks the caller, through a callback, whether a candidate matches a key.
 * 8 bytes per bucket, at most 50% full: 16-32 bytes per item.
 *
 * Growth is incremental: when the table is half full a table twice the
 * size takes the inserts, and every insert or remove moves the next
 * DJS_IDX_STEP buckets of the old table into it, so no single call rehashes
 * everything (at a million items that was a 0.2 s stall of the loop).
 * Meanwhile a lookup tries the new table, then the old one's buckets not
 * moved yet; removing an item not moved yet leaves a tombstone in the old
 * table. The old table is freed when the last bucket has moved. Empty
 * buckets are zero, so a new table is calloc'd rather than filled at once:
 * its pages come in as they are used. */
#ifndef DJS_CORE_IDX_H
#define DJS_CORE_IDX_H

#include <stdint.h>

#define DJS_IDX_NONE UINT32_MAX
#define DJS_IDX_STEP 64 /* old buckets moved per insert or remove while growing */

typedef uint64_t (*djs_idx_hash_cb)(void *ctx, uint32_t slot);
typedef int (*djs_idx_eq_cb)(void *ctx, uint32_t slot, const void *key);

typedef struct djs_idx_bucket {
    uint32_t slot; /* the slot + 1; 0 when empty */
    uint32_t tag;  /* low 32 bits of the item's hash */
} djs_idx_bucket_t;

typedef struct djs_idx {
    djs_idx_bucket_t *t;
    uint32_t mask;         /* buckets - 1 */
    uint32_t n;            /* items, in both tables */
    djs_idx_bucket_t *old; /* while growing: the previous table, else NULL */
    uint32_t old_mask;
    uint32_t moved;       /* old buckets [0, moved) are in t already */
    djs_idx_hash_cb hash; /* kept for callers' symmetry; the stored tags make it unnecessary */
    djs_idx_eq_cb eq;
    void *ctx;
} djs_idx_t;

void djs_idx_init(djs_idx_t *x, djs_idx_hash_cb hash, djs_idx_eq_cb eq, void *ctx);
void djs_idx_dispose(djs_idx_t *x);
/* Slot of the item matching key (whose hash is h), or DJS_IDX_NONE. */
uint32_t djs_idx_find(const djs_idx_t *x, uint64_t h, const void *key);
/* Add slot (hash h); the caller ensures no equal item is present. */
void djs_idx_insert(djs_idx_t *x, uint64_t h, uint32_t slot);
/* Remove slot (hash h) if present. */
void djs_idx_remove(djs_idx_t *x, uint64_t h, uint32_t slot);
/* Finish a growth in progress (tests and code that walk x->t). */
void djs_idx_settle(djs_idx_t *x);

/* Prefetch hints for batched lookups (replay): bring in the bucket a find
 * of h will start at; and the slot that a find of h will most likely return
 * (the first bucket with the same tag; DJS_IDX_NONE if none), without
 * calling eq. Neither changes anything. */
static inline void djs_idx_prefetch(const djs_idx_t *x, uint64_t h)
{
    __builtin_prefetch(&x->t[(uint32_t)h & x->mask]);
}
uint32_t djs_idx_guess(const djs_idx_t *x, uint64_t h);

uint64_t djs_hash_bytes(const void *p, uint64_t len);

#endif
