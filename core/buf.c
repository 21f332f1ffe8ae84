#include "core/buf.h"

#include <string.h>

#include "core/alloc.h"

void djs_buf_init(djs_buf_t *b)
{
    b->base = NULL;
    b->len = b->cap = 0;
}

void djs_buf_dispose(djs_buf_t *b)
{
    djs_free(b->base);
    djs_buf_init(b);
}

uint8_t *djs_buf_reserve(djs_buf_t *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->base = djs_realloc(b->base, cap);
        b->cap = cap;
    }
    return b->base + b->len;
}

void djs_buf_append(djs_buf_t *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    memcpy(djs_buf_reserve(b, n), data, n);
    b->len += n;
}
