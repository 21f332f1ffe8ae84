/* A growable byte buffer. Embedded struct: the owner calls djs_buf_init and
 * djs_buf_dispose. Growth goes through djs_realloc (aborts on OOM). */
#ifndef DJS_CORE_BUF_H
#define DJS_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct djs_buf {
    uint8_t *base;
    size_t len;
    size_t cap;
} djs_buf_t;

void djs_buf_init(djs_buf_t *b);
void djs_buf_dispose(djs_buf_t *b);
/* The slow path of djs_buf_reserve: grow the buffer (doubling). */
uint8_t *djs_buf_grow(djs_buf_t *b, size_t n);

/* Make room for n more bytes; returns a pointer to the free space. Inline:
 * the renderers append many short pieces. */
static inline uint8_t *djs_buf_reserve(djs_buf_t *b, size_t n)
{
    if (b->cap - b->len >= n && b->base != NULL)
        return b->base + b->len;
    return djs_buf_grow(b, n);
}

static inline void djs_buf_append(djs_buf_t *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    memcpy(djs_buf_reserve(b, n), data, n);
    b->len += n;
}
static inline void djs_buf_reset(djs_buf_t *b)
{
    b->len = 0;
}

/* Lower-case hex of p[0..n) into out, which holds 2n + 1 bytes (NUL-terminated). */
void djs_hex(const uint8_t *p, size_t n, char *out);

#endif
