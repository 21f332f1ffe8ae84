#include "core/heap.h"

#include "core/alloc.h"
#include "core/error.h"

static inline int less(const djs_heap_ent_t *x, const djs_heap_ent_t *y)
{
    return x->key < y->key || (x->key == y->key && x->slot < y->slot);
}

static inline void place(djs_heap_t *h, uint32_t i, djs_heap_ent_t e)
{
    h->a[i] = e;
    (*h->pos)[e.slot] = i;
}

static void sift_up(djs_heap_t *h, uint32_t i)
{
    djs_heap_ent_t e = h->a[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!less(&e, &h->a[p]))
            break;
        place(h, i, h->a[p]);
        i = p;
    }
    place(h, i, e);
}

static void sift_down(djs_heap_t *h, uint32_t i)
{
    djs_heap_ent_t e = h->a[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && less(&h->a[c + 1], &h->a[c]))
            c++;
        if (!less(&h->a[c], &e))
            break;
        place(h, i, h->a[c]);
        i = c;
    }
    place(h, i, e);
}

void djs_heap_init(djs_heap_t *h, uint32_t **pos)
{
    h->a = NULL;
    h->n = h->cap = 0;
    h->pos = pos;
}

void djs_heap_dispose(djs_heap_t *h)
{
    djs_free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}

void djs_heap_push(djs_heap_t *h, uint64_t key, uint32_t slot)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->a = djs_realloc(h->a, h->cap * sizeof(*h->a));
    }
    h->a[h->n] = (djs_heap_ent_t){key, slot};
    sift_up(h, h->n++);
}

int djs_heap_peek(const djs_heap_t *h, uint64_t *key, uint32_t *slot)
{
    if (h->n == 0)
        return DJS_ENOTFOUND;
    if (key != NULL)
        *key = h->a[0].key;
    if (slot != NULL)
        *slot = h->a[0].slot;
    return 0;
}

void djs_heap_remove(djs_heap_t *h, uint32_t slot)
{
    uint32_t i = (*h->pos)[slot];
    (*h->pos)[slot] = DJS_HEAP_NONE;
    if (--h->n == i)
        return;
    djs_heap_ent_t last = h->a[h->n];
    int up = less(&last, &h->a[i]);
    place(h, i, last);
    if (up)
        sift_up(h, i);
    else
        sift_down(h, i);
}

void djs_heap_update(djs_heap_t *h, uint32_t slot, uint64_t key)
{
    uint32_t i = (*h->pos)[slot];
    uint64_t old = h->a[i].key;
    h->a[i].key = key;
    if (key < old)
        sift_up(h, i);
    else
        sift_down(h, i);
}
