/* A growable byte buffer. Embedded struct: the owner calls djs_buf_init and
 * djs_buf_dispose. Growth goes through djs_realloc (aborts on OOM). */
#ifndef DJS_CORE_BUF_H
#define DJS_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct djs_buf {
    uint8_t *base;
    size_t len;
    size_t cap;
} djs_buf_t;

void djs_buf_init(djs_buf_t *b);
void djs_buf_dispose(djs_buf_t *b);
/* Make room for n more bytes; returns a pointer to the free space. */
uint8_t *djs_buf_reserve(djs_buf_t *b, size_t n);
void djs_buf_append(djs_buf_t *b, const void *data, size_t n);
static inline void djs_buf_reset(djs_buf_t *b)
{
    b->len = 0;
}

#endif
