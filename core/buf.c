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

uint8_t *djs_buf_grow(djs_buf_t *b, size_t n)
{
    if (b->cap - b->len < n || b->base == NULL) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->base = djs_realloc(b->base, cap);
        b->cap = cap;
    }
    return b->base + b->len;
}

void djs_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}
