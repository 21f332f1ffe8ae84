#include "core/idx.h"

#include <string.h>

#include "core/alloc.h"

#define EMPTY 0
#define TOMB UINT32_MAX /* removed from the old table while growing (slot + 1 never reaches it) */

uint64_t djs_hash_bytes(const void *p, uint64_t len)
{
    /* FNV-1a then a final mix: not for adversarial keys beyond our limits,
     * which bound lengths; fine for owner names, capabilities and keys. */
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (uint64_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

void djs_idx_init(djs_idx_t *x, djs_idx_hash_cb hash, djs_idx_eq_cb eq, void *ctx)
{
    x->mask = 15;
    x->n = 0;
    x->t = djs_calloc(16, sizeof(djs_idx_bucket_t));
    x->old = NULL;
    x->old_mask = 0;
    x->moved = 0;
    x->hash = hash;
    x->eq = eq;
    x->ctx = ctx;
}

void djs_idx_dispose(djs_idx_t *x)
{
    djs_free(x->t);
    djs_free(x->old);
    x->t = x->old = NULL;
    x->n = 0;
}

/* Where in the old table slot sits, among the buckets not moved yet (a
 * bucket below `moved` may still hold a copy: it is in t now), or
 * DJS_IDX_NONE. With key set, match by tag and eq instead of by slot. */
static uint32_t old_pos(const djs_idx_t *x, uint32_t tag, uint32_t slot, const void *key)
{
    for (uint32_t i = tag & x->old_mask;; i = (i + 1) & x->old_mask) {
        const djs_idx_bucket_t *b = &x->old[i];
        if (b->slot == EMPTY)
            return DJS_IDX_NONE;
        if (i < x->moved || b->slot == TOMB)
            continue;
        if (key != NULL ? b->tag == tag && x->eq(x->ctx, b->slot - 1, key) : b->slot == slot + 1)
            return i;
    }
}

uint32_t djs_idx_find(const djs_idx_t *x, uint64_t h, const void *key)
{
    uint32_t tag = (uint32_t)h;
    for (uint32_t i = tag & x->mask;; i = (i + 1) & x->mask) {
        const djs_idx_bucket_t *b = &x->t[i];
        if (b->slot == EMPTY)
            break;
        if (b->tag == tag && x->eq(x->ctx, b->slot - 1, key))
            return b->slot - 1;
    }
    if (x->old == NULL)
        return DJS_IDX_NONE;
    uint32_t i = old_pos(x, tag, 0, key);
    return i == DJS_IDX_NONE ? DJS_IDX_NONE : x->old[i].slot - 1;
}

uint32_t djs_idx_guess(const djs_idx_t *x, uint64_t h)
{
    uint32_t tag = (uint32_t)h;
    for (uint32_t i = tag & x->mask;; i = (i + 1) & x->mask) {
        const djs_idx_bucket_t *b = &x->t[i];
        if (b->slot == EMPTY)
            break;
        if (b->tag == tag)
            return b->slot - 1;
    }
    if (x->old == NULL)
        return DJS_IDX_NONE;
    for (uint32_t i = tag & x->old_mask;; i = (i + 1) & x->old_mask) {
        const djs_idx_bucket_t *b = &x->old[i];
        if (b->slot == EMPTY)
            return DJS_IDX_NONE;
        if (i >= x->moved && b->slot != TOMB && b->tag == tag)
            return b->slot - 1;
    }
}

/* Put a bucket's value (slot + 1) in its first free bucket from home. */
static void put(djs_idx_bucket_t *t, uint32_t mask, uint32_t tag, uint32_t stored)
{
    uint32_t i = tag & mask;
    while (t[i].slot != EMPTY)
        i = (i + 1) & mask;
    t[i].slot = stored;
    t[i].tag = tag;
}

/* Move up to k more old buckets into t; free the old table when done. */
static void move_some(djs_idx_t *x, uint32_t k)
{
    while (x->old != NULL && k-- > 0) {
        djs_idx_bucket_t b = x->old[x->moved];
        if (b.slot != EMPTY && b.slot != TOMB)
            put(x->t, x->mask, b.tag, b.slot);
        if (x->moved++ == x->old_mask) {
            djs_free(x->old);
            x->old = NULL;
            x->old_mask = x->moved = 0;
        }
    }
}

void djs_idx_settle(djs_idx_t *x)
{
    move_some(x, UINT32_MAX);
}

void djs_idx_insert(djs_idx_t *x, uint64_t h, uint32_t slot)
{
    if (x->old == NULL && (x->n + 1) * 2 > x->mask + 1) {
        /* a growth takes (buckets / STEP) calls, the new table fills to
         * half after (buckets / 2) inserts: the move is always done first */
        uint32_t nb = (x->mask + 1) * 2;
        x->old = x->t;
        x->old_mask = x->mask;
        x->moved = 0;
        x->t = djs_calloc(nb, sizeof(djs_idx_bucket_t));
        x->mask = nb - 1;
    }
    move_some(x, DJS_IDX_STEP);
    put(x->t, x->mask, (uint32_t)h, slot + 1);
    x->n++;
}

void djs_idx_remove(djs_idx_t *x, uint64_t h, uint32_t slot)
{
    move_some(x, DJS_IDX_STEP);
    if (x->old != NULL) {
        uint32_t at = old_pos(x, (uint32_t)h, slot, NULL);
        if (at != DJS_IDX_NONE) { /* not moved yet: a tombstone keeps the old probe chains */
            x->old[at].slot = TOMB;
            x->n--;
            return;
        }
    }
    uint32_t i = (uint32_t)h & x->mask;
    while (x->t[i].slot != slot + 1) {
        if (x->t[i].slot == EMPTY)
            return;
        i = (i + 1) & x->mask;
    }
    /* backward-shift: move later members of the cluster into the hole when
     * their home bucket does not lie cyclically in (hole, j] */
    for (uint32_t j = (i + 1) & x->mask;; j = (j + 1) & x->mask) {
        djs_idx_bucket_t b = x->t[j];
        if (b.slot == EMPTY)
            break;
        uint32_t home = b.tag & x->mask;
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            x->t[i] = b;
            i = j;
        }
    }
    x->t[i].slot = EMPTY;
    x->n--;
}
