/* An open-addressing hash index of u32 slots (linear probing, backward-shift
 * deletion, no tombstones). The items live in the caller's tables; the index
 * stores only their slots and asks the caller, through callbacks, for an
 * item's hash and whether it matches a key. 4 bytes per bucket, at most 50%
 * full, so about 8-16 bytes per item. */
#ifndef DJS_CORE_IDX_H
#define DJS_CORE_IDX_H

#include <stdint.h>

#define DJS_IDX_NONE UINT32_MAX

typedef uint64_t (*djs_idx_hash_cb)(void *ctx, uint32_t slot);
typedef int (*djs_idx_eq_cb)(void *ctx, uint32_t slot, const void *key);

typedef struct djs_idx {
    uint32_t *t;
    uint32_t mask; /* buckets - 1 */
    uint32_t n;
    djs_idx_hash_cb hash;
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

uint64_t djs_hash_bytes(const void *p, uint64_t len);

#endif
