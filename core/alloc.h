/* Allocation that never returns NULL.
 *
 * Out of memory is not an error code in djs: djs_malloc and friends call the
 * OOM handler, which by default prints a message and aborts (h2o's "or die",
 * redis' zmalloc_oom_handler). Error codes are for input, I/O and storage.
 * The handler is a test seam: tests may install one that records and aborts
 * differently; a handler must not return.
 */
#ifndef DJS_CORE_ALLOC_H
#define DJS_CORE_ALLOC_H

#include <stddef.h>

typedef void (*djs_oom_cb)(size_t size);

/* Replace the OOM handler (NULL restores the default). Not thread-safe:
 * call at start-up. Returns the previous handler. */
djs_oom_cb djs_set_oom_handler(djs_oom_cb cb);

void *djs_malloc(size_t size);
void *djs_calloc(size_t n, size_t size);
void *djs_realloc(void *p, size_t size);
char *djs_strndup(const char *s, size_t n);
void djs_free(void *p);

#endif
