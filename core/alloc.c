#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void default_oom(size_t size)
{
    fprintf(stderr, "djs: out of memory allocating %zu bytes\n", size);
    abort();
}

/* The one mutable global allowed here: a test seam set at start-up. */
static djs_oom_cb oom_handler = default_oom;

djs_oom_cb djs_set_oom_handler(djs_oom_cb cb)
{
    djs_oom_cb prev = oom_handler;
    oom_handler = cb != NULL ? cb : default_oom;
    return prev;
}

static void *checked(void *p, size_t size)
{
    if (p == NULL) {
        oom_handler(size);
        abort(); /* handlers must not return */
    }
    return p;
}

void *djs_malloc(size_t size)
{
    return checked(malloc(size ? size : 1), size);
}

void *djs_calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        n = size = 1;
    return checked(calloc(n, size), n * size);
}

void *djs_realloc(void *p, size_t size)
{
    return checked(realloc(p, size ? size : 1), size);
}

char *djs_strndup(const char *s, size_t n)
{
    char *d = djs_malloc(n + 1);
    if (n > 0)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void djs_free(void *p)
{
    free(p);
}
