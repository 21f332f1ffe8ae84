/* An indexed binary min-heap of (key, slot) pairs: O(log n) push, pop,
 * remove and re-key, O(1) peek. Ties on key are broken by the smaller slot,
 * so order is deterministic.
 *
 * Slots are small integers naming items kept elsewhere (a job's or worker's
 * index in its table). The heap records each slot's position in an array the
 * caller owns, `*pos`, indexed by slot; one array may serve many heaps as
 * long as a slot is in at most one of them at a time. DJS_HEAP_NONE marks
 * "in no heap". The caller grows *pos as slots grow (the heap re-reads the
 * pointer on every call).
 */
#ifndef DJS_CORE_HEAP_H
#define DJS_CORE_HEAP_H

#include <stdint.h>

#define DJS_HEAP_NONE UINT32_MAX

typedef struct djs_heap_ent {
    uint64_t key;
    uint32_t slot;
} djs_heap_ent_t;

typedef struct djs_heap {
    djs_heap_ent_t *a;
    uint32_t n, cap;
    uint32_t **pos;
} djs_heap_t;

void djs_heap_init(djs_heap_t *h, uint32_t **pos);
void djs_heap_dispose(djs_heap_t *h);
/* slot must not be in a heap. */
void djs_heap_push(djs_heap_t *h, uint64_t key, uint32_t slot);
/* 0 and the minimum, or DJS_ENOTFOUND when empty. */
int djs_heap_peek(const djs_heap_t *h, uint64_t *key, uint32_t *slot);
/* Remove slot (which must be in this heap). */
void djs_heap_remove(djs_heap_t *h, uint32_t slot);
/* Change the key of slot (which must be in this heap). */
void djs_heap_update(djs_heap_t *h, uint32_t slot, uint64_t key);
static inline uint32_t djs_heap_size(const djs_heap_t *h)
{
    return h->n;
}
/* The i-th entry in heap order (not sorted), for iteration. */
static inline const djs_heap_ent_t *djs_heap_at(const djs_heap_t *h, uint32_t i)
{
    return &h->a[i];
}

#endif
