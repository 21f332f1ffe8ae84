#include "core/idx.h"

#include <string.h>

#include "core/alloc.h"

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
    x->t = djs_malloc(16 * sizeof(djs_idx_bucket_t));
    memset(x->t, 0xff, 16 * sizeof(djs_idx_bucket_t));
    x->hash = hash;
    x->eq = eq;
    x->ctx = ctx;
}

void djs_idx_dispose(djs_idx_t *x)
{
    djs_free(x->t);
    x->t = NULL;
    x->n = 0;
}

uint32_t djs_idx_find(const djs_idx_t *x, uint64_t h, const void *key)
{
    uint32_t tag = (uint32_t)h;
    for (uint32_t i = tag & x->mask;; i = (i + 1) & x->mask) {
        const djs_idx_bucket_t *b = &x->t[i];
        if (b->slot == DJS_IDX_NONE)
            return DJS_IDX_NONE;
        if (b->tag == tag && x->eq(x->ctx, b->slot, key))
            return b->slot;
    }
}

uint32_t djs_idx_guess(const djs_idx_t *x, uint64_t h)
{
    uint32_t tag = (uint32_t)h;
    for (uint32_t i = tag & x->mask;; i = (i + 1) & x->mask) {
        const djs_idx_bucket_t *b = &x->t[i];
        if (b->slot == DJS_IDX_NONE || b->tag == tag)
            return b->slot;
    }
}

static void put(djs_idx_bucket_t *t, uint32_t mask, uint32_t tag, uint32_t slot)
{
    uint32_t i = tag & mask;
    while (t[i].slot != DJS_IDX_NONE)
        i = (i + 1) & mask;
    t[i].slot = slot;
    t[i].tag = tag;
}

void djs_idx_insert(djs_idx_t *x, uint64_t h, uint32_t slot)
{
    if ((x->n + 1) * 2 > x->mask + 1) {
        uint32_t nb = (x->mask + 1) * 2;
        djs_idx_bucket_t *t = djs_malloc(nb * sizeof(djs_idx_bucket_t));
        memset(t, 0xff, nb * sizeof(djs_idx_bucket_t));
        for (uint32_t i = 0; i <= x->mask; i++)
            if (x->t[i].slot != DJS_IDX_NONE)
                put(t, nb - 1, x->t[i].tag, x->t[i].slot);
        djs_free(x->t);
        x->t = t;
        x->mask = nb - 1;
    }
    put(x->t, x->mask, (uint32_t)h, slot);
    x->n++;
}

void djs_idx_remove(djs_idx_t *x, uint64_t h, uint32_t slot)
{
    uint32_t i = (uint32_t)h & x->mask;
    while (x->t[i].slot != slot) {
        if (x->t[i].slot == DJS_IDX_NONE)
            return;
        i = (i + 1) & x->mask;
    }
    /* backward-shift: move later members of the cluster into the hole when
     * their home bucket does not lie cyclically in (hole, j] */
    for (uint32_t j = (i + 1) & x->mask;; j = (j + 1) & x->mask) {
        djs_idx_bucket_t b = x->t[j];
        if (b.slot == DJS_IDX_NONE)
            break;
        uint32_t home = b.tag & x->mask;
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            x->t[i] = b;
            i = j;
        }
    }
    x->t[i].slot = DJS_IDX_NONE;
    x->n--;
}
